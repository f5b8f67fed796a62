//! The store-independent conformance suite: one set of async checks over
//! `Arc<dyn RefreshStore>`, `Arc<dyn SubjectRevocation>`, `Arc<dyn GrantStore>` and
//! `Arc<dyn ProofReplay>` (its checks in `replay.rs`),
//! instantiated per store by [`conformance_suite!`].
//!
//! Every check uses fresh random ids (families, users, tenants, digests), so checks can
//! run in parallel against one shared database without cleaning it. Times are the real
//! clock's ("now" below), and no check creates a family that has already ended except
//! `purge_expired`, so one check's purge never removes another check's rows.

use axum_token_auth::trust::{Revocation, TokenCheck};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum_token_auth::store::grants::{AuditAction, GrantChange, GrantStore};
use axum_token_auth::store::{
    AccessRef, NewSession, ProofReplay, RefreshStore, RevocationCheck, RevocationStore,
    RotateOutcome, Rotation, StoreError, SubjectRevocation, Successor, TokenDigest,
};
use axum_token_auth::token::Scope;
use axum_token_auth::trust::VerifyError;
use tokio::sync::Barrier;

/// Handles to the stores under test. For a shared backend, two `Stores` opened one
/// after the other are two instances (two pools / clients) over the same data.
#[derive(Clone)]
pub struct Stores {
    /// The refresh-family store.
    pub refresh: Arc<dyn RefreshStore>,
    /// The revocation store.
    pub revocation: Arc<dyn SubjectRevocation>,
    /// The grant store.
    pub grants: Arc<dyn GrantStore>,
    /// The DPoP replay cache (checks in `replay.rs`).
    pub replay: Arc<dyn ProofReplay>,
}

impl Stores {
    /// All four roles played by one store (PostgreSQL, Redis).
    #[allow(dead_code)]
    pub fn all<T: RefreshStore + SubjectRevocation + GrantStore + ProofReplay>(store: T) -> Self {
        let store = Arc::new(store);
        Stores {
            refresh: store.clone(),
            revocation: store.clone(),
            grants: store.clone(),
            replay: store,
        }
    }
}

pub use crate::replay::{
    proof_concurrent_first_use_accepts_one, proof_first_use_then_replay,
    proof_id_expires_and_is_usable_again, proof_replay_across_handles,
};

/// Generates one `#[tokio::test]` (multi-thread runtime) per check for a store.
///
/// ```ignore
/// conformance_suite!(memory, open: open_memory(), reopen: |s: &Stores| { let s = s.clone(); async move { s } });
/// ```
///
/// - `open`: an async expression (evaluated anew in every test) giving fresh [`Stores`];
/// - `reopen`: a closure from the first [`Stores`] to an async expression giving a second
///   handle over the *same* data: another connection pool / client for a shared backend
///   (two instances of a service), a clone for an in-process store.
macro_rules! conformance_suite {
    ($name:ident, open: $open:expr, reopen: $reopen:expr $(,)?) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            conformance_suite!(@one $open;
                create_and_verify,
                rotation,
                rotation_table,
                access_list_is_bounded,
                reuse_revokes_the_family,
                parent_after_grace_is_reuse,
                grace_retry_returns_the_same_successor,
                grandparent_is_reuse,
                compromise_revokes_the_family,
                concurrent_rotations_make_one_successor,
                concurrent_rotations_without_grace,
                successor_is_capped_at_the_family_end,
                ended_family_is_unknown,
                revoke_session,
                revoke_user,
                sessions,
                purge_expired,
                revocation,
                revocation_expires,
                revoke_all_for_a_subject,
                revoke_all_covers_every_issuing_path,
                revoke_for_a_subject_revokes_the_token,
                external_keys_are_cutoffs_of_their_own,
                grants,
                grants_reject_invalid_ids,
                grants_as_plain_strings_and_unattributed_revocation,
                proof_first_use_then_replay,
                proof_id_expires_and_is_usable_again,
                proof_concurrent_first_use_accepts_one,
            );
            conformance_suite!(@two $open, $reopen;
                concurrent_rotations_across_handles,
                revocation_across_handles,
                revoke_all_across_handles,
                external_revocation_across_handles,
                grants_across_handles,
                proof_replay_across_handles,
            );
        }
    };
    (@one $open:expr; $($check:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $check() {
                let stores = ($open).await;
                crate::suite::$check(stores).await;
            }
        )*
    };
    (@two $open:expr, $reopen:expr; $($check:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $check() {
                let a = ($open).await;
                let b = ($reopen)(&a).await;
                crate::suite::$check(a, b).await;
            }
        )*
    };
}

// ---------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------

/// A random id with a readable prefix (unique per test, per run).
pub fn uid(prefix: &str) -> String {
    let mut b = [0u8; 12];
    getrandom::fill(&mut b).expect("random source");
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{prefix}-{hex}")
}

/// The real clock, in seconds.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

fn digest(jti: &str) -> TokenDigest {
    TokenDigest::of_jti(jti)
}

/// A family's first refresh token and access token.
struct Login {
    session_id: String,
    user_id: String,
    refresh_jti: String,
    access: AccessRef,
}

/// Creates a family for `user_id` at `at`, ending at `ends`; the access token lives
/// `access_ttl` seconds.
async fn login(
    store: &dyn RefreshStore,
    user_id: &str,
    at: u64,
    ends: u64,
    access_ttl: u64,
) -> Login {
    let l = Login {
        session_id: uid("fam"),
        user_id: user_id.to_owned(),
        refresh_jti: uid("rt"),
        access: AccessRef {
            jti: uid("at"),
            expires_at: at + access_ttl,
        },
    };
    store
        .create_session(NewSession {
            session_id: l.session_id.clone(),
            user_id: l.user_id.clone(),
            refresh: digest(&l.refresh_jti),
            access: l.access.clone(),
            created_at: at,
            expires_at: ends,
            user_agent: Some("conformance/1.0".into()),
            device: Some("Alice's phone".into()),
            ip: Some("203.0.113.7".into()),
        })
        .await
        .expect("create_session");
    l
}

/// A fresh successor pair issued at `at`.
fn successor(at: u64) -> Successor {
    Successor {
        refresh_jti: uid("rt"),
        access_jti: uid("at"),
        issued_at: at,
        refresh_expires_at: at + 3600,
        access_expires_at: at + 300,
    }
}

fn rot(
    session_id: &str,
    presented_jti: &str,
    succ: &Successor,
    at: u64,
    grace_secs: u64,
    presented_access: Option<&str>,
) -> Rotation {
    Rotation {
        session_id: session_id.to_owned(),
        presented: digest(presented_jti),
        successor: succ.clone(),
        now: at,
        grace_secs,
        presented_access: presented_access.map(str::to_owned),
    }
}

async fn rotate(store: &dyn RefreshStore, r: Rotation) -> RotateOutcome {
    store.rotate(r).await.expect("rotate")
}

fn access_ref(s: &Successor) -> AccessRef {
    AccessRef {
        jti: s.access_jti.clone(),
        expires_at: s.access_expires_at,
    }
}

fn sorted(mut v: Vec<AccessRef>) -> Vec<AccessRef> {
    v.sort_by(|a, b| a.jti.cmp(&b.jti));
    v
}

fn scope(s: &str) -> Scope {
    Scope::new(s).expect("valid scope")
}

// ---------------------------------------------------------------------------
// refresh families
// ---------------------------------------------------------------------------

/// Every case of the rotation table (`rotation_cases.rs`), through
/// [`RefreshStore::rotate`]: the same table the pure decision is held to inside the crate,
/// so the stores that call it and the Redis Lua script that cannot are held to one list
/// of cases. Afterwards the family's current token verifies, or the family is gone.
pub async fn rotation_table(s: Stores) {
    let store = &*s.refresh;
    let t0 = now();
    let mut failures = Vec::new();
    for case in crate::rotation_cases::CASES {
        let script = crate::rotation_cases::script(case, t0, &mut uid);
        if let Some(family) = &script.family {
            store
                .create_session(family.clone())
                .await
                .expect("create_session");
        }
        for r in &script.setup {
            let out = rotate(store, r.clone()).await;
            assert!(
                matches!(out, RotateOutcome::Rotated(_)),
                "{}: a step of the history did not rotate: {out:?}",
                case.name
            );
        }
        let out = rotate(store, script.rotation.clone()).await;
        let fam = &script.rotation.session_id;
        let verifies = async |d: &TokenDigest, at: u64| store.verify(fam, d, at).await.unwrap();
        // Before its end, the family's current token: the expected one, the one before
        // the rotation, or none (the family is gone).
        let current = match script.after {
            Some(d) if verifies(&d, t0).await => Some(d),
            _ if verifies(&script.before, t0).await => Some(script.before),
            _ => None,
        };
        failures.extend(script.mismatch(out, current));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A new family's first token verifies; nothing else does.
pub async fn create_and_verify(s: Stores) {
    let store = &*s.refresh;
    let t = now();
    let user = uid("user");
    let l = login(store, &user, t, t + 1000, 300).await;

    assert!(
        store
            .verify(&l.session_id, &digest(&l.refresh_jti), t)
            .await
            .unwrap()
    );
    assert!(
        !store
            .verify(&l.session_id, &digest("other"), t)
            .await
            .unwrap()
    );
    assert!(
        !store
            .verify(&uid("fam"), &digest(&l.refresh_jti), t)
            .await
            .unwrap()
    );
    assert!(
        !store
            .verify(&l.session_id, &digest(&l.refresh_jti), t + 1000)
            .await
            .unwrap(),
        "a family is over at its end"
    );
    assert!(
        store
            .verify(&l.session_id, &digest(&l.refresh_jti), t + 999)
            .await
            .unwrap()
    );

    let session = store
        .session(&l.session_id, t)
        .await
        .unwrap()
        .expect("session");
    assert_eq!(session.id, l.session_id);
    assert_eq!(session.user_id, user);
    assert_eq!(session.created_at, t);
    assert_eq!(session.last_used_at, t);
    assert_eq!(session.expires_at, t + 1000);
    assert_eq!(session.user_agent.as_deref(), Some("conformance/1.0"));
    assert_eq!(session.device.as_deref(), Some("Alice's phone"));
    assert_eq!(session.ip.as_deref(), Some("203.0.113.7"));
    assert!(store.session(&uid("fam"), t).await.unwrap().is_none());
}

/// The current token rotates to the successor, which becomes the only valid token;
/// expired access refs are pruned and the new one recorded.
/// A client refreshing in a loop cannot grow a family's record: it remembers at most
/// `MAX_ACCESS_PER_SESSION` access tokens, the most recent ones.
pub async fn access_list_is_bounded(s: Stores) {
    let store = &*s.refresh;
    let t = now();
    let l = login(store, &uid("user"), t, t + 10_000, 600).await;
    let mut presented = l.refresh_jti.clone();
    let mut last = None;
    for i in 0..40 {
        let succ = successor(t + i);
        let out = rotate(store, rot(&l.session_id, &presented, &succ, t + i, 0, None)).await;
        assert_eq!(out, RotateOutcome::Rotated(succ.clone()));
        presented = succ.refresh_jti.clone();
        last = Some(succ);
    }
    let known = store.revoke_session(&l.session_id).await.unwrap();
    assert_eq!(known.len(), axum_token_auth::store::MAX_ACCESS_PER_SESSION);
    assert!(
        known.contains(&access_ref(&last.unwrap())),
        "the newest is kept"
    );
}

pub async fn rotation(s: Stores) {
    let store = &*s.refresh;
    let t = now();
    let l = login(store, &uid("user"), t, t + 10_000, 5).await;

    // With the correct access token presented.
    let s1 = successor(t + 10);
    let out = rotate(
        store,
        rot(
            &l.session_id,
            &l.refresh_jti,
            &s1,
            t + 10,
            10,
            Some(&l.access.jti),
        ),
    )
    .await;
    assert_eq!(out, RotateOutcome::Rotated(s1.clone()));
    assert!(
        !store
            .verify(&l.session_id, &digest(&l.refresh_jti), t + 10)
            .await
            .unwrap()
    );
    assert!(
        store
            .verify(&l.session_id, &digest(&s1.refresh_jti), t + 10)
            .await
            .unwrap()
    );
    let session = store.session(&l.session_id, t + 10).await.unwrap().unwrap();
    assert_eq!(session.last_used_at, t + 10);
    assert_eq!(session.created_at, t);

    // And again, without an access token.
    let s2 = successor(t + 20);
    let out = rotate(
        store,
        rot(&l.session_id, &s1.refresh_jti, &s2, t + 20, 10, None),
    )
    .await;
    assert_eq!(out, RotateOutcome::Rotated(s2.clone()));
    assert!(
        store
            .verify(&l.session_id, &digest(&s2.refresh_jti), t + 20)
            .await
            .unwrap()
    );
    assert!(
        !store
            .verify(&l.session_id, &digest(&s1.refresh_jti), t + 20)
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .session(&l.session_id, t + 20)
            .await
            .unwrap()
            .unwrap()
            .last_used_at,
        t + 20
    );

    // The first access token (expired at t + 5) was pruned at the first rotation.
    let known = store.revoke_session(&l.session_id).await.unwrap();
    assert_eq!(
        sorted(known),
        sorted(vec![access_ref(&s1), access_ref(&s2)])
    );
}

/// Presenting a consumed token revokes the family: the newest token is dead too, and
/// the family's access tokens are returned.
pub async fn reuse_revokes_the_family(s: Stores) {
    let store = &*s.refresh;
    let t = now();
    let user = uid("user");
    let l = login(store, &user, t, t + 10_000, 600).await;
    let s1 = successor(t + 1);
    assert!(matches!(
        rotate(
            store,
            rot(&l.session_id, &l.refresh_jti, &s1, t + 1, 0, None)
        )
        .await,
        RotateOutcome::Rotated(_)
    ));

    // grace 0: the parent is reuse at once.
    let out = rotate(
        store,
        rot(
            &l.session_id,
            &l.refresh_jti,
            &successor(t + 2),
            t + 2,
            0,
            None,
        ),
    )
    .await;
    let RotateOutcome::Reused { user_id, access } = out else {
        panic!("expected Reused, got {out:?}");
    };
    assert_eq!(user_id, user);
    assert_eq!(
        sorted(access),
        sorted(vec![l.access.clone(), access_ref(&s1)])
    );

    // The newest token is dead, the family gone.
    assert!(
        !store
            .verify(&l.session_id, &digest(&s1.refresh_jti), t + 2)
            .await
            .unwrap()
    );
    assert_eq!(
        rotate(
            store,
            rot(
                &l.session_id,
                &s1.refresh_jti,
                &successor(t + 3),
                t + 3,
                0,
                None
            )
        )
        .await,
        RotateOutcome::Unknown
    );
    assert!(store.session(&l.session_id, t + 3).await.unwrap().is_none());
    assert!(
        store
            .revoke_session(&l.session_id)
            .await
            .unwrap()
            .is_empty()
    );
}

/// The parent after the grace window is reuse.
pub async fn parent_after_grace_is_reuse(s: Stores) {
    let store = &*s.refresh;
    let t = now();
    let l = login(store, &uid("user"), t, t + 10_000, 600).await;
    let s1 = successor(t + 100);
    let r = rot(&l.session_id, &l.refresh_jti, &s1, t + 100, 10, None);
    assert!(matches!(rotate(store, r).await, RotateOutcome::Rotated(_)));
    // Last second of the window: still a retry.
    let r = rot(
        &l.session_id,
        &l.refresh_jti,
        &successor(t + 110),
        t + 110,
        10,
        None,
    );
    assert_eq!(rotate(store, r).await, RotateOutcome::Retry(s1.clone()));
    // One second later: reuse.
    let r = rot(
        &l.session_id,
        &l.refresh_jti,
        &successor(t + 111),
        t + 111,
        10,
        None,
    );
    assert!(matches!(
        rotate(store, r).await,
        RotateOutcome::Reused { .. }
    ));
    assert!(
        !store
            .verify(&l.session_id, &digest(&s1.refresh_jti), t + 111)
            .await
            .unwrap()
    );
}

/// A retry of the parent within the grace window gets the same successor, and does not
/// consume it.
pub async fn grace_retry_returns_the_same_successor(s: Stores) {
    let store = &*s.refresh;
    let t = now();
    let l = login(store, &uid("user"), t, t + 10_000, 600).await;
    let s1 = successor(t + 1);
    let r = rot(
        &l.session_id,
        &l.refresh_jti,
        &s1,
        t + 1,
        10,
        Some(&l.access.jti),
    );
    assert_eq!(rotate(store, r).await, RotateOutcome::Rotated(s1.clone()));

    for at in [t + 1, t + 5] {
        // The retry presents the parent's access token (or none).
        let r = rot(
            &l.session_id,
            &l.refresh_jti,
            &successor(at),
            at,
            10,
            Some(&l.access.jti),
        );
        assert_eq!(rotate(store, r).await, RotateOutcome::Retry(s1.clone()));
        let r = rot(&l.session_id, &l.refresh_jti, &successor(at), at, 10, None);
        assert_eq!(rotate(store, r).await, RotateOutcome::Retry(s1.clone()));
    }
    assert!(
        store
            .verify(&l.session_id, &digest(&s1.refresh_jti), t + 5)
            .await
            .unwrap()
    );

    // The successor still rotates normally afterwards.
    let s2 = successor(t + 6);
    let r = rot(
        &l.session_id,
        &s1.refresh_jti,
        &s2,
        t + 6,
        10,
        Some(&s1.access_jti),
    );
    assert_eq!(rotate(store, r).await, RotateOutcome::Rotated(s2.clone()));
    // Now s1 is the parent: a retry of it gets s2.
    let r = rot(
        &l.session_id,
        &s1.refresh_jti,
        &successor(t + 7),
        t + 7,
        10,
        None,
    );
    assert_eq!(rotate(store, r).await, RotateOutcome::Retry(s2));
}

/// Only the immediate parent may retry: the grandparent, even within the grace
/// window, is reuse.
pub async fn grandparent_is_reuse(s: Stores) {
    let store = &*s.refresh;
    let t = now();
    let user = uid("user");
    let l = login(store, &user, t, t + 10_000, 600).await;
    let s1 = successor(t + 1);
    let s2 = successor(t + 2);
    let r = rot(&l.session_id, &l.refresh_jti, &s1, t + 1, 10, None);
    assert!(matches!(rotate(store, r).await, RotateOutcome::Rotated(_)));
    let r = rot(&l.session_id, &s1.refresh_jti, &s2, t + 2, 10, None);
    assert!(matches!(rotate(store, r).await, RotateOutcome::Rotated(_)));

    let r = rot(
        &l.session_id,
        &l.refresh_jti,
        &successor(t + 3),
        t + 3,
        10,
        None,
    );
    let RotateOutcome::Reused { user_id, access } = rotate(store, r).await else {
        panic!("the grandparent must be reuse");
    };
    assert_eq!(user_id, user);
    assert_eq!(
        sorted(access),
        sorted(vec![l.access.clone(), access_ref(&s1), access_ref(&s2)])
    );
    assert!(
        !store
            .verify(&l.session_id, &digest(&s2.refresh_jti), t + 3)
            .await
            .unwrap()
    );
}

/// A refresh token presented with an access token other than its own is compromised:
/// the family is revoked (current token and parent within grace alike).
pub async fn compromise_revokes_the_family(s: Stores) {
    let store = &*s.refresh;
    let t = now();

    // The current token with a foreign access token.
    let user = uid("user");
    let l = login(store, &user, t, t + 10_000, 600).await;
    let r = rot(
        &l.session_id,
        &l.refresh_jti,
        &successor(t + 1),
        t + 1,
        10,
        Some("foreign"),
    );
    let RotateOutcome::Compromised { user_id, access } = rotate(store, r).await else {
        panic!("expected Compromised");
    };
    assert_eq!(user_id, user);
    assert_eq!(access, vec![l.access.clone()]);
    assert!(
        !store
            .verify(&l.session_id, &digest(&l.refresh_jti), t + 1)
            .await
            .unwrap()
    );
    assert!(store.session(&l.session_id, t + 1).await.unwrap().is_none());

    // The parent within grace, presented with its successor's access token (not its own).
    let l = login(store, &user, t, t + 10_000, 600).await;
    let s1 = successor(t + 1);
    let r = rot(&l.session_id, &l.refresh_jti, &s1, t + 1, 10, None);
    assert!(matches!(rotate(store, r).await, RotateOutcome::Rotated(_)));
    let r = rot(
        &l.session_id,
        &l.refresh_jti,
        &successor(t + 2),
        t + 2,
        10,
        Some(&s1.access_jti),
    );
    let RotateOutcome::Compromised { access, .. } = rotate(store, r).await else {
        panic!("expected Compromised for the parent");
    };
    assert_eq!(
        sorted(access),
        sorted(vec![l.access.clone(), access_ref(&s1)])
    );
    assert!(
        !store
            .verify(&l.session_id, &digest(&s1.refresh_jti), t + 2)
            .await
            .unwrap()
    );

    // A token the family does not map (grandparent) with a foreign access token: reuse.
    let l = login(store, &user, t, t + 10_000, 600).await;
    let s1 = successor(t + 1);
    let s2 = successor(t + 2);
    let r = rot(&l.session_id, &l.refresh_jti, &s1, t + 1, 10, None);
    assert!(matches!(rotate(store, r).await, RotateOutcome::Rotated(_)));
    let r = rot(&l.session_id, &s1.refresh_jti, &s2, t + 2, 10, None);
    assert!(matches!(rotate(store, r).await, RotateOutcome::Rotated(_)));
    let r = rot(
        &l.session_id,
        &l.refresh_jti,
        &successor(t + 3),
        t + 3,
        10,
        Some("x"),
    );
    assert!(matches!(
        rotate(store, r).await,
        RotateOutcome::Reused { .. }
    ));
}

/// Runs `n` rotations of the current token of `l` at once, alternating between the
/// given handles; returns the outcomes.
async fn race(
    stores: &[Arc<dyn RefreshStore>],
    l: &Login,
    t: u64,
    grace: u64,
) -> Vec<RotateOutcome> {
    const N: usize = 32;
    let barrier = Arc::new(Barrier::new(N));
    let tasks: Vec<_> = (0..N)
        .map(|i| {
            let store = stores[i % stores.len()].clone();
            let barrier = barrier.clone();
            let r = rot(
                &l.session_id,
                &l.refresh_jti,
                &successor(t + 1),
                t + 1,
                grace,
                None,
            );
            tokio::spawn(async move {
                barrier.wait().await;
                store.rotate(r).await.expect("rotate")
            })
        })
        .collect();
    let mut out = Vec::with_capacity(N);
    for task in tasks {
        out.push(task.await.expect("task"));
    }
    out
}

/// 32 concurrent rotations of one token (grace on) give one successor: one `Rotated`,
/// 31 `Retry` of that same successor.
pub async fn check_one_successor(stores: &[Arc<dyn RefreshStore>]) {
    let t = now();
    let l = login(&*stores[0], &uid("user"), t, t + 10_000, 600).await;
    let out = race(stores, &l, t, 10).await;
    let rotated: Vec<&Successor> = out
        .iter()
        .filter_map(|o| match o {
            RotateOutcome::Rotated(s) => Some(s),
            _ => None,
        })
        .collect();
    assert_eq!(rotated.len(), 1, "exactly one rotation wins: {out:?}");
    let winner = rotated[0].clone();
    let distinct: HashSet<&str> = out
        .iter()
        .map(|o| match o {
            RotateOutcome::Rotated(s) | RotateOutcome::Retry(s) => s.refresh_jti.as_str(),
            other => panic!("only Rotated/Retry expected, got {other:?}"),
        })
        .collect();
    assert_eq!(distinct.len(), 1, "one distinct successor");
    for s in stores {
        assert!(
            s.verify(&l.session_id, &digest(&winner.refresh_jti), t + 1)
                .await
                .unwrap()
        );
    }
}

/// 32 concurrent rotations of one token without grace: one `Rotated`, then the first
/// loser detects reuse (family revoked) and the rest find no family.
pub async fn check_no_grace(stores: &[Arc<dyn RefreshStore>]) {
    let t = now();
    let l = login(&*stores[0], &uid("user"), t, t + 10_000, 600).await;
    let out = race(stores, &l, t, 0).await;
    let count = |f: fn(&RotateOutcome) -> bool| out.iter().filter(|o| f(o)).count();
    assert_eq!(
        count(|o| matches!(o, RotateOutcome::Rotated(_))),
        1,
        "{out:?}"
    );
    assert_eq!(
        count(|o| matches!(o, RotateOutcome::Reused { .. })),
        1,
        "{out:?}"
    );
    assert_eq!(
        count(|o| matches!(o, RotateOutcome::Unknown)),
        out.len() - 2,
        "{out:?}"
    );
    assert!(
        stores[0]
            .session(&l.session_id, t + 1)
            .await
            .unwrap()
            .is_none()
    );
}

/// See [`check_one_successor`].
pub async fn concurrent_rotations_make_one_successor(s: Stores) {
    check_one_successor(&[s.refresh]).await;
}

/// See [`check_no_grace`].
pub async fn concurrent_rotations_without_grace(s: Stores) {
    check_no_grace(&[s.refresh]).await;
}

/// The same races split over two handles (two instances).
pub async fn concurrent_rotations_across_handles(a: Stores, b: Stores) {
    let stores = [a.refresh, b.refresh];
    check_one_successor(&stores).await;
    check_no_grace(&stores).await;
}

/// No refresh token outlives its family: the successor's expiry is capped, also when
/// a retry returns it.
pub async fn successor_is_capped_at_the_family_end(s: Stores) {
    let store = &*s.refresh;
    let t = now();
    let l = login(store, &uid("user"), t, t + 100, 600).await;
    let s1 = successor(t + 1); // refresh_expires_at = t + 3601
    let r = rot(&l.session_id, &l.refresh_jti, &s1, t + 1, 10, None);
    let capped = Successor {
        refresh_expires_at: t + 100,
        ..s1.clone()
    };
    assert_eq!(
        rotate(store, r).await,
        RotateOutcome::Rotated(capped.clone())
    );
    let r = rot(
        &l.session_id,
        &l.refresh_jti,
        &successor(t + 2),
        t + 2,
        10,
        None,
    );
    assert_eq!(rotate(store, r).await, RotateOutcome::Retry(capped));

    // A successor ending before the family is left alone.
    let mut s2 = successor(t + 3);
    s2.refresh_expires_at = t + 50;
    let r = rot(&l.session_id, &s1.refresh_jti, &s2, t + 3, 10, None);
    assert_eq!(rotate(store, r).await, RotateOutcome::Rotated(s2));
}

/// A family past its end is unknown, even for its current token.
pub async fn ended_family_is_unknown(s: Stores) {
    let store = &*s.refresh;
    let t = now();
    let l = login(store, &uid("user"), t, t + 100, 600).await;
    let r = rot(
        &l.session_id,
        &l.refresh_jti,
        &successor(t + 100),
        t + 100,
        10,
        None,
    );
    assert_eq!(rotate(store, r).await, RotateOutcome::Unknown);
    assert!(
        !store
            .verify(&l.session_id, &digest(&l.refresh_jti), t + 100)
            .await
            .unwrap()
    );
    assert!(
        store
            .session(&l.session_id, t + 100)
            .await
            .unwrap()
            .is_none()
    );

    let r = rot(&uid("fam"), &uid("rt"), &successor(t), t, 10, None);
    assert_eq!(rotate(store, r).await, RotateOutcome::Unknown);
}

/// Revoking one family kills its tokens and returns its access tokens; the user's other
/// families are untouched.
pub async fn revoke_session(s: Stores) {
    let store = &*s.refresh;
    let t = now();
    let user = uid("user");
    let a = login(store, &user, t, t + 10_000, 600).await;
    let b = login(store, &user, t + 1, t + 10_000, 600).await;
    let s1 = successor(t + 2);
    let r = rot(&a.session_id, &a.refresh_jti, &s1, t + 2, 10, None);
    assert!(matches!(rotate(store, r).await, RotateOutcome::Rotated(_)));

    let known = store.revoke_session(&a.session_id).await.unwrap();
    assert_eq!(
        sorted(known),
        sorted(vec![a.access.clone(), access_ref(&s1)])
    );
    assert!(
        !store
            .verify(&a.session_id, &digest(&s1.refresh_jti), t + 3)
            .await
            .unwrap()
    );
    let r = rot(
        &a.session_id,
        &s1.refresh_jti,
        &successor(t + 3),
        t + 3,
        10,
        None,
    );
    assert_eq!(rotate(store, r).await, RotateOutcome::Unknown);
    assert!(
        store
            .revoke_session(&a.session_id)
            .await
            .unwrap()
            .is_empty(),
        "idempotent"
    );
    assert!(store.revoke_session(&uid("fam")).await.unwrap().is_empty());

    assert!(
        store
            .verify(&b.session_id, &digest(&b.refresh_jti), t + 3)
            .await
            .unwrap()
    );
    let ids: Vec<String> = store
        .list_sessions(&user, t + 3)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(ids, vec![b.session_id]);
}

/// Revoking a user kills all of their families and no one else's.
pub async fn revoke_user(s: Stores) {
    let store = &*s.refresh;
    let t = now();
    let user = uid("user");
    let other = uid("user");
    let a = login(store, &user, t, t + 10_000, 600).await;
    let b = login(store, &user, t + 1, t + 10_000, 600).await;
    let c = login(store, &other, t, t + 10_000, 600).await;

    let known = store.revoke_user(&user).await.unwrap();
    assert_eq!(
        sorted(known),
        sorted(vec![a.access.clone(), b.access.clone()])
    );
    assert!(!store.user_has_sessions(&user, t + 2).await.unwrap());
    assert!(store.list_sessions(&user, t + 2).await.unwrap().is_empty());
    for l in [&a, &b] {
        assert!(
            !store
                .verify(&l.session_id, &digest(&l.refresh_jti), t + 2)
                .await
                .unwrap()
        );
    }
    assert!(store.revoke_user(&user).await.unwrap().is_empty());

    assert!(store.user_has_sessions(&other, t + 2).await.unwrap());
    assert!(
        store
            .verify(&c.session_id, &digest(&c.refresh_jti), t + 2)
            .await
            .unwrap()
    );
}

/// Session lists: the user's active families, oldest first; ended ones are left out.
pub async fn sessions(s: Stores) {
    let store = &*s.refresh;
    let t = now();
    let user = uid("user");
    assert!(!store.user_has_sessions(&user, t).await.unwrap());
    assert!(store.list_sessions(&user, t).await.unwrap().is_empty());

    let newer = login(store, &user, t + 2, t + 10_000, 600).await;
    let older = login(store, &user, t + 1, t + 10_000, 600).await;
    let short = login(store, &user, t + 3, t + 100, 600).await;
    let _stranger = login(store, &uid("user"), t, t + 10_000, 600).await;

    let list = store.list_sessions(&user, t + 5).await.unwrap();
    let ids: Vec<&str> = list.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(
        ids,
        [&older.session_id, &newer.session_id, &short.session_id]
    );
    assert!(list.iter().all(|s| s.user_id == user));
    assert_eq!(list[0].created_at, t + 1);

    // `short` ends at t + 100.
    let list = store.list_sessions(&user, t + 100).await.unwrap();
    let ids: Vec<&str> = list.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, [&older.session_id, &newer.session_id]);
    assert!(
        store
            .session(&short.session_id, t + 100)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .session(&short.session_id, t + 99)
            .await
            .unwrap()
            .is_some()
    );

    assert!(store.user_has_sessions(&user, t + 9_999).await.unwrap());
    assert!(!store.user_has_sessions(&user, t + 10_000).await.unwrap());
}

/// `purge_expired` drops ended families (for good) and keeps active ones.
pub async fn purge_expired(s: Stores) {
    let store = &*s.refresh;
    let t = now();
    let user = uid("user");
    // Ended 1000 s ago (the only kind of family in the suite that ends before "now").
    let ended = login(store, &user, t - 2000, t - 1000, 600).await;
    let active = login(store, &user, t, t + 10_000, 600).await;

    // The count is not checked: on a shared backend a concurrent test's purge may have
    // taken our family first.
    store.purge_expired(t).await.unwrap();
    // Deleted, not just inactive: not even visible at a time it was active.
    assert!(
        store
            .session(&ended.session_id, t - 1500)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .revoke_session(&ended.session_id)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .session(&active.session_id, t)
            .await
            .unwrap()
            .is_some()
    );
}

// ---------------------------------------------------------------------------
// revocation
// ---------------------------------------------------------------------------

fn random_digest() -> TokenDigest {
    digest(&uid("jti"))
}

/// The per-request check of a digest alone (a subject never revoked as a whole).
fn digest_only(d: &TokenDigest) -> RevocationCheck<'_> {
    RevocationCheck {
        digest: d,
        subject: "conformance-never-revoked-subject",
        generation: None,
        issued_at: 0,
    }
}

async fn check_revoked(store: &dyn RevocationStore, d: &TokenDigest, expected: bool) {
    assert_eq!(store.is_revoked(d).await.unwrap(), expected, "{d:?}");
    if let Some(now) = store.check_now(&digest_only(d)) {
        assert_eq!(now.unwrap(), expected, "check_now {d:?}");
    }
}

/// Revoked digests are revoked; others and already-expired ones are not.
pub async fn revocation(s: Stores) {
    let store = &*s.revocation;
    let t = now();
    let d = random_digest();
    check_revoked(store, &d, false).await;
    store.revoke(d, t + 600).await.unwrap();
    check_revoked(store, &d, true).await;
    check_revoked(store, &random_digest(), false).await;
    // Idempotent, also with a shorter expiry.
    store.revoke(d, t + 600).await.unwrap();
    store.revoke(d, t + 60).await.unwrap();
    check_revoked(store, &d, true).await;

    // Tokens already expired need no entry.
    let past = random_digest();
    store.revoke(past, t - 1).await.unwrap();
    check_revoked(store, &past, false).await;
    let edge = random_digest();
    store.revoke(edge, t.saturating_sub(10)).await.unwrap();
    check_revoked(store, &edge, false).await;
}

/// Entries expire with their tokens, and a re-revocation never shortens an entry
/// (takes about three seconds of real time).
pub async fn revocation_expires(s: Stores) {
    let store = &*s.revocation;
    let t = now();
    let short = random_digest();
    let kept = random_digest();
    // `short` must still be unexpired when written (t may be nearly a second old).
    store.revoke(short, t + 2).await.unwrap();
    store.revoke(kept, t + 8).await.unwrap();
    store.revoke(kept, t + 2).await.unwrap(); // the longer expiry wins
    check_revoked(store, &short, true).await;
    tokio::time::sleep(Duration::from_millis(3100)).await;
    check_revoked(store, &short, false).await;
    check_revoked(store, &kept, true).await;
}

/// What one instance revokes, the other sees: at once through `is_revoked` (the store
/// itself), and through an in-process answer (`check_now`, e.g. Redis's pub/sub
/// cache) within the store's documented staleness bound (2 s).
pub async fn revocation_across_handles(a: Stores, b: Stores) {
    let t = now();
    let d = random_digest();
    check_revoked(&*b.revocation, &d, false).await;
    a.revocation.revoke(d, t + 600).await.unwrap();
    assert!(b.revocation.is_revoked(&d).await.unwrap());
    eventually_revoked_now(&*b.revocation, &d).await;
    b.revocation.revoke(d, t + 700).await.unwrap();
    assert!(a.revocation.is_revoked(&d).await.unwrap());
    eventually_revoked_now(&*a.revocation, &d).await;
}

fn gen_check<'a>(
    d: &'a TokenDigest,
    subject: &'a str,
    generation: Option<u64>,
) -> RevocationCheck<'a> {
    iat_check(d, subject, generation, now())
}

fn iat_check<'a>(
    d: &'a TokenDigest,
    subject: &'a str,
    generation: Option<u64>,
    issued_at: u64,
) -> RevocationCheck<'a> {
    RevocationCheck {
        digest: d,
        subject,
        generation,
        issued_at,
    }
}

/// "Revoke everything of a user" is one write: tokens carrying an older generation are
/// revoked, newer ones are not; tokens without a generation are revoked when issued at or
/// before the cutoff, not after it.
pub async fn revoke_all_for_a_subject(s: Stores) {
    let store = &*s.revocation;
    let user = uid("user");
    let d = random_digest();
    let at = now();
    assert_eq!(store.subject_cutoff(&user).await.unwrap().generation, 0);
    assert!(!store.check(&gen_check(&d, &user, Some(0))).await.unwrap());
    assert!(!store.check(&iat_check(&d, &user, None, at)).await.unwrap());
    assert_eq!(store.revoke_all_for(&user, at).await.unwrap(), 1);
    assert_eq!(store.subject_cutoff(&user).await.unwrap().generation, 1);
    let cutoff = store.subject_cutoff(&user).await.unwrap();
    assert_eq!((cutoff.generation, cutoff.issued_through), (1, at));
    assert!(store.check(&gen_check(&d, &user, Some(0))).await.unwrap());
    assert!(!store.check(&gen_check(&d, &user, Some(1))).await.unwrap());
    assert!(store.check(&iat_check(&d, &user, None, at)).await.unwrap());
    assert!(
        store
            .check(&iat_check(&d, &user, None, at - 100))
            .await
            .unwrap()
    );
    assert!(
        !store
            .check(&iat_check(&d, &user, None, at + 1))
            .await
            .unwrap()
    );
    for c in [
        gen_check(&d, &user, Some(0)),
        iat_check(&d, &user, None, at),
    ] {
        if let Some(now) = store.check_now(&c) {
            assert!(now.unwrap());
        }
    }
    if let Some(now) = store.check_now(&iat_check(&d, &user, None, at + 1)) {
        assert!(!now.unwrap());
    }
    // Another user is untouched.
    let other = uid("user");
    assert!(!store.check(&gen_check(&d, &other, Some(0))).await.unwrap());
    assert!(!store.check(&iat_check(&d, &other, None, at)).await.unwrap());
    // A later revoke-all moves both; an earlier instant never moves the cutoff back.
    assert_eq!(store.revoke_all_for(&user, at - 50).await.unwrap(), 2);
    assert_eq!(
        store.subject_cutoff(&user).await.unwrap().issued_through,
        at
    );
}

/// `revoke_for` (a subject's token, what `Sessions` and `TokenAuth::revoke` use) revokes
/// that token, and nothing of another subject; a bounded store may revoke more of the
/// same subject, never less.
pub async fn revoke_for_a_subject_revokes_the_token(s: Stores) {
    let store = &*s.revocation;
    let user = uid("user");
    let other = uid("user");
    let digests: Vec<TokenDigest> = (0..3).map(|_| random_digest()).collect();
    for d in &digests {
        store.revoke_for(&user, *d, now() + 600).await.unwrap();
    }
    for d in &digests {
        assert!(store.check(&gen_check(d, &user, Some(0))).await.unwrap());
        assert!(store.check(&gen_check(d, &user, None)).await.unwrap());
        assert!(store.is_revoked(d).await.unwrap());
    }
    let fresh = random_digest();
    assert!(!store.check(&gen_check(&fresh, &other, None)).await.unwrap());
    assert!(
        !store
            .check(&gen_check(&fresh, &other, Some(0)))
            .await
            .unwrap()
    );
}

/// One instance's "revoke everything" reaches the other (in-process answers within 2 s),
/// for tokens with and without a generation.
pub async fn revoke_all_across_handles(a: Stores, b: Stores) {
    let user = uid("user");
    let d = random_digest();
    let at = now();
    let checks = [
        gen_check(&d, &user, Some(0)),
        iat_check(&d, &user, None, at),
    ];
    for check in &checks {
        assert!(!b.revocation.check(check).await.unwrap());
    }
    a.revocation.revoke_all_for(&user, at).await.unwrap();
    for check in &checks {
        assert!(b.revocation.check(check).await.unwrap());
        let start = std::time::Instant::now();
        while let Some(Ok(false)) = b.revocation.check_now(check) {
            assert!(
                start.elapsed() < Duration::from_secs(2),
                "stale past the bound"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    // A token issued after the cutoff is fine on the other instance too.
    let later = iat_check(&d, &user, None, at + 1);
    assert!(!b.revocation.check(&later).await.unwrap());
    if let Some(now) = b.revocation.check_now(&later) {
        assert!(!now.unwrap());
    }
}

/// An external issuer's session and subject keys (`store::external_revocation`: a
/// newline, the kind, the issuer URL with its `:` and `/`, the id) are stored, read back
/// and checked as any subject's cutoff, and never meet our own subject of the same name
/// or another issuer's key.
pub async fn external_keys_are_cutoffs_of_their_own(s: Stores) {
    use axum_token_auth::store::external_revocation::{session_key, subject_key};
    let store = &*s.revocation;
    let iss = format!("https://idp.example:8443/realms/{}", uid("realm"));
    let user = uid("user");
    let sid = uid("sid");
    let d = random_digest();
    let at = now();
    let (by_sub, by_sid) = (subject_key(&iss, &user), session_key(&iss, &sid));
    assert!(
        !store
            .check(&iat_check(&d, &by_sub, None, at))
            .await
            .unwrap()
    );
    store.revoke_all_for(&by_sub, at).await.unwrap();
    store.revoke_all_for(&by_sid, at).await.unwrap();
    let cutoff = store.subject_cutoff(&by_sid).await.unwrap();
    assert_eq!((cutoff.generation, cutoff.issued_through), (1, at));
    for key in [&by_sub, &by_sid] {
        assert!(store.check(&iat_check(&d, key, None, at)).await.unwrap());
        assert!(
            !store
                .check(&iat_check(&d, key, None, at + 1))
                .await
                .unwrap()
        );
        if let Some(now) = store.check_now(&iat_check(&d, key, None, at)) {
            assert!(now.unwrap());
        }
    }
    // Our own user of the same name, the same ids at another issuer, and the session
    // id read as a subject: untouched.
    for key in [
        user.clone(),
        sid.clone(),
        subject_key("https://other.example", &user),
        session_key("https://other.example", &sid),
        subject_key(&iss, &sid),
    ] {
        assert_eq!(store.subject_cutoff(&key).await.unwrap().generation, 0);
        assert!(!store.check(&iat_check(&d, &key, None, at)).await.unwrap());
    }
}

/// An external session revoked through one instance is refused by the other (in-process
/// answers within 2 s), and the delay is printed.
pub async fn external_revocation_across_handles(a: Stores, b: Stores) {
    use axum_token_auth::store::external_revocation::session_key;
    let key = session_key("https://idp.example/", &uid("sid"));
    let d = random_digest();
    let at = now();
    let check = iat_check(&d, &key, None, at);
    assert!(!b.revocation.check(&check).await.unwrap());
    a.revocation.revoke_all_for(&key, at).await.unwrap();
    let start = std::time::Instant::now();
    assert!(b.revocation.check(&check).await.unwrap());
    while let Some(Ok(false)) = b.revocation.check_now(&check) {
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "stale past the bound"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    println!(
        "external session revoked on one handle: refused by the other's in-process answer after {:?}",
        start.elapsed()
    );
}

/// `TokenAuth::revoke_all_for_user` over this store refuses every token of the subject,
/// however it was minted: `issue_access`, `issue_service`, `issue_granted`, `issue_pair`,
/// and `Sessions` (access and refresh), and only that subject's.
pub async fn revoke_all_covers_every_issuing_path(s: Stores) {
    use axum_token_auth::store::memory::MemoryRefreshStore;
    use axum_token_auth::{
        NoCustomClaims, Sessions, TokenAuth, TokenRequest,
        token::{InvalidToken, TokenKind},
    };
    let auth = TokenAuth::builder()
        .hs256_secret("conformance-secret-0123456789abcdefghijklmnop")
        .revocation_store(Arc::clone(&s.revocation))
        .build()
        .unwrap();
    let user = uid("user");
    let tenant = uid("tenant");
    s.grants
        .grant_scope(&GrantChange::new(&tenant, &user, &scope("reports:read"), "admin").unwrap())
        .await
        .unwrap();
    let sessions = Sessions::builder_shared(auth.clone(), Arc::clone(&s.refresh))
        .build()
        .unwrap();
    let plain = TokenRequest::new(user.clone());
    let access = auth.issue_access(&plain).unwrap();
    let service = auth.issue_service(&plain).unwrap();
    let pair = auth.issue_pair(&plain).unwrap();
    let granted = auth
        .issue_granted(
            &*s.grants,
            TokenKind::Access,
            &TokenRequest::new(user.clone())
                .tenant(tenant.clone())
                .scope("reports:read"),
        )
        .await
        .unwrap();
    let login = sessions.login(&plain, None).await.unwrap();
    let bystander = auth.issue_access(&TokenRequest::new(uid("user"))).unwrap();
    let tokens = [
        (TokenKind::Access, access.as_str()),
        (TokenKind::Service, service.as_str()),
        (TokenKind::Access, pair.access.as_str()),
        (TokenKind::Refresh, pair.refresh.as_str()),
        (TokenKind::Access, granted.as_str()),
        (TokenKind::Access, login.pair.access.as_str()),
        (TokenKind::Refresh, login.pair.refresh.as_str()),
    ];
    for (kind, t) in tokens {
        auth.validate::<NoCustomClaims>(t, TokenCheck::kind(kind))
            .await
            .unwrap();
    }
    auth.revoke(Revocation::subject(&user)).await.unwrap();
    for (kind, t) in tokens {
        assert_eq!(
            auth.validate::<NoCustomClaims>(t, TokenCheck::kind(kind))
                .await
                .unwrap_err(),
            VerifyError::InvalidToken(InvalidToken::Revoked),
            "{kind} token survived revoke-all"
        );
    }
    assert_eq!(
        sessions
            .refresh(login.pair.refresh.as_str(), None)
            .await
            .unwrap_err(),
        axum_token_auth::session::SessionError::InvalidToken(InvalidToken::Revoked)
    );
    auth.validate::<NoCustomClaims>(bystander.as_str(), TokenCheck::ACCESS)
        .await
        .unwrap();
    // A new login right after works (its tokens carry the new generation).
    let again = Sessions::builder_shared(auth.clone(), Arc::new(MemoryRefreshStore::new()))
        .build()
        .unwrap()
        .login(&plain, None)
        .await
        .unwrap();
    auth.validate::<NoCustomClaims>(again.pair.access.as_str(), TokenCheck::ACCESS)
        .await
        .unwrap();
}

async fn eventually_revoked_now(store: &dyn RevocationStore, d: &TokenDigest) {
    let start = std::time::Instant::now();
    while let Some(Ok(false)) = store.check_now(&digest_only(d)) {
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "in-process answer still stale after the 2 s bound"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    if let Some(now) = store.check_now(&digest_only(d)) {
        assert!(now.unwrap());
    }
}

// ---------------------------------------------------------------------------
// grants
// ---------------------------------------------------------------------------

/// Grant, list, regrant (no-op, not logged), revoke; the audit trail keeps everything
/// in order.
pub async fn grants(s: Stores) {
    let g = &*s.grants;
    let tenant = uid("tenant");
    let module = uid("module");
    let other = uid("module");
    let t0 = now();

    assert!(g.granted_scopes(&tenant, &module).await.unwrap().is_empty());
    assert!(g.audit_log(&tenant, None).await.unwrap().is_empty());

    assert!(
        g.grant_scope(
            &GrantChange::new(&tenant, &module, &scope("playlist:manage"), "alice").unwrap()
        )
        .await
        .unwrap()
    );
    assert!(
        g.grant_scope(&GrantChange::new(&tenant, &module, &scope("music:read"), "bob").unwrap())
            .await
            .unwrap()
    );
    assert!(
        g.grant_scope(&GrantChange::new(&tenant, &other, &scope("music:read"), "alice").unwrap())
            .await
            .unwrap()
    );
    // Regrant: no change, nothing logged.
    assert!(
        !g.grant_scope(&GrantChange::new(&tenant, &module, &scope("music:read"), "carol").unwrap())
            .await
            .unwrap()
    );

    let held = g.granted_scopes(&tenant, &module).await.unwrap();
    let scopes: Vec<&str> = held.iter().map(|g| g.scope.as_str()).collect();
    assert_eq!(scopes, ["music:read", "playlist:manage"], "by scope");
    assert_eq!(held[0].granted_by, "bob", "the regrant changed nothing");
    assert!(
        held.iter()
            .all(|h| h.tenant == tenant && h.principal == module)
    );
    assert!(
        held.iter()
            .all(|h| h.granted_at >= t0 && h.granted_at <= now())
    );
    // Other tenants see nothing.
    assert!(
        g.granted_scopes(&uid("tenant"), &module)
            .await
            .unwrap()
            .is_empty()
    );

    assert!(
        g.revoke_scope(
            &GrantChange::new(&tenant, &module, &scope("playlist:manage"), "dave").unwrap()
        )
        .await
        .unwrap()
    );
    assert!(
        !g.revoke_scope(
            &GrantChange::new(&tenant, &module, &scope("playlist:manage"), "dave").unwrap()
        )
        .await
        .unwrap()
    );
    assert!(
        !g.revoke_scope(
            &GrantChange::new(&tenant, &module, &scope("never:granted"), "dave").unwrap()
        )
        .await
        .unwrap()
    );
    let scopes: Vec<String> = g
        .granted_scopes(&tenant, &module)
        .await
        .unwrap()
        .into_iter()
        .map(|g| g.scope)
        .collect();
    assert_eq!(scopes, ["music:read"]);

    // The trail: oldest first, revokes included, nothing for no-ops.
    let log = g.audit_log(&tenant, None).await.unwrap();
    let rows: Vec<(&str, &str, AuditAction, &str)> = log
        .iter()
        .map(|e| {
            (
                e.principal.as_str(),
                e.scope.as_str(),
                e.action,
                e.actor.as_str(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (
                module.as_str(),
                "playlist:manage",
                AuditAction::Grant,
                "alice"
            ),
            (module.as_str(), "music:read", AuditAction::Grant, "bob"),
            (other.as_str(), "music:read", AuditAction::Grant, "alice"),
            (
                module.as_str(),
                "playlist:manage",
                AuditAction::Revoke,
                "dave"
            ),
        ]
    );
    assert!(
        log.iter()
            .all(|e| e.tenant == tenant && e.at >= t0 && e.at <= now())
    );
    assert!(log.windows(2).all(|w| w[0].at <= w[1].at));

    let mine = g.audit_log(&tenant, Some(&module)).await.unwrap();
    assert_eq!(mine.len(), 3);
    assert!(mine.iter().all(|e| e.principal == module));
    assert_eq!(mine[2].action, AuditAction::Revoke);

    // Revoke and grant again: both logged; the old rows survive.
    assert!(
        g.grant_scope(
            &GrantChange::new(&tenant, &module, &scope("playlist:manage"), "erin").unwrap()
        )
        .await
        .unwrap()
    );
    let log = g.audit_log(&tenant, Some(&module)).await.unwrap();
    assert_eq!(log.len(), 4);
    assert_eq!(log[..3], mine[..]);
    assert_eq!(
        (log[3].action, log[3].actor.as_str()),
        (AuditAction::Grant, "erin")
    );
    assert!(g.audit_log(&uid("tenant"), None).await.unwrap().is_empty());
}

/// Empty or control-character ids are refused (no [`GrantChange`] can hold them) and
/// leave no trace.
pub async fn grants_reject_invalid_ids(s: Stores) {
    let g = &*s.grants;
    let tenant = uid("tenant");
    let sc = scope("music:read");
    for (t, p, a) in [
        ("", "m", "a"),
        (tenant.as_str(), "", "a"),
        (tenant.as_str(), "m", ""),
        (tenant.as_str(), "m\n", "a"),
    ] {
        // No change can be built from them, so no store is ever handed one …
        assert!(matches!(
            GrantChange::new(t, p, &sc, a),
            Err(StoreError::Backend(_))
        ));
        // … and the store's own entry taking raw ids refuses them too.
        if !a.is_empty() {
            assert!(matches!(
                g.revoke_scope_unattributed(t, p, &sc).await,
                Err(StoreError::Backend(_))
            ));
        }
    }
    assert!(g.audit_log(&tenant, None).await.unwrap().is_empty());
}

/// Grants made through one instance are seen by the other; concurrent identical grants
/// are granted (and logged) once.
pub async fn grants_across_handles(a: Stores, b: Stores) {
    let tenant = uid("tenant");
    let module = uid("module");
    assert!(
        a.grants
            .grant_scope(&GrantChange::new(&tenant, &module, &scope("x:read"), "alice").unwrap())
            .await
            .unwrap()
    );
    let held = b.grants.granted_scopes(&tenant, &module).await.unwrap();
    assert_eq!(held.len(), 1);
    assert!(
        !b.grants
            .grant_scope(&GrantChange::new(&tenant, &module, &scope("x:read"), "bob").unwrap())
            .await
            .unwrap()
    );

    const N: usize = 16;
    let barrier = Arc::new(Barrier::new(N));
    let tasks: Vec<_> = (0..N)
        .map(|i| {
            let g = if i % 2 == 0 {
                a.grants.clone()
            } else {
                b.grants.clone()
            };
            let (tenant, module, barrier) = (tenant.clone(), module.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                g.grant_scope(
                    &GrantChange::new(&tenant, &module, &scope("y:write"), &format!("actor{i}"))
                        .unwrap(),
                )
                .await
                .expect("grant")
            })
        })
        .collect();
    let mut granted = 0;
    for task in tasks {
        granted += usize::from(task.await.expect("task"));
    }
    assert_eq!(granted, 1, "one concurrent grant wins");

    let log = a.grants.audit_log(&tenant, None).await.unwrap();
    assert_eq!(log.len(), 2, "{log:?}");
    assert!(
        b.grants
            .revoke_scope(&GrantChange::new(&tenant, &module, &scope("x:read"), "carol").unwrap())
            .await
            .unwrap()
    );
    assert_eq!(
        a.grants
            .audit_log(&tenant, Some(&module))
            .await
            .unwrap()
            .len(),
        3
    );
}

pub async fn grants_as_plain_strings_and_unattributed_revocation(s: Stores) {
    let g = &*s.grants;
    let tenant = uid("tenant");
    let module = uid("module");
    g.grant_scope(&GrantChange::new(&tenant, &module, &scope("music:read"), "alice").unwrap())
        .await
        .unwrap();
    g.grant_scope(&GrantChange::new(&tenant, &module, &scope("api.v1:write"), "alice").unwrap())
        .await
        .unwrap();
    let mut names = g.granted_scope_names(&tenant, &module).await.unwrap();
    names.sort();
    assert_eq!(names, ["api.v1:write", "music:read"]);
    assert!(
        g.revoke_scope_unattributed(&tenant, &module, &scope("music:read"))
            .await
            .unwrap()
    );
    assert_eq!(
        g.granted_scope_names(&tenant, &module).await.unwrap(),
        ["api.v1:write"]
    );
    let log = g.audit_log(&tenant, Some(&module)).await.unwrap();
    let last = log.last().unwrap();
    assert_eq!(
        last.actor,
        axum_token_auth::store::grants::UNATTRIBUTED,
        "{log:?}"
    );
}
