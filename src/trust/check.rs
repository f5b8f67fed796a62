//! [`TokenCheck`]: what a caller of [`TokenAuth::validate`](crate::TokenAuth::validate)
//! accepts — which kinds of token, whether revocation is checked, whether to wait for a
//! trusted issuer's key set when the token names a key not fetched yet.

use crate::token::claims::TokenKind;
use crate::trust::verify::KindSet;

/// What [`TokenAuth::validate`](crate::TokenAuth::validate) accepts. Start from
/// [`ACCESS`](Self::ACCESS) (what the layer accepts), [`kind`](Self::kind) or
/// [`ANY_KIND`](Self::ANY_KIND), and take checks away only with a reason.
///
/// ```
/// use axum_token_auth::{NoCustomClaims, TokenAuth, TokenRequest};
/// use axum_token_auth::token::TokenKind;
/// use axum_token_auth::trust::TokenCheck;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let auth = TokenAuth::builder()
///     .hs256_secret("a-random-secret-of-at-least-32-bytes!!")
///     .build()?;
/// let refresh = auth.issue(TokenKind::Refresh, &TokenRequest::new("alice"))?;
///
/// // An access token is expected by default: a refresh token is refused…
/// assert!(auth.validate::<NoCustomClaims>(refresh.as_str(), TokenCheck::ACCESS).await.is_err());
/// // …unless asked for.
/// let claims = auth
///     .validate::<NoCustomClaims>(refresh.as_str(), TokenCheck::kind(TokenKind::Refresh))
///     .await?;
/// assert_eq!(claims.kind, TokenKind::Refresh);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub struct TokenCheck {
    pub(crate) kinds: KindSet,
    pub(crate) revocation: bool,
    pub(crate) wait_for_keys: bool,
    pub(crate) bound_proven: bool,
}

impl TokenCheck {
    /// An access token, revocation checked, waiting for one refetch of a trusted
    /// issuer's key set when the token's `kid` is not in it yet: what the layer accepts.
    pub const ACCESS: TokenCheck = TokenCheck::kind(TokenKind::Access);

    /// A token of **any** kind (access, refresh or service), its kind reported in
    /// [`TokenClaims::kind`](crate::TokenClaims::kind). Never use it to grant access: a
    /// route guarded by it would take refresh tokens as access tokens.
    pub const ANY_KIND: TokenCheck = TokenCheck {
        kinds: KindSet::all(),
        revocation: true,
        wait_for_keys: true,
        bound_proven: false,
    };

    /// A token of `kind`, revocation checked, waiting for keys as [`ACCESS`](Self::ACCESS).
    pub const fn kind(kind: TokenKind) -> TokenCheck {
        TokenCheck {
            kinds: KindSet::of(kind),
            revocation: true,
            wait_for_keys: true,
            bound_proven: false,
        }
    }

    /// Also accepts tokens of `kind`.
    pub const fn or_kind(mut self, kind: TokenKind) -> TokenCheck {
        self.kinds = self.kinds.with(kind);
        self
    }

    /// Skips the revocation store (step 13 of [`trust::verify`](crate::trust::verify)):
    /// a revoked token passes. For tools that inspect tokens, never to grant access.
    pub const fn without_revocation(mut self) -> TokenCheck {
        self.revocation = false;
        self
    }

    /// Never waits for a trusted issuer's key set: a token whose `kid` is not in the
    /// fetched set is refused at once (`invalid_token`), as a fetch would be needed.
    pub const fn without_waiting(mut self) -> TokenCheck {
        self.wait_for_keys = false;
        self
    }

    /// Accepts sender-constrained tokens (a `cnf` claim: DPoP-bound, certificate-bound),
    /// because the caller proves their key itself — or knows that what it does with the
    /// claims needs no proof. Without it, `validate` refuses such a token with
    /// [`InvalidToken::UnprovenBinding`](crate::token::InvalidToken::UnprovenBinding):
    /// it sees no request, so nothing proves the key, and a copied bound token must not
    /// work where a bearer one would. (The layer proves the key on every request.)
    pub const fn with_binding_proven(mut self) -> TokenCheck {
        self.bound_proven = true;
        self
    }

    /// Whether a token of `kind` is accepted.
    pub const fn accepts(&self, kind: TokenKind) -> bool {
        self.kinds.contains(kind)
    }

    /// Whether the revocation store is consulted.
    pub const fn checks_revocation(&self) -> bool {
        self.revocation
    }
}

impl Default for TokenCheck {
    /// [`TokenCheck::ACCESS`].
    fn default() -> Self {
        TokenCheck::ACCESS
    }
}
