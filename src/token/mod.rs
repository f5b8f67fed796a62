//! The token core: claims, scopes, keys, issuing requests and the errors of tokens.
//! Pure: no HTTP and no I/O.

pub(crate) mod claims;
pub(crate) mod clock;
pub(crate) mod error;
pub(crate) mod issue;
pub(crate) mod keys;
pub(crate) mod scope;
