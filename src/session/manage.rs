//! Session management: [`Sessions::list`], [`Sessions::revoke_session`] ("log out that
//! device"), [`Sessions::revoke_user`] ("log out everywhere"), and the revocation of an
//! ended session's access tokens that every ending shares.

use crate::session::error::SessionError;
use crate::session::hooks::SessionEvent;
use crate::session::sessions::{Sessions, store_failed};
use crate::store::{AccessRef, Session};
use crate::trust::revoke::Revocation;

impl Sessions {
    /// The user's active sessions, oldest first.
    pub async fn list(&self, user_id: &str) -> Result<Vec<Session>, SessionError> {
        self.inner
            .store
            .list_sessions(user_id, self.inner.auth.now())
            .await
            .map_err(store_failed)
    }

    /// Revokes one of the user's sessions ("log out that device"), with the access tokens
    /// it knew; `false` when the user has no such session. See [`logout`](Self::logout)
    /// for [`SessionError::RevocationPending`].
    pub async fn revoke_session(
        &self,
        user_id: &str,
        session_id: &str,
    ) -> Result<bool, SessionError> {
        // Ids we mint are 22 base64url characters; anything unprintable is no session
        // (and must not reach a store as a client-caused store error).
        if !crate::token::issue::is_valid_id(session_id) {
            return Ok(false);
        }
        let store = &self.inner.store;
        let owned = store
            .session(session_id, self.inner.auth.now())
            .await
            .map_err(store_failed)?
            .is_some_and(|s| s.user_id == user_id);
        if !owned {
            return Ok(false);
        }
        let known = store
            .revoke_session(session_id)
            .await
            .map_err(store_failed)?;
        self.revoke_access(user_id, &known).await?;
        self.inner
            .hooks
            .on_event(&SessionEvent::Revoked {
                user_id: Some(user_id.to_owned()),
                session_id: Some(session_id.to_owned()),
            })
            .await;
        Ok(true)
    }

    /// Revokes every session of the user (password change, security event) and every
    /// token minted for them through these sessions: the user's generation is bumped (one
    /// write: every access and refresh token carrying an older generation is refused),
    /// and the sessions are deleted. See [`logout`](Self::logout) for
    /// [`SessionError::RevocationPending`].
    pub async fn revoke_user(&self, user_id: &str) -> Result<(), SessionError> {
        self.inner
            .auth
            .revoke(Revocation::subject(user_id))
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "could not revoke a user's tokens");
                SessionError::RevocationUnavailable
            })?;
        let known = self
            .inner
            .store
            .revoke_user(user_id)
            .await
            .map_err(store_failed)?;
        self.revoke_access(user_id, &known).await?;
        self.inner
            .hooks
            .on_event(&SessionEvent::Revoked {
                user_id: Some(user_id.to_owned()),
                session_id: None,
            })
            .await;
        Ok(())
    }

    /// Revokes `user_id`'s access tokens of an ended session (counted against the user's
    /// share of the revocation store, see [`SubjectRevocation::revoke_for`](crate::store::SubjectRevocation::revoke_for)).
    pub(super) async fn revoke_access(
        &self,
        user_id: &str,
        access: &[AccessRef],
    ) -> Result<(), SessionError> {
        // Every one is tried; one failure fails the whole (503): the caller must not
        // report an ended session while one of its access tokens is still accepted. The
        // session is gone from the refresh store by now (its refresh tokens are refused),
        // so the ones that failed are retried in the background until they are written
        // or have expired: when the store is back, none of them is accepted again.
        let mut failed = Vec::new();
        for a in access {
            if let Err(e) = self
                .inner
                .auth
                .revoke(Revocation::id(&a.jti, a.expires_at).held_by(user_id))
                .await
            {
                tracing::warn!(error = %e, "could not revoke an access token of a revoked family; retrying in the background");
                failed.push(a.clone());
            }
        }
        if failed.is_empty() {
            return Ok(());
        }
        let auth = self.inner.auth.clone();
        let user_id = user_id.to_owned();
        tokio::spawn(async move {
            let mut delay = std::time::Duration::from_millis(250);
            while !failed.is_empty() {
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(std::time::Duration::from_secs(5));
                // Retried as long as the token would be accepted.
                let now = auth.now();
                let verifier = &auth.verifier();
                let mut left = Vec::new();
                for a in failed
                    .into_iter()
                    .filter(|a| verifier.own_until(a.expires_at) > now)
                {
                    if auth
                        .revoke(Revocation::id(&a.jti, a.expires_at).held_by(&user_id))
                        .await
                        .is_err()
                    {
                        left.push(a);
                    }
                }
                failed = left;
            }
        });
        Err(SessionError::RevocationPending)
    }
}
