//! A testkit for applications (and this crate's own tests): a ready authority, a clock
//! tests move, a cookie jar, claims for handler unit tests, attack tokens with an
//! assertion that a router refuses them, and a fake identity provider ([`FakeIdp`]:
//! provider-shaped tokens, its discovery document and keys on a loopback port, rotation
//! and outages on demand). Feature `testing`; meant for `[dev-dependencies]`:
//!
//! ```toml
//! [dev-dependencies]
//! axum-token-auth = { version = "0.1", features = ["testing"] }
//! ```
//!
//! ```
//! use std::time::Duration;
//! use axum::{Router, routing::get};
//! use axum_token_auth::{Claims, TokenRequest, testing};
//! use axum_token_auth::trust::TokenCheck;
//!
//! async fn me(claims: Claims) -> String { claims.sub.clone() }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! // A handler, unit-tested without a layer: its claims come from a real, verified token.
//! let auth = testing::test_auth();
//! assert_eq!(me(testing::claims(&auth, &TokenRequest::new("alice"))).await, "alice");
//!
//! // The route behind the layer refuses forged, expired and misdirected tokens.
//! let app = Router::new().route("/me", get(me)).layer(auth.layer());
//! testing::AttackTokens::for_auth(&auth, &TokenRequest::new("alice"))
//!     .unwrap()
//!     .assert_refused_by(&app, http::Method::GET, "/me")
//!     .await;
//!
//! // Time moves when the test says so.
//! let clock = testing::ManualClock::starting_now();
//! let auth = testing::test_builder().clock(clock.clone()).build().unwrap();
//! let token = auth.issue_access(&TokenRequest::new("alice")).unwrap();
//! clock.advance(auth.access_ttl() + Duration::from_secs(60));
//! assert!(auth.validate::<axum_token_auth::NoCustomClaims>(token.as_str(), TokenCheck::ACCESS).await.is_err());
//! # }
//! ```
//!
//! Nothing here is a mock: the authority, the verification behind [`claims`] and the
//! layer the attacks are sent through are the production ones.

mod attacks;
mod clock;
mod cookies;
mod dpop;
mod external_attacks;
mod idp;

use std::sync::Arc;

use serde::de::DeserializeOwned;

pub use attacks::{Attack, AttackTokens};
pub use clock::ManualClock;
pub use cookies::CookieJar;
pub use dpop::{DpopKey, ProofBuilder};
pub use idp::{FAKE_IDP_AUDIENCE, FAKE_IDP_CLIENT_ID, FakeIdp, Provider, ProviderToken};

use crate::auth::{TokenAuth, TokenAuthBuilder};
use crate::http::cookies::CookieSettings;
use crate::http::extract::Claims;
use crate::token::claims::TokenKind;
use crate::token::issue::TokenRequest;

/// The HS256 secret of [`test_builder`]: fixed (tokens of one test run verify in
/// another), strong enough for the checks of [`Key::hmac`](crate::Key::hmac), and public —
/// never use it outside tests.
pub const TEST_SECRET: &str = "axum-token-auth-testing-secret-NOT-FOR-PRODUCTION-0123456789";

/// A builder for tests: HS256 with [`TEST_SECRET`], the in-memory revocation store (the
/// default), and [`CookieSettings::insecure_dev_cookies`] so cookies work over plain
/// `http://` and carry plain names (`access_token`, `refresh_token`, `csrf_token`).
/// Everything else is the production default; chain more settings as usual.
///
/// ```
/// use axum_token_auth::testing::test_builder;
///
/// let auth = test_builder().issuer("https://auth.test").audience("api").build()?;
/// assert_eq!(auth.web().cookie_settings().csrf_cookie_name(), "csrf_token");
/// # Ok::<(), axum_token_auth::ConfigError>(())
/// ```
pub fn test_builder() -> TokenAuthBuilder {
    TokenAuth::builder()
        .hs256_secret(TEST_SECRET)
        .cookies(CookieSettings::default().insecure_dev_cookies())
}

/// [`test_builder`], built.
///
/// ```
/// use axum_token_auth::{TokenRequest, testing::test_auth};
///
/// let auth = test_auth();
/// assert!(auth.issue_access(&TokenRequest::new("alice")).is_ok());
/// ```
pub fn test_auth() -> TokenAuth {
    test_builder()
        .build()
        .expect("the test authority's defaults are valid")
}

/// The [`Claims`] a handler behind `auth`'s layer would get for an access token issued
/// for `request`: the token is issued and verified for real (revocation aside), so a
/// handler can be unit-tested without a router. Use `claims::<MyClaims>(…)` for the
/// application's own claims type.
///
/// ```
/// use axum_token_auth::{Claims, TokenRequest, testing};
///
/// async fn is_admin(c: Claims) -> bool { c.has_scope("admin") }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let auth = testing::test_auth();
/// let admin = testing::claims(&auth, &TokenRequest::new("root").scopes(["admin"]));
/// assert!(is_admin(admin).await);
/// assert!(!is_admin(testing::claims(&auth, &TokenRequest::new("alice"))).await);
/// # }
/// ```
///
/// # Panics
///
/// When `request` cannot be issued or its claims do not fit `T` (the message says which
/// and never shows the token).
pub fn claims<T: DeserializeOwned>(auth: &TokenAuth, request: &TokenRequest) -> Claims<T> {
    let token = auth
        .issue_access(request)
        .unwrap_or_else(|e| panic!("testing::claims: the request cannot be issued: {e}"));
    let claims = auth
        .verify_offline::<T>(token.as_str(), TokenKind::Access)
        .unwrap_or_else(|e| panic!("testing::claims: the issued token was refused: {e}"));
    Claims(Arc::new(claims))
}
