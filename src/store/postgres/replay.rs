//! [`ProofReplay`] on PostgreSQL: `token_auth_dpop_proofs`, one row per DPoP proof id
//! in its window, claimed by one `INSERT … ON CONFLICT` and pruned in bounded batches.

use std::sync::atomic::Ordering;

use async_trait::async_trait;

use super::{PostgresStore, db_err, to_db};
use crate::store::StoreError;
use crate::store::replay::{ProofId, ProofReplay};

/// Every this many [`first_use`](ProofReplay::first_use) calls of a store handle (its
/// clones included), one bounded delete of expired proof ids runs in the background.
pub(super) const PRUNE_EVERY: u64 = 512;

/// Rows one background prune deletes at most: twice the ids recorded since the last one,
/// so the deletes keep up with the inserts and no prune holds locks for long.
const PRUNE_BATCH: i64 = 2 * PRUNE_EVERY as i64;

/// How often a claim that lost a serialization race is repeated (see `first_use`).
const MAX_RETRIES: u32 = 3;

/// The delete of [`PostgresStore::purge_expired`] and of the background prune: expired
/// rows nobody is claiming right now (`SKIP LOCKED`: two instances pruning at once, or a
/// prune and a reuse of the same id, never wait for each other).
pub(super) const PURGE_PROOFS: &str = "DELETE FROM token_auth_dpop_proofs WHERE id IN \
     (SELECT id FROM token_auth_dpop_proofs WHERE expires_at <= $1 LIMIT $2 \
      FOR UPDATE SKIP LOCKED)";

/// One statement, one round trip:
///
/// ```sql
/// INSERT INTO token_auth_dpop_proofs (id, expires_at) VALUES ($id, $expires_at)
/// ON CONFLICT (id) DO UPDATE SET expires_at = EXCLUDED.expires_at
///   WHERE token_auth_dpop_proofs.expires_at <= $now
/// RETURNING 1
/// ```
///
/// A row comes back (`true`) when the id was new or its earlier use had expired (by the
/// store's clock, [`with_clock`](PostgresStore::with_clock)); none (`false`) when it is
/// held. PostgreSQL serialises concurrent claims of one id on its primary key, and the
/// losers re-check the `WHERE` against the winner's row, so of any number of concurrent
/// calls on any number of instances exactly one gets `true`. (Under a `serializable`
/// default isolation a losing claim fails instead of waiting; it is repeated, and then
/// sees the winner's row: `false`, never a spurious outage.)
///
/// Bounded: every 512 calls a handle (with its clones) deletes up to 1 024 expired
/// rows in the background, and [`purge_expired`](PostgresStore::purge_expired) (and so
/// [`spawn_cleanup`](PostgresStore::spawn_cleanup)) deletes all of them; the table holds
/// about the ids of one window: about 121 B each (60 B of table, 61 B of its two
/// indexes; 100 000 ids, PostgreSQL 15). Needs the table of
/// [`migrate`](PostgresStore::migrate).
///
/// ```no_run
/// use axum_token_auth::store::postgres::PostgresStore;
/// use axum_token_auth::store::{ProofId, ProofReplay};
///
/// # async fn demo() -> Result<(), axum_token_auth::store::StoreError> {
/// let store = PostgresStore::connect("postgres://app@db.internal/app").await?;
/// store.migrate().await?;
/// let id = ProofId::of("thumbprint-of-the-proof-key", "proof-jti");
/// let until = 1_767_225_660; // the proof's `iat` plus the accepted window
/// assert!(store.first_use(&id, until).await?); // first time: accepted
/// assert!(!store.first_use(&id, until).await?); // again, on any instance: a replay
/// # Ok(()) }
/// ```
#[async_trait]
impl ProofReplay for PostgresStore {
    async fn first_use(&self, id: &ProofId, expires_at: u64) -> Result<bool, StoreError> {
        let now = to_db(self.clock.now());
        let mut retries = 0;
        let claimed: Option<i32> = loop {
            let claim = sqlx::query_scalar(
                "INSERT INTO token_auth_dpop_proofs (id, expires_at) VALUES ($1, $2) \
                 ON CONFLICT (id) DO UPDATE SET expires_at = EXCLUDED.expires_at \
                 WHERE token_auth_dpop_proofs.expires_at <= $3 \
                 RETURNING 1",
            )
            .bind(&id.0[..16])
            .bind(to_db(expires_at))
            .bind(now)
            .fetch_optional(&self.pool)
            .await;
            match claim {
                Ok(row) => break row,
                // Under a `serializable` or `repeatable read` default, a claim that meets
                // a concurrent claim's row (not in its snapshot) fails rather than waits:
                // the statement changed nothing, and again it sees the winner's row.
                Err(sqlx::Error::Database(d))
                    if d.code().as_deref() == Some("40001") && retries < MAX_RETRIES =>
                {
                    retries += 1;
                }
                Err(e) => return Err(db_err(e)),
            }
        };
        if self.proof_calls.fetch_add(1, Ordering::Relaxed) % PRUNE_EVERY == PRUNE_EVERY - 1 {
            let pool = self.pool.clone();
            tokio::spawn(async move {
                let pruned = sqlx::query(PURGE_PROOFS)
                    .bind(now)
                    .bind(PRUNE_BATCH)
                    .execute(&pool)
                    .await;
                if let Err(e) = pruned {
                    tracing::debug!(error = %db_err(e), "could not prune expired DPoP proof ids");
                }
            });
        }
        Ok(claimed.is_some())
    }

    async fn is_recorded(&self, id: &ProofId) -> Result<bool, StoreError> {
        let held: Option<i32> = sqlx::query_scalar(
            "SELECT 1 FROM token_auth_dpop_proofs WHERE id = $1 AND expires_at > $2",
        )
        .bind(&id.0[..16])
        .bind(to_db(self.clock.now()))
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(held.is_some())
    }
}
