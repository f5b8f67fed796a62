//! The testkit (`axum_token_auth::testing`) as an application uses it: the attack
//! generator against a real router, the manual clock expiring a token behind the layer
//! (verified-token cache included), the cookie jar through a real login, refresh and
//! logout, and claims for a handler unit test.

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use axum_token_auth::store::memory::MemoryRefreshStore;
use axum_token_auth::testing::{
    Attack, AttackTokens, CookieJar, DpopKey, ManualClock, claims, test_auth, test_builder,
};
use axum_token_auth::trust::dpop::{DpopPolicy, DpopSettings};
use axum_token_auth::{
    Claims, RequireScope, ScopeGuardLayer, Sessions, TokenAuth, TokenRequest, session::user_agent,
    token::Algorithm, token::Key,
};
use http::header::{AUTHORIZATION, COOKIE};
use http::{Method, Request, StatusCode};
use tower::ServiceExt;

axum_token_auth::scope!(pub UsersWrite = "users:write");

async fn me(c: Claims) -> String {
    c.sub.clone()
}

async fn create(_: RequireScope<UsersWrite>, c: Claims) -> (StatusCode, String) {
    (StatusCode::CREATED, format!("created by {}", c.sub))
}

/// `/me`, `POST /users` (users:write), `/admin` (a sub-router behind a scope guard).
fn app(auth: &TokenAuth) -> Router {
    let admin = Router::new()
        .route("/admin", get(|| async { "admin" }))
        .route_layer(ScopeGuardLayer::all(["admin"]).unwrap());
    Router::new()
        .route("/me", get(me))
        .route("/users", post(create))
        .merge(admin)
        .layer(auth.layer())
}

async fn status(app: &Router, req: Request<Body>) -> StatusCode {
    app.clone().oneshot(req).await.unwrap().status()
}

fn bearer(method: Method, path: &str, token: &str) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(path)
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap()
}

// ---------------------------------------------------------------------------------------
// Attack tokens
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn every_attack_token_is_refused_by_every_guarded_route() {
    let auth = test_builder()
        .issuer("https://auth.test")
        .audience("orders")
        .build()
        .unwrap();
    let app = app(&auth);
    let request = TokenRequest::new("alice").scopes(["users:write", "admin"]);
    let attacks = AttackTokens::for_auth(&auth, &request).unwrap();
    assert_eq!(attacks.attacks().count(), 11, "{attacks:?}");
    for (method, path) in [
        (Method::GET, "/me"),
        (Method::POST, "/users"),
        (Method::GET, "/admin"),
    ] {
        attacks.assert_refused_by(&app, method, path).await;
    }
}

#[tokio::test]
async fn attack_tokens_of_an_rs256_authority_include_the_confusion_and_are_refused() {
    let auth = TokenAuth::builder()
        .signing_key(
            Key::from_pem(
                Algorithm::RS256,
                include_str!("../fixtures/rsa2048_private.pem"),
            )
            .unwrap(),
        )
        .build()
        .unwrap();
    let attacks = AttackTokens::for_auth(&auth, &TokenRequest::new("alice"))
        .unwrap()
        // The exact bytes an attacker downloads: same as the PEM derived from the key.
        .with_public_key_pem(include_bytes!("../fixtures/rsa2048_public.pem"));
    assert!(attacks.get(Attack::AlgorithmConfusion).is_some());
    attacks
        .assert_refused_by(&app(&auth), Method::GET, "/me")
        .await;
}

#[tokio::test]
#[should_panic(expected = "attack `alg_none`")]
async fn the_assertion_fails_on_a_route_that_skips_the_layer() {
    let auth = test_auth();
    // The layer guards /me only; /open came after `.layer` and takes any token.
    let app = Router::new()
        .route("/me", get(me))
        .layer(auth.layer())
        .route("/open", get(|| async { "open" }));
    let attacks = AttackTokens::for_auth(&auth, &TokenRequest::new("alice")).unwrap();
    attacks.assert_refused_by(&app, Method::GET, "/open").await;
}

// ---------------------------------------------------------------------------------------
// The manual clock
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn manual_clock_expires_a_cached_token_exactly_after_the_leeway() {
    let clock = ManualClock::starting_now();
    let auth = test_builder().clock(clock.clone()).build().unwrap();
    let app = app(&auth);
    let token = auth.issue_access(&TokenRequest::new("alice")).unwrap();
    assert_eq!(
        status(&app, bearer(Method::GET, "/me", token.as_str())).await,
        StatusCode::OK
    );
    assert_eq!(
        status(&app, bearer(Method::GET, "/me", token.as_str())).await,
        StatusCode::OK,
        "now from the verified-token cache"
    );
    clock.set(token.expires_at + 29);
    assert_eq!(
        status(&app, bearer(Method::GET, "/me", token.as_str())).await,
        StatusCode::OK,
        "within the 30 s leeway"
    );
    clock.advance(Duration::from_secs(1));
    assert_eq!(
        status(&app, bearer(Method::GET, "/me", token.as_str())).await,
        StatusCode::UNAUTHORIZED
    );
    // A token issued now is valid again: issuing reads the same clock.
    let fresh = auth.issue_access(&TokenRequest::new("alice")).unwrap();
    assert_eq!(fresh.issued_at, token.expires_at + 30);
    assert_eq!(
        status(&app, bearer(Method::GET, "/me", fresh.as_str())).await,
        StatusCode::OK
    );
}

// ---------------------------------------------------------------------------------------
// The cookie jar through a login
// ---------------------------------------------------------------------------------------

fn session_app(sessions: &Sessions) -> Router {
    let login = sessions.clone();
    Router::new()
        .route(
            "/auth/login",
            post(move |headers: HeaderMap| {
                let s = login.clone();
                async move {
                    let req = TokenRequest::new("alice").scopes(["users:write"]);
                    let l = s.login(&req, user_agent(&headers)).await.unwrap();
                    s.login_response(&l)
                }
            }),
        )
        .route("/auth/refresh", sessions.refresh_route())
        .route("/auth/logout", sessions.logout_route())
        .merge(app(sessions.auth()))
}

async fn send_with(
    app: &Router,
    jar: &mut CookieJar,
    auth: &TokenAuth,
    mut req: Request<Body>,
) -> Response {
    jar.attach(auth, &mut req);
    let res = app.clone().oneshot(req).await.unwrap();
    jar.store(res.headers());
    res
}

fn plain(method: Method, path: &str) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(path)
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn cookie_jar_walks_login_csrf_refresh_and_logout() {
    let auth = test_auth();
    let sessions = Sessions::builder(auth.clone(), MemoryRefreshStore::new())
        .build()
        .unwrap();
    let app = session_app(&sessions);
    let mut jar = CookieJar::new();

    let res = send_with(&app, &mut jar, &auth, plain(Method::POST, "/auth/login")).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        jar.names().collect::<Vec<_>>(),
        ["access_token", "csrf_token", "refresh_token"],
        "plain names: the test authority's cookies work over http"
    );
    let csrf = jar.csrf_token(&auth).unwrap().to_owned();

    let res = send_with(&app, &mut jar, &auth, plain(Method::GET, "/me")).await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "authenticated by the access cookie"
    );

    // The same cookies without the CSRF header: refused; with it (attach): created.
    let mut bare = plain(Method::POST, "/users");
    bare.headers_mut()
        .insert(COOKIE, jar.cookie_header_for("/users").unwrap());
    assert_eq!(status(&app, bare).await, StatusCode::FORBIDDEN);
    let res = send_with(&app, &mut jar, &auth, plain(Method::POST, "/users")).await;
    assert_eq!(res.status(), StatusCode::CREATED);

    let old_access = jar.access_token(&auth).unwrap().to_owned();
    let res = send_with(&app, &mut jar, &auth, plain(Method::POST, "/auth/refresh")).await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "the refresh cookie reached /auth/refresh"
    );
    assert_ne!(jar.access_token(&auth).unwrap(), old_access, "rotated");
    assert_eq!(
        jar.csrf_token(&auth),
        Some(csrf.as_str()),
        "the session's CSRF value"
    );

    let res = send_with(&app, &mut jar, &auth, plain(Method::POST, "/auth/logout")).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert!(
        jar.is_empty(),
        "logout cleared every cookie: {:?}",
        jar.names().collect::<Vec<_>>()
    );
    let res = send_with(&app, &mut jar, &auth, plain(Method::GET, "/me")).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

// ---------------------------------------------------------------------------------------
// Claims for handler unit tests
// ---------------------------------------------------------------------------------------

#[derive(serde::Deserialize)]
struct Org {
    org: String,
}

async fn org_of(c: Claims<Org>) -> String {
    format!("{}@{}", c.sub, c.custom.org)
}

#[tokio::test]
async fn handlers_take_testkit_claims_of_any_type_without_a_router() {
    let auth = test_auth();
    let req = TokenRequest::new("alice").claims(&serde_json::json!({ "org": "acme" }));
    assert_eq!(org_of(claims(&auth, &req)).await, "alice@acme");
    let c: Claims = claims(&auth, &TokenRequest::new("bob").scopes(["users:write"]));
    assert!(c.has_scope("users:write"));
    assert!(!c.has_scope("admin"));
}

#[test]
#[should_panic(expected = "the issued token was refused")]
fn claims_of_a_misfit_type_panic_with_the_reason() {
    let _: Claims<Org> = claims(&test_auth(), &TokenRequest::new("alice"));
}

// ---------------------------------------------------------------------------------------
// The manual's sessions page: `route_layer` for a guarded sub-router
// ---------------------------------------------------------------------------------------

/// The sessions router of the manual (`manual::sessions`): with `.layer` the layer also wraps the fallback, so an
/// unknown path answers 401 (and tells a scanner which paths exist); with `.route_layer`
/// only the routes are guarded and an unknown path stays 404.
#[tokio::test]
async fn unknown_paths_stay_404_behind_route_layer_and_turn_401_behind_layer() {
    let auth = test_auth();
    let sessions = Sessions::builder(auth.clone(), MemoryRefreshStore::new())
        .build()
        .unwrap();
    let with = |route_layer: bool| {
        let guarded = Router::new().route("/auth/sessions", sessions.sessions_route());
        let guarded = if route_layer {
            guarded.route_layer(auth.layer())
        } else {
            guarded.layer(auth.layer())
        };
        guarded.route("/auth/refresh", sessions.refresh_route())
    };
    let quiet = with(true);
    assert_eq!(
        status(&quiet, plain(Method::GET, "/nope")).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        status(&quiet, plain(Method::GET, "/auth/sessions")).await,
        StatusCode::UNAUTHORIZED
    );
    let token = auth.issue_access(&TokenRequest::new("alice")).unwrap();
    assert_eq!(
        status(
            &quiet,
            bearer(Method::GET, "/auth/sessions", token.as_str())
        )
        .await,
        StatusCode::OK
    );
    assert_eq!(
        status(&with(false), plain(Method::GET, "/nope")).await,
        StatusCode::UNAUTHORIZED
    );
}

// ---------------------------------------------------------------------------------------
// A route that requires DPoP: the bearer assertion says why it cannot run, the DPoP one
// sends every token with a valid proof.

fn dpop_app(auth: &TokenAuth) -> Router {
    Router::new()
        .route("/me", get(me))
        .layer(auth.layer().dpop(DpopPolicy::Required))
}

const DPOP_ORIGIN: &str = "https://api.example.com";

#[tokio::test]
async fn on_a_dpop_route_every_attack_is_refused_with_a_valid_proof() {
    let auth = test_builder()
        .dpop(DpopSettings::new(DPOP_ORIGIN))
        .build()
        .unwrap();
    let app = dpop_app(&auth);
    let key = DpopKey::es256();
    let bound = TokenRequest::new("alice").confirmation(key.confirmation());
    let attacks = AttackTokens::for_auth(&auth, &bound).unwrap();
    attacks
        .assert_refused_by_dpop(&app, &key, DPOP_ORIGIN, Method::GET, "/me")
        .await;
    // Another key's proofs: the genuine token is refused, the assertion says so.
    let other = DpopKey::es256();
    let wrong_key = tokio::spawn(async move {
        attacks
            .assert_refused_by_dpop(&app, &other, DPOP_ORIGIN, Method::GET, "/me")
            .await
    });
    let panic = wrong_key.await.unwrap_err().into_panic();
    let msg = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(msg.contains("genuine token with a valid proof"), "{msg}");
}

#[tokio::test]
async fn the_bearer_assertion_on_a_dpop_route_names_the_dpop_one() {
    let auth = test_builder()
        .dpop(DpopSettings::new(DPOP_ORIGIN))
        .build()
        .unwrap();
    let app = dpop_app(&auth);
    let key = DpopKey::es256();
    let bound = TokenRequest::new("alice").confirmation(key.confirmation());
    let attacks = AttackTokens::for_auth(&auth, &bound).unwrap();
    let run =
        tokio::spawn(async move { attacks.assert_refused_by(&app, Method::GET, "/me").await });
    let panic = run.await.unwrap_err().into_panic();
    let msg = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(msg.contains("requires DPoP"), "{msg}");
    assert!(msg.contains("assert_refused_by_dpop"), "{msg}");
}
