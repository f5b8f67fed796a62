//! What a DPoP request (RFC 9449) costs in time, against a cached bearer request and a
//! bare route, as ratios measured in one run: the cases interleaved round by round, each
//! round's ratios taken within the round, their median reported (a busy machine slows a
//! whole round, not one case). Time is the thread's CPU time on Linux
//! (`CLOCK_THREAD_CPUTIME_ID`: on a shared machine, the time the process waits for a
//! core is not counted), wall-clock time elsewhere.
//!
//! ```text
//! cargo bench --bench dpop                  # 7 rounds of 2 000 requests per case
//! DPOP_ROUNDS=3 DPOP_REQUESTS=500 cargo bench --bench dpop
//! ```
//!
//! Cases, through an axum `Router` (no sockets) on a current-thread runtime:
//! `bare` (no layer, the same `Authorization` header), `bearer_cached` (an HS256 access
//! token, `Authorization: Bearer`, the verified-token cache warm), `dpop_es256_cached`
//! and `dpop_eddsa_cached` (the token bound to the client's key, `Authorization: DPoP`,
//! the token cached, a fresh proof per request checked and remembered in the default
//! in-memory replay cache), `dpop_es256_guarded` (the replay cache configured with
//! `replay_store(MemoryProofReplay::with_capacity(..))`: a configured store is called
//! behind the store guard, under a timeout). Without a router: `offline_es256` /
//! `offline_eddsa` (the proof checked alone: the [`DpopProof`] extractor on a request's
//! parts, a token-request proof without `ath`, a replay store that remembers nothing, no
//! guard) and `replay_memory` (one new proof id into [`MemoryProofReplay`]).
//!
//! Each round signs its proofs (each its own `jti`, `iat` now) just before its timed
//! loop; signing is not timed. The figures of the hit path in instructions and
//! allocations are `benches/hit_path.rs`'s; the load harness's are in `bench-http/`.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::FromRequestParts;
use axum::routing::get;
use axum_token_auth::http::{DPOP, DpopProof};
use axum_token_auth::store::breaker::GuardSettings;
use axum_token_auth::store::replay::{DEFAULT_PROOF_CAPACITY, MemoryProofReplay};
use axum_token_auth::store::{ProofId, ProofReplay, StoreError};
use axum_token_auth::testing::DpopKey;
use axum_token_auth::trust::dpop::DpopSettings;
use axum_token_auth::{TokenAuth, TokenRequest};
use http::{HeaderName, HeaderValue};
use tower::ServiceExt;

const SECRET: &str = "bench-only-secret-0123456789-abcdefghijklmnopqrstuvwxyz";
/// The public origin of the DPoP handle (proofs' `htu`: this and the path).
const ORIGIN: &str = "http://bench.local";
const CASES: [&str; 8] = [
    "bare",
    "bearer_cached",
    "dpop_es256_cached",
    "dpop_eddsa_cached",
    "dpop_es256_guarded",
    "offline_es256",
    "offline_eddsa",
    "replay_memory",
];

/// The calling thread's CPU time (Linux), else the time since the first call.
#[cfg(target_os = "linux")]
fn now() -> Duration {
    #[repr(C)]
    struct Timespec {
        tv_sec: i64,
        tv_nsec: i64,
    }
    unsafe extern "C" {
        fn clock_gettime(clock: i32, tp: *mut Timespec) -> i32;
    }
    const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
    let mut t = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid `struct timespec` (64-bit Linux) for the call to fill.
    let rc = unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut t) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

#[cfg(not(target_os = "linux"))]
fn now() -> Duration {
    use std::time::Instant;
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    START.get_or_init(Instant::now).elapsed()
}

/// A replay store that remembers nothing: the offline checks alone. Never for production.
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

fn shared(value: String) -> HeaderValue {
    HeaderValue::from_maybe_shared(bytes::Bytes::from(value)).unwrap()
}

/// A case, built once: what it sends, and how it signs the proofs of a round.
struct Case {
    name: &'static str,
    app: Router,
    auth: TokenAuth,
    header: (HeaderName, HeaderValue),
    key: Option<DpopKey>,
    /// The bound token (`ath`), for the layer's DPoP cases.
    token: Option<String>,
    replay: Arc<MemoryProofReplay>,
}

fn case(name: &'static str, requests: usize, rounds: usize) -> Case {
    let key = match name {
        "dpop_es256_cached" | "dpop_es256_guarded" | "offline_es256" => Some(DpopKey::es256()),
        "dpop_eddsa_cached" | "offline_eddsa" => Some(DpopKey::ed25519()),
        _ => None,
    };
    // Every proof of every round (plus the warm-up) fits.
    let replay = Arc::new(MemoryProofReplay::with_capacity(
        (requests + 100) * (rounds + 1),
    ));
    let mut builder = TokenAuth::builder().hs256_secret(SECRET);
    if key.is_some() {
        let dpop = DpopSettings::new(ORIGIN).proof_lifetime(Duration::from_secs(600));
        builder = match name {
            // Unguarded: the checks alone, no timer around a store that does nothing.
            "offline_es256" | "offline_eddsa" => builder
                .dpop(dpop.replay_store(ForgetAll))
                .store_guard(GuardSettings::disabled()),
            "dpop_es256_guarded" => builder.dpop(dpop.replay_store_shared(replay.clone())),
            // The default replay cache (100 000 ids, in memory, unguarded).
            _ => builder.dpop(dpop),
        };
    }
    let auth = builder.build().unwrap();
    let mut request = TokenRequest::new("bench");
    let bound = name.starts_with("dpop");
    if let (Some(k), true) = (&key, bound) {
        request = request.confirmation(k.confirmation());
    }
    let token = auth.issue_access(&request).unwrap().into_string();
    let scheme = if bound { "DPoP" } else { "Bearer" };
    let header = (
        http::header::AUTHORIZATION,
        shared(format!("{scheme} {token}")),
    );
    let app = match name {
        "bare" => Router::new().route("/hello", get(|| async { "hello" })),
        _ => Router::new()
            .route("/hello", get(hello))
            .layer(auth.layer()),
    }
    .with_state(());
    Case {
        name,
        app,
        auth,
        header,
        key,
        token: bound.then_some(token),
        replay,
    }
}

impl Case {
    /// `n` fresh proofs (none for a case without a key).
    fn proofs(&self, n: usize) -> Vec<HeaderValue> {
        let Some(key) = &self.key else {
            return Vec::new();
        };
        let htu = format!("{ORIGIN}/hello");
        (0..n)
            .map(|_| {
                let p = key.proof("GET", &htu);
                let p = match &self.token {
                    Some(t) => p.access_token(t),
                    None => p,
                };
                shared(p.build())
            })
            .collect()
    }

    fn request(&self, proof: Option<&HeaderValue>) -> http::Request<Body> {
        let mut req = http::Request::get("/hello")
            .header(&self.header.0, self.header.1.clone())
            .body(Body::empty())
            .unwrap();
        if let Some(p) = proof {
            req.headers_mut().insert(DPOP, p.clone());
        }
        req
    }

    /// `n` requests (or checks); the time per request.
    async fn timed(&self, n: usize, ids: u64) -> Duration {
        let proofs = self.proofs(n);
        let start = now();
        match self.name {
            "offline_es256" | "offline_eddsa" => {
                for p in &proofs {
                    let (mut parts, _) = self.request(Some(p)).into_parts();
                    let checked = DpopProof::from_request_parts(&mut parts, &self.auth).await;
                    black_box(checked.expect("a valid proof"));
                }
            }
            "replay_memory" => {
                for i in 0..n as u64 {
                    let id = ProofId::of("bench-thumbprint", &(ids + i).to_string());
                    let fresh = self.replay.first_use(&id, u64::MAX).await;
                    assert!(black_box(fresh).expect("room in the cache"));
                }
            }
            _ => {
                for i in 0..n {
                    let res = self.app.clone().oneshot(self.request(proofs.get(i))).await;
                    assert_eq!(res.unwrap().status(), 200);
                }
            }
        }
        (now() - start) / n as u32
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&v| v > 0)
        .unwrap_or(default)
}

fn main() {
    let rounds = env("DPOP_ROUNDS", 7);
    let requests = env("DPOP_REQUESTS", 2_000);
    assert!(
        rounds * requests + 100 < DEFAULT_PROOF_CAPACITY,
        "every proof of the run must fit the default replay cache"
    );
    // Timers: a configured replay store is called under a timeout.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let cases: Vec<Case> = CASES.iter().map(|c| case(c, requests, rounds)).collect();
    // Warm-up: caches hold the tokens, maps and buffers have grown.
    let mut ids = 0u64;
    for c in &cases {
        rt.block_on(c.timed(100, ids));
        ids += 100;
    }
    // µs per request, per case, per round.
    let mut us: Vec<Vec<f64>> = vec![Vec::new(); cases.len()];
    for _ in 0..rounds {
        for (i, c) in cases.iter().enumerate() {
            let t = rt.block_on(c.timed(requests, ids));
            ids += requests as u64;
            us[i].push(t.as_secs_f64() * 1e6);
        }
    }
    let clock = if cfg!(target_os = "linux") {
        "thread CPU time"
    } else {
        "wall-clock time"
    };
    println!(
        "{rounds} interleaved rounds of {requests} requests per case, {clock}; medians over the rounds"
    );
    println!("| case | µs/request | × bare | × bearer_cached | over bearer_cached (µs) |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    let ratio = |i: usize, base: usize| {
        let mut r: Vec<f64> = (0..rounds).map(|k| us[i][k] / us[base][k]).collect();
        median(&mut r)
    };
    let over = |i: usize, base: usize| {
        let mut r: Vec<f64> = (0..rounds).map(|k| us[i][k] - us[base][k]).collect();
        median(&mut r)
    };
    for (i, c) in cases.iter().enumerate() {
        let t = median(&mut us[i].clone());
        if c.name.starts_with("offline") || c.name == "replay_memory" {
            // Not a request through a router: its absolute time only.
            println!("| {} | {t:.2} | — | — | — |", c.name);
        } else {
            println!(
                "| {} | {t:.2} | {:.2} | {:.2} | {:.2} |",
                c.name,
                ratio(i, 0),
                ratio(i, 1),
                over(i, 1)
            );
        }
    }
}
