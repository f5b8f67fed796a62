//! Over a real TCP socket: axum::serve on 127.0.0.1 and reqwest as the client.

use crate::common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum_token_auth::token::FixedClock;
use common::*;
use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, CONTENT_TYPE, WWW_AUTHENTICATE};
use serde_json::{Value, json};
use tokio::task::JoinSet;

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

#[tokio::test]
async fn bearer_token_over_tcp_is_200() {
    let auth = auth();
    let addr = spawn_server(app(&auth)).await;
    let token = issue(&auth, "alice", &["users:read"]);
    let res = client()
        .get(format!("http://{addr}/users"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.text().await.unwrap(), "list:alice");
}

#[tokio::test]
async fn cookie_token_over_tcp_is_200() {
    let auth = auth();
    let addr = spawn_server(app(&auth)).await;
    let token = issue(&auth, "alice", &[]);
    let url: reqwest::Url = format!("http://{addr}/").parse().unwrap();
    let jar = Arc::new(reqwest::cookie::Jar::default());
    jar.add_cookie_str(&format!("__Host-access_token={token}; Path=/"), &url);
    let client = reqwest::Client::builder()
        .cookie_provider(Arc::clone(&jar))
        .build()
        .unwrap();
    for (path, expected) in [("me", "alice"), ("source", "Cookie")] {
        let res = client
            .get(format!("http://{addr}/{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        assert_eq!(res.text().await.unwrap(), expected);
    }
}

#[tokio::test]
async fn refusal_over_tcp_has_the_rfc6750_shape() {
    let auth = auth();
    let addr = spawn_server(app(&auth)).await;
    let client = client();

    let res = client
        .get(format!("http://{addr}/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(res.headers()[WWW_AUTHENTICATE], r#"Bearer realm="api""#);
    assert_eq!(res.headers()[CACHE_CONTROL], "no-store");
    assert_eq!(res.headers()[CONTENT_TYPE], "application/json");
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body,
        json!({"error": "unauthorized", "error_description": "authentication is required"})
    );

    let res = client
        .get(format!("http://{addr}/me"))
        .bearer_auth("not.a.token")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        res.headers()[WWW_AUTHENTICATE],
        r#"Bearer realm="api", error="invalid_token", error_description="the token is malformed""#
    );
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], json!("invalid_token"));
    assert_eq!(body.as_object().unwrap().len(), 2);

    let token = issue(&auth, "alice", &["users:read"]);
    let res = client
        .post(format!("http://{addr}/users"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let challenge = res.headers()[WWW_AUTHENTICATE].to_str().unwrap().to_owned();
    assert!(
        challenge.ends_with(r#", scope="users:write""#),
        "{challenge}"
    );
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], json!("insufficient_scope"));
}

#[derive(Clone, Copy, Debug)]
enum Case {
    Valid,
    Expired,
    WrongScope,
    Anonymous,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn five_hundred_parallel_requests_each_get_the_right_status() {
    let auth = auth();
    let addr = spawn_server(app(&auth)).await;
    let past = builder().clock(FixedClock(now() - 3600)).build().unwrap();
    let client = client();

    let started = Instant::now();
    let mut set = JoinSet::new();
    for i in 0..500usize {
        let case = match i % 4 {
            0 => Case::Valid,
            1 => Case::Expired,
            2 => Case::WrongScope,
            _ => Case::Anonymous,
        };
        // Every request carries its own token, so a mixed-up answer shows in the body.
        let sub = format!("user-{i}");
        let (method, token) = match case {
            Case::Valid => ("GET", Some(issue(&auth, &sub, &["users:read"]))),
            Case::Expired => ("GET", Some(issue(&past, &sub, &["users:read"]))),
            Case::WrongScope => ("POST", Some(issue(&auth, &sub, &["users:read"]))),
            Case::Anonymous => ("GET", None),
        };
        let client = client.clone();
        set.spawn(async move {
            let url = format!("http://{addr}/users");
            let mut req = match method {
                "POST" => client.post(url),
                _ => client.get(url),
            };
            if let Some(t) = &token {
                req = req.bearer_auth(t);
            }
            let res = req.send().await.expect("request completes");
            let status = res.status();
            let challenge = res
                .headers()
                .get(WWW_AUTHENTICATE)
                .map(|v| v.to_str().unwrap().to_owned());
            let body = res.text().await.unwrap();
            (i, case, sub, status, challenge, body)
        });
    }

    let mut seen = 0;
    while let Some(joined) = set.join_next().await {
        let (i, case, sub, status, challenge, body) = joined.expect("task does not panic");
        seen += 1;
        match case {
            Case::Valid => {
                assert_eq!(status, StatusCode::OK, "#{i} {case:?}: {body}");
                assert_eq!(body, format!("list:{sub}"), "#{i}");
                assert_eq!(challenge, None);
            }
            Case::Expired => {
                assert_eq!(status, StatusCode::UNAUTHORIZED, "#{i} {case:?}: {body}");
                assert!(
                    challenge
                        .as_deref()
                        .unwrap()
                        .contains("error_description=\"the token has expired\""),
                    "#{i}"
                );
            }
            Case::WrongScope => {
                assert_eq!(status, StatusCode::FORBIDDEN, "#{i} {case:?}: {body}");
                assert!(
                    challenge
                        .as_deref()
                        .unwrap()
                        .ends_with("scope=\"users:write\""),
                    "#{i}"
                );
            }
            Case::Anonymous => {
                assert_eq!(status, StatusCode::UNAUTHORIZED, "#{i} {case:?}: {body}");
                assert_eq!(challenge.as_deref(), Some(r#"Bearer realm="api""#), "#{i}");
            }
        }
    }
    assert_eq!(seen, 500);
    // Generous bound for debug builds on a loaded machine; typically well under a second.
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "500 requests took {:?}",
        started.elapsed()
    );
}
