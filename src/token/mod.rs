//! The token core: claims, scopes, keys, issuing requests and the errors of tokens.
//! Pure: no HTTP and no I/O.

pub(crate) mod claims;
pub(crate) mod clock;
pub(crate) mod error;
pub(crate) mod issue;
pub(crate) mod keys;
pub(crate) mod scope;

pub use claims::{Audience, ClaimsView, NoCustomClaims, TokenClaims, TokenKind};
pub use clock::{Clock, FixedClock, SystemClock};
pub use error::{ConfigError, InvalidToken};
pub use issue::{IssueError, IssuedToken, MAX_ID_LEN, TokenPair, TokenRequest, TokenResponse};
/// Re-exports of `jsonwebtoken` types that appear in this crate's API.
pub use jsonwebtoken::Algorithm;
pub use jsonwebtoken::jwk::{Jwk, JwkSet};
pub use keys::{Key, MIN_RSA_BITS, WeakSecret};
pub use scope::{MAX_SCOPE_LEN, Scope, ScopeError, ScopeList, ScopeMarker, ScopeSet};
