//! The Redis feed of the revocation replica ([`RevocationReplica`], which holds the copy
//! and decides when it is trusted): one `SUBSCRIBE` on a single node, one `SSUBSCRIBE`
//! per bucket on a cluster, a fill over every master, the channels' messages applied.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use redis::cluster_async::ClusterConnection;
use redis::{AsyncCommands, Client, PushInfo, PushKind, Value};
use tokio::sync::mpsc::UnboundedReceiver;

use super::conn::{Conn, KeyScan};
use super::keys::Keys;
use super::{map_err, parse_hex};
use crate::store::replica::RevocationReplica;
use crate::store::{StoreError, SubjectCutoff};

/// Applies one message of a revocation channel.
async fn apply(cache: &RevocationReplica, payload: &str) {
    if cache.apply_cutoff(payload) {
        return;
    }
    if let Some(rest) = payload.strip_prefix("g:") {
        if let Some((n, user)) = rest.split_once(':')
            && let Ok(generation) = n.parse::<u64>()
        {
            cache.set_cutoff(
                user,
                SubjectCutoff {
                    generation,
                    issued_through: 0,
                },
            );
        }
    } else if let Some((h, exp)) = payload.split_once(':')
        && let (Some(d), Ok(exp)) = (parse_hex(h), exp.parse::<u64>())
    {
        cache.remember(d, exp).await;
    }
}

/// Fills the copy from Redis (every master of a cluster): revoked digests with their
/// expiry, then every user's generation and cutoff. Called after subscribing, so
/// nothing published meanwhile is missed. Trusted afterwards unless it overflowed.
async fn fill(cache: &RevocationReplica, conn: &mut Conn, keys: &Keys) -> Result<(), StoreError> {
    cache.filling();
    let mut scan = KeyScan::new(conn, keys.rev_pattern()).await?;
    while let Some((node, batch)) = scan.next_batch(conn).await? {
        if batch.is_empty() {
            continue;
        }
        let mut pipe = redis::pipe();
        for k in &batch {
            pipe.cmd("EXPIRETIME").arg(k);
        }
        let exps: Vec<i64> = conn.pipe_on(&node, pipe).await?;
        for (k, exp) in batch.iter().zip(exps) {
            if let (Some(d), Ok(exp)) = (
                Keys::digest_of_rev_key(k).and_then(parse_hex),
                u64::try_from(exp),
            ) {
                cache.remember(d, exp).await;
            }
        }
    }
    let mut scan = KeyScan::new(conn, keys.gen_pattern()).await?;
    while let Some((node, batch)) = scan.next_batch(conn).await? {
        let users: Vec<&str> = batch
            .iter()
            .filter_map(|k| keys.user_of_gen_key(k))
            .collect();
        if users.is_empty() {
            continue;
        }
        // A user's `gen:` and `cut:` share a slot, so both live on `node`.
        let mut pipe = redis::pipe();
        for u in &users {
            let (generation, cut, _) = keys.cutoff(u);
            pipe.get(generation).get(cut);
        }
        let values: Vec<Option<u64>> = conn.pipe_on(&node, pipe).await?;
        for (user, pair) in users.iter().zip(values.chunks(2)) {
            if let [Some(generation), cut] = pair {
                cache.set_cutoff(
                    user,
                    SubjectCutoff {
                        generation: *generation,
                        issued_through: cut.unwrap_or(0),
                    },
                );
            }
        }
    }
    cache.filled()
}

/// How long a copy that overflowed waits before trying to re-fill.
fn refill_period(heartbeat: Duration) -> Duration {
    (heartbeat * 4).max(Duration::from_secs(1))
}

/// Single node: subscribes, fills the cache, applies published revocations, publishes
/// heartbeats, and starts over whenever anything fails or the copy overflowed.
pub(super) async fn single_node_task(
    client: Client,
    conn: Conn,
    keys: Keys,
    cache: Arc<RevocationReplica>,
    heartbeat: Duration,
) {
    let mut backoff = Duration::from_millis(50);
    loop {
        cache.distrust();
        if let Err(e) = run_single(&client, conn.clone(), &keys, &cache, heartbeat).await {
            tracing::warn!(error = %e, "revocation cache not trusted; checks go to redis");
        }
        cache.distrust();
        if cache.overflowed() {
            tokio::time::sleep(refill_period(heartbeat)).await;
        } else {
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(2));
        }
    }
}

async fn run_single(
    client: &Client,
    mut conn: Conn,
    keys: &Keys,
    cache: &RevocationReplica,
    heartbeat: Duration,
) -> Result<(), StoreError> {
    let channel = keys.channel(0);
    let mut pubsub = client.get_async_pubsub().await.map_err(map_err)?;
    pubsub.subscribe(&channel).await.map_err(map_err)?;
    let mut messages = pubsub.into_on_message();
    fill(cache, &mut conn, keys).await?;
    let mut ticker = tokio::time::interval(heartbeat);
    loop {
        tokio::select! {
            msg = messages.next() => {
                let Some(msg) = msg else {
                    return Err(StoreError::Unavailable("redis subscription closed".into()));
                };
                cache.heard(0);
                let payload: String = msg.get_payload().unwrap_or_default();
                apply(cache, &payload).await;
            }
            _ = ticker.tick() => {
                let _: Result<i64, _> = conn.publish(&channel, "heartbeat").await;
                if cache.overflowed() {
                    return Err(StoreError::Unavailable("revocation cache overflowed".into()));
                }
            }
        }
    }
}

/// Cluster: one `SSUBSCRIBE` per bucket channel (each on the master that owns its slot;
/// the client re-subscribes after a reconnection or failover), a fill over every
/// master, then published revocations and heartbeats. Any lost node connection, a
/// channel moved away by the server, or a channel silent beyond the staleness bound
/// starts it over: re-subscribe, re-fill.
pub(super) async fn cluster_task(
    conn: ClusterConnection,
    mut pushes: UnboundedReceiver<PushInfo>,
    keys: Keys,
    cache: Arc<RevocationReplica>,
    heartbeat: Duration,
) {
    let mut backoff = Duration::from_millis(50);
    loop {
        cache.distrust();
        match run_cluster(conn.clone(), &mut pushes, &keys, &cache, heartbeat).await {
            Ok(()) => return, // the store is gone
            Err(e) => {
                tracing::warn!(error = %e, "revocation cache not trusted; checks go to redis")
            }
        }
        cache.distrust();
        if cache.overflowed() {
            tokio::time::sleep(refill_period(heartbeat)).await;
        } else {
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(1));
        }
    }
}

async fn run_cluster(
    mut cluster: ClusterConnection,
    pushes: &mut UnboundedReceiver<PushInfo>,
    keys: &Keys,
    cache: &RevocationReplica,
    heartbeat: Duration,
) -> Result<(), StoreError> {
    // What is queued is older than the fill below, which covers it.
    while pushes.try_recv().is_ok() {}
    let channels: Vec<String> = (0..keys.channels()).map(|b| keys.channel(b)).collect();
    for c in &channels {
        // One call per channel: their slots differ.
        cluster.ssubscribe(c).await.map_err(map_err)?;
    }
    let mut conn = Conn::Cluster(cluster.clone());
    fill(cache, &mut conn, keys).await?;
    let mut ticker = tokio::time::interval(heartbeat);
    loop {
        tokio::select! {
            push = pushes.recv() => {
                let Some(push) = push else { return Ok(()) };
                match push.kind {
                    PushKind::SMessage => {
                        let mut data = push.data.into_iter();
                        let (Some(channel), Some(payload)) = (data.next(), data.next()) else {
                            continue;
                        };
                        let (Some(channel), Some(payload)) = (text(channel), text(payload)) else {
                            continue;
                        };
                        let Some(bucket) = keys.bucket_of_channel(&channel) else { continue };
                        cache.heard(bucket);
                        apply(cache, &payload).await;
                    }
                    PushKind::Disconnection => {
                        return Err(StoreError::Unavailable("redis cluster node connection lost".into()));
                    }
                    PushKind::SUnsubscribe => {
                        return Err(StoreError::Unavailable("redis cluster moved a revocation channel".into()));
                    }
                    _ => {}
                }
            }
            _ = ticker.tick() => {
                let beats = channels.iter().map(|c| {
                    let mut conn = cluster.clone();
                    async move {
                        let _: Result<i64, _> = redis::cmd("SPUBLISH")
                            .arg(c)
                            .arg("heartbeat")
                            .query_async(&mut conn)
                            .await;
                    }
                });
                futures_util::future::join_all(beats).await;
                if cache.overflowed() {
                    return Err(StoreError::Unavailable("revocation cache overflowed".into()));
                }
                if let Some(b) = cache.stale_channel() {
                    return Err(StoreError::Unavailable(format!(
                        "revocation channel {b} silent beyond the staleness bound"
                    )));
                }
            }
        }
    }
}

fn text(v: Value) -> Option<String> {
    redis::FromRedisValue::from_redis_value(v).ok()
}
