//! The tokens on the wire, so other services, in any language, can mint and read them.
//!
//! A token is a compact JWS (RFC 7515) signed with the key's one algorithm. The types that
//! read and write it are in [`token`](crate::token):
//! [`TokenClaims`](crate::TokenClaims) (`to_value` / `from_value`) and
//! [`TokenRequest`](crate::TokenRequest).
//!
//! # Header
//!
//! `alg` (must equal the verifying key's algorithm), `kid` (when the key has one), and `typ`
//! naming the token kind — the kind lives in the header so one kind can never be accepted as
//! another:
//!
//! | kind | `typ` | accepted by |
//! | --- | --- | --- |
//! | access | `at+jwt` (RFC 9068) | the layer |
//! | refresh | `refresh+jwt` | only the refresh flow |
//! | service | `service+jwt` | layers with `.also_accept(TokenKind::Service)` |
//!
//! A token without `typ` (or `typ: JWT`) is no access token. `typ` is compared
//! case-insensitively and may carry an `application/` prefix. A `crit` header is refused.
//! (External issuers' tokens follow their own rules: see
//! [identity providers](super::identity_providers).)
//!
//! # Claims
//!
//! | claim | type | required | meaning |
//! | --- | --- | --- | --- |
//! | `sub` | string | yes | user or principal (1–255 bytes, no control characters) |
//! | `iat` | number | yes | issued at (seconds since the epoch) |
//! | `exp` | number | yes | expiry |
//! | `nbf` | number | no | not before |
//! | `jti` | string | yes | unique id; we mint 128 random bits, base64url (22 characters) |
//! | `iss` | string | when configured | issuer, exact match |
//! | `aud` | string or array | when configured | must contain the configured audience; refused when none is configured |
//! | `scope` | string | no | space-separated scopes (RFC 8693); `scopes` or `scp` arrays are read too |
//! | `tenant` | string | no | tenant |
//! | `metadata` | object | no | free-form metadata |
//! | `fam` | string | refresh tokens | refresh family (session) id; access tokens minted by `Sessions` carry it too |
//! | `csrf` | string | no | base64url SHA-256 of the CSRF value bound at login (`Sessions`) |
//! | `gen` | number | no | the subject's generation at issue time; a token with an older one than the subject's current generation is revoked |
//! | *your own* | any | — | your claims type `T`, flattened next to these |
//!
//! # Scopes
//!
//! `resource:action` (`users:read`), namespaced `api.v1:read`, plain `admin`, `*`
//! (everything), and `resource:*` (every action on `resource`: segment-aware, so `users:*`
//! grants `users:read` but not `users` or `usersx:read`). Names use letters, digits, `_` and
//! `-`, joined by `.` within a segment and `:` between segments; at most 100 bytes. There is
//! never substring or prefix matching: `admin` does not grant `administrator`, and `admin*`
//! is not a scope.
//!
//! Revocation and the `gen` claim: [security](super::security#revocation).
