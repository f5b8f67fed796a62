//! OpenAPI (utoipa 5, feature `utoipa`): the security schemes of a configuration and the
//! security requirements of its scope guards, from the `scope!` markers themselves.
//!
//! ```
//! use axum_token_auth::http::openapi::SecuritySchemes;
//! use utoipa::OpenApi;
//!
//! // The schemes without a runtime authority: a `const` for `modifiers(&…)`.
//! const SCHEMES: SecuritySchemes = SecuritySchemes::new();
//! #[derive(OpenApi)]
//! #[openapi(modifiers(&SCHEMES))]
//! struct ApiDoc;
//!
//! let json = serde_json::to_value(ApiDoc::openapi()).unwrap();
//! assert_eq!(json["components"]["securitySchemes"]["access_cookie"]["name"], "__Host-access_token");
//! ```
//!
//! [`Web::openapi_security`](crate::http::Web::openapi_security) gives the same
//! [`SecuritySchemes`] from a live configuration (its cookie name, or none); documents
//! built without utoipa-axum set an operation's requirement with
//! [`SecuritySchemes::secure`], which fails with [`OpenApiError`] when the document has
//! no such operation.

mod operation;
mod schemes;

pub use operation::OpenApiError;
#[allow(deprecated)]
pub use schemes::OpenApiSecurity;
pub use schemes::{BEARER_SCHEME, COOKIE_SCHEME, SecuritySchemes, scope_requirement};
