//! Logout: [`Sessions::logout`] ends the session a presented token names, with its access
//! tokens; a legacy format's token is revoked by itself.

use serde_json::{Map, Value};

use crate::http::DpopProof;
use crate::session::error::SessionError;
use crate::session::hooks::SessionEvent;
use crate::session::sessions::{Sessions, short, store_failed};
use crate::token::TokenOrigin;
use crate::token::claims::TokenKind;
use crate::token::error::InvalidToken;
use crate::trust::bound::token_request_proven;
use crate::trust::verify::{Accepted, KindSet, TokenIdentity};

impl Sessions {
    /// Logs out: revokes the session named by the refresh token (or, without one, by the
    /// access token's `fam`), the access tokens it knew, and the presented access token.
    /// Expired tokens are accepted here (they still say which session to end); a token
    /// naming another user's session ends nothing ([`SessionError::NotOwner`]), an ended
    /// or unknown session is no error (logging out twice is fine).
    ///
    /// When the revocation store cannot take one of the session's access tokens, the
    /// answer is [`SessionError::RevocationPending`] (503), not success: the session is
    /// ended (its refresh tokens are refused), and the access tokens not yet revoked are
    /// retried in the background until written or expired. The same holds for
    /// [`revoke_session`](Self::revoke_session), [`revoke_user`](Self::revoke_user) and
    /// the session ended by a detected refresh-token reuse.
    pub async fn logout(
        &self,
        refresh_token: Option<&str>,
        access_token: Option<&str>,
    ) -> Result<(), SessionError> {
        self.logout_with_proof(refresh_token, access_token, None)
            .await
    }

    /// [`logout`](Self::logout) with the request's DPoP proof (checked for the logout
    /// route, as the logout route reads it): a DPoP-bound token ends its session only
    /// with a proof by its key — a copied token cannot log its user out either. Without
    /// a proof, or with another key's, the logout is refused (401 `invalid_token`) and
    /// the session goes on.
    pub async fn logout_with_proof(
        &self,
        refresh_token: Option<&str>,
        access_token: Option<&str>,
        proof: Option<&DpopProof>,
    ) -> Result<(), SessionError> {
        let auth = &self.inner.auth;
        let refresh: Option<Accepted<Map<String, Value>>> = match refresh_token {
            Some(t) => Some(self.verify_session_token(t, KindSet::of(TokenKind::Refresh))?),
            None => None,
        };
        let access: Option<Accepted<crate::token::NoCustomClaims>> = match access_token {
            Some(t) => Some(self.verify_session_token(t, KindSet::of(TokenKind::Access))?),
            None => None,
        };
        if refresh.is_none() && access.is_none() {
            return Err(SessionError::MissingToken);
        }
        let bound = [
            refresh.as_ref().and_then(|r| r.claims.cnf.as_deref()),
            access.as_ref().and_then(|a| a.claims.cnf.as_deref()),
        ];
        for cnf in bound {
            token_request_proven(cnf, proof.map(DpopProof::thumbprint))
                .map_err(|e| self.refused(e))?;
        }
        // A legacy format's token (a migration window) names no session of ours: it is
        // revoked by the identity verification gave it, and that is all.
        let (refresh, legacy_refresh) = split_legacy(refresh);
        let (access, legacy_access) = split_legacy(access);
        for (sub, identity) in legacy_refresh.iter().chain(legacy_access.iter()) {
            auth.revoke_verified(sub, identity)
                .await
                .map_err(revocation_failed)?;
        }
        let refresh = refresh.map(|r| r.claims);
        // The session to end, and whose token named it.
        let session = refresh
            .as_ref()
            .and_then(|r| r.fam.clone().map(|f| (f, r.sub.clone())))
            .or_else(|| {
                access
                    .as_ref()
                    .and_then(|a| a.claims.fam.clone().map(|f| (f, a.claims.sub.clone())))
            });
        // Ownership first: a token naming another user's session ends nothing. An ended
        // or unknown session is fine (logging out twice is not an error).
        if let Some((session, owner)) = &session {
            if !crate::token::issue::is_valid_id(session) {
                return Err(self.refused(InvalidToken::InvalidClaims));
            }
            match self.owned_session_end(session, owner).await {
                Ok(_) | Err(SessionError::SessionEnded) => {}
                Err(e) => return Err(e),
            }
        }
        if let Some(a) = &access {
            auth.revoke_verified(&a.claims.sub, &a.identity)
                .await
                .map_err(revocation_failed)?;
        }
        if let Some((session, owner)) = &session {
            let known = self
                .inner
                .store
                .revoke_session(session)
                .await
                .map_err(store_failed)?;
            self.revoke_access(owner, &known).await?;
        }
        let session = session.map(|(f, _)| f);
        let user_id = refresh
            .map(|r| r.sub)
            .or(access.map(|a| a.claims.sub))
            .or(legacy_refresh.or(legacy_access).map(|(sub, _)| sub));
        tracing::info!(
            family = session.as_deref().map(short).unwrap_or_default(),
            "logged out"
        );
        self.inner
            .hooks
            .on_event(&SessionEvent::Revoked {
                user_id,
                session_id: session,
            })
            .await;
        Ok(())
    }
}

/// A presented token the revocation store could not take, logged.
fn revocation_failed(e: crate::trust::RevokeError) -> SessionError {
    tracing::warn!(error = %e, "logout: could not revoke a presented token");
    SessionError::RevocationUnavailable
}

/// Splits a verified token into one of the crate's own, or a legacy format's subject and
/// identity.
fn split_legacy<T>(
    token: Option<Accepted<T>>,
) -> (Option<Accepted<T>>, Option<(String, TokenIdentity)>) {
    match token {
        Some(t) if t.claims.origin == TokenOrigin::Legacy => {
            (None, Some((t.claims.sub, t.identity)))
        }
        other => (other, None),
    }
}
