//! [`PostgresSettings`]: how [`PostgresStore::connect_with`](super::PostgresStore::connect_with)
//! connects, and its local revocation cache.

use std::time::Duration;

use super::{DEFAULT_ACQUIRE_TIMEOUT, DEFAULT_MAX_CONNECTIONS};

/// How long the local revocation cache is trusted without hearing its channels, by
/// default (see the module docs).
pub const DEFAULT_MAX_STALENESS: Duration = Duration::from_secs(2);

/// Settings of [`PostgresStore::connect_with`](super::PostgresStore::connect_with): build with the setters from [`Default`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PostgresSettings {
    /// The schema holding this crate's tables (default: none, the server's
    /// `search_path`, usually `public`).
    pub(super) schema: Option<String>,
    /// Keep live revocations in process memory, current through LISTEN/NOTIFY (default
    /// on; see the module docs).
    pub(super) local_cache: bool,
    /// How often each store sends a heartbeat on the channel (default 500 ms).
    pub(super) heartbeat: Duration,
    /// How long the cache is trusted without hearing the channel (default 2 s).
    pub(super) max_staleness: Duration,
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
            local_cache: true,
            heartbeat: Duration::from_millis(500),
            max_staleness: DEFAULT_MAX_STALENESS,
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
        self.local_cache = false;
        self
    }

    /// Whether the local revocation cache is on (the default).
    pub fn local_cache(&self) -> bool {
        self.local_cache
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
        self.max_staleness = bound;
        self.heartbeat = bound / 4;
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
