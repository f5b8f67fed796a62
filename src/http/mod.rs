//! The HTTP side: the tower layer, extractors, scope guards, RFC 6750 rendering,
//! cookies, CSRF and the verified-token cache.

pub(crate) mod cache;
pub(crate) mod cookies;
pub(crate) mod csrf;
pub(crate) mod extract;
pub(crate) mod grpc;
pub(crate) mod guard;
pub(crate) mod layer;
pub(crate) mod rfc6750;
pub(crate) mod settings;
pub(crate) mod websocket;

pub use cache::{CacheStats, DEFAULT_CACHE_BYTES, DEFAULT_CACHE_CAPACITY, MAX_CACHED_TOKEN};
pub use cookies::CookieSettings;
pub use csrf::{CsrfSettings, SameOrigin, require_json_content_type};
pub use extract::{
    AuthRejection, Claims, CurrentUser, RequireAllScopes, RequireAnyScope, RequireScope, UserLoader,
};
pub use guard::{GuardFuture, ScopeGuard, ScopeGuardLayer};
pub use layer::{ResponseFuture, TokenAuthLayer, TokenAuthService, TokenSource};
pub use rfc6750::{
    AuthError, DEFAULT_REALM, ErrorRenderer, InvalidRequest, JsonErrorRenderer, RefusalBody,
};
