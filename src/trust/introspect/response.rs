//! The introspection response read: a JSON object (RFC 7662 §2.2), or a signed JWT
//! whose `token_introspection` member is that object (RFC 9701). What it says about the
//! token is judged by verification (steps I1–I7 in `trust/verify.rs`).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::token::claims::Audience;
use crate::trust::keyset::KeySet;

/// The `typ` of an RFC 9701 response.
const JWT_TYP: &str = "token-introspection+jwt";

/// Why a response says nothing about the token: the endpoint misbehaves (503), the
/// token is not judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Unreadable {
    #[error("the introspection response is not a JSON object")]
    NotJson,
    #[error("the introspection response is not a JWT as asked")]
    NotJwt,
    #[error("the introspection response JWT is not signed by a key of the issuer")]
    BadSignature,
    #[error("the introspection response JWT has the wrong typ, iss or aud")]
    WrongParty,
}

/// What a JWT response is checked against: the issuer's keys, its `iss`, our client id.
pub(crate) struct JwtCheck<'a> {
    pub(crate) keys: &'a KeySet,
    pub(crate) iss: &'a str,
    pub(crate) client_id: &'a str,
}

/// The introspection object of a response: the body as JSON, or — when a JWT response
/// was asked for (`jwt`) — the verified JWT's `token_introspection` member; a plain
/// JSON answer is then refused (no downgrade).
pub(crate) fn introspection_object(
    body: &[u8],
    jwt: Option<JwtCheck<'_>>,
) -> Result<Map<String, Value>, Unreadable> {
    match jwt {
        None => serde_json::from_slice(body).map_err(|_| Unreadable::NotJson),
        Some(check) => {
            let text = std::str::from_utf8(body).map_err(|_| Unreadable::NotJwt)?;
            verified_jwt(text.trim(), &check)
        }
    }
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    typ: Option<String>,
    #[serde(default)]
    kid: Option<String>,
}

#[derive(Deserialize)]
struct Claims {
    iss: Option<String>,
    aud: Option<Audience>,
    token_introspection: Map<String, Value>,
}

fn verified_jwt(token: &str, check: &JwtCheck<'_>) -> Result<Map<String, Value>, Unreadable> {
    let mut parts = token.split('.');
    let (Some(h64), Some(p64), Some(sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Unreadable::NotJwt);
    };
    let decode = |part: &str| URL_SAFE_NO_PAD.decode(part).map_err(|_| Unreadable::NotJwt);
    let header: Header = serde_json::from_slice(&decode(h64)?).map_err(|_| Unreadable::NotJwt)?;
    let alg: Algorithm = header.alg.parse().map_err(|_| Unreadable::BadSignature)?;
    // Only the issuer's published (asymmetric) keys: never `none`, never HMAC.
    let key = check
        .keys
        .find(header.kid.as_deref(), alg)
        .ok_or(Unreadable::BadSignature)?;
    let message = &token[..h64.len() + 1 + p64.len()];
    if !key.verify(message.as_bytes(), sig) {
        return Err(Unreadable::BadSignature);
    }
    let typ_ok = header.typ.as_deref().is_some_and(|t| {
        let t = t.strip_prefix("application/").unwrap_or(t);
        t.eq_ignore_ascii_case(JWT_TYP)
    });
    let claims: Claims = serde_json::from_slice(&decode(p64)?).map_err(|_| Unreadable::NotJwt)?;
    let aud_ok = claims
        .aud
        .as_ref()
        // RFC 9701 §5: the response is addressed to this client, always.
        .is_some_and(|a| a.contains(check.client_id));
    if !typ_ok || claims.iss.as_deref() != Some(check.iss) || !aud_ok {
        return Err(Unreadable::WrongParty);
    }
    Ok(claims.token_introspection)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::keys::Key;

    /// A test key (the testkit's DPoP key `ES1`).
    const EC_PRIVATE: &str = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgSPU1wcdbEQbfEKNu\nV95NVd0IekcMaEFuWrt33WB2W+ahRANCAAT3oRqvq9jGbu74qKSzf/lJh00nIfbk\nT6Hm+6Y/WK+vs4B7nH0RKEfvTqbvEAw4+22xZzJbgZjn2xbKxsquHdRJ\n-----END PRIVATE KEY-----\n";

    fn signed(header: Value, claims: Value, key: &Key) -> String {
        let h = URL_SAFE_NO_PAD.encode(header.to_string());
        let p = URL_SAFE_NO_PAD.encode(claims.to_string());
        let msg = format!("{h}.{p}");
        let sig =
            jsonwebtoken::crypto::sign(msg.as_bytes(), key.encoding.as_ref().unwrap(), key.alg)
                .unwrap();
        format!("{msg}.{sig}")
    }

    #[test]
    fn a_json_answer_is_an_object_or_unreadable() {
        let o = introspection_object(br#"{"active":false}"#, None).unwrap();
        assert_eq!(o["active"], Value::Bool(false));
        for bad in [&b"[1]"[..], b"<html>", b"", b"\"active\""] {
            assert_eq!(
                introspection_object(bad, None).unwrap_err(),
                Unreadable::NotJson
            );
        }
    }

    #[test]
    fn a_jwt_answer_is_verified_typed_and_addressed() {
        let key = Key::from_pem(Algorithm::ES256, EC_PRIVATE)
            .unwrap()
            .with_kid("k1");
        let public = Key::from_jwk(&key.public_jwk().unwrap(), None).unwrap();
        let keys = KeySet::from_keys(vec![public]);
        let check = || JwtCheck {
            keys: &keys,
            iss: "https://idp.example",
            client_id: "api",
        };
        let header =
            serde_json::json!({"alg": "ES256", "kid": "k1", "typ": "token-introspection+jwt"});
        let claims = serde_json::json!({
            "iss": "https://idp.example", "aud": "api", "iat": 1,
            "token_introspection": {"active": true, "sub": "alice"}
        });
        let good = signed(header.clone(), claims.clone(), &key);
        let o = introspection_object(good.as_bytes(), Some(check())).unwrap();
        assert_eq!(o["sub"], "alice");
        // A plain JSON answer where a JWT was asked for: refused.
        assert_eq!(
            introspection_object(br#"{"active":true,"sub":"alice"}"#, Some(check())).unwrap_err(),
            Unreadable::NotJwt
        );
        // Another typ, issuer or audience.
        let mut h = header.clone();
        h["typ"] = "JWT".into();
        assert_eq!(
            introspection_object(signed(h, claims.clone(), &key).as_bytes(), Some(check()))
                .unwrap_err(),
            Unreadable::WrongParty
        );
        let mut c = claims.clone();
        c["aud"] = "another-client".into();
        assert_eq!(
            introspection_object(signed(header.clone(), c, &key).as_bytes(), Some(check()))
                .unwrap_err(),
            Unreadable::WrongParty
        );
        let mut c = claims.clone();
        c["iss"] = "https://evil.example".into();
        assert_eq!(
            introspection_object(signed(header.clone(), c, &key).as_bytes(), Some(check()))
                .unwrap_err(),
            Unreadable::WrongParty
        );
        // A tampered payload, an unknown key.
        let mut parts: Vec<&str> = good.split('.').collect();
        let forged = URL_SAFE_NO_PAD.encode(
            serde_json::json!({"iss": "https://idp.example", "token_introspection": {"active": true, "sub": "root"}}).to_string(),
        );
        parts[1] = &forged;
        assert_eq!(
            introspection_object(parts.join(".").as_bytes(), Some(check())).unwrap_err(),
            Unreadable::BadSignature
        );
        let mut h = header;
        h["kid"] = "k2".into();
        assert_eq!(
            introspection_object(signed(h, claims, &key).as_bytes(), Some(check())).unwrap_err(),
            Unreadable::BadSignature
        );
    }
}
