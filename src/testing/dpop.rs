//! DPoP proofs for tests ([`DpopKey`]): valid ones, and every kind a resource server must
//! refuse — replayed, for another `htu`/`htm`/access token, by another key, stale, from
//! the future, unsigned, HMAC-signed, with a private key in the header.
//!
//! ```
//! use axum_token_auth::testing::DpopKey;
//!
//! let key = DpopKey::es256();
//! let proof = key.proof("GET", "https://api.example.com/me").access_token("the.access.token").build();
//! assert_eq!(proof.split('.').count(), 3);
//! ```
//!
//! [`DpopKey::assert_proofs_refused_by`] sends a bound token with each kind of bad proof
//! to a router and asserts every one is refused (after checking a good proof passes).
//!
//! The keys come from a small fixed pool compiled into the crate (public in its source):
//! test keys, never to be trusted for anything else.

use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};

use crate::token::clock::unix_now;
use crate::token::confirmation::Confirmation;

const ES1: &str = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgSPU1wcdbEQbfEKNu\nV95NVd0IekcMaEFuWrt33WB2W+ahRANCAAT3oRqvq9jGbu74qKSzf/lJh00nIfbk\nT6Hm+6Y/WK+vs4B7nH0RKEfvTqbvEAw4+22xZzJbgZjn2xbKxsquHdRJ\n-----END PRIVATE KEY-----\n";
const ES2: &str = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg1ymRFSYYUkR+Ydg7\nzPp1Uw7JdO+/TeeRTLBaX05cWQWhRANCAASDwffycGu+2PaagIrw3HtXXvOGzNx9\n/L2wyDco0yH9GZBbQR3jlXaw/Q1/Q5oYQbqxZmc+w6iNUvi6fzOvWBUL\n-----END PRIVATE KEY-----\n";
const ES3: &str = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgxKAS2e7WieqPCJFT\n7jNouIak6pm+Az/HqrRD7dUggv6hRANCAARMekwsMWA/n3424xuRWcVzZnDkneup\nGoHWJujhMYlQOIUJyy9b0Ne6gw0UP2P9+ZAQNHASMH+ApwmN/jJ5gE7/\n-----END PRIVATE KEY-----\n";
const ES4: &str = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgcD0yoC/p5AaUhh0i\nnP4rt2V866m14Zx7dOUuBwX0pLmhRANCAAS9DTPKaMicXggKwfvniMTP2Vh7mdqS\n6JZpcgtA8y7Z05p7T1Ut55Gob7l3dY4vfUVrN9fEXji8Y3MR1XgeL70t\n-----END PRIVATE KEY-----\n";
const ED1: &str = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIEernEoR9gPSkpcG0mYz9XjpgilkNuy5a6yBU/MKQFGd\n-----END PRIVATE KEY-----\n";
const ED2: &str = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIKkHk+jgz4Qg/gB9LMoUrcmrLOfrJbLxK0KQQnGerC6y\n-----END PRIVATE KEY-----\n";

static NEXT_ES: AtomicUsize = AtomicUsize::new(0);
static NEXT_ED: AtomicUsize = AtomicUsize::new(0);

/// A client's DPoP key pair, for tests: signs proofs ([`proof`](Self::proof)) and names
/// the `cnf` of tokens bound to it ([`confirmation`](Self::confirmation)).
#[derive(Clone)]
pub struct DpopKey {
    encoding: EncodingKey,
    alg: Algorithm,
    jwk: Value,
    thumbprint: String,
}

impl std::fmt::Debug for DpopKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DpopKey")
            .field("alg", &self.alg)
            .field("thumbprint", &self.thumbprint)
            .finish_non_exhaustive()
    }
}

impl DpopKey {
    /// An ES256 (P-256) key: each call the next of four, so two calls give two keys.
    pub fn es256() -> Self {
        let pem = [ES1, ES2, ES3, ES4][NEXT_ES.fetch_add(1, Ordering::Relaxed) % 4];
        Self::from_pem(pem, Algorithm::ES256)
    }

    /// An Ed25519 (EdDSA) key: each call the next of two.
    pub fn ed25519() -> Self {
        let pem = [ED1, ED2][NEXT_ED.fetch_add(1, Ordering::Relaxed) % 2];
        Self::from_pem(pem, Algorithm::EdDSA)
    }

    fn from_pem(pem: &str, alg: Algorithm) -> Self {
        crate::token::keys::install_crypto_provider();
        let encoding = match alg {
            Algorithm::EdDSA => EncodingKey::from_ed_pem(pem.as_bytes()),
            _ => EncodingKey::from_ec_pem(pem.as_bytes()),
        }
        .expect("a valid test key");
        let jwk = Jwk::from_encoding_key(&encoding, alg).expect("a public JWK");
        let full = serde_json::to_value(&jwk).unwrap_or(Value::Null);
        let mut jwk = Map::new();
        for m in ["kty", "crv", "x", "y"] {
            if let Some(v) = full.get(m) {
                jwk.insert(m.into(), v.clone());
            }
        }
        let jwk = Value::Object(jwk);
        let thumbprint = crate::trust::dpop::jwk::proof_key(&jwk, alg)
            .map(|k| k.thumbprint)
            .unwrap_or_default();
        DpopKey {
            encoding,
            alg,
            jwk,
            thumbprint,
        }
    }

    /// The public key as the proofs' `jwk` header carries it.
    pub fn public_jwk(&self) -> &Value {
        &self.jwk
    }

    /// The RFC 7638 thumbprint (`cnf.jkt` of tokens bound to this key).
    pub fn thumbprint(&self) -> &str {
        &self.thumbprint
    }

    /// The confirmation binding a token to this key, for
    /// [`TokenRequest::confirmation`](crate::TokenRequest::confirmation).
    pub fn confirmation(&self) -> Confirmation {
        Confirmation::dpop(self.thumbprint.clone())
    }

    /// Asserts that `app` accepts `token` (bound to this key) with a good proof for
    /// `method` `path` — the proof's `htu` being `origin` + `path`, the origin the handle
    /// was configured with — and refuses it with 401 for each bad proof: replayed, for
    /// another `htu`, another `htm`, another access token (`ath`), by another key,
    /// stale, from the future, unsigned, HMAC-signed, with the private key in its
    /// header; and the token as `Bearer`. Panics naming the first one answered otherwise.
    ///
    /// ```
    /// use axum::{Router, routing::get};
    /// use axum_token_auth::{Claims, TokenRequest, testing::{self, DpopKey}};
    /// use axum_token_auth::trust::dpop::DpopSettings;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let auth = testing::test_builder()
    ///     .dpop(DpopSettings::new("https://api.example.com"))
    ///     .build()
    ///     .unwrap();
    /// let app = Router::new()
    ///     .route("/me", get(|c: Claims| async move { c.sub.clone() }))
    ///     .layer(auth.layer());
    /// let key = DpopKey::es256();
    /// let token = auth
    ///     .issue_access(&TokenRequest::new("alice").confirmation(key.confirmation()))
    ///     .unwrap();
    /// key.assert_proofs_refused_by(&app, "https://api.example.com", http::Method::GET, "/me", token.as_str())
    ///     .await;
    /// # }
    /// ```
    pub async fn assert_proofs_refused_by(
        &self,
        app: &axum::Router,
        origin: &str,
        method: http::Method,
        path: &str,
        token: &str,
    ) {
        let htu = format!("{}{path}", origin.trim_end_matches('/'));
        let m = method.as_str();
        let other_method = if method == http::Method::POST {
            "GET"
        } else {
            "POST"
        };
        let other = if self.alg == Algorithm::EdDSA {
            DpopKey::es256()
        } else {
            DpopKey::ed25519()
        };
        let good = self.proof(m, &htu).access_token(token).build();
        let status = send_proof(app, &method, path, "DPoP", token, Some(&good)).await;
        assert!(
            status.is_success(),
            "a good proof for {method} {path} was answered {status}: the attacks would prove nothing"
        );
        let now = unix_now();
        let attacks: Vec<(&str, String)> = vec![
            ("replayed proof", good),
            (
                "proof for another htu",
                self.proof(m, &format!("{htu}/other"))
                    .access_token(token)
                    .build(),
            ),
            (
                "proof for another htm",
                self.proof(other_method, &htu).access_token(token).build(),
            ),
            (
                "proof for another access token",
                self.proof(m, &htu)
                    .access_token("another.access.token")
                    .build(),
            ),
            (
                "proof by another key",
                other.proof(m, &htu).access_token(token).build(),
            ),
            (
                "stale proof",
                self.proof(m, &htu)
                    .access_token(token)
                    .iat(now.saturating_sub(3600))
                    .build(),
            ),
            (
                "proof from the future",
                self.proof(m, &htu)
                    .access_token(token)
                    .iat(now + 3600)
                    .build(),
            ),
            (
                "unsigned proof",
                self.proof(m, &htu).access_token(token).unsigned().build(),
            ),
            (
                "HMAC proof",
                self.proof(m, &htu)
                    .access_token(token)
                    .hmac(b"chosen-by-the-attacker")
                    .build(),
            ),
            (
                "private key in the proof",
                self.proof(m, &htu)
                    .access_token(token)
                    .leak_private_key()
                    .build(),
            ),
        ];
        for (attack, proof) in &attacks {
            let status = send_proof(app, &method, path, "DPoP", token, Some(proof)).await;
            assert_eq!(
                status,
                http::StatusCode::UNAUTHORIZED,
                "attack `{attack}` against {method} {path} was answered {status}, not 401"
            );
        }
        let fresh = self.proof(m, &htu).access_token(token).build();
        let status = send_proof(app, &method, path, "Bearer", token, Some(&fresh)).await;
        assert_eq!(
            status,
            http::StatusCode::UNAUTHORIZED,
            "the bound token as Bearer against {method} {path} was answered {status}, not 401"
        );
    }

    /// A proof for a `method` request to `htu` (absolute URI), issued now with a fresh
    /// `jti`; change it with the builder's methods, then [`build`](ProofBuilder::build).
    pub fn proof(&self, method: &str, htu: &str) -> ProofBuilder<'_> {
        let mut jti = [0u8; 16];
        let _ = getrandom::fill(&mut jti);
        let mut claims = Map::new();
        claims.insert("jti".into(), URL_SAFE_NO_PAD.encode(jti).into());
        claims.insert("htm".into(), method.into());
        claims.insert("htu".into(), htu.into());
        claims.insert("iat".into(), unix_now().into());
        let mut header = Map::new();
        header.insert("typ".into(), "dpop+jwt".into());
        header.insert("alg".into(), format!("{:?}", self.alg).into());
        header.insert("jwk".into(), self.jwk.clone());
        ProofBuilder {
            key: self,
            signer: None,
            header,
            claims,
            unsigned: false,
            hmac: None,
        }
    }
}

/// A DPoP proof being built ([`DpopKey::proof`]).
#[must_use]
pub struct ProofBuilder<'k> {
    key: &'k DpopKey,
    signer: Option<&'k DpopKey>,
    header: Map<String, Value>,
    claims: Map<String, Value>,
    unsigned: bool,
    hmac: Option<Vec<u8>>,
}

impl<'k> ProofBuilder<'k> {
    /// Binds the proof to `token` (`ath`: base64url SHA-256 of it), as a request that
    /// presents the token must.
    pub fn access_token(mut self, token: &str) -> Self {
        let ath = URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()));
        self.claims.insert("ath".into(), ath.into());
        self
    }

    /// The server nonce (`nonce`) the proof answers.
    pub fn nonce(mut self, nonce: &str) -> Self {
        self.claims.insert("nonce".into(), nonce.into());
        self
    }

    /// Issued at `iat` (seconds since the epoch) instead of now: stale or future proofs.
    pub fn iat(mut self, iat: u64) -> Self {
        self.claims.insert("iat".into(), iat.into());
        self
    }

    /// This `jti` instead of a fresh one.
    pub fn jti(mut self, jti: &str) -> Self {
        self.claims.insert("jti".into(), jti.into());
        self
    }

    /// Sets (or replaces) a claim.
    pub fn claim(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.claims.insert(name.into(), value.into());
        self
    }

    /// Removes a claim.
    pub fn without_claim(mut self, name: &str) -> Self {
        self.claims.remove(name);
        self
    }

    /// Sets (or replaces) a header parameter (`typ`, `alg`, `jwk`, `crit`…).
    pub fn header(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.header.insert(name.into(), value.into());
        self
    }

    /// Puts the private key in the `jwk` header (a proof a server must refuse).
    pub fn leak_private_key(mut self) -> Self {
        let mut jwk = self.key.jwk.clone();
        jwk["d"] = "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI".into();
        self.header.insert("jwk".into(), jwk);
        self
    }

    /// Signs with `other` while the `jwk` header still names this key.
    pub fn signed_by(mut self, other: &'k DpopKey) -> Self {
        self.signer = Some(other);
        self
    }

    /// `alg: none` and no signature.
    pub fn unsigned(mut self) -> Self {
        self.unsigned = true;
        self.header.insert("alg".into(), "none".into());
        self
    }

    /// `alg: HS256`, "signed" with `secret`.
    pub fn hmac(mut self, secret: &[u8]) -> Self {
        self.hmac = Some(secret.to_vec());
        self.header.insert("alg".into(), "HS256".into());
        self
    }

    /// The compact proof.
    pub fn build(self) -> String {
        let h = URL_SAFE_NO_PAD.encode(Value::Object(self.header).to_string());
        let p = URL_SAFE_NO_PAD.encode(Value::Object(self.claims).to_string());
        let message = format!("{h}.{p}");
        if self.unsigned {
            return format!("{message}.");
        }
        let signature = match &self.hmac {
            Some(secret) => jsonwebtoken::crypto::sign(
                message.as_bytes(),
                &EncodingKey::from_secret(secret),
                Algorithm::HS256,
            ),
            None => {
                let signer = self.signer.unwrap_or(self.key);
                jsonwebtoken::crypto::sign(message.as_bytes(), &signer.encoding, signer.alg)
            }
        }
        .unwrap_or_default();
        format!("{message}.{signature}")
    }
}

/// Sends `token` with `scheme` and `proof` to `app`; the answer's status.
pub(super) async fn send_proof(
    app: &axum::Router,
    method: &http::Method,
    path: &str,
    scheme: &str,
    token: &str,
    proof: Option<&str>,
) -> http::StatusCode {
    use tower::ServiceExt as _;
    let mut req = http::Request::builder()
        .method(method.clone())
        .uri(path)
        .header(http::header::AUTHORIZATION, format!("{scheme} {token}"));
    if let Some(p) = proof {
        req = req.header("dpop", p);
    }
    let req = req
        .body(axum::body::Body::empty())
        .expect("a valid request");
    match app.clone().oneshot(req).await {
        Ok(res) => res.status(),
        Err(never) => match never {},
    }
}
