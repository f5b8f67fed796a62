//! DPoP (RFC 9449) with clients nobody here wrote, over a real socket: proofs made by
//! panva's npm `dpop` (the JavaScript reference, `scripts/dpop/proof.mjs`) and by PyJWT
//! with `cryptography` keys (`scripts/dpop/proof.py`), and DPoP-bound access tokens
//! issued by `oidc-provider` (`scripts/oidc/provider.mjs`, its `dpop-client`).
//!
//! A reference client is one process per key (its private key never leaves it): the
//! tests read its public JWK and RFC 7638 thumbprint, bind tokens to that thumbprint, and
//! ask it for proofs (several per line, one line per exchange). `scripts/test.sh`
//! installs both (`npm ci` in `scripts/dpop`, Debian's python3-jwt and
//! python3-cryptography) and exports `TEST_DPOP_JS`, `TEST_DPOP_PY`, `TEST_NODE_BIN`,
//! `TEST_PYJWT_PYTHON`.

use crate::common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, response::IntoResponse};
use axum_token_auth::http::DpopProof;
use axum_token_auth::store::ProofReplay;
use axum_token_auth::store::memory::MemoryRefreshStore;
use axum_token_auth::store::replay::MemoryProofReplay;
use axum_token_auth::token::{Binding, Clock, Confirmation, InvalidToken};
use axum_token_auth::trust::dpop::{DpopPolicy, DpopSettings, ProofError};
use axum_token_auth::{AuthError, Claims, Sessions, TokenAuth, TokenAuthBuilder, TokenRequest};
use common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The `algs` of the DPoP challenge with the default settings, written out here.
const ALGS: &str = "ES256 EdDSA Ed25519 PS256 RS256";

// ---------------------------------------------------------------------------
// the reference clients
// ---------------------------------------------------------------------------

/// A reference DPoP client process holding one key pair.
struct RefClient {
    name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    out: BufReader<ChildStdout>,
    /// The `alg` its proofs carry.
    alg: String,
    /// Its public JWK, as its proofs carry it.
    jwk: Value,
    /// Its RFC 7638 thumbprint, computed by the client.
    jkt: String,
}

fn script(var: &str, file: &str) -> PathBuf {
    std::env::var_os(var).map(PathBuf::from).unwrap_or_else(|| {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("scripts/dpop")
            .join(file)
    })
}

impl RefClient {
    /// npm `dpop` (panva) with a key for `alg` (`ES256`, `Ed25519`, `PS256`, `RS256`).
    fn dpop_js(alg: &str) -> RefClient {
        let script = script("TEST_DPOP_JS", "proof.mjs");
        let modules = script.with_file_name("node_modules").join("dpop");
        assert!(
            modules.is_dir(),
            "{} is missing: run the tests through scripts/test.sh, or `npm ci --prefix scripts/dpop`",
            modules.display()
        );
        let mut cmd = Command::new(common::oidc::node_bin());
        cmd.arg(script).arg(alg);
        Self::spawn(format!("npm dpop {alg}"), cmd)
    }

    /// PyJWT + cryptography with a key for `alg` (`ES256`, `EdDSA`, `PS256`, `RS256`).
    fn pyjwt(alg: &str) -> RefClient {
        Self::pyjwt_with(alg, &[])
    }

    /// [`pyjwt`](Self::pyjwt) with more arguments for `proof.py`.
    fn pyjwt_with(alg: &str, args: &[&str]) -> RefClient {
        let python = std::env::var_os("TEST_PYJWT_PYTHON").unwrap_or_else(|| "python3".into());
        let mut cmd = Command::new(python);
        cmd.arg(script("TEST_DPOP_PY", "proof.py"))
            .arg(alg)
            .args(args);
        Self::spawn(format!("PyJWT {alg} {args:?}"), cmd)
    }

    fn spawn(name: String, mut cmd: Command) -> RefClient {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {name}: {e}"));
        let stdin = child.stdin.take();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        let first: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("{name}: first line is not JSON ({e}): {line:?}"));
        let text = |k: &str| {
            first[k]
                .as_str()
                .unwrap_or_else(|| panic!("{name}: no {k}"))
                .to_owned()
        };
        RefClient {
            alg: text("alg"),
            jkt: text("jkt"),
            jwk: first["jwk"].clone(),
            name,
            child,
            stdin,
            out,
        }
    }

    /// Sends one command line, returns the answer line (panics on `{"error"}`).
    fn call(&mut self, command: &Value) -> Value {
        let stdin = self.stdin.as_mut().unwrap();
        writeln!(stdin, "{command}").unwrap();
        stdin.flush().unwrap();
        let mut line = String::new();
        let n = self.out.read_line(&mut line).unwrap();
        assert!(n > 0, "{} exited", self.name);
        let answer: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("{}: answer is not JSON ({e}): {line:?}", self.name));
        assert!(answer.get("error").is_none(), "{}: {answer}", self.name);
        answer
    }

    /// Proofs for these requests (see [`req`]), one process round trip.
    fn proofs(&mut self, specs: &[Value]) -> Vec<String> {
        let answer = self.call(&json!({ "proofs": specs }));
        answer["proofs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap().to_owned())
            .collect()
    }

    /// One proof.
    fn proof(&mut self, spec: Value) -> String {
        self.proofs(&[spec]).remove(0)
    }
}

impl Drop for RefClient {
    fn drop(&mut self) {
        self.stdin = None; // EOF: the client exits by itself
        for _ in 0..200 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A proof request: `htm`, `htu`, and the access token it presents (`ath`).
fn req(htm: &str, htu: &str, token: Option<&str>) -> Value {
    let mut v = json!({ "htm": htm, "htu": htu });
    if let Some(t) = token {
        v["access_token"] = json!(t);
    }
    v
}

/// The unverified claims (or header: `part` 0) of a compact JWS.
fn jws_part(jws: &str, part: usize) -> Value {
    use base64::Engine as _;
    let b = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(jws.split('.').nth(part).unwrap())
        .unwrap();
    serde_json::from_slice(&b).unwrap()
}

// ---------------------------------------------------------------------------
// the API under test
// ---------------------------------------------------------------------------

/// The system clock moved by a test (seconds added, may be negative).
#[derive(Clone, Default)]
struct ShiftedClock(Arc<AtomicI64>);

impl Clock for ShiftedClock {
    fn now(&self) -> u64 {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        (now + self.0.load(Ordering::SeqCst)) as u64
    }
}

impl ShiftedClock {
    fn advance(&self, secs: i64) {
        self.0.fetch_add(secs, Ordering::SeqCst);
    }
}

struct Api {
    /// `http://127.0.0.1:PORT`: where the tests connect.
    base: String,
    /// The public origin `htu` is checked against (`base` unless a test says otherwise).
    origin: String,
    auth: TokenAuth,
    sessions: Sessions,
}

impl Api {
    /// The `htu` of a request to `path`.
    fn htu(&self, path: &str) -> String {
        format!("{}{path}", self.origin)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// An access token for `alice` bound to `jkt` (`cnf.jkt`).
    fn bound_token(&self, jkt: &str) -> String {
        self.auth
            .issue_access(&TokenRequest::new("alice").confirmation(Confirmation::dpop(jkt)))
            .unwrap()
            .into_string()
    }
}

async fn me(claims: Claims, binding: Binding) -> String {
    match binding {
        Binding::Dpop { jkt } => format!("{} dpop:{jkt}", claims.sub),
        Binding::Bearer => format!("{} bearer", claims.sub),
        other => format!("{} {other:?}", claims.sub),
    }
}

/// A token endpoint: a request with a DPoP proof (checked by [`DpopProof`]) gets an
/// access token bound to the proof's key.
async fn token_route(State(auth): State<TokenAuth>, proof: DpopProof) -> impl IntoResponse {
    let token = auth
        .issue_access(&TokenRequest::new("alice").confirmation(proof.confirmation()))
        .unwrap();
    Json(json!({
        "access_token": token.into_string(),
        "token_type": "DPoP",
        "jkt": proof.thumbprint(),
    }))
}

/// The routes: `/me` behind the handle's layer (policy `Allowed`), `/strict/me`
/// requiring DPoP, `/off/me` with DPoP off, `POST /token`, and the session refresh
/// route `POST /auth/refresh`.
fn routes(auth: &TokenAuth, sessions: &Sessions) -> Router {
    Router::new()
        .route("/me", get(me))
        .layer(auth.layer())
        .merge(
            Router::new()
                .route("/strict/me", get(me))
                .layer(auth.layer().dpop(DpopPolicy::Required)),
        )
        .merge(
            Router::new()
                .route("/off/me", get(me))
                .layer(auth.layer().dpop(DpopPolicy::Off)),
        )
        .merge(
            Router::new()
                .route("/token", post(token_route))
                .with_state(auth.clone()),
        )
        .route("/auth/refresh", sessions.refresh_route())
}

/// Serves the routes on a free port, the handle built by `builder` with
/// `dpop(origin)`, `origin` being the public origin given the local one (`http://127.0.0.1:PORT`).
async fn serve(
    builder: TokenAuthBuilder,
    origin: impl FnOnce(&str) -> String,
    dpop: impl FnOnce(DpopSettings) -> DpopSettings,
) -> Api {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let origin = origin(&base);
    let auth = builder
        .dpop(dpop(DpopSettings::new(origin.clone())))
        .build()
        .expect("the handle builds");
    let sessions = Sessions::builder(auth.clone(), MemoryRefreshStore::new())
        .build()
        .expect("sessions build");
    let app = routes(&auth, &sessions);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Api {
        base,
        origin,
        auth,
        sessions,
    }
}

/// [`serve`] with the test secret, the system clock and the default DPoP settings for
/// the local origin.
async fn api() -> Api {
    serve(builder(), str::to_owned, |d| d).await
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// `GET path` with `Authorization: <scheme> <token>` and, if any, a `DPoP` header.
async fn get_with(
    api: &Api,
    path: &str,
    scheme: &str,
    token: &str,
    proof: Option<&str>,
) -> reqwest::Response {
    let mut rb = http()
        .get(api.url(path))
        .header("authorization", format!("{scheme} {token}"));
    if let Some(p) = proof {
        rb = rb.header("dpop", p);
    }
    rb.send().await.unwrap()
}

/// `GET path` with `Authorization: DPoP <token>` and the proof.
async fn get_dpop(api: &Api, path: &str, token: &str, proof: &str) -> reqwest::Response {
    get_with(api, path, "DPoP", token, Some(proof)).await
}

/// Asserts a 200 whose body is `body`.
async fn assert_ok(res: reqwest::Response, body: &str, what: &str) {
    let status = res.status();
    let text = res.text().await.unwrap();
    assert_eq!((status, text.as_str()), (StatusCode::OK, body), "{what}");
}

/// The challenges and body of a refusal.
async fn refusal(res: reqwest::Response) -> (StatusCode, Vec<String>, Option<String>, Value) {
    let status = res.status();
    let challenges = res
        .headers()
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let cache = res
        .headers()
        .get("cache-control")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = res.json().await.unwrap_or(Value::Null);
    (status, challenges, cache, body)
}

/// Asserts the exact RFC 9449 §7.1 refusal of a layer with DPoP `Allowed`: 401, a bare
/// `Bearer` challenge first, the error on the `DPoP` challenge (with the accepted
/// `algs`) beside it, the JSON body, `Cache-Control: no-store`.
async fn assert_dpop_refusal(res: reqwest::Response, expected: AuthError, what: &str) {
    let code = expected.error_code().unwrap();
    let desc = expected.description();
    let (status, challenges, cache, body) = refusal(res).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}: {body}");
    assert_eq!(
        challenges,
        vec![
            r#"Bearer realm="api""#.to_owned(),
            format!(r#"DPoP algs="{ALGS}", error="{code}", error_description="{desc}""#),
        ],
        "{what}"
    );
    assert_eq!(
        body,
        json!({"error": code, "error_description": desc}),
        "{what}"
    );
    assert_eq!(cache.as_deref(), Some("no-store"), "{what}");
}

fn proof_error(e: ProofError) -> AuthError {
    AuthError::InvalidDpopProof(e)
}

// ---------------------------------------------------------------------------
// reference proofs accepted
// ---------------------------------------------------------------------------

/// The whole client side by `client`: a token request with its proof to `POST /token`
/// (our thumbprint of its key must be its own), then `GET /me` twice with fresh proofs
/// for the bound token; a token bound by thumbprint alone is accepted the same way.
async fn reference_client_is_accepted(mut client: RefClient) {
    let api = api().await;
    let what = client.name.clone();

    let token_proof = client.proof(req("POST", &api.htu("/token"), None));
    let res = http()
        .post(api.url("/token"))
        .header("dpop", &token_proof)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let body: Value = res.json().await.unwrap_or(Value::Null);
    assert_eq!(status, StatusCode::OK, "{what}: token request: {body}");
    assert_eq!(
        body["jkt"],
        json!(client.jkt),
        "{what}: our RFC 7638 thumbprint of {} equals the client's",
        client.jwk
    );
    let token = body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(jws_part(&token, 1)["cnf"], json!({"jkt": client.jkt}));

    let by_thumbprint = api.bound_token(&client.jkt);
    let proofs = client.proofs(&[
        req("GET", &api.htu("/me"), Some(&token)),
        req("GET", &api.htu("/me"), Some(&token)),
        req("GET", &api.htu("/me"), Some(&by_thumbprint)),
        req("GET", &api.htu("/strict/me"), Some(&by_thumbprint)),
    ]);
    assert_eq!(jws_part(&proofs[0], 0)["alg"], json!(client.alg));
    let want = format!("alice dpop:{}", client.jkt);
    assert_ok(
        get_dpop(&api, "/me", &token, &proofs[0]).await,
        &want,
        &what,
    )
    .await;
    assert_ok(
        get_dpop(&api, "/me", &token, &proofs[1]).await,
        &want,
        &what,
    )
    .await;
    assert_ok(
        get_dpop(&api, "/me", &by_thumbprint, &proofs[2]).await,
        &want,
        &what,
    )
    .await;
    assert_ok(
        get_dpop(&api, "/strict/me", &by_thumbprint, &proofs[3]).await,
        &want,
        &what,
    )
    .await;
}

#[tokio::test]
async fn npm_dpop_es256_proofs_are_accepted() {
    reference_client_is_accepted(RefClient::dpop_js("ES256")).await;
}

/// npm `dpop` 2.x signs Ed25519 proofs with `alg: "Ed25519"`, the fully-specified
/// algorithm identifier of RFC 9864 (which deprecates the polymorphic `EdDSA`).
#[tokio::test]
async fn npm_dpop_ed25519_proofs_are_accepted() {
    let client = RefClient::dpop_js("Ed25519");
    assert_eq!(client.alg, "Ed25519");
    reference_client_is_accepted(client).await;
}

#[tokio::test]
async fn npm_dpop_ps256_proofs_are_accepted() {
    reference_client_is_accepted(RefClient::dpop_js("PS256")).await;
}

#[tokio::test]
async fn npm_dpop_rs256_proofs_are_accepted() {
    reference_client_is_accepted(RefClient::dpop_js("RS256")).await;
}

#[tokio::test]
async fn pyjwt_es256_proofs_are_accepted() {
    reference_client_is_accepted(RefClient::pyjwt("ES256")).await;
}

#[tokio::test]
async fn pyjwt_eddsa_proofs_are_accepted() {
    reference_client_is_accepted(RefClient::pyjwt("EdDSA")).await;
}

#[tokio::test]
async fn pyjwt_ps256_proofs_are_accepted() {
    reference_client_is_accepted(RefClient::pyjwt("PS256")).await;
}

#[tokio::test]
async fn pyjwt_rs256_proofs_are_accepted() {
    reference_client_is_accepted(RefClient::pyjwt("RS256")).await;
}

/// `iat` is a NumericDate (RFC 7519 §2): a fractional one is a valid proof.
#[tokio::test]
async fn a_fractional_iat_is_accepted() {
    let api = api().await;
    let mut py = RefClient::pyjwt("ES256");
    let token = api.bound_token(&py.jkt);
    let mut spec = req("GET", &api.htu("/me"), Some(&token));
    spec["iat"] = json!(now() as f64 + 0.25);
    let proof = py.proof(spec);
    assert!(jws_part(&proof, 1)["iat"].is_f64());
    let want = format!("alice dpop:{}", py.jkt);
    assert_ok(
        get_dpop(&api, "/me", &token, &proof).await,
        &want,
        "float iat",
    )
    .await;
}

/// PyJWT 2.6 writes an EC coordinate with a leading zero byte short (about one P-256
/// key in 128; `proof.py` draws such a key on purpose here): RFC 7518 §6.2.1.2 requires
/// the full 32 bytes, and the thumbprint the client computes over its short JWK is not
/// the one of the same key written correctly. Refused as a bad key, never padded.
#[tokio::test]
async fn a_pyjwt_jwk_with_a_short_ec_coordinate_is_401_invalid_dpop_proof() {
    let api = api().await;
    let mut py = RefClient::pyjwt_with("ES256", &["--short-ec-coordinate"]);
    let short = ["x", "y"]
        .iter()
        .any(|c| py.jwk[c].as_str().unwrap().len() < 43);
    assert!(short, "{}", py.jwk);
    let token = api.bound_token(&py.jkt);
    let proof = py.proof(req("GET", &api.htu("/me"), Some(&token)));
    let res = get_dpop(&api, "/me", &token, &proof).await;
    assert_dpop_refusal(res, proof_error(ProofError::BadKey), "short coordinate").await;
}

// ---------------------------------------------------------------------------
// reference proofs refused
// ---------------------------------------------------------------------------

#[tokio::test]
async fn a_replayed_reference_proof_is_401_invalid_dpop_proof() {
    let api = api().await;
    for mut client in [RefClient::dpop_js("ES256"), RefClient::pyjwt("ES256")] {
        let token = api.bound_token(&client.jkt);
        let proof = client.proof(req("GET", &api.htu("/me"), Some(&token)));
        let want = format!("alice dpop:{}", client.jkt);
        assert_ok(
            get_dpop(&api, "/me", &token, &proof).await,
            &want,
            &client.name,
        )
        .await;
        let res = get_dpop(&api, "/me", &token, &proof).await;
        assert_dpop_refusal(res, proof_error(ProofError::Replayed), &client.name).await;
    }
}

#[tokio::test]
async fn a_reference_proof_for_another_htu_is_401_invalid_dpop_proof() {
    let api = api().await;
    let mut js = RefClient::dpop_js("ES256");
    let token = api.bound_token(&js.jkt);
    let port = api.base.rsplit(':').next().unwrap();
    let wrong = [
        api.htu("/other"),
        api.htu("/strict/me"),
        api.htu("/me/"),
        format!("https://127.0.0.1:{port}/me"),
        format!("http://127.0.0.2:{port}/me"),
        format!("http://localhost:{port}/me"),
    ];
    let specs: Vec<Value> = wrong.iter().map(|u| req("GET", u, Some(&token))).collect();
    for (htu, proof) in wrong.iter().zip(js.proofs(&specs)) {
        let res = get_dpop(&api, "/me", &token, &proof).await;
        assert_dpop_refusal(res, proof_error(ProofError::WrongUri), htu).await;
    }
}

#[tokio::test]
async fn a_reference_proof_for_another_htm_is_401_invalid_dpop_proof() {
    let api = api().await;
    let mut js = RefClient::dpop_js("ES256");
    let token = api.bound_token(&js.jkt);
    for htm in ["POST", "get", "HEAD"] {
        let proof = js.proof(req(htm, &api.htu("/me"), Some(&token)));
        let res = get_dpop(&api, "/me", &token, &proof).await;
        assert_dpop_refusal(res, proof_error(ProofError::WrongMethod), htm).await;
    }
}

#[tokio::test]
async fn a_reference_proof_for_another_access_token_is_401_invalid_dpop_proof() {
    let api = api().await;
    let mut py = RefClient::pyjwt("PS256");
    let token = api.bound_token(&py.jkt);
    let other = api.bound_token(&py.jkt);
    assert_ne!(token, other);
    let proofs = py.proofs(&[
        req("GET", &api.htu("/me"), Some(&other)),
        req("GET", &api.htu("/me"), None),
    ]);
    for (what, proof) in ["ath of another token", "no ath"].iter().zip(&proofs) {
        let res = get_dpop(&api, "/me", &token, proof).await;
        assert_dpop_refusal(res, proof_error(ProofError::WrongAccessTokenHash), what).await;
    }
}

/// A valid proof by another key is no proof of the token's key: the binding refuses it
/// (401 `invalid_token`, on the DPoP challenge), whichever implementation made either key.
#[tokio::test]
async fn a_reference_proof_by_another_key_is_401_invalid_token() {
    let api = api().await;
    let mut js = RefClient::dpop_js("ES256");
    let mut py = RefClient::pyjwt("ES256");
    let js2 = RefClient::dpop_js("ES256");
    assert_ne!(js.jkt, js2.jkt);
    let (js_owner, js2_owner) = (
        (js.name.clone(), js.jkt.clone()),
        (js2.name.clone(), js2.jkt.clone()),
    );
    for ((owner, jkt), thief) in [(js_owner, &mut py), (js2_owner, &mut js)] {
        let token = api.bound_token(&jkt);
        let proof = thief.proof(req("GET", &api.htu("/me"), Some(&token)));
        let res = get_dpop(&api, "/me", &token, &proof).await;
        let what = format!("{owner}'s token, {}'s proof", thief.name);
        assert_dpop_refusal(
            res,
            AuthError::InvalidToken(InvalidToken::BindingMismatch),
            &what,
        )
        .await;
    }
}

/// Proofs older than the lifetime (60 s, 5 s of leeway) and from the future: PyJWT's
/// with an old or future `iat`, and a npm `dpop` proof (always issued now) aged by the
/// server's clock.
#[tokio::test]
async fn stale_and_future_reference_proofs_are_401_invalid_dpop_proof() {
    let clock = ShiftedClock::default();
    let api = serve(builder().clock(clock.clone()), str::to_owned, |d| d).await;
    let mut py = RefClient::pyjwt("ES256");
    let token = api.bound_token(&py.jkt);
    let htu = api.htu("/me");
    let at = |offset: i64| {
        let mut s = req("GET", &htu, Some(&token));
        s["iat_offset"] = json!(offset);
        s
    };
    let proofs = py.proofs(&[at(-66), at(-600), at(8), at(3600), at(-30), at(3)]);
    let cases = [
        (ProofError::Stale, "66 s old"),
        (ProofError::Stale, "10 min old"),
        (ProofError::IssuedInFuture, "8 s ahead"),
        (ProofError::IssuedInFuture, "1 h ahead"),
    ];
    for ((expected, what), proof) in cases.iter().zip(&proofs) {
        let res = get_dpop(&api, "/me", &token, proof).await;
        assert_dpop_refusal(res, proof_error(*expected), what).await;
    }
    // Within the window both ways: accepted (the same proofs' neighbours).
    let want = format!("alice dpop:{}", py.jkt);
    assert_ok(
        get_dpop(&api, "/me", &token, &proofs[4]).await,
        &want,
        "30 s old",
    )
    .await;
    assert_ok(
        get_dpop(&api, "/me", &token, &proofs[5]).await,
        &want,
        "3 s ahead",
    )
    .await;

    let mut js = RefClient::dpop_js("ES256");
    let token = api.bound_token(&js.jkt);
    let proof = js.proof(req("GET", &htu, Some(&token)));
    clock.advance(66);
    let res = get_dpop(&api, "/me", &token, &proof).await;
    assert_dpop_refusal(res, proof_error(ProofError::Stale), "npm proof, 66 s later").await;
}

/// RFC 9449 §7.2: a bound token is never a bearer token, with or without a proof beside it;
/// the reference client's proof must come with the `DPoP` scheme.
#[tokio::test]
async fn a_token_bound_to_a_reference_key_as_bearer_is_401_invalid_token() {
    let api = api().await;
    let mut js = RefClient::dpop_js("ES256");
    let token = api.bound_token(&js.jkt);
    let proof = js.proof(req("GET", &api.htu("/me"), Some(&token)));
    for (what, proof) in [("with its proof", Some(proof.as_str())), ("alone", None)] {
        let res = get_with(&api, "/me", "Bearer", &token, proof).await;
        assert_dpop_refusal(
            res,
            AuthError::InvalidToken(InvalidToken::UnprovenBinding),
            what,
        )
        .await;
    }
    // The DPoP scheme without the proof.
    let res = get_with(&api, "/me", "DPoP", &token, None).await;
    assert_dpop_refusal(res, proof_error(ProofError::Missing), "no DPoP header").await;
    // The proof was never accepted, so it still works once, with the right scheme.
    let want = format!("alice dpop:{}", js.jkt);
    assert_ok(get_dpop(&api, "/me", &token, &proof).await, &want, "DPoP").await;
}

// ---------------------------------------------------------------------------
// server nonces and bound refresh, with reference clients
// ---------------------------------------------------------------------------

/// Nonces on (RFC 9449 §8, §9): a reference proof without one is answered 401
/// `use_dpop_nonce` with a `DPoP-Nonce`; the reference clients put that nonce in their
/// next proofs, and those are accepted.
#[tokio::test]
async fn reference_clients_get_a_nonce_and_their_proofs_with_it_are_accepted() {
    let api = serve(builder(), str::to_owned, |d| {
        d.nonces(b"a-nonce-secret-for-every-instance")
    })
    .await;
    for mut client in [RefClient::dpop_js("ES256"), RefClient::pyjwt("EdDSA")] {
        let what = client.name.clone();
        let token = api.bound_token(&client.jkt);
        let first = client.proof(req("GET", &api.htu("/me"), Some(&token)));
        let res = get_dpop(&api, "/me", &token, &first).await;
        let nonce = res
            .headers()
            .get("dpop-nonce")
            .unwrap_or_else(|| panic!("{what}: no DPoP-Nonce"))
            .to_str()
            .unwrap()
            .to_owned();
        let expected = AuthError::UseDpopNonce {
            nonce: nonce.clone(),
        };
        assert_dpop_refusal(res, expected, &what).await;
        let mut spec = req("GET", &api.htu("/me"), Some(&token));
        spec["nonce"] = json!(nonce);
        let proof = client.proof(spec);
        assert_eq!(jws_part(&proof, 1)["nonce"], json!(nonce));
        let want = format!("alice dpop:{}", client.jkt);
        assert_ok(get_dpop(&api, "/me", &token, &proof).await, &want, &what).await;
    }
}

/// The nonce dance on the refresh route (a token request, RFC 9449 §8) with the npm
/// client: refused with `use_dpop_nonce` and a `DPoP-Nonce`, then refreshed with a proof
/// carrying it. (RFC 9449 §8 has an authorization server answer this with 400, as RFC 6749
/// §5.2 errors; the session routes answer every refusal with 401 — left as designed,
/// and clients key on the error code and the header, asserted here.)
#[tokio::test]
async fn the_refresh_route_asks_the_reference_client_for_a_nonce() {
    let api = serve(builder(), str::to_owned, |d| {
        d.nonces(b"a-nonce-secret-for-every-instance")
    })
    .await;
    let mut js = RefClient::dpop_js("ES256");
    let login = api
        .sessions
        .login(
            &TokenRequest::new("alice").confirmation(Confirmation::dpop(js.jkt.clone())),
            None,
        )
        .await
        .unwrap();
    let refresh = |proof: String| {
        http()
            .post(api.url("/auth/refresh"))
            .header("dpop", proof)
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", login.pair.refresh.as_str()),
            ])
            .send()
    };
    let res = refresh(js.proof(req("POST", &api.htu("/auth/refresh"), None)))
        .await
        .unwrap();
    let nonce = res.headers().get("dpop-nonce").cloned();
    let (status, _, _, body) = refusal(res).await;
    assert!(status.is_client_error(), "{status}");
    assert_eq!(body["error"], json!("use_dpop_nonce"), "{body}");
    let nonce = nonce.expect("a DPoP-Nonce").to_str().unwrap().to_owned();
    let mut spec = req("POST", &api.htu("/auth/refresh"), None);
    spec["nonce"] = json!(nonce);
    let res = refresh(js.proof(spec)).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["token_type"], json!("DPoP"), "{body}");
}

/// A session bound to the npm client's key (login with its thumbprint) refreshes with
/// that client's proof on the refresh route (a token request: no `ath`) and stays bound;
/// the refresh token with a valid proof by another implementation's key is refused and
/// ends the session (theft of the refresh token).
#[tokio::test]
async fn a_bound_session_refreshes_with_the_reference_clients_proof_and_another_key_ends_it() {
    let api = api().await;
    let mut js = RefClient::dpop_js("ES256");
    let mut py = RefClient::pyjwt("ES256");
    let login = api
        .sessions
        .login(
            &TokenRequest::new("alice").confirmation(Confirmation::dpop(js.jkt.clone())),
            None,
        )
        .await
        .unwrap();
    let refresh = |token: &str, proof: &str| {
        http()
            .post(api.url("/auth/refresh"))
            .header("dpop", proof)
            .form(&[("grant_type", "refresh_token"), ("refresh_token", token)])
            .send()
    };
    let proof = js.proof(req("POST", &api.htu("/auth/refresh"), None));
    let res = refresh(login.pair.refresh.as_str(), &proof).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["token_type"], json!("DPoP"), "{body}");
    let access = body["access_token"].as_str().unwrap().to_owned();
    let next = body["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(jws_part(&access, 1)["cnf"], json!({"jkt": js.jkt}));
    let me = js.proof(req("GET", &api.htu("/me"), Some(&access)));
    let want = format!("alice dpop:{}", js.jkt);
    assert_ok(
        get_dpop(&api, "/me", &access, &me).await,
        &want,
        "refreshed",
    )
    .await;

    let stolen = py.proof(req("POST", &api.htu("/auth/refresh"), None));
    let res = refresh(&next, &stolen).await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let proof = js.proof(req("POST", &api.htu("/auth/refresh"), None));
    let res = refresh(&next, &proof).await.unwrap();
    assert_eq!(
        res.status(),
        StatusCode::UNAUTHORIZED,
        "the session was ended"
    );
}

// ---------------------------------------------------------------------------
// several instances
// ---------------------------------------------------------------------------

/// Two instances behind one public origin, each with its own handle, layer and store
/// connection: a proof by `client` accepted by the first is refused as a replay by the
/// second; and (the reason the cache must be shared) accepted again by a third instance
/// with the default in-memory cache of its own.
async fn assert_replay_refused_across_instances(
    mut client: RefClient,
    a: impl FnOnce(DpopSettings) -> DpopSettings,
    b: impl FnOnce(DpopSettings) -> DpopSettings,
) {
    const ORIGIN: &str = "https://api.example.com";
    let a = serve(builder(), |_| ORIGIN.to_owned(), a).await;
    let b = serve(builder(), |_| ORIGIN.to_owned(), b).await;
    let lone = serve(builder(), |_| ORIGIN.to_owned(), |d| d).await;
    let token = a.bound_token(&client.jkt);
    let proof = client.proof(req("GET", &format!("{ORIGIN}/me"), Some(&token)));
    let want = format!("alice dpop:{}", client.jkt);
    let what = &client.name;
    assert_ok(get_dpop(&a, "/me", &token, &proof).await, &want, what).await;
    let res = get_dpop(&b, "/me", &token, &proof).await;
    assert_dpop_refusal(res, proof_error(ProofError::Replayed), what).await;
    assert_ok(
        get_dpop(&lone, "/me", &token, &proof).await,
        &want,
        "own cache",
    )
    .await;
}

#[cfg(feature = "redis")]
#[tokio::test]
async fn a_reference_proof_accepted_by_one_instance_is_a_replay_at_another_sharing_redis() {
    use axum_token_auth::store::redis::RedisStore;
    let url = std::env::var("REDIS_URL").expect("REDIS_URL: run through scripts/test.sh");
    let a: Arc<dyn ProofReplay> = Arc::new(RedisStore::connect(&url).await.unwrap());
    let b: Arc<dyn ProofReplay> = Arc::new(RedisStore::connect(&url).await.unwrap());
    for client in [RefClient::dpop_js("ES256"), RefClient::pyjwt("RS256")] {
        assert_replay_refused_across_instances(
            client,
            |d| d.replay_store_shared(Arc::clone(&a)),
            |d| d.replay_store_shared(Arc::clone(&b)),
        )
        .await;
    }
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn a_reference_proof_accepted_by_one_instance_is_a_replay_at_another_sharing_postgres() {
    use axum_token_auth::store::postgres::PostgresStore;
    let url = std::env::var("DATABASE_URL").expect("DATABASE_URL: run through scripts/test.sh");
    let pg = PostgresStore::connect(&url).await.unwrap();
    pg.migrate().await.unwrap();
    let a: Arc<dyn ProofReplay> = Arc::new(pg);
    let b: Arc<dyn ProofReplay> = Arc::new(PostgresStore::connect(&url).await.unwrap());
    for client in [RefClient::pyjwt("EdDSA"), RefClient::dpop_js("PS256")] {
        assert_replay_refused_across_instances(
            client,
            |d| d.replay_store_shared(Arc::clone(&a)),
            |d| d.replay_store_shared(Arc::clone(&b)),
        )
        .await;
    }
}

/// The same with one in-memory cache shared by two handles in one process.
#[tokio::test]
async fn a_reference_proof_accepted_by_one_handle_is_a_replay_at_another_sharing_memory() {
    let shared: Arc<dyn ProofReplay> = Arc::new(MemoryProofReplay::default());
    assert_replay_refused_across_instances(
        RefClient::dpop_js("ES256"),
        |d| d.replay_store_shared(Arc::clone(&shared)),
        |d| d.replay_store_shared(Arc::clone(&shared)),
    )
    .await;
}

// ---------------------------------------------------------------------------
// an identity provider issuing DPoP-bound tokens
// ---------------------------------------------------------------------------

/// oidc-provider (`scripts/oidc/provider.mjs`, its DPoP block) issues a client-credentials
/// token bound to the npm `dpop` client's key; the layer trusts the provider through
/// discovery and accepts the token only with a proof by that key, whatever the layer's
/// policy for unbound tokens (RFC 9449 §7.2; `DpopPolicy` docs).
#[cfg(feature = "oidc")]
mod provider {
    use super::*;

    use axum_token_auth::trust::Issuer;
    use common::oidc::{OidcProvider, RESOURCE, TestKey};

    /// The provider's DPoP client (`dpop_bound_access_tokens`: a proof is required).
    const DPOP_CLIENT: &str = "dpop-client";
    const DPOP_SECRET: &str = "dpop-secret";

    /// A client-credentials token request to the provider with a proof by `client`'s
    /// key (made and sent by the npm client itself): the status and the body.
    fn provider_token(
        client: &mut RefClient,
        op: &OidcProvider,
        id: &str,
        secret: &str,
    ) -> (u64, Value) {
        let answer = client.call(&json!({"token": {
            "url": op.token_url(),
            "client_id": id,
            "client_secret": secret,
            "form": {"grant_type": "client_credentials", "resource": RESOURCE, "scope": "users:read"},
        }}));
        (answer["status"].as_u64().unwrap(), answer["body"].clone())
    }

    async fn api_trusting(op: &OidcProvider) -> Api {
        let issuer = Issuer::discover(op.issuer()).audience(RESOURCE);
        let api = serve(builder().trust(issuer), str::to_owned, |d| d).await;
        assert!(api.auth.await_ready(Duration::from_secs(10)).await);
        api
    }

    #[tokio::test]
    async fn a_provider_dpop_bound_token_is_accepted_only_with_a_proof_by_its_key() {
        let op = OidcProvider::start(&[TestKey::generate("k1")]).await;
        let api = api_trusting(&op).await;
        let mut js = RefClient::dpop_js("ES256");

        // The provider demands a proof from this client...
        let (status, body) = op_token_without_proof(&op).await;
        assert_eq!(status, 400, "{body}");
        // ... and binds the token to the proof's key.
        let (status, body) = provider_token(&mut js, &op, DPOP_CLIENT, DPOP_SECRET);
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["token_type"], json!("DPoP"), "{body}");
        let token = body["access_token"].as_str().unwrap().to_owned();
        let claims = jws_part(&token, 1);
        assert_eq!(claims["cnf"], json!({"jkt": js.jkt}), "{claims}");
        assert_eq!(claims["iss"], json!(op.issuer()));

        let proofs = js.proofs(&[
            req("GET", &api.htu("/me"), Some(&token)),
            req("GET", &api.htu("/me"), Some(&token)),
            req("GET", &api.htu("/strict/me"), Some(&token)),
            req("GET", &api.htu("/off/me"), Some(&token)),
        ]);
        let want = format!("{DPOP_CLIENT} dpop:{}", js.jkt);
        assert_ok(
            get_dpop(&api, "/me", &token, &proofs[0]).await,
            &want,
            "DPoP",
        )
        .await;
        assert_ok(
            get_dpop(&api, "/me", &token, &proofs[1]).await,
            &want,
            "again",
        )
        .await;
        assert_ok(
            get_dpop(&api, "/strict/me", &token, &proofs[2]).await,
            &want,
            "Required",
        )
        .await;
        let res = get_dpop(&api, "/me", &token, &proofs[0]).await;
        assert_dpop_refusal(res, proof_error(ProofError::Replayed), "replayed").await;

        // As a bearer token: refused, with or without a (fresh) proof beside it.
        let fresh = js.proof(req("GET", &api.htu("/me"), Some(&token)));
        for (what, proof) in [("Bearer", None), ("Bearer + proof", Some(fresh.as_str()))] {
            let res = get_with(&api, "/me", "Bearer", &token, proof).await;
            assert_dpop_refusal(
                res,
                AuthError::InvalidToken(InvalidToken::UnprovenBinding),
                what,
            )
            .await;
        }
        // With a valid proof by another key (PyJWT's, and another npm key).
        for mut thief in [RefClient::pyjwt("ES256"), RefClient::dpop_js("ES256")] {
            let proof = thief.proof(req("GET", &api.htu("/me"), Some(&token)));
            let res = get_dpop(&api, "/me", &token, &proof).await;
            let what = format!("proof by {}", thief.name);
            assert_dpop_refusal(
                res,
                AuthError::InvalidToken(InvalidToken::BindingMismatch),
                &what,
            )
            .await;
        }

        // A layer with DPoP off still never takes the bound token for a bearer token; the
        // DPoP scheme is no credential there at all (`DpopPolicy::Off`).
        let res = get_with(&api, "/off/me", "Bearer", &token, None).await;
        let unproven = AuthError::InvalidToken(InvalidToken::UnprovenBinding);
        let (status, challenges, _, body) = refusal(res).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert_eq!(challenges, vec![expected_challenge(&unproven).unwrap()]);
        assert_eq!(body["error"], json!("invalid_token"));
        let res = get_dpop(&api, "/off/me", &token, &proofs[3]).await;
        let (status, challenges, _, body) = refusal(res).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert_eq!(
            challenges,
            vec![expected_challenge(&AuthError::MissingCredentials).unwrap()]
        );
    }

    /// The provider's unbound token (its bearer client, no proof) is a bearer token where
    /// bearer tokens are allowed, and refused with the DPoP scheme and a valid proof
    /// (RFC 9449 §7.1: the token is not bound to that key).
    #[tokio::test]
    async fn a_provider_bearer_token_with_a_reference_proof_is_401_invalid_token() {
        let op = OidcProvider::start(&[TestKey::generate("k1")]).await;
        let api = api_trusting(&op).await;
        let token = op.client_credentials_token("users:read", RESOURCE).await;
        assert!(jws_part(&token, 1).get("cnf").is_none());
        let res = get_with(&api, "/me", "Bearer", &token, None).await;
        assert_ok(res, "test-client bearer", "Bearer").await;
        let mut js = RefClient::dpop_js("ES256");
        let proof = js.proof(req("GET", &api.htu("/me"), Some(&token)));
        let res = get_dpop(&api, "/me", &token, &proof).await;
        assert_dpop_refusal(
            res,
            AuthError::InvalidToken(InvalidToken::NotDpopBound),
            "DPoP",
        )
        .await;
    }

    /// `POST /token` as `dpop-client` without a `DPoP` header.
    async fn op_token_without_proof(op: &OidcProvider) -> (u16, Value) {
        let res = op
            .http()
            .post(op.token_url())
            .basic_auth(DPOP_CLIENT, Some(DPOP_SECRET))
            .form(&[
                ("grant_type", "client_credentials"),
                ("resource", RESOURCE),
                ("scope", "users:read"),
            ])
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }
}
