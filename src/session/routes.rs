//! The ready HTTP routes of [`Sessions`]: refresh, logout, session list, and the login
//! answer. They read the refresh token from its HttpOnly cookie or from a JSON body
//! `{"refresh_token": …}` (non-browser clients), answer with JSON and cookies, and
//! refuse with the same RFC 6750 responses as the layer.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Request};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, USER_AGENT};
use http::request::Parts;
use http::{HeaderMap, HeaderValue, StatusCode};
use serde::{Deserialize, Serialize};

use crate::http::DpopProof;
use crate::http::extract::Claims;
use crate::http::layer::find_cookie;
use crate::http::rfc6750::{AuthError, InvalidRequest};
use crate::session::error::SessionError;
use crate::session::login::LoginSession;
use crate::session::sessions::Sessions;
use crate::store::Session;
use crate::token::error::InvalidToken;
use crate::token::issue::IssueError;

/// Largest body the refresh and logout routes read.
const MAX_BODY: usize = 16 * 1024;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RefreshBody {
    refresh_token: String,
}

/// One entry of the session list.
#[derive(Debug, Clone, Serialize)]
struct SessionView {
    #[serde(flatten)]
    session: Session,
    /// Whether this is the session of the request's own token.
    current: bool,
}

/// The refresh token and where it came from.
struct Presented {
    token: String,
    from_cookie: bool,
}

/// How a login or refresh answer hands the tokens to the client. A token delivered as a
/// cookie never appears in the body too: page script (an XSS) could read it there, and
/// a refresh token read that way works anywhere through the JSON refresh.
///
/// [`Sessions::login_response`] uses the configured delivery
/// ([`SessionsBuilder::token_delivery`](crate::session::SessionsBuilder::token_delivery), default
/// [`Cookies`](Self::Cookies)); [`Sessions::login_response_with`] picks one per request.
/// The refresh route follows the client: a refresh by cookie is answered with cookies
/// (as configured, [`Cookies`](Self::Cookies) when the configuration is
/// [`Body`](Self::Body)), a refresh by JSON body with a JSON body and no cookies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenDelivery {
    /// Browsers: both tokens in HttpOnly cookies, plus the readable CSRF cookie; the
    /// body carries only `{"token_type", "expires_in", "refresh_expires_in"}`.
    #[default]
    Cookies,
    /// Single-page apps that also send the access token as `Authorization: Bearer`: like
    /// [`Cookies`](Self::Cookies), with `access_token` in the body too. The refresh token
    /// stays in its HttpOnly cookie.
    CookiesWithAccessToken,
    /// Non-browser clients: the OAuth-style JSON pair
    /// (`{"access_token", "refresh_token", "token_type", "expires_in"}`), no cookies.
    Body,
}

/// The body of a cookie delivery: nothing secret (but the access token, when asked for).
#[derive(Serialize)]
struct CookieBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    access_token: Option<&'a str>,
    token_type: &'static str,
    expires_in: u64,
    refresh_expires_in: u64,
}

impl Sessions {
    /// The response to a successful login, delivered as configured
    /// ([`SessionsBuilder::token_delivery`](crate::session::SessionsBuilder::token_delivery),
    /// default [`TokenDelivery::Cookies`]), with `Cache-Control: no-store`.
    pub fn login_response(&self, login: &LoginSession) -> Response {
        self.login_response_with(login, self.inner.delivery)
    }

    /// The response to a successful login, delivered as `delivery` (e.g.
    /// [`TokenDelivery::Body`] for a client that asked for a JSON pair).
    pub fn login_response_with(&self, login: &LoginSession, delivery: TokenDelivery) -> Response {
        self.pair_response(login, Some(&login.csrf), delivery)
    }

    fn pair_response(
        &self,
        login: &LoginSession,
        csrf: Option<&str>,
        delivery: TokenDelivery,
    ) -> Response {
        let mut headers = HeaderMap::new();
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        let pair = &login.pair;
        let access_token = match delivery {
            TokenDelivery::Body => return (headers, Json(pair.to_response())).into_response(),
            TokenDelivery::Cookies => None,
            TokenDelivery::CookiesWithAccessToken => Some(pair.access.as_str()),
        };
        self.inner
            .auth
            .web()
            .set_token_cookies(&mut headers, pair, csrf.filter(|c| !c.is_empty()));
        let body = CookieBody {
            access_token,
            token_type: pair.access.token_type(),
            expires_in: pair.access.expires_in(),
            refresh_expires_in: pair.refresh.expires_in(),
        };
        (headers, Json(body)).into_response()
    }

    /// How a refresh by cookie is answered: cookies, whatever the login delivery.
    /// The session routes act on this service's users by `sub`: a token of a trusted
    /// identity provider or of a legacy format (whose `sub` may equal a local user id)
    /// is refused with 401 `invalid_token`, whatever layer let it through.
    fn own_claims(&self, claims: &Claims) -> Option<Response> {
        if claims.origin.is_own() {
            return None;
        }
        tracing::debug!("session route refused a token not of this service");
        Some(self.refuse(AuthError::InvalidToken(InvalidToken::WrongIssuer), false))
    }

    fn cookie_delivery(&self) -> TokenDelivery {
        match self.inner.delivery {
            TokenDelivery::CookiesWithAccessToken => TokenDelivery::CookiesWithAccessToken,
            _ => TokenDelivery::Cookies,
        }
    }

    fn refuse(&self, error: AuthError, clear_cookies: bool) -> Response {
        let mut res = self.inner.auth.web().render_error(error);
        if clear_cookies {
            self.inner.auth.web().clear_token_cookies(res.headers_mut());
        }
        res
    }

    /// `POST` route for `/auth/refresh`: rotates the refresh token from the cookie or the
    /// JSON body and answers with the new pair the way it came (see [`TokenDelivery`]):
    /// cookies for a cookie refresh, a JSON pair for a body refresh. Cookie requests must
    /// pass the CSRF check. Refused refreshes of a revoked session clear the cookies.
    pub fn refresh_route<S: Clone + Send + Sync + 'static>(&self) -> MethodRouter<S> {
        let sessions = self.clone();
        axum::routing::post(move |req: Request| {
            let sessions = sessions.clone();
            async move { sessions.handle_refresh(req).await }
        })
    }

    /// `POST` route for `/auth/logout`: revokes the session (refresh token from cookie or
    /// JSON body, and/or the access token from header or cookie), clears the cookies, and
    /// answers 204. A request without any credentials is answered 401 and clears nothing:
    /// a cross-site form carries no cookies (SameSite keeps them home), and must not be
    /// able to log the victim out.
    pub fn logout_route<S: Clone + Send + Sync + 'static>(&self) -> MethodRouter<S> {
        let sessions = self.clone();
        axum::routing::post(move |req: Request| {
            let sessions = sessions.clone();
            async move { sessions.handle_logout(req).await }
        })
    }

    /// `GET` route listing the caller's active sessions as JSON (needs the
    /// [`TokenAuthLayer`](crate::TokenAuthLayer) in front of it). Only this service's own
    /// tokens are answered: an identity provider's or a legacy token is refused with 401
    /// `invalid_token`, so a provider principal whose `sub` equals a local user id sees
    /// nothing of that user's sessions. Guard the route with
    /// [`own_tokens_only`](crate::TokenAuthLayer::own_tokens_only) to refuse them before
    /// any handler runs.
    pub fn sessions_route<S: Clone + Send + Sync + 'static>(&self) -> MethodRouter<S> {
        let sessions = self.clone();
        axum::routing::get(move |claims: Claims| {
            let sessions = sessions.clone();
            async move {
                if let Some(refused) = sessions.own_claims(&claims) {
                    return refused;
                }
                match sessions.list(&claims.sub).await {
                    Ok(list) => {
                        let views: Vec<SessionView> = list
                            .into_iter()
                            .map(|s| SessionView {
                                current: claims.fam.as_deref() == Some(s.id.as_str()),
                                session: s,
                            })
                            .collect();
                        Json(views).into_response()
                    }
                    Err(e) => sessions.refuse(e.into(), false),
                }
            }
        })
    }

    /// `DELETE` route for `/auth/sessions/{id}`: revokes one of the caller's sessions
    /// ("log out that device"); 204, or 404 when the caller has no such session. Like
    /// [`sessions_route`](Self::sessions_route), only this service's own tokens are
    /// answered (401 `invalid_token` for any other).
    pub fn revoke_session_route<S: Clone + Send + Sync + 'static>(&self) -> MethodRouter<S> {
        let sessions = self.clone();
        axum::routing::delete(move |claims: Claims, Path(id): Path<String>| {
            let sessions = sessions.clone();
            async move {
                if let Some(refused) = sessions.own_claims(&claims) {
                    return refused;
                }
                match sessions.revoke_session(&claims.sub, &id).await {
                    Ok(true) => StatusCode::NO_CONTENT.into_response(),
                    Ok(false) => StatusCode::NOT_FOUND.into_response(),
                    Err(e) => sessions.refuse(e.into(), false),
                }
            }
        })
    }

    /// Reads a refresh request as [`refresh_route`](Self::refresh_route) does, for an
    /// application's own refresh handler: the refresh token from a JSON body (`{"refresh_token": …}`), the OAuth 2.0 form
    /// (`grant_type=refresh_token&refresh_token=…`) or the refresh cookie; the access
    /// token from the header or cookie, if any; and, for a cookie-borne refresh token, the
    /// CSRF check. Then call [`refresh`](Self::refresh) with what it returns.
    ///
    /// ```
    /// use axum::{extract::{Request, State}, response::{IntoResponse, Response}};
    /// use axum_token_auth::Sessions;
    ///
    /// async fn my_refresh(State(sessions): State<Sessions>, req: Request) -> Response {
    ///     let presented = match sessions.read_refresh_request(req).await {
    ///         Ok(p) => p,
    ///         Err(e) => return sessions.auth().web().render_error(e),
    ///     };
    ///     // ... the application's own checks here ...
    ///     match sessions.refresh(&presented.refresh_token, presented.access_token.as_deref()).await {
    ///         Ok(login) => axum::Json(login.pair.to_response()).into_response(),
    ///         Err(e) => sessions.auth().web().render_error(e.into()),
    ///     }
    /// }
    /// ```
    pub async fn read_refresh_request(&self, req: Request) -> Result<RefreshRequest, AuthError> {
        let (parts, body) = req.into_parts();
        let presented = self
            .read_refresh_token(&parts, body)
            .await?
            .ok_or(AuthError::MissingCredentials)?;
        let access = self.access_token(&parts)?;
        if presented.from_cookie {
            self.check_csrf(&parts, &presented.token)?;
        }
        let proof = self.refresh_proof(&parts).await?;
        Ok(RefreshRequest {
            refresh_token: presented.token,
            access_token: access,
            from_cookie: presented.from_cookie,
            proof,
        })
    }

    async fn handle_refresh(&self, req: Request) -> Response {
        let (parts, body) = req.into_parts();
        let presented = match self.read_refresh_token(&parts, body).await {
            Ok(Some(p)) => p,
            Ok(None) => return self.refuse(AuthError::MissingCredentials, false),
            Err(e) => return self.refuse(e, false),
        };
        let access = match self.access_token(&parts) {
            Ok(a) => a,
            Err(e) => return self.refuse(e, false),
        };
        if presented.from_cookie
            && let Err(e) = self.check_csrf(&parts, &presented.token)
        {
            return self.refuse(e, false);
        }
        let proof = match self.refresh_proof(&parts).await {
            Ok(p) => p,
            Err(e) => return self.refuse(e, false),
        };
        match self
            .refresh_with_proof(&presented.token, access.as_deref(), proof.as_ref())
            .await
        {
            // A cookie refresh passed the CSRF check: renew the CSRF cookie with the
            // refresh cookie, so it lives as long as the session does.
            Ok(login) if presented.from_cookie => {
                let csrf = parts
                    .headers
                    .get(self.inner.auth.web().csrf_settings().header_name())
                    .and_then(|v| v.to_str().ok());
                self.pair_response(&login, csrf, self.cookie_delivery())
            }
            Ok(login) => self.pair_response(&login, None, TokenDelivery::Body),
            // A refusal that ended the session, or found it over: clear its cookies.
            Err(e) => {
                let over = e.session_is_over();
                self.refuse(e.into(), over)
            }
        }
    }

    async fn handle_logout(&self, req: Request) -> Response {
        let (parts, body) = req.into_parts();
        let presented = match self.read_refresh_token(&parts, body).await {
            Ok(p) => p,
            Err(e) => return self.refuse(e, false),
        };
        let access = match self.access_token(&parts) {
            Ok(a) => a,
            Err(e) => return self.refuse(e, false),
        };
        // Cookie-borne credentials must come from our own pages.
        let cookie_access = access.is_some() && !has_bearer(&parts.headers);
        if let Some(p) = presented.as_ref().filter(|p| p.from_cookie) {
            if let Err(e) = self.check_csrf(&parts, &p.token) {
                return self.refuse(e, false);
            }
        } else if cookie_access
            && let Some(a) = &access
            && let Err(e) = self.check_csrf(&parts, a)
        {
            return self.refuse(e, false);
        }
        let proof = match self.refresh_proof(&parts).await {
            Ok(p) => p,
            Err(e) => return self.refuse(e, false),
        };
        let refresh = presented.as_ref().map(|p| p.token.as_str());
        match self
            .logout_with_proof(refresh, access.as_deref(), proof.as_ref())
            .await
            .map_err(AuthError::from)
        {
            Ok(()) => {
                let mut res = StatusCode::NO_CONTENT.into_response();
                self.inner.auth.web().clear_token_cookies(res.headers_mut());
                res
            }
            // No credentials (a cross-site form, say): nothing to end, nothing to clear.
            Err(e @ (AuthError::StoreUnavailable | AuthError::MissingCredentials)) => {
                self.refuse(e, false)
            }
            // Credentials that passed the CSRF check (or came as bearer / JSON body, which
            // no cross-site form can send) but no longer name a session: clear them.
            Err(e) => self.refuse(e, true),
        }
    }

    /// The refresh token from a JSON body, else from the refresh cookie; both present and
    /// different is a malformed request.
    async fn read_refresh_token(
        &self,
        parts: &Parts,
        body: axum::body::Body,
    ) -> Result<Option<Presented>, AuthError> {
        let malformed = || AuthError::InvalidRequest(InvalidRequest::MalformedBody);
        let bytes: Bytes = axum::body::to_bytes(body, MAX_BODY)
            .await
            .map_err(|_| malformed())?;
        let from_body = if bytes.iter().all(u8::is_ascii_whitespace) {
            None
        } else {
            let content_type = parts
                .headers
                .get(CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(|ct| ct.trim_start().to_ascii_lowercase())
                .unwrap_or_default();
            let token = if content_type.starts_with("application/json") {
                // An object, nothing else (serde would also read a struct from an array).
                let object: serde_json::Map<String, serde_json::Value> =
                    serde_json::from_slice(&bytes).map_err(|_| malformed())?;
                let body: RefreshBody = serde_json::from_value(serde_json::Value::Object(object))
                    .map_err(|_| malformed())?;
                body.refresh_token
            } else if content_type.starts_with("application/x-www-form-urlencoded") {
                oauth_refresh_form(&bytes).ok_or_else(malformed)?
            } else {
                return Err(malformed());
            };
            if token.is_empty() || token.len() > 16 * 1024 {
                return Err(malformed());
            }
            Some(token)
        };
        let cookie_name = self
            .inner
            .auth
            .web()
            .cookie_settings()
            .refresh_cookie_name();
        let from_cookie = find_cookie(&parts.headers, &cookie_name).filter(|c| !c.is_empty());
        match (from_body, from_cookie) {
            (Some(b), Some(c)) if b != c => Err(InvalidRequest::ConflictingCredentials.into()),
            (Some(b), _) => Ok(Some(Presented {
                token: b,
                from_cookie: false,
            })),
            (None, Some(c)) => Ok(Some(Presented {
                token: c.to_owned(),
                from_cookie: true,
            })),
            (None, None) => Ok(None),
        }
    }

    /// The DPoP proof of a refresh or logout request, checked for this request (its method and
    /// the path the client named: the route's) and remembered.
    async fn refresh_proof(&self, parts: &Parts) -> Result<Option<DpopProof>, AuthError> {
        DpopProof::of_request(self.inner.auth.verifier(), parts).await
    }

    /// The access token from the header or the access cookie, if any.
    fn access_token(&self, parts: &Parts) -> Result<Option<String>, AuthError> {
        let auth = &self.inner.auth;
        Ok(crate::http::layer::find_token(
            &parts.headers,
            auth.web().access_cookie_name(),
            auth.verifier().settings.max_token_bytes,
            auth.verifier().dpop.is_some(),
        )?
        .map(|(t, _)| t.to_owned()))
    }

    /// CSRF check for a cookie-borne token: its `csrf` claim must match `X-CSRF-Token`.
    fn check_csrf(&self, parts: &Parts, token: &str) -> Result<(), AuthError> {
        let auth = &self.inner.auth;
        // Only the bound digest is needed; the token is verified again by the flow. Every
        // check but time: a token for another issuer or audience binds nothing.
        let claims: crate::token::TokenClaims = self
            .verify_session_token(
                token,
                crate::trust::verify::KindSet::of(crate::token::TokenKind::Refresh)
                    .with(crate::token::TokenKind::Access),
            )
            .map_err(AuthError::from)?
            .claims;
        auth.web().csrf_settings().check(
            &parts.method,
            &parts.uri,
            &parts.headers,
            claims.csrf.as_deref(),
        )
    }
}

/// Whether the request carries an `Authorization: Bearer` header. Only that scheme exempts
/// cookie credentials from CSRF: browsers add cached `Basic` credentials by themselves.
fn has_bearer(headers: &HeaderMap) -> bool {
    headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(' ').next())
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("bearer"))
}

/// The request's `User-Agent`, for [`Sessions::login`].
pub fn user_agent(headers: &HeaderMap) -> Option<&str> {
    headers.get(USER_AGENT).and_then(|v| v.to_str().ok())
}

/// The refresh token of an OAuth 2.0 refresh request (RFC 6749 §6):
/// `grant_type=refresh_token&refresh_token=…`, each once; `scope` is not supported (a
/// refresh keeps the session's scopes, or what `SessionHooks::on_refresh` decides).
fn oauth_refresh_form(body: &[u8]) -> Option<String> {
    let (mut grant, mut token) = (None, None);
    for (k, v) in form_urlencoded::parse(body) {
        let slot = match k.as_ref() {
            "grant_type" => &mut grant,
            "refresh_token" => &mut token,
            "scope" => return None,
            _ => continue,
        };
        if slot.replace(v.into_owned()).is_some() {
            return None; // a parameter twice (RFC 6749 §3.1)
        }
    }
    (grant.as_deref() == Some("refresh_token"))
        .then_some(token)
        .flatten()
}

/// A refresh request read by [`Sessions::read_refresh_request`].
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RefreshRequest {
    /// The refresh token.
    pub refresh_token: String,
    /// The access token presented with it (header or cookie), if any.
    pub access_token: Option<String>,
    /// Whether the refresh token came from the cookie (the CSRF check passed).
    pub from_cookie: bool,
    /// The request's DPoP proof, checked for this request and remembered (RFC 9449 §5);
    /// hand it to [`Sessions::refresh_with_proof`].
    pub proof: Option<DpopProof>,
}

impl std::fmt::Debug for RefreshRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefreshRequest")
            .field("from_cookie", &self.from_cookie)
            .finish_non_exhaustive()
    }
}

/// The refresh request of the route it is extracted on, read and CSRF-checked as by
/// [`Sessions::read_refresh_request`]: the extractor for an application's own refresh
/// handler (`Sessions` must be in the state: `Sessions: FromRef<S>`). Refusals are
/// rendered like the crate's own routes.
///
/// ```
/// use axum::{Json, extract::State, response::{IntoResponse, Response}};
/// use axum_token_auth::{Sessions, session::PresentedRefresh};
///
/// async fn my_refresh(State(sessions): State<Sessions>, PresentedRefresh(r): PresentedRefresh) -> Response {
///     match sessions.refresh(&r.refresh_token, r.access_token.as_deref()).await {
///         Ok(login) => Json(login.pair.to_response()).into_response(),
///         Err(e) => sessions.auth().web().render_error(e.into()),
///     }
/// }
/// ```
#[derive(Debug, Clone)]
pub struct PresentedRefresh(pub RefreshRequest);

impl<S> axum::extract::FromRequest<S> for PresentedRefresh
where
    Sessions: axum::extract::FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let sessions = <Sessions as axum::extract::FromRef<S>>::from_ref(state);
        sessions
            .read_refresh_request(req)
            .await
            .map(PresentedRefresh)
            .map_err(|e| sessions.auth().web().render_error(e))
    }
}

/// How the session routes answer a [`SessionError`]: as the layer answers a refusal.
///
/// | `SessionError` | `AuthError` | answer |
/// | --- | --- | --- |
/// | `InvalidCredentials` | `InvalidCredentials` | 401 `invalid_grant`, bare challenge |
/// | `MissingToken` | `MissingCredentials` | 401, bare challenge |
/// | `InvalidToken(reason)` | `InvalidToken(reason)` | 401 `invalid_token` |
/// | `NotOwner` | `InvalidToken(InvalidClaims)` | 401 `invalid_token` |
/// | `SessionEnded` | `InvalidToken(SessionEnded)` | 401 `invalid_token` |
/// | `RefreshReused`, `AccessTokenMismatch` | `InvalidToken(RefreshReused)` | 401 `invalid_token` |
/// | `RefreshDenied` | `InvalidToken(RefreshDenied)` | 401 `invalid_token` |
/// | `AccessTokenNotExpired` | `InvalidRequest(AccessTokenNotExpired)` | 400 `invalid_request` |
/// | `Store`, `RevocationUnavailable`, `RevocationPending` | `StoreUnavailable` | 503 `temporarily_unavailable`, `Retry-After` |
/// | `Issue`, `InvalidSuccessorClaims` | `Misconfigured` | 500 `server_error`, no detail |
///
/// ```
/// use axum_token_auth::{AuthError, session::SessionError, store::StoreError};
///
/// let e: AuthError = SessionError::Store(StoreError::Unavailable("down".into())).into();
/// assert_eq!(e, AuthError::StoreUnavailable);
/// assert_eq!(AuthError::from(SessionError::InvalidCredentials).status(), 401);
/// assert_eq!(AuthError::from(SessionError::RevocationPending).status(), 503);
/// ```
impl From<SessionError> for AuthError {
    fn from(e: SessionError) -> Self {
        match e {
            SessionError::InvalidCredentials => AuthError::InvalidCredentials,
            SessionError::MissingToken => AuthError::MissingCredentials,
            SessionError::InvalidToken(reason) => AuthError::InvalidToken(reason),
            SessionError::NotOwner => AuthError::InvalidToken(InvalidToken::InvalidClaims),
            SessionError::SessionEnded => AuthError::InvalidToken(InvalidToken::SessionEnded),
            SessionError::RefreshReused | SessionError::AccessTokenMismatch => {
                AuthError::InvalidToken(InvalidToken::RefreshReused)
            }
            SessionError::RefreshDenied => AuthError::InvalidToken(InvalidToken::RefreshDenied),
            SessionError::AccessTokenNotExpired => {
                AuthError::InvalidRequest(InvalidRequest::AccessTokenNotExpired)
            }
            SessionError::Store(_)
            | SessionError::RevocationUnavailable
            | SessionError::RevocationPending => AuthError::StoreUnavailable,
            SessionError::Issue(e) => AuthError::Misconfigured(match e {
                IssueError::Random => "random source failed",
                IssueError::Signing | IssueError::NoSigningKey => "signing failed",
                IssueError::TokenTooLarge { .. } => "a session token is over max_token_bytes",
                _ => "the login's token request was refused",
            }),
            SessionError::InvalidSuccessorClaims(IssueError::ReservedClaim(_)) => {
                AuthError::Misconfigured("on_refresh returned a reserved claim name")
            }
            SessionError::InvalidSuccessorClaims(_) => {
                AuthError::Misconfigured("on_refresh returned an invalid scope")
            }
        }
    }
}

/// The [`AuthError`] it converts into, as a response: rendered with the default JSON
/// renderer here, and again with the configured one by a
/// [`TokenAuthLayer`](crate::TokenAuthLayer) it passes on the way out. Store failures
/// and refused token requests log their detail (`warn` / `error`); the client sees
/// none of it.
///
/// ```
/// use axum::response::IntoResponse;
/// use axum_token_auth::{session::SessionError, store::StoreError};
///
/// let res = SessionError::Store(StoreError::Unavailable("redis://10.0.0.7".into())).into_response();
/// assert_eq!(res.status(), 503);
/// assert_eq!(res.headers()["retry-after"], "1");
/// ```
impl IntoResponse for SessionError {
    fn into_response(self) -> Response {
        match &self {
            SessionError::Store(e) => tracing::warn!(error = %e, "session store failure"),
            SessionError::Issue(e) | SessionError::InvalidSuccessorClaims(e) => {
                tracing::error!(error = %e, "session token not issued")
            }
            _ => {}
        }
        AuthError::from(self).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreError;

    /// Every variant answers as documented on `From<SessionError> for AuthError`.
    #[test]
    fn every_session_error_has_its_http_answer() {
        let store = || StoreError::Unavailable("redis://10.0.0.7".into());
        let cases: Vec<(SessionError, u16, Option<&str>)> = vec![
            (SessionError::InvalidCredentials, 401, Some("invalid_grant")),
            (SessionError::MissingToken, 401, None),
            (
                SessionError::InvalidToken(InvalidToken::Expired),
                401,
                Some("invalid_token"),
            ),
            (SessionError::NotOwner, 401, Some("invalid_token")),
            (SessionError::SessionEnded, 401, Some("invalid_token")),
            (SessionError::RefreshReused, 401, Some("invalid_token")),
            (
                SessionError::AccessTokenMismatch,
                401,
                Some("invalid_token"),
            ),
            (SessionError::RefreshDenied, 401, Some("invalid_token")),
            (
                SessionError::AccessTokenNotExpired,
                400,
                Some("invalid_request"),
            ),
            (
                SessionError::Store(store()),
                503,
                Some("temporarily_unavailable"),
            ),
            (
                SessionError::RevocationUnavailable,
                503,
                Some("temporarily_unavailable"),
            ),
            (
                SessionError::RevocationPending,
                503,
                Some("temporarily_unavailable"),
            ),
            (
                SessionError::Issue(IssueError::Signing),
                500,
                Some("server_error"),
            ),
            (
                SessionError::InvalidSuccessorClaims(IssueError::ReservedClaim("sub".into())),
                500,
                Some("server_error"),
            ),
        ];
        for (e, status, code) in cases {
            let a = AuthError::from(e.clone());
            assert_eq!(a.status().as_u16(), status, "{e:?}");
            assert_eq!(a.error_code(), code, "{e:?}");
            assert!(!a.description().contains("10.0.0.7"), "{e:?}");
        }
        assert_eq!(
            AuthError::from(SessionError::NotOwner),
            AuthError::InvalidToken(InvalidToken::InvalidClaims)
        );
        assert_eq!(
            AuthError::from(SessionError::AccessTokenMismatch),
            AuthError::InvalidToken(InvalidToken::RefreshReused)
        );
    }
}
