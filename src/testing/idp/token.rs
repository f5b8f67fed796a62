//! [`ProviderToken`]: one token of a [`FakeIdp`], shaped like its provider's.
//!
//! The shapes follow the providers' own references (claims present, their types, the
//! header's `typ`, which tokens carry no `jti`):
//!
//! * Keycloak: access tokens `typ: Bearer` with `azp`, `realm_access.roles`,
//!   `resource_access.{client}.roles`, a `scope` string, a `jti`; ID tokens `typ: ID`,
//!   `aud` = the client (Keycloak's *Server Administration Guide*, "Role scope mappings"
//!   and "Audience support"; a decoded token:
//!   <https://wildandfreetools.com/blog/decode-jwt-keycloak/>).
//! * Auth0: the default "Auth0 token profile" (`typ: JWT`, `aud` = the API and
//!   `{iss}userinfo`, `azp`, a `scope` string, `permissions` with RBAC, **no `jti`**) and
//!   the "RFC 9068 profile" (`typ: at+jwt`, `client_id`, `jti`):
//!   <https://auth0.com/docs/secure/tokens/access-tokens/access-token-profiles>.
//! * Microsoft Entra ID: v2.0 access tokens (`ver: 2.0`, `scp` string for delegated
//!   scopes, `roles` array for application permissions, `azp`, `tid`, `oid`, `uti` and
//!   **no `jti`**), v1.0 ones (`iss` `https://sts.windows.net/{tenant}/`, `appid`,
//!   `x5t` header), ID tokens (`aud` = the client):
//!   <https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference>,
//!   <https://learn.microsoft.com/entra/identity-platform/id-token-claims-reference>.
//! * Amazon Cognito: access tokens with **no `typ` header and no `aud`**, the client in
//!   `client_id`, `token_use: access`, a `scope` string, `cognito:groups`; ID tokens
//!   `token_use: id`, `aud` = the client:
//!   <https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-using-the-access-token.html>,
//!   <https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-using-the-id-token.html>.
//! * Google: ID tokens only (`azp`, `aud`, `email`, **no `jti`**, no scopes); Google's
//!   access tokens are opaque: <https://developers.google.com/identity/openid-connect/openid-connect>.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, Header};
use serde_json::{Map, Value, json};

use crate::testing::idp::FakeIdp;
use crate::testing::idp::provider::Provider;

/// What a token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Access,
    Id,
}

/// One token of a [`FakeIdp`], built like its provider builds it, signed with its
/// current key by [`sign`](Self::sign). Start one with
/// [`FakeIdp::access_token`] or [`FakeIdp::id_token`].
///
/// | Setter | Keycloak | Auth0 | Entra ID | Cognito | Google |
/// |---|---|---|---|---|---|
/// | [`scopes`](Self::scopes) | `scope` (after `openid profile email`) | `scope` | `scp` | `scope` | — |
/// | [`roles`](Self::roles) | `realm_access.roles` | `permissions` | `roles` | `cognito:groups` | — |
/// | [`audience`](Self::audience) | `aud` (with `account`) | `aud` (with `{iss}userinfo`) | `aud` | — (no `aud`) | `aud` |
/// | [`client_id`](Self::client_id) | `azp` | `azp` (RFC 9068: `client_id`) | `azp` (v1.0: `appid`) | `client_id` | `azp` |
///
/// ID tokens name the client as their `aud`, as every provider does. A Google "access
/// token" is the ID token Google mints *for a service* (Cloud Run, IAP): its `aud` is
/// the service's audience.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use axum_token_auth::testing::{FakeIdp, Provider};
///
/// let idp = FakeIdp::start(Provider::cognito("eu-west-1_AbCdE")).await;
/// let token = idp.access_token("alice").scopes(["orders/read"]).roles(["admins"]);
/// let claims = token.claims();
/// assert_eq!(claims["token_use"], "access");
/// assert!(claims.get("aud").is_none(), "Cognito access tokens carry no aud");
/// assert_eq!(claims["cognito:groups"][0], "admins");
/// let jwt: String = token.sign();
/// # let _ = jwt;
/// # }
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct ProviderToken<'a> {
    idp: &'a FakeIdp,
    kind: Kind,
    sub: String,
    audience: String,
    client_id: String,
    scopes: Vec<String>,
    roles: Vec<String>,
    lifetime: Duration,
    entra_v1: bool,
    rfc9068: bool,
    changes: Vec<(String, Option<Value>)>,
}

impl<'a> ProviderToken<'a> {
    pub(crate) fn new(idp: &'a FakeIdp, kind: Kind, sub: &str) -> Self {
        ProviderToken {
            idp,
            kind,
            sub: sub.to_owned(),
            audience: idp.audience().to_owned(),
            client_id: idp.client_id().to_owned(),
            scopes: Vec::new(),
            roles: Vec::new(),
            lifetime: Duration::from_secs(300),
            entra_v1: false,
            rfc9068: false,
            changes: Vec::new(),
        }
    }

    /// The API the token is for (default [`FakeIdp::audience`]); see the table for the
    /// claim. Cognito access tokens have no audience: set [`client_id`](Self::client_id).
    pub fn audience(mut self, aud: impl Into<String>) -> Self {
        self.audience = aud.into();
        self
    }

    /// The client that asked for the token (default [`FakeIdp::client_id`]).
    pub fn client_id(mut self, client_id: impl Into<String>) -> Self {
        self.client_id = client_id.into();
        self
    }

    /// Scopes granted, in the provider's scope claim (table above).
    pub fn scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes.extend(scopes.into_iter().map(Into::into));
        self
    }

    /// Roles, permissions or groups, in the provider's claim for them (table above).
    pub fn roles<I, S>(mut self, roles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.roles.extend(roles.into_iter().map(Into::into));
        self
    }

    /// The lifetime from now (default 5 minutes).
    pub fn expires_in(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// Entra ID only: a v1.0 token (`iss` `…/sts.windows.net/{tenant}/`, `appid`,
    /// `ver: 1.0`), what an API whose manifest keeps `accessTokenAcceptedVersion` unset
    /// receives. [`Issuer::entra`](crate::trust::Issuer::entra) takes v2.0 tokens only.
    pub fn entra_v1(mut self) -> Self {
        self.entra_v1 = true;
        self
    }

    /// Auth0 only: the RFC 9068 token profile (`typ: at+jwt`, `client_id`, a `jti`)
    /// instead of the default Auth0 profile.
    pub fn auth0_rfc9068(mut self) -> Self {
        self.rfc9068 = true;
        self
    }

    /// Sets (or replaces) a top-level claim after the provider's shape is built.
    pub fn claim(mut self, name: impl Into<String>, value: Value) -> Self {
        self.changes.push((name.into(), Some(value)));
        self
    }

    /// Removes a top-level claim after the provider's shape is built.
    pub fn without_claim(mut self, name: impl Into<String>) -> Self {
        self.changes.push((name.into(), None));
        self
    }

    /// The JOSE header it is signed with (`kid` = the fake's current signing key).
    pub fn header(&self) -> Header {
        let mut h = Header::new(Algorithm::RS256);
        h.kid = Some(self.idp.signing_kid());
        h.typ = match (self.idp.provider(), self.kind) {
            // Cognito's header is `kid` and `alg`, nothing else.
            (Provider::Cognito { .. }, _) => None,
            (Provider::Auth0, Kind::Access) if self.rfc9068 => Some("at+jwt".to_owned()),
            _ => Some("JWT".to_owned()),
        };
        if self.entra_v1 && matches!(self.idp.provider(), Provider::Entra { .. }) {
            h.x5t = h.kid.clone();
        }
        h
    }

    /// The claims, as they will be signed.
    pub fn claims(&self) -> Value {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        let exp = now + self.lifetime.as_secs();
        let iss = self.idp.issuer_url().to_owned();
        let (sub, aud, client) = (&self.sub, &self.audience, &self.client_id);
        let mut c = match (self.idp.provider(), self.kind) {
            (Provider::Keycloak { realm }, Kind::Access) => {
                let mut roles = self.roles.clone();
                roles.extend([
                    format!("default-roles-{realm}"),
                    "offline_access".to_owned(),
                    "uma_authorization".to_owned(),
                ]);
                json!({
                    "exp": exp, "iat": now, "jti": random_id(), "iss": iss,
                    "aud": [aud, "account"], "sub": sub, "typ": "Bearer", "azp": client,
                    "sid": random_id(), "acr": "1",
                    "realm_access": { "roles": roles },
                    "resource_access": { "account": { "roles": ["manage-account", "view-profile"] } },
                    "scope": join(["openid", "profile", "email"], &self.scopes),
                    "email_verified": true, "preferred_username": sub,
                })
            }
            (Provider::Keycloak { .. }, Kind::Id) => json!({
                "exp": exp, "iat": now, "auth_time": now, "jti": random_id(), "iss": iss,
                "aud": client, "sub": sub, "typ": "ID", "azp": client, "nonce": random_id(),
                "sid": random_id(), "acr": "1", "email_verified": true,
                "preferred_username": sub,
            }),
            (Provider::Auth0, Kind::Access) => {
                let mut c = json!({
                    "iss": iss, "sub": sub, "aud": [aud, format!("{iss}userinfo")],
                    "iat": now, "exp": exp,
                    "scope": join(["openid", "profile", "email"], &self.scopes),
                    "permissions": self.roles,
                });
                if self.rfc9068 {
                    c["client_id"] = json!(client);
                    c["jti"] = json!(random_id());
                } else {
                    c["azp"] = json!(client);
                }
                c
            }
            (Provider::Auth0, Kind::Id) => json!({
                "iss": iss, "sub": sub, "aud": client, "iat": now, "exp": exp,
                "nonce": random_id(), "sid": random_id(), "email": format!("{sub}@example.com"),
                "email_verified": true,
            }),
            (Provider::Entra { tenant_id }, Kind::Access) if self.entra_v1 => {
                let base = self.idp.base_url();
                let mut c = json!({
                    "aud": aud, "iss": format!("{base}/sts.windows.net/{tenant_id}/"),
                    "iat": now, "nbf": now, "exp": exp, "acr": "1", "aio": random_id(),
                    "amr": ["pwd"], "appid": client, "appidacr": "0", "name": sub,
                    "oid": random_id(), "rh": random_id(), "sub": sub, "tid": tenant_id,
                    "unique_name": format!("{sub}@example.com"),
                    "upn": format!("{sub}@example.com"), "uti": random_id(), "ver": "1.0",
                });
                entra_permissions(&mut c, &self.scopes, &self.roles);
                c
            }
            (Provider::Entra { tenant_id }, Kind::Access) => {
                let mut c = json!({
                    "aud": aud, "iss": iss, "iat": now, "nbf": now, "exp": exp,
                    "aio": random_id(), "azp": client, "azpacr": "0", "name": sub,
                    "oid": random_id(), "preferred_username": format!("{sub}@example.com"),
                    "rh": random_id(), "sub": sub, "tid": tenant_id, "uti": random_id(),
                    "ver": "2.0",
                });
                entra_permissions(&mut c, &self.scopes, &self.roles);
                c
            }
            (Provider::Entra { tenant_id }, Kind::Id) => json!({
                "aud": client, "iss": iss, "iat": now, "nbf": now, "exp": exp,
                "aio": random_id(), "name": sub, "nonce": random_id(), "oid": random_id(),
                "preferred_username": format!("{sub}@example.com"), "rh": random_id(),
                "sub": sub, "tid": tenant_id, "uti": random_id(), "ver": "2.0",
            }),
            (Provider::Cognito { .. }, kind) => {
                let mut c = json!({
                    "sub": sub, "iss": iss, "origin_jti": random_id(),
                    "event_id": random_id(), "auth_time": now, "iat": now, "exp": exp,
                    "jti": random_id(),
                });
                if !self.roles.is_empty() {
                    c["cognito:groups"] = json!(self.roles);
                }
                if kind == Kind::Access {
                    c["version"] = json!(2);
                    c["client_id"] = json!(client);
                    c["token_use"] = json!("access");
                    c["scope"] = if self.scopes.is_empty() {
                        json!("aws.cognito.signin.user.admin")
                    } else {
                        json!(self.scopes.join(" "))
                    };
                    c["username"] = json!(sub);
                } else {
                    c["aud"] = json!(client);
                    c["token_use"] = json!("id");
                    c["cognito:username"] = json!(sub);
                    c["email"] = json!(format!("{sub}@example.com"));
                    c["email_verified"] = json!(true);
                }
                c
            }
            (Provider::Google, kind) => json!({
                "iss": iss, "azp": client,
                "aud": if kind == Kind::Access { aud } else { client },
                "sub": sub, "email": format!("{sub}@example.com"), "email_verified": true,
                "iat": now, "exp": exp,
            }),
        };
        if let Some(map) = c.as_object_mut() {
            apply(map, &self.changes);
        }
        c
    }

    /// The fake it belongs to.
    pub(crate) fn idp(&self) -> &'a FakeIdp {
        self.idp
    }

    /// The provider's ID token for the same user and client (no claim changes).
    pub(crate) fn id_token_twin(&self) -> ProviderToken<'a> {
        ProviderToken {
            kind: Kind::Id,
            changes: Vec::new(),
            ..self.clone()
        }
    }

    /// Signs the token with the fake's current signing key.
    pub fn sign(&self) -> String {
        self.idp.sign(&self.header(), &self.claims())
    }
}

fn apply(map: &mut Map<String, Value>, changes: &[(String, Option<Value>)]) {
    for (name, value) in changes {
        match value {
            Some(v) => {
                map.insert(name.clone(), v.clone());
            }
            None => {
                map.remove(name);
            }
        }
    }
}

/// Entra: delegated scopes in `scp` (a space-separated string), application
/// permissions in `roles` (an array); each only when there is one.
fn entra_permissions(c: &mut Value, scopes: &[String], roles: &[String]) {
    if !scopes.is_empty() {
        c["scp"] = json!(scopes.join(" "));
    }
    if !roles.is_empty() {
        c["roles"] = json!(roles);
    }
}

fn join<const N: usize>(first: [&str; N], more: &[String]) -> String {
    first
        .iter()
        .copied()
        .chain(more.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join(" ")
}

/// 16 random bytes, base64url: `jti`, `uti`, `sid`, `nonce` and the like.
fn random_id() -> String {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).expect("the OS random source works");
    URL_SAFE_NO_PAD.encode(b)
}
