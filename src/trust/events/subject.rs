//! [`EventSubject`]: whom an event is about, read from a logout token's `sub` / `sid` or
//! a SET's RFC 9493 subject identifier (`iss_sub`, `opaque`, `email`, `complex` with
//! `user` and `session`, `aliases`), in the transmitter's namespace.

use serde_json::{Map, Value};

use crate::token::issue::is_valid_id;
use crate::trust::events::error::EventError;

/// Whom an event is about, in the namespace of the issuer that sent it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct EventSubject {
    /// The issuer's subject (`sub`): from a logout token's `sub`, an `iss_sub` identifier
    /// of the transmitter, an `opaque` identifier, or a `complex` one's `user`.
    pub sub: Option<String>,
    /// The issuer's session (`sid`): from a logout token's `sid` or a `complex`
    /// identifier's `session`.
    pub sid: Option<String>,
    /// An `email` identifier: not mapped to tokens (a provider's `sub` is rarely its
    /// email); the [hook](crate::trust::events::SecurityEventHook) may act on it.
    pub email: Option<String>,
}

/// How deep `complex` and `aliases` identifiers may nest.
const MAX_DEPTH: usize = 3;

impl EventSubject {
    /// The subject of a logout token: its `sub` and `sid` claims.
    pub(crate) fn of_logout(claims: &Map<String, Value>) -> Result<Self, EventError> {
        Ok(EventSubject {
            sub: id_claim(claims.get("sub"), "sub")?,
            sid: id_claim(claims.get("sid"), "sid")?,
            email: None,
        })
    }

    /// The subject of one event of a SET from `transmitter`: the event's own `subject`,
    /// else the SET's `sub_id`, else its `sub`.
    pub(crate) fn of_set(
        event: &Map<String, Value>,
        set: &Map<String, Value>,
        transmitter: &str,
    ) -> Result<Self, EventError> {
        let mut subject = EventSubject::default();
        match event.get("subject").or_else(|| set.get("sub_id")) {
            Some(id) => subject.read(id, transmitter, 0)?,
            None => subject.sub = id_claim(set.get("sub"), "sub")?,
        }
        Ok(subject)
    }

    /// Reads one RFC 9493 identifier into `self`.
    fn read(&mut self, id: &Value, transmitter: &str, depth: usize) -> Result<(), EventError> {
        let id = id.as_object().ok_or(EventError::InvalidRequest(
            "a subject identifier is not an object",
        ))?;
        if depth > MAX_DEPTH {
            return Err(EventError::InvalidRequest(
                "subject identifiers nest too deep",
            ));
        }
        let member = |name: &'static str| id_claim(id.get(name), name);
        match id.get("format").and_then(Value::as_str) {
            Some("iss_sub") => {
                let iss = member("iss")?.ok_or(MISSING)?;
                if iss != transmitter {
                    return Err(EventError::AccessDenied);
                }
                self.sub = Some(member("sub")?.ok_or(MISSING)?);
            }
            Some("opaque") => self.sub = Some(member("id")?.ok_or(MISSING)?),
            Some("email") => {
                self.email = Some(
                    id.get("email")
                        .and_then(Value::as_str)
                        .filter(|e| is_valid_id(e))
                        .ok_or(MISSING)?
                        .to_owned(),
                )
            }
            Some("complex") => {
                if let Some(user) = id.get("user") {
                    self.read(user, transmitter, depth + 1)?;
                }
                if let Some(session) = id.get("session") {
                    let mut s = EventSubject::default();
                    s.read(session, transmitter, depth + 1)?;
                    // A session identifier is opaque: its id is the provider's `sid`.
                    self.sid = s.sub;
                }
            }
            Some("aliases") => {
                // Several names of one subject: the transmitter's `iss_sub` wins over an
                // `opaque` id (whichever comes first); another issuer's name is skipped,
                // not refused (RFC 9493 §3.2.1 lets aliases span issuers).
                let all = id
                    .get("identifiers")
                    .and_then(Value::as_array)
                    .ok_or(MISSING)?;
                let (mut by_iss_sub, mut by_other) = (None, None);
                for alias in all {
                    let mut a = EventSubject::default();
                    match a.read(alias, transmitter, depth + 1) {
                        Err(EventError::AccessDenied) => continue,
                        other => other?,
                    }
                    if let Some(sub) = a.sub {
                        if alias.get("format").and_then(Value::as_str) == Some("iss_sub") {
                            by_iss_sub.get_or_insert(sub);
                        } else {
                            by_other.get_or_insert(sub);
                        }
                    }
                    self.sid = self.sid.take().or(a.sid);
                    self.email = self.email.take().or(a.email);
                }
                if let Some(sub) = by_iss_sub.or(by_other) {
                    self.sub = Some(sub);
                }
            }
            // `account`, `did`, `phone_number`, `uri` and formats to come: kept for the
            // hook, mapped to nothing.
            Some(_) => {}
            None => {
                return Err(EventError::InvalidRequest(
                    "a subject identifier has no format",
                ));
            }
        }
        Ok(())
    }
}

const MISSING: EventError = EventError::InvalidRequest("a subject identifier misses a member");

/// An optional id claim: absent is `None`; present, it must be a string id (1–255 bytes,
/// no control characters).
fn id_claim(v: Option<&Value>, _name: &'static str) -> Result<Option<String>, EventError> {
    match v {
        None => Ok(None),
        Some(Value::String(s)) if is_valid_id(s) => Ok(Some(s.clone())),
        Some(_) => Err(EventError::InvalidRequest(
            "a subject or session id is not a valid string",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn of(set: Value) -> Result<EventSubject, EventError> {
        let set = set.as_object().unwrap().clone();
        EventSubject::of_set(&Map::new(), &set, "https://idp")
    }

    #[test]
    fn rfc_9493_formats_map_to_sub_and_sid() {
        let s = of(json!({"sub_id": {"format": "iss_sub", "iss": "https://idp", "sub": "u1"}}));
        assert_eq!(s.unwrap().sub.as_deref(), Some("u1"));
        let s = of(json!({"sub_id": {"format": "opaque", "id": "u2"}})).unwrap();
        assert_eq!(s.sub.as_deref(), Some("u2"));
        let s = of(json!({"sub_id": {"format": "email", "email": "a@b.c"}})).unwrap();
        assert_eq!((s.sub, s.email.as_deref()), (None, Some("a@b.c")));
        let s = of(json!({"sub_id": {"format": "complex",
            "user": {"format": "iss_sub", "iss": "https://idp", "sub": "u3"},
            "session": {"format": "opaque", "id": "s3"}}}))
        .unwrap();
        assert_eq!(
            (s.sub.as_deref(), s.sid.as_deref()),
            (Some("u3"), Some("s3"))
        );
        let s = of(json!({"sub_id": {"format": "phone_number", "phone_number": "+1"}})).unwrap();
        assert_eq!(s, EventSubject::default());
    }

    #[test]
    fn aliases_prefer_the_transmitters_iss_sub_and_skip_other_issuers() {
        let s = of(json!({"sub_id": {"format": "aliases", "identifiers": [
            {"format": "opaque", "id": "internal-7"},
            {"format": "iss_sub", "iss": "https://other", "sub": "elsewhere"},
            {"format": "iss_sub", "iss": "https://idp", "sub": "u1"},
            {"format": "email", "email": "u1@example.com"}]}}))
        .unwrap();
        assert_eq!(s.sub.as_deref(), Some("u1"));
        assert_eq!(s.email.as_deref(), Some("u1@example.com"));
        let s = of(json!({"sub_id": {"format": "aliases", "identifiers": [
            {"format": "iss_sub", "iss": "https://other", "sub": "elsewhere"},
            {"format": "opaque", "id": "internal-7"}]}}))
        .unwrap();
        assert_eq!(s.sub.as_deref(), Some("internal-7"));
        let s = of(json!({"sub_id": {"format": "aliases", "identifiers": [
            {"format": "iss_sub", "iss": "https://other", "sub": "elsewhere"}]}}))
        .unwrap();
        assert_eq!(
            s.sub, None,
            "only another issuer's name: nothing to revoke here"
        );
    }

    #[test]
    fn another_issuers_subject_and_bad_shapes_are_refused() {
        let other =
            of(json!({"sub_id": {"format": "iss_sub", "iss": "https://other", "sub": "u"}}));
        assert_eq!(other, Err(EventError::AccessDenied));
        assert!(of(json!({"sub_id": {"format": "opaque"}})).is_err());
        assert!(of(json!({"sub_id": {"format": "opaque", "id": 7}})).is_err());
        assert!(of(json!({"sub_id": {"format": "opaque", "id": "a\nb"}})).is_err());
        assert!(of(json!({"sub_id": "alice"})).is_err());
        assert!(of(json!({"sub_id": {"id": "x"}})).is_err());
        let deep = json!({"format": "complex", "user": {"format": "complex", "user": {"format": "complex",
            "user": {"format": "complex", "user": {"format": "complex", "user": {"format": "opaque", "id": "u"}}}}}});
        assert!(of(json!({ "sub_id": deep })).is_err());
    }
}
