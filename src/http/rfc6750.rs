//! [`AuthError`]: every way a request can be refused, rendered as an RFC 6750 response,
//! and the [`ErrorRenderer`] hook that lets an application render it its own way.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use axum::response::{IntoResponse, Response};
use http::header::{CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderMap, HeaderValue, StatusCode};

use crate::token::error::InvalidToken;
use crate::trust::VerifyError;
use crate::trust::dpop::ProofError;

/// The `DPoP-Nonce` response header (RFC 9449 §8).
pub const DPOP_NONCE: http::HeaderName = http::HeaderName::from_static("dpop-nonce");

/// What a layer with DPoP on adds to its 401 challenges.
#[derive(Debug, Clone)]
pub(crate) struct DpopChallenge {
    /// The accepted proof algorithms, space-separated.
    pub(crate) algs: Box<str>,
    /// Bearer tokens are accepted too: the `Bearer` challenge stays beside.
    pub(crate) bearer: bool,
}

/// The default `realm` of `WWW-Authenticate` challenges.
pub const DEFAULT_REALM: &str = "api";

/// Why a request was refused.
///
/// Every variant maps to one RFC 6750 answer (see [`AuthError::status`] and
/// [`AuthError::error_code`]). Descriptions are fixed strings: nothing a client sent is
/// ever echoed back. The error is attached to the response's extensions, so outer
/// layers can tell why a request was refused.
///
/// **One error path.** Whoever refuses a request — the layer, an extractor, a scope
/// guard, or your handler returning an `AuthError` (or a
/// [`SessionError`](crate::session::SessionError)) — the client gets the same answer,
/// rendered by the configured renderer: an `AuthError` turned into a response without
/// one (its [`IntoResponse`]) is rendered with the default JSON renderer and marked, and
/// a [`TokenAuthLayer`](crate::TokenAuthLayer) it passes through on the way out renders
/// it again with the configured renderer (or as a gRPC status for a gRPC request),
/// keeping the first response's `Set-Cookie` headers. A custom body with the RFC 6750
/// headers: [`AuthError::apply_headers`] or [`AuthError::into_response_with`].
///
/// ```
/// use axum::Json;
/// use axum_token_auth::{AuthError, http::DEFAULT_REALM};
///
/// // Your own body, the RFC 6750 status and headers (WWW-Authenticate, Cache-Control).
/// let res = AuthError::MissingCredentials
///     .into_response_with(DEFAULT_REALM, Json(serde_json::json!({"login": "/login"})));
/// assert_eq!(res.status(), 401);
/// assert_eq!(res.headers()["www-authenticate"], "Bearer realm=\"api\"");
/// assert_eq!(res.headers()["cache-control"], "no-store");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// No credentials at all: 401 with a bare `WWW-Authenticate: Bearer realm="…"`.
    #[error("no credentials were presented")]
    MissingCredentials,
    /// The request is malformed: 400 `invalid_request`.
    #[error("invalid request: {0}")]
    InvalidRequest(InvalidRequest),
    /// The token is bad, expired, revoked or of the wrong kind: 401 `invalid_token`.
    #[error("invalid token: {0}")]
    InvalidToken(InvalidToken),
    /// The token lacks a required scope: 403 `insufficient_scope`.
    ///
    /// `required` is the `scope` attribute of the challenge. For
    /// [`RequireScope`](crate::RequireScope) and [`RequireAllScopes`](crate::RequireAllScopes)
    /// it lists every scope needed. For [`RequireAnyScope`](crate::RequireAnyScope) it
    /// lists *every accepted* scope too, although one suffices: RFC 6750 §3 reads the
    /// attribute as the scopes a token needs, and a client that asks for all of them
    /// gets a token that passes, whereas naming only one would hide the others (the
    /// `error_description` stays the same fixed string).
    #[error("insufficient scope (requires `{required}`)")]
    InsufficientScope {
        /// The scopes required, space-separated (as in the `scope` attribute).
        required: Cow<'static, str>,
    },
    /// The token is valid but its authentication is too weak or too old for the
    /// resource (RFC 9470 step-up): 401 `insufficient_user_authentication` (never 403),
    /// the challenge naming what a new authentication must meet, so the client can ask
    /// its authorization server for it:
    /// `Bearer realm="api", error="insufficient_user_authentication",
    /// error_description="…", acr_values="mfa phr", max_age=300`.
    ///
    /// `acr_values` (space-separated, in order of preference) is left out of the
    /// challenge when it is outside the safe grammar (as `scope` is for
    /// [`InsufficientScope`](Self::InsufficientScope)); the guards that raise this error
    /// check their values when configured. Raised by
    /// [`StepUpLayer`](crate::http::StepUpLayer) and
    /// [`RequireStepUp`](crate::http::RequireStepUp).
    #[error("insufficient user authentication")]
    InsufficientUserAuthentication {
        /// The accepted authentication context classes (`acr_values`), space-separated.
        acr_values: Option<Cow<'static, str>>,
        /// The maximum age of the authentication, in seconds (`max_age`).
        max_age: Option<u64>,
    },
    /// A login was refused (wrong user name or password): 401 with a bare challenge and
    /// the OAuth 2.0 code `invalid_grant` in the body.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// Too many failed logins (a [`LoginThrottle`](crate::session::LoginThrottle)
    /// refused the attempt before the password was checked): 429 with `Retry-After` (the
    /// seconds until the attempt may be made again) and the OAuth 2.0 code `slow_down`
    /// (registered for token requests by RFC 8628 §3.5: "ask again, later") in the body;
    /// no challenge (the credentials were not judged).
    #[error("too many failed login attempts")]
    TooManyAttempts {
        /// Seconds until the next attempt may be made (at least 1).
        retry_after: u64,
    },
    /// A store (revocation list, refresh families) could not be reached: 503.
    #[error("the token store is unavailable")]
    StoreUnavailable,
    /// A trusted external issuer's keys are unavailable (not fetched yet, or stale past
    /// their maximum age while the provider is down), or its introspection endpoint
    /// did not answer usably (down, slow, garbage, too large): 503
    /// `temporarily_unavailable`, never 401, since the token may well be valid.
    #[error("the issuer's keys are unavailable")]
    KeysUnavailable,
    /// The DPoP proof is refused (RFC 9449 §7.1): 401 `invalid_dpop_proof`, with a
    /// `DPoP` challenge naming the accepted algorithms.
    #[error("invalid DPoP proof: {0}")]
    InvalidDpopProof(ProofError),
    /// The DPoP proof lacks a fresh server nonce (RFC 9449 §8): 401 `use_dpop_nonce`
    /// with the nonce to use in the `DPoP-Nonce` header.
    #[error("a fresh DPoP nonce is required")]
    UseDpopNonce {
        /// The nonce the client must put in its next proof.
        nonce: String,
    },
    /// A token request's (login, refresh) DPoP proof is refused: 400 with the OAuth
    /// token-endpoint error `invalid_dpop_proof`, or `use_dpop_nonce` with the nonce in
    /// `DPoP-Nonce` (RFC 9449 §5, §8: the authorization server's answers, no
    /// `WWW-Authenticate`).
    #[error("invalid DPoP proof on a token request: {reason}")]
    DpopTokenRequest {
        /// Why.
        reason: ProofError,
        /// The nonce to use, for [`ProofError::UseNonce`].
        nonce: Option<String>,
    },
    /// A programming error: an extractor ran on a route without the layer in front of it.
    /// 500 with a generic body (`server_error`, "internal server error"); the message
    /// naming the mistake is logged (`tracing::error!`) when the error is rendered, and
    /// is this error's `Display`.
    #[error("{0}")]
    Misconfigured(&'static str),
}

/// Why a request is malformed (400 `invalid_request`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidRequest {
    /// A bearer token in the header and a different one in the cookie.
    #[error("the request carries two different tokens (header and cookie)")]
    ConflictingCredentials,
    /// An `access_token` query parameter (accepted on WebSocket upgrades when enabled)
    /// together with another token, or more than once (RFC 6750 §2: one method only).
    #[error("the request carries more than one token")]
    MultipleTokens,
    /// The `Authorization: Bearer` header is not `Bearer <token68>`.
    #[error("the Authorization header is malformed")]
    MalformedAuthorization,
    /// More than one `Authorization` header.
    #[error("the request has more than one Authorization header")]
    MultipleAuthorization,
    /// A body or form field could not be read.
    #[error("the request body is malformed")]
    MalformedBody,
    /// A cookie-authenticated unsafe request without a matching CSRF token.
    #[error("the CSRF token is missing or does not match")]
    CsrfMismatch,
    /// A cookie-authenticated unsafe request (or WebSocket handshake) from another site,
    /// or a cross-site request to a handler guarded by
    /// [`Web::check_same_origin`](crate::http::Web::check_same_origin).
    #[error("cross-site request refused")]
    CrossSite,
    /// The body must be `application/json` (see
    /// [`require_json_content_type`](crate::http::require_json_content_type)).
    #[error("the request body must be application/json")]
    NotJson,
    /// A refresh while a still-valid access token was presented, with the
    /// `require_expired_access` policy on.
    #[error("the access token has not expired yet")]
    AccessTokenNotExpired,
}

impl AuthError {
    /// The HTTP status this error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            AuthError::MissingCredentials
            | AuthError::InvalidCredentials
            | AuthError::InvalidToken(_)
            | AuthError::InvalidDpopProof(_)
            | AuthError::UseDpopNonce { .. }
            | AuthError::InsufficientUserAuthentication { .. } => StatusCode::UNAUTHORIZED,
            AuthError::InvalidRequest(InvalidRequest::CsrfMismatch | InvalidRequest::CrossSite) => {
                StatusCode::FORBIDDEN
            }
            AuthError::InvalidRequest(_) | AuthError::DpopTokenRequest { .. } => {
                StatusCode::BAD_REQUEST
            }
            AuthError::InsufficientScope { .. } => StatusCode::FORBIDDEN,
            AuthError::TooManyAttempts { .. } => StatusCode::TOO_MANY_REQUESTS,
            AuthError::StoreUnavailable | AuthError::KeysUnavailable => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            AuthError::Misconfigured(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The RFC 6750 error code (`invalid_request`, `invalid_token`, `insufficient_scope`),
    /// `invalid_grant` for a refused login,
    /// `temporarily_unavailable` for a store outage, `server_error` for a
    /// misconfiguration, and `None` when no credentials were presented.
    pub fn error_code(&self) -> Option<&'static str> {
        match self {
            AuthError::MissingCredentials => None,
            AuthError::InvalidCredentials => Some("invalid_grant"),
            AuthError::TooManyAttempts { .. } => Some("slow_down"),
            AuthError::InvalidRequest(_) => Some("invalid_request"),
            AuthError::InvalidToken(_) => Some("invalid_token"),
            AuthError::InvalidDpopProof(_) => Some("invalid_dpop_proof"),
            AuthError::UseDpopNonce { .. }
            | AuthError::DpopTokenRequest {
                reason: ProofError::UseNonce,
                ..
            } => Some("use_dpop_nonce"),
            AuthError::DpopTokenRequest { .. } => Some("invalid_dpop_proof"),
            AuthError::InsufficientScope { .. } => Some("insufficient_scope"),
            AuthError::InsufficientUserAuthentication { .. } => {
                Some("insufficient_user_authentication")
            }
            AuthError::StoreUnavailable | AuthError::KeysUnavailable => {
                Some("temporarily_unavailable")
            }
            AuthError::Misconfigured(_) => Some("server_error"),
        }
    }

    /// A human-readable description; a fixed string that never contains client input.
    pub fn description(&self) -> Cow<'static, str> {
        match self {
            AuthError::MissingCredentials => "authentication is required".into(),
            AuthError::InvalidCredentials => "wrong user name or password".into(),
            AuthError::TooManyAttempts { .. } => {
                "too many failed login attempts, try again later".into()
            }
            AuthError::InsufficientScope { .. } => {
                "the token does not grant the required scope".into()
            }
            AuthError::InsufficientUserAuthentication { .. } => {
                "a stronger or more recent authentication is required".into()
            }
            AuthError::StoreUnavailable => {
                "the token store is unavailable, try again shortly".into()
            }
            AuthError::KeysUnavailable => {
                "the token issuer's keys are unavailable, try again shortly".into()
            }
            // The detail is for the logs, not for the client.
            AuthError::Misconfigured(_) => "internal server error".into(),
            AuthError::InvalidRequest(r) => r.to_string().into(),
            AuthError::InvalidToken(r) => r.to_string().into(),
            AuthError::InvalidDpopProof(r) => r.to_string().into(),
            AuthError::UseDpopNonce { .. } => "a fresh DPoP nonce is required".into(),
            AuthError::DpopTokenRequest { reason, .. } => reason.to_string().into(),
        }
    }

    /// Whether this is a refusal of the DPoP proof (`invalid_dpop_proof`,
    /// `use_dpop_nonce`): its challenge is the `DPoP` one.
    pub fn is_dpop_error(&self) -> bool {
        matches!(
            self,
            AuthError::InvalidDpopProof(_) | AuthError::UseDpopNonce { .. }
        )
    }

    /// The value of the `WWW-Authenticate` header for `realm`, or `None` for answers that
    /// carry none (store outage, misconfiguration). The `Bearer` challenge, or for a
    /// DPoP error the `DPoP` one (a layer with DPoP on adds the algorithms, and the other
    /// scheme's challenge beside it: see [`TokenAuthBuilder::dpop`](crate::TokenAuthBuilder::dpop)).
    pub fn www_authenticate(&self, realm: &str) -> Option<HeaderValue> {
        if self.is_dpop_error() {
            return HeaderValue::from_str(&format!(
                "DPoP error=\"{}\", error_description=\"{}\"",
                self.error_code().unwrap_or_default(),
                self.description()
            ))
            .ok();
        }
        let mut v = format!("Bearer realm=\"{realm}\"");
        match self {
            AuthError::StoreUnavailable
            | AuthError::KeysUnavailable
            | AuthError::TooManyAttempts { .. }
            | AuthError::DpopTokenRequest { .. }
            | AuthError::Misconfigured(_) => return None,
            AuthError::MissingCredentials | AuthError::InvalidCredentials => {}
            AuthError::InsufficientScope { required } => {
                v.push_str(&format!(
                    ", error=\"insufficient_scope\", error_description=\"{}\"",
                    self.description()
                ));
                // RFC 6750 §3: scope tokens are %x21 / %x23-5B / %x5D-7E, separated by
                // spaces. Anything else (a quote, a backslash: parameters of their own)
                // leaves the attribute out rather than in the header.
                if is_scope_list(required) {
                    v.push_str(&format!(", scope=\"{required}\""));
                }
            }
            AuthError::InsufficientUserAuthentication { .. } => {
                v.push_str(&format!(
                    ", error=\"insufficient_user_authentication\", error_description=\"{}\"",
                    self.description()
                ));
                self.push_step_up_attributes(&mut v);
            }
            _ => {
                v.push_str(&format!(
                    ", error=\"{}\", error_description=\"{}\"",
                    self.error_code().unwrap_or_default(),
                    self.description()
                ));
            }
        }
        // Every piece is a fixed string or was checked when configured (realm, scopes).
        HeaderValue::from_str(&v).ok()
    }

    /// Adds this error's RFC 6750 headers to `headers`: `WWW-Authenticate` for `realm`
    /// (when the error carries a challenge), `Cache-Control: no-store`, and
    /// `Retry-After: 1` for the 503s (the throttle's seconds for
    /// [`TooManyAttempts`](AuthError::TooManyAttempts)). For an application's own error
    /// bodies; the default renderer uses it too.
    ///
    /// ```
    /// use axum_token_auth::AuthError;
    ///
    /// let mut headers = http::HeaderMap::new();
    /// AuthError::StoreUnavailable.apply_headers(&mut headers, "api");
    /// assert_eq!(headers["retry-after"], "1");
    /// assert!(headers.get("www-authenticate").is_none()); // a 503 is no challenge
    /// ```
    pub fn apply_headers(&self, headers: &mut HeaderMap, realm: &str) {
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(v) = self.www_authenticate(realm) {
            headers.insert(WWW_AUTHENTICATE, v);
        }
        if matches!(
            self,
            AuthError::StoreUnavailable | AuthError::KeysUnavailable
        ) {
            headers.insert(RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if let AuthError::TooManyAttempts { retry_after } = self {
            headers.insert(RETRY_AFTER, HeaderValue::from((*retry_after).max(1)));
        }
        if let AuthError::UseDpopNonce { nonce }
        | AuthError::DpopTokenRequest {
            nonce: Some(nonce), ..
        } = self
            && let Ok(v) = HeaderValue::from_str(nonce)
        {
            headers.insert(DPOP_NONCE, v);
        }
    }

    /// The challenges of a layer with DPoP on (RFC 9449 §7.1): where bearer tokens are
    /// accepted too, the `Bearer` challenge, then `DPoP algs="…"`. The error
    /// attributes go with the scheme they concern: a proof's or a binding's refusal on
    /// `DPoP`, any other on `Bearer` (on `DPoP` when bearer tokens are not accepted).
    pub(crate) fn challenges(&self, realm: &str, dpop: &DpopChallenge) -> Vec<HeaderValue> {
        let Some(bearer) = self.www_authenticate(realm) else {
            return Vec::new();
        };
        let binding = matches!(
            self,
            AuthError::InvalidToken(
                InvalidToken::UnprovenBinding
                    | InvalidToken::BindingMismatch
                    | InvalidToken::NotDpopBound
                    | InvalidToken::DpopRequired
            )
        );
        let on_dpop = self.is_dpop_error() || binding || !dpop.bearer;
        let mut d = format!("DPoP algs=\"{}\"", dpop.algs);
        if on_dpop && let Some(code) = self.error_code() {
            d.push_str(&format!(
                ", error=\"{code}\", error_description=\"{}\"",
                self.description()
            ));
            self.push_step_up_attributes(&mut d);
        }
        // `Bearer` first where it is accepted: clients that read one challenge keep
        // reading the one they always did.
        let mut out = Vec::with_capacity(2);
        if dpop.bearer {
            out.push(if on_dpop {
                HeaderValue::from_str(&format!("Bearer realm=\"{realm}\"")).unwrap_or(bearer)
            } else {
                bearer
            });
        }
        if let Ok(v) = HeaderValue::from_str(&d) {
            out.push(v);
        }
        out
    }

    /// `body` as this error's response: its status, its RFC 6750 headers (see
    /// [`apply_headers`](Self::apply_headers)), and the error in the response's
    /// extensions. Unlike [`into_response`](IntoResponse::into_response) it is not
    /// rendered again by the layer on the way out: the body is yours.
    pub fn into_response_with(self, realm: &str, body: impl IntoResponse) -> Response {
        let mut res = (self.status(), body).into_response();
        self.apply_headers(res.headers_mut(), realm);
        res.extensions_mut().insert(self);
        res
    }
}

impl AuthError {
    /// RFC 9470 §3: `acr_values="…"` (when within the grammar) and `max_age=…` of an
    /// [`InsufficientUserAuthentication`](AuthError::InsufficientUserAuthentication)
    /// challenge; nothing for any other error.
    fn push_step_up_attributes(&self, v: &mut String) {
        if let AuthError::InsufficientUserAuthentication {
            acr_values,
            max_age,
        } = self
        {
            if let Some(acr) = acr_values.as_deref().filter(|a| is_scope_list(a)) {
                v.push_str(&format!(", acr_values=\"{acr}\""));
            }
            if let Some(age) = max_age {
                v.push_str(&format!(", max_age={age}"));
            }
        }
    }
}

impl From<InvalidToken> for AuthError {
    fn from(e: InvalidToken) -> Self {
        AuthError::InvalidToken(e)
    }
}

/// Whether `s` is a space-separated list of RFC 6750 scope tokens (the grammar of
/// RFC 9470 `acr_values` too).
pub(crate) fn is_scope_list(s: &str) -> bool {
    !s.is_empty()
        && s.split(' ').all(|t| {
            !t.is_empty()
                && t.bytes()
                    .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
        })
}

impl From<VerifyError> for AuthError {
    fn from(e: VerifyError) -> Self {
        match e {
            VerifyError::InvalidToken(e) => AuthError::InvalidToken(e),
            VerifyError::KeysUnavailable => AuthError::KeysUnavailable,
            VerifyError::StoreUnavailable => AuthError::StoreUnavailable,
        }
    }
}

impl From<InvalidRequest> for AuthError {
    fn from(e: InvalidRequest) -> Self {
        AuthError::InvalidRequest(e)
    }
}

/// Renders an [`AuthError`] as a response: the hook for an application's own error
/// pages. Set it with
/// [`TokenAuthBuilder::error_renderer`](crate::TokenAuthBuilder::error_renderer).
///
/// Whatever the renderer returns, the `AuthError` is attached to the response's
/// extensions afterwards.
///
/// ```
/// use axum::response::{IntoResponse, Response};
/// use axum_token_auth::{AuthError, http::ErrorRenderer};
///
/// struct PlainText;
/// impl ErrorRenderer for PlainText {
///     fn render(&self, error: &AuthError, realm: &str) -> Response {
///         let mut res = (error.status(), error.description().into_owned()).into_response();
///         if let Some(v) = error.www_authenticate(realm) {
///             res.headers_mut().insert(http::header::WWW_AUTHENTICATE, v);
///         }
///         res
///     }
/// }
/// ```
pub trait ErrorRenderer: Send + Sync + 'static {
    /// Builds the response for `error`. `realm` is the configured realm.
    fn render(&self, error: &AuthError, realm: &str) -> Response;
}

/// The default renderer: RFC 6750 status and `WWW-Authenticate`, a JSON body
/// `{"error": …, "error_description": …}`, `Cache-Control: no-store`.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonErrorRenderer;

impl ErrorRenderer for JsonErrorRenderer {
    fn render(&self, error: &AuthError, realm: &str) -> Response {
        let body = serde_json::json!({
            "error": error.error_code().unwrap_or("unauthorized"),
            "error_description": error.description(),
        });
        let mut res = (error.status(), body.to_string()).into_response();
        let headers = res.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        error.apply_headers(headers, realm);
        res
    }
}

/// The renderer and realm an error is rendered with; shared by the layer and extractors.
/// One `Arc`, so handing it to every request costs one reference count.
#[derive(Clone)]
pub(crate) struct Rendering(Arc<RenderingParts>);

#[derive(Clone)]
struct RenderingParts {
    renderer: Arc<dyn ErrorRenderer>,
    realm: Box<str>,
    dpop: Option<DpopChallenge>,
    /// A fresh DPoP nonce this request's response carries (a per-request rendering).
    dpop_nonce: Option<HeaderValue>,
    /// `resource_metadata="…"` (RFC 9728 §5.1), added to every 401 challenge.
    resource_metadata: Option<HeaderValue>,
}

impl Rendering {
    pub(crate) fn new(renderer: Arc<dyn ErrorRenderer>, realm: &str) -> Self {
        Rendering(Arc::new(RenderingParts {
            renderer,
            realm: realm.into(),
            dpop: None,
            dpop_nonce: None,
            resource_metadata: None,
        }))
    }

    /// The same rendering for one request whose response hands out `nonce` in
    /// `DPoP-Nonce` (its success and its refusals alike).
    pub(crate) fn with_dpop_nonce(&self, nonce: HeaderValue) -> Self {
        Rendering(Arc::new(RenderingParts {
            dpop_nonce: Some(nonce),
            ..(*self.0).clone()
        }))
    }

    /// The DPoP nonce this request's response hands out, if any.
    #[inline]
    pub(crate) fn dpop_nonce(&self) -> Option<&HeaderValue> {
        self.0.dpop_nonce.as_ref()
    }

    /// The same rendering with the DPoP challenges of `dpop` (`None`: none).
    pub(crate) fn with_dpop(&self, dpop: Option<DpopChallenge>) -> Self {
        Rendering(Arc::new(RenderingParts {
            dpop,
            dpop_nonce: None,
            ..(*self.0).clone()
        }))
    }

    /// The same rendering naming the resource's metadata (`resource_metadata="…"`, a
    /// checked header value) in every 401 challenge.
    pub(crate) fn with_resource_metadata(&self, pointer: Option<HeaderValue>) -> Self {
        Rendering(Arc::new(RenderingParts {
            resource_metadata: pointer,
            ..(*self.0).clone()
        }))
    }

    /// Renders `error` with the configured renderer. With DPoP on, the 401 challenges
    /// are this rendering's (`DPoP` and, where bearer tokens are accepted, `Bearer`),
    /// whatever the renderer wrote: a client must learn both schemes.
    pub(crate) fn render(&self, error: AuthError) -> Response {
        if let AuthError::Misconfigured(detail) = &error {
            tracing::error!(detail, "axum-token-auth misconfigured");
        }
        let mut res = self.0.renderer.render(&error, &self.0.realm);
        if let Some(dpop) = &self.0.dpop
            && res.status() == StatusCode::UNAUTHORIZED
        {
            let headers = res.headers_mut();
            headers.remove(WWW_AUTHENTICATE);
            for v in error.challenges(&self.0.realm, dpop) {
                headers.append(WWW_AUTHENTICATE, v);
            }
        }
        if let Some(pointer) = &self.0.resource_metadata
            && res.status() == StatusCode::UNAUTHORIZED
        {
            with_resource_metadata(res.headers_mut(), pointer);
        }
        if let Some(nonce) = &self.0.dpop_nonce {
            res.headers_mut().insert(DPOP_NONCE, nonce.clone());
        }
        res.extensions_mut().insert(error);
        res
    }

    /// The realm errors are rendered for.
    pub(crate) fn realm(&self) -> &str {
        &self.0.realm
    }

    /// Renders with the default renderer, marking the response so that a layer on the
    /// way out renders it again with its configured one.
    pub(crate) fn render_fallback(error: AuthError) -> Response {
        let mut res = Rendering::default().render(error);
        res.extensions_mut().insert(FallbackRendered);
        res
    }
}

/// Adds `pointer` (`resource_metadata="…"`) to every challenge in `headers` that does
/// not name one yet (RFC 9728 §5.1): whatever the renderer wrote, a client finds the
/// metadata from any 401.
fn with_resource_metadata(headers: &mut HeaderMap, pointer: &HeaderValue) {
    let challenges: Vec<HeaderValue> = headers.get_all(WWW_AUTHENTICATE).iter().cloned().collect();
    if challenges.is_empty() {
        return;
    }
    headers.remove(WWW_AUTHENTICATE);
    for c in challenges {
        let bytes = c.as_bytes();
        let named = bytes
            .windows(b"resource_metadata=".len())
            .any(|w| w.eq_ignore_ascii_case(b"resource_metadata="));
        let v = if named {
            c
        } else {
            // `Bearer` alone takes its first parameter after a space, others after a comma.
            let sep: &[u8] = if bytes.contains(&b' ') { b", " } else { b" " };
            HeaderValue::from_bytes(&[bytes, sep, pointer.as_bytes()].concat()).unwrap_or(c)
        };
        headers.append(WWW_AUTHENTICATE, v);
    }
}

/// Marks a response rendered without the configured renderer (an `AuthError`'s own
/// `IntoResponse`): the layer renders it again on the way out.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FallbackRendered;

/// A response body type the layer can answer refusals in: the body of what an
/// [`ErrorRenderer`] rendered (an axum [`Body`](axum::body::Body)), converted.
///
/// Implemented for axum's `Body` (axum routers: nothing changes) and, with the `tonic`
/// feature, for `tonic::body::Body` (tonic 0.14 servers). Implement it for your own
/// response body type to put the layer in front of any other `http` service.
///
/// ```
/// use axum_token_auth::http::RefusalBody;
///
/// struct MyBody(axum::body::Body);
/// impl RefusalBody for MyBody {
///     fn from_refusal(body: axum::body::Body) -> Self { MyBody(body) }
/// }
/// ```
pub trait RefusalBody: Sized {
    /// The refusal's body, as this type.
    fn from_refusal(body: axum::body::Body) -> Self;
}

impl RefusalBody for axum::body::Body {
    fn from_refusal(body: axum::body::Body) -> Self {
        body
    }
}

#[cfg(feature = "tonic")]
impl RefusalBody for tonic::body::Body {
    fn from_refusal(body: axum::body::Body) -> Self {
        tonic::body::Body::new(body)
    }
}

impl Default for Rendering {
    fn default() -> Self {
        Rendering::new(
            Arc::new(JsonErrorRenderer),
            crate::http::rfc6750::DEFAULT_REALM,
        )
    }
}

impl fmt::Debug for Rendering {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rendering")
            .field("realm", &self.0.realm)
            .finish_non_exhaustive()
    }
}

/// Renders with the default JSON renderer and realm; the error is attached to the
/// response's extensions. A [`TokenAuthLayer`](crate::TokenAuthLayer) the response
/// passes on its way out renders it again with the configured renderer (see "One error
/// path" on [`AuthError`]), so a handler may simply return `Err(AuthError::…)`.
impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        Rendering::render_fallback(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scope_outside_the_grammar_never_reaches_the_challenge() {
        let injected = AuthError::InsufficientScope {
            required: "admin\", error=\"none".into(),
        };
        let v = injected.www_authenticate("api").unwrap();
        assert_eq!(
            v,
            "Bearer realm=\"api\", error=\"insufficient_scope\", error_description=\"the token does not grant the required scope\""
        );
        let fine = AuthError::InsufficientScope {
            required: "users:read admin".into(),
        };
        assert!(
            fine.www_authenticate("api")
                .unwrap()
                .to_str()
                .unwrap()
                .ends_with(", scope=\"users:read admin\"")
        );
    }
    use crate::token::claims::TokenKind;

    #[test]
    fn statuses_and_codes_follow_rfc_6750() {
        let cases = [
            (AuthError::MissingCredentials, 401, None),
            (
                AuthError::InvalidRequest(InvalidRequest::MalformedAuthorization),
                400,
                Some("invalid_request"),
            ),
            (
                AuthError::InvalidToken(InvalidToken::Expired),
                401,
                Some("invalid_token"),
            ),
            (
                AuthError::InsufficientScope {
                    required: "a".into(),
                },
                403,
                Some("insufficient_scope"),
            ),
            (
                AuthError::StoreUnavailable,
                503,
                Some("temporarily_unavailable"),
            ),
            (AuthError::Misconfigured("x"), 500, Some("server_error")),
            (
                AuthError::TooManyAttempts { retry_after: 7 },
                429,
                Some("slow_down"),
            ),
        ];
        for (e, status, code) in cases {
            assert_eq!(e.status().as_u16(), status, "{e:?}");
            assert_eq!(e.error_code(), code, "{e:?}");
        }
    }

    #[test]
    fn too_many_attempts_is_429_with_its_retry_after_and_no_challenge() {
        let res = JsonErrorRenderer.render(&AuthError::TooManyAttempts { retry_after: 42 }, "api");
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(res.headers()[RETRY_AFTER], "42");
        assert_eq!(res.headers()[CACHE_CONTROL], "no-store");
        assert!(res.headers().get(WWW_AUTHENTICATE).is_none());
        // Never `Retry-After: 0` (a client would retry at once).
        let mut h = HeaderMap::new();
        AuthError::TooManyAttempts { retry_after: 0 }.apply_headers(&mut h, "api");
        assert_eq!(h[RETRY_AFTER], "1");
    }

    #[test]
    fn missing_credentials_challenge_has_no_error_attribute() {
        let v = AuthError::MissingCredentials
            .www_authenticate("api")
            .unwrap();
        assert_eq!(v, "Bearer realm=\"api\"");
    }

    #[test]
    fn insufficient_scope_challenge_names_the_scope() {
        let v = AuthError::InsufficientScope {
            required: "users:write".into(),
        }
        .www_authenticate("api")
        .unwrap();
        let v = v.to_str().unwrap();
        assert!(v.contains("error=\"insufficient_scope\""), "{v}");
        assert!(v.contains("scope=\"users:write\""), "{v}");
    }

    #[test]
    fn insufficient_user_authentication_is_a_401_challenge_with_acr_values_and_max_age() {
        let e = AuthError::InsufficientUserAuthentication {
            acr_values: Some("mfa phr".into()),
            max_age: Some(300),
        };
        assert_eq!(e.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(e.error_code(), Some("insufficient_user_authentication"));
        assert_eq!(
            e.www_authenticate("api").unwrap(),
            "Bearer realm=\"api\", error=\"insufficient_user_authentication\", error_description=\"a stronger or more recent authentication is required\", acr_values=\"mfa phr\", max_age=300"
        );
        let age_only = AuthError::InsufficientUserAuthentication {
            acr_values: None,
            max_age: Some(60),
        };
        assert!(
            age_only
                .www_authenticate("api")
                .unwrap()
                .to_str()
                .unwrap()
                .ends_with("required\", max_age=60")
        );
    }

    #[test]
    fn acr_values_outside_the_grammar_never_reach_the_challenge() {
        let injected = AuthError::InsufficientUserAuthentication {
            acr_values: Some("mfa\", error=\"none".into()),
            max_age: None,
        };
        let v = injected.www_authenticate("api").unwrap();
        assert_eq!(
            v,
            "Bearer realm=\"api\", error=\"insufficient_user_authentication\", error_description=\"a stronger or more recent authentication is required\""
        );
    }

    #[test]
    fn with_dpop_only_the_step_up_attributes_go_on_the_dpop_challenge() {
        let e = AuthError::InsufficientUserAuthentication {
            acr_values: Some("mfa".into()),
            max_age: Some(300),
        };
        let both = DpopChallenge {
            algs: "ES256".into(),
            bearer: true,
        };
        let c = e.challenges("api", &both);
        assert_eq!(c.len(), 2);
        assert!(
            c[0].to_str()
                .unwrap()
                .ends_with("acr_values=\"mfa\", max_age=300")
        );
        assert_eq!(c[1], "DPoP algs=\"ES256\"");
        let dpop_only = DpopChallenge {
            algs: "ES256".into(),
            bearer: false,
        };
        let c = e.challenges("api", &dpop_only);
        assert_eq!(c.len(), 1);
        assert_eq!(
            c[0],
            "DPoP algs=\"ES256\", error=\"insufficient_user_authentication\", error_description=\"a stronger or more recent authentication is required\", acr_values=\"mfa\", max_age=300"
        );
    }

    #[test]
    fn wrong_kind_description_reads_well() {
        let e = AuthError::InvalidToken(InvalidToken::WrongKind {
            expected: TokenKind::Access,
        });
        assert_eq!(e.description(), "the token is not an access token");
    }
}
