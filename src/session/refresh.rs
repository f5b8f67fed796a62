//! Refresh: [`Sessions::refresh`] rotates a refresh token within its session (or, with
//! [`keep_refresh_token`](crate::session::SessionsBuilder::keep_refresh_token), mints a new
//! access token and keeps it), detects reuse, and exchanges a legacy format's refresh token
//! for a session when asked to.

use serde_json::{Map, Value};
use tracing::Instrument;

use crate::http::DpopProof;
use crate::session::error::SessionError;
use crate::session::hooks::{RefreshDecision, SessionEvent, SuccessorClaims};
use crate::session::login::LoginSession;
use crate::session::second_factor::SecondFactor;
use crate::session::sessions::{Sessions, short, store_failed};
use crate::store::{RotateOutcome, Rotation, Successor, TokenDigest};
use crate::token::TokenOrigin;
use crate::token::claims::{TokenClaims, TokenKind};
use crate::token::error::InvalidToken;
use crate::token::issue::{IssueError, IssuedToken, TokenPair, TokenRequest, random_id};
use crate::trust::VerifyError;
use crate::trust::bound::token_request_proven;
use crate::trust::dpop::DpopPolicy;
use crate::trust::verify::{Accepted, KindSet};

/// Raw claims: the registered ones typed, everything else (custom claims) kept as is, so
/// a successor carries exactly what its parent carried.
type RawClaims = TokenClaims<Map<String, Value>>;

impl Sessions {
    /// Rotates a refresh token: the presented token is consumed and a successor pair
    /// minted in the same session, with the same claims (never wider scopes) or those
    /// [`SessionHooks::on_refresh`](crate::session::SessionHooks::on_refresh) decides,
    /// which may also deny the refresh. The session must be active and belong to the
    /// token's `sub`; the successor access token is capped at the session's end. A
    /// consumed token presented again ends the whole session (except a retry of the
    /// immediate parent within the grace window, which gets the same successor).
    /// `access_token`, when the client presented one, must be the one issued with the
    /// refresh token.
    ///
    /// The returned [`LoginSession::csrf`] is empty: the CSRF value of the session is
    /// unchanged and stays in the client's cookie. Refusals say why ([`SessionError`]):
    /// the token itself, the session ended, reuse detected, denied by the hooks, a store
    /// down.
    pub async fn refresh(
        &self,
        refresh_token: &str,
        access_token: Option<&str>,
    ) -> Result<LoginSession, SessionError> {
        self.refresh_with_proof(refresh_token, access_token, None)
            .await
    }

    /// [`refresh`](Self::refresh) with the request's DPoP proof (RFC 9449 §5), checked
    /// for the refresh route ([`DpopProof`], or [`RefreshRequest::proof`](crate::session::RefreshRequest::proof)).
    ///
    /// * A session started with a proof is bound to its key: every token of it carries
    ///   `cnf.jkt`, and its refresh needs a proof by the **same** key. Without a proof
    ///   the refresh is refused (401 `invalid_token`, the session goes on). With a proof
    ///   by **another** key it is refused and the session is revoked, as for a reused
    ///   refresh token: only a thief holds the refresh token without the key.
    /// * A session started without a proof stays unbound: a proof on its refresh is
    ///   checked but binds nothing (its refresh token works without one anyway); the
    ///   answer says `token_type: "Bearer"`. Under [`DpopPolicy::Required`](crate::trust::dpop::DpopPolicy::Required)
    ///   its refresh is refused.
    pub async fn refresh_with_proof(
        &self,
        refresh_token: &str,
        access_token: Option<&str>,
        proof: Option<&DpopProof>,
    ) -> Result<LoginSession, SessionError> {
        self.rotate_instrumented(refresh_token, access_token, proof, None)
            .await
    }

    /// A refresh (`raise`: `None`) or a second factor's rotation, in its span; a
    /// refusal is told to the hooks.
    pub(super) async fn rotate_instrumented(
        &self,
        refresh_token: &str,
        access_token: Option<&str>,
        proof: Option<&DpopProof>,
        raise: Option<&SecondFactor>,
    ) -> Result<LoginSession, SessionError> {
        let span = tracing::debug_span!("refresh", second_factor = raise.is_some());
        let r = self
            .refresh_inner(refresh_token, access_token, proof, raise)
            .instrument(span)
            .await;
        if let Err(reason) = &r {
            self.inner
                .hooks
                .on_event(&SessionEvent::Denied {
                    reason: reason.clone(),
                })
                .await;
        }
        r
    }

    async fn refresh_inner(
        &self,
        refresh_token: &str,
        access_token: Option<&str>,
        proof: Option<&DpopProof>,
        raise: Option<&SecondFactor>,
    ) -> Result<LoginSession, SessionError> {
        let s = &self.inner;
        let auth = &s.auth;
        let verified = auth
            .verify_session::<Map<String, Value>>(
                refresh_token,
                KindSet::of(TokenKind::Refresh),
                s.legacy_exchange,
                true,
            )
            .map_err(|e| self.refused(e))?;
        if verified.claims.origin == TokenOrigin::Legacy {
            // A second factor raises one of our sessions: a legacy refresh token is
            // exchanged by a refresh first (an exchange that dropped the factor would
            // report a raise that did not happen).
            if raise.is_some() {
                return Err(self.refused(InvalidToken::WrongIssuer));
            }
            return self.exchange_legacy(verified).await;
        }
        let parent: RawClaims = verified.claims;
        let Some(session_id) = parent
            .fam
            .clone()
            .filter(|f| crate::token::issue::is_valid_id(f))
        else {
            return Err(self.refused(InvalidToken::InvalidClaims));
        };
        // A refresh token revoked through `TokenAuth::revoke` (or all of its user's
        // tokens through `revoke_all_for_user`) stays revoked.
        let digest = verified.identity.digest;
        auth.check_revoked(&parent, &verified.identity)
            .await
            .map_err(revocation_refusal)?;
        // The session must be active and belong to the token's subject.
        let session_end = self.owned_session_end(&session_id, &parent.sub).await?;
        self.check_refresh_binding(&parent, &session_id, proof)
            .await?;
        let presented_access = match access_token {
            None => None,
            Some(t) => {
                let access: Accepted<crate::token::NoCustomClaims> = auth
                    .verify_session(t, KindSet::of(TokenKind::Access), false, false)
                    .map_err(|e| self.refused(e))?;
                // "Not expired" as the layer sees it: until its identity says.
                if s.require_expired_access && access.identity.until > auth.now() {
                    return Err(SessionError::AccessTokenNotExpired);
                }
                Some(access.claims.jti)
            }
        };
        let decision = s.hooks.on_refresh(&parent).await;
        let changes = match decision {
            RefreshDecision::Deny => {
                tracing::info!(family = %short(&session_id), "refresh denied by on_refresh; family revoked");
                let known = s
                    .store
                    .revoke_session(&session_id)
                    .await
                    .map_err(store_failed)?;
                self.revoke_access(&parent.sub, &known).await?;
                return Err(self.refused(InvalidToken::RefreshDenied));
            }
            RefreshDecision::AllowWith(changes) => Some(changes),
            RefreshDecision::Allow => None,
        };
        let now = auth.now();
        let settings = &auth.lifetimes();
        // A second factor always rotates: a kept refresh token would carry the old
        // authentication into every later refresh.
        if s.keep_refresh_token && raise.is_none() {
            return self
                .refresh_keeping(
                    refresh_token,
                    &parent,
                    &session_id,
                    &digest,
                    changes,
                    session_end,
                    now,
                )
                .await;
        }
        let successor = Successor {
            refresh_jti: random_id()?,
            access_jti: random_id()?,
            issued_at: now,
            refresh_expires_at: now + settings.refresh_ttl.as_secs(),
            // No access token outlives its session.
            access_expires_at: (now + settings.access_ttl.as_secs()).min(session_end),
        };
        let outcome = s
            .store
            .rotate(Rotation {
                session_id: session_id.clone(),
                presented: digest,
                successor,
                now,
                grace_secs: s.grace,
                presented_access,
            })
            .await
            .map_err(store_failed)?;
        let (successor, retry) = match outcome {
            RotateOutcome::Rotated(succ) => (succ, false),
            RotateOutcome::Retry(succ) => (succ, true),
            RotateOutcome::Reused { user_id, access } => {
                return Err(self
                    .reuse_detected(&session_id, user_id, &access, SessionError::RefreshReused)
                    .await);
            }
            RotateOutcome::Compromised { user_id, access } => {
                return Err(self
                    .reuse_detected(
                        &session_id,
                        user_id,
                        &access,
                        SessionError::AccessTokenMismatch,
                    )
                    .await);
            }
            _ => return Err(self.refused(InvalidToken::SessionEnded)),
        };
        let mut claims = parent.clone();
        if let Some(changes) = changes {
            changes.apply(&mut claims)?;
        }
        // A refresh keeps the parent's `acr`, `amr` and `auth_time` as they are (the
        // hooks cannot change them: reserved names); only a second factor raises them.
        if let Some(factor) = raise {
            factor.apply(&mut claims, now);
        }
        let pair = self.sign_successor(&claims, &successor)?;
        tracing::debug!(family = %short(&session_id), retry, "refresh token rotated");
        Ok(self.refreshed(&parent.sub, session_id, pair, retry).await)
    }

    /// The DPoP binding of a refresh (see [`refresh_with_proof`](Self::refresh_with_proof)):
    /// a bound session's refresh proves its key; another key ends the session.
    async fn check_refresh_binding(
        &self,
        parent: &RawClaims,
        session_id: &str,
        proof: Option<&DpopProof>,
    ) -> Result<(), SessionError> {
        let proven = token_request_proven(parent.cnf.as_deref(), proof.map(DpopProof::thumbprint));
        match proven {
            Err(InvalidToken::BindingMismatch) => {
                tracing::warn!(
                    family = %short(session_id),
                    "refresh with another DPoP key; session revoked"
                );
                crate::telemetry::reuse_detected("dpop_key");
                let known = self
                    .inner
                    .store
                    .revoke_session(session_id)
                    .await
                    .map_err(store_failed)?;
                self.revoke_access(&parent.sub, &known).await?;
                Err(self.refused(InvalidToken::BindingMismatch))
            }
            Err(e) => Err(self.refused(e)),
            Ok(())
                if parent.cnf.as_deref().and_then(|c| c.jkt()).is_none()
                    && proof.is_none()
                    && self
                        .inner
                        .auth
                        .verifier()
                        .dpop
                        .as_deref()
                        .is_some_and(|d| d.policy == DpopPolicy::Required) =>
            {
                Err(self.refused(InvalidToken::DpopRequired))
            }
            Ok(()) => Ok(()),
        }
    }

    /// A rotation found reuse (`why`): the store ended the session; its access tokens are
    /// revoked and the hooks hear of it.
    async fn reuse_detected(
        &self,
        session_id: &str,
        user_id: String,
        access: &[crate::store::AccessRef],
        why: SessionError,
    ) -> SessionError {
        tracing::warn!(family = %short(session_id), "refresh token reuse detected; family revoked");
        if let Err(e) = self.revoke_access(&user_id, access).await {
            return e;
        }
        self.inner
            .hooks
            .on_event(&SessionEvent::ReuseDetected {
                user_id,
                session_id: session_id.to_owned(),
            })
            .await;
        why
    }

    /// The opt-in migration path of the refresh route
    /// ([`SessionsBuilder::exchange_legacy_refresh_tokens`](crate::session::SessionsBuilder::exchange_legacy_refresh_tokens)):
    /// a legacy format's refresh token, verified and not revoked, is revoked (consumed)
    /// and exchanged for a new session of its subject with its scopes and tenant.
    async fn exchange_legacy(
        &self,
        verified: Accepted<Map<String, Value>>,
    ) -> Result<LoginSession, SessionError> {
        let auth = &self.inner.auth;
        let claims = &verified.claims;
        // A format whose issuer keeps its refresh tokens in an allow list it deletes them
        // from when it rotates them: that list cannot be imported, so a rotated (stolen,
        // replayed) refresh token would still verify here. Never exchanged.
        if verified.legacy == Some(crate::trust::LegacyFormat::Webtool) {
            return Err(self.refused(InvalidToken::WrongIssuer));
        }
        auth.check_revoked(claims, &verified.identity)
            .await
            .map_err(revocation_refusal)?;
        // Consumed before anything is issued: when the store cannot take the
        // revocation, no session is started (503) and the token stays usable.
        auth.revoke_verified(&claims.sub, &verified.identity)
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "could not revoke a legacy refresh token");
                SessionError::RevocationUnavailable
            })?;
        let mut request =
            TokenRequest::new(claims.sub.as_str()).scopes(claims.scope.iter().map(|s| s.as_str()));
        if let Some(tenant) = &claims.tenant {
            request = request.tenant(tenant.as_str());
        }
        // No `auth_time`: the user did not authenticate now, and the legacy token does
        // not say when they did (a step-up guard with a maximum age asks them to).
        let login = self
            .start_session(request, &crate::session::login::SessionInfo::default())
            .await?;
        tracing::info!(family = %short(&login.session_id), "legacy refresh token exchanged for a session");
        Ok(login)
    }

    /// The end of every successful refresh: the hooks hear of it, the caller gets the pair.
    async fn refreshed(
        &self,
        user_id: &str,
        session_id: String,
        pair: TokenPair,
        retry: bool,
    ) -> LoginSession {
        let hooks = &self.inner.hooks;
        hooks.on_tokens_refreshed(&pair.refresh, &pair.access).await;
        hooks
            .on_event(&SessionEvent::Refreshed {
                user_id: user_id.to_owned(),
                session_id: session_id.clone(),
                retry,
            })
            .await;
        LoginSession {
            pair,
            csrf: String::new(),
            session_id,
        }
    }

    /// The refresh of [`SessionsBuilder::keep_refresh_token`](crate::session::SessionsBuilder::keep_refresh_token):
    /// the presented token must be its session's current one; a new access token, the
    /// same refresh token.
    #[allow(clippy::too_many_arguments)]
    async fn refresh_keeping(
        &self,
        refresh_token: &str,
        parent: &RawClaims,
        session_id: &str,
        digest: &TokenDigest,
        changes: Option<SuccessorClaims>,
        session_end: u64,
        now: u64,
    ) -> Result<LoginSession, SessionError> {
        let s = &self.inner;
        let auth = &s.auth;
        let current = s
            .store
            .verify(session_id, digest, now)
            .await
            .map_err(store_failed)?;
        if !current {
            return Err(self.refused(InvalidToken::SessionEnded));
        }
        let mut claims = parent.clone();
        if let Some(changes) = changes {
            changes.apply(&mut claims)?;
        }
        let jti = random_id()?;
        let exp = (now + auth.lifetimes().access_ttl.as_secs()).min(session_end);
        let mut access_claims = claims.clone();
        access_claims.jti = jti.clone();
        access_claims.iat = now;
        access_claims.exp = exp;
        access_claims.nbf = None;
        let token = auth
            .sign(TokenKind::Access, &access_claims)
            .map_err(SessionError::Issue)?;
        let pair = TokenPair {
            access: IssuedToken::new(token, TokenKind::Access, jti, now, exp)
                .dpop_bound(is_dpop_bound(&access_claims)),
            refresh: IssuedToken::new(
                refresh_token.to_owned(),
                TokenKind::Refresh,
                parent.jti.clone(),
                parent.iat,
                parent.exp,
            )
            .dpop_bound(is_dpop_bound(parent)),
        };
        tracing::debug!(family = %short(session_id), "access token refreshed (refresh token kept)");
        Ok(self
            .refreshed(&parent.sub, session_id.to_owned(), pair, false)
            .await)
    }

    /// Signs the successor pair: the parent's claims with the successor's ids and times.
    fn sign_successor(
        &self,
        parent: &RawClaims,
        succ: &Successor,
    ) -> Result<TokenPair, SessionError> {
        let auth = &self.inner.auth;
        let sign = |kind: TokenKind, jti: &str, exp: u64| -> Result<IssuedToken, IssueError> {
            let mut claims = parent.clone();
            claims.jti = jti.to_owned();
            claims.iat = succ.issued_at;
            claims.exp = exp;
            claims.nbf = None;
            let token = auth.sign(kind, &claims)?;
            let bound = is_dpop_bound(&claims);
            Ok(IssuedToken::new(token, kind, claims.jti, claims.iat, claims.exp).dpop_bound(bound))
        };
        Ok(TokenPair {
            access: sign(TokenKind::Access, &succ.access_jti, succ.access_expires_at)?,
            refresh: sign(
                TokenKind::Refresh,
                &succ.refresh_jti,
                succ.refresh_expires_at,
            )?,
        })
    }
}

/// A refusal of the revocation check (step 13) as a session error.
fn revocation_refusal(e: VerifyError) -> SessionError {
    match e {
        VerifyError::InvalidToken(reason) => SessionError::refused(reason),
        VerifyError::StoreUnavailable => SessionError::RevocationUnavailable,
        // The crate's own tokens wait on no key set.
        _ => SessionError::InvalidToken(InvalidToken::UnknownKey),
    }
}

/// Whether claims bind their token to a DPoP key.
fn is_dpop_bound(claims: &RawClaims) -> bool {
    claims.cnf.as_ref().is_some_and(|c| c.jkt().is_some())
}
