//! [`RevocationStore`] and [`SubjectRevocation`] on Redis: one key per revoked digest
//! and per subject cutoff, each written and published by one Lua script, answered from
//! the local replica while it is trusted (see the module docs).

use async_trait::async_trait;
use redis::AsyncCommands;

use super::scripts::{BUMP_GENERATION, REVOKE};
use super::{RedisStore, hex, map_err};
use crate::store::{
    RevocationCheck, RevocationStore, StoreError, SubjectCutoff, SubjectRevocation, TokenDigest,
};

#[async_trait]
impl RevocationStore for RedisStore {
    async fn revoke(&self, digest: TokenDigest, expires_at: u64) -> Result<(), StoreError> {
        if expires_at <= self.now() {
            return Ok(());
        }
        let (key, channel) = self.keys.rev(&digest);
        let exp = expires_at.to_string();
        let message = format!("{}:{expires_at}", hex(&digest));
        let _: i64 = self
            .eval(
                REVOKE,
                &[&key, &channel],
                &[&exp, &message, self.keys.publish_cmd()],
            )
            .await?;
        if let Some(c) = &self.cache {
            c.remember(digest, expires_at).await;
        }
        Ok(())
    }

    async fn is_revoked(&self, digest: &TokenDigest) -> Result<bool, StoreError> {
        let mut conn = self.conn.clone();
        conn.exists(self.keys.rev(digest).0).await.map_err(map_err)
    }

    /// `EXISTS` of the digest and `GET` of the subject's generation and cutoff: one round
    /// trip on a single node, two concurrent ones on a cluster (two slots).
    async fn check(&self, token: &RevocationCheck<'_>) -> Result<bool, StoreError> {
        let (rev, _) = self.keys.rev(token.digest);
        let (generation, cut, _) = self.keys.cutoff(token.subject);
        let mut conn = self.conn.clone();
        let (revoked, generation, cut): (bool, Option<u64>, Option<u64>) = if self.keys.is_cluster()
        {
            let mut other = self.conn.clone();
            let mut pipe = redis::pipe();
            pipe.get(&generation).get(&cut);
            let (revoked, cutoff) = tokio::join!(
                conn.exists::<_, bool>(&rev),
                pipe.query_async::<(Option<u64>, Option<u64>)>(&mut other)
            );
            let (generation, cut) = cutoff.map_err(map_err)?;
            (revoked.map_err(map_err)?, generation, cut)
        } else {
            redis::pipe()
                .exists(&rev)
                .get(&generation)
                .get(&cut)
                .query_async(&mut conn)
                .await
                .map_err(map_err)?
        };
        let cutoff = SubjectCutoff {
            generation: generation.unwrap_or(0),
            issued_through: cut.unwrap_or(0),
        };
        Ok(revoked || cutoff.revokes(token))
    }

    fn check_now(&self, token: &RevocationCheck<'_>) -> Option<Result<bool, StoreError>> {
        self.cache.as_ref()?.check_now(token)
    }
}

#[async_trait]
impl SubjectRevocation for RedisStore {
    async fn revoke_all_for(&self, subject: &str, at: u64) -> Result<u64, StoreError> {
        let (generation, cut, channel) = self.keys.cutoff(subject);
        let at_s = at.to_string();
        let n: u64 = self
            .eval(
                BUMP_GENERATION,
                &[&generation, &channel, &cut],
                &[subject, &at_s, self.keys.publish_cmd()],
            )
            .await?;
        if let Some(c) = &self.cache {
            c.set_cutoff(
                subject,
                SubjectCutoff {
                    generation: n,
                    issued_through: at,
                },
            );
        }
        Ok(n)
    }

    async fn subject_cutoff(&self, subject: &str) -> Result<SubjectCutoff, StoreError> {
        let (generation, cut, _) = self.keys.cutoff(subject);
        let mut conn = self.conn.clone();
        // Both keys share a slot on a cluster.
        let (generation, cut): (Option<u64>, Option<u64>) = redis::pipe()
            .get(generation)
            .get(cut)
            .query_async(&mut conn)
            .await
            .map_err(map_err)?;
        Ok(SubjectCutoff {
            generation: generation.unwrap_or(0),
            issued_through: cut.unwrap_or(0),
        })
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

impl RedisStore {
    /// Whether the token with this digest is revoked, from the local cache while it is
    /// trusted, else `None` (see the module docs).
    pub fn is_revoked_now(&self, digest: &TokenDigest) -> Option<Result<bool, StoreError>> {
        self.cache.as_ref()?.is_revoked_now(digest)
    }
}
