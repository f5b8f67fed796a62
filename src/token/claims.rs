//! The token format: registered claims, [`TokenKind`], [`Audience`] and [`TokenClaims`].
//!
//! The wire format is documented in [`manual::wire_format`](crate::manual::wire_format).

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use crate::token::confirmation::Confirmation;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::token::scope::ScopeSet;

/// What a token is for. Carried in the JOSE `typ` header, so one kind can never be
/// accepted where another is expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenKind {
    /// A short-lived token presented to APIs (`typ: at+jwt`, RFC 9068).
    #[default]
    Access,
    /// A token that only the refresh route accepts (`typ: refresh+jwt`).
    Refresh,
    /// A long-lived machine-to-machine token (`typ: service+jwt`).
    Service,
}

impl TokenKind {
    /// The `typ` header value this kind is written with.
    pub const fn typ(self) -> &'static str {
        match self {
            TokenKind::Access => "at+jwt",
            TokenKind::Refresh => "refresh+jwt",
            TokenKind::Service => "service+jwt",
        }
    }

    /// Reads a `typ` header value (case-insensitive, an `application/` prefix allowed).
    /// Anything else, including a missing `typ` or plain `JWT`, is no kind at all.
    pub fn from_typ(typ: &str) -> Option<Self> {
        let t = match typ.get(..12) {
            Some(p) if p.eq_ignore_ascii_case("application/") => &typ[12..],
            _ => typ,
        };
        [TokenKind::Access, TokenKind::Refresh, TokenKind::Service]
            .into_iter()
            .find(|k| k.typ().eq_ignore_ascii_case(t))
    }

    /// The kind's name for logs and errors (`access`, `refresh`, `service`).
    pub const fn as_str(self) -> &'static str {
        match self {
            TokenKind::Access => "access",
            TokenKind::Refresh => "refresh",
            TokenKind::Service => "service",
        }
    }
}

impl fmt::Display for TokenKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who vouches for a verified token ([`TokenClaims::origin`]): decided once, by
/// verification, from the key that verified the signature.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum TokenOrigin {
    /// Signed by this service's own keyring.
    #[default]
    Own,
    /// Signed by a trusted external issuer (an identity provider); its exact `iss`.
    Issuer(Arc<str>),
    /// A legacy format accepted during its migration window.
    Legacy,
}

impl TokenOrigin {
    /// Whether the token is one of this service's own.
    pub fn is_own(&self) -> bool {
        matches!(self, TokenOrigin::Own)
    }

    /// The external issuer's `iss`, for a token of a trusted issuer.
    pub fn issuer(&self) -> Option<&str> {
        match self {
            TokenOrigin::Issuer(iss) => Some(iss),
            _ => None,
        }
    }
}

/// The `aud` claim: one string or an array of strings (RFC 7519 §4.1.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    /// A single audience.
    One(String),
    /// Several audiences.
    Many(Vec<String>),
}

impl Audience {
    /// Whether `aud` is one of the audiences (exact match).
    pub fn contains(&self, aud: &str) -> bool {
        match self {
            Audience::One(a) => a == aud,
            Audience::Many(v) => v.iter().any(|a| a == aud),
        }
    }
}

/// The custom-claims type used when an application has none of its own.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoCustomClaims {}

/// The verified claims of a token: the registered claims, scopes, tenant and metadata,
/// plus the application's own claims `T` (flattened into the same JSON object).
///
/// `T`'s field names must not collide with the names used here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TokenClaims<T = NoCustomClaims> {
    /// Subject: the user or principal the token speaks for.
    pub sub: String,
    /// Issuer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// Audience.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<Audience>,
    /// Expiry, seconds since the Unix epoch.
    pub exp: u64,
    /// Not before, seconds since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    /// Issued at, seconds since the Unix epoch.
    pub iat: u64,
    /// Unique token id (128 random bits, base64url).
    pub jti: String,
    /// Granted scopes (written as a space-separated `scope` string; read from `scope`,
    /// `scopes` or `scp`, as a string or an array).
    #[serde(
        default,
        alias = "scopes",
        alias = "scp",
        skip_serializing_if = "ScopeSet::is_empty"
    )]
    pub scope: ScopeSet,
    /// Tenant (the seeds' "community").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// Free-form metadata.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub metadata: Map<String, Value>,
    /// Refresh family id: every refresh token of one login shares it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fam: Option<String>,
    /// Digest (SHA-256, base64url) of the CSRF value bound to this token at login; cookie
    /// requests with unsafe methods must send the value itself in `X-CSRF-Token`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub csrf: Option<String>,
    /// The subject's generation when the token was issued (claim `gen`): a token with an
    /// older generation than the subject's current one is revoked (see
    /// [`SubjectRevocation::revoke_all_for`](crate::store::SubjectRevocation::revoke_all_for)).
    #[serde(default, rename = "gen", skip_serializing_if = "Option::is_none")]
    pub generation: Option<u64>,
    /// Confirmation (RFC 7800 `cnf`): the DPoP key (`jkt`, RFC 9449) or client
    /// certificate (`x5t#S256`, RFC 8705) the token is bound to. The layer accepts a
    /// bound token only from a request that proves that key.
    /// (Boxed: most tokens have none, and verified claims are cached by the thousand.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Box<Confirmation>>,
    /// Authentication context class reference (OpenID Connect `acr`): how strongly the
    /// user authenticated (`"mfa"`, `"phr"`, a URI). For a provider that reports several
    /// (Entra ID's `acrs`), their space-separated list. Read by the step-up guards
    /// ([`StepUpLayer`](crate::http::StepUpLayer), [`RequireStepUp`](crate::http::RequireStepUp)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    /// Authentication methods references (RFC 8176 `amr`): `["pwd", "otp"]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amr: Option<Vec<String>>,
    /// When the user last actively authenticated (OpenID Connect `auth_time`, seconds
    /// since the epoch): a refresh keeps it, so it ages while `iat` does not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<u64>,
    /// The kind of the token, from its `typ` header (not a claim).
    #[serde(skip)]
    pub kind: TokenKind,
    /// Who vouches for the token: this service, a trusted identity provider, or a
    /// legacy format during its migration window. Set by verification (not a claim).
    ///
    /// A `sub` is unique only within its origin: an identity provider's `alice` is not
    /// this service's `alice`. Key anything per user by origin *and* subject, or guard
    /// the route with [`own_tokens_only`](crate::TokenAuthLayer::own_tokens_only).
    #[serde(skip)]
    pub origin: TokenOrigin,
    /// The application's own claims.
    #[serde(flatten)]
    pub custom: T,
}

impl<T> TokenClaims<T> {
    /// Whether the token has expired at `now` (seconds since the epoch, from
    /// [`TokenAuth::now`](crate::TokenAuth::now) so a test clock is obeyed), without
    /// leeway.
    pub fn is_expired_at(&self, now: u64) -> bool {
        self.exp <= now
    }

    /// Whether the scopes grant `scope` (see [`ScopeSet::has`]).
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scope.has(scope)
    }

    /// Seconds until expiry at `now` (0 when expired).
    pub fn remaining_secs_at(&self, now: u64) -> u64 {
        self.exp.saturating_sub(now)
    }

    /// The claims as a JSON object *with* their kind (`"kind": "access"`), e.g. to
    /// hand them to another process or store them. [`from_value`](Self::from_value) reads it back.
    pub fn to_value(&self) -> Value
    where
        T: Serialize,
    {
        let mut v = serde_json::to_value(self).unwrap_or(Value::Null);
        if let Value::Object(m) = &mut v {
            m.insert("kind".into(), Value::String(self.kind.as_str().to_owned()));
        }
        v
    }

    /// Claims from a JSON object written by [`to_value`](Self::to_value) (its `kind`
    /// read back; absent means access). Nothing is verified: these are not a token.
    pub fn from_value(mut value: Value) -> Result<Self, serde_json::Error>
    where
        T: serde::de::DeserializeOwned,
    {
        let kind = match value.as_object_mut().and_then(|m| m.remove("kind")) {
            Some(k) => serde_json::from_value(k)?,
            None => TokenKind::Access,
        };
        let mut claims: Self = serde_json::from_value(value)?;
        claims.kind = kind;
        Ok(claims)
    }
}

/// The claims that every token carries, readable without knowing `T`. Implemented by
/// [`TokenClaims<T>`]; the layer stores verified claims behind it so scope guards work
/// whatever the application's claims type.
pub trait ClaimsView: Any + Send + Sync {
    /// Subject.
    fn subject(&self) -> &str;
    /// Granted scopes.
    fn scopes(&self) -> &ScopeSet;
    /// Token id.
    fn jti(&self) -> &str;
    /// Kind of token.
    fn kind(&self) -> TokenKind;
    /// Expiry (seconds since the epoch).
    fn expires_at(&self) -> u64;
    /// Tenant, when present.
    fn tenant(&self) -> Option<&str>;
    /// Refresh family (session) id, when the token belongs to one.
    fn family(&self) -> Option<&str>;
    /// The CSRF digest bound to the token, when any.
    fn csrf_digest(&self) -> Option<&str>;
    /// The subject generation the token carries, when any.
    fn generation(&self) -> Option<u64>;
    /// Issued at (seconds since the epoch).
    fn issued_at(&self) -> u64;
    /// Who vouches for the token ([`TokenClaims::origin`]).
    fn origin(&self) -> &TokenOrigin;
    /// The confirmation (`cnf`) of a sender-constrained token.
    fn confirmation(&self) -> Option<&Confirmation>;
    /// The authentication context class (`acr`; several space-separated when the
    /// issuer reports several), when present. The default: none.
    fn acr(&self) -> Option<&str> {
        None
    }
    /// The authentication methods (`amr`). The default: none.
    fn amr(&self) -> &[String] {
        &[]
    }
    /// When the user last authenticated (`auth_time`), when present. The default: none.
    fn auth_time(&self) -> Option<u64> {
        None
    }
}

/// The reserved claim linking one of our tokens to the identity provider's session the
/// application's login went through
/// ([`TokenRequest::provider_session`](crate::token::TokenRequest::provider_session)):
/// `"idp_session": {"iss": "<the provider's issuer>", "sid": "<its session id>"}`. A
/// revocation of that session
/// ([`Revocation::external_session`](crate::trust::Revocation::external_session), an
/// OpenID Connect back-channel logout) refuses the token; a session's refreshes carry
/// it on. Only our own tokens' claim is read: a trusted issuer's or a legacy token's is
/// dropped.
pub const PROVIDER_SESSION_CLAIM: &str = "idp_session";

/// The value of [`PROVIDER_SESSION_CLAIM`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ProviderSession {
    pub(crate) iss: String,
    pub(crate) sid: String,
}

impl<T: Send + Sync + 'static> ClaimsView for TokenClaims<T> {
    fn confirmation(&self) -> Option<&Confirmation> {
        self.cnf.as_deref()
    }
    fn subject(&self) -> &str {
        &self.sub
    }
    fn scopes(&self) -> &ScopeSet {
        &self.scope
    }
    fn jti(&self) -> &str {
        &self.jti
    }
    fn kind(&self) -> TokenKind {
        self.kind
    }
    fn expires_at(&self) -> u64 {
        self.exp
    }
    fn tenant(&self) -> Option<&str> {
        self.tenant.as_deref()
    }
    fn family(&self) -> Option<&str> {
        self.fam.as_deref()
    }
    fn csrf_digest(&self) -> Option<&str> {
        self.csrf.as_deref()
    }
    fn generation(&self) -> Option<u64> {
        self.generation
    }
    fn issued_at(&self) -> u64 {
        self.iat
    }
    fn origin(&self) -> &TokenOrigin {
        &self.origin
    }
    fn acr(&self) -> Option<&str> {
        self.acr.as_deref()
    }
    fn amr(&self) -> &[String] {
        self.amr.as_deref().unwrap_or_default()
    }
    fn auth_time(&self) -> Option<u64> {
        self.auth_time
    }
}

/// Claim names this crate owns; custom claims may not use them. Listed for users in the
/// rustdoc of `TokenRequest::claims` (`token/issue.rs`); a test keeps the two equal.
pub(crate) const RESERVED_CLAIMS: &[&str] = &[
    "sub",
    "iss",
    "aud",
    "exp",
    "nbf",
    "iat",
    "jti",
    "scope",
    "scopes",
    "scp",
    "tenant",
    "metadata",
    "fam",
    "csrf",
    "gen",
    "cnf",
    "acr",
    "amr",
    "auth_time",
    PROVIDER_SESSION_CLAIM,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reserved_names_in_the_docs_of_token_request_claims_are_reserved_claims() {
        // The paragraph "Reserved names: `a`, `b`, … ." of `TokenRequest::claims`.
        let source = include_str!("issue.rs");
        let docs: String = source
            .lines()
            .map(str::trim_start)
            .filter_map(|l| l.strip_prefix("///"))
            .collect::<Vec<_>>()
            .join(" ");
        let start = docs
            .find("Reserved names:")
            .expect("TokenRequest::claims lists the reserved names");
        let paragraph = &docs[start..];
        let paragraph = &paragraph[..paragraph.find(").").expect("the list ends with `).`")];
        let listed: Vec<&str> = paragraph.split('`').skip(1).step_by(2).collect();
        let documented: Vec<&str> = listed
            .into_iter()
            .filter(|n| !n.starts_with("PROVIDER_SESSION_CLAIM"))
            .collect();
        assert_eq!(
            documented, RESERVED_CLAIMS,
            "keep the docs and the const in step"
        );
    }

    #[test]
    fn typ_round_trips_and_is_case_insensitive() {
        for k in [TokenKind::Access, TokenKind::Refresh, TokenKind::Service] {
            assert_eq!(TokenKind::from_typ(k.typ()), Some(k));
        }
        assert_eq!(TokenKind::from_typ("AT+JWT"), Some(TokenKind::Access));
        assert_eq!(
            TokenKind::from_typ("application/at+jwt"),
            Some(TokenKind::Access)
        );
        assert_eq!(TokenKind::from_typ("JWT"), None);
        assert_eq!(TokenKind::from_typ(""), None);
    }

    #[test]
    fn claims_read_scope_from_string_or_arrays() {
        let base = r#""sub":"a","exp":10,"iat":1,"jti":"j""#;
        for scopes in [
            r#""scope":"x y""#,
            r#""scopes":["x","y"]"#,
            r#""scp":["x","y"]"#,
        ] {
            let c: TokenClaims = serde_json::from_str(&format!("{{{base},{scopes}}}")).unwrap();
            assert!(c.has_scope("x") && c.has_scope("y"), "{scopes}");
        }
    }

    #[test]
    fn custom_claims_are_flattened() {
        #[derive(Debug, Deserialize, Serialize, PartialEq)]
        struct Mine {
            org: String,
        }
        let c: TokenClaims<Mine> = serde_json::from_str(
            r#"{"sub":"a","exp":10,"iat":1,"jti":"j","org":"acme","aud":["x","y"]}"#,
        )
        .unwrap();
        assert_eq!(c.custom.org, "acme");
        assert!(c.aud.as_ref().unwrap().contains("y"));
        assert!(!c.aud.as_ref().unwrap().contains("z"));
        let back = serde_json::to_value(&c).unwrap();
        assert_eq!(back["org"], "acme");
        assert!(back.get("scope").is_none());
    }

    #[test]
    fn claims_round_trip_with_their_kind() {
        let mut c: TokenClaims = serde_json::from_str(
            r#"{"sub":"a","exp":10,"iat":1,"jti":"j","scope":"x","tenant":"t"}"#,
        )
        .unwrap();
        c.kind = TokenKind::Service;
        let v = c.to_value();
        assert_eq!(v["kind"], "service");
        let back: TokenClaims = TokenClaims::from_value(v).unwrap();
        assert_eq!(back, c);
        assert_eq!(back.kind, TokenKind::Service);
    }

    #[test]
    fn expiry_helpers() {
        let c: TokenClaims =
            serde_json::from_str(r#"{"sub":"a","exp":10,"iat":1,"jti":"j"}"#).unwrap();
        assert!(c.is_expired_at(10));
        assert!(!c.is_expired_at(9));
        assert_eq!(c.remaining_secs_at(4), 6);
        assert!(c.is_expired_at(crate::token::clock::unix_now()));
    }
}
