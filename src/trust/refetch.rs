//! The budget of fetches caused by unknown `kid`s (feature `oidc`).
//!
//! A token with a `kid` the set does not hold may mean a rotation at the provider (fetch
//! now) or a forgery with a random `kid` (fetch nothing). The two cannot be told apart
//! before the key is at hand, so the budget bounds what the forgeries can spend without
//! letting them starve a rotation:
//!
//! * **a token bucket per issuer** of `burst` fetches, refilled one per
//!   `refetch_interval` (defaults 3 and 4 s): one forged token leaves two fetches for a
//!   rotation right after it, and a flood of random `kid`s costs at most `burst` + one
//!   fetch per interval — while *every* fetch it causes also brings in any rotated key,
//!   so a rotation is picked up within one interval even under the flood;
//! * **one fetch per unknown `kid`**: a `kid` that was still absent from a set fetched
//!   after it was first asked for causes no other fetch for [`KID_RETRY`] seconds (the
//!   same forged token replayed spends nothing);
//! * **riding a fetch in flight** costs nothing: a request waits for it instead.
//!
//! The state is plain data, driven by the caller's clock (seconds) under the key set's
//! state lock; `RemoteKeys` does the I/O.

use std::collections::VecDeque;

use sha2::{Digest as _, Sha256};

/// How long a `kid` absent from a set fetched after it was first asked for causes no
/// other fetch (seconds).
pub(crate) const KID_RETRY: u64 = 30;
/// How many asked-for `kid`s are remembered; the oldest are forgotten first (entries are
/// made only for `kid`s that cause or wait for a fetch, a handful per interval).
const KIDS_REMEMBERED: usize = 256;
/// At most one "unknown kid" warning per issuer in this many seconds.
const WARN_EVERY: u64 = 10;

/// A `kid` as the budget knows it: the first 8 bytes of its SHA-256 (an attacker who
/// cannot find SHA-256 preimages cannot make a random `kid` stand for a real one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct KidId(u64);

impl KidId {
    pub(crate) fn of(kid: &str) -> Self {
        let digest = Sha256::digest(kid.as_bytes());
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        KidId(u64::from_be_bytes(first))
    }

    /// 8 hex digits of the hash: enough to correlate log lines, nothing of the `kid`.
    pub(crate) fn short(self) -> String {
        format!("{:08x}", self.0 >> 32)
    }
}

/// What a token with an unknown `kid` gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ask {
    /// Wait for a refetch (one in flight, or one the budget allows), then look again.
    Wait,
    /// Refused now (401 unknown key), for this reason.
    Refuse(Refused),
}

/// Why a token with an unknown `kid` is refused without a fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// A set fetched after this `kid` was first asked for does not hold it either.
    NotInSet,
    /// The budget is spent (a flood of unknown `kid`s, or many rotations at once).
    BudgetSpent,
}

impl Refused {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Refused::NotInSet => "not in a set fetched after it was first seen",
            Refused::BudgetSpent => "refetch budget spent",
        }
    }
}

#[derive(Debug)]
struct Asked {
    kid: KidId,
    /// The number of fetches started when it was asked for: a fetch numbered higher
    /// started after it.
    after: u64,
    /// When it is forgotten.
    until: u64,
}

/// The unknown-`kid` budget of one issuer.
#[derive(Debug)]
pub(crate) struct RefetchBudget {
    /// Seconds per token (at least 1).
    interval: u64,
    /// Bucket size (at least 1).
    burst: u64,
    /// The bucket as a GCRA "theoretical arrival time": a fetch is allowed while
    /// `tat <= now + interval * (burst - 1)`; each one moves `tat` one interval on.
    tat: u64,
    asked: VecDeque<Asked>,
    last_warn: Option<u64>,
    suppressed: u64,
}

impl RefetchBudget {
    pub(crate) fn new(interval_secs: u64, burst: u32) -> Self {
        RefetchBudget {
            interval: interval_secs.max(1),
            burst: u64::from(burst.max(1)),
            tat: 0,
            asked: VecDeque::new(),
            last_warn: None,
            suppressed: 0,
        }
    }

    /// Whether the bucket holds a fetch now.
    pub(crate) fn allows(&self, now: u64) -> bool {
        self.tat <= now.saturating_add(self.interval * (self.burst - 1))
    }

    /// Takes a fetch from the bucket, when it holds one.
    pub(crate) fn take(&mut self, now: u64) -> bool {
        if !self.allows(now) {
            return false;
        }
        self.tat = self.tat.max(now).saturating_add(self.interval);
        true
    }

    /// A token's `kid` is not in the set. `started` is the number of fetches started so
    /// far, `fresh_from` the number of the last one that succeeded, `in_flight` whether
    /// one is running now. Nothing is taken from the bucket here: the fetch takes it.
    pub(crate) fn ask(
        &mut self,
        kid: KidId,
        now: u64,
        started: u64,
        fresh_from: u64,
        in_flight: bool,
    ) -> Ask {
        self.asked.retain(|a| a.until > now);
        let may_wait = in_flight || self.allows(now);
        if let Some(a) = self.asked.iter().find(|a| a.kid == kid) {
            if fresh_from > a.after {
                return Ask::Refuse(Refused::NotInSet);
            }
            return if may_wait {
                Ask::Wait
            } else {
                Ask::Refuse(Refused::BudgetSpent)
            };
        }
        if !may_wait {
            return Ask::Refuse(Refused::BudgetSpent);
        }
        if self.asked.len() >= KIDS_REMEMBERED {
            self.asked.pop_front();
        }
        self.asked.push_back(Asked {
            kid,
            after: started,
            until: now.saturating_add(KID_RETRY),
        });
        Ask::Wait
    }

    /// Whether a refusal should be logged now: `Some(n)` with the number of refusals
    /// not logged since the last warning, at most once per [`WARN_EVERY`] seconds.
    pub(crate) fn warn_due(&mut self, now: u64) -> Option<u64> {
        match self.last_warn {
            Some(t) if now < t.saturating_add(WARN_EVERY) => {
                self.suppressed += 1;
                None
            }
            _ => {
                self.last_warn = Some(now);
                Some(std::mem::take(&mut self.suppressed))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bucket_holds_burst_fetches_and_refills_one_per_interval() {
        let mut b = RefetchBudget::new(4, 3);
        let t = 1_000;
        assert!(b.take(t) && b.take(t) && b.take(t), "the burst");
        assert!(!b.allows(t) && !b.take(t + 3), "then empty");
        assert!(b.take(t + 4), "one more after an interval");
        assert!(!b.take(t + 7));
        assert!(b.take(t + 8));
        // A quiet minute refills the bucket, never beyond the burst.
        let later = t + 60;
        assert!(b.take(later) && b.take(later) && b.take(later));
        assert!(!b.take(later));
    }

    #[test]
    fn a_flood_of_distinct_kids_costs_the_burst_then_one_fetch_per_interval() {
        let mut b = RefetchBudget::new(4, 3);
        let (mut started, mut fetches) = (0, 0);
        for second in 0..60 {
            for i in 0..17 {
                let kid = KidId::of(&format!("random-{second}-{i}"));
                if b.ask(kid, second, started, started, false) == Ask::Wait && b.take(second) {
                    started += 1;
                    fetches += 1;
                }
            }
        }
        // 3 at once, then one at 4, 8, ..., 56.
        assert_eq!(fetches, 3 + 14);
    }

    #[test]
    fn a_kid_absent_after_its_own_fetch_is_refused_until_kid_retry() {
        let mut b = RefetchBudget::new(4, 3);
        let x = KidId::of("x");
        assert_eq!(b.ask(x, 100, 7, 7, false), Ask::Wait);
        // Asked again while no fetch started after it succeeded: it may wait again.
        assert_eq!(b.ask(x, 100, 7, 7, true), Ask::Wait);
        // A fetch that started before it was asked (number 7) proves nothing ...
        assert_eq!(b.ask(x, 101, 8, 7, false), Ask::Wait);
        // ... one that started after it (number 8) does.
        assert_eq!(b.ask(x, 101, 8, 8, false), Ask::Refuse(Refused::NotInSet));
        assert_eq!(
            b.ask(x, 100 + KID_RETRY - 1, 8, 8, true),
            Ask::Refuse(Refused::NotInSet),
            "not even riding a fetch in flight"
        );
        assert_eq!(
            b.ask(x, 100 + KID_RETRY, 8, 8, false),
            Ask::Wait,
            "forgotten"
        );
    }

    #[test]
    fn a_fetch_in_flight_is_ridden_when_the_bucket_is_empty() {
        let mut b = RefetchBudget::new(4, 1);
        assert!(b.take(0));
        let k = KidId::of("k2");
        assert_eq!(b.ask(k, 1, 1, 0, false), Ask::Refuse(Refused::BudgetSpent));
        assert_eq!(b.ask(k, 1, 1, 0, true), Ask::Wait);
    }

    #[test]
    fn the_memory_of_asked_kids_is_bounded() {
        let mut b = RefetchBudget::new(4, 3);
        for i in 0..10 * KIDS_REMEMBERED {
            b.ask(KidId::of(&i.to_string()), 5, 0, 0, true);
        }
        assert_eq!(b.asked.len(), KIDS_REMEMBERED);
    }

    #[test]
    fn warnings_are_rate_limited_and_count_what_they_left_out() {
        let mut b = RefetchBudget::new(4, 3);
        assert_eq!(b.warn_due(100), Some(0));
        for t in 100..110 {
            assert_eq!(b.warn_due(t), None);
        }
        assert_eq!(b.warn_due(110), Some(10));
        assert_eq!(b.warn_due(111), None);
    }

    #[test]
    fn a_kid_is_logged_as_8_hex_digits_of_its_hash() {
        let id = KidId::of("secret-looking-kid");
        assert_eq!(id.short().len(), 8);
        assert!(id.short().chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(id, KidId::of("secret-looking-kie"));
    }
}
