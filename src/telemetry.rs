//! Metrics through the [`metrics`](https://docs.rs/metrics) facade (feature `metrics`);
//! without the feature every function here is empty. The table of names and labels is in
//! `manual::metrics`. No label ever carries a token, a subject, an id or anything a client
//! chose: only kinds, fixed reason names, operation and store names.
// Without the feature only the names of the counters are used.
#![cfg_attr(not(feature = "metrics"), allow(dead_code))]

use std::time::Duration;

use crate::token::claims::TokenKind;
use crate::token::error::InvalidToken;

/// Counter: tokens signed, by `kind`.
pub(crate) const TOKENS_ISSUED: &str = "token_auth_tokens_issued_total";
// Counter `token_auth_validations_accepted_total`, by `revocation` (`checked`,
// `fail_open`): written as literals in `validation_accepted`.
/// Counter: tokens refused, by `reason`.
pub(crate) const VALIDATIONS_REFUSED: &str = "token_auth_validations_refused_total";
/// Counter: revocations written, by `kind` (`token`, `subject`, `session`, `user_sessions`).
pub(crate) const REVOCATIONS: &str = "token_auth_revocations_total";
/// Counter: sessions started (refresh families created).
pub(crate) const SESSIONS_STARTED: &str = "token_auth_sessions_started_total";
/// Counter: refresh rotations, by `outcome` (`rotated`, `retry`, `unknown`).
pub(crate) const REFRESHES: &str = "token_auth_refreshes_total";
/// Counter: refresh-token reuse detected, by `kind` (`reused`, `compromised`).
pub(crate) const REUSE_DETECTIONS: &str = "token_auth_reuse_detections_total";
/// Counter: scope grants changed, by `action` (`grant`, `revoke`).
pub(crate) const GRANT_CHANGES: &str = "token_auth_grant_changes_total";
/// Histogram (seconds): store calls, by `store`, `op`, `outcome`.
pub(crate) const STORE_CALL_SECONDS: &str = "token_auth_store_call_seconds";
/// Counter: store calls refused without reaching the store, by `store`, `cause`.
pub(crate) const STORE_REFUSED: &str = "token_auth_store_refused_total";
/// Gauge: the breaker's state by `store` (0 closed, 1 open, 2 half-open).
pub(crate) const BREAKER_STATE: &str = "token_auth_store_breaker_state";
/// Counter: DPoP proofs, by `outcome` (`accepted`, or the refusal's reason:
/// `replayed`, `wrong_htu`, …).
pub(crate) const DPOP_PROOFS: &str = "token_auth_dpop_proofs_total";
/// Counter: DPoP nonces handed out (`DPoP-Nonce` headers), by `on` (`challenge`,
/// `rotation`).
pub(crate) const DPOP_NONCES: &str = "token_auth_dpop_nonces_total";
/// Counter: logout tokens and security events received, by `event` (the kind's fixed
/// name, `unknown` before a token verified) and `outcome` (`applied`, `ignored`, or the
/// refusal's reason: `invalid_key`, `replayed`, `unavailable`, …).
pub(crate) const SECURITY_EVENTS: &str = "token_auth_security_events_total";
/// Histogram (seconds): from an applied event's `iat` to the moment its revocation was
/// stored, by `event`.
pub(crate) const SECURITY_EVENT_DELAY: &str = "token_auth_security_event_delay_seconds";
/// Counter: key-set fetches of a trusted issuer, by `issuer` (its configured `iss`) and
/// `outcome` (`ok`, or the failure's fixed name: `timeout`, `transport`, `status`, …).
pub(crate) const KEY_SET_FETCHES: &str = "token_auth_key_set_fetches_total";
/// Counter: tokens with an unknown `kid`, by `issuer` and `outcome` (`asked`: waited
/// for a refetch, or probed a failing provider; `suppressed`: refused without one, the
/// refetch budget being spent).
pub(crate) const KEY_SET_REFETCHES: &str = "token_auth_key_set_refetches_total";
/// Gauge: usable keys in the current set, by `issuer`.
pub(crate) const KEY_SET_KEYS: &str = "token_auth_key_set_keys";
/// Gauge: seconds since the last successful fetch, by `issuer`.
pub(crate) const KEY_SET_AGE: &str = "token_auth_key_set_age_seconds";
/// Gauge: while fetches fail, the age of the set still served (else 0), by `issuer`.
pub(crate) const KEY_SET_STALE: &str = "token_auth_key_set_stale_seconds";
/// Gauge: the issuer's `max_stale` in seconds, by `issuer`.
pub(crate) const KEY_SET_MAX_STALE: &str = "token_auth_key_set_max_stale_seconds";
/// Gauge: when the last fetch succeeded (seconds since the Unix epoch), by `issuer`.
pub(crate) const KEY_SET_LAST_SUCCESS: &str = "token_auth_key_set_last_success_timestamp_seconds";
/// Gauge: the set's state by `issuer` (0 not ready, 1 fresh, 2 stale, 3 expired).
pub(crate) const KEY_SET_STATE: &str = "token_auth_key_set_state";
/// Counter: login attempts refused by the throttle, by `scope` (`account_address`,
/// `address`, `account`).
pub(crate) const LOGINS_THROTTLED: &str = "token_auth_logins_throttled_total";
/// Gauge: store calls in flight, by `store`.
pub(crate) const STORE_IN_FLIGHT: &str = "token_auth_store_in_flight";

/// The fixed name of a refusal reason (a label value).
pub(crate) fn reason_name(reason: &InvalidToken) -> &'static str {
    match reason {
        InvalidToken::Malformed => "malformed",
        InvalidToken::TooLarge => "too_large",
        InvalidToken::BadSignature => "bad_signature",
        InvalidToken::UnknownKey => "unknown_key",
        InvalidToken::AlgorithmMismatch => "algorithm_mismatch",
        InvalidToken::UnsupportedCritical => "unsupported_critical",
        InvalidToken::Expired => "expired",
        InvalidToken::NotYetValid => "not_yet_valid",
        InvalidToken::IssuedInFuture => "issued_in_future",
        InvalidToken::WrongIssuer => "wrong_issuer",
        InvalidToken::WrongAudience => "wrong_audience",
        InvalidToken::WrongKind { .. } => "wrong_kind",
        InvalidToken::InvalidClaims => "invalid_claims",
        InvalidToken::Revoked => "revoked",
        InvalidToken::RefreshReused => "refresh_reused",
        InvalidToken::SessionEnded => "session_ended",
        InvalidToken::RefreshDenied => "refresh_denied",
        InvalidToken::LegacyFormatRetired => "legacy_format_retired",
        InvalidToken::UnknownSubject => "unknown_subject",
        InvalidToken::UnsupportedConfirmation => "unsupported_confirmation",
        InvalidToken::UnprovenBinding => "unproven_binding",
        InvalidToken::BindingMismatch => "binding_mismatch",
        InvalidToken::NotDpopBound => "not_dpop_bound",
        InvalidToken::DpopRequired => "dpop_required",
        InvalidToken::Inactive => "inactive",
    }
}

fn kind_name(kind: TokenKind) -> &'static str {
    match kind {
        TokenKind::Access => "access",
        TokenKind::Refresh => "refresh",
        TokenKind::Service => "service",
    }
}

/// Increments counter `name` with one label.
#[inline]
fn count(name: &'static str, label: &'static str, value: &'static str) {
    #[cfg(feature = "metrics")]
    metrics::counter!(name, label => value).increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = (name, label, value);
}

pub(crate) fn token_issued(kind: TokenKind) {
    count(TOKENS_ISSUED, "kind", kind_name(kind));
}

/// On every accepted request: literal names and labels, so the key is a `static` (no
/// allocation per request).
pub(crate) fn validation_accepted(fail_open: bool) {
    #[cfg(feature = "metrics")]
    if fail_open {
        metrics::counter!("token_auth_validations_accepted_total", "revocation" => "fail_open")
            .increment(1);
    } else {
        metrics::counter!("token_auth_validations_accepted_total", "revocation" => "checked")
            .increment(1);
    }
    #[cfg(not(feature = "metrics"))]
    let _ = fail_open;
}

pub(crate) fn validation_refused(reason: &'static str) {
    count(VALIDATIONS_REFUSED, "reason", reason);
}

pub(crate) fn dpop_proof(outcome: &'static str) {
    count(DPOP_PROOFS, "outcome", outcome);
}

#[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
pub(crate) fn security_event(event: &'static str, outcome: &'static str) {
    #[cfg(feature = "metrics")]
    metrics::counter!(SECURITY_EVENTS, "event" => event, "outcome" => outcome).increment(1);
}

#[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
pub(crate) fn security_event_delay(event: &'static str, seconds: f64) {
    #[cfg(feature = "metrics")]
    metrics::histogram!(SECURITY_EVENT_DELAY, "event" => event).record(seconds);
}

#[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
pub(crate) fn key_set_fetch(issuer: &str, outcome: &'static str) {
    #[cfg(feature = "metrics")]
    metrics::counter!(KEY_SET_FETCHES, "issuer" => issuer.to_owned(), "outcome" => outcome)
        .increment(1);
}

#[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
pub(crate) fn key_set_refetch(issuer: &str, outcome: &'static str) {
    #[cfg(feature = "metrics")]
    metrics::counter!(KEY_SET_REFETCHES, "issuer" => issuer.to_owned(), "outcome" => outcome)
        .increment(1);
}

/// The gauges of one remote key set (`state`: 0 not ready, 1 fresh, 2 stale, 3
/// expired).
#[cfg(feature = "metrics")]
#[allow(clippy::cast_precision_loss)]
pub(crate) fn key_set_gauges(
    issuer: &str,
    state: u8,
    keys: usize,
    age_secs: Option<u64>,
    stale_secs: u64,
    max_stale_secs: u64,
    last_success: Option<u64>,
) {
    let set = |name: &'static str, value: f64| {
        metrics::gauge!(name, "issuer" => issuer.to_owned()).set(value);
    };
    set(KEY_SET_STATE, f64::from(state));
    set(KEY_SET_KEYS, keys as f64);
    set(KEY_SET_AGE, age_secs.unwrap_or(0) as f64);
    set(KEY_SET_STALE, stale_secs as f64);
    set(KEY_SET_MAX_STALE, max_stale_secs as f64);
    if let Some(t) = last_success {
        set(KEY_SET_LAST_SUCCESS, t as f64);
    }
}

pub(crate) fn dpop_nonce(on: &'static str) {
    count(DPOP_NONCES, "on", on);
}

pub(crate) fn revoked(kind: &'static str) {
    count(REVOCATIONS, "kind", kind);
}

pub(crate) fn login_throttled(scope: &'static str) {
    count(LOGINS_THROTTLED, "scope", scope);
}

pub(crate) fn session_started() {
    #[cfg(feature = "metrics")]
    metrics::counter!(SESSIONS_STARTED).increment(1);
}

pub(crate) fn refreshed(outcome: &'static str) {
    count(REFRESHES, "outcome", outcome);
}

pub(crate) fn reuse_detected(kind: &'static str) {
    count(REUSE_DETECTIONS, "kind", kind);
}

pub(crate) fn grant_changed(action: &'static str) {
    count(GRANT_CHANGES, "action", action);
}

pub(crate) fn store_call(
    store: &'static str,
    op: &'static str,
    outcome: &'static str,
    took: Duration,
) {
    #[cfg(feature = "metrics")]
    metrics::histogram!(STORE_CALL_SECONDS, "store" => store, "op" => op, "outcome" => outcome)
        .record(took.as_secs_f64());
    #[cfg(not(feature = "metrics"))]
    let _ = (store, op, outcome, took);
}

pub(crate) fn store_refused(store: &'static str, cause: &'static str) {
    #[cfg(feature = "metrics")]
    metrics::counter!(STORE_REFUSED, "store" => store, "cause" => cause).increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = (store, cause);
}

pub(crate) fn breaker_state(store: &'static str, gauge: f64) {
    #[cfg(feature = "metrics")]
    metrics::gauge!(BREAKER_STATE, "store" => store).set(gauge);
    #[cfg(not(feature = "metrics"))]
    let _ = (store, gauge);
}

pub(crate) fn in_flight(store: &'static str, delta: f64) {
    #[cfg(feature = "metrics")]
    metrics::gauge!(STORE_IN_FLIGHT, "store" => store).increment(delta);
    #[cfg(not(feature = "metrics"))]
    let _ = (store, delta);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_names_are_fixed_snake_case() {
        assert_eq!(reason_name(&InvalidToken::Expired), "expired");
        assert_eq!(
            reason_name(&InvalidToken::WrongKind {
                expected: TokenKind::Access
            }),
            "wrong_kind"
        );
        assert_eq!(kind_name(TokenKind::Service), "service");
    }
}
