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
pub(crate) fn example(name: &str) -> PathBuf {
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

/// The quickstart as other tools drive it, with an external issuer from the environment
/// (`JWKS_URL` + `JWKS_ISSUER` on a loopback key server): that issuer's token whose
/// `sub` equals a local user is served by `/me` but refused by the session routes, and
/// `POST /admin/revocations` revokes any token the layer accepts (204), refuses one it
/// cannot read (400), and needs `admin` (403).
#[cfg(feature = "oidc")]
#[tokio::test]
async fn the_quickstart_keeps_session_routes_to_its_own_tokens_and_revokes_any_token() {
    use axum_token_auth::Key;
    use axum_token_auth::token::Algorithm;
    use serde_json::{Value, json};

    const IDP: &str = "https://idp.quickstart.test";
    let public = Key::from_pem(
        Algorithm::ES256,
        include_str!("../fixtures/ec_p256_public.pem"),
    )
    .unwrap()
    .with_kid("k1");
    let jwks = json!({ "keys": [public.public_jwk().unwrap()] });
    let keys = axum::Router::new().route(
        "/jwks",
        axum::routing::get(move || {
            let jwks = jwks.clone();
            async move { axum::Json(jwks) }
        }),
    );
    let key_server = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let key_addr = key_server.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(key_server, keys).await });

    let (_child, base) = spawn_quickstart(&[
        ("JWKS_URL", format!("http://{key_addr}/jwks")),
        ("JWKS_ISSUER", IDP.to_owned()),
        ("OIDC_AUDIENCE", "api".to_owned()),
    ])
    .await;
    let http = reqwest::Client::new();
    let login = |user: &'static str| {
        let http = http.clone();
        let base = base.clone();
        async move {
            let pair: Value = http
                .post(format!("{base}/auth/login"))
                .json(
                    &json!({"username": user, "password": format!("{user}-password"),
                              "token_delivery": "body"}),
                )
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            pair["access_token"].as_str().unwrap().to_owned()
        }
    };
    let alice = login("alice").await;
    let admin = login("admin").await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some("k1".into());
    let foreign = jsonwebtoken::encode(
        &header,
        &json!({"iss": IDP, "aud": "api", "sub": "alice", "iat": now, "exp": now + 600}),
        &jsonwebtoken::EncodingKey::from_ec_pem(include_bytes!("../fixtures/ec_p256_private.pem"))
            .unwrap(),
    )
    .unwrap();
    let get = |path: &'static str, token: String| {
        let http = http.clone();
        let base = base.clone();
        async move {
            http.get(format!("{base}{path}"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
        }
    };
    // The provider's alice is served as such ...
    let me = get("/me", foreign.clone()).await;
    assert_eq!(me.status(), 200);
    // ... but sees nothing of the local alice's sessions.
    let res = get("/auth/sessions", foreign.clone()).await;
    assert_eq!(res.status(), 401);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "invalid_token");
    assert_eq!(get("/auth/sessions", alice.clone()).await.status(), 200);

    let revoke = |token: String, body: Value| {
        let http = http.clone();
        let base = base.clone();
        async move {
            http.post(format!("{base}/admin/revocations"))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    // alice is no admin.
    let res = revoke(alice.clone(), json!({"token": foreign})).await;
    assert_eq!(res.status(), 403);
    // An external token and one of ours: 204, then refused.
    for victim in [foreign.clone(), alice.clone()] {
        let res = revoke(admin.clone(), json!({ "token": victim })).await;
        assert_eq!(res.status(), 204);
        let res = get("/me", victim).await;
        assert_eq!(res.status(), 401);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"], "invalid_token");
    }
    // A token it cannot read: 400 with an RFC 6750 body.
    let res = revoke(admin.clone(), json!({"token": "not-a-token"})).await;
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");
    let res = revoke(admin, json!({"nope": 1})).await;
    assert_eq!(res.status(), 400);
}

/// The quickstart binary on a free port with `env` (and a test `JWT_SECRET_KEY`), once
/// `/health` answers: the child (killed on drop) and its base URL.
pub(crate) async fn spawn_quickstart(env: &[(&str, String)]) -> (tokio::process::Child, String) {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let base = format!("http://127.0.0.1:{port}");
    let mut cmd = Command::new(example("quickstart"));
    cmd.env("ADDR", format!("127.0.0.1:{port}"))
        .env(
            "JWT_SECRET_KEY",
            "quickstart-test-secret-0123456789-abcdefgh",
        )
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let child = cmd.spawn().unwrap();
    let http = reqwest::Client::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while http.get(format!("{base}/health")).send().await.is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "the quickstart did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (child, base)
}
