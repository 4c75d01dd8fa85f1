//! Pulling a relay's archive into the local database: `fleetdash sync` and the app's live
//! sync. A relay is a `fleetdash serve` on an always-on box with the sync API on.
//!
//! Every pulled delivery goes through the same [`Batch::ingest`] as a local delivery, so
//! readings and sessions are derived here exactly as on the relay, a delivery seen both
//! locally and through the relay is stored once (dedup by event key), and each keeps the
//! relay's arrival time. The cursor moves in the transaction that stores its page, so an
//! interrupted sync resumes where it stopped and a repeated one changes nothing.

use std::time::Duration;

use rusqlite::Connection;
use tokio::sync::watch;

use crate::domain::time::now_ms;
use crate::server::WEBHOOK_PATH;
use crate::server::sync::{SYNC_PATH, SyncPage};
use crate::smartcar::client::Secret;
use crate::smartcar::parse_archived;
use crate::store::archive::{SyncPosition, save_sync_position, sync_position};
use crate::store::{Batch, Outcome, StoreError};

/// Deliveries asked for per page.
pub const PAGE_LIMIT: usize = 500;

/// How long a following sync asks the relay to hold an empty answer (long polling).
pub const FOLLOW_WAIT_SECS: u64 = 20;

/// Largest answer taken from a relay. A relay's pages hold about 4 MiB of bodies (base64
/// and JSON make that about 6 MiB); anything much larger is not a fleetdash relay, and
/// reading it would only exhaust memory.
pub const MAX_PAGE_BYTES: usize = 16 * 1024 * 1024;

/// Most of an error answer read for its message.
const MAX_ERROR_BYTES: usize = 64 * 1024;

/// Why a sync stopped or could not start.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// Not an address fleetdash can pull from.
    #[error(
        "\"{0}\" is not the address of a relay: give the address of the always-on fleetdash, like https://fleet.example.com"
    )]
    BadUrl(String),
    /// No token to present.
    #[error(
        "no sync token: enter the token the relay's `fleetdash serve` runs with in the app's Settings (Receive data from an always-on fleetdash), or set FLEETDASH_SYNC_TOKEN"
    )]
    NoToken,
    /// 401 from the relay.
    #[error(
        "the relay at {0} refused the sync token (401): use the token its `fleetdash serve` runs with (FLEETDASH_SYNC_TOKEN on the relay)"
    )]
    Unauthorized(String),
    /// 404 from the relay.
    #[error(
        "{0} has no sync API (404): check the address, and start `fleetdash serve` there with FLEETDASH_SYNC_TOKEN set"
    )]
    NotEnabled(String),
    /// The relay could not be reached, or did not answer in time.
    #[error(
        "could not reach the relay at {url} ({reason}): check the address and that the relay is running"
    )]
    Unreachable {
        /// The relay.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// The relay answered with an error.
    #[error("the relay at {url} answered {status}: {message}")]
    Refused {
        /// The relay.
        url: String,
        /// The HTTP status.
        status: u16,
        /// What it said.
        message: String,
    },
    /// The relay's answer did not make sense.
    #[error(
        "the relay at {url} sent an answer fleetdash cannot read ({reason}): are both running the same fleetdash version?"
    )]
    BadAnswer {
        /// The relay.
        url: String,
        /// What was wrong.
        reason: String,
    },
    /// The answer was larger than [`MAX_PAGE_BYTES`].
    #[error(
        "the relay at {0} sent a page larger than 16 MiB, which fleetdash refuses so that a wrong or hostile server cannot exhaust this computer's memory: check that the address is your fleetdash relay and that both run the same fleetdash version"
    )]
    PageTooLarge(String),
    /// The local database did not take the deliveries.
    #[error("the local database did not take the deliveries: {0}")]
    Store(#[from] StoreError),
}

impl From<rusqlite::Error> for SyncError {
    fn from(error: rusqlite::Error) -> Self {
        SyncError::Store(error.into())
    }
}

impl SyncError {
    /// True when trying again cannot help until someone changes something (the token, the
    /// address, the relay's configuration).
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            SyncError::BadUrl(_)
                | SyncError::NoToken
                | SyncError::Unauthorized(_)
                | SyncError::NotEnabled(_)
                | SyncError::PageTooLarge(_)
        )
    }
}

/// The relay's base address from what the user typed: scheme, host, port and any path
/// prefix; a pasted webhook or sync API address is cut back to its base.
pub fn normalize_url(input: &str) -> Result<String, SyncError> {
    let trimmed = input.trim().trim_end_matches('/');
    let base = [SYNC_PATH, WEBHOOK_PATH, "/healthz"]
        .iter()
        .find_map(|suffix| trimmed.strip_suffix(suffix))
        .unwrap_or(trimmed);
    let parsed = reqwest::Url::parse(base).map_err(|_| SyncError::BadUrl(input.trim().into()))?;
    if !matches!(parsed.scheme(), "http" | "https")
        || parsed.host_str().is_none_or(str::is_empty)
        || parsed.query().is_some()
        || parsed.fragment().is_some()
    {
        return Err(SyncError::BadUrl(input.trim().into()));
    }
    Ok(base.trim_end_matches('/').to_owned())
}

/// A relay to pull from.
pub struct Relay {
    url: String,
    endpoint: reqwest::Url,
    token: Secret,
    http: reqwest::Client,
}

impl Relay {
    /// The relay at `url` (normalized by [`normalize_url`]), presenting `token`.
    pub fn new(url: &str, token: Secret) -> Result<Self, SyncError> {
        let url = normalize_url(url)?;
        if token.expose().trim().is_empty() {
            return Err(SyncError::NoToken);
        }
        let endpoint = reqwest::Url::parse(&format!("{url}{SYNC_PATH}"))
            .map_err(|_| SyncError::BadUrl(url.clone()))?;
        let http = reqwest::Client::builder()
            .user_agent(concat!("fleetdash/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| SyncError::Unreachable {
                url: url.clone(),
                reason: e.to_string(),
            })?;
        Ok(Relay {
            url,
            endpoint,
            token,
            http,
        })
    }

    /// Its base address, as the cursor is kept under.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// True when the token would cross a network in the clear (plain HTTP to a host that
    /// is not this machine).
    pub fn sends_token_in_clear(&self) -> bool {
        let host = self.endpoint.host_str().unwrap_or_default();
        let loopback = host.eq_ignore_ascii_case("localhost")
            || host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.to_canonical().is_loopback());
        self.endpoint.scheme() == "http" && !loopback
    }

    /// One page after `after`; an empty one waits up to `wait_secs` for a delivery.
    pub async fn page(
        &self,
        after: i64,
        limit: usize,
        wait_secs: u64,
    ) -> Result<SyncPage, SyncError> {
        let unreachable = |e: reqwest::Error| SyncError::Unreachable {
            url: self.url.clone(),
            reason: innermost(&e),
        };
        let response = self
            .http
            .get(self.endpoint.clone())
            .query(&[
                ("after", after.to_string()),
                ("limit", limit.to_string()),
                ("wait", wait_secs.to_string()),
            ])
            .bearer_auth(self.token.expose())
            .timeout(Duration::from_secs(wait_secs + 60))
            .send()
            .await
            .map_err(unreachable)?;
        let status = response.status();
        match status.as_u16() {
            200 => {}
            401 => return Err(SyncError::Unauthorized(self.url.clone())),
            404 => return Err(SyncError::NotEnabled(self.url.clone())),
            _ => {
                let bytes = read_at_most(response, MAX_ERROR_BYTES)
                    .await
                    .unwrap_or_default()
                    .unwrap_or_default();
                let text = String::from_utf8_lossy(&bytes);
                let message = serde_json::from_str::<serde_json::Value>(&text)
                    .ok()
                    .and_then(|v| v["error"].as_str().map(str::to_owned))
                    .unwrap_or_else(|| text.chars().take(200).collect());
                return Err(SyncError::Refused {
                    url: self.url.clone(),
                    status: status.as_u16(),
                    message,
                });
            }
        }
        let bytes = read_at_most(response, MAX_PAGE_BYTES)
            .await
            .map_err(unreachable)?
            .ok_or_else(|| SyncError::PageTooLarge(self.url.clone()))?;
        serde_json::from_slice(&bytes).map_err(|e| SyncError::BadAnswer {
            url: self.url.clone(),
            reason: e.to_string(),
        })
    }
}

/// The body of `response` as it streams in, or `None` as soon as it is known to be larger
/// than `limit` (from its `Content-Length`, or once that much has arrived): never more
/// than `limit` bytes in memory, whatever the server sends.
async fn read_at_most(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Option<Vec<u8>>, reqwest::Error> {
    if response
        .content_length()
        .is_some_and(|length| length > limit as u64)
    {
        return Ok(None);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > limit {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(body))
}

/// The innermost cause of a request error ("connection refused", "timed out"): the outer
/// layers repeat the address.
fn innermost(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    if error.to_string().contains("timed out") || cause.to_string().contains("timed out") {
        return "no answer in time".into();
    }
    cause.to_string()
}

/// What one page did to the local database.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PageReport {
    /// Deliveries in the page.
    pub pulled: u64,
    /// Stored as new.
    pub new: u64,
    /// Already here (received locally too, or pulled before).
    pub duplicates: u64,
    /// Unreadable here too: kept in quarantine.
    pub quarantined: u64,
}

/// Stores one page and moves the cursor, in one transaction.
pub fn apply_page(
    conn: &mut Connection,
    url: &str,
    page: &SyncPage,
) -> Result<PageReport, SyncError> {
    let bad = |reason: String| SyncError::BadAnswer {
        url: url.to_owned(),
        reason,
    };
    let mut report = PageReport::default();
    let mut batch = Batch::begin(conn)?;
    for delivery in &page.deliveries {
        let body = delivery
            .body()
            .ok_or_else(|| bad(format!("delivery {} has a broken body", delivery.id)))?;
        // The relay is trusted through the sync token, so its own API records (which carry
        // no signature) are read too.
        let parsed = parse_archived(&body, delivery.received_at_ms);
        let ingested = batch.ingest(delivery.received_at_ms, &body, &parsed)?;
        report.pulled += 1;
        match ingested.outcome {
            Outcome::Duplicate => {
                report.duplicates += 1;
                let original: Option<i64> = batch
                    .tx()
                    .prepare_cached("SELECT duplicate_of FROM deliveries WHERE id = ?1")?
                    .query_row([ingested.delivery_id], |r| r.get(0))?;
                if let Some(original) = original {
                    batch.adopt_arrival(original, delivery.received_at_ms)?;
                }
            }
            Outcome::Quarantined => report.quarantined += 1,
            Outcome::Parsed | Outcome::Verify => report.new += 1,
        }
    }
    save_sync_position(
        batch.tx(),
        url,
        &SyncPosition {
            cursor: page.next,
            last_sync_at_ms: Some(now_ms()),
            remaining: Some(page.remaining),
        },
    )?;
    batch.commit()?;
    Ok(report)
}

/// Where a sync stands, after each page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Progress {
    /// Totals since this sync started.
    pub totals: PageReport,
    /// Deliveries still waiting on the relay.
    pub remaining: u64,
    /// The relay's id of the last delivery taken.
    pub cursor: i64,
    /// When the relay last answered (ms).
    pub last_sync_at_ms: i64,
    /// Every delivery the relay had is here.
    pub up_to_date: bool,
}

/// What a sync tells its caller as it goes.
#[derive(Debug, Clone)]
pub enum Event {
    /// A page was stored (or an empty answer came back).
    Progress(Progress),
    /// The relay's archive is older than the cursor (restored from a backup or replaced):
    /// starting again from its first delivery; what is here already is not stored twice.
    StartingOver {
        /// The cursor that pointed beyond the relay's newest delivery.
        cursor: i64,
    },
    /// A transient error; the following sync tries again after `retry_in`.
    Retrying {
        /// What went wrong.
        error: String,
        /// When it tries again.
        retry_in: Duration,
    },
}

/// Pull until up to date (`follow == false`) or until `stop` turns true (`follow`): pages
/// of [`PAGE_LIMIT`], then long polls. A following sync retries transient errors with a
/// growing pause and returns only on a permanent one or on `stop`.
pub async fn run(
    relay: &Relay,
    conn: &mut Connection,
    follow: bool,
    mut stop: watch::Receiver<bool>,
    mut on_event: impl FnMut(Event),
) -> Result<Progress, SyncError> {
    let mut progress = Progress {
        cursor: sync_position(conn, relay.url())?.cursor,
        ..Progress::default()
    };
    let mut failures = 0u32;
    loop {
        if *stop.borrow() {
            return Ok(progress);
        }
        // Long-poll only once caught up; until then, pages as fast as they come.
        let wait = if follow && progress.up_to_date {
            FOLLOW_WAIT_SECS
        } else {
            0
        };
        let fetched = tokio::select! {
            page = relay.page(progress.cursor, PAGE_LIMIT, wait) => page,
            _ = stop.wait_for(|stopped| *stopped) => return Ok(progress),
        };
        let page = match fetched {
            Ok(page) => page,
            Err(error) if follow && !error.is_permanent() => {
                failures += 1;
                let retry_in = Duration::from_secs(2u64.pow(failures.min(6)).min(60));
                on_event(Event::Retrying {
                    error: error.to_string(),
                    retry_in,
                });
                tokio::select! {
                    () = tokio::time::sleep(retry_in) => {}
                    _ = stop.wait_for(|stopped| *stopped) => return Ok(progress),
                }
                continue;
            }
            Err(error) => return Err(error),
        };
        failures = 0;
        if page.deliveries.is_empty() && page.newest < progress.cursor {
            on_event(Event::StartingOver {
                cursor: progress.cursor,
            });
            progress.cursor = 0;
            progress.up_to_date = false;
            continue;
        }
        let report = apply_page(conn, relay.url(), &page)?;
        progress.totals.pulled += report.pulled;
        progress.totals.new += report.new;
        progress.totals.duplicates += report.duplicates;
        progress.totals.quarantined += report.quarantined;
        progress.cursor = page.next;
        progress.remaining = page.remaining;
        progress.last_sync_at_ms = now_ms();
        progress.up_to_date = page.remaining == 0;
        on_event(Event::Progress(progress.clone()));
        if progress.up_to_date && !follow {
            return Ok(progress);
        }
    }
}
