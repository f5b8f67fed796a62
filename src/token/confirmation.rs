//! [`Confirmation`]: the `cnf` claim (RFC 7800) of a sender-constrained token — the
//! thumbprint of the DPoP key it is bound to (`jkt`, RFC 9449 §6) or of the client
//! certificate (`x5t#S256`, RFC 8705 §3.1).
//!
//! ```
//! use axum_token_auth::token::Confirmation;
//!
//! let cnf: Confirmation = serde_json::from_str(r#"{"jkt":"0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}"#)?;
//! assert_eq!(cnf.jkt(), Some("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"));
//! assert!(cnf.is_understood());
//! # Ok::<(), serde_json::Error>(())
//! ```

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};

/// The confirmation (`cnf`) claim: what a request must prove to use the token.
///
/// A token carrying a `cnf` with no method this crate checks (a `jwk`, a `kid`, …) is
/// refused: accepting it as a bearer token would drop the binding its issuer asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmation {
    /// SHA-256 thumbprint (RFC 7638, base64url) of the DPoP public key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    jkt: Option<String>,
    /// SHA-256 thumbprint (base64url) of the DER client certificate.
    #[serde(default, rename = "x5t#S256", skip_serializing_if = "Option::is_none")]
    x5t_s256: Option<String>,
    /// Members this crate does not check (kept so the claim round-trips).
    #[serde(flatten)]
    other: Map<String, Value>,
}

/// How a request proved it may use a sender-constrained token, as handlers see it (an
/// extractor: `binding: Binding` among a handler's arguments, behind the layer).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Binding {
    /// A bearer token: whoever holds it may use it.
    Bearer,
    /// A DPoP proof (RFC 9449) by the key with this RFC 7638 thumbprint.
    Dpop {
        /// The key's thumbprint (`cnf.jkt`).
        jkt: String,
    },
    /// The TLS client certificate (RFC 8705) with this SHA-256 thumbprint.
    Certificate {
        /// The certificate's thumbprint (`cnf.x5t#S256`).
        x5t_s256: String,
    },
}

impl Confirmation {
    /// Binds to the DPoP key whose RFC 7638 SHA-256 thumbprint is `jkt`.
    pub fn dpop(jkt: impl Into<String>) -> Self {
        Confirmation {
            jkt: Some(jkt.into()),
            ..Confirmation::default()
        }
    }

    /// Binds to the client certificate with this SHA-256 thumbprint (base64url), as
    /// RFC 8705 writes it in `x5t#S256`.
    pub fn certificate_thumbprint(x5t_s256: impl Into<String>) -> Self {
        Confirmation {
            x5t_s256: Some(x5t_s256.into()),
            ..Confirmation::default()
        }
    }

    /// Binds to this client certificate (DER bytes): its SHA-256 thumbprint.
    pub fn certificate_der(der: &[u8]) -> Self {
        Self::certificate_thumbprint(certificate_thumbprint(der))
    }

    /// The DPoP key thumbprint, if the token is DPoP-bound.
    pub fn jkt(&self) -> Option<&str> {
        self.jkt.as_deref()
    }

    /// The certificate thumbprint, if the token is certificate-bound.
    pub fn x5t_s256(&self) -> Option<&str> {
        self.x5t_s256.as_deref()
    }

    /// Whether the claim names a method this crate checks (`jkt` or `x5t#S256`), and
    /// only such methods. A token whose `cnf` fails this is refused.
    pub fn is_understood(&self) -> bool {
        (self.jkt.is_some() || self.x5t_s256.is_some()) && self.other.is_empty()
    }
}

/// The SHA-256 thumbprint (base64url, no padding) of a DER certificate: RFC 8705's
/// `x5t#S256`.
pub fn certificate_thumbprint(der: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(der))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_methods_are_not_understood() {
        let jwk: Confirmation = serde_json::from_str(r#"{"jwk":{"kty":"EC"}}"#).unwrap();
        assert!(!jwk.is_understood());
        let mixed: Confirmation = serde_json::from_str(r#"{"jkt":"a","kid":"b"}"#).unwrap();
        assert!(!mixed.is_understood());
        let cert: Confirmation = serde_json::from_str(r#"{"x5t#S256":"a"}"#).unwrap();
        assert!(cert.is_understood());
        assert_eq!(
            serde_json::to_string(&Confirmation::dpop("k")).unwrap(),
            r#"{"jkt":"k"}"#
        );
    }
}
