//! The seed systems' conveniences: validating a token of any kind, claims that round-trip
//! with their kind, a request from claims, and `CurrentUser<L>` over a user loader.

mod common;

use axum_token_auth::trust::TokenCheck;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::extract::FromRef;
use axum::routing::get;
use axum_token_auth::store::StoreError;
use axum_token_auth::trust::VerifyError;
use axum_token_auth::{
    AuthError, NoCustomClaims, TokenClaims, TokenRequest, async_trait,
    http::{CurrentUser, UserLoader},
    session::SessionError,
    token::{ClaimsView, InvalidToken, TokenKind},
};
use common::*;
use http::StatusCode;

#[tokio::test]
async fn validate_any_says_which_kind() {
    let auth = auth();
    let req = TokenRequest::new("svc").scopes(["a:b"]).tenant("t1");
    for (token, kind) in [
        (auth.issue_access(&req).unwrap(), TokenKind::Access),
        (auth.issue_refresh(&req).unwrap(), TokenKind::Refresh),
        (auth.issue_service(&req).unwrap(), TokenKind::Service),
    ] {
        let c = auth
            .validate::<NoCustomClaims>(token.as_str(), TokenCheck::ANY_KIND)
            .await
            .unwrap();
        assert_eq!(c.kind, kind);
        // The claims round-trip with their kind, and make a request again.
        let back: TokenClaims = TokenClaims::from_value(c.to_value()).unwrap();
        assert_eq!(back, c);
        let again = auth.issue_access(&TokenRequest::from_claims(&c)).unwrap();
        let c2 = auth
            .validate::<NoCustomClaims>(again.as_str(), TokenCheck::ACCESS)
            .await
            .unwrap();
        assert_eq!((c2.sub.as_str(), c2.tenant.as_deref()), ("svc", Some("t1")));
        assert!(c2.has_scope("a:b"));
    }
    let access = auth.issue_access(&req).unwrap();
    auth.revoke(access.as_str()).await.unwrap();
    assert_eq!(
        auth.validate::<NoCustomClaims>(access.as_str(), TokenCheck::ANY_KIND)
            .await
            .unwrap_err(),
        VerifyError::InvalidToken(InvalidToken::Revoked)
    );
}

#[derive(Clone)]
struct User {
    name: String,
}

#[derive(Clone, Default)]
struct Users {
    loads: Arc<AtomicUsize>,
}

#[async_trait]
impl UserLoader for Users {
    type User = User;
    async fn load(&self, claims: &dyn ClaimsView) -> Result<Option<User>, StoreError> {
        self.loads.fetch_add(1, Ordering::SeqCst);
        match claims.subject() {
            "ghost" => Ok(None),
            "down" => Err(StoreError::Unavailable("db".into())),
            s => Ok(Some(User { name: s.to_owned() })),
        }
    }
}

#[derive(Clone, FromRef)]
struct AppState {
    users: Users,
}

async fn twice(CurrentUser(a): CurrentUser<Users>, CurrentUser(b): CurrentUser<Users>) -> String {
    format!("{} {}", a.name, b.name)
}

#[tokio::test]
async fn current_user_is_loaded_once_per_request() {
    let auth = auth();
    let users = Users::default();
    let app: Router = Router::new()
        .route("/me", get(twice))
        .layer(auth.layer())
        .with_state(AppState {
            users: users.clone(),
        });
    let t = issue(&auth, "alice", &[]);
    assert_eq!(
        ok_body(send_get(&app, "/me", Some(&t)).await).await,
        "alice alice"
    );
    assert_eq!(users.loads.load(Ordering::SeqCst), 1);
    let ghost = issue(&auth, "ghost", &[]);
    assert_refused(
        send_get(&app, "/me", Some(&ghost)).await,
        AuthError::InvalidToken(InvalidToken::UnknownSubject),
    )
    .await;
    let down = issue(&auth, "down", &[]);
    let r = refusal(send_get(&app, "/me", Some(&down)).await).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.body["error"], "temporarily_unavailable");
    assert_eq!(
        send_get(&app, "/me", None).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn keep_refresh_token_mode_answers_new_access_tokens_and_keeps_the_refresh_token() {
    use axum_token_auth::Sessions;
    use axum_token_auth::store::memory::MemoryRefreshStore;
    let auth = auth();
    let keeping = Sessions::builder(auth.clone(), MemoryRefreshStore::new())
        .keep_refresh_token(true)
        .build()
        .unwrap();
    let login = keeping
        .login(&TokenRequest::new("svc").scopes(["a:b"]), None)
        .await
        .unwrap();
    let refresh = login.pair.refresh.as_str().to_owned();
    let first = keeping.refresh(&refresh, None).await.unwrap();
    let second = keeping.refresh(&refresh, None).await.unwrap();
    assert_eq!(
        first.pair.refresh.as_str(),
        refresh,
        "the same refresh token"
    );
    assert_eq!(second.pair.refresh.as_str(), refresh);
    assert_ne!(first.pair.access.as_str(), second.pair.access.as_str());
    let c = auth
        .validate::<NoCustomClaims>(second.pair.access.as_str(), TokenCheck::ACCESS)
        .await
        .unwrap();
    assert!(c.has_scope("a:b"));
    // Ending the session ends the refresh token too.
    assert!(
        keeping
            .revoke_session("svc", &login.session_id)
            .await
            .unwrap()
    );
    assert_eq!(
        keeping.refresh(&refresh, None).await.unwrap_err(),
        SessionError::SessionEnded
    );

    // The default rotates: the same refresh token twice is a reuse.
    let rotating = Sessions::builder(auth.clone(), MemoryRefreshStore::new())
        .grace(std::time::Duration::ZERO)
        .build()
        .unwrap();
    let login = rotating.login(&TokenRequest::new("u"), None).await.unwrap();
    let r = login.pair.refresh.as_str().to_owned();
    rotating.refresh(&r, None).await.unwrap();
    assert_eq!(
        rotating.refresh(&r, None).await.unwrap_err(),
        SessionError::RefreshReused
    );
}

#[tokio::test]
async fn the_refresh_route_takes_the_oauth2_form() {
    use axum::body::Body;
    use axum_token_auth::Sessions;
    use axum_token_auth::store::memory::MemoryRefreshStore;
    let auth = auth();
    let sessions = Sessions::builder(auth.clone(), MemoryRefreshStore::new())
        .build()
        .unwrap();
    let app: Router = Router::new().route("/auth/refresh", sessions.refresh_route());
    let login = sessions.login(&TokenRequest::new("u"), None).await.unwrap();
    let form = |body: String| {
        http::Request::post("/auth/refresh")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap()
    };
    let ok = send(
        &app,
        form(format!(
            "grant_type=refresh_token&refresh_token={}",
            login.pair.refresh.as_str()
        )),
    )
    .await;
    assert_eq!(ok.status(), StatusCode::OK);
    let body: serde_json::Value = serde_json::from_str(&body_text(ok).await).unwrap();
    assert!(
        body["access_token"].is_string() && body["refresh_token"].is_string(),
        "{body}"
    );
    for bad in [
        format!(
            "grant_type=password&refresh_token={}",
            body["refresh_token"].as_str().unwrap()
        ),
        "grant_type=refresh_token".to_owned(),
        format!(
            "grant_type=refresh_token&refresh_token=a&refresh_token={}",
            body["refresh_token"].as_str().unwrap()
        ),
    ] {
        let r = refusal(send(&app, form(bad.clone())).await).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}: {r:?}");
        assert_eq!(r.body["error"], "invalid_request");
    }
}

#[tokio::test]
async fn session_lists_show_device_and_ip() {
    use axum_token_auth::store::memory::MemoryRefreshStore;
    use axum_token_auth::{Sessions, session::SessionInfo};
    let auth = auth();
    let sessions = Sessions::builder(auth.clone(), MemoryRefreshStore::new())
        .build()
        .unwrap();
    let info = SessionInfo::default()
        .user_agent("curl/8")
        .device("Alice's laptop")
        .ip(std::net::IpAddr::from([198, 51, 100, 4]));
    let login = sessions
        .login_with(&TokenRequest::new("alice"), &info)
        .await
        .unwrap();
    let app: Router = Router::new()
        .route("/auth/sessions", sessions.sessions_route())
        .layer(auth.layer());
    let body =
        ok_body(send_get(&app, "/auth/sessions", Some(login.pair.access.as_str())).await).await;
    assert!(
        body.contains("Alice's laptop") && body.contains("198.51.100.4"),
        "{body}"
    );
}

#[tokio::test]
async fn an_apps_own_refresh_handler_uses_the_presented_refresh_extractor() {
    use axum::body::Body;
    use axum::extract::State;
    use axum::response::{IntoResponse, Response};
    use axum_token_auth::store::memory::MemoryRefreshStore;
    use axum_token_auth::{Sessions, session::PresentedRefresh};
    async fn mine(State(s): State<Sessions>, PresentedRefresh(r): PresentedRefresh) -> Response {
        match s.refresh(&r.refresh_token, r.access_token.as_deref()).await {
            Ok(login) => axum::Json(login.pair.to_response()).into_response(),
            Err(e) => s.auth().web().render_error(e.into()),
        }
    }
    let auth = auth();
    let sessions = Sessions::builder(auth.clone(), MemoryRefreshStore::new())
        .build()
        .unwrap();
    let login = sessions.login(&TokenRequest::new("u"), None).await.unwrap();
    let app: Router = Router::new()
        .route("/mine", axum::routing::post(mine))
        .with_state(sessions);
    let req = |body: String| {
        http::Request::post("/mine")
            .header("content-type", "application/json")
            .body(Body::from(body))
            .unwrap()
    };
    let ok = send(&app, req(json_refresh(login.pair.refresh.as_str()))).await;
    assert_eq!(ok.status(), StatusCode::OK);
    let r = refusal(send(&app, req("[]".into())).await).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let none = http::Request::post("/mine").body(Body::empty()).unwrap();
    assert_eq!(send(&app, none).await.status(), StatusCode::UNAUTHORIZED);
}

fn json_refresh(token: &str) -> String {
    serde_json::json!({ "refresh_token": token }).to_string()
}
