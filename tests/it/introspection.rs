//! Opaque access tokens checked by RFC 7662 introspection: against the real OpenID
//! Provider (oidc-provider issuing opaque tokens for `urn:test:opaque-api`, answering
//! introspection and revocation), and against loopback endpoints that misbehave (slow,
//! down, garbage, huge) or count their calls (single flight, calls per 10,000 requests).
#![cfg(feature = "oidc")]

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::{get, post};
use axum_token_auth::trust::{Introspection, Issuer, TokenCheck};
use axum_token_auth::{
    AuthError, Claims, Key, NoCustomClaims, RequireScope, ScopeGuardLayer, TokenAuth,
    token::{Algorithm, InvalidToken},
};
use common::oidc::{OidcProvider, ProviderOptions, TestKey};
use common::*;
use http::StatusCode;
use http::header::RETRY_AFTER;
use serde_json::json;

/// The resource whose tokens the provider issues opaque.
const OPAQUE: &str = "urn:test:opaque-api";

fn router(auth: &TokenAuth) -> Router {
    Router::new()
        .route(
            "/me",
            get(|c: Claims| async move { format!("{} {}", c.sub, c.scope) }),
        )
        .route(
            "/users",
            get(|_: RequireScope<UsersRead>| async { "users" }),
        )
        .merge(
            Router::new()
                .route("/admin", get(|| async { "admin" }))
                .route_layer(ScopeGuardLayer::all(["admin"]).unwrap()),
        )
        .layer(auth.layer())
}

fn authority(issuer: Issuer) -> TokenAuth {
    builder().trust(issuer).build().expect("authority builds")
}

async fn introspection_requests(op: &OidcProvider) -> u64 {
    op.stats().await["introspection_requests"]
        .as_u64()
        .expect("count")
}

fn introspection_url(op: &OidcProvider) -> String {
    format!("{}/token/introspection", op.issuer())
}

/// Revokes `token` at the provider (RFC 7009), as the client it was issued to.
async fn revoke_at_provider(op: &OidcProvider, token: &str) {
    let res = op
        .http()
        .post(format!("{}/token/revocation", op.issuer()))
        .basic_auth(common::oidc::CLIENT_ID, Some(common::oidc::CLIENT_SECRET))
        .form(&[("token", token), ("token_type_hint", "access_token")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        200,
        "revocation: {}",
        res.text().await.unwrap()
    );
}

#[tokio::test]
async fn opaque_provider_tokens_get_claims_and_scope_guards_discovered_endpoint() {
    let op = OidcProvider::start(&[TestKey::generate("k1")]).await;
    let auth = authority(
        Issuer::discover(op.issuer())
            .audience(OPAQUE)
            .introspection(
                Introspection::discovered()
                    .client_secret_basic("introspect-client", "introspect-secret"),
            ),
    );
    let app = router(&auth);
    let reader = op.client_credentials_token("users:read", OPAQUE).await;
    assert_eq!(reader.matches('.').count(), 0, "an opaque token: {reader}");
    let res = send_get(&app, "/me", Some(&reader)).await;
    assert_eq!(ok_body(res).await, "client:test-client users:read");
    assert_eq!(status(&app, "/users", &reader).await, StatusCode::OK);
    let forbidden = send_get(&app, "/admin", Some(&reader)).await;
    assert_eq!(forbidden.status(), StatusCode::FORBIDDEN);
    // Three requests, one introspection: the verdict is cached.
    assert_eq!(introspection_requests(&op).await, 1);

    let admin = op
        .client_credentials_token("users:read admin", OPAQUE)
        .await;
    assert_eq!(status(&app, "/admin", &admin).await, StatusCode::OK);
    assert_eq!(introspection_requests(&op).await, 2);

    // A provider JWT (another resource, another audience) is still verified offline.
    let jwt = op
        .client_credentials_token("users:read", OPAQUE_JWT_RESOURCE)
        .await;
    assert_eq!(jwt.matches('.').count(), 2);
    let res = send_get(&app, "/me", Some(&jwt)).await;
    assert_refused(res, AuthError::InvalidToken(InvalidToken::WrongAudience)).await;
    assert_eq!(introspection_requests(&op).await, 2);

    // `validate` takes the same path.
    let claims = auth
        .validate::<NoCustomClaims>(&reader, TokenCheck::ACCESS)
        .await
        .expect("valid");
    assert_eq!(claims.sub, "client:test-client");
    assert_eq!(claims.iss.as_deref(), Some(op.issuer().as_str()));
    assert!(claims.has_scope("users:read"));
    assert!(
        claims.jti.starts_with("t."),
        "the id is the token's hash: {}",
        claims.jti
    );
    assert_ne!(claims.jti, reader);
}

/// A JWT resource of the provider (its tokens are not introspected).
const OPAQUE_JWT_RESOURCE: &str = "urn:test:api";

async fn status(app: &Router, path: &str, token: &str) -> StatusCode {
    send_get(app, path, Some(token)).await.status()
}

#[tokio::test]
async fn client_secret_post_private_key_jwt_and_jwt_responses_authenticate() {
    let client_key = TestKey::generate("client-1");
    let options = ProviderOptions {
        client_keys: vec![client_key.clone()],
        ..Default::default()
    };
    let op = OidcProvider::start_with(&[TestKey::generate("k1")], options).await;
    let token = op.client_credentials_token("users:read", OPAQUE).await;
    let key = Key::from_pem(Algorithm::RS256, client_key.private_pem())
        .unwrap()
        .with_kid(client_key.kid());
    let ways = [
        (
            "client_secret_post",
            Introspection::endpoint(introspection_url(&op))
                .client_secret_post("introspect-post-client", "introspect-secret"),
        ),
        (
            "private_key_jwt",
            Introspection::endpoint(introspection_url(&op))
                .private_key_jwt("introspect-jwt-client", key),
        ),
        (
            "jwt response",
            Introspection::discovered()
                .client_secret_basic("introspect-client", "introspect-secret")
                .jwt_response(),
        ),
        // A wrong secret: the provider answers 401, which is the endpoint failing (503).
        (
            "wrong secret",
            Introspection::endpoint(introspection_url(&op))
                .client_secret_basic("introspect-client", "not-the-secret"),
        ),
    ];
    for (name, introspection) in ways {
        let auth = authority(
            Issuer::discover(op.issuer())
                .audience(OPAQUE)
                .introspection(introspection),
        );
        assert!(
            auth.await_ready(Duration::from_secs(10)).await,
            "{name}: keys ready"
        );
        let res = send_get(&router(&auth), "/me", Some(&token)).await;
        if name == "wrong secret" {
            let r = assert_refused(res, AuthError::KeysUnavailable).await;
            assert!(r.raw_headers.contains("retry-after"), "{name}: {r:?}");
        } else {
            assert_eq!(
                ok_body(res).await,
                "client:test-client users:read",
                "{name}"
            );
        }
    }
    assert_eq!(introspection_requests(&op).await, 4);
}

#[tokio::test]
async fn a_token_revoked_at_the_provider_is_refused_once_the_cache_bound_passes() {
    let op = OidcProvider::start(&[TestKey::generate("k1")]).await;
    let auth = authority(
        Issuer::discover(op.issuer())
            .audience(OPAQUE)
            .introspection(
                Introspection::endpoint(introspection_url(&op))
                    .client_secret_basic("introspect-client", "introspect-secret")
                    .max_cache_ttl(Duration::from_secs(2)),
            ),
    );
    let app = router(&auth);
    let token = op.client_credentials_token("users:read", OPAQUE).await;
    assert_eq!(status(&app, "/me", &token).await, StatusCode::OK);
    revoke_at_provider(&op, &token).await;
    // Within the bound the cached verdict stands (the documented trade-off)...
    assert_eq!(status(&app, "/me", &token).await, StatusCode::OK);
    assert_eq!(introspection_requests(&op).await, 1);
    // ...past it the provider is asked again, and says inactive.
    tokio::time::sleep(Duration::from_millis(3100)).await;
    let res = send_get(&app, "/me", Some(&token)).await;
    assert_refused(res, AuthError::InvalidToken(InvalidToken::Inactive)).await;
    assert_eq!(introspection_requests(&op).await, 2);
}

#[tokio::test]
async fn inactive_and_garbage_tokens_are_401_invalid_token() {
    let op = OidcProvider::start(&[TestKey::generate("k1")]).await;
    let auth = authority(
        Issuer::discover(op.issuer())
            .audience(OPAQUE)
            .introspection(
                Introspection::discovered()
                    .client_secret_basic("introspect-client", "introspect-secret"),
            ),
    );
    let app = router(&auth);
    for garbage in [
        "Qgq6WTfVuGaKQatM0hPHRR9cHPkWQK4iFSJM6sB1mbu",
        "not-a-token",
        "a.b",
    ] {
        let res = send_get(&app, "/me", Some(garbage)).await;
        assert_refused(res, AuthError::InvalidToken(InvalidToken::Inactive)).await;
    }
    // Inactive answers are not cached: each is asked again.
    let res = send_get(&app, "/me", Some("not-a-token")).await;
    assert_refused(res, AuthError::InvalidToken(InvalidToken::Inactive)).await;
    assert_eq!(introspection_requests(&op).await, 4);
    // JWTs are verified offline, no call: one of ours, and a forged one.
    let own = issue(&auth, "alice", &["users:read"]);
    assert_eq!(status(&app, "/me", &own).await, StatusCode::OK);
    let mut forged = own.clone();
    forged.push('A');
    assert_eq!(status(&app, "/me", &forged).await, StatusCode::UNAUTHORIZED);
    assert_eq!(introspection_requests(&op).await, 4);
}

// ---------------------------------------------------------------------------
// loopback endpoints
// ---------------------------------------------------------------------------

const ISS: &str = "https://opaque.example";

/// A loopback introspection endpoint answering every token as active for `user-<token>`
/// after `delay`, counting its calls; plus misbehaving routes.
async fn loopback(delay: Duration) -> (String, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    let app = Router::new()
        .route(
            "/introspect",
            post(move |body: String| {
                let counted = Arc::clone(&counted);
                async move {
                    counted.fetch_add(1, Ordering::SeqCst);
                    let token = form_urlencoded::parse(body.as_bytes())
                        .find(|(k, _)| k == "token")
                        .map(|(_, v)| v.into_owned())
                        .unwrap_or_default();
                    tokio::time::sleep(delay).await;
                    axum::Json(json!({
                        "active": true, "iss": ISS, "aud": "api", "scope": "users:read",
                        "sub": format!("user-{token}"), "exp": now() + 600, "iat": now(),
                    }))
                }
            }),
        )
        .route(
            "/slow",
            post(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                "{}"
            }),
        )
        .route("/garbage", post(|| async { "<html>oops</html>" }))
        .route(
            "/huge",
            post(|| async {
                let pad = "x".repeat(1 << 20);
                axum::Json(json!({"active": true, "sub": "a", "aud": "api", "pad": pad}))
            }),
        )
        .route(
            "/error",
            post(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "down for maintenance") }),
        )
        .route(
            "/json-not-jwt",
            post(|| async { axum::Json(json!({"active": true, "sub": "a", "aud": "api"})) }),
        );
    let addr = spawn_server(app).await;
    (format!("http://{addr}"), calls)
}

fn loopback_authority(url: String, tune: impl FnOnce(Introspection) -> Introspection) -> TokenAuth {
    let introspection = tune(Introspection::endpoint(url).client_secret_basic("api", "secret"));
    authority(
        Issuer::keys(ISS, [])
            .audience("api")
            .introspection(introspection),
    )
}

#[tokio::test]
async fn an_endpoint_slow_down_garbage_or_huge_is_503_within_the_timeout() {
    let (base, _) = loopback(Duration::ZERO).await;
    // A port nobody listens on: bound, then closed.
    let down = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/introspect", l.local_addr().unwrap())
    };
    let timeout = Duration::from_millis(500);
    let cases = [
        ("slow", format!("{base}/slow"), false),
        ("down", down, false),
        ("garbage", format!("{base}/garbage"), false),
        ("huge", format!("{base}/huge"), false),
        ("500", format!("{base}/error"), false),
        (
            "json where a JWT was asked",
            format!("{base}/json-not-jwt"),
            true,
        ),
    ];
    for (name, url, jwt) in cases {
        let auth = loopback_authority(url, |i| {
            let i = i.timeout(timeout).max_response_bytes(64 * 1024);
            if jwt { i.jwt_response() } else { i }
        });
        let app = router(&auth);
        let started = Instant::now();
        let res = send_get(&app, "/me", Some("an-opaque-token")).await;
        let took = started.elapsed();
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE, "{name}");
        assert!(
            res.headers().contains_key(RETRY_AFTER),
            "{name}: Retry-After"
        );
        assert_refused(res, AuthError::KeysUnavailable).await;
        assert!(
            // The slow endpoint answers after 30 s: cut off at the timeout (a margin
            // for a busy machine).
            took < timeout + Duration::from_secs(1),
            "{name}: answered after {took:?}, past the timeout"
        );
    }
}

#[tokio::test]
async fn fifty_concurrent_requests_with_one_token_make_one_call() {
    let (base, calls) = loopback(Duration::from_millis(300)).await;
    let auth = loopback_authority(format!("{base}/introspect"), |i| i);
    let app = router(&auth);
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            ok_body(send_get(&app, "/me", Some("shared-opaque-token")).await).await
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), "user-shared-opaque-token users:read");
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

/// A flood of made-up opaque tokens at an endpoint that does not answer in time: the
/// endpoint never has more than `max_concurrent_calls` calls at once, the requests
/// beyond wait for a free one within the timeout and answer 503 like the callers, and
/// the permits come back.
#[tokio::test]
async fn a_flood_of_distinct_tokens_is_bounded_by_the_concurrency_limit() {
    /// Counts the calls in flight (a handler cancelled by a closed connection included).
    struct InFlight(Arc<(AtomicUsize, AtomicUsize)>);
    impl Drop for InFlight {
        fn drop(&mut self) {
            self.0.0.fetch_sub(1, Ordering::SeqCst);
        }
    }
    let gauge = Arc::new((AtomicUsize::new(0), AtomicUsize::new(0)));
    let seen = Arc::clone(&gauge);
    let endpoint = Router::new().route(
        "/introspect",
        post(move |body: String| {
            let seen = Arc::clone(&seen);
            async move {
                let now_in = seen.0.fetch_add(1, Ordering::SeqCst) + 1;
                seen.1.fetch_max(now_in, Ordering::SeqCst);
                let _guard = InFlight(seen);
                if body.contains("token=slow-") {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                }
                axum::Json(
                    json!({"active": true, "iss": ISS, "aud": "api", "sub": "someone",
                                  "exp": now() + 600}),
                )
            }
        }),
    );
    let addr = spawn_server(endpoint).await;
    let auth = loopback_authority(format!("http://{addr}/introspect"), |i| {
        i.max_concurrent_calls(4).timeout(Duration::from_secs(1))
    });
    let app = router(&auth);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for n in 0..40 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            let res = send_get(&app, "/me", Some(&format!("slow-{n}"))).await;
            (res.status(), res.headers().contains_key(RETRY_AFTER))
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), (StatusCode::SERVICE_UNAVAILABLE, true));
    }
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        gauge.1.load(Ordering::SeqCst),
        4,
        "most calls in flight at once"
    );
    // The permits came back: a token the endpoint answers at once passes.
    assert_eq!(status(&app, "/me", "after-the-flood").await, StatusCode::OK);
}

/// The closing note's figure: introspection calls for 10,000 requests of 100 users (each
/// with its own opaque token), the layer's cache on.
#[tokio::test]
async fn ten_thousand_requests_of_a_hundred_users_make_a_hundred_calls() {
    let (base, calls) = loopback(Duration::from_millis(5)).await;
    let auth = loopback_authority(format!("{base}/introspect"), |i| i);
    let app = router(&auth);
    let mut tasks = Vec::new();
    for user in 0..100 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            let token = format!("token-of-user-{user}");
            for _ in 0..100 {
                assert_eq!(status(&app, "/users", &token).await, StatusCode::OK);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let n = calls.load(Ordering::SeqCst);
    eprintln!("introspection calls for 10,000 requests of 100 users (cache on): {n}");
    assert_eq!(n, 100);
}

#[tokio::test]
async fn two_introspecting_issuers_are_a_config_error() {
    let i =
        || Introspection::endpoint("https://idp.example/introspect").client_secret_basic("a", "b");
    let e = builder()
        .trust(
            Issuer::keys("https://a.example", [])
                .audience("api")
                .introspection(i()),
        )
        .trust(
            Issuer::keys("https://b.example", [])
                .audience("api")
                .introspection(i()),
        )
        .build()
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("only one trusted issuer may introspect"),
        "{e}"
    );
    let e = builder()
        .trust(
            Issuer::keys("https://a.example", [])
                .audience("api")
                .introspection(Introspection::discovered()),
        )
        .build()
        .unwrap_err();
    assert!(e.to_string().contains("client authentication"), "{e}");
}
