//! [`Introspection`]: how an issuer's opaque access tokens are checked at its RFC 7662
//! introspection endpoint.

use std::fmt;
use std::time::Duration;

use crate::token::keys::Key;

/// How the resource server authenticates to the introspection endpoint (RFC 7662 §2.1
/// requires it).
#[derive(Clone)]
pub(crate) enum ClientAuth {
    /// `client_secret_basic`: HTTP Basic with the form-encoded id and secret.
    Basic { id: String, secret: String },
    /// `client_secret_post`: `client_id` and `client_secret` in the form.
    Post { id: String, secret: String },
    /// `private_key_jwt` (RFC 7523): an assertion signed with one of our keys.
    PrivateKeyJwt { id: String, key: Box<Key> },
}

impl ClientAuth {
    pub(crate) fn client_id(&self) -> &str {
        match self {
            ClientAuth::Basic { id, .. }
            | ClientAuth::Post { id, .. }
            | ClientAuth::PrivateKeyJwt { id, .. } => id,
        }
    }

    fn method(&self) -> &'static str {
        match self {
            ClientAuth::Basic { .. } => "client_secret_basic",
            ClientAuth::Post { .. } => "client_secret_post",
            ClientAuth::PrivateKeyJwt { .. } => "private_key_jwt",
        }
    }
}

/// RFC 7662 token introspection for an issuer whose access tokens are opaque (not
/// JWTs): the endpoint, the client authentication, and how long an answer is trusted.
/// Give it to [`Issuer::introspection`](crate::trust::Issuer::introspection) (feature
/// `oidc`).
///
/// * **Which tokens.** Every bearer token that is not a JWT (not three dot-separated
///   parts with a JSON header) goes to the one issuer configured with introspection
///   (two such issuers are a [`ConfigError`](crate::ConfigError)); JWTs are verified
///   offline as before, with the issuer's keys. The
///   [`token_type_hint`](Self::token_type_hint), when set, is sent along with every
///   request.
/// * **Same claims as a JWT.** An `active` answer is mapped exactly as a JWT of the
///   issuer: its audiences, scope claims, tenant claim, required claims, `cnf`
///   (DPoP and certificate binding), revocation rule. A token without `sub` (a client
///   credentials token) has its `client_id` as subject, as providers write it into
///   their JWT access tokens. Its id is `t.` + base64url(SHA-256 of the token), never
///   the token itself.
/// * **Cache.** The layer's verified-token cache keeps an answer until the token's
///   `exp` (plus the leeway) or for [`max_cache_ttl`](Self::max_cache_ttl) (default
///   **60 s**), whichever is first. ⚠️ The trade-off: a token revoked at the provider
///   is still accepted for up to that long by every instance that cached it; a shorter
///   bound costs one introspection call per token and bound. A token revoked through
///   this service ([`TokenAuth::revoke`](crate::TokenAuth::revoke)) is refused at once,
///   as any other.
/// * **Failures.** An endpoint that is down, slow (past [`timeout`](Self::timeout),
///   default 3 s), answers garbage, a non-`200` or more than
///   [`max_response_bytes`](Self::max_response_bytes) (default 64 KiB) is a 503
///   `temporarily_unavailable` with `Retry-After`, never a 401; no request waits past
///   the timeout. `active: false` is a 401 `invalid_token`. Concurrent requests with
///   the same token share one call.
/// * **Transport.** The issuer's HTTP client and URL policy (`https://`, `http://` on
///   loopback only, no redirects), as for its key set.
///
/// ```
/// use std::time::Duration;
/// use axum_token_auth::trust::{Introspection, Issuer};
///
/// let issuer = Issuer::discover("https://idp.example.com")
///     .audience("https://api.example.com")
///     .introspection(
///         Introspection::endpoint("https://idp.example.com/oauth2/introspect")
///             .client_secret_basic("orders-api", "the-client-secret")
///             .max_cache_ttl(Duration::from_secs(30)),
///     );
/// # let _ = issuer;
/// ```
#[derive(Clone)]
#[must_use]
pub struct Introspection {
    pub(crate) endpoint: Option<String>,
    pub(crate) auth: Option<ClientAuth>,
    pub(crate) token_type_hint: Option<String>,
    pub(crate) jwt_response: bool,
    pub(crate) max_cache_ttl: Duration,
    pub(crate) timeout: Duration,
    pub(crate) max_response_bytes: usize,
    pub(crate) max_concurrent_calls: usize,
}

impl fmt::Debug for Introspection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the secret or the key.
        f.debug_struct("Introspection")
            .field("endpoint", &self.endpoint)
            .field("client_id", &self.auth.as_ref().map(ClientAuth::client_id))
            .field("auth_method", &self.auth.as_ref().map(ClientAuth::method))
            .field("token_type_hint", &self.token_type_hint)
            .field("jwt_response", &self.jwt_response)
            .field("max_cache_ttl", &self.max_cache_ttl)
            .field("timeout", &self.timeout)
            .field("max_concurrent_calls", &self.max_concurrent_calls)
            .finish_non_exhaustive()
    }
}

impl Introspection {
    fn new(endpoint: Option<String>) -> Self {
        Introspection {
            endpoint,
            auth: None,
            token_type_hint: None,
            jwt_response: false,
            max_cache_ttl: Duration::from_secs(60),
            timeout: Duration::from_secs(3),
            max_response_bytes: 64 * 1024,
            max_concurrent_calls: 64,
        }
    }

    /// Introspection at `url`.
    ///
    /// ```
    /// use axum_token_auth::trust::Introspection;
    ///
    /// let i = Introspection::endpoint("https://idp.example.com/introspect")
    ///     .client_secret_post("orders-api", "the-client-secret");
    /// # let _ = i;
    /// ```
    pub fn endpoint(url: impl Into<String>) -> Self {
        Self::new(Some(url.into()))
    }

    /// Introspection at the `introspection_endpoint` of the issuer's metadata
    /// (`{iss}/.well-known/openid-configuration`, whose `issuer` must be exactly the
    /// issuer's), looked up at the first opaque token and again after a failure.
    ///
    /// ```
    /// use axum_token_auth::trust::{Introspection, Issuer};
    ///
    /// let issuer = Issuer::discover("https://idp.example.com")
    ///     .audience("https://api.example.com")
    ///     .introspection(Introspection::discovered().client_secret_basic("orders-api", "secret"));
    /// # let _ = issuer;
    /// ```
    pub fn discovered() -> Self {
        Self::new(None)
    }

    /// Authenticates with HTTP Basic (`client_secret_basic`, RFC 6749 §2.3.1).
    ///
    /// ```
    /// use axum_token_auth::trust::Introspection;
    ///
    /// let i = Introspection::discovered().client_secret_basic("orders-api", "the-client-secret");
    /// # let _ = i;
    /// ```
    pub fn client_secret_basic(
        mut self,
        client_id: impl Into<String>,
        secret: impl Into<String>,
    ) -> Self {
        self.auth = Some(ClientAuth::Basic {
            id: client_id.into(),
            secret: secret.into(),
        });
        self
    }

    /// Authenticates with `client_id` and `client_secret` in the form
    /// (`client_secret_post`).
    ///
    /// ```
    /// use axum_token_auth::trust::Introspection;
    ///
    /// let i = Introspection::discovered().client_secret_post("orders-api", "the-client-secret");
    /// # let _ = i;
    /// ```
    pub fn client_secret_post(
        mut self,
        client_id: impl Into<String>,
        secret: impl Into<String>,
    ) -> Self {
        self.auth = Some(ClientAuth::Post {
            id: client_id.into(),
            secret: secret.into(),
        });
        self
    }

    /// Authenticates with a JWT assertion (`private_key_jwt`, RFC 7523) signed by `key`,
    /// an asymmetric private key whose public part is registered with the provider:
    /// `iss` = `sub` = the client id, `aud` = the issuer, a fresh `jti`, valid 60 s.
    ///
    /// ```
    /// use axum_token_auth::{Key, trust::Introspection, token::Algorithm};
    ///
    /// # fn run(pem: &str) -> Result<(), axum_token_auth::ConfigError> {
    /// let key = Key::from_pem(Algorithm::RS256, pem)?.with_kid("orders-api-1");
    /// let i = Introspection::discovered().private_key_jwt("orders-api", key);
    /// # let _ = i; Ok(()) }
    /// ```
    pub fn private_key_jwt(mut self, client_id: impl Into<String>, key: Key) -> Self {
        self.auth = Some(ClientAuth::PrivateKeyJwt {
            id: client_id.into(),
            key: Box::new(key),
        });
        self
    }

    /// The `token_type_hint` sent with every request (e.g. `access_token`; none by
    /// default).
    ///
    /// ```
    /// use axum_token_auth::trust::Introspection;
    ///
    /// let i = Introspection::discovered()
    ///     .client_secret_basic("orders-api", "secret")
    ///     .token_type_hint("access_token");
    /// # let _ = i;
    /// ```
    pub fn token_type_hint(mut self, hint: impl Into<String>) -> Self {
        self.token_type_hint = Some(hint.into());
        self
    }

    /// Asks for signed JWT responses (RFC 9701, `Accept:
    /// application/token-introspection+jwt`) and accepts nothing else: the response's
    /// signature is verified with the issuer's keys, its `typ` must be
    /// `token-introspection+jwt`, its `iss` the issuer, its `aud` (when present) the
    /// client id, and the answer is its `token_introspection` member. The client must be
    /// registered for signed introspection responses at the provider.
    ///
    /// ```
    /// use axum_token_auth::trust::Introspection;
    ///
    /// let i = Introspection::discovered().client_secret_basic("orders-api", "secret").jwt_response();
    /// # let _ = i;
    /// ```
    pub fn jwt_response(mut self) -> Self {
        self.jwt_response = true;
        self
    }

    /// How long an introspection answer is trusted at most (default **60 s**, at most
    /// 1 h; `0`: every request asks). See the trade-off in the type's docs.
    ///
    /// ```
    /// use std::time::Duration;
    /// use axum_token_auth::trust::Introspection;
    ///
    /// let i = Introspection::discovered()
    ///     .client_secret_basic("orders-api", "secret")
    ///     .max_cache_ttl(Duration::from_secs(10));
    /// # let _ = i;
    /// ```
    pub fn max_cache_ttl(mut self, ttl: Duration) -> Self {
        self.max_cache_ttl = ttl;
        self
    }

    /// The time limit of one introspection, discovery included (default 3 s, from
    /// 100 ms to 60 s): what a request waits at most before its 503.
    ///
    /// ```
    /// use std::time::Duration;
    /// use axum_token_auth::trust::Introspection;
    ///
    /// let i = Introspection::discovered()
    ///     .client_secret_basic("orders-api", "secret")
    ///     .timeout(Duration::from_millis(800));
    /// # let _ = i;
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The largest response read (default 64 KiB, at least 1 KiB); a larger one is a
    /// failed call (503).
    ///
    /// ```
    /// use axum_token_auth::trust::Introspection;
    ///
    /// let i = Introspection::discovered()
    ///     .client_secret_basic("orders-api", "secret")
    ///     .max_response_bytes(16 * 1024);
    /// # let _ = i;
    /// ```
    pub fn max_response_bytes(mut self, bytes: usize) -> Self {
        self.max_response_bytes = bytes;
        self
    }

    /// The most introspection calls in flight at once (default 64, 1 ..= 10,000); a
    /// request whose token needs one more waits for a free one within the
    /// [`timeout`](Self::timeout), then answers 503. Each unknown opaque token costs one
    /// call (inactive answers are not cached, so a client cannot fill the cache with
    /// garbage): this bounds what a flood of made-up tokens can make the endpoint do,
    /// and the sockets it holds. Concurrent requests with the *same* token share one
    /// call and count once.
    ///
    /// ```
    /// use axum_token_auth::trust::Introspection;
    ///
    /// let i = Introspection::discovered()
    ///     .client_secret_basic("orders-api", "secret")
    ///     .max_concurrent_calls(16);
    /// # let _ = i;
    /// ```
    pub fn max_concurrent_calls(mut self, calls: usize) -> Self {
        self.max_concurrent_calls = calls;
        self
    }

    /// Checks the configuration (called by the builder through `Issuer::check`).
    pub(crate) fn check(&self) -> Result<(), &'static str> {
        match &self.auth {
            None => return Err("introspection needs a client authentication"),
            Some(ClientAuth::Basic { id, secret } | ClientAuth::Post { id, secret }) => {
                if id.is_empty() || secret.is_empty() {
                    return Err("introspection client id and secret must not be empty");
                }
            }
            Some(ClientAuth::PrivateKeyJwt { id, key }) => {
                if id.is_empty() {
                    return Err("introspection client id must not be empty");
                }
                if !key.can_sign() || key.public_jwk().is_none() {
                    return Err("private_key_jwt needs an asymmetric private key");
                }
            }
        }
        if let Some(url) = &self.endpoint {
            crate::trust::fetch::check_url(url)?;
        }
        if self.max_cache_ttl > Duration::from_secs(3600) {
            return Err("the introspection cache bound is at most 1 h");
        }
        if self.timeout < Duration::from_millis(100) || self.timeout > Duration::from_secs(60) {
            return Err("the introspection timeout is out of range (100 ms ..= 60 s)");
        }
        if self.max_response_bytes < 1024 {
            return Err("the introspection response limit is at least 1 KiB");
        }
        if !(1..=10_000).contains(&self.max_concurrent_calls) {
            return Err("the introspection concurrency limit is out of range (1 ..= 10,000)");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_authentication_is_required_and_secrets_never_debug_printed() {
        let i = Introspection::endpoint("https://idp.example/introspect");
        assert!(i.check().is_err());
        let i = i.client_secret_basic("api", "s3cr3t-value");
        assert!(i.check().is_ok());
        let printed = format!("{i:?}");
        assert!(!printed.contains("s3cr3t-value"), "{printed}");
        assert!(printed.contains("client_secret_basic"), "{printed}");
    }

    #[test]
    fn bounds_and_url_policy_are_checked() {
        let ok = || Introspection::discovered().client_secret_post("api", "secret");
        assert!(ok().check().is_ok());
        assert_eq!(ok().max_cache_ttl, Duration::from_secs(60));
        for bad in [
            ok().max_cache_ttl(Duration::from_secs(3601)),
            ok().timeout(Duration::from_millis(50)),
            ok().max_response_bytes(100),
            Introspection::endpoint("http://idp.example/introspect").client_secret_post("api", "s"),
            Introspection::discovered().client_secret_post("", "s"),
        ] {
            assert!(bad.check().is_err(), "{bad:?}");
        }
        assert!(
            Introspection::endpoint("http://127.0.0.1:9/introspect")
                .client_secret_post("api", "s")
                .check()
                .is_ok()
        );
        let hmac = Key::hs256("0123456789abcdefghijklmnopqrstuvwxyzABCDEF").unwrap();
        assert!(
            Introspection::discovered()
                .private_key_jwt("api", hmac)
                .check()
                .is_err()
        );
    }
}
