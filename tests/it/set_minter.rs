//! An independent minter of Security Event Tokens (RFC 8417) and back-channel logout
//! tokens for the receiver tests: `scripts/ssf/set.py` (PyJWT + cryptography, nobody in
//! this project wrote its JOSE code; its header documents the line protocol) driven over
//! stdin/stdout. It signs whatever header and claims it is given, valid or tampered.
//!
//! ```ignore
//! use crate::set_minter::{SetKey, SetMinter, Tamper, events, subject};
//!
//! let key = SetKey::generate("ES256", "tx-1");           // or SetKey::from_test_key(op.signing_key())
//! let mut minter = SetMinter::start(&key);
//! let claims = json!({"iss": "https://tx.example", "aud": "https://api.example",
//!     "iat": now, "jti": unique("set"),
//!     "sub_id": subject::iss_sub("https://idp.example", "alice"),
//!     "events": {events::RISC_ACCOUNT_DISABLED: {}}});
//! let set = minter.mint(&json!({}), &claims);            // typ secevent+jwt, kid tx-1, ES256
//! let forged = minter.mint_tampered(&json!({}), &claims, Tamper::WrongKey);
//! // key.jwks() is what the receiver should trust
//! ```
//!
//! `TEST_PYJWT_PYTHON` and `TEST_SSF_PY` come from `scripts/test.sh`; without them,
//! `python3` on `PATH` and `scripts/ssf/set.py` of this checkout.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};

use crate::common::oidc::{TestKey, ensure_crypto_provider, jwt_claims, jwt_header, unique};

/// RFC 8417 / CAEP / RISC event type URIs and the back-channel logout event.
pub mod events {
    /// OIDC Back-Channel Logout 1.0 (a logout token's only event).
    pub const BACKCHANNEL_LOGOUT: &str = "http://schemas.openid.net/event/backchannel-logout";
    /// CAEP 1.0 `session-revoked`.
    pub const CAEP_SESSION_REVOKED: &str =
        "https://schemas.openid.net/secevent/caep/event-type/session-revoked";
    /// CAEP 1.0 `credential-change`.
    pub const CAEP_CREDENTIAL_CHANGE: &str =
        "https://schemas.openid.net/secevent/caep/event-type/credential-change";
    /// CAEP 1.0 `token-claims-change`.
    pub const CAEP_TOKEN_CLAIMS_CHANGE: &str =
        "https://schemas.openid.net/secevent/caep/event-type/token-claims-change";
    /// CAEP 1.0 `assurance-level-change`.
    pub const CAEP_ASSURANCE_LEVEL_CHANGE: &str =
        "https://schemas.openid.net/secevent/caep/event-type/assurance-level-change";
    /// RISC 1.0 `account-disabled`.
    pub const RISC_ACCOUNT_DISABLED: &str =
        "https://schemas.openid.net/secevent/risc/event-type/account-disabled";
    /// RISC 1.0 `account-purged`.
    pub const RISC_ACCOUNT_PURGED: &str =
        "https://schemas.openid.net/secevent/risc/event-type/account-purged";
    /// RISC 1.0 `sessions-revoked`.
    pub const RISC_SESSIONS_REVOKED: &str =
        "https://schemas.openid.net/secevent/risc/event-type/sessions-revoked";
}

/// Subject identifiers (RFC 9493 formats; `complex` from the Shared Signals Framework 1.0).
pub mod subject {
    use serde_json::{Value, json};

    /// `{"format": "iss_sub", "iss", "sub"}`.
    pub fn iss_sub(iss: &str, sub: &str) -> Value {
        json!({"format": "iss_sub", "iss": iss, "sub": sub})
    }

    /// `{"format": "email", "email"}`.
    pub fn email(email: &str) -> Value {
        json!({"format": "email", "email": email})
    }

    /// `{"format": "opaque", "id"}`.
    pub fn opaque(id: &str) -> Value {
        json!({"format": "opaque", "id": id})
    }

    /// `{"format": "complex", "user": user, "session": session}` (either may be
    /// `Value::Null` to leave it out).
    pub fn complex(user: Value, session: Value) -> Value {
        let mut c = json!({"format": "complex"});
        for (k, v) in [("user", user), ("session", session)] {
            if !v.is_null() {
                c[k] = v;
            }
        }
        c
    }
}

/// `TEST_PYJWT_PYTHON`, else `python3`.
pub fn python() -> PathBuf {
    std::env::var_os("TEST_PYJWT_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("python3"))
}

/// `TEST_SSF_PY`, else `scripts/ssf/set.py` of this checkout.
pub fn set_script() -> PathBuf {
    std::env::var_os("TEST_SSF_PY")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/ssf/set.py"))
}

/// A private signing key for [`SetMinter`]: RS256 (RSA-2048) or ES256 (P-256).
#[derive(Clone, Debug)]
pub struct SetKey {
    alg: String,
    kid: String,
    private_jwk: Value,
    public_pem: String,
}

impl SetKey {
    /// A fresh key (`alg` `RS256` or `ES256`) drawn by `set.py --gen-key`.
    pub fn generate(alg: &str, kid: &str) -> SetKey {
        let out = Command::new(python())
            .arg(set_script())
            .args(["--gen-key", alg, "--kid", kid])
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("spawn {} --gen-key: {e}", python().display()));
        assert!(
            out.status.success(),
            "set.py --gen-key {alg}: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout).expect("--gen-key prints JSON");
        SetKey {
            alg: alg.to_owned(),
            kid: kid.to_owned(),
            private_jwk: v["jwk"].clone(),
            public_pem: v["public_pem"].as_str().expect("public_pem").to_owned(),
        }
    }

    /// The OIDC provider's key (RS256, its `kid`): to mint logout tokens exactly as the
    /// provider would sign them (replays, `nonce`, other audiences...).
    pub fn from_test_key(key: &TestKey) -> SetKey {
        SetKey {
            alg: "RS256".to_owned(),
            kid: key.kid().to_owned(),
            private_jwk: key.private_jwk().clone(),
            public_pem: key.public_pem().to_owned(),
        }
    }

    /// `RS256` or `ES256`.
    pub fn alg(&self) -> &str {
        &self.alg
    }

    /// The key id its tokens carry by default.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public JWK (`kty`, `n e` or `crv x y`, `kid`, `alg`, `use: sig`).
    pub fn public_jwk(&self) -> Value {
        let j = &self.private_jwk;
        let mut public = json!({"kty": j["kty"], "kid": self.kid, "alg": self.alg, "use": "sig"});
        for m in ["n", "e", "crv", "x", "y"] {
            if let Some(v) = j.get(m) {
                public[m] = v.clone();
            }
        }
        public
    }

    /// `{"keys": [public_jwk]}`: what a receiver trusts for this transmitter.
    pub fn jwks(&self) -> Value {
        json!({ "keys": [self.public_jwk()] })
    }

    /// SPKI PEM of the public key.
    pub fn public_pem(&self) -> &str {
        &self.public_pem
    }

    /// The public key for `jsonwebtoken`.
    pub fn decoding_key(&self) -> DecodingKey {
        match self.alg.as_str() {
            "ES256" => DecodingKey::from_ec_pem(self.public_pem.as_bytes()).expect("EC PEM"),
            _ => DecodingKey::from_rsa_pem(self.public_pem.as_bytes()).expect("RSA PEM"),
        }
    }

    /// The `jsonwebtoken` algorithm of this key.
    pub fn algorithm(&self) -> Algorithm {
        match self.alg.as_str() {
            "ES256" => Algorithm::ES256,
            _ => Algorithm::RS256,
        }
    }
}

/// How [`SetMinter::mint_tampered`] breaks a token (see `tamper` in set.py).
#[derive(Clone, Debug)]
pub enum Tamper {
    /// The signature's first byte flipped.
    Signature,
    /// The payload replaced by these claims after signing.
    Payload(Value),
    /// `alg: none`, empty signature (an unsecured JWS).
    AlgNone,
    /// The header as given, empty signature.
    EmptySignature,
    /// `alg: HS256`, HMAC keyed with the public key's PEM (algorithm confusion).
    Hs256WithPublicKey,
    /// Signed by another key of the same type, same header (same `kid`).
    WrongKey,
}

/// A running `set.py` holding one key. The process exits when this is dropped.
pub struct SetMinter {
    child: Child,
    stdin: Option<ChildStdin>,
    out: BufReader<ChildStdout>,
    alg: String,
    kid: String,
    jwk: Value,
    dir: PathBuf,
}

impl SetMinter {
    /// Starts `set.py` with `key` (written to a private temp file as a JWK).
    pub fn start(key: &SetKey) -> SetMinter {
        let dir = std::env::temp_dir().join(unique("axum-token-auth-set"));
        std::fs::create_dir_all(&dir).expect("create minter temp dir");
        let file = dir.join("key.json");
        std::fs::write(&file, serde_json::to_vec(&key.private_jwk).unwrap()).expect("key file");
        let mut child = Command::new(python())
            .arg(set_script())
            .arg(&file)
            .arg("--kid")
            .arg(&key.kid)
            .arg("--alg")
            .arg(&key.alg)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "spawn {} {}: {e}",
                    python().display(),
                    set_script().display()
                )
            });
        let stdin = child.stdin.take();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        let first: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("set.py: first line is not JSON ({e}): {line:?}"));
        SetMinter {
            alg: first["alg"].as_str().expect("alg").to_owned(),
            kid: first["kid"].as_str().expect("kid").to_owned(),
            jwk: first["jwk"].clone(),
            child,
            stdin,
            out,
            dir,
        }
    }

    /// The `alg` its tokens are signed with.
    pub fn alg(&self) -> &str {
        &self.alg
    }

    /// The `kid` its tokens carry unless the header says otherwise.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Its public JWK as PyJWT serialises it (`kid`, `alg`, `use: sig` added).
    pub fn public_jwk(&self) -> &Value {
        &self.jwk
    }

    /// Sends one `sign` command; the token, or `Err` with set.py's error.
    pub fn sign(&mut self, spec: &Value) -> Result<String, String> {
        let stdin = self.stdin.as_mut().unwrap();
        writeln!(stdin, "{}", json!({ "sign": spec })).unwrap();
        stdin.flush().unwrap();
        let mut line = String::new();
        let n = self.out.read_line(&mut line).unwrap();
        assert!(n > 0, "set.py exited");
        let answer: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("set.py: answer is not JSON ({e}): {line:?}"));
        match answer["token"].as_str() {
            Some(token) => Ok(token.to_owned()),
            None => Err(answer["error"].as_str().unwrap_or("no token").to_owned()),
        }
    }

    /// A JWS over `claims` (any JSON, serialised as is) with the header
    /// `{"alg": <key's>, "typ": "secevent+jwt", "kid": <kid>}` merged with `header`
    /// (`json!({})` for none; a member replaces or adds one, `null` removes one; a
    /// different `alg` is written but the signature stays the key's). Panics on error.
    pub fn mint(&mut self, header: &Value, claims: &Value) -> String {
        self.sign(&json!({"header": header, "claims": claims}))
            .unwrap_or_else(|e| panic!("set.py: {e}"))
    }

    /// [`mint`](Self::mint), then broken as `tamper` says.
    pub fn mint_tampered(&mut self, header: &Value, claims: &Value, tamper: Tamper) -> String {
        let mut spec = json!({"header": header, "claims": claims});
        spec["tamper"] = json!(match &tamper {
            Tamper::Signature => "signature",
            Tamper::Payload(_) => "payload",
            Tamper::AlgNone => "alg_none",
            Tamper::EmptySignature => "empty_signature",
            Tamper::Hs256WithPublicKey => "hs256_public_key",
            Tamper::WrongKey => "wrong_key",
        });
        if let Tamper::Payload(c) = tamper {
            spec["tampered_claims"] = c;
        }
        self.sign(&spec).unwrap_or_else(|e| panic!("set.py: {e}"))
    }

    /// A JWS whose payload is `payload` as raw text (not JSON, or not an object).
    pub fn mint_raw_payload(&mut self, header: &Value, payload: &str) -> String {
        self.sign(&json!({"header": header, "payload": payload}))
            .unwrap_or_else(|e| panic!("set.py: {e}"))
    }
}

impl Drop for SetMinter {
    fn drop(&mut self) {
        self.stdin = None; // EOF: set.py exits by itself
        for _ in 0..200 {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

// ---------------------------------------------------------------------------
// smoke tests: what set.py signs verifies with jsonwebtoken and the public key
// ---------------------------------------------------------------------------

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn a_set(iss: &str, aud: &str) -> Value {
    json!({
        "iss": iss,
        "aud": aud,
        "iat": now(),
        "jti": unique("set"),
        "sub_id": subject::complex(
            subject::iss_sub("https://idp.example", "alice"),
            subject::opaque("session-1"),
        ),
        "events": { events::CAEP_SESSION_REVOKED: { "event_timestamp": now() } },
    })
}

/// Verifies `token` with jsonwebtoken (signature, `alg`, `iss`, `aud`; SETs have no
/// `exp`) and returns its claims.
fn verify(token: &str, key: &SetKey, iss: &str, aud: &str) -> Result<Value, String> {
    ensure_crypto_provider();
    let mut v = Validation::new(key.algorithm());
    v.set_issuer(&[iss]);
    v.set_audience(&[aud]);
    v.set_required_spec_claims(&["iss", "aud"]);
    v.validate_exp = false;
    jsonwebtoken::decode::<Value>(token, &key.decoding_key(), &v)
        .map(|data| data.claims)
        .map_err(|e| format!("{e:?}"))
}

fn minted_set_verifies_and_forgeries_do_not(key: &SetKey) {
    let mut minter = SetMinter::start(key);
    assert_eq!((minter.alg(), minter.kid()), (key.alg(), key.kid()));
    assert_eq!(
        minter.public_jwk(),
        &key.public_jwk(),
        "PyJWT's JWK is ours"
    );
    let (iss, aud) = ("https://tx.example", "https://api.example");
    let claims = a_set(iss, aud);

    let set = minter.mint(&json!({}), &claims);
    assert_eq!(
        jwt_header(&set),
        json!({"alg": key.alg(), "typ": "secevent+jwt", "kid": key.kid()})
    );
    assert_eq!(verify(&set, key, iss, aud), Ok(claims.clone()), "{set}");
    // a JWKS-built key verifies it too (what a receiver would configure)
    let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(key.public_jwk()).unwrap();
    let from_jwk = DecodingKey::from_jwk(&jwk).unwrap();
    let (msg, sig) = set.rsplit_once('.').unwrap();
    assert!(jsonwebtoken::crypto::verify(sig, msg.as_bytes(), &from_jwk, key.algorithm()).unwrap());
    // another audience is refused by the verifier, not by the minter
    assert!(verify(&set, key, iss, "https://other.example").is_err());

    // header members: replaced, added, removed
    let logout = minter.mint(&json!({"typ": "logout+jwt", "x": 1}), &claims);
    assert_eq!(
        jwt_header(&logout),
        json!({"alg": key.alg(), "typ": "logout+jwt", "kid": key.kid(), "x": 1})
    );
    assert!(verify(&logout, key, iss, aud).is_ok());
    let bare = minter.mint(&json!({"typ": null, "kid": null}), &claims);
    assert_eq!(jwt_header(&bare), json!({"alg": key.alg()}));
    assert!(verify(&bare, key, iss, aud).is_ok());
    let no_alg = minter.mint(&json!({"alg": null}), &claims);
    assert_eq!(jwt_header(&no_alg).get("alg"), None);
    let lying = minter.mint(&json!({"alg": "RS384"}), &claims);
    assert_eq!(jwt_header(&lying)["alg"], "RS384");
    assert!(verify(&lying, key, iss, aud).is_err());

    // every tampering fails verification, and says what it did
    let tampered = |m: &mut SetMinter, t: Tamper| m.mint_tampered(&json!({}), &claims, t);
    let bad_sig = tampered(&mut minter, Tamper::Signature);
    assert_eq!(jwt_claims(&bad_sig), claims);
    assert!(verify(&bad_sig, key, iss, aud).is_err());
    let other = json!({"iss": iss, "aud": aud, "jti": "evil"});
    let swapped = tampered(&mut minter, Tamper::Payload(other.clone()));
    assert_eq!(jwt_claims(&swapped), other);
    assert!(verify(&swapped, key, iss, aud).is_err());
    let none = tampered(&mut minter, Tamper::AlgNone);
    assert_eq!(jwt_header(&none)["alg"], "none");
    assert!(none.ends_with('.'));
    assert!(verify(&none, key, iss, aud).is_err());
    let empty = tampered(&mut minter, Tamper::EmptySignature);
    assert!(empty.ends_with('.') && jwt_header(&empty)["alg"] == key.alg());
    assert!(verify(&empty, key, iss, aud).is_err());
    let hs = tampered(&mut minter, Tamper::Hs256WithPublicKey);
    assert_eq!(jwt_header(&hs)["alg"], "HS256");
    let (msg, sig) = hs.rsplit_once('.').unwrap();
    let secret = DecodingKey::from_secret(key.public_pem().as_bytes());
    assert!(
        jsonwebtoken::crypto::verify(sig, msg.as_bytes(), &secret, Algorithm::HS256).unwrap(),
        "HMAC keyed with the public PEM"
    );
    assert!(verify(&hs, key, iss, aud).is_err());
    let forged = tampered(&mut minter, Tamper::WrongKey);
    assert_eq!(jwt_header(&forged)["kid"], key.kid());
    assert!(verify(&forged, key, iss, aud).is_err());

    // raw payloads, and errors are answers, not crashes
    let raw = minter.mint_raw_payload(&json!({}), "not json");
    assert_eq!(raw.split('.').count(), 3);
    assert!(
        minter
            .sign(&json!({"claims": {}, "tamper": "nonsense"}))
            .unwrap_err()
            .contains("unknown tamper")
    );
    assert_eq!(
        verify(&minter.mint(&json!({}), &claims), key, iss, aud),
        Ok(claims)
    );
}

#[test]
fn es256_set_minted_by_pyjwt_verifies_with_jsonwebtoken_and_tampered_ones_do_not() {
    minted_set_verifies_and_forgeries_do_not(&SetKey::generate("ES256", "tx-es"));
}

#[test]
fn rs256_set_minted_by_pyjwt_verifies_with_jsonwebtoken_and_tampered_ones_do_not() {
    minted_set_verifies_and_forgeries_do_not(&SetKey::generate("RS256", "tx-rs"));
}

#[test]
fn the_oidc_providers_key_mints_logout_tokens_the_provider_could_have_signed() {
    let key = SetKey::from_test_key(&TestKey::generate("op-1"));
    let mut minter = SetMinter::start(&key);
    let claims = json!({
        "iss": "http://127.0.0.1:1", "aud": "client-1", "iat": now(), "exp": now() + 120,
        "jti": unique("logout"), "sub": "alice", "sid": "s-1",
        "events": { events::BACKCHANNEL_LOGOUT: {} },
    });
    let token = minter.mint(&json!({"typ": "logout+jwt"}), &claims);
    assert_eq!(
        jwt_header(&token),
        json!({"alg": "RS256", "typ": "logout+jwt", "kid": "op-1"})
    );
    assert_eq!(
        verify(&token, &key, "http://127.0.0.1:1", "client-1"),
        Ok(claims)
    );
}
