//! `Sessions::password_login` over a real socket (served with `ConnectInfo`, clients bound
//! to distinct loopback addresses): an unknown user and a wrong password get the same
//! answer after one hash each; login CSRF is refused before any hash; the throttle
//! counts per account and address, per address and per account, in memory and in a real
//! Redis shared by two instances, answers 429 with `Retry-After` without checking the
//! password, and fails closed (503) when its Redis is stopped; a DPoP proof binds the
//! session; cookies or a JSON pair as asked; legacy hashes are handed back upgraded.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum_token_auth::password::hash_password;
use axum_token_auth::session::{
    Limit, LoginLimiter, PasswordAccount, PasswordAccounts, PasswordLogin,
};
use axum_token_auth::store::StoreError;
use axum_token_auth::store::memory::MemoryRefreshStore;
use axum_token_auth::trust::TokenCheck;
use axum_token_auth::{Sessions, TokenAuth, TokenRequest, async_trait};
use serde_json::{Value, json};

use crate::common::builder;

/// alice's password; bob's is the same, stored as bcrypt (a passlib migration).
const PASSWORD: &str = "correct horse battery staple";

/// The application's users, counting lookups and recording hash upgrades.
#[derive(Clone)]
struct Users {
    hashes: Arc<HashMap<&'static str, String>>,
    lookups: Arc<Mutex<u32>>,
    /// The names `find` was given.
    names: Arc<Mutex<Vec<String>>>,
    upgraded: Arc<Mutex<Vec<(String, String)>>>,
}

impl Users {
    fn new() -> Self {
        let mut hashes = HashMap::new();
        hashes.insert("alice", hash_password(PASSWORD).unwrap());
        hashes.insert("bob", bcrypt::hash(PASSWORD, 4).unwrap());
        Users {
            hashes: Arc::new(hashes),
            lookups: Arc::default(),
            names: Arc::default(),
            upgraded: Arc::default(),
        }
    }
}

#[async_trait]
impl PasswordAccounts for Users {
    async fn find(&self, username: &str) -> Result<Option<PasswordAccount>, StoreError> {
        *self.lookups.lock().unwrap() += 1;
        self.names.lock().unwrap().push(username.to_owned());
        Ok(self.hashes.get(username).map(|hash| {
            PasswordAccount::new(
                hash,
                TokenRequest::new(format!("id-{username}"))
                    .scopes(["orders:read"])
                    .metadata("plan", "pro"),
            )
        }))
    }

    async fn upgrade_hash(&self, username: &str, new_hash: String) {
        self.upgraded
            .lock()
            .unwrap()
            .push((username.to_owned(), new_hash));
    }
}

fn sessions(auth: &TokenAuth) -> Sessions {
    Sessions::builder(auth.clone(), MemoryRefreshStore::new())
        .build()
        .unwrap()
}

/// Serves `login` on a free port with `ConnectInfo`; the base URL.
/// The login over `users`, throttled in memory by `limits` (applied to a fresh limiter).
fn in_memory(
    auth: &TokenAuth,
    users: Users,
    limits: impl FnOnce(LoginLimiter) -> LoginLimiter,
) -> PasswordLogin {
    sessions(auth)
        .password_login(users)
        .throttle(limits(LoginLimiter::new(
            axum_token_auth::store::attempts::MemoryAttempts::new(),
        )))
        .build()
        .unwrap()
}

async fn serve(login: &PasswordLogin) -> String {
    serve_router(Router::new().route("/auth/login", login.route())).await
}

async fn serve_router(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    format!("http://{addr}")
}

/// A client whose connections come from `127.0.0.<n>` (every 127/8 address is loopback).
fn client_from(n: u8) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::from([127, 0, 0, n]))
        .build()
        .unwrap()
}

struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

async fn post(client: &reqwest::Client, base: &str, body: Value) -> Answer {
    post_raw(client, base, "application/json", &[], body.to_string()).await
}

async fn post_raw(
    client: &reqwest::Client,
    base: &str,
    content_type: &str,
    headers: &[(&str, &str)],
    body: String,
) -> Answer {
    let mut req = client
        .post(format!("{base}/auth/login"))
        .header("content-type", content_type)
        .body(body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let body = res.json().await.unwrap_or(Value::Null);
    Answer {
        status,
        headers,
        body,
    }
}

fn attempt(user: &str, password: &str) -> Value {
    json!({"username": user, "password": password, "token_delivery": "body"})
}

fn assert_throttled(a: &Answer) {
    assert_eq!(a.status, 429, "{}", a.body);
    assert_eq!(a.body["error"], "slow_down");
    assert_eq!(a.headers["cache-control"], "no-store");
    assert!(a.headers.get("www-authenticate").is_none());
    let retry: u64 = a.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=15 * 60).contains(&retry), "{retry}");
}

#[tokio::test]
async fn an_unknown_user_and_a_wrong_password_get_the_same_answer_after_one_hash_each() {
    let auth = builder().build().unwrap();
    let users = Users::new();
    let login = sessions(&auth)
        .password_login(users.clone())
        .build()
        .unwrap();
    let base = serve(&login).await;
    let client = client_from(1);
    let wrong = post(&client, &base, attempt("alice", "guess")).await;
    assert_eq!(login.verifications(), 1);
    let unknown = post(&client, &base, attempt("nobody", "guess")).await;
    assert_eq!(login.verifications(), 2, "an unknown user costs a hash too");
    assert_eq!(*users.lookups.lock().unwrap(), 2);
    assert_eq!(wrong.status, 401);
    assert_eq!(wrong.body["error"], "invalid_grant");
    assert_eq!((wrong.status, &wrong.body), (unknown.status, &unknown.body));
    for name in ["www-authenticate", "cache-control", "content-type"] {
        assert_eq!(wrong.headers.get(name), unknown.headers.get(name), "{name}");
    }
    assert!(wrong.headers.get("set-cookie").is_none());
}

#[tokio::test]
async fn login_csrf_and_malformed_bodies_are_refused_before_any_hash() {
    let auth = builder().build().unwrap();
    let login = sessions(&auth)
        .password_login(Users::new())
        .build()
        .unwrap();
    let base = serve(&login).await;
    let client = client_from(1);
    let good = attempt("alice", PASSWORD).to_string();
    // What a cross-site `<form enctype="text/plain">` sends.
    let form = post_raw(&client, &base, "text/plain", &[], good.clone()).await;
    assert_eq!(
        (form.status, form.body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    for cross in [
        ("origin", "https://evil.example"),
        ("sec-fetch-site", "cross-site"),
    ] {
        let a = post_raw(&client, &base, "application/json", &[cross], good.clone()).await;
        assert_eq!(
            (a.status, a.body["error"].as_str()),
            (403, Some("invalid_request"))
        );
        assert!(a.headers.get("set-cookie").is_none());
    }
    for bad in [
        json!({"username": "alice"}),
        json!(["alice", PASSWORD]),
        json!({"username": "", "password": PASSWORD}),
        json!({"username": "x".repeat(257), "password": PASSWORD}),
        json!({"username": "alice", "password": PASSWORD, "token_delivery": "pigeon"}),
    ] {
        let a = post(&client, &base, bad.clone()).await;
        assert_eq!(
            (a.status, a.body["error"].as_str()),
            (400, Some("invalid_request")),
            "{bad}"
        );
    }
    assert_eq!(login.verifications(), 0);
}

#[tokio::test]
async fn the_sixth_failure_of_an_account_from_one_address_is_429_without_a_hash() {
    let auth = builder().build().unwrap();
    let login = sessions(&auth)
        .password_login(Users::new())
        .build()
        .unwrap();
    let base = serve(&login).await;
    let attacker = client_from(10);
    for _ in 0..5 {
        assert_eq!(
            post(&attacker, &base, attempt("alice", "guess"))
                .await
                .status,
            401
        );
    }
    // Even the right password is not checked now.
    let refused = post(&attacker, &base, attempt("alice", PASSWORD)).await;
    assert_throttled(&refused);
    assert_eq!(login.verifications(), 5);
    // The owner, from their own address, still logs in.
    let owner = post(&client_from(11), &base, attempt("alice", PASSWORD)).await;
    assert_eq!(owner.status, 200, "{}", owner.body);
    // And the attacker may still try other accounts (until the per-address limit).
    assert_eq!(
        post(&attacker, &base, attempt("bob", "guess")).await.status,
        401
    );
}

#[tokio::test]
async fn a_success_resets_the_account_and_address_counter() {
    let auth = builder().build().unwrap();
    let login = sessions(&auth)
        .password_login(Users::new())
        .build()
        .unwrap();
    let base = serve(&login).await;
    let typo_prone = client_from(20);
    for _ in 0..4 {
        assert_eq!(
            post(&typo_prone, &base, attempt("alice", "typo"))
                .await
                .status,
            401
        );
    }
    assert_eq!(
        post(&typo_prone, &base, attempt("alice", PASSWORD))
            .await
            .status,
        200
    );
    for _ in 0..4 {
        assert_eq!(
            post(&typo_prone, &base, attempt("alice", "typo"))
                .await
                .status,
            401
        );
    }
    // Eight failures in all, but never five in a row: not throttled.
    assert_eq!(
        post(&typo_prone, &base, attempt("alice", PASSWORD))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn one_address_spraying_many_accounts_is_throttled_and_others_are_not() {
    let auth = builder().build().unwrap();
    let login = in_memory(&auth, Users::new(), |l| {
        l.per_address(Limit::new(3, Duration::from_secs(60)))
    });
    let base = serve(&login).await;
    let sprayer = client_from(30);
    for user in ["alice", "bob", "carol"] {
        assert_eq!(
            post(&sprayer, &base, attempt(user, "Summer2026!"))
                .await
                .status,
            401
        );
    }
    assert_throttled(&post(&sprayer, &base, attempt("dave", "Summer2026!")).await);
    assert_eq!(
        post(&client_from(31), &base, attempt("dave", "x"))
            .await
            .status,
        401
    );
}

#[tokio::test]
async fn one_account_guessed_from_many_addresses_is_throttled() {
    let auth = builder().build().unwrap();
    let login = in_memory(&auth, Users::new(), |l| {
        l.per_account(Limit::new(3, Duration::from_secs(60)))
    });
    let base = serve(&login).await;
    for n in 40..43 {
        assert_eq!(
            post(&client_from(n), &base, attempt("alice", "guess"))
                .await
                .status,
            401
        );
    }
    // A fourth address, and the name in another case: the same account.
    assert_throttled(&post(&client_from(43), &base, attempt("ALICE", "guess")).await);
    assert_eq!(login.verifications(), 3);
}

/// 50 simultaneous wrong passwords for one account from one address: the throttle
/// counts each before its hash, so at most 5 are checked and the rest are 429. (The
/// caller's `max_hash_wait` is long: every admitted attempt is checked, none is 503.)
async fn assert_a_burst_gets_at_most_five_checks(login: &PasswordLogin, from: u8) {
    let base = serve(login).await;
    let attacker = client_from(from);
    let burst = (0..50).map(|i| {
        let (attacker, base) = (attacker.clone(), base.clone());
        tokio::spawn(
            async move { post(&attacker, &base, attempt("alice", &format!("guess{i}"))).await },
        )
    });
    let mut statuses = HashMap::new();
    for answer in burst.collect::<Vec<_>>() {
        let answer = answer.await.unwrap();
        if answer.status == 429 {
            assert_throttled(&answer);
        }
        *statuses.entry(answer.status).or_insert(0u64) += 1;
    }
    let checked = login.verifications();
    assert!(
        (1..=5).contains(&checked),
        "{checked} password checks: {statuses:?}"
    );
    assert_eq!(statuses.get(&401), Some(&checked), "{statuses:?}");
    assert_eq!(statuses.get(&429), Some(&(50 - checked)), "{statuses:?}");
}

#[tokio::test]
async fn fifty_concurrent_wrong_logins_get_at_most_five_password_checks() {
    let auth = builder().build().unwrap();
    let login = sessions(&auth)
        .password_login(Users::new())
        .max_hash_wait(Duration::from_secs(120))
        .build()
        .unwrap();
    assert_a_burst_gets_at_most_five_checks(&login, 50).await;
}

#[tokio::test]
async fn a_login_that_waits_too_long_for_a_hash_is_503_and_no_failure() {
    use axum_token_auth::store::attempts::{AttemptCounter, AttemptKey, MemoryAttempts};
    let auth = builder().build().unwrap();
    let counter = Arc::new(MemoryAttempts::new());
    let login = sessions(&auth)
        .password_login(Users::new())
        .throttle(LoginLimiter::shared(counter.clone()))
        .max_concurrent_hashes(1)
        .max_hash_wait(Duration::from_millis(1))
        .build()
        .unwrap();
    let base = serve(&login).await;
    let client = client_from(60);
    // Twenty accounts at once from one address (under every limit): one hash at a time.
    let burst = (0..20).map(|i| {
        let (client, base) = (client.clone(), base.clone());
        tokio::spawn(
            async move { post(&client, &base, attempt(&format!("user{i}"), "guess")).await },
        )
    });
    let (mut wrong, mut busy) = (0u32, 0u32);
    for answer in burst.collect::<Vec<_>>() {
        let a = answer.await.unwrap();
        match a.status {
            401 => wrong += 1,
            503 => {
                assert_eq!(a.body["error"], "temporarily_unavailable");
                assert_eq!(a.headers["retry-after"], "1");
                busy += 1;
            }
            other => panic!("{other}: {}", a.body),
        }
    }
    assert!(busy > 0 && wrong > 0, "{wrong} checked, {busy} busy");
    assert_eq!(u64::from(wrong), login.verifications());
    // Only the checked attempts count against the address.
    let address = counter
        .count(&AttemptKey::new("address", "127.0.0.60"))
        .await
        .unwrap();
    assert_eq!(address.failures, wrong);
}

#[tokio::test]
async fn every_spelling_of_a_name_is_one_account_for_the_lookup_and_the_throttle() {
    let auth = builder().build().unwrap();
    let users = Users::new();
    let login = in_memory(&auth, users.clone(), |l| {
        l.per_account(Limit::new(3, Duration::from_secs(60)))
    });
    let base = serve(&login).await;
    for (n, name) in [(70, "Alice"), (71, " alice"), (72, "ALICE")] {
        let a = post(&client_from(n), &base, attempt(name, "guess")).await;
        assert_eq!(a.status, 401, "{name:?}: {}", a.body);
    }
    assert_throttled(&post(&client_from(73), &base, attempt("alice ", PASSWORD)).await);
    assert_eq!(*users.names.lock().unwrap(), ["alice", "alice", "alice"]);
    // And the right password, in any spelling, logs in (once the window allows).
    let other = post(&client_from(74), &base, attempt(" Bob", PASSWORD)).await;
    assert_eq!(other.status, 200, "{}", other.body);
}

#[tokio::test]
async fn cookies_by_default_the_pair_on_request_with_pwd_and_the_session_info() {
    let auth = builder().build().unwrap();
    let sessions = sessions(&auth);
    let login = sessions.password_login(Users::new()).build().unwrap();
    let base = serve(&login).await;
    let client = client_from(50);
    let browser = post(
        &client,
        &base,
        json!({"username": "alice", "password": PASSWORD}),
    )
    .await;
    assert_eq!(browser.status, 200, "{}", browser.body);
    let cookies: Vec<_> = browser.headers.get_all("set-cookie").iter().collect();
    assert!(
        cookies
            .iter()
            .any(|c| c.to_str().unwrap().contains("refresh_token=")),
        "{cookies:?}"
    );
    assert!(
        browser.body.get("refresh_token").is_none() && browser.body.get("access_token").is_none()
    );
    let app = post(&client, &base, attempt("alice", PASSWORD)).await;
    assert!(app.headers.get("set-cookie").is_none());
    let token = app.body["access_token"].as_str().unwrap();
    assert!(app.body["refresh_token"].is_string());
    let claims = auth
        .validate::<serde_json::Map<String, Value>>(token, TokenCheck::ACCESS)
        .await
        .unwrap();
    assert_eq!(claims.sub, "id-alice");
    assert_eq!(claims.acr.as_deref(), Some("pwd"));
    assert_eq!(claims.amr, Some(vec!["pwd".to_owned()]));
    assert_eq!(claims.metadata["plan"], "pro");
    assert!(claims.auth_time.is_some());
    let listed = sessions.list("id-alice").await.unwrap();
    assert_eq!(listed.len(), 2);
    assert!(listed.iter().all(|s| s.ip.as_deref() == Some("127.0.0.50")));
}

#[tokio::test]
async fn a_legacy_hash_logs_in_and_is_handed_back_upgraded() {
    let auth = builder().build().unwrap();
    let users = Users::new();
    let login = sessions(&auth)
        .password_login(users.clone())
        .build()
        .unwrap();
    let base = serve(&login).await;
    let a = post(&client_from(60), &base, attempt("bob", PASSWORD)).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let upgraded = users.upgraded.lock().unwrap().clone();
    assert_eq!(upgraded.len(), 1);
    assert_eq!(upgraded[0].0, "bob");
    assert!(axum_token_auth::password::verify_password(PASSWORD, &upgraded[0].1).unwrap());
    assert!(!axum_token_auth::password::needs_rehash(&upgraded[0].1));
}

#[tokio::test]
async fn a_dpop_proof_binds_the_session_and_required_refuses_a_login_without_one() {
    use axum_token_auth::testing::DpopKey;
    use axum_token_auth::trust::dpop::{DpopPolicy, DpopSettings};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let auth = builder()
        .dpop(DpopSettings::new(&base).policy(DpopPolicy::Required))
        .build()
        .unwrap();
    let login = sessions(&auth)
        .password_login(Users::new())
        .build()
        .unwrap();
    let app = Router::new().route("/auth/login", login.route());
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    let client = client_from(70);
    let none = post(&client, &base, attempt("alice", PASSWORD)).await;
    assert_eq!(
        (none.status, none.body["error"].as_str()),
        (400, Some("invalid_dpop_proof"))
    );
    assert_eq!(login.verifications(), 0);
    let key = DpopKey::es256();
    let proof = key.proof("POST", &format!("{base}/auth/login")).build();
    let bound = post_raw(
        &client,
        &base,
        "application/json",
        &[("dpop", &proof)],
        attempt("alice", PASSWORD).to_string(),
    )
    .await;
    assert_eq!(bound.status, 200, "{}", bound.body);
    assert_eq!(bound.body["token_type"], "DPoP");
    // The same proof again is a replay: refused before the password.
    let replay = post_raw(
        &client,
        &base,
        "application/json",
        &[("dpop", &proof)],
        attempt("alice", PASSWORD).to_string(),
    )
    .await;
    assert_eq!(replay.status, 400, "{}", replay.body);
    assert_eq!(login.verifications(), 1);
}

// ---------------------------------------------------------------------------------------
// Redis: the limiter shared by instances, and a stopped server.

#[cfg(feature = "redis")]
mod redis {
    use super::*;
    use axum_token_auth::store::redis::{RedisSettings, RedisStore};
    use std::process::{Child, Command, Stdio};

    fn redis_url() -> String {
        std::env::var("REDIS_URL").expect("REDIS_URL: run through scripts/test.sh")
    }

    /// A store under a prefix of its own (tests share the server).
    async fn store(url: &str) -> (Arc<RedisStore>, String) {
        let prefix = format!("pl{}:", crate::common::fresh_jti());
        let settings = RedisSettings::default().prefix(prefix.clone());
        (
            Arc::new(RedisStore::connect_with(url, settings).await.unwrap()),
            prefix,
        )
    }

    #[tokio::test]
    async fn fifty_concurrent_wrong_logins_get_at_most_five_password_checks_on_redis() {
        let (store, _) = store(&redis_url()).await;
        let auth = builder().build().unwrap();
        let login = sessions(&auth)
            .password_login(Users::new())
            .throttle(LoginLimiter::shared(store))
            .max_hash_wait(Duration::from_secs(120))
            .build()
            .unwrap();
        assert_a_burst_gets_at_most_five_checks(&login, 51).await;
    }

    #[tokio::test]
    async fn the_redis_limiter_is_shared_by_two_instances_and_keeps_no_name_in_clear() {
        let (store, prefix) = store(&redis_url()).await;
        let mut bases = Vec::new();
        let mut logins = Vec::new();
        for _ in 0..2 {
            // Two instances: their own sessions and login routes, one Redis.
            let auth = builder().build().unwrap();
            let login = sessions(&auth)
                .password_login(Users::new())
                .throttle(LoginLimiter::shared(store.clone()))
                .build()
                .unwrap();
            bases.push(serve(&login).await);
            logins.push(login);
        }
        let attacker = client_from(80);
        for base in [&bases[0], &bases[1], &bases[0], &bases[1], &bases[0]] {
            assert_eq!(
                post(&attacker, base, attempt("alice", "guess"))
                    .await
                    .status,
                401
            );
        }
        assert_throttled(&post(&attacker, &bases[1], attempt("alice", PASSWORD)).await);
        assert_eq!(logins[0].verifications() + logins[1].verifications(), 5);
        // The counters: `login:` keys with an expiry, no user name or address in them.
        let client = ::redis::Client::open(redis_url()).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        let keys: Vec<String> = ::redis::cmd("KEYS")
            .arg(format!("{prefix}*"))
            .query_async(&mut conn)
            .await
            .unwrap();
        assert_eq!(keys.len(), 3, "{keys:?}");
        for key in &keys {
            assert!(key.starts_with(&format!("{prefix}login:")), "{key}");
            assert!(!key.contains("alice") && !key.contains("127.0.0"), "{key}");
            let ttl: i64 = ::redis::cmd("PTTL")
                .arg(key)
                .query_async(&mut conn)
                .await
                .unwrap();
            assert!(ttl > 0, "{key}: {ttl}");
        }
        // A success elsewhere resets the account, not this address's pair counter.
        let owner = post(&client_from(81), &bases[0], attempt("alice", PASSWORD)).await;
        assert_eq!(owner.status, 200, "{}", owner.body);
        assert_throttled(&post(&attacker, &bases[0], attempt("alice", PASSWORD)).await);
    }

    /// A private Redis server that the test stops.
    struct PrivateRedis(Child, u16);

    impl PrivateRedis {
        fn start() -> PrivateRedis {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let bin = std::env::var("TEST_REDIS_SERVER_BIN")
                .expect("TEST_REDIS_SERVER_BIN: run the tests through scripts/test.sh");
            let child = Command::new(bin)
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("redis-server starts");
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
                assert!(std::time::Instant::now() < deadline, "redis did not start");
                std::thread::sleep(Duration::from_millis(20));
            }
            PrivateRedis(child, port)
        }

        fn stop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    impl Drop for PrivateRedis {
        fn drop(&mut self) {
            self.stop();
        }
    }

    #[tokio::test]
    async fn a_stopped_redis_limiter_fails_closed_with_503_and_no_hash() {
        let mut redis = PrivateRedis::start();
        let (store, _) = store(&format!("redis://127.0.0.1:{}/", redis.1)).await;
        let auth = builder().build().unwrap();
        let login = sessions(&auth)
            .password_login(Users::new())
            .throttle(LoginLimiter::shared(store))
            .build()
            .unwrap();
        let base = serve(&login).await;
        let client = client_from(90);
        assert_eq!(
            post(&client, &base, attempt("alice", "guess")).await.status,
            401
        );
        redis.stop();
        for password in ["guess", PASSWORD] {
            let a = post(&client, &base, attempt("alice", password)).await;
            assert_eq!(a.status, 503, "{}", a.body);
            assert_eq!(a.body["error"], "temporarily_unavailable");
            assert_eq!(a.headers["retry-after"], "1");
        }
        // Neither password was checked: no oracle while the throttle is blind.
        assert_eq!(login.verifications(), 1);
    }
}

/// `token_auth_logins_throttled_total{scope}` counts refused attempts; the label is the
/// counter's fixed name, never the account or the address.
#[cfg(feature = "metrics")]
#[test]
fn a_throttled_login_is_counted_by_scope() {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};
    use tower::ServiceExt;
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async {
                let auth = builder().build().unwrap();
                let login = in_memory(&auth, Users::new(), |l| {
                    l.per_account(Limit::new(1, Duration::from_secs(60)))
                });
                // No `ConnectInfo` (oneshot): only the per-account counter applies.
                let app: Router = Router::new().route("/auth/login", login.route());
                let mut statuses = Vec::new();
                for _ in 0..3 {
                    let req = http::Request::post("/auth/login")
                        .header("content-type", "application/json")
                        .body(axum::body::Body::from(
                            attempt("alice", "guess").to_string(),
                        ))
                        .unwrap();
                    statuses.push(app.clone().oneshot(req).await.unwrap().status().as_u16());
                }
                assert_eq!(statuses, [401, 429, 429]);
            })
    });
    let throttled: Vec<_> = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .filter(|(k, _, _, _)| k.key().name() == "token_auth_logins_throttled_total")
        .map(|(k, _, _, v)| {
            let labels: Vec<String> = k
                .key()
                .labels()
                .map(|l| format!("{}={}", l.key(), l.value()))
                .collect();
            (labels, v)
        })
        .collect();
    assert_eq!(throttled.len(), 1, "{throttled:?}");
    assert_eq!(throttled[0].0, ["scope=account"]);
    assert!(matches!(throttled[0].1, DebugValue::Counter(2)));
}
