//! The Redis revocation cache: revocations propagate between instances within the bound,
//! and a store whose cache is not trusted asks Redis.
#![cfg(feature = "redis")]

use axum_token_auth::trust::TokenCheck;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum_token_auth::store::redis::{RedisSettings, RedisStore};
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
    let s = RedisStore::connect_with(&redis_url(), RedisSettings::default().prefix(prefix))
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
            t0.elapsed() < axum_token_auth::store::DEFAULT_MAX_STALENESS,
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
        RedisSettings::default()
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
    assert!(
        b.validate::<NoCustomClaims>(t.as_str(), TokenCheck::ACCESS)
            .await
            .is_ok()
    );
    a.revoke(t.as_str()).await.unwrap();
    let t0 = Instant::now();
    while b
        .validate::<NoCustomClaims>(t.as_str(), TokenCheck::ACCESS)
        .await
        .is_ok()
    {
        assert!(t0.elapsed() < Duration::from_secs(2), "not refused in time");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Measures what one active session costs in Redis after several refreshes (printed, and
/// asserted to stay under the measured figure plus a margin, so a regression shows), and
/// that the family hash stays a listpack under Redis's default settings: every value is
/// at most 64 bytes (`hash-max-listpack-value`): one field per known access token, five
/// for the successor kept for the grace window, long texts (a real browser's user agent)
/// in 64-byte pieces. Measured (Redis 7.0, 101-byte Chrome user agent): 472 B at login,
/// 984 B after five refreshes (six live access tokens), both listpack; the JSON-field
/// layout of earlier releases took 984–1 048 B and 1 912 B (hashtable).
#[tokio::test]
async fn one_active_session_stays_a_listpack_and_costs_what_was_measured() {
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
    let id = &login.session_id;
    let at_login = store.session_memory_usage(id).await.unwrap().unwrap();
    let encoding_at_login = store.session_encoding(id).await.unwrap().unwrap();
    let mut refresh = login.pair.refresh.clone();
    for _ in 0..5 {
        let next = sessions.refresh(refresh.as_str(), None).await.unwrap();
        refresh = next.pair.refresh;
    }
    let after = store.session_memory_usage(id).await.unwrap().unwrap();
    let encoding = store.session_encoding(id).await.unwrap().unwrap();
    println!(
        "redis bytes per session: {at_login} at login ({encoding_at_login}), {after} after 5 refreshes ({encoding})"
    );
    assert_eq!(encoding_at_login, "listpack");
    assert_eq!(encoding, "listpack");
    assert!(at_login <= 512, "{at_login} bytes at login");
    assert!(after <= 1024, "{after} bytes after 5 refreshes");
    // The session reads back whole (the user agent was stored in pieces).
    let listed = sessions.list("alice").await.unwrap();
    let s = listed.iter().find(|s| &s.id == id).unwrap();
    assert_eq!(s.user_agent.as_deref(), Some(ua));
}

/// A family written by an earlier release (one JSON `access` field, one JSON
/// `prev_succ` field, the user agent whole) is read as it is: listed, retried within the
/// grace window, rotated (and converted to the short-field layout then), and its access
/// tokens are all returned when it is revoked.
#[tokio::test]
async fn a_family_in_the_earlier_layout_is_read_rotated_and_converted() {
    use axum_token_auth::store::{RefreshStore, RotateOutcome, Rotation, Successor};
    let prefix = unique_prefix();
    let s = store(&prefix).await;
    let client = redis::Client::open(redis_url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let now = exp_in(0);
    let ua = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
    let prev = TokenDigest::of_jti("rt-0").to_hex();
    let cur = TokenDigest::of_jti("rt-1").to_hex();
    let prev_succ = format!(
        r#"{{"refresh_jti":"rt-1","access_jti":"at-1","issued_at":{now},"refresh_expires_at":{},"access_expires_at":{}}}"#,
        now + 3600,
        now + 600
    );
    let access = format!(
        r#"[{{"jti":"at-0","expires_at":{}}},{{"jti":"at-1","expires_at":{}}}]"#,
        now + 500,
        now + 600
    );
    let key = format!("{prefix}fam:old");
    let _: () = redis::cmd("HSET")
        .arg(&key)
        .arg(&[
            ("user", "alice"),
            ("created", &now.to_string()),
            ("last_used", &now.to_string()),
            ("expires", &(now + 3600).to_string()),
            ("ua", ua),
            ("dev", ""),
            ("ip", ""),
            ("cur", &cur),
            ("cur_access", "at-1"),
            ("prev", &prev),
            ("prev_access", "at-0"),
            ("prev_rotated", &now.to_string()),
            ("prev_succ", &prev_succ),
            ("prev_succ_digest", &cur),
            ("access", &access),
        ])
        .query_async(&mut conn)
        .await
        .unwrap();
    let _: () = redis::cmd("ZADD")
        .arg(format!("{prefix}user:alice"))
        .arg(now)
        .arg("old")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        s.session_encoding("old").await.unwrap().as_deref(),
        Some("hashtable")
    );

    let listed = s.list_sessions("alice", now).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].user_agent.as_deref(), Some(ua));
    assert_eq!(listed[0].device, None);

    let successor = |r: &str, a: &str| Successor {
        refresh_jti: r.into(),
        access_jti: a.into(),
        issued_at: now,
        refresh_expires_at: now + 3600,
        access_expires_at: now + 700,
    };
    let rotation = |presented: &str, succ: Successor| Rotation {
        session_id: "old".into(),
        presented: TokenDigest::of_jti(presented),
        successor: succ,
        now,
        grace_secs: 10,
        presented_access: None,
    };
    // The parent within the grace window: the successor kept in the old JSON field.
    let retried = s
        .rotate(rotation("rt-0", successor("rt-x", "at-x")))
        .await
        .unwrap();
    let RotateOutcome::Retry(kept) = retried else {
        panic!("{retried:?}")
    };
    assert_eq!(
        (kept.refresh_jti.as_str(), kept.access_jti.as_str()),
        ("rt-1", "at-1")
    );
    // The current token rotates; the family moves to the short-field layout.
    let next = successor("rt-2", "at-2");
    assert_eq!(
        s.rotate(rotation("rt-1", next.clone())).await.unwrap(),
        RotateOutcome::Rotated(next.clone())
    );
    let mut raw: Vec<String> = redis::cmd("HKEYS")
        .arg(&key)
        .query_async(&mut conn)
        .await
        .unwrap();
    raw.sort();
    assert!(
        !raw.contains(&"access".to_owned()) && !raw.contains(&"prev_succ".to_owned()),
        "{raw:?}"
    );
    assert!(
        raw.contains(&"a:at-0".to_owned()) && raw.contains(&"a:at-2".to_owned()),
        "{raw:?}"
    );
    // Retried now from the short fields.
    assert_eq!(
        s.rotate(rotation("rt-1", successor("rt-y", "at-y")))
            .await
            .unwrap(),
        RotateOutcome::Retry(next)
    );
    let mut known: Vec<String> = s
        .revoke_session("old")
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.jti)
        .collect();
    known.sort();
    assert_eq!(known, ["at-0", "at-1", "at-2"]);
    assert!(s.list_sessions("alice", now).await.unwrap().is_empty());
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
        RedisSettings::default()
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

/// A DPoP proof id is one small key, `<prefix>dpop:<22 base64url characters>` = `1`,
/// expiring exactly at the end of the proof's window; its size is printed (the figure in
/// the `ProofReplay for RedisStore` docs).
#[tokio::test]
async fn a_proof_id_is_one_small_key_expiring_with_its_window() {
    use axum_token_auth::store::{ProofId, ProofReplay};
    let s = RedisStore::connect_with(&redis_url(), RedisSettings::default().without_local_cache())
        .await
        .unwrap();
    let id = ProofId::of(&unique_prefix(), "jti");
    let until = exp_in(60);
    assert!(s.first_use(&id, until).await.unwrap());
    assert!(!s.first_use(&id, until).await.unwrap());
    let key = format!("tokenauth:dpop:{}", id.short_key());
    let client = redis::Client::open(redis_url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let (value, expires): (String, u64) = redis::pipe()
        .get(&key)
        .cmd("EXPIRETIME")
        .arg(&key)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!((value.as_str(), expires), ("1", until));
    let bytes = s.proof_memory_usage(&id).await.unwrap().unwrap();
    println!("redis bytes per DPoP proof id (MEMORY USAGE): {bytes}");
    assert!(bytes <= 96, "{bytes} bytes");
    let unknown = ProofId::of(&unique_prefix(), "jti");
    assert_eq!(s.proof_memory_usage(&unknown).await.unwrap(), None);
}
