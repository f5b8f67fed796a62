//! The circuit breaker of a store handle: a small state machine over atomics, driven by
//! the outcomes of calls and by a background probe (see [`breaker`](crate::store::breaker)).
//!
//! ```text
//!   Closed ──(open_after consecutive outages)──▶ Open ──(probe_interval)──▶ HalfOpen
//!     ▲                                           ▲                          │
//!     └────────────(the one trial succeeds)───────┼──────────────────────────┤
//!                                                 └──(the trial fails)───────┘
//! ```
//!
//! While it is not closed, calls are refused at once; only the probe (the one trial of
//! the half-open state) reaches the store.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The state of a store's circuit breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BreakerState {
    /// Calls reach the store.
    Closed,
    /// The store failed: calls are refused at once until a probe sees it back.
    Open,
    /// The one trial (the background probe) is running; calls are still refused.
    HalfOpen,
}

impl BreakerState {
    /// The value of the `token_auth_store_breaker_state` gauge: 0 closed, 1 open,
    /// 2 half-open.
    pub fn as_gauge(self) -> f64 {
        match self {
            BreakerState::Closed => 0.0,
            BreakerState::Open => 1.0,
            BreakerState::HalfOpen => 2.0,
        }
    }

    /// The state's name (`closed`, `open`, `half_open`).
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half_open",
        }
    }

    fn from_u8(v: u8) -> Self {
        match v {
            OPEN => BreakerState::Open,
            HALF_OPEN => BreakerState::HalfOpen,
            _ => BreakerState::Closed,
        }
    }
}

const CLOSED: u8 = 0;
const OPEN: u8 = 1;
const HALF_OPEN: u8 = 2;

/// Milliseconds from a monotonic origin: the breaker's clock (the crate's
/// [`Clock`](crate::token::Clock) has seconds only).
pub(crate) trait Millis: Send + Sync + 'static {
    fn now_ms(&self) -> u64;
}

/// The monotonic system clock.
pub(crate) struct MonotonicMillis(Instant);

impl MonotonicMillis {
    pub(crate) fn new() -> Self {
        MonotonicMillis(Instant::now())
    }
}

impl Millis for MonotonicMillis {
    fn now_ms(&self) -> u64 {
        self.0.elapsed().as_millis() as u64
    }
}

/// What a state change was, for logs and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transition {
    None,
    Opened,
    Closed,
}

/// The state machine. Every method is lock-free; [`allows`](Self::allows) is one load.
pub(crate) struct Breaker {
    state: AtomicU8,
    /// Consecutive outages seen while closed.
    failures: AtomicU32,
    /// When it last opened (or the trial last failed), by `clock`.
    opened_at_ms: AtomicU64,
    open_after: u32,
    probe_interval_ms: u64,
    clock: Arc<dyn Millis>,
}

impl Breaker {
    pub(crate) fn new(open_after: u32, probe_interval: Duration, clock: Arc<dyn Millis>) -> Self {
        Breaker {
            state: AtomicU8::new(CLOSED),
            failures: AtomicU32::new(0),
            opened_at_ms: AtomicU64::new(0),
            open_after: open_after.max(1),
            probe_interval_ms: probe_interval.as_millis() as u64,
            clock,
        }
    }

    pub(crate) fn state(&self) -> BreakerState {
        BreakerState::from_u8(self.state.load(Ordering::Acquire))
    }

    /// Whether a call may reach the store now (closed).
    pub(crate) fn allows(&self) -> bool {
        self.state.load(Ordering::Acquire) == CLOSED
    }

    /// A call answered (or failed for a reason that is no outage).
    pub(crate) fn on_success(&self) {
        if self.failures.load(Ordering::Relaxed) != 0 {
            self.failures.store(0, Ordering::Relaxed);
        }
    }

    /// A call found the store unavailable (refused, timed out). Opens after
    /// `open_after` consecutive ones; only the call that opens it sees `Opened`.
    pub(crate) fn on_failure(&self) -> Transition {
        if self.state.load(Ordering::Acquire) != CLOSED {
            return Transition::None;
        }
        let n = self.failures.fetch_add(1, Ordering::AcqRel) + 1;
        if n < self.open_after {
            return Transition::None;
        }
        self.opened_at_ms
            .store(self.clock.now_ms(), Ordering::Release);
        match self
            .state
            .compare_exchange(CLOSED, OPEN, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => Transition::Opened,
            Err(_) => Transition::None,
        }
    }

    /// How long until a trial is due (zero when it is, or when closed).
    pub(crate) fn until_trial(&self) -> Duration {
        if self.state.load(Ordering::Acquire) != OPEN {
            return Duration::ZERO;
        }
        let due = self
            .opened_at_ms
            .load(Ordering::Acquire)
            .saturating_add(self.probe_interval_ms);
        Duration::from_millis(due.saturating_sub(self.clock.now_ms()))
    }

    /// Open and the probe interval has passed: turns half-open and returns true for the
    /// one caller that gets to run the trial.
    pub(crate) fn try_start_trial(&self) -> bool {
        if self.state.load(Ordering::Acquire) != OPEN || !self.until_trial().is_zero() {
            return false;
        }
        self.state
            .compare_exchange(OPEN, HALF_OPEN, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// The trial's outcome: closed again, or open for another probe interval.
    pub(crate) fn end_trial(&self, store_answered: bool) -> Transition {
        if store_answered {
            self.failures.store(0, Ordering::Release);
            match self.state.compare_exchange(
                HALF_OPEN,
                CLOSED,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => Transition::Closed,
                Err(_) => Transition::None,
            }
        } else {
            self.opened_at_ms
                .store(self.clock.now_ms(), Ordering::Release);
            let _ =
                self.state
                    .compare_exchange(HALF_OPEN, OPEN, Ordering::AcqRel, Ordering::Acquire);
            Transition::None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A clock the test moves by hand.
    #[derive(Default)]
    struct FakeMillis(AtomicU64);

    impl FakeMillis {
        fn advance(&self, ms: u64) {
            self.0.fetch_add(ms, Ordering::SeqCst);
        }
    }

    impl Millis for FakeMillis {
        fn now_ms(&self) -> u64 {
            self.0.load(Ordering::SeqCst)
        }
    }

    fn breaker(open_after: u32) -> (Breaker, Arc<FakeMillis>) {
        let clock = Arc::new(FakeMillis::default());
        let b = Breaker::new(open_after, Duration::from_millis(250), clock.clone());
        (b, clock)
    }

    #[test]
    fn one_outage_opens_and_refuses_until_a_trial_succeeds() {
        let (b, clock) = breaker(1);
        assert_eq!(b.state(), BreakerState::Closed);
        assert!(b.allows());
        assert_eq!(b.on_failure(), Transition::Opened);
        assert_eq!(b.state(), BreakerState::Open);
        assert!(!b.allows());
        // Further failures of calls that were in flight change nothing.
        assert_eq!(b.on_failure(), Transition::None);
        // No trial before the probe interval.
        assert_eq!(b.until_trial(), Duration::from_millis(250));
        assert!(!b.try_start_trial());
        clock.advance(249);
        assert!(!b.try_start_trial());
        clock.advance(1);
        assert!(b.try_start_trial());
        assert_eq!(b.state(), BreakerState::HalfOpen);
        assert!(!b.allows(), "half-open: only the trial reaches the store");
        // One trial at a time.
        assert!(!b.try_start_trial());
        assert_eq!(b.end_trial(true), Transition::Closed);
        assert_eq!(b.state(), BreakerState::Closed);
        assert!(b.allows());
    }

    #[test]
    fn a_failed_trial_reopens_for_another_interval() {
        let (b, clock) = breaker(1);
        b.on_failure();
        clock.advance(300);
        assert!(b.try_start_trial());
        clock.advance(40);
        assert_eq!(b.end_trial(false), Transition::None);
        assert_eq!(b.state(), BreakerState::Open);
        // The interval counts from the failed trial.
        assert!(!b.try_start_trial());
        clock.advance(249);
        assert!(!b.try_start_trial());
        clock.advance(1);
        assert!(b.try_start_trial());
        assert_eq!(b.end_trial(true), Transition::Closed);
    }

    #[test]
    fn open_after_counts_consecutive_outages_only() {
        let (b, _) = breaker(3);
        assert_eq!(b.on_failure(), Transition::None);
        assert_eq!(b.on_failure(), Transition::None);
        b.on_success();
        assert_eq!(b.on_failure(), Transition::None);
        assert_eq!(b.on_failure(), Transition::None);
        assert!(b.allows());
        assert_eq!(b.on_failure(), Transition::Opened);
        assert!(!b.allows());
    }

    #[test]
    fn closing_forgets_earlier_failures() {
        let (b, clock) = breaker(2);
        b.on_failure();
        b.on_failure();
        clock.advance(250);
        assert!(b.try_start_trial());
        b.end_trial(true);
        // A single outage after recovery does not reopen a threshold-2 breaker.
        assert_eq!(b.on_failure(), Transition::None);
        assert!(b.allows());
    }

    #[test]
    fn gauge_values() {
        assert_eq!(BreakerState::Closed.as_gauge(), 0.0);
        assert_eq!(BreakerState::Open.as_gauge(), 1.0);
        assert_eq!(BreakerState::HalfOpen.as_gauge(), 2.0);
        assert_eq!(BreakerState::HalfOpen.as_str(), "half_open");
    }
}
