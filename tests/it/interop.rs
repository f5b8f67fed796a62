//! Interoperability: the RFC 7515 appendix A.1 example, tokens minted by raw
//! `jsonwebtoken` (as another service or language would), and our tokens read by raw
//! `jsonwebtoken`.

use crate::common;

use axum::Router;
use axum::routing::get;
use axum_token_auth::trust::VerifyError;
use axum_token_auth::{
    AuthError, Claims, Key, TokenAuth, TokenAuthLayer, TokenRequest,
    token::{Algorithm, FixedClock, InvalidToken, Jwk, TokenKind},
};
use common::*;
use http::{Method, StatusCode};
use jsonwebtoken::{DecodingKey, EncodingKey, Validation};
use serde_json::{Value, json};

const RFC7515_A1_JWK: &str = r#"{"kty":"oct","k":"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"}"#;
const RFC7515_A1_TOKEN: &str = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
/// Ten seconds before the example's `exp` (1300819380).
const RFC7515_A1_NOW: u64 = 1_300_819_370;

fn rfc7515_key() -> Key {
    let jwk: Jwk = serde_json::from_str(RFC7515_A1_JWK).expect("the RFC JWK parses");
    Key::from_jwk(&jwk, Some(Algorithm::HS256)).expect("the RFC key is accepted")
}

fn rfc7515_auth(clock: Option<u64>) -> TokenAuth {
    let b = TokenAuth::builder().signing_key(rfc7515_key());
    match clock {
        Some(t) => b.clock(FixedClock(t)),
        None => b,
    }
    .build()
    .unwrap()
}

fn invalid(reason: InvalidToken) -> AuthError {
    AuthError::InvalidToken(reason)
}

/// What `verify_jwt` answers for `reason`.
fn refused(reason: InvalidToken) -> VerifyError {
    VerifyError::InvalidToken(reason)
}

// ---------------------------------------------------------------------------
// RFC 7515 appendix A.1
// ---------------------------------------------------------------------------

#[test]
fn rfc7515_a1_example_verifies_under_fixed_clock() {
    let auth = rfc7515_auth(Some(RFC7515_A1_NOW));
    let claims: Value = auth
        .verify_jwt(RFC7515_A1_TOKEN)
        .expect("the RFC example verifies");
    assert_eq!(claims["iss"], json!("joe"));
    assert_eq!(claims["exp"], json!(1_300_819_380u64));
    assert_eq!(claims["http://example.com/is_root"], json!(true));
}

#[test]
fn rfc7515_a1_example_is_expired_by_the_real_clock() {
    let auth = rfc7515_auth(None);
    assert_eq!(
        auth.verify_jwt::<Value>(RFC7515_A1_TOKEN).unwrap_err(),
        refused(InvalidToken::Expired)
    );
}

#[test]
fn rfc7515_a1_example_with_altered_signature_or_another_key_is_refused() {
    let auth = rfc7515_auth(Some(RFC7515_A1_NOW));
    let (message, sig) = RFC7515_A1_TOKEN.rsplit_once('.').unwrap();
    // Flip the first signature character.
    let flipped = if sig.starts_with('d') { "e" } else { "d" };
    let bad_sig = format!("{message}.{flipped}{}", &sig[1..]);
    assert_eq!(
        auth.verify_jwt::<Value>(&bad_sig).unwrap_err(),
        refused(InvalidToken::BadSignature)
    );
    // Another secret of the same algorithm does not verify it either.
    let other = builder().clock(FixedClock(RFC7515_A1_NOW)).build().unwrap();
    assert_eq!(
        other.verify_jwt::<Value>(RFC7515_A1_TOKEN).unwrap_err(),
        refused(InvalidToken::BadSignature)
    );
}

#[test]
fn rfc7515_a1_example_checks_the_configured_issuer() {
    let joe = TokenAuth::builder()
        .signing_key(rfc7515_key())
        .issuer("joe")
        .clock(FixedClock(RFC7515_A1_NOW))
        .build()
        .unwrap();
    assert!(joe.verify_jwt::<Value>(RFC7515_A1_TOKEN).is_ok());
    let jo = TokenAuth::builder()
        .signing_key(rfc7515_key())
        .issuer("jo")
        .clock(FixedClock(RFC7515_A1_NOW))
        .build()
        .unwrap();
    assert_eq!(
        jo.verify_jwt::<Value>(RFC7515_A1_TOKEN).unwrap_err(),
        refused(InvalidToken::WrongIssuer)
    );
}

#[tokio::test]
async fn rfc7515_a1_example_is_refused_by_the_layer_as_not_an_access_token() {
    // Same key and a clock at which the token is not expired: the only reason left is
    // its `typ: JWT`, which is not an access token.
    let auth = rfc7515_auth(Some(RFC7515_A1_NOW));
    assert_refused(
        send_get(&app(&auth), "/me", Some(RFC7515_A1_TOKEN)).await,
        invalid(InvalidToken::WrongKind {
            expected: TokenKind::Access,
        }),
    )
    .await;
}

#[test]
fn verify_jwt_requires_exp() {
    let auth = auth();
    let mut claims = wire_claims("alice", "");
    claims.as_object_mut().unwrap().remove("exp");
    assert_eq!(
        auth.verify_jwt::<Value>(&raw_hs256(&claims)).unwrap_err(),
        refused(InvalidToken::InvalidClaims)
    );
}

// ---------------------------------------------------------------------------
// Tokens minted elsewhere (raw jsonwebtoken) in the documented wire format
// ---------------------------------------------------------------------------

#[tokio::test]
async fn raw_jsonwebtoken_access_token_in_wire_format_is_accepted_by_the_layer() {
    let app = app(&auth());
    let token = raw_hs256(&wire_claims("alice", "users:read users:write admin"));
    assert_eq!(
        ok_body(send_get(&app, "/me", Some(&token)).await).await,
        "alice"
    );
    assert_eq!(
        ok_body(send_get(&app, "/users", Some(&token)).await).await,
        "list:alice"
    );
    let res = send(&app, request(Method::POST, "/users", Some(&token))).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(
        ok_body(send_get(&app, "/admin", Some(&token)).await).await,
        "admin:alice"
    );
}

#[tokio::test]
async fn scopes_array_and_scp_array_forms_are_accepted() {
    let app = app(&auth());
    for field in ["scopes", "scp", "scope"] {
        let mut claims = wire_claims("alice", "");
        let obj = claims.as_object_mut().unwrap();
        obj.remove("scope");
        obj.insert(field.to_owned(), json!(["users:read", "users:write"]));
        let token = raw_hs256(&claims);
        let res = send(&app, request(Method::POST, "/users", Some(&token))).await;
        assert_eq!(res.status(), StatusCode::CREATED, "{field}");
        // Scopes not in the array are still not granted: it was read, not ignored.
        assert_refused(
            send_get(&app, "/admin", Some(&token)).await,
            AuthError::InsufficientScope {
                required: "admin".into(),
            },
        )
        .await;
    }
    // The string form under `scp` is read too.
    let mut claims = wire_claims("alice", "");
    let obj = claims.as_object_mut().unwrap();
    obj.remove("scope");
    obj.insert("scp".to_owned(), json!("users:write"));
    let res = send(
        &app,
        request(Method::POST, "/users", Some(&raw_hs256(&claims))),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn application_at_jwt_typ_is_accepted() {
    let app = app(&auth());
    for typ in ["application/at+jwt", "AT+JWT", "Application/At+Jwt"] {
        let mut header = access_header(jsonwebtoken::Algorithm::HS256);
        header.typ = Some(typ.to_owned());
        let token = raw_token(
            &header,
            &wire_claims("alice", ""),
            &EncodingKey::from_secret(SECRET.as_bytes()),
        );
        assert_eq!(
            ok_body(send_get(&app, "/me", Some(&token)).await).await,
            "alice",
            "{typ}"
        );
    }
}

#[tokio::test]
async fn raw_token_missing_a_required_claim_is_401_invalid_claims() {
    let app = app(&auth());
    for (name, change) in [
        ("no sub", json!({"sub": null})),
        ("no jti", json!({"jti": null})),
        ("no iat", json!({"iat": null})),
        ("no exp", json!({"exp": null})),
        ("empty sub", json!({"sub": ""})),
        ("empty jti", json!({"jti": ""})),
        ("exp as string", json!({"exp": "tomorrow"})),
        ("scope outside the grammar", json!({"scope": "admin*"})),
    ] {
        let mut claims = wire_claims("alice", "users:read");
        for (k, v) in change.as_object().unwrap() {
            if v.is_null() {
                claims.as_object_mut().unwrap().remove(k);
            } else {
                claims[k] = v.clone();
            }
        }
        let r = refusal(send_get(&app, "/me", Some(&raw_hs256(&claims))).await).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{name}");
        assert_eq!(
            r.error,
            Some(invalid(InvalidToken::InvalidClaims)),
            "{name}"
        );
    }
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
struct Org {
    org: String,
}

#[tokio::test]
async fn raw_token_custom_claims_reach_a_typed_layer() {
    let auth = auth();
    let app: Router = Router::new()
        .route(
            "/org",
            get(|c: Claims<Org>| async move { format!("{}@{}", c.sub, c.custom.org) }),
        )
        .layer(TokenAuthLayer::<Org>::new(auth));
    let mut claims = wire_claims("alice", "");
    claims["org"] = json!("acme");
    assert_eq!(
        ok_body(send_get(&app, "/org", Some(&raw_hs256(&claims))).await).await,
        "alice@acme"
    );
    // Without the custom claim the typed layer refuses the token.
    let r = refusal(send_get(&app, "/org", Some(&raw_hs256(&wire_claims("bob", "")))).await).await;
    assert_eq!(r.error, Some(invalid(InvalidToken::InvalidClaims)));
}

// ---------------------------------------------------------------------------
// Our tokens read by raw jsonwebtoken
// ---------------------------------------------------------------------------

fn raw_validation() -> Validation {
    let mut v = Validation::new(jsonwebtoken::Algorithm::HS256);
    v.set_required_spec_claims(&["exp", "sub", "iss", "aud"]);
    v.set_issuer(&["https://auth.test"]);
    v.set_audience(&["orders-api"]);
    v
}

#[test]
fn our_access_tokens_decode_with_raw_jsonwebtoken() {
    let auth = builder()
        .issuer("https://auth.test")
        .audience("orders-api")
        .build()
        .unwrap();
    let issued = auth
        .issue_access(
            &TokenRequest::new("alice")
                .scopes(["users:read", "users:write"])
                .tenant("acme")
                .metadata("plan", "pro")
                .claims(&Org {
                    org: "acme-corp".into(),
                }),
        )
        .unwrap();
    let data = jsonwebtoken::decode::<Value>(
        issued.as_str(),
        &DecodingKey::from_secret(SECRET.as_bytes()),
        &raw_validation(),
    )
    .expect("raw jsonwebtoken accepts our token");
    assert_eq!(data.header.typ.as_deref(), Some("at+jwt"));
    assert_eq!(data.header.alg, jsonwebtoken::Algorithm::HS256);
    assert_eq!(data.header.kid, None);
    let c = data.claims;
    assert_eq!(c["sub"], json!("alice"));
    assert_eq!(c["iss"], json!("https://auth.test"));
    assert_eq!(c["aud"], json!("orders-api"));
    // Scopes go out as one space-separated string (RFC 9068 / RFC 8693).
    assert_eq!(c["scope"], json!("users:read users:write"));
    assert_eq!(c["tenant"], json!("acme"));
    assert_eq!(c["metadata"], json!({"plan": "pro"}));
    assert_eq!(c["org"], json!("acme-corp"));
    let jti = c["jti"].as_str().unwrap();
    assert_eq!(jti, issued.jti);
    assert_eq!(jti.len(), 22, "128 random bits, base64url");
    assert!(
        jti.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    );
    assert_eq!(c["iat"], json!(issued.issued_at));
    assert_eq!(c["exp"], json!(issued.expires_at));
    assert_eq!(issued.expires_at - issued.issued_at, 15 * 60);
    assert!(c.get("nbf").is_none());
}

#[test]
fn our_refresh_and_service_tokens_carry_their_typ() {
    let auth = builder()
        .issuer("https://auth.test")
        .audience("orders-api")
        .build()
        .unwrap();
    let req = TokenRequest::new("worker");
    for (token, typ) in [
        (auth.issue_refresh(&req).unwrap(), "refresh+jwt"),
        (auth.issue_service(&req).unwrap(), "service+jwt"),
    ] {
        let data = jsonwebtoken::decode::<Value>(
            token.as_str(),
            &DecodingKey::from_secret(SECRET.as_bytes()),
            &raw_validation(),
        )
        .unwrap();
        assert_eq!(data.header.typ.as_deref(), Some(typ));
        if typ == "refresh+jwt" {
            assert!(
                data.claims["fam"].is_string(),
                "refresh tokens name a family"
            );
        } else {
            assert!(data.claims.get("fam").is_none());
        }
    }
}

#[test]
fn raw_jsonwebtoken_refuses_our_token_under_another_secret() {
    let token = issue(&auth(), "alice", &[]);
    let mut v = Validation::new(jsonwebtoken::Algorithm::HS256);
    v.set_required_spec_claims(&["exp"]);
    let err = jsonwebtoken::decode::<Value>(
        &token,
        &DecodingKey::from_secret(b"zyxwvutsrqponmlkjihgfedcba9876543210ZYXW"),
        &v,
    )
    .unwrap_err();
    assert_eq!(
        err.kind(),
        &jsonwebtoken::errors::ErrorKind::InvalidSignature
    );
}
