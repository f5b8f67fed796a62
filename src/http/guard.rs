//! [`ScopeGuardLayer`]: guards a whole (sub-)router by scope, behind
//! [`TokenAuthLayer`](crate::TokenAuthLayer).
//!
//! (Documented with examples in the [`http`](crate::http) module docs.)

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use crate::http::grpc;
use crate::http::layer::{AuthContext, refusal};
use crate::http::rfc6750::{AuthError, RefusalBody, Rendering};
use crate::token::scope::{Scope, ScopeError, ScopeList};
use crate::trust::verify::OriginFilter;

/// Refuses requests whose token lacks the required scopes: 403 `insufficient_scope`
/// (401 without a token, 500 without a [`TokenAuthLayer`](crate::TokenAuthLayer) in front).
#[derive(Clone)]
#[must_use]
pub struct ScopeGuardLayer {
    required: Arc<[Scope]>,
    any: bool,
    challenge: Arc<str>,
    origins: Arc<OriginFilter>,
}

impl fmt::Debug for ScopeGuardLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopeGuardLayer")
            .field("required", &self.required)
            .field("any", &self.any)
            .field("origins", &self.origins)
            .finish()
    }
}

impl ScopeGuardLayer {
    fn new<I, S>(scopes: I, any: bool) -> Result<Self, ScopeError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let required: Vec<Scope> = scopes
            .into_iter()
            .map(|s| Scope::new(s.as_ref()))
            .collect::<Result<_, _>>()?;
        if required.is_empty() {
            return Err(ScopeError::Empty);
        }
        let challenge = required
            .iter()
            .map(Scope::as_str)
            .collect::<Vec<_>>()
            .join(" ");
        Ok(ScopeGuardLayer {
            required: required.into(),
            any,
            challenge: challenge.into(),
            origins: Arc::new(OriginFilter::ANY),
        })
    }

    /// Also requires the token to be one of this service's own (see
    /// [`TokenAuthLayer::own_tokens_only`](crate::TokenAuthLayer::own_tokens_only)): any
    /// other is refused with 401 `invalid_token`. Combines with
    /// [`issuers`](Self::issuers) into one allow-list.
    ///
    /// ```
    /// use axum::{Router, routing::get};
    /// use axum_token_auth::{ScopeGuardLayer, TokenAuth};
    ///
    /// # let auth = TokenAuth::builder().hs256_secret("a-random-secret-of-at-least-32-bytes!!").build()?;
    /// let admin: Router = Router::new()
    ///     .route("/admin", get(|| async { "ok" }))
    ///     .route_layer(ScopeGuardLayer::all(["admin"])?.own_tokens_only())
    ///     .route_layer(auth.layer());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn own_tokens_only(mut self) -> Self {
        self.origins = OriginFilter::add_own(&self.origins);
        self
    }

    /// Also requires the token to come from one of these trusted issuers (see
    /// [`TokenAuthLayer::issuers`](crate::TokenAuthLayer::issuers)).
    ///
    /// ```
    /// use axum_token_auth::ScopeGuardLayer;
    ///
    /// let jobs = ScopeGuardLayer::all(["jobs:run"])?.issuers(["https://idp.example.com"]);
    /// # let _ = jobs;
    /// # Ok::<(), axum_token_auth::token::ScopeError>(())
    /// ```
    pub fn issuers<I, S>(mut self, issuers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.origins = OriginFilter::add_issuers(&self.origins, issuers);
        self
    }

    /// Requires every one of `scopes` (checked against the grammar; at least one).
    pub fn all<I, S>(scopes: I) -> Result<Self, ScopeError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Self::new(scopes, false)
    }

    /// Requires at least one of `scopes` (checked against the grammar; at least one).
    pub fn any<I, S>(scopes: I) -> Result<Self, ScopeError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Self::new(scopes, true)
    }

    /// Requires every scope of the marker list `L` (checked at compile time).
    pub fn all_of<L: ScopeList>() -> Self {
        Self::new(L::SCOPES, false).expect("scope markers are checked at compile time")
    }

    /// Requires at least one scope of the marker list `L`.
    pub fn any_of<L: ScopeList>() -> Self {
        Self::new(L::SCOPES, true).expect("scope markers are checked at compile time")
    }

    fn check<B, ResBody: RefusalBody>(
        &self,
        req: &Request<B>,
    ) -> Result<(), Box<Response<ResBody>>> {
        let Some(ctx) = req.extensions().get::<AuthContext>() else {
            return Err(Box::new(no_layer(
                req,
                "ScopeGuardLayer needs a TokenAuthLayer in front of it",
            )));
        };
        let Some(claims) = &ctx.claims else {
            return Err(Box::new(refusal(
                &ctx.rendering,
                ctx.grpc,
                AuthError::MissingCredentials,
            )));
        };
        if !self.origins.admits_origin(claims.origin()) {
            return Err(Box::new(refusal(
                &ctx.rendering,
                ctx.grpc,
                AuthError::InvalidToken(crate::token::InvalidToken::WrongIssuer),
            )));
        }
        let granted = claims.scopes();
        let mut required = self.required.iter().map(Scope::as_str);
        let ok = if self.any {
            required.any(|r| granted.has(r))
        } else {
            required.all(|r| granted.has(r))
        };
        if ok {
            Ok(())
        } else {
            Err(Box::new(refusal(
                &ctx.rendering,
                ctx.grpc,
                AuthError::InsufficientScope {
                    required: self.challenge.to_string().into(),
                },
            )))
        }
    }
}

/// The refusal of a guard layer with no [`TokenAuthLayer`](crate::TokenAuthLayer) in
/// front of it: 500, rendered by default (or as a gRPC status).
pub(crate) fn no_layer<B, ResBody: RefusalBody>(
    req: &Request<B>,
    detail: &'static str,
) -> Response<ResBody> {
    let error = AuthError::Misconfigured(detail);
    if grpc::is_grpc(req.headers()) {
        grpc::refusal(error, crate::http::rfc6750::DEFAULT_REALM)
    } else {
        Rendering::render_fallback(error).map(ResBody::from_refusal)
    }
}

impl<S> Layer<S> for ScopeGuardLayer {
    type Service = ScopeGuard<S>;
    fn layer(&self, inner: S) -> Self::Service {
        ScopeGuard {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service made by [`ScopeGuardLayer`].
#[derive(Clone, Debug)]
pub struct ScopeGuard<S> {
    inner: S,
    layer: ScopeGuardLayer,
}

impl<S, B, ResBody> Service<Request<B>> for ScopeGuard<S>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
    ResBody: RefusalBody,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = GuardFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        match self.layer.check(&req) {
            Ok(()) => GuardFuture::inner(self.inner.call(req)),
            Err(response) => GuardFuture::refused(Ok(*response)),
        }
    }
}

impl<F: Future> GuardFuture<F> {
    /// The guard let the request through: the inner service's future.
    pub(crate) fn inner(future: F) -> Self {
        GuardFuture {
            state: GuardState::Inner { future },
        }
    }

    /// The guard refused the request: its refusal, as the inner service's output.
    pub(crate) fn refused(response: F::Output) -> Self {
        GuardFuture {
            state: GuardState::Refused {
                response: Some(response),
            },
        }
    }
}

pin_project! {
    /// The response future of [`ScopeGuard`].
    pub struct GuardFuture<F: Future> {
        #[pin]
        state: GuardState<F>,
    }
}

pin_project! {
    #[project = GuardProj]
    enum GuardState<F: Future> {
        Inner { #[pin] future: F },
        // The refusal, as the inner service's output (`Ok(response)`).
        Refused { response: Option<F::Output> },
    }
}

impl<F: Future> Future for GuardFuture<F> {
    type Output = F::Output;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            GuardProj::Inner { future } => future.poll(cx),
            GuardProj::Refused { response } => Poll::Ready(
                response
                    .take()
                    .expect("GuardFuture polled after completion"),
            ),
        }
    }
}
