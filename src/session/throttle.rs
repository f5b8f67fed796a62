//! The login throttle: [`LoginThrottle`] is asked before a password is checked and told
//! the outcome after; [`LoginLimiter`] is the built-in one, over an
//! [`AttemptCounter`] (memory or Redis).
//!
//! # The choice (OWASP Authentication and Credential Stuffing cheat sheets)
//!
//! A lockout per account alone lets anyone lock a victim out by failing on purpose
//! (account-lockout denial of service); a limit per address alone lets a botnet guess one
//! account's password from many addresses. So [`LoginLimiter`] counts failures three
//! ways, each in a fixed window started by its first failure, and refuses (429, the
//! password unchecked) while any is over its limit:
//!
//! | counter | default | stops | reset by a success |
//! | --- | --- | --- | --- |
//! | account + address | 5 per 15 min | one client guessing one account | yes |
//! | address | 50 per 15 min | one client spraying many accounts | no (else one valid account would reset it) |
//! | account | 100 per hour | a botnet guessing one account (NIST SP 800-63B §5.2.2: at most 100 failures) | yes |
//!
//! A victim's owner is refused only by the tight pair counter of *their own* address, or
//! by the loose account counter, which an attacker fills only with 100 failures an hour
//! and which ends with its window: a temporary slow-down, never a permanent lock. The
//! account is the user name as sent, lower-cased (so `Alice` and `alice` share a count),
//! whether or not it exists (else the throttle would tell which names exist). IPv6
//! addresses count per `/64` (one subscriber's prefix: an attacker holds all of it).
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
//! limiter.record(&LoginAttempt::new("alice", from), false).await?;
//! limiter.record(&LoginAttempt::new("bob", from), false).await?;
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
    /// The user name as sent (whether or not such a user exists).
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

/// Consulted before a password is checked ([`check`](Self::check): `Some` refuses the
/// attempt with 429, and no hash is computed) and told the outcome after
/// ([`record`](Self::record)). An error is a store outage: the login answers 503 (see
/// [`PasswordLogin`](crate::session::PasswordLogin) for why it fails closed).
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
    /// Whether `attempt` may check a password now.
    async fn check(&self, attempt: &LoginAttempt<'_>) -> Result<Option<Throttled>, StoreError>;

    /// The outcome of an attempt that was checked: `succeeded` or a wrong password (an
    /// unknown user counts as a wrong password).
    async fn record(&self, attempt: &LoginAttempt<'_>, succeeded: bool) -> Result<(), StoreError>;
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
///     assert!(limiter.check(&attempt).await?.is_none());
///     limiter.record(&attempt, false).await?;
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
    /// it for a victim.
    #[must_use]
    pub fn per_account(mut self, limit: Limit) -> Self {
        self.account = limit;
        self
    }

    /// The counters of `attempt` with their limits (no address: the account's only).
    fn keys(&self, attempt: &LoginAttempt<'_>) -> Vec<(AttemptKey, Limit, ThrottleScope)> {
        let account = attempt.account.to_lowercase();
        let mut keys = vec![(
            AttemptKey::new("account", &account),
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

#[async_trait]
impl LoginThrottle for LoginLimiter {
    async fn check(&self, attempt: &LoginAttempt<'_>) -> Result<Option<Throttled>, StoreError> {
        let mut refused: Option<Throttled> = None;
        // At most three round trips, next to a password hash's tens of milliseconds.
        for (key, limit, scope) in self.keys(attempt) {
            let count = self.counter.count(&key).await?;
            if count.failures >= limit.max_failures {
                // The longest wait: the attempt is refused until every counter allows it.
                let wait = count.resets_in.max(Duration::from_secs(1));
                if refused.is_none_or(|r| r.retry_after < wait) {
                    refused = Some(Throttled::new(scope, wait));
                }
            }
        }
        Ok(refused)
    }

    async fn record(&self, attempt: &LoginAttempt<'_>, succeeded: bool) -> Result<(), StoreError> {
        for (key, limit, scope) in self.keys(attempt) {
            if !succeeded {
                self.counter.add_failure(&key, limit.window).await?;
            } else if scope != ThrottleScope::Address {
                self.counter.clear(&key).await?;
            }
        }
        Ok(())
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
        for name in ["a", "b", "c"] {
            let attempt = LoginAttempt::new(name, ip("203.0.113.7"));
            assert_eq!(limiter.check(&attempt).await.unwrap(), None);
            limiter.record(&attempt, false).await.unwrap();
        }
        // A success (the attacker's own account) does not reset the address.
        limiter
            .record(&LoginAttempt::new("mine", ip("203.0.113.7")), true)
            .await
            .unwrap();
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

    #[tokio::test]
    async fn the_per_account_limit_spans_addresses_and_names_in_any_case() {
        let limiter = LoginLimiter::new(MemoryAttempts::new())
            .per_account(Limit::new(2, Duration::from_secs(60)));
        limiter
            .record(&LoginAttempt::new("Alice", ip("203.0.113.1")), false)
            .await
            .unwrap();
        limiter
            .record(&LoginAttempt::new("alice", None), false)
            .await
            .unwrap();
        let refused = limiter
            .check(&LoginAttempt::new("ALICE", ip("198.51.100.2")))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(refused.scope, ThrottleScope::Account);
        assert!(
            limiter
                .check(&LoginAttempt::new("bob", ip("198.51.100.2")))
                .await
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn an_attempt_never_prints_its_account() {
        let a = LoginAttempt::new("hunter2-typed-as-name", ip("203.0.113.7"));
        assert!(!format!("{a:?}").contains("hunter2"));
    }
}
