//! Certificate-bound tokens (RFC 8705 §3): the client certificate of a request — from
//! the TLS connection (a [`ClientCertificate`] the application's listener puts in the
//! request's extensions) or, behind a TLS-terminating proxy, from the one header
//! [`MtlsSettings`] trusts — compared by the binding step with a token's
//! `cnf.x5t#S256`.
//!
//! ```
//! use axum_token_auth::http::ClientCertificate;
//!
//! // In the application's accept loop (rustls): the peer's leaf certificate, DER.
//! # let der: Vec<u8> = vec![0x30, 0x03, 0x02, 0x01, 0x01];
//! let mut req = http::Request::new(());
//! req.extensions_mut().insert(ClientCertificate::from_der(der));
//! ```

pub(crate) mod forwarded;

use std::sync::Arc;

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use http::HeaderName;
use sha2::{Digest as _, Sha256};

use crate::http::mtls::forwarded::HeaderForm;
use crate::token::error::ConfigError;

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

/// Where a TLS-terminating proxy puts the client certificate: the one request header
/// trusted for certificate-bound tokens (RFC 8705 §3), optionally only from the proxies'
/// addresses. Give it to
/// [`TokenAuthBuilder::mtls`](crate::TokenAuthBuilder::mtls).
///
/// ```
/// use axum_token_auth::TokenAuth;
/// use axum_token_auth::http::MtlsSettings;
///
/// let auth = TokenAuth::builder()
///     .hs256_secret("a-random-secret-of-at-least-32-bytes!!")
///     // nginx: proxy_set_header X-SSL-Client-Cert $ssl_client_escaped_cert;
///     .mtls(MtlsSettings::header("X-SSL-Client-Cert").trusted_proxies(["10.0.0.0/8"]))
///     .build()?;
/// # Ok::<(), axum_token_auth::ConfigError>(())
/// ```
///
/// Without these settings no header is ever read: the certificate comes only from a
/// [`ClientCertificate`] in the request's extensions (the application's own TLS), which
/// always comes first.
///
/// ⚠️ The header is as trustworthy as the path to this service: the proxy must set it
/// on every request — replacing whatever a client sent — and clients must not reach the
/// service around the proxy. Where they could, list the proxies'
/// [addresses](Self::trusted_proxies): the header is then read only from a peer among
/// them (axum's `ConnectInfo<SocketAddr>`).
///
/// The header's form follows its name:
/// - **`X-Forwarded-Client-Cert`** (Envoy, Istio): elements separated by `,`, each
///   `key=value` pairs separated by `;`. The **last** element is read: the one the proxy
///   closest to this service wrote. An Envoy that appends (`APPEND_FORWARD`) keeps the
///   elements it received in front of its own, and those a client may have written;
///   only the last is surely the trusted proxy's. Behind several Envoys, the proxy that
///   terminates the client's TLS must therefore be the last to add an element
///   (`SANITIZE_SET` there, `FORWARD_ONLY` after it); otherwise the last element names
///   an intermediate proxy's certificate and a bound token is refused — never accepted
///   on someone else's certificate. The certificate is the element's `Cert`
///   (URL-encoded PEM), else its `Hash` (the hex SHA-256 of the DER, which Envoy always
///   sets); with both, they must agree.
/// - **any other name**: one certificate, as PEM (with newlines, or with the spaces or
///   tabs a proxy puts in their place: nginx `$ssl_client_cert`), URL-encoded PEM
///   (nginx `$ssl_client_escaped_cert`, AWS ALB `X-Amzn-Mtls-Clientcert`), or base64
///   DER without armour (HAProxy `ssl_c_der,base64`, Azure `X-ARR-ClientCert`). A chain
///   counts by its first (leaf) certificate.
///
/// A value that does not read cleanly — or a header sent twice — means the request has
/// no certificate: a certificate-bound token is refused (401 `invalid_token`), an
/// unbound one is unaffected. The value is never logged.
#[derive(Debug, Clone)]
#[must_use]
pub struct MtlsSettings {
    header: String,
    proxies: Option<Vec<String>>,
}

impl MtlsSettings {
    /// Trust the client certificate in the header `name` (case-insensitive).
    pub fn header(name: impl Into<String>) -> Self {
        MtlsSettings {
            header: name.into(),
            proxies: None,
        }
    }

    /// Read the header only from these peers: IP addresses (`10.0.0.7`, `::1`) or
    /// networks (`10.0.0.0/8`, `fd00::/8`). The peer is axum's
    /// `ConnectInfo<SocketAddr>`, so serve the router with
    /// `into_make_service_with_connect_info::<SocketAddr>()`: a request without it
    /// never has its header read. An IPv4 peer on a dual-stack socket
    /// (`::ffff:10.0.0.7`) counts as its IPv4 address. An empty list is refused by
    /// `build`.
    pub fn trusted_proxies<I, S>(mut self, proxies: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.proxies = Some(proxies.into_iter().map(Into::into).collect());
        self
    }

    /// Checks the settings: a valid header name, parseable proxy addresses.
    pub(crate) fn build(self) -> Result<CertificateHeader, ConfigError> {
        let name = HeaderName::from_bytes(self.header.trim().as_bytes()).map_err(|_| {
            ConfigError::InvalidMtls("the header name is not a valid HTTP header name")
        })?;
        let form = if name.as_str() == "x-forwarded-client-cert" {
            HeaderForm::Xfcc
        } else {
            HeaderForm::Certificate
        };
        let proxies = match self.proxies {
            None => None,
            Some(list) if list.is_empty() => {
                return Err(ConfigError::InvalidMtls(
                    "the trusted proxy list is empty: the header would never be read",
                ));
            }
            Some(list) => Some(
                list.iter()
                    .map(|p| Network::parse(p))
                    .collect::<Option<Vec<_>>>()
                    .ok_or(ConfigError::InvalidMtls(
                        "a trusted proxy is not an IP address or network (address/prefix)",
                    ))?,
            ),
        };
        Ok(CertificateHeader {
            name,
            form,
            proxies,
        })
    }
}

/// [`MtlsSettings`], checked: what the binding step reads.
#[derive(Debug)]
pub(crate) struct CertificateHeader {
    name: HeaderName,
    form: HeaderForm,
    /// `None`: the header is trusted from any peer.
    proxies: Option<Vec<Network>>,
}

/// An IP network: an address and a prefix length.
#[derive(Debug, Clone, Copy)]
struct Network {
    addr: IpAddr,
    prefix: u8,
}

impl Network {
    fn parse(s: &str) -> Option<Network> {
        let s = s.trim();
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a.parse::<IpAddr>().ok()?, Some(p.parse::<u8>().ok()?)),
            None => (s.parse::<IpAddr>().ok()?, None),
        };
        let addr = addr.to_canonical();
        let bits = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(bits);
        (prefix <= bits).then_some(Network { addr, prefix })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl CertificateHeader {
    /// The thumbprint of the certificate in the header, when the peer may set it and
    /// the one value reads cleanly.
    fn thumbprint(
        &self,
        headers: &http::HeaderMap,
        extensions: &http::Extensions,
    ) -> Option<[u8; 32]> {
        let mut values = headers.get_all(&self.name).iter();
        let value = values.next()?;
        if let Some(proxies) = &self.proxies {
            let peer = extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip());
            if !peer.is_some_and(|ip| proxies.iter().any(|n| n.contains(ip))) {
                tracing::debug!(
                    header = %self.name,
                    peer = ?peer,
                    "client certificate header ignored: the peer is not a trusted proxy"
                );
                return None;
            }
        }
        if values.next().is_some() {
            tracing::debug!(header = %self.name, "client certificate header ignored: sent twice");
            return None;
        }
        forwarded::thumbprint(value.as_bytes(), self.form)
            .inspect_err(|e| {
                tracing::debug!(header = %self.name, reason = e.as_str(), "client certificate header unreadable");
            })
            .ok()
    }
}

/// The thumbprint of the request's client certificate from a trusted source, if any:
/// the connection's [`ClientCertificate`], else the trusted header.
pub(crate) fn request_certificate(
    headers: &http::HeaderMap,
    extensions: &http::Extensions,
    header: Option<&CertificateHeader>,
) -> Option<[u8; 32]> {
    if let Some(c) = extensions.get::<ClientCertificate>() {
        return Some(c.thumbprint());
    }
    header?.thumbprint(headers, extensions)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(settings: MtlsSettings) -> CertificateHeader {
        settings.build().expect("valid settings")
    }

    fn request(value: &str, peer: Option<&str>) -> (http::HeaderMap, http::Extensions) {
        let mut headers = http::HeaderMap::new();
        headers.insert("x-client-cert", value.parse().unwrap());
        let mut ext = http::Extensions::new();
        if let Some(p) = peer {
            ext.insert(ConnectInfo(p.parse::<SocketAddr>().unwrap()));
        }
        (headers, ext)
    }

    const DER: [u8; 4] = [0x30, 0x02, 0x05, 0x00];

    #[test]
    fn the_header_is_read_only_from_a_trusted_peer() {
        let value = forwarded::base64_der(&DER);
        let want = Some(<[u8; 32]>::from(Sha256::digest(DER)));
        let any = header(MtlsSettings::header("X-Client-Cert"));
        let (h, e) = request(&value, None);
        assert_eq!(request_certificate(&h, &e, Some(&any)), want);
        assert_eq!(request_certificate(&h, &e, None), None, "not configured");
        let listed =
            header(MtlsSettings::header("x-client-cert").trusted_proxies(["10.0.0.0/8", "::1"]));
        for (peer, trusted) in [
            (None, false),
            (Some("10.1.2.3:443"), true),
            (Some("[::ffff:10.1.2.3]:443"), true),
            (Some("11.0.0.1:443"), false),
            (Some("[::1]:80"), true),
            (Some("127.0.0.1:80"), false),
        ] {
            let (h, e) = request(&value, peer);
            let got = request_certificate(&h, &e, Some(&listed));
            assert_eq!(got.is_some(), trusted, "{peer:?}");
        }
        let (mut h, e) = request(&value, None);
        h.append("x-client-cert", value.parse().unwrap());
        assert_eq!(request_certificate(&h, &e, Some(&any)), None, "sent twice");
    }

    #[test]
    fn the_connections_certificate_comes_first() {
        let (h, mut e) = request(&forwarded::base64_der(&DER), None);
        e.insert(ClientCertificate::from_der(vec![0x30, 0x00]));
        let any = header(MtlsSettings::header("x-client-cert"));
        assert_eq!(
            request_certificate(&h, &e, Some(&any)),
            Some(Sha256::digest([0x30, 0x00]).into())
        );
    }

    #[test]
    fn bad_settings_are_refused_at_build() {
        for s in [
            MtlsSettings::header("bad header"),
            MtlsSettings::header(""),
            MtlsSettings::header("x").trusted_proxies(Vec::<String>::new()),
            MtlsSettings::header("x").trusted_proxies(["10.0.0.0/33"]),
            MtlsSettings::header("x").trusted_proxies(["proxy.internal"]),
        ] {
            assert!(matches!(s.build(), Err(ConfigError::InvalidMtls(_))));
        }
        let n = Network::parse("0.0.0.0/0").unwrap();
        assert!(n.contains("1.2.3.4".parse().unwrap()));
        assert!(!n.contains("::2".parse().unwrap()));
    }
}
