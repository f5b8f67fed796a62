#!/usr/bin/env python3
"""scripts/dpop/proof.py - a second DPoP client nobody in this project wrote: proofs
signed by PyJWT with keys from `cryptography` (Debian's python3-jwt and
python3-cryptography, installed by scripts/test.sh, which exports a python3 that imports
both as TEST_PYJWT_PYTHON), for the interop tests (tests/it/dpop_interop.rs).

Independent of the crate and of scripts/dpop/proof.mjs: the key, its public JWK
(PyJWT's `to_jwk`) and the JWS are PyJWT's and cryptography's; the RFC 7638 thumbprint
and `ath` are computed here from the RFCs' text.

USAGE
  python3 proof.py ALG [--short-ec-coordinate]
                              ALG: ES256 | EdDSA | PS256 | RS256

PyJWT 2.6 (Debian 12's) writes an EC coordinate without its leading zero bytes (its
`to_jwk` uses the integer's minimal length), while RFC 7518 §6.2.1.2 requires the full
size of the curve's coordinates (32 bytes for P-256): about one P-256 key in 128 gets a
non-conforming JWK, which a strict server refuses. So an ES256 key whose JWK PyJWT would
write short is drawn again; with --short-ec-coordinate, keys are drawn until one is (to
test that refusal).

The same line protocol as proof.mjs: one key pair per process; the first stdout line is
  {"alg": "...", "jwk": {public JWK}, "jkt": "<RFC 7638 thumbprint>"}
then each stdin line is one JSON command answered by one JSON line:
  {"proofs": [{"htm": "GET", "htu": "http://...", "access_token": "...", "nonce": "...",
               "iat": 1796000000.5, "iat_offset": -300}, ...]}
    -> {"proofs": ["<compact JWS>", ...]}
  `iat` (a number, possibly fractional: RFC 7519 NumericDate) replaces the current time;
  `iat_offset` (seconds) is added to it. Both optional.
A failing command answers {"error": "..."}; the process exits 0 when stdin ends.

Example (by hand):
  echo '{"proofs":[{"htm":"GET","htu":"http://127.0.0.1:3000/me","access_token":"x"}]}' \
    | python3 scripts/dpop/proof.py PS256
"""

import base64
import hashlib
import json
import sys
import time
import uuid

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

ALGS = ("ES256", "EdDSA", "PS256", "RS256")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def short_coordinate(jwk: dict) -> bool:
    """Whether an EC JWK has a coordinate shorter than P-256's 32 bytes."""
    return any(len(base64.urlsafe_b64decode(jwk[c] + "=" * (-len(jwk[c]) % 4))) != 32 for c in "xy")


def new_key(alg: str, short_ec: bool = False):
    """A fresh private key for `alg` and its public JWK (PyJWT's serialisation)."""
    if alg == "ES256":
        while True:
            key = ec.generate_private_key(ec.SECP256R1())
            jwk = json.loads(ECAlgorithm.to_jwk(key.public_key()))
            if short_coordinate(jwk) == short_ec:
                return key, jwk
    if alg == "EdDSA":
        key = ed25519.Ed25519PrivateKey.generate()
        jwk = OKPAlgorithm.to_jwk(key.public_key())
    else:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = RSAAlgorithm.to_jwk(key.public_key())
    # PyJWT 2.6 returns a JSON string; later versions can return a dict.
    jwk = json.loads(jwk) if isinstance(jwk, str) else dict(jwk)
    return key, jwk


def thumbprint(jwk: dict) -> str:
    """RFC 7638 §3: the required members only, in lexicographic order, no whitespace."""
    required = {"EC": ("crv", "kty", "x", "y"), "OKP": ("crv", "kty", "x"), "RSA": ("e", "kty", "n")}
    members = {m: jwk[m] for m in required[jwk["kty"]]}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True)
    return b64url(hashlib.sha256(canonical.encode("utf-8")).digest())


def proof(key, alg: str, jwk: dict, spec: dict) -> str:
    iat = spec.get("iat", int(time.time()))
    iat = iat + spec.get("iat_offset", 0)
    claims = {"jti": str(uuid.uuid4()), "htm": spec["htm"], "htu": spec["htu"], "iat": iat}
    if spec.get("access_token") is not None:
        digest = hashlib.sha256(spec["access_token"].encode("ascii")).digest()
        claims["ath"] = b64url(digest)
    if spec.get("nonce") is not None:
        claims["nonce"] = spec["nonce"]
    token = jwt.encode(claims, key, algorithm=alg, headers={"typ": "dpop+jwt", "jwk": jwk})
    return token if isinstance(token, str) else token.decode("ascii")


def main() -> int:
    args = sys.argv[1:]
    short_ec = "--short-ec-coordinate" in args
    if short_ec:
        args.remove("--short-ec-coordinate")
    if len(args) != 1 or args[0] not in ALGS or (short_ec and args[0] != "ES256"):
        sys.stderr.write(f"usage: python3 proof.py {'|'.join(ALGS)} [--short-ec-coordinate (ES256)]\n")
        return 2
    alg = args[0]
    key, jwk = new_key(alg, short_ec)
    print(json.dumps({"alg": alg, "jwk": jwk, "jkt": thumbprint(jwk)}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            cmd = json.loads(line)
            if "proofs" not in cmd:
                raise ValueError('unknown command: expected "proofs"')
            answer = {"proofs": [proof(key, alg, jwk, p) for p in cmd["proofs"]]}
        except Exception as e:  # noqa: BLE001 - every failure is answered, not fatal
            answer = {"error": f"{type(e).__name__}: {e}"}
        print(json.dumps(answer), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
