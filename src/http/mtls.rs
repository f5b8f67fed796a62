//! Certificate-bound tokens (RFC 8705 §3): the client certificate of a request, from
//! the TLS connection (a [`ClientCertificate`] the application's listener puts in the
//! request's extensions) — compared by the binding step with a token's `cnf.x5t#S256`.
//!
//! ```
//! use axum_token_auth::http::ClientCertificate;
//!
//! // In the application's accept loop (rustls): the peer's leaf certificate, DER.
//! # let der: Vec<u8> = vec![0x30, 0x03, 0x02, 0x01, 0x01];
//! let mut req = http::Request::new(());
//! req.extensions_mut().insert(ClientCertificate::from_der(der));
//! ```

use std::sync::Arc;

use sha2::{Digest as _, Sha256};

use crate::trust::verify::Verifier;

/// The TLS client certificate of the request's connection (DER), put in the request's
/// extensions by the application's listener (e.g. from rustls'
/// `ServerConnection::peer_certificates`). Only a certificate the TLS stack verified
/// belongs here.
#[derive(Debug, Clone)]
pub struct ClientCertificate {
    der: Arc<[u8]>,
}

impl ClientCertificate {
    /// The certificate, DER-encoded.
    pub fn from_der(der: impl Into<Arc<[u8]>>) -> Self {
        ClientCertificate { der: der.into() }
    }

    /// The DER bytes.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The SHA-256 thumbprint (RFC 8705 `x5t#S256`'s bytes).
    pub fn thumbprint(&self) -> [u8; 32] {
        Sha256::digest(&self.der).into()
    }
}

/// The thumbprint of the request's client certificate from a trusted source, if any.
pub(crate) fn request_certificate(
    _headers: &http::HeaderMap,
    extensions: &http::Extensions,
    _verifier: &Verifier,
) -> Option<[u8; 32]> {
    extensions
        .get::<ClientCertificate>()
        .map(ClientCertificate::thumbprint)
}
