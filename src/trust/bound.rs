//! What a verified token is bound to (its `cnf`, decided once by verification) and
//! whether a request proves it: the one binding decision, read by the layer and the
//! session routes alike.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::token::confirmation::{Binding, Confirmation};
use crate::token::error::InvalidToken;
use crate::trust::dpop::{CheckedProof, DpopPolicy};

/// A verified token's confirmation, small and `Copy` (it travels in the token's identity
/// and in every entry of the verified-token cache): which methods bind it, and 128 bits
/// of SHA-256 over their thumbprints. A request proves the binding when the same digest
/// comes out of what it presents: to pass with another key an attacker needs a second
/// preimage of a 128-bit truncated SHA-256, out of reach.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Bound {
    /// Bit 0: `cnf.jkt` (a DPoP key); bit 1: `cnf.x5t#S256` (a client certificate).
    methods: u8,
    /// `SHA-256(jkt thumbprint ‖ x5t thumbprint)`, each 32 bytes or absent, truncated.
    digest: [u8; 16],
}

const JKT: u8 = 1;
const X5T: u8 = 2;

/// The binding digest of the thumbprints present.
fn binding_digest(jkt: Option<&[u8; 32]>, x5t: Option<&[u8; 32]>) -> [u8; 16] {
    use sha2::{Digest as _, Sha256};
    let mut h = Sha256::new();
    if let Some(j) = jkt {
        h.update(b"jkt");
        h.update(j);
    }
    if let Some(x) = x5t {
        h.update(b"x5t");
        h.update(x);
    }
    let full: [u8; 32] = h.finalize().into();
    let mut out = [0u8; 16];
    out.copy_from_slice(&full[..16]);
    out
}

/// How the request presented its token and what it proves.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Presented<'a> {
    /// The token came as `Authorization: Bearer`.
    pub(crate) as_bearer: bool,
    /// The token came as `Authorization: DPoP`.
    pub(crate) as_dpop: bool,
    /// The request's DPoP proof, checked (offline steps) for this request and token.
    pub(crate) proof: Option<&'a CheckedProof>,
    /// The SHA-256 thumbprint of the request's client certificate, when it has one
    /// from a trusted source.
    pub(crate) certificate: Option<[u8; 32]>,
}

/// A 32-byte base64url thumbprint.
fn thumbprint(v: &str) -> Result<[u8; 32], InvalidToken> {
    URL_SAFE_NO_PAD
        .decode(v)
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or(InvalidToken::UnsupportedConfirmation)
}

impl Bound {
    /// An unbound (bearer) token.
    pub(crate) const NONE: Bound = Bound {
        methods: 0,
        digest: [0; 16],
    };

    /// The binding a token's `cnf` asks for: a `cnf` naming no method this crate checks,
    /// or a malformed thumbprint, refuses the token (never accepted as a bearer token).
    pub(crate) fn of(cnf: Option<&Confirmation>) -> Result<Bound, InvalidToken> {
        let Some(cnf) = cnf else {
            return Ok(Bound::NONE);
        };
        if !cnf.is_understood() {
            return Err(InvalidToken::UnsupportedConfirmation);
        }
        let jkt = cnf.jkt().map(thumbprint).transpose()?;
        let x5t = cnf.x5t_s256().map(thumbprint).transpose()?;
        Ok(Bound {
            methods: if jkt.is_some() { JKT } else { 0 } | if x5t.is_some() { X5T } else { 0 },
            digest: binding_digest(jkt.as_ref(), x5t.as_ref()),
        })
    }

    /// Whether the token is sender-constrained at all.
    #[inline]
    pub(crate) fn is_bound(&self) -> bool {
        self.methods != 0
    }

    /// Whether the token is bound to a DPoP key.
    #[inline]
    fn is_dpop(&self) -> bool {
        self.methods & JKT != 0
    }

    /// Whether a request presenting the token this way must carry a DPoP proof.
    #[inline]
    pub(crate) fn needs_proof(&self, as_dpop: bool) -> bool {
        self.is_dpop() || as_dpop
    }

    /// Whether a request presenting the token must show a client certificate (the
    /// binding step reads one only then).
    #[inline]
    pub(crate) fn needs_certificate(&self) -> bool {
        self.methods & X5T != 0
    }

    /// The binding decision (RFC 9449 §7, RFC 8705 §3): the request proves every key the
    /// token is bound to; a DPoP-bound token never comes as `Bearer`; an unbound token
    /// comes as `DPoP` only where allowed, and as a bearer token only where the policy
    /// is not [`Required`](DpopPolicy::Required). What handlers see of it comes out.
    pub(crate) fn confirm(
        &self,
        presented: &Presented<'_>,
        policy: DpopPolicy,
        unbound_with_proof: bool,
    ) -> Result<Binding, InvalidToken> {
        if self.is_bound() {
            let proof = match presented.proof {
                Some(p) if !presented.as_bearer => Some(p),
                _ if self.is_dpop() => return Err(InvalidToken::UnprovenBinding),
                _ => None,
            };
            let certificate = match presented.certificate {
                Some(c) => Some(c),
                None if self.methods & X5T != 0 => return Err(InvalidToken::UnprovenBinding),
                None => None,
            };
            let jkt = proof.filter(|_| self.is_dpop()).map(|p| &p.jkt_bytes);
            let x5t = certificate.as_ref().filter(|_| self.methods & X5T != 0);
            if binding_digest(jkt, x5t) != self.digest {
                return Err(InvalidToken::BindingMismatch);
            }
            return Ok(match (proof, x5t) {
                (Some(p), _) if self.is_dpop() => Binding::Dpop { jkt: p.jkt.clone() },
                (_, Some(x)) => Binding::Certificate {
                    x5t_s256: URL_SAFE_NO_PAD.encode(x),
                },
                _ => Binding::Bearer,
            });
        }
        {
            if presented.as_dpop && !unbound_with_proof {
                return Err(InvalidToken::NotDpopBound);
            }
            if policy == DpopPolicy::Required && !presented.as_dpop {
                return Err(InvalidToken::DpopRequired);
            }
        }
        Ok(Binding::Bearer)
    }
}

/// The binding rule of a session's token request (refresh, logout; RFC 9449 §5): a
/// DPoP-bound token (`cnf.jkt`) needs a proof by its key, whose RFC 7638 thumbprint is
/// `proof_jkt` (the request's proof, checked for the route); an unbound token needs
/// none. What a mismatch then means (a refresh ends the session) is the caller's.
pub(crate) fn token_request_proven(
    cnf: Option<&Confirmation>,
    proof_jkt: Option<&str>,
) -> Result<(), InvalidToken> {
    match (cnf.and_then(Confirmation::jkt), proof_jkt) {
        (Some(jkt), Some(proof)) if proof != jkt => Err(InvalidToken::BindingMismatch),
        (Some(_), None) => Err(InvalidToken::UnprovenBinding),
        _ => Ok(()),
    }
}
