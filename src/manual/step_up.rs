//! Step-up authentication (RFC 9470): asking for a stronger or more recent
//! authentication on the routes that need one, with our own sessions and with tokens of
//! an identity provider.
//!
//! A token proves who the user is; some routes also need to know *how* and *when* they
//! proved it: a payment wants a second factor (`acr`), a change of e-mail address an
//! authentication of the last five minutes (`auth_time`). RFC 9470 lets the resource
//! server say so in its 401, and the client get a token that meets it.
//!
//! ```
//! use std::time::Duration;
//! use axum::{Router, body::Body, routing::{get, post}};
//! use axum_token_auth::{TokenAuth, TokenRequest, http::{RequireStepUp, StepUpLayer}, step_up};
//! use http::{Request, StatusCode};
//! use tower::ServiceExt;
//!
//! // Compile-time policies for extractors; the values are checked when compiled.
//! step_up!(pub RecentMfa = acr ["mfa"], max_age 300);
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let auth = TokenAuth::builder().hs256_secret("a-random-secret-of-at-least-32-bytes!!").build()?;
//! let app = Router::new()
//!     // A whole router, configured at run time (e.g. from the environment).
//!     .route("/sensitive", get(|| async { "ok" }))
//!     .route_layer(StepUpLayer::acr(["mfa", "phr"])?.max_age(Duration::from_secs(300)))
//!     // One handler.
//!     .route("/transfer", post(|_: RequireStepUp<RecentMfa>| async { "sent" }))
//!     .layer(auth.layer());
//!
//! let password = auth.issue_access(&TokenRequest::new("alice").acr("pwd").auth_time(auth.now()))?;
//! let res = app
//!     .oneshot(Request::get("/sensitive").header("authorization", format!("Bearer {}", password.as_str())).body(Body::empty())?)
//!     .await?;
//! assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
//! assert_eq!(
//!     res.headers()["www-authenticate"],
//!     r#"Bearer realm="api", error="insufficient_user_authentication", error_description="a stronger or more recent authentication is required", acr_values="mfa phr", max_age=300"#
//! );
//! # Ok(()) }
//! ```
//!
//! # The decision
//!
//! Written once (`token::step_up`), taken by both guard forms, on the verified claims
//! (never the raw token):
//!
//! | requirement | met when | a token without the claim |
//! | --- | --- | --- |
//! | `acr` in a set | the token's `acr` is one of the values, exactly (case-sensitive); for a provider reporting several classes (Entra `acrs`), one of them | fails |
//! | maximum age | `auth_time` ≤ now + leeway and now − `auth_time` ≤ max age + leeway | fails |
//!
//! "now" is the layer's clock (a test clock is obeyed; a cached token ages out of a
//! maximum age while it stays valid), and the leeway is the token's own: the clock skew
//! its issuer is allowed for `exp` (the handle's for our tokens, [`Issuer::leeway`](crate::trust::Issuer::leeway)
//! for a provider's). Without a token the answer is the plain 401; without a
//! [`TokenAuthLayer`](crate::TokenAuthLayer) in front, 500.
//!
//! # The answer
//!
//! 401 (never 403: the token is fine, the authentication is not), the error attached to
//! the response like every other refusal, rendered by the configured renderer:
//!
//! ```text
//! HTTP/1.1 401 Unauthorized
//! www-authenticate: Bearer realm="api", error="insufficient_user_authentication",
//!     error_description="a stronger or more recent authentication is required",
//!     acr_values="mfa phr", max_age=300
//! cache-control: no-store
//! content-type: application/json
//!
//! {"error":"insufficient_user_authentication","error_description":"a stronger or more recent authentication is required"}
//! ```
//!
//! `acr_values` lists the accepted classes in the order configured (the client's
//! preference order); a requirement without classes leaves it out, one without a
//! maximum age leaves `max_age` out. Values are checked against the grammar of an RFC
//! 6749 scope token (printable ASCII but space, `"` and `\`) when configured, so nothing
//! can break out of the quoted attribute. With DPoP on, the attributes go on the
//! `Bearer` challenge (on the `DPoP` one when bearer tokens are not accepted). A client
//! reads them and sends the user back to the authorization server with
//! `acr_values=mfa%20phr&max_age=300` (OpenID Connect authentication request
//! parameters), then retries with the new token.
//!
//! # Our own sessions
//!
//! [`Sessions`](crate::Sessions) carries the authentication in the signed tokens, so the
//! refresh families' stored layout does not change:
//!
//! | event | `acr` / `amr` | `auth_time` |
//! | --- | --- | --- |
//! | [`login`](crate::Sessions::login) | as the application sets them on the [`TokenRequest`](crate::TokenRequest) (`.acr("pwd").amr(["pwd"])`) | now (or the request's own [`auth_time`](crate::TokenRequest::auth_time)) |
//! | refresh (the route, [`Sessions::refresh`](crate::Sessions::refresh), a grace retry) | kept (the hooks cannot change them: reserved names) | kept: it ages |
//! | [`mark_second_factor`](crate::Sessions::mark_second_factor) | the factor's `acr`; `amr` plus the factor's | now |
//! | legacy refresh-token exchange | none | none (nobody authenticated) |
//!
//! A refresh never upgrades: only the application, after checking a second factor,
//! raises a session. Its second-factor route sits under the refresh cookie's path
//! (`/auth` by default) so the browser sends the refresh cookie:
//!
//! ```
//! use axum::{extract::State, http::HeaderMap, response::{IntoResponse, Response}};
//! use axum_token_auth::{AuthError, Sessions};
//! use axum_token_auth::session::{PresentedRefresh, SecondFactor};
//!
//! # fn totp_is_valid(_: &str) -> bool { true }
//! /// `POST /auth/mfa` with the refresh cookie, `X-CSRF-Token` and the code in `X-OTP`.
//! async fn mfa(State(sessions): State<Sessions>, headers: HeaderMap, PresentedRefresh(r): PresentedRefresh) -> Response {
//!     let code = headers.get("x-otp").and_then(|v| v.to_str().ok()).unwrap_or_default();
//!     if !totp_is_valid(code) {
//!         return sessions.auth().web().render_error(AuthError::InvalidCredentials);
//!     }
//!     let factor = SecondFactor::new("mfa").amr(["otp"]);
//!     match sessions.mark_second_factor(&r.refresh_token, &factor, r.proof.as_ref()).await {
//!         Ok(raised) => sessions.login_response(&raised), // new cookies, same session
//!         Err(e) => sessions.auth().web().render_error(e.into()),
//!     }
//! }
//! ```
//!
//! # Identity providers
//!
//! A provider's `acr`, `amr` and `auth_time` pass through normalisation as they are
//! (`acr` from [`Issuer::acr_claim`](crate::trust::Issuer::acr_claim) where the provider
//! names it otherwise, e.g. Entra ID's `acrs`: see the presets table in
//! [`trust`](crate::trust#presets)); a claim of another shape, or a class outside the
//! grammar, is dropped, and a guard then refuses. Many providers put these claims in ID
//! tokens only: configure the provider to add them to access tokens (Keycloak's `acr`
//! client scope, an Auth0 post-login Action, Entra ID authentication contexts).
//! Tested against a real oidc-provider, whose user access tokens carry them.
