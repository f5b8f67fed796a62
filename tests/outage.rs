//! Store outages: a real Redis and a real PostgreSQL are stopped and restarted, or
//! frozen (SIGSTOP: a crashed host, connections that never answer) and thawed. While a
//! store is down the refresh route answers 503 with a JSON body, the per-request
//! revocation check fails closed (503) or open (configured), nothing panics; the 503s
//! come fast (the store guard's breaker: none slower than 500 ms, a generous bound that
//! still tells a refusal from a wait on the 750 ms call timeout; p50/p99/max are printed
//! and reported, not asserted, as timings on a loaded machine are not behaviour), the calls reaching a frozen store stay bounded, and when it is back
//! the service recovers by itself within a second and nothing written before the outage
//! is lost.
#![cfg(all(feature = "redis", feature = "postgres"))]

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use axum::routing::get;
use axum_token_auth::store::breaker::{BreakerState, GuardSettings, Guarded};
use axum_token_auth::store::postgres::PostgresStore;
use axum_token_auth::store::redis::{RedisSettings, RedisStore};
use axum_token_auth::store::{
    AccessRef, NewSession, RevocationCheck, RotateOutcome, Rotation, Session, StoreError,
    TokenDigest,
};
use axum_token_auth::store::{ProofId, ProofReplay};
use axum_token_auth::store::{RefreshStore, RevocationStore, SubjectRevocation};
use axum_token_auth::{
    Claims, Sessions, TokenAuth, TokenRequest, session::LoginSession, store::StoreFailurePolicy,
};
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

const SECRET: &str = "0123456789abcdefghijklmnopqrstuvwxyzABCDEF";

fn env(name: &str) -> String {
    std::env::var(name)
        .unwrap_or_else(|_| panic!("{name} is not set: run the tests through scripts/test.sh"))
}

fn run(cmd: &mut Command) {
    let status = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("spawn");
    assert!(status.success(), "{cmd:?} failed: {status}");
}

fn redis_stop() {
    run(Command::new("redis-cli").args(["-p", &env("TEST_REDIS_PORT"), "shutdown"]));
}

fn redis_start() {
    run(Command::new(env("TEST_REDIS_SERVER_BIN")).arg(env("TEST_REDIS_CONF")));
}

fn pg_ctl(args: &[&str]) {
    let mut cmd = if nix_is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", &env("TEST_PG_USER"), "--", &env("TEST_PG_CTL")]);
        c
    } else {
        Command::new(env("TEST_PG_CTL"))
    };
    cmd.args(["-D", &env("TEST_PG_DATA")]).args(args);
    run(&mut cmd);
}

fn nix_is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0"))
        .unwrap_or(false)
}

fn pg_stop() {
    pg_ctl(&["-w", "-m", "fast", "stop"]);
}

fn pg_start() {
    let log = env("TEST_PG_LOG");
    pg_ctl(&["-w", "-l", &log, "start"]);
}

#[derive(Clone)]
struct App {
    router: Router,
}

impl App {
    fn new(auth: &TokenAuth, sessions: &Sessions) -> Self {
        let router = Router::new()
            .route("/me", get(|c: Claims| async move { c.sub.clone() }))
            .route("/auth/sessions", sessions.sessions_route())
            .layer(auth.layer())
            .route("/auth/refresh", sessions.refresh_route());
        App { router }
    }

    async fn me(&self, token: &str) -> (StatusCode, serde_json::Value) {
        self.send(
            Request::get("/me")
                .header("authorization", format!("Bearer {token}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
    }

    async fn sessions(&self, token: &str) -> (StatusCode, serde_json::Value) {
        self.send(
            Request::get("/auth/sessions")
                .header("authorization", format!("Bearer {token}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
    }

    async fn refresh(&self, refresh: &str) -> (StatusCode, serde_json::Value) {
        self.send(
            Request::post("/auth/refresh")
                .header("content-type", "application/json")
                .body(Body::from(
                    serde_json::json!({ "refresh_token": refresh }).to_string(),
                ))
                .unwrap(),
        )
        .await
    }

    async fn send(&self, req: Request<Body>) -> (StatusCode, serde_json::Value) {
        let res = self.router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        let body = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        (status, body)
    }
}

/// Retries `f` until it returns true, for at most `limit`.
async fn eventually<F, Fut>(limit: Duration, mut f: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while start.elapsed() < limit {
        if f().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

fn assert_503(status: StatusCode, body: &serde_json::Value) {
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"], "temporarily_unavailable", "{body}");
    assert!(body["error_description"].is_string(), "{body}");
}

/// The whole life cycle against one store: before, during and after an outage.
async fn outage_cycle(
    name: &str,
    revocation: Arc<dyn SubjectRevocation>,
    refresh: Arc<dyn RefreshStore>,
    stop: fn(),
    start: fn(),
    fresh_cache: impl Fn() -> bool,
) {
    let auth = TokenAuth::builder()
        .hs256_secret(SECRET)
        .revocation_store(Arc::clone(&revocation))
        .build()
        .unwrap();
    let open_auth = TokenAuth::builder()
        .hs256_secret(SECRET)
        .revocation_store(Arc::clone(&revocation))
        .on_store_failure(StoreFailurePolicy::FailOpen)
        .verified_cache_capacity(0)
        .build()
        .unwrap();
    let sessions = Sessions::builder_shared(auth.clone(), refresh)
        .build()
        .unwrap();
    let app = App::new(&auth, &sessions);
    let open_app = App::new(&open_auth, &sessions);

    // Before: a session, and a revoked token.
    let login = sessions
        .login(&TokenRequest::new("alice"), None)
        .await
        .unwrap();
    let revoked = auth.issue_access(&TokenRequest::new("mallory")).unwrap();
    auth.revoke(revoked.as_str()).await.unwrap();
    assert_eq!(app.me(login.pair.access.as_str()).await.0, StatusCode::OK);
    assert_eq!(app.me(revoked.as_str()).await.0, StatusCode::UNAUTHORIZED);

    stop();
    // The local cache (Redis, PostgreSQL) may answer until its staleness bound; then
    // checks go to the store and fail closed.
    assert!(
        eventually(Duration::from_secs(10), || async { !fresh_cache() }).await,
        "cache still trusted long after the store went down"
    );
    let first = Instant::now();
    let (status, body) = app.me(login.pair.access.as_str()).await;
    assert_503(status, &body);
    let first = first.elapsed();
    println!("{name} stopped: first refusal {first:?}");
    let (status, body) = app.refresh(login.pair.refresh.as_str()).await;
    assert_503(status, &body);
    assert!(
        first < Duration::from_secs(1),
        "first refusal took {first:?}"
    );
    refusals_are_fast(name, "stopped", &app, &login).await;
    login_is_refused_fast(name, "stopped", &sessions).await;
    // Fail open: the valid token passes, and the handler runs.
    assert_eq!(
        open_app.me(login.pair.access.as_str()).await.0,
        StatusCode::OK
    );
    // Client mistakes are still client mistakes, not outages.
    assert_eq!(app.me("garbage").await.0, StatusCode::UNAUTHORIZED);

    start();
    assert_recovers(name, "stopped", &app, &login).await;
    // Nothing written before the outage was lost.
    assert_eq!(app.me(revoked.as_str()).await.0, StatusCode::UNAUTHORIZED);
    let (status, body) = app.refresh(login.pair.refresh.as_str()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["access_token"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_outage_answers_503_and_recovers_with_state_intact() {
    let _serial = SERIAL.lock().await;
    let store = Arc::new(RedisStore::connect(&env("REDIS_URL")).await.unwrap());
    assert!(store.wait_for_cache(Duration::from_secs(5)).await);
    let probe = Arc::clone(&store);
    outage_cycle(
        "redis",
        store.clone(),
        store,
        redis_stop,
        redis_start,
        move || probe.cache_is_fresh(),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_outage_answers_503_and_recovers_with_state_intact() {
    let _serial = SERIAL.lock().await;
    let store = PostgresStore::connect(&env("DATABASE_URL")).await.unwrap();
    store.migrate().await.unwrap();
    assert!(store.wait_for_cache(Duration::from_secs(10)).await);
    let store = Arc::new(store);
    let probe = Arc::clone(&store);
    outage_cycle(
        "postgres",
        store.clone(),
        store,
        pg_stop,
        pg_start,
        move || probe.cache_is_fresh(),
    )
    .await;
}

/// The p-th percentile (0..=100) of sorted durations.
fn percentile(sorted: &[Duration], p: usize) -> Duration {
    let i = (sorted.len() * p).div_ceil(100).clamp(1, sorted.len()) - 1;
    sorted[i]
}

/// Sends `total` requests made by `send`, `concurrency` at a time; every one must be a 503
/// `temporarily_unavailable`. Returns the sorted latencies.
async fn refusal_latencies<F, Fut>(total: usize, concurrency: usize, send: F) -> Vec<Duration>
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = (StatusCode, serde_json::Value)> + Send,
{
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let send = send.clone();
            tokio::spawn(async move {
                let mut out = Vec::new();
                for _ in 0..total / concurrency {
                    let start = Instant::now();
                    let (status, body) = send().await;
                    out.push(start.elapsed());
                    assert_503(status, &body);
                }
                out
            })
        })
        .collect();
    let mut all = Vec::with_capacity(total);
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort();
    all
}

/// While the store is down: 592 refusals (400 per-request checks, 192 refreshes), 16 at a
/// time; none slower than 500 ms (p50/p99/max printed).
async fn refusals_are_fast(store: &str, how: &str, app: &App, login: &LoginSession) {
    let (a, token) = (app.clone(), login.pair.access.as_str().to_owned());
    let checks = refusal_latencies(400, 16, move || {
        let (a, token) = (a.clone(), token.clone());
        async move { a.me(&token).await }
    })
    .await;
    let (a, token) = (app.clone(), login.pair.refresh.as_str().to_owned());
    let refreshes = refusal_latencies(192, 16, move || {
        let (a, token) = (a.clone(), token.clone());
        async move { a.refresh(&token).await }
    })
    .await;
    for (what, l) in [("check", &checks), ("refresh", &refreshes)] {
        let (p50, p99, max) = (percentile(l, 50), percentile(l, 99), l[l.len() - 1]);
        println!(
            "{store} {how}: {what} 503s: n={} p50={p50:?} p99={p99:?} max={max:?}",
            l.len()
        );
        assert!(
            max < Duration::from_millis(500),
            "{store} {what}: max {max:?}"
        );
    }
}

/// While the store is down a login (the subject's generation, then a new family) is
/// refused at once instead of waiting for the pool.
async fn login_is_refused_fast(store: &str, how: &str, sessions: &Sessions) {
    let start = Instant::now();
    let refused = sessions.login(&TokenRequest::new("bob"), None).await;
    let took = start.elapsed();
    println!("{store} {how}: login refused in {took:?}");
    assert!(refused.is_err());
    assert!(
        took < Duration::from_millis(500),
        "{store}: login took {took:?}"
    );
}

/// After the store is back: the per-request check and the session list (a read of the
/// refresh store) answer within a second.
async fn assert_recovers(store: &str, how: &str, app: &App, login: &LoginSession) {
    let back = Instant::now();
    let token = login.pair.access.as_str();
    while app.me(token).await.0 != StatusCode::OK || app.sessions(token).await.0 != StatusCode::OK {
        assert!(
            back.elapsed() < Duration::from_secs(10),
            "{store}: the service did not recover after the store came back"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let recovered = back.elapsed();
    println!("{store} {how}: recovered {recovered:?} after the store was back");
    assert!(
        recovered <= Duration::from_secs(1),
        "{store}: recovery took {recovered:?}"
    );
}

fn signal(sig: &str, pids: &[String]) {
    run(Command::new("kill").arg(format!("-{sig}")).args(pids));
}

fn redis_pids() -> Vec<String> {
    let pidfile = format!("{}/redis.pid", env("TEST_REDIS_DIR"));
    vec![std::fs::read_to_string(pidfile).unwrap().trim().to_owned()]
}

/// The postmaster and its children (the backends holding our connections).
fn pg_pids() -> Vec<String> {
    let pidfile = format!("{}/postmaster.pid", env("TEST_PG_DATA"));
    let main = std::fs::read_to_string(pidfile).unwrap();
    let main = main.lines().next().unwrap().trim().to_owned();
    // Children by their parent pid in /proc/<pid>/stat (field 4, after "(comm)").
    let mut pids = vec![main.clone()];
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let after_comm = stat.rsplit_once(") ").map_or("", |(_, rest)| rest);
        if after_comm.split_whitespace().nth(1) == Some(main.as_str()) {
            pids.push(name);
        }
    }
    pids
}

fn redis_freeze() {
    signal("STOP", &redis_pids());
}

fn redis_thaw() {
    signal("CONT", &redis_pids());
}

fn pg_freeze() {
    signal("STOP", &pg_pids());
}

fn pg_thaw() {
    signal("CONT", &pg_pids());
}

/// Counts the calls that reach the real store at once (the guard sits in front of it).
struct Counting<S> {
    store: Arc<S>,
    now: AtomicUsize,
    peak: AtomicUsize,
}

impl<S> Counting<S> {
    fn new(store: Arc<S>) -> Self {
        Counting {
            store,
            now: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
        }
    }

    async fn count<T>(&self, call: impl std::future::Future<Output = T>) -> T {
        struct Leave<'a>(&'a AtomicUsize);
        impl Drop for Leave<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::SeqCst);
            }
        }
        let n = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(n, Ordering::SeqCst);
        let _leave = Leave(&self.now);
        call.await
    }
}

#[async_trait]
impl<S: SubjectRevocation + RefreshStore> RevocationStore for Counting<S> {
    async fn revoke(&self, digest: TokenDigest, expires_at: u64) -> Result<(), StoreError> {
        self.count(self.store.revoke(digest, expires_at)).await
    }
    async fn is_revoked(&self, digest: &TokenDigest) -> Result<bool, StoreError> {
        self.count(self.store.is_revoked(digest)).await
    }
    async fn check(&self, token: &RevocationCheck<'_>) -> Result<bool, StoreError> {
        self.count(self.store.check(token)).await
    }
    fn check_now(&self, token: &RevocationCheck<'_>) -> Option<Result<bool, StoreError>> {
        self.store.check_now(token)
    }
}

#[async_trait]
impl<S: SubjectRevocation + RefreshStore> SubjectRevocation for Counting<S> {
    async fn revoke_all_for(&self, subject: &str, at: u64) -> Result<u64, StoreError> {
        self.count(self.store.revoke_all_for(subject, at)).await
    }
    async fn subject_cutoff(
        &self,
        subject: &str,
    ) -> Result<axum_token_auth::store::SubjectCutoff, StoreError> {
        self.count(self.store.subject_cutoff(subject)).await
    }
    async fn revoke_for(
        &self,
        subject: &str,
        digest: TokenDigest,
        expires_at: u64,
    ) -> Result<(), StoreError> {
        self.count(self.store.revoke_for(subject, digest, expires_at))
            .await
    }
}

#[async_trait]
impl<S: SubjectRevocation + RefreshStore> RefreshStore for Counting<S> {
    async fn create_session(&self, family: NewSession) -> Result<(), StoreError> {
        self.count(self.store.create_session(family)).await
    }
    async fn verify(&self, id: &str, d: &TokenDigest, now: u64) -> Result<bool, StoreError> {
        self.count(self.store.verify(id, d, now)).await
    }
    async fn rotate(&self, rotation: Rotation) -> Result<RotateOutcome, StoreError> {
        self.count(self.store.rotate(rotation)).await
    }
    async fn revoke_session(&self, id: &str) -> Result<Vec<AccessRef>, StoreError> {
        self.count(self.store.revoke_session(id)).await
    }
    async fn revoke_user(&self, user: &str) -> Result<Vec<AccessRef>, StoreError> {
        self.count(self.store.revoke_user(user)).await
    }
    async fn list_sessions(&self, user: &str, now: u64) -> Result<Vec<Session>, StoreError> {
        self.count(self.store.list_sessions(user, now)).await
    }
    async fn session(&self, id: &str, now: u64) -> Result<Option<Session>, StoreError> {
        self.count(self.store.session(id, now)).await
    }
    async fn purge_expired(&self, now: u64) -> Result<u64, StoreError> {
        self.count(RefreshStore::purge_expired(&*self.store, now))
            .await
    }
}

/// The bound on calls in flight in the hang tests.
const MAX_IN_FLIGHT: usize = 8;

/// A frozen store (SIGSTOP: connections that never answer): requests answer 503 within
/// the guard's timeouts, the calls reaching the store never exceed `MAX_IN_FLIGHT`, and
/// after SIGCONT the service recovers within a second with its state intact.
async fn hang_cycle<S: SubjectRevocation + RefreshStore>(
    name: &str,
    store: Arc<S>,
    freeze: fn(),
    thaw: fn(),
    fresh_cache: impl Fn() -> bool,
) {
    let counting = Arc::new(Counting::new(store));
    let auth = TokenAuth::builder()
        .hs256_secret(SECRET)
        .revocation_store(counting.clone())
        .store_guard(GuardSettings::default().max_in_flight(MAX_IN_FLIGHT))
        .build()
        .unwrap();
    let sessions = Sessions::builder_shared(auth.clone(), counting.clone())
        .build()
        .unwrap();
    let app = App::new(&auth, &sessions);
    let login = sessions
        .login(&TokenRequest::new("alice"), None)
        .await
        .unwrap();
    assert_eq!(app.me(login.pair.access.as_str()).await.0, StatusCode::OK);

    freeze();
    let thawed = Thaw(thaw);
    assert!(
        eventually(Duration::from_secs(10), || async { !fresh_cache() }).await,
        "cache still trusted long after the store froze"
    );
    // A burst while the store hangs: 64 checks and 64 refreshes at once. The first calls
    // wait for their timeout (250 ms check, 750 ms refresh) or until the breaker opens;
    // the others are refused at once, and at most MAX_IN_FLIGHT ever reach the store.
    counting.peak.store(0, Ordering::SeqCst);
    let start = Instant::now();
    let mut burst = Vec::new();
    for i in 0..128 {
        let (a, login) = (app.clone(), login.clone());
        burst.push(tokio::spawn(async move {
            let t = Instant::now();
            let (status, body) = if i % 2 == 0 {
                a.me(login.pair.access.as_str()).await
            } else {
                a.refresh(login.pair.refresh.as_str()).await
            };
            assert_503(status, &body);
            t.elapsed()
        }));
    }
    let mut burst_latencies = Vec::new();
    for b in burst {
        burst_latencies.push(b.await.unwrap());
    }
    burst_latencies.sort();
    let slowest = burst_latencies[burst_latencies.len() - 1];
    let peak = counting.peak.load(Ordering::SeqCst);
    println!(
        "{name} frozen: burst of 128 answered in {:?}, p50={:?} max={slowest:?}, peak calls at the store {peak}",
        start.elapsed(),
        percentile(&burst_latencies, 50)
    );
    assert!(
        slowest < Duration::from_secs(1),
        "{name}: slowest {slowest:?}"
    );
    assert!(peak <= MAX_IN_FLIGHT, "{name}: {peak} calls in flight");
    refusals_are_fast(name, "frozen", &app, &login).await;
    login_is_refused_fast(name, "frozen", &sessions).await;
    assert!(counting.peak.load(Ordering::SeqCst) <= MAX_IN_FLIGHT);

    drop(thawed);
    assert_recovers(name, "frozen", &app, &login).await;
    let (status, body) = app.refresh(login.pair.refresh.as_str()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// Thaws the store even when an assertion fails (the next test needs it).
struct Thaw(fn());

impl Drop for Thaw {
    fn drop(&mut self) {
        (self.0)();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_frozen_is_refused_fast_with_bounded_calls_and_recovers() {
    let _serial = SERIAL.lock().await;
    let store = Arc::new(RedisStore::connect(&env("REDIS_URL")).await.unwrap());
    assert!(store.wait_for_cache(Duration::from_secs(5)).await);
    let probe = Arc::clone(&store);
    hang_cycle("redis", store, redis_freeze, redis_thaw, move || {
        probe.cache_is_fresh()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_frozen_is_refused_fast_with_bounded_calls_and_recovers() {
    let _serial = SERIAL.lock().await;
    let store = PostgresStore::connect(&env("DATABASE_URL")).await.unwrap();
    store.migrate().await.unwrap();
    assert!(store.wait_for_cache(Duration::from_secs(10)).await);
    let store = Arc::new(store);
    let probe = Arc::clone(&store);
    hang_cycle("postgres", store, pg_freeze, pg_thaw, move || {
        probe.cache_is_fresh()
    })
    .await;
}

/// The DPoP replay cache on a Redis that is stopped, then frozen: `first_use` through
/// the breaker answers `Unavailable` (a proof is never accepted unchecked), the first
/// call within the check timeout and the next ones at once (the breaker is open); once
/// Redis is back it answers by itself, and an id recorded before the outage is still a
/// replay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_refuses_proof_ids_fast_through_the_breaker() {
    let _serial = SERIAL.lock().await;
    let settings = RedisSettings::default().without_local_cache();
    let store = RedisStore::connect_with(&env("REDIS_URL"), settings)
        .await
        .unwrap();
    let replay = Guarded::replay(Arc::new(store), &GuardSettings::default());
    let id = || {
        let mut b = [0u8; 16];
        getrandom::fill(&mut b).unwrap();
        ProofId::of("outage-key", &format!("{b:?}"))
    };
    let until = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 600;
    let before = id();
    assert!(replay.first_use(&before, until).await.unwrap());
    for (how, down, up) in [
        ("stopped", redis_stop as fn(), redis_start as fn()),
        ("frozen", redis_freeze, redis_thaw),
    ] {
        down();
        let back = Thaw(up);
        let t = Instant::now();
        let first = replay.first_use(&id(), until).await;
        let first_took = t.elapsed();
        assert!(
            matches!(first, Err(StoreError::Unavailable(_))),
            "{how}: {first:?}"
        );
        assert_eq!(replay.state(), BreakerState::Open, "{how}");
        let t = Instant::now();
        for _ in 0..100 {
            let r = replay.first_use(&id(), until).await;
            assert!(matches!(r, Err(StoreError::Unavailable(_))), "{how}: {r:?}");
        }
        let next_took = t.elapsed() / 100;
        println!(
            "redis {how}: first proof id refused in {first_took:?}, the next in {next_took:?}"
        );
        assert!(first_took < Duration::from_secs(1), "{how}: {first_took:?}");
        assert!(next_took < Duration::from_millis(5), "{how}: {next_took:?}");

        drop(back);
        let t = Instant::now();
        assert!(
            eventually(Duration::from_secs(10), || async {
                replay.first_use(&id(), until).await.is_ok()
            })
            .await,
            "{how}: the replay cache never answered again"
        );
        println!(
            "redis {how}: proof ids answered again {:?} after it was back",
            t.elapsed()
        );
        assert!(
            !replay.first_use(&before, until).await.unwrap(),
            "{how}: an id recorded before the outage is still held"
        );
    }
}

/// One outage at a time: the tests of one store stop and freeze the same server.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
