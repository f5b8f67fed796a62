//! [`Introspector`]: one issuer's introspection endpoint, called — the endpoint found
//! (configured or discovered), the client authenticated, the call bounded in time and
//! size and shared by concurrent requests with the same token.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use crate::token::clock::Clock;
use crate::trust::fetch::{Fetch, FetchError, HttpFetch};
use crate::trust::introspect::flight::Flights;
use crate::trust::introspect::settings::{ClientAuth, Introspection};

/// The media type of an RFC 9701 JWT introspection response.
pub(crate) const JWT_RESPONSE: &str = "application/token-introspection+jwt";

/// The assertion type of `private_key_jwt` (RFC 7523 §2.2).
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The body of an introspection response, shared by the requests that waited for it;
/// or why there is none (logged, never shown to clients: a 503).
pub(crate) type Answer = Result<Arc<[u8]>, FetchError>;

/// One issuer's introspection, ready to call.
pub(crate) struct Introspector {
    iss: Arc<str>,
    endpoint: Option<String>,
    /// The endpoint found by discovery (cleared on failure, so discovery runs again).
    discovered: Mutex<Option<String>>,
    auth: ClientAuth,
    hint: Option<String>,
    pub(crate) jwt_response: bool,
    /// The cache bound, in seconds.
    pub(crate) max_cache_ttl: u64,
    timeout: Duration,
    http: HttpFetch,
    flights: Flights<Answer>,
    /// Permits for calls in flight (`max_concurrent_calls`).
    calls: tokio::sync::Semaphore,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Introspector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Introspector")
            .field("iss", &self.iss)
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl Introspector {
    /// `settings` checked (by `Issuer::check`); `client` is the issuer's HTTP client.
    pub(crate) fn new(
        iss: Arc<str>,
        settings: Introspection,
        client: Option<reqwest::Client>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, &'static str> {
        let auth = settings
            .auth
            .ok_or("introspection needs a client authentication")?;
        let http = HttpFetch::new(client, settings.timeout, settings.max_response_bytes)?;
        Ok(Introspector {
            iss,
            endpoint: settings.endpoint,
            discovered: Mutex::new(None),
            auth,
            hint: settings.token_type_hint,
            jwt_response: settings.jwt_response,
            max_cache_ttl: settings.max_cache_ttl.as_secs(),
            timeout: settings.timeout,
            http,
            flights: Flights::default(),
            calls: tokio::sync::Semaphore::new(settings.max_concurrent_calls),
            clock,
        })
    }

    /// The client id (the audience of a JWT response).
    pub(crate) fn client_id(&self) -> &str {
        self.auth.client_id()
    }

    /// The endpoint's answer on `token`: one call shared by every concurrent request
    /// with the same token, the whole wait (discovery included) within the timeout.
    pub(crate) async fn introspect(&self, token: &str) -> Answer {
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let flight = self.flights.run(key, || self.call(token));
        match tokio::time::timeout(self.timeout, flight).await {
            Ok(answer) => answer,
            Err(_) => Err(FetchError::Timeout),
        }
    }

    async fn call(&self, token: &str) -> Answer {
        // Only a flight's leader calls, holding a permit; a call beyond the limit waits
        // for one within the same timeout (a burst of new users waits, a flood 503s).
        let _permit = self.calls.acquire().await.map_err(|_| FetchError::Busy)?;
        let endpoint = self.endpoint().await?;
        let (form, basic) = self.request(token)?;
        let accept = if self.jwt_response {
            JWT_RESPONSE
        } else {
            "application/json"
        };
        let basic = basic
            .as_ref()
            .map(|(id, secret)| (id.as_str(), secret.as_str()));
        match self.http.post_form(&endpoint, &form, basic, accept).await {
            Ok(fetched) => Ok(fetched.body.into()),
            Err(e) => {
                if self.endpoint.is_none() {
                    *self.discovered_slot() = None;
                }
                Err(e)
            }
        }
    }

    /// The request's form body (`token`, the hint, the client's credentials) and, for
    /// `client_secret_basic`, the Basic credentials.
    #[allow(clippy::type_complexity)]
    fn request(&self, token: &str) -> Result<(String, Option<(String, String)>), FetchError> {
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair("token", token);
        if let Some(hint) = &self.hint {
            form.append_pair("token_type_hint", hint);
        }
        let basic = match &self.auth {
            // RFC 6749 §2.3.1: both form-encoded before Basic.
            ClientAuth::Basic { id, secret } => Some((encoded(id), encoded(secret))),
            ClientAuth::Post { id, secret } => {
                form.append_pair("client_id", id);
                form.append_pair("client_secret", secret);
                None
            }
            ClientAuth::PrivateKeyJwt { id, key } => {
                let assertion = self.assertion(id, key).ok_or_else(|| {
                    FetchError::Transport("the client assertion cannot be signed".to_owned())
                })?;
                form.append_pair("client_id", id);
                form.append_pair("client_assertion_type", JWT_BEARER);
                form.append_pair("client_assertion", &assertion);
                None
            }
        };
        Ok((form.finish(), basic))
    }

    /// The RFC 7523 client assertion: `iss` = `sub` = the client id, `aud` = the issuer,
    /// a fresh `jti`, valid 60 s.
    fn assertion(&self, client_id: &str, key: &crate::token::keys::Key) -> Option<String> {
        let now = self.clock.now();
        let mut jti = [0u8; 16];
        getrandom::fill(&mut jti).ok()?;
        let claims = serde_json::json!({
            "iss": client_id,
            "sub": client_id,
            "aud": &*self.iss,
            "jti": URL_SAFE_NO_PAD.encode(jti),
            "iat": now,
            "exp": now + 60,
        });
        let mut header = jsonwebtoken::Header::new(key.alg);
        header.kid = key.kid.clone();
        jsonwebtoken::encode(&header, &claims, key.encoding.as_ref()?).ok()
    }

    fn discovered_slot(&self) -> std::sync::MutexGuard<'_, Option<String>> {
        self.discovered.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The configured endpoint, or the one the issuer's metadata names.
    async fn endpoint(&self) -> Result<String, FetchError> {
        if let Some(url) = &self.endpoint {
            return Ok(url.clone());
        }
        if let Some(url) = self.discovered_slot().clone() {
            return Ok(url);
        }
        #[derive(Deserialize)]
        struct Metadata {
            issuer: String,
            introspection_endpoint: Option<String>,
        }
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.iss.trim_end_matches('/')
        );
        let doc = self.http.get(&url).await?;
        let m: Metadata = serde_json::from_slice(&doc.body)
            .map_err(|_| FetchError::Discovery("not an OpenID configuration"))?;
        if *m.issuer != *self.iss {
            return Err(FetchError::Discovery(
                "its issuer is not the configured one",
            ));
        }
        let endpoint = m
            .introspection_endpoint
            .ok_or(FetchError::Discovery("it names no introspection_endpoint"))?;
        crate::trust::fetch::check_url(&endpoint).map_err(|_| FetchError::InsecureUrl)?;
        *self.discovered_slot() = Some(endpoint.clone());
        Ok(endpoint)
    }
}

fn encoded(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
