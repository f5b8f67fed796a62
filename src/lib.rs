//! Production-grade JWT authentication for [axum](https://docs.rs/axum) in one `.layer()`
//! call: a Tower layer that validates tokens from `Authorization: Bearer` or an HttpOnly
//! cookie, typed claims and scope guards for handlers, and the token life cycle around it —
//! issuing, cookie sessions with refresh-token rotation and reuse detection, CSRF protection,
//! revocation, per-tenant scope grants, password hashing — on an in-memory store, Redis or
//! PostgreSQL. The same layer trusts the identity providers you already run, and accepts the
//! tokens of the systems it replaces during a migration window.
//!
//! ```
//! use axum::{Router, body::Body, http::{Request, StatusCode}, routing::get};
//! use axum_token_auth::{Claims, RequireScope, TokenAuth, TokenRequest, scope};
//! use tower::ServiceExt;
//!
//! scope!(pub UsersRead = "users:read");
//!
//! async fn users(_: RequireScope<UsersRead>, claims: Claims) -> String {
//!     format!("{} may read users", claims.sub)
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let auth = TokenAuth::builder()
//!     .hs256_secret("a-random-secret-of-at-least-32-bytes!!")
//!     .build()?; // or TokenAuth::from_env()?
//! let app = Router::new().route("/users", get(users)).layer(auth.layer());
//!
//! let token = auth.issue_access(&TokenRequest::new("alice").scopes(["users:read"]))?;
//! let request = Request::get("/users")
//!     .header("authorization", format!("Bearer {}", token.as_str()))
//!     .body(Body::empty())?;
//! assert_eq!(app.clone().oneshot(request).await?.status(), StatusCode::OK);
//!
//! let anonymous = Request::get("/users").body(Body::empty())?;
//! assert_eq!(app.oneshot(anonymous).await?.status(), StatusCode::UNAUTHORIZED);
//! # Ok(()) }
//! ```
//!
//! # Where things are
//!
//! The crate's public modules are its architecture; dependencies point one way
//! (`token` ← `store` ← `trust` ← `http` ← `auth` ← `session`, checked by
//! `tests/it/architecture.rs`; `password`, a leaf, is used by `session`'s password
//! logins). The crate root re-exports the everyday items.
//!
//! | module | what lives there |
//! | --- | --- |
//! | [`auth`] | [`TokenAuth`], the one handle (`TokenAuth::builder()…build()?` or `TokenAuth::from_env()?`; immutable, `Clone` = `Arc` bump): `issue_access / issue_refresh / issue_service / issue_pair`, `validate` / `validate_any`, `revoke`, `Revocation::subject`, `revoke_noted(token, &RevocationNote::new("why").by("who"))`, the live keyring (`rotate_signing_key`, `add_verification_key`, `retire_key`, `jwks_route()`), `check_same_origin`, `render_error`; [`TokenAuthBuilder`] |
//! | [`token`] | the wire format, pure: [`TokenClaims<T>`] (`to_value` / `from_value`), [`TokenRequest`] (scopes, tenant, metadata, custom claims, lifetime), [`Key`], [`Scope`](crate::token::Scope) / [`ScopeSet`](crate::token::ScopeSet) and the `scope!` markers, [`Clock`](crate::token::Clock), [`InvalidToken`](crate::token::InvalidToken), [`ConfigError`] |
//! | [`trust`] | whom we trust: [`Issuer`](crate::trust::Issuer) presets (Keycloak, Auth0, Entra ID, Cognito, Google), OIDC discovery and live JWKS (watched: [`KeySetStatus`](crate::trust::KeySetStatus)), [`LegacyIssuer`](crate::trust::LegacyIssuer) for the seed systems' tokens during a migration window, and [`verify`](crate::trust::verify): every check, in order, returning [`VerifyError`](crate::trust::VerifyError) |
//! | [`http`] | [`TokenAuthLayer`] for any `http` service, axum or tonic (`auth.layer()`, `.optional()`, `.optional_refusing_invalid()`, `.also_accept(TokenKind::Service)`, `.accept_query_token_on_upgrade()` for WebSockets; gRPC requests are refused with `grpc-status`), extractors [`Claims<T>`] (any `T: Deserialize`, decoded at most once per request), [`RequireScope<S>`], [`RequireAllScopes<(A, B)>`], [`RequireAnyScope<(A, B)>`], [`CurrentUser<L>`](crate::http::CurrentUser) over your `UserLoader`, [`ScopeGuardLayer`] for sub-routers, RFC 6750 [`AuthError`] (one error path: a handler's `AuthError` is rendered by the configured renderer too; `apply_headers` for your own bodies) and your [`ErrorRenderer`](crate::http::ErrorRenderer), `http::openapi` (feature `utoipa`), [`ProtectedResource`](crate::http::ProtectedResource) (RFC 9728 metadata, `resource_metadata` in every 401, audience binding), [`CookieSettings`](crate::http::CookieSettings), [`CsrfSettings`](crate::http::CsrfSettings), [`SameOrigin`](crate::http::SameOrigin), `require_json_content_type`, the verified-token cache |
//! | [`session`] | [`Sessions`]: login (its `SessionError` answers by itself: 401, 503, 500; `login_with(&req, &SessionInfo)` for user agent, device, IP), rotation with reuse detection, logout, session lists, ready routes, password logins ([`Sessions::password_login`](crate::session::Sessions::password_login): one hash per attempt, a dummy for unknown users, off the async threads) throttled per account and client address ([`throttle`](crate::session::throttle)), [`PresentedRefresh`](crate::session::PresentedRefresh) / `read_refresh_request` for your own refresh handler, [`SessionHooks`](crate::session::SessionHooks) (events, and a say in every refresh) |
//! | [`store`] | the traits ([`RevocationStore`](crate::store::RevocationStore), [`RefreshStore`](crate::store::RefreshStore), [`GrantStore`](crate::store::grants::GrantStore): per-tenant scope grants with an audit trail) and their backends: [`memory`](crate::store::memory), `redis`, `postgres` (features), each behind a circuit [`breaker`](crate::store::breaker) (timeouts, bounded calls in flight); failed-login counters ([`attempts`](crate::store::attempts)) |
//! | [`testing`] | (feature) a clock tests advance, a ready test authority, Set-Cookie → Cookie helpers, claims for handler unit tests, attack tokens with a router assertion |
//! | [`password`] | argon2id; verifies bcrypt hashes too (passlib migrations); `check_password` returns `MatchUpgrade { new_hash }` after a login on a bcrypt or weak hash. bcrypt reads 72 bytes: a longer password never matches a bcrypt hash (instead of matching every password sharing those 72 bytes); a user whose passlib hash was made from a longer password must reset it |
//!
//! # The manual
//!
//! The long prose lives in [`manual`]: the [security model](manual::security), the
//! [wire format](manual::wire_format), [identity providers](manual::identity_providers),
//! [sessions](manual::sessions), [stores in operation](manual::stores), the
//! [verified-token cache](manual::cache), [the layer in use](manual::layer),
//! [configuration](manual::configuration), [MCP servers](manual::mcp), [metrics](manual::metrics),
//! [performance](manual::performance), [testing](manual::testing) and the
//! [migration guides](manual::migration).
//!
//! # Features
//!
//! | feature | default | what |
//! | --- | --- | --- |
//! | `aws_lc_rs` | yes | jsonwebtoken's aws-lc-rs backend (RS256 verify ≈ 22 µs vs 192 µs) |
//! | `rust_crypto` | no | jsonwebtoken's RustCrypto backend; with both on, aws-lc-rs is installed explicitly (no runtime panic) |
//! | `password` | yes | argon2id / bcrypt password hashing |
//! | `redis` | no | `store::redis::RedisStore` |
//! | `postgres` | no | `store::postgres::PostgresStore` (sqlx, embedded migrations) |
//! | `oidc` | no | remote key sets of external issuers: `Issuer::discover` / `Issuer::jwks_url` (reqwest with rustls) |
//! | `metrics` | no | counters, histograms and gauges through the `metrics` facade ([metrics](manual::metrics)) |
//! | `testing` | no | [`testing`]: `ManualClock`, `test_auth()`, `CookieJar`, `claims()`, `AttackTokens` (for `[dev-dependencies]`) |
//! | `utoipa` | no | `http::openapi`: OpenAPI security schemes from the configuration, requirements from `scope!` markers (utoipa 5) |
//! | `tonic` | no | the layer in front of tonic 0.14 servers (`tonic::body::Body` refusals), `AuthError` → `tonic::Status` |
//!
//! The README (on GitHub and crates.io) is a shorter introduction; its examples are
//! compiled as doctests too.

#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![warn(missing_docs, rust_2018_idioms, unreachable_pub)]

pub mod auth;
pub mod http;
pub mod manual;
pub mod session;
mod telemetry;
pub mod token;

#[cfg(feature = "password")]
#[cfg_attr(docsrs, doc(cfg(feature = "password")))]
pub mod password;
pub mod store;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;
pub mod trust;

pub use crate::auth::{TokenAuth, TokenAuthBuilder};
pub use crate::http::{
    AuthError, Claims, RequireAllScopes, RequireAnyScope, RequireScope, ScopeGuardLayer,
    TokenAuthLayer,
};
pub use crate::session::Sessions;
pub use crate::token::{ConfigError, Key, NoCustomClaims, TokenClaims, TokenRequest};

/// The `async_trait` attribute, for implementing this crate's async traits
/// ([`UserLoader`](http::UserLoader), [`SessionHooks`](session::SessionHooks), the store
/// traits).
pub use async_trait::async_trait;
/// The `cookie` crate, whose `SameSite` and `Cookie` appear in this crate's API.
pub use cookie;

/// The README's examples, compiled as doctests (the README is not the crate's docs).
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

#[doc(hidden)]
pub mod __private {
    pub use crate::token::scope::check_scope;
    pub use crate::token::step_up::check_acr;
}
