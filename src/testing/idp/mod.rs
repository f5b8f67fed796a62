//! [`FakeIdp`]: a fake identity provider for an application's tests. It mints tokens
//! shaped like Keycloak's, Auth0's, Entra ID's (v1.0 and v2.0), Cognito's (access and
//! ID) and Google's ([`ProviderToken`] lists the claims and cites the providers' docs),
//! and serves its discovery document and key set over a real socket on loopback, so the
//! application's [`Issuer`] preset fetches them as it would from the provider: key
//! rotation, dropped keys, an outage, a slow or broken provider, and the number of
//! fetches, all under the test's control.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use jsonwebtoken::Header;
use jsonwebtoken::jwk::JwkSet;
use serde_json::Value;

use crate::testing::idp::keys::KeyRing;
use crate::testing::idp::server::{Faults, Server, Shared, lock};
use crate::trust::Issuer;

pub(crate) mod keys;
pub(crate) mod provider;
pub(crate) mod server;
pub(crate) mod token;

pub use provider::Provider;
pub use token::ProviderToken;

/// The audience a [`FakeIdp`]'s access tokens name by default (the API under test).
pub const FAKE_IDP_AUDIENCE: &str = "https://api.fake-idp.test";
/// The client id a [`FakeIdp`]'s tokens name by default (the app that asked for them).
pub const FAKE_IDP_CLIENT_ID: &str = "fake-idp-client";

/// A fake identity provider on `http://127.0.0.1:PORT` (feature `testing`).
///
/// * **Tokens**: [`access_token`](Self::access_token) and [`id_token`](Self::id_token),
///   RS256, under the current key's `kid`, shaped like the [`Provider`]'s.
/// * **Discovery and keys**: `{issuer}/.well-known/openid-configuration` and the
///   provider's key set path, served by `axum::serve` on a loopback port. The key
///   set's answer names no `max-age` (the issuer's default refresh applies).
/// * **The matching preset**: [`issuer`](Self::issuer) is the provider's preset
///   ([`Issuer::keycloak`], [`auth0`](Issuer::auth0), [`entra`](Issuer::entra),
///   [`cognito`](Issuer::cognito), [`google`](Issuer::google)) with its issuer moved to
///   the fake's URL and the fake's audience added: the preset's rules are the ones under
///   test. Discovery needs the `oidc` feature; [`issuer_pinned`](Self::issuer_pinned)
///   gives the same rules with the keys published now, never fetched.
/// * **Keys**: four RSA-2048 test keys embedded in the crate as fixtures (public,
///   never use them elsewhere), used in turn: [`rotate`](Self::rotate) publishes a new
///   signing key and keeps the old ones, [`drop_key`](Self::drop_key) withdraws one.
///   After four rotations the material repeats under new `kid`s.
/// * **Faults**: [`stop`](Self::stop) closes the port (connection refused),
///   [`slow`](Self::slow) delays every answer, [`garbage`](Self::garbage) answers 200
///   with an HTML page; [`resume`](Self::resume) ends all three.
/// * **Counts**: [`discovery_fetches`](Self::discovery_fetches) and
///   [`jwks_fetches`](Self::jwks_fetches), every request received.
///
/// The server runs on the test's Tokio runtime and stops when the `FakeIdp` is dropped.
/// An issuer's keys are fetched in the background: a request before the first fetch
/// is answered 503, so await [`TokenAuth::await_ready`](crate::auth::TokenAuth::await_ready)
/// first. For brevity the fake signs ID and access tokens with one key (Cognito uses
/// two).
///
/// ```
/// # #[cfg(feature = "oidc")]
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use axum::{Router, routing::get};
/// use axum_token_auth::{RequireScope, scope, testing::{self, FakeIdp, Provider}};
///
/// scope!(OrdersRead = "orders:read");
///
/// let idp = FakeIdp::start(Provider::keycloak("acme")).await;
/// let auth = testing::test_builder().trust(idp.issuer()).build().unwrap();
/// // Discovery and the key set are fetched in the background; until then 503.
/// assert!(auth.await_ready(std::time::Duration::from_secs(5)).await);
/// let app = Router::new()
///     .route("/orders", get(|_: RequireScope<OrdersRead>| async { "orders" }))
///     .layer(auth.layer());
///
/// // A Keycloak-shaped token whose realm role is the scope: accepted.
/// let token = idp.access_token("alice").roles(["orders:read"]).sign();
/// let req = |t: &str| http::Request::get("/orders")
///     .header("authorization", format!("Bearer {t}"))
///     .body(axum::body::Body::empty())
///     .unwrap();
/// use tower::ServiceExt;
/// assert_eq!(app.clone().oneshot(req(&token)).await.unwrap().status(), 200);
/// // Its ID token (`typ: ID`, `aud` = the client) is no access token.
/// let id = idp.id_token("alice").sign();
/// assert_eq!(app.clone().oneshot(req(&id)).await.unwrap().status(), 401);
/// assert_eq!((idp.discovery_fetches(), idp.jwks_fetches()), (1, 1));
/// # }
/// # #[cfg(not(feature = "oidc"))] fn main() {}
/// ```
pub struct FakeIdp {
    provider: Provider,
    shared: Arc<Shared>,
    server: Server,
}

impl fmt::Debug for FakeIdp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeIdp")
            .field("provider", &self.provider)
            .field("issuer", &self.shared.iss)
            .field("kids", &self.kids())
            .finish_non_exhaustive()
    }
}

impl FakeIdp {
    /// Starts a fake `provider` on a free loopback port.
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime, or when no loopback port can be bound.
    pub async fn start(provider: Provider) -> FakeIdp {
        let shared_for = |base: &str| {
            let iss = provider.iss(base);
            Arc::new(Shared {
                discovery_path: format!(
                    "{}/.well-known/openid-configuration",
                    iss.trim_end_matches('/').trim_start_matches(base)
                ),
                jwks_path: provider.jwks_path(),
                iss,
                base: base.to_owned(),
                keys: Mutex::new(KeyRing::new()),
                faults: Mutex::new(Faults::default()),
                discovery_fetches: AtomicU64::new(0),
                jwks_fetches: AtomicU64::new(0),
            })
        };
        // The port is known once bound, and the documents name it.
        let listener = server::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
            .expect("FakeIdp: bind a loopback port");
        let addr = listener.local_addr().expect("FakeIdp: a bound address");
        let shared = shared_for(&format!("http://{addr}"));
        let server = Server::start(listener, Arc::clone(&shared))
            .expect("FakeIdp: serve on the loopback port");
        FakeIdp {
            provider,
            shared,
            server,
        }
    }

    /// The provider imitated.
    pub fn provider(&self) -> &Provider {
        &self.provider
    }

    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub fn base_url(&self) -> &str {
        &self.shared.base
    }

    /// The issuer (`iss`) of its tokens and its discovery document (see [`Provider`]).
    pub fn issuer_url(&self) -> &str {
        &self.shared.iss
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr
    }

    /// The URL of its key set (what its discovery document names).
    pub fn jwks_url(&self) -> String {
        format!("{}{}", self.shared.base, self.shared.jwks_path)
    }

    /// The audience its access tokens name by default: [`FAKE_IDP_AUDIENCE`], or for
    /// Cognito, whose access tokens have none, the client id in `client_id`.
    pub fn audience(&self) -> &str {
        match self.provider {
            Provider::Cognito { .. } => FAKE_IDP_CLIENT_ID,
            _ => FAKE_IDP_AUDIENCE,
        }
    }

    /// The client id its tokens name by default ([`FAKE_IDP_CLIENT_ID`]).
    pub fn client_id(&self) -> &str {
        FAKE_IDP_CLIENT_ID
    }

    /// The provider's [`Issuer`] preset, pointed at this fake (its `iss` moved to
    /// [`issuer_url`](Self::issuer_url), its keys found by discovery) and given
    /// [`audience`](Self::audience); chain more settings as usual. Needs the `oidc`
    /// feature to be trusted (remote key sets); see [`issuer_pinned`](Self::issuer_pinned).
    pub fn issuer(&self) -> Issuer {
        self.provider
            .preset(&self.shared.base, &self.shared.iss)
            .audience(self.audience())
    }

    /// [`issuer`](Self::issuer) with the key set published now given once ([`Issuer::jwks`]
    /// style): never fetched, so no `oidc` feature is needed, and rotations are not seen.
    pub fn issuer_pinned(&self) -> Issuer {
        let mut issuer = self.issuer();
        issuer.source = Issuer::jwks(self.issuer_url(), &self.jwks()).source;
        issuer
    }

    /// An access token for `sub`, shaped like the provider's; chain settings, then
    /// [`sign`](ProviderToken::sign).
    pub fn access_token(&self, sub: &str) -> ProviderToken<'_> {
        ProviderToken::new(self, token::Kind::Access, sub)
    }

    /// An ID token for `sub` (`aud` = the client), shaped like the provider's.
    pub fn id_token(&self, sub: &str) -> ProviderToken<'_> {
        ProviderToken::new(self, token::Kind::Id, sub)
    }

    /// The key set served now.
    pub fn jwks(&self) -> JwkSet {
        lock(&self.shared.keys).jwks()
    }

    /// The `kid`s served now, oldest first.
    pub fn kids(&self) -> Vec<String> {
        lock(&self.shared.keys).kids()
    }

    /// The `kid` new tokens are signed under.
    pub fn signing_kid(&self) -> String {
        lock(&self.shared.keys).signing_kid()
    }

    /// Rotates now: a new signing key is published next to the old ones (which keep
    /// verifying the tokens they signed) and signs every token from now on. Its `kid`.
    pub fn rotate(&self) -> String {
        lock(&self.shared.keys).rotate()
    }

    /// Withdraws `kid` from the key set; whether it was published. Dropping the
    /// signing key itself leaves new tokens signed by a key nobody publishes.
    pub fn drop_key(&self, kid: &str) -> bool {
        lock(&self.shared.keys).drop_key(kid)
    }

    /// Goes down: the port is closed (connection refused); a connection kept alive
    /// from before is answered 503 and closed. Until [`resume`](Self::resume).
    pub fn stop(&self) {
        lock(&self.shared.faults).stopped = true;
        self.server.stop();
    }

    /// Back to normal: listening again on the same port (after [`stop`](Self::stop)),
    /// answering at once and with real documents.
    ///
    /// # Panics
    ///
    /// When the port cannot be bound again.
    pub async fn resume(&self) {
        let stopped = std::mem::take(&mut *lock(&self.shared.faults)).stopped;
        if stopped {
            self.server
                .resume(Arc::clone(&self.shared))
                .await
                .expect("FakeIdp: listen again on the same port");
        }
    }

    /// Answers every request only after `delay` (a provider under load): with a delay
    /// past the issuer's [`fetch_timeout`](Issuer::fetch_timeout), fetches time out.
    pub fn slow(&self, delay: Duration) {
        lock(&self.shared.faults).slow = Some(delay);
    }

    /// Answers every request 200 with an HTML error page instead of JSON (a proxy or a
    /// captive portal in the way): a failed fetch, the last good keys are kept.
    pub fn garbage(&self) {
        lock(&self.shared.faults).garbage = true;
    }

    /// Requests received for the discovery document, whatever was answered.
    pub fn discovery_fetches(&self) -> u64 {
        self.shared.discovery_fetches.load(Ordering::SeqCst)
    }

    /// Requests received for the key set, whatever was answered.
    pub fn jwks_fetches(&self) -> u64 {
        self.shared.jwks_fetches.load(Ordering::SeqCst)
    }

    /// Signs `claims` under `header` with the current signing key.
    pub(crate) fn sign(&self, header: &Header, claims: &Value) -> String {
        let ring = lock(&self.shared.keys);
        let key = ring.signing();
        let encoding = key
            .encoding
            .as_ref()
            .expect("the fixtures are private keys");
        jsonwebtoken::encode(header, claims, encoding).expect("RS256 signing works")
    }

    /// The key ring, for the attack generator.
    pub(crate) fn key_ring(&self) -> std::sync::MutexGuard<'_, KeyRing> {
        lock(&self.shared.keys)
    }
}
