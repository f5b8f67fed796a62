//! Where an external issuer puts its scopes, and how they become the [`ScopeSet`] the
//! guards check: [`ScopeClaim`].

use serde_json::{Map, Value};

use crate::token::scope::{Scope, ScopeSet};

/// One claim an external issuer carries scopes (or roles, groups, permissions) in.
///
/// The path names nested objects with dots (`realm_access.roles`); the value is a
/// space-separated string or an array of strings. Each entry becomes a scope, with the
/// optional prefix in front. Entries that are not valid scopes (see
/// [`Scope::new`](crate::token::Scope::new)) are skipped, never an error: a provider's odd role
/// name must not lock every user out.
///
/// ```
/// use axum_token_auth::trust::ScopeClaim;
///
/// // Keycloak realm roles, as `role:<name>`
/// let roles = ScopeClaim::path("realm_access.roles").prefix("role:");
/// // An Auth0 namespaced claim whose name contains dots: one segment, not a path
/// let custom = ScopeClaim::segments(["https://example.com/roles"]);
/// # let _ = (roles, custom);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeClaim {
    segments: Vec<String>,
    prefix: String,
}

impl ScopeClaim {
    /// A claim path, its segments separated by dots (`scope`, `scp`,
    /// `resource_access.my-client.roles`, `cognito:groups`).
    pub fn path(path: &str) -> Self {
        ScopeClaim {
            segments: path.split('.').map(str::to_owned).collect(),
            prefix: String::new(),
        }
    }

    /// A claim path given segment by segment, for claim names that contain dots.
    pub fn segments<I, S>(segments: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        ScopeClaim {
            segments: segments.into_iter().map(Into::into).collect(),
            prefix: String::new(),
        }
    }

    /// Puts `prefix` in front of every value (`role:` turns `admin` into `role:admin`).
    ///
    /// ```
    /// use axum_token_auth::trust::ScopeClaim;
    ///
    /// // Cognito groups become scopes `group:admins`, `group:ops`, …
    /// let claim = ScopeClaim::path("cognito:groups").prefix("group:");
    /// # let _ = claim;
    /// ```
    #[must_use]
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The claim path, dot-joined (for logs and docs).
    pub fn display_path(&self) -> String {
        self.segments.join(".")
    }

    /// The value at the path, if any.
    pub(crate) fn find<'a>(&self, claims: &'a Map<String, Value>) -> Option<&'a Value> {
        let (first, rest) = self.segments.split_first()?;
        let mut value = claims.get(first)?;
        for seg in rest {
            value = value.as_object()?.get(seg)?;
        }
        Some(value)
    }

    /// Adds the scopes found at this claim to `out`; returns how many entries were skipped.
    fn collect_into(&self, claims: &Map<String, Value>, out: &mut ScopeSet) -> usize {
        let mut skipped = 0;
        let mut add = |s: &str, skipped: &mut usize| {
            let candidate;
            let s = if self.prefix.is_empty() {
                s
            } else {
                candidate = format!("{}{s}", self.prefix);
                &candidate
            };
            // A wildcard never comes from a claim value: an identity provider's `*` (or a
            // `group:*` made by a prefix) is a string it issued, not a grant of ours.
            match Scope::new(s) {
                Ok(scope) if !s.contains('*') => out.insert(scope),
                _ => *skipped += 1,
            }
        };
        match self.find(claims) {
            Some(Value::String(s)) => s
                .split_ascii_whitespace()
                .for_each(|s| add(s, &mut skipped)),
            Some(Value::Array(items)) => {
                for item in items {
                    match item.as_str() {
                        Some(s) => add(s, &mut skipped),
                        None => skipped += 1,
                    }
                }
            }
            Some(_) => skipped += 1,
            None => {}
        }
        skipped
    }
}

/// The scopes of `claims` from every claim in `from`.
pub(crate) fn map_scopes(from: &[ScopeClaim], claims: &Map<String, Value>) -> ScopeSet {
    let mut out = ScopeSet::new();
    let skipped: usize = from.iter().map(|c| c.collect_into(claims, &mut out)).sum();
    if skipped > 0 {
        tracing::debug!(
            skipped,
            "external token: entries that are not scopes skipped"
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn strings_arrays_nested_paths_and_prefixes() {
        let c = claims(json!({
            "scope": "openid users:read",
            "scp": ["User.Read"],
            "permissions": ["read:orders"],
            "realm_access": {"roles": ["admin", "offline_access"]},
            "resource_access": {"my-api": {"roles": ["writer"]}},
            "cognito:groups": ["ops"],
            "https://example.com/roles": ["billing"],
        }));
        let from = [
            ScopeClaim::path("scope"),
            ScopeClaim::path("scp"),
            ScopeClaim::path("permissions"),
            ScopeClaim::path("realm_access.roles"),
            ScopeClaim::path("resource_access.my-api.roles").prefix("my-api:"),
            ScopeClaim::path("cognito:groups").prefix("group:"),
            ScopeClaim::segments(["https://example.com/roles"]),
        ];
        let s = map_scopes(&from, &c);
        for want in [
            "openid",
            "users:read",
            "User.Read",
            "read:orders",
            "admin",
            "offline_access",
            "my-api:writer",
            "group:ops",
            "billing",
        ] {
            assert!(s.has(want), "{want} missing from {s}");
        }
        assert!(!s.has("writer"), "prefixed roles are only prefixed");
    }

    #[test]
    fn invalid_entries_are_skipped_not_fatal() {
        let c = claims(json!({"scope": "ok https://graph.microsoft.com/x", "roles": [1, "fine"]}));
        let s = map_scopes(&[ScopeClaim::path("scope"), ScopeClaim::path("roles")], &c);
        assert!(s.has("ok") && s.has("fine"));
        assert_eq!(s.len(), 2);
    }

    #[test]
    fn missing_paths_give_no_scopes() {
        let c = claims(json!({"realm_access": "not an object"}));
        let s = map_scopes(&[ScopeClaim::path("realm_access.roles")], &c);
        assert!(s.is_empty());
    }
}
