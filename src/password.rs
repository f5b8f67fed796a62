//! Password hashing (feature `password`): argon2id for new hashes; verification also
//! accepts bcrypt (`$2a$`, `$2b$`, `$2y$`) so users migrating from passlib keep their
//! passwords, and [`check_password`] (or [`needs_rehash`]) tells when to upgrade a hash
//! to argon2id after a successful login.
//!
//! ⚠️ bcrypt reads only the first 72 bytes of a password. Against a bcrypt hash, a
//! password longer than 72 bytes never matches (it is not truncated: otherwise every
//! password sharing the first 72 bytes would be accepted). A user whose bcrypt hash was
//! made from a longer password (passlib truncated it silently) must reset it. argon2id
//! hashes take passwords up to [`MAX_PASSWORD_BYTES`], all bytes counted.
//!
//! Hashing is deliberately slow (tens of milliseconds): call it from
//! `tokio::task::spawn_blocking` in async handlers. For a login route, use
//! `Sessions::password_login` (`session::password_login`), which does that within a bound,
//! equalises unknown users with a dummy hash and throttles brute force.
//!
//! ```
//! use axum_token_auth::password::{hash_password, needs_rehash, verify_password};
//!
//! let hash = hash_password("correct horse battery staple")?;
//! assert!(hash.starts_with("$argon2id$"));
//! assert!(verify_password("correct horse battery staple", &hash)?);
//! assert!(!verify_password("wrong", &hash)?);
//! assert!(!needs_rehash(&hash));
//! # Ok::<(), axum_token_auth::password::PasswordError>(())
//! ```

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

/// Longest password accepted, in bytes.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Longest password a bcrypt hash can match, in bytes: bcrypt reads no more, and longer
/// inputs are refused rather than silently truncated.
pub const MAX_BCRYPT_PASSWORD_BYTES: usize = 72;

/// The outcome of [`check_password`].
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PasswordCheck {
    /// Wrong password.
    Mismatch,
    /// Right password, and the hash is current (argon2id with today's parameters).
    Match,
    /// Right password, but the hash is bcrypt or weaker argon2: store `new_hash` (argon2id
    /// of the same password) in its place.
    MatchUpgrade {
        /// The replacement hash.
        new_hash: String,
    },
}

impl PasswordCheck {
    /// Whether the password was right.
    pub fn is_match(&self) -> bool {
        !matches!(self, PasswordCheck::Mismatch)
    }
}

/// Never prints the new hash.
impl std::fmt::Debug for PasswordCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PasswordCheck::Mismatch => "Mismatch",
            PasswordCheck::Match => "Match",
            PasswordCheck::MatchUpgrade { .. } => "MatchUpgrade",
        })
    }
}

/// Why hashing or verification failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PasswordError {
    /// The stored hash is neither argon2 (PHC string) nor bcrypt.
    #[error("unrecognised password hash format")]
    UnknownFormat,
    /// The stored hash is malformed.
    #[error("malformed password hash")]
    MalformedHash,
    /// The password is empty or longer than [`MAX_PASSWORD_BYTES`].
    #[error("the password must be 1 to 1024 bytes")]
    BadLength,
    /// The random source or the hasher failed.
    #[error("password hashing failed")]
    Hashing,
}

fn argon2id() -> Argon2<'static> {
    // OWASP's first recommended configuration: m=19 MiB, t=2, p=1.
    let params = Params::new(19 * 1024, 2, 1, None).expect("static argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes `password` with argon2id and a random salt, as a PHC string.
pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    if password.is_empty() || password.len() > MAX_PASSWORD_BYTES {
        return Err(PasswordError::BadLength);
    }
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|_| PasswordError::Hashing)?;
    let salt = SaltString::encode_b64(&salt).map_err(|_| PasswordError::Hashing)?;
    argon2id()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|_| PasswordError::Hashing)
}

/// Checks `password` against an argon2 PHC string or a bcrypt hash (constant-time
/// comparison in both). `Ok(false)` for a wrong password, an error for a bad hash.
/// Against a bcrypt hash, a password over [`MAX_BCRYPT_PASSWORD_BYTES`] is `Ok(false)`.
pub fn verify_password(password: &str, hash: &str) -> Result<bool, PasswordError> {
    if password.len() > MAX_PASSWORD_BYTES {
        return Ok(false);
    }
    if hash.starts_with("$argon2") {
        let parsed = PasswordHash::new(hash).map_err(|_| PasswordError::MalformedHash)?;
        if parsed.hash.is_none() || parsed.salt.is_none() {
            return Err(PasswordError::MalformedHash);
        }
        return match Argon2::default().verify_password(password.as_bytes(), &parsed) {
            Ok(()) => Ok(true),
            Err(argon2::password_hash::Error::Password) => Ok(false),
            Err(_) => Err(PasswordError::MalformedHash),
        };
    }
    if is_bcrypt(hash) {
        if password.len() > MAX_BCRYPT_PASSWORD_BYTES {
            // `bcrypt::verify` would compare the first 72 bytes only.
            return Ok(false);
        }
        // Up to 72 bytes every byte of the password counts.
        return bcrypt::verify(password, hash).map_err(|_| PasswordError::MalformedHash);
    }
    Err(PasswordError::UnknownFormat)
}

/// [`verify_password`], and on a match whether to replace the stored hash: a bcrypt or
/// weaker argon2 hash comes back as [`PasswordCheck::MatchUpgrade`] with the argon2id
/// hash to store instead (after a successful login is the only time the password is at
/// hand). Slow like hashing: call it from `spawn_blocking`.
///
/// ```
/// use axum_token_auth::password::{PasswordCheck, check_password};
///
/// let legacy = bcrypt::hash("hunter2", 4)?; // e.g. from passlib
/// match check_password("hunter2", &legacy)? {
///     PasswordCheck::MatchUpgrade { new_hash } => assert!(new_hash.starts_with("$argon2id$")),
///     other => panic!("{other:?}"),
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn check_password(password: &str, hash: &str) -> Result<PasswordCheck, PasswordError> {
    if !verify_password(password, hash)? {
        return Ok(PasswordCheck::Mismatch);
    }
    if needs_rehash(hash) {
        return Ok(PasswordCheck::MatchUpgrade {
            new_hash: hash_password(password)?,
        });
    }
    Ok(PasswordCheck::Match)
}

/// Whether a stored hash should be replaced by [`hash_password`] at the next successful
/// login (bcrypt, or argon2 other than argon2id with at least today's parameters).
pub fn needs_rehash(hash: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return true;
    };
    if parsed.algorithm != Algorithm::Argon2id.ident() {
        return true;
    }
    match Params::try_from(&parsed) {
        Ok(p) => p.m_cost() < 19 * 1024 || p.t_cost() < 2,
        Err(_) => true,
    }
}

/// Whether [`verify_password`] of `password` against `hash` computes a hash (it returns
/// early for a password over [`MAX_PASSWORD_BYTES`], one over
/// [`MAX_BCRYPT_PASSWORD_BYTES`] against bcrypt, and a hash it cannot read). The login
/// runs its dummy hash when this is false, so such users take an unknown user's time.
pub(crate) fn computes_hash(password: &str, hash: &str) -> bool {
    if password.len() > MAX_PASSWORD_BYTES {
        return false;
    }
    if hash.starts_with("$argon2") {
        return PasswordHash::new(hash).is_ok_and(|p| p.hash.is_some() && p.salt.is_some());
    }
    is_bcrypt(hash) && password.len() <= MAX_BCRYPT_PASSWORD_BYTES
}

fn is_bcrypt(hash: &str) -> bool {
    ["$2a$", "$2b$", "$2y$", "$2x$"]
        .iter()
        .any(|p| hash.starts_with(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bcrypt_hashes_from_passlib_verify() {
        // passlib.hash.bcrypt.hash("password", rounds=4) style hash.
        let h = bcrypt::hash_with_result("hunter2", 4)
            .unwrap()
            .format_for_version(bcrypt::Version::TwoB);
        assert!(verify_password("hunter2", &h).unwrap());
        assert!(!verify_password("hunter3", &h).unwrap());
        assert!(needs_rehash(&h));
    }

    #[test]
    fn bcrypt_never_accepts_a_password_sharing_only_the_first_72_bytes() {
        let long = "p".repeat(72);
        let h = bcrypt::hash(&long, 4).unwrap();
        assert!(verify_password(&long, &h).unwrap());
        // Same first 72 bytes, different password: refused (bcrypt would truncate).
        assert!(!verify_password(&format!("{long}-anything"), &h).unwrap());
        assert!(!check_password(&format!("{long}x"), &h).unwrap().is_match());
        // argon2id counts every byte.
        let a = hash_password(&format!("{long}a")).unwrap();
        assert!(!verify_password(&format!("{long}b"), &a).unwrap());
    }

    #[test]
    fn a_match_on_a_legacy_hash_says_to_upgrade() {
        let h = bcrypt::hash("hunter2", 4).unwrap();
        let PasswordCheck::MatchUpgrade { new_hash } = check_password("hunter2", &h).unwrap()
        else {
            panic!("bcrypt must be upgraded");
        };
        assert!(!needs_rehash(&new_hash));
        assert_eq!(
            check_password("hunter2", &new_hash).unwrap(),
            PasswordCheck::Match
        );
        assert_eq!(check_password("nope", &h).unwrap(), PasswordCheck::Mismatch);
        assert!(!format!("{:?}", PasswordCheck::MatchUpgrade { new_hash }).contains('$'));
    }

    #[test]
    fn salts_differ_and_garbage_is_an_error() {
        let a = hash_password("x").unwrap();
        let b = hash_password("x").unwrap();
        assert_ne!(a, b);
        assert_eq!(
            verify_password("x", "plaintext"),
            Err(PasswordError::UnknownFormat)
        );
        assert_eq!(
            verify_password("x", "$argon2id$garbage"),
            Err(PasswordError::MalformedHash)
        );
        assert_eq!(hash_password(""), Err(PasswordError::BadLength));
    }
}
