//! The Redis stores on a Redis Cluster (3 masters with a replica each, started by
//! `scripts/test.sh`): revocations and cutoffs propagate between instances through the
//! sharded channels within the bound, the state spreads over every master, a new
//! instance loads what exists on every master, and a misconfigured prefix is refused.
//! (The conformance suite runs on the cluster too: tests/conformance.rs; a failover
//! under load: tests/redis_cluster_failover.rs.)
#![cfg(feature = "redis")]

use std::time::{Duration, Instant};

use axum_token_auth::store::redis::{RedisSettings, RedisStore};
use axum_token_auth::store::{
    RevocationCheck, RevocationStore, StoreError, SubjectRevocation, TokenDigest,
};

fn nodes() -> Vec<String> {
    std::env::var("REDIS_CLUSTER_NODES")
        .expect("REDIS_CLUSTER_NODES must list the cluster's nodes: run the tests through scripts/test.sh")
        .split(',')
        .map(str::to_owned)
        .collect()
}

fn rand_hex(n: usize) -> String {
    let mut b = vec![0u8; n];
    getrandom::fill(&mut b).unwrap();
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

async fn store(prefix: &str) -> RedisStore {
    let s = RedisStore::connect_cluster(&nodes(), RedisSettings::default().prefix(prefix))
        .await
        .expect("connect to the cluster");
    assert!(
        s.wait_for_cache(Duration::from_secs(10)).await,
        "cache never synced"
    );
    s
}

/// `DBSIZE` of every master, with the number of keys under `prefix` (`SCAN`).
async fn keys_per_master(prefix: &str) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    for node in nodes() {
        let client = redis::Client::open(format!("redis://{node}/")).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        let role: Vec<redis::Value> = redis::cmd("ROLE").query_async(&mut conn).await.unwrap();
        let is_master = matches!(role.first(), Some(redis::Value::BulkString(b)) if b == b"master");
        if !is_master {
            continue;
        }
        let mut cursor = 0u64;
        let mut n = 0;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(format!("{prefix}*"))
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut conn)
                .await
                .unwrap();
            n += keys.len();
            cursor = next;
            if cursor == 0 {
                break;
            }
        }
        out.push((node, n));
    }
    out
}

fn check<'a>(d: &'a TokenDigest, subject: &'a str, generation: Option<u64>) -> RevocationCheck<'a> {
    RevocationCheck {
        digest: d,
        subject,
        generation,
        issued_at: now() - 10,
    }
}

async fn until_revoked_now(store: &RedisStore, c: &RevocationCheck<'_>) -> Duration {
    let t0 = Instant::now();
    loop {
        match store.check_now(c) {
            Some(Ok(true)) => return t0.elapsed(),
            Some(Ok(false)) => {}
            other => panic!("the cache should be trusted and answer: {other:?}"),
        }
        assert!(
            t0.elapsed() < axum_token_auth::store::DEFAULT_MAX_STALENESS,
            "not seen by the other instance within the staleness bound"
        );
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocations_in_every_bucket_reach_another_instance_within_the_bound() {
    let prefix = format!("c{}:", rand_hex(6));
    let a = store(&prefix).await;
    let b = store(&prefix).await;
    let user = format!("u-{}", rand_hex(8));
    let mut worst = Duration::ZERO;
    // Digests whose first bytes cover all 16 buckets: every sharded channel carries one.
    for bucket in 0u8..16 {
        let mut raw = [0u8; 32];
        getrandom::fill(&mut raw).unwrap();
        raw[0] = bucket;
        let d = TokenDigest(raw);
        let c = check(&d, &user, Some(0));
        assert_eq!(b.check_now(&c), Some(Ok(false)));
        let t0 = Instant::now();
        a.revoke(d, now() + 600).await.unwrap();
        assert_eq!(a.check_now(&c), Some(Ok(true)), "the writer knows at once");
        until_revoked_now(&b, &c).await;
        worst = worst.max(t0.elapsed());
        assert!(b.is_revoked(&d).await.unwrap(), "and the cluster agrees");
    }
    println!(
        "redis cluster revocation: write + propagation to another instance, worst of 16 buckets {worst:?}"
    );
    let spread = keys_per_master(&prefix).await;
    println!("keys per master: {spread:?}");
    assert_eq!(spread.len(), 3, "three masters");
    assert!(
        spread.iter().all(|(_, n)| *n > 0),
        "16 buckets land on every master: {spread:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoke_all_reaches_another_instance_within_the_bound() {
    let prefix = format!("c{}:", rand_hex(6));
    let a = store(&prefix).await;
    let b = store(&prefix).await;
    let d = TokenDigest::of_jti(&rand_hex(16));
    let user = format!("u-{}", rand_hex(8));
    let with_gen = check(&d, &user, Some(0));
    let without_gen = check(&d, &user, None);
    assert_eq!(b.check_now(&with_gen), Some(Ok(false)));
    let t0 = Instant::now();
    assert_eq!(a.revoke_all_for(&user, now()).await.unwrap(), 1);
    until_revoked_now(&b, &with_gen).await;
    println!(
        "redis cluster revoke-all: write + propagation in {:?}",
        t0.elapsed()
    );
    assert_eq!(
        b.check_now(&without_gen),
        Some(Ok(true)),
        "the iat cutoff too"
    );
    assert!(b.check(&with_gen).await.unwrap(), "and the cluster agrees");
    let next = check(&d, &user, Some(1));
    assert_eq!(
        b.check_now(&next),
        Some(Ok(false)),
        "a new generation is fine"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_instance_loads_what_every_master_holds() {
    let prefix = format!("c{}:", rand_hex(6));
    let a = store(&prefix).await;
    let digests: Vec<TokenDigest> = (0u8..16)
        .map(|bucket| {
            let mut raw = [0u8; 32];
            getrandom::fill(&mut raw).unwrap();
            raw[0] = bucket;
            TokenDigest(raw)
        })
        .collect();
    for d in &digests {
        a.revoke(*d, now() + 600).await.unwrap();
    }
    let user = format!("u-{}", rand_hex(8));
    a.revoke_all_for(&user, now()).await.unwrap();
    let late = store(&prefix).await;
    for d in &digests {
        assert_eq!(late.is_revoked_now(d), Some(Ok(true)));
    }
    let d = TokenDigest::of_jti("other");
    assert_eq!(late.check_now(&check(&d, &user, Some(0))), Some(Ok(true)));
    assert_eq!(late.check_now(&check(&d, &user, Some(1))), Some(Ok(false)));
}

#[tokio::test]
async fn a_prefix_with_a_hash_tag_is_refused() {
    let err = RedisStore::connect_cluster(&nodes(), RedisSettings::default().prefix("{app}:"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Backend(_)), "{err:?}");
}

#[tokio::test]
async fn nodes_may_be_given_as_urls_or_host_port() {
    let urls: Vec<String> = nodes().iter().map(|n| format!("redis://{n}/")).collect();
    let s = RedisStore::connect_cluster(&urls[..1], RedisSettings::default().without_local_cache())
        .await
        .expect("one node is enough to find the others");
    let d = TokenDigest::of_jti(&rand_hex(16));
    assert!(!s.is_revoked(&d).await.unwrap());
    s.revoke(d, now() + 60).await.unwrap();
    assert!(s.is_revoked(&d).await.unwrap());
}
