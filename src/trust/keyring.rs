//! The crate's own keyring, live: the signing key rotates and verification keys come and
//! go at runtime, without rebuilding the `Router`
//! ([`TokenAuth::rotate_signing_key`](crate::TokenAuth::rotate_signing_key),
//! [`add_verification_key`](crate::TokenAuth::add_verification_key),
//! [`retire_key`](crate::TokenAuth::retire_key)).
//!
//! Readers (every token verification) load the current ring without a lock; writers
//! build a new ring and swap it in, one at a time. Retiring a key bumps the trust epoch,
//! so no layer's verified-token cache keeps accepting what it verified.
//!
//! ```
//! use axum_token_auth::{Key, TokenAuth, TokenRequest};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let auth = TokenAuth::builder()
//!     .signing_key(Key::hs256("a-random-secret-of-at-least-32-bytes!!")?.with_kid("2026-11"))
//!     .build()?;
//! let old = auth.issue_access(&TokenRequest::new("alice"))?;
//!
//! // Rotate: new tokens are signed with the new key; the old one still verifies.
//! auth.rotate_signing_key(Key::hs256("another-random-secret-of-32-bytes-or-more")?.with_kid("2026-12"))?;
//! let new = auth.issue_access(&TokenRequest::new("alice"))?;
//! assert!(auth.validate::<axum_token_auth::NoCustomClaims>(old.as_str()).await.is_ok());
//!
//! // Retire the old key once its tokens have expired (or now, to cut them off).
//! auth.retire_key("2026-11")?;
//! assert!(auth.validate::<axum_token_auth::NoCustomClaims>(old.as_str()).await.is_err());
//! assert!(auth.validate::<axum_token_auth::NoCustomClaims>(new.as_str()).await.is_ok());
//! # Ok(()) }
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use arc_swap::{ArcSwap, Guard};

use crate::auth::TokenAuth;
use crate::token::error::ConfigError;
use crate::token::keys::{Key, KeyRing};

/// The live keyring: the current [`KeyRing`], swapped whole on every change.
#[derive(Debug)]
pub(crate) struct LiveKeyring {
    ring: ArcSwap<KeyRing>,
    /// Serialises writers (readers never take it).
    write: Mutex<()>,
    epoch: Arc<AtomicU64>,
}

impl LiveKeyring {
    pub(crate) fn new(ring: KeyRing, epoch: Arc<AtomicU64>) -> Self {
        LiveKeyring {
            ring: ArcSwap::from_pointee(ring),
            write: Mutex::new(()),
            epoch,
        }
    }

    /// The current ring (lock-free).
    pub(crate) fn load(&self) -> Guard<Arc<KeyRing>> {
        self.ring.load()
    }

    fn change(
        &self,
        f: impl FnOnce(&KeyRing) -> Result<(KeyRing, bool), ConfigError>,
    ) -> Result<(), ConfigError> {
        let _w = self.write.lock().unwrap_or_else(|p| p.into_inner());
        let (next, retired) = f(&self.ring.load())?;
        self.ring.store(Arc::new(next));
        if retired {
            self.epoch.fetch_add(1, Ordering::AcqRel);
        }
        Ok(())
    }
}

impl TokenAuth {
    /// Makes `key` the signing key; the previous signing key stays as a verification
    /// key, so tokens it signed keep verifying until [`retire_key`](Self::retire_key).
    /// Both need distinct `kid`s (asymmetric keys get their thumbprint by default).
    pub fn rotate_signing_key(&self, key: Key) -> Result<(), ConfigError> {
        self.inner.keys.change(|ring| {
            let rest = ring.keys().to_vec();
            Ok((KeyRing::new(Some(key), rest)?, false))
        })?;
        tracing::info!("signing key rotated");
        Ok(())
    }

    /// Adds a key that verifies the service's own tokens but signs none (e.g. another
    /// instance's new key, published before it signs with it).
    pub fn add_verification_key(&self, key: Key) -> Result<(), ConfigError> {
        self.inner.keys.change(|ring| {
            let mut rest = ring.keys().to_vec();
            let signing = ring.signing().cloned();
            if signing.is_some() {
                rest.remove(0);
            }
            rest.push(key);
            Ok((KeyRing::new(signing, rest)?, false))
        })
    }

    /// Removes the verification key `kid`: tokens it signed are refused from now on,
    /// also those a layer had cached. The signing key cannot be retired (rotate first).
    pub fn retire_key(&self, kid: &str) -> Result<(), ConfigError> {
        self.inner.keys.change(|ring| {
            if ring.signing().is_some_and(|k| k.kid() == Some(kid)) {
                return Err(ConfigError::RetiringSigningKey);
            }
            if !ring.keys().iter().any(|k| k.kid() == Some(kid)) {
                return Err(ConfigError::UnknownKid(kid.to_owned()));
            }
            let signing = ring.signing().cloned();
            let rest: Vec<Key> = ring
                .keys()
                .iter()
                .skip(usize::from(signing.is_some()))
                .filter(|k| k.kid() != Some(kid))
                .cloned()
                .collect();
            Ok((KeyRing::new(signing, rest)?, true))
        })?;
        tracing::info!("verification key retired");
        Ok(())
    }
}
