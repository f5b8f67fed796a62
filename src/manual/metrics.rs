//! Metrics: what the crate records with the `metrics` feature.
//!
//! It records through the [`metrics`](https://docs.rs/metrics) facade; the exporter is the
//! application's choice (`examples/prometheus.rs` serves them in Prometheus' format on
//! `/metrics`: `cargo run --example prometheus --features metrics`). No label carries a
//! token, a subject, an id or anything a client chose: only kinds, fixed reason names,
//! operations and store roles.
//!
//! ```sh
//! cargo run --example prometheus --features metrics
//! curl localhost:3000/metrics
//! ```
//!
//! | metric | type | labels | what |
//! | --- | --- | --- | --- |
//! | `token_auth_tokens_issued_total` | counter | `kind`: `access` `refresh` `service` | tokens signed (issue, login, refresh) |
//! | `token_auth_validations_accepted_total` | counter | `revocation`: `checked` `fail_open` | tokens accepted (layer, `validate`, the refresh flow's revocation check) |
//! | `token_auth_validations_refused_total` | counter | `reason`: an `InvalidToken` variant in snake case (`expired`, `bad_signature`, `revoked`, …), `store_unavailable`, `keys_unavailable` | tokens refused |
//! | `token_auth_dpop_proofs_total` | counter | `outcome`: `accepted`, or a `ProofError::reason` (`replayed`, `wrong_htu`, `wrong_htm`, `wrong_ath`, `stale`, `bad_signature`, `use_nonce`, …) | DPoP proofs checked (layer and token requests) |
//! | `token_auth_security_events_total` | counter | `event` (`backchannel_logout`, `session_revoked`, `credential_change`, `account_disabled`, …, `other`; `unknown` before a token verified), `outcome`: `applied`, `ignored`, or the refusal (`invalid_key`, `invalid_issuer`, `invalid_audience`, `access_denied`, `invalid_request`, `replayed`, `unavailable`) | logout tokens and security events received ([`trust::events`](crate::trust::events)) |
//! | `token_auth_security_event_delay_seconds` | histogram | `event` | from an applied event's `iat` to its revocation stored (the provider's clock against ours) |
//! | `token_auth_dpop_nonces_total` | counter | `on`: `challenge` (401 `use_dpop_nonce`) `rotation` (a fresh nonce on success) | DPoP nonces handed out |
//! | `token_auth_revocations_total` | counter | `kind`: `token` `subject` `session` `user_sessions` | revocations written |
//! | `token_auth_sessions_started_total` | counter | — | logins (refresh families created) |
//! | `token_auth_logins_throttled_total` | counter | `scope`: `account_address`, `address`, `account` | password logins refused by the login throttle (429, no password checked) |
//! | `token_auth_refreshes_total` | counter | `outcome`: `rotated` `retry` `unknown` | refresh rotations |
//! | `token_auth_reuse_detections_total` | counter | `kind`: `reused` `compromised` `dpop_key` (a bound session refreshed with another key) | refresh-token reuse: family revoked |
//! | `token_auth_grant_changes_total` | counter | `action`: `grant` `revoke` | scope grants changed (through a `Guarded` grant store) |
//! | `token_auth_store_call_seconds` | histogram | `store`: `revocation` `refresh` `grants`; `op`: the trait method; `outcome`: `ok` `error` `unavailable` `timeout` | store call latency |
//! | `token_auth_store_refused_total` | counter | `store`; `cause`: `open` (breaker) `full` (in-flight bound) | calls refused without reaching the store |
//! | `token_auth_store_breaker_state` | gauge | `store` | 0 closed, 1 open, 2 half-open |
//! | `token_auth_store_in_flight` | gauge | `store` | calls running now |
//!
//! The store metrics come from the guard ([stores](super::stores#fail-fast)), so they need it
//! on (the default). Requests without credentials or with a malformed `Authorization` header
//! are not validations.
