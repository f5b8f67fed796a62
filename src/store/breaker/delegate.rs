//! The store traits, implemented by [`Guarded`] over whatever it wraps: each call goes
//! through [`StoreGuard::run`](super::StoreGuard) and records the domain metrics
//! (revocations, sessions, refreshes, reuse, grant changes) when it succeeds.
//!
//! Each capability trait is implemented exactly when the wrapped store has it; none of
//! them has a default method, so a method left out here does not compile.

use async_trait::async_trait;

use super::{Guarded, open_error};
use crate::store::grants::{AuditEntry, GrantChange, GrantStore, ScopeGrant};
use crate::store::refresh::{
    AccessRef, NewSession, RefreshStore, RotateOutcome, Rotation, Session,
};
use crate::store::replay::{ProofId, ProofReplay};
use crate::store::{
    RevocationCheck, RevocationNote, RevocationNotes, RevocationStore, StoreError, SubjectCutoff,
    SubjectRevocation, TokenDigest,
};
use crate::telemetry;

#[async_trait]
impl<S: RevocationStore + ?Sized> RevocationStore for Guarded<S> {
    async fn revoke(&self, digest: TokenDigest, expires_at: u64) -> Result<(), StoreError> {
        let r = self
            .call("revoke", self.inner.revoke(digest, expires_at))
            .await;
        revoked(&r, "token");
        r
    }

    async fn is_revoked(&self, digest: &TokenDigest) -> Result<bool, StoreError> {
        self.call_check("is_revoked", self.inner.is_revoked(digest))
            .await
    }

    async fn check(&self, token: &RevocationCheck<'_>) -> Result<bool, StoreError> {
        self.call_check("check", self.inner.check(token)).await
    }

    fn check_now(&self, token: &RevocationCheck<'_>) -> Option<Result<bool, StoreError>> {
        match self.inner.check_now(token) {
            Some(r) => Some(r),
            None => self.refuse_now(),
        }
    }
}

#[async_trait]
impl<S: SubjectRevocation + ?Sized> SubjectRevocation for Guarded<S> {
    async fn revoke_all_for(&self, subject: &str, at: u64) -> Result<u64, StoreError> {
        let r = self
            .call("revoke_all_for", self.inner.revoke_all_for(subject, at))
            .await;
        revoked(&r, "subject");
        r
    }

    async fn subject_cutoff(&self, subject: &str) -> Result<SubjectCutoff, StoreError> {
        self.call("subject_cutoff", self.inner.subject_cutoff(subject))
            .await
    }

    async fn revoke_for(
        &self,
        subject: &str,
        digest: TokenDigest,
        expires_at: u64,
    ) -> Result<(), StoreError> {
        let r = self
            .call("revoke", self.inner.revoke_for(subject, digest, expires_at))
            .await;
        revoked(&r, "token");
        r
    }
}

#[async_trait]
impl<S: RevocationNotes + ?Sized> RevocationNotes for Guarded<S> {
    async fn revoke_noted(
        &self,
        digest: TokenDigest,
        expires_at: u64,
        note: &RevocationNote,
    ) -> Result<(), StoreError> {
        let r = self
            .call("revoke", self.inner.revoke_noted(digest, expires_at, note))
            .await;
        revoked(&r, "token");
        r
    }

    async fn revocation_note(
        &self,
        digest: &TokenDigest,
    ) -> Result<Option<RevocationNote>, StoreError> {
        self.call("revocation_note", self.inner.revocation_note(digest))
            .await
    }
}

/// Counts a revocation that succeeded.
fn revoked<T>(r: &Result<T, StoreError>, what: &'static str) {
    if r.is_ok() {
        telemetry::revoked(what);
    }
}

impl<S: ?Sized> Guarded<S> {
    /// The synchronous answer when the store's own is unknown: a refusal while the
    /// breaker is open, else `None` (the caller awaits the guarded call).
    fn refuse_now<T>(&self) -> Option<Result<T, StoreError>> {
        if self.guard.0.breaker.allows() {
            return None;
        }
        telemetry::store_refused(self.role, "open");
        Some(Err(open_error()))
    }
}

#[async_trait]
impl<S: RefreshStore + ?Sized> RefreshStore for Guarded<S> {
    async fn create_session(&self, family: NewSession) -> Result<(), StoreError> {
        let r = self
            .call("create_family", self.inner.create_session(family))
            .await;
        if r.is_ok() {
            telemetry::session_started();
        }
        r
    }

    async fn verify(
        &self,
        family_id: &str,
        presented: &TokenDigest,
        now: u64,
    ) -> Result<bool, StoreError> {
        self.call("verify", self.inner.verify(family_id, presented, now))
            .await
    }

    async fn rotate(&self, rotation: Rotation) -> Result<RotateOutcome, StoreError> {
        let r = self.call("rotate", self.inner.rotate(rotation)).await;
        match &r {
            Ok(RotateOutcome::Rotated(_)) => telemetry::refreshed("rotated"),
            Ok(RotateOutcome::Retry(_)) => telemetry::refreshed("retry"),
            Ok(RotateOutcome::Reused { .. }) => telemetry::reuse_detected("reused"),
            Ok(RotateOutcome::Compromised { .. }) => telemetry::reuse_detected("compromised"),
            Ok(RotateOutcome::Unknown) => telemetry::refreshed("unknown"),
            Err(_) => {}
        }
        r
    }

    async fn revoke_session(&self, family_id: &str) -> Result<Vec<AccessRef>, StoreError> {
        let r = self
            .call("revoke_family", self.inner.revoke_session(family_id))
            .await;
        if r.is_ok() {
            telemetry::revoked("session");
        }
        r
    }

    async fn revoke_user(&self, user_id: &str) -> Result<Vec<AccessRef>, StoreError> {
        let r = self
            .call("revoke_user", self.inner.revoke_user(user_id))
            .await;
        if r.is_ok() {
            telemetry::revoked("user_sessions");
        }
        r
    }

    async fn user_has_sessions(&self, user_id: &str, now: u64) -> Result<bool, StoreError> {
        self.call(
            "user_has_sessions",
            self.inner.user_has_sessions(user_id, now),
        )
        .await
    }

    async fn list_sessions(&self, user_id: &str, now: u64) -> Result<Vec<Session>, StoreError> {
        self.call("list_sessions", self.inner.list_sessions(user_id, now))
            .await
    }

    async fn session(&self, family_id: &str, now: u64) -> Result<Option<Session>, StoreError> {
        self.call("session", self.inner.session(family_id, now))
            .await
    }

    async fn purge_expired(&self, now: u64) -> Result<u64, StoreError> {
        // Maintenance, not a request: it may take longer than a request's timeout.
        self.inner.purge_expired(now).await
    }
}

#[async_trait]
impl<S: GrantStore + ?Sized> GrantStore for Guarded<S> {
    async fn grant_scope(&self, change: &GrantChange<'_>) -> Result<bool, StoreError> {
        let r = self
            .call("grant_scope", self.inner.grant_scope(change))
            .await;
        if matches!(r, Ok(true)) {
            telemetry::grant_changed("grant");
        }
        r
    }

    async fn revoke_scope(&self, change: &GrantChange<'_>) -> Result<bool, StoreError> {
        let r = self
            .call("revoke_scope", self.inner.revoke_scope(change))
            .await;
        if matches!(r, Ok(true)) {
            telemetry::grant_changed("revoke");
        }
        r
    }

    async fn granted_scopes(
        &self,
        tenant: &str,
        principal: &str,
    ) -> Result<Vec<ScopeGrant>, StoreError> {
        self.call(
            "granted_scopes",
            self.inner.granted_scopes(tenant, principal),
        )
        .await
    }

    async fn audit_log(
        &self,
        tenant: &str,
        principal: Option<&str>,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        self.call("audit_log", self.inner.audit_log(tenant, principal))
            .await
    }
}

#[async_trait]
impl<S: ProofReplay + ?Sized> ProofReplay for Guarded<S> {
    /// The per-request replay check, with the check timeout.
    async fn first_use(&self, id: &ProofId, expires_at: u64) -> Result<bool, StoreError> {
        self.call_check("first_use", self.inner.first_use(id, expires_at))
            .await
    }

    /// A lookup, with the check timeout.
    async fn is_recorded(&self, id: &ProofId) -> Result<bool, StoreError> {
        self.call_check("is_recorded", self.inner.is_recorded(id))
            .await
    }
}
