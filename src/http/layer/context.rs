//! The layer↔extractor contract: what [`TokenAuthLayer`](super::TokenAuthLayer) leaves in
//! the request's extensions for the extractors, the scope guard and the error path.

use std::sync::Arc;

use crate::http::cache::Verdict;
use crate::http::layer::credentials::TokenSource;
use crate::http::rfc6750::Rendering;
use crate::token::claims::ClaimsView;
use crate::token::confirmation::Binding;

/// What the layer leaves in the request's extensions: always the renderer (so extractors
/// know the layer ran), and the verified claims when there are any.
#[derive(Clone)]
pub(crate) struct AuthContext {
    pub(crate) rendering: Rendering,
    pub(crate) claims: Option<Arc<dyn ClaimsView>>,
    /// The verified claims JSON, for extracting other claims types than the layer's.
    pub(crate) payload: Option<Arc<[u8]>>,
    pub(crate) source: Option<TokenSource>,
    /// The request is a gRPC call: refusals are gRPC statuses.
    pub(crate) grpc: bool,
    /// The URI carries an `access_token` parameter and the query source is on: it is
    /// removed from the URI the inner service sees.
    pub(crate) query_token: bool,
    /// What the binding step decided (`None`: a bearer token it never looked at).
    /// Boxed: a bearer request moves one word more, not the binding's fields.
    pub(crate) bound: Option<Box<BoundRequest>>,
    /// When the layer accepted the token, by its clock (seconds since the epoch; 0
    /// before), and until when the token may be accepted (its `exp` plus its issuer's
    /// leeway): the step-up guards' `now` and the token's leeway.
    pub(crate) accepted_at: u64,
    pub(crate) until: u64,
}

/// How a request proved a sender-constrained token.
#[derive(Clone)]
pub(crate) struct BoundRequest {
    /// How the token was proven (the [`Binding`] extractor).
    pub(crate) binding: Binding,
}

impl AuthContext {
    /// The context of a request before its token is checked: how to refuse it, nothing
    /// verified yet.
    #[inline]
    pub(super) fn new(rendering: Rendering, grpc: bool, query_token: bool) -> Self {
        AuthContext {
            rendering,
            claims: None,
            payload: None,
            source: None,
            grpc,
            query_token,
            bound: None,
            accepted_at: 0,
            until: 0,
        }
    }

    /// Puts a verified token's claims in the context.
    pub(super) fn accept(&mut self, verdict: Verdict, source: TokenSource, now: u64) {
        self.until = verdict.identity.until;
        self.claims = Some(verdict.claims);
        self.payload = Some(verdict.payload);
        self.source = Some(source);
        self.accepted_at = now;
    }

    /// The verified claims with the step-up decision's time inputs: the layer's `now`
    /// and the token's leeway (what verification added to its `exp`; 0 when its
    /// acceptance ends earlier, as a legacy window's may).
    pub(crate) fn step_up_inputs(&self) -> Option<(&dyn ClaimsView, u64, u64)> {
        let claims = self.claims.as_deref()?;
        let leeway = self.until.saturating_sub(claims.expires_at());
        Some((claims, self.accepted_at, leeway))
    }
}
