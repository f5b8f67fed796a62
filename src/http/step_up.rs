//! Step-up guards (RFC 9470): [`StepUpLayer`] for a whole (sub-)router, configured at
//! run time, and the extractor [`RequireStepUp<P>`] for a policy declared with
//! [`step_up!`](crate::step_up!). Both behind [`TokenAuthLayer`](crate::TokenAuthLayer),
//! both take the same decision, and both refuse with 401
//! [`insufficient_user_authentication`](AuthError::InsufficientUserAuthentication),
//! never 403.
//!
//! (The whole flow: the [step-up recipe](crate::manual::step_up).)

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::FromRequestParts;
use http::request::Parts;
use http::{Request, Response};
use tower_layer::Layer;
use tower_service::Service;

use crate::http::extract::{AuthRejection, context};
use crate::http::guard::{GuardFuture, no_layer};
use crate::http::layer::{AuthContext, refusal};
use crate::http::rfc6750::{AuthError, RefusalBody};
use crate::token::step_up::{AcrError, StepUpPolicy, check_acr, meets};

/// The step-up decision on a request's context: 401 without a token,
/// `insufficient_user_authentication` naming the requirement when the token misses it.
fn decide<S: AsRef<str>>(
    ctx: &AuthContext,
    acr: &[S],
    acr_values: impl FnOnce() -> Option<String>,
    max_age: Option<u64>,
) -> Result<(), AuthError> {
    let Some((claims, now, leeway)) = ctx.step_up_inputs() else {
        return Err(AuthError::MissingCredentials);
    };
    if meets(claims, acr, max_age, now, leeway) {
        return Ok(());
    }
    tracing::debug!(
        has_acr = claims.acr().is_some(),
        has_auth_time = claims.auth_time().is_some(),
        "insufficient user authentication"
    );
    Err(AuthError::InsufficientUserAuthentication {
        acr_values: acr_values().map(Into::into),
        max_age,
    })
}

/// Requires a stronger or more recent authentication of the route's requests (RFC 9470):
/// the token's `acr` one of the accepted values, and/or its `auth_time` at most a
/// maximum age old (with the leeway its issuer's `exp` gets). A token that misses is
/// refused with 401 `insufficient_user_authentication` and a challenge naming the
/// requirement (`acr_values="mfa phr"`, `max_age=300`), so the client can ask its
/// authorization server for a token that meets it; a request without a token gets 401,
/// without a [`TokenAuthLayer`](crate::TokenAuthLayer) in front 500.
///
/// A token without `acr` misses any `acr` requirement; one without `auth_time` misses
/// any maximum age. Our own tokens carry them as issued
/// ([`TokenRequest::acr`](crate::TokenRequest::acr),
/// [`Sessions::login`](crate::Sessions::login)); a trusted issuer's as normalised (see
/// [`trust`](crate::trust#presets) for providers that name them otherwise).
///
/// ```
/// use std::time::Duration;
/// use axum::{Router, body::Body, routing::get};
/// use axum_token_auth::{TokenAuth, TokenRequest, http::StepUpLayer};
/// use http::{Request, StatusCode};
/// use tower::ServiceExt;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let auth = TokenAuth::builder().hs256_secret("a-random-secret-of-at-least-32-bytes!!").build()?;
/// let app = Router::new()
///     .route("/sensitive", get(|| async { "ok" }))
///     .route_layer(StepUpLayer::acr(["mfa", "phr"])?.max_age(Duration::from_secs(300)))
///     .route_layer(auth.layer());
///
/// let password_only = auth.issue_access(&TokenRequest::new("alice").acr("pwd").auth_time(auth.now()))?;
/// let res = app
///     .clone()
///     .oneshot(Request::get("/sensitive").header("authorization", format!("Bearer {}", password_only.as_str())).body(Body::empty())?)
///     .await?;
/// assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
/// assert_eq!(
///     res.headers()["www-authenticate"],
///     r#"Bearer realm="api", error="insufficient_user_authentication", error_description="a stronger or more recent authentication is required", acr_values="mfa phr", max_age=300"#
/// );
///
/// let mfa = auth.issue_access(&TokenRequest::new("alice").acr("mfa").auth_time(auth.now()))?;
/// let res = app
///     .oneshot(Request::get("/sensitive").header("authorization", format!("Bearer {}", mfa.as_str())).body(Body::empty())?)
///     .await?;
/// assert_eq!(res.status(), StatusCode::OK);
/// # Ok(()) }
/// ```
#[derive(Clone)]
#[must_use]
pub struct StepUpLayer {
    acr: Arc<[Box<str>]>,
    /// `acr_values` of the challenge: the accepted values, space-separated.
    acr_values: Option<Arc<str>>,
    max_age: Option<u64>,
}

impl fmt::Debug for StepUpLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StepUpLayer")
            .field("acr", &self.acr)
            .field("max_age", &self.max_age)
            .finish()
    }
}

impl StepUpLayer {
    /// Requires the token's `acr` to be one of `values` (in order of preference, as the
    /// challenge's `acr_values` lists them; each in the grammar of an RFC 6749 scope
    /// token — printable ASCII but space, `"` and `\` —, at least one).
    pub fn acr<I, S>(values: I) -> Result<Self, AcrError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut acr: Vec<Box<str>> = Vec::new();
        for v in values {
            let v = v.as_ref();
            check_acr(v)?;
            if !acr.iter().any(|a| &**a == v) {
                acr.push(v.into());
            }
        }
        if acr.is_empty() {
            return Err(AcrError::Empty);
        }
        let values = acr.join(" ");
        Ok(StepUpLayer {
            acr: acr.into(),
            acr_values: Some(values.into()),
            max_age: None,
        })
    }

    /// Requires only an authentication at most `max_age` old (whole seconds), whatever
    /// its class.
    ///
    /// ```
    /// use std::time::Duration;
    /// use axum_token_auth::http::StepUpLayer;
    ///
    /// let recent = StepUpLayer::authenticated_within(Duration::from_secs(600));
    /// # let _ = recent;
    /// ```
    pub fn authenticated_within(max_age: Duration) -> Self {
        StepUpLayer {
            acr: Arc::new([]),
            acr_values: None,
            max_age: Some(max_age.as_secs()),
        }
    }

    /// Also requires the authentication to be at most `max_age` old (whole seconds;
    /// the challenge's `max_age`).
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = Some(max_age.as_secs());
        self
    }

    /// The requirement of a policy declared with [`step_up!`](crate::step_up!).
    ///
    /// ```
    /// use axum_token_auth::{http::StepUpLayer, step_up};
    ///
    /// step_up!(pub RecentMfa = acr ["mfa"], max_age 300);
    /// let layer = StepUpLayer::policy::<RecentMfa>();
    /// # let _ = layer;
    /// ```
    pub fn policy<P: StepUpPolicy>() -> Self {
        let mut layer = if P::ACR.is_empty() {
            StepUpLayer {
                acr: Arc::new([]),
                acr_values: None,
                max_age: None,
            }
        } else {
            Self::acr(P::ACR).expect("step_up! checks its values at compile time")
        };
        layer.max_age = P::MAX_AGE;
        layer
    }

    fn check<B, ResBody: RefusalBody>(
        &self,
        req: &Request<B>,
    ) -> Result<(), Box<Response<ResBody>>> {
        let Some(ctx) = req.extensions().get::<AuthContext>() else {
            return Err(Box::new(no_layer(
                req,
                "StepUpLayer needs a TokenAuthLayer in front of it",
            )));
        };
        let acr_values = || self.acr_values.as_deref().map(str::to_owned);
        decide(ctx, &self.acr, acr_values, self.max_age)
            .map_err(|e| Box::new(refusal(&ctx.rendering, ctx.grpc, e)))
    }
}

impl<S> Layer<S> for StepUpLayer {
    type Service = StepUpGuard<S>;
    fn layer(&self, inner: S) -> Self::Service {
        StepUpGuard {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service made by [`StepUpLayer`].
#[derive(Clone, Debug)]
pub struct StepUpGuard<S> {
    inner: S,
    layer: StepUpLayer,
}

impl<S, B, ResBody> Service<Request<B>> for StepUpGuard<S>
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

/// Requires the step-up policy `P` (declared with [`step_up!`](crate::step_up!)): the
/// extractor form of [`StepUpLayer`], same decision, same 401
/// `insufficient_user_authentication` challenge.
///
/// ```
/// use axum::{Router, body::Body, routing::post};
/// use axum_token_auth::{TokenAuth, TokenRequest, http::RequireStepUp, step_up};
/// use http::{Request, StatusCode};
/// use tower::ServiceExt;
///
/// step_up!(pub RecentMfa = acr ["mfa"], max_age 300);
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let auth = TokenAuth::builder().hs256_secret("a-random-secret-of-at-least-32-bytes!!").build()?;
/// let app = Router::new()
///     .route("/transfer", post(|_: RequireStepUp<RecentMfa>| async { "sent" }))
///     .layer(auth.layer());
///
/// // An hour-old authentication: too old for this route.
/// let stale = auth.issue_access(&TokenRequest::new("alice").acr("mfa").auth_time(auth.now() - 3600))?;
/// let req = Request::post("/transfer")
///     .header("authorization", format!("Bearer {}", stale.as_str()))
///     .body(Body::empty())?;
/// let res = app.oneshot(req).await?;
/// assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
/// assert!(res.headers()["www-authenticate"].to_str()?.ends_with(r#"acr_values="mfa", max_age=300"#));
/// # Ok(()) }
/// ```
pub struct RequireStepUp<P>(PhantomData<fn() -> P>);

impl<P> fmt::Debug for RequireStepUp<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RequireStepUp")
    }
}

impl<P: StepUpPolicy, S: Send + Sync> FromRequestParts<S> for RequireStepUp<P> {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let ctx = context(parts)?;
        let acr_values = || (!P::ACR.is_empty()).then(|| P::ACR.join(" "));
        decide(ctx, P::ACR, acr_values, P::MAX_AGE)
            .map_err(|e| AuthRejection::new(e, Some(ctx)))?;
        Ok(RequireStepUp(PhantomData))
    }
}
