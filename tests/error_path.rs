//! One error path: an `AuthError` or `SessionError` returned by a handler is rendered by
//! the configured renderer (the layer renders it again on the way out, keeping its
//! `Set-Cookie` headers); a misconfiguration 500 sends a generic body; custom bodies
//! get the RFC 6750 headers from `AuthError::into_response_with`; and `RequireAnyScope`'s
//! 403 names every accepted scope.

mod common;

use axum::Router;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum_token_auth::http::ErrorRenderer;
use axum_token_auth::session::SessionError;
use axum_token_auth::store::StoreError;
use axum_token_auth::token::InvalidToken;
use axum_token_auth::{AuthError, Claims, RequireAnyScope, scope};
use http::StatusCode;
use http::header::{SET_COOKIE, WWW_AUTHENTICATE};

use common::{auth, body_text, builder, get_req, issue, refusal, send, send_get};

scope! {
    pub Read = "docs:read";
    pub Admin = "docs:admin";
}

/// Renders `custom <code>` as text, with the RFC 6750 headers.
struct Custom;

impl ErrorRenderer for Custom {
    fn render(&self, error: &AuthError, realm: &str) -> Response {
        let body = format!("custom {}", error.error_code().unwrap_or("unauthorized"));
        let mut res = (error.status(), body).into_response();
        error.apply_headers(res.headers_mut(), realm);
        res
    }
}

async fn handler_refuses() -> Result<String, AuthError> {
    Err(AuthError::InvalidToken(InvalidToken::Revoked))
}

async fn refuses_and_clears_a_cookie() -> Response {
    let mut res = AuthError::InvalidToken(InvalidToken::Revoked).into_response();
    res.headers_mut()
        .append(SET_COOKIE, "session=; Max-Age=0".parse().unwrap());
    res
}

async fn login_wrong_password() -> Result<String, SessionError> {
    Err(SessionError::InvalidCredentials)
}

async fn login_store_down() -> Result<String, SessionError> {
    Err(SessionError::Store(StoreError::Unavailable(
        "redis://secret-host:6379 refused".into(),
    )))
}

fn app(auth: &axum_token_auth::TokenAuth) -> Router {
    Router::new()
        .route("/refuse", get(handler_refuses))
        .route("/cookie", get(refuses_and_clears_a_cookie))
        .route("/login/wrong", get(login_wrong_password))
        .route("/login/down", get(login_store_down))
        .route(
            "/docs",
            get(|_: RequireAnyScope<(Read, Admin)>| async { "ok" }),
        )
        .layer(auth.layer().optional())
}

#[tokio::test]
async fn a_handlers_auth_error_is_rendered_by_the_configured_renderer() {
    let auth = builder()
        .error_renderer(Custom)
        .realm("docs")
        .build()
        .unwrap();
    let res = send_get(&app(&auth), "/refuse", None).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let challenge = res.headers()[WWW_AUTHENTICATE].to_str().unwrap().to_owned();
    assert!(
        challenge.starts_with("Bearer realm=\"docs\""),
        "{challenge}"
    );
    assert_eq!(
        res.extensions().get::<AuthError>(),
        Some(&AuthError::InvalidToken(InvalidToken::Revoked))
    );
    assert_eq!(body_text(res).await, "custom invalid_token");
}

#[tokio::test]
async fn the_rerendered_response_keeps_its_set_cookie_headers() {
    let auth = builder().error_renderer(Custom).build().unwrap();
    let res = send_get(&app(&auth), "/cookie", None).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(res.headers()[SET_COOKIE], "session=; Max-Age=0");
    assert_eq!(body_text(res).await, "custom invalid_token");
}

#[tokio::test]
async fn login_errors_answer_by_cause() {
    let auth = builder().error_renderer(Custom).build().unwrap();
    let app = app(&auth);
    let res = send_get(&app, "/login/wrong", None).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(res.headers()[WWW_AUTHENTICATE], "Bearer realm=\"api\"");
    assert_eq!(body_text(res).await, "custom invalid_grant");

    let res = send_get(&app, "/login/down", None).await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(res.headers()["retry-after"], "1");
    let body = body_text(res).await;
    assert_eq!(body, "custom temporarily_unavailable");
    assert!(!body.contains("secret-host"));

    // Without a layer: the default JSON renderer.
    let res = SessionError::InvalidCredentials.into_response();
    let r = refusal(res).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.body["error"], "invalid_grant");
}

#[tokio::test]
async fn a_misconfiguration_500_sends_a_generic_body() {
    // An extractor on a route without the layer.
    let app: Router = Router::new().route("/me", get(|c: Claims| async move { c.sub.clone() }));
    let r = refusal(send(&app, get_req("/me", None)).await).await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(r.body["error"], "server_error");
    assert_eq!(r.body["error_description"], "internal server error");
    // The detail stays in the error (and the logs).
    let detail = r.error.expect("the error is attached").to_string();
    assert!(detail.contains("TokenAuthLayer"), "{detail}");
}

#[tokio::test]
async fn into_response_with_puts_the_rfc_6750_headers_on_a_custom_body() {
    let res = AuthError::StoreUnavailable.into_response_with("api", "come back later");
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(res.headers()["retry-after"], "1");
    assert_eq!(res.headers()["cache-control"], "no-store");
    assert!(res.headers().get(WWW_AUTHENTICATE).is_none());
    assert_eq!(body_text(res).await, "come back later");

    // Behind a layer it is not rendered again: the body is the handler's.
    let auth = auth();
    let app = Router::new()
        .route(
            "/",
            get(|| async {
                AuthError::MissingCredentials.into_response_with("api", "please log in")
            }),
        )
        .layer(auth.layer().optional());
    let res = send_get(&app, "/", None).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(res.headers()[WWW_AUTHENTICATE], "Bearer realm=\"api\"");
    assert_eq!(body_text(res).await, "please log in");
}

#[tokio::test]
async fn require_any_scope_names_every_accepted_scope() {
    let auth = auth();
    let token = issue(&auth, "alice", &["docs:write"]);
    let r = refusal(send_get(&app(&auth), "/docs", Some(&token)).await).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let challenge = r.www_authenticate.unwrap();
    assert!(
        challenge.contains("scope=\"docs:read docs:admin\""),
        "{challenge}"
    );
    // One of them suffices.
    let reader = issue(&auth, "bob", &["docs:read"]);
    let res = send_get(&app(&auth), "/docs", Some(&reader)).await;
    assert_eq!(res.status(), StatusCode::OK);
}

async fn refuses_with_cors() -> Response {
    let mut res = AuthError::InvalidToken(InvalidToken::Revoked).into_response();
    let h = res.headers_mut();
    h.append(
        "access-control-allow-origin",
        "https://app.example.com".parse().unwrap(),
    );
    h.append("vary", "origin".parse().unwrap());
    h.append("vary", "cookie".parse().unwrap());
    res
}

async fn refusal_made_a_redirect() -> Response {
    let mut res = AuthError::MissingCredentials.into_response();
    *res.status_mut() = StatusCode::FOUND;
    res.headers_mut()
        .insert("location", "/login".parse().unwrap());
    res
}

#[tokio::test]
async fn the_rerendered_response_keeps_the_headers_inner_layers_added() {
    let auth = builder().error_renderer(Custom).build().unwrap();
    let app = Router::new()
        .route("/cors", get(refuses_with_cors))
        .layer(auth.layer().optional());
    let res = send_get(&app, "/cors", None).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        res.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    let vary: Vec<_> = res.headers().get_all("vary").iter().collect();
    assert_eq!(
        vary,
        ["origin", "cookie"],
        "every value of a repeated header"
    );
    // The refusal's own headers are the configured rendering's, once.
    assert_eq!(res.headers().get_all(WWW_AUTHENTICATE).iter().count(), 1);
    assert_eq!(body_text(res).await, "custom invalid_token");
}

#[tokio::test]
async fn a_refusal_an_inner_layer_turned_into_something_else_is_left_alone() {
    let auth = builder().error_renderer(Custom).build().unwrap();
    let app = Router::new()
        .route("/r", get(refusal_made_a_redirect))
        .layer(auth.layer().optional());
    let res = send_get(&app, "/r", None).await;
    assert_eq!(res.status(), StatusCode::FOUND);
    assert_eq!(res.headers()["location"], "/login");
}
