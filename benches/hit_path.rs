//! The layer's cost on a cache hit, counted where a busy machine cannot blur it:
//! instructions (callgrind) and heap allocations (this binary's allocator) per request,
//! over a bare router. A fixed number of requests through a real `Router`; the hit path's
//! target is ≤ 1 000 instructions and 0 allocations over bare, in bearer and cookie mode.
//!
//! ```text
//! cargo bench --bench hit_path            # the table (instructions when valgrind is installed)
//! cargo bench --bench hit_path --no-run   # or one case by hand:
//! valgrind --tool=callgrind --collect-atstart=no --toggle-collect=hit_path::measured_requests \
//!     target/release/deps/hit_path-<hash> cookie_cached 10000
//! ```
//!
//! Cases: `bare` (no layer, the same `Authorization` header), `noop_layer` (a layer that
//! only passes requests on: what any layer on an axum route costs — axum clones and boxes
//! a layered route's service and future on every request), `bearer_cached` (an HS256
//! access token in `Authorization: Bearer`, the verified-token cache warm),
//! `cookie_cached` (the same token in the access cookie, a safe `GET`), and
//! `bearer_uncached` (cache off, for scale; `benches/miss_path.rs` profiles misses).
//! Only the measured loop is counted: building the handle, issuing the token and warming
//! the cache are not. The handler takes `Claims` (the claims handed over are part of the
//! hit); the in-memory revocation check runs on every request, as in production.

use std::alloc::{GlobalAlloc, Layout, System};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use axum_token_auth::{TokenAuth, TokenRequest};
use http::HeaderValue;
use tower::ServiceExt;

const SECRET: &str = "bench-only-secret-0123456789-abcdefghijklmnopqrstuvwxyz";
const CASES: [&str; 5] = [
    "bare",
    "noop_layer",
    "bearer_cached",
    "cookie_cached",
    "bearer_uncached",
];
/// Requests per case in the table.
const TABLE_REQUESTS: usize = 10_000;

/// The system allocator, counting allocations (`alloc`, `alloc_zeroed`, `realloc`).
struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// A layer that passes every request on; like most layers, its service holds shared
/// state (an `Arc`).
#[derive(Clone)]
struct NoopLayer(Arc<()>);

#[derive(Clone)]
struct Noop<S> {
    inner: S,
    _state: Arc<()>,
}

impl<S> tower::Layer<S> for NoopLayer {
    type Service = Noop<S>;
    fn layer(&self, inner: S) -> Noop<S> {
        Noop {
            inner,
            _state: Arc::clone(&self.0),
        }
    }
}

impl<S: tower::Service<R>, R> tower::Service<R> for Noop<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }
    fn call(&mut self, req: R) -> S::Future {
        self.inner.call(req)
    }
}

async fn hello(_: axum_token_auth::Claims) -> &'static str {
    "hello"
}

/// The router of `case` and the header every request carries.
fn setup(case: &str) -> (Router, http::HeaderName, HeaderValue) {
    let cache = if case.ends_with("_cached") { 16_384 } else { 0 };
    let auth = TokenAuth::builder()
        .hs256_secret(SECRET)
        .verified_cache_capacity(cache)
        .build()
        .unwrap();
    let token = auth.issue_access(&TokenRequest::new("bench")).unwrap();
    let (name, value) = if case.starts_with("cookie") {
        let cookie = auth
            .web()
            .access_cookie_name()
            .expect("the access cookie is on");
        (http::header::COOKIE, format!("{cookie}={}", token.as_str()))
    } else {
        (
            http::header::AUTHORIZATION,
            format!("Bearer {}", token.as_str()),
        )
    };
    let app = match case {
        "bare" => Router::new().route("/hello", get(|| async { "hello" })),
        "noop_layer" => Router::new()
            .route("/hello", get(|| async { "hello" }))
            .layer(NoopLayer(Arc::new(()))),
        "bearer_cached" | "cookie_cached" | "bearer_uncached" => Router::new()
            .route("/hello", get(hello))
            .layer(auth.layer()),
        other => panic!("unknown case {other}; cases: {CASES:?}"),
    }
    // What `axum::serve` does once: handlers and their layers become routes. Without
    // it, a `Router` called directly clones and boxes every handler and its layers again
    // on every request (allocations that are the bench's, not the layer's).
    .with_state(());
    // Shared bytes: cloning the value per request allocates nothing.
    let value = HeaderValue::from_maybe_shared(bytes::Bytes::from(value)).unwrap();
    (app, name, value)
}

async fn one(app: &Router, name: &http::HeaderName, value: &HeaderValue) {
    let req = http::Request::get("/hello")
        .header(name, value.clone())
        .body(Body::empty())
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), 200);
}

/// The counted loop (callgrind's `--toggle-collect` names it).
#[inline(never)]
fn measured_requests(
    rt: &tokio::runtime::Runtime,
    app: &Router,
    name: &http::HeaderName,
    value: &HeaderValue,
    n: usize,
) {
    let served = rt.block_on(async {
        for _ in 0..n {
            one(app, name, value).await;
        }
        n
    });
    // Work after the call: no tail call, so callgrind sees the loop inside this function.
    assert_eq!(std::hint::black_box(served), n);
}

/// Runs `case`: prints allocations per request in the measured loop.
fn run(case: &str, n: usize) {
    let (app, name, value) = setup(case);
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    // Warm: the cache holds the token, maps and buffers have grown.
    rt.block_on(async {
        for _ in 0..100 {
            one(&app, &name, &value).await;
        }
    });
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    measured_requests(&rt, &app, &name, &value, n);
    let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
    println!("allocations/request: {:.3}", allocations as f64 / n as f64);
}

/// Runs this binary on `case`, under callgrind when `callgrind`: (instructions per
/// request, allocations per request).
fn measure(case: &str, callgrind: bool) -> (Option<f64>, f64) {
    let exe = std::env::current_exe().unwrap();
    let n = TABLE_REQUESTS.to_string();
    let out = if callgrind {
        Command::new("valgrind")
            .args([
                "--tool=callgrind",
                "--callgrind-out-file=/dev/null",
                "--collect-atstart=no",
                "--toggle-collect=hit_path::measured_requests",
            ])
            .arg(&exe)
            .args([case, &n])
            .output()
    } else {
        Command::new(&exe).args([case, &n]).output()
    }
    .expect("run the bench binary");
    assert!(out.status.success(), "{case}: {out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let allocations = stdout
        .lines()
        .find_map(|l| l.strip_prefix("allocations/request: "))
        .and_then(|v| v.trim().parse().ok())
        .expect("the case prints its allocations");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let instructions = stderr
        .lines()
        .find_map(|l| l.split_once("Collected : ").map(|(_, v)| v.trim()))
        .and_then(|v| v.parse::<u64>().ok())
        .map(|i| i as f64 / TABLE_REQUESTS as f64);
    (instructions, allocations)
}

fn table() {
    let (_, _, header) = setup("bearer_cached");
    println!(
        "token: {} bytes (the hit's keyed digest reads every one)",
        header.len() - "Bearer ".len()
    );
    let callgrind = Command::new("valgrind")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !callgrind {
        println!("(valgrind not found: allocations only)");
    }
    println!(
        "| case | instructions/request | over bare | over noop_layer | allocations/request | over bare | over noop_layer |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    let (mut bare, mut noop) = ((None, 0.0), (None, 0.0));
    for case in CASES {
        let (instr, allocs) = measure(case, callgrind);
        match case {
            "bare" => bare = (instr, allocs),
            "noop_layer" => noop = (instr, allocs),
            _ => {}
        }
        let fmt = |v: Option<f64>| v.map_or("—".to_owned(), |v| format!("{v:.0}"));
        let over = |base: Option<f64>| fmt(instr.zip(base).map(|(i, b)| i - b));
        let noop_allocs = if case == "bare" {
            "—".to_owned()
        } else {
            format!("{:.2}", allocs - noop.1)
        };
        println!(
            "| {case} | {} | {} | {} | {allocs:.2} | {:.2} | {noop_allocs} |",
            fmt(instr),
            over(bare.0),
            over(noop.0),
            allocs - bare.1,
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first() {
        // `cargo bench` passes `--bench`: the whole table.
        None => table(),
        Some(a) if a.starts_with("--") => table(),
        Some(case) => {
            let n = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(10_000);
            run(case, n);
        }
    }
}
