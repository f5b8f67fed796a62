//! A revocation store that can be switched off, shared by the tests that need one.

use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use axum_token_auth::store::{
    RevocationCheck, RevocationStore, StoreError, SubjectCutoff, SubjectRevocation, TokenDigest,
};

/// A revocation store that can be switched off, standing for an unreachable backend
/// (the store guard sees the same `StoreError::Unavailable` as from Redis or
/// PostgreSQL; tests/outage.rs stops the real servers).
#[derive(Debug, Default)]
pub struct Switchable {
    /// While set, every check fails as an unreachable store does.
    pub down: AtomicBool,
}

#[async_trait]
impl RevocationStore for Switchable {
    async fn revoke(&self, _: TokenDigest, _: u64) -> Result<(), StoreError> {
        Ok(())
    }

    async fn is_revoked(&self, _: &TokenDigest) -> Result<bool, StoreError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(StoreError::Unavailable("down".into()));
        }
        Ok(false)
    }

    async fn check(&self, token: &RevocationCheck<'_>) -> Result<bool, StoreError> {
        self.is_revoked(token.digest).await
    }

    fn check_now(&self, _: &RevocationCheck<'_>) -> Option<Result<bool, StoreError>> {
        None
    }
}

/// Subject-wide revocation as the store stood for here had it: no cutoffs.
#[async_trait]
impl SubjectRevocation for Switchable {
    async fn revoke_all_for(&self, _: &str, _: u64) -> Result<u64, StoreError> {
        Err(StoreError::Backend(
            "this store cannot revoke all tokens of a user".into(),
        ))
    }

    async fn subject_cutoff(&self, _: &str) -> Result<SubjectCutoff, StoreError> {
        Ok(SubjectCutoff::default())
    }

    async fn revoke_for(&self, _: &str, digest: TokenDigest, until: u64) -> Result<(), StoreError> {
        self.revoke(digest, until).await
    }
}

/// A DPoP replay cache (the memory one) that can be switched off like [`Switchable`].
#[derive(Debug, Default)]
pub struct SwitchableReplay {
    /// While set, every call fails as an unreachable store does.
    pub down: AtomicBool,
    /// The cache behind the switch.
    pub inner: axum_token_auth::store::replay::MemoryProofReplay,
}

#[async_trait]
impl axum_token_auth::store::ProofReplay for SwitchableReplay {
    async fn first_use(
        &self,
        id: &axum_token_auth::store::ProofId,
        expires_at: u64,
    ) -> Result<bool, StoreError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(StoreError::Unavailable("down".into()));
        }
        self.inner.first_use(id, expires_at).await
    }

    async fn is_recorded(&self, id: &axum_token_auth::store::ProofId) -> Result<bool, StoreError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(StoreError::Unavailable("down".into()));
        }
        self.inner.is_recorded(id).await
    }
}
