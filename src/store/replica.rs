//! The staleness-bounded revocation replica, written once: an in-process copy of a shared
//! store's revocations and subject cutoffs, and the rule that says when it may answer.
//! The Redis and PostgreSQL stores only feed it (subscribe, fill, apply what their
//! channels deliver, report heartbeats); neither decides on its own when it is trusted.
//!
//! The rule: the copy answers only while
//!
//! 1. it was filled after the feed's subscriptions came up ([`filled`](RevocationReplica::filled)),
//!    and nothing made it doubt since ([`distrust`](RevocationReplica::distrust));
//! 2. it held every revocation it was given since that fill (one it could not hold, the
//!    copy being full, makes it untrusted until it is filled again);
//! 3. every channel of the feed was heard within the staleness bound (each store
//!    publishes heartbeats, so a silent channel means a lost subscription).
//!
//! Otherwise [`is_revoked_now`](RevocationReplica::is_revoked_now) and
//! [`check_now`](RevocationReplica::check_now) answer `None` and checks go to the store.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::store::memory::MemoryRevocationStore;
use crate::store::{RevocationCheck, RevocationStore, StoreError, SubjectCutoff, TokenDigest};

/// How a shared store keeps its copy: the part of `RedisSettings` and `PostgresSettings`
/// that is the replica's, with the coupled update (the heartbeat follows the bound)
/// written once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ReplicaSettings {
    /// Keep the copy at all (default on).
    pub(crate) local: bool,
    /// How often each store announces itself on every channel (default 500 ms).
    pub(crate) heartbeat: Duration,
    /// How long the copy is trusted without hearing a channel (default 2 s).
    pub(crate) max_staleness: Duration,
}

impl Default for ReplicaSettings {
    fn default() -> Self {
        ReplicaSettings {
            local: true,
            heartbeat: crate::store::DEFAULT_MAX_STALENESS / 4,
            max_staleness: crate::store::DEFAULT_MAX_STALENESS,
        }
    }
}

impl ReplicaSettings {
    /// Sets the staleness bound, and a heartbeat of a quarter of it.
    pub(crate) fn bound(&mut self, bound: Duration) {
        self.max_staleness = bound;
        self.heartbeat = bound / 4;
    }
}

/// The in-process copy of a shared store's revocations, and when it is trusted.
pub(crate) struct RevocationReplica {
    revoked: MemoryRevocationStore,
    /// Whether the subscriptions are up and the copy was filled after they came up.
    synced: AtomicBool,
    /// Set when the copy could not hold a revocation: it is re-filled once there is room.
    overflowed: AtomicBool,
    /// Milliseconds since `epoch` when each channel last delivered anything.
    last_heard_ms: Box<[AtomicU64]>,
    epoch: Instant,
    max_staleness_ms: u64,
    /// The store it copies, for logs ("redis", "postgres").
    backend: &'static str,
}

impl RevocationReplica {
    /// An empty, untrusted copy of `backend`, fed by `channels` channels, holding at most
    /// `capacity` revocations, trusted only while every channel was heard within
    /// `max_staleness`.
    pub(crate) fn new(
        backend: &'static str,
        channels: usize,
        capacity: usize,
        max_staleness: Duration,
    ) -> Self {
        RevocationReplica {
            revoked: MemoryRevocationStore::with_capacity(capacity),
            synced: AtomicBool::new(false),
            overflowed: AtomicBool::new(false),
            last_heard_ms: (0..channels.max(1)).map(|_| AtomicU64::new(0)).collect(),
            epoch: Instant::now(),
            max_staleness_ms: max_staleness.as_millis() as u64,
            backend,
        }
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// Trusted: synced, and every channel heard within the staleness bound. A fixed
    /// number of atomic loads (one per channel), whatever the number of revocations.
    pub(crate) fn fresh(&self) -> bool {
        self.synced.load(Ordering::Acquire) && self.stale_channel().is_none()
    }

    /// Whether a store's copy (if it keeps one) is trusted now.
    pub(crate) fn is_fresh(replica: Option<&Self>) -> bool {
        replica.is_some_and(Self::fresh)
    }

    /// Waits up to `timeout` for a store's copy (if it keeps one) to be trusted.
    pub(crate) async fn wait_fresh(replica: Option<&Self>, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if Self::is_fresh(replica) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Self::is_fresh(replica)
    }

    /// From the copy while it is trusted, else `None` (the store is asked).
    pub(crate) fn is_revoked_now(&self, digest: &TokenDigest) -> Option<Result<bool, StoreError>> {
        if !self.fresh() {
            return None;
        }
        Some(Ok(self.revoked.is_revoked_now(digest)))
    }

    /// From the copy while it is trusted, else `None` (the store is asked).
    pub(crate) fn check_now(
        &self,
        token: &RevocationCheck<'_>,
    ) -> Option<Result<bool, StoreError>> {
        if !self.fresh() {
            return None;
        }
        self.revoked.check_now(token)
    }

    /// Whether the copy could not hold a revocation since it was last filled.
    pub(crate) fn overflowed(&self) -> bool {
        self.overflowed.load(Ordering::Acquire)
    }

    /// Adds a revocation to the copy. If it cannot be kept (the copy is full), the copy
    /// is no longer trusted: checks go to the store until a fill succeeds.
    pub(crate) async fn remember(&self, digest: TokenDigest, expires_at: u64) {
        if let Err(e) = self.revoked.revoke(digest, expires_at).await {
            if !self.overflowed.swap(true, Ordering::AcqRel) {
                tracing::warn!(error = %e, backend = self.backend, "revocation cache cannot hold more entries; checks go to the store until it is re-filled");
            }
            self.synced.store(false, Ordering::Release);
        }
    }

    /// Raises a subject's cutoff in the copy.
    pub(crate) fn set_cutoff(&self, subject: &str, cutoff: SubjectCutoff) {
        self.revoked.set_cutoff(subject, cutoff);
    }

    /// Applies a cutoff message, `c:<generation>:<issued through>:<subject>` (what both
    /// stores publish when every token of a subject is revoked); `false` when `message`
    /// is not one.
    pub(crate) fn apply_cutoff(&self, message: &str) -> bool {
        let Some(rest) = message.strip_prefix("c:") else {
            return false;
        };
        if let Some((generation, rest)) = rest.split_once(':')
            && let Some((cut, subject)) = rest.split_once(':')
            && let (Ok(generation), Ok(issued_through)) = (generation.parse(), cut.parse())
        {
            self.set_cutoff(
                subject,
                SubjectCutoff {
                    generation,
                    issued_through,
                },
            );
        }
        true
    }

    /// Channel `channel` delivered something (a message or a heartbeat).
    pub(crate) fn heard(&self, channel: usize) {
        if let Some(t) = self.last_heard_ms.get(channel) {
            t.store(self.now_ms(), Ordering::Release);
        }
    }

    /// The first channel not heard within the staleness bound.
    pub(crate) fn stale_channel(&self) -> Option<usize> {
        let now = self.now_ms();
        self.last_heard_ms
            .iter()
            .position(|t| now.saturating_sub(t.load(Ordering::Acquire)) > self.max_staleness_ms)
    }

    /// The feed lost (or is re-establishing) its subscriptions: untrusted until filled.
    pub(crate) fn distrust(&self) {
        self.synced.store(false, Ordering::Release);
    }

    /// A fill begins (after the subscriptions came up): what overflowed before no longer
    /// counts.
    pub(crate) fn filling(&self) {
        self.overflowed.store(false, Ordering::Release);
    }

    /// A fill ended: trusted from now on, unless the copy could not hold it all.
    pub(crate) fn filled(&self) -> Result<(), StoreError> {
        if self.overflowed() {
            return Err(StoreError::Unavailable(
                "revocation cache is full; re-filled when entries expire".into(),
            ));
        }
        for c in 0..self.last_heard_ms.len() {
            self.heard(c);
        }
        self.synced.store(true, Ordering::Release);
        tracing::debug!(backend = self.backend, "revocation cache synced");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(n: u8) -> TokenDigest {
        TokenDigest([n; 32])
    }

    const FAR: u64 = u64::MAX / 2;

    #[tokio::test]
    async fn untrusted_until_filled_and_while_any_channel_is_silent() {
        let r = RevocationReplica::new("test", 2, 10, Duration::from_millis(50));
        r.remember(d(1), FAR).await;
        assert!(!r.fresh(), "not filled yet");
        assert_eq!(r.is_revoked_now(&d(1)), None);
        r.filling();
        r.filled().unwrap();
        assert_eq!(r.is_revoked_now(&d(1)), Some(Ok(true)));
        std::thread::sleep(Duration::from_millis(80));
        r.heard(0);
        assert_eq!(r.stale_channel(), Some(1));
        assert!(!r.fresh(), "channel 1 was not heard within the bound");
        r.heard(1);
        assert!(r.fresh());
        r.distrust();
        assert_eq!(r.is_revoked_now(&d(1)), None);
    }

    #[test]
    fn cutoff_messages_raise_the_subjects_cutoff() {
        let r = RevocationReplica::new("test", 1, 10, Duration::from_secs(60));
        assert!(r.apply_cutoff("c:3:1700000000:alice:with:colons"));
        assert!(
            r.apply_cutoff("c:garbage"),
            "a malformed cutoff message is still one"
        );
        assert!(!r.apply_cutoff("h"));
        r.filled().unwrap();
        let digest = d(9);
        let check = |issued_at| RevocationCheck {
            digest: &digest,
            subject: "alice:with:colons",
            generation: None,
            issued_at,
        };
        assert_eq!(r.check_now(&check(1_700_000_000)), Some(Ok(true)));
        assert_eq!(r.check_now(&check(1_700_000_001)), Some(Ok(false)));
    }

    #[tokio::test]
    async fn a_revocation_it_cannot_hold_makes_it_untrusted_until_a_fill_fits() {
        let r = RevocationReplica::new("test", 1, 1, Duration::from_secs(60));
        r.filling();
        r.remember(d(1), FAR).await;
        r.filled().unwrap();
        r.remember(d(2), FAR).await;
        assert!(r.overflowed());
        assert!(!r.fresh());
        r.filling();
        r.remember(d(3), FAR).await;
        assert!(r.filled().is_err(), "a fill that overflowed is not trusted");
        assert!(!r.fresh());
    }
}
