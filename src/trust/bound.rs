//! What a verified token is bound to (its `cnf`, decided once by verification) and
//! whether a request proves it: the one binding decision, read by the layer and the
//! session routes alike.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::token::confirmation::{Binding, Confirmation};
use crate::token::error::InvalidToken;
use crate::trust::dpop::{CheckedProof, DpopPolicy};

/// A verified token's confirmation, as thumbprint bytes (`Copy`: it travels in the
/// token's identity and the verified-token cache).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Bound {
    /// `cnf.jkt`: the DPoP key's RFC 7638 thumbprint.
    pub(crate) jkt: Option<[u8; 32]>,
    /// `cnf.x5t#S256`: the client certificate's thumbprint.
    pub(crate) x5t: Option<[u8; 32]>,
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
        jkt: None,
        x5t: None,
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
        Ok(Bound {
            jkt: cnf.jkt().map(thumbprint).transpose()?,
            x5t: cnf.x5t_s256().map(thumbprint).transpose()?,
        })
    }

    /// Whether the token is sender-constrained at all.
    #[inline]
    pub(crate) fn is_bound(&self) -> bool {
        self.jkt.is_some() || self.x5t.is_some()
    }

    /// Whether a request presenting the token this way must carry a DPoP proof.
    #[inline]
    pub(crate) fn needs_proof(&self, as_dpop: bool) -> bool {
        self.jkt.is_some() || as_dpop
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
        let mut binding = Binding::Bearer;
        if let Some(jkt) = self.jkt {
            let proof = match presented.proof {
                Some(p) if !presented.as_bearer => p,
                _ => return Err(InvalidToken::UnprovenBinding),
            };
            if proof.jkt_bytes != jkt {
                return Err(InvalidToken::BindingMismatch);
            }
            binding = Binding::Dpop {
                jkt: proof.jkt.clone(),
            };
        }
        if let Some(x5t) = self.x5t {
            match presented.certificate {
                None => return Err(InvalidToken::UnprovenBinding),
                Some(c) if c != x5t => return Err(InvalidToken::BindingMismatch),
                Some(_) => {}
            }
            if binding == Binding::Bearer {
                binding = Binding::Certificate {
                    x5t_s256: URL_SAFE_NO_PAD.encode(x5t),
                };
            }
        }
        if !self.is_bound() {
            if presented.as_dpop && !unbound_with_proof {
                return Err(InvalidToken::NotDpopBound);
            }
            if policy == DpopPolicy::Required && !presented.as_dpop {
                return Err(InvalidToken::DpopRequired);
            }
        }
        Ok(binding)
    }
}
