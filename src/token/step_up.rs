//! Step-up authentication (RFC 9470): the grammar of authentication context class
//! values, the compile-time policy markers of [`step_up!`](crate::step_up!), and the one
//! decision both step-up guards take.
//!
//! (Documented with examples in the [`token`](crate::token) module docs and the
//! [step-up recipe](crate::manual::step_up).)

use crate::token::claims::ClaimsView;

/// The longest authentication context class value accepted, in bytes.
pub const MAX_ACR_LEN: usize = 255;

/// Why a string is not an authentication context class value (`acr`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AcrError {
    /// The value (or the list of accepted values) is empty.
    #[error("authentication context class value is empty")]
    Empty,
    /// The value is longer than [`MAX_ACR_LEN`].
    #[error("authentication context class value is longer than {MAX_ACR_LEN} bytes")]
    TooLong,
    /// The value has a byte outside the grammar (the offending byte offset is given):
    /// printable ASCII but space, `"` and `\`, as an RFC 6749 scope token.
    #[error("authentication context class value has a forbidden byte (at byte {0})")]
    Grammar(usize),
}

/// Checks one `acr` value against its grammar (RFC 6749 `scope-token`: `%x21 / %x23-5B /
/// %x5D-7E`, so URIs such as `urn:mace:incommon:iap:silver` fit and nothing can break
/// out of a quoted challenge attribute); usable in `const` context ([`step_up!`](crate::step_up!)
/// checks its literals at compile time with it).
pub const fn check_acr(s: &str) -> Result<(), AcrError> {
    let b = s.as_bytes();
    if b.is_empty() {
        return Err(AcrError::Empty);
    }
    if b.len() > MAX_ACR_LEN {
        return Err(AcrError::TooLong);
    }
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if !(c == 0x21 || (c >= 0x23 && c <= 0x5b) || (c >= 0x5d && c <= 0x7e)) {
            return Err(AcrError::Grammar(i));
        }
        i += 1;
    }
    Ok(())
}

/// A step-up requirement known at compile time, declared with [`step_up!`](crate::step_up!)
/// and used by [`RequireStepUp`](crate::http::RequireStepUp).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a step-up policy",
    label = "not declared with `step_up!`",
    note = "declare one with `axum_token_auth::step_up!(pub RecentMfa = acr [\"mfa\"], max_age 300);` and use `RequireStepUp<RecentMfa>`"
)]
pub trait StepUpPolicy: Send + Sync + 'static {
    /// The accepted authentication context classes (`acr`), in order of preference;
    /// empty: any (or none).
    const ACR: &'static [&'static str];
    /// The maximum age of the authentication (`now - auth_time`), in seconds.
    const MAX_AGE: Option<u64>;
}

/// Declares zero-sized step-up policy types for
/// [`RequireStepUp`](crate::http::RequireStepUp): the accepted `acr` values (`acr [..]`,
/// checked against the grammar at compile time), a maximum authentication age in seconds
/// (`max_age N`), or both. A policy with neither does not compile.
///
/// ```
/// axum_token_auth::step_up! {
///     /// A second factor within the last five minutes.
///     pub RecentMfa = acr ["mfa", "phr"], max_age 300;
///     pub Mfa = acr ["mfa"];
///     pub Recent = max_age 60;
/// }
/// use axum_token_auth::token::StepUpPolicy;
/// assert_eq!(RecentMfa::ACR, ["mfa", "phr"]);
/// assert_eq!(RecentMfa::MAX_AGE, Some(300));
/// assert_eq!(Recent::ACR, [] as [&str; 0]);
/// ```
///
/// A value outside the grammar does not compile:
///
/// ```compile_fail
/// axum_token_auth::step_up!(pub Bad = acr ["two words"]);
/// ```
#[macro_export]
macro_rules! step_up {
    ($($(#[$meta:meta])* $vis:vis $name:ident = $(acr [$($acr:literal),+ $(,)?])? $(,)? $(max_age $age:literal)?);+ $(;)?) => {
        $(
            $(#[$meta])*
            #[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
            $vis struct $name;
            impl $crate::token::StepUpPolicy for $name {
                const ACR: &'static [&'static str] = &[$($({
                    if $crate::__private::check_acr($acr).is_err() {
                        panic!(concat!("not a valid acr value: ", $acr));
                    }
                    $acr
                }),+)?];
                const MAX_AGE: ::core::option::Option<u64> = {
                    // `None`, then `Some(max_age)` when given: the last one.
                    let given: &[::core::option::Option<u64>] =
                        &[::core::option::Option::None $(, ::core::option::Option::Some($age))?];
                    given[given.len() - 1]
                };
            }
            const _: () = {
                if <$name as $crate::token::StepUpPolicy>::ACR.is_empty()
                    && <$name as $crate::token::StepUpPolicy>::MAX_AGE.is_none()
                {
                    panic!(concat!("the step-up policy ", stringify!($name), " requires nothing: give `acr [..]`, `max_age N` or both"));
                }
            };
        )+
    };
}

/// The step-up decision, written once for both guards: whether verified `claims` meet
/// a requirement of `acr` values (one of the token's `acr` values — one, or several
/// space-separated for providers that report several — is one of them; an empty list
/// requires none) and a maximum authentication age (`auth_time` present, not after
/// `now` plus `leeway`, and `now - auth_time <= max_age + leeway`). `leeway` is the
/// token's own: the clock skew its issuer is allowed for `exp`, `nbf` and `iat`.
///
/// A token without `acr` fails any `acr` requirement; one without `auth_time` fails
/// any `max_age`. Its inputs are the normalised claims, never the raw token.
pub(crate) fn meets<S: AsRef<str>>(
    claims: &dyn ClaimsView,
    acr: &[S],
    max_age: Option<u64>,
    now: u64,
    leeway: u64,
) -> bool {
    if !acr.is_empty() {
        let Some(have) = claims.acr() else {
            return false;
        };
        let accepted = have
            .split(' ')
            .any(|v| !v.is_empty() && acr.iter().any(|a| a.as_ref() == v));
        if !accepted {
            return false;
        }
    }
    if let Some(max_age) = max_age {
        let Some(at) = claims.auth_time() else {
            return false;
        };
        // An authentication in the future (beyond the skew allowed) is no evidence.
        if at > now.saturating_add(leeway) {
            return false;
        }
        if now.saturating_sub(at) > max_age.saturating_add(leeway) {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::claims::TokenClaims;

    fn claims(acr: Option<&str>, auth_time: Option<u64>) -> TokenClaims {
        let mut c: TokenClaims =
            serde_json::from_str(r#"{"sub":"a","exp":2000,"iat":1000,"jti":"j"}"#).unwrap();
        c.acr = acr.map(str::to_owned);
        c.auth_time = auth_time;
        c
    }

    const NONE: &[&str] = &[];

    #[test]
    fn acr_must_be_one_of_the_accepted_values_exactly() {
        let mfa = claims(Some("mfa"), None);
        assert!(meets(&mfa, &["mfa", "phr"], None, 1000, 0));
        assert!(meets(&mfa, &["phr", "mfa"], None, 1000, 0));
        assert!(!meets(&mfa, &["phr"], None, 1000, 0));
        assert!(!meets(&mfa, &["MFA"], None, 1000, 0), "case-sensitive");
        assert!(!meets(&claims(Some("mf"), None), &["mfa"], None, 1000, 0));
        assert!(!meets(&claims(Some("mfa2"), None), &["mfa"], None, 1000, 0));
        assert!(!meets(&claims(None, None), &["mfa"], None, 1000, 0));
        // Several values reported (Entra `acrs`): one accepted suffices.
        assert!(meets(&claims(Some("c1 c3"), None), &["c3"], None, 1000, 0));
        assert!(!meets(&claims(Some("c1 c3"), None), &["c2"], None, 1000, 0));
        // No acr required: any token passes that part.
        assert!(meets(&claims(None, None), NONE, None, 1000, 0));
    }

    #[test]
    fn max_age_needs_a_recent_auth_time_within_the_leeway() {
        let at = |t| claims(None, Some(t));
        assert!(meets(&at(700), NONE, Some(300), 1000, 0));
        assert!(!meets(&at(699), NONE, Some(300), 1000, 0));
        assert!(meets(&at(699), NONE, Some(300), 1000, 5));
        assert!(meets(&at(695), NONE, Some(300), 1000, 5));
        assert!(!meets(&at(694), NONE, Some(300), 1000, 5));
        // No auth_time: no max_age is met.
        assert!(!meets(&claims(Some("mfa"), None), NONE, Some(300), 1000, 0));
        // In the future: within the skew allowed, fine; beyond, refused.
        assert!(meets(&at(1005), NONE, Some(300), 1000, 5));
        assert!(!meets(&at(1006), NONE, Some(300), 1000, 5));
        assert!(!meets(&at(u64::MAX), NONE, Some(300), 1000, 0));
        // Both requirements at once.
        let fresh_mfa = claims(Some("mfa"), Some(990));
        assert!(meets(&fresh_mfa, &["mfa"], Some(60), 1000, 0));
        assert!(!meets(&fresh_mfa, &["phr"], Some(60), 1000, 0));
        assert!(!meets(&fresh_mfa, &["mfa"], Some(5), 1000, 0));
    }

    #[test]
    fn acr_grammar() {
        for ok in [
            "mfa",
            "urn:mace:incommon:iap:silver",
            "http://schemas.openid.net/pape/policies/2007/06/multi-factor",
            "c1",
            "0",
        ] {
            assert_eq!(check_acr(ok), Ok(()), "{ok}");
        }
        assert_eq!(check_acr(""), Err(AcrError::Empty));
        assert_eq!(check_acr("a b"), Err(AcrError::Grammar(1)));
        assert_eq!(check_acr("a\"b"), Err(AcrError::Grammar(1)));
        assert_eq!(check_acr("a\\b"), Err(AcrError::Grammar(1)));
        assert_eq!(check_acr("ü"), Err(AcrError::Grammar(0)));
        assert_eq!(check_acr(&"a".repeat(256)), Err(AcrError::TooLong));
    }

    crate::step_up! {
        Both = acr ["mfa", "phr"], max_age 300;
        AcrOnly = acr ["mfa"];
        AgeOnly = max_age 60;
    }

    #[test]
    fn the_macro_declares_policies() {
        assert_eq!(Both::ACR, ["mfa", "phr"]);
        assert_eq!(Both::MAX_AGE, Some(300));
        assert_eq!(AcrOnly::MAX_AGE, None);
        assert!(AgeOnly::ACR.is_empty());
        assert_eq!(AgeOnly::MAX_AGE, Some(60));
    }
}
