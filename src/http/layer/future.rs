//! [`ResponseFuture`]: the layer's response future — a refusal, the inner service's
//! future, or a wait (for the revocation store, or for a key-set refetch) before one of
//! them.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use http::header::SET_COOKIE;
use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_service::Service;

use crate::http::cache::{CacheKey, Verdict, VerifiedCache};
use crate::http::layer::Mode;
#[cfg(feature = "oidc")]
use crate::http::layer::TokenAuthLayer;
use crate::http::layer::context::AuthContext;
use crate::http::layer::credentials::TokenSource;
#[cfg(feature = "oidc")]
use crate::http::layer::service::authenticate;
use crate::http::rfc6750::{AuthError, FallbackRendered, RefusalBody, Rendering};
use crate::http::{grpc, websocket};
use crate::store::StoreError;
use crate::trust::verify::Verifier;
#[cfg(feature = "oidc")]
use serde::de::DeserializeOwned;

pub(super) type RevocationFuture = Pin<Box<dyn Future<Output = Result<bool, StoreError>> + Send>>;
type WaitFuture = Pin<Box<dyn Future<Output = ()> + Send>>;
/// Runs the layer's checks again on a request (after a key-set refetch).
type Resume<S, B> = Box<dyn FnOnce(&mut S, Request<B>) -> ResponseFuture<S, B> + Send>;

/// A request waiting for the revocation store's answer.
pub(super) struct Pending<S, B> {
    pub(super) inner: S,
    pub(super) req: Request<B>,
    pub(super) ctx: AuthContext,
    pub(super) verdict: Verdict,
    pub(super) source: TokenSource,
    pub(super) verifier: Arc<Verifier>,
    pub(super) mode: Mode,
    /// The layer's cache and the freshly verified token's key, to remember once accepted.
    pub(super) cache: Option<(Arc<VerifiedCache>, CacheKey)>,
    pub(super) now: u64,
    pub(super) epoch: u64,
}

/// A request waiting for an external issuer's key set to be refetched.
struct Refetching<S: Service<Request<B>>, B> {
    inner: S,
    req: Request<B>,
    resume: Resume<S, B>,
}

pin_project! {
    /// The response future of [`TokenAuthService`].
    pub struct ResponseFuture<S, B>
    where
        S: Service<Request<B>>,
    {
        #[pin]
        state: State<S, B>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, B>
    where
        S: Service<Request<B>>,
    {
        Refused { response: Option<S::Response> },
        // Boxed: the future stays as small as the inner one on the common, synchronous path.
        Checking { check: RevocationFuture, pending: Option<Box<Pending<S, B>>> },
        Refetching { wait: WaitFuture, pending: Option<Box<Refetching<S, B>>> },
        Inner { #[pin] future: S::Future, outbound: Outbound },
    }
}

/// What the layer needs on the way out: to render again a response that carries an
/// [`AuthError`] rendered without the configured renderer.
struct Outbound {
    rendering: Rendering,
    grpc: bool,
}

impl Outbound {
    /// `res`, or — when it is an `AuthError` rendered by the default renderer (its own
    /// `IntoResponse`) — that error rendered as this layer renders refusals, keeping
    /// the `Set-Cookie` headers of the first rendering.
    fn finish<ResBody: RefusalBody>(&self, res: Response<ResBody>) -> Response<ResBody> {
        if res.extensions().get::<FallbackRendered>().is_none() {
            return res;
        }
        let Some(error) = res.extensions().get::<AuthError>().cloned() else {
            return res;
        };
        // A layer inside this one that made something else of the refusal (a redirect
        // to a login page, say) has the last word.
        if res.status() != error.status() {
            return res;
        }
        let mut out = refusal(&self.rendering, self.grpc, error);
        // Headers added on the way out by layers inside this one (CORS, security
        // headers, cookies) stay; the refusal's own (its challenge, caching, body type)
        // are this rendering's.
        let rendered: Vec<http::HeaderName> = out.headers().keys().cloned().collect();
        for (name, value) in res.headers() {
            let own = is_refusal_header(name) || rendered.contains(name);
            if !own || name == SET_COOKIE {
                out.headers_mut().append(name, value.clone());
            }
        }
        out
    }
}

/// Headers a refusal's rendering owns: not carried over from the first rendering.
fn is_refusal_header(name: &http::HeaderName) -> bool {
    use http::header::{
        CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE,
    };
    [
        WWW_AUTHENTICATE,
        CACHE_CONTROL,
        RETRY_AFTER,
        CONTENT_TYPE,
        CONTENT_LENGTH,
    ]
    .contains(name)
        || name.as_str().starts_with("grpc-")
}

/// The layer's answer to a refused request: the configured renderer's, or a gRPC status.
pub(crate) fn refusal<ResBody: RefusalBody>(
    rendering: &Rendering,
    grpc: bool,
    error: AuthError,
) -> Response<ResBody> {
    if grpc {
        return grpc::refusal(error, rendering.realm());
    }
    rendering.render(error).map(ResBody::from_refusal)
}

impl<S, B, ResBody> ResponseFuture<S, B>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
    ResBody: RefusalBody,
{
    /// Calls the inner service with `ctx` in the request's extensions.
    #[inline]
    pub(super) fn call(inner: &mut S, ctx: AuthContext, mut req: Request<B>) -> Self {
        if ctx.query_token {
            *req.uri_mut() = websocket::strip_query_token(req.uri());
            if let Some(original) = req.extensions_mut().get_mut::<axum::extract::OriginalUri>() {
                original.0 = websocket::strip_query_token(&original.0);
            }
        }
        let outbound = Outbound {
            rendering: ctx.rendering.clone(),
            grpc: ctx.grpc,
        };
        req.extensions_mut().insert(ctx);
        ResponseFuture {
            state: State::Inner {
                future: inner.call(req),
                outbound,
            },
        }
    }

    /// Refuses with `error`, or passes the request on without claims when the layer's
    /// mode lets it (see [`TokenAuthLayer::optional`] and
    /// [`TokenAuthLayer::optional_refusing_invalid`]).
    /// Waits for the revocation store's answer on a verified token.
    pub(super) fn checking(check: RevocationFuture, pending: Pending<S, B>) -> Self {
        ResponseFuture {
            state: State::Checking {
                check,
                pending: Some(Box::new(pending)),
            },
        }
    }

    pub(super) fn refuse_or_pass(
        mode: Mode,
        error: AuthError,
        ctx: AuthContext,
        inner: &mut S,
        req: Request<B>,
    ) -> Self {
        if mode.passes(&error) {
            return Self::call(inner, ctx, req);
        }
        ResponseFuture {
            state: State::Refused {
                response: Some(refusal(&ctx.rendering, ctx.grpc, error)),
            },
        }
    }

    /// Waits for one shared refetch of `remote`'s key set, then runs the checks again
    /// (without waiting a second time).
    #[cfg(feature = "oidc")]
    pub(super) fn wait_for_keys<T>(
        layer: &TokenAuthLayer<T>,
        inner: &mut S,
        req: Request<B>,
        remote: Arc<crate::trust::remote::RemoteKeys>,
        seen: u64,
    ) -> Self
    where
        S: Clone + Send + 'static,
        T: DeserializeOwned + Send + Sync + 'static,
    {
        let layer = layer.clone();
        let clone = inner.clone();
        let inner = std::mem::replace(inner, clone);
        ResponseFuture {
            state: State::Refetching {
                wait: Box::pin(async move { remote.refetch_unknown_kid(seen).await }),
                pending: Some(Box::new(Refetching {
                    inner,
                    req,
                    resume: Box::new(move |inner, req| authenticate(&layer, inner, req, false)),
                })),
            },
        }
    }
}

impl<S, B, ResBody> Future for ResponseFuture<S, B>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
    ResBody: RefusalBody,
{
    type Output = Result<Response<ResBody>, S::Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            let next = match self.as_mut().project().state.project() {
                StateProj::Refused { response } => {
                    let response = response
                        .take()
                        .expect("ResponseFuture polled after completion");
                    return Poll::Ready(Ok(response));
                }
                StateProj::Inner { future, outbound } => {
                    let res = ready!(future.poll(cx))?;
                    return Poll::Ready(Ok(outbound.finish(res)));
                }
                StateProj::Checking { check, pending } => {
                    let revoked = ready!(check.as_mut().poll(cx));
                    let Pending {
                        mut inner,
                        req,
                        mut ctx,
                        verdict,
                        source,
                        verifier,
                        mode,
                        cache,
                        now,
                        epoch,
                    } = *pending
                        .take()
                        .expect("ResponseFuture polled after completion");
                    match verifier.revocation_verdict(revoked, &verdict.identity) {
                        Ok(()) => {
                            if let Some((c, key)) = cache {
                                c.insert(key, verdict.clone(), now, epoch);
                            }
                            ctx.accept(verdict, source);
                            Self::call(&mut inner, ctx, req)
                        }
                        Err(e) => Self::refuse_or_pass(mode, e.into(), ctx, &mut inner, req),
                    }
                }
                StateProj::Refetching { wait, pending } => {
                    ready!(wait.as_mut().poll(cx));
                    let Refetching {
                        mut inner,
                        req,
                        resume,
                    } = *pending
                        .take()
                        .expect("ResponseFuture polled after completion");
                    resume(&mut inner, req)
                }
            };
            self.set(next);
        }
    }
}
