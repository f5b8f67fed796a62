//! [`RedisSettings`]: how a [`RedisStore`](super::RedisStore) connects, and its local
//! revocation cache.

use std::time::Duration;

use crate::store::memory::DEFAULT_REVOCATION_CAPACITY;
use crate::store::replica::ReplicaSettings;

/// Settings of a [`RedisStore`](super::RedisStore): build with the setters from [`Default`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RedisSettings {
    /// Prefix of every key and of the channel (default `tokenauth:`). On a cluster it may
    /// not contain `{` or `}` (the hash tags are the store's).
    pub(super) prefix: String,
    /// The local revocation replica: on or off, its staleness bound and heartbeat.
    pub(super) replica: ReplicaSettings,
    /// How many unexpired revocations the local cache holds (default one million).
    pub(super) cache_capacity: usize,
    /// Timeout of one command (default 1 s): an unreachable Redis answers quickly.
    pub(super) response_timeout: Duration,
    /// Replicas every write must reach before it succeeds (`WAIT`; default 0: none).
    pub(super) wait_replicas: u32,
}

impl Default for RedisSettings {
    fn default() -> Self {
        RedisSettings {
            prefix: "tokenauth:".into(),
            replica: ReplicaSettings::default(),
            cache_capacity: DEFAULT_REVOCATION_CAPACITY,
            response_timeout: Duration::from_secs(1),
            wait_replicas: 0,
        }
    }
}

impl RedisSettings {
    /// Sets the key prefix.
    ///
    /// ```
    /// use std::time::Duration;
    /// use axum_token_auth::store::redis::RedisSettings;
    ///
    /// // Two services on one Redis: keys `orders:rev:…`, `billing:rev:…`.
    /// let o = RedisSettings::default().prefix("orders:");
    /// # let _ = o;
    /// ```
    #[must_use]
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Turns the local revocation cache off: every check is one `EXISTS` round trip.
    ///
    /// ```
    /// use std::time::Duration;
    /// use axum_token_auth::store::redis::RedisSettings;
    ///
    /// // Every check is one round trip to Redis.
    /// let o = RedisSettings::default().without_local_cache();
    /// # let _ = o;
    /// ```
    #[must_use]
    pub fn without_local_cache(mut self) -> Self {
        self.replica.local = false;
        self
    }

    /// Whether the local revocation cache is on (the default).
    pub fn local_cache(&self) -> bool {
        self.replica.local
    }

    /// Sets how many unexpired revocations the local cache holds (see the module docs).
    ///
    /// ```
    /// use std::time::Duration;
    /// use axum_token_auth::store::redis::RedisSettings;
    ///
    /// let o = RedisSettings::default().cache_capacity(200_000);
    /// # let _ = o;
    /// ```
    #[must_use]
    pub fn cache_capacity(mut self, entries: usize) -> Self {
        self.cache_capacity = entries;
        self
    }

    /// Sets the cache's staleness bound (and a heartbeat of a quarter of it).
    ///
    /// ```
    /// use std::time::Duration;
    /// use axum_token_auth::store::redis::RedisSettings;
    ///
    /// let o = RedisSettings::default().max_staleness(Duration::from_millis(500));
    /// # let _ = o;
    /// ```
    #[must_use]
    pub fn max_staleness(mut self, bound: Duration) -> Self {
        self.replica.bound(bound);
        self
    }

    /// Makes every write wait until `replicas` replicas of its master have it (at most
    /// the response timeout), and fail with [`StoreError::Unavailable`](crate::store::StoreError::Unavailable) otherwise: a
    /// write that succeeded then survives a failover of its master.
    ///
    /// ```
    /// use std::time::Duration;
    /// use axum_token_auth::store::redis::RedisSettings;
    ///
    /// // A write is acknowledged once one replica has it (a failover loses nothing).
    /// let o = RedisSettings::default().wait_for_replicas(1);
    /// # let _ = o;
    /// ```
    #[must_use]
    pub fn wait_for_replicas(mut self, replicas: u32) -> Self {
        self.wait_replicas = replicas;
        self
    }
}
