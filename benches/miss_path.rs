//! A fixed number of requests through the layer, for profilers rather than timing:
//! instruction counts under callgrind, or `perf record`, are steady on a busy machine
//! where wall-clock benches are not.
//!
//! ```text
//! cargo bench --bench miss_path --no-run
//! valgrind --tool=callgrind target/release/deps/miss_path-<hash> hs256_uncached 20000
//! ```
//!
//! Cases: `bare`, `hs256_uncached`, `hs256_cached`, `rs256_uncached`. Subtract `bare`'s
//! count and divide by the requests for what the layer costs per request. The hit path is
//! counted more closely (only the measured loop, allocations too) by
//! `benches/hit_path.rs`.

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use axum_token_auth::{Key, TokenAuth, TokenRequest, token::Algorithm};
use tower::ServiceExt;

const SECRET: &str = "bench-only-secret-0123456789-abcdefghijklmnopqrstuvwxyz";
const RSA_PRIVATE: &str = include_str!("fixtures/rsa2048.pem");

async fn hello(_: axum_token_auth::Claims) -> &'static str {
    "hello"
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // `cargo bench` runs every bench target with `--bench`: do nothing then.
    if args.first().is_none_or(|a| a.starts_with("--")) {
        return;
    }
    let case = args[0].as_str();
    let n: usize = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(20_000);
    let cache = if case.ends_with("_cached") { 16_384 } else { 0 };
    let (auth, token) = match case {
        "bare" | "hs256_uncached" | "hs256_cached" => {
            let a = TokenAuth::builder()
                .hs256_secret(SECRET)
                .verified_cache_capacity(cache)
                .build()
                .unwrap();
            let t = a.issue_access(&TokenRequest::new("bench")).unwrap();
            (a, t.into_string())
        }
        "rs256_uncached" => {
            let a = TokenAuth::builder()
                .signing_key(Key::from_pem(Algorithm::RS256, RSA_PRIVATE).unwrap())
                .verified_cache_capacity(0)
                .build()
                .unwrap();
            let t = a.issue_access(&TokenRequest::new("bench")).unwrap();
            (a, t.into_string())
        }
        other => panic!("unknown case {other}"),
    };
    let app: Router = if case == "bare" {
        Router::new().route("/hello", get(|| async { "hello" }))
    } else {
        Router::new()
            .route("/hello", get(hello))
            .layer(auth.layer())
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let header = format!("Bearer {token}");
    rt.block_on(async {
        for _ in 0..n {
            let req = http::Request::get("/hello")
                .header("authorization", &header)
                .body(Body::empty())
                .unwrap();
            let res = app.clone().oneshot(req).await.unwrap();
            assert_eq!(res.status(), 200);
        }
    });
}
