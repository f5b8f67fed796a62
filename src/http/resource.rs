//! [`ProtectedResource`]: this API as an OAuth 2.0 protected resource (RFC 9728) — its
//! resource identifier, the metadata document clients discover it by, and the pointer
//! to that document every 401 carries.
//!
//! A client that meets the API with no configuration (an MCP client, an agent, a
//! generic OAuth client) reads `resource_metadata="…"` from the 401's
//! `WWW-Authenticate`, fetches the document, finds the authorization servers to get a
//! token from and the scopes to ask for, and asks for a token bound to the `resource`
//! (RFC 8707). The same identifier is the audience the handle requires by default: what
//! the document announces and what the layer accepts cannot drift apart.

use std::fmt;
use std::sync::Arc;

use axum::Router;
use axum::response::{IntoResponse, Response};
use http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    CACHE_CONTROL, CONTENT_TYPE,
};
use http::{HeaderValue, Uri};
use jsonwebtoken::Algorithm;
use serde_json::{Map, Value};

use crate::token::error::ConfigError;
use crate::token::keys::KeyRing;
use crate::token::scope::ScopeList;
use crate::trust::verify::Verifier;

/// The well-known path segment of protected resource metadata (RFC 9728 §3).
pub const RESOURCE_METADATA_SEGMENT: &str = "/.well-known/oauth-protected-resource";

/// This API as an OAuth 2.0 protected resource (RFC 9728): its resource identifier and
/// what its metadata document says beyond what the handle already knows. Set with
/// [`TokenAuthBuilder::resource`](crate::TokenAuthBuilder::resource); served by
/// [`Web::resource_metadata_router`](crate::http::Web::resource_metadata_router).
///
/// ```
/// use axum::{Router, routing::get};
/// use axum_token_auth::{Claims, TokenAuth, TokenRequest, http::ProtectedResource, scope};
///
/// scope! {
///     pub OrdersRead = "orders:read";
///     pub OrdersWrite = "orders:write";
/// }
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let auth = TokenAuth::builder()
///     .hs256_secret("a-random-secret-of-at-least-32-bytes!!")
///     .resource(
///         ProtectedResource::new("https://api.example.com/tenant1")
///             .name("Orders API")
///             .scopes::<(OrdersRead, OrdersWrite)>(),
///     )
///     .build()?;
/// let app: Router = Router::new()
///     .route("/orders", get(|c: Claims| async move { c.sub.clone() }))
///     .layer(auth.layer())
///     // GET /.well-known/oauth-protected-resource/tenant1 (RFC 9728 §3.1)
///     .merge(auth.web().resource_metadata_router());
///
/// let resource = auth.web().protected_resource().unwrap();
/// assert_eq!(
///     resource.metadata_url(),
///     "https://api.example.com/.well-known/oauth-protected-resource/tenant1"
/// );
/// // Audience binding by default: our own tokens are minted for the resource.
/// let token = auth.issue_access(&TokenRequest::new("alice"))?;
/// # let _ = (app, token); Ok(()) }
/// ```
///
/// The document is derived from the configuration, never written twice:
///
/// | member | from |
/// | --- | --- |
/// | `resource` | [`ProtectedResource::new`] |
/// | `authorization_servers` | the trusted issuers ([`TokenAuthBuilder::trust`](crate::TokenAuthBuilder::trust)), then [`authorization_server`](Self::authorization_server) |
/// | `scopes_supported` | [`scopes`](Self::scopes) (the `scope!` markers your guards use) and [`scopes_supported`](Self::scopes_supported) |
/// | `bearer_methods_supported` | `["header"]` (cookies are no OAuth bearer method) |
/// | `dpop_signing_alg_values_supported`, `dpop_bound_access_tokens_required` | the DPoP settings, when DPoP is on |
/// | `tls_client_certificate_bound_access_tokens` | `true` with [`TokenAuthBuilder::mtls`](crate::TokenAuthBuilder::mtls) |
/// | `resource_name`, `resource_documentation`, `jwks_uri` | the setters of the same name |
/// | `signed_metadata` | [`signed_metadata`](Self::signed_metadata): the document as a JWT signed by the handle's signing key |
///
/// **Audience binding (RFC 8707).** With a resource configured, the handle's own
/// audience ([`TokenAuthBuilder::audience`](crate::TokenAuthBuilder::audience)) and that
/// of every trusted issuer given none default to the resource identifier: tokens minted
/// for another resource are refused. An explicit audience wins (a deployment whose
/// provider mints tokens for a client id, say); the metadata still names the resource.
#[derive(Clone, PartialEq, Eq)]
pub struct ProtectedResource {
    resource: String,
    name: Option<String>,
    documentation: Option<String>,
    jwks_uri: Option<String>,
    scopes: Vec<String>,
    authorization_servers: Vec<String>,
    signed: bool,
}

impl fmt::Debug for ProtectedResource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProtectedResource")
            .field("resource", &self.resource)
            .field("name", &self.name)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

impl ProtectedResource {
    /// The resource identifier: an absolute `https` URL without query or fragment
    /// (`http` is accepted for development on loopback). It is the `resource` clients
    /// ask tokens for and, by default, the audience tokens must carry.
    pub fn new(resource: impl Into<String>) -> Self {
        ProtectedResource {
            resource: resource.into(),
            name: None,
            documentation: None,
            jwks_uri: None,
            scopes: Vec::new(),
            authorization_servers: Vec::new(),
            signed: false,
        }
    }

    /// A human-readable name (`resource_name`).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// A page documenting the API for developers (`resource_documentation`).
    pub fn documentation(mut self, url: impl Into<String>) -> Self {
        self.documentation = Some(url.into());
        self
    }

    /// Where the resource's own public keys are (`jwks_uri`), for instance the route of
    /// [`Web::jwks_route`](crate::http::Web::jwks_route); clients check
    /// `signed_metadata` with them.
    pub fn jwks_uri(mut self, url: impl Into<String>) -> Self {
        self.jwks_uri = Some(url.into());
        self
    }

    /// Adds the scopes of `scope!` markers to `scopes_supported`: the markers your
    /// guards use, so the document and the routes name the same scopes.
    ///
    /// ```
    /// use axum_token_auth::{http::ProtectedResource, scope};
    /// scope!(pub UsersRead = "users:read");
    /// let r = ProtectedResource::new("https://api.example.com").scopes::<UsersRead>();
    /// ```
    pub fn scopes<L: ScopeList>(self) -> Self {
        self.scopes_supported(L::SCOPES.iter().copied())
    }

    /// Adds scopes to `scopes_supported` (duplicates are listed once).
    pub fn scopes_supported<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        for s in scopes {
            let s = s.into();
            if !self.scopes.contains(&s) {
                self.scopes.push(s);
            }
        }
        self
    }

    /// Adds an authorization server (its issuer identifier) to `authorization_servers`,
    /// after the trusted issuers, which are always listed. For the service's own issuer
    /// when it serves authorization server metadata.
    pub fn authorization_server(mut self, issuer: impl Into<String>) -> Self {
        let issuer = issuer.into();
        if !self.authorization_servers.contains(&issuer) {
            self.authorization_servers.push(issuer);
        }
        self
    }

    /// Serves `signed_metadata` too: the document's members as claims of a JWT signed
    /// with the handle's signing key (`iss`: the handle's issuer, else the resource),
    /// signed once per keyring, so a key rotation shows at the next request. Needs an asymmetric signing key
    /// (a client cannot check an HMAC); [`jwks_uri`](Self::jwks_uri) tells clients
    /// where its public key is.
    pub fn signed_metadata(mut self) -> Self {
        self.signed = true;
        self
    }

    /// The resource identifier, as configured.
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// The path the metadata is served at: the well-known segment inserted between the
    /// host and the resource's path, any terminating `/` removed (RFC 9728 §3.1):
    /// `https://api.example/tenant1` → `/.well-known/oauth-protected-resource/tenant1`.
    pub fn well_known_path(&self) -> String {
        let path = self
            .resource
            .parse::<Uri>()
            .map(|u| u.path().trim_end_matches('/').to_owned())
            .unwrap_or_default();
        format!("{RESOURCE_METADATA_SEGMENT}{path}")
    }

    /// The metadata document's URL, as every 401 names it in `resource_metadata`.
    pub fn metadata_url(&self) -> String {
        match self.resource.parse::<Uri>() {
            Ok(u) => format!(
                "{}://{}{}",
                u.scheme_str().unwrap_or("https"),
                u.authority().map_or("", |a| a.as_str()),
                self.well_known_path()
            ),
            Err(_) => String::new(),
        }
    }

    /// Checks the identifier and URLs (at build).
    pub(crate) fn check(&self) -> Result<(), ConfigError> {
        let bad = |reason| ConfigError::InvalidResource(reason);
        let uri: Uri = self
            .resource
            .parse()
            .map_err(|_| bad("the resource identifier is not a URL"))?;
        if !matches!(uri.scheme_str(), Some("https" | "http")) || uri.authority().is_none() {
            return Err(bad("the resource identifier must be an absolute https URL"));
        }
        // RFC 3986 characters only: the identifier goes into a quoted header parameter,
        // where a `"` or `\` would end it (http's URI parser lets both through).
        let uri_char = |c: char| c.is_ascii_alphanumeric() || "-._~:/?#[]@!$&'()*+,;=%".contains(c);
        if !self.resource.chars().all(uri_char) {
            return Err(bad("the resource identifier has characters a URI cannot"));
        }
        // axum's router refuses (panics on) a segment starting with `:` or `*`.
        if uri.path().split('/').any(|seg| seg.starts_with([':', '*'])) {
            return Err(bad("a path segment of the resource starts with ':' or '*'"));
        }
        if self.resource.contains(['?', '#']) {
            return Err(bad(
                "the resource identifier must have no query or fragment (RFC 9728 §1.2)",
            ));
        }
        let texts = [&self.name, &self.documentation, &self.jwks_uri];
        let all = texts
            .into_iter()
            .flatten()
            .chain(&self.scopes)
            .chain(&self.authorization_servers);
        if all
            .into_iter()
            .any(|s| s.is_empty() || s.chars().any(char::is_control))
        {
            return Err(bad("an empty value or a control character in the metadata"));
        }
        Ok(())
    }
}

/// The served metadata: the document's members, computed once at build, and what
/// signing it needs.
pub(crate) struct ResourceMetadata {
    pub(crate) resource: ProtectedResource,
    /// The document, without `signed_metadata`.
    members: Map<String, Value>,
    /// `resource_metadata="…"`, checked to fit a quoted string.
    pub(crate) pointer: HeaderValue,
    issuer: Option<String>,
    /// The last `signed_metadata` and the keyring it was signed with: signed again only
    /// when the keyring changes (a rotation), not at every (unauthenticated) request.
    signed: std::sync::Mutex<Option<(Arc<KeyRing>, String)>>,
}

impl fmt::Debug for ResourceMetadata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResourceMetadata")
            .field("resource", &self.resource)
            .finish_non_exhaustive()
    }
}

/// What the rest of the configuration says for the document.
pub(crate) struct MetadataSources<'a> {
    pub(crate) issuers: Vec<String>,
    pub(crate) dpop_algs: Option<Vec<String>>,
    pub(crate) dpop_required: bool,
    pub(crate) mtls: bool,
    pub(crate) own_issuer: Option<&'a str>,
}

impl ResourceMetadata {
    pub(crate) fn new(
        resource: ProtectedResource,
        from: MetadataSources<'_>,
    ) -> Result<Self, ConfigError> {
        resource.check()?;
        let url = resource.metadata_url();
        let pointer = HeaderValue::from_str(&format!("resource_metadata=\"{url}\""))
            .map_err(|_| ConfigError::InvalidResource("the metadata URL is not a header value"))?;
        let mut m = Map::new();
        m.insert("resource".into(), resource.resource.clone().into());
        let mut servers = from.issuers;
        for s in &resource.authorization_servers {
            if !servers.contains(s) {
                servers.push(s.clone());
            }
        }
        if !servers.is_empty() {
            m.insert("authorization_servers".into(), servers.into());
        }
        if let Some(j) = &resource.jwks_uri {
            m.insert("jwks_uri".into(), j.clone().into());
        }
        if !resource.scopes.is_empty() {
            m.insert("scopes_supported".into(), resource.scopes.clone().into());
        }
        m.insert("bearer_methods_supported".into(), vec!["header"].into());
        if let Some(n) = &resource.name {
            m.insert("resource_name".into(), n.clone().into());
        }
        if let Some(d) = &resource.documentation {
            m.insert("resource_documentation".into(), d.clone().into());
        }
        if from.mtls {
            m.insert(
                "tls_client_certificate_bound_access_tokens".into(),
                true.into(),
            );
        }
        if let Some(algs) = from.dpop_algs {
            m.insert("dpop_signing_alg_values_supported".into(), algs.into());
            m.insert(
                "dpop_bound_access_tokens_required".into(),
                from.dpop_required.into(),
            );
        }
        Ok(ResourceMetadata {
            issuer: from.own_issuer.map(str::to_owned),
            resource,
            members: m,
            pointer,
            signed: std::sync::Mutex::new(None),
        })
    }

    /// The document as served now: with `signed_metadata` when asked for and an
    /// asymmetric signing key is at hand.
    fn document(&self, verifier: &Verifier) -> Value {
        let mut doc = self.members.clone();
        if self.resource.signed {
            match self.sign(verifier) {
                Some(jwt) => {
                    doc.insert("signed_metadata".into(), jwt.into());
                }
                None => tracing::warn!(
                    "signed resource metadata asked for, but no asymmetric signing key: served unsigned"
                ),
            }
        }
        Value::Object(doc)
    }

    fn sign(&self, verifier: &Verifier) -> Option<String> {
        let ring: Arc<KeyRing> = Arc::clone(&verifier.keys.load());
        let mut memo = self.signed.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((signed_with, jwt)) = memo.as_ref()
            && Arc::ptr_eq(signed_with, &ring)
        {
            return Some(jwt.clone());
        }
        let key = ring.signing()?;
        if matches!(
            key.alg,
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512
        ) {
            return None;
        }
        let mut claims = self.members.clone();
        let iss = self.issuer.as_deref().unwrap_or(&self.resource.resource);
        claims.insert("iss".into(), iss.into());
        claims.insert("iat".into(), verifier.clock.now().into());
        let mut header = jsonwebtoken::Header::new(key.alg);
        header.kid = key.kid.clone();
        let encoding = key.encoding.as_ref()?;
        let jwt = jsonwebtoken::encode(&header, &claims, encoding).ok()?;
        *memo = Some((Arc::clone(&ring), jwt.clone()));
        Some(jwt)
    }
}

/// The router serving the document (see
/// [`Web::resource_metadata_router`](crate::http::Web::resource_metadata_router)).
pub(crate) fn router<S: Clone + Send + Sync + 'static>(
    metadata: Arc<ResourceMetadata>,
    verifier: Arc<Verifier>,
) -> Router<S> {
    let path = metadata.resource.well_known_path();
    let get = move || {
        let doc = metadata.document(&verifier);
        async move { serve(&doc) }
    };
    // Public and read by browser clients (MCP inspectors): any origin may read it, and
    // the preflight of a request with a custom header (`MCP-Protocol-Version`) passes.
    let preflight = || async {
        (
            [
                (ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
                (ACCESS_CONTROL_ALLOW_METHODS, "GET, OPTIONS"),
                (ACCESS_CONTROL_ALLOW_HEADERS, "*"),
            ],
            (),
        )
    };
    Router::new().route(&path, axum::routing::get(get).options(preflight))
}

fn serve(doc: &Value) -> Response {
    (
        [
            (CONTENT_TYPE, "application/json"),
            (CACHE_CONTROL, "public, max-age=300"),
            (ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        ],
        doc.to_string(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_well_known_path_inserts_the_segment_before_the_resource_path() {
        let cases = [
            (
                "https://api.example",
                "/.well-known/oauth-protected-resource",
            ),
            (
                "https://api.example/",
                "/.well-known/oauth-protected-resource",
            ),
            (
                "https://api.example/tenant1",
                "/.well-known/oauth-protected-resource/tenant1",
            ),
            (
                "https://api.example/tenant1/",
                "/.well-known/oauth-protected-resource/tenant1",
            ),
            (
                "https://api.example:8443/a/b",
                "/.well-known/oauth-protected-resource/a/b",
            ),
        ];
        for (resource, path) in cases {
            let r = ProtectedResource::new(resource);
            assert_eq!(r.well_known_path(), path, "{resource}");
        }
        assert_eq!(
            ProtectedResource::new("https://api.example:8443/a").metadata_url(),
            "https://api.example:8443/.well-known/oauth-protected-resource/a"
        );
    }

    #[test]
    fn identifiers_with_a_query_a_fragment_or_no_host_are_refused() {
        for bad in [
            "api.example",
            "/tenant1",
            "ftp://api.example",
            "https://api.example/?x=1",
            "https://api.example/#f",
            "https://api.example/a\"b",
            "https://api.example/:v1",
            "https://api.example/a/*rest",
        ] {
            assert!(
                matches!(
                    ProtectedResource::new(bad).check(),
                    Err(ConfigError::InvalidResource(_))
                ),
                "{bad}"
            );
        }
        assert!(
            ProtectedResource::new("http://127.0.0.1:3000")
                .check()
                .is_ok()
        );
    }
}
