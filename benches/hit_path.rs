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
//!
//! DPoP (RFC 9449) cases, on a handle with
//! [`DpopSettings`](axum_token_auth::trust::dpop::DpopSettings) for `http://bench.local`:
//! `bearer_cached_dpop_on` (the same unbound bearer token: what configuring DPoP costs a
//! bearer request), `dpop_es256_cached` and `dpop_eddsa_cached` (a token bound to the
//! client's key, `Authorization: DPoP`, the token cached, and a fresh proof per request
//! — its own `jti`, signed ahead of the measured loop — checked and remembered in the
//! default in-memory replay cache), `dpop_es256_guarded` (the replay cache configured
//! with `replay_store(MemoryProofReplay::with_capacity(..))`: a configured store sits
//! behind the store guard, a timeout per call), `dpop_es256_no_replay` (a replay store
//! that remembers nothing, unguarded: the layer's DPoP cost without the replay cache),
//! and `proof_es256` / `proof_eddsa` (no layer: a handler taking the
//! [`DpopProof`](axum_token_auth::http::DpopProof) extractor, a token-request proof
//! without `ath`, the replay store remembering nothing: the offline proof check alone,
//! over bare). Proofs live 10 minutes here (a proof signed before a slow callgrind run is
//! still fresh when it is presented; the lifetime changes no check's cost), and the
//! replay cache holds every proof of a run (the default one holds 100 000).
//!
//! Only the measured loop is counted: building the handle, issuing the token, signing
//! the proofs and warming the cache are not. The handler takes `Claims` (the claims
//! handed over are part of the hit); the in-memory revocation check runs on every
//! request, as in production.

use std::alloc::{GlobalAlloc, Layout, System};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use axum_token_auth::http::DpopProof;
use axum_token_auth::store::breaker::GuardSettings;
use axum_token_auth::store::replay::MemoryProofReplay;
use axum_token_auth::store::{ProofId, ProofReplay, StoreError};
use axum_token_auth::testing::DpopKey;
use axum_token_auth::trust::dpop::DpopSettings;
use axum_token_auth::{TokenAuth, TokenRequest};
use http::{HeaderName, HeaderValue};
use tower::ServiceExt;

const SECRET: &str = "bench-only-secret-0123456789-abcdefghijklmnopqrstuvwxyz";
const CASES: [&str; 12] = [
    "bare",
    "noop_layer",
    "bearer_cached",
    "cookie_cached",
    "bearer_uncached",
    "bearer_cached_dpop_on",
    "dpop_es256_cached",
    "dpop_eddsa_cached",
    "dpop_es256_guarded",
    "dpop_es256_no_replay",
    "proof_es256",
    "proof_eddsa",
];
/// Requests per case in the table.
const TABLE_REQUESTS: usize = 10_000;
/// Requests per DPoP case in the table: a signature verification each (≈ 100 times a
/// cached bearer request), so fewer are enough for a steady mean.
const DPOP_TABLE_REQUESTS: usize = 1_000;
/// Requests of the warm-up before the measured loop.
const WARM: usize = 100;
/// The public origin of the DPoP handle (proofs' `htu`: this and the path).
const ORIGIN: &str = "http://bench.local";

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

/// A replay store that remembers nothing (every proof is a first use): the offline
/// checks without the replay cache. Never for production.
struct ForgetAll;

#[axum_token_auth::async_trait]
impl ProofReplay for ForgetAll {
    async fn first_use(&self, _: &ProofId, _: u64) -> Result<bool, StoreError> {
        Ok(true)
    }

    async fn is_recorded(&self, _: &ProofId) -> Result<bool, StoreError> {
        Ok(false)
    }
}

async fn hello(_: axum_token_auth::Claims) -> &'static str {
    "hello"
}

async fn token_endpoint(_: DpopProof) -> &'static str {
    "hello"
}

/// One case: the router, the header every request carries, and one proof per request
/// (DPoP cases only, warm-up first).
struct Case {
    app: Router,
    name: HeaderName,
    value: HeaderValue,
    proofs: Vec<HeaderValue>,
}

/// Shared bytes: cloning the value per request allocates nothing.
fn shared(value: String) -> HeaderValue {
    HeaderValue::from_maybe_shared(bytes::Bytes::from(value)).unwrap()
}

/// The router of `case`, and `proofs` fresh proofs when it is a DPoP case.
fn setup(case: &str, proofs: usize) -> Case {
    let cache = if case.contains("_cached") || case.starts_with("dpop") {
        16_384
    } else {
        0
    };
    let key = match case {
        "dpop_es256_cached" | "dpop_es256_guarded" | "dpop_es256_no_replay" | "proof_es256" => {
            Some(DpopKey::es256())
        }
        "dpop_eddsa_cached" | "proof_eddsa" => Some(DpopKey::ed25519()),
        _ => None,
    };
    let mut builder = TokenAuth::builder()
        .hs256_secret(SECRET)
        .verified_cache_capacity(cache);
    if key.is_some() || case == "bearer_cached_dpop_on" {
        let dpop = DpopSettings::new(ORIGIN).proof_lifetime(Duration::from_secs(600));
        builder = if case.ends_with("_no_replay") || case.starts_with("proof_") {
            // Unguarded: the checks alone, no timer around a store that does nothing.
            builder
                .dpop(dpop.replay_store(ForgetAll))
                .store_guard(GuardSettings::disabled())
        } else if case.ends_with("_guarded") {
            builder.dpop(dpop.replay_store(MemoryProofReplay::with_capacity(1 << 20)))
        } else {
            builder.dpop(dpop)
        };
    }
    let auth = builder.build().unwrap();
    let mut request = TokenRequest::new("bench");
    if let (Some(k), true) = (&key, case.starts_with("dpop")) {
        request = request.confirmation(k.confirmation());
    }
    let token = auth.issue_access(&request).unwrap();
    let (name, value) = if case.starts_with("cookie") {
        let cookie = auth
            .web()
            .access_cookie_name()
            .expect("the access cookie is on");
        (http::header::COOKIE, format!("{cookie}={}", token.as_str()))
    } else if case.starts_with("dpop") {
        (
            http::header::AUTHORIZATION,
            format!("DPoP {}", token.as_str()),
        )
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
        "proof_es256" | "proof_eddsa" => Router::new()
            .route("/hello", get(token_endpoint))
            .with_state(auth.clone()),
        c if CASES.contains(&c) => Router::new()
            .route("/hello", get(hello))
            .layer(auth.layer()),
        other => panic!("unknown case {other}; cases: {CASES:?}"),
    }
    // What `axum::serve` does once: handlers and their layers become routes. Without
    // it, a `Router` called directly clones and boxes every handler and its layers again
    // on every request (allocations that are the bench's, not the layer's).
    .with_state(());
    // Signed last, just before they are used: each its own `jti`, `iat` now.
    let htu = format!("{ORIGIN}/hello");
    let proofs = match &key {
        Some(k) => (0..proofs)
            .map(|_| {
                let proof = k.proof("GET", &htu);
                let proof = if case.starts_with("dpop") {
                    proof.access_token(token.as_str())
                } else {
                    proof
                };
                shared(proof.build())
            })
            .collect(),
        None => Vec::new(),
    };
    Case {
        app,
        name,
        value: shared(value),
        proofs,
    }
}

async fn one(case: &Case, proof: Option<&HeaderValue>) {
    let mut req = http::Request::get("/hello")
        .header(&case.name, case.value.clone())
        .body(Body::empty())
        .unwrap();
    if let Some(p) = proof {
        req.headers_mut()
            .insert(axum_token_auth::http::DPOP, p.clone());
    }
    let res = case.app.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), 200);
}

/// The counted loop (callgrind's `--toggle-collect` names it): `n` requests, the
/// proofs from `first` on.
#[inline(never)]
fn measured_requests(rt: &tokio::runtime::Runtime, case: &Case, first: usize, n: usize) {
    let served = rt.block_on(async {
        for i in 0..n {
            one(case, case.proofs.get(first + i)).await;
        }
        n
    });
    // Work after the call: no tail call, so callgrind sees the loop inside this function.
    assert_eq!(std::hint::black_box(served), n);
}

/// Runs `case`: prints allocations per request in the measured loop.
fn run(case: &str, n: usize) {
    let c = setup(case, WARM + n);
    // Timers: a configured replay store is called under a timeout.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    // Warm: the cache holds the token, maps and buffers have grown.
    rt.block_on(async {
        for i in 0..WARM {
            one(&c, c.proofs.get(i)).await;
        }
    });
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    measured_requests(&rt, &c, WARM, n);
    let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
    println!("allocations/request: {:.3}", allocations as f64 / n as f64);
}

/// Requests of `case` in the table.
fn table_requests(case: &str) -> usize {
    if case.starts_with("dpop") || case.starts_with("proof") {
        DPOP_TABLE_REQUESTS
    } else {
        TABLE_REQUESTS
    }
}

/// Runs this binary on `case`, under callgrind when `callgrind`: (instructions per
/// request, allocations per request).
fn measure(case: &str, callgrind: bool) -> (Option<f64>, f64) {
    let exe = std::env::current_exe().unwrap();
    let requests = table_requests(case);
    let n = requests.to_string();
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
        .map(|i| i as f64 / requests as f64);
    (instructions, allocations)
}

fn table(only: &[String]) {
    let c = setup("bearer_cached", 0);
    println!(
        "token: {} bytes (the hit's keyed digest reads every one)",
        c.value.len() - "Bearer ".len()
    );
    let callgrind = Command::new("valgrind")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !callgrind {
        println!("(valgrind not found: allocations only)");
    }
    println!(
        "| case | requests | instructions/request | over bare | over noop_layer | over bearer_cached | allocations/request | over bare | over noop_layer |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    let (mut bare, mut noop, mut bearer) = ((None, 0.0), (None, 0.0), (None, 0.0));
    for case in CASES {
        let wanted = only.is_empty()
            || only.iter().any(|o| o == case)
            || matches!(case, "bare" | "noop_layer" | "bearer_cached");
        if !wanted {
            continue;
        }
        let (instr, allocs) = measure(case, callgrind);
        match case {
            "bare" => bare = (instr, allocs),
            "noop_layer" => noop = (instr, allocs),
            "bearer_cached" => bearer = (instr, allocs),
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
            "| {case} | {} | {} | {} | {} | {} | {allocs:.2} | {:.2} | {noop_allocs} |",
            table_requests(case),
            fmt(instr),
            over(bare.0),
            over(noop.0),
            over(bearer.0),
            allocs - bare.1,
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first() {
        // `cargo bench` passes `--bench`: the whole table. `HIT_PATH_CASES="a b"`
        // narrows it (bare, noop_layer and bearer_cached always run: the baselines).
        None => table(&[]),
        Some(a) if a.starts_with("--") => {
            let only: Vec<String> = std::env::var("HIT_PATH_CASES")
                .map(|v| v.split_whitespace().map(str::to_owned).collect())
                .unwrap_or_default();
            table(&only)
        }
        Some(case) => {
            let n = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(10_000);
            run(case, n);
        }
    }
}
