//! Cookie settings and the `Set-Cookie` headers that carry tokens to browsers.
//!
//! (Documented with examples in the [`http`](crate::http) module docs.)

use cookie::{Cookie, SameSite};
use http::header::SET_COOKIE;
use http::{HeaderMap, HeaderValue};

use crate::token::error::ConfigError;
use crate::token::error::check_cookie_name;

/// How token cookies are named and flagged.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct CookieSettings {
    pub(crate) access_name: String,
    pub(crate) refresh_name: String,
    pub(crate) csrf_name: String,
    pub(crate) secure: bool,
    pub(crate) access_same_site: SameSite,
    pub(crate) refresh_same_site: SameSite,
    pub(crate) access_path: String,
    pub(crate) refresh_path: String,
    pub(crate) domain: Option<String>,
    pub(crate) prefix: Prefix,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Prefix {
    None,
    Host,
    Secure,
}

impl Default for CookieSettings {
    fn default() -> Self {
        CookieSettings {
            access_name: "access_token".into(),
            refresh_name: "refresh_token".into(),
            csrf_name: "csrf_token".into(),
            secure: true,
            access_same_site: SameSite::Lax,
            refresh_same_site: SameSite::Strict,
            access_path: "/".into(),
            refresh_path: "/auth".into(),
            domain: None,
            prefix: Prefix::Host,
        }
    }
}

impl CookieSettings {
    /// Name of the access-token cookie (default `access_token`).
    ///
    /// ```
    /// use axum_token_auth::http::CookieSettings;
    ///
    /// let c = CookieSettings::default().access_name("session");
    /// assert_eq!(c.access_cookie_name(), "__Host-session");
    /// ```
    pub fn access_name(mut self, name: impl Into<String>) -> Self {
        self.access_name = name.into();
        self
    }

    /// Name of the refresh-token cookie (default `refresh_token`).
    ///
    /// ```
    /// use axum_token_auth::http::CookieSettings;
    ///
    /// let c = CookieSettings::default().refresh_name("renew");
    /// assert_eq!(c.refresh_cookie_name(), "__Secure-renew");
    /// ```
    pub fn refresh_name(mut self, name: impl Into<String>) -> Self {
        self.refresh_name = name.into();
        self
    }

    /// Name of the readable CSRF cookie (default `csrf_token`).
    ///
    /// ```
    /// use axum_token_auth::http::CookieSettings;
    ///
    /// let c = CookieSettings::default().csrf_name("xsrf");
    /// assert_eq!(c.csrf_cookie_name(), "__Host-xsrf");
    /// ```
    pub fn csrf_name(mut self, name: impl Into<String>) -> Self {
        self.csrf_name = name.into();
        self
    }

    /// `SameSite` of the access cookie (default `Lax`).
    ///
    /// ```
    /// use axum_token_auth::http::CookieSettings;
    ///
    /// use axum_token_auth::cookie::SameSite;
    /// let c = CookieSettings::default().access_same_site(SameSite::Strict);
    /// assert_eq!(c.access_cookie("t", 60).same_site(), Some(SameSite::Strict));
    /// ```
    pub fn access_same_site(mut self, same_site: SameSite) -> Self {
        self.access_same_site = same_site;
        self
    }

    /// `SameSite` of the refresh cookie (default `Strict`).
    ///
    /// ```
    /// use axum_token_auth::http::CookieSettings;
    ///
    /// use axum_token_auth::cookie::SameSite;
    /// let c = CookieSettings::default().refresh_same_site(SameSite::Lax);
    /// assert_eq!(c.refresh_cookie("t", 60).same_site(), Some(SameSite::Lax));
    /// ```
    pub fn refresh_same_site(mut self, same_site: SameSite) -> Self {
        self.refresh_same_site = same_site;
        self
    }

    /// Path of the refresh cookie: the prefix of the refresh and logout routes (default
    /// `/auth`), so the refresh token is sent nowhere else.
    ///
    /// ```
    /// use axum_token_auth::http::CookieSettings;
    ///
    /// let c = CookieSettings::default().refresh_path("/api/auth/refresh");
    /// assert_eq!(c.refresh_cookie("t", 60).path(), Some("/api/auth/refresh"));
    /// ```
    pub fn refresh_path(mut self, path: impl Into<String>) -> Self {
        self.refresh_path = path.into();
        self
    }

    /// `Domain` attribute for all cookies (default none: host-only cookies). `__Host-`
    /// cookies cannot carry one: with a domain, names get `__Secure-`.
    ///
    /// ```
    /// use axum_token_auth::http::CookieSettings;
    ///
    /// // A Domain cookie cannot be `__Host-`: names fall back to `__Secure-`.
    /// let c = CookieSettings::default().domain("example.com");
    /// assert_eq!(c.access_cookie("t", 60).domain(), Some("example.com"));
    /// ```
    pub fn domain(mut self, domain: impl Into<String>) -> Self {
        self.domain = Some(domain.into());
        if self.prefix == Prefix::Host {
            self.prefix = Prefix::Secure;
        }
        self
    }

    /// Prefixes every name with `__Host-` (Secure, `Path=/`, no Domain: the browser
    /// guarantees the cookie came from this very host) — the default. The refresh
    /// cookie, which needs its own path, gets `__Secure-` instead.
    ///
    /// ```
    /// use axum_token_auth::http::CookieSettings;
    ///
    /// let c = CookieSettings::default().insecure_unprefixed_names().host_prefix();
    /// assert_eq!(c.access_cookie_name(), "__Host-access_token");
    /// ```
    pub fn host_prefix(mut self) -> Self {
        self.prefix = Prefix::Host;
        self
    }

    /// Prefixes every name with `__Secure-`.
    ///
    /// ```
    /// use axum_token_auth::http::CookieSettings;
    ///
    /// let c = CookieSettings::default().secure_prefix();
    /// assert_eq!(c.access_cookie_name(), "__Secure-access_token");
    /// ```
    pub fn secure_prefix(mut self) -> Self {
        self.prefix = Prefix::Secure;
        self
    }

    /// ⚠️ Plain names (`access_token`, …) without `__Host-` / `__Secure-`: a sibling
    /// subdomain can then set (toss) cookies of the same name. Only for front ends that
    /// must find the cookies under their old names.
    ///
    /// ```
    /// use axum_token_auth::http::CookieSettings;
    ///
    /// let c = CookieSettings::default().insecure_unprefixed_names();
    /// assert_eq!(c.access_cookie_name(), "access_token");
    /// ```
    pub fn insecure_unprefixed_names(mut self) -> Self {
        self.prefix = Prefix::None;
        self
    }

    /// ⚠️ Development only: drops the `Secure` flag so cookies travel over plain HTTP to
    /// any host, and with it the name prefixes (browsers refuse prefixed cookies that are
    /// not `Secure`). Never use it in production.
    ///
    /// ```
    /// use axum_token_auth::http::CookieSettings;
    ///
    /// // Plain http on a dev machine: no `Secure`, no prefixes.
    /// let c = CookieSettings::default().insecure_dev_cookies();
    /// assert_eq!(c.access_cookie("t", 60).secure(), Some(false));
    /// ```
    pub fn insecure_dev_cookies(mut self) -> Self {
        self.secure = false;
        self.prefix = Prefix::None;
        self
    }

    fn prefixed(&self, name: &str, own_path: bool) -> String {
        match (self.prefix, own_path) {
            (Prefix::None, _) => name.to_owned(),
            (Prefix::Host, false) => format!("__Host-{name}"),
            (Prefix::Host, true) | (Prefix::Secure, _) => format!("__Secure-{name}"),
        }
    }

    /// The access cookie's full name (with prefix).
    pub fn access_cookie_name(&self) -> String {
        self.prefixed(&self.access_name, false)
    }

    /// The refresh cookie's full name (with prefix).
    pub fn refresh_cookie_name(&self) -> String {
        self.prefixed(&self.refresh_name, true)
    }

    /// The CSRF cookie's full name (with prefix).
    pub fn csrf_cookie_name(&self) -> String {
        self.prefixed(&self.csrf_name, false)
    }

    pub(crate) fn check(&self) -> Result<(), ConfigError> {
        for n in [&self.access_name, &self.refresh_name, &self.csrf_name] {
            check_cookie_name(n)?;
        }
        if self.prefix != Prefix::None && !self.secure {
            return Err(ConfigError::InvalidText(
                "cookie settings: __Host-/__Secure- prefixes need Secure cookies",
            ));
        }
        if self.prefix == Prefix::Host && self.domain.is_some() {
            return Err(ConfigError::InvalidText(
                "cookie settings: __Host- cookies cannot carry a Domain",
            ));
        }
        if !self.refresh_path.starts_with('/') || self.refresh_path.contains(';') {
            return Err(ConfigError::InvalidText("refresh cookie path"));
        }
        Ok(())
    }

    fn base<'c>(
        &self,
        name: String,
        value: String,
        path: &str,
        same_site: SameSite,
        http_only: bool,
    ) -> Cookie<'c> {
        let mut c = Cookie::new(name, value);
        c.set_http_only(http_only);
        c.set_secure(self.secure);
        c.set_same_site(same_site);
        c.set_path(path.to_owned());
        if let Some(d) = &self.domain {
            c.set_domain(d.clone());
        }
        c
    }

    /// The access cookie carrying `token` for `max_age` seconds.
    pub fn access_cookie(&self, token: &str, max_age: u64) -> Cookie<'static> {
        let mut c = self.base(
            self.access_cookie_name(),
            token.to_owned(),
            &self.access_path,
            self.access_same_site,
            true,
        );
        c.set_max_age(cookie::time::Duration::seconds(clamp(max_age)));
        c
    }

    /// The refresh cookie carrying `token` for `max_age` seconds, on the refresh path.
    pub fn refresh_cookie(&self, token: &str, max_age: u64) -> Cookie<'static> {
        let mut c = self.base(
            self.refresh_cookie_name(),
            token.to_owned(),
            &self.refresh_path,
            self.refresh_same_site,
            true,
        );
        c.set_max_age(cookie::time::Duration::seconds(clamp(max_age)));
        c
    }

    /// The readable (not HttpOnly) CSRF cookie, for the double-submit check.
    pub fn csrf_cookie(&self, value: &str, max_age: u64) -> Cookie<'static> {
        let mut c = self.base(
            self.csrf_cookie_name(),
            value.to_owned(),
            &self.access_path,
            SameSite::Strict,
            false,
        );
        c.set_max_age(cookie::time::Duration::seconds(clamp(max_age)));
        c
    }

    /// Cookies that delete the three token cookies. They repeat Path, Domain, Secure and
    /// SameSite, or browsers would not match (and so not delete) the originals.
    pub fn clearing_cookies(&self) -> [Cookie<'static>; 3] {
        let mut access = self.access_cookie("", 0);
        access.make_removal();
        let mut refresh = self.refresh_cookie("", 0);
        refresh.make_removal();
        let mut csrf = self.csrf_cookie("", 0);
        csrf.make_removal();
        [access, refresh, csrf]
    }
}

fn clamp(secs: u64) -> i64 {
    i64::try_from(secs).unwrap_or(i64::MAX)
}

/// Appends `cookie` as a `Set-Cookie` header.
pub(crate) fn append(headers: &mut HeaderMap, cookie: &Cookie<'_>) {
    if let Ok(v) = HeaderValue::from_str(&cookie.to_string()) {
        headers.append(SET_COOKIE, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_secure() {
        let s = CookieSettings::default();
        let a = s.access_cookie("tok", 900).to_string();
        assert!(a.contains("HttpOnly") && a.contains("Secure"), "{a}");
        assert!(
            a.contains("SameSite=Lax") && a.contains("Path=/") && a.contains("Max-Age=900"),
            "{a}"
        );
        let r = s.refresh_cookie("tok", 60).to_string();
        assert!(
            r.contains("SameSite=Strict") && r.contains("Path=/auth") && r.contains("HttpOnly"),
            "{r}"
        );
        let c = s.csrf_cookie("x", 60).to_string();
        assert!(!c.contains("HttpOnly"), "{c}");
    }

    #[test]
    fn names_are_prefixed_by_default_and_plain_in_dev_mode() {
        let s = CookieSettings::default();
        assert_eq!(s.access_cookie_name(), "__Host-access_token");
        assert_eq!(s.refresh_cookie_name(), "__Secure-refresh_token");
        assert_eq!(s.csrf_cookie_name(), "__Host-csrf_token");
        assert!(s.check().is_ok());
        let dev = CookieSettings::default().insecure_dev_cookies();
        assert_eq!(dev.access_cookie_name(), "access_token");
        assert!(dev.check().is_ok());
        let d = CookieSettings::default().domain("example.com");
        assert_eq!(d.access_cookie_name(), "__Secure-access_token");
        assert!(d.check().is_ok());
        assert_eq!(
            CookieSettings::default()
                .insecure_unprefixed_names()
                .csrf_cookie_name(),
            "csrf_token"
        );
    }

    #[test]
    fn clearing_repeats_attributes() {
        let s = CookieSettings::default().domain("example.com");
        for c in s.clearing_cookies() {
            let v = c.to_string();
            assert!(
                v.contains("Max-Age=0") && v.contains("Domain=example.com") && v.contains("Secure"),
                "{v}"
            );
        }
    }

    #[test]
    fn prefixes() {
        let s = CookieSettings::default().host_prefix();
        assert_eq!(s.access_cookie_name(), "__Host-access_token");
        assert_eq!(s.refresh_cookie_name(), "__Secure-refresh_token");
        assert!(s.check().is_ok());
        assert!(s.clone().insecure_dev_cookies().check().is_ok());
        let mut bad = s.clone();
        bad.secure = false;
        assert!(bad.check().is_err());
        let mut bad = s.domain("x.com");
        bad.prefix = Prefix::Host;
        assert!(bad.check().is_err());
    }
}
