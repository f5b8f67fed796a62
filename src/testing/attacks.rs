//! [`AttackTokens`]: forged and broken tokens derived from a real one, for asserting that
//! routes refuse them.

use std::fmt;

use axum::Router;
use axum::body::Body;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use http::header::AUTHORIZATION;
use http::{Method, Request, StatusCode};
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk};
use jsonwebtoken::{Algorithm, AlgorithmFamily, EncodingKey, Header};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::auth::TokenAuth;
use crate::testing::dpop::{DpopKey, send_proof};
use crate::token::claims::TokenKind;
use crate::token::issue::{IssueError, TokenRequest};
use crate::token::keys::Key;

/// One way of forging or breaking a genuine access token. Built by
/// [`AttackTokens::for_auth`] from a token of the authority's own, each is refused with
/// 401 `invalid_token` by a route that requires a token behind
/// [`auth.layer()`](crate::TokenAuth::layer) (`Claims`, `RequireScope` …), each by its own
/// check (`tests/it/rfc6750.rs` maps every attack to its refusal). Built by
/// [`AttackTokens::for_issuer`] from a token of a [`FakeIdp`](crate::testing::FakeIdp),
/// the set holds only the attacks that issuer's rules refuse. Not every route refuses
/// them:
///
/// * routes the layer does not guard (added after `.layer`, or another router): they
///   take any token, which is what [`AttackTokens::assert_refused_by`] exists to catch;
/// * optional routes: [`optional()`](crate::http::TokenAuthLayer::optional) lets a
///   request whose token is refused through anonymously (an `Option<Claims>` handler
///   answers it, not 401); only
///   [`optional_refusing_invalid()`](crate::http::TokenAuthLayer::optional_refusing_invalid)
///   answers bad tokens 401;
/// * tokens of trusted identity providers: the attacks of [`for_auth`](AttackTokens::for_auth)
///   are signed with the authority's key, never the provider's, so they say nothing
///   about the provider's tokens — use [`for_issuer`](AttackTokens::for_issuer), which
///   leaves out what the issuer accepts (an [`Issuer`](crate::trust::Issuer) accepts
///   `typ: JWT` or no `typ` unless [`require_at_jwt`](crate::trust::Issuer::require_at_jwt),
///   so [`UntypedJwt`](Self::UntypedJwt) is no attack there);
/// * a [`LegacyIssuer`](crate::trust::LegacyIssuer) keyed with the authority's own
///   signing secret: an untyped JWT is what a legacy token looks like, so
///   [`UntypedJwt`](Self::UntypedJwt) may verify as one (give legacy formats their own
///   key, as [`trust::legacy`](crate::trust::legacy) says).
///
/// Some apply only to some authorities: [`WrongIssuer`](Self::WrongIssuer) with a
/// configured issuer, [`ForeignKey`](Self::ForeignKey) with an HMAC signing key,
/// [`AlgorithmConfusion`](Self::AlgorithmConfusion) with an asymmetric one (or a given
/// public key PEM); [`AttackTokens::attacks`] lists those generated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Attack {
    /// `alg: none` and an empty signature (RFC 7519 §6 unsecured JWT).
    AlgNone,
    /// HS256, keyed with the signing key's *public* key as a PEM text (the classic
    /// RS/HS confusion); only for asymmetric signing keys, or with
    /// [`AttackTokens::with_public_key_pem`].
    AlgorithmConfusion,
    /// Signed with the real key, expired an hour ago (past any allowed leeway).
    Expired,
    /// Signed with the real key, `nbf` an hour ahead.
    NotYetValid,
    /// Signed with the real key under a `kid` the keyring does not hold.
    UnknownKid,
    /// Signed with the real key, for another audience.
    WrongAudience,
    /// Signed with the real key, from another issuer; only when the authority requires an
    /// issuer (without one, `iss` is not checked).
    WrongIssuer,
    /// Signed with the real key, `typ: refresh+jwt`: a refresh token used as access token.
    RefreshType,
    /// Signed with the real key, `typ: JWT`: a token of no kind of ours.
    UntypedJwt,
    /// The real header and signature over a payload whose `sub` and `scope` were changed.
    TamperedPayload,
    /// The real header and payload with one bit of the signature flipped.
    TamperedSignature,
    /// The same header (`alg`, `kid`) signed with another secret (HMAC signing keys), or
    /// with another RSA key under the real `kid` (an external issuer,
    /// [`AttackTokens::for_issuer`]).
    ForeignKey,
    /// The provider's ID token for the same user (its audience is the client): only for
    /// an external issuer that refuses it ([`AttackTokens::for_issuer`]).
    IdToken,
}

impl Attack {
    /// A short name, for test output.
    pub fn name(self) -> &'static str {
        match self {
            Attack::AlgNone => "alg_none",
            Attack::AlgorithmConfusion => "algorithm_confusion",
            Attack::Expired => "expired",
            Attack::NotYetValid => "not_yet_valid",
            Attack::UnknownKid => "unknown_kid",
            Attack::WrongAudience => "wrong_audience",
            Attack::WrongIssuer => "wrong_issuer",
            Attack::RefreshType => "refresh_type",
            Attack::UntypedJwt => "untyped_jwt",
            Attack::TamperedPayload => "tampered_payload",
            Attack::TamperedSignature => "tampered_signature",
            Attack::ForeignKey => "foreign_key",
            Attack::IdToken => "id_token",
        }
    }
}

impl fmt::Display for Attack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Attack tokens derived from one genuine access token of an authority: each keeps the
/// genuine token's claims and breaks exactly one thing. Those signed "with the real key"
/// are signed by the authority's own signing key, so only the broken check can refuse
/// them.
///
/// ```
/// use axum::{Router, routing::get};
/// use axum_token_auth::{Claims, TokenRequest, testing::{Attack, AttackTokens, test_auth}};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let auth = test_auth();
/// let app = Router::new()
///     .route("/me", get(|c: Claims| async move { c.sub.clone() }))
///     .layer(auth.layer());
///
/// let attacks = AttackTokens::for_auth(&auth, &TokenRequest::new("alice")).unwrap();
/// assert!(attacks.get(Attack::AlgNone).is_some());
/// // The genuine token is accepted, every attack token is answered 401.
/// attacks.assert_refused_by(&app, http::Method::GET, "/me").await;
/// # }
/// ```
///
/// The tokens are test credentials: they are never printed, in assertion messages
/// neither.
#[derive(Clone)]
pub struct AttackTokens {
    pub(super) genuine: String,
    pub(super) tokens: Vec<(Attack, String)>,
}

impl fmt::Debug for AttackTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AttackTokens")
            .field("attacks", &self.attacks().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl AttackTokens {
    /// Issues a genuine access token for `request` with `auth` and derives every attack
    /// that applies to `auth`'s signing key and settings from it.
    pub fn for_auth(auth: &TokenAuth, request: &TokenRequest) -> Result<Self, IssueError> {
        let genuine = auth.issue_access(request)?;
        let ring = auth.verifier().keys.load();
        let key: &Key = ring.signing().ok_or(IssueError::NoSigningKey)?;
        let encoding = key.encoding.as_ref().ok_or(IssueError::Signing)?;
        let (header64, payload64, signature64) = split(genuine.as_str());
        let payload: Value = decode_json(payload64);
        let now = auth.now();

        let header = |typ: &str, kid: Option<String>| {
            let mut h = Header::new(key.alg);
            h.typ = Some(typ.to_owned());
            h.kid = kid;
            h
        };
        let sign = |h: &Header, p: &Value| {
            jsonwebtoken::encode(h, p, encoding).map_err(|_| IssueError::Signing)
        };
        let access = header(TokenKind::Access.typ(), key.kid.clone());
        let with = |changes: Value| {
            let mut p = payload.clone();
            if let (Some(p), Value::Object(changes)) = (p.as_object_mut(), changes) {
                p.extend(changes);
            }
            p
        };

        let mut tokens = Vec::new();
        let mut none_header = json!({"alg": "none", "typ": TokenKind::Access.typ()});
        if let Some(kid) = &key.kid {
            none_header["kid"] = json!(kid);
        }
        tokens.push((
            Attack::AlgNone,
            format!("{}.{payload64}.", encode_json(&none_header)),
        ));
        let ttl = genuine.expires_at.saturating_sub(genuine.issued_at);
        tokens.push((
            Attack::Expired,
            sign(
                &access,
                &with(
                    json!({"iat": now.saturating_sub(ttl + 3600), "exp": now.saturating_sub(3600)}),
                ),
            )?,
        ));
        tokens.push((
            Attack::NotYetValid,
            sign(&access, &with(json!({"nbf": now + 3600})))?,
        ));
        tokens.push((
            Attack::UnknownKid,
            sign(
                &header(
                    TokenKind::Access.typ(),
                    Some("attack-tokens-unknown-kid".to_owned()),
                ),
                &payload,
            )?,
        ));
        tokens.push((
            Attack::WrongAudience,
            sign(&access, &with(json!({"aud": "attack-tokens.invalid"})))?,
        ));
        if auth.verifier().settings.issuer.is_some() {
            tokens.push((
                Attack::WrongIssuer,
                sign(
                    &access,
                    &with(json!({"iss": "https://attack-tokens.invalid"})),
                )?,
            ));
        }
        tokens.push((
            Attack::RefreshType,
            sign(&header(TokenKind::Refresh.typ(), key.kid.clone()), &payload)?,
        ));
        tokens.push((
            Attack::UntypedJwt,
            sign(&header("JWT", key.kid.clone()), &payload)?,
        ));
        let forged = with(json!({"sub": "attacker", "scope": "*"}));
        tokens.extend(tampered(header64, payload64, signature64, &forged)?);
        if matches!(key.alg.family(), AlgorithmFamily::Hmac) {
            let foreign = Key::generate_hmac(key.alg).map_err(|_| IssueError::Signing)?;
            let foreign = foreign.encoding.as_ref().ok_or(IssueError::Signing)?;
            tokens.push((
                Attack::ForeignKey,
                jsonwebtoken::encode(&access, &payload, foreign)
                    .map_err(|_| IssueError::Signing)?,
            ));
        }
        let mut attacks = AttackTokens {
            genuine: genuine.into_string(),
            tokens,
        };
        if let Some(pem) = key.public_jwk.as_ref().and_then(public_key_pem) {
            attacks = attacks.with_public_key_pem(pem.as_bytes());
        }
        Ok(attacks)
    }

    /// Adds (or replaces) the [`Attack::AlgorithmConfusion`] token: the genuine header
    /// with `alg: HS256` and payload, HMAC-signed with `pem` as the secret. Pass the
    /// exact bytes of the public key file your service publishes (an attacker has them).
    ///
    /// ```
    /// use axum_token_auth::{Key, TokenAuth, TokenRequest, token::Algorithm};
    /// use axum_token_auth::testing::{Attack, AttackTokens};
    ///
    /// # fn demo(private_pem: &[u8], public_pem: &[u8]) -> Result<(), Box<dyn std::error::Error>> {
    /// let auth = TokenAuth::builder()
    ///     .signing_key(Key::from_pem(Algorithm::RS256, private_pem)?)
    ///     .build()?;
    /// // The exact bytes of the public key file the service publishes.
    /// let attacks = AttackTokens::for_auth(&auth, &TokenRequest::new("alice"))?
    ///     .with_public_key_pem(public_pem);
    /// assert!(attacks.get(Attack::AlgorithmConfusion).is_some());
    /// # Ok(()) }
    /// ```
    pub fn with_public_key_pem(mut self, pem: &[u8]) -> Self {
        let (header64, payload64, _) = split(&self.genuine);
        let mut header: Value = decode_json(header64);
        header["alg"] = json!("HS256");
        let input = format!("{}.{payload64}", encode_json(&header));
        let secret = EncodingKey::from_secret(pem);
        let token = jsonwebtoken::crypto::sign(input.as_bytes(), &secret, Algorithm::HS256)
            .map(|sig| format!("{input}.{sig}"));
        if let Ok(token) = token {
            self.tokens
                .retain(|(a, _)| *a != Attack::AlgorithmConfusion);
            self.tokens.push((Attack::AlgorithmConfusion, token));
        }
        self
    }

    /// The genuine token the attacks were derived from (accepted by the authority).
    pub fn genuine(&self) -> &str {
        &self.genuine
    }

    /// The token of `attack`, if it applies to this authority.
    pub fn get(&self, attack: Attack) -> Option<&str> {
        self.tokens
            .iter()
            .find(|(a, _)| *a == attack)
            .map(|(_, t)| t.as_str())
    }

    /// The attacks generated.
    pub fn attacks(&self) -> impl Iterator<Item = Attack> + '_ {
        self.tokens.iter().map(|(a, _)| *a)
    }

    /// Every attack with its token.
    pub fn iter(&self) -> impl Iterator<Item = (Attack, &str)> {
        self.tokens.iter().map(|(a, t)| (*a, t.as_str()))
    }

    /// Sends `method path` through `app` once with the genuine token and once with each
    /// attack token (as `Authorization: Bearer`), and asserts that the genuine one is not
    /// answered 401 and that every attack is. The first half only shows the route is
    /// reachable with a good token (a route outside the layer passes it too); the
    /// attacks' 401s are what show that it checks tokens.
    ///
    /// # Panics
    ///
    /// On the first answer that breaks the rule, naming the attack and the status (never
    /// the token).
    pub async fn assert_refused_by(&self, app: &Router, method: Method, path: &str) {
        let (status, challenge) = send_bearer(app, &method, path, &self.genuine).await;
        assert!(
            !(status == StatusCode::UNAUTHORIZED && challenge.starts_with("DPoP")),
            "{method} {path} requires DPoP: a bearer token never reaches it, so the attacks \
             would prove nothing; bind the genuine token to a key \
             (TokenRequest::confirmation(key.confirmation())) and use assert_refused_by_dpop"
        );
        assert_ne!(
            status,
            StatusCode::UNAUTHORIZED,
            "the genuine token was refused by {method} {path}: the attacks would prove nothing"
        );
        for (attack, token) in self.iter() {
            let status = send(app, &method, path, token).await;
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "attack `{attack}` against {method} {path} was answered {status}, not 401"
            );
        }
    }

    /// [`assert_refused_by`](Self::assert_refused_by) for a route that requires DPoP:
    /// every token is sent as `Authorization: DPoP` with a fresh, valid proof of `key`
    /// for `origin` + `path`, so only the broken token can be refused. Build the attacks
    /// from a request bound to `key` (`TokenRequest::new(..).confirmation(key.confirmation())`):
    /// they keep its `cnf`.
    ///
    /// ```
    /// use axum::{Router, routing::get};
    /// use axum_token_auth::trust::dpop::{DpopPolicy, DpopSettings};
    /// use axum_token_auth::{Claims, TokenRequest, testing::{self, AttackTokens, DpopKey}};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let auth = testing::test_builder()
    ///     .dpop(DpopSettings::new("https://api.example.com"))
    ///     .build()
    ///     .unwrap();
    /// let app = Router::new()
    ///     .route("/me", get(|c: Claims| async move { c.sub.clone() }))
    ///     .layer(auth.layer().dpop(DpopPolicy::Required));
    /// let key = DpopKey::es256();
    /// let bound = TokenRequest::new("alice").confirmation(key.confirmation());
    /// AttackTokens::for_auth(&auth, &bound)
    ///     .unwrap()
    ///     .assert_refused_by_dpop(&app, &key, "https://api.example.com", http::Method::GET, "/me")
    ///     .await;
    /// # }
    /// ```
    ///
    /// # Panics
    ///
    /// As [`assert_refused_by`](Self::assert_refused_by).
    pub async fn assert_refused_by_dpop(
        &self,
        app: &Router,
        key: &DpopKey,
        origin: &str,
        method: Method,
        path: &str,
    ) {
        let htu = format!("{}{path}", origin.trim_end_matches('/'));
        let send = |token: &str| {
            let proof = key.proof(method.as_str(), &htu).access_token(token).build();
            let method = method.clone();
            let token = token.to_owned();
            async move { send_proof(app, &method, path, "DPoP", &token, Some(&proof)).await }
        };
        let status = send(&self.genuine).await;
        assert_ne!(
            status,
            StatusCode::UNAUTHORIZED,
            "the genuine token with a valid proof was refused by {method} {path}: is it bound \
             to this key, and is {origin} the DPoP origin? The attacks would prove nothing"
        );
        for (attack, token) in self.iter() {
            let status = send(token).await;
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "attack `{attack}` against {method} {path} (DPoP) was answered {status}, not 401"
            );
        }
    }
}

/// Like [`send`], with the scheme of the answer's `WWW-Authenticate` (empty if none).
async fn send_bearer(
    app: &Router,
    method: &Method,
    path: &str,
    token: &str,
) -> (StatusCode, String) {
    let req = Request::builder()
        .method(method.clone())
        .uri(path)
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .expect("a valid request");
    match app.clone().oneshot(req).await {
        Ok(res) => {
            let challenge = res
                .headers()
                .get(http::header::WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            (res.status(), challenge)
        }
        Err(never) => match never {},
    }
}

async fn send(app: &Router, method: &Method, path: &str, token: &str) -> StatusCode {
    send_bearer(app, method, path, token).await.0
}

pub(super) fn split(token: &str) -> (&str, &str, &str) {
    let mut parts = token.splitn(3, '.');
    let h = parts.next().unwrap_or_default();
    let p = parts.next().unwrap_or_default();
    let s = parts.next().unwrap_or_default();
    (h, p, s)
}

pub(super) fn decode_json(part: &str) -> Value {
    URL_SAFE_NO_PAD
        .decode(part)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null)
}

pub(super) fn encode_json(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}

/// The SubjectPublicKeyInfo PEM (`BEGIN PUBLIC KEY`, 64-column lines, as OpenSSL writes
/// it) of a public JWK: RSA, EC P-256/P-384, Ed25519.
pub(crate) fn public_key_pem(jwk: &Jwk) -> Option<String> {
    let b64 = |s: &str| URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok();
    let (algorithm, key) = match &jwk.algorithm {
        AlgorithmParameters::RSA(rsa) => {
            let rsa_key = der(
                0x30,
                &[der_uint(&b64(&rsa.n)?), der_uint(&b64(&rsa.e)?)].concat(),
            );
            // rsaEncryption, NULL parameters
            let oid = [
                0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
            ];
            (oid.to_vec(), rsa_key)
        }
        AlgorithmParameters::EllipticCurve(ec) => {
            // id-ecPublicKey, then the curve
            let mut oid = vec![0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
            match ec.curve {
                EllipticCurve::P256 => {
                    oid.extend([0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07])
                }
                EllipticCurve::P384 => oid.extend([0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22]),
                _ => return None,
            }
            let point = [vec![0x04], b64(&ec.x)?, b64(&ec.y)?].concat();
            (oid, point)
        }
        AlgorithmParameters::OctetKeyPair(okp) if okp.curve == EllipticCurve::Ed25519 => {
            (vec![0x06, 0x03, 0x2b, 0x65, 0x70], b64(&okp.x)?)
        }
        _ => return None,
    };
    let spki = der(
        0x30,
        &[
            der(0x30, &algorithm),
            der(0x03, &[&[0u8][..], &key].concat()),
        ]
        .concat(),
    );
    let body = STANDARD.encode(spki);
    let mut pem = String::from("-----BEGIN PUBLIC KEY-----\n");
    for line in body.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).ok()?);
        pem.push('\n');
    }
    pem.push_str("-----END PUBLIC KEY-----\n");
    Some(pem)
}

/// A DER TLV.
fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

/// A DER INTEGER of an unsigned big-endian number.
fn der_uint(bytes: &[u8]) -> Vec<u8> {
    let trimmed: Vec<u8> = bytes.iter().copied().skip_while(|b| *b == 0).collect();
    let mut content = Vec::with_capacity(trimmed.len() + 1);
    if trimmed.first().is_none_or(|b| b & 0x80 != 0) {
        content.push(0);
    }
    content.extend(trimmed);
    der(0x02, &content)
}

/// The two tamperings of a signed token `header64.payload64.signature64`: its payload
/// replaced by `forged` under the same signature, and its signature with one bit flipped.
pub(crate) fn tampered(
    header64: &str,
    payload64: &str,
    signature64: &str,
    forged: &Value,
) -> Result<[(Attack, String); 2], IssueError> {
    let mut signature = URL_SAFE_NO_PAD
        .decode(signature64)
        .map_err(|_| IssueError::Signing)?;
    if let Some(first) = signature.first_mut() {
        *first ^= 0x01;
    }
    Ok([
        (
            Attack::TamperedPayload,
            format!("{header64}.{}.{signature64}", encode_json(forged)),
        ),
        (
            Attack::TamperedSignature,
            format!(
                "{header64}.{payload64}.{}",
                URL_SAFE_NO_PAD.encode(&signature)
            ),
        ),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    const RSA_PRIVATE: &str = include_str!("../../tests/fixtures/rsa2048_private.pem");
    const RSA_PUBLIC: &str = include_str!("../../tests/fixtures/rsa2048_public.pem");
    const EC_PRIVATE: &str = include_str!("../../tests/fixtures/ec_p256_private.pem");
    const EC_PUBLIC: &str = include_str!("../../tests/fixtures/ec_p256_public.pem");
    const ED_PRIVATE: &str = include_str!("../../tests/fixtures/ed25519_private.pem");
    const ED_PUBLIC: &str = include_str!("../../tests/fixtures/ed25519_public.pem");

    #[test]
    fn public_key_pem_is_what_openssl_wrote() {
        for (alg, private, public) in [
            (Algorithm::RS256, RSA_PRIVATE, RSA_PUBLIC),
            (Algorithm::ES256, EC_PRIVATE, EC_PUBLIC),
            (Algorithm::EdDSA, ED_PRIVATE, ED_PUBLIC),
        ] {
            let key = Key::from_pem(alg, private).unwrap();
            let pem = public_key_pem(key.public_jwk.as_ref().unwrap()).unwrap();
            assert_eq!(pem.trim(), public.trim(), "{alg:?}");
        }
    }

    #[test]
    fn hmac_authority_gets_every_attack_but_confusion_and_wrong_issuer() {
        let auth = crate::testing::test_auth();
        let attacks = AttackTokens::for_auth(&auth, &TokenRequest::new("alice")).unwrap();
        let got: Vec<_> = attacks.attacks().collect();
        assert!(!got.contains(&Attack::AlgorithmConfusion));
        assert!(!got.contains(&Attack::WrongIssuer));
        assert_eq!(got.len(), 10, "{got:?}");
        let with_issuer = crate::testing::test_builder()
            .issuer("https://auth.example.com")
            .build()
            .unwrap();
        let attacks = AttackTokens::for_auth(&with_issuer, &TokenRequest::new("a")).unwrap();
        assert!(attacks.get(Attack::WrongIssuer).is_some());
    }

    #[test]
    fn rsa_authority_gets_the_confusion_token_keyed_with_its_public_pem() {
        let auth = TokenAuth::builder()
            .signing_key(Key::from_pem(Algorithm::RS256, RSA_PRIVATE).unwrap())
            .build()
            .unwrap();
        let attacks = AttackTokens::for_auth(&auth, &TokenRequest::new("alice")).unwrap();
        let token = attacks.get(Attack::AlgorithmConfusion).unwrap();
        let (h, p, s) = split(token);
        assert_eq!(decode_json(h)["alg"], "HS256");
        let expected = jsonwebtoken::crypto::sign(
            format!("{h}.{p}").as_bytes(),
            &EncodingKey::from_secret(RSA_PUBLIC.as_bytes()),
            Algorithm::HS256,
        )
        .unwrap();
        assert_eq!(s, expected, "keyed with the exact public PEM");
        assert!(attacks.get(Attack::ForeignKey).is_none());
        assert!(
            !format!("{attacks:?}").contains(token),
            "Debug shows no token"
        );
    }
}
