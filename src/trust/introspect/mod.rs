//! RFC 7662 token introspection of opaque access tokens (feature `oidc`): an issuer
//! whose access tokens are not JWTs (Auth0 without an audience, Okta, ORY Hydra,
//! oidc-provider's default format, most enterprise gateways) is asked about each token
//! at its introspection endpoint, and an `active` answer becomes the same verified
//! token as a JWT of that issuer: the same [`Claims`](crate::Claims), scope guards,
//! revocation, DPoP or certificate binding, and the layer's verified-token cache —
//! bounded by the token's `exp` and [`Introspection::max_cache_ttl`].
//!
//! ```no_run
//! use std::time::Duration;
//! use axum::{Router, routing::get};
//! use axum_token_auth::{Claims, TokenAuth, trust::{Introspection, Issuer}};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let auth = TokenAuth::builder()
//!     .trust(
//!         Issuer::discover("https://idp.example.com")
//!             .audience("https://api.example.com")
//!             .introspection(
//!                 Introspection::discovered() // its metadata's introspection_endpoint
//!                     .client_secret_basic("orders-api", "the-client-secret")
//!                     .max_cache_ttl(Duration::from_secs(30)),
//!             ),
//!     )
//!     .build()?;
//! let app: Router = Router::new()
//!     .route("/me", get(|c: Claims| async move { c.sub.clone() }))
//!     .layer(auth.layer());
//! # let _ = app; Ok(()) }
//! ```
//!
//! The checks, in order, are steps I1–I7 of [`trust::verify`](crate::trust::verify);
//! which tokens are introspected, the cache trade-off and the failure answers are on
//! [`Introspection`].

pub(crate) mod client;
mod flight;
pub(crate) mod response;
mod settings;

pub use settings::Introspection;
