//! The rotation decision, written once: what a rotation does is a function of the
//! family's state ([`decide`]); the stores load that state, store what the decision says,
//! and decide nothing themselves. The Redis store's Lua script cannot call Rust: it is
//! held to the same table of cases (`tests/conformance/rotation_cases.rs`), which the
//! conformance suite runs against every store and the unit test below against
//! [`decide`].
//!
//! The checks, in order (the first that applies decides):
//!
//! 1. no such family, or it has ended → [`Decision::Unknown`] (an ended family is dropped);
//! 2. the presented token is the current one or its immediate parent, and the access token
//!    presented with it is not the one issued with it → [`Decision::Compromised`];
//! 3. the presented token is the current one → [`Decision::Rotate`] to the successor, its
//!    refresh expiry capped at the family's end;
//! 4. the presented token is the immediate parent, within the grace window, and its
//!    successor is still the current token → [`Decision::Retry`] with that successor;
//! 5. anything else (an older token, a token the family never issued, the parent after
//!    the grace window) → [`Decision::Reused`].
//!
//! Ending decisions (1 for an existing family, 2 and 5) drop the family.

use crate::store::TokenDigest;
use crate::store::refresh::{
    AccessRef, MAX_ACCESS_PER_SESSION, NewSession, RotateOutcome, Rotation, Successor,
};

/// What a rotation is decided on: the state of one family, as a store loads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FamilyState {
    /// The family's absolute end (seconds since the epoch).
    pub(crate) expires_at: u64,
    /// Digest of the current refresh token's `jti`.
    pub(crate) current: TokenDigest,
    /// The `jti` of the access token issued with the current refresh token.
    pub(crate) current_access_jti: String,
    /// The current token's immediate parent, kept for the grace window.
    pub(crate) previous: Option<Parent>,
}

/// The immediate parent of the current refresh token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Parent {
    /// Digest of the parent's `jti`.
    pub(crate) digest: TokenDigest,
    /// The `jti` of the access token issued with the parent.
    pub(crate) access_jti: String,
    /// When the parent was rotated (seconds since the epoch).
    pub(crate) rotated_at: u64,
    /// The successor pair the parent was rotated to (answered again on a retry).
    pub(crate) successor: Successor,
}

/// What a rotation does, decided by [`decide`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Make this successor current (see [`FamilyState::rotate`]); its refresh expiry is
    /// already capped at the family's end.
    Rotate(Successor),
    /// A retry of the parent within the grace window: answer this successor again and
    /// change nothing.
    Retry(Successor),
    /// A consumed or foreign token: drop the family.
    Reused,
    /// The presented access token is not the presented refresh token's: drop the family.
    Compromised,
    /// No such family, or it has ended: drop it if it exists.
    Unknown,
}

/// Decides a rotation from the family's state (`None`: no such family). Pure: the caller
/// holds whatever lock makes load, decide and store atomic.
pub(crate) fn decide(family: Option<&FamilyState>, rotation: &Rotation) -> Decision {
    let now = rotation.now;
    // 1. No such family, or it has ended.
    let Some(f) = family.filter(|f| f.expires_at > now) else {
        return Decision::Unknown;
    };
    let is_current = rotation.presented == f.current;
    let parent = f
        .previous
        .as_ref()
        .filter(|p| p.digest == rotation.presented);
    // 2. The access token presented with a known refresh token must be its own.
    let issued_with = if is_current {
        Some(f.current_access_jti.as_str())
    } else {
        parent.map(|p| p.access_jti.as_str())
    };
    if let (Some(issued), Some(presented)) = (issued_with, rotation.presented_access.as_deref())
        && issued != presented
    {
        return Decision::Compromised;
    }
    // 3. The current token rotates.
    if is_current {
        let mut successor = rotation.successor.clone();
        successor.refresh_expires_at = successor.refresh_expires_at.min(f.expires_at);
        return Decision::Rotate(successor);
    }
    // 4. The parent, retried within the grace window while its successor is unused.
    if let Some(p) = parent
        && rotation.grace_secs > 0
        && now <= p.rotated_at.saturating_add(rotation.grace_secs)
        && f.current == TokenDigest::of_jti(&p.successor.refresh_jti)
    {
        return Decision::Retry(p.successor.clone());
    }
    // 5. Anything else is reuse.
    Decision::Reused
}

impl Decision {
    /// Whether the store drops the family (when it exists) to carry this decision out.
    pub(crate) fn ends_family(&self) -> bool {
        matches!(
            self,
            Decision::Reused | Decision::Compromised | Decision::Unknown
        )
    }

    /// The outcome to answer; `user_id` and `access` are the family's (what an ending
    /// decision reports, so the access tokens can be revoked too).
    pub(crate) fn outcome(self, user_id: String, access: Vec<AccessRef>) -> RotateOutcome {
        match self {
            Decision::Rotate(s) => RotateOutcome::Rotated(s),
            Decision::Retry(s) => RotateOutcome::Retry(s),
            Decision::Reused => RotateOutcome::Reused { user_id, access },
            Decision::Compromised => RotateOutcome::Compromised { user_id, access },
            Decision::Unknown => RotateOutcome::Unknown,
        }
    }
}

impl FamilyState {
    /// A new family's state: its first refresh token, no parent.
    pub(crate) fn first(family: &NewSession) -> Self {
        FamilyState {
            expires_at: family.expires_at,
            current: family.refresh,
            current_access_jti: family.access.jti.clone(),
            previous: None,
        }
    }

    /// Carries out [`Decision::Rotate`] at `now`: the current token becomes the parent
    /// and `successor` the current token.
    pub(crate) fn rotate(&mut self, successor: &Successor, now: u64) {
        let current = std::mem::replace(
            &mut self.current,
            TokenDigest::of_jti(&successor.refresh_jti),
        );
        let access_jti =
            std::mem::replace(&mut self.current_access_jti, successor.access_jti.clone());
        self.previous = Some(Parent {
            digest: current,
            access_jti,
            rotated_at: now,
            successor: successor.clone(),
        });
    }
}

/// Adds a rotation's new access token to the family's list: expired ones are dropped, and
/// at most [`MAX_ACCESS_PER_SESSION`] are kept (the oldest make way).
pub(crate) fn remember_access(access: &mut Vec<AccessRef>, successor: &Successor, now: u64) {
    access.retain(|a| a.expires_at > now);
    access.push(AccessRef {
        jti: successor.access_jti.clone(),
        expires_at: successor.access_expires_at,
    });
    let excess = access.len().saturating_sub(MAX_ACCESS_PER_SESSION);
    access.drain(..excess);
}

/// The table of cases the conformance suite runs against every store (it names this
/// crate's types through `store`).
#[cfg(test)]
#[path = "../../../tests/conformance/rotation_cases.rs"]
#[allow(unreachable_pub)]
mod cases;
#[cfg(test)]
use crate::store;

#[cfg(test)]
mod tests {
    use super::*;

    /// Every case of the table, against the pure decision: the family's state is built
    /// by the same decision and transition, from the case's history.
    #[test]
    fn every_case_of_the_rotation_table() {
        let mut n = 0;
        let mut uid = |prefix: &str| {
            n += 1;
            format!("{prefix}-{n}")
        };
        let t0 = 1_767_225_600;
        let mut failures = Vec::new();
        for case in cases::CASES {
            let script = cases::script(case, t0, &mut uid);
            let mut state = script.family.as_ref().map(FamilyState::first);
            let (user_id, mut access) = script
                .family
                .as_ref()
                .map(|f| (f.user_id.clone(), vec![f.access.clone()]))
                .unwrap_or_default();
            for r in &script.setup {
                let Decision::Rotate(s) = decide(state.as_ref(), r) else {
                    panic!("{}: a step of the history did not rotate", case.name);
                };
                state.as_mut().expect("rotated").rotate(&s, r.now);
                remember_access(&mut access, &s, r.now);
            }
            let decision = decide(state.as_ref(), &script.rotation);
            let current = match &decision {
                Decision::Rotate(s) => Some(TokenDigest::of_jti(&s.refresh_jti)),
                Decision::Retry(_) => state.as_ref().map(|f| f.current),
                _ => None,
            };
            failures.extend(script.mismatch(decision.outcome(user_id, access), current));
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn ending_decisions_are_the_ones_that_drop_the_family() {
        let s = cases::successor_at(0, "r", "a");
        assert!(!Decision::Rotate(s.clone()).ends_family());
        assert!(!Decision::Retry(s).ends_family());
        assert!(Decision::Reused.ends_family());
        assert!(Decision::Compromised.ends_family());
        assert!(Decision::Unknown.ends_family());
    }
}
