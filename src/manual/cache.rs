//! The verified-token cache of a [`TokenAuthLayer`](crate::TokenAuthLayer): a repeated
//! valid token does not pay for its signature check and decoding again. Its design, the
//! argument that a hit is as safe as a verification, and its bounds.
//!
//! ```
//! let auth = axum_token_auth::TokenAuth::builder()
//!     .hs256_secret("a-random-secret-of-at-least-32-bytes!!")
//!     .verified_cache_capacity(16_384)          // entries (default)
//!     .verified_cache_bytes(16 * 1024 * 1024)   // everything it allocates (default)
//!     .build()?;
//! let layer = auth.layer();
//! let stats = layer.cache_stats();              // hits and misses
//! # let _ = stats;
//! # Ok::<(), axum_token_auth::ConfigError>(())
//! ```
//!
//! # What it keeps, and why a hit is safe
//!
//! * Keyed by a **128-bit keyed digest of the whole token string** (see
//!   [collision resistance](#collision-resistance) below); the token itself is not stored.
//!   A token that differs from a cached one in any byte — tampered payload, other
//!   signature, other header — has another digest, is a miss and is verified in full.
//! * Only tokens that passed every check are inserted: the cache cannot be poisoned.
//! * On every hit, expiry is checked again against the clock (with the issuer's leeway),
//!   the trust epoch must be the current one (a retired key, or a key dropped from an
//!   external issuer's set, voids every entry verified before), and the revocation check
//!   and the CSRF check run exactly as on a miss.
//!
//! # Collision resistance
//!
//! The digest is SipHash-2-4 with 128-bit output (the reference implementation's `siphash`
//! with `outlen = 16`, from the `siphasher` crate) under a random 128-bit key drawn when the
//! cache is built. The key never leaves the process and digests are never shown to anyone:
//! a client only learns whether its request was accepted. A forged token `F` that has the
//! digest of a cached token `V` would be accepted *as `V`* (the cache hands back `V`'s
//! verified claims, never `F`'s), so colliding must be infeasible without the key.
//! SipHash-2-4 was designed as a PRF keyed by 128 bits (Aumasson and Bernstein, 2012) and no
//! attack better than guessing the key is known; modelled as a PRF with 128-bit outputs,
//! each forged token hits one of the `n` cached digests with probability at most
//! `n / 2^128` (`n ≤ 2^20` in any configuration that fits in memory: `≤ 2^-108` per
//! attempt; an attacker making 2^40 attempts — a million a second for twelve days — stays
//! below 2^-68). The attacker cannot even test a guess offline: every attempt is a request.
//! Two tokens of the attacker's own that collide (a birthday bound, 2^64 tokens) gain
//! nothing: both are valid and its own.
//!
//! Cost, measured by the crate's `cache` benchmark (`benches/cache.rs`, 2026-12) on a
//! 450-byte token (one of ours; an identity provider's 900-byte token costs about twice as
//! much): SipHash-2-4-128 ≈ 0.15 µs, SipHash-1-3-128 ≈ 0.09 µs, HMAC-SHA256 ≈ 0.31 µs
//! (pre-keyed, SHA extensions) or 0.39 µs (aws-lc-rs), comparing a stored token byte for
//! byte ≈ 5 ns. SipHash-2-4 is the conservative choice at half HMAC's price; storing tokens
//! instead would cost their size in memory (up to
//! [`MAX_CACHED_TOKEN`](crate::http::MAX_CACHED_TOKEN) bytes each) and break the bound
//! below.
//!
//! # Bounds
//!
//! Two limits, both configurable on the builder: entries
//! ([`verified_cache_capacity`](crate::TokenAuthBuilder::verified_cache_capacity), default
//! [`DEFAULT_CACHE_CAPACITY`](crate::http::DEFAULT_CACHE_CAPACITY) = 16 384) and bytes
//! ([`verified_cache_bytes`](crate::TokenAuthBuilder::verified_cache_bytes), default
//! [`DEFAULT_CACHE_BYTES`](crate::http::DEFAULT_CACHE_BYTES) = 17 MiB). The structures sized
//! by the entry limit (hash table, queues, ghost queue: about 330 bytes per entry of
//! capacity) are allocated up front and taken off the byte budget; each entry is then
//! charged the size of its decoded claims value, twice its claims JSON (the JSON kept for
//! other claims types, and an estimate of the decoded claims' heap: strings and lists copied
//! out of that JSON) and 64 bytes of allocation overhead. The token itself is never stored,
//! so the cache stays within its byte budget whatever the tokens' size (and an entry larger
//! than an eighth of a shard is not cached). With the defaults it holds 16 384 users whose
//! claims JSON is up to ~160 bytes (a `sub`, `jti`, `aud`, times and a few scopes); richer
//! claims (an identity provider's, often 600 bytes and more) fit fewer users in the same
//! 17 MiB, or raise the budget. At 100k users the server's RSS was 14 MiB (HS256) to 18 MiB
//! (an identity provider's larger claims) above a server without the layer (2026-12-01,
//! with the 16 MiB budget of then; the step-up claims added 64 bytes to every decoded
//! claims value and 1 MiB to the default): the cache's own accounting stays within its
//! budget, the rest is the allocator's fragmentation under eviction churn.
//!
//! # Eviction: S3-FIFO
//!
//! Each shard runs S3-FIFO (Yang et al., SOSP 2023): a small FIFO queue (10 % of the shard)
//! where new tokens start, a main FIFO queue with CLOCK-style second chances (a 2-bit hit
//! counter per entry), and a ghost queue remembering the digests of tokens recently evicted
//! from the small queue. A hit only bumps the entry's counter (under the shard's read lock).
//! A token evicted from the small queue moves to the main one if it was hit while there,
//! else it leaves (its digest goes to the ghost queue); a token found in the ghost queue
//! when inserted again goes straight to main.
//!
//! Picked on measurement among random eviction (the previous policy), LRU, CLOCK and S3-FIFO
//! under Zipf(s = 1). Simulated hit rates with 16 384 entries (the crate's `cache_policy`
//! benchmark, `benches/cache_policy.rs`: `cargo bench --bench cache_policy`): 10k users 100 % for every
//! policy; 100k users: the previous cache's first-key eviction 43.0 %, LRU 79.1 %, CLOCK
//! 79.8 %, quick_cache 83.5 %, S3-FIFO (ours) 82.8 % — the HTTP harness measured 79–84 %
//! (see [performance](super::performance)).
//!
//! **What it promises against a flood.** A stream of distinct valid tokens each presented
//! once (an attacker minting tokens of its own, or a crawler) evicts main entries only until
//! the small queue holds its 10 % share of the shard; from then on one-time tokens only
//! displace one another in the small queue. So a flood of any length takes at most 10 % of
//! the cache's entries (and bytes) away from the tokens that were requested twice, which
//! live in the main queue. To displace more, each flooding token must itself be requested
//! at least twice (while in the small queue, or again while its digest is in the ghost
//! queue); then the main queue's CLOCK still keeps entries with hits since the hand's last
//! pass over those that have none. The flood costs the tokens that arrive during it and are
//! requested once (they see their second request miss) and the flooder's own verification
//! work, never a valid user's access. Tested by `a_flood_of_one_time_tokens_keeps_the_main_queue`.
