//! A WebSocket endpoint browsers can authenticate: the token in the `access_token` query
//! parameter of the upgrade request (the browser's WebSocket API cannot set headers),
//! and the socket closed by the server when the token expires.
//!
//! ```text
//! cargo run --example websocket
//! TOKEN=$(curl -s localhost:3001/token)          # demo only: a 5-minute token for alice
//! websocat "ws://127.0.0.1:3001/ws?access_token=$TOKEN"
//! ```
//!
//! In a browser: `new WebSocket("ws://127.0.0.1:3001/ws?access_token=" + token)`.
//!
//! ⚠️ Query strings land in access logs (proxies, load balancers, `TraceLayer`s outside
//! the auth layer): never log this route's URL with its query, and give such tokens a
//! short lifetime. The layer removes the parameter from the URI the handler sees.

use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use axum::routing::get;
use axum_token_auth::token::Algorithm;
use axum_token_auth::{Claims, Key, TokenAuth, TokenRequest};

/// Echoes messages until the token expires, then closes the socket (the client
/// reconnects with a fresh token).
async fn ws(upgrade: WebSocketUpgrade, State(auth): State<TokenAuth>, claims: Claims) -> Response {
    let sub = claims.sub.clone();
    let deadline = tokio::time::Instant::now() + claims.expires_in(auth.now());
    upgrade.on_upgrade(move |mut socket: WebSocket| async move {
        let _ = socket.send(Message::text(format!("hello {sub}"))).await;
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => break,
                msg = socket.recv() => match msg {
                    Some(Ok(Message::Text(text))) => {
                        if socket.send(Message::text(text.as_str())).await.is_err() {
                            return;
                        }
                    }
                    Some(Ok(_)) => {}
                    _ => return,
                },
            }
        }
        let _ = socket.send(Message::Close(None)).await;
    })
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A random secret (tokens do not survive a restart); `JWT_SECRET_KEY` and the other
    // `JWT_*` variables of `TokenAuth::from_env` in real life.
    let auth = TokenAuth::builder()
        .signing_key(Key::generate_hmac(Algorithm::HS256)?)
        .build()?;
    let issuer = auth.clone();
    let app = Router::new()
        .route("/ws", get(ws))
        .layer(auth.layer().accept_query_token_on_upgrade())
        // Demo only (no login): a short-lived token for the socket, since it lands in URLs.
        .route(
            "/token",
            get(move || async move {
                issuer
                    .issue_access(&TokenRequest::new("alice").ttl(Duration::from_secs(300)))
                    .map(|t| t.into_string())
                    .map_err(|_| axum::http::StatusCode::INTERNAL_SERVER_ERROR)
            }),
        )
        .with_state(auth);
    let addr = std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:3001".to_owned());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("TOKEN=$(curl -s {addr}/token); websocat \"ws://{addr}/ws?access_token=$TOKEN\"");
    axum::serve(listener, app).await?;
    Ok(())
}
