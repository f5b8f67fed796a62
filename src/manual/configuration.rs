//! Configuration from the environment: what
//! [`TokenAuth::from_env`](crate::TokenAuth::from_env) reads, and what the quickstart adds.
//!
//! ```no_run
//! let auth = axum_token_auth::TokenAuth::from_env()?;
//! # Ok::<(), axum_token_auth::ConfigError>(())
//! ```
//!
//! # `TokenAuth::from_env`
//!
//! | variable | meaning | default |
//! | --- | --- | --- |
//! | `JWT_SECRET_KEY` | HMAC secret (HS*): at least the hash size (32 bytes for HS256), no placeholders | — |
//! | `JWT_ALGORITHM` | `HS256` `HS384` `HS512` `RS256` `RS384` `RS512` `PS256` `ES256` `ES384` `EdDSA` | `HS256` |
//! | `JWT_PRIVATE_KEY` / `JWT_PRIVATE_KEY_FILE` | PEM private key for the asymmetric algorithms | — |
//! | `JWT_KEY_ID` | `kid` of the signing key | RFC 7638 thumbprint (asymmetric) |
//! | `JWT_ACCESS_TOKEN_EXPIRE_MINUTES` | access-token lifetime (1 min … 24 h; outside: `ConfigError`) | 15 |
//! | `JWT_REFRESH_TOKEN_EXPIRE_DAYS` | refresh-token lifetime (1 day … 365 d; outside: `ConfigError`) | 7 |
//! | `JWT_AUDIENCE` | required `aud` (exact match) | none |
//! | `JWT_ISSUER` | required `iss` (exact match) | none |
//! | `JWT_LEEWAY_SECONDS` | clock-skew leeway for `exp`/`nbf`/`iat` (≤ 300) | 30 |
//!
//! # The quickstart (`examples/quickstart.rs`)
//!
//! The `JWT_*` variables above, and:
//!
//! | variable | meaning |
//! | --- | --- |
//! | `ADDR` | the address to listen on (`127.0.0.1:3000`) |
//! | `JWT_SECRET_KEY` | unset: a random secret, with a warning that tokens won't survive a restart |
//! | `COOKIE_SECURE=false` | development only: cookies without `Secure` and without name prefixes (see [sessions](super::sessions#cookies-over-plain-http)) |
//! | `STORE` | `redis`, `redis-cluster` or `postgres` (default: in memory); with `REDIS_URL`, `REDIS_CLUSTER_NODES`, `DATABASE_URL`, optional `POSTGRES_SCHEMA` (see [stores](super::stores)) |
//! | `RESOURCE_URL` | the resource identifier (RFC 9728; default `http://` + the listen address): metadata at its well-known location, named in every 401, and the audience of our tokens (unless `JWT_AUDIENCE`) and of external ones (unless `OIDC_AUDIENCE`); see [mcp](super::mcp) |
//! | `OIDC_ISSUER`, or `JWKS_URL` + `JWKS_ISSUER`; `OIDC_AUDIENCE` (default `RESOURCE_URL`), `OIDC_SCOPE_CLAIMS` | trust an external issuer (feature `oidc`; see [identity providers](super::identity_providers#in-the-quickstart)) |
//! | `SSF_AUDIENCE` | with an external issuer, `POST /oidc/backchannel-logout` (logout tokens addressed to a value of `OIDC_AUDIENCE` or `OIDC_CLIENT_ID`, the client id registered at the provider) and `POST /ssf/events` (SETs addressed to `SSF_AUDIENCE`, comma-separated, default `RESOURCE_URL`; `SSF_AUTHORIZATION`: the exact `Authorization` value a push must carry) are served; see [`trust::events`](crate::trust::events) |
//! | `STEP_UP_ACR`, `STEP_UP_MAX_AGE` | `/sensitive`'s step-up requirement (RFC 9470): `acr` values, comma-separated (default `mfa`), and the maximum authentication age in seconds (default 300); see [step_up](super::step_up) |
//! | `DPOP` | `off`, `allowed` (default) or `required`: DPoP-bound tokens on login and refresh with a proof, `Authorization: DPoP` on the API (see [dpop](super::dpop)) |
//! | `DPOP_NONCE=true` | server nonces; secret `DPOP_NONCE_SECRET`, else `JWT_SECRET_KEY`, else random (one instance) |
//! | `DPOP_PUBLIC_ORIGIN` | the origin of proofs' `htu` (default `http://` + the listen address) |
//! | `LEGACY_*` | accept the tokens of a replaced system for a migration window (see [migration](super::migration)) |
