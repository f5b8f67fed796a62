//! "Revoke everything of a user" is one write: every token minted through `Sessions`
//! carries the user's generation (`gen`), and bumping it refuses them all at once.

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use axum_token_auth::session::SessionError;
use axum_token_auth::store::memory::MemoryRefreshStore;
use axum_token_auth::trust::VerifyError;
use axum_token_auth::trust::{Revocation, TokenCheck};
use axum_token_auth::{Claims, Sessions, TokenAuth, TokenRequest, token::InvalidToken};
use http::{Request, StatusCode};
use tower::ServiceExt;

const SECRET: &str = "0123456789abcdefghijklmnopqrstuvwxyzABCDEF";

async fn me(app: &Router, token: &str) -> StatusCode {
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

#[tokio::test]
async fn revoke_user_refuses_every_token_of_the_user_and_only_theirs() {
    let auth = TokenAuth::builder().hs256_secret(SECRET).build().unwrap();
    let sessions = Sessions::builder(auth.clone(), MemoryRefreshStore::new())
        .build()
        .unwrap();
    let app = Router::new()
        .route("/me", get(|c: Claims| async move { c.sub.clone() }))
        .layer(auth.layer());

    let laptop = sessions
        .login(&TokenRequest::new("alice"), None)
        .await
        .unwrap();
    let phone = sessions
        .login(&TokenRequest::new("alice"), None)
        .await
        .unwrap();
    let phone2 = sessions
        .refresh(phone.pair.refresh.as_str(), None)
        .await
        .unwrap();
    let bob = sessions
        .login(&TokenRequest::new("bob"), None)
        .await
        .unwrap();
    for t in [&laptop.pair.access, &phone.pair.access, &phone2.pair.access] {
        assert_eq!(me(&app, t.as_str()).await, StatusCode::OK);
        // Cached by the layer now: the generation check must still run on a hit.
        assert_eq!(me(&app, t.as_str()).await, StatusCode::OK);
    }

    sessions.revoke_user("alice").await.unwrap();

    for t in [&laptop.pair.access, &phone.pair.access, &phone2.pair.access] {
        assert_eq!(me(&app, t.as_str()).await, StatusCode::UNAUTHORIZED);
    }
    let e = sessions
        .refresh(laptop.pair.refresh.as_str(), None)
        .await
        .unwrap_err();
    assert_eq!(e, SessionError::InvalidToken(InvalidToken::Revoked));
    // Bob is untouched, and alice can log in again.
    assert_eq!(me(&app, bob.pair.access.as_str()).await, StatusCode::OK);
    let again = sessions
        .login(&TokenRequest::new("alice"), None)
        .await
        .unwrap();
    assert_eq!(me(&app, again.pair.access.as_str()).await, StatusCode::OK);
    assert!(
        sessions
            .refresh(again.pair.refresh.as_str(), None)
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn revoke_all_for_user_refuses_every_token_of_the_subject_however_it_was_minted() {
    use axum_token_auth::store::grants::{GrantChange, GrantStore, MemoryGrantStore};
    use axum_token_auth::token::{Scope, TokenKind};
    let auth = TokenAuth::builder().hs256_secret(SECRET).build().unwrap();
    let app = Router::new()
        .route("/me", get(|c: Claims| async move { c.sub.clone() }))
        .layer(auth.layer().also_accept(TokenKind::Service));
    let grants = MemoryGrantStore::new();
    grants
        .grant_scope(
            &GrantChange::new("acme", "svc", &Scope::new("reports:read").unwrap(), "root").unwrap(),
        )
        .await
        .unwrap();
    let g = auth
        .revocation_store()
        .subject_cutoff("svc")
        .await
        .unwrap()
        .generation;
    let tracked = auth
        .issue_access(&TokenRequest::new("svc").user_generation(g))
        .unwrap();
    let access = auth.issue_access(&TokenRequest::new("svc")).unwrap();
    let service = auth.issue_service(&TokenRequest::new("svc")).unwrap();
    let granted = auth
        .issue_granted(
            &grants,
            TokenKind::Access,
            &TokenRequest::new("svc")
                .tenant("acme")
                .scope("reports:read"),
        )
        .await
        .unwrap();
    let other = auth.issue_access(&TokenRequest::new("other")).unwrap();
    let all = [&tracked, &access, &service, &granted];
    for t in all {
        assert_eq!(me(&app, t.as_str()).await, StatusCode::OK);
    }
    assert_eq!(
        auth.revoke(Revocation::subject("svc"))
            .await
            .unwrap()
            .generation(),
        Some(g + 1)
    );
    for t in all {
        assert_eq!(
            me(&app, t.as_str()).await,
            StatusCode::UNAUTHORIZED,
            "{:?} survived",
            t.kind
        );
        assert_eq!(
            auth.validate::<axum_token_auth::NoCustomClaims>(t.as_str(), TokenCheck::kind(t.kind))
                .await
                .unwrap_err(),
            VerifyError::InvalidToken(InvalidToken::Revoked)
        );
    }
    assert_eq!(me(&app, other.as_str()).await, StatusCode::OK);
}
