//! Logout and security events from counterparts nobody here wrote: a real OpenID Provider
//! (oidc-provider, its back-channel logout after a genuine RP-initiated logout) and SETs
//! minted by PyJWT (`scripts/ssf/set.py`). Through the library's routes, and through the
//! quickstart: two instances sharing Redis, a sign-out at the provider refused by both
//! within a second (delay printed; `--nocapture`).

#![cfg(feature = "oidc")]

use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use axum_token_auth::trust::Issuer;
use axum_token_auth::trust::events::SecurityEvents;
use axum_token_auth::{Claims, TokenAuth};
use serde_json::{Value, json};

use crate::common::oidc::{OidcProvider, RESOURCE, TestKey, jwt_claims, unique};
use crate::common::{builder, now, spawn_server};
use crate::examples::spawn_quickstart;
use crate::security_events::Client;
use crate::set_minter::{SetKey, SetMinter, Tamper, events, subject};

async fn status(http: &reqwest::Client, url: &str, token: &str) -> u16 {
    http.get(url)
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn post_logout(http: &reqwest::Client, base: &str, token: &str) -> (u16, Value) {
    let (status, _, body) = Client::new(base.to_owned()).with(http).logout(token).await;
    (status, body)
}

async fn push(http: &reqwest::Client, base: &str, set: &str) -> (u16, Value) {
    let (status, _, body) = Client::new(base.to_owned()).with(http).push(set).await;
    (status, body)
}

/// An API trusting `op` (discovery), its logout receiver registered at `op` as a client
/// whose logout tokens name `client_id`; serving `/me` and the receivers.
async fn api_for(op: &OidcProvider) -> (String, crate::oidc_harness::RegisteredClient, TokenAuth) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let client = op
        .register_client(&format!("{base}/oidc/backchannel-logout"))
        .await;
    let auth = builder()
        .trust(
            Issuer::discover(op.issuer())
                .audience(RESOURCE)
                .client_id(&client.client_id),
        )
        .build()
        .unwrap();
    assert!(auth.await_ready(Duration::from_secs(10)).await);
    let app = Router::new()
        .route("/me", get(|c: Claims| async move { c.sub.clone() }))
        .layer(auth.layer())
        .merge(auth.web().security_event_routes());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, client, auth)
}

#[tokio::test]
async fn a_sign_out_at_the_provider_refuses_that_sessions_tokens() {
    let key = TestKey::generate("k1");
    let op = OidcProvider::start(std::slice::from_ref(&key)).await;
    let (base, client, _auth) = api_for(&op).await;
    let http = reqwest::Client::new();
    let me = format!("{base}/me");
    let alice = op.login(&client, "alice").await;
    let elsewhere = op.login(&client, "alice").await; // another browser, another sid
    let sid = alice.sid.clone().expect("a sid");
    assert_eq!(jwt_claims(&alice.access_token)["sid"], sid.as_str());
    assert_ne!(elsewhere.sid.as_deref(), Some(sid.as_str()));
    for t in [&alice.access_token, &elsewhere.access_token] {
        assert_eq!(status(&http, &me, t).await, 200);
    }
    // The ID token (aud = our client id) is no access token here.
    assert_eq!(status(&http, &me, &alice.id_token).await, 401);

    let ended = op.end_session(&alice.handle).await;
    let ours: Vec<_> = ended
        .deliveries
        .iter()
        .filter(|d| d.client_id == client.client_id)
        .collect();
    assert_eq!(ours.len(), 1, "{:?}", ended.deliveries);
    assert_eq!(ours[0].error, None, "our receiver answered 200");
    assert_eq!(ours[0].sid.as_deref(), Some(sid.as_str()));
    assert_eq!(status(&http, &me, &alice.access_token).await, 401);
    assert_eq!(status(&http, &me, &elsewhere.access_token).await, 200);
}

#[tokio::test]
async fn forged_replayed_or_misaddressed_logout_tokens_of_the_provider_are_400() {
    let key = TestKey::generate("k1");
    let op = OidcProvider::start(std::slice::from_ref(&key)).await;
    let (base, client, _auth) = api_for(&op).await;
    let http = reqwest::Client::new();
    let me = format!("{base}/me");
    let bob = op.login(&client, "bob").await;
    let sid = bob.sid.clone().unwrap();
    assert_eq!(status(&http, &me, &bob.access_token).await, 200);
    // Logout tokens shaped as the provider's (header and claims observed in provider.mjs),
    // minted by PyJWT with the provider's own key, or broken.
    let mut minter = SetMinter::start(&SetKey::from_test_key(&key));
    let header = json!({"typ": "logout+jwt"});
    let claims = |extra: Value| {
        let mut c = json!({"iss": op.issuer(), "aud": client.client_id, "iat": now(),
            "exp": now() + 120, "jti": unique("lt"), "sub": "bob", "sid": sid,
            "events": {events::BACKCHANNEL_LOGOUT: {}}});
        for (k, v) in extra.as_object().unwrap() {
            c[k] = v.clone();
        }
        c
    };
    let cases = [
        (
            "another key, the provider's kid",
            minter.mint_tampered(&header, &claims(json!({})), Tamper::WrongKey),
        ),
        (
            "alg none",
            minter.mint_tampered(&header, &claims(json!({})), Tamper::AlgNone),
        ),
        (
            "HS256 keyed with the public key",
            minter.mint_tampered(&header, &claims(json!({})), Tamper::Hs256WithPublicKey),
        ),
        (
            "a flipped signature",
            minter.mint_tampered(&header, &claims(json!({})), Tamper::Signature),
        ),
        (
            "a nonce",
            minter.mint(&header, &claims(json!({"nonce": "abc"}))),
        ),
        (
            "another audience",
            minter.mint(&header, &claims(json!({"aud": "another-client"}))),
        ),
        (
            "another issuer",
            minter.mint(&header, &claims(json!({"iss": "https://evil.example"}))),
        ),
    ];
    for (what, token) in &cases {
        let (code, body) = post_logout(&http, &base, token).await;
        assert_eq!(code, 400, "{what}: {body}");
        assert_eq!(body["error"], "invalid_request", "{what}");
        assert_eq!(status(&http, &me, &bob.access_token).await, 200, "{what}");
    }
    // Minted as the provider mints them, it is taken; the same again is a replay.
    let genuine = minter.mint(&header, &claims(json!({})));
    assert_eq!(post_logout(&http, &base, &genuine).await.0, 200);
    assert_eq!(status(&http, &me, &bob.access_token).await, 401);
    assert_eq!(post_logout(&http, &base, &genuine).await.0, 400);
}

#[tokio::test]
async fn pyjwt_sets_do_what_the_table_says_and_bad_ones_are_refused() {
    const IDP: &str = "https://transmitter.example";
    const AUD: &str = "https://orders.example.com";
    let key = SetKey::generate("ES256", "t1");
    let jwks: jsonwebtoken::jwk::JwkSet = serde_json::from_value(key.jwks()).unwrap();
    let auth = builder()
        .trust(Issuer::jwks(IDP, &jwks).audience("orders-api"))
        .security_events(SecurityEvents::new().ssf_audience(AUD))
        .build()
        .unwrap();
    let app = Router::new()
        .route("/me", get(|c: Claims| async move { c.sub.clone() }))
        .layer(auth.layer())
        .merge(auth.web().security_event_routes());
    let base = format!("http://{}", spawn_server(app).await);
    let me = format!("{base}/me");
    let http = reqwest::Client::new();
    let mut minter = SetMinter::start(&key);
    // Access tokens of the transmitter, by PyJWT too.
    let mut access = |sub: &str, sid: Option<&str>, iat: u64| {
        let mut c = json!({"iss": IDP, "sub": sub, "aud": "orders-api", "iat": iat,
            "exp": now() + 600, "jti": unique("at")});
        if let Some(s) = sid {
            c["sid"] = json!(s);
        }
        minter.mint(&json!({"typ": "at+jwt"}), &c)
    };
    let users: Vec<(String, String, String)> = (0..5)
        .map(|i| {
            let u = unique(&format!("u{i}"));
            let old = access(&u, Some("s-old"), now() - 200);
            let other = access(&format!("{u}-bystander"), None, now() - 200);
            (u, old, other)
        })
        .collect();
    let session_user = unique("s");
    let in_session = access(&session_user, Some("sess-1"), now() - 200);
    let other_session = access(&session_user, Some("sess-2"), now() - 200);
    let claims_user = access("claims-user", None, now() - 200);
    let set = |m: &mut SetMinter, event: &str, subject: Value, top: bool| {
        let mut payload = json!({"event_timestamp": now() - 100});
        let mut c = json!({"iss": IDP, "aud": AUD, "iat": now(), "jti": unique("set")});
        if top {
            c["sub_id"] = subject;
        } else {
            payload["subject"] = subject;
        }
        c["events"] = json!({ event: payload });
        m.mint(&json!({}), &c)
    };
    for (i, event) in [
        events::CAEP_CREDENTIAL_CHANGE,
        events::RISC_ACCOUNT_DISABLED,
        events::RISC_ACCOUNT_PURGED,
        events::RISC_SESSIONS_REVOKED,
        events::CAEP_SESSION_REVOKED,
    ]
    .iter()
    .enumerate()
    {
        let (user, old, other) = &users[i];
        assert_eq!(status(&http, &me, old).await, 200);
        let t = set(&mut minter, event, subject::iss_sub(IDP, user), i % 2 == 0);
        assert_eq!(push(&http, &base, &t).await.0, 202, "{event}");
        assert_eq!(status(&http, &me, old).await, 401, "{event}");
        assert_eq!(status(&http, &me, other).await, 200, "{event}");
    }
    let t = set(
        &mut minter,
        events::CAEP_SESSION_REVOKED,
        subject::complex(
            subject::iss_sub(IDP, &session_user),
            subject::opaque("sess-1"),
        ),
        true,
    );
    assert_eq!(push(&http, &base, &t).await.0, 202);
    assert_eq!(status(&http, &me, &in_session).await, 401);
    assert_eq!(status(&http, &me, &other_session).await, 200);
    for event in [
        events::CAEP_TOKEN_CLAIMS_CHANGE,
        events::CAEP_ASSURANCE_LEVEL_CHANGE,
    ] {
        let t = set(
            &mut minter,
            event,
            subject::iss_sub(IDP, "claims-user"),
            true,
        );
        assert_eq!(push(&http, &base, &t).await.0, 202, "{event}");
        assert_eq!(status(&http, &me, &claims_user).await, 200, "{event}");
    }
    let t = set(
        &mut minter,
        events::RISC_ACCOUNT_DISABLED,
        subject::email("x@example.com"),
        true,
    );
    assert_eq!(push(&http, &base, &t).await.0, 202);

    // Refused, changing nothing.
    let victim = &other_session;
    let c = json!({"iss": IDP, "aud": AUD, "iat": now(), "jti": unique("set"),
        "sub_id": subject::iss_sub(IDP, &session_user),
        "events": {events::CAEP_CREDENTIAL_CHANGE: {}}});
    let cases = [
        (
            "another key",
            minter.mint_tampered(&json!({}), &c, Tamper::WrongKey),
            "invalid_key",
        ),
        (
            "alg none",
            minter.mint_tampered(&json!({}), &c, Tamper::AlgNone),
            "invalid_key",
        ),
        (
            "a flipped signature",
            minter.mint_tampered(&json!({}), &c, Tamper::Signature),
            "invalid_key",
        ),
        (
            "another audience",
            minter.mint(&json!({}), &{
                let mut x = c.clone();
                x["aud"] = json!("https://else.example");
                x
            }),
            "invalid_audience",
        ),
        (
            "another issuer",
            minter.mint(&json!({}), &{
                let mut x = c.clone();
                x["iss"] = json!("https://evil.example");
                x
            }),
            "invalid_issuer",
        ),
        (
            "no typ",
            minter.mint(&json!({"typ": null}), &c),
            "invalid_request",
        ),
    ];
    for (what, t, err) in &cases {
        let (code, body) = push(&http, &base, t).await;
        assert_eq!(
            (code, body["err"].as_str()),
            (400, Some(*err)),
            "{what}: {body}"
        );
        assert_eq!(status(&http, &me, victim).await, 200, "{what}");
    }
    let once = minter.mint(&json!({}), &c);
    assert_eq!(push(&http, &base, &once).await.0, 202);
    assert_eq!(status(&http, &me, victim).await, 401);
    let (code, body) = push(&http, &base, &once).await;
    assert_eq!(
        (code, body["err"].as_str()),
        (400, Some("invalid_request")),
        "replayed"
    );
}

#[cfg(feature = "redis")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quickstart_refuses_a_provider_signed_out_user_on_every_instance_within_a_second() {
    let key = TestKey::generate("k1");
    let op = OidcProvider::start(std::slice::from_ref(&key)).await;
    let client_id = unique("orders-api");
    let redis = std::env::var("REDIS_URL").expect("REDIS_URL: run through scripts/test.sh");
    let env = |client_id: &str| {
        vec![
            ("STORE", "redis".to_owned()),
            ("REDIS_URL", redis.clone()),
            ("OIDC_ISSUER", op.issuer()),
            ("OIDC_AUDIENCE", RESOURCE.to_owned()),
            ("OIDC_CLIENT_ID", client_id.to_owned()),
        ]
    };
    let (_a, a) = spawn_quickstart(&env(&client_id)).await;
    let (_b, b) = spawn_quickstart(&env(&client_id)).await;
    // The provider knows instance a as the client's logout receiver.
    let client = op
        .register_client_with(json!({
            "client_id": client_id,
            "backchannel_logout_uri": format!("{a}/oidc/backchannel-logout"),
        }))
        .await;
    let http = reqwest::Client::new();
    let carol = op.login(&client, "carol").await;
    let dave = op.login(&client, "dave").await;
    for base in [&a, &b] {
        // The quickstart fetches the provider's keys in the background: wait for them.
        let t0 = Instant::now();
        while status(&http, &format!("{base}/me"), &carol.access_token).await != 200 {
            assert!(
                t0.elapsed() < Duration::from_secs(10),
                "{base} never accepted the token"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(
            status(&http, &format!("{base}/me"), &dave.access_token).await,
            200
        );
    }
    let ended = op.end_session(&carol.handle).await;
    let t0 = Instant::now();
    assert!(
        ended
            .deliveries
            .iter()
            .any(|d| d.client_id == client_id && d.error.is_none()),
        "{:?}",
        ended.deliveries
    );
    for base in [&a, &b] {
        while status(&http, &format!("{base}/me"), &carol.access_token).await == 200 {
            assert!(
                t0.elapsed() < Duration::from_secs(1),
                "{base} still accepts a signed-out user's token after 1 s"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        println!(
            "quickstart over redis: provider sign-out refused by {} after {:?} (from the provider's answer)",
            if *base == a {
                "the receiving instance"
            } else {
                "the other instance"
            },
            t0.elapsed()
        );
        assert_eq!(
            status(&http, &format!("{base}/me"), &dave.access_token).await,
            200
        );
    }
}

/// The quickstart's `POST /ssf/events` on the memory store and PostgreSQL (Redis: the
/// sign-out test above): SETs addressed to `RESOURCE_URL` by default, or to
/// `SSF_AUDIENCE`, from the issuer of `JWKS_URL` + `JWKS_ISSUER`, minted by PyJWT.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quickstart_takes_pushed_sets_for_its_audience_on_every_store() {
    const IDP: &str = "https://transmitter.example";
    let key = SetKey::generate("RS256", "q1");
    let jwks = key.jwks();
    let jwks_app = Router::new().route("/jwks", get(move || async move { axum::Json(jwks) }));
    let jwks_url = format!("http://{}/jwks", spawn_server(jwks_app).await);
    let mut minter = SetMinter::start(&key);
    let mut stores = vec![vec![("STORE", "memory".to_owned())]];
    if let Ok(url) = std::env::var("DATABASE_URL") {
        stores.push(vec![
            ("STORE", "postgres".to_owned()),
            ("DATABASE_URL", url),
        ]);
    }
    assert!(
        cfg!(not(feature = "postgres")) || stores.len() == 2,
        "DATABASE_URL: run through scripts/test.sh"
    );
    for store in stores {
        for ssf_audience in [None, Some("urn:ssf:receiver")] {
            let mut env = store.clone();
            env.extend([
                ("JWKS_URL", jwks_url.clone()),
                ("JWKS_ISSUER", IDP.to_owned()),
                ("OIDC_AUDIENCE", "orders-api".to_owned()),
            ]);
            if let Some(a) = ssf_audience {
                env.push(("SSF_AUDIENCE", a.to_owned()));
            }
            let (_child, base) = spawn_quickstart(&env).await;
            let audience = ssf_audience.map_or_else(|| base.clone(), str::to_owned);
            let what = format!("{:?}, SSF_AUDIENCE {ssf_audience:?}", store[0].1);
            let user = unique("u");
            let token = minter.mint(
                &json!({"typ": "at+jwt"}),
                &json!({"iss": IDP, "sub": user, "aud": "orders-api", "iat": now() - 200,
                    "exp": now() + 600, "jti": unique("at")}),
            );
            let http = reqwest::Client::new();
            let me = format!("{base}/me");
            let t0 = Instant::now();
            while status(&http, &me, &token).await != 200 {
                assert!(
                    t0.elapsed() < Duration::from_secs(10),
                    "{what}: never accepted"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let set = |m: &mut SetMinter, aud: &str| {
                m.mint(
                    &json!({}),
                    &json!({"iss": IDP, "aud": aud, "iat": now(), "jti": unique("set"),
                        "sub_id": subject::iss_sub(IDP, &user),
                        "events": {events::RISC_ACCOUNT_DISABLED: {}}}),
                )
            };
            let (code, body) =
                push(&http, &base, &set(&mut minter, "https://elsewhere.example")).await;
            assert_eq!(
                (code, body["err"].as_str()),
                (400, Some("invalid_audience")),
                "{what}"
            );
            assert_eq!(status(&http, &me, &token).await, 200, "{what}");
            let (code, body) = push(&http, &base, &set(&mut minter, &audience)).await;
            assert_eq!((code, &body), (202, &Value::Null), "{what}");
            assert_eq!(status(&http, &me, &token).await, 401, "{what}");
        }
    }
}
