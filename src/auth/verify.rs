//! The verification and revocation methods of [`TokenAuth`]: the public face of
//! [`trust::verify`](crate::trust::verify)'s checks, which run in the order listed there.

use serde::de::DeserializeOwned;

use crate::auth::RevokeError;
use crate::auth::TokenAuth;
use crate::http::AuthError;
use crate::store::TokenDigest;
use crate::token::{InvalidToken, TokenClaims, TokenKind};
use crate::trust::verify::{
    Acceptance, Accepted, Holder, KindSet, OriginFilter, Refusal, TokenIdentity,
};
use crate::trust::{LegacyFormat, VerifyError};

impl TokenAuth {
    /// Checks a token completely except for revocation (steps 1–12, or E1–E9 for a
    /// trusted issuer's token), without waiting on anything. An external issuer's token
    /// whose `kid` is not in the fetched set yet is refused here; [`validate`](Self::validate)
    /// refetches the set first.
    pub fn verify_offline<T: DeserializeOwned>(
        &self,
        token: &str,
        kind: TokenKind,
    ) -> Result<TokenClaims<T>, VerifyError> {
        self.inner.verifier.verify_offline::<T>(token, kind)
    }

    /// Validates an access token completely, revocation included: what the layer does.
    pub async fn validate<T: DeserializeOwned>(
        &self,
        token: &str,
    ) -> Result<TokenClaims<T>, VerifyError> {
        self.inner.verifier.validate::<T>(token).await
    }

    /// Validates a token of `kind` completely, revocation included. For a trusted
    /// issuer's token with an unknown `kid`, waits for one refetch of its key set.
    pub async fn validate_kind<T: DeserializeOwned>(
        &self,
        token: &str,
        kind: TokenKind,
    ) -> Result<TokenClaims<T>, VerifyError> {
        self.inner.verifier.validate_kind::<T>(token, kind).await
    }

    /// Validates a token of **any** kind (access, refresh or service), revocation
    /// included, and says which in [`TokenClaims::kind`] (ScopedTokenService's
    /// `validate_token` returning `TokenData`). Never use it to grant access: a route
    /// guarded by it would take refresh tokens as access tokens.
    pub async fn validate_any<T: DeserializeOwned>(
        &self,
        token: &str,
    ) -> Result<TokenClaims<T>, VerifyError> {
        self.inner.verifier.validate_any::<T>(token).await
    }

    /// Revokes every token of `subject` issued so far, however it was minted
    /// ([`Sessions`](crate::Sessions), `issue_access`, `issue_service`, `issue_granted`,
    /// …): one write, whatever the number of tokens. Tokens carrying a subject generation
    /// (`gen`) are refused by generation, the others by their `iat` against now (so a
    /// token without `gen` minted in the same second is refused too). Returns the
    /// subject's new generation.
    pub async fn revoke_all_for_user(&self, subject: &str) -> Result<u64, RevokeError> {
        self.inner.verifier.revoke_all_for_user(subject).await
    }

    /// Verifies any JWT signed by a key of the keyring, whatever its format: signature,
    /// algorithm, `exp` (required), `nbf`, `iat`, `iss` and `aud` as configured. No kind,
    /// `sub` or `jti` is required and revocation is not checked; use it for interop with
    /// tokens this crate did not mint.
    pub fn verify_jwt<T: DeserializeOwned>(&self, token: &str) -> Result<T, VerifyError> {
        self.inner.verifier.verify_jwt::<T>(token)
    }

    /// Revokes a token: its `jti` digest is stored until the token can no longer be
    /// accepted (its expiry plus the leeway), and the layer refuses it from then on. The
    /// token must carry a valid signature from the keyring, a trusted issuer or a legacy
    /// issuer (any kind); a token already past that point needs no revocation and is
    /// accepted as is. A trusted issuer's token without `jti` is revoked by its own
    /// digest. A token with a `sub` is counted against its subject's share of a bounded
    /// store (see [`revoke_jti_for`](Self::revoke_jti_for)): past it, all of the
    /// subject's tokens are revoked instead, never fewer.
    pub async fn revoke(&self, token: &str) -> Result<(), RevokeError> {
        self.inner.verifier.revoke(token).await
    }

    /// Revokes `subject`'s token by `jti` and expiry, counted against the subject's share
    /// of the revocation store (see
    /// [`SubjectRevocation::revoke_for`](crate::store::SubjectRevocation::revoke_for)).
    pub async fn revoke_jti_for(
        &self,
        subject: &str,
        jti: &str,
        expires_at: u64,
    ) -> Result<(), RevokeError> {
        self.inner
            .verifier
            .revoke_jti_for(subject, jti, expires_at)
            .await
    }

    /// [`revoke`](Self::revoke) with a note (when, why, by whom), kept where the store
    /// keeps notes (registered with
    /// [`revocation_store_with_notes`](crate::TokenAuthBuilder::revocation_store_with_notes);
    /// otherwise the revocation holds and the note is not kept); read it back with
    /// [`RevocationNotes::revocation_note`](crate::store::RevocationNotes::revocation_note)
    /// and the digest returned.
    pub async fn revoke_noted(
        &self,
        token: &str,
        note: &crate::store::RevocationNote,
    ) -> Result<TokenDigest, RevokeError> {
        self.inner.verifier.revoke_noted(token, note).await
    }

    /// Stores a revocation digest as is, until `until` (seconds since the epoch): for
    /// importing another system's revocation list, such as the SHA-256 hex digests in
    /// ScopedTokenService's `revoked_tokens` table
    /// ([`TokenDigest::from_hex`](crate::store::TokenDigest::from_hex)), which match the
    /// digests of its tokens accepted through a [`LegacyIssuer`](crate::trust::LegacyIssuer).
    /// The lists of the other replaced systems hold token ids: import them with
    /// [`import_legacy_revocation`](Self::import_legacy_revocation).
    pub async fn import_revoked_digest(
        &self,
        digest: TokenDigest,
        until: u64,
    ) -> Result<(), RevokeError> {
        self.inner
            .verifier
            .import_revoked_digest(digest, until)
            .await
    }

    /// Imports one entry of a replaced system's revocation list, until `until` (seconds
    /// since the epoch; the token's expiry will do): its tokens accepted through a
    /// [`LegacyIssuer`](crate::trust::LegacyIssuer) of that `format` are refused from then
    /// on. The entry is what that system stores: a hex SHA-256 of the whole token for
    /// [`ScopedTokenService`](LegacyFormat::ScopedTokenService) (`revoked_tokens`), the
    /// `jti` for [`Fastcore`](LegacyFormat::Fastcore) and
    /// [`Webtool`](LegacyFormat::Webtool), the `ref_id` for
    /// [`TokenAuth`](LegacyFormat::TokenAuth) (where to find them:
    /// [`trust::legacy`](crate::trust::legacy#revocation-identity)). Ids are kept per format:
    /// they never revoke another format's token or one of the crate's own. An entry that
    /// is not one (empty, control characters, not 64 hex digits) is refused
    /// ([`InvalidToken::InvalidClaims`]) and nothing is stored.
    ///
    /// ```
    /// use std::time::{Duration, SystemTime, UNIX_EPOCH};
    /// use axum_token_auth::{TokenAuth, trust::{LegacyFormat, LegacyIssuer}};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let window = SystemTime::now() + Duration::from_secs(14 * 86_400);
    /// let auth = TokenAuth::builder()
    ///     .hs256_secret("the-new-random-secret-of-at-least-32-bytes")
    ///     .accept_legacy(LegacyIssuer::fastcore(axum_token_auth::token::Algorithm::HS256, "fastcore-signing-key-of-32-bytes-or-more")?.accept_until(window))
    ///     .build()?;
    /// // Each row of fastcore's revoked tokens: (jti, expires_at).
    /// let expires_at = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs() + 1800;
    /// auth.import_legacy_revocation(LegacyFormat::Fastcore, "0b9d7c2e-5f4a-4c1e-9a57-3f2d8e6b1c40", expires_at).await?;
    /// assert!(auth.import_legacy_revocation(LegacyFormat::ScopedTokenService, "not-a-digest", expires_at).await.is_err());
    /// # Ok(()) }
    /// ```
    pub async fn import_legacy_revocation(
        &self,
        format: LegacyFormat,
        entry: &str,
        until: u64,
    ) -> Result<(), RevokeError> {
        let digest = format
            .imported_digest(entry)
            .ok_or(RevokeError::Invalid(InvalidToken::InvalidClaims))?;
        self.inner
            .verifier
            .import_revoked_digest(digest, until)
            .await
    }

    /// Revokes one of the crate's own tokens by `jti` and expiry (when the token itself
    /// is not at hand).
    pub async fn revoke_jti(&self, jti: &str, expires_at: u64) -> Result<(), RevokeError> {
        self.inner.verifier.revoke_jti(jti, expires_at).await
    }
}

/// The checks as the crate's own flows use them (sessions, logout, the refresh route),
/// with their refusals as the [`AuthError`] those flows answer.
impl TokenAuth {
    /// The crate's own tokens (and, with `legacy`, a legacy format's) through the
    /// verification pipeline, time checked or not (`timed: false`: logout and the CSRF
    /// pre-check, where an expired token still says which session to end).
    pub(crate) fn verify_session<T: DeserializeOwned>(
        &self,
        token: &str,
        kinds: KindSet,
        legacy: bool,
        timed: bool,
    ) -> Result<Accepted<T>, InvalidToken> {
        static OWN: std::sync::LazyLock<OriginFilter> =
            std::sync::LazyLock::new(|| OriginFilter::ANY.with_own());
        static OWN_OR_LEGACY: std::sync::LazyLock<OriginFilter> =
            std::sync::LazyLock::new(|| OriginFilter::ANY.with_own().with_legacy());
        let acceptance = Acceptance {
            kinds,
            origins: if legacy { &OWN_OR_LEGACY } else { &OWN },
            timed,
        };
        // No external issuer: no key set to wait for, nothing unavailable.
        self.inner
            .verifier
            .verify_token(token, &acceptance)
            .map_err(|r| match r {
                Refusal::Token(e) => e,
                _ => InvalidToken::UnknownKey,
            })
    }

    pub(crate) async fn revoke_verified(
        &self,
        subject: &str,
        identity: &TokenIdentity,
    ) -> Result<(), RevokeError> {
        self.inner.verifier.revoke_verified(subject, identity).await
    }

    pub(crate) async fn check_revoked<T>(
        &self,
        claims: &TokenClaims<T>,
        identity: &TokenIdentity,
    ) -> Result<(), AuthError> {
        Ok(self
            .inner
            .verifier
            .check_revoked(Holder::of_claims(claims), identity)
            .await?)
    }

    pub(crate) fn rejected(&self, reason: InvalidToken) -> AuthError {
        self.inner.verifier.rejected(reason).into()
    }
}
