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
//! tokens, which may be untyped `JWT`s).
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
