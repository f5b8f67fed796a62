//! An MCP server — or any API that clients discover rather than hard-code — behind the
//! layer: protected resource metadata (RFC 9728), audience-bound tokens (RFC 8707) and
//! scopes, which the [MCP authorization
//! specification](https://modelcontextprotocol.io/specification/2025-06-18/basic/authorization)
//! requires of every HTTP MCP server.
//!
//! # What a client does, and what answers it
//!
//! 1. The client calls the endpoint with no token. The layer answers 401 with
//!    `WWW-Authenticate: Bearer realm="api", resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp"`
//!    (every 401 names it: missing, invalid, expired tokens alike).
//! 2. It fetches that document: the `resource` identifier, the `authorization_servers`
//!    (the identity providers the handle trusts), `scopes_supported`, and with DPoP on,
//!    the proof algorithms. A client that missed the header finds it at the same
//!    well-known location, derived from the identifier by inserting
//!    `/.well-known/oauth-protected-resource` before its path (RFC 9728 §3.1).
//! 3. It discovers the authorization server, and asks it for a token with
//!    `resource=<the identifier>` (RFC 8707): the provider mints it with that audience.
//! 4. The layer accepts only tokens whose audience is the identifier: a token the
//!    same provider minted for another MCP server is refused (the confused-deputy and
//!    token-passthrough attacks the MCP specification names).
//!
//! # The server
//!
//! ```
//! use axum::{Json, Router, routing::post};
//! use axum_token_auth::http::ProtectedResource;
//! use axum_token_auth::{Claims, RequireScope, TokenAuth, scope};
//! use serde_json::{Value, json};
//!
//! scope! {
//!     /// May call tools.
//!     pub ToolsCall = "mcp:tools";
//!     /// May read resources.
//!     pub ResourcesRead = "mcp:resources";
//! }
//!
//! // Any axum-hosted MCP endpoint: your JSON-RPC handler, or an SDK's service.
//! async fn mcp(_: RequireScope<ToolsCall>, claims: Claims, Json(call): Json<Value>) -> Json<Value> {
//!     Json(json!({"jsonrpc": "2.0", "id": call["id"], "result": {"caller": claims.sub}}))
//! }
//!
//! # #[cfg(feature = "oidc")]
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use axum_token_auth::trust::Issuer;
//! let auth = TokenAuth::builder()
//!     // The provider clients get tokens from; no audience: the resource is its audience.
//!     .trust(Issuer::discover("https://sso.example.com/realms/acme"))
//!     .resource(
//!         ProtectedResource::new("https://mcp.example.com/mcp")
//!             .name("Acme tools")
//!             .scopes::<(ToolsCall, ResourcesRead)>(),
//!     )
//!     .build()?;
//! let app: Router = Router::new()
//!     .route("/mcp", post(mcp))
//!     .layer(auth.layer())
//!     // GET /.well-known/oauth-protected-resource/mcp, outside the layer
//!     .merge(auth.web().resource_metadata_router());
//! # let _ = app; Ok(()) }
//! # #[cfg(not(feature = "oidc"))] fn main() {}
//! ```
//!
//! With the [`rmcp`](https://docs.rs/rmcp) SDK, its Streamable HTTP service goes where
//! the handler is, and reads the caller from the request's extensions:
//!
//! ```text
//! let service = rmcp::transport::StreamableHttpService::new(|| Ok(MyServer::new()), session_manager, config);
//! let app = Router::new()
//!     .nest_service("/mcp", service)
//!     .layer(auth.layer())
//!     .merge(auth.web().resource_metadata_router());
//! ```
//!
//! # Choices, and why
//!
//! * **The identifier** is the URL clients connect to (`https://mcp.example.com/mcp`),
//!   without query or fragment. Clients check that the document's `resource` is a prefix
//!   of the URL they called; the MCP TypeScript SDK sends it back verbatim as `resource`.
//!   `http` is accepted for loopback development only.
//! * **Audience.** Binding to the identifier is the default: [`TokenAuthBuilder::audience`]
//!   (the handle's own tokens) and [`Issuer::audience`](crate::trust::Issuer::audience)
//!   override it, for a provider that cannot mint resource-bound tokens (Entra ID's
//!   application id URI, say). The document still names the identifier.
//! * **Scopes.** `scopes_supported` comes from the `scope!` markers the guards use
//!   ([`ProtectedResource::scopes`](crate::http::ProtectedResource::scopes)), so the
//!   document and the routes cannot disagree. A 403 `insufficient_scope` names the
//!   scopes the route needs; MCP clients ask for them and retry (step-up authorization).
//! * **Browser clients.** The document is public (`Access-Control-Allow-Origin: *`, and
//!   preflights pass), cached for five minutes.
//! * **Stronger tokens.** DPoP ([dpop](super::dpop)) shows in the document
//!   (`dpop_signing_alg_values_supported`, `dpop_bound_access_tokens_required`); a
//!   `signed_metadata` JWT signed by the handle's key is one call away
//!   ([`ProtectedResource::signed_metadata`](crate::http::ProtectedResource::signed_metadata)).
//!
//! # Tested against
//!
//! The MCP TypeScript SDK (`@modelcontextprotocol/sdk` 1.32, `scripts/mcp/discover.mjs`)
//! connecting without a token: from the 401 to the authorization request at a real
//! OpenID Provider (oidc-provider), with and without a path in the identifier, and its
//! well-known discovery with no hint (`tests/it/resource_metadata.rs`).
//!
//! [`TokenAuthBuilder::audience`]: crate::TokenAuthBuilder::audience
