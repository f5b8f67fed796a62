//! The OpenAPI document (feature `utoipa`): security schemes from the configuration (or
//! without one) and requirements from the `scope!` markers, added to a document utoipa's
//! derive macros built or collected by utoipa-axum's router from the guards that enforce
//! them, asserted as JSON and, for the guards, over real requests.

use axum::Router;
use axum::http::{Method, StatusCode};
use axum_token_auth::http::openapi::{BEARER_SCHEME, COOKIE_SCHEME, OpenApiError, SecuritySchemes};
use axum_token_auth::testing::test_builder;
use axum_token_auth::{
    Claims, RequireAllScopes, RequireAnyScope, RequireScope, TokenAuth, TokenRequest, scope,
};
use serde_json::{Value, json};
use utoipa::openapi::HttpMethod;
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::common::{request, send};

scope! {
    pub UsersRead = "users:read";
    pub UsersWrite = "users:write";
    pub Admin = "admin";
}

#[utoipa::path(get, path = "/me", responses((status = 200, description = "the subject")))]
#[allow(dead_code)]
async fn me() {}

#[utoipa::path(post, path = "/users", responses((status = 201, description = "created")))]
#[allow(dead_code)]
async fn create(_: RequireScope<UsersWrite>) {}

#[utoipa::path(get, path = "/reports", responses((status = 200, description = "reports")))]
#[allow(dead_code)]
async fn reports(_: RequireAnyScope<(Admin, UsersRead)>) {}

#[derive(OpenApi)]
#[openapi(paths(me, create, reports))]
struct ApiDoc;

fn document(auth: &TokenAuth) -> Value {
    let mut doc = ApiDoc::openapi();
    let security: SecuritySchemes = auth.web().openapi_security();
    security.modify(&mut doc);
    security
        .secure(&mut doc, HttpMethod::Get, "/me", security.authenticated())
        .unwrap();
    security
        .secure(
            &mut doc,
            HttpMethod::Post,
            "/users",
            security.require::<UsersWrite>(),
        )
        .unwrap();
    security
        .secure(
            &mut doc,
            HttpMethod::Get,
            "/reports",
            security.require_any::<(Admin, UsersRead)>(),
        )
        .unwrap();
    assert_eq!(
        security.secure(&mut doc, HttpMethod::Delete, "/users", vec![]),
        Err(OpenApiError::NoSuchOperation {
            method: Method::DELETE,
            path: "/users".into()
        }),
        "no such operation"
    );
    serde_json::to_value(&doc).unwrap()
}

#[test]
fn security_schemes_and_requirements_come_from_the_configuration_and_the_markers() {
    let auth = TokenAuth::builder()
        .hs256_secret("openapi-test-secret-0123456789-abcdefghijkl")
        .build()
        .unwrap();
    let doc = document(&auth);
    assert_eq!(
        doc["components"]["securitySchemes"],
        json!({
            "bearer": {
                "type": "http",
                "scheme": "bearer",
                "bearerFormat": "JWT",
                "description": "An access token (`typ: at+jwt`) in `Authorization: Bearer`."
            },
            "access_cookie": {
                "type": "apiKey",
                "in": "cookie",
                "name": "__Host-access_token",
                "description": "The access token in the `__Host-access_token` cookie (set at login). Requests with unsafe methods also send the `csrf_token` cookie's value in `x-csrf-token`."
            }
        })
    );
    assert_eq!(
        doc["paths"]["/me"]["get"]["security"],
        json!([{ "bearer": [] }, { "access_cookie": [] }])
    );
    assert_eq!(
        doc["paths"]["/users"]["post"]["security"],
        json!([{ "bearer": ["users:write"] }, { "access_cookie": ["users:write"] }])
    );
    assert_eq!(
        doc["paths"]["/reports"]["get"]["security"],
        json!([
            { "bearer": ["admin"] },
            { "bearer": ["users:read"] },
            { "access_cookie": ["admin"] },
            { "access_cookie": ["users:read"] }
        ])
    );
}

#[test]
fn the_cookie_scheme_follows_the_cookie_settings_and_disappears_without_a_cookie() {
    let dev = test_builder().access_cookie("session").build().unwrap();
    let doc = document(&dev);
    assert_eq!(
        doc["components"]["securitySchemes"][COOKIE_SCHEME]["name"],
        "session"
    );

    let header_only = test_builder().without_access_cookie().build().unwrap();
    let doc = document(&header_only);
    let schemes = doc["components"]["securitySchemes"].as_object().unwrap();
    assert_eq!(schemes.keys().collect::<Vec<_>>(), [BEARER_SCHEME]);
    assert_eq!(
        doc["paths"]["/users"]["post"]["security"],
        json!([{ "bearer": ["users:write"] }])
    );
}

#[test]
fn a_requirement_for_a_missing_operation_is_an_error_naming_it() {
    let schemes = SecuritySchemes::new();
    let mut doc = ApiDoc::openapi();
    // The path exists with another method; the method exists on another path.
    for (method, path, shown) in [
        (HttpMethod::Put, "/users", "PUT /users"),
        (HttpMethod::Get, "/user", "GET /user"),
    ] {
        let err = schemes
            .secure(&mut doc, method, path, schemes.authenticated())
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("the OpenAPI document has no operation {shown}")
        );
    }
    let untouched = serde_json::to_value(&doc).unwrap();
    assert!(
        untouched["paths"]["/users"]["post"]
            .get("security")
            .is_none()
    );
}

/// The schemes for `#[openapi(modifiers(&…))]`, built without a runtime authority.
const SCHEMES: SecuritySchemes = SecuritySchemes::new();

#[derive(OpenApi)]
#[openapi(modifiers(&SCHEMES))]
struct GuardedDoc;

/// Handlers documented with `#[utoipa::path]` and routed by utoipa-axum; none of them
/// takes a guard: the routes are guarded where they are mounted.
mod handlers {
    use axum_token_auth::Claims;

    #[utoipa::path(get, path = "/me", responses((status = 200, description = "the subject")))]
    pub async fn me(claims: Claims) -> String {
        claims.sub.clone()
    }

    #[utoipa::path(post, path = "/users", responses((status = 201, description = "created")))]
    pub async fn create_user() -> &'static str {
        "created"
    }

    #[utoipa::path(get, path = "/reports", responses((status = 200, description = "reports")))]
    pub async fn reports() -> &'static str {
        "reports"
    }

    #[utoipa::path(delete, path = "/users", responses((status = 204, description = "purged")))]
    pub async fn purge() -> &'static str {
        "purged"
    }

    #[utoipa::path(get, path = "/feed", responses((status = 200, description = "the feed")))]
    pub async fn feed(claims: Option<Claims>) -> String {
        claims.map_or_else(|| "anonymous".into(), |c| c.sub.clone())
    }

    #[utoipa::path(get, path = "/health", responses((status = 200, description = "ok")))]
    pub async fn health() -> &'static str {
        "ok"
    }
}

/// The app and its document, each route guarded by the extractor that documents it.
fn guarded(auth: &TokenAuth, schemes: &SecuritySchemes) -> (Router, Value) {
    use handlers::*;
    let (app, api) = OpenApiRouter::with_openapi(GuardedDoc::openapi())
        .routes(schemes.guard::<Claims, _>(routes!(me)))
        .routes(schemes.guard::<RequireScope<UsersWrite>, _>(routes!(create_user)))
        .routes(schemes.guard::<RequireAnyScope<(Admin, UsersRead)>, _>(routes!(reports)))
        .routes(schemes.guard::<RequireAllScopes<(Admin, UsersWrite)>, _>(routes!(purge)))
        .routes(schemes.guard::<Option<Claims>, _>(routes!(feed)))
        .routes(routes!(health))
        .split_for_parts();
    (
        app.layer(auth.layer().optional()),
        serde_json::to_value(&api).unwrap(),
    )
}

#[test]
fn guarded_routes_document_the_requirement_of_their_guard() {
    let auth = TokenAuth::builder()
        .hs256_secret("openapi-test-secret-0123456789-abcdefghijkl")
        .build()
        .unwrap();
    let (_, doc) = guarded(&auth, &auth.web().openapi_security());
    let paths = &doc["paths"];
    assert_eq!(
        paths["/me"]["get"]["security"],
        json!([{ "bearer": [] }, { "access_cookie": [] }])
    );
    assert_eq!(
        paths["/users"]["post"]["security"],
        json!([{ "bearer": ["users:write"] }, { "access_cookie": ["users:write"] }])
    );
    // Two guards on one path, by method: each operation keeps its own.
    assert_eq!(
        paths["/users"]["delete"]["security"],
        json!([
            { "bearer": ["admin", "users:write"] },
            { "access_cookie": ["admin", "users:write"] }
        ])
    );
    assert_eq!(
        paths["/reports"]["get"]["security"],
        json!([
            { "bearer": ["admin"] },
            { "bearer": ["users:read"] },
            { "access_cookie": ["admin"] },
            { "access_cookie": ["users:read"] }
        ])
    );
    assert_eq!(
        paths["/feed"]["get"]["security"],
        json!([{ "bearer": [] }, { "access_cookie": [] }, {}])
    );
    assert!(paths["/health"]["get"].get("security").is_none());
    // The schemes came from the derive's modifier, without a runtime authority.
    assert_eq!(
        doc["components"]["securitySchemes"]["access_cookie"]["name"],
        "__Host-access_token"
    );
}

#[tokio::test]
async fn guarded_routes_enforce_what_they_document() {
    let auth = TokenAuth::builder()
        .hs256_secret("openapi-test-secret-0123456789-abcdefghijkl")
        .build()
        .unwrap();
    let (app, _) = guarded(&auth, &SCHEMES);
    let token = |scopes: &[&str]| {
        auth.issue_access(&TokenRequest::new("alice").scopes(scopes.iter().copied()))
            .unwrap()
            .as_str()
            .to_owned()
    };
    let reader = token(&["users:read"]);
    let writer = token(&["users:write"]);
    let admin_writer = token(&["admin", "users:write"]);

    let status = |method: Method, path: &'static str, bearer: Option<String>| {
        let app = app.clone();
        async move {
            let res = send(&app, request(method, path, bearer.as_deref())).await;
            let refused = res
                .extensions()
                .get::<axum_token_auth::AuthError>()
                .cloned();
            (res.status(), refused.map(|e| e.to_string()))
        }
    };
    use StatusCode as S;
    // No token: the guarded routes answer 401, the public and optional ones serve.
    assert_eq!(status(Method::GET, "/me", None).await.0, S::UNAUTHORIZED);
    assert_eq!(
        status(Method::POST, "/users", None).await.0,
        S::UNAUTHORIZED
    );
    assert_eq!(status(Method::GET, "/health", None).await.0, S::OK);
    assert_eq!(status(Method::GET, "/feed", None).await.0, S::OK);
    // A token without the scope: 403 insufficient_scope, as the guard's extractor answers.
    let (code, refused) = status(Method::POST, "/users", Some(reader.clone())).await;
    assert_eq!(code, S::FORBIDDEN);
    assert!(refused.is_some(), "the refusal is attached to the response");
    assert_eq!(
        status(Method::POST, "/users", Some(writer.clone())).await.0,
        S::OK
    );
    // Any one scope of the list; all of them.
    assert_eq!(
        status(Method::GET, "/reports", Some(reader.clone()))
            .await
            .0,
        S::OK
    );
    assert_eq!(
        status(Method::GET, "/reports", Some(writer.clone()))
            .await
            .0,
        S::FORBIDDEN
    );
    assert_eq!(
        status(Method::DELETE, "/users", Some(writer)).await.0,
        S::FORBIDDEN
    );
    assert_eq!(
        status(Method::DELETE, "/users", Some(admin_writer)).await.0,
        S::OK
    );
    assert_eq!(status(Method::GET, "/me", Some(reader)).await.0, S::OK);
}

#[test]
fn schemes_without_a_runtime_authority_agree_with_the_live_configuration() {
    let default = TokenAuth::builder()
        .hs256_secret("openapi-test-secret-0123456789-abcdefghijkl")
        .build()
        .unwrap();
    assert_eq!(default.web().openapi_security(), SecuritySchemes::new());
    assert_eq!(default.web().openapi_security(), SecuritySchemes::default());

    // As documents: the derive's `modifiers(&SCHEMES)` and the live `modify` write the
    // same components.
    let derived = serde_json::to_value(GuardedDoc::openapi()).unwrap();
    let mut live = utoipa::openapi::OpenApiBuilder::new().build();
    default.web().openapi_security().modify(&mut live);
    let live = serde_json::to_value(&live).unwrap();
    assert_eq!(derived["components"], live["components"]);
    assert_eq!(
        derived["components"]["securitySchemes"]
            .as_object()
            .unwrap()
            .len(),
        2
    );

    // The builder methods follow the builder's settings.
    let session = test_builder().access_cookie("session").build().unwrap();
    assert_eq!(
        session.web().openapi_security(),
        SecuritySchemes::new().access_cookie("session")
    );
    let header_only = test_builder().without_access_cookie().build().unwrap();
    assert_eq!(
        header_only.web().openapi_security(),
        SecuritySchemes::new().without_access_cookie()
    );
}

#[tokio::test]
async fn the_openapi_example_serves_the_requirement_its_guard_enforces() {
    use tokio::io::AsyncBufReadExt;
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let addr = format!("127.0.0.1:{port}");
    let mut child = tokio::process::Command::new(crate::examples::example("openapi"))
        .env("ADDR", &addr)
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(std::time::Duration::from_secs(30), lines.next_line())
        .await
        .expect("the openapi example did not start")
        .unwrap()
        .unwrap();
    assert!(first.contains(&addr), "{first}");

    let http = reqwest::Client::new();
    let doc: Value = http
        .get(format!("http://{addr}/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        doc["paths"]["/users"]["post"]["security"],
        json!([{ "bearer": ["users:write"] }, { "access_cookie": ["users:write"] }])
    );
    let refused = http
        .post(format!("http://{addr}/users"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    assert_eq!(refused.headers()["content-type"], "application/json");
    drop(child);
}
