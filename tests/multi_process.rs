//! Three processes of one app on one store (Redis, Redis Cluster, PostgreSQL): this test
//! process and two children (this same test binary, running the ignored
//! `instance_process` test with its own store connection and cache). Each store's test
//! shows, across processes:
//!
//! - a revocation at one is refused at the others within the staleness bound (the delay
//!   is measured and printed: from the revoking call to the child's report, pipe included);
//! - concurrent refreshes of one refresh token at three instances (started at the same
//!   instant) mint exactly one successor, and the family lives on;
//! - a logout at one ends the session at all: its access token is refused and its
//!   refresh token rejected at the others;
//! - a reuse detected at one revokes the family at all.
//!
//! Children take commands on stdin and answer `child: …` lines on stdout.
#![cfg(feature = "redis")]

use axum_token_auth::trust::TokenCheck;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum_token_auth::store::redis::{RedisSettings, RedisStore};
use axum_token_auth::{NoCustomClaims, Sessions, TokenAuth, TokenRequest};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

const SECRET: &str = "0123456789abcdefghijklmnopqrstuvwxyzABCDEF";
const STORE: &str = "MULTI_PROCESS_STORE";
const PREFIX: &str = "MULTI_PROCESS_PREFIX";
/// The staleness bound of every store here (the default of each).
const BOUND: Duration = Duration::from_secs(2);

/// One instance of the app: its auth, its sessions, and whether its cache is trusted.
struct Instance {
    sessions: Sessions,
    fresh: Box<dyn Fn() -> bool + Send + Sync>,
}

impl Instance {
    fn auth(&self) -> &TokenAuth {
        self.sessions.auth()
    }
}

fn rand_hex(n: usize) -> String {
    let mut b = vec![0u8; n];
    getrandom::fill(&mut b).unwrap();
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unix_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis()
}

async fn instance(store: &str, prefix: &str) -> Instance {
    let auth = TokenAuth::builder().hs256_secret(SECRET);
    match store {
        "redis" | "redis-cluster" => {
            let options = RedisSettings::default().prefix(prefix);
            let s = if store == "redis" {
                let url =
                    std::env::var("REDIS_URL").expect("REDIS_URL: run through scripts/test.sh");
                RedisStore::connect_with(&url, options).await.unwrap()
            } else {
                let nodes = std::env::var("REDIS_CLUSTER_NODES")
                    .expect("REDIS_CLUSTER_NODES: run through scripts/test.sh");
                let nodes: Vec<&str> = nodes.split(',').collect();
                RedisStore::connect_cluster(&nodes, options).await.unwrap()
            };
            let s = Arc::new(s);
            assert!(
                s.wait_for_cache(Duration::from_secs(10)).await,
                "cache never synced"
            );
            let auth = auth.revocation_store(s.clone()).build().unwrap();
            let fresh = s.clone();
            Instance {
                sessions: Sessions::builder_shared(auth, s).build().unwrap(),
                fresh: Box::new(move || fresh.cache_is_fresh()),
            }
        }
        #[cfg(feature = "postgres")]
        "postgres" => {
            use axum_token_auth::store::postgres::{PostgresSettings, PostgresStore};
            let url =
                std::env::var("DATABASE_URL").expect("DATABASE_URL: run through scripts/test.sh");
            let s = PostgresStore::connect_with(&url, PostgresSettings::default())
                .await
                .unwrap();
            s.migrate().await.unwrap();
            assert!(
                s.wait_for_cache(Duration::from_secs(10)).await,
                "cache never synced"
            );
            let s = Arc::new(s);
            let auth = auth.revocation_store(s.clone()).build().unwrap();
            let fresh = s.clone();
            Instance {
                sessions: Sessions::builder_shared(auth, s).build().unwrap(),
                fresh: Box::new(move || fresh.cache_is_fresh()),
            }
        }
        other => panic!("unknown store {other}"),
    }
}

/// The child: one instance over the store named by the parent, driven through stdin.
///
/// - `watch TOKEN`: answers `watching` once TOKEN validates (from a trusted cache), then
///   `refused MICROS` once it is refused (checked every 200 µs), still from a trusted cache;
/// - `refresh-at UNIX_MS TOKEN`: sleeps until that instant, refreshes, answers
///   `refreshed JTI` (the successor refresh token's `jti`) or `rejected`;
/// - `refresh TOKEN`: the same, now.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "started by the multi-process tests below"]
async fn instance_process() {
    let store = std::env::var(STORE).expect("started by a parent test");
    let prefix = std::env::var(PREFIX).unwrap_or_default();
    let me = instance(&store, &prefix).await;
    println!("child: ready");
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Some(line) = lines.next_line().await.unwrap() {
        let words: Vec<&str> = line.split(' ').collect();
        match words.as_slice() {
            ["watch", token] => {
                assert!(
                    me.auth()
                        .validate::<NoCustomClaims>(token, TokenCheck::ACCESS)
                        .await
                        .is_ok()
                );
                assert!((me.fresh)(), "answered from a trusted cache");
                println!("child: watching");
                let t0 = Instant::now();
                while me
                    .auth()
                    .validate::<NoCustomClaims>(token, TokenCheck::ACCESS)
                    .await
                    .is_ok()
                {
                    assert!(t0.elapsed() < Duration::from_secs(30), "never refused");
                    tokio::time::sleep(Duration::from_micros(200)).await;
                }
                assert!((me.fresh)(), "refused from a trusted cache, not a fallback");
                println!("child: refused {}", t0.elapsed().as_micros());
            }
            ["refresh-at", at, token] => {
                let at: u128 = at.parse().unwrap();
                let wait = at.saturating_sub(unix_ms());
                tokio::time::sleep(Duration::from_millis(wait as u64)).await;
                refresh(&me, token).await;
            }
            ["refresh", token] => refresh(&me, token).await,
            _ => panic!("unknown command"),
        }
    }
}

async fn refresh(me: &Instance, token: &str) {
    match me.sessions.refresh(token, None).await {
        Ok(next) => println!("child: refreshed {}", next.pair.refresh.jti),
        Err(_) => println!("child: rejected"),
    }
}

struct Child {
    process: tokio::process::Child,
    stdin: tokio::process::ChildStdin,
    lines: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
}

impl Child {
    async fn start(store: &str, prefix: &str) -> Child {
        let mut process = tokio::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "instance_process",
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(STORE, store)
            .env(PREFIX, prefix)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let stdin = process.stdin.take().unwrap();
        let lines = BufReader::new(process.stdout.take().unwrap()).lines();
        let mut child = Child {
            process,
            stdin,
            lines,
        };
        assert_eq!(child.said().await, "ready");
        child
    }

    async fn tell(&mut self, command: &str) {
        self.stdin
            .write_all(format!("{command}\n").as_bytes())
            .await
            .unwrap();
        self.stdin.flush().await.unwrap();
    }

    async fn said(&mut self) -> String {
        loop {
            let line = tokio::time::timeout(Duration::from_secs(30), self.lines.next_line())
                .await
                .expect("the child said nothing for 30 s")
                .unwrap()
                .expect("the child ended early");
            // libtest may have printed "test … " on the same line.
            if let Some(at) = line.find("child: ") {
                return line[at + "child: ".len()..].to_owned();
            }
        }
    }

    async fn watch(&mut self, token: &str) {
        self.tell(&format!("watch {token}")).await;
        assert_eq!(self.said().await, "watching");
    }

    /// Waits for `refused`; returns the time since `since`.
    async fn refused(&mut self, since: Instant) -> Duration {
        let said = self.said().await;
        let seen = since.elapsed();
        assert!(said.starts_with("refused"), "{said}");
        seen
    }

    async fn finish(mut self) {
        drop(self.stdin);
        assert!(
            self.process.wait().await.unwrap().success(),
            "the child failed"
        );
    }
}

async fn children(store: &str, prefix: &str) -> [Child; 2] {
    let (a, b) = tokio::join!(Child::start(store, prefix), Child::start(store, prefix));
    [a, b]
}

/// A revocation at the parent is refused at both children within the bound.
async fn a_revocation_at_one_is_refused_at_the_others(
    store: &str,
    me: &Instance,
    kids: &mut [Child; 2],
) -> Duration {
    let token = me
        .auth()
        .issue_access(&TokenRequest::new(format!("u-{}", rand_hex(8))))
        .unwrap();
    for k in kids.iter_mut() {
        k.watch(token.as_str()).await;
    }
    let t0 = Instant::now();
    me.auth().revoke(token.as_str()).await.unwrap();
    let mut worst = Duration::ZERO;
    for k in kids.iter_mut() {
        worst = worst.max(k.refused(t0).await);
    }
    assert!(
        worst < BOUND,
        "{store}: refused by another process only after {worst:?}"
    );
    worst
}

/// Three instances refresh one token at the same instant: one successor.
async fn concurrent_refreshes_at_three_instances_mint_one_successor(
    store: &str,
    me: &Instance,
    kids: &mut [Child; 2],
) {
    let user = format!("u-{}", rand_hex(8));
    let login = me
        .sessions
        .login(&TokenRequest::new(&user), Some("multi-process"))
        .await
        .unwrap();
    let token = login.pair.refresh.as_str().to_owned();
    let at = unix_ms() + 300;
    for k in kids.iter_mut() {
        k.tell(&format!("refresh-at {at} {token}")).await;
    }
    tokio::time::sleep(Duration::from_millis(at.saturating_sub(unix_ms()) as u64)).await;
    let mine = me
        .sessions
        .refresh(&token, None)
        .await
        .expect("the parent's refresh");
    let mut jtis = vec![mine.pair.refresh.jti.clone()];
    for k in kids.iter_mut() {
        let said = k.said().await;
        let jti = said.strip_prefix("refreshed ").unwrap_or_else(|| {
            panic!("{store}: a concurrent refresh within the grace window failed: {said}")
        });
        jtis.push(jti.to_owned());
    }
    jtis.dedup();
    assert_eq!(jtis.len(), 1, "{store}: one successor, not {jtis:?}");
    // The family lives on: the successor refreshes again, at a child.
    let sessions = me.sessions.list(&user).await.unwrap();
    assert_eq!(sessions.len(), 1, "{store}: one session");
    kids[0]
        .tell(&format!("refresh {}", mine.pair.refresh.as_str()))
        .await;
    assert!(
        kids[0].said().await.starts_with("refreshed "),
        "{store}: the chain goes on"
    );
}

/// A logout at the parent ends the session at both children.
async fn a_logout_at_one_ends_the_session_at_all(
    store: &str,
    me: &Instance,
    kids: &mut [Child; 2],
) -> Duration {
    let login = me
        .sessions
        .login(&TokenRequest::new(format!("u-{}", rand_hex(8))), None)
        .await
        .unwrap();
    for k in kids.iter_mut() {
        k.watch(login.pair.access.as_str()).await;
    }
    let t0 = Instant::now();
    me.sessions
        .logout(
            Some(login.pair.refresh.as_str()),
            Some(login.pair.access.as_str()),
        )
        .await
        .unwrap();
    let mut worst = Duration::ZERO;
    for k in kids.iter_mut() {
        worst = worst.max(k.refused(t0).await);
    }
    assert!(
        worst < BOUND,
        "{store}: logout seen by another process only after {worst:?}"
    );
    for k in kids.iter_mut() {
        k.tell(&format!("refresh {}", login.pair.refresh.as_str()))
            .await;
        assert_eq!(
            k.said().await,
            "rejected",
            "{store}: the refresh token is dead everywhere"
        );
    }
    worst
}

/// A reuse detected at one child revokes the family at the other and at the parent.
async fn a_reuse_at_one_revokes_the_family_at_all(
    store: &str,
    me: &Instance,
    kids: &mut [Child; 2],
) -> Duration {
    let login = me
        .sessions
        .login(&TokenRequest::new(format!("u-{}", rand_hex(8))), None)
        .await
        .unwrap();
    let r1 = me
        .sessions
        .refresh(login.pair.refresh.as_str(), None)
        .await
        .unwrap();
    let r2 = me
        .sessions
        .refresh(r1.pair.refresh.as_str(), None)
        .await
        .unwrap();
    kids[1].watch(r2.pair.access.as_str()).await;
    // The grandparent: a reuse whatever the grace window.
    let t0 = Instant::now();
    kids[0]
        .tell(&format!("refresh {}", login.pair.refresh.as_str()))
        .await;
    assert_eq!(
        kids[0].said().await,
        "rejected",
        "{store}: the reuse is refused"
    );
    let seen = kids[1].refused(t0).await;
    assert!(
        seen < BOUND,
        "{store}: the reuse's revocation seen only after {seen:?}"
    );
    assert!(
        me.sessions
            .refresh(r2.pair.refresh.as_str(), None)
            .await
            .is_err(),
        "{store}: the family's current token is dead at the parent too"
    );
    let t1 = Instant::now();
    while me
        .auth()
        .validate::<NoCustomClaims>(r2.pair.access.as_str(), TokenCheck::ACCESS)
        .await
        .is_ok()
    {
        assert!(
            t1.elapsed() < BOUND,
            "{store}: the parent still accepts the access token"
        );
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
    seen
}

async fn three_processes_agree(store: &str) {
    let prefix = format!("mp{}:", rand_hex(6));
    let me = instance(store, &prefix).await;
    let mut kids = children(store, &prefix).await;
    let revocation = a_revocation_at_one_is_refused_at_the_others(store, &me, &mut kids).await;
    concurrent_refreshes_at_three_instances_mint_one_successor(store, &me, &mut kids).await;
    let logout = a_logout_at_one_ends_the_session_at_all(store, &me, &mut kids).await;
    let reuse = a_reuse_at_one_revokes_the_family_at_all(store, &me, &mut kids).await;
    println!(
        "{store}, 3 processes: revocation refused at the others within {revocation:?}, \
         logout within {logout:?}, reuse's family revocation within {reuse:?} \
         (from the call to the child's report on its stdout)"
    );
    for k in kids {
        k.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_processes_on_redis_agree_on_revocation_refresh_logout_and_reuse() {
    three_processes_agree("redis").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_processes_on_a_redis_cluster_agree_on_revocation_refresh_logout_and_reuse() {
    three_processes_agree("redis-cluster").await;
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_processes_on_postgres_agree_on_revocation_refresh_logout_and_reuse() {
    three_processes_agree("postgres").await;
}
