//! Where "now" comes from: [`Clock`], the system clock and a fixed one for tests.

use std::time::{SystemTime, UNIX_EPOCH};

/// Where "now" comes from. The default is the system clock; tests can pin it with
/// [`FixedClock`], or move it with `testing::ManualClock` (feature `testing`).
pub trait Clock: Send + Sync + 'static {
    /// Seconds since the Unix epoch.
    fn now(&self) -> u64;
}

/// A shared clock is a clock: an `Arc<dyn Clock>` (or an `Arc` of any clock) can be
/// handed to [`TokenAuthBuilder::clock`](crate::TokenAuthBuilder::clock) and kept by the
/// test or the application that moves it.
impl<C: Clock + ?Sized> Clock for std::sync::Arc<C> {
    fn now(&self) -> u64 {
        (**self).now()
    }
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> u64 {
        unix_now()
    }
}

/// A clock stuck at one instant (seconds since the epoch), for tests.
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub u64);

impl Clock for FixedClock {
    fn now(&self) -> u64 {
        self.0
    }
}

/// Seconds since the Unix epoch from the system clock.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
