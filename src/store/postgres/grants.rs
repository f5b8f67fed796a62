//! [`GrantStore`] on PostgreSQL: every change and its audit row are written by one
//! statement (hence one transaction); a trigger keeps `scope_audit` append-only.

use async_trait::async_trait;

use super::{PostgresStore, db_err, from_db, to_db};
use crate::store::StoreError;
use crate::store::grants::{AuditAction, AuditEntry, GrantChange, GrantStore, ScopeGrant};

#[async_trait]
impl GrantStore for PostgresStore {
    async fn grant_scope(&self, change: &GrantChange<'_>) -> Result<bool, StoreError> {
        // One statement, hence one transaction: the audit row is written exactly when
        // the grant is, and a concurrent duplicate grant waits and then does nothing.
        self.change_grant(
            "WITH granted AS ( \
               INSERT INTO scope_grants (tenant, principal, scope, granted_by, granted_at) \
               VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING \
               RETURNING tenant, principal, scope, granted_by, granted_at) \
             INSERT INTO scope_audit (tenant, principal, scope, action, actor, at) \
             SELECT tenant, principal, scope, 'grant', granted_by, granted_at FROM granted",
            change,
        )
        .await
    }

    async fn revoke_scope(&self, change: &GrantChange<'_>) -> Result<bool, StoreError> {
        self.change_grant(
            "WITH revoked AS ( \
               DELETE FROM scope_grants WHERE tenant = $1 AND principal = $2 AND scope = $3 \
               RETURNING tenant, principal, scope) \
             INSERT INTO scope_audit (tenant, principal, scope, action, actor, at) \
             SELECT tenant, principal, scope, 'revoke', $4, $5 FROM revoked",
            change,
        )
        .await
    }

    async fn granted_scopes(
        &self,
        tenant: &str,
        principal: &str,
    ) -> Result<Vec<ScopeGrant>, StoreError> {
        let rows: Vec<(String, String, String, String, i64)> = sqlx::query_as(
            "SELECT tenant, principal, scope, granted_by, granted_at FROM scope_grants \
             WHERE tenant = $1 AND principal = $2 ORDER BY scope COLLATE \"C\"",
        )
        .bind(tenant)
        .bind(principal)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(rows
            .into_iter()
            .map(
                |(tenant, principal, scope, granted_by, granted_at)| ScopeGrant {
                    tenant,
                    principal,
                    scope,
                    granted_by,
                    granted_at: from_db(granted_at),
                },
            )
            .collect())
    }

    async fn audit_log(
        &self,
        tenant: &str,
        principal: Option<&str>,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let rows: Vec<(String, String, String, String, String, i64)> = sqlx::query_as(
            "SELECT tenant, principal, scope, action, actor, at FROM scope_audit \
             WHERE tenant = $1 AND ($2::text IS NULL OR principal = $2) ORDER BY id",
        )
        .bind(tenant)
        .bind(principal)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        rows.into_iter()
            .map(|(tenant, principal, scope, action, actor, at)| {
                let action = match action.as_str() {
                    "grant" => AuditAction::Grant,
                    "revoke" => AuditAction::Revoke,
                    other => {
                        return Err(StoreError::Backend(format!(
                            "postgres: unknown audit action {other:?}"
                        )));
                    }
                };
                Ok(AuditEntry {
                    tenant,
                    principal,
                    scope,
                    action,
                    actor,
                    at: from_db(at),
                })
            })
            .collect()
    }
}

impl PostgresStore {
    /// Runs a grant statement over the change (`$1` tenant, `$2` principal, `$3` scope,
    /// `$4` actor, `$5` now); whether it logged a change.
    async fn change_grant(
        &self,
        sql: &'static str,
        change: &GrantChange<'_>,
    ) -> Result<bool, StoreError> {
        let logged = sqlx::query(sql)
            .bind(change.tenant())
            .bind(change.principal())
            .bind(change.scope().to_string())
            .bind(change.actor())
            .bind(to_db(self.clock.now()))
            .execute(&self.pool)
            .await
            .map_err(db_err)?
            .rows_affected();
        Ok(logged > 0)
    }
}
