//! gRPC: a refused gRPC request (`content-type: application/grpc…`) is answered the way
//! gRPC clients understand — HTTP 200 with `grpc-status` and `grpc-message` in the
//! headers and no body (a trailers-only response) — instead of an RFC 6750 JSON body.

use http::header::{CONTENT_TYPE, WWW_AUTHENTICATE};
use http::{HeaderMap, HeaderValue, Response, StatusCode};

use crate::http::rfc6750::{AuthError, InvalidRequest, RefusalBody};

/// `grpc-status` UNAUTHENTICATED.
const UNAUTHENTICATED: i32 = 16;
/// `grpc-status` PERMISSION_DENIED.
const PERMISSION_DENIED: i32 = 7;
/// `grpc-status` UNAVAILABLE.
const UNAVAILABLE: i32 = 14;
/// `grpc-status` INVALID_ARGUMENT.
const INVALID_ARGUMENT: i32 = 3;
/// `grpc-status` INTERNAL.
const INTERNAL: i32 = 13;
/// `grpc-status` RESOURCE_EXHAUSTED.
const RESOURCE_EXHAUSTED: i32 = 8;

/// Whether the request is a gRPC call (`application/grpc`, `application/grpc+proto`,
/// `application/grpc-web…`).
pub(crate) fn is_grpc(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"))
}

impl AuthError {
    /// The gRPC status code this error answers a gRPC request with: 16
    /// `UNAUTHENTICATED` for the 401s and malformed credentials, 7 `PERMISSION_DENIED`
    /// for the 403s, 14 `UNAVAILABLE` for the 503s, 8 `RESOURCE_EXHAUSTED` for a throttled
    /// login (429), 13 `INTERNAL` for a
    /// misconfiguration, 3 `INVALID_ARGUMENT` for other malformed requests.
    ///
    /// ```
    /// use axum_token_auth::AuthError;
    /// assert_eq!(AuthError::MissingCredentials.grpc_code(), 16);
    /// assert_eq!(AuthError::StoreUnavailable.grpc_code(), 14);
    /// ```
    pub fn grpc_code(&self) -> i32 {
        match self.status() {
            StatusCode::UNAUTHORIZED => UNAUTHENTICATED,
            StatusCode::FORBIDDEN => PERMISSION_DENIED,
            StatusCode::SERVICE_UNAVAILABLE => UNAVAILABLE,
            StatusCode::TOO_MANY_REQUESTS => RESOURCE_EXHAUSTED,
            StatusCode::BAD_REQUEST => match self {
                AuthError::InvalidRequest(
                    InvalidRequest::MalformedAuthorization
                    | InvalidRequest::MultipleAuthorization
                    | InvalidRequest::ConflictingCredentials
                    | InvalidRequest::MultipleTokens,
                ) => UNAUTHENTICATED,
                _ => INVALID_ARGUMENT,
            },
            _ => INTERNAL,
        }
    }
}

/// The trailers-only gRPC answer to `error`; `WWW-Authenticate` rides along as
/// metadata. The error is in the response's extensions, as for every refusal.
pub(crate) fn refusal<ResBody: RefusalBody>(error: AuthError, realm: &str) -> Response<ResBody> {
    if let AuthError::Misconfigured(detail) = &error {
        tracing::error!(detail, "axum-token-auth misconfigured");
    }
    let mut res = Response::new(ResBody::from_refusal(axum::body::Body::empty()));
    let headers = res.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    headers.insert("grpc-status", HeaderValue::from(error.grpc_code()));
    if let Ok(v) = HeaderValue::from_str(&percent_encode(&error.description())) {
        headers.insert("grpc-message", v);
    }
    if let Some(v) = error.www_authenticate(realm) {
        headers.insert(WWW_AUTHENTICATE, v);
    }
    res.extensions_mut().insert(error);
    res
}

/// `grpc-message` encoding: printable ASCII but `%` as is, every other byte `%XX`.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if (0x20..=0x7e).contains(&b) && b != b'%' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The gRPC status of an [`AuthError`], for a tonic method that refuses a request itself
/// (e.g. after [`Claims::from_extensions`](crate::Claims::from_extensions)): its
/// [`grpc_code`](AuthError::grpc_code) and fixed description, never client input.
#[cfg(feature = "tonic")]
impl From<AuthError> for tonic::Status {
    fn from(e: AuthError) -> Self {
        if let AuthError::Misconfigured(detail) = &e {
            tracing::error!(detail, "axum-token-auth misconfigured");
        }
        tonic::Status::new(tonic::Code::from_i32(e.grpc_code()), e.description())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::error::InvalidToken;

    #[test]
    fn grpc_content_types_are_recognised() {
        for (ct, grpc) in [
            ("application/grpc", true),
            ("application/grpc+proto", true),
            ("application/grpc-web+proto", true),
            ("application/json", false),
        ] {
            let mut h = HeaderMap::new();
            h.insert(CONTENT_TYPE, HeaderValue::from_static(ct));
            assert_eq!(is_grpc(&h), grpc, "{ct}");
        }
        assert!(!is_grpc(&HeaderMap::new()));
    }

    #[test]
    fn codes_follow_the_http_status() {
        assert_eq!(
            AuthError::InvalidToken(InvalidToken::Expired).grpc_code(),
            16
        );
        assert_eq!(
            AuthError::InsufficientScope {
                required: "a".into()
            }
            .grpc_code(),
            7
        );
        assert_eq!(AuthError::KeysUnavailable.grpc_code(), 14);
        assert_eq!(AuthError::Misconfigured("x").grpc_code(), 13);
        assert_eq!(
            AuthError::InvalidRequest(InvalidRequest::MalformedAuthorization).grpc_code(),
            16
        );
        assert_eq!(
            AuthError::InvalidRequest(InvalidRequest::NotJson).grpc_code(),
            3
        );
    }

    #[test]
    fn grpc_refusal_is_trailers_only_with_status_headers() {
        let res: Response<axum::body::Body> =
            refusal(AuthError::InvalidToken(InvalidToken::Expired), "api");
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()["grpc-status"], "16");
        assert_eq!(res.headers()["grpc-message"], "the token has expired");
        assert_eq!(res.headers()["content-type"], "application/grpc");
        assert!(res.extensions().get::<AuthError>().is_some());
    }

    #[test]
    fn grpc_message_is_percent_encoded() {
        assert_eq!(percent_encode("a 100% é"), "a 100%25 %C3%A9");
    }
}
