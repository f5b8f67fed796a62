//! The OpenAPI document (feature `utoipa`): security schemes from the configuration (or
//! without one) and requirements from the `scope!` markers, added to a document utoipa's
//! derive macros built or collected by utoipa-axum's router from the guards that enforce
//! them, asserted as JSON and, for the guards, over real requests.

use axum::http::Method;
use axum_token_auth::http::openapi::{BEARER_SCHEME, COOKIE_SCHEME, OpenApiError, SecuritySchemes};
use axum_token_auth::testing::test_builder;
use axum_token_auth::{RequireAnyScope, RequireScope, TokenAuth, scope};
use serde_json::{Value, json};
use utoipa::openapi::HttpMethod;
use utoipa::{Modify, OpenApi};

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

const SCHEMES: SecuritySchemes = SecuritySchemes::new();

#[derive(OpenApi)]
#[openapi(modifiers(&SCHEMES))]
struct DerivedDoc;

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
    let derived = serde_json::to_value(DerivedDoc::openapi()).unwrap();
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
