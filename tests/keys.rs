//! Asymmetric keys (fixtures in `tests/fixtures`, generated with `openssl genpkey`):
//! sign/verify round trips through the layer, key checks, rotation, JWKS publication
//! and cross-service verification from a JWKS document.

mod common;

use axum::Router;
use axum_token_auth::testing::{Attack, AttackTokens};
use axum_token_auth::{
    AuthError, ConfigError, Key, TokenAuth, TokenRequest,
    token::{Algorithm, InvalidToken, Jwk, JwkSet},
};
use common::*;
use http::StatusCode;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use jsonwebtoken::jwk::{AlgorithmParameters, KeyAlgorithm, PublicKeyUse, ThumbprintHash};
use jsonwebtoken::{DecodingKey, EncodingKey, Validation};
use serde_json::{Value, json};

const RSA2048_PRIVATE: &str = include_str!("fixtures/rsa2048_private.pem");
const RSA2048_PUBLIC: &str = include_str!("fixtures/rsa2048_public.pem");
const RSA1024_PRIVATE: &str = include_str!("fixtures/rsa1024_private.pem");
const RSA1024_PUBLIC: &str = include_str!("fixtures/rsa1024_public.pem");
const P256_PRIVATE: &str = include_str!("fixtures/ec_p256_private.pem");
const P256_PUBLIC: &str = include_str!("fixtures/ec_p256_public.pem");
const P384_PRIVATE: &str = include_str!("fixtures/ec_p384_private.pem");
const ED25519_PRIVATE: &str = include_str!("fixtures/ed25519_private.pem");
const ED25519_PUBLIC: &str = include_str!("fixtures/ed25519_public.pem");

fn key(alg: Algorithm, pem: &str) -> Key {
    Key::from_pem(alg, pem).unwrap_or_else(|e| panic!("{alg:?} key: {e}"))
}

fn signer(key: Key) -> TokenAuth {
    TokenAuth::builder().signing_key(key).build().unwrap()
}

/// A resource server that signs nothing of its own worth mentioning (a local HMAC key
/// with a kid) and verifies with `keys`.
fn verifier(keys: impl IntoIterator<Item = Key>) -> TokenAuth {
    let local = Key::generate_hmac(Algorithm::HS256)
        .unwrap()
        .with_kid("local-hmac");
    keys.into_iter()
        .fold(TokenAuth::builder().signing_key(local), |b, k| {
            b.verification_key(k)
        })
        .build()
        .unwrap()
}

fn invalid(reason: InvalidToken) -> AuthError {
    AuthError::InvalidToken(reason)
}

// ---------------------------------------------------------------------------
// Round trips through the layer
// ---------------------------------------------------------------------------

async fn assert_round_trip(alg: Algorithm, pem: &str) {
    let k = key(alg, pem);
    assert!(k.can_sign());
    assert_eq!(k.algorithm(), alg);
    let auth = signer(k);
    let token = issue(&auth, "alice", &["users:read"]);
    let header = jsonwebtoken::decode_header(&token).unwrap();
    assert_eq!(header.alg, alg);
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    // Without an explicit kid, the RFC 7638 thumbprint is the kid (and the JWKS kid).
    let kid = header.kid.expect("asymmetric tokens carry a kid");
    let jwks = auth.jwks();
    assert_eq!(jwks.keys.len(), 1);
    assert_eq!(jwks.keys[0].common.key_id.as_deref(), Some(kid.as_str()));
    let app = app(&auth);
    assert_eq!(
        ok_body(send_get(&app, "/users", Some(&token)).await).await,
        "list:alice",
        "{alg:?}"
    );
    // And a flipped signature byte is refused.
    let (msg, sig) = token.rsplit_once('.').unwrap();
    let flipped = if sig.starts_with('A') { 'B' } else { 'A' };
    let bad = format!("{msg}.{flipped}{}", &sig[1..]);
    assert_refused(
        send_get(&app, "/me", Some(&bad)).await,
        invalid(InvalidToken::BadSignature),
    )
    .await;
}

#[tokio::test]
async fn rs256_signs_and_verifies_through_the_layer() {
    assert_round_trip(Algorithm::RS256, RSA2048_PRIVATE).await;
}

#[tokio::test]
async fn rs384_and_rs512_sign_and_verify_through_the_layer() {
    assert_round_trip(Algorithm::RS384, RSA2048_PRIVATE).await;
    assert_round_trip(Algorithm::RS512, RSA2048_PRIVATE).await;
}

#[tokio::test]
async fn ps256_signs_and_verifies_through_the_layer() {
    assert_round_trip(Algorithm::PS256, RSA2048_PRIVATE).await;
}

#[tokio::test]
async fn es256_signs_and_verifies_through_the_layer() {
    assert_round_trip(Algorithm::ES256, P256_PRIVATE).await;
}

#[tokio::test]
async fn es384_signs_and_verifies_through_the_layer() {
    assert_round_trip(Algorithm::ES384, P384_PRIVATE).await;
}

#[tokio::test]
async fn eddsa_signs_and_verifies_through_the_layer() {
    assert_round_trip(Algorithm::EdDSA, ED25519_PRIVATE).await;
}

#[tokio::test]
async fn rs256_and_ps256_with_the_same_key_do_not_cross() {
    let rs = signer(key(Algorithm::RS256, RSA2048_PRIVATE));
    let ps = signer(key(Algorithm::PS256, RSA2048_PRIVATE));
    let token = issue(&rs, "alice", &[]);
    // Same key material, same thumbprint kid, other algorithm: refused.
    assert_refused(
        send_get(&app(&ps), "/me", Some(&token)).await,
        invalid(InvalidToken::AlgorithmMismatch),
    )
    .await;
}

// ---------------------------------------------------------------------------
// Key checks
// ---------------------------------------------------------------------------

#[test]
fn rsa_1024_key_is_refused() {
    for alg in [Algorithm::RS256, Algorithm::PS256] {
        for pem in [RSA1024_PRIVATE, RSA1024_PUBLIC] {
            let e = Key::from_pem(alg, pem).unwrap_err();
            assert!(
                matches!(
                    e,
                    ConfigError::WeakRsaKey { bits: 1024 } | ConfigError::InvalidKey(_)
                ),
                "{alg:?}: {e:?}"
            );
        }
    }
}

#[test]
fn rsa_1024_public_key_is_refused_as_weak_rsa_key() {
    assert_eq!(
        Key::from_pem(Algorithm::RS256, RSA1024_PUBLIC).unwrap_err(),
        ConfigError::WeakRsaKey { bits: 1024 }
    );
}

/// aws-lc-rs refuses small RSA keys while parsing; `Key::from_pem` measures the modulus
/// first, so every backend reports the same `WeakRsaKey { bits: 1024 }`.
#[test]
fn rsa_1024_private_key_is_refused_as_weak_rsa_key() {
    for alg in [Algorithm::RS256, Algorithm::PS256] {
        assert_eq!(
            Key::from_pem(alg, RSA1024_PRIVATE).unwrap_err(),
            ConfigError::WeakRsaKey { bits: 1024 }
        );
    }
}

#[test]
fn public_key_as_signing_key_fails_signing_key_cannot_sign() {
    for (alg, pem) in [
        (Algorithm::RS256, RSA2048_PUBLIC),
        (Algorithm::ES256, P256_PUBLIC),
        (Algorithm::EdDSA, ED25519_PUBLIC),
    ] {
        let k = key(alg, pem);
        assert!(!k.can_sign(), "{alg:?}");
        assert_eq!(
            TokenAuth::builder().signing_key(k).build().unwrap_err(),
            ConfigError::SigningKeyCannotSign,
            "{alg:?}"
        );
    }
}

#[test]
fn es256_key_given_to_es384_is_refused() {
    let private = Key::from_pem(Algorithm::ES384, P256_PRIVATE).unwrap_err();
    let public = Key::from_pem(Algorithm::ES384, P256_PUBLIC).unwrap_err();
    let reverse = Key::from_pem(Algorithm::ES256, P384_PRIVATE).unwrap_err();
    for e in [private, public, reverse] {
        assert!(
            matches!(
                e,
                ConfigError::KeyAlgorithmMismatch(_) | ConfigError::InvalidKey(_)
            ),
            "{e:?}"
        );
    }
    assert_eq!(
        Key::from_pem(Algorithm::ES384, P256_PUBLIC).unwrap_err(),
        ConfigError::KeyAlgorithmMismatch(Algorithm::ES384)
    );
}

#[test]
fn key_of_another_family_is_refused() {
    for (alg, pem) in [
        (Algorithm::ES256, RSA2048_PRIVATE),
        (Algorithm::RS256, P256_PRIVATE),
        (Algorithm::EdDSA, P256_PRIVATE),
        (Algorithm::ES256, ED25519_PRIVATE),
        (Algorithm::RS256, ED25519_PUBLIC),
    ] {
        assert!(
            Key::from_pem(alg, pem).is_err(),
            "{alg:?} accepted a foreign key"
        );
    }
    assert_eq!(
        Key::from_pem(Algorithm::HS256, RSA2048_PRIVATE).unwrap_err(),
        ConfigError::KeyAlgorithmMismatch(Algorithm::HS256)
    );
    assert!(matches!(
        Key::from_pem(Algorithm::RS256, "not a pem"),
        Err(ConfigError::InvalidKey(_))
    ));
}

#[tokio::test]
async fn public_key_verifier_accepts_tokens_of_the_private_key() {
    let issuer = signer(key(Algorithm::RS256, RSA2048_PRIVATE));
    let resource = verifier([key(Algorithm::RS256, RSA2048_PUBLIC)]);
    let app = app(&resource);
    let token = issue(&issuer, "alice", &["users:read"]);
    assert_eq!(
        ok_body(send_get(&app, "/users", Some(&token)).await).await,
        "list:alice"
    );
    // Its own HMAC tokens work too.
    assert_eq!(
        ok_body(send_get(&app, "/me", Some(&issue(&resource, "bob", &[]))).await).await,
        "bob"
    );
    // A token of a key it does not know is refused by kid.
    let stranger = signer(key(Algorithm::ES256, P256_PRIVATE));
    assert_refused(
        send_get(&app, "/me", Some(&issue(&stranger, "eve", &[]))).await,
        invalid(InvalidToken::UnknownKey),
    )
    .await;
}

#[tokio::test]
async fn hs256_token_signed_with_the_rsa_public_key_is_refused() {
    // The classic algorithm-confusion attack: the public key used as an HMAC secret.
    let auth = signer(key(Algorithm::RS256, RSA2048_PRIVATE));
    let kid = auth.jwks().keys[0].common.key_id.clone();
    let secret = EncodingKey::from_secret(RSA2048_PUBLIC.as_bytes());
    for kid in [None, kid] {
        let mut header = access_header(jsonwebtoken::Algorithm::HS256);
        header.kid = kid.clone();
        let token = raw_token(&header, &wire_claims("mallory", "*"), &secret);
        assert_refused(
            send_get(&app(&auth), "/me", Some(&token)).await,
            invalid(InvalidToken::AlgorithmMismatch),
        )
        .await;
    }
}

/// The testkit's attack tokens for every asymmetric algorithm, the public-key confusion
/// among them (keyed with the key's PEM as published: the fixture file), are refused by a
/// real router, and the refusal of the confusion says why.
#[tokio::test]
async fn every_attack_token_is_refused_for_every_asymmetric_algorithm() {
    for (alg, private, public) in [
        (Algorithm::RS256, RSA2048_PRIVATE, Some(RSA2048_PUBLIC)),
        (Algorithm::PS256, RSA2048_PRIVATE, Some(RSA2048_PUBLIC)),
        (Algorithm::ES256, P256_PRIVATE, Some(P256_PUBLIC)),
        (Algorithm::ES384, P384_PRIVATE, None),
        (Algorithm::EdDSA, ED25519_PRIVATE, Some(ED25519_PUBLIC)),
    ] {
        let auth = signer(key(alg, private));
        let mut attacks = AttackTokens::for_auth(&auth, &TokenRequest::new("alice")).unwrap();
        let derived = attacks.get(Attack::AlgorithmConfusion).map(str::to_owned);
        assert!(derived.is_some(), "{alg:?}: a confusion token from the key");
        if let Some(pem) = public {
            attacks = attacks.with_public_key_pem(pem.as_bytes());
            assert_eq!(
                attacks.get(Attack::AlgorithmConfusion).map(str::to_owned),
                derived,
                "{alg:?}: the derived PEM is the published one"
            );
        }
        let app = app(&auth);
        attacks
            .assert_refused_by(&app, http::Method::GET, "/me")
            .await;
        let confusion = attacks.get(Attack::AlgorithmConfusion).unwrap();
        assert_refused(
            send_get(&app, "/me", Some(confusion)).await,
            invalid(InvalidToken::AlgorithmMismatch),
        )
        .await;
    }
}

// ---------------------------------------------------------------------------
// Interop with raw jsonwebtoken
// ---------------------------------------------------------------------------

#[test]
fn our_rs256_tokens_decode_with_raw_jsonwebtoken_and_the_public_pem() {
    let auth = signer(key(Algorithm::RS256, RSA2048_PRIVATE));
    let token = issue(&auth, "alice", &["users:read"]);
    let mut v = Validation::new(jsonwebtoken::Algorithm::RS256);
    v.set_required_spec_claims(&["exp", "sub"]);
    let data = jsonwebtoken::decode::<Value>(
        &token,
        &DecodingKey::from_rsa_pem(RSA2048_PUBLIC.as_bytes()).unwrap(),
        &v,
    )
    .unwrap();
    assert_eq!(data.claims["sub"], json!("alice"));
    assert_eq!(data.claims["scope"], json!("users:read"));
}

#[tokio::test]
async fn raw_es256_and_eddsa_tokens_verify_with_public_pems() {
    ensure_crypto_provider();
    let resource = verifier([
        key(Algorithm::ES256, P256_PUBLIC).with_kid("ec"),
        key(Algorithm::EdDSA, ED25519_PUBLIC).with_kid("ed"),
    ]);
    let app = app(&resource);
    for (alg, kid, enc) in [
        (
            jsonwebtoken::Algorithm::ES256,
            "ec",
            EncodingKey::from_ec_pem(P256_PRIVATE.as_bytes()).unwrap(),
        ),
        (
            jsonwebtoken::Algorithm::EdDSA,
            "ed",
            EncodingKey::from_ed_pem(ED25519_PRIVATE.as_bytes()).unwrap(),
        ),
    ] {
        let mut header = access_header(alg);
        header.kid = Some(kid.to_owned());
        let token = raw_token(&header, &wire_claims("svc", ""), &enc);
        assert_eq!(
            ok_body(send_get(&app, "/me", Some(&token)).await).await,
            "svc",
            "{alg:?}"
        );
        // The same signature under the other kid is refused.
        header.kid = Some(if kid == "ec" { "ed" } else { "ec" }.to_owned());
        let swapped = raw_token(&header, &wire_claims("svc", ""), &enc);
        assert_refused(
            send_get(&app, "/me", Some(&swapped)).await,
            invalid(InvalidToken::AlgorithmMismatch),
        )
        .await;
    }
}

// ---------------------------------------------------------------------------
// Rotation
// ---------------------------------------------------------------------------

#[tokio::test]
async fn rotated_out_key_still_verifies_its_tokens_and_new_tokens_carry_the_new_kid() {
    let old = || key(Algorithm::ES256, P256_PRIVATE).with_kid("2026-10");
    let new = || key(Algorithm::RS256, RSA2048_PRIVATE).with_kid("2026-11");
    let before = signer(old());
    let old_token = issue(&before, "alice", &[]);
    assert_eq!(
        jsonwebtoken::decode_header(&old_token)
            .unwrap()
            .kid
            .as_deref(),
        Some("2026-10")
    );

    let after = TokenAuth::builder()
        .signing_key(new())
        .verification_key(old())
        .build()
        .unwrap();
    let app = app(&after);
    assert_eq!(
        ok_body(send_get(&app, "/me", Some(&old_token)).await).await,
        "alice"
    );
    let new_token = issue(&after, "bob", &[]);
    let header = jsonwebtoken::decode_header(&new_token).unwrap();
    assert_eq!(header.kid.as_deref(), Some("2026-11"));
    assert_eq!(header.alg, Algorithm::RS256);
    assert_eq!(
        ok_body(send_get(&app, "/me", Some(&new_token)).await).await,
        "bob"
    );

    // Once the old key is dropped, its tokens are refused by kid.
    let later = signer(new());
    assert_refused(
        send_get(&common::app(&later), "/me", Some(&old_token)).await,
        invalid(InvalidToken::UnknownKey),
    )
    .await;

    // A token signed by the old key that claims the new kid is refused.
    let mut forged = access_header(jsonwebtoken::Algorithm::ES256);
    forged.kid = Some("2026-11".to_owned());
    let forged = raw_token(
        &forged,
        &wire_claims("mallory", "*"),
        &EncodingKey::from_ec_pem(P256_PRIVATE.as_bytes()).unwrap(),
    );
    assert_refused(
        send_get(&app, "/me", Some(&forged)).await,
        invalid(InvalidToken::AlgorithmMismatch),
    )
    .await;
}

#[tokio::test]
async fn hmac_rotation_needs_kids_and_verifies_both_generations() {
    let old_secret = "zyxwvutsrqponmlkjihgfedcba9876543210ZYXW";
    assert_eq!(
        TokenAuth::builder()
            .hs256_secret(SECRET)
            .verification_key(Key::hs256(old_secret).unwrap())
            .build()
            .unwrap_err(),
        ConfigError::MissingKid
    );
    let old = signer(Key::hs256(old_secret).unwrap().with_kid("v1"));
    let old_token = issue(&old, "alice", &[]);
    let auth = TokenAuth::builder()
        .signing_key(Key::hs256(SECRET).unwrap().with_kid("v2"))
        .verification_key(Key::hs256(old_secret).unwrap().with_kid("v1"))
        .build()
        .unwrap();
    let app = app(&auth);
    assert_eq!(
        ok_body(send_get(&app, "/me", Some(&old_token)).await).await,
        "alice"
    );
    let new_token = issue(&auth, "bob", &[]);
    assert_eq!(
        jsonwebtoken::decode_header(&new_token)
            .unwrap()
            .kid
            .as_deref(),
        Some("v2")
    );
    assert_eq!(
        ok_body(send_get(&app, "/me", Some(&new_token)).await).await,
        "bob"
    );
    // HMAC secrets are never published.
    assert!(auth.jwks().keys.is_empty());
}

// ---------------------------------------------------------------------------
// JWKS
// ---------------------------------------------------------------------------

/// An issuer with RS256 (signing), an EdDSA public key and an HMAC secret (verifying).
fn jwks_issuer() -> TokenAuth {
    TokenAuth::builder()
        .signing_key(key(Algorithm::RS256, RSA2048_PRIVATE).with_kid("rsa-2026"))
        .verification_key(key(Algorithm::ES256, P256_PRIVATE))
        .verification_key(key(Algorithm::EdDSA, ED25519_PUBLIC))
        .verification_key(
            Key::hs256("zyxwvutsrqponmlkjihgfedcba9876543210ZYXW")
                .unwrap()
                .with_kid("legacy-hmac"),
        )
        .build()
        .unwrap()
}

const PRIVATE_JWK_MEMBERS: &[&str] = &["k", "d", "p", "q", "dp", "dq", "qi", "oth"];

#[test]
fn jwks_lists_public_keys_with_kid_alg_and_use_sig_and_never_a_secret() {
    let auth = jwks_issuer();
    let jwks = auth.jwks();
    assert_eq!(
        jwks.keys.len(),
        3,
        "RSA, EC and Ed keys; never the HMAC one"
    );
    let algs: Vec<_> = jwks.keys.iter().map(|k| k.common.key_algorithm).collect();
    assert_eq!(
        algs,
        [
            Some(KeyAlgorithm::RS256),
            Some(KeyAlgorithm::ES256),
            Some(KeyAlgorithm::EdDSA)
        ]
    );
    for jwk in &jwks.keys {
        assert_eq!(jwk.common.public_key_use, Some(PublicKeyUse::Signature));
        let kid = jwk.common.key_id.as_deref().expect("every JWK has a kid");
        assert!(!kid.is_empty());
        assert!(!matches!(jwk.algorithm, AlgorithmParameters::OctetKey(_)));
    }
    assert_eq!(jwks.keys[0].common.key_id.as_deref(), Some("rsa-2026"));
    // Keys without an explicit kid get their RFC 7638 thumbprint.
    for jwk in &jwks.keys[1..] {
        if matches!(jwk.algorithm, AlgorithmParameters::EllipticCurve(_)) {
            assert_eq!(
                jwk.common.key_id,
                Some(jwk.thumbprint(ThumbprintHash::SHA256).unwrap())
            );
        }
    }
    let doc = serde_json::to_value(&jwks).unwrap();
    for k in doc["keys"].as_array().unwrap() {
        assert_eq!(k["use"], json!("sig"));
        for member in PRIVATE_JWK_MEMBERS {
            assert!(k.get(*member).is_none(), "published {member}: {k}");
        }
        assert_ne!(k["kty"], json!("oct"));
    }
    assert!(!doc.to_string().contains("legacy-hmac"));
}

#[tokio::test]
async fn jwks_route_serves_the_jwks_document() {
    let auth = jwks_issuer();
    let app: Router = Router::new().route("/.well-known/jwks.json", auth.web().jwks_route());
    let res = send_get(&app, "/.well-known/jwks.json", None).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[CONTENT_TYPE], "application/json");
    assert_eq!(res.headers()[CACHE_CONTROL], "public, max-age=300");
    let body: Value = serde_json::from_slice(&body_bytes(res).await).unwrap();
    assert_eq!(body, serde_json::to_value(auth.jwks()).unwrap());
    assert_eq!(body["keys"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn hmac_only_jwks_route_serves_an_empty_set() {
    let auth = auth();
    let app: Router = Router::new().route("/.well-known/jwks.json", auth.web().jwks_route());
    let res = send_get(&app, "/.well-known/jwks.json", None).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = serde_json::from_slice(&body_bytes(res).await).unwrap();
    assert_eq!(body, json!({"keys": []}));
    assert!(!body.to_string().contains(SECRET));
}

#[tokio::test]
async fn key_from_jwks_document_verifies_tokens_of_the_private_key() {
    // The issuer publishes its JWKS; another service fetches it and verifies with it.
    let issuer = jwks_issuer();
    let jwks_app: Router = Router::new().route("/.well-known/jwks.json", issuer.web().jwks_route());
    let res = send_get(&jwks_app, "/.well-known/jwks.json", None).await;
    let doc: JwkSet = serde_json::from_slice(&body_bytes(res).await).unwrap();
    let keys: Vec<Key> = doc
        .keys
        .iter()
        .map(|jwk: &Jwk| Key::from_jwk(jwk, None).expect("published JWKs are usable"))
        .collect();
    assert!(keys.iter().all(|k| !k.can_sign()));
    let resource = verifier(keys);
    let app = app(&resource);

    // Tokens of the issuer's signing key (RS256)...
    let token = issue(&issuer, "alice", &["users:read"]);
    assert_eq!(
        ok_body(send_get(&app, "/users", Some(&token)).await).await,
        "list:alice"
    );
    // ...and of its other published key (an ES256 key that signed before rotation).
    let previous = signer(key(Algorithm::ES256, P256_PRIVATE));
    assert_eq!(
        ok_body(send_get(&app, "/me", Some(&issue(&previous, "bob", &[]))).await).await,
        "bob"
    );
    // The issuer's HMAC tokens cannot be verified elsewhere (the secret is not published).
    let hmac_issuer = signer(
        Key::hs256("zyxwvutsrqponmlkjihgfedcba9876543210ZYXW")
            .unwrap()
            .with_kid("legacy-hmac"),
    );
    assert_refused(
        send_get(&app, "/me", Some(&issue(&hmac_issuer, "carol", &[]))).await,
        invalid(InvalidToken::UnknownKey),
    )
    .await;
}

#[test]
fn jwk_with_a_1024_bit_modulus_is_refused_as_weak() {
    ensure_crypto_provider();
    let dec = DecodingKey::from_rsa_pem(RSA1024_PUBLIC.as_bytes()).unwrap();
    let jwk = Jwk::from_decoding_key(&dec, Some(Algorithm::RS256)).unwrap();
    assert_eq!(
        Key::from_jwk(&jwk, None).unwrap_err(),
        ConfigError::WeakRsaKey { bits: 1024 }
    );
}

#[test]
fn p384_jwk_claiming_es256_is_refused() {
    let auth = signer(key(Algorithm::ES384, P384_PRIVATE));
    let mut jwk = auth.jwks().keys[0].clone();
    assert_eq!(jwk.common.key_algorithm, Some(KeyAlgorithm::ES384));
    assert!(Key::from_jwk(&jwk, None).is_ok());
    jwk.common.key_algorithm = Some(KeyAlgorithm::ES256);
    assert_eq!(
        Key::from_jwk(&jwk, None).unwrap_err(),
        ConfigError::KeyAlgorithmMismatch(Algorithm::ES256)
    );
}

#[test]
fn from_jwk_checks_the_algorithm() {
    let auth = signer(key(Algorithm::RS256, RSA2048_PRIVATE));
    let jwk = auth.jwks().keys[0].clone();
    assert_eq!(
        Key::from_jwk(&jwk, Some(Algorithm::PS256)).unwrap_err(),
        ConfigError::KeyAlgorithmMismatch(Algorithm::PS256)
    );
    let mut bare = jwk.clone();
    bare.common.key_algorithm = None;
    assert!(matches!(
        Key::from_jwk(&bare, None),
        Err(ConfigError::InvalidKey(_))
    ));
    let k = Key::from_jwk(&bare, Some(Algorithm::RS256)).unwrap();
    assert_eq!(k.algorithm(), Algorithm::RS256);
    assert_eq!(k.kid(), jwk.common.key_id.as_deref());
}

#[test]
fn issuing_with_a_private_key_works_for_every_kind() {
    let auth = signer(key(Algorithm::EdDSA, ED25519_PRIVATE));
    let req = TokenRequest::new("alice");
    let pair = auth.issue_pair(&req).unwrap();
    let service = auth.issue_service(&req).unwrap();
    for t in [&pair.access, &pair.refresh, &service] {
        assert_eq!(
            jsonwebtoken::decode_header(t.as_str()).unwrap().alg,
            Algorithm::EdDSA
        );
    }
}

#[test]
fn from_jwk_refuses_keys_published_for_another_use() {
    use jsonwebtoken::jwk::{KeyOperations, PublicKeyUse};
    let auth = signer(key(Algorithm::RS256, RSA2048_PRIVATE));
    let jwk = auth.jwks().keys[0].clone();
    assert!(Key::from_jwk(&jwk, None).is_ok());
    let mut enc = jwk.clone();
    enc.common.public_key_use = Some(PublicKeyUse::Encryption);
    assert!(matches!(
        Key::from_jwk(&enc, None),
        Err(ConfigError::InvalidKey(_))
    ));
    let mut ops = jwk.clone();
    ops.common.public_key_use = None;
    ops.common.key_operations = Some(vec![KeyOperations::Encrypt]);
    assert!(matches!(
        Key::from_jwk(&ops, None),
        Err(ConfigError::InvalidKey(_))
    ));
    ops.common.key_operations = Some(vec![KeyOperations::Verify]);
    assert!(Key::from_jwk(&ops, None).is_ok());
}
