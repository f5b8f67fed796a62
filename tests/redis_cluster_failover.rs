//! A master of the Redis Cluster is killed (`SIGKILL`) in the middle of a write load:
//! with `wait_for_replicas(1)`, no revocation, no family and no DPoP proof id whose write
//! succeeded is lost after its replica takes over (so no proof replays across a failover), and another instance's revocation cache is trusted again
//! (re-subscribed, re-filled) and knows every one of them. Its own test binary: it stops
//! and restarts a node of the shared cluster (and leaves the cluster whole again).
#![cfg(feature = "redis")]

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum_token_auth::store::redis::{RedisSettings, RedisStore};
use axum_token_auth::store::{
    AccessRef, NewSession, ProofId, ProofReplay, RefreshStore, RevocationStore, StoreError,
    TokenDigest,
};

fn nodes() -> Vec<String> {
    std::env::var("REDIS_CLUSTER_NODES")
        .expect("REDIS_CLUSTER_NODES must list the cluster's nodes: run the tests through scripts/test.sh")
        .split(',')
        .map(str::to_owned)
        .collect()
}

fn cluster_dir() -> String {
    std::env::var("TEST_REDIS_CLUSTER_DIR")
        .expect("TEST_REDIS_CLUSTER_DIR: run through scripts/test.sh")
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

/// One line of `CLUSTER NODES`.
#[derive(Debug, Clone)]
struct NodeLine {
    id: String,
    port: u16,
    flags: String,
    master: String,
}

/// `CLUSTER NODES` as seen by `node`.
async fn cluster_nodes(node: &str) -> Option<Vec<NodeLine>> {
    let client = redis::Client::open(format!("redis://{node}/")).ok()?;
    let mut conn = tokio::time::timeout(
        Duration::from_secs(1),
        client.get_multiplexed_async_connection(),
    )
    .await
    .ok()?
    .ok()?;
    let text: String = redis::cmd("CLUSTER")
        .arg("NODES")
        .query_async(&mut conn)
        .await
        .ok()?;
    Some(
        text.lines()
            .filter_map(|l| {
                let mut f = l.split(' ');
                let id = f.next()?.to_owned();
                let addr = f.next()?;
                let flags = f.next()?.to_owned();
                let master = f.next()?.to_owned();
                let port = addr.split('@').next()?.rsplit(':').next()?.parse().ok()?;
                Some(NodeLine {
                    id,
                    port,
                    flags,
                    master,
                })
            })
            .collect(),
    )
}

/// Whether the node on `port` answers and reports `cluster_state:ok`.
async fn cluster_ok(port: u16) -> bool {
    let Ok(client) = redis::Client::open(format!("redis://127.0.0.1:{port}/")) else {
        return false;
    };
    let Ok(Ok(mut conn)) = tokio::time::timeout(
        Duration::from_secs(1),
        client.get_multiplexed_async_connection(),
    )
    .await
    else {
        return false;
    };
    let info: Result<String, _> = redis::cmd("CLUSTER")
        .arg("INFO")
        .query_async(&mut conn)
        .await;
    info.is_ok_and(|i| i.contains("cluster_state:ok"))
}

fn pid_of(port: u16) -> u32 {
    std::fs::read_to_string(format!("{}/{port}/redis.pid", cluster_dir()))
        .expect("the node's pidfile")
        .trim()
        .parse()
        .unwrap()
}

#[derive(Default)]
struct Committed {
    revocations: Vec<TokenDigest>,
    families: Vec<(String, TokenDigest)>,
    proofs: Vec<ProofId>,
    failed: usize,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_master_killed_mid_load_loses_no_committed_revocation_or_family() {
    let prefix = format!("f{}:", rand_hex(6));
    let options = RedisSettings::default()
        .prefix(&prefix)
        .wait_for_replicas(1);
    let writer = Arc::new(
        RedisStore::connect_cluster(&nodes(), options.clone())
            .await
            .unwrap(),
    );
    let reader = RedisStore::connect_cluster(&nodes(), options)
        .await
        .unwrap();
    assert!(writer.wait_for_cache(Duration::from_secs(10)).await);
    assert!(reader.wait_for_cache(Duration::from_secs(10)).await);

    // The victim: a master, with its replica.
    let all = cluster_nodes(&nodes()[0]).await.expect("cluster nodes");
    let victim_line = all
        .iter()
        .find(|n| n.flags.contains("master") && !n.flags.contains("fail"))
        .expect("a master")
        .clone();
    let victim = victim_line.port;
    let replica = all
        .iter()
        .find(|n| n.master == victim_line.id)
        .expect("the victim's replica")
        .port;
    let victim_pid = pid_of(victim);

    let committed = Arc::new(Mutex::new(Committed::default()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut load = Vec::new();
    for worker in 0..4 {
        let (writer, committed, stop) = (writer.clone(), committed.clone(), stop.clone());
        load.push(tokio::spawn(async move {
            let mut i = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                i += 1;
                if (i + worker) % 3 == 2 {
                    let id = ProofId::of("failover-key", &rand_hex(16));
                    match writer.first_use(&id, now() + 600).await {
                        Ok(true) => committed.lock().unwrap().proofs.push(id),
                        // A SET retried by the client after its master died may find
                        // its own first attempt, replicated: refused, never accepted twice.
                        Ok(false) => committed.lock().unwrap().failed += 1,
                        Err(StoreError::Unavailable(_)) => committed.lock().unwrap().failed += 1,
                        Err(e) => panic!("{e:?}"),
                    }
                } else if (i + worker).is_multiple_of(3) {
                    let d = TokenDigest::of_jti(&rand_hex(16));
                    match writer.revoke(d, now() + 600).await {
                        Ok(()) => committed.lock().unwrap().revocations.push(d),
                        Err(StoreError::Unavailable(_)) => committed.lock().unwrap().failed += 1,
                        Err(e) => panic!("{e:?}"),
                    }
                } else {
                    let id = rand_hex(11);
                    let refresh = TokenDigest::of_jti(&rand_hex(16));
                    let family = NewSession {
                        session_id: id.clone(),
                        user_id: format!("u-{}", rand_hex(4)),
                        refresh,
                        access: AccessRef {
                            jti: rand_hex(8),
                            expires_at: now() + 600,
                        },
                        created_at: now(),
                        expires_at: now() + 3600,
                        user_agent: None,
                        device: None,
                        ip: None,
                    };
                    match writer.create_session(family).await {
                        Ok(()) => committed.lock().unwrap().families.push((id, refresh)),
                        Err(StoreError::Unavailable(_)) => committed.lock().unwrap().failed += 1,
                        Err(e) => panic!("{e:?}"),
                    }
                }
            }
        }));
    }

    tokio::time::sleep(Duration::from_secs(1)).await;
    let before_kill = {
        let c = std::mem::take(&mut *committed.lock().unwrap());
        c.revocations.len() + c.families.len() + c.proofs.len()
    };
    assert!(before_kill > 0, "the load is running");
    let killed_at = Instant::now();
    assert!(
        std::process::Command::new("kill")
            .args(["-KILL", &victim_pid.to_string()])
            .status()
            .unwrap()
            .success()
    );

    // Its replica takes over (cluster-node-timeout 2 s, then an election): it says it is a
    // master, and its cluster is whole again.
    let promoted = loop {
        assert!(killed_at.elapsed() < Duration::from_secs(30), "no failover");
        tokio::time::sleep(Duration::from_millis(100)).await;
        if cluster_ok(replica).await
            && let Some(view) = cluster_nodes(&format!("127.0.0.1:{replica}")).await
            && view
                .iter()
                .any(|n| n.port == replica && n.flags.contains("myself,master"))
        {
            break killed_at.elapsed();
        }
    };
    // The old master comes back as a replica of the new one, so WAIT 1 succeeds there again.
    let server = std::env::var("TEST_REDIS_SERVER_BIN").unwrap();
    assert!(
        std::process::Command::new(server)
            .arg(format!("{}/{victim}/redis.conf", cluster_dir()))
            .status()
            .unwrap()
            .success()
    );
    // Keep the load on until writes succeed on every shard again.
    let resumed_at = loop {
        assert!(
            killed_at.elapsed() < Duration::from_secs(60),
            "writes never resumed"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        let mut ok = true;
        for bucket in 0u8..16 {
            let mut raw = [0u8; 32];
            getrandom::fill(&mut raw).unwrap();
            raw[0] = bucket;
            let d = TokenDigest(raw);
            match writer.revoke(d, now() + 600).await {
                Ok(()) => committed.lock().unwrap().revocations.push(d),
                Err(_) => ok = false,
            }
        }
        if ok {
            break killed_at.elapsed();
        }
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for l in load {
        l.await.unwrap();
    }

    let c = std::mem::take(&mut *committed.lock().unwrap());
    let mut lost_revocations = 0;
    for d in &c.revocations {
        if !writer.is_revoked(d).await.unwrap() {
            lost_revocations += 1;
        }
    }
    let mut lost_families = 0;
    for (id, refresh) in &c.families {
        if !writer.verify(id, refresh, now()).await.unwrap() {
            lost_families += 1;
        }
    }
    let mut lost_proofs = 0;
    for id in &c.proofs {
        if reader.first_use(id, now() + 600).await.unwrap() {
            lost_proofs += 1;
        }
    }
    // The other instance's cache: trusted again, and it knows every committed revocation.
    assert!(
        reader.wait_for_cache(Duration::from_secs(20)).await,
        "the reader's cache is trusted again after the failover"
    );
    let trusted_at = killed_at.elapsed();
    let unknown_to_reader = c
        .revocations
        .iter()
        .filter(|d| reader.is_revoked_now(d) != Some(Ok(true)))
        .count();
    println!(
        "failover under load: {} revocations, {} families and {} proof ids committed, {} writes refused during the failover; \
         replica promoted after {promoted:?}, writes on every shard again after {resumed_at:?}, \
         reader's cache trusted again after {trusted_at:?}; lost: {lost_revocations} revocations, \
         {lost_families} families, {lost_proofs} proof ids; unknown to the reader's cache: \
         {unknown_to_reader}",
        c.revocations.len(),
        c.families.len(),
        c.proofs.len(),
        c.failed
    );
    assert!(
        c.failed > 0,
        "some writes hit the dead master (the test killed the right thing)"
    );
    assert_eq!(lost_revocations, 0);
    assert!(!c.proofs.is_empty(), "the load recorded proof ids");
    assert_eq!(
        lost_proofs, 0,
        "a proof id lost in the failover could be replayed"
    );
    assert_eq!(lost_families, 0);
    assert_eq!(unknown_to_reader, 0);
    let uniq: HashSet<_> = c.families.iter().map(|(id, _)| id).collect();
    assert_eq!(uniq.len(), c.families.len());

    // Leave the cluster whole for the next test binaries: the restarted node is a synced
    // replica.
    let t0 = Instant::now();
    loop {
        let ok = cluster_ok(victim).await;
        let view = cluster_nodes(&format!("127.0.0.1:{victim}")).await;
        if ok
            && view.as_ref().is_some_and(|v| {
                v.iter().any(|n| {
                    n.port == victim && n.flags.contains("slave") && !n.flags.contains("fail")
                })
            })
        {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "the old master never rejoined: cluster ok {ok}, its view {view:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
