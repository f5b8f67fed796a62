//! Step-up authentication (RFC 9470) end to end: our own tokens with and without `acr`,
//! stale and missing `auth_time`, both guard forms (`StepUpLayer`, `RequireStepUp<P>`)
//! answering the same exact challenge and JSON body, sessions (login stamps
//! `auth_time`, refresh keeps and never upgrades, a second factor raises), a real
//! OpenID Provider's user tokens carrying `acr`/`amr`/`auth_time`, and an Entra-shaped
//! token whose classes are in `acrs`.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use axum_token_auth::http::{RequireStepUp, StepUpLayer};
use axum_token_auth::session::{SecondFactor, SessionError};
use axum_token_auth::store::memory::MemoryRefreshStore;
use axum_token_auth::testing::ManualClock;
use axum_token_auth::token::{AcrError, InvalidToken, IssueError};
use axum_token_auth::trust::{Issuer, ScopeClaim, TokenCheck};
use axum_token_auth::{AuthError, Claims, NoCustomClaims, Sessions, TokenAuth, TokenRequest};
use common::*;
use http::StatusCode;
use serde_json::json;

axum_token_auth::step_up! {
    /// The layer's requirement, as a compile-time policy.
    RecentMfa = acr ["mfa", "phr"], max_age 300;
    /// A maximum age alone.
    Recent = max_age 60;
}

const CHALLENGE: &str = r#"Bearer realm="api", error="insufficient_user_authentication", error_description="a stronger or more recent authentication is required", acr_values="mfa phr", max_age=300"#;

/// `/layer` behind `StepUpLayer::acr(["mfa", "phr"]).max_age(300 s)`, `/extractor`
/// behind `RequireStepUp<RecentMfa>` (the same requirement), `/recent` behind
/// `RequireStepUp<Recent>`, `/me` behind the token layer alone.
fn step_up_app(auth: &TokenAuth) -> Router {
    Router::new()
        .route("/layer", get(|| async { "layer" }))
        .route_layer(
            StepUpLayer::acr(["mfa", "phr"])
                .unwrap()
                .max_age(Duration::from_secs(300)),
        )
        .route(
            "/extractor",
            get(|_: RequireStepUp<RecentMfa>| async { "extractor" }),
        )
        .route(
            "/recent",
            get(|_: RequireStepUp<Recent>| async { "recent" }),
        )
        .route("/me", get(|c: Claims| async move { c.sub.clone() }))
        .layer(auth.layer())
}

fn token(auth: &TokenAuth, request: TokenRequest) -> String {
    auth.issue_access(&request).expect("issued").into_string()
}

/// Asserts the exact RFC 9470 refusal: 401, the challenge, the JSON body, no-store, the
/// error in the extensions.
async fn assert_step_up_refused(app: &Router, path: &str, token: &str, challenge: &str) {
    let r = refusal(send_get(app, path, Some(token)).await).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{path}: {r:?}");
    assert_eq!(r.www_authenticate.as_deref(), Some(challenge), "{path}");
    assert_eq!(
        r.body,
        json!({
            "error": "insufficient_user_authentication",
            "error_description": "a stronger or more recent authentication is required",
        }),
        "{path}"
    );
    assert_eq!(r.cache_control.as_deref(), Some("no-store"));
    assert_eq!(r.content_type.as_deref(), Some("application/json"));
    assert!(
        matches!(
            r.error,
            Some(AuthError::InsufficientUserAuthentication { .. })
        ),
        "{r:?}"
    );
}

#[tokio::test]
async fn a_token_with_an_accepted_acr_and_a_fresh_auth_time_passes_both_guard_forms() {
    let auth = auth();
    let app = step_up_app(&auth);
    for acr in ["mfa", "phr"] {
        let t = token(
            &auth,
            TokenRequest::new("alice").acr(acr).auth_time(auth.now()),
        );
        assert_eq!(
            ok_body(send_get(&app, "/layer", Some(&t)).await).await,
            "layer"
        );
        assert_eq!(
            ok_body(send_get(&app, "/extractor", Some(&t)).await).await,
            "extractor"
        );
    }
}

#[tokio::test]
async fn a_token_without_acr_or_with_another_is_401_insufficient_user_authentication_never_403() {
    let auth = auth();
    let app = step_up_app(&auth);
    let now = auth.now();
    let no_acr = token(&auth, TokenRequest::new("alice").auth_time(now));
    let pwd = token(&auth, TokenRequest::new("alice").acr("pwd").auth_time(now));
    let prefix = token(&auth, TokenRequest::new("alice").acr("mf").auth_time(now));
    for t in [&no_acr, &pwd, &prefix] {
        for path in ["/layer", "/extractor"] {
            assert_step_up_refused(&app, path, t, CHALLENGE).await;
        }
        // The token itself is fine elsewhere.
        assert_eq!(ok_body(send_get(&app, "/me", Some(t)).await).await, "alice");
    }
    // Without a token: the plain 401, no step-up challenge.
    for path in ["/layer", "/extractor"] {
        assert_refused(
            send_get(&app, path, None).await,
            AuthError::MissingCredentials,
        )
        .await;
    }
}

#[tokio::test]
async fn a_stale_or_missing_auth_time_fails_the_max_age_within_the_tokens_leeway() {
    let auth = builder().leeway(Duration::from_secs(10)).build().unwrap();
    let app = step_up_app(&auth);
    let now = auth.now();
    let at = |t: u64| token(&auth, TokenRequest::new("alice").acr("mfa").auth_time(t));
    // 300 s max age + 10 s leeway (a second of slack for the clock ticking meanwhile).
    let edge = at(now - 309);
    assert_eq!(
        ok_body(send_get(&app, "/layer", Some(&edge)).await).await,
        "layer"
    );
    let stale = at(now - 320);
    let missing = token(&auth, TokenRequest::new("alice").acr("mfa"));
    for t in [&stale, &missing] {
        assert_step_up_refused(&app, "/layer", t, CHALLENGE).await;
        assert_step_up_refused(&app, "/extractor", t, CHALLENGE).await;
    }
    // A maximum age alone: only max_age in the challenge.
    let recent = r#"Bearer realm="api", error="insufficient_user_authentication", error_description="a stronger or more recent authentication is required", max_age=60"#;
    assert_step_up_refused(&app, "/recent", &stale, recent).await;
    let fresh = token(&auth, TokenRequest::new("alice").auth_time(now));
    assert_eq!(
        ok_body(send_get(&app, "/recent", Some(&fresh)).await).await,
        "recent"
    );
}

#[tokio::test]
async fn the_guards_read_the_layers_clock_so_a_cached_token_ages_out() {
    let clock = ManualClock::starting_now();
    let auth = builder()
        .clock(clock.clone())
        .leeway(Duration::from_secs(0))
        .build()
        .unwrap();
    let app = step_up_app(&auth);
    let t = token(
        &auth,
        TokenRequest::new("alice")
            .acr("mfa")
            .auth_time(auth.now())
            .ttl(Duration::from_secs(900)),
    );
    assert_eq!(
        ok_body(send_get(&app, "/layer", Some(&t)).await).await,
        "layer"
    );
    clock.advance(Duration::from_secs(300));
    assert_eq!(
        ok_body(send_get(&app, "/extractor", Some(&t)).await).await,
        "extractor"
    );
    // The same token, from the verified-token cache now: its authentication is too old.
    clock.advance(Duration::from_secs(1));
    assert_step_up_refused(&app, "/layer", &t, CHALLENGE).await;
    assert_step_up_refused(&app, "/extractor", &t, CHALLENGE).await;
    assert_eq!(
        ok_body(send_get(&app, "/me", Some(&t)).await).await,
        "alice"
    );
}

#[tokio::test]
async fn issuing_refuses_acr_values_outside_the_grammar_and_future_auth_times() {
    let auth = auth();
    for bad in ["two words", "q\"uote", ""] {
        assert!(
            matches!(
                auth.issue_access(&TokenRequest::new("alice").acr(bad)),
                Err(IssueError::InvalidAcr(_))
            ),
            "{bad:?}"
        );
    }
    assert!(matches!(
        auth.issue_access(&TokenRequest::new("alice").amr(["o t p"])),
        Err(IssueError::InvalidAcr(_))
    ));
    assert_eq!(
        auth.issue_access(&TokenRequest::new("alice").auth_time(auth.now() + 3600))
            .unwrap_err(),
        IssueError::AuthTimeInFuture
    );
    // Custom claims cannot smuggle them in either.
    let sneaky = TokenRequest::new("alice").claims(&json!({"acr": "mfa"}));
    assert_eq!(
        auth.issue_access(&sneaky).unwrap_err(),
        IssueError::ReservedClaim("acr".into())
    );
    // The layer refuses values outside the grammar when configured.
    assert_eq!(
        StepUpLayer::acr(["mfa", "a b"]).unwrap_err(),
        AcrError::Grammar(1)
    );
    assert_eq!(
        StepUpLayer::acr(Vec::<&str>::new()).unwrap_err(),
        AcrError::Empty
    );
}

#[tokio::test]
async fn our_tokens_carry_acr_amr_and_auth_time_as_requested() {
    let auth = auth();
    let t = token(
        &auth,
        TokenRequest::new("alice")
            .acr("mfa")
            .amr(["pwd", "otp", "pwd"])
            .auth_time(1_700_000_000),
    );
    let c = auth
        .validate::<NoCustomClaims>(&t, TokenCheck::ACCESS)
        .await
        .unwrap();
    assert_eq!(c.acr.as_deref(), Some("mfa"));
    assert_eq!(c.amr, Some(vec!["pwd".to_owned(), "otp".to_owned()]));
    assert_eq!(c.auth_time, Some(1_700_000_000));
    // And without them, none of the three is written.
    let plain = token(&auth, TokenRequest::new("alice"));
    let payload = jwt_payload(&plain);
    for name in ["acr", "amr", "auth_time"] {
        assert!(payload.get(name).is_none(), "{payload}");
    }
}

fn jwt_payload(token: &str) -> serde_json::Value {
    use base64::Engine as _;
    let part = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

async fn claims_of(auth: &TokenAuth, access: &str) -> Arc<axum_token_auth::TokenClaims> {
    Arc::new(
        auth.validate::<NoCustomClaims>(access, TokenCheck::ACCESS)
            .await
            .expect("valid access token"),
    )
}

#[tokio::test]
async fn a_login_stamps_auth_time_and_the_refresh_route_keeps_it_and_never_upgrades() {
    let clock = ManualClock::starting_now();
    let auth = builder().clock(clock.clone()).build().unwrap();
    let sessions = Sessions::builder(auth.clone(), MemoryRefreshStore::new())
        .build()
        .unwrap();
    let login_time = auth.now();
    let login = sessions
        .login(&TokenRequest::new("alice").acr("pwd").amr(["pwd"]), None)
        .await
        .unwrap();
    let c = claims_of(&auth, login.pair.access.as_str()).await;
    assert_eq!(
        c.auth_time,
        Some(login_time),
        "a login is an authentication"
    );
    assert_eq!(c.acr.as_deref(), Some("pwd"));

    // Ten minutes later, through the real refresh route: the same authentication.
    clock.advance(Duration::from_secs(600));
    let routes = Router::new().route("/auth/refresh", sessions.refresh_route());
    let res = send(
        &routes,
        http::Request::post("/auth/refresh")
            .header("content-type", "application/json")
            .body(axum::body::Body::from(
                json!({"refresh_token": login.pair.refresh.as_str()}).to_string(),
            ))
            .unwrap(),
    )
    .await;
    let body: serde_json::Value = serde_json::from_str(&ok_body(res).await).unwrap();
    let access = body["access_token"].as_str().unwrap();
    let refresh = body["refresh_token"].as_str().unwrap();
    let c = claims_of(&auth, access).await;
    assert_eq!(c.auth_time, Some(login_time), "never reset by a refresh");
    assert_eq!(c.acr.as_deref(), Some("pwd"), "never upgraded by a refresh");
    assert_eq!(c.amr.as_deref(), Some(&["pwd".to_owned()][..]));
    assert!(c.iat > login_time);
    // The refreshed token is refused by a step-up route: too weak, too old.
    let guarded = step_up_app(&auth);
    assert_step_up_refused(&guarded, "/layer", access, CHALLENGE).await;
    // And the refresh token it came with keeps them too.
    let next = sessions.refresh(refresh, None).await.unwrap();
    let c = claims_of(&auth, next.pair.access.as_str()).await;
    assert_eq!(
        (c.acr.as_deref(), c.auth_time),
        (Some("pwd"), Some(login_time))
    );
}

#[tokio::test]
async fn a_login_that_sets_its_own_auth_time_keeps_it() {
    let auth = auth();
    let sessions = Sessions::builder(auth.clone(), MemoryRefreshStore::new())
        .build()
        .unwrap();
    let earlier = auth.now() - 120;
    let login = sessions
        .login(&TokenRequest::new("alice").auth_time(earlier), None)
        .await
        .unwrap();
    let c = claims_of(&auth, login.pair.access.as_str()).await;
    assert_eq!(c.auth_time, Some(earlier));
}

#[tokio::test]
async fn a_second_factor_raises_acr_and_amr_resets_auth_time_and_later_refreshes_keep_it() {
    let clock = ManualClock::starting_now();
    let auth = builder().clock(clock.clone()).build().unwrap();
    let sessions = Sessions::builder(auth.clone(), MemoryRefreshStore::new())
        .build()
        .unwrap();
    let app = step_up_app(&auth);
    let login = sessions
        .login(&TokenRequest::new("alice").acr("pwd").amr(["pwd"]), None)
        .await
        .unwrap();
    assert_step_up_refused(&app, "/layer", login.pair.access.as_str(), CHALLENGE).await;

    clock.advance(Duration::from_secs(400));
    let factor_time = auth.now();
    let raised = sessions
        .mark_second_factor(
            login.pair.refresh.as_str(),
            &SecondFactor::new("mfa").amr(["otp"]),
            None,
        )
        .await
        .unwrap();
    assert_eq!(raised.session_id, login.session_id, "the same session");
    let c = claims_of(&auth, raised.pair.access.as_str()).await;
    assert_eq!(c.acr.as_deref(), Some("mfa"));
    assert_eq!(c.amr, Some(vec!["pwd".to_owned(), "otp".to_owned()]));
    assert_eq!(c.auth_time, Some(factor_time));
    for path in ["/layer", "/extractor"] {
        let res = send_get(&app, path, Some(raised.pair.access.as_str())).await;
        assert_eq!(res.status(), StatusCode::OK, "{path}");
    }

    // The presented refresh token was consumed (a rotation). Presented again within the
    // grace window (a client's retry), it gets the same successor ids, signed with its
    // own claims: a refresh never upgrades, not even a retry racing the second factor.
    let retry = sessions
        .refresh(login.pair.refresh.as_str(), None)
        .await
        .unwrap();
    let c = claims_of(&auth, retry.pair.access.as_str()).await;
    assert_eq!(c.acr.as_deref(), Some("pwd"));
    // Past the grace window: reuse, the session ends.
    clock.advance(Duration::from_secs(11));
    assert!(matches!(
        sessions.refresh(login.pair.refresh.as_str(), None).await,
        Err(SessionError::RefreshReused)
    ));
}

#[tokio::test]
async fn a_second_factor_then_refresh_keeps_the_raised_values() {
    let clock = ManualClock::starting_now();
    let auth = builder().clock(clock.clone()).build().unwrap();
    let sessions = Sessions::builder(auth.clone(), MemoryRefreshStore::new())
        .keep_refresh_token(true)
        .build()
        .unwrap();
    let login = sessions
        .login(&TokenRequest::new("alice").acr("pwd"), None)
        .await
        .unwrap();
    let raised = sessions
        .mark_second_factor(login.pair.refresh.as_str(), &SecondFactor::new("mfa"), None)
        .await
        .unwrap();
    assert_ne!(
        raised.pair.refresh.as_str(),
        login.pair.refresh.as_str(),
        "a second factor rotates even with keep_refresh_token"
    );
    let factor_time = auth.now();
    clock.advance(Duration::from_secs(120));
    let later = sessions
        .refresh(raised.pair.refresh.as_str(), None)
        .await
        .unwrap();
    let c = claims_of(&auth, later.pair.access.as_str()).await;
    assert_eq!(
        (c.acr.as_deref(), c.auth_time),
        (Some("mfa"), Some(factor_time))
    );
}

#[tokio::test]
async fn a_second_factor_outside_the_grammar_consumes_nothing() {
    let auth = auth();
    let sessions = Sessions::builder(auth.clone(), MemoryRefreshStore::new())
        .build()
        .unwrap();
    let login = sessions
        .login(&TokenRequest::new("alice"), None)
        .await
        .unwrap();
    let err = sessions
        .mark_second_factor(
            login.pair.refresh.as_str(),
            &SecondFactor::new("m f a"),
            None,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            SessionError::InvalidSuccessorClaims(IssueError::InvalidAcr(_))
        ),
        "{err:?}"
    );
    // The refresh token still works.
    sessions
        .refresh(login.pair.refresh.as_str(), None)
        .await
        .expect("still the session's current refresh token");
}

#[tokio::test]
async fn an_access_token_cannot_stand_in_for_the_refresh_token_of_a_second_factor() {
    let auth = auth();
    let sessions = Sessions::builder(auth.clone(), MemoryRefreshStore::new())
        .build()
        .unwrap();
    let login = sessions
        .login(&TokenRequest::new("alice"), None)
        .await
        .unwrap();
    let err = sessions
        .mark_second_factor(login.pair.access.as_str(), &SecondFactor::new("mfa"), None)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            SessionError::InvalidToken(InvalidToken::WrongKind { .. })
        ),
        "{err:?}"
    );
}

/// An Entra ID v2.0-shaped access token: classes in `acrs`, the v1 `acr` beside them.
#[tokio::test]
async fn an_entra_shaped_token_is_judged_by_its_acrs() {
    let key = common::oidc::TestKey::generate("entra-1");
    let iss = "https://login.microsoftonline.com/8eaef023-2b34-4da1-9baa-8bc8c9d6a490/v2.0";
    let jwks: axum_token_auth::token::JwkSet =
        serde_json::from_value(json!({"keys": [key.public_jwk()]})).unwrap();
    // The Entra preset's claim rules (scp/roles, tid, acrs) with a static key set: the
    // preset itself discovers its keys at login.microsoftonline.com.
    let auth = builder()
        .trust(
            Issuer::jwks(iss, &jwks)
                .audience("api://orders")
                .scope_claims([ScopeClaim::path("scp"), ScopeClaim::path("roles")])
                .tenant_claim(ScopeClaim::path("tid"))
                .acr_claim(ScopeClaim::path("acrs")),
        )
        .build()
        .unwrap();
    let app = Router::new()
        .route("/c2", get(|| async { "c2" }))
        .route_layer(StepUpLayer::acr(["c2"]).unwrap())
        .route(
            "/me",
            get(|c: Claims| async move { format!("{:?}", c.acr) }),
        )
        .layer(auth.layer());
    let now = now();
    let claims = |acrs: serde_json::Value| {
        json!({
            "iss": iss, "aud": "api://orders", "sub": "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ",
            "iat": now, "nbf": now, "exp": now + 3600, "tid": "8eaef023-2b34-4da1-9baa-8bc8c9d6a490",
            "scp": "orders.read", "ver": "2.0", "acr": "1", "amr": ["pwd", "mfa"], "acrs": acrs,
        })
    };
    let with_c2 = key.sign(&claims(json!(["c1", "c2"])), &json!({"typ": "JWT"}));
    assert_eq!(
        ok_body(send_get(&app, "/c2", Some(&with_c2)).await).await,
        "c2"
    );
    assert_eq!(
        ok_body(send_get(&app, "/me", Some(&with_c2)).await).await,
        "Some(\"c1 c2\")"
    );
    // Only c1, or the v1 `acr` "1" alone: refused, the challenge names c2.
    let c1 = key.sign(&claims(json!(["c1"])), &json!({"typ": "JWT"}));
    let none = key.sign(&claims(json!(null)), &json!({"typ": "JWT"}));
    let challenge = r#"Bearer realm="api", error="insufficient_user_authentication", error_description="a stronger or more recent authentication is required", acr_values="c2""#;
    for t in [&c1, &none] {
        assert_step_up_refused(&app, "/c2", t, challenge).await;
    }
}

#[cfg(feature = "oidc")]
mod provider {
    use super::*;
    use common::oidc::{OidcProvider, RESOURCE, TestKey, jwt_claims};

    fn authority(op: &OidcProvider) -> TokenAuth {
        builder()
            .trust(Issuer::discover(op.issuer()).audience(RESOURCE))
            .build()
            .unwrap()
    }

    #[tokio::test]
    async fn a_real_providers_user_token_carries_acr_amr_and_auth_time_and_passes_the_guards() {
        let op = OidcProvider::start(&[TestKey::generate("k1")]).await;
        let auth = authority(&op);
        assert!(auth.await_ready(Duration::from_secs(10)).await);
        let app = step_up_app(&auth);

        let before = now();
        let mfa = op.user_token("alice", Some("mfa"), Some("pwd otp")).await;
        let c = jwt_claims(&mfa);
        assert_eq!(c["sub"], "alice", "{c}");
        assert_eq!(c["acr"], "mfa", "{c}");
        assert_eq!(c["amr"], json!(["pwd", "otp"]), "{c}");
        let auth_time = c["auth_time"].as_u64().expect("auth_time");
        assert!(auth_time + 5 >= before && auth_time <= now(), "{c}");
        for path in ["/layer", "/extractor"] {
            let res = send_get(&app, path, Some(&mfa)).await;
            assert_eq!(res.status(), StatusCode::OK, "{path}");
        }
        let verified = auth
            .validate::<NoCustomClaims>(&mfa, TokenCheck::ACCESS)
            .await
            .unwrap();
        assert_eq!(verified.acr.as_deref(), Some("mfa"));
        assert_eq!(verified.auth_time, Some(auth_time));

        // The same provider, a login without a second factor: auth_time, no acr.
        let pwd = op.user_token("bob", None, None).await;
        let c = jwt_claims(&pwd);
        assert!(c.get("acr").is_none() && c["auth_time"].is_u64(), "{c}");
        for path in ["/layer", "/extractor"] {
            assert_step_up_refused(&app, path, &pwd, CHALLENGE).await;
        }
        assert_eq!(
            ok_body(send_get(&app, "/recent", Some(&pwd)).await).await,
            "recent"
        );

        // A client-credentials token: nobody authenticated, no step-up claims at all.
        let machine = op.client_credentials_token("users:read", RESOURCE).await;
        assert!(jwt_claims(&machine).get("auth_time").is_none());
        let recent = r#"Bearer realm="api", error="insufficient_user_authentication", error_description="a stronger or more recent authentication is required", max_age=60"#;
        assert_step_up_refused(&app, "/recent", &machine, recent).await;
    }
}
