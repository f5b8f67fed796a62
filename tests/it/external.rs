//! External issuers with static keys, through a real `Router`: selection by `iss`, keys
//! per issuer, audience, kinds, scope mapping, verify-only mode, the live keyring, and
//! claims typed per handler. Provider-shaped tokens come from the testkit's fake
//! Keycloak (`testing::FakeIdp`) where they need no hand-made claims. Remote key sets
//! against a real OpenID Provider are in `tests/it/oidc.rs`, against the fake ones in
//! `tests/it/fake_idp.rs`.

use crate::common;

use axum_token_auth::trust::TokenCheck;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use axum_token_auth::store::memory::MemoryRefreshStore;
use axum_token_auth::testing::{FakeIdp, Provider};
use axum_token_auth::trust::{Issuer, ScopeClaim};
use axum_token_auth::{
    AuthError, Claims, Key, NoCustomClaims, RequireScope, Sessions, TokenAuth, TokenAuthLayer,
    TokenRequest,
    token::{Algorithm, InvalidToken, IssueError, TokenKind},
};
use common::*;
use http::StatusCode;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{EncodingKey, Header};
use serde::Deserialize;
use serde_json::{Value, json};

const IDP_A: &str = "https://sso.example.com/realms/acme";
const IDP_B: &str = "https://login.other.example/";
const A_PRIVATE: &str = include_str!("../fixtures/rsa2048_private.pem");
const A_PUBLIC: &str = include_str!("../fixtures/rsa2048_public.pem");
const B_PRIVATE: &str = include_str!("../fixtures/rsa2048_b_private.pem");
const B_PUBLIC: &str = include_str!("../fixtures/rsa2048_b_public.pem");

fn public_jwk(pem: &str, kid: &str) -> Value {
    let key = Key::from_pem(Algorithm::RS256, pem).unwrap().with_kid(kid);
    serde_json::to_value(key.public_jwk().unwrap()).unwrap()
}

fn jwks(entries: Vec<Value>) -> JwkSet {
    serde_json::from_value(json!({ "keys": entries })).unwrap()
}

/// Keycloak-shaped: `typ: JWT`, no `jti`, roles in `realm_access.roles`.
fn keycloak_claims(sub: &str, aud: &str, roles: &[&str]) -> Value {
    let now = now();
    json!({
        "iss": IDP_A,
        "sub": sub,
        "aud": aud,
        "iat": now,
        "exp": now + 300,
        "typ": "Bearer",
        "azp": "web",
        "scope": "openid profile",
        "realm_access": { "roles": roles },
        "preferred_username": "alice",
    })
}

fn sign(pem: &str, kid: &str, typ: Option<&str>, claims: &Value) -> String {
    let mut h = Header::new(jsonwebtoken::Algorithm::RS256);
    h.kid = Some(kid.into());
    h.typ = typ.map(str::to_owned);
    raw_token(
        &h,
        claims,
        &EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap(),
    )
}

fn idp_a() -> Issuer {
    Issuer::jwks(IDP_A, &jwks(vec![public_jwk(A_PUBLIC, "a1")]))
        .audience("orders-api")
        .scope_claims([
            ScopeClaim::path("scope"),
            ScopeClaim::path("realm_access.roles"),
        ])
        .require_claim("typ", "Bearer")
}

fn idp_b() -> Issuer {
    Issuer::jwks(IDP_B, &jwks(vec![public_jwk(B_PUBLIC, "b1")]))
        .audience("orders-api")
        .scope_claims([ScopeClaim::path("permissions")])
}

fn both() -> TokenAuth {
    builder().trust(idp_a()).trust(idp_b()).build().unwrap()
}

async fn me(c: Claims) -> String {
    format!("{} {}", c.sub, c.scope)
}

fn router(auth: &TokenAuth) -> Router {
    Router::new()
        .route("/me", get(me))
        .route(
            "/users",
            get(|_: RequireScope<UsersRead>| async { "users" }),
        )
        .layer(auth.layer())
}

/// Issuer A as the testkit's fake Keycloak (realm `acme`, its keys pinned) next to
/// issuer B: provider-shaped tokens without hand-made claims.
async fn fake_keycloak_and_b() -> (FakeIdp, TokenAuth) {
    let kc = FakeIdp::start(Provider::keycloak("acme")).await;
    let auth = builder()
        .trust(kc.issuer_pinned().audience("orders-api"))
        .trust(idp_b())
        .build()
        .unwrap();
    (kc, auth)
}

#[tokio::test]
async fn a_provider_token_is_accepted_and_its_roles_become_scopes() {
    let (kc, auth) = fake_keycloak_and_b().await;
    let app = router(&auth);
    let t = kc
        .access_token("u-1")
        .audience("orders-api")
        .roles(["users:read", "bad role!"])
        .sign();
    let body = ok_body(send_get(&app, "/me", Some(&t)).await).await;
    assert!(body.starts_with("u-1 "), "{body}");
    for s in ["openid", "profile", "users:read"] {
        assert!(body.contains(s), "{s} missing in {body}");
    }
    assert_eq!(
        ok_body(send_get(&app, "/users", Some(&t)).await).await,
        "users"
    );
    // Without the role: 403 from the same guard as for our own tokens.
    let t = kc.access_token("u-2").audience("orders-api").sign();
    let r = refusal(send_get(&app, "/users", Some(&t)).await).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // Our own tokens keep working next to them.
    let own = issue(&auth, "alice", &["users:read"]);
    assert_eq!(
        ok_body(send_get(&app, "/users", Some(&own)).await).await,
        "users"
    );
}

#[tokio::test]
async fn wrong_or_missing_audience_is_refused() {
    let auth = both();
    let app = router(&auth);
    let mut c = keycloak_claims("u", "another-api", &[]);
    let t = sign(A_PRIVATE, "a1", Some("JWT"), &c);
    assert_refused(
        send_get(&app, "/me", Some(&t)).await,
        AuthError::InvalidToken(InvalidToken::WrongAudience),
    )
    .await;
    c.as_object_mut().unwrap().remove("aud");
    let t = sign(A_PRIVATE, "a1", Some("JWT"), &c);
    assert_refused(
        send_get(&app, "/me", Some(&t)).await,
        AuthError::InvalidToken(InvalidToken::WrongAudience),
    )
    .await;
    // An array audience containing ours is fine.
    c["aud"] = json!(["account", "orders-api"]);
    let t = sign(A_PRIVATE, "a1", Some("JWT"), &c);
    assert_eq!(
        send_get(&app, "/me", Some(&t)).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn an_id_token_is_refused_as_an_access_token() {
    let (kc, auth) = fake_keycloak_and_b().await;
    let app = router(&auth);
    // Keycloak ID token: audience = the client id, `typ: ID`, a nonce.
    let id = kc.id_token("u").client_id("web");
    assert_eq!(id.claims()["typ"], "ID");
    assert!(id.claims()["nonce"].is_string());
    let r = refusal(send_get(&app, "/me", Some(&id.sign())).await).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{r:?}");
    // Even with our audience, the required `typ: Bearer` claim keeps it out.
    let t = id.claim("aud", json!("orders-api")).sign();
    assert_refused(
        send_get(&app, "/me", Some(&t)).await,
        AuthError::InvalidToken(InvalidToken::InvalidClaims),
    )
    .await;
}

#[tokio::test]
async fn a_token_claiming_issuer_a_signed_by_issuer_b_is_refused() {
    let auth = both();
    let app = router(&auth);
    let c = keycloak_claims("u", "orders-api", &["admin"]);
    // B's key, B's kid, A's iss: A's set has no such key.
    let t = sign(B_PRIVATE, "b1", Some("JWT"), &c);
    assert_refused(
        send_get(&app, "/me", Some(&t)).await,
        AuthError::InvalidToken(InvalidToken::UnknownKey),
    )
    .await;
    // B's key under A's kid: the signature fails.
    let t = sign(B_PRIVATE, "a1", Some("JWT"), &c);
    assert_refused(
        send_get(&app, "/me", Some(&t)).await,
        AuthError::InvalidToken(InvalidToken::BadSignature),
    )
    .await;
    // And a provider's key never verifies a token that claims to be ours.
    let mut ours = wire_claims("mallory", "admin");
    ours["iss"] = json!("https://not-trusted.example");
    let t = sign(A_PRIVATE, "a1", Some("at+jwt"), &ours);
    let r = refusal(send_get(&app, "/me", Some(&t)).await).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn foreign_keys_never_appear_in_our_jwks() {
    let auth = TokenAuth::builder()
        .signing_key(
            Key::from_pem(
                Algorithm::ES256,
                include_str!("../fixtures/ec_p256_private.pem"),
            )
            .unwrap(),
        )
        .trust(idp_a())
        .build()
        .unwrap();
    let ours = auth.jwks();
    assert_eq!(ours.keys.len(), 1);
    let text = serde_json::to_string(&ours).unwrap();
    assert!(!text.contains("\"a1\""), "{text}");
}

#[tokio::test]
async fn a_remote_style_oct_key_is_ignored_and_hs256_with_the_public_key_is_refused() {
    let secret = "a-shared-secret-that-should-never-be-published!!";
    let oct = json!({"kty": "oct", "kid": "h1", "alg": "HS256",
        "k": base64_url(secret.as_bytes())});
    let auth = builder()
        .trust(
            Issuer::jwks(IDP_A, &jwks(vec![public_jwk(A_PUBLIC, "a1"), oct]))
                .audience("orders-api"),
        )
        .build()
        .unwrap();
    let app = router(&auth);
    let c = keycloak_claims("u", "orders-api", &[]);
    let mut h = Header::new(jsonwebtoken::Algorithm::HS256);
    h.kid = Some("h1".into());
    let t = raw_token(&h, &c, &EncodingKey::from_secret(secret.as_bytes()));
    assert_refused(
        send_get(&app, "/me", Some(&t)).await,
        AuthError::InvalidToken(InvalidToken::UnknownKey),
    )
    .await;
    // The classic confusion: HS256 keyed with the provider's public key, under its kid.
    h.kid = Some("a1".into());
    let t = raw_token(&h, &c, &EncodingKey::from_secret(A_PUBLIC.as_bytes()));
    assert_refused(
        send_get(&app, "/me", Some(&t)).await,
        AuthError::InvalidToken(InvalidToken::AlgorithmMismatch),
    )
    .await;
}

fn base64_url(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

#[tokio::test]
async fn kinds_of_external_tokens() {
    let auth = both();
    let app = router(&auth);
    let c = keycloak_claims("u", "orders-api", &[]);
    for typ in [
        None,
        Some("JWT"),
        Some("at+jwt"),
        Some("application/at+jwt"),
    ] {
        let t = sign(A_PRIVATE, "a1", typ, &c);
        assert_eq!(
            send_get(&app, "/me", Some(&t)).await.status(),
            StatusCode::OK,
            "{typ:?}"
        );
    }
    for typ in ["refresh+jwt", "service+jwt", "logout+jwt", "id_token+jwt"] {
        let t = sign(A_PRIVATE, "a1", Some(typ), &c);
        assert_refused(
            send_get(&app, "/me", Some(&t)).await,
            AuthError::InvalidToken(InvalidToken::WrongKind {
                expected: TokenKind::Access,
            }),
        )
        .await;
    }
    // require_at_jwt: plain JWT is no longer enough.
    let strict = builder().trust(idp_a().require_at_jwt()).build().unwrap();
    let app = router(&strict);
    let t = sign(A_PRIVATE, "a1", Some("JWT"), &c);
    assert_eq!(
        send_get(&app, "/me", Some(&t)).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let t = sign(A_PRIVATE, "a1", Some("at+jwt"), &c);
    assert_eq!(
        send_get(&app, "/me", Some(&t)).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn expired_external_tokens_are_refused_with_the_issuers_leeway() {
    let auth = builder()
        .trust(idp_a().leeway(Duration::from_secs(0)))
        .build()
        .unwrap();
    let app = router(&auth);
    let mut c = keycloak_claims("u", "orders-api", &[]);
    c["exp"] = json!(now() - 5);
    let t = sign(A_PRIVATE, "a1", None, &c);
    assert_refused(
        send_get(&app, "/me", Some(&t)).await,
        AuthError::InvalidToken(InvalidToken::Expired),
    )
    .await;
    // The default leeway (30 s) would have accepted it.
    let lenient = builder().trust(idp_a()).build().unwrap();
    assert_eq!(
        send_get(&router(&lenient), "/me", Some(&t)).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn verify_only_mode_builds_and_issuing_says_why_it_cannot() {
    let auth = TokenAuth::builder().trust(idp_a()).build().unwrap();
    assert_eq!(
        auth.issue_access(&TokenRequest::new("alice")).unwrap_err(),
        IssueError::NoSigningKey
    );
    let app = router(&auth);
    let t = sign(
        A_PRIVATE,
        "a1",
        None,
        &keycloak_claims("u", "orders-api", &[]),
    );
    assert_eq!(
        send_get(&app, "/me", Some(&t)).await.status(),
        StatusCode::OK
    );
    // Still no signing key and no issuer: refused at build.
    assert!(TokenAuth::builder().build().is_err());
}

#[tokio::test]
async fn an_issuer_without_audience_is_a_config_error() {
    let e = builder()
        .trust(Issuer::jwks(IDP_A, &jwks(vec![public_jwk(A_PUBLIC, "a1")])))
        .build()
        .unwrap_err();
    assert!(e.to_string().contains("audience"), "{e}");
}

#[tokio::test]
async fn external_tokens_without_jti_can_be_revoked_and_are_cached() {
    let auth = both();
    let app = router(&auth);
    let t = sign(
        A_PRIVATE,
        "a1",
        None,
        &keycloak_claims("u", "orders-api", &[]),
    );
    for _ in 0..3 {
        assert_eq!(
            send_get(&app, "/me", Some(&t)).await.status(),
            StatusCode::OK
        );
    }
    auth.revoke(&t).await.unwrap();
    assert_refused(
        send_get(&app, "/me", Some(&t)).await,
        AuthError::InvalidToken(InvalidToken::Revoked),
    )
    .await;
    // Another token of the same user is not affected.
    let mut c = keycloak_claims("u", "orders-api", &[]);
    c["jti"] = json!("provider-jti-1");
    let other = sign(A_PRIVATE, "a1", None, &c);
    assert_eq!(
        send_get(&app, "/me", Some(&other)).await.status(),
        StatusCode::OK
    );
    // A token of ours with the same jti is not revoked with the provider's.
    auth.revoke(&other).await.unwrap();
    let mut ours = wire_claims("u", "");
    ours["jti"] = json!("provider-jti-1");
    let ours = raw_hs256(&ours);
    assert_eq!(
        send_get(&app, "/me", Some(&ours)).await.status(),
        StatusCode::OK
    );
}

#[derive(Debug, Deserialize)]
struct Profile {
    preferred_username: String,
}

#[tokio::test]
async fn claims_are_typed_per_handler_for_external_tokens_too() {
    let auth = both();
    let app: Router = Router::new()
        .route(
            "/profile",
            get(|c: Claims<Profile>| async move { c.custom.preferred_username.clone() }),
        )
        .route("/sub", get(|c: Claims| async move { c.sub.clone() }))
        .layer(auth.layer());
    let t = sign(
        A_PRIVATE,
        "a1",
        None,
        &keycloak_claims("u-9", "orders-api", &[]),
    );
    assert_eq!(
        ok_body(send_get(&app, "/profile", Some(&t)).await).await,
        "alice"
    );
    assert_eq!(ok_body(send_get(&app, "/sub", Some(&t)).await).await, "u-9");
}

#[derive(Debug, Deserialize)]
struct AppClaims {
    #[serde(default)]
    org: Option<String>,
}

#[tokio::test]
async fn the_crates_own_routes_work_behind_a_layer_of_the_apps_claims_type() {
    // sessions_route extracts the default claims type; behind TokenAuthLayer::<AppClaims>
    // it used to answer 500.
    let auth = auth();
    let sessions = Sessions::builder(auth.clone(), MemoryRefreshStore::new())
        .build()
        .unwrap();
    let login = sessions
        .login(&TokenRequest::new("alice"), None)
        .await
        .unwrap();
    let app: Router = Router::new()
        .route("/auth/sessions", sessions.sessions_route())
        .route(
            "/org",
            get(|c: Claims<AppClaims>| async move { format!("{:?}", c.custom.org) }),
        )
        .layer(TokenAuthLayer::<AppClaims>::new(auth.clone()));
    let access = login.pair.access.as_str().to_owned();
    let res = send_get(&app, "/auth/sessions", Some(&access)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body = body_text(res).await;
    assert!(body.contains(&login.session_id), "{body}");
    assert_eq!(
        ok_body(send_get(&app, "/org", Some(&access)).await).await,
        "None"
    );
}

#[tokio::test]
async fn the_live_keyring_rotates_and_retires_without_a_new_router() {
    let a = Key::hs256(SECRET).unwrap().with_kid("k1");
    let auth = TokenAuth::builder().signing_key(a).build().unwrap();
    let app = router(&auth).route("/jwks", auth.web().jwks_route());
    let old = issue(&auth, "alice", &[]);
    assert_eq!(
        send_get(&app, "/me", Some(&old)).await.status(),
        StatusCode::OK
    );

    let rsa = Key::from_pem(Algorithm::RS256, B_PRIVATE)
        .unwrap()
        .with_kid("k2");
    auth.rotate_signing_key(rsa).unwrap();
    let new = issue(&auth, "alice", &[]);
    assert_eq!(
        send_get(&app, "/me", Some(&new)).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        send_get(&app, "/me", Some(&old)).await.status(),
        StatusCode::OK,
        "the previous key still verifies"
    );
    let served = body_text(send_get(&app, "/jwks", None).await).await;
    assert!(
        served.contains("\"k2\""),
        "the route serves the current set: {served}"
    );

    // Retiring the old key voids it, also in the layer's verified cache.
    auth.retire_key("k1").unwrap();
    assert_refused(
        send_get(&app, "/me", Some(&old)).await,
        AuthError::InvalidToken(InvalidToken::UnknownKey),
    )
    .await;
    assert_eq!(
        send_get(&app, "/me", Some(&new)).await.status(),
        StatusCode::OK
    );
    assert!(
        auth.retire_key("k2").is_err(),
        "the signing key cannot be retired"
    );
    assert!(auth.retire_key("nope").is_err());
}

#[tokio::test]
async fn validate_accepts_external_tokens_like_the_layer() {
    let auth = both();
    let t = sign(
        B_PRIVATE,
        "b1",
        None,
        &json!({"iss": IDP_B, "sub": "svc@clients", "aud": "orders-api",
            "iat": now(), "exp": now() + 60, "permissions": ["read:orders"]}),
    );
    let c = auth
        .validate::<NoCustomClaims>(&t, TokenCheck::ACCESS)
        .await
        .unwrap();
    assert_eq!(c.sub, "svc@clients");
    assert!(c.has_scope("read:orders"));
    assert_eq!(c.iss.as_deref(), Some(IDP_B));
    assert!(c.jti.starts_with("t."), "a derived id: {}", c.jti);
}
