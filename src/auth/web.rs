//! The HTTP helpers of [`TokenAuth`]: its cookies and its same-origin check (and the
//! [`SameOrigin`] extractor, which reads the handle from the router state).

use axum::extract::{FromRef, FromRequestParts};
use http::{HeaderMap, Uri};

use crate::auth::TokenAuth;
use axum::response::Response;

use crate::http::cookies::{CookieSettings, append};
use crate::http::{AuthError, SameOrigin};
use crate::token::TokenPair;

impl TokenAuth {
    /// The configured cookie settings.
    pub fn cookie_settings(&self) -> &CookieSettings {
        &self.inner.web.cookies
    }

    /// Appends `Set-Cookie` headers carrying `pair` (access and refresh cookies, each with
    /// `Max-Age` from its token's lifetime), plus the CSRF cookie when `csrf` is given.
    pub fn set_token_cookies(&self, headers: &mut HeaderMap, pair: &TokenPair, csrf: Option<&str>) {
        let c = &self.inner.web.cookies;
        let now = self.now();
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
        for c in self.inner.web.cookies.clearing_cookies() {
            append(headers, &c);
        }
    }
}

impl TokenAuth {
    /// The crate's origin check as a building block for any handler (a login handler
    /// above all): refuses (`403 invalid_request`, [`InvalidRequest::CrossSite`](crate::http::InvalidRequest::CrossSite)) a
    /// request whose `Sec-Fetch-Site` is `cross-site` or whose `Origin` is neither this
    /// host nor a [trusted origin](crate::http::CsrfSettings::trusted_origin). A request with neither
    /// header (a non-browser client) passes. Applies even with CSRF protection disabled.
    ///
    /// ```
    /// use axum_token_auth::TokenAuth;
    /// use http::{HeaderMap, Uri};
    ///
    /// let auth = TokenAuth::builder().hs256_secret("a-random-secret-of-at-least-32-bytes!!").build()?;
    /// let mut headers = HeaderMap::new();
    /// headers.insert("host", "app.example".parse()?);
    /// headers.insert("origin", "https://evil.example".parse()?);
    /// assert!(auth.check_same_origin(&headers, &Uri::from_static("/auth/login")).is_err());
    /// headers.insert("origin", "https://app.example".parse()?);
    /// assert!(auth.check_same_origin(&headers, &Uri::from_static("/auth/login")).is_ok());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn check_same_origin(&self, headers: &HeaderMap, uri: &Uri) -> Result<(), AuthError> {
        self.inner.web.csrf.check_origin(uri, headers)
    }
}

impl<S> FromRequestParts<S> for SameOrigin
where
    TokenAuth: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        let auth = TokenAuth::from_ref(state);
        auth.check_same_origin(&parts.headers, &parts.uri)
            .map(|()| SameOrigin)
            .map_err(|e| auth.render_error(e))
    }
}
