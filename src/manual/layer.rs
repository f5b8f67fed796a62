//! The layer in use: optional routes, one error path, gRPC (tonic) and WebSockets.
//!
//! The layer and its extractors are documented with examples in [`http`](crate::http); this
//! page gathers what does not fit one item.
//!
//! # Optional routes
//!
//! `.optional()`: every request without an accepted token — none, bad, expired, or
//! uncheckable while the revocation store is down — reaches the handler anonymously
//! (`Option<Claims>` is `None`). `.optional_refusing_invalid()`: only a request *without* a
//! token is anonymous; a bad or expired one gets 401 `invalid_token` (the client's cue to
//! refresh) and a store outage 503 with `Retry-After`.
//!
//! ```
//! use axum::{Router, routing::get};
//! use axum_token_auth::{Claims, TokenAuth};
//!
//! let auth = TokenAuth::builder().hs256_secret("a-random-secret-of-at-least-32-bytes!!").build()?;
//! let app: Router = Router::new()
//!     .route("/", get(|c: Option<Claims>| async move {
//!         c.map_or("hello stranger".to_owned(), |c| format!("hello {}", c.sub))
//!     }))
//!     .layer(auth.layer().optional_refusing_invalid());
//! # Ok::<(), axum_token_auth::ConfigError>(())
//! ```
//!
//! Which tokens a route takes: `.also_accept(TokenKind::Service)` adds service tokens;
//! [`own_tokens_only()`](crate::TokenAuthLayer::own_tokens_only) and
//! [`issuers([…])`](crate::TokenAuthLayer::issuers) restrict a route to the service's own
//! tokens or to named issuers (see [identity providers](super::identity_providers#limits)).
//!
//! # One error path
//!
//! A handler returning `Err(AuthError::…)` or a `SessionError` (wrong credentials 401
//! `invalid_grant`, store down 503, refused token request 500) is answered by the configured
//! [`ErrorRenderer`](crate::http::ErrorRenderer) too: the layer renders it again on the way
//! out. `AuthError::apply_headers` / `into_response_with(realm, body)` put the RFC 6750
//! headers on a body of your own. Misconfigurations (an extractor without a layer) log their
//! detail and answer a generic 500. The answers themselves:
//! [security](super::security#refusals).
//!
//! # gRPC (tonic)
//!
//! Feature `tonic` (tonic 0.14): the same layer goes in front of a tonic server. It reads
//! `authorization: Bearer …` metadata like any header; a refused call is answered the gRPC
//! way — HTTP 200, `grpc-status` 16 `UNAUTHENTICATED` (7 `PERMISSION_DENIED`, 14
//! `UNAVAILABLE` for an outage) and `grpc-message` as headers, no body — so the client sees
//! `Code::Unauthenticated`. A method reads the claims from the request's extensions, and an
//! `AuthError` is a `tonic::Status`:
//!
//! ```
//! # #[cfg(feature = "tonic")] mod demo {
//! use axum_token_auth::{AuthError, Claims, TokenAuth};
//!
//! async fn hello(req: tonic::Request<String>) -> Result<tonic::Response<String>, tonic::Status> {
//!     let claims = Claims::<axum_token_auth::NoCustomClaims>::from_extensions(req.extensions())?
//!         .ok_or(AuthError::MissingCredentials)?;
//!     Ok(tonic::Response::new(format!("hello {}", claims.sub)))
//! }
//! fn server(auth: &TokenAuth) {
//!     let builder = tonic::transport::Server::builder().layer(auth.layer());
//!     // builder.add_service(your_service).serve(addr).await
//!     # let _ = builder;
//! }
//! # }
//! ```
//!
//! Any other `http` service works too when its response body implements
//! [`RefusalBody`](crate::http::RefusalBody) (axum's `Body` and tonic's do). See
//! `examples/grpc.rs` (a hand-written service: no protoc).
//!
//! # WebSockets from browsers
//!
//! A browser's WebSocket API cannot set headers:
//! `auth.layer().accept_query_token_on_upgrade()` also reads the `access_token` query
//! parameter (RFC 6750 §2.3) — on WebSocket opening handshakes only (`GET` with
//! `Upgrade: websocket`, `Connection: upgrade` and `Sec-WebSocket-Key`); a plain GET with the
//! parameter has no credentials, and a query token next to a header or cookie token is 400.
//! With the option on, the layer strips the parameter from the URI (and `OriginalUri`) of
//! every request it passes on — read, refused in an optional mode, or ignored — so no
//! handler or inner layer sees it.
//!
//! ⚠️ Query strings land in access logs of proxies and load balancers: don't log that
//! route's query, and give such tokens minutes, not hours. The layer checks the token at
//! the handshake only; close the socket when it expires:
//! `tokio::time::sleep_until(Instant::now() + claims.expires_in())` (see
//! `examples/websocket.rs`). A cookie-authenticated handshake keeps its origin check.
