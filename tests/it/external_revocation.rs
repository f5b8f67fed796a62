//! Revocation of a trusted issuer's tokens by the provider's session (`sid`) and by
//! subject issued before an instant (`Revocation::external_session`,
//! `Revocation::external_subject`): through a real `Router` on the memory store, and
//! across two instances sharing Redis, a Redis Cluster and PostgreSQL (delay measured
//! and printed; run with `--nocapture` to read it).

use crate::common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use axum_token_auth::session::SessionError;
use axum_token_auth::store::memory::{MemoryRefreshStore, MemoryRevocationStore};
use axum_token_auth::store::{
    RevocationCheck, RevocationStore, StoreError, SubjectCutoff, SubjectRevocation, TokenDigest,
};
use axum_token_auth::token::{InvalidToken, IssueError, PROVIDER_SESSION_CLAIM};
use axum_token_auth::trust::{Issuer, Revocation, RevokeError, TokenCheck, VerifyError};
use axum_token_auth::{
    Claims, Key, NoCustomClaims, Sessions, TokenAuth, TokenRequest, token::Algorithm,
};
use common::*;
use http::StatusCode;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{EncodingKey, Header};
use serde_json::{Value, json};

const IDP: &str = "https://sso.example.com/realms/acme";
const PRIVATE: &str = include_str!("../fixtures/rsa2048_private.pem");
const PUBLIC: &str = include_str!("../fixtures/rsa2048_public.pem");

fn idp() -> Issuer {
    let key = Key::from_pem(Algorithm::RS256, PUBLIC)
        .unwrap()
        .with_kid("a1");
    let jwk = serde_json::to_value(key.public_jwk().unwrap()).unwrap();
    let set: JwkSet = serde_json::from_value(json!({ "keys": [jwk] })).unwrap();
    Issuer::jwks(IDP, &set).audience("orders-api")
}

/// A provider access token for `sub`, issued at `iat`, in session `sid` (none: no `sid`).
fn provider_token(sub: &str, sid: Option<&str>, iat: u64) -> String {
    let mut claims = json!({
        "iss": IDP,
        "sub": sub,
        "aud": "orders-api",
        "iat": iat,
        "exp": now() + 300,
        "jti": uid(),
    });
    if let Some(sid) = sid {
        claims["sid"] = Value::String(sid.into());
    }
    let mut h = Header::new(jsonwebtoken::Algorithm::RS256);
    h.kid = Some("a1".into());
    h.typ = Some("at+jwt".into());
    raw_token(
        &h,
        &claims,
        &EncodingKey::from_rsa_pem(PRIVATE.as_bytes()).unwrap(),
    )
}

fn uid() -> String {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).unwrap();
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn router(auth: &TokenAuth) -> Router {
    Router::new()
        .route("/me", get(|c: Claims| async move { c.sub.clone() }))
        .layer(auth.layer())
}

async fn status(app: &Router, token: &str) -> StatusCode {
    send_get(app, "/me", Some(token)).await.status()
}

fn auth_over(store: Option<Arc<dyn SubjectRevocation>>) -> TokenAuth {
    let b = builder().trust(idp());
    match store {
        Some(s) => b.revocation_store(s),
        None => b,
    }
    .build()
    .unwrap()
}

#[tokio::test]
async fn a_logged_out_provider_session_is_refused_other_sessions_and_our_own_alice_are_not() {
    let auth = auth_over(None);
    let app = router(&auth);
    let sid = format!("sid-{}", uid());
    let in_session = provider_token("alice", Some(&sid), now());
    let other_session = provider_token("alice", Some("another-sid"), now());
    let no_session = provider_token("alice", None, now());
    let ours = auth.issue_access(&TokenRequest::new("alice")).unwrap();
    // Accepted (and now in the verified-token cache).
    for t in [&in_session, &other_session, &no_session, ours.as_str()] {
        assert_eq!(status(&app, t).await, StatusCode::OK);
    }
    let revoked = auth
        .revoke(Revocation::external_session(IDP, &sid))
        .await
        .unwrap();
    assert_eq!((revoked.digest(), revoked.generation()), (None, None));
    // The cached verdict is not served: the hit path re-checks revocation.
    assert_eq!(status(&app, &in_session).await, StatusCode::UNAUTHORIZED);
    assert!(matches!(
        auth.validate::<NoCustomClaims>(&in_session, TokenCheck::ACCESS)
            .await,
        Err(VerifyError::InvalidToken(InvalidToken::Revoked))
    ));
    for t in [&other_session, &no_session, ours.as_str()] {
        assert_eq!(status(&app, t).await, StatusCode::OK);
    }
    // The same `sid` at another issuer (here: our own token carrying none) is
    // untouched, and a `sid` revoked for an issuer we do not name changes nothing.
    auth.revoke(Revocation::external_session(
        "https://other.example",
        "another-sid",
    ))
    .await
    .unwrap();
    assert_eq!(status(&app, &other_session).await, StatusCode::OK);
}

#[tokio::test]
async fn a_provider_subject_revoked_before_an_instant_refuses_older_tokens_only() {
    let auth = auth_over(None);
    let app = router(&auth);
    let sub = format!("u-{}", uid());
    let old = provider_token(&sub, Some("s1"), now() - 250);
    let fresh = provider_token(&sub, Some("s2"), now());
    let someone_else = provider_token("bob", None, now() - 250);
    // Our own user of the same name.
    let ours = auth.issue_access(&TokenRequest::new(&sub)).unwrap();
    auth.revoke(Revocation::external_subject(IDP, &sub, now() - 200))
        .await
        .unwrap();
    assert_eq!(status(&app, &old).await, StatusCode::UNAUTHORIZED);
    for t in [&fresh, &someone_else, ours.as_str()] {
        assert_eq!(status(&app, t).await, StatusCode::OK);
    }
    // A later instant moves the cutoff forward: now `fresh` goes too; our own user of
    // that name still stands.
    auth.revoke(Revocation::external_subject(IDP, &sub, now() + 1))
        .await
        .unwrap();
    assert_eq!(status(&app, &fresh).await, StatusCode::UNAUTHORIZED);
    assert_eq!(status(&app, ours.as_str()).await, StatusCode::OK);
    // Our own revoke-all is unchanged.
    auth.revoke(Revocation::subject(&sub)).await.unwrap();
    assert_eq!(status(&app, ours.as_str()).await, StatusCode::UNAUTHORIZED);
}

/// `Revocation::subject` is for our own users: a provider's user of the same name is
/// checked under its issuer's key, never the raw `sub`, cached or not.
#[tokio::test]
async fn our_revoke_all_never_reaches_a_providers_user_of_the_same_name() {
    let auth = auth_over(None);
    let app = router(&auth);
    let sub = format!("alice-{}", uid());
    let theirs = provider_token(&sub, Some("s1"), now() - 10);
    let theirs_uncached = provider_token(&sub, None, now() - 10);
    let ours = auth.issue_access(&TokenRequest::new(&sub)).unwrap();
    for t in [&theirs, ours.as_str()] {
        assert_eq!(status(&app, t).await, StatusCode::OK);
    }
    auth.revoke(Revocation::subject(&sub)).await.unwrap();
    assert_eq!(status(&app, ours.as_str()).await, StatusCode::UNAUTHORIZED);
    for t in [&theirs, &theirs_uncached] {
        assert_eq!(status(&app, t).await, StatusCode::OK);
        auth.validate::<NoCustomClaims>(t, TokenCheck::ACCESS)
            .await
            .unwrap();
    }
}

/// Revoking one provider token counts it against the subject its checks use: in a full
/// bounded store (where a revocation becomes a cutoff of its holder) the provider's user
/// is cut off, and our own user of the same name is not.
#[tokio::test]
async fn revoking_a_provider_token_in_a_full_store_cuts_off_that_providers_user_not_ours() {
    let store = Arc::new(MemoryRevocationStore::with_capacity(1));
    let auth = auth_over(Some(store));
    let app = router(&auth);
    let sub = format!("alice-{}", uid());
    let filler = auth.issue_access(&TokenRequest::new("someone")).unwrap();
    auth.revoke(Revocation::token(filler.as_str()))
        .await
        .unwrap();
    let theirs = provider_token(&sub, None, now() - 10);
    let ours = auth.issue_access(&TokenRequest::new(&sub)).unwrap();
    auth.revoke(Revocation::token(theirs.as_str()))
        .await
        .unwrap();
    assert_eq!(status(&app, &theirs).await, StatusCode::UNAUTHORIZED);
    assert_eq!(status(&app, ours.as_str()).await, StatusCode::OK);
}

/// A session whose login went through the provider (`TokenRequest::provider_session`)
/// ends with that provider session: its access tokens are refused by the layer and its
/// refresh token no longer rotates, before and after a refresh; another session of the
/// same user goes on.
#[tokio::test]
async fn a_session_started_from_a_provider_login_ends_with_that_provider_session() {
    let auth = auth_over(None);
    let sessions = Sessions::builder(auth.clone(), MemoryRefreshStore::new())
        .build()
        .unwrap();
    let app = router(&auth);
    let user = format!("u-{}", uid());
    let sid = format!("sid-{}", uid());
    let linked = sessions
        .login(&TokenRequest::new(&user).provider_session(IDP, &sid), None)
        .await
        .unwrap();
    let other = sessions
        .login(
            &TokenRequest::new(&user).provider_session(IDP, "another-sid"),
            None,
        )
        .await
        .unwrap();
    let plain = sessions
        .login(&TokenRequest::new(&user), None)
        .await
        .unwrap();
    // Every token of the session carries the link, a refresh's successors too.
    let refreshed = sessions
        .refresh(linked.pair.refresh.as_str(), None)
        .await
        .unwrap();
    for t in [
        &linked.pair.access,
        &linked.pair.refresh,
        &refreshed.pair.access,
        &refreshed.pair.refresh,
    ] {
        assert_eq!(
            payload(t.as_str())[PROVIDER_SESSION_CLAIM],
            json!({"iss": IDP, "sid": sid}),
        );
    }
    assert!(
        payload(plain.pair.access.as_str())
            .get(PROVIDER_SESSION_CLAIM)
            .is_none()
    );
    for t in [
        &refreshed.pair.access,
        &other.pair.access,
        &plain.pair.access,
    ] {
        assert_eq!(status(&app, t.as_str()).await, StatusCode::OK);
    }

    auth.revoke(Revocation::external_session(IDP, &sid))
        .await
        .unwrap();
    // Refused by the layer (the cached verdict included) and by `validate`.
    assert_eq!(
        status(&app, refreshed.pair.access.as_str()).await,
        StatusCode::UNAUTHORIZED
    );
    assert!(matches!(
        auth.validate::<NoCustomClaims>(refreshed.pair.access.as_str(), TokenCheck::ACCESS)
            .await,
        Err(VerifyError::InvalidToken(InvalidToken::Revoked))
    ));
    match sessions
        .refresh(refreshed.pair.refresh.as_str(), None)
        .await
    {
        Err(SessionError::InvalidToken(InvalidToken::Revoked)) => {}
        other => panic!("the ended session's refresh must be refused, got {other:?}"),
    }
    // The same provider session at another issuer, another provider session, and a
    // session without a provider: untouched.
    auth.revoke(Revocation::external_session(
        "https://other.example",
        "another-sid",
    ))
    .await
    .unwrap();
    for t in [&other.pair.access, &plain.pair.access] {
        assert_eq!(status(&app, t.as_str()).await, StatusCode::OK);
    }
    for s in [&other, &plain] {
        sessions
            .refresh(s.pair.refresh.as_str(), None)
            .await
            .unwrap();
    }
}

/// The link is checked when issued, and is ours alone to write: a custom claim of that
/// name is refused, and a provider token carrying one links nothing.
#[tokio::test]
async fn a_provider_session_link_is_checked_and_reserved() {
    let auth = auth_over(None);
    for r in [
        TokenRequest::new("alice").provider_session("", "s"),
        TokenRequest::new("alice").provider_session(IDP, "a\nb"),
        TokenRequest::new("alice").provider_session(IDP, "x".repeat(256)),
    ] {
        assert!(matches!(
            auth.issue_access(&r),
            Err(IssueError::Empty(_) | IssueError::ControlCharacters(_) | IssueError::TooLong(_))
        ));
    }
    // `from_claims` copies the link from raw claims (a new token of the same login).
    let linked = auth
        .issue_access(&TokenRequest::new("alice").provider_session(IDP, "s"))
        .unwrap();
    let raw = auth
        .validate::<serde_json::Map<String, Value>>(linked.as_str(), TokenCheck::ACCESS)
        .await
        .unwrap();
    let again = auth.issue_access(&TokenRequest::from_claims(&raw)).unwrap();
    assert_eq!(
        payload(again.as_str())[PROVIDER_SESSION_CLAIM],
        json!({"iss": IDP, "sid": "s"})
    );
    let custom = TokenRequest::new("alice")
        .claims(&json!({ PROVIDER_SESSION_CLAIM: {"iss": IDP, "sid": "s"} }));
    assert!(matches!(
        auth.issue_access(&custom),
        Err(IssueError::ReservedClaim(_))
    ));
    // A provider token naming one of our links: dropped, so its session's logout
    // leaves it alone (its own `sid` is what counts).
    let mut h = Header::new(jsonwebtoken::Algorithm::RS256);
    h.kid = Some("a1".into());
    let t = raw_token(
        &h,
        &json!({"iss": IDP, "sub": "alice", "aud": "orders-api", "iat": now() - 10,
                "exp": now() + 300, PROVIDER_SESSION_CLAIM: {"iss": IDP, "sid": "linked"}}),
        &EncodingKey::from_rsa_pem(PRIVATE.as_bytes()).unwrap(),
    );
    auth.revoke(Revocation::external_session(IDP, "linked"))
        .await
        .unwrap();
    let claims = auth
        .validate::<serde_json::Map<String, Value>>(&t, TokenCheck::ACCESS)
        .await
        .unwrap();
    assert!(claims.custom.get(PROVIDER_SESSION_CLAIM).is_none());
}

/// The memory store seen as a remote one (no local answer: every check awaited), noting
/// the subjects each check asked about. Delegates every write and read to the real store.
#[derive(Default)]
struct Remote {
    store: MemoryRevocationStore,
    asked: std::sync::Mutex<Vec<String>>,
}

#[axum_token_auth::async_trait]
impl RevocationStore for Remote {
    async fn revoke(&self, digest: TokenDigest, expires_at: u64) -> Result<(), StoreError> {
        self.store.revoke(digest, expires_at).await
    }
    async fn is_revoked(&self, digest: &TokenDigest) -> Result<bool, StoreError> {
        self.store.is_revoked(digest).await
    }
    async fn check(&self, token: &RevocationCheck<'_>) -> Result<bool, StoreError> {
        self.asked.lock().unwrap().push(token.subject.to_owned());
        self.store.check(token).await
    }
    fn check_now(&self, _: &RevocationCheck<'_>) -> Option<Result<bool, StoreError>> {
        None
    }
}

#[axum_token_auth::async_trait]
impl SubjectRevocation for Remote {
    async fn revoke_all_for(&self, subject: &str, at: u64) -> Result<u64, StoreError> {
        self.store.revoke_all_for(subject, at).await
    }
    async fn subject_cutoff(&self, subject: &str) -> Result<SubjectCutoff, StoreError> {
        self.store.subject_cutoff(subject).await
    }
    async fn revoke_for(
        &self,
        subject: &str,
        digest: TokenDigest,
        expires_at: u64,
    ) -> Result<(), StoreError> {
        self.store.revoke_for(subject, digest, expires_at).await
    }
}

/// What a request costs a store without a local answer: one lookup for our own token
/// (digest and subject together), one for a provider token without `sid` (digest and its
/// issuer's subject key, never the raw `sub`), two with a `sid`, two for one of ours
/// linked to a provider session; cached or not.
#[tokio::test]
async fn a_provider_token_costs_at_most_two_lookups_and_never_asks_about_the_raw_sub() {
    use axum_token_auth::store::external_revocation::{session_key, subject_key};
    let store = Arc::new(Remote::default());
    let auth = auth_over(Some(store.clone()));
    let app = router(&auth);
    let ours = auth.issue_access(&TokenRequest::new("alice")).unwrap();
    let linked = auth
        .issue_access(&TokenRequest::new("alice").provider_session(IDP, "s1"))
        .unwrap();
    let cases = [
        (ours.as_str().to_owned(), vec!["alice".to_owned()]),
        (
            provider_token("alice", None, now()),
            vec![subject_key(IDP, "alice")],
        ),
        (
            provider_token("alice", Some("s1"), now()),
            vec![subject_key(IDP, "alice"), session_key(IDP, "s1")],
        ),
        (
            linked.as_str().to_owned(),
            vec!["alice".to_owned(), session_key(IDP, "s1")],
        ),
    ];
    for (token, expected) in cases {
        // A miss, then a hit of the verified-token cache.
        for _ in 0..2 {
            store.asked.lock().unwrap().clear();
            assert_eq!(status(&app, &token).await, StatusCode::OK);
            assert_eq!(*store.asked.lock().unwrap(), expected);
        }
    }
}

fn payload(token: &str) -> Value {
    use base64::Engine as _;
    let part = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test]
async fn an_issuer_sid_or_sub_that_cannot_be_one_is_refused_and_nothing_is_stored() {
    let auth = auth_over(None);
    for r in [
        Revocation::external_session("", "s"),
        Revocation::external_session(IDP, ""),
        Revocation::external_session(IDP, "a\nb"),
        Revocation::external_subject(IDP, "alice\u{1}", now()),
        Revocation::external_subject(IDP, &"x".repeat(256), now()),
    ] {
        assert_eq!(
            auth.revoke(r).await,
            Err(RevokeError::Invalid(InvalidToken::InvalidClaims))
        );
    }
}

/// A provider token whose `sid` is not a valid id is accepted, as having no session: a
/// revocation of a session cannot name it, and its subject's revocation still reaches it.
#[tokio::test]
async fn an_odd_sid_reads_as_no_session() {
    let auth = auth_over(None);
    let sub = format!("u-{}", uid());
    let mut h = Header::new(jsonwebtoken::Algorithm::RS256);
    h.kid = Some("a1".into());
    let odd = |sid: Value| {
        raw_token(
            &h,
            &json!({"iss": IDP, "sub": sub, "aud": "orders-api", "iat": now() - 10,
                    "exp": now() + 300, "sid": sid}),
            &EncodingKey::from_rsa_pem(PRIVATE.as_bytes()).unwrap(),
        )
    };
    let tokens = [odd(json!(42)), odd(json!("a\u{1}b")), odd(json!(""))];
    auth.revoke(Revocation::external_session(IDP, "42"))
        .await
        .unwrap();
    for t in &tokens {
        auth.validate::<NoCustomClaims>(t, TokenCheck::ACCESS)
            .await
            .unwrap();
    }
    auth.revoke(Revocation::external_subject(IDP, &sub, now()))
        .await
        .unwrap();
    for t in &tokens {
        assert!(matches!(
            auth.validate::<NoCustomClaims>(t, TokenCheck::ACCESS).await,
            Err(VerifyError::InvalidToken(InvalidToken::Revoked))
        ));
    }
}

/// Applied through `a`, refused by `b` (another instance over the same store): returns
/// the delay from the revocation's return to `b`'s first refusal, for the session and
/// the subject revocation.
async fn across(a: TokenAuth, b: TokenAuth, store: &str) {
    let sid = format!("sid-{}", uid());
    let sub = format!("u-{}", uid());
    let in_session = provider_token("alice", Some(&sid), now());
    let other_session = provider_token("alice", Some("other"), now());
    let of_subject = provider_token(&sub, None, now() - 100);
    let ours = b.issue_access(&TokenRequest::new(&sub)).unwrap();
    let app = router(&b);
    for t in [&in_session, &other_session, &of_subject, ours.as_str()] {
        assert_eq!(status(&app, t).await, StatusCode::OK, "{store}");
    }
    for (revocation, token) in [
        (Revocation::external_session(IDP, &sid), &in_session),
        (
            Revocation::external_subject(IDP, &sub, now() - 50),
            &of_subject,
        ),
    ] {
        a.revoke(revocation).await.unwrap();
        let t0 = Instant::now();
        while status(&app, token).await == StatusCode::OK {
            assert!(
                t0.elapsed() < Duration::from_secs(2),
                "{store}: not refused by the other instance within 2 s"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        println!(
            "{store}: external revocation applied on one instance, refused by the other after {:?}",
            t0.elapsed()
        );
    }
    for t in [&other_session, ours.as_str()] {
        assert_eq!(status(&app, t).await, StatusCode::OK, "{store}");
    }
}

#[cfg(feature = "redis")]
mod redis_stores {
    use super::*;
    use axum_token_auth::store::redis::{RedisSettings, RedisStore};

    async fn ready(s: RedisStore) -> Arc<dyn SubjectRevocation> {
        assert!(
            s.wait_for_cache(Duration::from_secs(10)).await,
            "cache never synced"
        );
        Arc::new(s)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_revocation_on_one_instance_is_enforced_by_another_over_redis() {
        let url = std::env::var("REDIS_URL").expect("REDIS_URL: run through scripts/test.sh");
        let prefix = RedisSettings::default().prefix(format!("ext{}:", uid()));
        let open = || async {
            ready(
                RedisStore::connect_with(&url, prefix.clone())
                    .await
                    .unwrap(),
            )
            .await
        };
        let (a, b) = (open().await, open().await);
        across(auth_over(Some(a)), auth_over(Some(b)), "redis").await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_revocation_on_one_instance_is_enforced_by_another_over_redis_cluster() {
        let nodes: Vec<String> = std::env::var("REDIS_CLUSTER_NODES")
            .expect("REDIS_CLUSTER_NODES: run through scripts/test.sh")
            .split(',')
            .map(str::to_owned)
            .collect();
        let prefix = RedisSettings::default().prefix(format!("ext{}:", uid()));
        let open = || async {
            ready(
                RedisStore::connect_cluster(&nodes, prefix.clone())
                    .await
                    .unwrap(),
            )
            .await
        };
        let (a, b) = (open().await, open().await);
        across(auth_over(Some(a)), auth_over(Some(b)), "redis cluster").await;
    }
}

#[cfg(feature = "postgres")]
mod postgres_stores {
    use super::*;
    use axum_token_auth::store::postgres::PostgresStore;

    async fn open() -> PostgresStore {
        let url = std::env::var("DATABASE_URL").expect("DATABASE_URL: run through scripts/test.sh");
        let s = PostgresStore::connect(&url).await.unwrap();
        s.migrate().await.unwrap();
        assert!(
            s.wait_for_cache(Duration::from_secs(10)).await,
            "cache never synced"
        );
        s
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_revocation_on_one_instance_is_enforced_by_another_over_postgres() {
        let (a, b) = (open().await, open().await);
        across(
            auth_over(Some(Arc::new(a))),
            auth_over(Some(Arc::new(b))),
            "postgres",
        )
        .await;
    }

    /// A store that cannot answer: the revocation is an error the caller can turn into a
    /// retryable 503 (`StoreError::Unavailable`), nothing is half-applied, and the retry
    /// through a live instance takes effect.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn with_the_store_down_the_revocation_is_a_retryable_error_and_nothing_is_lost() {
        let down = open().await;
        let pool = down.pool().clone();
        let a = auth_over(Some(Arc::new(down)));
        let b = auth_over(Some(Arc::new(open().await)));
        pool.close().await;
        let sid = format!("sid-{}", uid());
        let t = provider_token("alice", Some(&sid), now());
        match a.revoke(Revocation::external_session(IDP, &sid)).await {
            Err(RevokeError::Store(axum_token_auth::store::StoreError::Unavailable(_))) => {}
            other => panic!("expected a store outage, got {other:?}"),
        }
        let app = router(&b);
        assert_eq!(status(&app, &t).await, StatusCode::OK);
        b.revoke(Revocation::external_session(IDP, &sid))
            .await
            .unwrap();
        assert_eq!(status(&app, &t).await, StatusCode::UNAUTHORIZED);
    }
}
