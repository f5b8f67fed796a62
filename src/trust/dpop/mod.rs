//! DPoP (RFC 9449): sender-constrained tokens. A DPoP-bound token carries the
//! thumbprint of the client's key (`cnf.jkt`); every request that uses it carries a
//! fresh proof signed by that key, for that request (method, URI, access-token hash),
//! accepted once. A copied token without the key is useless.
//!
//! Configure it once on the handle ([`DpopSettings`] through
//! [`TokenAuthBuilder::dpop`](crate::TokenAuthBuilder::dpop)); the layer then verifies
//! `Authorization: DPoP <token>` with its `DPoP` proof header, the session routes mint
//! bound tokens for a client that sends a proof, and [`DpopPolicy`] says per layer
//! whether bearer tokens are still accepted.
//!
//! ```
//! use axum_token_auth::TokenAuth;
//! use axum_token_auth::trust::dpop::{DpopPolicy, DpopSettings};
//!
//! let auth = TokenAuth::builder()
//!     .hs256_secret("a-random-secret-of-at-least-32-bytes!!")
//!     // `htu` is checked against this origin, never against the request's `Host`.
//!     .dpop(DpopSettings::new("https://api.example.com").policy(DpopPolicy::Allowed))
//!     .build()?;
//! # let _ = auth; Ok::<(), axum_token_auth::ConfigError>(())
//! ```
//!
//! What is checked, in order (RFC 9449 §4.3, §7): exactly one `DPoP` header of at most
//! [`max_proof_bytes`](DpopSettings::max_proof_bytes); a JWS with `typ: dpop+jwt`, no
//! `crit`, an `alg` from [`algorithms`](DpopSettings::algorithms) (asymmetric only); a
//! `jwk` header with a public key of that algorithm's type and curve and no private
//! member (RSA ≥ 2048 bits); the signature; `jti`; `htm` equal to the request method;
//! `htu` equal to the public origin plus the request path (scheme and host without case,
//! default ports dropped, query and fragment ignored); `iat` no older than
//! [`proof_lifetime`](DpopSettings::proof_lifetime) and not in the future (both with
//! the leeway); `ath` equal to base64url(SHA-256(access token)); the server nonce when
//! [`nonces`](DpopSettings::nonces) are on; then the `jti` not seen before for that key
//! ([`ProofReplay`], shared across instances by the Redis and PostgreSQL stores, fail
//! closed: 503 when the store cannot answer); and last the token's `cnf.jkt` equal to
//! the proof key's thumbprint.
//!
//! The verified-token cache still serves the token; the proof is checked on every
//! request (it is per request by design: one signature verification and one replay-cache
//! write).

pub(crate) mod jwk;
mod nonce;
pub(crate) mod proof;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::Algorithm;

use crate::store::breaker::{GuardSettings, Guarded};
use crate::store::replay::{MemoryProofReplay, ProofReplay};
use crate::token::error::ConfigError;

pub(crate) use nonce::Nonces;
pub(crate) use proof::CheckedProof;

/// Whether a layer (or the session routes) takes DPoP-bound tokens, bearer tokens, or
/// both. Whatever the policy, a token that *is* bound (`cnf.jkt`) is accepted only
/// with a matching proof (RFC 9449 §7.2), and a certificate-bound one only with its
/// certificate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum DpopPolicy {
    /// No DPoP: `Authorization: DPoP` is not a credential here, proofs on token
    /// requests are ignored (unbound tokens are minted). Bound tokens are still refused
    /// without a proof.
    Off,
    /// Both: bearer tokens as `Bearer`, bound tokens as `DPoP` with a proof. Token
    /// requests with a proof get bound tokens. The default.
    #[default]
    Allowed,
    /// DPoP only: a bearer token is refused (401 `invalid_token`, with the DPoP
    /// challenge); a token request without a proof is refused.
    Required,
}

/// Why a DPoP proof was refused: 401 `invalid_dpop_proof` (RFC 9449 §7.1), or
/// `use_dpop_nonce` for [`UseNonce`](Self::UseNonce). The descriptions are fixed
/// strings; nothing from the proof is echoed or logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// The `DPoP` scheme (or a bound token) without a `DPoP` header.
    #[error("the DPoP proof is missing")]
    Missing,
    /// More than one `DPoP` header.
    #[error("the request carries more than one DPoP proof")]
    Multiple,
    /// Larger than the configured limit.
    #[error("the DPoP proof is too large")]
    TooLarge,
    /// Not a JWS, not JSON, a required claim missing, or a `crit` header.
    #[error("the DPoP proof is malformed")]
    Malformed,
    /// Its `typ` is not `dpop+jwt`.
    #[error("the DPoP proof is not of type dpop+jwt")]
    WrongType,
    /// Its `alg` is not one of the accepted (asymmetric) algorithms.
    #[error("the DPoP proof algorithm is not accepted")]
    UnsupportedAlgorithm,
    /// Its `jwk` is missing, malformed, of another type or curve than the `alg`, or a
    /// weak RSA key.
    #[error("the DPoP proof key is invalid")]
    BadKey,
    /// Its `jwk` contains private key material.
    #[error("the DPoP proof key contains private key material")]
    PrivateKey,
    /// The signature does not verify with its `jwk`.
    #[error("the DPoP proof signature is invalid")]
    BadSignature,
    /// `htm` is not the request's method.
    #[error("the DPoP proof is for another HTTP method")]
    WrongMethod,
    /// `htu` is not the request's URI.
    #[error("the DPoP proof is for another URI")]
    WrongUri,
    /// `iat` is ahead of the clock (beyond the leeway).
    #[error("the DPoP proof was issued in the future")]
    IssuedInFuture,
    /// `iat` is older than the proof lifetime.
    #[error("the DPoP proof is too old")]
    Stale,
    /// `ath` is missing or is not the hash of the presented access token.
    #[error("the DPoP proof is for another access token")]
    WrongAccessTokenHash,
    /// Its `jti` was already used with this key.
    #[error("the DPoP proof was already used")]
    Replayed,
    /// A server nonce is required and the proof has none, or an expired or forged one:
    /// 401 `use_dpop_nonce` with a fresh `DPoP-Nonce`.
    #[error("a fresh DPoP nonce is required")]
    UseNonce,
}

impl ProofError {
    /// A fixed snake_case name (a metrics label value).
    pub fn reason(&self) -> &'static str {
        match self {
            ProofError::Missing => "missing",
            ProofError::Multiple => "multiple",
            ProofError::TooLarge => "too_large",
            ProofError::Malformed => "malformed",
            ProofError::WrongType => "wrong_type",
            ProofError::UnsupportedAlgorithm => "unsupported_algorithm",
            ProofError::BadKey => "bad_key",
            ProofError::PrivateKey => "private_key",
            ProofError::BadSignature => "bad_signature",
            ProofError::WrongMethod => "wrong_htm",
            ProofError::WrongUri => "wrong_htu",
            ProofError::IssuedInFuture => "issued_in_future",
            ProofError::Stale => "stale",
            ProofError::WrongAccessTokenHash => "wrong_ath",
            ProofError::Replayed => "replayed",
            ProofError::UseNonce => "use_nonce",
        }
    }
}

/// The algorithms proofs may be signed with by default: ES256, EdDSA, PS256 and RS256
/// (RFC 9449 leaves the list to the server; these are what clients use).
pub const DEFAULT_PROOF_ALGORITHMS: &[Algorithm] = &[
    Algorithm::ES256,
    Algorithm::EdDSA,
    Algorithm::PS256,
    Algorithm::RS256,
];

/// DPoP configuration of a [`TokenAuth`](crate::TokenAuth): the public origin `htu` is
/// checked against, the accepted algorithms, the proof lifetime, nonces, the replay
/// cache and the default [`DpopPolicy`].
///
/// ```
/// use std::time::Duration;
/// use axum_token_auth::store::replay::MemoryProofReplay;
/// use axum_token_auth::trust::dpop::{DpopPolicy, DpopSettings};
/// use jsonwebtoken::Algorithm;
///
/// let dpop = DpopSettings::new("https://api.example.com")
///     .algorithms([Algorithm::ES256, Algorithm::EdDSA])
///     .proof_lifetime(Duration::from_secs(30))
///     // The same secret on every instance: any of them accepts another's nonce.
///     .nonces(b"a-random-secret-shared-by-every-instance")
///     .replay_store(MemoryProofReplay::default())
///     .policy(DpopPolicy::Required);
/// # let _ = dpop;
/// ```
#[derive(Clone)]
pub struct DpopSettings {
    public_origin: String,
    algorithms: Vec<Algorithm>,
    max_age: Duration,
    leeway: Duration,
    max_proof_bytes: usize,
    nonce: Option<(Vec<u8>, Duration)>,
    replay: Option<Arc<dyn ProofReplay>>,
    policy: DpopPolicy,
    unbound_with_proof: bool,
}

impl fmt::Debug for DpopSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DpopSettings")
            .field("public_origin", &self.public_origin)
            .field("algorithms", &self.algorithms)
            .field("max_age", &self.max_age)
            .field("leeway", &self.leeway)
            .field("max_proof_bytes", &self.max_proof_bytes)
            .field("nonces", &self.nonce.is_some())
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl DpopSettings {
    /// DPoP for a service reached at `public_origin` (`https://api.example.com`, or
    /// with a path prefix when a proxy mounts it under one: `https://example.com/api`):
    /// a proof's `htu` must be this origin followed by the request's path. Behind a
    /// proxy this is the origin the clients see; the request's `Host` header is never
    /// used (a client chooses it).
    ///
    /// Defaults: [`DEFAULT_PROOF_ALGORITHMS`], proofs valid 60 seconds with 5 seconds of
    /// leeway, at most 8 KiB, no nonces, an in-memory replay cache (one instance: give
    /// several instances a shared [`replay_store`](Self::replay_store)), policy
    /// [`Allowed`](DpopPolicy::Allowed).
    pub fn new(public_origin: impl Into<String>) -> Self {
        DpopSettings {
            public_origin: public_origin.into(),
            algorithms: DEFAULT_PROOF_ALGORITHMS.to_vec(),
            max_age: Duration::from_secs(60),
            leeway: Duration::from_secs(5),
            max_proof_bytes: 8 * 1024,
            nonce: None,
            replay: None,
            policy: DpopPolicy::Allowed,
            unbound_with_proof: false,
        }
    }

    /// The algorithms proofs may be signed with (asymmetric only: ES256, ES384,
    /// EdDSA, RS*/PS*; an HMAC or `none` is refused when the handle is built).
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = algorithms.into_iter().collect();
        self
    }

    /// How long after its `iat` a proof is accepted (default 60 s). Its `jti` is
    /// remembered that long (plus the leeway), so the replay cache holds about this many
    /// seconds of DPoP requests.
    pub fn proof_lifetime(mut self, lifetime: Duration) -> Self {
        self.max_age = lifetime;
        self
    }

    /// Clock skew tolerated on `iat`, both ways (default 5 s).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// The largest `DPoP` header accepted, in bytes (default 8 KiB: a proof with a
    /// 4096-bit RSA key is about 1.5 KiB).
    pub fn max_proof_bytes(mut self, bytes: usize) -> Self {
        self.max_proof_bytes = bytes;
        self
    }

    /// Turns server nonces on (RFC 9449 §8, §9): a proof must carry a nonce this
    /// service handed out in a `DPoP-Nonce` header, or the request is answered 401
    /// `use_dpop_nonce` with one. Stateless: a nonce is a 5-minute time bucket and its
    /// HMAC under `secret` (the previous bucket's still accepted), so give every instance
    /// the same secret. A response to a proof with the previous bucket's nonce carries
    /// the current one.
    pub fn nonces(mut self, secret: impl AsRef<[u8]>) -> Self {
        self.nonce = Some((secret.as_ref().to_vec(), Duration::from_secs(300)));
        self
    }

    /// How long a nonce's time bucket lasts (default 5 minutes; a nonce is accepted for
    /// one to two buckets).
    pub fn nonce_lifetime(mut self, lifetime: Duration) -> Self {
        if let Some((_, l)) = &mut self.nonce {
            *l = lifetime;
        }
        self
    }

    /// Where the ids of accepted proofs are remembered (default: in memory, for one
    /// instance). Several instances behind one load balancer need a shared store
    /// (`RedisStore`, `PostgresStore`), or a proof accepted by one could be replayed on
    /// another.
    pub fn replay_store(mut self, store: impl ProofReplay) -> Self {
        self.replay = Some(Arc::new(store));
        self
    }

    /// [`replay_store`](Self::replay_store) with a store already shared.
    pub fn replay_store_shared(mut self, store: Arc<dyn ProofReplay>) -> Self {
        self.replay = Some(store);
        self
    }

    /// The default policy of the layers and the session routes (default
    /// [`Allowed`](DpopPolicy::Allowed)); a layer can override it with
    /// [`TokenAuthLayer::dpop`](crate::TokenAuthLayer::dpop).
    pub fn policy(mut self, policy: DpopPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Accepts an unbound (bearer) token presented with the `DPoP` scheme and a valid
    /// proof (default: refused, 401 `invalid_token`). For clients that always send
    /// DPoP during a migration to bound tokens.
    pub fn accept_unbound_tokens_with_proof(mut self, on: bool) -> Self {
        self.unbound_with_proof = on;
        self
    }

    /// The settings checked and compiled for the request path.
    pub(crate) fn build(self, guard: &GuardSettings) -> Result<Dpop, ConfigError> {
        // Proofs are verified through jsonwebtoken's process-wide provider.
        crate::token::keys::install_crypto_provider();
        let origin = self.public_origin.trim_end_matches('/').to_owned();
        let valid_origin = (origin.starts_with("https://") || origin.starts_with("http://"))
            && !origin.contains(['?', '#', '@'])
            && origin.split("://").nth(1).is_some_and(|r| !r.is_empty());
        if !valid_origin {
            return Err(ConfigError::InvalidDpop(
                "the public origin must be an absolute http(s) URL without query or fragment",
            ));
        }
        if self.algorithms.is_empty() {
            return Err(ConfigError::InvalidDpop("no proof algorithm is accepted"));
        }
        let asymmetric =
            |a: &Algorithm| !matches!(a, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512);
        if !self.algorithms.iter().all(asymmetric) {
            return Err(ConfigError::InvalidDpop(
                "proofs must be signed with an asymmetric algorithm",
            ));
        }
        // EdDSA is also accepted under its RFC 9864 name, `Ed25519`.
        let challenge_algs = self
            .algorithms
            .iter()
            .flat_map(|a| match a {
                Algorithm::EdDSA => vec!["EdDSA".to_owned(), "Ed25519".to_owned()],
                a => vec![format!("{a:?}")],
            })
            .collect::<Vec<_>>()
            .join(" ");
        Ok(Dpop {
            public_origin: origin,
            algorithms: self.algorithms,
            challenge_algs,
            max_age: self.max_age.as_secs(),
            leeway: self.leeway.as_secs(),
            max_proof_bytes: self.max_proof_bytes,
            nonces: self
                .nonce
                .map(|(secret, lifetime)| Nonces::new(&secret, lifetime.as_secs())),
            // A configured store goes behind the breaker, as the revocation store does:
            // down or slow, it answers at once and the request gets 503.
            replay: match self.replay {
                Some(store) if guard.enabled => Arc::new(Guarded::replay(store, guard)),
                Some(store) => store,
                None => Arc::new(MemoryProofReplay::default()),
            },
            policy: self.policy,
            unbound_with_proof: self.unbound_with_proof,
        })
    }
}

/// The compiled DPoP settings every check reads.
pub(crate) struct Dpop {
    pub(crate) public_origin: String,
    pub(crate) algorithms: Vec<Algorithm>,
    /// The accepted algorithms, space-separated: the challenge's `algs`.
    pub(crate) challenge_algs: String,
    pub(crate) max_age: u64,
    pub(crate) leeway: u64,
    pub(crate) max_proof_bytes: usize,
    pub(crate) nonces: Option<Nonces>,
    pub(crate) replay: Arc<dyn ProofReplay>,
    pub(crate) policy: DpopPolicy,
    pub(crate) unbound_with_proof: bool,
}

/// The request a proof must be for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ProofRequest<'a> {
    /// The HTTP method (`htm`).
    pub(crate) method: &'a str,
    /// The absolute URI without query (`htu`): the public origin and the path.
    pub(crate) uri: &'a str,
    /// The access token the request presents (`ath`), none on a token request.
    pub(crate) access_token: Option<&'a [u8]>,
}

/// A refusal of a proof: the proof itself, or the replay cache unable to answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ProofRefusal {
    Invalid(ProofError),
    StoreUnavailable,
}

impl Dpop {
    /// The absolute URI a proof for a request to `path` must name.
    pub(crate) fn htu(&self, path: &str) -> String {
        let mut s = String::with_capacity(self.public_origin.len() + path.len());
        s.push_str(&self.public_origin);
        s.push_str(path);
        s
    }

    /// The current nonce, when nonces are on.
    pub(crate) fn nonce(&self, now: u64) -> Option<String> {
        self.nonces.as_ref().map(|n| n.current(now))
    }

    /// The replay-cache step of a proof that passed the offline checks.
    pub(crate) async fn remember(&self, checked: &CheckedProof) -> Result<(), ProofRefusal> {
        match self
            .replay
            .first_use(&checked.id, checked.remember_until)
            .await
        {
            Ok(true) => Ok(()),
            Ok(false) => Err(ProofRefusal::Invalid(ProofError::Replayed)),
            Err(e) => {
                tracing::warn!(error = %e, "DPoP replay cache unavailable; proof refused");
                Err(ProofRefusal::StoreUnavailable)
            }
        }
    }
}
