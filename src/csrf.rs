//! CSRF protection for cookie-authenticated requests: a double submit bound to the token,
//! plus an `Origin` / `Sec-Fetch-Site` check.
//!
//! At login a random value is set in a readable cookie (`csrf_token`) and its SHA-256
//! digest is bound into the access and refresh tokens (`csrf` claim). A request that is
//! authenticated by cookie and uses an unsafe method (anything but GET, HEAD, OPTIONS,
//! TRACE) must send the value in `X-CSRF-Token`; it is hashed and compared in constant
//! time with the token's claim. Such a request is also refused when the browser says it
//! is cross-site (`Sec-Fetch-Site: cross-site`) or its `Origin` is not this host (or a
//! trusted origin). Requests with an `Authorization: Bearer` header are exempt: a browser
//! never adds that header by itself.
//!
//! ```
//! use axum_token_auth::{CsrfSettings, TokenAuth};
//!
//! let auth = TokenAuth::builder()
//!     .hs256_secret("a-random-secret-of-at-least-32-bytes!!")
//!     .csrf(CsrfSettings::default().trusted_origin("https://app.example.com"))
//!     .build()?;
//! # Ok::<(), axum_token_auth::ConfigError>(())
//! ```

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::header::{HOST, ORIGIN};
use http::{HeaderMap, HeaderName, Method, Uri};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::{AuthError, InvalidRequest};

/// How cookie-authenticated requests are protected against CSRF.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct CsrfSettings {
    pub(crate) enabled: bool,
    pub(crate) header: HeaderName,
    pub(crate) trusted_origins: Vec<String>,
}

impl Default for CsrfSettings {
    fn default() -> Self {
        CsrfSettings {
            enabled: true,
            header: HeaderName::from_static("x-csrf-token"),
            trusted_origins: Vec::new(),
        }
    }
}

impl CsrfSettings {
    /// The header carrying the CSRF value (default `X-CSRF-Token`).
    pub fn header(mut self, name: HeaderName) -> Self {
        self.header = name;
        self
    }

    /// An origin (`scheme://host[:port]`) allowed besides the request's own host, e.g. a
    /// front end served from another origin.
    pub fn trusted_origin(mut self, origin: impl Into<String>) -> Self {
        self.trusted_origins
            .push(origin.into().trim_end_matches('/').to_ascii_lowercase());
        self
    }

    /// ⚠️ Turns CSRF protection off. Only for APIs whose cookies are never sent by
    /// browsers to other sites' requests (e.g. `SameSite=Strict` everywhere and no
    /// state-changing GETs) — think twice.
    pub fn insecure_disable(mut self) -> Self {
        self.enabled = false;
        self
    }

    /// The header name.
    pub fn header_name(&self) -> &HeaderName {
        &self.header
    }

    /// Checks a cookie-authenticated request; `bound` is the token's `csrf` claim.
    pub(crate) fn check(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        bound: Option<&str>,
    ) -> Result<(), AuthError> {
        if !self.enabled || is_safe(method) {
            return Ok(());
        }
        self.check_origin(uri, headers)?;
        let sent = headers
            .get(&self.header)
            .map(|v| v.as_bytes())
            .filter(|v| !v.is_empty());
        let (Some(sent), Some(bound)) = (sent, bound) else {
            return Err(InvalidRequest::CsrfMismatch.into());
        };
        let digest = digest_bytes(sent);
        if bool::from(digest.as_bytes().ct_eq(bound.as_bytes())) {
            Ok(())
        } else {
            Err(InvalidRequest::CsrfMismatch.into())
        }
    }

    fn check_origin(&self, uri: &Uri, headers: &HeaderMap) -> Result<(), AuthError> {
        let cross = || AuthError::InvalidRequest(InvalidRequest::CrossSite);
        if let Some(site) = headers.get("sec-fetch-site")
            && site.as_bytes().eq_ignore_ascii_case(b"cross-site")
        {
            return Err(cross());
        }
        let Some(origin) = headers.get(ORIGIN) else {
            return Ok(());
        };
        let origin = origin.to_str().map_err(|_| cross())?.to_ascii_lowercase();
        if self.trusted_origins.contains(&origin) {
            return Ok(());
        }
        // "null" and anything without a host is refused.
        let origin_host = origin.split_once("://").map(|(_, h)| h).ok_or_else(cross)?;
        let host = headers
            .get(HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_ascii_lowercase)
            .or_else(|| uri.authority().map(|a| a.as_str().to_ascii_lowercase()));
        match host {
            Some(h) if h == origin_host => Ok(()),
            _ => Err(cross()),
        }
    }
}

fn is_safe(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

/// SHA-256, base64url: the form bound into tokens.
pub(crate) fn digest_bytes(value: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn check(method: Method, h: &HeaderMap, bound: Option<&str>) -> Result<(), AuthError> {
        CsrfSettings::default().check(&method, &Uri::from_static("/x"), h, bound)
    }

    #[test]
    fn safe_methods_pass() {
        assert!(check(Method::GET, &headers(&[]), None).is_ok());
    }

    #[test]
    fn matching_value_passes_and_others_fail() {
        let bound = digest_bytes(b"secret-value");
        let ok = headers(&[("x-csrf-token", "secret-value"), ("host", "a.com")]);
        assert!(check(Method::POST, &ok, Some(&bound)).is_ok());
        let forged = headers(&[("x-csrf-token", "guess")]);
        assert_eq!(
            check(Method::POST, &forged, Some(&bound)),
            Err(InvalidRequest::CsrfMismatch.into())
        );
        assert_eq!(
            check(Method::DELETE, &headers(&[]), Some(&bound)),
            Err(InvalidRequest::CsrfMismatch.into())
        );
        assert_eq!(
            check(Method::POST, &ok, None),
            Err(InvalidRequest::CsrfMismatch.into())
        );
    }

    #[test]
    fn cross_site_is_refused_even_with_the_value() {
        let bound = digest_bytes(b"v");
        for h in [
            headers(&[("x-csrf-token", "v"), ("sec-fetch-site", "cross-site")]),
            headers(&[
                ("x-csrf-token", "v"),
                ("origin", "https://evil.com"),
                ("host", "a.com"),
            ]),
            headers(&[("x-csrf-token", "v"), ("origin", "null"), ("host", "a.com")]),
        ] {
            assert_eq!(
                check(Method::POST, &h, Some(&bound)),
                Err(InvalidRequest::CrossSite.into())
            );
        }
        let same = headers(&[
            ("x-csrf-token", "v"),
            ("origin", "http://A.com"),
            ("host", "a.com"),
        ]);
        assert!(check(Method::POST, &same, Some(&bound)).is_ok());
        let trusted = CsrfSettings::default().trusted_origin("https://app.b.com/");
        let h = headers(&[
            ("x-csrf-token", "v"),
            ("origin", "https://app.b.com"),
            ("host", "api.b.com"),
        ]);
        assert!(
            trusted
                .check(&Method::POST, &Uri::from_static("/"), &h, Some(&bound))
                .is_ok()
        );
    }
}
