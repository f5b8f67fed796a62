//! The OIDC test harness itself (`tests/it/common/oidc.rs` + `scripts/oidc/provider.mjs`):
//! a real oidc-provider on loopback issues what the external-issuer tests rely on.
//! Deliberately independent of the crate's API (only reqwest, serde_json, jsonwebtoken).
//!
//!
//! It also holds the provider's back-channel logout side for the receiver tests
//! ([`OidcProvider::register_client`], [`OidcProvider::login`],
//! [`OidcProvider::end_session`]; `BACK-CHANNEL LOGOUT` in provider.mjs), smoke-tested in
//! `tests/it/backchannel_harness.rs`:
//!
//! ```ignore
//! use crate::oidc_harness::ProviderLogin;
//!
//! let client = op.register_client(&format!("{api}/oidc/backchannel-logout")).await;
//! let login: ProviderLogin = op.login(&client, "alice").await; // access token with `sid`
//! // ... the API accepts login.access_token ...
//! let ended = op.end_session(&login.handle).await; // the provider POSTs a logout token
//! assert!(ended.deliveries.iter().all(|d| d.error.is_none()));
//! ```
//!
//! Run with `scripts/test.sh cargo test --all-features --test it oidc_harness::`.

use crate::common;

use common::oidc::{
    CLIENT_ID, DEFAULT_ACCESS_TOKEN_TTL, OidcProvider, ProviderOptions, RESOURCE, TestKey,
    jwks_kids, jwt_claims, jwt_header, verify_rs256_with_jwks,
};
use serde_json::{Value, json};

// ---------------------------------------------------------------------------
// back-channel logout: registered clients, kept provider sessions, RP-initiated logout
// ---------------------------------------------------------------------------

/// The back-channel logout event a logout token's `events` carries.
pub const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// A client registered at the provider by dynamic client registration (RFC 7591).
#[derive(Clone, Debug)]
pub struct RegisteredClient {
    /// Its `client_id` (a random 22-character string, or the one asked for): the `aud`
    /// of its ID tokens and logout tokens.
    pub client_id: String,
    /// Its `client_secret` (client_secret_basic at the token endpoint).
    #[allow(dead_code)] // for tests that use the client at the token endpoint themselves
    pub client_secret: String,
    /// The provider's whole registration response (every metadata value it settled on).
    pub metadata: Value,
}

/// A browser's session at the provider (its cookies, kept by provider.mjs under this
/// handle): what [`OidcProvider::end_session`] ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderSession(pub String);

/// One login of a user to a registered client through the genuine authorization code flow.
#[derive(Clone, Debug)]
pub struct ProviderLogin {
    /// The browser session it happened in.
    pub handle: ProviderSession,
    /// The client logged in to.
    pub client_id: String,
    /// The user (`sub`).
    pub sub: String,
    /// The provider's session id for this client: the `sid` of `access_token`, of
    /// `id_token` and of the logout token to come. `None` when the client was registered
    /// without `backchannel_logout_session_required` (then no token carries `sid`).
    pub sid: Option<String>,
    /// A JWT access token for [`RESOURCE`] (`typ: at+jwt`, scope `users:read`, with `sid`,
    /// `auth_time`, `client_id` = the client).
    pub access_token: String,
    /// The ID token (`aud` = the client, with `sid`).
    pub id_token: String,
}

/// One logout token the provider POSTed while ending a session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogoutDelivery {
    /// The client whose `backchannel_logout_uri` it went to.
    pub client_id: String,
    /// The token's `sub`.
    pub sub: String,
    /// The token's `sid` (clients registered with `backchannel_logout_session_required`).
    pub sid: Option<String>,
    /// `None` when the receiver answered 200 or 204; else the provider's error, e.g.
    /// `expected 200 OK from <uri>, got: 400 Bad Request` (the provider does not retry).
    pub error: Option<String>,
}

/// What [`OidcProvider::end_session`] observed.
#[derive(Clone, Debug)]
pub struct EndedSession {
    /// Every logout token POSTed, all delivered (or failed) before the provider answered.
    pub deliveries: Vec<LogoutDelivery>,
    /// Where the confirm form redirected (the provider's logout success page).
    pub location: String,
}

async fn admin_get(op: &OidcProvider, route: &str, params: &[(&str, &str)]) -> Value {
    let url =
        reqwest::Url::parse_with_params(&format!("{}/admin/{route}", op.issuer()), params).unwrap();
    let res = op
        .http()
        .get(url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET /admin/{route}: {e}"));
    let status = res.status();
    let body = res.text().await.expect("body");
    assert!(status.is_success(), "GET /admin/{route}: {status}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("/admin/{route}: not JSON ({e}): {body}"))
}

fn text(v: &Value, key: &str) -> String {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("no {key} in {v}"))
        .to_owned()
}

fn login_of(body: &Value) -> ProviderLogin {
    ProviderLogin {
        handle: ProviderSession(text(body, "handle")),
        client_id: text(body, "client_id"),
        sub: text(body, "sub"),
        sid: body["sid"].as_str().map(str::to_owned),
        access_token: text(body, "access_token"),
        id_token: text(body, "id_token"),
    }
}

fn ended_of(body: &Value) -> EndedSession {
    let deliveries = body["backchannel"]
        .as_array()
        .unwrap_or_else(|| panic!("no backchannel in {body}"))
        .iter()
        .map(|d| LogoutDelivery {
            client_id: text(d, "client_id"),
            sub: text(d, "sub"),
            sid: d["sid"].as_str().map(str::to_owned),
            error: d["error"].as_str().map(str::to_owned),
        })
        .collect();
    EndedSession {
        deliveries,
        location: text(body, "location"),
    }
}

impl OidcProvider {
    /// `{issuer}/admin/cb`: the redirect URI a client must register for [`login`](Self::login).
    pub fn admin_redirect_uri(&self) -> String {
        format!("{}/admin/cb", self.issuer())
    }

    /// Registers a client (`POST /reg`, open dynamic registration) whose logout receiver
    /// is `backchannel_logout_uri`, with `backchannel_logout_session_required: true` (its
    /// tokens and logout tokens carry `sid`), redirect URI [`admin_redirect_uri`]
    /// (Self::admin_redirect_uri), authorization code grant, client_secret_basic.
    pub async fn register_client(&self, backchannel_logout_uri: &str) -> RegisteredClient {
        self.register_client_with(json!({
            "backchannel_logout_uri": backchannel_logout_uri,
            "backchannel_logout_session_required": true,
        }))
        .await
    }

    /// Registers a client with `metadata` (a JSON object) over the defaults
    /// `{"redirect_uris": [admin_redirect_uri], "grant_types": ["authorization_code"],
    /// "response_types": ["code"], "token_endpoint_auth_method": "client_secret_basic"}`;
    /// a `null` member removes a default. E.g. `backchannel_logout_session_required:
    /// false` for a client whose logout tokens name only `sub`, or `"client_id": "my-api"`
    /// to choose the id (a provider.mjs extension: the API's audience can be configured
    /// before its URL is known; an id already taken is refused). Panics unless 201.
    pub async fn register_client_with(&self, metadata: Value) -> RegisteredClient {
        let mut body = json!({
            "redirect_uris": [self.admin_redirect_uri()],
            "grant_types": ["authorization_code"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "client_secret_basic",
        });
        let fields = body.as_object_mut().unwrap();
        for (k, v) in metadata
            .as_object()
            .expect("metadata must be a JSON object")
        {
            if v.is_null() {
                fields.remove(k);
            } else {
                fields.insert(k.clone(), v.clone());
            }
        }
        let url = format!("{}/reg", self.issuer());
        let res = self
            .http()
            .post(&url)
            .json(&body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {url}: {e}"));
        let status = res.status();
        let text_body = res.text().await.expect("body");
        assert_eq!(status, 201, "POST {url} {body}: {text_body}");
        let metadata: Value = serde_json::from_str(&text_body).expect("registration is JSON");
        RegisteredClient {
            client_id: text(&metadata, "client_id"),
            client_secret: text(&metadata, "client_secret"),
            metadata,
        }
    }

    /// `GET /admin/login`: `sub` logs in to `client` through the genuine authorization
    /// code flow (resource [`RESOURCE`], scope `users:read`) in a NEW browser session,
    /// which the provider keeps: pass [`ProviderLogin::handle`] to
    /// [`end_session`](Self::end_session) or [`login_again`](Self::login_again).
    pub async fn login(&self, client: &RegisteredClient, sub: &str) -> ProviderLogin {
        login_of(
            &admin_get(
                self,
                "login",
                &[("client_id", &client.client_id), ("sub", sub)],
            )
            .await,
        )
    }

    /// Single sign-on: the same browser session logs in to `client` too (no login screen,
    /// only the new client's consent; same `sub`, a `sid` of its own). After an
    /// [`end_session`](Self::end_session) this is a fresh login with a new `sid`.
    pub async fn login_again(
        &self,
        session: &ProviderSession,
        client: &RegisteredClient,
    ) -> ProviderLogin {
        let params = [
            ("client_id", client.client_id.as_str()),
            ("handle", &session.0),
        ];
        login_of(&admin_get(self, "login", &params).await)
    }

    /// `GET /admin/end_session`: the genuine RP-initiated logout of that browser session
    /// ("Yes, sign me out" on the provider's confirm page, `id_token_hint` = the last
    /// login's ID token). The whole provider session ends and the provider POSTs a
    /// logout token to the `backchannel_logout_uri` of EVERY client of the session,
    /// waiting for each receiver's answer before it answers.
    pub async fn end_session(&self, session: &ProviderSession) -> EndedSession {
        ended_of(&admin_get(self, "end_session", &[("handle", &session.0)]).await)
    }

    /// The logout of one client only ("No, stay signed in" on the confirm page,
    /// `id_token_hint` = `client`'s ID token): only `client` is told (its `sid`), the
    /// provider session and the other clients' logins stay.
    pub async fn end_client_session(
        &self,
        session: &ProviderSession,
        client: &RegisteredClient,
    ) -> EndedSession {
        let params = [
            ("handle", session.0.as_str()),
            ("client_id", &client.client_id),
            ("logout", "no"),
        ];
        ended_of(&admin_get(self, "end_session", &params).await)
    }
}

fn header_kid(token: &str) -> String {
    jwt_header(token)["kid"]
        .as_str()
        .expect("kid in header")
        .to_owned()
}

#[tokio::test]
async fn discovery_names_the_exact_issuer_and_jwks_uri() {
    let op = OidcProvider::start(&[TestKey::generate("k1")]).await;
    let d = op.discovery().await;
    assert_eq!(d["issuer"], json!(op.issuer()));
    assert!(!op.issuer().ends_with('/'));
    assert_eq!(d["jwks_uri"], json!(op.jwks_url()));
    assert_eq!(d["token_endpoint"], json!(op.token_url()));
    assert!(
        d["grant_types_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("client_credentials")),
        "{d}"
    );
    eprintln!("provider ready in {:?}", op.last_start());
}

#[tokio::test]
async fn access_token_is_an_at_jwt_for_the_resource_signed_by_a_published_key() {
    let op = OidcProvider::start(&[TestKey::generate("k1")]).await;
    let token = op.client_credentials_token("users:read", RESOURCE).await;

    let header = jwt_header(&token);
    assert_eq!(header["typ"], "at+jwt", "{header}");
    assert_eq!(header["alg"], "RS256", "{header}");
    assert_eq!(header["kid"], "k1", "{header}");

    let jwks = op.jwks().await;
    assert_eq!(jwks_kids(&jwks), ["k1"]);
    let claims = verify_rs256_with_jwks(&token, &jwks).expect("signed by a published key");

    assert_eq!(claims["aud"], RESOURCE, "{claims}");
    assert_eq!(claims["iss"], json!(op.issuer()), "{claims}");
    assert_eq!(claims["scope"], "users:read", "{claims}");
    assert_eq!(claims["client_id"], CLIENT_ID, "{claims}");
    assert_eq!(claims["sub"], CLIENT_ID, "{claims}");
    assert!(claims["jti"].as_str().is_some_and(|j| !j.is_empty()));
    let (iat, exp) = (
        claims["iat"].as_u64().unwrap(),
        claims["exp"].as_u64().unwrap(),
    );
    assert_eq!(exp - iat, DEFAULT_ACCESS_TOKEN_TTL, "{claims}");
    // exactly these claims, nothing else (what the external-issuer code will see)
    let mut names: Vec<&str> = claims
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "aud",
            "client_id",
            "exp",
            "iat",
            "iss",
            "jti",
            "scope",
            "sub"
        ]
    );
}

#[tokio::test]
async fn scopes_are_limited_to_the_resource_and_audience_follows_the_resource() {
    let op = OidcProvider::start(&[TestKey::generate("k1")]).await;
    let token = op
        .client_credentials_token("users:read admin unknown:scope", "urn:other:api")
        .await;
    let claims = jwt_claims(&token);
    assert_eq!(claims["aud"], "urn:other:api");
    assert_eq!(claims["scope"], "users:read admin");

    // without a resource indicator the provider answers with an opaque token
    let (status, body) = op.client_credentials_response("users:read", "").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["access_token"].as_str().unwrap().matches('.').count(),
        0,
        "{body}"
    );

    // a wrong secret is refused
    let res = op
        .http()
        .post(op.token_url())
        .basic_auth(CLIENT_ID, Some("wrong"))
        .form(&[("grant_type", "client_credentials"), ("resource", RESOURCE)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn access_token_lifetime_is_configurable() {
    let options = ProviderOptions {
        access_token_ttl: Some(5),
        ..Default::default()
    };
    let op = OidcProvider::start_with(&[TestKey::generate("k1")], options).await;
    let claims = jwt_claims(&op.client_credentials_token("users:read", RESOURCE).await);
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
        5
    );
}

#[tokio::test]
async fn jwks_and_discovery_requests_are_counted() {
    let op = OidcProvider::start(&[TestKey::generate("k1")]).await;
    assert_eq!(op.jwks_requests().await, 0);
    assert_eq!(op.discovery_requests().await, 0);

    op.client_credentials_token("users:read", RESOURCE).await;
    op.id_token().await;
    assert_eq!(op.jwks_requests().await, 0, "tokens do not touch the JWKS");

    op.jwks().await;
    assert_eq!(op.jwks_requests().await, 1);
    op.jwks().await;
    op.discovery().await;
    let stats = op.stats().await;
    assert_eq!(stats["jwks_requests"], 2, "{stats}");
    assert_eq!(stats["discovery_requests"], 1, "{stats}");
}

#[tokio::test]
async fn jwks_cache_control_is_absent_by_default_and_configurable() {
    let op = OidcProvider::start(&[TestKey::generate("k1")]).await;
    let res = op.http().get(op.jwks_url()).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers().get("cache-control"), None);
    assert_eq!(
        res.headers()["content-type"],
        "application/jwk-set+json; charset=utf-8"
    );
    drop(op);

    let options = ProviderOptions {
        jwks_max_age: Some(30),
        ..Default::default()
    };
    let op = OidcProvider::start_with(&[TestKey::generate("k1")], options).await;
    let res = op.http().get(op.jwks_url()).send().await.unwrap();
    assert_eq!(res.headers()["cache-control"], "public, max-age=30");
}

#[tokio::test]
async fn restart_with_a_rotated_key_set_keeps_the_issuer_and_signs_with_the_new_key() {
    let k1 = TestKey::generate("k1");
    let k2 = TestKey::generate("k2");
    let mut op = OidcProvider::start(std::slice::from_ref(&k1)).await;
    let (port, issuer) = (op.port(), op.issuer());
    let old = op.client_credentials_token("users:read", RESOURCE).await;
    assert_eq!(header_kid(&old), "k1");
    op.jwks().await;

    // rotation: new key first, old key still published
    op.restart(&[k2.clone(), k1.clone()]).await;
    assert_eq!((op.port(), op.issuer()), (port, issuer.clone()));
    assert_eq!(op.jwks_requests().await, 0, "a restart resets the counters");
    let new = op.client_credentials_token("users:read", RESOURCE).await;
    assert_eq!(header_kid(&new), "k2");
    assert_eq!(jwt_claims(&new)["iss"], json!(issuer));
    let jwks = op.jwks().await;
    assert_eq!(jwks_kids(&jwks), ["k2", "k1"]);
    assert_eq!(
        jwks["keys"][0],
        k2.public_jwk(),
        "published exactly as expected"
    );
    verify_rs256_with_jwks(&new, &jwks).expect("new token verifies");
    verify_rs256_with_jwks(&old, &jwks).expect("old token still verifies");
    assert_eq!(op.id_token().await.split('.').count(), 3);
    assert_eq!(header_kid(&op.id_token().await), "k2");

    // retirement: the old key is gone
    op.restart(std::slice::from_ref(&k2)).await;
    let jwks = op.jwks().await;
    assert_eq!(jwks_kids(&jwks), ["k2"]);
    assert_eq!(
        verify_rs256_with_jwks(&old, &jwks),
        Err("kid k1 not in the JWKS".to_owned())
    );
}

#[tokio::test]
async fn stop_refuses_connections_and_restart_answers_again() {
    let k1 = TestKey::generate("k1");
    let mut op = OidcProvider::start(std::slice::from_ref(&k1)).await;
    op.jwks().await;
    op.stop().await;
    assert!(!op.is_running());
    let err = op
        .http()
        .get(op.jwks_url())
        .send()
        .await
        .expect_err("nobody listens after stop");
    assert!(err.is_connect(), "{err:?}");
    op.stop().await; // idempotent

    op.restart(std::slice::from_ref(&k1)).await;
    assert!(op.is_running());
    assert_eq!(jwks_kids(&op.jwks().await), ["k1"]);
    let token = op.client_credentials_token("users:write", RESOURCE).await;
    assert_eq!(jwt_claims(&token)["scope"], "users:write");
}

#[tokio::test]
async fn id_token_is_a_real_provider_id_token_for_the_client() {
    let op = OidcProvider::start(&[TestKey::generate("k1")]).await;
    let id = op.id_token().await;
    let header = jwt_header(&id);
    assert_eq!(header["alg"], "RS256", "{header}");
    assert_eq!(header["kid"], "k1", "{header}");
    assert_ne!(header["typ"], "at+jwt", "{header}");
    let claims = verify_rs256_with_jwks(&id, &op.jwks().await).expect("signed by k1");
    assert_eq!(claims["aud"], CLIENT_ID, "{claims}");
    assert_eq!(claims["iss"], json!(op.issuer()), "{claims}");
    assert_eq!(claims["sub"], "test-user", "{claims}");
    assert!(claims["nonce"].is_string(), "{claims}");
    assert_eq!(claims.get("scope"), None, "{claims}");
    assert_eq!(claims.get("client_id"), None, "{claims}");
    assert_eq!(jwt_claims(&op.id_token_for("alice").await)["sub"], "alice");
}

#[tokio::test]
async fn forged_tokens_use_the_provider_keys() {
    let op = OidcProvider::start(&[TestKey::generate("k1")]).await;
    let key = op.signing_key();
    let jwks = op.jwks().await;

    let claims = op.provider_like_claims("admin", RESOURCE);
    let forged = key.sign(&claims, &json!({}));
    assert_eq!(
        jwt_header(&forged),
        json!({"alg": "RS256", "typ": "at+jwt", "kid": "k1"})
    );
    assert_eq!(verify_rs256_with_jwks(&forged, &jwks), Ok(claims.clone()));

    let no_typ = key.sign(&claims, &json!({"typ": null, "x": 1}));
    assert_eq!(
        jwt_header(&no_typ),
        json!({"alg": "RS256", "kid": "k1", "x": 1})
    );

    // alg confusion: HS256 keyed with the public PEM verifies as HMAC, not as RS256
    let hs = key.forge_hs256_with_public_key(&claims, &json!({}));
    assert_eq!(jwt_header(&hs)["alg"], "HS256");
    assert!(verify_rs256_with_jwks(&hs, &jwks).is_err());
    let (msg, sig) = hs.rsplit_once('.').unwrap();
    let secret = jsonwebtoken::DecodingKey::from_secret(key.public_pem().as_bytes());
    assert!(
        jsonwebtoken::crypto::verify(sig, msg.as_bytes(), &secret, jsonwebtoken::Algorithm::HS256)
            .unwrap()
    );

    // the provider's real tokens have exactly the claim names of provider_like_claims
    let real = jwt_claims(&op.client_credentials_token("admin", RESOURCE).await);
    let names = |v: &Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(names(&real), names(&claims));
}
