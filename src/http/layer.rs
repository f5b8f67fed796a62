//! [`TokenAuthLayer`]: the Tower layer that takes the token from `Authorization: Bearer` or
//! the access cookie, validates it, and puts the verified claims in the request's
//! extensions for the extractors.
//!
//! (Documented with examples in the [`http`](crate::http) module docs.)

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use std::borrow::Cow;

use http::header::{AUTHORIZATION, COOKIE, SET_COOKIE};
use http::{HeaderMap, Request, Response};
use pin_project_lite::pin_project;
use serde::de::DeserializeOwned;
use tower_layer::Layer;
use tower_service::Service;

use crate::http::settings::WebSettings;
use crate::trust::verify::Verifier;
use std::sync::atomic::Ordering;

use crate::http::cache::{CacheKey, Verdict, VerifiedCache};
use crate::http::rfc6750::{AuthError, FallbackRendered, InvalidRequest, RefusalBody, Rendering};
use crate::http::{grpc, websocket};
use crate::store::StoreError;
use crate::token::claims::{ClaimsView, NoCustomClaims, TokenKind};
use crate::token::error::InvalidToken;
use crate::trust::verify::{Acceptance, Holder, KindSet, OriginFilter, revocation_check};

/// Where the request's token came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenSource {
    /// The `Authorization: Bearer` header.
    Header,
    /// The access-token cookie.
    Cookie,
    /// The `access_token` query parameter of a WebSocket upgrade request (RFC 6750
    /// §2.3), when the layer accepts it
    /// ([`accept_query_token_on_upgrade`](TokenAuthLayer::accept_query_token_on_upgrade)).
    Query,
}

/// What the layer does with a request that has no acceptable token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Refuse it.
    Required,
    /// Pass it on without claims, whatever the reason.
    Optional,
    /// Pass it on without claims when it carries no token; refuse it otherwise.
    OptionalRefusingInvalid,
}

impl Mode {
    /// Whether a request refused for `error` passes on without claims.
    fn passes(self, error: &AuthError) -> bool {
        match self {
            Mode::Required => false,
            Mode::Optional => true,
            Mode::OptionalRefusingInvalid => *error == AuthError::MissingCredentials,
        }
    }
}

/// What the layer leaves in the request's extensions: always the renderer (so extractors
/// know the layer ran), and the verified claims when there are any.
#[derive(Clone)]
pub(crate) struct AuthContext {
    pub(crate) rendering: Rendering,
    pub(crate) claims: Option<Arc<dyn ClaimsView>>,
    /// The verified claims JSON, for extracting other claims types than the layer's.
    pub(crate) payload: Option<Arc<[u8]>>,
    pub(crate) source: Option<TokenSource>,
    /// The request is a gRPC call: refusals are gRPC statuses.
    pub(crate) grpc: bool,
    /// The URI carries an `access_token` parameter and the query source is on: it is
    /// removed from the URI the inner service sees.
    pub(crate) query_token: bool,
}

/// Validates tokens on every request it wraps. Build it with [`TokenAuth::layer`](crate::TokenAuth::layer) or,
/// for an application claims type `T`, [`TokenAuthLayer::<T>::new`](TokenAuthLayer::new).
///
/// * Required mode (default): a request without a valid access token is refused with an
///   RFC 6750 response and never reaches the handler.
/// * Optional mode ([`optional`](Self::optional)): such a request passes through without
///   claims. The claims of an invalid token are never exposed.
/// * Optional mode refusing invalid tokens
///   ([`optional_refusing_invalid`](Self::optional_refusing_invalid)): a request without
///   a token passes through without claims; one with a bad, expired or revoked token is
///   refused, so the client learns to refresh it.
///
/// The layer wraps any `http` service whose response body implements
/// [`RefusalBody`](crate::http::RefusalBody): axum routers, and tonic servers with the
/// `tonic` feature. A refused gRPC request (`content-type: application/grpc…`) is
/// answered with HTTP 200 and a `grpc-status` (16 `UNAUTHENTICATED`, 7
/// `PERMISSION_DENIED`, 14 `UNAVAILABLE`, see [`AuthError::grpc_code`]) and
/// `grpc-message` in the headers, not by the [`ErrorRenderer`](crate::http::ErrorRenderer).
///
/// ```
/// # #[cfg(feature = "tonic")] fn demo(auth: axum_token_auth::TokenAuth) {
/// // tonic: the layer in front of every service; methods read the claims with
/// // `Claims::<T>::from_extensions(request.extensions())`.
/// let server = tonic::transport::Server::builder().layer(auth.layer());
/// # let _ = server; }
/// ```
#[must_use]
pub struct TokenAuthLayer<T = NoCustomClaims> {
    verifier: Arc<Verifier>,
    web: Arc<WebSettings>,
    mode: Mode,
    query_on_upgrade: bool,
    accept: KindSet,
    origins: Arc<OriginFilter>,
    cache: Option<Arc<VerifiedCache>>,
    _claims: PhantomData<fn() -> T>,
}

impl<T> Clone for TokenAuthLayer<T> {
    fn clone(&self) -> Self {
        TokenAuthLayer {
            verifier: Arc::clone(&self.verifier),
            web: Arc::clone(&self.web),
            mode: self.mode,
            query_on_upgrade: self.query_on_upgrade,
            accept: self.accept,
            origins: Arc::clone(&self.origins),
            cache: self.cache.clone(),
            _claims: PhantomData,
        }
    }
}

impl<T> fmt::Debug for TokenAuthLayer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenAuthLayer")
            .field("mode", &self.mode)
            .field("query_on_upgrade", &self.query_on_upgrade)
            .field("accept", &self.accept)
            .field("origins", &self.origins)
            .finish_non_exhaustive()
    }
}

impl<T> TokenAuthLayer<T> {
    /// The layer over a handle's verification and HTTP settings (what
    /// [`new`](Self::new) takes from a [`TokenAuth`](crate::TokenAuth)).
    pub(crate) fn from_parts(verifier: Arc<Verifier>, web: Arc<WebSettings>) -> Self {
        TokenAuthLayer {
            cache: new_cache(&web),
            verifier,
            web,
            mode: Mode::Required,
            query_on_upgrade: false,
            accept: KindSet::of(TokenKind::Access),
            origins: Arc::new(OriginFilter::ANY),
            _claims: PhantomData,
        }
    }

    /// Optional mode: requests without a valid token pass through without claims.
    ///
    /// Whatever the reason: no token, a bad, expired or revoked one, a malformed
    /// `Authorization` header — and an outage of the revocation store or of an external
    /// issuer's keys, which makes such requests anonymous (never authenticated) until it
    /// ends. For routes where a stale token should make the client refresh rather than
    /// silently see the anonymous page, use
    /// [`optional_refusing_invalid`](Self::optional_refusing_invalid).
    ///
    /// ```
    /// use axum::{Router, routing::get};
    /// use axum_token_auth::{Claims, TokenAuth};
    ///
    /// let auth = TokenAuth::builder()
    ///     .hs256_secret("a-random-secret-of-at-least-32-bytes!!")
    ///     .build()?;
    /// let app: Router = Router::new()
    ///     .route("/", get(|c: Option<Claims>| async move {
    ///         c.map_or("hello stranger".to_owned(), |c| format!("hello {}", c.sub))
    ///     }))
    ///     .layer(auth.layer().optional());
    /// # Ok::<(), axum_token_auth::ConfigError>(())
    /// ```
    pub fn optional(mut self) -> Self {
        self.mode = Mode::Optional;
        self
    }

    /// Optional mode for clients that refresh: a request **without** a token passes
    /// through without claims (anonymous); a request with a token that is not accepted
    /// (bad, expired, revoked, wrong kind, malformed header, failed CSRF check) is
    /// refused as in required mode — 401 `invalid_token` tells the client to refresh.
    /// That includes an expired access *cookie*: for pages a browser should still see
    /// anonymously with a stale cookie, [`optional`](Self::optional) fits better.
    ///
    /// A presented token always gets a definite answer: when the revocation store (or an
    /// external issuer's key set) is down, the request is refused with 503
    /// `temporarily_unavailable` and `Retry-After` (unless the revocation store's
    /// failure policy is fail-open), never downgraded to anonymous.
    ///
    /// ```
    /// # fn demo(auth: axum_token_auth::TokenAuth) {
    /// use axum::{Router, routing::get};
    /// use axum_token_auth::Claims;
    ///
    /// async fn home(claims: Option<Claims>) -> String {
    ///     match claims {
    ///         Some(c) => format!("hello {}", c.sub),
    ///         None => "hello stranger".into(),
    ///     }
    /// }
    /// let app: Router = Router::new()
    ///     .route("/", get(home))
    ///     .layer(auth.layer().optional_refusing_invalid());
    /// # }
    /// ```
    pub fn optional_refusing_invalid(mut self) -> Self {
        self.mode = Mode::OptionalRefusingInvalid;
        self
    }

    /// Also takes the token from the `access_token` query parameter (RFC 6750 §2.3) —
    /// on WebSocket opening handshakes only (`GET` with `Upgrade: websocket`,
    /// `Connection: upgrade` and a `Sec-WebSocket-Key`), for
    /// browsers, whose WebSocket API cannot set an `Authorization` header:
    /// `new WebSocket("wss://api.example.com/ws?access_token=" + token)`.
    ///
    /// On any other request the parameter is ignored (the request has no token). A
    /// query token together with a header or cookie token, or two `access_token`
    /// parameters, is 400 `invalid_request`. A query token is no ambient credential:
    /// no CSRF or origin check applies to it. With the option on, the layer removes
    /// `access_token` from the URI the inner service sees (and from axum's
    /// `OriginalUri`) on **every** request that reaches it — read, refused and passed on
    /// in an optional mode, or ignored on a plain request — so handlers and layers inside
    /// this one never see it.
    ///
    /// ⚠️ **The URL is logged by others.** Reverse proxies, load balancers and access
    /// logs record request URLs, query string included: a token there is as good as
    /// leaked to whoever reads those logs. Keep tokens for such sockets short-lived
    /// (minutes: `TokenRequest::ttl`), make sure no proxy or `TraceLayer` *outside* this
    /// layer logs the query string of the WebSocket route, and prefer the cookie (a
    /// same-site browser sends it with the handshake) where you can.
    ///
    /// ```
    /// # fn demo(auth: axum_token_auth::TokenAuth) {
    /// use axum::{Router, extract::ws::WebSocketUpgrade, response::Response, routing::get};
    /// use axum_token_auth::Claims;
    ///
    /// async fn ws(upgrade: WebSocketUpgrade, claims: Claims) -> Response {
    ///     let deadline = tokio::time::Instant::now() + claims.expires_in();
    ///     upgrade.on_upgrade(move |socket| async move {
    ///         // … serve `socket` until `deadline` (see `Claims::expires_in`)
    ///         # let _ = (socket, deadline);
    ///     })
    /// }
    /// let app: Router = Router::new()
    ///     .route("/ws", get(ws))
    ///     .layer(auth.layer().accept_query_token_on_upgrade());
    /// # }
    /// ```
    pub fn accept_query_token_on_upgrade(mut self) -> Self {
        self.query_on_upgrade = true;
        self
    }

    /// What this layer's cache of verified tokens has done so far (hits, misses,
    /// entries, bytes); `None` when caching is off. Layers made from this one share
    /// its cache (and its counters), unless [`also_accept`](Self::also_accept) gave them
    /// their own.
    pub fn cache_stats(&self) -> Option<crate::http::CacheStats> {
        self.cache.as_deref().map(VerifiedCache::stats)
    }

    /// Also accepts tokens of `kind` (e.g. [`TokenKind::Service`] on machine-to-machine
    /// routes). Access tokens are always accepted.
    ///
    /// ```
    /// use axum::{Router, routing::post};
    /// use axum_token_auth::{Claims, TokenAuth, token::TokenKind};
    ///
    /// let auth = TokenAuth::builder()
    ///     .hs256_secret("a-random-secret-of-at-least-32-bytes!!")
    ///     .build()?;
    /// // A machine-to-machine route: service tokens (and access tokens) are accepted.
    /// let internal: Router = Router::new()
    ///     .route("/internal/reindex", post(|c: Claims| async move { c.sub.clone() }))
    ///     .route_layer(auth.layer().also_accept(TokenKind::Service));
    /// # Ok::<(), axum_token_auth::ConfigError>(())
    /// ```
    pub fn also_accept(mut self, kind: TokenKind) -> Self {
        self.accept = self.accept.with(kind);
        // A cache shared with a layer accepting fewer kinds must not serve this one.
        self.cache = new_cache(&self.web);
        self
    }
}

/// A layer's own cache of verified tokens, as configured (`None`: caching off).
impl<T> TokenAuthLayer<T> {
    /// Accepts only this service's own tokens: a trusted identity provider's or a legacy
    /// format's token is refused with 401 `invalid_token` ("the token issuer is not
    /// accepted"), even though the handle trusts it elsewhere. For routes that act on
    /// *this service's* users by `sub` (their sessions, their account): a `sub` is unique
    /// only within its issuer, so an identity provider's `alice` is not ours.
    ///
    /// Combines with [`issuers`](Self::issuers) into one allow-list.
    ///
    /// ```
    /// use axum::{Router, routing::get};
    /// use axum_token_auth::{Claims, TokenAuth};
    ///
    /// let auth = TokenAuth::builder()
    ///     .hs256_secret("a-random-secret-of-at-least-32-bytes!!")
    ///     .build()?;
    /// let account: Router = Router::new()
    ///     .route("/account", get(|c: Claims| async move { c.sub.clone() }))
    ///     .route_layer(auth.layer().own_tokens_only());
    /// # Ok::<(), axum_token_auth::ConfigError>(())
    /// ```
    pub fn own_tokens_only(mut self) -> Self {
        self.origins = OriginFilter::add_own(&self.origins);
        // A cache shared with a layer accepting more signers must not serve this one.
        self.cache = new_cache(&self.web);
        self
    }

    /// Accepts only tokens of these trusted issuers (their exact `iss`), plus this
    /// service's own when [`own_tokens_only`](Self::own_tokens_only) is also called:
    /// the calls build one allow-list. Any other signer's token is refused with 401
    /// `invalid_token`. An `iss` the handle does not trust adds nothing.
    ///
    /// ```
    /// use axum::{Router, routing::get};
    /// use axum_token_auth::{Claims, TokenAuth};
    ///
    /// let auth = TokenAuth::builder()
    ///     .hs256_secret("a-random-secret-of-at-least-32-bytes!!")
    ///     .build()?;
    /// // Machine-to-machine routes: the identity provider's tokens only.
    /// let m2m: Router = Router::new()
    ///     .route("/jobs", get(|c: Claims| async move { c.sub.clone() }))
    ///     .route_layer(auth.layer().issuers(["https://idp.example.com"]));
    /// # Ok::<(), axum_token_auth::ConfigError>(())
    /// ```
    pub fn issuers<I, S>(mut self, issuers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.origins = OriginFilter::add_issuers(&self.origins, issuers);
        self.cache = new_cache(&self.web);
        self
    }

    /// What this layer accepts: its kinds and signers, time checked.
    fn acceptance(&self) -> Acceptance<'_> {
        Acceptance {
            kinds: self.accept,
            origins: &self.origins,
            timed: true,
        }
    }
}

fn new_cache(web: &WebSettings) -> Option<Arc<VerifiedCache>> {
    VerifiedCache::new(web.cache_capacity, web.cache_bytes).map(Arc::new)
}

impl<S, T> Layer<S> for TokenAuthLayer<T> {
    type Service = TokenAuthService<S, T>;
    fn layer(&self, inner: S) -> Self::Service {
        TokenAuthService {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service made by [`TokenAuthLayer`].
pub struct TokenAuthService<S, T = NoCustomClaims> {
    inner: S,
    layer: TokenAuthLayer<T>,
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

/// Finds the request's token: `Ok(None)` when there is none, an error when the request
/// is malformed (two `Authorization` headers, a bad `Bearer` value, or a header token
/// and a different cookie token).
pub(crate) fn find_token<'h>(
    headers: &'h HeaderMap,
    cookie_name: Option<&str>,
    max_bytes: usize,
) -> Result<Option<(&'h str, TokenSource)>, AuthError> {
    let found = locate_token(headers, cookie_name, max_bytes)?;
    if let Some((token, source)) = found {
        check_charset(token, source)?;
    }
    Ok(found)
}

/// [`find_token`] without the charset check of the header token.
fn locate_token<'h>(
    headers: &'h HeaderMap,
    cookie_name: Option<&str>,
    max_bytes: usize,
) -> Result<Option<(&'h str, TokenSource)>, AuthError> {
    let mut auth_headers = headers.get_all(AUTHORIZATION).iter();
    let header_token = match (auth_headers.next(), auth_headers.next()) {
        (Some(_), Some(_)) => return Err(InvalidRequest::MultipleAuthorization.into()),
        (Some(v), None) => parse_bearer(v.as_bytes(), max_bytes)?,
        (None, _) => None,
    };
    let cookie_token = match cookie_name {
        Some(name) => find_cookie(headers, name),
        None => None,
    };
    if cookie_token.is_some_and(|c| c.len() > max_bytes) {
        return Err(InvalidToken::TooLarge.into());
    }
    match (header_token, cookie_token) {
        (Some(h), Some(c)) if !c.is_empty() && h != c => {
            Err(InvalidRequest::ConflictingCredentials.into())
        }
        (Some(h), _) => Ok(Some((h, TokenSource::Header))),
        (None, Some(c)) if !c.is_empty() => Ok(Some((c, TokenSource::Cookie))),
        _ => Ok(None),
    }
}

/// `Bearer <b64token>` (RFC 6750 §2.1), scheme case-insensitive. Another scheme is not
/// a bearer credential (`Ok(None)`).
fn parse_bearer(value: &[u8], max_bytes: usize) -> Result<Option<&str>, AuthError> {
    let malformed = || AuthError::InvalidRequest(InvalidRequest::MalformedAuthorization);
    // `Bearer` followed by a space or the end; any other scheme is no bearer credential.
    let (scheme, rest) = match value.get(..6) {
        Some(s) if value.len() == 6 || value[6] == b' ' => (s, &value[6..]),
        _ => return Ok(None),
    };
    if !scheme.eq_ignore_ascii_case(b"bearer") {
        return Ok(None);
    }
    let rest = std::str::from_utf8(rest).map_err(|_| malformed())?;
    let token = rest.trim_start_matches(' ');
    if token.len() > max_bytes {
        return Err(InvalidToken::TooLarge.into());
    }
    if token.is_empty() {
        return Err(malformed());
    }
    Ok(Some(token))
}

/// The `b64token` charset check of a header or query token (RFC 6750 §2.1): 400 when it
/// fails. The layer runs it only on a cache miss: a cached token passed it when it was
/// verified.
pub(crate) fn check_charset(token: &str, source: TokenSource) -> Result<(), AuthError> {
    if source != TokenSource::Cookie && !is_b64token(token) {
        return Err(AuthError::InvalidRequest(
            InvalidRequest::MalformedAuthorization,
        ));
    }
    Ok(())
}

/// RFC 6750 `b64token`: `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
fn is_b64token(t: &str) -> bool {
    const fn table() -> [bool; 256] {
        let mut t = [false; 256];
        let mut i = 0;
        while i < 256 {
            let b = i as u8;
            t[i] =
                b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/');
            i += 1;
        }
        t
    }
    static B64TOKEN: [bool; 256] = table();
    let body = t.trim_end_matches('=');
    // No early exit: a valid token is read to its end anyway, and the loop stays simple.
    !body.is_empty() && body.bytes().fold(true, |ok, b| ok & B64TOKEN[b as usize])
}

/// The first cookie called `name` across all `Cookie` headers.
pub(crate) fn find_cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (k, v) = pair.trim().split_once('=')?;
            (k.trim() == name).then(|| v.trim().trim_matches('"'))
        })
}

/// The request's token as the layer reads it: the header or cookie token, or — when
/// enabled, on WebSocket upgrades only — the `access_token` query parameter.
fn locate_request_token<'r, B, T>(
    layer: &TokenAuthLayer<T>,
    req: &'r Request<B>,
) -> Result<Option<(Cow<'r, str>, TokenSource)>, AuthError> {
    let max_bytes = layer.verifier.settings.max_token_bytes;
    let found = locate_token(req.headers(), layer.web.access_cookie.as_deref(), max_bytes)?;
    if !layer.query_on_upgrade || !websocket::is_upgrade(req) {
        return Ok(found.map(|(t, s)| (Cow::Borrowed(t), s)));
    }
    match (found, websocket::query_token(req.uri(), max_bytes)?) {
        (Some(_), Some(_)) => Err(InvalidRequest::MultipleTokens.into()),
        (Some((t, s)), None) => Ok(Some((Cow::Borrowed(t), s))),
        (None, Some(q)) => Ok(Some((q, TokenSource::Query))),
        (None, None) => Ok(None),
    }
}

type RevocationFuture = Pin<Box<dyn Future<Output = Result<bool, StoreError>> + Send>>;
type WaitFuture = Pin<Box<dyn Future<Output = ()> + Send>>;
/// Runs the layer's checks again on a request (after a key-set refetch).
type Resume<S, B> = Box<dyn FnOnce(&mut S, Request<B>) -> ResponseFuture<S, B> + Send>;

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
fn authenticate<S, T, B, ResBody>(
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
    let verified = match locate_request_token(layer, &req) {
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
            ResponseFuture {
                state: State::Checking {
                    check,
                    pending: Some(Box::new(Pending {
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
                    })),
                },
            }
        }
    }
}

impl AuthContext {
    fn accept(&mut self, verdict: Verdict, source: TokenSource) {
        self.claims = Some(verdict.claims);
        self.payload = Some(verdict.payload);
        self.source = Some(source);
    }
}

/// A request waiting for the revocation store's answer.
struct Pending<S, B> {
    inner: S,
    req: Request<B>,
    ctx: AuthContext,
    verdict: Verdict,
    source: TokenSource,
    verifier: Arc<Verifier>,
    mode: Mode,
    /// The layer's cache and the freshly verified token's key, to remember once accepted.
    cache: Option<(Arc<VerifiedCache>, CacheKey)>,
    now: u64,
    epoch: u64,
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
    fn call(inner: &mut S, ctx: AuthContext, mut req: Request<B>) -> Self {
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
    fn refuse_or_pass(
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
    fn wait_for_keys<T>(
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

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        for v in [
            "Bearer abc.def.ghi",
            "bearer abc.def.ghi",
            "BEARER  abc.def.ghi",
        ] {
            let h = headers(&[("authorization", v)]);
            assert_eq!(
                find_token(&h, None, 8192).unwrap(),
                Some(("abc.def.ghi", TokenSource::Header)),
                "{v}"
            );
        }
    }

    #[test]
    fn malformed_bearer_values_are_invalid_request() {
        for v in [
            "Bearer",
            "Bearer ",
            "Bearer a b",
            "Bearer a\"b",
            "Bearer =abc",
            "Bearer a,b",
        ] {
            let h = headers(&[("authorization", v)]);
            assert_eq!(
                find_token(&h, None, 8192).unwrap_err(),
                AuthError::InvalidRequest(InvalidRequest::MalformedAuthorization),
                "{v}"
            );
        }
    }

    #[test]
    fn other_schemes_are_not_bearer_credentials() {
        let h = headers(&[("authorization", "Basic dXNlcjpwYXNz")]);
        assert_eq!(find_token(&h, None, 8192).unwrap(), None);
    }

    #[test]
    fn two_authorization_headers_are_invalid_request() {
        let h = headers(&[("authorization", "Bearer a"), ("authorization", "Bearer a")]);
        assert_eq!(
            find_token(&h, None, 8192).unwrap_err(),
            AuthError::InvalidRequest(InvalidRequest::MultipleAuthorization)
        );
    }

    #[test]
    fn cookie_is_found_and_conflicts_are_refused() {
        let h = headers(&[("cookie", "a=1; access_token=tok.en.x; b=2")]);
        assert_eq!(
            find_token(&h, Some("access_token"), 8192).unwrap(),
            Some(("tok.en.x", TokenSource::Cookie))
        );
        assert_eq!(find_token(&h, None, 8192).unwrap(), None);
        let h = headers(&[
            ("cookie", "access_token=one"),
            ("authorization", "Bearer two"),
        ]);
        assert_eq!(
            find_token(&h, Some("access_token"), 8192).unwrap_err(),
            AuthError::InvalidRequest(InvalidRequest::ConflictingCredentials)
        );
        let h = headers(&[
            ("cookie", "access_token=same"),
            ("authorization", "Bearer same"),
        ]);
        assert_eq!(
            find_token(&h, Some("access_token"), 8192).unwrap(),
            Some(("same", TokenSource::Header))
        );
    }

    #[test]
    fn oversize_is_refused_before_decoding() {
        let big = format!("Bearer {}", "a".repeat(300));
        let h = headers(&[("authorization", &big)]);
        assert_eq!(
            find_token(&h, None, 256).unwrap_err(),
            AuthError::InvalidToken(InvalidToken::TooLarge)
        );
    }
}
