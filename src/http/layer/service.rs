//! [`TokenAuthService`]: the service [`TokenAuthLayer`] makes, and the layer's work on
//! one request.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use http::{Request, Response};
use serde::de::DeserializeOwned;
use tower_service::Service;

use crate::http::cache::{CacheKey, Verdict};
use crate::http::dpop::bind_request;
use crate::http::grpc;
use crate::http::layer::context::{AuthContext, BoundRequest};
use crate::http::layer::credentials::{TokenSource, checked_text, locate_request_token};
#[cfg(feature = "oidc")]
use crate::http::layer::future::VerifyFuture;
use crate::http::layer::future::{Pending, ResponseFuture, last_checks};
use crate::http::layer::{LayerState, TokenAuthLayer};
use crate::http::rfc6750::{AuthError, RefusalBody};
use crate::http::websocket;
use crate::token::claims::NoCustomClaims;
use crate::trust::dpop::{CheckedProof, DpopPolicy};
#[cfg(feature = "oidc")]
use crate::trust::verify::Refusal;

/// The service made by [`TokenAuthLayer`].
pub struct TokenAuthService<S, T = NoCustomClaims> {
    pub(super) inner: S,
    pub(super) layer: TokenAuthLayer<T>,
}

impl<S: Clone, T> Clone for TokenAuthService<S, T> {
    fn clone(&self) -> Self {
        TokenAuthService {
            inner: self.inner.clone(),
            layer: self.layer.clone(),
        }
    }
}

impl<S: fmt::Debug, T> fmt::Debug for TokenAuthService<S, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenAuthService")
            .field("inner", &self.inner)
            .field("layer", &self.layer)
            .finish()
    }
}

impl<S, T, B, ResBody> Service<Request<B>> for TokenAuthService<S, T>
where
    S: Service<Request<B>, Response = Response<ResBody>> + Clone + Send + 'static,
    ResBody: RefusalBody,
    T: DeserializeOwned + Send + Sync + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S, B>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        authenticate::<S, T, B, ResBody>(&self.layer.state, &mut self.inner, req)
    }
}

/// The layer's work on one request, in the order of its checks: find the token; take
/// its verdict from the cache of verified tokens, or verify it (steps 1–12 of
/// [`trust::verify`](crate::trust::verify)); then the [last checks](last_checks) (CSRF,
/// revocation) and the [conclusion](ResponseFuture::conclude): the inner service or a
/// refusal.
///
/// One code path with `validate`: the token is verified by the same
/// [`Verifier::verify_token`](crate::trust::verify::Verifier::verify_token) and, when an
/// external issuer's `kid` is unknown, finished by the same `verify_after_refetch` that
/// `verify_token_waiting` ends with; revocation is `check_revoked`, whose synchronous
/// first step (`revoked_now`) the layer takes alone when the store answers at once.
/// What is the layer's own: the cache, the CSRF check, and running those synchronous
/// steps without a future. A hit allocates only to hand the claims over (the request's
/// extensions box the context, and grow their map when axum has filled it: 2
/// allocations, counted by `benches/hit_path.rs`). The token is looked up by its bytes:
/// its text was checked when it was verified.
#[inline]
fn authenticate<S, T, B, ResBody>(
    state: &Arc<LayerState>,
    inner: &mut S,
    req: Request<B>,
) -> ResponseFuture<S, B>
where
    S: Service<Request<B>, Response = Response<ResBody>> + Clone + Send + 'static,
    ResBody: RefusalBody,
    T: DeserializeOwned + Send + Sync + 'static,
{
    let verifier = &*state.verifier;
    let web = &*state.web;
    let mut ctx = AuthContext::new(
        state.rendering.clone(),
        grpc::is_grpc(req.headers()),
        // With the option on, an `access_token` parameter never reaches the inner
        // service: read (upgrade), refused (optional modes pass on), or ignored (a plain
        // request), it is removed from the URI all the same.
        state.query_on_upgrade && websocket::has_query_token(req.uri()),
    );
    let now = verifier.clock.now();
    let cache = state.cache.as_deref();
    let epoch = if cache.is_some() {
        verifier.trust_epoch.load(Ordering::Acquire)
    } else {
        0
    };
    let cookie = web.access_cookie.as_deref();
    let max_bytes = verifier.settings.max_token_bytes;
    let dpop_on = state.dpop != DpopPolicy::Off;
    let presented =
        match locate_request_token(&req, cookie, max_bytes, state.query_on_upgrade, dpop_on) {
            Ok(Some(p)) => p,
            Ok(None) => {
                let missing = AuthError::MissingCredentials;
                return ResponseFuture::refuse_or_pass(state, missing, ctx, inner, req);
            }
            Err(e) => return ResponseFuture::refuse_or_pass(state, e, ctx, inner, req),
        };
    let source = presented.source;
    // One keyed digest of the token: the lookup, and the insert after a miss.
    let key = cache.and_then(|c| c.key(&presented.bytes));
    let (verdict, fresh) = match cache.zip(key).and_then(|(c, k)| c.get(k, now, epoch)) {
        Some(hit) => (hit, None),
        None => match verify_missed::<T>(state, &presented.bytes, source) {
            Missed::Verified(verdict) => (verdict, key),
            Missed::Refused(e) => return ResponseFuture::refuse_or_pass(state, e, ctx, inner, req),
            #[cfg(feature = "oidc")]
            Missed::Refetch(token, remote, seen) => {
                let token: Arc<str> = token.into();
                let verify = refetch_and_verify::<T>(state, Arc::clone(&token), remote, seen);
                let mut pending = pending(state, inner, req, ctx, source, key, now, epoch);
                pending.token = Some(token);
                return ResponseFuture::verifying(verify, pending);
            }
            #[cfg(feature = "oidc")]
            Missed::Introspect(token) => {
                let token: Arc<str> = token.into();
                let verify = introspect_and_verify::<T>(state, Arc::clone(&token));
                let mut pending = pending(state, inner, req, ctx, source, key, now, epoch);
                pending.token = Some(token);
                return ResponseFuture::verifying(verify, pending);
            }
        },
    };
    // Sender-constrained tokens, the `DPoP` scheme, a layer requiring DPoP: out of line.
    let proof = if state.needs_binding(&verdict, source) {
        match bind(
            state,
            &req,
            &presented.bytes,
            &verdict,
            source,
            now,
            &mut ctx,
        ) {
            Ok(proof) => proof,
            Err(e) => return ResponseFuture::refuse_or_pass(state, e, ctx, inner, req),
        }
    } else {
        None
    };
    match last_checks(state, &req, &verdict, source, proof.is_some()) {
        Some(checks) => {
            let at = (now, epoch);
            ResponseFuture::conclude(state, inner, req, ctx, verdict, source, fresh, at, checks)
        }
        None => {
            let mut pending = pending(state, inner, req, ctx, source, fresh, now, epoch);
            pending.proof = proof;
            ResponseFuture::checking(pending, verdict)
        }
    }
}

/// The binding step ([`bind_request`]): what it decided goes in the context; a proof
/// whose `jti` is still to be remembered comes back.
pub(super) fn bind<B>(
    state: &LayerState,
    req: &Request<B>,
    token: &[u8],
    verdict: &Verdict,
    source: TokenSource,
    now: u64,
    ctx: &mut AuthContext,
) -> Result<Option<Box<CheckedProof>>, AuthError> {
    let b = bind_request(
        &state.verifier,
        state.web.certificate_header.as_ref(),
        state.dpop,
        (req.method(), req.uri(), req.headers(), req.extensions()),
        token,
        verdict.claims.confirmation(),
        matches!(source, TokenSource::Header | TokenSource::Query),
        source == TokenSource::Dpop,
        now,
    )?;
    ctx.bound = Some(Box::new(BoundRequest { binding: b.binding }));
    if let Some(nonce) = b.nonce.and_then(|n| http::HeaderValue::from_str(&n).ok()) {
        ctx.rendering = ctx.rendering.with_dpop_nonce(nonce);
    }
    // Boxed: the hot path's `Option` of it stays one word.
    Ok(b.proof.map(Box::new))
}

/// What verifying a token the cache did not hold gave.
enum Missed {
    Verified(Verdict),
    Refused(AuthError),
    /// An external issuer's `kid` is unknown: the token, to verify after a refetch.
    #[cfg(feature = "oidc")]
    Refetch(String, Arc<crate::trust::remote::RemoteKeys>, u64),
    /// A token that is not a JWT, of the issuer that introspects: the token, to verify
    /// at its introspection endpoint.
    #[cfg(feature = "oidc")]
    Introspect(String),
}

/// A cache miss: the token's text checked, then verified in full. Out of line, so the
/// hit path stays a small function.
#[inline(never)]
fn verify_missed<T: DeserializeOwned + Send + Sync + 'static>(
    state: &LayerState,
    bytes: &[u8],
    source: TokenSource,
) -> Missed {
    let token = match checked_text(bytes, source) {
        Ok(token) => token,
        Err(e) => return Missed::Refused(e),
    };
    match state.verifier.verify_token::<T>(token, &state.acceptance()) {
        Ok(accepted) => Missed::Verified(Verdict::from(accepted)),
        #[cfg(feature = "oidc")]
        Err(Refusal::Refetch(remote, seen)) => Missed::Refetch(token.to_owned(), remote, seen),
        #[cfg(feature = "oidc")]
        Err(Refusal::Introspect) => Missed::Introspect(token.to_owned()),
        Err(r) => Missed::Refused(state.verifier.refused(r).into()),
    }
}

/// The request, set aside to wait: the service that was polled ready goes with it, a
/// clone stays.
#[allow(clippy::too_many_arguments)]
fn pending<S: Clone, B>(
    state: &Arc<LayerState>,
    inner: &mut S,
    req: Request<B>,
    ctx: AuthContext,
    source: TokenSource,
    fresh: Option<CacheKey>,
    now: u64,
    epoch: u64,
) -> Pending<S, B> {
    let clone = inner.clone();
    Pending {
        inner: std::mem::replace(inner, clone),
        req,
        ctx,
        state: Arc::clone(state),
        source,
        fresh,
        now,
        epoch,
        proof: None,
        token: None,
    }
}

/// The token's verification after one shared refetch of `remote`'s key set, as
/// `validate` waits for it.
#[cfg(feature = "oidc")]
fn refetch_and_verify<T: DeserializeOwned + Send + Sync + 'static>(
    state: &Arc<LayerState>,
    token: Arc<str>,
    remote: Arc<crate::trust::remote::RemoteKeys>,
    seen: u64,
) -> VerifyFuture {
    let state = Arc::clone(state);
    Box::pin(async move {
        state
            .verifier
            .verify_after_refetch::<T>(&token, &state.acceptance(), remote, seen)
            .await
            .map(Verdict::from)
    })
}

/// The token's verification at its issuer's introspection endpoint (one call shared by
/// concurrent requests with the same token), as `validate` waits for it. Its verdict is
/// cached like any other, until the token's `exp` or the issuer's cache bound.
#[cfg(feature = "oidc")]
fn introspect_and_verify<T: DeserializeOwned + Send + Sync + 'static>(
    state: &Arc<LayerState>,
    token: Arc<str>,
) -> VerifyFuture {
    let state = Arc::clone(state);
    Box::pin(async move {
        state
            .verifier
            .verify_after_introspection::<T>(&token, &state.acceptance())
            .await
            .map(Verdict::from)
    })
}
