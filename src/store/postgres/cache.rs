//! The PostgreSQL feed of the revocation replica of a
//! [`PostgresStore`](super::PostgresStore) ([`RevocationReplica`], which holds the copy and
//! decides when it is trusted): filled at start, kept current by LISTEN/NOTIFY.
//!
//! Like the Redis feed: subscribe first, then load, so nothing committed meanwhile is
//! missed; every store sends a heartbeat on the channel. Any doubt (listener connection
//! lost, a notification that cannot be kept, the triggers missing) and the copy is not
//! trusted: checks go to the database until a new subscription is up and the copy
//! re-filled.

use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgListener, PgPool, PgPoolOptions};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::{db_err, from_db, to_db};
use crate::store::replica::RevocationReplica;
use crate::store::{StoreError, SubjectCutoff, TokenDigest};
use crate::token::clock::unix_now;

/// `application_name` of the listener's connection (visible in `pg_stat_activity`).
pub(super) const LISTENER_APPLICATION_NAME: &str = "axum-token-auth-listener";

/// Rows read per warm-start query (keyset pages, so no long-held snapshot or cursor).
const LOAD_PAGE: i64 = 10_000;

/// Applies one notification payload (see the migration that installs the triggers).
async fn apply(cache: &RevocationReplica, payload: &str) {
    if let Some(rest) = payload.strip_prefix("r:") {
        if let Some((hex, exp)) = rest.split_once(':')
            && let (Some(d), Ok(exp)) = (TokenDigest::from_hex(hex), exp.parse::<u64>())
        {
            cache.remember(d, exp).await;
        }
    } else {
        cache.apply_cutoff(payload);
    }
    // "h" (heartbeat) and anything unknown: only proof the channel is alive.
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
    cache: Arc<RevocationReplica>,
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
    cache: Arc<RevocationReplica>,
    channel: watch::Sender<Option<String>>,
    connect_timeout: Duration,
) {
    let mut backoff = Duration::from_millis(50);
    loop {
        cache.distrust();
        let result = run_listener(&pool, &cache, &channel, connect_timeout, &mut backoff).await;
        cache.distrust();
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
    cache: &RevocationReplica,
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
    cache.filling();
    load(pool, cache).await?;
    cache.filled()?;
    *backoff = Duration::from_millis(50);

    loop {
        match listener.try_recv().await {
            Ok(Some(n)) => {
                cache.heard(0);
                apply(cache, n.payload()).await;
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
async fn load(pool: &PgPool, cache: &RevocationReplica) -> Result<(), StoreError> {
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
