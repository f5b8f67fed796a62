//! A live remote key set (feature `oidc`): fetched in the background, refreshed as its
//! `Cache-Control` says, refetched once on an unknown `kid`, kept through failures.
//!
//! (Documented with examples in the [`trust`](crate::trust) module docs.)

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use arc_swap::ArcSwapOption;
use jsonwebtoken::Algorithm;
use serde::Deserialize;

use crate::token::clock::Clock;
use crate::trust::fetch::{Fetch, FetchError};
use crate::trust::issuer::RefreshPolicy;
use crate::trust::keyset::KeySet;

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

#[derive(Debug, Default)]
struct FetchState {
    /// When the last fetch started (any outcome).
    last_attempt: Option<u64>,
    /// When the last fetch caused by an unknown `kid` started: the rate limit. Regular
    /// refreshes do not count, so a rotation right after one is still picked up at once.
    last_refetch: Option<u64>,
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
            state: Mutex::new(FetchState::default()),
            flight: tokio::sync::Mutex::new(()),
            epoch,
            background: AtomicBool::new(false),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, FetchState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The set to verify with now, or why there is none.
    pub(crate) fn key_set(self: &Arc<Self>) -> Result<Arc<KeySet>, Unavailable> {
        self.ensure_background();
        let set = self.current.load_full().ok_or(Unavailable::NotReady)?;
        let last_success = self.state().last_success.unwrap_or(0);
        let max_stale = self.policy.max_stale.as_secs();
        if self.clock.now() > last_success.saturating_add(max_stale) {
            return Err(Unavailable::Stale);
        }
        Ok(set)
    }

    /// The version of the current set (changes with every successful fetch).
    pub(crate) fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }

    /// Whether the last fetch failed (the provider is down or answering garbage).
    pub(crate) fn is_failing(&self) -> bool {
        self.state().failing
    }

    /// Whether a token with an unknown `kid` may cause a fetch now (the rate limit).
    pub(crate) fn may_refetch(&self) -> bool {
        let now = self.clock.now();
        self.state()
            .last_refetch
            .is_none_or(|t| now >= t.saturating_add(self.policy.refetch_interval.as_secs()))
    }

    /// One refetch for an unknown `kid` seen with the set of version `seen`: waits for a
    /// fetch in flight instead of starting another, and fetches only when no newer set
    /// arrived meanwhile and the rate limit allows.
    pub(crate) async fn refetch_unknown_kid(&self, seen: u64) {
        let _flight = self.flight.lock().await;
        if self.version() != seen || !self.may_refetch() {
            return;
        }
        self.state().last_refetch = Some(self.clock.now());
        let _ = self.fetch_now().await;
    }

    /// Fetches now (callers hold `flight`, except the first fetch of a test). Keeps the
    /// last good set on any failure; a successful fetch replaces it, even by an empty
    /// set (the provider withdrew its keys), bumping the trust epoch when a key is gone.
    pub(crate) async fn fetch_now(&self) -> Result<usize, FetchError> {
        let now = self.clock.now();
        self.state().last_attempt = Some(now);
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
                let refresh = max_age
                    .unwrap_or(p.default_refresh)
                    .clamp(p.min_refresh, p.max_refresh);
                let mut st = self.state();
                st.last_success = Some(now);
                st.failing = false;
                st.stale = false;
                st.next_refresh = now.saturating_add(refresh.as_secs());
                drop(st);
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
                // Past max_stale, cached verdicts made with this set must go too: the
                // layers' caches would otherwise keep accepting what it verified.
                let max_stale = self.policy.max_stale.as_secs();
                if !st.stale
                    && st
                        .last_success
                        .is_some_and(|t| now > t.saturating_add(max_stale))
                {
                    st.stale = true;
                    self.epoch.fetch_add(1, Ordering::AcqRel);
                }
                drop(st);
                tracing::warn!(issuer = %self.iss, error = %e, "key set fetch failed; keeping the last good set");
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
        requests: Mutex<Vec<String>>,
        delay: Option<Duration>,
    }
    impl Script {
        fn push(&self, a: Result<Fetched, FetchError>) {
            self.answers.lock().unwrap().push_back(a);
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
            self.answers
                .lock()
                .unwrap()
                .pop_front()
                .unwrap_or(Err(FetchError::Status(500)))
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

    fn policy() -> RefreshPolicy {
        RefreshPolicy {
            refetch_interval: Duration::from_secs(30),
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
        assert_eq!(r.state().next_refresh, 3600, "lowered to max_refresh");
        script.push(jwks(&["a"], None));
        r.fetch_now().await.unwrap();
        assert_eq!(r.state().next_refresh, 600, "the default without max-age");
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

    #[tokio::test]
    async fn unknown_kid_refetches_are_rate_limited() {
        let (script, clock) = (Arc::new(Script::default()), TestClock::default());
        clock.advance(100);
        let r = remote(&script, &clock, jwks_locator());
        script.push(jwks(&["a"], None));
        r.fetch_now().await.unwrap();
        assert_eq!(script.count(), 1);
        // A regular fetch does not count: the first unknown kid refetches at once.
        script.push(jwks(&["a"], None));
        for _ in 0..100 {
            r.refetch_unknown_kid(r.version()).await;
        }
        assert_eq!(script.count(), 2, "one fetch, however many kids");
        clock.advance(29);
        for _ in 0..100 {
            r.refetch_unknown_kid(r.version()).await;
        }
        assert_eq!(script.count(), 2, "still within the interval");
        clock.advance(1);
        script.push(jwks(&["a", "b"], None));
        for _ in 0..100 {
            r.refetch_unknown_kid(r.version()).await;
        }
        assert_eq!(script.count(), 3, "one fetch per interval");
        assert!(r.key_set().unwrap().has_kid("b"));
    }

    #[tokio::test]
    async fn concurrent_unknown_kids_share_one_fetch() {
        let script = Arc::new(Script {
            delay: Some(Duration::from_millis(50)),
            ..Script::default()
        });
        let clock = TestClock::default();
        let r = remote(&script, &clock, jwks_locator());
        script.push(jwks(&["a", "b"], None));
        let seen = r.version();
        let waits: Vec<_> = (0..32)
            .map(|_| {
                let r = Arc::clone(&r);
                tokio::spawn(async move { r.refetch_unknown_kid(seen).await })
            })
            .collect();
        for w in waits {
            w.await.unwrap();
        }
        assert_eq!(script.count(), 1, "single flight");
        assert!(
            r.key_set().unwrap().has_kid("b"),
            "every waiter sees the new set"
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
            body: br#"{"keys":[{"kty":"oct","kid":"h","k":"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0"}]}"#
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
}
