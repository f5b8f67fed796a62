//! [`ResponseFuture`]: the layer's response future — a refusal, the inner service's
//! future, or a wait (for the revocation store, or for a key-set refetch) before one of
//! them — and the layer's last steps on a verified token, shared by the synchronous path
//! and the waits.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use http::header::SET_COOKIE;
use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_service::Service;

use crate::http::cache::{CacheKey, Verdict};
use crate::http::layer::LayerState;
use crate::http::layer::context::AuthContext;
use crate::http::layer::credentials::TokenSource;
use crate::http::rfc6750::DPOP_NONCE;
use crate::http::rfc6750::{AuthError, FallbackRendered, RefusalBody, Rendering};
use crate::http::{grpc, websocket};
use crate::trust::dpop::CheckedProof;
use crate::trust::verify::{Holder, VerifyError};

/// The store checks of a verified token, awaited: its DPoP proof's replay-cache entry
/// (when it came with one), then [`Verifier::check_revoked`](crate::trust::verify::Verifier::check_revoked).
type RevocationFuture = Pin<Box<dyn Future<Output = Result<(), AuthError>> + Send>>;
/// A token's verification after a key-set refetch (feature `oidc`):
/// `Verifier::verify_after_refetch`.
pub(super) type VerifyFuture = Pin<Box<dyn Future<Output = Result<Verdict, VerifyError>> + Send>>;

/// A request between its token's verification and the inner service: what the last
/// steps need ([`last_checks`], [`ResponseFuture::conclude`]).
pub(super) struct Pending<S, B> {
    pub(super) inner: S,
    pub(super) req: Request<B>,
    pub(super) ctx: AuthContext,
    pub(super) state: Arc<LayerState>,
    pub(super) source: TokenSource,
    /// The token's cache key when it was verified now (to be cached once accepted).
    pub(super) fresh: Option<CacheKey>,
    pub(super) now: u64,
    pub(super) epoch: u64,
    /// The request's DPoP proof, checked offline, whose `jti` is still to be remembered.
    pub(super) proof: Option<Box<CheckedProof>>,
    /// The token, when it is verified after a key-set refetch (the binding step needs
    /// it then).
    pub(super) token: Option<Arc<str>>,
}

pin_project! {
    /// The response future of [`TokenAuthService`](crate::TokenAuthService).
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
    #[cfg_attr(not(feature = "oidc"), allow(dead_code))]
    enum State<S, B>
    where
        S: Service<Request<B>>,
    {
        Refused { response: Option<S::Response> },
        // Boxed: the future stays as small as the inner one on the common, synchronous path.
        Checking { check: RevocationFuture, pending: Option<Box<(Pending<S, B>, Verdict)>> },
        // Feature `oidc` only.
        Verifying { verify: VerifyFuture, pending: Option<Box<Pending<S, B>>> },
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
    fn finish<ResBody: RefusalBody>(&self, mut res: Response<ResBody>) -> Response<ResBody> {
        // A fresh DPoP nonce for the client (RFC 9449 §8.2) rides in the rendering of
        // the rare request that gets one: the future does not grow for the others.
        if let Some(nonce) = self.rendering.dpop_nonce() {
            res.headers_mut().insert(DPOP_NONCE, nonce.clone());
        }
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
    /// mode lets it (see [`TokenAuthLayer::optional`](crate::TokenAuthLayer::optional)
    /// and [`TokenAuthLayer::optional_refusing_invalid`](crate::TokenAuthLayer::optional_refusing_invalid)).
    pub(super) fn refuse_or_pass(
        state: &LayerState,
        error: AuthError,
        ctx: AuthContext,
        inner: &mut S,
        req: Request<B>,
    ) -> Self {
        if state.mode.passes(&error) {
            return Self::call(inner, ctx, req);
        }
        ResponseFuture {
            state: State::Refused {
                response: Some(refusal(&ctx.rendering, ctx.grpc, error)),
            },
        }
    }

    /// The layer's last word on a verified token, whether its checks answered at once or
    /// were awaited: remember it in the cache (when verified now) and call the inner
    /// service with its claims, or refuse. One block for every path, inlined: measured
    /// with `benches/hit_path.rs`, a cached bearer request costs the same (4 338
    /// instructions over bare, with `#[inline]` or `#[inline(always)]`) as with the block
    /// written out in the synchronous path (an earlier shared version, since reverted,
    /// was measured at 99 more).
    #[inline]
    #[allow(clippy::too_many_arguments)]
    pub(super) fn conclude(
        state: &LayerState,
        inner: &mut S,
        req: Request<B>,
        mut ctx: AuthContext,
        verdict: Verdict,
        source: TokenSource,
        fresh: Option<CacheKey>,
        (now, epoch): (u64, u64),
        checks: Result<(), AuthError>,
    ) -> Self {
        match checks {
            Ok(()) => {
                if let (Some(c), Some(key)) = (state.cache.as_deref(), fresh) {
                    c.insert(key, verdict.clone(), now, epoch);
                }
                ctx.accept(verdict, source, now);
                Self::call(inner, ctx, req)
            }
            Err(e) => Self::refuse_or_pass(state, e, ctx, inner, req),
        }
    }

    /// Waits for the revocation store's answer on a verified token
    /// ([`Verifier::check_revoked`](crate::trust::verify::Verifier::check_revoked), the
    /// same check as `validate`'s), then [`conclude`](Self::conclude)s.
    pub(super) fn checking(mut pending: Pending<S, B>, verdict: Verdict) -> Self {
        let verifier = Arc::clone(&pending.state.verifier);
        let claims = Arc::clone(&verdict.claims);
        let identity = verdict.identity.clone();
        let proof = pending.proof.take();
        let now = pending.now;
        let check: RevocationFuture = Box::pin(async move {
            if let (Some(proof), Some(dpop)) = (proof, verifier.dpop.as_deref()) {
                dpop.remember(&proof)
                    .await
                    .map_err(|e| crate::http::dpop::refusal(dpop, e, now))?;
                crate::telemetry::dpop_proof("accepted");
            }
            verifier
                .check_revoked(Holder::of(&*claims), &identity)
                .await
                .map_err(AuthError::from)
        });
        // An outer layer's context does not wait with the request.
        pending.req.extensions_mut().remove::<AuthContext>();
        ResponseFuture {
            state: State::Checking {
                check,
                pending: Some(Box::new((pending, verdict))),
            },
        }
    }

    /// Waits for an external issuer's key set to be refetched and the token verified
    /// again, then runs the [`last_checks`].
    #[cfg(feature = "oidc")]
    pub(super) fn verifying(verify: VerifyFuture, pending: Pending<S, B>) -> Self {
        ResponseFuture {
            state: State::Verifying {
                verify,
                pending: Some(Box::new(pending)),
            },
        }
    }
}

/// The checks after verification, on a token verified now or taken from the cache:
/// CSRF for a cookie token, then revocation
/// ([`Verifier::revoked_now`](crate::trust::verify::Verifier::revoked_now), the first
/// step of `check_revoked`). `None` when the revocation store must be awaited
/// ([`ResponseFuture::checking`]).
#[inline]
pub(super) fn last_checks<B>(
    state: &LayerState,
    req: &Request<B>,
    verdict: &Verdict,
    source: TokenSource,
    proof_pending: bool,
) -> Option<Result<(), AuthError>> {
    // CSRF: a cookie-authenticated unsafe request must prove it comes from our pages.
    if source == TokenSource::Cookie
        && let Err(e) = state.web.csrf.check(
            req.method(),
            req.uri(),
            req.headers(),
            verdict.claims.csrf_digest(),
        )
    {
        return Some(Err(e));
    }
    if proof_pending {
        // A proof's `jti` goes to the replay cache first: awaited with revocation.
        return None;
    }
    state
        .verifier
        .revoked_now(Holder::of(&*verdict.claims), &verdict.identity)
        .map(|r| r.map_err(AuthError::from))
}

impl<S, B, ResBody> Future for ResponseFuture<S, B>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
    ResBody: RefusalBody,
{
    type Output = Result<Response<ResBody>, S::Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        const DONE: &str = "ResponseFuture polled after completion";
        loop {
            let next = match self.as_mut().project().state.project() {
                StateProj::Refused { response } => {
                    return Poll::Ready(Ok(response.take().expect(DONE)));
                }
                StateProj::Inner { future, outbound } => {
                    let res = ready!(future.poll(cx))?;
                    return Poll::Ready(Ok(outbound.finish(res)));
                }
                StateProj::Checking { check, pending } => {
                    let checks = ready!(check.as_mut().poll(cx));
                    let (p, verdict) = *pending.take().expect(DONE);
                    let Pending {
                        mut inner,
                        req,
                        ctx,
                        state,
                        source,
                        fresh,
                        now,
                        epoch,
                        ..
                    } = p;
                    Self::conclude(
                        &state,
                        &mut inner,
                        req,
                        ctx,
                        verdict,
                        source,
                        fresh,
                        (now, epoch),
                        checks,
                    )
                }
                StateProj::Verifying { verify, pending } => {
                    let verified = ready!(verify.as_mut().poll(cx));
                    let mut p = *pending.take().expect(DONE);
                    let verified = verified.map_err(AuthError::from).and_then(|verdict| {
                        let state = Arc::clone(&p.state);
                        let token = p.token.take().unwrap_or_default();
                        let proof = if state.needs_binding(&verdict, p.source) {
                            crate::http::layer::service::bind(
                                &state,
                                &p.req,
                                token.as_bytes(),
                                &verdict,
                                p.source,
                                p.now,
                                &mut p.ctx,
                            )?
                        } else {
                            None
                        };
                        p.proof = proof;
                        Ok(verdict)
                    });
                    let pending_proof = p.proof.is_some();
                    match verified {
                        Ok(verdict) => {
                            match last_checks(&p.state, &p.req, &verdict, p.source, pending_proof) {
                                Some(checks) => Self::conclude(
                                    &Arc::clone(&p.state),
                                    &mut p.inner,
                                    p.req,
                                    p.ctx,
                                    verdict,
                                    p.source,
                                    p.fresh,
                                    (p.now, p.epoch),
                                    checks,
                                ),
                                None => Self::checking(p, verdict),
                            }
                        }
                        Err(e) => Self::refuse_or_pass(&p.state, e, p.ctx, &mut p.inner, p.req),
                    }
                }
            };
            self.set(next);
        }
    }
}
