//! CSRF protection for cookie-authenticated requests: a double submit bound to the token,
//! plus an `Origin` / `Sec-Fetch-Site` check.
//!
//! (Documented with examples in the [`http`](crate::http) module docs.)

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::header::{HOST, ORIGIN};
use http::{HeaderMap, HeaderName, Method, Uri};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use http::header::{CONTENT_TYPE, UPGRADE};

use crate::http::rfc6750::{AuthError, InvalidRequest};

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
    ///
    /// ```
    /// use axum_token_auth::http::CsrfSettings;
    /// use http::HeaderName;
    ///
    /// let c = CsrfSettings::default().header(HeaderName::from_static("x-xsrf-token"));
    /// assert_eq!(c.header_name(), "x-xsrf-token");
    /// ```
    pub fn header(mut self, name: HeaderName) -> Self {
        self.header = name;
        self
    }

    /// An origin (`scheme://host[:port]`) allowed besides the request's own host, e.g. a
    /// front end served from another origin.
    ///
    /// ```
    /// use axum_token_auth::{TokenAuth, http::CsrfSettings};
    ///
    /// // The SPA is served from another origin than the API.
    /// let auth = TokenAuth::builder()
    ///     .hs256_secret("a-random-secret-of-at-least-32-bytes!!")
    ///     .csrf(CsrfSettings::default().trusted_origin("https://app.example.com"))
    ///     .build()?;
    /// # let _ = auth;
    /// # Ok::<(), axum_token_auth::ConfigError>(())
    /// ```
    pub fn trusted_origin(mut self, origin: impl Into<String>) -> Self {
        self.trusted_origins
            .push(origin.into().trim_end_matches('/').to_ascii_lowercase());
        self
    }

    /// ⚠️ Turns CSRF protection off. Only for APIs whose cookies are never sent by
    /// browsers to other sites' requests (e.g. `SameSite=Strict` everywhere and no
    /// state-changing GETs) — think twice.
    ///
    /// ```
    /// use axum_token_auth::http::CsrfSettings;
    ///
    /// // Only for APIs no browser ever reaches with cookies.
    /// let c = CsrfSettings::default().insecure_disable();
    /// # let _ = c;
    /// ```
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
        if !self.enabled {
            return Ok(());
        }
        if is_safe(method) {
            // A handshake cannot carry the CSRF header; its Origin tells where it is from.
            if is_websocket_upgrade(headers) {
                return self.check_origin(uri, headers);
            }
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

    pub(crate) fn check_origin(&self, uri: &Uri, headers: &HeaderMap) -> Result<(), AuthError> {
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

/// `Upgrade: websocket` (case-insensitive, among other protocols), whatever `Connection`
/// says: the check errs on the side of checking.
fn is_websocket_upgrade(headers: &HeaderMap) -> bool {
    let names = |name| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect::<Vec<_>>()
    };
    names(UPGRADE)
        .iter()
        .any(|p| p.eq_ignore_ascii_case("websocket"))
}

/// Refuses (`400 invalid_request`, [`InvalidRequest::NotJson`]) a request whose
/// `Content-Type` is not `application/json`: a cross-site form can only send
/// `text/plain`, `application/x-www-form-urlencoded` or `multipart/form-data` without a
/// CORS preflight, so a JSON-only handler cannot be driven by one.
pub fn require_json_content_type(headers: &HeaderMap) -> Result<(), AuthError> {
    let json = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|ct| ct.split(';').next())
        .is_some_and(|ct| ct.trim().eq_ignore_ascii_case("application/json"));
    if json {
        Ok(())
    } else {
        Err(InvalidRequest::NotJson.into())
    }
}

/// Extractor form of [`Web::check_same_origin`](crate::http::Web::check_same_origin): a handler taking `SameOrigin` only
/// runs for requests that are not cross-site; others are refused with the configured
/// renderer (`403 invalid_request`). Needs `TokenAuth: FromRef<S>` for the router state.
///
/// ```
/// use axum::{Router, routing::post};
/// use axum_token_auth::{TokenAuth, http::SameOrigin};
///
/// async fn login(_: SameOrigin) -> &'static str { "logged in" }
///
/// let auth = TokenAuth::builder().hs256_secret("a-random-secret-of-at-least-32-bytes!!").build()?;
/// let app: Router = Router::new().route("/auth/login", post(login)).with_state(auth);
/// # Ok::<(), axum_token_auth::ConfigError>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct SameOrigin;

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
    fn a_cross_site_websocket_handshake_is_refused() {
        let h = headers(&[
            ("upgrade", "websocket"),
            ("connection", "Upgrade"),
            ("origin", "https://evil.example"),
            ("host", "a.com"),
        ]);
        assert_eq!(
            check(Method::GET, &h, None),
            Err(InvalidRequest::CrossSite.into())
        );
        let same = headers(&[
            ("upgrade", "WebSocket"),
            ("origin", "https://a.com"),
            ("host", "a.com"),
        ]);
        assert!(check(Method::GET, &same, None).is_ok());
    }

    #[test]
    fn neither_origin_nor_sec_fetch_site_passes_the_origin_check() {
        let bound = digest_bytes(b"v");
        let h = headers(&[("x-csrf-token", "v"), ("host", "a.com")]);
        assert!(check(Method::POST, &h, Some(&bound)).is_ok());
        // …but never the double submit.
        let h = headers(&[("host", "a.com")]);
        assert_eq!(
            check(Method::POST, &h, Some(&bound)),
            Err(InvalidRequest::CsrfMismatch.into())
        );
    }

    #[test]
    fn json_content_type_is_required() {
        for ok in [
            "application/json",
            "application/json; charset=utf-8",
            "Application/JSON",
        ] {
            assert!(
                require_json_content_type(&headers(&[("content-type", ok)])).is_ok(),
                "{ok}"
            );
        }
        for bad in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "application/jsonx",
        ] {
            assert_eq!(
                require_json_content_type(&headers(&[("content-type", bad)])),
                Err(InvalidRequest::NotJson.into()),
                "{bad}"
            );
        }
        assert!(require_json_content_type(&headers(&[])).is_err());
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
