//! The demo API on the in-memory store.
//!
//! ```text
//! cargo run --example quickstart
//! ```
//!
//! Environment: `ADDR` (default `127.0.0.1:3000`), `JWT_SECRET_KEY` (when unset, a random
//! secret: tokens do not survive a restart) and the other `JWT_*` variables of
//! `TokenAuthBuilder::from_env`. `COOKIE_SECURE=false` drops the `Secure` cookie flag
//! for clients that will not send Secure cookies over plain http (development only).
//!
//! `POST /auth/login` takes `application/json` only, and refuses cross-site requests
//! (`Origin` / `Sec-Fetch-Site`): a cross-site form cannot log a victim into the
//! attacker's account (login CSRF). A browser gets the tokens as cookies; a client that
//! sends `"token_delivery": "body"` gets them as a JSON pair instead (and no cookies).
//! Failed logins are throttled (`Sessions::password_login`'s defaults: 5 per account and
//! client address and 50 per address per 15 minutes, 100 per account per hour): over a
//! limit, 429 with `Retry-After` and no password checked. The counts live in the `STORE`
//! (Redis: shared by every instance; memory otherwise).
//!
//! External issuer (feature `oidc`: `cargo run --example quickstart --features oidc`):
//! `OIDC_ISSUER` (found by discovery) or `JWKS_URL` + `JWKS_ISSUER`; `OIDC_AUDIENCE`
//! (comma-separated; default `RESOURCE_URL`); `OIDC_SCOPE_CLAIMS` (comma-separated claim
//! paths, default `scope`). Its access tokens are then accepted next to the quickstart's own.
//! `GET /health/keys` shows its key set (`auth.key_sets()`), 503 once it no longer verifies.
//!
//! Provider events (with an external issuer): `POST /oidc/backchannel-logout` takes the
//! issuer's OIDC Back-Channel Logout tokens (`aud`: a value of `OIDC_AUDIENCE` or of
//! `OIDC_CLIENT_ID`, the client id registered at the provider; prefer the latter, which
//! admits no ID token as an access token) and `POST /ssf/events` its pushed Security
//! Event Tokens (RFC 8935: 202, or 400 with `err`; `aud`: `SSF_AUDIENCE`, default
//! `RESOURCE_URL`; with `SSF_AUTHORIZATION`, only pushes carrying that exact
//! `Authorization` value). A logout or a CAEP / RISC event refuses the tokens it names on every
//! instance sharing the `STORE`; a store that is down answers 503 with `Retry-After`.
//!
//! Protected resource (RFC 9728, RFC 8707): `RESOURCE_URL` (default `http://` + the listen
//! address) is the resource identifier. Its metadata is served at its well-known location
//! (`/.well-known/oauth-protected-resource` + the identifier's path) and named in every
//! 401 (`resource_metadata="…"`); it is the audience our tokens carry (unless
//! `JWT_AUDIENCE`) and external tokens must carry (unless `OIDC_AUDIENCE`).
//!
//! Opaque tokens of that issuer (RFC 7662 introspection, feature `oidc`):
//! `INTROSPECTION_CLIENT_ID` + `INTROSPECTION_CLIENT_SECRET` (client_secret_basic) at
//! `INTROSPECTION_URL`, or at the endpoint its discovery document names (`OIDC_ISSUER`);
//! `INTROSPECTION_CACHE_MAX_TTL` (seconds, default 60) bounds how long an answer is
//! trusted. `/me`, `/users`, `/admin` then answer for opaque bearer tokens exactly as
//! for the issuer's JWTs.
//!
//! DPoP (RFC 9449): `DPOP=off|allowed|required` (default `allowed`): a login or refresh
//! with a `DPoP` proof header mints tokens bound to its key (`token_type: "DPoP"`), and
//! `/me`, `/users`, `/admin` take `Authorization: DPoP <token>` with a proof; `required`
//! refuses bearer tokens and logins without a proof. `DPOP_NONCE=true` turns server
//! nonces on (secret: `DPOP_NONCE_SECRET`, else `JWT_SECRET_KEY`, else random — one
//! instance only). `DPOP_PUBLIC_ORIGIN` is the origin clients put in `htu` (behind a
//! proxy: the one they see; default `http://` + the listen address).
//!
//! Step-up (RFC 9470): `/sensitive` requires `acr` in `STEP_UP_ACR` (comma-separated,
//! default `mfa`) and an authentication at most `STEP_UP_MAX_AGE` seconds old (default
//! 300); otherwise 401 `insufficient_user_authentication` with `acr_values` and
//! `max_age`. A password login is `acr` `pwd`; `POST /auth/second-factor` with the
//! session's refresh token and the demo code `123456` in an `otp` header raises it to
//! `mfa` (refreshes keep it).
//!
//! Certificate-bound tokens (RFC 8705) behind a TLS-terminating proxy:
//! `MTLS_CERT_HEADER=<name>` trusts that header for the client certificate (PEM,
//! URL-encoded PEM or base64 DER; `X-Forwarded-Client-Cert` as Envoy writes it). Set it
//! only when every request comes through the proxy, which overwrites the header.
//!
//! Migration: the tokens of the systems this replaces, each accepted when its secret is
//! set, until `LEGACY_ACCEPT_UNTIL` (RFC 3339, `2027-01-31T00:00:00Z`, or seconds since
//! the epoch; default 30 days from start):
//! `LEGACY_SCOPED_TOKEN_SECRET` (ScopedTokenService, HS256),
//! `LEGACY_WEBTOOL_SECRET` (webtool's JWTService, HS384, float dates),
//! `LEGACY_FASTCORE_SECRET` (fastcore; `LEGACY_FASTCORE_ALGORITHM`, default HS256, and
//! `LEGACY_FASTCORE_AUDIENCE` / `LEGACY_FASTCORE_ISSUER` as its `JWT_AUDIENCE` /
//! `JWT_ISSUER`), `LEGACY_TOKEN_AUTH_SECRET` (Flask Token-Auth;
//! `LEGACY_TOKEN_AUTH_ALGORITHM`, default HS256).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use axum_token_auth::password::hash_password;
use axum_token_auth::trust::events::SecurityEvents;
use axum_token_auth::{
    AuthError, Claims, Key, RequireScope, ScopeGuardLayer, Sessions, TokenAuth, TokenAuthBuilder,
    TokenRequest,
    http::{
        CookieSettings, InvalidRequest, ProtectedResource, StepUpLayer, require_json_content_type,
    },
    scope,
    session::{
        LoginLimiter, PasswordAccount, PasswordAccounts, PresentedRefresh, SecondFactor,
        TokenDelivery,
    },
    store::attempts::{AttemptCounter, MemoryAttempts},
    store::memory::{MemoryRefreshStore, MemoryRevocationStore},
    store::replay::MemoryProofReplay,
    store::{ProofReplay, RefreshStore, StoreError, SubjectRevocation},
    token::Algorithm,
    trust::LegacyIssuer,
    trust::dpop::{DpopPolicy, DpopSettings},
};
use serde::Deserialize;
use serde_json::json;

scope! {
    /// May list users.
    pub UsersRead = "users:read";
    /// May create users.
    pub UsersWrite = "users:write";
}

struct User {
    password_hash: String,
    scopes: &'static [&'static str],
}

#[derive(Clone)]
struct AppState {
    auth: TokenAuth,
    sessions: Sessions,
    users: Users,
}

/// The demo's users, for the password login route: all it needs from the application.
#[derive(Clone)]
struct Users(Arc<HashMap<&'static str, User>>);

#[axum_token_auth::async_trait]
impl PasswordAccounts for Users {
    async fn find(&self, username: &str) -> Result<Option<PasswordAccount>, StoreError> {
        Ok(self.0.get(username).map(|user| {
            let request = TokenRequest::new(username).scopes(user.scopes.iter().copied());
            PasswordAccount::new(&user.password_hash, request)
        }))
    }
}

/// The `PresentedRefresh` and `DpopProof` extractors find the handles in the state.
impl axum::extract::FromRef<AppState> for Sessions {
    fn from_ref(state: &AppState) -> Sessions {
        state.sessions.clone()
    }
}

impl axum::extract::FromRef<AppState> for TokenAuth {
    fn from_ref(state: &AppState) -> TokenAuth {
        state.auth.clone()
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,axum_token_auth=debug".into()),
        )
        .init();

    let addr: SocketAddr = std::env::var("ADDR")
        .unwrap_or_else(|_| "127.0.0.1:3000".into())
        .parse()?;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let base = format!("http://{}", listener.local_addr()?);
    let app = demo_app_at(&base).await?;
    println!("axum-token-auth quickstart listening on {base}\n");
    println!("  curl {base}/health");
    println!(
        "  TOKEN=$(curl -s {base}/auth/login -H 'content-type: application/json' \\\n      -d '{{\"username\":\"alice\",\"password\":\"alice-password\",\"token_delivery\":\"body\"}}' | sed -E 's/.*\"access_token\":\"([^\"]+)\".*/\\1/')"
    );
    println!("  curl -i {base}/me -H \"Authorization: Bearer $TOKEN\"");
    println!("  curl -i {base}/users -H \"Authorization: Bearer $TOKEN\"");
    println!("  curl -i -X POST {base}/users -H \"Authorization: Bearer $TOKEN\"");
    println!(
        "  curl -i {base}/admin -H \"Authorization: Bearer $TOKEN\"     # 403: alice is no admin"
    );
    println!("  curl -i {base}/me                                          # 401");
    println!(
        "  curl -i {base}/sensitive -H \"Authorization: Bearer $TOKEN\"  # 401: step up (acr mfa)"
    );
    println!("  curl {base}/.well-known/oauth-protected-resource              # RFC 9728 metadata");
    println!(
        "  REFRESH=$(curl -s {base}/auth/login -H 'content-type: application/json' \\\n      -d '{{\"username\":\"admin\",\"password\":\"admin-password\",\"token_delivery\":\"body\"}}' | sed -E 's/.*\"refresh_token\":\"([^\"]+)\".*/\\1/')"
    );
    println!(
        "  curl -i {base}/auth/refresh -H 'content-type: application/json' -d \"{{\\\"refresh_token\\\":\\\"$REFRESH\\\"}}\""
    );
    println!("  (the cookie flow with CSRF: see the manual, page \"sessions\")\n");
    // `ConnectInfo`: the login throttle counts failures per client address.
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await?;
    Ok(())
}

/// The demo application, configured from the environment (`tests/it/quickstart.rs` drives
/// it through a real `Router`).
#[allow(dead_code)] // the binary serves `demo_app_at`; tests drive this one
pub(crate) async fn demo_app() -> Result<Router, Box<dyn std::error::Error>> {
    demo_app_with(&|name| std::env::var(name).ok()).await
}

/// [`demo_app`] served at `base` (the default of `DPOP_PUBLIC_ORIGIN` and `RESOURCE_URL`).
async fn demo_app_at(base: &str) -> Result<Router, Box<dyn std::error::Error>> {
    let base = base.to_owned();
    demo_app_with(&move |name| {
        std::env::var(name)
            .ok()
            .or_else(|| matches!(name, "DPOP_PUBLIC_ORIGIN" | "RESOURCE_URL").then(|| base.clone()))
    })
    .await
}

/// [`demo_app`], with the `LEGACY_*`, `DPOP_*` and `RESOURCE_URL` variables read
/// through `env` (tests pass their own).
pub(crate) async fn demo_app_with(
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Router, Box<dyn std::error::Error>> {
    let legacy = legacy_issuers(env)?;
    let (revocation, refresh, replay, attempts) = open_stores().await?;
    let dpop = dpop_settings(env, Arc::clone(&replay))?;
    let events = security_events(env, replay);
    let (auth, trusts_an_issuer) =
        build_auth(revocation, legacy, dpop, protected_resource(env), events)?;
    let users = demo_users()?;
    // A legacy format's refresh token (when one is configured) is exchanged for a new
    // session at its next refresh: users move over without logging in again.
    let sessions = Sessions::builder_shared(auth.clone(), refresh)
        .exchange_legacy_refresh_tokens(true)
        .build()?;
    let users = Users(Arc::new(users));
    // The password login: JSON only, same origin, DPoP-bound when a proof comes, one
    // password hash per attempt (unknown users too), failures throttled per account and
    // client address in the `STORE` (shared by every instance; memory for `postgres`).
    let login = sessions
        .password_login(users.clone())
        .throttle(LoginLimiter::shared(attempts))
        .build()?;
    let state = AppState {
        auth: auth.clone(),
        sessions: sessions.clone(),
        users,
    };

    // The session routes act on *our* users by `sub`: an identity provider's token (whose
    // `sub` may equal a local user id) or a legacy one is refused before the handler.
    let own_sessions = Router::new()
        .route("/auth/sessions", sessions.sessions_route())
        .route("/auth/sessions/{id}", sessions.revoke_session_route())
        .route_layer(auth.layer().own_tokens_only());
    // RFC 9470: `/sensitive` needs a recent, strong authentication; a token without it
    // gets 401 `insufficient_user_authentication` naming what to ask the login for.
    let step_up = step_up_guard(env)?;
    tracing::warn!(
        "POST /auth/second-factor accepts the fixed demo code {DEMO_OTP}: a real service checks a TOTP or WebAuthn"
    );
    let mut protected = Router::new()
        .route("/me", get(me))
        .merge(
            Router::new()
                .route("/sensitive", get(sensitive))
                .route_layer(step_up),
        )
        .route("/users", get(list_users).post(create_user))
        .merge(
            Router::new()
                .route("/admin", get(admin))
                .route("/admin/revocations", axum::routing::post(revoke_token))
                .route_layer(ScopeGuardLayer::all(["admin"])?),
        )
        // `route_layer`: the routes above are guarded, unknown paths stay 404 (`.layer`
        // would wrap the fallback too and answer them 401).
        .route_layer(auth.layer());
    if !auth.jwks().keys.is_empty() {
        protected = protected.route("/.well-known/jwks.json", auth.web().jwks_route());
    }
    let app = Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/auth/login", login.route())
        .route("/auth/refresh", sessions.refresh_route())
        .route("/auth/logout", sessions.logout_route())
        .route("/auth/second-factor", axum::routing::post(second_factor))
        .merge(own_sessions)
        .merge(protected)
        // RFC 9728: where clients find how to get a token for this API.
        .merge(auth.web().resource_metadata_router());
    // The identity provider's logout tokens and security events (outside the token
    // layer: a provider sends none): POST /oidc/backchannel-logout, POST /ssf/events.
    let app = if trusts_an_issuer {
        app.merge(auth.web().security_event_routes())
    } else {
        app
    };
    // A readiness probe for the identity provider's key sets.
    let app = app.route("/health/keys", get(key_set_health));
    Ok(app.with_state(state))
}

/// `GET /health/keys`: each trusted issuer's key set (`auth.key_sets()`: state, age,
/// staleness against `max_stale`, fetch counts); 503 when one no longer verifies its
/// tokens (never fetched, or its provider failing for longer than `max_stale`).
async fn key_set_health(State(state): State<AppState>) -> (StatusCode, Json<serde_json::Value>) {
    let sets = state.auth.key_sets();
    let status = if sets.iter().all(|s| s.state.is_serving()) {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(json!(sets)))
}

type Stores = (
    Arc<dyn SubjectRevocation>,
    Arc<dyn RefreshStore>,
    Arc<dyn ProofReplay>,
    Arc<dyn AttemptCounter>,
);

/// The stores named by `STORE` (`memory`, the default; `redis` with `REDIS_URL`;
/// `redis-cluster` with `REDIS_CLUSTER_NODES=host:port,host:port,…`; `postgres` with
/// `DATABASE_URL`). Redis and PostgreSQL need their cargo feature.
async fn open_stores() -> Result<Stores, Box<dyn std::error::Error>> {
    let store = std::env::var("STORE").unwrap_or_else(|_| "memory".into());
    match store.as_str() {
        "memory" => Ok((
            Arc::new(MemoryRevocationStore::default()),
            Arc::new(MemoryRefreshStore::new()),
            Arc::new(MemoryProofReplay::default()),
            Arc::new(MemoryAttempts::new()),
        )),
        #[cfg(feature = "redis")]
        "redis" => {
            let url =
                std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into());
            let redis = Arc::new(axum_token_auth::store::redis::RedisStore::connect(&url).await?);
            tracing::info!("store: redis");
            Ok((redis.clone(), redis.clone(), redis.clone(), redis))
        }
        #[cfg(feature = "redis")]
        "redis-cluster" => {
            let nodes = std::env::var("REDIS_CLUSTER_NODES").map_err(
                |_| "STORE=redis-cluster needs REDIS_CLUSTER_NODES=host:port,host:port,…",
            )?;
            let nodes: Vec<&str> = nodes.split(',').filter(|n| !n.trim().is_empty()).collect();
            let options = axum_token_auth::store::redis::RedisSettings::default();
            let redis = Arc::new(
                axum_token_auth::store::redis::RedisStore::connect_cluster(&nodes, options).await?,
            );
            tracing::info!(nodes = nodes.len(), "store: redis cluster");
            Ok((redis.clone(), redis.clone(), redis.clone(), redis))
        }
        #[cfg(feature = "postgres")]
        "postgres" => {
            let url =
                std::env::var("DATABASE_URL").map_err(|_| "STORE=postgres needs DATABASE_URL")?;
            // POSTGRES_SCHEMA puts the tables in a schema of their own (created if missing).
            let mut options = axum_token_auth::store::postgres::PostgresSettings::default();
            if let Ok(schema) = std::env::var("POSTGRES_SCHEMA") {
                options = options.schema(schema);
            }
            let pg = axum_token_auth::store::postgres::PostgresStore::connect_with(&url, options)
                .await?;
            pg.migrate().await?;
            pg.spawn_cleanup(std::time::Duration::from_secs(600));
            let pg = Arc::new(pg);
            tracing::info!("store: postgres (login throttle: per instance, in memory)");
            Ok((pg.clone(), pg.clone(), pg, Arc::new(MemoryAttempts::new())))
        }
        #[allow(unreachable_patterns)] // reachable when a store feature is off
        "redis" | "redis-cluster" | "postgres" => {
            let feature = store.trim_end_matches("-cluster");
            Err(format!(
                "STORE={store} needs the `{feature}` feature: cargo run --example quickstart --features {feature}"
            )
            .into())
        }
        other => Err(
            format!("unknown STORE={other:?} (memory, redis, redis-cluster or postgres)").into(),
        ),
    }
}

/// `DPOP`, `DPOP_NONCE`, `DPOP_PUBLIC_ORIGIN`: the DPoP settings (`None` when off), the
/// proofs' ids remembered in `replay` (the store `STORE` names, shared by instances).
fn dpop_settings(
    env: &dyn Fn(&str) -> Option<String>,
    replay: Arc<dyn ProofReplay>,
) -> Result<Option<DpopSettings>, Box<dyn std::error::Error>> {
    let var = |name: &str| {
        env(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let policy = match var("DPOP").as_deref().unwrap_or("allowed") {
        "off" => return Ok(None),
        "allowed" => DpopPolicy::Allowed,
        "required" => DpopPolicy::Required,
        other => return Err(format!("DPOP={other:?}: off, allowed or required").into()),
    };
    let origin = var("DPOP_PUBLIC_ORIGIN").unwrap_or_else(|| {
        format!(
            "http://{}",
            var("ADDR").unwrap_or_else(|| "127.0.0.1:3000".into())
        )
    });
    let mut settings = DpopSettings::new(origin)
        .policy(policy)
        .replay_store_shared(replay);
    if var("DPOP_NONCE").as_deref() == Some("true") {
        let secret = match var("DPOP_NONCE_SECRET").or_else(|| var("JWT_SECRET_KEY")) {
            Some(s) => s.into_bytes(),
            None => {
                tracing::warn!(
                    "DPOP_NONCE=true without DPOP_NONCE_SECRET: a random nonce secret (one instance only)"
                );
                random_secret()
            }
        };
        settings = settings.nonces(secret);
    }
    Ok(Some(settings))
}

/// 32 random bytes from the OS-seeded keys of `RandomState` (the example has no RNG
/// crate of its own; a development fallback only).
fn random_secret() -> Vec<u8> {
    use std::hash::{BuildHasher, Hasher};
    (0..4)
        .flat_map(|i: u64| {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u64(i);
            h.finish().to_le_bytes()
        })
        .collect()
}

/// This API as a protected resource (RFC 9728): `RESOURCE_URL`, by default `http://` +
/// the listen address. It is the audience of external tokens without `OIDC_AUDIENCE`,
/// and of our own without `JWT_AUDIENCE` (RFC 8707).
fn protected_resource(env: &dyn Fn(&str) -> Option<String>) -> ProtectedResource {
    let var = |name: &str| {
        env(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let url = var("RESOURCE_URL").unwrap_or_else(|| {
        format!(
            "http://{}",
            var("ADDR").unwrap_or_else(|| "127.0.0.1:3000".into())
        )
    });
    ProtectedResource::new(url)
        .name("axum-token-auth quickstart")
        .scopes::<(UsersRead, UsersWrite)>()
        .scopes_supported(["admin"])
}

/// The event receivers' settings: SETs must be addressed to `SSF_AUDIENCE`
/// (comma-separated; default the resource identifier); event ids are remembered in the
/// `STORE` (shared by every instance), as DPoP proofs are.
fn security_events(
    env: &dyn Fn(&str) -> Option<String>,
    replay: Arc<dyn ProofReplay>,
) -> SecurityEvents {
    let mut events = SecurityEvents::new().replay_store_shared(replay);
    // SSF_AUTHORIZATION: the `Authorization` value the transmitter's stream sends.
    if let Some(value) = env("SSF_AUTHORIZATION").filter(|v| !v.trim().is_empty()) {
        events = events.push_authorization(value.trim());
    }
    for aud in env("SSF_AUDIENCE").iter().flat_map(|v| v.split(',')) {
        if !aud.trim().is_empty() {
            events = events.ssf_audience(aud.trim());
        }
    }
    events
}

fn build_auth(
    revocation: Arc<dyn SubjectRevocation>,
    legacy: Vec<LegacyIssuer>,
    dpop: Option<DpopSettings>,
    resource: ProtectedResource,
    events: SecurityEvents,
) -> Result<(TokenAuth, bool), Box<dyn std::error::Error>> {
    // Set where an issuer is trusted (feature `oidc`): its event routes are mounted then.
    #[cfg_attr(not(feature = "oidc"), allow(unused_mut))]
    let mut trusts_an_issuer = false;
    let mut builder = TokenAuthBuilder::from_env()?
        .revocation_store(revocation)
        .resource(resource)
        .security_events(events);
    if let Some(d) = dpop {
        builder = builder.dpop(d);
    }
    let has_key = ["JWT_SECRET_KEY", "JWT_PRIVATE_KEY", "JWT_PRIVATE_KEY_FILE"]
        .iter()
        .any(|v| std::env::var(v).is_ok_and(|s| !s.trim().is_empty()));
    if !has_key {
        let alg = match std::env::var("JWT_ALGORITHM") {
            Ok(a) => a.trim().parse()?,
            Err(_) => Algorithm::HS256,
        };
        tracing::warn!(
            "JWT_SECRET_KEY is not set: using a random secret; tokens will not survive a restart"
        );
        builder = builder.signing_key(Key::generate_hmac(alg)?);
    }
    for l in legacy {
        builder = builder.accept_legacy(l);
    }
    #[cfg(feature = "oidc")]
    if let Some(issuer) = with_introspection(external_issuer()?, &|n| std::env::var(n).ok())? {
        builder = builder.trust(issuer);
        trusts_an_issuer = true;
    }
    #[cfg(not(feature = "oidc"))]
    refuse_external_issuer()?;
    if std::env::var("COOKIE_SECURE").is_ok_and(|v| v == "false") {
        tracing::warn!("COOKIE_SECURE=false: cookies lose the Secure flag (development only)");
        builder = builder.cookies(CookieSettings::default().insecure_dev_cookies());
    }
    // RFC 8705 behind a TLS-terminating proxy: the header carrying the client certificate.
    if let Some(name) = std::env::var("MTLS_CERT_HEADER")
        .ok()
        .filter(|v| !v.trim().is_empty())
    {
        builder = builder.mtls(axum_token_auth::http::MtlsSettings::header(name));
    }
    Ok((builder.build()?, trusts_an_issuer))
}

/// The legacy formats whose `LEGACY_*_SECRET` is set, each accepted until
/// `LEGACY_ACCEPT_UNTIL`. Secrets are never logged; weak ones are refused.
fn legacy_issuers(
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<LegacyIssuer>, Box<dyn std::error::Error>> {
    let var = |name: &str| {
        env(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let alg = |name: &str| -> Result<Algorithm, String> {
        var(name).map_or(Ok(Algorithm::HS256), |a| {
            a.parse()
                .map_err(|_| format!("{name}: not a JWT algorithm"))
        })
    };
    let mut issuers = Vec::new();
    if let Some(secret) = var("LEGACY_SCOPED_TOKEN_SECRET") {
        issuers.push(LegacyIssuer::scoped_token_service(secret)?);
    }
    if let Some(secret) = var("LEGACY_WEBTOOL_SECRET") {
        issuers.push(LegacyIssuer::webtool(secret)?);
    }
    if let Some(secret) = var("LEGACY_FASTCORE_SECRET") {
        let mut fastcore = LegacyIssuer::fastcore(alg("LEGACY_FASTCORE_ALGORITHM")?, secret)?;
        if let Some(aud) = var("LEGACY_FASTCORE_AUDIENCE") {
            fastcore = fastcore.audience(aud);
        }
        if let Some(iss) = var("LEGACY_FASTCORE_ISSUER") {
            fastcore = fastcore.issuer(iss);
        }
        issuers.push(fastcore);
    }
    if let Some(secret) = var("LEGACY_TOKEN_AUTH_SECRET") {
        issuers.push(LegacyIssuer::token_auth(
            alg("LEGACY_TOKEN_AUTH_ALGORITHM")?,
            secret,
        )?);
    }
    if issuers.is_empty() {
        return Ok(issuers);
    }
    let until = match var("LEGACY_ACCEPT_UNTIL") {
        Some(v) => UNIX_EPOCH + Duration::from_secs(
            v.parse::<u64>().ok().or_else(|| rfc3339_seconds(&v)).ok_or(
                "LEGACY_ACCEPT_UNTIL: an RFC 3339 date-time (2027-01-31T00:00:00Z) or seconds since the epoch",
            )?,
        ),
        None => SystemTime::now() + Duration::from_secs(30 * 86_400),
    };
    let formats: Vec<_> = issuers.iter().map(LegacyIssuer::format).collect();
    tracing::info!(
        ?formats,
        "accepting legacy tokens during the migration window"
    );
    Ok(issuers.into_iter().map(|l| l.accept_until(until)).collect())
}

/// Seconds since the epoch of an RFC 3339 date-time: `2027-01-31T00:00:00Z`, with an
/// offset (`+02:00`) or a fraction (dropped). `None` for anything else.
pub(crate) fn rfc3339_seconds(v: &str) -> Option<u64> {
    let digits = |s: Option<&str>| -> Option<i64> {
        let s = s?;
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    let b = v.as_bytes();
    if b.len() < 20
        || (b[4], b[7], b[13], b[16]) != (b'-', b'-', b':', b':')
        || !matches!(b[10], b'T' | b't')
    {
        return None;
    }
    let field = |from: usize, to: usize| digits(v.get(from..to));
    let (y, mo, d) = (field(0, 4)?, field(5, 7)?, field(8, 10)?);
    let (h, mi, s) = (field(11, 13)?, field(14, 16)?, field(17, 19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let mut rest = &v[19..];
    if let Some(fraction) = rest.strip_prefix('.') {
        let n = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return None;
        }
        rest = &fraction[n..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6 && rest.as_bytes()[3] == b':' => {
            let sign = match rest.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            sign * (digits(rest.get(1..3))? * 3600 + digits(rest.get(4..6))? * 60)
        }
        _ => return None,
    };
    // Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((mo + 9) % 12) + 2) / 5 + d - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    u64::try_from(days * 86_400 + h * 3600 + mi * 60 + s - offset).ok()
}

/// The external issuer named by `OIDC_ISSUER` or `JWKS_URL` + `JWKS_ISSUER`, if any.
#[cfg(feature = "oidc")]
fn external_issuer() -> Result<Option<axum_token_auth::trust::Issuer>, Box<dyn std::error::Error>> {
    use axum_token_auth::trust::{Issuer, ScopeClaim};
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let list = |v: String| -> Vec<String> {
        v.split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect()
    };
    let issuer = match (var("OIDC_ISSUER"), var("JWKS_URL"), var("JWKS_ISSUER")) {
        (Some(iss), None, _) => Issuer::discover(iss.trim()),
        (None, Some(url), Some(iss)) => Issuer::jwks_url(iss.trim(), url.trim()),
        (None, Some(_), None) => return Err("JWKS_URL needs JWKS_ISSUER (the tokens' iss)".into()),
        (Some(_), Some(_), _) => return Err("set OIDC_ISSUER or JWKS_URL, not both".into()),
        (None, None, _) => return Ok(None),
    };
    // Without OIDC_AUDIENCE, the issuer's tokens must be minted for RESOURCE_URL.
    let audiences = var("OIDC_AUDIENCE").map(list).unwrap_or_default();
    let claims = var("OIDC_SCOPE_CLAIMS")
        .map(list)
        .unwrap_or_else(|| vec!["scope".into()]);
    // OIDC_CLIENT_ID: this API's client id at the issuer, the audience of its logout
    // tokens only (an audience in OIDC_AUDIENCE would let its ID tokens pass too).
    let client_ids = var("OIDC_CLIENT_ID").map(list).unwrap_or_default();
    tracing::info!(issuer = issuer.issuer(), ?audiences, scope_claims = ?claims, "trusting an external issuer");
    let mut issuer = issuer
        .audiences(audiences)
        .scope_claims(claims.iter().map(|c| ScopeClaim::path(c)));
    for id in client_ids {
        issuer = issuer.client_id(id);
    }
    Ok(Some(issuer))
}

/// The external issuer with RFC 7662 introspection of its opaque tokens when
/// `INTROSPECTION_CLIENT_ID` is set: at `INTROSPECTION_URL`, or discovered from its
/// metadata; `INTROSPECTION_CACHE_MAX_TTL` seconds (default 60) bound the cache.
#[cfg(feature = "oidc")]
pub(crate) fn with_introspection(
    issuer: Option<axum_token_auth::trust::Issuer>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<axum_token_auth::trust::Issuer>, Box<dyn std::error::Error>> {
    use axum_token_auth::trust::Introspection;
    let var = |name: &str| {
        env(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let (url, id) = (var("INTROSPECTION_URL"), var("INTROSPECTION_CLIENT_ID"));
    let Some(id) = id else {
        if url.is_some() {
            return Err(
                "INTROSPECTION_URL needs INTROSPECTION_CLIENT_ID and INTROSPECTION_CLIENT_SECRET"
                    .into(),
            );
        }
        return Ok(issuer);
    };
    let issuer = issuer
        .ok_or("introspection needs the tokens' issuer: OIDC_ISSUER, or JWKS_URL + JWKS_ISSUER")?;
    let secret = var("INTROSPECTION_CLIENT_SECRET")
        .ok_or("INTROSPECTION_CLIENT_ID needs INTROSPECTION_CLIENT_SECRET")?;
    let ttl = match var("INTROSPECTION_CACHE_MAX_TTL") {
        Some(s) => s
            .parse()
            .map_err(|_| "INTROSPECTION_CACHE_MAX_TTL is a number of seconds")?,
        None => 60,
    };
    let endpoint = match &url {
        Some(url) => Introspection::endpoint(url),
        None => Introspection::discovered(),
    };
    tracing::info!(
        issuer = issuer.issuer(),
        endpoint = url.as_deref().unwrap_or("discovered"),
        max_ttl_secs = ttl,
        "introspecting opaque tokens"
    );
    Ok(Some(
        issuer.introspection(
            endpoint
                .client_secret_basic(id, secret)
                .max_cache_ttl(Duration::from_secs(ttl)),
        ),
    ))
}

#[cfg(not(feature = "oidc"))]
fn refuse_external_issuer() -> Result<(), Box<dyn std::error::Error>> {
    if ["OIDC_ISSUER", "JWKS_URL"]
        .iter()
        .any(|v| std::env::var(v).is_ok_and(|s| !s.trim().is_empty()))
    {
        return Err(
            "OIDC_ISSUER / JWKS_URL need the `oidc` feature: cargo run --example quickstart --features oidc"
                .into(),
        );
    }
    Ok(())
}

fn demo_users() -> Result<HashMap<&'static str, User>, Box<dyn std::error::Error>> {
    let mut users = HashMap::new();
    users.insert(
        "alice",
        User {
            password_hash: hash_password("alice-password")?,
            scopes: &["users:read", "users:write"],
        },
    );
    users.insert(
        "admin",
        User {
            password_hash: hash_password("admin-password")?,
            scopes: &["*"],
        },
    );
    Ok(users)
}

/// The demo's one-time code (a real service checks a TOTP or WebAuthn here).
pub(crate) const DEMO_OTP: &str = "123456";

/// `POST /auth/second-factor`: the session's refresh token (body or cookie, as for
/// `/auth/refresh`) and the demo one-time code in the `otp` header raise the session
/// to `acr` `mfa` (`amr` gains `otp`, `auth_time` is now): a fresh pair, delivered as
/// the refresh token came.
async fn second_factor(
    State(state): State<AppState>,
    headers: HeaderMap,
    PresentedRefresh(presented): PresentedRefresh,
) -> Response {
    if headers.get("otp").map(|v| v.as_bytes()) != Some(DEMO_OTP.as_bytes()) {
        return state.auth.web().render_error(AuthError::InvalidCredentials);
    }
    let factor = SecondFactor::new("mfa").amr(["otp"]);
    let raised = state
        .sessions
        .mark_second_factor(&presented.refresh_token, &factor, presented.proof.as_ref())
        .await;
    match raised {
        Ok(login) => {
            let delivery = if presented.from_cookie {
                TokenDelivery::Cookies
            } else {
                TokenDelivery::Body
            };
            state.sessions.login_response_with(&login, delivery)
        }
        Err(e) => state.auth.web().render_error(e.into()),
    }
}

/// `/sensitive`'s requirement: `acr` in `STEP_UP_ACR` (comma-separated, default `mfa`;
/// empty: any) and an authentication at most `STEP_UP_MAX_AGE` seconds old (default 300).
fn step_up_guard(
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<StepUpLayer, Box<dyn std::error::Error>> {
    let acr: Vec<String> = env("STEP_UP_ACR")
        .unwrap_or_else(|| "mfa".into())
        .split(',')
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect();
    let max_age = match env("STEP_UP_MAX_AGE") {
        Some(v) => Duration::from_secs(
            v.trim()
                .parse()
                .map_err(|_| "STEP_UP_MAX_AGE: whole seconds")?,
        ),
        None => Duration::from_secs(300),
    };
    Ok(if acr.is_empty() {
        StepUpLayer::authenticated_within(max_age)
    } else {
        StepUpLayer::acr(&acr)?.max_age(max_age)
    })
}

/// Behind the step-up guard: who, how and when they authenticated.
async fn sensitive(claims: Claims) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "sub": claims.sub,
        "acr": claims.acr,
        "amr": claims.amr,
        "auth_time": claims.auth_time,
    }))
}

/// Every verified claim, the token's own included: `Claims<T>` decodes any type, here
/// a map of whatever else the token carries (ours or an identity provider's).
async fn me(claims: Claims<serde_json::Map<String, serde_json::Value>>) -> Json<serde_json::Value> {
    Json(serde_json::to_value(&*claims.0).unwrap_or_default())
}

async fn list_users(
    _: RequireScope<UsersRead>,
    State(state): State<AppState>,
) -> Json<Vec<String>> {
    let mut names: Vec<String> = state.users.0.keys().map(|s| s.to_string()).collect();
    names.sort();
    Json(names)
}

async fn create_user(
    _: RequireScope<UsersWrite>,
    claims: Claims,
) -> (StatusCode, Json<serde_json::Value>) {
    (
        StatusCode::CREATED,
        Json(json!({ "created_by": claims.sub })),
    )
}

async fn admin(claims: Claims) -> Json<serde_json::Value> {
    Json(json!({ "admin": claims.sub }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Revocation {
    token: String,
}

/// `POST /admin/revocations` (scope `admin`), `{"token": "…"}`: revokes any token the
/// layer would accept (our own, an identity provider's, a legacy one) until it would
/// expire. 204; 400 for a body or token that cannot be read; 503 when the store is down.
async fn revoke_token(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<StatusCode, Response> {
    use axum::response::IntoResponse;
    require_json_content_type(&headers).map_err(|e| state.auth.web().render_error(e))?;
    let malformed = || {
        state
            .auth
            .web()
            .render_error(AuthError::InvalidRequest(InvalidRequest::MalformedBody))
    };
    let Revocation { token } = serde_json::from_slice(&body).map_err(|_| malformed())?;
    match state.auth.revoke(&token).await {
        Ok(_) => Ok(StatusCode::NO_CONTENT),
        Err(axum_token_auth::trust::RevokeError::Invalid(reason)) => Err((
            StatusCode::BAD_REQUEST,
            [(axum::http::header::CACHE_CONTROL, "no-store")],
            Json(json!({
                "error": "invalid_request",
                "error_description": format!("the token cannot be revoked: {reason}"),
            })),
        )
            .into_response()),
        Err(_) => Err(state.auth.web().render_error(AuthError::StoreUnavailable)),
    }
}
