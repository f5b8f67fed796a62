//! The testkit's fake identity provider (`testing::FakeIdp`) as an application uses it:
//! each preset accepts its provider-shaped token through the real layer over a real
//! socket and reads its scopes; ID tokens refused where the preset says so; rotation
//! and dropped keys; an outage, a slow and a broken provider; fetch counts; the attack
//! set of an external issuer.

use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use axum_token_auth::testing::{Attack, AttackTokens, FakeIdp, Provider};
use axum_token_auth::token::InvalidToken;
use axum_token_auth::trust::Issuer;
use axum_token_auth::{AuthError, Claims, RequireScope, TokenAuth};
use http::StatusCode;
use serde_json::json;

use crate::common::*;

const TENANT: &str = "7f0c2a1e-3b4d-4e5f-8a9b-0c1d2e3f4a5b";

async fn me(c: Claims) -> String {
    format!("{} {}", c.sub, c.scope)
}

fn router(auth: &TokenAuth) -> Router {
    Router::new()
        .route("/me", get(me))
        .route(
            "/users",
            get(|_: RequireScope<UsersRead>| async { "users" }),
        )
        .layer(auth.layer())
}

/// An authority trusting `issuer`, built without waiting for its keys.
fn trusting(issuer: Issuer) -> TokenAuth {
    builder().trust(issuer).build().unwrap()
}

/// [`trusting`], once the issuer's keys are fetched (the first request to an issuer
/// never fetched is answered 503 at once, without waiting).
async fn ready(issuer: Issuer) -> TokenAuth {
    let auth = trusting(issuer);
    assert!(
        auth.await_ready(Duration::from_secs(10)).await,
        "keys fetched"
    );
    auth
}

/// `GET {base}{path}` with `token` over a real socket: status and body.
async fn over_socket(base: &str, path: &str, token: &str) -> (StatusCode, String) {
    let res = reqwest::Client::new()
        .get(format!("{base}{path}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = StatusCode::from_u16(res.status().as_u16()).unwrap();
    (status, res.text().await.unwrap())
}

/// Signs a token granting `users:read` in the provider's own claim.
type Grant = fn(&FakeIdp) -> String;

#[tokio::test]
async fn each_preset_accepts_its_providers_token_over_a_socket_and_reads_its_scopes() {
    // (provider, the token that grants users:read in the provider's own claim)
    let cases: Vec<(Provider, Grant)> = vec![
        (Provider::keycloak("acme"), |idp| {
            idp.access_token("kc-user").roles(["users:read"]).sign()
        }),
        (Provider::Auth0, |idp| {
            idp.access_token("auth0|123").roles(["users:read"]).sign()
        }),
        (Provider::Auth0, |idp| {
            idp.access_token("auth0|456")
                .scopes(["users:read"])
                .auth0_rfc9068()
                .sign()
        }),
        (Provider::entra(TENANT), |idp| {
            idp.access_token("entra-user").scopes(["users:read"]).sign()
        }),
        (Provider::entra(TENANT), |idp| {
            idp.access_token("entra-app").roles(["users:read"]).sign()
        }),
        (Provider::cognito("eu-west-1_AbCdE"), |idp| {
            idp.access_token("cognito-user")
                .scopes(["users:read"])
                .sign()
        }),
    ];
    for (provider, grant) in cases {
        let name = provider.name();
        let idp = FakeIdp::start(provider).await;
        let auth = ready(idp.issuer()).await;
        let base = format!("http://{}", spawn_server(router(&auth)).await);
        let token = grant(&idp);
        let (status, body) = over_socket(&base, "/users", &token).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "users"), "{name}");
        // The same provider's token without the grant: 403 from the scope guard.
        let plain = idp.access_token("someone").sign();
        let (status, _) = over_socket(&base, "/me", &plain).await;
        assert_eq!(status, StatusCode::OK, "{name}");
        let (status, _) = over_socket(&base, "/users", &plain).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{name}");
        assert_eq!(idp.discovery_fetches(), 1, "{name}");
        assert_eq!(idp.jwks_fetches(), 1, "{name}");
    }

    // Cognito groups become `group:<name>`.
    let idp = FakeIdp::start(Provider::cognito("eu-west-1_AbCdE")).await;
    let app = router(&ready(idp.issuer()).await);
    let t = idp.access_token("u").roles(["admins"]).sign();
    let body = ok_body(send_get(&app, "/me", Some(&t)).await).await;
    assert!(body.contains("group:admins"), "{body}");

    // Google maps no scopes: its token for this service passes, and grants nothing.
    let idp = FakeIdp::start(Provider::Google).await;
    let app = router(&ready(idp.issuer()).await);
    let t = idp.access_token("1234567890").sign();
    assert_eq!(
        ok_body(send_get(&app, "/me", Some(&t)).await).await,
        "1234567890 "
    );
    let r = refusal(send_get(&app, "/users", Some(&t)).await).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn provider_shapes_are_what_the_presets_expect() {
    let kc = FakeIdp::start(Provider::keycloak("acme")).await;
    let t = kc.access_token("u").roles(["r"]);
    assert_eq!(t.header().typ.as_deref(), Some("JWT"));
    let c = t.claims();
    assert_eq!(c["typ"], "Bearer");
    assert_eq!(c["iss"], format!("{}/realms/acme", kc.base_url()));
    assert!(
        c["realm_access"]["roles"]
            .as_array()
            .unwrap()
            .contains(&json!("r"))
    );
    assert!(c["jti"].is_string());

    let a0 = FakeIdp::start(Provider::Auth0).await;
    let c = a0.access_token("u").claims();
    assert!(c.get("jti").is_none(), "the Auth0 profile has no jti");
    assert_eq!(c["iss"], format!("{}/", a0.base_url()));
    assert_eq!(c["aud"][1], format!("{}/userinfo", a0.base_url()));
    assert!(c["permissions"].is_array());
    let t = a0.access_token("u").auth0_rfc9068();
    assert_eq!(t.header().typ.as_deref(), Some("at+jwt"));
    assert!(t.claims()["jti"].is_string() && t.claims()["client_id"].is_string());

    let entra = FakeIdp::start(Provider::entra(TENANT)).await;
    let c = entra.access_token("u").scopes(["a", "b"]).claims();
    assert_eq!(c["scp"], "a b");
    assert_eq!(c["ver"], "2.0");
    assert!(c.get("jti").is_none() && c["uti"].is_string());
    let v1 = entra.access_token("u").entra_v1();
    assert_eq!(v1.claims()["ver"], "1.0");
    assert!(v1.header().x5t.is_some());

    let cognito = FakeIdp::start(Provider::cognito("eu-west-1_AbCdE")).await;
    let t = cognito.access_token("u");
    assert_eq!(t.header().typ, None, "Cognito sends no typ");
    assert!(t.claims().get("aud").is_none());
    assert_eq!(t.claims()["token_use"], "access");
    assert_eq!(cognito.id_token("u").claims()["token_use"], "id");

    let google = FakeIdp::start(Provider::Google).await;
    assert!(google.access_token("u").claims().get("jti").is_none());
    assert_eq!(google.issuer_url(), google.base_url());
}

#[tokio::test]
async fn id_tokens_are_refused_as_access_tokens_where_the_preset_says_so() {
    // Keycloak's and Cognito's are refused by the claim their preset requires (`typ:
    // Bearer`, `token_use: access`, checked first); the others by their audience, the
    // client's id.
    let wrong_kind = AuthError::InvalidToken(InvalidToken::InvalidClaims);
    let wrong_aud = AuthError::InvalidToken(InvalidToken::WrongAudience);
    for (provider, expected) in [
        (Provider::keycloak("acme"), &wrong_kind),
        (Provider::Auth0, &wrong_aud),
        (Provider::entra(TENANT), &wrong_aud),
        (Provider::cognito("eu-west-1_AbCdE"), &wrong_kind),
        (Provider::Google, &wrong_aud),
    ] {
        let name = provider.name();
        let idp = FakeIdp::start(provider).await;
        let app = router(&ready(idp.issuer()).await);
        let id = idp.id_token("u").sign();
        let r = refusal(send_get(&app, "/me", Some(&id)).await).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{name}: {r:?}");
        assert_eq!(r.error.as_ref(), Some(expected), "{name}");
    }
    // Made to name the API, Keycloak's and Cognito's ID tokens are still refused by the
    // claim the preset requires (`typ: Bearer`, `token_use: access`).
    let kc = FakeIdp::start(Provider::keycloak("acme")).await;
    let app = router(&ready(kc.issuer()).await);
    let id = kc.id_token("u").claim("aud", json!(kc.audience())).sign();
    assert_refused(
        send_get(&app, "/me", Some(&id)).await,
        AuthError::InvalidToken(InvalidToken::InvalidClaims),
    )
    .await;
    let cog = FakeIdp::start(Provider::cognito("eu-west-1_AbCdE")).await;
    let app = router(&ready(cog.issuer()).await);
    let id = cog
        .id_token("u")
        .claim("client_id", json!(cog.client_id()))
        .sign();
    assert_refused(
        send_get(&app, "/me", Some(&id)).await,
        AuthError::InvalidToken(InvalidToken::InvalidClaims),
    )
    .await;
    // Entra v1.0 tokens name another issuer: the v2.0 preset does not take them.
    let entra = FakeIdp::start(Provider::entra(TENANT)).await;
    let app = router(&ready(entra.issuer()).await);
    let v1 = entra.access_token("u").entra_v1().sign();
    let r = refusal(send_get(&app, "/me", Some(&v1)).await).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{r:?}");
    // Google: an ID token minted for this service is what the preset takes; with the
    // web client's id as the audience, the client's ID tokens would pass too.
    let google = FakeIdp::start(Provider::Google).await;
    let app = router(&ready(google.issuer().audience(google.client_id())).await);
    let id = google.id_token("u").sign();
    assert_eq!(
        send_get(&app, "/me", Some(&id)).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_rotation_is_picked_up_and_a_dropped_key_refuses_its_tokens() {
    let idp = FakeIdp::start(Provider::keycloak("acme")).await;
    let auth = ready(
        idp.issuer()
            .refresh_bounds(Duration::from_secs(1), Duration::from_secs(1)),
    )
    .await;
    let app = router(&auth);
    let old_kid = idp.signing_kid();
    let old = idp.access_token("u").sign();
    assert_eq!(
        send_get(&app, "/me", Some(&old)).await.status(),
        StatusCode::OK
    );

    let new_kid = idp.rotate();
    assert_ne!(new_kid, old_kid);
    assert_eq!(idp.kids(), [old_kid.clone(), new_kid.clone()]);
    let before = idp.jwks_fetches();
    let new = idp.access_token("u").sign();
    // The unknown kid is fetched at once (the refetch budget), not at the next refresh.
    assert_eq!(
        send_get(&app, "/me", Some(&new)).await.status(),
        StatusCode::OK
    );
    assert!(idp.jwks_fetches() > before);
    assert_eq!(
        send_get(&app, "/me", Some(&old)).await.status(),
        StatusCode::OK
    );

    assert!(idp.drop_key(&old_kid));
    assert!(!idp.drop_key(&old_kid), "dropped once");
    let dropped = Instant::now();
    while send_get(&app, "/me", Some(&old)).await.status() == StatusCode::OK {
        assert!(dropped.elapsed() < Duration::from_secs(10), "still trusted");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_refused(
        send_get(&app, "/me", Some(&old)).await,
        AuthError::InvalidToken(InvalidToken::UnknownKey),
    )
    .await;
    assert_eq!(
        send_get(&app, "/me", Some(&new)).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        idp.discovery_fetches(),
        1,
        "discovery once, keys many times"
    );
}

#[tokio::test]
async fn a_stopped_provider_keeps_known_keys_until_max_stale_then_503_then_recovers() {
    let idp = FakeIdp::start(Provider::Auth0).await;
    let auth = ready(
        idp.issuer()
            .refresh_bounds(Duration::from_secs(1), Duration::from_secs(1))
            .retry_interval(Duration::from_millis(200))
            .max_stale(Duration::from_secs(2)),
    )
    .await;
    let app = router(&auth);
    let t = idp.access_token("u").sign();
    assert_eq!(
        send_get(&app, "/me", Some(&t)).await.status(),
        StatusCode::OK
    );

    idp.stop();
    let down = Instant::now();
    assert_eq!(
        send_get(&app, "/me", Some(&t)).await.status(),
        StatusCode::OK
    );
    while send_get(&app, "/me", Some(&t)).await.status() == StatusCode::OK {
        assert!(
            down.elapsed() < Duration::from_secs(10),
            "stale set trusted"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let r = assert_refused(
        send_get(&app, "/me", Some(&t)).await,
        AuthError::KeysUnavailable,
    )
    .await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(r.raw_headers.contains("retry-after"), "{r:?}");
    // Nothing listens: a plain client is refused at connect.
    assert!(reqwest::get(idp.jwks_url()).await.is_err());

    idp.resume().await;
    let back = Instant::now();
    while send_get(&app, "/me", Some(&t)).await.status() != StatusCode::OK {
        assert!(back.elapsed() < Duration::from_secs(10), "no recovery");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_slow_or_garbage_provider_is_a_failed_fetch_503_for_an_issuer_never_fetched() {
    for fault in ["slow", "garbage"] {
        let idp = FakeIdp::start(Provider::entra(TENANT)).await;
        match fault {
            "slow" => idp.slow(Duration::from_secs(2)),
            _ => idp.garbage(),
        }
        let auth = trusting(
            idp.issuer()
                .fetch_timeout(Duration::from_millis(200))
                .retry_interval(Duration::from_millis(200)),
        );
        assert!(!auth.await_ready(Duration::from_secs(1)).await, "{fault}");
        let app = router(&auth);
        let t = idp.access_token("u").sign();
        assert_refused(
            send_get(&app, "/me", Some(&t)).await,
            AuthError::KeysUnavailable,
        )
        .await;
        assert!(idp.discovery_fetches() >= 1, "{fault}");
        assert_eq!(idp.jwks_fetches(), 0, "{fault}: discovery failed first");
        idp.resume().await;
        let back = Instant::now();
        while send_get(&app, "/me", Some(&t)).await.status() != StatusCode::OK {
            assert!(
                back.elapsed() < Duration::from_secs(10),
                "{fault}: no recovery"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[tokio::test]
async fn garbage_keeps_the_last_good_set() {
    let idp = FakeIdp::start(Provider::Google).await;
    let auth = ready(
        idp.issuer()
            .refresh_bounds(Duration::from_secs(1), Duration::from_secs(1))
            .retry_interval(Duration::from_millis(200)),
    )
    .await;
    let app = router(&auth);
    let t = idp.access_token("u").sign();
    assert_eq!(
        send_get(&app, "/me", Some(&t)).await.status(),
        StatusCode::OK
    );
    idp.garbage();
    // A failed fetch forgets the discovered key set URL: the next attempts ask for the
    // discovery document again.
    let fetches = || idp.discovery_fetches() + idp.jwks_fetches();
    let fetched = fetches();
    let start = Instant::now();
    while fetches() < fetched + 3 {
        assert!(start.elapsed() < Duration::from_secs(10), "no refresh");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(idp.discovery_fetches() >= 2, "discovery asked again");
    assert_eq!(
        send_get(&app, "/me", Some(&t)).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn fetches_are_counted_one_discovery_and_one_key_set_for_many_requests() {
    let idp = FakeIdp::start(Provider::keycloak("acme")).await;
    assert_eq!((idp.discovery_fetches(), idp.jwks_fetches()), (0, 0));
    let app = router(&ready(idp.issuer()).await);
    assert_eq!((idp.discovery_fetches(), idp.jwks_fetches()), (1, 1));
    for i in 0..20 {
        let t = idp.access_token(&format!("u{i}")).sign();
        assert_eq!(
            send_get(&app, "/me", Some(&t)).await.status(),
            StatusCode::OK
        );
    }
    assert_eq!((idp.discovery_fetches(), idp.jwks_fetches()), (1, 1));
    // A plain GET counts too: every request received.
    reqwest::get(idp.jwks_url()).await.unwrap();
    assert_eq!(idp.jwks_fetches(), 2);
}

#[tokio::test]
async fn attack_tokens_follow_the_rules_of_the_external_issuer() {
    for provider in [
        Provider::keycloak("acme"),
        Provider::Auth0,
        Provider::entra(TENANT),
        Provider::cognito("eu-west-1_AbCdE"),
        Provider::Google,
    ] {
        let name = provider.name();
        let idp = FakeIdp::start(provider).await;
        let issuer = idp.issuer();
        let app = router(&ready(issuer.clone()).await);
        let attacks = AttackTokens::for_issuer(&issuer, &idp.access_token("alice")).unwrap();
        let got: Vec<Attack> = attacks.attacks().collect();
        // Each accepts `typ: JWT` (or none): untyped is no attack against them.
        assert!(!got.contains(&Attack::UntypedJwt), "{name}: {got:?}");
        for a in [
            Attack::AlgNone,
            Attack::AlgorithmConfusion,
            Attack::Expired,
            Attack::NotYetValid,
            Attack::UnknownKid,
            Attack::WrongAudience,
            Attack::WrongIssuer,
            Attack::RefreshType,
            Attack::TamperedPayload,
            Attack::TamperedSignature,
            Attack::ForeignKey,
            Attack::IdToken,
        ] {
            assert!(got.contains(&a), "{name}: {a} missing");
        }
        attacks
            .assert_refused_by(&app, http::Method::GET, "/me")
            .await;
    }
    // With require_at_jwt (Auth0's RFC 9068 profile), `typ: JWT` is an attack.
    let idp = FakeIdp::start(Provider::Auth0).await;
    let strict = idp.issuer().require_at_jwt();
    let app = router(&ready(strict.clone()).await);
    let attacks =
        AttackTokens::for_issuer(&strict, &idp.access_token("a").auth0_rfc9068()).unwrap();
    assert!(attacks.get(Attack::UntypedJwt).is_some());
    attacks
        .assert_refused_by(&app, http::Method::GET, "/me")
        .await;
    // An issuer that accepts the client's ID tokens (Google, audience = the client id)
    // gets no ID-token attack.
    let google = FakeIdp::start(Provider::Google).await;
    let lenient = google.issuer().audience(google.client_id());
    let attacks = AttackTokens::for_issuer(&lenient, &google.access_token("a")).unwrap();
    assert!(attacks.get(Attack::IdToken).is_none());
    attacks
        .assert_refused_by(&router(&ready(lenient).await), http::Method::GET, "/me")
        .await;
}

#[tokio::test]
async fn a_pinned_issuer_needs_no_fetch() {
    let idp = FakeIdp::start(Provider::keycloak("acme")).await;
    let app = router(&ready(idp.issuer_pinned()).await);
    let t = idp.access_token("u").sign();
    assert_eq!(
        send_get(&app, "/me", Some(&t)).await.status(),
        StatusCode::OK
    );
    assert_eq!((idp.discovery_fetches(), idp.jwks_fetches()), (0, 0));
}
