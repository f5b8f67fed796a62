//! The quickstart's introspection contract against the real OpenID Provider: with
//! `OIDC_ISSUER`, `OIDC_AUDIENCE`, `INTROSPECTION_CLIENT_ID` and
//! `INTROSPECTION_CLIENT_SECRET` (the endpoint found by discovery) and
//! `INTROSPECTION_CACHE_MAX_TTL`, opaque provider tokens get `/me`, `/users` and `/admin`
//! exactly as the provider's JWTs would. Its own test binary: it sets the environment
//! of the process.
#![cfg(feature = "oidc")]

#[allow(dead_code, unreachable_pub)]
#[path = "../examples/quickstart.rs"]
mod quickstart;

// The harness allows its own dead code.
#[path = "it/common/oidc.rs"]
mod oidc;

use axum::body::Body;
use http::header::AUTHORIZATION;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

const OPAQUE: &str = "urn:test:opaque-api";

async fn get(app: &axum::Router, path: &str, token: &str) -> (StatusCode, serde_json::Value) {
    let req = Request::get(path)
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or_default())
}

#[tokio::test]
async fn opaque_tokens_get_me_users_and_admin_as_jwts_do() {
    oidc::ensure_crypto_provider();
    let op = oidc::OidcProvider::start(&[oidc::TestKey::generate("k1")]).await;
    // SAFETY: the only test of this binary, before anything reads the environment.
    unsafe {
        std::env::set_var("OIDC_ISSUER", op.issuer());
        std::env::set_var("OIDC_AUDIENCE", OPAQUE);
        std::env::set_var("INTROSPECTION_CLIENT_ID", "introspect-client");
        std::env::set_var("INTROSPECTION_CLIENT_SECRET", "introspect-secret");
        std::env::set_var("INTROSPECTION_CACHE_MAX_TTL", "30");
    }
    let app = quickstart::demo_app().await.expect("the demo app builds");
    let reader = op.client_credentials_token("users:read", OPAQUE).await;
    let admin = op
        .client_credentials_token("users:read admin", OPAQUE)
        .await;
    assert!(!reader.contains('.'), "an opaque token");

    let (status, me) = get(&app, "/me", &reader).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["sub"], "client:test-client", "{me}");
    assert_eq!(get(&app, "/users", &reader).await.0, StatusCode::OK);
    assert_eq!(get(&app, "/admin", &reader).await.0, StatusCode::FORBIDDEN);
    assert_eq!(get(&app, "/admin", &admin).await.0, StatusCode::OK);
    assert_eq!(
        get(&app, "/me", "an-unknown-opaque-token").await.0,
        StatusCode::UNAUTHORIZED
    );
    // The cache holds the verdicts: one call per token (and one for the unknown one).
    let stats = op.stats().await;
    assert_eq!(stats["introspection_requests"], 3, "{stats}");
}
