//! The state of each trusted issuer's key set, as data: [`KeySetStatus`], from
//! [`TokenAuth::key_sets`](crate::TokenAuth::key_sets), for a health or readiness
//! endpoint. With the `metrics` feature the same figures are exported per issuer
//! (`token_auth_key_set_*`, see `manual::metrics`).
//!
//! ```
//! use axum::{Json, Router, routing::get};
//! use axum_token_auth::TokenAuth;
//! use axum_token_auth::trust::{Issuer, KeySetState, KeySetStatus};
//! # use axum_token_auth::Key;
//! # let jwks = serde_json::from_value(serde_json::json!({"keys": []})).unwrap();
//!
//! let auth = TokenAuth::builder()
//!     .trust(Issuer::jwks("https://sso.example.com/realms/acme", &jwks).audience("orders-api"))
//!     .build()?;
//! let sets = auth.key_sets();
//! assert_eq!(sets[0].issuer, "https://sso.example.com/realms/acme");
//! assert_eq!(sets[0].state, KeySetState::Static);
//!
//! // A health route: 200 with the list; serving when every set still verifies.
//! let health = Router::<()>::new().route("/health/keys", get(move || {
//!     let sets: Vec<KeySetStatus> = auth.key_sets();
//!     async move { Json(sets) }
//! }));
//! # let _ = health;
//! # Ok::<(), axum_token_auth::ConfigError>(())
//! ```

use serde::Serialize;

/// One trusted issuer's key set as it stands: what [`TokenAuth::key_sets`](crate::TokenAuth::key_sets) lists,
/// and what the `token_auth_key_set_*` metrics export. Times are seconds (the
/// configured clock's, seconds since the Unix epoch for the system clock).
///
/// **What to alert on** (the README's list): [`state`](Self::state) not
/// [`Fresh`](KeySetState::Fresh)/[`Static`](KeySetState::Static) for longer than a few
/// retries; [`stale_secs`](Self::stale_secs) past a fraction of
/// [`max_stale_secs`](Self::max_stale_secs) (at `max_stale_secs` the issuer's tokens get
/// 503); [`keys`](Self::keys) at 0 (the provider withdrew its keys: its tokens get 401);
/// [`refetches_suppressed`](Self::refetches_suppressed) rising (a flood of unknown `kid`s:
/// forged tokens, or a rotation the budget delays).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct KeySetStatus {
    /// The issuer's configured `iss` (the metrics' `issuer` label).
    pub issuer: String,
    /// Where its keys come from.
    pub source: KeySetSource,
    /// Whether its tokens can be verified now.
    pub state: KeySetState,
    /// The keys of the current set usable for verification (0 before the first fetch).
    pub keys: usize,
    /// When the last fetch succeeded (`None`: never, or a static set).
    pub last_success: Option<u64>,
    /// Seconds since [`last_success`](Self::last_success).
    pub age_secs: Option<u64>,
    /// While the last fetch failed: seconds since the set being served was fetched
    /// (its age); 0 when the last fetch succeeded. The issuer's tokens get 503 once this
    /// passes [`max_stale_secs`](Self::max_stale_secs).
    pub stale_secs: u64,
    /// How long the last good set is used while fetches fail
    /// ([`Issuer::max_stale`](crate::trust::Issuer::max_stale)); 0 for a static set.
    pub max_stale_secs: u64,
    /// The fixed name of the last failure (`timeout`, `transport`, `status`,
    /// `not_jwks`, `discovery`, `too_large`, `redirected`, `insecure_url`, `busy`)
    /// while the last fetch failed; `None` after a success.
    pub last_error: Option<&'static str>,
    /// Fetches that succeeded since start.
    pub fetches_ok: u64,
    /// Fetches that failed since start.
    pub fetches_failed: u64,
    /// Tokens with an unknown `kid` that waited for a refetch (one in flight, or one they
    /// caused within the refetch budget), or probed a failing provider.
    pub refetches_asked: u64,
    /// Tokens with an unknown `kid` refused without the refetch they asked for: the
    /// refetch budget was spent (a flood of unknown `kid`s, or rotations faster than the
    /// budget). A `kid` already missing from a set fetched after it was first seen is
    /// a plain unknown key, not counted here.
    pub refetches_suppressed: u64,
}

/// Where a trusted issuer's keys come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum KeySetSource {
    /// Keys given at configuration ([`Issuer::jwks`](crate::trust::Issuer::jwks),
    /// [`Issuer::keys`](crate::trust::Issuer::keys)).
    Static,
    /// A JWKS URL (feature `oidc`).
    JwksUrl,
    /// OIDC discovery (feature `oidc`).
    Discovery,
}

/// Whether a trusted issuer's tokens can be verified now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum KeySetState {
    /// Keys given at configuration: always usable.
    Static,
    /// No fetch has succeeded yet: the issuer's tokens get 503.
    NotReady,
    /// The last fetch succeeded.
    Fresh,
    /// The last fetch failed; the last good set still verifies (stale-while-error) until
    /// it is older than `max_stale`.
    Stale,
    /// The last good set is older than `max_stale`: the issuer's tokens get 503 until a
    /// fetch succeeds.
    Expired,
}

impl KeySetState {
    /// Whether the issuer's tokens can be verified now ([`Static`](Self::Static),
    /// [`Fresh`](Self::Fresh) or [`Stale`](Self::Stale)).
    ///
    /// ```
    /// use axum_token_auth::trust::KeySetState;
    ///
    /// assert!(KeySetState::Stale.is_serving());
    /// assert!(!KeySetState::Expired.is_serving());
    /// ```
    pub fn is_serving(self) -> bool {
        matches!(
            self,
            KeySetState::Static | KeySetState::Fresh | KeySetState::Stale
        )
    }
}

impl KeySetStatus {
    /// The status of a set given at configuration.
    pub(crate) fn of_static(issuer: &str, keys: usize) -> Self {
        KeySetStatus {
            issuer: issuer.to_owned(),
            source: KeySetSource::Static,
            state: KeySetState::Static,
            keys,
            last_success: None,
            age_secs: None,
            stale_secs: 0,
            max_stale_secs: 0,
            last_error: None,
            fetches_ok: 0,
            fetches_failed: 0,
            refetches_asked: 0,
            refetches_suppressed: 0,
        }
    }
}
