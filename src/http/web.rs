//! [`Web`]: the HTTP side of a [`TokenAuth`](crate::TokenAuth) — what its layers share
//! (the verification pipeline and the HTTP settings) and the helpers an application's
//! own routes use to answer like the layer: cookies, the same-origin check, error
//! rendering, the JWKS route. The handle itself speaks no HTTP; `auth.web()` gives this.
//!
//! ```
//! use axum::Router;
//! use axum_token_auth::{TokenAuth, TokenRequest};
//! use http::HeaderMap;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let auth = TokenAuth::builder()
//!     .hs256_secret("a-random-secret-of-at-least-32-bytes!!")
//!     .build()?;
//! let web = auth.web();
//! let app: Router = Router::new()
//!     .route("/.well-known/jwks.json", web.jwks_route());
//! // A login handler of the application's own sets the token cookies as the routes do:
//! let pair = auth.issue_pair(&TokenRequest::new("alice"))?;
//! let mut headers = HeaderMap::new();
//! web.set_token_cookies(&mut headers, &pair, None);
//! assert_eq!(headers.get_all("set-cookie").iter().count(), 2);
//! # let _ = app; Ok(()) }
//! ```

use std::fmt;
use std::sync::Arc;

use axum::response::Response;
use axum::routing::MethodRouter;
use axum::{Json, Router};
use http::header::CACHE_CONTROL;
use http::{HeaderMap, Uri};

use crate::http::cookies::{CookieSettings, append};
use crate::http::csrf::CsrfSettings;
use crate::http::resource::ProtectedResource;
use crate::http::rfc6750::AuthError;
use crate::http::settings::WebSettings;
use crate::token::issue::TokenPair;
use crate::trust::verify::Verifier;

/// The HTTP side of a [`TokenAuth`](crate::TokenAuth) (from
/// [`TokenAuth::web`](crate::TokenAuth::web)); cloning is two `Arc` bumps.
#[derive(Clone)]
pub struct Web {
    pub(crate) verifier: Arc<Verifier>,
    pub(crate) settings: Arc<WebSettings>,
}

impl fmt::Debug for Web {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Web")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Web {
    pub(crate) fn new(verifier: Arc<Verifier>, settings: WebSettings) -> Self {
        Web {
            verifier,
            settings: Arc::new(settings),
        }
    }

    /// The configured cookie settings.
    pub fn cookie_settings(&self) -> &CookieSettings {
        &self.settings.cookies
    }

    /// The configured CSRF settings.
    pub fn csrf_settings(&self) -> &CsrfSettings {
        &self.settings.csrf
    }

    /// The name of the cookie access tokens are read from, if any.
    pub fn access_cookie_name(&self) -> Option<&str> {
        self.settings.access_cookie.as_deref()
    }

    /// Appends `Set-Cookie` headers carrying `pair` (access and refresh cookies, each with
    /// `Max-Age` from its token's lifetime), plus the CSRF cookie when `csrf` is given.
    pub fn set_token_cookies(&self, headers: &mut HeaderMap, pair: &TokenPair, csrf: Option<&str>) {
        let c = &self.settings.cookies;
        let now = self.verifier.clock.now();
        append(
            headers,
            &c.access_cookie(
                pair.access.as_str(),
                pair.access.expires_at.saturating_sub(now),
            ),
        );
        append(
            headers,
            &c.refresh_cookie(
                pair.refresh.as_str(),
                pair.refresh.expires_at.saturating_sub(now),
            ),
        );
        if let Some(csrf) = csrf {
            append(
                headers,
                &c.csrf_cookie(csrf, pair.refresh.expires_at.saturating_sub(now)),
            );
        }
    }

    /// Appends `Set-Cookie` headers that delete the token cookies.
    pub fn clear_token_cookies(&self, headers: &mut HeaderMap) {
        for c in self.settings.cookies.clearing_cookies() {
            append(headers, &c);
        }
    }

    /// The crate's origin check as a building block for any handler (a login handler
    /// above all): refuses (`403 invalid_request`,
    /// [`InvalidRequest::CrossSite`](crate::http::InvalidRequest::CrossSite)) a request
    /// whose `Sec-Fetch-Site` is `cross-site` or whose `Origin` is neither this host nor
    /// a [trusted origin](crate::http::CsrfSettings::trusted_origin). A request with
    /// neither header (a non-browser client) passes. Applies even with CSRF protection
    /// disabled. The [`SameOrigin`](crate::http::SameOrigin) extractor runs it too.
    ///
    /// ```
    /// use axum_token_auth::TokenAuth;
    /// use http::{HeaderMap, Uri};
    ///
    /// let auth = TokenAuth::builder().hs256_secret("a-random-secret-of-at-least-32-bytes!!").build()?;
    /// let mut headers = HeaderMap::new();
    /// headers.insert("host", "app.example".parse()?);
    /// headers.insert("origin", "https://evil.example".parse()?);
    /// assert!(auth.web().check_same_origin(&headers, &Uri::from_static("/auth/login")).is_err());
    /// headers.insert("origin", "https://app.example".parse()?);
    /// assert!(auth.web().check_same_origin(&headers, &Uri::from_static("/auth/login")).is_ok());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn check_same_origin(&self, headers: &HeaderMap, uri: &Uri) -> Result<(), AuthError> {
        self.settings.csrf.check_origin(uri, headers)
    }

    /// Renders `error` with the configured [`ErrorRenderer`](crate::http::ErrorRenderer)
    /// and realm, attaching it to the response's extensions: for the application's own
    /// routes (a login that fails, a body that cannot be read) to answer like the layer.
    pub fn render_error(&self, error: AuthError) -> Response {
        self.settings.rendering.render(error)
    }

    /// A `GET` route serving the public keys of the crate's own keyring as a JWKS
    /// document ([`TokenAuth::jwks`](crate::TokenAuth::jwks)), for
    /// `/.well-known/jwks.json`. It serves the keyring as it is at each request:
    /// rotations show without rebuilding the router.
    pub fn jwks_route<S: Clone + Send + Sync + 'static>(&self) -> MethodRouter<S> {
        let verifier = Arc::clone(&self.verifier);
        axum::routing::get(move || {
            let jwks = verifier.keys.load().jwks();
            async move { ([(CACHE_CONTROL, "public, max-age=300")], Json(jwks)) }
        })
    }

    /// This API as a protected resource (RFC 9728), when
    /// [`TokenAuthBuilder::resource`](crate::TokenAuthBuilder::resource) configured it.
    pub fn protected_resource(&self) -> Option<&ProtectedResource> {
        self.settings.resource.as_deref().map(|r| &r.resource)
    }

    /// A router serving the protected resource metadata (RFC 9728) at its well-known
    /// path ([`ProtectedResource::well_known_path`]): `GET`, public (any origin may read
    /// it, `Cache-Control: public, max-age=300`), outside the layer. Merge it into the
    /// application's router. Without
    /// [`TokenAuthBuilder::resource`](crate::TokenAuthBuilder::resource) it is empty
    /// (and a warning is logged): there is nothing to describe.
    ///
    /// ```
    /// use axum::Router;
    /// use axum_token_auth::{TokenAuth, http::ProtectedResource};
    ///
    /// let auth = TokenAuth::builder()
    ///     .hs256_secret("a-random-secret-of-at-least-32-bytes!!")
    ///     .resource(ProtectedResource::new("https://api.example.com"))
    ///     .build()?;
    /// // GET /.well-known/oauth-protected-resource
    /// let app: Router = Router::new().merge(auth.web().resource_metadata_router());
    /// # Ok::<(), axum_token_auth::ConfigError>(())
    /// ```
    pub fn resource_metadata_router<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        match &self.settings.resource {
            Some(r) => crate::http::resource::router(Arc::clone(r), Arc::clone(&self.verifier)),
            None => {
                tracing::warn!(
                    "resource_metadata_router without a configured resource: nothing is served"
                );
                Router::new()
            }
        }
    }

    /// The OpenAPI security schemes of this configuration: `Authorization: Bearer` with
    /// a JWT, and the access cookie (by its configured name, prefix included) unless
    /// [`without_access_cookie`](crate::TokenAuthBuilder::without_access_cookie) was
    /// set. The same shapes as [`SecuritySchemes::new`](crate::http::openapi::SecuritySchemes::new)
    /// with its builder methods set to this configuration. See
    /// [`http::openapi`](crate::http::openapi).
    #[cfg(feature = "utoipa")]
    #[cfg_attr(docsrs, doc(cfg(feature = "utoipa")))]
    pub fn openapi_security(&self) -> crate::http::openapi::SecuritySchemes {
        crate::http::openapi::SecuritySchemes::from_configuration(
            self.access_cookie_name().map(str::to_owned),
            self.settings.csrf.header_name().as_str().to_owned(),
        )
    }
}
