//! The verified-token cache of a [`TokenAuthLayer`](crate::TokenAuthLayer): a repeated
//! valid token does not pay for its signature check and decoding again.
//!
//! * Keyed by the **whole token string** (a keyed SipHash picks the shard and slot; the
//!   stored token is compared byte for byte), so a token that differs in any byte —
//!   tampered payload, other signature, other header — is a miss and is verified in full.
//! * Only tokens that passed every check are inserted: the cache cannot be poisoned.
//! * On every hit, expiry is checked again against the clock (with the leeway), and the
//!   revocation check and the CSRF check run exactly as on a miss.
//! * Bounded: at most `capacity` entries, and only tokens up to [`MAX_CACHED_TOKEN`]
//!   bytes; a full shard first drops expired entries, then an arbitrary one. With the
//!   default 1024 entries the cache holds at most about 4 MiB, typically well under
//!   1 MiB (tokens of a few hundred bytes).

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::{Arc, RwLock};

use crate::claims::ClaimsView;
use crate::store::TokenDigest;

/// Longest token the cache keeps, in bytes.
pub const MAX_CACHED_TOKEN: usize = 2048;
/// Default number of cached tokens per layer.
pub const DEFAULT_CACHE_CAPACITY: usize = 1024;
const SHARDS: usize = 8;

/// A hasher for keys that are already uniformly random (a mixed slot, a SHA-256 digest):
/// it keeps 8 of their bytes instead of hashing them again.
#[derive(Clone, Copy, Default)]
pub(crate) struct Prehashed;

impl BuildHasher for Prehashed {
    type Hasher = PrehashedHasher;
    fn build_hasher(&self) -> PrehashedHasher {
        PrehashedHasher(0)
    }
}

pub(crate) struct PrehashedHasher(u64);

impl std::hash::Hasher for PrehashedHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut b = [0u8; 8];
        let n = bytes.len().min(8);
        b[..n].copy_from_slice(&bytes[..n]);
        self.0 ^= u64::from_le_bytes(b);
    }
    fn write_u64(&mut self, v: u64) {
        self.0 ^= v;
    }
    fn write_usize(&mut self, _: usize) {
        // Length prefixes of fixed-size keys carry nothing.
    }
}

pub(crate) struct VerifiedCache {
    shards: Box<[RwLock<HashMap<u64, Entry, Prehashed>>]>,
    hasher: std::collections::hash_map::RandomState,
    seed: u64,
    per_shard: usize,
}

struct Entry {
    token: Box<str>,
    verdict: Verdict,
    /// The trust epoch the token was verified in: a retired key voids the entry.
    epoch: u64,
}

/// What the layer keeps of a verified token: its claims, the claims JSON (for other
/// claims types), the digest its revocation is looked up by, and until when it may be
/// accepted (its `exp` plus the leeway of its issuer).
#[derive(Clone)]
pub(crate) struct Verdict {
    pub(crate) claims: Arc<dyn ClaimsView>,
    pub(crate) payload: Arc<[u8]>,
    pub(crate) digest: TokenDigest,
    pub(crate) until: u64,
}

impl VerifiedCache {
    /// A cache of `capacity` entries; `None` for 0 (caching off).
    pub(crate) fn new(capacity: usize) -> Option<Self> {
        if capacity == 0 {
            return None;
        }
        let per_shard = capacity.div_ceil(SHARDS).max(1);
        let hasher = std::collections::hash_map::RandomState::new();
        Some(VerifiedCache {
            shards: (0..SHARDS)
                .map(|_| RwLock::new(HashMap::with_hasher(Prehashed)))
                .collect(),
            seed: hasher.hash_one(0x5eed_u64),
            hasher,
            per_shard,
        })
    }

    /// Shard and slot of a token. A valid token's signature is uniformly random and cannot
    /// be chosen by a client, so 8 bytes of it (mixed with a per-cache random key) make a
    /// good slot without hashing the whole token. A forged signature may land on a cached
    /// token's slot, but the full token comparison makes that a miss, and only verified
    /// tokens are ever inserted.
    fn slot(&self, token: &str) -> (usize, u64) {
        let sig = token.rsplit('.').next().unwrap_or(token).as_bytes();
        let h = match sig.get(..8) {
            Some(b) => {
                let v = u64::from_le_bytes(b.try_into().expect("8 bytes"));
                (v ^ self.seed).wrapping_mul(0x9E37_79B9_7F4A_7C15)
            }
            None => self.hasher.hash_one(token),
        };
        (((h >> 32) as usize) % SHARDS, h)
    }

    /// The cached verdict on exactly `token`, unless expired at `now` or verified in
    /// another trust epoch.
    pub(crate) fn get(&self, token: &str, now: u64, epoch: u64) -> Option<Verdict> {
        if token.len() > MAX_CACHED_TOKEN {
            return None;
        }
        let (shard, h) = self.slot(token);
        let map = self.shards[shard].read().unwrap_or_else(|p| p.into_inner());
        let e = map.get(&h)?;
        if &*e.token != token || e.verdict.until <= now || e.epoch != epoch {
            return None;
        }
        Some(e.verdict.clone())
    }

    /// Remembers a token that passed every check.
    pub(crate) fn insert(&self, token: &str, verdict: Verdict, now: u64, epoch: u64) {
        if token.len() > MAX_CACHED_TOKEN {
            return;
        }
        let (shard, h) = self.slot(token);
        let mut map = self.shards[shard]
            .write()
            .unwrap_or_else(|p| p.into_inner());
        if map.len() >= self.per_shard && !map.contains_key(&h) {
            map.retain(|_, e| e.verdict.until > now && e.epoch == epoch);
            if map.len() >= self.per_shard
                && let Some(k) = map.keys().next().copied()
            {
                map.remove(&k);
            }
        }
        map.insert(
            h,
            Entry {
                token: token.into(),
                verdict,
                epoch,
            },
        );
    }

    /// Number of entries.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.read().unwrap_or_else(|p| p.into_inner()).len())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::claims::TokenClaims;

    fn claims(exp: u64) -> Verdict {
        let c: TokenClaims = serde_json::from_value(serde_json::json!({
            "sub": "a", "exp": exp, "iat": 0, "jti": "j"
        }))
        .unwrap();
        Verdict {
            claims: Arc::new(c),
            payload: Arc::from(&b"{}"[..]),
            digest: TokenDigest::of_jti("j"),
            until: exp + 30,
        }
    }

    #[test]
    fn hit_requires_the_exact_token_and_an_unexpired_entry() {
        let c = VerifiedCache::new(16).unwrap();
        c.insert("a.b.c", claims(100), 0, 0);
        assert!(c.get("a.b.c", 50, 0).is_some());
        assert!(c.get("a.b.d", 50, 0).is_none());
        assert!(c.get("a.b.c", 129, 0).is_some(), "within leeway");
        assert!(c.get("a.b.c", 130, 0).is_none(), "expired");
    }

    #[test]
    fn an_entry_of_another_trust_epoch_is_a_miss() {
        let c = VerifiedCache::new(16).unwrap();
        c.insert("a.b.c", claims(100), 0, 7);
        assert!(c.get("a.b.c", 50, 7).is_some());
        assert!(c.get("a.b.c", 50, 8).is_none(), "a key was retired since");
    }

    #[test]
    fn size_is_bounded() {
        let c = VerifiedCache::new(64).unwrap();
        for i in 0..10_000 {
            c.insert(&format!("tok{i}"), claims(1000), 0, 0);
        }
        assert!(c.len() <= 64, "{}", c.len());
        let long = "x".repeat(MAX_CACHED_TOKEN + 1);
        c.insert(&long, claims(1000), 0, 0);
        assert!(c.get(&long, 0, 0).is_none());
    }

    #[test]
    fn zero_capacity_disables() {
        assert!(VerifiedCache::new(0).is_none());
    }
}
