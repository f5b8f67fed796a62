//! [`Issuer`]: the configuration of one external issuer, with presets for the big
//! identity providers.

use std::time::Duration;

use jsonwebtoken::Algorithm;
use jsonwebtoken::jwk::JwkSet;

use crate::store::StoreFailurePolicy;
use crate::token::error::ConfigError;
use crate::token::keys::Key;
use crate::trust::keyset::ASYMMETRIC;
use crate::trust::scopes::ScopeClaim;

/// Where an external issuer's keys come from.
#[derive(Debug, Clone)]
#[cfg_attr(not(feature = "oidc"), allow(dead_code))]
pub(crate) enum KeySource {
    /// Keys given once (a JWKS document or [`Key`]s): never fetched, never change.
    Static(Vec<Key>, Option<String>),
    /// A JWKS URL, fetched and refreshed (feature `oidc`).
    JwksUrl(String),
    /// OIDC discovery: `{iss}/.well-known/openid-configuration` names the JWKS URL
    /// (feature `oidc`).
    Discovery,
}

/// How a remote key set is kept fresh. Every bound is configurable on [`Issuer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RefreshPolicy {
    /// The refresh interval when the JWKS response names no `max-age`.
    pub(crate) default_refresh: Duration,
    /// `max-age` is clamped into `min_refresh ..= max_refresh`.
    pub(crate) min_refresh: Duration,
    pub(crate) max_refresh: Duration,
    /// The unknown-`kid` budget: a bucket of `refetch_burst` fetches, refilled one per
    /// `refetch_interval` (see `trust::refetch`).
    pub(crate) refetch_interval: Duration,
    pub(crate) refetch_burst: u32,
    /// Time between attempts after a failed fetch.
    pub(crate) retry_interval: Duration,
    /// How long the last good set is used while fetches fail; past it, 503.
    pub(crate) max_stale: Duration,
    /// Limits of one fetch.
    pub(crate) fetch_timeout: Duration,
    pub(crate) max_document_bytes: usize,
}

impl Default for RefreshPolicy {
    fn default() -> Self {
        RefreshPolicy {
            default_refresh: Duration::from_secs(10 * 60),
            min_refresh: Duration::from_secs(60),
            max_refresh: Duration::from_secs(3600),
            refetch_interval: Duration::from_secs(4),
            refetch_burst: 3,
            retry_interval: Duration::from_secs(10),
            max_stale: Duration::from_secs(24 * 3600),
            fetch_timeout: Duration::from_secs(5),
            max_document_bytes: 256 * 1024,
        }
    }
}

/// An identity provider whose access tokens the layer accepts next to the crate's own:
/// its exact `iss`, the audiences that mean "this API", where its keys come from, and
/// where its scopes are. Give it to [`TokenAuthBuilder::trust`](crate::TokenAuthBuilder::trust).
///
/// * **Selection.** A token's `iss` (read before the signature check, only to pick a key
///   set) chooses the issuer; its `kid` then chooses the key *within that issuer's set*.
///   A key of one issuer never verifies a token claiming another, and an external
///   issuer's keys never appear in [`TokenAuth::jwks`](crate::TokenAuth::jwks).
/// * **Audience** is required: a provider's ID tokens (audience = a client id) must
///   never pass as access tokens for this API. Given none, the issuer takes the
///   resource identifier of [`TokenAuthBuilder::resource`](crate::TokenAuthBuilder::resource)
///   (RFC 8707 audience binding); without either, the build fails.
/// * **Kinds.** `typ` may be `at+jwt` (RFC 9068), `JWT` or absent (what Keycloak, Auth0,
///   Entra ID and Cognito send); [`require_at_jwt`](Self::require_at_jwt) narrows it.
///   Any other `typ` (a refresh, ID or logout token type) is refused. External tokens
///   are always access tokens.
/// * **Keys.** Only asymmetric algorithms; remote `kty: oct` and `use: enc` keys are
///   ignored; a token's `alg` must be the key's.
/// * **`jti`** is optional. A token without one gets the id `t.` + base64url(SHA-256 of
///   the token), so [`TokenAuth::revoke`](crate::TokenAuth::revoke) still works on it;
///   revocation entries of external tokens are keyed by issuer and id, so they never
///   collide with the crate's own.
///
/// ```
/// use axum_token_auth::trust::{Issuer, ScopeClaim};
///
/// let keycloak = Issuer::discover("https://sso.example.com/realms/acme")
///     .audience("orders-api")
///     .scope_claims([ScopeClaim::path("scope"), ScopeClaim::path("realm_access.roles")]);
/// # let _ = keycloak;
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct Issuer {
    pub(crate) iss: String,
    pub(crate) audiences: Vec<String>,
    pub(crate) client_ids: Vec<String>,
    pub(crate) audience_claim: String,
    pub(crate) source: KeySource,
    pub(crate) algorithms: Vec<Algorithm>,
    pub(crate) require_at_jwt: bool,
    pub(crate) scope_claims: Vec<ScopeClaim>,
    pub(crate) tenant_claim: Option<ScopeClaim>,
    pub(crate) acr_claim: Option<ScopeClaim>,
    pub(crate) required_claims: Vec<(String, String)>,
    pub(crate) leeway: Option<Duration>,
    pub(crate) refresh: RefreshPolicy,
    pub(crate) check_revocation: bool,
    pub(crate) on_store_failure: Option<StoreFailurePolicy>,
    #[cfg(feature = "oidc")]
    pub(crate) client: Option<reqwest::Client>,
    #[cfg(feature = "oidc")]
    pub(crate) introspection: Option<crate::trust::introspect::Introspection>,
}

impl Issuer {
    fn with_source(iss: impl Into<String>, source: KeySource) -> Self {
        Issuer {
            iss: iss.into(),
            audiences: Vec::new(),
            client_ids: Vec::new(),
            audience_claim: "aud".to_owned(),
            source,
            algorithms: ASYMMETRIC.to_vec(),
            require_at_jwt: false,
            scope_claims: vec![ScopeClaim::path("scope")],
            tenant_claim: None,
            acr_claim: None,
            required_claims: Vec::new(),
            leeway: None,
            refresh: RefreshPolicy::default(),
            check_revocation: true,
            on_store_failure: None,
            #[cfg(feature = "oidc")]
            client: None,
            #[cfg(feature = "oidc")]
            introspection: None,
        }
    }

    /// An issuer found by OIDC discovery: `{iss}/.well-known/openid-configuration` names
    /// the JWKS URL, and a document whose `issuer` is not exactly `iss` is refused
    /// (feature `oidc`).
    pub fn discover(iss: impl Into<String>) -> Self {
        Self::with_source(iss, KeySource::Discovery)
    }

    /// An issuer whose keys are served at `jwks_url` (feature `oidc`).
    pub fn jwks_url(iss: impl Into<String>, jwks_url: impl Into<String>) -> Self {
        Self::with_source(iss, KeySource::JwksUrl(jwks_url.into()))
    }

    /// An issuer with a fixed JWKS document (e.g. from a file); never fetched. The same
    /// rules apply as to a remote set: `kty: oct` and `use: enc` keys are ignored.
    pub fn jwks(iss: impl Into<String>, jwks: &JwkSet) -> Self {
        let doc = serde_json::to_string(jwks).unwrap_or_default();
        Self::with_source(iss, KeySource::Static(Vec::new(), Some(doc)))
    }

    /// An issuer with fixed public keys (e.g. [`Key::from_pem`](crate::Key::from_pem));
    /// never fetched. Only asymmetric keys are accepted.
    pub fn keys(iss: impl Into<String>, keys: impl IntoIterator<Item = Key>) -> Self {
        Self::with_source(iss, KeySource::Static(keys.into_iter().collect(), None))
    }

    /// Keycloak: realm `realm` at `base_url` (e.g. `https://sso.example.com`). Scopes from
    /// `scope` and the realm roles (`realm_access.roles`); only tokens whose `typ`
    /// claim is `Bearer` (Keycloak marks ID tokens `ID`). Add an audience: Keycloak puts
    /// the client ids of an "audience" mapper in `aud`.
    pub fn keycloak(base_url: &str, realm: &str) -> Self {
        let iss = format!("{}/realms/{realm}", base_url.trim_end_matches('/'));
        Self::discover(iss)
            .scope_claims([
                ScopeClaim::path("scope"),
                ScopeClaim::path("realm_access.roles"),
            ])
            .require_claim("typ", "Bearer")
    }

    /// Auth0: tenant domain `domain` (e.g. `acme.eu.auth0.com`); the issuer is
    /// `https://{domain}/` with its trailing slash. Scopes from `scope` and, with RBAC
    /// on, `permissions`. The audience is the API identifier.
    pub fn auth0(domain: &str) -> Self {
        Self::discover(format!("https://{}/", domain.trim_end_matches('/')))
            .scope_claims([ScopeClaim::path("scope"), ScopeClaim::path("permissions")])
    }

    /// Microsoft Entra ID (v2.0 tokens) of tenant `tenant_id` (a GUID). Delegated scopes
    /// from `scp`, application permissions from `roles`; the tenant from `tid`; the
    /// authentication context classes from `acrs` (Conditional Access authentication
    /// contexts `c1`…`c99`, for the step-up guards). The
    /// audience is the API's application id URI or client id (set
    /// `accessTokenAcceptedVersion: 2` in the app manifest for v2.0 tokens).
    pub fn entra(tenant_id: &str) -> Self {
        Self::discover(format!(
            "https://login.microsoftonline.com/{tenant_id}/v2.0"
        ))
        .scope_claims([ScopeClaim::path("scp"), ScopeClaim::path("roles")])
        .tenant_claim(ScopeClaim::path("tid"))
        .acr_claim(ScopeClaim::path("acrs"))
    }

    /// Amazon Cognito user pool `pool_id` in `region`. Cognito access tokens carry no
    /// `aud`: the app client id is in `client_id`, so that is the audience claim, and only
    /// tokens with `token_use: access` pass (ID tokens say `id`). Scopes from `scope`,
    /// groups from `cognito:groups` as `group:<name>`.
    pub fn cognito(region: &str, pool_id: &str) -> Self {
        Self::discover(format!(
            "https://cognito-idp.{region}.amazonaws.com/{pool_id}"
        ))
        .audience_claim("client_id")
        .require_claim("token_use", "access")
        .scope_claims([
            ScopeClaim::path("scope"),
            ScopeClaim::path("cognito:groups").prefix("group:"),
        ])
    }

    /// Google. Google's OAuth access tokens are opaque (not JWTs); what a service can
    /// verify are Google-signed ID tokens minted *for it* (Cloud Run, IAP, service
    /// account identity tokens) whose audience is the service's URL or client id, so the
    /// audience must be exactly that. No scopes are mapped by default.
    pub fn google() -> Self {
        Self::discover("https://accounts.google.com").scope_claims([])
    }

    /// Adds an accepted audience (at least one is required).
    ///
    /// ```
    /// use std::time::Duration;
    /// use axum_token_auth::{token::Algorithm, trust::{Issuer, ScopeClaim}};
    ///
    /// let issuer = Issuer::auth0("example.eu.auth0.com").audience("https://orders.example.com");
    /// # let _ = issuer;
    /// ```
    pub fn audience(mut self, aud: impl Into<String>) -> Self {
        self.audiences.push(aud.into());
        self
    }

    /// Adds several accepted audiences.
    pub fn audiences<I, S>(mut self, auds: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.audiences.extend(auds.into_iter().map(Into::into));
        self
    }

    /// This service's client id at the issuer: the `aud` its back-channel logout tokens
    /// must name ([`trust::events`](crate::trust::events)). With one configured, a logout
    /// token naming only an access-token [audience](Self::audience) is refused (that
    /// audience may be another client's id at the provider); without, the audiences are
    /// taken. Prefer it to adding the client id as an audience, which would also let the
    /// issuer's ID tokens for this client pass as access tokens.
    ///
    /// ```
    /// use axum_token_auth::trust::Issuer;
    ///
    /// let issuer = Issuer::keycloak("https://sso.example.com", "acme")
    ///     .audience("orders-api")
    ///     .client_id("orders-web");
    /// # let _ = issuer;
    /// ```
    pub fn client_id(mut self, client_id: impl Into<String>) -> Self {
        self.client_ids.push(client_id.into());
        self
    }

    /// The claim holding the audience (default `aud`; Cognito: `client_id`).
    ///
    /// ```
    /// use std::time::Duration;
    /// use axum_token_auth::{token::Algorithm, trust::{Issuer, ScopeClaim}};
    ///
    /// // Cognito access tokens name their client in `client_id`, not `aud`.
    /// let issuer = Issuer::cognito("eu-west-1", "eu-west-1_AbCdE").audience("my-app-client-id").audience_claim("client_id");
    /// # let _ = issuer;
    /// ```
    pub fn audience_claim(mut self, claim: impl Into<String>) -> Self {
        self.audience_claim = claim.into();
        self
    }

    /// The accepted algorithms (default: every asymmetric one). HMAC algorithms are
    /// refused at build: a shared secret is not a provider's key.
    ///
    /// ```
    /// use std::time::Duration;
    /// use axum_token_auth::{token::Algorithm, trust::{Issuer, ScopeClaim}};
    ///
    /// let issuer = Issuer::jwks_url("https://idp.example.com", "https://idp.example.com/jwks").audience("api").algorithms([Algorithm::ES256]);
    /// # let _ = issuer;
    /// ```
    pub fn algorithms(mut self, algs: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = algs.into_iter().collect();
        self
    }

    /// Accepts only tokens whose `typ` is `at+jwt` (RFC 9068), not `JWT` or none.
    ///
    /// ```
    /// use std::time::Duration;
    /// use axum_token_auth::{token::Algorithm, trust::{Issuer, ScopeClaim}};
    ///
    /// // RFC 9068 access tokens only: an ID token (`typ: JWT`) is refused.
    /// let issuer = Issuer::discover("https://idp.example.com").audience("api").require_at_jwt();
    /// # let _ = issuer;
    /// ```
    pub fn require_at_jwt(mut self) -> Self {
        self.require_at_jwt = true;
        self
    }

    /// Where scopes come from (replaces the default, `scope`).
    ///
    /// ```
    /// use std::time::Duration;
    /// use axum_token_auth::{token::Algorithm, trust::{Issuer, ScopeClaim}};
    ///
    /// let issuer = Issuer::discover("https://idp.example.com")
    ///     .audience("api")
    ///     .scope_claims([ScopeClaim::path("scope"), ScopeClaim::path("groups").prefix("group:")]);
    /// # let _ = issuer;
    /// ```
    pub fn scope_claims(mut self, claims: impl IntoIterator<Item = ScopeClaim>) -> Self {
        self.scope_claims = claims.into_iter().collect();
        self
    }

    /// The claim whose string value becomes the tenant ([`TokenClaims::tenant`](crate::TokenClaims::tenant)).
    ///
    /// ```
    /// use std::time::Duration;
    /// use axum_token_auth::{token::Algorithm, trust::{Issuer, ScopeClaim}};
    ///
    /// let issuer = Issuer::discover("https://idp.example.com").audience("api").tenant_claim(ScopeClaim::path("org_id"));
    /// # let _ = issuer;
    /// ```
    pub fn tenant_claim(mut self, claim: ScopeClaim) -> Self {
        self.tenant_claim = Some(claim);
        self
    }

    /// The claim the token's authentication context class comes from, for the step-up
    /// guards ([`StepUpLayer`](crate::http::StepUpLayer)): a string, or an array of
    /// strings (several classes, any of which a guard accepts). Without it, the token's
    /// own `acr`; with it, that claim or nothing (the token's `acr` never stands in).
    /// Values outside the grammar (printable ASCII but space, `"`, `\`) are dropped.
    ///
    /// ```
    /// use axum_token_auth::trust::{Issuer, ScopeClaim};
    ///
    /// // A provider that writes its level of assurance in `loa`.
    /// let issuer = Issuer::discover("https://idp.example.com").audience("api").acr_claim(ScopeClaim::path("loa"));
    /// # let _ = issuer;
    /// ```
    pub fn acr_claim(mut self, claim: ScopeClaim) -> Self {
        self.acr_claim = Some(claim);
        self
    }

    /// Only tokens whose top-level claim `name` is the string `value` pass.
    ///
    /// ```
    /// use std::time::Duration;
    /// use axum_token_auth::{token::Algorithm, trust::{Issuer, ScopeClaim}};
    ///
    /// let issuer = Issuer::keycloak("https://sso.example.com", "staff").audience("api").require_claim("typ", "Bearer");
    /// # let _ = issuer;
    /// ```
    pub fn require_claim(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.required_claims.push((name.into(), value.into()));
        self
    }

    /// Clock-skew leeway for this issuer's `exp`, `nbf`, `iat` (default: the
    /// [`TokenAuthBuilder::leeway`](crate::TokenAuthBuilder::leeway)).
    ///
    /// ```
    /// use std::time::Duration;
    /// use axum_token_auth::{token::Algorithm, trust::{Issuer, ScopeClaim}};
    ///
    /// let issuer = Issuer::google().audience("my-client.apps.googleusercontent.com").leeway(Duration::from_secs(60));
    /// # let _ = issuer;
    /// ```
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = Some(leeway);
        self
    }

    /// A remote set is refreshed when the JWKS response's `Cache-Control: max-age` says,
    /// clamped into `min ..= max` (default 1 min ..= 1 h; 10 min without `max-age`).
    ///
    /// ```
    /// use std::time::Duration;
    /// use axum_token_auth::{token::Algorithm, trust::{Issuer, ScopeClaim}};
    ///
    /// // Refetch the key set at least hourly, at most every 5 minutes, whatever max-age says.
    /// let issuer = Issuer::discover("https://idp.example.com").audience("api").refresh_bounds(Duration::from_secs(300), Duration::from_secs(3600));
    /// # let _ = issuer;
    /// ```
    pub fn refresh_bounds(mut self, min: Duration, max: Duration) -> Self {
        self.refresh.min_refresh = min;
        self.refresh.max_refresh = max;
        self.refresh.default_refresh = self.refresh.default_refresh.clamp(min, max.max(min));
        self
    }

    /// The pace of fetches caused by tokens with an unknown `kid` once the
    /// [burst](Self::refetch_burst) is spent: one per `interval` (default **4 s**, whole
    /// seconds, at least 1 s). An unknown `kid` is either a rotation at the provider or a
    /// forgery, and the two look alike until the key is fetched, so the budget is a token
    /// bucket per issuer:
    ///
    /// * **amplification bound**: a flood of random `kid`s causes at most
    ///   `burst + window / interval` fetches in any window — with the defaults, 3 at
    ///   once, then 15 a minute (18 in its first minute), whatever the number of `kid`s
    ///   or requests;
    /// * **rotation bound**: every fetch brings in whatever the provider publishes, so a
    ///   rotation is picked up within one `interval` (4 s) of the first token signed by
    ///   the new key, even during such a flood; with budget left (no flood) at once;
    /// * **per `kid`**: a `kid` still absent from a set fetched after it was first seen
    ///   causes no other fetch for 30 s (a replayed forgery spends nothing), and
    ///   concurrent requests share one fetch.
    ///
    /// A token refused for an unknown `kid` is a 401 `invalid_token`; the refusals are
    /// logged as a WARN (at most one per issuer per 10 s, naming the issuer and a short
    /// hash of the `kid`). Earlier versions allowed a single fetch per 30 s, so one forged
    /// token blocked a real rotation for 30 s; an interval set for them still works, as
    /// the pace of the bucket.
    ///
    /// ```
    /// use std::time::Duration;
    /// use axum_token_auth::{token::Algorithm, trust::{Issuer, ScopeClaim}};
    ///
    /// // Fewer fetches under a flood (at most 3 + 6 a minute), rotations within 10 s.
    /// let issuer = Issuer::discover("https://idp.example.com").audience("api").refetch_interval(Duration::from_secs(10));
    /// # let _ = issuer;
    /// ```
    pub fn refetch_interval(mut self, interval: Duration) -> Self {
        self.refresh.refetch_interval = interval;
        self
    }

    /// How many fetches tokens with unknown `kid`s may cause back to back before the
    /// [`refetch_interval`](Self::refetch_interval) paces them (default 3, at most 32):
    /// one forged token then leaves the next ones for a real rotation right after it.
    ///
    /// ```
    /// use axum_token_auth::trust::Issuer;
    ///
    /// let issuer = Issuer::discover("https://idp.example.com").audience("api").refetch_burst(5);
    /// # let _ = issuer;
    /// ```
    pub fn refetch_burst(mut self, burst: u32) -> Self {
        self.refresh.refetch_burst = burst;
        self
    }

    /// Time between attempts after a failed fetch (default 10 s).
    ///
    /// ```
    /// use std::time::Duration;
    /// use axum_token_auth::{token::Algorithm, trust::{Issuer, ScopeClaim}};
    ///
    /// let issuer = Issuer::discover("https://idp.example.com").audience("api").retry_interval(Duration::from_secs(10));
    /// # let _ = issuer;
    /// ```
    pub fn retry_interval(mut self, interval: Duration) -> Self {
        self.refresh.retry_interval = interval;
        self
    }

    /// How long the last good key set keeps verifying while fetches fail (default 24 h);
    /// past it, this issuer's tokens are answered 503 `temporarily_unavailable`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use axum_token_auth::{token::Algorithm, trust::{Issuer, ScopeClaim}};
    ///
    /// // Keep trusting the last good key set for up to a day while the provider is down.
    /// let issuer = Issuer::discover("https://idp.example.com").audience("api").max_stale(Duration::from_secs(86_400));
    /// # let _ = issuer;
    /// ```
    pub fn max_stale(mut self, max: Duration) -> Self {
        self.refresh.max_stale = max;
        self
    }

    /// The time limit of one fetch (default 5 s).
    ///
    /// ```
    /// use std::time::Duration;
    /// use axum_token_auth::{token::Algorithm, trust::{Issuer, ScopeClaim}};
    ///
    /// let issuer = Issuer::discover("https://idp.example.com").audience("api").fetch_timeout(Duration::from_secs(2));
    /// # let _ = issuer;
    /// ```
    pub fn fetch_timeout(mut self, timeout: Duration) -> Self {
        self.refresh.fetch_timeout = timeout;
        self
    }

    /// The largest discovery or JWKS document read (default 256 KiB).
    ///
    /// ```
    /// use std::time::Duration;
    /// use axum_token_auth::{token::Algorithm, trust::{Issuer, ScopeClaim}};
    ///
    /// let issuer = Issuer::discover("https://idp.example.com").audience("api").max_document_bytes(64 * 1024);
    /// # let _ = issuer;
    /// ```
    pub fn max_document_bytes(mut self, bytes: usize) -> Self {
        self.refresh.max_document_bytes = bytes;
        self
    }

    /// The HTTP client for fetches (default: rustls with the webpki roots, no proxy
    /// settings); give your own for private CAs or a proxy. Timeouts and the size limit
    /// still apply per fetch, and so does the URL policy: documents come from the URL
    /// asked and nowhere else. A `3xx` answer is a failed fetch, and an answer from
    /// another URL (a redirect your client followed) is refused and its keys never
    /// trusted.
    ///
    /// ⚠️ Build the client with `redirect(reqwest::redirect::Policy::none())`: reqwest's
    /// default policy follows up to 10 redirects, so the redirected request is still
    /// *sent* (to whatever host the redirect names) before its answer is refused.
    ///
    /// ```
    /// use std::time::Duration;
    /// use axum_token_auth::{token::Algorithm, trust::{Issuer, ScopeClaim}};
    ///
    /// let client = reqwest::Client::builder()
    ///     .user_agent("orders-api")
    ///     .redirect(reqwest::redirect::Policy::none())
    ///     .build()
    ///     .unwrap();
    /// let issuer = Issuer::discover("https://idp.example.com").audience("api").http_client(client);
    /// # let _ = issuer;
    /// ```
    #[cfg(feature = "oidc")]
    #[cfg_attr(docsrs, doc(cfg(feature = "oidc")))]
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.client = Some(client);
        self
    }

    /// Checks this issuer's opaque access tokens (every bearer token that is not a JWT)
    /// at its RFC 7662 introspection endpoint (feature `oidc`); its JWTs are still
    /// verified offline with its keys. At most one trusted issuer introspects. An issuer
    /// whose tokens are all opaque and who publishes no keys can be trusted with
    /// [`Issuer::keys`]`(iss, [])`. The rules, the cache bound and its trade-off:
    /// [`Introspection`](crate::trust::Introspection).
    ///
    /// ```
    /// use axum_token_auth::trust::{Introspection, Issuer};
    ///
    /// let issuer = Issuer::keys("https://idp.example.com", [])
    ///     .audience("https://api.example.com")
    ///     .introspection(
    ///         Introspection::endpoint("https://idp.example.com/introspect")
    ///             .client_secret_basic("orders-api", "the-client-secret"),
    ///     );
    /// # let _ = issuer;
    /// ```
    #[cfg(feature = "oidc")]
    #[cfg_attr(docsrs, doc(cfg(feature = "oidc")))]
    pub fn introspection(mut self, introspection: crate::trust::introspect::Introspection) -> Self {
        self.introspection = Some(introspection);
        self
    }

    /// What an outage of the revocation store means for this issuer's tokens (default:
    /// the handle's [`on_store_failure`](crate::TokenAuthBuilder::on_store_failure),
    /// fail closed). Machine-to-machine traffic of an identity provider need not fail
    /// with the store that holds browser sessions: with
    /// [`FailOpen`](StoreFailurePolicy::FailOpen) its tokens are accepted (with a
    /// warning) while the store is down, and a revocation of one of them is not seen
    /// until it is back.
    ///
    /// ```
    /// use axum_token_auth::{store::StoreFailurePolicy, trust::Issuer};
    ///
    /// let m2m = Issuer::discover("https://idp.example.com")
    ///     .audience("orders-api")
    ///     .on_store_failure(StoreFailurePolicy::FailOpen);
    /// # let _ = m2m;
    /// ```
    pub fn on_store_failure(mut self, policy: StoreFailurePolicy) -> Self {
        self.on_store_failure = Some(policy);
        self
    }

    /// ⚠️ Never looks this issuer's tokens up in the revocation store: they cannot be
    /// revoked through this service ([`TokenAuth::revoke`](crate::TokenAuth::revoke) and
    /// revoke-all still write, but nothing reads it), and no store outage touches them.
    /// For an identity provider whose access tokens are short-lived and revoked at the
    /// provider; the default checks every token.
    ///
    /// ```
    /// use axum_token_auth::trust::Issuer;
    ///
    /// let m2m = Issuer::discover("https://idp.example.com")
    ///     .audience("orders-api")
    ///     .without_revocation_check();
    /// # let _ = m2m;
    /// ```
    pub fn without_revocation_check(mut self) -> Self {
        self.check_revocation = false;
        self
    }

    /// The issuer (`iss`) this configuration is for.
    pub fn issuer(&self) -> &str {
        &self.iss
    }

    /// Checks the configuration (called by the builder).
    pub(crate) fn check(&self) -> Result<(), ConfigError> {
        let bad = |reason: &'static str| ConfigError::InvalidIssuer {
            issuer: self.iss.clone(),
            reason,
        };
        crate::token::error::check_text("issuer", &self.iss)?;
        if self.audiences.is_empty() {
            return Err(bad(
                "an external issuer needs at least one audience (Issuer::audience, or TokenAuthBuilder::resource)",
            ));
        }
        for a in self.audiences.iter().chain(&self.client_ids) {
            crate::token::error::check_text("audience", a)?;
        }
        if self.algorithms.is_empty() || !self.algorithms.iter().all(|a| ASYMMETRIC.contains(a)) {
            return Err(bad("external issuers use asymmetric algorithms only"));
        }
        let r = &self.refresh;
        if r.min_refresh < Duration::from_secs(1)
            || r.max_refresh < r.min_refresh
            || r.refetch_interval < Duration::from_secs(1)
            || !(1..=32).contains(&r.refetch_burst)
            || r.retry_interval < Duration::from_millis(100)
            || r.fetch_timeout < Duration::from_millis(100)
            || r.max_stale < r.max_refresh.min(r.default_refresh)
            || r.max_document_bytes < 1024
        {
            return Err(bad("refresh bounds out of range"));
        }
        if self.leeway.is_some_and(|l| l > Duration::from_secs(300)) {
            return Err(ConfigError::LeewayTooLarge);
        }
        #[cfg(feature = "oidc")]
        if let Some(i) = &self.introspection {
            i.check().map_err(bad)?;
        }
        match &self.source {
            KeySource::Static(keys, _) => {
                if keys
                    .iter()
                    .any(|k| !self.algorithms.contains(&k.alg) || k.can_sign())
                {
                    return Err(bad(
                        "static keys must be public keys of the accepted algorithms",
                    ));
                }
                Ok(())
            }
            #[cfg(feature = "oidc")]
            KeySource::JwksUrl(url) => crate::trust::fetch::check_url(url).map_err(bad),
            #[cfg(feature = "oidc")]
            KeySource::Discovery => crate::trust::fetch::check_url(&self.iss).map_err(bad),
            #[cfg(not(feature = "oidc"))]
            _ => Err(bad("remote key sets need the `oidc` feature")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_external_issuer_needs_an_audience() {
        let e = Issuer::keys("https://idp.example", []).check().unwrap_err();
        assert!(matches!(e, ConfigError::InvalidIssuer { .. }), "{e:?}");
        assert!(
            Issuer::keys("https://idp.example", [])
                .audience("api")
                .check()
                .is_ok()
        );
    }

    #[test]
    fn hmac_algorithms_are_refused_for_external_issuers() {
        let e = Issuer::keys("https://idp.example", [])
            .audience("api")
            .algorithms([Algorithm::HS256])
            .check()
            .unwrap_err();
        assert!(matches!(e, ConfigError::InvalidIssuer { .. }));
        let secret = Key::hs256("0123456789abcdefghijklmnopqrstuvwxyzABCDEF").unwrap();
        let e = Issuer::keys("https://idp.example", [secret])
            .audience("api")
            .check()
            .unwrap_err();
        assert!(matches!(e, ConfigError::InvalidIssuer { .. }));
    }

    #[test]
    fn the_refetch_budget_is_checked() {
        let ok = || Issuer::keys("https://idp.example", []).audience("api");
        assert_eq!(ok().refresh.refetch_interval, Duration::from_secs(4));
        assert_eq!(ok().refresh.refetch_burst, 3);
        assert!(ok().refetch_burst(1).check().is_ok());
        assert!(ok().refetch_burst(32).check().is_ok());
        assert!(
            ok().refetch_interval(Duration::from_secs(30))
                .check()
                .is_ok()
        );
        for bad in [
            ok().refetch_burst(0),
            ok().refetch_burst(33),
            ok().refetch_interval(Duration::from_millis(500)),
        ] {
            let e = bad.check().unwrap_err();
            assert!(matches!(e, ConfigError::InvalidIssuer { .. }), "{e:?}");
        }
    }

    #[test]
    fn presets_name_the_documented_issuers() {
        assert_eq!(
            Issuer::keycloak("https://sso.example.com/", "acme").issuer(),
            "https://sso.example.com/realms/acme"
        );
        assert_eq!(
            Issuer::auth0("acme.eu.auth0.com").issuer(),
            "https://acme.eu.auth0.com/"
        );
        assert_eq!(
            Issuer::entra("tid").issuer(),
            "https://login.microsoftonline.com/tid/v2.0"
        );
        assert_eq!(
            Issuer::cognito("eu-west-1", "eu-west-1_abc").issuer(),
            "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_abc"
        );
        assert_eq!(Issuer::google().issuer(), "https://accounts.google.com");
        assert_eq!(Issuer::cognito("r", "p").audience_claim, "client_id");
    }
}
