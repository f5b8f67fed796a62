//! Axum extractors: [`Claims<T>`] (and `Option<Claims<T>>`), and the scope guards
//! [`RequireScope<S>`], [`RequireAllScopes<L>`], [`RequireAnyScope<L>`].
//!
//! ```
//! use axum::{Router, routing::{get, post}};
//! use axum_token_auth::{Claims, RequireScope, RequireAnyScope, TokenAuth, scope};
//!
//! scope! {
//!     pub UsersWrite = "users:write";
//!     pub Admin = "admin";
//! }
//!
//! async fn create_user(_: RequireScope<UsersWrite>, claims: Claims) -> String {
//!     format!("created by {}", claims.sub)
//! }
//! async fn dashboard(_: RequireAnyScope<(Admin, UsersWrite)>) -> &'static str { "ok" }
//!
//! let auth = TokenAuth::builder().hs256_secret("a-random-secret-of-at-least-32-bytes!!").build()?;
//! let app: Router = Router::new()
//!     .route("/users", post(create_user))
//!     .route("/dashboard", get(dashboard))
//!     .layer(auth.layer());
//! # Ok::<(), axum_token_auth::ConfigError>(())
//! ```

use std::any::Any;
use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;
use std::sync::Arc;

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::response::{IntoResponse, Response};
use http::request::Parts;

use crate::claims::{ClaimsView, NoCustomClaims, TokenClaims};
use crate::error::{AuthError, Rendering};
use crate::layer::{AuthContext, TokenSource};
use crate::scope::{ScopeList, ScopeMarker};

const NO_LAYER: &str = "an axum-token-auth extractor ran on a route without TokenAuthLayer in front of it: add `.layer(auth.layer())` (routes added after `.layer` are not covered)";
const WRONG_TYPE: &str = "Claims<T> was extracted with another claims type than the TokenAuthLayer<T> in front of the route decodes";

/// The rejection of the extractors: an [`AuthError`] rendered by the configured
/// [`ErrorRenderer`](crate::ErrorRenderer) (or the default one when no layer ran).
pub struct AuthRejection {
    error: AuthError,
    rendering: Option<Rendering>,
}

impl AuthRejection {
    /// Why the request was refused.
    pub fn error(&self) -> &AuthError {
        &self.error
    }

    fn new(error: AuthError, ctx: Option<&AuthContext>) -> Self {
        AuthRejection {
            error,
            rendering: ctx.map(|c| c.rendering.clone()),
        }
    }
}

impl fmt::Debug for AuthRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.error, f)
    }
}

impl fmt::Display for AuthRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)
    }
}

impl std::error::Error for AuthRejection {}

impl IntoResponse for AuthRejection {
    fn into_response(self) -> Response {
        if let AuthError::Misconfigured(m) = &self.error {
            tracing::error!(message = m, "axum-token-auth misconfigured");
        }
        self.rendering.unwrap_or_default().render(self.error)
    }
}

fn context(parts: &Parts) -> Result<&AuthContext, AuthRejection> {
    parts
        .extensions
        .get::<AuthContext>()
        .ok_or_else(|| AuthRejection::new(AuthError::Misconfigured(NO_LAYER), None))
}

/// The verified claims of the request's token, decoded once by the layer.
///
/// `T` is the application's own claims type and must be the layer's
/// ([`TokenAuthLayer<T>`](crate::TokenAuthLayer)); it defaults to [`NoCustomClaims`].
/// Dereferences to [`TokenClaims<T>`]. Use `Option<Claims<T>>` behind an optional layer.
pub struct Claims<T = NoCustomClaims>(pub Arc<TokenClaims<T>>);

impl<T> Clone for Claims<T> {
    fn clone(&self) -> Self {
        Claims(Arc::clone(&self.0))
    }
}

impl<T: fmt::Debug> fmt::Debug for Claims<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl<T> Deref for Claims<T> {
    type Target = TokenClaims<T>;
    fn deref(&self) -> &TokenClaims<T> {
        &self.0
    }
}

impl<T: Send + Sync + 'static> Claims<T> {
    fn from_context(ctx: &AuthContext) -> Result<Option<Self>, AuthRejection> {
        let Some(view) = &ctx.claims else {
            return Ok(None);
        };
        let any: Arc<dyn Any + Send + Sync> = Arc::clone(view) as Arc<dyn Any + Send + Sync>;
        match any.downcast::<TokenClaims<T>>() {
            Ok(c) => Ok(Some(Claims(c))),
            Err(_) => Err(AuthRejection::new(
                AuthError::Misconfigured(WRONG_TYPE),
                Some(ctx),
            )),
        }
    }
}

impl<T, S> FromRequestParts<S> for Claims<T>
where
    T: Send + Sync + 'static,
    S: Send + Sync,
{
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let ctx = context(parts)?;
        Claims::from_context(ctx)?
            .ok_or_else(|| AuthRejection::new(AuthError::MissingCredentials, Some(ctx)))
    }
}

impl<T, S> OptionalFromRequestParts<S> for Claims<T>
where
    T: Send + Sync + 'static,
    S: Send + Sync,
{
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Option<Self>, Self::Rejection> {
        Claims::from_context(context(parts)?)
    }
}

/// Where the request's token came from (`Header` or `Cookie`); useful for CSRF decisions.
impl<S: Send + Sync> FromRequestParts<S> for TokenSource {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let ctx = context(parts)?;
        ctx.source
            .ok_or_else(|| AuthRejection::new(AuthError::MissingCredentials, Some(ctx)))
    }
}

/// Checks the request's scopes with `check`; 401 without claims, 403 when refused.
fn guard(
    parts: &Parts,
    required: &'static [&'static str],
    check: impl FnOnce(&dyn ClaimsView) -> bool,
) -> Result<(), AuthRejection> {
    let ctx = context(parts)?;
    let Some(claims) = &ctx.claims else {
        return Err(AuthRejection::new(AuthError::MissingCredentials, Some(ctx)));
    };
    if check(claims.as_ref()) {
        return Ok(());
    }
    tracing::debug!(required = ?required, "insufficient scope");
    Err(AuthRejection::new(
        AuthError::InsufficientScope {
            required: required.join(" ").into(),
        },
        Some(ctx),
    ))
}

/// Requires the scope `S` (a marker declared with [`scope!`](crate::scope!)):
/// 403 `insufficient_scope` naming it otherwise.
pub struct RequireScope<S>(PhantomData<fn() -> S>);

/// Requires every scope of `L` (a marker or a tuple of markers).
pub struct RequireAllScopes<L>(PhantomData<fn() -> L>);

/// Requires at least one scope of `L` (a marker or a tuple of markers).
pub struct RequireAnyScope<L>(PhantomData<fn() -> L>);

macro_rules! debug_marker {
    ($($t:ident),*) => {$(
        impl<L> fmt::Debug for $t<L> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(stringify!($t))
            }
        }
    )*};
}
debug_marker!(RequireScope, RequireAllScopes, RequireAnyScope);

impl<M: ScopeMarker, S: Send + Sync> FromRequestParts<S> for RequireScope<M> {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        guard(parts, <M as ScopeList>::SCOPES, |c| {
            c.scopes().has(M::SCOPE)
        })?;
        Ok(RequireScope(PhantomData))
    }
}

impl<L: ScopeList, S: Send + Sync> FromRequestParts<S> for RequireAllScopes<L> {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        guard(parts, L::SCOPES, |c| c.scopes().has_all(L::SCOPES))?;
        Ok(RequireAllScopes(PhantomData))
    }
}

impl<L: ScopeList, S: Send + Sync> FromRequestParts<S> for RequireAnyScope<L> {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        guard(parts, L::SCOPES, |c| c.scopes().has_any(L::SCOPES))?;
        Ok(RequireAnyScope(PhantomData))
    }
}
