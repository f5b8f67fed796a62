//! Cookie sessions: login, refresh with rotation and reuse detection, logout, session lists
//! — what [`Sessions`](crate::Sessions) does, and what a browser sees.
//!
//! Refresh tokens live in HttpOnly cookies (or JSON bodies for non-browser clients), every
//! refresh rotates the token within its *session* (one per login: the chain of rotated
//! refresh tokens OAuth calls a "refresh token family"), a consumed token presented again
//! revokes the whole session, and cookie requests are protected against CSRF.
//!
//! ```no_run
//! use axum::{Router, routing::get};
//! use axum_token_auth::{Sessions, TokenAuth, store::memory::MemoryRefreshStore};
//!
//! # fn demo(auth: TokenAuth) -> Result<(), Box<dyn std::error::Error>> {
//! let sessions = Sessions::builder(auth.clone(), MemoryRefreshStore::new())
//!     // .token_delivery(TokenDelivery::CookiesWithAccessToken) for SPAs sending bearer too
//!     .build()?;
//! let app: Router = Router::new()
//!     .route("/auth/sessions", sessions.sessions_route())          // the caller's sessions
//!     .route("/auth/sessions/{id}", sessions.revoke_session_route()) // "log out that device"
//!     .route_layer(auth.layer()) // only these routes: unknown paths stay 404, not 401
//!     .route("/auth/refresh", sessions.refresh_route())
//!     .route("/auth/logout", sessions.logout_route());
//! // `route_layer` guards the routes above it and nothing else, whereas `.layer` would also
//! // wrap the router's fallback and answer 401 for every unknown path.
//! // The login: `sessions.password_login(your_users).build()?.route()` (see "Password
//! // logins" below), or your own handler, after checking the credentials:
//! //   let login = sessions.login(&TokenRequest::new(user).scopes(..), user_agent(&headers)).await?;
//! //   return sessions.login_response(&login);   // Set-Cookie + {"token_type","expires_in",…}
//! # Ok(()) }
//! ```
//!
//! # The flow
//!
//! | step | browser sends | server does | answers |
//! | --- | --- | --- | --- |
//! | login | credentials (`PasswordLogin`, or your handler: JSON only, same origin) | `sessions.login`: new session F, access A1 + refresh R1 bound to F and to a random CSRF value | cookies `__Host-access_token` (HttpOnly, Lax, `/`), `__Secure-refresh_token` (HttpOnly, Strict, `/auth`), `__Host-csrf_token` (readable); body `{"token_type","expires_in","refresh_expires_in"}` without tokens |
//! | API call | `__Host-access_token` cookie (or `Authorization: Bearer`) | layer validates A1; unsafe methods by cookie need `X-CSRF-Token` = the `csrf_token` value, and are refused when `Origin`/`Sec-Fetch-Site` say cross-site; a cookie WebSocket handshake gets the origin check | your handler |
//! | refresh | `POST /auth/refresh` with the refresh cookie + `X-CSRF-Token` (or JSON `{"refresh_token"}`) | `SessionHooks::on_refresh` may deny or change the successor; R1 consumed atomically, successor A2 + R2 in F with the parent's (or the hook's, never wider) claims, both capped at F's absolute end (30 days) | cookie refresh: new cookies, no token in the body; JSON refresh: the JSON pair, no cookies |
//! | retry (2 tabs) | R1 again within 10 s while R2 is unused | the *same* A2 + R2 | same pair |
//! | reuse | R1 after R2 was used, or a grandparent | F revoked, with its access tokens; `ReuseDetected` hook | 401 `invalid_token`, cookies cleared |
//! | logout | `POST /auth/logout` (cookie + `X-CSRF-Token`, or bearer / JSON body) | every claim but time checked (`iss`, `aud`), F must belong to the token's `sub`; F and the access token revoked | 204, cookies cleared; no credentials: 401 and nothing cleared |
//!
//! A successor never has wider scopes than its parent: scopes `AllowWith` names that the
//! parent did not grant are dropped (log in again for more). `Deny` revokes the session and
//! its access tokens (`401 invalid_token`, cookies cleared). A per-login `TokenRequest::ttl`
//! is the access token's; the refresh token keeps the configured lifetime, and no access
//! token outlives its session.
//!
//! # Hooks
//!
//! [`SessionHooks`](crate::session::SessionHooks) (object-safe, `#[async_trait]`):
//! `on_refresh(&parent) -> RefreshDecision::{Allow, AllowWith(SuccessorClaims), Deny}` is
//! consulted in every refresh (re-read scopes from your grant store, refuse disabled
//! accounts); `on_tokens_refreshed` and `on_event` (issued, refreshed, reuse
//! detected, revoked, denied) observe. The store side is
//! [`RefreshStore`](crate::store::RefreshStore): `create_session`, `verify`, the atomic
//! `rotate` (which decides `RotateOutcome::Compromised`), `revoke_user` / `revoke_session`,
//! `user_has_sessions`. Operations fail with a
//! [`SessionError`](crate::session::SessionError) saying what happened (`RefreshReused`,
//! `AccessTokenMismatch`, `SessionEnded`, `RefreshDenied`, `AccessTokenNotExpired`, a store
//! down, …); the routes answer it as an [`AuthError`](crate::AuthError) (the table is on
//! `From<SessionError> for AuthError`) rendered by the configured
//! [`ErrorRenderer`](crate::http::ErrorRenderer).
//! `SessionsBuilder::require_expired_access(true)` refuses a refresh while the access token
//! is still valid ("expired" as the layer sees it, leeway included); it is off by default,
//! since it logs out multi-tab users.
//!
//! # Token delivery
//!
//! [`TokenDelivery`](crate::session::TokenDelivery), `SessionsBuilder::token_delivery`,
//! `Sessions::login_response_with`: a token delivered as a cookie never appears in a body,
//! where page script (any XSS) could read it — a refresh token read that way would work
//! off-site through the JSON refresh for the session's whole lifetime. `Cookies` (default):
//! cookies plus `{"token_type","expires_in","refresh_expires_in"}`; `CookiesWithAccessToken`:
//! the access token in the body too, the refresh token never; `Body`: the OAuth-style JSON
//! pair and no cookies, for non-browser clients. The refresh route follows the client: a
//! refresh by cookie is answered with cookies, a refresh by JSON body with a JSON body.
//!
//! Single-page apps: keep tokens in the cookies and let the browser send them. An app that
//! also keeps an access token in memory (`CookiesWithAccessToken`) and sends it as
//! `Authorization: Bearer` must send the *current* one: a bearer token that differs from the
//! access cookie is refused as a malformed request (400), and a refresh presented with an
//! access token that was not issued with it ends the session (the refresh token is taken for
//! compromised).
//!
//! # Password logins
//!
//! [`Sessions::password_login`](crate::Sessions::password_login) (feature `password`) is the
//! pattern for a password login: the application implements
//! [`PasswordAccounts`](crate::session::PasswordAccounts) (`find(username) →
//! PasswordAccount { hash, TokenRequest }`, optionally `upgrade_hash`) and mounts the route;
//! the route checks JSON and same origin (login CSRF), reads the body, binds a DPoP proof,
//! asks the throttle, runs exactly one password hash (against a dummy argon2id hash for an
//! unknown user, on `spawn_blocking`, at most one per CPU at once), stamps `acr`/`amr`
//! `pwd`, starts the session with the user agent and client address, and answers as
//! `token_delivery` asks. The ordered list is in the
//! [`password_login`](crate::session::password_login) module docs.
//!
//! ```no_run
//! # #[cfg(feature = "password")]
//! # fn demo(sessions: axum_token_auth::Sessions, users: impl axum_token_auth::session::PasswordAccounts) -> Result<(), Box<dyn std::error::Error>> {
//! use std::net::SocketAddr;
//! use axum::Router;
//!
//! let login = sessions.password_login(users).build()?;
//! let app: Router = Router::new().route("/auth/login", login.route());
//! // ConnectInfo: the throttle counts per client address.
//! let service = app.into_make_service_with_connect_info::<SocketAddr>();
//! # let _ = service; Ok(()) }
//! ```
//!
//! ⚠️ Serve with `ConnectInfo` as above (or set
//! [`client_address`](crate::session::PasswordLoginBuilder::client_address) behind a
//! proxy): a plain `axum::serve(listener, app)` gives the route no client address, and
//! then only the loose per-account limit applies (the route logs a warning once).
//!
//! **Brute force.** Every attempt first asks a
//! [`LoginThrottle`](crate::session::LoginThrottle), on the name as
//! [`PasswordAccounts::normalize`](crate::session::PasswordAccounts::normalize) spells it
//! (the name the lookup gets too); the built-in
//! [`LoginLimiter`](crate::session::LoginLimiter) counts attempts per account and address (5
//! per 15 min), per address (50 per 15 min) and per account (100 per hour), in fixed windows,
//! following OWASP: the tight limits need the attacker's own address, and the per-account
//! one is loose. Each attempt is counted *before* its hash, so a burst of concurrent
//! guesses gets no more checks than the limit; a success gives its attempts back. Over a
//! limit: 429 `slow_down` with `Retry-After`, and no password is checked. ⚠️ The
//! per-account limit is a window, not a permanent lock, but an attacker with many
//! addresses can fill it again each window and keep the owner out while the attack
//! lasts (account-lockout DoS): keep it loose or disable it, and see the
//! [`throttle`](crate::session::throttle) module docs for what else helps. The counters live in an
//! [`AttemptCounter`](crate::store::attempts::AttemptCounter): in memory by default (per
//! instance), or `LoginLimiter::shared(redis_store)` for every instance at once (keys
//! `login:<kind>:<digest>`, no name or address in clear). A throttle whose store is down
//! answers 503 before any password is checked (fail closed: failing open would be unlimited
//! guessing, and a right password would then stand out by its 503 when the sessions share
//! that store). Address-only limits (every route, not just logins) compose with
//! `tower_governor` in front of the router; the per-account limit is this crate's.
//!
//! # Refresh requests
//!
//! The refresh route takes the refresh cookie (with `X-CSRF-Token`), a JSON body
//! `{"refresh_token"}` and the OAuth 2.0 form (`grant_type=refresh_token&refresh_token=…`,
//! RFC 6749 §6); `Sessions::read_refresh_request` reads a refresh request (body, form or
//! cookie, with the CSRF check) for an application's own refresh handler
//! ([`PresentedRefresh`](crate::session::PresentedRefresh)).
//!
//! `SessionsBuilder::keep_refresh_token(true)` answers a refresh with a new access token and
//! keeps the refresh token, for confidential clients (servers that keep the refresh token
//! secret); rotation stays the default. In that mode there is no reuse detection —
//! presenting the same refresh token again is the normal case — so a stolen refresh token
//! works until its session ends (logout, `revoke_session`, `revoke_user`, an `on_refresh`
//! veto, the session lifetime), and logout does not revoke the access tokens such refreshes
//! minted (they expire within the access lifetime).
//!
//! `SessionsBuilder::exchange_legacy_refresh_tokens(true)` lets the refresh route take a
//! replaced system's refresh token: see [migration](super::migration#carrying-sessions-over).
//!
//! # Cookies over plain http
//!
//! ⚠️ The cookies are `Secure` and named `__Host-access_token`, `__Host-csrf_token` and
//! `__Secure-refresh_token`. Browsers treat `http://localhost` as a secure context and accept
//! them there, but many HTTP clients (curl among them) never send Secure cookies over plain
//! `http://`. To walk the cookie flow with curl locally, start the quickstart with
//! `COOKIE_SECURE=false` (development only; it maps to
//! [`CookieSettings::insecure_dev_cookies`](crate::http::CookieSettings::insecure_dev_cookies),
//! which also drops the prefixes: browsers refuse prefixed cookies without `Secure`, so the
//! names are plain `access_token`, `refresh_token`, `csrf_token` there).
//!
//! By default the quickstart's login sets the tokens as HttpOnly cookies only, so a browser
//! (or `curl -c jar -b jar`) is authenticated without the header and no page script can read
//! a token; `"token_delivery":"body"` asks for the JSON pair instead (and no cookies), for
//! non-browser clients. The cookie flow with curl:
//!
//! ```sh
//! curl -c jar -b jar localhost:3000/auth/login -H 'content-type: application/json' \
//!   -d '{"username":"alice","password":"alice-password"}'
//! CSRF=$(awk '$6=="csrf_token"{print $7}' jar)   # plain names with COOKIE_SECURE=false
//! curl -b jar localhost:3000/me                                              # 200
//! curl -b jar -X POST localhost:3000/users                                   # 403: no CSRF value
//! curl -b jar -X POST localhost:3000/users -H "X-CSRF-Token: $CSRF"         # 201
//! curl -b jar -c jar -X POST localhost:3000/auth/refresh -H "X-CSRF-Token: $CSRF"   # 200, new cookies
//! curl -b jar localhost:3000/auth/sessions                                   # [{"id":…,"current":true}]
//! curl -b jar -c jar -X POST localhost:3000/auth/logout -H "X-CSRF-Token: $CSRF"    # 204
//! curl -b jar localhost:3000/me                                              # 401
//! ```
