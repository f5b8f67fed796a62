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
//! | `token_auth_key_set_fetches_total` | counter | `issuer` (the configured `iss`); `outcome`: `ok`, `timeout`, `transport`, `status`, `not_jwks`, `discovery`, `too_large`, `redirected`, `insecure_url`, `busy` | key-set fetches of a remote issuer (refreshes, refetches, retries) |
//! | `token_auth_key_set_refetches_total` | counter | `issuer`; `outcome`: `asked` (a token with an unknown `kid` waited for a refetch, or probed a failing provider), `suppressed` (refused without one: the refetch budget was spent) | unknown `kid`s |
//! | `token_auth_key_set_keys` | gauge | `issuer` | usable keys in the current set (0: the provider withdrew them, its tokens get 401) |
//! | `token_auth_key_set_state` | gauge | `issuer` | 0 not ready, 1 fresh, 2 stale (fetches fail, the last good set still verifies), 3 expired (past `max_stale`: 503) |
//! | `token_auth_key_set_age_seconds` | gauge | `issuer` | seconds since the last successful fetch |
//! | `token_auth_key_set_stale_seconds` | gauge | `issuer` | while fetches fail, the age of the set still served; else 0 |
//! | `token_auth_key_set_max_stale_seconds` | gauge | `issuer` | the issuer's `max_stale`: at `stale_seconds` ≥ this, 503 |
//! | `token_auth_key_set_last_success_timestamp_seconds` | gauge | `issuer` | Unix time of the last successful fetch (exact age: `time() - this`) |
//!
//! The key-set gauges are set at every fetch and every 15 s between them; the same
//! figures, as data, come from [`TokenAuth::key_sets`](crate::TokenAuth::key_sets) (a
//! health endpoint). The `issuer` label is the configured `iss` only, never a token's.
//!
//! # What to alert on
//!
//! | alert | expression (Prometheus) | why |
//! | --- | --- | --- |
//! | key set stale | `token_auth_key_set_state == 2` for 10 min | the provider's JWKS (or discovery) fails: its tokens still verify, with keys that may be outdated |
//! | key set about to expire | `token_auth_key_set_stale_seconds > 0.5 * token_auth_key_set_max_stale_seconds` | at the ratio 1 that issuer's tokens get 503: act before |
//! | key set expired / never fetched | `token_auth_key_set_state == 3`, or `== 0` for 5 min | its tokens get 503 now |
//! | keys withdrawn | `token_auth_key_set_keys == 0` | a successful fetch without usable keys: its tokens get 401 |
//! | unknown-`kid` flood | `rate(token_auth_key_set_refetches_total{outcome="suppressed"}[5m]) > 0` | forged tokens, or rotations faster than the refetch budget (a real rotation is then picked up within `refetch_interval`) |
//! | store breaker open | `token_auth_store_breaker_state == 1` | see [stores](super::stores#fail-fast) |
//!
//! Logs say the same once per episode: a WARN when the last good set is first used after a
//! failed fetch, a WARN at the first token refused with 503 while fetches fail, an INFO
//! when a fetch succeeds again (plus a WARN per failed fetch).
//!
//! The store metrics come from the guard ([stores](super::stores#fail-fast)), so they need it
//! on (the default). Requests without credentials or with a malformed `Authorization` header
//! are not validations.
