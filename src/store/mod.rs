//! State that outlives a request: revoked token ids ([`RevocationStore`]), sessions and
//! their refresh tokens ([`RefreshStore`]) and tenant scope grants ([`GrantStore`](grants::GrantStore)), each a trait
//! with three backends: [`memory`] (the embedded default, one process), `redis` and
//! `postgres` (cargo features of the same names, for several instances). Every store is
//! wrapped in a circuit [`breaker`] (timeouts, bounded calls in flight), so an outage
//! answers `503` fast and nothing is lost when the store comes back.
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
//! PostgreSQL, and each behind its breaker).
//!
//! Failed-login counters for the login throttle: [`attempts`] (memory and Redis).

pub mod attempts;
pub mod breaker;
pub mod external_revocation;
pub mod grants;
pub mod memory;
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub mod postgres;
pub(crate) mod prehashed;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub mod redis;
pub mod refresh;
pub mod replay;
#[cfg(any(feature = "redis", feature = "postgres"))]
pub(crate) mod replica;

pub use refresh::{
    AccessRef, MAX_ACCESS_PER_SESSION, NewSession, RefreshStore, RotateOutcome, Rotation, Session,
    Successor,
};
pub use replay::{ProofId, ProofReplay};

use std::fmt;

use async_trait::async_trait;
use sha2::{Digest, Sha256};

/// How long the local revocation replica of the Redis and PostgreSQL stores is trusted
/// without hearing its channels, by default (see their `max_staleness` settings).
pub const DEFAULT_MAX_STALENESS: std::time::Duration = std::time::Duration::from_secs(2);

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

    /// The digest of a whole token (how some legacy formats' tokens are revoked).
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

/// When, why and by whom a token was revoked, kept by stores that can ([`RevocationNotes`]).
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

/// Where revoked token ids live; consulted for every verified token. The required
/// surface: what every store does, with no default that could be forgotten by a wrapper.
///
/// The per-request check first asks [`check_now`](Self::check_now), which an in-process
/// store (or an in-process replica of a shared one) answers without waiting; only when it
/// returns `None` does it await [`check`](Self::check). So a shared store costs at most
/// one round trip per request, and a replicated one none.
///
/// Optional capabilities are traits of their own, required where they are used:
/// [`SubjectRevocation`] (revoke everything of a subject; what
/// [`TokenAuthBuilder::revocation_store`](crate::TokenAuthBuilder::revocation_store)
/// needs) and [`RevocationNotes`] (when, why and by whom). A store that lacks one does
/// not compile where it is needed.
///
/// ```
/// use async_trait::async_trait;
/// use axum_token_auth::store::{RevocationCheck, RevocationStore, StoreError, TokenDigest};
///
/// /// A store that forgets everything (for a demo).
/// struct Forgetful;
///
/// #[async_trait]
/// impl RevocationStore for Forgetful {
///     async fn revoke(&self, _: TokenDigest, _: u64) -> Result<(), StoreError> { Ok(()) }
///     async fn is_revoked(&self, _: &TokenDigest) -> Result<bool, StoreError> { Ok(false) }
///     async fn check(&self, t: &RevocationCheck<'_>) -> Result<bool, StoreError> {
///         self.is_revoked(t.digest).await
///     }
///     fn check_now(&self, _: &RevocationCheck<'_>) -> Option<Result<bool, StoreError>> {
///         None // nothing is known without asking
///     }
/// }
/// ```
#[async_trait]
pub trait RevocationStore: Send + Sync + 'static {
    /// Records that the token with this digest is revoked until `expires_at` (seconds
    /// since the epoch; after that the token is refused as expired anyway).
    async fn revoke(&self, digest: TokenDigest, expires_at: u64) -> Result<(), StoreError>;

    /// Whether the token with this digest is revoked.
    async fn is_revoked(&self, digest: &TokenDigest) -> Result<bool, StoreError>;

    /// The per-request check: whether the token is revoked, by its digest and by what
    /// the store records for its subject (a store with [`SubjectRevocation`] applies the
    /// subject's cutoff, see [`SubjectCutoff::revokes`]; one without it asks
    /// [`is_revoked`](Self::is_revoked)). Stores answer it in one round trip.
    async fn check(&self, token: &RevocationCheck<'_>) -> Result<bool, StoreError>;

    /// [`check`](Self::check) when the answer is known without waiting (in-process
    /// state, a trusted replica), else `None`: then the caller awaits
    /// [`check`](Self::check).
    fn check_now(&self, token: &RevocationCheck<'_>) -> Option<Result<bool, StoreError>>;
}

/// A capability of a [`RevocationStore`]: revoking every token of a subject in O(1)
/// (a generation and a cutoff per subject). [`TokenAuth`](crate::TokenAuth) needs it
/// (`revoke_all_for_user`, [`Sessions`](crate::Sessions)' generations), so
/// [`TokenAuthBuilder::revocation_store`](crate::TokenAuthBuilder::revocation_store)
/// takes only stores that have it. Every built-in store does.
#[async_trait]
pub trait SubjectRevocation: RevocationStore {
    /// Revokes every token of `subject` issued up to `at` (seconds since the epoch),
    /// however it was minted, in O(1): the subject's generation is incremented and `at`
    /// is recorded as its [`SubjectCutoff::issued_through`]. A token carrying a
    /// generation (the `gen` claim, written by [`Sessions`](crate::Sessions)) is refused
    /// when that generation is older; a token without one is refused when its `iat` is
    /// at or before the cutoff. Returns the new generation.
    async fn revoke_all_for(&self, subject: &str, at: u64) -> Result<u64, StoreError>;

    /// What [`revoke_all_for`](Self::revoke_all_for) recorded for `subject` (its
    /// generation is 0 when never revoked).
    async fn subject_cutoff(&self, subject: &str) -> Result<SubjectCutoff, StoreError>;

    /// Revokes one token of `subject` (what [`Sessions`](crate::Sessions) and
    /// [`TokenAuth::revoke`](crate::TokenAuth::revoke) call). A bounded store may, when
    /// the subject already holds its share of the store or the store is full, revoke all
    /// of the subject's tokens instead ([`revoke_all_for`](Self::revoke_all_for) at its
    /// clock's now): stronger for that subject, and one account cannot use up the store.
    /// An unbounded store [`revoke`](RevocationStore::revoke)s.
    async fn revoke_for(
        &self,
        subject: &str,
        digest: TokenDigest,
        expires_at: u64,
    ) -> Result<(), StoreError>;
}

/// A [`SubjectRevocation`] store as
/// [`TokenAuthBuilder::revocation_store`](crate::TokenAuthBuilder::revocation_store)
/// takes it: as its own type (`Arc<MemoryRevocationStore>`), or already erased
/// (`Arc<dyn SubjectRevocation>`). Implemented for both; there is nothing to implement.
pub trait IntoDynSubjectRevocation: SubjectRevocation {
    /// The same store, seen as `dyn SubjectRevocation`.
    fn into_dyn(self: std::sync::Arc<Self>) -> std::sync::Arc<dyn SubjectRevocation>;
}

impl<S: SubjectRevocation> IntoDynSubjectRevocation for S {
    fn into_dyn(self: std::sync::Arc<Self>) -> std::sync::Arc<dyn SubjectRevocation> {
        self
    }
}

impl IntoDynSubjectRevocation for dyn SubjectRevocation {
    fn into_dyn(self: std::sync::Arc<Self>) -> std::sync::Arc<dyn SubjectRevocation> {
        self
    }
}

/// A capability of a [`RevocationStore`]: keeping when, why and by whom a token was
/// revoked (the PostgreSQL store has it). Register such a store with
/// [`TokenAuthBuilder::revocation_store_with_notes`](crate::TokenAuthBuilder::revocation_store_with_notes)
/// for [`Revocation::note`](crate::trust::Revocation::note) to keep its notes.
#[async_trait]
pub trait RevocationNotes: RevocationStore {
    /// [`revoke`](RevocationStore::revoke), keeping `note` with the revocation.
    async fn revoke_noted(
        &self,
        digest: TokenDigest,
        expires_at: u64,
        note: &RevocationNote,
    ) -> Result<(), StoreError>;

    /// The note kept with a revocation (`Ok(None)` for a revocation without one).
    async fn revocation_note(
        &self,
        digest: &TokenDigest,
    ) -> Result<Option<RevocationNote>, StoreError>;
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
