//! OpenAPI (utoipa 5, feature `utoipa`): the security schemes of a configuration, and
//! each route's security requirement from the guard that enforces it.
//!
//! A route is guarded with one of the crate's extractors, named by type
//! ([`RequireScope<S>`](crate::http::RequireScope), [`Claims`](crate::http::Claims), …);
//! [`SecuritySchemes::guard`] runs it in front of utoipa-axum's `routes!(…)` and writes
//! its requirement into the same routes' operations. What is enforced and what is
//! documented are one line, so they cannot drift apart.
//!
//! ```
//! use axum_token_auth::{Claims, RequireAnyScope, RequireScope, TokenAuth, scope};
//! use axum_token_auth::http::openapi::SecuritySchemes;
//! use utoipa::OpenApi;
//! use utoipa_axum::{router::OpenApiRouter, routes};
//!
//! scope! { pub UsersWrite = "users:write"; pub Admin = "admin"; }
//!
//! #[utoipa::path(get, path = "/me", responses((status = 200)))]
//! async fn me(claims: Claims) -> String { claims.sub.clone() }
//! #[utoipa::path(post, path = "/users", responses((status = 201)))]
//! async fn create_user() -> &'static str { "created" }
//! #[utoipa::path(get, path = "/health", responses((status = 200)))]
//! async fn health() -> &'static str { "ok" }
//!
//! // The schemes without a runtime authority: a `const` for `modifiers(&…)`.
//! const SCHEMES: SecuritySchemes = SecuritySchemes::new();
//! #[derive(OpenApi)]
//! #[openapi(modifiers(&SCHEMES))]
//! struct ApiDoc;
//!
//! let auth = TokenAuth::builder().hs256_secret("a-random-secret-of-at-least-32-bytes!!").build()?;
//! let (app, api) = OpenApiRouter::with_openapi(ApiDoc::openapi())
//!     .routes(SCHEMES.guard::<Claims, _>(routes!(me)))
//!     .routes(SCHEMES.guard::<RequireScope<UsersWrite>, _>(routes!(create_user)))
//!     .routes(routes!(health)) // public: no requirement
//!     .split_for_parts();
//! let app: axum::Router = app.layer(auth.layer().optional());
//!
//! let json = serde_json::to_value(&api).unwrap();
//! assert_eq!(json["components"]["securitySchemes"]["access_cookie"]["name"], "__Host-access_token");
//! assert_eq!(json["paths"]["/me"]["get"]["security"], serde_json::json!([{"bearer": []}, {"access_cookie": []}]));
//! assert_eq!(json["paths"]["/users"]["post"]["security"][0]["bearer"][0], "users:write");
//! assert!(json["paths"]["/health"]["get"].get("security").is_none());
//! # Ok::<(), axum_token_auth::ConfigError>(())
//! ```
//!
//! [`Web::openapi_security`](crate::http::Web::openapi_security) gives the same
//! [`SecuritySchemes`] from a live configuration (its cookie name, or none); documents
//! built without utoipa-axum set an operation's requirement with
//! [`SecuritySchemes::secure`], which fails with [`OpenApiError`] when the document has
//! no such operation.
//!
//! **Why a route-level guard, not the handler's arguments.** Reading the requirement from
//! a handler's signature (as aide does with its `OperationInput` trait over every
//! argument) needs each argument type to implement a trait of this crate: Rust has no
//! specialization to skip the others, and `Json<T>`, `State<S>` or a third crate's
//! extractor are foreign types this crate cannot cover. A guard named by type on the
//! route needs nothing from the other arguments and enforces what it documents. A
//! handler may still take the same extractor for its value (`Claims` for the subject):
//! the check then runs twice, and the claims are decoded once.

mod operation;
mod route;
mod schemes;

pub use operation::OpenApiError;
pub use route::{DocumentedRoutes, RouteSecurity};
#[allow(deprecated)]
pub use schemes::OpenApiSecurity;
pub use schemes::{BEARER_SCHEME, COOKIE_SCHEME, SecuritySchemes, scope_requirement};
