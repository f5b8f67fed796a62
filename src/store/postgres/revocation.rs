//! [`RevocationStore`], [`SubjectRevocation`] and [`RevocationNotes`] on PostgreSQL:
//! `revoked_tokens` and `token_auth_user_generations`, answered from the local replica
//! while it is trusted (see the module docs).

use async_trait::async_trait;

use super::{PostgresStore, db_err, from_db, to_db};
use crate::store::{
    RevocationCheck, RevocationNote, RevocationNotes, RevocationStore, StoreError, SubjectCutoff,
    SubjectRevocation, TokenDigest,
};

#[async_trait]
impl RevocationStore for PostgresStore {
    async fn revoke(&self, digest: TokenDigest, expires_at: u64) -> Result<(), StoreError> {
        if expires_at <= self.clock.now() {
            // Refused as expired anyway.
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO revoked_tokens (digest, expires_at) VALUES ($1, $2) \
             ON CONFLICT (digest) DO UPDATE SET expires_at = EXCLUDED.expires_at \
             WHERE revoked_tokens.expires_at < EXCLUDED.expires_at",
        )
        .bind(&digest.0[..])
        .bind(to_db(expires_at))
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        if let Some(c) = &self.cache {
            c.remember(digest, expires_at).await;
        }
        Ok(())
    }

    async fn is_revoked(&self, digest: &TokenDigest) -> Result<bool, StoreError> {
        sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM revoked_tokens WHERE digest = $1 AND expires_at > $2)",
        )
        .bind(&digest.0[..])
        .bind(to_db(self.clock.now()))
        .fetch_one(&self.pool)
        .await
        .map_err(db_err)
    }

    /// One query: the digest, and the subject's cutoff (its generation when the token
    /// carries one, else its `iat` against the last revoke-everything).
    async fn check(&self, token: &RevocationCheck<'_>) -> Result<bool, StoreError> {
        sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM revoked_tokens WHERE digest = $1 AND expires_at > $2) \
             OR EXISTS (SELECT 1 FROM token_auth_user_generations WHERE subject = $3 AND \
                 CASE WHEN $4::bigint IS NOT NULL THEN generation > $4::bigint \
                      ELSE issued_through > 0 AND issued_through >= $5 END)",
        )
        .bind(&token.digest.0[..])
        .bind(to_db(self.clock.now()))
        .bind(token.subject)
        .bind(token.generation.map(to_db))
        .bind(to_db(token.issued_at))
        .fetch_one(&self.pool)
        .await
        .map_err(db_err)
    }

    /// From the local cache while it is trusted, else `None` (then
    /// [`check`](RevocationStore::check) queries).
    fn check_now(&self, token: &RevocationCheck<'_>) -> Option<Result<bool, StoreError>> {
        self.cache.as_deref()?.check_now(token)
    }
}

#[async_trait]
impl SubjectRevocation for PostgresStore {
    async fn revoke_all_for(&self, subject: &str, at: u64) -> Result<u64, StoreError> {
        let (n, cut): (i64, i64) = sqlx::query_as(
            "INSERT INTO token_auth_user_generations (subject, generation, issued_through) \
             VALUES ($1, 1, $2) \
             ON CONFLICT (subject) DO UPDATE \
             SET generation = token_auth_user_generations.generation + 1, \
                 issued_through = GREATEST(token_auth_user_generations.issued_through, \
                                           EXCLUDED.issued_through) \
             RETURNING generation, issued_through",
        )
        .bind(subject)
        .bind(to_db(at))
        .fetch_one(&self.pool)
        .await
        .map_err(db_err)?;
        let generation = from_db(n);
        if let Some(c) = &self.cache {
            c.set_cutoff(
                subject,
                SubjectCutoff {
                    generation,
                    issued_through: from_db(cut),
                },
            );
        }
        Ok(generation)
    }

    async fn subject_cutoff(&self, subject: &str) -> Result<SubjectCutoff, StoreError> {
        let row: Option<(i64, i64)> = sqlx::query_as(
            "SELECT generation, issued_through FROM token_auth_user_generations \
             WHERE subject = $1",
        )
        .bind(subject)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(
            row.map_or_else(SubjectCutoff::default, |(g, c)| SubjectCutoff {
                generation: from_db(g),
                issued_through: from_db(c),
            }),
        )
    }

    /// An unbounded store: one revocation per token.
    async fn revoke_for(
        &self,
        _subject: &str,
        digest: TokenDigest,
        expires_at: u64,
    ) -> Result<(), StoreError> {
        self.revoke(digest, expires_at).await
    }
}

#[async_trait]
impl RevocationNotes for PostgresStore {
    async fn revoke_noted(
        &self,
        digest: TokenDigest,
        expires_at: u64,
        note: &RevocationNote,
    ) -> Result<(), StoreError> {
        if expires_at <= self.clock.now() {
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO revoked_tokens (digest, expires_at, revoked_at, reason, revoked_by) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (digest) DO UPDATE SET \
              expires_at = GREATEST(revoked_tokens.expires_at, EXCLUDED.expires_at), \
              revoked_at = EXCLUDED.revoked_at, reason = EXCLUDED.reason, \
              revoked_by = EXCLUDED.revoked_by",
        )
        .bind(&digest.0[..])
        .bind(to_db(expires_at))
        .bind(to_db(note.at))
        .bind(&note.reason)
        .bind(&note.by)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        if let Some(c) = &self.cache {
            c.remember(digest, expires_at).await;
        }
        Ok(())
    }

    async fn revocation_note(
        &self,
        digest: &TokenDigest,
    ) -> Result<Option<RevocationNote>, StoreError> {
        let row: Option<(Option<i64>, Option<String>, Option<String>)> = sqlx::query_as(
            "SELECT revoked_at, reason, revoked_by FROM revoked_tokens WHERE digest = $1",
        )
        .bind(&digest.0[..])
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(row.and_then(|(at, reason, by)| {
            Some(RevocationNote {
                at: from_db(at?),
                reason: reason?,
                by,
            })
        }))
    }
}

impl PostgresStore {
    /// Whether the token with this digest is revoked, from the local cache while it is
    /// trusted, else `None` (see the module docs).
    pub fn is_revoked_now(&self, digest: &TokenDigest) -> Option<Result<bool, StoreError>> {
        self.cache.as_deref()?.is_revoked_now(digest)
    }
}
