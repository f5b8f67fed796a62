//! The security model: what the crate refuses, in which order, and what every refusal looks
//! like on the wire.
//!
//! Every check a token goes through is written once, in order, at the top of
//! [`trust::verify`](crate::trust::verify); this page says what they amount to.
//!
//! # Defaults
//!
//! - Secrets shorter than the hash size, well-known placeholders (`supersecret`,
//!   `your_secret_key`, …) and RSA keys under 2048 bits are refused at build time.
//! - Each key is bound to one algorithm; the header's `alg` never selects behaviour
//!   (`none` and algorithm confusion are refused).
//! - `exp` is required; `nbf` and `iat` are checked; 30 s leeway.
//! - Tokens over 8 KiB (`max_token_bytes`) are refused before any decoding, and never
//!   issued (`IssueError::TokenTooLarge`).
//! - The layer remembers verified tokens so a repeated token skips its signature check: up
//!   to 16 384 (`verified_cache_capacity`) within 17 MiB (`verified_cache_bytes`, a bound on
//!   everything the cache allocates, whatever the tokens' size), keyed by a 128-bit keyed
//!   digest (SipHash-2-4) of the whole token, evicting by S3-FIFO (a flood of tokens seen
//!   once takes at most 10 % of it from tokens seen twice). Expiry, revocation and CSRF are
//!   still checked on every request and only verified tokens are ever cached;
//!   `TokenAuthLayer::cache_stats` reports hits and misses. Why a hit is safe:
//!   [the cache](super::cache).
//! - Header and cookie carrying different tokens → 400 `invalid_request`.
//! - Cookies: HttpOnly always, Secure on, `SameSite=Lax` (access) / `Strict` (refresh, which
//!   is also scoped to `/auth`), and prefixed names by default: `__Host-access_token` and
//!   `__Host-csrf_token` (only this very host can set them, so a sibling subdomain cannot
//!   toss a cookie in) and `__Secure-refresh_token` (`__Host-` forbids its `/auth` path; a
//!   tossed refresh cookie still fails, since a cookie refresh must send the CSRF value bound
//!   into that token and the page's `__Host-csrf_token` is the victim's).
//!   `insecure_unprefixed_names` restores plain names; with a `Domain`, `__Host-` becomes
//!   `__Secure-`.
//! - CSRF: a cookie-authenticated unsafe request needs `X-CSRF-Token` matching the value
//!   bound into its token, and is refused when `Sec-Fetch-Site: cross-site` or `Origin` is
//!   another origin (a trusted origin aside); a cookie WebSocket handshake gets the same
//!   origin check. A request with neither `Origin` nor `Sec-Fetch-Site` passes the origin
//!   check (never the double submit): browsers send `Origin` on every cross-origin unsafe
//!   request and handshake and current ones send `Sec-Fetch-Site`, so only non-browser
//!   clients send neither.
//! - Login CSRF (a cross-site form logging the victim into the attacker's account): a login
//!   handler should take `application/json` only and refuse cross-site `Origin` /
//!   `Sec-Fetch-Site`, as the quickstart's does with the crate's building blocks
//!   [`require_json_content_type`](crate::http::require_json_content_type) and
//!   [`Web::check_same_origin`](crate::http::Web::check_same_origin) (or the
//!   [`SameOrigin`](crate::http::SameOrigin) extractor), which fit any handler.
//! - JWKs whose `use` is not `sig`, or whose `key_ops` lack `verify`, are refused.
//! - Logs (`tracing`) carry the reason and the first 8 bytes of the `jti` digest — never a
//!   token, a secret or a cookie value.
//!
//! # Refusals
//!
//! Every refusal is an RFC 6750 answer with a JSON body `{"error", "error_description"}` and
//! `Cache-Control: no-store`:
//!
//! | situation | status | `WWW-Authenticate` |
//! | --- | --- | --- |
//! | no credentials | 401 | `Bearer realm="api"` |
//! | bad, expired, revoked or wrong-kind token | 401 | `Bearer realm="api", error="invalid_token", error_description="…"` |
//! | malformed `Authorization`, two tokens, a body that is not `application/json` | 400 | `… error="invalid_request" …` |
//! | CSRF value missing or wrong, cross-site `Origin` / `Sec-Fetch-Site` (cookie requests, WebSocket handshakes, `check_same_origin`) | 403 | `… error="invalid_request" …` |
//! | missing scope | 403 | `… error="insufficient_scope", …, scope="users:write"` |
//! | revocation store down | 503 | none (`Retry-After: 1`), fail closed |
//! | an external issuer's keys not fetched yet, or stale past `max_stale` | 503 `temporarily_unavailable` | none (`Retry-After: 1`) |
//! | extractor without the layer (a bug) | 500 | none; the message names the mistake |
//!
//! Descriptions are fixed strings: nothing the client sent is echoed. A handler's own
//! refusals take the same path: see [one error path](super::layer#one-error-path).
//!
//! # Scopes
//!
//! Scopes are matched exactly, segment by segment (the grammar is in the
//! [wire format](super::wire_format#scopes)): `*` grants everything and `resource:*` every
//! action on `resource`. There is never substring or prefix matching: `admin` does not grant
//! `administrator`, and `admin*` is not a scope.
//!
//! # Revocation
//!
//! Revocation stores the SHA-256 digest of the `jti`, never the token. "Revoke everything of
//! a user" (`auth.revoke(Revocation::subject(sub))`, `sessions.revoke_user(sub)`) is one write
//! covering every token of the subject however it was minted (`Sessions`, `issue_access`,
//! `issue_service`, `issue_granted`, `issue_pair`): it bumps the subject's generation and
//! records now as its cutoff (`SubjectCutoff`). A token carrying `gen` is refused when its
//! generation is older; a token without `gen` when its `iat` is at or before the cutoff (so
//! one minted in the very same second is refused too: mint it again; `Sessions` tokens
//! carry `gen`, so a login right after works). Checked together with the digest, in the same
//! lookup or round trip, on every store.
//!
//! `auth.revoke(Revocation::subject(sub))` revokes one of **our** subjects: a trusted
//! identity provider's user of the same name is untouched (its tokens are checked under a
//! key of their issuer's); revoke a provider's user with
//! `Revocation::external_subject(iss, sub, before)` and a provider session with
//! `Revocation::external_session(iss, sid)` (what its back-channel logout means). The per-request check fails
//! closed when the store is down (503), unless configured otherwise: see
//! [stores](super::stores#when-a-store-is-down) and, per external issuer,
//! [identity providers](super::identity_providers#limits).
