//! Sender-constrained tokens: DPoP (RFC 9449), issued and verified, and certificate-bound
//! tokens (RFC 8705). A bearer token works for whoever holds it; a bound token works
//! only for a request that proves the key it is bound to, so a token copied from a log,
//! a proxy or an XSS is useless.
//!
//! # Turning it on
//!
//! ```
//! use axum::{Router, routing::get};
//! use axum_token_auth::{Claims, TokenAuth};
//! use axum_token_auth::trust::dpop::{DpopPolicy, DpopSettings};
//!
//! let auth = TokenAuth::builder()
//!     .hs256_secret("a-random-secret-of-at-least-32-bytes!!")
//!     // The origin clients name in a proof's `htu` (behind a proxy: the one they see).
//!     .dpop(DpopSettings::new("https://api.example.com"))
//!     .build()?;
//! let app: Router = Router::new()
//!     .route("/me", get(|c: Claims| async move { c.sub.clone() }))
//!     .layer(auth.layer()) // bearer and DPoP (the handle's policy: `Allowed`)
//!     .merge(
//!         Router::new()
//!             .route("/payments", get(|c: Claims| async move { c.sub.clone() }))
//!             .layer(auth.layer().dpop(DpopPolicy::Required)), // DPoP only
//!     );
//! # Ok::<(), axum_token_auth::ConfigError>(())
//! ```
//!
//! # With the quickstart and curl
//!
//! `examples/dpop_proof.rs` prints a proof for a method, a URL and (optionally) an access
//! token; the quickstart binds a login's tokens to it:
//!
//! ```sh
//! B=http://127.0.0.1:3000; P="cargo run -q --example dpop_proof --"   # a proof generator
//! R=$(curl -s $B/auth/login -H 'content-type: application/json' -H "DPoP: $($P POST $B/auth/login)" \
//!   -d '{"username":"alice","password":"alice-password","token_delivery":"body"}')
//! T=$(echo "$R" | sed -E 's/.*"access_token":"([^"]+)".*/\1/'); RT=$(echo "$R" | sed -E 's/.*"refresh_token":"([^"]+)".*/\1/')
//! curl -i $B/me -H "Authorization: DPoP $T" -H "DPoP: $($P GET $B/me $T)"   # 200
//! curl -i $B/me -H "Authorization: Bearer $T"                            # 401: bound to a key
//! curl -s $B/auth/refresh -H 'content-type: application/json' -H "DPoP: $($P POST $B/auth/refresh)" \
//!   -d "{\"refresh_token\":\"$RT\"}"                                      # token_type DPoP
//! ```
//!
//! `DPOP=required` refuses bearer tokens, `DPOP_NONCE=true` adds server nonces,
//! `DPOP_PUBLIC_ORIGIN` names the origin behind a proxy.
//!
//! # What the layer does
//!
//! | request | answer |
//! | --- | --- |
//! | `Authorization: DPoP <bound token>` + a valid proof by its key | accepted; handlers see [`Binding::Dpop`](crate::token::Binding) |
//! | a bound token as `Bearer` (even with a proof beside it, RFC 9449 §7.2) | 401 `invalid_token` |
//! | a bound token with a proof by another key | 401 `invalid_token` |
//! | a bad proof: replayed, other `htu`/`htm`/`ath`, stale, future, unsigned, HMAC, private key in `jwk`, too large, two `DPoP` headers | 401 `invalid_dpop_proof` |
//! | nonces on, no or an old nonce | 401 `use_dpop_nonce` with `DPoP-Nonce` |
//! | an unbound token with the `DPoP` scheme | 401 `invalid_token` (unless [`accept_unbound_tokens_with_proof`](crate::trust::dpop::DpopSettings::accept_unbound_tokens_with_proof)) |
//! | an unbound token as `Bearer` on a `Required` layer | 401 `invalid_token` |
//! | the replay cache cannot answer | 503 `temporarily_unavailable`, `Retry-After` |
//!
//! Every 401 of a layer with DPoP on carries `WWW-Authenticate: DPoP algs="ES256 EdDSA
//! Ed25519 PS256 RS256"` (with the error when it concerns the proof or the binding) and, where
//! bearer tokens are accepted, the `Bearer` challenge beside it. An identity provider's
//! DPoP-bound token (its `cnf.jkt`) is held to the same rules as ours, whatever the
//! policy says for unbound tokens. A token whose `cnf` names a method this crate does
//! not check (a `jwk`, a `kid`) is refused rather than taken as a bearer token.
//!
//! The verified-token cache serves the token; the proof is checked on every request
//! (one signature verification, one replay-cache write): see [performance](crate::manual::performance)
//! for what that costs.
//!
//! `TokenAuth::validate` sees no request, so nothing proves a bound token's key there:
//! it refuses bound tokens unless the caller says it proved the key
//! ([`TokenCheck::with_binding_proven`](crate::trust::TokenCheck::with_binding_proven)).
//!
//! # Issuing bound tokens
//!
//! A login handler takes the request's proof with the [`DpopProof`](crate::http::DpopProof)
//! extractor (checked for the login route, remembered) and binds the session to it with
//! [`TokenRequest::confirmation`](crate::TokenRequest::confirmation); access **and**
//! refresh tokens carry `cnf.jkt`, and the answer says `token_type: "DPoP"`. The refresh
//! route reads a proof the same way ([`Sessions::refresh_with_proof`](crate::Sessions::refresh_with_proof)):
//!
//! - a bound session's refresh needs a proof by the **same** key; without one it is
//!   refused (the session goes on);
//! - a proof by **another** key is refused and the session is revoked, with its access
//!   tokens — as for a reused refresh token: only a thief holds the refresh token
//!   without the key;
//! - a logout with a bound token needs a proof by its key too (the logout route reads
//!   it): a copied token cannot end its user's session either;
//! - a session started without a proof stays unbound (a later proof binds nothing: its
//!   refresh token works without one anyway).
//!
//! A bad proof on a token request (login, refresh) is answered as an authorization
//! server answers it (RFC 9449 §5, §8): 400 `invalid_dpop_proof`, or 400
//! `use_dpop_nonce` with `DPoP-Nonce`, no `WWW-Authenticate`
//! ([`AuthError::DpopTokenRequest`](crate::AuthError::DpopTokenRequest)).
//!
//! # Several instances
//!
//! A proof is accepted once: its `jti` (per key) goes to a [`ProofReplay`](crate::store::ProofReplay)
//! store until the proof would be stale anyway. The default is in memory, for one
//! instance; give several instances the Redis or PostgreSQL store
//! ([`replay_store`](crate::trust::dpop::DpopSettings::replay_store)), so a proof
//! replayed on another instance is refused too. Nonces are stateless (an HMAC of a
//! 5-minute time bucket under the secret given to
//! [`nonces`](crate::trust::dpop::DpopSettings::nonces)): every instance with the same
//! secret accepts every other's.
//!
//! # Behind a proxy
//!
//! `htu` is compared with the configured public origin followed by the request's path
//! (axum's `OriginalUri`, so `nest` does not change it), never with the `Host` header a
//! client chooses. With a path prefix the proxy strips (`https://example.com/api` →
//! `/orders`), configure the origin with the prefix: `DpopSettings::new("https://example.com/api")`.
//!
//! # Trade-offs, stated
//!
//! - The replay cache fails closed: when it cannot answer, DPoP requests get 503 even
//!   if the revocation store's policy is fail-open. A replayed proof is the one attack
//!   DPoP exists to stop.
//! - The memory replay cache refuses new proofs (503) when full rather than forget an
//!   id early; size it for your DPoP request rate times the proof lifetime.
//! - Proof lifetime 60 s and leeway 5 s by default: a client whose clock is off by more
//!   should use nonces (RFC 9449 §8), which make `iat` matter less.
//!
//! # Certificate-bound tokens (RFC 8705)
//!
//! A token whose `cnf` carries `x5t#S256` is accepted only when the request's client
//! certificate has that SHA-256 thumbprint: 401 `invalid_token` with another certificate
//! ("the token is bound to another key") or none ("… a key the request does not
//! prove"). It is sent as `Bearer`; the DPoP policy does not apply to it. The certificate comes from:
//!
//! - the application's own TLS: a [`ClientCertificate`](crate::http::ClientCertificate)
//!   its listener puts in the request's extensions (rustls: the first of
//!   `peer_certificates()`); it always comes first;
//! - behind a TLS-terminating proxy: the one header
//!   [`MtlsSettings`](crate::http::MtlsSettings) names, optionally only from the proxies'
//!   addresses. No header is read without it — a client cannot claim a certificate by
//!   sending one. Envoy's `X-Forwarded-Client-Cert` is read by its **last** element (the
//!   closest proxy's own; what came before it, a client may have written).
//!
//! A value that does not read is no certificate, never an error. Costs, per request
//! with the token cached (`cargo bench --bench mtls`): about 1 µs for a connection's
//! certificate (one SHA-256), 5 µs for a URL-encoded PEM header, 1.5 µs for an XFCC
//! `Hash`, 12 µs for an XFCC `Cert` checked against its `Hash`; unbound and DPoP-bound
//! tokens read no certificate. Our own tokens are bound with
//! [`Confirmation::certificate_der`](crate::token::Confirmation::certificate_der) (see
//! [`TokenAuth::issue_service`](crate::TokenAuth::issue_service)).
