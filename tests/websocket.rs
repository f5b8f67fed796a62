//! Cross-site WebSocket hijacking: a cookie-authenticated handshake from another origin
//! is refused (403, RFC 6750 JSON) before the upgrade; a same-origin one, or one
//! authenticated by bearer header, is upgraded (101). A real handshake over a socket
//! with tokio-tungstenite against an axum `WebSocketUpgrade` route behind the layer.
//!
//! Browsers' token in the URL: with `accept_query_token_on_upgrade`, the `access_token`
//! query parameter authenticates an upgrade request (and is gone from the URI the
//! handler sees), never a plain GET; an expired one is refused; and the server closes
//! the socket when the token expires (`Claims::expires_in`).

mod common;

use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::OriginalUri;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use axum::routing::get;
use axum_token_auth::Claims;
use futures_util::StreamExt;
use http::StatusCode;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Error as WsError};

use common::{auth, issue, now, raw_hs256, spawn_server, wire_claims};

async fn echo(ws: WebSocketUpgrade, claims: Claims) -> Response {
    let sub = claims.sub.clone();
    ws.on_upgrade(move |mut socket: WebSocket| async move {
        let _ = socket.send(Message::text(format!("hello {sub}"))).await;
    })
}

async fn server() -> (std::net::SocketAddr, String) {
    let auth = auth();
    let token = issue(&auth, "alice", &[]);
    let app = Router::new().route("/ws", get(echo)).layer(auth.layer());
    (spawn_server(app).await, token)
}

/// Performs the handshake with `headers`; `Ok(first text message)` on 101.
async fn handshake(
    addr: std::net::SocketAddr,
    headers: &[(&str, String)],
) -> Result<String, tungstenite::http::Response<Option<Vec<u8>>>> {
    handshake_at(addr, "/ws", headers).await
}

/// [`handshake`] on `path_and_query`.
async fn handshake_at(
    addr: std::net::SocketAddr,
    path_and_query: &str,
    headers: &[(&str, String)],
) -> Result<String, tungstenite::http::Response<Option<Vec<u8>>>> {
    let mut request = format!("ws://{addr}{path_and_query}")
        .into_client_request()
        .unwrap();
    for (k, v) in headers {
        request.headers_mut().insert(
            tungstenite::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((mut ws, response)) => {
            assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
            let msg = ws.next().await.expect("a message").expect("no error");
            let _ = ws.close(None).await;
            Ok(msg.into_text().unwrap().to_string())
        }
        Err(WsError::Http(response)) => Err(*response),
        Err(e) => panic!("handshake failed otherwise: {e}"),
    }
}

#[tokio::test]
async fn a_cookie_authenticated_cross_site_websocket_handshake_is_refused() {
    let (addr, token) = server().await;
    let refused = handshake(
        addr,
        &[
            ("cookie", format!("__Host-access_token={token}")),
            ("origin", "https://evil.example".into()),
        ],
    )
    .await
    .expect_err("cross-site handshake must not upgrade");
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        refused.headers()["content-type"].to_str().unwrap(),
        "application/json"
    );
    let body: serde_json::Value =
        serde_json::from_slice(refused.body().as_deref().unwrap_or_default()).unwrap();
    assert_eq!(body["error"], "invalid_request");

    // The browser's own Sec-Fetch-Site says the same.
    let refused = handshake(
        addr,
        &[
            ("cookie", format!("__Host-access_token={token}")),
            ("sec-fetch-site", "cross-site".into()),
        ],
    )
    .await
    .expect_err("cross-site handshake must not upgrade");
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn same_origin_and_bearer_websocket_handshakes_are_upgraded() {
    let (addr, token) = server().await;
    let same_origin = handshake(
        addr,
        &[
            ("cookie", format!("__Host-access_token={token}")),
            ("origin", format!("http://{addr}")),
        ],
    )
    .await
    .expect("same-origin handshake upgrades");
    assert_eq!(same_origin, "hello alice");
    // A bearer header is no ambient credential: its Origin does not matter.
    let bearer = handshake(
        addr,
        &[
            ("authorization", format!("Bearer {token}")),
            ("origin", "https://other.example".into()),
        ],
    )
    .await
    .expect("bearer handshake upgrades");
    assert_eq!(bearer, "hello alice");
}

/// Answers with the subject and the URI the handler saw, then serves the socket until
/// the token expires and closes it.
async fn until_expiry(
    ws: WebSocketUpgrade,
    claims: Claims,
    uri: http::Uri,
    OriginalUri(original): OriginalUri,
) -> Response {
    let sub = claims.sub.clone();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let deadline = tokio::time::Instant::now() + claims.expires_in(now);
    ws.on_upgrade(move |mut socket: WebSocket| async move {
        let _ = socket
            .send(Message::text(format!("{sub} {uri} {original}")))
            .await;
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => break,
                msg = socket.recv() => if !matches!(msg, Some(Ok(_))) { return },
            }
        }
        let _ = socket.send(Message::Close(None)).await;
    })
}

/// The router behind a layer accepting query tokens on upgrades; `/me` is a plain route.
async fn query_server(accept_query: bool) -> (std::net::SocketAddr, axum_token_auth::TokenAuth) {
    let auth = auth();
    let layer = if accept_query {
        auth.layer().accept_query_token_on_upgrade()
    } else {
        auth.layer()
    };
    let app = Router::new()
        .route("/ws", get(until_expiry))
        .route("/me", get(|c: Claims| async move { c.sub.clone() }))
        .layer(layer);
    (spawn_server(app).await, auth)
}

fn refusal_body(res: &tungstenite::http::Response<Option<Vec<u8>>>) -> serde_json::Value {
    serde_json::from_slice(res.body().as_deref().unwrap_or_default()).unwrap()
}

#[tokio::test]
async fn a_query_token_authenticates_an_upgrade_and_the_handler_never_sees_it() {
    let (addr, auth) = query_server(true).await;
    let token = issue(&auth, "alice", &[]);
    let first = handshake_at(addr, &format!("/ws?room=7&access_token={token}"), &[])
        .await
        .expect("the upgrade is authenticated by the query token");
    // Neither the URI nor axum's `OriginalUri` (set by the router before its layers).
    assert_eq!(first, "alice /ws?room=7 /ws?room=7");
    assert!(!first.contains(&token));
}

#[tokio::test]
async fn a_query_token_is_ignored_on_a_plain_get_and_when_not_enabled() {
    let (addr, auth) = query_server(true).await;
    let token = issue(&auth, "alice", &[]);
    // A plain GET (no upgrade) with the token in the query: no credentials.
    let res = reqwest::get(format!("http://{addr}/me?access_token={token}"))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(res.headers()["www-authenticate"], "Bearer realm=\"api\"");
    let json: serde_json::Value = res.json().await.unwrap();
    assert_eq!(json["error"], "unauthorized");
    // The same plain GET with the header is fine.
    let res = reqwest::Client::new()
        .get(format!("http://{addr}/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    // A layer that does not opt in ignores the parameter on upgrades too.
    let (addr, auth) = query_server(false).await;
    let token = issue(&auth, "alice", &[]);
    let refused = handshake_at(addr, &format!("/ws?access_token={token}"), &[])
        .await
        .expect_err("no credentials without the opt-in");
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_expired_query_token_is_401_invalid_token() {
    let (addr, _) = query_server(true).await;
    let mut claims = wire_claims("alice", "");
    claims["iat"] = serde_json::json!(now() - 7200);
    claims["exp"] = serde_json::json!(now() - 3600);
    let expired = raw_hs256(&claims);
    let refused = handshake_at(addr, &format!("/ws?access_token={expired}"), &[])
        .await
        .expect_err("an expired token does not upgrade");
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let challenge = refused.headers()["www-authenticate"].to_str().unwrap();
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
    assert_eq!(refusal_body(&refused)["error"], "invalid_token");
}

#[tokio::test]
async fn a_query_token_next_to_a_header_token_is_400() {
    let (addr, auth) = query_server(true).await;
    let token = issue(&auth, "alice", &[]);
    let refused = handshake_at(
        addr,
        &format!("/ws?access_token={token}"),
        &[("authorization", format!("Bearer {token}"))],
    )
    .await
    .expect_err("two credentials");
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert_eq!(refusal_body(&refused)["error"], "invalid_request");
}

#[tokio::test]
async fn the_server_closes_the_socket_when_the_token_expires() {
    let (addr, _) = query_server(true).await;
    let mut claims = wire_claims("alice", "");
    claims["exp"] = serde_json::json!(now() + 2);
    let short = raw_hs256(&claims);
    let request = format!("ws://{addr}/ws?access_token={short}")
        .into_client_request()
        .unwrap();
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let started = Instant::now();
    let first = ws.next().await.unwrap().unwrap();
    assert!(first.into_text().unwrap().starts_with("alice "));
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match ws.next().await {
                Some(Ok(tungstenite::Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the socket outlived its token");
    let lived = started.elapsed();
    assert!(lived < Duration::from_secs(4), "closed after {lived:?}");
    assert!(
        lived >= Duration::from_millis(500),
        "closed too early: {lived:?}"
    );
}

/// What a plain route behind a query-token layer sees of the request's URI.
fn uri_echo_app(auth: &axum_token_auth::TokenAuth, optional: bool) -> Router {
    let layer = auth.layer().accept_query_token_on_upgrade();
    let layer = if optional { layer.optional() } else { layer };
    Router::new()
        .route(
            "/echo",
            get(
                |c: Option<Claims>, uri: http::Uri, OriginalUri(original): OriginalUri| async move {
                    let who = c.map_or("anonymous".to_owned(), |c| c.sub.clone());
                    format!("{who} {uri} {original}")
                },
            ),
        )
        .layer(layer)
}

fn handshake_headers(b: http::request::Builder) -> http::request::Builder {
    b.header("upgrade", "websocket")
        .header("connection", "Upgrade")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .header("sec-websocket-version", "13")
}

async fn body_of(res: axum::response::Response) -> String {
    use http_body_util::BodyExt;
    String::from_utf8(res.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap()
}

#[tokio::test]
async fn a_refused_query_token_never_reaches_an_optional_route() {
    use tower::ServiceExt;
    let auth = auth();
    let token = issue(&auth, "alice", &[]);
    // Header and query token on a handshake: 400 in required mode, anonymous in optional
    // mode — and the inner service sees the URI without the parameter either way.
    let req = handshake_headers(http::Request::get(format!(
        "/echo?x=1&access_token={token}"
    )))
    .header("authorization", format!("Bearer {token}"))
    .body(axum::body::Body::empty())
    .unwrap();
    let res = uri_echo_app(&auth, true).oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let seen = body_of(res).await;
    assert_eq!(seen, "anonymous /echo?x=1 /echo?x=1");
    assert!(!seen.contains(&token));

    // On a plain request the parameter is ignored — and removed all the same.
    let req = http::Request::get(format!("/echo?access_token={token}"))
        .header("authorization", format!("Bearer {token}"))
        .body(axum::body::Body::empty())
        .unwrap();
    let res = uri_echo_app(&auth, false).oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(body_of(res).await, "alice /echo /echo");
}

#[tokio::test]
async fn an_upgrade_header_alone_does_not_make_a_route_take_query_tokens() {
    use tower::ServiceExt;
    let auth = auth();
    let token = issue(&auth, "alice", &[]);
    // `Upgrade: websocket` without `Connection: upgrade` and a key: not a handshake.
    let req = http::Request::get(format!("/echo?access_token={token}"))
        .header("upgrade", "websocket")
        .body(axum::body::Body::empty())
        .unwrap();
    let res = uri_echo_app(&auth, false).oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    // The complete handshake headers: the query token is read.
    let req = handshake_headers(http::Request::get(format!("/echo?access_token={token}")))
        .body(axum::body::Body::empty())
        .unwrap();
    let res = uri_echo_app(&auth, false).oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(body_of(res).await, "alice /echo /echo");
}
