//! [`TokenAuthLayer`]: the Tower layer that takes the token from `Authorization: Bearer` or
//! the access cookie, validates it, and puts the verified claims in the request's
//! extensions for the extractors.
//!
//! (Documented with examples in the [`http`](crate::http) module docs.)
//!
//! One concern per file, as tower-http's middlewares: the layer and its options here;
//! [`service`] the service and the work on one request; [`future`] the response
//! future; [`credentials`] the request-credentials reader; [`context`] the
//! layer↔extractor contract.

pub(crate) mod context;
pub(crate) mod credentials;
pub(crate) mod future;
pub(crate) mod service;

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use tower_layer::Layer;

use crate::http::cache::{Verdict, VerifiedCache};
use crate::http::rfc6750::{AuthError, DpopChallenge, Rendering};
use crate::http::settings::WebSettings;
use crate::http::web::Web;
use crate::token::claims::{NoCustomClaims, TokenKind};
use crate::trust::dpop::{Dpop, DpopPolicy};
use crate::trust::verify::{Acceptance, KindSet, OriginFilter, Verifier};

pub(crate) use context::AuthContext;
pub use credentials::TokenSource;
pub(crate) use credentials::{find_cookie, find_token};
pub use future::ResponseFuture;
pub(crate) use future::refusal;
pub use service::TokenAuthService;

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
    state: Arc<LayerState>,
    _claims: PhantomData<fn() -> T>,
}

/// What a layer and its services share, read on every request. One allocation behind
/// one reference count: axum clones a route's service for every request, so a clone
/// is one increment, not one per setting.
#[derive(Clone)]
struct LayerState {
    verifier: Arc<Verifier>,
    web: Arc<WebSettings>,
    mode: Mode,
    query_on_upgrade: bool,
    accept: KindSet,
    origins: Arc<OriginFilter>,
    cache: Option<Arc<VerifiedCache>>,
    /// DPoP policy of this layer (`Off` when the handle has no DPoP).
    dpop: DpopPolicy,
    /// How refusals are rendered: the handle's renderer, with this layer's DPoP
    /// challenges.
    rendering: Rendering,
}

impl LayerState {
    /// Whether a verified token presented from `source` goes through the binding step:
    /// it is sender-constrained, it came with the `DPoP` scheme, or this layer requires
    /// DPoP. Every other (bearer) request skips it.
    #[inline]
    fn needs_binding(&self, verdict: &Verdict, source: TokenSource) -> bool {
        verdict.identity.bound || source == TokenSource::Dpop || self.dpop == DpopPolicy::Required
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

impl<T> Clone for TokenAuthLayer<T> {
    fn clone(&self) -> Self {
        TokenAuthLayer {
            state: Arc::clone(&self.state),
            _claims: PhantomData,
        }
    }
}

impl<T> fmt::Debug for TokenAuthLayer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenAuthLayer")
            .field("mode", &self.state.mode)
            .field("query_on_upgrade", &self.state.query_on_upgrade)
            .field("accept", &self.state.accept)
            .field("origins", &self.state.origins)
            .finish_non_exhaustive()
    }
}

impl<T> TokenAuthLayer<T> {
    /// A layer in required mode accepting access tokens, decoding claims as `T`, over a
    /// [`TokenAuth`](crate::TokenAuth) (by reference or value) or its [`Web`] side.
    ///
    /// ```
    /// use axum::{Router, routing::get};
    /// use axum_token_auth::{Claims, TokenAuth, TokenAuthLayer};
    /// use serde::Deserialize;
    ///
    /// #[derive(Deserialize)]
    /// struct Org {
    ///     org: String,
    /// }
    ///
    /// let auth = TokenAuth::builder()
    ///     .hs256_secret("a-random-secret-of-at-least-32-bytes!!")
    ///     .build()?;
    /// let app: Router = Router::new()
    ///     .route("/org", get(|c: Claims<Org>| async move { c.custom.org.clone() }))
    ///     .layer(TokenAuthLayer::<Org>::new(&auth));
    /// # Ok::<(), axum_token_auth::ConfigError>(())
    /// ```
    pub fn new(auth: impl Into<Web>) -> Self {
        let web = auth.into();
        TokenAuthLayer::from_parts(web.verifier, web.settings)
    }

    /// The layer over a handle's verification and HTTP settings (what
    /// [`new`](Self::new) takes from a [`TokenAuth`](crate::TokenAuth)).
    pub(crate) fn from_parts(verifier: Arc<Verifier>, web: Arc<WebSettings>) -> Self {
        let dpop = verifier
            .dpop
            .as_deref()
            .map_or(DpopPolicy::Off, |d| d.policy);
        TokenAuthLayer {
            state: Arc::new(LayerState {
                cache: new_cache(&web),
                rendering: web.rendering.clone(),
                dpop,
                verifier,
                web,
                mode: Mode::Required,
                query_on_upgrade: false,
                accept: KindSet::of(TokenKind::Access),
                origins: Arc::new(OriginFilter::ANY),
            }),
            _claims: PhantomData,
        }
    }

    /// The settings, to change (copied first when another layer shares them).
    fn state_mut(&mut self) -> &mut LayerState {
        Arc::make_mut(&mut self.state)
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
        self.state_mut().mode = Mode::Optional;
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
        self.state_mut().mode = Mode::OptionalRefusingInvalid;
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
    /// use axum::{Router, extract::{State, ws::WebSocketUpgrade}, response::Response, routing::get};
    /// use axum_token_auth::{Claims, TokenAuth};
    ///
    /// async fn ws(upgrade: WebSocketUpgrade, State(auth): State<TokenAuth>, claims: Claims) -> Response {
    ///     let deadline = tokio::time::Instant::now() + claims.expires_in(auth.now());
    ///     upgrade.on_upgrade(move |socket| async move {
    ///         // … serve `socket` until `deadline` (see `Claims::expires_in`)
    ///         # let _ = (socket, deadline);
    ///     })
    /// }
    /// let app: Router = Router::new()
    ///     .route("/ws", get(ws))
    ///     .layer(auth.layer().accept_query_token_on_upgrade())
    ///     .with_state(auth);
    /// # }
    /// ```
    pub fn accept_query_token_on_upgrade(mut self) -> Self {
        self.state_mut().query_on_upgrade = true;
        self
    }

    /// This layer's DPoP policy (RFC 9449), overriding the handle's
    /// ([`DpopSettings::policy`](crate::trust::dpop::DpopSettings::policy)):
    /// [`Required`](DpopPolicy::Required) on routes that take sender-constrained tokens
    /// only, [`Off`](DpopPolicy::Off) where `Authorization: DPoP` is no credential.
    /// Whatever the policy, a DPoP-bound token is accepted only with a matching proof.
    /// Without DPoP configured on the handle, the policy is `Off` and this changes
    /// nothing.
    ///
    /// ```
    /// use axum::{Router, routing::post};
    /// use axum_token_auth::{Claims, TokenAuth};
    /// use axum_token_auth::trust::dpop::{DpopPolicy, DpopSettings};
    ///
    /// let auth = TokenAuth::builder()
    ///     .hs256_secret("a-random-secret-of-at-least-32-bytes!!")
    ///     .dpop(DpopSettings::new("https://api.example.com"))
    ///     .build()?;
    /// // Payments: a copied token is useless here.
    /// let payments: Router = Router::new()
    ///     .route("/payments", post(|c: Claims| async move { c.sub.clone() }))
    ///     .route_layer(auth.layer().dpop(DpopPolicy::Required));
    /// # Ok::<(), axum_token_auth::ConfigError>(())
    /// ```
    pub fn dpop(mut self, policy: DpopPolicy) -> Self {
        let state = self.state_mut();
        if let Some(d) = state.verifier.dpop.as_deref() {
            state.dpop = policy;
            state.rendering = state.web.rendering.with_dpop(dpop_challenge(d, policy));
        }
        self
    }

    /// What this layer's cache of verified tokens has done so far (hits, misses,
    /// entries, bytes); `None` when caching is off. Layers made from this one share
    /// its cache (and its counters), unless [`also_accept`](Self::also_accept) gave them
    /// their own.
    pub fn cache_stats(&self) -> Option<crate::http::CacheStats> {
        self.state.cache.as_deref().map(VerifiedCache::stats)
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
        let state = self.state_mut();
        state.accept = state.accept.with(kind);
        // A cache shared with a layer accepting fewer kinds must not serve this one.
        state.cache = new_cache(&state.web);
        self
    }
}

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
        let state = self.state_mut();
        state.origins = OriginFilter::add_own(&state.origins);
        // A cache shared with a layer accepting more signers must not serve this one.
        state.cache = new_cache(&state.web);
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
        let state = self.state_mut();
        state.origins = OriginFilter::add_issuers(&state.origins, issuers);
        state.cache = new_cache(&state.web);
        self
    }
}

/// The DPoP challenge a layer with `policy` adds to its 401s (`None`: DPoP off).
pub(crate) fn dpop_challenge(d: &Dpop, policy: DpopPolicy) -> Option<DpopChallenge> {
    (policy != DpopPolicy::Off).then(|| DpopChallenge {
        algs: d.challenge_algs.as_str().into(),
        bearer: policy != DpopPolicy::Required,
    })
}

/// A layer's own cache of verified tokens, as configured (`None`: caching off).
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
