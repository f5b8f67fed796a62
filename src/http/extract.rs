//! Axum extractors: [`Claims<T>`] (and `Option<Claims<T>>`), and the scope guards
//! [`RequireScope<S>`], [`RequireAllScopes<L>`], [`RequireAnyScope<L>`].
//!
//! (Documented with examples in the [`http`](crate::http) module docs.)

use std::any::Any;
use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::response::{IntoResponse, Response};
use http::Extensions;
use http::request::Parts;

use serde::de::DeserializeOwned;

use crate::http::layer::{AuthContext, TokenSource};
use crate::http::rfc6750::{AuthError, Rendering};
use crate::token::claims::{ClaimsView, NoCustomClaims, TokenClaims};
use crate::token::confirmation::Binding;
use crate::token::error::InvalidToken;
use crate::token::scope::{ScopeList, ScopeMarker};

const NO_LAYER: &str = "an axum-token-auth extractor ran on a route without TokenAuthLayer in front of it: add `.layer(auth.layer())` (routes added after `.layer` are not covered)";

/// The rejection of the extractors: an [`AuthError`] rendered by the configured
/// [`ErrorRenderer`](crate::http::ErrorRenderer) (or the default one when no layer ran).
pub struct AuthRejection {
    error: AuthError,
    rendering: Option<Rendering>,
}

impl AuthRejection {
    /// Why the request was refused.
    pub fn error(&self) -> &AuthError {
        &self.error
    }

    pub(crate) fn new(error: AuthError, ctx: Option<&AuthContext>) -> Self {
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
        match self.rendering {
            Some(r) => r.render(self.error),
            None => Rendering::render_fallback(self.error),
        }
    }
}

pub(crate) fn context(parts: &Parts) -> Result<&AuthContext, AuthRejection> {
    context_in(&parts.extensions)
}

fn context_in(extensions: &Extensions) -> Result<&AuthContext, AuthRejection> {
    extensions
        .get::<AuthContext>()
        .ok_or_else(|| AuthRejection::new(AuthError::Misconfigured(NO_LAYER), None))
}

/// The verified claims of the request's token, as the handler's own claims type `T`.
///
/// The layer verifies each token once; `Claims<T>` works for **any** `T:
/// DeserializeOwned` in any handler behind any [`TokenAuthLayer`](crate::TokenAuthLayer),
/// whatever type the layer itself decodes: the layer's type is handed over as is, any
/// other is decoded from the verified claims at most once per request and type. A token
/// whose claims do not fit `T` is refused with 401 `invalid_token`. A handler that needs
/// only the registered claims (`sub`, scopes, tenant…) takes `Claims` ([`NoCustomClaims`]).
/// Dereferences to [`TokenClaims<T>`]. Use `Option<Claims<T>>` behind an optional layer.
///
/// ```
/// use axum::{Router, routing::get};
/// use axum_token_auth::{Claims, TokenAuth};
/// use serde::Deserialize;
///
/// #[derive(Deserialize)]
/// struct Org { org: String }
///
/// async fn who(c: Claims) -> String { c.sub.clone() }             // registered claims only
/// async fn org(c: Claims<Org>) -> String { c.custom.org.clone() } // the app's own claims
///
/// let auth = TokenAuth::builder().hs256_secret("a-random-secret-of-at-least-32-bytes!!").build()?;
/// let app: Router = Router::new()
///     .route("/who", get(who))
///     .route("/org", get(org))
///     .layer(auth.layer()); // one layer, two claims types
/// # Ok::<(), axum_token_auth::ConfigError>(())
/// ```
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

/// `Claims<T>` decoded once for this request (kept in its extensions).
struct Decoded<T>(Arc<TokenClaims<T>>);

impl<T> Clone for Decoded<T> {
    fn clone(&self) -> Self {
        Decoded(Arc::clone(&self.0))
    }
}

impl<T> Claims<T> {
    /// The time left until the token expires (zero once it has) at `now` (seconds since
    /// the epoch, from [`TokenAuth::now`](crate::TokenAuth::now), so a test clock is
    /// obeyed): when a long-lived connection authenticated by it (a WebSocket, a gRPC
    /// stream) should end. The layer checked the token when the connection opened;
    /// nothing checks it again while the connection lasts.
    ///
    /// ```
    /// use axum::extract::State;
    /// use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
    /// use axum::response::Response;
    /// use axum_token_auth::{Claims, TokenAuth};
    ///
    /// async fn socket(ws: WebSocketUpgrade, State(auth): State<TokenAuth>, claims: Claims) -> Response {
    ///     let deadline = tokio::time::Instant::now() + claims.expires_in(auth.now());
    ///     ws.on_upgrade(move |mut socket: WebSocket| async move {
    ///         loop {
    ///             tokio::select! {
    ///                 // The token has expired: close; the client reconnects with a new one.
    ///                 _ = tokio::time::sleep_until(deadline) => break,
    ///                 msg = socket.recv() => match msg {
    ///                     Some(Ok(msg)) => { let _ = socket.send(msg).await; }
    ///                     _ => return,
    ///                 },
    ///             }
    ///         }
    ///         let _ = socket.send(Message::Close(None)).await;
    ///     })
    /// }
    /// ```
    pub fn expires_in(&self, now: u64) -> Duration {
        Duration::from_secs(self.exp.saturating_sub(now))
    }
}

impl<T: DeserializeOwned + Send + Sync + 'static> Claims<T> {
    /// The verified claims in request extensions the layer has seen, for services that
    /// are no axum handlers: a tonic method reads them from `request.extensions()`.
    ///
    /// `Ok(None)` when the request carries no (valid) token (optional modes);
    /// `Err(AuthError::Misconfigured)` when no [`TokenAuthLayer`](crate::TokenAuthLayer)
    /// ran; `Err(AuthError::InvalidToken)` when the claims do not fit `T`. With the
    /// `tonic` feature, `AuthError` converts into a `tonic::Status`.
    ///
    /// ```
    /// use axum_token_auth::{AuthError, Claims};
    ///
    /// fn subject(extensions: &http::Extensions) -> Result<String, AuthError> {
    ///     let claims = Claims::<axum_token_auth::NoCustomClaims>::from_extensions(extensions)?
    ///         .ok_or(AuthError::MissingCredentials)?;
    ///     Ok(claims.sub.clone())
    /// }
    /// # assert!(matches!(subject(&http::Extensions::new()), Err(AuthError::Misconfigured(_))));
    /// ```
    pub fn from_extensions(extensions: &Extensions) -> Result<Option<Self>, AuthError> {
        Self::decode(extensions)
            .map(|c| c.map(|(c, _)| c))
            .map_err(|r| r.error)
    }

    fn from_parts(parts: &mut Parts) -> Result<Option<Self>, AuthRejection> {
        let decoded = Self::decode(&parts.extensions)?;
        Ok(decoded.map(|(claims, fresh)| {
            if fresh {
                parts.extensions.insert(Decoded(Arc::clone(&claims.0)));
            }
            claims
        }))
    }

    /// The claims as `T`, and whether they were decoded now (to remember them).
    fn decode(extensions: &Extensions) -> Result<Option<(Self, bool)>, AuthRejection> {
        let ctx = context_in(extensions)?;
        let Some(view) = &ctx.claims else {
            return Ok(None);
        };
        // The layer's own claims type: handed over without decoding.
        let any: Arc<dyn Any + Send + Sync> = Arc::clone(view) as Arc<dyn Any + Send + Sync>;
        if let Ok(c) = any.downcast::<TokenClaims<T>>() {
            return Ok(Some((Claims(c), false)));
        }
        if let Some(d) = extensions.get::<Decoded<T>>() {
            return Ok(Some((Claims(Arc::clone(&d.0)), false)));
        }
        let kind = view.kind();
        let decoded = ctx
            .payload
            .as_deref()
            .and_then(|p| serde_json::from_slice::<TokenClaims<T>>(p).ok());
        let Some(mut claims) = decoded else {
            tracing::debug!(
                claims_type = std::any::type_name::<T>(),
                "the token's claims do not fit the handler's claims type"
            );
            return Err(AuthRejection::new(
                AuthError::InvalidToken(InvalidToken::InvalidClaims),
                Some(ctx),
            ));
        };
        claims.kind = kind;
        claims.origin = view.origin().clone();
        Ok(Some((Claims(Arc::new(claims)), true)))
    }
}

impl<T, S> FromRequestParts<S> for Claims<T>
where
    T: DeserializeOwned + Send + Sync + 'static,
    S: Send + Sync,
{
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        match Claims::from_parts(parts)? {
            Some(c) => Ok(c),
            None => Err(AuthRejection::new(
                AuthError::MissingCredentials,
                Some(context(parts)?),
            )),
        }
    }
}

impl<T, S> OptionalFromRequestParts<S> for Claims<T>
where
    T: DeserializeOwned + Send + Sync + 'static,
    S: Send + Sync,
{
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Option<Self>, Self::Rejection> {
        Claims::from_parts(parts)
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

/// How the request proved its token: [`Binding::Bearer`] for a bearer token, the DPoP
/// key's or the client certificate's thumbprint for a sender-constrained one (401
/// without a token).
///
/// ```
/// use axum_token_auth::{Claims, token::Binding};
///
/// async fn transfer(claims: Claims, binding: Binding) -> String {
///     match binding {
///         Binding::Dpop { jkt } => format!("{} with key {jkt}", claims.sub),
///         _ => claims.sub.clone(),
///     }
/// }
/// ```
impl<S: Send + Sync> FromRequestParts<S> for Binding {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let ctx = context(parts)?;
        if ctx.claims.is_none() {
            return Err(AuthRejection::new(AuthError::MissingCredentials, Some(ctx)));
        }
        Ok(ctx
            .bound
            .as_ref()
            .map_or(Binding::Bearer, |b| b.binding.clone()))
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
///
/// ```
/// use axum::{Router, body::Body, routing::post};
/// use axum_token_auth::{RequireScope, TokenAuth, TokenRequest, scope};
/// use http::{Request, StatusCode};
/// use tower::ServiceExt;
///
/// scope!(pub OrdersWrite = "orders:write");
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let auth = TokenAuth::builder()
///     .hs256_secret("a-random-secret-of-at-least-32-bytes!!")
///     .build()?;
/// let app = Router::new()
///     .route("/orders", post(|_: RequireScope<OrdersWrite>| async { "created" }))
///     .layer(auth.layer());
///
/// let reader = auth.issue_access(&TokenRequest::new("alice").scopes(["orders:read"]))?;
/// let req = Request::post("/orders")
///     .header("authorization", format!("Bearer {}", reader.as_str()))
///     .body(Body::empty())?;
/// let res = app.oneshot(req).await?;
/// assert_eq!(res.status(), StatusCode::FORBIDDEN);
/// assert_eq!(
///     res.headers()["www-authenticate"],
///     r#"Bearer realm="api", error="insufficient_scope", error_description="the token does not grant the required scope", scope="orders:write""#
/// );
/// # Ok(()) }
/// ```
pub struct RequireScope<S>(PhantomData<fn() -> S>);

/// Requires every scope of `L` (a marker or a tuple of markers).
pub struct RequireAllScopes<L>(PhantomData<fn() -> L>);

/// Requires at least one scope of `L` (a marker or a tuple of markers).
///
/// Its 403 challenge lists **every** scope of `L` in `scope=` (e.g. `scope="docs:read
/// docs:admin"`), although one suffices: RFC 6750 §3 reads the attribute as the scopes a
/// token needs, and a client asking for all of them gets a token that passes; naming
/// only one would hide the alternatives. See [`AuthError::InsufficientScope`].
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

/// Loads the application's user for verified claims: the hook behind [`CurrentUser`].
/// Implement it on something in the router state.
///
/// ```
/// use axum::{Router, extract::FromRef, routing::get};
/// use axum_token_auth::{TokenAuth, async_trait, http::{CurrentUser, UserLoader}, token::ClaimsView};
///
/// #[derive(Clone)]
/// struct User { name: String }
///
/// #[derive(Clone)]
/// struct Users; // a database pool in real life
///
/// #[async_trait]
/// impl UserLoader for Users {
///     type User = User;
///     async fn load(&self, claims: &dyn ClaimsView) -> Result<Option<User>, axum_token_auth::store::StoreError> {
///         Ok(Some(User { name: claims.subject().to_owned() }))
///     }
/// }
///
/// #[derive(Clone, FromRef)]
/// struct AppState { users: Users }
///
/// async fn me(CurrentUser(user): CurrentUser<Users>) -> String { user.name }
///
/// let auth = TokenAuth::builder().hs256_secret("a-random-secret-of-at-least-32-bytes!!").build()?;
/// let app: Router = Router::new()
///     .route("/me", get(me))
///     .layer(auth.layer())
///     .with_state(AppState { users: Users });
/// # Ok::<(), axum_token_auth::ConfigError>(())
/// ```
#[async_trait::async_trait]
pub trait UserLoader: Send + Sync + 'static {
    /// The application's user.
    type User: Clone + Send + Sync + 'static;

    /// The user the verified claims speak for; `Ok(None)` when there is none (deleted,
    /// disabled): the request is refused with 401 `invalid_token`. An error is a store
    /// outage (503).
    async fn load(
        &self,
        claims: &dyn ClaimsView,
    ) -> Result<Option<Self::User>, crate::store::StoreError>;
}

/// The user of the request's token, loaded by the [`UserLoader`] `L` from the router
/// state (`L: FromRef<S>`) at most once per request.
pub struct CurrentUser<L: UserLoader>(pub L::User);

impl<L: UserLoader> Clone for CurrentUser<L> {
    fn clone(&self) -> Self {
        CurrentUser(self.0.clone())
    }
}

impl<L: UserLoader> fmt::Debug for CurrentUser<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CurrentUser")
    }
}

/// A user loaded for this request (kept in its extensions).
struct LoadedUser<U>(U);

impl<U: Clone> Clone for LoadedUser<U> {
    fn clone(&self) -> Self {
        LoadedUser(self.0.clone())
    }
}

impl<L, S> FromRequestParts<S> for CurrentUser<L>
where
    L: UserLoader + axum::extract::FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(u) = parts.extensions.get::<LoadedUser<L::User>>() {
            return Ok(CurrentUser(u.0.clone()));
        }
        let ctx = context(parts)?;
        let Some(claims) = ctx.claims.clone() else {
            return Err(AuthRejection::new(AuthError::MissingCredentials, Some(ctx)));
        };
        let rendering = ctx.rendering.clone();
        let refuse = |e| AuthRejection {
            error: e,
            rendering: Some(rendering.clone()),
        };
        let user = match L::from_ref(state).load(claims.as_ref()).await {
            Ok(Some(u)) => u,
            Ok(None) => {
                return Err(refuse(AuthError::InvalidToken(
                    InvalidToken::UnknownSubject,
                )));
            }
            Err(e) => {
                tracing::warn!(error = %e, "user loader failed");
                return Err(refuse(AuthError::StoreUnavailable));
            }
        };
        parts.extensions.insert(LoadedUser(user.clone()));
        Ok(CurrentUser(user))
    }
}
