//! The event receivers (`trust::events`, `http::events`) over a real socket: OIDC
//! back-channel logout tokens and SSF Security Event Tokens of a trusted issuer (signed
//! here with `jsonwebtoken`; the tests against the real OpenID Provider and PyJWT-minted
//! SETs are in `provider_events.rs`), what each event does to the issuer's tokens, every
//! refusal, replays, the hook, and a store that is down.

use crate::common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use axum::Router;
use axum::routing::get;
use axum_token_auth::http::ProtectedResource;
use axum_token_auth::store::memory::MemoryRevocationStore;
use axum_token_auth::store::{
    RevocationCheck, RevocationStore, StoreError, SubjectCutoff, SubjectRevocation, TokenDigest,
};
use axum_token_auth::trust::Issuer;
use axum_token_auth::trust::events::{
    Applied, CAEP, EventKind, HookError, RISC, SecurityEvent, SecurityEventHook, SecurityEvents,
};
use axum_token_auth::{Claims, Key, TokenAuth, TokenRequest, token::Algorithm};
use common::*;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{EncodingKey, Header};
use serde_json::{Value, json};

const IDP: &str = "https://sso.example.com/realms/acme";
const OTHER_IDP: &str = "https://other.example.com";
const CLIENT: &str = "orders-api";
const RESOURCE: &str = "https://orders.example.com";
const PRIVATE: &str = include_str!("../fixtures/rsa2048_private.pem");
const PUBLIC: &str = include_str!("../fixtures/rsa2048_public.pem");
const OTHER_PRIVATE: &str = include_str!("../fixtures/rsa2048_b_private.pem");
const OTHER_PUBLIC: &str = include_str!("../fixtures/rsa2048_b_public.pem");
const LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

fn issuer(iss: &str, public: &str, kid: &str) -> Issuer {
    let key = Key::from_pem(Algorithm::RS256, public)
        .unwrap()
        .with_kid(kid);
    let jwk = serde_json::to_value(key.public_jwk().unwrap()).unwrap();
    let set: JwkSet = serde_json::from_value(json!({ "keys": [jwk] })).unwrap();
    Issuer::jwks(iss, &set).audience(CLIENT)
}

fn sign(typ: Option<&str>, claims: &Value, private: &str, kid: &str) -> String {
    let mut h = Header::new(jsonwebtoken::Algorithm::RS256);
    h.kid = Some(kid.into());
    h.typ = typ.map(str::to_owned);
    raw_token(
        &h,
        claims,
        &EncodingKey::from_rsa_pem(private.as_bytes()).unwrap(),
    )
}

fn uid() -> String {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).unwrap();
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A provider access token for `sub` in session `sid`, issued at `iat`.
fn access(sub: &str, sid: Option<&str>, iat: u64) -> String {
    let mut c = json!({"iss": IDP, "sub": sub, "aud": CLIENT, "iat": iat, "exp": now() + 600, "jti": uid()});
    if let Some(sid) = sid {
        c["sid"] = json!(sid);
    }
    sign(Some("at+jwt"), &c, PRIVATE, "k1")
}

/// Logout token claims (OIDC Back-Channel Logout 1.0 §2.4).
fn logout_claims(sub: Option<&str>, sid: Option<&str>) -> Value {
    let mut c = json!({"iss": IDP, "aud": CLIENT, "iat": now(), "exp": now() + 120, "jti": uid(),
        "events": { LOGOUT_EVENT: {} }});
    if let Some(s) = sub {
        c["sub"] = json!(s);
    }
    if let Some(s) = sid {
        c["sid"] = json!(s);
    }
    c
}

fn logout(claims: &Value) -> String {
    sign(Some("logout+jwt"), claims, PRIVATE, "k1")
}

/// A SET of one event about `subject` (RFC 9493), addressed to the resource.
fn set_claims(event: &str, subject: Value, members: Value) -> Value {
    let mut payload = members;
    payload["subject"] = subject;
    json!({"iss": IDP, "aud": RESOURCE, "iat": now(), "jti": uid(), "events": { event: payload }})
}

fn set(claims: &Value) -> String {
    sign(Some("secevent+jwt"), claims, PRIVATE, "k1")
}

fn iss_sub(sub: &str) -> Value {
    json!({"format": "iss_sub", "iss": IDP, "sub": sub})
}

/// What a transmitter and a client see of an API: its receivers and `/me`, over HTTP.
pub(crate) struct Client {
    pub(crate) base: String,
    pub(crate) http: reqwest::Client,
}

/// An API serving `/me` and the receivers, trusting [`IDP`] and [`OTHER_IDP`].
struct Api {
    client: Client,
    auth: TokenAuth,
}

impl std::ops::Deref for Api {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.client
    }
}

impl Api {
    async fn start(builder: axum_token_auth::TokenAuthBuilder) -> Api {
        let auth = builder
            .trust(issuer(IDP, PUBLIC, "k1"))
            .trust(issuer(OTHER_IDP, OTHER_PUBLIC, "k2"))
            .resource(ProtectedResource::new(RESOURCE))
            .build()
            .unwrap();
        let app = Router::new()
            .route("/me", get(|c: Claims| async move { c.sub.clone() }))
            .layer(auth.layer())
            .merge(auth.web().security_event_routes());
        let addr = spawn_server(app).await;
        Api {
            client: Client::new(format!("http://{addr}")),
            auth,
        }
    }
}

impl Client {
    pub(crate) fn new(base: String) -> Client {
        Client {
            base,
            http: reqwest::Client::new(),
        }
    }

    /// The same, through `http` (its connections).
    pub(crate) fn with(mut self, http: &reqwest::Client) -> Client {
        self.http = http.clone();
        self
    }

    pub(crate) async fn me(&self, token: &str) -> u16 {
        self.http
            .get(format!("{}/me", self.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    pub(crate) async fn logout(&self, token: &str) -> (u16, reqwest::header::HeaderMap, Value) {
        let body = form_urlencoded::Serializer::new(String::new())
            .append_pair("logout_token", token)
            .finish();
        let res = self
            .http
            .post(format!("{}/oidc/backchannel-logout", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        answer(res).await
    }

    pub(crate) async fn push(&self, set: &str) -> (u16, reqwest::header::HeaderMap, Value) {
        self.push_as(set, "application/secevent+jwt").await
    }

    async fn push_as(
        &self,
        set: &str,
        content_type: &str,
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        let res = self
            .http
            .post(format!("{}/ssf/events", self.base))
            .header("content-type", content_type)
            .body(set.to_owned())
            .send()
            .await
            .unwrap();
        answer(res).await
    }
}

async fn answer(res: reqwest::Response) -> (u16, reqwest::header::HeaderMap, Value) {
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let text = res.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
    };
    (status, headers, body)
}

#[tokio::test]
async fn a_back_channel_logout_of_a_session_refuses_its_tokens_and_only_them() {
    let api = Api::start(builder()).await;
    let sid = format!("sid-{}", uid());
    let in_session = access("alice", Some(&sid), now());
    let other_session = access("alice", Some("other-sid"), now());
    let ours = api.auth.issue_access(&TokenRequest::new("alice")).unwrap();
    for t in [&in_session, &other_session, ours.as_str()] {
        assert_eq!(api.me(t).await, 200);
    }
    let (status, headers, body) = api
        .logout(&logout(&logout_claims(Some("alice"), Some(&sid))))
        .await;
    assert_eq!((status, &body), (200, &Value::Null));
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(
        api.me(&in_session).await,
        401,
        "the logged-out session's token"
    );
    for t in [&other_session, ours.as_str()] {
        assert_eq!(api.me(t).await, 200, "another session, and our own alice");
    }
}

#[tokio::test]
async fn a_subject_only_logout_refuses_what_was_issued_before_it_not_after() {
    let api = Api::start(builder()).await;
    // Tokens are compared by `iat` minus the issuer's leeway (30 s here): "before" and
    // "after" are further apart than that.
    let before = access("bob", Some("s1"), now() - 200);
    let other_user = access("carol", None, now() - 200);
    assert_eq!(api.me(&before).await, 200);
    let mut claims = logout_claims(Some("bob"), None);
    claims["iat"] = json!(now() - 100);
    let token = logout(&claims);
    assert_eq!(api.logout(&token).await.0, 200);
    assert_eq!(api.me(&before).await, 401);
    assert_eq!(api.me(&other_user).await, 200);
    // A new login after the logout is accepted; a replay of the logout token is refused
    // and changes nothing (its effect is dated by the event, not by its arrival).
    let after = access("bob", Some("s2"), now());
    assert_eq!(api.me(&after).await, 200);
    let (status, _, body) = api.logout(&token).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_request");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("replayed")
    );
    assert_eq!(api.me(&after).await, 200);
}

#[tokio::test]
async fn bad_logout_tokens_are_400_and_change_nothing() {
    let api = Api::start(builder()).await;
    let sid = format!("sid-{}", uid());
    let token = access("dave", Some(&sid), now() - 5);
    assert_eq!(api.me(&token).await, 200);
    let good = || logout_claims(Some("dave"), Some(&sid));
    let with = |k: &str, v: Value| {
        let mut c = good();
        c[k] = v;
        c
    };
    let without = |k: &str| {
        let mut c = good();
        c.as_object_mut().unwrap().remove(k);
        c
    };
    let forged = {
        // Signed by another key under the trusted kid.
        sign(Some("logout+jwt"), &good(), OTHER_PRIVATE, "k1")
    };
    let cases: Vec<(&str, String)> = vec![
        ("forged signature", forged),
        (
            "another issuer's key, our issuer's iss",
            sign(Some("logout+jwt"), &good(), OTHER_PRIVATE, "k2"),
        ),
        (
            "an untrusted issuer",
            logout(&with("iss", json!("https://evil.example"))),
        ),
        ("a nonce", logout(&with("nonce", json!("n-0S6_WzA2Mj")))),
        (
            "another audience",
            logout(&with("aud", json!("someone-else"))),
        ),
        ("no event", logout(&with("events", json!({})))),
        (
            "another event",
            logout(&with(
                "events",
                json!({format!("{CAEP}session-revoked"): {}}),
            )),
        ),
        (
            "neither sid nor sub",
            logout(&{
                let mut c = without("sub");
                c.as_object_mut().unwrap().remove("sid");
                c
            }),
        ),
        ("no jti", logout(&without("jti"))),
        ("no exp", logout(&without("exp"))),
        (
            "nbf in the future",
            logout(&with("nbf", json!(now() + 3600))),
        ),
        ("no iat", logout(&without("iat"))),
        (
            "iat in the future",
            logout(&with("iat", json!(now() + 3600))),
        ),
        ("too old", logout(&with("iat", json!(now() - 2 * 3600)))),
        ("expired", logout(&with("exp", json!(now() - 600)))),
        (
            "typ of an access token",
            sign(Some("at+jwt"), &good(), PRIVATE, "k1"),
        ),
        (
            "typ of a SET",
            sign(Some("secevent+jwt"), &good(), PRIVATE, "k1"),
        ),
        ("not a JWT", "garbage".into()),
        ("alg none", {
            let t = logout(&good());
            let mut p = t.split('.');
            let (_, payload) = (p.next(), p.next().unwrap());
            format!("eyJhbGciOiJub25lIn0.{payload}.")
        }),
    ];
    for (what, token_) in &cases {
        let (status, headers, body) = api.logout(token_).await;
        assert_eq!(status, 400, "{what}: {body}");
        assert_eq!(body["error"], "invalid_request", "{what}");
        assert!(body["error_description"].is_string(), "{what}");
        assert_eq!(headers["cache-control"], "no-store", "{what}");
        assert_eq!(api.me(&token).await, 200, "{what} changed something");
    }
    // The form itself: no logout_token, two of them, another content type.
    let res = api
        .http
        .post(format!("{}/oidc/backchannel-logout", api.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("other=1")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let res = api
        .http
        .post(format!("{}/oidc/backchannel-logout", api.base))
        .header("content-type", "application/json")
        .body(json!({"logout_token": logout(&good())}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(api.me(&token).await, 200);
    // Another trusted issuer's logout of the same sid is its own: taken, and no token of
    // this issuer is touched.
    let theirs = sign(
        Some("logout+jwt"),
        &{
            let mut c = good();
            c["iss"] = json!(OTHER_IDP);
            c
        },
        OTHER_PRIVATE,
        "k2",
    );
    assert_eq!(api.logout(&theirs).await.0, 200);
    assert_eq!(api.me(&token).await, 200);
    // And the good one works.
    assert_eq!(api.logout(&logout(&good())).await.0, 200);
    assert_eq!(api.me(&token).await, 401);
}

#[tokio::test]
async fn a_logout_token_is_never_accepted_as_an_access_token() {
    let api = Api::start(builder()).await;
    // Its audience is our client id, which is also the access tokens' audience; it has
    // a `sub`, an `exp` and no `typ` (allowed): only its `events` tells it apart.
    let mut h = Header::new(jsonwebtoken::Algorithm::RS256);
    h.kid = Some("k1".into());
    let token = raw_token(
        &h,
        &logout_claims(Some("erin"), Some("s1")),
        &EncodingKey::from_rsa_pem(PRIVATE.as_bytes()).unwrap(),
    );
    assert_eq!(api.me(&token).await, 401);
    let set_token = set(&set_claims(
        &format!("{CAEP}credential-change"),
        iss_sub("erin"),
        json!({}),
    ));
    assert_eq!(api.me(&set_token).await, 401);
}

#[tokio::test]
async fn every_listed_event_does_what_the_table_says() {
    let api = Api::start(builder()).await;
    // Subject-wide events: every token of the subject issued before is refused, a later
    // one and another subject's are not.
    let subject_wide = [
        format!("{CAEP}credential-change"),
        format!("{RISC}account-disabled"),
        format!("{RISC}account-purged"),
        format!("{RISC}sessions-revoked"),
        format!("{RISC}credential-compromise"),
    ];
    for (i, event) in subject_wide.iter().enumerate() {
        let user = format!("user-{i}-{}", uid());
        // Tokens are compared by `iat` minus the issuer's leeway (30 s): the event is
        // 100 s old, this token 200 s, a later login's new.
        let old = access(&user, Some("s"), now() - 200);
        let bystander = access("bystander", None, now() - 200);
        assert_eq!(api.me(&old).await, 200);
        let mut c = set_claims(
            event,
            iss_sub(&user),
            json!({"event_timestamp": now() - 100}),
        );
        // Sent 100 s ago too (account-disabled and its kin revoke up to the SET's iat).
        c["iat"] = json!(now() - 100);
        // RISC puts the subject in the event; SSF 1.0 at the top as `sub_id`: both work.
        if i % 2 == 1 {
            let subject = c["events"][event]
                .as_object_mut()
                .unwrap()
                .remove("subject")
                .unwrap();
            c["sub_id"] = subject;
        }
        let (status, headers, body) = api.push(&set(&c)).await;
        assert_eq!((status, &body), (202, &Value::Null), "{event}");
        assert_eq!(headers["cache-control"], "no-store");
        assert_eq!(api.me(&old).await, 401, "{event}");
        assert_eq!(
            api.me(&access(&user, None, now())).await,
            200,
            "{event}: a later login"
        );
        assert_eq!(api.me(&bystander).await, 200, "{event}");
    }
    // session-revoked with a complex subject: that session only.
    let sid = format!("sid-{}", uid());
    let in_session = access("frank", Some(&sid), now() - 5);
    let other = access("frank", Some("another"), now() - 5);
    let subject = json!({"format": "complex", "user": iss_sub("frank"), "session": {"format": "opaque", "id": sid}});
    let c = set_claims(&format!("{CAEP}session-revoked"), subject, json!({}));
    assert_eq!(api.push(&set(&c)).await.0, 202);
    assert_eq!(api.me(&in_session).await, 401);
    assert_eq!(api.me(&other).await, 200);
    // session-revoked of a user without a session: all of them.
    let c = set_claims(
        &format!("{CAEP}session-revoked"),
        json!({"format": "opaque", "id": "frank"}),
        json!({"event_timestamp": now()}),
    );
    assert_eq!(api.push(&set(&c)).await.0, 202);
    assert_eq!(api.me(&other).await, 401);
    // Claims and assurance changes, unknown events, the verification event, an email
    // subject: acknowledged, no token refused.
    let token = access("grace", Some("s"), now() - 5);
    for (event, subject) in [
        (format!("{CAEP}token-claims-change"), iss_sub("grace")),
        (format!("{CAEP}assurance-level-change"), iss_sub("grace")),
        (format!("{CAEP}device-compliance-change"), iss_sub("grace")),
        (
            "https://schemas.openid.net/secevent/ssf/event-type/verification".to_owned(),
            json!({"format": "opaque", "id": "stream"}),
        ),
        (
            "https://example.com/event/something-new".to_owned(),
            iss_sub("grace"),
        ),
        (
            format!("{RISC}account-disabled"),
            json!({"format": "email", "email": "grace@example.com"}),
        ),
    ] {
        let c = set_claims(&event, subject, json!({}));
        assert_eq!(api.push(&set(&c)).await.0, 202, "{event}");
        assert_eq!(api.me(&token).await, 200, "{event}");
    }
}

#[tokio::test]
async fn bad_sets_get_their_rfc_8935_error_and_change_nothing() {
    let api = Api::start(builder()).await;
    let token = access("heidi", None, now() - 5);
    assert_eq!(api.me(&token).await, 200);
    let event = format!("{CAEP}credential-change");
    let good = || set_claims(&event, iss_sub("heidi"), json!({}));
    let with = |k: &str, v: Value| {
        let mut c = good();
        c[k] = v;
        c
    };
    let without = |k: &str| {
        let mut c = good();
        c.as_object_mut().unwrap().remove(k);
        c
    };
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "forged",
            sign(Some("secevent+jwt"), &good(), OTHER_PRIVATE, "k1"),
            "invalid_key",
        ),
        (
            "unknown kid",
            sign(Some("secevent+jwt"), &good(), PRIVATE, "nope"),
            "invalid_key",
        ),
        (
            "untrusted issuer",
            set(&with("iss", json!("https://evil.example"))),
            "invalid_issuer",
        ),
        (
            "another audience",
            set(&with("aud", json!("https://elsewhere.example"))),
            "invalid_audience",
        ),
        ("no audience", set(&without("aud")), "invalid_audience"),
        (
            "another issuer's subject",
            set(&set_claims(
                &event,
                json!({"format": "iss_sub", "iss": OTHER_IDP, "sub": "heidi"}),
                json!({}),
            )),
            "access_denied",
        ),
        (
            "no typ",
            sign(None, &good(), PRIVATE, "k1"),
            "invalid_request",
        ),
        (
            "typ JWT",
            sign(Some("JWT"), &good(), PRIVATE, "k1"),
            "invalid_request",
        ),
        (
            "a logout token",
            logout(&logout_claims(Some("heidi"), None)),
            "invalid_request",
        ),
        (
            "no events",
            set(&with("events", json!({}))),
            "invalid_request",
        ),
        (
            "an event that is not an object",
            set(&with("events", json!({event.clone(): true}))),
            "invalid_request",
        ),
        ("no jti", set(&without("jti")), "invalid_request"),
        (
            "iat in the future",
            set(&with("iat", json!(now() + 3600))),
            "invalid_request",
        ),
        (
            "a subject without format",
            set(&set_claims(&event, json!({"sub": "heidi"}), json!({}))),
            "invalid_request",
        ),
    ];
    for (what, token_, err) in &cases {
        let (status, headers, body) = api.push(token_).await;
        assert_eq!(status, 400, "{what}: {body}");
        assert_eq!(body["err"], *err, "{what}: {body}");
        assert!(body["description"].is_string(), "{what}");
        assert_eq!(headers["cache-control"], "no-store");
        assert_eq!(api.me(&token).await, 200, "{what} changed something");
    }
    let (status, _, body) = api.push_as(&set(&good()), "application/jwt").await;
    assert_eq!(
        (status, body["err"].as_str()),
        (400, Some("invalid_request"))
    );
    // Replayed: the second delivery is refused.
    let once = set(&good());
    assert_eq!(api.push(&once).await.0, 202);
    assert_eq!(api.me(&token).await, 401);
    let (status, _, body) = api.push(&once).await;
    assert_eq!(
        (status, body["err"].as_str()),
        (400, Some("invalid_request"))
    );
}

/// A memory revocation store that can be switched off (an unreachable backend).
#[derive(Debug, Default)]
struct Flaky {
    inner: MemoryRevocationStore,
    down: AtomicBool,
}

impl Flaky {
    fn up(&self) -> Result<(), StoreError> {
        if self.down.load(Ordering::SeqCst) {
            Err(StoreError::Unavailable("down".into()))
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl RevocationStore for Flaky {
    async fn revoke(&self, d: TokenDigest, exp: u64) -> Result<(), StoreError> {
        self.up()?;
        self.inner.revoke(d, exp).await
    }
    async fn is_revoked(&self, d: &TokenDigest) -> Result<bool, StoreError> {
        self.up()?;
        self.inner.is_revoked(d).await
    }
    async fn check(&self, t: &RevocationCheck<'_>) -> Result<bool, StoreError> {
        self.up()?;
        self.inner.check(t).await
    }
    fn check_now(&self, t: &RevocationCheck<'_>) -> Option<Result<bool, StoreError>> {
        if self.down.load(Ordering::SeqCst) {
            return Some(Err(StoreError::Unavailable("down".into())));
        }
        self.inner.check_now(t)
    }
}

#[async_trait]
impl SubjectRevocation for Flaky {
    async fn revoke_all_for(&self, subject: &str, at: u64) -> Result<u64, StoreError> {
        self.up()?;
        self.inner.revoke_all_for(subject, at).await
    }
    async fn subject_cutoff(&self, subject: &str) -> Result<SubjectCutoff, StoreError> {
        self.up()?;
        self.inner.subject_cutoff(subject).await
    }
    async fn revoke_for(&self, subject: &str, d: TokenDigest, exp: u64) -> Result<(), StoreError> {
        self.up()?;
        self.inner.revoke_for(subject, d, exp).await
    }
}

#[tokio::test]
async fn an_event_while_the_store_is_down_is_503_retry_after_and_applied_on_retry() {
    let store = Arc::new(Flaky::default());
    let api =
        Api::start(builder().revocation_store(Arc::clone(&store) as Arc<dyn SubjectRevocation>))
            .await;
    let sid = format!("sid-{}", uid());
    let token = access("ivan", Some(&sid), now() - 5);
    assert_eq!(api.me(&token).await, 200);
    let logout_token = logout(&logout_claims(None, Some(&sid)));
    let set_token = set(&set_claims(
        &format!("{RISC}account-disabled"),
        iss_sub("ivan"),
        json!({}),
    ));
    store.down.store(true, Ordering::SeqCst);
    let (status, headers, body) = api.logout(&logout_token).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"], "temporarily_unavailable");
    assert!(
        headers["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    let (status, headers, body) = api.push(&set_token).await;
    assert_eq!(status, 503, "{body}");
    assert!(headers.contains_key("retry-after"));
    store.down.store(false, Ordering::SeqCst);
    // Nothing was lost: the same tokens, sent again as a sender retries (503 while the
    // breaker still keeps the store closed), are taken, not refused as replays.
    let mut retries = 0;
    loop {
        match api.logout(&logout_token).await.0 {
            200 => break,
            503 if retries < 100 => retries += 1,
            other => panic!("{other} after {retries} retries"),
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(api.me(&token).await, 401);
    assert_eq!(api.push(&set_token).await.0, 202);
    assert_eq!(api.me(&access("ivan", None, now() - 5)).await, 401);
}

/// Records every event; fails while `failing`.
#[derive(Default)]
struct Recorder {
    seen: Mutex<Vec<SecurityEvent>>,
    failing: AtomicBool,
    calls: AtomicUsize,
}

struct Hook(Arc<Recorder>);

#[async_trait]
impl SecurityEventHook for Hook {
    async fn on_security_event(&self, event: &SecurityEvent) -> Result<(), HookError> {
        self.0.calls.fetch_add(1, Ordering::SeqCst);
        if self.0.failing.load(Ordering::SeqCst) {
            return Err("the local database is down".into());
        }
        self.0.seen.lock().unwrap().push(event.clone());
        Ok(())
    }
}

#[tokio::test]
async fn the_hook_sees_each_event_and_its_failure_makes_the_sender_retry() {
    let hook = Arc::new(Recorder::default());
    let api = Api::start(
        builder().security_events(SecurityEvents::new().on_security_event(Hook(Arc::clone(&hook)))),
    )
    .await;
    let c = set_claims(
        &format!("{RISC}account-disabled"),
        iss_sub("judy"),
        json!({"reason_admin": {"en": "left"}}),
    );
    let token = set(&c);
    hook.failing.store(true, Ordering::SeqCst);
    let (status, headers, _) = api.push(&token).await;
    assert_eq!(status, 503);
    assert!(headers.contains_key("retry-after"));
    hook.failing.store(false, Ordering::SeqCst);
    assert_eq!(api.push(&token).await.0, 202);
    assert_eq!(api.push(&token).await.0, 400, "a replay after success");
    // The failed call and the retry; a replay is refused before anything is done.
    assert_eq!(hook.calls.load(Ordering::SeqCst), 2);
    assert_eq!(hook.seen.lock().unwrap().len(), 1);
    let seen = hook.seen.lock().unwrap();
    let e = &seen[0];
    assert_eq!(e.issuer, IDP);
    assert_eq!(e.kind, EventKind::AccountDisabled);
    assert_eq!(e.subject.sub.as_deref(), Some("judy"));
    assert_eq!(e.jti, c["jti"].as_str().unwrap());
    assert_eq!(e.payload["reason_admin"]["en"], "left");
    assert_eq!(
        e.applied,
        Applied::SubjectRevoked {
            before: c["iat"].as_u64().unwrap()
        }
    );
}

#[tokio::test]
async fn the_handle_receives_events_without_http() {
    let auth = builder()
        .trust(issuer(IDP, PUBLIC, "k1"))
        .resource(ProtectedResource::new(RESOURCE))
        .build()
        .unwrap();
    let sid = format!("sid-{}", uid());
    let events = auth
        .receive_logout_token(&logout(&logout_claims(Some("ken"), Some(&sid))))
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, EventKind::BackchannelLogout);
    assert_eq!(events[0].applied, Applied::SessionRevoked);
    assert_eq!(events[0].subject.sid.as_deref(), Some(sid.as_str()));
    let refused = auth.receive_security_event("x.y.z").await.unwrap_err();
    assert_eq!(refused.err_code(), Some("invalid_request"));
}

/// An event received by instance `a` (over its socket) is enforced by instance `b`
/// (another socket, the same store): the delay from `a`'s answer to `b`'s first refusal
/// is printed (`--nocapture`). The same SET sent to `b` afterwards is a replay.
async fn across(a: &Api, b: &Api, store: &str) {
    let sid = format!("sid-{}", uid());
    let user = format!("u-{}", uid());
    let in_session = access("alice", Some(&sid), now() - 5);
    let of_user = access(&user, None, now() - 200);
    let bystander = access("alice", Some("other"), now() - 5);
    for t in [&in_session, &of_user, &bystander] {
        assert_eq!(b.me(t).await, 200, "{store}");
    }
    let logout_token = logout(&logout_claims(None, Some(&sid)));
    let set_token = set(&set_claims(
        &format!("{RISC}account-disabled"),
        iss_sub(&user),
        json!({"event_timestamp": now() - 100}),
    ));
    for (what, token) in [("logout", &in_session), ("SET", &of_user)] {
        let status = if what == "logout" {
            a.logout(&logout_token).await.0
        } else {
            a.push(&set_token).await.0
        };
        assert!(status == 200 || status == 202, "{store}: {what} {status}");
        let t0 = std::time::Instant::now();
        while b.me(token).await == 200 {
            assert!(
                t0.elapsed() < std::time::Duration::from_secs(1),
                "{store}: {what} not enforced by the other instance within 1 s"
            );
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        println!(
            "{store}: {what} received by one instance, refused by the other after {:?}",
            t0.elapsed()
        );
    }
    assert_eq!(b.me(&bystander).await, 200, "{store}");
    let (status, _, body) = b.push(&set_token).await;
    assert_eq!(
        (status, body["err"].as_str()),
        (400, Some("invalid_request")),
        "{store}: a replay to the other instance"
    );
    assert_eq!(b.logout(&logout_token).await.0, 400, "{store}");
}

#[cfg(feature = "redis")]
mod redis_stores {
    use super::*;
    use axum_token_auth::store::redis::{RedisSettings, RedisStore};

    async fn pair(open: impl AsyncFn() -> RedisStore, store: &str) {
        let mut apis = Vec::new();
        for _ in 0..2 {
            let s = open().await;
            assert!(s.wait_for_cache(std::time::Duration::from_secs(10)).await);
            let s = Arc::new(s);
            apis.push(
                Api::start(
                    builder()
                        .revocation_store(Arc::clone(&s) as Arc<dyn SubjectRevocation>)
                        .security_events(SecurityEvents::new().replay_store_shared(s)),
                )
                .await,
            );
        }
        across(&apis[0], &apis[1], store).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_event_on_one_instance_is_enforced_by_another_over_redis() {
        let url = std::env::var("REDIS_URL").expect("REDIS_URL: run through scripts/test.sh");
        let prefix = RedisSettings::default().prefix(format!("ev{}:", uid()));
        pair(
            async || {
                RedisStore::connect_with(&url, prefix.clone())
                    .await
                    .unwrap()
            },
            "redis",
        )
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_event_on_one_instance_is_enforced_by_another_over_redis_cluster() {
        let nodes: Vec<String> = std::env::var("REDIS_CLUSTER_NODES")
            .expect("REDIS_CLUSTER_NODES: run through scripts/test.sh")
            .split(',')
            .map(str::to_owned)
            .collect();
        let prefix = RedisSettings::default().prefix(format!("ev{}:", uid()));
        pair(
            async || {
                RedisStore::connect_cluster(&nodes, prefix.clone())
                    .await
                    .unwrap()
            },
            "redis cluster",
        )
        .await;
    }
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_on_one_instance_is_enforced_by_another_over_postgres() {
    use axum_token_auth::store::postgres::PostgresStore;
    let url = std::env::var("DATABASE_URL").expect("DATABASE_URL: run through scripts/test.sh");
    let mut apis = Vec::new();
    for _ in 0..2 {
        let s = PostgresStore::connect(&url).await.unwrap();
        s.migrate().await.unwrap();
        assert!(s.wait_for_cache(std::time::Duration::from_secs(10)).await);
        let s = Arc::new(s);
        apis.push(
            Api::start(
                builder()
                    .revocation_store(Arc::clone(&s) as Arc<dyn SubjectRevocation>)
                    .security_events(SecurityEvents::new().replay_store_shared(s)),
            )
            .await,
        );
    }
    across(&apis[0], &apis[1], "postgres").await;
}

#[tokio::test]
async fn the_instant_of_a_subject_revocation_depends_on_the_event() {
    let api = Api::start(builder()).await;
    // credential-change with an event_timestamp in the future: clamped to the SET's iat,
    // so a token issued after the SET (beyond the leeway) is not refused.
    let user = format!("u-{}", uid());
    let old = access(&user, None, now() - 200);
    let mut c = set_claims(
        &format!("{CAEP}credential-change"),
        iss_sub(&user),
        json!({"event_timestamp": now() + 3600}),
    );
    c["iat"] = json!(now() - 100);
    assert_eq!(api.push(&set(&c)).await.0, 202);
    assert_eq!(api.me(&old).await, 401);
    assert_eq!(
        api.me(&access(&user, None, now())).await,
        200,
        "issued after the SET"
    );
    // account-disabled with a very old event_timestamp: every token issued up to the
    // SET's iat is refused all the same.
    let user = format!("u-{}", uid());
    let recent = access(&user, None, now() - 200);
    let mut c = set_claims(
        &format!("{RISC}account-disabled"),
        iss_sub(&user),
        json!({"event_timestamp": 1_000_000}),
    );
    c["iat"] = json!(now() - 100);
    assert_eq!(api.push(&set(&c)).await.0, 202);
    assert_eq!(api.me(&recent).await, 401);
    // credential-change with an old event_timestamp: a login since the change survives.
    let user = format!("u-{}", uid());
    let since = access(&user, None, now() - 200);
    let c = set_claims(
        &format!("{CAEP}credential-change"),
        iss_sub(&user),
        json!({"event_timestamp": now() - 1000}),
    );
    assert_eq!(api.push(&set(&c)).await.0, 202);
    assert_eq!(api.me(&since).await, 200);
}

#[tokio::test]
async fn with_a_client_id_a_logout_token_must_name_it_not_an_access_audience() {
    let auth = builder()
        .trust(issuer(IDP, PUBLIC, "k1").client_id("orders-web"))
        .build()
        .unwrap();
    let sid = format!("sid-{}", uid());
    // The access tokens' audience ("orders-api") may be another client's id at the
    // provider: its logout tokens are not ours.
    let refused = auth
        .receive_logout_token(&logout(&logout_claims(Some("zoe"), Some(&sid))))
        .await
        .unwrap_err();
    assert_eq!(refused.err_code(), Some("invalid_audience"));
    let mut c = logout_claims(Some("zoe"), Some(&sid));
    c["aud"] = json!(["orders-web"]);
    assert_eq!(
        auth.receive_logout_token(&logout(&c)).await.unwrap()[0].applied,
        Applied::SessionRevoked
    );
}

#[test]
fn max_age_is_bounded_at_build() {
    for bad in [
        std::time::Duration::ZERO,
        std::time::Duration::from_secs(8 * 24 * 3600),
    ] {
        let built = builder()
            .security_events(SecurityEvents::new().max_age(bad))
            .build();
        assert!(
            matches!(
                built,
                Err(axum_token_auth::ConfigError::InvalidSecurityEvents(_))
            ),
            "{bad:?}"
        );
    }
}

#[tokio::test]
async fn with_a_push_authorization_a_push_without_it_is_refused_before_its_body_is_read() {
    let api = Api::start(
        builder().security_events(SecurityEvents::new().push_authorization("Bearer s3cr3t-stream")),
    )
    .await;
    let user = format!("u-{}", uid());
    let token = access(&user, None, now() - 200);
    let set_token = set(&set_claims(
        &format!("{RISC}account-disabled"),
        iss_sub(&user),
        json!({}),
    ));
    let push = |auth: Option<&'static str>| {
        let mut req = api
            .http
            .post(format!("{}/ssf/events", api.base))
            .header("content-type", "application/secevent+jwt")
            .body(set_token.clone());
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        async move { answer(req.send().await.unwrap()).await }
    };
    for wrong in [
        None,
        Some("Bearer s3cr3t-strea"),
        Some("Bearer s3cr3t-stream2"),
    ] {
        let (status, _, body) = push(wrong).await;
        assert_eq!(
            (status, body["err"].as_str()),
            (400, Some("authentication_failed")),
            "{wrong:?}"
        );
        assert_eq!(api.me(&token).await, 200, "{wrong:?}");
    }
    assert_eq!(push(Some("Bearer s3cr3t-stream")).await.0, 202);
    assert_eq!(api.me(&token).await, 401);
    // The logout route takes no credential.
    let sid = format!("sid-{}", uid());
    assert_eq!(
        api.logout(&logout(&logout_claims(None, Some(&sid))))
            .await
            .0,
        200
    );
}
