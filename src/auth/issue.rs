//! The issuing methods of [`TokenAuth`]: access, refresh and service tokens, pairs, and
//! tokens whose scopes a grant store must allow. What a token carries is the
//! [`TokenRequest`](crate::TokenRequest) of [`token`](crate::token).

use serde::Serialize;
use serde_json::{Map, Value};

use crate::auth::TokenAuth;
use crate::auth::builder::{ACCESS_TTL_RANGE, REFRESH_TTL_RANGE, SERVICE_TTL_RANGE};
use crate::store::grants::GrantStore;
use crate::token::claims::{Audience, RESERVED_CLAIMS, TokenKind};
use crate::token::issue::{
    IssueError, IssuedToken, MAX_ID_LEN, Payload, TokenPair, TokenRequest, check_id, random_id,
};
use crate::token::scope::ScopeSet;
use crate::token::step_up::check_acr;

impl TokenAuth {
    /// Issues an access token (`typ: at+jwt`).
    pub fn issue_access(&self, request: &TokenRequest) -> Result<IssuedToken, IssueError> {
        self.issue(TokenKind::Access, request)
    }

    /// Issues a refresh token (`typ: refresh+jwt`), in a new family unless the request
    /// names one.
    pub fn issue_refresh(&self, request: &TokenRequest) -> Result<IssuedToken, IssueError> {
        self.issue(TokenKind::Refresh, request)
    }

    /// Issues a long-lived service token (`typ: service+jwt`).
    ///
    /// A long-lived token is worth binding to its holder. Bound to the service's client
    /// certificate (RFC 8705 §3, `cnf.x5t#S256`), it is accepted only on requests that
    /// present that certificate — over the application's own TLS
    /// ([`ClientCertificate`](crate::http::ClientCertificate)) or in the header a
    /// TLS-terminating proxy sets ([`MtlsSettings`](crate::http::MtlsSettings)) — and
    /// refused (401 `invalid_token`) everywhere else. It is still sent as `Bearer`.
    ///
    /// ```
    /// use axum_token_auth::{TokenAuth, TokenRequest};
    /// use axum_token_auth::http::MtlsSettings;
    /// use axum_token_auth::token::Confirmation;
    ///
    /// let auth = TokenAuth::builder()
    ///     .hs256_secret("a-random-secret-of-at-least-32-bytes!!")
    ///     .mtls(MtlsSettings::header("X-SSL-Client-Cert"))
    ///     .build()?;
    /// // The DER bytes of the service's client certificate (from its PEM file).
    /// # let der: Vec<u8> = vec![0x30, 0x03, 0x02, 0x01, 0x01];
    /// let token = auth.issue_service(
    ///     &TokenRequest::new("billing-worker")
    ///         .scopes(["invoices:write"])
    ///         .confirmation(Confirmation::certificate_der(&der)),
    /// )?;
    /// assert_eq!(token.token_type(), "Bearer");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn issue_service(&self, request: &TokenRequest) -> Result<IssuedToken, IssueError> {
        self.issue(TokenKind::Service, request)
    }

    /// Issues an access token and a refresh token with the same subject, scopes and tenant,
    /// sharing a family id. The request's `ttl` applies to the access token only. This
    /// mints tokens and records nothing: for browser sessions with rotation, reuse
    /// detection and CSRF binding, use [`Sessions::login`](crate::Sessions::login).
    pub fn issue_pair(&self, request: &TokenRequest) -> Result<TokenPair, IssueError> {
        let mut request = request.clone();
        if request.family.is_none() {
            request.family = Some(random_id()?);
        }
        let access = self.issue(TokenKind::Access, &request)?;
        let mut refresh_req = request;
        refresh_req.ttl = None;
        let refresh = self.issue(TokenKind::Refresh, &refresh_req)?;
        Ok(TokenPair { access, refresh })
    }

    /// Issues a token of `kind`. Every input is checked; bad input is an error, never a
    /// token.
    pub fn issue(
        &self,
        kind: TokenKind,
        request: &TokenRequest,
    ) -> Result<IssuedToken, IssueError> {
        let settings = &self.lifetimes();
        let policy = &self.verifier().settings;
        check_id("subject", &request.subject)?;
        if let Some(t) = &request.tenant {
            check_id("tenant", t)?;
        }
        let scope = ScopeSet::try_from_iter(&request.scopes)?;
        if let Some(acr) = &request.acr {
            check_acr(acr)?;
        }
        for m in &request.amr {
            check_acr(m)?;
        }
        if let Some(link) = &request.provider_session {
            check_id("provider issuer", &link.iss)?;
            check_id("provider session", &link.sid)?;
        }
        let (default_ttl, (min, max)) = match kind {
            TokenKind::Access => (settings.access_ttl, ACCESS_TTL_RANGE),
            TokenKind::Refresh => (settings.refresh_ttl, REFRESH_TTL_RANGE),
            TokenKind::Service => (settings.service_ttl, SERVICE_TTL_RANGE),
        };
        let ttl = request.ttl.unwrap_or(default_ttl);
        if ttl < min || ttl > max {
            return Err(IssueError::LifetimeOutOfRange { kind, min, max });
        }
        for k in request.metadata.keys() {
            if k.is_empty() || k.len() > MAX_ID_LEN {
                return Err(IssueError::ReservedClaim(k.clone()));
            }
        }
        let custom = match &request.custom {
            None => Map::new(),
            Some(Ok(Value::Object(m))) => m.clone(),
            Some(_) => return Err(IssueError::CustomClaimsNotObject),
        };
        if let Some(k) = custom
            .keys()
            .find(|k| RESERVED_CLAIMS.contains(&k.as_str()))
        {
            return Err(IssueError::ReservedClaim(k.clone()));
        }
        let jti = random_id()?;
        let family = match (kind, &request.family) {
            (_, Some(f)) => Some(f.clone()),
            (TokenKind::Refresh, None) => Some(random_id()?),
            _ => None,
        };
        let iat = self.verifier().clock.now();
        // An authentication after the token's issue: refused beyond the clock skew we
        // allow, else written as the issue time (a clock stepping back between the
        // login's stamp and the signing must not fail the login).
        if request
            .auth_time
            .is_some_and(|t| t > iat.saturating_add(policy.leeway))
        {
            return Err(IssueError::AuthTimeInFuture);
        }
        let auth_time = request.auth_time.map(|t| t.min(iat));
        let exp = iat + ttl.as_secs();
        let payload = Payload {
            sub: &request.subject,
            iss: policy.issuer.as_deref(),
            aud: policy.audience.clone().map(Audience::One),
            iat,
            exp,
            jti: &jti,
            scope: &scope,
            tenant: request.tenant.as_deref(),
            metadata: &request.metadata,
            fam: family.as_deref(),
            csrf: request.csrf.as_deref(),
            generation: request.generation,
            cnf: request.cnf.as_ref(),
            acr: request.acr.as_deref(),
            amr: &request.amr,
            auth_time,
            provider_session: request.provider_session.as_ref(),
            custom,
        };
        let token = self.sign(kind, &payload)?;
        tracing::debug!(
            kind = kind.as_str(),
            jti_digest = %crate::store::TokenDigest::of_jti(&jti).short(),
            "token issued"
        );
        let dpop_bound = request.cnf.as_ref().is_some_and(|c| c.jkt().is_some());
        Ok(IssuedToken::new(token, kind, jti, iat, exp).dpop_bound(dpop_bound))
    }

    /// Signs `payload` as a token of `kind` with the active signing key.
    pub(crate) fn sign<P: Serialize>(
        &self,
        kind: TokenKind,
        payload: &P,
    ) -> Result<String, IssueError> {
        let ring = self.verifier().keys.load();
        let key = ring.signing().ok_or(IssueError::NoSigningKey)?;
        let mut header = jsonwebtoken::Header::new(key.alg);
        header.typ = Some(kind.typ().to_owned());
        header.kid = key.kid.clone();
        let encoding = key.encoding.as_ref().ok_or(IssueError::Signing)?;
        let token =
            jsonwebtoken::encode(&header, payload, encoding).map_err(|_| IssueError::Signing)?;
        self.check_issued_size(&token)?;
        crate::telemetry::token_issued(kind);
        Ok(token)
    }

    /// A token this crate mints must pass its own layer's size check.
    fn check_issued_size(&self, token: &str) -> Result<(), IssueError> {
        let max = self.verifier().settings.max_token_bytes;
        if token.len() > max {
            return Err(IssueError::TokenTooLarge {
                len: token.len(),
                max,
            });
        }
        Ok(())
    }
}

impl TokenAuth {
    /// Issues a token of `kind` only if every requested scope is granted to the request's
    /// subject within its tenant (the tenant is required). A revoked grant stops future
    /// tokens from carrying the scope; tokens already issued live until they expire or
    /// are revoked.
    pub async fn issue_granted(
        &self,
        grants: &dyn GrantStore,
        kind: TokenKind,
        request: &TokenRequest,
    ) -> Result<IssuedToken, IssueError> {
        let tenant = request
            .tenant
            .as_deref()
            .ok_or(IssueError::Empty("tenant"))?;
        let held = grants
            .granted_scopes(tenant, &request.subject)
            .await
            .map_err(|_| IssueError::StoreUnavailable)?;
        let granted = ScopeSet::try_from_iter(held.iter().map(|g| g.scope.as_str()))?;
        if let Some(missing) = request.scopes.iter().find(|s| !granted.has(s)) {
            return Err(IssueError::ScopeNotGranted(missing.clone()));
        }
        self.issue(kind, request)
    }
}
