//! The crate's own keyring, live: the signing key rotates and verification keys come and go
//! at runtime, without rebuilding the `Router`
//! ([`TokenAuth::rotate_signing_key`](crate::TokenAuth::rotate_signing_key),
//! [`add_verification_key`](crate::TokenAuth::add_verification_key),
//! [`retire_key`](crate::TokenAuth::retire_key)).
//!
//! (Documented with examples in the [`trust`](crate::trust) module docs.)

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
