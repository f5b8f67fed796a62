//! Store outages: a real Redis and a real PostgreSQL are stopped and restarted. While a
//! store is down the refresh route answers 503 with a JSON body, the per-request
//! revocation check fails closed (503) or open (configured), nothing panics; when it is
//! back the service recovers by itself and nothing written before the outage is lost.
#![cfg(all(feature = "redis", feature = "postgres"))]

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use axum_token_auth::store::postgres::PostgresStore;
use axum_token_auth::store::redis::RedisStore;
use axum_token_auth::store::{RefreshStore, RevocationStore};
use axum_token_auth::{Claims, Sessions, StoreFailurePolicy, TokenAuth, TokenRequest};
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

struct App {
    router: Router,
}

impl App {
    fn new(auth: &TokenAuth, sessions: &Sessions) -> Self {
        let router = Router::new()
            .route("/me", get(|c: Claims| async move { c.sub.clone() }))
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
    revocation: Arc<dyn RevocationStore>,
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
    let (status, body) = app.me(login.pair.access.as_str()).await;
    assert_503(status, &body);
    let (status, body) = app.refresh(login.pair.refresh.as_str()).await;
    assert_503(status, &body);
    // Fail open: the valid token passes, and the handler runs.
    assert_eq!(
        open_app.me(login.pair.access.as_str()).await.0,
        StatusCode::OK
    );
    // Client mistakes are still client mistakes, not outages.
    assert_eq!(app.me("garbage").await.0, StatusCode::UNAUTHORIZED);

    start();
    assert!(
        eventually(Duration::from_secs(20), || async {
            app.me(login.pair.access.as_str()).await.0 == StatusCode::OK
        })
        .await,
        "the service did not recover after the store came back"
    );
    // Nothing written before the outage was lost.
    assert_eq!(app.me(revoked.as_str()).await.0, StatusCode::UNAUTHORIZED);
    let (status, body) = app.refresh(login.pair.refresh.as_str()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["access_token"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_outage_answers_503_and_recovers_with_state_intact() {
    let store = Arc::new(RedisStore::connect(&env("REDIS_URL")).await.unwrap());
    assert!(store.wait_for_cache(Duration::from_secs(5)).await);
    let probe = Arc::clone(&store);
    outage_cycle(store.clone(), store, redis_stop, redis_start, move || {
        probe.cache_is_fresh()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_outage_answers_503_and_recovers_with_state_intact() {
    let store = PostgresStore::connect(&env("DATABASE_URL")).await.unwrap();
    store.migrate().await.unwrap();
    assert!(store.wait_for_cache(Duration::from_secs(10)).await);
    let store = Arc::new(store);
    let probe = Arc::clone(&store);
    outage_cycle(store.clone(), store, pg_stop, pg_start, move || {
        probe.cache_is_fresh()
    })
    .await;
}
