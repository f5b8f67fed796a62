//! [`Provider`]: which real identity provider a [`FakeIdp`](super::FakeIdp) imitates, and
//! where that provider puts its issuer, its key set and its preset's rules.

use crate::trust::Issuer;

/// The identity provider a [`FakeIdp`](super::FakeIdp) imitates: the shape of its
/// tokens, its issuer's path and its key set's path, and the
/// [`Issuer`] preset that goes with it.
///
/// The real providers' hosts are replaced by the fake's loopback base URL
/// (`http://127.0.0.1:PORT`), their paths kept:
///
/// | Provider | Real issuer | The fake's issuer | Key set path |
/// |---|---|---|---|
/// | Keycloak | `https://{host}/realms/{realm}` | `{base}/realms/{realm}` | `/realms/{realm}/protocol/openid-connect/certs` |
/// | Auth0 | `https://{tenant}.auth0.com/` | `{base}/` | `/.well-known/jwks.json` |
/// | Entra ID v2.0 | `https://login.microsoftonline.com/{tenant}/v2.0` | `{base}/{tenant}/v2.0` | `/{tenant}/discovery/v2.0/keys` |
/// | Entra ID v1.0 tokens | `https://sts.windows.net/{tenant}/` | `{base}/sts.windows.net/{tenant}/` | (the v2.0 set) |
/// | Cognito | `https://cognito-idp.{region}.amazonaws.com/{pool}` | `{base}/{pool}` | `/{pool}/.well-known/jwks.json` |
/// | Google | `https://accounts.google.com` | `{base}` | `/oauth2/v3/certs` |
///
/// ```
/// use axum_token_auth::testing::Provider;
///
/// let entra = Provider::entra("7f0c2a1e-3b4d-4e5f-8a9b-0c1d2e3f4a5b");
/// assert_eq!(entra, Provider::Entra { tenant_id: "7f0c2a1e-3b4d-4e5f-8a9b-0c1d2e3f4a5b".into() });
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Provider {
    /// Keycloak, realm `realm` ([`Issuer::keycloak`]).
    Keycloak {
        /// The realm's name.
        realm: String,
    },
    /// Auth0, one tenant ([`Issuer::auth0`]).
    Auth0,
    /// Microsoft Entra ID, tenant `tenant_id` ([`Issuer::entra`]); mints v2.0 tokens, and
    /// v1.0 ones on request ([`ProviderToken::entra_v1`](super::ProviderToken::entra_v1)).
    Entra {
        /// The tenant (directory) id, a GUID.
        tenant_id: String,
    },
    /// Amazon Cognito, user pool `pool_id` ([`Issuer::cognito`]).
    Cognito {
        /// The user pool id (`{region}_{id}`).
        pool_id: String,
    },
    /// Google ([`Issuer::google`]).
    Google,
}

impl Provider {
    /// [`Provider::Keycloak`].
    pub fn keycloak(realm: impl Into<String>) -> Self {
        Provider::Keycloak {
            realm: realm.into(),
        }
    }

    /// [`Provider::Entra`].
    pub fn entra(tenant_id: impl Into<String>) -> Self {
        Provider::Entra {
            tenant_id: tenant_id.into(),
        }
    }

    /// [`Provider::Cognito`].
    pub fn cognito(pool_id: impl Into<String>) -> Self {
        Provider::Cognito {
            pool_id: pool_id.into(),
        }
    }

    /// A short name, for test output.
    pub fn name(&self) -> &'static str {
        match self {
            Provider::Keycloak { .. } => "keycloak",
            Provider::Auth0 => "auth0",
            Provider::Entra { .. } => "entra",
            Provider::Cognito { .. } => "cognito",
            Provider::Google => "google",
        }
    }

    /// The issuer (`iss`) at `base` (`http://127.0.0.1:PORT`, no trailing slash).
    pub(crate) fn iss(&self, base: &str) -> String {
        match self {
            Provider::Keycloak { realm } => format!("{base}/realms/{realm}"),
            Provider::Auth0 => format!("{base}/"),
            Provider::Entra { tenant_id } => format!("{base}/{tenant_id}/v2.0"),
            Provider::Cognito { pool_id } => format!("{base}/{pool_id}"),
            Provider::Google => base.to_owned(),
        }
    }

    /// The path of the key set (the real provider's, on the fake's host).
    pub(crate) fn jwks_path(&self) -> String {
        match self {
            Provider::Keycloak { realm } => {
                format!("/realms/{realm}/protocol/openid-connect/certs")
            }
            Provider::Auth0 => "/.well-known/jwks.json".to_owned(),
            Provider::Entra { tenant_id } => format!("/{tenant_id}/discovery/v2.0/keys"),
            Provider::Cognito { pool_id } => format!("/{pool_id}/.well-known/jwks.json"),
            Provider::Google => "/oauth2/v3/certs".to_owned(),
        }
    }

    /// The preset of this provider, its issuer moved to `iss` (the fake's).
    pub(crate) fn preset(&self, base: &str, iss: &str) -> Issuer {
        let mut issuer = match self {
            Provider::Keycloak { realm } => Issuer::keycloak(base, realm),
            Provider::Auth0 => Issuer::auth0("fake-idp.invalid"),
            Provider::Entra { tenant_id } => Issuer::entra(tenant_id),
            Provider::Cognito { pool_id } => Issuer::cognito("fake-region", pool_id),
            Provider::Google => Issuer::google(),
        };
        // The preset's rules (scope claims, required claims, audience claim) are kept;
        // only the host differs. Discovery then asks `{iss}/.well-known/...` here.
        issuer.iss = iss.to_owned();
        issuer
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuers_and_key_paths_keep_the_real_providers_paths() {
        let base = "http://127.0.0.1:1";
        let cases = [
            (
                Provider::keycloak("acme"),
                "http://127.0.0.1:1/realms/acme",
                "/realms/acme/protocol/openid-connect/certs",
            ),
            (
                Provider::Auth0,
                "http://127.0.0.1:1/",
                "/.well-known/jwks.json",
            ),
            (
                Provider::entra("t"),
                "http://127.0.0.1:1/t/v2.0",
                "/t/discovery/v2.0/keys",
            ),
            (
                Provider::cognito("eu-west-1_a"),
                "http://127.0.0.1:1/eu-west-1_a",
                "/eu-west-1_a/.well-known/jwks.json",
            ),
            (Provider::Google, "http://127.0.0.1:1", "/oauth2/v3/certs"),
        ];
        for (p, iss, jwks) in cases {
            assert_eq!(p.iss(base), iss, "{}", p.name());
            assert_eq!(p.jwks_path(), jwks, "{}", p.name());
            let preset = p.preset(base, iss);
            assert_eq!(preset.issuer(), iss, "{}", p.name());
        }
        // The preset's rules are kept.
        let cognito = Provider::cognito("p").preset(base, "http://127.0.0.1:1/p");
        assert_eq!(cognito.audience_claim, "client_id");
        assert_eq!(
            cognito.required_claims,
            [("token_use".to_owned(), "access".to_owned())]
        );
    }
}
