//! [`TokenAuthService`]: the service [`TokenAuthLayer`] makes, and the layer's work on
//! one request.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use http::{Request, Response};
use serde::de::DeserializeOwned;
use tower_service::Service;

use crate::http::cache::Verdict;
use crate::http::grpc;
use crate::http::layer::TokenAuthLayer;
use crate::http::layer::context::AuthContext;
use crate::http::layer::credentials::{TokenSource, check_charset, locate_request_token};
use crate::http::layer::future::{Pending, ResponseFuture, RevocationFuture};
use crate::http::rfc6750::{AuthError, RefusalBody};
use crate::http::websocket;
use crate::token::claims::NoCustomClaims;
use crate::trust::verify::{Holder, revocation_check};

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
        authenticate(&self.layer, &mut self.inner, req, true)
    }
}

/// The layer's work on one request: find the token, take the verdict from the cache or
/// verify it (waiting for one key-set refetch when `may_wait` and an external issuer's
/// `kid` is unknown), CSRF, revocation; then the inner service or a refusal.
pub(super) fn authenticate<S, T, B, ResBody>(
    layer: &TokenAuthLayer<T>,
    inner: &mut S,
    mut req: Request<B>,
    may_wait: bool,
) -> ResponseFuture<S, B>
where
    S: Service<Request<B>, Response = Response<ResBody>> + Clone + Send + 'static,
    ResBody: RefusalBody,
    T: DeserializeOwned + Send + Sync + 'static,
{
    let verifier = &*layer.verifier;
    let web = &*layer.web;
    let mut ctx = AuthContext {
        rendering: web.rendering.clone(),
        claims: None,
        payload: None,
        source: None,
        grpc: grpc::is_grpc(req.headers()),
        // With the option on, an `access_token` parameter never reaches the inner
        // service: read (upgrade), refused (optional modes pass on), or ignored (a plain
        // request), it is removed from the URI all the same.
        query_token: layer.query_on_upgrade && websocket::has_query_token(req.uri()),
    };

    let now = verifier.clock.now();
    let cache = layer.cache.as_deref();
    let epoch = if cache.is_some() {
        verifier.trust_epoch.load(Ordering::Acquire)
    } else {
        0
    };
    // The token's verdict: from the cache of verified tokens, or verified in full.
    // `fresh` holds the token's cache key when it was verified now (to be cached once
    // accepted).
    let max_bytes = verifier.settings.max_token_bytes;
    let cookie = web.access_cookie.as_deref();
    let verified = match locate_request_token(&req, cookie, max_bytes, layer.query_on_upgrade) {
        Ok(Some((token, source))) => {
            // One keyed digest of the token: the lookup, and the insert after a miss.
            let key = cache.and_then(|c| c.key(&token));
            match cache.zip(key).and_then(|(c, k)| c.get(k, now, epoch)) {
                Some(hit) => Ok((hit, source, None)),
                None => match check_charset(&token, source) {
                    Err(e) => Err(e),
                    Ok(()) => match verifier.verify_token::<T>(&token, &layer.acceptance()) {
                        Ok(accepted) => Ok((Verdict::from(accepted), source, key)),
                        #[cfg(feature = "oidc")]
                        Err(crate::trust::verify::Refusal::Refetch(remote, seen)) if may_wait => {
                            return ResponseFuture::wait_for_keys(layer, inner, req, remote, seen);
                        }
                        Err(r) => Err(verifier.refused(r).into()),
                    },
                },
            }
        }
        Ok(None) => Err(AuthError::MissingCredentials),
        Err(e) => Err(e),
    };
    #[cfg(not(feature = "oidc"))]
    let _ = may_wait;

    // CSRF: a cookie-authenticated unsafe request must prove it comes from our pages.
    let verified = verified.and_then(|v| {
        if v.1 == TokenSource::Cookie {
            web.csrf.check(
                req.method(),
                req.uri(),
                req.headers(),
                v.0.claims.csrf_digest(),
            )?;
        }
        Ok(v)
    });
    let (verdict, source, fresh) = match verified {
        Ok(v) => v,
        Err(e) => return ResponseFuture::refuse_or_pass(layer.mode, e, ctx, inner, req),
    };
    match verifier.check_revoked_now(Holder::of(&*verdict.claims), &verdict.identity) {
        Some(revoked) => match verifier.revocation_verdict(revoked, &verdict.identity) {
            Ok(()) => {
                if let (Some(c), Some(key)) = (cache, fresh) {
                    c.insert(key, verdict.clone(), now, epoch);
                }
                ctx.accept(verdict, source);
                ResponseFuture::call(inner, ctx, req)
            }
            Err(e) => ResponseFuture::refuse_or_pass(layer.mode, e.into(), ctx, inner, req),
        },
        None => {
            let store = Arc::clone(&verifier.revocation);
            let view = Arc::clone(&verdict.claims);
            let identity = verdict.identity;
            let check: RevocationFuture = Box::pin(async move {
                store
                    .check(&revocation_check(Holder::of(&*view), &identity))
                    .await
            });
            req.extensions_mut().remove::<AuthContext>();
            // The service that was polled ready goes into the future; a clone stays.
            let clone = inner.clone();
            let inner = std::mem::replace(inner, clone);
            ResponseFuture::checking(
                check,
                Pending {
                    inner,
                    req,
                    ctx,
                    verdict,
                    source,
                    verifier: Arc::clone(&layer.verifier),
                    mode: layer.mode,
                    cache: layer.cache.clone().zip(fresh),
                    now,
                    epoch,
                },
            )
        }
    }
}
