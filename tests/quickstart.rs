//! The quickstart's login handler (examples/quickstart.rs, included as a module and
//! driven through its real `Router`): login CSRF is refused — a body that is not
//! `application/json`, or a cross-site `Origin` / `Sec-Fetch-Site` — with RFC 6750 JSON
//! answers and no cookies; a same-origin JSON login gets cookies and no token in the
//! body; `"token_delivery": "body"` gets the JSON pair and no cookies.

#[allow(dead_code, unreachable_pub)]
#[path = "../examples/quickstart.rs"]
mod quickstart;

use axum::body::Body;
use http::header::{CONTENT_TYPE, HOST, ORIGIN, SET_COOKIE};
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

const ALICE: &str = r#"{"username":"alice","password":"alice-password"}"#;

async fn login(headers: &[(&str, &str)], body: &str) -> (StatusCode, Vec<String>, Value) {
    let app = quickstart::demo_app().await.expect("the demo app builds");
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
    let app = quickstart::demo_app().await.expect("the demo app builds");
    for (path, expected) in [
        ("/nope", StatusCode::NOT_FOUND),
        ("/me", StatusCode::UNAUTHORIZED),
        ("/admin", StatusCode::UNAUTHORIZED),
        ("/health", StatusCode::OK),
    ] {
        let req = Request::get(path).body(Body::empty()).unwrap();
        let res = app.clone().oneshot(req).await.unwrap();
        assert_eq!(res.status(), expected, "{path}");
    }
}
