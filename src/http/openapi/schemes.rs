//! [`SecuritySchemes`]: the schemes a document declares and the requirements that name
//! them.

use std::borrow::Cow;

use utoipa::Modify;
use utoipa::openapi::OpenApi;
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};

use crate::token::scope::{ScopeList, ScopeMarker};

/// The name of the HTTP bearer (JWT) scheme in `components.securitySchemes`.
pub const BEARER_SCHEME: &str = "bearer";
/// The name of the access-cookie (API key in a cookie) scheme in
/// `components.securitySchemes`, present when the authority reads an access cookie.
pub const COOKIE_SCHEME: &str = "access_cookie";

/// The access cookie a default [`TokenAuth`](crate::auth::TokenAuth) reads.
const DEFAULT_ACCESS_COOKIE: &str = "__Host-access_token";
/// The header a default configuration takes the CSRF value from.
const DEFAULT_CSRF_HEADER: &str = "x-csrf-token";

/// The security schemes of a configuration, as OpenAPI sees them, and the requirements
/// that name them: `Authorization: Bearer` with a JWT, and the access cookie unless the
/// configuration reads none.
///
/// Two ways to get one, with the same shapes for the same configuration:
/// - **without a runtime authority**: [`SecuritySchemes::new`] (also [`Default`]) holds
///   the defaults (the `__Host-access_token` cookie, CSRF value in `x-csrf-token`), and
///   the builder methods change them. `new` is `const`, so a `const` can be handed to
///   `#[openapi(modifiers(&…))]`;
/// - **from the live configuration**: [`Web::openapi_security`](crate::http::Web::openapi_security).
///
/// [`Modify::modify`] adds the schemes to `components.securitySchemes`.
///
/// ```
/// use axum_token_auth::http::openapi::SecuritySchemes;
/// use utoipa::OpenApi;
///
/// const SCHEMES: SecuritySchemes = SecuritySchemes::new();
///
/// #[derive(OpenApi)]
/// #[openapi(modifiers(&SCHEMES))]
/// struct ApiDoc;
///
/// let json = serde_json::to_value(ApiDoc::openapi()).unwrap();
/// assert_eq!(json["components"]["securitySchemes"]["access_cookie"]["name"], "__Host-access_token");
/// assert_eq!(json["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
/// ```
///
/// The requirements list scopes for the HTTP bearer and API-key schemes, which OpenAPI
/// 3.1 (what utoipa 5 writes) allows as "role names"; OpenAPI 3.0 tools may expect an
/// empty list there.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct SecuritySchemes {
    cookie: Option<Cow<'static, str>>,
    csrf_header: Cow<'static, str>,
}

/// The former name of [`SecuritySchemes`].
#[deprecated(since = "0.1.0", note = "renamed `SecuritySchemes`")]
pub type OpenApiSecurity = SecuritySchemes;

impl Default for SecuritySchemes {
    fn default() -> Self {
        Self::new()
    }
}

impl SecuritySchemes {
    /// The schemes of a default configuration: bearer, and the `__Host-access_token`
    /// cookie with the CSRF value in `x-csrf-token`.
    pub const fn new() -> Self {
        SecuritySchemes {
            cookie: Some(Cow::Borrowed(DEFAULT_ACCESS_COOKIE)),
            csrf_header: Cow::Borrowed(DEFAULT_CSRF_HEADER),
        }
    }

    /// The schemes of a configuration reading the access cookie `cookie` (if any) and
    /// taking the CSRF value in `csrf_header`.
    pub(crate) fn from_configuration(cookie: Option<String>, csrf_header: String) -> Self {
        SecuritySchemes {
            cookie: cookie.map(Cow::Owned),
            csrf_header: Cow::Owned(csrf_header),
        }
    }

    /// Names the access cookie `name` (its full name, prefix included), as
    /// [`TokenAuthBuilder::access_cookie`](crate::auth::TokenAuthBuilder::access_cookie)
    /// configured it.
    pub fn access_cookie(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.cookie = Some(name.into());
        self
    }

    /// No cookie scheme: the configuration reads tokens from `Authorization` only
    /// ([`TokenAuthBuilder::without_access_cookie`](crate::auth::TokenAuthBuilder::without_access_cookie)).
    pub fn without_access_cookie(mut self) -> Self {
        self.cookie = None;
        self
    }

    /// The header unsafe cookie-authenticated requests carry the CSRF value in.
    pub fn csrf_header(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.csrf_header = name.into();
        self
    }

    /// The schemes, by their names in `components.securitySchemes`.
    pub fn schemes(&self) -> Vec<(&'static str, SecurityScheme)> {
        let bearer = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .bearer_format("JWT")
            .description(Some(
                "An access token (`typ: at+jwt`) in `Authorization: Bearer`.",
            ))
            .build();
        let mut schemes = vec![(BEARER_SCHEME, SecurityScheme::Http(bearer))];
        if let Some(name) = &self.cookie {
            let description = format!(
                "The access token in the `{name}` cookie (set at login). Requests with \
                 unsafe methods also send the `csrf_token` cookie's value in `{}`.",
                self.csrf_header
            );
            schemes.push((
                COOKIE_SCHEME,
                SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                    name.to_string(),
                    description,
                ))),
            ));
        }
        schemes
    }

    fn names(&self) -> impl Iterator<Item = &'static str> {
        std::iter::once(BEARER_SCHEME).chain(self.cookie.as_ref().map(|_| COOKIE_SCHEME))
    }

    /// Any valid access token, no scope (a route behind the layer with `Claims`): one
    /// requirement per scheme, any of which is enough.
    pub fn authenticated(&self) -> Vec<SecurityRequirement> {
        self.names()
            .map(|n| SecurityRequirement::new(n, Vec::<String>::new()))
            .collect()
    }

    /// What [`RequireScope<S>`](crate::http::RequireScope) asks: the scope of marker
    /// `S`, by any scheme.
    pub fn require<S: ScopeMarker>(&self) -> Vec<SecurityRequirement> {
        self.require_all::<S>()
    }

    /// What [`RequireAllScopes<L>`](crate::http::RequireAllScopes) asks: every scope of
    /// `L` in one token, by any scheme.
    pub fn require_all<L: ScopeList>(&self) -> Vec<SecurityRequirement> {
        self.names().map(|n| scope_requirement::<L>(n)).collect()
    }

    /// What [`RequireAnyScope<L>`](crate::http::RequireAnyScope) asks: one scope of `L`,
    /// by any scheme (one requirement per scope and scheme).
    pub fn require_any<L: ScopeList>(&self) -> Vec<SecurityRequirement> {
        self.names()
            .flat_map(|n| {
                L::SCOPES
                    .iter()
                    .map(move |s| SecurityRequirement::new(n, [*s]))
            })
            .collect()
    }
}

impl Modify for SecuritySchemes {
    /// Adds the schemes to `components.securitySchemes` (creating the components).
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        for (name, scheme) in self.schemes() {
            components.add_security_scheme(name, scheme);
        }
    }
}

/// A requirement of every scope of the marker list `L` under scheme `scheme` (for
/// documents that name their schemes themselves).
///
/// ```
/// use axum_token_auth::{scope, http::openapi::scope_requirement};
///
/// scope! { pub Read = "users:read"; pub Write = "users:write"; }
/// let req = scope_requirement::<(Read, Write)>("oauth");
/// assert_eq!(serde_json::to_value(&req).unwrap(), serde_json::json!({"oauth": ["users:read", "users:write"]}));
/// ```
pub fn scope_requirement<L: ScopeList>(scheme: &str) -> SecurityRequirement {
    SecurityRequirement::new(scheme, L::SCOPES.iter().copied())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_methods_change_the_cookie_scheme() {
        let custom = SecuritySchemes::new()
            .access_cookie("session")
            .csrf_header("x-xsrf");
        let schemes = serde_json::to_value(custom.schemes()).unwrap();
        assert_eq!(schemes[1][0], COOKIE_SCHEME);
        assert_eq!(schemes[1][1]["name"], "session");
        assert!(
            schemes[1][1]["description"]
                .as_str()
                .unwrap()
                .contains("`x-xsrf`")
        );
        let header_only = SecuritySchemes::default().without_access_cookie();
        assert_eq!(header_only.schemes().len(), 1);
        assert_eq!(header_only.authenticated().len(), 1);
    }
}
