//! Delivering webhooks as Smartcar does: signed with the management token, POSTed with a
//! 15 s timeout, retried 3 times (after 25 s, 50 s and 100 s, scaled by the simulation's
//! speed) and then dropped; every outcome goes to the delivery log.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{Mutex, Semaphore};
use tokio::task::JoinSet;

use super::schedule::Delivery;
use crate::smartcar::ManagementToken;

/// Smartcar's waits before each retry, in simulated seconds.
pub const RETRY_DELAYS_SECS: [u64; 3] = [25, 50, 100];

/// Smartcar's deadline for an answer.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(15);

/// How to deliver.
#[derive(Debug, Clone)]
pub struct DeliverOptions {
    /// The full callback URL.
    pub url: String,
    /// Deliveries in flight at once.
    pub concurrency: usize,
    /// At most this many first attempts per second (0: no limit).
    pub rate_per_sec: f64,
    /// Simulated seconds per real second: paces deliveries by their simulated time and
    /// shortens retry waits. 0 sends as fast as `rate_per_sec` allows, with retry waits in
    /// milliseconds instead of seconds.
    pub speed: f64,
    /// With `speed`, pace only deliveries from this simulated instant on; earlier ones
    /// (history) go out at once. `None`: pace from the first delivery.
    pub paced_from_ms: Option<i64>,
}

/// What became of one delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// Position in the schedule.
    pub index: usize,
    /// Its event key (event id or request ids).
    pub key: String,
    /// Attempts made (1 to 4).
    pub attempts: u32,
    /// Answered 2xx on the last attempt; otherwise dropped after the last retry.
    pub acknowledged: bool,
    /// The last answer: an HTTP status, or what went wrong.
    pub last_answer: String,
}

/// Totals of a run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    /// Requests sent, retries included.
    pub sent: u64,
    /// Deliveries acknowledged.
    pub acknowledged: u64,
    /// Deliveries dropped after every retry failed.
    pub failed: u64,
    /// Wall-clock time.
    pub elapsed: Duration,
}

impl Summary {
    /// Acknowledged deliveries per second.
    pub fn rate(&self) -> f64 {
        self.acknowledged as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "sent {}, acknowledged {}, failed {}, elapsed {:.2} s, rate {:.0} deliveries/s",
            self.sent,
            self.acknowledged,
            self.failed,
            self.elapsed.as_secs_f64(),
            self.rate()
        )
    }
}

/// The wait before retry `n` (0-based) at `speed`.
pub fn retry_delay(n: usize, speed: f64) -> Duration {
    let secs = RETRY_DELAYS_SECS[n.min(RETRY_DELAYS_SECS.len() - 1)] as f64;
    if speed > 0.0 {
        Duration::from_secs_f64(secs / speed)
    } else {
        Duration::from_secs_f64(secs / 1000.0)
    }
}

/// Sends every delivery; returns the totals and the log (in schedule order).
pub async fn deliver_all(
    deliveries: impl IntoIterator<Item = Delivery>,
    token: &ManagementToken,
    options: &DeliverOptions,
) -> (Summary, Vec<LogEntry>) {
    let client = reqwest::Client::builder()
        .timeout(ANSWER_TIMEOUT)
        .pool_max_idle_per_host(options.concurrency.max(1))
        .build()
        .unwrap_or_default();
    let started = Instant::now();
    let slots = Arc::new(Semaphore::new(options.concurrency.max(1)));
    let sent = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let log = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = JoinSet::new();
    let mut first_at_ms = None;
    for (index, delivery) in deliveries.into_iter().enumerate() {
        // Pace by simulated time, then by rate.
        let t0 = *first_at_ms.get_or_insert(options.paced_from_ms.unwrap_or(delivery.at_ms));
        let mut due = Duration::ZERO;
        if options.speed > 0.0 {
            due = due.max(Duration::from_secs_f64(
                (delivery.at_ms - t0).max(0) as f64 / 1000.0 / options.speed,
            ));
        }
        if options.rate_per_sec > 0.0 {
            due = due.max(Duration::from_secs_f64(index as f64 / options.rate_per_sec));
        }
        if let Some(wait) = due.checked_sub(started.elapsed()) {
            tokio::time::sleep(wait).await;
        }
        let Ok(slot) = slots.clone().acquire_owned().await else {
            break;
        };
        let signature = token.sign(&delivery.body);
        let (client, options, sent, log) =
            (client.clone(), options.clone(), sent.clone(), log.clone());
        tasks.spawn(async move {
            let entry = attempt_all(&client, &options, index, delivery, &signature, &sent).await;
            drop(slot);
            log.lock().await.push(entry);
        });
        // Keep finished tasks from piling up in long runs.
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
    let mut log = std::mem::take(&mut *log.lock().await);
    log.sort_by_key(|e| e.index);
    let acknowledged = log.iter().filter(|e| e.acknowledged).count() as u64;
    let summary = Summary {
        sent: sent.load(std::sync::atomic::Ordering::Relaxed),
        acknowledged,
        failed: log.len() as u64 - acknowledged,
        elapsed: started.elapsed(),
    };
    (summary, log)
}

async fn attempt_all(
    client: &reqwest::Client,
    options: &DeliverOptions,
    index: usize,
    delivery: Delivery,
    signature: &str,
    sent: &std::sync::atomic::AtomicU64,
) -> LogEntry {
    let mut last_answer = String::new();
    for attempt in 0..=RETRY_DELAYS_SECS.len() {
        if attempt > 0 {
            tokio::time::sleep(retry_delay(attempt - 1, options.speed)).await;
        }
        sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let answer = client
            .post(&options.url)
            .header("content-type", "application/json")
            .header("SC-Signature", signature)
            .body(delivery.body.clone())
            .send()
            .await;
        match answer {
            Ok(response) if response.status().is_success() => {
                return LogEntry {
                    index,
                    key: delivery.key,
                    attempts: attempt as u32 + 1,
                    acknowledged: true,
                    last_answer: response.status().as_u16().to_string(),
                };
            }
            Ok(response) => last_answer = response.status().as_u16().to_string(),
            Err(error) => last_answer = describe(&error),
        }
    }
    LogEntry {
        index,
        key: delivery.key,
        attempts: RETRY_DELAYS_SECS.len() as u32 + 1,
        acknowledged: false,
        last_answer,
    }
}

fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "timeout".into()
    } else if error.is_connect() {
        "connection refused".into()
    } else {
        "request failed".into()
    }
}

/// Sends a verify challenge (as Smartcar does when a callback URL is registered) and
/// checks the answer. `Ok(())` when the callback answered with the right HMAC.
pub async fn verify_callback(url: &str, token: &ManagementToken, v4: bool) -> Result<(), String> {
    let challenge = "fleetdash-simulated-challenge";
    let body = super::payload::verify(challenge, v4);
    let client = reqwest::Client::builder()
        .timeout(ANSWER_TIMEOUT)
        .build()
        .map_err(|e| e.to_string())?;
    let response = client
        .post(url)
        .header("content-type", "application/json")
        .header("SC-Signature", token.sign(&body))
        .body(body)
        .send()
        .await
        .map_err(|e| {
            format!(
                "the callback at {url} did not answer the verify challenge ({}): is `fleetdash serve` running there?",
                describe(&e)
            )
        })?;
    let status = response.status();
    let answer: serde_json::Value = response
        .json()
        .await
        .map_err(|_| format!("the verify answer (HTTP {status}) is not JSON"))?;
    if answer["challenge"] == token.sign(challenge.as_bytes()) {
        Ok(())
    } else {
        Err(format!(
            "the callback answered the verify challenge wrongly (HTTP {status}): is its management token the same?"
        ))
    }
}
