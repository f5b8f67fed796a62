//! Tokens of the systems this crate replaces, minted by PyJWT exactly as each seed system
//! mints them (`scripts/test.sh` provides a python3 with PyJWT), through a real `Router`
//! during the migration window and after it.

mod common;

use std::process::Command;
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::routing::get;
use axum_token_auth::store::TokenDigest;
use axum_token_auth::trust::LegacyIssuer;
use axum_token_auth::{
    AuthError, Claims, RequireScope, TokenAuth, TokenAuthLayer,
    token::{Algorithm, InvalidToken, TokenKind},
};
use common::*;
use http::StatusCode;
use serde_json::{Value, json};

const OLD_SECRET: &str = "waddlebot-module-sdk-7Qz1-0123456789-abcdef";

/// `jwt.encode(payload, secret, algorithm=alg)` with PyJWT; `{now}` in the payload's
/// numbers is the current time (`time.time()`), and `{jti}` a `secrets.token_hex(16)`,
/// `{uuid}` a `str(uuid.uuid4())`, as the seeds write them.
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

/// ScopedTokenService's payload (seed 000, "Token Payload Structure").
fn scoped(kind: &str, scopes: &[&str]) -> String {
    let payload = json!({
        "community_id": "community_123",
        "module_name": "music_module",
        "scopes": scopes,
        "iat": "{now}",
        "exp": "{now} + 3600",
        "type": kind,
        "jti": "{jti}",
        "metadata": {"user_id": "user_456", "custom_field": "value"},
    });
    pyjwt(&payload.to_string(), OLD_SECRET, "HS256")
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
    auth.import_revoked_digest(digest, now() + 3600)
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

#[tokio::test]
async fn token_auth_fastcore_and_webtool_formats() {
    let auth = builder()
        .accept_legacy(
            LegacyIssuer::token_auth(Algorithm::HS256, OLD_SECRET)
                .unwrap()
                .accept_until(window(3600)),
        )
        .accept_legacy(
            LegacyIssuer::fastcore(
                Algorithm::HS384,
                "webtool-7f3a-key-of-forty-eight-bytes-abcdefghij",
            )
            .unwrap()
            .audience("my-app")
            .accept_until(window(3600)),
        )
        .build()
        .unwrap();
    let app: Router = Router::new()
        .route(
            "/sub",
            get(|c: Claims| async move { format!("{} {}", c.sub, c.jti) }),
        )
        .layer(auth.layer());
    // Token-Auth: iat, exp, user_id and a uuid4 ref_id.
    let ta = pyjwt(
        r#"{"iat": "{now}", "exp": "{now} + 60", "user_id": 17, "ref_id": "{uuid}"}"#,
        OLD_SECRET,
        "HS256",
    );
    let body = ok_body(send_get(&app, "/sub", Some(&ta)).await).await;
    assert!(body.starts_with("17 ") && body.len() > 30, "{body}");
    // webtool / fastcore: sub, HS384, an audience.
    let wt = pyjwt(
        r#"{"sub": "user123", "iat": "{now}", "exp": "{now} + 3600", "aud": "my-app", "jti": "{uuid}"}"#,
        "webtool-7f3a-key-of-forty-eight-bytes-abcdefghij",
        "HS384",
    );
    assert!(
        ok_body(send_get(&app, "/sub", Some(&wt)).await)
            .await
            .starts_with("user123 ")
    );
    let other_aud = pyjwt(
        r#"{"sub": "user123", "iat": "{now}", "exp": "{now} + 3600", "aud": "another-app"}"#,
        "webtool-7f3a-key-of-forty-eight-bytes-abcdefghij",
        "HS384",
    );
    assert_refused(
        send_get(&app, "/sub", Some(&other_aud)).await,
        AuthError::InvalidToken(InvalidToken::WrongAudience),
    )
    .await;
    let refresh = pyjwt(
        r#"{"sub": "user123", "iat": "{now}", "exp": "{now} + 3600", "aud": "my-app", "type": "refresh"}"#,
        "webtool-7f3a-key-of-forty-eight-bytes-abcdefghij",
        "HS384",
    );
    assert_eq!(
        send_get(&app, "/sub", Some(&refresh)).await.status(),
        StatusCode::UNAUTHORIZED
    );
    // Expired legacy tokens are expired.
    let old = pyjwt(
        r#"{"iat": "{now} - 600", "exp": "{now} - 300", "user_id": "u", "ref_id": "{uuid}"}"#,
        OLD_SECRET,
        "HS256",
    );
    assert_refused(
        send_get(&app, "/sub", Some(&old)).await,
        AuthError::InvalidToken(InvalidToken::Expired),
    )
    .await;
}
