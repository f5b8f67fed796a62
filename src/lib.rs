#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs, rust_2018_idioms, unreachable_pub)]

pub mod auth;
pub mod http;
pub mod session;
mod telemetry;
pub mod token;

#[cfg(feature = "password")]
pub mod password;
pub mod store;
pub mod trust;

pub use crate::auth::TokenAuth;
pub use crate::auth::builder::{
    DEFAULT_ACCESS_TTL, DEFAULT_LEEWAY, DEFAULT_MAX_TOKEN_BYTES, DEFAULT_REALM,
    DEFAULT_REFRESH_TTL, DEFAULT_SERVICE_TTL, StoreFailurePolicy, TokenAuthBuilder,
};
pub use crate::http::cache::{
    CacheStats, DEFAULT_CACHE_BYTES, DEFAULT_CACHE_CAPACITY, MAX_CACHED_TOKEN,
};
pub use crate::http::cookies::CookieSettings;
pub use crate::http::csrf::{CsrfSettings, SameOrigin, require_json_content_type};
pub use crate::http::extract::{
    AuthRejection, Claims, CurrentUser, RequireAllScopes, RequireAnyScope, RequireScope, UserLoader,
};
pub use crate::http::guard::{GuardFuture, ScopeGuard, ScopeGuardLayer};
pub use crate::http::layer::{ResponseFuture, TokenAuthLayer, TokenAuthService, TokenSource};
pub use crate::http::rfc6750::{AuthError, ErrorRenderer, InvalidRequest, JsonErrorRenderer};
pub use crate::session::hooks::{
    NoHooks, RefreshDecision, SessionEvent, SessionHooks, SuccessorClaims,
};
pub use crate::session::routes::{PresentedRefresh, RefreshRequest, TokenDelivery, user_agent};
pub use crate::session::{
    DEFAULT_FAMILY_LIFETIME, DEFAULT_GRACE, LoginError, LoginSession, SessionInfo, Sessions,
    SessionsBuilder,
};
pub use crate::token::claims::{Audience, ClaimsView, NoCustomClaims, TokenClaims, TokenKind};
pub use crate::token::clock::{Clock, FixedClock, SystemClock};
pub use crate::token::error::{ConfigError, InvalidToken};
pub use crate::token::issue::{
    IssueError, IssuedToken, MAX_ID_LEN, TokenPair, TokenRequest, TokenResponse,
};
pub use crate::token::keys::{Key, MIN_RSA_BITS, WeakSecret};
pub use crate::token::scope::{
    MAX_SCOPE_LEN, Scope, ScopeError, ScopeList, ScopeMarker, ScopeSet, check_scope,
};
pub use crate::trust::verify::RevokeError;

/// The `async_trait` attribute, for implementing this crate's async traits
/// ([`UserLoader`], the store traits).
pub use async_trait::async_trait;
/// The `cookie` crate, whose `SameSite` and `Cookie` appear in this crate's API.
pub use cookie;
/// Re-exports of `jsonwebtoken` types that appear in this crate's API.
pub use jsonwebtoken::Algorithm;
pub use jsonwebtoken::jwk::{Jwk, JwkSet};

#[doc(hidden)]
pub mod __private {
    pub use crate::token::scope::check_scope;
}
