//! Shared helpers for the integration tests: a real axum `Router` behind `TokenAuthLayer`,
//! request/response helpers, raw `jsonwebtoken` minting, and a TCP server for socket tests.
//!
//! Not every test file uses every helper.
#![allow(dead_code)]

pub mod oidc;
pub mod seeds;
pub mod switchable;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::response::Response;
use axum::routing::get;
use axum_token_auth::{
    AuthError, Claims, Key, RequireScope, ScopeGuardLayer, TokenAuth, TokenAuthBuilder,
    TokenRequest, http::TokenSource,
};
use http::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, COOKIE, WWW_AUTHENTICATE};
use http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use jsonwebtoken::{EncodingKey, Header};
use serde_json::{Value, json};
use tower::ServiceExt;

/// The HS256 secret every test authority shares unless a test says otherwise.
pub const SECRET: &str = "k3Jd9-Qz7vXo2LmW8pRt5YbN1cHf6GsA4eUi0TyV";

axum_token_auth::scope! {
    pub UsersRead = "users:read";
    pub UsersWrite = "users:write";
}

/// A builder with [`SECRET`] as HS256 signing key (system clock, no issuer/audience).
pub fn builder() -> TokenAuthBuilder {
    TokenAuth::builder().hs256_secret(SECRET)
}

/// The default test authority.
pub fn auth() -> TokenAuth {
    builder().build().expect("test authority builds")
}

/// Seconds since the epoch.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// An access token for `sub` with `scopes`.
pub fn issue(auth: &TokenAuth, sub: &str, scopes: &[&str]) -> String {
    auth.issue_access(&TokenRequest::new(sub).scopes(scopes.iter().copied()))
        .expect("token issued")
        .into_string()
}

async fn me(claims: Claims) -> String {
    claims.sub.clone()
}

async fn list_users(_: RequireScope<UsersRead>, claims: Claims) -> String {
    format!("list:{}", claims.sub)
}

async fn create_user(_: RequireScope<UsersWrite>) -> (StatusCode, &'static str) {
    (StatusCode::CREATED, "created")
}

async fn admin(claims: Claims) -> String {
    format!("admin:{}", claims.sub)
}

async fn optional(claims: Option<Claims>) -> String {
    match claims {
        Some(c) => format!("present:{}", c.sub),
        None => "absent".to_owned(),
    }
}

async fn source(source: TokenSource) -> String {
    format!("{source:?}")
}

/// The shared test router:
///
/// * `GET /me` → the subject (`Claims`),
/// * `GET /users` → `list:<sub>` (`RequireScope<users:read>`),
/// * `POST /users` → 201 `created` (`RequireScope<users:write>`),
/// * `GET /admin` → `admin:<sub>` (behind `ScopeGuardLayer::all(["admin"])`),
/// * `GET /source` → `Header` / `Cookie` (`TokenSource`),
/// * `GET /optional` → `present:<sub>` or `absent`, behind the optional layer.
pub fn app(auth: &TokenAuth) -> Router {
    let admin = Router::new()
        .route("/admin", get(admin))
        .route_layer(ScopeGuardLayer::all(["admin"]).expect("valid scope"));
    let required = Router::new()
        .route("/me", get(me))
        .route("/users", get(list_users).post(create_user))
        .route("/source", get(source))
        .merge(admin)
        .layer(auth.layer());
    let optional = Router::new()
        .route("/optional", get(optional))
        .layer(auth.layer().optional());
    required.merge(optional)
}

/// A request with an optional bearer token.
pub fn request(method: Method, path: &str, bearer: Option<&str>) -> Request<Body> {
    let mut b = Request::builder().method(method).uri(path);
    if let Some(t) = bearer {
        b = b.header(AUTHORIZATION, format!("Bearer {t}"));
    }
    b.body(Body::empty()).unwrap()
}

/// A `GET` with an optional bearer token.
pub fn get_req(path: &str, bearer: Option<&str>) -> Request<Body> {
    request(Method::GET, path, bearer)
}

/// A `GET` carrying the token in the `access_token` cookie.
pub fn cookie_req(path: &str, token: &str) -> Request<Body> {
    Request::builder()
        .uri(path)
        .header(COOKIE, format!("theme=dark; __Host-access_token={token}"))
        .body(Body::empty())
        .unwrap()
}

/// Sends one request through the router (no socket).
pub async fn send(app: &Router, req: Request<Body>) -> Response {
    app.clone().oneshot(req).await.expect("infallible")
}

/// `GET path` with an optional bearer token.
pub async fn send_get(app: &Router, path: &str, bearer: Option<&str>) -> Response {
    send(app, get_req(path, bearer)).await
}

/// The body as UTF-8 text.
pub async fn body_text(res: Response) -> String {
    let bytes = body_bytes(res).await;
    String::from_utf8(bytes.to_vec()).expect("utf-8 body")
}

/// The body bytes.
pub async fn body_bytes(res: Response) -> Bytes {
    res.into_body().collect().await.expect("body").to_bytes()
}

/// Asserts a 2xx answer and returns its body.
pub async fn ok_body(res: Response) -> String {
    let status = res.status();
    let ext = res.extensions().get::<AuthError>().cloned();
    let body = body_text(res).await;
    assert!(
        status.is_success(),
        "expected success, got {status}: {body}"
    );
    assert_eq!(ext, None, "a successful answer carries no AuthError");
    body
}

/// The `WWW-Authenticate` value RFC 6750 prescribes for `error` under realm `api`,
/// written out independently of the crate's own formatting.
pub fn expected_challenge(error: &AuthError) -> Option<String> {
    expected_challenge_in("api", error)
}

/// [`expected_challenge`] for another realm.
pub fn expected_challenge_in(realm: &str, error: &AuthError) -> Option<String> {
    let base = format!("Bearer realm=\"{realm}\"");
    match error {
        AuthError::MissingCredentials => Some(base),
        AuthError::InsufficientScope { required } => Some(format!(
            "{base}, error=\"insufficient_scope\", error_description=\"the token does not grant the required scope\", scope=\"{required}\""
        )),
        AuthError::InvalidToken(reason) => Some(format!(
            "{base}, error=\"invalid_token\", error_description=\"{reason}\""
        )),
        AuthError::InvalidRequest(reason) => Some(format!(
            "{base}, error=\"invalid_request\", error_description=\"{reason}\""
        )),
        _ => None,
    }
}

/// What a refusal looked like on the wire.
#[derive(Debug)]
pub struct Refusal {
    pub status: StatusCode,
    pub www_authenticate: Option<String>,
    pub cache_control: Option<String>,
    pub content_type: Option<String>,
    pub error: Option<AuthError>,
    pub body: Value,
    pub raw_headers: String,
}

/// Reads a refusal (any status) into a [`Refusal`].
pub async fn refusal(res: Response) -> Refusal {
    let header = |name| {
        res.headers()
            .get(name)
            .map(|v: &http::HeaderValue| String::from_utf8_lossy(v.as_bytes()).into_owned())
    };
    let raw_headers = format!("{:?}", res.headers());
    let status = res.status();
    let www_authenticate = header(WWW_AUTHENTICATE);
    let cache_control = header(CACHE_CONTROL);
    let content_type = header(CONTENT_TYPE);
    let error = res.extensions().get::<AuthError>().cloned();
    let bytes = body_bytes(res).await;
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    Refusal {
        status,
        www_authenticate,
        cache_control,
        content_type,
        error,
        body,
        raw_headers,
    }
}

/// Asserts the complete RFC 6750 shape of a refusal with the default renderer:
/// status, exact `WWW-Authenticate`, JSON body with exactly `error` and
/// `error_description`, `Cache-Control: no-store`, and the `AuthError` in the
/// response's extensions.
pub async fn assert_refused(res: Response, expected: AuthError) -> Refusal {
    let r = refusal(res).await;
    assert_eq!(r.status, expected.status(), "status of {expected:?}: {r:?}");
    assert_eq!(
        r.error.as_ref(),
        Some(&expected),
        "AuthError extension: {r:?}"
    );
    assert_eq!(
        r.www_authenticate,
        expected_challenge(&expected),
        "WWW-Authenticate of {expected:?}"
    );
    assert_eq!(r.cache_control.as_deref(), Some("no-store"), "{r:?}");
    assert_eq!(r.content_type.as_deref(), Some("application/json"), "{r:?}");
    let obj = r.body.as_object().expect("JSON object body");
    assert_eq!(
        obj.len(),
        2,
        "body has exactly error and error_description: {obj:?}"
    );
    assert_eq!(
        obj["error"],
        json!(expected.error_code().unwrap_or("unauthorized")),
        "{obj:?}"
    );
    assert_eq!(
        obj["error_description"],
        json!(expected.description()),
        "{obj:?}"
    );
    r
}

static JTI: AtomicU64 = AtomicU64::new(0);

/// A fresh `jti` for hand-minted tokens.
pub fn fresh_jti() -> String {
    format!("raw-{}-{}", now(), JTI.fetch_add(1, Ordering::Relaxed))
}

/// Makes sure a jsonwebtoken crypto provider is installed (with both backends enabled,
/// jsonwebtoken cannot pick one by itself; building any `Key` installs the crate's).
pub fn ensure_crypto_provider() {
    let _ = Key::hs256(SECRET).expect("valid secret");
}

/// The documented wire format of an access token's header: `typ: at+jwt`.
pub fn access_header(alg: jsonwebtoken::Algorithm) -> Header {
    let mut h = Header::new(alg);
    h.typ = Some("at+jwt".to_owned());
    h
}

/// The documented wire format of an access token's claims.
pub fn wire_claims(sub: &str, scope: &str) -> Value {
    let now = now();
    json!({
        "sub": sub,
        "iat": now,
        "exp": now + 600,
        "jti": fresh_jti(),
        "scope": scope,
    })
}

/// Signs `claims` under `header` with raw `jsonwebtoken`.
pub fn raw_token(header: &Header, claims: &Value, key: &EncodingKey) -> String {
    ensure_crypto_provider();
    jsonwebtoken::encode(header, claims, key).expect("raw token signs")
}

/// Signs `claims` as an HS256 access token with [`SECRET`].
pub fn raw_hs256(claims: &Value) -> String {
    raw_token(
        &access_header(jsonwebtoken::Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
}

/// Serves `app` on 127.0.0.1 on a free port; the server runs until the test's runtime ends.
pub async fn spawn_server(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.expect("server runs");
    });
    addr
}
