//! The whole request path through an axum `Router` (no sockets): bare, behind a
//! hand-written `from_fn` middleware calling `jsonwebtoken::decode`, and behind our layer
//! (HS256 and RS256, cache on and off; in-memory revocation check always on; a handler
//! taking another claims type than the layer's; an external issuer's RS256 token, cache
//! on and off). Reported
//! per request; the ratios to `bare` are what matters. The socket-level comparison with
//! peer crates lives in `bench-http/` (`scripts/bench-http.sh`).

use std::hint::black_box;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum_token_auth::{Key, TokenAuth, TokenRequest, token::Algorithm};
use criterion::{Criterion, criterion_group, criterion_main};
use http::StatusCode;
use jsonwebtoken::{DecodingKey, Validation};
use serde::Deserialize;
use tower::ServiceExt;

const SECRET: &str = "bench-only-secret-0123456789-abcdefghijklmnopqrstuvwxyz";
const RSA_PRIVATE: &str = include_str!("fixtures/rsa2048.pem");

#[derive(Deserialize, Clone)]
#[allow(dead_code)]
struct HandClaims {
    sub: String,
    exp: u64,
}

async fn hello() -> &'static str {
    "hello"
}

fn request(token: Option<&str>) -> http::Request<Body> {
    let mut b = http::Request::get("/hello");
    if let Some(t) = token {
        b = b.header("authorization", format!("Bearer {t}"));
    }
    b.body(Body::empty()).unwrap()
}

fn handwritten() -> Router {
    let key = DecodingKey::from_secret(SECRET.as_bytes());
    let mut validation = Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.validate_aud = false;
    let state = std::sync::Arc::new((key, validation));
    Router::new()
        .route("/hello", get(hello))
        .layer(middleware::from_fn(move |mut req: Request, next: Next| {
            let state = state.clone();
            async move {
                let token = req
                    .headers()
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.strip_prefix("Bearer "));
                let Some(token) = token else {
                    return StatusCode::UNAUTHORIZED.into_response();
                };
                match jsonwebtoken::decode::<HandClaims>(token, &state.0, &state.1) {
                    Ok(data) => {
                        req.extensions_mut().insert(data.claims);
                        next.run(req).await
                    }
                    Err(_) => StatusCode::UNAUTHORIZED.into_response(),
                }
            }
        }))
}

fn ours(auth: &TokenAuth) -> Router {
    Router::new()
        .route("/hello", get(hello))
        .layer(auth.layer())
}

/// A handler taking `Claims<T>` of another type than the layer decodes: decoded per
/// request from the verified claims JSON.
fn ours_other_claims_type(auth: &TokenAuth) -> Router {
    #[derive(Deserialize)]
    #[allow(dead_code)]
    struct Mine {
        #[serde(default)]
        org: Option<String>,
    }
    async fn typed(_: axum_token_auth::Claims<Mine>) -> &'static str {
        "hello"
    }
    Router::new()
        .route("/hello", get(typed))
        .layer(auth.layer())
}

const IDP: &str = "https://idp.bench.example/realms/bench";

/// A verify-only authority trusting an external issuer (static RS256 key), and a
/// Keycloak-shaped token of it (`typ: JWT`, no `jti`, roles in `realm_access`).
fn external(cache: usize) -> (TokenAuth, String) {
    let private = Key::from_pem(Algorithm::RS256, RSA_PRIVATE).unwrap();
    let public = Key::from_jwk(&private.public_jwk().unwrap(), None)
        .unwrap()
        .with_kid("idp-1");
    let auth = TokenAuth::builder()
        .trust(
            axum_token_auth::trust::Issuer::keys(IDP, [public])
                .audience("bench-api")
                .scope_claims([
                    axum_token_auth::trust::ScopeClaim::path("scope"),
                    axum_token_auth::trust::ScopeClaim::path("realm_access.roles"),
                ]),
        )
        .verified_cache_capacity(cache)
        .build()
        .unwrap();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some("idp-1".into());
    header.typ = Some("JWT".into());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = serde_json::json!({
        "iss": IDP, "sub": "user-1", "aud": "bench-api", "iat": now, "exp": now + 3600,
        "typ": "Bearer", "azp": "bench", "scope": "openid profile",
        "realm_access": {"roles": ["users:read"]},
    });
    let token = jsonwebtoken::encode(
        &header,
        &claims,
        &jsonwebtoken::EncodingKey::from_rsa_pem(RSA_PRIVATE.as_bytes()).unwrap(),
    )
    .unwrap();
    (auth, token)
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let hs = TokenAuth::builder().hs256_secret(SECRET).build().unwrap();
    let hs_nocache = TokenAuth::builder()
        .hs256_secret(SECRET)
        .verified_cache_capacity(0)
        .build()
        .unwrap();
    let rs_key = Key::from_pem(Algorithm::RS256, RSA_PRIVATE).unwrap();
    let rs = TokenAuth::builder()
        .signing_key(rs_key.clone())
        .build()
        .unwrap();
    let rs_nocache = TokenAuth::builder()
        .signing_key(rs_key)
        .verified_cache_capacity(0)
        .build()
        .unwrap();
    let hs_token = hs.issue_access(&TokenRequest::new("bench")).unwrap();
    let rs_token = rs.issue_access(&TokenRequest::new("bench")).unwrap();
    let (ext, ext_token) = external(1024);
    let (ext_nocache, _) = external(0);

    let cases: Vec<(&str, Router, Option<&str>)> = vec![
        // Every case gets the same request (bare ignores the header), so the difference
        // is the middleware alone.
        (
            "bare",
            Router::new().route("/hello", get(hello)),
            Some(hs_token.as_str()),
        ),
        ("handwritten_hs256", handwritten(), Some(hs_token.as_str())),
        ("ours_hs256_cached", ours(&hs), Some(hs_token.as_str())),
        (
            "ours_hs256_uncached",
            ours(&hs_nocache),
            Some(hs_token.as_str()),
        ),
        ("ours_rs256_cached", ours(&rs), Some(rs_token.as_str())),
        (
            "ours_rs256_uncached",
            ours(&rs_nocache),
            Some(rs_token.as_str()),
        ),
        (
            "ours_hs256_cached_other_claims_type",
            ours_other_claims_type(&hs),
            Some(hs_token.as_str()),
        ),
        (
            "ours_external_rs256_cached",
            ours(&ext),
            Some(ext_token.as_str()),
        ),
        (
            "ours_external_rs256_uncached",
            ours(&ext_nocache),
            Some(ext_token.as_str()),
        ),
    ];
    let mut g = c.benchmark_group("layer");
    g.warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30);
    for (name, app, token) in cases {
        // Never benchmark a broken setup.
        let res: Response = rt.block_on(app.clone().oneshot(request(token))).unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{name}");
        g.bench_function(name, |b| {
            b.to_async(&rt).iter(|| {
                let app = app.clone();
                async move { black_box(app.oneshot(request(token)).await.unwrap()) }
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().without_plots();
    targets = bench
}
criterion_main!(benches);
