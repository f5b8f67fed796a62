//! The DPoP replay cache's checks (`store::ProofReplay`), part of the suite: each runs
//! against the store as it is and behind its circuit breaker (`Guarded::replay`), which
//! must answer as the store it wraps.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum_token_auth::store::breaker::{GuardSettings, Guarded};
use axum_token_auth::store::{ProofId, ProofReplay};
use tokio::sync::Barrier;

use crate::suite::{Stores, now, uid};

/// A fresh proof id (random key thumbprint and `jti`).
fn proof_id() -> ProofId {
    ProofId::of(&uid("jkt"), &uid("jti"))
}

/// The store behind its breaker, with timeouts no loaded test machine reaches (the
/// outage tests check that a store that is down is refused fast).
fn guarded(store: &Arc<dyn ProofReplay>) -> Arc<dyn ProofReplay> {
    let settings = GuardSettings::default()
        .check_timeout(Duration::from_secs(10))
        .call_timeout(Duration::from_secs(10));
    Arc::new(Guarded::replay(Arc::clone(store), &settings))
}

/// The store as it is, and behind its breaker.
fn views(store: &Arc<dyn ProofReplay>) -> [(&'static str, Arc<dyn ProofReplay>); 2] {
    [("store", Arc::clone(store)), ("guarded", guarded(store))]
}

async fn first_use(store: &dyn ProofReplay, id: &ProofId, expires_at: u64) -> bool {
    store
        .first_use(id, expires_at)
        .await
        .expect("first_use answers")
}

/// An id is accepted once and refused while it is held; other ids are independent; an
/// id whose window has already passed is accepted (and not held).
pub async fn proof_first_use_then_replay(s: Stores) {
    for (view, store) in views(&s.replay) {
        let t = now();
        let id = proof_id();
        let recorded = |id| {
            let store = Arc::clone(&store);
            async move { store.is_recorded(&id).await.expect("is_recorded answers") }
        };
        assert!(
            !recorded(id).await,
            "{view}: not recorded before its first use"
        );
        assert!(!recorded(id).await, "{view}: asking records nothing");
        assert!(first_use(&*store, &id, t + 60).await, "{view}: first use");
        assert!(recorded(id).await, "{view}: recorded by its first use");
        assert!(!first_use(&*store, &id, t + 60).await, "{view}: a replay");
        assert!(
            !first_use(&*store, &id, t + 600).await,
            "{view}: a replay with a later window"
        );
        assert!(
            first_use(&*store, &proof_id(), t + 60).await,
            "{view}: another id"
        );
        let gone = proof_id();
        assert!(first_use(&*store, &gone, t - 10).await, "{view}: expired");
        assert!(
            first_use(&*store, &gone, t - 10).await,
            "{view}: an expired id is not held"
        );
        assert!(
            !recorded(gone).await,
            "{view}: an expired id is not recorded"
        );
    }
}

/// Sleeps until the wall clock is past `at` (seconds since the epoch) by 100 ms.
async fn sleep_past(at: u64) {
    let target = Duration::from_secs(at) + Duration::from_millis(100);
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    if let Some(wait) = target.checked_sub(now) {
        tokio::time::sleep(wait).await;
    }
}

/// An id is held until its `expires_at`, then usable again (for a new window).
pub async fn proof_id_expires_and_is_usable_again(s: Stores) {
    let checks = views(&s.replay).map(|(view, store)| async move {
        let id = proof_id();
        let until = now() + 1;
        assert!(first_use(&*store, &id, until).await, "{view}: first use");
        assert!(!first_use(&*store, &id, until).await, "{view}: a replay");
        sleep_past(until).await;
        assert!(
            first_use(&*store, &id, now() + 60).await,
            "{view}: usable again once expired"
        );
        assert!(
            !first_use(&*store, &id, now() + 60).await,
            "{view}: held again for the new window"
        );
    });
    let [a, b] = checks;
    tokio::join!(a, b);
}

/// `N` concurrent `first_use` of one id, spread over `stores`, released together by a
/// barrier: how many were told `true`.
async fn race(stores: &[Arc<dyn ProofReplay>], id: ProofId) -> usize {
    const N: usize = 50;
    let barrier = Arc::new(Barrier::new(N));
    let until = now() + 60;
    let tasks: Vec<_> = (0..N)
        .map(|i| {
            let store = Arc::clone(&stores[i % stores.len()]);
            let barrier = Arc::clone(&barrier);
            tokio::spawn(async move {
                barrier.wait().await;
                store
                    .first_use(&id, until)
                    .await
                    .expect("first_use answers")
            })
        })
        .collect();
    let mut accepted = 0;
    for t in tasks {
        accepted += usize::from(t.await.expect("task"));
    }
    accepted
}

/// 50 concurrent uses of one proof: exactly one is accepted.
pub async fn proof_concurrent_first_use_accepts_one(s: Stores) {
    for (view, store) in views(&s.replay) {
        let accepted = race(&[store], proof_id()).await;
        assert_eq!(accepted, 1, "{view}: {accepted} of 50 accepted");
    }
}

/// Two handles (two instances of a service) over one store: a proof used through one is
/// a replay through the other, and 50 concurrent uses split over both accept one.
pub async fn proof_replay_across_handles(a: Stores, b: Stores) {
    for (view, (a, b)) in [
        ("store", (Arc::clone(&a.replay), Arc::clone(&b.replay))),
        ("guarded", (guarded(&a.replay), guarded(&b.replay))),
    ] {
        let t = now();
        let id = proof_id();
        assert!(first_use(&*a, &id, t + 60).await, "{view}: first use on a");
        assert!(
            !first_use(&*b, &id, t + 60).await,
            "{view}: b refuses a's proof"
        );
        let id = proof_id();
        assert!(first_use(&*b, &id, t + 60).await, "{view}: first use on b");
        assert!(
            !first_use(&*a, &id, t + 60).await,
            "{view}: a refuses b's proof"
        );
        let accepted = race(&[a, b], proof_id()).await;
        assert_eq!(accepted, 1, "{view}: {accepted} of 50 accepted");
    }
}
