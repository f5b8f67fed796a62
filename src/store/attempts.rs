//! Failed-login counters ([`AttemptCounter`]): one fixed window per key, started by its
//! first failure. The store behind the login throttle
//! ([`LoginLimiter`](crate::session::LoginLimiter)); [`MemoryAttempts`] for one process,
//! `RedisStore` (feature `redis`) for every instance sharing a server.
//!
//! ```
//! use std::time::Duration;
//! use axum_token_auth::store::attempts::{AttemptCounter, AttemptKey, MemoryAttempts};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), axum_token_auth::store::StoreError> {
//! let counter = MemoryAttempts::new();
//! let key = AttemptKey::new("account", "alice");
//! assert_eq!(counter.count(&key).await?.failures, 0);
//! counter.add_failure(&key, Duration::from_secs(900)).await?;
//! let now = counter.add_failure(&key, Duration::from_secs(900)).await?;
//! assert_eq!(now.failures, 2);
//! assert!(now.resets_in <= Duration::from_secs(900));
//! counter.remove_failure(&key).await?; // an attempt given back
//! assert_eq!(counter.count(&key).await?.failures, 1);
//! counter.clear(&key).await?;
//! assert_eq!(counter.count(&key).await?.failures, 0);
//! # Ok(()) }
//! ```
//!
//! Keys are digests: neither a user name nor an address is stored in the clear.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::store::StoreError;

/// What a counter is counted for: a kind (`"account"`, `"address"`, `"pair"`) and the
/// SHA-256 of the value, 128 bits of it in base64url (22 characters). Nothing a client
/// sent is kept in the clear.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct AttemptKey(String);

impl AttemptKey {
    /// The key of `value` (a user name, an address, both) counted as `kind`.
    pub fn new(kind: &str, value: &str) -> Self {
        let mut h = Sha256::new();
        h.update(kind.as_bytes());
        h.update([0]);
        h.update(value.as_bytes());
        let digest = h.finalize();
        AttemptKey(format!("{kind}:{}", URL_SAFE_NO_PAD.encode(&digest[..16])))
    }

    /// The key as stored: `<kind>:<22 base64url characters>`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AttemptKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A counter's state: the failures in its current window and the time left of it
/// (zero when no window is open).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WindowCount {
    /// Failures counted in the current window.
    pub failures: u32,
    /// Until the window ends and the count is forgotten.
    pub resets_in: Duration,
}

impl WindowCount {
    /// `failures` with `resets_in` left.
    pub fn new(failures: u32, resets_in: Duration) -> Self {
        WindowCount {
            failures,
            resets_in,
        }
    }
}

/// Counts attempts per key in fixed windows: the first opens a window of the given
/// length, later ones add to it, and the count is forgotten when it ends.
///
/// Implementations must be atomic per key (two instances adding at once both count, and
/// each sees its own place in the count): the throttle admits an attempt by adding it
/// *before* the password is checked, so concurrent attempts cannot all see the same
/// count (see [`LoginLimiter`](crate::session::LoginLimiter)).
#[async_trait]
pub trait AttemptCounter: Send + Sync + 'static {
    /// The current count of `key` (zero and no time left when none).
    async fn count(&self, key: &AttemptKey) -> Result<WindowCount, StoreError>;

    /// Adds one attempt to `key`, opening a window of `window` when none is open, and
    /// returns the count after it (this attempt included).
    async fn add_failure(
        &self,
        key: &AttemptKey,
        window: Duration,
    ) -> Result<WindowCount, StoreError>;

    /// Takes one attempt back from `key` (never below zero; the window keeps its end): an
    /// attempt that was refused, succeeded, or never reached a password check.
    async fn remove_failure(&self, key: &AttemptKey) -> Result<(), StoreError>;

    /// Forgets `key`'s count (after a successful login).
    async fn clear(&self, key: &AttemptKey) -> Result<(), StoreError>;
}

/// Default [`MemoryAttempts`] capacity: counters held at once.
pub const DEFAULT_ATTEMPT_CAPACITY: usize = 100_000;

/// [`AttemptCounter`] in process memory: one instance only (each instance of a service
/// counts its own failures; share a Redis store instead). Holds at most `capacity`
/// counters: when full, expired ones are dropped first, then the one closest to its end
/// (so an attacker cycling through addresses cannot grow memory, and loses the counts
/// that matter least).
pub struct MemoryAttempts {
    counters: Mutex<HashMap<AttemptKey, (u32, Instant)>>,
    capacity: usize,
}

impl fmt::Debug for MemoryAttempts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryAttempts")
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl Default for MemoryAttempts {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryAttempts {
    /// Counters for up to [`DEFAULT_ATTEMPT_CAPACITY`] keys (about 10 MB at that size, by
    /// estimate: a 30-byte key, a count and an instant, and the map's overhead).
    pub fn new() -> Self {
        Self::with_capacity(DEFAULT_ATTEMPT_CAPACITY)
    }

    /// Counters for up to `capacity` keys (at least one).
    ///
    /// ```
    /// use axum_token_auth::store::attempts::MemoryAttempts;
    ///
    /// let small = MemoryAttempts::with_capacity(10_000);
    /// # let _ = small;
    /// ```
    pub fn with_capacity(capacity: usize) -> Self {
        MemoryAttempts {
            counters: Mutex::new(HashMap::new()),
            capacity: capacity.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<AttemptKey, (u32, Instant)>> {
        // A panic while holding the lock left plain numbers: still usable.
        self.counters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait]
impl AttemptCounter for MemoryAttempts {
    async fn count(&self, key: &AttemptKey) -> Result<WindowCount, StoreError> {
        let now = Instant::now();
        Ok(match self.lock().get(key) {
            Some(&(n, end)) if end > now => WindowCount::new(n, end - now),
            _ => WindowCount::default(),
        })
    }

    async fn add_failure(
        &self,
        key: &AttemptKey,
        window: Duration,
    ) -> Result<WindowCount, StoreError> {
        let now = Instant::now();
        let mut map = self.lock();
        if !map.contains_key(key) && map.len() >= self.capacity {
            map.retain(|_, (_, end)| *end > now);
            if map.len() >= self.capacity
                && let Some(soonest) = map
                    .iter()
                    .min_by_key(|(_, (_, end))| *end)
                    .map(|(k, _)| k.clone())
            {
                map.remove(&soonest);
            }
        }
        let entry = map.entry(key.clone()).or_insert((0, now + window));
        if entry.1 <= now {
            *entry = (0, now + window);
        }
        entry.0 = entry.0.saturating_add(1);
        Ok(WindowCount::new(entry.0, entry.1 - now))
    }

    async fn remove_failure(&self, key: &AttemptKey) -> Result<(), StoreError> {
        if let Some(entry) = self.lock().get_mut(key) {
            entry.0 = entry.0.saturating_sub(1);
        }
        Ok(())
    }

    async fn clear(&self, key: &AttemptKey) -> Result<(), StoreError> {
        self.lock().remove(key);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_window_counts_until_it_ends_then_starts_over() {
        let c = MemoryAttempts::new();
        let k = AttemptKey::new("pair", "alice\u{0}203.0.113.7");
        let short = Duration::from_millis(50);
        assert_eq!(c.add_failure(&k, short).await.unwrap().failures, 1);
        assert_eq!(c.add_failure(&k, short).await.unwrap().failures, 2);
        assert_eq!(c.count(&k).await.unwrap().failures, 2);
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert_eq!(c.count(&k).await.unwrap(), WindowCount::default());
        assert_eq!(c.add_failure(&k, short).await.unwrap().failures, 1);
    }

    #[tokio::test]
    async fn a_failure_given_back_never_goes_below_zero_nor_moves_the_window() {
        let c = MemoryAttempts::new();
        let k = AttemptKey::new("address", "203.0.113.7");
        c.remove_failure(&k).await.unwrap();
        assert_eq!(c.count(&k).await.unwrap(), WindowCount::default());
        let first = c.add_failure(&k, Duration::from_secs(60)).await.unwrap();
        c.add_failure(&k, Duration::from_secs(60)).await.unwrap();
        c.remove_failure(&k).await.unwrap();
        let now = c.count(&k).await.unwrap();
        assert_eq!(now.failures, 1);
        assert!(now.resets_in <= first.resets_in);
        c.remove_failure(&k).await.unwrap();
        c.remove_failure(&k).await.unwrap();
        assert_eq!(c.count(&k).await.unwrap().failures, 0);
        assert_eq!(
            c.add_failure(&k, Duration::from_secs(60))
                .await
                .unwrap()
                .failures,
            1
        );
    }

    #[tokio::test]
    async fn a_full_counter_forgets_the_window_closest_to_its_end() {
        let c = MemoryAttempts::with_capacity(2);
        let (a, b, d) = (
            AttemptKey::new("address", "a"),
            AttemptKey::new("address", "b"),
            AttemptKey::new("address", "d"),
        );
        c.add_failure(&a, Duration::from_secs(10)).await.unwrap();
        c.add_failure(&b, Duration::from_secs(100)).await.unwrap();
        c.add_failure(&d, Duration::from_secs(100)).await.unwrap();
        assert_eq!(c.count(&a).await.unwrap().failures, 0);
        assert_eq!(c.count(&b).await.unwrap().failures, 1);
        assert_eq!(c.count(&d).await.unwrap().failures, 1);
        assert_eq!(c.lock().len(), 2);
    }

    #[test]
    fn keys_hide_what_they_count_and_keep_kinds_apart() {
        let k = AttemptKey::new("account", "alice@example.com");
        assert!(!k.as_str().contains("alice"));
        assert_eq!(k.as_str().len(), "account:".len() + 22);
        assert_ne!(
            AttemptKey::new("account", "x").as_str()[8..],
            AttemptKey::new("address", "x").as_str()[8..]
        );
    }
}
