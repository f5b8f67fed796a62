//! Redis stores (feature `redis`): revocation with an in-process cache kept current by
//! pub/sub, refresh families rotated by atomic Lua scripts, and scope grants with an
//! append-only audit list.
//!
//! ```no_run
//! use std::sync::Arc;
//! use axum_token_auth::{Sessions, TokenAuth, store::redis::RedisStore};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let store = Arc::new(RedisStore::connect("redis://127.0.0.1:6379/").await?);
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
//! | key | type | what | expires |
//! | --- | --- | --- | --- |
//! | `rev:{sha256(jti) hex}` | string | a revoked token | when the token does |
//! | `fam:{family id}` | hash | a refresh family: user, times, user agent, current and previous refresh digests, the successor kept for the grace window, known access tokens | at the family's end |
//! | `user:{user id}` | sorted set | the user's family ids by creation time | — (pruned as families end) |
//! | `gen:{user id}` | integer | the user's generation (bumped by "revoke everything") | — |
//! | `cut:{user id}` | integer | the last issue instant "revoke everything" covers (tokens without `gen`) | — |
//! | `grants:{len}:{tenant}:{principal}` | hash | scope → who granted it and when | — |
//! | `audit:{len}:{tenant}` | list | the append-only audit trail of the tenant | — |
//!
//! Channel `revoked` carries every revocation (`{hex}:{exp}`), every "revoke everything"
//! (`c:{generation}:{cutoff}:{user}`; older stores publish `g:{generation}:{user}`) and a
//! heartbeat.
//!
//! # The revocation cache and its staleness bound
//!
//! Every `RedisStore` keeps the revoked digests in process memory, filled by a `SCAN` at
//! start and kept current through pub/sub, so the per-request check costs no round trip.
//! A revocation is written and published by one Lua script (atomically), so no
//! subscriber can miss a revocation that was stored. Each store publishes a heartbeat
//! every [`RedisOptions::heartbeat`]; a store trusts its cache only while it has heard
//! *something* on the channel within [`RedisOptions::max_staleness`] (default 2 s).
//! Otherwise (subscription lost, Redis stalled) every check asks Redis directly until
//! the subscription is back and the cache re-filled. So a revocation made on one
//! instance is honoured by every other within `max_staleness` in the worst case, and
//! within the pub/sub delivery time (sub-millisecond on a LAN) normally. A cache that
//! cannot hold another entry (over a million live revocations) stops being trusted, so
//! checks go to Redis rather than miss a revocation.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures_util::StreamExt;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, Client, Script};

use crate::store::family::{
    AccessRef, MAX_ACCESS_PER_FAMILY, NewFamily, RefreshStore, RotateOutcome, Rotation, Session,
    Successor,
};
use crate::store::grants::{AuditAction, AuditEntry, GrantStore, ScopeGrant, check_grant_ids};
use crate::store::memory::MemoryRevocationStore;
use crate::store::{RevocationCheck, RevocationStore, StoreError, SubjectCutoff, TokenDigest};
use crate::token::clock::unix_now;
use crate::token::scope::Scope;

/// Options of a [`RedisStore`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RedisOptions {
    /// Prefix of every key and of the channel (default `tokenauth:`).
    pub prefix: String,
    /// Keep revoked digests in process memory, current through pub/sub (default on).
    pub local_cache: bool,
    /// How often each store publishes a heartbeat (default 500 ms).
    pub heartbeat: Duration,
    /// How long the cache is trusted without hearing anything on the channel (default 2 s).
    pub max_staleness: Duration,
    /// Timeout of one command (default 1 s): an unreachable Redis answers quickly.
    pub response_timeout: Duration,
}

impl Default for RedisOptions {
    fn default() -> Self {
        RedisOptions {
            prefix: "tokenauth:".into(),
            local_cache: true,
            heartbeat: Duration::from_millis(500),
            max_staleness: Duration::from_secs(2),
            response_timeout: Duration::from_secs(1),
        }
    }
}

impl RedisOptions {
    /// Sets the key prefix.
    #[must_use]
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Turns the local revocation cache off: every check is one `EXISTS` round trip.
    #[must_use]
    pub fn without_local_cache(mut self) -> Self {
        self.local_cache = false;
        self
    }

    /// Sets the cache's staleness bound (and a heartbeat of a quarter of it).
    #[must_use]
    pub fn max_staleness(mut self, bound: Duration) -> Self {
        self.max_staleness = bound;
        self.heartbeat = bound / 4;
        self
    }
}

/// Revocation, refresh families and sessions in Redis. Cheap to share behind an `Arc`;
/// several processes pointing at one Redis see one state.
pub struct RedisStore {
    conn: ConnectionManager,
    prefix: Arc<str>,
    cache: Option<Arc<Cache>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// The in-process copy of the revocation list.
struct Cache {
    revoked: MemoryRevocationStore,
    /// Whether the subscription is up and the cache was filled after it came up.
    synced: AtomicBool,
    /// Milliseconds since `epoch` when the channel last delivered anything.
    last_heard_ms: AtomicU64,
    epoch: Instant,
    max_staleness_ms: u64,
}

impl Cache {
    fn fresh(&self) -> bool {
        let now = self.epoch.elapsed().as_millis() as u64;
        self.synced.load(Ordering::Acquire)
            && now.saturating_sub(self.last_heard_ms.load(Ordering::Acquire))
                <= self.max_staleness_ms
    }

    /// Adds a revocation to the local copy. If it cannot be kept (the copy is full), the
    /// copy is no longer trusted: checks go to Redis until a resync succeeds.
    async fn remember(&self, digest: TokenDigest, expires_at: u64) {
        if let Err(e) = self.revoked.revoke(digest, expires_at).await {
            tracing::warn!(error = %e, "revocation cache cannot hold more entries; checks go to redis");
            self.synced.store(false, Ordering::Release);
        }
    }

    fn heard(&self) {
        self.last_heard_ms
            .store(self.epoch.elapsed().as_millis() as u64, Ordering::Release);
    }
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
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

// The longer expiry wins (EXPIRETIME is -2 for a missing key).
const REVOKE: &str = r"
if redis.call('EXPIRETIME', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], '1', 'EXAT', ARGV[1])
end
redis.call('PUBLISH', KEYS[2], ARGV[2])
return 1
";

// The generation and the cutoff move together, and one message carries both.
const BUMP_GENERATION: &str = r"
local n = redis.call('INCR', KEYS[1])
local cut = tonumber(redis.call('GET', KEYS[3]) or '0')
if cut < tonumber(ARGV[2]) then
  cut = tonumber(ARGV[2])
  redis.call('SET', KEYS[3], ARGV[2])
end
redis.call('PUBLISH', KEYS[2], 'c:' .. n .. ':' .. cut .. ':' .. ARGV[1])
return n
";

const ROTATE: &str = r"
local fam = KEYS[1]
local prefix, id = ARGV[10], ARGV[11]
if redis.call('EXISTS', fam) == 0 then return {'unknown'} end
local h = redis.call('HMGET', fam, 'user', 'expires', 'cur', 'cur_access', 'prev', 'prev_access',
  'prev_rotated', 'prev_succ', 'prev_succ_digest', 'access')
local user, expires, cur, cur_access = h[1], tonumber(h[2]), h[3], h[4]
local prev, prev_access, prev_rotated, prev_succ, prev_succ_digest = h[5], h[6], h[7], h[8], h[9]
local access = h[10] or '[]'
local presented, now, grace, presented_access = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local function drop()
  redis.call('DEL', fam)
  redis.call('ZREM', prefix .. 'user:' .. user, id)
end
if expires <= now then drop() return {'unknown'} end
local mapped = false
if presented == cur then mapped = cur_access elseif prev and presented == prev then mapped = prev_access end
if mapped and presented_access ~= '' and mapped ~= presented_access then
  drop() return {'compromised', user, access}
end
if presented == cur then
  local succ = cjson.decode(ARGV[5])
  if succ['refresh_expires_at'] > expires then succ['refresh_expires_at'] = expires end
  local encoded = cjson.encode(succ)
  local list = cjson.decode(access)
  local kept = {}
  for _, a in ipairs(list) do if a['expires_at'] > now then table.insert(kept, a) end end
  table.insert(kept, {jti = succ['access_jti'], expires_at = succ['access_expires_at']})
  while #kept > tonumber(ARGV[7]) do table.remove(kept, 1) end
  redis.call('HSET', fam, 'cur', ARGV[6], 'cur_access', succ['access_jti'], 'prev', presented,
    'prev_access', cur_access, 'prev_rotated', now, 'prev_succ', encoded, 'prev_succ_digest', ARGV[6],
    'last_used', now, 'access', cjson.encode(kept))
  return {'rotated', encoded}
end
if prev and presented == prev and grace > 0 and now <= tonumber(prev_rotated) + grace
   and cur == prev_succ_digest then
  return {'retry', prev_succ}
end
drop()
return {'reused', user, access}
";

const REVOKE_FAMILY: &str = r"
local fam = KEYS[1]
if redis.call('EXISTS', fam) == 0 then return '[]' end
local user = redis.call('HGET', fam, 'user')
local access = redis.call('HGET', fam, 'access') or '[]'
redis.call('DEL', fam)
redis.call('ZREM', ARGV[1] .. 'user:' .. user, ARGV[2])
return access
";

const REVOKE_USER: &str = r"
local ids = redis.call('ZRANGE', KEYS[1], 0, -1)
local out = {}
for _, id in ipairs(ids) do
  local fam = ARGV[1] .. 'fam:' .. id
  local access = redis.call('HGET', fam, 'access')
  if access then table.insert(out, access) end
  redis.call('DEL', fam)
end
redis.call('DEL', KEYS[1])
return out
";

impl RedisStore {
    /// Connects with the default [`RedisOptions`] and, with the local cache on, starts the
    /// subscription task (needs a Tokio runtime).
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, RedisOptions::default()).await
    }

    /// Connects with `options`.
    pub async fn connect_with(url: &str, options: RedisOptions) -> Result<Self, StoreError> {
        let client = Client::open(url).map_err(map_err)?;
        let config = ConnectionManagerConfig::new()
            .set_response_timeout(Some(options.response_timeout))
            .set_connection_timeout(Some(options.response_timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let conn = ConnectionManager::new_with_config(client.clone(), config)
            .await
            .map_err(map_err)?;
        let prefix: Arc<str> = Arc::from(options.prefix.as_str());
        let (cache, task) = if options.local_cache {
            let cache = Arc::new(Cache {
                revoked: MemoryRevocationStore::default(),
                synced: AtomicBool::new(false),
                last_heard_ms: AtomicU64::new(0),
                epoch: Instant::now(),
                max_staleness_ms: options.max_staleness.as_millis() as u64,
            });
            let task = tokio::spawn(subscription_task(
                client,
                conn.clone(),
                Arc::clone(&prefix),
                Arc::clone(&cache),
                options.heartbeat,
            ));
            (Some(cache), Some(task))
        } else {
            (None, None)
        };
        Ok(RedisStore {
            conn,
            prefix,
            cache,
            task,
        })
    }

    fn key(&self, kind: &str, id: &str) -> String {
        format!("{}{kind}:{id}", self.prefix)
    }

    /// Whether the local revocation cache is currently trusted (see the module docs).
    pub fn cache_is_fresh(&self) -> bool {
        self.cache.as_ref().is_some_and(|c| c.fresh())
    }

    /// Waits up to `timeout` for the local cache to be filled and trusted.
    pub async fn wait_for_cache(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.cache_is_fresh() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.cache_is_fresh()
    }

    /// Bytes Redis uses for one family (`MEMORY USAGE` of its hash), for capacity planning.
    pub async fn family_memory_usage(&self, family_id: &str) -> Result<Option<u64>, StoreError> {
        let mut conn = self.conn.clone();
        redis::cmd("MEMORY")
            .arg("USAGE")
            .arg(self.key("fam", family_id))
            .arg("SAMPLES")
            .arg(0)
            .query_async(&mut conn)
            .await
            .map_err(map_err)
    }
}

/// `SCAN … MATCH pattern` in batches, until the cursor comes back to 0.
struct KeyScan<'p> {
    pattern: &'p str,
    cursor: u64,
    done: bool,
}

impl<'p> KeyScan<'p> {
    fn new(pattern: &'p str) -> Self {
        KeyScan {
            pattern,
            cursor: 0,
            done: false,
        }
    }

    async fn next_batch(
        &mut self,
        conn: &mut ConnectionManager,
    ) -> Result<Option<Vec<String>>, StoreError> {
        if self.done {
            return Ok(None);
        }
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(self.cursor)
            .arg("MATCH")
            .arg(self.pattern)
            .arg("COUNT")
            .arg(1000)
            .query_async(conn)
            .await
            .map_err(map_err)?;
        self.cursor = next;
        self.done = next == 0;
        Ok(Some(keys))
    }
}

/// Subscribes, fills the cache, applies published revocations, publishes heartbeats, and
/// starts over whenever anything fails.
async fn subscription_task(
    client: Client,
    conn: ConnectionManager,
    prefix: Arc<str>,
    cache: Arc<Cache>,
    heartbeat: Duration,
) {
    let channel = format!("{prefix}revoked");
    let mut backoff = Duration::from_millis(50);
    loop {
        cache.synced.store(false, Ordering::Release);
        match run_subscription(&client, conn.clone(), &prefix, &channel, &cache, heartbeat).await {
            Ok(()) => {}
            Err(e) => {
                tracing::warn!(error = %e, "revocation cache subscription lost; checks go to redis")
            }
        }
        cache.synced.store(false, Ordering::Release);
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
}

async fn run_subscription(
    client: &Client,
    mut conn: ConnectionManager,
    prefix: &str,
    channel: &str,
    cache: &Cache,
    heartbeat: Duration,
) -> Result<(), StoreError> {
    let mut pubsub = client.get_async_pubsub().await.map_err(map_err)?;
    pubsub.subscribe(channel).await.map_err(map_err)?;
    let mut messages = pubsub.into_on_message();
    // Fill the cache after subscribing, so nothing published meanwhile is missed.
    let pattern = format!("{prefix}rev:*");
    let mut scan = KeyScan::new(&pattern);
    while let Some(keys) = scan.next_batch(&mut conn).await? {
        if !keys.is_empty() {
            let mut pipe = redis::pipe();
            for k in &keys {
                pipe.cmd("EXPIRETIME").arg(k);
            }
            let exps: Vec<i64> = pipe.query_async(&mut conn).await.map_err(map_err)?;
            for (k, exp) in keys.iter().zip(exps) {
                if let (Some(d), Ok(exp)) = (parse_hex(&k[pattern.len() - 1..]), u64::try_from(exp))
                {
                    cache.remember(d, exp).await;
                }
            }
        }
    }
    let pattern = format!("{prefix}gen:*");
    let mut scan = KeyScan::new(&pattern);
    while let Some(keys) = scan.next_batch(&mut conn).await? {
        if !keys.is_empty() {
            let users: Vec<&str> = keys.iter().map(|k| &k[pattern.len() - 1..]).collect();
            let cuts: Vec<String> = users.iter().map(|u| format!("{prefix}cut:{u}")).collect();
            let gens: Vec<Option<u64>> = conn.mget(&keys).await.map_err(map_err)?;
            let cuts: Vec<Option<u64>> = conn.mget(&cuts).await.map_err(map_err)?;
            for ((user, generation), cut) in users.iter().zip(gens).zip(cuts) {
                if let Some(generation) = generation {
                    cache.revoked.set_cutoff(
                        user,
                        SubjectCutoff {
                            generation,
                            issued_through: cut.unwrap_or(0),
                        },
                    );
                }
            }
        }
    }
    cache.heard();
    cache.synced.store(true, Ordering::Release);
    tracing::debug!("revocation cache synced");
    let mut ticker = tokio::time::interval(heartbeat);
    loop {
        tokio::select! {
            msg = messages.next() => {
                let Some(msg) = msg else {
                    return Err(StoreError::Unavailable("redis subscription closed".into()));
                };
                cache.heard();
                let payload: String = msg.get_payload().unwrap_or_default();
                if let Some(rest) = payload.strip_prefix("c:") {
                    if let Some((n, rest)) = rest.split_once(':')
                        && let Some((cut, user)) = rest.split_once(':')
                        && let (Ok(generation), Ok(issued_through)) = (n.parse(), cut.parse())
                    {
                        cache.revoked.set_cutoff(user, SubjectCutoff { generation, issued_through });
                    }
                } else if let Some(rest) = payload.strip_prefix("g:") {
                    if let Some((n, user)) = rest.split_once(':')
                        && let Ok(generation) = n.parse::<u64>()
                    {
                        cache.revoked.set_cutoff(user, SubjectCutoff { generation, issued_through: 0 });
                    }
                } else if let Some((h, exp)) = payload.split_once(':')
                    && let (Some(d), Ok(exp)) = (parse_hex(h), exp.parse::<u64>())
                {
                    cache.remember(d, exp).await;
                }
            }
            _ = ticker.tick() => {
                let _: Result<i64, _> = conn.publish(channel, "heartbeat").await;
            }
        }
    }
}

#[async_trait]
impl RevocationStore for RedisStore {
    async fn revoke(&self, digest: TokenDigest, expires_at: u64) -> Result<(), StoreError> {
        if expires_at <= unix_now() {
            return Ok(());
        }
        let h = hex(&digest);
        let mut conn = self.conn.clone();
        let _: i64 = Script::new(REVOKE)
            .key(self.key("rev", &h))
            .key(format!("{}revoked", self.prefix))
            .arg(expires_at)
            .arg(format!("{h}:{expires_at}"))
            .invoke_async(&mut conn)
            .await
            .map_err(map_err)?;
        if let Some(c) = &self.cache {
            c.remember(digest, expires_at).await;
        }
        Ok(())
    }

    async fn is_revoked(&self, digest: &TokenDigest) -> Result<bool, StoreError> {
        let mut conn = self.conn.clone();
        conn.exists(self.key("rev", &hex(digest)))
            .await
            .map_err(map_err)
    }

    fn is_revoked_now(&self, digest: &TokenDigest) -> Option<Result<bool, StoreError>> {
        let cache = self.cache.as_ref().filter(|c| c.fresh())?;
        cache.revoked.is_revoked_now(digest)
    }

    async fn revoke_all_for(&self, subject: &str, at: u64) -> Result<u64, StoreError> {
        let mut conn = self.conn.clone();
        let n: u64 = Script::new(BUMP_GENERATION)
            .key(self.key("gen", subject))
            .key(format!("{}revoked", self.prefix))
            .key(self.key("cut", subject))
            .arg(subject)
            .arg(at)
            .invoke_async(&mut conn)
            .await
            .map_err(map_err)?;
        if let Some(c) = &self.cache {
            c.revoked.set_cutoff(
                subject,
                SubjectCutoff {
                    generation: n,
                    issued_through: at,
                },
            );
        }
        Ok(n)
    }

    async fn subject_cutoff(&self, subject: &str) -> Result<SubjectCutoff, StoreError> {
        let mut conn = self.conn.clone();
        let (generation, cut): (Option<u64>, Option<u64>) = redis::pipe()
            .get(self.key("gen", subject))
            .get(self.key("cut", subject))
            .query_async(&mut conn)
            .await
            .map_err(map_err)?;
        Ok(SubjectCutoff {
            generation: generation.unwrap_or(0),
            issued_through: cut.unwrap_or(0),
        })
    }

    async fn generation(&self, subject: &str) -> Result<u64, StoreError> {
        let mut conn = self.conn.clone();
        let n: Option<u64> = conn.get(self.key("gen", subject)).await.map_err(map_err)?;
        Ok(n.unwrap_or(0))
    }

    /// One round trip: `EXISTS` of the digest and `GET` of the subject's generation and
    /// cutoff.
    async fn check(&self, token: &RevocationCheck<'_>) -> Result<bool, StoreError> {
        let mut conn = self.conn.clone();
        let (revoked, generation, cut): (bool, Option<u64>, Option<u64>) = redis::pipe()
            .exists(self.key("rev", &hex(token.digest)))
            .get(self.key("gen", token.subject))
            .get(self.key("cut", token.subject))
            .query_async(&mut conn)
            .await
            .map_err(map_err)?;
        let cutoff = SubjectCutoff {
            generation: generation.unwrap_or(0),
            issued_through: cut.unwrap_or(0),
        };
        Ok(revoked || cutoff.revokes(token))
    }

    fn check_now(&self, token: &RevocationCheck<'_>) -> Option<Result<bool, StoreError>> {
        let cache = self.cache.as_ref().filter(|c| c.fresh())?;
        cache.revoked.check_now(token)
    }
}

#[async_trait]
impl RefreshStore for RedisStore {
    async fn create_family(&self, family: NewFamily) -> Result<(), StoreError> {
        let key = self.key("fam", &family.family_id);
        let access = serde_json::to_string(&vec![family.access.clone()])
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        let mut pipe = redis::pipe();
        pipe.atomic()
            .hset_multiple(
                &key,
                &[
                    ("user", family.user_id.clone()),
                    ("created", family.created_at.to_string()),
                    ("last_used", family.created_at.to_string()),
                    ("expires", family.expires_at.to_string()),
                    ("ua", family.user_agent.clone().unwrap_or_default()),
                    ("dev", family.device.clone().unwrap_or_default()),
                    ("ip", family.ip.clone().unwrap_or_default()),
                    ("cur", hex(&family.refresh)),
                    ("cur_access", family.access.jti.clone()),
                    ("access", access),
                ],
            )
            .ignore()
            .cmd("EXPIREAT")
            .arg(&key)
            .arg(family.expires_at)
            .ignore()
            .zadd(
                self.key("user", &family.user_id),
                &family.family_id,
                family.created_at,
            )
            .ignore();
        let mut conn = self.conn.clone();
        pipe.query_async::<()>(&mut conn).await.map_err(map_err)
    }

    async fn verify(
        &self,
        family_id: &str,
        presented: &TokenDigest,
        now: u64,
    ) -> Result<bool, StoreError> {
        let mut conn = self.conn.clone();
        let (cur, expires): (Option<String>, Option<u64>) = conn
            .hmget(self.key("fam", family_id), &["cur", "expires"])
            .await
            .map_err(map_err)?;
        Ok(cur.as_deref() == Some(hex(presented).as_str()) && expires.is_some_and(|e| e > now))
    }

    async fn rotate(&self, r: Rotation) -> Result<RotateOutcome, StoreError> {
        let succ_json =
            serde_json::to_string(&r.successor).map_err(|e| StoreError::Backend(e.to_string()))?;
        let succ_digest = hex(&TokenDigest::of_jti(&r.successor.refresh_jti));
        let mut conn = self.conn.clone();
        let reply: Vec<String> = Script::new(ROTATE)
            .key(self.key("fam", &r.family_id))
            .arg(hex(&r.presented))
            .arg(r.now)
            .arg(r.grace_secs)
            .arg(r.presented_access.as_deref().unwrap_or(""))
            .arg(succ_json)
            .arg(succ_digest)
            .arg(MAX_ACCESS_PER_FAMILY)
            .arg(0) // unused slots keep ARGV positions stable
            .arg(0)
            .arg(&*self.prefix)
            .arg(&r.family_id)
            .invoke_async(&mut conn)
            .await
            .map_err(map_err)?;
        let bad = || StoreError::Backend("unexpected rotate reply".into());
        let succ = |s: Option<&String>| -> Result<Successor, StoreError> {
            serde_json::from_str(s.ok_or_else(bad)?).map_err(|_| bad())
        };
        Ok(match reply.first().map(String::as_str) {
            Some("rotated") => RotateOutcome::Rotated(succ(reply.get(1))?),
            Some("retry") => RotateOutcome::Retry(succ(reply.get(1))?),
            Some("reused") => RotateOutcome::Reused {
                user_id: reply.get(1).cloned().unwrap_or_default(),
                access: parse_access(reply.get(2).map(String::as_str).unwrap_or("[]")),
            },
            Some("compromised") => RotateOutcome::Compromised {
                user_id: reply.get(1).cloned().unwrap_or_default(),
                access: parse_access(reply.get(2).map(String::as_str).unwrap_or("[]")),
            },
            Some("unknown") => RotateOutcome::Unknown,
            _ => return Err(bad()),
        })
    }

    async fn revoke_family(&self, family_id: &str) -> Result<Vec<AccessRef>, StoreError> {
        let mut conn = self.conn.clone();
        let access: String = Script::new(REVOKE_FAMILY)
            .key(self.key("fam", family_id))
            .arg(&*self.prefix)
            .arg(family_id)
            .invoke_async(&mut conn)
            .await
            .map_err(map_err)?;
        Ok(parse_access(&access))
    }

    async fn revoke_user(&self, user_id: &str) -> Result<Vec<AccessRef>, StoreError> {
        let mut conn = self.conn.clone();
        let lists: Vec<String> = Script::new(REVOKE_USER)
            .key(self.key("user", user_id))
            .arg(&*self.prefix)
            .invoke_async(&mut conn)
            .await
            .map_err(map_err)?;
        Ok(lists.iter().flat_map(|l| parse_access(l)).collect())
    }

    async fn list_sessions(&self, user_id: &str, now: u64) -> Result<Vec<Session>, StoreError> {
        let mut conn = self.conn.clone();
        let user_key = self.key("user", user_id);
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
        let v: Vec<Option<String>> = conn
            .hmget(
                self.key("fam", family_id),
                &["user", "created", "last_used", "expires", "ua", "dev", "ip"],
            )
            .await
            .map_err(map_err)?;
        let num = |i: usize| {
            v.get(i)
                .cloned()
                .flatten()
                .and_then(|s| s.parse::<u64>().ok())
        };
        let (Some(user_id), Some(created_at), Some(last_used_at), Some(expires_at)) =
            (v.first().cloned().flatten(), num(1), num(2), num(3))
        else {
            return Ok(None);
        };
        if expires_at <= now {
            return Ok(None);
        }
        Ok(Some(Session {
            id: family_id.to_owned(),
            user_id,
            created_at,
            last_used_at,
            expires_at,
            user_agent: v.get(4).cloned().flatten().filter(|s| !s.is_empty()),
            device: v.get(5).cloned().flatten().filter(|s| !s.is_empty()),
            ip: v.get(6).cloned().flatten().filter(|s| !s.is_empty()),
        }))
    }

    async fn purge_expired(&self, now: u64) -> Result<u64, StoreError> {
        // Redis expires families and revocations by itself; drop dangling index entries.
        let mut conn = self.conn.clone();
        let pattern = format!("{}user:*", self.prefix);
        let mut dropped = 0u64;
        let mut scan = KeyScan::new(&pattern);
        while let Some(keys) = scan.next_batch(&mut conn).await? {
            for k in keys {
                let user = &k[pattern.len() - 1..];
                let before: u64 = conn.zcard(&k).await.map_err(map_err)?;
                let kept = self.list_sessions(user, now).await?.len() as u64;
                dropped += before.saturating_sub(kept);
            }
        }
        Ok(dropped)
    }
}

const GRANT: &str = r"
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('RPUSH', KEYS[2], ARGV[3])
return 1
";

const REVOKE_GRANT: &str = r"
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('RPUSH', KEYS[2], ARGV[2])
return 1
";

#[derive(serde::Serialize, serde::Deserialize)]
struct GrantValue {
    by: String,
    at: u64,
}

impl RedisStore {
    /// `grants:{len(tenant)}:{tenant}:{principal}`: the length prefix keeps `a:b`/`c`
    /// and `a`/`b:c` apart.
    fn grants_key(&self, tenant: &str, principal: &str) -> String {
        format!(
            "{}grants:{}:{tenant}:{principal}",
            self.prefix,
            tenant.len()
        )
    }

    fn audit_key(&self, tenant: &str) -> String {
        format!("{}audit:{}:{tenant}", self.prefix, tenant.len())
    }

    fn audit_entry(
        tenant: &str,
        principal: &str,
        scope: &Scope,
        action: AuditAction,
        actor: &str,
    ) -> Result<String, StoreError> {
        serde_json::to_string(&AuditEntry {
            tenant: tenant.to_owned(),
            principal: principal.to_owned(),
            scope: scope.to_string(),
            action,
            actor: actor.to_owned(),
            at: unix_now(),
        })
        .map_err(|e| StoreError::Backend(e.to_string()))
    }
}

/// Grants as one hash per tenant and principal; the audit trail as one append-only list
/// per tenant (this crate only ever `RPUSH`es to it). Each change and its audit entry are
/// written by one Lua script.
#[async_trait]
impl GrantStore for RedisStore {
    async fn grant_scope(
        &self,
        tenant: &str,
        principal: &str,
        scope: &Scope,
        granted_by: &str,
    ) -> Result<bool, StoreError> {
        check_grant_ids(tenant, principal, granted_by)?;
        let value = serde_json::to_string(&GrantValue {
            by: granted_by.to_owned(),
            at: unix_now(),
        })
        .map_err(|e| StoreError::Backend(e.to_string()))?;
        let entry = Self::audit_entry(tenant, principal, scope, AuditAction::Grant, granted_by)?;
        let mut conn = self.conn.clone();
        let changed: i64 = Script::new(GRANT)
            .key(self.grants_key(tenant, principal))
            .key(self.audit_key(tenant))
            .arg(scope.as_str())
            .arg(value)
            .arg(entry)
            .invoke_async(&mut conn)
            .await
            .map_err(map_err)?;
        Ok(changed == 1)
    }

    async fn revoke_scope(
        &self,
        tenant: &str,
        principal: &str,
        scope: &Scope,
        revoked_by: &str,
    ) -> Result<bool, StoreError> {
        check_grant_ids(tenant, principal, revoked_by)?;
        let entry = Self::audit_entry(tenant, principal, scope, AuditAction::Revoke, revoked_by)?;
        let mut conn = self.conn.clone();
        let changed: i64 = Script::new(REVOKE_GRANT)
            .key(self.grants_key(tenant, principal))
            .key(self.audit_key(tenant))
            .arg(scope.as_str())
            .arg(entry)
            .invoke_async(&mut conn)
            .await
            .map_err(map_err)?;
        Ok(changed == 1)
    }

    async fn granted_scopes(
        &self,
        tenant: &str,
        principal: &str,
    ) -> Result<Vec<ScopeGrant>, StoreError> {
        let mut conn = self.conn.clone();
        let all: Vec<(String, String)> = conn
            .hgetall(self.grants_key(tenant, principal))
            .await
            .map_err(map_err)?;
        let mut out: Vec<ScopeGrant> = all
            .into_iter()
            .filter_map(|(scope, v)| {
                let v: GrantValue = serde_json::from_str(&v).ok()?;
                Some(ScopeGrant {
                    tenant: tenant.to_owned(),
                    principal: principal.to_owned(),
                    scope,
                    granted_by: v.by,
                    granted_at: v.at,
                })
            })
            .collect();
        out.sort_by(|a, b| a.scope.as_bytes().cmp(b.scope.as_bytes()));
        Ok(out)
    }

    async fn audit_log(
        &self,
        tenant: &str,
        principal: Option<&str>,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let mut conn = self.conn.clone();
        let raw: Vec<String> = conn
            .lrange(self.audit_key(tenant), 0, -1)
            .await
            .map_err(map_err)?;
        Ok(raw
            .iter()
            .filter_map(|r| serde_json::from_str::<AuditEntry>(r).ok())
            .filter(|e| principal.is_none_or(|p| e.principal == p))
            .collect())
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
    fn lua_empty_list_reads_as_empty() {
        assert!(parse_access("{}").is_empty());
        assert_eq!(parse_access(r#"[{"jti":"a","expires_at":5}]"#).len(), 1);
    }
}
