//! The HTTP side: the tower layer, extractors, scope guards, RFC 6750 rendering,
//! cookies, CSRF and the verified-token cache.

pub(crate) mod cache;
pub(crate) mod cookies;
pub(crate) mod csrf;
pub(crate) mod extract;
pub(crate) mod guard;
pub(crate) mod layer;
pub(crate) mod rfc6750;
