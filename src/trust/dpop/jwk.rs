//! The public key a DPoP proof carries in its `jwk` header: read strictly (public
//! members only, the curve of the algorithm), turned into a verification key, and
//! identified by its RFC 7638 thumbprint.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};

use crate::trust::dpop::ProofError;

/// Members that only a private (or symmetric) key has (RFC 7518 §6.2.2, §6.3.2, §6.4).
const PRIVATE_MEMBERS: &[&str] = &["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// The smallest RSA modulus accepted in a proof key, in bits.
const MIN_RSA_BITS: usize = 2048;

/// A proof's public key, checked against the proof's `alg`.
pub(crate) struct ProofKey {
    pub(crate) decoding: DecodingKey,
    /// RFC 7638 SHA-256 thumbprint, base64url.
    pub(crate) thumbprint: String,
    /// The same thumbprint's bytes.
    pub(crate) thumbprint_bytes: [u8; 32],
}

/// A base64url member of the JWK (no padding; the charset checked, so it can be written
/// into the thumbprint's JSON as is).
fn member<'a>(jwk: &'a Map<String, Value>, name: &str) -> Result<&'a str, ProofError> {
    let v = jwk
        .get(name)
        .and_then(Value::as_str)
        .ok_or(ProofError::BadKey)?;
    let ok = !v.is_empty()
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok { Ok(v) } else { Err(ProofError::BadKey) }
}

/// Reads the `jwk` header of a proof signed with `alg`: a public key of the algorithm's
/// type and curve, with no private member; its verification key and thumbprint.
pub(crate) fn proof_key(jwk: &Value, alg: Algorithm) -> Result<ProofKey, ProofError> {
    let jwk = jwk.as_object().ok_or(ProofError::BadKey)?;
    if PRIVATE_MEMBERS.iter().any(|m| jwk.contains_key(*m)) {
        return Err(ProofError::PrivateKey);
    }
    let kty = jwk.get("kty").and_then(Value::as_str);
    let crv = jwk.get("crv").and_then(Value::as_str);
    let (decoding, canonical) = match alg {
        Algorithm::ES256 | Algorithm::ES384 => {
            let want = if alg == Algorithm::ES256 {
                "P-256"
            } else {
                "P-384"
            };
            if kty != Some("EC") || crv != Some(want) {
                return Err(ProofError::BadKey);
            }
            let (x, y) = (member(jwk, "x")?, member(jwk, "y")?);
            let size = if alg == Algorithm::ES256 { 32 } else { 48 };
            if decoded_len(x)? != size || decoded_len(y)? != size {
                return Err(ProofError::BadKey);
            }
            let key = DecodingKey::from_ec_components(x, y).map_err(|_| ProofError::BadKey)?;
            (
                key,
                format!(r#"{{"crv":"{want}","kty":"EC","x":"{x}","y":"{y}"}}"#),
            )
        }
        Algorithm::EdDSA => {
            if kty != Some("OKP") || crv != Some("Ed25519") {
                return Err(ProofError::BadKey);
            }
            let x = member(jwk, "x")?;
            if decoded_len(x)? != 32 {
                return Err(ProofError::BadKey);
            }
            let key = DecodingKey::from_ed_components(x).map_err(|_| ProofError::BadKey)?;
            (key, format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#))
        }
        Algorithm::RS256
        | Algorithm::RS384
        | Algorithm::RS512
        | Algorithm::PS256
        | Algorithm::PS384
        | Algorithm::PS512 => {
            if kty != Some("RSA") {
                return Err(ProofError::BadKey);
            }
            let (n, e) = (member(jwk, "n")?, member(jwk, "e")?);
            let n_bytes = URL_SAFE_NO_PAD.decode(n).map_err(|_| ProofError::BadKey)?;
            let bits = n_bytes
                .iter()
                .position(|&b| b != 0)
                .map_or(0, |i| (n_bytes.len() - i) * 8);
            if bits < MIN_RSA_BITS {
                return Err(ProofError::BadKey);
            }
            let key = DecodingKey::from_rsa_components(n, e).map_err(|_| ProofError::BadKey)?;
            (key, format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#))
        }
        _ => return Err(ProofError::UnsupportedAlgorithm),
    };
    let digest: [u8; 32] = Sha256::digest(canonical.as_bytes()).into();
    Ok(ProofKey {
        decoding,
        thumbprint: URL_SAFE_NO_PAD.encode(digest),
        thumbprint_bytes: digest,
    })
}

/// The decoded length of a base64url member (a malformed one is a bad key).
fn decoded_len(v: &str) -> Result<usize, ProofError> {
    URL_SAFE_NO_PAD
        .decode(v)
        .map(|b| b.len())
        .map_err(|_| ProofError::BadKey)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7638 §3.1's example key and thumbprint.
    #[test]
    fn thumbprint_matches_rfc_7638() {
        let jwk = serde_json::json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB",
            "alg": "RS256",
            "kid": "2011-04-29"
        });
        let key = proof_key(&jwk, Algorithm::RS256).ok().unwrap();
        assert_eq!(
            key.thumbprint,
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn private_members_and_wrong_curves_are_refused() {
        let x = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
        let y = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";
        let public = serde_json::json!({"kty": "EC", "crv": "P-256", "x": x, "y": y});
        assert!(proof_key(&public, Algorithm::ES256).is_ok());
        let mut private = public.clone();
        private["d"] = "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI".into();
        assert!(matches!(
            proof_key(&private, Algorithm::ES256),
            Err(ProofError::PrivateKey)
        ));
        assert!(matches!(
            proof_key(&public, Algorithm::ES384),
            Err(ProofError::BadKey)
        ));
        assert!(matches!(
            proof_key(&public, Algorithm::HS256),
            Err(ProofError::UnsupportedAlgorithm)
        ));
        let quoted = serde_json::json!({"kty": "EC", "crv": "P-256", "x": "a\"b", "y": y});
        assert!(matches!(
            proof_key(&quoted, Algorithm::ES256),
            Err(ProofError::BadKey)
        ));
    }
}
