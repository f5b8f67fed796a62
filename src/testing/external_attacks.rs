//! [`AttackTokens::for_issuer`]: the attack set against an external issuer, derived from
//! a [`FakeIdp`](crate::testing::FakeIdp) token and the rules of the [`Issuer`] that
//! trusts it.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::testing::attacks::{
    Attack, AttackTokens, decode_json, encode_json, public_key_pem, split, tampered,
};
use crate::testing::idp::ProviderToken;
use crate::token::issue::IssueError;
use crate::trust::Issuer;
use crate::trust::external::check_claim_rules;

impl AttackTokens {
    /// The attacks that `issuer`'s rules refuse, derived from `token`, a genuine token
    /// of a [`FakeIdp`](crate::testing::FakeIdp) that `issuer` trusts (usually
    /// [`FakeIdp::issuer`](crate::testing::FakeIdp::issuer)). Each is signed with the
    /// fake's real key where the attack needs it, so only the broken check can refuse
    /// it. The set follows the issuer's rules:
    ///
    /// * [`UntypedJwt`](Attack::UntypedJwt) only with
    ///   [`require_at_jwt`](Issuer::require_at_jwt): an issuer accepts `typ: JWT` (what
    ///   Keycloak, Auth0, Entra ID and Google send) unless told otherwise;
    /// * [`ForeignKey`](Attack::ForeignKey): another RSA key signing under the real
    ///   `kid`;
    /// * [`IdToken`](Attack::IdToken): the provider's ID token for the same user, only
    ///   when the issuer refuses it (its audience is the client, which the issuer does
    ///   not accept, or a required claim such as Keycloak's `typ: Bearer` or Cognito's
    ///   `token_use: access` differs). A Google preset whose audience is the client
    ///   accepts Google's ID tokens: there it is no attack;
    /// * a missing `jti` is no attack: providers omit it (Auth0, Entra ID, Google) and
    ///   an issuer never requires it;
    /// * [`WrongAudience`](Attack::WrongAudience) changes the issuer's
    ///   [audience claim](Issuer::audience_claim) (Cognito: `client_id`).
    ///
    /// [`UnknownKid`](Attack::UnknownKid) makes the layer fetch the key set once (an
    /// unknown `kid` may be a rotation): expect one more
    /// [`jwks_fetches`](crate::testing::FakeIdp::jwks_fetches).
    ///
    /// ```
    /// # #[cfg(feature = "oidc")]
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use axum::{Router, routing::get};
    /// use axum_token_auth::Claims;
    /// use axum_token_auth::testing::{Attack, AttackTokens, FakeIdp, Provider, test_builder};
    ///
    /// let idp = FakeIdp::start(Provider::Auth0).await;
    /// let auth = test_builder().trust(idp.issuer()).build().unwrap();
    /// assert!(auth.await_ready(std::time::Duration::from_secs(5)).await);
    /// let app = Router::new()
    ///     .route("/me", get(|c: Claims| async move { c.sub.clone() }))
    ///     .layer(auth.layer());
    /// let attacks = AttackTokens::for_issuer(&idp.issuer(), &idp.access_token("alice")).unwrap();
    /// // Auth0 sends `typ: JWT`, which the preset accepts: no attack there.
    /// assert!(attacks.get(Attack::UntypedJwt).is_none());
    /// assert!(attacks.get(Attack::IdToken).is_some());
    /// attacks.assert_refused_by(&app, http::Method::GET, "/me").await;
    /// # }
    /// # #[cfg(not(feature = "oidc"))] fn main() {}
    /// ```
    pub fn for_issuer(issuer: &Issuer, token: &ProviderToken<'_>) -> Result<Self, IssueError> {
        let idp = token.idp();
        let header = token.header();
        let payload = token.claims();
        let genuine = idp.sign(&header, &payload);
        let id = token.id_token_twin();
        let (id_header, id_claims) = (id.header(), id.claims());
        // What the forgeries need of the key ring, taken at once (signing locks it too).
        let (encoding, foreign, public_pem) = {
            let ring = idp.key_ring();
            let key = ring.signing();
            let encoding = key.encoding.clone().ok_or(IssueError::Signing)?;
            let pem = key.public_jwk.as_ref().and_then(public_key_pem);
            (encoding, ring.foreign(), pem)
        };
        let encoding = &encoding;
        let sign = |h: &Header, p: &Value, with: &EncodingKey| {
            jsonwebtoken::encode(h, p, with).map_err(|_| IssueError::Signing)
        };
        let with = |changes: Value| {
            let mut p = payload.clone();
            if let (Some(p), Value::Object(changes)) = (p.as_object_mut(), changes) {
                p.extend(changes);
            }
            p
        };
        let typed = |typ: &str| {
            let mut h = header.clone();
            h.typ = Some(typ.to_owned());
            h
        };
        let (header64, payload64, signature64) = split(&genuine);
        let now = payload["iat"].as_u64().unwrap_or_default();
        let ttl = payload["exp"].as_u64().unwrap_or(now).saturating_sub(now);

        let mut tokens = Vec::new();
        let mut none = decode_json(header64);
        none["alg"] = json!("none");
        tokens.push((
            Attack::AlgNone,
            format!("{}.{payload64}.", encode_json(&none)),
        ));
        tokens.push((
            Attack::Expired,
            sign(
                &header,
                &with(
                    json!({"iat": now.saturating_sub(ttl + 3600), "exp": now.saturating_sub(3600)}),
                ),
                encoding,
            )?,
        ));
        tokens.push((
            Attack::NotYetValid,
            sign(&header, &with(json!({"nbf": now + 3600})), encoding)?,
        ));
        let mut unknown = header.clone();
        unknown.kid = Some("attack-tokens-unknown-kid".to_owned());
        tokens.push((Attack::UnknownKid, sign(&unknown, &payload, encoding)?));
        let mut misdirected = payload.clone();
        misdirected[issuer.audience_claim.as_str()] = json!("attack-tokens.invalid");
        tokens.push((
            Attack::WrongAudience,
            sign(&header, &misdirected, encoding)?,
        ));
        tokens.push((
            Attack::WrongIssuer,
            sign(
                &header,
                &with(json!({"iss": "https://attack-tokens.invalid"})),
                encoding,
            )?,
        ));
        tokens.push((
            Attack::RefreshType,
            sign(&typed("refresh+jwt"), &payload, encoding)?,
        ));
        if issuer.require_at_jwt {
            tokens.push((Attack::UntypedJwt, sign(&typed("JWT"), &payload, encoding)?));
        }
        let forged = with(json!({"sub": "attacker", "scope": "*"}));
        tokens.extend(tampered(header64, payload64, signature64, &forged)?);
        tokens.push((Attack::ForeignKey, sign(&header, &payload, &foreign)?));
        if !issuer_accepts(issuer, &id_claims) {
            tokens.push((Attack::IdToken, sign(&id_header, &id_claims, encoding)?));
        }
        if let Some(pem) = public_pem {
            let mut h = decode_json(header64);
            h["alg"] = json!("HS256");
            let input = format!("{}.{payload64}", encode_json(&h));
            let secret = EncodingKey::from_secret(pem.as_bytes());
            if let Ok(sig) = jsonwebtoken::crypto::sign(input.as_bytes(), &secret, Algorithm::HS256)
            {
                tokens.push((Attack::AlgorithmConfusion, format!("{input}.{sig}")));
            }
        }
        Ok(AttackTokens { genuine, tokens })
    }
}

/// Whether `claims` pass the issuer's claim rules (required claims, audience): the
/// verification pipeline's own check (E6), not a copy of it.
fn issuer_accepts(issuer: &Issuer, claims: &Value) -> bool {
    claims.as_object().is_some_and(|claims| {
        check_claim_rules(
            &issuer.required_claims,
            &issuer.audience_claim,
            &issuer.audiences,
            claims,
        )
        .is_ok()
    })
}
