//! HTTP load-test server for axum-token-auth and its peers.
//!
//! ```text
//! bench-http <variant> <port> [token-file [tokens]]
//! ```
//!
//! Serves `GET /hello` -> `hello` on `127.0.0.1:<port>` with a single-threaded tokio
//! runtime. Every variant except `bare` requires `Authorization: Bearer <token>` and
//! answers 401 without it. On start it prints `TOKEN <token>` and then
//! `LISTENING 127.0.0.1:<port>`, and writes the token to `token-file` when given; with
//! `tokens` = N > 1 it writes N distinct valid tokens there, one a line (the first is
//! the one printed), for a load generator that rotates through them.
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
//! ours-hs256-nocache, ours-rs256, ours-es256. See scripts/bench-http.sh.

use std::{path::PathBuf, sync::Arc, time::Duration};

use axum::{
    Extension, Router,
    extract::Request,
    http::{StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::get,
};
use axum_token_auth::{Algorithm, Key, TokenAuth, TokenRequest};
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
    "ours-external-rs256",
    "ours-external-rs256-nocache",
];

/// The external issuer of the `ours-external-*` variants: an identity provider's
/// RS256 tokens (Keycloak-shaped: `typ: JWT`, no `jti`, roles in `realm_access`),
/// verified by a verify-only authority that trusts it with a static key.
const EXTERNAL_ISSUER: &str = "https://idp.bench.example/realms/bench";
const EXTERNAL_KID: &str = "idp-1";

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn usage() -> ! {
    eprintln!(
        "usage: bench-http <variant> <port> [token-file [tokens]]\nvariants: {}",
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

/// Our handle for the given variant (the HS256 one also mints the token for the peers).
fn ours(variant: &str) -> Result<TokenAuth, BoxError> {
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
        return Ok(builder.build()?);
    }
    let builder = TokenAuth::builder()
        .access_ttl(Duration::from_secs(3600))
        .audience(AUDIENCE);
    let builder = match variant {
        "ours-rs256" => builder.signing_key(Key::from_pem(
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
        _ => builder.hs256_secret(HS256_SECRET),
    };
    Ok(builder.build()?)
}

fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
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
    let auth = ours(variant)?;
    // `bare` checks nothing, but the load generator sends it the same header anyway
    // (identical requests for every variant), so it mints the HS256 tokens too. Each
    // token has its own random `jti`, so they are all distinct.
    let minted = if variant.starts_with("ours-external") {
        external_tokens(tokens)?
    } else {
        (0..tokens)
            .map(|_| {
                Ok(auth
                    .issue_access(&TokenRequest::new("bench"))?
                    .into_string())
            })
            .collect::<Result<Vec<String>, BoxError>>()?
    };
    let token = &minted[0];

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    if let Some(path) = &token_file {
        let mut text = minted.join("\n");
        if tokens > 1 {
            text.push('\n');
        }
        std::fs::write(path, text)?;
    }
    println!("TOKEN {token}");
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
    Router::new().route("/hello", get(|| async { "hello" }))
}

// ---------------------------------------------------------------------------
// ours: auth.layer() + the Claims extractor
// ---------------------------------------------------------------------------

fn ours_router(auth: TokenAuth) -> Router {
    async fn hello(_claims: axum_token_auth::Claims) -> &'static str {
        "hello"
    }
    Router::new()
        .route("/hello", get(hello))
        .layer(auth.layer())
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
