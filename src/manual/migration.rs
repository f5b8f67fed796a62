//! Moving over from the token services this crate replaces — ScopedTokenService, webtool's
//! `JWTService` and `RedisJWTService`, fastcore security and Flask Token-Auth — call by call.
//!
//! # During the migration window
//!
//! Their tokens keep working during a migration window:
//! `TokenAuthBuilder::accept_legacy(LegacyIssuer::… .accept_until(date))` accepts a seed
//! format next to the new tokens, mapped onto the same claims (`Claims`, `RequireScope` and
//! revocation see no difference), kinds kept apart (a legacy `type: refresh` is never an
//! access token), and refuses every token of the format after the date (`invalid_token`,
//! "tokens of this format are no longer accepted"). A legacy token is recognised by its shape
//! (`typ: JWT` or none — ours always say `at+jwt`, `refresh+jwt` or `service+jwt`) and
//! verified only by the legacy issuer's own key. Old secrets go through the same checks as
//! new ones: a placeholder or short secret is refused, since tokens signed with it are
//! forgeable — rotate it in the old system first. Each format keeps its own revocation
//! identity (a ScopedTokenService token's SHA-256, the others' `jti` / `ref_id`), so each old
//! revocation list is imported as is with
//! `auth.revoke(Revocation::legacy(LegacyFormat::…, entry, expires_at))`; scopes are mapped one
//! array element at a time. Details, and where each system keeps its list:
//! [`trust::legacy`](crate::trust::legacy).
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use axum_token_auth::{TokenAuth, trust::LegacyIssuer};
//!
//! let until = SystemTime::now() + Duration::from_secs(30 * 86_400);
//! let auth = TokenAuth::builder()
//!     .hs256_secret("the-new-random-secret-of-at-least-32-bytes")
//!     .accept_legacy(LegacyIssuer::scoped_token_service("the-old-service-secret-of-32-bytes+")?.accept_until(until))
//!     .build()?;
//! # let _ = auth;
//! # Ok::<(), axum_token_auth::ConfigError>(())
//! ```
//!
//! In the quickstart, each format's secret turns it on: `LEGACY_SCOPED_TOKEN_SECRET`,
//! `LEGACY_WEBTOOL_SECRET`, `LEGACY_FASTCORE_SECRET` (with `LEGACY_FASTCORE_AUDIENCE`,
//! `LEGACY_FASTCORE_ISSUER`), `LEGACY_TOKEN_AUTH_SECRET`; the window ends at
//! `LEGACY_ACCEPT_UNTIL` (RFC 3339 or Unix seconds; default: 30 days from start).
//! `POST /admin/revocations` revokes a legacy token like any other.
//!
//! # ScopedTokenService
//!
//! The chat-bot platform module SDK.
//!
//! | theirs | ours |
//! | --- | --- |
//! | `ScopedTokenService(secret_key, algorithm='HS256')` | `TokenAuth::builder().hs256_secret(…)` (≥ 32 bytes, placeholders refused) |
//! | `generate_token(community_id, module_name, scopes, expires_in_hours, token_type, metadata)` | `auth.issue_access / issue_service / issue_refresh(&TokenRequest::new(module).tenant(community).scopes(…).metadata(k, v).ttl(…))` |
//! | `validate_token(token)` → payload or `None` | `auth.validate::<NoCustomClaims>(token, TokenCheck::ANY_KIND)` → `TokenClaims` with `.kind`, or an `AuthError` saying why; in handlers `Claims` |
//! | `payload['community_id']`, `['module_name']`, `['scopes']`, `['type']` | `claims.tenant`, `claims.sub`, `claims.scope`, `claims.kind` |
//! | `TokenData.is_expired()`, `has_scope()`, `to_dict()` / `from_dict()` | `TokenClaims::is_expired_at(auth.now())`, `has_scope()`, `to_value()` / `from_value()` (kind included) |
//! | `revoke_token(token)` → bool | `auth.revoke(token).await` → `Result` (a store outage is an error, not `False`) |
//! | `grant_scope_async` / `get_granted_scopes_async` / `revoke_scope_async` | `GrantStore::grant_scope` / `granted_scopes` / `revoke_scope`; `auth.issue_granted` refuses ungranted scopes |
//! | `module_scope_audit` table | `GrantStore::audit_log` (append-only on PostgreSQL, enforced by a trigger) |
//! | refresh: validate, check `type == 'refresh'`, `generate_token(...)` | `auth.validate(t, TokenCheck::kind(TokenKind::Refresh))` + `TokenRequest::from_claims(&claims)`, or `Sessions` (rotation, reuse detection) |
//! | "revoke all on password change" (loop over tokens) | `auth.revoke(Revocation::subject(sub))`: one write |
//! | `revoked_tokens` (SHA-256 of tokens) | import each row: `auth.revoke(Revocation::legacy(LegacyFormat::ScopedTokenService, hash, expires_at))`; legacy tokens are revoked by the same digest |
//! | their tokens during the cutover | `LegacyIssuer::scoped_token_service(old_secret)?.accept_until(date)`; quickstart: `LEGACY_SCOPED_TOKEN_SECRET` (+ `LEGACY_ACCEPT_UNTIL`, RFC 3339 or Unix seconds) |
//! | default lifetime 24 h, 1–8760 h | access 15 min (1 min … 24 h), service 30 d (1 h … 8760 h) |
//!
//! Its `revoked_tokens` table has the name of one of ours: keep this crate's tables in a
//! schema of their own (`PostgresSettings::default().schema("auth")`, see
//! [stores](super::stores#where-the-tables-live)) and the two live side by side.
//!
//! # webtool `JWTService` / `RedisJWTService`
//!
//! `create_token(data)` → `auth.issue_pair` or `Sessions::login`; `validate_access_token` →
//! the layer / `auth.validate`; `validate_refresh_token(access, refresh)` and `update_token`
//! (rotation) → `Sessions::refresh` (the refresh token is bound to its family, a reuse ends
//! the family); `invalidate_token` → `Sessions::logout`; `search_token` (a user's active
//! refresh tokens) → `Sessions::list` / `sessions_route()`; the Redis Lua scripts →
//! `store::redis::RedisStore`. Defaults: HS384, 1 h access, 1 week refresh there; HS256 (any
//! algorithm via `JWT_ALGORITHM`), 15 min, 7 days here. Their tokens:
//! `LegacyIssuer::webtool(secret)` (HS384, `time.time()` float dates, a refresh token told by
//! its `at_hash`; quickstart: `LEGACY_WEBTOOL_SECRET`); its `jwt_invalidate_{jti}` keys →
//! `LegacyFormat::Webtool` imports.
//!
//! # fastcore security (FastAPI)
//!
//! The same `JWT_SECRET_KEY`, `JWT_ALGORITHM`, `JWT_ACCESS_TOKEN_EXPIRE_MINUTES`,
//! `JWT_REFRESH_TOKEN_EXPIRE_DAYS`, `JWT_AUDIENCE`, `JWT_ISSUER` variables
//! (`TokenAuth::from_env`, see [configuration](super::configuration); `supersecret` and other
//! placeholders are refused). `create_token_pair` → `Sessions::login` / `auth.issue_pair`;
//! `get_token_data` → `Claims`; `get_current_user_dependency` → `CurrentUser<L>` over your
//! `UserLoader`; `refresh_access_token` → `Sessions::refresh` / `refresh_route()`; logout →
//! `logout_route()` or `auth.revoke`; bcrypt hashes → `password::verify_password` (argon2id
//! for new ones). Their errors → ours: `InvalidTokenError` → 401 `invalid_token`,
//! `ExpiredTokenError` → 401 `invalid_token` ("the token has expired"), `RevokedTokenError` →
//! 401 `invalid_token` ("the token has been revoked"), `InvalidCredentialsError` → 401
//! `invalid_grant`; a store outage is a 503, never a 401. Their tokens:
//! `LegacyIssuer::fastcore(alg, secret)` (with `.audience()` / `.issuer()` as configured
//! there; quickstart: `LEGACY_FASTCORE_SECRET`); the `jti` of its revoked tokens →
//! `LegacyFormat::Fastcore` imports.
//!
//! # Flask Token-Auth
//!
//! `Sessions` wires Token-Auth's refresh flow, without its flaws: refresh tokens in HttpOnly
//! cookies (or JSON bodies), rotation within a family, reuse detection, CSRF protection (see
//! [sessions](super::sessions)). `set_token_cookies` → `Sessions::login_response` (HttpOnly,
//! Secure, SameSite, CSRF-bound); `token_required` → the layer; `refresh_access_token` →
//! `refresh_route()`, or `Sessions::read_refresh_request` (the `PresentedRefresh` extractor)
//! in a wrapper of your own. Their access tokens (`user_id`, `ref_id`, or no `ref_id` from
//! `generate_jwt_token`) during the cutover: `LegacyIssuer::token_auth(alg, secret)`
//! (quickstart: `LEGACY_TOKEN_AUTH_SECRET`).
//!
//! Its callbacks map to traits you can implement (object-safe, `#[async_trait]`):
//!
//! | Token-Auth | here |
//! | --- | --- |
//! | `create_refresh_token(user_id, access_token)` | `RefreshStore::create_session` |
//! | `verify_refresh_token` | `SessionHooks::on_refresh(&parent) -> RefreshDecision::{Allow, AllowWith(SuccessorClaims), Deny}`, consulted in every refresh (re-read scopes from your grant store, refuse disabled accounts); the store-side check is `RefreshStore::verify` |
//! | `refresh_token_compromised(refresh, access)` | decided inside the atomic `RefreshStore::rotate` (`RotateOutcome::Compromised`) |
//! | `revoke_user_refresh_tokens(user_id \| refresh_token)` | `RefreshStore::revoke_user` / `revoke_session` |
//! | `user_has_refresh_tokens` | `RefreshStore::user_has_sessions` |
//! | `after_new_access_token_generated` | `SessionHooks::on_tokens_refreshed` (+ `on_event`: issued, refreshed, reuse detected, revoked, denied) |
//! | error callbacks (invalid refresh / invalid access / not expired) | `ErrorRenderer`, which sees the `AuthError` (`RefreshReused`, `SessionEnded`, `RefreshDenied`, `AccessTokenNotExpired`, …) |
//! | "access token must be expired" | `SessionsBuilder::require_expired_access(true)` (off by default: it logs out multi-tab users); "expired" as the layer sees it, leeway included |
//!
//! Token-Auth's `refresh_token_compromised` rule holds for single-page apps that send an
//! access token as `Authorization: Bearer` next to the cookies: a refresh presented with an
//! access token that was not issued with it ends the session.
//!
//! # Carrying sessions over
//!
//! `SessionsBuilder::exchange_legacy_refresh_tokens(true)` (on in the quickstart) lets the
//! refresh route take a legacy refresh token by JSON or form body: verified like any legacy
//! token (window open, not revoked), it is revoked and exchanged for a new session of its
//! subject with its scopes and tenant, so users move over at their next refresh. webtool
//! refresh tokens are never exchanged (webtool forgets rotated ones in an allow list nothing
//! can import). Logout revokes a legacy access or refresh token.
//!
//! # Their refresh semantics
//!
//! The seeds answer a refresh with a new access token and keep the refresh token.
//! `SessionsBuilder::keep_refresh_token(true)` does the same, for confidential clients;
//! rotation stays the default, and what the mode gives up is in
//! [sessions](super::sessions#refresh-requests). The refresh route also takes the OAuth 2.0
//! form, and `Sessions::read_refresh_request` serves an application's own refresh handler.
//!
//! # What changes for clients
//!
//! Access tokens live 15 minutes (configurable); 401 answers carry
//! `WWW-Authenticate: Bearer error="…"` and a JSON body `{"error", "error_description"}`; a
//! refresh answers a new refresh token too (rotation: keep the newest); cookie clients send
//! the `csrf_token` cookie's value in `X-CSRF-Token` on unsafe requests.
