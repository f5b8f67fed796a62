//! The metrics (feature `metrics`) move as tokens are issued, validated, refused, revoked,
//! refreshed and reused, as grants change and store calls run, and the breaker's gauge
//! follows an outage; no label carries a token, a subject or anything a client chose.
#![cfg(feature = "metrics")]

use axum_token_auth::trust::Revocation;
use std::collections::HashMap;
use std::sync::Arc;

use crate::common::switchable::Switchable;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use axum_token_auth::store::breaker::{BreakerState, GuardSettings, Guarded};
use axum_token_auth::store::grants::{GrantChange, GrantStore, MemoryGrantStore};
use axum_token_auth::store::memory::MemoryRefreshStore;
use axum_token_auth::{
    Claims, Sessions, TokenAuth, TokenRequest,
    token::{Scope, TokenKind},
};
use http::{Request, StatusCode};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use tower::ServiceExt;

const SECRET: &str = "0123456789abcdefghijklmnopqrstuvwxyzABCDEF";

/// Every metric as `name{label=value,…}` → value (counters and gauges as f64, histograms
/// as their sample count).
fn snapshot(s: &Snapshotter) -> HashMap<String, f64> {
    s.snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| {
            let key = key.key();
            let mut labels: Vec<String> = key
                .labels()
                .map(|l| format!("{}={}", l.key(), l.value()))
                .collect();
            labels.sort();
            let name = format!("{}{{{}}}", key.name(), labels.join(","));
            let v = match value {
                DebugValue::Counter(c) => c as f64,
                DebugValue::Gauge(g) => g.0,
                DebugValue::Histogram(h) => h.len() as f64,
            };
            (name, v)
        })
        .collect()
}

fn value(m: &HashMap<String, f64>, key: &str) -> f64 {
    m.get(key).copied().unwrap_or(0.0)
}

async fn status(app: &Router, token: &str) -> StatusCode {
    app.clone()
        .oneshot(
            Request::get("/me")
                .header("authorization", format!("Bearer {token}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap()
        .status()
}

/// Runs `test` on a current-thread runtime with a recorder local to this thread.
fn with_recorder(test: impl AsyncFnOnce(Snapshotter)) {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(test(snapshotter))
    });
}

#[test]
fn counters_move_with_the_token_life_cycle_and_labels_carry_no_client_data() {
    with_recorder(async |snap| {
        let auth = TokenAuth::builder().hs256_secret(SECRET).build().unwrap();
        let sessions = Sessions::builder(auth.clone(), MemoryRefreshStore::new())
            .build()
            .unwrap();
        let app = Router::new()
            .route("/me", get(|c: Claims| async move { c.sub.clone() }))
            .layer(auth.layer());

        let login = sessions
            .login(&TokenRequest::new("alice-subject"), None)
            .await
            .unwrap();
        let service = auth
            .issue_service(&TokenRequest::new("billing-subject"))
            .unwrap();
        let access = login.pair.access.as_str();
        assert_eq!(status(&app, access).await, StatusCode::OK);
        assert_eq!(status(&app, access).await, StatusCode::OK);
        assert_eq!(status(&app, "not.a.token").await, StatusCode::UNAUTHORIZED);
        let tampered = format!("{}x", &access[..access.len() - 1]);
        assert_eq!(status(&app, &tampered).await, StatusCode::UNAUTHORIZED);

        let next = sessions
            .refresh(login.pair.refresh.as_str(), None)
            .await
            .unwrap();
        let _third = sessions
            .refresh(next.pair.refresh.as_str(), None)
            .await
            .unwrap();
        // The first refresh token again, after its successor was used: reuse.
        assert!(
            sessions
                .refresh(login.pair.refresh.as_str(), None)
                .await
                .is_err()
        );
        auth.revoke(service.as_str()).await.unwrap();
        auth.revoke(Revocation::subject("alice-subject"))
            .await
            .unwrap();
        assert_eq!(status(&app, access).await, StatusCode::UNAUTHORIZED);

        let grants = Guarded::grants(Arc::new(MemoryGrantStore::new()), &GuardSettings::default());
        let scope = Scope::new("playlist:manage").unwrap();
        grants
            .grant_scope(&GrantChange::new("tenant-x", "module-y", &scope, "admin-z").unwrap())
            .await
            .unwrap();
        grants
            .revoke_scope(&GrantChange::new("tenant-x", "module-y", &scope, "admin-z").unwrap())
            .await
            .unwrap();

        let m = snapshot(&snap);
        // login: access + refresh; two refreshes: two pairs; one service token.
        assert_eq!(
            value(&m, "token_auth_tokens_issued_total{kind=access}"),
            3.0
        );
        assert_eq!(
            value(&m, "token_auth_tokens_issued_total{kind=refresh}"),
            3.0
        );
        assert_eq!(
            value(&m, "token_auth_tokens_issued_total{kind=service}"),
            1.0
        );
        assert!(
            value(
                &m,
                "token_auth_validations_accepted_total{revocation=checked}"
            ) >= 2.0
        );
        assert_eq!(
            value(&m, "token_auth_validations_refused_total{reason=malformed}"),
            1.0
        );
        assert_eq!(
            value(
                &m,
                "token_auth_validations_refused_total{reason=bad_signature}"
            ),
            1.0
        );
        assert!(value(&m, "token_auth_validations_refused_total{reason=revoked}") >= 1.0);
        assert_eq!(value(&m, "token_auth_sessions_started_total{}"), 1.0);
        assert_eq!(
            value(&m, "token_auth_refreshes_total{outcome=rotated}"),
            2.0
        );
        assert_eq!(
            value(&m, "token_auth_reuse_detections_total{kind=reused}"),
            1.0
        );
        assert!(value(&m, "token_auth_revocations_total{kind=token}") >= 1.0);
        assert_eq!(value(&m, "token_auth_revocations_total{kind=subject}"), 1.0);
        assert_eq!(
            value(&m, "token_auth_grant_changes_total{action=grant}"),
            1.0
        );
        assert_eq!(
            value(&m, "token_auth_grant_changes_total{action=revoke}"),
            1.0
        );
        assert!(
            value(
                &m,
                "token_auth_store_call_seconds{op=rotate,outcome=ok,store=refresh}"
            ) >= 3.0
        );
        assert_eq!(
            value(&m, "token_auth_store_breaker_state{store=revocation}"),
            0.0
        );
        // Nothing a client chose or holds: no subject, tenant, actor, token or token part.
        let secrets = [
            "alice",
            "billing",
            "tenant-x",
            "module-y",
            "admin-z",
            "playlist",
            &access[..20],
        ];
        for key in m.keys() {
            for s in secrets {
                assert!(!key.contains(s), "{key} carries {s:?}");
            }
        }
    });
}

#[test]
fn the_breaker_gauge_and_refusals_follow_an_outage() {
    with_recorder(async |snap| {
        let store = Arc::new(Switchable::default());
        let auth = TokenAuth::builder()
            .hs256_secret(SECRET)
            .revocation_store(store.clone())
            .store_guard(GuardSettings::default().probe_interval(Duration::from_millis(20)))
            .build()
            .unwrap();
        let app = Router::new()
            .route("/me", get(|c: Claims| async move { c.sub.clone() }))
            .layer(auth.layer());
        let token = auth
            .issue(TokenKind::Access, &TokenRequest::new("bob"))
            .unwrap();
        assert_eq!(status(&app, token.as_str()).await, StatusCode::OK);

        store.down.store(true, Ordering::SeqCst);
        for _ in 0..3 {
            assert_eq!(
                status(&app, token.as_str()).await,
                StatusCode::SERVICE_UNAVAILABLE
            );
        }
        assert_eq!(auth.store_breaker_state(), Some(BreakerState::Open));
        let m = snapshot(&snap);
        assert_eq!(
            value(&m, "token_auth_store_breaker_state{store=revocation}"),
            1.0
        );
        assert_eq!(
            value(
                &m,
                "token_auth_store_refused_total{cause=open,store=revocation}"
            ),
            2.0
        );
        assert_eq!(
            value(
                &m,
                "token_auth_store_call_seconds{op=check,outcome=unavailable,store=revocation}"
            ),
            1.0
        );
        assert_eq!(
            value(
                &m,
                "token_auth_validations_refused_total{reason=store_unavailable}"
            ),
            3.0
        );

        store.down.store(false, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert_eq!(auth.store_breaker_state(), Some(BreakerState::Closed));
        assert_eq!(status(&app, token.as_str()).await, StatusCode::OK);
        let m = snapshot(&snap);
        assert_eq!(
            value(&m, "token_auth_store_breaker_state{store=revocation}"),
            0.0
        );
        assert_eq!(
            value(&m, "token_auth_store_in_flight{store=revocation}"),
            0.0
        );
    });
}

#[test]
fn security_events_are_counted_by_kind_and_outcome_with_their_delay() {
    use axum_token_auth::Key;
    use axum_token_auth::token::Algorithm;
    use axum_token_auth::trust::Issuer;
    use jsonwebtoken::{EncodingKey, Header};
    use serde_json::json;
    const IDP: &str = "https://idp.example";
    let private = include_str!("../fixtures/rsa2048_private.pem");
    let public = include_str!("../fixtures/rsa2048_public.pem");
    with_recorder(async |snap| {
        let key = Key::from_pem(Algorithm::RS256, public)
            .unwrap()
            .with_kid("k1");
        let auth = TokenAuth::builder()
            .hs256_secret(SECRET)
            .trust(Issuer::keys(IDP, [key]).audience("api"))
            .build()
            .unwrap();
        let mut h = Header::new(jsonwebtoken::Algorithm::RS256);
        h.kid = Some("k1".into());
        h.typ = Some("logout+jwt".into());
        let now = crate::common::now();
        let claims = json!({"iss": IDP, "aud": "api", "iat": now, "exp": now + 120, "jti": "l1",
            "sub": "secret-subject", "sid": "secret-sid",
            "events": {"http://schemas.openid.net/event/backchannel-logout": {}}});
        let token = jsonwebtoken::encode(
            &h,
            &claims,
            &EncodingKey::from_rsa_pem(private.as_bytes()).unwrap(),
        )
        .unwrap();
        auth.receive_logout_token(&token).await.unwrap();
        auth.receive_logout_token(&token).await.unwrap_err();
        auth.receive_security_event("garbage").await.unwrap_err();
        let m = snapshot(&snap);
        let key = |event: &str, outcome: &str| {
            format!("token_auth_security_events_total{{event={event},outcome={outcome}}}")
        };
        assert_eq!(
            value(&m, &key("backchannel_logout", "applied")),
            1.0,
            "{m:?}"
        );
        assert_eq!(value(&m, &key("unknown", "replayed")), 1.0, "{m:?}");
        assert_eq!(value(&m, &key("unknown", "invalid_request")), 1.0, "{m:?}");
        assert_eq!(
            value(
                &m,
                "token_auth_security_event_delay_seconds{event=backchannel_logout}"
            ),
            1.0
        );
        for name in m.keys() {
            assert!(
                !name.contains("secret"),
                "a label carries client data: {name}"
            );
        }
    });
}

#[cfg(feature = "oidc")]
#[test]
fn key_set_metrics_follow_a_provider_outage_labelled_by_the_configured_issuer() {
    use crate::common::oidc::{OidcProvider, RESOURCE, TestKey, jwt_claims};
    use axum_token_auth::trust::{Issuer, KeySetState};
    use serde_json::json;
    with_recorder(async |snap| {
        let k1 = TestKey::generate("k1");
        let mut op = OidcProvider::start(std::slice::from_ref(&k1)).await;
        let iss = op.issuer();
        let auth = TokenAuth::builder()
            .hs256_secret(SECRET)
            .trust(
                Issuer::discover(iss.clone())
                    .audience(RESOURCE)
                    .refresh_bounds(Duration::from_secs(1), Duration::from_secs(1))
                    .retry_interval(Duration::from_millis(200))
                    .max_stale(Duration::from_secs(2)),
            )
            .build()
            .unwrap();
        assert!(auth.await_ready(Duration::from_secs(10)).await);
        let app = Router::new()
            .route("/me", get(|c: Claims| async move { c.sub.clone() }))
            .layer(auth.layer());
        let token = op.client_credentials_token("users:read", RESOURCE).await;
        assert_eq!(status(&app, &token).await, StatusCode::OK);
        // A token with a kid the provider never published waits for one refetch.
        let forged = k1.sign(
            &jwt_claims(&token),
            &json!({ "kid": "kid-never-published" }),
        );
        assert_eq!(status(&app, &forged).await, StatusCode::UNAUTHORIZED);

        let key = |name: &str, outcome: Option<&str>| match outcome {
            Some(o) => format!("{name}{{issuer={iss},outcome={o}}}"),
            None => format!("{name}{{issuer={iss}}}"),
        };
        let m = snapshot(&snap);
        assert!(
            value(&m, &key("token_auth_key_set_fetches_total", Some("ok"))) >= 2.0,
            "{m:?}"
        );
        assert_eq!(
            value(
                &m,
                &key("token_auth_key_set_refetches_total", Some("asked"))
            ),
            1.0,
            "{m:?}"
        );
        assert_eq!(
            value(&m, &key("token_auth_key_set_keys", None)),
            1.0,
            "{m:?}"
        );
        assert_eq!(
            value(&m, &key("token_auth_key_set_state", None)),
            1.0,
            "fresh: {m:?}"
        );
        assert_eq!(
            value(&m, &key("token_auth_key_set_max_stale_seconds", None)),
            2.0
        );
        assert_eq!(
            value(&m, &key("token_auth_key_set_stale_seconds", None)),
            0.0
        );
        assert!(
            value(
                &m,
                &key("token_auth_key_set_last_success_timestamp_seconds", None)
            ) >= crate::common::now() as f64 - 5.0
        );

        // The provider goes down: failures are counted by their fixed name, the set is
        // served stale, then expires (503), and the gauges say so before a user does.
        op.stop().await;
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        loop {
            let m = snapshot(&snap);
            if value(&m, &key("token_auth_key_set_state", None)) == 3.0 {
                assert!(
                    value(
                        &m,
                        &key("token_auth_key_set_fetches_total", Some("transport"))
                    ) >= 1.0,
                    "{m:?}"
                );
                assert!(
                    value(&m, &key("token_auth_key_set_stale_seconds", None)) >= 2.0,
                    "{m:?}"
                );
                break;
            }
            assert!(std::time::Instant::now() < deadline, "never expired: {m:?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(auth.key_sets()[0].state, KeySetState::Expired);
        assert_eq!(status(&app, &token).await, StatusCode::SERVICE_UNAVAILABLE);

        op.restart(std::slice::from_ref(&k1)).await;
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        while auth.key_sets()[0].state != KeySetState::Fresh {
            assert!(std::time::Instant::now() < deadline, "no recovery");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let m = snapshot(&snap);
        assert_eq!(
            value(&m, &key("token_auth_key_set_state", None)),
            1.0,
            "{m:?}"
        );
        assert_eq!(
            value(&m, &key("token_auth_key_set_stale_seconds", None)),
            0.0
        );
        for name in m.keys() {
            assert!(
                !name.contains("kid-never"),
                "a label carries client data: {name}"
            );
        }
    });
}
