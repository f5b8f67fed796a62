//! The Redis revocation cache: revocations propagate between instances within the bound,
//! and a store whose cache is not trusted asks Redis.
#![cfg(feature = "redis")]

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum_token_auth::store::redis::{RedisOptions, RedisStore};
use axum_token_auth::store::{RevocationStore, TokenDigest};
use axum_token_auth::{NoCustomClaims, TokenAuth, TokenRequest};

fn redis_url() -> String {
    std::env::var("REDIS_URL")
        .expect("REDIS_URL must point at a Redis server: run the tests through scripts/test.sh")
}

fn unique_prefix() -> String {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).unwrap();
    format!(
        "t{}:",
        b.iter().map(|x| format!("{x:02x}")).collect::<String>()
    )
}

fn exp_in(secs: u64) -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + secs
}

async fn store(prefix: &str) -> RedisStore {
    let s = RedisStore::connect_with(&redis_url(), RedisOptions::default().prefix(prefix))
        .await
        .expect("connect to redis");
    assert!(
        s.wait_for_cache(Duration::from_secs(5)).await,
        "cache never synced"
    );
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_on_one_instance_reaches_the_other_within_the_bound() {
    let prefix = unique_prefix();
    let a = store(&prefix).await;
    let b = store(&prefix).await;
    let d = TokenDigest::of_jti("propagates");
    assert_eq!(b.is_revoked_now(&d), Some(Ok(false)));
    let t0 = Instant::now();
    a.revoke(d, exp_in(600)).await.unwrap();
    // The writer's own cache knows at once.
    assert_eq!(a.is_revoked_now(&d), Some(Ok(true)));
    loop {
        if b.is_revoked_now(&d) == Some(Ok(true)) {
            break;
        }
        assert!(
            t0.elapsed() < RedisOptions::default().max_staleness,
            "revocation not seen by the other instance within the staleness bound"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    println!("propagated in {:?}", t0.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_instance_loads_existing_revocations_before_trusting_its_cache() {
    let prefix = unique_prefix();
    let a = store(&prefix).await;
    let d = TokenDigest::of_jti("before-start");
    a.revoke(d, exp_in(600)).await.unwrap();
    let late = store(&prefix).await;
    assert_eq!(late.is_revoked_now(&d), Some(Ok(true)));
    assert!(late.is_revoked(&d).await.unwrap());
}

#[tokio::test]
async fn without_cache_every_check_asks_redis() {
    let prefix = unique_prefix();
    let s = RedisStore::connect_with(
        &redis_url(),
        RedisOptions::default()
            .prefix(&prefix)
            .without_local_cache(),
    )
    .await
    .unwrap();
    let d = TokenDigest::of_jti("no-cache");
    assert_eq!(
        s.is_revoked_now(&d),
        None,
        "no cache: no synchronous answer"
    );
    assert!(!s.is_revoked(&d).await.unwrap());
    s.revoke(d, exp_in(600)).await.unwrap();
    assert!(s.is_revoked(&d).await.unwrap());
}

#[tokio::test]
async fn expired_tokens_are_not_stored_and_entries_expire_with_the_token() {
    let prefix = unique_prefix();
    let s = store(&prefix).await;
    let d = TokenDigest::of_jti("short");
    s.revoke(d, exp_in(0)).await.unwrap();
    assert!(!s.is_revoked(&d).await.unwrap());
    s.revoke(d, exp_in(2)).await.unwrap();
    assert!(s.is_revoked(&d).await.unwrap());
    tokio::time::sleep(Duration::from_millis(3100)).await;
    assert!(!s.is_revoked(&d).await.unwrap(), "redis expired the key");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_revoked_through_one_auth_is_refused_by_another() {
    let prefix = unique_prefix();
    let secret = "0123456789abcdefghijklmnopqrstuvwxyzABCDEF";
    let a = TokenAuth::builder()
        .hs256_secret(secret)
        .revocation_store(Arc::new(store(&prefix).await))
        .build()
        .unwrap();
    let b = TokenAuth::builder()
        .hs256_secret(secret)
        .revocation_store(Arc::new(store(&prefix).await))
        .build()
        .unwrap();
    let t = a.issue_access(&TokenRequest::new("alice")).unwrap();
    assert!(b.validate::<NoCustomClaims>(t.as_str()).await.is_ok());
    a.revoke(t.as_str()).await.unwrap();
    let t0 = Instant::now();
    while b.validate::<NoCustomClaims>(t.as_str()).await.is_ok() {
        assert!(t0.elapsed() < Duration::from_secs(2), "not refused in time");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Measures what one active session costs in Redis after several refreshes (printed, and
/// asserted to stay under the measured figure plus a margin, so a regression shows).
///
/// The family hash is not in listpack encoding: the `access` list (JSON, one entry per
/// live access token), the successor kept for the grace window (JSON) and a real
/// browser's user agent are each longer than `hash-max-listpack-value` (64 bytes), so
/// Redis keeps a hashtable. Measured (Redis 7.0): 984–1048 B at login, 1912 B after five
/// refreshes (the access list holds every live access token of the family); with
/// `hash-max-listpack-value 512` a listpack of 1368 B. Issue 12 item 3 (short fields,
/// listpack under the default setting) is not done; this test pins today's figures.
#[tokio::test]
async fn one_active_session_costs_what_was_measured_in_redis_memory() {
    use axum_token_auth::{Sessions, TokenRequest};
    let prefix = unique_prefix();
    let store = Arc::new(store(&prefix).await);
    let auth = TokenAuth::builder()
        .hs256_secret("0123456789abcdefghijklmnopqrstuvwxyzABCDEF")
        .revocation_store(store.clone())
        .build()
        .unwrap();
    let sessions = Sessions::builder_shared(auth, store.clone())
        .build()
        .unwrap();
    let ua = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
    let login = sessions
        .login(&TokenRequest::new("alice"), Some(ua))
        .await
        .unwrap();
    let at_login = store
        .family_memory_usage(&login.family_id)
        .await
        .unwrap()
        .unwrap();
    let mut refresh = login.pair.refresh.clone();
    for _ in 0..5 {
        let next = sessions.refresh(refresh.as_str(), None).await.unwrap();
        refresh = next.pair.refresh;
    }
    let after = store
        .family_memory_usage(&login.family_id)
        .await
        .unwrap()
        .unwrap();
    let client = redis::Client::open(redis_url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let encoding: String = redis::cmd("OBJECT")
        .arg("ENCODING")
        .arg(format!("{prefix}fam:{}", login.family_id))
        .query_async(&mut conn)
        .await
        .unwrap();
    println!(
        "redis bytes per session: {at_login} at login, {after} after 5 refreshes ({encoding})"
    );
    // 984 or 1048 B between runs (the hashtable's growth); 1912 B after the refreshes.
    assert!(at_login <= 1152, "{at_login} bytes at login");
    assert!(after <= 2048, "{after} bytes after 5 refreshes");

    // The server knob that keeps such a hash a listpack: hash-max-listpack-value 512
    // (restored afterwards; it only changes how Redis encodes new writes).
    let (_, before): (String, String) = redis::cmd("CONFIG")
        .arg("GET")
        .arg("hash-max-listpack-value")
        .query_async(&mut conn)
        .await
        .unwrap();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("hash-max-listpack-value")
        .arg(512)
        .query_async(&mut conn)
        .await
        .unwrap();
    let login = sessions
        .login(&TokenRequest::new("bob"), Some(ua))
        .await
        .unwrap();
    let mut refresh = login.pair.refresh.clone();
    for _ in 0..5 {
        refresh = sessions
            .refresh(refresh.as_str(), None)
            .await
            .unwrap()
            .pair
            .refresh;
    }
    let packed = store
        .family_memory_usage(&login.family_id)
        .await
        .unwrap()
        .unwrap();
    let packed_encoding: String = redis::cmd("OBJECT")
        .arg("ENCODING")
        .arg(format!("{prefix}fam:{}", login.family_id))
        .query_async(&mut conn)
        .await
        .unwrap();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("hash-max-listpack-value")
        .arg(&before)
        .query_async(&mut conn)
        .await
        .unwrap();
    println!(
        "with hash-max-listpack-value 512: {packed} bytes after 5 refreshes ({packed_encoding})"
    );
    assert_eq!(packed_encoding, "listpack");
    assert!(packed < after, "{packed} bytes");
}

/// A cache that cannot hold another revocation stops being trusted (checks go to Redis,
/// which still answers right), and is trusted again by itself once expired entries make
/// room: it re-fills from Redis without waiting for the subscription to drop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cache_that_overflowed_refills_itself_once_entries_expire() {
    let prefix = unique_prefix();
    let writer = store(&prefix).await;
    let small = RedisStore::connect_with(
        &redis_url(),
        RedisOptions::default()
            .prefix(&prefix)
            .cache_capacity(4)
            .max_staleness(Duration::from_millis(400)),
    )
    .await
    .unwrap();
    assert!(small.wait_for_cache(Duration::from_secs(5)).await);
    let long: Vec<TokenDigest> = (0..3)
        .map(|i| TokenDigest::of_jti(&format!("long-{i}")))
        .collect();
    let short: Vec<TokenDigest> = (0..3)
        .map(|i| TokenDigest::of_jti(&format!("short-{i}")))
        .collect();
    for d in &long {
        writer.revoke(*d, exp_in(600)).await.unwrap();
    }
    for d in &short {
        writer.revoke(*d, exp_in(2)).await.unwrap();
    }
    // Six revocations, room for four: no longer trusted, and Redis answers instead.
    let t0 = Instant::now();
    while small.cache_is_fresh() {
        assert!(
            t0.elapsed() < Duration::from_secs(2),
            "the overflow went unnoticed"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(
        small.is_revoked_now(&long[2]),
        None,
        "no answer from a cache not trusted"
    );
    assert!(small.is_revoked(&long[2]).await.unwrap());
    // The short ones expire (in Redis and in the copy): the copy re-fills and is trusted.
    assert!(
        small.wait_for_cache(Duration::from_secs(8)).await,
        "the cache never re-filled after entries expired"
    );
    println!(
        "re-filled and trusted again {:?} after the overflow",
        t0.elapsed()
    );
    for d in &long {
        assert_eq!(small.is_revoked_now(d), Some(Ok(true)));
    }
    for d in &short {
        assert_eq!(small.is_revoked_now(d), Some(Ok(false)), "expired");
    }
}
