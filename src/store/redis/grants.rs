//! [`GrantStore`] on Redis: grants as one hash per tenant and principal, the audit
//! trail as one append-only list per tenant (this crate only ever `RPUSH`es to it).
//! Each change and its audit entry are written by one Lua script.

use async_trait::async_trait;
use redis::AsyncCommands;

use super::scripts::{GRANT, REVOKE_GRANT};
use super::{RedisStore, map_err};
use crate::store::StoreError;
use crate::store::grants::{AuditAction, AuditEntry, GrantChange, GrantStore, ScopeGrant};

/// A grant as the tenant's hash keeps it, under its scope.
#[derive(serde::Serialize, serde::Deserialize)]
struct GrantValue {
    by: String,
    at: u64,
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Backend(e.to_string()))
}

#[async_trait]
impl GrantStore for RedisStore {
    async fn grant_scope(&self, change: &GrantChange<'_>) -> Result<bool, StoreError> {
        let at = self.now();
        let value = to_json(&GrantValue {
            by: change.actor().to_owned(),
            at,
        })?;
        let entry = to_json(&change.audit(AuditAction::Grant, at))?;
        self.change_grant(GRANT, change, &[change.scope().as_str(), &value, &entry])
            .await
    }

    async fn revoke_scope(&self, change: &GrantChange<'_>) -> Result<bool, StoreError> {
        let entry = to_json(&change.audit(AuditAction::Revoke, self.now()))?;
        self.change_grant(REVOKE_GRANT, change, &[change.scope().as_str(), &entry])
            .await
    }

    async fn granted_scopes(
        &self,
        tenant: &str,
        principal: &str,
    ) -> Result<Vec<ScopeGrant>, StoreError> {
        let mut conn = self.conn.clone();
        let all: Vec<(String, String)> = conn
            .hgetall(self.keys.grants(tenant, principal))
            .await
            .map_err(map_err)?;
        let mut out: Vec<ScopeGrant> = all
            .into_iter()
            .filter_map(|(scope, v)| {
                let v: GrantValue = serde_json::from_str(&v).ok()?;
                Some(ScopeGrant {
                    tenant: tenant.to_owned(),
                    principal: principal.to_owned(),
                    scope,
                    granted_by: v.by,
                    granted_at: v.at,
                })
            })
            .collect();
        out.sort_by(|a, b| a.scope.as_bytes().cmp(b.scope.as_bytes()));
        Ok(out)
    }

    async fn audit_log(
        &self,
        tenant: &str,
        principal: Option<&str>,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let mut conn = self.conn.clone();
        let raw: Vec<String> = conn
            .lrange(self.keys.audit(tenant), 0, -1)
            .await
            .map_err(map_err)?;
        Ok(raw
            .iter()
            .filter_map(|r| serde_json::from_str::<AuditEntry>(r).ok())
            .filter(|e| principal.is_none_or(|p| e.principal == p))
            .collect())
    }
}

impl RedisStore {
    /// Runs a grant script over the change's grant hash and audit list; whether it
    /// changed anything.
    async fn change_grant(
        &self,
        script: &'static str,
        change: &GrantChange<'_>,
        args: &[&str],
    ) -> Result<bool, StoreError> {
        let keys = [
            self.keys.grants(change.tenant(), change.principal()),
            self.keys.audit(change.tenant()),
        ];
        let changed: i64 = self.eval(script, &[&keys[0], &keys[1]], args).await?;
        Ok(changed == 1)
    }
}
