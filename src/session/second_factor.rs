//! Step-up within a session: [`Sessions::mark_second_factor`] raises a session's
//! authentication ([`SecondFactor`]) once the application has checked a second factor.

use crate::http::DpopProof;
use crate::session::error::SessionError;
use crate::session::login::LoginSession;
use crate::session::sessions::Sessions;
use crate::token::claims::TokenClaims;
use crate::token::issue::IssueError;
use crate::token::step_up::check_acr;

/// What a completed second factor raises a session to: its `acr` (replaced), the `amr`
/// methods it adds (to those of the login), and `auth_time` = now. For
/// [`Sessions::mark_second_factor`].
///
/// ```
/// use axum_token_auth::session::SecondFactor;
///
/// let totp = SecondFactor::new("mfa").amr(["otp"]);
/// # let _ = totp;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct SecondFactor {
    acr: String,
    amr: Vec<String>,
}

impl SecondFactor {
    /// A second factor that makes the session's authentication context class `acr`
    /// (`"mfa"`, `"phr"`, a URI; the grammar of [`TokenRequest::acr`](crate::TokenRequest::acr)).
    pub fn new(acr: impl Into<String>) -> Self {
        SecondFactor {
            acr: acr.into(),
            amr: Vec::new(),
        }
    }

    /// Adds the methods of the factor (RFC 8176 `amr`: `"otp"`, `"hwk"`, `"sms"` …).
    pub fn amr<I, S>(mut self, methods: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.amr.extend(methods.into_iter().map(Into::into));
        self
    }

    /// Every value within the grammar (checked before anything is consumed).
    fn check(&self) -> Result<(), IssueError> {
        check_acr(&self.acr)?;
        for m in &self.amr {
            check_acr(m)?;
        }
        Ok(())
    }

    /// Raises the successor's claims: this `acr`, the parent's `amr` and this one's,
    /// `auth_time` = `now`.
    pub(super) fn apply<T>(&self, claims: &mut TokenClaims<T>, now: u64) {
        claims.acr = Some(self.acr.clone());
        let amr = claims.amr.get_or_insert_with(Vec::new);
        for m in &self.amr {
            if !amr.contains(m) {
                amr.push(m.clone());
            }
        }
        claims.auth_time = Some(now);
    }
}

impl Sessions {
    /// Marks a completed second factor on the session of `refresh_token` (RFC 9470
    /// step-up within a session): once the **application** has checked the factor (a
    /// TOTP code, a WebAuthn assertion …), the refresh token is rotated as by
    /// [`refresh_with_proof`](Self::refresh_with_proof) — every check of a refresh,
    /// reuse detection included — and the new pair carries `factor`'s `acr`, the
    /// login's `amr` plus `factor`'s, and `auth_time` = now. The session id stays; the
    /// refresh route keeps the raised values in every later refresh (and never raises
    /// them itself). Answer with [`login_response`](Self::login_response): the CSRF
    /// cookie of the session stays as it is.
    ///
    /// The refresh cookie is sent only to its path (`/auth` by default): put the
    /// application's second-factor route under it and read the token with
    /// [`PresentedRefresh`](crate::session::PresentedRefresh) (CSRF-checked), or take
    /// the refresh token in the body. With
    /// [`keep_refresh_token`](crate::session::SessionsBuilder::keep_refresh_token) on,
    /// this still rotates (a kept token would carry the old authentication into later
    /// refreshes).
    ///
    /// A legacy format's refresh token (accepted for an exchange) is refused
    /// (`InvalidToken::WrongIssuer`): exchange it with a refresh first.
    ///
    /// Refused before anything is consumed when `factor` holds a value outside the
    /// grammar ([`SessionError::InvalidSuccessorClaims`], 500).
    ///
    /// ```
    /// use axum_token_auth::{Sessions, TokenAuth, TokenRequest};
    /// use axum_token_auth::session::SecondFactor;
    /// use axum_token_auth::store::memory::MemoryRefreshStore;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let auth = TokenAuth::builder().hs256_secret("a-random-secret-of-at-least-32-bytes!!").build()?;
    /// let sessions = Sessions::builder(auth.clone(), MemoryRefreshStore::new()).build()?;
    ///
    /// let login = sessions.login(&TokenRequest::new("alice").acr("pwd").amr(["pwd"]), None).await?;
    /// // … the user enters a valid TOTP code …
    /// let raised = sessions
    ///     .mark_second_factor(login.pair.refresh.as_str(), &SecondFactor::new("mfa").amr(["otp"]), None)
    ///     .await?;
    /// let claims = auth
    ///     .validate::<axum_token_auth::NoCustomClaims>(raised.pair.access.as_str(), axum_token_auth::trust::TokenCheck::ACCESS)
    ///     .await?;
    /// assert_eq!(claims.acr.as_deref(), Some("mfa"));
    /// assert_eq!(claims.amr.as_deref(), Some(&["pwd".to_owned(), "otp".to_owned()][..]));
    /// assert_eq!(raised.session_id, login.session_id);
    /// # Ok(()) }
    /// ```
    pub async fn mark_second_factor(
        &self,
        refresh_token: &str,
        factor: &SecondFactor,
        proof: Option<&DpopProof>,
    ) -> Result<LoginSession, SessionError> {
        factor
            .check()
            .map_err(SessionError::InvalidSuccessorClaims)?;
        self.rotate_instrumented(refresh_token, None, proof, Some(factor))
            .await
    }
}
