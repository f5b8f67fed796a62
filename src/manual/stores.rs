//! Stores in operation: which backend keeps what, how revocations reach every instance,
//! Redis Cluster and failover, PostgreSQL, outages, and the bounds on what they hold.
//!
//! The traits and backends are in [`store`](crate::store).
//!
//! | store | feature | revocation | refresh families, sessions | scope grants + audit |
//! | --- | --- | --- | --- | --- |
//! | memory (`store::memory`, `store::grants::MemoryGrantStore`) | — | bounded map, purged as tokens expire; a per-subject quota | one mutex, atomic rotation; ended families swept by the store itself | append-only `Vec` |
//! | Redis (`store::redis::RedisStore`), one server or a Redis Cluster | `redis` | one key per revoked digest, expiring when the token can no longer be accepted (its `exp` plus the leeway); in-process cache kept current by pub/sub (sharded pub/sub on a cluster) | hash per family (listpack), rotation in one Lua script, per-user sorted set | hash per principal, list per tenant, one Lua script per change |
//! | PostgreSQL (`store::postgres::PostgresStore`) | `postgres` | table of digests, expired rows purged; in-process copy kept current by LISTEN/NOTIFY | rows locked with `SELECT … FOR UPDATE` during rotation | tables with an append-only audit log (UPDATE/DELETE refused by a trigger) |
//!
//! ```sh
//! STORE=redis REDIS_URL=redis://127.0.0.1:6379/ cargo run --example quickstart --features redis
//! STORE=redis-cluster REDIS_CLUSTER_NODES=10.0.0.1:7000,10.0.0.2:7000,10.0.0.3:7000 \
//!   cargo run --example quickstart --features redis
//! STORE=postgres DATABASE_URL=postgres://localhost/app cargo run --example quickstart --features postgres
//! # optional: POSTGRES_SCHEMA=auth keeps the tables in schema "auth"
//! ```
//!
//! With either, a refresh token issued before a restart of the quickstart still works after
//! it (keep the same `JWT_SECRET_KEY`). PostgreSQL migrations are embedded; call
//! `store.migrate().await?` at start, and `store.spawn_cleanup(every)` (or `purge_expired`)
//! to drop expired rows.
//!
//! **Scope grants.** `GrantStore::grant_scope / granted_scopes / revoke_scope / audit_log`
//! per tenant and principal, with who and when; `TokenAuth::issue_granted` refuses to issue
//! a scope that is not granted.
//!
//! # Where the tables live
//!
//! `PostgresStore::connect_with(url, PostgresSettings::default().schema("auth"))` puts every
//! table of this crate (and sqlx's `_sqlx_migrations` for them) in schema `auth`: each pooled
//! connection gets `search_path=auth`, and `migrate()` creates the schema when missing
//! (idempotent). Use it when the database already has a table of one of our names — a
//! replaced system's `revoked_tokens`, say: without a schema our first migration refuses to
//! reuse it (plain `CREATE TABLE`), with one the two live side by side and theirs is never
//! read or touched (`tests/conformance/postgres.rs` checks both). Redis has the equivalent
//! already: `RedisSettings::default().prefix("myapp:")` prefixes every key and the channel.
//!
//! # Revocation across instances
//!
//! **Redis.** Each `RedisStore` keeps the revoked digests in process memory, filled at start
//! and kept current through pub/sub (the write and the publish happen in one Lua script, so
//! no stored revocation is missed). A store trusts its cache only while it has heard the
//! channel (every store publishes a heartbeat each 500 ms) within `max_staleness` (2 s by
//! default); otherwise each check asks Redis. So a revocation made on one instance is
//! refused by every other **within 2 s in the worst case** (sub-millisecond normally), and
//! the per-request check costs no round trip.
//!
//! **PostgreSQL.** `PostgresStore::connect` does the same with LISTEN/NOTIFY: a trigger
//! (migration `20251201030000`) sends a `NOTIFY` for every row written to `revoked_tokens`
//! and to the subject cutoffs, *inside the writing transaction*, so PostgreSQL delivers it
//! when and only when the write commits, whoever wrote it (another instance, an older
//! version of this crate, plain SQL). Each store listens on one connection of its own, then
//! loads every live revocation and cutoff (warm start), sends a heartbeat every 500 ms, and
//! trusts its copy only while it has heard the channel within `max_staleness` (2 s). Past it
//! — listener connection lost, server stalled or down, triggers missing because `migrate()`
//! was not run — each check is one query again (and fails closed with the server down),
//! until the listener is back and the copy reloaded. Stores in different schemas of one
//! database use different channels. `PostgresSettings::without_local_cache()` restores a
//! query per check; `PostgresStore::from_pool` has no cache.
//!
//! **Measured** (2026-12, loopback, a busy 2-core machine). With three processes of one app
//! on one store (`tests/multi_process.rs`, from the revoking call to the other process's
//! report on its stdout; two runs): a revocation was refused by both other processes within
//! **2.6–2.8 ms on Redis, 3.6–7.7 ms on a Redis Cluster, 2.5–3.5 ms on PostgreSQL**; a
//! logout within 1.9–2.6 / 3.0–3.5 / 3.7–5.0 ms; the family revocation of a reuse detected
//! at another process within 3.2–3.7 / 4.1–4.5 / 6.1–17 ms (Redis / cluster / PostgreSQL).
//! The same test shows that three instances refreshing one token at the same instant mint
//! one successor. On PostgreSQL (`tests/it/postgres_cache.rs`): write plus propagation to a
//! second instance (another pool) 4.6 ms for a revocation and 7 ms for a revoke-everything,
//! the notification usually arriving before the writer's own call returns; with three
//! processes of one app, the two others refused the revoked token within 9 and 10 ms of the
//! revoke call.
//!
//! # Redis Cluster
//!
//! `RedisStore::connect_cluster(&["10.0.0.1:7000", …], options)` (the redis crate's async
//! cluster client, RESP3; Redis ≥ 7) gives the same store API. Every key a script touches
//! shares one hash tag and is passed in `KEYS`: per family `fam:{id}`, per user `user:{id}`,
//! per tenant `grants:{len:tenant}:…`/`audit:{len:tenant}`, and revocation state in 16
//! buckets `{r00}`…`{r15}` (`rev:{rNN}:<digest>`, `gen:{rNN}:<user>`), each with its sharded
//! channel `revoked:{rNN}` that the revoking script `SPUBLISH`es to on the same shard. Each
//! store `SSUBSCRIBE`s to the 16 channels, fills its cache by `SCAN`ning every master, and
//! trusts it only while every channel was heard within `max_staleness`; a lost node
//! connection, a channel moved by a failover or a silent channel makes it re-subscribe and
//! re-fill, with checks going to Redis meanwhile. The conformance suite runs on a 3-master
//! cluster with a replica each (`scripts/test.sh` starts it).
//!
//! **Failover.** Redis replicates asynchronously, so
//! `RedisSettings::default().wait_for_replicas(1)` makes every write wait (`WAIT`) for a
//! replica and fail with 503 otherwise: `tests/redis_cluster_failover.rs` kills a master
//! with `SIGKILL` under a write load (4 tasks) and loses none of the revocations and
//! families whose write succeeded (two runs, 2026-12: 1 146 and 1 517 committed, 33 and 32
//! writes refused during the failover; the replica was a master after 4.4–4.8 s, writes
//! succeeded on every shard again after 8.9–9.2 s, once the killed node was back as the new
//! master's replica, and another instance's cache was trusted again after 9.6–10.2 s).
//!
//! Known limit: the user index (`user:{id}`) is a second command after the family's script
//! (another slot on a cluster; the same order on one server), so a login racing "log out
//! everywhere" survives it as if it came after.
//!
//! **Upgrading.** Single-server key names and the `revoked` channel are unchanged, and
//! families written by earlier releases (JSON `access`/`prev_succ` fields) are read as they
//! are and converted at their next rotation. Upgrade every instance together (stop the old
//! ones first): an earlier release does not read the new short-field family layout. Moving
//! from one server to a cluster is a new key space (hash-tagged names): sessions and
//! revocations are not carried over.
//!
//! # When a store is down
//!
//! The refresh and logout routes answer `503` with `{"error":"temporarily_unavailable",…}`
//! and `Retry-After: 1`. The per-request revocation check fails **closed** by default (503);
//! `TokenAuthBuilder::on_store_failure(StoreFailurePolicy::FailOpen)` accepts otherwise
//! valid tokens instead (per external issuer: `Issuer::on_store_failure`). Nothing panics,
//! clients' mistakes stay 4xx, and the stores reconnect by themselves; `tests/outage.rs`
//! stops and restarts real servers to prove it, and that nothing written before the outage
//! is lost.
//!
//! ## Fail fast
//!
//! Every store `TokenAuth` and `Sessions` use is wrapped in a guard
//! ([`store::breaker::Guarded`](crate::store::breaker::Guarded), any backend, yours too): a
//! **circuit breaker** per store handle (one `Arc` given to both shares one), **per-call
//! timeouts** and a **bound on calls in flight**. After an outage (the backend reports it
//! unavailable, or a call times out) the breaker opens: the per-request check and the
//! session routes answer 503 at once, calls still waiting on the store are released, and a
//! background probe tries the store every 200 ms; its one trial (half-open) closes the
//! breaker when the store answers. Calls beyond the bound are refused at once instead of
//! queueing for a pool connection. The synchronous check of in-process stores and the Redis
//! cache is untouched (the breaker is one atomic load, and only when the cache cannot
//! answer). Configure it once:
//!
//! ```
//! use std::time::Duration;
//! use axum_token_auth::{TokenAuth, store::breaker::GuardSettings};
//! let auth = TokenAuth::builder()
//!     .hs256_secret("a-random-secret-of-at-least-32-bytes!!")
//!     .store_guard(GuardSettings::default()
//!         .check_timeout(Duration::from_millis(250))   // the per-request check (default)
//!         .call_timeout(Duration::from_millis(750))    // login, refresh, logout, revocations (default)
//!         .max_in_flight(256)                          // per store handle (default)
//!         .open_after(1)                               // consecutive outages (default)
//!         .probe_interval(Duration::from_millis(200))) // (default)
//!     .build()?;
//! # let _ = auth;
//! # Ok::<(), axum_token_auth::ConfigError>(())
//! ```
//!
//! ⚠️ **One handle, one breaker.** `Sessions` guards its refresh store with the
//! authority's `GuardSettings`, and when that store is the very handle given to
//! `revocation_store` (the same `Arc`, e.g. `Sessions::builder_shared(auth,
//! Arc::clone(&store))` after `.revocation_store(Arc::clone(&store))`) it reuses the
//! revocation store's breaker and its in-flight bound instead of making its own. An
//! outage seen on either side then opens it for both: a refresh call that times out
//! (750 ms; with the default `open_after(1)`) makes the per-request revocation checks answer 503 at once (or accept, with
//! `FailOpen`) until the probe closes it — which is right for one backend, whose outage
//! is shared anyway. Checks the local replica of the Redis or PostgreSQL store can answer
//! still pass (the breaker is consulted only when it cannot). Two handles (two `connect`s,
//! or `Sessions::builder(auth, store)`, which wraps the store in a new `Arc`) get two
//! breakers; `auth.store_breaker_state()` reports the revocation store's.
//!
//! `GuardSettings::disabled()` turns it off; `auth.store_breaker_state()` tells a health
//! endpoint where it stands; wrap a grant store with `Guarded::grants(store, &settings)`.
//! Measured by `tests/outage.rs` (2026-12, this project's 2-core machine, in-process
//! requests, 16 concurrent; before the guard a request took 2.0 s with PostgreSQL down):
//!
//! | store, outage | first refusal | 503 of the per-request check p50 / p99 | 503 of refresh p50 / p99 | login refused | recovery after it is back |
//! | --- | --- | --- | --- | --- | --- |
//! | Redis, stopped | 0.3 ms | 14 µs / 20 µs | 39 µs / 1.1 ms | 13 µs | 147 ms |
//! | Redis, frozen (SIGSTOP) | 252 ms (the check timeout) | 15 µs / 32 µs | 40 µs / 0.6 ms | 19 µs | 193 ms |
//! | PostgreSQL, stopped | 251 ms (the check timeout) | 14 µs / 42 µs | 39 µs / 0.12 ms | 17 µs | 5 ms |
//! | PostgreSQL, frozen (SIGSTOP) | 252 ms (the check timeout) | 14 µs / 18 µs | 39 µs / 0.25 ms | 19 µs | 195 ms |
//!
//! While frozen, a burst of 128 requests at once reached the store with at most 8 calls
//! (the configured bound) and was answered within 253 ms. Over real sockets against the
//! quickstart (`scripts/test.sh bash scripts/outage-quickstart.sh`, curl, debug build):
//! PostgreSQL stopped with `-m immediate`, `/me` answers 503 in 0.5 ms p50 (the first
//! request waits the 250 ms check timeout), refresh in 1 ms, and `/me` is 200 again 161 ms
//! after the server is back; Redis killed with `-9`: 0.6 ms and 119 ms.
//!
//! # Bounded state
//!
//! `MemoryRevocationStore` holds at most `capacity` (1 000 000) unexpired revocations, and
//! one subject at most its quota (`with_subject_quota`, default 64). A subject past its
//! quota — or any subject once the store is full — gets one subject-wide revocation instead
//! of another entry (every token of it issued so far is refused, its sessions end): nothing
//! is forgotten, logout never answers 503 for capacity, and one account's
//! login/refresh/reuse loop (up to 17 revocations per login) can hold 64 entries at most, so
//! filling the store takes 15 625 accounts. `MemoryRefreshStore` drops ended families itself
//! whenever the number of families has doubled (amortised O(1) per login); active families
//! live until their end (30 days) or revocation.
//!
//! Redis and PostgreSQL expire or purge (`spawn_cleanup`) rows and have no such cap; the
//! local caches of a Redis or PostgreSQL store hold 1 000 000 revocations
//! (`RedisSettings::cache_capacity`), past which checks go to the server instead of the cache
//! (one `EXISTS`, O(1) on Redis). A Redis cache that overflowed re-fills itself every few
//! heartbeats (at least 1 s apart) and is trusted again once it fits, because expired
//! entries make room (`tests/it/redis_cache.rs`: trusted again 2.1 s after an overflow); the
//! PostgreSQL copy is reloaded when its listener is re-established (a warm start reads the
//! table in pages of 10 000 rows). The per-request check of a trusted cache stays O(1): one
//! hash lookup and one atomic load per channel (16 on a cluster). In Redis one revocation is
//! a small string key with an expiry: 181 B (`used_memory` over 100 000 keys named as on a
//! cluster, Redis 7.0), so 1 M live revocations ≈ 180 MB, spread over the masters of a
//! cluster by the 16 buckets; in process at most ≈ 90 MB for the 1 M of a full cache.
//!
//! **DPoP proof ids** (`ProofReplay`) live only for a proof's window. The memory backend
//! holds at most its capacity (100 000 by default) and refuses a new proof with 503 when
//! full; Redis keeps one key per id, `SET … NX EXAT`, expiring by itself: 88 B by `MEMORY
//! USAGE`, 133 B of `used_memory` per id over 100 000 (Redis 7.0), so 1 000 DPoP
//! requests a second with a 60 s window hold ≈ 8 MB; PostgreSQL keeps one row per id
//! (≈ 121 B with its indexes), reused in place when expired and deleted in bounded
//! batches every 512 proofs and by `purge_expired`. Behind the breaker
//! (`Guarded::replay`) a store that is down answers in 0.3 ms (stopped) or the check
//! timeout (frozen), then at once.
//!
//! **Redis memory per session.** One active session (a hash per family) costs **472 B at
//! login and 984 B after five refreshes** (`MEMORY USAGE` on Redis 7.0, measured by
//! `tests/it/redis_cache.rs` with a 101-byte Chrome user agent; earlier releases: 984–1 048 B
//! and 1 912 B). The hash stays in `listpack` encoding under the default
//! `hash-max-listpack-value` (64 bytes) because every value is short: one field `a:<jti>`
//! per live access token of the family (six after five quick refreshes, ≈ 40 B each; one or
//! two when clients refresh as access tokens expire), five fields for the successor kept for
//! the grace window, and long texts (user agent, device) in 64-byte pieces. The ≤ 400 B goal
//! is met at login, not after refreshes: the previous refresh digest and the successor kept
//! for the grace window (≈ 250 B) and each live access token are what a rotation needs;
//! binary digests would save another ≈ 100 B (not done). A user id longer than 64 bytes
//! makes the hash a `hashtable` again.
