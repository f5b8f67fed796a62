//! Micro-benchmarks of the token hot path, each group next to raw `jsonwebtoken` 11 in the
//! same run so the ratio is measured, not guessed.
//!
//! * `validate/{hs256,rs256,es256,eddsa}`: one valid access token (3 scopes), checked by
//!   - `ours/verify_offline`: `TokenAuth::verify_offline::<NoCustomClaims>` (steps 1–12 of
//!     `src/validate.rs`: structure, header, key, alg, signature, `typ`, claims, time);
//!   - `ours/validate`: `TokenAuth::validate` (the same plus the `jti` SHA-256 digest and a
//!     lookup in a `MemoryRevocationStore` holding 100k entries), awaited on a
//!     current-thread tokio runtime (`b.to_async`: one `block_on` per batch, so the
//!     runtime's cost is amortised away and what remains is the future itself);
//!   - `raw/decode_value`: `jsonwebtoken::decode::<serde_json::Value>` with a prebuilt
//!     `DecodingKey` (from the public PEM) and `Validation::new(alg)` (`exp` required);
//!   - `raw/decode_typed`: the same into a small `#[derive(Deserialize)]` struct.
//! * `issue/hs256`: `TokenAuth::issue_access` against `jsonwebtoken::encode` of the same
//!   claims with a precomputed `jti`/`iat` (`raw/encode`) and with a fresh random `jti`
//!   and clock read per call (`raw/encode_fresh_jti`), as `issue_access` does.
//! * `scope/has`: `ScopeSet::has` on a 5-scope set: exact match (last scope), a match
//!   through the wildcard `users:*`, and a miss (scans all 5).
//! * `revocation/memory`: `MemoryRevocationStore::is_revoked_now` on 100k entries, for a
//!   revoked digest (hit) and an unknown one (miss).
//!
//! Run with `cargo bench --bench validate` (filter with e.g. `-- validate/hs256`); the whole
//! run takes about 1.5 minutes on 2 cores (1 s warm-up, 2 s measurement, 30 samples, no
//! plots). Key fixtures are in `benches/fixtures/`.

use axum_token_auth::trust::TokenCheck;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum_token_auth::store::memory::MemoryRevocationStore;
use axum_token_auth::store::{RevocationStore, SubjectRevocation, TokenDigest};
use axum_token_auth::{
    Key, NoCustomClaims, TokenAuth, TokenRequest,
    token::{Algorithm, ScopeSet, TokenKind},
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, criterion_group, criterion_main};
use jsonwebtoken::{DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use tokio::runtime::Runtime;

const HS256_SECRET: &str = "bench-only-secret-0123456789-abcdefghijklmnopqrstuvwxyz";
const SCOPES: [&str; 3] = ["users:read", "orders:write", "api.v1:read"];
const SCOPE_CLAIM: &str = "users:read orders:write api.v1:read";
const REVOKED_ENTRIES: usize = 100_000;

const RSA_PRIVATE: &str = include_str!("fixtures/rsa2048.pem");
const RSA_PUBLIC: &str = include_str!("fixtures/rsa2048.pub.pem");
const EC_PRIVATE: &str = include_str!("fixtures/ec_p256.pem");
const EC_PUBLIC: &str = include_str!("fixtures/ec_p256.pub.pem");
const ED_PRIVATE: &str = include_str!("fixtures/ed25519.pem");
const ED_PUBLIC: &str = include_str!("fixtures/ed25519.pub.pem");

/// The small typed struct of the `raw/decode_typed` baseline.
#[derive(Deserialize)]
struct RawClaims {
    sub: String,
    exp: u64,
    iat: u64,
    jti: String,
    #[serde(default)]
    scope: String,
}

/// The payload of the `issue/hs256` raw baselines: the fields `issue_access` writes.
#[derive(Serialize)]
struct RawPayload<'a> {
    sub: &'a str,
    iat: u64,
    exp: u64,
    jti: &'a str,
    scope: &'a str,
}

fn short(group: &mut BenchmarkGroup<'_, WallTime>) {
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30);
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("tokio runtime")
}

/// A memory store holding `REVOKED_ENTRIES` unexpired revocations of other tokens.
fn populated_store(rt: &Runtime) -> Arc<MemoryRevocationStore> {
    let store = Arc::new(MemoryRevocationStore::default());
    let expires_at = unix_now() + 3600;
    rt.block_on(async {
        for i in 0..REVOKED_ENTRIES {
            let digest = TokenDigest::of_jti(&format!("revoked-jti-{i}"));
            store.revoke(digest, expires_at).await.expect("revoke");
        }
    });
    assert_eq!(store.len(), REVOKED_ENTRIES);
    store
}

/// One algorithm's setup: our authority, one token it issued, the raw baseline's key.
struct Fixture {
    auth: TokenAuth,
    token: String,
    raw_key: DecodingKey,
    raw_validation: Validation,
}

impl Fixture {
    fn new(signing: Key, raw_key: DecodingKey, store: &Arc<MemoryRevocationStore>) -> Self {
        let alg = signing.algorithm();
        let store: Arc<dyn SubjectRevocation> = store.clone();
        let auth = TokenAuth::builder()
            .signing_key(signing)
            .revocation_store(store)
            .build()
            .expect("bench config");
        let token = auth
            .issue_access(&TokenRequest::new("alice").scopes(SCOPES))
            .expect("issue")
            .into_string();
        let fixture = Fixture {
            auth,
            token,
            raw_key,
            raw_validation: Validation::new(alg),
        };
        fixture.sanity_check(alg);
        fixture
    }

    /// Every contender accepts the token and reads the same claims.
    fn sanity_check(&self, alg: Algorithm) {
        let ours = self
            .auth
            .verify_offline::<NoCustomClaims>(&self.token, TokenKind::Access)
            .unwrap_or_else(|e| panic!("{alg:?}: verify_offline refused: {e}"));
        assert_eq!(ours.sub, "alice");
        assert!(ours.has_scope("orders:write"));
        let value = jsonwebtoken::decode::<serde_json::Value>(
            &self.token,
            &self.raw_key,
            &self.raw_validation,
        )
        .unwrap_or_else(|e| panic!("{alg:?}: raw decode refused: {e}"));
        assert_eq!(value.header.alg, alg);
        assert_eq!(value.claims["sub"], "alice");
        let typed =
            jsonwebtoken::decode::<RawClaims>(&self.token, &self.raw_key, &self.raw_validation)
                .unwrap_or_else(|e| panic!("{alg:?}: raw typed decode refused: {e}"));
        let c = typed.claims;
        assert_eq!(
            (
                c.sub.as_str(),
                c.exp,
                c.iat,
                c.jti.as_str(),
                c.scope.as_str()
            ),
            (
                ours.sub.as_str(),
                ours.exp,
                ours.iat,
                ours.jti.as_str(),
                SCOPE_CLAIM
            )
        );
    }
}

fn bench_validate_group(c: &mut Criterion, rt: &Runtime, name: &str, fx: &Fixture) {
    rt.block_on(
        fx.auth
            .validate::<NoCustomClaims>(&fx.token, TokenCheck::ACCESS),
    )
    .unwrap_or_else(|e| panic!("{name}: validate refused: {e}"));

    let mut group = c.benchmark_group(name);
    short(&mut group);
    let (auth, token) = (&fx.auth, fx.token.as_str());
    group.bench_function("ours/verify_offline", |b| {
        b.iter(|| auth.verify_offline::<NoCustomClaims>(black_box(token), TokenKind::Access))
    });
    group.bench_function("ours/validate", |b| {
        b.to_async(rt).iter(|| async move {
            auth.validate::<NoCustomClaims>(black_box(token), TokenCheck::ACCESS)
                .await
        })
    });
    group.bench_function("raw/decode_value", |b| {
        b.iter(|| {
            jsonwebtoken::decode::<serde_json::Value>(
                black_box(token),
                &fx.raw_key,
                &fx.raw_validation,
            )
        })
    });
    group.bench_function("raw/decode_typed", |b| {
        b.iter(|| {
            jsonwebtoken::decode::<RawClaims>(black_box(token), &fx.raw_key, &fx.raw_validation)
        })
    });
    group.finish();
}

fn validate(c: &mut Criterion) {
    let rt = runtime();
    let store = populated_store(&rt);
    let fixtures = [
        (
            "validate/hs256",
            Key::hs256(HS256_SECRET).expect("hs256 key"),
            DecodingKey::from_secret(HS256_SECRET.as_bytes()),
        ),
        (
            "validate/rs256",
            Key::from_pem(Algorithm::RS256, RSA_PRIVATE).expect("rsa key"),
            DecodingKey::from_rsa_pem(RSA_PUBLIC.as_bytes()).expect("rsa public key"),
        ),
        (
            "validate/es256",
            Key::from_pem(Algorithm::ES256, EC_PRIVATE).expect("ec key"),
            DecodingKey::from_ec_pem(EC_PUBLIC.as_bytes()).expect("ec public key"),
        ),
        (
            "validate/eddsa",
            Key::from_pem(Algorithm::EdDSA, ED_PRIVATE).expect("ed25519 key"),
            DecodingKey::from_ed_pem(ED_PUBLIC.as_bytes()).expect("ed25519 public key"),
        ),
    ];
    for (name, signing, raw_key) in fixtures {
        let fx = Fixture::new(signing, raw_key, &store);
        bench_validate_group(c, &rt, name, &fx);
    }
}

fn issue(c: &mut Criterion) {
    let auth = TokenAuth::builder()
        .hs256_secret(HS256_SECRET)
        .build()
        .expect("bench config");
    let request = TokenRequest::new("alice").scopes(SCOPES);
    let key = EncodingKey::from_secret(HS256_SECRET.as_bytes());
    let header = Header {
        typ: Some("at+jwt".to_owned()),
        ..Header::new(Algorithm::HS256)
    };
    let iat = unix_now();
    let jti = "AAECAwQFBgcICQoLDA0ODw";
    let payload = RawPayload {
        sub: "alice",
        iat,
        exp: iat + 900,
        jti,
        scope: SCOPE_CLAIM,
    };
    // Same header (`typ`, no `kid` for HMAC) and claims as ours, so both sign the same
    // number of bytes.
    auth.issue_access(&request).expect("issue");
    jsonwebtoken::encode(&header, &payload, &key).expect("encode");

    let mut group = c.benchmark_group("issue/hs256");
    short(&mut group);
    group.bench_function("ours/issue_access", |b| {
        b.iter(|| auth.issue_access(black_box(&request)))
    });
    group.bench_function("raw/encode", |b| {
        b.iter(|| jsonwebtoken::encode(&header, black_box(&payload), &key))
    });
    group.bench_function("raw/encode_fresh_jti", |b| {
        b.iter(|| {
            let mut id = [0u8; 16];
            getrandom::fill(&mut id).expect("random");
            let jti = URL_SAFE_NO_PAD.encode(id);
            let iat = unix_now();
            let payload = RawPayload {
                sub: black_box("alice"),
                iat,
                exp: iat + 900,
                jti: &jti,
                scope: SCOPE_CLAIM,
            };
            jsonwebtoken::encode(&header, &payload, &key)
        })
    });
    group.finish();
}

fn scope(c: &mut Criterion) {
    let set: ScopeSet = "orders:read orders:write users:* billing.invoices:read api.v1:read"
        .parse()
        .expect("scopes");
    assert_eq!(set.len(), 5);
    let cases = [
        ("exact", "api.v1:read", true),
        ("wildcard", "users:profile:read", true),
        ("miss", "payments:refund", false),
    ];
    let mut group = c.benchmark_group("scope/has");
    short(&mut group);
    for (name, required, expected) in cases {
        assert_eq!(set.has(required), expected, "{name}");
        group.bench_function(name, |b| b.iter(|| set.has(black_box(required))));
    }
    group.finish();
}

fn revocation(c: &mut Criterion) {
    let store = populated_store(&runtime());
    let hit = TokenDigest::of_jti("revoked-jti-4242");
    let miss = TokenDigest::of_jti("never-revoked");
    assert!(store.is_revoked_now(&hit));
    assert!(!store.is_revoked_now(&miss));

    let mut group = c.benchmark_group("revocation/memory");
    short(&mut group);
    group.bench_function("hit", |b| b.iter(|| store.is_revoked_now(black_box(&hit))));
    group.bench_function("miss", |b| {
        b.iter(|| store.is_revoked_now(black_box(&miss)))
    });
    group.finish();
}

/// Criterion's defaults, without the plotters SVG reports: they cost about 7 s of CPU per
/// benchmark on 2 cores, more than the measurement itself. The figures are printed.
fn config() -> Criterion {
    Criterion::default().without_plots()
}

criterion_group! {
    name = benches;
    config = config();
    targets = validate, issue, scope, revocation
}
criterion_main!(benches);
