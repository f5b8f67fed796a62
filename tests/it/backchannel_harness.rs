//! Smoke tests of the provider's back-channel logout harness (`tests/it/oidc_harness.rs`,
//! `BACK-CHANNEL LOGOUT` in `scripts/oidc/provider.mjs`): a plain axum listener on
//! loopback stands where the API's `POST /oidc/backchannel-logout` will be, and receives
//! what the real oidc-provider POSTs when a user's provider session ends. Nothing here
//! uses the crate's API; the logout tokens are checked with jsonwebtoken and the
//! provider's public key.
//!
//! Run with `scripts/test.sh cargo test --all-features --test it backchannel_harness::`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::routing::post;
use jsonwebtoken::{Algorithm, Validation};
use serde_json::{Value, json};

use crate::common::oidc::{
    OidcProvider, RESOURCE, TestKey, ensure_crypto_provider, jwt_claims, jwt_header,
};
use crate::oidc_harness::{BACKCHANNEL_LOGOUT_EVENT, LogoutDelivery, RegisteredClient};

/// A logout receiver on a random loopback port: records every form it is POSTed and
/// answers `status`.
struct LogoutReceiver {
    url: String,
    received: Arc<Mutex<Vec<HashMap<String, String>>>>,
    server: tokio::task::JoinHandle<()>,
}

type Received = (StatusCode, Arc<Mutex<Vec<HashMap<String, String>>>>);

async fn record(
    State((status, received)): State<Received>,
    Form(form): Form<HashMap<String, String>>,
) -> StatusCode {
    received.lock().unwrap().push(form);
    status
}

impl LogoutReceiver {
    async fn start(status: StatusCode) -> LogoutReceiver {
        let received = Arc::new(Mutex::new(Vec::new()));
        let app = Router::new()
            .route("/backchannel-logout", post(record))
            .with_state((status, received.clone()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "http://{}/backchannel-logout",
            listener.local_addr().unwrap()
        );
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        LogoutReceiver {
            url,
            received,
            server,
        }
    }

    /// The `logout_token`s received so far (each POST must carry exactly that field).
    fn logout_tokens(&self) -> Vec<String> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .map(|form| {
                assert_eq!(form.len(), 1, "only logout_token is posted: {form:?}");
                form["logout_token"].clone()
            })
            .collect()
    }
}

impl Drop for LogoutReceiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Verifies a logout token as a receiver for `client` would (signature with the
/// provider's key, `iss`, `aud`, `exp`, `iat`) and returns its claims.
fn verified_logout_token(op: &OidcProvider, client: &RegisteredClient, token: &str) -> Value {
    ensure_crypto_provider();
    let mut v = Validation::new(Algorithm::RS256);
    v.set_issuer(&[op.issuer()]);
    v.set_audience(&[&client.client_id]);
    v.set_required_spec_claims(&["iss", "aud", "exp", "iat"]);
    jsonwebtoken::decode::<Value>(token, &op.signing_key().decoding_key(), &v)
        .unwrap_or_else(|e| panic!("the logout token verifies: {e:?}: {}", jwt_claims(token)))
        .claims
}

#[tokio::test]
async fn provider_logout_posts_a_logout_token_with_the_access_tokens_sid() {
    let op = OidcProvider::start(&[TestKey::generate("k1")]).await;
    let receiver = LogoutReceiver::start(StatusCode::OK).await;
    let client = op.register_client(&receiver.url).await;
    assert_eq!(
        client.metadata["backchannel_logout_uri"],
        json!(receiver.url)
    );
    assert_eq!(client.metadata["backchannel_logout_session_required"], true);

    let login = op.login(&client, "alice").await;
    assert_eq!(login.client_id, client.client_id);
    assert_eq!(login.sub, "alice");
    let sid = login
        .sid
        .clone()
        .expect("a sid for a session-required client");
    let at = jwt_claims(&login.access_token);
    assert_eq!(jwt_header(&login.access_token)["typ"], "at+jwt");
    assert_eq!(
        at["sid"],
        json!(sid),
        "the access token carries the sid: {at}"
    );
    assert_eq!(at["sub"], "alice", "{at}");
    assert_eq!(at["aud"], RESOURCE, "{at}");
    assert_eq!(at["client_id"], json!(client.client_id), "{at}");
    let id = jwt_claims(&login.id_token);
    assert_eq!(
        id["sid"],
        json!(sid),
        "the ID token carries the same sid: {id}"
    );
    assert_eq!(id["aud"], json!(client.client_id), "{id}");
    assert!(
        receiver.logout_tokens().is_empty(),
        "nothing before the logout"
    );

    let ended = op.end_session(&login.handle).await;
    assert_eq!(
        ended.deliveries,
        [LogoutDelivery {
            client_id: client.client_id.clone(),
            sub: "alice".into(),
            sid: Some(sid.clone()),
            error: None,
        }]
    );
    assert!(
        ended.location.ends_with("/session/end/success"),
        "{}",
        ended.location
    );

    // delivered before end_session answered
    let tokens = receiver.logout_tokens();
    assert_eq!(tokens.len(), 1, "one logout token");
    let header = jwt_header(&tokens[0]);
    assert_eq!(
        header,
        json!({"alg": "RS256", "typ": "logout+jwt", "kid": "k1"}),
        "{header}"
    );
    let claims = verified_logout_token(&op, &client, &tokens[0]);
    assert_eq!(claims["iss"], json!(op.issuer()), "{claims}");
    assert_eq!(
        claims["aud"],
        json!(client.client_id),
        "aud is a string: {claims}"
    );
    assert_eq!(claims["sid"], json!(sid), "{claims}");
    assert_eq!(claims["sub"], "alice", "{claims}");
    assert_eq!(
        claims["events"],
        json!({ BACKCHANNEL_LOGOUT_EVENT: {} }),
        "{claims}"
    );
    assert!(
        claims["jti"].as_str().is_some_and(|j| !j.is_empty()),
        "{claims}"
    );
    assert_eq!(claims.get("nonce"), None, "{claims}");
    let (iat, exp) = (
        claims["iat"].as_u64().unwrap(),
        claims["exp"].as_u64().unwrap(),
    );
    assert_eq!(exp - iat, 120, "{claims}");
    let mut names: Vec<&str> = claims
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["aud", "events", "exp", "iat", "iss", "jti", "sid", "sub"]
    );

    // the ended login cannot be ended again; the same browser logs in afresh (new sid)
    let again = op.login_again(&login.handle, &client).await;
    assert_eq!(again.sub, "alice");
    assert_ne!(
        again.sid.as_deref(),
        Some(sid.as_str()),
        "a new provider session"
    );
}

#[tokio::test]
async fn single_sign_on_clients_get_their_own_sid_and_logout_reaches_each() {
    let op = OidcProvider::start(&[TestKey::generate("k1")]).await;
    let (rx_a, rx_b) = (
        LogoutReceiver::start(StatusCode::OK).await,
        LogoutReceiver::start(StatusCode::NO_CONTENT).await,
    );
    let (a, b) = (
        op.register_client(&rx_a.url).await,
        op.register_client(&rx_b.url).await,
    );
    let at_a = op.login(&a, "bob").await;
    let at_b = op.login_again(&at_a.handle, &b).await;
    assert_eq!(at_b.handle, at_a.handle);
    assert_eq!(at_b.sub, "bob", "single sign-on keeps the user");
    assert_ne!(at_a.sid, at_b.sid, "one sid per client");
    assert_eq!(jwt_claims(&at_b.access_token)["sid"], json!(at_b.sid));

    // "No, stay signed in": only b is told
    let ended = op.end_client_session(&at_a.handle, &b).await;
    assert_eq!(ended.deliveries.len(), 1, "{:?}", ended.deliveries);
    assert_eq!(ended.deliveries[0].client_id, b.client_id);
    assert_eq!(ended.deliveries[0].error, None, "204 is accepted too");
    assert!(rx_a.logout_tokens().is_empty());
    let tokens = rx_b.logout_tokens();
    assert_eq!(tokens.len(), 1);
    assert_eq!(
        verified_logout_token(&op, &b, &tokens[0])["sid"],
        json!(at_b.sid)
    );

    // "Yes, sign me out": the provider session ends, a (still in it) is told
    let ended = op.end_session(&at_a.handle).await;
    assert_eq!(ended.deliveries.len(), 1, "{:?}", ended.deliveries);
    let tokens = rx_a.logout_tokens();
    assert_eq!(tokens.len(), 1);
    let claims = verified_logout_token(&op, &a, &tokens[0]);
    assert_eq!(claims["sid"], json!(at_a.sid), "{claims}");
    assert_eq!(rx_b.logout_tokens().len(), 1, "b was already signed out");
}

#[tokio::test]
async fn a_refusing_receiver_is_reported_and_a_client_without_sid_gets_sub_only_tokens() {
    let op = OidcProvider::start(&[TestKey::generate("k1")]).await;
    let refusing = LogoutReceiver::start(StatusCode::BAD_REQUEST).await;
    let sub_only = LogoutReceiver::start(StatusCode::OK).await;
    let c1 = op.register_client(&refusing.url).await;
    let c2 = op
        .register_client_with(json!({
            "backchannel_logout_uri": sub_only.url,
            "backchannel_logout_session_required": false,
        }))
        .await;
    let l1 = op.login(&c1, "carol").await;
    let l2 = op.login_again(&l1.handle, &c2).await;
    assert_eq!(l2.sid, None);
    assert_eq!(jwt_claims(&l2.access_token).get("sid"), None);
    assert_eq!(jwt_claims(&l2.id_token).get("sid"), None);

    let ended = op.end_session(&l1.handle).await;
    let mut deliveries = ended.deliveries;
    deliveries.sort_by_key(|d| d.client_id == c2.client_id);
    assert_eq!(deliveries.len(), 2, "{deliveries:?}");
    assert_eq!(deliveries[0].client_id, c1.client_id);
    let error = deliveries[0].error.as_deref().expect("the 400 is reported");
    assert!(error.contains("400"), "{error}");
    assert_eq!(refusing.logout_tokens().len(), 1, "posted once, no retry");
    assert_eq!(deliveries[1].error, None);

    let tokens = sub_only.logout_tokens();
    assert_eq!(tokens.len(), 1);
    let claims = verified_logout_token(&op, &c2, &tokens[0]);
    assert_eq!(claims["sub"], "carol", "{claims}");
    assert_eq!(claims.get("sid"), None, "{claims}");
    assert_eq!(claims["events"], json!({ BACKCHANNEL_LOGOUT_EVENT: {} }));
}

#[tokio::test]
async fn the_static_test_client_is_unchanged_and_discovery_advertises_back_channel_logout() {
    let op = OidcProvider::start(&[TestKey::generate("k1")]).await;
    let d = op.discovery().await;
    assert_eq!(d["backchannel_logout_supported"], true, "{d}");
    assert_eq!(d["backchannel_logout_session_supported"], true, "{d}");
    assert_eq!(
        d["registration_endpoint"],
        json!(format!("{}/reg", op.issuer())),
        "{d}"
    );
    assert!(d["end_session_endpoint"].is_string(), "{d}");
    // test-client has no logout URI: its user tokens carry no sid
    let token = op.user_token("alice", None, None).await;
    assert_eq!(jwt_claims(&token).get("sid"), None);

    // a registration may choose its client_id, once; a static client's id is never replaced
    let receiver = LogoutReceiver::start(StatusCode::OK).await;
    let chosen = op
        .register_client_with(json!({
            "client_id": "my-api",
            "backchannel_logout_uri": receiver.url,
            "backchannel_logout_session_required": true,
        }))
        .await;
    assert_eq!(chosen.client_id, "my-api");
    let login = op.login(&chosen, "dave").await;
    assert_eq!(jwt_claims(&login.id_token)["aud"], "my-api");
    for taken in ["my-api", "test-client"] {
        let res = op
            .http()
            .post(format!("{}/reg", op.issuer()))
            .json(&json!({
                "client_id": taken,
                "redirect_uris": [op.admin_redirect_uri()],
                "backchannel_logout_uri": receiver.url,
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{taken}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"], "invalid_client_metadata", "{body}");
    }
    assert_eq!(
        jwt_claims(&op.id_token().await)["aud"],
        "test-client",
        "test-client still works"
    );
}
