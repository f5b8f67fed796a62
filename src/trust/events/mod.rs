//! Acting on an identity provider's logout and security events: OpenID Connect
//! Back-Channel Logout 1.0 logout tokens and Shared Signals Framework (SSF) Security
//! Event Tokens (RFC 8417, pushed per RFC 8935) with CAEP and RISC events, applied
//! through the revocation every instance already enforces.
//!
//! ```
//! # #[cfg(feature = "oidc")] {
//! use axum::Router;
//! use axum_token_auth::TokenAuth;
//! use axum_token_auth::http::ProtectedResource;
//! use axum_token_auth::trust::Issuer;
//! use axum_token_auth::trust::events::{EventKind, SecurityEvent, SecurityEvents};
//!
//! # fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let auth = TokenAuth::builder()
//!     .trust(Issuer::discover("https://sso.example.com/realms/acme").audience("orders-api"))
//!     .resource(ProtectedResource::new("https://orders.example.com"))
//!     .security_events(SecurityEvents::new().on_security_event(|e: &SecurityEvent| {
//!         if e.kind == EventKind::AccountDisabled { /* disable the local account */ }
//!     }))
//!     .build()?;
//! // POST /oidc/backchannel-logout and POST /ssf/events, outside the layer.
//! let app: Router = Router::new().merge(auth.web().security_event_routes());
//! # let _ = app; Ok(()) }
//! # }
//! ```
//!
//! # What each event does
//!
//! Every effect is on the tokens of the issuer that signed the event (a trusted issuer:
//! its keys, its exact `iss`), in its own key space
//! ([`store::external_revocation`](crate::store::external_revocation)): our own users
//! and other issuers' are never touched.
//!
//! | event | subject | effect ([`Applied`]) |
//! | --- | --- | --- |
//! | back-channel logout, CAEP `session-revoked` | a session (`sid`; a `complex` identifier's `session`) | every token of that session is refused, and our own sessions started from it end ([`SessionRevoked`](Applied::SessionRevoked)) |
//! | the same | a subject only | every token of the subject issued up to the event is refused ([`SubjectRevoked`](Applied::SubjectRevoked)) |
//! | CAEP `credential-change`; RISC `sessions-revoked` | a subject | the same |
//! | RISC `account-disabled`, `account-purged`, `credential-compromise` | a subject | every token of the subject issued up to the SET's `iat`, whatever its `event_timestamp` |
//! | CAEP `token-claims-change`, `assurance-level-change` | any | cached verdicts are dropped, so the next request is verified again and an introspected token re-introspected ([`CachesCleared`](Applied::CachesCleared)); a JWT's claims are what it says until it expires |
//! | SSF `verification`, any other type | any | nothing (acknowledged, RFC 8417 §2.2) |
//!
//! Subjects (RFC 9493): `iss_sub` of the event's issuer and `opaque` are the issuer's
//! `sub`; `complex` reads `user` and `session`; `aliases` reads each identifier; an
//! `iss_sub` of another issuer is refused (`access_denied`); `email` and other formats map
//! to no token (the [hook](SecurityEventHook) sees them). The subject is the event's
//! `subject` member, else the SET's `sub_id`.
//!
//! The instant of a subject revocation is the event's: CAEP `event_timestamp` when given
//! (never after `iat`), else `iat`; tokens the provider issues afterwards (a new login,
//! more than the issuer's leeway later: tokens are compared by `iat` minus the leeway)
//! are accepted. A session revocation is dated by its arrival.
//!
//! # Checks
//!
//! A logout token: `typ` `logout+jwt` (or `JWT`, or none), signed by a trusted issuer's
//! key, `aud` our client id there
//! ([`Issuer::client_id`](crate::trust::Issuer::client_id); without one, one of the
//! issuer's audiences), `iat` within [`max_age`](SecurityEvents::max_age) (default 1 h)
//! and not in the future, `exp` (required) and `nbf` if present, a `jti`, the
//! back-channel logout event, `sid` and/or `sub`, no `nonce`. A
//! SET: `typ` `secevent+jwt`, a trusted issuer's key, `aud` one of the SSF audiences
//! ([`ssf_audience`](SecurityEvents::ssf_audience), default the resource identifier of
//! [`TokenAuthBuilder::resource`](crate::TokenAuthBuilder::resource)), the same times and
//! `jti`, `events`. A `jti` already received is refused as a replay before anything is
//! done. Neither kind is ever accepted as an access token (they carry `events`).
//!
//! # Delivery
//!
//! Each effect is idempotent and the `jti` is recorded last: a store that is down, or a
//! [hook](SecurityEventHook) that fails, answers 503 with `Retry-After`
//! ([`EventError::Unavailable`]), WARN-logged and counted, with nothing recorded. An SSF
//! transmitter retries (RFC 8935), and does it all again. ⚠️ Back-channel logout senders
//! usually do not (oidc-provider and Keycloak send once): a logout refused with 503 is
//! lost unless someone acts on the WARN or on
//! `token_auth_security_events_total{outcome="unavailable"}`; the user's provider tokens
//! then live to their `exp`, as without this receiver.
//!
//! Revocations reach every instance as any revocation does (Redis pub/sub, PostgreSQL
//! `LISTEN/NOTIFY`). [`CachesCleared`](Applied::CachesCleared) clears the verified-token
//! cache of the instance that received the event, for every token (a per-subject key is
//! not kept): each is verified again once, and an introspected one introspected again.
//! Other instances re-read as their cached verdicts expire (at most an introspection's
//! `max_cache_ttl`, 60 s by default).
//!
//! The HTTP side: [`Web::security_event_routes`](crate::http::Web::security_event_routes).
//! Without HTTP: [`TokenAuth::receive_logout_token`](crate::TokenAuth::receive_logout_token)
//! and [`TokenAuth::receive_security_event`](crate::TokenAuth::receive_security_event).

mod error;
mod kind;
mod receive;
mod subject;
mod token;

pub use error::EventError;
pub use kind::{BACKCHANNEL_LOGOUT, CAEP, EventKind, RISC, SSF_VERIFICATION};
pub use receive::{
    Applied, DEFAULT_MAX_EVENT_AGE, HookError, MAX_EVENT_AGE, SecurityEvent, SecurityEventHook,
};
pub use subject::EventSubject;

pub(crate) use receive::EventSettings;
pub(crate) use token::Carrier;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::store::replay::ProofReplay;

/// The receivers' settings, for
/// [`TokenAuthBuilder::security_events`](crate::TokenAuthBuilder::security_events).
/// Without it the receivers still work, with these defaults.
#[derive(Clone, Default)]
#[must_use]
pub struct SecurityEvents {
    pub(crate) ssf_audiences: Vec<String>,
    pub(crate) max_age: Option<Duration>,
    pub(crate) hook: Option<Arc<dyn SecurityEventHook>>,
    pub(crate) replay: Option<Arc<dyn ProofReplay>>,
    pub(crate) push_authorization: Option<String>,
}

impl fmt::Debug for SecurityEvents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecurityEvents")
            .field("ssf_audiences", &self.ssf_audiences)
            .field("max_age", &self.max_age)
            .field("hook", &self.hook.is_some())
            .field("replay", &self.replay.is_some())
            .field("push_authorization", &self.push_authorization.is_some())
            .finish()
    }
}

impl SecurityEvents {
    /// The defaults: SETs addressed to the resource identifier, events up to an hour
    /// old, no hook, event ids remembered in process.
    pub fn new() -> Self {
        Self::default()
    }

    /// An audience a SET must name (repeat for several; replaces the default, the
    /// resource identifier). Without either, every SET is refused (`invalid_audience`).
    pub fn ssf_audience(mut self, audience: impl Into<String>) -> Self {
        self.ssf_audiences.push(audience.into());
        self
    }

    /// How old (by its `iat`) an event may be (default [`DEFAULT_MAX_EVENT_AGE`], 1 h; 1 s
    /// to [`MAX_EVENT_AGE`], 7 days, else a build error): a sender retrying longer is
    /// refused. Event ids are remembered this long.
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = Some(max_age);
        self
    }

    /// The application's hook, called for every event after the crate applied it.
    pub fn on_security_event(mut self, hook: impl SecurityEventHook) -> Self {
        self.hook = Some(Arc::new(hook));
        self
    }

    /// Where received event ids are remembered against replay (default: the DPoP replay
    /// store when one is configured, else an in-process cache of 10,000 ids). Share it
    /// across instances (the Redis or PostgreSQL store) so a replay to another instance
    /// is refused too; without sharing, a replay there re-applies idempotent effects.
    pub fn replay_store(mut self, store: impl ProofReplay) -> Self {
        self.replay = Some(Arc::new(store));
        self
    }

    /// The exact `Authorization` header value an SSF transmitter must send with every
    /// push (the `authorization_header` of its stream's delivery settings, e.g. `Bearer
    /// 6a2f…`): a push without it is refused (400 `authentication_failed`, RFC 8935 §2.4),
    /// before its body is read. Compared in constant time, never logged. The SETs are
    /// signed whatever this says; it keeps strangers from making the receiver verify.
    /// The back-channel logout route is not affected (providers send no credential).
    pub fn push_authorization(mut self, value: impl Into<String>) -> Self {
        self.push_authorization = Some(value.into());
        self
    }

    /// [`replay_store`](Self::replay_store) with a store already shared.
    pub fn replay_store_shared(mut self, store: Arc<dyn ProofReplay>) -> Self {
        self.replay = Some(store);
        self
    }
}
