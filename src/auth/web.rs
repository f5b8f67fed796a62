//! The [`SameOrigin`] extractor's tie to the handle: it reads the [`TokenAuth`] from the
//! router state and runs [`Web::check_same_origin`](crate::http::Web::check_same_origin).

use axum::extract::{FromRef, FromRequestParts};
use axum::response::Response;

use crate::auth::TokenAuth;
use crate::http::SameOrigin;

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
