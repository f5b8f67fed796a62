//! Scope grants per tenant and principal (the seeds' "community" and "module"), with an
//! append-only audit trail of every grant and revoke.
//!
//! ```
//! use axum_token_auth::store::grants::{GrantChange, GrantStore, MemoryGrantStore};
//! use axum_token_auth::{TokenAuth, TokenRequest, token::{Scope, TokenKind}};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let grants = MemoryGrantStore::new();
//! let scope = Scope::new("playlist:manage")?;
//! let change = GrantChange::new("community_123", "music_module", &scope, "user_456")?;
//! grants.grant_scope(&change).await?;
//!
//! let auth = TokenAuth::builder().hs256_secret("a-random-secret-of-at-least-32-bytes!!").build()?;
//! let request = TokenRequest::new("music_module").tenant("community_123").scope("playlist:manage");
//! auth.issue_granted(&grants, TokenKind::Service, &request).await?;       // granted: issued
//! grants.revoke_scope(&change).await?;
//! assert!(auth.issue_granted(&grants, TokenKind::Service, &request).await.is_err());
//! assert_eq!(grants.audit_log("community_123", None).await?.len(), 2);
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::store::StoreError;
use crate::token::clock::{Clock, unix_now};
use crate::token::scope::Scope;

/// A scope granted to a principal within a tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopeGrant {
    /// The tenant ("community").
    pub tenant: String,
    /// The principal ("module", service, user).
    pub principal: String,
    /// The granted scope.
    pub scope: String,
    /// Who granted it.
    pub granted_by: String,
    /// When (seconds since the epoch).
    pub granted_at: u64,
}

/// What an audit entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuditAction {
    /// A scope was granted.
    Grant,
    /// A scope was revoked.
    Revoke,
}

/// One entry of the append-only audit log. Entries are never updated or deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// The tenant.
    pub tenant: String,
    /// The principal.
    pub principal: String,
    /// The scope.
    pub scope: String,
    /// Grant or revoke.
    pub action: AuditAction,
    /// Who did it.
    pub actor: String,
    /// When (seconds since the epoch).
    pub at: u64,
}

/// One grant or revoke of a scope, its ids checked once, when it is built: what a
/// [`GrantStore`] writes, with the audit entry that goes with it. A store cannot be
/// handed ids that were not checked (the fields are private).
///
/// ```
/// use axum_token_auth::store::grants::GrantChange;
/// use axum_token_auth::token::Scope;
///
/// let scope = Scope::new("playlist:manage")?;
/// let change = GrantChange::new("community_123", "music_module", &scope, "user_456")?;
/// assert_eq!(change.tenant(), "community_123");
/// assert!(GrantChange::new("", "music_module", &scope, "user_456").is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct GrantChange<'a> {
    tenant: &'a str,
    principal: &'a str,
    scope: &'a Scope,
    actor: &'a str,
}

impl<'a> GrantChange<'a> {
    /// A change of `scope` for `principal` within `tenant`, made by `actor`; refused
    /// ([`StoreError::Backend`]) unless every id is one issuing accepts.
    pub fn new(
        tenant: &'a str,
        principal: &'a str,
        scope: &'a Scope,
        actor: &'a str,
    ) -> Result<Self, StoreError> {
        for (what, v) in [
            ("tenant", tenant),
            ("principal", principal),
            ("actor", actor),
        ] {
            if !crate::token::issue::is_valid_id(v) {
                return Err(StoreError::Backend(format!("invalid {what}")));
            }
        }
        Ok(GrantChange {
            tenant,
            principal,
            scope,
            actor,
        })
    }

    /// The tenant ("community").
    pub fn tenant(&self) -> &'a str {
        self.tenant
    }

    /// The principal ("module", service, user).
    pub fn principal(&self) -> &'a str {
        self.principal
    }

    /// The scope granted or revoked.
    pub fn scope(&self) -> &'a Scope {
        self.scope
    }

    /// Who made the change.
    pub fn actor(&self) -> &'a str {
        self.actor
    }

    /// The grant this change makes, at `at` (seconds since the epoch).
    pub fn grant(&self, at: u64) -> ScopeGrant {
        ScopeGrant {
            tenant: self.tenant.to_owned(),
            principal: self.principal.to_owned(),
            scope: self.scope.to_string(),
            granted_by: self.actor.to_owned(),
            granted_at: at,
        }
    }

    /// The audit entry of this change as `action`, at `at` (seconds since the epoch).
    pub fn audit(&self, action: AuditAction, at: u64) -> AuditEntry {
        AuditEntry {
            tenant: self.tenant.to_owned(),
            principal: self.principal.to_owned(),
            scope: self.scope.to_string(),
            action,
            actor: self.actor.to_owned(),
            at,
        }
    }
}

/// Where scope grants and their audit trail live.
#[async_trait]
pub trait GrantStore: Send + Sync + 'static {
    /// Grants the change's scope and logs it; `Ok(false)` when it was already granted
    /// (nothing is logged then).
    async fn grant_scope(&self, change: &GrantChange<'_>) -> Result<bool, StoreError>;

    /// Revokes the change's scope and logs it; `Ok(false)` when it was not granted
    /// (nothing is logged then).
    async fn revoke_scope(&self, change: &GrantChange<'_>) -> Result<bool, StoreError>;

    /// The principal's current grants within the tenant, by scope.
    async fn granted_scopes(
        &self,
        tenant: &str,
        principal: &str,
    ) -> Result<Vec<ScopeGrant>, StoreError>;

    /// The audit trail of the tenant (of one principal when given), oldest first.
    async fn audit_log(
        &self,
        tenant: &str,
        principal: Option<&str>,
    ) -> Result<Vec<AuditEntry>, StoreError>;

    /// The principal's current grants as plain scope strings.
    async fn granted_scope_names(
        &self,
        tenant: &str,
        principal: &str,
    ) -> Result<Vec<String>, StoreError> {
        Ok(self
            .granted_scopes(tenant, principal)
            .await?
            .into_iter()
            .map(|g| g.scope)
            .collect())
    }

    /// Revokes `scope` without naming who did it (for callers that have no actor): the audit entry's actor is
    /// [`UNATTRIBUTED`]. Prefer [`revoke_scope`](Self::revoke_scope) with the actor.
    async fn revoke_scope_unattributed(
        &self,
        tenant: &str,
        principal: &str,
        scope: &Scope,
    ) -> Result<bool, StoreError> {
        self.revoke_scope(&GrantChange::new(tenant, principal, scope, UNATTRIBUTED)?)
            .await
    }
}

/// The actor recorded for a grant change made without one.
pub const UNATTRIBUTED: &str = "unattributed";

/// Grants in process memory.
#[derive(Default)]
pub struct MemoryGrantStore {
    state: Mutex<GrantState>,
    clock: Option<Arc<dyn Clock>>,
}

#[derive(Debug, Default)]
struct GrantState {
    grants: BTreeMap<(String, String, String), ScopeGrant>,
    audit: Vec<AuditEntry>,
}

impl std::fmt::Debug for MemoryGrantStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryGrantStore").finish_non_exhaustive()
    }
}

impl MemoryGrantStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Dates grants and audit entries by `clock` instead of the system clock (tests
    /// with a [`ManualClock`](crate::testing::ManualClock)).
    #[must_use]
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Some(Arc::new(clock));
        self
    }

    fn now(&self) -> u64 {
        self.clock.as_ref().map_or_else(unix_now, |c| c.now())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, GrantState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl GrantStore for MemoryGrantStore {
    async fn grant_scope(&self, change: &GrantChange<'_>) -> Result<bool, StoreError> {
        let now = self.now();
        let mut s = self.lock();
        let grant = change.grant(now);
        let key = (
            grant.tenant.clone(),
            grant.principal.clone(),
            grant.scope.clone(),
        );
        if s.grants.contains_key(&key) {
            return Ok(false);
        }
        s.grants.insert(key, grant);
        s.audit.push(change.audit(AuditAction::Grant, now));
        Ok(true)
    }

    async fn revoke_scope(&self, change: &GrantChange<'_>) -> Result<bool, StoreError> {
        let mut s = self.lock();
        let key = (
            change.tenant().to_owned(),
            change.principal().to_owned(),
            change.scope().to_string(),
        );
        if s.grants.remove(&key).is_none() {
            return Ok(false);
        }
        s.audit.push(change.audit(AuditAction::Revoke, self.now()));
        Ok(true)
    }

    async fn granted_scopes(
        &self,
        tenant: &str,
        principal: &str,
    ) -> Result<Vec<ScopeGrant>, StoreError> {
        Ok(self
            .lock()
            .grants
            .values()
            .filter(|g| g.tenant == tenant && g.principal == principal)
            .cloned()
            .collect())
    }

    async fn audit_log(
        &self,
        tenant: &str,
        principal: Option<&str>,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        Ok(self
            .lock()
            .audit
            .iter()
            .filter(|e| e.tenant == tenant && principal.is_none_or(|p| e.principal == p))
            .cloned()
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::clock::FixedClock;

    #[tokio::test]
    async fn memory_grants_are_dated_by_the_configured_clock() {
        let store = MemoryGrantStore::new().with_clock(FixedClock(1_000_000));
        let scope: Scope = "orders:read".parse().unwrap();
        let change = GrantChange::new("acme", "alice", &scope, "admin-7").unwrap();
        assert!(store.grant_scope(&change).await.unwrap());
        assert!(store.revoke_scope(&change).await.unwrap());
        let log = store.audit_log("acme", Some("alice")).await.unwrap();
        assert_eq!(log.len(), 2);
        assert!(log.iter().all(|e| e.at == 1_000_000), "{log:?}");
    }
}
