//! The verified-token cache's eviction policy against its candidates, by simulation:
//! hit rates under Zipf(1) traffic for 10 000 and 100 000 users, with the default 16 384
//! entries and the previous default 1 024 (the figures behind the crate manual's
//! `cache` page). A table, not a timing:
//!
//! ```text
//! cargo bench --bench cache_policy
//! ```
//!
//! The candidates are simulated over user numbers (arbitrary eviction — the cache before
//! S3-FIFO —, exact LRU, CLOCK, quick_cache 0.6); ours is the crate's own cache, driven
//! through a real layer with one HS256 token per user, its hit rate read from
//! `TokenAuthLayer::cache_stats`. Each run warms up with as many requests as it measures.

use std::collections::HashMap;
use std::convert::Infallible;

use axum::body::Body;
use axum_token_auth::{TokenAuth, TokenAuthLayer, TokenRequest};
use http::HeaderValue;
use tower::{Layer as _, ServiceExt as _};

const SECRET: &str = "bench-only-secret-0123456789-abcdefghijklmnopqrstuvwxyz";
/// Requests measured per run (and as many to warm up).
const REQUESTS: usize = 2_000_000;

/// Zipf(s) over `n` ranks: the cumulative weights, for sampling by binary search.
fn zipf_cdf(n: usize, s: f64) -> Vec<f64> {
    let mut acc = 0.0;
    let mut cdf: Vec<f64> = (1..=n)
        .map(|k| {
            acc += 1.0 / (k as f64).powf(s);
            acc
        })
        .collect();
    for c in &mut cdf {
        *c /= acc;
    }
    cdf
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A candidate policy over user numbers: `true` on a hit (a miss inserts).
trait Policy {
    fn access(&mut self, user: u64) -> bool;
}

/// Arbitrary eviction in 8 shards (the cache before S3-FIFO: the first key a hash
/// map's iteration yields, which is effectively random).
struct Arbitrary(Vec<HashMap<u64, ()>>, usize);
impl Policy for Arbitrary {
    fn access(&mut self, user: u64) -> bool {
        let cap = self.1;
        let shard = &mut self.0[(user.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 61) as usize];
        if shard.contains_key(&user) {
            return true;
        }
        if shard.len() >= cap.div_ceil(8)
            && let Some(k) = shard.keys().next().copied()
        {
            shard.remove(&k);
        }
        shard.insert(user, ());
        false
    }
}

/// Exact LRU.
struct Lru {
    at: HashMap<u64, u64>,
    order: std::collections::BTreeMap<u64, u64>,
    tick: u64,
    cap: usize,
}
impl Policy for Lru {
    fn access(&mut self, user: u64) -> bool {
        self.tick += 1;
        let hit = if let Some(t) = self.at.get(&user).copied() {
            self.order.remove(&t);
            true
        } else {
            if self.at.len() >= self.cap
                && let Some((_, old)) = self.order.pop_first()
            {
                self.at.remove(&old);
            }
            false
        };
        self.at.insert(user, self.tick);
        self.order.insert(self.tick, user);
        hit
    }
}

/// CLOCK (one reference bit, one hand).
struct Clock {
    slot: HashMap<u64, usize>,
    ring: Vec<(u64, bool)>,
    hand: usize,
    cap: usize,
}
impl Policy for Clock {
    fn access(&mut self, user: u64) -> bool {
        if let Some(&i) = self.slot.get(&user) {
            self.ring[i].1 = true;
            return true;
        }
        if self.ring.len() < self.cap {
            self.slot.insert(user, self.ring.len());
            self.ring.push((user, false));
            return false;
        }
        loop {
            let (k, referenced) = self.ring[self.hand];
            if referenced {
                self.ring[self.hand].1 = false;
                self.hand = (self.hand + 1) % self.cap;
                continue;
            }
            self.slot.remove(&k);
            self.slot.insert(user, self.hand);
            self.ring[self.hand] = (user, false);
            self.hand = (self.hand + 1) % self.cap;
            return false;
        }
    }
}

/// quick_cache 0.6 (its CLOCK-PRO-like policy), unweighted.
struct Quick(quick_cache::unsync::Cache<u64, ()>);
impl Policy for Quick {
    fn access(&mut self, user: u64) -> bool {
        if self.0.get(&user).is_some() {
            return true;
        }
        self.0.insert(user, ());
        false
    }
}

/// Ours: the crate's cache behind a real layer, one token per user.
struct Ours {
    layer: TokenAuthLayer,
    tokens: Vec<HeaderValue>,
    rt: tokio::runtime::Runtime,
    hits: u64,
}

impl Ours {
    fn new(users: usize, capacity: usize) -> Self {
        let auth = TokenAuth::builder()
            .hs256_secret(SECRET)
            .verified_cache_capacity(capacity)
            // Entries, not bytes, bound the cache here (as the other candidates).
            .verified_cache_bytes(1 << 30)
            .build()
            .unwrap();
        let tokens = (0..users)
            .map(|u| {
                let token = auth
                    .issue_access(&TokenRequest::new(format!("user-{u}")))
                    .unwrap();
                let value = format!("Bearer {}", token.as_str());
                HeaderValue::from_maybe_shared(bytes::Bytes::from(value)).unwrap()
            })
            .collect();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        Ours {
            layer: auth.layer(),
            tokens,
            rt,
            hits: 0,
        }
    }
}

impl Policy for Ours {
    fn access(&mut self, user: u64) -> bool {
        let ok = tower::service_fn(|_req: http::Request<Body>| async {
            Ok::<_, Infallible>(http::Response::new(Body::empty()))
        });
        let mut req = http::Request::new(Body::empty());
        req.headers_mut().insert(
            http::header::AUTHORIZATION,
            self.tokens[user as usize].clone(),
        );
        let res = self.rt.block_on(self.layer.layer(ok).oneshot(req)).unwrap();
        assert_eq!(res.status(), 200);
        let hits = self.layer.cache_stats().expect("caching is on").hits;
        let hit = hits > self.hits;
        self.hits = hits;
        hit
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // `cargo bench` passes `--bench`; any other argument is a filter of other benches.
    if args.iter().any(|a| !a.starts_with("--")) {
        return;
    }
    println!(
        "| users | entries | arbitrary (before) | LRU | CLOCK | quick_cache | S3-FIFO (ours) |"
    );
    println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for (users, cap) in [
        (10_000, 1024),
        (10_000, 16_384),
        (100_000, 1024),
        (100_000, 16_384),
    ] {
        let cdf = zipf_cdf(users, 1.0);
        let mut candidates: Vec<Box<dyn Policy>> = vec![
            Box::new(Arbitrary((0..8).map(|_| HashMap::new()).collect(), cap)),
            Box::new(Lru {
                at: HashMap::new(),
                order: Default::default(),
                tick: 0,
                cap,
            }),
            Box::new(Clock {
                slot: HashMap::new(),
                ring: Vec::new(),
                hand: 0,
                cap,
            }),
            Box::new(Quick(quick_cache::unsync::Cache::new(cap))),
            Box::new(Ours::new(users, cap)),
        ];
        let mut row = format!("| {users} | {cap} |");
        for c in &mut candidates {
            let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
            let mut hits = 0usize;
            for i in 0..2 * REQUESTS {
                let u = rng.unit();
                let rank = cdf.partition_point(|&c| c < u) as u64;
                let hit = c.access(rank);
                if i >= REQUESTS && hit {
                    hits += 1;
                }
            }
            row += &format!(" {:.1} % |", 100.0 * hits as f64 / REQUESTS as f64);
        }
        println!("{row}");
    }
}
