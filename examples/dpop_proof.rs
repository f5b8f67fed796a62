//! Prints a DPoP proof (RFC 9449) for a request, signed by the testkit's first ES256 key:
//! a proof generator for walking the quickstart's DPoP flow with curl.
//!
//! ```text
//! cargo run -q --example dpop_proof -- POST http://127.0.0.1:3000/auth/login
//! cargo run -q --example dpop_proof -- GET http://127.0.0.1:3000/me "$TOKEN" [NONCE]
//! ```
//!
//! Every run signs with the same key (a test key compiled into the crate, public in its
//! source: for trying things out, never for real clients).

use axum_token_auth::testing::DpopKey;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(method), Some(url)) = (args.first(), args.get(1)) else {
        eprintln!("usage: dpop_proof METHOD URL [ACCESS_TOKEN] [NONCE]");
        std::process::exit(2);
    };
    let key = DpopKey::es256();
    let mut proof = key.proof(method, url);
    if let Some(token) = args.get(2).filter(|t| !t.is_empty()) {
        proof = proof.access_token(token);
    }
    if let Some(nonce) = args.get(3) {
        proof = proof.nonce(nonce);
    }
    println!("{}", proof.build());
}
