//! The refresh/session flow end to end: `Sessions` (login, rotation with reuse detection,
//! grace retries, logout, session lists, hooks) behind the real HTTP routes
//! (`refresh_route`, `logout_route`, `sessions_route`, `revoke_session_route`,
//! `login_response`), the CSRF double submit bound to the token, and the cookies on the
//! wire. Requests go through a real axum `Router` (`tower::ServiceExt::oneshot`), and one
//! browser-style flow goes over a real TCP socket with reqwest's cookie store.
//!
//! Helpers live in this file (tests/it/common/ belongs to another suite).

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::response::Response;
use axum::routing::{get, post};
use axum_token_auth::store::RefreshStore;
use axum_token_auth::store::memory::MemoryRefreshStore;
use axum_token_auth::testing::CookieJar;
use axum_token_auth::{
    AuthError, Claims, Sessions, TokenAuth, TokenAuthBuilder, TokenRequest,
    http::{CookieSettings, InvalidRequest},
    session::{
        LoginSession, SessionError, SessionEvent, SessionHooks, SessionsBuilder, user_agent,
    },
    token::{FixedClock, InvalidToken, IssuedToken},
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::header::{
    AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, COOKIE, HOST, ORIGIN, SET_COOKIE, USER_AGENT,
    WWW_AUTHENTICATE,
};
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tower::ServiceExt;

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

const SECRET: &str = "refresh-flow-tests-secret-0123456789-abcdefgh";
const CSRF_HEADER: &str = "x-csrf-token";
/// The default cookie names: `__Host-` (no sibling subdomain can toss them) and
/// `__Secure-` for the refresh cookie, which needs its own path.
const ACCESS_COOKIE: &str = "__Host-access_token";
const REFRESH_COOKIE: &str = "__Secure-refresh_token";
const CSRF_COOKIE: &str = "__Host-csrf_token";

fn builder() -> TokenAuthBuilder {
    TokenAuth::builder().hs256_secret(SECRET)
}

fn auth() -> TokenAuth {
    builder().build().expect("test authority builds")
}

fn sessions_builder(auth: &TokenAuth) -> SessionsBuilder {
    Sessions::builder(auth.clone(), MemoryRefreshStore::new())
}

fn sessions() -> Sessions {
    sessions_builder(&auth()).build().expect("sessions build")
}

fn shared_store() -> Arc<dyn RefreshStore> {
    Arc::new(MemoryRefreshStore::new())
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[derive(Deserialize)]
struct LoginBody {
    username: String,
    #[serde(default)]
    scopes: Vec<String>,
}

/// `POST /auth/login` as an application writes it (credentials are not checked here).
async fn login_handler(sessions: Sessions, headers: HeaderMap, body: Bytes) -> Response {
    let Ok(body) = serde_json::from_slice::<LoginBody>(&body) else {
        return sessions
            .auth()
            .web()
            .render_error(AuthError::InvalidRequest(InvalidRequest::MalformedBody));
    };
    let request = TokenRequest::new(body.username).scopes(body.scopes);
    match sessions.login(&request, user_agent(&headers)).await {
        Ok(login) => sessions.login_response(&login),
        Err(_) => sessions
            .auth()
            .web()
            .render_error(AuthError::StoreUnavailable),
    }
}

async fn me(claims: Claims) -> axum::Json<Value> {
    axum::Json(json!({
        "sub": claims.sub,
        "jti": claims.jti,
        "fam": claims.fam,
    }))
}

/// The application, wired like examples/quickstart.rs.
fn router(sessions: &Sessions) -> Router {
    let auth = sessions.auth().clone();
    let login_sessions = sessions.clone();
    let protected = Router::new()
        .route("/me", get(me))
        .route(
            "/users",
            get(|| async { "users" }).post(|| async { (StatusCode::CREATED, "created") }),
        )
        .route("/auth/sessions", sessions.sessions_route())
        .route("/auth/sessions/{id}", sessions.revoke_session_route())
        .layer(auth.layer());
    Router::new()
        .route(
            "/auth/login",
            post(move |headers: HeaderMap, body: Bytes| {
                let s = login_sessions.clone();
                async move { login_handler(s, headers, body).await }
            }),
        )
        .route("/auth/refresh", sessions.refresh_route())
        .route("/auth/logout", sessions.logout_route())
        .merge(protected)
}

/// A response read to the end.
#[derive(Debug)]
struct Resp {
    status: StatusCode,
    headers: HeaderMap,
    error: Option<AuthError>,
    body: Bytes,
}

impl Resp {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {:?}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    fn header(&self, name: impl http::header::AsHeaderName) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    fn set_cookies(&self) -> Vec<SetCookie> {
        set_cookies(&self.headers)
    }

    fn set_cookie(&self, name: &str) -> SetCookie {
        self.set_cookies()
            .into_iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("no Set-Cookie {name}: {:?}", self.set_cookies()))
    }

    /// The token pair of a login or refresh answer: from the JSON body of a body
    /// delivery, else from the cookies (whose body must then hold no refresh token).
    fn tokens(&self) -> (String, String) {
        assert_eq!(self.status, StatusCode::OK, "{:?}", self.body);
        let v = self.json();
        if let Some(refresh) = v["refresh_token"].as_str() {
            assert!(
                self.headers.get(SET_COOKIE).is_none(),
                "a body delivery sets no cookies"
            );
            return (
                v["access_token"].as_str().unwrap().to_owned(),
                refresh.to_owned(),
            );
        }
        // By suffix: the prefix depends on the settings (`__Host-`, `__Secure-`, none).
        let by_suffix = |suffix: &str| {
            self.set_cookies()
                .into_iter()
                .find(|c| c.name.ends_with(suffix))
                .unwrap_or_else(|| panic!("no {suffix} cookie: {:?}", self.set_cookies()))
                .value
        };
        (by_suffix("access_token"), by_suffix("refresh_token"))
    }

    /// Asserts an RFC 6750 refusal: status, JSON `{"error","error_description"}`, and a
    /// `WWW-Authenticate` challenge on 401.
    fn assert_refusal(&self, status: StatusCode, error: &str) {
        assert_eq!(
            self.status,
            status,
            "body: {}",
            String::from_utf8_lossy(&self.body)
        );
        assert_eq!(self.header(CONTENT_TYPE), Some("application/json"));
        let body = self.json();
        assert_eq!(body["error"], error, "{body}");
        assert!(
            body["error_description"]
                .as_str()
                .is_some_and(|d| !d.is_empty()),
            "{body}"
        );
        assert_eq!(
            body.as_object().unwrap().len(),
            2,
            "only error and error_description: {body}"
        );
        if status == StatusCode::UNAUTHORIZED {
            let challenge = self
                .header(WWW_AUTHENTICATE)
                .expect("401 carries WWW-Authenticate");
            assert!(challenge.starts_with("Bearer realm=\"api\""), "{challenge}");
            if error != "unauthorized" {
                assert!(
                    challenge.contains(&format!("error=\"{error}\"")),
                    "{challenge}"
                );
            }
        }
        assert!(self.error.is_some(), "refusals carry the AuthError");
    }
}

async fn send(app: &Router, req: Request<Body>) -> Resp {
    let res = app.clone().oneshot(req).await.expect("infallible");
    let status = res.status();
    let headers = res.headers().clone();
    let error = res.extensions().get::<AuthError>().cloned();
    let body = res.into_body().collect().await.expect("body").to_bytes();
    Resp {
        status,
        headers,
        error,
        body,
    }
}

/// A request builder for tests.
struct Req {
    inner: http::request::Builder,
    cookies: Vec<String>,
    body: Body,
}

fn req(method: Method, path: &str) -> Req {
    Req {
        inner: Request::builder().method(method).uri(path),
        cookies: Vec::new(),
        body: Body::empty(),
    }
}

impl Req {
    fn bearer(mut self, token: &str) -> Self {
        self.inner = self.inner.header(AUTHORIZATION, format!("Bearer {token}"));
        self
    }
    fn header(mut self, name: &str, value: &str) -> Self {
        self.inner = self.inner.header(name, value);
        self
    }
    fn cookie(mut self, name: &str, value: &str) -> Self {
        self.cookies.push(format!("{name}={value}"));
        self
    }
    fn csrf(self, value: &str) -> Self {
        self.header(CSRF_HEADER, value)
    }
    fn json(mut self, body: Value) -> Self {
        self.inner = self.inner.header(CONTENT_TYPE, "application/json");
        self.body = Body::from(body.to_string());
        self
    }
    fn raw(mut self, content_type: Option<&str>, body: impl Into<Body>) -> Self {
        if let Some(ct) = content_type {
            self.inner = self.inner.header(CONTENT_TYPE, ct);
        }
        self.body = body.into();
        self
    }
    fn build(self) -> Request<Body> {
        let mut b = self.inner;
        if !self.cookies.is_empty() {
            b = b.header(COOKIE, self.cookies.join("; "));
        }
        b.body(self.body).unwrap()
    }
    async fn send(self, app: &Router) -> Resp {
        send(app, self.build()).await
    }
}

/// `POST /auth/refresh` with the refresh token in a JSON body and, optionally, the access
/// token as bearer (how a non-browser client refreshes).
async fn refresh_json(app: &Router, refresh: &str, access: Option<&str>) -> Resp {
    let mut r = req(Method::POST, "/auth/refresh").json(json!({ "refresh_token": refresh }));
    if let Some(a) = access {
        r = r.bearer(a);
    }
    r.send(app).await
}

async fn me_status(app: &Router, access: &str) -> StatusCode {
    req(Method::GET, "/me")
        .bearer(access)
        .send(app)
        .await
        .status
}

/// Logs in through the route and returns the answer.
async fn login_route(app: &Router, username: &str) -> Resp {
    req(Method::POST, "/auth/login")
        .json(json!({ "username": username, "scopes": ["users:read", "users:write"] }))
        .send(app)
        .await
}

async fn start_session(sessions: &Sessions, user: &str) -> LoginSession {
    sessions
        .login(&TokenRequest::new(user).scopes(["users:read"]), None)
        .await
        .expect("login")
}

/// The decoded JWT payload (no verification: the tests compare what was issued).
fn payload(token: &str) -> Value {
    let p64 = token.split('.').nth(1).expect("three parts");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p64).expect("base64url")).expect("json")
}

fn header_of(token: &str) -> Value {
    let h64 = token.split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h64).unwrap()).unwrap()
}

fn jti(token: &str) -> String {
    payload(token)["jti"].as_str().unwrap().to_owned()
}

/// SHA-256, base64url: how the CSRF value is bound into tokens.
fn csrf_digest(value: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(value.as_bytes()))
}

/// One `Set-Cookie` header, parsed by hand (independently of the crate's cookie code).
#[derive(Debug, Clone)]
struct SetCookie {
    name: String,
    value: String,
    attrs: Vec<(String, Option<String>)>,
    raw: String,
}

impl SetCookie {
    fn parse(raw: &str) -> Self {
        let mut parts = raw.split(';').map(str::trim);
        let (name, value) = parts.next().unwrap().split_once('=').expect("name=value");
        let attrs = parts
            .filter(|p| !p.is_empty())
            .map(|p| match p.split_once('=') {
                Some((k, v)) => (k.trim().to_ascii_lowercase(), Some(v.trim().to_owned())),
                None => (p.to_ascii_lowercase(), None),
            })
            .collect();
        SetCookie {
            name: name.to_owned(),
            value: value.to_owned(),
            attrs,
            raw: raw.to_owned(),
        }
    }

    fn flag(&self, name: &str) -> bool {
        self.attrs
            .iter()
            .any(|(k, _)| k == &name.to_ascii_lowercase())
    }

    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == &name.to_ascii_lowercase())
            .and_then(|(_, v)| v.as_deref())
    }

    fn max_age(&self) -> Option<i64> {
        self.attr("max-age").map(|v| v.parse().unwrap())
    }
}

fn set_cookies(headers: &HeaderMap) -> Vec<SetCookie> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| SetCookie::parse(v.to_str().unwrap()))
        .collect()
}

/// The cookies a browser would keep from an answer (the testkit's jar; the attributes
/// are checked with [`SetCookie`], parsed independently).
fn cookie_jar(res: &Resp) -> CookieJar {
    CookieJar::from_headers(&res.headers)
}

// ---------------------------------------------------------------------------------------
// Rotation, reuse, grace
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn refresh_rotates_both_tokens_old_access_stays_valid_and_new_access_works() {
    let sessions = sessions();
    let app = router(&sessions);
    let login = login_route(&app, "alice").await;
    let (access0, refresh0) = login.tokens();

    let res = refresh_json(&app, &refresh0, Some(&access0)).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.header(CACHE_CONTROL), Some("no-store"));
    let body = res.json();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    let (access1, refresh1) = res.tokens();
    assert_ne!(jti(&refresh1), jti(&refresh0), "new refresh jti");
    assert_ne!(jti(&access1), jti(&access0), "new access jti");
    assert_eq!(header_of(&access1)["typ"], "at+jwt");
    assert_eq!(header_of(&refresh1)["typ"], "refresh+jwt");
    // A refresh by JSON body is answered by body only: no cookies.
    assert!(res.set_cookies().is_empty(), "{:?}", res.set_cookies());

    // The old access token lives until its expiry; the new one works too.
    assert_eq!(me_status(&app, &access0).await, StatusCode::OK);
    let me = req(Method::GET, "/me").bearer(&access1).send(&app).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.json()["sub"], "alice");
    assert_eq!(me.json()["jti"], jti(&access1));

    // And the successor refresh token rotates again.
    let res = refresh_json(&app, &refresh1, Some(&access1)).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_ne!(jti(&res.tokens().1), jti(&refresh1));
}

#[tokio::test]
async fn reusing_a_rotated_token_without_grace_revokes_the_whole_family() {
    let sessions = sessions_builder(&auth())
        .grace(Duration::ZERO)
        .build()
        .unwrap();
    let app = router(&sessions);
    let (access0, refresh0) = login_route(&app, "alice").await.tokens();
    let (access1, refresh1) = refresh_json(&app, &refresh0, None).await.tokens();
    let (access2, refresh2) = refresh_json(&app, &refresh1, None).await.tokens();
    assert_eq!(me_status(&app, &access2).await, StatusCode::OK);

    // The first token again: reuse.
    let res = refresh_json(&app, &refresh0, None).await;
    res.assert_refusal(StatusCode::UNAUTHORIZED, "invalid_token");
    assert_eq!(
        res.error,
        Some(AuthError::InvalidToken(InvalidToken::RefreshReused))
    );
    // The refusal clears the session cookies.
    for name in [ACCESS_COOKIE, REFRESH_COOKIE, CSRF_COOKIE] {
        assert_eq!(res.set_cookie(name).max_age(), Some(0), "{name}");
    }

    // The newest refresh token of the family is dead too…
    let res = refresh_json(&app, &refresh2, None).await;
    res.assert_refusal(StatusCode::UNAUTHORIZED, "invalid_token");
    // …and so are the family's access tokens, the current one included.
    for a in [&access0, &access1, &access2] {
        assert_eq!(me_status(&app, a).await, StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn reusing_the_parent_after_the_grace_window_elapsed_revokes_the_family() {
    let sessions = sessions_builder(&auth())
        .grace(Duration::from_secs(1))
        .build()
        .unwrap();
    let app = router(&sessions);
    let (_, refresh0) = login_route(&app, "alice").await.tokens();
    let (access1, refresh1) = refresh_json(&app, &refresh0, None).await.tokens();
    // Whole seconds: 2.1 s guarantees now > rotated_at + 1.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    refresh_json(&app, &refresh0, None)
        .await
        .assert_refusal(StatusCode::UNAUTHORIZED, "invalid_token");
    refresh_json(&app, &refresh1, None)
        .await
        .assert_refusal(StatusCode::UNAUTHORIZED, "invalid_token");
    assert_eq!(me_status(&app, &access1).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn retrying_the_parent_within_the_grace_window_returns_the_same_successor() {
    let sessions = sessions(); // default grace: 10 s
    let app = router(&sessions);
    let (access0, refresh0) = login_route(&app, "alice").await.tokens();

    let (access1, refresh1) = refresh_json(&app, &refresh0, Some(&access0)).await.tokens();
    // The client lost the answer and retries with the parent (and its access token).
    let (access1b, refresh1b) = refresh_json(&app, &refresh0, Some(&access0)).await.tokens();
    assert_eq!(jti(&refresh1b), jti(&refresh1), "same refresh jti");
    assert_eq!(jti(&access1b), jti(&access1), "same access jti");
    assert_eq!(payload(&refresh1b), payload(&refresh1));
    assert_eq!(payload(&access1b), payload(&access1));

    // Through the API too: IssuedToken.jti.
    let login = start_session(&sessions, "bob").await;
    let a = sessions
        .refresh(login.pair.refresh.as_str(), None)
        .await
        .unwrap();
    let b = sessions
        .refresh(login.pair.refresh.as_str(), None)
        .await
        .unwrap();
    assert_eq!(a.pair.refresh.jti, b.pair.refresh.jti);
    assert_eq!(a.pair.access.jti, b.pair.access.jti);
    assert_eq!(a.session_id, b.session_id);

    // The family is intact: the successor rotates, and its access token works.
    assert_eq!(me_status(&app, &access1).await, StatusCode::OK);
    let (_, refresh2) = refresh_json(&app, &refresh1, Some(&access1)).await.tokens();
    assert_ne!(jti(&refresh2), jti(&refresh1));
}

#[tokio::test]
async fn presenting_the_grandparent_inside_the_grace_window_is_reuse() {
    let sessions = sessions(); // default grace: 10 s
    let app = router(&sessions);
    let (_, parent) = login_route(&app, "alice").await.tokens();
    let (_, child) = refresh_json(&app, &parent, None).await.tokens();
    let (grand_access, grandchild) = refresh_json(&app, &child, None).await.tokens();

    // Within a second or two of its rotation, but two generations back: reuse.
    let res = refresh_json(&app, &parent, None).await;
    res.assert_refusal(StatusCode::UNAUTHORIZED, "invalid_token");
    assert_eq!(
        res.error,
        Some(AuthError::InvalidToken(InvalidToken::RefreshReused))
    );
    refresh_json(&app, &grandchild, None)
        .await
        .assert_refusal(StatusCode::UNAUTHORIZED, "invalid_token");
    assert_eq!(
        me_status(&app, &grand_access).await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn retrying_a_parent_whose_successor_was_already_used_is_reuse() {
    let sessions = sessions();
    let login = start_session(&sessions, "alice").await;
    let child = sessions
        .refresh(login.pair.refresh.as_str(), None)
        .await
        .unwrap();
    let grandchild = sessions
        .refresh(child.pair.refresh.as_str(), None)
        .await
        .unwrap();
    // `child` is the immediate parent of `grandchild`, which is unused: a retry.
    let retry = sessions
        .refresh(child.pair.refresh.as_str(), None)
        .await
        .unwrap();
    assert_eq!(retry.pair.refresh.jti, grandchild.pair.refresh.jti);
    // Use the grandchild; now `child` again is reuse even inside the window.
    let great = sessions
        .refresh(grandchild.pair.refresh.as_str(), None)
        .await
        .unwrap();
    assert_eq!(
        sessions
            .refresh(child.pair.refresh.as_str(), None)
            .await
            .unwrap_err(),
        SessionError::RefreshReused
    );
    assert!(
        sessions
            .refresh(great.pair.refresh.as_str(), None)
            .await
            .is_err()
    );
}

async fn concurrent_refreshes(app: &Router, refresh: &str, n: usize) -> Vec<Resp> {
    let barrier = Arc::new(tokio::sync::Barrier::new(n));
    let mut tasks = Vec::new();
    for _ in 0..n {
        let app = app.clone();
        let barrier = Arc::clone(&barrier);
        let refresh = refresh.to_owned();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            refresh_json(&app, &refresh, None).await
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.expect("task"));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_two_concurrent_refreshes_of_one_token_mint_exactly_one_successor() {
    let sessions = sessions(); // default grace: the 31 others are retries
    let app = router(&sessions);
    let (_, refresh0) = login_route(&app, "alice").await.tokens();

    let answers = concurrent_refreshes(&app, &refresh0, 32).await;
    let mut refresh_jtis = HashSet::new();
    let mut access_jtis = HashSet::new();
    for a in &answers {
        let (access, refresh) = a.tokens();
        refresh_jtis.insert(jti(&refresh));
        access_jtis.insert(jti(&access));
    }
    assert_eq!(refresh_jtis.len(), 1, "one successor: {refresh_jtis:?}");
    assert_eq!(access_jtis.len(), 1, "one access token: {access_jtis:?}");
    assert!(!refresh_jtis.contains(&jti(&refresh0)));

    // That successor is the family's current token.
    let (access1, refresh1) = answers[0].tokens();
    assert_eq!(me_status(&app, &access1).await, StatusCode::OK);
    assert_eq!(
        refresh_json(&app, &refresh1, None).await.status,
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_two_concurrent_refreshes_without_grace_one_wins_and_the_family_is_revoked() {
    let sessions = sessions_builder(&auth())
        .grace(Duration::ZERO)
        .build()
        .unwrap();
    let app = router(&sessions);
    let (_, refresh0) = login_route(&app, "alice").await.tokens();

    let answers = concurrent_refreshes(&app, &refresh0, 32).await;
    let winners: Vec<&Resp> = answers
        .iter()
        .filter(|a| a.status == StatusCode::OK)
        .collect();
    assert_eq!(winners.len(), 1, "exactly one rotation succeeds");
    for a in answers.iter().filter(|a| a.status != StatusCode::OK) {
        a.assert_refusal(StatusCode::UNAUTHORIZED, "invalid_token");
    }
    // The others were reuse: the family, the winner's pair included, is revoked.
    let (access1, refresh1) = winners[0].tokens();
    refresh_json(&app, &refresh1, None)
        .await
        .assert_refusal(StatusCode::UNAUTHORIZED, "invalid_token");
    assert_eq!(me_status(&app, &access1).await, StatusCode::UNAUTHORIZED);
    assert!(sessions.list("alice").await.unwrap().is_empty());
}

// ---------------------------------------------------------------------------------------
// Access token binding and policies
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn an_access_token_from_another_login_revokes_the_family() {
    let sessions = sessions();
    let app = router(&sessions);
    let (access_a, refresh_a) = login_route(&app, "alice").await.tokens();
    let (access_b, refresh_b) = login_route(&app, "alice").await.tokens();

    // Same user, but B's access token was not issued with A's refresh token.
    let res = refresh_json(&app, &refresh_a, Some(&access_b)).await;
    res.assert_refusal(StatusCode::UNAUTHORIZED, "invalid_token");
    assert_eq!(
        res.error,
        Some(AuthError::InvalidToken(InvalidToken::RefreshReused))
    );
    // A's family is gone: its refresh token (even alone) and its access token.
    refresh_json(&app, &refresh_a, None)
        .await
        .assert_refusal(StatusCode::UNAUTHORIZED, "invalid_token");
    refresh_json(&app, &refresh_a, Some(&access_a))
        .await
        .assert_refusal(StatusCode::UNAUTHORIZED, "invalid_token");
    assert_eq!(me_status(&app, &access_a).await, StatusCode::UNAUTHORIZED);
    // B's own session is untouched.
    let (access_b1, _) = refresh_json(&app, &refresh_b, Some(&access_b))
        .await
        .tokens();
    assert_eq!(me_status(&app, &access_b1).await, StatusCode::OK);
}

#[tokio::test]
async fn the_api_tells_a_foreign_access_token_from_a_reuse() {
    // No grace window: the second presentation of a consumed token is a reuse at once.
    let sessions = sessions_builder(&auth())
        .grace(Duration::ZERO)
        .build()
        .unwrap();
    let a = start_session(&sessions, "alice").await;
    let b = start_session(&sessions, "alice").await;
    let e = sessions
        .refresh(a.pair.refresh.as_str(), Some(b.pair.access.as_str()))
        .await
        .unwrap_err();
    assert_eq!(e, SessionError::AccessTokenMismatch);
    assert_eq!(
        AuthError::from(e),
        AuthError::InvalidToken(InvalidToken::RefreshReused)
    );
    // A's session is over; B's is not.
    assert_eq!(
        sessions
            .refresh(a.pair.refresh.as_str(), None)
            .await
            .unwrap_err(),
        SessionError::SessionEnded
    );
    let next = sessions
        .refresh(b.pair.refresh.as_str(), None)
        .await
        .unwrap();
    // Presenting B's consumed token again is a reuse, told as such.
    assert_eq!(
        sessions
            .refresh(b.pair.refresh.as_str(), None)
            .await
            .unwrap_err(),
        SessionError::RefreshReused
    );
    assert_eq!(
        sessions
            .refresh(next.pair.refresh.as_str(), None)
            .await
            .unwrap_err(),
        SessionError::SessionEnded
    );
}

#[tokio::test]
async fn another_users_access_token_with_a_refresh_token_revokes_the_family() {
    let sessions = sessions();
    let app = router(&sessions);
    let (_, refresh_a) = login_route(&app, "alice").await.tokens();
    let (access_m, _) = login_route(&app, "mallory").await.tokens();
    refresh_json(&app, &refresh_a, Some(&access_m))
        .await
        .assert_refusal(StatusCode::UNAUTHORIZED, "invalid_token");
    refresh_json(&app, &refresh_a, None)
        .await
        .assert_refusal(StatusCode::UNAUTHORIZED, "invalid_token");
}

/// A `Sessions` over `store` whose clock says `at`.
fn sessions_at(store: &Arc<dyn RefreshStore>, at: u64) -> SessionsBuilder {
    let auth = builder().clock(FixedClock(at)).build().unwrap();
    Sessions::builder_shared(auth, Arc::clone(store))
}

#[tokio::test]
async fn the_matching_access_token_is_accepted_even_when_expired() {
    let store = shared_store();
    let now = unix_now();
    // Logged in 1000 s ago: the 15 min access token expired 100 s ago.
    let past = sessions_at(&store, now - 1000).build().unwrap();
    let login = start_session(&past, "alice").await;
    let current = Sessions::builder_shared(auth(), Arc::clone(&store))
        .build()
        .unwrap();
    let app = router(&current);
    let access = login.pair.access.as_str();
    assert_eq!(me_status(&app, access).await, StatusCode::UNAUTHORIZED);

    let res = refresh_json(&app, login.pair.refresh.as_str(), Some(access)).await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
    let (access1, _) = res.tokens();
    assert_eq!(me_status(&app, &access1).await, StatusCode::OK);
}

#[tokio::test]
async fn require_expired_access_refuses_a_refresh_with_a_live_access_token() {
    let sessions = sessions_builder(&auth())
        .require_expired_access(true)
        .build()
        .unwrap();
    let app = router(&sessions);
    let (access0, refresh0) = login_route(&app, "alice").await.tokens();
    let res = refresh_json(&app, &refresh0, Some(&access0)).await;
    res.assert_refusal(StatusCode::BAD_REQUEST, "invalid_request");
    assert_eq!(
        res.error,
        Some(AuthError::InvalidRequest(
            InvalidRequest::AccessTokenNotExpired
        ))
    );
    // The refusal consumed nothing: the pair still works.
    assert_eq!(me_status(&app, &access0).await, StatusCode::OK);
    assert_eq!(
        refresh_json(&app, &refresh0, None).await.status,
        StatusCode::OK
    );

    // With an expired (matching) access token the policy lets the refresh through.
    let store = shared_store();
    let past = sessions_at(&store, unix_now() - 1000).build().unwrap();
    let old = start_session(&past, "alice").await;
    let strict = Sessions::builder_shared(auth(), store)
        .require_expired_access(true)
        .build()
        .unwrap();
    let app = router(&strict);
    let res = refresh_json(
        &app,
        old.pair.refresh.as_str(),
        Some(old.pair.access.as_str()),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
}

#[tokio::test]
async fn by_default_a_refresh_with_a_live_access_token_is_fine() {
    let sessions = sessions();
    let app = router(&sessions);
    let (access0, refresh0) = login_route(&app, "alice").await.tokens();
    let res = refresh_json(&app, &refresh0, Some(&access0)).await;
    assert_eq!(res.status, StatusCode::OK);
}

// ---------------------------------------------------------------------------------------
// Family lifetime, claims
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn successors_never_outlive_the_family_and_the_family_ends_at_its_lifetime() {
    let store = shared_store();
    let t = unix_now();
    let hour = Duration::from_secs(3600);
    let lifetime = Duration::from_secs(5000);
    let at = |s: u64| {
        let auth = builder()
            .refresh_ttl(hour)
            .clock(FixedClock(t + s))
            .build()
            .unwrap();
        Sessions::builder_shared(auth, Arc::clone(&store))
            .session_lifetime(lifetime)
            .build()
            .unwrap()
    };
    let login = start_session(&at(0), "alice").await;
    assert_eq!(login.pair.refresh.expires_at, t + 3600);

    // At T+3000 a fresh refresh token would live until T+6600: capped at T+5000.
    let s3000 = at(3000);
    let next = s3000
        .refresh(login.pair.refresh.as_str(), None)
        .await
        .unwrap();
    assert_eq!(next.pair.refresh.expires_at, t + 5000);
    assert_eq!(payload(next.pair.refresh.as_str())["exp"], t + 5000);
    assert_eq!(
        next.pair.access.expires_at,
        t + 3000 + 900,
        "access tokens are not capped"
    );

    // On the wire: the refresh cookie's Max-Age stops at the family's end too.
    let app = router(&s3000);
    let res = req(Method::POST, "/auth/refresh")
        .cookie(REFRESH_COOKIE, next.pair.refresh.as_str())
        .csrf(&login.csrf)
        .send(&app)
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.set_cookie(REFRESH_COOKIE).max_age(), Some(2000));
    assert_eq!(res.json()["refresh_expires_in"], 2000);
    let (_, refresh2) = res.tokens();
    assert_eq!(payload(&refresh2)["exp"], t + 5000);

    // The sessions list shows the family's end.
    let list = s3000.list("alice").await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].created_at, t);
    assert_eq!(list[0].expires_at, t + 5000);

    // Past the end (T+5001; the token itself is still inside its leeway) the family is over.
    let s5001 = at(5001);
    assert_eq!(
        s5001.refresh(&refresh2, None).await.unwrap_err(),
        SessionError::SessionEnded
    );
    assert!(s5001.list("alice").await.unwrap().is_empty());
}

#[tokio::test]
async fn family_lifetime_equal_to_refresh_ttl_caps_every_successor_at_login_plus_lifetime() {
    let store = shared_store();
    let t = unix_now();
    let at = |s: u64| {
        let auth = builder().clock(FixedClock(t + s)).build().unwrap();
        Sessions::builder_shared(auth.clone(), Arc::clone(&store))
            .session_lifetime(auth.refresh_ttl())
            .build()
            .unwrap()
    };
    let ttl = auth().refresh_ttl().as_secs();
    let login = start_session(&at(0), "alice").await;
    let mut refresh = login.pair.refresh.clone();
    for step in [10, 100, 86_400] {
        let next = at(step).refresh(refresh.as_str(), None).await.unwrap();
        assert_eq!(next.pair.refresh.expires_at, t + ttl, "step {step}");
        refresh = next.pair.refresh;
    }
}

#[test]
fn sessions_builder_refuses_out_of_range_settings() {
    let a = auth();
    assert!(
        sessions_builder(&a)
            .grace(Duration::from_secs(61))
            .build()
            .is_err()
    );
    assert!(
        sessions_builder(&a)
            .session_lifetime(a.refresh_ttl() - Duration::from_secs(1))
            .build()
            .is_err()
    );
    assert!(
        sessions_builder(&a)
            .grace(Duration::from_secs(60))
            .session_lifetime(a.refresh_ttl())
            .build()
            .is_ok()
    );
}

#[tokio::test]
async fn refresh_never_widens_scopes_or_changes_tenant_metadata_or_custom_claims() {
    let sessions = sessions();
    let app = router(&sessions);
    let request = TokenRequest::new("alice")
        .scopes(["users:read", "orders:write"])
        .tenant("community_123")
        .metadata("installed_by", "user_456")
        .claims(&json!({ "org": "acme", "level": 3 }));
    let login = sessions.login(&request, None).await.unwrap();

    // A client cannot ask for more: unknown body fields are refused.
    let res = req(Method::POST, "/auth/refresh")
        .json(json!({ "refresh_token": login.pair.refresh.as_str(), "scope": "admin" }))
        .send(&app)
        .await;
    res.assert_refusal(StatusCode::BAD_REQUEST, "invalid_request");

    let (access1, refresh1) = refresh_json(&app, login.pair.refresh.as_str(), None)
        .await
        .tokens();
    let (access2, refresh2) = refresh_json(&app, &refresh1, None).await.tokens();
    let strip = |token: &str| {
        let mut v = payload(token);
        let m = v.as_object_mut().unwrap();
        for k in ["jti", "iat", "exp", "nbf"] {
            m.remove(k);
        }
        v
    };
    let original_access = strip(login.pair.access.as_str());
    let original_refresh = strip(login.pair.refresh.as_str());
    assert_eq!(original_access["scope"], "users:read orders:write");
    assert_eq!(original_access["tenant"], "community_123");
    assert_eq!(original_access["metadata"]["installed_by"], "user_456");
    assert_eq!(original_access["org"], "acme");
    assert_eq!(original_access["level"], 3);
    for (a, r) in [(&access1, &refresh1), (&access2, &refresh2)] {
        assert_eq!(strip(a), original_access);
        assert_eq!(strip(r), original_refresh);
        assert_eq!(header_of(a)["typ"], "at+jwt");
        assert_eq!(header_of(r)["typ"], "refresh+jwt");
    }
}

// ---------------------------------------------------------------------------------------
// Logout
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn logout_with_bearer_and_json_body_revokes_both_and_clears_all_cookies() {
    let auth = builder()
        .cookies(CookieSettings::default().domain("example.com"))
        .build()
        .unwrap();
    let sessions = sessions_builder(&auth).build().unwrap();
    let app = router(&sessions);
    let (access, refresh) = login_route(&app, "alice").await.tokens();

    let res = req(Method::POST, "/auth/logout")
        .bearer(&access)
        .json(json!({ "refresh_token": refresh }))
        .send(&app)
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    assert!(res.body.is_empty());

    let cookies = res.set_cookies();
    assert_eq!(cookies.len(), 3, "{cookies:?}");
    for (name, path, same_site, http_only) in [
        ("__Secure-access_token", "/", "Lax", true),
        ("__Secure-refresh_token", "/auth", "Strict", true),
        ("__Secure-csrf_token", "/", "Strict", false),
    ] {
        let c = res.set_cookie(name);
        assert_eq!(c.value, "", "{}", c.raw);
        assert_eq!(c.max_age(), Some(0), "{}", c.raw);
        assert_eq!(c.attr("path"), Some(path), "{}", c.raw);
        assert_eq!(c.attr("samesite"), Some(same_site), "{}", c.raw);
        assert_eq!(c.attr("domain"), Some("example.com"), "{}", c.raw);
        assert!(c.flag("secure"), "{}", c.raw);
        assert_eq!(c.flag("httponly"), http_only, "{}", c.raw);
    }

    assert_eq!(me_status(&app, &access).await, StatusCode::UNAUTHORIZED);
    let res = refresh_json(&app, &refresh, None).await;
    res.assert_refusal(StatusCode::UNAUTHORIZED, "invalid_token");
    assert_eq!(
        res.error,
        Some(AuthError::InvalidToken(InvalidToken::SessionEnded))
    );
    assert!(sessions.list("alice").await.unwrap().is_empty());
}

#[tokio::test]
async fn logout_with_only_a_bearer_access_token_ends_its_family() {
    let sessions = sessions();
    let app = router(&sessions);
    let (access, refresh) = login_route(&app, "alice").await.tokens();
    let res = req(Method::POST, "/auth/logout")
        .bearer(&access)
        .send(&app)
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    assert_eq!(me_status(&app, &access).await, StatusCode::UNAUTHORIZED);
    refresh_json(&app, &refresh, None)
        .await
        .assert_refusal(StatusCode::UNAUTHORIZED, "invalid_token");

    // No credentials at all: 401 with the bare challenge.
    let res = req(Method::POST, "/auth/logout").send(&app).await;
    res.assert_refusal(StatusCode::UNAUTHORIZED, "unauthorized");
    assert_eq!(res.header(WWW_AUTHENTICATE), Some("Bearer realm=\"api\""));
}

// ---------------------------------------------------------------------------------------
// CSRF
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn cookie_authenticated_unsafe_requests_need_the_bound_csrf_value() {
    let sessions = sessions();
    let app = router(&sessions);
    let login = login_route(&app, "alice").await;
    let jar = cookie_jar(&login);
    let access = jar.get(ACCESS_COOKIE).unwrap().to_owned();
    let csrf = jar.get(CSRF_COOKIE).unwrap().to_owned();
    assert_eq!(
        payload(&access)["csrf"],
        csrf_digest(&csrf),
        "the cookie's value is bound into the token"
    );
    let post_users = || {
        req(Method::POST, "/users")
            .cookie(ACCESS_COOKIE, &access)
            .cookie(CSRF_COOKIE, &csrf)
    };

    // No header: 403 with a JSON body.
    let res = post_users().send(&app).await;
    res.assert_refusal(StatusCode::FORBIDDEN, "invalid_request");
    assert_eq!(
        res.error,
        Some(AuthError::InvalidRequest(InvalidRequest::CsrfMismatch))
    );
    // A forged value: 403.
    let res = post_users().csrf("forged-value").send(&app).await;
    res.assert_refusal(StatusCode::FORBIDDEN, "invalid_request");
    // Another session's value (valid for that session, not this token): 403.
    let other = cookie_jar(&login_route(&app, "alice").await)
        .get(CSRF_COOKIE)
        .unwrap()
        .to_owned();
    assert_ne!(other, csrf);
    let res = post_users().csrf(&other).send(&app).await;
    res.assert_refusal(StatusCode::FORBIDDEN, "invalid_request");
    // The right value: through.
    let res = post_users().csrf(&csrf).send(&app).await;
    assert_eq!(res.status, StatusCode::CREATED, "{:?}", res.body);
    // Same-origin Origin header: through.
    let res = post_users()
        .csrf(&csrf)
        .header(HOST.as_str(), "api.example.com")
        .header(ORIGIN.as_str(), "https://api.example.com")
        .send(&app)
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{:?}", res.body);

    // Cross-site, even with the right value: 403.
    let res = post_users()
        .csrf(&csrf)
        .header("sec-fetch-site", "cross-site")
        .send(&app)
        .await;
    res.assert_refusal(StatusCode::FORBIDDEN, "invalid_request");
    assert_eq!(
        res.error,
        Some(AuthError::InvalidRequest(InvalidRequest::CrossSite))
    );
    let res = post_users()
        .csrf(&csrf)
        .header(HOST.as_str(), "api.example.com")
        .header(ORIGIN.as_str(), "https://evil.example.net")
        .send(&app)
        .await;
    res.assert_refusal(StatusCode::FORBIDDEN, "invalid_request");

    // Bearer requests are exempt.
    let res = req(Method::POST, "/users").bearer(&access).send(&app).await;
    assert_eq!(res.status, StatusCode::CREATED);
    // Safe methods with the cookie need no CSRF value.
    let res = req(Method::GET, "/me")
        .cookie(ACCESS_COOKIE, &access)
        .send(&app)
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.json()["sub"], "alice");
    // DELETE through the sessions route, by cookie, needs it too.
    let fam = payload(&access)["fam"].as_str().unwrap().to_owned();
    let res = req(Method::DELETE, &format!("/auth/sessions/{fam}"))
        .cookie(ACCESS_COOKIE, &access)
        .send(&app)
        .await;
    res.assert_refusal(StatusCode::FORBIDDEN, "invalid_request");
    assert_eq!(sessions.list("alice").await.unwrap().len(), 2);
}

#[tokio::test]
async fn refresh_and_logout_by_cookie_need_the_csrf_value_but_json_refresh_does_not() {
    let sessions = sessions();
    let app = router(&sessions);
    let jar = cookie_jar(&login_route(&app, "alice").await);
    let (access, refresh, csrf) = (
        jar.get(ACCESS_COOKIE).unwrap().to_owned(),
        jar.get(REFRESH_COOKIE).unwrap().to_owned(),
        jar.get(CSRF_COOKIE).unwrap().to_owned(),
    );
    let by_cookie = |path: &str, access: &str, refresh: &str| {
        req(Method::POST, path)
            .cookie(ACCESS_COOKIE, access)
            .cookie(REFRESH_COOKIE, refresh)
            .cookie(CSRF_COOKIE, &csrf)
    };

    // Refresh by cookie without the header: 403, and nothing was consumed.
    let res = by_cookie("/auth/refresh", &access, &refresh)
        .send(&app)
        .await;
    res.assert_refusal(StatusCode::FORBIDDEN, "invalid_request");
    let res = by_cookie("/auth/refresh", &access, &refresh)
        .csrf("forged")
        .send(&app)
        .await;
    res.assert_refusal(StatusCode::FORBIDDEN, "invalid_request");
    let res = by_cookie("/auth/refresh", &access, &refresh)
        .csrf(&csrf)
        .header("sec-fetch-site", "cross-site")
        .send(&app)
        .await;
    res.assert_refusal(StatusCode::FORBIDDEN, "invalid_request");
    // With it: rotated (no grace retry involved: the token was not consumed before).
    let res = by_cookie("/auth/refresh", &access, &refresh)
        .csrf(&csrf)
        .send(&app)
        .await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
    let (access1, refresh1) = res.tokens();
    assert_eq!(res.set_cookie(REFRESH_COOKIE).value, refresh1);
    // The successor keeps the CSRF binding of the login.
    assert_eq!(payload(&refresh1)["csrf"], csrf_digest(&csrf));
    assert_eq!(payload(&access1)["csrf"], csrf_digest(&csrf));

    // A JSON-body refresh is exempt (a page cannot know the HttpOnly token).
    let (access2, refresh2) = refresh_json(&app, &refresh1, None).await.tokens();

    // Logout by cookie without the header: 403 and the session lives on.
    let res = by_cookie("/auth/logout", &access2, &refresh2)
        .send(&app)
        .await;
    res.assert_refusal(StatusCode::FORBIDDEN, "invalid_request");
    assert!(
        res.set_cookies().is_empty(),
        "a refused logout clears nothing"
    );
    // Only the access cookie: still 403.
    let res = req(Method::POST, "/auth/logout")
        .cookie(ACCESS_COOKIE, &access2)
        .send(&app)
        .await;
    res.assert_refusal(StatusCode::FORBIDDEN, "invalid_request");
    assert_eq!(me_status(&app, &access2).await, StatusCode::OK);
    // With it: 204.
    let res = by_cookie("/auth/logout", &access2, &refresh2)
        .csrf(&csrf)
        .send(&app)
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    assert_eq!(me_status(&app, &access2).await, StatusCode::UNAUTHORIZED);
    refresh_json(&app, &refresh2, None)
        .await
        .assert_refusal(StatusCode::UNAUTHORIZED, "invalid_token");
}

/// Browsers attach cached `Authorization: Basic` credentials to cross-site requests by
/// themselves; only a *Bearer* header proves the request was made by script. The layer
/// gets this right (see the next test); `logout_route` used to exempt any `Authorization`
/// header (`has_bearer` in src/refresh.rs only checked that the header existed).
#[tokio::test]
async fn cookie_logout_with_a_basic_authorization_header_still_needs_the_csrf_value() {
    let sessions = sessions();
    let app = router(&sessions);
    let jar = cookie_jar(&login_route(&app, "alice").await);
    let access = jar.get(ACCESS_COOKIE).unwrap().to_owned();
    let res = req(Method::POST, "/auth/logout")
        .cookie(ACCESS_COOKIE, &access)
        .header(AUTHORIZATION.as_str(), "Basic dXNlcjpwYXNz")
        .send(&app)
        .await;
    res.assert_refusal(StatusCode::FORBIDDEN, "invalid_request");
    assert_eq!(me_status(&app, &access).await, StatusCode::OK);
}

#[tokio::test]
async fn the_layer_does_not_exempt_cookie_requests_carrying_a_basic_authorization_header() {
    let sessions = sessions();
    let app = router(&sessions);
    let jar = cookie_jar(&login_route(&app, "alice").await);
    let res = req(Method::POST, "/users")
        .cookie(ACCESS_COOKIE, jar.get(ACCESS_COOKIE).unwrap())
        .header(AUTHORIZATION.as_str(), "Basic dXNlcjpwYXNz")
        .send(&app)
        .await;
    res.assert_refusal(StatusCode::FORBIDDEN, "invalid_request");
}

// ---------------------------------------------------------------------------------------
// Cookies on the wire
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn login_sets_cookies_with_secure_attributes() {
    let sessions = sessions();
    let app = router(&sessions);
    let res = login_route(&app, "alice").await;
    assert_eq!(res.header(CACHE_CONTROL), Some("no-store"));
    let (access, refresh) = res.tokens();
    assert_eq!(res.set_cookies().len(), 3);

    let a = res.set_cookie(ACCESS_COOKIE);
    assert_eq!(a.value, access);
    assert!(a.flag("httponly") && a.flag("secure"), "{}", a.raw);
    assert_eq!(a.attr("samesite"), Some("Lax"), "{}", a.raw);
    assert_eq!(a.attr("path"), Some("/"), "{}", a.raw);
    assert_eq!(a.max_age(), Some(900), "{}", a.raw);
    assert_eq!(a.attr("domain"), None, "host-only by default");

    let r = res.set_cookie(REFRESH_COOKIE);
    assert_eq!(r.value, refresh);
    assert!(r.flag("httponly") && r.flag("secure"), "{}", r.raw);
    assert_eq!(r.attr("samesite"), Some("Strict"), "{}", r.raw);
    assert_eq!(r.attr("path"), Some("/auth"), "{}", r.raw);
    assert_eq!(r.max_age(), Some(7 * 86400), "{}", r.raw);

    let c = res.set_cookie(CSRF_COOKIE);
    assert!(!c.flag("httponly"), "script must read it: {}", c.raw);
    assert!(c.flag("secure"), "{}", c.raw);
    assert_eq!(c.attr("path"), Some("/"), "{}", c.raw);
    assert!(c.value.len() >= 22, "128 random bits: {}", c.raw);
    assert_eq!(payload(&access)["csrf"], csrf_digest(&c.value));
    assert_eq!(payload(&refresh)["csrf"], csrf_digest(&c.value));
    assert!(
        !res.body
            .windows(c.value.len())
            .any(|w| w == c.value.as_bytes())
    );
}

#[tokio::test]
async fn prefixed_names_are_the_default_and_the_layer_reads_the_prefixed_one() {
    let auth = builder().build().unwrap();
    let sessions = sessions_builder(&auth).build().unwrap();
    let app = router(&sessions);
    let res = login_route(&app, "alice").await;
    let names: HashSet<String> = res.set_cookies().into_iter().map(|c| c.name).collect();
    assert_eq!(
        names,
        HashSet::from([
            "__Host-access_token".to_owned(),
            "__Secure-refresh_token".to_owned(),
            "__Host-csrf_token".to_owned(),
        ])
    );
    for c in res.set_cookies() {
        assert!(c.flag("secure"), "{}", c.raw);
        assert_eq!(c.attr("domain"), None, "{}", c.raw);
        if c.name.starts_with("__Host-") {
            assert_eq!(c.attr("path"), Some("/"), "{}", c.raw);
        }
    }
    let jar = cookie_jar(&res);
    let access = jar.get("__Host-access_token").unwrap();
    let ok = req(Method::GET, "/me")
        .cookie("__Host-access_token", access)
        .send(&app)
        .await;
    assert_eq!(ok.status, StatusCode::OK);
    // A cookie tossed under the plain name (say from a sibling subdomain) is no token.
    let unprefixed = req(Method::GET, "/me")
        .cookie("access_token", access)
        .send(&app)
        .await;
    assert_eq!(unprefixed.status, StatusCode::UNAUTHORIZED);
    // Cookie refresh with the prefixed names.
    let res = req(Method::POST, "/auth/refresh")
        .cookie(
            "__Secure-refresh_token",
            jar.get("__Secure-refresh_token").unwrap(),
        )
        .csrf(jar.get("__Host-csrf_token").unwrap())
        .send(&app)
        .await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
    assert!(
        res.set_cookies()
            .iter()
            .any(|c| c.name == "__Secure-refresh_token")
    );
}

/// The family (and its refresh cookies) lives up to `session_lifetime` (30 days by
/// default), longer than the first refresh token. A cookie refresh renews the CSRF cookie
/// with the refresh cookie, so a browser can always send `X-CSRF-Token` while the session
/// is alive.
#[tokio::test]
async fn the_csrf_cookie_lives_as_long_as_the_refresh_cookies_of_its_family() {
    let store = shared_store();
    let t = unix_now();
    let at = |s: u64| {
        let auth = builder().clock(FixedClock(t + s)).build().unwrap();
        Sessions::builder_shared(auth, Arc::clone(&store))
            .build()
            .unwrap()
    };
    let app0 = router(&at(0));
    let login = login_route(&app0, "alice").await;
    let jar = cookie_jar(&login);
    let mut csrf_expires = t + login.set_cookie(CSRF_COOKIE).max_age().unwrap() as u64;

    // Six days later the browser refreshes by cookie (the access cookie has long expired).
    let six_days = 6 * 86400;
    let app6 = router(&at(six_days));
    let res = req(Method::POST, "/auth/refresh")
        .cookie(REFRESH_COOKIE, jar.get(REFRESH_COOKIE).unwrap())
        .cookie(CSRF_COOKIE, jar.get(CSRF_COOKIE).unwrap())
        .csrf(jar.get(CSRF_COOKIE).unwrap())
        .send(&app6)
        .await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
    let refresh_expires = t + six_days + res.set_cookie(REFRESH_COOKIE).max_age().unwrap() as u64;
    if let Some(c) = res.set_cookies().iter().find(|c| c.name == CSRF_COOKIE) {
        csrf_expires = t + six_days + c.max_age().unwrap() as u64;
    }
    assert!(
        csrf_expires >= refresh_expires,
        "the CSRF cookie expires at T+{}s, the refresh cookie at T+{}s: from then on the \
         browser cannot refresh",
        csrf_expires - t,
        refresh_expires - t
    );
}

// ---------------------------------------------------------------------------------------
// Malformed refresh requests
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn garbage_and_malformed_refresh_requests_are_refused_with_rfc6750_answers() {
    let sessions = sessions();
    let app = router(&sessions);
    let (access, refresh) = login_route(&app, "alice").await.tokens();
    let (_, other_refresh) = login_route(&app, "alice").await.tokens();
    let post = || req(Method::POST, "/auth/refresh");
    let json_ct = Some("application/json");
    let malformed = Some(AuthError::InvalidRequest(InvalidRequest::MalformedBody));

    let cases: Vec<(&str, Req, StatusCode, &str, Option<AuthError>)> = vec![
        (
            "not json",
            post().raw(json_ct, "not json"),
            StatusCode::BAD_REQUEST,
            "invalid_request",
            malformed.clone(),
        ),
        (
            "number token",
            post().json(json!({ "refresh_token": 5 })),
            StatusCode::BAD_REQUEST,
            "invalid_request",
            malformed.clone(),
        ),
        (
            "empty token",
            post().json(json!({ "refresh_token": "" })),
            StatusCode::BAD_REQUEST,
            "invalid_request",
            malformed.clone(),
        ),
        (
            "null token",
            post().json(json!({ "refresh_token": null })),
            StatusCode::BAD_REQUEST,
            "invalid_request",
            malformed.clone(),
        ),
        (
            "empty object",
            post().json(json!({})),
            StatusCode::BAD_REQUEST,
            "invalid_request",
            malformed.clone(),
        ),
        (
            "array",
            post().json(json!([5])),
            StatusCode::BAD_REQUEST,
            "invalid_request",
            malformed.clone(),
        ),
        (
            "unknown field",
            post().json(json!({ "refresh_token": refresh, "grant_type": "refresh_token" })),
            StatusCode::BAD_REQUEST,
            "invalid_request",
            malformed.clone(),
        ),
        (
            "json without content type",
            post().raw(None, json!({ "refresh_token": refresh }).to_string()),
            StatusCode::BAD_REQUEST,
            "invalid_request",
            malformed.clone(),
        ),
        (
            "json as text/plain",
            post().raw(
                Some("text/plain"),
                json!({ "refresh_token": refresh }).to_string(),
            ),
            StatusCode::BAD_REQUEST,
            "invalid_request",
            malformed.clone(),
        ),
        (
            "form body",
            post().raw(
                Some("application/x-www-form-urlencoded"),
                format!("refresh_token={refresh}"),
            ),
            StatusCode::BAD_REQUEST,
            "invalid_request",
            malformed.clone(),
        ),
        (
            "huge body",
            post().json(json!({ "refresh_token": "a".repeat(17 * 1024) })),
            StatusCode::BAD_REQUEST,
            "invalid_request",
            malformed.clone(),
        ),
        (
            "random string",
            post().json(json!({ "refresh_token": "definitely-not-a-jwt" })),
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            Some(AuthError::InvalidToken(InvalidToken::Malformed)),
        ),
        (
            "access token as refresh token",
            post().json(json!({ "refresh_token": access })),
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            None,
        ),
        (
            "tampered signature",
            post().json(json!({ "refresh_token": format!("{}x", &refresh[..refresh.len() - 1]) })),
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            None,
        ),
        (
            "no token at all",
            post(),
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            Some(AuthError::MissingCredentials),
        ),
        (
            "whitespace body, no cookie",
            post().raw(json_ct, "  \n "),
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            Some(AuthError::MissingCredentials),
        ),
        (
            "body token and a different cookie token",
            post()
                .json(json!({ "refresh_token": refresh }))
                .cookie(REFRESH_COOKIE, &other_refresh),
            StatusCode::BAD_REQUEST,
            "invalid_request",
            Some(AuthError::InvalidRequest(
                InvalidRequest::ConflictingCredentials,
            )),
        ),
        (
            "two Authorization headers",
            post()
                .json(json!({ "refresh_token": refresh }))
                .bearer(&access)
                .bearer(&access),
            StatusCode::BAD_REQUEST,
            "invalid_request",
            Some(AuthError::InvalidRequest(
                InvalidRequest::MultipleAuthorization,
            )),
        ),
        (
            "garbage bearer access token",
            post()
                .json(json!({ "refresh_token": refresh }))
                .bearer("abc.def.ghi"),
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            None,
        ),
    ];
    for (name, request, status, error, exact) in cases {
        let res = request.send(&app).await;
        assert_eq!(
            res.status,
            status,
            "{name}: {}",
            String::from_utf8_lossy(&res.body)
        );
        res.assert_refusal(status, error);
        if let Some(e) = exact {
            assert_eq!(res.error.as_ref(), Some(&e), "{name}");
        }
        if let Some(AuthError::InvalidToken(InvalidToken::WrongKind { .. })) = &res.error {
            assert_eq!(name, "access token as refresh token");
        }
        if name == "no token at all" {
            assert_eq!(res.header(WWW_AUTHENTICATE), Some("Bearer realm=\"api\""));
        }
        assert!(
            !String::from_utf8_lossy(&res.body).contains(&refresh),
            "{name}: never echo the token"
        );
    }
    let wrong_kind = post()
        .json(json!({ "refresh_token": access }))
        .send(&app)
        .await;
    assert!(
        matches!(
            wrong_kind.error,
            Some(AuthError::InvalidToken(InvalidToken::WrongKind { .. }))
        ),
        "{:?}",
        wrong_kind.error
    );

    // None of this consumed the refresh token (nor revoked its family), except the
    // garbage bearer case which never reached the store either.
    let res = refresh_json(&app, &refresh, Some(&access)).await;
    assert_eq!(res.status, StatusCode::OK, "{:?}", res.body);
    // The route only answers POST.
    let res = req(Method::GET, "/auth/refresh").send(&app).await;
    assert_eq!(res.status, StatusCode::METHOD_NOT_ALLOWED);
}

/// The documented body is the object `{"refresh_token": …}` (unknown fields refused), but
/// serde's derived `Deserialize` also accepts a struct as a JSON array of its fields, so
/// `["<token>"]` rotates the token.
#[tokio::test]
async fn a_json_array_is_not_a_refresh_request_body() {
    let sessions = sessions();
    let app = router(&sessions);
    let (_, refresh) = login_route(&app, "alice").await.tokens();
    let res = req(Method::POST, "/auth/refresh")
        .json(json!([refresh]))
        .send(&app)
        .await;
    res.assert_refusal(StatusCode::BAD_REQUEST, "invalid_request");
}

#[tokio::test]
async fn a_refresh_token_is_refused_on_protected_routes() {
    let sessions = sessions();
    let app = router(&sessions);
    let (_, refresh) = login_route(&app, "alice").await.tokens();
    let res = req(Method::GET, "/me").bearer(&refresh).send(&app).await;
    res.assert_refusal(StatusCode::UNAUTHORIZED, "invalid_token");
}

// ---------------------------------------------------------------------------------------
// Session lists
// ---------------------------------------------------------------------------------------

async fn login_with_agent(app: &Router, user: &str, agent: &str) -> (String, String, String) {
    let res = req(Method::POST, "/auth/login")
        .header(USER_AGENT.as_str(), agent)
        .json(json!({ "username": user }))
        .send(app)
        .await;
    let (access, refresh) = res.tokens();
    let fam = payload(&access)["fam"].as_str().unwrap().to_owned();
    assert_eq!(payload(&refresh)["fam"], fam.as_str());
    (access, refresh, fam)
}

#[tokio::test]
async fn sessions_are_listed_revoked_per_device_and_per_user() {
    let sessions = sessions();
    let app = router(&sessions);
    let (access_a, refresh_a, fam_a) = login_with_agent(&app, "alice", "device-A").await;
    let (access_b, refresh_b, fam_b) = login_with_agent(&app, "alice", "device-B").await;
    let (access_c, refresh_c, fam_c) = login_with_agent(&app, "bob", "device-C").await;

    let res = req(Method::GET, "/auth/sessions")
        .bearer(&access_a)
        .send(&app)
        .await;
    assert_eq!(res.status, StatusCode::OK);
    let list = res.json();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2, "{list:?}");
    let by_id: HashMap<&str, &Value> = list
        .iter()
        .map(|s| (s["id"].as_str().unwrap(), s))
        .collect();
    assert_eq!(by_id[fam_a.as_str()]["current"], true);
    assert_eq!(by_id[fam_b.as_str()]["current"], false);
    assert_eq!(by_id[fam_a.as_str()]["user_agent"], "device-A");
    assert_eq!(by_id[fam_b.as_str()]["user_id"], "alice");
    assert!(!by_id.contains_key(fam_c.as_str()), "not bob's");
    // B sees the same list from its own side.
    let list_b = req(Method::GET, "/auth/sessions")
        .bearer(&access_b)
        .send(&app)
        .await
        .json();
    let current: Vec<&str> = list_b
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["current"] == true)
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(current, vec![fam_b.as_str()]);
    // The list needs the layer.
    let res = req(Method::GET, "/auth/sessions").send(&app).await;
    res.assert_refusal(StatusCode::UNAUTHORIZED, "unauthorized");

    // "Log out that device": B.
    let res = req(Method::DELETE, &format!("/auth/sessions/{fam_b}"))
        .bearer(&access_a)
        .send(&app)
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    refresh_json(&app, &refresh_b, None)
        .await
        .assert_refusal(StatusCode::UNAUTHORIZED, "invalid_token");
    assert_eq!(me_status(&app, &access_b).await, StatusCode::UNAUTHORIZED);
    assert_eq!(me_status(&app, &access_a).await, StatusCode::OK);
    // Again: it is gone.
    let res = req(Method::DELETE, &format!("/auth/sessions/{fam_b}"))
        .bearer(&access_a)
        .send(&app)
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);

    // Someone else's session: 404, and it is untouched.
    let res = req(Method::DELETE, &format!("/auth/sessions/{fam_c}"))
        .bearer(&access_a)
        .send(&app)
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert_eq!(me_status(&app, &access_c).await, StatusCode::OK);
    let (access_c, refresh_c) = refresh_json(&app, &refresh_c, None).await.tokens();
    // An unknown id: 404.
    let res = req(Method::DELETE, "/auth/sessions/no-such-session")
        .bearer(&access_a)
        .send(&app)
        .await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);

    // revoke_user ends every session of alice, and nothing of bob's.
    let (access_d, refresh_d, _) = login_with_agent(&app, "alice", "device-D").await;
    assert_eq!(sessions.list("alice").await.unwrap().len(), 2);
    sessions.revoke_user("alice").await.unwrap();
    assert!(sessions.list("alice").await.unwrap().is_empty());
    for r in [&refresh_a, &refresh_d] {
        refresh_json(&app, r, None)
            .await
            .assert_refusal(StatusCode::UNAUTHORIZED, "invalid_token");
    }
    for a in [&access_a, &access_d] {
        assert_eq!(me_status(&app, a).await, StatusCode::UNAUTHORIZED);
    }
    assert!(
        !sessions
            .store()
            .user_has_sessions("alice", unix_now())
            .await
            .unwrap()
    );
    assert_eq!(sessions.list("bob").await.unwrap().len(), 1);
    assert_eq!(me_status(&app, &access_c).await, StatusCode::OK);
    assert_eq!(
        refresh_json(&app, &refresh_c, None).await.status,
        StatusCode::OK
    );
}

// ---------------------------------------------------------------------------------------
// Hooks
// ---------------------------------------------------------------------------------------

#[derive(Clone, Default)]
struct Recorder {
    events: Arc<Mutex<Vec<SessionEvent>>>,
    generated: Arc<Mutex<Vec<(String, String)>>>,
}

#[async_trait]
impl SessionHooks for Recorder {
    async fn on_tokens_refreshed(&self, refresh: &IssuedToken, access: &IssuedToken) {
        self.generated
            .lock()
            .unwrap()
            .push((refresh.jti.clone(), access.jti.clone()));
    }

    async fn on_event(&self, event: &SessionEvent) {
        self.events.lock().unwrap().push(event.clone());
    }
}

impl Recorder {
    fn take(&self) -> Vec<SessionEvent> {
        std::mem::take(&mut *self.events.lock().unwrap())
    }
}

#[tokio::test]
async fn hooks_see_every_event_and_each_new_pair_once() {
    let hooks = Recorder::default();
    let sessions = sessions_builder(&auth())
        .grace(Duration::ZERO)
        .hooks(hooks.clone())
        .build()
        .unwrap();
    let app = router(&sessions);

    let login = start_session(&sessions, "alice").await;
    let fam = login.session_id.clone();
    assert_eq!(
        hooks.take(),
        vec![SessionEvent::Issued {
            user_id: "alice".into(),
            session_id: fam.clone(),
        }]
    );

    let next = sessions
        .refresh(
            login.pair.refresh.as_str(),
            Some(login.pair.access.as_str()),
        )
        .await
        .unwrap();
    assert_eq!(
        hooks.take(),
        vec![SessionEvent::Refreshed {
            user_id: "alice".into(),
            session_id: fam.clone(),
            retry: false,
        }]
    );
    assert_eq!(
        *hooks.generated.lock().unwrap(),
        vec![(next.pair.refresh.jti.clone(), next.pair.access.jti.clone())]
    );

    // Reuse (through the route).
    let res = refresh_json(&app, login.pair.refresh.as_str(), None).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        hooks.take(),
        vec![
            SessionEvent::ReuseDetected {
                user_id: "alice".into(),
                session_id: fam.clone(),
            },
            SessionEvent::Denied {
                reason: SessionError::RefreshReused,
            },
        ]
    );
    // A refusal before the store: Denied only.
    let res = refresh_json(&app, "garbage", None).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        hooks.take(),
        vec![SessionEvent::Denied {
            reason: SessionError::InvalidToken(InvalidToken::Malformed),
        }]
    );
    // The revoked family's newest token: Denied (session ended).
    assert!(
        sessions
            .refresh(next.pair.refresh.as_str(), None)
            .await
            .is_err()
    );
    assert_eq!(
        hooks.take(),
        vec![SessionEvent::Denied {
            reason: SessionError::SessionEnded,
        }]
    );

    // Logout, "log out that device", revoke_user: Revoked.
    let l2 = start_session(&sessions, "alice").await;
    let res = req(Method::POST, "/auth/logout")
        .bearer(l2.pair.access.as_str())
        .json(json!({ "refresh_token": l2.pair.refresh.as_str() }))
        .send(&app)
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    let l3 = start_session(&sessions, "alice").await;
    assert!(
        sessions
            .revoke_session("alice", &l3.session_id)
            .await
            .unwrap()
    );
    assert!(
        !sessions
            .revoke_session("bob", &l3.session_id)
            .await
            .unwrap()
    );
    sessions.revoke_user("alice").await.unwrap();
    assert_eq!(
        hooks.take(),
        vec![
            SessionEvent::Issued {
                user_id: "alice".into(),
                session_id: l2.session_id.clone(),
            },
            SessionEvent::Revoked {
                user_id: Some("alice".into()),
                session_id: Some(l2.session_id.clone()),
            },
            SessionEvent::Issued {
                user_id: "alice".into(),
                session_id: l3.session_id.clone(),
            },
            SessionEvent::Revoked {
                user_id: Some("alice".into()),
                session_id: Some(l3.session_id.clone()),
            },
            SessionEvent::Revoked {
                user_id: Some("alice".into()),
                session_id: None,
            },
        ]
    );
    assert_eq!(
        hooks.generated.lock().unwrap().len(),
        1,
        "one successful refresh, one call"
    );
}

#[tokio::test]
async fn a_grace_retry_is_reported_as_a_retry_with_the_same_pair() {
    let hooks = Recorder::default();
    let sessions = sessions_builder(&auth())
        .hooks(hooks.clone())
        .build()
        .unwrap();
    let login = start_session(&sessions, "alice").await;
    let a = sessions
        .refresh(login.pair.refresh.as_str(), None)
        .await
        .unwrap();
    let b = sessions
        .refresh(login.pair.refresh.as_str(), None)
        .await
        .unwrap();
    let events = hooks.take();
    assert_eq!(
        events[1..],
        [
            SessionEvent::Refreshed {
                user_id: "alice".into(),
                session_id: login.session_id.clone(),
                retry: false,
            },
            SessionEvent::Refreshed {
                user_id: "alice".into(),
                session_id: login.session_id.clone(),
                retry: true,
            },
        ]
    );
    // One call per successful refresh answer, both with the one successor pair.
    let pair = (a.pair.refresh.jti.clone(), a.pair.access.jti.clone());
    assert_eq!(b.pair.refresh.jti, pair.0);
    assert_eq!(*hooks.generated.lock().unwrap(), vec![pair.clone(), pair]);
}

// ---------------------------------------------------------------------------------------
// Clock consistency
// ---------------------------------------------------------------------------------------

/// `TokenAuthBuilder::build` makes the default `MemoryRevocationStore` with the system
/// clock even when `.clock(...)` is configured. With a clock behind the system clock, the
/// store drops every revocation as "already expired" while the layer (on the configured
/// clock) still accepts the token: logout, reuse detection and `revoke_user` do not revoke
/// access tokens.
#[tokio::test]
async fn logout_revokes_the_access_token_under_a_configured_clock() {
    let past = unix_now() - 10 * 86400;
    let auth = builder().clock(FixedClock(past)).build().unwrap();
    let sessions = sessions_builder(&auth).build().unwrap();
    let app = router(&sessions);
    let login = start_session(&sessions, "alice").await;
    let access = login.pair.access.as_str();
    assert_eq!(me_status(&app, access).await, StatusCode::OK);
    sessions.logout(None, Some(access)).await.unwrap();
    assert_eq!(me_status(&app, access).await, StatusCode::UNAUTHORIZED);
}

// ---------------------------------------------------------------------------------------
// Over a real socket, like a browser
// ---------------------------------------------------------------------------------------

async fn spawn_server(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    addr
}

/// The value of cookie `name` the jar would send to `url`.
fn jar_cookie(jar: &reqwest::cookie::Jar, url: &reqwest::Url, name: &str) -> Option<String> {
    use reqwest::cookie::CookieStore as _;
    let header = jar.cookies(url)?;
    header.to_str().unwrap().split(';').find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        (k == name).then(|| v.to_owned())
    })
}

#[tokio::test]
async fn browser_flow_over_tcp_login_refresh_logout_with_the_cookie_jar() {
    let auth = builder()
        .cookies(CookieSettings::default().insecure_dev_cookies())
        .build()
        .unwrap();
    let sessions = sessions_builder(&auth).build().unwrap();
    let addr = spawn_server(router(&sessions)).await;
    let base = format!("http://{addr}");
    let root: reqwest::Url = format!("{base}/").parse().unwrap();
    let refresh_url: reqwest::Url = format!("{base}/auth/refresh").parse().unwrap();
    let jar = Arc::new(reqwest::cookie::Jar::default());
    let client = reqwest::Client::builder()
        .cookie_provider(Arc::clone(&jar))
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();

    // Login: the answer sets the cookies (no Secure flag in this dev setup).
    let res = client
        .post(format!("{base}/auth/login"))
        .json(&json!({ "username": "alice" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), reqwest::StatusCode::OK);
    for v in res.headers().get_all(SET_COOKIE.as_str()) {
        assert!(!v.to_str().unwrap().contains("Secure"), "{v:?}");
    }
    // No token in a body that page script could read.
    let body: Value = res.json().await.unwrap();
    assert_eq!(body.get("access_token"), None, "{body}");
    assert_eq!(body.get("refresh_token"), None, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    let csrf = jar_cookie(&jar, &root, "csrf_token").expect("readable CSRF cookie");
    let access0 = jar_cookie(&jar, &root, "access_token").expect("access cookie");
    // The refresh cookie is scoped to /auth: sent to the refresh route, not to /.
    assert!(jar_cookie(&jar, &root, "refresh_token").is_none());
    assert!(jar_cookie(&jar, &refresh_url, "refresh_token").is_some());

    // A page request with the cookie only.
    let res = client.get(format!("{base}/me")).send().await.unwrap();
    assert_eq!(res.status(), reqwest::StatusCode::OK);
    let me: Value = res.json().await.unwrap();
    assert_eq!(me["sub"], "alice");
    assert_eq!(me["jti"], jti(&access0));

    // Refresh by cookie: without the header 403, with it 200 and new cookies.
    let res = client
        .post(format!("{base}/auth/refresh"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), reqwest::StatusCode::FORBIDDEN);
    let res = client
        .post(format!("{base}/auth/refresh"))
        .header(CSRF_HEADER, &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), reqwest::StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body.get("refresh_token"), None, "{body}");
    assert_eq!(body.get("access_token"), None, "{body}");
    let access1 = jar_cookie(&jar, &root, "access_token").expect("rotated access cookie");
    assert_ne!(jti(&access1), jti(&access0));
    assert_eq!(
        jar_cookie(&jar, &root, "csrf_token"),
        Some(csrf.clone()),
        "the CSRF value stays"
    );

    let me: Value = client
        .get(format!("{base}/me"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["jti"], jti(&access1));

    // An unsafe page request by cookie needs the header too.
    let res = client.post(format!("{base}/users")).send().await.unwrap();
    assert_eq!(res.status(), reqwest::StatusCode::FORBIDDEN);
    let res = client
        .post(format!("{base}/users"))
        .header(CSRF_HEADER, &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), reqwest::StatusCode::CREATED);

    // Logout by cookie with the header: 204, and the jar is emptied.
    let res = client
        .post(format!("{base}/auth/logout"))
        .header(CSRF_HEADER, &csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), reqwest::StatusCode::NO_CONTENT);
    assert_eq!(jar_cookie(&jar, &root, "access_token"), None);
    assert_eq!(jar_cookie(&jar, &root, "csrf_token"), None);
    assert_eq!(jar_cookie(&jar, &refresh_url, "refresh_token"), None);

    let res = client.get(format!("{base}/me")).send().await.unwrap();
    assert_eq!(res.status(), reqwest::StatusCode::UNAUTHORIZED);
    // And the access token itself is revoked, not just forgotten by the jar.
    let res = reqwest::Client::new()
        .get(format!("{base}/me"))
        .bearer_auth(&access1)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), reqwest::StatusCode::UNAUTHORIZED);
}

// ---------------------------------------------------------------------------------------
// Issue 9: the security review's findings on sessions and cookies
// ---------------------------------------------------------------------------------------

/// Finding 1: a cross-site form POST carries none of the (SameSite) cookies; its 401 must
/// not clear them (a forced logout with no CSRF value at all).
#[tokio::test]
async fn a_cross_site_logout_without_credentials_is_401_and_clears_no_cookies() {
    let sessions = sessions();
    let app = router(&sessions);
    let res = req(Method::POST, "/auth/logout")
        .header(ORIGIN.as_str(), "https://evil.example")
        .header(HOST.as_str(), "app.example")
        .header("sec-fetch-site", "cross-site")
        .raw(Some("application/x-www-form-urlencoded"), "")
        .send(&app)
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert_eq!(res.error, Some(AuthError::MissingCredentials));
    assert_eq!(res.header(CONTENT_TYPE), Some("application/json"));
    assert!(res.set_cookies().is_empty(), "{:?}", res.set_cookies());
    // A form with fields is a malformed body: refused, nothing cleared either.
    let res = req(Method::POST, "/auth/logout")
        .header(ORIGIN.as_str(), "https://evil.example")
        .raw(Some("application/x-www-form-urlencoded"), "x=1")
        .send(&app)
        .await;
    res.assert_refusal(StatusCode::BAD_REQUEST, "invalid_request");
    assert!(res.set_cookies().is_empty(), "{:?}", res.set_cookies());
    // Same answer without any body or header at all.
    let res = req(Method::POST, "/auth/logout").send(&app).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert!(res.set_cookies().is_empty(), "{:?}", res.set_cookies());
}

/// Finding 2: a token delivered as a cookie never appears in a body page script can read;
/// a refresh by JSON body is answered by body only.
#[tokio::test]
async fn cookie_login_and_cookie_refresh_never_put_a_token_in_the_body() {
    let sessions = sessions();
    let app = router(&sessions);
    let login = login_route(&app, "alice").await;
    assert_eq!(login.status, StatusCode::OK);
    let body = login.json();
    assert_eq!(body.get("access_token"), None, "{body}");
    assert_eq!(body.get("refresh_token"), None, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert_eq!(body["refresh_expires_in"], 7 * 86400);
    let jar = cookie_jar(&login);
    let (access, refresh, csrf) = (
        jar.get(ACCESS_COOKIE).unwrap().to_owned(),
        jar.get(REFRESH_COOKIE).unwrap().to_owned(),
        jar.get(CSRF_COOKIE).unwrap().to_owned(),
    );

    // XSS reads the csrf cookie and posts the refresh: it gets cookies it cannot read.
    let res = req(Method::POST, "/auth/refresh")
        .cookie(REFRESH_COOKIE, &refresh)
        .cookie(ACCESS_COOKIE, &access)
        .csrf(&csrf)
        .send(&app)
        .await;
    assert_eq!(res.status, StatusCode::OK);
    let text = String::from_utf8_lossy(&res.body).into_owned();
    let (access1, refresh1) = res.tokens();
    assert!(
        !text.contains(&refresh1) && !text.contains(&access1),
        "{text}"
    );

    // A non-browser client refreshing by body gets a body, and no cookies.
    let res = refresh_json(&app, &refresh1, None).await;
    assert!(res.set_cookies().is_empty());
    assert!(res.json()["refresh_token"].is_string());

    // Per request or per configuration, a login can be delivered otherwise.
    let l = start_session(&sessions, "bob").await;
    let res = sessions.login_response_with(&l, axum_token_auth::session::TokenDelivery::Body);
    assert!(res.headers().get(SET_COOKIE).is_none());
    let spa = sessions_builder(&auth())
        .token_delivery(axum_token_auth::session::TokenDelivery::CookiesWithAccessToken)
        .build()
        .unwrap();
    let l = start_session(&spa, "carol").await;
    let res = spa.login_response(&l);
    let cookies = set_cookies(res.headers());
    let body: Value =
        serde_json::from_slice(&res.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(body["access_token"], l.pair.access.as_str());
    assert_eq!(body.get("refresh_token"), None);
    assert!(cookies.iter().any(|c| c.name == REFRESH_COOKIE));
}

/// A second authority over the same secret and store, for another audience.
fn other_audience(store: &Arc<dyn RefreshStore>) -> Sessions {
    let auth = builder().audience("api-b").build().unwrap();
    Sessions::builder_shared(auth, Arc::clone(store))
        .build()
        .unwrap()
}

/// Finding 5: logout verifies every claim but time (`iss`, `aud`), and ends a family only
/// for its owner.
#[tokio::test]
async fn logout_refuses_tokens_for_another_audience_and_families_of_another_user() {
    let store = shared_store();
    let ours = Sessions::builder_shared(
        builder().audience("api-a").build().unwrap(),
        Arc::clone(&store),
    )
    .build()
    .unwrap();
    let app = router(&ours);
    let foreign = start_session(&other_audience(&store), "alice").await;
    let res = req(Method::POST, "/auth/logout")
        .json(json!({ "refresh_token": foreign.pair.refresh.as_str() }))
        .send(&app)
        .await;
    res.assert_refusal(StatusCode::UNAUTHORIZED, "invalid_token");
    assert_eq!(
        res.error,
        Some(AuthError::InvalidToken(InvalidToken::WrongAudience))
    );
    assert_eq!(ours.list("alice").await.unwrap().len(), 1, "nothing ended");

    // A token of ours whose `fam` names another user's family.
    let alice = start_session(&ours, "alice").await;
    let forged = forge_refresh(&ours, "mallory", &alice.session_id, Some("api-a"));
    let res = req(Method::POST, "/auth/logout")
        .json(json!({ "refresh_token": forged }))
        .send(&app)
        .await;
    res.assert_refusal(StatusCode::UNAUTHORIZED, "invalid_token");
    assert!(
        ours.list("alice")
            .await
            .unwrap()
            .iter()
            .any(|s| s.id == alice.session_id),
        "alice's session survived"
    );
    // The same token at the refresh route ends nothing either (it used to be "reuse").
    refresh_json(&app, &forged, None)
        .await
        .assert_refusal(StatusCode::UNAUTHORIZED, "invalid_token");
    assert!(
        ours.refresh(alice.pair.refresh.as_str(), None)
            .await
            .is_ok()
    );

    // The refresh route's CSRF pre-check refuses the foreign-audience token too.
    let res = req(Method::POST, "/auth/refresh")
        .cookie(REFRESH_COOKIE, foreign.pair.refresh.as_str())
        .csrf(&foreign.csrf)
        .send(&app)
        .await;
    assert_eq!(
        res.error,
        Some(AuthError::InvalidToken(InvalidToken::WrongAudience))
    );
}

/// A refresh token for `sub` naming family `fam`, signed with the shared secret (what
/// another service holding the key could mint).
fn forge_refresh(sessions: &Sessions, sub: &str, fam: &str, aud: Option<&str>) -> String {
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.typ = Some("refresh+jwt".into());
    let now = sessions.auth().now();
    let mut claims = json!({
        "sub": sub, "iat": now, "exp": now + 3600, "jti": "forged-0123456789abcdef", "fam": fam,
    });
    if let Some(aud) = aud {
        claims["aud"] = json!(aud);
    }
    jsonwebtoken::encode(
        &header,
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap()
}

/// Hooks that re-read scopes from a grant store at each refresh and deny disabled users.
struct GrantHooks {
    grants: Arc<axum_token_auth::store::grants::MemoryGrantStore>,
    disabled: Mutex<HashSet<String>>,
}

#[async_trait]
impl SessionHooks for GrantHooks {
    async fn on_refresh(
        &self,
        parent: &axum_token_auth::TokenClaims<serde_json::Map<String, Value>>,
    ) -> axum_token_auth::session::RefreshDecision {
        use axum_token_auth::session::{RefreshDecision, SuccessorClaims};
        use axum_token_auth::store::grants::GrantStore;
        if self.disabled.lock().unwrap().contains(&parent.sub) {
            return RefreshDecision::Deny;
        }
        let Ok(held) = self.grants.granted_scopes("app", &parent.sub).await else {
            return RefreshDecision::Deny;
        };
        RefreshDecision::AllowWith(
            SuccessorClaims::new().scopes(
                held.into_iter()
                    .map(|g| g.scope)
                    .chain(["admin".to_owned()]),
            ),
        )
    }
}

/// Finding 7: a hook consulted inside every refresh can veto it or change the
/// successor's scopes; a revoked grant stops flowing into successors.
#[tokio::test]
async fn on_refresh_rereads_grants_and_can_deny() {
    use axum_token_auth::store::grants::{GrantChange, GrantStore, MemoryGrantStore};
    let grants = Arc::new(MemoryGrantStore::new());
    for s in ["users:read", "users:write"] {
        grants
            .grant_scope(
                &GrantChange::new(
                    "app",
                    "alice",
                    &axum_token_auth::token::Scope::new(s).unwrap(),
                    "root",
                )
                .unwrap(),
            )
            .await
            .unwrap();
    }
    let hooks = GrantHooks {
        grants: Arc::clone(&grants),
        disabled: Mutex::new(HashSet::new()),
    };
    let disabled = Arc::new(hooks);
    struct Shared(Arc<GrantHooks>);
    #[async_trait]
    impl SessionHooks for Shared {
        async fn on_refresh(
            &self,
            parent: &axum_token_auth::TokenClaims<serde_json::Map<String, Value>>,
        ) -> axum_token_auth::session::RefreshDecision {
            self.0.on_refresh(parent).await
        }
    }
    let sessions = sessions_builder(&auth())
        .hooks(Shared(Arc::clone(&disabled)))
        .build()
        .unwrap();
    let app = router(&sessions);
    let (_, r0) = login_route(&app, "alice").await.tokens();
    let res = refresh_json(&app, &r0, None).await;
    let (a1, r1) = res.tokens();
    assert_eq!(payload(&a1)["scope"], "users:read users:write");
    assert_eq!(
        payload(&r1)["scope"],
        "users:read users:write",
        "never wider: no admin"
    );

    grants
        .revoke_scope(
            &GrantChange::new(
                "app",
                "alice",
                &axum_token_auth::token::Scope::new("users:write").unwrap(),
                "root",
            )
            .unwrap(),
        )
        .await
        .unwrap();
    let (a2, r2) = refresh_json(&app, &r1, None).await.tokens();
    assert_eq!(payload(&a2)["scope"], "users:read");
    assert_eq!(payload(&r2)["scope"], "users:read");

    disabled.disabled.lock().unwrap().insert("alice".into());
    let res = refresh_json(&app, &r2, None).await;
    res.assert_refusal(StatusCode::UNAUTHORIZED, "invalid_token");
    assert_eq!(
        res.error,
        Some(AuthError::InvalidToken(InvalidToken::RefreshDenied))
    );
    assert!(
        sessions.list("alice").await.unwrap().is_empty(),
        "session ended"
    );
    assert_eq!(
        me_status(&app, &a2).await,
        StatusCode::UNAUTHORIZED,
        "its access token too"
    );
}

/// Finding 9: one account's login / refresh / reuse loop cannot fill the revocation
/// store for everyone (logouts used to answer 503 once it was full).
#[tokio::test]
async fn one_account_cannot_exhaust_the_revocation_store_for_everyone() {
    use axum_token_auth::store::memory::MemoryRevocationStore;
    let revocation = Arc::new(MemoryRevocationStore::with_capacity(40).with_subject_quota(8));
    let auth = builder()
        .revocation_store(revocation.clone())
        .build()
        .unwrap();
    let sessions = sessions_builder(&auth)
        .grace(Duration::ZERO)
        .build()
        .unwrap();
    let app = router(&sessions);
    let mut first_access = None;
    for _ in 0..12 {
        let (a0, r0) = login_route(&app, "mallory").await.tokens();
        first_access.get_or_insert(a0);
        let mut r = r0.clone();
        for _ in 0..3 {
            r = refresh_json(&app, &r, None).await.tokens().1;
        }
        // Reuse: the family and its access tokens are revoked.
        refresh_json(&app, &r0, None)
            .await
            .assert_refusal(StatusCode::UNAUTHORIZED, "invalid_token");
    }
    assert!(revocation.len() <= 8, "{} entries held", revocation.len());
    // Mallory's tokens are all refused (nothing was forgotten)…
    assert_eq!(
        me_status(&app, first_access.as_deref().unwrap()).await,
        StatusCode::UNAUTHORIZED
    );
    // …and everyone else still logs out.
    for user in ["bob", "carol", "dave"] {
        let (a, r) = login_route(&app, user).await.tokens();
        let res = req(Method::POST, "/auth/logout")
            .bearer(&a)
            .json(json!({ "refresh_token": r }))
            .send(&app)
            .await;
        assert_eq!(res.status, StatusCode::NO_CONTENT, "{:?}", res.body);
        assert_eq!(me_status(&app, &a).await, StatusCode::UNAUTHORIZED);
    }
}

/// Finding 10: a per-login ttl is the access token's, never the refresh token's.
#[tokio::test]
async fn a_login_ttl_applies_to_the_access_token_only() {
    let sessions = sessions();
    let short = sessions
        .login(
            &TokenRequest::new("alice").ttl(Duration::from_secs(300)),
            None,
        )
        .await
        .expect("a 5 min access token is allowed");
    assert_eq!(short.pair.access.expires_in(), 300);
    assert_eq!(short.pair.refresh.expires_in(), 7 * 86400);
    let long = sessions
        .login(
            &TokenRequest::new("alice").ttl(Duration::from_secs(7200)),
            None,
        )
        .await
        .unwrap();
    assert_eq!(long.pair.access.expires_in(), 7200);
    assert_eq!(long.pair.refresh.expires_in(), 7 * 86400);
}

/// Finding 10: a rotated access token's `exp` is capped at the family's end.
#[tokio::test]
async fn a_rotated_access_token_never_outlives_its_family() {
    let store = shared_store();
    let t = unix_now();
    let at = |s: u64| {
        let auth = builder()
            .access_ttl(Duration::from_secs(2 * 3600))
            .refresh_ttl(Duration::from_secs(3600))
            .clock(FixedClock(t + s))
            .build()
            .unwrap();
        Sessions::builder_shared(auth, Arc::clone(&store))
            .session_lifetime(Duration::from_secs(3600))
            .build()
            .unwrap()
    };
    let login = start_session(&at(0), "alice").await;
    assert_eq!(
        login.pair.access.expires_at,
        t + 3600,
        "capped at login too"
    );
    let next = at(1800)
        .refresh(login.pair.refresh.as_str(), None)
        .await
        .unwrap();
    assert_eq!(next.pair.access.expires_at, t + 3600);
    assert_eq!(payload(next.pair.access.as_str())["exp"], t + 3600);
}

/// Finding 10: "not expired" for `require_expired_access` is what the layer accepts,
/// leeway included.
#[tokio::test]
async fn require_expired_access_counts_the_leeway() {
    let store = shared_store();
    let t = unix_now();
    let login = start_session(&sessions_at(&store, t).build().unwrap(), "alice").await;
    // 10 s past `exp`: still accepted by the layer (30 s leeway).
    let later = sessions_at(&store, t + 900 + 10)
        .require_expired_access(true)
        .build()
        .unwrap();
    assert_eq!(
        later
            .refresh(
                login.pair.refresh.as_str(),
                Some(login.pair.access.as_str())
            )
            .await
            .unwrap_err(),
        SessionError::AccessTokenNotExpired
    );
    let much_later = sessions_at(&store, t + 900 + 31)
        .require_expired_access(true)
        .build()
        .unwrap();
    assert!(
        much_later
            .refresh(
                login.pair.refresh.as_str(),
                Some(login.pair.access.as_str())
            )
            .await
            .is_ok()
    );
}
