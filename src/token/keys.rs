//! Keys and the keyring: each key bound to exactly one algorithm, several verification keys
//! by `kid`, one active signing key, and the public keys as a JWKS document.
//!
//! (Documented with examples in the [`token`](crate::token) module docs.)

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, EncodingKey};

use crate::token::error::ConfigError;

/// Smallest RSA modulus accepted, in bits.
pub const MIN_RSA_BITS: usize = 2048;

/// Secrets that are known placeholders (compared after lower-casing and dropping
/// everything but letters and digits); any secret containing one is refused.
const PLACEHOLDERS: &[&str] = &[
    "supersecret",
    "yoursecret",
    "secretkey",
    "changeme",
    "changethis",
    "replaceme",
    "your256bitsecret",
    "mysecret",
    "jwtsecret",
    "placeholder",
    "password",
    "example",
];

/// Makes sure exactly one jsonwebtoken crypto provider is in effect, whatever
/// features cargo unified in the application's tree. Installing twice is harmless.
pub(crate) fn install_crypto_provider() {
    #[cfg(feature = "aws_lc_rs")]
    {
        let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
    }
    #[cfg(all(feature = "rust_crypto", not(feature = "aws_lc_rs")))]
    {
        let _ = jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.install_default();
    }
}

#[cfg(not(any(feature = "aws_lc_rs", feature = "rust_crypto")))]
compile_error!(
    "axum-token-auth needs a crypto backend: enable the `aws_lc_rs` or `rust_crypto` feature"
);

/// A key bound to one algorithm: for HMAC a shared secret (signs and verifies), for the
/// asymmetric algorithms a private key (signs and verifies) or a public key (verifies).
#[derive(Clone)]
pub struct Key {
    pub(crate) kid: Option<String>,
    pub(crate) alg: Algorithm,
    pub(crate) encoding: Option<EncodingKey>,
    pub(crate) decoding: DecodingKey,
    /// The public JWK (asymmetric keys only).
    pub(crate) public_jwk: Option<Jwk>,
    /// HMAC keyed once at construction (aws-lc-rs backend), so verification does not key
    /// the MAC again for every token.
    #[cfg(feature = "aws_lc_rs")]
    pub(crate) hmac: Option<aws_lc_rs::hmac::Key>,
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("can_sign", &self.encoding.is_some())
            .finish_non_exhaustive()
    }
}

impl Key {
    /// An HMAC key (`HS256`, `HS384`, `HS512`) from a secret.
    ///
    /// Refused: secrets shorter than the hash output (32, 48, 64 bytes; RFC 7518 §3.2),
    /// known placeholders (`supersecret`, `your_secret_key`, …) and secrets with fewer
    /// than 8 distinct bytes.
    pub fn hmac(alg: Algorithm, secret: impl AsRef<[u8]>) -> Result<Self, ConfigError> {
        install_crypto_provider();
        let secret = secret.as_ref();
        let min = match alg {
            Algorithm::HS256 => 32,
            Algorithm::HS384 => 48,
            Algorithm::HS512 => 64,
            other => return Err(ConfigError::KeyAlgorithmMismatch(other)),
        };
        if secret.len() < min {
            return Err(ConfigError::WeakSecret(WeakSecret::TooShort { min }));
        }
        if is_placeholder(secret) {
            return Err(ConfigError::WeakSecret(WeakSecret::Placeholder));
        }
        let mut seen = [false; 256];
        secret.iter().for_each(|b| seen[*b as usize] = true);
        if seen.iter().filter(|s| **s).count() < 8 {
            return Err(ConfigError::WeakSecret(WeakSecret::LowEntropy));
        }
        #[cfg(feature = "aws_lc_rs")]
        let hmac = Some(aws_lc_rs::hmac::Key::new(
            match alg {
                Algorithm::HS256 => aws_lc_rs::hmac::HMAC_SHA256,
                Algorithm::HS384 => aws_lc_rs::hmac::HMAC_SHA384,
                _ => aws_lc_rs::hmac::HMAC_SHA512,
            },
            secret,
        ));
        Ok(Key {
            kid: None,
            alg,
            encoding: Some(EncodingKey::from_secret(secret)),
            decoding: DecodingKey::from_secret(secret),
            public_jwk: None,
            #[cfg(feature = "aws_lc_rs")]
            hmac,
        })
    }

    /// An `HS256` key from a secret (see [`Key::hmac`]).
    pub fn hs256(secret: impl AsRef<[u8]>) -> Result<Self, ConfigError> {
        Self::hmac(Algorithm::HS256, secret)
    }

    /// A fresh random HMAC secret (as long as the hash output), for demos and tests:
    /// tokens signed with it do not survive a restart.
    pub fn generate_hmac(alg: Algorithm) -> Result<Self, ConfigError> {
        let mut secret = [0u8; 64];
        getrandom::fill(&mut secret).map_err(|_| ConfigError::Random)?;
        let len = match alg {
            Algorithm::HS256 => 32,
            Algorithm::HS384 => 48,
            _ => 64,
        };
        Self::hmac(alg, &secret[..len])
    }

    /// A key from PEM: a private key (`-----BEGIN PRIVATE KEY-----`, PKCS#1 `RSA PRIVATE
    /// KEY`, SEC1 `EC PRIVATE KEY`) signs and verifies; a public key (`PUBLIC KEY`,
    /// `RSA PUBLIC KEY`) only verifies. RSA keys under 2048 bits are refused, and an EC
    /// key must be on the algorithm's curve.
    pub fn from_pem(alg: Algorithm, pem: impl AsRef<[u8]>) -> Result<Self, ConfigError> {
        install_crypto_provider();
        let pem = pem.as_ref();
        let text = std::str::from_utf8(pem).map_err(|_| ConfigError::InvalidKey("not PEM text"))?;
        let private = text.contains("PRIVATE KEY-----");
        let bad = |_| ConfigError::InvalidKey("the PEM does not hold a key of this algorithm");
        let family = alg.family();
        if private
            && family == AlgorithmFamily::Rsa
            && let Some(bits) = rsa_private_modulus_bits(text)
            && bits < MIN_RSA_BITS
        {
            // Measured before the backend sees the key: some backends refuse small keys
            // with an unspecific error.
            return Err(ConfigError::WeakRsaKey { bits });
        }
        let (encoding, decoding, jwk) = if private {
            let enc = match family {
                AlgorithmFamily::Rsa => EncodingKey::from_rsa_pem(pem).map_err(bad)?,
                AlgorithmFamily::Ec => EncodingKey::from_ec_pem(pem).map_err(bad)?,
                AlgorithmFamily::Ed => EncodingKey::from_ed_pem(pem).map_err(bad)?,
                AlgorithmFamily::Hmac => return Err(ConfigError::KeyAlgorithmMismatch(alg)),
            };
            let jwk = match Jwk::from_encoding_key(&enc, alg) {
                Ok(jwk) => jwk,
                // An EC key on the other curve: say so rather than "not a key".
                Err(_) if family == AlgorithmFamily::Ec => {
                    let other = if alg == Algorithm::ES256 {
                        Algorithm::ES384
                    } else {
                        Algorithm::ES256
                    };
                    return Err(match Jwk::from_encoding_key(&enc, other) {
                        Ok(_) => ConfigError::KeyAlgorithmMismatch(alg),
                        Err(e) => bad(e),
                    });
                }
                Err(e) => return Err(bad(e)),
            };
            let dec = DecodingKey::from_jwk(&jwk).map_err(bad)?;
            (Some(enc), dec, jwk)
        } else {
            let dec = match family {
                AlgorithmFamily::Rsa => DecodingKey::from_rsa_pem(pem).map_err(bad)?,
                AlgorithmFamily::Ec => DecodingKey::from_ec_pem(pem).map_err(bad)?,
                AlgorithmFamily::Ed => DecodingKey::from_ed_pem(pem).map_err(bad)?,
                AlgorithmFamily::Hmac => return Err(ConfigError::KeyAlgorithmMismatch(alg)),
            };
            let jwk = Jwk::from_decoding_key(&dec, Some(alg)).map_err(bad)?;
            (None, dec, jwk)
        };
        check_public_jwk(alg, &jwk)?;
        Ok(Key {
            kid: None,
            alg,
            encoding,
            decoding,
            public_jwk: Some(jwk),
            #[cfg(feature = "aws_lc_rs")]
            hmac: None,
        })
    }

    /// A verification key from a JWK (for HMAC, `kty: oct`, the key also signs). The
    /// algorithm comes from the JWK's `alg`, or `alg` when given; they must agree. The
    /// JWK's `kid` is kept. A JWK meant for something else is refused: `use` other than
    /// `sig`, or `key_ops` without `verify`.
    pub fn from_jwk(jwk: &Jwk, alg: Option<Algorithm>) -> Result<Self, ConfigError> {
        install_crypto_provider();
        check_jwk_use(jwk)?;
        let jwk_alg = match jwk.common.key_algorithm {
            Some(a) => Some(
                Algorithm::try_from(a)
                    .map_err(|_| ConfigError::InvalidKey("unsupported JWK algorithm"))?,
            ),
            None => None,
        };
        let alg = match (jwk_alg, alg) {
            (Some(a), Some(b)) if a != b => return Err(ConfigError::KeyAlgorithmMismatch(b)),
            (Some(a), _) | (None, Some(a)) => a,
            (None, None) => return Err(ConfigError::InvalidKey("the JWK names no algorithm")),
        };
        let mut key = if let AlgorithmParameters::OctetKey(oct) = &jwk.algorithm {
            let secret = URL_SAFE_NO_PAD
                .decode(oct.value.trim_end_matches('='))
                .map_err(|_| ConfigError::InvalidKey("the JWK `k` is not base64url"))?;
            Key::hmac(alg, secret)?
        } else {
            let dec = DecodingKey::from_jwk(jwk)
                .map_err(|_| ConfigError::InvalidKey("the JWK cannot be used"))?;
            let mut public = jwk.clone();
            public.common.key_algorithm = Some(jwk_key_algorithm(alg)?);
            check_public_jwk(alg, &public)?;
            Key {
                kid: None,
                alg,
                encoding: None,
                decoding: dec,
                public_jwk: Some(public),
                #[cfg(feature = "aws_lc_rs")]
                hmac: None,
            }
        };
        key.kid = jwk.common.key_id.clone();
        Ok(key)
    }

    /// Whether `signature_b64` (base64url) is this key's signature of `message`.
    pub(crate) fn verify(&self, message: &[u8], signature_b64: &str) -> bool {
        #[cfg(feature = "aws_lc_rs")]
        if let Some(hmac) = &self.hmac {
            // HMAC tags are at most 64 bytes: decode onto the stack.
            let mut tag = [0u8; 64];
            return match URL_SAFE_NO_PAD.decode_slice(signature_b64, &mut tag) {
                Ok(n) => aws_lc_rs::hmac::verify(hmac, message, &tag[..n]).is_ok(),
                Err(_) => false,
            };
        }
        jsonwebtoken::crypto::verify(signature_b64, message, &self.decoding, self.alg)
            .unwrap_or(false)
    }

    /// Sets the key id (`kid`), written into the header of every token this key signs.
    ///
    /// ```
    /// use axum_token_auth::Key;
    ///
    /// let key = Key::hs256("a-random-secret-of-at-least-32-bytes!!")?.with_kid("2026-12");
    /// assert_eq!(key.kid(), Some("2026-12"));
    /// # Ok::<(), axum_token_auth::ConfigError>(())
    /// ```
    #[must_use]
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    /// The key id, when set.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The one algorithm this key is used with.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// Whether this key can sign (a secret or a private key).
    pub fn can_sign(&self) -> bool {
        self.encoding.is_some()
    }

    /// The public key as a JWK (asymmetric keys only; never the secret of an HMAC key).
    pub fn public_jwk(&self) -> Option<Jwk> {
        let mut jwk = self.public_jwk.clone()?;
        jwk.common.key_id = self.kid.clone();
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        Some(jwk)
    }
}

fn jwk_key_algorithm(alg: Algorithm) -> Result<jsonwebtoken::jwk::KeyAlgorithm, ConfigError> {
    Ok(alg.into())
}

/// RSA size and EC curve checks on the public half.
fn check_public_jwk(alg: Algorithm, jwk: &Jwk) -> Result<(), ConfigError> {
    match (&jwk.algorithm, alg.family()) {
        (AlgorithmParameters::RSA(rsa), AlgorithmFamily::Rsa) => {
            let n = URL_SAFE_NO_PAD
                .decode(rsa.n.trim_end_matches('='))
                .map_err(|_| ConfigError::InvalidKey("the RSA modulus is not base64url"))?;
            let bits = modulus_bits(&n);
            if bits < MIN_RSA_BITS {
                return Err(ConfigError::WeakRsaKey { bits });
            }
            Ok(())
        }
        (AlgorithmParameters::EllipticCurve(ec), AlgorithmFamily::Ec) => {
            let ok = matches!(
                (alg, &ec.curve),
                (Algorithm::ES256, EllipticCurve::P256) | (Algorithm::ES384, EllipticCurve::P384)
            );
            if ok {
                Ok(())
            } else {
                Err(ConfigError::KeyAlgorithmMismatch(alg))
            }
        }
        (AlgorithmParameters::OctetKeyPair(okp), AlgorithmFamily::Ed) => {
            if okp.curve == EllipticCurve::Ed25519 {
                Ok(())
            } else {
                Err(ConfigError::KeyAlgorithmMismatch(alg))
            }
        }
        _ => Err(ConfigError::KeyAlgorithmMismatch(alg)),
    }
}

/// The modulus size of an RSA private key in PEM (PKCS#1 or PKCS#8), read from its DER
/// without any crypto backend; `None` when it cannot be read (the backend then decides).
fn rsa_private_modulus_bits(pem: &str) -> Option<usize> {
    let body: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----") && !l.contains(':'))
        .map(str::trim)
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .ok()?;
    let (tag, seq, _) = der_tlv(&der)?;
    if tag != 0x30 {
        return None;
    }
    let (tag, _version, rest) = der_tlv(seq)?;
    if tag != 0x02 {
        return None;
    }
    let (tag, next, rest) = der_tlv(rest)?;
    match tag {
        // PKCS#1: the modulus follows the version.
        0x02 => Some(modulus_bits(next)),
        // PKCS#8: AlgorithmIdentifier, then an OCTET STRING holding the PKCS#1 key.
        0x30 => {
            let (tag, inner, _) = der_tlv(rest)?;
            if tag != 0x04 {
                return None;
            }
            let (_, seq, _) = der_tlv(inner)?;
            let (_, _version, rest) = der_tlv(seq)?;
            let (tag, n, _) = der_tlv(rest)?;
            (tag == 0x02).then(|| modulus_bits(n))
        }
        _ => None,
    }
}

/// One DER tag-length-value: (tag, contents, what follows).
fn der_tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | *b as usize);
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

/// Bit length of a big-endian unsigned integer.
fn modulus_bits(n: &[u8]) -> usize {
    let n = match n.iter().position(|b| *b != 0) {
        Some(i) => &n[i..],
        None => return 0,
    };
    n.len() * 8 - n[0].leading_zeros() as usize
}

fn is_placeholder(secret: &[u8]) -> bool {
    let folded: String = secret
        .iter()
        .filter(|b| b.is_ascii_alphanumeric())
        .map(|b| b.to_ascii_lowercase() as char)
        .collect();
    PLACEHOLDERS.iter().any(|p| folded.contains(p))
}

/// Why a secret was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WeakSecret {
    /// Shorter than the algorithm's hash output.
    #[error("the secret must be at least {min} bytes long")]
    TooShort {
        /// The minimum length in bytes.
        min: usize,
    },
    /// A known placeholder such as `supersecret`.
    #[error("the secret is a well-known placeholder")]
    Placeholder,
    /// Fewer than 8 distinct bytes.
    #[error("the secret has too little variety to be random")]
    LowEntropy,
}

/// The keys a [`TokenAuth`](crate::TokenAuth) verifies its own tokens with, and the one it
/// signs with (none in verify-only mode). Immutable: the live keyring
/// ([`crate::trust::keyring`]) swaps whole rings.
#[derive(Debug, Clone)]
pub(crate) struct KeyRing {
    keys: Vec<Key>,
    signing: Option<usize>,
}

impl KeyRing {
    /// Builds the ring: `signing` (when given) signs and verifies, `verification` keys
    /// only verify.
    pub(crate) fn new(signing: Option<Key>, verification: Vec<Key>) -> Result<Self, ConfigError> {
        if signing.as_ref().is_some_and(|k| !k.can_sign()) {
            return Err(ConfigError::SigningKeyCannotSign);
        }
        let has_signing = signing.is_some();
        let mut keys: Vec<Key> = signing.into_iter().chain(verification).collect();
        for k in keys.iter_mut() {
            // Asymmetric keys without a kid get their RFC 7638 thumbprint as kid.
            if k.kid.is_none()
                && let Some(jwk) = &k.public_jwk
            {
                k.kid = jwk
                    .thumbprint(jsonwebtoken::jwk::ThumbprintHash::SHA256)
                    .ok();
            }
        }
        if keys.len() > 1 {
            let mut kids = Vec::with_capacity(keys.len());
            for k in &keys {
                let kid = k.kid.as_deref().ok_or(ConfigError::MissingKid)?;
                if kids.contains(&kid) {
                    return Err(ConfigError::DuplicateKid(kid.to_owned()));
                }
                kids.push(kid);
            }
        }
        Ok(KeyRing {
            keys,
            signing: has_signing.then_some(0),
        })
    }

    /// The active signing key, if any.
    pub(crate) fn signing(&self) -> Option<&Key> {
        self.signing.map(|i| &self.keys[i])
    }

    /// Every key, the signing key first.
    pub(crate) fn keys(&self) -> &[Key] {
        &self.keys
    }

    /// The key a token's `kid` names; a token without `kid` is checked with the signing key.
    pub(crate) fn find(&self, kid: Option<&str>) -> Option<&Key> {
        match kid {
            None => self.signing(),
            Some(kid) => self.keys.iter().find(|k| k.kid.as_deref() == Some(kid)),
        }
    }

    /// The public keys as a JWKS document.
    pub(crate) fn jwks(&self) -> JwkSet {
        JwkSet {
            keys: self.keys.iter().filter_map(Key::public_jwk).collect(),
        }
    }
}

/// RFC 7517 §4.2/§4.3: a key published for encryption (or for other operations) is not
/// a signature-verification key.
fn check_jwk_use(jwk: &Jwk) -> Result<(), ConfigError> {
    use jsonwebtoken::jwk::KeyOperations;
    if matches!(&jwk.common.public_key_use, Some(u) if *u != PublicKeyUse::Signature) {
        return Err(ConfigError::InvalidKey("the JWK `use` is not `sig`"));
    }
    if let Some(ops) = &jwk.common.key_operations
        && !ops.contains(&KeyOperations::Verify)
    {
        return Err(ConfigError::InvalidKey("the JWK `key_ops` lack `verify`"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEF";

    #[test]
    fn short_hmac_secret_is_refused() {
        assert!(matches!(
            Key::hs256(b"short-secret"),
            Err(ConfigError::WeakSecret(WeakSecret::TooShort { min: 32 }))
        ));
        assert!(matches!(
            Key::hmac(Algorithm::HS512, GOOD),
            Err(ConfigError::WeakSecret(WeakSecret::TooShort { min: 64 }))
        ));
        assert!(Key::hs256(GOOD).is_ok());
    }

    #[test]
    fn placeholder_secrets_are_refused() {
        for s in [
            "supersecret-supersecret-supersecret-1234",
            "your_secret_key_here_please_0123456789",
            "CHANGE-ME-CHANGE-ME-CHANGE-ME-0123456789",
        ] {
            assert!(
                matches!(
                    Key::hs256(s),
                    Err(ConfigError::WeakSecret(WeakSecret::Placeholder))
                ),
                "{s}"
            );
        }
        assert!(matches!(
            Key::hs256([b'a'; 40]),
            Err(ConfigError::WeakSecret(WeakSecret::LowEntropy))
        ));
    }

    #[test]
    fn hmac_key_refuses_asymmetric_algorithm() {
        assert!(matches!(
            Key::hmac(Algorithm::RS256, GOOD),
            Err(ConfigError::KeyAlgorithmMismatch(Algorithm::RS256))
        ));
    }

    #[test]
    fn generated_secrets_are_accepted_and_differ() {
        let a = Key::generate_hmac(Algorithm::HS256).unwrap();
        let b = Key::generate_hmac(Algorithm::HS256).unwrap();
        assert_ne!(
            a.encoding.unwrap().as_bytes(),
            b.encoding.unwrap().as_bytes()
        );
    }

    #[test]
    fn modulus_bits_counts_leading_zeros() {
        assert_eq!(modulus_bits(&[0, 0x80, 0]), 16);
        assert_eq!(modulus_bits(&[0x01, 0]), 9);
        assert_eq!(modulus_bits(&[]), 0);
    }

    #[test]
    fn ring_needs_distinct_kids_when_several_keys() {
        let a = Key::hs256(GOOD).unwrap();
        let b = Key::hs256(b"zyxwvutsrqponmlkjihgfedcba9876543210ZYXW").unwrap();
        assert!(matches!(
            KeyRing::new(Some(a.clone()), vec![b.clone()]),
            Err(ConfigError::MissingKid)
        ));
        assert!(matches!(
            KeyRing::new(Some(a.clone().with_kid("x")), vec![b.clone().with_kid("x")]),
            Err(ConfigError::DuplicateKid(_))
        ));
        let ring = KeyRing::new(Some(a.with_kid("new")), vec![b.clone().with_kid("old")]).unwrap();
        assert_eq!(ring.find(Some("old")).unwrap().kid(), Some("old"));
        assert_eq!(ring.find(None).unwrap().kid(), Some("new"));
        assert!(ring.find(Some("nope")).is_none());
        assert!(
            ring.jwks().keys.is_empty(),
            "HMAC secrets are never published"
        );
        let verify_only = KeyRing::new(None, Vec::new()).unwrap();
        assert!(verify_only.signing().is_none() && verify_only.find(None).is_none());
        assert!(matches!(
            KeyRing::new(
                Some(
                    Key::from_pem(
                        Algorithm::RS256,
                        include_str!("../../tests/fixtures/rsa2048_public.pem")
                    )
                    .unwrap()
                ),
                vec![]
            ),
            Err(ConfigError::SigningKeyCannotSign)
        ));
    }
}
