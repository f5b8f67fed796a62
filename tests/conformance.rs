//! Store conformance: the same checks (tests/conformance/suite.rs) against every store.
//!
//! - in-memory stores: always;
//! - PostgreSQL (feature `postgres`): against `DATABASE_URL`, which must be set (run
//!   `scripts/test.sh cargo test --features postgres --test conformance`); the checks
//!   use random ids, so they run in parallel on one database without cleaning it. Three
//!   times: with the revocation cache (default), without it, and in a schema of its own.
//!
//! - Redis (feature `redis`): on one server (`REDIS_URL`) and on a Redis Cluster
//!   (`REDIS_CLUSTER_NODES`, 3 masters with a replica each), both started by
//!   `scripts/test.sh`;
//! - the in-memory stores behind the circuit breaker (`store::breaker::Guarded`), which
//!   must behave as the stores it wraps (the DPoP replay checks also run every store
//!   behind its breaker).
//!
//! Another store is one more `conformance_suite!(name, open: …, reopen: …)` line.

#[macro_use]
#[path = "conformance/suite.rs"]
mod suite;
#[cfg(feature = "postgres")]
#[path = "conformance/postgres.rs"]
mod postgres;
/// The DPoP replay cache's checks.
#[path = "conformance/replay.rs"]
mod replay;
/// The table of rotation cases (also run against the pure decision inside the crate).
#[path = "conformance/rotation_cases.rs"]
mod rotation_cases;

/// Redis (feature `redis`): against `REDIS_URL`, under one random key prefix per run (the
/// checks use random ids); a second handle is a second connection with its own
/// revocation cache (= a second instance).
#[cfg(feature = "redis")]
mod redis_stores {
    use std::sync::OnceLock;
    use std::time::Duration;

    use axum_token_auth::store::redis::{RedisSettings, RedisStore};

    use crate::suite::{Stores, uid};

    fn prefix() -> &'static str {
        static PREFIX: OnceLock<String> = OnceLock::new();
        PREFIX.get_or_init(|| format!("conformance-{}:", uid("run")))
    }

    pub async fn open() -> Stores {
        let url = std::env::var("REDIS_URL").expect(
            "REDIS_URL is not set: run `scripts/test.sh cargo test --features redis --test conformance`",
        );
        let store = RedisStore::connect_with(&url, RedisSettings::default().prefix(prefix()))
            .await
            .expect("connect to REDIS_URL");
        assert!(
            store.wait_for_cache(Duration::from_secs(5)).await,
            "cache never synced"
        );
        Stores::all(store)
    }

    /// The same stores on the Redis Cluster of `REDIS_CLUSTER_NODES` (3 masters, 3
    /// replicas, started by scripts/test.sh).
    pub async fn open_cluster() -> Stores {
        let nodes = std::env::var("REDIS_CLUSTER_NODES").expect(
            "REDIS_CLUSTER_NODES is not set: run `scripts/test.sh cargo test --features redis --test conformance`",
        );
        let nodes: Vec<&str> = nodes.split(',').collect();
        let store = RedisStore::connect_cluster(&nodes, RedisSettings::default().prefix(prefix()))
            .await
            .expect("connect to REDIS_CLUSTER_NODES");
        assert!(store.is_cluster());
        assert!(
            store.wait_for_cache(Duration::from_secs(10)).await,
            "cache never synced"
        );
        Stores::all(store)
    }
}

use std::sync::Arc;

use axum_token_auth::store;
use axum_token_auth::store::breaker::{GuardSettings, Guarded};
use axum_token_auth::store::grants::MemoryGrantStore;
use axum_token_auth::store::memory::{MemoryRefreshStore, MemoryRevocationStore};
use axum_token_auth::store::replay::MemoryProofReplay;
use suite::Stores;

/// Fresh in-memory stores; a second handle is a clone (one process, one state).
async fn open_memory() -> Stores {
    Stores {
        refresh: Arc::new(MemoryRefreshStore::new()),
        revocation: Arc::new(MemoryRevocationStore::default()),
        grants: Arc::new(MemoryGrantStore::new()),
        replay: Arc::new(MemoryProofReplay::default()),
    }
}

/// The in-memory stores behind the circuit breaker: it must behave as the stores it
/// wraps (the traits have no default methods, so a forgotten one does not compile).
async fn open_guarded() -> Stores {
    let settings = GuardSettings::default();
    Stores {
        refresh: Arc::new(Guarded::refresh(
            Arc::new(MemoryRefreshStore::new()),
            &settings,
        )),
        revocation: Arc::new(Guarded::revocation(
            Arc::new(MemoryRevocationStore::default()),
            &settings,
        )),
        grants: Arc::new(Guarded::grants(
            Arc::new(MemoryGrantStore::new()),
            &settings,
        )),
        replay: Arc::new(Guarded::replay(
            Arc::new(MemoryProofReplay::default()),
            &settings,
        )),
    }
}

conformance_suite!(
    guarded_memory,
    open: open_guarded(),
    reopen: |s: &Stores| {
        let s = s.clone();
        async move { s }
    },
);

#[cfg(feature = "redis")]
conformance_suite!(
    redis,
    open: redis_stores::open(),
    reopen: |_: &Stores| redis_stores::open(),
);

#[cfg(feature = "redis")]
conformance_suite!(
    redis_cluster,
    open: redis_stores::open_cluster(),
    reopen: |_: &Stores| redis_stores::open_cluster(),
);

conformance_suite!(
    memory,
    open: open_memory(),
    reopen: |s: &Stores| {
        let s = s.clone();
        async move { s }
    },
);

#[cfg(feature = "postgres")]
conformance_suite!(
    postgres_store,
    open: postgres::open(),
    // A second pool: another instance over the same database.
    reopen: |_: &Stores| postgres::open(),
);

#[cfg(feature = "postgres")]
conformance_suite!(
    postgres_uncached,
    open: postgres::open_uncached(),
    reopen: |_: &Stores| postgres::open_uncached(),
);

#[cfg(feature = "postgres")]
conformance_suite!(
    postgres_in_schema,
    open: postgres::open_in_schema(),
    reopen: |_: &Stores| postgres::open_in_schema(),
);
