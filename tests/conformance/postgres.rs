//! PostgreSQL-specific checks and the suite's constructor (feature `postgres`).

use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum_token_auth::store::grants::{GrantChange, GrantStore};
use axum_token_auth::store::postgres::{PostgresSettings, PostgresStore};
use axum_token_auth::store::{
    ProofId, ProofReplay, RefreshStore, RevocationNotes, RevocationStore, StoreError, TokenDigest,
};
use axum_token_auth::token::FixedClock;
use axum_token_auth::token::Scope;
use sqlx::Row;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::suite::{Stores, now, uid};

/// `DATABASE_URL`, or a panic saying how to provide it (no silent skipping).
pub fn database_url() -> String {
    match std::env::var("DATABASE_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => panic!(
            "DATABASE_URL is not set: the PostgreSQL conformance tests need a server. \
             Run them through `scripts/test.sh cargo test --features postgres --test conformance` \
             (it starts a throwaway PostgreSQL), or export DATABASE_URL yourself."
        ),
    }
}

/// A migrated store on its own pool, its revocation cache synced.
pub async fn connect() -> PostgresStore {
    connect_with(PostgresSettings::default()).await
}

/// A migrated store with `options`, its revocation cache (if on) synced.
pub async fn connect_with(options: PostgresSettings) -> PostgresStore {
    let cached = options.local_cache();
    let store = PostgresStore::connect_with(&database_url(), options)
        .await
        .expect("connect to DATABASE_URL");
    store.migrate().await.expect("migrate");
    if cached {
        assert!(
            store.wait_for_cache(Duration::from_secs(10)).await,
            "revocation cache never synced"
        );
    }
    store
}

/// The suite's constructor: a new pool (= a new instance) each time.
pub async fn open() -> Stores {
    Stores::all(connect().await)
}

/// The suite without the revocation cache: every check is a query.
pub async fn open_uncached() -> Stores {
    Stores::all(connect_with(PostgresSettings::default().without_local_cache()).await)
}

/// One schema for the whole run (the checks use random ids).
fn suite_schema() -> &'static str {
    static SCHEMA: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SCHEMA.get_or_init(|| uid("conformance").replace('-', "_"))
}

/// The suite with every table in a schema of its own.
pub async fn open_in_schema() -> Stores {
    Stores::all(connect_with(PostgresSettings::default().schema(suite_schema())).await)
}

/// Seed system 001 has its own `revoked_tokens` (token text, a timestamp): with a schema
/// setting ours live beside it, and the foreign table is never read or changed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schema_keeps_our_tables_apart_from_a_foreign_revoked_tokens() {
    let app = uid("app").replace('-', "_");
    let ours = uid("auth").replace('-', "_");
    let admin = connect_with(PostgresSettings::default().without_local_cache()).await;
    sqlx::query(&format!("CREATE SCHEMA \"{app}\""))
        .execute(admin.pool())
        .await
        .unwrap();
    sqlx::query(&format!(
        "CREATE TABLE \"{app}\".revoked_tokens (token text PRIMARY KEY, revoked_at timestamptz NOT NULL DEFAULT now())"
    ))
    .execute(admin.pool())
    .await
    .unwrap();
    sqlx::query(&format!(
        "INSERT INTO \"{app}\".revoked_tokens (token) VALUES ('legacy-token')"
    ))
    .execute(admin.pool())
    .await
    .unwrap();

    // Pointed at the application's schema, our migration refuses to reuse its table.
    let clash = PostgresStore::connect_with(
        &database_url(),
        PostgresSettings::default()
            .schema(&app)
            .without_local_cache(),
    )
    .await
    .unwrap();
    assert!(
        clash.migrate().await.is_err(),
        "reused a foreign revoked_tokens"
    );

    // In a schema of our own: migrated (twice: idempotent), used, cached.
    let store = connect_with(PostgresSettings::default().schema(&ours)).await;
    store.migrate().await.unwrap();
    let d = TokenDigest::of_jti(&uid("jti"));
    store.revoke(d, now() + 600).await.unwrap();
    assert!(store.is_revoked(&d).await.unwrap());
    assert_eq!(store.is_revoked_now(&d), Some(Ok(true)));
    let ours_rows: i64 = sqlx::query_scalar(&format!(
        "SELECT count(*) FROM \"{ours}\".revoked_tokens WHERE digest = $1"
    ))
    .bind(&d.0[..])
    .fetch_one(admin.pool())
    .await
    .unwrap();
    assert_eq!(ours_rows, 1);
    let foreign: Vec<String> = sqlx::query_scalar(&format!(
        "SELECT token FROM \"{app}\".revoked_tokens ORDER BY token"
    ))
    .fetch_all(admin.pool())
    .await
    .unwrap();
    assert_eq!(foreign, ["legacy-token"], "the foreign table is untouched");
    let foreign_columns: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.columns \
         WHERE table_schema = $1 AND table_name = 'revoked_tokens'",
    )
    .bind(&app)
    .fetch_one(admin.pool())
    .await
    .unwrap();
    assert_eq!(foreign_columns, 2, "no column was added to it");
    // Nothing of ours in the application's schema.
    let leaked: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.tables \
         WHERE table_schema = $1 AND table_name <> '_sqlx_migrations'",
    )
    .bind(&app)
    .fetch_one(admin.pool())
    .await
    .unwrap();
    assert_eq!(leaked, 1, "only the foreign table lives there");
    // A store in another schema of the same database does not hear our revocations.
    let elsewhere = connect_with(PostgresSettings::default().schema(suite_schema())).await;
    assert_eq!(elsewhere.is_revoked_now(&d), Some(Ok(false)));
    assert!(!elsewhere.is_revoked(&d).await.unwrap());
}

#[tokio::test]
async fn an_invalid_schema_name_is_refused() {
    for bad in ["", "a;drop", "x\"y", "1abc", &"s".repeat(53)] {
        let err =
            PostgresStore::connect_with(&database_url(), PostgresSettings::default().schema(bad))
                .await
                .unwrap_err();
        assert!(matches!(err, StoreError::Backend(_)), "{bad}: {err:?}");
    }
}

/// An error's text, checked for secrets.
fn assert_no_secret(e: &StoreError) {
    let text = format!("{e} {e:?}");
    assert!(!text.contains("s3cret-pw"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_is_idempotent_and_concurrent() {
    let a = connect().await;
    let b = connect().await;
    let (x, y) = tokio::join!(a.migrate(), b.migrate());
    x.unwrap();
    y.unwrap();
    a.migrate().await.unwrap();
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations")
        .fetch_one(a.pool())
        .await
        .unwrap();
    assert!(applied >= 1);
}

/// UPDATE, DELETE and TRUNCATE of the audit trail fail; the rows survive. (Each attempt
/// runs in a transaction that is rolled back, so a missing trigger could not damage the
/// database other tests share.)
#[tokio::test]
async fn audit_trail_is_append_only() {
    let store = connect().await;
    let tenant = uid("tenant");
    let module = uid("module");
    let scope = Scope::new("audit:test").unwrap();
    store
        .grant_scope(&GrantChange::new(&tenant, &module, &scope, "alice").unwrap())
        .await
        .unwrap();
    store
        .revoke_scope(&GrantChange::new(&tenant, &module, &scope, "alice").unwrap())
        .await
        .unwrap();

    for sql in [
        "UPDATE scope_audit SET actor = 'mallory' WHERE tenant = $1",
        "DELETE FROM scope_audit WHERE tenant = $1",
        "DELETE FROM scope_audit WHERE tenant = $1 AND false",
        "TRUNCATE scope_audit",
    ] {
        let mut tx = store.pool().begin().await.unwrap();
        let q = sqlx::query(sql);
        let q = if sql.contains("$1") {
            q.bind(&tenant)
        } else {
            q
        };
        let err = q.execute(&mut *tx).await.expect_err(sql);
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
        tx.rollback().await.unwrap();
    }
    let log = store.audit_log(&tenant, None).await.unwrap();
    assert_eq!(log.len(), 2);
    assert!(log.iter().all(|e| e.actor == "alice"));
}

/// Only the SHA-256 digest of a revoked id is stored.
#[tokio::test]
async fn only_digests_are_stored() {
    let store = connect().await;
    let jti = uid("jti");
    store
        .revoke(TokenDigest::of_jti(&jti), now() + 600)
        .await
        .unwrap();
    let row = sqlx::query("SELECT digest, expires_at FROM revoked_tokens WHERE digest = $1")
        .bind(&TokenDigest::of_jti(&jti).0[..])
        .fetch_one(store.pool())
        .await
        .unwrap();
    let stored: Vec<u8> = row.get(0);
    assert_eq!(stored.len(), 32);
    assert_ne!(stored, jti.as_bytes());
    let hits: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM revoked_tokens WHERE position(convert_to($1, 'UTF8') in digest) > 0",
    )
    .bind(&jti)
    .fetch_one(store.pool())
    .await
    .unwrap();
    assert_eq!(hits, 0);
}

/// The inherent purge deletes expired revocations and ended families, never audit rows.
#[tokio::test]
async fn purge_removes_expired_rows_only() {
    let store = connect().await;
    let t = now();
    // A revocation that expired 500 s ago: written through a store whose clock is in
    // the past (the real-clock store does not even write it).
    let past = PostgresStore::from_pool(store.pool().clone()).with_clock(FixedClock(t - 1000));
    let old = TokenDigest::of_jti(&uid("jti"));
    past.revoke(old, t - 500).await.unwrap();
    assert!(
        past.is_revoked(&old).await.unwrap(),
        "revoked by its own clock"
    );
    assert!(
        !store.is_revoked(&old).await.unwrap(),
        "expired by the real clock"
    );
    let live = TokenDigest::of_jti(&uid("jti"));
    store.revoke(live, t + 600).await.unwrap();

    let tenant = uid("tenant");
    let scope = Scope::new("purge:test").unwrap();
    store
        .grant_scope(&GrantChange::new(&tenant, "m", &scope, "alice").unwrap())
        .await
        .unwrap();
    store
        .revoke_scope(&GrantChange::new(&tenant, "m", &scope, "alice").unwrap())
        .await
        .unwrap();

    // The count is not checked: a concurrent test's purge may have taken our row.
    store.purge_expired().await.unwrap();
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM revoked_tokens WHERE digest = $1")
        .bind(&old.0[..])
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(rows, 0);
    assert!(store.is_revoked(&live).await.unwrap());
    assert_eq!(store.audit_log(&tenant, None).await.unwrap().len(), 2);
}

/// The background cleanup runs at once and keeps running.
#[tokio::test]
async fn spawn_cleanup_purges() {
    let store = connect().await;
    let t = now();
    let past = PostgresStore::from_pool(store.pool().clone()).with_clock(FixedClock(t - 1000));
    let old = TokenDigest::of_jti(&uid("jti"));
    past.revoke(old, t - 500).await.unwrap();
    let handle = store.spawn_cleanup(Duration::from_secs(1));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM revoked_tokens WHERE digest = $1")
            .bind(&old.0[..])
            .fetch_one(store.pool())
            .await
            .unwrap();
        if rows == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "cleanup did not run");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!handle.is_finished());
    handle.abort();
}

/// An unreachable server answers `Unavailable` quickly, without the password.
#[tokio::test]
async fn outage_is_unavailable_and_fast() {
    // A port nothing listens on: bind one, then free it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://app:s3cret-pw@127.0.0.1:{port}/db");

    let start = Instant::now();
    let err = PostgresStore::connect(&url).await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    assert_no_secret(&err);
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );

    // A lazily connected pool: every operation fails the same way.
    let pool = PgPoolOptions::new()
        .acquire_timeout(Duration::from_millis(500))
        .connect_lazy(&url)
        .unwrap();
    let store = PostgresStore::from_pool(pool);
    let start = Instant::now();
    let d = TokenDigest::of_jti("x");
    let errs = [
        store.is_revoked(&d).await.unwrap_err(),
        store.revoke(d, now() + 60).await.unwrap_err(),
        store.verify("fam", &d, now()).await.unwrap_err(),
        store.list_sessions("u", now()).await.unwrap_err(),
        store.granted_scopes("t", "p").await.unwrap_err(),
        store.migrate().await.unwrap_err(),
    ];
    for e in &errs {
        assert!(matches!(e, StoreError::Unavailable(_)), "{e:?}");
        assert_no_secret(e);
    }
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
    assert!(!format!("{store:?}").contains("s3cret-pw"));
}

/// Wrong credentials or database are a backend error (not retryable), without secrets.
#[tokio::test]
async fn missing_database_is_a_backend_error() {
    let mut url = database_url();
    // Point at a database that does not exist.
    let slash = url.rfind('/').expect("a database in DATABASE_URL");
    url.truncate(slash);
    url.push_str(&format!("/{}", uid("nodb").replace('-', "_")));
    let err = PostgresStore::connect(&url).await.unwrap_err();
    assert!(matches!(err, StoreError::Backend(_)), "{err:?}");
}

/// A rotation survives the store being dropped and reopened (state lives in the
/// database, not the process).
#[tokio::test]
async fn state_outlives_the_instance() {
    let t = now();
    let family = uid("fam");
    let jti = uid("rt");
    {
        let store = connect().await;
        store
            .create_session(axum_token_auth::store::NewSession {
                session_id: family.clone(),
                user_id: uid("user"),
                refresh: TokenDigest::of_jti(&jti),
                access: axum_token_auth::store::AccessRef {
                    jti: uid("at"),
                    expires_at: t + 300,
                },
                created_at: t,
                expires_at: t + 1000,
                user_agent: None,
                device: None,
                ip: None,
            })
            .await
            .unwrap();
        store.pool().close().await;
    }
    let store = connect().await;
    assert!(
        store
            .verify(&family, &TokenDigest::of_jti(&jti), t)
            .await
            .unwrap()
    );
    let s = store.session(&family, t).await.unwrap().unwrap();
    assert_eq!(s.user_agent, None);
    store.revoke_session(&family).await.unwrap();
}

/// Rotation does not depend on the database's default isolation level: with
/// `default_transaction_isolation = serializable` on every connection of two pools, the
/// races still give one successor (no serialization failures).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rotation_under_a_serializable_default() {
    async fn serializable() -> Arc<dyn RefreshStore> {
        let options = PgConnectOptions::from_str(&database_url())
            .expect("DATABASE_URL")
            .options([("default_transaction_isolation", "serializable")]);
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await
            .expect("connect");
        let level: String = sqlx::query_scalar("SHOW default_transaction_isolation")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(level, "serializable");
        let store = PostgresStore::from_pool(pool);
        store.migrate().await.expect("migrate");
        Arc::new(store)
    }
    let stores = [serializable().await, serializable().await];
    crate::suite::check_one_successor(&stores).await;
    crate::suite::check_no_grace(&stores).await;
}

/// The DPoP replay cache does not depend on the default isolation level either: with
/// `serializable` on every connection of two pools, 50 concurrent uses of one proof get
/// one `true` and 49 `false`, none a serialization failure (which would be a 503).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn proof_replay_under_a_serializable_default() {
    async fn serializable() -> Arc<dyn ProofReplay> {
        let options = PgConnectOptions::from_str(&database_url())
            .expect("DATABASE_URL")
            .options([("default_transaction_isolation", "serializable")]);
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await
            .expect("connect");
        let store = PostgresStore::from_pool(pool);
        store.migrate().await.expect("migrate");
        Arc::new(store)
    }
    let stores = [serializable().await, serializable().await];
    for _ in 0..5 {
        let id = ProofId::of(&uid("jkt"), &uid("jti"));
        let until = now() + 60;
        let barrier = Arc::new(tokio::sync::Barrier::new(50));
        let tasks: Vec<_> = (0..50)
            .map(|i| {
                let store = Arc::clone(&stores[i % 2]);
                let barrier = Arc::clone(&barrier);
                tokio::spawn(async move {
                    barrier.wait().await;
                    store.first_use(&id, until).await
                })
            })
            .collect();
        let mut accepted = 0;
        for t in tasks {
            accepted += usize::from(t.await.unwrap().expect("no serialization failure"));
        }
        assert_eq!(accepted, 1);
    }
}

/// A client-chosen session id that PostgreSQL cannot store (a NUL byte) is "no such
/// session" (404 on the route), never a store error (503).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unprintable_session_ids_are_no_session_not_a_store_error() {
    let store = Arc::new(connect().await);
    let auth = axum_token_auth::TokenAuth::builder()
        .hs256_secret("0123456789abcdefghijklmnopqrstuvwxyzABCDEF")
        .revocation_store(store.clone())
        .build()
        .unwrap();
    let sessions = axum_token_auth::Sessions::builder_shared(auth, store)
        .build()
        .unwrap();
    assert_eq!(sessions.revoke_session("alice", "a\0b").await, Ok(false));
    assert_eq!(sessions.revoke_session("alice", "").await, Ok(false));
}

#[tokio::test]
async fn revocation_notes_are_kept_and_read_back() {
    use axum_token_auth::store::RevocationNote;
    let store = connect().await;
    let digest = TokenDigest::of_jti(&uid("jti"));
    let note = RevocationNote::new("password changed").by("admin-7");
    store
        .revoke_noted(digest, now() + 600, &note)
        .await
        .unwrap();
    assert!(store.is_revoked(&digest).await.unwrap());
    let back = store.revocation_note(&digest).await.unwrap().unwrap();
    assert_eq!(back, note);
    // A plain revocation keeps no note; the memory store keeps none at all.
    let plain = TokenDigest::of_jti(&uid("jti"));
    store.revoke(plain, now() + 600).await.unwrap();
    assert_eq!(store.revocation_note(&plain).await.unwrap(), None);
    // A store without notes (memory): through `TokenAuth`, the revocation itself holds.
    let memory = Arc::new(axum_token_auth::store::memory::MemoryRevocationStore::default());
    let auth = axum_token_auth::TokenAuth::builder()
        .hs256_secret("0123456789abcdefghijklmnopqrstuvwxyzABCDEF")
        .revocation_store(memory.clone())
        .build()
        .unwrap();
    let token = auth
        .issue_access(&axum_token_auth::TokenRequest::new("alice"))
        .unwrap();
    let revoked = auth
        .revoke(axum_token_auth::trust::Revocation::token(token.as_str()).note(note.clone()))
        .await
        .unwrap()
        .digest()
        .unwrap();
    assert!(
        memory.is_revoked(&revoked).await.unwrap(),
        "the revocation itself holds"
    );
    // Registered with its notes, the PostgreSQL store keeps them through `TokenAuth`.
    let auth = axum_token_auth::TokenAuth::builder()
        .hs256_secret("0123456789abcdefghijklmnopqrstuvwxyzABCDEF")
        .revocation_store_with_notes(Arc::new(store.clone()))
        .build()
        .unwrap();
    let token = auth
        .issue_access(&axum_token_auth::TokenRequest::new("alice"))
        .unwrap();
    let revoked = auth
        .revoke(axum_token_auth::trust::Revocation::token(token.as_str()).note(note.clone()))
        .await
        .unwrap()
        .digest()
        .unwrap();
    let kept = store.revocation_note(&revoked).await.unwrap().unwrap();
    assert_eq!((kept.reason, kept.by), (note.reason, note.by));
}

/// A DPoP proof id is stored as 16 bytes with its window's end, nothing else; expired
/// ids are deleted by the purge, held ones kept.
#[tokio::test]
async fn proof_ids_are_short_and_purged_when_expired() {
    let store = connect().await;
    let t = now();
    let held = ProofId::of(&uid("jkt"), &uid("jti"));
    assert!(store.first_use(&held, t + 600).await.unwrap());
    let (len, until): (i32, i64) = sqlx::query_as(
        "SELECT octet_length(id), expires_at FROM token_auth_dpop_proofs WHERE id = $1",
    )
    .bind(&held.0[..16])
    .fetch_one(store.pool())
    .await
    .unwrap();
    assert_eq!((len, until), (16, (t + 600) as i64));
    // An id recorded by a store whose clock is in the past: expired by the real clock.
    let past = PostgresStore::from_pool(store.pool().clone()).with_clock(FixedClock(t - 1000));
    let old = ProofId::of(&uid("jkt"), &uid("jti"));
    assert!(past.first_use(&old, t - 500).await.unwrap());
    assert!(
        !past.first_use(&old, t - 500).await.unwrap(),
        "held by its clock"
    );
    store.purge_expired().await.unwrap();
    assert_eq!(proof_rows(&store, &old).await, 0);
    assert_eq!(proof_rows(&store, &held).await, 1);
    assert!(!store.first_use(&held, t + 600).await.unwrap());
}

async fn proof_rows(store: &PostgresStore, id: &ProofId) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM token_auth_dpop_proofs WHERE id = $1")
        .bind(&id.0[..16])
        .fetch_one(store.pool())
        .await
        .unwrap()
}

/// Without any cleanup task the table stays bounded: every 512 `first_use` calls, a
/// handle deletes expired ids in the background.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_proof_ids_are_pruned_by_the_inserts_themselves() {
    let store = connect().await;
    let t = now();
    let past = PostgresStore::from_pool(store.pool().clone()).with_clock(FixedClock(t - 1000));
    let old = ProofId::of(&uid("jkt"), &uid("jti"));
    assert!(past.first_use(&old, t - 500).await.unwrap());
    let fresh = PostgresStore::from_pool(store.pool().clone());
    for _ in 0..512 {
        let id = ProofId::of(&uid("jkt"), &uid("jti"));
        assert!(fresh.first_use(&id, t + 1).await.unwrap());
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while proof_rows(&store, &old).await != 0 {
        assert!(Instant::now() < deadline, "no prune after 512 inserts");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
