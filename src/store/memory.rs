//! The in-memory stores: the embedded default for one process. State lives as long as
//! the process; several instances need the `redis` or `postgres` store.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use axum_token_auth::{Sessions, TokenAuth};
//! use axum_token_auth::store::memory::{MemoryRefreshStore, MemoryRevocationStore};
//!
//! let auth = TokenAuth::builder()
//!     .hs256_secret("a-random-secret-of-at-least-32-bytes!!")
//!     // A bounded store: past its share, a subject's tokens are revoked wholesale.
//!     .revocation_store(Arc::new(MemoryRevocationStore::default().with_subject_quota(1_000)))
//!     .build()?;
//! let sessions = Sessions::builder(auth, MemoryRefreshStore::new())
//!     .grace(Duration::from_secs(10))
//!     .build()?;
//! # let _ = sessions;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use async_trait::async_trait;

use crate::store::prehashed::Prehashed;
use crate::store::refresh::rotation::{Decision, FamilyState, decide, remember_access};
use crate::store::refresh::{
    AccessRef, NewSession, RefreshStore, RotateOutcome, Rotation, Session,
};
use crate::store::{
    RevocationCheck, RevocationStore, StoreError, SubjectCutoff, SubjectRevocation, TokenDigest,
};
use crate::token::clock::{Clock, SystemClock};

/// Default capacity of [`MemoryRevocationStore`]: one million revoked, unexpired tokens
/// (about 90 MB at most).
pub const DEFAULT_REVOCATION_CAPACITY: usize = 1_000_000;

/// Default share of [`MemoryRevocationStore`] one subject may hold: 64 unexpired
/// revocations (see [`MemoryRevocationStore::with_subject_quota`]).
pub const DEFAULT_SUBJECT_QUOTA: usize = 64;

/// Revoked token digests in process memory, each kept until its token expires.
///
/// Memory is bounded: expired entries are purged whenever the map doubles, and at most
/// `capacity` unexpired entries are held. What happens at the bound:
///
/// * [`revoke_for`](SubjectRevocation::revoke_for) (what [`Sessions`](crate::Sessions) and
///   [`TokenAuth::revoke`](crate::TokenAuth::revoke) use) counts each entry against its
///   subject. A subject that already holds its quota (default [`DEFAULT_SUBJECT_QUOTA`]),
///   or any subject once the store is full, gets one subject-wide revocation instead
///   ([`revoke_all_for`](SubjectRevocation::revoke_all_for) now): every token of that
///   subject issued so far is refused. Nothing is forgotten, nothing answers 503, and
///   one account (a login, refresh and reuse loop writes up to 17 revocations per
///   login) can hold at most its quota: filling the store takes `capacity / quota`
///   accounts, and even then only those accounts' later revocations turn subject-wide.
/// * [`revoke`](RevocationStore::revoke) (no subject known) fails with
///   [`StoreError::CapacityExceeded`] when the store is full.
///
/// Lookups take a read lock that writers hold only for an insert (or a purge). The
/// subject-wide cutoffs are one small entry per subject ever revoked that way.
pub struct MemoryRevocationStore {
    revoked: RwLock<Revoked>,
    generations: RwLock<HashMap<String, SubjectCutoff>>,
    /// Whether `generations` holds anything: until a first revoke-all, the per-request
    /// check takes no second lock.
    any_cutoff: AtomicBool,
    capacity: usize,
    subject_quota: usize,
    clock: Arc<dyn Clock>,
}

struct Revoked {
    /// Digests are SHA-256 outputs: uniformly random, so they need no second hash.
    map: HashMap<TokenDigest, Entry, Prehashed>,
    /// Unexpired entries held per subject (those revoked through `revoke_for`).
    per_subject: HashMap<Arc<str>, usize>,
    purge_at: usize,
}

struct Entry {
    expires_at: u64,
    subject: Option<Arc<str>>,
}

impl Revoked {
    /// Drops expired entries, keeping the per-subject counts in step.
    fn purge(&mut self, now: u64) {
        let Revoked {
            map, per_subject, ..
        } = self;
        map.retain(|_, e| {
            let keep = e.expires_at > now;
            if !keep
                && let Some(s) = &e.subject
                && let Some(n) = per_subject.get_mut(s)
            {
                *n -= 1;
                if *n == 0 {
                    per_subject.remove(s);
                }
            }
            keep
        });
    }
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
                per_subject: HashMap::new(),
                purge_at: 1024,
            }),
            generations: RwLock::new(HashMap::new()),
            any_cutoff: AtomicBool::new(false),
            capacity: capacity.max(1),
            subject_quota: DEFAULT_SUBJECT_QUOTA,
            clock: Arc::new(SystemClock),
        }
    }

    /// How many unexpired revocations one subject may hold before its further
    /// revocations become one subject-wide revocation (default
    /// [`DEFAULT_SUBJECT_QUOTA`]; at least 1).
    ///
    /// ```
    /// use axum_token_auth::store::memory::MemoryRevocationStore;
    ///
    /// let store = MemoryRevocationStore::with_capacity(1_000_000).with_subject_quota(1_000);
    /// # let _ = store;
    /// ```
    #[must_use]
    pub fn with_subject_quota(mut self, quota: usize) -> Self {
        self.subject_quota = quota.max(1);
        self
    }

    /// Uses `clock` to decide which entries have expired (tests).
    ///
    /// ```
    /// use axum_token_auth::{store::memory::MemoryRevocationStore, token::FixedClock};
    ///
    /// let store = MemoryRevocationStore::default().with_clock(FixedClock(1_767_225_600));
    /// # let _ = store;
    /// ```
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
        w.purge(now);
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
        let exp = self.read().map.get(digest).map(|e| e.expires_at);
        exp.is_some_and(|exp| exp > self.clock.now())
    }

    /// Inserts (or extends) an entry unless the store is full or, for a subject's entry,
    /// the subject holds its quota; `false` when it did not.
    fn insert(&self, digest: TokenDigest, expires_at: u64, subject: Option<&str>) -> bool {
        let now = self.clock.now();
        let mut w = self.write();
        if w.map.len() >= w.purge_at || w.map.len() >= self.capacity {
            w.purge(now);
            w.purge_at = (w.map.len() * 2).max(1024);
        }
        if let Some(e) = w.map.get_mut(&digest) {
            e.expires_at = e.expires_at.max(expires_at);
            return true;
        }
        if w.map.len() >= self.capacity {
            return false;
        }
        let subject = match subject {
            Some(s) => {
                let held = w.per_subject.get(s).copied().unwrap_or(0);
                if held >= self.subject_quota {
                    return false;
                }
                let key: Arc<str> = w
                    .per_subject
                    .get_key_value(s)
                    .map(|(k, _)| Arc::clone(k))
                    .unwrap_or_else(|| Arc::from(s));
                *w.per_subject.entry(Arc::clone(&key)).or_insert(0) += 1;
                Some(key)
            }
            None => None,
        };
        w.map.insert(
            digest,
            Entry {
                expires_at,
                subject,
            },
        );
        true
    }
}

#[async_trait]
impl RevocationStore for MemoryRevocationStore {
    async fn revoke(&self, digest: TokenDigest, expires_at: u64) -> Result<(), StoreError> {
        if expires_at <= self.clock.now() {
            return Ok(());
        }
        if self.insert(digest, expires_at, None) {
            Ok(())
        } else {
            Err(StoreError::CapacityExceeded)
        }
    }

    async fn is_revoked(&self, digest: &TokenDigest) -> Result<bool, StoreError> {
        Ok(self.lookup(digest))
    }

    async fn check(&self, token: &RevocationCheck<'_>) -> Result<bool, StoreError> {
        Ok(self.answer(token))
    }

    fn check_now(&self, token: &RevocationCheck<'_>) -> Option<Result<bool, StoreError>> {
        Some(Ok(self.answer(token)))
    }
}

#[async_trait]
impl SubjectRevocation for MemoryRevocationStore {
    async fn revoke_all_for(&self, subject: &str, at: u64) -> Result<u64, StoreError> {
        let mut g = self.generations.write().unwrap_or_else(|p| p.into_inner());
        self.any_cutoff.store(true, Ordering::Release);
        let c = g.entry(subject.to_owned()).or_default();
        c.generation += 1;
        c.issued_through = c.issued_through.max(at);
        Ok(c.generation)
    }

    async fn subject_cutoff(&self, subject: &str) -> Result<SubjectCutoff, StoreError> {
        Ok(self.cutoff_of(subject))
    }

    async fn revoke_for(
        &self,
        subject: &str,
        digest: TokenDigest,
        expires_at: u64,
    ) -> Result<(), StoreError> {
        let now = self.clock.now();
        if expires_at <= now || self.insert(digest, expires_at, Some(subject)) {
            return Ok(());
        }
        // Over the subject's quota, or the store is full: revoke all of the subject's
        // tokens instead (this one included: it was issued before now).
        tracing::warn!("revocation quota of a subject reached; revoking all of its tokens");
        self.revoke_all_for(subject, now).await.map(|_| ())
    }
}

impl MemoryRevocationStore {
    /// Whether the token with this digest is revoked, answered at once (what
    /// [`is_revoked`](RevocationStore::is_revoked) awaits).
    ///
    /// ```
    /// use axum_token_auth::store::{TokenDigest, memory::MemoryRevocationStore};
    ///
    /// let store = MemoryRevocationStore::default();
    /// assert!(!store.is_revoked_now(&TokenDigest::of_jti("never-revoked")));
    /// ```
    pub fn is_revoked_now(&self, digest: &TokenDigest) -> bool {
        self.lookup(digest)
    }
}

impl MemoryRevocationStore {
    fn cutoff_of(&self, subject: &str) -> SubjectCutoff {
        // Set (under the write lock) before any entry exists, so `false` means none.
        if !self.any_cutoff.load(Ordering::Acquire) {
            return SubjectCutoff::default();
        }
        let g = self.generations.read().unwrap_or_else(|p| p.into_inner());
        g.get(subject).copied().unwrap_or_default()
    }

    /// Raises a subject's cutoff (the Redis store keeps its cache with it).
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn set_cutoff(&self, subject: &str, cutoff: SubjectCutoff) {
        let mut g = self.generations.write().unwrap_or_else(|p| p.into_inner());
        self.any_cutoff.store(true, Ordering::Release);
        let c = g.entry(subject.to_owned()).or_default();
        *c = c.max(cutoff);
    }

    fn answer(&self, token: &RevocationCheck<'_>) -> bool {
        self.lookup(token.digest) || self.cutoff_of(token.subject).revokes(token)
    }
}

/// Refresh families in process memory: the embedded default [`RefreshStore`].
///
/// One mutex guards the map, so rotation is atomic; it is held only for map operations.
/// State is lost on restart (use the Redis or PostgreSQL store to keep it).
///
/// Bounded by time: families that have ended are dropped by the store itself (whenever
/// the number of families has doubled since the last sweep, amortised O(1) per login),
/// so abandoned sessions never pile up even if nobody calls
/// [`purge_expired`](RefreshStore::purge_expired). Active families live until their
/// absolute end (the family lifetime, 30 days by default) or until revoked.
#[derive(Default)]
pub struct MemoryRefreshStore {
    state: Mutex<Families>,
}

#[derive(Default)]
struct Families {
    by_id: HashMap<String, Family>,
    by_user: HashMap<String, Vec<String>>,
    /// Sweep ended families when `by_id` reaches this size.
    purge_at: usize,
}

/// Families held before the first sweep.
const FIRST_FAMILY_SWEEP: usize = 1024;

struct Family {
    session: Session,
    /// What rotations are decided on.
    state: FamilyState,
    /// Access tokens issued in this family that may still be alive.
    access: Vec<AccessRef>,
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

    /// Drops every family that has ended at `now`; returns how many.
    fn sweep(&mut self, now: u64) -> usize {
        let ended: Vec<String> = self
            .by_id
            .iter()
            .filter(|(_, f)| f.session.expires_at <= now)
            .map(|(id, _)| id.clone())
            .collect();
        for id in &ended {
            self.remove(id);
        }
        ended.len()
    }

    fn active(&self, family_id: &str, now: u64) -> Option<&Family> {
        self.by_id
            .get(family_id)
            .filter(|f| f.session.expires_at > now)
    }
}

#[async_trait]
impl RefreshStore for MemoryRefreshStore {
    async fn create_session(&self, family: NewSession) -> Result<(), StoreError> {
        let mut s = self.lock();
        if s.by_id.len() >= s.purge_at.max(FIRST_FAMILY_SWEEP) {
            s.sweep(family.created_at);
            s.purge_at = s.by_id.len() * 2;
        }
        let state = FamilyState::first(&family);
        let session = Session {
            id: family.session_id.clone(),
            user_id: family.user_id.clone(),
            created_at: family.created_at,
            last_used_at: family.created_at,
            expires_at: family.expires_at,
            user_agent: family.user_agent,
            device: family.device,
            ip: family.ip,
        };
        s.by_user
            .entry(family.user_id)
            .or_default()
            .push(family.session_id.clone());
        s.by_id.insert(
            family.session_id,
            Family {
                session,
                state,
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
            .is_some_and(|f| f.state.current == *presented))
    }

    async fn rotate(&self, rotation: Rotation) -> Result<RotateOutcome, StoreError> {
        let (id, now) = (&rotation.session_id, rotation.now);
        let mut s = self.lock();
        let decision = decide(s.by_id.get(id).map(|f| &f.state), &rotation);
        if decision.ends_family() {
            let (user_id, access) = s
                .remove(id)
                .map(|f| (f.session.user_id, f.access))
                .unwrap_or_default();
            return Ok(decision.outcome(user_id, access));
        }
        if let (Decision::Rotate(successor), Some(f)) = (&decision, s.by_id.get_mut(id)) {
            f.state.rotate(successor, now);
            remember_access(&mut f.access, successor, now);
            f.session.last_used_at = now;
        }
        Ok(decision.outcome(String::new(), Vec::new()))
    }

    async fn revoke_session(&self, family_id: &str) -> Result<Vec<AccessRef>, StoreError> {
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
        Ok(self.lock().sweep(now) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::clock::FixedClock;

    fn d(n: u8) -> TokenDigest {
        TokenDigest([n; 32])
    }

    #[tokio::test]
    async fn revoked_until_expiry() {
        let s = MemoryRevocationStore::default().with_clock(FixedClock(100));
        s.revoke(d(1), 200).await.unwrap();
        assert!(s.is_revoked(&d(1)).await.unwrap());
        assert!(!s.is_revoked(&d(2)).await.unwrap());
        assert!(s.is_revoked_now(&d(1)));
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

    fn check<'a>(digest: &'a TokenDigest, subject: &'a str, issued_at: u64) -> RevocationCheck<'a> {
        RevocationCheck {
            digest,
            subject,
            generation: None,
            issued_at,
        }
    }

    #[tokio::test]
    async fn one_subject_cannot_fill_the_store_and_nothing_is_forgotten() {
        let s = MemoryRevocationStore::with_capacity(10)
            .with_subject_quota(3)
            .with_clock(FixedClock(100));
        // The attacker's fourth revocation becomes a subject-wide one.
        for n in 1..=5 {
            s.revoke_for("mallory", d(n), 200).await.unwrap();
        }
        assert_eq!(s.len(), 3, "at most the quota is held for one subject");
        for n in 1..=5 {
            assert!(
                s.answer(&check(&d(n), "mallory", 99)),
                "token {n} is still revoked"
            );
        }
        // Others still get their own entries, and never a 503.
        for n in 10..17 {
            s.revoke_for(&format!("user{n}"), d(n), 200).await.unwrap();
        }
        assert_eq!(s.len(), 10);
        // Full: the next subject is revoked subject-wide rather than refused.
        s.revoke_for("late", d(40), 200).await.unwrap();
        assert!(s.answer(&check(&d(40), "late", 100)));
        assert!(!s.answer(&check(&d(41), "user10", 100)));
        // Expired entries give the quota back.
        let s = s.with_clock(FixedClock(300));
        s.revoke_for("mallory", d(50), 400).await.unwrap();
        assert_eq!(s.len(), 1);
    }

    fn family(id: &str, at: u64, ends: u64) -> NewSession {
        NewSession {
            session_id: id.to_owned(),
            user_id: "u".to_owned(),
            refresh: d(1),
            access: AccessRef {
                jti: "a".into(),
                expires_at: at + 60,
            },
            created_at: at,
            expires_at: ends,
            user_agent: None,
            device: None,
            ip: None,
        }
    }

    #[tokio::test]
    async fn ended_families_are_dropped_without_purge_expired() {
        let store = MemoryRefreshStore::new();
        for i in 0..5000 {
            // Each family ends 10 s after it was created; logins are 1 s apart.
            store
                .create_session(family(&format!("f{i}"), 1000 + i, 1010 + i))
                .await
                .unwrap();
        }
        let held = store.lock().by_id.len();
        assert!(held <= 2 * FIRST_FAMILY_SWEEP, "{held} families held");
        assert!(store.session("f4999", 5999).await.unwrap().is_some());
        assert_eq!(store.lock().by_user["u"].len(), held);
    }
}
