//! The fake provider's signing keys: RSA-2048 test keys embedded as fixtures, the set it
//! publishes, and the one it signs with.

use jsonwebtoken::EncodingKey;
use jsonwebtoken::jwk::JwkSet;

use crate::token::keys::Key;

/// Four RSA-2048 private keys generated once with `openssl genpkey` for this testkit.
/// They are public (in the crate's sources): never trust them outside tests.
const PEMS: [&str; 4] = [
    include_str!("keys/rsa1.pem"),
    include_str!("keys/rsa2.pem"),
    include_str!("keys/rsa3.pem"),
    include_str!("keys/rsa4.pem"),
];

/// The key material of generation `n` (the fixtures in turn).
fn material(n: usize) -> Key {
    Key::from_pem(jsonwebtoken::Algorithm::RS256, PEMS[n % PEMS.len()])
        .expect("the embedded fixture keys are valid RSA-2048 keys")
}

/// The keys a [`FakeIdp`](super::FakeIdp) publishes and the one it signs with.
pub(crate) struct KeyRing {
    /// Published keys, oldest first, each with its `kid`.
    published: Vec<Key>,
    /// The `kid` new tokens are signed under (published or not: see `drop_key`).
    signing: Key,
    /// Generations handed out so far.
    generation: usize,
}

impl KeyRing {
    pub(crate) fn new() -> Self {
        let first = material(0).with_kid(kid(1));
        KeyRing {
            published: vec![first.clone()],
            signing: first,
            generation: 1,
        }
    }

    /// A new signing key, published next to the old ones; its `kid`.
    pub(crate) fn rotate(&mut self) -> String {
        self.generation += 1;
        let key = material(self.generation - 1).with_kid(kid(self.generation));
        self.published.push(key.clone());
        self.signing = key;
        kid(self.generation)
    }

    /// Withdraws `kid` from the published set; whether it was there.
    pub(crate) fn drop_key(&mut self, kid: &str) -> bool {
        let before = self.published.len();
        self.published.retain(|k| k.kid.as_deref() != Some(kid));
        self.published.len() != before
    }

    pub(crate) fn kids(&self) -> Vec<String> {
        self.published
            .iter()
            .filter_map(|k| k.kid.clone())
            .collect()
    }

    pub(crate) fn signing_kid(&self) -> String {
        self.signing.kid.clone().unwrap_or_default()
    }

    pub(crate) fn signing(&self) -> &Key {
        &self.signing
    }

    /// A private key that is *not* the signing key's material, for forgeries under the
    /// signing key's `kid`.
    pub(crate) fn foreign(&self) -> EncodingKey {
        let key = material(self.generation);
        key.encoding.expect("the fixtures are private keys")
    }

    pub(crate) fn jwks(&self) -> JwkSet {
        JwkSet {
            keys: self.published.iter().filter_map(Key::public_jwk).collect(),
        }
    }
}

fn kid(generation: usize) -> String {
    format!("fake-idp-key-{generation}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_keeps_old_keys_and_drop_withdraws_one() {
        let mut ring = KeyRing::new();
        assert_eq!(ring.kids(), ["fake-idp-key-1"]);
        let new = ring.rotate();
        assert_eq!(ring.signing_kid(), new);
        assert_eq!(ring.kids(), ["fake-idp-key-1", "fake-idp-key-2"]);
        assert!(ring.drop_key("fake-idp-key-1"));
        assert!(!ring.drop_key("fake-idp-key-1"));
        assert_eq!(ring.jwks().keys.len(), 1);
        // Past the four fixtures, the material repeats under new kids.
        for _ in 0..4 {
            ring.rotate();
        }
        assert_eq!(ring.signing_kid(), "fake-idp-key-6");
        assert_eq!(ring.jwks().keys.len(), 5);
    }

    #[test]
    fn the_foreign_key_is_not_the_signing_key() {
        let ring = KeyRing::new();
        let claims = serde_json::json!({"sub": "x"});
        let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        let ours =
            jsonwebtoken::encode(&header, &claims, ring.signing().encoding.as_ref().unwrap());
        let theirs = jsonwebtoken::encode(&header, &claims, &ring.foreign());
        assert_ne!(ours.unwrap(), theirs.unwrap());
    }
}
