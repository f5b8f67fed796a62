//! HTTP load-test server for axum-token-auth and its peers.
//!
//! ```text
//! bench-http <variant> <port> [token-file [tokens]]
//! ```
//!
//! A token file that already holds `tokens` lines is read instead of minted (RS256
//! signing of 100 000 tokens takes a minute; rounds of one harness run reuse them).
//! Variants ending in `-redis` / `-postgres` use that revocation store (`REDIS_URL`,
//! `DATABASE_URL`); `refresh-<store>` variants serve `POST /refresh` (body: a refresh
//! token, answer: its successor) over that store, and mint `tokens` sessions (never
//! read from a file: a refresh token is used once). Every server also answers
//! `GET /stats` (outside the layer) with the verified-token cache's
//! `hits misses entries bytes`, and prints `COOKIE <name>` (the access cookie's name).
//!
//! Serves `GET /hello` -> `hello` on `127.0.0.1:<port>` with a single-threaded tokio
//! runtime. Every variant except `bare` requires `Authorization: Bearer <token>`
//! (`ours-dpop-*`: `Authorization: DPoP <token>` and a proof) and answers 401 without
//! it. On start it prints `TOKEN <token>` and then `LISTENING 127.0.0.1:<port>`, and
//! writes the token to `token-file` when given; with `tokens` = N > 1 it writes N
//! distinct valid tokens there, one a line (the first is the one printed), for a load
//! generator that rotates through them.
//!
//! axum-token-auth's layer keeps a cache of verified tokens (default 1024 entries), so
//! with one repeated token the `ours-*` variants measure the cache-hit path, while the
//! peers verify the signature on every request. `ours-hs256-nocache` turns the cache
//! off; N tokens well above the cache size (e.g. 4096) measure the miss path.
//!
//! The token is always minted by axum-token-auth (an access token for subject `bench`,
//! audience `bench-api`, 1 h lifetime), so every peer validates the very same compact
//! JWS; the HS256 peers share one secret, and every auth variant checks signature,
//! `exp` and `aud`, then hands the claims to the handler through its own extractor.
//!
//! Variants: bare, handwritten, jwt-authorizer, axum-jwt-auth, ours-hs256,
//! ours-hs256-nocache, ours-rs256, ours-es256, ours-dpop-es256, ours-dpop-eddsa. See
//! scripts/bench-http.sh.
//!
//! DPoP (RFC 9449): `ours-dpop-es256` / `ours-dpop-eddsa` mint an HS256 access token bound
//! to the client's key (`cnf.jkt`; the key is the testkit's first ES256 / Ed25519 key, the
//! same in every process) and accept it as `Authorization: DPoP <token>` with a fresh
//! `DPoP` proof per request, for the public origin `http://bench.local` (`htu`
//! `http://bench.local/hello`, whatever the port). A load generator cannot sign proofs,
//! so they are signed ahead of the run:
//!
//! ```text
//! bench-http dpop-proofs <variant> <token-file> <count> <out-file>
//! ```
//!
//! writes `count` proofs for `GET /hello` presenting the token of `token-file` (its
//! first line), each its own `jti`, one a line.
//!
//! ```text
//! bench-http dpop-replay-redis <count>
//! ```
//!
//! writes `count` new proof ids into the Redis replay cache at `REDIS_URL`
//! (`RedisStore::first_use`, one awaited call after another, each expiring in an hour)
//! and prints the mean time per call and `MEMORY USAGE` of one id's key (compare
//! `INFO memory` before and after for the bytes per id with the server's overhead). The servers accept proofs for
//! [`DPOP_PROOF_LIFETIME`] (so a pool signed before the rounds stays fresh) and remember
//! up to [`DPOP_REPLAY_CAPACITY`] of them (every proof of a run; each server starts with
//! an empty replay cache, so the rounds can reuse one pool, each proof once per server).

use std::{path::PathBuf, sync::Arc, time::Duration};

use axum::{
    Extension, Router,
    extract::Request,
    http::{StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::get,
};
use axum_token_auth::store::replay::MemoryProofReplay;
use axum_token_auth::testing::DpopKey;
use axum_token_auth::trust::dpop::DpopSettings;
use axum_token_auth::{Key, TokenAuth, TokenRequest, token::Algorithm};
use serde::Deserialize;

/// Shared HS256 secret (ASCII: jwt-authorizer takes the secret as `&str`).
const HS256_SECRET: &str = "bench-http: 7f3a9c1e5b2d8f604a1c9e7b3d5f2a8c";

/// The `aud` every token carries and every peer requires (axum-jwt-auth refuses to
/// start without an audience, so all peers check one, for the same work everywhere).
const AUDIENCE: &str = "bench-api";

const VARIANTS: &[&str] = &[
    "bare",
    "handwritten",
    "jwt-authorizer",
    "axum-jwt-auth",
    "ours-hs256",
    "ours-hs256-nocache",
    "ours-rs256",
    "ours-es256",
    "ours-dpop-es256",
    "ours-dpop-eddsa",
    "ours-external-rs256",
    "ours-external-rs256-nocache",
    "ours-introspected",
    "ours-hs256-redis",
    "ours-hs256-postgres",
    "ours-rs256-redis",
    "ours-rs256-postgres",
    "refresh-memory",
    "refresh-redis",
    "refresh-postgres",
];

/// The external issuer of the `ours-external-*` variants: an identity provider's
/// RS256 tokens (Keycloak-shaped: `typ: JWT`, no `jti`, roles in `realm_access`),
/// verified by a verify-only authority that trusts it with a static key.
const EXTERNAL_ISSUER: &str = "https://idp.bench.example/realms/bench";
const EXTERNAL_KID: &str = "idp-1";

/// The public origin of the DPoP variants: proofs name `http://bench.local/hello`.
const DPOP_ORIGIN: &str = "http://bench.local";

/// How long the DPoP variants accept a proof after its `iat`: a pool signed before the
/// rounds of a harness run stays fresh through all of them.
const DPOP_PROOF_LIFETIME: Duration = Duration::from_secs(4 * 3600);

/// The DPoP variants' replay cache: every proof of one server's runs fits (nothing
/// expires within a run, see [`DPOP_PROOF_LIFETIME`]).
const DPOP_REPLAY_CAPACITY: usize = 4_000_000;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn usage() -> ! {
    eprintln!(
        "usage: bench-http <variant> <port> [token-file [tokens]]\n       bench-http dpop-proofs <ours-dpop-variant> <token-file> <count> <out-file>\nvariants: {}",
        VARIANTS.join(" ")
    );
    std::process::exit(2);
}

fn fixtures_dir() -> PathBuf {
    std::env::var_os("BENCH_HTTP_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures"))
}

fn read_fixture(name: &str) -> Result<Vec<u8>, BoxError> {
    let path = fixtures_dir().join(name);
    std::fs::read(&path).map_err(|e| format!("reading {}: {e}", path.display()).into())
}

/// The revocation and refresh stores a variant names by its suffix (memory by default).
async fn stores(
    variant: &str,
) -> Result<
    (
        Arc<dyn axum_token_auth::store::SubjectRevocation>,
        Arc<dyn axum_token_auth::store::RefreshStore>,
    ),
    BoxError,
> {
    if variant.ends_with("-redis") {
        let url = std::env::var("REDIS_URL").map_err(|_| "a -redis variant needs REDIS_URL")?;
        let r = Arc::new(axum_token_auth::store::redis::RedisStore::connect(&url).await?);
        return Ok((r.clone(), r));
    }
    if variant.ends_with("-postgres") {
        let url =
            std::env::var("DATABASE_URL").map_err(|_| "a -postgres variant needs DATABASE_URL")?;
        let pg = axum_token_auth::store::postgres::PostgresStore::connect(&url).await?;
        pg.migrate().await?;
        let pg = Arc::new(pg);
        return Ok((pg.clone(), pg));
    }
    Ok((
        Arc::new(axum_token_auth::store::memory::MemoryRevocationStore::default()),
        Arc::new(axum_token_auth::store::memory::MemoryRefreshStore::new()),
    ))
}

/// Our handle for the given variant (the HS256 one also mints the token for the peers).
async fn ours(variant: &str) -> Result<TokenAuth, BoxError> {
    if variant == "ours-introspected" {
        return introspected().await;
    }
    let (revocation, _) = stores(variant).await?;
    Ok(ours_builder(variant)?
        .revocation_store(revocation)
        .build()?)
}

fn ours_builder(variant: &str) -> Result<axum_token_auth::TokenAuthBuilder, BoxError> {
    let variant = variant
        .trim_end_matches("-redis")
        .trim_end_matches("-postgres")
        .trim_end_matches("-memory");
    if let Some(rest) = variant.strip_prefix("ours-external-rs256") {
        let public = Key::from_pem(Algorithm::RS256, read_fixture("rsa2048_private.pem")?)?;
        // Only the public half is trusted: rebuild the key from its public JWK.
        let public = Key::from_jwk(&public.public_jwk().ok_or("no public JWK")?, None)?
            .with_kid(EXTERNAL_KID);
        let issuer = axum_token_auth::trust::Issuer::keys(EXTERNAL_ISSUER, [public])
            .audience(AUDIENCE)
            .scope_claims([
                axum_token_auth::trust::ScopeClaim::path("scope"),
                axum_token_auth::trust::ScopeClaim::path("realm_access.roles"),
            ]);
        let builder = TokenAuth::builder().trust(issuer);
        let builder = if rest == "-nocache" {
            builder.verified_cache_capacity(0)
        } else {
            builder
        };
        return Ok(builder);
    }
    let builder = TokenAuth::builder()
        .access_ttl(Duration::from_secs(3600))
        .audience(AUDIENCE);
    let builder = match variant {
        "ours-rs256" | "refresh-rs256" => builder.signing_key(Key::from_pem(
            Algorithm::RS256,
            read_fixture("rsa2048_private.pem")?,
        )?),
        "ours-es256" => builder.signing_key(Key::from_pem(
            Algorithm::ES256,
            read_fixture("ec_p256_private.pem")?,
        )?),
        "ours-hs256-nocache" => builder
            .hs256_secret(HS256_SECRET)
            .verified_cache_capacity(0),
        "ours-dpop-es256" | "ours-dpop-eddsa" => builder.hs256_secret(HS256_SECRET).dpop(
            DpopSettings::new(DPOP_ORIGIN)
                .proof_lifetime(DPOP_PROOF_LIFETIME)
                .replay_store(MemoryProofReplay::with_capacity(DPOP_REPLAY_CAPACITY)),
        ),
        _ => builder.hs256_secret(HS256_SECRET),
    };
    Ok(builder)
}

/// The issuer of the `ours-introspected` variant, whose tokens are opaque.
const INTROSPECTED_ISSUER: &str = "https://opaque.bench.example";

/// The `ours-introspected` variant: a verify-only authority that checks opaque tokens
/// at an RFC 7662 endpoint served by this process on loopback (every token active, for
/// `user-<token>`, for an hour), with the default cache bound (60 s): what a cached
/// introspected token costs against a cached JWT.
async fn introspected() -> Result<TokenAuth, BoxError> {
    use axum_token_auth::trust::{Introspection, Issuer};
    let endpoint = axum::Router::new().route(
        "/introspect",
        axum::routing::post(|body: String| async move {
            let token = body
                .split('&')
                .find_map(|kv| kv.strip_prefix("token="))
                .unwrap_or_default()
                .to_owned();
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            axum::Json(serde_json::json!({
                "active": true, "iss": INTROSPECTED_ISSUER, "aud": AUDIENCE,
                "sub": format!("user-{token}"), "scope": "users:read",
                "exp": now + 3600, "iat": now, "token_type": "Bearer",
            }))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/introspect", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, endpoint).await });
    let issuer = Issuer::keys(INTROSPECTED_ISSUER, [])
        .audience(AUDIENCE)
        .introspection(Introspection::endpoint(url).client_secret_basic("bench", "bench-secret"));
    Ok(TokenAuth::builder().trust(issuer).build()?)
}

/// The client key of a DPoP variant: the testkit's first key of its kind, the same in
/// every process (the token one server mints is bound to the key another one's proofs
/// are signed with). Call it once per process.
fn dpop_key(variant: &str) -> Option<DpopKey> {
    match variant {
        "ours-dpop-es256" => Some(DpopKey::es256()),
        "ours-dpop-eddsa" => Some(DpopKey::ed25519()),
        _ => None,
    }
}

/// `bench-http dpop-replay-redis <count>`: `count` new proof ids into Redis, one call
/// after another; prints the mean time per call and one key's `MEMORY USAGE`.
async fn dpop_replay_redis(count: u64) -> Result<(), BoxError> {
    use axum_token_auth::store::{ProofId, ProofReplay};
    let url = std::env::var("REDIS_URL").map_err(|_| "dpop-replay-redis needs REDIS_URL")?;
    let store = axum_token_auth::store::redis::RedisStore::connect(&url).await?;
    let until = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs()
        + 3600;
    // A fresh run's ids: a jti is 22 base64url characters, as the testkit's.
    let run = std::process::id();
    let id = |i: u64| ProofId::of("bench-http-thumbprint", &format!("{run:011}{i:011}"));
    let start = std::time::Instant::now();
    for i in 0..count {
        if !store.first_use(&id(i), until).await? {
            return Err("a new proof id was answered as a replay".into());
        }
    }
    let per_call = start.elapsed() / count.max(1) as u32;
    if store.first_use(&id(0), until).await? {
        return Err("a replayed proof id was answered as new".into());
    }
    let usage = store.proof_memory_usage(&id(0)).await?;
    println!("IDS {count}");
    println!("US_PER_CALL {:.1}", per_call.as_secs_f64() * 1e6);
    println!(
        "MEMORY_USAGE {}",
        usage.map_or("-".into(), |u| u.to_string())
    );
    Ok(())
}

/// `bench-http dpop-proofs <variant> <token-file> <count> <out-file>`: `count` proofs
/// for `GET /hello` presenting the token, one a line, signed on every core.
fn dpop_proofs(args: &[String]) -> Result<(), BoxError> {
    let [variant, token_file, count, out] = args else {
        usage()
    };
    let key = dpop_key(variant).unwrap_or_else(|| usage());
    let count: usize = count.parse().unwrap_or_else(|_| usage());
    let text = std::fs::read_to_string(token_file)?;
    let token = text.lines().next().ok_or("no token in the token file")?;
    let htu = format!("{DPOP_ORIGIN}/hello");
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per = count.div_ceil(threads);
    let chunks: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (key, htu) = (&key, &htu);
                let n = per.min(count.saturating_sub(t * per));
                s.spawn(move || {
                    let mut chunk = String::with_capacity(n * 600);
                    for _ in 0..n {
                        chunk.push_str(&key.proof("GET", htu).access_token(token).build());
                        chunk.push('\n');
                    }
                    chunk
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    std::fs::write(out, chunks.concat())?;
    Ok(())
}

fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("dpop-proofs") {
        return dpop_proofs(&args[1..]);
    }
    if args.first().map(String::as_str) == Some("dpop-replay-redis") {
        let count: u64 = args
            .get(1)
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| usage());
        return tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(dpop_replay_redis(count));
    }
    if args.len() < 2 || args.len() > 4 {
        usage();
    }
    let variant = args[0].as_str();
    if !VARIANTS.contains(&variant) {
        usage();
    }
    let port: u16 = args[1].parse().unwrap_or_else(|_| usage());
    let token_file = args.get(2).map(PathBuf::from);
    let tokens: usize = match args.get(3) {
        Some(n) => n
            .parse()
            .ok()
            .filter(|n| (1..=1_000_000).contains(n))
            .unwrap_or_else(|| usage()),
        None => 1,
    };
    if variant.starts_with("ours-dpop") && tokens != 1 {
        eprintln!("{variant}: one token (bound to the one client key)");
        usage();
    }

    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(run(variant, port, token_file, tokens))
}

async fn run(
    variant: &str,
    port: u16,
    token_file: Option<PathBuf>,
    tokens: usize,
) -> Result<(), BoxError> {
    if variant.starts_with("refresh-") {
        return refresh_server(variant, port, token_file, tokens).await;
    }
    let auth = ours(variant).await?;
    // `bare` checks nothing, but the load generator sends it the same header anyway
    // (identical requests for every variant), so it mints the HS256 tokens too. Each
    // token has its own random `jti`, so they are all distinct. Tokens of an earlier
    // server of the same key are read back (the harness keeps one file per key).
    // Only the first token is kept from an existing file (one allocation, freed at
    // once): the load generator reads the file, and tokens held here would blur the
    // RSS column (100 000 RS256 tokens are 60 MB). The harness mints once per key in a
    // server of its own before the measured rounds.
    let existing: Option<String> = token_file
        .as_ref()
        .and_then(|p| std::fs::read_to_string(p).ok())
        .filter(|t| t.lines().count() == tokens)
        .and_then(|t| t.lines().next().map(str::to_owned));
    let listener;
    let token = match existing {
        Some(first) => {
            listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
            first
        }
        None => {
            let minted = if variant.starts_with("ours-external") {
                external_tokens(tokens)?
            } else if variant == "ours-introspected" {
                // Opaque tokens: nothing in them but their spelling.
                (0..tokens)
                    .map(|i| format!("opaque-token-of-user-{i:08}"))
                    .collect()
            } else if let Some(key) = dpop_key(variant) {
                let bound = TokenRequest::new("user-0").confirmation(key.confirmation());
                vec![auth.issue_access(&bound)?.into_string()]
            } else {
                (0..tokens)
                    .map(|i| {
                        Ok(auth
                            .issue_access(&TokenRequest::new(format!("user-{i}")))?
                            .into_string())
                    })
                    .collect::<Result<Vec<String>, BoxError>>()?
            };
            listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
            if let Some(path) = &token_file {
                let mut text = minted.join("\n");
                text.push('\n');
                std::fs::write(path, text)?;
            }
            minted[0].clone()
        }
    };
    println!("TOKEN {token}");
    println!("COOKIE {}", auth.web().access_cookie_name().unwrap_or("-"));
    println!("LISTENING {}", listener.local_addr()?);

    match variant {
        "bare" => axum::serve(listener, bare()).await?,
        "handwritten" => axum::serve(listener, handwritten()).await?,
        "jwt-authorizer" => axum07::serve(listener, jwt_authorizer().await?).await?,
        "axum-jwt-auth" => axum::serve(listener, axum_jwt_auth()?).await?,
        _ => axum::serve(listener, ours_router(auth)).await?,
    }
    Ok(())
}

/// `POST /refresh`: the body is a refresh token, the answer its successor (a new
/// family per minted session; each client rotates its own).
async fn refresh_server(
    variant: &str,
    port: u16,
    token_file: Option<PathBuf>,
    sessions: usize,
) -> Result<(), BoxError> {
    use axum::routing::post;
    let (revocation, refresh) = stores(variant).await?;
    let auth = ours_builder("ours-hs256")?
        .revocation_store(revocation)
        .build()?;
    let sessions_handle = axum_token_auth::Sessions::builder_shared(auth, refresh).build()?;
    let mut minted = Vec::with_capacity(sessions);
    for i in 0..sessions {
        let s = sessions_handle
            .login(&TokenRequest::new(format!("user-{i}")), None)
            .await?;
        minted.push(s.pair.refresh.into_string());
    }
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    if let Some(path) = &token_file {
        std::fs::write(path, minted.join("\n") + "\n")?;
    }
    println!("TOKEN {}", minted[0]);
    println!("COOKIE -");
    println!("LISTENING {}", listener.local_addr()?);
    async fn rotate(
        axum::extract::State(s): axum::extract::State<axum_token_auth::Sessions>,
        body: String,
    ) -> Response {
        match s.refresh(body.trim(), None).await {
            Ok(next) => next.pair.refresh.into_string().into_response(),
            Err(e) => (StatusCode::UNAUTHORIZED, e.to_string()).into_response(),
        }
    }
    let app = Router::new()
        .route("/refresh", post(rotate))
        .route("/stats", get(|| async { "0 0 0 0" }))
        .with_state(sessions_handle);
    axum::serve(listener, app).await?;
    Ok(())
}

/// `n` distinct provider tokens as an identity provider mints them (distinct `sub`s).
fn external_tokens(n: usize) -> Result<Vec<String>, BoxError> {
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(&read_fixture("rsa2048_private.pem")?)?;
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some(EXTERNAL_KID.into());
    header.typ = Some("JWT".into());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    (0..n)
        .map(|i| {
            let claims = serde_json::json!({
                "iss": EXTERNAL_ISSUER,
                "sub": format!("user-{i}"),
                "aud": AUDIENCE,
                "iat": now,
                "exp": now + 3600,
                "typ": "Bearer",
                "azp": "bench-client",
                "scope": "openid profile",
                "realm_access": { "roles": ["users:read"] },
            });
            Ok(jsonwebtoken::encode(&header, &claims, &key)?)
        })
        .collect()
}

// ---------------------------------------------------------------------------
// bare: axum 0.8, no auth
// ---------------------------------------------------------------------------

fn bare() -> Router {
    Router::new()
        .route("/hello", get(|| async { "hello" }))
        .route("/stats", get(|| async { "0 0 0 0" }))
}

// ---------------------------------------------------------------------------
// ours: auth.layer() + the Claims extractor
// ---------------------------------------------------------------------------

fn ours_router(auth: TokenAuth) -> Router {
    async fn hello(_claims: axum_token_auth::Claims) -> &'static str {
        "hello"
    }
    let layer = auth.layer();
    let stats = layer.clone();
    Router::new()
        .route("/hello", get(hello))
        .layer(layer)
        .route(
            "/stats",
            get(move || {
                let s = stats.cache_stats();
                async move {
                    s.map_or("0 0 0 0".to_owned(), |s| {
                        format!("{} {} {} {}", s.hits, s.misses, s.entries, s.bytes)
                    })
                }
            }),
        )
}

// ---------------------------------------------------------------------------
// handwritten: middleware::from_fn + jsonwebtoken::decode, claims in extensions
// ---------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct HandClaims {
    sub: String,
    aud: String,
    exp: u64,
    iat: u64,
    jti: String,
    #[serde(default)]
    scope: Option<String>,
}

struct HandKeys {
    key: jsonwebtoken::DecodingKey,
    validation: jsonwebtoken::Validation,
}

fn handwritten() -> Router {
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.set_audience(&[AUDIENCE]);
    let keys = Arc::new(HandKeys {
        key: jsonwebtoken::DecodingKey::from_secret(HS256_SECRET.as_bytes()),
        validation,
    });

    async fn auth(keys: Arc<HandKeys>, mut req: Request, next: Next) -> Response {
        let token = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let Some(token) = token else {
            return unauthorized();
        };
        match jsonwebtoken::decode::<HandClaims>(token, &keys.key, &keys.validation) {
            Ok(data) => {
                req.extensions_mut().insert(Arc::new(data.claims));
                next.run(req).await
            }
            Err(_) => unauthorized(),
        }
    }
    fn unauthorized() -> Response {
        (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
        )
            .into_response()
    }
    async fn hello(Extension(_claims): Extension<Arc<HandClaims>>) -> &'static str {
        "hello"
    }

    Router::new()
        .route("/hello", get(hello))
        .layer(middleware::from_fn(move |req: Request, next: Next| {
            auth(keys.clone(), req, next)
        }))
}

// ---------------------------------------------------------------------------
// jwt-authorizer 0.15 (axum 0.7): its layer + JwtClaims extractor
// ---------------------------------------------------------------------------

async fn jwt_authorizer() -> Result<axum07::Router, BoxError> {
    use jwt_authorizer::{
        Authorizer, IntoLayer, JwtAuthorizer, JwtClaims, RegisteredClaims, Validation,
    };

    async fn hello(JwtClaims(_claims): JwtClaims<RegisteredClaims>) -> &'static str {
        "hello"
    }
    let authorizer: Authorizer<RegisteredClaims> = JwtAuthorizer::from_secret(HS256_SECRET)
        .validation(Validation::new().aud(&[AUDIENCE]))
        .build()
        .await?;
    Ok(axum07::Router::new()
        .route("/hello", axum07::routing::get(hello))
        .layer(authorizer.into_layer()))
}

// ---------------------------------------------------------------------------
// axum-jwt-auth 0.7 (axum 0.8): the Claims extractor with a LocalDecoder in state
// ---------------------------------------------------------------------------

#[derive(Clone, Debug, Deserialize)]
#[allow(dead_code)]
struct PeerClaims {
    sub: String,
    exp: u64,
}

fn axum_jwt_auth() -> Result<Router, BoxError> {
    use axum_jwt_auth::{Claims, Decoder, LocalDecoder};
    use jsonwebtoken10::{Algorithm, DecodingKey, Validation};

    async fn hello(_claims: Claims<PeerClaims>) -> &'static str {
        "hello"
    }
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_audience(&[AUDIENCE]);
    let decoder = LocalDecoder::builder()
        .keys(vec![DecodingKey::from_secret(HS256_SECRET.as_bytes())])
        .validation(validation)
        .build()?;
    let decoder: Decoder<PeerClaims> = Arc::new(decoder);
    Ok(Router::new()
        .route("/hello", get(hello))
        .with_state(decoder))
}
