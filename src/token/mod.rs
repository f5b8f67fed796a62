//! The token core, pure: claims, scopes, keys, what an issued token carries, the clock
//! and the errors of tokens. No HTTP and no I/O; [`trust`](crate::trust) verifies
//! against it and [`http`](crate::http) serves it.
//!
//! ## Issuing
//!
//! Minting tokens: [`TokenRequest`], [`IssuedToken`], [`TokenPair`]. Custom claims
//! ([`TokenRequest::claims`]) may not take a name this crate owns; the reserved names are
//! listed there.
//!
//! ```
//! use std::time::Duration;
//! use axum_token_auth::{TokenAuth, TokenRequest};
//!
//! let auth = TokenAuth::builder()
//!     .hs256_secret("a-random-secret-of-at-least-32-bytes!!")
//!     .build()?;
//! let request = TokenRequest::new("music_module")
//!     .tenant("community_123")
//!     .scopes(["playlist:manage", "api.v1:read"])
//!     .metadata("installed_by", "user_456");
//! let pair = auth.issue_pair(&request)?;
//! let service = auth.issue_service(&request.clone().ttl(Duration::from_secs(24 * 3600)))?;
//! assert_ne!(pair.access.as_str(), service.as_str());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Keys
//!
//! Keys and the keyring: each key bound to exactly one algorithm, several verification
//! keys by `kid`, one active signing key, and the public keys as a JWKS document.
//!
//! ```
//! use axum_token_auth::{Key, TokenAuth, token::Algorithm};
//!
//! let current = Key::hmac(Algorithm::HS256, b"a-random-secret-of-at-least-32-bytes!!")?
//!     .with_kid("2026-11");
//! let previous = Key::hmac(Algorithm::HS256, b"the-previous-secret-still-accepted-for-now")?
//!     .with_kid("2026-10");
//! let auth = TokenAuth::builder()
//!     .signing_key(current)          // signs new tokens, verifies them too
//!     .verification_key(previous)    // still verifies tokens it signed
//!     .build()?;
//! # Ok::<(), axum_token_auth::ConfigError>(())
//! ```
//!
//! ## Scopes
//!
//! Scopes: the grammar, matching, [`ScopeSet`] and the [`scope!`](crate::scope!) marker macro.
//!
//! ```
//! use axum_token_auth::token::{Scope, ScopeSet};
//!
//! let granted: ScopeSet = "users:* admin".parse().unwrap();
//! assert!(granted.has("users:read"));
//! assert!(granted.has("admin"));
//! assert!(!granted.has("administrator"));   // never prefix matching
//! assert!(!granted.has("orders:read"));
//! assert!(Scope::new("admin*").is_err());    // not a scope
//! ```
//!
//! ## Grammar
//!
//! ```text
//! scope    = "*" / resource [ ":" action ] *( ":" action )
//! resource = name *( "." name )            ; users, api.v1
//! action   = name *( "." name ) / "*"      ; read, *  ("*" only as the last segment)
//! name     = 1*( ALPHA / DIGIT / "_" / "-" )
//! ```
//!
//! At most [`MAX_SCOPE_LEN`] bytes. Matching is segment-aware: `*` grants everything,
//! `users:*` grants `users:read` and `users:profile:read` (but not `users`), and
//! every other scope grants exactly itself.

pub(crate) mod claims;
pub(crate) mod clock;
pub(crate) mod confirmation;
pub(crate) mod error;
pub(crate) mod issue;
pub(crate) mod keys;
pub(crate) mod scope;
pub(crate) mod step_up;

pub use claims::{
    Audience, ClaimsView, NoCustomClaims, PROVIDER_SESSION_CLAIM, TokenClaims, TokenKind,
    TokenOrigin,
};
pub use clock::{Clock, FixedClock, SystemClock};
pub use confirmation::{Binding, Confirmation, certificate_thumbprint};
pub use error::{ConfigError, InvalidToken};
pub use issue::{IssueError, IssuedToken, MAX_ID_LEN, TokenPair, TokenRequest, TokenResponse};
/// Re-exports of `jsonwebtoken` types that appear in this crate's API.
pub use jsonwebtoken::Algorithm;
pub use jsonwebtoken::jwk::{Jwk, JwkSet};
pub use keys::{Key, MIN_RSA_BITS, WeakSecret};
pub use scope::{MAX_SCOPE_LEN, Scope, ScopeError, ScopeList, ScopeMarker, ScopeSet};
pub use step_up::{AcrError, MAX_ACR_LEN, StepUpPolicy};
