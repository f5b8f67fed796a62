//! [`TokenAuth`], the one handle a service builds, and its [`TokenAuthBuilder`]: a facade
//! over [`token`](crate::token) (what a token carries), [`trust`](crate::trust) (whose
//! signatures count), [`store`](crate::store) (revocations) and [`http`](crate::http)
//! (the layer, cookies, CSRF). Built once; cloning is an `Arc` bump, and every layer and
//! [`Sessions`](crate::Sessions) made from it share its keyring and stores.
//!
//! ```
//! use axum_token_auth::trust::TokenCheck;
//! use std::time::Duration;
//! use axum_token_auth::{NoCustomClaims, TokenAuth, TokenRequest};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let auth = TokenAuth::builder()
//!     .hs256_secret("a-random-secret-of-at-least-32-bytes!!")
//!     .issuer("https://auth.example.com")
//!     .audience("orders-api")
//!     .access_ttl(Duration::from_secs(10 * 60))
//!     .build()?;
//!
//! // Issue, validate, revoke: what the layer and the session routes do for you.
//! let token = auth.issue_access(&TokenRequest::new("alice").scopes(["orders:read"]))?;
//! let claims = auth.validate::<NoCustomClaims>(token.as_str(), TokenCheck::ACCESS).await?;
//! assert!(claims.has_scope("orders:read"));
//! auth.revoke(token.as_str()).await?;
//! assert!(auth.validate::<NoCustomClaims>(token.as_str(), TokenCheck::ACCESS).await.is_err());
//! # Ok(()) }
//! ```
//!
//! The same settings come from the environment with [`TokenAuth::from_env`] (the `JWT_*`
//! variables of the systems this crate replaces; see [`TokenAuthBuilder::from_env_with`]).
//! Keys rotate on the live handle ([`TokenAuth::rotate_signing_key`]); the revocation
//! store is guarded by a circuit breaker unless told otherwise
//! ([`TokenAuthBuilder::store_guard`]).

pub(crate) mod builder;
mod events;
mod issue;
mod keys;
mod verify;
mod web;

pub use builder::{
    DEFAULT_ACCESS_TTL, DEFAULT_LEEWAY, DEFAULT_MAX_TOKEN_BYTES, DEFAULT_REFRESH_TTL,
    DEFAULT_SERVICE_TTL, TokenAuthBuilder,
};

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::jwk::JwkSet;

use crate::http::layer::TokenAuthLayer;
use crate::http::settings::WebSettings;
use crate::http::web::Web;
use crate::store::SubjectRevocation;
use crate::store::breaker::{BreakerState, StoreGuard};
use crate::token::claims::NoCustomClaims;
use crate::token::error::ConfigError;
use crate::trust::verify::Verifier;

/// The configured token authority: validates, issues and revokes tokens, and makes the
/// [`TokenAuthLayer`]. Built once with [`TokenAuth::builder`]; cloning is an `Arc` bump.
///
/// ```
/// use axum_token_auth::trust::TokenCheck;
/// use axum::{Router, routing::get};
/// use axum_token_auth::{Claims, TokenAuth, TokenRequest};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let auth = TokenAuth::builder()
///     .hs256_secret("a-random-secret-of-at-least-32-bytes!!")
///     .build()?;
/// let app: Router = Router::new()
///     .route("/me", get(|claims: Claims| async move { claims.sub.clone() }))
///     .layer(auth.layer());
///
/// let token = auth.issue_access(&TokenRequest::new("alice").scopes(["users:read"]))?;
/// let claims = auth.validate::<axum_token_auth::NoCustomClaims>(token.as_str(), TokenCheck::ACCESS).await?;
/// assert_eq!(claims.sub, "alice");
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct TokenAuth {
    inner: Arc<Inner>,
}

impl TokenAuth {
    pub(crate) fn from_inner(inner: Inner) -> Self {
        TokenAuth {
            inner: Arc::new(inner),
        }
    }

    /// The verification pipeline this handle and its layers share.
    pub(crate) fn verifier(&self) -> &Arc<Verifier> {
        &self.inner.verifier
    }

    /// The lifetimes of the tokens this handle issues.
    pub(crate) fn lifetimes(&self) -> &Lifetimes {
        &self.inner.lifetimes
    }
}

impl From<&TokenAuth> for Web {
    fn from(auth: &TokenAuth) -> Self {
        auth.inner.web.clone()
    }
}

impl From<TokenAuth> for Web {
    fn from(auth: TokenAuth) -> Self {
        auth.inner.web.clone()
    }
}

/// What the handle holds: the verification side (shared with every layer), the HTTP
/// settings (shared with every layer too) and the lifetimes of issued tokens.
pub(crate) struct Inner {
    verifier: Arc<Verifier>,
    web: Web,
    lifetimes: Lifetimes,
}

impl Inner {
    pub(crate) fn new(verifier: Arc<Verifier>, web: WebSettings, lifetimes: Lifetimes) -> Self {
        Inner {
            web: Web::new(Arc::clone(&verifier), web),
            verifier,
            lifetimes,
        }
    }
}

/// The lifetimes of the tokens this handle issues.
#[derive(Debug)]
pub(crate) struct Lifetimes {
    pub(crate) access_ttl: Duration,
    pub(crate) refresh_ttl: Duration,
    pub(crate) service_ttl: Duration,
}

impl fmt::Debug for TokenAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenAuth")
            .field("verifier", &self.inner.verifier)
            .field("lifetimes", &self.inner.lifetimes)
            .finish_non_exhaustive()
    }
}

impl TokenAuth {
    /// A builder with secure defaults; see [`TokenAuthBuilder`].
    pub fn builder() -> TokenAuthBuilder {
        TokenAuthBuilder::new()
    }

    /// Builds from the `JWT_*` environment variables (see [`TokenAuthBuilder::from_env_with`]).
    pub fn from_env() -> Result<Self, ConfigError> {
        TokenAuthBuilder::from_env()?.build()
    }

    /// The layer that requires a valid access token on every request it wraps and puts
    /// the verified claims in front of handlers. For custom claims use
    /// [`TokenAuthLayer::new`] with your type.
    pub fn layer(&self) -> TokenAuthLayer<NoCustomClaims> {
        TokenAuthLayer::new(self)
    }

    /// The HTTP side of this handle: what its layers share, and the helpers an
    /// application's own routes use to answer like them (cookies, the same-origin check,
    /// error rendering, the JWKS route). See [`Web`].
    pub fn web(&self) -> &Web {
        &self.inner.web
    }

    /// The public keys of the crate's own keyring as a JWKS document, as they are now
    /// (empty for HMAC-only keyrings). Keys of trusted external issuers never appear here.
    pub fn jwks(&self) -> JwkSet {
        self.verifier().keys.load().jwks()
    }

    /// Waits until every trusted issuer with a remote key set has fetched it once, or
    /// `timeout` passes; returns whether all are ready. Optional: requests carrying a
    /// token of an issuer not ready yet are answered 503, and start-up never blocks.
    #[cfg(feature = "oidc")]
    #[cfg_attr(docsrs, doc(cfg(feature = "oidc")))]
    pub async fn await_ready(&self, timeout: Duration) -> bool {
        let mut ready = true;
        for issuer in self.verifier().trusted.iter() {
            if let Some(remote) = issuer.remote() {
                ready &= remote.await_ready(timeout).await;
            }
        }
        ready
    }

    /// The state of every trusted issuer's key set, in configuration order: whether its
    /// tokens verify now, the set's age, how stale against `max_stale`, fetch and refetch
    /// counts (see [`KeySetStatus`](crate::trust::KeySetStatus), which also says what to
    /// alert on). For a health or readiness endpoint; the same figures are the
    /// `token_auth_key_set_*` metrics (feature `metrics`). Takes one short lock per
    /// remote set, never a fetch.
    ///
    /// ```
    /// use axum_token_auth::TokenAuth;
    ///
    /// let auth = TokenAuth::builder().hs256_secret("a-random-secret-of-at-least-32-bytes!!").build()?;
    /// assert!(auth.key_sets().is_empty(), "no external issuer");
    /// # Ok::<(), axum_token_auth::ConfigError>(())
    /// ```
    pub fn key_sets(&self) -> Vec<crate::trust::KeySetStatus> {
        self.verifier()
            .trusted
            .iter()
            .map(|i| i.key_set_status())
            .collect()
    }

    /// The issuers (`iss`) of the trusted external issuers.
    pub fn trusted_issuers(&self) -> impl Iterator<Item = &str> {
        self.verifier().trusted.iter().map(|i| &*i.iss)
    }

    /// The configured revocation store, behind its circuit breaker (see
    /// [`store::breaker`](crate::store::breaker)).
    pub fn revocation_store(&self) -> &Arc<dyn SubjectRevocation> {
        &self.verifier().revocation
    }

    /// Now, by the configured clock (seconds since the epoch).
    pub fn now(&self) -> u64 {
        self.verifier().clock.now()
    }

    /// The configured access-token lifetime.
    pub fn access_ttl(&self) -> Duration {
        self.inner.lifetimes.access_ttl
    }

    /// The configured refresh-token lifetime.
    pub fn refresh_ttl(&self) -> Duration {
        self.inner.lifetimes.refresh_ttl
    }
}

impl TokenAuth {
    /// The state of the revocation store's circuit breaker (`None` when stores are not
    /// guarded, see [`GuardSettings::disabled`](crate::store::breaker::GuardSettings::disabled)): for a health or readiness endpoint.
    pub fn store_breaker_state(&self) -> Option<BreakerState> {
        self.inner
            .verifier
            .revocation_guard
            .as_ref()
            .map(StoreGuard::state)
    }
}
