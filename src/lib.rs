#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![warn(missing_docs, rust_2018_idioms, unreachable_pub)]

pub mod auth;
pub mod http;
pub mod session;
mod telemetry;
pub mod token;

#[cfg(feature = "password")]
#[cfg_attr(docsrs, doc(cfg(feature = "password")))]
pub mod password;
pub mod store;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;
pub mod trust;

pub use crate::auth::{TokenAuth, TokenAuthBuilder};
pub use crate::http::{
    AuthError, Claims, RequireAllScopes, RequireAnyScope, RequireScope, ScopeGuardLayer,
    TokenAuthLayer,
};
pub use crate::session::Sessions;
pub use crate::token::{ConfigError, Key, NoCustomClaims, TokenClaims, TokenRequest};

/// The `async_trait` attribute, for implementing this crate's async traits
/// ([`UserLoader`](http::UserLoader), [`SessionHooks`](session::SessionHooks), the store
/// traits).
pub use async_trait::async_trait;
/// The `cookie` crate, whose `SameSite` and `Cookie` appear in this crate's API.
pub use cookie;

#[doc(hidden)]
pub mod __private {
    pub use crate::token::scope::check_scope;
}
