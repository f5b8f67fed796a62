//! Whom the layer trusts: the crate's own live keyring and external issuers (identity
//! providers such as Keycloak, Auth0, Entra ID, Cognito, Google) with their key sets,
//! static or fetched live from a JWKS URL or by OIDC discovery (feature `oidc`).
//!
//! One [`TokenAuth`](crate::TokenAuth) serves the service's own tokens and its
//! provider's: the layer picks the issuer by the token's `iss`, the key by `kid` within
//! that issuer's set, and hands handlers the same [`Claims`](crate::Claims) and scope
//! guards whichever issued the token.
//!
//! ```no_run
//! # #[cfg(feature = "oidc")] {
//! use axum::{Router, routing::get};
//! use axum_token_auth::{Claims, TokenAuth, trust::Issuer};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let auth = TokenAuth::builder()
//!     .trust(Issuer::discover("https://sso.example.com/realms/acme").audience("orders-api"))
//!     .build()?; // verify-only: no signing key needed
//! let app: Router = Router::new()
//!     .route("/me", get(|c: Claims| async move { c.sub.clone() }))
//!     .layer(auth.layer());
//! # let _ = app; Ok(()) }
//! # }
//! ```
//!
//! # Presets
//!
//! | provider | constructor | `iss` | scopes from | also |
//! | --- | --- | --- | --- | --- |
//! | Keycloak | [`Issuer::keycloak`]`(base, realm)` | `{base}/realms/{realm}` | `scope`, `realm_access.roles` | `typ` claim must be `Bearer` |
//! | Auth0 | [`Issuer::auth0`]`(domain)` | `https://{domain}/` | `scope`, `permissions` | audience = API identifier |
//! | Entra ID | [`Issuer::entra`]`(tenant)` | `https://login.microsoftonline.com/{tenant}/v2.0` | `scp`, `roles` | tenant from `tid` |
//! | Cognito | [`Issuer::cognito`]`(region, pool)` | `https://cognito-idp.{region}.amazonaws.com/{pool}` | `scope`, `cognito:groups` as `group:*` | audience claim `client_id`, `token_use` must be `access` |
//! | Google | [`Issuer::google`]`()` | `https://accounts.google.com` | none | ID tokens minted for the service (access tokens are opaque) |
//!
//! Every preset still needs [`Issuer::audience`].

pub(crate) mod external;
#[cfg(feature = "oidc")]
pub(crate) mod fetch;
mod issuer;
pub(crate) mod keyring;
pub(crate) mod keyset;
mod legacy;
#[cfg(feature = "oidc")]
pub(crate) mod remote;
mod scopes;
pub mod verify;

pub use issuer::Issuer;
pub use legacy::{LegacyFormat, LegacyIssuer};
pub use scopes::ScopeClaim;
pub use verify::VerifyError;

pub(crate) use external::{TrustedIssuer, TrustedIssuers};
