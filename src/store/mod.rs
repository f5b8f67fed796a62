//! State that outlives a request: revoked token ids ([`RevocationStore`]) and refresh
//! families ([`RefreshStore`]).
//!
//! Stores implement [`RevocationStore`]; [`memory::MemoryRevocationStore`] is the default.
//! Tokens are never stored: only the SHA-256 digest of their `jti` ([`TokenDigest`]).

pub(crate) mod breaker;
pub mod family;
pub mod grants;
pub mod guard;
pub mod memory;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "redis")]
pub mod redis;

pub use family::{
    AccessRef, MAX_ACCESS_PER_FAMILY, NewFamily, RefreshStore, RotateOutcome, Rotation, Session,
    Successor,
};

use std::fmt;

use async_trait::async_trait;
use sha2::{Digest, Sha256};

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

    /// The answer when it is known without waiting (in-process state), else `None`.
    fn is_revoked_now(&self, digest: &TokenDigest) -> Option<Result<bool, StoreError>> {
        let _ = digest;
        None
    }

    /// Revokes every token of `subject` issued so far, in O(1): the subject's generation
    /// is incremented, and tokens carrying an older generation (the `gen` claim, written by
    /// [`Sessions`](crate::Sessions)) are refused from then on. Returns the new generation.
    async fn revoke_all_for(&self, subject: &str) -> Result<u64, StoreError> {
        let _ = subject;
        Err(StoreError::Backend(
            "this store cannot revoke all tokens of a user".into(),
        ))
    }

    /// The subject's current generation (0 when never revoked).
    async fn generation(&self, subject: &str) -> Result<u64, StoreError> {
        let _ = subject;
        Ok(0)
    }

    /// The per-request check: the token's digest, and its generation when it carries one.
    /// Stores override it to answer in one round trip.
    async fn check(&self, token: &RevocationCheck<'_>) -> Result<bool, StoreError> {
        if self.is_revoked(token.digest).await? {
            return Ok(true);
        }
        match token.generation {
            Some(g) => Ok(self.generation(token.subject).await? > g),
            None => Ok(false),
        }
    }

    /// [`check`](Self::check) when it is known without waiting, else `None`.
    fn check_now(&self, token: &RevocationCheck<'_>) -> Option<Result<bool, StoreError>> {
        match token.generation {
            None => self.is_revoked_now(token.digest),
            Some(_) => None,
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
