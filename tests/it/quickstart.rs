//! The quickstart's login handler (examples/quickstart.rs, included as a module and
//! driven through its real `Router`): login CSRF is refused — a body that is not
//! `application/json`, or a cross-site `Origin` / `Sec-Fetch-Site` — with RFC 6750 JSON
//! answers and no cookies; a same-origin JSON login gets cookies and no token in the
//! body; `"token_delivery": "body"` gets the JSON pair and no cookies. And its migration
//! contract: a token of every legacy format set in `LEGACY_*` is accepted until
//! `LEGACY_ACCEPT_UNTIL`, and refused after it.

#[allow(dead_code, unreachable_pub)]
#[path = "../../examples/quickstart.rs"]
mod demo;
use crate::common::seeds;

use axum::body::Body;
use http::header::{CONTENT_TYPE, HOST, ORIGIN, SET_COOKIE};
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

const ALICE: &str = r#"{"username":"alice","password":"alice-password"}"#;

async fn login(headers: &[(&str, &str)], body: &str) -> (StatusCode, Vec<String>, Value) {
    let app = demo::demo_app().await.expect("the demo app builds");
    let mut req = Request::post("/auth/login").header(HOST, "localhost:3000");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = app
        .oneshot(req.body(Body::from(body.to_owned())).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let cookies = res
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (status, cookies, serde_json::from_slice(&bytes).unwrap())
}

#[tokio::test]
async fn a_cross_site_text_plain_form_cannot_log_the_victim_in() {
    // What `<form enctype="text/plain">` on evil.example sends.
    let (status, cookies, body) = login(
        &[
            (CONTENT_TYPE.as_str(), "text/plain"),
            (ORIGIN.as_str(), "https://evil.example"),
            ("sec-fetch-site", "cross-site"),
        ],
        ALICE,
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "invalid_request");
    assert!(cookies.is_empty(), "{cookies:?}");
    // JSON does not help from another site.
    for cross in [
        [(ORIGIN.as_str(), "https://evil.example")],
        [("sec-fetch-site", "cross-site")],
    ] {
        let headers = [(CONTENT_TYPE.as_str(), "application/json"), cross[0]];
        let (status, cookies, body) = login(&headers, ALICE).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert_eq!(body["error"], "invalid_request");
        assert!(cookies.is_empty(), "{cookies:?}");
    }
}

#[tokio::test]
async fn a_same_origin_json_login_sets_cookies_and_puts_no_token_in_the_body() {
    let (status, cookies, body) = login(
        &[
            (CONTENT_TYPE.as_str(), "application/json"),
            (ORIGIN.as_str(), "http://localhost:3000"),
            ("sec-fetch-site", "same-origin"),
        ],
        ALICE,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.get("access_token").is_none() && body.get("refresh_token").is_none());
    assert!(
        cookies.iter().any(|c| c.contains("refresh_token=")),
        "{cookies:?}"
    );
    // curl: no Origin, asks for the pair in the body.
    let (status, cookies, body) = login(
        &[(CONTENT_TYPE.as_str(), "application/json")],
        r#"{"username":"alice","password":"alice-password","token_delivery":"body"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["access_token"].is_string() && body["refresh_token"].is_string());
    assert!(cookies.is_empty(), "{cookies:?}");
}

#[tokio::test]
async fn unknown_paths_are_404_and_guarded_ones_401_without_a_token() {
    let app = demo::demo_app().await.expect("the demo app builds");
    for (path, expected) in [
        ("/nope", StatusCode::NOT_FOUND),
        ("/me", StatusCode::UNAUTHORIZED),
        ("/admin", StatusCode::UNAUTHORIZED),
        ("/health", StatusCode::OK),
        ("/health/keys", StatusCode::OK),
    ] {
        let req = Request::get(path).body(Body::empty()).unwrap();
        let res = app.clone().oneshot(req).await.unwrap();
        assert_eq!(res.status(), expected, "{path}");
    }
}

const SCOPED_SECRET: &str = "waddlebot-module-sdk-7Qz1-0123456789-abcdef";
const WEBTOOL_SECRET: &str = "webtool-7f3a-key-of-forty-eight-bytes-abcdefghij";
const FASTCORE_SECRET: &str = "fc-7Hq2-Vb9x-Lm4k-Zt81-Pw0s-Qe5r-Nd3y-0a6j";
const TOKEN_AUTH_SECRET: &str = "ta-Rk3v-9Wd1-Hn7c-Qp2m-Xs5e-Lb8t-Gz4u-6f0y";

/// The quickstart's environment with every `LEGACY_*` secret set.
fn legacy_env(until: String) -> impl Fn(&str) -> Option<String> {
    move |name: &str| {
        Some(match name {
            "LEGACY_SCOPED_TOKEN_SECRET" => SCOPED_SECRET.to_owned(),
            "LEGACY_WEBTOOL_SECRET" => WEBTOOL_SECRET.to_owned(),
            "LEGACY_FASTCORE_SECRET" => FASTCORE_SECRET.to_owned(),
            "LEGACY_FASTCORE_AUDIENCE" => "fastcore-client".to_owned(),
            "LEGACY_TOKEN_AUTH_SECRET" => TOKEN_AUTH_SECRET.to_owned(),
            "LEGACY_ACCEPT_UNTIL" => until.clone(),
            _ => return None,
        })
    }
}

/// One token of each format, minted by python as each system does, with its subject.
fn legacy_tokens() -> Vec<(&'static str, String, &'static str)> {
    vec![
        (
            "scoped_token_service",
            seeds::scoped_token_service(SCOPED_SECRET, "access", &["users:read"]),
            "music_module",
        ),
        (
            "webtool",
            seeds::webtool_pair(WEBTOOL_SECRET, "user123").0,
            "user123",
        ),
        (
            "fastcore",
            seeds::fastcore(FASTCORE_SECRET, "access", "user7"),
            "user7",
        ),
        (
            "token_auth",
            seeds::token_auth(TOKEN_AUTH_SECRET, json!(42), true),
            "42",
        ),
    ]
}

async fn get_me(app: &axum::Router, token: &str) -> (StatusCode, Option<String>, Value) {
    let req = Request::get("/me")
        .header(http::header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let challenge = res
        .headers()
        .get(http::header::WWW_AUTHENTICATE)
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (status, challenge, serde_json::from_slice(&bytes).unwrap())
}

#[tokio::test]
async fn every_legacy_format_is_accepted_until_legacy_accept_until() {
    let open = demo::demo_app_with(&legacy_env("2099-01-01T00:00:00Z".into()))
        .await
        .expect("the demo app builds");
    let tokens = legacy_tokens();
    for (format, token, sub) in &tokens {
        let (status, _, body) = get_me(&open, token).await;
        assert_eq!(status, StatusCode::OK, "{format}: {body}");
        assert_eq!(body["sub"], *sub, "{format}");
    }
    // The window closed a minute ago (Unix seconds this time).
    let past = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 60;
    let closed = demo::demo_app_with(&legacy_env(past.to_string()))
        .await
        .expect("the demo app builds");
    for (format, token, _) in &tokens {
        let (status, challenge, body) = get_me(&closed, token).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{format}: {body}");
        assert_eq!(body["error"], "invalid_token", "{format}");
        assert!(
            challenge.is_some_and(|c| c.starts_with("Bearer") && c.contains("invalid_token")),
            "{format}: an RFC 6750 challenge"
        );
    }
}

#[test]
fn legacy_accept_until_reads_rfc_3339() {
    for (text, secs) in [
        ("2027-01-31T00:00:00Z", Some(1_801_353_600)),
        ("2000-02-29T23:59:59.5+01:00", Some(951_865_199)),
        ("1970-01-01T00:00:00Z", Some(0)),
        ("2027-01-31", None),
        ("2027-13-01T00:00:00Z", None),
        ("2027-01-31T00:00:00", None),
    ] {
        assert_eq!(demo::rfc3339_seconds(text), secs, "{text}");
    }
}

/// The quickstart's DPoP contract: `DPOP`, `DPOP_PUBLIC_ORIGIN` (and `RESOURCE_URL`).
async fn dpop_app(mode: &'static str) -> axum::Router {
    demo::demo_app_with(&move |name: &str| match name {
        "DPOP" => Some(mode.to_owned()),
        "DPOP_PUBLIC_ORIGIN" | "RESOURCE_URL" => Some("http://quick.test".to_owned()),
        _ => None,
    })
    .await
    .expect("the demo app builds")
}

async fn call(app: &axum::Router, req: Request<Body>) -> (StatusCode, Vec<String>, Value) {
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let challenges = res
        .headers()
        .get_all(http::header::WWW_AUTHENTICATE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        challenges,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn login_req(proof: Option<&str>) -> Request<Body> {
    let mut req = Request::post("/auth/login")
        .header(HOST, "localhost:3000")
        .header(http::header::CONTENT_TYPE, "application/json");
    if let Some(p) = proof {
        req = req.header("dpop", p);
    }
    req.body(Body::from(
        r#"{"username":"alice","password":"alice-password","token_delivery":"body"}"#,
    ))
    .unwrap()
}

fn me_req(scheme: &str, token: &str, proof: Option<&str>) -> Request<Body> {
    let mut req =
        Request::get("/me").header(http::header::AUTHORIZATION, format!("{scheme} {token}"));
    if let Some(p) = proof {
        req = req.header("dpop", p);
    }
    req.body(Body::empty()).unwrap()
}

#[tokio::test]
async fn dpop_required_binds_logins_and_refuses_bearer_tokens() {
    use axum_token_auth::testing::DpopKey;
    let app = dpop_app("required").await;
    // A token request's refusal (RFC 9449 §5): 400, no challenge.
    let (status, challenges, body) = call(&app, login_req(None)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_dpop_proof"))
    );
    assert!(challenges.is_empty(), "{challenges:?}");
    let key = DpopKey::es256();
    let proof = key.proof("POST", "http://quick.test/auth/login").build();
    let (status, _, body) = call(&app, login_req(Some(&proof))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "DPoP");
    let token = body["access_token"].as_str().unwrap().to_owned();
    let proof = key
        .proof("GET", "http://quick.test/me")
        .access_token(&token)
        .build();
    let (status, _, body) = call(&app, me_req("DPoP", &token, Some(&proof))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["cnf"]["jkt"], key.thumbprint());
    let (status, challenges, _) = call(&app, me_req("Bearer", &token, None)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        challenges.iter().all(|c| c.starts_with("DPoP ")),
        "{challenges:?}"
    );
}

#[tokio::test]
async fn dpop_allowed_by_default_and_off_on_demand() {
    use axum_token_auth::testing::DpopKey;
    // Default (`allowed`): a login without a proof gets bearer tokens.
    let app = dpop_app("allowed").await;
    let (status, _, body) = call(&app, login_req(None)).await;
    assert_eq!(
        (status, body["token_type"].as_str()),
        (StatusCode::OK, Some("Bearer"))
    );
    let bearer = body["access_token"].as_str().unwrap().to_owned();
    let (status, challenges, _) = call(&app, me_req("Bearer", &bearer, None)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(challenges.is_empty());
    let (_, challenges, _) = call(&app, me_req("Bearer", "x.y.z", None)).await;
    assert_eq!(challenges.len(), 2, "{challenges:?}");
    // `off`: a proof is ignored at login, and the DPoP scheme is no credential.
    let app = dpop_app("off").await;
    let key = DpopKey::es256();
    let proof = key.proof("POST", "http://quick.test/auth/login").build();
    let (status, _, body) = call(&app, login_req(Some(&proof))).await;
    assert_eq!(
        (status, body["token_type"].as_str()),
        (StatusCode::OK, Some("Bearer"))
    );
    let token = body["access_token"].as_str().unwrap().to_owned();
    let (status, challenges, _) = call(&app, me_req("DPoP", &token, None)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        challenges,
        vec![
            "Bearer realm=\"api\", resource_metadata=\"http://quick.test/.well-known/oauth-protected-resource\""
                .to_owned()
        ]
    );
}

/// The quickstart's step-up contract (RFC 9470): `/sensitive` wants `acr` in
/// `STEP_UP_ACR` (default `mfa`) within `STEP_UP_MAX_AGE` (default 300 s). A password
/// login (`acr` `pwd`) gets the challenge naming both and the metadata; the demo second
/// factor raises the session, and a refresh keeps it raised.
#[tokio::test]
async fn sensitive_asks_for_a_second_factor_and_the_session_keeps_it() {
    let app = demo::demo_app_with(&|name: &str| {
        (name == "RESOURCE_URL").then(|| "http://quick.test".to_owned())
    })
    .await
    .unwrap();
    let (status, _, pair) = call(&app, login_req(None)).await;
    assert_eq!(status, StatusCode::OK, "{pair}");
    let sensitive = |token: &str| {
        Request::get("/sensitive")
            .header(http::header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap()
    };
    let access = pair["access_token"].as_str().unwrap();
    let (status, challenges, body) = call(&app, sensitive(access)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"], "insufficient_user_authentication");
    assert_eq!(
        challenges,
        [
            "Bearer realm=\"api\", error=\"insufficient_user_authentication\", error_description=\"a stronger or more recent authentication is required\", acr_values=\"mfa\", max_age=300, resource_metadata=\"http://quick.test/.well-known/oauth-protected-resource\"",
            // DPoP is allowed by default: its challenge sits beside, without the error.
            "DPoP algs=\"ES256 EdDSA Ed25519 PS256 RS256\", resource_metadata=\"http://quick.test/.well-known/oauth-protected-resource\""
        ]
    );
    // The password login's token passes the other routes.
    let (status, _, me) = call(&app, me_req("Bearer", access, None)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (me["acr"].as_str(), me["amr"].clone()),
        (Some("pwd"), json!(["pwd"]))
    );

    let second = |otp: &str, refresh: &str| {
        Request::post("/auth/second-factor")
            .header(CONTENT_TYPE, "application/json")
            .header("otp", otp)
            .body(Body::from(json!({ "refresh_token": refresh }).to_string()))
            .unwrap()
    };
    let refresh = pair["refresh_token"].as_str().unwrap();
    let (status, _, body) = call(&app, second("000000", refresh)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (status, _, raised) = call(&app, second(demo::DEMO_OTP, refresh)).await;
    assert_eq!(status, StatusCode::OK, "{raised}");
    let (status, _, who) = call(&app, sensitive(raised["access_token"].as_str().unwrap())).await;
    assert_eq!(status, StatusCode::OK, "{who}");
    assert_eq!(who["acr"], "mfa");
    assert_eq!(who["amr"], json!(["pwd", "otp"]));

    // A refresh keeps the second factor (never resets it, never upgrades it).
    let refresh_req = Request::post("/auth/refresh")
        .header(CONTENT_TYPE, "application/json")
        .body(Body::from(
            json!({ "refresh_token": raised["refresh_token"] }).to_string(),
        ))
        .unwrap();
    let (status, _, again) = call(&app, refresh_req).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    let (status, _, who2) = call(&app, sensitive(again["access_token"].as_str().unwrap())).await;
    assert_eq!(status, StatusCode::OK, "{who2}");
    assert_eq!(who2["auth_time"], who["auth_time"]);

    // STEP_UP_ACR=pwd: a password login is enough.
    let lenient =
        demo::demo_app_with(&|name: &str| (name == "STEP_UP_ACR").then(|| "pwd,mfa".to_owned()))
            .await
            .unwrap();
    let (_, _, pair) = call(&lenient, login_req(None)).await;
    let (status, _, _) = call(&lenient, sensitive(pair["access_token"].as_str().unwrap())).await;
    assert_eq!(status, StatusCode::OK);
}

// ---------------------------------------------------------------------------------------
// The login throttle, as the quickstart binary serves it (a real socket: `ConnectInfo`).

/// A login of an account nobody else's test uses (the throttle counts names that do not
/// exist too), from `127.0.0.<from>`.
async fn binary_login(base: &str, from: u8, user: &str, password: &str) -> reqwest::Response {
    reqwest::Client::builder()
        .local_address(std::net::IpAddr::from([127, 0, 0, from]))
        .build()
        .unwrap()
        .post(format!("{base}/auth/login"))
        .json(&json!({"username": user, "password": password, "token_delivery": "body"}))
        .send()
        .await
        .unwrap()
}

async fn assert_429(res: reqwest::Response) {
    assert_eq!(res.status().as_u16(), 429);
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&retry), "{retry}");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "slow_down");
}

#[tokio::test]
async fn the_quickstart_answers_a_sixth_wrong_password_with_429_and_retry_after() {
    let (_child, base) = crate::examples::spawn_quickstart(&[]).await;
    let user = format!("mallory-{}", crate::common::fresh_jti());
    for _ in 0..5 {
        let res = binary_login(&base, 1, &user, "guess").await;
        assert_eq!(res.status().as_u16(), 401);
    }
    assert_429(binary_login(&base, 1, &user, "guess").await).await;
    // alice, from the same address, is not slowed down by mallory's failures.
    let res = binary_login(&base, 1, "alice", "alice-password").await;
    assert_eq!(res.status().as_u16(), 200);
}

#[cfg(feature = "redis")]
#[tokio::test]
async fn the_quickstart_throttle_over_redis_is_shared_by_two_instances() {
    let redis = std::env::var("REDIS_URL").expect("REDIS_URL: run through scripts/test.sh");
    let env = [("STORE", "redis".to_owned()), ("REDIS_URL", redis)];
    let (_a, first) = crate::examples::spawn_quickstart(&env).await;
    let (_b, second) = crate::examples::spawn_quickstart(&env).await;
    let user = format!("mallory-{}", crate::common::fresh_jti());
    for base in [&first, &second, &first, &second, &first] {
        let res = binary_login(base, 2, &user, "guess").await;
        assert_eq!(res.status().as_u16(), 401);
    }
    assert_429(binary_login(&second, 2, &user, "guess").await).await;
    // Another address may still try the account.
    let res = binary_login(&first, 3, &user, "guess").await;
    assert_eq!(res.status().as_u16(), 401);
}
