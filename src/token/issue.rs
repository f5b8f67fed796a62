//! Minting tokens: [`TokenRequest`], [`IssuedToken`], [`TokenPair`].
//!
//! (Documented with examples in the [`token`](crate::token) module docs.)

use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::token::claims::{
    Audience, PROVIDER_SESSION_CLAIM, ProviderSession, TokenClaims, TokenKind,
};
use crate::token::confirmation::Confirmation;
use crate::token::scope::{ScopeError, ScopeSet};
use crate::token::step_up::AcrError;

/// Longest subject or tenant accepted, in bytes.
pub const MAX_ID_LEN: usize = 255;

/// Why a token was not issued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IssueError {
    /// This authority verifies only (it trusts external issuers and has no signing key).
    #[error("no signing key: this authority only verifies tokens")]
    NoSigningKey,
    /// The subject or tenant is empty.
    #[error("the {0} is empty")]
    Empty(&'static str),
    /// The subject or tenant is longer than [`MAX_ID_LEN`].
    #[error("the {0} is longer than 255 bytes")]
    TooLong(&'static str),
    /// The subject or tenant contains a NUL byte or another control character.
    #[error("the {0} contains control characters")]
    ControlCharacters(&'static str),
    /// A scope is outside the grammar.
    #[error("invalid scope: {0}")]
    InvalidScope(#[from] ScopeError),
    /// An `acr` or `amr` value is outside the grammar (see
    /// [`TokenRequest::acr`]).
    #[error("invalid authentication context: {0}")]
    InvalidAcr(#[from] AcrError),
    /// The `auth_time` is later than the token's issue time (beyond the leeway).
    #[error("the authentication time is in the future")]
    AuthTimeInFuture,
    /// A lifetime is outside the range allowed for the kind.
    #[error("the {kind} token lifetime must be between {min:?} and {max:?}")]
    LifetimeOutOfRange {
        /// The token kind.
        kind: TokenKind,
        /// Smallest allowed.
        min: Duration,
        /// Largest allowed.
        max: Duration,
    },
    /// Custom claims use a name this crate owns (the list is at
    /// [`TokenRequest::claims`]), or a metadata key is empty or too long.
    #[error("the claim name {0:?} is reserved")]
    ReservedClaim(String),
    /// Custom claims did not serialize to a JSON object.
    #[error("custom claims must serialize to a JSON object")]
    CustomClaimsNotObject,
    /// A scope is not granted to this tenant and principal.
    #[error("the scope {0:?} is not granted")]
    ScopeNotGranted(String),
    /// The grant store could not be reached.
    #[error("the grant store is unavailable")]
    StoreUnavailable,
    /// Signing failed (a bug or a broken key).
    #[error("signing failed")]
    Signing,
    /// The random source failed.
    #[error("the random source failed")]
    Random,
    /// The signed token is longer than the configured
    /// [`max_token_bytes`](crate::TokenAuthBuilder::max_token_bytes): the layer would
    /// refuse it, so it is not handed out (fewer scopes, metadata or custom claims).
    #[error("the signed token is {len} bytes, over the {max}-byte limit")]
    TokenTooLarge {
        /// The signed token's length.
        len: usize,
        /// The configured limit.
        max: usize,
    },
}

/// What to put in a token: subject, scopes, tenant, metadata, custom claims, lifetime.
/// Checked when issued.
///
/// ```
/// use axum_token_auth::trust::TokenCheck;
/// use std::time::Duration;
/// use axum_token_auth::{NoCustomClaims, TokenAuth, TokenRequest};
/// use serde::Serialize;
///
/// #[derive(Serialize)]
/// struct Org {
///     org: &'static str,
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let auth = TokenAuth::builder()
///     .hs256_secret("a-random-secret-of-at-least-32-bytes!!")
///     .build()?;
/// let request = TokenRequest::new("alice")
///     .scopes(["orders:read", "orders:write"])
///     .tenant("acme")
///     .metadata("plan", "pro")
///     .claims(&Org { org: "acme-eu" })
///     .ttl(Duration::from_secs(300));
/// let token = auth.issue_access(&request)?;
/// let claims = auth.validate::<serde_json::Value>(token.as_str(), TokenCheck::ACCESS).await?;
/// assert_eq!(claims.tenant.as_deref(), Some("acme"));
/// assert!(claims.has_scope("orders:write"));
/// assert_eq!(claims.custom["org"], "acme-eu");
///
/// // Custom claims cannot take a reserved name: refused when issued.
/// #[derive(Serialize)]
/// struct Sneaky {
///     sub: &'static str,
/// }
/// let bad = TokenRequest::new("alice").claims(&Sneaky { sub: "root" });
/// assert!(auth.issue_access(&bad).is_err());
/// # let _ = auth.validate::<NoCustomClaims>(token.as_str(), TokenCheck::ACCESS).await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Default)]
#[must_use]
pub struct TokenRequest {
    pub(crate) subject: String,
    pub(crate) scopes: Vec<String>,
    pub(crate) tenant: Option<String>,
    pub(crate) metadata: Map<String, Value>,
    pub(crate) custom: Option<Result<Value, String>>,
    pub(crate) ttl: Option<Duration>,
    pub(crate) family: Option<String>,
    pub(crate) csrf: Option<String>,
    pub(crate) generation: Option<u64>,
    pub(crate) cnf: Option<Confirmation>,
    pub(crate) acr: Option<String>,
    pub(crate) amr: Vec<String>,
    pub(crate) auth_time: Option<u64>,
    pub(crate) provider_session: Option<ProviderSession>,
}

impl fmt::Debug for TokenRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenRequest")
            .field("scopes", &self.scopes)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl TokenRequest {
    /// A request for a token speaking for `subject` (a user id, a module name …).
    pub fn new(subject: impl Into<String>) -> Self {
        TokenRequest {
            subject: subject.into(),
            ..Default::default()
        }
    }

    /// A request for a token with the subject, tenant, scopes, metadata and custom claims
    /// of verified `claims` (a new access token "from" a refresh token, say), and their
    /// authentication (`acr`, `amr`, `auth_time`: the same authentication event, never a
    /// newer one). Lifetimes, family and generation are not copied. The link to a provider
    /// session ([`provider_session`](Self::provider_session)) is copied when the claims
    /// type keeps it (`TokenClaims<serde_json::Map<String, Value>>`); ⚠️ with a typed
    /// claims type it is not: set it again, or the new token outlives a back-channel
    /// logout of that session.
    pub fn from_claims<T: Serialize>(claims: &TokenClaims<T>) -> Self {
        let mut r = TokenRequest::new(claims.sub.clone())
            .scopes(claims.scope.iter().map(|s| s.as_str().to_owned()));
        r.tenant = claims.tenant.clone();
        r.metadata = claims.metadata.clone();
        r.acr = claims.acr.clone();
        r.amr = claims.amr.clone().unwrap_or_default();
        r.auth_time = claims.auth_time;
        let mut custom = serde_json::to_value(&claims.custom).map_err(|e| e.to_string());
        // The provider session link, when the claims type keeps it (a raw map): the same
        // login, so the same provider session.
        if let Ok(Value::Object(m)) = &mut custom
            && let Some(link) = m.remove(PROVIDER_SESSION_CLAIM)
        {
            r.provider_session = serde_json::from_value(link).ok();
        }
        if !matches!(&custom, Ok(Value::Object(m)) if m.is_empty()) {
            r.custom = Some(custom);
        }
        r
    }

    /// Adds scopes.
    pub fn scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes.extend(scopes.into_iter().map(Into::into));
        self
    }

    /// Adds one scope.
    ///
    /// ```
    /// use std::time::Duration;
    /// use axum_token_auth::TokenRequest;
    ///
    /// let r = TokenRequest::new("alice").scope("orders:read").scope("orders:write");
    /// # let _ = r;
    /// ```
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scopes.push(scope.into());
        self
    }

    /// Sets the tenant (the seeds' "community").
    ///
    /// ```
    /// use std::time::Duration;
    /// use axum_token_auth::TokenRequest;
    ///
    /// let r = TokenRequest::new("alice").tenant("acme");
    /// # let _ = r;
    /// ```
    pub fn tenant(mut self, tenant: impl Into<String>) -> Self {
        self.tenant = Some(tenant.into());
        self
    }

    /// Adds a metadata entry (carried in the `metadata` claim).
    ///
    /// ```
    /// use std::time::Duration;
    /// use axum_token_auth::TokenRequest;
    ///
    /// let r = TokenRequest::new("alice").metadata("plan", "pro").metadata("seats", 25);
    /// # let _ = r;
    /// ```
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// Sets the application's own claims, flattened into the payload (read back with
    /// `Claims<T>`). Must serialize to an object whose names are not reserved: a token
    /// with a reserved name is not issued ([`IssueError::ReservedClaim`]), and hooks'
    /// [`SuccessorClaims::custom`](crate::session::SuccessorClaims::custom) are held to the
    /// same list.
    ///
    /// Reserved names: `sub`, `iss`, `aud`, `exp`, `nbf`, `iat`, `jti`, `scope`, `scopes`,
    /// `scp`, `tenant`, `metadata`, `fam`, `csrf`, `gen`, `cnf`, `acr`, `amr`, `auth_time`,
    /// `idp_session` ([`PROVIDER_SESSION_CLAIM`](crate::token::PROVIDER_SESSION_CLAIM)).
    ///
    /// Set the registered claims through this request's own methods instead
    /// ([`scopes`](Self::scopes), [`tenant`](Self::tenant), [`metadata`](Self::metadata) …);
    /// [`metadata`](Self::metadata) keys live inside the `metadata` object and may use any
    /// of these names.
    pub fn claims<T: Serialize>(mut self, claims: &T) -> Self {
        self.custom = Some(serde_json::to_value(claims).map_err(|e| e.to_string()));
        self
    }

    /// Overrides the lifetime configured for the kind (within the kind's range).
    ///
    /// ```
    /// use std::time::Duration;
    /// use axum_token_auth::TokenRequest;
    ///
    /// // Shorter than the configured lifetime, within the allowed range.
    /// let r = TokenRequest::new("alice").ttl(Duration::from_secs(120));
    /// # let _ = r;
    /// ```
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// Writes the subject's current generation into the token (claim `gen`), so
    /// [`Revocation::subject`](crate::trust::Revocation::subject) also revokes it. Read it with
    /// `auth.revocation_store().subject_cutoff(subject)`; [`Sessions`](crate::Sessions) does
    /// this for you.
    ///
    /// ```
    /// use axum_token_auth::trust::Revocation;
    /// use std::time::Duration;
    /// use axum_token_auth::TokenRequest;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let auth = axum_token_auth::TokenAuth::builder().hs256_secret("a-random-secret-of-at-least-32-bytes!!").build()?;
    /// let generation = auth.revocation_store().subject_cutoff("alice").await?.generation;
    /// let token = auth.issue_access(&TokenRequest::new("alice").user_generation(generation))?;
    /// auth.revoke(Revocation::subject("alice")).await?; // refuses it, by generation
    /// # let _ = token; Ok(()) }
    /// ```
    pub fn user_generation(mut self, generation: u64) -> Self {
        self.generation = Some(generation);
        self
    }

    /// Binds the token to a key (RFC 7800 `cnf`): a DPoP key
    /// ([`Confirmation::dpop`], e.g. from the login request's
    /// [`DpopProof`](crate::http::DpopProof)) or a client certificate
    /// ([`Confirmation::certificate_der`], RFC 8705 — e.g. a service token for a
    /// workload with its own certificate). The layer then accepts the token only from a
    /// request proving that key; an access token bound to a DPoP key answers
    /// `token_type: "DPoP"`.
    ///
    /// ```
    /// use axum_token_auth::{TokenAuth, TokenRequest, token::Confirmation};
    ///
    /// let auth = TokenAuth::builder()
    ///     .hs256_secret("a-random-secret-of-at-least-32-bytes!!")
    ///     .build()?;
    /// # let der: &[u8] = b"the workload's DER certificate";
    /// let token = auth.issue_service(
    ///     &TokenRequest::new("billing-worker").confirmation(Confirmation::certificate_der(der)),
    /// )?;
    /// assert_eq!(token.token_type(), "Bearer"); // certificate-bound: still `Bearer` (RFC 8705)
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn confirmation(mut self, cnf: Confirmation) -> Self {
        self.cnf = Some(cnf);
        self
    }

    /// Sets the authentication context class (OpenID Connect `acr`): how strongly the
    /// user authenticated, as the application names it (`"pwd"`, `"mfa"`, a URI). One
    /// value in the grammar of RFC 6749 scope tokens (printable ASCII but space, `"`
    /// and `\`; at most [`MAX_ACR_LEN`](crate::token::MAX_ACR_LEN) bytes), checked when
    /// issued ([`IssueError::InvalidAcr`]). The step-up guards read it.
    ///
    /// ```
    /// use axum_token_auth::TokenRequest;
    ///
    /// let r = TokenRequest::new("alice").acr("mfa").amr(["pwd", "otp"]);
    /// # let _ = r;
    /// ```
    pub fn acr(mut self, acr: impl Into<String>) -> Self {
        self.acr = Some(acr.into());
        self
    }

    /// Adds authentication methods (RFC 8176 `amr`: `"pwd"`, `"otp"`, `"hwk"` …), in
    /// the grammar of [`acr`](Self::acr); duplicates are written once.
    pub fn amr<I, S>(mut self, methods: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        for m in methods {
            let m = m.into();
            if !self.amr.contains(&m) {
                self.amr.push(m);
            }
        }
        self
    }

    /// Sets when the user last actively authenticated (OpenID Connect `auth_time`,
    /// seconds since the epoch; not after the token's issue time: later by at most the
    /// leeway, it is written as the issue time, else refused).
    /// [`Sessions::login`](crate::Sessions::login) sets it to the login's time when the
    /// request has none.
    ///
    /// ```
    /// use axum_token_auth::TokenRequest;
    ///
    /// # let authenticated_at = 1_700_000_000;
    /// let r = TokenRequest::new("alice").auth_time(authenticated_at);
    /// # let _ = r;
    /// ```
    pub fn auth_time(mut self, auth_time: u64) -> Self {
        self.auth_time = Some(auth_time);
        self
    }

    /// Links the token to the identity provider's session the application's login went
    /// through: the provider's issuer (its exact `iss`) and the `sid` of its ID token.
    /// The token carries them in the reserved claim
    /// [`PROVIDER_SESSION_CLAIM`](crate::token::PROVIDER_SESSION_CLAIM), so a revocation
    /// of that provider session
    /// ([`Revocation::external_session`](crate::trust::Revocation::external_session),
    /// what an OpenID Connect back-channel logout does) refuses it too. Given to
    /// [`Sessions::login`](crate::Sessions::login), it ends the session: its access
    /// tokens are refused and its refresh token no longer rotates (every successor
    /// carries the link). Both must be ids (not empty, at most 255 bytes, no control
    /// characters), else issuing fails.
    ///
    /// ```
    /// use axum_token_auth::TokenRequest;
    ///
    /// // After the provider's ID token for alice was verified (its `iss` and `sid`):
    /// let r = TokenRequest::new("alice").provider_session("https://idp.example", "08a5019c-17e1");
    /// # let _ = r;
    /// ```
    pub fn provider_session(mut self, issuer: impl Into<String>, sid: impl Into<String>) -> Self {
        self.provider_session = Some(ProviderSession {
            iss: issuer.into(),
            sid: sid.into(),
        });
        self
    }

    /// The subject.
    pub fn subject(&self) -> &str {
        &self.subject
    }
}

/// A signed token with what the issuer needs to know about it.
#[derive(Clone, PartialEq, Eq)]
pub struct IssuedToken {
    token: String,
    /// Its kind.
    pub kind: TokenKind,
    /// Its `jti`.
    pub jti: String,
    /// Issued at (seconds since the epoch).
    pub issued_at: u64,
    /// Expires at (seconds since the epoch).
    pub expires_at: u64,
    /// Bound to a DPoP key (`cnf.jkt`).
    dpop_bound: bool,
}

impl IssuedToken {
    pub(crate) fn new(
        token: String,
        kind: TokenKind,
        jti: String,
        issued_at: u64,
        expires_at: u64,
    ) -> Self {
        IssuedToken {
            token,
            kind,
            jti,
            issued_at,
            expires_at,
            dpop_bound: false,
        }
    }

    /// The same token, marked as bound (or not) to a DPoP key.
    pub(crate) fn dpop_bound(mut self, bound: bool) -> Self {
        self.dpop_bound = bound;
        self
    }

    /// The OAuth `token_type` of this token: `DPoP` when it is bound to a DPoP key
    /// (RFC 9449 §5), else `Bearer`.
    pub fn token_type(&self) -> &'static str {
        if self.dpop_bound { "DPoP" } else { "Bearer" }
    }

    /// The compact JWT.
    pub fn as_str(&self) -> &str {
        &self.token
    }

    /// The compact JWT, owned.
    pub fn into_string(self) -> String {
        self.token
    }

    /// Lifetime in seconds (the OAuth `expires_in`).
    pub fn expires_in(&self) -> u64 {
        self.expires_at.saturating_sub(self.issued_at)
    }
}

/// Never prints the token itself.
impl fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedToken")
            .field("kind", &self.kind)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// An access token and the refresh token issued with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenPair {
    /// The access token.
    pub access: IssuedToken,
    /// The refresh token (its `fam` claim names the refresh family).
    pub refresh: IssuedToken,
}

impl TokenPair {
    /// The OAuth 2.0 token response body (RFC 6749 §5.1).
    pub fn to_response(&self) -> TokenResponse {
        TokenResponse {
            access_token: self.access.token.clone(),
            refresh_token: Some(self.refresh.token.clone()),
            token_type: self.access.token_type(),
            expires_in: self.access.expires_in(),
        }
    }
}

/// The JSON answer of a login or refresh route:
/// `{"access_token", "refresh_token", "token_type": "Bearer", "expires_in"}`.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct TokenResponse {
    /// The access token.
    pub access_token: String,
    /// The refresh token, when one was issued.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// `Bearer`, or `DPoP` for a DPoP-bound access token.
    pub token_type: &'static str,
    /// Access-token lifetime in seconds.
    pub expires_in: u64,
}

impl fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenResponse")
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

/// The payload as written (field order is the wire order).
#[derive(Serialize)]
pub(crate) struct Payload<'a> {
    pub(crate) sub: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) iss: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) aud: Option<Audience>,
    pub(crate) iat: u64,
    pub(crate) exp: u64,
    pub(crate) jti: &'a str,
    #[serde(skip_serializing_if = "ScopeSet::is_empty")]
    pub(crate) scope: &'a ScopeSet,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) tenant: Option<&'a str>,
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub(crate) metadata: &'a Map<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) fam: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) csrf: Option<&'a str>,
    #[serde(rename = "gen", skip_serializing_if = "Option::is_none")]
    pub(crate) generation: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) cnf: Option<&'a Confirmation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) acr: Option<&'a str>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    pub(crate) amr: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) auth_time: Option<u64>,
    #[serde(rename = "idp_session", skip_serializing_if = "Option::is_none")]
    pub(crate) provider_session: Option<&'a ProviderSession>,
    #[serde(flatten)]
    pub(crate) custom: Map<String, Value>,
}

/// 128 random bits, base64url (22 characters).
pub(crate) fn random_id() -> Result<String, IssueError> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|_| IssueError::Random)?;
    Ok(URL_SAFE_NO_PAD.encode(b))
}

/// The id rule shared by subjects, tenants, token ids, session ids and grant parties:
/// 1 to [`MAX_ID_LEN`] bytes without control characters (so no store ever sees a NUL).
pub(crate) fn is_valid_id(v: &str) -> bool {
    !v.is_empty() && v.len() <= MAX_ID_LEN && !v.chars().any(char::is_control)
}

/// [`is_valid_id`], saying which part of the rule failed.
pub(crate) fn check_id(what: &'static str, v: &str) -> Result<(), IssueError> {
    if v.is_empty() {
        return Err(IssueError::Empty(what));
    }
    if v.len() > MAX_ID_LEN {
        return Err(IssueError::TooLong(what));
    }
    if v.chars().any(char::is_control) {
        return Err(IssueError::ControlCharacters(what));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::TokenAuth;

    fn auth() -> TokenAuth {
        TokenAuth::builder()
            .hs256_secret("0123456789abcdefghijklmnopqrstuvwxyzABCDEF")
            .build()
            .unwrap()
    }

    #[test]
    fn bad_subjects_are_refused() {
        let a = auth();
        assert_eq!(
            a.issue_access(&TokenRequest::new("")).unwrap_err(),
            IssueError::Empty("subject")
        );
        assert_eq!(
            a.issue_access(&TokenRequest::new("a".repeat(256)))
                .unwrap_err(),
            IssueError::TooLong("subject")
        );
        assert_eq!(
            a.issue_access(&TokenRequest::new("a\0b")).unwrap_err(),
            IssueError::ControlCharacters("subject")
        );
        assert_eq!(
            a.issue_access(&TokenRequest::new("a").tenant(""))
                .unwrap_err(),
            IssueError::Empty("tenant")
        );
    }

    #[test]
    fn bad_scopes_and_lifetimes_are_refused() {
        let a = auth();
        assert!(matches!(
            a.issue_access(&TokenRequest::new("a").scope("admin*")),
            Err(IssueError::InvalidScope(_))
        ));
        assert!(matches!(
            a.issue_service(&TokenRequest::new("a").ttl(Duration::from_secs(60))),
            Err(IssueError::LifetimeOutOfRange { .. })
        ));
        assert!(matches!(
            a.issue_service(&TokenRequest::new("a").ttl(Duration::from_secs(8761 * 3600))),
            Err(IssueError::LifetimeOutOfRange { .. })
        ));
        assert!(
            a.issue_service(&TokenRequest::new("a").ttl(Duration::from_secs(8760 * 3600)))
                .is_ok()
        );
    }

    #[test]
    fn reserved_custom_claims_are_refused() {
        #[derive(Serialize)]
        struct Sneaky {
            exp: u64,
        }
        let a = auth();
        assert_eq!(
            a.issue_access(&TokenRequest::new("a").claims(&Sneaky { exp: u64::MAX }))
                .unwrap_err(),
            IssueError::ReservedClaim("exp".into())
        );
        assert_eq!(
            a.issue_access(&TokenRequest::new("a").claims(&42))
                .unwrap_err(),
            IssueError::CustomClaimsNotObject
        );
    }

    #[test]
    fn a_token_over_max_token_bytes_is_not_issued() {
        let a = TokenAuth::builder()
            .hs256_secret("0123456789abcdefghijklmnopqrstuvwxyzABCDEF")
            .max_token_bytes(512)
            .build()
            .unwrap();
        let big = TokenRequest::new("alice").metadata("note", "x".repeat(600));
        assert!(matches!(
            a.issue_access(&big),
            Err(IssueError::TokenTooLarge { max: 512, .. })
        ));
        let small = a.issue_access(&TokenRequest::new("alice")).unwrap();
        assert!(
            a.verify_offline::<crate::NoCustomClaims>(small.as_str(), TokenKind::Access)
                .is_ok()
        );
    }

    #[test]
    fn jti_is_128_random_bits_and_pairs_share_nothing_secret() {
        let a = auth();
        let p = a.issue_pair(&TokenRequest::new("alice")).unwrap();
        assert_eq!(p.access.jti.len(), 22);
        assert_ne!(p.access.jti, p.refresh.jti);
        assert_eq!(p.access.expires_in(), 15 * 60);
        assert_eq!(p.refresh.expires_in(), 7 * 86400);
        let body = serde_json::to_value(p.to_response()).unwrap();
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["expires_in"], 900);
        assert!(!format!("{:?}", p.access).contains(p.access.as_str()));
    }
}
