//! The runtime side of external issuers: [`TrustedIssuers`] (looked up by `iss`) and, per
//! issuer, its key set and the claim rules of its tokens. The checks themselves run in
//! order in `validate.rs` (steps E1–E9).

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use serde_json::{Map, Value};

use crate::token::claims::Audience;
use crate::token::clock::Clock;
use crate::token::error::ConfigError;
use crate::token::error::InvalidToken;
use crate::token::issue::is_valid_id;
use crate::token::step_up::check_acr;
use crate::trust::Issuer;
use crate::trust::issuer::KeySource;
use crate::trust::keyset::KeySet;
use crate::trust::scopes::{ScopeClaim, map_scopes};

/// Claims of ours that only sessions mint; an external token never speaks for a session.
/// (`idp_session` links one of our sessions to a provider's: never one of its tokens.)
const SESSION_CLAIMS: &[&str] = &[
    "fam",
    "csrf",
    "gen",
    "scopes",
    "scp",
    crate::token::claims::PROVIDER_SESSION_CLAIM,
];

/// Why an external issuer's keys gave no key for a token.
pub(crate) enum KeyMiss {
    /// A refused token (401).
    Token(InvalidToken),
    /// The issuer has no usable set now (503).
    #[cfg_attr(not(feature = "oidc"), allow(dead_code))]
    Unavailable,
    /// The `kid` is unknown and the refetch budget lets the token wait for a refetch (one
    /// in flight, or one it causes): wait for it, then verify again, once.
    #[cfg(feature = "oidc")]
    Refetch(Arc<crate::trust::remote::RemoteKeys>, u64),
}

enum Keys {
    Static(Arc<KeySet>),
    #[cfg(feature = "oidc")]
    Remote(Arc<crate::trust::remote::RemoteKeys>),
}

/// One external issuer, ready to verify.
pub(crate) struct TrustedIssuer {
    /// Its exact `iss`, shared into every verified token's
    /// [`TokenOrigin`](crate::token::TokenOrigin).
    pub(crate) iss: Arc<str>,
    /// Whether its tokens are looked up in the revocation store.
    pub(crate) check_revocation: bool,
    /// What a revocation-store outage means for its tokens (`None`: the handle's policy).
    pub(crate) on_store_failure: Option<crate::store::StoreFailurePolicy>,
    audiences: Vec<String>,
    /// The audiences of its logout tokens: ours, then our client ids at the issuer.
    logout_audiences: Vec<String>,
    audience_claim: String,
    pub(crate) require_at_jwt: bool,
    scope_claims: Vec<ScopeClaim>,
    tenant_claim: Option<ScopeClaim>,
    acr_claim: Option<ScopeClaim>,
    required_claims: Vec<(String, String)>,
    pub(crate) leeway: u64,
    keys: Keys,
    /// Its introspection endpoint, for its opaque tokens.
    #[cfg(feature = "oidc")]
    pub(crate) introspector: Option<Arc<crate::trust::introspect::client::Introspector>>,
}

impl std::fmt::Debug for TrustedIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrustedIssuer")
            .field("iss", &self.iss)
            .field("audiences", &self.audiences)
            .finish_non_exhaustive()
    }
}

/// E6: an issuer's required claims, then its audience. The one copy of these rules:
/// verification runs it, and the testkit asks it whether a token it could forge (an ID
/// token) would pass them.
pub(crate) fn check_claim_rules(
    required: &[(String, String)],
    audience_claim: &str,
    audiences: &[String],
    claims: &Map<String, Value>,
) -> Result<(), InvalidToken> {
    for (name, want) in required {
        if claims.get(name).and_then(Value::as_str) != Some(want.as_str()) {
            return Err(InvalidToken::InvalidClaims);
        }
    }
    if !TrustedIssuer::names_any(claims.get(audience_claim), audiences) {
        return Err(InvalidToken::WrongAudience);
    }
    Ok(())
}

impl TrustedIssuer {
    pub(crate) fn new(
        issuer: Issuer,
        default_leeway: u64,
        #[cfg_attr(not(feature = "oidc"), allow(unused_variables))] clock: &Arc<dyn Clock>,
        #[cfg_attr(not(feature = "oidc"), allow(unused_variables))] epoch: &Arc<AtomicU64>,
    ) -> Result<Self, ConfigError> {
        issuer.check()?;
        #[cfg(feature = "oidc")]
        let introspector = match issuer.introspection.clone() {
            Some(settings) => Some(Arc::new(
                crate::trust::introspect::client::Introspector::new(
                    Arc::from(issuer.iss.as_str()),
                    settings,
                    issuer.client.clone(),
                    Arc::clone(clock),
                )
                .map_err(|reason| ConfigError::InvalidIssuer {
                    issuer: issuer.iss.clone(),
                    reason,
                })?,
            )),
            None => None,
        };
        let keys = match issuer.source {
            KeySource::Static(keys, None) => Keys::Static(Arc::new(KeySet::from_keys(keys))),
            KeySource::Static(_, Some(doc)) => Keys::Static(Arc::new(
                KeySet::from_jwks(doc.as_bytes(), &issuer.algorithms)
                    .map_err(ConfigError::InvalidKey)?,
            )),
            #[cfg(feature = "oidc")]
            KeySource::JwksUrl(_) | KeySource::Discovery => {
                use crate::trust::remote::{Locator, RemoteKeys};
                let locator = match issuer.source {
                    KeySource::JwksUrl(url) => Locator::Jwks(url),
                    _ => Locator::Discovery,
                };
                let fetch = crate::trust::fetch::HttpFetch::new(
                    issuer.client,
                    issuer.refresh.fetch_timeout,
                    issuer.refresh.max_document_bytes,
                )
                .map_err(|reason| ConfigError::InvalidIssuer {
                    issuer: issuer.iss.clone(),
                    reason,
                })?;
                let remote = Arc::new(RemoteKeys::new(
                    issuer.iss.clone(),
                    locator,
                    issuer.algorithms.clone(),
                    issuer.refresh,
                    Arc::new(fetch),
                    Arc::clone(clock),
                    Arc::clone(epoch),
                ));
                // Start fetching now when a runtime is at hand (else at first use).
                remote.ensure_background();
                Keys::Remote(remote)
            }
            #[cfg(not(feature = "oidc"))]
            _ => unreachable!("Issuer::check refuses remote sources without `oidc`"),
        };
        Ok(TrustedIssuer {
            check_revocation: issuer.check_revocation,
            on_store_failure: issuer.on_store_failure,
            iss: Arc::from(issuer.iss),
            // Our client ids when configured (an access-token audience may be another
            // client's id at the provider), else the audiences.
            logout_audiences: if issuer.client_ids.is_empty() {
                issuer.audiences.clone()
            } else {
                issuer.client_ids.clone()
            },
            audiences: issuer.audiences,
            audience_claim: issuer.audience_claim,
            require_at_jwt: issuer.require_at_jwt,
            scope_claims: issuer.scope_claims,
            tenant_claim: issuer.tenant_claim,
            acr_claim: issuer.acr_claim,
            required_claims: issuer.required_claims,
            leeway: issuer.leeway.map_or(default_leeway, |l| l.as_secs()),
            keys,
            #[cfg(feature = "oidc")]
            introspector,
        })
    }

    /// The audiences its logout tokens may name: our client ids at the issuer, or, when
    /// none is configured, its tokens' audiences.
    pub(crate) fn logout_audiences(&self) -> &[String] {
        &self.logout_audiences
    }

    /// E1: the key set to verify with, or why there is none.
    pub(crate) fn key_set(&self) -> Result<Arc<KeySet>, KeyMiss> {
        match &self.keys {
            Keys::Static(set) => Ok(Arc::clone(set)),
            #[cfg(feature = "oidc")]
            Keys::Remote(remote) => remote.key_set().map_err(|_| KeyMiss::Unavailable),
        }
    }

    /// E1–E4: whether `signature` over `message` verifies with this issuer's key for `kid`
    /// and `alg`; why no key could be used otherwise. What an access token and an event
    /// token (logout token, SET) of the issuer are both checked with.
    #[inline]
    pub(crate) fn verify_signature(
        &self,
        kid: Option<&str>,
        alg: jsonwebtoken::Algorithm,
        message: &str,
        signature: &str,
    ) -> Result<bool, KeyMiss> {
        let set = self.key_set()?;
        let key = set
            .find(kid, alg)
            .ok_or_else(|| self.unknown_key(&set, kid))?;
        Ok(key.verify(message.as_bytes(), signature))
    }

    /// Whether the audience claim value `aud` names one of `audiences` (a string or an
    /// array of strings; anything else names none).
    pub(crate) fn names_any(aud: Option<&Value>, audiences: &[String]) -> bool {
        aud.and_then(|v| serde_json::from_value::<Audience>(v.clone()).ok())
            .is_some_and(|aud| audiences.iter().any(|a| aud.contains(a)))
    }

    /// E2 when the set has no key for the token's `kid` and `alg`.
    pub(crate) fn unknown_key(&self, set: &KeySet, kid: Option<&str>) -> KeyMiss {
        // A known kid with another alg is an algorithm attack, not a rotation.
        if kid.is_some_and(|k| set.has_kid(k)) {
            return KeyMiss::Token(InvalidToken::AlgorithmMismatch);
        }
        match &self.keys {
            // A rotation or a forgery: a refetch within the issuer's budget, 503 while
            // the provider is failing, else 401 (see `RemoteKeys::unknown_kid`).
            #[cfg(feature = "oidc")]
            Keys::Remote(remote) => remote.unknown_kid(kid),
            Keys::Static(_) => KeyMiss::Token(InvalidToken::UnknownKey),
        }
    }

    /// Its key set's state, for [`TokenAuth::key_sets`](crate::TokenAuth::key_sets).
    pub(crate) fn key_set_status(&self) -> crate::trust::KeySetStatus {
        match &self.keys {
            Keys::Static(set) => crate::trust::KeySetStatus::of_static(&self.iss, set.len()),
            #[cfg(feature = "oidc")]
            Keys::Remote(remote) => remote.status(),
        }
    }

    /// The remote set, for readiness waits.
    #[cfg(feature = "oidc")]
    pub(crate) fn remote(&self) -> Option<&Arc<crate::trust::remote::RemoteKeys>> {
        match &self.keys {
            Keys::Remote(r) => Some(r),
            Keys::Static(_) => None,
        }
    }

    /// E6–E8 on the payload: required claims, audience, `sub`, then the claims rewritten
    /// into the crate's format (`scope` from the mapped claims, never a wildcard; the
    /// tenant from the configured claim only; an id for a token without a string `jti`,
    /// a numeric one in decimal, else derived from `signed`, the token's
    /// `header.payload`; session-only claims dropped). Returns the rewritten object and
    /// the token id.
    pub(crate) fn normalize(
        &self,
        mut claims: Map<String, Value>,
        signed: &str,
    ) -> Result<(Map<String, Value>, String), InvalidToken> {
        // A logout token or a Security Event Token (both carry `events`, RFC 8417) is
        // never an access token, whatever its `typ` (a logout token may have none) and
        // its audience (a logout token's is our client id, often our audience too).
        if claims.contains_key("events") {
            return Err(InvalidToken::WrongKind {
                expected: crate::token::claims::TokenKind::Access,
            });
        }
        check_claim_rules(
            &self.required_claims,
            &self.audience_claim,
            &self.audiences,
            &claims,
        )?;
        if !claims
            .get("sub")
            .and_then(Value::as_str)
            .is_some_and(is_valid_id)
        {
            return Err(InvalidToken::InvalidClaims);
        }
        let jti = match claims.get("jti") {
            Some(Value::String(j)) if is_valid_id(j) => j.clone(),
            // A numeric id (RFC 7519 says string; some issuers write numbers): the same
            // id in decimal, so it can be revoked and imported as the issuer spells it.
            Some(Value::Number(n)) if n.is_u64() || n.is_i64() => n.to_string(),
            _ => crate::trust::verify::derived_jti(signed),
        };
        claims.insert("jti".into(), Value::String(jti.clone()));
        let scopes = map_scopes(&self.scope_claims, &claims);
        // With a tenant claim configured, the tenant comes from it or from nowhere: the
        // token's own `tenant` claim never stands in for it.
        let tenant = self
            .tenant_claim
            .as_ref()
            .and_then(|c| c.find(&claims))
            .and_then(Value::as_str)
            .map(str::to_owned);
        if self.tenant_claim.is_some() {
            claims.remove("tenant");
        }
        for name in SESSION_CLAIMS {
            claims.remove(*name);
        }
        if scopes.is_empty() {
            claims.remove("scope");
        } else {
            claims.insert("scope".into(), Value::String(scopes.to_string()));
        }
        if let Some(t) = tenant {
            claims.insert("tenant".into(), Value::String(t));
        } else if !claims.get("tenant").is_none_or(Value::is_string) {
            claims.remove("tenant");
        }
        if !claims.get("metadata").is_none_or(Value::is_object) {
            claims.remove("metadata");
        }
        self.normalize_authentication(&mut claims);
        Ok((claims, jti))
    }

    /// The step-up inputs, normalised (what the guards read is this, never the raw
    /// token): `acr` from the configured claim or else the token's own `acr` — a
    /// string, or an array of strings written space-separated —, `amr` an array of
    /// strings, each value within the grammar of `check_acr` (others dropped);
    /// `auth_time` a whole number of seconds. Anything else is removed: a step-up
    /// guard then refuses the token, and no other check cares.
    fn normalize_authentication(&self, claims: &mut Map<String, Value>) {
        let valid = |v: &Value| {
            v.as_str()
                .filter(|s| check_acr(s).is_ok())
                .map(str::to_owned)
        };
        let source = match &self.acr_claim {
            Some(c) => c.find(claims),
            None => claims.get("acr"),
        };
        let acr = match source {
            Some(Value::String(_)) => source.and_then(valid),
            Some(Value::Array(values)) => {
                let values: Vec<String> = values.iter().filter_map(valid).collect();
                (!values.is_empty()).then(|| values.join(" "))
            }
            _ => None,
        };
        match acr {
            Some(acr) => claims.insert("acr".into(), Value::String(acr)),
            None => claims.remove("acr"),
        };
        let amr = match claims.get("amr") {
            Some(Value::Array(values)) => {
                Some(values.iter().filter_map(valid).map(Value::String).collect())
            }
            _ => None,
        };
        match amr {
            Some(amr) => claims.insert("amr".into(), Value::Array(amr)),
            None => claims.remove("amr"),
        };
        if claims
            .get("auth_time")
            .is_some_and(|t| t.as_u64().is_none())
        {
            claims.remove("auth_time");
        }
    }
}

/// Every external issuer of an authority, looked up by exact `iss`.
#[derive(Debug, Default)]
pub(crate) struct TrustedIssuers {
    issuers: Vec<TrustedIssuer>,
    /// The one issuer whose opaque tokens are introspected (its index).
    #[cfg(feature = "oidc")]
    introspecting: Option<usize>,
}

impl TrustedIssuers {
    pub(crate) fn new(issuers: Vec<TrustedIssuer>) -> Result<Self, ConfigError> {
        for (i, a) in issuers.iter().enumerate() {
            if issuers[..i].iter().any(|b| b.iss == a.iss) {
                return Err(ConfigError::InvalidIssuer {
                    issuer: a.iss.to_string(),
                    reason: "trusted twice",
                });
            }
        }
        #[cfg(feature = "oidc")]
        let introspecting = {
            let mut with = issuers
                .iter()
                .enumerate()
                .filter(|(_, i)| i.introspector.is_some());
            let first = with.next().map(|(n, _)| n);
            if let Some((_, second)) = with.next() {
                return Err(ConfigError::InvalidIssuer {
                    issuer: second.iss.to_string(),
                    reason: "only one trusted issuer may introspect opaque tokens",
                });
            }
            first
        };
        Ok(TrustedIssuers {
            issuers,
            #[cfg(feature = "oidc")]
            introspecting,
        })
    }

    /// The issuer whose opaque tokens (every token that is not a JWT) are introspected.
    #[cfg(feature = "oidc")]
    pub(crate) fn introspecting(&self) -> Option<&TrustedIssuer> {
        self.introspecting.map(|n| &self.issuers[n])
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.issuers.is_empty()
    }

    pub(crate) fn find(&self, iss: &str) -> Option<&TrustedIssuer> {
        self.issuers.iter().find(|i| *i.iss == *iss)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &TrustedIssuer> {
        self.issuers.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::clock::SystemClock;
    use crate::trust::ScopeClaim;
    use serde_json::json;

    fn issuer(issuer: Issuer) -> TrustedIssuer {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        TrustedIssuer::new(issuer, 30, &clock, &Arc::new(AtomicU64::new(0))).unwrap()
    }

    fn normalized(i: &TrustedIssuer, extra: Value) -> Map<String, Value> {
        let mut claims = json!({"sub": "alice", "aud": "api", "jti": "j1"});
        claims
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let Value::Object(m) = claims else {
            unreachable!()
        };
        i.normalize(m, "h.p").unwrap().0
    }

    #[test]
    fn step_up_claims_pass_through_normalised() {
        let plain = issuer(Issuer::keys("https://idp.example", []).audience("api"));
        let c = normalized(
            &plain,
            json!({"acr": "urn:loa:2", "amr": ["pwd", "o t p", 3, "hwk"], "auth_time": 1700000000}),
        );
        assert_eq!(c["acr"], "urn:loa:2");
        assert_eq!(c["amr"], json!(["pwd", "hwk"]));
        assert_eq!(c["auth_time"], 1700000000);
        // Odd shapes are dropped, never an error.
        let c = normalized(
            &plain,
            json!({"acr": "has space", "amr": "pwd", "auth_time": 1.5e9}),
        );
        assert!(c.get("acr").is_none() && c.get("amr").is_none() && c.get("auth_time").is_none());
        let c = normalized(&plain, json!({"acr": ["a", "b\"c", "d"], "auth_time": -5}));
        assert_eq!(c["acr"], "a d");
        assert!(c.get("auth_time").is_none());
    }

    #[test]
    fn an_acr_claim_replaces_the_tokens_own_acr() {
        let entra = issuer(
            Issuer::keys("https://idp.example", [])
                .audience("api")
                .acr_claim(ScopeClaim::path("acrs")),
        );
        let c = normalized(&entra, json!({"acr": "1", "acrs": ["c1", "c25"]}));
        assert_eq!(c["acr"], "c1 c25");
        let c = normalized(&entra, json!({"acr": "1"}));
        assert!(
            c.get("acr").is_none(),
            "the token's own acr never stands in"
        );
    }

    /// The presets themselves (built without a runtime: nothing is fetched).
    #[cfg(feature = "oidc")]
    #[test]
    fn the_entra_preset_reads_acrs_and_keycloak_its_acr() {
        let entra = issuer(Issuer::entra("8eaef023-2b34-4da1-9baa-8bc8c9d6a490").audience("api"));
        let c = normalized(
            &entra,
            json!({"acr": "1", "acrs": ["c1", "c2"], "tid": "t"}),
        );
        assert_eq!(c["acr"], "c1 c2");
        assert_eq!(c["tenant"], "t");
        let keycloak = issuer(Issuer::keycloak("https://sso.example", "r").audience("api"));
        let c = normalized(
            &keycloak,
            json!({"typ": "Bearer", "acr": "gold", "acrs": ["c1"]}),
        );
        assert_eq!(c["acr"], "gold");
    }
}
