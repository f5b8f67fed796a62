//! Tokens of the systems this crate replaces, minted by python exactly as each system's
//! code mints them (`common::seeds`; `scripts/test.sh` provides a python3 with PyJWT),
//! through a real `Router` during the migration window and after it.

mod common;

use axum_token_auth::trust::{Revocation, TokenCheck};
use std::process::Command;
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::routing::get;
use axum_token_auth::store::TokenDigest;
use axum_token_auth::trust::{LegacyFormat, LegacyIssuer};
use axum_token_auth::{
    AuthError, Claims, NoCustomClaims, RequireScope, TokenAuth, TokenAuthLayer, scope,
    token::{Algorithm, InvalidToken, TokenKind},
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;
use http::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

const OLD_SECRET: &str = "waddlebot-module-sdk-7Qz1-0123456789-abcdef";

/// `jwt.encode(payload, secret, algorithm=alg)` with PyJWT, for hand-made payloads (a
/// forgery, a foreign key); `{now}` in the payload's numbers is `int(time.time())`,
/// `{jti}` a `secrets.token_hex(16)`, `{uuid}` a `str(uuid.uuid4())`.
fn pyjwt(payload: &str, secret: &str, alg: &str) -> String {
    let python = std::env::var("TEST_PYJWT_PYTHON").unwrap_or_else(|_| "/usr/bin/python3".into());
    let script = r#"
import json, sys, time, secrets, uuid
import jwt
now = int(time.time())
p = sys.argv[1].replace('"{jti}"', json.dumps(secrets.token_hex(16))).replace('"{uuid}"', json.dumps(str(uuid.uuid4())))
payload = json.loads(p.replace('{now}', str(now)))
for k in ('iat', 'exp', 'nbf'):
    if isinstance(payload.get(k), str):
        payload[k] = eval(payload[k])
print(jwt.encode(payload, sys.argv[2], algorithm=sys.argv[3]))
"#;
    let out = Command::new(&python)
        .args(["-c", script, payload, secret, alg])
        .output()
        .unwrap_or_else(|e| panic!("{python}: {e} (run through scripts/test.sh)"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// ScopedTokenService's `generate_token` (seed 000, "Token Payload Structure").
fn scoped(kind: &str, scopes: &[&str]) -> String {
    seeds::scoped_token_service(OLD_SECRET, kind, scopes)
}

fn window(secs: i64) -> SystemTime {
    if secs >= 0 {
        SystemTime::now() + Duration::from_secs(secs as u64)
    } else {
        SystemTime::now() - Duration::from_secs((-secs) as u64)
    }
}

fn with_scoped(until: SystemTime) -> TokenAuth {
    builder()
        .accept_legacy(
            LegacyIssuer::scoped_token_service(OLD_SECRET)
                .unwrap()
                .accept_until(until),
        )
        .build()
        .unwrap()
}

async fn me(c: Claims) -> Value {
    json!({"sub": c.sub, "tenant": c.tenant, "scope": c.scope.to_string(),
        "metadata": c.metadata, "kind": c.kind.as_str()})
}

fn router(auth: &TokenAuth) -> Router {
    Router::new()
        .route(
            "/me",
            get(|c: Claims| async move { axum::Json(me(c).await) }),
        )
        .route(
            "/users",
            get(|_: RequireScope<UsersRead>| async { "users" }),
        )
        .layer(auth.layer())
}

#[tokio::test]
async fn scoped_token_service_tokens_pass_during_the_window() {
    let auth = with_scoped(window(3600));
    let app = router(&auth);
    let t = scoped("access", &["users:read", "api.v1:write"]);
    let body: Value =
        serde_json::from_str(&ok_body(send_get(&app, "/me", Some(&t)).await).await).unwrap();
    assert_eq!(body["sub"], "music_module");
    assert_eq!(body["tenant"], "community_123");
    assert_eq!(body["scope"], "users:read api.v1:write");
    assert_eq!(body["metadata"]["user_id"], "user_456");
    assert_eq!(body["kind"], "access");
    assert_eq!(
        send_get(&app, "/users", Some(&t)).await.status(),
        StatusCode::OK
    );
    // Our own tokens keep working next to them.
    let own = issue(&auth, "alice", &["users:read"]);
    assert_eq!(
        send_get(&app, "/users", Some(&own)).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn legacy_kinds_are_never_confused() {
    let auth = with_scoped(window(3600));
    let app = router(&auth);
    let refresh = scoped("refresh", &["users:read"]);
    assert_refused(
        send_get(&app, "/me", Some(&refresh)).await,
        AuthError::InvalidToken(InvalidToken::WrongKind {
            expected: TokenKind::Access,
        }),
    )
    .await;
    let service = scoped("service", &["users:read"]);
    assert_eq!(
        send_get(&app, "/me", Some(&service)).await.status(),
        StatusCode::UNAUTHORIZED,
        "a service token only where service tokens are accepted"
    );
    let m2m: Router = Router::new()
        .route(
            "/me",
            get(|c: Claims| async move { c.kind.as_str().to_owned() }),
        )
        .layer(
            TokenAuthLayer::<axum_token_auth::NoCustomClaims>::new(auth.clone())
                .also_accept(TokenKind::Service),
        );
    assert_eq!(
        ok_body(send_get(&m2m, "/me", Some(&service)).await).await,
        "service"
    );
}

#[tokio::test]
async fn after_the_window_legacy_tokens_are_refused() {
    let auth = with_scoped(window(-1));
    let t = scoped("access", &["users:read"]);
    assert_refused(
        send_get(&router(&auth), "/me", Some(&t)).await,
        AuthError::InvalidToken(InvalidToken::LegacyFormatRetired),
    )
    .await;
    // And without an end date there is no legacy issuer at all.
    assert!(
        builder()
            .accept_legacy(LegacyIssuer::scoped_token_service(OLD_SECRET).unwrap())
            .build()
            .is_err()
    );
}

#[tokio::test]
async fn only_the_legacy_key_verifies_legacy_tokens() {
    let auth = with_scoped(window(3600));
    let app = router(&auth);
    // A seed-format token signed with another secret, and one with ours.
    let forged = pyjwt(
        &json!({"community_id": "c", "module_name": "m", "scopes": ["*"], "iat": "{now}",
            "exp": "{now} + 60", "type": "access", "jti": "{jti}"})
        .to_string(),
        "an-attackers-secret-of-thirty-two-bytes!",
        "HS256",
    );
    assert_eq!(
        send_get(&app, "/me", Some(&forged)).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let with_ours = pyjwt(
        &json!({"community_id": "c", "module_name": "m", "scopes": ["*"], "iat": "{now}",
            "exp": "{now} + 60", "type": "access", "jti": "{jti}"})
        .to_string(),
        SECRET,
        "HS256",
    );
    assert_refused(
        send_get(&app, "/me", Some(&with_ours)).await,
        AuthError::InvalidToken(InvalidToken::WrongKind {
            expected: TokenKind::Access,
        }),
    )
    .await;
}

#[tokio::test]
async fn the_seeds_revocation_list_is_imported_as_is() {
    let auth = with_scoped(window(3600));
    let app = router(&auth);
    let t = scoped("access", &["users:read"]);
    assert_eq!(
        send_get(&app, "/me", Some(&t)).await.status(),
        StatusCode::OK
    );
    // ScopedTokenService stores hashlib.sha256(token.encode()).hexdigest().
    let python = std::env::var("TEST_PYJWT_PYTHON").unwrap_or_else(|_| "/usr/bin/python3".into());
    let out = Command::new(python)
        .args([
            "-c",
            "import hashlib,sys; print(hashlib.sha256(sys.argv[1].encode()).hexdigest())",
            &t,
        ])
        .output()
        .unwrap();
    let hex = String::from_utf8(out.stdout).unwrap();
    let digest = TokenDigest::from_hex(hex.trim()).expect("64 hex digits");
    auth.revoke(Revocation::digest(digest, now() + 3600))
        .await
        .unwrap();
    assert_refused(
        send_get(&app, "/me", Some(&t)).await,
        AuthError::InvalidToken(InvalidToken::Revoked),
    )
    .await;
    // Our own revoke works on legacy tokens the same way.
    let t2 = scoped("access", &[]);
    auth.revoke(&t2).await.unwrap();
    assert_eq!(
        send_get(&app, "/me", Some(&t2)).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

const WEBTOOL_SECRET: &str = "webtool-7f3a-key-of-forty-eight-bytes-abcdefghij";
const FASTCORE_SECRET: &str = "fc-7Hq2-Vb9x-Lm4k-Zt81-Pw0s-Qe5r-Nd3y-0a6j";
/// Each format its own secret: the first legacy key that verifies a token decides its
/// format.
const TOKEN_AUTH_SECRET: &str = "ta-Rk3v-9Wd1-Hn7c-Qp2m-Xs5e-Lb8t-Gz4u-6f0y";

/// Every legacy format at once, as a service in the middle of its migration would
/// configure them (fastcore with its audience and issuer).
fn with_all(until: SystemTime) -> TokenAuth {
    builder()
        .accept_legacy(
            LegacyIssuer::scoped_token_service(OLD_SECRET)
                .unwrap()
                .accept_until(until),
        )
        .accept_legacy(
            LegacyIssuer::token_auth(Algorithm::HS256, TOKEN_AUTH_SECRET)
                .unwrap()
                .accept_until(until),
        )
        .accept_legacy(
            LegacyIssuer::fastcore(Algorithm::HS256, FASTCORE_SECRET)
                .unwrap()
                .issuer("fastcore-api")
                .audience("fastcore-client")
                .accept_until(until),
        )
        .accept_legacy(
            LegacyIssuer::webtool(WEBTOOL_SECRET)
                .unwrap()
                .accept_until(until),
        )
        .build()
        .unwrap()
}

fn subject_and_id(auth: &TokenAuth) -> Router {
    Router::new()
        .route(
            "/sub",
            get(|c: Claims| async move { format!("{} {} {}", c.sub, c.jti, c.kind.as_str()) }),
        )
        .layer(auth.layer())
}

#[tokio::test]
async fn token_auth_and_fastcore_formats() {
    let auth = with_all(window(3600));
    let app = subject_and_id(&auth);
    // Token-Auth: iat, exp, user_id and a uuid4 ref_id, which becomes the jti.
    let ta = seeds::token_auth(TOKEN_AUTH_SECRET, json!(17), true);
    let ref_id = seeds::claims_of(&ta)["ref_id"].as_str().unwrap().to_owned();
    assert_eq!(
        ok_body(send_get(&app, "/sub", Some(&ta)).await).await,
        format!("17 {ref_id} access")
    );
    // fastcore: sub, type, jti, its issuer and audience.
    let fc = seeds::fastcore(FASTCORE_SECRET, "access", "user123");
    let jti = seeds::claims_of(&fc)["jti"].as_str().unwrap().to_owned();
    assert_eq!(
        ok_body(send_get(&app, "/sub", Some(&fc)).await).await,
        format!("user123 {jti} access")
    );
    let other_aud = seeds::mint_one(json!({"system": "fastcore", "secret": FASTCORE_SECRET,
        "sub": "user123", "aud": "another-app"}));
    assert_refused(
        send_get(&app, "/sub", Some(&other_aud)).await,
        AuthError::InvalidToken(InvalidToken::WrongAudience),
    )
    .await;
    let refresh = seeds::fastcore(FASTCORE_SECRET, "refresh", "user123");
    assert_refused(
        send_get(&app, "/sub", Some(&refresh)).await,
        AuthError::InvalidToken(InvalidToken::WrongKind {
            expected: TokenKind::Access,
        }),
    )
    .await;
    // Expired legacy tokens are expired.
    let old = seeds::mint_one(json!({"system": "token_auth", "secret": TOKEN_AUTH_SECRET,
        "user_id": "u", "shift": -600}));
    assert_refused(
        send_get(&app, "/sub", Some(&old)).await,
        AuthError::InvalidToken(InvalidToken::Expired),
    )
    .await;
}

/// Issue 18, item 13: webtool writes `exp`/`iat` as `time.time()` floats (every token was
/// refused), and tells its refresh tokens only by `at_hash` (no `type`): they must never
/// pass as access tokens.
#[tokio::test]
async fn webtool_pairs_pass_with_float_dates_and_the_refresh_token_stays_a_refresh_token() {
    let auth = with_all(window(3600));
    let app = subject_and_id(&auth);
    let (access, refresh) = seeds::webtool_pair(WEBTOOL_SECRET, "user123");
    assert!(
        seeds::claims_of(&access)["exp"].is_f64(),
        "webtool's floats"
    );
    let jti = seeds::claims_of(&access)["jti"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        ok_body(send_get(&app, "/sub", Some(&access)).await).await,
        format!("user123 {jti} access")
    );
    assert_refused(
        send_get(&app, "/sub", Some(&refresh)).await,
        AuthError::InvalidToken(InvalidToken::WrongKind {
            expected: TokenKind::Access,
        }),
    )
    .await;
    let claims = auth
        .validate::<NoCustomClaims>(&refresh, TokenCheck::kind(TokenKind::Refresh))
        .await
        .unwrap();
    assert_eq!(
        (claims.sub.as_str(), claims.kind),
        ("user123", TokenKind::Refresh)
    );
    // `revoke` reads the float `exp` too.
    auth.revoke(&access).await.unwrap();
    assert_refused(
        send_get(&app, "/sub", Some(&access)).await,
        AuthError::InvalidToken(InvalidToken::Revoked),
    )
    .await;
    // Expired is expired, floats or not.
    let old = seeds::mint(json!({"system": "webtool", "secret": WEBTOOL_SECRET,
        "data": {"sub": "user123"}, "shift": -7200}));
    assert_refused(
        send_get(&app, "/sub", Some(&old[0])).await,
        AuthError::InvalidToken(InvalidToken::Expired),
    )
    .await;
}

scope! {
    /// What the seed's "read admin" must not grant.
    pub Admin = "admin";
}

/// Issue 18, item 14: ScopedTokenService's `scopes` array is mapped element by element:
/// one element with a space is not two scopes, an element outside our grammar is dropped
/// (not the whole token), and no element smuggles in a wildcard.
#[tokio::test]
async fn scoped_token_service_scopes_are_mapped_one_by_one() {
    let auth = with_scoped(window(3600));
    let app = router(&auth).merge(
        Router::new()
            .route("/admin", get(|_: RequireScope<Admin>| async { "admin" }))
            .layer(auth.layer()),
    );
    let t = scoped(
        "access",
        &[
            "read admin",
            "users:read",
            "read.",
            "read *",
            "group:*",
            "ok:x y",
        ],
    );
    let body: Value =
        serde_json::from_str(&ok_body(send_get(&app, "/me", Some(&t)).await).await).unwrap();
    assert_eq!(body["scope"], "users:read", "{body}");
    assert_eq!(
        send_get(&app, "/users", Some(&t)).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        send_get(&app, "/admin", Some(&t)).await.status(),
        StatusCode::FORBIDDEN,
        "\"read admin\" is one scope the old system granted, never `admin`"
    );
    // Its documented wildcard stays one.
    let star = scoped("access", &["*"]);
    assert_eq!(
        send_get(&app, "/admin", Some(&star)).await.status(),
        StatusCode::OK
    );
}

/// Issue 18, item 15: fastcore, webtool and Token-Auth revoke by token id; their lists
/// are imported by id, per format, and never touch another format's or our own ids.
#[tokio::test]
async fn revocations_of_fastcore_webtool_and_token_auth_are_imported_by_id() {
    let auth = with_all(window(3600));
    let app = subject_and_id(&auth);
    let until = now() + 3600;
    let fc = seeds::fastcore(FASTCORE_SECRET, "access", "user123");
    let (wt, _) = seeds::webtool_pair(WEBTOOL_SECRET, "user123");
    let ta = seeds::token_auth(TOKEN_AUTH_SECRET, json!("u7"), true);
    for t in [&fc, &wt, &ta] {
        assert_eq!(
            send_get(&app, "/sub", Some(t)).await.status(),
            StatusCode::OK
        );
    }
    let id = |t: &str, claim: &str| seeds::claims_of(t)[claim].as_str().unwrap().to_owned();
    // Our own revocation by jti, and another format's, do not reach a legacy token.
    auth.revoke(Revocation::id(&id(&fc, "jti"), until))
        .await
        .unwrap();
    auth.revoke(Revocation::legacy(
        LegacyFormat::Webtool,
        &id(&fc, "jti"),
        until,
    ))
    .await
    .unwrap();
    assert_eq!(
        send_get(&app, "/sub", Some(&fc)).await.status(),
        StatusCode::OK
    );
    // Each format's own list does.
    auth.revoke(Revocation::legacy(
        LegacyFormat::Fastcore,
        &id(&fc, "jti"),
        until,
    ))
    .await
    .unwrap();
    auth.revoke(Revocation::legacy(
        LegacyFormat::Webtool,
        &id(&wt, "jti"),
        until,
    ))
    .await
    .unwrap();
    auth.revoke(Revocation::legacy(
        LegacyFormat::TokenAuth,
        &id(&ta, "ref_id"),
        until,
    ))
    .await
    .unwrap();
    for t in [&fc, &wt, &ta] {
        assert_refused(
            send_get(&app, "/sub", Some(t)).await,
            AuthError::InvalidToken(InvalidToken::Revoked),
        )
        .await;
    }
    // ScopedTokenService's list holds SHA-256 hex digests of whole tokens.
    let st = scoped("access", &["users:read"]);
    let hex = format!("{:x}", Sha256::digest(st.as_bytes()));
    auth.revoke(Revocation::legacy(
        LegacyFormat::ScopedTokenService,
        &hex,
        until,
    ))
    .await
    .unwrap();
    assert_refused(
        send_get(&app, "/sub", Some(&st)).await,
        AuthError::InvalidToken(InvalidToken::Revoked),
    )
    .await;
    // Not an id: refused, nothing stored.
    for (format, bad) in [
        (LegacyFormat::Fastcore, ""),
        (LegacyFormat::Webtool, "a\u{0}b"),
        (LegacyFormat::ScopedTokenService, "not-hex"),
    ] {
        assert!(
            auth.revoke(Revocation::legacy(format, bad, until))
                .await
                .is_err()
        );
    }
}

/// Issue 18, item 16: Token-Auth's public `generate_jwt_token` writes no `ref_id`; such a
/// token is accepted with an id derived from what its signature covers, and revocable.
#[tokio::test]
async fn token_auth_tokens_without_ref_id_get_a_derived_id() {
    let auth = with_all(window(3600));
    let app = subject_and_id(&auth);
    let t = seeds::token_auth(TOKEN_AUTH_SECRET, json!(42), false);
    let body = ok_body(send_get(&app, "/sub", Some(&t)).await).await;
    let (_, rest) = body.split_once(' ').unwrap();
    let jti = rest.split(' ').next().unwrap();
    assert!(body.starts_with("42 t.") && jti.len() > 20, "{body}");
    // The same id on every request; derived from header.payload, not the signature.
    let signed = &t[..t.rfind('.').unwrap()];
    assert_eq!(
        jti,
        format!("t.{}", URL_SAFE_NO_PAD.encode(Sha256::digest(signed)))
    );
    auth.revoke(&t).await.unwrap();
    assert_refused(
        send_get(&app, "/sub", Some(&t)).await,
        AuthError::InvalidToken(InvalidToken::Revoked),
    )
    .await;
}
