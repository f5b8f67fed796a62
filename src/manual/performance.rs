//! What the layer costs per request: how it is measured, and the figures. Every figure here
//! is from 2026-12-01 unless dated otherwise; the full tables of each run, with the machine's
//! state, are in `bench-http/results.md` beside the harness.
//!
//! # Method
//!
//! `scripts/bench-http.sh` (the `bench-http` crate) on this project's CI machine kind (2
//! cores, AMD EPYC): a 1-thread tokio server pinned to one core, `wrk -t1 -c32` pinned to
//! the other, loopback, `GET /hello` whose handler takes `Claims`; with `TOKENS=N` each
//! request carries one of N users' tokens drawn Zipf(s = 1) by rank, otherwise every request
//! carries the same token; three interleaved 8 s rounds after a 2 s warm-up, ratios to
//! *bare* (the same server without the layer) within one run. The machine is shared, so
//! req/s swings between rounds; the **server CPU time per request** (user + system ÷
//! requests) is steadier. Below, "req/s ratio" is the variant's req/s ÷ bare's and "CPU
//! ratio" bare's CPU µs/req ÷ the variant's.
//!
//! # Results
//!
//! **10k users, bearer tokens.** On the quieter run: bare 144.2k req/s, ours HS256 139.6k
//! (0.97), with the PostgreSQL store 139.0k (0.996 × the in-memory store), with the Redis
//! store 131.9k (0.94 × memory); 100 % cache hits, p50 211–227 µs, p99 1.07–1.31 ms, RSS
//! 16–17 MiB (bare 7). On a busier run (req/s ratio · CPU ratio): HS256 0.90 · 0.97 (7.89
//! CPU µs/req, bare 7.63; 99.5 % hits), RS256 0.84 · 0.92, ES256 0.78 · 0.88, an identity
//! provider's RS256 token 0.94 · 0.85, cache off (HS256) 0.89 · 0.90; the Redis-backed
//! route 0.95 · 0.95 × memory. RSS 15–20 MiB (bare 6). The 10k-user runs miss 0.5–1 %:
//! users seen for the first time in an 8 s run (the cache holds them all).
//!
//! **100k users** (more users than the cache holds): RS256 0.70 · 0.57 (12.40 CPU µs/req,
//! bare 7.08; 81.5 % hits), HS256 0.75 · 0.83 (81.7 %), an identity provider's RS256 0.60 ·
//! 0.50 (79.0 %); RSS 20–24 MiB (bare 6) — see [the cache](super::cache#bounds) for where
//! the memory goes.
//!
//! **One token.** On the quieter run: HS256 0.95, RS256 0.89, an identity provider's RS256
//! token 0.87 cached and 0.22 uncached (the RSA verification on every request, 30.5 CPU
//! µs), HS256 with the cache off 0.82. On a busier run, CPU ratios: HS256 0.89, RS256 0.86,
//! ES256 0.91, external RS256 0.95, cache off 0.76. The peers, verifying every request, ran
//! at CPU ratio 0.63 (hand-written `from_fn` + `jsonwebtoken`), 0.64 (`jwt-authorizer`) and
//! 0.73 (`axum-jwt-auth`).
//!
//! **Cookies** (`MODE=cookie`, 10k users, an earlier and busier run): req/s ratio · CPU
//! ratio HS256 0.60 · 0.85, RS256 0.64 · 0.78, ES256 0.74 · 0.83, hit rates 98–99 %.
//!
//! **Refresh** (32 clients, each a rotation): memory 30.9k/s (14.0 CPU µs each, ≈ 71k/s of
//! one core), Redis 15.3k/s (22.1 µs), PostgreSQL 3.9k/s (110.2 µs).
//!
//! **The revocation store.** Before its LISTEN/NOTIFY copy, the PostgreSQL store answered
//! the per-request check with one query (≈ 30 µs of server CPU and a round trip) and the
//! route ran at 0.14 × memory (CPU 0.19); with the copy, 0.996. In `benches/stores.rs` its
//! check costs 53 ns (253 µs without the copy; memory 19 ns, Redis 57 ns, on a busier
//! machine).
//!
//! # DPoP
//!
//! A [DPoP](super::dpop) request checks a fresh proof every time (the token itself is still
//! served from the cache): one signature verification and one replay-cache write. Figures of
//! 2026-12-03 on a busy machine; the tables are in `bench-http/results.md`.
//!
//! | per request, over a cached bearer request | ES256 proof | EdDSA proof |
//! | --- | ---: | ---: |
//! | instructions (`benches/hit_path.rs`, callgrind) | +829 700 | +561 400 |
//! | of which the signature verification (aws-lc) | 747 000 | 487 000 |
//! | CPU time (`benches/dpop.rs`, two runs; bearer 1.6–2.6 µs) | +86–98 µs | +53–54 µs |
//! | server CPU under load (`bench-http`, `ours-dpop-*`) | +94 µs | +67–84 µs |
//! | server CPU ratio to bare under load (HS256 bearer: 0.67–1.06) | 0.11–0.12 | 0.13–0.15 |
//!
//! The proof check alone (the [`DpopProof`](crate::http::DpopProof) extractor) takes
//! 72–80 µs (ES256) and 48–52 µs (EdDSA); the in-memory replay cache ≈ 1 100 instructions
//! (0.4 µs), and a configured replay store, called behind the
//! [store guard](crate::store::breaker) with a timeout, 580 instructions and 2 allocations
//! more. Under load one core served ≈ 9 500 ES256 or ≈ 12 700 EdDSA DPoP requests a
//! second: prefer EdDSA where clients can, and keep bearer tokens (with the verified-token
//! cache) for routes that need no sender constraint. A bearer request costs the same on a
//! handle with DPoP configured as without, and adding DPoP to the layer cost a cached
//! bearer request +20 instructions (4 303 → 4 323 over bare, +0.5 %; a cookie request
//! 5 406 → 5 440) and no allocation: the binding step's state and a rotated nonce are
//! boxed or ride in a per-request rendering, so the request context and the response
//! future keep their size (a first version, measured at +135, did not).
//!
//! Issue 21's features, measured the same way (cached bearer / cookie request,
//! instructions over bare, 17ad698 → after): 4 324 → 4 344 and 5 440 → 5 460 (+20,
//! +0.5 %), no allocation more. The protected resource metadata costs a 401 only (its
//! pointer is added when a refusal is rendered) and introspection a miss only; the +20
//! is the step-up guards' time inputs (the layer's clock at acceptance, the token's
//! `until`) carried in the request context, so a guard decides with the layer's clock
//! and the token's own leeway rather than reading its own. An introspected token, once
//! cached, costs what a JWT does: under load 0.93 of bare's requests per second, as the
//! HS256 bearer variant in the same run (`bench-http`, `ours-introspected`, 5 rounds).
//!
//! Issue 22's revocation keys for identity providers' sessions and subjects, measured
//! the same way (354accf → after, one build each): 4 391 → 4 416 and 5 512 → 5 534
//! (+25 and +22, +0.6 %), no allocation more. The cost is the price of deciding those
//! keys once, at verification: the verified token's identity carries them (an
//! `Option<Arc>`, in the cache entry's padding), so it is cloned rather than copied at a
//! hit; a provider token's hit then checks its subject and session keys without
//! deriving or allocating anything. The event receivers cost nothing on the hit path
//! (a token carrying `events` is refused on a miss).
//!
//! In Redis a remembered proof id takes 88 B (`MEMORY USAGE`) and 134 B of `used_memory`
//! with its expiry and the key space's tables: 1 000 DPoP requests a second with the
//! default 60 s window hold ≈ 65 000 ids, ≈ 9 MB. One replay-cache call is a round trip
//! (46 µs awaited on loopback, busy machine).
//!
//! # Where the time goes
//!
//! The miss path, profiled with perf (`benches/layer.rs`) and callgrind
//! (`benches/miss_path.rs`, a fixed number of requests): an uncached HS256 request costs
//! ≈ 25 700 instructions over bare (28 700 before the header memo); of the layer's share of
//! perf samples (before the memo): HMAC-SHA256 ≈ 22 %, decoding the claims JSON ≈ 19 %, the
//! payload's base64 and allocations ≈ 14 %, the header ≈ 9 % (now memoized per thread), the
//! charset check ≈ 6 %, the `jti` digest of the revocation check ≈ 4 %, the clock ≈ 3 %; the
//! rest is the layer's bookkeeping (the request's extensions, the revocation lookup). An
//! uncached RS256 request is bounded by the RSA-2048 public-key operation
//! (`BN_mod_exp_mont`, ≈ 85 % of its cost; ≈ 8 % more is the Montgomery context that
//! `jsonwebtoken` rebuilds from the key's components on every verification), ES256 by the
//! P-256 verification. RS256 verification takes ≈ 22 µs with the `aws_lc_rs` backend and
//! 192 µs with `rust_crypto`.
//!
//! The cache's hit rates under Zipf(1) and the policy comparison: [the cache](super::cache).
//!
//! # Micro-benchmarks
//!
//! `cargo bench` (noisy on a shared machine): `benches/layer.rs` (the request path through a
//! `Router`, per case), `benches/cache.rs` (the token digest: SipHash-2-4-128 150 ns,
//! SipHash-1-3-128 91 ns, HMAC-SHA256 308 ns on a 450-byte token), `benches/stores.rs` (per
//! store: a refresh 7.2 µs in memory, 159 µs with Redis, 715 µs with PostgreSQL on loopback;
//! the revocation check 37 ns in memory, 64 ns with Redis, 127 µs with PostgreSQL; a separate run
//! from the one under *The revocation store*).
//!
//! # Build time
//!
//! A cold `cargo build --lib` of this crate (a fresh target directory, the registry
//! already downloaded, debug profile, 2 cores), per feature set; CPU time is user + system
//! as `/usr/bin/time` reports it, and "crates" the units cargo compiled. The runs shared
//! the machine with other builds, so wall time is not reported: CPU time is what a quiet
//! 2-core machine spends, about half of it as wall time when both cores are busy.
//!
//! | features | crates | CPU time |
//! | --- | --- | --- |
//! | default (`aws_lc_rs`, `password`) | 103 | 157 s |
//! | `aws_lc_rs` | 92 | 149 s |
//! | `rust_crypto`, `password` | 127 | 123 s |
//! | `rust_crypto` (verify-only: no password hashing) | 119 | 112 s |
//! | `rust_crypto`, `oidc` (verify-only, provider tokens) | 169 | 216 s |
//! | `aws_lc_rs`, `oidc` | 140 | 261 s |
//!
//! aws-lc-sys is the single largest unit (its C library, built with the C compiler alone:
//! no cmake at this version); RustCrypto is more crates but less work. `password` (argon2,
//! bcrypt) adds 8–11 crates and 8–11 CPU-s. `oidc` adds reqwest with rustls, whose
//! default provider is *ring*, a second C crypto library beside aws-lc.
//!
//! The default stays `aws_lc_rs`: RS256 verification is 8.7× faster (22 µs against
//! 192 µs), paid on every provider token that misses the verified-token cache, and HMAC
//! keys are keyed once rather than per request; the price is about 28 % more CPU on a cold
//! build, once. A CI job or a verify-only service that wants the lighter build writes
//! `default-features = false, features = ["rust_crypto", …]`.
