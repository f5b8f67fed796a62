//! Key rotation on a live [`TokenAuth`]: the keyring is swapped whole, so requests in
//! flight finish with the ring they started with.

use crate::auth::TokenAuth;
use crate::token::error::ConfigError;
use crate::token::keys::{Key, KeyRing};

impl TokenAuth {
    /// Makes `key` the signing key; the previous signing key stays as a verification
    /// key, so tokens it signed keep verifying until [`retire_key`](Self::retire_key).
    /// Both need distinct `kid`s (asymmetric keys get their thumbprint by default).
    pub fn rotate_signing_key(&self, key: Key) -> Result<(), ConfigError> {
        self.verifier().keys.change(|ring| {
            let rest = ring.keys().to_vec();
            Ok((KeyRing::new(Some(key), rest)?, false))
        })?;
        tracing::info!("signing key rotated");
        Ok(())
    }

    /// Adds a key that verifies the service's own tokens but signs none (e.g. another
    /// instance's new key, published before it signs with it).
    pub fn add_verification_key(&self, key: Key) -> Result<(), ConfigError> {
        self.verifier().keys.change(|ring| {
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
        self.verifier().keys.change(|ring| {
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
