//! DPoP over HTTP: the request's proof read and checked for the request it came with
//! (`htm`, `htu` from the configured public origin, `ath`), the binding decision applied
//! ([`Bound::confirm`](crate::trust::bound::Bound)), and [`DpopProof`], the extractor a
//! token endpoint (a login route) uses to mint bound tokens.
//!
//! ```
//! use axum::{Json, Router, extract::State, routing::post};
//! use axum_token_auth::{Sessions, TokenRequest};
//! use axum_token_auth::http::DpopProof;
//!
//! // A login route: with a `DPoP` header the session's tokens are bound to its key.
//! async fn login(State(sessions): State<Sessions>, proof: Option<DpopProof>) -> axum::response::Response {
//!     // … check the user's credentials first …
//!     let mut request = TokenRequest::new("alice");
//!     if let Some(proof) = &proof {
//!         request = request.confirmation(proof.confirmation());
//!     }
//!     match sessions.login(&request, None).await {
//!         Ok(login) => sessions.login_response(&login),
//!         Err(e) => axum::response::IntoResponse::into_response(e),
//!     }
//! }
//! # let _: Router<Sessions> = Router::new().route("/login", post(login));
//! ```

use axum::extract::OriginalUri;
use http::{HeaderMap, Method, Uri};

use crate::http::mtls::{CertificateHeader, request_certificate};
use crate::http::rfc6750::AuthError;
use crate::token::confirmation::{Binding, Confirmation};
use crate::trust::bound::{Bound, Presented};
use crate::trust::dpop::{CheckedProof, Dpop, DpopPolicy, ProofError, ProofRefusal, ProofRequest};
use crate::trust::verify::Verifier;

/// The `DPoP` request header.
pub const DPOP: http::HeaderName = http::HeaderName::from_static("dpop");

/// What the layer's binding step decided for a request.
pub(crate) struct Bind {
    /// How the request proved the token (the [`Binding`] extractor).
    pub(crate) binding: Binding,
    /// A proof that passed every offline check: its `jti` is to be remembered before the
    /// request is accepted (the replay cache is async).
    pub(crate) proof: Option<CheckedProof>,
    /// The nonce to hand out on success (the proof used the previous bucket's).
    pub(crate) nonce: Option<String>,
}

/// The request's one `DPoP` header: `Ok(None)` when it has none, an error for two.
fn proof_header(headers: &HeaderMap) -> Result<Option<&str>, ProofError> {
    let mut all = headers.get_all(DPOP).iter();
    match (all.next(), all.next()) {
        (None, _) => Ok(None),
        (Some(_), Some(_)) => Err(ProofError::Multiple),
        (Some(v), None) => v.to_str().map(Some).map_err(|_| ProofError::Malformed),
    }
}

/// The path a proof's `htu` names: axum's `OriginalUri` (the path before any `nest`),
/// else the request's.
pub(crate) fn request_path<'r>(uri: &'r Uri, extensions: &'r http::Extensions) -> &'r str {
    extensions
        .get::<OriginalUri>()
        .map_or(uri.path(), |o| o.0.path())
}

/// A proof refused: the answer a client gets.
pub(crate) fn refusal(dpop: &Dpop, e: ProofRefusal, now: u64) -> AuthError {
    match e {
        ProofRefusal::Invalid(e) => {
            crate::telemetry::dpop_proof(e.reason());
            match (e, dpop.nonce(now)) {
                (ProofError::UseNonce, Some(nonce)) => {
                    crate::telemetry::dpop_nonce("challenge");
                    AuthError::UseDpopNonce { nonce }
                }
                (e, _) => AuthError::InvalidDpopProof(e),
            }
        }
        ProofRefusal::StoreUnavailable => AuthError::StoreUnavailable,
    }
}

/// A proof refusal as a token request answers it (400, RFC 9449 §5, §8).
fn token_request(e: AuthError) -> AuthError {
    match e {
        AuthError::InvalidDpopProof(reason) => AuthError::DpopTokenRequest {
            reason,
            nonce: None,
        },
        AuthError::UseDpopNonce { nonce } => AuthError::DpopTokenRequest {
            reason: ProofError::UseNonce,
            nonce: Some(nonce),
        },
        other => other,
    }
}

/// Checks the request's proof (every step but the replay cache) for `method` and
/// `path`, presenting `token` (`ath`) or none (a token request).
fn checked_proof(
    dpop: &Dpop,
    headers: &HeaderMap,
    method: &Method,
    path: &str,
    token: Option<&[u8]>,
    now: u64,
) -> Result<Option<CheckedProof>, AuthError> {
    let proof = match proof_header(headers) {
        Ok(Some(p)) => p,
        Ok(None) => return Ok(None),
        Err(e) => return Err(refusal(dpop, ProofRefusal::Invalid(e), now)),
    };
    let uri = dpop.htu(path);
    let req = ProofRequest {
        method: method.as_str(),
        uri: &uri,
        access_token: token,
    };
    dpop.check_offline(proof, &req, now)
        .map(Some)
        .map_err(|e| refusal(dpop, ProofRefusal::Invalid(e), now))
}

/// The layer's binding step for a verified token presented as `token` (its bytes, for
/// `ath`): the proof checked when the token is DPoP-bound or came with the `DPoP`
/// scheme, the certificate compared when it is certificate-bound (read from the
/// connection or the trusted `certificate_header` only then), the policy applied.
/// Out of line: a bearer request under the `Allowed` policy never comes here.
#[inline(never)]
#[allow(clippy::too_many_arguments)]
pub(crate) fn bind_request(
    verifier: &Verifier,
    certificate_header: Option<&CertificateHeader>,
    policy: DpopPolicy,
    parts: (&Method, &Uri, &HeaderMap, &http::Extensions),
    token: &[u8],
    cnf: Option<&Confirmation>,
    as_bearer: bool,
    as_dpop: bool,
    now: u64,
) -> Result<Bind, AuthError> {
    let (method, uri, headers, extensions) = parts;
    // Verification checked the `cnf` already (a token it refused never gets here).
    let bound = Bound::of(cnf).map_err(AuthError::InvalidToken)?;
    let dpop = verifier.dpop.as_deref();
    let proof = match dpop {
        Some(d) if bound.needs_proof(as_dpop) && policy != DpopPolicy::Off => {
            let path = request_path(uri, extensions);
            let p = checked_proof(d, headers, method, path, Some(token), now)?;
            if p.is_none() && as_dpop {
                return Err(refusal(d, ProofRefusal::Invalid(ProofError::Missing), now));
            }
            p
        }
        _ => None,
    };
    let certificate = if bound.needs_certificate() {
        request_certificate(headers, extensions, certificate_header)
    } else {
        None
    };
    let presented = Presented {
        as_bearer,
        as_dpop,
        proof: proof.as_ref(),
        certificate,
    };
    let unbound_with_proof = dpop.is_some_and(|d| d.unbound_with_proof);
    let binding = bound
        .confirm(&presented, policy, unbound_with_proof)
        .map_err(|e| {
            crate::telemetry::validation_refused(crate::telemetry::reason_name(&e));
            AuthError::InvalidToken(e)
        })?;
    let nonce = match (&proof, dpop) {
        (Some(p), Some(d)) if p.nonce_stale => {
            crate::telemetry::dpop_nonce("rotation");
            d.nonce(now)
        }
        _ => None,
    };
    Ok(Bind {
        binding,
        proof,
        nonce,
    })
}

/// A DPoP proof of a token request (RFC 9449 §5: a login, a refresh), checked for this
/// request — its method and URI, no access token — and remembered in the replay cache:
/// the key to bind the tokens to ([`TokenRequest::confirmation`](crate::TokenRequest::confirmation)).
///
/// As an extractor it needs the [`TokenAuth`](crate::TokenAuth) from the state
/// (`FromRef`). `DpopProof` refuses a request without a proof (401
/// `invalid_dpop_proof`); `Option<DpopProof>` lets it through as `None`, and still
/// refuses a bad proof. A handle without DPoP configured never has a proof.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DpopProof {
    jkt: String,
    nonce: Option<String>,
}

impl DpopProof {
    /// The RFC 7638 thumbprint of the proof's key: the `cnf.jkt` of tokens bound to it.
    pub fn thumbprint(&self) -> &str {
        &self.jkt
    }

    /// The token confirmation binding to this proof's key (`cnf.jkt`), for
    /// [`TokenRequest::confirmation`](crate::TokenRequest::confirmation).
    pub fn confirmation(&self) -> Confirmation {
        Confirmation::dpop(self.jkt.clone())
    }

    /// The nonce to send back in `DPoP-Nonce` (the proof used the previous one), if any.
    pub fn next_nonce(&self) -> Option<&str> {
        self.nonce.as_deref()
    }

    /// Checks the proof of a token request with its method and path (the route's own, as
    /// the client named it in `htu`: see [`request_path`]); `Ok(None)` when the request
    /// has none.
    pub(crate) async fn of_request(
        verifier: &Verifier,
        parts: &http::request::Parts,
    ) -> Result<Option<DpopProof>, AuthError> {
        let (method, headers) = (&parts.method, &parts.headers);
        let path = request_path(&parts.uri, &parts.extensions);
        let Some(dpop) = verifier.dpop.as_deref() else {
            return Ok(None);
        };
        if dpop.policy == DpopPolicy::Off {
            return Ok(None);
        }
        let now = verifier.clock.now();
        let Some(checked) =
            checked_proof(dpop, headers, method, path, None, now).map_err(token_request)?
        else {
            return Ok(None);
        };
        dpop.remember(&checked)
            .await
            .map_err(|e| token_request(refusal(dpop, e, now)))?;
        crate::telemetry::dpop_proof("accepted");
        Ok(Some(DpopProof {
            nonce: if checked.nonce_stale {
                dpop.nonce(now)
            } else {
                None
            },
            jkt: checked.jkt,
        }))
    }
}
