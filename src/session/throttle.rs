//! The login throttle: [`LoginThrottle`] admits an attempt before its password is
//! checked and is told the outcome after; [`LoginLimiter`] is the built-in one, over an
//! [`AttemptCounter`] (memory or Redis).
//!
//! # The choice (OWASP Authentication and Credential Stuffing cheat sheets)
//!
//! A lockout per account alone lets anyone lock a victim out by failing on purpose
//! (account-lockout denial of service); a limit per address alone lets a botnet guess one
//! account's password from many addresses. So [`LoginLimiter`] counts attempts three
//! ways, each in a fixed window started by its first attempt, and refuses (429, the
//! password unchecked) an attempt that would go over any limit:
//!
//! | counter | default | stops | given back by a success |
//! | --- | --- | --- | --- |
//! | account + address | 5 per 15 min | one client guessing one account | the whole count |
//! | address | 50 per 15 min | one client spraying many accounts | that attempt only (else one valid account would reset it) |
//! | account | 100 per hour | a botnet guessing one account (NIST SP 800-63B §5.2.2: at most 100 failures) | the whole count |
//!
//! **Counted before the hash.** [`check`](LoginThrottle::check) adds the attempt to every
//! counter at once (atomically per counter: Redis `INCR`, a mutex in memory) and refuses
//! it when any count is then over its limit; a refused attempt is given back. So 200
//! simultaneous guesses at one account from one address get at most 5 password checks,
//! not 200 (which they would if the counters were only read before the hash and written
//! after it). What stays counted is a failure: [`record`](LoginThrottle::record) of a
//! success clears the account's counters and gives the address its attempt back, and
//! [`cancel`](LoginThrottle::cancel) gives back an attempt whose password was never
//! checked (the user lookup failed, the hash queue was full).
//!
//! A victim's owner is refused only by the tight pair counter of *their own* address, or
//! by the loose account counter. ⚠️ That one is a window, not a lock, but an attacker
//! with many addresses can fill it again as soon as it ends (100 failures an hour, 2 400
//! a day from a botnet), keeping the owner out for as long as the attack lasts. What the
//! application can do (OWASP): keep the per-account limit loose or disable it
//! ([`per_account`](LoginLimiter::per_account) with a huge limit) and rely on the pair and
//! address limits plus detection (the `token_auth_logins_throttled_total{scope="account"}`
//! metric), offer a second factor or a password reset link that bypasses the limit, or
//! put a CAPTCHA in front of the route while an account is under attack. The account is
//! the user name as [`PasswordAccounts::normalize`](crate::session::PasswordAccounts::normalize)
//! gave it (the same name the lookup gets: `Alice` and `alice` share a count when the
//! lookup treats them as one), whether or not it exists (else the throttle would tell
//! which names exist). IPv6 addresses count per `/64` (one subscriber's prefix: an
//! attacker holds all of it).
//!
//! ⚠️ Without a client address (a server without `ConnectInfo`, see
//! [`client_address`](crate::session::PasswordLoginBuilder::client_address)) only the
//! per-account counter applies: the route logs a warning once.
//!
//! ```
//! use std::time::Duration;
//! use axum_token_auth::session::{Limit, LoginAttempt, LoginLimiter, LoginThrottle, ThrottleScope};
//! use axum_token_auth::store::attempts::MemoryAttempts;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let limiter = LoginLimiter::new(MemoryAttempts::new())
//!     .per_address(Limit::new(2, Duration::from_secs(60)));
//! let from = Some("203.0.113.7".parse()?);
//! // One address, two accounts sprayed: the third attempt waits, whatever the account.
//! for name in ["alice", "bob"] {
//!     let attempt = LoginAttempt::new(name, from);
//!     assert!(limiter.check(&attempt).await?.is_none()); // admitted, and counted
//!     limiter.record(&attempt, false).await?; // a wrong password: it stays counted
//! }
//! let refused = limiter.check(&LoginAttempt::new("carol", from)).await?.expect("throttled");
//! assert_eq!(refused.scope, ThrottleScope::Address);
//! # Ok(()) }
//! ```

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::store::StoreError;
use crate::store::attempts::{AttemptCounter, AttemptKey};

/// One login attempt, as the throttle sees it.
#[derive(Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoginAttempt<'a> {
    /// The user name as the lookup gets it (after
    /// [`PasswordAccounts::normalize`](crate::session::PasswordAccounts::normalize);
    /// whether or not such a user exists). Counted as given.
    pub account: &'a str,
    /// The client's address, when known (`ConnectInfo`, or what
    /// [`PasswordLoginBuilder::client_address`](crate::session::PasswordLoginBuilder::client_address) reads).
    pub address: Option<IpAddr>,
}

impl<'a> LoginAttempt<'a> {
    /// An attempt at `account` from `address`.
    pub fn new(account: &'a str, address: Option<IpAddr>) -> Self {
        LoginAttempt { account, address }
    }
}

/// Never prints the user name (it may be a mistyped password).
impl fmt::Debug for LoginAttempt<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginAttempt")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

/// Which counter refused an attempt (a metrics label, a log field).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ThrottleScope {
    /// This account from this address.
    AccountAndAddress,
    /// This address, whatever the account.
    Address,
    /// This account, whatever the address.
    Account,
}

impl ThrottleScope {
    /// A fixed name: `account_address`, `address`, `account`.
    pub fn name(self) -> &'static str {
        match self {
            ThrottleScope::AccountAndAddress => "account_address",
            ThrottleScope::Address => "address",
            ThrottleScope::Account => "account",
        }
    }
}

/// An attempt refused by the throttle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Throttled {
    /// Until the attempt may be made again.
    pub retry_after: Duration,
    /// Which counter refused it.
    pub scope: ThrottleScope,
}

impl Throttled {
    /// Refused by `scope` for `retry_after`.
    pub fn new(scope: ThrottleScope, retry_after: Duration) -> Self {
        Throttled { retry_after, scope }
    }
}

/// Admits an attempt before its password is checked ([`check`](Self::check): `Some`
/// refuses it with 429, and no hash is computed) and is told what became of an admitted
/// one ([`record`](Self::record), or [`cancel`](Self::cancel) when no password was
/// checked). An error is a store outage: the login answers 503 (see
/// [`PasswordLogin`](crate::session::PasswordLogin) for why it fails closed).
///
/// `check` must count the attempt it admits, atomically: a throttle that only reads its
/// counters there and writes them in `record` lets concurrent attempts all see the same
/// count (see [`LoginLimiter`]).
///
/// ```
/// use axum_token_auth::async_trait;
/// use axum_token_auth::session::{LoginAttempt, LoginThrottle, Throttled};
/// use axum_token_auth::store::StoreError;
///
/// /// Lets everything through (e.g. behind a gateway that limits logins itself).
/// struct Unthrottled;
///
/// #[async_trait]
/// impl LoginThrottle for Unthrottled {
///     async fn check(&self, _: &LoginAttempt<'_>) -> Result<Option<Throttled>, StoreError> {
///         Ok(None)
///     }
///     async fn record(&self, _: &LoginAttempt<'_>, _: bool) -> Result<(), StoreError> {
///         Ok(())
///     }
/// }
/// ```
#[async_trait]
pub trait LoginThrottle: Send + Sync + 'static {
    /// Whether `attempt` may check a password now; `None` admits it, and counts it as a
    /// failure until [`record`](Self::record) or [`cancel`](Self::cancel) says otherwise.
    async fn check(&self, attempt: &LoginAttempt<'_>) -> Result<Option<Throttled>, StoreError>;

    /// The outcome of an admitted attempt: `succeeded`, or a wrong password (an unknown
    /// user counts as a wrong password).
    async fn record(&self, attempt: &LoginAttempt<'_>, succeeded: bool) -> Result<(), StoreError>;

    /// An admitted attempt whose password was never checked (the user lookup failed, no
    /// hash slot freed up in time): not a failure. The default does nothing (the attempt
    /// stays counted: the safe side).
    async fn cancel(&self, attempt: &LoginAttempt<'_>) -> Result<(), StoreError> {
        let _ = attempt;
        Ok(())
    }
}

/// A limit: at most `max_failures` in a `window` started by the first failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    max_failures: u32,
    window: Duration,
}

impl Limit {
    /// At most `max_failures` (at least one) per `window` (at least one second).
    ///
    /// ```
    /// use std::time::Duration;
    /// use axum_token_auth::session::Limit;
    ///
    /// let five_per_quarter_hour = Limit::new(5, Duration::from_secs(15 * 60));
    /// # let _ = five_per_quarter_hour;
    /// ```
    pub fn new(max_failures: u32, window: Duration) -> Self {
        Limit {
            max_failures: max_failures.max(1),
            window: window.max(Duration::from_secs(1)),
        }
    }
}

/// The built-in [`LoginThrottle`]: failure counters per account and address, per
/// address, and per account (the table and its reasons are in the
/// [module docs](crate::session::throttle)), in any
/// [`AttemptCounter`].
///
/// ```
/// use std::time::Duration;
/// use axum_token_auth::session::{Limit, LoginAttempt, LoginLimiter, LoginThrottle};
/// use axum_token_auth::store::attempts::MemoryAttempts;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let limiter = LoginLimiter::new(MemoryAttempts::new())
///     .per_account_and_address(Limit::new(3, Duration::from_secs(600)));
/// let attempt = LoginAttempt::new("alice", Some("203.0.113.7".parse()?));
/// for _ in 0..3 {
///     assert!(limiter.check(&attempt).await?.is_none()); // admitted and counted
///     limiter.record(&attempt, false).await?; // a wrong password
/// }
/// let refused = limiter.check(&attempt).await?.expect("throttled");
/// assert!(refused.retry_after <= Duration::from_secs(600));
/// // Another address may still try (until the per-account limit).
/// let elsewhere = LoginAttempt::new("alice", Some("198.51.100.1".parse()?));
/// assert!(limiter.check(&elsewhere).await?.is_none());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct LoginLimiter {
    counter: Arc<dyn AttemptCounter>,
    pair: Limit,
    address: Limit,
    account: Limit,
}

impl fmt::Debug for LoginLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginLimiter")
            .field("per_account_and_address", &self.pair)
            .field("per_address", &self.address)
            .field("per_account", &self.account)
            .finish_non_exhaustive()
    }
}

/// Default per account and address: 5 failures per 15 minutes.
pub const DEFAULT_PER_ACCOUNT_AND_ADDRESS: Limit = Limit {
    max_failures: 5,
    window: Duration::from_secs(15 * 60),
};
/// Default per address: 50 failures per 15 minutes.
pub const DEFAULT_PER_ADDRESS: Limit = Limit {
    max_failures: 50,
    window: Duration::from_secs(15 * 60),
};
/// Default per account: 100 failures per hour.
pub const DEFAULT_PER_ACCOUNT: Limit = Limit {
    max_failures: 100,
    window: Duration::from_secs(60 * 60),
};

impl LoginLimiter {
    /// The default limits over `counter`.
    pub fn new(counter: impl AttemptCounter) -> Self {
        Self::shared(Arc::new(counter))
    }

    /// [`new`](Self::new) over a shared counter (e.g. the `Arc<RedisStore>` the sessions
    /// use).
    pub fn shared(counter: Arc<dyn AttemptCounter>) -> Self {
        LoginLimiter {
            counter,
            pair: DEFAULT_PER_ACCOUNT_AND_ADDRESS,
            address: DEFAULT_PER_ADDRESS,
            account: DEFAULT_PER_ACCOUNT,
        }
    }

    /// The limit per account and address ([`DEFAULT_PER_ACCOUNT_AND_ADDRESS`]).
    #[must_use]
    pub fn per_account_and_address(mut self, limit: Limit) -> Self {
        self.pair = limit;
        self
    }

    /// The limit per address ([`DEFAULT_PER_ADDRESS`]).
    #[must_use]
    pub fn per_address(mut self, limit: Limit) -> Self {
        self.address = limit;
        self
    }

    /// The limit per account ([`DEFAULT_PER_ACCOUNT`]). Keep it loose: anyone can fill
    /// it for a victim, and an attacker with many addresses can fill it again every
    /// window (see the [module docs](crate::session::throttle)). To disable it, give it
    /// a limit no one reaches (`Limit::new(u32::MAX, window)`).
    #[must_use]
    pub fn per_account(mut self, limit: Limit) -> Self {
        self.account = limit;
        self
    }

    /// The counters of `attempt` with their limits (no address: the account's only).
    fn keys(&self, attempt: &LoginAttempt<'_>) -> Vec<(AttemptKey, Limit, ThrottleScope)> {
        // Counted as given: the one normalisation is `PasswordAccounts::normalize`, so
        // the name counted is the name looked up.
        let account = attempt.account;
        let mut keys = vec![(
            AttemptKey::new("account", account),
            self.account,
            ThrottleScope::Account,
        )];
        if let Some(address) = attempt.address.map(address_key) {
            keys.push((
                AttemptKey::new("pair", &format!("{account}\u{0}{address}")),
                self.pair,
                ThrottleScope::AccountAndAddress,
            ));
            keys.push((
                AttemptKey::new("address", &address),
                self.address,
                ThrottleScope::Address,
            ));
        }
        keys
    }
}

/// An address as counted: IPv4 (IPv4-mapped IPv6 included) whole, IPv6 by its `/64`.
fn address_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

/// Keeps the first error of several steps that all run.
fn keep_first(first: &mut Result<(), StoreError>, step: Result<(), StoreError>) {
    if first.is_ok() {
        *first = step;
    }
}

#[async_trait]
impl LoginThrottle for LoginLimiter {
    async fn check(&self, attempt: &LoginAttempt<'_>) -> Result<Option<Throttled>, StoreError> {
        let keys = self.keys(attempt);
        let mut refused: Option<Throttled> = None;
        let mut added = Vec::with_capacity(keys.len());
        let mut error = None;
        // At most three round trips, next to a password hash's tens of milliseconds.
        for (key, limit, scope) in &keys {
            match self.counter.add_failure(key, limit.window).await {
                Ok(count) => {
                    added.push(key);
                    if count.failures > limit.max_failures {
                        // The longest wait: refused until every counter allows it.
                        let wait = count.resets_in.max(Duration::from_secs(1));
                        if refused.is_none_or(|r| r.retry_after < wait) {
                            refused = Some(Throttled::new(*scope, wait));
                        }
                    }
                }
                Err(e) => {
                    error = Some(e);
                    break;
                }
            }
        }
        if error.is_some() || refused.is_some() {
            // Not admitted: give its place back everywhere it was counted, so a refused
            // attempt never adds to a count (a victim refused by the account counter
            // does not use up their address's attempts).
            for key in added {
                if let Err(e) = self.counter.remove_failure(key).await {
                    tracing::debug!(error = %e, "login throttle: an attempt was not given back");
                }
            }
        }
        match error {
            Some(e) => Err(e),
            None => Ok(refused),
        }
    }

    async fn record(&self, attempt: &LoginAttempt<'_>, succeeded: bool) -> Result<(), StoreError> {
        if !succeeded {
            // Counted when admitted.
            return Ok(());
        }
        // Every counter, even after an error (the first is reported).
        let mut first = Ok(());
        for (key, _, scope) in self.keys(attempt) {
            // The address gets this attempt back; the account's counters are cleared.
            let step = if scope == ThrottleScope::Address {
                self.counter.remove_failure(&key).await
            } else {
                self.counter.clear(&key).await
            };
            keep_first(&mut first, step);
        }
        first
    }

    async fn cancel(&self, attempt: &LoginAttempt<'_>) -> Result<(), StoreError> {
        let mut first = Ok(());
        for (key, _, _) in self.keys(attempt) {
            keep_first(&mut first, self.counter.remove_failure(&key).await);
        }
        first
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::attempts::MemoryAttempts;

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn ipv6_counts_per_64_and_mapped_ipv4_as_ipv4() {
        assert_eq!(
            address_key("2001:db8:1:2:aaaa::1".parse().unwrap()),
            address_key("2001:db8:1:2:bbbb::9".parse().unwrap())
        );
        assert_ne!(
            address_key("2001:db8:1:2::1".parse().unwrap()),
            address_key("2001:db8:1:3::1".parse().unwrap())
        );
        assert_eq!(
            address_key("::ffff:203.0.113.7".parse().unwrap()),
            "203.0.113.7"
        );
    }

    #[tokio::test]
    async fn the_per_address_limit_spans_accounts_and_survives_a_success() {
        let limiter = LoginLimiter::new(MemoryAttempts::new())
            .per_address(Limit::new(3, Duration::from_secs(60)));
        for name in ["a", "b"] {
            let attempt = LoginAttempt::new(name, ip("203.0.113.7"));
            assert_eq!(limiter.check(&attempt).await.unwrap(), None);
            limiter.record(&attempt, false).await.unwrap();
        }
        // A success (the attacker's own account) gives back its own attempt only.
        let mine = LoginAttempt::new("mine", ip("203.0.113.7"));
        assert_eq!(limiter.check(&mine).await.unwrap(), None);
        limiter.record(&mine, true).await.unwrap();
        let c = LoginAttempt::new("c", ip("203.0.113.7"));
        assert_eq!(limiter.check(&c).await.unwrap(), None);
        limiter.record(&c, false).await.unwrap();
        let refused = limiter
            .check(&LoginAttempt::new("d", ip("203.0.113.7")))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(refused.scope, ThrottleScope::Address);
        assert!(
            limiter
                .check(&LoginAttempt::new("d", ip("198.51.100.1")))
                .await
                .unwrap()
                .is_none()
        );
    }

    /// The name is counted as given: `PasswordAccounts::normalize` (the route) is where
    /// `Alice` becomes `alice`, once, for the lookup and the counters alike.
    #[tokio::test]
    async fn the_per_account_limit_spans_addresses_and_counts_the_name_as_given() {
        let limiter = LoginLimiter::new(MemoryAttempts::new())
            .per_account(Limit::new(2, Duration::from_secs(60)));
        for from in [ip("203.0.113.1"), None] {
            let attempt = LoginAttempt::new("alice", from);
            assert_eq!(limiter.check(&attempt).await.unwrap(), None);
            limiter.record(&attempt, false).await.unwrap();
        }
        let refused = limiter
            .check(&LoginAttempt::new("alice", ip("198.51.100.2")))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(refused.scope, ThrottleScope::Account);
        for other in ["bob", "Alice"] {
            assert!(
                limiter
                    .check(&LoginAttempt::new(other, ip("198.51.100.2")))
                    .await
                    .unwrap()
                    .is_none(),
                "{other}"
            );
        }
    }

    #[tokio::test]
    async fn concurrent_attempts_are_admitted_up_to_the_limit_and_no_further() {
        let limiter = Arc::new(LoginLimiter::new(MemoryAttempts::new()));
        let checks = (0..50).map(|_| {
            let limiter = Arc::clone(&limiter);
            tokio::spawn(async move {
                limiter
                    .check(&LoginAttempt::new("alice", ip("203.0.113.7")))
                    .await
                    .unwrap()
            })
        });
        let mut admitted = 0;
        for check in checks.collect::<Vec<_>>() {
            if check.await.unwrap().is_none() {
                admitted += 1;
            }
        }
        assert_eq!(admitted, 5);
        // Refused attempts were given back: the address holds the five admitted only.
        let address = limiter
            .counter
            .count(&AttemptKey::new("address", "203.0.113.7"))
            .await
            .unwrap();
        assert_eq!(address.failures, 5);
    }

    /// A counter whose `clear` fails for one kind of key.
    struct FailingClear(MemoryAttempts, &'static str);

    #[async_trait]
    impl AttemptCounter for FailingClear {
        async fn count(
            &self,
            key: &AttemptKey,
        ) -> Result<crate::store::attempts::WindowCount, StoreError> {
            self.0.count(key).await
        }
        async fn add_failure(
            &self,
            key: &AttemptKey,
            window: Duration,
        ) -> Result<crate::store::attempts::WindowCount, StoreError> {
            self.0.add_failure(key, window).await
        }
        async fn remove_failure(&self, key: &AttemptKey) -> Result<(), StoreError> {
            self.0.remove_failure(key).await
        }
        async fn clear(&self, key: &AttemptKey) -> Result<(), StoreError> {
            if key.as_str().starts_with(self.1) {
                return Err(StoreError::Unavailable("test: clear fails".into()));
            }
            self.0.clear(key).await
        }
    }

    #[tokio::test]
    async fn a_success_reaches_every_counter_even_after_an_error() {
        let counter = Arc::new(FailingClear(MemoryAttempts::new(), "account:"));
        let limiter = LoginLimiter::shared(counter.clone());
        let attempt = LoginAttempt::new("alice", ip("203.0.113.7"));
        assert_eq!(limiter.check(&attempt).await.unwrap(), None);
        // The account counter (tried first) fails; the pair and the address still count.
        assert!(limiter.record(&attempt, true).await.is_err());
        let pair = AttemptKey::new("pair", "alice\u{0}203.0.113.7");
        let address = AttemptKey::new("address", "203.0.113.7");
        assert_eq!(counter.0.count(&pair).await.unwrap().failures, 0);
        assert_eq!(counter.0.count(&address).await.unwrap().failures, 0);
    }

    #[test]
    fn an_attempt_never_prints_its_account() {
        let a = LoginAttempt::new("hunter2-typed-as-name", ip("203.0.113.7"));
        assert!(!format!("{a:?}").contains("hunter2"));
    }
}
