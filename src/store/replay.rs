//! [`ProofReplay`]: the ids of DPoP proofs already seen (RFC 9449 §11.1), so that a
//! proof is accepted once. A store capability of its own: the memory backend here,
//! Redis and PostgreSQL (features of the same names) share it across instances, so a
//! proof replayed on another instance is refused too.
//!
//! ```
//! use axum_token_auth::store::{ProofId, ProofReplay, replay::MemoryProofReplay};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), axum_token_auth::store::StoreError> {
//! let seen = MemoryProofReplay::default();
//! let id = ProofId::of("thumbprint-of-the-proof-key", "proof-jti");
//! assert!(seen.first_use(&id, u64::MAX).await?); // first time: accepted
//! assert!(!seen.first_use(&id, u64::MAX).await?); // again: a replay
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use sha2::{Digest, Sha256};

use crate::store::StoreError;
use crate::store::prehashed::Prehashed;
use crate::token::clock::{Clock, SystemClock};

/// The identity of one proof: SHA-256 of its key's thumbprint and its `jti` (so a
/// `jti` is unique per key, and a long `jti` costs a store no more than a short one).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProofId(pub [u8; 32]);

impl ProofId {
    /// The id of the proof with `jti` signed by the key whose RFC 7638 thumbprint is
    /// `jkt`.
    pub fn of(jkt: &str, jti: &str) -> Self {
        let mut h = Sha256::new();
        h.update(jkt.as_bytes());
        h.update([0]);
        h.update(jti.as_bytes());
        ProofId(h.finalize().into())
    }

    /// The first 16 bytes, base64url: what the shared stores key an entry by (128 bits
    /// of a SHA-256 output: collisions are out of reach, and a Redis key stays short).
    pub fn short_key(&self) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&self.0[..16])
    }
}

impl fmt::Debug for ProofId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProofId({})", self.short_key())
    }
}

/// Remembers proof ids until they expire; answers whether an id is new. Implemented by
/// [`MemoryProofReplay`] and, with their features, the Redis and PostgreSQL stores.
///
/// An implementation must be atomic: of two concurrent `first_use` calls with the same
/// id (on any instance sharing the store), exactly one gets `true`. It must be bounded
/// (expired ids are forgotten) and, when it cannot remember an id, fail
/// ([`StoreError`]) rather than answer `true`: the layer then refuses the request with
/// 503, as it does when the revocation store is down.
#[async_trait]
pub trait ProofReplay: Send + Sync + 'static {
    /// Records `id` until `expires_at` (seconds since the Unix epoch). `Ok(true)`: it
    /// was not recorded (first use); `Ok(false)`: it was (a replay).
    async fn first_use(&self, id: &ProofId, expires_at: u64) -> Result<bool, StoreError>;

    /// Whether `id` is recorded and not expired, recording nothing: how a receiver of
    /// security events refuses a replay before acting, and records the id only once it
    /// acted (so a failure in between leaves the sender's retry welcome).
    async fn is_recorded(&self, id: &ProofId) -> Result<bool, StoreError>;
}

#[async_trait]
impl<S: ProofReplay + ?Sized> ProofReplay for Arc<S> {
    async fn first_use(&self, id: &ProofId, expires_at: u64) -> Result<bool, StoreError> {
        (**self).first_use(id, expires_at).await
    }

    async fn is_recorded(&self, id: &ProofId) -> Result<bool, StoreError> {
        (**self).is_recorded(id).await
    }
}

/// How many proof ids [`MemoryProofReplay::default`] holds: with the default 60-second
/// window (plus leeway), about 1,000 DPoP requests a second. About 48 bytes an entry.
pub const DEFAULT_PROOF_CAPACITY: usize = 100_000;

/// The in-process replay cache: one instance only (use the Redis or PostgreSQL store when
/// several instances serve the same tokens). Bounded: when `capacity` unexpired ids are
/// held, a new one fails with [`StoreError::CapacityExceeded`] (the request is refused
/// with 503; no id is forgotten early, which would let its proof be replayed).
pub struct MemoryProofReplay {
    seen: Mutex<Seen>,
    capacity: usize,
    clock: Arc<dyn Clock>,
}

struct Seen {
    map: HashMap<ProofId, u64, Prehashed>,
    /// The soonest instant an entry expires (a purge before it finds nothing).
    next_expiry: u64,
}

impl Default for MemoryProofReplay {
    fn default() -> Self {
        Self::with_capacity(DEFAULT_PROOF_CAPACITY)
    }
}

impl fmt::Debug for MemoryProofReplay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryProofReplay")
            .field("len", &self.len())
            .field("capacity", &self.capacity)
            .finish()
    }
}

impl MemoryProofReplay {
    /// A cache holding at most `capacity` unexpired proof ids.
    pub fn with_capacity(capacity: usize) -> Self {
        MemoryProofReplay {
            seen: Mutex::new(Seen {
                map: HashMap::with_hasher(Prehashed),
                next_expiry: u64::MAX,
            }),
            capacity,
            clock: Arc::new(SystemClock),
        }
    }

    /// Uses `clock` to decide which ids have expired (tests).
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// How many ids are held (expired ones included until the next purge).
    pub fn len(&self) -> usize {
        self.seen.lock().map(|s| s.map.len()).unwrap_or(0)
    }

    /// Whether no id is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The synchronous answer (the memory store never waits).
    pub(crate) fn first_use_now(&self, id: &ProofId, expires_at: u64) -> Result<bool, StoreError> {
        let now = self.clock.now();
        let mut seen = self
            .seen
            .lock()
            .map_err(|_| StoreError::Backend("replay cache lock poisoned".into()))?;
        if let Some(&until) = seen.map.get(id)
            && until > now
        {
            return Ok(false);
        }
        if seen.map.len() >= self.capacity && seen.next_expiry <= now {
            seen.map.retain(|_, until| *until > now);
            seen.next_expiry = seen.map.values().copied().min().unwrap_or(u64::MAX);
        }
        if seen.map.len() >= self.capacity && !seen.map.contains_key(id) {
            return Err(StoreError::CapacityExceeded);
        }
        seen.map.insert(*id, expires_at);
        seen.next_expiry = seen.next_expiry.min(expires_at);
        Ok(true)
    }
}

#[async_trait]
impl ProofReplay for MemoryProofReplay {
    async fn first_use(&self, id: &ProofId, expires_at: u64) -> Result<bool, StoreError> {
        self.first_use_now(id, expires_at)
    }

    async fn is_recorded(&self, id: &ProofId) -> Result<bool, StoreError> {
        let now = self.clock.now();
        let seen = self
            .seen
            .lock()
            .map_err(|_| StoreError::Backend("replay cache lock poisoned".into()))?;
        Ok(seen.map.get(id).is_some_and(|&until| until > now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    #[derive(Clone)]
    struct ManualClock(Arc<AtomicU64>);
    impl ManualClock {
        fn new(now: u64) -> Self {
            ManualClock(Arc::new(AtomicU64::new(now)))
        }
        fn set(&self, now: u64) {
            self.0.store(now, Ordering::SeqCst);
        }
    }
    impl Clock for ManualClock {
        fn now(&self) -> u64 {
            self.0.load(Ordering::SeqCst)
        }
    }

    #[tokio::test]
    async fn an_id_is_new_once_until_it_expires() {
        let clock = ManualClock::new(1_000);
        let seen = MemoryProofReplay::with_capacity(10).with_clock(clock.clone());
        let id = ProofId::of("k", "j");
        assert!(seen.first_use(&id, 1_060).await.unwrap());
        assert!(!seen.first_use(&id, 1_060).await.unwrap());
        assert!(seen.is_recorded(&id).await.unwrap());
        assert!(!seen.is_recorded(&ProofId::of("k3", "j")).await.unwrap());
        assert!(
            seen.first_use(&ProofId::of("k2", "j"), 1_060)
                .await
                .unwrap()
        );
        clock.set(1_060);
        assert!(!seen.is_recorded(&id).await.unwrap(), "expired");
        assert!(
            seen.first_use(&id, 1_120).await.unwrap(),
            "expired: new again"
        );
    }

    #[tokio::test]
    async fn a_full_cache_fails_closed_until_ids_expire() {
        let clock = ManualClock::new(1_000);
        let seen = MemoryProofReplay::with_capacity(2).with_clock(clock.clone());
        for j in ["a", "b"] {
            assert!(seen.first_use(&ProofId::of("k", j), 1_010).await.unwrap());
        }
        assert_eq!(
            seen.first_use(&ProofId::of("k", "c"), 1_010).await,
            Err(StoreError::CapacityExceeded)
        );
        assert!(
            !seen.first_use(&ProofId::of("k", "a"), 1_010).await.unwrap(),
            "a held id is still a replay when full"
        );
        clock.set(1_010);
        assert!(seen.first_use(&ProofId::of("k", "c"), 1_070).await.unwrap());
    }
}
