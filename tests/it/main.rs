//! The integration tests, one binary (one link step): each module is what a file of
//! `tests/` was. Run one with `cargo test --all-features --test it seams::`. Tests that
//! restart or kill the shared servers (`outage`, `redis_cluster_failover`), spawn
//! copies of their own binary (`multi_process`), set process environment
//! (`quickstart_redis_cluster`), and the store conformance suite keep binaries of their
//! own.

mod common;

mod architecture;
mod backchannel_harness;
mod cache;
mod conveniences;
mod dpop;
mod dpop_interop;
mod error_path;
mod examples;
mod external;
mod external_revocation;
mod fake_idp;
mod fuzz_corpus;
#[cfg(feature = "tonic")]
mod grpc;
mod interop;
mod introspection;
mod keys;
mod legacy;
mod metrics;
mod mtls;
mod oidc;
mod oidc_harness;
#[cfg(feature = "utoipa")]
mod openapi;
mod optional_modes;
#[cfg(feature = "password")]
mod password_login;
mod postgres_cache;
mod provider_events;
mod quickstart;
mod redis_cache;
mod redis_cluster;
mod refresh;
mod resource_metadata;
mod revoke_all;
mod rfc6750;
mod seams;
mod security_events;
mod set_minter;
mod socket;
mod step_up;
mod testkit;
mod websocket;
