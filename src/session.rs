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

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Map, Value};
use tracing::Instrument;

use crate::auth::TokenAuth;
use crate::claims::{TokenClaims, TokenKind};
use crate::config::ConfigError;
use crate::csrf::digest_bytes;
use crate::error::{AuthError, InvalidToken};
use crate::issue::{IssueError, IssuedToken, TokenPair, TokenRequest, random_id};
use crate::store::{
    AccessRef, NewFamily, RefreshStore, RotateOutcome, Rotation, Session, StoreError, Successor,
    TokenDigest,
};
use crate::validate::KindSet;

/// Default grace window for retrying the immediate parent: 10 seconds.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(10);
/// Default absolute lifetime of a refresh family: 30 days.
pub const DEFAULT_FAMILY_LIFETIME: Duration = Duration::from_secs(30 * 24 * 3600);

/// Raw claims: the registered ones typed, everything else (custom claims) kept as is, so
/// a successor carries exactly what its parent carried.
type RawClaims = TokenClaims<Map<String, Value>>;

/// What happened, for [`SessionHooks`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionEvent {
    /// A login started a family.
    Issued {
        /// The user.
        user_id: String,
        /// The family.
        family_id: String,
    },
    /// A refresh rotated a family (`retry` when it answered a grace retry).
    Refreshed {
        /// The user.
        user_id: String,
        /// The family.
        family_id: String,
        /// Whether this was an idempotent retry of the parent.
        retry: bool,
    },
    /// A consumed refresh token was presented again, or with a foreign access token: the
    /// family was revoked.
    ReuseDetected {
        /// The user.
        user_id: String,
        /// The family.
        family_id: String,
    },
    /// A family (logout, "log out this device") or all of a user's families were revoked.
    Revoked {
        /// The user, when known.
        user_id: Option<String>,
        /// The family, or `None` for all of the user's.
        family_id: Option<String>,
    },
    /// A refresh was refused.
    Denied {
        /// Why.
        reason: AuthError,
    },
}

/// Hooks called by [`Sessions`] (Token-Auth's `after_new_access_token_generated` and
/// friends). Every method has a no-op default; errors in hooks are the hook's business.
#[async_trait]
pub trait SessionHooks: Send + Sync + 'static {
    /// After a refresh answered with a pair (Token-Auth's
    /// `after_new_access_token_generated(refresh, access)`); a grace retry answers with
    /// the same pair again and calls it again.
    async fn after_new_access_token_generated(&self, refresh: &IssuedToken, access: &IssuedToken) {
        let _ = (refresh, access);
    }

    /// Every [`SessionEvent`].
    async fn on_event(&self, event: &SessionEvent) {
        let _ = event;
    }
}

/// Hooks that do nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHooks;

impl SessionHooks for NoHooks {}

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
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LoginError {
    /// The token request was refused.
    #[error(transparent)]
    Issue(#[from] IssueError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Builds [`Sessions`].
#[must_use]
pub struct SessionsBuilder {
    auth: TokenAuth,
    store: Arc<dyn RefreshStore>,
    hooks: Arc<dyn SessionHooks>,
    grace: Duration,
    family_lifetime: Duration,
    require_expired_access: bool,
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
    pub fn grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// The absolute lifetime of a family: no refresh token of a login outlives it, however
    /// often it is refreshed. Default 30 days; at least the refresh-token lifetime.
    pub fn family_lifetime(mut self, lifetime: Duration) -> Self {
        self.family_lifetime = lifetime;
        self
    }

    /// Token-Auth's policy: refuse a refresh while a still-valid access token is
    /// presented. Off by default (it logs out users with several tabs).
    pub fn require_expired_access(mut self, on: bool) -> Self {
        self.require_expired_access = on;
        self
    }

    /// The hooks to call.
    pub fn hooks(mut self, hooks: impl SessionHooks) -> Self {
        self.hooks = Arc::new(hooks);
        self
    }

    /// Checks the settings.
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
        let store = crate::store::guard::guard_refresh(&self.auth, self.store);
        Ok(Sessions {
            inner: Arc::new(SessionsInner {
                auth: self.auth,
                store,
                hooks: self.hooks,
                grace: self.grace.as_secs(),
                family_lifetime: self.family_lifetime.as_secs(),
                require_expired_access: self.require_expired_access,
            }),
        })
    }
}

/// Logins, refresh, logout and session lists. Cheap to clone.
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
    /// a new family, a pair bound to it and to a fresh CSRF value.
    pub async fn login(
        &self,
        request: &TokenRequest,
        user_agent: Option<&str>,
    ) -> Result<LoginSession, LoginError> {
        let s = &self.inner;
        let auth = &s.auth;
        let family_id = random_id()?;
        let csrf = random_id()?;
        let generation = auth.inner.revocation.generation(&request.subject).await?;
        let mut request = request.clone();
        request.family = Some(family_id.clone());
        request.generation = Some(generation);
        request.csrf = Some(digest_bytes(csrf.as_bytes()));
        let now = auth.now();
        let family_end = now + s.family_lifetime;
        let access = auth.issue(TokenKind::Access, &request)?;
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
                user_agent: user_agent.map(|ua| ua.chars().take(256).collect()),
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
    /// minted in the same family, with the same claims (never wider scopes). A consumed
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
        let parent: RawClaims = auth
            .verify_kinds(refresh_token, KindSet::of(TokenKind::Refresh))
            .map_err(|e| auth.rejected(e))?;
        let Some(family_id) = parent.fam.clone() else {
            return Err(auth.rejected(InvalidToken::InvalidClaims));
        };
        // A refresh token revoked through `TokenAuth::revoke` (or all of its user's
        // tokens through `revoke_all_for_user`) stays revoked.
        let digest = TokenDigest::of_jti(&parent.jti);
        auth.check_revoked(&parent, &crate::store::TokenDigest::of_jti(&parent.jti))
            .await?;
        let presented_access = match access_token {
            None => None,
            Some(t) => {
                let access: TokenClaims = auth
                    .verify_untimed(t, KindSet::of(TokenKind::Access))
                    .map_err(|e| auth.rejected(e))?;
                if s.require_expired_access && access.exp > auth.now() {
                    return Err(AuthError::InvalidRequest(
                        crate::InvalidRequest::AccessTokenNotExpired,
                    ));
                }
                Some(access.jti)
            }
        };
        let now = auth.now();
        let settings = &auth.inner.settings;
        let successor = Successor {
            refresh_jti: random_id()
                .map_err(|_| AuthError::Misconfigured("random source failed"))?,
            access_jti: random_id()
                .map_err(|_| AuthError::Misconfigured("random source failed"))?,
            issued_at: now,
            refresh_expires_at: now + settings.refresh_ttl.as_secs(),
            access_expires_at: now + settings.access_ttl.as_secs(),
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
                self.revoke_access(&access).await;
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
        let pair = self.sign_successor(&parent, &successor)?;
        tracing::debug!(family = %short(&family_id), retry, "refresh token rotated");
        s.hooks
            .after_new_access_token_generated(&pair.refresh, &pair.access)
            .await;
        s.hooks
            .on_event(&SessionEvent::Refreshed {
                user_id: parent.sub.clone(),
                family_id: family_id.clone(),
                retry,
            })
            .await;
        Ok(LoginSession {
            pair,
            csrf: String::new(),
            family_id,
        })
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
            let token = auth
                .sign(kind, &claims)
                .map_err(|_| AuthError::Misconfigured("signing failed"))?;
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

    async fn revoke_access(&self, access: &[AccessRef]) {
        for a in access {
            if let Err(e) = self.inner.auth.revoke_jti(&a.jti, a.expires_at).await {
                tracing::warn!(error = %e, "could not revoke an access token of a revoked family");
            }
        }
    }

    /// Logs out: revokes the family named by the refresh token (or, without one, by the
    /// access token's `fam`), the access tokens it knew, and the presented access token.
    /// Expired tokens are accepted here (they still say which session to end).
    pub async fn logout(
        &self,
        refresh_token: Option<&str>,
        access_token: Option<&str>,
    ) -> Result<(), AuthError> {
        let auth = &self.inner.auth;
        let refresh: Option<RawClaims> = match refresh_token {
            Some(t) => Some(
                auth.verify_untimed(t, KindSet::of(TokenKind::Refresh))
                    .map_err(|e| auth.rejected(e))?,
            ),
            None => None,
        };
        let access: Option<TokenClaims> = match access_token {
            Some(t) => Some(
                auth.verify_untimed(t, KindSet::of(TokenKind::Access))
                    .map_err(|e| auth.rejected(e))?,
            ),
            None => None,
        };
        let family = refresh
            .as_ref()
            .and_then(|r| r.fam.clone())
            .or_else(|| access.as_ref().and_then(|a| a.fam.clone()));
        if refresh.is_none() && access.is_none() {
            return Err(AuthError::MissingCredentials);
        }
        if let Some(a) = &access {
            auth.revoke_jti(&a.jti, a.exp)
                .await
                .map_err(|_| AuthError::StoreUnavailable)?;
        }
        if let Some(family) = &family {
            let known = self
                .inner
                .store
                .revoke_family(family)
                .await
                .map_err(unavailable)?;
            self.revoke_access(&known).await;
        }
        let user_id = refresh.map(|r| r.sub).or(access.map(|a| a.sub));
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
        if !crate::issue::is_valid_id(family_id) {
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
        self.revoke_access(&known).await;
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
            .inner
            .revocation
            .revoke_all_for(user_id)
            .await
            .map_err(unavailable)?;
        let known = self
            .inner
            .store
            .revoke_user(user_id)
            .await
            .map_err(unavailable)?;
        self.revoke_access(&known).await;
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
fn short(id: &str) -> String {
    id.chars().take(8).collect()
}
