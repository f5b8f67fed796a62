//! Tokens of the systems this crate replaces, accepted for a migration window:
//! [`LegacyIssuer`] maps a replaced system's token format onto the crate's claims, so a
//! team can cut over without logging everyone out or reissuing every service token.
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use axum_token_auth::{TokenAuth, token::Algorithm, trust::LegacyIssuer};
//!
//! let until = SystemTime::now() + Duration::from_secs(30 * 86_400);
//! let auth = TokenAuth::builder()
//!     .hs256_secret("the-new-random-secret-of-at-least-32-bytes")
//!     .accept_legacy(LegacyIssuer::scoped_token_service("the-old-service-secret-of-32-bytes+")?.accept_until(until))
//!     .accept_legacy(LegacyIssuer::webtool("webtool-signing-key-of-at-least-48-bytes-for-HS384")?.accept_until(until))
//!     .accept_legacy(
//!         LegacyIssuer::fastcore(Algorithm::HS256, "fastcore-signing-key-of-32-bytes-or-more")?
//!             .issuer("fastcore-api")
//!             .audience("fastcore-client")
//!             .accept_until(until),
//!     )
//!     .build()?;
//! # let _ = auth;
//! # Ok::<(), axum_token_auth::ConfigError>(())
//! ```
//!
//! # Formats
//!
//! | format | their claims | ours |
//! | --- | --- | --- |
//! | [`ScopedTokenService`](LegacyFormat::ScopedTokenService) (PyJWT, HS256) | `module_name`, `community_id`, `scopes` (array), `type` (`access` / `service` / `refresh`), `jti`, `metadata` | `sub` = `module_name`, `tenant` = `community_id`, `scope`, kind from `type`, `jti`, `metadata` kept |
//! | [`TokenAuth`](LegacyFormat::TokenAuth) (Flask, PyJWT) | `user_id`, `ref_id` (uuid4; none from its `generate_jwt_token`) | `sub` = `user_id`, `jti` = `ref_id` (else derived), an access token |
//! | [`Fastcore`](LegacyFormat::Fastcore) (FastAPI, python-jose) | `sub`, `type` (`access` / `refresh`, absent = access), `jti`, `iss`, `aud`, `scope` (space-separated) | the same names; kind from `type` |
//! | [`Webtool`](LegacyFormat::Webtool) (JWTService, python-jose, HS384) | `sub`, `jti` (uuid4 hex), `exp`/`iat` as `time.time()` floats, `extra`; no `type`: the refresh token of a pair carries `at_hash` | dates in whole seconds (rounded down); kind: refresh with `at_hash`, else access |
//!
//! Rules: a legacy token is recognised only by its shape — its header's `typ` is `JWT`
//! or absent (the crate's own tokens always say `at+jwt`, `refresh+jwt` or
//! `service+jwt`) and its `iss` names no trusted external issuer — and only a legacy
//! issuer's own key verifies it. The first legacy issuer whose key verifies a token
//! decides its format: give each format its own secret. Kinds are never confused: a
//! legacy refresh token (`type: refresh`, or webtool's `at_hash`) is a refresh token,
//! never an access token. After [`accept_until`](LegacyIssuer::accept_until) every token
//! of the format is refused (`invalid_token`). Only webtool writes float NumericDates;
//! a float date in another format is refused, as before.
//!
//! # Scopes
//!
//! One element, one scope. ScopedTokenService's `scopes` array is read element by
//! element: `"read admin"` is one scope there, so it is never split into `read` and
//! `admin`. An element outside the crate's scope grammar (`read.`, anything with a
//! space) is dropped, never split and never a reason to refuse the whole token. Its
//! documented wildcard `*` stays the wildcard; no other element containing `*` is
//! kept (`group:*` was a literal name there, here it would grant every `group:…`). The
//! other formats' scopes (fastcore's space-separated `scope`, arrays) are read the same
//! way, without a wildcard (none of them had one).
//!
//! # Revocation identity
//!
//! Each legacy token has exactly one revocation identity, decided by its format in one
//! place (the issuer's `identity`) and used alike by validation and by
//! [`TokenAuth::revoke`](crate::TokenAuth::revoke):
//!
//! | format | identity | the old system's list | import |
//! | --- | --- | --- | --- |
//! | ScopedTokenService | SHA-256 of the whole token | `revoked_tokens`: each row's hex `token_hash` (and its expiry) | [`Revocation::legacy`](crate::trust::Revocation::legacy)`(ScopedTokenService, hex, until)` |
//! | fastcore | `jti` | its token table: the `jti` (and expiry) of every token marked revoked (logout) | `…(Fastcore, jti, until)` |
//! | webtool | `jti` | Redis: the `{jti}` of every `jwt_invalidate_{jti}` key (access tokens invalidated with their refresh token), until the key's expiry | `…(Webtool, jti, until)` |
//! | Token-Auth | `ref_id` | none for access tokens (60 s lifetime); a compromised refresh record's `mapped_token` names the access token: import its `ref_id` | `…(TokenAuth, ref_id, until)` |
//!
//! Ids are namespaced per format, so an imported id never revokes another format's
//! token nor one of the crate's own. A token without its format's id (Token-Auth's
//! `generate_jwt_token`, a fastcore token without `jti`) gets one derived from what its
//! signature covers: `t.` + base64url(SHA-256 of `header.payload`), never from the
//! signature (ECDSA signatures are malleable: one token, two spellings).
//! ScopedTokenService's whole-token digest is sound only because its keys are HMAC,
//! whose signature is a deterministic function of `header.payload` (and a token's
//! base64url is canonical, step 2); with any other key the format falls back to the
//! derived id (and its `revoked_tokens` rows cannot match).
//!
//! webtool keeps its refresh tokens in an allow list (Redis `jwt_{jti}`): a rotated or
//! logged-out refresh token is deleted there, so there is no list to import, and the
//! crate cannot tell a rotated webtool refresh token from a live one. Accept its refresh
//! tokens nowhere (the crate's refresh route never does); its access tokens are what
//! the window is for.

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, AlgorithmFamily};
use serde_json::{Map, Value};

use crate::store::TokenDigest;
use crate::token::claims::TokenKind;
use crate::token::error::ConfigError;
use crate::token::error::InvalidToken;
use crate::token::issue::is_valid_id;
use crate::token::keys::Key;
use crate::token::scope::check_scope;
use crate::trust::verify::derived_jti;

/// The token formats of the systems this crate replaces (ScopedTokenService, the Flask
/// Token-Auth module, fastcore security and webtool's JWTService).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LegacyFormat {
    /// A chat-bot platform's ScopedTokenService (PyJWT, HS256): tenant and principal
    /// as `community_id` / `module_name`, `scopes` array, `type` claim.
    ScopedTokenService,
    /// The Flask Token-Auth module: `user_id` and a uuid4 `ref_id` (absent from the
    /// tokens of its public `generate_jwt_token`).
    TokenAuth,
    /// fastcore security (FastAPI, python-jose): `sub`, `type` (`access` / `refresh`),
    /// `jti`, `iss` and `aud`, integer NumericDates.
    Fastcore,
    /// webtool's JWTService (python-jose, HS384): `sub`, `jti`, `exp`/`iat` as
    /// `time.time()` floats, no `type`: its refresh tokens are the ones with `at_hash`.
    Webtool,
}

impl LegacyFormat {
    /// The claim holding the format's own token id.
    fn id_claim(self) -> &'static str {
        match self {
            LegacyFormat::TokenAuth => "ref_id",
            _ => "jti",
        }
    }

    /// The digest a token id of this format is revoked under: namespaced, so it never
    /// equals the crate's own `jti` digests nor another format's.
    fn id_digest(self, id: &str) -> TokenDigest {
        let tag = match self {
            LegacyFormat::ScopedTokenService => "scoped-token-service",
            LegacyFormat::TokenAuth => "token-auth",
            LegacyFormat::Fastcore => "fastcore",
            LegacyFormat::Webtool => "webtool",
        };
        TokenDigest::of_jti(&format!("legacy:{tag}\n{id}"))
    }

    /// The digest an entry of the old system's revocation list is stored under (see the
    /// table in the module docs): ScopedTokenService's hex SHA-256, the others' ids.
    /// `None` when `entry` is not one.
    pub(crate) fn imported_digest(self, entry: &str) -> Option<TokenDigest> {
        match self {
            LegacyFormat::ScopedTokenService => TokenDigest::from_hex(entry.trim()),
            _ => is_valid_id(entry).then(|| self.id_digest(entry)),
        }
    }
}

/// A legacy token's id (its `jti` for handlers) and the digest it is revoked by.
pub(crate) struct LegacyIdentity {
    pub(crate) jti: String,
    pub(crate) digest: TokenDigest,
}

/// The format's scopes as our `scope` claim, one scope at a time. ScopedTokenService's
/// `scopes` array is read element by element: an element is one scope there, so one with
/// a space is never split into several; an element outside our grammar is dropped (not
/// the whole token); its documented wildcard `*` stays one. The other formats carry a
/// space-separated `scope` (fastcore) or arrays, read the same way. No other element
/// containing `*` is kept: in the old systems `group:*` was a literal name, here it
/// would grant every `group:…` scope.
fn map_scopes(format: LegacyFormat, claims: &mut Map<String, Value>) {
    let wildcard = format == LegacyFormat::ScopedTokenService;
    let carried = |s: &str| check_scope(s).is_ok() && (!s.contains('*') || (wildcard && s == "*"));
    let mut kept: Vec<String> = Vec::new();
    let sources: &[&str] = if wildcard {
        &["scopes"]
    } else {
        &["scope", "scopes"]
    };
    for name in ["scope", "scopes"] {
        let Some(value) = claims.remove(name) else {
            continue;
        };
        if !sources.contains(&name) {
            continue;
        }
        match value {
            Value::Array(elements) => kept.extend(elements.into_iter().filter_map(|v| match v {
                Value::String(s) if carried(&s) => Some(s),
                _ => None,
            })),
            // A space-separated list (RFC 8693), the form fastcore writes.
            Value::String(list) if !wildcard => {
                kept.extend(list.split(' ').filter(|s| carried(s)).map(str::to_owned))
            }
            _ => {}
        }
    }
    if !kept.is_empty() {
        claims.insert("scope".into(), Value::String(kept.join(" ")));
    }
}

/// A seed system's tokens, accepted next to the crate's own until a date. Give it to
/// [`TokenAuthBuilder::accept_legacy`](crate::TokenAuthBuilder::accept_legacy).
#[derive(Debug, Clone)]
#[must_use]
pub struct LegacyIssuer {
    pub(crate) format: LegacyFormat,
    pub(crate) key: Key,
    pub(crate) until: Option<u64>,
    pub(crate) issuer: Option<String>,
    pub(crate) audience: Option<String>,
}

impl LegacyIssuer {
    /// A format verified with `key` (the old system's secret or public key).
    pub fn new(format: LegacyFormat, key: Key) -> Self {
        LegacyIssuer {
            format,
            key,
            until: None,
            issuer: None,
            audience: None,
        }
    }

    /// ScopedTokenService tokens: HS256 with its `secret_key` (≥ 32 bytes, as it required).
    pub fn scoped_token_service(secret: impl AsRef<[u8]>) -> Result<Self, ConfigError> {
        Ok(Self::new(
            LegacyFormat::ScopedTokenService,
            Key::hmac(Algorithm::HS256, secret)?,
        ))
    }

    /// Token-Auth (Flask) tokens: `JWT_SECRET_KEY` with `JWT_ALGORITHM` (HS256 there).
    pub fn token_auth(alg: Algorithm, secret: impl AsRef<[u8]>) -> Result<Self, ConfigError> {
        Ok(Self::new(LegacyFormat::TokenAuth, Key::hmac(alg, secret)?))
    }

    /// fastcore tokens: `JWT_SECRET_KEY` with `JWT_ALGORITHM` (HS256 there). Add
    /// [`issuer`](Self::issuer) / [`audience`](Self::audience) as `JWT_ISSUER` /
    /// `JWT_AUDIENCE` were set (its `JWTAuth` defaults: `fastcore-api`, `fastcore-client`).
    pub fn fastcore(alg: Algorithm, secret: impl AsRef<[u8]>) -> Result<Self, ConfigError> {
        Ok(Self::new(LegacyFormat::Fastcore, Key::hmac(alg, secret)?))
    }

    /// webtool `JWTService` tokens: HS384 (its default) with its `secret_key`. For
    /// another algorithm or an asymmetric key, use [`new`](Self::new) with
    /// [`LegacyFormat::Webtool`].
    ///
    /// ```
    /// use std::time::{Duration, SystemTime};
    /// use axum_token_auth::{TokenAuth, trust::LegacyIssuer};
    ///
    /// let auth = TokenAuth::builder()
    ///     .hs256_secret("the-new-random-secret-of-at-least-32-bytes")
    ///     .accept_legacy(
    ///         LegacyIssuer::webtool("webtool-signing-key-of-at-least-48-bytes-for-HS384")?
    ///             .accept_until(SystemTime::now() + Duration::from_secs(7 * 86_400)),
    ///     )
    ///     .build()?;
    /// # let _ = auth;
    /// # Ok::<(), axum_token_auth::ConfigError>(())
    /// ```
    pub fn webtool(secret: impl AsRef<[u8]>) -> Result<Self, ConfigError> {
        Ok(Self::new(
            LegacyFormat::Webtool,
            Key::hmac(Algorithm::HS384, secret)?,
        ))
    }

    /// The format of this issuer's tokens.
    pub fn format(&self) -> LegacyFormat {
        self.format
    }

    /// The end of the migration window: from then on, tokens of this format are refused.
    /// Required: a legacy format is a way out, not a second front door.
    ///
    /// ```
    /// use std::time::{Duration, SystemTime};
    /// use axum_token_auth::{Key, trust::{LegacyFormat, LegacyIssuer}};
    ///
    /// let key = Key::hs256("the-old-service-secret-32-bytes-long!!")?;
    /// let legacy = LegacyIssuer::new(LegacyFormat::ScopedTokenService, key)
    ///     .accept_until(SystemTime::now() + Duration::from_secs(14 * 86_400));
    /// # let _ = legacy;
    /// # Ok::<(), axum_token_auth::ConfigError>(())
    /// ```
    pub fn accept_until(mut self, until: SystemTime) -> Self {
        self.until = Some(
            until
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
        );
        self
    }

    /// Requires this `iss` (fastcore's `JWT_ISSUER`).
    ///
    /// ```
    /// use std::time::{Duration, SystemTime};
    /// use axum_token_auth::{Key, trust::{LegacyFormat, LegacyIssuer}};
    ///
    /// let key = Key::hs256("the-old-service-secret-32-bytes-long!!")?;
    /// let legacy = LegacyIssuer::new(LegacyFormat::TokenAuth, key)
    ///     .accept_until(SystemTime::now() + Duration::from_secs(86_400))
    ///     .issuer("https://old-auth.example.com");
    /// # let _ = legacy;
    /// # Ok::<(), axum_token_auth::ConfigError>(())
    /// ```
    pub fn issuer(mut self, iss: impl Into<String>) -> Self {
        self.issuer = Some(iss.into());
        self
    }

    /// Requires this audience (fastcore's `JWT_AUDIENCE`).
    ///
    /// ```
    /// use std::time::{Duration, SystemTime};
    /// use axum_token_auth::{Key, trust::{LegacyFormat, LegacyIssuer}};
    ///
    /// let key = Key::hs256("the-old-service-secret-32-bytes-long!!")?;
    /// let legacy = LegacyIssuer::new(LegacyFormat::Fastcore, key)
    ///     .accept_until(SystemTime::now() + Duration::from_secs(86_400))
    ///     .audience("orders-api");
    /// # let _ = legacy;
    /// # Ok::<(), axum_token_auth::ConfigError>(())
    /// ```
    pub fn audience(mut self, aud: impl Into<String>) -> Self {
        self.audience = Some(aud.into());
        self
    }

    pub(crate) fn check(&self) -> Result<(), ConfigError> {
        if self.until.is_none() {
            return Err(ConfigError::InvalidIssuer {
                issuer: format!("{:?}", self.format),
                reason: "a legacy format needs an end date (accept_until)",
            });
        }
        Ok(())
    }

    /// A token's one revocation identity, decided by its format (see the module docs):
    /// its id (the format's id claim, else derived from `header.payload`) and the digest
    /// it is revoked by. `claims` are the token's own, before [`normalize`](Self::normalize).
    pub(crate) fn identity(
        &self,
        claims: &Map<String, Value>,
        token: &str,
        signed: &str,
    ) -> LegacyIdentity {
        // An id of its own, else one derived from what the signature covers
        // (`header.payload`), never from the signature, which a holder may respell.
        let own_id = claims
            .get(self.format.id_claim())
            .and_then(Value::as_str)
            .filter(|id| is_valid_id(id));
        let jti = own_id.map_or_else(|| derived_jti(signed), str::to_owned);
        let digest = match self.format {
            // What its `revoked_tokens` table stores; sound for HMAC keys only.
            LegacyFormat::ScopedTokenService if self.key.alg.family() == AlgorithmFamily::Hmac => {
                TokenDigest::of_token(token)
            }
            LegacyFormat::ScopedTokenService => self.format.id_digest(&derived_jti(signed)),
            format => format.id_digest(&jti),
        };
        LegacyIdentity { jti, digest }
    }

    /// L4–L5: the window, the format's claims mapped onto ours, the token's identity.
    /// Returns the rewritten claims, the token's kind and its revocation digest.
    pub(crate) fn normalize(
        &self,
        mut claims: Map<String, Value>,
        token: &str,
        signed: &str,
        now: u64,
    ) -> Result<(Map<String, Value>, TokenKind, TokenDigest), InvalidToken> {
        if self.until.is_none_or(|until| now >= until) {
            return Err(InvalidToken::LegacyFormatRetired);
        }
        let identity = self.identity(&claims, token, signed);
        let take_str = |claims: &mut Map<String, Value>, name: &str| match claims.remove(name) {
            Some(Value::String(s)) => Some(s),
            _ => None,
        };
        let kind_of = |t: Option<&str>| match t {
            None | Some("access") => Ok(TokenKind::Access),
            Some("refresh") => Ok(TokenKind::Refresh),
            Some("service") => Ok(TokenKind::Service),
            Some(_) => Err(InvalidToken::InvalidClaims),
        };
        let numeric_sub = |claims: &mut Map<String, Value>| {
            if let Some(Value::Number(n)) = claims.get("sub") {
                let s = n.to_string();
                claims.insert("sub".into(), Value::String(s));
            }
        };
        let kind = match self.format {
            LegacyFormat::ScopedTokenService => {
                let module =
                    take_str(&mut claims, "module_name").ok_or(InvalidToken::InvalidClaims)?;
                let community =
                    take_str(&mut claims, "community_id").ok_or(InvalidToken::InvalidClaims)?;
                let kind = kind_of(Some(
                    take_str(&mut claims, "type")
                        .as_deref()
                        .ok_or(InvalidToken::InvalidClaims)?,
                ))?;
                if !matches!(claims.get("scopes"), None | Some(Value::Array(_))) {
                    return Err(InvalidToken::InvalidClaims);
                }
                claims.insert("sub".into(), Value::String(module));
                claims.insert("tenant".into(), Value::String(community));
                kind
            }
            LegacyFormat::TokenAuth => {
                let user = match claims.remove("user_id") {
                    Some(Value::String(s)) => s,
                    Some(Value::Number(n)) => n.to_string(),
                    _ => return Err(InvalidToken::InvalidClaims),
                };
                claims.remove("ref_id");
                claims.insert("sub".into(), Value::String(user));
                TokenKind::Access
            }
            LegacyFormat::Fastcore => {
                numeric_sub(&mut claims);
                let t =
                    take_str(&mut claims, "type").or_else(|| take_str(&mut claims, "token_type"));
                kind_of(t.as_deref())?
            }
            LegacyFormat::Webtool => {
                numeric_sub(&mut claims);
                // `time.time()` NumericDates: whole seconds, rounded down (the time
                // checks already ran on the floats).
                for name in ["exp", "iat", "nbf"] {
                    if let Some(f) = claims.get(name).and_then(Value::as_f64)
                        && !claims[name].is_u64()
                    {
                        if !(f.is_finite() && f >= 0.0) {
                            return Err(InvalidToken::InvalidClaims);
                        }
                        claims.insert(name.into(), Value::from(f.floor() as u64));
                    }
                }
                // python-jose writes `at_hash` (a hash of the access token of the pair)
                // into the refresh token only: that, not a `type`, marks its refresh
                // tokens, which otherwise look exactly like its access tokens.
                if claims.remove("at_hash").is_some() {
                    claims.remove("type");
                    TokenKind::Refresh
                } else {
                    kind_of(take_str(&mut claims, "type").as_deref())?
                }
            }
        };
        map_scopes(self.format, &mut claims);
        if let Some(iss) = &self.issuer
            && claims.get("iss").and_then(Value::as_str) != Some(iss.as_str())
        {
            return Err(InvalidToken::WrongIssuer);
        }
        match (&self.audience, claims.get("aud")) {
            (Some(want), Some(aud)) => {
                let ok = match aud {
                    Value::String(a) => a == want,
                    Value::Array(a) => a.iter().any(|v| v.as_str() == Some(want)),
                    _ => false,
                };
                if !ok {
                    return Err(InvalidToken::WrongAudience);
                }
            }
            (Some(_), None) => return Err(InvalidToken::WrongAudience),
            (None, _) => {
                claims.remove("aud");
            }
        }
        if !claims
            .get("sub")
            .and_then(Value::as_str)
            .is_some_and(is_valid_id)
        {
            return Err(InvalidToken::InvalidClaims);
        }
        // Claims only our sessions mint never come from a legacy token.
        for name in ["fam", "csrf", "gen", "scp", "idp_session"] {
            claims.remove(name);
        }
        // Nor does a step-up: what a legacy format meant by them is unknown (and a shape
        // of its own must not make the token undecodable).
        for name in ["acr", "amr", "auth_time"] {
            claims.remove(name);
        }
        if !claims.get("metadata").is_none_or(Value::is_object) {
            claims.remove("metadata");
        }
        claims.insert("jti".into(), Value::String(identity.jti));
        Ok((claims, kind, identity.digest))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SECRET: &str = "an-old-scoped-token-service-secret-32+";
    /// webtool's HS384 wants 48 bytes.
    const WEBTOOL_SECRET: &str = "an-old-webtool-jwt-service-secret-of-48-bytes-xy";

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    /// A token's parts as `normalize` sees them (signature not checked there).
    const SIGNED: &str = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1In0";
    const TOKEN: &str = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1In0.c2lnbmF0dXJl";

    fn scoped() -> LegacyIssuer {
        LegacyIssuer::scoped_token_service(SECRET)
            .unwrap()
            .accept_until(SystemTime::now() + std::time::Duration::from_secs(3600))
    }

    #[test]
    fn scoped_token_service_claims_map_onto_ours() {
        let (c, kind, _) = scoped()
            .normalize(
                map(json!({"community_id": "c1", "module_name": "music", "scopes": ["read", "api.v1:write"],
                    "type": "service", "jti": "abc", "iat": 1, "exp": 2, "metadata": {"user_id": "u"}})),
                TOKEN,
                SIGNED,
                1,
            )
            .unwrap();
        assert_eq!(kind, TokenKind::Service);
        assert_eq!(c["sub"], "music");
        assert_eq!(c["tenant"], "c1");
        assert_eq!(c["scope"], "read api.v1:write");
        assert_eq!(c["metadata"]["user_id"], "u");
        let (_, kind, _) = scoped()
            .normalize(
                map(json!({"community_id": "c1", "module_name": "m", "type": "refresh"})),
                TOKEN,
                SIGNED,
                1,
            )
            .unwrap();
        assert_eq!(kind, TokenKind::Refresh, "a legacy refresh token stays one");
    }

    #[test]
    fn the_window_closes() {
        let gone = LegacyIssuer::scoped_token_service(SECRET)
            .unwrap()
            .accept_until(UNIX_EPOCH + std::time::Duration::from_secs(100));
        let e = gone
            .normalize(
                map(json!({"community_id": "c", "module_name": "m", "type": "access"})),
                TOKEN,
                SIGNED,
                100,
            )
            .unwrap_err();
        assert_eq!(e, InvalidToken::LegacyFormatRetired);
        assert!(
            LegacyIssuer::scoped_token_service(SECRET)
                .unwrap()
                .check()
                .is_err()
        );
    }

    #[test]
    fn token_auth_and_fastcore_map_their_ids() {
        let ta = LegacyIssuer::token_auth(Algorithm::HS256, SECRET)
            .unwrap()
            .accept_until(SystemTime::now() + std::time::Duration::from_secs(60));
        let (c, kind, _) = ta
            .normalize(
                map(json!({"user_id": 42, "ref_id": "5f0c…-uuid", "iat": 1, "exp": 2})),
                TOKEN,
                SIGNED,
                1,
            )
            .unwrap();
        assert_eq!(
            (c["sub"].as_str(), c["jti"].as_str(), kind),
            (Some("42"), Some("5f0c…-uuid"), TokenKind::Access)
        );
        let fc = LegacyIssuer::fastcore(
            Algorithm::HS384,
            "x".repeat(16) + &"y".repeat(16) + "0123456789abcdefghij",
        )
        .unwrap()
        .audience("app")
        .accept_until(SystemTime::now() + std::time::Duration::from_secs(60));
        let (_, kind, _) = fc
            .normalize(
                map(json!({"sub": "u", "type": "refresh", "aud": "app"})),
                TOKEN,
                SIGNED,
                1,
            )
            .unwrap();
        assert_eq!(kind, TokenKind::Refresh);
        assert_eq!(
            fc.normalize(map(json!({"sub": "u", "aud": "other"})), TOKEN, SIGNED, 1)
                .unwrap_err(),
            InvalidToken::WrongAudience
        );
        assert_eq!(
            fc.normalize(
                map(json!({"sub": "u", "type": "weird", "aud": "app"})),
                TOKEN,
                SIGNED,
                1
            )
            .unwrap_err(),
            InvalidToken::InvalidClaims
        );
    }

    fn open(issuer: LegacyIssuer) -> LegacyIssuer {
        issuer.accept_until(SystemTime::now() + std::time::Duration::from_secs(60))
    }

    #[test]
    fn a_legacy_token_never_carries_a_step_up() {
        let wt = open(LegacyIssuer::webtool(WEBTOOL_SECRET).unwrap());
        let claims = json!({"sub": "user123", "exp": 1_900_000_000, "iat": 1_899_996_400,
            "jti": "9f1c", "acr": 2, "amr": "pwd", "auth_time": 1.5});
        let (c, _, _) = wt.normalize(map(claims), TOKEN, SIGNED, 1).unwrap();
        for name in ["acr", "amr", "auth_time"] {
            assert!(c.get(name).is_none(), "{name}: {c:?}");
        }
    }

    #[test]
    fn webtool_floats_become_whole_seconds_and_at_hash_marks_a_refresh_token() {
        let wt = open(LegacyIssuer::webtool(WEBTOOL_SECRET).unwrap());
        let claims = json!({"sub": "user123", "exp": 1_900_000_000.75, "iat": 1_899_996_400.25,
            "jti": "9f1c", "extra": {}});
        let (c, kind, _) = wt.normalize(map(claims.clone()), TOKEN, SIGNED, 1).unwrap();
        assert_eq!(
            (c["exp"].as_u64(), c["iat"].as_u64()),
            (Some(1_900_000_000), Some(1_899_996_400))
        );
        assert_eq!(kind, TokenKind::Access);
        let mut refresh = map(claims);
        refresh.insert("at_hash".into(), json!("x4Bq"));
        let (c, kind, _) = wt.normalize(refresh, TOKEN, SIGNED, 1).unwrap();
        assert_eq!(kind, TokenKind::Refresh);
        assert!(c.get("at_hash").is_none());
        // A negative date is no date.
        let bad = map(json!({"sub": "u", "exp": -1.0, "jti": "j"}));
        assert_eq!(
            wt.normalize(bad, TOKEN, SIGNED, 1).unwrap_err(),
            InvalidToken::InvalidClaims
        );
    }

    #[test]
    fn scopes_are_mapped_one_element_at_a_time() {
        let (c, _, _) = scoped()
            .normalize(
                map(
                    json!({"community_id": "c", "module_name": "m", "type": "access",
                    "scopes": ["read admin", "users:read", "read.", "read *", "group:*", "*", 7]}),
                ),
                TOKEN,
                SIGNED,
                1,
            )
            .unwrap();
        assert_eq!(c["scope"], "users:read *");
        // fastcore's space-separated `scope`: split as written, no wildcard.
        let fc = open(LegacyIssuer::fastcore(Algorithm::HS256, SECRET).unwrap());
        let (c, _, _) = fc
            .normalize(
                map(json!({"sub": "u", "scope": "users:read read. * users:*"})),
                TOKEN,
                SIGNED,
                1,
            )
            .unwrap();
        assert_eq!(c["scope"], "users:read");
    }

    #[test]
    fn identity_by_format_namespaced_and_never_from_the_signature() {
        let signed = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1In0";
        let (one, two) = (format!("{signed}.c2lnMQ"), format!("{signed}.c2lnMg"));
        let claims = map(json!({"sub": "u", "jti": "id-1", "ref_id": "id-1"}));
        let fc = open(LegacyIssuer::fastcore(Algorithm::HS256, SECRET).unwrap());
        let wt = open(LegacyIssuer::webtool(WEBTOOL_SECRET).unwrap());
        let ta = open(LegacyIssuer::token_auth(Algorithm::HS256, SECRET).unwrap());
        let st = scoped();
        // By id, per format: never the crate's own digest of that jti.
        let ids = [&fc, &wt, &ta].map(|l| l.identity(&claims, &one, signed).digest);
        assert!(ids[0] != ids[1] && ids[1] != ids[2] && ids[0] != ids[2]);
        assert!(!ids.contains(&TokenDigest::of_jti("id-1")));
        assert_eq!(Some(ids[0]), LegacyFormat::Fastcore.imported_digest("id-1"));
        assert_eq!(
            Some(ids[2]),
            LegacyFormat::TokenAuth.imported_digest("id-1")
        );
        // Without an id: derived from header.payload, whatever the signature's spelling.
        let bare = map(json!({"sub": "u"}));
        for l in [&fc, &wt, &ta] {
            let (a, b) = (
                l.identity(&bare, &one, signed),
                l.identity(&bare, &two, signed),
            );
            assert_eq!((a.jti.as_str(), a.digest), (b.jti.as_str(), b.digest));
            assert!(a.jti.starts_with("t."));
        }
        // ScopedTokenService with its HMAC key: the whole token, as `revoked_tokens` holds.
        assert_eq!(
            st.identity(&claims, &one, signed).digest,
            TokenDigest::of_token(&one)
        );
        assert_eq!(
            Some(TokenDigest::of_token(&one)),
            LegacyFormat::ScopedTokenService.imported_digest(&TokenDigest::of_token(&one).to_hex())
        );
        // With any other key: what the signature covers.
        let ec = include_str!("../../tests/fixtures/ec_p256_public.pem");
        let st_ec = open(LegacyIssuer::new(
            LegacyFormat::ScopedTokenService,
            Key::from_pem(Algorithm::ES256, ec).unwrap(),
        ));
        assert_eq!(
            st_ec.identity(&claims, &one, signed).digest,
            st_ec.identity(&claims, &two, signed).digest
        );
        assert_eq!(LegacyFormat::Webtool.imported_digest(""), None);
        assert_eq!(
            LegacyFormat::ScopedTokenService.imported_digest("abc"),
            None
        );
    }
}
