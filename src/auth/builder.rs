//! Configuration: [`TokenAuthBuilder`] (and [`TokenAuthBuilder::from_env`]), validated once
//! into an immutable [`TokenAuth`].

use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::Algorithm;

use crate::auth::{Inner, Lifetimes, TokenAuth};
use crate::http::cookies::CookieSettings;
use crate::http::csrf::CsrfSettings;
use crate::http::rfc6750::DEFAULT_REALM;
use crate::http::rfc6750::{ErrorRenderer, JsonErrorRenderer, Rendering};
use crate::http::settings::WebSettings;
use crate::store::StoreFailurePolicy;
use crate::store::memory::MemoryRevocationStore;
use crate::store::{IntoDynSubjectRevocation, RevocationNotes, SubjectRevocation};
use crate::token::clock::{Clock, SystemClock};
use crate::token::error::{ConfigError, check_text};
use crate::token::keys::{Key, KeyRing};
use crate::trust::dpop::DpopPolicy;
use crate::trust::verify::{Verifier, VerifySettings};

/// Default access-token lifetime: 15 minutes.
pub const DEFAULT_ACCESS_TTL: Duration = Duration::from_secs(15 * 60);
/// Default refresh-token lifetime: 7 days.
pub const DEFAULT_REFRESH_TTL: Duration = Duration::from_secs(7 * 24 * 3600);
/// Default service-token lifetime: 30 days.
pub const DEFAULT_SERVICE_TTL: Duration = Duration::from_secs(30 * 24 * 3600);
/// Default clock-skew leeway for `exp`, `nbf` and `iat`: 30 seconds.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(30);
/// Default largest token accepted: 8 KiB.
pub const DEFAULT_MAX_TOKEN_BYTES: usize = 8 * 1024;

/// Allowed lifetimes per token kind (inclusive).
pub(crate) const ACCESS_TTL_RANGE: (Duration, Duration) =
    (Duration::from_secs(60), Duration::from_secs(24 * 3600));
pub(crate) const REFRESH_TTL_RANGE: (Duration, Duration) = (
    Duration::from_secs(3600),
    Duration::from_secs(365 * 24 * 3600),
);
pub(crate) const SERVICE_TTL_RANGE: (Duration, Duration) =
    (Duration::from_secs(3600), Duration::from_secs(8760 * 3600));

/// Builds a [`TokenAuth`]. Every method consumes and returns the builder; mistakes are
/// collected and reported once by [`build`](Self::build).
///
/// ```
/// use std::time::Duration;
/// use axum_token_auth::TokenAuth;
///
/// let auth = TokenAuth::builder()
///     .hs256_secret("a-random-secret-of-at-least-32-bytes!!")
///     .issuer("https://auth.example.com")
///     .audience("orders-api")
///     .access_ttl(Duration::from_secs(30 * 60))
///     .build()?;
/// # Ok::<(), axum_token_auth::ConfigError>(())
/// ```
#[must_use]
pub struct TokenAuthBuilder {
    signing: Option<Key>,
    verification: Vec<Key>,
    issuer: Option<String>,
    audience: Option<String>,
    leeway: Duration,
    access_ttl: Duration,
    refresh_ttl: Duration,
    service_ttl: Duration,
    max_token_bytes: usize,
    access_cookie: bool,
    cookies: CookieSettings,
    csrf: CsrfSettings,
    realm: String,
    renderer: Arc<dyn ErrorRenderer>,
    revocation: Option<crate::store::breaker::RevocationRegistration>,
    trusted: Vec<crate::trust::Issuer>,
    legacy: Vec<crate::trust::LegacyIssuer>,
    failure_policy: StoreFailurePolicy,
    cache_capacity: usize,
    cache_bytes: usize,
    clock: Arc<dyn Clock>,
    error: Option<ConfigError>,
    store_guard: crate::store::breaker::GuardSettings,
    dpop: Option<crate::trust::dpop::DpopSettings>,
    mtls: Option<crate::http::MtlsSettings>,
    resource: Option<crate::http::ProtectedResource>,
    events: crate::trust::events::SecurityEvents,
}

impl Default for TokenAuthBuilder {
    fn default() -> Self {
        TokenAuthBuilder {
            signing: None,
            verification: Vec::new(),
            issuer: None,
            audience: None,
            leeway: DEFAULT_LEEWAY,
            access_ttl: DEFAULT_ACCESS_TTL,
            refresh_ttl: DEFAULT_REFRESH_TTL,
            service_ttl: DEFAULT_SERVICE_TTL,
            max_token_bytes: DEFAULT_MAX_TOKEN_BYTES,
            access_cookie: true,
            cookies: CookieSettings::default(),
            csrf: CsrfSettings::default(),
            realm: DEFAULT_REALM.to_owned(),
            renderer: Arc::new(JsonErrorRenderer),
            revocation: None,
            trusted: Vec::new(),
            legacy: Vec::new(),
            failure_policy: StoreFailurePolicy::FailClosed,
            cache_capacity: crate::http::cache::DEFAULT_CACHE_CAPACITY,
            cache_bytes: crate::http::cache::DEFAULT_CACHE_BYTES,
            clock: Arc::new(SystemClock),
            error: None,
            store_guard: crate::store::breaker::GuardSettings::default(),
            dpop: None,
            mtls: None,
            resource: None,
            events: crate::trust::events::SecurityEvents::default(),
        }
    }
}

impl std::fmt::Debug for TokenAuthBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenAuthBuilder")
            .field("signing", &self.signing)
            .field("verification", &self.verification)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

impl TokenAuthBuilder {
    /// A builder with the defaults: 15 min access, 7 day refresh, 30 day service tokens,
    /// 30 s leeway, 8 KiB token limit, access cookie `__Host-access_token`, realm `api`, the
    /// in-memory revocation store, the system clock. A signing key must be set.
    pub fn new() -> Self {
        Self::default()
    }

    /// A builder configured from the process environment (see [`from_env_with`](Self::from_env_with)).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_env_with(|name| std::env::var(name).ok())
    }

    /// A builder configured from variables looked up with `var`:
    ///
    /// | variable | meaning | default |
    /// | --- | --- | --- |
    /// | `JWT_ALGORITHM` | `HS256` … `EdDSA` | `HS256` |
    /// | `JWT_SECRET_KEY` | HMAC secret (HS*) | — |
    /// | `JWT_PRIVATE_KEY` / `JWT_PRIVATE_KEY_FILE` | PEM private key (RS*, PS*, ES*, EdDSA) | — |
    /// | `JWT_KEY_ID` | `kid` of the signing key | none (thumbprint for asymmetric keys) |
    /// | `JWT_ACCESS_TOKEN_EXPIRE_MINUTES` | access-token lifetime | 15 |
    /// | `JWT_REFRESH_TOKEN_EXPIRE_DAYS` | refresh-token lifetime | 7 |
    /// | `JWT_AUDIENCE` | required audience | none |
    /// | `JWT_ISSUER` | required issuer | none |
    /// | `JWT_LEEWAY_SECONDS` | clock-skew leeway | 30 |
    ///
    /// A missing key is not an error here (set one on the builder); [`build`](Self::build)
    /// reports it. Errors never include a variable's value.
    pub fn from_env_with(var: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        let mut b = Self::new();
        let alg = match get("JWT_ALGORITHM") {
            Some(a) => a
                .trim()
                .parse::<Algorithm>()
                .map_err(|_| ConfigError::Env {
                    name: "JWT_ALGORITHM",
                    reason: "not a supported algorithm",
                })?,
            None => Algorithm::HS256,
        };
        let key = if matches!(alg.family(), jsonwebtoken::AlgorithmFamily::Hmac) {
            get("JWT_SECRET_KEY").map(|s| Key::hmac(alg, s.as_bytes()))
        } else {
            let pem = match (get("JWT_PRIVATE_KEY"), get("JWT_PRIVATE_KEY_FILE")) {
                (Some(pem), _) => Some(pem.replace("\\n", "\n")),
                (None, Some(path)) => {
                    Some(
                        std::fs::read_to_string(path.trim()).map_err(|_| ConfigError::Env {
                            name: "JWT_PRIVATE_KEY_FILE",
                            reason: "the file cannot be read",
                        })?,
                    )
                }
                (None, None) => None,
            };
            pem.map(|pem| Key::from_pem(alg, pem))
        };
        if let Some(key) = key {
            let mut key = key?;
            if let Some(kid) = get("JWT_KEY_ID") {
                key = key.with_kid(kid.trim());
            }
            b = b.signing_key(key);
        }
        if let Some(m) = get("JWT_ACCESS_TOKEN_EXPIRE_MINUTES") {
            b = b.access_ttl(parse_secs("JWT_ACCESS_TOKEN_EXPIRE_MINUTES", &m, 60)?);
        }
        if let Some(d) = get("JWT_REFRESH_TOKEN_EXPIRE_DAYS") {
            b = b.refresh_ttl(parse_secs("JWT_REFRESH_TOKEN_EXPIRE_DAYS", &d, 86_400)?);
        }
        if let Some(a) = get("JWT_AUDIENCE") {
            b = b.audience(a.trim());
        }
        if let Some(i) = get("JWT_ISSUER") {
            b = b.issuer(i.trim());
        }
        if let Some(l) = get("JWT_LEEWAY_SECONDS") {
            b = b.leeway(Duration::from_secs(parse_u64("JWT_LEEWAY_SECONDS", &l)?));
        }
        Ok(b)
    }

    fn fail(mut self, e: ConfigError) -> Self {
        self.error.get_or_insert(e);
        self
    }

    /// The key that signs new tokens (and verifies them).
    ///
    /// ```
    /// use axum_token_auth::{Key, TokenAuth, token::Algorithm};
    ///
    /// let key = Key::hmac(Algorithm::HS384, b"a-random-secret-of-at-least-48-bytes-for-hs384!!")?.with_kid("2026-12");
    /// let auth = TokenAuth::builder().signing_key(key).build()?;
    /// assert!(auth.jwks().keys.is_empty()); // HMAC keys are never published
    /// # Ok::<(), axum_token_auth::ConfigError>(())
    /// ```
    pub fn signing_key(mut self, key: Key) -> Self {
        self.signing = Some(key);
        self
    }

    /// Shorthand for an `HS256` signing key from a secret (see [`Key::hmac`]).
    ///
    /// ```
    /// use axum_token_auth::TokenAuth;
    ///
    /// let auth = TokenAuth::builder()
    ///     .hs256_secret("a-random-secret-of-at-least-32-bytes!!") // at least 32 bytes
    ///     .build()?;
    /// # let _ = auth;
    /// # Ok::<(), axum_token_auth::ConfigError>(())
    /// ```
    pub fn hs256_secret(self, secret: impl AsRef<[u8]>) -> Self {
        match Key::hs256(secret) {
            Ok(k) => self.signing_key(k),
            Err(e) => self.fail(e),
        }
    }

    /// A further key that verifies tokens but signs none: a previous key during rotation,
    /// or another issuer's public key. With several keys, each needs a `kid`.
    ///
    /// ```
    /// use axum_token_auth::{Key, TokenAuth};
    ///
    /// // Tokens signed with the previous secret stay valid until they expire.
    /// let auth = TokenAuth::builder()
    ///     .signing_key(Key::hs256("the-new-secret-of-at-least-32-bytes!!")?.with_kid("new"))
    ///     .verification_key(Key::hs256("the-old-secret-of-at-least-32-bytes!!")?.with_kid("old"))
    ///     .build()?;
    /// # let _ = auth;
    /// # Ok::<(), axum_token_auth::ConfigError>(())
    /// ```
    pub fn verification_key(mut self, key: Key) -> Self {
        self.verification.push(key);
        self
    }

    /// Also accepts access tokens of an external issuer (an identity provider), selected
    /// by their `iss`; call it once per issuer. See [`Issuer`](crate::trust::Issuer) and
    /// the [`trust`](crate::trust) module. With at least one trusted issuer, a signing key
    /// is optional (verify-only mode: issuing then fails with
    /// [`IssueError::NoSigningKey`](crate::token::IssueError::NoSigningKey)).
    ///
    /// ```
    /// use axum_token_auth::{TokenAuth, trust::Issuer};
    ///
    /// // A verify-only service: no signing key, tokens from the company Keycloak.
    /// let auth = TokenAuth::builder()
    ///     .trust(Issuer::keycloak("https://sso.example.com", "staff").audience("orders-api"))
    ///     .build()?;
    /// assert_eq!(auth.trusted_issuers().collect::<Vec<_>>(), ["https://sso.example.com/realms/staff"]);
    /// # Ok::<(), axum_token_auth::ConfigError>(())
    /// ```
    pub fn trust(mut self, issuer: crate::trust::Issuer) -> Self {
        self.trusted.push(issuer);
        self
    }

    /// Also accepts tokens of a system this crate replaces, mapped onto the crate's
    /// claims, until the adapter's end date (see [`LegacyIssuer`](crate::trust::LegacyIssuer)).
    ///
    /// ```
    /// use std::time::{Duration, SystemTime};
    /// use axum_token_auth::{Key, TokenAuth, trust::{LegacyFormat, LegacyIssuer}};
    ///
    /// let old = LegacyIssuer::new(LegacyFormat::ScopedTokenService, Key::hs256("the-old-service-secret-32-bytes-long!!")?)
    ///     .accept_until(SystemTime::now() + Duration::from_secs(30 * 86_400));
    /// let auth = TokenAuth::builder()
    ///     .hs256_secret("a-random-secret-of-at-least-32-bytes!!")
    ///     .accept_legacy(old)
    ///     .build()?;
    /// # let _ = auth;
    /// # Ok::<(), axum_token_auth::ConfigError>(())
    /// ```
    pub fn accept_legacy(mut self, legacy: crate::trust::LegacyIssuer) -> Self {
        self.legacy.push(legacy);
        self
    }

    /// The issuer: written into `iss` and required (exact match) on every token.
    ///
    /// ```
    /// use axum_token_auth::trust::TokenCheck;
    /// use axum_token_auth::{NoCustomClaims, TokenAuth, TokenRequest};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let auth = TokenAuth::builder()
    ///     .hs256_secret("a-random-secret-of-at-least-32-bytes!!")
    ///     .issuer("https://auth.example.com")
    ///     .build()?;
    /// let token = auth.issue_access(&TokenRequest::new("alice"))?;
    /// let claims = auth.validate::<NoCustomClaims>(token.as_str(), TokenCheck::ACCESS).await?;
    /// assert_eq!(claims.iss.as_deref(), Some("https://auth.example.com"));
    /// # Ok(()) }
    /// ```
    pub fn issuer(mut self, iss: impl Into<String>) -> Self {
        self.issuer = Some(iss.into());
        self
    }

    /// The audience: written into `aud` and required on every token. Without one, tokens
    /// that carry an `aud` are refused (they were meant for someone else).
    ///
    /// ```
    /// use axum_token_auth::trust::TokenCheck;
    /// use axum_token_auth::{NoCustomClaims, TokenAuth, TokenRequest};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let orders = TokenAuth::builder()
    ///     .hs256_secret("a-random-secret-of-at-least-32-bytes!!")
    ///     .audience("orders-api")
    ///     .build()?;
    /// let billing = TokenAuth::builder()
    ///     .hs256_secret("a-random-secret-of-at-least-32-bytes!!")
    ///     .audience("billing-api")
    ///     .build()?;
    /// let token = orders.issue_access(&TokenRequest::new("alice"))?;
    /// // Same secret, other audience: refused.
    /// assert!(billing.validate::<NoCustomClaims>(token.as_str(), TokenCheck::ACCESS).await.is_err());
    /// # Ok(()) }
    /// ```
    pub fn audience(mut self, aud: impl Into<String>) -> Self {
        self.audience = Some(aud.into());
        self
    }

    /// Clock-skew leeway for `exp`, `nbf`, `iat` (at most 5 minutes).
    ///
    /// ```
    /// use std::time::Duration;
    /// use axum_token_auth::TokenAuth;
    ///
    /// let auth = TokenAuth::builder()
    ///     .hs256_secret("a-random-secret-of-at-least-32-bytes!!")
    ///     .leeway(Duration::from_secs(5)) // at most 5 minutes
    ///     .build()?;
    /// # let _ = auth;
    /// # Ok::<(), axum_token_auth::ConfigError>(())
    /// ```
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Access-token lifetime (1 minute ..= 24 hours).
    ///
    /// ```
    /// use std::time::Duration;
    /// use axum_token_auth::{TokenAuth, TokenRequest};
    ///
    /// let auth = TokenAuth::builder()
    ///     .hs256_secret("a-random-secret-of-at-least-32-bytes!!")
    ///     .access_ttl(Duration::from_secs(5 * 60))
    ///     .build()?;
    /// assert_eq!(auth.issue_access(&TokenRequest::new("alice"))?.expires_in(), 300);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn access_ttl(mut self, ttl: Duration) -> Self {
        self.access_ttl = ttl;
        self
    }

    /// Refresh-token lifetime (1 hour ..= 365 days).
    ///
    /// ```
    /// use std::time::Duration;
    /// use axum_token_auth::TokenAuth;
    ///
    /// let auth = TokenAuth::builder()
    ///     .hs256_secret("a-random-secret-of-at-least-32-bytes!!")
    ///     .refresh_ttl(Duration::from_secs(24 * 3600))
    ///     .build()?;
    /// assert_eq!(auth.refresh_ttl(), Duration::from_secs(86_400));
    /// # Ok::<(), axum_token_auth::ConfigError>(())
    /// ```
    pub fn refresh_ttl(mut self, ttl: Duration) -> Self {
        self.refresh_ttl = ttl;
        self
    }

    /// Default service-token lifetime (1 hour ..= 8760 hours).
    ///
    /// ```
    /// use std::time::Duration;
    /// use axum_token_auth::{TokenAuth, TokenRequest};
    ///
    /// let auth = TokenAuth::builder()
    ///     .hs256_secret("a-random-secret-of-at-least-32-bytes!!")
    ///     .service_ttl(Duration::from_secs(90 * 86_400))
    ///     .build()?;
    /// let token = auth.issue_service(&TokenRequest::new("billing-worker"))?;
    /// assert_eq!(token.expires_in(), 90 * 86_400);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn service_ttl(mut self, ttl: Duration) -> Self {
        self.service_ttl = ttl;
        self
    }

    /// Turns DPoP on (RFC 9449, sender-constrained tokens): the layer verifies
    /// `Authorization: DPoP` with its proof, the session routes mint bound tokens for
    /// clients that send a proof. See [`trust::dpop`](crate::trust::dpop) for every
    /// check and [`DpopSettings`](crate::trust::dpop::DpopSettings) for the options.
    ///
    /// Without it, `Authorization: DPoP` is no credential, and a DPoP-bound token (of an
    /// identity provider) is refused, as nothing could prove its key.
    ///
    /// ```
    /// use axum_token_auth::TokenAuth;
    /// use axum_token_auth::trust::dpop::DpopSettings;
    ///
    /// let auth = TokenAuth::builder()
    ///     .hs256_secret("a-random-secret-of-at-least-32-bytes!!")
    ///     .dpop(DpopSettings::new("https://api.example.com"))
    ///     .build()?;
    /// # let _ = auth;
    /// # Ok::<(), axum_token_auth::ConfigError>(())
    /// ```
    pub fn dpop(mut self, settings: crate::trust::dpop::DpopSettings) -> Self {
        self.dpop = Some(settings);
        self
    }

    /// Behind a TLS-terminating proxy: the header that carries the client certificate
    /// for certificate-bound tokens (RFC 8705 §3, `cnf.x5t#S256`), and optionally the
    /// proxies it is trusted from. See [`MtlsSettings`](crate::http::MtlsSettings) for
    /// the forms read and the ⚠️ on trusting a header.
    ///
    /// Without it no header is read: a certificate-bound token is accepted only with a
    /// [`ClientCertificate`](crate::http::ClientCertificate) the application's own TLS
    /// listener put in the request's extensions.
    ///
    /// ```
    /// use axum_token_auth::TokenAuth;
    /// use axum_token_auth::http::MtlsSettings;
    ///
    /// let auth = TokenAuth::builder()
    ///     .hs256_secret("a-random-secret-of-at-least-32-bytes!!")
    ///     .mtls(MtlsSettings::header("X-Forwarded-Client-Cert").trusted_proxies(["127.0.0.1"]))
    ///     .build()?;
    /// # let _ = auth;
    /// # Ok::<(), axum_token_auth::ConfigError>(())
    /// ```
    pub fn mtls(mut self, settings: crate::http::MtlsSettings) -> Self {
        self.mtls = Some(settings);
        self
    }

    /// This API as an OAuth 2.0 protected resource (RFC 9728): its resource identifier,
    /// named in every 401 (`resource_metadata="…"` in `WWW-Authenticate`) and served as
    /// a metadata document by
    /// [`Web::resource_metadata_router`](crate::http::Web::resource_metadata_router).
    ///
    /// **Audience binding (RFC 8707) follows:** unless [`audience`](Self::audience) is
    /// set, the handle's own tokens are minted for, and must carry, `aud` = the resource
    /// identifier; a trusted [`Issuer`](crate::trust::Issuer) given no audience requires
    /// it too. A token minted for another resource is refused.
    ///
    /// ```
    /// use axum_token_auth::{TokenAuth, http::ProtectedResource};
    ///
    /// let auth = TokenAuth::builder()
    ///     .hs256_secret("a-random-secret-of-at-least-32-bytes!!")
    ///     .resource(ProtectedResource::new("https://api.example.com").name("Orders API"))
    ///     .build()?;
    /// # let _ = auth;
    /// # Ok::<(), axum_token_auth::ConfigError>(())
    /// ```
    pub fn resource(mut self, resource: crate::http::ProtectedResource) -> Self {
        self.resource = Some(resource);
        self
    }

    /// How the receivers of the identity providers' logout tokens and security events
    /// work: the SSF audience, the oldest event taken, the application's hook, where
    /// event ids are remembered (module [`events`](crate::trust::events)). Without it,
    /// the defaults of [`SecurityEvents::new`](crate::trust::events::SecurityEvents::new).
    ///
    /// ```
    /// use axum_token_auth::TokenAuth;
    /// use axum_token_auth::trust::events::SecurityEvents;
    ///
    /// let auth = TokenAuth::builder()
    ///     .hs256_secret("a-random-secret-of-at-least-32-bytes!!")
    ///     .security_events(SecurityEvents::new().ssf_audience("https://api.example.com"))
    ///     .build()?;
    /// # let _ = auth;
    /// # Ok::<(), axum_token_auth::ConfigError>(())
    /// ```
    pub fn security_events(mut self, events: crate::trust::events::SecurityEvents) -> Self {
        self.events = events;
        self
    }

    /// The largest token accepted, checked before any decoding (256 B ..= 64 KiB).
    ///
    /// ```
    /// use axum_token_auth::TokenAuth;
    ///
    /// let auth = TokenAuth::builder()
    ///     .hs256_secret("a-random-secret-of-at-least-32-bytes!!")
    ///     .max_token_bytes(4 * 1024) // 256 B ..= 64 KiB
    ///     .build()?;
    /// # let _ = auth;
    /// # Ok::<(), axum_token_auth::ConfigError>(())
    /// ```
    pub fn max_token_bytes(mut self, bytes: usize) -> Self {
        self.max_token_bytes = bytes;
        self
    }

    /// The base name of the cookie the layer reads access tokens from (default
    /// `access_token`); the cookie is named with the configured prefix, so by default it
    /// is **`__Host-access_token`** (see [`CookieSettings::host_prefix`]). Shorthand for
    /// [`cookies`](Self::cookies) with [`CookieSettings::access_name`].
    ///
    /// ```
    /// use axum_token_auth::TokenAuth;
    ///
    /// let default = TokenAuth::builder()
    ///     .hs256_secret("a-random-secret-of-at-least-32-bytes!!")
    ///     .build()?;
    /// assert_eq!(default.web().access_cookie_name(), Some("__Host-access_token"));
    ///
    /// let auth = TokenAuth::builder()
    ///     .hs256_secret("a-random-secret-of-at-least-32-bytes!!")
    ///     .access_cookie("session")
    ///     .build()?;
    /// assert_eq!(auth.web().access_cookie_name(), Some("__Host-session"));
    /// # Ok::<(), axum_token_auth::ConfigError>(())
    /// ```
    pub fn access_cookie(mut self, name: impl Into<String>) -> Self {
        self.cookies = self.cookies.access_name(name);
        self
    }

    /// Names and flags of the token cookies (see [`CookieSettings`]).
    ///
    /// ```
    /// use axum_token_auth::{TokenAuth, http::CookieSettings};
    ///
    /// let auth = TokenAuth::builder()
    ///     .hs256_secret("a-random-secret-of-at-least-32-bytes!!")
    ///     .cookies(CookieSettings::default().refresh_path("/api/auth/refresh"))
    ///     .build()?;
    /// assert_eq!(auth.web().cookie_settings().refresh_cookie_name(), "__Secure-refresh_token");
    /// # Ok::<(), axum_token_auth::ConfigError>(())
    /// ```
    pub fn cookies(mut self, cookies: CookieSettings) -> Self {
        self.cookies = cookies;
        self
    }

    /// CSRF protection of cookie-authenticated requests (on by default; see [`CsrfSettings`]).
    ///
    /// ```
    /// use axum_token_auth::{TokenAuth, http::CsrfSettings};
    ///
    /// let auth = TokenAuth::builder()
    ///     .hs256_secret("a-random-secret-of-at-least-32-bytes!!")
    ///     .csrf(CsrfSettings::default().trusted_origin("https://app.example.com"))
    ///     .build()?;
    /// # let _ = auth;
    /// # Ok::<(), axum_token_auth::ConfigError>(())
    /// ```
    pub fn csrf(mut self, csrf: CsrfSettings) -> Self {
        self.csrf = csrf;
        self
    }

    /// Read access tokens only from the `Authorization` header, never from a cookie.
    ///
    /// ```
    /// use axum_token_auth::TokenAuth;
    ///
    /// // An API for non-browser clients: only `Authorization: Bearer`.
    /// let auth = TokenAuth::builder()
    ///     .hs256_secret("a-random-secret-of-at-least-32-bytes!!")
    ///     .without_access_cookie()
    ///     .build()?;
    /// assert_eq!(auth.web().access_cookie_name(), None);
    /// # Ok::<(), axum_token_auth::ConfigError>(())
    /// ```
    pub fn without_access_cookie(mut self) -> Self {
        self.access_cookie = false;
        self
    }

    /// The `realm` of `WWW-Authenticate` challenges (default `api`).
    ///
    /// ```
    /// use axum_token_auth::{AuthError, TokenAuth};
    ///
    /// let auth = TokenAuth::builder()
    ///     .hs256_secret("a-random-secret-of-at-least-32-bytes!!")
    ///     .realm("orders")
    ///     .build()?;
    /// let res = auth.web().render_error(AuthError::MissingCredentials);
    /// assert_eq!(res.headers()["www-authenticate"], r#"Bearer realm="orders""#);
    /// # Ok::<(), axum_token_auth::ConfigError>(())
    /// ```
    pub fn realm(mut self, realm: impl Into<String>) -> Self {
        self.realm = realm.into();
        self
    }

    /// Replaces how refusals are rendered (default: [`JsonErrorRenderer`]).
    ///
    /// ```
    /// use axum::response::{IntoResponse, Response};
    /// use axum_token_auth::{AuthError, TokenAuth, http::ErrorRenderer};
    ///
    /// struct Plain;
    /// impl ErrorRenderer for Plain {
    ///     fn render(&self, error: &AuthError, realm: &str) -> Response {
    ///         let mut res = (error.status(), error.description().into_owned()).into_response();
    ///         if let Some(v) = error.www_authenticate(realm) {
    ///             res.headers_mut().insert(http::header::WWW_AUTHENTICATE, v);
    ///         }
    ///         res
    ///     }
    /// }
    /// let auth = TokenAuth::builder()
    ///     .hs256_secret("a-random-secret-of-at-least-32-bytes!!")
    ///     .error_renderer(Plain)
    ///     .build()?;
    /// assert_eq!(auth.web().render_error(AuthError::MissingCredentials).status(), 401);
    /// # Ok::<(), axum_token_auth::ConfigError>(())
    /// ```
    pub fn error_renderer(mut self, renderer: impl ErrorRenderer) -> Self {
        self.renderer = Arc::new(renderer);
        self
    }

    /// Where revoked token ids are kept (default: a [`MemoryRevocationStore`]).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use axum_token_auth::{TokenAuth, store::memory::MemoryRevocationStore};
    ///
    /// let auth = TokenAuth::builder()
    ///     .hs256_secret("a-random-secret-of-at-least-32-bytes!!")
    ///     .revocation_store(Arc::new(MemoryRevocationStore::with_capacity(100_000)))
    ///     .build()?;
    /// # let _ = auth;
    /// # Ok::<(), axum_token_auth::ConfigError>(())
    /// ```
    ///
    /// The store must be able to revoke every token of a subject ([`SubjectRevocation`]):
    /// `revoke_all_for_user` and [`Sessions`](crate::Sessions)' generations rely on it.
    /// Notes given to [`Revocation::note`](crate::trust::Revocation::note) are not
    /// kept; register a store that keeps them with
    /// [`revocation_store_with_notes`](Self::revocation_store_with_notes).
    pub fn revocation_store<S: IntoDynSubjectRevocation + ?Sized>(mut self, store: Arc<S>) -> Self {
        self.revocation = Some(crate::store::breaker::register_revocation(store));
        self
    }

    /// [`revocation_store`](Self::revocation_store) for a store that also keeps when, why
    /// and by whom a token was revoked ([`RevocationNotes`]: the PostgreSQL store), so
    /// [`Revocation::note`](crate::trust::Revocation::note) keeps its notes.
    ///
    /// ```no_run
    /// # #[cfg(feature = "postgres")]
    /// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::sync::Arc;
    /// use axum_token_auth::{TokenAuth, store::postgres::PostgresStore};
    ///
    /// let store = PostgresStore::connect("postgres://app@db.internal/app").await?;
    /// let auth = TokenAuth::builder()
    ///     .hs256_secret("a-random-secret-of-at-least-32-bytes!!")
    ///     .revocation_store_with_notes(Arc::new(store))
    ///     .build()?;
    /// # let _ = auth; Ok(()) }
    /// ```
    pub fn revocation_store_with_notes<S: SubjectRevocation + RevocationNotes>(
        mut self,
        store: Arc<S>,
    ) -> Self {
        self.revocation = Some(crate::store::breaker::register_noted_revocation(store));
        self
    }

    /// What to do when the revocation store cannot answer (default
    /// [`StoreFailurePolicy::FailClosed`]: 503).
    ///
    /// ```
    /// use axum_token_auth::{TokenAuth, store::StoreFailurePolicy};
    ///
    /// // Availability over revocation: documented, and logged at each use.
    /// let auth = TokenAuth::builder()
    ///     .hs256_secret("a-random-secret-of-at-least-32-bytes!!")
    ///     .on_store_failure(StoreFailurePolicy::FailOpen)
    ///     .build()?;
    /// # let _ = auth;
    /// # Ok::<(), axum_token_auth::ConfigError>(())
    /// ```
    pub fn on_store_failure(mut self, policy: StoreFailurePolicy) -> Self {
        self.failure_policy = policy;
        self
    }

    /// How many verified tokens each layer remembers, so a repeated token skips its
    /// signature check (default [`DEFAULT_CACHE_CAPACITY`](crate::http::DEFAULT_CACHE_CAPACITY),
    /// 16 384; 0 turns the cache off). Expiry, revocation and CSRF are still checked on
    /// every request; see [`manual::cache`](crate::manual::cache).
    ///
    /// ```
    /// use axum_token_auth::TokenAuth;
    ///
    /// let auth = TokenAuth::builder()
    ///     .hs256_secret("a-random-secret-of-at-least-32-bytes!!")
    ///     .verified_cache_capacity(0) // every request verifies its token in full
    ///     .build()?;
    /// assert!(auth.layer().cache_stats().is_none());
    /// # Ok::<(), axum_token_auth::ConfigError>(())
    /// ```
    pub fn verified_cache_capacity(mut self, entries: usize) -> Self {
        self.cache_capacity = entries;
        self
    }

    /// How the revocation store (and the refresh store of [`Sessions`](crate::Sessions)
    /// built on this authority) is guarded: circuit breaker, per-call timeouts, bound on
    /// calls in flight. Default [`GuardSettings::default`](crate::store::breaker::GuardSettings):
    /// 250 ms for the per-request check, 750 ms for other calls, 256 in flight, open after
    /// one outage, probe every 200 ms. See [`store::breaker`](crate::store::breaker).
    ///
    /// ```
    /// use std::time::Duration;
    /// use axum_token_auth::{TokenAuth, store::breaker::GuardSettings};
    ///
    /// let auth = TokenAuth::builder()
    ///     .hs256_secret("a-random-secret-of-at-least-32-bytes!!")
    ///     .store_guard(GuardSettings::default().check_timeout(Duration::from_millis(100)))
    ///     .build()?;
    /// # let _ = auth;
    /// # Ok::<(), axum_token_auth::ConfigError>(())
    /// ```
    pub fn store_guard(mut self, settings: crate::store::breaker::GuardSettings) -> Self {
        self.store_guard = settings;
        self
    }

    /// The memory budget of each layer's verified-token cache, in bytes (default
    /// [`DEFAULT_CACHE_BYTES`](crate::http::DEFAULT_CACHE_BYTES), 17 MiB; 0 turns the cache
    /// off). Entries are charged for their claims whatever the tokens' size, and the
    /// cache never holds more than this; with the defaults it holds 16 384 users whose
    /// claims JSON is up to ~300 bytes.
    ///
    /// ```
    /// use axum_token_auth::TokenAuth;
    ///
    /// let auth = TokenAuth::builder()
    ///     .hs256_secret("a-random-secret-of-at-least-32-bytes!!")
    ///     .verified_cache_bytes(4 << 20) // 4 MiB per layer
    ///     .build()?;
    /// assert!(auth.layer().cache_stats().is_some());
    /// # Ok::<(), axum_token_auth::ConfigError>(())
    /// ```
    pub fn verified_cache_bytes(mut self, bytes: usize) -> Self {
        self.cache_bytes = bytes;
        self
    }

    /// The clock used for `iat`/`exp` when issuing and for checks when validating. An
    /// `Arc<dyn Clock>` is a clock too, so one clock can be shared with the code that
    /// moves it (see `testing::ManualClock`, feature `testing`).
    ///
    /// ```
    /// use axum_token_auth::{TokenAuth, TokenRequest, token::FixedClock};
    ///
    /// let auth = TokenAuth::builder()
    ///     .hs256_secret("a-random-secret-of-at-least-32-bytes!!")
    ///     .clock(FixedClock(1_767_225_600))
    ///     .build()?;
    /// assert_eq!(auth.now(), 1_767_225_600);
    /// assert_eq!(auth.issue_access(&TokenRequest::new("alice"))?.issued_at, 1_767_225_600);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Checks everything and builds the immutable, cheaply cloneable [`TokenAuth`].
    ///
    /// ```
    /// use axum_token_auth::{ConfigError, TokenAuth};
    ///
    /// let err = TokenAuth::builder().hs256_secret("short").build().unwrap_err();
    /// assert!(matches!(err, ConfigError::WeakSecret(_)));
    /// assert!(matches!(TokenAuth::builder().build(), Err(ConfigError::MissingSigningKey)));
    /// ```
    pub fn build(self) -> Result<TokenAuth, ConfigError> {
        crate::token::keys::install_crypto_provider();
        if let Some(e) = self.error {
            return Err(e);
        }
        if self.signing.is_none() && self.trusted.is_empty() {
            return Err(ConfigError::MissingSigningKey);
        }
        let keys = KeyRing::new(self.signing, self.verification)?;
        let trust_epoch = Arc::new(std::sync::atomic::AtomicU64::new(0));
        check_range("access", self.access_ttl, ACCESS_TTL_RANGE)?;
        check_range("refresh", self.refresh_ttl, REFRESH_TTL_RANGE)?;
        check_range("service", self.service_ttl, SERVICE_TTL_RANGE)?;
        if self.leeway > Duration::from_secs(300) {
            return Err(ConfigError::LeewayTooLarge);
        }
        if !(256..=65536).contains(&self.max_token_bytes) {
            return Err(ConfigError::MaxTokenSize);
        }
        check_text("realm", &self.realm)?;
        if let Some(i) = &self.issuer {
            check_text("issuer", i)?;
        }
        if let Some(r) = &self.resource {
            r.check()?;
        }
        // RFC 8707: without an audience of its own, the handle's tokens are bound to the
        // resource identifier, and so are a trusted issuer's.
        let audience = self
            .audience
            .or_else(|| self.resource.as_ref().map(|r| r.resource().to_owned()));
        if let Some(a) = &audience {
            check_text("audience", a)?;
        }
        let issuers: Vec<String> = self.trusted.iter().map(|i| i.iss.clone()).collect();
        self.cookies.check()?;
        self.store_guard.check()?;
        let trusted = self
            .trusted
            .into_iter()
            .map(|mut i| {
                if i.audiences.is_empty()
                    && let Some(r) = &self.resource
                {
                    i.audiences.push(r.resource().to_owned());
                }
                if self.issuer.as_deref() == Some(i.iss.as_str()) {
                    return Err(ConfigError::InvalidIssuer {
                        issuer: i.iss.clone(),
                        reason: "it is this service's own issuer",
                    });
                }
                crate::trust::TrustedIssuer::new(
                    i,
                    self.leeway.as_secs(),
                    &self.clock,
                    &trust_epoch,
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        let trusted = crate::trust::TrustedIssuers::new(trusted)?;
        for l in &self.legacy {
            l.check()?;
        }
        let register = self.revocation.unwrap_or_else(|| {
            crate::store::breaker::register_revocation(Arc::new(
                MemoryRevocationStore::default().with_shared_clock(Arc::clone(&self.clock)),
            ))
        });
        let revocation = register(&self.store_guard);
        let dpop = match self.dpop {
            Some(settings) => Some(Arc::new(settings.build(&self.store_guard)?)),
            None => None,
        };
        let mtls = self.mtls.is_some();
        let certificate_header = self.mtls.map(|m| m.build()).transpose()?;
        let resource = match self.resource {
            Some(r) => Some(Arc::new(crate::http::resource::ResourceMetadata::new(
                r,
                crate::http::resource::MetadataSources {
                    issuers,
                    dpop_algs: dpop
                        .as_deref()
                        .filter(|d| d.policy != DpopPolicy::Off)
                        .map(|d| d.challenge_algs.split(' ').map(str::to_owned).collect()),
                    dpop_required: dpop
                        .as_deref()
                        .is_some_and(|d| d.policy == DpopPolicy::Required),
                    mtls,
                    own_issuer: self.issuer.as_deref(),
                },
            )?)),
            None => None,
        };
        let events = {
            let e = self.events;
            let max_age = e
                .max_age
                .unwrap_or(crate::trust::events::DEFAULT_MAX_EVENT_AGE);
            if !(Duration::from_secs(1)..=crate::trust::events::MAX_EVENT_AGE).contains(&max_age) {
                return Err(ConfigError::InvalidSecurityEvents(
                    "max_age must be between 1 s and 7 days",
                ));
            }
            for a in &e.ssf_audiences {
                check_text("ssf_audience", a)?;
            }
            if let Some(a) = &e.push_authorization
                && (a.trim().is_empty() || http::HeaderValue::from_str(a).is_err())
            {
                return Err(ConfigError::InvalidSecurityEvents(
                    "push_authorization must be a non-empty header value",
                ));
            }
            for i in trusted.iter().filter(|i| !i.check_revocation) {
                tracing::warn!(
                    issuer = %i.iss,
                    "an issuer without revocation checks: its logout tokens and security events are answered but change nothing"
                );
            }
            let mut audiences = e.ssf_audiences;
            if audiences.is_empty()
                && let Some(r) = &resource
            {
                audiences.push(r.resource.resource().to_owned());
            }
            crate::trust::events::EventSettings::new(
                audiences,
                max_age,
                e.hook,
                e.replay
                    .or_else(|| dpop.as_ref().map(|d| Arc::clone(&d.replay))),
                Arc::clone(&self.clock),
                e.push_authorization,
            )
        };
        let verifier = Verifier {
            events,
            dpop,
            keys: crate::trust::keyring::LiveKeyring::new(keys, Arc::clone(&trust_epoch)),
            trusted,
            legacy: self.legacy,
            trust_epoch,
            settings: VerifySettings {
                issuer: self.issuer,
                audience,
                leeway: self.leeway.as_secs(),
                max_token_bytes: self.max_token_bytes,
                failure_policy: self.failure_policy,
            },
            revocation: revocation.store,
            revocation_notes: revocation.notes,
            revocation_guard: revocation.guard,
            clock: self.clock,
        };
        let web = WebSettings {
            rendering: Rendering::new(self.renderer, &self.realm)
                .with_resource_metadata(resource.as_ref().map(|r| r.pointer.clone()))
                .with_dpop(
                    verifier
                        .dpop
                        .as_deref()
                        .and_then(|d| crate::http::layer::dpop_challenge(d, d.policy)),
                ),
            access_cookie: self
                .access_cookie
                .then(|| Arc::from(self.cookies.access_cookie_name())),
            cookies: self.cookies,
            csrf: self.csrf,
            cache_capacity: self.cache_capacity,
            cache_bytes: self.cache_bytes,
            certificate_header,
            resource,
        };
        Ok(TokenAuth::from_inner(Inner::new(
            Arc::new(verifier),
            web,
            Lifetimes {
                access_ttl: self.access_ttl,
                refresh_ttl: self.refresh_ttl,
                service_ttl: self.service_ttl,
            },
        )))
    }
}

fn parse_u64(name: &'static str, v: &str) -> Result<u64, ConfigError> {
    v.trim().parse().map_err(|_| ConfigError::Env {
        name,
        reason: "not a whole number",
    })
}

/// `v` units of `unit` seconds; a product that overflows is out of range (any allowed
/// lifetime is far below it), never a panic.
fn parse_secs(name: &'static str, v: &str, unit: u64) -> Result<Duration, ConfigError> {
    parse_u64(name, v)?
        .checked_mul(unit)
        .map(Duration::from_secs)
        .ok_or(ConfigError::Env {
            name,
            reason: "out of range",
        })
}

fn check_range(
    kind: &'static str,
    ttl: Duration,
    (min, max): (Duration, Duration),
) -> Result<(), ConfigError> {
    if ttl < min || ttl > max {
        return Err(ConfigError::LifetimeOutOfRange { kind, min, max });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::keys::WeakSecret;
    use std::collections::HashMap;

    const SECRET: &str = "0123456789abcdefghijklmnopqrstuvwxyzABCDEF";

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn from_env_reads_every_variable() {
        let b = TokenAuthBuilder::from_env_with(env(&[
            ("JWT_SECRET_KEY", SECRET),
            ("JWT_ALGORITHM", "HS256"),
            ("JWT_ACCESS_TOKEN_EXPIRE_MINUTES", "30"),
            ("JWT_REFRESH_TOKEN_EXPIRE_DAYS", "14"),
            ("JWT_AUDIENCE", "my-api"),
            ("JWT_ISSUER", "my-issuer"),
            ("JWT_LEEWAY_SECONDS", "5"),
        ]))
        .unwrap();
        let auth = b.build().unwrap();
        let l = &auth.inner.lifetimes;
        assert_eq!(l.access_ttl, Duration::from_secs(1800));
        assert_eq!(l.refresh_ttl, Duration::from_secs(14 * 86400));
        let s = &auth.verifier().settings;
        assert_eq!(s.audience.as_deref(), Some("my-api"));
        assert_eq!(s.issuer.as_deref(), Some("my-issuer"));
        assert_eq!(s.leeway, 5);
    }

    #[test]
    fn from_env_refuses_the_seed_default_secret() {
        let r = TokenAuthBuilder::from_env_with(env(&[("JWT_SECRET_KEY", "supersecret")]));
        assert!(matches!(r, Err(ConfigError::WeakSecret(_))));
    }

    #[test]
    fn from_env_reports_bad_numbers_without_their_value() {
        let r = TokenAuthBuilder::from_env_with(env(&[
            ("JWT_SECRET_KEY", SECRET),
            ("JWT_ACCESS_TOKEN_EXPIRE_MINUTES", "soon"),
        ]));
        let e = r.err().unwrap();
        assert!(!e.to_string().contains("soon"));
        let r = TokenAuthBuilder::from_env_with(env(&[("JWT_ALGORITHM", "none")]));
        assert!(matches!(
            r,
            Err(ConfigError::Env {
                name: "JWT_ALGORITHM",
                ..
            })
        ));
    }

    #[test]
    fn absurd_lifetimes_from_env_are_config_errors_not_overflows() {
        for (name, value) in [
            ("JWT_ACCESS_TOKEN_EXPIRE_MINUTES", "307445734561825861"),
            ("JWT_ACCESS_TOKEN_EXPIRE_MINUTES", "18446744073709551615"),
            ("JWT_REFRESH_TOKEN_EXPIRE_DAYS", "213503982334602"),
        ] {
            let r =
                TokenAuthBuilder::from_env_with(env(&[("JWT_SECRET_KEY", SECRET), (name, value)]));
            assert!(
                matches!(r, Err(ConfigError::Env { name: n, .. }) if n == name),
                "{name}={value}"
            );
        }
        // Large but representable values reach the range check at build.
        let b = TokenAuthBuilder::from_env_with(env(&[
            ("JWT_SECRET_KEY", SECRET),
            ("JWT_REFRESH_TOKEN_EXPIRE_DAYS", "100000"),
        ]))
        .unwrap();
        assert!(matches!(
            b.build(),
            Err(ConfigError::LifetimeOutOfRange {
                kind: "refresh",
                ..
            })
        ));
    }

    #[test]
    fn missing_key_is_reported_at_build() {
        let b = TokenAuthBuilder::from_env_with(env(&[])).unwrap();
        assert_eq!(b.build().err(), Some(ConfigError::MissingSigningKey));
    }

    #[test]
    fn out_of_range_settings_are_refused() {
        let base = || TokenAuthBuilder::new().hs256_secret(SECRET);
        assert!(matches!(
            base().access_ttl(Duration::from_secs(10)).build(),
            Err(ConfigError::LifetimeOutOfRange { kind: "access", .. })
        ));
        assert!(matches!(
            base().refresh_ttl(Duration::from_secs(400 * 86400)).build(),
            Err(ConfigError::LifetimeOutOfRange {
                kind: "refresh",
                ..
            })
        ));
        assert!(matches!(
            base().leeway(Duration::from_secs(600)).build(),
            Err(ConfigError::LeewayTooLarge)
        ));
        assert!(matches!(
            base().max_token_bytes(10).build(),
            Err(ConfigError::MaxTokenSize)
        ));
        assert!(matches!(
            base().realm("a\"b").build(),
            Err(ConfigError::InvalidText("realm"))
        ));
        assert!(matches!(
            base().access_cookie("a b").build(),
            Err(ConfigError::InvalidText("cookie name"))
        ));
        assert!(base().build().is_ok());
    }

    #[test]
    fn first_builder_error_wins() {
        let e = TokenAuthBuilder::new()
            .hs256_secret("short")
            .build()
            .err()
            .unwrap();
        assert!(matches!(
            e,
            ConfigError::WeakSecret(WeakSecret::TooShort { .. })
        ));
    }
}
