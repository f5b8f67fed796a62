//! Tokens minted by python exactly as the code of each replaced system mints them
//! (`scripts/test.sh` provides a python3 with PyJWT as `TEST_PYJWT_PYTHON`): the claims
//! each one writes, their JSON types (webtool's floats) and its default algorithm.
//! python-jose (fastcore, webtool) writes the same JWS as PyJWT for these claims; the
//! one thing it adds, webtool's `at_hash`, is computed here as python-jose computes it.
#![allow(dead_code)]

use std::process::Command;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

/// The python the tests mint with.
pub fn python() -> String {
    std::env::var("TEST_PYJWT_PYTHON").unwrap_or_else(|_| "/usr/bin/python3".into())
}

const MINT: &str = r#"
import base64, datetime, hashlib, json, secrets, sys, time, uuid
import jwt

spec = json.loads(sys.argv[1])
system, key, alg = spec["system"], spec["secret"], spec.get("alg")
shift = spec.get("shift", 0)  # seconds added to the clock: negative = minted in the past

def utcnow():
    return datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=shift)

out = []
if system == "scoped_token_service":
    # generate_token(): Unix-second iat/exp, type in lower case, secrets.token_hex jti.
    now = utcnow()
    exp = now + datetime.timedelta(hours=spec.get("hours", 24))
    payload = {
        "community_id": spec["community_id"], "module_name": spec["module_name"],
        "scopes": spec["scopes"], "iat": int(now.timestamp()), "exp": int(exp.timestamp()),
        "type": spec.get("type", "access"), "jti": secrets.token_hex(16),
        "metadata": spec.get("metadata", {}),
    }
    out.append(jwt.encode(payload, key, algorithm=alg or "HS256"))
elif system == "webtool":
    # JWTService.create_token(data): _create_metadata() sets exp/iat from time.time()
    # (floats), jti = uuid4().hex and extra = {}; the refresh token is encoded with
    # access_token=..., so python-jose adds at_hash; neither token has a type claim.
    algorithm = alg or "HS384"
    def metadata(ttl):
        now = time.time() + shift
        d = dict(spec.get("data", {}))
        d.setdefault("exp", now + ttl)
        d.setdefault("iat", now)
        d.setdefault("jti", uuid.uuid4().hex)
        d.setdefault("extra", {})
        return d
    access = jwt.encode(metadata(spec.get("access_ttl", 3600)), key, algorithm=algorithm)
    # python-jose's calculate_at_hash: base64url of the left half of the token's hash.
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[algorithm](access.encode()).digest()
    at_hash = base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode()
    refresh_claims = metadata(spec.get("refresh_ttl", 604800))
    refresh_claims["at_hash"] = at_hash
    out += [access, jwt.encode(refresh_claims, key, algorithm=algorithm)]
elif system == "fastcore":
    # JWTAuth.create_access_token / create_refresh_token: datetime exp/iat (encoded as
    # integers), iss, aud, type; the stateful module tracks each token by its jti.
    now = utcnow()
    kind = spec.get("type", "access")
    ttl = datetime.timedelta(minutes=30) if kind == "access" else datetime.timedelta(days=7)
    payload = {"sub": spec["sub"], "exp": now + ttl, "iat": now,
               "iss": spec.get("iss", "fastcore-api"), "aud": spec.get("aud", "fastcore-client"),
               "type": kind}
    if spec.get("jti", True):
        payload["jti"] = str(uuid.uuid4())
    payload.update(spec.get("claims", {}))
    out.append(jwt.encode(payload, key, algorithm=alg or "HS256"))
elif system == "token_auth":
    # TokenSchema's access token: iat, exp (+ access_token_duration seconds), user_id and
    # ref_id = str(uuid4()); its public generate_jwt_token(claims) writes no ref_id.
    now = utcnow()
    payload = {"iat": now, "exp": now + datetime.timedelta(seconds=spec.get("duration", 60)),
               "user_id": spec["user_id"]}
    if spec.get("ref_id", True):
        payload["ref_id"] = str(uuid.uuid4())
    out.append(jwt.encode(payload, key, algorithm=alg or "HS256"))
else:
    raise SystemExit("unknown system " + system)
print(json.dumps(out))
"#;

/// Mints with the code path of `spec["system"]` (`scoped_token_service`, `webtool`,
/// `fastcore`, `token_auth`); see the script above for the other fields.
pub fn mint(spec: Value) -> Vec<String> {
    let python = python();
    let out = Command::new(&python)
        .args(["-c", MINT, &spec.to_string()])
        .output()
        .unwrap_or_else(|e| panic!("{python}: {e} (run through scripts/test.sh)"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("a JSON list of tokens")
}

/// One token of `spec`.
pub fn mint_one(spec: Value) -> String {
    mint(spec).remove(0)
}

/// ScopedTokenService `generate_token(community_id="community_123",
/// module_name="music_module", scopes, token_type=kind)`.
pub fn scoped_token_service(secret: &str, kind: &str, scopes: &[&str]) -> String {
    mint_one(
        json!({"system": "scoped_token_service", "secret": secret, "type": kind,
        "community_id": "community_123", "module_name": "music_module", "scopes": scopes,
        "metadata": {"user_id": "user_456", "custom_field": "value"}}),
    )
}

/// webtool `JWTService(secret_key=secret).create_token({"sub": sub})`: (access, refresh).
pub fn webtool_pair(secret: &str, sub: &str) -> (String, String) {
    let mut pair = mint(json!({"system": "webtool", "secret": secret, "data": {"sub": sub}}));
    let refresh = pair.pop().unwrap();
    (pair.pop().unwrap(), refresh)
}

/// fastcore `create_access_token` / `create_refresh_token` (`kind`) for `sub`, with its
/// default issuer and audience (`fastcore-api`, `fastcore-client`) and a `jti`.
pub fn fastcore(secret: &str, kind: &str, sub: &str) -> String {
    mint_one(json!({"system": "fastcore", "secret": secret, "type": kind, "sub": sub}))
}

/// Token-Auth's access token for `user_id`, with its uuid4 `ref_id` or (`generate_jwt_token`)
/// without one.
pub fn token_auth(secret: &str, user_id: Value, ref_id: bool) -> String {
    mint_one(
        json!({"system": "token_auth", "secret": secret, "user_id": user_id, "ref_id": ref_id}),
    )
}

/// The (unverified) payload of a token, to read the ids the old system would have stored.
pub fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWS");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}
