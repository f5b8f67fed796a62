//! PostgreSQL stores (feature `postgres`): revoked tokens, refresh families, scope
//! grants and the ids of DPoP proofs already used in one [`PostgresStore`], shared by
//! every instance of a service.
//!
//! ```no_run
//! use std::sync::Arc;
//! use std::time::Duration;
//! use axum_token_auth::{Sessions, TokenAuth, store::postgres::PostgresStore};
//!
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let store = PostgresStore::connect("postgres://app@db.internal/app").await?;
//! store.migrate().await?; // creates or updates the tables (idempotent)
//! let _cleanup = store.spawn_cleanup(Duration::from_secs(600));
//!
//! let auth = TokenAuth::builder()
//!     .hs256_secret("a-random-secret-of-at-least-32-bytes!!")
//!     .revocation_store_with_notes(Arc::new(store.clone()))
//!     .build()?;
//! let sessions = Sessions::builder(auth.clone(), store.clone()).build()?;
//! # let _ = sessions;
//! # Ok(()) }
//! ```
//!
//! # Schema
//!
//! [`PostgresStore::migrate`] applies the migrations embedded from this crate's
//! `migrations/` directory (recorded in sqlx's `_sqlx_migrations` table):
//!
//! - `revoked_tokens(digest, expires_at)`: the SHA-256 digests of revoked token ids,
//!   kept until the tokens expire ([`RevocationStore`](crate::store::RevocationStore),
//!   [`SubjectRevocation`](crate::store::SubjectRevocation) with
//!   `token_auth_user_generations`, and [`RevocationNotes`](crate::store::RevocationNotes));
//! - `refresh_families`: one row per login ([`RefreshStore`]); a rotation locks the row
//!   (`SELECT … FOR UPDATE`) in one transaction, so concurrent rotations of one token
//!   from any number of instances produce exactly one successor;
//! - `token_auth_dpop_proofs(id, expires_at)`: the ids of DPoP proofs already used
//!   ([`ProofReplay`](crate::store::ProofReplay)), until the end of their window;
//! - `scope_grants` and `scope_audit` ([`GrantStore`](crate::store::grants::GrantStore)): every change and its audit row
//!   are written by one statement; a trigger makes `scope_audit` append-only (`UPDATE`,
//!   `DELETE` and `TRUNCATE` raise an error). For a stronger guarantee, also revoke
//!   those privileges (and table ownership) from the application's role.
//!
//! Times are seconds since the Unix epoch (`bigint`). Tokens are never stored: only
//! digests of their ids, plus the ids of a successor pair for the grace window.
//!
//! # The revocation cache and its staleness bound
//!
//! [`PostgresStore::connect`] keeps the live revocations and subject cutoffs in process
//! memory, so the per-request check ([`RevocationStore::check_now`](crate::store::RevocationStore::check_now)) costs no query.
//! The design is the Redis store's: a trigger announces every write to
//! `revoked_tokens` and `token_auth_user_generations` with `NOTIFY`, inside the writing
//! transaction, so PostgreSQL delivers it exactly when the write commits (whoever wrote
//! it: another instance, an older version of this crate, a SQL console). Each store
//! `LISTEN`s on one connection of its own (`application_name`
//! `axum-token-auth-listener`), then loads every live revocation and cutoff (warm
//! start), and sends a heartbeat on the channel every quarter of the staleness bound
//! (500 ms). It trusts its copy only while it has heard the channel within
//! [`PostgresSettings::max_staleness`] (2 s); otherwise (listener connection lost,
//! server stalled or down, the triggers missing because `migrate` was not run) every
//! check is one query, as without the cache, and fails closed when the server is down.
//! So a revocation made through one instance is refused by every other within
//! `max_staleness` in the worst case, and within the notification delay (about a
//! millisecond on loopback) normally. The copy holds up to 1 000 000 live revocations;
//! past that it is not trusted and checks go to the database.
//! [`PostgresSettings::without_local_cache`] turns it off. Every store's heartbeat reaches
//! every listener: N instances cost each listener 2N tiny notifications per second.
//!
//! # Schemas
//!
//! [`PostgresSettings::schema`] puts every table of this crate (and sqlx's
//! `_sqlx_migrations` of them) in a schema of their own: each connection of the pool
//! gets `search_path` = that schema, and [`migrate`](PostgresStore::migrate) creates it
//! when missing. Another table named `revoked_tokens` elsewhere in the database (a seed
//! system's) is never read or touched then.
//!
//! If the application runs its own sqlx migrations on the same database, both migrators
//! share `_sqlx_migrations`: [`migrate`](PostgresStore::migrate) ignores versions it
//! does not know, and the application's migrator needs
//! `set_ignore_missing(true)` for the same reason (or copy this crate's migration into
//! the application's directory and skip `migrate`).

mod cache;
mod grants;
mod replay;
mod revocation;
mod settings;

pub use settings::PostgresSettings;

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use crate::store::memory::DEFAULT_REVOCATION_CAPACITY;
use crate::store::refresh::rotation::{Decision, FamilyState, Parent, decide, remember_access};
use crate::store::refresh::{
    AccessRef, NewSession, RefreshStore, RotateOutcome, Rotation, Session,
};
use crate::store::replica::RevocationReplica;
use crate::store::{StoreError, TokenDigest};
use crate::token::clock::{Clock, SystemClock};

/// How long [`PostgresStore::connect`] waits for a connection before reporting
/// [`StoreError::Unavailable`].
pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(2);

/// The pool size of [`PostgresStore::connect`].
pub const DEFAULT_MAX_CONNECTIONS: u32 = 10;

/// Rows deleted per statement by the purges (keeps each transaction short).
const PURGE_BATCH: i64 = 10_000;

/// Whether `schema` is a plain identifier we can quote safely (and whose channel name
/// `token_auth:` + schema fits PostgreSQL's 63 bytes).
fn valid_schema(schema: &str) -> bool {
    let mut chars = schema.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && schema.len() <= 52
}

/// Revocations, refresh families and scope grants in PostgreSQL.
///
/// Cheap to clone (the pool is shared). Implements
/// [`RevocationStore`](crate::store::RevocationStore) with
/// [`SubjectRevocation`](crate::store::SubjectRevocation) and
/// [`RevocationNotes`](crate::store::RevocationNotes) (register it with
/// [`revocation_store_with_notes`](crate::TokenAuthBuilder::revocation_store_with_notes)
/// to keep notes), [`RefreshStore`], [`GrantStore`](crate::store::grants::GrantStore)
/// and [`ProofReplay`](crate::store::ProofReplay); run [`migrate`](Self::migrate) once at start-up.
/// Errors reaching the server (refused, timed out, pool exhausted, server shutting
/// down) are [`StoreError::Unavailable`]; anything else is [`StoreError::Backend`].
#[derive(Clone)]
pub struct PostgresStore {
    pool: PgPool,
    clock: Arc<dyn Clock>,
    schema: Option<Arc<str>>,
    cache: Option<Arc<RevocationReplica>>,
    /// Aborts the cache's tasks when the last clone goes.
    _tasks: Option<Arc<cache::Tasks>>,
    /// `first_use` calls of this handle and its clones (a bounded prune every
    /// [`replay::PRUNE_EVERY`]).
    proof_calls: Arc<AtomicU64>,
}

impl fmt::Debug for PostgresStore {
    // Not the pool's `Debug`: its connect options include the password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStore")
            .field("connections", &self.pool.size())
            .field("idle", &self.pool.num_idle())
            .field("closed", &self.pool.is_closed())
            .field("schema", &self.schema)
            .field("cache_fresh", &self.cache.as_ref().map(|c| c.fresh()))
            .finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Connects a pool of [`DEFAULT_MAX_CONNECTIONS`] to `url`
    /// (`postgres://user:password@host:port/database?sslmode=…`), waiting at most
    /// [`DEFAULT_ACQUIRE_TIMEOUT`] for a connection, so an outage answers quickly.
    /// One connection is opened now, so an unreachable server is reported here. The
    /// local revocation cache is on (see the module docs): its listener starts now and
    /// the cache is trusted once filled ([`wait_for_cache`](Self::wait_for_cache));
    /// until then checks are queries. Needs a Tokio runtime.
    ///
    /// For other settings use [`connect_with`](Self::connect_with), or build the pool
    /// yourself and use [`from_pool`](Self::from_pool).
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, PostgresSettings::default()).await
    }

    /// Connects with `settings`. An invalid [`PostgresSettings::schema`] is a
    /// [`StoreError::Backend`].
    pub async fn connect_with(url: &str, settings: PostgresSettings) -> Result<Self, StoreError> {
        let mut connect = PgConnectOptions::from_str(url).map_err(db_err)?;
        if let Some(schema) = &settings.schema {
            if !valid_schema(schema) {
                return Err(StoreError::Backend(
                    "postgres: the schema name must be letters, digits and _ (at most 52 bytes)"
                        .into(),
                ));
            }
            connect = connect.options([("search_path", schema.as_str())]);
        }
        let pool = PgPoolOptions::new()
            .max_connections(settings.max_connections)
            .acquire_timeout(settings.acquire_timeout)
            .connect_with(connect)
            .await
            .map_err(db_err)?;
        let mut store = Self::from_pool(pool);
        store.schema = settings.schema.as_deref().map(Arc::from);
        if settings.replica.local {
            let cache = Arc::new(RevocationReplica::new(
                "postgres",
                1,
                DEFAULT_REVOCATION_CAPACITY,
                settings.replica.max_staleness,
            ));
            let tasks = cache::spawn(
                store.pool.clone(),
                Arc::clone(&cache),
                settings.replica.heartbeat,
                settings.acquire_timeout,
            );
            store.cache = Some(cache);
            store._tasks = Some(Arc::new(tasks));
        }
        Ok(store)
    }

    /// A store over an existing pool (its `acquire_timeout` bounds how long an
    /// operation waits for a connection during an outage), without the local revocation
    /// cache: every check is one query. Set a schema through the pool's own connect
    /// options (`search_path`).
    pub fn from_pool(pool: PgPool) -> Self {
        PostgresStore {
            pool,
            clock: Arc::new(SystemClock),
            schema: None,
            cache: None,
            _tasks: None,
            proof_calls: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Uses `clock` for the times the traits do not pass: whether a revocation has
    /// expired, and grant and audit times (tests). The local revocation cache judges
    /// expiry by the system clock, so this handle does without it (every check is one
    /// query).
    ///
    /// ```no_run
    /// use axum_token_auth::{store::postgres::PostgresStore, token::FixedClock};
    ///
    /// # async fn f() -> Result<(), axum_token_auth::store::StoreError> {
    /// let store = PostgresStore::connect("postgres://localhost/app")
    ///     .await?
    ///     .with_clock(FixedClock(1_767_225_600));
    /// # let _ = store; Ok(()) }
    /// ```
    #[must_use]
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self.cache = None;
        self
    }

    /// Whether the local revocation cache is currently trusted (see the module docs).
    pub fn cache_is_fresh(&self) -> bool {
        RevocationReplica::is_fresh(self.cache.as_deref())
    }

    /// Waits up to `timeout` for the local cache to be filled and trusted.
    pub async fn wait_for_cache(&self, timeout: Duration) -> bool {
        RevocationReplica::wait_fresh(self.cache.as_deref(), timeout).await
    }

    /// The connection pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Creates or updates the tables: applies the migrations embedded from this crate's
    /// `migrations/` directory that the database lacks. Idempotent, and safe to run from
    /// several instances at once (sqlx takes an advisory lock).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let mut migrator = sqlx::migrate!("./migrations");
        // The application may record its own migrations in the same table.
        migrator.set_ignore_missing(true);
        // A dedicated connection: if a migration fails, sqlx leaves its advisory lock
        // held, so that connection must not go back to the pool.
        let mut conn = self.pool.acquire().await.map_err(db_err)?;
        if let Some(schema) = &self.schema {
            // Checked by `connect_with`: a plain identifier. Two instances creating it at
            // once may race; the loser's "already exists" is fine.
            let created = sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))
                .execute(&mut *conn)
                .await;
            if let Err(e) = created {
                let duplicate = matches!(&e, sqlx::Error::Database(d)
                    if matches!(d.code().as_deref(), Some("42P06" | "23505")));
                if !duplicate {
                    return Err(db_err(e));
                }
            }
        }
        match migrator.run(&mut *conn).await {
            Ok(()) => Ok(()),
            Err(e) => {
                conn.close_on_drop();
                Err(match e {
                    sqlx::migrate::MigrateError::Execute(e) => db_err(e),
                    e => StoreError::Backend(format!("postgres migration: {e}")),
                })
            }
        }
    }

    /// Deletes revocations of tokens that have expired, families that have ended and
    /// DPoP proof ids whose window has passed; returns how many rows were deleted. Audit
    /// rows are never deleted.
    ///
    /// (The trait method [`RefreshStore::purge_expired`], called as
    /// `RefreshStore::purge_expired(&store, now)`, deletes ended families only.)
    pub async fn purge_expired(&self) -> Result<u64, StoreError> {
        let now = to_db(self.clock.now());
        let tokens = self
            .purge_batched(
                "DELETE FROM revoked_tokens WHERE digest IN \
                 (SELECT digest FROM revoked_tokens WHERE expires_at <= $1 LIMIT $2)",
                now,
            )
            .await?;
        let families = self.purge_families(now).await?;
        // A database migrated by an earlier release (`migrate` not run since) has no
        // proof ids to purge; the other purges still run.
        let has_proofs: bool =
            sqlx::query_scalar("SELECT to_regclass('token_auth_dpop_proofs') IS NOT NULL")
                .fetch_one(&self.pool)
                .await
                .map_err(db_err)?;
        let proofs = if has_proofs {
            self.purge_batched(replay::PURGE_PROOFS, now).await?
        } else {
            0
        };
        Ok(tokens + families + proofs)
    }

    /// Runs [`purge_expired`](Self::purge_expired) every `every` (at least one second;
    /// the first run is immediate) until the handle is aborted. Failures are logged
    /// with `tracing` and retried at the next tick; the task never panics.
    ///
    /// # Panics
    ///
    /// When called outside a Tokio runtime.
    pub fn spawn_cleanup(&self, every: Duration) -> tokio::task::JoinHandle<()> {
        let store = self.clone();
        let every = every.max(Duration::from_secs(1));
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                match store.purge_expired().await {
                    Ok(0) => {}
                    Ok(n) => tracing::debug!(deleted = n, "purged expired token-auth rows"),
                    Err(e) => tracing::warn!(error = %e, "could not purge expired token-auth rows"),
                }
            }
        })
    }

    async fn purge_families(&self, now: i64) -> Result<u64, StoreError> {
        self.purge_batched(
            "DELETE FROM refresh_families WHERE id IN \
             (SELECT id FROM refresh_families WHERE expires_at <= $1 LIMIT $2)",
            now,
        )
        .await
    }

    /// Runs a `DELETE … LIMIT $2` statement until it deletes less than a batch.
    async fn purge_batched(&self, sql: &'static str, now: i64) -> Result<u64, StoreError> {
        let mut total = 0;
        loop {
            let n = sqlx::query(sql)
                .bind(now)
                .bind(PURGE_BATCH)
                .execute(&self.pool)
                .await
                .map_err(db_err)?
                .rows_affected();
            total += n;
            if n < PURGE_BATCH as u64 {
                return Ok(total);
            }
        }
    }
}

// ---------------------------------------------------------------------------
// conversions and errors
// ---------------------------------------------------------------------------

/// Seconds as `bigint` (saturating: times beyond 2^63 s are "never").
fn to_db(t: u64) -> i64 {
    i64::try_from(t).unwrap_or(i64::MAX)
}

fn from_db(t: i64) -> u64 {
    u64::try_from(t).unwrap_or(0)
}

fn digest_from_db(bytes: &[u8]) -> Result<TokenDigest, StoreError> {
    <[u8; 32]>::try_from(bytes)
        .map(TokenDigest)
        .map_err(|_| StoreError::Backend("postgres: stored digest is not 32 bytes".into()))
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Backend(format!("postgres: encoding: {e}")))
}

fn from_json<T: serde::de::DeserializeOwned>(s: &str) -> Result<T, StoreError> {
    serde_json::from_str(s).map_err(|e| StoreError::Backend(format!("postgres: decoding: {e}")))
}

/// Normalises a sqlx error. Messages never contain the connection URL.
fn db_err(e: sqlx::Error) -> StoreError {
    use sqlx::Error as E;
    let unavailable = match &e {
        E::Io(_) | E::Tls(_) | E::PoolTimedOut | E::PoolClosed | E::WorkerCrashed => true,
        // connection_exception (08), insufficient_resources (53: too many connections),
        // query_canceled (57014: statement timeout), admin/crash shutdown and
        // cannot_connect_now (57P0x), serialization failure and deadlock (40001, 40P01):
        // all worth a retry.
        E::Database(d) => d.code().is_some_and(|c| {
            c.starts_with("08")
                || c.starts_with("53")
                || c.starts_with("57P")
                || c == "57014"
                || c == "40001"
                || c == "40P01"
        }),
        _ => false,
    };
    if unavailable {
        StoreError::Unavailable(format!("postgres: {e}"))
    } else {
        StoreError::Backend(format!("postgres: {e}"))
    }
}

// ---------------------------------------------------------------------------
// RefreshStore
// ---------------------------------------------------------------------------

/// The columns `rotate` locks and reads.
type FamilyRow = (
    String,          // user_id
    i64,             // expires_at
    Vec<u8>,         // current_digest
    String,          // current_access_jti
    Option<Vec<u8>>, // previous_digest
    Option<String>,  // previous_access_jti
    Option<i64>,     // previous_rotated_at
    Option<String>,  // previous_successor::text
    String,          // access::text
);

/// A family as `rotate` loads it: its user, the state rotations are decided on, and the
/// access tokens it knows.
fn family_from_row(
    (
        user_id,
        expires_at,
        current,
        current_access_jti,
        previous_digest,
        previous_access_jti,
        previous_rotated_at,
        previous_successor,
        access,
    ): FamilyRow,
) -> Result<(String, FamilyState, Vec<AccessRef>), StoreError> {
    let previous = match (previous_digest, previous_successor) {
        (Some(digest), Some(successor)) => Some(Parent {
            digest: digest_from_db(&digest)?,
            access_jti: previous_access_jti.unwrap_or_default(),
            rotated_at: previous_rotated_at.map_or(0, from_db),
            successor: from_json(&successor)?,
        }),
        _ => None,
    };
    let state = FamilyState {
        expires_at: from_db(expires_at),
        current: digest_from_db(&current)?,
        current_access_jti,
        previous,
    };
    Ok((user_id, state, from_json(&access)?))
}

/// Deletes the (locked) family and commits.
async fn delete_family(
    mut tx: sqlx::Transaction<'static, sqlx::Postgres>,
    family_id: &str,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM refresh_families WHERE id = $1")
        .bind(family_id)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    tx.commit().await.map_err(db_err)
}

/// The columns of a [`Session`].
type SessionRow = (
    String,
    String,
    i64,
    i64,
    i64,
    Option<String>,
    Option<String>,
    Option<String>,
);

const SESSION_COLUMNS: &str =
    "id, user_id, created_at, last_used_at, expires_at, user_agent, device, ip";

fn session_from_row(
    (id, user_id, created_at, last_used_at, expires_at, user_agent, device, ip): SessionRow,
) -> Session {
    Session {
        id,
        user_id,
        created_at: from_db(created_at),
        last_used_at: from_db(last_used_at),
        expires_at: from_db(expires_at),
        user_agent,
        device,
        ip,
    }
}

#[async_trait]
impl RefreshStore for PostgresStore {
    async fn create_session(&self, family: NewSession) -> Result<(), StoreError> {
        let access = to_json(&vec![family.access.clone()])?;
        // Like the in-memory store, a family id seen again replaces the old family.
        sqlx::query(
            "INSERT INTO refresh_families \
             (id, user_id, created_at, last_used_at, expires_at, user_agent, \
              current_digest, current_access_jti, access, device, ip) \
             VALUES ($1, $2, $3, $3, $4, $5, $6, $7, $8::jsonb, $9, $10) \
             ON CONFLICT (id) DO UPDATE SET \
              user_id = EXCLUDED.user_id, created_at = EXCLUDED.created_at, \
              last_used_at = EXCLUDED.last_used_at, expires_at = EXCLUDED.expires_at, \
              user_agent = EXCLUDED.user_agent, device = EXCLUDED.device, ip = EXCLUDED.ip, \
              current_digest = EXCLUDED.current_digest, \
              current_access_jti = EXCLUDED.current_access_jti, previous_digest = NULL, \
              previous_access_jti = NULL, previous_rotated_at = NULL, \
              previous_successor = NULL, access = EXCLUDED.access",
        )
        .bind(&family.session_id)
        .bind(&family.user_id)
        .bind(to_db(family.created_at))
        .bind(to_db(family.expires_at))
        .bind(&family.user_agent)
        .bind(&family.refresh.0[..])
        .bind(&family.access.jti)
        .bind(access)
        .bind(&family.device)
        .bind(&family.ip)
        .execute(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn verify(
        &self,
        family_id: &str,
        presented: &TokenDigest,
        now: u64,
    ) -> Result<bool, StoreError> {
        sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM refresh_families \
             WHERE id = $1 AND expires_at > $2 AND current_digest = $3)",
        )
        .bind(family_id)
        .bind(to_db(now))
        .bind(&presented.0[..])
        .fetch_one(&self.pool)
        .await
        .map_err(db_err)
    }

    async fn rotate(&self, rotation: Rotation) -> Result<RotateOutcome, StoreError> {
        let (id, now) = (rotation.session_id.as_str(), rotation.now);
        let mut tx = self.pool.begin().await.map_err(db_err)?;
        // Whatever the database's default: under REPEATABLE READ or SERIALIZABLE a
        // rotation waiting for the lock would fail instead of reading the winner's result.
        sqlx::query("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        // The row lock serialises rotations of one family across connections and
        // instances: a concurrent rotation waits here, then reads the committed result.
        let row: Option<FamilyRow> = sqlx::query_as(
            "SELECT user_id, expires_at, current_digest, current_access_jti, \
             previous_digest, previous_access_jti, previous_rotated_at, \
             previous_successor::text, access::text \
             FROM refresh_families WHERE id = $1 FOR UPDATE",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
        let Some((user_id, mut state, mut access)) = row.map(family_from_row).transpose()? else {
            tx.rollback().await.map_err(db_err)?;
            return Ok(decide(None, &rotation).outcome(String::new(), Vec::new()));
        };
        let decision = decide(Some(&state), &rotation);
        match &decision {
            Decision::Rotate(successor) => {
                state.rotate(successor, now);
                remember_access(&mut access, successor, now);
                let previous = state.previous.as_ref();
                sqlx::query(
                    "UPDATE refresh_families SET \
                     previous_digest = $2, previous_access_jti = $3, previous_rotated_at = $4, \
                     previous_successor = $5::jsonb, current_digest = $6, \
                     current_access_jti = $7, access = $8::jsonb, last_used_at = $9 \
                     WHERE id = $1",
                )
                .bind(id)
                .bind(previous.map(|p| &p.digest.0[..]))
                .bind(previous.map(|p| &p.access_jti))
                .bind(previous.map(|p| to_db(p.rotated_at)))
                .bind(previous.map(|p| to_json(&p.successor)).transpose()?)
                .bind(&state.current.0[..])
                .bind(&state.current_access_jti)
                .bind(to_json(&access)?)
                .bind(to_db(now))
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
                tx.commit().await.map_err(db_err)?;
            }
            Decision::Retry(_) => tx.rollback().await.map_err(db_err)?,
            _ => delete_family(tx, id).await?,
        }
        Ok(decision.outcome(user_id, access))
    }

    async fn revoke_session(&self, family_id: &str) -> Result<Vec<AccessRef>, StoreError> {
        let access: Option<String> =
            sqlx::query_scalar("DELETE FROM refresh_families WHERE id = $1 RETURNING access::text")
                .bind(family_id)
                .fetch_optional(&self.pool)
                .await
                .map_err(db_err)?;
        access.map_or_else(|| Ok(Vec::new()), |a| from_json(&a))
    }

    async fn revoke_user(&self, user_id: &str) -> Result<Vec<AccessRef>, StoreError> {
        let rows: Vec<String> = sqlx::query_scalar(
            "WITH gone AS (DELETE FROM refresh_families WHERE user_id = $1 \
             RETURNING created_at, id, access) \
             SELECT access::text FROM gone ORDER BY created_at, id",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        let mut out = Vec::new();
        for a in rows {
            out.extend(from_json::<Vec<AccessRef>>(&a)?);
        }
        Ok(out)
    }

    async fn user_has_sessions(&self, user_id: &str, now: u64) -> Result<bool, StoreError> {
        sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM refresh_families \
             WHERE user_id = $1 AND expires_at > $2)",
        )
        .bind(user_id)
        .bind(to_db(now))
        .fetch_one(&self.pool)
        .await
        .map_err(db_err)
    }

    async fn list_sessions(&self, user_id: &str, now: u64) -> Result<Vec<Session>, StoreError> {
        let rows: Vec<SessionRow> = sqlx::query_as(&format!(
            "SELECT {SESSION_COLUMNS} FROM refresh_families \
             WHERE user_id = $1 AND expires_at > $2 ORDER BY created_at, id"
        ))
        .bind(user_id)
        .bind(to_db(now))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(rows.into_iter().map(session_from_row).collect())
    }

    async fn session(&self, family_id: &str, now: u64) -> Result<Option<Session>, StoreError> {
        let row: Option<SessionRow> = sqlx::query_as(&format!(
            "SELECT {SESSION_COLUMNS} FROM refresh_families WHERE id = $1 AND expires_at > $2"
        ))
        .bind(family_id)
        .bind(to_db(now))
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?;
        Ok(row.map(session_from_row))
    }

    async fn purge_expired(&self, now: u64) -> Result<u64, StoreError> {
        self.purge_families(to_db(now)).await
    }
}

// ---------------------------------------------------------------------------
// GrantStore
// ---------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_saturate() {
        assert_eq!(to_db(u64::MAX), i64::MAX);
        assert_eq!(to_db(7), 7);
        assert_eq!(from_db(-1), 0);
        assert_eq!(from_db(7), 7);
    }

    #[test]
    fn outages_are_unavailable_and_other_errors_backend() {
        let io = sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert!(matches!(db_err(io), StoreError::Unavailable(_)));
        assert!(matches!(
            db_err(sqlx::Error::PoolTimedOut),
            StoreError::Unavailable(_)
        ));
        assert!(matches!(
            db_err(sqlx::Error::RowNotFound),
            StoreError::Backend(_)
        ));
    }

    #[tokio::test]
    async fn a_bad_url_is_refused_without_echoing_it() {
        let err = PostgresStore::connect("postgres://user:hunter2@[::1")
            .await
            .unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }
}
