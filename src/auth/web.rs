//! The extractors' tie to the handle: [`SameOrigin`] and [`DpopProof`] read the
//! [`TokenAuth`] from the router state; the first runs
//! [`Web::check_same_origin`](crate::http::Web::check_same_origin), the second checks the
//! request's DPoP proof for a token request.

use axum::extract::{FromRef, FromRequestParts};
use axum::response::Response;
use http::request::Parts;

use crate::auth::TokenAuth;
use crate::http::SameOrigin;
use crate::http::dpop::DpopProof;
use crate::http::rfc6750::AuthError;
use crate::trust::dpop::ProofError;

impl<S> FromRequestParts<S> for SameOrigin
where
    TokenAuth: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        let auth = TokenAuth::from_ref(state);
        let web = auth.web();
        web.check_same_origin(&parts.headers, &parts.uri)
            .map(|()| SameOrigin)
            .map_err(|e| web.render_error(e))
    }
}

impl<S> FromRequestParts<S> for DpopProof
where
    TokenAuth: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let auth = TokenAuth::from_ref(state);
        let verifier = auth.verifier();
        match DpopProof::of_request(verifier, parts).await? {
            Some(p) => Ok(p),
            None => Err(AuthError::DpopTokenRequest {
                reason: ProofError::Missing,
                nonce: None,
            }),
        }
    }
}

impl<S> axum::extract::OptionalFromRequestParts<S> for DpopProof
where
    TokenAuth: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AuthError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        let auth = TokenAuth::from_ref(state);
        DpopProof::of_request(auth.verifier(), parts).await
    }
}
