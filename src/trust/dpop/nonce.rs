//! Stateless DPoP server nonces (RFC 9449 §8, §9): a nonce is a time bucket and an HMAC
//! of it under a secret every instance shares, so any instance accepts what another
//! handed out, and nothing is stored.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

/// Hands out and checks nonces: the current bucket's nonce, and the previous bucket's
/// accepted too (a client that got a nonce just before the bucket turned).
#[derive(Clone)]
pub(crate) struct Nonces {
    key: [u8; 32],
    bucket_secs: u64,
}

/// What a presented nonce is worth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NonceCheck {
    /// The current bucket's.
    Current,
    /// The previous bucket's: accepted, and the response hands out the current one.
    Previous,
    /// Missing, forged or older: answer `use_dpop_nonce` with the current one.
    Refused,
}

impl Nonces {
    pub(crate) fn new(secret: &[u8], bucket_secs: u64) -> Self {
        // A key of its own, derived from the configured secret.
        let mut h = Sha256::new();
        h.update(b"axum-token-auth dpop nonce v1\0");
        h.update(secret);
        Nonces {
            key: h.finalize().into(),
            bucket_secs: bucket_secs.max(1),
        }
    }

    /// The nonce of the bucket `now` falls in.
    pub(crate) fn current(&self, now: u64) -> String {
        self.of_bucket(now / self.bucket_secs)
    }

    fn of_bucket(&self, bucket: u64) -> String {
        let mut out = [0u8; 24];
        out[..8].copy_from_slice(&bucket.to_be_bytes());
        out[8..].copy_from_slice(&self.mac(bucket)[..16]);
        URL_SAFE_NO_PAD.encode(out)
    }

    /// HMAC-SHA-256 of the bucket under the key (RFC 2104, written out: one block key).
    fn mac(&self, bucket: u64) -> [u8; 32] {
        let mut ipad = [0x36u8; 64];
        let mut opad = [0x5cu8; 64];
        for (i, k) in self.key.iter().enumerate() {
            ipad[i] ^= k;
            opad[i] ^= k;
        }
        let inner = Sha256::new()
            .chain_update(ipad)
            .chain_update(bucket.to_be_bytes())
            .finalize();
        Sha256::new()
            .chain_update(opad)
            .chain_update(inner)
            .finalize()
            .into()
    }

    /// What `nonce` is worth at `now`.
    pub(crate) fn check(&self, nonce: Option<&str>, now: u64) -> NonceCheck {
        let Some(bytes) = nonce.and_then(|n| URL_SAFE_NO_PAD.decode(n).ok()) else {
            return NonceCheck::Refused;
        };
        if bytes.len() != 24 {
            return NonceCheck::Refused;
        }
        let bucket = u64::from_be_bytes(bytes[..8].try_into().unwrap_or([0; 8]));
        let current = now / self.bucket_secs;
        let verdict = if bucket == current {
            NonceCheck::Current
        } else if bucket.checked_add(1) == Some(current) {
            NonceCheck::Previous
        } else {
            return NonceCheck::Refused;
        };
        if bool::from(self.mac(bucket)[..16].ct_eq(&bytes[8..])) {
            verdict
        } else {
            NonceCheck::Refused
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_live_two_buckets_and_cannot_be_forged() {
        let n = Nonces::new(b"secret", 60);
        let other = Nonces::new(b"another secret", 60);
        let at = 6_000;
        let nonce = n.current(at);
        assert_eq!(n.check(Some(&nonce), at + 59), NonceCheck::Current);
        assert_eq!(n.check(Some(&nonce), at + 60), NonceCheck::Previous);
        assert_eq!(n.check(Some(&nonce), at + 120), NonceCheck::Refused);
        assert_eq!(other.check(Some(&nonce), at), NonceCheck::Refused);
        assert_eq!(n.check(None, at), NonceCheck::Refused);
        assert_eq!(n.check(Some("garbage!"), at), NonceCheck::Refused);
        // Another instance with the same secret accepts it.
        assert_eq!(
            Nonces::new(b"secret", 60).check(Some(&nonce), at),
            NonceCheck::Current
        );
    }
}
