//! The in-memory stores: the embedded default for one process.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use async_trait::async_trait;

use crate::config::{Clock, SystemClock};
use crate::store::{RevocationStore, StoreError, TokenDigest};

/// Default capacity of [`MemoryRevocationStore`]: one million revoked, unexpired tokens
/// (about 70 MB at most).
pub const DEFAULT_REVOCATION_CAPACITY: usize = 1_000_000;

/// Revoked token digests in process memory, each kept until its token expires.
///
/// Memory is bounded: expired entries are purged whenever the map doubles, and when
/// `capacity` unexpired entries are held a further `revoke` fails with
/// [`StoreError::CapacityExceeded`] rather than silently forgetting a revocation.
/// Lookups take a read lock that writers hold only for an insert (or a purge).
pub struct MemoryRevocationStore {
    revoked: RwLock<Revoked>,
    capacity: usize,
    clock: Arc<dyn Clock>,
}

struct Revoked {
    map: HashMap<TokenDigest, u64>,
    purge_at: usize,
}

impl Default for MemoryRevocationStore {
    fn default() -> Self {
        Self::with_capacity(DEFAULT_REVOCATION_CAPACITY)
    }
}

impl std::fmt::Debug for MemoryRevocationStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryRevocationStore")
            .field("len", &self.len())
            .field("capacity", &self.capacity)
            .finish()
    }
}

impl MemoryRevocationStore {
    /// A store holding at most `capacity` unexpired revocations.
    pub fn with_capacity(capacity: usize) -> Self {
        MemoryRevocationStore {
            revoked: RwLock::new(Revoked {
                map: HashMap::new(),
                purge_at: 1024,
            }),
            capacity: capacity.max(1),
            clock: Arc::new(SystemClock),
        }
    }

    /// Uses `clock` to decide which entries have expired (tests).
    #[must_use]
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Number of entries held (expired ones not yet purged included).
    pub fn len(&self) -> usize {
        self.read().map.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops entries whose tokens have expired; returns how many were dropped.
    pub fn purge_expired(&self) -> usize {
        let now = self.clock.now();
        let mut w = self.write();
        let before = w.map.len();
        w.map.retain(|_, exp| *exp > now);
        before - w.map.len()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Revoked> {
        // A panic while holding the lock cannot leave the map inconsistent (single
        // insert/retain calls), so a poisoned lock is still usable.
        self.revoked.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Revoked> {
        self.revoked.write().unwrap_or_else(|p| p.into_inner())
    }

    fn lookup(&self, digest: &TokenDigest) -> bool {
        let now = self.clock.now();
        self.read().map.get(digest).is_some_and(|exp| *exp > now)
    }
}

#[async_trait]
impl RevocationStore for MemoryRevocationStore {
    async fn revoke(&self, digest: TokenDigest, expires_at: u64) -> Result<(), StoreError> {
        let now = self.clock.now();
        if expires_at <= now {
            return Ok(());
        }
        let mut w = self.write();
        if w.map.len() >= w.purge_at || w.map.len() >= self.capacity {
            w.map.retain(|_, exp| *exp > now);
            w.purge_at = (w.map.len() * 2).max(1024);
        }
        if w.map.len() >= self.capacity && !w.map.contains_key(&digest) {
            return Err(StoreError::CapacityExceeded);
        }
        let e = w.map.entry(digest).or_insert(expires_at);
        *e = (*e).max(expires_at);
        Ok(())
    }

    async fn is_revoked(&self, digest: &TokenDigest) -> Result<bool, StoreError> {
        Ok(self.lookup(digest))
    }

    fn is_revoked_now(&self, digest: &TokenDigest) -> Option<Result<bool, StoreError>> {
        Some(Ok(self.lookup(digest)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::FixedClock;

    fn d(n: u8) -> TokenDigest {
        TokenDigest([n; 32])
    }

    #[tokio::test]
    async fn revoked_until_expiry() {
        let s = MemoryRevocationStore::default().with_clock(FixedClock(100));
        s.revoke(d(1), 200).await.unwrap();
        assert!(s.is_revoked(&d(1)).await.unwrap());
        assert!(!s.is_revoked(&d(2)).await.unwrap());
        assert_eq!(s.is_revoked_now(&d(1)), Some(Ok(true)));
    }

    #[tokio::test]
    async fn already_expired_tokens_are_not_stored() {
        let s = MemoryRevocationStore::default().with_clock(FixedClock(100));
        s.revoke(d(1), 100).await.unwrap();
        assert!(s.is_empty());
    }

    #[tokio::test]
    async fn capacity_is_bounded_and_expired_entries_make_room() {
        let s = MemoryRevocationStore::with_capacity(2).with_clock(FixedClock(100));
        s.revoke(d(1), 200).await.unwrap();
        s.revoke(d(2), 200).await.unwrap();
        assert_eq!(s.revoke(d(3), 200).await, Err(StoreError::CapacityExceeded));
        // Re-revoking a held entry is fine.
        s.revoke(d(2), 300).await.unwrap();
        assert!(s.is_revoked(&d(1)).await.unwrap(), "nothing was forgotten");

        let s = MemoryRevocationStore::with_capacity(2).with_clock(FixedClock(100));
        s.revoke(d(1), 101).await.unwrap();
        s.revoke(d(2), 200).await.unwrap();
        let s = s.with_clock(FixedClock(150));
        s.revoke(d(3), 200).await.unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s.purge_expired(), 0);
    }
}
