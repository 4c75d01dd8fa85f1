//! The always-on relay fills the gaps: when a subscribed vehicle has sent nothing for an
//! hour and a Smartcar login is kept on this machine, `serve` asks Smartcar for the
//! vehicle's battery, charge and location, and archives the answer through the writer as a
//! delivery (fleetdash's own API record), so the readings (`source` = `api`) reach every
//! desktop that syncs from the relay.
//!
//! It runs on a task of its own, never on a request's path; its deliveries queue at the
//! writer like Smartcar's. Each vehicle is polled at most once an hour (the archive
//! remembers the last poll across restarts), within Smartcar's application-wide bucket
//! (less a reserve for the owner's own commands), waiting out every 429's `retry-after`
//! and backing off after failures. The rules are pure functions in `domain::gaps`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use super::{AppState, Sink};
use crate::account::Account;
use crate::account::poll::{FetchError, Fetched, fetch};
use crate::domain::gaps::{Bucket, Cadence, HOUR_MS, due};
use crate::smartcar::parse_archived;
use crate::store::{self, Ingested, Outcome, StoreError, WriterHandle};

/// How often the poller looks for quiet vehicles.
pub const CHECK_EVERY: Duration = Duration::from_secs(5 * 60);

/// The first look comes a minute after the start: a relay that was down gets Smartcar's
/// retried deliveries first, and polls only what they leave quiet.
pub const FIRST_CHECK_AFTER: Duration = Duration::from_secs(60);

/// Environment variable setting both in seconds instead (tests, impatient operators).
pub const CHECK_SECS_ENV: &str = "FLEETDASH_QUIET_POLL_CHECK_SECS";

/// Longest pause after failures of Smartcar or of the way to it.
const MAX_OUTAGE_BACKOFF_MS: i64 = 30 * 60_000;

/// The poller's clock: ms since the Unix epoch (tests pass the simulated Smartcar's).
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// The check interval and the first check's delay: [`CHECK_EVERY`] and
/// [`FIRST_CHECK_AFTER`], or both [`CHECK_SECS_ENV`] seconds.
pub fn intervals_from_env() -> (Duration, Duration) {
    match std::env::var(CHECK_SECS_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|&secs| secs > 0)
    {
        Some(secs) => (Duration::from_secs(secs), Duration::from_secs(secs)),
        None => (FIRST_CHECK_AFTER, CHECK_EVERY),
    }
}

/// What one check did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckReport {
    /// A usable login reaches at least one vehicle.
    pub signed_in: bool,
    /// Vehicles that were due (quiet, not polled within the hour, allowed by the bucket).
    pub due: usize,
    /// Vehicles whose answer was archived.
    pub polled: Vec<String>,
    /// Attempts that brought nothing to archive.
    pub failed: usize,
    /// Smartcar answered 429.
    pub rate_limited: bool,
}

/// One vehicle's attempts that the archive does not remember (failures).
#[derive(Debug, Clone, Copy, Default)]
struct Attempt {
    at_ms: i64,
    failures: u32,
    retry_at_ms: Option<i64>,
}

/// The poller: its account, where it reads and writes, and what it remembers.
pub struct GapPoller {
    account: Account,
    db: PathBuf,
    state: AppState,
    writer: WriterHandle,
    clock: Clock,
    cadence: Cadence,
    bucket: Option<Bucket>,
    /// Nothing is asked before this (ms): a 429 for the application, or an outage.
    blocked_until_ms: i64,
    outages: u32,
    attempts: HashMap<String, Attempt>,
    /// The last on/off state logged, so each change is logged once.
    announced: Option<bool>,
}

impl GapPoller {
    /// A poller for the logins of `account`, reading `db` and storing through the writer
    /// of `state` (`None` when the server stores nothing). Its client returns 429s at once,
    /// so the poller's own schedule waits them out.
    pub fn new(account: Account, db: PathBuf, state: AppState, clock: Clock) -> Option<Self> {
        let Sink::Store(writer) = &state.inner.sink else {
            return None;
        };
        let writer = writer.clone();
        let client = account.client.clone().without_rate_limit_retries();
        let account = Account::with_client(account.config.clone(), account.secrets.clone(), client);
        Some(GapPoller {
            account,
            db,
            state,
            writer,
            clock,
            cadence: Cadence::default(),
            bucket: None,
            blocked_until_ms: i64::MIN,
            outages: 0,
            attempts: HashMap::new(),
            announced: None,
        })
    }

    /// Uses `cadence` instead of the default one.
    pub fn with_cadence(mut self, cadence: Cadence) -> Self {
        self.cadence = cadence;
        self
    }

    /// Checks now, then every `every` after `first_after`, until the server shuts down.
    pub async fn run(mut self, first_after: Duration, every: Duration) {
        let mut closing = self.state.inner.closing.subscribe();
        // Say at once whether polling is on, not only at the first check.
        self.usable_vehicles().await;
        let mut wait = first_after;
        loop {
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                _ = closing.wait_for(|closing| *closing) => return,
            }
            let report = self.check().await;
            tracing::debug!(?report, "quiet-vehicle check");
            wait = every;
        }
    }

    /// The vehicles that a usable login reaches (logging once when polling turns on or off).
    async fn usable_vehicles(&mut self) -> Vec<String> {
        let account = self.account.clone();
        let now_ms = (self.clock)();
        let grants = tokio::task::spawn_blocking(move || account.grants()).await;
        let (vehicles, why_off) = match grants {
            Ok(Ok(grants)) if grants.is_empty() => (
                Vec::new(),
                "no Smartcar login is kept on this machine".to_owned(),
            ),
            Ok(Ok(grants)) => {
                let usable: Vec<String> = grants
                    .into_iter()
                    .filter(|g| !g.dead && g.refresh_expires_ms > now_ms)
                    .flat_map(|g| g.vehicle_ids)
                    .collect();
                let why = "every Smartcar login on this machine has ended (expired, or refused by Smartcar)";
                (usable, why.to_owned())
            }
            Ok(Err(error)) => (
                Vec::new(),
                format!("the logins could not be read ({error})"),
            ),
            Err(_) => (Vec::new(), "the logins could not be read".to_owned()),
        };
        let on = !vehicles.is_empty();
        if self.announced != Some(on) {
            self.announced = Some(on);
            if on {
                tracing::info!(
                    vehicles = vehicles.len(),
                    "polling quiet vehicles is on: a subscribed vehicle that sends nothing for an hour is fetched through Smartcar's API, each at most once an hour"
                );
            } else {
                tracing::info!(
                    "polling quiet vehicles is off: {why_off}; run `fleetdash login` on this machine (with the FLEETDASH_SECRETS that serve uses) to turn it on"
                );
            }
        }
        vehicles
    }

    /// Looks for quiet vehicles once and polls those that are due.
    pub async fn check(&mut self) -> CheckReport {
        let mut report = CheckReport::default();
        let vehicles = self.usable_vehicles().await;
        if vehicles.is_empty() {
            return report;
        }
        report.signed_in = true;
        let db = self.db.clone();
        let read = tokio::task::spawn_blocking(move || {
            let conn = store::open_read_only(&db)?;
            store::polled::subscribed_gaps(&conn, &vehicles)
        })
        .await;
        let mut gaps = match read {
            Ok(Ok(gaps)) => gaps,
            Ok(Err(error)) => {
                tracing::warn!(%error, "could not read which vehicles are quiet; trying at the next check");
                return report;
            }
            Err(_) => return report,
        };
        for gap in &mut gaps {
            if let Some(attempt) = self.attempts.get(&gap.vehicle_id) {
                gap.last_poll_ms = gap.last_poll_ms.max(Some(attempt.at_ms));
                gap.retry_at_ms = attempt.retry_at_ms;
            }
        }
        let now_ms = (self.clock)();
        let bucket = self.bucket.get_or_insert_with(|| Bucket::full(now_ms));
        let allowance = if now_ms < self.blocked_until_ms {
            0
        } else {
            bucket.allowance(now_ms)
        };
        let due: Vec<String> = due(&gaps, now_ms, &self.cadence, allowance)
            .into_iter()
            .map(|gap| gap.vehicle_id.clone())
            .collect();
        report.due = due.len();
        for vehicle_id in due {
            if *self.state.inner.closing.borrow() {
                break;
            }
            if let Some(bucket) = &mut self.bucket {
                bucket.spend((self.clock)());
            }
            let fetched = fetch(&self.account, &vehicle_id, &*self.clock).await;
            if !self.take(&vehicle_id, fetched, &mut report).await {
                break;
            }
        }
        report
    }

    /// Takes one attempt's outcome; false when nothing more may be asked in this check.
    async fn take(
        &mut self,
        vehicle_id: &str,
        fetched: Result<Fetched, FetchError>,
        report: &mut CheckReport,
    ) -> bool {
        let at_ms = (self.clock)();
        let attempt = self.attempts.entry(vehicle_id.to_owned()).or_default();
        let error = match fetched {
            Ok(fetched) => {
                *attempt = Attempt {
                    at_ms,
                    ..Attempt::default()
                };
                self.outages = 0;
                match self.archive(fetched).await {
                    Ok(ingested) => {
                        tracing::info!(
                            vehicle = vehicle_id,
                            readings = ingested.readings,
                            delivery = ingested.delivery_id,
                            "polled a quiet vehicle through Smartcar's API"
                        );
                        report.polled.push(vehicle_id.to_owned());
                    }
                    Err(error) => {
                        report.failed += 1;
                        tracing::warn!(vehicle = vehicle_id, %error, "a polled answer could not be stored");
                    }
                }
                return true;
            }
            Err(error) => error,
        };
        report.failed += 1;
        if let Some((wait, vehicle_only)) = error.rate_limited() {
            report.rate_limited = true;
            let until_ms = at_ms.saturating_add(wait.as_millis() as i64);
            tracing::warn!(
                vehicle = vehicle_id,
                retry_after_secs = wait.as_secs(),
                vehicle_only,
                "Smartcar's rate limit: asking nothing more until it says"
            );
            if vehicle_only {
                attempt.retry_at_ms = Some(until_ms);
                return true;
            }
            self.blocked_until_ms = until_ms;
            if let Some(bucket) = &mut self.bucket {
                bucket.exhausted(at_ms);
            }
            return false;
        }
        let outage = matches!(&error, FetchError::Api(e) if e.status == 0 || e.status >= 500);
        if outage {
            // The network or Smartcar itself: every vehicle would fail alike.
            self.outages += 1;
            let pause_ms =
                (60_000i64 << self.outages.min(6).saturating_sub(1)).min(MAX_OUTAGE_BACKOFF_MS);
            self.blocked_until_ms = at_ms.saturating_add(pause_ms);
            tracing::warn!(vehicle = vehicle_id, %error, pause_secs = pause_ms / 1000, "could not poll; pausing");
            return false;
        }
        // This vehicle's login or grant: an hour, then two, four, eight. (A 429 or an outage
        // above is no poll of the vehicle, so only here does the failure count as one.)
        attempt.at_ms = at_ms;
        attempt.failures += 1;
        let backoff_ms = HOUR_MS << attempt.failures.min(4).saturating_sub(1);
        attempt.retry_at_ms = Some(at_ms.saturating_add(backoff_ms));
        tracing::warn!(vehicle = vehicle_id, %error, retry_in_secs = backoff_ms / 1000, "could not poll a quiet vehicle");
        true
    }

    /// Stores the answer through the writer, as a webhook's delivery would be, and wakes
    /// the sync API's long polls.
    async fn archive(&self, fetched: Fetched) -> Result<Ingested, StoreError> {
        let parsed = parse_archived(&fetched.body, fetched.fetched_at_ms);
        let ingested = self
            .writer
            .ingest(fetched.fetched_at_ms, Bytes::from(fetched.body), parsed)
            .await?;
        if ingested.outcome != Outcome::Duplicate {
            self.state.inner.arrivals.send_modify(|n| *n += 1);
        }
        Ok(ingested)
    }
}

/// Polls quiet vehicles for the logins this machine keeps (`FLEETDASH_SECRETS`, else the
/// platform's credential store) with the account settings of `fleetdash login`, until the
/// server shuts down. Without a login it only says, once, that polling is off and why.
pub async fn run_for_this_machine(state: AppState, db: PathBuf) {
    use crate::account::{AccountConfig, AccountPaths, SavedSettings};
    // Opening the platform's credential store probes it, which may block a while.
    let account = tokio::task::spawn_blocking(|| {
        let paths = AccountPaths::from_env();
        let saved = SavedSettings::load(&paths.settings());
        Account::new(AccountConfig::load(&saved), paths.store())
    })
    .await;
    let Ok(account) = account else {
        return;
    };
    let clock: Clock = Arc::new(crate::domain::time::now_ms);
    if let Some(poller) = GapPoller::new(account, db, state, clock) {
        let (first_after, every) = intervals_from_env();
        poller.run(first_after, every).await;
    }
}
