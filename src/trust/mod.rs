//! Whom the layer trusts: the crate's own live keyring and external issuers (identity
//! providers such as Keycloak, Auth0, Entra ID, Cognito, Google) with their key sets,
//! static or fetched live from a JWKS URL or by OIDC discovery (feature `oidc`).
//!
//! One [`TokenAuth`](crate::TokenAuth) serves the service's own tokens and its
//! provider's: the layer picks the issuer by the token's `iss`, the key by `kid` within
//! that issuer's set, and hands handlers the same [`Claims`](crate::Claims) and scope
//! guards whichever issued the token.
//!
//! ```no_run
//! # #[cfg(feature = "oidc")] {
//! use axum::{Router, routing::get};
//! use axum_token_auth::{Claims, TokenAuth, trust::Issuer};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let auth = TokenAuth::builder()
//!     .trust(Issuer::discover("https://sso.example.com/realms/acme").audience("orders-api"))
//!     .build()?; // verify-only: no signing key needed
//! let app: Router = Router::new()
//!     .route("/me", get(|c: Claims| async move { c.sub.clone() }))
//!     .layer(auth.layer());
//! # let _ = app; Ok(()) }
//! # }
//! ```
//!
//! # Presets
//!
//! | provider | constructor | `iss` | scopes from | step-up (`acr`) from | also |
//! | --- | --- | --- | --- | --- | --- |
//! | Keycloak | [`Issuer::keycloak`]`(base, realm)` | `{base}/realms/{realm}` | `scope`, `realm_access.roles` | `acr` (its level-of-authentication names) | `typ` claim must be `Bearer` |
//! | Auth0 | [`Issuer::auth0`]`(domain)` | `https://{domain}/` | `scope`, `permissions` | `acr` | audience = API identifier |
//! | Entra ID | [`Issuer::entra`]`(tenant)` | `https://login.microsoftonline.com/{tenant}/v2.0` | `scp`, `roles` | `acrs` (authentication contexts `c1`…, any of them) | tenant from `tid` |
//! | Cognito | [`Issuer::cognito`]`(region, pool)` | `https://cognito-idp.{region}.amazonaws.com/{pool}` | `scope`, `cognito:groups` as `group:*` | `acr` | audience claim `client_id`, `token_use` must be `access` |
//! | Google | [`Issuer::google`]`()` | `https://accounts.google.com` | none | `acr` | ID tokens minted for the service (access tokens are opaque) |
//!
//! Every preset still needs an audience: [`Issuer::audience`], or the resource identifier
//! of [`TokenAuthBuilder::resource`](crate::TokenAuthBuilder::resource), which an issuer
//! given none requires (RFC 8707).
//!
//! **Step-up inputs.** Whatever the preset, `amr` (an array of strings) and `auth_time`
//! (seconds) are read as the token carries them, and `acr` from the claim in the table
//! (another with [`Issuer::acr_claim`]); values outside the grammar of an
//! authentication context class, or of another shape, are dropped, so a
//! [`StepUpLayer`](crate::http::StepUpLayer) refuses the token rather than guessing. A
//! provider that does not put them in its access tokens (many do so only in ID tokens
//! unless configured) leaves step-up requirements unmet: configure it to add them.
//!
//! ## Opaque tokens
//!
//! An issuer whose access tokens are not JWTs is checked at its RFC 7662 introspection
//! endpoint (feature `oidc`): `Issuer::introspection` with an `Introspection` (see the
//! `introspect` module); the answer becomes the same verified token as its JWTs.
//!
//! ## Our own keyring, live
//!
//! The crate's own keyring, live: the signing key rotates and verification keys come and
//! go at runtime, without rebuilding the `Router`
//! ([`TokenAuth::rotate_signing_key`](crate::TokenAuth::rotate_signing_key),
//! [`add_verification_key`](crate::TokenAuth::add_verification_key),
//! [`retire_key`](crate::TokenAuth::retire_key)).
//!
//! Readers (every token verification) load the current ring without a lock; writers
//! build a new ring and swap it in, one at a time. Retiring a key bumps the trust epoch,
//! so no layer's verified-token cache keeps accepting what it verified.
//!
//! ```
//! use axum_token_auth::trust::TokenCheck;
//! use axum_token_auth::{Key, TokenAuth, TokenRequest};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let auth = TokenAuth::builder()
//!     .signing_key(Key::hs256("a-random-secret-of-at-least-32-bytes!!")?.with_kid("2026-11"))
//!     .build()?;
//! let old = auth.issue_access(&TokenRequest::new("alice"))?;
//!
//! // Rotate: new tokens are signed with the new key; the old one still verifies.
//! auth.rotate_signing_key(Key::hs256("another-random-secret-of-32-bytes-or-more")?.with_kid("2026-12"))?;
//! let new = auth.issue_access(&TokenRequest::new("alice"))?;
//! assert!(auth.validate::<axum_token_auth::NoCustomClaims>(old.as_str(), TokenCheck::ACCESS).await.is_ok());
//!
//! // Retire the old key once its tokens have expired (or now, to cut them off).
//! auth.retire_key("2026-11")?;
//! assert!(auth.validate::<axum_token_auth::NoCustomClaims>(old.as_str(), TokenCheck::ACCESS).await.is_err());
//! assert!(auth.validate::<axum_token_auth::NoCustomClaims>(new.as_str(), TokenCheck::ACCESS).await.is_ok());
//! # Ok(()) }
//! ```
//!
//! ## Migrating from a legacy format
//!
//! Tokens of the systems this crate replaces, accepted for a migration window:
//! [`LegacyIssuer`] maps a seed system's token format onto the crate's claims, so a
//! team can cut over without logging everyone out or reissuing every service token.
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use axum_token_auth::{TokenAuth, trust::LegacyIssuer};
//!
//! let until = SystemTime::now() + Duration::from_secs(30 * 24 * 3600);
//! let auth = TokenAuth::builder()
//!     .hs256_secret("the-new-random-secret-of-at-least-32-bytes")
//!     .accept_legacy(LegacyIssuer::scoped_token_service("the-old-service-secret-of-32-bytes+")?.accept_until(until))
//!     .build()?;
//! # Ok::<(), axum_token_auth::ConfigError>(())
//! ```
//!
//! Formats, claims mapping, scopes, revocation identity and how to import each old
//! system's revocation list: [`legacy`].
//!
//! ## Remote key sets
//!
//! A live remote key set (feature `oidc`): fetched in the background, refreshed as its
//! `Cache-Control` says, refetched on an unknown `kid` within a budget, kept through
//! failures.
//!
//! The state machine, every transition driven by `RemoteKeys::fetch_now`:
//!
//! * **not ready** (never fetched): tokens of the issuer get 503 until the first success;
//!   the first fetch starts in the background (start-up never blocks; see
//!   [`TokenAuth::await_ready`](crate::TokenAuth::await_ready)).
//! * **fresh**: the set verifies; the background task refreshes it when the JWKS
//!   response's `Cache-Control: max-age` runs out, clamped into
//!   [`refresh_bounds`](Issuer::refresh_bounds) (1 min ..= 1 h by default). A response
//!   without `max-age` is refreshed every **10 minutes** (kept within those bounds, and
//!   never later than half of `max_stale`, so a healthy provider's set never expires);
//!   `no-store` / `no-cache` count as 0, so the lower bound.
//! * **unknown `kid`** (a rotation, or a forgery: they look alike until the key is
//!   fetched): a refetch, **single-flight** (requests arriving meanwhile wait for the
//!   same fetch, then look again, once) and **budgeted** per issuer — a token bucket of
//!   [`refetch_burst`](Issuer::refetch_burst) fetches (3) refilled one per
//!   [`refetch_interval`](Issuer::refetch_interval) (4 s), and one fetch per `kid` (a
//!   `kid` absent from a set fetched after it was first seen causes no other for 30 s).
//!   A flood of random `kid`s thus costs at most 3 fetches at once, then 15 a minute,
//!   whatever the number of `kid`s; and since every fetch brings in what the provider
//!   publishes, a rotation is picked up within 4 s even during such a flood (at once
//!   otherwise). A token the budget leaves without a fetch is a 401 `invalid_token`
//!   (unknown key), logged as a WARN at most once per issuer per 10 s, with a short hash
//!   of the `kid`, never the token.
//! * **failing**: the last good set keeps verifying (stale-while-error) for `max_stale`
//!   after its last successful fetch; past that, 503 `temporarily_unavailable`, never
//!   401. Retries every `retry_interval`; the first success recovers, no restart.
//!   Watch it: [`TokenAuth::key_sets`](crate::TokenAuth::key_sets) gives each set's
//!   [`KeySetState`] (`Fresh`, `Stale`, `Expired`, …), age and staleness as data; the
//!   `token_auth_key_set_*` metrics give the same per issuer; the first use of the stale
//!   set and the first 503 are each logged once (WARN).
//! * **keys retired**: a fetched set that drops or changes a key bumps the trust epoch,
//!   so the layers' verified-token caches forget what the old key verified.
//! * **keys withdrawn**: a successful fetch is the provider's whole word on its keys. A
//!   JWKS without a usable key (`{"keys":[]}`, or only keys never trusted remotely)
//!   replaces the last set like any other: trust is removed at once (trust epoch
//!   bumped), and the issuer's tokens are refused 401 `invalid_token` (unknown key) —
//!   not 503, which means "cannot check now" — until it publishes a key again. Only a
//!   *failed* fetch (transport error, non-200, not a JWKS) keeps the last good set.

pub(crate) mod bound;
pub(crate) mod check;
pub mod dpop;
pub mod events;
pub(crate) mod external;
#[cfg(feature = "oidc")]
pub(crate) mod fetch;
mod health;
#[cfg(feature = "oidc")]
pub mod introspect;
mod issuer;
pub(crate) mod keyring;
pub(crate) mod keyset;
pub mod legacy;
#[cfg(feature = "oidc")]
pub(crate) mod refetch;
#[cfg(feature = "oidc")]
pub(crate) mod remote;
pub(crate) mod revoke;
mod scopes;
pub mod verify;

pub use check::TokenCheck;
pub use health::{KeySetSource, KeySetState, KeySetStatus};
#[cfg(feature = "oidc")]
pub use introspect::Introspection;
pub use issuer::Issuer;
pub use legacy::{LegacyFormat, LegacyIssuer};
pub use revoke::{Revocation, RevokeError, Revoked};
pub use scopes::ScopeClaim;
pub use verify::VerifyError;

pub(crate) use external::{TrustedIssuer, TrustedIssuers};
