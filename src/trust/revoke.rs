//! The write side of revocation: [`Revocation`] says what to revoke (a token, an id and
//! its expiry, every token of a subject, an imported entry of another system's list, a
//! trusted issuer's session or subject),
//! [`TokenAuth::revoke`](crate::TokenAuth::revoke) stores it, and [`Revoked`] says what
//! was stored. The read side — the check of every verified token — is step 13 of
//! [`trust::verify`](crate::trust::verify); both use the identity verification gives a
//! token, so a revocation hits exactly what the layer looks up.

use crate::store::external_revocation;
use crate::store::{RevocationNote, StoreError, TokenDigest};
use crate::token::claims::NoCustomClaims;
use crate::token::error::InvalidToken;
use crate::token::issue::is_valid_id;
use crate::trust::legacy::LegacyFormat;
use crate::trust::verify::{Acceptance, Accepted, KindSet, TokenIdentity, Verifier, VerifyError};

/// What to revoke, for [`TokenAuth::revoke`](crate::TokenAuth::revoke). A `&str` is a
/// token ([`Revocation::token`]).
///
/// ```
/// use axum_token_auth::{NoCustomClaims, TokenAuth, TokenRequest};
/// use axum_token_auth::store::RevocationNote;
/// use axum_token_auth::trust::{Revocation, TokenCheck};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let auth = TokenAuth::builder()
///     .hs256_secret("a-random-secret-of-at-least-32-bytes!!")
///     .build()?;
/// let token = auth.issue_access(&TokenRequest::new("alice"))?;
///
/// // One token (a `&str` converts), with a note where the store keeps notes…
/// auth.revoke(Revocation::token(token.as_str()).note(RevocationNote::new("laptop stolen")))
///     .await?;
/// assert!(auth.validate::<NoCustomClaims>(token.as_str(), TokenCheck::ACCESS).await.is_err());
///
/// // …or everything the subject holds, in one write.
/// let revoked = auth.revoke(Revocation::subject("alice")).await?;
/// assert_eq!(revoked.generation(), Some(1));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct Revocation<'a> {
    target: Target<'a>,
    note: Option<RevocationNote>,
}

#[derive(Debug, Clone)]
enum Target<'a> {
    Token(&'a str),
    Id {
        jti: &'a str,
        expires_at: u64,
        subject: Option<&'a str>,
    },
    Subject(&'a str),
    Digest {
        digest: TokenDigest,
        until: u64,
    },
    Legacy {
        format: LegacyFormat,
        entry: &'a str,
        until: u64,
    },
    ExternalSession {
        issuer: &'a str,
        sid: &'a str,
    },
    ExternalSubject {
        issuer: &'a str,
        sub: &'a str,
        before: u64,
    },
}

impl<'a> Revocation<'a> {
    /// A token, by the identity verification gives it, until it can no longer be
    /// accepted (its expiry plus the leeway, or the end of its legacy window). It must
    /// pass every check but time (any kind, any trusted signer: the crate's keyring, a
    /// trusted issuer, a legacy issuer); an expired one needs no revocation and is
    /// revoked all the same. A token with a `sub` is counted against its subject's share
    /// of a bounded store: past it, all of the subject's tokens are revoked instead, never
    /// fewer (see [`SubjectRevocation::revoke_for`](crate::store::SubjectRevocation::revoke_for)).
    pub fn token(token: &'a str) -> Self {
        Revocation::of(Target::Token(token))
    }

    /// One of the crate's own tokens by `jti` and expiry (seconds since the epoch), when
    /// the token itself is not at hand.
    pub fn id(jti: &'a str, expires_at: u64) -> Self {
        Revocation::of(Target::Id {
            jti,
            expires_at,
            subject: None,
        })
    }

    /// Counts an [`id`](Self::id) revocation against `subject`'s share of a bounded store,
    /// as [`token`](Self::token) does (no effect on other targets).
    pub fn held_by(mut self, subject: &'a str) -> Self {
        if let Target::Id { subject: s, .. } = &mut self.target {
            *s = Some(subject);
        }
        self
    }

    /// Every token of `subject` issued so far, however it was minted, in one write:
    /// tokens carrying a subject generation (`gen`) are refused by generation, the
    /// others by their `iat` against now (so a token without `gen` minted in the same
    /// second is refused too). [`Revoked::generation`] says the subject's new generation.
    ///
    /// A subject of **ours**: a trusted issuer's tokens are never reached (its `alice` is
    /// not ours, and is checked under a key of its issuer's); revoke a provider's user
    /// with [`external_subject`](Self::external_subject).
    pub fn subject(subject: &'a str) -> Self {
        Revocation::of(Target::Subject(subject))
    }

    /// A revocation digest as is, until `until` (seconds since the epoch): for importing
    /// a list of digests (SHA-256 of whole tokens) that matches the digests of tokens
    /// accepted through a [`LegacyIssuer`](crate::trust::LegacyIssuer).
    pub fn digest(digest: TokenDigest, until: u64) -> Self {
        Revocation::of(Target::Digest { digest, until })
    }

    /// One entry of a replaced system's revocation list, until `until` (seconds since the
    /// epoch; the token's expiry will do): its tokens accepted through a
    /// [`LegacyIssuer`](crate::trust::LegacyIssuer) of that `format` are refused from then
    /// on. The entry is what that system stores (which, per format:
    /// [`trust::legacy`](crate::trust::legacy#revocation-identity)). Ids are kept per
    /// format: they never revoke another format's token or one of the crate's own. An
    /// entry that is not one (empty, control characters, not 64 hex digits where a digest
    /// is expected) is refused ([`InvalidToken::InvalidClaims`]) and nothing is stored.
    pub fn legacy(format: LegacyFormat, entry: &'a str, until: u64) -> Self {
        Revocation::of(Target::Legacy {
            format,
            entry,
            until,
        })
    }

    /// Every token of the trusted issuer `issuer` (its exact `iss`) carrying the
    /// provider's session `sid` and issued so far (its `iat`, minus the issuer's leeway,
    /// at or before now): what an OpenID Connect back-channel logout or a CAEP
    /// `session-revoked` event of that session means. Other sessions of the same user,
    /// and our own tokens, are untouched (key space:
    /// [`store::external_revocation`](crate::store::external_revocation)). An `issuer` or
    /// `sid` that cannot be one (empty, over 255 bytes, control characters) is refused
    /// ([`InvalidToken::InvalidClaims`]) and nothing is stored; a store that cannot answer
    /// is [`RevokeError::Store`] (retry later: nothing was stored).
    ///
    /// ```
    /// use axum_token_auth::TokenAuth;
    /// use axum_token_auth::trust::Revocation;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let auth = TokenAuth::builder().hs256_secret("a-random-secret-of-at-least-32-bytes!!").build()?;
    /// auth.revoke(Revocation::external_session("https://idp.example", "08a5019c-17e1-4977"))
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn external_session(issuer: &'a str, sid: &'a str) -> Self {
        Revocation::of(Target::ExternalSession { issuer, sid })
    }

    /// Every token of the trusted issuer `issuer` (its exact `iss`) for its subject `sub`
    /// issued at or before `before` (seconds since the epoch; the token's `iat` minus the
    /// issuer's leeway is compared): what a `sub`-only back-channel logout, a CAEP
    /// `credential-change` or a RISC `account-disabled` event means. A later call moves
    /// the instant forward, never back. Our own user with the same name is untouched
    /// ([`Revocation::subject`] is ours; key space:
    /// [`store::external_revocation`](crate::store::external_revocation)). Refusals and
    /// errors as [`external_session`](Self::external_session).
    ///
    /// ```
    /// use axum_token_auth::TokenAuth;
    /// use axum_token_auth::trust::Revocation;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let auth = TokenAuth::builder().hs256_secret("a-random-secret-of-at-least-32-bytes!!").build()?;
    /// let event_time = 1_767_225_600;
    /// auth.revoke(Revocation::external_subject("https://idp.example", "alice", event_time))
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn external_subject(issuer: &'a str, sub: &'a str, before: u64) -> Self {
        Revocation::of(Target::ExternalSubject {
            issuer,
            sub,
            before,
        })
    }

    /// Keeps when, why and by whom with the revocation where the store keeps notes
    /// (PostgreSQL, registered with
    /// [`revocation_store_with_notes`](crate::TokenAuthBuilder::revocation_store_with_notes);
    /// otherwise the revocation holds and the note is not kept); read it back with
    /// [`RevocationNotes::revocation_note`](crate::store::RevocationNotes::revocation_note)
    /// and [`Revoked::digest`]. A note without a time is dated by the handle's clock. A
    /// subject-wide revocation logs the note's reason and author (no store keeps it).
    pub fn note(mut self, note: RevocationNote) -> Self {
        self.note = Some(note);
        self
    }

    fn of(target: Target<'a>) -> Self {
        Revocation { target, note: None }
    }
}

impl<'a> From<&'a str> for Revocation<'a> {
    fn from(token: &'a str) -> Self {
        Revocation::token(token)
    }
}

impl<'a> From<&'a String> for Revocation<'a> {
    fn from(token: &'a String) -> Self {
        Revocation::token(token)
    }
}

/// What a revocation stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Revoked {
    digest: Option<TokenDigest>,
    generation: Option<u64>,
}

impl Revoked {
    /// The digest stored, for a revocation of one token (read its note back with it).
    pub fn digest(&self) -> Option<TokenDigest> {
        self.digest
    }

    /// The subject's new generation, for [`Revocation::subject`].
    pub fn generation(&self) -> Option<u64> {
        self.generation
    }
}

/// Why a token could not be revoked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RevokeError {
    /// The token is not one of ours (bad signature, malformed …), or the entry to import
    /// is not one.
    #[error("cannot revoke: {0}")]
    Invalid(InvalidToken),
    /// The store failed.
    #[error("cannot revoke: {0}")]
    Store(StoreError),
}

impl Verifier {
    /// Stores `revocation`.
    pub(crate) async fn revoke(&self, revocation: Revocation<'_>) -> Result<Revoked, RevokeError> {
        let Revocation { target, note } = revocation;
        let note = note.map(|mut n| {
            if n.at == 0 {
                n.at = self.clock.now();
            }
            n
        });
        let (subject, digest, until) = match target {
            Target::Subject(subject) => {
                let generation = self.revoke_subject(subject, note.as_ref()).await?;
                return Ok(Revoked {
                    digest: None,
                    generation: Some(generation),
                });
            }
            Target::ExternalSession { issuer, sid } => {
                let key = external_key(issuer, sid, external_revocation::session_key)?;
                self.revoke_external(&key, self.clock.now(), "session", note.as_ref())
                    .await?;
                return Ok(Revoked {
                    digest: None,
                    generation: None,
                });
            }
            Target::ExternalSubject {
                issuer,
                sub,
                before,
            } => {
                let key = external_key(issuer, sub, external_revocation::subject_key)?;
                self.revoke_external(&key, before, "subject", note.as_ref())
                    .await?;
                return Ok(Revoked {
                    digest: None,
                    generation: None,
                });
            }
            Target::Token(token) => {
                let t = self.revocation_target(token).await?;
                // Counted against the subject its checks use (a trusted issuer's subject
                // in its key space): a bounded store that turns it into a cutoff of that
                // subject refuses this token, and never our own user of that name.
                let subject = t.identity.revocation_subject(&t.claims.sub).to_owned();
                let TokenIdentity { digest, until, .. } = t.identity;
                (Some(subject), digest, until)
            }
            Target::Id {
                jti,
                expires_at,
                subject,
            } => (
                subject.map(str::to_owned),
                TokenDigest::of_jti(jti),
                // Tokens are accepted until `exp + leeway`: the revocation lasts as long.
                self.own_until(expires_at),
            ),
            Target::Digest { digest, until } => (None, digest, until),
            Target::Legacy {
                format,
                entry,
                until,
            } => {
                let digest = format
                    .imported_digest(entry)
                    .ok_or(RevokeError::Invalid(InvalidToken::InvalidClaims))?;
                (None, digest, until)
            }
        };
        self.store_digest(subject.as_deref(), digest, until, note.as_ref())
            .await?;
        Ok(Revoked {
            digest: Some(digest),
            generation: None,
        })
    }

    /// Stores one revoked digest until `until`: with its note where the store keeps
    /// notes (registered with `revocation_store_with_notes`; otherwise the revocation
    /// alone), else counted against `subject`'s share of a bounded store when there is a
    /// subject.
    async fn store_digest(
        &self,
        subject: Option<&str>,
        digest: TokenDigest,
        until: u64,
        note: Option<&RevocationNote>,
    ) -> Result<(), RevokeError> {
        let stored = match (note, subject) {
            (Some(note), _) => match &self.revocation_notes {
                Some(notes) => notes.revoke_noted(digest, until, note).await,
                None => self.revocation.revoke(digest, until).await,
            },
            (None, Some(subject)) => self.revocation.revoke_for(subject, digest, until).await,
            (None, None) => self.revocation.revoke(digest, until).await,
        };
        stored.map_err(RevokeError::Store)?;
        tracing::info!(jti_digest = %digest.short(), "token revoked");
        Ok(())
    }

    /// Revokes every token of `subject` issued so far; the subject's new generation.
    async fn revoke_subject(
        &self,
        subject: &str,
        note: Option<&RevocationNote>,
    ) -> Result<u64, RevokeError> {
        // Tokens are compared by their `iat` minus their issuer's leeway
        // (`TokenIdentity::issued_at`), so one from a clock running ahead is covered.
        let generation = self
            .revocation
            .revoke_all_for(subject, self.clock.now())
            .await
            .map_err(RevokeError::Store)?;
        match note {
            Some(n) => tracing::info!(
                generation,
                reason = %n.reason,
                by = n.by.as_deref().unwrap_or("-"),
                "all tokens of a subject revoked"
            ),
            None => tracing::info!(generation, "all tokens of a subject revoked"),
        }
        Ok(generation)
    }

    /// Stores an external issuer's cutoff (`key` in
    /// [`store::external_revocation`](crate::store::external_revocation)'s key space):
    /// its tokens under that key issued at or before `at` are refused.
    async fn revoke_external(
        &self,
        key: &str,
        at: u64,
        what: &'static str,
        note: Option<&RevocationNote>,
    ) -> Result<(), RevokeError> {
        self.revocation
            .revoke_all_for(key, at)
            .await
            .map_err(RevokeError::Store)?;
        // The key names a provider's user or session: never logged.
        match note {
            Some(n) => tracing::info!(
                by_what = what,
                reason = %n.reason,
                by = n.by.as_deref().unwrap_or("-"),
                "external issuer's tokens revoked"
            ),
            None => tracing::info!(by_what = what, "external issuer's tokens revoked"),
        }
        Ok(())
    }

    /// Revokes a verified token by the identity verification gave it (sessions, logout),
    /// counted against the subject its checks use (a trusted issuer's subject in its key
    /// space).
    pub(crate) async fn revoke_verified(
        &self,
        subject: &str,
        identity: &TokenIdentity,
    ) -> Result<(), RevokeError> {
        let subject = identity.revocation_subject(subject);
        self.store_digest(Some(subject), identity.digest, identity.until, None)
            .await
    }

    /// What revoking `token` stores: the token through the verification pipeline (every
    /// kind, every trusted signer, time not checked), so its identity is exactly the one
    /// the layer looks up.
    async fn revocation_target(
        &self,
        token: &str,
    ) -> Result<Accepted<NoCustomClaims>, RevokeError> {
        let acceptance = Acceptance {
            timed: false,
            ..Acceptance::kinds(KindSet::all())
        };
        self.verify_token_waiting(token, &acceptance)
            .await
            .map_err(|e| match e {
                VerifyError::InvalidToken(e) => RevokeError::Invalid(e),
                _ => RevokeError::Invalid(InvalidToken::UnknownKey),
            })
    }
}

/// The key of an external revocation, once `issuer` and `id` are known to be ids (the
/// key space's separator is a control character, which no id holds).
fn external_key(
    issuer: &str,
    id: &str,
    key: fn(&str, &str) -> String,
) -> Result<String, RevokeError> {
    if is_valid_id(issuer) && is_valid_id(id) {
        Ok(key(issuer, id))
    } else {
        Err(RevokeError::Invalid(InvalidToken::InvalidClaims))
    }
}
