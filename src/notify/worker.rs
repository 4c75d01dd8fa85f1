//! The notification thread of `serve`: evaluates the alert rules, queues newly open alerts
//! and sends what is due, each send a task of its own so a hanging server delays nothing
//! but itself.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rusqlite::Connection;
use tokio::sync::{mpsc, watch};

use super::{NotifyConfig, backoff};
use crate::domain::time::now_ms;
use crate::store::notifications::{self, Channel, Outgoing};
use crate::store::{self, StoreOptions};

/// When the rules are evaluated.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// At least this often, for the rules that open with time alone (the 06:00 check, a
    /// car or the webhook gone quiet).
    pub evaluate_every: Duration,
    /// Soon after deliveries change the data, but not more often than this: under a
    /// backlog of thousands of deliveries a second, one evaluation covers them all.
    pub after_change: Duration,
    /// How often the thread looks for changed data and due sends.
    pub tick: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            // Three times the contract's minute: an evaluation of 50 cars' last 9 days of
            // minute readings takes about 0.3 s, so this costs under 2 % of a core.
            evaluate_every: Duration::from_secs(20),
            after_change: Duration::from_secs(3),
            tick: Duration::from_secs(1),
        }
    }
}

/// Sends at once, at most: a burst of alerts should not open dozens of connections.
const MAX_IN_FLIGHT: usize = 4;

/// The running thread; [`Notifier::stop`] ends it (unsent alerts stay queued).
pub struct Notifier {
    stop: watch::Sender<bool>,
    thread: std::thread::JoinHandle<()>,
}

impl Notifier {
    /// Starts the thread on `db` (already migrated by the caller).
    pub fn spawn(db: PathBuf, config: NotifyConfig, timing: Timing) -> std::io::Result<Notifier> {
        let (stop, stopped) = watch::channel(false);
        let thread = std::thread::Builder::new()
            .name("fleetdash-send-alerts".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(error) => {
                        tracing::error!(%error, "alerts will not be sent: no runtime");
                        return;
                    }
                };
                runtime.block_on(run(&db, config, timing, stopped));
            })?;
        Ok(Notifier { stop, thread })
    }

    /// Stops evaluating and sending, and waits for the thread.
    pub fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.thread.join();
    }
}

type Done = (Outgoing, Result<(), String>);

async fn run(db: &Path, config: NotifyConfig, timing: Timing, mut stop: watch::Receiver<bool>) {
    let options = StoreOptions {
        busy_timeout: Duration::from_secs(5),
        create: false,
    };
    let mut conn = match store::open(db, &options) {
        Ok(conn) => conn,
        Err(error) => {
            tracing::error!(%error, "alerts will not be sent: the database could not be opened");
            return;
        }
    };
    let channels = config.channels();
    let config = Arc::new(config);
    let client = reqwest::Client::new();
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Done>();
    let mut in_flight: HashSet<(String, Channel)> = HashSet::new();
    let mut evaluated: Option<(Instant, Option<i64>)> = None;
    let mut ticker = tokio::time::interval(timing.tick);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            Some((note, result)) = done_rx.recv() => {
                in_flight.remove(&(note.alert_id.clone(), note.channel));
                record(&conn, &note, result);
                continue;
            }
            _ = ticker.tick() => {}
        }
        let version = crate::store::data_version(&conn);
        let due = match evaluated {
            None => true,
            Some((at, seen)) => {
                at.elapsed() >= timing.evaluate_every
                    || (seen != version && at.elapsed() >= timing.after_change)
            }
        };
        if due {
            evaluated = Some((Instant::now(), version));
            evaluate(&mut conn, &channels);
        }
        let room = MAX_IN_FLIGHT.saturating_sub(in_flight.len());
        if room == 0 {
            continue;
        }
        let waiting = match notifications::due(&conn, now_ms(), room + in_flight.len()) {
            Ok(waiting) => waiting,
            Err(error) => {
                tracing::warn!(%error, "could not read the alerts waiting to be sent");
                continue;
            }
        };
        for note in waiting {
            if in_flight.len() >= MAX_IN_FLIGHT
                || !in_flight.insert((note.alert_id.clone(), note.channel))
            {
                continue;
            }
            let (config, client, done) = (config.clone(), client.clone(), done_tx.clone());
            tokio::spawn(async move {
                let result = match note.channel {
                    Channel::Url => match &config.url {
                        Some(target) => target.send(&client, &note).await,
                        None => Err("no notification URL is set any more".into()),
                    },
                    Channel::Email => match &config.email {
                        Some(target) => target.send(&note).await,
                        None => Err("no mail server is set any more".into()),
                    },
                };
                let _ = done.send((note, result));
            });
        }
    }
}

/// Queues the alerts open now that no channel has had yet.
fn evaluate(conn: &mut Connection, channels: &[Channel]) {
    let now = now_ms();
    let open = match store::alerts::alerts(conn, now, None) {
        Ok(open) => open,
        Err(error) => {
            tracing::warn!(%error, "could not evaluate the alert rules");
            return;
        }
    };
    match notifications::queue(conn, &open, channels, now) {
        Ok(0) => {}
        Ok(queued) => tracing::info!(queued, "alerts opened: sending"),
        Err(error) => tracing::warn!(%error, "could not queue the alerts to send"),
    }
}

fn record(conn: &Connection, note: &Outgoing, result: Result<(), String>) {
    let channel = note.channel.as_str();
    let stored = match result {
        Ok(()) => {
            tracing::info!(alert = %note.alert_id, channel, title = %note.title, "alert sent");
            notifications::mark_sent(conn, note, now_ms())
        }
        Err(error) => {
            let wait = backoff(note.attempts + 1);
            tracing::warn!(
                alert = %note.alert_id,
                channel,
                attempt = note.attempts + 1,
                retry_in_s = wait.as_secs(),
                %error,
                "an alert could not be sent; trying again"
            );
            notifications::mark_failed(conn, note, &error, now_ms() + wait.as_millis() as i64)
        }
    };
    if let Err(error) = stored {
        tracing::warn!(%error, "could not record a sent alert");
    }
}
