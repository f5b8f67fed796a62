//! The HTTP receivers of an identity provider's events: `POST /oidc/backchannel-logout`
//! (OpenID Connect Back-Channel Logout 1.0 §2.5, §2.8) and `POST /ssf/events` (SSF push
//! delivery, RFC 8935). What they check and do: [`trust::events`](crate::trust::events).
//!
//! ```
//! use axum::Router;
//! use axum_token_auth::TokenAuth;
//! use axum_token_auth::http::events::{BACKCHANNEL_LOGOUT_PATH, SSF_EVENTS_PATH};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let auth = TokenAuth::builder()
//!     .hs256_secret("a-random-secret-of-at-least-32-bytes!!")
//!     .build()?;
//! // Merged outside the token layer: a provider sends no access token.
//! let app: Router = Router::new().merge(auth.web().security_event_routes());
//! assert_eq!((BACKCHANNEL_LOGOUT_PATH, SSF_EVENTS_PATH), ("/oidc/backchannel-logout", "/ssf/events"));
//! # let _ = app; Ok(()) }
//! ```
//!
//! | outcome | back-channel logout | SSF push |
//! | --- | --- | --- |
//! | applied (or ignored: an unknown event type) | 200, empty | 202, empty |
//! | refused (nothing changed) | 400 `{"error": "invalid_request", "error_description"}` | 400 `{"err": "invalid_key" …, "description"}` (RFC 8935 §2.4; `authentication_failed` without the required `Authorization`) |
//! | a store, the issuer's keys or the hook down (retry) | 503 `temporarily_unavailable`, `Retry-After` | the same |
//!
//! Every answer carries `Cache-Control: no-store`. Bodies over 64 KiB are refused (413,
//! JSON), as is a wrong `Content-Type` (400).

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, post};
use http::header::{CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderMap, HeaderValue, StatusCode};
use serde_json::json;

use crate::http::web::Web;
use crate::trust::events::{Carrier, EventError};

/// Where [`Web::security_event_routes`] serves the back-channel logout receiver.
pub const BACKCHANNEL_LOGOUT_PATH: &str = "/oidc/backchannel-logout";
/// Where [`Web::security_event_routes`] serves the SSF push receiver.
pub const SSF_EVENTS_PATH: &str = "/ssf/events";
/// The largest request body taken.
const MAX_BODY: usize = 64 * 1024;

impl Web {
    /// Both receivers at their usual paths: `POST` [`BACKCHANNEL_LOGOUT_PATH`] and
    /// `POST` [`SSF_EVENTS_PATH`]. Merge them outside the token layer.
    pub fn security_event_routes<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        Router::new()
            .route(BACKCHANNEL_LOGOUT_PATH, self.backchannel_logout_route())
            .route(SSF_EVENTS_PATH, self.ssf_events_route())
    }

    /// The back-channel logout receiver, for a path of the application's choosing: a
    /// form `POST` with `logout_token` (OIDC Back-Channel Logout 1.0 §2.5).
    pub fn backchannel_logout_route<S: Clone + Send + Sync + 'static>(&self) -> MethodRouter<S> {
        let web = self.clone();
        post(move |headers: HeaderMap, body: Body| {
            let web = web.clone();
            async move { web.receive(Carrier::Logout, &headers, body).await }
        })
    }

    /// The SSF push receiver (RFC 8935), for a path of the application's choosing: a
    /// `POST` of one SET, `Content-Type: application/secevent+jwt`.
    pub fn ssf_events_route<S: Clone + Send + Sync + 'static>(&self) -> MethodRouter<S> {
        let web = self.clone();
        post(move |headers: HeaderMap, body: Body| {
            let web = web.clone();
            async move { web.receive(Carrier::Set, &headers, body).await }
        })
    }

    async fn receive(&self, carrier: Carrier, headers: &HeaderMap, body: Body) -> Response {
        if carrier == Carrier::Set
            && let Some(want) = &self.verifier.events.push_authorization
        {
            use subtle::ConstantTimeEq as _;
            let got = headers
                .get(http::header::AUTHORIZATION)
                .map_or(&[][..], |v| v.as_bytes());
            if !bool::from(got.ct_eq(want.as_bytes())) {
                let refused = EventError::AuthenticationFailed;
                crate::telemetry::security_event("unknown", refused.reason());
                tracing::warn!(
                    reason = refused.reason(),
                    "security event refused: {refused}"
                );
                return answer(carrier, StatusCode::BAD_REQUEST, Some(refused));
            }
        }
        let body = match axum::body::to_bytes(body, MAX_BODY).await {
            Ok(b) => b,
            Err(_) => {
                return answer(
                    carrier,
                    StatusCode::PAYLOAD_TOO_LARGE,
                    Some(EventError::InvalidRequest("the body is over 64 KiB")),
                );
            }
        };
        let token = match read_token(carrier, headers, &body) {
            Ok(t) => t,
            Err(e) => return answer(carrier, StatusCode::BAD_REQUEST, Some(e)),
        };
        match self.verifier.receive_event(&token, carrier).await {
            Ok(_) => answer(
                carrier,
                match carrier {
                    Carrier::Logout => StatusCode::OK,
                    Carrier::Set => StatusCode::ACCEPTED,
                },
                None,
            ),
            Err(e) if e.is_retryable() => answer(carrier, StatusCode::SERVICE_UNAVAILABLE, Some(e)),
            Err(e) => answer(carrier, StatusCode::BAD_REQUEST, Some(e)),
        }
    }
}

/// The token of a request: a form's `logout_token`, or a SET body.
fn read_token(carrier: Carrier, headers: &HeaderMap, body: &[u8]) -> Result<String, EventError> {
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
    match carrier {
        Carrier::Logout => {
            if content_type.as_deref() != Some("application/x-www-form-urlencoded") {
                return Err(EventError::InvalidRequest(
                    "the body must be application/x-www-form-urlencoded",
                ));
            }
            let mut tokens = form_urlencoded::parse(body)
                .filter(|(k, _)| k == "logout_token")
                .map(|(_, v)| v.into_owned());
            match (tokens.next(), tokens.next()) {
                (Some(t), None) => Ok(t),
                (None, _) => Err(EventError::InvalidRequest("logout_token is missing")),
                (Some(_), Some(_)) => Err(EventError::InvalidRequest(
                    "logout_token is given more than once",
                )),
            }
        }
        Carrier::Set => {
            if content_type.as_deref() != Some("application/secevent+jwt") {
                return Err(EventError::InvalidRequest(
                    "the body must be application/secevent+jwt",
                ));
            }
            std::str::from_utf8(body)
                .map(|s| s.trim().to_owned())
                .map_err(|_| EventError::InvalidRequest("the body is not a compact JWS"))
        }
    }
}

/// The answer: `status`, `Cache-Control: no-store`, and for an error its JSON body in
/// the receiver's dialect (OAuth's `error` for logout, RFC 8935's `err` for SSF).
fn answer(carrier: Carrier, status: StatusCode, error: Option<EventError>) -> Response {
    let mut response = match &error {
        None => status.into_response(),
        Some(e) => {
            let body = match (carrier, e.err_code()) {
                (_, None) => json!({
                    "error": "temporarily_unavailable",
                    "error_description": e.description(),
                }),
                (Carrier::Logout, Some(_)) => json!({
                    "error": "invalid_request",
                    "error_description": e.description(),
                }),
                (Carrier::Set, Some(code)) => json!({
                    "err": code,
                    "description": e.description(),
                }),
            };
            (status, Json(body)).into_response()
        }
    };
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(EventError::Unavailable { retry_after, .. }) = &error {
        headers.insert(RETRY_AFTER, HeaderValue::from(retry_after.as_secs().max(1)));
    }
    response
}
