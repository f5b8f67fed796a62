//! Fail fast when a store is down: [`Guarded`] wraps any [`RevocationStore`],
//! [`RefreshStore`], [`GrantStore`] or [`ProofReplay`] with a circuit breaker, per-call timeouts and a
//! bound on the calls in flight, so a dead Redis or PostgreSQL costs a request
//! milliseconds, not the pool's acquire timeout.
//!
//! [`TokenAuthBuilder`](crate::TokenAuthBuilder) guards its revocation store and
//! [`Sessions`](crate::Sessions) its refresh store by default, with the
//! [`GuardSettings`] given to
//! [`TokenAuthBuilder::store_guard`](crate::TokenAuthBuilder::store_guard); when both get
//! the same store handle (one `Arc`), they share one breaker. Wrap a grant store yourself:
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use axum_token_auth::TokenAuth;
//! use axum_token_auth::store::grants::{GrantStore, MemoryGrantStore};
//! use axum_token_auth::store::breaker::{GuardSettings, Guarded};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let settings = GuardSettings::default()
//!     .check_timeout(Duration::from_millis(100))
//!     .call_timeout(Duration::from_millis(500));
//! let auth = TokenAuth::builder()
//!     .hs256_secret("a-random-secret-of-at-least-32-bytes!!")
//!     .store_guard(settings.clone())
//!     .build()?;
//! let grants = Guarded::grants(Arc::new(MemoryGrantStore::new()), &settings);
//! assert!(grants.granted_scopes("acme", "billing").await?.is_empty());
//! # let _ = auth; Ok(()) }
//! ```
//!
//! # What a guarded call does
//!
//! 1. While the breaker is open (the store failed), it is refused at once with
//!    [`StoreError::Unavailable`]: the hot path answers 503 `temporarily_unavailable`
//!    (or accepts, with [`StoreFailurePolicy::FailOpen`](crate::store::StoreFailurePolicy)),
//!    the session routes 503, all with `Retry-After`.
//! 2. When [`max_in_flight`](GuardSettings::max_in_flight) calls are already running,
//!    it is refused at once (no queue of requests waiting for a pool connection).
//! 3. Otherwise it runs with a timeout: [`check_timeout`](GuardSettings::check_timeout)
//!    for the per-request revocation check and DPoP replay check,
//!    [`call_timeout`](GuardSettings::call_timeout)
//!    for everything else (login, refresh, logout, revocations, grants).
//! 4. An outage (the backend's `Unavailable`, or a timeout) counts against the breaker;
//!    [`open_after`](GuardSettings::open_after) consecutive ones open it, and calls still
//!    waiting on the store are released with `Unavailable` at that moment.
//! 5. While open, a background probe (one cheap read) tries the store every
//!    [`probe_interval`](GuardSettings::probe_interval): that one trial is the half-open
//!    state; when it answers, the breaker closes.
//!
//! The synchronous per-request check ([`RevocationStore::check_now`]: in-process stores
//! and the local replicas of the Redis and PostgreSQL stores) is passed through untouched: a cache that knows
//! the answer keeps answering, and only when it does not is the breaker consulted (one
//! atomic load).
//!
//! ⚠️ Guarded calls use Tokio's timers: the runtime needs them enabled (`#[tokio::main]`
//! and `#[tokio::test]` do; a hand-built runtime needs `enable_time` or `enable_all`).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, Semaphore};

use crate::store::grants::GrantStore;
use crate::store::refresh::RefreshStore;
use crate::store::replay::{ProofId, ProofReplay};
use crate::store::{
    IntoDynSubjectRevocation, RevocationNotes, RevocationStore, StoreError, SubjectRevocation,
    TokenDigest,
};
use crate::telemetry;

mod delegate;
mod state;

pub use state::BreakerState;
use state::{Breaker, MonotonicMillis, Transition};

/// Default timeout of the per-request revocation check: 250 ms.
pub const DEFAULT_CHECK_TIMEOUT: Duration = Duration::from_millis(250);
/// Default timeout of every other store call (session routes, revocations, grants): 750 ms.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_millis(750);
/// Default bound on the calls in flight per store handle: 256.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 256;
/// Default interval between probes of a store whose breaker is open: 200 ms.
pub const DEFAULT_PROBE_INTERVAL: Duration = Duration::from_millis(200);

/// How stores are guarded (see the [module docs](self)). Plain data: build it, hand it to
/// [`TokenAuthBuilder::store_guard`](crate::TokenAuthBuilder::store_guard) or
/// [`Guarded`]'s constructors.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct GuardSettings {
    /// Whether stores are guarded at all (default on).
    pub enabled: bool,
    /// Timeout of the per-request revocation check (default 250 ms).
    pub check_timeout: Duration,
    /// Timeout of every other call (default 750 ms).
    pub call_timeout: Duration,
    /// Calls allowed in flight per store handle; more are refused at once (default 256).
    pub max_in_flight: usize,
    /// Consecutive outages (unavailable or timed out) that open the breaker (default 1).
    pub open_after: u32,
    /// How often an open breaker probes the store (default 200 ms).
    pub probe_interval: Duration,
}

impl Default for GuardSettings {
    fn default() -> Self {
        GuardSettings {
            enabled: true,
            check_timeout: DEFAULT_CHECK_TIMEOUT,
            call_timeout: DEFAULT_CALL_TIMEOUT,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            open_after: 1,
            probe_interval: DEFAULT_PROBE_INTERVAL,
        }
    }
}

impl GuardSettings {
    /// ⚠️ No guard: every call waits as long as the backend makes it wait (its own
    /// timeouts: the PostgreSQL pool's acquire timeout, Redis's response timeout).
    pub fn disabled() -> Self {
        GuardSettings {
            enabled: false,
            ..Self::default()
        }
    }

    /// Sets the timeout of the per-request revocation check (1 ms ..= 60 s).
    ///
    /// ```
    /// use std::time::Duration;
    /// use axum_token_auth::store::breaker::GuardSettings;
    ///
    /// let g = GuardSettings::default().check_timeout(Duration::from_millis(100));
    /// # let _ = g;
    /// ```
    #[must_use]
    pub fn check_timeout(mut self, timeout: Duration) -> Self {
        self.check_timeout = timeout;
        self
    }

    /// Sets the timeout of every other store call (1 ms ..= 60 s).
    ///
    /// ```
    /// use std::time::Duration;
    /// use axum_token_auth::store::breaker::GuardSettings;
    ///
    /// let g = GuardSettings::default().call_timeout(Duration::from_millis(500));
    /// # let _ = g;
    /// ```
    #[must_use]
    pub fn call_timeout(mut self, timeout: Duration) -> Self {
        self.call_timeout = timeout;
        self
    }

    /// Sets how many calls may be in flight per store handle (at least 1).
    ///
    /// ```
    /// use std::time::Duration;
    /// use axum_token_auth::store::breaker::GuardSettings;
    ///
    /// let g = GuardSettings::default().max_in_flight(1024);
    /// # let _ = g;
    /// ```
    #[must_use]
    pub fn max_in_flight(mut self, calls: usize) -> Self {
        self.max_in_flight = calls.max(1);
        self
    }

    /// Sets how many consecutive outages open the breaker (at least 1).
    ///
    /// ```
    /// use std::time::Duration;
    /// use axum_token_auth::store::breaker::GuardSettings;
    ///
    /// let g = GuardSettings::default().open_after(10);
    /// # let _ = g;
    /// ```
    #[must_use]
    pub fn open_after(mut self, failures: u32) -> Self {
        self.open_after = failures.max(1);
        self
    }

    /// Sets how often an open breaker probes the store (10 ms ..= 60 s).
    ///
    /// ```
    /// use std::time::Duration;
    /// use axum_token_auth::store::breaker::GuardSettings;
    ///
    /// let g = GuardSettings::default().probe_interval(Duration::from_secs(2));
    /// # let _ = g;
    /// ```
    #[must_use]
    pub fn probe_interval(mut self, interval: Duration) -> Self {
        self.probe_interval = interval;
        self
    }

    /// Checks the durations (called by the builders).
    pub(crate) fn check(&self) -> Result<(), crate::token::ConfigError> {
        let range = |kind: &'static str, d: Duration, min: Duration| {
            let max = Duration::from_secs(60);
            if d < min || d > max {
                return Err(crate::token::ConfigError::LifetimeOutOfRange { kind, min, max });
            }
            Ok(())
        };
        let ms = Duration::from_millis;
        range("store check timeout", self.check_timeout, ms(1))?;
        range("store call timeout", self.call_timeout, ms(1))?;
        range("store probe interval", self.probe_interval, ms(10))
    }
}

type ProbeFuture = Pin<Box<dyn Future<Output = Result<(), StoreError>> + Send>>;
type Probe = Box<dyn Fn() -> ProbeFuture + Send + Sync>;

/// The state shared by every [`Guarded`] view of one store handle.
#[derive(Clone)]
pub(crate) struct StoreGuard(Arc<Shared>);

struct Shared {
    /// The label of the breaker's gauges.
    name: &'static str,
    settings: GuardSettings,
    breaker: Breaker,
    permits: Semaphore,
    /// Wakes the calls waiting on the store when the breaker opens.
    opened: Notify,
    /// One cheap read: the background probe of an open breaker.
    probe: Probe,
    /// The address of the guarded store, to share one breaker per handle.
    handle: usize,
}

/// Why a guarded call did not answer.
enum Failure {
    Store(StoreError),
    TimedOut,
    Released,
}

fn open_error() -> StoreError {
    StoreError::Unavailable("store circuit open".into())
}

/// The address of the value behind an `Arc`, whatever trait object it is seen through.
fn address<S: ?Sized>(store: &Arc<S>) -> usize {
    Arc::as_ptr(store) as *const () as usize
}

impl StoreGuard {
    fn new(name: &'static str, settings: &GuardSettings, handle: usize, probe: Probe) -> Self {
        telemetry::breaker_state(name, BreakerState::Closed.as_gauge());
        StoreGuard(Arc::new(Shared {
            name,
            settings: settings.clone(),
            breaker: Breaker::new(
                settings.open_after,
                settings.probe_interval,
                Arc::new(MonotonicMillis::new()),
            ),
            permits: Semaphore::new(settings.max_in_flight.min(Semaphore::MAX_PERMITS)),
            opened: Notify::new(),
            probe,
            handle,
        }))
    }

    pub(crate) fn settings(&self) -> &GuardSettings {
        &self.0.settings
    }

    pub(crate) fn state(&self) -> BreakerState {
        self.0.breaker.state()
    }

    /// Runs one store call under the breaker, the in-flight bound and `timeout`.
    async fn run<T, F>(
        &self,
        store: &'static str,
        op: &'static str,
        timeout: Duration,
        call: F,
    ) -> Result<T, StoreError>
    where
        F: Future<Output = Result<T, StoreError>>,
    {
        let s = &*self.0;
        if !s.breaker.allows() {
            telemetry::store_refused(store, "open");
            return Err(open_error());
        }
        let Ok(permit) = s.permits.try_acquire() else {
            telemetry::store_refused(store, "full");
            return Err(StoreError::Unavailable(
                "too many store calls in flight".into(),
            ));
        };
        let opened = s.opened.notified();
        tokio::pin!(opened);
        opened.as_mut().enable();
        // It may have opened since the first look; the notification would be missed.
        if !s.breaker.allows() {
            telemetry::store_refused(store, "open");
            return Err(open_error());
        }
        telemetry::in_flight(s.name, 1.0);
        let start = Instant::now();
        let outcome = tokio::select! {
            biased;
            r = tokio::time::timeout(timeout, call) => match r {
                Ok(r) => r.map_err(Failure::Store),
                Err(_) => Err(Failure::TimedOut),
            },
            () = &mut opened => Err(Failure::Released),
        };
        let took = start.elapsed();
        drop(permit);
        telemetry::in_flight(s.name, -1.0);
        match outcome {
            Ok(v) => {
                s.breaker.on_success();
                telemetry::store_call(store, op, "ok", took);
                Ok(v)
            }
            Err(Failure::Store(e @ StoreError::Unavailable(_))) => {
                telemetry::store_call(store, op, "unavailable", took);
                self.outage(store, op);
                Err(e)
            }
            Err(Failure::Store(e)) => {
                telemetry::store_call(store, op, "error", took);
                Err(e)
            }
            Err(Failure::TimedOut) => {
                telemetry::store_call(store, op, "timeout", took);
                self.outage(store, op);
                Err(StoreError::Unavailable("store call timed out".into()))
            }
            Err(Failure::Released) => {
                telemetry::store_refused(store, "open");
                Err(open_error())
            }
        }
    }

    /// An outage: may open the breaker, which releases the waiting calls and starts the
    /// probe.
    fn outage(&self, store: &'static str, op: &'static str) {
        let s = &*self.0;
        if s.breaker.on_failure() == Transition::Opened {
            tracing::warn!(
                store,
                op,
                "store unavailable; circuit opened, calls refused until a probe answers"
            );
            telemetry::breaker_state(s.name, BreakerState::Open.as_gauge());
            s.opened.notify_waiters();
            tokio::spawn(probe_until_closed(Arc::downgrade(&self.0)));
        }
    }
}

/// The background probe of an open breaker: one trial per probe interval until the store
/// answers. Ends when the store handle is dropped.
async fn probe_until_closed(shared: Weak<Shared>) {
    loop {
        let wait = match shared.upgrade() {
            Some(s) => s.breaker.until_trial(),
            None => return,
        };
        tokio::time::sleep(wait.max(Duration::from_millis(1))).await;
        let Some(s) = shared.upgrade() else { return };
        if s.breaker.state() == BreakerState::Closed {
            return;
        }
        if !s.breaker.try_start_trial() {
            continue;
        }
        telemetry::breaker_state(s.name, BreakerState::HalfOpen.as_gauge());
        let answered = match tokio::time::timeout(s.settings.call_timeout, (s.probe)()).await {
            Ok(Ok(())) => true,
            // Reachable, but the probe's read was refused: the store is up.
            Ok(Err(StoreError::Backend(_) | StoreError::CapacityExceeded)) => true,
            Ok(Err(_)) | Err(_) => false,
        };
        if s.breaker.end_trial(answered) == Transition::Closed {
            tracing::info!(store = s.name, "store answers again; circuit closed");
            telemetry::breaker_state(s.name, BreakerState::Closed.as_gauge());
            return;
        }
        telemetry::breaker_state(s.name, BreakerState::Open.as_gauge());
    }
}

/// A store behind a circuit breaker, per-call timeouts and a bound on calls in flight
/// (see the [module docs](self)). Implements whichever of [`RevocationStore`],
/// [`RefreshStore`], [`GrantStore`] and [`ProofReplay`] the wrapped store implements, recording the
/// crate's metrics on the way (feature `metrics`).
pub struct Guarded<S: ?Sized> {
    inner: Arc<S>,
    guard: StoreGuard,
    /// The `store` label of this view's metrics.
    role: &'static str,
}

impl<S: ?Sized> fmt::Debug for Guarded<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Guarded")
            .field("store", &self.role)
            .field("state", &self.guard.state())
            .field("settings", self.guard.settings())
            .finish_non_exhaustive()
    }
}

impl<S: ?Sized> Guarded<S> {
    /// The breaker's state now.
    pub fn state(&self) -> BreakerState {
        self.guard.state()
    }

    /// The wrapped store.
    pub fn inner(&self) -> &Arc<S> {
        &self.inner
    }

    /// Calls in flight now.
    pub fn in_flight(&self) -> usize {
        let s = &*self.guard.0;
        s.settings
            .max_in_flight
            .min(Semaphore::MAX_PERMITS)
            .saturating_sub(s.permits.available_permits())
    }

    /// A store call `op` through the guard, with the call timeout.
    async fn call<T>(
        &self,
        op: &'static str,
        call: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let timeout = self.guard.settings().call_timeout;
        self.guard.run(self.role, op, timeout, call).await
    }

    /// A per-request check `op` through the guard, with the (shorter) check timeout.
    async fn call_check<T>(
        &self,
        op: &'static str,
        call: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let timeout = self.guard.settings().check_timeout;
        self.guard.run(self.role, op, timeout, call).await
    }
}

impl<S: RevocationStore + ?Sized> Guarded<S> {
    /// Guards a revocation store (metrics label `store="revocation"`); the probe asks
    /// whether an all-zero digest is revoked.
    pub fn revocation(store: Arc<S>, settings: &GuardSettings) -> Self {
        let probed = Arc::clone(&store);
        let probe: Probe = Box::new(move || {
            let s = Arc::clone(&probed);
            Box::pin(async move { s.is_revoked(&TokenDigest([0; 32])).await.map(|_| ()) })
        });
        let guard = StoreGuard::new("revocation", settings, address(&store), probe);
        Guarded {
            inner: store,
            guard,
            role: "revocation",
        }
    }
}

impl<S: RefreshStore + ?Sized> Guarded<S> {
    /// Guards a refresh store (metrics label `store="refresh"`); the probe reads a
    /// session that does not exist.
    pub fn refresh(store: Arc<S>, settings: &GuardSettings) -> Self {
        let probed = Arc::clone(&store);
        let probe: Probe = Box::new(move || {
            let s = Arc::clone(&probed);
            Box::pin(async move { s.session("probe", 0).await.map(|_| ()) })
        });
        let guard = StoreGuard::new("refresh", settings, address(&store), probe);
        Guarded {
            inner: store,
            guard,
            role: "refresh",
        }
    }
}

impl<S: GrantStore + ?Sized> Guarded<S> {
    /// Guards a grant store (metrics label `store="grants"`); the probe reads the
    /// grants of a principal that does not exist.
    pub fn grants(store: Arc<S>, settings: &GuardSettings) -> Self {
        let probed = Arc::clone(&store);
        let probe: Probe = Box::new(move || {
            let s = Arc::clone(&probed);
            Box::pin(async move { s.granted_scopes("probe", "probe").await.map(|_| ()) })
        });
        let guard = StoreGuard::new("grants", settings, address(&store), probe);
        Guarded {
            inner: store,
            guard,
            role: "grants",
        }
    }
}

impl<S: ProofReplay + ?Sized> Guarded<S> {
    /// Guards a DPoP replay cache (metrics label `store="replay"`): each
    /// [`first_use`](ProofReplay::first_use) is a per-request check, with the
    /// [`check_timeout`](GuardSettings::check_timeout); while the store is down or slow
    /// it answers [`StoreError::Unavailable`] at once, which the layer turns into 503
    /// with `Retry-After` (a proof is never accepted unchecked). The probe records an id
    /// that has already expired (the store keeps nothing, or one row for the probe).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use axum_token_auth::store::breaker::{GuardSettings, Guarded};
    /// use axum_token_auth::store::replay::MemoryProofReplay;
    /// use axum_token_auth::store::{ProofId, ProofReplay};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), axum_token_auth::store::StoreError> {
    /// let seen = Guarded::replay(Arc::new(MemoryProofReplay::default()), &GuardSettings::default());
    /// let id = ProofId::of("thumbprint-of-the-proof-key", "proof-jti");
    /// assert!(seen.first_use(&id, u64::MAX).await?);
    /// assert!(!seen.first_use(&id, u64::MAX).await?);
    /// # Ok(()) }
    /// ```
    pub fn replay(store: Arc<S>, settings: &GuardSettings) -> Self {
        let probed = Arc::clone(&store);
        let probe: Probe = Box::new(move || {
            let s = Arc::clone(&probed);
            Box::pin(async move { s.first_use(&ProofId([0; 32]), 1).await.map(|_| ()) })
        });
        let guard = StoreGuard::new("replay", settings, address(&store), probe);
        Guarded {
            inner: store,
            guard,
            role: "replay",
        }
    }
}

/// The revocation store as the builder keeps it: guarded unless the settings say not,
/// seen through the capabilities the crate uses (the notes handle is the same store).
pub(crate) struct RevocationHandles {
    pub(crate) store: Arc<dyn SubjectRevocation>,
    pub(crate) notes: Option<Arc<dyn RevocationNotes>>,
    pub(crate) guard: Option<StoreGuard>,
}

/// A revocation store registered with the builder, guarded once the builder knows the
/// [`GuardSettings`]: what it can do is captured here, at registration, where its type
/// is still known.
pub(crate) type RevocationRegistration =
    Box<dyn FnOnce(&GuardSettings) -> RevocationHandles + Send>;

/// Registers a store with subject-wide revocation (notes are not kept).
pub(crate) fn register_revocation<S: IntoDynSubjectRevocation + ?Sized>(
    store: Arc<S>,
) -> RevocationRegistration {
    Box::new(move |settings: &GuardSettings| {
        if !settings.enabled {
            return RevocationHandles {
                store: store.into_dyn(),
                notes: None,
                guard: None,
            };
        }
        let guarded = Arc::new(Guarded::revocation(store, settings));
        let guard = Some(guarded.guard.clone());
        RevocationHandles {
            store: guarded,
            notes: None,
            guard,
        }
    })
}

/// Registers a store with subject-wide revocation that also keeps notes.
pub(crate) fn register_noted_revocation<S: SubjectRevocation + RevocationNotes>(
    store: Arc<S>,
) -> RevocationRegistration {
    Box::new(move |settings: &GuardSettings| {
        if !settings.enabled {
            return RevocationHandles {
                notes: Some(Arc::clone(&store) as Arc<dyn RevocationNotes>),
                store,
                guard: None,
            };
        }
        let guarded = Arc::new(Guarded::revocation(store, settings));
        let guard = Some(guarded.guard.clone());
        RevocationHandles {
            notes: Some(Arc::clone(&guarded) as Arc<dyn RevocationNotes>),
            store: guarded,
            guard,
        }
    })
}

/// The refresh store as [`Sessions`](crate::Sessions) keeps it: guarded like `auth`'s
/// revocation store, sharing its breaker when it is the same handle.
pub(crate) fn guard_refresh(
    revocation_guard: Option<&StoreGuard>,
    store: Arc<dyn RefreshStore>,
) -> Arc<dyn RefreshStore> {
    let Some(revocation) = revocation_guard else {
        return store;
    };
    if revocation.0.handle == address(&store) {
        return Arc::new(Guarded {
            inner: store,
            guard: revocation.clone(),
            role: "refresh",
        });
    }
    let settings = revocation.settings().clone();
    Arc::new(Guarded::refresh(store, &settings))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::RevocationCheck;
    use async_trait::async_trait;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    /// A revocation store that is down, hangs, or answers, as the test says.
    #[derive(Default)]
    struct Flaky {
        down: AtomicBool,
        hang: AtomicBool,
        calls: AtomicUsize,
    }

    #[async_trait]
    impl RevocationStore for Flaky {
        async fn revoke(&self, _: TokenDigest, _: u64) -> Result<(), StoreError> {
            Ok(())
        }

        async fn is_revoked(&self, _: &TokenDigest) -> Result<bool, StoreError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            if self.hang.load(Ordering::SeqCst) {
                std::future::pending::<()>().await;
            }
            if self.down.load(Ordering::SeqCst) {
                return Err(StoreError::Unavailable("down".into()));
            }
            Ok(false)
        }

        async fn check(&self, token: &RevocationCheck<'_>) -> Result<bool, StoreError> {
            self.is_revoked(token.digest).await
        }

        fn check_now(&self, _: &RevocationCheck<'_>) -> Option<Result<bool, StoreError>> {
            None
        }
    }

    /// The same store as the refresh store of `Sessions`: down when `down` says.
    #[async_trait]
    impl RefreshStore for Flaky {
        async fn create_session(
            &self,
            _: crate::store::refresh::NewSession,
        ) -> Result<(), StoreError> {
            self.answer(())
        }
        async fn verify(&self, _: &str, _: &TokenDigest, _: u64) -> Result<bool, StoreError> {
            self.answer(false)
        }
        async fn rotate(
            &self,
            _: crate::store::refresh::Rotation,
        ) -> Result<crate::store::refresh::RotateOutcome, StoreError> {
            Err(StoreError::Unavailable("down".into()))
        }
        async fn revoke_session(
            &self,
            _: &str,
        ) -> Result<Vec<crate::store::refresh::AccessRef>, StoreError> {
            self.answer(Vec::new())
        }
        async fn revoke_user(
            &self,
            _: &str,
        ) -> Result<Vec<crate::store::refresh::AccessRef>, StoreError> {
            self.answer(Vec::new())
        }
        async fn list_sessions(
            &self,
            _: &str,
            _: u64,
        ) -> Result<Vec<crate::store::refresh::Session>, StoreError> {
            self.answer(Vec::new())
        }
        async fn session(
            &self,
            _: &str,
            _: u64,
        ) -> Result<Option<crate::store::refresh::Session>, StoreError> {
            self.answer(None)
        }
        async fn purge_expired(&self, _: u64) -> Result<u64, StoreError> {
            self.answer(0)
        }
    }

    impl Flaky {
        fn answer<T>(&self, ok: T) -> Result<T, StoreError> {
            if self.down.load(Ordering::SeqCst) {
                return Err(StoreError::Unavailable("down".into()));
            }
            Ok(ok)
        }
    }

    fn settings() -> GuardSettings {
        GuardSettings::default()
            .check_timeout(Duration::from_millis(50))
            .call_timeout(Duration::from_millis(50))
            .probe_interval(Duration::from_millis(20))
    }

    fn check(digest: &TokenDigest) -> RevocationCheck<'_> {
        RevocationCheck {
            digest,
            subject: "alice",
            generation: None,
            issued_at: 0,
        }
    }

    #[tokio::test]
    async fn an_outage_opens_refuses_without_calling_and_a_probe_closes() {
        let flaky = Arc::new(Flaky::default());
        let g = Guarded::revocation(Arc::clone(&flaky), &settings());
        let d = TokenDigest([1; 32]);
        assert_eq!(g.check(&check(&d)).await, Ok(false));
        flaky.down.store(true, Ordering::SeqCst);
        assert!(g.check(&check(&d)).await.is_err());
        assert_eq!(g.state(), BreakerState::Open);
        let before = flaky.calls.load(Ordering::SeqCst);
        // Open: refused synchronously and without reaching the store.
        assert!(matches!(
            g.check_now(&check(&d)),
            Some(Err(StoreError::Unavailable(_)))
        ));
        assert!(g.check(&check(&d)).await.is_err());
        assert_eq!(flaky.calls.load(Ordering::SeqCst), before);
        // Back: the probe closes the breaker by itself.
        flaky.down.store(false, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(g.state(), BreakerState::Closed);
        assert_eq!(g.check_now(&check(&d)), None);
        assert_eq!(g.check(&check(&d)).await, Ok(false));
    }

    #[tokio::test]
    async fn one_handle_as_revocation_and_refresh_store_shares_one_breaker() {
        let flaky = Arc::new(Flaky::default());
        let revocation = Guarded::revocation(Arc::clone(&flaky), &settings());
        let refresh = guard_refresh(
            Some(&revocation.guard),
            Arc::clone(&flaky) as Arc<dyn RefreshStore>,
        );
        flaky.down.store(true, Ordering::SeqCst);
        assert!(refresh.revoke_user("alice").await.is_err());
        // The refresh side's outage opened the revocation checks' breaker.
        assert_eq!(revocation.state(), BreakerState::Open);
        let d = TokenDigest([1; 32]);
        assert!(matches!(
            revocation.check_now(&check(&d)),
            Some(Err(StoreError::Unavailable(_)))
        ));
        flaky.down.store(false, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(revocation.state(), BreakerState::Closed);

        // Another handle of the same kind of store: its own breaker.
        let other = Arc::new(Flaky::default());
        let refresh = guard_refresh(Some(&revocation.guard), other.clone());
        other.down.store(true, Ordering::SeqCst);
        assert!(refresh.revoke_user("alice").await.is_err());
        assert_eq!(revocation.state(), BreakerState::Closed);
    }

    #[tokio::test]
    async fn a_hanging_store_times_out_and_releases_every_waiting_call() {
        let flaky = Arc::new(Flaky::default());
        let g = Arc::new(Guarded::revocation(
            Arc::clone(&flaky),
            &settings().check_timeout(Duration::from_millis(100)),
        ));
        flaky.hang.store(true, Ordering::SeqCst);
        let start = Instant::now();
        let calls: Vec<_> = (0..20)
            .map(|_| {
                let g = Arc::clone(&g);
                tokio::spawn(async move { g.is_revoked(&TokenDigest([2; 32])).await })
            })
            .collect();
        for c in calls {
            assert!(c.await.unwrap().is_err());
        }
        let took = start.elapsed();
        assert!(took < Duration::from_millis(400), "{took:?}");
        assert_eq!(g.in_flight(), 0);
    }

    #[tokio::test]
    async fn calls_beyond_max_in_flight_are_refused_at_once() {
        let flaky = Arc::new(Flaky::default());
        let g = Arc::new(Guarded::revocation(
            Arc::clone(&flaky),
            &settings()
                .check_timeout(Duration::from_secs(5))
                .max_in_flight(2)
                .open_after(100),
        ));
        flaky.hang.store(true, Ordering::SeqCst);
        let waiting: Vec<_> = (0..2)
            .map(|_| {
                let g = Arc::clone(&g);
                tokio::spawn(async move { g.is_revoked(&TokenDigest([3; 32])).await })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(g.in_flight(), 2);
        let start = Instant::now();
        let refused = g.is_revoked(&TokenDigest([3; 32])).await;
        assert!(matches!(refused, Err(StoreError::Unavailable(_))));
        assert!(start.elapsed() < Duration::from_millis(20));
        assert_eq!(g.state(), BreakerState::Closed, "a full guard is no outage");
        for w in waiting {
            w.abort();
        }
    }

    #[async_trait]
    impl ProofReplay for Flaky {
        async fn first_use(&self, _: &ProofId, _: u64) -> Result<bool, StoreError> {
            self.is_revoked(&TokenDigest([0; 32])).await.map(|_| true)
        }

        async fn is_recorded(&self, _: &ProofId) -> Result<bool, StoreError> {
            self.is_revoked(&TokenDigest([0; 32])).await.map(|_| false)
        }
    }

    #[tokio::test]
    async fn a_hanging_replay_cache_is_unavailable_within_the_check_timeout_never_true() {
        let flaky = Arc::new(Flaky::default());
        let g = Guarded::replay(
            Arc::clone(&flaky),
            &settings().check_timeout(Duration::from_millis(80)),
        );
        let id = ProofId([7; 32]);
        assert_eq!(g.first_use(&id, u64::MAX).await, Ok(true));
        flaky.hang.store(true, Ordering::SeqCst);
        let start = Instant::now();
        assert!(matches!(
            g.first_use(&id, u64::MAX).await,
            Err(StoreError::Unavailable(_))
        ));
        assert!(start.elapsed() < Duration::from_millis(400));
        assert_eq!(g.state(), BreakerState::Open);
        let calls = flaky.calls.load(Ordering::SeqCst);
        assert!(matches!(
            g.first_use(&id, u64::MAX).await,
            Err(StoreError::Unavailable(_))
        ));
        assert_eq!(flaky.calls.load(Ordering::SeqCst), calls, "refused unasked");
        flaky.hang.store(false, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(g.state(), BreakerState::Closed, "the probe closed it");
        assert_eq!(g.first_use(&id, u64::MAX).await, Ok(true));
    }

    #[test]
    fn settings_are_checked() {
        assert!(GuardSettings::default().check().is_ok());
        assert!(
            GuardSettings::default()
                .check_timeout(Duration::ZERO)
                .check()
                .is_err()
        );
        assert!(
            GuardSettings::default()
                .probe_interval(Duration::from_secs(61))
                .check()
                .is_err()
        );
        assert_eq!(GuardSettings::default().max_in_flight(0).max_in_flight, 1);
    }
}
