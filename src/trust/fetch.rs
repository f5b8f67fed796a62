//! Fetching discovery and JWKS documents, and posting introspection requests, over
//! HTTP(S) (feature `oidc`): bounded in time and size, `https://` only except for
//! loopback hosts, no redirects.

use std::time::Duration;

use async_trait::async_trait;
use http::header::{ACCEPT, CACHE_CONTROL};

/// A fetched document and the `max-age` its response allowed (`Some(0)` for
/// `no-store`/`no-cache`).
#[derive(Debug)]
pub(crate) struct Fetched {
    pub(crate) body: Vec<u8>,
    pub(crate) max_age: Option<Duration>,
}

/// Why a fetch failed; logged with the issuer, never shown to clients.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum FetchError {
    #[error("the URL is not https:// (plain http is allowed for loopback hosts only)")]
    InsecureUrl,
    #[error("the request failed: {0}")]
    Transport(String),
    #[error("the server answered {0}")]
    Status(u16),
    #[error("the answer came from another URL than the one asked (a redirect was followed)")]
    Redirected,
    #[error("the document is larger than the limit")]
    TooLarge,
    #[error("the fetch timed out")]
    Timeout,
    #[error("too many calls in flight")]
    Busy,
    #[error("the discovery document is invalid: {0}")]
    Discovery(&'static str),
    #[error("the JWKS is invalid: {0}")]
    Jwks(&'static str),
}

impl FetchError {
    /// Its fixed name: a metrics label and [`KeySetStatus::last_error`](crate::trust::KeySetStatus::last_error).
    pub(crate) fn name(&self) -> &'static str {
        match self {
            FetchError::InsecureUrl => "insecure_url",
            FetchError::Transport(_) => "transport",
            FetchError::Status(_) => "status",
            FetchError::Redirected => "redirected",
            FetchError::TooLarge => "too_large",
            FetchError::Timeout => "timeout",
            FetchError::Busy => "busy",
            FetchError::Discovery(_) => "discovery",
            FetchError::Jwks(_) => "not_jwks",
        }
    }
}

/// How documents are fetched: HTTP in production, a scripted fake in unit tests.
#[async_trait]
pub(crate) trait Fetch: Send + Sync + 'static {
    async fn get(&self, url: &str) -> Result<Fetched, FetchError>;
}

/// Refuses URLs a key set must not come from: anything but `https://`, except
/// `http://` on a loopback host (a provider on the same machine, tests).
pub(crate) fn check_url(url: &str) -> Result<(), &'static str> {
    let parsed = reqwest::Url::parse(url).map_err(|_| "not a URL")?;
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(&parsed) => Ok(()),
        _ => Err("key sets are fetched over https:// only (http:// for loopback hosts)"),
    }
}

fn is_loopback(url: &reqwest::Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    match host.parse::<std::net::IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => host.eq_ignore_ascii_case("localhost"),
    }
}

/// The production fetcher: reqwest, no redirects, a whole-request timeout, a body limit.
/// With an application's client (which may follow redirects), a response from any URL
/// but the one asked is refused all the same.
pub(crate) struct HttpFetch {
    client: reqwest::Client,
    timeout: Duration,
    max_bytes: usize,
}

impl HttpFetch {
    pub(crate) fn new(
        client: Option<reqwest::Client>,
        timeout: Duration,
        max_bytes: usize,
    ) -> Result<Self, &'static str> {
        let client = match client {
            Some(c) => c,
            None => reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .connect_timeout(timeout)
                .user_agent(concat!("axum-token-auth/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|_| "the HTTP client cannot be built")?,
        };
        Ok(HttpFetch {
            client,
            timeout,
            max_bytes,
        })
    }
}

#[async_trait]
impl Fetch for HttpFetch {
    async fn get(&self, url: &str) -> Result<Fetched, FetchError> {
        let asked = checked(url)?;
        let request = self
            .client
            .get(asked.clone())
            .header(ACCEPT, "application/json");
        self.send(request, asked).await
    }
}

/// A URL as the policy allows it: parsed, `https://` (or loopback `http://`).
fn checked(url: &str) -> Result<reqwest::Url, FetchError> {
    check_url(url).map_err(|_| FetchError::InsecureUrl)?;
    reqwest::Url::parse(url).map_err(|_| FetchError::InsecureUrl)
}

impl HttpFetch {
    /// A `POST` of an `application/x-www-form-urlencoded` body (an RFC 7662 introspection
    /// request), under the same URL policy, timeout and size limit as [`Fetch::get`]:
    /// `basic` is the client's HTTP Basic credentials, `accept` the media type asked.
    pub(crate) async fn post_form(
        &self,
        url: &str,
        form: &str,
        basic: Option<(&str, &str)>,
        accept: &'static str,
    ) -> Result<Fetched, FetchError> {
        let asked = checked(url)?;
        let mut request = self
            .client
            .post(asked.clone())
            .header(ACCEPT, accept)
            .header(
                http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(form.to_owned());
        if let Some((id, secret)) = basic {
            request = request.basic_auth(id, Some(secret));
        }
        self.send(request, asked).await
    }

    /// Sends `request` (to `asked`): the whole exchange within the timeout, refused when
    /// it is answered from another URL, not `200`, or larger than the limit.
    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        asked: reqwest::Url,
    ) -> Result<Fetched, FetchError> {
        let work = async {
            let mut res = request
                .send()
                .await
                .map_err(|e| FetchError::Transport(without_url(e)))?;
            // The policy holds whatever client the application gave: an answer from any
            // other URL (a redirect its client followed, perhaps to plain http or an
            // internal host) is refused, and a 3xx is a failed fetch like any non-200.
            if *res.url() != asked {
                return Err(FetchError::Redirected);
            }
            if res.status() != reqwest::StatusCode::OK {
                return Err(FetchError::Status(res.status().as_u16()));
            }
            if res
                .content_length()
                .is_some_and(|n| n > self.max_bytes as u64)
            {
                return Err(FetchError::TooLarge);
            }
            let max_age = res
                .headers()
                .get(CACHE_CONTROL)
                .and_then(|v| v.to_str().ok())
                .and_then(parse_max_age);
            let mut body = Vec::new();
            while let Some(chunk) = res
                .chunk()
                .await
                .map_err(|e| FetchError::Transport(without_url(e)))?
            {
                if body.len() + chunk.len() > self.max_bytes {
                    return Err(FetchError::TooLarge);
                }
                body.extend_from_slice(&chunk);
            }
            Ok(Fetched { body, max_age })
        };
        tokio::time::timeout(self.timeout, work)
            .await
            .map_err(|_| FetchError::Timeout)?
    }
}

fn without_url(e: reqwest::Error) -> String {
    e.without_url().to_string()
}

/// `max-age` of a `Cache-Control` value; `no-store` / `no-cache` count as 0.
pub(crate) fn parse_max_age(v: &str) -> Option<Duration> {
    let mut max_age = None;
    for directive in v.split(',').map(str::trim) {
        let (name, value) = directive.split_once('=').unwrap_or((directive, ""));
        if name.eq_ignore_ascii_case("no-store") || name.eq_ignore_ascii_case("no-cache") {
            return Some(Duration::ZERO);
        }
        if name.eq_ignore_ascii_case("max-age") {
            max_age = value
                .trim_matches('"')
                .parse::<u64>()
                .ok()
                .map(Duration::from_secs);
        }
    }
    max_age
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn only_https_or_loopback_http() {
        assert!(check_url("https://idp.example.com/jwks").is_ok());
        assert!(check_url("http://127.0.0.1:8080/jwks").is_ok());
        assert!(check_url("http://[::1]:8080/jwks").is_ok());
        assert!(check_url("http://localhost/jwks").is_ok());
        assert!(check_url("http://idp.example.com/jwks").is_err());
        assert!(check_url("http://10.0.0.1/jwks").is_err());
        assert!(check_url("ftp://127.0.0.1/jwks").is_err());
        assert!(check_url("not a url").is_err());
    }

    /// A real loopback server: `/jwks` answers 302 to `/elsewhere`, which serves a JWKS.
    async fn redirecting_server() -> (String, Arc<AtomicUsize>) {
        use axum::response::IntoResponse;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let followed = Arc::new(AtomicUsize::new(0));
        let count = Arc::clone(&followed);
        let app = axum::Router::new()
            .route(
                "/jwks",
                axum::routing::get(|| async {
                    (
                        http::StatusCode::FOUND,
                        [(http::header::LOCATION, "/elsewhere")],
                    )
                        .into_response()
                }),
            )
            .route(
                "/elsewhere",
                axum::routing::get(move || {
                    count.fetch_add(1, Ordering::SeqCst);
                    async { r#"{"keys":[]}"# }
                }),
            );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (base, followed)
    }

    #[tokio::test]
    async fn a_redirect_is_a_failed_fetch_whatever_the_client() {
        let (base, followed) = redirecting_server().await;
        let url = format!("{base}/jwks");
        let ours = HttpFetch::new(None, Duration::from_secs(5), 1024).unwrap();
        assert_eq!(ours.get(&url).await.unwrap_err(), FetchError::Status(302));
        assert_eq!(followed.load(Ordering::SeqCst), 0, "ours never follows");
        // An application's client that follows redirects (reqwest's default policy):
        // the document comes from another URL than the one asked, and is refused.
        let theirs =
            HttpFetch::new(Some(reqwest::Client::new()), Duration::from_secs(5), 1024).unwrap();
        assert_eq!(theirs.get(&url).await.unwrap_err(), FetchError::Redirected);
        assert_eq!(followed.load(Ordering::SeqCst), 1, "it did follow");
        // The URL asked is served as is.
        let direct = theirs.get(&format!("{base}/elsewhere")).await.unwrap();
        assert_eq!(direct.body, br#"{"keys":[]}"#);
    }

    #[test]
    fn max_age_is_read_from_cache_control() {
        assert_eq!(
            parse_max_age("public, max-age=300"),
            Some(Duration::from_secs(300))
        );
        assert_eq!(parse_max_age("no-cache"), Some(Duration::ZERO));
        assert_eq!(parse_max_age("public"), None);
        assert_eq!(parse_max_age("max-age=soon"), None);
    }
}
