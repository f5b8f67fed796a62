//! The refresh-token store: Token-Auth's callbacks as one trait, [`RefreshStore`], over
//! refresh *families* (one per login) with atomic rotation and reuse detection.
//!
//! | Token-Auth callback | here |
//! | --- | --- |
//! | `create_refresh_token(user_id, access_token)` | [`RefreshStore::create_family`] (the first refresh token, bound to its access token) |
//! | `verify_refresh_token(refresh_token)` | [`RefreshStore::verify`] |
//! | `refresh_token_compromised(refresh, access)` | [`Rotation::presented_access`] → [`RotateOutcome::Compromised`], decided inside the atomic rotation |
//! | `revoke_user_refresh_tokens(user_id \| refresh_token)` | [`RefreshStore::revoke_user`] / [`RefreshStore::revoke_family`] |
//! | `user_has_refresh_tokens(user_id)` | [`RefreshStore::user_has_sessions`] |
//! | (new) rotation with reuse detection | [`RefreshStore::rotate`], atomic |
//! | (new) sessions | [`RefreshStore::list_sessions`] |
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

/// How many unexpired access tokens a family remembers (the most recent ones), so a
/// client refreshing in a loop cannot grow a family's record without bound. Older access
/// tokens of a revoked family are not revoked; they still expire with their lifetime.
pub const MAX_ACCESS_PER_FAMILY: usize = 16;

/// An access token a family knows about (so it can be revoked with the family).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessRef {
    /// The access token's `jti`.
    pub jti: String,
    /// Its expiry (seconds since the epoch).
    pub expires_at: u64,
}

/// A new login: the family's first refresh token and the access token it was issued with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFamily {
    /// The family id (the `fam` claim).
    pub family_id: String,
    /// The user (the tokens' `sub`).
    pub user_id: String,
    /// Digest of the first refresh token's `jti`.
    pub refresh: TokenDigest,
    /// The access token issued with it.
    pub access: AccessRef,
    /// Now (seconds since the epoch).
    pub created_at: u64,
    /// The family's absolute end: no refresh token of it outlives this.
    pub expires_at: u64,
    /// The client's `User-Agent`, when known (shown in session lists).
    pub user_agent: Option<String>,
    /// A device name the application chose (shown in session lists).
    pub device: Option<String>,
    /// The client's IP address at login, as the application saw it.
    pub ip: Option<String>,
}

/// A rotation request: consume `presented` and, if it is the family's current token,
/// make the successor current.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    /// The family id from the presented token.
    pub family_id: String,
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
    /// compromised (Token-Auth's `refresh_token_compromised(refresh, access)`).
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
    /// Refresh-token expiry (the store caps it at the family's end).
    pub refresh_expires_at: u64,
    /// Access-token expiry.
    pub access_expires_at: u64,
}

/// What a rotation did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RotateOutcome {
    /// The presented token was current; the successor (possibly with its refresh expiry
    /// capped at the family's end) is now current.
    Rotated(Successor),
    /// The presented token is the immediate parent, retried within the grace window while
    /// its successor is unused: here is that same successor again.
    Retry(Successor),
    /// The presented token was already consumed: the family is now revoked. The access
    /// tokens it knew are returned so they can be revoked too.
    Reused {
        /// The user the family belonged to.
        user_id: String,
        /// Access tokens to revoke.
        access: Vec<AccessRef>,
    },
    /// The presented access token is not the one issued with the presented refresh
    /// token: the family is now revoked.
    Compromised {
        /// The user the family belonged to.
        user_id: String,
        /// Access tokens to revoke.
        access: Vec<AccessRef>,
    },
    /// No such family, or it was revoked or has ended.
    Unknown,
}

/// One active refresh family, as shown in a session list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// The family id.
    pub id: String,
    /// The user.
    pub user_id: String,
    /// Login time.
    pub created_at: u64,
    /// Last refresh (or login) time.
    pub last_used_at: u64,
    /// The family's absolute end.
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
    /// Records a new family with its first refresh token bound to `access`
    /// (Token-Auth's `create_refresh_token`).
    async fn create_family(&self, family: NewFamily) -> Result<(), StoreError>;

    /// Whether `presented` is the current, unconsumed token of an active family
    /// (Token-Auth's `verify_refresh_token`).
    async fn verify(
        &self,
        family_id: &str,
        presented: &TokenDigest,
        now: u64,
    ) -> Result<bool, StoreError>;

    /// Consumes the presented token atomically (see [`RotateOutcome`]).
    async fn rotate(&self, rotation: Rotation) -> Result<RotateOutcome, StoreError>;

    /// Revokes one family (Token-Auth's `revoke_user_refresh_tokens(refresh_token)`);
    /// returns the access tokens it knew. Revoking an unknown family is not an error.
    async fn revoke_family(&self, family_id: &str) -> Result<Vec<AccessRef>, StoreError>;

    /// Revokes every family of `user_id`; returns the access tokens they knew
    /// (Token-Auth's `revoke_user_refresh_tokens(user_id)`).
    async fn revoke_user(&self, user_id: &str) -> Result<Vec<AccessRef>, StoreError>;

    /// Whether the user has an active family (Token-Auth's `user_has_refresh_tokens`).
    async fn user_has_sessions(&self, user_id: &str, now: u64) -> Result<bool, StoreError> {
        Ok(!self.list_sessions(user_id, now).await?.is_empty())
    }

    /// The user's active families, oldest first.
    async fn list_sessions(&self, user_id: &str, now: u64) -> Result<Vec<Session>, StoreError>;

    /// The family `family_id` when active.
    async fn session(&self, family_id: &str, now: u64) -> Result<Option<Session>, StoreError>;

    /// Drops ended and revoked families; returns how many.
    async fn purge_expired(&self, now: u64) -> Result<u64, StoreError>;
}
