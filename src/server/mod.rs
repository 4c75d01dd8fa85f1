//! The callback server (axum): Smartcar's webhook deliveries, and health; and on `serve`,
//! the poller that fills quiet vehicles' gaps through the API ([`gaps`]).
//! Nothing here knows egui. [`router`] builds the whole app so tests can drive it.

mod admission;
pub mod gaps;
mod listen;
pub mod oauth;
pub mod quota;
pub mod sync;
mod webhook;

pub use admission::{Peer, Slots, client_ip};
pub use listen::serve_with;

use std::future::Future;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use std::net::IpAddr;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::middleware;
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tower_http::compression::CompressionLayer;
use tower_http::timeout::TimeoutLayer;

use crate::smartcar::ManagementToken;
use crate::store::WriterHandle;

/// Largest body accepted. A v2 delivery batches many vehicles, and Smartcar names a too
/// small limit on the receiving side as a cause of lost events, so stay generous.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The path Smartcar posts to.
pub const WEBHOOK_PATH: &str = "/webhooks/smartcar";

/// Longest a request may take to arrive, headers and body: a caller that trickles bytes
/// (or never finishes) is cut off with 408 and frees its place.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Longest a request may take once it has arrived (the sync API's long polls included).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(40);

/// Most requests handled at once (a slot is taken once a request has arrived, and for a
/// delivery once its signature checks); one more is answered 503 at once (Smartcar
/// retries it) rather than queued without bound.
pub const MAX_CONCURRENT_REQUESTS: usize = 256;

/// Most connections open at once. Each costs a file descriptor and a little memory; the
/// systemd unit's `LimitNOFILE` leaves room for them.
pub const MAX_CONNECTIONS: usize = 2048;

/// Most connections (and requests being read) one address may hold: a small share, so
/// that whoever finds the URL cannot crowd out Smartcar.
pub const MAX_PER_CLIENT: usize = 64;

/// Environment variable listing the reverse proxies (comma separated addresses) whose
/// `X-Forwarded-For` names the real client.
pub const TRUSTED_PROXIES_ENV: &str = "FLEETDASH_TRUSTED_PROXIES";

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
    /// When an unsigned verify challenge last noted its time (ms).
    unsigned_note_at: std::sync::atomic::AtomicI64,
    /// The last health probe: when, and its answer, so `/healthz` probes at most once a
    /// second however often it is asked.
    health: tokio::sync::Mutex<Option<(std::time::Instant, bool)>>,
}

impl Inner {
    /// True when an unsigned verify challenge at `now_ms` may note its time (at most once
    /// a second).
    fn take_unsigned_note(&self, now_ms: i64) -> bool {
        use std::sync::atomic::Ordering;
        let last = self.unsigned_note_at.load(Ordering::Relaxed);
        now_ms - last >= webhook::UNSIGNED_NOTE_EVERY_MS
            && self
                .unsigned_note_at
                .compare_exchange(last, now_ms, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }
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
                unsigned_note_at: std::sync::atomic::AtomicI64::new(i64::MIN / 2),
                health: tokio::sync::Mutex::new(None),
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

/// How much a client may take of the server.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Longest a request may take to arrive, headers and body.
    pub read_timeout: Duration,
    /// Longest a request may take once it arrived.
    pub request_timeout: Duration,
    /// Most requests handled at once.
    pub max_concurrent: usize,
    /// Most connections open at once.
    pub max_connections: usize,
    /// Most connections, and requests being read, of one address.
    pub max_per_client: usize,
    /// Reverse proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpAddr>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            read_timeout: READ_TIMEOUT,
            request_timeout: REQUEST_TIMEOUT,
            max_concurrent: MAX_CONCURRENT_REQUESTS,
            max_connections: MAX_CONNECTIONS,
            max_per_client: MAX_PER_CLIENT,
            trusted_proxies: Vec::new(),
        }
    }
}

impl Limits {
    /// The default limits, trusting the proxies named in `FLEETDASH_TRUSTED_PROXIES`.
    pub fn from_env() -> Result<Self, String> {
        let listed = std::env::var(TRUSTED_PROXIES_ENV).unwrap_or_default();
        Ok(Limits {
            trusted_proxies: parse_proxies(&listed)?,
            ..Limits::default()
        })
    }

    /// Slots one address may hold: a quarter of them, so a single source (one Smartcar
    /// address, or every desktop behind one NAT) never takes them all.
    pub fn max_slots_per_client(&self) -> usize {
        (self.max_concurrent / 4).max(1)
    }
}

/// Reads a comma-separated list of addresses, with a sentence naming a bad one.
pub fn parse_proxies(listed: &str) -> Result<Vec<IpAddr>, String> {
    listed
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| {
            item.parse::<IpAddr>().map_err(|_| {
                format!(
                    "{TRUSTED_PROXIES_ENV} lists \"{item}\", which is not an IP address: \
                     list the addresses your reverse proxy connects from, e.g. 127.0.0.1,::1"
                )
            })
        })
        .collect()
}

/// The whole HTTP surface, with the default [`Limits`].
pub fn router(state: AppState) -> Router {
    router_with(state, &Limits::default())
}

/// The whole HTTP surface, with `limits` (tests use short ones).
pub fn router_with(state: AppState, limits: &Limits) -> Router {
    Router::new()
        .route(WEBHOOK_PATH, post(webhook::receive))
        .route("/healthz", get(healthz))
        .route(oauth::CALLBACK_PATH, get(oauth::callback))
        // A page is base64 bodies in JSON: zstd (or gzip) makes it a fraction of that on
        // the wire when the caller asks (`Accept-Encoding`); what it decodes to is the same.
        .route(
            sync::SYNC_PATH,
            get(sync::deliveries).layer(CompressionLayer::new().gzip(true).zstd(true)),
        )
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        // Every route: the caller's share, the body within the read timeout, a slot.
        .layer(middleware::from_fn_with_state(
            admission::Admission::new(limits),
            admission::admit,
        ))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            limits.read_timeout + limits.request_timeout,
        ))
        .with_state(state)
}

/// Serves `router(state)` on `listener` with the default [`Limits`] until `shutdown`
/// resolves, then finishes the requests in flight.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, state, Limits::default(), shutdown).await
}

/// How long a health answer is reused.
const HEALTH_CACHE: Duration = Duration::from_secs(1);

/// 200 when the database takes a durable write now, 503 otherwise. The probe commits (an
/// fsync), so its answer is reused for a second: asking often cannot load the disk.
async fn healthz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    let healthy = match &state.inner.sink {
        Sink::Discard => true,
        Sink::Store(writer) => {
            // Callers wait on one probe instead of each starting their own.
            let mut last = state.inner.health.lock().await;
            match *last {
                Some((at, healthy)) if at.elapsed() < HEALTH_CACHE => healthy,
                _ => {
                    let healthy = match writer.probe().await {
                        Ok(()) => true,
                        Err(error) => {
                            tracing::warn!(%error, "health check failed");
                            false
                        }
                    };
                    *last = Some((std::time::Instant::now(), healthy));
                    healthy
                }
            }
        }
    };
    if healthy {
        (StatusCode::OK, "ok\n")
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "the database does not take writes\n",
        )
    }
}
