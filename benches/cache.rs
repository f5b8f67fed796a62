//! The verified-token cache's building blocks, in isolation: what a keyed digest of the
//! whole token costs on the hot path (every request, hit or miss, computes one), for the
//! candidates weighed in `src/cache.rs`, against comparing a stored token byte for byte.
//! Tokens of 450 bytes (one of ours, HS256) and 900 bytes (an identity provider's RS256).

use std::hash::{BuildHasher, Hasher};
use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use sha2::{Digest as _, Sha256};

fn token(len: usize) -> String {
    // base64url-ish bytes, like a compact JWS
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    (0..len)
        .map(|i| {
            if i % 150 == 149 {
                '.'
            } else {
                alphabet[(i * 7 + i / 3) % 64] as char
            }
        })
        .collect()
}

/// HMAC-SHA256 with the pads absorbed once (what a cache keeps per instance).
struct PreKeyed {
    inner: Sha256,
    outer: Sha256,
}

impl PreKeyed {
    fn new(key: &[u8; 32]) -> Self {
        let mut ipad = [0x36u8; 64];
        let mut opad = [0x5cu8; 64];
        for (i, k) in key.iter().enumerate() {
            ipad[i] ^= k;
            opad[i] ^= k;
        }
        let mut inner = Sha256::new();
        inner.update(ipad);
        let mut outer = Sha256::new();
        outer.update(opad);
        PreKeyed { inner, outer }
    }
    fn mac(&self, msg: &[u8]) -> u128 {
        let mut i = self.inner.clone();
        i.update(msg);
        let mut o = self.outer.clone();
        o.update(i.finalize());
        let d = o.finalize();
        u128::from_le_bytes(d[..16].try_into().unwrap())
    }
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("token_digest");
    g.warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30);
    let key = [7u8; 32];
    let pre = PreKeyed::new(&key);
    let aws = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &key);
    let sip_a = std::collections::hash_map::RandomState::new();
    let sip_b = std::collections::hash_map::RandomState::new();
    for len in [450usize, 900] {
        let t = token(len);
        let copy = t.clone();
        g.bench_function(format!("compare_stored_token_{len}"), |b| {
            b.iter(|| black_box(black_box(t.as_bytes()) == black_box(copy.as_bytes())))
        });
        g.bench_function(format!("hmac_sha256_sha2_prekeyed_{len}"), |b| {
            b.iter(|| black_box(pre.mac(black_box(t.as_bytes()))))
        });
        g.bench_function(format!("hmac_sha256_aws_lc_{len}"), |b| {
            b.iter(|| black_box(aws_lc_rs::hmac::sign(&aws, black_box(t.as_bytes()))))
        });
        let k = [9u8; 16];
        g.bench_function(format!("siphash24_128_{len}"), |b| {
            b.iter(|| {
                let mut h = siphasher::sip128::SipHasher24::new_with_key(&k);
                h.write(black_box(t.as_bytes()));
                black_box(siphasher::sip128::Hasher128::finish128(&h).as_u128())
            })
        });
        g.bench_function(format!("siphash13_128_{len}"), |b| {
            b.iter(|| {
                let mut h = siphasher::sip128::SipHasher13::new_with_key(&k);
                h.write(black_box(t.as_bytes()));
                black_box(siphasher::sip128::Hasher128::finish128(&h).as_u128())
            })
        });
        g.bench_function(format!("siphash13_64_std_x2_{len}"), |b| {
            b.iter(|| {
                let mut h1 = sip_a.build_hasher();
                h1.write(black_box(t.as_bytes()));
                let mut h2 = sip_b.build_hasher();
                h2.write(black_box(t.as_bytes()));
                black_box((h1.finish(), h2.finish()))
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
