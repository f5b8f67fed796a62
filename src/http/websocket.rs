//! WebSocket handshakes from browsers, whose WebSocket API cannot set an
//! `Authorization` header: the opt-in `access_token` query parameter (RFC 6750 §2.3),
//! accepted on upgrade requests only (see
//! [`TokenAuthLayer::accept_query_token_on_upgrade`](crate::TokenAuthLayer::accept_query_token_on_upgrade)).

use std::borrow::Cow;

use http::header::{CONNECTION, SEC_WEBSOCKET_KEY, UPGRADE};
use http::{Method, Request, Uri};

use crate::http::rfc6750::{AuthError, InvalidRequest};
use crate::token::error::InvalidToken;

/// The query parameter of RFC 6750 §2.3.
const PARAM: &str = "access_token";

/// Whether the request is an HTTP/1.1 WebSocket opening handshake (RFC 6455 §4.1): `GET`
/// with `Upgrade: websocket`, `Connection: upgrade` and a `Sec-WebSocket-Key`. All three,
/// so a client cannot make an ordinary route take a URL-borne token by adding one header.
pub(crate) fn is_upgrade<B>(req: &Request<B>) -> bool {
    let lists = |name| {
        req.headers()
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
    };
    req.method() == Method::GET
        && lists(UPGRADE).any(|p| p.eq_ignore_ascii_case("websocket"))
        && lists(CONNECTION).any(|p| p.eq_ignore_ascii_case("upgrade"))
        && req.headers().contains_key(SEC_WEBSOCKET_KEY)
}

/// Whether `uri` carries an `access_token` parameter (however it is encoded): such a
/// parameter is removed before the inner service sees the request, whether the layer
/// read it, refused it or ignored it.
pub(crate) fn has_query_token(uri: &Uri) -> bool {
    uri.query()
        .is_some_and(|q| form_urlencoded::parse(q.as_bytes()).any(|(k, _)| k == PARAM))
}

/// The `access_token` query parameter: `Ok(None)` when absent, 400 when given twice or
/// empty, `TooLarge` past `max_bytes`.
pub(crate) fn query_token(uri: &Uri, max_bytes: usize) -> Result<Option<Cow<'_, str>>, AuthError> {
    let Some(query) = uri.query() else {
        return Ok(None);
    };
    let mut found = None;
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        if k != PARAM {
            continue;
        }
        if found.is_some() {
            return Err(InvalidRequest::MultipleTokens.into());
        }
        found = Some(v);
    }
    match found {
        Some(v) if v.len() > max_bytes => Err(InvalidToken::TooLarge.into()),
        Some(v) if v.is_empty() => Err(InvalidRequest::MalformedAuthorization.into()),
        other => Ok(other),
    }
}

/// `uri` without its `access_token` parameters (other parameters kept as sent), so the
/// inner service — its handlers and any logging inside the layer — never sees the token.
pub(crate) fn strip_query_token(uri: &Uri) -> Uri {
    let Some(query) = uri.query() else {
        return uri.clone();
    };
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| {
            let key = pair.split('=').next().unwrap_or_default();
            form_urlencoded::parse(key.as_bytes())
                .next()
                .is_none_or(|(k, _)| k != PARAM)
        })
        .collect();
    let path_and_query = if kept.is_empty() {
        uri.path().to_owned()
    } else {
        format!("{}?{}", uri.path(), kept.join("&"))
    };
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = path_and_query.parse().ok();
    // Never the original (it holds the token): at worst the bare path, or `/`.
    Uri::from_parts(parts)
        .or_else(|_| uri.path().parse())
        .unwrap_or_else(|_| Uri::from_static("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(method: Method, upgrade: Option<&str>) -> Request<()> {
        let mut b = Request::builder().method(method).uri("/ws");
        if let Some(u) = upgrade {
            b = b
                .header(UPGRADE, u)
                .header(CONNECTION, "keep-alive, Upgrade")
                .header(SEC_WEBSOCKET_KEY, "dGhlIHNhbXBsZSBub25jZQ==");
        }
        b.body(()).unwrap()
    }

    #[test]
    fn only_a_complete_get_handshake_is_an_upgrade() {
        assert!(is_upgrade(&req(Method::GET, Some("websocket"))));
        assert!(is_upgrade(&req(Method::GET, Some("WebSocket"))));
        assert!(!is_upgrade(&req(Method::GET, None)));
        assert!(!is_upgrade(&req(Method::POST, Some("websocket"))));
        assert!(!is_upgrade(&req(Method::GET, Some("h2c"))));
        // `Upgrade: websocket` alone (no Connection: upgrade, no key) is not a handshake.
        let bare = Request::get("/ws")
            .header(UPGRADE, "websocket")
            .body(())
            .unwrap();
        assert!(!is_upgrade(&bare));
        let no_key = Request::get("/ws")
            .header(UPGRADE, "websocket")
            .header(CONNECTION, "upgrade")
            .body(())
            .unwrap();
        assert!(!is_upgrade(&no_key));
    }

    #[test]
    fn a_query_token_is_seen_however_encoded() {
        assert!(has_query_token(&"/x?a=1&access_token=t".parse().unwrap()));
        assert!(has_query_token(&"/x?access%5Ftoken=t".parse().unwrap()));
        assert!(!has_query_token(&"/x?a=1".parse().unwrap()));
        assert!(!has_query_token(&"/x".parse().unwrap()));
    }

    #[test]
    fn query_token_is_found_once() {
        let uri: Uri = "/ws?a=1&access_token=abc.def&b=2".parse().unwrap();
        assert_eq!(query_token(&uri, 100).unwrap().as_deref(), Some("abc.def"));
        let uri: Uri = "/ws?a=1".parse().unwrap();
        assert_eq!(query_token(&uri, 100).unwrap(), None);
        let uri: Uri = "/ws?access_token=a&access_token=b".parse().unwrap();
        assert_eq!(
            query_token(&uri, 100).unwrap_err(),
            AuthError::InvalidRequest(InvalidRequest::MultipleTokens)
        );
        let uri: Uri = "/ws?access_token=abcdef".parse().unwrap();
        assert_eq!(
            query_token(&uri, 3).unwrap_err(),
            AuthError::InvalidToken(InvalidToken::TooLarge)
        );
    }

    #[test]
    fn stripping_keeps_the_other_parameters() {
        let uri: Uri = "/ws?a=1&access_token=secret&b=2".parse().unwrap();
        assert_eq!(strip_query_token(&uri), "/ws?a=1&b=2");
        let uri: Uri = "/ws?access_token=secret".parse().unwrap();
        assert_eq!(strip_query_token(&uri), "/ws");
        let uri: Uri = "/ws?access%5Ftoken=secret&x".parse().unwrap();
        assert_eq!(strip_query_token(&uri), "/ws?x");
    }
}
