//! State that outlives a request: revoked token ids ([`RevocationStore`]), sessions and
//! their refresh tokens ([`RefreshStore`]) and tenant scope grants ([`GrantStore`](grants::GrantStore)), each a trait
//! with three backends: [`memory`] (the embedded default, one process), `redis` and
//! `postgres` (cargo features of the same names, for several instances). Every store is
//! wrapped in a [`guard`] (timeouts, a circuit breaker, bounded calls in flight), so an
//! outage answers `503` fast and nothing is lost when the store comes back.
//!
//! ```
//! use std::sync::Arc;
//! use axum_token_auth::{Sessions, TokenAuth, TokenRequest};
//! use axum_token_auth::store::memory::{MemoryRefreshStore, MemoryRevocationStore};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // The defaults, spelled out: in-memory revocations and sessions.
//! let auth = TokenAuth::builder()
//!     .hs256_secret("a-random-secret-of-at-least-32-bytes!!")
//!     .revocation_store(Arc::new(MemoryRevocationStore::default()))
//!     .build()?;
//! let sessions = Sessions::builder(auth.clone(), MemoryRefreshStore::new()).build()?;
//!
//! let token = auth.issue_access(&TokenRequest::new("alice"))?;
//! auth.revoke(token.as_str()).await?;
//! // Only the SHA-256 digest of the token's `jti` is stored, never the token.
//! let digest = axum_token_auth::store::TokenDigest::of_jti(&token.jti);
//! assert!(auth.revocation_store().is_revoked(&digest).await?);
//! # let _ = sessions; Ok(()) }
//! ```
//!
//! Tokens are never stored: only the SHA-256 digest of their `jti` ([`TokenDigest`]).
//! One conformance suite runs the same tests against every backend (memory, Redis,
//! PostgreSQL, and each behind its guard).

pub(crate) mod breaker;
pub mod grants;
pub mod guard;
pub mod memory;
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub mod postgres;
pub(crate) mod prehashed;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub mod redis;
pub mod refresh;
#[cfg(any(feature = "redis", feature = "postgres"))]
pub(crate) mod replica;

pub use refresh::{
    AccessRef, MAX_ACCESS_PER_SESSION, NewSession, RefreshStore, RotateOutcome, Rotation, Session,
    Successor,
};

use std::fmt;

use async_trait::async_trait;
use sha2::{Digest, Sha256};

/// What the layer does when the revocation store cannot answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreFailurePolicy {
    /// Refuse the request with 503 (the default): a revoked token is never accepted.
    #[default]
    FailClosed,
    /// ⚠️ Accept the (otherwise valid) token and log a warning: availability over
    /// revocation. A revoked token is accepted while the store is down.
    FailOpen,
}

/// A store failure, normalised.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The backend could not be reached or timed out; the operation may be retried.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The store is full and refuses to forget anything it must remember.
    #[error("store capacity exceeded")]
    CapacityExceeded,
    /// The backend answered something unexpected.
    #[error("store error: {0}")]
    Backend(String),
}

/// The SHA-256 digest of a token's `jti`: what revocation lists store and logs show.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TokenDigest(pub [u8; 32]);

impl TokenDigest {
    /// The digest of a `jti`.
    pub fn of_jti(jti: &str) -> Self {
        TokenDigest(Sha256::digest(jti.as_bytes()).into())
    }

    /// The digest of a whole token (how legacy formats' tokens are revoked, as
    /// ScopedTokenService did).
    pub fn of_token(token: &str) -> Self {
        TokenDigest(Sha256::digest(token.as_bytes()).into())
    }

    /// Reads 64 hex digits (either case), as [`to_hex`](Self::to_hex) writes them.
    pub fn from_hex(hex: &str) -> Option<Self> {
        let hex = hex.as_bytes();
        if hex.len() != 64 {
            return None;
        }
        let nibble = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
        let mut out = [0u8; 32];
        for (i, pair) in hex.chunks_exact(2).enumerate() {
            out[i] = (nibble(pair[0])? << 4) | nibble(pair[1])?;
        }
        Some(TokenDigest(out))
    }

    /// Lower-case hex of the whole digest.
    pub fn to_hex(&self) -> String {
        let mut s = String::with_capacity(64);
        for b in self.0 {
            s.push_str(&format!("{b:02x}"));
        }
        s
    }

    /// The first 8 bytes as hex: enough to correlate log lines, never the token.
    pub fn short(&self) -> ShortDigest {
        ShortDigest(*self)
    }
}

/// Displays the first 8 bytes of a [`TokenDigest`] as hex (for logs).
#[derive(Clone, Copy)]
pub struct ShortDigest(TokenDigest);

impl fmt::Display for ShortDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in &self.0.0[..8] {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for TokenDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenDigest({})", self.short())
    }
}

/// When, why and by whom a token was revoked (ScopedTokenService's revocation
/// metadata), kept by stores that can ([`RevocationStore::revoke_noted`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RevocationNote {
    /// When (seconds since the epoch); 0 until [`TokenAuth::revoke`](crate::TokenAuth::revoke)
    /// dates it by the handle's clock.
    pub at: u64,
    /// Why ("logout", "password changed", "compromised" …), at most 256 characters.
    pub reason: String,
    /// Who did it, when known.
    pub by: Option<String>,
}

impl RevocationNote {
    /// A note with `reason`, dated when stored (by the handle's clock, so a test clock
    /// is obeyed).
    pub fn new(reason: impl Into<String>) -> Self {
        RevocationNote {
            at: 0,
            reason: reason.into().chars().take(256).collect(),
            by: None,
        }
    }

    /// Who revoked it.
    ///
    /// ```
    /// use axum_token_auth::store::RevocationNote;
    ///
    /// let note = RevocationNote::new("laptop stolen").by("support:bob");
    /// # let _ = note;
    /// ```
    #[must_use]
    pub fn by(mut self, actor: impl Into<String>) -> Self {
        self.by = Some(actor.into().chars().take(256).collect());
        self
    }
}

/// Where revoked token ids live; consulted for every verified token.
///
/// The layer first asks [`is_revoked_now`](Self::is_revoked_now), which an in-process
/// store (or an in-process cache of a shared one) answers without waiting; only when it
/// returns `None` does it await [`is_revoked`](Self::is_revoked). So a shared store costs
/// at most one round-trip per request, and a cached one none.
#[async_trait]
pub trait RevocationStore: Send + Sync + 'static {
    /// Records that the token with this digest is revoked until `expires_at` (seconds
    /// since the epoch; after that the token is refused as expired anyway).
    async fn revoke(&self, digest: TokenDigest, expires_at: u64) -> Result<(), StoreError>;

    /// Whether the token with this digest is revoked.
    async fn is_revoked(&self, digest: &TokenDigest) -> Result<bool, StoreError>;

    /// [`revoke`](Self::revoke), keeping when, why and by whom where the store can (the
    /// PostgreSQL store does; the default forgets the note).
    async fn revoke_noted(
        &self,
        digest: TokenDigest,
        expires_at: u64,
        note: &RevocationNote,
    ) -> Result<(), StoreError> {
        let _ = note;
        self.revoke(digest, expires_at).await
    }

    /// The note kept with a revocation, where the store keeps them (`Ok(None)` otherwise).
    async fn revocation_note(
        &self,
        digest: &TokenDigest,
    ) -> Result<Option<RevocationNote>, StoreError> {
        let _ = digest;
        Ok(None)
    }

    /// The answer when it is known without waiting (in-process state), else `None`.
    fn is_revoked_now(&self, digest: &TokenDigest) -> Option<Result<bool, StoreError>> {
        let _ = digest;
        None
    }

    /// Revokes every token of `subject` issued up to `at` (seconds since the epoch),
    /// however it was minted, in O(1): the subject's generation is incremented and `at`
    /// is recorded as its [`SubjectCutoff::issued_through`]. A token carrying a
    /// generation (the `gen` claim, written by [`Sessions`](crate::Sessions)) is refused
    /// when that generation is older; a token without one is refused when its `iat` is
    /// at or before the cutoff. Returns the new generation.
    async fn revoke_all_for(&self, subject: &str, at: u64) -> Result<u64, StoreError> {
        let _ = (subject, at);
        Err(StoreError::Backend(
            "this store cannot revoke all tokens of a user".into(),
        ))
    }

    /// The subject's current generation (0 when never revoked).
    async fn generation(&self, subject: &str) -> Result<u64, StoreError> {
        let _ = subject;
        Ok(0)
    }

    /// What [`revoke_all_for`](Self::revoke_all_for) recorded for `subject` (the
    /// default: its generation, no cutoff).
    async fn subject_cutoff(&self, subject: &str) -> Result<SubjectCutoff, StoreError> {
        Ok(SubjectCutoff {
            generation: self.generation(subject).await?,
            issued_through: 0,
        })
    }

    /// Revokes one token of `subject` (what [`Sessions`](crate::Sessions) and
    /// [`TokenAuth::revoke`](crate::TokenAuth::revoke) call). A bounded store may, when
    /// the subject already holds its share of the store or the store is full, revoke all
    /// of the subject's tokens instead ([`revoke_all_for`](Self::revoke_all_for) at its
    /// clock's now): stronger for that subject, and one account cannot use up the store.
    /// The default is [`revoke`](Self::revoke).
    async fn revoke_for(
        &self,
        subject: &str,
        digest: TokenDigest,
        expires_at: u64,
    ) -> Result<(), StoreError> {
        let _ = subject;
        self.revoke(digest, expires_at).await
    }

    /// The per-request check: the token's digest, and the subject's cutoff (see
    /// [`SubjectCutoff::revokes`]). Stores override it to answer in one round trip.
    async fn check(&self, token: &RevocationCheck<'_>) -> Result<bool, StoreError> {
        if self.is_revoked(token.digest).await? {
            return Ok(true);
        }
        Ok(self.subject_cutoff(token.subject).await?.revokes(token))
    }

    /// [`check`](Self::check) when it is known without waiting, else `None` (the
    /// default: always ask [`check`](Self::check)).
    fn check_now(&self, token: &RevocationCheck<'_>) -> Option<Result<bool, StoreError>> {
        let _ = token;
        None
    }
}

/// What "revoke everything of a subject" left behind: the subject's generation and the
/// last issue instant it covers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct SubjectCutoff {
    /// The subject's generation (0 when never revoked).
    pub generation: u64,
    /// Tokens without a generation issued at or before this instant (seconds since the
    /// epoch) are revoked; 0 when never revoked.
    pub issued_through: u64,
}

impl SubjectCutoff {
    /// Whether this cutoff revokes the token: an older generation when the token carries
    /// one, else an `iat` at or before [`issued_through`](Self::issued_through). (A token
    /// without `gen` issued in the same second as a revoke-all is refused too: the two
    /// cannot be told apart.)
    pub fn revokes(&self, token: &RevocationCheck<'_>) -> bool {
        match token.generation {
            Some(g) => g < self.generation,
            None => self.issued_through > 0 && token.issued_at <= self.issued_through,
        }
    }

    /// The later of two cutoffs, field by field (what every store keeps).
    #[must_use]
    pub fn max(self, other: SubjectCutoff) -> SubjectCutoff {
        SubjectCutoff {
            generation: self.generation.max(other.generation),
            issued_through: self.issued_through.max(other.issued_through),
        }
    }
}

/// What the per-request revocation check looks at.
#[derive(Debug, Clone, Copy)]
pub struct RevocationCheck<'a> {
    /// The digest of the token's `jti`.
    pub digest: &'a TokenDigest,
    /// The token's subject.
    pub subject: &'a str,
    /// The subject's generation written into the token (`gen` claim), if any.
    pub generation: Option<u64>,
    /// The token's `iat` (seconds since the epoch).
    pub issued_at: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_is_sha256_of_jti() {
        let d = TokenDigest::of_jti("abc");
        assert_eq!(
            d.to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(d.short().to_string(), "ba7816bf8f01cfea");
        assert_eq!(format!("{d:?}"), "TokenDigest(ba7816bf8f01cfea)");
    }
}
