//! Receiving the identity providers' logout tokens and security events on the handle,
//! without HTTP (the routes are
//! [`Web::security_event_routes`](crate::http::Web::security_event_routes)).

use crate::auth::TokenAuth;
use crate::trust::events::{Carrier, EventError, SecurityEvent};

impl TokenAuth {
    /// Receives an OpenID Connect Back-Channel Logout token (the `logout_token` a
    /// provider posts): verified as its trusted issuer's, applied (its session, or its
    /// subject's tokens, are refused from now on, on every instance sharing the
    /// revocation store), told to the hook, its `jti` remembered. Checks and effects:
    /// [`trust::events`](crate::trust::events).
    ///
    /// ```
    /// use axum_token_auth::TokenAuth;
    /// use axum_token_auth::trust::events::EventError;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let auth = TokenAuth::builder().hs256_secret("a-random-secret-of-at-least-32-bytes!!").build()?;
    /// let refused = auth.receive_logout_token("not.a.token").await.unwrap_err();
    /// assert_eq!(refused.err_code(), Some("invalid_request"));
    /// assert!(!refused.is_retryable());
    /// # Ok(()) }
    /// ```
    pub async fn receive_logout_token(
        &self,
        logout_token: &str,
    ) -> Result<Vec<SecurityEvent>, EventError> {
        self.verifier()
            .receive_event(logout_token, Carrier::Logout)
            .await
    }

    /// Receives a Security Event Token (RFC 8417; the body of an RFC 8935 push): verified
    /// as its trusted issuer's and addressed to an SSF audience, each of its CAEP / RISC
    /// events applied as the table of [`trust::events`](crate::trust::events) says, told
    /// to the hook, its `jti` remembered. An event of an unknown type is acknowledged and
    /// ignored ([`Applied::Nothing`](crate::trust::events::Applied::Nothing)).
    ///
    /// ```
    /// use axum_token_auth::TokenAuth;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let auth = TokenAuth::builder().hs256_secret("a-random-secret-of-at-least-32-bytes!!").build()?;
    /// let refused = auth.receive_security_event("e30.e30.").await.unwrap_err();
    /// assert_eq!(refused.err_code(), Some("invalid_request"));
    /// # Ok(()) }
    /// ```
    pub async fn receive_security_event(
        &self,
        set: &str,
    ) -> Result<Vec<SecurityEvent>, EventError> {
        self.verifier().receive_event(set, Carrier::Set).await
    }
}
