//! [`PasswordLogin`]: the password login route, the pattern for every password login.
//! The application says how to find a user ([`PasswordAccounts`]); the route does the
//! rest, in this order (each step refuses with the crate's RFC 6750 JSON answers):
//!
//! 1. **Login CSRF**: the body must be `application/json` (400 `invalid_request`; a
//!    cross-site form cannot send JSON without a CORS preflight), and the request must
//!    not come from another site (`Origin` / `Sec-Fetch-Site`, as
//!    [`Web::check_same_origin`](crate::http::Web::check_same_origin): 403).
//! 2. **The body**: at most 16 KiB, `{"username", "password", "token_delivery"?}` with
//!    `token_delivery` one of `"cookies"`, `"cookies_with_access_token"`, `"body"`
//!    (default: the sessions' [`token_delivery`](crate::session::SessionsBuilder::token_delivery)).
//!    Anything else is 400 `invalid_request`.
//! 3. **DPoP** (RFC 9449 §5): a `DPoP` proof, checked for this request and remembered,
//!    binds the session's tokens to its key; a bad proof, or none under
//!    [`DpopPolicy::Required`], is 400
//!    `invalid_dpop_proof`.
//! 4. **The throttle** ([`LoginThrottle`], by default a [`LoginLimiter`] in memory), on
//!    the name as [`PasswordAccounts::normalize`] gives it (by default trimmed and
//!    lower-cased): it counts the attempt *before* any hash, and an attempt over a limit
//!    is 429 `slow_down` with `Retry-After`, and no password is checked. A throttle whose
//!    store is down is 503 with `Retry-After` (fail closed: see below).
//! 5. **The user**: [`PasswordAccounts::find`], given the same normalised name; a lookup
//!    that fails is 503 (and the attempt is given back: it is no failure).
//! 6. **One password hash**, always: the user's hash, or for an unknown user a dummy
//!    argon2id hash made at build time from a random secret (same algorithm and cost as
//!    [`hash_password`]), so neither the answer nor the time taken tells which user names
//!    exist (a stored hash that would be checked without hashing, unreadable or bcrypt
//!    against a password over 72 bytes, runs the dummy too). It runs on
//!    `spawn_blocking`, at most
//!    [`max_concurrent_hashes`](PasswordLoginBuilder::max_concurrent_hashes) at once; a
//!    login that waits longer than [`max_hash_wait`](PasswordLoginBuilder::max_hash_wait)
//!    for its turn is 503 `temporarily_unavailable` with `Retry-After` (not a failure).
//! 7. **The outcome** goes to the throttle (a failure stays counted; a success clears
//!    the account's counters). A wrong password or an unknown user is 401 `invalid_grant`.
//! 8. **The session**: the account's [`TokenRequest`] with `acr` `pwd` and `amr`
//!    `["pwd"]` (unless it sets its own), the DPoP key, and [`SessionInfo`] (user agent,
//!    client address); [`Sessions::login_with`], answered as
//!    [`Sessions::login_response_with`]. A stored hash that
//!    [`needs_rehash`](crate::password::needs_rehash) is handed to
//!    [`PasswordAccounts::upgrade_hash`] with its argon2id replacement.
//!
//! ```
//! use axum::Router;
//! use axum_token_auth::{Sessions, TokenAuth, TokenRequest, async_trait};
//! use axum_token_auth::password::hash_password;
//! use axum_token_auth::session::{PasswordAccount, PasswordAccounts};
//! use axum_token_auth::store::{StoreError, memory::MemoryRefreshStore};
//!
//! /// The application's users (a database in real life).
//! struct Users { alice: String }
//!
//! #[async_trait]
//! impl PasswordAccounts for Users {
//!     async fn find(&self, username: &str) -> Result<Option<PasswordAccount>, StoreError> {
//!         Ok((username == "alice").then(|| {
//!             PasswordAccount::new(&self.alice, TokenRequest::new("user-1").scopes(["orders:read"]))
//!         }))
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let auth = TokenAuth::builder().hs256_secret("a-random-secret-of-at-least-32-bytes!!").build()?;
//! let sessions = Sessions::builder(auth, MemoryRefreshStore::new()).build()?;
//! let login = sessions
//!     .password_login(Users { alice: hash_password("correct horse battery staple")? })
//!     .build()?;
//! let app: Router = Router::new()
//!     .route("/auth/login", login.route())
//!     .route("/auth/refresh", sessions.refresh_route());
//! // Serve with `app.into_make_service_with_connect_info::<std::net::SocketAddr>()`:
//! // the throttle counts per client address from `ConnectInfo`.
//! # let _ = app; Ok(()) }
//! ```
//!
//! ⚠️ **Serve with `ConnectInfo`** (or set
//! [`client_address`](PasswordLoginBuilder::client_address) behind a proxy). A plain
//! `axum::serve(listener, app)` gives the route no client address: the per-address and
//! per-account-and-address limits then do not apply at all, only the loose per-account
//! one does (one client may spray 100 guesses an hour at every account). The route logs
//! a warning the first time it sees no address.
//!
//! # Why the throttle fails closed
//!
//! When the throttle's store is down the route answers 503 before any password is
//! checked. Failing open would leave brute force unlimited for the outage, and, since
//! the sessions usually live in the same store, would turn the route into an oracle: a
//! right password would answer 503 (no session could be stored) and a wrong one 401, as
//! fast as the attacker can send. A store that fails *after* the check (recording the
//! outcome) is logged and the answer stands.
//!
//! # The hash bound
//!
//! argon2id with this crate's parameters takes about 19 MiB and tens of milliseconds of
//! one CPU per hash. At most [`max_concurrent_hashes`](PasswordLoginBuilder::max_concurrent_hashes)
//! run at once (default: the number of CPUs), each on tokio's blocking pool; further
//! logins wait their turn on the async side, holding no thread, so a flood of logins
//! costs at most that many CPUs and that many times 19 MiB, and never starves the
//! runtime's worker threads (the rest of the API keeps answering). A login waits at most
//! [`max_hash_wait`](PasswordLoginBuilder::max_hash_wait) (default
//! [`DEFAULT_MAX_HASH_WAIT`]) for its turn, then answers 503 with `Retry-After`: behind a
//! flood the queue would otherwise grow without bound, and a real user would wait
//! minutes for an answer. Such an attempt is given back to the throttle (no password was
//! checked).
//!
//! ⚠️ **Timing tells which hashes differ from the dummy.** The dummy is argon2id with
//! this crate's parameters (m = 19 MiB, t = 2, p = 1). A user whose stored hash is
//! bcrypt, another argon2 variant, or argon2 with *other* parameters, weaker or
//! stronger, takes another time to verify, so an attacker timing logins can tell such a
//! name exists. Upgrade weaker hashes ([`PasswordAccounts::upgrade_hash`] does it at the
//! next login; [`needs_rehash`](crate::password::needs_rehash) flags them).
//! [`needs_rehash`](crate::password::needs_rehash) leaves *stronger* hashes alone (they
//! are no weaker), so an application that hashes with, say, m = 64 MiB keeps that gap:
//! hash with [`hash_password`], or accept it.

use std::borrow::Cow;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Request};
use axum::response::Response;
use axum::routing::MethodRouter;
use http::HeaderValue;
use http::request::Parts;
use serde::Deserialize;
use tokio::sync::Semaphore;

use crate::http::DpopProof;
use crate::http::require_json_content_type;
use crate::http::rfc6750::{AuthError, DPOP_NONCE, InvalidRequest};
use crate::password::{
    PasswordCheck, PasswordError, check_password, computes_hash, hash_password, verify_password,
};
use crate::session::login::SessionInfo;
use crate::session::routes::{TokenDelivery, user_agent};
use crate::session::sessions::Sessions;
use crate::session::throttle::{LoginAttempt, LoginLimiter, LoginThrottle};
use crate::store::StoreError;
use crate::store::attempts::MemoryAttempts;
use crate::token::issue::TokenRequest;
use crate::trust::dpop::{DpopPolicy, ProofError};

/// Largest login body read.
const MAX_BODY: usize = 16 * 1024;

/// Longest user name accepted, in bytes.
pub const MAX_USERNAME_BYTES: usize = 256;

/// Default [`max_hash_wait`](PasswordLoginBuilder::max_hash_wait): 3 seconds.
pub const DEFAULT_MAX_HASH_WAIT: Duration = Duration::from_secs(3);

/// A user as the application stores it: the password hash (argon2 PHC string or bcrypt,
/// as [`check_password`] reads) and what a login puts in the tokens.
#[derive(Clone)]
pub struct PasswordAccount {
    password_hash: String,
    request: TokenRequest,
}

impl PasswordAccount {
    /// The user's stored hash and token request (subject, scopes, metadata, claims; `acr`
    /// and `amr` default to `pwd`).
    ///
    /// ```
    /// use axum_token_auth::TokenRequest;
    /// use axum_token_auth::session::PasswordAccount;
    ///
    /// let account = PasswordAccount::new(
    ///     "$argon2id$v=19$m=19456,t=2,p=1$…",
    ///     TokenRequest::new("user-1").scopes(["orders:read"]).tenant("acme"),
    /// );
    /// # let _ = account;
    /// ```
    pub fn new(password_hash: impl Into<String>, request: TokenRequest) -> Self {
        PasswordAccount {
            password_hash: password_hash.into(),
            request,
        }
    }
}

/// Never prints the hash.
impl fmt::Debug for PasswordAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordAccount").finish_non_exhaustive()
    }
}

/// The application's users, for [`PasswordLogin`] (the "find the user by name" half of a
/// login; the route does the rest). Example in the [module docs](crate::session::password_login).
#[async_trait]
pub trait PasswordAccounts: Send + Sync + 'static {
    /// The one spelling of a user name, used both to [`find`](Self::find) the user and to
    /// count the attempt in the throttle (so `Alice` and `alice` can neither multiply an
    /// account's limit nor, on the application's own account, reset another's counters).
    /// The default trims white space and lower-cases (Unicode, so the Kelvin sign `K`
    /// becomes `k`). Override it to match how the lookup compares names: return the
    /// name unchanged for case-sensitive names, or apply NFKC (e.g. with the
    /// `unicode-normalization` crate) if the user database stores names that way. A
    /// name that is empty once normalised is 400 `invalid_request`.
    ///
    /// ```
    /// use std::borrow::Cow;
    /// # use axum_token_auth::{async_trait, session::{PasswordAccount, PasswordAccounts}, store::StoreError};
    /// struct CaseSensitive;
    ///
    /// #[async_trait]
    /// impl PasswordAccounts for CaseSensitive {
    ///     fn normalize<'a>(&self, username: &'a str) -> Cow<'a, str> {
    ///         Cow::Borrowed(username.trim())
    ///     }
    ///     async fn find(&self, username: &str) -> Result<Option<PasswordAccount>, StoreError> {
    ///         # let _ = username;
    ///         Ok(None) // `username` is trimmed, its case kept
    ///     }
    /// }
    /// assert_eq!(CaseSensitive.normalize(" Alice "), "Alice");
    /// ```
    fn normalize<'a>(&self, username: &'a str) -> Cow<'a, str> {
        let trimmed = username.trim();
        if trimmed.chars().any(char::is_uppercase) {
            Cow::Owned(trimmed.to_lowercase())
        } else {
            Cow::Borrowed(trimmed)
        }
    }

    /// The account named `username` (as [`normalize`](Self::normalize) gave it), or
    /// `None`. An error (the user database is down) answers 503.
    async fn find(&self, username: &str) -> Result<Option<PasswordAccount>, StoreError>;

    /// After a successful login on a hash that
    /// [`needs_rehash`](crate::password::needs_rehash) (bcrypt, weaker argon2): store
    /// `new_hash` (argon2id of the same password) in its place for `username` (as
    /// [`normalize`](Self::normalize) gave it). The default does nothing.
    async fn upgrade_hash(&self, username: &str, new_hash: String) {
        let _ = (username, new_hash);
    }
}

/// Reads the client's address from a request (behind a proxy: from the header it sets).
type AddressOf = dyn Fn(&Parts) -> Option<IpAddr> + Send + Sync;

/// Builds a [`PasswordLogin`]; from [`Sessions::password_login`].
#[must_use]
pub struct PasswordLoginBuilder {
    sessions: Sessions,
    accounts: Arc<dyn PasswordAccounts>,
    throttle: Option<Arc<dyn LoginThrottle>>,
    max_hashes: usize,
    max_hash_wait: Duration,
    address: Arc<AddressOf>,
}

impl fmt::Debug for PasswordLoginBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordLoginBuilder")
            .field("max_concurrent_hashes", &self.max_hashes)
            .field("max_hash_wait", &self.max_hash_wait)
            .finish_non_exhaustive()
    }
}

/// The peer of the connection (axum's `ConnectInfo<SocketAddr>`), if the server records it.
fn connect_info(parts: &Parts) -> Option<IpAddr> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
}

impl Sessions {
    /// The password login route of these sessions, finding users in `accounts` (see
    /// [`PasswordLogin`]).
    pub fn password_login(&self, accounts: impl PasswordAccounts) -> PasswordLoginBuilder {
        PasswordLoginBuilder {
            sessions: self.clone(),
            accounts: Arc::new(accounts),
            throttle: None,
            max_hashes: std::thread::available_parallelism().map_or(1, |n| n.get()),
            max_hash_wait: DEFAULT_MAX_HASH_WAIT,
            address: Arc::new(connect_info),
        }
    }
}

impl PasswordLoginBuilder {
    /// The login throttle (default: a [`LoginLimiter`] over [`MemoryAttempts`], which
    /// counts per instance: with several instances, give every one a limiter over the
    /// same Redis store).
    ///
    /// ```no_run
    /// # #[cfg(feature = "redis")]
    /// # async fn demo(sessions: axum_token_auth::Sessions, accounts: impl axum_token_auth::session::PasswordAccounts) -> Result<(), Box<dyn std::error::Error>> {
    /// use std::sync::Arc;
    /// use axum_token_auth::session::LoginLimiter;
    /// use axum_token_auth::store::redis::RedisStore;
    ///
    /// let redis = Arc::new(RedisStore::connect("redis://127.0.0.1:6379/").await?);
    /// let login = sessions
    ///     .password_login(accounts)
    ///     .throttle(LoginLimiter::shared(redis))
    ///     .build()?;
    /// # let _ = login; Ok(()) }
    /// ```
    pub fn throttle(self, throttle: impl LoginThrottle) -> Self {
        self.throttle_shared(Arc::new(throttle))
    }

    /// [`throttle`](Self::throttle), shared.
    pub fn throttle_shared(mut self, throttle: Arc<dyn LoginThrottle>) -> Self {
        self.throttle = Some(throttle);
        self
    }

    /// At most `n` (at least one) password hashes computed at once (default: the number
    /// of CPUs). See "The hash bound" in the [module docs](crate::session::password_login).
    pub fn max_concurrent_hashes(mut self, n: usize) -> Self {
        self.max_hashes = n.max(1);
        self
    }

    /// How long a login waits for its turn to hash (default [`DEFAULT_MAX_HASH_WAIT`])
    /// before it answers 503 `temporarily_unavailable` with `Retry-After`; the attempt
    /// is given back to the throttle (no password was checked). Bounds what a real user
    /// waits behind a flood of logins. See "The hash bound" in the
    /// [module docs](crate::session::password_login).
    ///
    /// ```
    /// # fn demo(login: axum_token_auth::session::PasswordLoginBuilder) {
    /// use std::time::Duration;
    ///
    /// let login = login.max_concurrent_hashes(4).max_hash_wait(Duration::from_secs(2));
    /// # let _ = login; }
    /// ```
    pub fn max_hash_wait(mut self, wait: Duration) -> Self {
        self.max_hash_wait = wait;
        self
    }

    /// How to read the client's address (the throttle's per-address counters, the
    /// session list's `ip`). Default: the connection's peer (`ConnectInfo<SocketAddr>`;
    /// serve with `into_make_service_with_connect_info`). Behind a reverse proxy, read
    /// the header it sets, and only that proxy's: a client-supplied header would let an
    /// attacker pick a fresh address per attempt. ⚠️ Without an address (a server without
    /// `ConnectInfo`), only the per-account limit applies: the route logs a warning the
    /// first time.
    ///
    /// ```
    /// # fn demo(login: axum_token_auth::session::PasswordLoginBuilder) {
    /// // The proxy appends the client's address as the last `X-Forwarded-For` entry.
    /// let login = login.client_address(|parts| {
    ///     let xff = parts.headers.get("x-forwarded-for")?.to_str().ok()?;
    ///     xff.rsplit(',').next()?.trim().parse().ok()
    /// });
    /// # let _ = login; }
    /// ```
    pub fn client_address(
        mut self,
        address: impl Fn(&Parts) -> Option<IpAddr> + Send + Sync + 'static,
    ) -> Self {
        self.address = Arc::new(address);
        self
    }

    /// The route, with its dummy hash computed now (one argon2id hash: tens of
    /// milliseconds; call it at startup). Fails only when the system's random source does.
    pub fn build(self) -> Result<PasswordLogin, PasswordError> {
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).map_err(|_| PasswordError::Hashing)?;
        let secret: String = secret.iter().map(|b| format!("{b:02x}")).collect();
        let dummy_hash = hash_password(&secret)?;
        let throttle = self
            .throttle
            .unwrap_or_else(|| Arc::new(LoginLimiter::new(MemoryAttempts::new())));
        Ok(PasswordLogin {
            inner: Arc::new(Inner {
                sessions: self.sessions,
                accounts: self.accounts,
                throttle,
                hashes: Arc::new(Semaphore::new(self.max_hashes)),
                max_hash_wait: self.max_hash_wait,
                address: self.address,
                warned_no_address: AtomicBool::new(false),
                dummy_hash: dummy_hash.into(),
                verifications: Arc::new(AtomicU64::new(0)),
            }),
        })
    }
}

/// The password login route (`POST`, JSON): every step of a password login, in the
/// order the [module docs](crate::session::password_login) list. Cheap to clone.
#[derive(Clone)]
pub struct PasswordLogin {
    inner: Arc<Inner>,
}

struct Inner {
    sessions: Sessions,
    accounts: Arc<dyn PasswordAccounts>,
    throttle: Arc<dyn LoginThrottle>,
    hashes: Arc<Semaphore>,
    max_hash_wait: Duration,
    address: Arc<AddressOf>,
    /// Whether the missing client address was logged (once, not per request).
    warned_no_address: AtomicBool,
    dummy_hash: Arc<str>,
    verifications: Arc<AtomicU64>,
}

impl fmt::Debug for PasswordLogin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordLogin")
            .field("verifications", &self.verifications())
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct LoginBody {
    username: String,
    password: String,
    #[serde(default)]
    token_delivery: Option<String>,
}

/// What the password check found.
enum Verdict {
    Match,
    Upgrade(String),
    Mismatch,
}

impl PasswordLogin {
    /// The `POST` route for `/auth/login`.
    pub fn route<S: Clone + Send + Sync + 'static>(&self) -> MethodRouter<S> {
        let login = self.clone();
        axum::routing::post(move |req: Request| {
            let login = login.clone();
            async move { login.handle(req).await }
        })
    }

    /// Password checks run since the route was built, a hash each (unknown users
    /// included, throttled attempts not): for tests and dashboards.
    pub fn verifications(&self) -> u64 {
        self.inner.verifications.load(Ordering::Relaxed)
    }

    /// One login, every step in order.
    async fn handle(&self, req: Request) -> Response {
        match self.login(req).await {
            Ok(res) => res,
            Err(e) => self.inner.sessions.auth().web().render_error(e),
        }
    }

    async fn login(&self, req: Request) -> Result<Response, AuthError> {
        let s = &self.inner;
        let web = s.sessions.auth().web();
        let (parts, body) = req.into_parts();
        // 1. Login CSRF.
        require_json_content_type(&parts.headers)?;
        web.check_same_origin(&parts.headers, &parts.uri)?;
        // 2. The body.
        let body = read_body(body).await?;
        let delivery = match body.token_delivery.as_deref() {
            None => s.sessions.inner.delivery,
            Some("cookies") => TokenDelivery::Cookies,
            Some("cookies_with_access_token") => TokenDelivery::CookiesWithAccessToken,
            Some("body") => TokenDelivery::Body,
            Some(_) => return Err(InvalidRequest::MalformedBody.into()),
        };
        // 3. DPoP.
        let proof = self.proof(&parts).await?;
        // 4. The throttle, on the one spelling of the name that the lookup gets too.
        let username = s.accounts.normalize(&body.username);
        if username.is_empty() {
            return Err(InvalidRequest::MalformedBody.into());
        }
        let address = (s.address)(&parts);
        if address.is_none() && !s.warned_no_address.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                "login: no client address (serve with `into_make_service_with_connect_info`, \
                 or set `client_address`): only the per-account limit applies"
            );
        }
        let attempt = LoginAttempt::new(&username, address);
        match s.throttle.check(&attempt).await {
            Ok(None) => {}
            Ok(Some(refused)) => {
                // Debug, not info: an attacker must not drive the log volume (the metric
                // counts them).
                tracing::debug!(scope = refused.scope.name(), "login throttled");
                crate::telemetry::login_throttled(refused.scope.name());
                return Err(AuthError::TooManyAttempts {
                    retry_after: refused.retry_after.as_secs_f64().ceil() as u64,
                });
            }
            Err(e) => {
                tracing::warn!(error = %e, "login: throttle store unavailable");
                return Err(AuthError::StoreUnavailable);
            }
        }
        // 5. The user, and 6. one password hash, whoever asked. Neither checked a
        // password when it fails: the attempt is given back.
        let checked = match s.accounts.find(&username).await {
            Ok(account) => {
                let hash = account.as_ref().map(|a| a.password_hash.clone());
                self.verify(body.password, hash)
                    .await
                    .map(|verdict| (account, verdict))
            }
            Err(e) => {
                tracing::warn!(error = %e, "login: account lookup failed");
                Err(AuthError::StoreUnavailable)
            }
        };
        let (account, verdict) = match checked {
            Ok(checked) => checked,
            Err(e) => {
                if let Err(e) = s.throttle.cancel(&attempt).await {
                    tracing::debug!(error = %e, "login: the throttle kept an unchecked attempt");
                }
                return Err(e);
            }
        };
        // 7. The outcome.
        let succeeded = account.is_some() && !matches!(verdict, Verdict::Mismatch);
        if let Err(e) = s.throttle.record(&attempt, succeeded).await {
            tracing::warn!(error = %e, succeeded, "login: the throttle missed an outcome");
        }
        let Some(account) = account.filter(|_| succeeded) else {
            return Err(AuthError::InvalidCredentials);
        };
        if let Verdict::Upgrade(new_hash) = verdict {
            s.accounts.upgrade_hash(&username, new_hash).await;
        }
        // 8. The session.
        let mut request = account.request;
        if request.acr.is_none() {
            request.acr = Some("pwd".into());
        }
        if request.amr.is_empty() {
            request.amr = vec!["pwd".into()];
        }
        if let Some(p) = &proof {
            request = request.confirmation(p.confirmation());
        }
        let info = SessionInfo {
            user_agent: user_agent(&parts.headers).map(str::to_owned),
            ip: address.map(|a| a.to_string()),
            ..SessionInfo::default()
        };
        let login = s.sessions.login_with(&request, &info).await.map_err(|e| {
            tracing::error!(error = %e, "login: the session could not start");
            AuthError::from(e)
        })?;
        let mut res = s.sessions.login_response_with(&login, delivery);
        if let Some(nonce) = proof.as_ref().and_then(DpopProof::next_nonce)
            && let Ok(v) = HeaderValue::from_str(nonce)
        {
            res.headers_mut().insert(DPOP_NONCE, v);
        }
        Ok(res)
    }

    /// The request's DPoP proof (none, or refused, under the handle's policy).
    async fn proof(&self, parts: &Parts) -> Result<Option<DpopProof>, AuthError> {
        let verifier = self.inner.sessions.auth().verifier();
        let proof = DpopProof::of_request(verifier, parts).await?;
        let required = verifier
            .dpop
            .as_deref()
            .is_some_and(|d| d.policy == DpopPolicy::Required);
        if proof.is_none() && required {
            return Err(AuthError::DpopTokenRequest {
                reason: ProofError::Missing,
                nonce: None,
            });
        }
        Ok(proof)
    }

    /// Checks `password` against the user's hash, or the dummy for an unknown user: one
    /// hash on the blocking pool, within the bound; 503 after waiting
    /// [`max_hash_wait`](PasswordLoginBuilder::max_hash_wait) for a turn.
    async fn verify(&self, password: String, hash: Option<String>) -> Result<Verdict, AuthError> {
        let s = &self.inner;
        let permit = tokio::time::timeout(s.max_hash_wait, Arc::clone(&s.hashes).acquire_owned())
            .await
            .map_err(|_| {
                // Debug: a flood must not drive the log volume.
                tracing::debug!("login: no password hash slot in time");
                AuthError::StoreUnavailable
            })?
            .map_err(|_| AuthError::Misconfigured("the password hash semaphore was closed"))?;
        let dummy = Arc::clone(&s.dummy_hash);
        let count = Arc::clone(&s.verifications);
        let checked = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            count.fetch_add(1, Ordering::Relaxed);
            check_or_dummy(&password, hash.as_deref(), &dummy).0
        })
        .await
        .map_err(|_| AuthError::Misconfigured("the password check panicked"))?;
        Ok(checked.unwrap_or_else(|e| {
            // A stored hash this crate cannot read: the user cannot log in (and the
            // answer is a wrong password's, so it tells nothing).
            tracing::error!(error = %e, "login: a stored password hash is unreadable");
            Verdict::Mismatch
        }))
    }
}

/// The password check of one login: against the user's `hash`, or the `dummy` for an
/// unknown user; and whether the dummy ran. When the real check returns without hashing
/// (a hash it cannot read, a password bcrypt does not take), the dummy runs too, so the
/// answer takes an unknown user's time.
fn check_or_dummy(
    password: &str,
    hash: Option<&str>,
    dummy: &str,
) -> (Result<Verdict, PasswordError>, bool) {
    let Some(hash) = hash else {
        let _ = verify_password(password, dummy);
        return (Ok(Verdict::Mismatch), true);
    };
    let checked = check_password(password, hash).map(|c| match c {
        PasswordCheck::Match => Verdict::Match,
        PasswordCheck::MatchUpgrade { new_hash } => Verdict::Upgrade(new_hash),
        _ => Verdict::Mismatch,
    });
    let hashed = checked.is_ok() && computes_hash(password, hash);
    if !hashed {
        let _ = verify_password(password, dummy);
    }
    (checked, !hashed)
}

/// The login body: a JSON object within [`MAX_BODY`], a user name of 1 to
/// [`MAX_USERNAME_BYTES`].
async fn read_body(body: axum::body::Body) -> Result<LoginBody, AuthError> {
    let malformed = || AuthError::InvalidRequest(InvalidRequest::MalformedBody);
    let bytes: Bytes = axum::body::to_bytes(body, MAX_BODY)
        .await
        .map_err(|_| malformed())?;
    // An object, nothing else (serde would also read a struct from an array).
    let object: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&bytes).map_err(|_| malformed())?;
    let body: LoginBody =
        serde_json::from_value(serde_json::Value::Object(object)).map_err(|_| malformed())?;
    if body.username.is_empty() || body.username.len() > MAX_USERNAME_BYTES {
        return Err(malformed());
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cheap argon2id dummy (the real one is built with `hash_password`).
    fn dummy() -> String {
        hash_password("dummy").unwrap()
    }

    #[test]
    fn a_check_that_would_not_hash_runs_the_dummy_instead() {
        let dummy = dummy();
        let bcrypt = bcrypt::hash("hunter2", 4).unwrap();
        let long = "x".repeat(100); // over bcrypt's 72 bytes, within MAX_PASSWORD_BYTES
        // Unknown user: the dummy.
        assert!(check_or_dummy("guess", None, &dummy).1);
        // bcrypt and a long password: no bcrypt hash, so the dummy.
        let (verdict, ran_dummy) = check_or_dummy(&long, Some(&bcrypt), &dummy);
        assert!(matches!(verdict, Ok(Verdict::Mismatch)));
        assert!(ran_dummy);
        // An unreadable stored hash: the dummy.
        let (verdict, ran_dummy) = check_or_dummy("guess", Some("$2b$04$garbage"), &dummy);
        assert!(verdict.is_err());
        assert!(ran_dummy);
        let (verdict, ran_dummy) = check_or_dummy("guess", Some("plain-text"), &dummy);
        assert!(verdict.is_err());
        assert!(ran_dummy);
        // A real check hashed: no dummy on top.
        assert!(!check_or_dummy("guess", Some(&bcrypt), &dummy).1);
        assert!(!check_or_dummy("guess", Some(&dummy), &dummy).1);
        assert!(matches!(
            check_or_dummy("hunter2", Some(&bcrypt), &dummy),
            (Ok(Verdict::Upgrade(_)), false)
        ));
    }

    struct Nobody;

    #[async_trait]
    impl PasswordAccounts for Nobody {
        async fn find(&self, _: &str) -> Result<Option<PasswordAccount>, StoreError> {
            Ok(None)
        }
    }

    #[test]
    fn the_default_normalisation_trims_and_lower_cases() {
        for name in ["alice", " Alice", "ALICE\t"] {
            assert_eq!(Nobody.normalize(name), "alice", "{name:?}");
        }
        // The Kelvin sign lower-cases to a plain `k`.
        assert_eq!(Nobody.normalize("\u{212A}elvin"), "kelvin");
        assert!(matches!(Nobody.normalize("bob"), Cow::Borrowed("bob")));
    }
}
