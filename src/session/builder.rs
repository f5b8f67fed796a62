//! [`SessionsBuilder`]: the settings of [`Sessions`], checked once at build time.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::auth::TokenAuth;
use crate::session::hooks::{NoHooks, SessionHooks};
use crate::session::routes::TokenDelivery;
use crate::session::sessions::{Sessions, SessionsInner};
use crate::store::RefreshStore;
use crate::token::error::ConfigError;

/// Default grace window for retrying the immediate parent: 10 seconds.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(10);
/// Default absolute lifetime of a session: 30 days.
pub const DEFAULT_SESSION_LIFETIME: Duration = Duration::from_secs(30 * 24 * 3600);

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
///     .session_lifetime(Duration::from_secs(30 * 86_400))
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
    session_lifetime: Duration,
    require_expired_access: bool,
    delivery: TokenDelivery,
    keep_refresh_token: bool,
    legacy_exchange: bool,
}

impl fmt::Debug for SessionsBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionsBuilder")
            .field("grace", &self.grace)
            .field("session_lifetime", &self.session_lifetime)
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

    /// The absolute lifetime of a session: no token of a login outlives it, however often
    /// it is refreshed. Default 30 days; at least the refresh-token lifetime.
    ///
    /// ```
    /// use std::time::Duration;
    /// use axum_token_auth::{Sessions, TokenAuth, store::memory::MemoryRefreshStore};
    ///
    /// # let auth = TokenAuth::builder().hs256_secret("a-random-secret-of-at-least-32-bytes!!").build()?;
    /// // However often it is refreshed, a login ends after 14 days.
    /// let sessions = Sessions::builder(auth, MemoryRefreshStore::new())
    ///     .session_lifetime(Duration::from_secs(14 * 86_400))
    ///     .build()?;
    /// # let _ = sessions;
    /// # Ok::<(), axum_token_auth::ConfigError>(())
    /// ```
    pub fn session_lifetime(mut self, lifetime: Duration) -> Self {
        self.session_lifetime = lifetime;
        self
    }

    /// Refuses a refresh while a still-valid access token is presented ("expired" as the
    /// layer sees it, leeway included): 400 `invalid_request`. Off by default (it logs out
    /// users with several tabs).
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

    /// ⚠️ Refresh without rotation, for **confidential clients** (a server that keeps the
    /// refresh token secret): a refresh answers a new access token and the
    /// same refresh token, which stays valid until it expires or its session ends
    /// (logout, `revoke_session`, `revoke_user`, an `on_refresh` veto). Off by default:
    /// rotation is what makes a stolen refresh token detectable. In this mode there is no
    /// reuse detection — presenting the same refresh token again is the normal case — so a
    /// stolen refresh token works until its session is ended; and the access tokens minted
    /// by such refreshes are not remembered by the session (logout cannot revoke them:
    /// they expire within the access lifetime).
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
    /// A format whose issuer forgets a refresh token when it rotates it (an allow list,
    /// nothing to import) is never exchanged, since a rotated one would verify: which
    /// formats, in [`trust::legacy`](crate::trust::legacy).
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
    /// # use axum_token_auth::trust::{LegacyFormat, LegacyIssuer};
    ///
    /// # let old_key = Key::generate_hmac(Algorithm::HS256)?;
    /// # let legacy = LegacyIssuer::new(LegacyFormat::ScopedTokenService, old_key)
    /// #     .accept_until(SystemTime::now() + Duration::from_secs(30 * 86_400));
    /// // `auth` accepts a legacy format (`TokenAuthBuilder::accept_legacy`) until a date.
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
    pub fn token_delivery(mut self, delivery: TokenDelivery) -> Self {
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
        if self.session_lifetime < self.auth.refresh_ttl()
            || self.session_lifetime > Duration::from_secs(10 * 365 * 24 * 3600)
        {
            return Err(ConfigError::LifetimeOutOfRange {
                kind: "refresh family",
                min: self.auth.refresh_ttl(),
                max: Duration::from_secs(10 * 365 * 24 * 3600),
            });
        }
        let store = crate::store::breaker::guard_refresh(
            self.auth.verifier().revocation_guard.as_ref(),
            self.store,
        );
        Ok(Sessions {
            inner: Arc::new(SessionsInner {
                auth: self.auth,
                store,
                hooks: self.hooks,
                grace: self.grace.as_secs(),
                session_lifetime: self.session_lifetime.as_secs(),
                require_expired_access: self.require_expired_access,
                delivery: self.delivery,
                keep_refresh_token: self.keep_refresh_token,
                legacy_exchange: self.legacy_exchange,
            }),
        })
    }
}

impl Sessions {
    /// A builder over `store` with the defaults (10 s grace, 30 day sessions, no hooks).
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
            session_lifetime: DEFAULT_SESSION_LIFETIME,
            require_expired_access: false,
            delivery: TokenDelivery::default(),
            keep_refresh_token: false,
            legacy_exchange: false,
        }
    }
}
