//! One DPoP proof, checked (RFC 9449 §4.3): every step but the replay cache, which
//! needs the store ([`Dpop::check`](super::Dpop::check) runs both).

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm;
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use crate::store::ProofId;
use crate::trust::dpop::jwk::proof_key;
use crate::trust::dpop::nonce::NonceCheck;
use crate::trust::dpop::{Dpop, ProofError, ProofRequest};

#[derive(Deserialize)]
struct ProofHeader<'a> {
    #[serde(borrow)]
    typ: Option<Cow<'a, str>>,
    #[serde(borrow)]
    alg: Option<Cow<'a, str>>,
    jwk: Option<Value>,
    crit: Option<Value>,
}

#[derive(Deserialize)]
struct ProofClaims<'a> {
    #[serde(borrow)]
    jti: Option<Cow<'a, str>>,
    #[serde(borrow)]
    htm: Option<Cow<'a, str>>,
    #[serde(borrow)]
    htu: Option<Cow<'a, str>>,
    iat: Option<Value>,
    #[serde(borrow)]
    ath: Option<Cow<'a, str>>,
    #[serde(borrow)]
    nonce: Option<Cow<'a, str>>,
}

/// A proof that passed every offline check: what the replay cache and the binding check
/// need.
#[derive(Debug, Clone)]
pub(crate) struct CheckedProof {
    /// RFC 7638 thumbprint of the proof's key.
    pub(crate) jkt: String,
    /// The thumbprint's bytes (what a token's `cnf.jkt` is compared with).
    pub(crate) jkt_bytes: [u8; 32],
    /// Its replay-cache identity.
    pub(crate) id: ProofId,
    /// Until when its id must be remembered: past it the proof is refused as stale.
    pub(crate) remember_until: u64,
    /// The nonce it carried was the previous bucket's: hand out the current one.
    pub(crate) nonce_stale: bool,
}

impl Dpop {
    /// Steps 2–12 of RFC 9449 §4.3 on `proof` (step 1, one `DPoP` header, is the
    /// caller's): a JWS with `typ: dpop+jwt`, an accepted asymmetric `alg`, a public
    /// `jwk` that verifies it; `htm`, `htu`, `iat`, `ath` and the nonce as the request
    /// says. Every refusal is a [`ProofError`]; nothing from the proof is logged.
    pub(crate) fn check_offline(
        &self,
        proof: &str,
        req: &ProofRequest<'_>,
        now: u64,
    ) -> Result<CheckedProof, ProofError> {
        if proof.len() > self.max_proof_bytes {
            return Err(ProofError::TooLarge);
        }
        let mut parts = proof.split('.');
        let (Some(h64), Some(p64), Some(s64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(ProofError::Malformed);
        };
        let header_bytes = URL_SAFE_NO_PAD
            .decode(h64)
            .map_err(|_| ProofError::Malformed)?;
        let header: ProofHeader<'_> =
            serde_json::from_slice(&header_bytes).map_err(|_| ProofError::Malformed)?;
        if !header
            .typ
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case("dpop+jwt"))
        {
            return Err(ProofError::WrongType);
        }
        if header.crit.is_some() {
            return Err(ProofError::Malformed);
        }
        let alg = header
            .alg
            .as_deref()
            .and_then(proof_algorithm)
            .filter(|a| self.algorithms.contains(a))
            .ok_or(ProofError::UnsupportedAlgorithm)?;
        let key = proof_key(header.jwk.as_ref().ok_or(ProofError::BadKey)?, alg)?;
        let message_len = h64.len() + 1 + p64.len();
        let message = &proof.as_bytes()[..message_len];
        let verified = jsonwebtoken::crypto::verify(s64, message, &key.decoding, alg)
            .map_err(|_| ProofError::BadSignature)?;
        if !verified {
            return Err(ProofError::BadSignature);
        }
        let payload = URL_SAFE_NO_PAD
            .decode(p64)
            .map_err(|_| ProofError::Malformed)?;
        let claims: ProofClaims<'_> =
            serde_json::from_slice(&payload).map_err(|_| ProofError::Malformed)?;
        let jti = claims
            .jti
            .as_deref()
            .filter(|j| !j.is_empty())
            .ok_or(ProofError::Malformed)?;
        if claims.htm.as_deref() != Some(req.method) {
            return Err(ProofError::WrongMethod);
        }
        let htu = claims.htu.as_deref().ok_or(ProofError::WrongUri)?;
        if !same_uri(htu, req.uri) {
            return Err(ProofError::WrongUri);
        }
        let iat = claims
            .iat
            .as_ref()
            .and_then(Value::as_f64)
            .filter(|t| t.is_finite() && *t >= 0.0)
            .ok_or(ProofError::Malformed)? as u64;
        if iat > now.saturating_add(self.leeway) {
            return Err(ProofError::IssuedInFuture);
        }
        if iat.saturating_add(self.max_age).saturating_add(self.leeway) < now {
            return Err(ProofError::Stale);
        }
        match (req.access_token, claims.ath.as_deref()) {
            (Some(token), Some(ath)) => {
                let want = URL_SAFE_NO_PAD.encode(Sha256::digest(token));
                if !bool::from(want.as_bytes().ct_eq(ath.as_bytes())) {
                    return Err(ProofError::WrongAccessTokenHash);
                }
            }
            (Some(_), None) => return Err(ProofError::WrongAccessTokenHash),
            // A token request (login, refresh) has no access token to hash.
            (None, _) => {}
        }
        let nonce_stale = match &self.nonces {
            None => false,
            Some(nonces) => match nonces.check(claims.nonce.as_deref(), now) {
                NonceCheck::Current => false,
                NonceCheck::Previous => true,
                NonceCheck::Refused => return Err(ProofError::UseNonce),
            },
        };
        Ok(CheckedProof {
            id: ProofId::of(&key.thumbprint, jti),
            jkt: key.thumbprint,
            jkt_bytes: key.thumbprint_bytes,
            remember_until: iat
                .saturating_add(self.max_age)
                .saturating_add(self.leeway)
                .saturating_add(1),
            nonce_stale,
        })
    }
}

/// A proof's `alg`: a JOSE name jsonwebtoken knows, or `Ed25519` (RFC 9864, which
/// deprecates `EdDSA` for it; npm `dpop` 2 signs with it) as EdDSA over Ed25519 — the
/// key check then requires an Ed25519 `jwk`.
fn proof_algorithm(alg: &str) -> Option<Algorithm> {
    match alg {
        "Ed25519" => Some(Algorithm::EdDSA),
        other => other.parse().ok(),
    }
}

/// Whether the proof's `htu` names `expected` (an absolute URI without query or
/// fragment): scheme and host compared without case, a default port the same as none,
/// the proof's query and fragment ignored (RFC 9449 §4.3 step 9, RFC 3986 §6.2.2–6.2.3).
pub(crate) fn same_uri(htu: &str, expected: &str) -> bool {
    match (normalized(htu), normalized(expected)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

/// `scheme://host[:port]/path`, lower-cased where case does not matter, the default
/// port dropped, an empty path as `/`; `None` for anything but an absolute http(s) URI.
fn normalized(uri: &str) -> Option<String> {
    let uri = uri.split(['?', '#']).next().unwrap_or_default();
    let (scheme, rest) = uri.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "https" => ":443",
        "http" => ":80",
        _ => return None,
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, "/"),
    };
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    let mut authority = authority.to_ascii_lowercase();
    if authority.ends_with(default_port) {
        authority.truncate(authority.len() - default_port.len());
    }
    Some(format!("{scheme}://{authority}{path}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_compare_as_rfc_3986_normalises_them() {
        let want = "https://api.example.com/orders";
        assert!(same_uri("https://API.example.com:443/orders", want));
        assert!(same_uri("HTTPS://api.example.com/orders?x=1#f", want));
        assert!(!same_uri("https://api.example.com/Orders", want));
        assert!(!same_uri("https://api.example.com:8443/orders", want));
        assert!(!same_uri("http://api.example.com/orders", want));
        assert!(!same_uri("https://evil@api.example.com/orders", want));
        assert!(!same_uri("/orders", want));
        assert!(same_uri("http://127.0.0.1:3000", "http://127.0.0.1:3000/"));
    }
}
