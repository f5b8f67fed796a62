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
//! assert_eq!(auth.access_cookie_name(), Some("__Host-session"));
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
//! [`TokenAuth::check_same_origin`](crate::TokenAuth::check_same_origin) (and the [`SameOrigin`] extractor) is the same origin
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
//! ## The verified-token cache
//!
//! The verified-token cache of a [`TokenAuthLayer`]: a repeated
//! valid token does not pay for its signature check and decoding again.
//!
//! ## What it keeps, and why a hit is safe
//!
//! * Keyed by a **128-bit keyed digest of the whole token string** (see *Collision
//!   resistance* below); the token itself is not stored. A token that differs from a
//!   cached one in any byte — tampered payload, other signature, other header — has
//!   another digest, is a miss and is verified in full.
//! * Only tokens that passed every check are inserted: the cache cannot be poisoned.
//! * On every hit, expiry is checked again against the clock (with the issuer's leeway),
//!   the trust epoch must be the current one (a retired key voids every entry verified
//!   before), and the revocation check and the CSRF check run exactly as on a miss.
//!
//! ## Collision resistance
//!
//! The digest is SipHash-2-4 with 128-bit output (the reference implementation's
//! `siphash` with `outlen = 16`, from the `siphasher` crate) under a random 128-bit key
//! drawn when the cache is built. The key never leaves the process and digests are never
//! shown to anyone: a client only learns whether its request was accepted. A forged token
//! `F` that has the digest of a cached token `V` would be accepted *as `V`* (the cache
//! hands back `V`'s verified claims, never `F`'s), so colliding must be infeasible
//! without the key. SipHash-2-4 was designed as a PRF keyed by 128 bits (Aumasson and
//! Bernstein, 2012) and no attack better than guessing the key is known; modelled as a
//! PRF with 128-bit outputs, each forged token hits one of the `n` cached digests with
//! probability at most `n / 2^128` (`n ≤ 2^20` in any configuration that fits in
//! memory: `≤ 2^-108` per attempt; an attacker making 2^40 attempts — a million a
//! second for twelve days — stays below 2^-68). The attacker cannot even test a guess
//! offline: every attempt is a request. Two tokens of the attacker's own that collide
//! (a birthday bound, 2^64 tokens) gain nothing: both are valid and its own.
//!
//! Cost, measured by the crate's `cache` benchmark on a 450-byte token (one of ours; an identity
//! provider's 900-byte token costs about twice as much): SipHash-2-4-128 ≈ 0.15 µs,
//! SipHash-1-3-128 ≈ 0.09 µs, HMAC-SHA256 ≈ 0.31 µs (pre-keyed, SHA extensions) or
//! 0.39 µs (aws-lc-rs), comparing a stored token byte for byte ≈ 5 ns. SipHash-2-4 is
//! the conservative choice at half HMAC's price; storing tokens instead would cost
//! their size in memory (up to [`MAX_CACHED_TOKEN`] bytes each) and break the bound
//! below.
//!
//! ## Bounds
//!
//! Two limits, both configurable on the builder: entries
//! ([`verified_cache_capacity`](crate::TokenAuthBuilder::verified_cache_capacity),
//! default [`DEFAULT_CACHE_CAPACITY`] = 16 384) and bytes
//! ([`verified_cache_bytes`](crate::TokenAuthBuilder::verified_cache_bytes), default
//! [`DEFAULT_CACHE_BYTES`] = 16 MiB). The structures sized by the entry limit (hash
//! table, queues, ghost queue: about 330 bytes per entry of capacity) are allocated up
//! front and taken off the byte budget; each entry is then charged the size of its
//! decoded claims value, twice its claims JSON (the JSON kept for other claims types,
//! and an estimate of the decoded claims' heap: strings and lists copied out of that
//! JSON) and 64 bytes of allocation overhead. The token itself is never stored, so the
//! cache stays within its byte budget whatever the tokens' size (and an entry larger than
//! an eighth of a shard is not cached). With the defaults it holds 16 384 users whose
//! claims JSON is up to ~160 bytes (a `sub`, `jti`, `aud`, times and a few scopes);
//! richer claims (an identity provider's, often 600 bytes and more) fit fewer users in
//! the same 16 MiB, or raise the budget.
//!
//! ## Eviction: S3-FIFO
//!
//! Each shard runs S3-FIFO (Yang et al., SOSP 2023): a small FIFO queue (10 % of the
//! shard) where new tokens start, a main FIFO queue with CLOCK-style second chances
//! (a 2-bit hit counter per entry), and a ghost queue remembering the digests of tokens
//! recently evicted from the small queue. A hit only bumps the entry's counter (under
//! the shard's read lock). A token evicted from the small queue moves to the main one
//! if it was hit while there, else it leaves (its digest goes to the ghost queue); a
//! token found in the ghost queue when inserted again goes straight to main. Picked on
//! measurement among random eviction (the previous policy), LRU, CLOCK and S3-FIFO
//! under Zipf(s = 1): see the simulation `simulated_hit_rates_under_zipf` (an ignored
//! test) and the README's Performance section.
//!
//! **What it promises against a flood.** A stream of distinct valid tokens each
//! presented once (an attacker minting tokens of its own, or a crawler) evicts main
//! entries only until the small queue holds its 10 % share of the shard; from then on
//! one-time tokens only displace one another in the small queue. So a flood of any
//! length takes at most 10 % of the cache's entries (and bytes) away from the tokens
//! that were requested twice, which live in the main queue. To displace more, each flooding
//! token must itself be requested at least twice (while in the small queue, or again
//! while its digest is in the ghost queue); then the main queue's CLOCK still keeps
//! entries with hits since the hand's last pass over those that have none. The flood
//! costs the tokens that arrive during it and are requested once (they see their second
//! request miss) and the flooder's own verification work, never a valid user's access.
//! Tested by `a_flood_of_one_time_tokens_keeps_the_main_queue`.

pub(crate) mod cache;
pub(crate) mod cookies;
pub(crate) mod csrf;
pub(crate) mod extract;
pub(crate) mod grpc;
pub(crate) mod guard;
pub(crate) mod layer;
#[cfg(feature = "utoipa")]
#[cfg_attr(docsrs, doc(cfg(feature = "utoipa")))]
pub mod openapi;
pub(crate) mod rfc6750;
pub(crate) mod settings;
pub(crate) mod websocket;

pub use cache::{CacheStats, DEFAULT_CACHE_BYTES, DEFAULT_CACHE_CAPACITY, MAX_CACHED_TOKEN};
pub use cookies::CookieSettings;
pub use csrf::{CsrfSettings, SameOrigin, require_json_content_type};
pub use extract::{
    AuthRejection, Claims, CurrentUser, RequireAllScopes, RequireAnyScope, RequireScope, UserLoader,
};
pub use guard::{GuardFuture, ScopeGuard, ScopeGuardLayer};
pub use layer::{ResponseFuture, TokenAuthLayer, TokenAuthService, TokenSource};
pub use rfc6750::{
    AuthError, DEFAULT_REALM, ErrorRenderer, InvalidRequest, JsonErrorRenderer, RefusalBody,
};
