//! DPoP (RFC 9449) at the layer and on the session routes, over a real socket: every
//! check of a proof as its own refusal, bound tokens as `Bearer`, nonces, bound refresh.

use crate::common;

use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use axum_token_auth::store::memory::MemoryRefreshStore;
use axum_token_auth::testing::DpopKey;
use axum_token_auth::token::Binding;
use axum_token_auth::trust::dpop::{DpopPolicy, DpopSettings};
use axum_token_auth::{Claims, Sessions, TokenAuth, TokenRequest};
use common::*;
use reqwest::StatusCode;
use serde_json::Value;

struct Server {
    base: String,
    auth: TokenAuth,
    sessions: Sessions,
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

async fn me(claims: Claims, binding: Binding) -> String {
    match binding {
        Binding::Dpop { jkt } => format!("{}:dpop:{jkt}", claims.sub),
        Binding::Bearer => format!("{}:bearer", claims.sub),
        other => format!("{}:{other:?}", claims.sub),
    }
}

/// A server on a free port, its handle built with DPoP for that origin; `/me` behind
/// the layer (handle policy), `/strict` requiring DPoP, `/auth/refresh` the route.
async fn server(configure: impl FnOnce(DpopSettings) -> DpopSettings) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let base = format!("http://{addr}");
    let auth = builder()
        .dpop(configure(DpopSettings::new(base.clone())))
        .build()
        .unwrap();
    let sessions = Sessions::builder(auth.clone(), MemoryRefreshStore::new())
        .build()
        .unwrap();
    let app = Router::new()
        .route("/me", get(me).post(me))
        .layer(auth.layer())
        .merge(
            Router::new()
                .route("/strict", get(me))
                .layer(auth.layer().dpop(DpopPolicy::Required)),
        )
        .route("/auth/refresh", sessions.refresh_route())
        .route("/nested/me", get(me).layer(auth.layer()));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Server {
        base,
        auth,
        sessions,
    }
}

fn bound_token(auth: &TokenAuth, key: &DpopKey) -> String {
    auth.issue_access(&TokenRequest::new("alice").confirmation(key.confirmation()))
        .unwrap()
        .into_string()
}

async fn get_dpop(s: &Server, path: &str, token: &str, proof: &str) -> reqwest::Response {
    client()
        .get(format!("{}{path}", s.base))
        .header("authorization", format!("DPoP {token}"))
        .header("dpop", proof)
        .send()
        .await
        .unwrap()
}

/// The response's error code and its `WWW-Authenticate` values.
async fn refusal_of(res: reqwest::Response) -> (StatusCode, String, Vec<String>) {
    let status = res.status();
    let challenges = res
        .headers()
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let body: Value = res.json().await.unwrap();
    (
        status,
        body["error"].as_str().unwrap().to_owned(),
        challenges,
    )
}

#[tokio::test]
async fn a_bound_token_with_its_proof_is_accepted_and_handlers_see_the_key() {
    let s = server(|d| d).await;
    for key in [DpopKey::es256(), DpopKey::ed25519()] {
        let token = bound_token(&s.auth, &key);
        let url = format!("{}/me", s.base);
        let proof = key.proof("GET", &url).access_token(&token).build();
        let res = get_dpop(&s, "/me", &token, &proof).await;
        assert_eq!(res.status(), 200);
        assert_eq!(
            res.text().await.unwrap(),
            format!("alice:dpop:{}", key.thumbprint())
        );
        // Cached verdict, new proof: still checked, still accepted.
        let again = key.proof("GET", &url).access_token(&token).build();
        assert_eq!(get_dpop(&s, "/me", &token, &again).await.status(), 200);
    }
}

#[tokio::test]
async fn every_check_of_a_proof_is_its_own_refusal() {
    let s = server(|d| d).await;
    let key = DpopKey::es256();
    let other = DpopKey::es256();
    let token = bound_token(&s.auth, &key);
    let url = format!("{}/me", s.base);
    let now = now();
    let fresh = || key.proof("GET", &url).access_token(&token);
    let replayed = fresh().build();
    assert_eq!(get_dpop(&s, "/me", &token, &replayed).await.status(), 200);
    let cases: Vec<(&str, String, &str)> = vec![
        ("replayed", replayed, "invalid_dpop_proof"),
        (
            "wrong htu",
            key.proof("GET", &format!("{}/other", s.base))
                .access_token(&token)
                .build(),
            "invalid_dpop_proof",
        ),
        (
            "wrong host",
            key.proof("GET", "http://evil.example/me")
                .access_token(&token)
                .build(),
            "invalid_dpop_proof",
        ),
        (
            "wrong htm",
            key.proof("POST", &url).access_token(&token).build(),
            "invalid_dpop_proof",
        ),
        (
            "wrong ath",
            key.proof("GET", &url).access_token("another.token").build(),
            "invalid_dpop_proof",
        ),
        (
            "no ath",
            key.proof("GET", &url).build(),
            "invalid_dpop_proof",
        ),
        (
            "stale",
            fresh().iat(now - 3600).build(),
            "invalid_dpop_proof",
        ),
        (
            "future",
            fresh().iat(now + 3600).build(),
            "invalid_dpop_proof",
        ),
        ("alg none", fresh().unsigned().build(), "invalid_dpop_proof"),
        (
            "HS256",
            fresh().hmac(b"a-secret-the-client-chose").build(),
            "invalid_dpop_proof",
        ),
        (
            "private key in jwk",
            fresh().leak_private_key().build(),
            "invalid_dpop_proof",
        ),
        (
            "signed by another key than its jwk",
            fresh().signed_by(&other).build(),
            "invalid_dpop_proof",
        ),
        (
            "typ JWT",
            fresh().header("typ", "JWT").build(),
            "invalid_dpop_proof",
        ),
        (
            "no jti",
            fresh().without_claim("jti").build(),
            "invalid_dpop_proof",
        ),
        (
            "crit",
            fresh().header("crit", serde_json::json!(["x"])).build(),
            "invalid_dpop_proof",
        ),
        (
            "too large",
            fresh().claim("pad", "x".repeat(9000)).build(),
            "invalid_dpop_proof",
        ),
        (
            "another key (valid proof, token bound elsewhere)",
            other.proof("GET", &url).access_token(&token).build(),
            "invalid_token",
        ),
    ];
    for (what, proof, code) in cases {
        let (status, error, challenges) =
            refusal_of(get_dpop(&s, "/me", &token, &proof).await).await;
        assert_eq!(status, 401, "{what}");
        assert_eq!(error, code, "{what}");
        assert!(
            challenges.iter().any(|c| c
                .starts_with("DPoP algs=\"ES256 EdDSA Ed25519 PS256 RS256\"")
                && c.contains(&format!("error=\"{code}\""))),
            "{what}: {challenges:?}"
        );
    }
    // Still usable with a good proof: nothing above consumed or broke it.
    assert_eq!(
        get_dpop(&s, "/me", &token, &fresh().build()).await.status(),
        200
    );
}

#[tokio::test]
async fn proof_header_must_be_one_and_present() {
    let s = server(|d| d).await;
    let key = DpopKey::es256();
    let token = bound_token(&s.auth, &key);
    let url = format!("{}/me", s.base);
    let res = client()
        .get(&url)
        .header("authorization", format!("DPoP {token}"))
        .send()
        .await
        .unwrap();
    let (status, error, _) = refusal_of(res).await;
    assert_eq!(
        (status.as_u16(), error.as_str()),
        (401, "invalid_dpop_proof")
    );
    let res = client()
        .get(&url)
        .header("authorization", format!("DPoP {token}"))
        .header("dpop", key.proof("GET", &url).access_token(&token).build())
        .header("dpop", key.proof("GET", &url).access_token(&token).build())
        .send()
        .await
        .unwrap();
    let (status, error, _) = refusal_of(res).await;
    assert_eq!(
        (status.as_u16(), error.as_str()),
        (401, "invalid_dpop_proof")
    );
}

#[tokio::test]
async fn a_bound_token_as_bearer_is_refused_and_a_bearer_token_as_dpop_too() {
    let s = server(|d| d).await;
    let key = DpopKey::es256();
    let token = bound_token(&s.auth, &key);
    let url = format!("{}/me", s.base);
    // RFC 9449 §7.2: even with a valid proof beside it.
    let res = client()
        .get(&url)
        .bearer_auth(&token)
        .header("dpop", key.proof("GET", &url).access_token(&token).build())
        .send()
        .await
        .unwrap();
    let (status, error, challenges) = refusal_of(res).await;
    assert_eq!((status.as_u16(), error.as_str()), (401, "invalid_token"));
    assert_eq!(challenges.len(), 2, "{challenges:?}");
    assert!(challenges[0].starts_with("Bearer realm="), "{challenges:?}");
    assert!(
        challenges[1].contains("error=\"invalid_token\""),
        "{challenges:?}"
    );
    // An unbound token with the DPoP scheme and a valid proof: refused by default.
    let plain = issue(&s.auth, "bob", &[]);
    let proof = key.proof("GET", &url).access_token(&plain).build();
    let (status, error, _) = refusal_of(get_dpop(&s, "/me", &plain, &proof).await).await;
    assert_eq!((status.as_u16(), error.as_str()), (401, "invalid_token"));
    // ... and as a bearer token it is fine where bearer tokens are allowed.
    let res = client().get(&url).bearer_auth(&plain).send().await.unwrap();
    assert_eq!(res.text().await.unwrap(), "bob:bearer");
    // A route requiring DPoP refuses it, and says only DPoP is accepted.
    let res = client()
        .get(format!("{}/strict", s.base))
        .bearer_auth(&plain)
        .send()
        .await
        .unwrap();
    let (status, error, challenges) = refusal_of(res).await;
    assert_eq!((status.as_u16(), error.as_str()), (401, "invalid_token"));
    assert_eq!(challenges.len(), 1, "{challenges:?}");
    assert!(challenges[0].starts_with("DPoP algs="), "{challenges:?}");
    // A bare 401 names both schemes where both are accepted.
    let res = client().get(&url).send().await.unwrap();
    assert_eq!(res.headers().get_all("www-authenticate").iter().count(), 2);
}

#[tokio::test]
async fn unbound_tokens_with_a_proof_can_be_allowed_for_a_migration() {
    let s = server(|d| d.accept_unbound_tokens_with_proof(true)).await;
    let key = DpopKey::es256();
    let plain = issue(&s.auth, "bob", &[]);
    let url = format!("{}/me", s.base);
    let proof = key.proof("GET", &url).access_token(&plain).build();
    let res = get_dpop(&s, "/me", &plain, &proof).await;
    assert_eq!(res.status(), 200);
    // Its proof is still checked (and replay refused).
    let (status, error, _) = refusal_of(get_dpop(&s, "/me", &plain, &proof).await).await;
    assert_eq!(
        (status.as_u16(), error.as_str()),
        (401, "invalid_dpop_proof")
    );
}

#[tokio::test]
async fn htu_is_the_public_origin_and_the_original_path_never_the_host_header() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let auth = builder()
        .dpop(DpopSettings::new("https://api.example.com/v1"))
        .build()
        .unwrap();
    let app = Router::new().nest(
        "/inner",
        Router::new().route("/me", get(me)).layer(auth.layer()),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let key = DpopKey::es256();
    let token = bound_token(&auth, &key);
    let send = |htu: &str, host: &str| {
        let proof = key.proof("GET", htu).access_token(&token).build();
        client()
            .get(format!("http://{addr}/inner/me"))
            .header("host", host)
            .header("authorization", format!("DPoP {token}"))
            .header("dpop", proof)
            .send()
    };
    let ok = send("https://api.example.com/v1/inner/me", "internal:8080")
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    // The Host header names the attacker's origin: irrelevant.
    let res = send("http://evil.example/inner/me", "evil.example")
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    // The path inside the nest is not the request's path.
    let res = send("https://api.example.com/v1/me", "api.example.com")
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn nonces_are_asked_for_handed_out_and_accepted_by_another_instance() {
    let secret = b"a-nonce-secret-shared-by-every-instance";
    let s = server(|d| d.nonces(secret)).await;
    let key = DpopKey::es256();
    let token = bound_token(&s.auth, &key);
    let url = format!("{}/me", s.base);
    let res = get_dpop(
        &s,
        "/me",
        &token,
        &key.proof("GET", &url).access_token(&token).build(),
    )
    .await;
    assert_eq!(res.status(), 401);
    let nonce = res.headers()["dpop-nonce"].to_str().unwrap().to_owned();
    let (_, error, challenges) = refusal_of(res).await;
    assert_eq!(error, "use_dpop_nonce");
    assert!(
        challenges[1].contains("error=\"use_dpop_nonce\""),
        "{challenges:?}"
    );
    let proof = key
        .proof("GET", &url)
        .access_token(&token)
        .nonce(&nonce)
        .build();
    assert_eq!(get_dpop(&s, "/me", &token, &proof).await.status(), 200);
    let forged = key
        .proof("GET", &url)
        .access_token(&token)
        .nonce("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
        .build();
    let (_, error, _) = refusal_of(get_dpop(&s, "/me", &token, &forged).await).await;
    assert_eq!(error, "use_dpop_nonce");
    // Another instance with the same secret (and its own replay cache) accepts it.
    let other = server(|d| d.nonces(secret)).await;
    let token2 = bound_token(&other.auth, &key);
    let url2 = format!("{}/me", other.base);
    let proof = key
        .proof("GET", &url2)
        .access_token(&token2)
        .nonce(&nonce)
        .build();
    assert_eq!(get_dpop(&other, "/me", &token2, &proof).await.status(), 200);
}

#[tokio::test]
async fn a_bound_session_refreshes_only_with_its_key_and_another_key_ends_it() {
    let s = server(|d| d).await;
    let key = DpopKey::es256();
    let login = s
        .sessions
        .login(
            &TokenRequest::new("alice").confirmation(key.confirmation()),
            None,
        )
        .await
        .unwrap();
    assert_eq!(login.pair.to_response().token_type, "DPoP");
    let refresh_url = format!("{}/auth/refresh", s.base);
    let refresh = |token: String, proof: Option<String>| {
        let mut req = client()
            .post(&refresh_url)
            .json(&serde_json::json!({ "refresh_token": token }));
        if let Some(p) = proof {
            req = req.header("dpop", p);
        }
        req.send()
    };
    // Without a proof: refused, the session goes on.
    let res = refresh(login.pair.refresh.as_str().to_owned(), None)
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    // With its key: rotated, still bound.
    let res = refresh(
        login.pair.refresh.as_str().to_owned(),
        Some(key.proof("POST", &refresh_url).build()),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["token_type"], "DPoP");
    let access = body["access_token"].as_str().unwrap().to_owned();
    let next = body["refresh_token"].as_str().unwrap().to_owned();
    let me_url = format!("{}/me", s.base);
    let proof = key.proof("GET", &me_url).access_token(&access).build();
    assert_eq!(get_dpop(&s, "/me", &access, &proof).await.status(), 200);
    // A thief with the refresh token and their own key: refused, and the session ends.
    let thief = DpopKey::ed25519();
    let res = refresh(
        next.clone(),
        Some(thief.proof("POST", &refresh_url).build()),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 401);
    let res = refresh(next, Some(key.proof("POST", &refresh_url).build()))
        .await
        .unwrap();
    assert_eq!(res.status(), 401, "the session was revoked");
    let proof = key.proof("GET", &me_url).access_token(&access).build();
    assert_eq!(
        get_dpop(&s, "/me", &access, &proof).await.status(),
        401,
        "its access token was revoked too"
    );
}

#[tokio::test]
async fn without_dpop_configured_the_scheme_is_no_credential_and_bound_tokens_are_refused() {
    let auth = auth();
    let app = Router::new()
        .route("/me", post(me).get(me))
        .layer(auth.layer());
    let addr = spawn_server(app).await;
    let key = DpopKey::es256();
    let token = bound_token(&auth, &key);
    let url = format!("http://{addr}/me");
    let proof = key.proof("GET", &url).access_token(&token).build();
    let res = client()
        .get(&url)
        .header("authorization", format!("DPoP {token}"))
        .header("dpop", &proof)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(res.headers()["www-authenticate"], "Bearer realm=\"api\"");
    let res = client().get(&url).bearer_auth(&token).send().await.unwrap();
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "invalid_token");
}

#[tokio::test]
async fn validate_refuses_a_bound_token_unless_the_caller_proves_the_key() {
    use axum_token_auth::NoCustomClaims;
    use axum_token_auth::token::{InvalidToken, TokenKind};
    use axum_token_auth::trust::{TokenCheck, VerifyError};
    let auth = auth();
    let key = DpopKey::es256();
    let token = bound_token(&auth, &key);
    assert_eq!(
        auth.validate::<NoCustomClaims>(&token, TokenCheck::ACCESS)
            .await
            .unwrap_err(),
        VerifyError::InvalidToken(InvalidToken::UnprovenBinding)
    );
    assert_eq!(
        auth.verify_offline::<NoCustomClaims>(&token, TokenKind::Access)
            .unwrap_err(),
        VerifyError::InvalidToken(InvalidToken::UnprovenBinding)
    );
    let claims = auth
        .validate::<NoCustomClaims>(&token, TokenCheck::ACCESS.with_binding_proven())
        .await
        .unwrap();
    assert_eq!(claims.cnf.unwrap().jkt(), Some(key.thumbprint()));
}

#[tokio::test]
async fn a_cnf_naming_no_method_we_check_is_refused_not_taken_as_bearer() {
    let auth = auth();
    let app = Router::new().route("/me", get(me)).layer(auth.layer());
    let plain = raw_hs256(&wire_claims("alice", ""));
    assert_eq!(send_get(&app, "/me", Some(&plain)).await.status(), 200);
    let mut claims = wire_claims("alice", "");
    claims["cnf"] = serde_json::json!({"jwk": {"kty": "EC"}});
    let token = raw_hs256(&claims);
    let res = send_get(&app, "/me", Some(&token)).await;
    assert_eq!(res.status(), 401);
    let mut claims = wire_claims("alice", "");
    claims["cnf"] = serde_json::json!({"jkt": "not-a-thumbprint"});
    let res = send_get(&app, "/me", Some(&raw_hs256(&claims))).await;
    assert_eq!(res.status(), 401);
}

/// Two instances behind one origin (each its own handle, connection, layer and cache),
/// configured by `a` and `b`: one proof sent to the first, then to the second; the
/// second's answer (status, error code).
async fn replay_on_second_instance(
    a: impl FnOnce(DpopSettings) -> DpopSettings,
    b: impl FnOnce(DpopSettings) -> DpopSettings,
) -> (u16, Option<String>) {
    let origin = "https://api.example.com";
    let mut addrs = Vec::new();
    let mut auths = Vec::new();
    for configure in [
        Box::new(a) as Box<dyn FnOnce(DpopSettings) -> DpopSettings>,
        Box::new(b),
    ] {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let auth = builder()
            .dpop(configure(DpopSettings::new(origin)))
            .build()
            .unwrap();
        addrs.push(listener.local_addr().unwrap());
        let app = Router::new().route("/me", get(me)).layer(auth.layer());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        auths.push(auth);
    }
    let key = DpopKey::es256();
    let token = bound_token(&auths[0], &key);
    let proof = key
        .proof("GET", &format!("{origin}/me"))
        .access_token(&token)
        .build();
    let send = |addr: std::net::SocketAddr| {
        client()
            .get(format!("http://{addr}/me"))
            .header("authorization", format!("DPoP {token}"))
            .header("dpop", &proof)
            .send()
    };
    assert_eq!(send(addrs[0]).await.unwrap().status(), 200);
    let res = send(addrs[1]).await.unwrap();
    let status = res.status().as_u16();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    (status, body["error"].as_str().map(str::to_owned))
}

/// A proof accepted by one instance is a replay on another sharing the store.
async fn assert_second_instance_refuses_a_replay(
    a: impl FnOnce(DpopSettings) -> DpopSettings + 'static,
    b: impl FnOnce(DpopSettings) -> DpopSettings + 'static,
) {
    assert_eq!(
        replay_on_second_instance(a, b).await,
        (401, Some("invalid_dpop_proof".to_owned()))
    );
}

#[cfg(feature = "redis")]
#[tokio::test]
async fn a_proof_replayed_on_another_instance_sharing_redis_is_refused() {
    use axum_token_auth::store::redis::RedisStore;
    let url = std::env::var("REDIS_URL").expect("REDIS_URL: run through scripts/test.sh");
    let a = RedisStore::connect(&url).await.unwrap();
    let b = RedisStore::connect(&url).await.unwrap();
    assert_second_instance_refuses_a_replay(|d| d.replay_store(a), |d| d.replay_store(b)).await;
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn a_proof_replayed_on_another_instance_sharing_postgres_is_refused() {
    use axum_token_auth::store::postgres::PostgresStore;
    let url = std::env::var("DATABASE_URL").expect("DATABASE_URL: run through scripts/test.sh");
    let a = PostgresStore::connect(&url).await.unwrap();
    a.migrate().await.unwrap();
    let b = PostgresStore::connect(&url).await.unwrap();
    assert_second_instance_refuses_a_replay(|d| d.replay_store(a), |d| d.replay_store(b)).await;
}

#[tokio::test]
async fn without_a_shared_store_each_instance_remembers_only_its_own_proofs() {
    // The default (in memory) is per instance: documented, and shown here so the two
    // tests above prove something the default would not do.
    assert_eq!(replay_on_second_instance(|d| d, |d| d).await, (200, None));
}

#[tokio::test]
async fn a_replay_cache_that_is_down_answers_503_and_nothing_is_lost_when_it_is_back() {
    use std::sync::Arc;
    use std::sync::atomic::Ordering;
    let store = Arc::new(common::switchable::SwitchableReplay::default());
    let s = server(|d| d.replay_store_shared(store.clone())).await;
    let key = DpopKey::es256();
    let token = bound_token(&s.auth, &key);
    let url = format!("{}/me", s.base);
    let accepted = key.proof("GET", &url).access_token(&token).build();
    assert_eq!(get_dpop(&s, "/me", &token, &accepted).await.status(), 200);
    store.down.store(true, Ordering::SeqCst);
    let proof = key.proof("GET", &url).access_token(&token).build();
    let res = get_dpop(&s, "/me", &token, &proof).await;
    assert_eq!(res.status(), 503);
    assert_eq!(res.headers()["retry-after"], "1");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable");
    // Back: the proof refused during the outage was not remembered (usable now), the
    // one accepted before still is (a replay).
    store.down.store(false, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(1200)).await; // the breaker's probe
    let mut ok = false;
    for _ in 0..30 {
        let fresh = key.proof("GET", &url).access_token(&token).build();
        if get_dpop(&s, "/me", &token, &fresh).await.status() == 200 {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        ok,
        "DPoP requests are accepted again once the store is back"
    );
    assert_eq!(get_dpop(&s, "/me", &token, &proof).await.status(), 200);
    let (status, error, _) = refusal_of(get_dpop(&s, "/me", &token, &accepted).await).await;
    assert_eq!(
        (status.as_u16(), error.as_str()),
        (401, "invalid_dpop_proof")
    );
}

#[tokio::test]
async fn token_requests_answer_proof_errors_as_an_authorization_server_does() {
    // RFC 9449 §5, §8: 400 `invalid_dpop_proof` / `use_dpop_nonce` with `DPoP-Nonce`,
    // no `WWW-Authenticate`.
    let s = server(|d| d.nonces(b"a-nonce-secret-shared-by-every-instance")).await;
    let key = DpopKey::es256();
    let login = s
        .sessions
        .login(
            &TokenRequest::new("alice").confirmation(key.confirmation()),
            None,
        )
        .await
        .unwrap();
    let url = format!("{}/auth/refresh", s.base);
    let refresh = |proof: String| {
        client()
            .post(&url)
            .header("dpop", proof)
            .json(&serde_json::json!({ "refresh_token": login.pair.refresh.as_str() }))
            .send()
    };
    let res = refresh(key.proof("POST", &url).build()).await.unwrap();
    assert_eq!(res.status(), 400);
    assert!(res.headers().get("www-authenticate").is_none());
    let nonce = res.headers()["dpop-nonce"].to_str().unwrap().to_owned();
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "use_dpop_nonce");
    let res = refresh(key.proof("GET", &url).nonce(&nonce).build())
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "invalid_dpop_proof");
    let res = refresh(key.proof("POST", &url).nonce(&nonce).build())
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn a_copied_bound_token_cannot_log_its_user_out() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let auth = builder()
        .dpop(DpopSettings::new(base.clone()))
        .build()
        .unwrap();
    let sessions = Sessions::builder(auth.clone(), MemoryRefreshStore::new())
        .build()
        .unwrap();
    let app = Router::new()
        .route("/auth/logout", sessions.logout_route())
        .route("/auth/refresh", sessions.refresh_route());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let key = DpopKey::es256();
    let login = sessions
        .login(
            &TokenRequest::new("alice").confirmation(key.confirmation()),
            None,
        )
        .await
        .unwrap();
    let logout_url = format!("{base}/auth/logout");
    let logout = |proof: Option<String>| {
        let mut req = client()
            .post(&logout_url)
            .json(&serde_json::json!({ "refresh_token": login.pair.refresh.as_str() }));
        if let Some(p) = proof {
            req = req.header("dpop", p);
        }
        req.send()
    };
    assert_eq!(logout(None).await.unwrap().status(), 401);
    let thief = DpopKey::ed25519();
    let res = logout(Some(thief.proof("POST", &logout_url).build()))
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    // The session goes on: its owner still refreshes with its key.
    assert!(
        sessions
            .list("alice")
            .await
            .unwrap()
            .iter()
            .any(|s| s.id == login.session_id)
    );
    let res = logout(Some(key.proof("POST", &logout_url).build()))
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert!(sessions.list("alice").await.unwrap().is_empty());
}

#[tokio::test]
async fn a_proof_with_the_previous_nonce_is_accepted_and_the_answer_hands_out_the_next() {
    let s = server(|d| {
        d.nonces(b"a-nonce-secret-shared-by-every-instance")
            .nonce_lifetime(Duration::from_secs(2))
    })
    .await;
    let key = DpopKey::es256();
    let token = bound_token(&s.auth, &key);
    let url = format!("{}/me", s.base);
    // Nonces live in 2-second buckets here; ask for one early in a bucket, then wait
    // for the next bucket: it is the previous one then.
    let secs = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64()
    };
    let nonce = loop {
        let into = secs() % 2.0;
        if into > 1.5 {
            tokio::time::sleep(Duration::from_secs_f64(2.05 - into)).await;
            continue;
        }
        let proof = key.proof("GET", &url).access_token(&token).build();
        let res = get_dpop(&s, "/me", &token, &proof).await;
        let nonce = res.headers()["dpop-nonce"].to_str().unwrap().to_owned();
        let left = 2.0 - secs() % 2.0;
        tokio::time::sleep(Duration::from_secs_f64(left + 0.1)).await;
        break nonce;
    };
    let proof = key
        .proof("GET", &url)
        .access_token(&token)
        .nonce(&nonce)
        .build();
    let res = get_dpop(&s, "/me", &token, &proof).await;
    assert_eq!(res.status(), 200, "{:?}", res.headers());
    let next = res.headers()["dpop-nonce"].to_str().unwrap().to_owned();
    assert_ne!(next, nonce);
    let proof = key
        .proof("GET", &url)
        .access_token(&token)
        .nonce(&next)
        .build();
    let res = get_dpop(&s, "/me", &token, &proof).await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers().get("dpop-nonce").is_none(),
        "a current nonce needs no new one"
    );
}
