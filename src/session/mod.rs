//! [`Sessions`]: logins, refresh-token rotation with reuse detection, logout and session
//! lists, over a [`RefreshStore`](crate::store::RefreshStore) and the application's
//! [`SessionHooks`].
//!
//! A *session* is what one login starts: a chain of refresh tokens, each rotated into its
//! successor (what OAuth calls a "refresh token family"), with the access tokens issued
//! along it. Its id is the tokens' `fam` claim; it ends at logout, on revocation, when a
//! consumed refresh token is presented again, or at its absolute lifetime. Operations
//! fail with a [`SessionError`]; the ready routes answer it as the layer answers a refusal.
//!
//! ```
//! use std::time::Duration;
//! use axum::{Router, routing::post};
//! use axum_token_auth::{Sessions, TokenAuth, TokenRequest, store::memory::MemoryRefreshStore};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let auth = TokenAuth::builder().hs256_secret("a-random-secret-of-at-least-32-bytes!!").build()?;
//! let sessions = Sessions::builder(auth.clone(), MemoryRefreshStore::new())
//!     .grace(Duration::from_secs(10))
//!     .build()?;
//! let app: Router = Router::new()
//!     .route("/auth/refresh", sessions.refresh_route())
//!     .route("/auth/logout", sessions.logout_route());
//!
//! let login = sessions.login(&TokenRequest::new("alice").scopes(["users:read"]), None).await?;
//! let next = sessions.refresh(login.pair.refresh.as_str(), None).await?;
//! assert_ne!(next.pair.refresh, login.pair.refresh);
//! // A retry of the same token within the grace window gets the same successor…
//! let retry = sessions.refresh(login.pair.refresh.as_str(), None).await?;
//! assert_eq!(retry.pair.refresh.jti, next.pair.refresh.jti);
//! // …but once the successor was used, the old token is reuse: the session is revoked.
//! let third = sessions.refresh(next.pair.refresh.as_str(), None).await?;
//! assert!(sessions.refresh(login.pair.refresh.as_str(), None).await.is_err());
//! assert!(sessions.refresh(third.pair.refresh.as_str(), None).await.is_err());
//! # Ok(()) }
//! ```
//!
//! ## Hooks
//!
//! [`SessionHooks`]: what an application is told about sessions ([`SessionEvent`]) and
//! what it decides inside every refresh ([`SessionHooks::on_refresh`] →
//! [`RefreshDecision`]).
//!
//! ```
//! use async_trait::async_trait;
//! use axum_token_auth::{TokenClaims, session::{RefreshDecision, SessionHooks, SuccessorClaims}};
//! use serde_json::{Map, Value};
//!
//! /// Re-reads the user's scopes at each refresh; disabled users lose their sessions.
//! struct Accounts;
//!
//! #[async_trait]
//! impl SessionHooks for Accounts {
//!     async fn on_refresh(&self, parent: &TokenClaims<Map<String, Value>>) -> RefreshDecision {
//!         if parent.sub == "disabled-user" {
//!             return RefreshDecision::Deny;
//!         }
//!         // e.g. from a GrantStore: a revoked grant stops flowing into successors.
//!         RefreshDecision::AllowWith(SuccessorClaims::new().scopes(["users:read"]))
//!     }
//! }

mod builder;
mod error;
pub(crate) mod hooks;
mod login;
mod logout;
mod manage;
#[cfg(feature = "password")]
#[cfg_attr(docsrs, doc(cfg(feature = "password")))]
pub mod password_login;
mod refresh;
pub(crate) mod routes;
mod second_factor;
mod sessions;
pub mod throttle;

pub use builder::{DEFAULT_GRACE, DEFAULT_SESSION_LIFETIME, SessionsBuilder};
pub use error::SessionError;
pub use hooks::{NoHooks, RefreshDecision, SessionEvent, SessionHooks, SuccessorClaims};
pub use login::{LoginSession, SessionInfo};
#[cfg(feature = "password")]
pub use password_login::{PasswordAccount, PasswordAccounts, PasswordLogin, PasswordLoginBuilder};
pub use routes::{PresentedRefresh, RefreshRequest, TokenDelivery, user_agent};
pub use second_factor::SecondFactor;
pub use sessions::Sessions;
pub use throttle::{Limit, LoginAttempt, LoginLimiter, LoginThrottle, ThrottleScope, Throttled};
