//! The callback server (axum): Smartcar's webhook deliveries, and health.
//! Nothing here knows egui. [`router`] builds the whole app so tests can drive it.

pub mod oauth;
mod webhook;

use std::future::Future;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use tokio::net::TcpListener;

use crate::smartcar::ManagementToken;
use crate::store::WriterHandle;

/// Largest body accepted. A v2 delivery batches many vehicles, and Smartcar names a too
/// small limit on the receiving side as a cause of lost events, so stay generous.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The path Smartcar posts to.
pub const WEBHOOK_PATH: &str = "/webhooks/smartcar";

/// Where accepted deliveries go.
#[derive(Clone)]
pub enum Sink {
    /// Committed to the database before the 2xx.
    Store(WriterHandle),
    /// Answered 200 without storing: only for measuring the server's own overhead.
    Discard,
}

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    token: ManagementToken,
    sink: Sink,
    stats: Arc<ServerStats>,
    logins: oauth::LoginWaiters,
}

impl axum::extract::FromRef<AppState> for oauth::LoginWaiters {
    fn from_ref(state: &AppState) -> Self {
        state.inner.logins.clone()
    }
}

/// What the server answered so far, for the app's status line.
#[derive(Debug, Default)]
pub struct ServerStats {
    /// Deliveries stored (2xx after commit, duplicates and quarantine included).
    pub stored: AtomicU64,
    /// Verify challenges answered.
    pub verified: AtomicU64,
    /// Requests refused for a missing or wrong signature (401).
    pub unauthorized: AtomicU64,
    /// Deliveries refused because the database did not take them (503).
    pub unavailable: AtomicU64,
    /// The last thing that went wrong: when (ms) and what.
    pub last_error: Mutex<Option<(i64, String)>>,
}

impl ServerStats {
    fn note_error(&self, what: String) {
        if let Ok(mut last) = self.last_error.lock() {
            *last = Some((crate::domain::time::now_ms(), what));
        }
    }

    /// The last error, if any: when (ms) and what.
    pub fn last_error(&self) -> Option<(i64, String)> {
        self.last_error.lock().ok().and_then(|l| l.clone())
    }
}

impl AppState {
    /// State for a server that checks signatures with `token` and stores into `sink`.
    pub fn new(token: ManagementToken, sink: Sink) -> Self {
        AppState {
            inner: Arc::new(Inner {
                token,
                sink,
                stats: Arc::new(ServerStats::default()),
                logins: oauth::LoginWaiters::default(),
            }),
        }
    }

    /// Logins waiting for Connect's redirect to `/oauth/callback`.
    pub fn logins(&self) -> oauth::LoginWaiters {
        self.inner.logins.clone()
    }

    /// The server's counters (shared: they keep counting).
    pub fn stats(&self) -> Arc<ServerStats> {
        self.inner.stats.clone()
    }
}

/// The whole HTTP surface.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route(WEBHOOK_PATH, post(webhook::receive))
        .route("/healthz", get(healthz))
        .route(oauth::CALLBACK_PATH, get(oauth::callback))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

/// Serves `router(state)` on `listener` until `shutdown` resolves, then finishes the
/// requests in flight.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

/// 200 when the database takes a durable write now, 503 otherwise.
async fn healthz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    match &state.inner.sink {
        Sink::Discard => (StatusCode::OK, "ok\n"),
        Sink::Store(writer) => match writer.probe().await {
            Ok(()) => (StatusCode::OK, "ok\n"),
            Err(error) => {
                tracing::warn!(%error, "health check failed");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the database does not take writes\n",
                )
            }
        },
    }
}
