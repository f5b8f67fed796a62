//! Token → verified claims: the hot path, and the one place every check lives. No I/O
//! but the revocation check (and, for a trusted issuer's unknown `kid`, one shared
//! refetch of its key set). It knows no HTTP: refusals are [`VerifyError`]s, which
//! [`AuthError`](crate::AuthError) maps to RFC 6750 answers. Its public face is
//! [`TokenAuth::validate`](crate::TokenAuth::validate) and its siblings.
//!
//! ```
//! use axum_token_auth::trust::TokenCheck;
//! use axum_token_auth::{NoCustomClaims, TokenAuth, TokenRequest};
//! use axum_token_auth::token::InvalidToken;
//! use axum_token_auth::trust::VerifyError;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let auth = TokenAuth::builder()
//!     .hs256_secret("a-random-secret-of-at-least-32-bytes!!")
//!     .build()?;
//! let token = auth.issue_access(&TokenRequest::new("alice"))?;
//! assert_eq!(auth.validate::<NoCustomClaims>(token.as_str(), TokenCheck::ACCESS).await?.sub, "alice");
//!
//! let mut forged = token.into_string();
//! forged.push('A'); // one more signature character
//! assert!(matches!(
//!     auth.validate::<NoCustomClaims>(&forged, TokenCheck::ACCESS).await,
//!     Err(VerifyError::InvalidToken(InvalidToken::BadSignature | InvalidToken::Malformed))
//! ));
//! # Ok(()) }
//! ```
//!
//! Every check, in order (a reader can audit them top to bottom in this file's
//! `Verifier::verify_token`):
//!
//! 1. size ≤ the configured limit, before anything is decoded;
//! 2. three base64url parts (`header.payload.signature`), canonical encoding;
//! 3. the header is JSON with a known `alg`; `crit` is refused (none is understood);
//! 4. the issuer: a payload `iss` naming a trusted external issuer selects that issuer's
//!    key set (read only to choose keys, trusted for nothing else) and steps E1–E9
//!    follow; any other token is checked as one of ours, against our keyring only;
//! 5. the key: the one its `kid` names in our keyring (unknown `kid` → refused), else
//!    the signing key; the header's `alg` equals that key's one algorithm (`none` never
//!    does);
//! 6. the signature verifies over `header.payload`; the signer (ours, a trusted issuer,
//!    a legacy format) is one the caller accepts (the layer's
//!    [`own_tokens_only`](crate::TokenAuthLayer::own_tokens_only) /
//!    [`issuers`](crate::TokenAuthLayer::issuers), the session flows: ours only);
//! 7. the `typ` header names an accepted kind (`at+jwt` for access tokens);
//! 8. the payload is JSON of the claims type (`sub`, `exp`, `iat`, `jti` required);
//! 9. `exp` (required), `nbf`, `iat` against the clock, with the leeway;
//! 10. `iss` equals the configured issuer exactly, when one is configured;
//! 11. `aud` contains the configured audience; without one configured, no `aud` allowed;
//! 12. `sub` and `jti` are not empty; the provider session the token's login went
//!     through, if it names one
//!     ([`PROVIDER_SESSION_CLAIM`](crate::token::PROVIDER_SESSION_CLAIM)), is kept as a
//!     key of its identity;
//! 13. (async, [`TokenAuth::validate`](crate::TokenAuth::validate)) the `jti` digest is not
//!     revoked, nor the subject (its generation or `iat` against its cutoff), nor the
//!     provider session it belongs to
//!     ([`store::external_revocation`](crate::store::external_revocation)).
//!
//! What comes out is one normalised verified token: the claims with their
//! [`origin`](crate::token::TokenClaims::origin), and its identity — the revocation
//! digest, the instant it stops being valid (`exp` plus the issuer's leeway, or the end
//! of a legacy window when that comes first), the `iat` a revoke-all compares (minus the
//! leeway), and its issuer's revocation rule. The layer, the verified-token cache,
//! [`TokenAuth::revoke`](crate::TokenAuth::revoke) and the session flows read these and
//! re-derive none of them. Revocation runs the same pipeline (time not checked), so
//! every token the layer accepts can be revoked, by exactly the key the layer looks up.
//!
//! A trusted external issuer's token, after step 3:
//!
//! - E1. the issuer has a usable key set (never fetched yet, or stale past its
//!   `max_stale` → 503 `temporarily_unavailable`, never 401);
//! - E2. the key with the token's `kid` *and* `alg` in that set; a known `kid` with
//!   another `alg` is refused; an unknown `kid` causes at most one shared refetch
//!   (async paths; within the issuer's refetch budget — a small burst refilled every
//!   `refetch_interval`, a missing `kid` at most once per 30 s — so random `kid`s cannot
//!   starve a real rotation), then is refused;
//! - E3. (implied by E2) the key's one algorithm is the header's; HMAC never, so a token
//!   "signed" with the provider's public key as an HMAC secret has no key;
//! - E4. the signature verifies;
//! - E5. `typ` is `at+jwt`, or `JWT`/absent unless the issuer requires `at+jwt`;
//! - E6. the payload is a JSON object;
//! - E7. `exp` (required), `nbf`, `iat` with the issuer's leeway;
//! - E8. the issuer's required claims, an accepted audience (from its audience claim),
//!   a valid `sub`; then scopes mapped from its scope claims (never a wildcard: `*` or a
//!   prefixed `group:*` is dropped), the tenant from the configured tenant claim only,
//!   session-only claims dropped, the step-up claims (`acr` from the issuer's
//!   `acr_claim`, `amr`, `auth_time`) kept only in their shapes and grammar, a numeric
//!   `jti` in decimal, and for a token without
//!   one an id derived from its signed part `header.payload` (never the signature: ECDSA
//!   signatures are malleable);
//! - E9. the rewritten claims decode as the claims type; revocation (step 13) is looked
//!   up by issuer and id together with the issuer's subject (never the raw `sub`: a
//!   provider's `alice` is not ours), then by the provider's session (`sid`, when it is
//!   a valid id), both keys in the issuer's own key space, decided here once
//!   ([`store::external_revocation`](crate::store::external_revocation)), unless the
//!   issuer is configured without it, with the issuer's store-failure policy.
//!
//! A token of a legacy format ([`LegacyIssuer`], a migration window), after step 3:
//!
//! - L1. its `typ` is `JWT` or absent, its `iss` names no external issuer, and a legacy
//!   issuer's own key (of the header's `alg`) verifies its signature;
//! - L2. the payload is a JSON object; L3. `exp` (required), `nbf`, `iat` with the leeway;
//! - L4. the window is open; the format's claims map onto ours (subject, tenant, scopes
//!   one element at a time, kind from the format's own marker), its
//!   `iss`/`aud` as configured; the kind is accepted;
//! - L5. its id and revocation digest, decided by its format (by its id, or the
//!   SHA-256 of the whole token; see [`LegacyIssuer`]); the token stops at
//!   its `exp` or the window's end, whichever is first;
//! - L6. the rewritten claims decode as the claims type.
//!
//! A token that is not a JWT (steps 2–3 find no three parts with a JSON header), when
//! one trusted issuer introspects opaque tokens
//! (`Issuer::introspection`, feature `oidc`):
//!
//! - I1. the caller accepts access tokens of that issuer (else malformed, no call);
//! - I2. (async) one call to its introspection endpoint, shared by concurrent requests
//!   with the same token, within its timeout; no answer, a non-`200`, a body too large,
//!   not a JSON object (or, when asked for, not a JWT response signed by the issuer's
//!   keys with `typ: token-introspection+jwt`, its `iss` and our client id as `aud`) →
//!   503 `temporarily_unavailable`, never 401;
//! - I3. `active` is `true` (else 401: inactive);
//! - I4. `iss`, when present, is the issuer's; `token_type`, when present, is `Bearer`
//!   or `DPoP`; not a refresh token by `token_use` (Hydra) or `typ` (Keycloak);
//! - I5. `exp` (when absent: now + the cache bound), `nbf`, `iat` with the issuer's
//!   leeway;
//! - I6. the issuer's E8 (required claims, audience, scopes, tenant), `sub` defaulting
//!   to `client:` + `client_id` (a client's token never passes for a user's); the id is `t.` + base64url(SHA-256 of the token), never the token;
//! - I7. the claims type, `cnf` as for a JWT; the token stops at `exp` plus the leeway
//!   or at now + the cache bound, whichever is first.

use std::borrow::Cow;
use std::cell::RefCell;
use std::rc::Rc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm;
use serde::Deserialize;
use serde::de::{DeserializeOwned, IgnoredAny};

use crate::store::breaker::StoreGuard;
use crate::store::external_revocation;
use crate::store::{
    RevocationCheck, RevocationNotes, StoreFailurePolicy, SubjectRevocation, TokenDigest,
};
use crate::token::claims::{
    Audience, ClaimsView, ProviderSession, TokenClaims, TokenKind, TokenOrigin,
};
use crate::token::clock::Clock;
use crate::token::error::InvalidToken;
use crate::token::issue::is_valid_id;
use crate::token::keys::Key;
use crate::trust::TrustedIssuers;
use crate::trust::bound::Bound;
use crate::trust::check::TokenCheck;
use crate::trust::external::KeyMiss;
use crate::trust::keyring::LiveKeyring;
use crate::trust::{LegacyIssuer, TrustedIssuer};
use sha2::{Digest as _, Sha256};
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

/// Everything verification reads: our live keyring, the trusted and legacy issuers, the
/// revocation store and the clock. Built once by the builder; [`TokenAuth`](crate::TokenAuth)
/// and the layer share it.
pub(crate) struct Verifier {
    pub(crate) keys: LiveKeyring,
    pub(crate) trusted: TrustedIssuers,
    pub(crate) legacy: Vec<LegacyIssuer>,
    /// Bumped whenever a key stops being trusted (retired from our keyring, dropped
    /// from an external set): cached verdicts made before are void.
    pub(crate) trust_epoch: Arc<AtomicU64>,
    pub(crate) settings: VerifySettings,
    pub(crate) revocation: Arc<dyn SubjectRevocation>,
    /// The same store, when it keeps revocation notes (registered with
    /// `revocation_store_with_notes`).
    pub(crate) revocation_notes: Option<Arc<dyn RevocationNotes>>,
    /// The revocation store's guard (breaker, timeouts), shared with `Sessions` over the
    /// same handle; `None` when stores are not guarded.
    pub(crate) revocation_guard: Option<StoreGuard>,
    pub(crate) clock: Arc<dyn Clock>,
    /// DPoP, when configured: proofs, nonces, the replay cache, the default policy.
    pub(crate) dpop: Option<Arc<crate::trust::dpop::Dpop>>,
    /// The logout-token and security-event receivers' settings.
    pub(crate) events: crate::trust::events::EventSettings,
}

/// The policy of the checks: our issuer and audience, the leeway, the size limit and
/// what a store failure means.
#[derive(Debug)]
pub(crate) struct VerifySettings {
    pub(crate) issuer: Option<String>,
    pub(crate) audience: Option<String>,
    pub(crate) leeway: u64,
    pub(crate) max_token_bytes: usize,
    pub(crate) failure_policy: StoreFailurePolicy,
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("keys", &self.keys)
            .field("trusted", &self.trusted)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// Why verification refused a token: the error of
/// [`TokenAuth::validate`](crate::TokenAuth::validate)(crate::TokenAuth::validate) and its siblings. It knows no HTTP;
/// [`AuthError`](crate::AuthError) converts from it (401 `invalid_token`, or 503 for the
/// two outages), so `?` works in a handler returning `AuthError`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The token is bad, expired, revoked or of the wrong kind.
    #[error("invalid token: {0}")]
    InvalidToken(InvalidToken),
    /// The key set of the token's (external) issuer is unavailable now, or its
    /// introspection endpoint gave no usable answer.
    #[error("the key set of the token's issuer is unavailable")]
    KeysUnavailable,
    /// The revocation store cannot answer and the policy is to fail closed.
    #[error("the revocation store is unavailable")]
    StoreUnavailable,
}

impl From<InvalidToken> for VerifyError {
    fn from(e: InvalidToken) -> Self {
        VerifyError::InvalidToken(e)
    }
}

/// The JOSE header fields this crate reads.
#[derive(Deserialize)]
struct JoseHeader<'a> {
    #[serde(borrow)]
    alg: Cow<'a, str>,
    #[serde(default, borrow)]
    typ: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    kid: Option<Cow<'a, str>>,
    #[serde(default)]
    crit: Option<IgnoredAny>,
}

/// The registered claims checked on any JWT (used by [`TokenAuth::verify_jwt`](crate::TokenAuth::verify_jwt)).
#[derive(Deserialize)]
struct TimeAndParty {
    exp: Option<u64>,
    nbf: Option<u64>,
    iat: Option<u64>,
    iss: Option<String>,
    aud: Option<Audience>,
}

/// A set of accepted token kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct KindSet(u8);

impl KindSet {
    pub(crate) const fn of(kind: TokenKind) -> Self {
        KindSet(1 << kind as u8)
    }
    pub(crate) const fn with(self, kind: TokenKind) -> Self {
        KindSet(self.0 | 1 << kind as u8)
    }
    /// Every kind (revocation, [`TokenCheck::ANY_KIND`]).
    pub(crate) const fn all() -> Self {
        KindSet::of(TokenKind::Access)
            .with(TokenKind::Refresh)
            .with(TokenKind::Service)
    }
    pub(crate) const fn contains(self, kind: TokenKind) -> bool {
        self.0 & (1 << kind as u8) != 0
    }
    /// The kind named in errors: the first accepted one.
    fn primary(self) -> TokenKind {
        [TokenKind::Access, TokenKind::Refresh, TokenKind::Service]
            .into_iter()
            .find(|k| self.contains(*k))
            .unwrap_or(TokenKind::Access)
    }
}

/// A token split into its parts, the payload decoded (nothing verified yet).
pub(crate) struct Parts<'t> {
    /// The base64url header, decoded by [`Verifier::parsed_header`].
    pub(crate) h64: &'t str,
    /// `header.payload`, the signed message.
    pub(crate) message: &'t str,
    pub(crate) signature: &'t str,
    pub(crate) payload: Vec<u8>,
}

/// The header fields the checks use, after step 3.
pub(crate) struct Header<'h> {
    pub(crate) alg: Algorithm,
    pub(crate) typ: Option<Cow<'h, str>>,
    pub(crate) kid: Option<Cow<'h, str>>,
}

/// A token whose signature verified, before its claims are read.
struct Verified {
    payload: Vec<u8>,
}

/// A token that passed every offline check (steps 1–12, E1–E9 or L1–L6): the one
/// normalised verified token. Its claims (their [`origin`](TokenClaims::origin) set), the
/// claims JSON (rewritten into the crate's format for external and legacy tokens, from
/// which [`Claims<U>`](crate::Claims) decodes any other claims type) and its
/// [`TokenIdentity`]. The layer, the verified-token cache, revocation and the session
/// routes read these; none of them re-derives any of it.
pub(crate) struct Accepted<T> {
    pub(crate) claims: TokenClaims<T>,
    pub(crate) payload: Arc<[u8]>,
    pub(crate) identity: TokenIdentity,
    /// The legacy format of a legacy token (its origin says `Legacy`).
    pub(crate) legacy: Option<crate::trust::LegacyFormat>,
}

/// What revocation and the verified-token cache know of a verified token, decided once
/// by verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TokenIdentity {
    /// The stable revocation identity: never derived from the signature or from a
    /// spelling an attacker can vary (our `jti`; an external issuer's `iss` and id; a
    /// legacy format's id).
    pub(crate) digest: TokenDigest,
    /// The instant (seconds since the epoch) from which the token is refused: its `exp`
    /// plus its issuer's leeway, or the end of its legacy window when that comes first.
    pub(crate) until: u64,
    /// The `iat` a revoke-all cutoff compares: the token's `iat` minus its issuer's
    /// leeway, so a token from a clock running ahead (within the leeway) is still
    /// issued "before" a revoke-all made now.
    pub(crate) issued_at: u64,
    /// Whether and how the revocation store is consulted for it.
    pub(crate) revocation: RevocationRule,
    /// Whether its `cnf` binds it to a key (DPoP key, client certificate): a request must
    /// prove it ([`Bound::confirm`]). A flag (it fits in this struct's padding, so the
    /// verified-token cache's entries do not grow); the binding itself is read from the
    /// claims' `cnf`, which verification checked ([`Bound::of`]).
    pub(crate) bound: bool,
    /// Its keys in the external revocation key space: a trusted issuer's token (E9), or
    /// one of ours started from a provider login (step 12); none for every other token,
    /// whose check is then exactly its digest and subject. (One pointer: it fits in the
    /// verified-token cache entry's padding.)
    pub(crate) external: Option<Arc<ExternalKeys>>,
}

impl TokenIdentity {
    /// The subject whose cutoff refuses this token: a trusted issuer's subject in that
    /// issuer's key space, else `sub` itself. What step 13 checks, and what a revocation
    /// of this token counts against (a bounded store may turn it into a cutoff of this
    /// subject).
    pub(crate) fn revocation_subject<'a>(&'a self, sub: &'a str) -> &'a str {
        self.external_subject().unwrap_or(sub)
    }

    #[inline]
    fn external_subject(&self) -> Option<&str> {
        self.external.as_deref()?.subject.as_deref()
    }

    #[inline]
    fn session_key(&self) -> Option<&str> {
        self.external.as_deref()?.session.as_deref()
    }
}

/// A token's keys in the external revocation key space
/// ([`store::external_revocation`](crate::store::external_revocation)), decided once by
/// verification and checked at step 13 with the rest of its identity: the layer's cache
/// hits re-check them without deriving anything.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ExternalKeys {
    /// A trusted issuer's token: its subject's key, checked *instead of* its raw `sub`
    /// (an identity provider's `alice` is not ours). None for our own tokens.
    subject: Option<Box<str>>,
    /// The provider session the token belongs to: a trusted issuer's `sid`, or the
    /// [`PROVIDER_SESSION_CLAIM`](crate::token::PROVIDER_SESSION_CLAIM) of one of our tokens.
    session: Option<Box<str>>,
}

impl ExternalKeys {
    /// The keys of a trusted issuer `iss`'s token for `sub`, in session `sid` if any.
    fn of_issuer(iss: &str, sub: &str, sid: Option<&str>) -> Arc<Self> {
        Arc::new(ExternalKeys {
            subject: Some(external_revocation::subject_key(iss, sub).into()),
            session: sid.map(|sid| external_revocation::session_key(iss, sid).into()),
        })
    }

    /// The keys of one of our tokens whose payload links it to a provider session
    /// ([`PROVIDER_SESSION_CLAIM`](crate::token::PROVIDER_SESSION_CLAIM)); none when it carries no (valid) link. We wrote the
    /// payload (its signature verified), so the claim's name is spelled as we spell it:
    /// a token without it costs one scan of its payload, no parse.
    fn of_own(payload: &[u8]) -> Option<Arc<Self>> {
        let name = PROVIDER_SESSION_NAME;
        if !payload.windows(name.len()).any(|w| w == name) {
            return None;
        }
        #[derive(Deserialize)]
        struct Link {
            #[serde(rename = "idp_session")]
            link: Option<ProviderSession>,
        }
        let link = serde_json::from_slice::<Link>(payload).ok()?.link?;
        (is_valid_id(&link.iss) && is_valid_id(&link.sid)).then(|| {
            Arc::new(ExternalKeys {
                subject: None,
                session: Some(external_revocation::session_key(&link.iss, &link.sid).into()),
            })
        })
    }
}

/// [`PROVIDER_SESSION_CLAIM`](crate::token::PROVIDER_SESSION_CLAIM) as written in a payload.
const PROVIDER_SESSION_NAME: &[u8] = b"\"idp_session\"";

/// Whether a token's revocation is checked, and what a store failure means for it (per
/// issuer: [`Issuer::on_store_failure`](crate::trust::Issuer::on_store_failure)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RevocationRule {
    pub(crate) check: bool,
    pub(crate) on_failure: StoreFailurePolicy,
}

/// Which signers a caller accepts (the layer's
/// [`own_tokens_only`](crate::TokenAuthLayer::own_tokens_only) and
/// [`issuers`](crate::TokenAuthLayer::issuers)): checked right after the signature, so
/// a cached verdict was made under the same filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OriginFilter {
    /// Every signer the handle trusts (no allow-list yet).
    any: bool,
    own: bool,
    legacy: bool,
    issuers: Vec<Arc<str>>,
}

impl Default for OriginFilter {
    fn default() -> Self {
        OriginFilter::ANY
    }
}

impl OriginFilter {
    /// Every signer the handle trusts.
    pub(crate) const ANY: OriginFilter = OriginFilter {
        any: true,
        own: false,
        legacy: false,
        issuers: Vec::new(),
    };

    /// The first restriction starts an empty allow-list.
    fn restricted(mut self) -> Self {
        self.any = false;
        self
    }

    /// The filter admitting own tokens too.
    pub(crate) fn with_own(self) -> Self {
        OriginFilter {
            own: true,
            ..self.restricted()
        }
    }

    /// The filter admitting legacy formats too (the session flows' migration paths).
    pub(crate) fn with_legacy(self) -> Self {
        OriginFilter {
            legacy: true,
            ..self.restricted()
        }
    }

    /// A shared filter with own tokens added (the layers' `own_tokens_only`).
    pub(crate) fn add_own(this: &Arc<Self>) -> Arc<Self> {
        Arc::new(Self::clone(this).with_own())
    }

    /// A shared filter with these issuers added (the layers' `issuers`).
    pub(crate) fn add_issuers<I, S>(this: &Arc<Self>, issuers: I) -> Arc<Self>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Arc::new(Self::clone(this).with_issuers(issuers.into_iter().map(|i| Arc::from(i.as_ref()))))
    }

    /// The filter admitting these external issuers too.
    pub(crate) fn with_issuers(self, more: impl IntoIterator<Item = Arc<str>>) -> Self {
        let mut this = self.restricted();
        this.issuers.extend(more);
        this
    }

    fn admits(&self, signer: &Signer<'_>) -> bool {
        match signer {
            Signer::Own => self.admits_origin(&TokenOrigin::Own),
            Signer::Legacy(_) => self.admits_origin(&TokenOrigin::Legacy),
            Signer::External(i) => self.any || self.admits_issuer(&i.iss),
        }
    }

    fn admits_issuer(&self, iss: &str) -> bool {
        self.issuers.iter().any(|a| **a == *iss)
    }

    /// Whether a verified token of `origin` passes (the scope guard's check on claims
    /// the layer verified).
    pub(crate) fn admits_origin(&self, origin: &TokenOrigin) -> bool {
        self.any
            || match origin {
                TokenOrigin::Own => self.own,
                TokenOrigin::Legacy => self.legacy,
                TokenOrigin::Issuer(iss) => self.admits_issuer(iss),
            }
    }
}

/// What a caller accepts: the kinds, the signers, and whether the time claims are
/// checked (they are not only for revocation, which must also reach an expired token's
/// identity).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Acceptance<'a> {
    pub(crate) kinds: KindSet,
    pub(crate) origins: &'a OriginFilter,
    pub(crate) timed: bool,
}

impl Acceptance<'static> {
    /// Tokens of `kinds` from any trusted signer, time checked.
    pub(crate) fn kinds(kinds: KindSet) -> Self {
        static ANY: OriginFilter = OriginFilter::ANY;
        Acceptance {
            kinds,
            origins: &ANY,
            timed: true,
        }
    }
}

/// Why verification did not accept a token.
pub(crate) enum Refusal {
    /// 401 (or 400) with this reason.
    Token(InvalidToken),
    /// The token's issuer has no usable key set now: 503.
    KeysUnavailable,
    /// An external issuer's `kid` is unknown and its refetch budget allows a fetch (or
    /// one is in flight): wait for it, then verify once more.
    #[cfg(feature = "oidc")]
    Refetch(std::sync::Arc<crate::trust::remote::RemoteKeys>, u64),
    /// A token that is not a JWT, of the issuer that introspects opaque tokens (I1
    /// passed): ask its endpoint, then map the answer (I2–I7).
    #[cfg(feature = "oidc")]
    Introspect,
}

impl From<InvalidToken> for Refusal {
    fn from(e: InvalidToken) -> Self {
        Refusal::Token(e)
    }
}

impl From<KeyMiss> for Refusal {
    fn from(m: KeyMiss) -> Self {
        match m {
            KeyMiss::Token(e) => Refusal::Token(e),
            KeyMiss::Unavailable => Refusal::KeysUnavailable,
            #[cfg(feature = "oidc")]
            KeyMiss::Refetch(r, v) => Refusal::Refetch(r, v),
        }
    }
}

/// Who signed a token, after its signature verified.
enum Signer<'a> {
    Own,
    External(&'a TrustedIssuer),
    Legacy(&'a LegacyIssuer),
}

/// The `iss` of a payload, read only to choose a key set (step 4).
pub(crate) fn peek_issuer(payload: &[u8]) -> Option<Cow<'_, str>> {
    #[derive(Deserialize)]
    struct Peek<'a> {
        #[serde(default, borrow)]
        iss: Option<Cow<'a, str>>,
    }
    serde_json::from_slice::<Peek<'_>>(payload).ok()?.iss
}

impl Verifier {
    /// Steps 1–3: size, three canonical base64url parts, the header.
    pub(crate) fn split<'t>(&self, token: &'t str) -> Result<Parts<'t>, InvalidToken> {
        if token.len() > self.settings.max_token_bytes {
            return Err(InvalidToken::TooLarge);
        }
        let mut parts = token.split('.');
        let (Some(h64), Some(p64), Some(s64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(InvalidToken::Malformed);
        };
        let payload = URL_SAFE_NO_PAD
            .decode(p64)
            .map_err(|_| InvalidToken::Malformed)?;
        Ok(Parts {
            h64,
            message: &token[..h64.len() + 1 + p64.len()],
            signature: s64,
            payload,
        })
    }

    /// Steps 2–3 for the header part: [`header`](Self::header) of its base64url decoding,
    /// remembered for the next token on this thread with the same header part (every
    /// token of one key and kind has the same): a pure function of the part's bytes, so
    /// the memo changes no outcome, only skips a base64 decoding and a JSON parse.
    pub(crate) fn parsed_header(h64: &str) -> Result<Rc<Header<'static>>, InvalidToken> {
        thread_local! {
            static LAST: RefCell<Option<(Box<str>, Rc<Header<'static>>)>> =
                const { RefCell::new(None) };
        }
        let memo = LAST.with_borrow(|last| {
            last.as_ref()
                .filter(|(part, _)| **part == *h64)
                .map(|(_, header)| Rc::clone(header))
        });
        if let Some(header) = memo {
            return Ok(header);
        }
        let json = URL_SAFE_NO_PAD
            .decode(h64)
            .map_err(|_| InvalidToken::Malformed)?;
        let header = Self::header(&json)?;
        let header = Rc::new(Header {
            alg: header.alg,
            typ: header.typ.map(|t| Cow::Owned(t.into_owned())),
            kid: header.kid.map(|k| Cow::Owned(k.into_owned())),
        });
        LAST.with_borrow_mut(|last| *last = Some((h64.into(), Rc::clone(&header))));
        Ok(header)
    }

    /// Step 3: the header is JSON with a known `alg` and no `crit`.
    fn header(header_json: &[u8]) -> Result<Header<'_>, InvalidToken> {
        let header: JoseHeader<'_> =
            serde_json::from_slice(header_json).map_err(|_| InvalidToken::Malformed)?;
        if header.crit.is_some() {
            return Err(InvalidToken::UnsupportedCritical);
        }
        let alg: Algorithm = header
            .alg
            .parse()
            .map_err(|_| InvalidToken::AlgorithmMismatch)?;
        Ok(Header {
            alg,
            typ: header.typ,
            kid: header.kid,
        })
    }

    /// Steps 4–6 (E1–E4 for external issuers): the issuer by `iss` (only to choose a key
    /// set), the key by `kid` within that issuer's set, the algorithm, the signature.
    fn check_signature<'a>(
        &'a self,
        parts: &Parts<'_>,
        header: &Header<'_>,
    ) -> Result<Signer<'a>, Refusal> {
        let trusted = &self.trusted;
        let external = if trusted.is_empty() {
            None
        } else {
            peek_issuer(&parts.payload).and_then(|iss| trusted.find(&iss))
        };
        let kid = header.kid.as_deref();
        // L1: a legacy format's token says `typ: JWT` or nothing (ours never do) and is
        // verified only by a legacy issuer's own key.
        if external.is_none() && !self.legacy.is_empty() {
            let plain = header
                .typ
                .as_deref()
                .is_none_or(|t| t.eq_ignore_ascii_case("JWT"));
            if plain {
                let legacy = self.legacy.iter().find(|l| {
                    l.key.alg == header.alg
                        && l.key.verify(parts.message.as_bytes(), parts.signature)
                });
                if let Some(l) = legacy {
                    return Ok(Signer::Legacy(l));
                }
            }
        }
        let verified = match external {
            None => {
                let ring = self.keys.load();
                let key: &Key = ring.find(kid).ok_or(InvalidToken::UnknownKey)?;
                if header.alg != key.alg {
                    return Err(InvalidToken::AlgorithmMismatch.into());
                }
                key.verify(parts.message.as_bytes(), parts.signature)
            }
            Some(issuer) => {
                issuer.verify_signature(kid, header.alg, parts.message, parts.signature)?
            }
        };
        if !verified {
            return Err(InvalidToken::BadSignature.into());
        }
        Ok(external.map_or(Signer::Own, Signer::External))
    }

    /// Steps 1–6 for the crate's own tokens only (sessions, revocation by `jti`).
    fn verify_signature(&self, token: &str) -> Result<Verified, InvalidToken> {
        let parts = self.split(token)?;
        let header = Self::parsed_header(parts.h64)?;
        let ring = self.keys.load();
        let key: &Key = ring
            .find(header.kid.as_deref())
            .ok_or(InvalidToken::UnknownKey)?;
        if header.alg != key.alg {
            return Err(InvalidToken::AlgorithmMismatch);
        }
        if !key.verify(parts.message.as_bytes(), parts.signature) {
            return Err(InvalidToken::BadSignature);
        }
        Ok(Verified {
            payload: parts.payload,
        })
    }

    /// Every offline check of a token of our own, of a trusted issuer or of a legacy
    /// format: steps 1–12, 1–3 and E1–E9, or 1–3 and L1–L6. The one pipeline: the
    /// layer, `validate`, revocation and the session routes all come through here.
    pub(crate) fn verify_token<T: DeserializeOwned>(
        &self,
        token: &str,
        acceptance: &Acceptance<'_>,
    ) -> Result<Accepted<T>, Refusal> {
        let parts = self
            .split(token)
            .map_err(|e| self.not_a_jwt(e, acceptance))?;
        let header = Self::parsed_header(parts.h64).map_err(|e| self.not_a_jwt(e, acceptance))?;
        let signer = self.check_signature(&parts, &header)?;
        if !acceptance.origins.admits(&signer) {
            return Err(InvalidToken::WrongIssuer.into());
        }
        match signer {
            Signer::Own => {
                let mut claims =
                    self.own_claims::<T>(header.typ.as_deref(), &parts.payload, acceptance.kinds)?;
                if acceptance.timed {
                    self.check_claims(&claims)?;
                } else {
                    self.check_party(claims.iss.as_deref(), claims.aud.as_ref())?;
                }
                claims.origin = TokenOrigin::Own;
                let bound = Bound::of(claims.cnf.as_deref())?.is_bound();
                Ok(Accepted {
                    identity: TokenIdentity {
                        bound,
                        digest: TokenDigest::of_jti(&claims.jti),
                        until: self.own_until(claims.exp),
                        issued_at: claims.iat.saturating_sub(self.settings.leeway),
                        revocation: self.own_revocation(),
                        // Step 12: the provider session it was started from, if any.
                        external: ExternalKeys::of_own(&parts.payload),
                    },
                    claims,
                    payload: parts.payload.into(),
                    legacy: None,
                })
            }
            Signer::External(issuer) => self.external_claims(
                issuer,
                header.typ.as_deref(),
                parts.payload,
                parts.message,
                acceptance,
            ),
            Signer::Legacy(legacy) => {
                self.legacy_claims(legacy, &parts.payload, token, parts.message, acceptance)
            }
        }
    }

    /// A token refused at steps 1–3 for `e`: when it is not a JWT (malformed) and an
    /// issuer introspects opaque tokens, I1 and the request to introspect it.
    #[cold]
    fn not_a_jwt(
        &self,
        e: InvalidToken,
        #[cfg_attr(not(feature = "oidc"), allow(unused_variables))] acceptance: &Acceptance<'_>,
    ) -> Refusal {
        #[cfg(feature = "oidc")]
        if e == InvalidToken::Malformed
            && let Some(issuer) = self.trusted.introspecting()
            && acceptance.origins.admits(&Signer::External(issuer))
            && acceptance.kinds.contains(TokenKind::Access)
        {
            return Refusal::Introspect;
        }
        e.into()
    }

    /// I2–I7: the token asked about at the introspecting issuer's endpoint (one call
    /// shared by concurrent requests with the same token), its answer mapped into
    /// claims as a JWT of that issuer's.
    #[cfg(feature = "oidc")]
    pub(crate) async fn verify_after_introspection<T: DeserializeOwned>(
        &self,
        token: &str,
        acceptance: &Acceptance<'_>,
    ) -> Result<Accepted<T>, VerifyError> {
        let Some((issuer, introspector)) = self
            .trusted
            .introspecting()
            .and_then(|i| Some((i, i.introspector.as_deref()?)))
        else {
            return Err(self.rejected(InvalidToken::Malformed));
        };
        let unavailable = |why: &dyn fmt::Display| {
            tracing::warn!(issuer = %issuer.iss, error = %why, "token introspection failed");
            crate::telemetry::validation_refused("keys_unavailable");
            VerifyError::KeysUnavailable
        };
        let body = introspector
            .introspect(token)
            .await
            .map_err(|e| unavailable(&e))?;
        let keys;
        let jwt = if introspector.jwt_response {
            keys = issuer
                .key_set()
                .map_err(|_| unavailable(&"the issuer's keys are unavailable"))?;
            Some(crate::trust::introspect::response::JwtCheck {
                keys: &keys,
                iss: &issuer.iss,
                client_id: introspector.client_id(),
            })
        } else {
            None
        };
        let answer = crate::trust::introspect::response::introspection_object(&body, jwt)
            .map_err(|e| unavailable(&e))?;
        self.introspected_claims(
            issuer,
            introspector.max_cache_ttl,
            answer,
            token,
            acceptance,
        )
        .map_err(|r| self.refused(r))
    }

    /// I3–I7 on an introspection answer about `token`.
    #[cfg(feature = "oidc")]
    fn introspected_claims<T: DeserializeOwned>(
        &self,
        issuer: &TrustedIssuer,
        max_cache_ttl: u64,
        mut map: serde_json::Map<String, serde_json::Value>,
        token: &str,
        acceptance: &Acceptance<'_>,
    ) -> Result<Accepted<T>, Refusal> {
        use serde_json::Value;
        // I3: active.
        if map.get("active") != Some(&Value::Bool(true)) {
            return Err(InvalidToken::Inactive.into());
        }
        map.remove("active");
        // I4: its issuer, an access token.
        if map
            .get("iss")
            .is_some_and(|iss| iss.as_str() != Some(&*issuer.iss))
        {
            return Err(InvalidToken::WrongIssuer.into());
        }
        let access = map.get("token_type").is_none_or(|t| {
            t.as_str()
                .is_some_and(|t| t.eq_ignore_ascii_case("Bearer") || t.eq_ignore_ascii_case("DPoP"))
        });
        // A refresh token some providers answer for with `active: true`: by Hydra's
        // `token_use`, Keycloak's `typ`.
        let refresh = map
            .get("token_use")
            .and_then(Value::as_str)
            .is_some_and(|u| u.eq_ignore_ascii_case("refresh_token"))
            || map
                .get("typ")
                .and_then(Value::as_str)
                .is_some_and(|t| t.eq_ignore_ascii_case("Refresh"));
        if !access || refresh {
            return Err(InvalidToken::WrongKind {
                expected: TokenKind::Access,
            }
            .into());
        }
        // I5: exp (bounded when absent), nbf, iat with the issuer's leeway.
        let now = self.clock.now();
        let bound = now.saturating_add(max_cache_ttl);
        let time = |name: &str| map.get(name).and_then(numeric_date);
        let exp = time("exp").unwrap_or(bound);
        let iat = time("iat");
        if acceptance.timed {
            self.check_time(exp, time("nbf"), iat, issuer.leeway)?;
        }
        map.insert("exp".into(), exp.into());
        map.insert("iat".into(), iat.unwrap_or(now).into());
        map.insert("iss".into(), Value::String(issuer.iss.to_string()));
        // I6: sub defaults to the client (a client-credentials token), the id is the
        // token's hash; then the issuer's E8.
        // A client's own token (client credentials) has no `sub`: the client, in a
        // namespace of its own (`client:<id>`), so a client id never passes for a user.
        if !map.contains_key("sub")
            && let Some(client) = map.get("client_id").and_then(Value::as_str)
        {
            let sub = format!("client:{client}");
            map.insert("sub".into(), sub.into());
        }
        map.remove("jti");
        // I7: the issuer's E8 and E9, until exp + leeway or the cache bound.
        let until = exp.saturating_add(issuer.leeway).min(bound);
        self.issuer_accepted(issuer, map, token, iat, until)
    }

    /// Until when one of the crate's own tokens expiring at `exp` is accepted (the
    /// leeway included): what its identity says, and how long its revocation must last
    /// when only its `jti` and expiry are at hand (a session's access tokens).
    pub(crate) fn own_until(&self, exp: u64) -> u64 {
        exp.saturating_add(self.settings.leeway)
    }

    /// The revocation rule of the crate's own (and legacy) tokens: always checked, the
    /// handle's store-failure policy.
    fn own_revocation(&self) -> RevocationRule {
        RevocationRule {
            check: true,
            on_failure: self.settings.failure_policy,
        }
    }

    /// L2–L6: a legacy format's token after its signature verified (L1).
    fn legacy_claims<T: DeserializeOwned>(
        &self,
        legacy: &LegacyIssuer,
        payload: &[u8],
        token: &str,
        signed: &str,
        acceptance: &Acceptance<'_>,
    ) -> Result<Accepted<T>, Refusal> {
        // L2: a JSON object; L3: exp (required), nbf, iat with the leeway.
        let map: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(payload).map_err(|_| InvalidToken::InvalidClaims)?;
        let time = |name: &str| map.get(name).and_then(numeric_date);
        let exp = time("exp").ok_or(InvalidToken::InvalidClaims)?;
        let iat = time("iat");
        let leeway = self.settings.leeway;
        if acceptance.timed {
            self.check_time(exp, time("nbf"), iat, leeway)?;
        }
        // L4: the window and the format's claims mapped onto ours, its kind; L5: its
        // id and revocation digest, decided by its format.
        let (map, kind, digest) = legacy.normalize(map, token, signed, self.clock.now())?;
        if !acceptance.kinds.contains(kind) {
            return Err(InvalidToken::WrongKind {
                expected: acceptance.kinds.primary(),
            }
            .into());
        }
        // L6: the claims type.
        let payload = serde_json::to_vec(&map).map_err(|_| InvalidToken::InvalidClaims)?;
        let mut claims: TokenClaims<T> =
            serde_json::from_slice(&payload).map_err(|_| InvalidToken::InvalidClaims)?;
        claims.kind = kind;
        claims.origin = TokenOrigin::Legacy;
        // The token stops at its expiry or at the end of the window, whichever is first.
        let until = exp.saturating_add(leeway).min(legacy.until.unwrap_or(0));
        let bound = Bound::of(claims.cnf.as_deref())?.is_bound();
        Ok(Accepted {
            identity: TokenIdentity {
                bound,
                digest,
                until,
                issued_at: iat.unwrap_or(0).saturating_sub(leeway),
                revocation: self.own_revocation(),
                external: None,
            },
            claims,
            payload: payload.into(),
            legacy: Some(legacy.format),
        })
    }

    /// E5–E9: an external issuer's token after its signature verified.
    fn external_claims<T: DeserializeOwned>(
        &self,
        issuer: &TrustedIssuer,
        typ: Option<&str>,
        payload: Vec<u8>,
        message: &str,
        acceptance: &Acceptance<'_>,
    ) -> Result<Accepted<T>, Refusal> {
        let accepted = acceptance.kinds;
        // E5: an access token by its `typ` (RFC 9068), or `JWT`/none unless at+jwt is required.
        let plain = match typ {
            None => true,
            Some(t) => t.eq_ignore_ascii_case("JWT"),
        };
        let is_access = (plain && !issuer.require_at_jwt)
            || typ.and_then(TokenKind::from_typ) == Some(TokenKind::Access);
        if !is_access || !accepted.contains(TokenKind::Access) {
            return Err(InvalidToken::WrongKind {
                expected: accepted.primary(),
            }
            .into());
        }
        // E6: a JSON object.
        let map: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(&payload).map_err(|_| InvalidToken::InvalidClaims)?;
        // E7: exp (required), nbf, iat with the issuer's leeway.
        let time = |name: &str| map.get(name).and_then(numeric_date);
        let exp = time("exp").ok_or(InvalidToken::InvalidClaims)?;
        let iat = time("iat");
        if acceptance.timed {
            self.check_time(exp, time("nbf"), iat, issuer.leeway)?;
        }
        self.issuer_accepted(issuer, map, message, iat, exp.saturating_add(issuer.leeway))
    }

    /// E8–E9, for a trusted issuer's JWT and its introspection answer alike: required
    /// claims, audience, `sub`, the claims rewritten into our format with an id derived
    /// from `id_source` (the signed part, or the opaque token) when they carry none; the
    /// claims type; the identity, valid `until`, its revocation rule the issuer's.
    fn issuer_accepted<T: DeserializeOwned>(
        &self,
        issuer: &TrustedIssuer,
        map: serde_json::Map<String, serde_json::Value>,
        id_source: &str,
        iat: Option<u64>,
        until: u64,
    ) -> Result<Accepted<T>, Refusal> {
        // E8: required claims, audience, sub; the claims rewritten into our format, an
        // id derived from the signed part for a token without one.
        let (map, jti) = issuer.normalize(map, id_source)?;
        // E9: the claims type; its keys in the issuer's revocation key space: its subject
        // and the provider's session (`sid`, when it is a valid id; anything else reads
        // as none, so a provider's odd `sid` never refuses its token).
        let sid = map
            .get("sid")
            .and_then(serde_json::Value::as_str)
            .filter(|s| is_valid_id(s));
        let payload = serde_json::to_vec(&map).map_err(|_| InvalidToken::InvalidClaims)?;
        let mut claims: TokenClaims<T> =
            serde_json::from_slice(&payload).map_err(|_| InvalidToken::InvalidClaims)?;
        claims.kind = TokenKind::Access;
        claims.origin = TokenOrigin::Issuer(Arc::clone(&issuer.iss));
        let bound = Bound::of(claims.cnf.as_deref())?.is_bound();
        // Even when its revocation is not checked: revoking one of its tokens counts
        // against its issuer's subject key, never our user of that name.
        let external = Some(ExternalKeys::of_issuer(&issuer.iss, &claims.sub, sid));
        Ok(Accepted {
            identity: TokenIdentity {
                bound,
                external,
                digest: external_digest(&issuer.iss, &jti),
                until,
                issued_at: iat.unwrap_or(0).saturating_sub(issuer.leeway),
                revocation: RevocationRule {
                    check: issuer.check_revocation,
                    on_failure: issuer
                        .on_store_failure
                        .unwrap_or(self.settings.failure_policy),
                },
            },
            claims,
            payload: payload.into(),
            legacy: None,
        })
    }

    /// Step 9 (and E7): `exp`, `nbf`, `iat` against the clock, with `leeway`.
    pub(crate) fn check_time(
        &self,
        exp: u64,
        nbf: Option<u64>,
        iat: Option<u64>,
        leeway: u64,
    ) -> Result<(), InvalidToken> {
        let now = self.clock.now();
        if exp.saturating_add(leeway) <= now {
            return Err(InvalidToken::Expired);
        }
        if nbf.is_some_and(|nbf| nbf > now.saturating_add(leeway)) {
            return Err(InvalidToken::NotYetValid);
        }
        if iat.is_some_and(|iat| iat > now.saturating_add(leeway)) {
            return Err(InvalidToken::IssuedInFuture);
        }
        Ok(())
    }

    /// Steps 9–11 on one of our tokens' claims.
    fn check_claims<T>(&self, claims: &TokenClaims<T>) -> Result<(), InvalidToken> {
        self.check_time_and_party(
            claims.exp,
            claims.nbf,
            Some(claims.iat),
            claims.iss.as_deref(),
            claims.aud.as_ref(),
        )
    }

    /// Steps 9–11 on the time and party claims.
    fn check_time_and_party(
        &self,
        exp: u64,
        nbf: Option<u64>,
        iat: Option<u64>,
        iss: Option<&str>,
        aud: Option<&Audience>,
    ) -> Result<(), InvalidToken> {
        let s = &self.settings;
        self.check_time(exp, nbf, iat, s.leeway)?;
        self.check_party(iss, aud)
    }

    /// Steps 10–11: `iss` and `aud` (the party claims), also checked on the expired
    /// tokens that logout and the CSRF pre-check accept.
    pub(crate) fn check_party(
        &self,
        iss: Option<&str>,
        aud: Option<&Audience>,
    ) -> Result<(), InvalidToken> {
        let s = &self.settings;
        if let Some(expected) = &s.issuer
            && iss != Some(expected.as_str())
        {
            return Err(InvalidToken::WrongIssuer);
        }
        match (&s.audience, aud) {
            (Some(expected), Some(aud)) if aud.contains(expected) => {}
            (None, None) => {}
            _ => return Err(InvalidToken::WrongAudience),
        }
        Ok(())
    }

    /// Steps 7, 8 and 12: the kind from `typ`, the claims type, `sub` and `jti`.
    fn own_claims<T: DeserializeOwned>(
        &self,
        typ: Option<&str>,
        payload: &[u8],
        accepted: KindSet,
    ) -> Result<TokenClaims<T>, InvalidToken> {
        let kind = typ
            .and_then(TokenKind::from_typ)
            .filter(|k| accepted.contains(*k))
            .ok_or(InvalidToken::WrongKind {
                expected: accepted.primary(),
            })?;
        let mut claims: TokenClaims<T> =
            serde_json::from_slice(payload).map_err(|_| InvalidToken::InvalidClaims)?;
        claims.kind = kind;
        if !is_valid_id(&claims.sub) || !is_valid_id(&claims.jti) {
            return Err(InvalidToken::InvalidClaims);
        }
        Ok(claims)
    }

    /// Validates `token` as `check` describes: verification (steps 1–12, or E1–E9), then
    /// revocation (step 13) unless the check skips it. For a trusted issuer's token with
    /// an unknown `kid`, waits for one refetch of its key set unless the check says not to.
    pub(crate) async fn validate<T: DeserializeOwned>(
        &self,
        token: &str,
        check: TokenCheck,
    ) -> Result<TokenClaims<T>, VerifyError> {
        let acceptance = Acceptance::kinds(check.kinds);
        let accepted = if check.wait_for_keys {
            self.verify_token_waiting::<T>(token, &acceptance).await?
        } else {
            self.verify_now::<T>(token, &acceptance)?
        };
        // No request, no proof: a sender-constrained token is refused unless the caller
        // proves its key itself.
        if accepted.identity.bound && !check.bound_proven {
            return Err(InvalidToken::UnprovenBinding.into());
        }
        if check.revocation {
            self.check_revoked(Holder::of_claims(&accepted.claims), &accepted.identity)
                .await?;
        }
        Ok(accepted.claims)
    }

    /// [`verify_token`](Self::verify_token), waiting for one refetch of an external key
    /// set when the token's `kid` is unknown.
    pub(crate) async fn verify_token_waiting<T: DeserializeOwned>(
        &self,
        token: &str,
        acceptance: &Acceptance<'_>,
    ) -> Result<Accepted<T>, VerifyError> {
        match self.verify_token(token, acceptance) {
            #[cfg(feature = "oidc")]
            Err(Refusal::Refetch(remote, seen)) => {
                self.verify_after_refetch(token, acceptance, remote, seen)
                    .await
            }
            #[cfg(feature = "oidc")]
            Err(Refusal::Introspect) => self.verify_after_introspection(token, acceptance).await,
            other => other.map_err(|r| self.refused(r)),
        }
    }

    /// [`verify_token`](Self::verify_token) with its refusal as the error a client sees:
    /// never waits (an unknown `kid` of a trusted issuer is refused).
    pub(crate) fn verify_now<T: DeserializeOwned>(
        &self,
        token: &str,
        acceptance: &Acceptance<'_>,
    ) -> Result<Accepted<T>, VerifyError> {
        self.verify_token(token, acceptance)
            .map_err(|r| self.refused(r))
    }

    /// The rest of [`verify_token_waiting`](Self::verify_token_waiting) once
    /// [`verify_token`](Self::verify_token) asked for a refetch: waits for one shared
    /// refetch of `remote`'s key set, then verifies again without waiting (the layer,
    /// which verifies synchronously first, continues here).
    #[cfg(feature = "oidc")]
    pub(crate) async fn verify_after_refetch<T: DeserializeOwned>(
        &self,
        token: &str,
        acceptance: &Acceptance<'_>,
        remote: Arc<crate::trust::remote::RemoteKeys>,
        seen: u64,
    ) -> Result<Accepted<T>, VerifyError> {
        remote.refetch_unknown_kid(seen).await;
        self.verify_now(token, acceptance)
    }

    /// A refusal as the error a client sees (a refetch not waited for: unknown key).
    pub(crate) fn refused(&self, refusal: Refusal) -> VerifyError {
        match refusal {
            Refusal::Token(e) => self.rejected(e),
            Refusal::KeysUnavailable => {
                tracing::warn!("token of a trusted issuer whose keys are unavailable");
                crate::telemetry::validation_refused("keys_unavailable");
                VerifyError::KeysUnavailable
            }
            #[cfg(feature = "oidc")]
            Refusal::Refetch(..) => self.rejected(InvalidToken::UnknownKey),
            // Not waited for: the token cannot be judged without its issuer's answer.
            #[cfg(feature = "oidc")]
            Refusal::Introspect => self.rejected(InvalidToken::Malformed),
        }
    }

    /// Step 13: refuses a revoked token id or an outdated subject generation (and fails
    /// closed when the store is down, unless the token's issuer says otherwise).
    pub(crate) async fn check_revoked(
        &self,
        holder: Holder<'_>,
        identity: &TokenIdentity,
    ) -> Result<(), VerifyError> {
        if let Some(verdict) = self.revoked_now(holder, identity) {
            return verdict;
        }
        let revoked = self.revoked_in_store(holder, identity).await;
        self.revocation_verdict(revoked, identity)
    }

    /// The store's answer, awaited: the token's digest and subject (a trusted issuer's
    /// subject in its key space), then the provider session it belongs to, if any
    /// ([`store::external_revocation`](crate::store::external_revocation)).
    async fn revoked_in_store(
        &self,
        holder: Holder<'_>,
        identity: &TokenIdentity,
    ) -> Result<bool, crate::store::StoreError> {
        let revoked = self
            .revocation
            .check(&revocation_check(holder, identity))
            .await?;
        match identity.session_key() {
            Some(key) if !revoked => self.revocation.check(&session_check(key, identity)).await,
            _ => Ok(revoked),
        }
    }

    /// The store's answer without waiting (see [`revoked_in_store`](Self::revoked_in_store)),
    /// `None` as soon as one of its lookups must be awaited.
    #[inline]
    fn revoked_in_store_now(
        &self,
        holder: Holder<'_>,
        identity: &TokenIdentity,
    ) -> Option<Result<bool, crate::store::StoreError>> {
        let revoked = self
            .revocation
            .check_now(&revocation_check(holder, identity))?;
        match (&revoked, identity.session_key()) {
            (Ok(false), Some(key)) => self.revocation.check_now(&session_check(key, identity)),
            _ => Some(revoked),
        }
    }

    /// [`check_revoked`](Self::check_revoked) without waiting: its verdict when the
    /// store has the answer at hand (a local replica, the memory store) or the token's
    /// issuer skips the check; `None` when it must be awaited. The layer's synchronous
    /// path.
    #[inline]
    pub(crate) fn revoked_now(
        &self,
        holder: Holder<'_>,
        identity: &TokenIdentity,
    ) -> Option<Result<(), VerifyError>> {
        let revoked = if identity.revocation.check {
            self.revoked_in_store_now(holder, identity)?
        } else {
            Ok(false)
        };
        Some(self.revocation_verdict(revoked, identity))
    }

    /// Turns a revocation lookup into the layer's verdict (fail closed on store errors).
    pub(crate) fn revocation_verdict(
        &self,
        revoked: Result<bool, crate::store::StoreError>,
        identity: &TokenIdentity,
    ) -> Result<(), VerifyError> {
        let digest = &identity.digest;
        match revoked {
            Ok(false) => {
                crate::telemetry::validation_accepted(false);
                Ok(())
            }
            Ok(true) => {
                tracing::debug!(jti_digest = %digest.short(), "revoked token refused");
                crate::telemetry::validation_refused("revoked");
                Err(VerifyError::InvalidToken(InvalidToken::Revoked))
            }
            Err(e) => match identity.revocation.on_failure {
                StoreFailurePolicy::FailOpen => {
                    tracing::warn!(jti_digest = %digest.short(), error = %e, "revocation check failed; accepting (fail open)");
                    crate::telemetry::validation_accepted(true);
                    Ok(())
                }
                _ => {
                    tracing::warn!(jti_digest = %digest.short(), error = %e, "revocation check failed; refusing (fail closed)");
                    crate::telemetry::validation_refused("store_unavailable");
                    Err(VerifyError::StoreUnavailable)
                }
            },
        }
    }

    pub(crate) fn rejected(&self, reason: InvalidToken) -> VerifyError {
        tracing::debug!(%reason, "token rejected");
        crate::telemetry::validation_refused(crate::telemetry::reason_name(&reason));
        VerifyError::InvalidToken(reason)
    }

    /// Verifies any JWT signed by a key of the keyring, whatever its format: signature,
    /// algorithm, `exp` (required), `nbf`, `iat`, `iss` and `aud` as configured. No kind,
    /// `sub` or `jti` is required and revocation is not checked; use it for interop with
    /// tokens this crate did not mint.
    pub(crate) fn verify_jwt<T: DeserializeOwned>(&self, token: &str) -> Result<T, VerifyError> {
        let verified = self.verify_signature(token).map_err(|e| self.rejected(e))?;
        let party: TimeAndParty = serde_json::from_slice(&verified.payload)
            .map_err(|_| self.rejected(InvalidToken::InvalidClaims))?;
        let exp = party
            .exp
            .ok_or_else(|| self.rejected(InvalidToken::InvalidClaims))?;
        self.check_time_and_party(
            exp,
            party.nbf,
            party.iat,
            party.iss.as_deref(),
            party.aud.as_ref(),
        )
        .map_err(|e| self.rejected(e))?;
        serde_json::from_slice(&verified.payload)
            .map_err(|_| self.rejected(InvalidToken::InvalidClaims))
    }
}

/// The revocation digest of an external token: issuer and id together, so an issuer's
/// ids never collide with the crate's own or another issuer's.
fn external_digest(iss: &str, jti: &str) -> TokenDigest {
    TokenDigest::of_jti(&format!("{iss}\n{jti}"))
}

/// The id of a token that carries no (valid) `jti`: `t.` + base64url(SHA-256 of its
/// signed part, `header.payload`), so it can still be revoked. Never of the signature:
/// ECDSA signatures are malleable (`(r, n−s)` verifies too), so a second spelling of the
/// same token would get a second id and escape its revocation. The signed part has one
/// spelling: both parts are decoded as canonical base64url.
pub(crate) fn derived_jti(signed: &str) -> String {
    format!("t.{}", URL_SAFE_NO_PAD.encode(Sha256::digest(signed)))
}

/// Whose token a revocation check is about: its subject and the subject generation it
/// carries.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Holder<'a> {
    pub(crate) subject: &'a str,
    pub(crate) generation: Option<u64>,
}

impl<'a> Holder<'a> {
    pub(crate) fn of(claims: &'a dyn ClaimsView) -> Self {
        Holder {
            subject: claims.subject(),
            generation: claims.generation(),
        }
    }

    pub(crate) fn of_claims<T>(claims: &'a TokenClaims<T>) -> Self {
        Holder {
            subject: &claims.sub,
            generation: claims.generation,
        }
    }
}

/// The revocation check of a verified token: its identity and its holder. A trusted
/// issuer's token is checked under its subject's key in that issuer's key space, never
/// its raw `sub` (our own user of that name is not the provider's), and by its `iat`
/// alone (a generation is ours).
#[inline]
pub(crate) fn revocation_check<'a>(
    holder: Holder<'a>,
    identity: &'a TokenIdentity,
) -> RevocationCheck<'a> {
    let (subject, generation) = match identity.external_subject() {
        None => (holder.subject, holder.generation),
        Some(key) => (key, None),
    };
    RevocationCheck {
        digest: &identity.digest,
        subject,
        generation,
        issued_at: identity.issued_at,
    }
}

/// The second check of a token belonging to a provider session: that session's cutoff
/// (by `iat`; the digest again, which the store answers with it).
fn session_check<'a>(key: &'a str, identity: &'a TokenIdentity) -> RevocationCheck<'a> {
    RevocationCheck {
        digest: &identity.digest,
        subject: key,
        generation: None,
        issued_at: identity.issued_at,
    }
}

/// A NumericDate (RFC 7519): whole seconds; a fractional one is rounded down.
pub(crate) fn numeric_date(v: &serde_json::Value) -> Option<u64> {
    v.as_u64()
        .or_else(|| v.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::TokenAuth;
    use crate::token::clock::FixedClock;
    use crate::token::issue::TokenRequest;
    use crate::trust::RevokeError;
    use crate::{NoCustomClaims, TokenAuthBuilder};

    const SECRET: &str = "0123456789abcdefghijklmnopqrstuvwxyzABCDEF";

    fn builder() -> TokenAuthBuilder {
        TokenAuth::builder().hs256_secret(SECRET)
    }

    fn at(t: u64) -> TokenAuth {
        builder().clock(FixedClock(t)).build().unwrap()
    }

    type C = TokenClaims<NoCustomClaims>;

    #[test]
    fn round_trip() {
        let a = at(1_000_000);
        let t = a
            .issue_access(
                &TokenRequest::new("alice")
                    .scopes(["users:read"])
                    .tenant("acme"),
            )
            .unwrap();
        let c: C = a.verify_offline(t.as_str(), TokenKind::Access).unwrap();
        assert_eq!(c.sub, "alice");
        assert_eq!(c.tenant.as_deref(), Some("acme"));
        assert!(c.has_scope("users:read"));
        assert_eq!(c.kind, TokenKind::Access);
        assert_eq!(c.jti, t.jti);
    }

    #[test]
    fn expiry_respects_leeway() {
        let issuer = at(1_000_000);
        let t = issuer.issue_access(&TokenRequest::new("a")).unwrap();
        let exp = t.expires_at;
        let ok = at(exp + 29).verify_offline::<NoCustomClaims>(t.as_str(), TokenKind::Access);
        assert!(ok.is_ok());
        let e = at(exp + 30)
            .verify_offline::<NoCustomClaims>(t.as_str(), TokenKind::Access)
            .unwrap_err();
        assert_eq!(e, VerifyError::InvalidToken(InvalidToken::Expired));
    }

    #[test]
    fn issued_in_future_is_refused() {
        let t = at(2_000_000).issue_access(&TokenRequest::new("a")).unwrap();
        let e = at(1_000_000)
            .verify_offline::<NoCustomClaims>(t.as_str(), TokenKind::Access)
            .unwrap_err();
        assert_eq!(e, VerifyError::InvalidToken(InvalidToken::IssuedInFuture));
    }

    #[test]
    fn kinds_never_cross() {
        let a = at(1_000_000);
        let r = a.issue_refresh(&TokenRequest::new("a")).unwrap();
        let e = a
            .verify_offline::<NoCustomClaims>(r.as_str(), TokenKind::Access)
            .unwrap_err();
        assert_eq!(
            e,
            VerifyError::InvalidToken(InvalidToken::WrongKind {
                expected: TokenKind::Access
            })
        );
        assert!(
            a.verify_offline::<NoCustomClaims>(r.as_str(), TokenKind::Refresh)
                .is_ok()
        );
    }

    #[test]
    fn kind_set_contains() {
        let s = KindSet::of(TokenKind::Access).with(TokenKind::Service);
        assert!(s.contains(TokenKind::Access) && s.contains(TokenKind::Service));
        assert!(!s.contains(TokenKind::Refresh));
    }

    /// I3–I7 on introspection answers, without the HTTP call.
    #[cfg(feature = "oidc")]
    #[test]
    fn introspection_answers_map_as_the_issuers_jwts() {
        use crate::trust::{Introspection, Issuer};
        use serde_json::json;
        const ISS: &str = "https://opaque.example";
        let now = 1_000_000;
        let a = builder()
            .clock(FixedClock(now))
            .trust(
                Issuer::keys(ISS, []).audience("api").introspection(
                    Introspection::endpoint("https://opaque.example/introspect")
                        .client_secret_basic("api", "secret")
                        .max_cache_ttl(std::time::Duration::from_secs(60)),
                ),
            )
            .build()
            .unwrap();
        let v = a.verifier();
        let issuer = v.trusted.introspecting().unwrap();
        let acceptance = Acceptance::kinds(KindSet::of(TokenKind::Access));
        let token = "an-opaque-token";
        let map = |v: serde_json::Value| v.as_object().unwrap().clone();
        let judge = |answer: serde_json::Value| {
            v.introspected_claims::<NoCustomClaims>(issuer, 60, map(answer), token, &acceptance)
        };
        let refused = |answer: serde_json::Value| match judge(answer) {
            Err(Refusal::Token(e)) => e,
            Err(_) => panic!("not a token refusal"),
            Ok(_) => panic!("accepted"),
        };
        let base = json!({
            "active": true, "aud": "api", "client_id": "svc", "scope": "users:read",
            "exp": now + 600, "iat": now - 10, "iss": ISS, "token_type": "Bearer",
            "jti": "the-providers-jti"
        });
        let ok = judge(base.clone()).unwrap_or_else(|_| panic!("accepted"));
        // sub from client_id (namespaced: never a user's), the id from the token's hash,
        // the issuer and the bound.
        assert_eq!(ok.claims.sub, "client:svc");
        assert_eq!(ok.claims.jti, derived_jti(token));
        assert_eq!(ok.claims.iss.as_deref(), Some(ISS));
        assert!(ok.claims.has_scope("users:read"));
        assert_eq!(ok.claims.origin, TokenOrigin::Issuer(ISS.into()));
        assert_eq!(ok.identity.until, now + 60, "the cache bound comes first");
        assert_eq!(
            ok.identity.digest,
            external_digest(ISS, &derived_jti(token))
        );
        // A refresh token answered as active (Hydra's token_use, Keycloak's typ).
        for (k, v) in [("token_use", "refresh_token"), ("typ", "Refresh")] {
            let mut refresh = base.clone();
            refresh[k] = json!(v);
            assert!(
                matches!(refused(refresh), InvalidToken::WrongKind { .. }),
                "{k}"
            );
        }
        // Without exp: accepted until the bound, its exp the bound.
        let mut no_exp = base.clone();
        no_exp.as_object_mut().unwrap().remove("exp");
        let bounded = judge(no_exp).unwrap_or_else(|_| panic!("accepted"));
        assert_eq!(
            (bounded.claims.exp, bounded.identity.until),
            (now + 60, now + 60)
        );
        // A token expiring before the bound stops at its exp plus the leeway.
        let mut soon = base.clone();
        soon["exp"] = json!(now + 5);
        let soon = judge(soon).unwrap_or_else(|_| panic!("accepted"));
        assert_eq!(soon.identity.until, now + 5 + v.settings.leeway);
        // The refusals, one per check.
        let with = |k: &str, val: serde_json::Value| {
            let mut m = base.clone();
            m[k] = val;
            m
        };
        assert_eq!(
            refused(with("active", json!(false))),
            InvalidToken::Inactive
        );
        assert_eq!(
            refused(with("active", json!("true"))),
            InvalidToken::Inactive
        );
        assert_eq!(refused(json!({"active": false})), InvalidToken::Inactive);
        assert_eq!(
            refused(with("iss", json!("https://evil.example"))),
            InvalidToken::WrongIssuer
        );
        assert_eq!(
            refused(with("token_type", json!("refresh_token"))),
            InvalidToken::WrongKind {
                expected: TokenKind::Access
            }
        );
        assert_eq!(
            refused(with("aud", json!("another-api"))),
            InvalidToken::WrongAudience
        );
        assert_eq!(
            refused(with("exp", json!(now - 3600))),
            InvalidToken::Expired
        );
        assert_eq!(
            refused(with("cnf", json!({"x5u": "https://x"}))),
            InvalidToken::UnsupportedConfirmation
        );
        // A DPoP-bound answer is a bound token.
        let bound = judge(with(
            "cnf",
            json!({"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}),
        ))
        .unwrap_or_else(|_| panic!("accepted"));
        assert!(bound.identity.bound);
    }

    #[tokio::test]
    async fn revoked_token_is_refused() {
        let a = at(1_000_000);
        // The memory store uses the system clock; give the token a real expiry.
        let real = builder().build().unwrap();
        let t = real.issue_access(&TokenRequest::new("a")).unwrap();
        assert!(
            real.validate::<NoCustomClaims>(t.as_str(), TokenCheck::ACCESS)
                .await
                .is_ok()
        );
        real.revoke(t.as_str()).await.unwrap();
        assert_eq!(
            real.validate::<NoCustomClaims>(t.as_str(), TokenCheck::ACCESS)
                .await
                .unwrap_err(),
            VerifyError::InvalidToken(InvalidToken::Revoked)
        );
        // A token of another key cannot be revoked through us.
        let other = TokenAuth::builder()
            .hs256_secret("zyxwvutsrqponmlkjihgfedcba9876543210ZYXW")
            .build()
            .unwrap();
        let foreign = other.issue_access(&TokenRequest::new("a")).unwrap();
        assert_eq!(
            a.revoke(foreign.as_str()).await.unwrap_err(),
            RevokeError::Invalid(InvalidToken::BadSignature)
        );
    }
}
