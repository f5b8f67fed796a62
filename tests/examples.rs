//! The examples run as users run them: the binaries `cargo test` builds next to this
//! test (`target/<profile>/examples/`), started as child processes and driven over
//! real sockets.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use tokio_tungstenite::tungstenite::Message;

/// The built example `name` (cargo builds every example before running tests).
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap();
    let path = profile_dir.join("examples").join(name);
    assert!(path.exists(), "{} not built", path.display());
    path
}

#[cfg(feature = "tonic")]
#[tokio::test]
async fn the_grpc_example_calls_through_the_layer_and_is_refused_without_a_token() {
    let out = tokio::time::timeout(
        Duration::from_secs(30),
        Command::new(example("grpc")).kill_on_drop(true).output(),
    )
    .await
    .expect("the grpc example did not finish")
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "exit {:?}: {stdout}", out.status);
    // The handler saw the verified subject; the call without a token was refused with
    // gRPC's UNAUTHENTICATED (the example asserts the code too).
    assert!(
        stdout.contains("with a token:    Ok(\"hello alice, you said"),
        "{stdout}"
    );
    assert!(
        stdout.contains("without a token: Unauthenticated"),
        "{stdout}"
    );
}

#[tokio::test]
async fn the_websocket_example_takes_the_query_token_on_upgrades_only() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let addr = format!("127.0.0.1:{port}");
    let mut child = Command::new(example("websocket"))
        .env("ADDR", &addr)
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    // `kill_on_drop`: the server goes when the test ends, whatever happens.
    let _child = child;
    // It prints its curl/websocat line once it listens.
    let mut lines = BufReader::new(stdout).lines();
    let first = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("the websocket example did not start")
        .unwrap()
        .unwrap();
    assert!(first.contains("access_token="), "{first}");

    let http = reqwest::Client::new();
    let token = http
        .get(format!("http://{addr}/token"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(token.split('.').count(), 3, "a JWT");

    // A plain GET with the query token is not an upgrade: the token is not read.
    let plain = http
        .get(format!("http://{addr}/ws?access_token={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), 401);

    // The upgrade with it is accepted; the socket greets the token's subject and echoes.
    let (mut ws, response) =
        tokio_tungstenite::connect_async(format!("ws://{addr}/ws?access_token={token}"))
            .await
            .unwrap();
    assert_eq!(response.status(), 101);
    let hello = ws.next().await.unwrap().unwrap();
    assert_eq!(hello, Message::text("hello alice"));
    ws.send(Message::text("ping")).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), Message::text("ping"));

    // A forged token is refused at the handshake.
    let last = if token.ends_with('A') { 'B' } else { 'A' };
    let forged = format!("{}{last}", &token[..token.len() - 1]);
    let refused =
        tokio_tungstenite::connect_async(format!("ws://{addr}/ws?access_token={forged}")).await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(res)) => assert_eq!(res.status(), 401),
        other => panic!("a forged token was not refused: {other:?}"),
    }
}
