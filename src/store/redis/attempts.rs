//! [`AttemptCounter`] on Redis: one integer key per counter, `login:<kind>:<digest>`,
//! expiring at the end of its window, so every instance sharing the server or cluster
//! counts the same failures.

use std::time::Duration;

use async_trait::async_trait;

use super::scripts::{ADD_FAILURE, REMOVE_FAILURE};
use super::{RedisStore, bad_reply, map_err};
use crate::store::StoreError;
use crate::store::attempts::{AttemptCounter, AttemptKey, WindowCount};

/// Milliseconds left from a `PTTL` answer (negative: no key, or no expiry).
fn left(pttl: i64) -> Duration {
    Duration::from_millis(u64::try_from(pttl).unwrap_or(0))
}

/// One round trip per call: `GET` + `PTTL` (one pipeline), the `ADD_FAILURE` script
/// (`INCR`, and `PEXPIRE` at a window's first failure, atomically), the
/// `REMOVE_FAILURE` script (`DECR` when above zero), `DEL`. One counter
/// is one integer key with an expiry: **88 B** (`MEMORY USAGE`, Redis 7.0.15, key
/// `tokenauth:login:pair:` + 22 characters); a failed login from a new account and
/// address writes at most three.
///
/// ```no_run
/// use std::time::Duration;
/// use axum_token_auth::store::attempts::{AttemptCounter, AttemptKey};
/// use axum_token_auth::store::redis::RedisStore;
///
/// # async fn demo() -> Result<(), axum_token_auth::store::StoreError> {
/// let store = RedisStore::connect("redis://127.0.0.1:6379/").await?;
/// let key = AttemptKey::new("account", "alice");
/// store.add_failure(&key, Duration::from_secs(900)).await?;
/// assert_eq!(store.count(&key).await?.failures, 1); // on any instance
/// # Ok(()) }
/// ```
#[async_trait]
impl AttemptCounter for RedisStore {
    async fn count(&self, key: &AttemptKey) -> Result<WindowCount, StoreError> {
        let mut conn = self.conn.clone();
        let (n, pttl): (Option<u32>, i64) = redis::pipe()
            .cmd("GET")
            .arg(self.keys.attempts(key))
            .cmd("PTTL")
            .arg(self.keys.attempts(key))
            .query_async(&mut conn)
            .await
            .map_err(map_err)?;
        Ok(match n {
            Some(n) if pttl > 0 => WindowCount::new(n, left(pttl)),
            _ => WindowCount::default(),
        })
    }

    async fn add_failure(
        &self,
        key: &AttemptKey,
        window: Duration,
    ) -> Result<WindowCount, StoreError> {
        let ms = window.as_millis().clamp(1, i64::MAX as u128).to_string();
        let (n, pttl): (i64, i64) = self
            .eval(ADD_FAILURE, &[&self.keys.attempts(key)], &[&ms])
            .await?;
        let n = u32::try_from(n).map_err(|_| bad_reply())?;
        Ok(WindowCount::new(n, left(pttl)))
    }

    async fn remove_failure(&self, key: &AttemptKey) -> Result<(), StoreError> {
        let _: i64 = self
            .eval(REMOVE_FAILURE, &[&self.keys.attempts(key)], &[])
            .await?;
        Ok(())
    }

    async fn clear(&self, key: &AttemptKey) -> Result<(), StoreError> {
        let mut pipe = redis::pipe();
        pipe.cmd("DEL").arg(self.keys.attempts(key));
        self.write(pipe).await.map(|_| ())
    }
}
