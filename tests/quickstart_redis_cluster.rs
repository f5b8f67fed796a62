//! The quickstart on a Redis Cluster: `STORE=redis-cluster` with `REDIS_CLUSTER_NODES`
//! (from scripts/test.sh) builds the demo app, and a login writes its session to the
//! cluster (listed through a second store handle). Its own test binary: it sets `STORE`
//! for the process.
#![cfg(feature = "redis")]

#[allow(dead_code, unreachable_pub)]
#[path = "../examples/quickstart.rs"]
mod quickstart;

use axum::body::Body;
use axum_token_auth::store::RefreshStore;
use axum_token_auth::store::redis::{RedisSettings, RedisStore};
use http::header::{CONTENT_TYPE, HOST};
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

#[tokio::test]
async fn store_redis_cluster_keeps_the_quickstart_sessions_in_the_cluster() {
    let nodes = std::env::var("REDIS_CLUSTER_NODES")
        .expect("REDIS_CLUSTER_NODES: run the tests through scripts/test.sh");
    // SAFETY: the only test of this binary, before anything reads the environment.
    unsafe { std::env::set_var("STORE", "redis-cluster") };
    let app = quickstart::demo_app().await.expect("the demo app builds");
    let req = Request::post("/auth/login")
        .header(HOST, "localhost:3000")
        .header(CONTENT_TYPE, "application/json")
        .body(Body::from(
            r#"{"username":"alice","password":"alice-password","token_delivery":"body"}"#,
        ))
        .unwrap();
    let res = app.oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body: serde_json::Value =
        serde_json::from_slice(&res.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert!(body["refresh_token"].is_string());

    let nodes: Vec<&str> = nodes.split(',').collect();
    let other = RedisStore::connect_cluster(&nodes, RedisSettings::default().without_local_cache())
        .await
        .unwrap();
    let sessions = other.list_sessions("alice", unix_now()).await.unwrap();
    assert!(!sessions.is_empty(), "the login's family is in the cluster");
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}
