//! One truth per token: the regressions of the second security review (issue 18), each
//! at the seam where one decision used to be made twice. Verification decides a token's
//! identity, origin, revocation rule and the instant it stops being valid; the layer,
//! the verified-token cache, revocation and the session routes consume that. Each test
//! failed before its fix.

use crate::common;

use axum_token_auth::trust::{Revocation, TokenCheck};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::routing::get;
use axum_token_auth::store::StoreFailurePolicy;
use axum_token_auth::store::memory::MemoryRefreshStore;
use axum_token_auth::testing::ManualClock;
use axum_token_auth::token::{Algorithm, InvalidToken, TokenOrigin};
use axum_token_auth::trust::{Issuer, LegacyIssuer, ScopeClaim, VerifyError};
use axum_token_auth::{Claims, Key, NoCustomClaims, Sessions, TokenRequest};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;
use http::{Method, StatusCode};
use jsonwebtoken::{EncodingKey, Header};
use serde_json::{Value, json};

const IDP: &str = "https://idp.test";
const EC_PRIVATE: &str = include_str!("../fixtures/ec_p256_private.pem");
const EC_PUBLIC: &str = include_str!("../fixtures/ec_p256_public.pem");
const LEGACY_SECRET: &str = "the-old-service-secret-Qz7v-0123456789ab";

/// An ES256 identity provider trusted by static key, audience `api`.
fn idp() -> Issuer {
    let key = Key::from_pem(Algorithm::ES256, EC_PUBLIC)
        .unwrap()
        .with_kid("k1");
    Issuer::keys(IDP, [key]).audience("api")
}

/// A token of [`idp`] with `claims` over the defaults (`iss`, `aud`, `iat`, `exp`).
fn idp_token(claims: Value) -> String {
    ensure_crypto_provider();
    let mut body = json!({"iss": IDP, "aud": "api", "iat": now(), "exp": now() + 600});
    for (k, v) in claims.as_object().unwrap() {
        body[k] = v.clone();
    }
    let mut header = Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some("k1".into());
    header.typ = Some("at+jwt".into());
    let key = EncodingKey::from_ec_pem(EC_PRIVATE.as_bytes()).unwrap();
    jsonwebtoken::encode(&header, &body, &key).unwrap()
}

/// The same ES256 token with its signature's `s` replaced by `n − s`: a second valid
/// signature over the same signed part (ECDSA malleability).
fn malleate_es256(token: &str) -> String {
    // The order of P-256.
    const N: [u8; 32] = [
        0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        0xFF, 0xBC, 0xE6, 0xFA, 0xAD, 0xA7, 0x17, 0x9E, 0x84, 0xF3, 0xB9, 0xCA, 0xC2, 0xFC, 0x63,
        0x25, 0x51,
    ];
    let (signed, sig) = token.rsplit_once('.').unwrap();
    let mut sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
    assert_eq!(sig.len(), 64);
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let d = N[i] as i16 - sig[32 + i] as i16 - borrow;
        borrow = i16::from(d < 0);
        sig[32 + i] = d.rem_euclid(256) as u8;
    }
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(sig))
}

fn me_app(layer: axum_token_auth::TokenAuthLayer) -> Router {
    Router::new()
        .route("/me", get(|c: Claims| async move { c.sub.clone() }))
        .route_layer(layer)
}

// 1. A legacy token used once before the end of its window is refused after it, even
//    though the layer's cache holds its verdict.
#[tokio::test]
async fn legacy_token_is_refused_after_accept_until_even_when_cached() {
    let start = now();
    let clock = ManualClock::new(start);
    let legacy = LegacyIssuer::scoped_token_service(LEGACY_SECRET)
        .unwrap()
        .accept_until(UNIX_EPOCH + Duration::from_secs(start + 100));
    let auth = builder()
        .clock(clock.clone())
        .accept_legacy(legacy)
        .build()
        .unwrap();
    // A year-long ScopedTokenService service-style access token.
    let token = jsonwebtoken::encode(
        &Header::new(jsonwebtoken::Algorithm::HS256),
        &json!({"community_id": "c1", "module_name": "m1", "scopes": ["read"],
                "type": "access", "iat": start, "exp": start + 365 * 86_400}),
        &EncodingKey::from_secret(LEGACY_SECRET.as_bytes()),
    )
    .unwrap();
    let app = me_app(auth.layer());
    let res = send_get(&app, "/me", Some(&token)).await;
    assert_eq!(res.status(), StatusCode::OK, "accepted within the window");
    clock.set(start + 99);
    assert_eq!(
        send_get(&app, "/me", Some(&token)).await.status(),
        StatusCode::OK
    );
    clock.set(start + 100);
    assert_refused(
        send_get(&app, "/me", Some(&token)).await,
        axum_token_auth::AuthError::InvalidToken(InvalidToken::LegacyFormatRetired),
    )
    .await;
}

// 2. A `jti`-less ES256 token and its malleated twin have one identity: revoking one
//    revokes both.
#[tokio::test]
async fn malleated_ecdsa_signature_does_not_escape_revocation() {
    let auth = builder().trust(idp()).build().unwrap();
    let token = idp_token(json!({"sub": "svc"}));
    let twin = malleate_es256(&token);
    assert_ne!(token, twin);
    // Both spellings verify: the twin is the same token to a verifier.
    let a = auth
        .validate::<NoCustomClaims>(&token, TokenCheck::ACCESS)
        .await
        .unwrap();
    let b = auth
        .validate::<NoCustomClaims>(&twin, TokenCheck::ACCESS)
        .await
        .unwrap();
    assert_eq!(a.jti, b.jti, "one id for one signed part");
    auth.revoke(&token).await.unwrap();
    for t in [&token, &twin] {
        assert_eq!(
            auth.validate::<NoCustomClaims>(t, TokenCheck::ACCESS)
                .await
                .unwrap_err(),
            VerifyError::InvalidToken(InvalidToken::Revoked)
        );
    }
    // Over HTTP too.
    let app = me_app(auth.layer());
    assert_refused(
        send_get(&app, "/me", Some(&twin)).await,
        axum_token_auth::AuthError::InvalidToken(InvalidToken::Revoked),
    )
    .await;
}

// 3. The session routes act on this service's users only: an identity provider's
//    principal whose `sub` equals a local user id neither lists nor ends their sessions.
#[tokio::test]
async fn session_routes_refuse_an_identity_provider_token_for_a_local_sub() {
    let auth = builder().trust(idp()).build().unwrap();
    let sessions = Sessions::builder(auth.clone(), MemoryRefreshStore::new())
        .build()
        .unwrap();
    let login = sessions
        .login(&TokenRequest::new("alice"), Some("Firefox"))
        .await
        .unwrap();
    let own = login.pair.access.as_str().to_owned();
    let family = login.session_id.clone();
    let app: Router = Router::new()
        .route("/auth/sessions", sessions.sessions_route())
        .route("/auth/sessions/{id}", sessions.revoke_session_route())
        .route_layer(auth.layer());
    let foreign = idp_token(json!({"sub": "alice"}));

    assert_refused(
        send_get(&app, "/auth/sessions", Some(&foreign)).await,
        axum_token_auth::AuthError::InvalidToken(InvalidToken::WrongIssuer),
    )
    .await;
    let path = format!("/auth/sessions/{family}");
    assert_refused(
        send(&app, request(Method::DELETE, &path, Some(&foreign))).await,
        axum_token_auth::AuthError::InvalidToken(InvalidToken::WrongIssuer),
    )
    .await;
    // Alice's own token still sees her (untouched) session.
    let list: Value =
        serde_json::from_str(&ok_body(send_get(&app, "/auth/sessions", Some(&own)).await).await)
            .unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["id"], family.as_str());
}

// 3. The layer's own filter: own tokens only, or named issuers only.
#[tokio::test]
async fn layer_filters_tokens_by_origin() {
    let auth = builder().trust(idp()).build().unwrap();
    let own = issue(&auth, "alice", &[]);
    let foreign = idp_token(json!({"sub": "alice"}));
    let wrong_issuer = axum_token_auth::AuthError::InvalidToken(InvalidToken::WrongIssuer);

    let any = me_app(auth.layer());
    assert_eq!(
        send_get(&any, "/me", Some(&own)).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        send_get(&any, "/me", Some(&foreign)).await.status(),
        StatusCode::OK
    );

    let own_only = me_app(auth.layer().own_tokens_only());
    assert_eq!(
        send_get(&own_only, "/me", Some(&own)).await.status(),
        StatusCode::OK
    );
    assert_refused(
        send_get(&own_only, "/me", Some(&foreign)).await,
        wrong_issuer.clone(),
    )
    .await;

    let idp_only = me_app(auth.layer().issuers([IDP]));
    assert_refused(
        send_get(&idp_only, "/me", Some(&own)).await,
        wrong_issuer.clone(),
    )
    .await;
    assert_eq!(
        send_get(&idp_only, "/me", Some(&foreign)).await.status(),
        StatusCode::OK
    );

    let both = me_app(auth.layer().own_tokens_only().issuers([IDP]));
    assert_eq!(
        send_get(&both, "/me", Some(&own)).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        send_get(&both, "/me", Some(&foreign)).await.status(),
        StatusCode::OK
    );

    // The scope guard reads the same decision.
    let guarded: Router = Router::new()
        .route("/me", get(|c: Claims| async move { c.sub.clone() }))
        .route_layer(
            axum_token_auth::ScopeGuardLayer::all(["users:read"])
                .unwrap()
                .own_tokens_only(),
        )
        .route_layer(auth.layer());
    let own_reader = issue(&auth, "alice", &["users:read"]);
    let foreign_reader = idp_token(json!({"sub": "alice", "scope": "users:read"}));
    assert_eq!(
        send_get(&guarded, "/me", Some(&own_reader)).await.status(),
        StatusCode::OK
    );
    assert_refused(
        send_get(&guarded, "/me", Some(&foreign_reader)).await,
        wrong_issuer.clone(),
    )
    .await;

    // The claims say who vouches for them.
    let c = auth
        .validate::<NoCustomClaims>(&foreign, TokenCheck::ACCESS)
        .await
        .unwrap();
    assert_eq!(c.origin, TokenOrigin::Issuer(Arc::from(IDP)));
    assert_eq!(c.origin.issuer(), Some(IDP));
    let c = auth
        .validate::<NoCustomClaims>(&own, TokenCheck::ACCESS)
        .await
        .unwrap();
    assert!(c.origin.is_own());
}

// 4. Revoke-all covers a token whose `iat` is ahead of the revoking clock, within the
//    leeway. (A provider's user is revoked in its issuer's key space:
//    `Revocation::subject` is for our own users and leaves it alone.)
#[tokio::test]
async fn revoke_all_covers_a_token_from_a_clock_running_ahead() {
    let auth = builder().trust(idp()).build().unwrap();
    let ahead = idp_token(json!({"sub": "bob", "iat": now() + 10}));
    assert!(
        auth.validate::<NoCustomClaims>(&ahead, TokenCheck::ACCESS)
            .await
            .is_ok()
    );
    auth.revoke(Revocation::subject("bob")).await.unwrap();
    assert!(
        auth.validate::<NoCustomClaims>(&ahead, TokenCheck::ACCESS)
            .await
            .is_ok()
    );
    auth.revoke(Revocation::external_subject(IDP, "bob", now()))
        .await
        .unwrap();
    assert_eq!(
        auth.validate::<NoCustomClaims>(&ahead, TokenCheck::ACCESS)
            .await
            .unwrap_err(),
        VerifyError::InvalidToken(InvalidToken::Revoked)
    );
}

// 5. A wildcard never comes from an identity provider's claim values.
#[tokio::test]
async fn wildcards_never_come_from_external_claims() {
    let issuer = idp().scope_claims([
        ScopeClaim::path("scope"),
        ScopeClaim::path("groups").prefix("group:"),
    ]);
    let auth = builder().trust(issuer).build().unwrap();
    let token = idp_token(json!({"sub": "eve", "scope": "* users:read", "groups": ["*", "ops"]}));
    let c = auth
        .validate::<NoCustomClaims>(&token, TokenCheck::ACCESS)
        .await
        .unwrap();
    assert!(c.has_scope("users:read"));
    assert!(c.has_scope("group:ops"));
    assert!(!c.has_scope("admin"), "`*` granted everything");
    assert!(
        !c.has_scope("group:admins"),
        "`group:*` granted every group"
    );
}

// 6. A configured tenant claim is the only source of the tenant.
#[tokio::test]
async fn configured_tenant_claim_is_not_bypassed_by_a_raw_tenant() {
    let auth = builder()
        .trust(idp().tenant_claim(ScopeClaim::path("tid")))
        .build()
        .unwrap();
    let without = idp_token(json!({"sub": "eve", "tenant": "victim-corp"}));
    let c = auth
        .validate::<NoCustomClaims>(&without, TokenCheck::ACCESS)
        .await
        .unwrap();
    assert_eq!(c.tenant, None);
    let with = idp_token(json!({"sub": "eve", "tid": "acme", "tenant": "victim-corp"}));
    let c = auth
        .validate::<NoCustomClaims>(&with, TokenCheck::ACCESS)
        .await
        .unwrap();
    assert_eq!(c.tenant.as_deref(), Some("acme"));
}

// 7. Every token the layer accepts can be revoked, by the identity the layer looks up.
#[tokio::test]
async fn a_numeric_jti_token_is_accepted_and_revocable() {
    let auth = builder().trust(idp()).build().unwrap();
    let token = idp_token(json!({"sub": "svc", "jti": 12345}));
    let c = auth
        .validate::<NoCustomClaims>(&token, TokenCheck::ACCESS)
        .await
        .unwrap();
    assert_eq!(c.jti, "12345");
    auth.revoke(&token).await.unwrap();
    let app = me_app(auth.layer());
    assert_refused(
        send_get(&app, "/me", Some(&token)).await,
        axum_token_auth::AuthError::InvalidToken(InvalidToken::Revoked),
    )
    .await;
}

// ---------------------------------------------------------------------------------------
// A private Redis (a real server on its own port) that a test may stop.

struct PrivateRedis {
    child: Child,
    port: u16,
}

impl PrivateRedis {
    fn start() -> PrivateRedis {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Self::start_on(port)
    }

    /// A server on `port` (a restart of one that was stopped), once it listens.
    fn start_on(port: u16) -> PrivateRedis {
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
        PrivateRedis { child, port }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Waits (bounded) until `app` answers `status` for `token` on `/me`.
async fn wait_for_status(app: &Router, token: &str, status: StatusCode) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        if send_get(app, "/me", Some(token)).await.status() == status {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never answered {status}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// 12. The store-failure policy, and whether revocation is checked at all, per issuer: an
//     identity provider's machine-to-machine traffic need not fail with the session store.
#[cfg(feature = "redis")]
#[tokio::test]
async fn per_issuer_store_failure_policy_keeps_provider_traffic_up() {
    use axum_token_auth::store::redis::RedisStore;
    let mut redis = PrivateRedis::start();
    let store = Arc::new(RedisStore::connect(&redis.url()).await.unwrap());
    let open = Issuer::keys(
        "https://m2m.test",
        [Key::from_pem(Algorithm::ES256, EC_PUBLIC)
            .unwrap()
            .with_kid("k1")],
    )
    .audience("api")
    .on_store_failure(StoreFailurePolicy::FailOpen);
    let auth = builder()
        .trust(idp())
        .trust(open)
        .revocation_store(store)
        .build()
        .unwrap();
    let app = me_app(auth.layer());
    let own = issue(&auth, "alice", &[]);
    let closed_idp = idp_token(json!({"sub": "job"}));
    let open_idp = idp_token(json!({"sub": "job", "iss": "https://m2m.test"}));
    for t in [&own, &closed_idp, &open_idp] {
        assert_eq!(
            send_get(&app, "/me", Some(t)).await.status(),
            StatusCode::OK
        );
    }
    redis.stop();
    // The handle's default (fail closed) for its own tokens and the default issuer ...
    wait_for_status(&app, &own, StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(
        send_get(&app, "/me", Some(&closed_idp)).await.status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    // ... while the fail-open issuer's tokens still pass.
    assert_eq!(
        send_get(&app, "/me", Some(&open_idp)).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn an_issuer_without_revocation_check_is_never_looked_up() {
    let auth = builder()
        .trust(idp().without_revocation_check())
        .build()
        .unwrap();
    let token = idp_token(json!({"sub": "job"}));
    auth.revoke(&token).await.unwrap();
    // Documented: nothing reads the revocation for this issuer.
    assert!(
        auth.validate::<NoCustomClaims>(&token, TokenCheck::ACCESS)
            .await
            .is_ok()
    );
    // The crate's own tokens are still checked.
    let own = issue(&auth, "alice", &[]);
    auth.revoke(&own).await.unwrap();
    assert!(
        auth.validate::<NoCustomClaims>(&own, TokenCheck::ACCESS)
            .await
            .is_err()
    );
}

// 10. Logout does not report success when an access token of the session could not be
//     revoked; once the store is back the token is refused (retried in the background).
#[cfg(feature = "redis")]
#[tokio::test]
async fn logout_answers_503_when_an_access_token_cannot_be_revoked() {
    use axum_token_auth::store::redis::RedisStore;
    let mut redis = PrivateRedis::start();
    let store = Arc::new(RedisStore::connect(&redis.url()).await.unwrap());
    let auth = builder().revocation_store(store).build().unwrap();
    let sessions = Sessions::builder(auth.clone(), MemoryRefreshStore::new())
        .build()
        .unwrap();
    let login = sessions
        .login(&TokenRequest::new("alice"), None)
        .await
        .unwrap();
    let access = login.pair.access.as_str().to_owned();
    let refresh = login.pair.refresh.as_str().to_owned();
    redis.stop();
    let port = redis.port;
    let e = sessions.logout(Some(&refresh), None).await.unwrap_err();
    assert_eq!(e, axum_token_auth::session::SessionError::RevocationPending);
    assert_eq!(
        axum_token_auth::AuthError::from(e),
        axum_token_auth::AuthError::StoreUnavailable
    );
    // The session is ended all the same: its refresh token is refused.
    assert!(sessions.refresh(&refresh, None).await.is_err());
    // The store comes back (same port): the access token gets revoked in the background.
    let _redis = PrivateRedis::start_on(port);
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        match auth
            .validate::<NoCustomClaims>(&access, TokenCheck::ACCESS)
            .await
        {
            Err(VerifyError::InvalidToken(InvalidToken::Revoked)) => break,
            other => {
                assert!(
                    std::time::Instant::now() < deadline,
                    "the access token was never revoked: {other:?}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// A ScopedTokenService token of `kind` (HS256 with [`LEGACY_SECRET`]).
fn legacy_token(kind: &str, iat: u64) -> String {
    ensure_crypto_provider();
    jsonwebtoken::encode(
        &Header::new(jsonwebtoken::Algorithm::HS256),
        &json!({"community_id": "c1", "module_name": "m1", "scopes": ["users:read"],
                "type": kind, "iat": iat, "exp": iat + 3600}),
        &EncodingKey::from_secret(LEGACY_SECRET.as_bytes()),
    )
    .unwrap()
}

fn legacy_auth() -> axum_token_auth::TokenAuth {
    let legacy = LegacyIssuer::scoped_token_service(LEGACY_SECRET)
        .unwrap()
        .accept_until(SystemTime::now() + Duration::from_secs(86_400));
    builder().accept_legacy(legacy).build().unwrap()
}

fn refresh_json(token: &str) -> http::Request<axum::body::Body> {
    http::Request::post("/auth/refresh")
        .header("content-type", "application/json")
        .body(axum::body::Body::from(
            json!({ "refresh_token": token }).to_string(),
        ))
        .unwrap()
}

// 17. A legacy refresh token is exchanged for a new session by the refresh route (opt-in)
//     and consumed; without the opt-in it is refused as another issuer's, not as a bad
//     signature.
#[tokio::test]
async fn refresh_route_exchanges_a_legacy_refresh_token_once_when_enabled() {
    let auth = legacy_auth();
    let old = legacy_token("refresh", now());

    let off = Sessions::builder(auth.clone(), MemoryRefreshStore::new())
        .build()
        .unwrap();
    let app: Router = Router::new().route("/auth/refresh", off.refresh_route());
    assert_refused(
        send(&app, refresh_json(&old)).await,
        axum_token_auth::AuthError::InvalidToken(InvalidToken::WrongIssuer),
    )
    .await;

    let on = Sessions::builder(auth.clone(), MemoryRefreshStore::new())
        .exchange_legacy_refresh_tokens(true)
        .build()
        .unwrap();
    let app: Router = Router::new()
        .route("/auth/refresh", on.refresh_route())
        .route(
            "/me",
            get(|c: Claims| async move { c.sub.clone() }).route_layer(auth.layer()),
        );
    let pair: Value =
        serde_json::from_str(&ok_body(send(&app, refresh_json(&old)).await).await).unwrap();
    let access = pair["access_token"].as_str().unwrap();
    let c = auth
        .validate::<NoCustomClaims>(access, TokenCheck::ACCESS)
        .await
        .unwrap();
    assert_eq!(c.sub, "m1");
    assert_eq!(c.tenant.as_deref(), Some("c1"));
    assert!(c.has_scope("users:read"));
    assert!(c.origin.is_own(), "a session of ours now");
    assert_eq!(on.list("m1").await.unwrap().len(), 1);
    // Consumed: a second presentation is refused.
    assert_refused(
        send(&app, refresh_json(&old)).await,
        axum_token_auth::AuthError::InvalidToken(InvalidToken::Revoked),
    )
    .await;
    // A webtool refresh token is never exchanged (webtool forgets rotated ones in an
    // allow list nothing can import).
    const WEBTOOL_SECRET: &str = "webtool-secret-for-the-exchange-test-0123456789-abcdefghij";
    let webtool = LegacyIssuer::webtool(WEBTOOL_SECRET)
        .unwrap()
        .accept_until(SystemTime::now() + Duration::from_secs(86_400));
    let wauth = builder().accept_legacy(webtool).build().unwrap();
    let won = Sessions::builder(wauth.clone(), MemoryRefreshStore::new())
        .exchange_legacy_refresh_tokens(true)
        .build()
        .unwrap();
    let wapp: Router = Router::new().route("/auth/refresh", won.refresh_route());
    let (_, webtool_refresh) = seeds::webtool_pair(WEBTOOL_SECRET, "42");
    assert_refused(
        send(&wapp, refresh_json(&webtool_refresh)).await,
        axum_token_auth::AuthError::InvalidToken(InvalidToken::WrongIssuer),
    )
    .await;
    // A legacy access token is never a refresh token.
    let legacy_access = legacy_token("access", now());
    assert_eq!(
        send(&app, refresh_json(&legacy_access)).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

// 17. Logout revokes a legacy access token.
#[tokio::test]
async fn logout_revokes_a_legacy_access_token() {
    let auth = legacy_auth();
    let sessions = Sessions::builder(auth.clone(), MemoryRefreshStore::new())
        .build()
        .unwrap();
    let app: Router = Router::new()
        .route("/auth/logout", sessions.logout_route())
        .merge(me_app(auth.layer()));
    let token = legacy_token("access", now());
    assert_eq!(
        send_get(&app, "/me", Some(&token)).await.status(),
        StatusCode::OK
    );
    let res = send(&app, request(Method::POST, "/auth/logout", Some(&token))).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_refused(
        send_get(&app, "/me", Some(&token)).await,
        axum_token_auth::AuthError::InvalidToken(InvalidToken::Revoked),
    )
    .await;
}
