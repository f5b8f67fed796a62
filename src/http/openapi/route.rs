//! [`RouteSecurity`]: what the crate's extractors ask of a request, as OpenAPI security
//! requirements, and [`SecuritySchemes::guard`], which enforces one on a route and
//! documents it there.

use std::convert::Infallible;

use axum::extract::FromRequestParts;
use axum::routing::MethodRouter;
use utoipa::openapi::RefOr;
use utoipa::openapi::path::{PathItem, Paths};
use utoipa::openapi::schema::Schema;
use utoipa::openapi::security::SecurityRequirement;

use crate::http::extract::{Claims, RequireAllScopes, RequireAnyScope, RequireScope};
use crate::http::openapi::schemes::SecuritySchemes;
use crate::token::scope::{ScopeList, ScopeMarker};

/// An extractor whose check is a security requirement: implemented by the crate's own
/// guards, so the marker type a route is guarded with is also what its documentation
/// says. Any one of the returned requirements is enough (OpenAPI's `security` list).
///
/// | extractor | requirement |
/// | --- | --- |
/// | [`Claims<T>`] | any valid token ([`SecuritySchemes::authenticated`]) |
/// | `Option<Claims<T>>` | none or any valid token (adds `{}`) |
/// | [`RequireScope<S>`] | the scope of `S` ([`SecuritySchemes::require`]) |
/// | [`RequireAllScopes<L>`] | every scope of `L` ([`SecuritySchemes::require_all`]) |
/// | [`RequireAnyScope<L>`] | one scope of `L` ([`SecuritySchemes::require_any`]) |
///
/// ```
/// use axum_token_auth::{RequireScope, scope, http::openapi::{RouteSecurity, SecuritySchemes}};
///
/// scope!(pub UsersWrite = "users:write");
/// let reqs = RequireScope::<UsersWrite>::requirements(&SecuritySchemes::new().without_access_cookie());
/// assert_eq!(serde_json::to_value(reqs).unwrap(), serde_json::json!([{ "bearer": ["users:write"] }]));
/// ```
pub trait RouteSecurity {
    /// The requirements under `schemes`, any one of which lets a request through.
    fn requirements(schemes: &SecuritySchemes) -> Vec<SecurityRequirement>;
}

impl<S: ScopeMarker> RouteSecurity for RequireScope<S> {
    fn requirements(schemes: &SecuritySchemes) -> Vec<SecurityRequirement> {
        schemes.require::<S>()
    }
}

impl<L: ScopeList> RouteSecurity for RequireAllScopes<L> {
    fn requirements(schemes: &SecuritySchemes) -> Vec<SecurityRequirement> {
        schemes.require_all::<L>()
    }
}

impl<L: ScopeList> RouteSecurity for RequireAnyScope<L> {
    fn requirements(schemes: &SecuritySchemes) -> Vec<SecurityRequirement> {
        schemes.require_any::<L>()
    }
}

impl<T> RouteSecurity for Claims<T> {
    fn requirements(schemes: &SecuritySchemes) -> Vec<SecurityRequirement> {
        schemes.authenticated()
    }
}

impl<T> RouteSecurity for Option<Claims<T>> {
    fn requirements(schemes: &SecuritySchemes) -> Vec<SecurityRequirement> {
        let mut reqs = schemes.authenticated();
        reqs.push(SecurityRequirement::default());
        reqs
    }
}

/// Documented routes as utoipa-axum's `routes!` makes them (its `UtoipaMethodRouter`):
/// the schemas the handlers use, their operations, and the axum method router.
pub type DocumentedRoutes<S = ()> = (Vec<(String, RefOr<Schema>)>, Paths, MethodRouter<S>);

impl SecuritySchemes {
    /// The requirements of the extractor `E` under these schemes
    /// ([`RouteSecurity::requirements`]), for [`secure`](Self::secure).
    pub fn requirements<E: RouteSecurity>(&self) -> Vec<SecurityRequirement> {
        E::requirements(self)
    }

    /// Guards `routes` (utoipa-axum's `routes!(…)`) with the extractor `E` and documents
    /// it: `E` runs before each handler as a route layer (its refusal is the response,
    /// as if the handler took `E`), and every operation of `routes` gets `E`'s
    /// requirements as its `security`. The requirement is written once, where it is
    /// enforced; the handlers need not take `E` themselves.
    ///
    /// The routes must sit behind [`TokenAuthLayer`](crate::http::TokenAuthLayer) (a
    /// route without it answers 500, as every extractor of the crate does).
    ///
    /// ```
    /// use axum_token_auth::{Claims, RequireScope, TokenAuth, scope};
    /// use axum_token_auth::http::openapi::SecuritySchemes;
    /// use utoipa_axum::{router::OpenApiRouter, routes};
    ///
    /// scope!(pub UsersWrite = "users:write");
    ///
    /// #[utoipa::path(post, path = "/users", responses((status = 201)))]
    /// async fn create_user(claims: Claims) -> String { format!("created by {}", claims.sub) }
    ///
    /// let auth = TokenAuth::builder().hs256_secret("a-random-secret-of-at-least-32-bytes!!").build()?;
    /// let schemes = auth.web().openapi_security();
    /// let (app, api) = OpenApiRouter::new()
    ///     .routes(schemes.guard::<RequireScope<UsersWrite>, _>(routes!(create_user)))
    ///     .split_for_parts();
    /// let app: axum::Router = app.layer(auth.layer());
    ///
    /// let json = serde_json::to_value(&api).unwrap();
    /// assert_eq!(json["paths"]["/users"]["post"]["security"][0]["bearer"][0], "users:write");
    /// # Ok::<(), axum_token_auth::ConfigError>(())
    /// ```
    pub fn guard<E, S>(&self, routes: DocumentedRoutes<S>) -> DocumentedRoutes<S>
    where
        E: RouteSecurity + FromRequestParts<()> + Send + 'static,
        S: Clone + Send + Sync + 'static,
    {
        let (schemas, mut paths, router) = routes;
        let requirements = E::requirements(self);
        for item in paths.paths.values_mut() {
            for op in operations(item).into_iter().flatten() {
                op.security = Some(requirements.clone());
            }
        }
        let router: MethodRouter<S, Infallible> =
            router.route_layer(axum::middleware::from_extractor::<E>());
        (schemas, paths, router)
    }
}

/// The operations of a path item, by method slot.
pub(crate) fn operations(
    item: &mut PathItem,
) -> [&mut Option<utoipa::openapi::path::Operation>; 8] {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.options,
        &mut item.head,
        &mut item.patch,
        &mut item.trace,
    ]
}
