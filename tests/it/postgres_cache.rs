//! The PostgreSQL revocation cache: revocations and cutoffs propagate between instances
//! (two pools) within the bound, a new instance loads what exists, a lost listener makes
//! checks go to the database until the copy is re-filled, and a database without the
//! notifying triggers is never trusted.
#![cfg(feature = "postgres")]

use axum_token_auth::trust::TokenCheck;
use std::time::{Duration, Instant};

use axum_token_auth::store::postgres::{PostgresSettings, PostgresStore};
use axum_token_auth::store::{RevocationCheck, RevocationStore, SubjectRevocation, TokenDigest};

fn database_url() -> String {
    std::env::var("DATABASE_URL").expect(
        "DATABASE_URL must point at a PostgreSQL server: run the tests through scripts/test.sh",
    )
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

async fn store_with(options: PostgresSettings) -> PostgresStore {
    let s = PostgresStore::connect_with(&database_url(), options)
        .await
        .expect("connect to DATABASE_URL");
    s.migrate().await.expect("migrate");
    assert!(
        s.wait_for_cache(Duration::from_secs(10)).await,
        "cache never synced"
    );
    s
}

async fn store() -> PostgresStore {
    store_with(PostgresSettings::default()).await
}

fn check<'a>(d: &'a TokenDigest, subject: &'a str, generation: Option<u64>) -> RevocationCheck<'a> {
    RevocationCheck {
        digest: d,
        subject,
        generation,
        issued_at: now() - 10,
    }
}

/// Polls `check_now` until it says revoked (within the staleness bound).
async fn until_revoked_now(store: &PostgresStore, c: &RevocationCheck<'_>) {
    let t0 = Instant::now();
    loop {
        match store.check_now(c) {
            Some(Ok(true)) => return,
            Some(Ok(false)) => {}
            other => panic!("the cache should be trusted and answer: {other:?}"),
        }
        assert!(
            t0.elapsed() < axum_token_auth::store::DEFAULT_MAX_STALENESS,
            "not seen by the other instance within the staleness bound"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_through_one_instance_reaches_the_other_within_the_bound() {
    let a = store().await;
    let b = store().await;
    let d = TokenDigest::of_jti(&rand_hex(16));
    let user = format!("u-{}", rand_hex(8));
    let c = check(&d, &user, Some(0));
    assert_eq!(a.check_now(&c), Some(Ok(false)));
    assert_eq!(b.check_now(&c), Some(Ok(false)));

    let t0 = Instant::now();
    a.revoke(d, now() + 600).await.unwrap();
    // The writer's own copy knows at once.
    assert_eq!(a.check_now(&c), Some(Ok(true)));
    until_revoked_now(&b, &c).await;
    println!(
        "postgres revocation: write + propagation to another instance in {:?}",
        t0.elapsed()
    );
    assert!(b.check(&c).await.unwrap(), "and the database agrees");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoke_all_through_one_instance_reaches_the_other_within_the_bound() {
    let a = store().await;
    let b = store().await;
    let d = TokenDigest::of_jti(&rand_hex(16));
    let user = format!("u-{}", rand_hex(8));
    let with_gen = check(&d, &user, Some(0));
    let without_gen = check(&d, &user, None);
    assert_eq!(b.check_now(&with_gen), Some(Ok(false)));
    assert_eq!(b.check_now(&without_gen), Some(Ok(false)));

    let t0 = Instant::now();
    let generation = a.revoke_all_for(&user, now()).await.unwrap();
    assert_eq!(generation, 1);
    assert_eq!(a.check_now(&with_gen), Some(Ok(true)));
    until_revoked_now(&b, &with_gen).await;
    println!(
        "postgres revoke-all: write + propagation to another instance in {:?}",
        t0.elapsed()
    );
    assert_eq!(
        b.check_now(&without_gen),
        Some(Ok(true)),
        "the iat cutoff too"
    );
    // A token of the new generation is not revoked.
    assert_eq!(b.check_now(&check(&d, &user, Some(1))), Some(Ok(false)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_by_plain_sql_reaches_the_cache() {
    // Whoever writes (another service, an older version, a console): the trigger tells.
    let s = store().await;
    let d = TokenDigest::of_jti(&rand_hex(16));
    let user = format!("u-{}", rand_hex(8));
    sqlx::query("INSERT INTO revoked_tokens (digest, expires_at) VALUES ($1, $2)")
        .bind(&d.0[..])
        .bind((now() + 600) as i64)
        .execute(s.pool())
        .await
        .unwrap();
    until_revoked_now(&s, &check(&d, &user, Some(0))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_instance_loads_existing_revocations_and_cutoffs_before_trusting_its_cache() {
    let a = store().await;
    let d = TokenDigest::of_jti(&rand_hex(16));
    let other = TokenDigest::of_jti(&rand_hex(16));
    let user = format!("u-{}", rand_hex(8));
    let bystander = format!("u-{}", rand_hex(8));
    a.revoke(d, now() + 600).await.unwrap();
    a.revoke_all_for(&user, now()).await.unwrap();

    let late = store().await;
    assert_eq!(
        late.check_now(&check(&d, &bystander, Some(0))),
        Some(Ok(true))
    );
    assert_eq!(
        late.check_now(&check(&other, &user, Some(0))),
        Some(Ok(true))
    );
    assert_eq!(late.check_now(&check(&other, &user, None)), Some(Ok(true)));
    assert_eq!(
        late.check_now(&check(&other, &user, Some(1))),
        Some(Ok(false))
    );
    assert_eq!(
        late.check_now(&check(&other, &bystander, None)),
        Some(Ok(false))
    );
}

#[tokio::test]
async fn expired_revocations_are_not_loaded_or_kept() {
    let a = store().await;
    let d = TokenDigest::of_jti(&rand_hex(16));
    let user = format!("u-{}", rand_hex(8));
    a.revoke(d, now() + 2).await.unwrap();
    assert_eq!(a.check_now(&check(&d, &user, Some(0))), Some(Ok(true)));
    tokio::time::sleep(Duration::from_millis(3100)).await;
    assert_eq!(
        a.check_now(&check(&d, &user, Some(0))),
        Some(Ok(false)),
        "the copy forgets it with the token's expiry"
    );
    let late = store().await;
    assert_eq!(late.check_now(&check(&d, &user, Some(0))), Some(Ok(false)));
}

#[tokio::test]
async fn without_cache_every_check_is_a_query() {
    let s = PostgresStore::connect_with(
        &database_url(),
        PostgresSettings::default().without_local_cache(),
    )
    .await
    .unwrap();
    s.migrate().await.unwrap();
    let d = TokenDigest::of_jti(&rand_hex(16));
    let user = format!("u-{}", rand_hex(8));
    assert!(!s.cache_is_fresh());
    assert_eq!(s.check_now(&check(&d, &user, Some(0))), None);
    s.revoke(d, now() + 600).await.unwrap();
    assert_eq!(s.check_now(&check(&d, &user, Some(0))), None);
    assert!(s.check(&check(&d, &user, Some(0))).await.unwrap());
}

/// A schema of its own, so the locks and the missing triggers below touch no other test.
async fn isolated_store() -> (PostgresStore, String) {
    let schema = format!("cache_{}", rand_hex(6));
    (
        store_with(PostgresSettings::default().schema(&schema)).await,
        schema,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_listener_is_not_trusted_and_the_resync_loads_what_it_missed() {
    let (s, schema) = isolated_store().await;
    let d = TokenDigest::of_jti(&rand_hex(16));
    let user = format!("u-{}", rand_hex(8));
    let c = check(&d, &user, Some(0));
    assert_eq!(s.check_now(&c), Some(Ok(false)));

    // Another writer revokes while holding the table, so the resync cannot finish
    // before this test lets it.
    let mut tx = s.pool().begin().await.unwrap();
    sqlx::query("LOCK TABLE revoked_tokens IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query("INSERT INTO revoked_tokens (digest, expires_at) VALUES ($1, $2)")
        .bind(&d.0[..])
        .bind((now() + 600) as i64)
        .execute(&mut *tx)
        .await
        .unwrap();
    // Kill the listener connection of this store (its last statement names its channel).
    let killed: i64 = sqlx::query_scalar(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
         WHERE application_name = 'axum-token-auth-listener' AND query LIKE '%' || $1 || '%'",
    )
    .bind(&schema)
    .fetch_one(s.pool())
    .await
    .unwrap();
    assert_eq!(killed, 1, "one listener for this schema");
    let t0 = Instant::now();
    while s.cache_is_fresh() {
        assert!(
            t0.elapsed() < Duration::from_secs(3),
            "still trusted after its listener died"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Not trusted: no in-process answer, the layer would query.
    assert_eq!(s.check_now(&c), None);
    tx.commit().await.unwrap();

    assert!(
        s.wait_for_cache(Duration::from_secs(10)).await,
        "the cache never came back"
    );
    assert_eq!(
        s.check_now(&c),
        Some(Ok(true)),
        "revoked during the gap, known after it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_notifying_triggers_the_cache_is_never_trusted() {
    let (s, schema) = isolated_store().await;
    sqlx::query(&format!(
        "DROP TRIGGER token_auth_notify ON \"{schema}\".revoked_tokens"
    ))
    .execute(s.pool())
    .await
    .unwrap();
    let late =
        PostgresStore::connect_with(&database_url(), PostgresSettings::default().schema(&schema))
            .await
            .unwrap();
    assert!(
        !late.wait_for_cache(Duration::from_secs(1)).await,
        "trusted a copy no trigger keeps current"
    );
    let d = TokenDigest::of_jti(&rand_hex(16));
    let user = format!("u-{}", rand_hex(8));
    let c = check(&d, &user, Some(0));
    assert_eq!(late.check_now(&c), None);
    s.revoke(d, now() + 600).await.unwrap();
    assert!(late.check(&c).await.unwrap(), "answered by a query");
    // Re-applying the (idempotent) migration puts the trigger back, and the cache is
    // trusted again.
    sqlx::query(&format!(
        "DELETE FROM \"{schema}\"._sqlx_migrations WHERE version = 20251201030000"
    ))
    .execute(s.pool())
    .await
    .unwrap();
    late.migrate().await.unwrap();
    assert!(late.wait_for_cache(Duration::from_secs(10)).await);
    assert_eq!(late.check_now(&c), Some(Ok(true)));
}

// ---------------------------------------------------------------------------
// several processes of one app on one database
// ---------------------------------------------------------------------------

const CHILD_TOKEN: &str = "AXUM_TOKEN_AUTH_TEST_CHILD_TOKEN";
const SECRET: &str = "0123456789abcdefghijklmnopqrstuvwxyzABCDEF";

fn auth_over(store: PostgresStore) -> axum_token_auth::TokenAuth {
    axum_token_auth::TokenAuth::builder()
        .hs256_secret(SECRET)
        .revocation_store(std::sync::Arc::new(store))
        .build()
        .unwrap()
}

/// The child process of `a_revocation_in_one_process_is_refused_by_two_others`: its own
/// store over the same database; says `child: ready` once the token validates from a
/// trusted cache, then `child: refused after N us` once it is refused. Ignored when run
/// alone (it needs the parent's token).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "started by a_revocation_in_one_process_is_refused_by_two_others"]
async fn child_process_refuses_the_token_once_revoked() {
    let token = std::env::var(CHILD_TOKEN).expect("started by the parent test");
    let store = store().await;
    let auth = auth_over(store.clone());
    assert!(
        auth.validate::<axum_token_auth::NoCustomClaims>(&token, TokenCheck::ACCESS)
            .await
            .is_ok()
    );
    assert!(store.cache_is_fresh());
    println!("child: ready");
    let t0 = Instant::now();
    while auth
        .validate::<axum_token_auth::NoCustomClaims>(&token, TokenCheck::ACCESS)
        .await
        .is_ok()
    {
        assert!(t0.elapsed() < Duration::from_secs(30), "never refused");
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
    // Refused from the trusted cache, not through a fallback query.
    assert!(store.cache_is_fresh());
    println!("child: refused {}", t0.elapsed().as_micros());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_in_one_process_is_refused_by_two_others() {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let parent = store().await;
    let auth = auth_over(parent.clone());
    let token = auth
        .issue_access(&axum_token_auth::TokenRequest::new(format!(
            "u-{}",
            rand_hex(8)
        )))
        .unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut children = Vec::new();
    // The test's name in this binary: its module path without the crate's name.
    let child_test = format!(
        "{}::child_process_refuses_the_token_once_revoked",
        module_path!().split_once("::").map_or("", |(_, m)| m)
    );
    for _ in 0..2 {
        let mut child = tokio::process::Command::new(&exe)
            .args([
                child_test.as_str(),
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_TOKEN, token.as_str())
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        children.push((child, lines));
    }
    async fn next_child_line(
        lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    ) -> String {
        loop {
            let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
                .await
                .expect("the child said nothing for 20 s")
                .unwrap()
                .expect("the child ended early");
            // libtest may have printed "test … … " on the same line.
            if let Some(at) = line.find("child: ") {
                return line[at + "child: ".len()..].to_owned();
            }
        }
    }
    for (_, lines) in &mut children {
        assert_eq!(next_child_line(lines).await, "ready");
    }
    let revoked_at = Instant::now();
    auth.revoke(token.as_str()).await.unwrap();
    for (mut child, mut lines) in children {
        let said = next_child_line(&mut lines).await;
        let seen = revoked_at.elapsed();
        assert!(said.starts_with("refused"), "{said}");
        assert!(
            seen < axum_token_auth::store::DEFAULT_MAX_STALENESS,
            "refused by another process only after {seen:?}"
        );
        println!("another process refused the revoked token within {seen:?}");
        assert!(child.wait().await.unwrap().success());
    }
}
