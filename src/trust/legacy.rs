//! Tokens of the systems this crate replaces, accepted for a migration window:
//! [`LegacyIssuer`] maps a seed system's token format onto the crate's claims, so a team
//! can cut over without logging everyone out or reissuing every service token.
//!
//! (Documented with examples in the [`trust`](crate::trust) module docs.)

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::Algorithm;
use serde_json::{Map, Value};

use crate::token::claims::TokenKind;
use crate::token::error::ConfigError;
use crate::token::error::InvalidToken;
use crate::token::issue::is_valid_id;
use crate::token::keys::Key;

/// The token formats of the systems this crate replaces (ScopedTokenService, the Flask
/// Token-Auth module, fastcore security and webtool's JWTService).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LegacyFormat {
    /// A chat-bot platform's ScopedTokenService (PyJWT, HS256): tenant and principal
    /// as `community_id` / `module_name`, `scopes` array, `type` claim.
    ScopedTokenService,
    /// The Flask Token-Auth module: `user_id` and a uuid4 `ref_id`.
    TokenAuth,
    /// fastcore security (FastAPI) and webtool's JWTService: `sub`, `type`, optional
    /// `jti`, `iss` and `aud`.
    Fastcore,
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

    /// fastcore / webtool tokens: `JWT_SECRET_KEY` with `JWT_ALGORITHM` (fastcore HS256,
    /// webtool HS384).
    pub fn fastcore(alg: Algorithm, secret: impl AsRef<[u8]>) -> Result<Self, ConfigError> {
        Ok(Self::new(LegacyFormat::Fastcore, Key::hmac(alg, secret)?))
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

    /// L5–L7: the window, the format's claims mapped onto ours. Returns the rewritten
    /// claims and the token's kind.
    pub(crate) fn normalize(
        &self,
        mut claims: Map<String, Value>,
        now: u64,
    ) -> Result<(Map<String, Value>, TokenKind), InvalidToken> {
        if self.until.is_none_or(|until| now >= until) {
            return Err(InvalidToken::LegacyFormatRetired);
        }
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
                let scopes: Vec<String> = match claims.remove("scopes") {
                    Some(Value::Array(a)) => a
                        .into_iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect(),
                    None => Vec::new(),
                    Some(_) => return Err(InvalidToken::InvalidClaims),
                };
                claims.insert("sub".into(), Value::String(module));
                claims.insert("tenant".into(), Value::String(community));
                if !scopes.is_empty() {
                    claims.insert("scope".into(), Value::String(scopes.join(" ")));
                }
                kind
            }
            LegacyFormat::TokenAuth => {
                let user = match claims.remove("user_id") {
                    Some(Value::String(s)) => s,
                    Some(Value::Number(n)) => n.to_string(),
                    _ => return Err(InvalidToken::InvalidClaims),
                };
                let reference =
                    take_str(&mut claims, "ref_id").ok_or(InvalidToken::InvalidClaims)?;
                claims.insert("sub".into(), Value::String(user));
                claims.insert("jti".into(), Value::String(reference));
                TokenKind::Access
            }
            LegacyFormat::Fastcore => {
                if let Some(Value::Number(n)) = claims.get("sub") {
                    let s = n.to_string();
                    claims.insert("sub".into(), Value::String(s));
                }
                let t =
                    take_str(&mut claims, "type").or_else(|| take_str(&mut claims, "token_type"));
                kind_of(t.as_deref())?
            }
        };
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
        for name in ["fam", "csrf", "gen", "scp"] {
            claims.remove(name);
        }
        if !claims.get("metadata").is_none_or(Value::is_object) {
            claims.remove("metadata");
        }
        Ok((claims, kind))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SECRET: &str = "an-old-scoped-token-service-secret-32+";

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn scoped() -> LegacyIssuer {
        LegacyIssuer::scoped_token_service(SECRET)
            .unwrap()
            .accept_until(SystemTime::now() + std::time::Duration::from_secs(3600))
    }

    #[test]
    fn scoped_token_service_claims_map_onto_ours() {
        let (c, kind) = scoped()
            .normalize(
                map(json!({"community_id": "c1", "module_name": "music", "scopes": ["read", "api.v1:write"],
                    "type": "service", "jti": "abc", "iat": 1, "exp": 2, "metadata": {"user_id": "u"}})),
                1,
            )
            .unwrap();
        assert_eq!(kind, TokenKind::Service);
        assert_eq!(c["sub"], "music");
        assert_eq!(c["tenant"], "c1");
        assert_eq!(c["scope"], "read api.v1:write");
        assert_eq!(c["metadata"]["user_id"], "u");
        let (_, kind) = scoped()
            .normalize(
                map(json!({"community_id": "c1", "module_name": "m", "type": "refresh"})),
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
        let (c, kind) = ta
            .normalize(
                map(json!({"user_id": 42, "ref_id": "5f0c…-uuid", "iat": 1, "exp": 2})),
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
        let (_, kind) = fc
            .normalize(map(json!({"sub": "u", "type": "refresh", "aud": "app"})), 1)
            .unwrap();
        assert_eq!(kind, TokenKind::Refresh);
        assert_eq!(
            fc.normalize(map(json!({"sub": "u", "aud": "other"})), 1)
                .unwrap_err(),
            InvalidToken::WrongAudience
        );
        assert_eq!(
            fc.normalize(map(json!({"sub": "u", "type": "weird", "aud": "app"})), 1)
                .unwrap_err(),
            InvalidToken::InvalidClaims
        );
    }
}
