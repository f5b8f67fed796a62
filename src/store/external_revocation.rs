//! Revocation of an external issuer's tokens by session (`sid`) and by subject issued
//! before an instant: the key space, decided here once.
//!
//! ```
//! use axum_token_auth::store::external_revocation::{session_key, subject_key};
//!
//! let by_session = session_key("https://idp.example", "8f2c-session");
//! let by_subject = subject_key("https://idp.example", "alice");
//! // Neither can be one of our own subjects (those never hold a control character),
//! // nor each other.
//! assert_ne!(by_subject, "alice");
//! assert!(by_session.starts_with('\n') && by_subject.starts_with('\n'));
//! assert_ne!(by_session, by_subject);
//! ```
//!
//! # Design
//!
//! An identity provider says "this session ended" (OIDC Back-Channel Logout, CAEP
//! `session-revoked`) or "everything of this user until now" (a `sub`-only logout,
//! `credential-change`, RISC `account-disabled`). Both are stored as a
//! [subject cutoff](crate::store::SubjectCutoff), the entry every
//! [`SubjectRevocation`](crate::store::SubjectRevocation) store already keeps, replicates
//! (Redis pub/sub, PostgreSQL `LISTEN/NOTIFY`), loads at start and puts behind its
//! breaker, under a key of its own:
//!
//! - `(issuer, sid)` → [`session_key`]: the cutoff is the instant of the revocation, so
//!   every token of that issuer carrying that `sid` issued up to then (its `iat` minus
//!   the issuer's leeway) is refused;
//! - `(issuer, sub, instant)` → [`subject_key`]: every token of that issuer for that
//!   subject issued at or before `instant` is refused (a later revocation moves the
//!   instant forward, never back).
//!
//! Keys start with a newline: our own subjects (and every `sub` and `sid` a trusted
//! issuer's token may carry) hold no control character, so an IdP's `sub` "alice"
//! never touches our local user "alice" and [`revoke_all_for`](crate::store::SubjectRevocation::revoke_all_for)
//! on a local user is unchanged. The issuer is part of the key: two issuers' `sid`s or
//! `sub`s never meet. No existing Redis key layout, Lua script or PostgreSQL table
//! changes: these are more subjects in the same cutoff space.
//!
//! The read side is step 13 of [`trust::verify`](crate::trust::verify). Verification
//! decides a token's keys once and keeps them in its identity:
//!
//! - a trusted issuer's token is checked by its digest and [`subject_key`] **instead of**
//!   its raw `sub` (one lookup, the same as any token's), then by [`session_key`] when it
//!   carries a `sid` (a second one): `Revocation::subject("alice")` is for our own users
//!   and never reaches a provider's `alice`, whose revocation is
//!   [`Revocation::external_subject`](crate::trust::Revocation::external_subject);
//! - one of our own tokens is checked by its digest and its subject as before, then by
//!   [`session_key`] when its login went through a provider session (the reserved claim
//!   [`PROVIDER_SESSION_CLAIM`](crate::token::PROVIDER_SESSION_CLAIM), written by
//!   [`TokenRequest::provider_session`](crate::token::TokenRequest::provider_session)):
//!   a back-channel logout of that provider session ends the session's access tokens
//!   and its refresh.
//!
//! The memory store and a trusted local replica answer both lookups at once, so the
//! layer's hot path stays synchronous and the verified-token cache (which re-checks
//! revocation at every hit) stops serving a token as soon as the replica has the entry.
//! Our own tokens without a provider session cost what they cost before.
//!
//! Entries do not expire yet (as subject cutoffs do not): one small entry per revoked
//! session or subject.

/// The cutoff key of `issuer`'s session `sid`.
pub fn session_key(issuer: &str, sid: &str) -> String {
    key("sid", issuer, sid)
}

/// The cutoff key of `issuer`'s subject `sub`.
pub fn subject_key(issuer: &str, sub: &str) -> String {
    key("sub", issuer, sub)
}

fn key(kind: &str, issuer: &str, id: &str) -> String {
    let mut k = String::with_capacity(kind.len() + issuer.len() + id.len() + 3);
    k.push('\n');
    k.push_str(kind);
    k.push('\n');
    k.push_str(issuer);
    k.push('\n');
    k.push_str(id);
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_of_issuers_and_kinds_never_meet() {
        assert_ne!(session_key("a", "x"), subject_key("a", "x"));
        assert_ne!(session_key("a", "x"), session_key("b", "x"));
        assert_eq!(
            subject_key("https://idp", "alice"),
            "\nsub\nhttps://idp\nalice"
        );
    }
}
