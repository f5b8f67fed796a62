//! The verification and revocation methods of [`TokenAuth`]: the public face of
//! [`trust::verify`](crate::trust::verify)'s checks, which run in the order listed there.

use serde::de::DeserializeOwned;

use crate::auth::TokenAuth;
use crate::token::{InvalidToken, TokenClaims, TokenKind};
use crate::trust::VerifyError;
use crate::trust::check::TokenCheck;
use crate::trust::revoke::{Revocation, RevokeError, Revoked};
use crate::trust::verify::{
    Acceptance, Accepted, Holder, KindSet, OriginFilter, Refusal, TokenIdentity,
};

impl TokenAuth {
    /// Validates `token` as `check` describes — [`TokenCheck::ACCESS`] is what the layer
    /// accepts: every check of [`trust::verify`](crate::trust::verify) in its order,
    /// revocation included, waiting for one refetch of a trusted issuer's key set when
    /// the token names a key not fetched yet.
    ///
    /// ```
    /// use axum_token_auth::{NoCustomClaims, TokenAuth, TokenRequest};
    /// use axum_token_auth::trust::TokenCheck;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let auth = TokenAuth::builder()
    ///     .hs256_secret("a-random-secret-of-at-least-32-bytes!!")
    ///     .build()?;
    /// let token = auth.issue_access(&TokenRequest::new("alice"))?;
    /// let claims = auth.validate::<NoCustomClaims>(token.as_str(), TokenCheck::ACCESS).await?;
    /// assert_eq!(claims.sub, "alice");
    /// # Ok(()) }
    /// ```
    pub async fn validate<T: DeserializeOwned>(
        &self,
        token: &str,
        check: TokenCheck,
    ) -> Result<TokenClaims<T>, VerifyError> {
        self.verifier().validate::<T>(token, check).await
    }

    /// The checks of [`validate`](Self::validate) that need nothing outside the process,
    /// for synchronous callers (a gRPC interceptor): a token of `kind`, steps 1–12 (or
    /// E1–E9 for a trusted issuer's token). Revocation is **not** checked, and an external
    /// issuer's token whose `kid` is not in the fetched set yet is refused. A
    /// sender-constrained token (`cnf`) is refused, as by `validate` without
    /// [`TokenCheck::with_binding_proven`]: nothing here proves its key.
    pub fn verify_offline<T: DeserializeOwned>(
        &self,
        token: &str,
        kind: TokenKind,
    ) -> Result<TokenClaims<T>, VerifyError> {
        let accepted = self
            .verifier()
            .verify_now::<T>(token, &Acceptance::kinds(KindSet::of(kind)))?;
        if accepted.identity.bound {
            return Err(InvalidToken::UnprovenBinding.into());
        }
        Ok(accepted.claims)
    }

    /// Verifies any JWT signed by a key of the keyring, whatever its format: signature,
    /// algorithm, `exp` (required), `nbf`, `iat`, `iss` and `aud` as configured. No kind,
    /// `sub` or `jti` is required and revocation is not checked: for interop with JWTs
    /// this crate did not mint, never to grant access.
    pub fn verify_jwt<T: DeserializeOwned>(&self, token: &str) -> Result<T, VerifyError> {
        self.verifier().verify_jwt::<T>(token)
    }

    /// Revokes what `revocation` names — a token (a `&str` converts), an id and its
    /// expiry, every token of a subject, an entry of a replaced system's list — with an
    /// optional note; see [`Revocation`].
    /// The layer refuses what is revoked from then on, on every instance sharing the store.
    ///
    /// ```
    /// use axum_token_auth::{TokenAuth, TokenRequest};
    /// use axum_token_auth::trust::Revocation;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let auth = TokenAuth::builder()
    ///     .hs256_secret("a-random-secret-of-at-least-32-bytes!!")
    ///     .build()?;
    /// let token = auth.issue_access(&TokenRequest::new("alice"))?;
    /// auth.revoke(token.as_str()).await?;
    /// // Without the token at hand: its id and expiry.
    /// auth.revoke(Revocation::id("order-export-7", auth.now() + 600)).await?;
    /// # Ok(()) }
    /// ```
    pub async fn revoke<'a>(
        &self,
        revocation: impl Into<Revocation<'a>>,
    ) -> Result<Revoked, RevokeError> {
        self.verifier().revoke(revocation.into()).await
    }
}

/// The checks as the crate's own flows use them (sessions, logout, the refresh route);
/// the flows turn the refusals into their own error.
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
        self.verifier()
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
        self.verifier().revoke_verified(subject, identity).await
    }

    pub(crate) async fn check_revoked<T>(
        &self,
        claims: &TokenClaims<T>,
        identity: &TokenIdentity,
    ) -> Result<(), VerifyError> {
        self.verifier()
            .check_revoked(Holder::of_claims(claims), identity)
            .await
    }

    /// Records a refusal (log, metrics) and returns its reason.
    pub(crate) fn rejected(&self, reason: InvalidToken) -> InvalidToken {
        self.verifier().rejected(reason);
        reason
    }
}
