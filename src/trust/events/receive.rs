//! Receiving an event token: verify it, refuse it if its `jti` is recorded, act on each
//! event it carries ([`Applied`]), tell the application's [hook](SecurityEventHook), and
//! only then record the `jti`. A replay is refused before anything is done; a store or
//! hook failure answers 503 with nothing recorded, so the sender's retry does it all
//! again (every effect is idempotent: a revocation of a session or of a subject up to an
//! instant, a cache flush), and two concurrent deliveries of one token act twice, alike.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Map, Value};

use crate::store::replay::{MemoryProofReplay, ProofId, ProofReplay};
use crate::telemetry;
use crate::trust::events::error::EventError;
use crate::trust::events::kind::{Effect, EventKind};
use crate::trust::events::subject::EventSubject;
use crate::trust::events::token::{Carrier, VerifiedEvent};
use crate::trust::revoke::{Revocation, RevokeError};
use crate::trust::verify::{Verifier, numeric_date};

/// What the crate did for one event.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Applied {
    /// Every token of the issuer carrying the session `sid` is refused, and our own
    /// sessions started from it end.
    SessionRevoked,
    /// Every token of the issuer for the subject issued at or before `before` (seconds
    /// since the epoch) is refused.
    SubjectRevoked {
        /// The instant: the event's time (CAEP `event_timestamp`, else the token's `iat`).
        before: u64,
    },
    /// The layers' cached verdicts were dropped: the next request of every token is
    /// verified again (an introspected token is introspected again, so changed claims
    /// are read).
    CachesCleared,
    /// Nothing: an event of a kind that changes no token, or whose subject maps to no
    /// token (an `email` identifier).
    Nothing,
}

/// One event received from a trusted issuer, as the [hook](SecurityEventHook) sees it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SecurityEvent {
    /// The issuer that signed it (a trusted issuer's exact `iss`).
    pub issuer: String,
    /// Its type.
    pub kind: EventKind,
    /// Its type URI, as sent.
    pub event_type: String,
    /// Whom it is about.
    pub subject: EventSubject,
    /// The token's `jti`.
    pub jti: String,
    /// The token's `iat` (seconds since the epoch).
    pub issued_at: u64,
    /// When it happened: CAEP's `event_timestamp` when given (and not after `iat`), else
    /// `iat`.
    pub event_time: u64,
    /// The event's own members (`reason_admin`, `change_type`, `initiating_entity`, …).
    pub payload: Map<String, Value>,
    /// What the crate did.
    pub applied: Applied,
}

/// The error a [`SecurityEventHook`] returns: the event is answered with 503 and its
/// sender retries (the hook is called again).
pub type HookError = Box<dyn std::error::Error + Send + Sync>;

/// The application's say on every event received from a trusted issuer, after the crate
/// applied it (disable a local account, drop a server-side session, audit). Called at
/// least once per event: a failure (or a crash) before the event's `jti` is recorded
/// makes its sender retry, so make it idempotent. A closure `Fn(&SecurityEvent)` is a
/// hook that never fails.
///
/// ```
/// use axum_token_auth::trust::events::{Applied, EventKind, SecurityEvent, SecurityEvents};
///
/// let events = SecurityEvents::new().on_security_event(|e: &SecurityEvent| {
///     if e.kind == EventKind::AccountDisabled {
///         // disable the local account of e.subject.sub …
///     }
///     assert_ne!(e.applied, Applied::Nothing);
/// });
/// # let _ = events;
/// ```
#[async_trait]
pub trait SecurityEventHook: Send + Sync + 'static {
    /// Called for every event of an accepted token, after the crate applied it.
    async fn on_security_event(&self, event: &SecurityEvent) -> Result<(), HookError>;
}

#[async_trait]
impl<F: Fn(&SecurityEvent) + Send + Sync + 'static> SecurityEventHook for F {
    async fn on_security_event(&self, event: &SecurityEvent) -> Result<(), HookError> {
        self(event);
        Ok(())
    }
}

/// Default of [`SecurityEvents::max_age`](crate::trust::events::SecurityEvents::max_age).
pub const DEFAULT_MAX_EVENT_AGE: Duration = Duration::from_secs(60 * 60);
/// The largest [`SecurityEvents::max_age`](crate::trust::events::SecurityEvents::max_age)
/// (7 days): event ids are remembered this long.
pub const MAX_EVENT_AGE: Duration = Duration::from_secs(7 * 24 * 60 * 60);
/// How many event ids the default in-process replay cache holds.
const DEFAULT_EVENT_IDS: usize = 10_000;

/// The receivers' settings, resolved at build.
pub(crate) struct EventSettings {
    pub(crate) ssf_audiences: Vec<String>,
    pub(crate) max_age: u64,
    pub(crate) hook: Option<Arc<dyn SecurityEventHook>>,
    pub(crate) replay: Arc<dyn ProofReplay>,
    /// The `Authorization` a push must carry, when required.
    pub(crate) push_authorization: Option<String>,
}

impl EventSettings {
    pub(crate) fn new(
        ssf_audiences: Vec<String>,
        max_age: Duration,
        hook: Option<Arc<dyn SecurityEventHook>>,
        replay: Option<Arc<dyn ProofReplay>>,
        clock: Arc<dyn crate::token::clock::Clock>,
        push_authorization: Option<String>,
    ) -> Self {
        EventSettings {
            push_authorization,
            ssf_audiences,
            max_age: max_age.as_secs(),
            hook,
            replay: replay.unwrap_or_else(|| {
                Arc::new(MemoryProofReplay::with_capacity(DEFAULT_EVENT_IDS).with_clock(clock))
            }),
        }
    }
}

impl std::fmt::Debug for EventSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventSettings")
            .field("ssf_audiences", &self.ssf_audiences)
            .field("max_age", &self.max_age)
            .field("hook", &self.hook.is_some())
            .finish_non_exhaustive()
    }
}

/// One event of a token: its type URI, its members, its subject.
type OneEvent = (String, Map<String, Value>, EventSubject);

impl Verifier {
    /// Receives a logout token or a SET: verified, applied, told to the hook, its `jti`
    /// recorded. The events it carried, with what was done for each.
    pub(crate) async fn receive_event(
        &self,
        token: &str,
        carrier: Carrier,
    ) -> Result<Vec<SecurityEvent>, EventError> {
        let result = self.receive(token, carrier).await;
        match &result {
            Ok(events) => {
                for e in events {
                    let outcome = if e.applied == Applied::Nothing {
                        "ignored"
                    } else {
                        "applied"
                    };
                    telemetry::security_event(e.kind.name(), outcome);
                    if e.applied != Applied::Nothing {
                        let delay = self.clock.now().saturating_sub(e.issued_at);
                        telemetry::security_event_delay(e.kind.name(), delay as f64);
                    }
                    // The issuer is configuration; subjects and sessions are never logged.
                    tracing::info!(
                        issuer = %e.issuer,
                        event = e.kind.name(),
                        outcome,
                        "security event received"
                    );
                }
            }
            Err(e) => {
                telemetry::security_event("unknown", e.reason());
                tracing::warn!(
                    reason = e.reason(),
                    carrier = ?carrier,
                    "security event refused: {}",
                    e.description()
                );
            }
        }
        result
    }

    async fn receive(
        &self,
        token: &str,
        carrier: Carrier,
    ) -> Result<Vec<SecurityEvent>, EventError> {
        let settings = &self.events;
        let verified = self
            .verify_event_token(token, carrier, &settings.ssf_audiences, settings.max_age)
            .await?;
        let id = ProofId::of(&format!("\nevent\n{}", verified.issuer), &verified.jti);
        match settings.replay.is_recorded(&id).await {
            Ok(false) => {}
            Ok(true) => return Err(EventError::Replayed),
            Err(_) => return Err(EventError::unavailable("the replay store cannot answer")),
        }
        let events = self.events_of(&verified, carrier)?;
        let mut received = Vec::with_capacity(events.len());
        for (event_type, payload, subject) in events {
            let kind = EventKind::of(&event_type);
            let event_time = payload
                .get("event_timestamp")
                .and_then(numeric_date)
                .map_or(verified.iat, |t| t.min(verified.iat));
            let applied = self
                .apply(
                    &verified.issuer,
                    &kind,
                    &subject,
                    kind.cutoff(event_time, verified.iat),
                )
                .await?;
            received.push(SecurityEvent {
                issuer: verified.issuer.to_string(),
                kind,
                event_type,
                subject,
                jti: verified.jti.clone(),
                issued_at: verified.iat,
                event_time,
                payload,
                applied,
            });
        }
        if let Some(hook) = &settings.hook {
            for event in &received {
                hook.on_security_event(event).await.map_err(|e| {
                    tracing::warn!(error = %e, "the security event hook failed: the sender will retry");
                    EventError::unavailable("the application's event hook failed")
                })?;
            }
        }
        // Recorded until the token stops being accepted (the same instant verification
        // computed). `false` here is a concurrent delivery of the same token that
        // recorded it first: both acted alike, both succeed.
        match settings
            .replay
            .first_use(&id, verified.accepted_until)
            .await
        {
            Ok(_) => Ok(received),
            Err(_) => Err(EventError::unavailable("the replay store cannot answer")),
        }
    }

    /// The events of a verified token, each with its members and subject.
    fn events_of(
        &self,
        verified: &VerifiedEvent,
        carrier: Carrier,
    ) -> Result<Vec<OneEvent>, EventError> {
        let events = verified
            .claims
            .get("events")
            .and_then(Value::as_object)
            .ok_or(EventError::InvalidRequest("events is missing"))?;
        match carrier {
            Carrier::Logout => {
                let subject = EventSubject::of_logout(&verified.claims)?;
                if subject.sub.is_none() && subject.sid.is_none() {
                    return Err(EventError::InvalidRequest(
                        "a logout token needs sid or sub",
                    ));
                }
                let uri = crate::trust::events::kind::BACKCHANNEL_LOGOUT;
                let payload = events
                    .get(uri)
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default();
                Ok(vec![(uri.to_owned(), payload, subject)])
            }
            Carrier::Set => events
                .iter()
                .map(|(uri, payload)| {
                    let payload = payload.as_object().cloned().unwrap_or_default();
                    let subject =
                        EventSubject::of_set(&payload, &verified.claims, &verified.issuer)?;
                    Ok((uri.clone(), payload, subject))
                })
                .collect(),
        }
    }

    /// What an event of `kind` about `subject` does (the table of the module docs); a
    /// subject's tokens are refused up to `cutoff` ([`EventKind::cutoff`]).
    async fn apply(
        &self,
        issuer: &str,
        kind: &EventKind,
        subject: &EventSubject,
        cutoff: u64,
    ) -> Result<Applied, EventError> {
        let done = match (kind.effect(), &subject.sid, &subject.sub) {
            (Effect::EndSession, Some(sid), _) => self
                .revoke(Revocation::external_session(issuer, sid))
                .await
                .map(|_| Applied::SessionRevoked),
            (Effect::EndSession | Effect::RevokeSubject, _, Some(sub)) => self
                .revoke(Revocation::external_subject(issuer, sub, cutoff))
                .await
                .map(|_| Applied::SubjectRevoked { before: cutoff }),
            (Effect::Reverify, _, _) => {
                self.trust_epoch.fetch_add(1, Ordering::AcqRel);
                Ok(Applied::CachesCleared)
            }
            _ => Ok(Applied::Nothing),
        };
        done.map_err(|e| match e {
            RevokeError::Store(_) => EventError::unavailable("the revocation store cannot answer"),
            _ => EventError::InvalidRequest("a subject or session id is not a valid id"),
        })
    }
}
