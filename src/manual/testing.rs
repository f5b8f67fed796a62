//! Testing an application that uses this crate, and running this crate's own tests.
//!
//! # Your application
//!
//! With `axum-token-auth = { version = "0.1", features = ["testing"] }` in
//! `[dev-dependencies]`, [`testing`](crate::testing) has what this crate's own tests use: a
//! ready authority (`test_auth()`, `test_builder()`: a fixed test secret, the in-memory
//! store, cookies that work over plain http), a `ManualClock` to share with it and move, a
//! `CookieJar` that turns `Set-Cookie` answers into the next request's `Cookie` and CSRF
//! headers, `claims(&auth, &request)` to unit-test a handler without a router, and
//! `AttackTokens`: alg `none`, public-key confusion, expired, not yet valid, unknown `kid`,
//! wrong `aud` / `iss` / `typ`, tampered payload or signature, a foreign secret — each
//! derived from a genuine token of the authority's own and breaking one thing. A route that
//! requires a token behind the layer refuses each with 401; `testing::Attack` says what
//! they do not cover (routes outside the layer, `optional()` routes, identity providers'
//! tokens, which may be untyped `JWT`s: for those, `AttackTokens::for_issuer` below).
//!
//! ```
//! # #[cfg(feature = "testing")]
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use axum::{Router, routing::get};
//! use axum_token_auth::{Claims, TokenRequest, testing::{AttackTokens, test_auth}};
//!
//! let auth = test_auth();
//! let app = Router::new().route("/me", get(|c: Claims| async move { c.sub.clone() })).layer(auth.layer());
//! // The genuine token passes, every attack token is answered 401 (the test fails otherwise).
//! AttackTokens::for_auth(&auth, &TokenRequest::new("alice")).unwrap()
//!     .assert_refused_by(&app, http::Method::GET, "/me").await;
//! # }
//! # #[cfg(not(feature = "testing"))] fn main() {}
//! ```
//!
//! # Your identity provider, faked
//!
//! A service that trusts Keycloak, Auth0, Entra ID, Cognito or Google need not hand-make
//! look-alike tokens and a stand-in JWKS server: `testing::FakeIdp` mints tokens shaped
//! like the provider's (its `iss`, `aud` or `client_id`, `typ` or none, no `jti` where
//! the provider sends none, its scope and role claims; `ProviderToken` cites each
//! provider's reference) and serves its discovery document and key set on a loopback
//! port. `FakeIdp::issuer()` is the provider's preset pointed at it, so the test runs
//! the rules the service runs in production. The test decides what the provider does:
//! `rotate()` and `drop_key(kid)`, `stop()` (connection refused) and `resume()`,
//! `slow(delay)`, `garbage()` (an HTML page instead of JSON), and it reads
//! `discovery_fetches()` / `jwks_fetches()`. `AttackTokens::for_issuer` builds the
//! attack set that issuer's rules refuse; what they accept (`typ: JWT` without
//! `require_at_jwt`, a missing `jti`) is not in it.
//!
//! ```
//! # #[cfg(all(feature = "testing", feature = "oidc"))]
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use axum::{Router, routing::get};
//! use axum_token_auth::Claims;
//! use axum_token_auth::testing::{AttackTokens, FakeIdp, Provider, test_builder};
//!
//! let idp = FakeIdp::start(Provider::entra("7f0c2a1e-3b4d-4e5f-8a9b-0c1d2e3f4a5b")).await;
//! let auth = test_builder().trust(idp.issuer()).build().unwrap();
//! assert!(auth.await_ready(std::time::Duration::from_secs(5)).await); // keys fetched
//! let app = Router::new().route("/me", get(|c: Claims| async move { c.sub.clone() })).layer(auth.layer());
//! AttackTokens::for_issuer(&idp.issuer(), &idp.access_token("alice").scopes(["orders.read"]))
//!     .unwrap()
//!     .assert_refused_by(&app, http::Method::GET, "/me").await;
//! idp.rotate(); // the next token's new `kid` is fetched at once
//! # }
//! # #[cfg(not(all(feature = "testing", feature = "oidc")))] fn main() {}
//! ```
//!
//! # This crate
//!
//! ```sh
//! cargo run --example quickstart   # the demo API on http://127.0.0.1:3000 (prints what to curl)
//! scripts/test.sh                  # fmt, clippy, every test with every feature
//! ```
//!
//! `scripts/test.sh` installs what a fresh Debian machine with Rust lacks (Redis and
//! PostgreSQL from Debian's packages, for the store tests; Node.js and the pinned npm
//! packages of `scripts/oidc`, a real OpenID Provider the external-issuer tests start on
//! loopback), starts throwaway instances on loopback, runs everything and stops them again.
//! CI runs it through `.ci/run`. The stores share one conformance suite
//! (`tests/conformance/`);
//! `tests/outage.rs`, `tests/multi_process.rs` and `tests/redis_cluster_failover.rs` are
//! described in [stores](super::stores).
