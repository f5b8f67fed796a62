//! Redis stores (feature `redis`), on one server or a Redis Cluster: revocation with an
//! in-process cache kept current by pub/sub, refresh families rotated by atomic Lua
//! scripts, scope grants with an append-only audit list, and the ids of DPoP proofs
//! already used ([`ProofReplay`](crate::store::ProofReplay)).
//!
//! ```no_run
//! use std::sync::Arc;
//! use axum_token_auth::{Sessions, TokenAuth, store::redis::{RedisSettings, RedisStore}};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let store = Arc::new(RedisStore::connect("redis://127.0.0.1:6379/").await?);
//! // Or a cluster, from any of its nodes:
//! // let store = Arc::new(RedisStore::connect_cluster(
//! //     &["redis://10.0.0.1:7000/", "redis://10.0.0.2:7000/"], RedisSettings::default()).await?);
//! let auth = TokenAuth::builder()
//!     .hs256_secret("a-random-secret-of-at-least-32-bytes!!")
//!     .revocation_store(store.clone())
//!     .build()?;
//! let sessions = Sessions::builder_shared(auth, store).build()?;
//! # Ok(()) }
//! ```
//!
//! # Keys (prefix `tokenauth:` by default)
//!
//! | key (single node) | key (cluster) | type | what | expires |
//! | --- | --- | --- | --- | --- |
//! | `rev:<sha256(jti) hex>` | `rev:{rNN}:<hex>` | string | a revoked token | when the token does |
//! | `fam:<family id>` | `fam:{<id>}` | hash | a refresh family: user, times, user agent, current and previous refresh digests, the successor kept for the grace window, known access tokens | at the family's end |
//! | `user:<user id>` | `user:{<id>}` | sorted set | the user's family ids by creation time | — (pruned as families end) |
//! | `gen:<user id>` | `gen:{rNN}:<user>` | integer | the user's generation (bumped by "revoke everything") | — |
//! | `cut:<user id>` | `cut:{rNN}:<user>` | integer | the last issue instant "revoke everything" covers (tokens without `gen`) | — |
//! | `grants:<len>:<tenant>:<principal>` | `grants:{<len>:<tenant>}:<principal>` | hash | scope → who granted it and when | — |
//! | `audit:<len>:<tenant>` | `audit:{<len>:<tenant>}` | list | the append-only audit trail of the tenant | — |
//! | `dpop:<proof id>` | `dpop:<proof id>` | string `1` | a DPoP proof already used ([`ProofReplay`](crate::store::ProofReplay); 128 bits of its [`ProofId`](crate::store::ProofId), base64url) | at the end of the proof's window |
//! | `login:<kind>:<digest>` | `login:<kind>:<digest>` | integer | failed logins in the current window ([`AttemptCounter`](crate::store::attempts::AttemptCounter); the [`AttemptKey`](crate::store::attempts::AttemptKey): 128 bits of a SHA-256, never a user name or address) | at the end of the window |
//!
//! The single-node names are those of the first release, so upgrading needs no data
//! migration. On a cluster every key one script touches carries the same hash tag
//! (`{…}`) and is passed to the script in `KEYS`: per family, per user, per tenant, and
//! for revocations one of 16 buckets `{r00}`…`{r15}` (the first byte of the digest, or
//! of the user's SHA-256, modulo 16). An index entry in `user:` is added after its family
//! and removed after it, as a second command (they live in different slots), so a
//! concurrent "log out everywhere" never leaves a live family out of the index.
//!
//! Revocations are published on channel `revoked` (single node, `PUBLISH`) or on the
//! sharded channel `revoked:{rNN}` of their bucket (cluster, `SPUBLISH`, Redis ≥ 7), by the
//! same script that stores them: `{hex}:{exp}` for a token, `c:{generation}:{cutoff}:{user}`
//! for "revoke everything" (older stores publish `g:{generation}:{user}`), and heartbeats.
//!
//! # The revocation cache and its staleness bound
//!
//! Every `RedisStore` keeps the revoked digests in process memory, filled by a `SCAN` (of
//! every master, on a cluster) after subscribing and kept current through pub/sub, so the
//! per-request check costs no round trip and a fixed number of atomic loads (one per
//! channel) plus one hash lookup, whatever the number of revocations. A revocation is
//! written and published by one Lua script (atomically), so no subscriber can miss a
//! revocation that was stored. Each store publishes a heartbeat on every channel every
//! quarter of the staleness bound; a store trusts its cache only while it has heard
//! *something* on *each* channel within [`RedisSettings::max_staleness`] (default 2 s).
//! Otherwise (subscription lost, a node failed over, Redis stalled) every check asks Redis
//! directly until the subscriptions are back and the cache re-filled. So a revocation
//! made on one instance is honoured by every other within `max_staleness` in the worst
//! case, and within the pub/sub delivery time (sub-millisecond on a LAN) normally.
//!
//! # Revocations at volume
//!
//! The cache holds [`RedisSettings::cache_capacity`] unexpired revocations (default one
//! million, at most about 90 MB of process memory at that size). A cache that cannot hold
//! another entry stops being trusted, so checks go to Redis (one `EXISTS`, O(1)) rather
//! than miss a revocation; it tries a re-fill every few heartbeats and is trusted again as
//! soon as one fits (expired entries make room). In Redis a revocation costs one small
//! string key with an expiry (181 B measured on Redis 7.0; 1 M ≈ 180 MB, spread over the
//! masters of a cluster by the 16 buckets).
//!
//! # Replicas and failover
//!
//! Redis replicates asynchronously: a master that fails right after acknowledging a write
//! may lose it. [`RedisSettings::wait_for_replicas`] makes every write wait (`WAIT`) until
//! that many replicas have it, and fail with [`StoreError::Unavailable`] otherwise, so a
//! write that succeeded survives the failover of its master.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use redis::aio::ConnectionManagerConfig;
use redis::cluster::ClusterClientBuilder;
use redis::{AsyncCommands, Client, FromRedisValue, Pipeline, Script, Value};

use crate::store::refresh::{
    AccessRef, MAX_ACCESS_PER_SESSION, NewSession, RefreshStore, RotateOutcome, Rotation, Session,
    Successor,
};
use crate::store::replica::RevocationReplica;
use crate::store::{StoreError, TokenDigest};
use crate::token::clock::{Clock, SystemClock};

mod attempts;
mod cache;
mod conn;
mod grants;
mod keys;
mod replay;
mod revocation;
mod scripts;
mod settings;

pub use settings::RedisSettings;

use conn::{Conn, KeyScan};
use keys::Keys;
use scripts::*;

/// Revocation, refresh families, sessions and DPoP proof ids in Redis, on one server
/// ([`connect`](Self::connect)) or a Redis Cluster ([`connect_cluster`](Self::connect_cluster)).
/// Cheap to share behind an `Arc`; several processes pointing at one Redis see one state.
pub struct RedisStore {
    conn: Conn,
    keys: Keys,
    wait_replicas: u32,
    wait_ms: u64,
    cache: Option<Arc<RevocationReplica>>,
    task: Option<tokio::task::JoinHandle<()>>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("keys", &self.keys)
            .field("cache_fresh", &self.cache.as_ref().map(|c| c.fresh()))
            .finish_non_exhaustive()
    }
}

impl Drop for RedisStore {
    fn drop(&mut self) {
        if let Some(t) = &self.task {
            t.abort();
        }
    }
}

/// Only the error's category is kept: its details may echo command arguments.
fn map_err(e: redis::RedisError) -> StoreError {
    if e.is_io_error()
        || e.is_timeout()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_unrecoverable_error()
        || e.is_cluster_error()
    {
        StoreError::Unavailable(format!("redis: {:?}", e.kind()))
    } else {
        StoreError::Backend(format!("redis: {:?}", e.kind()))
    }
}

fn hex(d: &TokenDigest) -> String {
    d.to_hex()
}

fn parse_hex(s: &str) -> Option<TokenDigest> {
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(TokenDigest(out))
}

/// Parses a JSON list of access refs written by Lua (`cjson` encodes `[]` as `{}`).
fn parse_access(json: &str) -> Vec<AccessRef> {
    serde_json::from_str::<Vec<AccessRef>>(json).unwrap_or_default()
}

/// The longest value a family hash holds, so Redis keeps it a listpack (its default
/// `hash-max-listpack-value`).
const MAX_VALUE: usize = 64;
/// Chunks of one text field: the session layer cuts texts to 256 characters (at most
/// 1 024 bytes of UTF-8, so at most 17 pieces cut at character boundaries).
const MAX_CHUNKS: usize = 20;

/// `v` in pieces of at most [`MAX_VALUE`] bytes, cut at character boundaries.
fn chunks(mut v: &str) -> impl Iterator<Item = &str> {
    std::iter::from_fn(move || {
        if v.is_empty() {
            return None;
        }
        let mut end = v.len().min(MAX_VALUE);
        while !v.is_char_boundary(end) {
            end -= 1;
        }
        let (piece, rest) = v.split_at(end);
        v = rest;
        Some(piece)
    })
    .take(MAX_CHUNKS)
}

fn chunk_field(name: &str, i: usize) -> String {
    if i == 0 {
        name.to_owned()
    } else {
        format!("{name}.{i}")
    }
}

fn bad_reply() -> StoreError {
    StoreError::Backend("unexpected redis reply".into())
}

impl RedisStore {
    /// Connects to one server with the default [`RedisSettings`] and, with the local cache
    /// on, starts the subscription task (needs a Tokio runtime).
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, RedisSettings::default()).await
    }

    /// Connects to one server with `settings`.
    pub async fn connect_with(url: &str, settings: RedisSettings) -> Result<Self, StoreError> {
        let client = Client::open(url).map_err(map_err)?;
        let config = ConnectionManagerConfig::new()
            .set_response_timeout(Some(settings.response_timeout))
            .set_connection_timeout(Some(settings.response_timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let manager = redis::aio::ConnectionManager::new_with_config(client.clone(), config)
            .await
            .map_err(map_err)?;
        let conn = Conn::Single(manager);
        let keys = Keys::new(&settings.prefix, false);
        let (cache, task) = if settings.replica.local {
            let cache = Arc::new(RevocationReplica::new(
                "redis",
                keys.channels(),
                settings.cache_capacity,
                settings.replica.max_staleness,
            ));
            let task = tokio::spawn(cache::single_node_task(
                client,
                conn.clone(),
                keys.clone(),
                Arc::clone(&cache),
                settings.replica.heartbeat,
            ));
            (Some(cache), Some(task))
        } else {
            (None, None)
        };
        Ok(Self::assemble(conn, keys, &settings, cache, task))
    }

    /// Connects to a Redis Cluster (≥ 7: the cache uses sharded pub/sub) through any of
    /// its `nodes` (`redis://host:port/` URLs or `host:port`), with `settings`. The same
    /// store API as on one server; see the module docs for the key layout.
    pub async fn connect_cluster<N: AsRef<str>>(
        nodes: &[N],
        settings: RedisSettings,
    ) -> Result<Self, StoreError> {
        if settings.prefix.contains(['{', '}']) {
            return Err(StoreError::Backend(
                "a redis cluster key prefix may not contain `{` or `}`".into(),
            ));
        }
        let urls: Vec<String> = nodes
            .iter()
            .map(|n| {
                let n = n.as_ref().trim();
                if n.contains("://") {
                    n.to_owned()
                } else {
                    format!("redis://{n}/")
                }
            })
            .collect();
        if urls.is_empty() {
            return Err(StoreError::Backend("no redis cluster nodes given".into()));
        }
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let mut builder = ClusterClientBuilder::new(urls)
            .connection_timeout(settings.response_timeout)
            .response_timeout(settings.response_timeout)
            .retries(3)
            .max_retry_wait(500);
        if settings.replica.local {
            builder = builder
                .use_protocol(redis::ProtocolVersion::RESP3)
                .push_sender(tx);
        }
        let client = builder.build().map_err(map_err)?;
        let cluster = client.get_async_connection().await.map_err(map_err)?;
        let conn = Conn::Cluster(cluster.clone());
        let keys = Keys::new(&settings.prefix, true);
        let (cache, task) = if settings.replica.local {
            let cache = Arc::new(RevocationReplica::new(
                "redis",
                keys.channels(),
                settings.cache_capacity,
                settings.replica.max_staleness,
            ));
            let task = tokio::spawn(cache::cluster_task(
                cluster,
                rx,
                keys.clone(),
                Arc::clone(&cache),
                settings.replica.heartbeat,
            ));
            (Some(cache), Some(task))
        } else {
            (None, None)
        };
        Ok(Self::assemble(conn, keys, &settings, cache, task))
    }

    fn assemble(
        conn: Conn,
        keys: Keys,
        settings: &RedisSettings,
        cache: Option<Arc<RevocationReplica>>,
        task: Option<tokio::task::JoinHandle<()>>,
    ) -> Self {
        RedisStore {
            conn,
            keys,
            wait_replicas: settings.wait_replicas,
            wait_ms: (settings.response_timeout.as_millis() as u64 / 2).max(1),
            cache,
            task,
            clock: Arc::new(SystemClock),
        }
    }

    /// Reads time from `clock` instead of the system clock (tests with a
    /// [`ManualClock`](crate::testing::ManualClock)): when a revocation that has already
    /// expired is skipped, and the instants grants and their audit entries record. Key
    /// expiry in Redis itself follows the server's clock.
    #[must_use]
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Now, by the store's clock.
    pub(crate) fn now(&self) -> u64 {
        self.clock.now()
    }

    /// Whether this store talks to a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        self.keys.is_cluster()
    }

    /// Whether the local revocation cache is currently trusted (see the module docs).
    pub fn cache_is_fresh(&self) -> bool {
        RevocationReplica::is_fresh(self.cache.as_deref())
    }

    /// Waits up to `timeout` for the local cache to be filled and trusted.
    pub async fn wait_for_cache(&self, timeout: Duration) -> bool {
        RevocationReplica::wait_fresh(self.cache.as_deref(), timeout).await
    }

    /// Bytes Redis uses for one session (`MEMORY USAGE` of its hash), for capacity
    /// planning.
    pub async fn session_memory_usage(&self, session_id: &str) -> Result<Option<u64>, StoreError> {
        let mut conn = self.conn.clone();
        redis::cmd("MEMORY")
            .arg("USAGE")
            .arg(self.keys.fam(session_id))
            .arg("SAMPLES")
            .arg(0)
            .query_async(&mut conn)
            .await
            .map_err(map_err)
    }

    /// The encoding Redis keeps one session's hash in (`OBJECT ENCODING`: `listpack`
    /// while every field is short, `hashtable` otherwise), for capacity planning.
    pub async fn session_encoding(&self, session_id: &str) -> Result<Option<String>, StoreError> {
        let mut conn = self.conn.clone();
        redis::cmd("OBJECT")
            .arg("ENCODING")
            .arg(self.keys.fam(session_id))
            .query_async(&mut conn)
            .await
            .map_err(map_err)
    }

    /// Runs `pipe`, then (with [`RedisSettings::wait_for_replicas`]) `WAIT` on the same
    /// connection, and returns the values of `pipe`'s commands.
    async fn write(&self, mut pipe: Pipeline) -> Result<Vec<Value>, StoreError> {
        if self.wait_replicas > 0 {
            pipe.cmd("WAIT").arg(self.wait_replicas).arg(self.wait_ms);
        }
        let mut conn = self.conn.clone();
        let mut values: Vec<Value> = pipe.query_async(&mut conn).await.map_err(map_err)?;
        if self.wait_replicas > 0 {
            let acked = values
                .pop()
                .and_then(|v| i64::from_redis_value(v).ok())
                .unwrap_or(0);
            if acked < i64::from(self.wait_replicas) {
                return Err(StoreError::Unavailable(format!(
                    "redis: write reached {acked} of {} replicas",
                    self.wait_replicas
                )));
            }
        }
        Ok(values)
    }

    /// Runs a Lua script over `keys` (every key it touches; one slot on a cluster).
    async fn eval<T: FromRedisValue>(
        &self,
        code: &'static str,
        keys: &[&str],
        args: &[&str],
    ) -> Result<T, StoreError> {
        if self.wait_replicas == 0 {
            let script = Script::new(code);
            let mut call = script.prepare_invoke();
            for k in keys {
                call.key(*k);
            }
            for a in args {
                call.arg(*a);
            }
            let mut conn = self.conn.clone();
            return call.invoke_async(&mut conn).await.map_err(map_err);
        }
        // EVAL rather than EVALSHA: WAIT must follow on the same connection, in one pipeline.
        let mut pipe = redis::pipe();
        pipe.cmd("EVAL")
            .arg(code)
            .arg(keys.len())
            .arg(keys)
            .arg(args);
        let mut values = self.write(pipe).await?;
        T::from_redis_value(values.pop().ok_or_else(bad_reply)?).map_err(|_| bad_reply())
    }

    /// Drops `family_id` from `user`'s index (a second command: another slot on a cluster).
    async fn unindex(&self, user: &str, family_ids: &[&str]) -> Result<(), StoreError> {
        if user.is_empty() || family_ids.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        pipe.zrem(self.keys.user(user), family_ids);
        self.write(pipe).await.map(drop)
    }
}

#[async_trait]
impl RefreshStore for RedisStore {
    async fn create_session(&self, family: NewSession) -> Result<(), StoreError> {
        let key = self.keys.fam(&family.session_id);
        let created = family.created_at.to_string();
        let expires = family.expires_at.to_string();
        let cur = hex(&family.refresh);
        let access_field = format!("a:{}", family.access.jti);
        let access_exp = family.access.expires_at.to_string();
        let mut fields: Vec<&str> = vec![
            "user",
            &family.user_id,
            "created",
            &created,
            "last_used",
            &created,
            "expires",
            &expires,
            "cur",
            &cur,
            "cur_access",
            &family.access.jti,
            &access_field,
            &access_exp,
        ];
        let texts = [
            ("ua", family.user_agent.as_deref()),
            ("dev", family.device.as_deref()),
            ("ip", family.ip.as_deref()),
        ];
        let chunked: Vec<(String, &str)> = texts
            .iter()
            .filter_map(|(name, v)| Some((*name, (*v)?)))
            .flat_map(|(name, v)| {
                chunks(v)
                    .enumerate()
                    .map(move |(i, c)| (chunk_field(name, i), c))
            })
            .collect();
        for (name, c) in &chunked {
            fields.push(name);
            fields.push(c);
        }
        fields.push(&expires);
        let _: i64 = self.eval(CREATE_FAMILY, &[&key], &fields).await?;
        // The family first, then its index entry: a concurrent `revoke_user` either sees
        // the entry (and ends the family) or the family is as if created after it.
        let mut pipe = redis::pipe();
        pipe.zadd(
            self.keys.user(&family.user_id),
            &family.session_id,
            family.created_at,
        );
        self.write(pipe).await.map(drop)
    }

    async fn verify(
        &self,
        family_id: &str,
        presented: &TokenDigest,
        now: u64,
    ) -> Result<bool, StoreError> {
        let mut conn = self.conn.clone();
        let (cur, expires): (Option<String>, Option<u64>) = conn
            .hmget(self.keys.fam(family_id), &["cur", "expires"])
            .await
            .map_err(map_err)?;
        Ok(cur.as_deref() == Some(hex(presented).as_str()) && expires.is_some_and(|e| e > now))
    }

    async fn rotate(&self, r: Rotation) -> Result<RotateOutcome, StoreError> {
        let succ_json =
            serde_json::to_string(&r.successor).map_err(|e| StoreError::Backend(e.to_string()))?;
        let succ_digest = hex(&TokenDigest::of_jti(&r.successor.refresh_jti));
        let key = self.keys.fam(&r.session_id);
        let (presented, now, grace) = (
            hex(&r.presented),
            r.now.to_string(),
            r.grace_secs.to_string(),
        );
        let bound = MAX_ACCESS_PER_SESSION.to_string();
        let reply: Vec<String> = self
            .eval(
                ROTATE,
                &[&key],
                &[
                    &presented,
                    &now,
                    &grace,
                    r.presented_access.as_deref().unwrap_or(""),
                    &succ_json,
                    &succ_digest,
                    &bound,
                ],
            )
            .await?;
        let succ = |s: Option<&String>| -> Result<Successor, StoreError> {
            serde_json::from_str(s.ok_or_else(bad_reply)?).map_err(|_| bad_reply())
        };
        let user = || reply.get(1).cloned().unwrap_or_default();
        let access = || parse_access(reply.get(2).map(String::as_str).unwrap_or("[]"));
        let outcome = match reply.first().map(String::as_str) {
            Some("rotated") => RotateOutcome::Rotated(succ(reply.get(1))?),
            Some("retry") => RotateOutcome::Retry(succ(reply.get(1))?),
            Some("reused") => RotateOutcome::Reused {
                user_id: user(),
                access: access(),
            },
            Some("compromised") => RotateOutcome::Compromised {
                user_id: user(),
                access: access(),
            },
            Some("unknown") => RotateOutcome::Unknown,
            _ => return Err(bad_reply()),
        };
        if matches!(
            reply.first().map(String::as_str),
            Some("reused" | "compromised" | "unknown")
        ) {
            // The family is gone; its index entry is only an index (pruned lazily too).
            let _ = self.unindex(&user(), &[&r.session_id]).await;
        }
        Ok(outcome)
    }

    async fn revoke_session(&self, family_id: &str) -> Result<Vec<AccessRef>, StoreError> {
        let reply: Vec<String> = self
            .eval(REVOKE_FAMILY, &[&self.keys.fam(family_id)], &[])
            .await?;
        let [user, access] = reply.as_slice() else {
            return Ok(Vec::new());
        };
        let _ = self.unindex(user, &[family_id]).await;
        Ok(parse_access(access))
    }

    /// Ends every family in the user's index, one script each, then drops exactly those
    /// entries: a family created meanwhile keeps its entry (it is as if created after).
    async fn revoke_user(&self, user_id: &str) -> Result<Vec<AccessRef>, StoreError> {
        let mut conn = self.conn.clone();
        let ids: Vec<String> = conn
            .zrange(self.keys.user(user_id), 0, -1)
            .await
            .map_err(map_err)?;
        let mut out = Vec::new();
        for id in &ids {
            let reply: Vec<String> = self.eval(REVOKE_FAMILY, &[&self.keys.fam(id)], &[]).await?;
            if let [_, access] = reply.as_slice() {
                out.extend(parse_access(access));
            }
        }
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        self.unindex(user_id, &ids).await?;
        Ok(out)
    }

    async fn list_sessions(&self, user_id: &str, now: u64) -> Result<Vec<Session>, StoreError> {
        let mut conn = self.conn.clone();
        let user_key = self.keys.user(user_id);
        let ids: Vec<String> = conn.zrange(&user_key, 0, -1).await.map_err(map_err)?;
        let mut out = Vec::with_capacity(ids.len());
        let mut gone = Vec::new();
        for id in ids {
            match self.session(&id, now).await? {
                Some(s) => out.push(s),
                None => gone.push(id),
            }
        }
        if !gone.is_empty() {
            let _: Result<i64, _> = conn.zrem(&user_key, gone).await;
        }
        Ok(out)
    }

    async fn session(&self, family_id: &str, now: u64) -> Result<Option<Session>, StoreError> {
        let mut conn = self.conn.clone();
        let mut names: Vec<String> = ["user", "created", "last_used", "expires"]
            .map(str::to_owned)
            .to_vec();
        for name in ["ua", "dev", "ip"] {
            names.extend((0..MAX_CHUNKS).map(|i| chunk_field(name, i)));
        }
        let v: Vec<Option<Vec<u8>>> = conn
            .hmget(self.keys.fam(family_id), &names)
            .await
            .map_err(map_err)?;
        let text = |i: usize| {
            v.get(i)
                .cloned()
                .flatten()
                .and_then(|b| String::from_utf8(b).ok())
        };
        let num = |i: usize| text(i).and_then(|s| s.parse::<u64>().ok());
        let (Some(user_id), Some(created_at), Some(last_used_at), Some(expires_at)) =
            (text(0), num(1), num(2), num(3))
        else {
            return Ok(None);
        };
        if expires_at <= now {
            return Ok(None);
        }
        // A text field is its chunks joined (one field when written by earlier releases).
        let joined = |field: usize| -> Option<String> {
            let start = 4 + field * MAX_CHUNKS;
            let mut bytes = Vec::new();
            for part in v.get(start..start + MAX_CHUNKS)? {
                match part {
                    Some(p) => bytes.extend_from_slice(p),
                    None => break,
                }
            }
            String::from_utf8(bytes).ok().filter(|s| !s.is_empty())
        };
        Ok(Some(Session {
            id: family_id.to_owned(),
            user_id,
            created_at,
            last_used_at,
            expires_at,
            user_agent: joined(0),
            device: joined(1),
            ip: joined(2),
        }))
    }

    async fn purge_expired(&self, now: u64) -> Result<u64, StoreError> {
        // Redis expires families and revocations by itself; drop dangling index entries.
        let mut conn = self.conn.clone();
        let mut dropped = 0u64;
        let mut scan = KeyScan::new(&mut conn, self.keys.user_pattern()).await?;
        while let Some((_, keys)) = scan.next_batch(&mut conn).await? {
            for k in keys {
                let Some(user) = self.keys.user_of_index_key(&k) else {
                    continue;
                };
                let before: u64 = conn.zcard(&k).await.map_err(map_err)?;
                let kept = self.list_sessions(user, now).await?.len() as u64;
                dropped += before.saturating_sub(kept);
            }
        }
        Ok(dropped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips() {
        let d = TokenDigest::of_jti("x");
        assert_eq!(parse_hex(&hex(&d)), Some(d));
        assert_eq!(parse_hex("zz"), None);
    }

    #[test]
    fn texts_are_cut_into_short_pieces_at_character_boundaries() {
        let ua = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
        let pieces: Vec<&str> = chunks(ua).collect();
        assert_eq!(pieces.len(), 2);
        assert!(pieces.iter().all(|p| p.len() <= MAX_VALUE));
        assert_eq!(pieces.concat(), ua);
        let wide = "\u{1F600}".repeat(256); // 1 024 bytes, 4 per character
        let pieces: Vec<&str> = chunks(&wide).collect();
        assert!(pieces.len() <= MAX_CHUNKS);
        assert!(pieces.iter().all(|p| p.len() <= MAX_VALUE));
        assert_eq!(pieces.concat(), wide);
        assert_eq!(chunks("").count(), 0);
        assert_eq!(chunk_field("ua", 0), "ua");
        assert_eq!(chunk_field("ua", 2), "ua.2");
    }

    #[test]
    fn lua_empty_list_reads_as_empty() {
        assert!(parse_access("{}").is_empty());
        assert_eq!(parse_access(r#"[{"jti":"a","expires_at":5}]"#).len(), 1);
    }
}
