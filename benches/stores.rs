//! Refresh throughput and revocation checks per store, measured in one run.
//!
//! * `refresh/<store>`: one `Sessions::refresh` (verify the refresh token, atomic rotation
//!   in the store, sign the successor pair), chained so every call rotates the current
//!   token of a family.
//! * `revocation_check/<store>`: the per-request check of the layer for a token that is
//!   not revoked: `check_now` when the store answers in process (memory, the Redis and
//!   PostgreSQL caches), else the awaited `check` (one round trip: `postgres_query`, a
//!   store without its cache).
//!
//! Memory always; Redis and PostgreSQL with their features, against `REDIS_URL` and
//! `DATABASE_URL` (run `scripts/test.sh cargo bench --bench stores --all-features`, which
//! starts both on loopback).

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use axum_token_auth::store::memory::{MemoryRefreshStore, MemoryRevocationStore};
use axum_token_auth::store::{RefreshStore, RevocationCheck, SubjectRevocation, TokenDigest};
use axum_token_auth::{Sessions, TokenAuth, TokenRequest};
use criterion::{Criterion, criterion_group, criterion_main};
use tokio::runtime::Runtime;

const SECRET: &str = "bench-only-secret-0123456789-abcdefghijklmnopqrstuvwxyz";

type Stores = (Arc<dyn SubjectRevocation>, Arc<dyn RefreshStore>);

fn stores(rt: &Runtime) -> Vec<(&'static str, Stores)> {
    #[cfg_attr(not(any(feature = "redis", feature = "postgres")), allow(unused_mut))]
    let mut out: Vec<(&'static str, Stores)> = vec![(
        "memory",
        (
            Arc::new(MemoryRevocationStore::default()),
            Arc::new(MemoryRefreshStore::new()),
        ),
    )];
    #[cfg(feature = "redis")]
    {
        let url = std::env::var("REDIS_URL")
            .expect("REDIS_URL: run through scripts/test.sh (see the file header)");
        let redis = rt.block_on(async {
            let s = axum_token_auth::store::redis::RedisStore::connect(&url)
                .await
                .unwrap();
            assert!(s.wait_for_cache(Duration::from_secs(5)).await);
            Arc::new(s)
        });
        out.push(("redis", (redis.clone(), redis)));
    }
    #[cfg(feature = "postgres")]
    {
        let url = std::env::var("DATABASE_URL")
            .expect("DATABASE_URL: run through scripts/test.sh (see the file header)");
        use axum_token_auth::store::postgres::{PostgresSettings, PostgresStore};
        let (pg, pg_query) = rt.block_on(async {
            let s = PostgresStore::connect(&url).await.unwrap();
            s.migrate().await.unwrap();
            assert!(s.wait_for_cache(Duration::from_secs(10)).await);
            let q = PostgresStore::connect_with(
                &url,
                PostgresSettings::default().without_local_cache(),
            )
            .await
            .unwrap();
            (Arc::new(s), Arc::new(q))
        });
        out.push(("postgres", (pg.clone(), pg)));
        out.push(("postgres_query", (pg_query.clone(), pg_query)));
    }
    let _ = rt;
    out
}

fn bench(c: &mut Criterion) {
    // One thread, as a per-core server runs it (a multi-thread runtime adds cross-thread
    // wake-ups to every await of the benchmark loop).
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let all = stores(&rt);

    let mut g = c.benchmark_group("refresh");
    g.warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20);
    for (name, (revocation, refresh)) in &all {
        let auth = TokenAuth::builder()
            .hs256_secret(SECRET)
            .revocation_store(Arc::clone(revocation))
            .build()
            .unwrap();
        let sessions = Sessions::builder_shared(auth, Arc::clone(refresh))
            .build()
            .unwrap();
        let login = rt
            .block_on(sessions.login(&TokenRequest::new("bench"), None))
            .unwrap();
        let current = std::sync::Mutex::new(login.pair.refresh.into_string());
        g.bench_function(*name, |b| {
            b.to_async(&rt).iter(|| async {
                let token = current.lock().unwrap().clone();
                let next = sessions.refresh(&token, None).await.unwrap();
                *current.lock().unwrap() = next.pair.refresh.into_string();
            })
        });
    }
    g.finish();

    let mut g = c.benchmark_group("revocation_check");
    g.warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20);
    for (name, (revocation, _)) in &all {
        let digest = TokenDigest::of_jti("not-revoked");
        g.bench_function(*name, |b| {
            b.to_async(&rt).iter(|| async {
                let check = RevocationCheck {
                    digest: &digest,
                    subject: "bench",
                    generation: Some(0),
                    issued_at: 0,
                };
                let revoked = match revocation.check_now(&check) {
                    Some(r) => r,
                    None => revocation.check(&check).await,
                };
                black_box(revoked.unwrap())
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().without_plots();
    targets = bench
}
criterion_main!(benches);
