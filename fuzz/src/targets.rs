//! The fuzz targets, shared by the afl binaries (`fuzz/src/bin/*`) and by the corpus
//! replay in the main crate's tests (`tests/fuzz_corpus.rs`). Each takes arbitrary bytes
//! and panics only on a finding: a panic inside the crate, or an answer that is neither
//! a refusal of the client's input nor a success (a 500).

use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use axum_token_auth::store::memory::MemoryRefreshStore;
use axum_token_auth::trust::{Issuer, LegacyIssuer, ScopeClaim};
use axum_token_auth::{Claims, Key, NoCustomClaims, Sessions, TokenAuth, token::TokenKind};
use http::{Request, StatusCode};
use tower::ServiceExt;

const SECRET: &str = "fuzz-secret-7Qz1-0123456789-abcdefghijklmnop";
const LEGACY: &str = "fuzz-legacy-9Xy2-0123456789-abcdefghijklmnop";

/// One authority with every verification path: our HS256 key, a trusted external issuer
/// (static key set), a legacy format.
fn auth() -> &'static TokenAuth {
    static AUTH: OnceLock<TokenAuth> = OnceLock::new();
    AUTH.get_or_init(|| {
        let idp = Key::from_pem(
            axum_token_auth::token::Algorithm::ES256,
            include_str!("../../tests/fixtures/ec_p256_public.pem"),
        )
        .expect("fixture key")
        .with_kid("idp-1");
        TokenAuth::builder()
            .hs256_secret(SECRET)
            .trust(
                Issuer::keys("https://idp.fuzz.example", [idp])
                    .audience("fuzz-api")
                    .scope_claims([
                        ScopeClaim::path("scope"),
                        ScopeClaim::path("realm_access.roles"),
                    ]),
            )
            .accept_legacy(
                LegacyIssuer::scoped_token_service(LEGACY)
                    .expect("legacy secret")
                    .accept_until(SystemTime::now() + Duration::from_secs(3600)),
            )
            .build()
            .expect("fuzz authority")
    })
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    })
}

/// The token parser and every check behind it, on any string.
pub fn token(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let a = auth();
    for kind in [TokenKind::Access, TokenKind::Refresh, TokenKind::Service] {
        let _ = a.verify_offline::<NoCustomClaims>(s, kind);
    }
    let _ = a.verify_offline::<serde_json::Value>(s, TokenKind::Access);
    let _ = a.verify_jwt::<serde_json::Value>(s);
}

fn app() -> &'static Router {
    static APP: OnceLock<Router> = OnceLock::new();
    APP.get_or_init(|| {
        Router::new()
            .route("/me", get(|c: Claims| async move { c.sub.clone() }))
            .layer(auth().layer())
    })
}

/// The `Authorization` and `Cookie` header parsers (and the layer behind them): the
/// input is split at the first 0xFF byte into an Authorization value and a Cookie value.
pub fn headers(data: &[u8]) {
    let (authz, cookie) = match data.iter().position(|b| *b == 0xff) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let mut req = Request::get("/me");
    if let Ok(v) = http::HeaderValue::from_bytes(authz) {
        req = req.header(http::header::AUTHORIZATION, v);
    }
    if let Ok(v) = http::HeaderValue::from_bytes(cookie) {
        req = req.header(http::header::COOKIE, v);
    }
    let req = req.body(Body::empty()).expect("request");
    let res = runtime()
        .block_on(app().clone().oneshot(req))
        .expect("infallible");
    let status = res.status();
    assert!(
        status.is_success() || status.is_client_error(),
        "header input answered {status}"
    );
    assert!(
        status == StatusCode::OK
            || res.headers().contains_key(http::header::WWW_AUTHENTICATE)
            || status == StatusCode::FORBIDDEN,
        "a refusal without its challenge: {status}"
    );
}

fn refresh_app() -> &'static Router {
    static APP: OnceLock<Router> = OnceLock::new();
    APP.get_or_init(|| {
        let sessions = Sessions::builder(auth().clone(), MemoryRefreshStore::new())
            .build()
            .expect("sessions");
        Router::new().route("/auth/refresh", sessions.refresh_route())
    })
}

/// The refresh route's body parsers (JSON and the OAuth 2.0 form): the first byte picks
/// the content type, the rest is the body.
pub fn refresh_body(data: &[u8]) {
    let Some((&first, body)) = data.split_first() else {
        return;
    };
    let content_type = match first % 4 {
        0 => "application/json",
        1 => "application/x-www-form-urlencoded",
        2 => "text/plain",
        _ => "application/json; charset=utf-8",
    };
    let req = Request::post("/auth/refresh")
        .header(http::header::CONTENT_TYPE, content_type)
        .body(Body::from(body.to_vec()))
        .expect("request");
    let res = runtime()
        .block_on(refresh_app().clone().oneshot(req))
        .expect("infallible");
    let status = res.status();
    assert!(
        status.is_client_error() || status.is_success(),
        "refresh body answered {status}"
    );
}
