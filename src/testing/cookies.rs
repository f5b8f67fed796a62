//! [`CookieJar`]: the cookies a browser would keep from `Set-Cookie` answers, sent back as
//! a `Cookie` header, with the CSRF value echoed in the CSRF header.

use std::collections::BTreeMap;

use http::header::{COOKIE, SET_COOKIE};
use http::{HeaderMap, HeaderValue, Request};

use crate::auth::TokenAuth;

/// What a browser keeps from `Set-Cookie` headers, for tests that walk a cookie flow
/// (login, API calls, refresh, logout) through a `Router` without a socket.
///
/// The jar stores name, value and `Path`; a cookie set with `Max-Age=0` or an `Expires`
/// in the past is removed. It ignores `Domain`, `Secure` and `SameSite`: every request
/// is taken as same-site and secure (build the authority with
/// [`test_builder`](super::test_builder) or `insecure_dev_cookies` when the cookie names
/// should carry no `__Host-` prefix).
///
/// ```
/// use axum_token_auth::{TokenRequest, testing::{CookieJar, test_auth}};
/// use http::{HeaderMap, Request};
///
/// let auth = test_auth();
/// let pair = auth.issue_pair(&TokenRequest::new("alice"))?;
/// let mut answer = HeaderMap::new();
/// auth.web().set_token_cookies(&mut answer, &pair, Some("csrf-value")); // what a login answers
///
/// let mut jar = CookieJar::new();
/// jar.store(&answer);
/// assert_eq!(jar.csrf_token(&auth), Some("csrf-value"));
///
/// let mut req = Request::post("/users").body(()).unwrap();
/// jar.attach(&auth, &mut req); // Cookie (path-matched) + X-CSRF-Token
/// assert_eq!(req.headers()["x-csrf-token"], "csrf-value");
/// let cookie = req.headers()["cookie"].to_str().unwrap();
/// assert!(cookie.contains("access_token=") && !cookie.contains("refresh_token="));
/// # Ok::<(), axum_token_auth::token::IssueError>(())
/// ```
#[derive(Clone, Default)]
pub struct CookieJar {
    /// name → (value, path)
    cookies: BTreeMap<String, (String, String)>,
}

/// Cookie names and paths only: the values are tokens.
impl std::fmt::Debug for CookieJar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.cookies.iter().map(|(name, (_, path))| (name, path)))
            .finish()
    }
}

impl CookieJar {
    /// An empty jar.
    pub fn new() -> Self {
        Self::default()
    }

    /// A jar holding the cookies `headers` (an answer's headers) set.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let mut jar = Self::new();
        jar.store(headers);
        jar
    }

    /// Applies every `Set-Cookie` header of an answer: new values replace old ones,
    /// deletions (`Max-Age=0`, `Expires` in the past) remove them. Headers that are not
    /// valid cookies are skipped.
    pub fn store(&mut self, headers: &HeaderMap) {
        let now = cookie::time::OffsetDateTime::now_utc();
        for value in headers.get_all(SET_COOKIE) {
            let Ok(text) = value.to_str() else { continue };
            let Ok(c) = cookie::Cookie::parse(text) else {
                continue;
            };
            let expired = c
                .max_age()
                .is_some_and(|age| age <= cookie::time::Duration::ZERO)
                || c.expires_datetime().is_some_and(|at| at <= now);
            if expired {
                self.cookies.remove(c.name());
            } else {
                let path = c.path().filter(|p| p.starts_with('/')).unwrap_or("/");
                self.cookies
                    .insert(c.name().to_owned(), (c.value().to_owned(), path.to_owned()));
            }
        }
    }

    /// The value of cookie `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.cookies.get(name).map(|(v, _)| v.as_str())
    }

    /// Puts a cookie in the jar (path `/`), as if a server had set it.
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.cookies
            .insert(name.into(), (value.into(), "/".to_owned()));
    }

    /// Removes cookie `name`; returns its value.
    pub fn remove(&mut self, name: &str) -> Option<String> {
        self.cookies.remove(name).map(|(v, _)| v)
    }

    /// How many cookies the jar holds.
    pub fn len(&self) -> usize {
        self.cookies.len()
    }

    /// Whether the jar holds no cookie.
    pub fn is_empty(&self) -> bool {
        self.cookies.is_empty()
    }

    /// The names of the cookies held, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.cookies.keys().map(String::as_str)
    }

    /// The value of the CSRF cookie `auth` sets (the value to echo in the CSRF header).
    pub fn csrf_token(&self, auth: &TokenAuth) -> Option<&str> {
        self.get(&auth.web().cookie_settings().csrf_cookie_name())
    }

    /// The value of `auth`'s access-token cookie.
    pub fn access_token(&self, auth: &TokenAuth) -> Option<&str> {
        self.get(&auth.web().cookie_settings().access_cookie_name())
    }

    /// The value of `auth`'s refresh-token cookie.
    pub fn refresh_token(&self, auth: &TokenAuth) -> Option<&str> {
        self.get(&auth.web().cookie_settings().refresh_cookie_name())
    }

    /// A `Cookie` header value carrying every cookie held, whatever its path
    /// (`None` when the jar is empty).
    pub fn cookie_header(&self) -> Option<HeaderValue> {
        self.header_where(|_| true)
    }

    /// A `Cookie` header value carrying the cookies a browser sends to `path`: those
    /// whose `Path` path-matches it (RFC 6265 §5.1.4).
    pub fn cookie_header_for(&self, path: &str) -> Option<HeaderValue> {
        self.header_where(|cookie_path| path_matches(path, cookie_path))
    }

    fn header_where(&self, keep: impl Fn(&str) -> bool) -> Option<HeaderValue> {
        let joined = self
            .cookies
            .iter()
            .filter(|(_, (_, path))| keep(path))
            .map(|(name, (value, _))| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ");
        if joined.is_empty() {
            return None;
        }
        HeaderValue::from_str(&joined).ok()
    }

    /// Adds to `req` what a browser page of the same origin sends: the `Cookie` header
    /// with the cookies whose path matches the request's, and the CSRF header `auth`
    /// expects with the CSRF cookie's value (when the jar holds one). Any `Cookie` header
    /// already on the request is replaced.
    pub fn attach<B>(&self, auth: &TokenAuth, req: &mut Request<B>) {
        let path = req.uri().path().to_owned();
        match self.cookie_header_for(&path) {
            Some(v) => {
                req.headers_mut().insert(COOKIE, v);
            }
            None => {
                req.headers_mut().remove(COOKIE);
            }
        }
        if let Some(csrf) = self.csrf_token(auth)
            && let Ok(v) = HeaderValue::from_str(csrf)
        {
            req.headers_mut()
                .insert(auth.web().csrf_settings().header_name().clone(), v);
        }
    }
}

/// RFC 6265 §5.1.4 path-match.
fn path_matches(request_path: &str, cookie_path: &str) -> bool {
    request_path == cookie_path
        || (request_path.starts_with(cookie_path)
            && (cookie_path.ends_with('/')
                || request_path.as_bytes().get(cookie_path.len()) == Some(&b'/')))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(set_cookies: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for c in set_cookies {
            h.append(SET_COOKIE, HeaderValue::from_str(c).unwrap());
        }
        h
    }

    #[test]
    fn debug_shows_names_and_paths_never_values() {
        let jar = CookieJar::from_headers(&answer(&["__Host-access_token=eyJ.secret.sig; Path=/"]));
        let shown = format!("{jar:?}");
        assert!(shown.contains("__Host-access_token"), "{shown}");
        assert!(!shown.contains("secret"), "{shown}");
    }

    #[test]
    fn later_answers_replace_and_delete_cookies() {
        let mut jar = CookieJar::from_headers(&answer(&[
            "a=1; Path=/; HttpOnly",
            "b=2; Path=/auth",
            "c=3",
        ]));
        assert_eq!(jar.len(), 3);
        jar.store(&answer(&[
            "a=10; Path=/",
            "b=; Max-Age=0; Path=/auth",
            "c=; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
        ]));
        assert_eq!(jar.get("a"), Some("10"));
        assert_eq!(jar.get("b"), None);
        assert_eq!(jar.get("c"), None);
        assert_eq!(jar.names().collect::<Vec<_>>(), ["a"]);
    }

    #[test]
    fn cookies_are_sent_only_to_matching_paths() {
        let jar = CookieJar::from_headers(&answer(&["a=1; Path=/", "r=2; Path=/auth"]));
        assert_eq!(jar.cookie_header_for("/me").unwrap(), "a=1");
        assert_eq!(jar.cookie_header_for("/auth").unwrap(), "a=1; r=2");
        assert_eq!(jar.cookie_header_for("/auth/refresh").unwrap(), "a=1; r=2");
        assert_eq!(jar.cookie_header_for("/authx").unwrap(), "a=1");
        assert_eq!(jar.cookie_header().unwrap(), "a=1; r=2");
        assert_eq!(CookieJar::new().cookie_header(), None);
    }
}
