//! A live remote key set (feature `oidc`): fetched in the background, refreshed as its
//! `Cache-Control` says, refetched on an unknown `kid` within a budget
//! ([`RefetchBudget`]), kept through failures.
//!
//! (Documented with examples in the [`trust`](crate::trust) module docs.)

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use arc_swap::ArcSwapOption;
use jsonwebtoken::Algorithm;
use serde::Deserialize;

use crate::token::clock::Clock;
use crate::token::error::InvalidToken;
use crate::trust::external::KeyMiss;
use crate::trust::fetch::{Fetch, FetchError};
use crate::trust::health::{KeySetSource, KeySetState, KeySetStatus};
use crate::trust::issuer::RefreshPolicy;
use crate::trust::keyset::KeySet;
use crate::trust::refetch::{Ask, KidId, RefetchBudget, Refused};

/// How often the key-set gauges are set between fetches (feature `metrics`): a
/// Prometheus scrape interval.
#[cfg(feature = "metrics")]
const GAUGE_INTERVAL: Duration = Duration::from_secs(15);

/// Where the JWKS URL comes from.
#[derive(Debug, Clone)]
pub(crate) enum Locator {
    Jwks(String),
    Discovery,
}

/// Why an issuer's keys cannot be used right now (503).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unavailable {
    /// No fetch has succeeded yet.
    NotReady,
    /// The last good set is older than `max_stale`.
    Stale,
}

#[derive(Debug)]
struct FetchState {
    /// When the last fetch started (any outcome).
    last_attempt: Option<u64>,
    /// How many fetches have started (the number of the last one).
    started: u64,
    /// The number of the last fetch that succeeded.
    fresh_from: u64,
    /// What unknown `kid`s may still cause. Regular refreshes do not draw on it, so a
    /// rotation right after one is still picked up at once.
    budget: RefetchBudget,
    /// When a fetch last succeeded.
    last_success: Option<u64>,
    /// Whether the last fetch failed.
    failing: bool,
    /// When the set is due for its regular refresh.
    next_refresh: u64,
    /// The JWKS URL found by discovery (cleared on failure, so discovery runs again).
    jwks_uri: Option<String>,
    /// Whether the set went stale (past `max_stale`) and the trust epoch was bumped for it.
    stale: bool,
    /// The last failure's fixed name, while failing.
    last_error: Option<&'static str>,
    /// Counts since start, for [`KeySetStatus`].
    fetches_ok: u64,
    fetches_failed: u64,
    refetches_asked: u64,
    refetches_suppressed: u64,
    /// Whether the WARN for verifying with the last good set while fetches fail was
    /// logged (once per failure episode).
    warned_stale_use: bool,
    /// Whether the WARN for the first token refused (503) while fetches fail was logged
    /// (once per failure episode).
    warned_refusal: bool,
}

pub(crate) struct RemoteKeys {
    iss: String,
    locator: Locator,
    allowed: Vec<Algorithm>,
    policy: RefreshPolicy,
    fetcher: Arc<dyn Fetch>,
    clock: Arc<dyn Clock>,
    current: ArcSwapOption<KeySet>,
    /// Bumped on every successful fetch.
    version: AtomicU64,
    state: Mutex<FetchState>,
    /// Held for the duration of a fetch: single flight.
    flight: tokio::sync::Mutex<()>,
    /// The authority-wide trust epoch, bumped when a key disappears.
    epoch: Arc<AtomicU64>,
    background: AtomicBool,
}

impl std::fmt::Debug for RemoteKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteKeys")
            .field("iss", &self.iss)
            .field("locator", &self.locator)
            .finish_non_exhaustive()
    }
}

impl RemoteKeys {
    pub(crate) fn new(
        iss: String,
        locator: Locator,
        allowed: Vec<Algorithm>,
        policy: RefreshPolicy,
        fetcher: Arc<dyn Fetch>,
        clock: Arc<dyn Clock>,
        epoch: Arc<AtomicU64>,
    ) -> Self {
        RemoteKeys {
            iss,
            locator,
            allowed,
            policy,
            fetcher,
            clock,
            current: ArcSwapOption::empty(),
            version: AtomicU64::new(0),
            state: Mutex::new(FetchState {
                last_attempt: None,
                started: 0,
                fresh_from: 0,
                budget: RefetchBudget::new(policy.refetch_interval.as_secs(), policy.refetch_burst),
                last_success: None,
                failing: false,
                next_refresh: 0,
                jwks_uri: None,
                stale: false,
                last_error: None,
                fetches_ok: 0,
                fetches_failed: 0,
                refetches_asked: 0,
                refetches_suppressed: 0,
                warned_stale_use: false,
                warned_refusal: false,
            }),
            flight: tokio::sync::Mutex::new(()),
            epoch,
            background: AtomicBool::new(false),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, FetchState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The set to verify with now, or why there is none. While fetches fail, the first
    /// use of the last good set and the first refusal are each logged once (WARN).
    pub(crate) fn key_set(self: &Arc<Self>) -> Result<Arc<KeySet>, Unavailable> {
        self.ensure_background();
        let current = self.current.load_full();
        let now = self.clock.now();
        let mut st = self.state();
        let Some(set) = current else {
            self.note_refusal(st, "no fetch has succeeded yet");
            return Err(Unavailable::NotReady);
        };
        let last_success = st.last_success.unwrap_or(0);
        let max_stale = self.policy.max_stale.as_secs();
        if self.past_max_stale(last_success, now) {
            self.note_refusal(st, "the last good set is older than max_stale");
            return Err(Unavailable::Stale);
        }
        if st.failing && !st.warned_stale_use {
            st.warned_stale_use = true;
            let error = st.last_error.unwrap_or("unknown");
            drop(st);
            tracing::warn!(
                issuer = %self.iss,
                error,
                age_secs = now.saturating_sub(last_success),
                max_stale_secs = max_stale,
                "verifying with the last good key set while its fetches fail; past max_stale this issuer's tokens get 503"
            );
        }
        Ok(set)
    }

    /// Whether a set fetched at `last_success` is past `max_stale` at `now`: no longer
    /// used (503), cached verdicts voided. What verification, the status and the failure
    /// path all ask.
    fn past_max_stale(&self, last_success: u64, now: u64) -> bool {
        now > last_success.saturating_add(self.policy.max_stale.as_secs())
    }

    /// A token of the issuer is refused with 503: logged once per failure episode (a
    /// refusal before any fetch failed is the start-up wait, not logged).
    fn note_refusal(&self, mut st: std::sync::MutexGuard<'_, FetchState>, why: &'static str) {
        if !st.failing || st.warned_refusal {
            return;
        }
        st.warned_refusal = true;
        let error = st.last_error.unwrap_or("unknown");
        drop(st);
        tracing::warn!(
            issuer = %self.iss,
            error,
            "token of a trusted issuer refused (503): {why}, and fetching its key set fails"
        );
    }

    /// The set's state as data (and, with `metrics`, as gauges).
    pub(crate) fn status(&self) -> KeySetStatus {
        let now = self.clock.now();
        let keys = self.current.load().as_ref().map(|s| s.len());
        let st = self.state();
        let max_stale = self.policy.max_stale.as_secs();
        let age = st.last_success.map(|t| now.saturating_sub(t));
        let state = match (keys, st.last_success) {
            (None, _) | (_, None) => KeySetState::NotReady,
            (Some(_), Some(t)) if self.past_max_stale(t, now) => KeySetState::Expired,
            _ if st.failing => KeySetState::Stale,
            _ => KeySetState::Fresh,
        };
        KeySetStatus {
            issuer: self.iss.clone(),
            source: match self.locator {
                Locator::Jwks(_) => KeySetSource::JwksUrl,
                Locator::Discovery => KeySetSource::Discovery,
            },
            state,
            keys: keys.unwrap_or(0),
            last_success: st.last_success,
            age_secs: age,
            stale_secs: if st.failing { age.unwrap_or(0) } else { 0 },
            max_stale_secs: max_stale,
            last_error: if st.failing { st.last_error } else { None },
            fetches_ok: st.fetches_ok,
            fetches_failed: st.fetches_failed,
            refetches_asked: st.refetches_asked,
            refetches_suppressed: st.refetches_suppressed,
        }
    }

    /// Sets the issuer's gauges from [`status`](Self::status) (feature `metrics`).
    fn publish_gauges(&self) {
        #[cfg(feature = "metrics")]
        {
            let s = self.status();
            let state = match s.state {
                KeySetState::NotReady => 0,
                KeySetState::Stale => 2,
                KeySetState::Expired => 3,
                _ => 1,
            };
            crate::telemetry::key_set_gauges(
                &s.issuer,
                state,
                s.keys,
                s.age_secs,
                s.stale_secs,
                s.max_stale_secs,
                s.last_success,
            );
        }
    }

    /// The version of the current set (changes with every successful fetch).
    pub(crate) fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }

    /// Whether the last fetch failed (the provider is down or answering garbage).
    #[cfg(test)]
    pub(crate) fn is_failing(&self) -> bool {
        self.state().failing
    }

    /// E2 for a token whose `kid` the current set does not hold (its issuer's token, with
    /// a `kid`, and no key of that `kid` under another algorithm):
    ///
    /// * the provider is failing: 503 at once — the token may well be signed by a key we
    ///   cannot fetch yet — and, when the budget allows, a refetch in the background (a
    ///   probe of the provider, single flight);
    /// * else, when the [`RefetchBudget`] lets this `kid` wait for a refetch (one in
    ///   flight, or one it may cause): [`KeyMiss::Refetch`];
    /// * else 401 unknown key, with a rate-limited WARN naming the issuer and 8 hex
    ///   digits of the `kid`'s hash (never the token, never the `kid`).
    pub(crate) fn unknown_kid(self: &Arc<Self>, kid: Option<&str>) -> KeyMiss {
        // Without a kid there is no rotation to pick up: only a lone key matches those.
        let Some(kid) = kid else {
            return KeyMiss::Token(InvalidToken::UnknownKey);
        };
        let id = KidId::of(kid);
        let now = self.clock.now();
        let seen = self.version();
        let in_flight = self.flight.try_lock().is_err();
        let mut st = self.state();
        if st.failing {
            let allowed = st.budget.allows(now);
            let probe = !in_flight && allowed;
            // A probe, or a fetch already in flight, is a refetch asked for; only a
            // budget that denies one suppresses it.
            let asked = Self::count_refetch(&mut st, in_flight || allowed);
            self.note_refusal(st, "its kid is not in the last good set");
            crate::telemetry::key_set_refetch(&self.iss, asked);
            if probe && let Ok(rt) = tokio::runtime::Handle::try_current() {
                let remote = Arc::clone(self);
                rt.spawn(async move { remote.refetch_unknown_kid(seen).await });
            }
            return KeyMiss::Unavailable;
        }
        let (started, fresh_from) = (st.started, st.fresh_from);
        match st.budget.ask(id, now, started, fresh_from, in_flight) {
            Ask::Wait => {
                let asked = Self::count_refetch(&mut st, true);
                drop(st);
                crate::telemetry::key_set_refetch(&self.iss, asked);
                KeyMiss::Refetch(Arc::clone(self), seen)
            }
            Ask::Refuse(why) => {
                // A kid a newer set already lacks is a plain unknown key; only a fetch the
                // budget denied is a suppressed refetch.
                let suppressed =
                    (why == Refused::BudgetSpent).then(|| Self::count_refetch(&mut st, false));
                let warn = st.budget.warn_due(now);
                drop(st);
                if let Some(outcome) = suppressed {
                    crate::telemetry::key_set_refetch(&self.iss, outcome);
                }
                if let Some(suppressed) = warn {
                    tracing::warn!(
                        issuer = %self.iss,
                        kid_hash = %id.short(),
                        kid_len = kid.len(),
                        reason = why.as_str(),
                        suppressed,
                        "token of a trusted issuer refused: its kid is not in the key set"
                    );
                }
                KeyMiss::Token(InvalidToken::UnknownKey)
            }
        }
    }

    /// Counts an unknown `kid`'s ask (a refetch waited for, or a probe) or its
    /// suppression; returns the metric's outcome, recorded once the lock is released.
    fn count_refetch(st: &mut FetchState, asked: bool) -> &'static str {
        if asked {
            st.refetches_asked += 1;
            "asked"
        } else {
            st.refetches_suppressed += 1;
            "suppressed"
        }
    }

    /// One refetch for an unknown `kid` seen with the set of version `seen`: waits for a
    /// fetch in flight instead of starting another, and fetches only when no newer set
    /// arrived meanwhile and the budget holds a fetch (which it takes).
    pub(crate) async fn refetch_unknown_kid(&self, seen: u64) {
        let _flight = self.flight.lock().await;
        if self.version() != seen {
            return;
        }
        let now = self.clock.now();
        if !self.state().budget.take(now) {
            return;
        }
        let _ = self.fetch_now().await;
    }

    /// Fetches now (callers hold `flight`, except the first fetch of a test). Keeps the
    /// last good set on any failure; a successful fetch replaces it, even by an empty
    /// set (the provider withdrew its keys), bumping the trust epoch when a key is gone.
    pub(crate) async fn fetch_now(&self) -> Result<usize, FetchError> {
        let now = self.clock.now();
        let number = {
            let mut st = self.state();
            st.last_attempt = Some(now);
            st.started += 1;
            st.started
        };
        match self.fetch_set().await {
            Ok((set, max_age)) => {
                let n = set.len();
                let next = Arc::new(set);
                let old = self.current.swap(Some(Arc::clone(&next)));
                if old.is_some_and(|old| !old.is_kept_by(&next)) {
                    self.epoch.fetch_add(1, Ordering::AcqRel);
                }
                self.version.fetch_add(1, Ordering::AcqRel);
                let p = &self.policy;
                // Refreshed well before it would expire (half of max_stale at most), so a
                // max_stale shorter than the refresh interval never refuses a healthy
                // provider's tokens.
                let refresh = max_age
                    .unwrap_or(p.default_refresh)
                    .clamp(p.min_refresh, p.max_refresh)
                    .min(p.max_stale / 2);
                let mut st = self.state();
                st.fresh_from = st.fresh_from.max(number);
                st.last_success = Some(now);
                st.failing = false;
                st.stale = false;
                st.last_error = None;
                st.fetches_ok += 1;
                let recovered = std::mem::take(&mut st.warned_stale_use)
                    | std::mem::take(&mut st.warned_refusal);
                st.next_refresh = now.saturating_add(refresh.as_secs());
                drop(st);
                if recovered {
                    tracing::info!(issuer = %self.iss, keys = n, "key set fetched again after failures");
                }
                crate::telemetry::key_set_fetch(&self.iss, "ok");
                self.publish_gauges();
                if n == 0 {
                    tracing::warn!(issuer = %self.iss, "key set fetched without a usable key: this issuer's tokens are refused (401) until it publishes one");
                }
                tracing::debug!(issuer = %self.iss, keys = n, refresh_secs = refresh.as_secs(), "key set fetched");
                Ok(n)
            }
            Err(e) => {
                let mut st = self.state();
                st.failing = true;
                st.jwks_uri = None;
                st.last_error = Some(e.name());
                st.fetches_failed += 1;
                // Past max_stale, cached verdicts made with this set must go too: the
                // layers' caches would otherwise keep accepting what it verified.
                if !st.stale && st.last_success.is_some_and(|t| self.past_max_stale(t, now)) {
                    st.stale = true;
                    self.epoch.fetch_add(1, Ordering::AcqRel);
                }
                drop(st);
                tracing::warn!(issuer = %self.iss, error = %e, "key set fetch failed; keeping the last good set");
                crate::telemetry::key_set_fetch(&self.iss, e.name());
                self.publish_gauges();
                Err(e)
            }
        }
    }

    async fn fetch_set(&self) -> Result<(KeySet, Option<Duration>), FetchError> {
        let jwks_uri = match &self.locator {
            Locator::Jwks(url) => url.clone(),
            Locator::Discovery => {
                let known = self.state().jwks_uri.clone();
                match known {
                    Some(u) => u,
                    None => {
                        let u = self.discover().await?;
                        self.state().jwks_uri = Some(u.clone());
                        u
                    }
                }
            }
        };
        let doc = self.fetcher.get(&jwks_uri).await?;
        // A JWKS document is the provider's whole word on its keys: one without a usable
        // key (`{"keys":[]}`, or only keys we never trust) withdraws every key. Only a
        // failed fetch (transport, status, not a JWKS) keeps the last good set.
        let set = KeySet::from_jwks(&doc.body, &self.allowed).map_err(FetchError::Jwks)?;
        Ok((set, doc.max_age))
    }

    /// OIDC discovery: the document's `issuer` must be exactly ours.
    async fn discover(&self) -> Result<String, FetchError> {
        #[derive(Deserialize)]
        struct Discovery {
            issuer: String,
            jwks_uri: String,
        }
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.iss.trim_end_matches('/')
        );
        let doc = self.fetcher.get(&url).await?;
        let d: Discovery = serde_json::from_slice(&doc.body)
            .map_err(|_| FetchError::Discovery("not an OpenID configuration"))?;
        if d.issuer != self.iss {
            return Err(FetchError::Discovery(
                "its issuer is not the configured one",
            ));
        }
        crate::trust::fetch::check_url(&d.jwks_uri).map_err(|_| FetchError::InsecureUrl)?;
        Ok(d.jwks_uri)
    }

    /// How long the background task sleeps before its next fetch.
    fn next_delay(&self) -> Duration {
        let st = self.state();
        if st.last_success.is_none() || st.failing {
            return if st.last_attempt.is_none() {
                Duration::ZERO
            } else {
                self.policy.retry_interval
            };
        }
        Duration::from_secs(st.next_refresh.saturating_sub(self.clock.now()))
    }

    /// Starts the background refresh once, when a Tokio runtime is at hand. The task
    /// holds only a weak reference: it ends when the authority is dropped.
    pub(crate) fn ensure_background(self: &Arc<Self>) {
        if self.background.load(Ordering::Relaxed) {
            return;
        }
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if self.background.swap(true, Ordering::AcqRel) {
            return;
        }
        let weak: Weak<Self> = Arc::downgrade(self);
        rt.spawn(async move {
            loop {
                let delay = match weak.upgrade() {
                    Some(me) => me.next_delay(),
                    None => return,
                };
                tokio::time::sleep(delay.max(Duration::from_millis(10))).await;
                let Some(me) = weak.upgrade() else { return };
                let _flight = me.flight.lock().await;
                // Someone else (await_ready, an unknown kid) may have fetched meanwhile.
                if me.next_delay().is_zero() || me.state().failing {
                    let _ = me.fetch_now().await;
                }
            }
        });
        // The age gauges move with time, not only with fetches (which may be an hour
        // apart): they are set again every GAUGE_INTERVAL.
        #[cfg(feature = "metrics")]
        {
            let weak: Weak<Self> = Arc::downgrade(self);
            rt.spawn(async move {
                let mut tick = tokio::time::interval(GAUGE_INTERVAL);
                loop {
                    tick.tick().await;
                    let Some(me) = weak.upgrade() else { return };
                    me.publish_gauges();
                }
            });
        }
    }

    /// Waits until a set is usable (fetching when none is in flight), or `deadline`.
    pub(crate) async fn await_ready(self: &Arc<Self>, timeout: Duration) -> bool {
        self.ensure_background();
        let start = tokio::time::Instant::now();
        loop {
            if self.key_set().is_ok() {
                return true;
            }
            if start.elapsed() >= timeout {
                return false;
            }
            {
                let _flight = self.flight.lock().await;
                if self.key_set().is_err() {
                    let _ = self.fetch_now().await;
                }
            }
            if self.key_set().is_ok() {
                return true;
            }
            tokio::time::sleep(self.policy.retry_interval.min(Duration::from_millis(200))).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;
    use std::sync::atomic::AtomicU64;

    use async_trait::async_trait;

    use crate::token::keys::Key;
    use crate::trust::fetch::Fetched;

    /// A clock the test moves.
    #[derive(Clone, Default)]
    struct TestClock(Arc<AtomicU64>);
    impl Clock for TestClock {
        fn now(&self) -> u64 {
            self.0.load(Ordering::SeqCst)
        }
    }
    impl TestClock {
        fn advance(&self, secs: u64) {
            self.0.fetch_add(secs, Ordering::SeqCst);
        }
    }

    /// Answers from a script; counts requests per URL.
    #[derive(Default)]
    struct Script {
        answers: Mutex<VecDeque<Result<Fetched, FetchError>>>,
        /// Answered once the scripted answers are used up (else a 500).
        published: Mutex<Option<Vec<&'static str>>>,
        requests: Mutex<Vec<String>>,
        delay: Option<Duration>,
    }
    impl Script {
        fn push(&self, a: Result<Fetched, FetchError>) {
            self.answers.lock().unwrap().push_back(a);
        }
        /// The provider publishes these kids from now on.
        fn publish(&self, kids: &[&'static str]) {
            *self.published.lock().unwrap() = Some(kids.to_vec());
        }
        fn count(&self) -> usize {
            self.requests.lock().unwrap().len()
        }
    }
    #[async_trait]
    impl Fetch for Arc<Script> {
        async fn get(&self, url: &str) -> Result<Fetched, FetchError> {
            self.requests.lock().unwrap().push(url.to_owned());
            if let Some(d) = self.delay {
                tokio::time::sleep(d).await;
            }
            let scripted = self.answers.lock().unwrap().pop_front();
            scripted.unwrap_or_else(|| match &*self.published.lock().unwrap() {
                Some(kids) => jwks(kids, None),
                None => Err(FetchError::Status(500)),
            })
        }
    }

    fn jwks(kids: &[&str], max_age: Option<u64>) -> Result<Fetched, FetchError> {
        let key = Key::from_pem(
            Algorithm::RS256,
            include_str!("../../tests/fixtures/rsa2048_public.pem"),
        )
        .unwrap();
        let keys: Vec<_> = kids
            .iter()
            .map(|k| key.clone().with_kid(*k).public_jwk().unwrap())
            .collect();
        Ok(Fetched {
            body: serde_json::to_vec(&serde_json::json!({ "keys": keys })).unwrap(),
            max_age: max_age.map(Duration::from_secs),
        })
    }

    /// The default refetch budget (3 at once, then one per 4 s).
    fn policy() -> RefreshPolicy {
        RefreshPolicy {
            max_stale: Duration::from_secs(3600),
            ..RefreshPolicy::default()
        }
    }

    fn remote(script: &Arc<Script>, clock: &TestClock, locator: Locator) -> Arc<RemoteKeys> {
        Arc::new(RemoteKeys::new(
            "https://idp.example".into(),
            locator,
            vec![Algorithm::RS256],
            policy(),
            Arc::new(Arc::clone(script)),
            Arc::new(clock.clone()),
            Arc::new(AtomicU64::new(0)),
        ))
    }

    fn jwks_locator() -> Locator {
        Locator::Jwks("https://idp.example/jwks".into())
    }

    #[tokio::test]
    async fn not_ready_until_the_first_success_then_fresh() {
        let (script, clock) = (Arc::new(Script::default()), TestClock::default());
        clock.advance(1_000);
        let r = remote(&script, &clock, jwks_locator());
        r.background.store(true, Ordering::SeqCst); // no background task in this test
        assert_eq!(r.key_set().unwrap_err(), Unavailable::NotReady);
        script.push(Err(FetchError::Status(503)));
        assert!(r.fetch_now().await.is_err());
        assert_eq!(r.key_set().unwrap_err(), Unavailable::NotReady);
        script.push(jwks(&["a"], Some(120)));
        assert_eq!(r.fetch_now().await.unwrap(), 1);
        assert!(r.key_set().unwrap().has_kid("a"));
        assert_eq!(r.state().next_refresh, 1_120, "max-age honoured");
    }

    #[tokio::test]
    async fn max_age_is_clamped_to_the_bounds() {
        let (script, clock) = (Arc::new(Script::default()), TestClock::default());
        let r = remote(&script, &clock, jwks_locator());
        script.push(jwks(&["a"], Some(1)));
        r.fetch_now().await.unwrap();
        assert_eq!(r.state().next_refresh, 60, "raised to min_refresh");
        script.push(jwks(&["a"], Some(1_000_000)));
        r.fetch_now().await.unwrap();
        assert_eq!(
            r.state().next_refresh,
            1800,
            "lowered to max_refresh (3600), then to half of max_stale (3600)"
        );
        script.push(jwks(&["a"], None));
        r.fetch_now().await.unwrap();
        assert_eq!(r.state().next_refresh, 600, "the default without max-age");
    }

    #[tokio::test]
    async fn a_max_stale_shorter_than_the_refresh_interval_is_refreshed_before_it_expires() {
        let (script, clock) = (Arc::new(Script::default()), TestClock::default());
        let r = Arc::new(RemoteKeys::new(
            "https://idp.example".into(),
            jwks_locator(),
            vec![Algorithm::RS256],
            RefreshPolicy {
                max_stale: Duration::from_secs(1800),
                ..RefreshPolicy::default()
            },
            Arc::new(Arc::clone(&script)),
            Arc::new(clock.clone()),
            Arc::new(AtomicU64::new(0)),
        ));
        r.background.store(true, Ordering::SeqCst);
        script.push(jwks(&["a"], Some(3600)));
        r.fetch_now().await.unwrap();
        // Before: refreshed after an hour, so from 30 min on a healthy provider's tokens got
        // 503 (Expired, with no failure to show for it).
        assert_eq!(r.state().next_refresh, 900, "half of max_stale");
        clock.advance(900);
        assert_eq!(r.status().state, KeySetState::Fresh);
    }

    #[tokio::test]
    async fn a_failed_fetch_keeps_the_last_good_set_until_max_stale() {
        let (script, clock) = (Arc::new(Script::default()), TestClock::default());
        let r = remote(&script, &clock, jwks_locator());
        r.background.store(true, Ordering::SeqCst);
        script.push(jwks(&["a"], None));
        r.fetch_now().await.unwrap();
        clock.advance(3_000);
        script.push(Err(FetchError::Timeout));
        assert!(r.fetch_now().await.is_err());
        assert!(r.key_set().unwrap().has_kid("a"), "stale while error");
        clock.advance(601);
        assert_eq!(
            r.key_set().unwrap_err(),
            Unavailable::Stale,
            "past max_stale: 503"
        );
        assert_eq!(r.epoch.load(Ordering::SeqCst), 0);
        script.push(Err(FetchError::Timeout));
        assert!(r.fetch_now().await.is_err());
        assert_eq!(
            r.epoch.load(Ordering::SeqCst),
            1,
            "going stale voids cached verdicts (once)"
        );
        assert!(r.fetch_now().await.is_err());
        assert_eq!(r.epoch.load(Ordering::SeqCst), 1);
        script.push(jwks(&["a"], None));
        r.fetch_now().await.unwrap();
        assert!(r.key_set().is_ok(), "recovers on the next success");
    }

    /// What verification does with a token of `kid` (E1–E2): the key is in the set, or
    /// the miss goes to `unknown_kid`; a refetch is waited for, then the set is looked
    /// at once more (and a miss asked about again, as the verifier does).
    async fn present(r: &Arc<RemoteKeys>, kid: &str) -> &'static str {
        let found = |r: &Arc<RemoteKeys>| r.key_set().is_ok_and(|s| s.has_kid(kid));
        if found(r) {
            return "200";
        }
        match r.unknown_kid(Some(kid)) {
            KeyMiss::Refetch(remote, seen) => {
                remote.refetch_unknown_kid(seen).await;
                if found(r) {
                    "200"
                } else if let KeyMiss::Unavailable = r.unknown_kid(Some(kid)) {
                    "503"
                } else {
                    "401"
                }
            }
            KeyMiss::Unavailable => "503",
            KeyMiss::Token(_) => "401",
        }
    }

    /// A remote set fetched once (publishing `a`), clock at 1000, no background task.
    async fn fetched(script: &Arc<Script>, clock: &TestClock) -> Arc<RemoteKeys> {
        clock.advance(1_000);
        let r = remote(script, clock, jwks_locator());
        r.background.store(true, Ordering::SeqCst);
        script.publish(&["a"]);
        r.fetch_now().await.unwrap();
        assert_eq!(script.count(), 1);
        r
    }

    #[tokio::test]
    async fn a_random_kid_flood_costs_the_burst_then_one_fetch_per_interval() {
        let (script, clock) = (Arc::new(Script::default()), TestClock::default());
        let r = fetched(&script, &clock).await;
        // 1,020 random kids over 60 s.
        for second in 0..60 {
            for i in 0..17 {
                assert_eq!(present(&r, &format!("random-{second}-{i}")).await, "401");
            }
            clock.advance(1);
        }
        let fetches = script.count() - 1;
        assert_eq!(fetches, 3 + 14, "3 at once, then one at 4, 8, ..., 56 s");
        assert_eq!(present(&r, "a").await, "200", "the real key meanwhile");
    }

    #[tokio::test]
    async fn one_forged_kid_does_not_delay_a_rotation() {
        let (script, clock) = (Arc::new(Script::default()), TestClock::default());
        let r = fetched(&script, &clock).await;
        assert_eq!(present(&r, "random").await, "401");
        assert_eq!(script.count(), 2, "the forged kid did cause a fetch");
        // The provider rotates the same second: the new kid is picked up at once.
        script.publish(&["b", "a"]);
        assert_eq!(present(&r, "b").await, "200");
        assert_eq!(script.count(), 3);
    }

    #[tokio::test]
    async fn a_rotation_right_after_a_flood_is_picked_up_within_the_interval() {
        let (script, clock) = (Arc::new(Script::default()), TestClock::default());
        let r = fetched(&script, &clock).await;
        for i in 0..50 {
            assert_eq!(present(&r, &format!("random-{i}")).await, "401");
        }
        assert_eq!(script.count(), 1 + 3, "the flood spent the burst");
        script.publish(&["b", "a"]);
        // The flood goes on and gets the next fetch before any token of the new key:
        // that fetch brings the new key in all the same.
        let mut waited = 0;
        loop {
            for i in 0..17 {
                assert_eq!(present(&r, &format!("random-{waited}-{i}")).await, "401");
            }
            if present(&r, "b").await == "200" {
                break;
            }
            clock.advance(1);
            waited += 1;
            assert!(waited <= 4, "not picked up within refetch_interval");
        }
        assert_eq!(waited, 4, "right after the flood: one interval");
        assert_eq!(script.count(), 1 + 3 + 1);
    }

    #[tokio::test]
    async fn the_same_unknown_kid_causes_one_fetch_per_kid_retry() {
        let (script, clock) = (Arc::new(Script::default()), TestClock::default());
        let r = fetched(&script, &clock).await;
        // A replayed forgery (or a stale token retried) every 100 ms for 29 s.
        for _ in 0..29 {
            for _ in 0..10 {
                assert_eq!(present(&r, "stale").await, "401");
            }
            clock.advance(1);
        }
        assert_eq!(script.count(), 2, "one fetch for that kid");
        // It left the budget whole: a rotation now is picked up at once.
        script.publish(&["b", "a"]);
        assert_eq!(present(&r, "b").await, "200");
        assert_eq!(script.count(), 3);
        clock.advance(1);
        assert_eq!(present(&r, "stale").await, "401");
        assert_eq!(script.count(), 4, "after 30 s it may cause one more");
    }

    #[tokio::test]
    async fn concurrent_unknown_kids_share_one_fetch() {
        let script = Arc::new(Script {
            delay: Some(Duration::from_millis(50)),
            ..Script::default()
        });
        let clock = TestClock::default();
        let r = fetched(&script, &clock).await;
        let all = |kids: Vec<String>| {
            let r = Arc::clone(&r);
            async move {
                let waits: Vec<_> = kids
                    .into_iter()
                    .map(|kid| {
                        let r = Arc::clone(&r);
                        tokio::spawn(async move { present(&r, &kid).await })
                    })
                    .collect();
                let mut answers = Vec::new();
                for w in waits {
                    answers.push(w.await.unwrap());
                }
                answers
            }
        };
        // A rotation: 32 requests with the new kid at once.
        script.publish(&["a", "b"]);
        let answers = all(vec!["b".to_owned(); 32]).await;
        assert!(answers.iter().all(|a| *a == "200"), "{answers:?}");
        assert_eq!(script.count(), 2, "single flight");
        // A flood: 32 distinct random kids at once.
        let answers = all((0..32).map(|i| format!("random-{i}")).collect()).await;
        assert!(answers.iter().all(|a| *a == "401"), "{answers:?}");
        assert_eq!(script.count(), 3, "single flight");
    }

    #[tokio::test]
    async fn an_unknown_kid_while_the_provider_fails_is_503_and_probes_within_the_budget() {
        let (script, clock) = (Arc::new(Script::default()), TestClock::default());
        let r = fetched(&script, &clock).await;
        *script.published.lock().unwrap() = None; // down: 500s from now on
        assert!(r.fetch_now().await.is_err());
        for i in 0..100 {
            assert_eq!(present(&r, &format!("k-{i}")).await, "503");
            tokio::task::yield_now().await;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert_eq!(script.count(), 2 + 3, "probes: the burst, no more");
    }

    /// Log lines (WARN and above... INFO included) written while the guard lives.
    #[derive(Clone, Default)]
    struct Logs(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Logs {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    impl Logs {
        fn capture(level: tracing::Level) -> (Self, tracing::subscriber::DefaultGuard) {
            let logs = Logs::default();
            let out = logs.clone();
            let subscriber = tracing_subscriber::fmt()
                .with_writer(move || out.clone())
                .with_ansi(false)
                .with_max_level(level)
                .finish();
            (logs, tracing::subscriber::set_default(subscriber))
        }
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
        fn count(&self, needle: &str) -> usize {
            self.text().lines().filter(|l| l.contains(needle)).count()
        }
    }

    #[tokio::test]
    async fn refusals_are_warned_rate_limited_without_the_kid() {
        let (buf, _guard) = Logs::capture(tracing::Level::WARN);
        let (script, clock) = (Arc::new(Script::default()), TestClock::default());
        let r = fetched(&script, &clock).await;
        for i in 0..200 {
            assert_eq!(present(&r, &format!("flood-kid-{i}")).await, "401");
        }
        clock.advance(10);
        assert_eq!(present(&r, "flood-kid-0").await, "401");
        let logs = buf.text();
        let warnings: Vec<_> = logs.lines().filter(|l| l.contains("refused")).collect();
        assert_eq!(warnings.len(), 2, "{logs}");
        assert!(warnings[0].contains("issuer=https://idp.example"), "{logs}");
        assert!(warnings[0].contains("kid_hash="), "{logs}");
        assert!(warnings[1].contains("suppressed="), "{logs}");
        assert!(
            !logs.contains("flood-kid"),
            "the kid itself is never logged: {logs}"
        );
    }

    #[tokio::test]
    async fn a_dropped_key_bumps_the_trust_epoch() {
        let (script, clock) = (Arc::new(Script::default()), TestClock::default());
        let r = remote(&script, &clock, jwks_locator());
        script.push(jwks(&["a"], None));
        script.push(jwks(&["a", "b"], None));
        script.push(jwks(&["b"], None));
        r.fetch_now().await.unwrap();
        r.fetch_now().await.unwrap();
        assert_eq!(
            r.epoch.load(Ordering::SeqCst),
            0,
            "adding a key keeps old verdicts"
        );
        r.fetch_now().await.unwrap();
        assert_eq!(r.epoch.load(Ordering::SeqCst), 1, "retiring one does not");
    }

    #[tokio::test]
    async fn discovery_refuses_a_document_of_another_issuer() {
        let (script, clock) = (Arc::new(Script::default()), TestClock::default());
        let r = remote(&script, &clock, Locator::Discovery);
        let doc = |iss: &str| {
            Ok(Fetched {
                body: format!(r#"{{"issuer":"{iss}","jwks_uri":"https://idp.example/certs"}}"#)
                    .into_bytes(),
                max_age: None,
            })
        };
        script.push(doc("https://evil.example"));
        assert!(matches!(r.fetch_now().await, Err(FetchError::Discovery(_))));
        script.push(doc("https://idp.example"));
        script.push(jwks(&["a"], None));
        r.fetch_now().await.unwrap();
        let urls = script.requests.lock().unwrap().clone();
        assert_eq!(
            urls,
            [
                "https://idp.example/.well-known/openid-configuration",
                "https://idp.example/.well-known/openid-configuration",
                "https://idp.example/certs"
            ]
        );
        // A discovery document pointing at plain http elsewhere is refused.
        let r = remote(&script, &clock, Locator::Discovery);
        script.push(Ok(Fetched {
            body: br#"{"issuer":"https://idp.example","jwks_uri":"http://idp.example/certs"}"#
                .to_vec(),
            max_age: None,
        }));
        assert_eq!(r.fetch_now().await.unwrap_err(), FetchError::InsecureUrl);
    }

    #[tokio::test]
    async fn an_emptied_set_removes_trust_and_voids_cached_verdicts() {
        let (script, clock) = (Arc::new(Script::default()), TestClock::default());
        let r = remote(&script, &clock, jwks_locator());
        r.background.store(true, Ordering::SeqCst);
        script.push(jwks(&["a"], None));
        r.fetch_now().await.unwrap();
        // The provider withdrew every key: a successful fetch, not an outage.
        script.push(Ok(Fetched {
            body: br#"{"keys":[]}"#.to_vec(),
            max_age: None,
        }));
        assert_eq!(r.fetch_now().await.unwrap(), 0);
        let set = r.key_set().expect("a usable (empty) set, not 503");
        assert!(!set.has_kid("a"), "a withdrawn key no longer verifies");
        assert!(!r.is_failing());
        assert_eq!(r.epoch.load(Ordering::SeqCst), 1, "cached verdicts die");
        // A set of keys none of which is usable (here: only a shared secret) is the same.
        script.push(jwks(&["a"], None));
        r.fetch_now().await.unwrap();
        script.push(Ok(Fetched {
            body:
                br#"{"keys":[{"kty":"oct","kid":"h","k":"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0"}]}"#
                    .to_vec(),
            max_age: None,
        }));
        assert_eq!(r.fetch_now().await.unwrap(), 0);
        assert!(!r.key_set().unwrap().has_kid("a"));
        assert_eq!(r.epoch.load(Ordering::SeqCst), 2);
        // Only a failed fetch (not a JWKS at all, an error status) keeps the last good set.
        script.push(jwks(&["b"], None));
        r.fetch_now().await.unwrap();
        script.push(Ok(Fetched {
            body: b"<html>maintenance</html>".to_vec(),
            max_age: None,
        }));
        assert!(r.fetch_now().await.is_err());
        assert!(r.key_set().unwrap().has_kid("b"));
    }
    #[tokio::test]
    async fn the_status_follows_the_set_through_an_outage() {
        let (script, clock) = (Arc::new(Script::default()), TestClock::default());
        clock.advance(1_000);
        let r = remote(&script, &clock, jwks_locator());
        r.background.store(true, Ordering::SeqCst);
        let s = r.status();
        assert_eq!(
            (s.state, s.keys, s.age_secs),
            (KeySetState::NotReady, 0, None)
        );
        assert_eq!(s.source, KeySetSource::JwksUrl);
        assert_eq!(s.max_stale_secs, 3600);
        script.push(Err(FetchError::Timeout));
        assert!(r.fetch_now().await.is_err());
        let s = r.status();
        assert_eq!(
            (s.state, s.last_error, s.fetches_failed),
            (KeySetState::NotReady, Some("timeout"), 1)
        );
        script.push(jwks(&["a", "b"], None));
        r.fetch_now().await.unwrap();
        clock.advance(30);
        let s = r.status();
        assert_eq!(s.state, KeySetState::Fresh);
        assert_eq!(
            (s.keys, s.last_success, s.age_secs),
            (2, Some(1_000), Some(30))
        );
        assert_eq!((s.stale_secs, s.last_error, s.fetches_ok), (0, None, 1));
        // The provider fails: the set is served stale, its staleness counted against max_stale.
        script.push(Err(FetchError::Status(502)));
        assert!(r.fetch_now().await.is_err());
        clock.advance(600);
        let s = r.status();
        assert_eq!(s.state, KeySetState::Stale);
        assert!(s.state.is_serving());
        assert_eq!((s.stale_secs, s.last_error), (630, Some("status")));
        assert_eq!((s.fetches_ok, s.fetches_failed), (1, 2));
        clock.advance(3_000);
        let s = r.status();
        assert_eq!((s.state, s.stale_secs), (KeySetState::Expired, 3_630));
        assert!(!s.state.is_serving());
        assert_eq!(
            r.key_set().unwrap_err(),
            Unavailable::Stale,
            "the status says what verification does"
        );
        // Recovery.
        script.push(jwks(&["b"], Some(120)));
        r.fetch_now().await.unwrap();
        let s = r.status();
        assert_eq!(
            (s.state, s.keys, s.stale_secs, s.age_secs),
            (KeySetState::Fresh, 1, 0, Some(0))
        );
        assert_eq!(s.last_error, None);
        // JSON for a health endpoint: fixed names.
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["state"], "fresh");
        assert_eq!(json["source"], "jwks_url");
        assert_eq!(json["issuer"], "https://idp.example");
    }

    #[tokio::test]
    async fn unknown_kids_are_counted_as_asked_or_suppressed() {
        let (script, clock) = (Arc::new(Script::default()), TestClock::default());
        let r = fetched(&script, &clock).await;
        for i in 0..10 {
            assert_eq!(present(&r, &format!("random-{i}")).await, "401");
        }
        let s = r.status();
        assert_eq!(
            (s.refetches_asked, s.refetches_suppressed),
            (3, 7),
            "the burst is asked for, the rest suppressed"
        );
        assert_eq!(s.fetches_ok, 1 + 3);
    }

    #[tokio::test]
    async fn an_outage_is_warned_once_when_stale_use_begins_and_once_at_the_first_refusal() {
        let (logs, _guard) = Logs::capture(tracing::Level::INFO);
        let (script, clock) = (Arc::new(Script::default()), TestClock::default());
        let r = remote(&script, &clock, jwks_locator());
        r.background.store(true, Ordering::SeqCst);
        // Not ready before any fetch failed: the start-up wait is not warned.
        assert!(r.key_set().is_err());
        script.push(jwks(&["a"], None));
        r.fetch_now().await.unwrap();
        for _ in 0..3 {
            assert!(r.key_set().is_ok());
        }
        assert_eq!(
            logs.count("last good key set"),
            0,
            "healthy: {}",
            logs.text()
        );
        // The provider breaks: the first token verified with the stale set is warned, once.
        script.push(Err(FetchError::Timeout));
        assert!(r.fetch_now().await.is_err());
        for _ in 0..5 {
            assert!(r.key_set().is_ok());
        }
        assert_eq!(
            logs.count("verifying with the last good key set"),
            1,
            "{}",
            logs.text()
        );
        assert!(
            logs.text().contains("error=\"timeout\"") || logs.text().contains("error=timeout"),
            "{}",
            logs.text()
        );
        // An unknown kid while failing is a 503: warned once however many come.
        for i in 0..5 {
            assert_eq!(present(&r, &format!("k-{i}")).await, "503");
        }
        // Past max_stale: refused, and no second refusal warning in this episode.
        clock.advance(3_601);
        for _ in 0..5 {
            assert_eq!(r.key_set().unwrap_err(), Unavailable::Stale);
        }
        assert_eq!(logs.count("refused (503)"), 1, "{}", logs.text());
        // Recovery ends the episode (INFO), and the next outage is warned again.
        script.push(jwks(&["a"], None));
        r.fetch_now().await.unwrap();
        assert_eq!(
            logs.count("fetched again after failures"),
            1,
            "{}",
            logs.text()
        );
        script.push(Err(FetchError::Timeout));
        assert!(r.fetch_now().await.is_err());
        assert!(r.key_set().is_ok());
        assert_eq!(
            logs.count("verifying with the last good key set"),
            2,
            "{}",
            logs.text()
        );
    }
}
