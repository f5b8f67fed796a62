//! The two optional modes, through a real `Router`: `optional()` lets every request
//! without an accepted token through anonymously (a revocation-store outage included);
//! `optional_refusing_invalid()` lets only requests *without* a token through, refuses
//! bad or expired tokens with 401 (so clients refresh) and a store outage with 503.

use crate::common;

use std::sync::Arc;

use crate::common::switchable::Switchable;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::routing::get;
use axum_token_auth::token::InvalidToken;
use axum_token_auth::{AuthError, Claims, TokenAuth, TokenAuthLayer};
use http::StatusCode;
use serde_json::json;

use common::{assert_refused, builder, get_req, now, ok_body, raw_hs256, send, wire_claims};

async fn home(claims: Option<Claims>) -> String {
    match claims {
        Some(c) => format!("present:{}", c.sub),
        None => "absent".to_owned(),
    }
}

fn app(layer: TokenAuthLayer) -> Router {
    Router::new().route("/", get(home)).layer(layer)
}

fn setup() -> (TokenAuth, Arc<Switchable>) {
    let store = Arc::new(Switchable::default());
    let auth = builder()
        .revocation_store(store.clone())
        .build()
        .expect("builds");
    (auth, store)
}

fn expired() -> String {
    let mut claims = wire_claims("alice", "");
    claims["iat"] = json!(now() - 7200);
    claims["exp"] = json!(now() - 3600);
    raw_hs256(&claims)
}

#[tokio::test]
async fn lenient_optional_mode_treats_every_refusal_as_anonymous() {
    let (auth, store) = setup();
    let app = app(auth.layer().optional());
    let token = common::issue(&auth, "alice", &[]);
    assert_eq!(
        ok_body(send(&app, get_req("/", Some(&token))).await).await,
        "present:alice"
    );
    assert_eq!(
        ok_body(send(&app, get_req("/", None)).await).await,
        "absent"
    );
    assert_eq!(
        ok_body(send(&app, get_req("/", Some(&expired()))).await).await,
        "absent"
    );
    assert_eq!(
        ok_body(send(&app, get_req("/", Some("garbage"))).await).await,
        "absent"
    );
    // A store outage: the token cannot be checked, the request is anonymous.
    store.down.store(true, Ordering::SeqCst);
    let fresh = common::issue(&auth, "bob", &[]);
    assert_eq!(
        ok_body(send(&app, get_req("/", Some(&fresh))).await).await,
        "absent"
    );
}

#[tokio::test]
async fn refusing_invalid_mode_passes_a_request_without_token_and_a_valid_one() {
    let (auth, _) = setup();
    let app = app(auth.layer().optional_refusing_invalid());
    assert_eq!(
        ok_body(send(&app, get_req("/", None)).await).await,
        "absent"
    );
    let token = common::issue(&auth, "alice", &[]);
    assert_eq!(
        ok_body(send(&app, get_req("/", Some(&token))).await).await,
        "present:alice"
    );
}

#[tokio::test]
async fn refusing_invalid_mode_answers_an_expired_or_bad_token_with_401() {
    let (auth, _) = setup();
    let app = app(auth.layer().optional_refusing_invalid());
    assert_refused(
        send(&app, get_req("/", Some(&expired()))).await,
        AuthError::InvalidToken(InvalidToken::Expired),
    )
    .await;
    let r = common::refusal(send(&app, get_req("/", Some("not.a.jwt"))).await).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.body["error"], "invalid_token");
    // A malformed header is no "missing token" either.
    let r = common::refusal(send(&app, get_req("/", Some("a b"))).await).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn refusing_invalid_mode_answers_a_store_outage_with_503() {
    let (auth, store) = setup();
    let app = app(auth.layer().optional_refusing_invalid());
    store.down.store(true, Ordering::SeqCst);
    let token = common::issue(&auth, "alice", &[]);
    let res = send(&app, get_req("/", Some(&token))).await;
    assert_eq!(res.headers()["retry-after"], "1");
    assert_refused(res, AuthError::StoreUnavailable).await;
    // Without a token there is nothing to check: still anonymous.
    assert_eq!(
        ok_body(send(&app, get_req("/", None)).await).await,
        "absent"
    );
}
