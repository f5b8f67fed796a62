//! Tokens from the OpenID Provider you already run (Keycloak, Auth0, Entra ID, Cognito,
//! Google…), next to the service's own tokens or instead of them.
//!
//! ```
//! use axum::{Router, routing::get};
//! use axum_token_auth::{Claims, TokenAuth, trust::{Issuer, ScopeClaim}};
//!
//! let auth = TokenAuth::builder()
//!     .trust(
//!         Issuer::keycloak("https://sso.example.com", "acme")
//!             .audience("orders-api")
//!             .scope_claims([ScopeClaim::path("realm_access.roles").prefix("role:")]),
//!     )
//!     .build()?; // verify-only: no signing key needed
//! let app: Router = Router::new()
//!     .route("/me", get(|c: Claims| async move { c.sub.clone() }))
//!     .layer(auth.layer());
//! # Ok::<(), axum_token_auth::ConfigError>(())
//! ```
//!
//! The presets and discovery live in [`trust`](crate::trust); remote key sets need the
//! `oidc` feature, static keys need none.
//!
//! # How a token finds its issuer
//!
//! - **Selection.** The token's `iss` picks the issuer (read before the signature check,
//!   only to choose a key set); its `kid` picks the key *within that issuer's set*. A key of
//!   one issuer never verifies a token claiming another, the service's own tokens keep every
//!   check they have, and foreign keys never appear in `auth.jwks()`.
//! - **Audience is required** for an external issuer, so the provider's ID tokens
//!   (audience = a client id) never pass as access tokens. `typ` may be `at+jwt`, `JWT` or
//!   absent (what the big providers send); `.require_at_jwt()` narrows it to RFC 9068.
//! - **Keys**: asymmetric algorithms only; remote `kty: oct` and `use: enc` keys are ignored;
//!   the header's `alg` must be the key's.
//! - **Scopes** land in the same `ScopeSet` the guards check, from the claims you name:
//!   `scope` (default), `scp`, `permissions`, `realm_access.roles`,
//!   `resource_access.<client>.roles`, `roles`, `cognito:groups`…, each with an optional
//!   prefix (`ScopeClaim::path("realm_access.roles").prefix("role:")`).
//! - **`jti` is optional** for external tokens: one without gets the id `t.` + base64url
//!   (SHA-256 of the token), so `auth.revoke(&token)` works on it; revocations of external
//!   tokens are keyed by issuer and id, never colliding with ours.
//! - Static keys need no feature: `Issuer::jwks(iss, &jwk_set)` or `Issuer::keys(iss, [key])`.
//!
//! # Live key sets
//!
//! `Issuer::discover(iss)` and `Issuer::jwks_url(iss, url)` (feature `oidc`):
//!
//! - fetched in the background (start-up never blocks; `auth.await_ready(timeout)` if you
//!   want to wait), refreshed by the response's `Cache-Control: max-age` clamped to
//!   1 min … 1 h (`Issuer::refresh_bounds`), and every 10 minutes when the response has
//!   no `max-age` (`no-store` / `no-cache` count as 0: every minute);
//! - an unknown `kid` (a rotation at the provider, or a forgery) causes a refetch that
//!   concurrent requests share, within a budget per issuer: 3 at once (`refetch_burst`),
//!   then one per `refetch_interval` (4 s), and one per `kid` per 30 s — a flood of random
//!   `kid`s costs at most 3 + 15 fetches a minute, and a rotation is still picked up within
//!   4 s;
//! - a failed fetch keeps the last good set for `max_stale` (24 h), then that issuer's
//!   tokens get 503 `temporarily_unavailable` — never 401 — until the provider is back;
//! - a *successful* fetch of a set without usable keys (`{"keys":[]}`) withdraws them all:
//!   that issuer's tokens get 401 `invalid_token` until it publishes keys again;
//! - fetches have a 5 s timeout and a 256 KiB limit, follow no redirects (an answer from
//!   another URL than the one asked is refused even with your own `http_client`), and
//!   `http://` is refused except on loopback;
//! - a key dropped from a set (or retired from our own keyring) voids what the
//!   verified-token cache remembered of it;
//! - each set can be watched: `auth.key_sets()` (state, age, staleness against
//!   `max_stale`, fetch and refetch counts, for a health endpoint), the
//!   `token_auth_key_set_*` metrics per issuer, and a WARN when the last good set is first
//!   used after a failed fetch and at the first 503 — what to alert on is in
//!   [metrics](super::metrics#what-to-alert-on).
//!
//! # Opaque tokens (introspection)
//!
//! Some providers hand out access tokens that are not JWTs (Auth0 without an audience,
//! Okta, ORY Hydra, oidc-provider's default format, most enterprise gateways): nothing in
//! them can be verified offline. Give their issuer an
//! [`Introspection`](crate::trust::Introspection) (feature `oidc`) and the layer asks its
//! RFC 7662 endpoint about each such token:
//!
//! ```no_run
//! # #[cfg(feature = "oidc")] {
//! use std::time::Duration;
//! use axum_token_auth::{TokenAuth, trust::{Introspection, Issuer}};
//!
//! let auth = TokenAuth::builder()
//!     .trust(
//!         Issuer::discover("https://idp.example.com")
//!             .audience("https://api.example.com")
//!             .introspection(
//!                 Introspection::discovered() // introspection_endpoint of its metadata
//!                     .client_secret_basic("orders-api", "the-client-secret")
//!                     .max_cache_ttl(Duration::from_secs(60)),
//!             ),
//!     )
//!     .build()?;
//! # let _ = auth; }
//! # Ok::<(), axum_token_auth::ConfigError>(())
//! ```
//!
//! - **which tokens**: every token that is not a JWT goes to the one issuer configured
//!   with introspection (two are a `ConfigError`); its JWTs are still verified offline;
//! - **client authentication**: `client_secret_basic`, `client_secret_post` or
//!   `private_key_jwt` (an assertion signed with a [`Key`](crate::Key) of yours);
//!   optionally signed RFC 9701 JWT responses, verified with the issuer's keys;
//! - **the same claims**: an `active` answer is mapped as the issuer's JWTs are —
//!   audience, scope claims, tenant, `cnf` (DPoP and certificate binding), revocation —
//!   so `Claims`, the scope guards and revocation work unchanged; a token without `sub`
//!   (client credentials) has `client:` + its `client_id` as subject (never a user's);
//! - **the cache and its trade-off**: the verdict stays in the layer's verified-token
//!   cache until the token's `exp` or `max_cache_ttl` (default 60 s), whichever is first.
//!   A token revoked *at the provider* is still accepted up to that long; a shorter bound
//!   means more calls (one per token per bound: 100 users making 10,000 requests cost 100
//!   calls, measured in `tests/it/introspection.rs`). Inactive answers are not cached;
//! - **failures**: an endpoint that is down, slow, answers garbage or too much is a 503
//!   `temporarily_unavailable` with `Retry-After` (never a 401), within the timeout
//!   (default 3 s); concurrent requests with the same token share one call.
//!
//! Every non-JWT bearer token costs one call until it is cached, garbage included: the
//! endpoint's rate limits are the bound on what random tokens can make it do.
//!
//! # Sign-outs and security events
//!
//! What the provider says happened — a user signed out (OIDC Back-Channel Logout), a
//! session was revoked, a password changed, an account was disabled (SSF pushes of CAEP
//! and RISC events) — is enforced by every instance through the revocation store:
//! `auth.web().security_event_routes()` serves `POST /oidc/backchannel-logout` and
//! `POST /ssf/events`. Register the first as the client's `backchannel_logout_uri` (with
//! `backchannel_logout_session_required`, so tokens carry `sid`), name that client with
//! [`Issuer::client_id`](crate::trust::Issuer::client_id), and ask the provider to put
//! `sid` in access tokens (Keycloak, Entra ID, Auth0 and oidc-provider can). The table
//! of events, the checks and the delivery guarantees: [`trust::events`](crate::trust::events).
//!
//! # Presets
//!
//! | provider | preset | `iss` | scopes from | also |
//! | --- | --- | --- | --- | --- |
//! | Keycloak | `Issuer::keycloak(base, realm)` | `{base}/realms/{realm}` | `scope`, `realm_access.roles` | `typ` claim must be `Bearer`; add an audience mapper for your API's client id |
//! | Auth0 | `Issuer::auth0(domain)` | `https://{domain}/` | `scope`, `permissions` (RBAC on) | audience = the API identifier |
//! | Entra ID | `Issuer::entra(tenant_id)` | `https://login.microsoftonline.com/{tenant}/v2.0` | `scp`, `roles` | tenant from `tid`; set `accessTokenAcceptedVersion: 2` |
//! | Cognito | `Issuer::cognito(region, pool_id)` | `https://cognito-idp.{region}.amazonaws.com/{pool}` | `scope`, `cognito:groups` as `group:*` | no `aud` in access tokens: the audience is `client_id`; `token_use` must be `access` |
//! | Google | `Issuer::google()` | `https://accounts.google.com` | none | Google access tokens are opaque: this verifies Google-signed ID tokens minted *for your service* (Cloud Run, IAP), audience = its URL |
//!
//! # In the quickstart
//!
//! The quickstart trusts one when told (`--features oidc`), and then `/me`, `/users`
//! (`users:read`) and `/admin` (`admin`) answer for its tokens exactly as for its own:
//!
//! ```sh
//! # Keycloak: realm "acme", an audience mapper adding "orders-api", realm roles as scopes
//! OIDC_ISSUER=https://sso.example.com/realms/acme OIDC_AUDIENCE=orders-api \
//!   OIDC_SCOPE_CLAIMS=scope,realm_access.roles cargo run --example quickstart --features oidc
//! # Auth0: API identifier https://orders.example.com, RBAC permissions as scopes
//! OIDC_ISSUER=https://acme.eu.auth0.com/ OIDC_AUDIENCE=https://orders.example.com \
//!   OIDC_SCOPE_CLAIMS=scope,permissions cargo run --example quickstart --features oidc
//! # Without discovery: JWKS_URL=https://…/certs JWKS_ISSUER=https://… instead of OIDC_ISSUER
//! # Opaque tokens: introspection at the discovered endpoint, answers trusted 60 s at most
//! OIDC_ISSUER=https://idp.example.com OIDC_AUDIENCE=https://orders.example.com \
//!   INTROSPECTION_CLIENT_ID=orders-api INTROSPECTION_CLIENT_SECRET=… \
//!   INTROSPECTION_CACHE_MAX_TTL=60 cargo run --example quickstart --features oidc
//! ```
//!
//! # Limits
//!
//! Deliberate limits: `verify_offline` (synchronous) never waits for a refetch — an unknown
//! `kid` is refused there, `validate` and the layer refetch; external tokens are access
//! tokens only (never refresh or service tokens). A `sub` is unique only within its issuer:
//! [`TokenClaims::origin`](crate::TokenClaims::origin) says who vouches for a token,
//! `Sessions` and its routes only ever accept the service's own tokens (a provider's `alice`
//! is refused with 401 `invalid_token`), and
//! [`own_tokens_only()`](crate::TokenAuthLayer::own_tokens_only) /
//! [`issuers([…])`](crate::TokenAuthLayer::issuers) restrict any route the same way.
//! `auth.revoke(Revocation::subject(sub))` revokes one of our own subjects, never a
//! provider's user of the same name: revoke that one with
//! [`Revocation::external_subject`](crate::trust::Revocation::external_subject), a
//! provider session with
//! [`Revocation::external_session`](crate::trust::Revocation::external_session) (our
//! sessions whose login went through it,
//! [`TokenRequest::provider_session`](crate::token::TokenRequest::provider_session),
//! end too). Per issuer,
//! [`Issuer::on_store_failure`](crate::trust::Issuer::on_store_failure) and
//! [`without_revocation_check`](crate::trust::Issuer::without_revocation_check) decide what
//! a revocation-store outage means for its tokens (default: the handle's policy, fail
//! closed).
