//! The manual: the prose that does not belong to one item — the security model, the wire
//! format, running the stores, the design of the verified-token cache, performance, the
//! migration guides. Each page is a module with documentation only; the API itself is
//! documented on its items, starting from the [crate root](crate).
//!
//! | page | what it says |
//! | --- | --- |
//! | [`security`] | the security model: defaults, the refusal table, scopes, revocation |
//! | [`wire_format`] | the tokens' header and claims, the scope grammar: for services in other languages |
//! | [`identity_providers`] | trusting Keycloak, Auth0, Entra ID, Cognito, Google: selection, live key sets, presets, limits |
//! | [`dpop`] | sender-constrained tokens: DPoP issued and verified, certificate-bound tokens |
//! | [`mcp`] | an MCP server (or any API clients discover): protected resource metadata, audience binding, scopes |
//! | [`sessions`] | login, refresh with rotation and reuse detection, logout, token delivery, the cookie flow with curl |
//! | [`step_up`] | step-up authentication (RFC 9470): `acr` and maximum-age guards, the challenge, second factors in sessions, providers' claims |
//! | [`stores`] | memory, Redis (and Redis Cluster, failover), PostgreSQL in operation: consistency across instances, outages, bounds |
//! | [`cache`] | the verified-token cache: why a hit is safe (the collision argument), bounds, S3-FIFO |
//! | [`layer`] | optional routes, one error path, gRPC (tonic), WebSockets |
//! | [`configuration`] | the environment variables of `TokenAuth::from_env` and of the quickstart |
//! | [`metrics`] | the metrics recorded with the `metrics` feature |
//! | [`performance`] | how the layer is measured, and the figures |
//! | [`testing`] | testing your application (`testing` feature), and this crate's test script |
//! | [`migration`] | moving over from each of the systems this crate replaces, and accepting their tokens meanwhile |

pub mod cache;
pub mod configuration;
pub mod dpop;
pub mod identity_providers;
pub mod layer;
pub mod mcp;
pub mod metrics;
pub mod migration;
pub mod performance;
pub mod security;
pub mod sessions;
pub mod step_up;
pub mod stores;
pub mod testing;
pub mod wire_format;
