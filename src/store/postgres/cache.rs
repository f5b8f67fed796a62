//! The in-process revocation set of a [`PostgresStore`](super::PostgresStore): filled at
//! start, kept current by LISTEN/NOTIFY, trusted only within the staleness bound.
//!
//! The design is the Redis cache's (see `store::redis`): subscribe first, then load, so
//! nothing committed meanwhile is missed; every store sends a heartbeat on the channel;
//! a store trusts its copy only while it has heard the channel within `max_staleness`
//! and the copy was filled after the subscription came up. Any doubt (listener
//! connection lost, a notification that cannot be kept, the triggers missing) and the
//! copy is not trusted: checks go to the database until a new subscription is up and
//! the copy re-filled.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sqlx::postgres::{PgListener, PgPool, PgPoolOptions};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::{db_err, from_db, to_db};
use crate::store::memory::MemoryRevocationStore;
use crate::store::{RevocationStore, StoreError, SubjectCutoff, TokenDigest};
use crate::token::clock::unix_now;

/// `application_name` of the listener's connection (visible in `pg_stat_activity`).
pub(super) const LISTENER_APPLICATION_NAME: &str = "axum-token-auth-listener";

/// Rows read per warm-start query (keyset pages, so no long-held snapshot or cursor).
const LOAD_PAGE: i64 = 10_000;

/// The copy and whether it can be trusted.
pub(super) struct Cache {
    pub(super) revoked: MemoryRevocationStore,
    /// Whether the subscription is up and the copy was filled after it came up.
    synced: AtomicBool,
    /// Milliseconds since `epoch` when the channel last delivered anything.
    last_heard_ms: AtomicU64,
    epoch: Instant,
    max_staleness_ms: u64,
}

impl Cache {
    pub(super) fn new(max_staleness: Duration) -> Self {
        Cache {
            revoked: MemoryRevocationStore::default(),
            synced: AtomicBool::new(false),
            last_heard_ms: AtomicU64::new(0),
            epoch: Instant::now(),
            max_staleness_ms: max_staleness.as_millis() as u64,
        }
    }

    pub(super) fn fresh(&self) -> bool {
        let now = self.epoch.elapsed().as_millis() as u64;
        self.synced.load(Ordering::Acquire)
            && now.saturating_sub(self.last_heard_ms.load(Ordering::Acquire))
                <= self.max_staleness_ms
    }

    /// Adds a revocation to the copy. One that cannot be kept (the copy is full) makes
    /// the copy untrusted until the next resync.
    pub(super) async fn remember(&self, digest: TokenDigest, expires_at: u64) {
        if let Err(e) = self.revoked.revoke(digest, expires_at).await {
            tracing::warn!(error = %e, "revocation cache cannot hold more entries; checks go to postgres");
            self.synced.store(false, Ordering::Release);
        }
    }

    pub(super) fn set_cutoff(&self, subject: &str, cutoff: SubjectCutoff) {
        self.revoked.set_cutoff(subject, cutoff);
    }

    fn heard(&self) {
        self.last_heard_ms
            .store(self.epoch.elapsed().as_millis() as u64, Ordering::Release);
    }

    /// Applies one notification payload (see the migration that installs the triggers).
    async fn apply(&self, payload: &str) {
        if let Some(rest) = payload.strip_prefix("r:") {
            if let Some((hex, exp)) = rest.split_once(':')
                && let (Some(d), Ok(exp)) = (TokenDigest::from_hex(hex), exp.parse::<u64>())
            {
                self.remember(d, exp).await;
            }
        } else if let Some(rest) = payload.strip_prefix("c:")
            && let Some((generation, rest)) = rest.split_once(':')
            && let Some((cut, subject)) = rest.split_once(':')
            && let (Ok(generation), Ok(issued_through)) = (generation.parse(), cut.parse())
        {
            self.set_cutoff(
                subject,
                SubjectCutoff {
                    generation,
                    issued_through,
                },
            );
        }
        // "h" (heartbeat) and anything unknown: only proof the channel is alive.
    }
}

/// The cache's background tasks, aborted when the last handle of the store is dropped.
pub(super) struct Tasks(Vec<JoinHandle<()>>);

impl Drop for Tasks {
    fn drop(&mut self) {
        for t in &self.0 {
            t.abort();
        }
    }
}

/// Starts the listener and the heartbeat (needs a Tokio runtime).
pub(super) fn spawn(
    pool: PgPool,
    cache: Arc<Cache>,
    heartbeat: Duration,
    connect_timeout: Duration,
) -> Tasks {
    let (channel_tx, channel_rx) = watch::channel(None::<String>);
    let listener = tokio::spawn(listener_task(
        pool.clone(),
        Arc::clone(&cache),
        channel_tx,
        connect_timeout,
    ));
    let beat = tokio::spawn(heartbeat_task(pool, channel_rx, heartbeat));
    Tasks(vec![listener, beat])
}

/// Listens, fills the copy, applies notifications, and starts over whenever anything
/// fails.
async fn listener_task(
    pool: PgPool,
    cache: Arc<Cache>,
    channel: watch::Sender<Option<String>>,
    connect_timeout: Duration,
) {
    let mut backoff = Duration::from_millis(50);
    loop {
        cache.synced.store(false, Ordering::Release);
        let result = run_listener(&pool, &cache, &channel, connect_timeout, &mut backoff).await;
        cache.synced.store(false, Ordering::Release);
        if let Err(e) = result {
            tracing::warn!(error = %e, "postgres revocation listener lost; checks go to postgres");
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
}

/// The channel of the schema holding our `revoked_tokens` (the one the pool's
/// `search_path` resolves), and whether both notifying triggers are installed there.
const CHANNEL_SQL: &str = "\
    SELECT left('token_auth:' || n.nspname, 63), \
        (SELECT count(*) FROM pg_trigger t WHERE t.tgname = 'token_auth_notify' AND \
            t.tgrelid IN (to_regclass('revoked_tokens'), to_regclass('token_auth_user_generations'))) \
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
    WHERE c.oid = to_regclass('revoked_tokens')";

async fn run_listener(
    pool: &PgPool,
    cache: &Cache,
    channel_tx: &watch::Sender<Option<String>>,
    connect_timeout: Duration,
    backoff: &mut Duration,
) -> Result<(), StoreError> {
    let row: Option<(Option<String>, i64)> = sqlx::query_as(CHANNEL_SQL)
        .fetch_optional(pool)
        .await
        .map_err(db_err)?;
    let channel = match row {
        Some((Some(channel), 2)) => channel,
        _ => {
            return Err(StoreError::Backend(
                "postgres: revocation tables or their notify triggers are missing \
                 (run PostgresStore::migrate)"
                    .into(),
            ));
        }
    };
    // A connection of its own, outside the store's pool (a listener holds it forever).
    let options = (*pool.connect_options())
        .clone()
        .application_name(LISTENER_APPLICATION_NAME);
    let listener_pool = PgPoolOptions::new()
        .max_connections(1)
        .min_connections(0)
        .max_lifetime(None)
        .idle_timeout(None)
        .acquire_timeout(connect_timeout)
        .connect_with(options)
        .await
        .map_err(db_err)?;
    let mut listener = PgListener::connect_with(&listener_pool)
        .await
        .map_err(db_err)?;
    // A lost connection must surface as `Ok(None)` before anything else happens, so the
    // copy is refilled after the new subscription (never silently resumed).
    listener.eager_reconnect(false);
    listener.listen(&channel).await.map_err(db_err)?;
    channel_tx.send_replace(Some(channel));

    // Fill the copy after subscribing: what commits meanwhile is both loaded and heard.
    load(pool, cache).await?;
    cache.heard();
    cache.synced.store(true, Ordering::Release);
    *backoff = Duration::from_millis(50);
    tracing::debug!("postgres revocation cache synced");

    loop {
        match listener.try_recv().await {
            Ok(Some(n)) => {
                cache.heard();
                cache.apply(n.payload()).await;
            }
            Ok(None) => {
                return Err(StoreError::Unavailable(
                    "postgres: listener connection lost".into(),
                ));
            }
            Err(e) => return Err(db_err(e)),
        }
    }
}

/// Loads every live revocation and every subject cutoff, in keyset pages.
async fn load(pool: &PgPool, cache: &Cache) -> Result<(), StoreError> {
    let now = to_db(unix_now());
    let mut after: Vec<u8> = Vec::new();
    loop {
        let rows: Vec<(Vec<u8>, i64)> = sqlx::query_as(
            "SELECT digest, expires_at FROM revoked_tokens \
             WHERE digest > $1 AND expires_at > $2 ORDER BY digest LIMIT $3",
        )
        .bind(&after)
        .bind(now)
        .bind(LOAD_PAGE)
        .fetch_all(pool)
        .await
        .map_err(db_err)?;
        let full = rows.len() as i64 == LOAD_PAGE;
        for (digest, exp) in &rows {
            if let Ok(d) = <[u8; 32]>::try_from(digest.as_slice()) {
                cache.remember(TokenDigest(d), from_db(*exp)).await;
            }
        }
        match rows.into_iter().last() {
            Some((last, _)) if full => after = last,
            _ => break,
        }
    }
    let mut after = String::new();
    loop {
        let rows: Vec<(String, i64, i64)> = sqlx::query_as(
            "SELECT subject, generation, issued_through FROM token_auth_user_generations \
             WHERE subject > $1 ORDER BY subject LIMIT $2",
        )
        .bind(&after)
        .bind(LOAD_PAGE)
        .fetch_all(pool)
        .await
        .map_err(db_err)?;
        let full = rows.len() as i64 == LOAD_PAGE;
        for (subject, generation, cut) in &rows {
            cache.set_cutoff(
                subject,
                SubjectCutoff {
                    generation: from_db(*generation),
                    issued_through: from_db(*cut),
                },
            );
        }
        match rows.into_iter().last() {
            Some((last, _, _)) if full => after = last,
            _ => break,
        }
    }
    Ok(())
}

/// Sends `h` on the channel every `every`, once the listener knows the channel.
async fn heartbeat_task(
    pool: PgPool,
    mut channel: watch::Receiver<Option<String>>,
    every: Duration,
) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let current = channel.borrow_and_update().clone();
        let Some(name) = current else { continue };
        // A failed or slow heartbeat is not an error: not hearing it is what counts.
        let _ = tokio::time::timeout(
            every,
            sqlx::query("SELECT pg_notify($1, 'h')")
                .bind(&name)
                .execute(&pool),
        )
        .await;
    }
}
