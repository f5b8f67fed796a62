//! [`SessionHooks`]: what an application is told about sessions ([`SessionEvent`]) and what
//! it decides inside every refresh ([`SessionHooks::on_refresh`] → [`RefreshDecision`]).
//!
//! (Documented with examples in the [`session`](crate::session) module docs.)

use async_trait::async_trait;
use serde_json::{Map, Value};

use crate::session::error::SessionError;
use crate::token::claims::TokenClaims;
use crate::token::issue::{IssueError, IssuedToken};

/// Raw claims: the registered ones typed, everything else (custom claims) kept as is.
type RawClaims = TokenClaims<Map<String, Value>>;

/// What happened, for [`SessionHooks`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionEvent {
    /// A login started a session.
    Issued {
        /// The user.
        user_id: String,
        /// The session.
        session_id: String,
    },
    /// A refresh rotated a session's refresh token (`retry` when it answered a grace
    /// retry).
    Refreshed {
        /// The user.
        user_id: String,
        /// The session.
        session_id: String,
        /// Whether this was an idempotent retry of the parent.
        retry: bool,
    },
    /// A consumed refresh token was presented again, or with a foreign access token: the
    /// session was revoked.
    ReuseDetected {
        /// The user.
        user_id: String,
        /// The session.
        session_id: String,
    },
    /// A session (logout, "log out this device") or all of a user's sessions were revoked.
    Revoked {
        /// The user, when known.
        user_id: Option<String>,
        /// The session, or `None` for all of the user's.
        session_id: Option<String>,
    },
    /// A refresh was refused.
    Denied {
        /// Why.
        reason: SessionError,
    },
}

/// Hooks called by [`Sessions`](crate::Sessions): what happened ([`on_event`](Self::on_event),
/// [`on_tokens_refreshed`](Self::on_tokens_refreshed)) and a say in every refresh
/// ([`on_refresh`](Self::on_refresh)). Every method has a no-op default; errors in hooks
/// are the hook's business.
///
/// ```
/// use axum_token_auth::{Sessions, TokenAuth, TokenRequest, async_trait};
/// use axum_token_auth::session::{SessionEvent, SessionHooks};
/// use axum_token_auth::store::memory::MemoryRefreshStore;
/// use std::sync::{Arc, Mutex};
///
/// /// Counts logins, e.g. for a security dashboard.
/// #[derive(Clone, Default)]
/// struct Logins(Arc<Mutex<u32>>);
///
/// #[async_trait]
/// impl SessionHooks for Logins {
///     async fn on_event(&self, event: &SessionEvent) {
///         if matches!(event, SessionEvent::Issued { .. }) {
///             *self.0.lock().unwrap() += 1;
///         }
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let auth = TokenAuth::builder()
///     .hs256_secret("a-random-secret-of-at-least-32-bytes!!")
///     .build()?;
/// let logins = Logins::default();
/// let sessions = Sessions::builder(auth, MemoryRefreshStore::new())
///     .hooks(logins.clone())
///     .build()?;
/// sessions.login(&TokenRequest::new("alice"), None).await?;
/// assert_eq!(*logins.0.lock().unwrap(), 1);
/// # Ok(()) }
/// ```
#[async_trait]
pub trait SessionHooks: Send + Sync + 'static {
    /// After a refresh answered with a pair: the new access token and the refresh token
    /// the client now holds (the successor, or the presented one with
    /// [`keep_refresh_token`](crate::session::SessionsBuilder::keep_refresh_token)). A
    /// grace retry answers with the same pair again and calls it again; a login does not
    /// call it (see [`SessionEvent::Issued`]).
    async fn on_tokens_refreshed(&self, refresh: &IssuedToken, access: &IssuedToken) {
        let _ = (refresh, access);
    }

    /// Every [`SessionEvent`].
    async fn on_event(&self, event: &SessionEvent) {
        let _ = event;
    }

    /// Consulted inside every refresh (grace retries included), after the presented
    /// refresh token verified and before it is consumed. `parent` holds the presented token's claims (custom claims
    /// in `custom`). Return [`RefreshDecision::Deny`] to end the session (account
    /// disabled, password changed), or [`RefreshDecision::AllowWith`] to give the
    /// successor other scopes or claims — for example the scopes the grant store holds
    /// today, so a revoked grant stops flowing into successors. The default allows.
    async fn on_refresh(&self, parent: &TokenClaims<Map<String, Value>>) -> RefreshDecision {
        let _ = parent;
        RefreshDecision::Allow
    }
}

/// What [`SessionHooks::on_refresh`] decides about one refresh.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum RefreshDecision {
    /// Rotate; the successor carries the parent's claims.
    Allow,
    /// Rotate; the successor carries these changes. Scopes the parent did not grant are
    /// dropped: a refresh narrows a session, it never widens one (log in again for more).
    AllowWith(SuccessorClaims),
    /// Refuse: the session and its known access tokens are revoked, and the refresh fails
    /// with [`SessionError::RefreshDenied`] (`401 invalid_token`).
    Deny,
}

/// Changes to a successor's claims, for [`RefreshDecision::AllowWith`]. What is not set
/// is copied from the parent.
#[derive(Debug, Clone, Default, PartialEq)]
#[must_use]
pub struct SuccessorClaims {
    scopes: Option<Vec<String>>,
    metadata: Option<Map<String, Value>>,
    custom: Option<Map<String, Value>>,
}

impl SuccessorClaims {
    /// No changes yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The successor's scopes (each must also be granted by the parent's scopes).
    pub fn scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = Some(scopes.into_iter().map(Into::into).collect());
        self
    }

    /// The successor's `metadata` claim.
    ///
    /// ```
    /// use axum_token_auth::session::SuccessorClaims;
    /// use serde_json::{Map, json};
    ///
    /// let mut m = Map::new();
    /// m.insert("plan".into(), json!("pro"));
    /// let changes = SuccessorClaims::default().metadata(m);
    /// # let _ = changes;
    /// ```
    pub fn metadata(mut self, metadata: Map<String, Value>) -> Self {
        self.metadata = Some(metadata);
        self
    }

    /// The successor's own (custom) claims; names this crate owns are refused (the list
    /// is at [`TokenRequest::claims`](crate::TokenRequest::claims)).
    ///
    /// ```
    /// use axum_token_auth::session::SuccessorClaims;
    /// use serde_json::{Map, json};
    ///
    /// let mut c = Map::new();
    /// c.insert("org".into(), json!("acme"));
    /// let changes = SuccessorClaims::default().custom(c);
    /// # let _ = changes;
    /// ```
    pub fn custom(mut self, custom: Map<String, Value>) -> Self {
        self.custom = Some(custom);
        self
    }

    /// Applies the changes to the successor's claims (a copy of the parent's).
    pub(crate) fn apply(self, claims: &mut RawClaims) -> Result<(), SessionError> {
        if let Some(scopes) = self.scopes {
            let narrowed: Vec<&str> = scopes
                .iter()
                .map(String::as_str)
                .filter(|s| claims.scope.has(s))
                .collect();
            claims.scope = crate::token::ScopeSet::try_from_iter(narrowed)
                .map_err(|e| SessionError::InvalidSuccessorClaims(IssueError::InvalidScope(e)))?;
        }
        if let Some(metadata) = self.metadata {
            claims.metadata = metadata;
        }
        if let Some(custom) = self.custom {
            if let Some(reserved) = custom
                .keys()
                .find(|k| crate::token::claims::RESERVED_CLAIMS.contains(&k.as_str()))
            {
                return Err(SessionError::InvalidSuccessorClaims(
                    IssueError::ReservedClaim(reserved.clone()),
                ));
            }
            claims.custom = custom;
        }
        Ok(())
    }
}

/// Hooks that do nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHooks;

impl SessionHooks for NoHooks {}
