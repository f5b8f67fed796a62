//! [`EventKind`]: the event types the receivers know, by their URIs, and what each one
//! does ([`Effect`]): the table of the [`events`](crate::trust::events) module docs,
//! decided here once.

/// The OpenID Connect Back-Channel Logout 1.0 event.
pub const BACKCHANNEL_LOGOUT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// The prefix of CAEP event types (OpenID Continuous Access Evaluation Profile 1.0).
pub const CAEP: &str = "https://schemas.openid.net/secevent/caep/event-type/";
/// The prefix of RISC event types (OpenID RISC Profile 1.0).
pub const RISC: &str = "https://schemas.openid.net/secevent/risc/event-type/";
/// The SSF stream verification event.
pub const SSF_VERIFICATION: &str =
    "https://schemas.openid.net/secevent/ssf/event-type/verification";

/// What an event is about, by its type URI.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventKind {
    /// OIDC Back-Channel Logout: the provider's session (`sid`), or every session of the
    /// subject, ended.
    BackchannelLogout,
    /// CAEP `session-revoked`: a session (or, without one, every session of the subject)
    /// was revoked.
    SessionRevoked,
    /// CAEP `credential-change`: a credential was created, changed or revoked.
    CredentialChange,
    /// CAEP `token-claims-change`: claims in the subject's tokens changed.
    TokenClaimsChange,
    /// CAEP `assurance-level-change`: the subject's authentication assurance changed.
    AssuranceLevelChange,
    /// RISC `account-disabled`.
    AccountDisabled,
    /// RISC `account-purged`.
    AccountPurged,
    /// RISC `sessions-revoked`.
    SessionsRevoked,
    /// RISC `credential-compromise`.
    CredentialCompromise,
    /// SSF `verification`: the transmitter checks the stream; nothing to do.
    Verification,
    /// Any other type (acknowledged and ignored, RFC 8417 §2.2).
    Other(String),
}

/// What an event of a kind does to the tokens of its subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Effect {
    /// The session named, else every token of the subject issued up to the event.
    EndSession,
    /// Every token of the subject issued up to the event.
    RevokeSubject,
    /// Cached verdicts are redone (the claims behind them changed).
    Reverify,
    /// Nothing.
    None,
}

impl EventKind {
    /// The kind of the event type `uri`.
    pub fn of(uri: &str) -> Self {
        if uri == BACKCHANNEL_LOGOUT {
            return EventKind::BackchannelLogout;
        }
        if uri == SSF_VERIFICATION {
            return EventKind::Verification;
        }
        if let Some(name) = uri.strip_prefix(CAEP) {
            match name {
                "session-revoked" => return EventKind::SessionRevoked,
                "credential-change" => return EventKind::CredentialChange,
                "token-claims-change" => return EventKind::TokenClaimsChange,
                "assurance-level-change" => return EventKind::AssuranceLevelChange,
                _ => {}
            }
        }
        if let Some(name) = uri.strip_prefix(RISC) {
            match name {
                "account-disabled" => return EventKind::AccountDisabled,
                "account-purged" => return EventKind::AccountPurged,
                "sessions-revoked" => return EventKind::SessionsRevoked,
                "credential-compromise" => return EventKind::CredentialCompromise,
                _ => {}
            }
        }
        EventKind::Other(uri.to_owned())
    }

    /// A fixed name (a metric label and a log field; `other` for every unknown type).
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::BackchannelLogout => "backchannel_logout",
            EventKind::SessionRevoked => "session_revoked",
            EventKind::CredentialChange => "credential_change",
            EventKind::TokenClaimsChange => "token_claims_change",
            EventKind::AssuranceLevelChange => "assurance_level_change",
            EventKind::AccountDisabled => "account_disabled",
            EventKind::AccountPurged => "account_purged",
            EventKind::SessionsRevoked => "sessions_revoked",
            EventKind::CredentialCompromise => "credential_compromise",
            EventKind::Verification => "verification",
            EventKind::Other(_) => "other",
        }
    }

    /// The instant up to which a subject revocation of this kind refuses tokens: when
    /// the event happened (`event_time`), or, when the account itself is gone or
    /// compromised, the token's `iat` (nothing issued before the provider said so
    /// survives, however old its `event_timestamp`).
    pub(crate) fn cutoff(&self, event_time: u64, iat: u64) -> u64 {
        match self {
            EventKind::AccountDisabled
            | EventKind::AccountPurged
            | EventKind::CredentialCompromise => iat,
            _ => event_time,
        }
    }

    pub(crate) fn effect(&self) -> Effect {
        match self {
            EventKind::BackchannelLogout | EventKind::SessionRevoked => Effect::EndSession,
            EventKind::CredentialChange
            | EventKind::AccountDisabled
            | EventKind::AccountPurged
            | EventKind::SessionsRevoked
            | EventKind::CredentialCompromise => Effect::RevokeSubject,
            EventKind::TokenClaimsChange | EventKind::AssuranceLevelChange => Effect::Reverify,
            EventKind::Verification | EventKind::Other(_) => Effect::None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_type_has_its_effect() {
        let caep = |n: &str| EventKind::of(&format!("{CAEP}{n}")).effect();
        let risc = |n: &str| EventKind::of(&format!("{RISC}{n}")).effect();
        assert_eq!(
            EventKind::of(BACKCHANNEL_LOGOUT).effect(),
            Effect::EndSession
        );
        assert_eq!(caep("session-revoked"), Effect::EndSession);
        assert_eq!(caep("credential-change"), Effect::RevokeSubject);
        assert_eq!(caep("token-claims-change"), Effect::Reverify);
        assert_eq!(caep("assurance-level-change"), Effect::Reverify);
        assert_eq!(caep("device-compliance-change"), Effect::None);
        assert_eq!(risc("account-disabled"), Effect::RevokeSubject);
        assert_eq!(risc("account-purged"), Effect::RevokeSubject);
        assert_eq!(risc("sessions-revoked"), Effect::RevokeSubject);
        assert_eq!(risc("account-enabled"), Effect::None);
        assert_eq!(EventKind::of(SSF_VERIFICATION).effect(), Effect::None);
        // A type of another prefix that ends like a known one is unknown.
        assert_eq!(
            EventKind::of("https://evil.example/caep/event-type/session-revoked").name(),
            "other"
        );
    }
}
