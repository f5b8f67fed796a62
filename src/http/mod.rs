//! The HTTP side: the Tower layer that reads and verifies tokens, the extractors and
//! scope guards handlers use, RFC 6750 error rendering, cookies, CSRF protection and the
//! verified-token cache. Everything a request touches lives here; verification itself
//! is [`trust::verify`](crate::trust::verify)'s and knows no HTTP.
//!
//! A token's way through a request goes one direction: [`TokenAuthLayer`] → verify →
//! request extensions → extractor ([`Claims`], [`RequireScope`], …). A refusal is an
//! [`AuthError`], rendered by the configured [`ErrorRenderer`].
//!
//! Use `.route_layer(...)` rather than `.layer(...)` when unknown paths under the
//! guarded router must stay `404` (axum runs `.layer` middleware for the fallback too, so
//! an unauthenticated request to a missing path would get `401`); `.layer` is right when
//! the whole router, fallback included, is private.
//!
//! ## The layer
//!
//! [`TokenAuthLayer`]: the Tower layer that takes the token from `Authorization: Bearer`
//! or the access cookie, validates it, and puts the verified claims in the request's
//! extensions for the extractors.
//!
//! ```
//! use axum::{Router, routing::get};
//! use axum_token_auth::{Claims, TokenAuth, TokenAuthLayer};
//! use serde::Deserialize;
//!
//! #[derive(Deserialize)]
//! struct Org { org: String }
//!
//! let auth = TokenAuth::builder()
//!     .hs256_secret("a-random-secret-of-at-least-32-bytes!!")
//!     .build()?;
//! let app: Router = Router::new()
//!     .route("/org", get(|c: Claims<Org>| async move { c.custom.org.clone() }))
//!     .layer(TokenAuthLayer::<Org>::new(auth.clone()))
//!     // routes added after `.layer` are not behind it
//!     .route("/health", get(|| async { "ok" }));
//! # Ok::<(), axum_token_auth::ConfigError>(())
//! ```
//!
//! ## Extractors
//!
//! Axum extractors: [`Claims<T>`] (and `Option<Claims<T>>`), and the scope guards
//! [`RequireScope<S>`], [`RequireAllScopes<L>`], [`RequireAnyScope<L>`].
//!
//! ```
//! use axum::{Router, routing::{get, post}};
//! use axum_token_auth::{Claims, RequireScope, RequireAnyScope, TokenAuth, scope};
//!
//! scope! {
//!     pub UsersWrite = "users:write";
//!     pub Admin = "admin";
//! }
//!
//! async fn create_user(_: RequireScope<UsersWrite>, claims: Claims) -> String {
//!     format!("created by {}", claims.sub)
//! }
//! async fn dashboard(_: RequireAnyScope<(Admin, UsersWrite)>) -> &'static str { "ok" }
//!
//! let auth = TokenAuth::builder().hs256_secret("a-random-secret-of-at-least-32-bytes!!").build()?;
//! let app: Router = Router::new()
//!     .route("/users", post(create_user))
//!     .route("/dashboard", get(dashboard))
//!     .layer(auth.layer());
//! # Ok::<(), axum_token_auth::ConfigError>(())
//! ```
//!
//! ## Guarding a whole router
//!
//! [`ScopeGuardLayer`]: guards a whole (sub-)router by scope, behind [`TokenAuthLayer`].
//!
//! ```
//! use axum::{Router, routing::get};
//! use axum_token_auth::{ScopeGuardLayer, TokenAuth};
//!
//! let auth = TokenAuth::builder().hs256_secret("a-random-secret-of-at-least-32-bytes!!").build()?;
//! let admin: Router = Router::new()
//!     .route("/stats", get(|| async { "42" }))
//!     .route_layer(ScopeGuardLayer::all(["admin"]).unwrap());
//! let app: Router = Router::new().nest("/admin", admin).layer(auth.layer());
//! # Ok::<(), axum_token_auth::ConfigError>(())
//! ```
//!
//! Like the layer, the guard wraps any `http` service whose response body implements
//! [`RefusalBody`] (a tonic server with the `tonic` feature:
//! `Server::builder().layer(auth.layer()).layer(ScopeGuardLayer::all(["admin"])?)`),
//! and refuses gRPC requests with a gRPC status (7 `PERMISSION_DENIED`).
//!
//! ## Step-up (RFC 9470)
//!
//! [`StepUpLayer`] (configured at run time) and [`RequireStepUp<P>`] (a policy declared
//! with [`step_up!`](crate::step_up!)) require a stronger (`acr`) or more recent
//! (`auth_time`) authentication, and refuse with 401 `insufficient_user_authentication`
//! naming what is missing (see the [step-up recipe](crate::manual::step_up)).
//!
//! ```
//! use std::time::Duration;
//! use axum::{Router, routing::{get, post}};
//! use axum_token_auth::{TokenAuth, http::{RequireStepUp, StepUpLayer}, step_up};
//!
//! step_up!(pub RecentMfa = acr ["mfa"], max_age 300);
//!
//! let auth = TokenAuth::builder().hs256_secret("a-random-secret-of-at-least-32-bytes!!").build()?;
//! let app: Router = Router::new()
//!     .route("/sensitive", get(|| async { "ok" }))
//!     .route_layer(StepUpLayer::acr(["mfa"])?.max_age(Duration::from_secs(300)))
//!     .route("/transfer", post(|_: RequireStepUp<RecentMfa>| async { "sent" }))
//!     .layer(auth.layer());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Cookies
//!
//! Cookie settings and the `Set-Cookie` headers that carry tokens to browsers.
//!
//! Defaults are the secure ones: `HttpOnly` always, `Secure` on, `SameSite=Lax` for the
//! access cookie (sent on top-level navigations), `SameSite=Strict` for the refresh
//! cookie, which is also scoped to the refresh path so it is sent nowhere else, and
//! prefixed names: `__Host-access_token`, `__Host-csrf_token` (Secure, `Path=/`, no
//! `Domain`: only this very host can set them, so a sibling subdomain cannot toss a
//! cookie of its own in) and `__Secure-refresh_token` (it needs its own path, which
//! `__Host-` forbids). A tossed refresh cookie still fails: a cookie refresh must send
//! the CSRF value bound into *that* token, and the `__Host-csrf_token` the page reads is
//! the victim's own.
//!
//! ⚠️ `Secure` cookies are sent over plain `http://` only to `localhost` by browsers, and
//! many HTTP clients never send them to `http://127.0.0.1`. For local demos use
//! `http://localhost`, or [`CookieSettings::insecure_dev_cookies`] (which also drops the
//! prefixes, since browsers refuse prefixed cookies without `Secure`) — never in
//! production.
//!
//! ```
//! use axum_token_auth::{TokenAuth, http::CookieSettings};
//! use axum_token_auth::cookie::SameSite;
//!
//! let auth = TokenAuth::builder()
//!     .hs256_secret("a-random-secret-of-at-least-32-bytes!!")
//!     .cookies(
//!         CookieSettings::default()
//!             .access_name("session")            // __Host-session, …
//!             .access_same_site(SameSite::Strict),
//!     )
//!     .build()?;
//! assert_eq!(auth.web().access_cookie_name(), Some("__Host-session"));
//! # Ok::<(), axum_token_auth::ConfigError>(())
//! ```
//!
//! ## CSRF
//!
//! CSRF protection for cookie-authenticated requests: a double submit bound to the token,
//! plus an `Origin` / `Sec-Fetch-Site` check.
//!
//! At login a random value is set in a readable cookie (`csrf_token`) and its SHA-256
//! digest is bound into the access and refresh tokens (`csrf` claim). A request that is
//! authenticated by cookie and uses an unsafe method (anything but GET, HEAD, OPTIONS,
//! TRACE) must send the value in `X-CSRF-Token`; it is hashed and compared in constant
//! time with the token's claim. Such a request is also refused when the browser says it
//! is cross-site (`Sec-Fetch-Site: cross-site`) or its `Origin` is not this host (or a
//! trusted origin). Requests with an `Authorization: Bearer` header are exempt: a browser
//! never adds that header by itself.
//!
//! A cookie-authenticated WebSocket handshake (`GET` with `Upgrade: websocket`) gets the
//! `Origin` / `Sec-Fetch-Site` check too (a page cannot add `X-CSRF-Token` to a
//! handshake, and browsers send cookies with cross-site handshakes): cross-site WebSocket
//! hijacking is refused with 403.
//!
//! A request with neither `Origin` nor `Sec-Fetch-Site` passes the origin check (the
//! token-bound double submit still applies): browsers send `Origin` on every cross-origin
//! `POST`/`PUT`/`PATCH`/`DELETE` and WebSocket handshake, and every current browser sends
//! `Sec-Fetch-Site`, so only non-browser clients (curl, servers, which no forged page can
//! drive) send neither.
//!
//! [`Web::check_same_origin`](crate::http::Web::check_same_origin) (and the [`SameOrigin`] extractor) is the same origin
//! check as a building block for any handler — a login handler above all, where it stops
//! login CSRF (a cross-site form logging the victim into the attacker's account); pair it
//! with [`require_json_content_type`], since a cross-site form cannot send
//! `application/json` without a CORS preflight.
//!
//! ```
//! use axum_token_auth::{TokenAuth, http::CsrfSettings};
//!
//! let auth = TokenAuth::builder()
//!     .hs256_secret("a-random-secret-of-at-least-32-bytes!!")
//!     .csrf(CsrfSettings::default().trusted_origin("https://app.example.com"))
//!     .build()?;
//! # Ok::<(), axum_token_auth::ConfigError>(())
//! ```
//!
//! ## Certificate-bound tokens
//!
//! A token whose `cnf` names a client certificate (`x5t#S256`, RFC 8705 §3: an identity
//! provider's, or one of ours minted with
//! [`Confirmation::certificate_der`](crate::token::Confirmation::certificate_der), see
//! [`TokenAuth::issue_service`](crate::TokenAuth::issue_service)) is accepted only when
//! the request's client certificate has that SHA-256 thumbprint, and refused with 401
//! `invalid_token` otherwise. The certificate is the [`ClientCertificate`] the
//! application's TLS listener put in the request's extensions or, behind a
//! TLS-terminating proxy, the one header [`MtlsSettings`] trusts — no other header is
//! ever read. Unbound tokens are not affected.
//!
//! ## The verified-token cache
//!
//! The verified-token cache of a [`TokenAuthLayer`]: a repeated valid token does not pay
//! for its signature check and decoding again. Only verified tokens are cached, keyed by a
//! 128-bit keyed digest of the whole token, and expiry, revocation and CSRF are checked on
//! every hit; bounded by [`DEFAULT_CACHE_CAPACITY`] entries and [`DEFAULT_CACHE_BYTES`]
//! (both configurable on the builder), evicting by S3-FIFO. Why a hit is safe (the
//! collision argument), the bounds and the eviction policy:
//! [`manual::cache`](crate::manual::cache).

pub(crate) mod cache;
pub(crate) mod cookies;
pub(crate) mod csrf;
pub(crate) mod dpop;
pub mod events;
pub(crate) mod extract;
pub(crate) mod grpc;
pub(crate) mod guard;
pub(crate) mod layer;
pub(crate) mod mtls;
#[cfg(feature = "utoipa")]
#[cfg_attr(docsrs, doc(cfg(feature = "utoipa")))]
pub mod openapi;
pub(crate) mod resource;
pub(crate) mod rfc6750;
pub(crate) mod settings;
pub(crate) mod step_up;
pub(crate) mod web;
pub(crate) mod websocket;

pub use cache::{CacheStats, DEFAULT_CACHE_BYTES, DEFAULT_CACHE_CAPACITY, MAX_CACHED_TOKEN};
pub use cookies::CookieSettings;
pub use csrf::{CsrfSettings, SameOrigin, require_json_content_type};
pub use dpop::{DPOP, DpopProof};
pub use extract::{
    AuthRejection, Claims, CurrentUser, RequireAllScopes, RequireAnyScope, RequireScope, UserLoader,
};
pub use guard::{GuardFuture, ScopeGuard, ScopeGuardLayer};
pub use layer::{ResponseFuture, TokenAuthLayer, TokenAuthService, TokenSource};
pub use mtls::{ClientCertificate, MtlsSettings};
pub use resource::{ProtectedResource, RESOURCE_METADATA_SEGMENT};
pub use rfc6750::{
    AuthError, DEFAULT_REALM, DPOP_NONCE, ErrorRenderer, InvalidRequest, JsonErrorRenderer,
    RefusalBody,
};
pub use step_up::{RequireStepUp, StepUpGuard, StepUpLayer};
pub use web::Web;
