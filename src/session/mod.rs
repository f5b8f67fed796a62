//! [`Sessions`]: logins, refresh-token rotation with reuse detection, logout and session
//! lists, over a [`RefreshStore`] and the user's [`SessionHooks`].
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
//! // …but once the successor was used, the old token is reuse: the family is revoked.
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
//! ```

pub(crate) mod hooks;
pub(crate) mod routes;

pub use hooks::{NoHooks, RefreshDecision, SessionEvent, SessionHooks, SuccessorClaims};
pub use routes::{PresentedRefresh, RefreshRequest, TokenDelivery, user_agent};

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};
use tracing::Instrument;

use crate::auth::TokenAuth;
use crate::http::csrf::digest_bytes;
use crate::http::rfc6750::AuthError;
use crate::store::{
    AccessRef, NewFamily, RefreshStore, RotateOutcome, Rotation, Session, StoreError, Successor,
    TokenDigest,
};
use crate::token::TokenOrigin;
use crate::token::claims::{TokenClaims, TokenKind};
use crate::token::error::ConfigError;
use crate::token::error::InvalidToken;
use crate::token::issue::{IssueError, IssuedToken, TokenPair, TokenRequest, random_id};
use crate::trust::verify::KindSet;
use crate::trust::verify::{Accepted, TokenIdentity};

/// Default grace window for retrying the immediate parent: 10 seconds.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(10);
/// Default absolute lifetime of a refresh family: 30 days.
pub const DEFAULT_FAMILY_LIFETIME: Duration = Duration::from_secs(30 * 24 * 3600);

/// Raw claims: the registered ones typed, everything else (custom claims) kept as is, so
/// a successor carries exactly what its parent carried.
type RawClaims = TokenClaims<Map<String, Value>>;

/// A login's result: the pair, the CSRF value for the readable cookie, the family id.
#[derive(Clone)]
pub struct LoginSession {
    /// The tokens.
    pub pair: TokenPair,
    /// The CSRF value (set as the readable cookie, echoed in `X-CSRF-Token`).
    pub csrf: String,
    /// The refresh family (session) id.
    pub family_id: String,
}

impl fmt::Debug for LoginSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginSession")
            .field("pair", &self.pair)
            .field("family_id", &self.family_id)
            .finish_non_exhaustive()
    }
}

/// Why a login could not start a session.
///
/// It is a response ([`IntoResponse`](axum::response::IntoResponse)), so a login handler
/// can return `Result<Response, LoginError>` and use `?` on the password check and on
/// [`Sessions::login`] alike; the statuses are those of the [`AuthError`] it converts
/// into (401 wrong credentials, 503 store failure, 500 refused token request).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LoginError {
    /// The user name or password is wrong (for the application's login handler to
    /// return): 401 `invalid_grant`.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// The token request was refused.
    #[error(transparent)]
    Issue(#[from] IssueError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// How a failed login answers, rendered with
/// [`TokenAuth::render_error`](crate::TokenAuth::render_error) or as a response of its
/// own: wrong credentials are a 401 (`invalid_grant`, a bare challenge); a store
/// outage (unreachable, full, or answering nonsense) is a 503 (`temporarily_unavailable`,
/// `Retry-After`); a refused token request is the application's mistake (its subject,
/// scopes or claims), a 500 naming no detail.
///
/// ```
/// # use axum_token_auth::{AuthError, store::StoreError, session::LoginError};
/// let e: AuthError = LoginError::Store(StoreError::Unavailable("down".into())).into();
/// assert_eq!(e, AuthError::StoreUnavailable);
/// assert_eq!(AuthError::from(LoginError::InvalidCredentials).status(), 401);
/// ```
impl From<LoginError> for AuthError {
    fn from(e: LoginError) -> Self {
        match e {
            LoginError::InvalidCredentials => AuthError::InvalidCredentials,
            LoginError::Store(_) => AuthError::StoreUnavailable,
            LoginError::Issue(_) => {
                AuthError::Misconfigured("the login's token request was refused")
            }
        }
    }
}

/// The [`AuthError`] it converts into, as a response: rendered with the default JSON
/// renderer here, and again with the configured one by a
/// [`TokenAuthLayer`](crate::TokenAuthLayer) it passes on the way out. Store failures
/// and refused token requests log their detail (`warn` / `error`); the client sees
/// none of it.
///
/// ```
/// use axum::response::{IntoResponse, Response};
/// use axum_token_auth::session::LoginError;
///
/// async fn login(/* credentials */) -> Result<Response, LoginError> {
///     let password_ok = false; // your check
///     if !password_ok {
///         return Err(LoginError::InvalidCredentials);
///     }
///     // let login = sessions.login(&TokenRequest::new(user), user_agent(&headers)).await?;
///     // Ok(sessions.login_response(&login))
///     # unreachable!()
/// }
/// let res = LoginError::InvalidCredentials.into_response();
/// assert_eq!(res.status(), 401);
/// ```
impl axum::response::IntoResponse for LoginError {
    fn into_response(self) -> axum::response::Response {
        match &self {
            LoginError::InvalidCredentials => {}
            LoginError::Store(e) => tracing::warn!(error = %e, "login: store failure"),
            LoginError::Issue(e) => tracing::error!(error = %e, "login: token request refused"),
        }
        AuthError::from(self).into_response()
    }
}

/// Builds [`Sessions`]: the grace window, the absolute session lifetime, the refresh
/// policies, how tokens are delivered, and the application's [`SessionHooks`].
///
/// ```
/// use std::time::Duration;
/// use axum_token_auth::{Sessions, TokenAuth};
/// use axum_token_auth::session::{NoHooks, TokenDelivery};
/// use axum_token_auth::store::memory::MemoryRefreshStore;
///
/// let auth = TokenAuth::builder()
///     .hs256_secret("a-random-secret-of-at-least-32-bytes!!")
///     .build()?;
/// let sessions = Sessions::builder(auth, MemoryRefreshStore::new())
///     .grace(Duration::from_secs(10))
///     .family_lifetime(Duration::from_secs(30 * 86_400))
///     .token_delivery(TokenDelivery::Cookies)
///     .hooks(NoHooks)
///     .build()?;
/// # let _ = sessions;
/// # Ok::<(), axum_token_auth::ConfigError>(())
/// ```
#[must_use]
pub struct SessionsBuilder {
    auth: TokenAuth,
    store: Arc<dyn RefreshStore>,
    hooks: Arc<dyn SessionHooks>,
    grace: Duration,
    family_lifetime: Duration,
    require_expired_access: bool,
    delivery: crate::session::routes::TokenDelivery,
    keep_refresh_token: bool,
    legacy_exchange: bool,
}

impl fmt::Debug for SessionsBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionsBuilder")
            .field("grace", &self.grace)
            .field("family_lifetime", &self.family_lifetime)
            .finish_non_exhaustive()
    }
}

impl SessionsBuilder {
    /// The window in which a retry of the immediate parent returns the same successor
    /// (two tabs refreshing at once). Default 10 s; `Duration::ZERO` disables it; at most 60 s.
    ///
    /// ```
    /// use std::time::Duration;
    /// use axum_token_auth::{Sessions, TokenAuth, store::memory::MemoryRefreshStore};
    ///
    /// # let auth = TokenAuth::builder().hs256_secret("a-random-secret-of-at-least-32-bytes!!").build()?;
    /// let sessions = Sessions::builder(auth, MemoryRefreshStore::new())
    ///     .grace(Duration::from_secs(5))
    ///     .build()?;
    /// # let _ = sessions;
    /// # Ok::<(), axum_token_auth::ConfigError>(())
    /// ```
    pub fn grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// The absolute lifetime of a family: no refresh token of a login outlives it, however
    /// often it is refreshed. Default 30 days; at least the refresh-token lifetime.
    ///
    /// ```
    /// use std::time::Duration;
    /// use axum_token_auth::{Sessions, TokenAuth, store::memory::MemoryRefreshStore};
    ///
    /// # let auth = TokenAuth::builder().hs256_secret("a-random-secret-of-at-least-32-bytes!!").build()?;
    /// // However often it is refreshed, a login ends after 14 days.
    /// let sessions = Sessions::builder(auth, MemoryRefreshStore::new())
    ///     .family_lifetime(Duration::from_secs(14 * 86_400))
    ///     .build()?;
    /// # let _ = sessions;
    /// # Ok::<(), axum_token_auth::ConfigError>(())
    /// ```
    pub fn family_lifetime(mut self, lifetime: Duration) -> Self {
        self.family_lifetime = lifetime;
        self
    }

    /// Token-Auth's policy: refuse a refresh while a still-valid access token is
    /// presented. Off by default (it logs out users with several tabs).
    ///
    /// ```
    /// use std::time::Duration;
    /// use axum_token_auth::{Sessions, TokenAuth, store::memory::MemoryRefreshStore};
    ///
    /// # let auth = TokenAuth::builder().hs256_secret("a-random-secret-of-at-least-32-bytes!!").build()?;
    /// let sessions = Sessions::builder(auth, MemoryRefreshStore::new())
    ///     .require_expired_access(true)
    ///     .build()?;
    /// # let _ = sessions;
    /// # Ok::<(), axum_token_auth::ConfigError>(())
    /// ```
    pub fn require_expired_access(mut self, on: bool) -> Self {
        self.require_expired_access = on;
        self
    }

    /// ⚠️ The seed systems' refresh semantics, for **confidential clients** (a server
    /// that keeps the refresh token secret): a refresh answers a new access token and the
    /// same refresh token, which stays valid until it expires or its session ends
    /// (logout, `revoke_session`, `revoke_user`, an `on_refresh` veto). Off by default:
    /// rotation is what makes a stolen refresh token detectable. In this mode there is no
    /// reuse detection — presenting the same refresh token again is the normal case — so a
    /// stolen refresh token works until its session is ended; and the access tokens minted
    /// by such refreshes are not remembered by the family (logout cannot revoke them: they
    /// expire within the access lifetime).
    ///
    /// ```
    /// use std::time::Duration;
    /// use axum_token_auth::{Sessions, TokenAuth, store::memory::MemoryRefreshStore};
    ///
    /// # let auth = TokenAuth::builder().hs256_secret("a-random-secret-of-at-least-32-bytes!!").build()?;
    /// // A confidential client (a server) keeps one refresh token for the session.
    /// let sessions = Sessions::builder(auth, MemoryRefreshStore::new())
    ///     .keep_refresh_token(true)
    ///     .build()?;
    /// # let _ = sessions;
    /// # Ok::<(), axum_token_auth::ConfigError>(())
    /// ```
    pub fn keep_refresh_token(mut self, on: bool) -> Self {
        self.keep_refresh_token = on;
        self
    }

    /// Migration (off by default): [`Sessions::refresh`] and the refresh route also take
    /// a refresh token of a legacy format the handle accepts
    /// ([`TokenAuthBuilder::accept_legacy`](crate::TokenAuthBuilder::accept_legacy)), by
    /// JSON or form body: verified as the layer would (its window open, not revoked), it
    /// is revoked and exchanged for a new session of its subject, with its scopes and
    /// tenant. Users move over at their next refresh instead of logging in again. Without
    /// it, such a token is refused with 401 `invalid_token` ("the token issuer is not
    /// accepted").
    ///
    /// webtool refresh tokens are never exchanged: webtool forgets a refresh token when it
    /// rotates it (an allow list, nothing to import), so a rotated one would verify.
    ///
    /// ⚠️ The exchange is not one atomic step across instances: two presentations of the
    /// same legacy token in the same instant may each start a session (every later one
    /// is refused as revoked). Logout revokes a legacy access or refresh token whether
    /// this is on or not.
    ///
    /// ```
    /// use std::time::{Duration, SystemTime};
    /// use axum_token_auth::{Key, Sessions, TokenAuth, store::memory::MemoryRefreshStore};
    /// use axum_token_auth::token::Algorithm;
    /// use axum_token_auth::trust::{LegacyFormat, LegacyIssuer};
    ///
    /// # let old_key = Key::generate_hmac(Algorithm::HS256)?;
    /// let legacy = LegacyIssuer::new(LegacyFormat::ScopedTokenService, old_key)
    ///     .accept_until(SystemTime::now() + Duration::from_secs(30 * 86_400));
    /// # let auth = TokenAuth::builder().signing_key(Key::generate_hmac(Algorithm::HS256)?).accept_legacy(legacy).build()?;
    /// let sessions = Sessions::builder(auth, MemoryRefreshStore::new())
    ///     .exchange_legacy_refresh_tokens(true)
    ///     .build()?;
    /// # let _ = sessions;
    /// # Ok::<(), axum_token_auth::ConfigError>(())
    /// ```
    pub fn exchange_legacy_refresh_tokens(mut self, on: bool) -> Self {
        self.legacy_exchange = on;
        self
    }

    /// How [`Sessions::login_response`] (and refreshes by cookie) deliver the tokens;
    /// default [`TokenDelivery::Cookies`]: no token in a
    /// body page script can read.
    ///
    /// ```
    /// use std::time::Duration;
    /// use axum_token_auth::{Sessions, TokenAuth, store::memory::MemoryRefreshStore};
    ///
    /// # let auth = TokenAuth::builder().hs256_secret("a-random-secret-of-at-least-32-bytes!!").build()?;
    /// use axum_token_auth::session::TokenDelivery;
    /// let sessions = Sessions::builder(auth, MemoryRefreshStore::new())
    ///     .token_delivery(TokenDelivery::Body) // mobile clients: tokens in the JSON body
    ///     .build()?;
    /// # let _ = sessions;
    /// # Ok::<(), axum_token_auth::ConfigError>(())
    /// ```
    pub fn token_delivery(mut self, delivery: crate::session::routes::TokenDelivery) -> Self {
        self.delivery = delivery;
        self
    }

    /// The hooks to call.
    ///
    /// ```
    /// use std::time::Duration;
    /// use axum_token_auth::{Sessions, TokenAuth, store::memory::MemoryRefreshStore};
    ///
    /// # let auth = TokenAuth::builder().hs256_secret("a-random-secret-of-at-least-32-bytes!!").build()?;
    /// use axum_token_auth::{async_trait, session::{SessionEvent, SessionHooks}};
    /// struct Audit;
    /// #[async_trait]
    /// impl SessionHooks for Audit {
    ///     async fn on_event(&self, event: &SessionEvent) {
    ///         tracing::info!(?event, "session event");
    ///     }
    /// }
    /// let sessions = Sessions::builder(auth, MemoryRefreshStore::new()).hooks(Audit).build()?;
    /// # let _ = sessions;
    /// # Ok::<(), axum_token_auth::ConfigError>(())
    /// ```
    pub fn hooks(mut self, hooks: impl SessionHooks) -> Self {
        self.hooks = Arc::new(hooks);
        self
    }

    /// Checks the settings.
    ///
    /// ```
    /// use std::time::Duration;
    /// use axum_token_auth::{Sessions, TokenAuth, store::memory::MemoryRefreshStore};
    ///
    /// # let auth = TokenAuth::builder().hs256_secret("a-random-secret-of-at-least-32-bytes!!").build()?;
    /// // A grace window over 60 s is refused.
    /// let r = Sessions::builder(auth, MemoryRefreshStore::new()).grace(Duration::from_secs(120)).build();
    /// assert!(r.is_err());
    /// # Ok::<(), axum_token_auth::ConfigError>(())
    /// ```
    pub fn build(self) -> Result<Sessions, ConfigError> {
        if self.grace > Duration::from_secs(60) {
            return Err(ConfigError::LifetimeOutOfRange {
                kind: "grace window",
                min: Duration::ZERO,
                max: Duration::from_secs(60),
            });
        }
        if self.family_lifetime < self.auth.refresh_ttl()
            || self.family_lifetime > Duration::from_secs(10 * 365 * 24 * 3600)
        {
            return Err(ConfigError::LifetimeOutOfRange {
                kind: "refresh family",
                min: self.auth.refresh_ttl(),
                max: Duration::from_secs(10 * 365 * 24 * 3600),
            });
        }
        let store = crate::store::breaker::guard_refresh(
            self.auth.inner.verifier.revocation_guard.as_ref(),
            self.store,
        );
        Ok(Sessions {
            inner: Arc::new(SessionsInner {
                auth: self.auth,
                store,
                hooks: self.hooks,
                grace: self.grace.as_secs(),
                family_lifetime: self.family_lifetime.as_secs(),
                require_expired_access: self.require_expired_access,
                delivery: self.delivery,
                keep_refresh_token: self.keep_refresh_token,
                legacy_exchange: self.legacy_exchange,
            }),
        })
    }
}

/// What a session list shows about a session, given at login
/// ([`Sessions::login_with`]). All optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionInfo {
    /// The client's `User-Agent` (see [`user_agent`]).
    pub user_agent: Option<String>,
    /// A device name the application chose ("Alice's phone").
    pub device: Option<String>,
    /// The client's IP address as the application saw it (e.g. axum's `ConnectInfo`;
    /// a forwarded header only behind a proxy you trust).
    pub ip: Option<String>,
}

impl SessionInfo {
    /// Sets the user agent.
    ///
    /// ```
    /// use axum_token_auth::session::SessionInfo;
    ///
    /// let info = SessionInfo::default().user_agent("Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0");
    /// # let _ = info;
    /// ```
    #[must_use]
    pub fn user_agent(mut self, ua: impl Into<String>) -> Self {
        self.user_agent = Some(ua.into());
        self
    }

    /// Sets the device name.
    ///
    /// ```
    /// use axum_token_auth::session::SessionInfo;
    ///
    /// let info = SessionInfo::default().device("Alice's laptop");
    /// # let _ = info;
    /// ```
    #[must_use]
    pub fn device(mut self, device: impl Into<String>) -> Self {
        self.device = Some(device.into());
        self
    }

    /// Sets the IP address.
    ///
    /// ```
    /// use axum_token_auth::session::SessionInfo;
    ///
    /// let ip: std::net::IpAddr = "203.0.113.7".parse().unwrap();
    /// let info = SessionInfo::default().ip(ip);
    /// # let _ = info;
    /// ```
    #[must_use]
    pub fn ip(mut self, ip: impl std::fmt::Display) -> Self {
        self.ip = Some(ip.to_string());
        self
    }
}

/// At most 256 characters of session metadata.
fn cut(s: &str) -> String {
    s.chars().take(256).collect()
}

/// Logins, refresh, logout and session lists. Cheap to clone.
///
/// ```
/// use axum::{Json, Router, routing::{get, post}};
/// use axum_token_auth::{Claims, Sessions, TokenAuth, TokenRequest};
/// use axum_token_auth::store::memory::MemoryRefreshStore;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let auth = TokenAuth::builder()
///     .hs256_secret("a-random-secret-of-at-least-32-bytes!!")
///     .build()?;
/// let sessions = Sessions::builder(auth.clone(), MemoryRefreshStore::new()).build()?;
///
/// // The login route is the application's (it checks the password); the rest is ready.
/// let login = {
///     let sessions = sessions.clone();
///     post(move |Json(user): Json<String>| async move {
///         // … verify the user's credentials here …
///         match sessions.login(&TokenRequest::new(user), None).await {
///             Ok(login) => sessions.login_response(&login),
///             Err(e) => sessions.auth().render_error(e.into()),
///         }
///     })
/// };
/// let app: Router = Router::new()
///     .route("/auth/login", login)
///     .route("/auth/refresh", sessions.refresh_route())
///     .route("/auth/logout", sessions.logout_route())
///     .merge(
///         Router::new()
///             .route("/auth/sessions", sessions.sessions_route())
///             .route("/me", get(|c: Claims| async move { c.sub.clone() }))
///             .route_layer(auth.layer()),
///     );
///
/// // The same flow without HTTP: log in, rotate twice, then a stolen old token shows
/// // up: reuse is detected and the whole session (family) ends.
/// let first = sessions.login(&TokenRequest::new("alice"), None).await?;
/// let second = sessions.refresh(first.pair.refresh.as_str(), None).await?;
/// let third = sessions.refresh(second.pair.refresh.as_str(), None).await?;
/// assert!(sessions.refresh(first.pair.refresh.as_str(), None).await.is_err());
/// assert!(sessions.refresh(third.pair.refresh.as_str(), None).await.is_err());
/// # let _ = app; Ok(()) }
/// ```
#[derive(Clone)]
pub struct Sessions {
    pub(crate) inner: Arc<SessionsInner>,
}

pub(crate) struct SessionsInner {
    pub(crate) auth: TokenAuth,
    store: Arc<dyn RefreshStore>,
    hooks: Arc<dyn SessionHooks>,
    grace: u64,
    family_lifetime: u64,
    require_expired_access: bool,
    pub(crate) delivery: crate::session::routes::TokenDelivery,
    keep_refresh_token: bool,
    legacy_exchange: bool,
}

impl fmt::Debug for Sessions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sessions")
            .field("grace", &self.inner.grace)
            .field("family_lifetime", &self.inner.family_lifetime)
            .finish_non_exhaustive()
    }
}

/// Maps store failures to the 503 answer.
fn unavailable(e: StoreError) -> AuthError {
    tracing::warn!(error = %e, "refresh store unavailable");
    AuthError::StoreUnavailable
}

impl Sessions {
    /// A builder over `store` with the defaults (10 s grace, 30 day families, no hooks).
    pub fn builder(auth: TokenAuth, store: impl RefreshStore) -> SessionsBuilder {
        Self::builder_shared(auth, Arc::new(store))
    }

    /// Like [`builder`](Self::builder) with a shared store.
    pub fn builder_shared(auth: TokenAuth, store: Arc<dyn RefreshStore>) -> SessionsBuilder {
        SessionsBuilder {
            auth,
            store,
            hooks: Arc::new(NoHooks),
            grace: DEFAULT_GRACE,
            family_lifetime: DEFAULT_FAMILY_LIFETIME,
            require_expired_access: false,
            delivery: crate::session::routes::TokenDelivery::default(),
            keep_refresh_token: false,
            legacy_exchange: false,
        }
    }

    /// The token authority.
    pub fn auth(&self) -> &TokenAuth {
        &self.inner.auth
    }

    /// The refresh store.
    pub fn store(&self) -> &Arc<dyn RefreshStore> {
        &self.inner.store
    }

    /// Starts a session for `request` (after the application checked the credentials):
    /// a new family, a pair bound to it and to a fresh CSRF value. The request's
    /// [`ttl`](TokenRequest::ttl) is the access token's (the refresh token keeps the
    /// configured lifetime), and no token of the login outlives the family.
    pub async fn login(
        &self,
        request: &TokenRequest,
        user_agent: Option<&str>,
    ) -> Result<LoginSession, LoginError> {
        let info = SessionInfo {
            user_agent: user_agent.map(str::to_owned),
            ..SessionInfo::default()
        };
        self.login_with(request, &info).await
    }

    /// [`login`](Self::login) with the session's metadata (user agent, device name, IP),
    /// shown in session lists; each value is cut to 256 characters.
    pub async fn login_with(
        &self,
        request: &TokenRequest,
        info: &SessionInfo,
    ) -> Result<LoginSession, LoginError> {
        let s = &self.inner;
        let auth = &s.auth;
        let family_id = random_id()?;
        let csrf = random_id()?;
        let generation = auth
            .inner
            .verifier
            .revocation
            .subject_cutoff(&request.subject)
            .await?
            .generation;
        let mut request = request.clone();
        request.family = Some(family_id.clone());
        request.generation = Some(generation);
        request.csrf = Some(digest_bytes(csrf.as_bytes()));
        let now = auth.now();
        let family_end = now + s.family_lifetime;
        // The request's ttl is the access token's (as in `issue_pair`); no token of the
        // login outlives the family.
        let access_ttl = request
            .ttl
            .unwrap_or(auth.access_ttl())
            .min(Duration::from_secs(s.family_lifetime));
        let access = auth.issue(TokenKind::Access, &request.clone().ttl(access_ttl))?;
        request.ttl = None;
        let refresh = auth.issue(TokenKind::Refresh, &request)?;
        s.store
            .create_family(NewFamily {
                family_id: family_id.clone(),
                user_id: request.subject.clone(),
                refresh: TokenDigest::of_jti(&refresh.jti),
                access: AccessRef {
                    jti: access.jti.clone(),
                    expires_at: access.expires_at,
                },
                created_at: now,
                expires_at: family_end,
                user_agent: info.user_agent.as_deref().map(cut),
                device: info.device.as_deref().map(cut),
                ip: info.ip.as_deref().map(cut),
            })
            .await?;
        tracing::info!(family = %short(&family_id), "session started");
        s.hooks
            .on_event(&SessionEvent::Issued {
                user_id: request.subject.clone(),
                family_id: family_id.clone(),
            })
            .await;
        Ok(LoginSession {
            pair: TokenPair { access, refresh },
            csrf,
            family_id,
        })
    }

    /// Rotates a refresh token: the presented token is consumed and a successor pair
    /// minted in the same family, with the same claims (never wider scopes) or those
    /// [`SessionHooks::on_refresh`] decides, which may also deny the refresh. The family
    /// must be active and belong to the token's `sub`; the successor access token is
    /// capped at the family's end. A consumed
    /// token presented again revokes the whole family (except a retry of the immediate
    /// parent within the grace window, which gets the same successor). `access_token`,
    /// when the client presented one, must be the one issued with the refresh token.
    ///
    /// The returned [`LoginSession::csrf`] is empty: the CSRF value of the family is
    /// unchanged and stays in the client's cookie.
    pub async fn refresh(
        &self,
        refresh_token: &str,
        access_token: Option<&str>,
    ) -> Result<LoginSession, AuthError> {
        let span = tracing::debug_span!("refresh");
        let r = self
            .refresh_inner(refresh_token, access_token)
            .instrument(span)
            .await;
        if let Err(reason) = &r {
            self.inner
                .hooks
                .on_event(&SessionEvent::Denied {
                    reason: reason.clone(),
                })
                .await;
        }
        r
    }

    async fn refresh_inner(
        &self,
        refresh_token: &str,
        access_token: Option<&str>,
    ) -> Result<LoginSession, AuthError> {
        let s = &self.inner;
        let auth = &s.auth;
        let verified = auth
            .verify_session::<Map<String, Value>>(
                refresh_token,
                KindSet::of(TokenKind::Refresh),
                s.legacy_exchange,
                true,
            )
            .map_err(|e| auth.rejected(e))?;
        if verified.claims.origin == TokenOrigin::Legacy {
            return self.exchange_legacy(verified).await;
        }
        let parent: RawClaims = verified.claims;
        let Some(family_id) = parent
            .fam
            .clone()
            .filter(|f| crate::token::issue::is_valid_id(f))
        else {
            return Err(auth.rejected(InvalidToken::InvalidClaims));
        };
        // A refresh token revoked through `TokenAuth::revoke` (or all of its user's
        // tokens through `revoke_all_for_user`) stays revoked.
        let digest = verified.identity.digest;
        auth.check_revoked(&parent, &verified.identity).await?;
        // The family must be active and belong to the token's subject.
        let family_end = self.owned_family_end(&family_id, &parent.sub).await?;
        let presented_access = match access_token {
            None => None,
            Some(t) => {
                let access: Accepted<crate::token::NoCustomClaims> = auth
                    .verify_session(t, KindSet::of(TokenKind::Access), false, false)
                    .map_err(|e| auth.rejected(e))?;
                // "Not expired" as the layer sees it: until its identity says.
                if s.require_expired_access && access.identity.until > auth.now() {
                    return Err(AuthError::InvalidRequest(
                        crate::http::InvalidRequest::AccessTokenNotExpired,
                    ));
                }
                Some(access.claims.jti)
            }
        };
        let decision = s.hooks.on_refresh(&parent).await;
        let changes = match decision {
            RefreshDecision::Deny => {
                tracing::info!(family = %short(&family_id), "refresh denied by on_refresh; family revoked");
                let known = s
                    .store
                    .revoke_family(&family_id)
                    .await
                    .map_err(unavailable)?;
                self.revoke_access(&parent.sub, &known).await?;
                return Err(auth.rejected(InvalidToken::RefreshDenied));
            }
            RefreshDecision::AllowWith(changes) => Some(changes),
            RefreshDecision::Allow => None,
        };
        let now = auth.now();
        let settings = &auth.inner.lifetimes;
        if s.keep_refresh_token {
            return self
                .refresh_keeping(
                    refresh_token,
                    &parent,
                    &family_id,
                    &digest,
                    changes,
                    family_end,
                    now,
                )
                .await;
        }
        let successor = Successor {
            refresh_jti: random_id()
                .map_err(|_| AuthError::Misconfigured("random source failed"))?,
            access_jti: random_id()
                .map_err(|_| AuthError::Misconfigured("random source failed"))?,
            issued_at: now,
            refresh_expires_at: now + settings.refresh_ttl.as_secs(),
            // No access token outlives its family.
            access_expires_at: (now + settings.access_ttl.as_secs()).min(family_end),
        };
        let outcome = s
            .store
            .rotate(Rotation {
                family_id: family_id.clone(),
                presented: digest,
                successor,
                now,
                grace_secs: s.grace,
                presented_access,
            })
            .await
            .map_err(unavailable)?;
        let (successor, retry) = match outcome {
            RotateOutcome::Rotated(succ) => (succ, false),
            RotateOutcome::Retry(succ) => (succ, true),
            RotateOutcome::Reused { user_id, access }
            | RotateOutcome::Compromised { user_id, access } => {
                tracing::warn!(family = %short(&family_id), "refresh token reuse detected; family revoked");
                self.revoke_access(&user_id, &access).await?;
                s.hooks
                    .on_event(&SessionEvent::ReuseDetected {
                        user_id,
                        family_id: family_id.clone(),
                    })
                    .await;
                return Err(AuthError::InvalidToken(InvalidToken::RefreshReused));
            }
            _ => return Err(auth.rejected(InvalidToken::SessionEnded)),
        };
        let mut claims = parent.clone();
        if let Some(changes) = changes {
            changes.apply(&mut claims)?;
        }
        let pair = self.sign_successor(&claims, &successor)?;
        tracing::debug!(family = %short(&family_id), retry, "refresh token rotated");
        Ok(self.refreshed(&parent.sub, family_id, pair, retry).await)
    }

    /// The end of every successful refresh: the hooks hear of it, the caller gets the pair.
    /// The opt-in migration path of the refresh route
    /// ([`SessionsBuilder::exchange_legacy_refresh_tokens`]): a legacy format's refresh
    /// token, verified and not revoked, is revoked (consumed) and exchanged for a new
    /// session of its subject with its scopes and tenant.
    async fn exchange_legacy(
        &self,
        verified: Accepted<Map<String, Value>>,
    ) -> Result<LoginSession, AuthError> {
        let auth = &self.inner.auth;
        let claims = &verified.claims;
        // webtool keeps its refresh tokens in an allow list it deletes them from when it
        // rotates them; that list cannot be imported, so a rotated (stolen, replayed)
        // webtool refresh token would still verify here. Never exchanged.
        if verified.legacy == Some(crate::trust::LegacyFormat::Webtool) {
            return Err(auth.rejected(InvalidToken::WrongIssuer));
        }
        auth.check_revoked(claims, &verified.identity).await?;
        // Consumed before anything is issued: when the store cannot take the
        // revocation, no session is started (503) and the token stays usable.
        auth.revoke_verified(&claims.sub, &verified.identity)
            .await
            .map_err(|_| AuthError::StoreUnavailable)?;
        let mut request =
            TokenRequest::new(claims.sub.as_str()).scopes(claims.scope.iter().map(|s| s.as_str()));
        if let Some(tenant) = &claims.tenant {
            request = request.tenant(tenant.as_str());
        }
        let login = self.login(&request, None).await.map_err(AuthError::from)?;
        tracing::info!(family = %short(&login.family_id), "legacy refresh token exchanged for a session");
        Ok(login)
    }

    async fn refreshed(
        &self,
        user_id: &str,
        family_id: String,
        pair: TokenPair,
        retry: bool,
    ) -> LoginSession {
        let hooks = &self.inner.hooks;
        hooks
            .after_new_access_token_generated(&pair.refresh, &pair.access)
            .await;
        hooks
            .on_event(&SessionEvent::Refreshed {
                user_id: user_id.to_owned(),
                family_id: family_id.clone(),
                retry,
            })
            .await;
        LoginSession {
            pair,
            csrf: String::new(),
            family_id,
        }
    }

    /// The refresh of [`SessionsBuilder::keep_refresh_token`]: the presented token must be
    /// its family's current one; a new access token, the same refresh token.
    #[allow(clippy::too_many_arguments)]
    async fn refresh_keeping(
        &self,
        refresh_token: &str,
        parent: &RawClaims,
        family_id: &str,
        digest: &TokenDigest,
        changes: Option<crate::session::hooks::SuccessorClaims>,
        family_end: u64,
        now: u64,
    ) -> Result<LoginSession, AuthError> {
        let s = &self.inner;
        let auth = &s.auth;
        let current = s
            .store
            .verify(family_id, digest, now)
            .await
            .map_err(unavailable)?;
        if !current {
            return Err(auth.rejected(InvalidToken::SessionEnded));
        }
        let mut claims = parent.clone();
        if let Some(changes) = changes {
            changes.apply(&mut claims)?;
        }
        let jti = random_id().map_err(|_| AuthError::Misconfigured("random source failed"))?;
        let exp = (now + auth.inner.lifetimes.access_ttl.as_secs()).min(family_end);
        let mut access_claims = claims.clone();
        access_claims.jti = jti.clone();
        access_claims.iat = now;
        access_claims.exp = exp;
        access_claims.nbf = None;
        let token = auth
            .sign(TokenKind::Access, &access_claims)
            .map_err(|_| AuthError::Misconfigured("signing failed"))?;
        let pair = TokenPair {
            access: IssuedToken::new(token, TokenKind::Access, jti, now, exp),
            refresh: IssuedToken::new(
                refresh_token.to_owned(),
                TokenKind::Refresh,
                parent.jti.clone(),
                parent.iat,
                parent.exp,
            ),
        };
        tracing::debug!(family = %short(family_id), "access token refreshed (refresh token kept)");
        Ok(self
            .refreshed(&parent.sub, family_id.to_owned(), pair, false)
            .await)
    }

    /// Signs the successor pair: the parent's claims with the successor's ids and times.
    fn sign_successor(&self, parent: &RawClaims, succ: &Successor) -> Result<TokenPair, AuthError> {
        let auth = &self.inner.auth;
        let sign = |kind: TokenKind, jti: &str, exp: u64| -> Result<IssuedToken, AuthError> {
            let mut claims = parent.clone();
            claims.jti = jti.to_owned();
            claims.iat = succ.issued_at;
            claims.exp = exp;
            claims.nbf = None;
            let token = auth.sign(kind, &claims).map_err(|e| match e {
                IssueError::TokenTooLarge { .. } => {
                    AuthError::Misconfigured("the successor token is over max_token_bytes")
                }
                _ => AuthError::Misconfigured("signing failed"),
            })?;
            Ok(IssuedToken::new(
                token, kind, claims.jti, claims.iat, claims.exp,
            ))
        };
        Ok(TokenPair {
            access: sign(TokenKind::Access, &succ.access_jti, succ.access_expires_at)?,
            refresh: sign(
                TokenKind::Refresh,
                &succ.refresh_jti,
                succ.refresh_expires_at,
            )?,
        })
    }

    /// Revokes `user_id`'s access tokens of a revoked family (counted against the user's
    /// share of the revocation store, see [`SubjectRevocation::revoke_for`](crate::store::SubjectRevocation::revoke_for)).
    async fn revoke_access(&self, user_id: &str, access: &[AccessRef]) -> Result<(), AuthError> {
        // Every one is tried; one failure fails the whole (503): the caller must not
        // report an ended session while one of its access tokens is still accepted. The
        // family is gone from the refresh store by now (its refresh tokens are refused),
        // so the ones that failed are retried in the background until they are written
        // or have expired: when the store is back, none of them is accepted again.
        let mut failed = Vec::new();
        for a in access {
            if let Err(e) = self
                .inner
                .auth
                .revoke_jti_for(user_id, &a.jti, a.expires_at)
                .await
            {
                tracing::warn!(error = %e, "could not revoke an access token of a revoked family; retrying in the background");
                failed.push(a.clone());
            }
        }
        if failed.is_empty() {
            return Ok(());
        }
        let auth = self.inner.auth.clone();
        let user_id = user_id.to_owned();
        tokio::spawn(async move {
            let mut delay = std::time::Duration::from_millis(250);
            while !failed.is_empty() {
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(std::time::Duration::from_secs(5));
                // Retried as long as the token would be accepted.
                let now = auth.now();
                let verifier = &auth.inner.verifier;
                let mut left = Vec::new();
                for a in failed
                    .into_iter()
                    .filter(|a| verifier.own_until(a.expires_at) > now)
                {
                    if auth
                        .revoke_jti_for(&user_id, &a.jti, a.expires_at)
                        .await
                        .is_err()
                    {
                        left.push(a);
                    }
                }
                failed = left;
            }
        });
        Err(AuthError::StoreUnavailable)
    }

    async fn owned_family_end(&self, family_id: &str, owner: &str) -> Result<u64, AuthError> {
        let auth = &self.inner.auth;
        let session = self
            .inner
            .store
            .session(family_id, auth.now())
            .await
            .map_err(unavailable)?;
        match session {
            Some(s) if s.user_id == owner => Ok(s.expires_at),
            Some(_) => {
                tracing::warn!(family = %short(family_id), "token names a family of another user");
                Err(auth.rejected(InvalidToken::InvalidClaims))
            }
            None => Err(auth.rejected(InvalidToken::SessionEnded)),
        }
    }

    /// A token of ours for logout and the routes' CSRF pre-check: every check but time
    /// (signature, kind, `sub`/`jti`, `iss`, `aud`). An expired token still says which
    /// session to end; a token for another issuer or audience says nothing.
    pub(crate) fn verify_session_token<T: serde::de::DeserializeOwned>(
        &self,
        token: &str,
        accepted: KindSet,
    ) -> Result<Accepted<T>, AuthError> {
        let auth = &self.inner.auth;
        auth.verify_session(token, accepted, true, false)
            .map_err(|e| auth.rejected(e))
    }

    /// Logs out: revokes the family named by the refresh token (or, without one, by the
    /// access token's `fam`), the access tokens it knew, and the presented access token.
    /// Expired tokens are accepted here (they still say which session to end).
    ///
    /// When the revocation store cannot take one of the family's access tokens, the
    /// answer is [`AuthError::StoreUnavailable`] (503), not success: the family is ended
    /// (its refresh tokens are refused), and the access tokens not yet revoked are
    /// retried in the background until written or expired. The same holds for
    /// [`revoke_session`](Self::revoke_session), [`revoke_user`](Self::revoke_user) and
    /// the family ended by a detected refresh-token reuse.
    pub async fn logout(
        &self,
        refresh_token: Option<&str>,
        access_token: Option<&str>,
    ) -> Result<(), AuthError> {
        let auth = &self.inner.auth;
        let refresh: Option<Accepted<Map<String, Value>>> = match refresh_token {
            Some(t) => Some(self.verify_session_token(t, KindSet::of(TokenKind::Refresh))?),
            None => None,
        };
        let access: Option<Accepted<crate::token::NoCustomClaims>> = match access_token {
            Some(t) => Some(self.verify_session_token(t, KindSet::of(TokenKind::Access))?),
            None => None,
        };
        if refresh.is_none() && access.is_none() {
            return Err(AuthError::MissingCredentials);
        }
        // A legacy format's token (a migration window) names no session of ours: it is
        // revoked by the identity verification gave it, and that is all.
        let (refresh, legacy_refresh) = split_legacy(refresh);
        let (access, legacy_access) = split_legacy(access);
        for (sub, identity) in legacy_refresh.iter().chain(legacy_access.iter()) {
            auth.revoke_verified(sub, identity)
                .await
                .map_err(|_| AuthError::StoreUnavailable)?;
        }
        let refresh = refresh.map(|r| r.claims);
        // The family to end, and whose token named it.
        let family = refresh
            .as_ref()
            .and_then(|r| r.fam.clone().map(|f| (f, r.sub.clone())))
            .or_else(|| {
                access
                    .as_ref()
                    .and_then(|a| a.claims.fam.clone().map(|f| (f, a.claims.sub.clone())))
            });
        // Ownership first: a token naming another user's family ends nothing. An ended
        // or unknown family is fine (logging out twice is not an error).
        if let Some((family, owner)) = &family {
            if !crate::token::issue::is_valid_id(family) {
                return Err(auth.rejected(InvalidToken::InvalidClaims));
            }
            match self.owned_family_end(family, owner).await {
                Ok(_) | Err(AuthError::InvalidToken(InvalidToken::SessionEnded)) => {}
                Err(e) => return Err(e),
            }
        }
        if let Some(a) = &access {
            auth.revoke_verified(&a.claims.sub, &a.identity)
                .await
                .map_err(|_| AuthError::StoreUnavailable)?;
        }
        if let Some((family, owner)) = &family {
            let known = self
                .inner
                .store
                .revoke_family(family)
                .await
                .map_err(unavailable)?;
            self.revoke_access(owner, &known).await?;
        }
        let family = family.map(|(f, _)| f);
        let user_id = refresh
            .map(|r| r.sub)
            .or(access.map(|a| a.claims.sub))
            .or(legacy_refresh.or(legacy_access).map(|(sub, _)| sub));
        tracing::info!(
            family = family.as_deref().map(short).unwrap_or_default(),
            "logged out"
        );
        self.inner
            .hooks
            .on_event(&SessionEvent::Revoked {
                user_id,
                family_id: family,
            })
            .await;
        Ok(())
    }

    /// The user's active sessions, oldest first.
    pub async fn list(&self, user_id: &str) -> Result<Vec<Session>, AuthError> {
        self.inner
            .store
            .list_sessions(user_id, self.inner.auth.now())
            .await
            .map_err(unavailable)
    }

    /// Revokes one of the user's sessions ("log out that device"); `false` when the user
    /// has no such session.
    pub async fn revoke_session(&self, user_id: &str, family_id: &str) -> Result<bool, AuthError> {
        // Ids we mint are 22 base64url characters; anything unprintable is no session
        // (and must not reach a store as a client-caused store error).
        if !crate::token::issue::is_valid_id(family_id) {
            return Ok(false);
        }
        let store = &self.inner.store;
        let owned = store
            .session(family_id, self.inner.auth.now())
            .await
            .map_err(unavailable)?
            .is_some_and(|s| s.user_id == user_id);
        if !owned {
            return Ok(false);
        }
        let known = store.revoke_family(family_id).await.map_err(unavailable)?;
        self.revoke_access(user_id, &known).await?;
        self.inner
            .hooks
            .on_event(&SessionEvent::Revoked {
                user_id: Some(user_id.to_owned()),
                family_id: Some(family_id.to_owned()),
            })
            .await;
        Ok(true)
    }

    /// Revokes every session of the user (password change, security event) and every
    /// token minted for them through these sessions: the user's generation is bumped (one
    /// write: every access and refresh token carrying an older generation is refused),
    /// and the families are deleted.
    pub async fn revoke_user(&self, user_id: &str) -> Result<(), AuthError> {
        self.inner
            .auth
            .revoke_all_for_user(user_id)
            .await
            .map_err(|_| AuthError::StoreUnavailable)?;
        let known = self
            .inner
            .store
            .revoke_user(user_id)
            .await
            .map_err(unavailable)?;
        self.revoke_access(user_id, &known).await?;
        self.inner
            .hooks
            .on_event(&SessionEvent::Revoked {
                user_id: Some(user_id.to_owned()),
                family_id: None,
            })
            .await;
        Ok(())
    }
}

/// The first 8 characters of an id, for logs.
/// Splits a verified token into one of the crate's own, or a legacy format's subject and
/// identity.
fn split_legacy<T>(
    token: Option<Accepted<T>>,
) -> (Option<Accepted<T>>, Option<(String, TokenIdentity)>) {
    match token {
        Some(t) if t.claims.origin == TokenOrigin::Legacy => {
            (None, Some((t.claims.sub, t.identity)))
        }
        other => (other, None),
    }
}

fn short(id: &str) -> String {
    id.chars().take(8).collect()
}
