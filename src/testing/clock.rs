//! [`ManualClock`]: a clock a test moves, shared with the authority it drives.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::token::clock::{Clock, unix_now};

/// A clock that stands still until the test moves it. Clones share one instant, so the
/// test keeps a clone and hands another to
/// [`TokenAuthBuilder::clock`](crate::TokenAuthBuilder::clock) (or wraps it in an
/// `Arc<dyn Clock>` for the application's own code).
///
/// ```
/// use axum_token_auth::trust::TokenCheck;
/// use std::time::Duration;
/// use axum_token_auth::{TokenRequest, testing::{ManualClock, test_builder}};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let clock = ManualClock::starting_now();
/// let auth = test_builder().clock(clock.clone()).build().unwrap();
/// let token = auth.issue_access(&TokenRequest::new("alice")).unwrap();
/// assert!(auth.validate::<axum_token_auth::NoCustomClaims>(token.as_str(), TokenCheck::ACCESS).await.is_ok());
///
/// clock.advance(auth.access_ttl() + Duration::from_secs(31)); // past the 30 s leeway
/// assert!(auth.validate::<axum_token_auth::NoCustomClaims>(token.as_str(), TokenCheck::ACCESS).await.is_err());
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<AtomicU64>);

impl ManualClock {
    /// A clock standing at `now` (seconds since the Unix epoch).
    pub fn new(now: u64) -> Self {
        ManualClock(Arc::new(AtomicU64::new(now)))
    }

    /// A clock standing at the system clock's current second.
    pub fn starting_now() -> Self {
        Self::new(unix_now())
    }

    /// Moves the clock forward by `by` (whole seconds; the fraction is dropped).
    pub fn advance(&self, by: Duration) {
        self.0.fetch_add(by.as_secs(), Ordering::SeqCst);
    }

    /// Moves the clock back by `by` (whole seconds), saturating at the epoch.
    pub fn rewind(&self, by: Duration) {
        let by = by.as_secs();
        let _ = self
            .0
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |t| {
                Some(t.saturating_sub(by))
            });
    }

    /// Sets the clock to `now` (seconds since the Unix epoch), forward or back.
    pub fn set(&self, now: u64) {
        self.0.store(now, Ordering::SeqCst);
    }

    /// This clock as an `Arc<dyn Clock>`, for code that takes a shared clock.
    pub fn shared(&self) -> Arc<dyn Clock> {
        Arc::new(self.clone())
    }
}

impl Clock for ManualClock {
    fn now(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_one_instant_and_move_together() {
        let clock = ManualClock::new(1_000);
        let shared: Arc<dyn Clock> = clock.shared();
        clock.advance(Duration::from_millis(2_900));
        assert_eq!(shared.now(), 1_002, "whole seconds only");
        clock.set(50);
        assert_eq!(shared.now(), 50);
        clock.rewind(Duration::from_secs(60));
        assert_eq!(shared.now(), 0, "saturates at the epoch");
    }

    #[test]
    fn an_arc_dyn_clock_is_accepted_by_the_builder() {
        let clock = ManualClock::new(1_700_000_000);
        let auth = crate::testing::test_builder()
            .clock(clock.shared())
            .build()
            .unwrap();
        assert_eq!(auth.now(), 1_700_000_000);
        clock.advance(Duration::from_secs(10));
        assert_eq!(auth.now(), 1_700_000_010);
    }
}
