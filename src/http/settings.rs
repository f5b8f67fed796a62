//! What the HTTP side reads of the configuration: rendering, cookies, CSRF, the access
//! cookie and the verified-token cache's size. Plain data, built by the builder.

use std::sync::Arc;

use crate::http::cookies::CookieSettings;
use crate::http::csrf::CsrfSettings;
use crate::http::mtls::CertificateHeader;
use crate::http::resource::ResourceMetadata;
use crate::http::rfc6750::Rendering;

/// The HTTP settings of a [`TokenAuth`](crate::TokenAuth), shared with its layers.
#[derive(Debug)]
pub(crate) struct WebSettings {
    pub(crate) rendering: Rendering,
    pub(crate) cookies: CookieSettings,
    pub(crate) csrf: CsrfSettings,
    /// The cookie access tokens are read from, when enabled.
    pub(crate) access_cookie: Option<Arc<str>>,
    /// The entry budget of each layer's verified-token cache (0: no cache).
    pub(crate) cache_capacity: usize,
    /// The byte budget of each layer's cache.
    pub(crate) cache_bytes: usize,
    /// The header trusted for the client certificate (RFC 8705), when configured.
    pub(crate) certificate_header: Option<CertificateHeader>,
    /// This API as a protected resource (RFC 9728), when configured.
    pub(crate) resource: Option<Arc<ResourceMetadata>>,
}
