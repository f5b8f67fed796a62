//! Cross-site WebSocket hijacking: a cookie-authenticated handshake from another origin
//! is refused (403, RFC 6750 JSON) before the upgrade; a same-origin one, or one
//! authenticated by bearer header, is upgraded (101). A real handshake over a socket
//! with tokio-tungstenite against an axum `WebSocketUpgrade` route behind the layer.

mod common;

use axum::Router;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use axum::routing::get;
use axum_token_auth::Claims;
use futures_util::StreamExt;
use http::StatusCode;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Error as WsError};

use common::{auth, issue, spawn_server};

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
    let mut request = format!("ws://{addr}/ws").into_client_request().unwrap();
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
