//! [`SecuritySchemes::secure`]: sets the security of one operation of a finished
//! document, and [`OpenApiError`] when the document has no such operation.

use utoipa::openapi::OpenApi;
use utoipa::openapi::path::HttpMethod;
use utoipa::openapi::security::SecurityRequirement;

use crate::http::openapi::schemes::SecuritySchemes;

/// Why a document could not be given its security requirements.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OpenApiError {
    /// A requirement names an operation the document does not have: the route was
    /// renamed, removed or given another method, and its documentation would have lost
    /// its requirement without a word.
    #[error("the OpenAPI document has no operation {method} {path}")]
    NoSuchOperation {
        /// The operation's method.
        method: http::Method,
        /// The operation's path, as written in the document.
        path: String,
    },
}

impl SecuritySchemes {
    /// Sets the security of operation `method path` of `openapi` to `requirements`;
    /// [`OpenApiError::NoSuchOperation`] when the document has no such operation.
    ///
    /// For documents built without utoipa-axum; with it, [`guard`](Self::guard) writes
    /// the requirement where the route is enforced, with no path to repeat.
    ///
    /// ```
    /// use axum_token_auth::{RequireScope, scope};
    /// use axum_token_auth::http::openapi::{OpenApiError, SecuritySchemes, BEARER_SCHEME};
    /// use utoipa::Modify as _;
    /// use utoipa::openapi::{OpenApiBuilder, PathItem, Paths, HttpMethod, path::OperationBuilder};
    ///
    /// scope!(pub UsersWrite = "users:write");
    ///
    /// let mut doc = OpenApiBuilder::new()
    ///     .paths(Paths::builder().path(
    ///         "/users",
    ///         PathItem::new(HttpMethod::Post, OperationBuilder::new().build()),
    ///     ))
    ///     .build();
    /// let schemes = SecuritySchemes::new();
    /// schemes.modify(&mut doc); // components.securitySchemes: bearer + access cookie
    /// schemes.secure(&mut doc, HttpMethod::Post, "/users", schemes.requirements::<RequireScope<UsersWrite>>())?;
    ///
    /// let json = serde_json::to_value(&doc).unwrap();
    /// assert_eq!(json["paths"]["/users"]["post"]["security"][0][BEARER_SCHEME][0], "users:write");
    ///
    /// // A requirement for an operation the document lacks is an error, not a no-op.
    /// let drift = schemes.secure(&mut doc, HttpMethod::Put, "/users", schemes.authenticated());
    /// assert_eq!(drift.unwrap_err().to_string(), "the OpenAPI document has no operation PUT /users");
    /// # Ok::<(), OpenApiError>(())
    /// ```
    pub fn secure(
        &self,
        openapi: &mut OpenApi,
        method: HttpMethod,
        path: &str,
        requirements: Vec<SecurityRequirement>,
    ) -> Result<(), OpenApiError> {
        let op = openapi
            .paths
            .paths
            .get_mut(path)
            .and_then(|item| slot(item, &method).as_mut());
        match op {
            Some(op) => {
                op.security = Some(requirements);
                Ok(())
            }
            None => Err(OpenApiError::NoSuchOperation {
                method: http_method(&method),
                path: path.to_owned(),
            }),
        }
    }
}

fn slot<'a>(
    item: &'a mut utoipa::openapi::PathItem,
    method: &HttpMethod,
) -> &'a mut Option<utoipa::openapi::path::Operation> {
    match method {
        HttpMethod::Get => &mut item.get,
        HttpMethod::Post => &mut item.post,
        HttpMethod::Put => &mut item.put,
        HttpMethod::Delete => &mut item.delete,
        HttpMethod::Options => &mut item.options,
        HttpMethod::Head => &mut item.head,
        HttpMethod::Patch => &mut item.patch,
        HttpMethod::Trace => &mut item.trace,
    }
}

fn http_method(method: &HttpMethod) -> http::Method {
    match method {
        HttpMethod::Get => http::Method::GET,
        HttpMethod::Post => http::Method::POST,
        HttpMethod::Put => http::Method::PUT,
        HttpMethod::Delete => http::Method::DELETE,
        HttpMethod::Options => http::Method::OPTIONS,
        HttpMethod::Head => http::Method::HEAD,
        HttpMethod::Patch => http::Method::PATCH,
        HttpMethod::Trace => http::Method::TRACE,
    }
}
