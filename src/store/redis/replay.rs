//! [`ProofReplay`] on Redis: one key per DPoP proof id, written with `SET … NX EXAT`,
//! so the first writer of an id wins on every instance sharing the server or cluster.

use async_trait::async_trait;
use redis::Value;

use super::{RedisStore, bad_reply, map_err};
use crate::store::StoreError;
use crate::store::replay::{ProofId, ProofReplay};

/// The latest instant `EXAT` takes (Redis refuses seconds whose milliseconds overflow an
/// `i64`): about 292 million years from now, "never" for a proof.
const MAX_EXAT: u64 = i64::MAX as u64 / 1000;

/// One command, one round trip (two with
/// [`RedisSettings::wait_for_replicas`](super::RedisSettings::wait_for_replicas), as one
/// pipeline): `SET <prefix>dpop:<id> 1 NX EXAT <expires_at>`. Redis answers `OK` to the
/// one caller that created the key (`true`) and nothing to every other (`false`), on a
/// single server or on the master of the key's slot; the key expires by itself at
/// `expires_at` by the server's clock, so Redis holds only the ids of the current window.
/// An id whose `expires_at` has already passed is answered `true` and not kept.
///
/// With `wait_for_replicas`, an id whose write did not reach the replicas is
/// [`StoreError::Unavailable`] (503: the client sends a new proof), so no accepted proof
/// can be replayed after a failover (`tests/redis_cluster_failover.rs`).
///
/// One id costs **88 B** (`MEMORY USAGE`, Redis 7.0, key `tokenauth:dpop:` + 22
/// characters, the value `1` a shared integer) and **133 B** of `used_memory` with the
/// expiry and the key space's hash tables (over 100 000 ids): a service taking 1 000
/// DPoP requests a second with a 60 s window holds 60 000 ids, about 8 MB.
///
/// ```no_run
/// use axum_token_auth::store::redis::RedisStore;
/// use axum_token_auth::store::{ProofId, ProofReplay};
///
/// # async fn demo() -> Result<(), axum_token_auth::store::StoreError> {
/// let store = RedisStore::connect("redis://127.0.0.1:6379/").await?;
/// let id = ProofId::of("thumbprint-of-the-proof-key", "proof-jti");
/// let until = 1_767_225_660; // the proof's `iat` plus the accepted window
/// assert!(store.first_use(&id, until).await?); // first time: accepted
/// assert!(!store.first_use(&id, until).await?); // again, on any instance: a replay
/// # Ok(()) }
/// ```
#[async_trait]
impl ProofReplay for RedisStore {
    async fn first_use(&self, id: &ProofId, expires_at: u64) -> Result<bool, StoreError> {
        let mut pipe = redis::pipe();
        pipe.cmd("SET")
            .arg(self.keys.dpop(id))
            .arg(1u8)
            .arg("NX")
            .arg("EXAT")
            .arg(expires_at.clamp(1, MAX_EXAT));
        match self.write(pipe).await?.pop() {
            Some(Value::Okay) => Ok(true),
            Some(Value::SimpleString(s)) if s == "OK" => Ok(true),
            Some(Value::Nil) => Ok(false),
            _ => Err(bad_reply()),
        }
    }

    async fn is_recorded(&self, id: &ProofId) -> Result<bool, StoreError> {
        let mut conn = self.conn.clone();
        let n: i64 = redis::cmd("EXISTS")
            .arg(self.keys.dpop(id))
            .query_async(&mut conn)
            .await
            .map_err(map_err)?;
        Ok(n > 0)
    }
}

impl RedisStore {
    /// Bytes Redis uses for one proof id (`MEMORY USAGE` of its key; `None` when it is not
    /// held), for capacity planning.
    pub async fn proof_memory_usage(&self, id: &ProofId) -> Result<Option<u64>, StoreError> {
        let mut conn = self.conn.clone();
        redis::cmd("MEMORY")
            .arg("USAGE")
            .arg(self.keys.dpop(id))
            .arg("SAMPLES")
            .arg(0)
            .query_async(&mut conn)
            .await
            .map_err(map_err)
    }
}
