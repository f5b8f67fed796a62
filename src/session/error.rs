//! [`SessionError`]: why a session operation (login, refresh, logout, a session list, a
//! revocation) did not happen.

use crate::store::StoreError;
use crate::token::error::InvalidToken;
use crate::token::issue::IssueError;

/// Why a session operation did not happen: what [`Sessions::login`](crate::Sessions::login),
/// [`refresh`](crate::Sessions::refresh), [`logout`](crate::Sessions::logout),
/// [`list`](crate::Sessions::list), [`revoke_session`](crate::Sessions::revoke_session) and
/// [`revoke_user`](crate::Sessions::revoke_user) return.
///
/// Descriptions are fixed strings: nothing a client sent is echoed, and a store's or a
/// token request's detail is the error's [`source`](std::error::Error::source), for the
/// logs. The session routes answer each variant as an [`AuthError`](crate::AuthError)
/// (`From<SessionError> for AuthError`, documented there with the whole table); a handler
/// can return it as a response too (it implements
/// [`IntoResponse`](axum::response::IntoResponse)), so a login handler can use `?` on the
/// password check and on [`Sessions::login`](crate::Sessions::login) alike:
///
/// ```
/// use axum::response::{IntoResponse, Response};
/// use axum_token_auth::session::SessionError;
///
/// async fn login(/* credentials */) -> Result<Response, SessionError> {
///     let password_ok = false; // your check
///     if !password_ok {
///         return Err(SessionError::InvalidCredentials);
///     }
///     // let login = sessions.login(&TokenRequest::new(user), user_agent(&headers)).await?;
///     // Ok(sessions.login_response(&login))
///     # unreachable!()
/// }
/// let res = SessionError::InvalidCredentials.into_response();
/// assert_eq!(res.status(), 401);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// The user name or password is wrong: for the application's login handler to
    /// return (401 `invalid_grant`).
    #[error("invalid credentials")]
    InvalidCredentials,
    /// A logout presented neither a refresh token nor an access token (401, a bare
    /// challenge).
    #[error("no token was presented")]
    MissingToken,
    /// A presented token was refused before any session was looked up, for the reason
    /// given: malformed, a bad signature, expired, revoked, of the wrong kind, not this
    /// service's own, naming no valid session id (401 `invalid_token`).
    #[error("the token was refused: {0}")]
    InvalidToken(InvalidToken),
    /// The token names a session of another user: nothing was done (401
    /// `invalid_token`, "the token claims are invalid").
    #[error("the token names another user's session")]
    NotOwner,
    /// The refresh token's session has ended (logout, revocation, its absolute lifetime)
    /// or never existed (401 `invalid_token`).
    #[error("the session has ended")]
    SessionEnded,
    /// The refresh token was already used (reuse outside the grace window): the session
    /// was ended with its access tokens (401 `invalid_token`).
    #[error("the refresh token was already used; the session was ended")]
    RefreshReused,
    /// The access token presented with the refresh token is not the one issued with it,
    /// so the refresh token is taken for stolen: the session was ended with its access
    /// tokens (401 `invalid_token`, answered as [`RefreshReused`](Self::RefreshReused)).
    #[error("the access token is not the refresh token's; the session was ended")]
    AccessTokenMismatch,
    /// [`SessionHooks::on_refresh`](crate::session::SessionHooks::on_refresh) denied the
    /// refresh: the session was ended with its access tokens (401 `invalid_token`).
    #[error("the refresh was denied; the session was ended")]
    RefreshDenied,
    /// A refresh presented a still-valid access token, with
    /// [`require_expired_access`](crate::session::SessionsBuilder::require_expired_access)
    /// on (400 `invalid_request`).
    #[error("the access token has not expired yet")]
    AccessTokenNotExpired,
    /// The refresh store (where sessions live) failed: unreachable, full, or answering
    /// nonsense (503 `temporarily_unavailable`, `Retry-After`).
    #[error("the session store is unavailable")]
    Store(#[source] StoreError),
    /// The revocation store failed: the presented token's revocation could not be
    /// checked, or a token could not be revoked (503 `temporarily_unavailable`,
    /// `Retry-After`).
    #[error("the revocation store is unavailable")]
    RevocationUnavailable,
    /// The session was ended (its refresh tokens are refused), but some of its access
    /// tokens could not be revoked yet: they are retried in the background until written
    /// or expired (503 `temporarily_unavailable`, `Retry-After`: the client must not take
    /// the session for ended everywhere yet).
    #[error("the session ended; some of its access tokens are not revoked yet")]
    RevocationPending,
    /// A token could not be issued: the login's token request (its subject, scopes or
    /// claims) was refused, signing failed, the random source failed, or a successor is
    /// over [`max_token_bytes`](crate::TokenAuthBuilder::max_token_bytes). The
    /// application's mistake or a broken key, never the client's (500).
    #[error("a token could not be issued")]
    Issue(#[source] IssueError),
    /// [`SessionHooks::on_refresh`](crate::session::SessionHooks::on_refresh) returned
    /// successor claims no token can carry (a scope outside the grammar, a claim name this
    /// crate owns): the application's mistake (500).
    #[error("on_refresh returned claims no token can carry")]
    InvalidSuccessorClaims(#[source] IssueError),
}

impl SessionError {
    /// A refusal of the verification pipeline, with the refusals that name a session's
    /// fate as their own variants.
    pub(crate) fn refused(reason: InvalidToken) -> Self {
        match reason {
            InvalidToken::SessionEnded => SessionError::SessionEnded,
            InvalidToken::RefreshReused => SessionError::RefreshReused,
            InvalidToken::RefreshDenied => SessionError::RefreshDenied,
            reason => SessionError::InvalidToken(reason),
        }
    }

    /// Whether the session the presented token named is over (ended before, or by this
    /// very request): the refresh route clears the client's cookies.
    pub(crate) fn session_is_over(&self) -> bool {
        matches!(
            self,
            SessionError::SessionEnded
                | SessionError::RefreshReused
                | SessionError::AccessTokenMismatch
                | SessionError::RefreshDenied
        )
    }
}

impl From<StoreError> for SessionError {
    fn from(e: StoreError) -> Self {
        SessionError::Store(e)
    }
}

impl From<IssueError> for SessionError {
    fn from(e: IssueError) -> Self {
        SessionError::Issue(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_echo_no_detail() {
        let e = SessionError::Store(StoreError::Unavailable("redis://secret-host".into()));
        assert_eq!(e.to_string(), "the session store is unavailable");
        let e = SessionError::Issue(IssueError::ReservedClaim("client-chosen".into()));
        assert!(!e.to_string().contains("client-chosen"));
        assert!(std::error::Error::source(&e).is_some());
    }

    #[test]
    fn refusals_naming_a_session_become_its_variants() {
        assert_eq!(
            SessionError::refused(InvalidToken::SessionEnded),
            SessionError::SessionEnded
        );
        assert_eq!(
            SessionError::refused(InvalidToken::Expired),
            SessionError::InvalidToken(InvalidToken::Expired)
        );
        assert!(SessionError::AccessTokenMismatch.session_is_over());
        assert!(!SessionError::RevocationPending.session_is_over());
    }
}
