//! The in-memory stores: the embedded default for one process.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use async_trait::async_trait;

use crate::cache::Prehashed;
use crate::config::{Clock, SystemClock};
use crate::store::family::{
    AccessRef, MAX_ACCESS_PER_FAMILY, NewFamily, RefreshStore, RotateOutcome, Rotation, Session,
    Successor,
};
use crate::store::{RevocationCheck, RevocationStore, StoreError, TokenDigest};

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
    generations: RwLock<HashMap<String, u64>>,
    capacity: usize,
    clock: Arc<dyn Clock>,
}

struct Revoked {
    /// Digests are SHA-256 outputs: uniformly random, so they need no second hash.
    map: HashMap<TokenDigest, u64, Prehashed>,
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
                map: HashMap::with_hasher(Prehashed),
                purge_at: 1024,
            }),
            generations: RwLock::new(HashMap::new()),
            capacity: capacity.max(1),
            clock: Arc::new(SystemClock),
        }
    }

    /// Uses `clock` to decide which entries have expired (tests).
    #[must_use]
    pub fn with_clock(self, clock: impl Clock) -> Self {
        self.with_shared_clock(Arc::new(clock))
    }

    pub(crate) fn with_shared_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
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
        // The clock is read only for a digest that is held (the rare case).
        let exp = self.read().map.get(digest).copied();
        exp.is_some_and(|exp| exp > self.clock.now())
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

    async fn revoke_all_for(&self, subject: &str) -> Result<u64, StoreError> {
        let mut g = self.generations.write().unwrap_or_else(|p| p.into_inner());
        let n = g.entry(subject.to_owned()).or_insert(0);
        *n += 1;
        Ok(*n)
    }

    async fn generation(&self, subject: &str) -> Result<u64, StoreError> {
        Ok(self.generation_of(subject))
    }

    async fn check(&self, token: &RevocationCheck<'_>) -> Result<bool, StoreError> {
        Ok(self.answer(token))
    }

    fn check_now(&self, token: &RevocationCheck<'_>) -> Option<Result<bool, StoreError>> {
        Some(Ok(self.answer(token)))
    }
}

impl MemoryRevocationStore {
    fn generation_of(&self, subject: &str) -> u64 {
        let g = self.generations.read().unwrap_or_else(|p| p.into_inner());
        if g.is_empty() {
            return 0;
        }
        g.get(subject).copied().unwrap_or(0)
    }

    /// Sets a subject's generation (the Redis store keeps its cache with it).
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn set_generation(&self, subject: &str, generation: u64) {
        let mut g = self.generations.write().unwrap_or_else(|p| p.into_inner());
        let n = g.entry(subject.to_owned()).or_insert(0);
        *n = (*n).max(generation);
    }

    fn answer(&self, token: &RevocationCheck<'_>) -> bool {
        self.lookup(token.digest)
            || token
                .generation
                .is_some_and(|g| self.generation_of(token.subject) > g)
    }
}

/// Refresh families in process memory: the embedded default [`RefreshStore`].
///
/// One mutex guards the map, so rotation is atomic; it is held only for map operations.
/// State is lost on restart (use the Redis or PostgreSQL store to keep it).
#[derive(Default)]
pub struct MemoryRefreshStore {
    state: Mutex<Families>,
}

#[derive(Default)]
struct Families {
    by_id: HashMap<String, Family>,
    by_user: HashMap<String, Vec<String>>,
}

struct Family {
    session: Session,
    current: TokenDigest,
    current_access: AccessRef,
    previous: Option<Previous>,
    /// Access tokens issued in this family that may still be alive.
    access: Vec<AccessRef>,
}

struct Previous {
    digest: TokenDigest,
    access_jti: String,
    rotated_at: u64,
    successor: Successor,
}

impl std::fmt::Debug for MemoryRefreshStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryRefreshStore")
            .field("families", &self.lock().by_id.len())
            .finish()
    }
}

impl MemoryRefreshStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Families> {
        // Each critical section leaves the maps consistent before anything can panic.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Families {
    fn remove(&mut self, family_id: &str) -> Option<Family> {
        let f = self.by_id.remove(family_id)?;
        if let Some(ids) = self.by_user.get_mut(&f.session.user_id) {
            ids.retain(|id| id != family_id);
            if ids.is_empty() {
                self.by_user.remove(&f.session.user_id);
            }
        }
        Some(f)
    }

    fn active(&self, family_id: &str, now: u64) -> Option<&Family> {
        self.by_id
            .get(family_id)
            .filter(|f| f.session.expires_at > now)
    }
}

#[async_trait]
impl RefreshStore for MemoryRefreshStore {
    async fn create_family(&self, family: NewFamily) -> Result<(), StoreError> {
        let mut s = self.lock();
        let session = Session {
            id: family.family_id.clone(),
            user_id: family.user_id.clone(),
            created_at: family.created_at,
            last_used_at: family.created_at,
            expires_at: family.expires_at,
            user_agent: family.user_agent,
        };
        s.by_user
            .entry(family.user_id)
            .or_default()
            .push(family.family_id.clone());
        s.by_id.insert(
            family.family_id,
            Family {
                session,
                current: family.refresh,
                current_access: family.access.clone(),
                previous: None,
                access: vec![family.access],
            },
        );
        Ok(())
    }

    async fn verify(
        &self,
        family_id: &str,
        presented: &TokenDigest,
        now: u64,
    ) -> Result<bool, StoreError> {
        Ok(self
            .lock()
            .active(family_id, now)
            .is_some_and(|f| f.current == *presented))
    }

    async fn rotate(&self, rotation: Rotation) -> Result<RotateOutcome, StoreError> {
        let Rotation {
            family_id,
            presented,
            mut successor,
            now,
            grace_secs,
            presented_access,
        } = rotation;
        let mut s = self.lock();
        let Some(f) = s.by_id.get_mut(&family_id) else {
            return Ok(RotateOutcome::Unknown);
        };
        if f.session.expires_at <= now {
            s.remove(&family_id);
            return Ok(RotateOutcome::Unknown);
        }
        let mapped_access = if presented == f.current {
            Some(f.current_access.jti.as_str())
        } else {
            f.previous
                .as_ref()
                .filter(|p| p.digest == presented)
                .map(|p| p.access_jti.as_str())
        };
        if let (Some(mapped), Some(access)) = (mapped_access, presented_access.as_deref())
            && mapped != access
        {
            let f = s.remove(&family_id).expect("family was just found");
            return Ok(RotateOutcome::Compromised {
                user_id: f.session.user_id,
                access: f.access,
            });
        }
        if presented == f.current {
            successor.refresh_expires_at = successor.refresh_expires_at.min(f.session.expires_at);
            let new_access = AccessRef {
                jti: successor.access_jti.clone(),
                expires_at: successor.access_expires_at,
            };
            f.previous = Some(Previous {
                digest: f.current,
                access_jti: std::mem::replace(&mut f.current_access, new_access.clone()).jti,
                rotated_at: now,
                successor: successor.clone(),
            });
            f.current = TokenDigest::of_jti(&successor.refresh_jti);
            f.access.retain(|a| a.expires_at > now);
            f.access.push(new_access);
            let excess = f.access.len().saturating_sub(MAX_ACCESS_PER_FAMILY);
            f.access.drain(..excess);
            f.session.last_used_at = now;
            return Ok(RotateOutcome::Rotated(successor));
        }
        if let Some(p) = &f.previous
            && p.digest == presented
            && grace_secs > 0
            && now <= p.rotated_at.saturating_add(grace_secs)
            && f.current == TokenDigest::of_jti(&p.successor.refresh_jti)
        {
            return Ok(RotateOutcome::Retry(p.successor.clone()));
        }
        let f = s.remove(&family_id).expect("family was just found");
        Ok(RotateOutcome::Reused {
            user_id: f.session.user_id,
            access: f.access,
        })
    }

    async fn revoke_family(&self, family_id: &str) -> Result<Vec<AccessRef>, StoreError> {
        Ok(self
            .lock()
            .remove(family_id)
            .map(|f| f.access)
            .unwrap_or_default())
    }

    async fn revoke_user(&self, user_id: &str) -> Result<Vec<AccessRef>, StoreError> {
        let mut s = self.lock();
        let ids = s.by_user.remove(user_id).unwrap_or_default();
        Ok(ids
            .iter()
            .filter_map(|id| s.by_id.remove(id))
            .flat_map(|f| f.access)
            .collect())
    }

    async fn list_sessions(&self, user_id: &str, now: u64) -> Result<Vec<Session>, StoreError> {
        let s = self.lock();
        let mut out: Vec<Session> = s
            .by_user
            .get(user_id)
            .into_iter()
            .flatten()
            .filter_map(|id| s.active(id, now))
            .map(|f| f.session.clone())
            .collect();
        out.sort_by_key(|x| x.created_at);
        Ok(out)
    }

    async fn session(&self, family_id: &str, now: u64) -> Result<Option<Session>, StoreError> {
        Ok(self
            .lock()
            .active(family_id, now)
            .map(|f| f.session.clone()))
    }

    async fn purge_expired(&self, now: u64) -> Result<u64, StoreError> {
        let mut s = self.lock();
        let ended: Vec<String> = s
            .by_id
            .iter()
            .filter(|(_, f)| f.session.expires_at <= now)
            .map(|(id, _)| id.clone())
            .collect();
        for id in &ended {
            s.remove(id);
        }
        Ok(ended.len() as u64)
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
