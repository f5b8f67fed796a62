//! [`PostgresSettings`]: how [`PostgresStore::connect_with`](super::PostgresStore::connect_with)
//! connects, and its local revocation cache.

use std::time::Duration;

use crate::store::replica::ReplicaSettings;

use super::{DEFAULT_ACQUIRE_TIMEOUT, DEFAULT_MAX_CONNECTIONS};

/// Settings of [`PostgresStore::connect_with`](super::PostgresStore::connect_with): build with the setters from [`Default`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PostgresSettings {
    /// The schema holding this crate's tables (default: none, the server's
    /// `search_path`, usually `public`).
    pub(super) schema: Option<String>,
    /// The local revocation replica: on or off, its staleness bound and heartbeat.
    pub(super) replica: ReplicaSettings,
    /// The pool size (default [`DEFAULT_MAX_CONNECTIONS`]; the listener's connection
    /// comes on top).
    pub(super) max_connections: u32,
    /// How long an operation waits for a connection (default
    /// [`DEFAULT_ACQUIRE_TIMEOUT`]).
    pub(super) acquire_timeout: Duration,
}

impl Default for PostgresSettings {
    fn default() -> Self {
        PostgresSettings {
            schema: None,
            replica: ReplicaSettings::default(),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            acquire_timeout: DEFAULT_ACQUIRE_TIMEOUT,
        }
    }
}

impl PostgresSettings {
    /// Puts this crate's tables in `schema` (letters, digits and `_`, not starting with
    /// a digit, at most 52 bytes; checked by [`PostgresStore::connect_with`](super::PostgresStore::connect_with)).
    ///
    /// ```
    /// use std::time::Duration;
    /// use axum_token_auth::store::postgres::PostgresSettings;
    ///
    /// // Side by side with a legacy `revoked_tokens` table of the system being replaced.
    /// let o = PostgresSettings::default().schema("token_auth");
    /// # let _ = o;
    /// ```
    #[must_use]
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = Some(schema.into());
        self
    }

    /// Turns the local revocation cache off: every check is one query.
    ///
    /// ```
    /// use std::time::Duration;
    /// use axum_token_auth::store::postgres::PostgresSettings;
    ///
    /// let o = PostgresSettings::default().without_local_cache();
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

    /// Sets the cache's staleness bound (and a heartbeat of a quarter of it).
    ///
    /// ```
    /// use std::time::Duration;
    /// use axum_token_auth::store::postgres::PostgresSettings;
    ///
    /// let o = PostgresSettings::default().max_staleness(Duration::from_secs(2));
    /// # let _ = o;
    /// ```
    #[must_use]
    pub fn max_staleness(mut self, bound: Duration) -> Self {
        self.replica.bound(bound);
        self
    }

    /// Sets the pool size.
    ///
    /// ```
    /// use std::time::Duration;
    /// use axum_token_auth::store::postgres::PostgresSettings;
    ///
    /// let o = PostgresSettings::default().max_connections(20);
    /// # let _ = o;
    /// ```
    #[must_use]
    pub fn max_connections(mut self, n: u32) -> Self {
        self.max_connections = n.max(1);
        self
    }

    /// Sets how long an operation waits for a connection.
    ///
    /// ```
    /// use std::time::Duration;
    /// use axum_token_auth::store::postgres::PostgresSettings;
    ///
    /// let o = PostgresSettings::default().acquire_timeout(Duration::from_millis(250));
    /// # let _ = o;
    /// ```
    #[must_use]
    pub fn acquire_timeout(mut self, timeout: Duration) -> Self {
        self.acquire_timeout = timeout;
        self
    }
}
