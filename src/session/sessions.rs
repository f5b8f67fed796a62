//! [`Sessions`], the handle every session operation hangs off, and what the operations
//! share: the ownership check of a presented session id and the verification of a
//! presented token.

use std::fmt;
use std::sync::Arc;

use serde::de::DeserializeOwned;

use crate::auth::TokenAuth;
use crate::session::error::SessionError;
use crate::session::hooks::SessionHooks;
use crate::session::routes::TokenDelivery;
use crate::store::{RefreshStore, StoreError};
use crate::token::error::InvalidToken;
use crate::trust::verify::{Accepted, KindSet};

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
///             Err(e) => sessions.auth().web().render_error(e.into()),
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
/// // up: reuse is detected and the whole session ends.
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

/// What every operation reads; set once by [`SessionsBuilder::build`](crate::session::SessionsBuilder::build).
pub(crate) struct SessionsInner {
    pub(crate) auth: TokenAuth,
    pub(super) store: Arc<dyn RefreshStore>,
    pub(super) hooks: Arc<dyn SessionHooks>,
    /// The grace window, in seconds.
    pub(super) grace: u64,
    /// The absolute session lifetime, in seconds.
    pub(super) session_lifetime: u64,
    pub(super) require_expired_access: bool,
    pub(crate) delivery: TokenDelivery,
    pub(super) keep_refresh_token: bool,
    pub(super) legacy_exchange: bool,
}

impl fmt::Debug for Sessions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sessions")
            .field("grace", &self.inner.grace)
            .field("session_lifetime", &self.inner.session_lifetime)
            .finish_non_exhaustive()
    }
}

impl Sessions {
    /// The token authority.
    pub fn auth(&self) -> &TokenAuth {
        &self.inner.auth
    }

    /// The refresh store.
    pub fn store(&self) -> &Arc<dyn RefreshStore> {
        &self.inner.store
    }

    /// A refusal of a presented token, recorded (log, metrics) as the layer records one.
    pub(super) fn refused(&self, reason: InvalidToken) -> SessionError {
        SessionError::refused(self.inner.auth.rejected(reason))
    }

    /// The end of `session_id` when it is active and belongs to `owner`.
    pub(super) async fn owned_session_end(
        &self,
        session_id: &str,
        owner: &str,
    ) -> Result<u64, SessionError> {
        let auth = &self.inner.auth;
        let session = self
            .inner
            .store
            .session(session_id, auth.now())
            .await
            .map_err(store_failed)?;
        match session {
            Some(s) if s.user_id == owner => Ok(s.expires_at),
            Some(_) => {
                tracing::warn!(family = %short(session_id), "token names a family of another user");
                auth.rejected(InvalidToken::InvalidClaims);
                Err(SessionError::NotOwner)
            }
            None => Err(self.refused(InvalidToken::SessionEnded)),
        }
    }

    /// A token of ours for logout and the routes' CSRF pre-check: every check but time
    /// (signature, kind, `sub`/`jti`, `iss`, `aud`). An expired token still says which
    /// session to end; a token for another issuer or audience says nothing.
    pub(crate) fn verify_session_token<T: DeserializeOwned>(
        &self,
        token: &str,
        accepted: KindSet,
    ) -> Result<Accepted<T>, SessionError> {
        self.inner
            .auth
            .verify_session(token, accepted, true, false)
            .map_err(|e| self.refused(e))
    }
}

/// A refresh-store failure, logged: the operation answers 503.
pub(super) fn store_failed(e: StoreError) -> SessionError {
    tracing::warn!(error = %e, "refresh store unavailable");
    SessionError::Store(e)
}

/// The first 8 characters of an id, for logs.
pub(super) fn short(id: &str) -> String {
    id.chars().take(8).collect()
}

/// A router whose state is [`Sessions`] reaches its [`TokenAuth`] too: the extractors
/// that read the handle from the state (`DpopProof`, `SameOrigin`) work on it.
impl axum::extract::FromRef<Sessions> for TokenAuth {
    fn from_ref(sessions: &Sessions) -> TokenAuth {
        sessions.auth().clone()
    }
}
