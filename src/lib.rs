#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs, rust_2018_idioms, unreachable_pub)]

mod auth;
mod cache;
mod claims;
mod config;
mod cookies;
mod csrf;
mod error;
mod extract;
mod guard;
mod hooks;
mod issue;
mod keys;
mod layer;
mod refresh;
mod scope;
mod session;
mod telemetry;
mod validate;

#[cfg(feature = "password")]
pub mod password;
pub mod store;
pub mod trust;

pub use auth::TokenAuth;
pub use cache::{CacheStats, DEFAULT_CACHE_BYTES, DEFAULT_CACHE_CAPACITY, MAX_CACHED_TOKEN};
pub use claims::{Audience, ClaimsView, NoCustomClaims, TokenClaims, TokenKind};
pub use config::{
    Clock, ConfigError, DEFAULT_ACCESS_TTL, DEFAULT_LEEWAY, DEFAULT_MAX_TOKEN_BYTES, DEFAULT_REALM,
    DEFAULT_REFRESH_TTL, DEFAULT_SERVICE_TTL, FixedClock, StoreFailurePolicy, SystemClock,
    TokenAuthBuilder,
};
pub use cookies::CookieSettings;
pub use csrf::{CsrfSettings, SameOrigin, require_json_content_type};
pub use error::{AuthError, ErrorRenderer, InvalidRequest, InvalidToken, JsonErrorRenderer};
pub use extract::{
    AuthRejection, Claims, CurrentUser, RequireAllScopes, RequireAnyScope, RequireScope, UserLoader,
};
pub use guard::{GuardFuture, ScopeGuard, ScopeGuardLayer};
pub use hooks::{NoHooks, RefreshDecision, SessionEvent, SessionHooks, SuccessorClaims};
pub use issue::{IssueError, IssuedToken, MAX_ID_LEN, TokenPair, TokenRequest, TokenResponse};
pub use keys::{Key, MIN_RSA_BITS, WeakSecret};
pub use layer::{ResponseFuture, TokenAuthLayer, TokenAuthService, TokenSource};
pub use refresh::{PresentedRefresh, RefreshRequest, TokenDelivery, user_agent};
pub use scope::{MAX_SCOPE_LEN, Scope, ScopeError, ScopeList, ScopeMarker, ScopeSet, check_scope};
pub use session::{
    DEFAULT_FAMILY_LIFETIME, DEFAULT_GRACE, LoginError, LoginSession, SessionInfo, Sessions,
    SessionsBuilder,
};
pub use validate::RevokeError;

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
    pub use crate::scope::check_scope;
}
