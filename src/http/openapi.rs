//! OpenAPI (utoipa 5, feature `utoipa`): the security schemes of a [`TokenAuth`](crate::TokenAuth) and the
//! security requirements of its scope guards, from the `scope!` markers themselves.
//!
//! ```
//! use axum_token_auth::{TokenAuth, scope, http::openapi::{BEARER_SCHEME, COOKIE_SCHEME}};
//! use utoipa::Modify as _;
//! use utoipa::openapi::{OpenApiBuilder, PathItem, Paths, HttpMethod, path::OperationBuilder};
//!
//! scope!(pub UsersWrite = "users:write");
//!
//! let auth = TokenAuth::builder().hs256_secret("a-random-secret-of-at-least-32-bytes!!").build()?;
//! let mut doc = OpenApiBuilder::new()
//!     .paths(Paths::builder().path(
//!         "/users",
//!         PathItem::new(HttpMethod::Post, OperationBuilder::new().build()),
//!     ))
//!     .build();
//!
//! let security = auth.web().openapi_security();
//! security.modify(&mut doc); // components.securitySchemes: bearer + access cookie
//! // POST /users takes `RequireScope<UsersWrite>`: say so, with the marker, not a string.
//! assert!(security.secure(&mut doc, HttpMethod::Post, "/users", security.require::<UsersWrite>()));
//!
//! let json = serde_json::to_value(&doc).unwrap();
//! assert_eq!(json["components"]["securitySchemes"][COOKIE_SCHEME]["name"], "__Host-access_token");
//! assert_eq!(json["paths"]["/users"]["post"]["security"][0][BEARER_SCHEME][0], "users:write");
//! # Ok::<(), axum_token_auth::ConfigError>(())
//! ```
//!
//! The requirements list scopes for the HTTP bearer and API-key schemes, which OpenAPI
//! 3.1 (what utoipa 5 writes) allows as "role names"; OpenAPI 3.0 tools may expect an
//! empty list there.

use utoipa::Modify;
use utoipa::openapi::OpenApi;
use utoipa::openapi::path::{HttpMethod, Operation};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};

use crate::token::scope::{ScopeList, ScopeMarker};

/// The name of the HTTP bearer (JWT) scheme in `components.securitySchemes`.
pub const BEARER_SCHEME: &str = "bearer";
/// The name of the access-cookie (API key in a cookie) scheme in
/// `components.securitySchemes`, present when the authority reads an access cookie.
pub const COOKIE_SCHEME: &str = "access_cookie";

/// The security schemes of a [`TokenAuth`](crate::TokenAuth), as OpenAPI sees them, and the requirements
/// of its guards. Built by [`Web::openapi_security`](crate::http::Web::openapi_security); add the schemes to a document
/// with [`Modify::modify`] (also usable in `#[openapi(modifiers(…))]` through a
/// wrapper of yours that builds it).
#[derive(Debug, Clone)]
pub struct OpenApiSecurity {
    cookie: Option<String>,
    csrf_header: String,
}

impl OpenApiSecurity {
    /// The schemes of a configuration reading the access cookie `cookie` (if any) and
    /// taking the CSRF value in `csrf_header`.
    pub(crate) fn new(cookie: Option<String>, csrf_header: String) -> Self {
        OpenApiSecurity {
            cookie,
            csrf_header,
        }
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
                    name.clone(),
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

    /// What [`RequireScope<S>`](crate::RequireScope) asks: the scope of marker `S`, by
    /// any scheme.
    pub fn require<S: ScopeMarker>(&self) -> Vec<SecurityRequirement> {
        self.require_all::<S>()
    }

    /// What [`RequireAllScopes<L>`](crate::RequireAllScopes) asks: every scope of `L` in
    /// one token, by any scheme.
    pub fn require_all<L: ScopeList>(&self) -> Vec<SecurityRequirement> {
        self.names().map(|n| scope_requirement::<L>(n)).collect()
    }

    /// What [`RequireAnyScope<L>`](crate::RequireAnyScope) asks: one scope of `L`, by
    /// any scheme (one requirement per scope and scheme).
    pub fn require_any<L: ScopeList>(&self) -> Vec<SecurityRequirement> {
        self.names()
            .flat_map(|n| {
                L::SCOPES
                    .iter()
                    .map(move |s| SecurityRequirement::new(n, [*s]))
            })
            .collect()
    }

    /// Sets the security of operation `method path` of `openapi` to `requirements`;
    /// `false` when the document has no such operation.
    pub fn secure(
        &self,
        openapi: &mut OpenApi,
        method: HttpMethod,
        path: &str,
        requirements: Vec<SecurityRequirement>,
    ) -> bool {
        let Some(item) = openapi.paths.paths.get_mut(path) else {
            return false;
        };
        let op: &mut Option<Operation> = match method {
            HttpMethod::Get => &mut item.get,
            HttpMethod::Post => &mut item.post,
            HttpMethod::Put => &mut item.put,
            HttpMethod::Delete => &mut item.delete,
            HttpMethod::Options => &mut item.options,
            HttpMethod::Head => &mut item.head,
            HttpMethod::Patch => &mut item.patch,
            HttpMethod::Trace => &mut item.trace,
        };
        match op {
            Some(op) => {
                op.security = Some(requirements);
                true
            }
            None => false,
        }
    }
}

impl Modify for OpenApiSecurity {
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
