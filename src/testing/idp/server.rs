//! The fake provider's loopback HTTP server: its discovery document and key set, the
//! faults a test switches on (down, slow, garbage), and the fetch counters.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::response::{IntoResponse, Response};
use http::header::{CONNECTION, CONTENT_TYPE};
use http::{StatusCode, Uri};
use serde_json::json;
use tokio::task::JoinHandle;

use crate::testing::idp::keys::KeyRing;

/// What the server answers besides the documents.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Faults {
    pub(crate) stopped: bool,
    pub(crate) slow: Option<Duration>,
    pub(crate) garbage: bool,
}

/// The state the handler and the [`FakeIdp`](super::FakeIdp) share.
pub(crate) struct Shared {
    pub(crate) iss: String,
    pub(crate) base: String,
    pub(crate) discovery_path: String,
    pub(crate) jwks_path: String,
    pub(crate) keys: Mutex<KeyRing>,
    pub(crate) faults: Mutex<Faults>,
    pub(crate) discovery_fetches: AtomicU64,
    pub(crate) jwks_fetches: AtomicU64,
}

/// Locks ignoring poisoning: a test that panicked while holding a lock must not turn
/// every later request into a second panic.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Shared {
    async fn answer(&self, uri: &Uri) -> Response {
        let path = uri.path();
        let counter = if path == self.discovery_path {
            &self.discovery_fetches
        } else if path == self.jwks_path {
            &self.jwks_fetches
        } else {
            return StatusCode::NOT_FOUND.into_response();
        };
        counter.fetch_add(1, Ordering::SeqCst);
        let faults = *lock(&self.faults);
        if faults.stopped {
            // Only a connection kept alive from before `stop()` gets here: answer it as a
            // provider going down would, and close it.
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                [(CONNECTION, "close")],
                "stopped",
            )
                .into_response();
        }
        if let Some(delay) = faults.slow {
            tokio::time::sleep(delay).await;
        }
        if faults.garbage {
            // What a proxy's error page or a captive portal serves: 200, not JSON.
            return (
                StatusCode::OK,
                [(CONTENT_TYPE, "text/html")],
                "<html><body><h1>502 Bad Gateway</h1></body></html>",
            )
                .into_response();
        }
        let body = if path == self.discovery_path {
            json!({
                "issuer": self.iss,
                "jwks_uri": format!("{}{}", self.base, self.jwks_path),
                "authorization_endpoint": format!("{}/authorize", self.base),
                "token_endpoint": format!("{}/token", self.base),
                "response_types_supported": ["code", "id_token", "code id_token"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
            })
        } else {
            serde_json::to_value(lock(&self.keys).jwks()).unwrap_or_default()
        };
        ([(CONTENT_TYPE, "application/json")], body.to_string()).into_response()
    }
}

/// The listening task; `None` while stopped.
pub(crate) struct Server {
    pub(crate) addr: SocketAddr,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Server {
    /// Serves `shared` on `listener`.
    pub(crate) fn start(
        listener: tokio::net::TcpListener,
        shared: Arc<Shared>,
    ) -> std::io::Result<Server> {
        let addr = listener.local_addr()?;
        Ok(Server {
            addr,
            task: Mutex::new(Some(serve(listener, shared))),
        })
    }

    /// Closes the listening socket: new connections are refused.
    pub(crate) fn stop(&self) {
        if let Some(task) = lock(&self.task).as_ref() {
            task.abort();
        }
    }

    /// Listens again on the same port (after [`stop`](Self::stop)).
    pub(crate) async fn resume(&self, shared: Arc<Shared>) -> std::io::Result<()> {
        let old = lock(&self.task).take();
        if let Some(old) = old {
            // Aborted by `stop`: wait until its listener is closed.
            old.abort();
            let _ = old.await;
        }
        let listener = bind(self.addr)?;
        *lock(&self.task) = Some(serve(listener, shared));
        Ok(())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(task) = lock(&self.task).take() {
            task.abort();
        }
    }
}

/// A listener on `addr` (port 0: a free one).
pub(crate) fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    // The same port again after `stop()`, whatever connections linger in TIME_WAIT.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(128)
}

fn serve(listener: tokio::net::TcpListener, shared: Arc<Shared>) -> JoinHandle<()> {
    let app = Router::new().fallback(move |uri: Uri| {
        let shared = Arc::clone(&shared);
        async move { shared.answer(&uri).await }
    });
    tokio::spawn(async move {
        // Ends only when aborted (`stop`) or when the listener fails.
        let _ = axum::serve(listener, app).await;
    })
}
