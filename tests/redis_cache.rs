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

/// Measures what one session costs in Redis (reported by the test output; asserted to
/// stay small so a regression shows).
#[tokio::test]
async fn one_session_costs_under_two_kilobytes_of_redis_memory() {
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
    let login = sessions
        .login(
            &TokenRequest::new("alice"),
            Some("Mozilla/5.0 (X11; Linux x86_64)"),
        )
        .await
        .unwrap();
    let at_login = store
        .family_memory_usage(&login.family_id)
        .await
        .unwrap()
        .unwrap();
    let next = sessions
        .refresh(login.pair.refresh.as_str(), None)
        .await
        .unwrap();
    let after_refresh = store
        .family_memory_usage(&next.family_id)
        .await
        .unwrap()
        .unwrap();
    println!("redis bytes per session: {at_login} at login, {after_refresh} after a refresh");
    assert!(at_login < 1024, "{at_login} bytes");
    assert!(after_refresh < 2048, "{after_refresh} bytes");
}
