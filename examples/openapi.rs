//! An OpenAPI document whose security requirements come from the guards that enforce them.
//!
//! ```sh
//! cargo run --example openapi --features utoipa
//! curl localhost:3000/openapi.json         # /users post: security [{bearer: [users:write]}, …]
//! curl -i -X POST localhost:3000/users     # 401 from the guard that requirement came from
//! ```

use axum::Json;
use axum::routing::get;
use axum_token_auth::http::openapi::SecuritySchemes;
use axum_token_auth::{Claims, RequireScope, TokenAuth, scope};
use utoipa::OpenApi;
use utoipa_axum::{router::OpenApiRouter, routes};

scope!(pub UsersWrite = "users:write");

#[utoipa::path(get, path = "/me", responses((status = 200, description = "the subject")))]
async fn me(claims: Claims) -> String {
    claims.sub.clone()
}

#[utoipa::path(post, path = "/users", responses((status = 201, description = "created")))]
async fn create_user() -> &'static str {
    "created"
}

const SCHEMES: SecuritySchemes = SecuritySchemes::new();

#[derive(OpenApi)]
#[openapi(modifiers(&SCHEMES))]
struct ApiDoc;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let auth = TokenAuth::builder()
        .hs256_secret("a-random-secret-of-at-least-32-bytes!!")
        .build()?;
    // The const schemes must be the ones this configuration reads (cookie, CSRF header).
    if SCHEMES != auth.web().openapi_security() {
        return Err("the OpenAPI schemes differ from the configuration".into());
    }
    let (app, api) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(SCHEMES.guard::<Claims, _>(routes!(me)))
        .routes(SCHEMES.guard::<RequireScope<UsersWrite>, _>(routes!(create_user)))
        .split_for_parts();
    // Optional: the guards, not the layer, refuse what the document says they refuse.
    let app = app
        .layer(auth.layer().optional())
        .route("/openapi.json", get(move || async move { Json(api) }));

    let addr = std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on http://{addr} (GET /openapi.json)");
    axum::serve(listener, app).await?;
    Ok(())
}
