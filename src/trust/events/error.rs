//! [`EventError`]: why a logout token or a Security Event Token was not applied, with the
//! RFC 8935 error code a push receiver answers and whether the sender should retry.

use std::time::Duration;

/// Why a received logout token or Security Event Token (SET) was not applied. Every
/// variant but [`Unavailable`](Self::Unavailable) is the sender's mistake (HTTP 400):
/// nothing was changed. Descriptions are fixed strings: they never quote the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EventError {
    /// Not a well-formed event token of the kind the route takes (not a JWS, a claim
    /// missing or of the wrong shape, the wrong `typ`, a `nonce` in a logout token, an
    /// `iat` in the future or too old).
    #[error("invalid request: {0}")]
    InvalidRequest(&'static str),
    /// The `iss` is not a trusted issuer.
    #[error("the issuer is not trusted")]
    InvalidIssuer,
    /// No key of the issuer verifies the signature (unknown `kid`, wrong algorithm, bad
    /// signature).
    #[error("the signature does not verify with the issuer's keys")]
    InvalidKey,
    /// The `aud` names none of the audiences this receiver answers for.
    #[error("the audience is not this receiver")]
    InvalidAudience,
    /// The event names a subject of another issuer than its transmitter.
    #[error("the event is about another issuer's subject")]
    AccessDenied,
    /// A push without the `Authorization` the receiver requires
    /// ([`SecurityEvents::push_authorization`](crate::trust::events::SecurityEvents::push_authorization)).
    #[error("the transmitter is not authenticated")]
    AuthenticationFailed,
    /// This `jti` was received before (what it asked for is already done).
    #[error("the event was already received (replayed jti)")]
    Replayed,
    /// The issuer's keys, the revocation store, the replay store or the application's
    /// hook could not answer: nothing is lost, the sender should retry after
    /// `retry_after` (HTTP 503 with `Retry-After`).
    #[error("temporarily unavailable: {what}")]
    Unavailable {
        /// What failed (a fixed phrase).
        what: &'static str,
        /// When to try again.
        retry_after: Duration,
    },
}

/// How long a sender is asked to wait when a store or the issuer's keys are down.
pub(crate) const RETRY_AFTER: Duration = Duration::from_secs(5);

impl EventError {
    /// The RFC 8935 §2.4 error code (`err`): `invalid_request`, `invalid_key`,
    /// `invalid_issuer`, `invalid_audience`, `access_denied` or `authentication_failed`;
    /// `None` for
    /// [`Unavailable`](Self::Unavailable), which is not the sender's mistake.
    pub fn err_code(&self) -> Option<&'static str> {
        Some(match self {
            EventError::InvalidRequest(_) | EventError::Replayed => "invalid_request",
            EventError::InvalidIssuer => "invalid_issuer",
            EventError::InvalidKey => "invalid_key",
            EventError::InvalidAudience => "invalid_audience",
            EventError::AccessDenied => "access_denied",
            EventError::AuthenticationFailed => "authentication_failed",
            EventError::Unavailable { .. } => return None,
        })
    }

    /// A fixed, human-readable description (never the token's content).
    pub fn description(&self) -> &'static str {
        match self {
            EventError::InvalidRequest(why) => why,
            EventError::InvalidIssuer => "the issuer is not trusted",
            EventError::InvalidKey => "the signature does not verify with the issuer's keys",
            EventError::InvalidAudience => "the audience is not this receiver",
            EventError::AccessDenied => "the event is about another issuer's subject",
            EventError::AuthenticationFailed => "the transmitter is not authenticated",
            EventError::Replayed => "the event was already received (replayed jti)",
            EventError::Unavailable { what, .. } => what,
        }
    }

    /// Whether the sender should send the same token again later (a 503).
    pub fn is_retryable(&self) -> bool {
        matches!(self, EventError::Unavailable { .. })
    }

    /// The fixed name of the refusal, a metric label: its RFC 8935 code, except for the
    /// two refusals that code does not tell apart.
    pub(crate) fn reason(&self) -> &'static str {
        match self {
            EventError::Replayed => "replayed",
            other => other.err_code().unwrap_or("unavailable"),
        }
    }

    pub(crate) fn unavailable(what: &'static str) -> Self {
        EventError::Unavailable {
            what,
            retry_after: RETRY_AFTER,
        }
    }
}
