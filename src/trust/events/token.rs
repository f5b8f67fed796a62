//! Verifying a logout token (OIDC Back-Channel Logout 1.0 §2.6) or a Security Event
//! Token (RFC 8417 §2, RFC 8935 §2): the trusted issuer's keys (a `kid` it has not
//! published yet waits for one refetch, within the issuer's budget), `typ`, `aud`,
//! `iat`, `exp`, `jti`, `events`. Nothing here is specific to HTTP.

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::token::error::InvalidToken;
use crate::token::issue::is_valid_id;
use crate::trust::events::error::EventError;
use crate::trust::events::kind::BACKCHANNEL_LOGOUT;
use crate::trust::external::{KeyMiss, TrustedIssuer};
use crate::trust::verify::{Verifier, numeric_date, peek_issuer};

/// Which kind of event token a receiver takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Carrier {
    /// An OIDC logout token: `typ` `logout+jwt` (or `JWT`, or none), the back-channel
    /// logout event, `sid` and/or `sub`, no `nonce`; `aud` one of the issuer's audiences
    /// or our client ids there.
    Logout,
    /// A SET: `typ` `secevent+jwt`; `aud` one of the receiver's SSF audiences.
    Set,
}

/// An event token whose signature, issuer, audience, times and id held.
pub(crate) struct VerifiedEvent {
    pub(crate) issuer: Arc<str>,
    pub(crate) claims: Map<String, Value>,
    pub(crate) jti: String,
    pub(crate) iat: u64,
    /// When the token stops being accepted (by `iat` and `max_age`, or `exp`, with the
    /// issuer's leeway): how long its `jti` must be remembered.
    pub(crate) accepted_until: u64,
}

const fn bad(why: &'static str) -> EventError {
    EventError::InvalidRequest(why)
}

impl Verifier {
    /// Verifies `token` as a `carrier` of the trusted issuer it names. `ssf_audiences`
    /// are a SET's audiences (a logout token's are its issuer's); events issued more
    /// than `max_age` seconds ago are refused.
    pub(crate) async fn verify_event_token(
        &self,
        token: &str,
        carrier: Carrier,
        ssf_audiences: &[String],
        max_age: u64,
    ) -> Result<VerifiedEvent, EventError> {
        let parts = self.split(token).map_err(|e| match e {
            InvalidToken::TooLarge => bad("the token is too large"),
            _ => bad("not a compact JWS"),
        })?;
        // The memoised header is thread-local (`Rc`): keep what the checks need, not it,
        // across the refetch's await.
        let (alg, kid) = {
            let header = Verifier::parsed_header(parts.h64).map_err(|e| match e {
                // `none` and unknown algorithms: nothing can verify the signature.
                InvalidToken::AlgorithmMismatch => EventError::InvalidKey,
                InvalidToken::UnsupportedCritical => bad("a crit header is not supported"),
                _ => bad("the header is not a JOSE header"),
            })?;
            check_typ(carrier, header.typ.as_deref())?;
            (header.alg, header.kid.as_deref().map(str::to_owned))
        };
        let issuer = peek_issuer(&parts.payload)
            .and_then(|iss| self.trusted.find(&iss))
            .ok_or(EventError::InvalidIssuer)?;
        verify_signature(issuer, kid.as_deref(), alg, parts.message, parts.signature).await?;
        let claims: Map<String, Value> = serde_json::from_slice(&parts.payload)
            .map_err(|_| bad("the claims are not a JSON object"))?;
        let audiences = match carrier {
            Carrier::Logout => issuer.logout_audiences(),
            Carrier::Set => ssf_audiences,
        };
        if !TrustedIssuer::names_any(claims.get("aud"), audiences) {
            return Err(EventError::InvalidAudience);
        }
        // The pipeline's time checks (E7) against the token's deadline: `max_age` after
        // its `iat`, or its `exp` when sooner; the issuer's leeway on every bound.
        let time = |name: &str, malformed: &'static str| match claims.get(name) {
            None => Ok(None),
            Some(v) => numeric_date(v).map(Some).ok_or(bad(malformed)),
        };
        let iat = time("iat", "iat is not a NumericDate")?.ok_or(bad("iat is missing"))?;
        let exp = time("exp", "exp is not a NumericDate")?;
        // OIDC Back-Channel Logout 1.0 §2.4 (errata set 1): a logout token's `exp` is
        // required. A SET has none (RFC 8417).
        if exp.is_none() && carrier == Carrier::Logout {
            return Err(bad("exp is missing"));
        }
        let oldest = iat.saturating_add(max_age);
        let deadline = exp.map_or(oldest, |exp| exp.min(oldest));
        let leeway = issuer.leeway;
        let nbf = time("nbf", "nbf is not a NumericDate")?;
        self.check_time(deadline, nbf, Some(iat), leeway)
            .map_err(|e| match e {
                InvalidToken::Expired if deadline < oldest => bad("the token has expired"),
                InvalidToken::Expired => bad("the event is older than the receiver accepts"),
                InvalidToken::NotYetValid => bad("the token is not valid yet"),
                _ => bad("iat is in the future"),
            })?;
        let accepted_until = deadline.saturating_add(leeway);
        let jti = match claims.get("jti") {
            Some(Value::String(j)) if is_valid_id(j) => j.clone(),
            _ => return Err(bad("jti is missing")),
        };
        let events = claims
            .get("events")
            .and_then(Value::as_object)
            .filter(|e| !e.is_empty() && e.values().all(Value::is_object))
            .ok_or(bad("events is not an object of event objects"))?;
        if carrier == Carrier::Logout {
            if !events.contains_key(BACKCHANNEL_LOGOUT) {
                return Err(bad("the back-channel logout event is missing"));
            }
            if claims.contains_key("nonce") {
                return Err(bad("a logout token must not carry a nonce"));
            }
        }
        Ok(VerifiedEvent {
            issuer: Arc::clone(&issuer.iss),
            claims,
            jti,
            iat,
            accepted_until,
        })
    }
}

/// The `typ` a carrier takes (compared without case, with or without `application/`).
fn check_typ(carrier: Carrier, typ: Option<&str>) -> Result<(), EventError> {
    let typ = typ.map(|t| {
        let t = t.to_ascii_lowercase();
        t.strip_prefix("application/")
            .map(str::to_owned)
            .unwrap_or(t)
    });
    match (carrier, typ.as_deref()) {
        (Carrier::Logout, None | Some("jwt" | "logout+jwt")) => Ok(()),
        (Carrier::Logout, _) => Err(bad("typ is not logout+jwt")),
        (Carrier::Set, Some("secevent+jwt")) => Ok(()),
        (Carrier::Set, _) => Err(bad("typ is not secevent+jwt")),
    }
}

/// E1–E4 for an event token, as for the issuer's access tokens
/// ([`TrustedIssuer::verify_signature`]); a `kid` the issuer has not published waits for
/// one refetch within its budget, as at the layer.
async fn verify_signature(
    issuer: &TrustedIssuer,
    kid: Option<&str>,
    alg: jsonwebtoken::Algorithm,
    message: &str,
    signature: &str,
) -> Result<(), EventError> {
    let verified = issuer.verify_signature(kid, alg, message, signature);
    // One refetch at most: a `kid` still unknown after it is refused.
    #[cfg(feature = "oidc")]
    let verified = match verified {
        Err(KeyMiss::Refetch(remote, seen)) => {
            remote.refetch_unknown_kid(seen).await;
            issuer.verify_signature(kid, alg, message, signature)
        }
        other => other,
    };
    match verified {
        Ok(true) => Ok(()),
        Ok(false) => Err(EventError::InvalidKey),
        Err(miss) => Err(key_miss(miss)),
    }
}

fn key_miss(miss: KeyMiss) -> EventError {
    match miss {
        KeyMiss::Unavailable => EventError::unavailable("the issuer's keys cannot be fetched"),
        _ => EventError::InvalidKey,
    }
}
