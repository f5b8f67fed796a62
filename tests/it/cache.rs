//! The verified-token cache never weakens a check: every case here is first cached as a
//! valid token, then must be refused.

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use axum_token_auth::testing::{Attack, AttackTokens, ManualClock};
use axum_token_auth::{Claims, TokenAuth, TokenRequest, token::TokenKind};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{Request, StatusCode};
use tower::ServiceExt;

const SECRET: &str = "0123456789abcdefghijklmnopqrstuvwxyzABCDEF";

fn auth_with(clock: ManualClock) -> TokenAuth {
    TokenAuth::builder()
        .hs256_secret(SECRET)
        .clock(clock)
        .build()
        .unwrap()
}

fn app(auth: &TokenAuth) -> Router {
    Router::new()
        .route("/me", get(|c: Claims| async move { c.sub.clone() }))
        .layer(auth.layer())
}

async fn status(app: &Router, token: &str) -> StatusCode {
    app.clone()
        .oneshot(
            Request::get("/me")
                .header("authorization", format!("Bearer {token}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn tampered_token_after_a_cached_one_is_401() {
    let auth = auth_with(ManualClock::starting_now());
    let app = app(&auth);
    let attacks = AttackTokens::for_auth(&auth, &TokenRequest::new("alice")).unwrap();
    let t = attacks.genuine();
    assert_eq!(status(&app, t).await, StatusCode::OK);
    assert_eq!(status(&app, t).await, StatusCode::OK, "cached hit");
    for attack in [Attack::TamperedPayload, Attack::TamperedSignature] {
        let forged = attacks.get(attack).unwrap();
        assert_eq!(
            status(&app, forged).await,
            StatusCode::UNAUTHORIZED,
            "{attack}"
        );
    }
    // The last base64url character changed (for HS256 only its significant bits, or
    // only its unused ones: a non-canonical text of the same signature).
    let mut forged = t.to_owned();
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'B' } else { 'A' });
    assert_eq!(status(&app, &forged).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn revoked_after_cached_is_401() {
    let auth = auth_with(ManualClock::starting_now());
    let app = app(&auth);
    let t = auth.issue_access(&TokenRequest::new("alice")).unwrap();
    assert_eq!(status(&app, t.as_str()).await, StatusCode::OK);
    auth.revoke(t.as_str()).await.unwrap();
    assert_eq!(status(&app, t.as_str()).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn expired_while_cached_is_401() {
    let clock = ManualClock::starting_now();
    let auth = auth_with(clock.clone());
    let app = app(&auth);
    let t = auth.issue_access(&TokenRequest::new("alice")).unwrap();
    assert_eq!(status(&app, t.as_str()).await, StatusCode::OK);
    // Just inside the 30 s leeway: still valid, from the cache.
    clock.set(t.expires_at + 29);
    assert_eq!(status(&app, t.as_str()).await, StatusCode::OK);
    clock.set(t.expires_at + 30);
    assert_eq!(status(&app, t.as_str()).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn alg_mismatch_after_cached_is_401() {
    let auth = auth_with(ManualClock::starting_now());
    let app = app(&auth);
    let t = auth.issue_access(&TokenRequest::new("alice")).unwrap();
    assert_eq!(status(&app, t.as_str()).await, StatusCode::OK);
    // Same claims signed with HS384 and the same secret: another algorithm, refused.
    let parts: Vec<&str> = t.as_str().split('.').collect();
    let claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS384);
    header.typ = Some("at+jwt".into());
    let hs384 = jsonwebtoken::encode(
        &header,
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap();
    assert_eq!(status(&app, &hs384).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn service_token_cached_by_a_service_layer_is_not_accepted_by_an_access_layer() {
    let auth = auth_with(ManualClock::starting_now());
    let access_only = auth.layer();
    let with_service = access_only.clone().also_accept(TokenKind::Service);
    let route = || get(|c: Claims| async move { c.sub.clone() });
    let svc_app = Router::new().route("/me", route()).layer(with_service);
    let acc_app = Router::new().route("/me", route()).layer(access_only);
    let t = auth.issue_service(&TokenRequest::new("svc")).unwrap();
    assert_eq!(status(&svc_app, t.as_str()).await, StatusCode::OK);
    assert_eq!(status(&acc_app, t.as_str()).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn cache_off_still_validates() {
    let auth = TokenAuth::builder()
        .hs256_secret(SECRET)
        .verified_cache_capacity(0)
        .build()
        .unwrap();
    let app = app(&auth);
    let attacks = AttackTokens::for_auth(&auth, &TokenRequest::new("alice")).unwrap();
    let t = attacks.genuine();
    assert_eq!(status(&app, t).await, StatusCode::OK);
    assert_eq!(status(&app, t).await, StatusCode::OK);
    assert_eq!(
        status(&app, attacks.get(Attack::TamperedPayload).unwrap()).await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_revoked_token_stays_refused_through_the_leeway_after_its_expiry() {
    let clock = ManualClock::starting_now();
    let auth = auth_with(clock.clone());
    let app = app(&auth);
    let t = auth.issue_access(&TokenRequest::new("alice")).unwrap();
    assert_eq!(status(&app, t.as_str()).await, StatusCode::OK);
    clock.set(t.expires_at - 5);
    auth.revoke(t.as_str()).await.unwrap();
    // Past `exp` but within the 30 s leeway the token would still be accepted, so the
    // revocation must still hold.
    clock.set(t.expires_at + 10);
    assert_eq!(status(&app, t.as_str()).await, StatusCode::UNAUTHORIZED);
    // A revocation made after `exp` (logout of an expired session) holds too.
    let u = auth.issue_access(&TokenRequest::new("bob")).unwrap();
    clock.set(u.expires_at + 1);
    auth.revoke(u.as_str()).await.unwrap();
    assert_eq!(status(&app, u.as_str()).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_stream_of_one_time_tokens_does_not_evict_returning_users() {
    // A cache of 2 048 entries, 500 regular users who come back, and an attacker
    // presenting 10 000 distinct valid tokens of its own, each once.
    let auth = TokenAuth::builder()
        .hs256_secret(SECRET)
        .verified_cache_capacity(2048)
        .build()
        .unwrap();
    let layer = auth.layer();
    let app = Router::new()
        .route("/me", get(|c: Claims| async move { c.sub.clone() }))
        .layer(layer.clone());
    let users: Vec<String> = (0..500)
        .map(|i| {
            auth.issue_access(&TokenRequest::new(format!("user-{i}")))
                .unwrap()
                .into_string()
        })
        .collect();
    for _ in 0..2 {
        for u in &users {
            assert_eq!(status(&app, u).await, StatusCode::OK);
        }
    }
    for i in 0..10_000 {
        let t = auth
            .issue_access(&TokenRequest::new(format!("mallory-{i}")))
            .unwrap();
        assert_eq!(status(&app, t.as_str()).await, StatusCode::OK);
    }
    let before = layer.cache_stats().unwrap();
    for u in &users {
        assert_eq!(status(&app, u).await, StatusCode::OK);
    }
    let after = layer.cache_stats().unwrap();
    assert_eq!(
        after.hits - before.hits,
        500,
        "every returning user is a hit"
    );
    assert_eq!(after.misses, before.misses);
    assert!(after.entries <= 2048);
}

#[tokio::test]
async fn cache_stats_count_the_layers_lookups() {
    let auth = auth_with(ManualClock::starting_now());
    let layer = auth.layer();
    let app = Router::new()
        .route("/me", get(|c: Claims| async move { c.sub.clone() }))
        .layer(layer.clone());
    let t = auth.issue_access(&TokenRequest::new("alice")).unwrap();
    for _ in 0..3 {
        assert_eq!(status(&app, t.as_str()).await, StatusCode::OK);
    }
    let s = layer.cache_stats().unwrap();
    assert_eq!((s.hits, s.misses, s.entries), (2, 1, 1));
    let off = TokenAuth::builder()
        .hs256_secret(SECRET)
        .verified_cache_bytes(0)
        .build()
        .unwrap();
    assert!(
        off.layer().cache_stats().is_none(),
        "a zero budget turns it off"
    );
}
