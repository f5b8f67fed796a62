//! The refresh-token store: [`RefreshStore`], one trait over *sessions* — a session is
//! the chain of rotated refresh tokens one login starts (what OAuth calls a "refresh token
//! family") — with atomic rotation and reuse detection.
//!
//! | operation | method |
//! | --- | --- |
//! | a login starts a session (its first refresh token, bound to its access token) | [`RefreshStore::create_session`] |
//! | is this refresh token its session's current one? | [`RefreshStore::verify`] |
//! | rotation with reuse detection, a foreign access token ending the session ([`Rotation::presented_access`] → [`RotateOutcome::Compromised`]) | [`RefreshStore::rotate`], atomic |
//! | logout, "log out that device", "log out everywhere" | [`RefreshStore::revoke_session`] / [`RefreshStore::revoke_user`] |
//! | session lists | [`RefreshStore::list_sessions`], [`RefreshStore::session`], [`RefreshStore::user_has_sessions`] |
//!
//! How the callbacks of the system this replaces map onto it: the
//! [migration guide](crate::manual::migration).
//!
//! Only digests of refresh-token ids are stored; the plain `jti`s of a successor pair are
//! kept for the grace window only, so a retry can be answered with the same pair.
//!
//! [`Sessions`](crate::Sessions) drives the store; an application reads it for "active
//! sessions" pages and admin tools:
//!
//! ```
//! use std::sync::Arc;
//! use axum_token_auth::{Sessions, TokenAuth, TokenRequest};
//! use axum_token_auth::store::{RefreshStore, memory::MemoryRefreshStore};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let auth = TokenAuth::builder()
//!     .hs256_secret("a-random-secret-of-at-least-32-bytes!!")
//!     .build()?;
//! let store: Arc<dyn RefreshStore> = Arc::new(MemoryRefreshStore::new());
//! let sessions = Sessions::builder_shared(auth.clone(), Arc::clone(&store)).build()?;
//!
//! sessions.login(&TokenRequest::new("alice"), Some("Firefox")).await?;
//! let now = auth.now();
//! assert!(store.user_has_sessions("alice", now).await?);
//! let list = store.list_sessions("alice", now).await?;
//! assert_eq!(list.len(), 1);
//!
//! store.revoke_user("alice").await?; // every session of alice ends
//! assert!(!store.user_has_sessions("alice", now).await?);
//! # Ok(()) }
//! ```

pub(crate) mod rotation;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::store::{StoreError, TokenDigest};

/// How many unexpired access tokens a session remembers (the most recent ones), so a
/// client refreshing in a loop cannot grow a session's record without bound. Older access
/// tokens of a revoked session are not revoked; they still expire with their lifetime.
pub const MAX_ACCESS_PER_SESSION: usize = 16;

/// An access token a session knows about (so it can be revoked with the session).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessRef {
    /// The access token's `jti`.
    pub jti: String,
    /// Its expiry (seconds since the epoch).
    pub expires_at: u64,
}

/// A new login: the session's first refresh token and the access token it was issued with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSession {
    /// The session id (the tokens' `fam` claim).
    pub session_id: String,
    /// The user (the tokens' `sub`).
    pub user_id: String,
    /// Digest of the first refresh token's `jti`.
    pub refresh: TokenDigest,
    /// The access token issued with it.
    pub access: AccessRef,
    /// Now (seconds since the epoch).
    pub created_at: u64,
    /// The session's absolute end: no refresh token of it outlives this.
    pub expires_at: u64,
    /// The client's `User-Agent`, when known (shown in session lists).
    pub user_agent: Option<String>,
    /// A device name the application chose (shown in session lists).
    pub device: Option<String>,
    /// The client's IP address at login, as the application saw it.
    pub ip: Option<String>,
}

/// A rotation request: consume `presented` and, if it is the session's current token,
/// make the successor current.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    /// The session id from the presented token (its `fam` claim).
    pub session_id: String,
    /// Digest of the presented refresh token's `jti`.
    pub presented: TokenDigest,
    /// The successor pair, minted but not yet signed.
    pub successor: Successor,
    /// Now (seconds since the epoch).
    pub now: u64,
    /// Grace window in seconds for a retry of the immediate parent (0 disables).
    pub grace_secs: u64,
    /// The `jti` of the access token presented with the refresh token, if any: when it is
    /// not the access token issued with the presented refresh token, the refresh token is
    /// compromised ([`RotateOutcome::Compromised`]).
    pub presented_access: Option<String>,
}

/// The ids and times of a successor pair; enough to sign the same pair again on a retry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Successor {
    /// The new refresh token's `jti`.
    pub refresh_jti: String,
    /// The new access token's `jti`.
    pub access_jti: String,
    /// Issued at.
    pub issued_at: u64,
    /// Refresh-token expiry (the store caps it at the session's end).
    pub refresh_expires_at: u64,
    /// Access-token expiry.
    pub access_expires_at: u64,
}

/// What a rotation did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RotateOutcome {
    /// The presented token was current; the successor (possibly with its refresh expiry
    /// capped at the session's end) is now current.
    Rotated(Successor),
    /// The presented token is the immediate parent, retried within the grace window while
    /// its successor is unused: here is that same successor again.
    Retry(Successor),
    /// The presented token was already consumed: the session is now revoked. The access
    /// tokens it knew are returned so they can be revoked too.
    Reused {
        /// The user the session belonged to.
        user_id: String,
        /// Access tokens to revoke.
        access: Vec<AccessRef>,
    },
    /// The presented access token is not the one issued with the presented refresh
    /// token: the session is now revoked.
    Compromised {
        /// The user the session belonged to.
        user_id: String,
        /// Access tokens to revoke.
        access: Vec<AccessRef>,
    },
    /// No such session, or it was revoked or has ended.
    Unknown,
}

/// One active session, as shown in a session list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// The session id (the tokens' `fam` claim).
    pub id: String,
    /// The user.
    pub user_id: String,
    /// Login time.
    pub created_at: u64,
    /// Last refresh (or login) time.
    pub last_used_at: u64,
    /// The session's absolute end.
    pub expires_at: u64,
    /// `User-Agent` at login, when known.
    pub user_agent: Option<String>,
    /// The device name given at login, when any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// The client's IP address at login, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
}

/// The refresh-token store. Implementations must make [`rotate`](Self::rotate) atomic:
/// N concurrent rotations of one token produce exactly one successor.
///
/// Ready implementations: [`MemoryRefreshStore`](crate::store::memory::MemoryRefreshStore)
/// (and Redis / PostgreSQL behind features). Object-safe: use it as `Arc<dyn RefreshStore>`.
#[async_trait]
pub trait RefreshStore: Send + Sync + 'static {
    /// Records a new session with its first refresh token bound to its access token.
    async fn create_session(&self, session: NewSession) -> Result<(), StoreError>;

    /// Whether `presented` is the current, unconsumed token of an active session.
    async fn verify(
        &self,
        session_id: &str,
        presented: &TokenDigest,
        now: u64,
    ) -> Result<bool, StoreError>;

    /// Consumes the presented token atomically (see [`RotateOutcome`]).
    async fn rotate(&self, rotation: Rotation) -> Result<RotateOutcome, StoreError>;

    /// Revokes one session; returns the access tokens it knew. Revoking an unknown
    /// session is not an error.
    async fn revoke_session(&self, session_id: &str) -> Result<Vec<AccessRef>, StoreError>;

    /// Revokes every session of `user_id`; returns the access tokens they knew.
    async fn revoke_user(&self, user_id: &str) -> Result<Vec<AccessRef>, StoreError>;

    /// Whether the user has an active session.
    async fn user_has_sessions(&self, user_id: &str, now: u64) -> Result<bool, StoreError> {
        Ok(!self.list_sessions(user_id, now).await?.is_empty())
    }

    /// The user's active sessions, oldest first.
    async fn list_sessions(&self, user_id: &str, now: u64) -> Result<Vec<Session>, StoreError>;

    /// The session `session_id` when active.
    async fn session(&self, session_id: &str, now: u64) -> Result<Option<Session>, StoreError>;

    /// Drops ended and revoked sessions; returns how many.
    async fn purge_expired(&self, now: u64) -> Result<u64, StoreError>;
}
