//! The OpenAPI description of a [`TokenAuth`] (feature `utoipa`); the schemes and
//! requirements themselves are [`http::openapi`](crate::http::openapi)'s.

use crate::auth::TokenAuth;
use crate::http::openapi::OpenApiSecurity;

impl TokenAuth {
    /// The OpenAPI security schemes of this configuration: `Authorization: Bearer` with
    /// a JWT, and the access cookie (by its configured name, prefix included) unless
    /// [`without_access_cookie`](crate::TokenAuthBuilder::without_access_cookie) was
    /// set. See [`http::openapi`](crate::http::openapi).
    #[cfg_attr(docsrs, doc(cfg(feature = "utoipa")))]
    pub fn openapi_security(&self) -> OpenApiSecurity {
        OpenApiSecurity::new(
            self.access_cookie_name().map(str::to_owned),
            self.inner.web.csrf.header_name().as_str().to_owned(),
        )
    }
}
