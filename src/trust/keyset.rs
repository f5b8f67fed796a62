//! An external issuer's verification keys, read from a JWKS document with the rules of
//! remote key sets: signature keys only, asymmetric only, each bound to one algorithm.

use jsonwebtoken::Algorithm;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, PublicKeyUse};
use serde::Deserialize;
use serde_json::Value;

use crate::token::keys::Key;

/// The asymmetric algorithms an external issuer may use unless told otherwise.
pub(crate) const ASYMMETRIC: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// The verification keys of one external issuer at one moment.
#[derive(Debug, Default)]
pub(crate) struct KeySet {
    keys: Vec<Key>,
}

impl KeySet {
    /// The keys usable from a JWKS document (`{"keys": [...]}`). Skipped, each with a
    /// debug line (never the key itself): `kty: oct` (a shared secret has no place in a
    /// published set, and would let anyone who read it forge tokens), `use: enc`,
    /// `key_ops` without `verify`, algorithms not in `allowed`, RSA keys under 2048 bits,
    /// and entries that are not JWKs at all. A JWK without `alg` is bound to every
    /// allowed algorithm of its key type (one [`Key`] each).
    pub(crate) fn from_jwks(document: &[u8], allowed: &[Algorithm]) -> Result<Self, &'static str> {
        #[derive(Deserialize)]
        struct Document {
            keys: Vec<Value>,
        }
        let doc: Document =
            serde_json::from_slice(document).map_err(|_| "the document is not a JWKS")?;
        let mut keys = Vec::new();
        for entry in doc.keys {
            // Keys of other kinds (encryption, unknown algorithms) must not spoil the set.
            let Ok(jwk) = serde_json::from_value::<Jwk>(entry) else {
                tracing::debug!("JWKS entry skipped: not a usable JWK");
                continue;
            };
            keys.extend(usable_keys(&jwk, allowed));
        }
        Ok(KeySet { keys })
    }

    /// A set from keys the application built itself (e.g. from PEM files).
    pub(crate) fn from_keys(keys: Vec<Key>) -> Self {
        KeySet { keys }
    }

    /// The key for a token header: its `kid` and `alg` must both match. A token without
    /// `kid` is checked only against a set holding exactly one key of that algorithm, and
    /// a key given without `kid` (a PEM file) stands for any `kid` when it is the only key
    /// of its algorithm.
    pub(crate) fn find(&self, kid: Option<&str>, alg: Algorithm) -> Option<&Key> {
        let lone = |pred: &dyn Fn(&Key) -> bool| {
            let mut of_alg = self.keys.iter().filter(|k| k.alg == alg && pred(k));
            match (of_alg.next(), of_alg.next()) {
                (Some(k), None) => Some(k),
                _ => None,
            }
        };
        match kid {
            Some(kid) => self
                .keys
                .iter()
                .find(|k| k.alg == alg && k.kid.as_deref() == Some(kid))
                .or_else(|| lone(&|k: &Key| k.kid.is_none())),
            None => lone(&|_: &Key| true),
        }
    }

    /// Whether a key named `kid` is in the set (with any algorithm).
    pub(crate) fn has_kid(&self, kid: &str) -> bool {
        self.keys.iter().any(|k| k.kid.as_deref() == Some(kid))
    }

    /// Number of usable keys.
    #[cfg_attr(not(feature = "oidc"), allow(dead_code))]
    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether every key of `self` is still in `next` (same kid, algorithm and material):
    /// when not, something that verified before may not verify now.
    #[cfg_attr(not(feature = "oidc"), allow(dead_code))]
    pub(crate) fn is_kept_by(&self, next: &KeySet) -> bool {
        self.keys.iter().all(|k| {
            next.keys
                .iter()
                .any(|n| n.kid == k.kid && n.alg == k.alg && n.public_jwk == k.public_jwk)
        })
    }
}

fn usable_keys(jwk: &Jwk, allowed: &[Algorithm]) -> Vec<Key> {
    if matches!(jwk.algorithm, AlgorithmParameters::OctetKey(_)) {
        tracing::debug!("JWKS entry skipped: symmetric (kty oct) keys are never trusted remotely");
        return Vec::new();
    }
    if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
        tracing::debug!("JWKS entry skipped: an encryption key");
        return Vec::new();
    }
    if let Some(ops) = &jwk.common.key_operations
        && !ops
            .iter()
            .any(|op| matches!(op, jsonwebtoken::jwk::KeyOperations::Verify))
    {
        tracing::debug!("JWKS entry skipped: key_ops without verify");
        return Vec::new();
    }
    let candidates: Vec<Algorithm> = match jwk.common.key_algorithm {
        Some(a) => match Algorithm::try_from(a) {
            Ok(a) => vec![a],
            Err(_) => return Vec::new(),
        },
        None => match &jwk.algorithm {
            AlgorithmParameters::RSA(_) => ASYMMETRIC
                .iter()
                .copied()
                .filter(|a| matches!(a.family(), jsonwebtoken::AlgorithmFamily::Rsa))
                .collect(),
            AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
                EllipticCurve::P256 => vec![Algorithm::ES256],
                EllipticCurve::P384 => vec![Algorithm::ES384],
                _ => Vec::new(),
            },
            AlgorithmParameters::OctetKeyPair(_) => vec![Algorithm::EdDSA],
            _ => Vec::new(),
        },
    };
    candidates
        .into_iter()
        .filter(|a| allowed.contains(a) && ASYMMETRIC.contains(a))
        .filter_map(|alg| match Key::from_jwk(jwk, Some(alg)) {
            Ok(k) => Some(k),
            Err(e) => {
                tracing::debug!(error = %e, "JWKS entry skipped");
                None
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // A 2048-bit RSA public key (tests/fixtures/rsa2048_public.pem) as JWK parts.
    fn rsa_jwk(kid: &str, extra: &str) -> String {
        let key = Key::from_pem(
            Algorithm::RS256,
            include_str!("../../tests/fixtures/rsa2048_public.pem"),
        )
        .unwrap();
        let mut v = serde_json::to_value(key.public_jwk().unwrap()).unwrap();
        let o = v.as_object_mut().unwrap();
        o.remove("alg");
        o.remove("use");
        o.insert("kid".into(), kid.into());
        let mut s = serde_json::to_string(&v).unwrap();
        if !extra.is_empty() {
            s.pop();
            s.push(',');
            s.push_str(extra);
            s.push('}');
        }
        s
    }

    fn set(entries: &[String], allowed: &[Algorithm]) -> KeySet {
        let doc = format!("{{\"keys\":[{}]}}", entries.join(","));
        KeySet::from_jwks(doc.as_bytes(), allowed).unwrap()
    }

    #[test]
    fn oct_and_encryption_keys_are_ignored() {
        let s = set(
            &[
                r#"{"kty":"oct","kid":"h","alg":"HS256","k":"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA"}"#.into(),
                rsa_jwk("enc", r#""use":"enc""#),
                rsa_jwk("ops", r#""key_ops":["encrypt"]"#),
                rsa_jwk("sig", r#""use":"sig","alg":"RS256""#),
            ],
            ASYMMETRIC,
        );
        assert_eq!(s.len(), 1);
        assert!(s.has_kid("sig"));
        assert!(!s.has_kid("h") && !s.has_kid("enc") && !s.has_kid("ops"));
        assert!(s.find(Some("h"), Algorithm::HS256).is_none());
    }

    #[test]
    fn a_key_without_alg_is_bound_to_each_allowed_algorithm_of_its_type() {
        let s = set(
            &[rsa_jwk("k", "")],
            &[Algorithm::RS256, Algorithm::PS256, Algorithm::ES256],
        );
        assert_eq!(s.len(), 2);
        assert!(s.find(Some("k"), Algorithm::RS256).is_some());
        assert!(s.find(Some("k"), Algorithm::PS256).is_some());
        assert!(s.find(Some("k"), Algorithm::RS512).is_none(), "not allowed");
        assert!(s.find(Some("k"), Algorithm::HS256).is_none());
    }

    #[test]
    fn unusable_entries_do_not_spoil_the_set() {
        let s = set(
            &[
                r#"{"kty":"RSA","alg":"RSA-OAEP","use":"enc","n":"AQAB","e":"AQAB","kid":"x"}"#
                    .into(),
                r#"{"kty":"weird"}"#.into(),
                rsa_jwk("good", r#""alg":"RS256""#),
            ],
            ASYMMETRIC,
        );
        assert!(s.has_kid("good"));
        assert_eq!(s.len(), 1);
        assert!(KeySet::from_jwks(b"not json", ASYMMETRIC).is_err());
    }

    #[test]
    fn no_kid_matches_only_a_lone_key_of_the_algorithm() {
        let one = set(&[rsa_jwk("a", r#""alg":"RS256""#)], ASYMMETRIC);
        assert!(one.find(None, Algorithm::RS256).is_some());
        let two = set(
            &[
                rsa_jwk("a", r#""alg":"RS256""#),
                rsa_jwk("b", r#""alg":"RS256""#),
            ],
            ASYMMETRIC,
        );
        assert!(two.find(None, Algorithm::RS256).is_none());
        assert!(one.is_kept_by(&two));
        assert!(!two.is_kept_by(&one));
    }

    #[test]
    fn a_key_given_without_kid_stands_for_any_kid_when_alone() {
        let key = Key::from_pem(
            Algorithm::RS256,
            include_str!("../../tests/fixtures/rsa2048_public.pem"),
        )
        .unwrap();
        let set = KeySet::from_keys(vec![key.clone()]);
        assert!(set.find(Some("provider-kid"), Algorithm::RS256).is_some());
        assert!(set.find(Some("provider-kid"), Algorithm::PS256).is_none());
        let two = KeySet::from_keys(vec![key.clone(), key.with_kid("named")]);
        assert!(two.find(Some("named"), Algorithm::RS256).is_some());
        assert!(
            two.find(Some("other"), Algorithm::RS256).is_some(),
            "the one kid-less key"
        );
    }
}
