//! The owner's edits (names, capacities, targets, prices, places, the fleet's currency,
//! name and time zone) on one thread of their own ("fleetdash-owner-writes"), written in
//! the order given through the same [`owner::apply`] as `fleetdash settings`.
//!
//! Until the database has a value, the app shows the one the owner gave: each write has a
//! number, the thread publishes the number of the last write it finished, and the reader
//! notes that number before every read. An answer read after write N finished carries
//! N's outcome, so pending values up to N can go; an answer read earlier (it may carry
//! the old value) leaves them in place. This replaces per-field bookkeeping.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use super::data::VehicleRow;
use crate::store::owner::{self, FleetSettings, OwnerWrite};
use crate::store::sessions::Place;
use crate::store::{self as db_store, StoreOptions};

/// A finished write: its number, what it was, and why it failed (if it did).
pub type Outcome = (u64, OwnerWrite, Result<(), String>);

/// The UI's end of the owner-writes thread.
pub struct OwnerWrites {
    db: PathBuf,
    timeout: Duration,
    wake: Arc<dyn Fn() + Send + Sync>,
    queue: Option<mpsc::Sender<(u64, OwnerWrite)>>,
    sent: u64,
    done: Arc<AtomicU64>,
    outcomes: Arc<Mutex<Vec<Outcome>>>,
    pending: Vec<(u64, OwnerWrite)>,
}

impl OwnerWrites {
    /// Writes to `db`, waiting at most `timeout` for another connection's lock; `wake`
    /// is called after every write.
    pub fn new(db: PathBuf, timeout: Duration, wake: Arc<dyn Fn() + Send + Sync>) -> Self {
        OwnerWrites {
            db,
            timeout,
            wake,
            queue: None,
            sent: 0,
            done: Arc::default(),
            outcomes: Arc::default(),
            pending: Vec::new(),
        }
    }

    /// The number of the last write finished (stored or refused); the reader reads it
    /// before each read.
    pub fn done_counter(&self) -> Arc<AtomicU64> {
        self.done.clone()
    }

    /// Queues a write; it shows as pending until an answer read after it arrives.
    pub fn send(&mut self, write: OwnerWrite) {
        self.sent += 1;
        let job = (self.sent, write.clone());
        self.pending.push((self.sent, write));
        let job = match &self.queue {
            Some(queue) => match queue.send(job) {
                Ok(()) => return,
                Err(mpsc::SendError(job)) => job,
            },
            None => job,
        };
        // The thread is gone (or was never started): start one for this job on.
        let (queue, jobs) = mpsc::channel::<(u64, OwnerWrite)>();
        let (db, timeout) = (self.db.clone(), self.timeout);
        let (done, outcomes, wake) = (self.done.clone(), self.outcomes.clone(), self.wake.clone());
        let spawned = std::thread::Builder::new()
            .name("fleetdash-owner-writes".into())
            .spawn(move || {
                for (number, write) in jobs {
                    let result = db_store::open(
                        &db,
                        &StoreOptions {
                            busy_timeout: timeout,
                            create: false,
                        },
                    )
                    .map_err(owner::OwnerError::from)
                    .and_then(|mut conn| owner::apply(&mut conn, &write))
                    .map_err(|e| format!("{} could not be saved: {e}", what(&write)));
                    // Published only after the commit: a read that sees this number
                    // sees the write.
                    done.store(number, Ordering::Release);
                    if let Ok(mut o) = outcomes.lock() {
                        o.push((number, write, result));
                    }
                    wake();
                }
            });
        match spawned {
            Ok(_) => {
                let _ = queue.send(job);
                self.queue = Some(queue);
            }
            Err(error) => {
                tracing::warn!(%error, "could not start the owner-writes thread");
                let text = format!(
                    "{} could not be saved: the app could not start a thread ({error}).",
                    what(&job.1)
                );
                if let Ok(mut o) = self.outcomes.lock() {
                    o.push((job.0, job.1, Err(text)));
                }
            }
        }
    }

    /// Writes finished since the last call. A refused one stops showing at once (nothing
    /// of it was stored); a stored one shows until [`OwnerWrites::settle`].
    pub fn finished(&mut self) -> Vec<Outcome> {
        let outcomes = self
            .outcomes
            .lock()
            .map(|mut o| std::mem::take(&mut *o))
            .unwrap_or_default();
        for (number, _, result) in &outcomes {
            if result.is_err() {
                self.pending.retain(|(n, _)| n != number);
            }
        }
        outcomes
    }

    /// An answer read after write `done` finished arrived: what it carries is the
    /// database's, so pending writes up to `done` can go.
    pub fn settle(&mut self, done: u64) {
        self.pending.retain(|(n, _)| *n > done);
    }

    /// How many writes were sent so far (a change says the shown fleet needs the overlay).
    pub fn sent(&self) -> u64 {
        self.sent
    }

    /// The writes not settled yet, oldest first (pages show their own over what they read).
    pub fn pending(&self) -> impl Iterator<Item = &OwnerWrite> {
        self.pending.iter().map(|(_, write)| write)
    }

    /// True while some write has not reached an answer.
    pub fn any_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// What is read, with the owner's pending values over it.
    pub fn overlay(&self, read: &FleetSnapshot) -> FleetSnapshot {
        let mut shown = read.clone();
        for (_, write) in &self.pending {
            shown.apply(write);
        }
        shown
    }
}

/// The fleet as every page sees it: vehicles with their latest values and the owner's
/// settings for them, the fleet-wide settings, the places and the alert rules.
#[derive(Debug, Clone, Default)]
pub struct FleetSnapshot {
    /// One row per vehicle.
    pub vehicles: Vec<VehicleRow>,
    /// Price, currency, name, time zone.
    pub settings: FleetSettings,
    /// Charging places.
    pub places: Vec<Place>,
    /// The alert rules.
    pub alert_rules: crate::domain::alerts::Rules,
}

impl FleetSnapshot {
    /// Shows `write` as if stored.
    fn apply(&mut self, write: &OwnerWrite) {
        let vehicle = |rows: &[VehicleRow], id: &str| -> Option<usize> {
            rows.iter().position(|v| v.id == id)
        };
        match write {
            // An empty name goes back to make, model and year, which only a read knows.
            OwnerWrite::VehicleName { id, name } if !name.trim().is_empty() => {
                if let Some(at) = vehicle(&self.vehicles, id) {
                    self.vehicles[at].name = name.trim().to_owned();
                }
            }
            OwnerWrite::VehicleName { .. } => {}
            OwnerWrite::VehicleCapacity { id, capacity_kwh } => {
                if let Some(at) = vehicle(&self.vehicles, id) {
                    self.vehicles[at].capacity_kwh = *capacity_kwh;
                }
            }
            OwnerWrite::VehicleTarget { id, target_percent } => {
                if let Some(at) = vehicle(&self.vehicles, id) {
                    self.vehicles[at].charge_target = *target_percent;
                }
            }
            OwnerWrite::Price(price) => self.settings.price_per_kwh = *price,
            OwnerWrite::Currency(code) => {
                if let Ok(currency) = crate::domain::money::Currency::parse(code) {
                    self.settings.currency = currency;
                }
            }
            OwnerWrite::FleetName(name) => {
                self.settings.fleet_name = Some(name.trim().to_owned()).filter(|n| !n.is_empty());
            }
            OwnerWrite::TimeZone(zone) => {
                if let Some(Ok(zone)) = zone.as_deref().map(crate::domain::zone::FleetZone::parse) {
                    self.settings.zone = zone;
                    self.settings.zone_set = true;
                }
            }
            OwnerWrite::Place { replaces, place } => {
                let gone = |p: &Place| {
                    p.name == place.name || replaces.as_deref() == Some(p.name.as_str())
                };
                self.places.retain(|p| !gone(p));
                self.places.push(place.clone());
            }
            OwnerWrite::RemovePlace(name) => self.places.retain(|p| &p.name != name),
            // Trips are not in the snapshot: the vehicle page lays these over its own.
            OwnerWrite::TripTag { .. } => {}
            // Drivers are not in the snapshot either: their page reads them.
            OwnerWrite::Driver { .. }
            | OwnerWrite::RemoveDriver(_)
            | OwnerWrite::Assign { .. }
            | OwnerWrite::Unassign { .. } => {}
            OwnerWrite::AlertRule { rule, on, settings } => {
                // All of it or none, as the store takes it: a change it will refuse
                // must not show for a moment.
                let mut rules = self.alert_rules;
                if let Some(on) = on {
                    rules.set_on(*rule, *on);
                }
                if settings.iter().all(|(k, v)| rules.set(*rule, k, v).is_ok()) {
                    self.alert_rules = rules;
                }
            }
        }
    }
}

/// "The name", "The price per kWh"...: what a write sets, to say it could not be saved.
fn what(write: &OwnerWrite) -> &'static str {
    match write {
        OwnerWrite::VehicleName { .. } => "The name",
        OwnerWrite::VehicleCapacity { .. } => "The capacity",
        OwnerWrite::VehicleTarget { .. } => "The charge target",
        OwnerWrite::Price(_) => "The price per kWh",
        OwnerWrite::Currency(_) => "The currency",
        OwnerWrite::FleetName(_) => "The fleet's name",
        OwnerWrite::TimeZone(_) => "The time zone",
        OwnerWrite::Place { .. } => "The place",
        OwnerWrite::RemovePlace(_) => "The removal of the place",
        OwnerWrite::TripTag { .. } => "The trip's purpose and note",
        OwnerWrite::Driver { .. } => "The driver",
        OwnerWrite::RemoveDriver(_) => "The removal of the driver",
        OwnerWrite::Assign { .. } => "The assignment",
        OwnerWrite::Unassign { .. } => "The removal of the assignment",
        OwnerWrite::AlertRule { .. } => "The alert rule",
    }
}
