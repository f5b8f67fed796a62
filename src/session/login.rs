//! Logins: [`Sessions::login`] starts a session, [`LoginSession`] is what it hands over,
//! [`SessionInfo`] what a session list shows about it.

use std::fmt;
use std::time::Duration;

use crate::http::csrf::digest_bytes;
use crate::session::error::SessionError;
use crate::session::hooks::SessionEvent;
use crate::session::sessions::{Sessions, short, store_failed};
use crate::store::{AccessRef, NewSession, TokenDigest};
use crate::token::claims::TokenKind;
use crate::token::issue::{TokenPair, TokenRequest, random_id};

/// A login's (or a refresh's) result: the pair, the CSRF value for the readable cookie,
/// the session id.
#[derive(Clone)]
pub struct LoginSession {
    /// The tokens.
    pub pair: TokenPair,
    /// The CSRF value (set as the readable cookie, echoed in `X-CSRF-Token`).
    pub csrf: String,
    /// The session id (the tokens' `fam` claim).
    pub session_id: String,
}

impl fmt::Debug for LoginSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginSession")
            .field("pair", &self.pair)
            .field("session_id", &self.session_id)
            .finish_non_exhaustive()
    }
}

/// What a session list shows about a session, given at login
/// ([`Sessions::login_with`]). All optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionInfo {
    /// The client's `User-Agent` (see [`user_agent`](crate::session::user_agent)).
    pub user_agent: Option<String>,
    /// A device name the application chose ("Alice's phone").
    pub device: Option<String>,
    /// The client's IP address as the application saw it (e.g. axum's `ConnectInfo`;
    /// a forwarded header only behind a proxy you trust).
    pub ip: Option<String>,
}

impl SessionInfo {
    /// Sets the user agent.
    ///
    /// ```
    /// use axum_token_auth::session::SessionInfo;
    ///
    /// let info = SessionInfo::default().user_agent("Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0");
    /// # let _ = info;
    /// ```
    #[must_use]
    pub fn user_agent(mut self, ua: impl Into<String>) -> Self {
        self.user_agent = Some(ua.into());
        self
    }

    /// Sets the device name.
    ///
    /// ```
    /// use axum_token_auth::session::SessionInfo;
    ///
    /// let info = SessionInfo::default().device("Alice's laptop");
    /// # let _ = info;
    /// ```
    #[must_use]
    pub fn device(mut self, device: impl Into<String>) -> Self {
        self.device = Some(device.into());
        self
    }

    /// Sets the IP address.
    ///
    /// ```
    /// use axum_token_auth::session::SessionInfo;
    ///
    /// let ip: std::net::IpAddr = "203.0.113.7".parse().unwrap();
    /// let info = SessionInfo::default().ip(ip);
    /// # let _ = info;
    /// ```
    #[must_use]
    pub fn ip(mut self, ip: impl std::fmt::Display) -> Self {
        self.ip = Some(ip.to_string());
        self
    }
}

/// At most 256 characters of session metadata.
fn cut(s: &str) -> String {
    s.chars().take(256).collect()
}

impl Sessions {
    /// Starts a session for `request` (after the application checked the credentials):
    /// a new session id, a pair bound to it and to a fresh CSRF value. The request's
    /// [`ttl`](TokenRequest::ttl) is the access token's (the refresh token keeps the
    /// configured lifetime), and no token of the login outlives the session.
    ///
    /// Fails with [`SessionError::Store`] or [`SessionError::RevocationUnavailable`] when
    /// a store is down (503), [`SessionError::Issue`] when the request is refused (500).
    pub async fn login(
        &self,
        request: &TokenRequest,
        user_agent: Option<&str>,
    ) -> Result<LoginSession, SessionError> {
        let info = SessionInfo {
            user_agent: user_agent.map(str::to_owned),
            ..SessionInfo::default()
        };
        self.login_with(request, &info).await
    }

    /// [`login`](Self::login) with the session's metadata (user agent, device name, IP),
    /// shown in session lists; each value is cut to 256 characters.
    ///
    /// **Authentication context.** A login is an authentication: its tokens carry
    /// `auth_time` = now unless the request sets one
    /// ([`TokenRequest::auth_time`]), and the `acr`/`amr` the request sets
    /// ([`TokenRequest::acr`], [`TokenRequest::amr`]: how the application checked the
    /// user). Refreshes keep all three; a completed second factor raises them
    /// ([`Sessions::mark_second_factor`]).
    pub async fn login_with(
        &self,
        request: &TokenRequest,
        info: &SessionInfo,
    ) -> Result<LoginSession, SessionError> {
        let now = self.inner.auth.now();
        let mut request = request.clone();
        if request.auth_time.is_none() {
            request.auth_time = Some(now);
        }
        self.start_session(request, info).await
    }

    /// Starts a session for `request` as it is (an exchange of a legacy refresh token
    /// starts one without `auth_time`: nobody authenticated now).
    pub(super) async fn start_session(
        &self,
        request: TokenRequest,
        info: &SessionInfo,
    ) -> Result<LoginSession, SessionError> {
        let s = &self.inner;
        let auth = &s.auth;
        let session_id = random_id()?;
        let csrf = random_id()?;
        let generation = auth
            .verifier()
            .revocation
            .subject_cutoff(&request.subject)
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "login: revocation store unavailable");
                SessionError::RevocationUnavailable
            })?
            .generation;
        let mut request = request;
        request.family = Some(session_id.clone());
        request.generation = Some(generation);
        request.csrf = Some(digest_bytes(csrf.as_bytes()));
        let now = auth.now();
        let session_end = now + s.session_lifetime;
        // The request's ttl is the access token's (as in `issue_pair`); no token of the
        // login outlives the session.
        let access_ttl = request
            .ttl
            .unwrap_or(auth.access_ttl())
            .min(Duration::from_secs(s.session_lifetime));
        let access = auth.issue(TokenKind::Access, &request.clone().ttl(access_ttl))?;
        request.ttl = None;
        let refresh = auth.issue(TokenKind::Refresh, &request)?;
        s.store
            .create_session(NewSession {
                session_id: session_id.clone(),
                user_id: request.subject.clone(),
                refresh: TokenDigest::of_jti(&refresh.jti),
                access: AccessRef {
                    jti: access.jti.clone(),
                    expires_at: access.expires_at,
                },
                created_at: now,
                expires_at: session_end,
                user_agent: info.user_agent.as_deref().map(cut),
                device: info.device.as_deref().map(cut),
                ip: info.ip.as_deref().map(cut),
            })
            .await
            .map_err(store_failed)?;
        tracing::info!(family = %short(&session_id), "session started");
        s.hooks
            .on_event(&SessionEvent::Issued {
                user_id: request.subject.clone(),
                session_id: session_id.clone(),
            })
            .await;
        Ok(LoginSession {
            pair: TokenPair { access, refresh },
            csrf,
            session_id,
        })
    }
}
