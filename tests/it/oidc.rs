//! External issuers against a real OpenID Provider (oidc-provider on loopback, started
//! per test by `tests/it/common/oidc.rs`; `scripts/test.sh` installs it): discovery, live
//! JWKS, key rotation at the provider, the unknown-`kid` flood, the provider down and
//! back, and forged tokens.
#![cfg(feature = "oidc")]

use crate::common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use axum_token_auth::trust::{Issuer, KeySetSource, KeySetState};
use axum_token_auth::{
    AuthError, Claims, RequireScope, ScopeGuardLayer, TokenAuth, token::InvalidToken,
};
use common::oidc::{OidcProvider, RESOURCE, TestKey, unique};
use common::*;
use http::StatusCode;
use serde_json::json;

fn issuer(op: &OidcProvider) -> Issuer {
    Issuer::discover(op.issuer())
        .audience(RESOURCE)
        .refetch_interval(Duration::from_secs(30))
        .retry_interval(Duration::from_millis(200))
}

fn authority(issuer: Issuer) -> TokenAuth {
    builder().trust(issuer).build().expect("authority builds")
}

fn router(auth: &TokenAuth) -> Router {
    Router::new()
        .route(
            "/me",
            get(|c: Claims| async move { format!("{} {}", c.sub, c.scope) }),
        )
        .route(
            "/users",
            get(|_: RequireScope<UsersRead>| async { "users" }),
        )
        .merge(
            Router::new()
                .route("/admin", get(|| async { "admin" }))
                .route_layer(ScopeGuardLayer::all(["admin"]).unwrap()),
        )
        .layer(auth.layer())
}

async fn status(app: &Router, path: &str, token: &str) -> StatusCode {
    send_get(app, path, Some(token)).await.status()
}

#[tokio::test]
async fn a_provider_access_token_is_accepted_with_its_scopes() {
    let op = OidcProvider::start(&[TestKey::generate("k1")]).await;
    let auth = authority(issuer(&op));
    assert!(auth.await_ready(Duration::from_secs(10)).await);
    let app = router(&auth);
    let t = op.client_credentials_token("users:read", RESOURCE).await;
    let body = ok_body(send_get(&app, "/me", Some(&t)).await).await;
    assert_eq!(body, "test-client users:read");
    assert_eq!(status(&app, "/users", &t).await, StatusCode::OK);
    assert_eq!(status(&app, "/admin", &t).await, StatusCode::FORBIDDEN);
    let admin = op.client_credentials_token("admin", RESOURCE).await;
    assert_eq!(status(&app, "/admin", &admin).await, StatusCode::OK);
    assert_eq!(op.discovery_requests().await, 1, "discovery once");
    assert_eq!(op.jwks_requests().await, 1, "one JWKS fetch for all of it");
}

#[tokio::test]
async fn wrong_audience_opaque_and_id_tokens_are_refused() {
    let op = OidcProvider::start(&[TestKey::generate("k1")]).await;
    let auth = authority(issuer(&op));
    assert!(auth.await_ready(Duration::from_secs(10)).await);
    let app = router(&auth);
    let other = op
        .client_credentials_token("users:read", "urn:other:api")
        .await;
    assert_refused(
        send_get(&app, "/me", Some(&other)).await,
        AuthError::InvalidToken(InvalidToken::WrongAudience),
    )
    .await;
    // The provider's ID token: same issuer and key, audience = the client id.
    let id = op.id_token().await;
    assert_refused(
        send_get(&app, "/me", Some(&id)).await,
        AuthError::InvalidToken(InvalidToken::WrongAudience),
    )
    .await;
    // Even an API that (wrongly) lists the client id as an audience refuses ID tokens
    // when it requires RFC 9068 access tokens.
    let strict = authority(issuer(&op).audience("test-client").require_at_jwt());
    assert!(strict.await_ready(Duration::from_secs(10)).await);
    let r = refusal(send_get(&router(&strict), "/me", Some(&id)).await).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{r:?}");
}

#[tokio::test]
async fn forged_tokens_are_refused() {
    let key = TestKey::generate("k1");
    let op = OidcProvider::start(std::slice::from_ref(&key)).await;
    let auth = authority(issuer(&op));
    assert!(auth.await_ready(Duration::from_secs(10)).await);
    let app = router(&auth);
    let claims = op.provider_like_claims("admin", RESOURCE);
    // The provider's own key signs fine (sanity), ...
    let genuine = key.sign(&claims, &json!({}));
    assert_eq!(status(&app, "/admin", &genuine).await, StatusCode::OK);
    // ... HS256 keyed with its public key does not, ...
    let confused = key.forge_hs256_with_public_key(&claims, &json!({}));
    assert_refused(
        send_get(&app, "/admin", Some(&confused)).await,
        AuthError::InvalidToken(InvalidToken::AlgorithmMismatch),
    )
    .await;
    // ... nor does another provider's key claiming this issuer.
    let other = TestKey::generate("k-other");
    let op_b = OidcProvider::start(std::slice::from_ref(&other)).await;
    let forged = other.sign(&claims, &json!({}));
    assert_refused(
        send_get(&app, "/admin", Some(&forged)).await,
        AuthError::InvalidToken(InvalidToken::UnknownKey),
    )
    .await;
    // And a token of issuer B verified under B's own trust never passes for A's.
    let both = builder()
        .trust(issuer(&op))
        .trust(issuer(&op_b))
        .build()
        .unwrap();
    assert!(both.await_ready(Duration::from_secs(10)).await);
    let under_a_kid = other.sign(&claims, &json!({"kid": "k1"}));
    assert_refused(
        send_get(&router(&both), "/admin", Some(&under_a_kid)).await,
        AuthError::InvalidToken(InvalidToken::BadSignature),
    )
    .await;
}

#[tokio::test]
async fn a_key_rotation_at_the_provider_is_picked_up_without_restart() {
    let k1 = TestKey::generate("k1");
    let k2 = TestKey::generate("k2");
    let mut op = OidcProvider::start(std::slice::from_ref(&k1)).await;
    let auth =
        authority(issuer(&op).refresh_bounds(Duration::from_secs(1), Duration::from_secs(1)));
    assert!(auth.await_ready(Duration::from_secs(10)).await);
    let app = router(&auth);
    let old = op.client_credentials_token("users:read", RESOURCE).await;
    assert_eq!(status(&app, "/users", &old).await, StatusCode::OK);

    // Rotate: k2 signs, k1 is still published.
    op.restart(&[k2.clone(), k1.clone()]).await;
    let rotated_at = Instant::now();
    let new = op.client_credentials_token("users:read", RESOURCE).await;
    assert_eq!(common::oidc::jwt_header(&new)["kid"], json!("k2"));
    // The unknown kid causes one refetch. If a regular refresh hit the provider while it
    // restarted, the issuer is "failing" and the first answer is a fast 503 while that
    // refetch runs in the background: never a 401.
    loop {
        match status(&app, "/users", &new).await {
            StatusCode::OK => break,
            StatusCode::SERVICE_UNAVAILABLE => {
                assert!(
                    rotated_at.elapsed() < Duration::from_secs(5),
                    "not picked up"
                )
            }
            other => panic!("the new key's token answered {other}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!(
        "rotation -> first accepted new-key token: {:?}",
        rotated_at.elapsed()
    );
    assert_eq!(
        status(&app, "/users", &old).await,
        StatusCode::OK,
        "k1 still published"
    );

    // Retire k1: within the refresh interval, old tokens stop verifying (cached or not).
    op.restart(std::slice::from_ref(&k2)).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while status(&app, "/users", &old).await == StatusCode::OK {
        assert!(Instant::now() < deadline, "retired key still accepted");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_refused(
        send_get(&app, "/users", Some(&old)).await,
        AuthError::InvalidToken(InvalidToken::UnknownKey),
    )
    .await;
    assert_eq!(status(&app, "/users", &new).await, StatusCode::OK);
}

#[tokio::test]
async fn a_burst_of_random_kids_at_once_costs_at_most_the_refetch_burst() {
    let key = TestKey::generate("k1");
    let op = OidcProvider::start(std::slice::from_ref(&key)).await;
    let auth = authority(issuer(&op));
    assert!(auth.await_ready(Duration::from_secs(10)).await);
    let app = router(&auth);
    let before = op.jwks_requests().await;
    let claims = op.provider_like_claims("users:read", RESOURCE);
    let mut tasks = Vec::new();
    for _ in 0..200 {
        let token = key.sign(&claims, &json!({ "kid": unique("random") }));
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            send_get(&app, "/users", Some(&token)).await.status()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), StatusCode::UNAUTHORIZED);
    }
    let fetched = op.jwks_requests().await - before;
    eprintln!("JWKS requests caused by 200 random kids at once: {fetched}");
    // Concurrent requests share fetches; the bucket (3 by default) bounds the rest.
    assert!(fetched <= 3, "{fetched} fetches");
    // The real key still works meanwhile.
    let good = op.client_credentials_token("users:read", RESOURCE).await;
    assert_eq!(status(&app, "/users", &good).await, StatusCode::OK);
}

/// Forged tokens with random `kid`s through `app`, one every 20 ms until aborted or
/// 10,000 are sent; returns their answers.
fn random_kid_flood(
    app: &Router,
    op: &OidcProvider,
    key: &TestKey,
) -> tokio::task::JoinHandle<Vec<StatusCode>> {
    let (app, claims, key) = (
        app.clone(),
        op.provider_like_claims("users:read", RESOURCE),
        key.clone(),
    );
    tokio::spawn(async move {
        let mut answers = Vec::new();
        while answers.len() < 10_000 {
            let token = key.sign(&claims, &json!({ "kid": unique("random") }));
            answers.push(status(&app, "/users", &token).await);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        answers
    })
}

#[tokio::test]
async fn a_rotation_right_after_a_random_kid_flood_is_picked_up_within_5_s() {
    let k1 = TestKey::generate("k1");
    let k2 = TestKey::generate("k2");
    let mut op = OidcProvider::start(std::slice::from_ref(&k1)).await;
    // The defaults: no refetch or retry knob set.
    let auth = authority(Issuer::discover(op.issuer()).audience(RESOURCE));
    assert!(auth.await_ready(Duration::from_secs(10)).await);
    let app = router(&auth);
    // An attacker floods random kids (50/s) before, during and after the rotation: it
    // keeps the unknown-kid budget spent, and its fetches fail while the provider
    // restarts (so the issuer is "failing", and a new kid is a 503 for a while).
    let flood = random_kid_flood(&app, &op, &k1);
    tokio::time::sleep(Duration::from_secs(1)).await;
    // The provider rotates: k2 signs, k1 is still published.
    op.restart(&[k2.clone(), k1.clone()]).await;
    let rotated_at = Instant::now();
    let new = op.client_credentials_token("users:read", RESOURCE).await;
    assert_eq!(common::oidc::jwt_header(&new)["kid"], json!("k2"));
    let mut refused = Vec::new();
    let delay = loop {
        match status(&app, "/users", &new).await {
            StatusCode::OK => break rotated_at.elapsed(),
            s @ (StatusCode::UNAUTHORIZED | StatusCode::SERVICE_UNAVAILABLE) => refused.push(s),
            other => panic!("the new key's token answered {other}"),
        }
        assert!(
            rotated_at.elapsed() < Duration::from_secs(5),
            "rotation not picked up within 5 s during a random-kid flood ({} refusals: {:?}...)",
            refused.len(),
            &refused[..refused.len().min(5)]
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let fetches = op.jwks_requests().await;
    flood.abort();
    let answers = flood.await.unwrap_err();
    assert!(answers.is_cancelled());
    eprintln!(
        "rotation during a random-kid flood -> first accepted new-key token: {delay:?} \
         (provider restart took {:?}; {} refusals of the new token before: {} x 401, {} x 503; \
         {fetches} JWKS fetches since the restart)",
        op.last_start(),
        refused.len(),
        refused
            .iter()
            .filter(|s| **s == StatusCode::UNAUTHORIZED)
            .count(),
        refused
            .iter()
            .filter(|s| **s == StatusCode::SERVICE_UNAVAILABLE)
            .count(),
    );
    assert_eq!(status(&app, "/users", &new).await, StatusCode::OK);
}

/// `name` from the environment, else `default`.
fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The amplification bound, measured: `FLOOD_KIDS` random kids (default 100) spread
/// evenly over `FLOOD_SECS` seconds (default 5, to keep the default run short) through a
/// real Router, counting the provider's JWKS requests. The full measurement:
/// `FLOOD_KIDS=1000 FLOOD_SECS=60 bash scripts/test.sh cargo test --all-features
/// --test oidc -- flood_spread --nocapture`.
#[tokio::test]
async fn a_random_kid_flood_spread_over_a_window_costs_the_burst_plus_one_fetch_per_interval() {
    let kids: u32 = env_or("FLOOD_KIDS", 100);
    let secs: u64 = env_or("FLOOD_SECS", 5);
    let key = TestKey::generate("k1");
    let op = OidcProvider::start(std::slice::from_ref(&key)).await;
    // The default budget: 3 at once, then one fetch per 4 s.
    let auth = authority(Issuer::discover(op.issuer()).audience(RESOURCE));
    assert!(auth.await_ready(Duration::from_secs(10)).await);
    let app = router(&auth);
    let before = op.jwks_requests().await;
    let claims = op.provider_like_claims("users:read", RESOURCE);
    let mut ticker = tokio::time::interval(Duration::from_secs(secs) / kids);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..kids {
        ticker.tick().await;
        let token = key.sign(&claims, &json!({ "kid": unique("random") }));
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            send_get(&app, "/users", Some(&token)).await.status()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), StatusCode::UNAUTHORIZED);
    }
    let elapsed = started.elapsed();
    let fetched = op.jwks_requests().await - before;
    // burst + one per started interval (+1 for the whole-second clock).
    let bound = 3 + elapsed.as_secs().div_ceil(4) + 1;
    eprintln!(
        "flood_spread: {kids} random kids over {elapsed:?} -> {fetched} JWKS fetches (bound {bound})"
    );
    assert!(fetched <= bound, "{fetched} fetches, bound {bound}");
    let good = op.client_credentials_token("users:read", RESOURCE).await;
    assert_eq!(status(&app, "/users", &good).await, StatusCode::OK);
}

#[tokio::test]
async fn provider_down_keeps_known_keys_up_to_max_stale_then_503_and_recovers() {
    let k1 = TestKey::generate("k1");
    let mut op = OidcProvider::start(std::slice::from_ref(&k1)).await;
    let auth = authority(
        issuer(&op)
            .refresh_bounds(Duration::from_secs(1), Duration::from_secs(1))
            .max_stale(Duration::from_secs(3)),
    );
    assert!(auth.await_ready(Duration::from_secs(10)).await);
    let app = router(&auth);
    let cached = op.client_credentials_token("users:read", RESOURCE).await;
    let fresh = op.client_credentials_token("users:read", RESOURCE).await;
    assert_eq!(status(&app, "/users", &cached).await, StatusCode::OK);

    let health = auth.key_sets();
    assert_eq!(health.len(), 1);
    assert_eq!(health[0].issuer, op.issuer());
    assert_eq!(health[0].source, KeySetSource::Discovery);
    assert_eq!((health[0].state, health[0].keys), (KeySetState::Fresh, 1));

    op.stop().await;
    let down = Instant::now();
    // Within max_stale: the last good set keeps verifying (new and cached tokens).
    assert_eq!(status(&app, "/users", &cached).await, StatusCode::OK);
    assert_eq!(status(&app, "/users", &fresh).await, StatusCode::OK);
    // Once a fetch has failed, the status says the set is served stale, and why.
    while auth.key_sets()[0].state == KeySetState::Fresh {
        assert!(
            down.elapsed() < Duration::from_secs(2),
            "no failed fetch seen"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let health = &auth.key_sets()[0];
    assert_eq!(health.state, KeySetState::Stale, "{health:?}");
    assert_eq!(health.last_error, Some("transport"), "{health:?}");
    assert!(health.fetches_failed >= 1 && health.state.is_serving());
    // Past it: 503 temporarily_unavailable, never 401.
    let deadline = down + Duration::from_secs(10);
    while status(&app, "/users", &cached).await == StatusCode::OK {
        assert!(Instant::now() < deadline, "stale set still trusted");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("provider down -> 503 after {:?}", down.elapsed());
    assert_eq!(auth.key_sets()[0].state, KeySetState::Expired);
    assert!(auth.key_sets()[0].stale_secs >= 3);
    assert!(
        down.elapsed() >= Duration::from_secs(2),
        "{:?}",
        down.elapsed()
    );
    let r = assert_refused(
        send_get(&app, "/users", Some(&cached)).await,
        AuthError::KeysUnavailable,
    )
    .await;
    assert_eq!(r.body["error"], "temporarily_unavailable");
    // A token with a kid we never saw cannot be checked while the provider is down:
    // 503 at once, no wait for a fetch.
    let unknown = k1.sign(
        &op_claims_like(&cached),
        &json!({ "kid": "k-new-after-rotation" }),
    );
    let asked = Instant::now();
    assert_refused(
        send_get(&app, "/users", Some(&unknown)).await,
        AuthError::KeysUnavailable,
    )
    .await;
    assert!(
        asked.elapsed() < Duration::from_millis(100),
        "{:?}",
        asked.elapsed()
    );
    // Our own tokens are not affected.
    let own = issue(&auth, "alice", &["users:read"]);
    assert_eq!(status(&app, "/users", &own).await, StatusCode::OK);

    // Back: recovery without restarting the service.
    op.restart(std::slice::from_ref(&k1)).await;
    let back = Instant::now();
    while status(&app, "/users", &cached).await != StatusCode::OK {
        assert!(back.elapsed() < Duration::from_secs(10), "no recovery");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!("provider back -> first 200 after {:?}", back.elapsed());
    let health = &auth.key_sets()[0];
    assert_eq!(
        (health.state, health.stale_secs, health.last_error),
        (KeySetState::Fresh, 0, None)
    );
}

#[tokio::test]
async fn an_issuer_never_fetched_answers_503_and_start_up_does_not_block() {
    // A provider that is not running yet.
    let op = OidcProvider::start(&[TestKey::generate("k1")]).await;
    let token = op.client_credentials_token("users:read", RESOURCE).await;
    let iss = op.issuer();
    drop(op);
    let started = Instant::now();
    let auth = authority(
        Issuer::discover(iss)
            .audience(RESOURCE)
            .retry_interval(Duration::from_millis(200)),
    );
    let app = router(&auth);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "build does not block"
    );
    assert_refused(
        send_get(&app, "/users", Some(&token)).await,
        AuthError::KeysUnavailable,
    )
    .await;
    assert!(!auth.await_ready(Duration::from_millis(500)).await);
}

#[tokio::test]
async fn provider_tokens_over_a_real_socket() {
    let op = OidcProvider::start(&[TestKey::generate("k1")]).await;
    let auth = authority(issuer(&op));
    let addr = spawn_server(router(&auth)).await;
    let token = op.client_credentials_token("users:read", RESOURCE).await;
    let client = reqwest::Client::new();
    // Not awaited ready: the first request may find the set still being fetched (503),
    // never a 401.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let res = client
            .get(format!("http://{addr}/users"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        match res.status().as_u16() {
            200 => break,
            503 => assert!(Instant::now() < deadline, "never ready"),
            other => panic!("unexpected {other}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let shared = Arc::new(client);
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let (c, t) = (Arc::clone(&shared), token.clone());
        tasks.push(tokio::spawn(async move {
            c.get(format!("http://{addr}/users"))
                .bearer_auth(t)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
}

#[tokio::test]
async fn fetches_are_bounded_in_size_and_time_and_plain_http_is_loopback_only() {
    // Size: the provider's discovery document is larger than 1 KiB.
    let op = OidcProvider::start(&[TestKey::generate("k1")]).await;
    let token = op.client_credentials_token("users:read", RESOURCE).await;
    let small = authority(issuer(&op).max_document_bytes(1024));
    assert!(!small.await_ready(Duration::from_millis(600)).await);
    assert_refused(
        send_get(&router(&small), "/users", Some(&token)).await,
        AuthError::KeysUnavailable,
    )
    .await;

    // Time: a server that accepts and never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            held.push(s);
        }
    });
    let hanging = authority(
        Issuer::jwks_url(format!("http://{addr}"), format!("http://{addr}/jwks"))
            .audience(RESOURCE)
            .fetch_timeout(Duration::from_millis(200)),
    );
    let started = Instant::now();
    assert!(!hanging.await_ready(Duration::from_millis(700)).await);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );

    // Plain http to anything but loopback is refused when the authority is built.
    let e = builder()
        .trust(Issuer::discover("http://idp.example.com").audience(RESOURCE))
        .build()
        .unwrap_err();
    assert!(e.to_string().contains("https"), "{e}");
    let e = builder()
        .trust(
            Issuer::jwks_url("https://idp.example.com", "http://idp.example.com/jwks")
                .audience(RESOURCE),
        )
        .build()
        .unwrap_err();
    assert!(e.to_string().contains("https"), "{e}");
}

#[tokio::test]
async fn an_emptied_key_set_refuses_the_issuers_tokens_401_not_503() {
    let key = TestKey::generate("k1");
    let srv = KeysServer::start().await;
    srv.serve("/jwks", json!({ "keys": [key.public_jwk()] }));
    let auth = authority(
        Issuer::jwks_url(srv.url(""), srv.url("/jwks"))
            .audience(RESOURCE)
            .refresh_bounds(Duration::from_secs(1), Duration::from_secs(1))
            .retry_interval(Duration::from_millis(200)),
    );
    assert!(auth.await_ready(Duration::from_secs(10)).await);
    let app = router(&auth);
    let token = key.sign(&server_claims(&srv), &json!({}));
    assert_eq!(status(&app, "/users", &token).await, StatusCode::OK);
    assert_eq!(
        status(&app, "/users", &token).await,
        StatusCode::OK,
        "cached"
    );

    // The provider withdraws every key: a successful fetch, not an outage. The withdrawn
    // key stops verifying (cached verdicts too) within the refresh interval, and the
    // issuer's tokens are 401 invalid_token (unknown key), never 503.
    srv.serve("/jwks", json!({ "keys": [] }));
    let withdrawn = Instant::now();
    while status(&app, "/users", &token).await == StatusCode::OK {
        assert!(
            withdrawn.elapsed() < Duration::from_secs(10),
            "still trusted"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!(
        "keys withdrawn -> first refusal after {:?}",
        withdrawn.elapsed()
    );
    for _ in 0..3 {
        assert_refused(
            send_get(&app, "/users", Some(&token)).await,
            AuthError::InvalidToken(InvalidToken::UnknownKey),
        )
        .await;
    }

    // Published again: accepted again, no restart.
    srv.serve("/jwks", json!({ "keys": [key.public_jwk()] }));
    let back = Instant::now();
    while status(&app, "/users", &token).await != StatusCode::OK {
        assert!(
            back.elapsed() < Duration::from_secs(10),
            "not trusted again"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn keys_behind_a_redirect_are_never_trusted_whatever_the_http_client() {
    let key = TestKey::generate("k1");
    let srv = KeysServer::start().await;
    // The configured JWKS URL answers 302 to another URL serving a key set.
    srv.redirect("/jwks", &srv.url("/elsewhere"));
    srv.serve("/elsewhere", json!({ "keys": [key.public_jwk()] }));
    let token = key.sign(&server_claims(&srv), &json!({}));
    // The crate's own client first: the background refetches of the authorities built
    // with redirect-following clients below go on hitting `/elsewhere` after their
    // iteration, which would make the "never follows" count flaky if it came later.
    for client in [
        None,
        // reqwest's default policy follows up to 10 redirects.
        Some(reqwest::Client::new()),
        Some(
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::limited(3))
                .build()
                .unwrap(),
        ),
    ] {
        let followed = srv.hits("/elsewhere");
        let mut issuer = Issuer::jwks_url(srv.url(""), srv.url("/jwks"))
            .audience(RESOURCE)
            .retry_interval(Duration::from_millis(200));
        if let Some(c) = client.clone() {
            issuer = issuer.http_client(c);
        }
        let auth = authority(issuer);
        assert!(
            !auth.await_ready(Duration::from_millis(800)).await,
            "a key set from a redirect target was accepted (client {client:?})"
        );
        assert!(srv.hits("/jwks") >= 1);
        // Never fetched: 503, and the token signed by the key behind the redirect never passes.
        assert_refused(
            send_get(&router(&auth), "/users", Some(&token)).await,
            AuthError::KeysUnavailable,
        )
        .await;
        if client.is_none() {
            assert_eq!(
                srv.hits("/elsewhere"),
                followed,
                "the crate's client never follows"
            );
        }
    }
}

/// Claims of an access token of [`KeysServer`]'s issuer for [`RESOURCE`].
fn server_claims(srv: &KeysServer) -> serde_json::Value {
    let now = common::now();
    json!({
        "iss": srv.url(""), "aud": RESOURCE, "sub": "svc", "jti": unique("srv"),
        "iat": now, "exp": now + 600, "scope": "users:read",
    })
}

/// A plain HTTP server on loopback for what the real provider cannot do: publish an
/// empty key set, redirect its JWKS. Each path serves a JSON document or a redirect the
/// test sets (404 otherwise), and counts its requests.
#[derive(Clone)]
struct KeysServer {
    addr: SocketAddr,
    routes: Arc<Mutex<HashMap<String, Route>>>,
    hits: Arc<Mutex<HashMap<String, u64>>>,
}

#[derive(Clone)]
enum Route {
    Json(serde_json::Value),
    Redirect(String),
}

impl KeysServer {
    async fn start() -> KeysServer {
        let routes: Arc<Mutex<HashMap<String, Route>>> = Arc::default();
        let hits: Arc<Mutex<HashMap<String, u64>>> = Arc::default();
        let (r, h) = (Arc::clone(&routes), Arc::clone(&hits));
        let app = Router::new().fallback(move |uri: http::Uri| {
            let (r, h) = (Arc::clone(&r), Arc::clone(&h));
            async move {
                use axum::response::IntoResponse;
                let path = uri.path().to_owned();
                *h.lock().unwrap().entry(path.clone()).or_default() += 1;
                let route = r.lock().unwrap().get(&path).cloned();
                match route {
                    Some(Route::Json(v)) => axum::Json(v).into_response(),
                    Some(Route::Redirect(to)) => {
                        (StatusCode::FOUND, [(http::header::LOCATION, to)]).into_response()
                    }
                    None => StatusCode::NOT_FOUND.into_response(),
                }
            }
        });
        let addr = spawn_server(app).await;
        KeysServer { addr, routes, hits }
    }

    /// `http://127.0.0.1:PORT{path}`.
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn serve(&self, path: &str, doc: serde_json::Value) {
        self.routes
            .lock()
            .unwrap()
            .insert(path.to_owned(), Route::Json(doc));
    }

    fn redirect(&self, path: &str, to: &str) {
        self.routes
            .lock()
            .unwrap()
            .insert(path.to_owned(), Route::Redirect(to.to_owned()));
    }

    fn hits(&self, path: &str) -> u64 {
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }
}

/// The claims of a real provider token, for forging a look-alike.
fn op_claims_like(token: &str) -> serde_json::Value {
    common::oidc::jwt_claims(token)
}
