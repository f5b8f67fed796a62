//! The verified-token cache of a [`TokenAuthLayer`](crate::TokenAuthLayer): a repeated
//! valid token does not pay for its signature check and decoding again.
//!
//! (Documented with examples in the [`http`](crate::http) module docs.)

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use crate::store::prehashed::Prehashed;
use crate::token::claims::ClaimsView;
use crate::trust::verify::{Accepted, TokenIdentity};

/// Longest token the cache keeps, in bytes (longer ones are verified on every request).
pub const MAX_CACHED_TOKEN: usize = 4096;
/// Default number of cached tokens per layer.
pub const DEFAULT_CACHE_CAPACITY: usize = 16_384;
/// Default byte budget of a layer's cache (see the module docs for what an entry is
/// charged).
///
/// 17 MiB since the step-up claims (`acr`, `amr`, `auth_time`: 64 bytes of every decoded
/// claims value, present or not) joined [`TokenClaims`](crate::token::TokenClaims): the
/// default still holds [`DEFAULT_CACHE_CAPACITY`] users.
pub const DEFAULT_CACHE_BYTES: usize = 17 << 20;
/// What an entry's two shared allocations (claims, claims JSON) cost besides their
/// contents: reference counts and the allocator's own overhead.
const ALLOCATION_BYTES: usize = 2 * (16 + 16);
/// The small queue's share of a shard, in tenths.
const SMALL_TENTHS: usize = 1;
/// The hit counter saturates here (S3-FIFO's 2 bits).
const MAX_FREQ: u8 = 3;

/// The cache key of a token: SipHash-2-4-128 of it under the cache's secret key.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub(crate) struct CacheKey(u128);

impl CacheKey {
    fn shard(self, shards: usize) -> usize {
        // The high bits: the map uses the low ones.
        ((self.0 >> 96) as usize) & (shards - 1)
    }
    fn fingerprint(self) -> u64 {
        (self.0 >> 64) as u64
    }
}

/// SipHash-2-4 with 128-bit output, under a key drawn when the cache is built.
struct Prf {
    key: [u8; 16],
}

impl Prf {
    fn new() -> Self {
        let mut key = [0u8; 16];
        getrandom::fill(&mut key).expect("the OS random source");
        Prf { key }
    }

    fn key(&self, token: &[u8]) -> CacheKey {
        use siphasher::sip128::{Hasher128 as _, SipHasher24};
        use std::hash::Hasher as _;
        let mut h = SipHasher24::new_with_key(&self.key);
        h.write(token);
        CacheKey(h.finish128().as_u128())
    }
}

/// What the layer keeps of a verified token: its claims, the claims JSON (for other
/// claims types), the digest its revocation is looked up by, and until when it may be
/// accepted (its `exp` plus the leeway of its issuer).
#[derive(Clone)]
pub(crate) struct Verdict {
    pub(crate) claims: Arc<dyn ClaimsView>,
    pub(crate) payload: Arc<[u8]>,
    /// The verified token's identity, as verification decided it: its revocation key and
    /// until when it may be accepted (the legacy window included).
    pub(crate) identity: TokenIdentity,
}

impl<T: Send + Sync + 'static> From<Accepted<T>> for Verdict {
    fn from(a: Accepted<T>) -> Self {
        Verdict {
            claims: Arc::new(a.claims),
            payload: a.payload,
            identity: a.identity,
        }
    }
}

impl Verdict {
    /// What an entry of this verdict is charged against the byte budget.
    fn charge(&self) -> usize {
        ALLOCATION_BYTES + std::mem::size_of_val(&*self.claims) + 2 * self.payload.len()
    }
}

/// What a layer's verified-token cache has done so far (from
/// [`TokenAuthLayer::cache_stats`](crate::TokenAuthLayer::cache_stats)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheStats {
    /// Requests whose token was found (live, current trust epoch): no verification.
    pub hits: u64,
    /// Requests whose token was looked up and not found: verified in full.
    pub misses: u64,
    /// Tokens cached now.
    pub entries: usize,
    /// Bytes the cache accounts for now: its entries' charges and its structures
    /// allocated up front (always within the configured budget).
    pub bytes: usize,
}

/// The verified-token cache: sharded S3-FIFO over keyed digests (see the module docs).
pub(crate) struct VerifiedCache {
    shards: Box<[RwLock<Shard>]>,
    limits: Limits,
    prf: Prf,
}

/// The whole cache's bounds and usage: a shard evicts while the cache is over them, so
/// the bounds hold in total however unevenly tokens fall into shards.
struct Limits {
    entries: AtomicUsize,
    bytes: AtomicUsize,
    max_entries: usize,
    /// The byte budget less the shards' reserved structures.
    max_bytes: usize,
}

impl Limits {
    fn full(&self, charge: usize) -> bool {
        self.entries.load(Ordering::Relaxed) >= self.max_entries
            || self.bytes.load(Ordering::Relaxed) + charge > self.max_bytes
    }
}

struct Entry {
    verdict: Verdict,
    /// The trust epoch the token was verified in: a retired key voids the entry.
    epoch: u64,
    /// Hits since insertion or the CLOCK hand's last pass (saturating at [`MAX_FREQ`]).
    freq: AtomicU8,
    charge: u32,
    main: bool,
}

impl Entry {
    fn live(&self, now: u64, epoch: u64) -> bool {
        self.verdict.identity.until > now && self.epoch == epoch
    }
}

struct Shard {
    map: HashMap<CacheKey, Entry, Prehashed>,
    small: VecDeque<CacheKey>,
    main: VecDeque<CacheKey>,
    small_bytes: usize,
    bytes: usize,
    ghost: Ghost,
    /// The shard's share of the cache (its small queue is a tenth of it).
    share_entries: usize,
    share_bytes: usize,
    /// What the shard's structures were allocated for: its share and a quarter more, for
    /// tokens falling unevenly into shards.
    hard_entries: usize,
    /// Lookups that found a live entry, and those that did not (counted under the read
    /// lock, one pair per shard so threads rarely share the cache line).
    hits: std::sync::atomic::AtomicU64,
    misses: std::sync::atomic::AtomicU64,
}

/// Fingerprints of tokens recently evicted from the small queue, oldest first.
struct Ghost {
    order: VecDeque<(u64, u64)>,
    /// Fingerprint → sequence number of its latest insertion.
    seen: HashMap<u64, u64, Prehashed>,
    next: u64,
    capacity: usize,
}

impl Ghost {
    fn insert(&mut self, fp: u64) {
        if self.capacity == 0 {
            return;
        }
        while self.order.len() >= self.capacity {
            if let Some((old, seq)) = self.order.pop_front()
                && self.seen.get(&old) == Some(&seq)
            {
                self.seen.remove(&old);
            }
        }
        self.next += 1;
        self.order.push_back((fp, self.next));
        self.seen.insert(fp, self.next);
    }

    /// Whether `fp` was evicted recently (and forgets it).
    fn take(&mut self, fp: u64) -> bool {
        self.seen.remove(&fp).is_some()
    }
}

/// Bytes of a hash table of `n` entries of `slot` bytes (hashbrown: a power of two of
/// buckets at most 7/8 full, one control byte each).
fn table_bytes(n: usize, slot: usize) -> usize {
    (n * 8 / 7 + 1).next_power_of_two() * (slot + 1)
}

impl Shard {
    /// The memory of a shard of a `share` of entries besides its entries' shared
    /// allocations: the map, both queues and the ghost queue, all allocated up front.
    fn reserved(share: usize) -> usize {
        use std::mem::size_of;
        let hard = share + share / 4;
        table_bytes(hard, size_of::<(CacheKey, Entry)>())
            + 2 * hard * size_of::<CacheKey>()
            + share * size_of::<(u64, u64)>()
            + table_bytes(share, 2 * size_of::<u64>())
            + size_of::<Shard>()
    }

    fn new(share_entries: usize, share_bytes: usize) -> Self {
        let hard_entries = share_entries + share_entries / 4;
        Shard {
            map: HashMap::with_capacity_and_hasher(hard_entries, Prehashed),
            small: VecDeque::with_capacity(hard_entries),
            main: VecDeque::with_capacity(hard_entries),
            small_bytes: 0,
            bytes: 0,
            ghost: Ghost {
                order: VecDeque::with_capacity(share_entries),
                seen: HashMap::with_capacity_and_hasher(share_entries, Prehashed),
                next: 0,
                capacity: share_entries,
            },
            share_entries,
            share_bytes,
            hard_entries,
            hits: Default::default(),
            misses: Default::default(),
        }
    }

    fn insert(&mut self, limits: &Limits, key: CacheKey, verdict: Verdict, now: u64, epoch: u64) {
        if let Some(e) = self.map.get_mut(&key) {
            // Verified again (two misses raced, or a new epoch): refresh in place.
            e.verdict = verdict;
            e.epoch = epoch;
            return;
        }
        let charge = verdict.charge();
        if charge > self.share_bytes / 8 {
            return; // no single entry takes over a shard
        }
        while !self.map.is_empty() && (self.map.len() >= self.hard_entries || limits.full(charge)) {
            self.evict(limits, now, epoch);
        }
        if limits.full(charge) {
            return; // the other shards hold the budget; they give it back as they evict
        }
        let main = self.ghost.take(key.fingerprint());
        if main {
            self.main.push_back(key);
        } else {
            self.small.push_back(key);
            self.small_bytes += charge;
        }
        self.bytes += charge;
        limits.entries.fetch_add(1, Ordering::Relaxed);
        limits.bytes.fetch_add(charge, Ordering::Relaxed);
        self.map.insert(
            key,
            Entry {
                verdict,
                epoch,
                freq: AtomicU8::new(0),
                charge: charge as u32,
                main,
            },
        );
    }

    /// Frees one entry.
    fn evict(&mut self, limits: &Limits, now: u64, epoch: u64) {
        let small_full = self.small_bytes * 10 >= self.share_bytes * SMALL_TENTHS
            || self.small.len() * 10 >= self.share_entries * SMALL_TENTHS;
        if !self.small.is_empty() && (small_full || self.main.is_empty()) {
            self.evict_small(limits, now, epoch);
        } else {
            self.evict_main(limits, now, epoch);
        }
    }

    /// S3-FIFO's small-queue eviction: a token hit while in the small queue moves to
    /// main; the first one not hit leaves, its fingerprint kept in the ghost queue.
    fn evict_small(&mut self, limits: &Limits, now: u64, epoch: u64) {
        while let Some(key) = self.small.pop_front() {
            let Some(e) = self.map.get_mut(&key) else {
                continue;
            };
            self.small_bytes -= e.charge as usize;
            if e.live(now, epoch) && *e.freq.get_mut() > 0 {
                *e.freq.get_mut() = 0;
                e.main = true;
                self.main.push_back(key);
                continue;
            }
            let live = e.live(now, epoch);
            self.remove(limits, key);
            if live {
                self.ghost.insert(key.fingerprint());
            }
            return;
        }
        self.evict_main(limits, now, epoch);
    }

    /// CLOCK over the main queue: an entry hit since the hand's last pass gets another
    /// round (one hit fewer); the first one without hits leaves. Dead entries (expired,
    /// other epoch) leave at once.
    fn evict_main(&mut self, limits: &Limits, now: u64, epoch: u64) {
        while let Some(key) = self.main.pop_front() {
            let Some(e) = self.map.get_mut(&key) else {
                continue;
            };
            let live = e.live(now, epoch);
            let freq = e.freq.get_mut();
            if *freq > 0 && live {
                *freq -= 1;
                self.main.push_back(key);
                continue;
            }
            self.remove(limits, key);
            return;
        }
    }

    fn remove(&mut self, limits: &Limits, key: CacheKey) {
        if let Some(e) = self.map.remove(&key) {
            self.bytes -= e.charge as usize;
            limits.entries.fetch_sub(1, Ordering::Relaxed);
            limits.bytes.fetch_sub(e.charge as usize, Ordering::Relaxed);
        }
    }
}

impl VerifiedCache {
    /// A cache of at most `capacity` entries and `bytes` bytes; `None` when either is 0
    /// (caching off).
    pub(crate) fn new(capacity: usize, bytes: usize) -> Option<Self> {
        if capacity == 0 || bytes == 0 {
            return None;
        }
        // Shards for concurrency, but each big enough for S3-FIFO's small queue to mean
        // something (≥ 256 entries): a power of two up to 16.
        let mut shards = 1;
        while shards < 16 && shards * 2 * 256 <= capacity {
            shards *= 2;
        }
        let share = capacity.div_ceil(shards);
        // The structures' own memory, allocated up front, comes off the top: the budget
        // bounds everything.
        let max_bytes = bytes.saturating_sub(shards * Shard::reserved(share));
        Some(VerifiedCache {
            shards: (0..shards)
                .map(|_| RwLock::new(Shard::new(share, max_bytes / shards)))
                .collect(),
            limits: Limits {
                entries: AtomicUsize::new(0),
                bytes: AtomicUsize::new(0),
                max_entries: capacity,
                max_bytes,
            },
            prf: Prf::new(),
        })
    }

    /// The key of `token` (its bytes as sent), or `None` when it is too long to be
    /// cached.
    pub(crate) fn key(&self, token: impl AsRef<[u8]>) -> Option<CacheKey> {
        let token = token.as_ref();
        (token.len() <= MAX_CACHED_TOKEN).then(|| self.prf.key(token))
    }

    /// The cached verdict of the token of `key`, unless expired at `now` or verified in
    /// another trust epoch.
    pub(crate) fn get(&self, key: CacheKey, now: u64, epoch: u64) -> Option<Verdict> {
        let shard = self.shards[key.shard(self.shards.len())]
            .read()
            .unwrap_or_else(|p| p.into_inner());
        let Some(e) = shard.map.get(&key).filter(|e| e.live(now, epoch)) else {
            shard.misses.fetch_add(1, Ordering::Relaxed);
            return None;
        };
        shard.hits.fetch_add(1, Ordering::Relaxed);
        let f = e.freq.load(Ordering::Relaxed);
        if f < MAX_FREQ {
            // A lost update under a race costs one hit of history, nothing else.
            e.freq.store(f + 1, Ordering::Relaxed);
        }
        Some(e.verdict.clone())
    }

    /// Remembers the token of `key`, which passed every check.
    pub(crate) fn insert(&self, key: CacheKey, verdict: Verdict, now: u64, epoch: u64) {
        self.shards[key.shard(self.shards.len())]
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(&self.limits, key, verdict, now, epoch);
    }

    /// Counters and usage, summed over the shards.
    pub(crate) fn stats(&self) -> CacheStats {
        let mut stats = CacheStats {
            hits: 0,
            misses: 0,
            entries: self.limits.entries.load(Ordering::Relaxed),
            bytes: self.limits.bytes.load(Ordering::Relaxed)
                + self.shards.len() * Shard::reserved(self.limits.max_entries / self.shards.len()),
        };
        for s in &self.shards {
            let s = s.read().unwrap_or_else(|p| p.into_inner());
            stats.hits += s.hits.load(Ordering::Relaxed);
            stats.misses += s.misses.load(Ordering::Relaxed);
        }
        stats
    }

    /// Number of entries.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.read().unwrap_or_else(|p| p.into_inner()).map.len())
            .sum()
    }

    /// Bytes charged.
    #[cfg(test)]
    fn bytes(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.read().unwrap_or_else(|p| p.into_inner()).bytes)
            .sum()
    }

    /// Whether the token of `key` sits in a main queue.
    #[cfg(test)]
    fn in_main(&self, key: CacheKey) -> bool {
        let shard = self.shards[key.shard(self.shards.len())]
            .read()
            .unwrap_or_else(|p| p.into_inner());
        shard.map.get(&key).is_some_and(|e| e.main)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::TokenDigest;
    use crate::token::claims::TokenClaims;

    fn claims(exp: u64) -> Verdict {
        let c: TokenClaims = serde_json::from_value(serde_json::json!({
            "sub": "a", "exp": exp, "iat": 0, "jti": "j"
        }))
        .unwrap();
        Verdict {
            claims: Arc::new(c),
            payload: Arc::from(&b"{\"sub\":\"a\",\"exp\":1000,\"iat\":0,\"jti\":\"j\"}"[..]),
            identity: TokenIdentity {
                digest: TokenDigest::of_jti("j"),
                until: exp + 30,
                issued_at: 0,
                revocation: crate::trust::verify::RevocationRule {
                    check: true,
                    on_failure: crate::store::StoreFailurePolicy::FailClosed,
                },
                bound: false,
                external: None,
            },
        }
    }

    fn put(c: &VerifiedCache, token: &str, v: Verdict, now: u64, epoch: u64) {
        c.insert(c.key(token).unwrap(), v, now, epoch);
    }

    fn get(c: &VerifiedCache, token: &str, now: u64, epoch: u64) -> Option<Verdict> {
        c.get(c.key(token)?, now, epoch)
    }

    #[test]
    fn hit_requires_the_exact_token_and_an_unexpired_entry() {
        let c = VerifiedCache::new(16, 1 << 20).unwrap();
        put(&c, "a.b.c", claims(100), 0, 0);
        assert!(get(&c, "a.b.c", 50, 0).is_some());
        assert!(get(&c, "a.b.d", 50, 0).is_none());
        assert!(get(&c, "a.b.c", 129, 0).is_some(), "within leeway");
        assert!(get(&c, "a.b.c", 130, 0).is_none(), "expired");
    }

    #[test]
    fn an_entry_of_another_trust_epoch_is_a_miss() {
        let c = VerifiedCache::new(16, 1 << 20).unwrap();
        put(&c, "a.b.c", claims(100), 0, 7);
        assert!(get(&c, "a.b.c", 50, 7).is_some());
        assert!(get(&c, "a.b.c", 50, 8).is_none(), "a key was retired since");
    }

    #[test]
    fn keys_are_per_cache_and_cover_every_byte() {
        let a = VerifiedCache::new(16, 1 << 20).unwrap();
        let b = VerifiedCache::new(16, 1 << 20).unwrap();
        assert_ne!(a.key("a.b.c"), b.key("a.b.c"), "a random key per cache");
        let t = "x".repeat(1000);
        let mut u = t.clone().into_bytes();
        u[999] = b'y';
        assert_ne!(a.key(&t), a.key(std::str::from_utf8(&u).unwrap()));
        assert!(a.key("x".repeat(MAX_CACHED_TOKEN + 1)).is_none());
    }

    #[test]
    fn size_is_bounded() {
        let c = VerifiedCache::new(64, 1 << 20).unwrap();
        for i in 0..10_000 {
            put(&c, &format!("tok{i}"), claims(1000), 0, 0);
        }
        assert!(c.len() <= 64, "{}", c.len());
        let long = "x".repeat(MAX_CACHED_TOKEN + 1);
        assert!(c.key(long).is_none(), "too long to be cached");
    }

    #[test]
    fn bytes_are_bounded_whatever_the_claims_size() {
        let budget = 1 << 20;
        let c = VerifiedCache::new(1000, budget).unwrap();
        let reserved = c.shards.len() * Shard::reserved(1000 / c.shards.len());
        for i in 0..5_000 {
            let mut v = claims(1000);
            v.payload = vec![b'x'; 1 + (i * 37) % 3000].into();
            put(&c, &format!("tok{i}"), v, 0, 0);
        }
        assert!(c.bytes() + reserved <= budget, "{} > {budget}", c.bytes());
        assert!(c.len() > 30, "{}", c.len());
    }

    #[test]
    fn the_default_holds_16384_users_within_17_mib() {
        // One of our access tokens for a user with two scopes, decoded as the layer does.
        let auth = crate::TokenAuth::builder()
            .hs256_secret("0123456789abcdefghijklmnopqrstuvwxyzABCDEF")
            .audience("api.example.com")
            .build()
            .unwrap();
        let token = auth
            .issue_access(
                &crate::TokenRequest::new("user-0123456789").scopes(["users:read", "users:write"]),
            )
            .unwrap();
        let accepted = auth
            .verifier()
            .verify_token::<crate::NoCustomClaims>(
                token.as_str(),
                &crate::trust::verify::Acceptance::kinds(crate::trust::verify::KindSet::of(
                    crate::token::TokenKind::Access,
                )),
            )
            .ok()
            .unwrap();
        let verdict = Verdict::from(accepted);
        eprintln!(
            "claims JSON {} bytes, entry charged {} bytes, {} bytes reserved per entry",
            verdict.payload.len(),
            verdict.charge(),
            Shard::reserved(1024) / 1024
        );
        let c = VerifiedCache::new(DEFAULT_CACHE_CAPACITY, DEFAULT_CACHE_BYTES).unwrap();
        for i in 0..DEFAULT_CACHE_CAPACITY {
            put(&c, &format!("user{i}"), verdict.clone(), 0, 0);
        }
        assert_eq!(c.len(), DEFAULT_CACHE_CAPACITY);
        let reserved = c.shards.len() * Shard::reserved(DEFAULT_CACHE_CAPACITY / c.shards.len());
        assert!(c.bytes() + reserved <= DEFAULT_CACHE_BYTES, "{}", c.bytes());
        assert_eq!(c.limits.bytes.load(Ordering::Relaxed), c.bytes());
    }

    #[test]
    fn a_token_hit_in_the_small_queue_moves_to_main() {
        let c = VerifiedCache::new(100, 1 << 20).unwrap();
        put(&c, "hot", claims(1000), 0, 0);
        assert!(get(&c, "hot", 0, 0).is_some());
        for i in 0..200 {
            put(&c, &format!("cold{i}"), claims(1000), 0, 0);
        }
        assert!(get(&c, "hot", 0, 0).is_some(), "promoted, not evicted");
        assert!(c.in_main(c.key("hot").unwrap()));
    }

    #[test]
    fn a_token_evicted_once_and_seen_again_goes_to_main() {
        let c = VerifiedCache::new(100, 1 << 20).unwrap();
        put(&c, "back", claims(1000), 0, 0);
        for i in 0..150 {
            put(&c, &format!("cold{i}"), claims(1000), 0, 0);
        }
        assert!(
            get(&c, "back", 0, 0).is_none(),
            "evicted from the small queue"
        );
        put(&c, "back", claims(1000), 0, 0);
        assert!(
            c.in_main(c.key("back").unwrap()),
            "remembered by the ghost queue"
        );
    }

    /// `users` users requested three times each, then 200 000 one-time tokens: how
    /// many users are still cached.
    fn users_kept_through_a_flood(capacity: usize, users: usize) -> usize {
        let c = VerifiedCache::new(capacity, 64 << 20).unwrap();
        let users: Vec<String> = (0..users).map(|i| format!("user{i}")).collect();
        for _ in 0..3 {
            for u in &users {
                if get(&c, u, 0, 0).is_none() {
                    put(&c, u, claims(1000), 0, 0);
                }
            }
        }
        // An attacker streams distinct valid tokens, each presented once.
        for i in 0..200_000 {
            let t = format!("attacker{i}");
            if get(&c, &t, 0, 0).is_none() {
                put(&c, &t, claims(1000), 0, 0);
            }
        }
        assert!(c.len() <= capacity);
        users.iter().filter(|u| get(&c, u, 0, 0).is_some()).count()
    }

    #[test]
    fn a_flood_of_one_time_tokens_keeps_the_main_queue() {
        // Room to spare: every user survives.
        assert_eq!(users_kept_through_a_flood(2048, 1000), 1000);
        // A cache full of users: the flood takes at most the small queue's 10 % share
        // (per shard, rounded up: 8 shards of 256 here).
        let kept = users_kept_through_a_flood(2048, 2048);
        assert!(kept >= 2048 - 2048 / 10 - 8, "{kept}");
    }

    #[test]
    fn expired_entries_leave_first() {
        let c = VerifiedCache::new(16, 1 << 20).unwrap();
        for i in 0..16 {
            put(&c, &format!("old{i}"), claims(10), 0, 0);
            assert!(get(&c, &format!("old{i}"), 0, 0).is_some());
        }
        put(&c, "new", claims(1000), 100, 0);
        assert!(get(&c, "new", 100, 0).is_some());
    }

    #[test]
    fn stats_count_hits_and_misses() {
        let c = VerifiedCache::new(16, 1 << 20).unwrap();
        assert!(get(&c, "a.b.c", 0, 0).is_none());
        put(&c, "a.b.c", claims(100), 0, 0);
        assert!(get(&c, "a.b.c", 0, 0).is_some());
        assert!(get(&c, "a.b.c", 200, 0).is_none(), "expired: a miss");
        let s = c.stats();
        assert_eq!((s.hits, s.misses, s.entries), (1, 2, 1));
        assert!(s.bytes > 0 && s.bytes <= 1 << 20);
    }

    #[test]
    fn zero_capacity_disables() {
        assert!(VerifiedCache::new(0, 1 << 20).is_none());
        assert!(VerifiedCache::new(1024, 0).is_none());
    }
}
