//! The errors of the token core: [`InvalidToken`] (why a token is refused) and
//! [`ConfigError`] (a configuration mistake, reported once when the handle is built).

use std::time::Duration;

use jsonwebtoken::Algorithm;

use crate::token::claims::TokenKind;
use crate::token::keys::WeakSecret;

/// Why a token is not accepted (401 `invalid_token`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidToken {
    /// Not three base64url parts with a JSON header and payload.
    #[error("the token is malformed")]
    Malformed,
    /// Longer than the configured size limit.
    #[error("the token is too large")]
    TooLarge,
    /// The signature does not verify.
    #[error("the token signature is invalid")]
    BadSignature,
    /// The `kid` names no key of the keyring.
    #[error("the token was signed with an unknown key")]
    UnknownKey,
    /// The header's `alg` is not the key's algorithm (this includes `none`).
    #[error("the token algorithm is not accepted")]
    AlgorithmMismatch,
    /// The header carries `crit` extensions this crate does not understand.
    #[error("the token has unsupported critical header parameters")]
    UnsupportedCritical,
    /// `exp` is in the past (beyond the leeway).
    #[error("the token has expired")]
    Expired,
    /// `nbf` is in the future (beyond the leeway).
    #[error("the token is not valid yet")]
    NotYetValid,
    /// `iat` is in the future (beyond the leeway).
    #[error("the token was issued in the future")]
    IssuedInFuture,
    /// `iss` is missing or not the configured issuer.
    #[error("the token issuer is not accepted")]
    WrongIssuer,
    /// `aud` is missing or does not contain the configured audience (or carries an audience
    /// when none is configured).
    #[error("the token audience is not accepted")]
    WrongAudience,
    /// The token is of another kind than expected (e.g. a refresh token used as access token).
    #[error("the token is not {} token", article(*.expected))]
    WrongKind {
        /// The kind this endpoint accepts.
        expected: TokenKind,
    },
    /// A claim the token format requires is missing or of the wrong type.
    #[error("the token claims are invalid")]
    InvalidClaims,
    /// The token was revoked.
    #[error("the token has been revoked")]
    Revoked,
    /// A consumed refresh token was presented again (or with a foreign access token):
    /// the whole session was revoked.
    #[error("the refresh token was already used; the session has been revoked")]
    RefreshReused,
    /// The refresh token's session has ended (logged out, revoked, or past its lifetime).
    #[error("the session has ended")]
    SessionEnded,
    /// A token of a legacy format whose migration window has closed.
    #[error("tokens of this format are no longer accepted")]
    LegacyFormatRetired,
    /// The token is valid but its subject is no user of the application (any more).
    #[error("the token's subject is not a known user")]
    UnknownSubject,
    /// The application refused the refresh
    /// ([`SessionHooks::on_refresh`](crate::session::SessionHooks::on_refresh) returned `Deny`): the
    /// session has been revoked.
    #[error("the refresh was refused; the session has been revoked")]
    RefreshDenied,
    /// The token's `cnf` claim names no confirmation method this crate checks (only
    /// `jkt` and `x5t#S256` are), or names one malformed: accepting it as a bearer token
    /// would drop the binding its issuer asked for.
    #[error("the token's confirmation method is not supported")]
    UnsupportedConfirmation,
    /// A sender-constrained token presented without what binds it: a DPoP-bound token
    /// as `Bearer` or without a proof (RFC 9449 §7.2), a certificate-bound token without
    /// the client certificate (RFC 8705 §3).
    #[error("the token is bound to a key the request does not prove")]
    UnprovenBinding,
    /// The request proves a key, but not the one the token is bound to: another DPoP
    /// key, another client certificate.
    #[error("the token is bound to another key")]
    BindingMismatch,
    /// A bearer (unbound) token presented with the `DPoP` scheme, where the layer
    /// accepts only DPoP-bound tokens that way.
    #[error("the token is not bound to a DPoP key")]
    NotDpopBound,
    /// A bearer token where the route requires sender-constrained tokens (DPoP policy
    /// `Required`).
    #[error("the route requires a DPoP-bound token")]
    DpopRequired,
    /// The token's issuer answered its introspection (RFC 7662) with `active: false`:
    /// unknown, expired or revoked at the provider.
    #[error("the token is not active")]
    Inactive,
}

/// A configuration mistake, reported by [`TokenAuthBuilder::build`](crate::TokenAuthBuilder::build) (never at request time).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// No signing key was configured (and no external issuer is trusted: a verify-only
    /// authority needs at least one).
    #[error(
        "no signing key configured (set JWT_SECRET_KEY, or call signing_key(); a verify-only service calls trust())"
    )]
    MissingSigningKey,
    /// The signing key is a public key.
    #[error("the signing key is a public key and cannot sign")]
    SigningKeyCannotSign,
    /// An HMAC secret was refused.
    #[error("refused HMAC secret: {0}")]
    WeakSecret(WeakSecret),
    /// An RSA key is too small.
    #[error("refused RSA key of {bits} bits (at least 2048 required)")]
    WeakRsaKey {
        /// The key's modulus size.
        bits: usize,
    },
    /// A key cannot be used with the algorithm it was given.
    #[error("the key cannot be used with {0:?}")]
    KeyAlgorithmMismatch(Algorithm),
    /// The DPoP settings are unusable (see
    /// [`DpopSettings`](crate::trust::dpop::DpopSettings)).
    #[error("invalid DPoP settings: {0}")]
    InvalidDpop(&'static str),
    /// The client certificate header settings are unusable (see
    /// [`MtlsSettings`](crate::http::MtlsSettings)).
    #[error("invalid mTLS settings: {0}")]
    InvalidMtls(&'static str),
    /// The protected resource settings are unusable (see
    /// [`ProtectedResource`](crate::http::ProtectedResource)).
    #[error("invalid protected resource: {0}")]
    InvalidResource(&'static str),
    /// The security event receivers' settings are unusable (see
    /// [`SecurityEvents`](crate::trust::events::SecurityEvents)).
    #[error("invalid security event settings: {0}")]
    InvalidSecurityEvents(&'static str),
    /// Key material could not be read.
    #[error("invalid key: {0}")]
    InvalidKey(&'static str),
    /// Several keys are configured and one has no `kid`.
    #[error("with several keys, every HMAC key needs a kid")]
    MissingKid,
    /// Two keys share a `kid`.
    #[error("two keys share the kid {0:?}")]
    DuplicateKid(String),
    /// A lifetime is outside its allowed range.
    #[error("the {kind} token lifetime must be between {min:?} and {max:?}")]
    LifetimeOutOfRange {
        /// Which lifetime.
        kind: &'static str,
        /// Smallest allowed.
        min: Duration,
        /// Largest allowed.
        max: Duration,
    },
    /// The leeway is over 5 minutes.
    #[error("the leeway must be at most 5 minutes")]
    LeewayTooLarge,
    /// The token size limit is outside 256 B ..= 64 KiB.
    #[error("the token size limit must be between 256 bytes and 64 KiB")]
    MaxTokenSize,
    /// The realm, a cookie name, issuer or audience contains characters that cannot be used.
    #[error("invalid {0}: use 1 to 255 printable ASCII characters without quotes or backslashes")]
    InvalidText(&'static str),
    /// An environment variable could not be parsed.
    #[error("environment variable {name} is invalid: {reason}")]
    Env {
        /// The variable.
        name: &'static str,
        /// What is wrong with it (never its value).
        reason: &'static str,
    },
    /// The operating system's random source failed.
    #[error("the random source failed")]
    Random,
    /// A trusted external issuer is misconfigured.
    #[error("trusted issuer {issuer:?}: {reason}")]
    InvalidIssuer {
        /// The issuer (`iss`).
        issuer: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// The signing key cannot be retired (rotate to another key first).
    #[error("the signing key cannot be retired; rotate first")]
    RetiringSigningKey,
    /// No key of the keyring has this `kid`.
    #[error("no key has the kid {0:?}")]
    UnknownKid(String),
}

fn article(kind: TokenKind) -> &'static str {
    match kind {
        TokenKind::Access => "an access",
        TokenKind::Refresh => "a refresh",
        TokenKind::Service => "a service",
    }
}

/// Printable ASCII without `"` and `\\`: safe inside a quoted header parameter.
pub(crate) fn check_text(what: &'static str, v: &str) -> Result<(), ConfigError> {
    let ok = !v.is_empty()
        && v.len() <= 255
        && v.bytes()
            .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\');
    if ok {
        Ok(())
    } else {
        Err(ConfigError::InvalidText(what))
    }
}

/// RFC 6265 cookie-name characters (an HTTP token).
pub(crate) fn check_cookie_name(v: &str) -> Result<(), ConfigError> {
    let ok = !v.is_empty()
        && v.len() <= 255
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(ConfigError::InvalidText("cookie name"))
    }
}
