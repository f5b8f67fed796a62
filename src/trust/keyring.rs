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

use crate::token::error::ConfigError;
use crate::token::keys::KeyRing;

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

    pub(crate) fn change(
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
