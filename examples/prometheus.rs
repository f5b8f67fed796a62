//! The crate's metrics in Prometheus' text format on `GET /metrics`.
//!
//! ```sh
//! cargo run --example prometheus --features metrics
//! curl localhost:3000/login                       # issues a token (demo only)
//! curl localhost:3000/me -H "Authorization: Bearer $TOKEN"
//! curl localhost:3000/metrics                     # token_auth_* counters, histograms, gauges
//! ```
//!
//! The exporter is the application's choice: `axum-token-auth` only records through the
//! `metrics` facade (feature `metrics`). Here `metrics-exporter-prometheus` without its
//! HTTP listener renders into a route of the app itself.

use axum::Router;
use axum::routing::get;
use axum_token_auth::{Claims, TokenAuth, TokenRequest};
use metrics_exporter_prometheus::PrometheusBuilder;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let prometheus = PrometheusBuilder::new().install_recorder()?;
    let auth = TokenAuth::builder()
        .hs256_secret("a-random-secret-of-at-least-32-bytes!!")
        .build()?;

    let issuer = auth.clone();
    let app = Router::new()
        .route("/me", get(|c: Claims| async move { c.sub.clone() }))
        .layer(auth.layer())
        .route(
            "/login",
            get(move || {
                let issuer = issuer.clone();
                async move {
                    issuer
                        .issue_access(&TokenRequest::new("alice"))
                        .map(|t| t.into_string())
                        .unwrap_or_default()
                }
            }),
        )
        .route("/metrics", get(move || async move { prometheus.render() }));

    let addr = std::env::var("ADDR").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on http://{addr}: /login, /me, /metrics");
    Ok(axum::serve(listener, app).await?)
}
