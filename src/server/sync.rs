//! `GET /api/v1/deliveries`: the sync API a desktop pulls a relay's archive through.
//!
//! Read-only and behind a bearer token compared in constant time. It serves the raw
//! bodies of stored deliveries and nothing else: the management token and the Smartcar
//! account tokens never leave the server. An empty page can wait (long polling) until a
//! delivery arrives, so a following desktop hears of it within a second. Ten wrong tokens
//! in a minute from one address shut it out for a minute ([`limiter`]).

pub mod limiter;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use base64::Engine;
use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{AppState, ClientIp};
use crate::smartcar::ManagementToken;
use crate::store::archive::{ArchivePage, BacklogMemo, page_after};

/// The sync API's path.
pub const SYNC_PATH: &str = "/api/v1/deliveries";

/// Deliveries per page when the caller does not say.
pub const DEFAULT_LIMIT: usize = 500;

/// Most deliveries per page, whatever the caller asks.
pub const MAX_LIMIT: usize = 2000;

/// About this many bytes of bodies per page: bounds the answer's size (and memory) however
/// large the deliveries are.
pub const MAX_PAGE_BYTES: usize = 4 * 1024 * 1024;

/// Longest a request may wait for a delivery (`wait`, in seconds). Below the server's
/// request timeout, and short enough that a shutdown does not wait long for it.
pub const MAX_WAIT_SECS: u64 = 25;

/// How long a woken long poll waits for the rest of a burst before answering.
const BURST_GATHER: Duration = Duration::from_millis(150);

/// The sync API's configuration: its token and the database it reads.
pub struct SyncApi {
    token: ManagementToken,
    db: PathBuf,
    /// Read connections kept between requests.
    idle: Mutex<Vec<Connection>>,
    /// Backlog counts carried from page to page.
    backlog: Mutex<BacklogMemo>,
    /// Wrong tokens per caller.
    failures: limiter::FailureLimiter,
}

impl SyncApi {
    /// Serves the archive of `db` to callers that present `token`; `None` when the token
    /// is empty (the API then stays off).
    pub fn new(token: &str, db: PathBuf) -> Option<Arc<Self>> {
        Some(Arc::new(SyncApi {
            token: ManagementToken::new(token)?,
            db,
            idle: Mutex::new(Vec::new()),
            backlog: Mutex::default(),
            failures: limiter::FailureLimiter::default(),
        }))
    }

    fn page(&self, after: i64, limit: usize) -> Result<ArchivePage, crate::store::StoreError> {
        let taken = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let conn = match taken {
            Some(conn) => conn,
            None => crate::store::open_read_only(&self.db)?,
        };
        let page = page_after(&conn, after, limit, MAX_PAGE_BYTES, &self.backlog);
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < 4
        {
            idle.push(conn);
        }
        page
    }
}

/// One page of the sync API's answer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SyncPage {
    /// Deliveries after the cursor, in arrival order.
    pub deliveries: Vec<SyncDelivery>,
    /// The cursor to ask for next (`after=`): the last delivery's id, or the one asked
    /// for when the page is empty.
    pub next: i64,
    /// Deliveries after this page still waiting.
    pub remaining: u64,
    /// The newest id the relay has; a cursor beyond it means its archive was replaced.
    pub newest: i64,
}

/// One delivery as the sync API serves it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SyncDelivery {
    /// Its id on the relay.
    pub id: i64,
    /// When it reached the relay (ms since the epoch): the desktop keeps this time.
    pub received_at_ms: i64,
    /// The raw body, base64 (standard alphabet): bodies are bytes, not always UTF-8.
    pub body_base64: String,
}

impl SyncDelivery {
    /// The raw body; `None` when the base64 is broken.
    pub fn body(&self) -> Option<Vec<u8>> {
        base64::engine::general_purpose::STANDARD
            .decode(&self.body_base64)
            .ok()
    }
}

/// The query string.
#[derive(Debug, Deserialize)]
pub(super) struct Params {
    after: Option<i64>,
    limit: Option<usize>,
    wait: Option<u64>,
}

pub(super) async fn deliveries(
    State(state): State<AppState>,
    client: Option<Extension<ClientIp>>,
    headers: HeaderMap,
    params: Result<Query<Params>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Some(api) = state.inner.sync.clone() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let ip = client.map(|Extension(ClientIp(ip))| ip);
    if let Err(wait) = api.failures.check(ip, Instant::now()) {
        return too_many_failures(wait);
    }
    let authorization = headers.get(header::AUTHORIZATION);
    let presented = authorization
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token);
    if !presented.is_some_and(|token| api.token.is(token)) {
        tracing::warn!(
            outcome = "unauthorized",
            "refused a sync request: missing or wrong token"
        );
        // A request without credentials is not a guess; one with wrong ones is.
        if authorization.is_some() && api.failures.failed(ip, Instant::now()) {
            tracing::warn!(
                client = ip.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string()),
                "{} wrong sync tokens in a minute: refusing this address for a minute",
                limiter::MAX_FAILURES
            );
        }
        let mut response = error(
            StatusCode::UNAUTHORIZED,
            "missing or wrong sync token (Authorization: Bearer <token>)",
        );
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return response;
    }
    let Ok(Query(params)) = params else {
        return error(
            StatusCode::BAD_REQUEST,
            "after, limit and wait must be whole numbers (after >= 0, limit >= 1)",
        );
    };
    let after = params.after.unwrap_or(0).max(0);
    let limit = params.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
    let wait = Duration::from_secs(params.wait.unwrap_or(0).min(MAX_WAIT_SECS));

    // Subscribe before reading, so a delivery committed in between still wakes us.
    let mut arrivals = state.inner.arrivals.subscribe();
    let mut closing = state.inner.closing.subscribe();
    let mut page = read_page(&api, after, limit).await;
    let woken = async {
        tokio::select! {
            changed = arrivals.changed() => changed.is_ok(),
            // A shutdown answers the empty page now rather than waiting out the poll.
            _ = closing.wait_for(|closing| *closing) => false,
        }
    };
    let empty = matches!(&page, Ok(p) if p.deliveries.is_empty());
    if empty && !wait.is_zero() {
        tracing::debug!(after, wait_secs = wait.as_secs(), "sync long poll waiting");
        if tokio::time::timeout(wait, woken).await.unwrap_or(false) {
            // Deliveries come in bursts (a v4 fleet reports many signals at once): let
            // the burst land so one page carries it rather than one page per delivery.
            tokio::time::sleep(BURST_GATHER).await;
            page = read_page(&api, after, limit).await;
        }
    }
    match page {
        Ok(page) => {
            let answer = SyncPage {
                next: page.deliveries.last().map_or(after, |d| d.id),
                remaining: page.remaining,
                newest: page.newest,
                deliveries: page
                    .deliveries
                    .into_iter()
                    .map(|d| SyncDelivery {
                        id: d.id,
                        received_at_ms: d.received_at_ms,
                        body_base64: base64::engine::general_purpose::STANDARD.encode(&d.body),
                    })
                    .collect(),
            };
            tracing::info!(
                after,
                served = answer.deliveries.len(),
                remaining = answer.remaining,
                "sync page"
            );
            Json(answer).into_response()
        }
        Err(store_error) => {
            tracing::warn!(error = %store_error, "sync page could not be read");
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the archive could not be read; try again",
            )
        }
    }
}

async fn read_page(
    api: &Arc<SyncApi>,
    after: i64,
    limit: usize,
) -> Result<ArchivePage, crate::store::StoreError> {
    let api = api.clone();
    tokio::task::spawn_blocking(move || api.page(after, limit))
        .await
        .map_err(|_| crate::store::StoreError::Unavailable("the archive reader stopped".into()))?
}

/// 429 with `Retry-After` (whole seconds, rounded up) for a caller shut out by the limiter.
fn too_many_failures(wait: Duration) -> Response {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let mut response = error(
        StatusCode::TOO_MANY_REQUESTS,
        &format!(
            "too many wrong sync tokens from this address; try again in {seconds} s with the token the relay's `fleetdash serve` runs with"
        ),
    );
    if let Ok(value) = HeaderValue::from_str(&seconds.max(1).to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}
