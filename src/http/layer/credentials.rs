//! The request-credentials reader: the token of a request, from `Authorization: Bearer`,
//! the access cookie, or (on WebSocket upgrades, when enabled) the `access_token` query
//! parameter — and the request's mistakes (two headers, a malformed `Bearer` value, a
//! header token and a different cookie token) as [`AuthError`]s. Shared by the layer and
//! the session routes.

use std::borrow::Cow;

use http::header::{AUTHORIZATION, COOKIE};
use http::{HeaderMap, HeaderValue, Request};

use crate::http::rfc6750::{AuthError, InvalidRequest};
use crate::http::websocket;
use crate::token::error::InvalidToken;

/// Where the request's token came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenSource {
    /// The `Authorization: Bearer` header.
    Header,
    /// The `Authorization: DPoP` header (RFC 9449), with its `DPoP` proof header; only
    /// when DPoP is configured ([`TokenAuthBuilder::dpop`](crate::TokenAuthBuilder::dpop)).
    Dpop,
    /// The access-token cookie.
    Cookie,
    /// The `access_token` query parameter of a WebSocket upgrade request (RFC 6750
    /// §2.3), when the layer accepts it
    /// ([`accept_query_token_on_upgrade`](crate::TokenAuthLayer::accept_query_token_on_upgrade)).
    Query,
}

/// Finds the request's token: `Ok(None)` when there is none, an error when the request
/// is malformed (two `Authorization` headers, a bad `Bearer` value, or a header token
/// and a different cookie token).
pub(crate) fn find_token<'h>(
    headers: &'h HeaderMap,
    cookie_name: Option<&str>,
    max_bytes: usize,
    dpop: bool,
) -> Result<Option<(&'h str, TokenSource)>, AuthError> {
    match locate_token(headers, cookie_name, max_bytes, dpop)? {
        Some((token, source)) => Ok(Some((checked_text(token, source)?, source))),
        None => Ok(None),
    }
}

/// [`find_token`] without the checks of the header token's text (UTF-8, `b64token`):
/// its bytes, as the cache of verified tokens looks them up. Every refusal that depends
/// on the whole request (two headers, a conflicting cookie, the size) is decided here,
/// in the order [`find_token`] decides it.
fn locate_token<'h>(
    headers: &'h HeaderMap,
    cookie_name: Option<&str>,
    max_bytes: usize,
    dpop: bool,
) -> Result<Option<(&'h [u8], TokenSource)>, AuthError> {
    let mut auth_headers = headers.get_all(AUTHORIZATION).iter();
    let (header_token, header_source) = match (auth_headers.next(), auth_headers.next()) {
        (Some(_), Some(_)) => return Err(InvalidRequest::MultipleAuthorization.into()),
        (Some(v), None) => match parse_scheme(v.as_bytes(), b"bearer", max_bytes)? {
            Some(t) => (Some(t), TokenSource::Header),
            None if dpop => (
                parse_scheme(v.as_bytes(), b"dpop", max_bytes)?,
                TokenSource::Dpop,
            ),
            None => (None, TokenSource::Header),
        },
        (None, _) => (None, TokenSource::Header),
    };
    let cookie_token = match cookie_name {
        Some(name) => find_cookie(headers, name),
        None => None,
    };
    if cookie_token.is_some_and(|c| c.len() > max_bytes) {
        // A header value that is no text is refused as malformed first.
        if let Some(h) = header_token {
            checked_utf8(h)?;
        }
        return Err(InvalidToken::TooLarge.into());
    }
    match (header_token, cookie_token) {
        (Some(h), Some(c)) if !c.is_empty() && h != c.as_bytes() => {
            // A header value that is no text is refused as malformed first.
            checked_utf8(h)?;
            Err(InvalidRequest::ConflictingCredentials.into())
        }
        (Some(h), _) => Ok(Some((h, header_source))),
        (None, Some(c)) if !c.is_empty() => Ok(Some((c.as_bytes(), TokenSource::Cookie))),
        _ => Ok(None),
    }
}

/// `<scheme> <b64token>` (RFC 6750 §2.1, RFC 9449 §7.1) for `scheme` (`bearer`,
/// `dpop`: lower case), scheme case-insensitive: the token's bytes (its text is checked
/// by [`checked_text`]). Another scheme is not this credential (`Ok(None)`).
fn parse_scheme<'v>(
    value: &'v [u8],
    want: &[u8],
    max_bytes: usize,
) -> Result<Option<&'v [u8]>, AuthError> {
    let malformed = || AuthError::InvalidRequest(InvalidRequest::MalformedAuthorization);
    // The scheme followed by a space or the end; any other scheme is not this one.
    let n = want.len();
    let (scheme, rest) = match value.get(..n) {
        Some(s) if value.len() == n || value[n] == b' ' => (s, &value[n..]),
        _ => return Ok(None),
    };
    if !scheme.eq_ignore_ascii_case(want) {
        return Ok(None);
    }
    let start = rest.iter().position(|&b| b != b' ').unwrap_or(rest.len());
    let token = &rest[start..];
    if token.len() > max_bytes {
        // A value that is no text is malformed before it is too large.
        checked_utf8(token)?;
        return Err(InvalidToken::TooLarge.into());
    }
    if token.is_empty() {
        return Err(malformed());
    }
    Ok(Some(token))
}

/// The token's bytes as text: a header value that is no UTF-8 is 400.
fn checked_utf8(token: &[u8]) -> Result<&str, AuthError> {
    std::str::from_utf8(token)
        .map_err(|_| AuthError::InvalidRequest(InvalidRequest::MalformedAuthorization))
}

/// A located token as text, checked: UTF-8, and the `b64token` charset of a header or
/// query token (RFC 6750 §2.1); 400 when either fails. The layer checks it only on a
/// cache miss: a cached token's bytes passed it when they were verified.
pub(super) fn checked_text(token: &[u8], source: TokenSource) -> Result<&str, AuthError> {
    let text = checked_utf8(token)?;
    if source != TokenSource::Cookie && !is_b64token(text) {
        return Err(AuthError::InvalidRequest(
            InvalidRequest::MalformedAuthorization,
        ));
    }
    Ok(text)
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

/// The first cookie called `name` across all `Cookie` headers (a header value that is
/// not visible ASCII is skipped whole).
pub(crate) fn find_cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    for value in headers.get_all(COOKIE) {
        let Some(text) = ascii_text(value) else {
            continue;
        };
        for pair in text.split(';') {
            if let Some((k, v)) = pair.trim().split_once('=')
                && k.trim() == name
            {
                return Some(unquoted(v.trim()));
            }
        }
    }
    None
}

/// `v` without its leading and trailing `"` (`str::trim_matches('"')`, which walks a
/// long cookie value char by char).
fn unquoted(v: &str) -> &str {
    let b = v.as_bytes();
    let start = b.iter().position(|&c| c != b'"').unwrap_or(b.len());
    let end = b.iter().rposition(|&c| c != b'"').map_or(start, |i| i + 1);
    // Both ends are next to an ASCII `"` or the string's ends: char boundaries.
    &v[start..end]
}

/// A header value as text when it is visible ASCII (what `HeaderValue::to_str` accepts):
/// a header value holds no control byte but tab, so ASCII is visible ASCII — checked a
/// word at a time rather than byte by byte.
fn ascii_text(value: &HeaderValue) -> Option<&str> {
    let bytes = value.as_bytes();
    if !bytes.is_ascii() {
        return None;
    }
    std::str::from_utf8(bytes).ok()
}

/// The token a request presents to the layer, as sent: its bytes (the cache of verified
/// tokens looks them up as they are; [`checked_text`] checks them on a miss) and where
/// they came from.
pub(super) struct Presented<'r> {
    pub(super) bytes: Cow<'r, [u8]>,
    pub(super) source: TokenSource,
}

/// The request's token as the layer reads it: the header or cookie token, or — when
/// enabled, on WebSocket upgrades only — the `access_token` query parameter.
#[inline]
pub(super) fn locate_request_token<'r, B>(
    req: &'r Request<B>,
    cookie_name: Option<&str>,
    max_bytes: usize,
    query_on_upgrade: bool,
    dpop: bool,
) -> Result<Option<Presented<'r>>, AuthError> {
    let found = locate_token(req.headers(), cookie_name, max_bytes, dpop)?;
    let borrowed = |(t, source): (&'r [u8], TokenSource)| Presented {
        bytes: Cow::Borrowed(t),
        source,
    };
    if !query_on_upgrade || !websocket::is_upgrade(req) {
        return Ok(found.map(borrowed));
    }
    // A header value that is no text is refused as malformed before the query is read.
    if let Some((t, TokenSource::Header | TokenSource::Dpop)) = found {
        checked_utf8(t)?;
    }
    match (found, websocket::query_token(req.uri(), max_bytes)?) {
        (Some(_), Some(_)) => Err(InvalidRequest::MultipleTokens.into()),
        (Some(found), None) => Ok(Some(borrowed(found))),
        (None, Some(q)) => Ok(Some(Presented {
            bytes: match q {
                Cow::Borrowed(q) => Cow::Borrowed(q.as_bytes()),
                Cow::Owned(q) => Cow::Owned(q.into_bytes()),
            },
            source: TokenSource::Query,
        })),
        (None, None) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
                find_token(&h, None, 8192, false).unwrap(),
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
                find_token(&h, None, 8192, false).unwrap_err(),
                AuthError::InvalidRequest(InvalidRequest::MalformedAuthorization),
                "{v}"
            );
        }
    }

    #[test]
    fn other_schemes_are_not_bearer_credentials() {
        let h = headers(&[("authorization", "Basic dXNlcjpwYXNz")]);
        assert_eq!(find_token(&h, None, 8192, false).unwrap(), None);
    }

    #[test]
    fn two_authorization_headers_are_invalid_request() {
        let h = headers(&[("authorization", "Bearer a"), ("authorization", "Bearer a")]);
        assert_eq!(
            find_token(&h, None, 8192, false).unwrap_err(),
            AuthError::InvalidRequest(InvalidRequest::MultipleAuthorization)
        );
    }

    #[test]
    fn cookie_is_found_and_conflicts_are_refused() {
        let h = headers(&[("cookie", "a=1; access_token=tok.en.x; b=2")]);
        assert_eq!(
            find_token(&h, Some("access_token"), 8192, false).unwrap(),
            Some(("tok.en.x", TokenSource::Cookie))
        );
        assert_eq!(find_token(&h, None, 8192, false).unwrap(), None);
        let h = headers(&[
            ("cookie", "access_token=one"),
            ("authorization", "Bearer two"),
        ]);
        assert_eq!(
            find_token(&h, Some("access_token"), 8192, false).unwrap_err(),
            AuthError::InvalidRequest(InvalidRequest::ConflictingCredentials)
        );
        let h = headers(&[
            ("cookie", "access_token=same"),
            ("authorization", "Bearer same"),
        ]);
        assert_eq!(
            find_token(&h, Some("access_token"), 8192, false).unwrap(),
            Some(("same", TokenSource::Header))
        );
    }

    #[test]
    fn a_header_value_that_is_no_text_is_malformed_before_anything_else() {
        let mut h = HeaderMap::new();
        let value = HeaderValue::from_bytes(b"Bearer abc\xffdef").unwrap();
        h.insert(AUTHORIZATION, value);
        let malformed = AuthError::InvalidRequest(InvalidRequest::MalformedAuthorization);
        assert_eq!(find_token(&h, None, 8192, false).unwrap_err(), malformed);
        // … before a conflicting cookie,
        h.insert(COOKIE, HeaderValue::from_static("access_token=other"));
        assert_eq!(
            find_token(&h, Some("access_token"), 8192, false).unwrap_err(),
            malformed
        );
        // … an oversized cookie,
        let big = format!("access_token={}", "a".repeat(300));
        h.insert(COOKIE, HeaderValue::from_str(&big).unwrap());
        assert_eq!(
            find_token(&h, Some("access_token"), 256, false).unwrap_err(),
            malformed
        );
        // … and its own size.
        let mut long = b"Bearer ".to_vec();
        long.extend(std::iter::repeat_n(b'\xff', 300));
        h.insert(AUTHORIZATION, HeaderValue::from_bytes(&long).unwrap());
        assert_eq!(find_token(&h, None, 256, false).unwrap_err(), malformed);
    }

    #[test]
    fn cookie_values_lose_their_quotes_as_trim_matches_would() {
        for v in [
            "",
            "\"",
            "\"\"",
            "a",
            "\"a\"",
            "\"\"a\"",
            "a\"b",
            "\"a\"b\"\"",
        ] {
            assert_eq!(unquoted(v), v.trim_matches('"'), "{v}");
        }
    }

    #[test]
    fn oversize_is_refused_before_decoding() {
        let big = format!("Bearer {}", "a".repeat(300));
        let h = headers(&[("authorization", &big)]);
        assert_eq!(
            find_token(&h, None, 256, false).unwrap_err(),
            AuthError::InvalidToken(InvalidToken::TooLarge)
        );
    }
}
