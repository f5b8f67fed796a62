//! Token → verified claims: the hot path. No I/O but the revocation check.
//!
//! Every check, in order (a reader can audit them top to bottom in
//! [`TokenAuth::verify_offline`]):
//!
//! 1. size ≤ the configured limit, before anything is decoded;
//! 2. three base64url parts (`header.payload.signature`), canonical encoding;
//! 3. the header is JSON with a known `alg`; `crit` is refused (none is understood);
//! 4. the key: the one its `kid` names (unknown `kid` → refused), else the signing key;
//! 5. the header's `alg` equals that key's one algorithm (`none` never does);
//! 6. the signature verifies over `header.payload`;
//! 7. the `typ` header names an accepted kind (`at+jwt` for access tokens);
//! 8. the payload is JSON of the claims type (`sub`, `exp`, `iat`, `jti` required);
//! 9. `exp` (required), `nbf`, `iat` against the clock, with the leeway;
//! 10. `iss` equals the configured issuer exactly, when one is configured;
//! 11. `aud` contains the configured audience; without one configured, no `aud` allowed;
//! 12. `sub` and `jti` are not empty;
//! 13. (async, [`TokenAuth::validate`]) the `jti` digest is not revoked.

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm;
use serde::Deserialize;
use serde::de::{DeserializeOwned, IgnoredAny};

use crate::auth::TokenAuth;
use crate::claims::{Audience, TokenClaims, TokenKind};
use crate::config::StoreFailurePolicy;
use crate::error::{AuthError, InvalidToken};
use crate::issue::is_valid_id;
use crate::keys::Key;
use crate::store::{RevocationCheck, TokenDigest};

/// The JOSE header fields this crate reads.
#[derive(Deserialize)]
struct JoseHeader<'a> {
    #[serde(borrow)]
    alg: Cow<'a, str>,
    #[serde(default, borrow)]
    typ: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    kid: Option<Cow<'a, str>>,
    #[serde(default)]
    crit: Option<IgnoredAny>,
}

/// The registered claims checked on any JWT (used by [`TokenAuth::verify_jwt`]).
#[derive(Deserialize)]
struct TimeAndParty {
    exp: Option<u64>,
    nbf: Option<u64>,
    iat: Option<u64>,
    iss: Option<String>,
    aud: Option<Audience>,
}

/// A set of accepted token kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct KindSet(u8);

impl KindSet {
    pub(crate) const fn of(kind: TokenKind) -> Self {
        KindSet(1 << kind as u8)
    }
    pub(crate) const fn with(self, kind: TokenKind) -> Self {
        KindSet(self.0 | 1 << kind as u8)
    }
    pub(crate) const fn contains(self, kind: TokenKind) -> bool {
        self.0 & (1 << kind as u8) != 0
    }
    /// The kind named in errors: the first accepted one.
    fn primary(self) -> TokenKind {
        [TokenKind::Access, TokenKind::Refresh, TokenKind::Service]
            .into_iter()
            .find(|k| self.contains(*k))
            .unwrap_or(TokenKind::Access)
    }
}

/// A token whose signature verified, before its claims are read.
struct Verified<'t> {
    typ: Option<Cow<'t, str>>,
    payload: Vec<u8>,
}

impl TokenAuth {
    /// Steps 1–6: size, structure, header, key, algorithm, signature.
    fn verify_signature<'t>(&self, token: &'t str) -> Result<Verified<'t>, InvalidToken> {
        if token.len() > self.inner.settings.max_token_bytes {
            return Err(InvalidToken::TooLarge);
        }
        let mut parts = token.split('.');
        let (Some(h64), Some(p64), Some(s64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(InvalidToken::Malformed);
        };
        let header_json = URL_SAFE_NO_PAD
            .decode(h64)
            .map_err(|_| InvalidToken::Malformed)?;
        let header: JoseHeader<'_> =
            serde_json::from_slice(&header_json).map_err(|_| InvalidToken::Malformed)?;
        if header.crit.is_some() {
            return Err(InvalidToken::UnsupportedCritical);
        }
        let alg: Algorithm = header
            .alg
            .parse()
            .map_err(|_| InvalidToken::AlgorithmMismatch)?;
        let key: &Key = self
            .inner
            .keys
            .find(header.kid.as_deref())
            .ok_or(InvalidToken::UnknownKey)?;
        if alg != key.alg {
            return Err(InvalidToken::AlgorithmMismatch);
        }
        let message = &token[..h64.len() + 1 + p64.len()];
        if !key.verify(message.as_bytes(), s64) {
            return Err(InvalidToken::BadSignature);
        }
        let payload = URL_SAFE_NO_PAD
            .decode(p64)
            .map_err(|_| InvalidToken::Malformed)?;
        // The header borrowed from `header_json`; keep only the owned typ.
        let typ = header.typ.map(|t| Cow::Owned(t.into_owned()));
        Ok(Verified { typ, payload })
    }

    /// Steps 9–11 on the time and party claims.
    fn check_time_and_party(
        &self,
        exp: u64,
        nbf: Option<u64>,
        iat: Option<u64>,
        iss: Option<&str>,
        aud: Option<&Audience>,
    ) -> Result<(), InvalidToken> {
        let s = &self.inner.settings;
        let now = self.inner.clock.now();
        if exp.saturating_add(s.leeway) <= now {
            return Err(InvalidToken::Expired);
        }
        if nbf.is_some_and(|nbf| nbf > now.saturating_add(s.leeway)) {
            return Err(InvalidToken::NotYetValid);
        }
        if iat.is_some_and(|iat| iat > now.saturating_add(s.leeway)) {
            return Err(InvalidToken::IssuedInFuture);
        }
        self.check_party(iss, aud)
    }

    /// Steps 10–11: `iss` and `aud` (the party claims), also checked on the expired
    /// tokens that logout and the CSRF pre-check accept.
    pub(crate) fn check_party(
        &self,
        iss: Option<&str>,
        aud: Option<&Audience>,
    ) -> Result<(), InvalidToken> {
        let s = &self.inner.settings;
        if let Some(expected) = &s.issuer
            && iss != Some(expected.as_str())
        {
            return Err(InvalidToken::WrongIssuer);
        }
        match (&s.audience, aud) {
            (Some(expected), Some(aud)) if aud.contains(expected) => {}
            (None, None) => {}
            _ => return Err(InvalidToken::WrongAudience),
        }
        Ok(())
    }

    /// Steps 1–12 for a token of one of the `accepted` kinds.
    pub(crate) fn verify_kinds<T: DeserializeOwned>(
        &self,
        token: &str,
        accepted: KindSet,
    ) -> Result<TokenClaims<T>, InvalidToken> {
        let claims = self.verify_untimed::<T>(token, accepted)?;
        self.check_time_and_party(
            claims.exp,
            claims.nbf,
            Some(claims.iat),
            claims.iss.as_deref(),
            claims.aud.as_ref(),
        )?;
        Ok(claims)
    }

    /// Steps 1–8 and 12, but neither time nor party: who a token speaks for, even when it
    /// has expired (logout, the compromise check). Never grants access by itself.
    pub(crate) fn verify_untimed<T: DeserializeOwned>(
        &self,
        token: &str,
        accepted: KindSet,
    ) -> Result<TokenClaims<T>, InvalidToken> {
        let verified = self.verify_signature(token)?;
        let kind = verified
            .typ
            .as_deref()
            .and_then(TokenKind::from_typ)
            .filter(|k| accepted.contains(*k))
            .ok_or(InvalidToken::WrongKind {
                expected: accepted.primary(),
            })?;
        let mut claims: TokenClaims<T> =
            serde_json::from_slice(&verified.payload).map_err(|_| InvalidToken::InvalidClaims)?;
        claims.kind = kind;
        if !is_valid_id(&claims.sub) || !is_valid_id(&claims.jti) {
            return Err(InvalidToken::InvalidClaims);
        }
        Ok(claims)
    }

    /// Checks an access token completely except for revocation (steps 1–12), without
    /// waiting on anything. Use [`validate`](Self::validate) to include revocation.
    pub fn verify_offline<T: DeserializeOwned>(
        &self,
        token: &str,
        kind: TokenKind,
    ) -> Result<TokenClaims<T>, AuthError> {
        self.verify_kinds(token, KindSet::of(kind))
            .map_err(|e| self.rejected(e))
    }

    /// Validates an access token completely, revocation included: what the layer does.
    pub async fn validate<T: DeserializeOwned>(
        &self,
        token: &str,
    ) -> Result<TokenClaims<T>, AuthError> {
        self.validate_kind(token, TokenKind::Access).await
    }

    /// Validates a token of `kind` completely, revocation included.
    pub async fn validate_kind<T: DeserializeOwned>(
        &self,
        token: &str,
        kind: TokenKind,
    ) -> Result<TokenClaims<T>, AuthError> {
        let claims = self.verify_offline::<T>(token, kind)?;
        self.check_revoked(&claims).await?;
        Ok(claims)
    }

    /// Step 13: refuses a revoked token id or an outdated subject generation (and fails
    /// closed when the store is down).
    pub(crate) async fn check_revoked<T>(&self, claims: &TokenClaims<T>) -> Result<(), AuthError> {
        let digest = TokenDigest::of_jti(&claims.jti);
        let check = RevocationCheck {
            digest: &digest,
            subject: &claims.sub,
            generation: claims.generation,
            issued_at: claims.iat,
        };
        let store = &self.inner.revocation;
        let revoked = match store.check_now(&check) {
            Some(r) => r,
            None => store.check(&check).await,
        };
        self.revocation_verdict(revoked, &digest)
    }

    /// Revokes every token of `subject` issued so far, however it was minted
    /// ([`Sessions`](crate::Sessions), `issue_access`, `issue_service`, `issue_granted`,
    /// …): one write, whatever the number of tokens. Tokens carrying a subject generation
    /// (`gen`) are refused by generation, the others by their `iat` against now (so a
    /// token without `gen` minted in the same second is refused too). Returns the
    /// subject's new generation.
    pub async fn revoke_all_for_user(&self, subject: &str) -> Result<u64, RevokeError> {
        let generation = self
            .inner
            .revocation
            .revoke_all_for(subject, self.now())
            .await
            .map_err(RevokeError::Store)?;
        tracing::info!(generation, "all tokens of a subject revoked");
        Ok(generation)
    }

    /// Turns a revocation lookup into the layer's verdict (fail closed on store errors).
    pub(crate) fn revocation_verdict(
        &self,
        revoked: Result<bool, crate::store::StoreError>,
        digest: &TokenDigest,
    ) -> Result<(), AuthError> {
        match revoked {
            Ok(false) => Ok(()),
            Ok(true) => {
                tracing::debug!(jti_digest = %digest.short(), "revoked token refused");
                Err(AuthError::InvalidToken(InvalidToken::Revoked))
            }
            Err(e) => match self.inner.settings.failure_policy {
                StoreFailurePolicy::FailOpen => {
                    tracing::warn!(jti_digest = %digest.short(), error = %e, "revocation check failed; accepting (fail open)");
                    Ok(())
                }
                _ => {
                    tracing::warn!(jti_digest = %digest.short(), error = %e, "revocation check failed; refusing (fail closed)");
                    Err(AuthError::StoreUnavailable)
                }
            },
        }
    }

    pub(crate) fn rejected(&self, reason: InvalidToken) -> AuthError {
        tracing::debug!(%reason, "token rejected");
        AuthError::InvalidToken(reason)
    }

    /// Verifies any JWT signed by a key of the keyring, whatever its format: signature,
    /// algorithm, `exp` (required), `nbf`, `iat`, `iss` and `aud` as configured. No kind,
    /// `sub` or `jti` is required and revocation is not checked; use it for interop with
    /// tokens this crate did not mint.
    pub fn verify_jwt<T: DeserializeOwned>(&self, token: &str) -> Result<T, AuthError> {
        let verified = self.verify_signature(token).map_err(|e| self.rejected(e))?;
        let party: TimeAndParty = serde_json::from_slice(&verified.payload)
            .map_err(|_| self.rejected(InvalidToken::InvalidClaims))?;
        let exp = party
            .exp
            .ok_or_else(|| self.rejected(InvalidToken::InvalidClaims))?;
        self.check_time_and_party(
            exp,
            party.nbf,
            party.iat,
            party.iss.as_deref(),
            party.aud.as_ref(),
        )
        .map_err(|e| self.rejected(e))?;
        serde_json::from_slice(&verified.payload)
            .map_err(|_| self.rejected(InvalidToken::InvalidClaims))
    }

    /// Revokes a token: its `jti` digest is stored until the token can no longer be
    /// accepted (its expiry plus the leeway), and the layer refuses it from then on. The
    /// token must carry a valid signature from the keyring (any kind); a token already
    /// past that point needs no revocation and is accepted as is. A token with a `sub` is
    /// counted against its subject's share of a bounded store (see
    /// [`revoke_jti_for`](Self::revoke_jti_for)): past it, all of the subject's tokens are
    /// revoked instead, never fewer.
    pub async fn revoke(&self, token: &str) -> Result<(), RevokeError> {
        #[derive(Deserialize)]
        struct Id {
            jti: String,
            exp: u64,
            #[serde(default)]
            sub: Option<String>,
        }
        let verified = self.verify_signature(token).map_err(RevokeError::Invalid)?;
        let id: Id = serde_json::from_slice(&verified.payload)
            .map_err(|_| RevokeError::Invalid(InvalidToken::InvalidClaims))?;
        match id.sub.filter(|s| is_valid_id(s)) {
            Some(sub) => self.revoke_jti_for(&sub, &id.jti, id.exp).await,
            None => self.revoke_jti(&id.jti, id.exp).await,
        }
    }

    /// Revokes `subject`'s token by `jti` and expiry, counted against the subject's share
    /// of the revocation store (see
    /// [`RevocationStore::revoke_for`](crate::store::RevocationStore::revoke_for)).
    pub async fn revoke_jti_for(
        &self,
        subject: &str,
        jti: &str,
        expires_at: u64,
    ) -> Result<(), RevokeError> {
        let digest = TokenDigest::of_jti(jti);
        let until = expires_at.saturating_add(self.inner.settings.leeway);
        self.inner
            .revocation
            .revoke_for(subject, digest, until)
            .await
            .map_err(RevokeError::Store)?;
        tracing::info!(jti_digest = %digest.short(), "token revoked");
        Ok(())
    }

    /// Revokes by `jti` and expiry (when the token itself is not at hand).
    pub async fn revoke_jti(&self, jti: &str, expires_at: u64) -> Result<(), RevokeError> {
        let digest = TokenDigest::of_jti(jti);
        // Tokens are accepted until `exp + leeway`: the revocation must last as long.
        let until = expires_at.saturating_add(self.inner.settings.leeway);
        self.inner
            .revocation
            .revoke(digest, until)
            .await
            .map_err(RevokeError::Store)?;
        tracing::info!(jti_digest = %digest.short(), "token revoked");
        Ok(())
    }
}

/// Why a token could not be revoked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RevokeError {
    /// The token is not one of ours (bad signature, malformed …).
    #[error("cannot revoke: {0}")]
    Invalid(InvalidToken),
    /// The store failed.
    #[error("cannot revoke: {0}")]
    Store(crate::store::StoreError),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::FixedClock;
    use crate::issue::TokenRequest;
    use crate::{NoCustomClaims, TokenAuthBuilder};

    const SECRET: &str = "0123456789abcdefghijklmnopqrstuvwxyzABCDEF";

    fn builder() -> TokenAuthBuilder {
        TokenAuth::builder().hs256_secret(SECRET)
    }

    fn at(t: u64) -> TokenAuth {
        builder().clock(FixedClock(t)).build().unwrap()
    }

    type C = TokenClaims<NoCustomClaims>;

    #[test]
    fn round_trip() {
        let a = at(1_000_000);
        let t = a
            .issue_access(
                &TokenRequest::new("alice")
                    .scopes(["users:read"])
                    .tenant("acme"),
            )
            .unwrap();
        let c: C = a.verify_offline(t.as_str(), TokenKind::Access).unwrap();
        assert_eq!(c.sub, "alice");
        assert_eq!(c.tenant.as_deref(), Some("acme"));
        assert!(c.has_scope("users:read"));
        assert_eq!(c.kind, TokenKind::Access);
        assert_eq!(c.jti, t.jti);
    }

    #[test]
    fn expiry_respects_leeway() {
        let issuer = at(1_000_000);
        let t = issuer.issue_access(&TokenRequest::new("a")).unwrap();
        let exp = t.expires_at;
        let ok = at(exp + 29).verify_offline::<NoCustomClaims>(t.as_str(), TokenKind::Access);
        assert!(ok.is_ok());
        let e = at(exp + 30)
            .verify_offline::<NoCustomClaims>(t.as_str(), TokenKind::Access)
            .unwrap_err();
        assert_eq!(e, AuthError::InvalidToken(InvalidToken::Expired));
    }

    #[test]
    fn issued_in_future_is_refused() {
        let t = at(2_000_000).issue_access(&TokenRequest::new("a")).unwrap();
        let e = at(1_000_000)
            .verify_offline::<NoCustomClaims>(t.as_str(), TokenKind::Access)
            .unwrap_err();
        assert_eq!(e, AuthError::InvalidToken(InvalidToken::IssuedInFuture));
    }

    #[test]
    fn kinds_never_cross() {
        let a = at(1_000_000);
        let r = a.issue_refresh(&TokenRequest::new("a")).unwrap();
        let e = a
            .verify_offline::<NoCustomClaims>(r.as_str(), TokenKind::Access)
            .unwrap_err();
        assert_eq!(
            e,
            AuthError::InvalidToken(InvalidToken::WrongKind {
                expected: TokenKind::Access
            })
        );
        assert!(
            a.verify_offline::<NoCustomClaims>(r.as_str(), TokenKind::Refresh)
                .is_ok()
        );
    }

    #[test]
    fn kind_set_contains() {
        let s = KindSet::of(TokenKind::Access).with(TokenKind::Service);
        assert!(s.contains(TokenKind::Access) && s.contains(TokenKind::Service));
        assert!(!s.contains(TokenKind::Refresh));
    }

    #[tokio::test]
    async fn revoked_token_is_refused() {
        let a = at(1_000_000);
        // The memory store uses the system clock; give the token a real expiry.
        let real = builder().build().unwrap();
        let t = real.issue_access(&TokenRequest::new("a")).unwrap();
        assert!(real.validate::<NoCustomClaims>(t.as_str()).await.is_ok());
        real.revoke(t.as_str()).await.unwrap();
        assert_eq!(
            real.validate::<NoCustomClaims>(t.as_str())
                .await
                .unwrap_err(),
            AuthError::InvalidToken(InvalidToken::Revoked)
        );
        // A token of another key cannot be revoked through us.
        let other = TokenAuth::builder()
            .hs256_secret("zyxwvutsrqponmlkjihgfedcba9876543210ZYXW")
            .build()
            .unwrap();
        let foreign = other.issue_access(&TokenRequest::new("a")).unwrap();
        assert_eq!(
            a.revoke(foreign.as_str()).await.unwrap_err(),
            RevokeError::Invalid(InvalidToken::BadSignature)
        );
    }
}
