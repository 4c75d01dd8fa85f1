//! The callback server (axum): Smartcar's webhook deliveries, and health.
//! Nothing here knows egui. [`router`] builds the whole app so tests can drive it.

pub mod oauth;
pub mod sync;
mod webhook;

use std::future::Future;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::error_handling::HandleErrorLayer;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower::limit::GlobalConcurrencyLimitLayer;
use tower::load_shed::LoadShedLayer;
use tower_http::timeout::TimeoutLayer;

use crate::smartcar::ManagementToken;
use crate::store::WriterHandle;

/// Largest body accepted. A v2 delivery batches many vehicles, and Smartcar names a too
/// small limit on the receiving side as a cause of lost events, so stay generous.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The path Smartcar posts to.
pub const WEBHOOK_PATH: &str = "/webhooks/smartcar";

/// Longest a request may take, reading its body included: a caller that trickles bytes
/// (or never finishes) is cut off with 408 instead of holding a slot for long. Above
/// Smartcar's own 15 s and the sync API's longest wait.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(40);

/// Most requests handled at once; one more is answered 503 at once (Smartcar retries it)
/// rather than queued without bound. A small fleet's deliveries and a few desktops' long
/// polls fit many times over; a flood does not exhaust memory.
pub const MAX_CONCURRENT_REQUESTS: usize = 256;

/// The address a request came from: the peer's, or behind a trusted reverse proxy (one
/// listed in `FLEETDASH_TRUSTED_PROXIES`) the client it names in `X-Forwarded-For`. The
/// server puts it in each request's extensions; requests driven by tests through
/// `oneshot` have none, and handlers then treat them as one unknown caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientIp(pub std::net::IpAddr);

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
    /// The sync API, when a token was configured.
    sync: Option<Arc<sync::SyncApi>>,
    /// Counts stored deliveries: wakes the sync API's long polls.
    arrivals: tokio::sync::watch::Sender<u64>,
    /// True once the server is shutting down: long polls answer at once instead of
    /// holding the shutdown back.
    closing: tokio::sync::watch::Sender<bool>,
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
        Self::with_sync(token, sink, None)
    }

    /// The same, also serving the archive through the sync API when `sync` is given.
    pub fn with_sync(token: ManagementToken, sink: Sink, sync: Option<Arc<sync::SyncApi>>) -> Self {
        AppState {
            inner: Arc::new(Inner {
                token,
                sink,
                stats: Arc::new(ServerStats::default()),
                logins: oauth::LoginWaiters::default(),
                sync,
                arrivals: tokio::sync::watch::Sender::new(0),
                closing: tokio::sync::watch::Sender::new(false),
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

/// How much a client may take of the server: time per request and requests at once.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Longest a request may take, waiting for a slot and reading its body included.
    pub request_timeout: Duration,
    /// Most requests handled at once.
    pub max_concurrent: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            request_timeout: REQUEST_TIMEOUT,
            max_concurrent: MAX_CONCURRENT_REQUESTS,
        }
    }
}

/// The whole HTTP surface, with the default [`Limits`].
pub fn router(state: AppState) -> Router {
    router_with(state, Limits::default())
}

/// The whole HTTP surface, with `limits` (tests use short ones).
pub fn router_with(state: AppState, limits: Limits) -> Router {
    Router::new()
        .route(WEBHOOK_PATH, post(webhook::receive))
        .route("/healthz", get(healthz))
        .route(oauth::CALLBACK_PATH, get(oauth::callback))
        .route(sync::SYNC_PATH, get(sync::deliveries))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        // The slots are shared by every route (a global semaphore); with none free, the
        // request is shed with 503 instead of waiting outside any timeout.
        .layer(
            ServiceBuilder::new()
                .layer(HandleErrorLayer::new(overloaded))
                .layer(LoadShedLayer::new())
                .layer(GlobalConcurrencyLimitLayer::new(
                    limits.max_concurrent.max(1),
                )),
        )
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            limits.request_timeout,
        ))
        .with_state(state)
}

/// Serves `router(state)` on `listener` until `shutdown` resolves, then finishes the
/// requests in flight.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let closing = state.inner.closing.clone();
    let shutdown = async move {
        shutdown.await;
        closing.send_replace(true);
    };
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

/// Every slot is taken.
async fn overloaded(error: tower::BoxError) -> (StatusCode, &'static str) {
    tracing::warn!(%error, "too many requests at once: answered 503");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "too many requests at once; try again shortly\n",
    )
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
