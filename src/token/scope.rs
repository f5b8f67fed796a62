//! Scopes: the grammar, matching, [`ScopeSet`] and the [`scope!`](crate::scope!) marker
//! macro.
//!
//! (Documented with examples in the [`token`](crate::token) module docs.)

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// The longest scope accepted, in bytes.
pub const MAX_SCOPE_LEN: usize = 100;

/// Why a string is not a [`Scope`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScopeError {
    /// The scope is empty.
    #[error("scope is empty")]
    Empty,
    /// The scope is longer than [`MAX_SCOPE_LEN`].
    #[error("scope is longer than {MAX_SCOPE_LEN} bytes")]
    TooLong,
    /// The scope does not follow the grammar (the offending byte offset is given).
    #[error("scope does not follow the grammar `resource[:action]` (at byte {0})")]
    Grammar(usize),
}

/// Checks `s` against the scope grammar; usable in `const` context (the [`scope!`](crate::scope!)
/// macro checks its literals at compile time with it).
pub const fn check_scope(s: &str) -> Result<(), ScopeError> {
    let b = s.as_bytes();
    if b.is_empty() {
        return Err(ScopeError::Empty);
    }
    if b.len() > MAX_SCOPE_LEN {
        return Err(ScopeError::TooLong);
    }
    if b.len() == 1 && b[0] == b'*' {
        return Ok(());
    }
    // States: at the start of a name (expect name char), inside a name.
    let mut i = 0;
    let mut segment = 0usize;
    let mut in_name = false;
    while i < b.len() {
        let c = b[i];
        let name_char = c.is_ascii_alphanumeric() || c == b'_' || c == b'-';
        if name_char {
            in_name = true;
        } else if c == b'.' || c == b':' {
            if !in_name {
                return Err(ScopeError::Grammar(i));
            }
            if c == b':' {
                segment += 1;
            }
            in_name = false;
        } else if c == b'*' {
            // "*" is a whole segment, the last one, and never the first.
            let starts_segment = i > 0 && b[i - 1] == b':';
            if !(starts_segment && segment > 0 && i + 1 == b.len()) {
                return Err(ScopeError::Grammar(i));
            }
            return Ok(());
        } else {
            return Err(ScopeError::Grammar(i));
        }
        i += 1;
    }
    if !in_name {
        return Err(ScopeError::Grammar(b.len()));
    }
    Ok(())
}

/// One scope, checked against the grammar. Cheap to clone.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Scope(Arc<str>);

impl Scope {
    /// Parses and checks a scope.
    pub fn new(s: &str) -> Result<Self, ScopeError> {
        check_scope(s)?;
        Ok(Self(Arc::from(s)))
    }

    /// The scope as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether holding `self` grants `required` (segment-aware, see the module docs).
    pub fn grants(&self, required: &str) -> bool {
        grants(&self.0, required)
    }
}

/// Whether the granted scope `granted` satisfies the required scope `required`.
pub(crate) fn grants(granted: &str, required: &str) -> bool {
    if granted == "*" || granted == required {
        return true;
    }
    // "a:b:*" grants anything of the form "a:b:<more>".
    if let Some(prefix) = granted.strip_suffix('*') {
        // The grammar guarantees the prefix ends with ':'.
        return required.len() > prefix.len() && required.starts_with(prefix);
    }
    false
}

impl fmt::Debug for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Scope {
    type Err = ScopeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl AsRef<str> for Scope {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// A set of granted scopes, in the order first seen, without duplicates.
///
/// On the wire it is written as one space-separated `scope` string (RFC 8693 / RFC 9068);
/// it is read from that form or from a JSON array of strings.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct ScopeSet(Vec<Scope>);

impl ScopeSet {
    /// An empty set.
    pub fn new() -> Self {
        Self(Vec::new())
    }

    /// Builds a set from scopes given as strings, checking each.
    pub fn try_from_iter<I, S>(scopes: I) -> Result<Self, ScopeError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut set = Self::new();
        for s in scopes {
            set.insert(Scope::new(s.as_ref())?);
        }
        Ok(set)
    }

    /// Adds a scope (no-op when already present).
    pub fn insert(&mut self, scope: Scope) {
        if !self.0.contains(&scope) {
            self.0.push(scope);
        }
    }

    /// Whether some granted scope grants `required`.
    pub fn has(&self, required: &str) -> bool {
        self.0.iter().any(|g| grants(&g.0, required))
    }

    /// Whether every one of `required` is granted (true for an empty list).
    pub fn has_all<I, S>(&self, required: I) -> bool
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        required.into_iter().all(|r| self.has(r.as_ref()))
    }

    /// Whether at least one of `required` is granted (false for an empty list).
    pub fn has_any<I, S>(&self, required: I) -> bool
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        required.into_iter().any(|r| self.has(r.as_ref()))
    }

    /// Whether every scope of `other` is granted by `self` (used to make sure a refresh
    /// never widens scopes).
    pub fn covers(&self, other: &ScopeSet) -> bool {
        other.0.iter().all(|s| self.has(&s.0))
    }

    /// The scopes, in order.
    pub fn iter(&self) -> impl Iterator<Item = &Scope> {
        self.0.iter()
    }

    /// Number of scopes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.iter()).finish()
    }
}

/// The space-separated form, as carried in the `scope` claim.
impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            f.write_str(&s.0)?;
        }
        Ok(())
    }
}

/// Parses the space-separated form (`"users:read users:write"`).
impl FromStr for ScopeSet {
    type Err = ScopeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::try_from_iter(s.split(' ').filter(|p| !p.is_empty()))
    }
}

impl<'a> IntoIterator for &'a ScopeSet {
    type Item = &'a Scope;
    type IntoIter = std::slice::Iter<'a, Scope>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl Serialize for ScopeSet {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ScopeSet {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ScopeSetVisitor;
        impl<'de> Visitor<'de> for ScopeSetVisitor {
            type Value = ScopeSet;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a space-separated scope string or an array of scopes")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ScopeSet, E> {
                v.parse().map_err(E::custom)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ScopeSet, A::Error> {
                let mut set = ScopeSet::new();
                while let Some(s) = seq.next_element::<std::borrow::Cow<'de, str>>()? {
                    set.insert(Scope::new(&s).map_err(de::Error::custom)?);
                }
                Ok(set)
            }
        }
        deserializer.deserialize_any(ScopeSetVisitor)
    }
}

/// A zero-sized type naming one scope, declared with [`scope!`](crate::scope!) and used
/// by [`RequireScope`](crate::RequireScope).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a scope marker",
    label = "not declared with `scope!`",
    note = "declare a marker with `axum_token_auth::scope!(pub UsersWrite = \"users:write\");` and use `RequireScope<UsersWrite>`",
    note = "for several scopes use a tuple of markers: `RequireAllScopes<(A, B)>` (every one) or `RequireAnyScope<(A, B)>` (one of them)"
)]
pub trait ScopeMarker: Send + Sync + 'static {
    /// The scope this marker stands for.
    const SCOPE: &'static str;
}

/// A list of scope markers: a single marker or a tuple of up to eight markers.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a list of scope markers",
    label = "expected a `scope!` marker or a tuple of up to eight of them",
    note = "declare markers with `axum_token_auth::scope! {{ pub A = \"a:read\"; pub B = \"b:write\"; }}`",
    note = "then `RequireAllScopes<(A, B)>` needs every scope and `RequireAnyScope<(A, B)>` one of them; a single scope is `RequireScope<A>`"
)]
pub trait ScopeList: Send + Sync + 'static {
    /// The scopes in the list.
    const SCOPES: &'static [&'static str];
}

impl<S: ScopeMarker> ScopeList for S {
    const SCOPES: &'static [&'static str] = &[S::SCOPE];
}

macro_rules! impl_scope_list_tuple {
    ($($t:ident),+) => {
        impl<$($t: ScopeMarker),+> ScopeList for ($($t,)+) {
            const SCOPES: &'static [&'static str] = &[$($t::SCOPE),+];
        }
    };
}
impl_scope_list_tuple!(A);
impl_scope_list_tuple!(A, B);
impl_scope_list_tuple!(A, B, C);
impl_scope_list_tuple!(A, B, C, D);
impl_scope_list_tuple!(A, B, C, D, E);
impl_scope_list_tuple!(A, B, C, D, E, F);
impl_scope_list_tuple!(A, B, C, D, E, F, G);
impl_scope_list_tuple!(A, B, C, D, E, F, G, H);

/// Declares zero-sized scope marker types for [`RequireScope`](crate::RequireScope) and
/// friends. Each literal is checked against the scope grammar at compile time.
///
/// ```
/// axum_token_auth::scope! {
///     /// May read users.
///     pub UsersRead = "users:read";
///     pub Admin = "admin";
/// }
/// use axum_token_auth::token::ScopeMarker;
/// assert_eq!(UsersRead::SCOPE, "users:read");
/// ```
///
/// A literal outside the grammar does not compile:
///
/// ```compile_fail
/// axum_token_auth::scope!(pub Bad = "admin*");
/// ```
#[macro_export]
macro_rules! scope {
    ($($(#[$meta:meta])* $vis:vis $name:ident = $scope:literal);+ $(;)?) => {
        $(
            $(#[$meta])*
            #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
            $vis struct $name;
            impl $crate::token::ScopeMarker for $name {
                const SCOPE: &'static str = {
                    if $crate::__private::check_scope($scope).is_err() {
                        panic!(concat!("not a valid scope: ", $scope));
                    }
                    $scope
                };
            }
            const _: &str = <$name as $crate::token::ScopeMarker>::SCOPE;
        )+
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grammar_accepts_the_seed_examples() {
        for s in [
            "users:read",
            "api.v1:read",
            "api.v2:write",
            "admin",
            "*",
            "users:*",
            "a:b:c",
            "a-b_c:d",
            "read",
        ] {
            assert_eq!(check_scope(s), Ok(()), "{s}");
        }
    }

    #[test]
    fn grammar_rejects_malformed_scopes() {
        for s in [
            "",
            "admin*",
            "*:read",
            ":read",
            "users:",
            "users::read",
            "a b",
            "users:*:x",
            "users.:x",
            ".a",
            "a\0",
            "ü",
            "users:re*",
            "**",
        ] {
            assert!(check_scope(s).is_err(), "{s:?} should be rejected");
        }
        assert_eq!(check_scope(&"a".repeat(101)), Err(ScopeError::TooLong));
        assert_eq!(check_scope(&"a".repeat(100)), Ok(()));
    }

    #[test]
    fn matching_is_segment_aware_never_prefix() {
        let set: ScopeSet = "admin users:* api.v1:read".parse().unwrap();
        assert!(set.has("admin"));
        assert!(!set.has("administrator"));
        assert!(!set.has("admi"));
        assert!(set.has("users:read"));
        assert!(set.has("users:profile:read"));
        assert!(set.has("users:*"));
        assert!(!set.has("users"));
        assert!(!set.has("usersx:read"));
        assert!(set.has("api.v1:read"));
        assert!(!set.has("api.v1:write"));
        assert!(!set.has("api:read"));
        assert!(!set.has("*"));
    }

    #[test]
    fn wildcard_grants_everything() {
        let set: ScopeSet = "*".parse().unwrap();
        assert!(set.has("anything:at:all"));
        assert!(set.has("*"));
        assert!(set.has_all(["a", "b:c"]));
    }

    #[test]
    fn has_all_and_has_any() {
        let set: ScopeSet = "a b".parse().unwrap();
        assert!(set.has_all(["a", "b"]));
        assert!(!set.has_all(["a", "c"]));
        assert!(set.has_any(["c", "b"]));
        assert!(!set.has_any(["c", "d"]));
        assert!(!set.has_any(Vec::<&str>::new()));
        assert!(set.has_all(Vec::<&str>::new()));
    }

    #[test]
    fn serializes_space_separated_and_reads_both_forms() {
        let set: ScopeSet = "b a b".parse().unwrap();
        assert_eq!(set.len(), 2);
        assert_eq!(serde_json::to_string(&set).unwrap(), r#""b a""#);
        let from_array: ScopeSet = serde_json::from_str(r#"["x:y","z"]"#).unwrap();
        assert_eq!(from_array.to_string(), "x:y z");
        assert!(serde_json::from_str::<ScopeSet>(r#"["ok","bad*"]"#).is_err());
        assert!(serde_json::from_str::<ScopeSet>("42").is_err());
    }

    #[test]
    fn covers_detects_widening() {
        let parent: ScopeSet = "users:* admin".parse().unwrap();
        assert!(parent.covers(&"users:read".parse().unwrap()));
        assert!(!parent.covers(&"orders:read".parse().unwrap()));
    }
}
