//! Every RFC 6750 branch of the layer, the extractors and the scope guard, through a real
//! axum `Router`: status, exact `WWW-Authenticate`, JSON body, `Cache-Control: no-store`
//! and the `AuthError` attached to the response.

mod common;

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum_token_auth::testing::{Attack, AttackTokens};
use axum_token_auth::{
    AuthError, Claims, NoCustomClaims, ScopeGuardLayer, TokenAuth, TokenAuthLayer, TokenRequest,
    http::{ErrorRenderer, InvalidRequest},
    token::{FixedClock, InvalidToken, TokenKind},
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use common::*;
use http::header::{AUTHORIZATION, COOKIE, WWW_AUTHENTICATE};
use http::{HeaderValue, Method, Request, StatusCode};
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Value, json};

fn invalid(reason: InvalidToken) -> AuthError {
    AuthError::InvalidToken(reason)
}

fn bad_request(reason: InvalidRequest) -> AuthError {
    AuthError::InvalidRequest(reason)
}

fn wrong_kind() -> AuthError {
    invalid(InvalidToken::WrongKind {
        expected: TokenKind::Access,
    })
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

/// A `GET` with a raw `Authorization` header value.
fn with_authorization(path: &str, value: HeaderValue) -> Request<Body> {
    Request::builder()
        .uri(path)
        .header(AUTHORIZATION, value)
        .body(Body::empty())
        .unwrap()
}

// ---------------------------------------------------------------------------
// No credentials, and the wire format pinned literally
// ---------------------------------------------------------------------------

#[tokio::test]
async fn no_credentials_is_401_bare_challenge_without_error() {
    let app = app(&auth());
    let r = assert_refused(
        send_get(&app, "/me", None).await,
        AuthError::MissingCredentials,
    )
    .await;
    // Pinned literally: no `error` attribute at all (RFC 6750 §3.1).
    assert_eq!(r.www_authenticate.as_deref(), Some(r#"Bearer realm="api""#));
    assert_eq!(
        r.body,
        json!({"error": "unauthorized", "error_description": "authentication is required"})
    );
}

#[tokio::test]
async fn configured_realm_is_used_in_the_challenge() {
    let auth = builder().realm("orders").build().unwrap();
    let res = send_get(&app(&auth), "/me", None).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(res.headers()[WWW_AUTHENTICATE], r#"Bearer realm="orders""#);
}

#[tokio::test]
async fn expired_token_is_401_invalid_token() {
    let past = builder().clock(FixedClock(now() - 3600)).build().unwrap();
    let token = issue(&past, "alice", &[]);
    let app = app(&auth());
    let r = assert_refused(
        send_get(&app, "/me", Some(&token)).await,
        invalid(InvalidToken::Expired),
    )
    .await;
    // Pinned literally once, so a formatting change cannot slip through both sides.
    assert_eq!(
        r.www_authenticate.as_deref(),
        Some(
            r#"Bearer realm="api", error="invalid_token", error_description="the token has expired""#
        )
    );
    assert_eq!(
        r.body,
        json!({"error": "invalid_token", "error_description": "the token has expired"})
    );
}

#[tokio::test]
async fn token_expired_within_leeway_is_still_accepted() {
    // Issued 15 min + 10 s ago with a 15 min lifetime: expired 10 s ago, leeway is 30 s.
    let past = builder()
        .clock(FixedClock(now() - 15 * 60 - 10))
        .build()
        .unwrap();
    let token = issue(&past, "alice", &[]);
    assert_eq!(
        ok_body(send_get(&app(&auth()), "/me", Some(&token)).await).await,
        "alice"
    );
}

// ---------------------------------------------------------------------------
// Time and party claims
// ---------------------------------------------------------------------------

#[tokio::test]
async fn nbf_in_the_future_is_401_invalid_token() {
    let mut claims = wire_claims("alice", "");
    claims["nbf"] = json!(now() + 300);
    let token = raw_hs256(&claims);
    assert_refused(
        send_get(&app(&auth()), "/me", Some(&token)).await,
        invalid(InvalidToken::NotYetValid),
    )
    .await;
}

#[tokio::test]
async fn nbf_within_leeway_is_accepted() {
    let mut claims = wire_claims("alice", "");
    claims["nbf"] = json!(now() + 10);
    let token = raw_hs256(&claims);
    assert_eq!(
        ok_body(send_get(&app(&auth()), "/me", Some(&token)).await).await,
        "alice"
    );
}

#[tokio::test]
async fn iat_in_the_future_is_401_invalid_token() {
    let future = builder().clock(FixedClock(now() + 3600)).build().unwrap();
    let token = issue(&future, "alice", &[]);
    assert_refused(
        send_get(&app(&auth()), "/me", Some(&token)).await,
        invalid(InvalidToken::IssuedInFuture),
    )
    .await;
}

#[tokio::test]
async fn wrong_audience_is_401_invalid_token() {
    let verifier = builder().audience("orders-api").build().unwrap();
    let other = builder().audience("billing-api").build().unwrap();
    let app = app(&verifier);
    assert_refused(
        send_get(&app, "/me", Some(&issue(&other, "alice", &[]))).await,
        invalid(InvalidToken::WrongAudience),
    )
    .await;
    // A token without any `aud` is refused when an audience is required.
    assert_refused(
        send_get(&app, "/me", Some(&issue(&auth(), "alice", &[]))).await,
        invalid(InvalidToken::WrongAudience),
    )
    .await;
    // The right audience, alone or inside an array, passes.
    assert_eq!(
        ok_body(send_get(&app, "/me", Some(&issue(&verifier, "alice", &[]))).await).await,
        "alice"
    );
    let mut claims = wire_claims("bob", "");
    claims["aud"] = json!(["billing-api", "orders-api"]);
    assert_eq!(
        ok_body(send_get(&app, "/me", Some(&raw_hs256(&claims))).await).await,
        "bob"
    );
}

#[tokio::test]
async fn token_carrying_aud_when_none_configured_is_401_invalid_token() {
    let scoped = builder().audience("orders-api").build().unwrap();
    let token = issue(&scoped, "alice", &[]);
    assert_refused(
        send_get(&app(&auth()), "/me", Some(&token)).await,
        invalid(InvalidToken::WrongAudience),
    )
    .await;
}

#[tokio::test]
async fn wrong_issuer_including_partial_matches_is_401_invalid_token() {
    let verifier = builder()
        .issuer("https://auth.example.com")
        .build()
        .unwrap();
    let app = app(&verifier);
    for iss in [
        "https://auth.example.com.evil",
        "https://auth.example",
        "https://auth.example.com/",
        "HTTPS://AUTH.EXAMPLE.COM",
        "https://evil.com",
    ] {
        let other = builder().issuer(iss).build().unwrap();
        let res = send_get(&app, "/me", Some(&issue(&other, "alice", &[]))).await;
        let r = refusal(res).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{iss}");
        assert_eq!(r.error, Some(invalid(InvalidToken::WrongIssuer)), "{iss}");
    }
    // No `iss` at all is refused too.
    assert_refused(
        send_get(&app, "/me", Some(&issue(&auth(), "alice", &[]))).await,
        invalid(InvalidToken::WrongIssuer),
    )
    .await;
    assert_eq!(
        ok_body(send_get(&app, "/me", Some(&issue(&verifier, "alice", &[]))).await).await,
        "alice"
    );
}

// ---------------------------------------------------------------------------
// Signature, algorithm and header
// ---------------------------------------------------------------------------

#[tokio::test]
async fn hs384_token_to_hs256_key_with_same_secret_is_401_invalid_token() {
    let token = raw_token(
        &access_header(Algorithm::HS384),
        &wire_claims("alice", ""),
        &EncodingKey::from_secret(SECRET.as_bytes()),
    );
    assert_refused(
        send_get(&app(&auth()), "/me", Some(&token)).await,
        invalid(InvalidToken::AlgorithmMismatch),
    )
    .await;
}

#[tokio::test]
async fn alg_none_is_401_invalid_token() {
    let app = app(&auth());
    let payload = b64(&wire_claims("alice", "*"));
    let signed = issue(&auth(), "alice", &[]);
    let real_sig = signed.rsplit('.').next().unwrap();
    let tokens = [
        // `{"alg":"none"}` exactly, empty signature.
        format!("eyJhbGciOiJub25lIn0.{payload}."),
        // The testkit's: with the access typ, over a genuine token's payload.
        AttackTokens::for_auth(&auth(), &TokenRequest::new("alice"))
            .unwrap()
            .get(Attack::AlgNone)
            .unwrap()
            .to_owned(),
        // With the access typ and a real signature glued on.
        format!(
            "{}.{payload}.{real_sig}",
            b64(&json!({"alg": "none", "typ": "at+jwt"}))
        ),
        format!(
            "{}.{payload}.",
            b64(&json!({"alg": "None", "typ": "at+jwt"}))
        ),
        format!(
            "{}.{payload}.",
            b64(&json!({"alg": "NONE", "typ": "at+jwt"}))
        ),
    ];
    for token in &tokens {
        let r = refusal(send_get(&app, "/me", Some(token)).await).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{token}");
        assert_eq!(
            r.error,
            Some(invalid(InvalidToken::AlgorithmMismatch)),
            "{token}"
        );
    }
    assert_refused(
        send_get(&app, "/me", Some(&tokens[0])).await,
        invalid(InvalidToken::AlgorithmMismatch),
    )
    .await;
}

/// Each attack token of the testkit is refused by the check it aims at, with the full
/// RFC 6750 answer (so the kit's tokens break exactly one thing each).
#[tokio::test]
async fn every_testkit_attack_token_is_refused_by_its_own_check() {
    let auth = builder()
        .issuer("https://auth.test")
        .audience("orders")
        .build()
        .unwrap();
    let app = app(&auth);
    let attacks = AttackTokens::for_auth(&auth, &TokenRequest::new("alice")).unwrap();
    for (attack, token) in attacks.iter() {
        let reason = match attack {
            Attack::AlgNone | Attack::AlgorithmConfusion => InvalidToken::AlgorithmMismatch,
            Attack::Expired => InvalidToken::Expired,
            Attack::NotYetValid => InvalidToken::NotYetValid,
            Attack::UnknownKid => InvalidToken::UnknownKey,
            Attack::WrongAudience => InvalidToken::WrongAudience,
            Attack::WrongIssuer => InvalidToken::WrongIssuer,
            Attack::RefreshType | Attack::UntypedJwt => InvalidToken::WrongKind {
                expected: TokenKind::Access,
            },
            Attack::TamperedPayload | Attack::TamperedSignature | Attack::ForeignKey => {
                InvalidToken::BadSignature
            }
            other => panic!("a new attack to map: {other}"),
        };
        let r = refusal(send_get(&app, "/me", Some(token)).await).await;
        assert_eq!(r.error, Some(invalid(reason)), "attack {attack}");
    }
    assert_eq!(attacks.attacks().count(), 11);
    ok_body(send_get(&app, "/me", Some(attacks.genuine())).await).await;
}

#[tokio::test]
async fn tampered_payload_is_401_invalid_token() {
    let auth = auth();
    let token = issue(&auth, "alice", &["users:read"]);
    let mut parts = token.split('.');
    let (h, p, s) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    let mut claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).unwrap()).unwrap();
    claims["scope"] = json!("*");
    let forged_scope = format!("{h}.{}.{s}", b64(&claims));
    claims["scope"] = json!("users:read");
    claims["sub"] = json!("admin");
    let forged_sub = format!("{h}.{}.{s}", b64(&claims));
    let app = app(&auth);
    for forged in [forged_scope, forged_sub] {
        assert_refused(
            send(&app, request(Method::POST, "/users", Some(&forged))).await,
            invalid(InvalidToken::BadSignature),
        )
        .await;
    }
    // The untouched token still works, so the refusal is the tampering.
    assert_eq!(
        ok_body(send_get(&app, "/users", Some(&token)).await).await,
        "list:alice"
    );
}

/// A base64url decoder that ignores unused trailing bits.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(true),
);

/// Flips the lowest bit of the last base64url character of `part`: with 2 or 4 unused
/// trailing bits that changes the text but not the decoded bytes (a lenient decoder
/// would accept it). `None` when the part has no unused bits.
fn non_canonical(part: &str) -> Option<String> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    if part.len().is_multiple_of(4) {
        return None;
    }
    let last = *part.as_bytes().last()?;
    let i = ALPHABET.iter().position(|c| *c == last)?;
    let flipped = ALPHABET[i ^ 1] as char;
    Some(format!("{}{flipped}", &part[..part.len() - 1]))
}

#[tokio::test]
async fn non_canonical_base64_variant_of_a_valid_token_is_401_invalid_token() {
    let auth = auth();
    let app = app(&auth);
    let token = issue(&auth, "alice", &["users:read"]);
    assert_eq!(
        ok_body(send_get(&app, "/me", Some(&token)).await).await,
        "alice"
    );
    let parts: Vec<&str> = token.split('.').collect();
    let mut variants = 0;
    for i in 0..3 {
        let Some(changed) = non_canonical(parts[i]) else {
            continue;
        };
        // Same bytes once decoded leniently: the variant is a different string for the
        // same token, which must not pass (revocation lists and caches key on it).
        assert_eq!(
            URL_SAFE_NO_PAD.decode(parts[i]).unwrap(),
            LENIENT.decode(&changed).unwrap()
        );
        let mut p = parts.clone();
        p[i] = &changed;
        let variant = p.join(".");
        variants += 1;
        let r = refusal(send_get(&app, "/me", Some(&variant)).await).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "part {i}: {r:?}");
        assert!(
            matches!(r.error, Some(AuthError::InvalidToken(_))),
            "part {i}: {r:?}"
        );
    }
    // The 32-byte HS256 signature always has unused bits.
    assert!(variants >= 1);
}

#[tokio::test]
async fn signature_from_another_secret_is_401_invalid_token() {
    let other = TokenAuth::builder()
        .hs256_secret("zyxwvutsrqponmlkjihgfedcba9876543210ZYXW")
        .build()
        .unwrap();
    assert_refused(
        send_get(&app(&auth()), "/me", Some(&issue(&other, "alice", &[]))).await,
        invalid(InvalidToken::BadSignature),
    )
    .await;
}

#[tokio::test]
async fn garbage_tokens_are_401_malformed() {
    let app = app(&auth());
    // b64tokens (so the header is well-formed) that are no JWS.
    for token in [
        "abc",
        "a.b",
        "a.b.c.d",
        "e30.e30.",
        "e30.e30.e30",
        "bm90anNvbg.e30.e30",
    ] {
        let r = refusal(send_get(&app, "/me", Some(token)).await).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{token}");
        assert_eq!(r.error, Some(invalid(InvalidToken::Malformed)), "{token}");
    }
    assert_refused(
        send_get(&app, "/me", Some("a.b.c.d")).await,
        invalid(InvalidToken::Malformed),
    )
    .await;
}

#[tokio::test]
async fn refresh_token_used_as_access_token_is_401_invalid_token() {
    let auth = auth();
    let refresh = auth
        .issue_refresh(&TokenRequest::new("alice"))
        .unwrap()
        .into_string();
    let r = assert_refused(
        send_get(&app(&auth), "/me", Some(&refresh)).await,
        wrong_kind(),
    )
    .await;
    assert_eq!(
        r.body["error_description"],
        json!("the token is not an access token")
    );
}

#[tokio::test]
async fn service_token_is_refused_by_default() {
    let auth = auth();
    let service = auth
        .issue_service(&TokenRequest::new("billing-worker"))
        .unwrap()
        .into_string();
    assert_refused(
        send_get(&app(&auth), "/me", Some(&service)).await,
        wrong_kind(),
    )
    .await;
}

#[tokio::test]
async fn service_token_is_accepted_with_also_accept_service() {
    let auth = auth();
    let m2m: Router = Router::new()
        .route(
            "/m2m",
            get(|c: Claims| async move { format!("{}:{}", c.sub, c.kind) }),
        )
        .layer(TokenAuthLayer::<NoCustomClaims>::new(auth.clone()).also_accept(TokenKind::Service));
    let service = auth
        .issue_service(&TokenRequest::new("billing-worker"))
        .unwrap();
    assert_eq!(
        ok_body(send_get(&m2m, "/m2m", Some(service.as_str())).await).await,
        "billing-worker:service"
    );
    // Access tokens are still accepted, refresh tokens still are not.
    assert_eq!(
        ok_body(send_get(&m2m, "/m2m", Some(&issue(&auth, "alice", &[]))).await).await,
        "alice:access"
    );
    let refresh = auth.issue_refresh(&TokenRequest::new("alice")).unwrap();
    let r = refusal(send_get(&m2m, "/m2m", Some(refresh.as_str())).await).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(
        matches!(
            r.error,
            Some(AuthError::InvalidToken(InvalidToken::WrongKind { .. }))
        ),
        "{r:?}"
    );
}

#[tokio::test]
async fn token_without_typ_or_with_plain_jwt_typ_is_401_invalid_token() {
    let app = app(&auth());
    let key = EncodingKey::from_secret(SECRET.as_bytes());
    let mut no_typ = jsonwebtoken::Header::new(Algorithm::HS256);
    no_typ.typ = None;
    let plain = jsonwebtoken::Header::new(Algorithm::HS256); // typ: JWT
    let mut other = jsonwebtoken::Header::new(Algorithm::HS256);
    other.typ = Some("id+jwt".to_owned());
    for header in [no_typ, plain, other] {
        let token = raw_token(&header, &wire_claims("alice", ""), &key);
        assert_refused(send_get(&app, "/me", Some(&token)).await, wrong_kind()).await;
    }
}

#[tokio::test]
async fn crit_header_is_401_invalid_token() {
    let mut header = access_header(Algorithm::HS256);
    header.crit = Some(vec!["exp".to_owned()]);
    let token = raw_token(
        &header,
        &wire_claims("alice", ""),
        &EncodingKey::from_secret(SECRET.as_bytes()),
    );
    assert_refused(
        send_get(&app(&auth()), "/me", Some(&token)).await,
        invalid(InvalidToken::UnsupportedCritical),
    )
    .await;
}

#[tokio::test]
async fn unknown_kid_is_401_invalid_token() {
    let mut header = access_header(Algorithm::HS256);
    header.kid = Some("nope".to_owned());
    let token = raw_token(
        &header,
        &wire_claims("alice", ""),
        &EncodingKey::from_secret(SECRET.as_bytes()),
    );
    assert_refused(
        send_get(&app(&auth()), "/me", Some(&token)).await,
        invalid(InvalidToken::UnknownKey),
    )
    .await;
}

#[tokio::test]
async fn oversize_token_is_401_invalid_token() {
    let big = TokenRequest::new("alice").metadata("blob", "x".repeat(9 * 1024));
    let auth = auth();
    // The crate never mints a token its own layer refuses; another issuer with the same
    // key and a larger limit does.
    assert!(matches!(
        auth.issue_access(&big),
        Err(axum_token_auth::token::IssueError::TokenTooLarge { .. })
    ));
    let lax = builder().max_token_bytes(64 * 1024).build().unwrap();
    let token = lax.issue_access(&big).unwrap().into_string();
    assert!(token.len() > 8 * 1024);
    let app = app(&auth);
    assert_refused(
        send_get(&app, "/me", Some(&token)).await,
        invalid(InvalidToken::TooLarge),
    )
    .await;
    assert_refused(
        send(&app, cookie_req("/me", &token)).await,
        invalid(InvalidToken::TooLarge),
    )
    .await;
    // Garbage of that size is refused the same way, before anything is decoded.
    assert_refused(
        send_get(&app, "/me", Some(&"a".repeat(8 * 1024 + 1))).await,
        invalid(InvalidToken::TooLarge),
    )
    .await;
    // The limit is inclusive: 8192 bytes of garbage get decoded (and found malformed).
    assert_refused(
        send_get(&app, "/me", Some(&"a".repeat(8 * 1024))).await,
        invalid(InvalidToken::Malformed),
    )
    .await;
    // The same signed token passes where the limit allows it: the size is the reason.
    let roomy = builder().max_token_bytes(64 * 1024).build().unwrap();
    assert_eq!(
        ok_body(send_get(&common::app(&roomy), "/me", Some(&token)).await).await,
        "alice"
    );
}

// ---------------------------------------------------------------------------
// Malformed requests
// ---------------------------------------------------------------------------

#[tokio::test]
async fn malformed_authorization_headers_are_400_invalid_request() {
    let app = app(&auth());
    let token = issue(&auth(), "alice", &[]);
    let values: Vec<HeaderValue> = vec![
        HeaderValue::from_static("Bearer"),
        HeaderValue::from_static("Bearer "),
        HeaderValue::from_static("Bearer a b"),
        HeaderValue::from_str(&format!("Bearer {token} x")).unwrap(),
        HeaderValue::from_static("Bearer a\"b"),
        HeaderValue::from_static("Bearer =abc"),
        HeaderValue::from_bytes(b"Bearer \xff\xfe.abc.def").unwrap(),
    ];
    for v in values {
        let shown = format!("{v:?}");
        let res = send(&app, with_authorization("/me", v)).await;
        let r = refusal(res).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{shown}");
        assert_eq!(
            r.error,
            Some(bad_request(InvalidRequest::MalformedAuthorization)),
            "{shown}"
        );
    }
    let res = send(
        &app,
        with_authorization("/me", HeaderValue::from_static("Bearer a b")),
    )
    .await;
    assert_refused(res, bad_request(InvalidRequest::MalformedAuthorization)).await;
}

#[tokio::test]
async fn non_utf8_authorization_header_is_400_invalid_request() {
    let res = send(
        &app(&auth()),
        with_authorization(
            "/me",
            HeaderValue::from_bytes(b"Bearer \xc3\x28abc").unwrap(),
        ),
    )
    .await;
    assert_refused(res, bad_request(InvalidRequest::MalformedAuthorization)).await;
}

#[tokio::test]
async fn two_authorization_headers_are_400_invalid_request() {
    let auth = auth();
    let token = issue(&auth, "alice", &[]);
    let req = Request::builder()
        .uri("/me")
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    assert_refused(
        send(&app(&auth), req).await,
        bad_request(InvalidRequest::MultipleAuthorization),
    )
    .await;
}

#[tokio::test]
async fn bearer_scheme_is_case_insensitive() {
    let auth = auth();
    let token = issue(&auth, "alice", &[]);
    for scheme in ["bearer", "BEARER", "BeArEr"] {
        let v = HeaderValue::from_str(&format!("{scheme} {token}")).unwrap();
        assert_eq!(
            ok_body(send(&app(&auth), with_authorization("/me", v)).await).await,
            "alice",
            "{scheme}"
        );
    }
}

#[tokio::test]
async fn basic_scheme_is_401_without_error() {
    let res = send(
        &app(&auth()),
        with_authorization("/me", HeaderValue::from_static("Basic YWxpY2U6c2VjcmV0")),
    )
    .await;
    let r = assert_refused(res, AuthError::MissingCredentials).await;
    assert!(!r.www_authenticate.unwrap().contains("error"));
}

// ---------------------------------------------------------------------------
// Header and cookie
// ---------------------------------------------------------------------------

#[tokio::test]
async fn header_and_cookie_with_different_tokens_is_400_invalid_request() {
    let auth = auth();
    let a = issue(&auth, "alice", &[]);
    let b = issue(&auth, "bob", &[]);
    let req = Request::builder()
        .uri("/me")
        .header(AUTHORIZATION, format!("Bearer {a}"))
        .header(COOKIE, format!("__Host-access_token={b}"))
        .body(Body::empty())
        .unwrap();
    assert_refused(
        send(&app(&auth), req).await,
        bad_request(InvalidRequest::ConflictingCredentials),
    )
    .await;
}

#[tokio::test]
async fn same_token_in_header_and_cookie_is_200() {
    let auth = auth();
    let a = issue(&auth, "alice", &[]);
    let req = Request::builder()
        .uri("/source")
        .header(AUTHORIZATION, format!("Bearer {a}"))
        .header(COOKIE, format!("__Host-access_token={a}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(ok_body(send(&app(&auth), req).await).await, "Header");
}

#[tokio::test]
async fn cookie_only_is_200() {
    let auth = auth();
    let a = issue(&auth, "alice", &[]);
    let app = app(&auth);
    assert_eq!(
        ok_body(send(&app, cookie_req("/me", &a)).await).await,
        "alice"
    );
    assert_eq!(
        ok_body(send(&app, cookie_req("/source", &a)).await).await,
        "Cookie"
    );
}

#[tokio::test]
async fn cookie_in_a_second_cookie_header_is_found() {
    // HTTP/2 clients may split cookies over several `Cookie` headers.
    let auth = auth();
    let a = issue(&auth, "alice", &[]);
    let req = Request::builder()
        .uri("/me")
        .header(COOKIE, "theme=dark")
        .header(COOKIE, format!("__Host-access_token={a}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(ok_body(send(&app(&auth), req).await).await, "alice");
}

#[tokio::test]
async fn cookie_is_ignored_when_disabled() {
    let auth = builder().without_access_cookie().build().unwrap();
    let a = issue(&auth, "alice", &[]);
    assert_refused(
        send(&app(&auth), cookie_req("/me", &a)).await,
        AuthError::MissingCredentials,
    )
    .await;
}

#[tokio::test]
async fn invalid_cookie_token_is_401_invalid_token() {
    let past = builder().clock(FixedClock(now() - 3600)).build().unwrap();
    let stale = issue(&past, "alice", &[]);
    assert_refused(
        send(&app(&auth()), cookie_req("/me", &stale)).await,
        invalid(InvalidToken::Expired),
    )
    .await;
}

/// An empty `access_token` cookie (what many logouts leave behind) holds no token; a
/// request with a valid bearer header and that empty cookie should pass.
#[tokio::test]
async fn bearer_header_with_empty_access_cookie_is_200() {
    let auth = auth();
    let a = issue(&auth, "alice", &[]);
    let req = Request::builder()
        .uri("/me")
        .header(AUTHORIZATION, format!("Bearer {a}"))
        .header(COOKIE, "__Host-access_token=; theme=dark")
        .body(Body::empty())
        .unwrap();
    assert_eq!(ok_body(send(&app(&auth), req).await).await, "alice");
}

// ---------------------------------------------------------------------------
// Optional mode
// ---------------------------------------------------------------------------

#[tokio::test]
async fn optional_mode_with_invalid_token_passes_without_claims() {
    let auth = auth();
    let app = app(&auth);
    let past = builder().clock(FixedClock(now() - 3600)).build().unwrap();
    let expired = issue(&past, "alice", &["admin"]);
    let mut forged_claims = wire_claims("mallory", "*");
    forged_claims["aud"] = json!("someone-else");
    let wrong_aud = raw_hs256(&forged_claims);
    let refresh = auth
        .issue_refresh(&TokenRequest::new("alice"))
        .unwrap()
        .into_string();
    for token in [expired, wrong_aud, refresh, "garbage.token.here".to_owned()] {
        let res = send_get(&app, "/optional", Some(&token)).await;
        assert_eq!(res.status(), StatusCode::OK);
        let body = body_text(res).await;
        // The handler saw None: never the (signature-valid) claims of a refused token.
        assert_eq!(body, "absent", "{token}");
    }
    // Malformed headers and no credentials pass too.
    let res = send(
        &app,
        with_authorization("/optional", HeaderValue::from_static("Bearer a b")),
    )
    .await;
    assert_eq!(body_text(res).await, "absent");
    assert_eq!(
        body_text(send_get(&app, "/optional", None).await).await,
        "absent"
    );
}

#[tokio::test]
async fn optional_mode_with_valid_token_sees_claims() {
    let auth = auth();
    let token = issue(&auth, "alice", &[]);
    let app = app(&auth);
    assert_eq!(
        ok_body(send_get(&app, "/optional", Some(&token)).await).await,
        "present:alice"
    );
    assert_eq!(
        ok_body(send(&app, cookie_req("/optional", &token)).await).await,
        "present:alice"
    );
}

#[tokio::test]
async fn optional_mode_with_revoked_token_passes_without_claims() {
    let auth = auth();
    let token = issue(&auth, "alice", &[]);
    auth.revoke(&token).await.unwrap();
    assert_eq!(
        ok_body(send_get(&app(&auth), "/optional", Some(&token)).await).await,
        "absent"
    );
}

#[tokio::test]
async fn required_claims_behind_optional_layer_without_token_is_401() {
    let auth = auth();
    let app: Router = Router::new()
        .route("/me", get(|c: Claims| async move { c.sub.clone() }))
        .layer(auth.layer().optional());
    assert_refused(
        send_get(&app, "/me", None).await,
        AuthError::MissingCredentials,
    )
    .await;
}

// ---------------------------------------------------------------------------
// Revocation
// ---------------------------------------------------------------------------

#[tokio::test]
async fn revoked_token_is_401_invalid_token() {
    let auth = auth();
    let token = issue(&auth, "alice", &[]);
    let other = issue(&auth, "alice", &[]);
    let app = app(&auth);
    assert_eq!(
        ok_body(send_get(&app, "/me", Some(&token)).await).await,
        "alice"
    );
    auth.revoke(&token).await.unwrap();
    assert_refused(
        send_get(&app, "/me", Some(&token)).await,
        invalid(InvalidToken::Revoked),
    )
    .await;
    // Only that token: another one of the same subject still works.
    assert_eq!(
        ok_body(send_get(&app, "/me", Some(&other)).await).await,
        "alice"
    );
}

// ---------------------------------------------------------------------------
// Scopes
// ---------------------------------------------------------------------------

#[tokio::test]
async fn missing_scope_is_403_insufficient_scope_naming_the_scope() {
    let auth = auth();
    let token = issue(&auth, "alice", &["users:read"]);
    let app = app(&auth);
    assert_eq!(
        ok_body(send_get(&app, "/users", Some(&token)).await).await,
        "list:alice"
    );
    let r = assert_refused(
        send(&app, request(Method::POST, "/users", Some(&token))).await,
        AuthError::InsufficientScope {
            required: "users:write".into(),
        },
    )
    .await;
    assert_eq!(
        r.www_authenticate.as_deref(),
        Some(
            r#"Bearer realm="api", error="insufficient_scope", error_description="the token does not grant the required scope", scope="users:write""#
        )
    );
    assert_eq!(r.body["error"], json!("insufficient_scope"));
}

#[tokio::test]
async fn scope_guard_layer_refuses_with_403_naming_the_scope() {
    let auth = auth();
    let token = issue(&auth, "alice", &["users:read", "users:write"]);
    assert_refused(
        send_get(&app(&auth), "/admin", Some(&token)).await,
        AuthError::InsufficientScope {
            required: "admin".into(),
        },
    )
    .await;
}

#[tokio::test]
async fn star_scope_reaches_admin_and_users_write() {
    let auth = auth();
    let token = issue(&auth, "root", &["*"]);
    let app = app(&auth);
    assert_eq!(
        ok_body(send_get(&app, "/admin", Some(&token)).await).await,
        "admin:root"
    );
    let res = send(&app, request(Method::POST, "/users", Some(&token))).await;
    assert_eq!(res.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn users_star_reaches_users_write_but_not_admin() {
    let auth = auth();
    let token = issue(&auth, "ops", &["users:*"]);
    let app = app(&auth);
    let res = send(&app, request(Method::POST, "/users", Some(&token))).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(
        ok_body(send_get(&app, "/users", Some(&token)).await).await,
        "list:ops"
    );
    assert_refused(
        send_get(&app, "/admin", Some(&token)).await,
        AuthError::InsufficientScope {
            required: "admin".into(),
        },
    )
    .await;
}

#[tokio::test]
async fn admin_scope_does_not_grant_administrator_and_vice_versa() {
    let auth = auth();
    let guarded: Router = Router::new()
        .route("/administrator", get(|| async { "ok" }))
        .route_layer(ScopeGuardLayer::all(["administrator"]).unwrap())
        .layer(auth.layer());
    let admin = issue(&auth, "a", &["admin"]);
    assert_refused(
        send_get(&guarded, "/administrator", Some(&admin)).await,
        AuthError::InsufficientScope {
            required: "administrator".into(),
        },
    )
    .await;
    let administrator = issue(&auth, "b", &["administrator", "admin:read", "users"]);
    assert_refused(
        send_get(&app(&auth), "/admin", Some(&administrator)).await,
        AuthError::InsufficientScope {
            required: "admin".into(),
        },
    )
    .await;
    // `users` (no action) does not grant `users:write` either.
    assert_refused(
        send(
            &app(&auth),
            request(Method::POST, "/users", Some(&administrator)),
        )
        .await,
        AuthError::InsufficientScope {
            required: "users:write".into(),
        },
    )
    .await;
    assert_eq!(
        ok_body(send_get(&guarded, "/administrator", Some(&administrator)).await).await,
        "ok"
    );
}

#[tokio::test]
async fn scope_guard_without_token_is_401_behind_optional_layer() {
    let auth = auth();
    let guarded: Router = Router::new()
        .route("/admin", get(|| async { "ok" }))
        .route_layer(ScopeGuardLayer::all(["admin"]).unwrap())
        .layer(auth.layer().optional());
    assert_refused(
        send_get(&guarded, "/admin", None).await,
        AuthError::MissingCredentials,
    )
    .await;
}

// ---------------------------------------------------------------------------
// Never echo attacker input
// ---------------------------------------------------------------------------

const ATTACKER_MARKERS: &[&str] = &["pwned", "Set-Cookie", "attacker", "\\r\\n", "%0d%0a"];

fn assert_no_attacker_text(r: &Refusal) {
    let everything = format!(
        "{} {} {}",
        r.raw_headers, r.body, r.body["error_description"]
    );
    for m in ATTACKER_MARKERS {
        assert!(!everything.contains(m), "echoed {m:?}: {everything}");
    }
}

#[tokio::test]
async fn error_description_never_echoes_attacker_input() {
    let app = app(&auth());
    // A header that is not a b64token, with a quote and CRLF-like text.
    let raw = HeaderValue::from_static(
        "Bearer attacker\", error=\"none\"\\r\\nSet-Cookie: pwned=1 %0d%0a",
    );
    let r = refusal(send(&app, with_authorization("/me", raw)).await).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_no_attacker_text(&r);

    // A well-formed token whose header carries attacker text in kid and alg.
    let payload = b64(&wire_claims("attacker\"\r\nSet-Cookie: pwned", ""));
    for header in [
        json!({"alg": "HS256", "typ": "at+jwt", "kid": "attacker\"\r\nSet-Cookie: pwned"}),
        json!({"alg": "attacker\"pwned", "typ": "at+jwt"}),
        json!({"alg": "HS256", "typ": "attacker\"\r\nSet-Cookie: pwned"}),
    ] {
        let token = format!("{}.{payload}.c2ln", b64(&header));
        let r = refusal(send_get(&app, "/me", Some(&token)).await).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{header}");
        assert_eq!(r.body["error"], json!("invalid_token"));
        assert_no_attacker_text(&r);
    }

    // A correctly signed token whose claims carry attacker text, refused for its kind.
    let mut h = access_header(Algorithm::HS256);
    h.typ = Some("JWT".to_owned());
    let token = raw_token(
        &h,
        &wire_claims("attacker\"\r\nSet-Cookie: pwned", "users:read"),
        &EncodingKey::from_secret(SECRET.as_bytes()),
    );
    let r = refusal(send_get(&app, "/me", Some(&token)).await).await;
    assert_eq!(r.error, Some(wrong_kind()));
    assert_no_attacker_text(&r);

    // Cookie garbage with quotes.
    let req = Request::builder()
        .uri("/me")
        .header(COOKIE, "__Host-access_token=\"attacker\\\"pwned\"")
        .body(Body::empty())
        .unwrap();
    let r = refusal(send(&app, req).await).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_no_attacker_text(&r);
}

// ---------------------------------------------------------------------------
// Programming errors
// ---------------------------------------------------------------------------

#[tokio::test]
async fn missing_layer_is_500_with_a_generic_body_and_the_detail_in_the_error() {
    let app: Router = Router::new().route("/me", get(|c: Claims| async move { c.sub.clone() }));
    let token = issue(&auth(), "alice", &[]);
    let r = refusal(send_get(&app, "/me", Some(&token)).await).await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        matches!(r.error, Some(AuthError::Misconfigured(_))),
        "{r:?}"
    );
    assert_eq!(r.body["error"], json!("server_error"));
    // The client gets a generic body; the detail is logged and in the attached error.
    assert_eq!(r.body["error_description"], json!("internal server error"));
    let msg = r.error.as_ref().unwrap().to_string();
    assert!(msg.contains("TokenAuthLayer"), "{msg}");
    assert_eq!(r.www_authenticate, None, "a 500 is no challenge");
}

#[tokio::test]
async fn scope_guard_without_layer_is_500_with_a_generic_body() {
    let app: Router = Router::new()
        .route("/admin", get(|| async { "ok" }))
        .route_layer(ScopeGuardLayer::all(["admin"]).unwrap());
    let r = refusal(send_get(&app, "/admin", None).await).await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(matches!(r.error, Some(AuthError::Misconfigured(_))));
    assert_eq!(r.body["error_description"], json!("internal server error"));
    let msg = r.error.as_ref().unwrap().to_string();
    assert!(msg.contains("TokenAuthLayer"), "{msg}");
}

#[derive(Debug, serde::Deserialize)]
struct Org {
    #[allow(dead_code)]
    org: String,
}

#[tokio::test]
async fn any_claims_type_works_behind_any_layer_and_a_misfit_is_401() {
    let auth = auth();
    // The layer decodes NoCustomClaims; the handler asks for Claims<Org>: decoded per
    // handler from the verified claims.
    let app: Router = Router::new()
        .route(
            "/org",
            get(|c: Claims<Org>| async move { c.custom.org.clone() }),
        )
        .route("/sub", get(|c: Claims| async move { c.sub.clone() }))
        .layer(TokenAuthLayer::<Org>::new(auth.clone()).optional())
        .layer(auth.layer());
    let token = auth
        .issue_access(&TokenRequest::new("alice").claims(&json!({"org": "acme"})))
        .unwrap();
    assert_eq!(
        ok_body(send_get(&app, "/org", Some(token.as_str())).await).await,
        "acme"
    );
    assert_eq!(
        ok_body(send_get(&app, "/sub", Some(token.as_str())).await).await,
        "alice"
    );
    // A token without the claims the handler needs: 401 invalid_token, never a 500.
    let plain = app_without_org(&auth);
    let bare = auth.issue_access(&TokenRequest::new("bob")).unwrap();
    let r = refusal(send_get(&plain, "/org", Some(bare.as_str())).await).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{r:?}");
    assert_eq!(r.body["error"], "invalid_token");
    assert!(
        matches!(
            r.error,
            Some(AuthError::InvalidToken(InvalidToken::InvalidClaims))
        ),
        "{r:?}"
    );
}

fn app_without_org(auth: &TokenAuth) -> Router {
    Router::new()
        .route(
            "/org",
            get(|c: Claims<Org>| async move { c.custom.org.clone() }),
        )
        .layer(auth.layer())
}

// ---------------------------------------------------------------------------
// Custom renderer
// ---------------------------------------------------------------------------

struct Teapot;

impl ErrorRenderer for Teapot {
    fn render(&self, error: &AuthError, realm: &str) -> Response {
        let body = format!("teapot:{realm}:{}", error.error_code().unwrap_or("none"));
        let mut res = (StatusCode::IM_A_TEAPOT, body).into_response();
        res.headers_mut()
            .insert("x-teapot", HeaderValue::from_static("1"));
        res
    }
}

#[tokio::test]
async fn custom_error_renderer_is_used_and_auth_error_still_attached() {
    let auth = builder().error_renderer(Teapot).build().unwrap();
    let app = app(&auth);
    let read_only = issue(&auth, "alice", &["users:read"]);
    let past = builder().clock(FixedClock(now() - 3600)).build().unwrap();
    let expired = issue(&past, "alice", &[]);
    let cases = [
        (get_req("/me", None), AuthError::MissingCredentials, "none"),
        (
            get_req("/me", Some(&expired)),
            invalid(InvalidToken::Expired),
            "invalid_token",
        ),
        (
            // The extractor's refusal goes through the renderer too.
            request(Method::POST, "/users", Some(&read_only)),
            AuthError::InsufficientScope {
                required: "users:write".into(),
            },
            "insufficient_scope",
        ),
        (
            // And the guard's.
            get_req("/admin", Some(&read_only)),
            AuthError::InsufficientScope {
                required: "admin".into(),
            },
            "insufficient_scope",
        ),
    ];
    for (req, expected, code) in cases {
        let res = send(&app, req).await;
        assert_eq!(res.status(), StatusCode::IM_A_TEAPOT, "{expected:?}");
        assert_eq!(res.headers()["x-teapot"], "1");
        assert_eq!(res.headers().get(WWW_AUTHENTICATE), None);
        assert_eq!(res.extensions().get::<AuthError>(), Some(&expected));
        assert_eq!(body_text(res).await, format!("teapot:api:{code}"));
    }
}

#[tokio::test]
async fn successful_requests_carry_no_auth_error() {
    let auth = auth();
    let token = issue(&auth, "alice", &["admin"]);
    let res = send_get(&app(&auth), "/admin", Some(&token)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.extensions().get::<AuthError>().is_none());
    assert_eq!(body_text(res).await, "admin:alice");
}

#[test]
fn default_access_lifetime_is_15_minutes() {
    // The leeway test above mints a token that expired 10 s ago assuming this default.
    let t = auth().issue_access(&TokenRequest::new("a")).unwrap();
    assert_eq!(t.expires_in(), 15 * 60);
    let custom = builder()
        .access_ttl(Duration::from_secs(120))
        .build()
        .unwrap();
    assert_eq!(
        custom
            .issue_access(&TokenRequest::new("a"))
            .unwrap()
            .expires_in(),
        120
    );
}

/// The manual's refusal table (`manual::security`) lists the CSRF refusal, and says what
/// the code answers.
#[tokio::test]
async fn manual_refusal_table_lists_the_csrf_row_as_the_code_answers_it() {
    let page = include_str!("../src/manual/security.rs");
    let row = page
        .lines()
        .map(|l| l.trim_start_matches("//!").trim_start())
        .find(|l| l.starts_with("| CSRF"))
        .expect("the manual's refusal table has a CSRF row");
    assert!(
        row.contains("| 403 |") && row.contains("invalid_request"),
        "{row}"
    );
    for e in [InvalidRequest::CsrfMismatch, InvalidRequest::CrossSite] {
        let e = AuthError::InvalidRequest(e);
        assert_eq!(e.status(), StatusCode::FORBIDDEN);
        assert_eq!(e.error_code(), Some("invalid_request"));
    }
    // And on the wire: an unsafe cookie request without the CSRF value.
    let auth = auth();
    let token = issue(&auth, "alice", &["users:write"]);
    let req = Request::post("/users")
        .header(COOKIE, format!("__Host-access_token={token}"))
        .body(Body::empty())
        .unwrap();
    assert_refused(
        send(&app(&auth), req).await,
        AuthError::InvalidRequest(InvalidRequest::CsrfMismatch),
    )
    .await;
}

/// The crate's origin check as a building block on any handler (`SameOrigin`): cross-site
/// requests are refused with the RFC 6750 JSON answer, same-origin and non-browser ones
/// reach the handler.
#[tokio::test]
async fn same_origin_extractor_refuses_cross_site_requests_on_any_handler() {
    use axum_token_auth::http::SameOrigin;
    let auth = auth();
    let app: Router = Router::new()
        .route(
            "/login",
            axum::routing::post(|_: SameOrigin| async { "ok" }),
        )
        .with_state(auth.clone());
    let post = |headers: &[(&'static str, &str)]| {
        let mut b = Request::post("/login").header("host", "app.example");
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(Body::empty()).unwrap()
    };
    for cross in [
        post(&[("origin", "https://evil.example")]),
        post(&[("sec-fetch-site", "cross-site")]),
        post(&[("origin", "null")]),
    ] {
        assert_refused(
            send(&app, cross).await,
            AuthError::InvalidRequest(InvalidRequest::CrossSite),
        )
        .await;
    }
    for ok in [
        post(&[
            ("origin", "https://app.example"),
            ("sec-fetch-site", "same-origin"),
        ]),
        post(&[]),
    ] {
        assert_eq!(ok_body(send(&app, ok).await).await, "ok");
    }
}
