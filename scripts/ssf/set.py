#!/usr/bin/env python3
"""scripts/ssf/set.py - an independent minter of Security Event Tokens (RFC 8417) and
OIDC Back-Channel Logout tokens for the receiver tests: JWS signed by PyJWT with keys
from `cryptography` (Debian's python3-jwt and python3-cryptography, installed by
scripts/test.sh, which exports a python3 that imports both as TEST_PYJWT_PYTHON and this
script's path as TEST_SSF_PY). Nothing here knows the crate: it signs whatever header
and claims it is given, so a test can build every SET (typ secevent+jwt, iss, aud, iat,
jti, sub_id / event-level subject, CAEP and RISC events) and every logout token, valid
or broken. The Rust side is tests/it/set_minter.rs.

USAGE
  python3 set.py KEYFILE [--alg RS256|ES256] [--kid KID]
  python3 set.py --gen-key RS256|ES256 [--kid KID]

KEYFILE is a PRIVATE key: PEM (PKCS#1 "RSA PRIVATE KEY", SEC1 "EC PRIVATE KEY" or
PKCS#8 "PRIVATE KEY"), or JSON: a private JWK, a JWKS {"keys":[...]} (its first key) or
--gen-key's output ({"jwk": ...}). RSA keys sign RS256, EC P-256 keys ES256 (--alg or
the JWK's "alg" must agree with the key). The key id is --kid, else the JWK's "kid",
else the key's RFC 7638 thumbprint.

--gen-key prints {"alg", "kid", "jwk": private JWK (kid, alg, use sig), "public_jwk",
"private_pem": PKCS#8 PEM, "public_pem": SPKI PEM} and exits (RSA keys are 2048 bits).

LINE PROTOCOL (as scripts/dpop/proof.py): the first stdout line is
  {"alg": "RS256", "kid": "...", "jwk": {public JWK with kid, alg, use}, "public_pem": "..."}
then each stdin line is one JSON command answered by one JSON line:
  {"sign": {"header": {...}, "claims": {...}, "tamper": "...", "tampered_claims": {...}}}
    -> {"token": "<compact JWS>"}
  header   merged over the default {"alg": <the key's alg>, "typ": "secevent+jwt",
           "kid": <kid>}: each member replaces or adds one, null REMOVES one (e.g.
           {"typ": "logout+jwt"}, {"typ": null}, {"kid": "other"}, {"alg": "RS384"}).
           The signature is always made with the key's own algorithm, whatever "alg"
           the header then says (a header alg that differs is a forgery to refuse).
  claims   any JSON value, serialised as it is (compact JSON): nothing is added, so a
           test writes iss, aud, iat, jti, events, sub_id... itself (and can leave any
           of them out). Or "payload": "<raw text>" instead of claims (a non-JSON or
           non-object payload).
  tamper   optional, one of
           "signature"          the signature's first byte flipped (bad signature)
           "payload"            the payload replaced by "tampered_claims" after signing
                                (the signature covers the original claims)
           "alg_none"           header alg "none" (other members kept), empty
                                signature: an unsecured JWS "h.p."
           "empty_signature"    the header as given, empty signature "h.p."
           "hs256_public_key"   header alg "HS256", HMAC-SHA256 keyed with the bytes of
                                "public_pem" (the algorithm-confusion forgery)
           "wrong_key"          signed by a fresh key of the same type, same header
                                (same kid): a forgery by someone without the key
When the header is one PyJWT can write (alg = the key's, string kid), the JWS is PyJWT's
own `jwt.api_jws.encode` (PyJWT sorts header members); otherwise header and payload are
serialised here and signed with PyJWT's algorithm object for the key's alg.
A failing command answers {"error": "..."}; the process exits 0 when stdin ends.

Example (by hand):
  python3 scripts/ssf/set.py --gen-key ES256 --kid t1 > /tmp/k.json
  echo '{"sign":{"claims":{"iss":"https://tx.example","aud":"https://rx.example",
        "iat":1796000000,"jti":"j1","sub_id":{"format":"email","email":"a@example.com"},
        "events":{"https://schemas.openid.net/secevent/risc/event-type/account-disabled":{}}}}}' \
    | python3 scripts/ssf/set.py /tmp/k.json
"""

import base64
import hashlib
import hmac
import json
import sys

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm, get_default_algorithms

ALGS = ("RS256", "ES256")
TAMPERS = ("signature", "payload", "alg_none", "empty_signature", "hs256_public_key", "wrong_key")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def compact(value) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode("utf-8")


def as_dict(jwk) -> dict:
    # PyJWT 2.6 returns a JSON string; later versions can return a dict.
    return json.loads(jwk) if isinstance(jwk, str) else dict(jwk)


def alg_of(key) -> str:
    if isinstance(key, rsa.RSAPrivateKey):
        return "RS256"
    if isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1):
        return "ES256"
    raise ValueError(f"unsupported key: {type(key).__name__} (RSA or EC P-256 only)")


def fresh_key(alg: str):
    if alg == "ES256":
        while True:
            key = ec.generate_private_key(ec.SECP256R1())
            # PyJWT 2.6 writes a coordinate with leading zero bytes short (see
            # scripts/dpop/proof.py); draw again so every JWK is RFC 7518 conforming
            if all(len(b64url_decode(public_jwk(key)[c])) == 32 for c in "xy"):
                return key
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_jwk(key) -> dict:
    """The public JWK's key members only (PyJWT also writes key_ops)."""
    if isinstance(key, rsa.RSAPrivateKey):
        jwk = as_dict(RSAAlgorithm.to_jwk(key.public_key()))
    else:
        jwk = as_dict(ECAlgorithm.to_jwk(key.public_key()))
    return {m: jwk[m] for m in ("kty", "crv", "x", "y", "n", "e") if m in jwk}


def private_jwk(key) -> dict:
    if isinstance(key, rsa.RSAPrivateKey):
        jwk = as_dict(RSAAlgorithm.to_jwk(key))
    else:
        jwk = as_dict(ECAlgorithm.to_jwk(key))
    jwk.pop("key_ops", None)
    return jwk


def thumbprint(jwk: dict) -> str:
    """RFC 7638 §3: the required members only, in lexicographic order, no whitespace."""
    required = {"EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n")}
    members = {m: jwk[m] for m in required[jwk["kty"]]}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True)
    return b64url(hashlib.sha256(canonical.encode("utf-8")).digest())


def public_pem(key) -> str:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def load_key(path: str):
    """The private key of KEYFILE and the JWK it came from (None for a PEM)."""
    with open(path, "rb") as f:
        data = f.read()
    if data.lstrip().startswith(b"-----BEGIN"):
        return serialization.load_pem_private_key(data, password=None), None
    doc = json.loads(data)
    if "jwk" in doc:
        doc = doc["jwk"]
    elif "keys" in doc:
        doc = doc["keys"][0]
    if "d" not in doc:
        raise ValueError(f"{path}: the JWK has no private part (d)")
    if doc.get("kty") == "RSA":
        key = RSAAlgorithm.from_jwk(json.dumps(doc))
    elif doc.get("kty") == "EC":
        key = ECAlgorithm.from_jwk(json.dumps(doc))
    else:
        raise ValueError(f"{path}: kty {doc.get('kty')!r} (RSA or EC only)")
    return key, doc


class Minter:
    def __init__(self, key, alg: str, kid: str):
        self.key = key
        self.alg = alg
        self.kid = kid
        self.jwk = {**public_jwk(key), "kid": kid, "alg": alg, "use": "sig"}
        self.public_pem = public_pem(key)
        self.wrong = None

    def header(self, overrides) -> dict:
        header = {"alg": self.alg, "typ": "secevent+jwt", "kid": self.kid}
        if overrides is None:
            return header
        if not isinstance(overrides, dict):
            raise ValueError("header must be a JSON object")
        for name, value in overrides.items():
            if value is None:
                header.pop(name, None)
            else:
                header[name] = value
        return header

    def sign(self, header: dict, payload: bytes, key) -> str:
        pyjwt_can = header.get("alg") == self.alg and isinstance(header.get("kid", ""), str)
        if pyjwt_can:
            # PyJWT adds typ "JWT" unless told otherwise; None makes it leave typ out
            headers = {**header, "typ": header.get("typ")}
            token = jwt.api_jws.encode(payload, key, algorithm=self.alg, headers=headers)
            return token if isinstance(token, str) else token.decode("ascii")
        signing_input = f"{b64url(compact(header))}.{b64url(payload)}"
        algorithm = get_default_algorithms()[self.alg]
        signature = algorithm.sign(signing_input.encode("ascii"), algorithm.prepare_key(key))
        return f"{signing_input}.{b64url(signature)}"

    def command(self, spec: dict) -> str:
        header = self.header(spec.get("header"))
        if "payload" in spec:
            if not isinstance(spec["payload"], str):
                raise ValueError("payload must be a string (the raw payload text)")
            payload = spec["payload"].encode("utf-8")
        elif "claims" in spec:
            payload = compact(spec["claims"])
        else:
            raise ValueError('sign needs "claims" (JSON) or "payload" (raw text)')
        tamper = spec.get("tamper")
        if tamper is not None and tamper not in TAMPERS:
            raise ValueError(f"unknown tamper {tamper!r}: one of {', '.join(TAMPERS)}")

        if tamper == "alg_none":
            return f"{b64url(compact({**header, 'alg': 'none'}))}.{b64url(payload)}."
        if tamper == "hs256_public_key":
            signing_input = f"{b64url(compact({**header, 'alg': 'HS256'}))}.{b64url(payload)}"
            mac = hmac.new(self.public_pem.encode("ascii"), signing_input.encode("ascii"), hashlib.sha256)
            return f"{signing_input}.{b64url(mac.digest())}"
        if tamper == "wrong_key":
            if self.wrong is None:
                self.wrong = fresh_key(self.alg)
            return self.sign(header, payload, self.wrong)

        token = self.sign(header, payload, self.key)
        head, body, signature = token.split(".")
        if tamper == "signature":
            raw = bytearray(b64url_decode(signature))
            raw[0] ^= 0x01
            return f"{head}.{body}.{b64url(bytes(raw))}"
        if tamper == "payload":
            if "tampered_claims" not in spec:
                raise ValueError('tamper "payload" needs "tampered_claims"')
            return f"{head}.{b64url(compact(spec['tampered_claims']))}.{signature}"
        if tamper == "empty_signature":
            return f"{head}.{body}."
        return token


def option(args: list, name: str):
    if name not in args:
        return None
    i = args.index(name)
    if i + 1 >= len(args):
        raise ValueError(f"{name} needs a value")
    value = args[i + 1]
    del args[i : i + 2]
    return value


def main() -> int:
    args = sys.argv[1:]
    try:
        gen = option(args, "--gen-key")
        kid = option(args, "--kid")
        alg = option(args, "--alg")
    except ValueError as e:
        sys.stderr.write(f"set.py: {e}\n")
        return 2
    if gen is not None:
        if gen not in ALGS or args or alg:
            sys.stderr.write(f"usage: python3 set.py --gen-key {'|'.join(ALGS)} [--kid KID]\n")
            return 2
        key = fresh_key(gen)
        pub = public_jwk(key)
        kid = kid or thumbprint(pub)
        print(json.dumps({
            "alg": gen,
            "kid": kid,
            "jwk": {**private_jwk(key), "kid": kid, "alg": gen, "use": "sig"},
            "public_jwk": {**pub, "kid": kid, "alg": gen, "use": "sig"},
            "private_pem": key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ).decode("ascii"),
            "public_pem": public_pem(key),
        }))
        return 0
    if len(args) != 1:
        sys.stderr.write("usage: python3 set.py KEYFILE [--alg RS256|ES256] [--kid KID]\n")
        return 2
    try:
        key, jwk = load_key(args[0])
        own = alg_of(key)
        alg = alg or (jwk or {}).get("alg") or own
        if alg != own:
            raise ValueError(f"the key signs {own}, not {alg}")
        kid = kid or (jwk or {}).get("kid") or thumbprint(public_jwk(key))
    except Exception as e:  # noqa: BLE001 - a bad key file is a usage error
        sys.stderr.write(f"set.py: {type(e).__name__}: {e}\n")
        return 2
    minter = Minter(key, alg, kid)
    print(json.dumps({"alg": alg, "kid": kid, "jwk": minter.jwk, "public_pem": minter.public_pem}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            cmd = json.loads(line)
            if not isinstance(cmd, dict) or "sign" not in cmd:
                raise ValueError('unknown command: expected {"sign": {...}}')
            answer = {"token": minter.command(cmd["sign"])}
        except Exception as e:  # noqa: BLE001 - every failure is answered, not fatal
            answer = {"error": f"{type(e).__name__}: {e}"}
        print(json.dumps(answer), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
