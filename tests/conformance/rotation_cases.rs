//! The table of rotation cases: (family state, presented refresh token, presented access
//! token, now, grace) → outcome. One table for every implementation of the decision:
//!
//! - the conformance suite (`rotation_table` in `suite.rs`) runs it through
//!   `RefreshStore::rotate` against every store: memory, memory behind the guard, Redis
//!   (its Lua script), Redis Cluster and PostgreSQL;
//! - `src/store/refresh/rotation.rs` runs it against the pure decision the memory and
//!   PostgreSQL stores call.
//!
//! The including module provides `store` (this crate's `store` module), so the file reads
//! the same from inside the crate and from an integration test. A family's state is
//! given by its history (a login, then rotations), so every store can be brought into it
//! through its public methods. Times are seconds after `t0`, which the runner chooses.

#![allow(dead_code)]

use super::store::{AccessRef, NewSession, RotateOutcome, Rotation, Successor, TokenDigest};

/// The family's end, unless a case says otherwise.
const ENDS: u64 = 1000;
/// Every access token lives this long (all of a history's are alive at every case's now).
const ACCESS_TTL: u64 = 600;
/// A successor's refresh token would live this long: past the family's end, so every
/// successor shows the cap at the family's end.
const REFRESH_TTL: u64 = 3600;

/// The family before the rotation under test.
#[derive(Debug, Clone, Copy)]
pub enum History {
    /// No family with this id was ever created.
    Missing,
    /// Logged in at `t0` (refresh token 0, access token 0); never rotated.
    Fresh,
    /// Then refresh token 0 rotated to 1 (with access token 1) at `t0 + 10`.
    RotatedOnce,
    /// Then refresh token 1 rotated to 2 (with access token 2) at `t0 + 20`.
    RotatedTwice,
}

/// The refresh token presented.
#[derive(Debug, Clone, Copy)]
pub enum Refresh {
    /// The one issued at login (0) or by the n-th rotation of the history.
    Issued(usize),
    /// One the family never issued.
    Stranger,
}

/// The access token presented with it.
#[derive(Debug, Clone, Copy)]
pub enum Access {
    /// None.
    Absent,
    /// The one issued at login (0) or by the n-th rotation of the history.
    Issued(usize),
    /// One the family never issued.
    Other,
}

/// The expected outcome.
#[derive(Debug, Clone, Copy)]
pub enum Expect {
    /// The presented token was current: the case's successor (capped at the family's
    /// end) is current now.
    Rotated,
    /// A retry: the successor of the n-th rotation of the history, again; nothing changes.
    Retry(usize),
    /// Reuse: the family is dropped; its user and every access token are reported.
    Reused,
    /// Compromise: likewise.
    Compromised,
    /// No such family, or it has ended (and is dropped).
    Unknown,
}

/// One row of the table.
#[derive(Debug, Clone, Copy)]
pub struct Case {
    /// What the case shows.
    pub name: &'static str,
    /// The family's history.
    pub history: History,
    /// The family's end, after `t0`.
    pub ends: u64,
    /// The refresh token presented.
    pub refresh: Refresh,
    /// The access token presented with it.
    pub access: Access,
    /// Now, after `t0`.
    pub at: u64,
    /// The grace window, in seconds (0 disables it).
    pub grace: u64,
    /// What the rotation must do.
    pub expect: Expect,
}

/// One row: name, family end, history, refresh token, access token, now, grace, outcome.
macro_rules! case {
    ($name:literal, $ends:expr, $history:expr, $refresh:expr, $access:expr, $at:literal,
     $grace:literal, $expect:expr) => {
        Case {
            name: $name,
            ends: $ends,
            history: $history,
            refresh: $refresh,
            access: $access,
            at: $at,
            grace: $grace,
            expect: $expect,
        }
    };
}

use Access::{Absent, Issued as A, Other};
use Expect::{Compromised, Retry, Reused, Rotated, Unknown};
use History::{Fresh, Missing, RotatedOnce, RotatedTwice};
use Refresh::{Issued as R, Stranger};

/// The table, grouped by the check of the decision that answers (`R(n)`, `A(n)`: the
/// refresh and access token of step n of the history; times are seconds after `t0`).
#[rustfmt::skip]
pub const CASES: &[Case] = &[
    //    name                                                           family end history     refresh   access  now grace outcome
    // 1. No such family, or it has ended: unknown, whatever is presented.
    case!("no_such_family_is_unknown",                                    ENDS, Missing,      R(0),     Absent, 5,   30, Unknown),
    case!("family_at_its_end_is_unknown",                                 100,  Fresh,        R(0),     Absent, 100, 0,  Unknown),
    case!("ended_family_with_a_foreign_access_token_is_unknown",          100,  Fresh,        R(0),     Other,  150, 0,  Unknown),
    case!("ended_family_is_unknown_within_grace",                         30,   RotatedOnce,  R(0),     Absent, 30,  60, Unknown),
    // 2. A known refresh token with another access token than its own: compromise.
    case!("current_token_with_a_foreign_access_token_is_compromise",      ENDS, Fresh,        R(0),     Other,  5,   0,  Compromised),
    case!("current_token_with_an_older_access_token_is_compromise",       ENDS, RotatedOnce,  R(1),     A(0),   15,  30, Compromised),
    case!("parent_with_its_successors_access_token_is_compromise",        ENDS, RotatedOnce,  R(0),     A(1),   15,  30, Compromised),
    case!("parent_after_grace_with_a_foreign_access_token_is_compromise", ENDS, RotatedOnce,  R(0),     Other,  100, 30, Compromised),
    case!("grandparent_with_a_foreign_access_token_is_reuse",             ENDS, RotatedTwice, R(0),     Other,  25,  30, Reused),
    case!("stranger_with_a_known_access_token_is_reuse",                  ENDS, RotatedOnce,  Stranger, A(1),   15,  30, Reused),
    // 3. The current token rotates (with its own access token, or none).
    case!("current_token_rotates",                                        ENDS, Fresh,        R(0),     Absent, 5,   0,  Rotated),
    case!("current_token_with_its_access_token_rotates",                  ENDS, Fresh,        R(0),     A(0),   5,   0,  Rotated),
    case!("current_token_rotates_after_a_rotation",                       ENDS, RotatedOnce,  R(1),     A(1),   15,  30, Rotated),
    case!("current_token_rotates_in_the_second_of_its_parents_rotation",  ENDS, RotatedOnce,  R(1),     Absent, 10,  30, Rotated),
    case!("current_token_rotates_in_the_familys_last_second",             100,  Fresh,        R(0),     Absent, 99,  0,  Rotated),
    // 4. The parent, within the grace window, while its successor is unused: a retry.
    case!("parent_within_grace_is_a_retry",                               ENDS, RotatedOnce,  R(0),     Absent, 15,  30, Retry(1)),
    case!("parent_in_the_second_of_its_rotation_is_a_retry",              ENDS, RotatedOnce,  R(0),     Absent, 10,  30, Retry(1)),
    case!("parent_in_the_last_second_of_grace_is_a_retry",                ENDS, RotatedOnce,  R(0),     Absent, 40,  30, Retry(1)),
    case!("parent_with_its_own_access_token_is_a_retry",                  ENDS, RotatedOnce,  R(0),     A(0),   15,  30, Retry(1)),
    case!("latest_parent_within_grace_is_a_retry",                        ENDS, RotatedTwice, R(1),     Absent, 25,  30, Retry(2)),
    // 5. Anything else: reuse.
    case!("parent_after_grace_is_reuse",                                  ENDS, RotatedOnce,  R(0),     Absent, 41,  30, Reused),
    case!("parent_without_grace_is_reuse",                                ENDS, RotatedOnce,  R(0),     Absent, 10,  0,  Reused),
    case!("grandparent_within_grace_is_reuse",                            ENDS, RotatedTwice, R(0),     Absent, 25,  30, Reused),
    case!("stranger_is_reuse",                                            ENDS, Fresh,        Stranger, Absent, 5,   30, Reused),
];

/// A successor pair issued at `at` with these ids.
pub fn successor_at(at: u64, refresh_jti: &str, access_jti: &str) -> Successor {
    Successor {
        refresh_jti: refresh_jti.to_owned(),
        access_jti: access_jti.to_owned(),
        issued_at: at,
        refresh_expires_at: at + REFRESH_TTL,
        access_expires_at: at + ACCESS_TTL,
    }
}

/// One case as concrete calls, with fresh ids.
#[derive(Debug)]
pub struct Script {
    /// The case's name.
    pub name: &'static str,
    /// The login (`None`: the family is missing).
    pub family: Option<NewSession>,
    /// The history's rotations; each must rotate.
    pub setup: Vec<Rotation>,
    /// The rotation under test.
    pub rotation: Rotation,
    /// Its outcome.
    pub expected: RotateOutcome,
    /// The family's current refresh token before the rotation under test.
    pub before: TokenDigest,
    /// Its current refresh token after it (`None`: the family is gone).
    pub after: Option<TokenDigest>,
}

/// The calls of `case` at `t0`; `uid` makes fresh ids.
pub fn script(case: &Case, t0: u64, uid: &mut impl FnMut(&str) -> String) -> Script {
    let session_id = uid("fam");
    let user_id = uid("user");
    let ends = t0 + case.ends;
    let refresh: Vec<String> = (0..3).map(|_| uid("rt")).collect();
    let access: Vec<String> = (0..3).map(|_| uid("at")).collect();
    let rotations = match case.history {
        Missing | Fresh => 0,
        RotatedOnce => 1,
        RotatedTwice => 2,
    };
    let capped = |mut s: Successor| {
        s.refresh_expires_at = s.refresh_expires_at.min(ends);
        s
    };
    // Rotation n of the history happens at t0 + 10 n.
    let successors: Vec<Successor> = (1..=rotations)
        .map(|n| successor_at(t0 + 10 * n as u64, &refresh[n], &access[n]))
        .collect();
    let family = (!matches!(case.history, Missing)).then(|| NewSession {
        session_id: session_id.clone(),
        user_id: user_id.clone(),
        refresh: TokenDigest::of_jti(&refresh[0]),
        access: AccessRef {
            jti: access[0].clone(),
            expires_at: t0 + ACCESS_TTL,
        },
        created_at: t0,
        expires_at: ends,
        user_agent: None,
        device: None,
        ip: None,
    });
    let setup = successors
        .iter()
        .enumerate()
        .map(|(i, s)| Rotation {
            session_id: session_id.clone(),
            presented: TokenDigest::of_jti(&refresh[i]),
            successor: s.clone(),
            now: s.issued_at,
            grace_secs: 0,
            presented_access: None,
        })
        .collect();
    let now = t0 + case.at;
    let new = successor_at(now, &uid("rt"), &uid("at"));
    let rotation = Rotation {
        session_id,
        presented: TokenDigest::of_jti(&match case.refresh {
            Refresh::Issued(n) => refresh[n].clone(),
            Stranger => uid("rt"),
        }),
        successor: new.clone(),
        now,
        grace_secs: case.grace,
        presented_access: match case.access {
            Absent => None,
            Access::Issued(n) => Some(access[n].clone()),
            Other => Some(uid("at")),
        },
    };
    let before = TokenDigest::of_jti(&refresh[rotations]);
    let known = || {
        (0..=rotations)
            .map(|n| AccessRef {
                jti: access[n].clone(),
                expires_at: if n == 0 {
                    t0 + ACCESS_TTL
                } else {
                    successors[n - 1].access_expires_at
                },
            })
            .collect()
    };
    let (expected, after) = match case.expect {
        Rotated => (
            RotateOutcome::Rotated(capped(new.clone())),
            Some(TokenDigest::of_jti(&new.refresh_jti)),
        ),
        Retry(n) => (
            RotateOutcome::Retry(capped(successors[n - 1].clone())),
            Some(before),
        ),
        Reused => (
            RotateOutcome::Reused {
                user_id,
                access: known(),
            },
            None,
        ),
        Compromised => (
            RotateOutcome::Compromised {
                user_id,
                access: known(),
            },
            None,
        ),
        Unknown => (RotateOutcome::Unknown, None),
    };
    Script {
        name: case.name,
        family,
        setup,
        rotation,
        expected: normalised(expected),
        before,
        after,
    }
}

/// `outcome` with its access list in one order (stores keep theirs in their own).
pub fn normalised(outcome: RotateOutcome) -> RotateOutcome {
    let sorted = |mut v: Vec<AccessRef>| {
        v.sort_by(|a, b| a.jti.cmp(&b.jti));
        v
    };
    match outcome {
        RotateOutcome::Reused { user_id, access } => RotateOutcome::Reused {
            user_id,
            access: sorted(access),
        },
        RotateOutcome::Compromised { user_id, access } => RotateOutcome::Compromised {
            user_id,
            access: sorted(access),
        },
        other => other,
    }
}

impl Script {
    /// What is wrong with an implementation's answer: its outcome and the family's
    /// current refresh token afterwards (`None`: gone).
    pub fn mismatch(&self, got: RotateOutcome, current: Option<TokenDigest>) -> Option<String> {
        let got = normalised(got);
        if got != self.expected {
            return Some(format!(
                "{}: expected {:?}, got {:?}",
                self.name, self.expected, got
            ));
        }
        if current != self.after {
            return Some(format!(
                "{}: afterwards the current token is {:?}, expected {:?}",
                self.name, current, self.after
            ));
        }
        None
    }
}
