//! Turning one delivery into archive and derived rows, inside the caller's transaction.
//! The callback server, `reprocess`, a desktop's sync and the API polls (`fleetdash poll`,
//! the relay's poller) all go through here, so every path derives readings the same way.

use std::collections::BTreeMap;

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};

pub(crate) use super::classify::classify;
use super::moments::merge_by_time;
use crate::domain::{Readings, Source, VehicleInfo};
use crate::smartcar::{EventUnit, ParseError, Webhook};

/// What became of a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Read and stored.
    Parsed,
    /// Authentic but unreadable: archived for `reprocess`.
    Quarantined,
    /// Seen before: nothing new stored.
    Duplicate,
    /// A verify challenge, noted.
    Verify,
}

impl Outcome {
    /// The spelling stored in the archive.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Parsed => "parsed",
            Outcome::Quarantined => "quarantined",
            Outcome::Duplicate => "duplicate",
            Outcome::Verify => "verify",
        }
    }
}

/// The result of [`ingest_delivery`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ingested {
    /// Row id in `deliveries`.
    pub delivery_id: i64,
    /// What became of it.
    pub outcome: Outcome,
    /// Vehicles the delivery spoke of.
    pub vehicles: usize,
    /// Readings stored (0 for duplicates).
    pub readings: usize,
}

/// One write transaction. Vehicle rows are touched once per batch rather than once per
/// delivery (most batches carry many deliveries of few vehicles), so callers must
/// [`commit`](Batch::commit) through it rather than through the transaction.
pub struct Batch<'c> {
    tx: Transaction<'c>,
    vehicles: BTreeMap<String, VehicleTouch>,
    /// The first delivery this batch archived.
    first_delivery: Option<i64>,
}

/// What a batch learned about one vehicle, applied at commit.
#[derive(Default)]
struct VehicleTouch {
    info: VehicleInfo,
    first_seen_at: Option<i64>,
    last_seen_at: Option<i64>,
    /// The last re-authentication verdict: (needed, link, earlier link cleared).
    reauth: Option<(bool, Option<String>, bool)>,
    /// The earliest reading time stored or removed: sessions and trips are re-derived
    /// from there at commit.
    derive_from: Option<i64>,
}

impl VehicleTouch {
    fn derive_from(&mut self, at_ms: i64) {
        self.derive_from = Some(self.derive_from.map_or(at_ms, |t| t.min(at_ms)));
    }
}

impl<'c> Batch<'c> {
    /// Starts a write transaction (taking the write lock now, waiting up to the busy
    /// timeout for it).
    pub fn begin(conn: &'c mut Connection) -> rusqlite::Result<Self> {
        Ok(Batch {
            tx: conn.transaction_with_behavior(TransactionBehavior::Immediate)?,
            vehicles: BTreeMap::new(),
            first_delivery: None,
        })
    }

    /// The transaction, for statements of the caller's own.
    pub fn tx(&self) -> &Transaction<'c> {
        &self.tx
    }

    /// Re-derives every vehicle's sessions and trips at commit (`reprocess`).
    pub(crate) fn rederive_everything(&mut self) -> rusqlite::Result<()> {
        let ids: Vec<String> = self
            .tx
            .prepare("SELECT id FROM vehicles")?
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        for id in ids {
            self.vehicles.entry(id).or_default().derive_from(i64::MIN);
        }
        Ok(())
    }

    /// Applies the vehicle updates, re-derives the sessions and trips of the vehicles
    /// whose readings changed, and commits.
    pub fn commit(self) -> rusqlite::Result<()> {
        self.finish(true).map(|_| ())
    }

    /// Applies the vehicle updates and commits, leaving sessions and trips to the caller:
    /// returns each vehicle whose readings changed with the earliest reading time, for
    /// [`derived::derive_pending`](super::derived::derive_pending).
    pub fn commit_deferred(self) -> rusqlite::Result<BTreeMap<String, i64>> {
        self.finish(false)
    }

    fn finish(self, derive: bool) -> rusqlite::Result<BTreeMap<String, i64>> {
        let mut touched = BTreeMap::new();
        for (id, touch) in &self.vehicles {
            if let Some(from_ms) = touch.derive_from {
                if derive {
                    super::derived::update(&self.tx, id, from_ms)?;
                } else {
                    touched.insert(id.clone(), from_ms);
                }
            }
            self.tx
                .prepare_cached(
                    "INSERT INTO vehicles(id, make, model, year, first_seen_at, last_seen_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT(id) DO UPDATE SET
                       make = coalesce(excluded.make, make),
                       model = coalesce(excluded.model, model),
                       year = coalesce(excluded.year, year),
                       first_seen_at = min(coalesce(first_seen_at, excluded.first_seen_at),
                                           coalesce(excluded.first_seen_at, first_seen_at)),
                       last_seen_at = max(coalesce(last_seen_at, excluded.last_seen_at),
                                          coalesce(excluded.last_seen_at, last_seen_at))",
                )?
                .execute(params![
                    id,
                    touch.info.make,
                    touch.info.model,
                    touch.info.year,
                    touch.first_seen_at,
                    touch.last_seen_at
                ])?;
            if let Some((needed, url, cleared)) = &touch.reauth {
                self.tx
                    .prepare_cached(
                        "UPDATE vehicles SET needs_reauth = ?2,
                           reauth_url = CASE WHEN ?2
                             THEN coalesce(?3, CASE WHEN ?4 THEN NULL ELSE reauth_url END)
                             ELSE NULL END
                         WHERE id = ?1",
                    )?
                    .execute(params![id, needed, url, cleared])?;
            }
        }
        if derive && let Some(first) = self.first_delivery {
            super::derived::mark_derived_after(&self.tx, first)?;
        }
        self.tx.commit()?;
        Ok(touched)
    }

    /// Archives one delivery and stores what it carries, deduplicating by event key.
    /// Nothing is durable until [`commit`](Batch::commit).
    pub fn ingest(
        &mut self,
        received_at_ms: i64,
        body: &[u8],
        parsed: &Result<Webhook, ParseError>,
    ) -> rusqlite::Result<Ingested> {
        let row = classify(parsed);
        let outcome = match parsed {
            Ok(Webhook::Verify { .. }) => Outcome::Verify,
            Ok(Webhook::Event(_)) => Outcome::Parsed,
            Err(_) => Outcome::Quarantined,
        };
        let stored = super::bodies::encode(&self.tx, body)?;
        // `event_key` stays NULL: the keys live in `event_keys`, and a second copy in
        // every row cost 40 bytes a delivery that nothing read (rows archived by an
        // earlier version keep theirs until the next `reprocess`).
        self.tx
            .prepare_cached(
                "INSERT INTO deliveries (received_at, format, kind, mode, outcome,
                   detail, vehicle_ids, body, body_codec)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?
            .execute(params![
                received_at_ms,
                row.format,
                row.kind,
                row.mode,
                outcome.as_str(),
                row.detail,
                row.vehicle_ids,
                stored.bytes,
                stored.codec,
            ])?;
        let delivery_id = self.tx.last_insert_rowid();
        self.first_delivery.get_or_insert(delivery_id);
        let Ok(Webhook::Event(event)) = parsed else {
            return Ok(Ingested {
                delivery_id,
                outcome,
                vehicles: 0,
                readings: 0,
            });
        };
        let stored = self.store_units(delivery_id, &event.units, event.source)?;
        let mut outcome = Outcome::Parsed;
        if stored.is_repeat(event.units.len()) {
            // Every unit was stored before: a retry. Keep a note, not a second copy.
            outcome = Outcome::Duplicate;
            let original: Option<i64> = self
                .tx
                .prepare_cached("SELECT delivery_id FROM event_keys WHERE key = ?1")?
                .query_row([&event.units[0].key], |r| r.get(0))
                .optional()?;
            self.tx
                .prepare_cached(
                    "UPDATE deliveries SET outcome = 'duplicate', body = NULL, body_codec = NULL,
                       duplicate_of = ?2
                     WHERE id = ?1",
                )?
                .execute(params![delivery_id, original])?;
        }
        Ok(Ingested {
            delivery_id,
            outcome,
            vehicles: event.units.len(),
            readings: stored.readings,
        })
    }

    /// Gives an archived delivery another arrival time (a relay's, when this database
    /// also received the delivery itself) and re-derives what it stored at the old one:
    /// values without a timestamp of their own are recorded at arrival, and every copy of
    /// a fleet's data must show the same rows. Returns whether anything changed.
    pub fn adopt_arrival(
        &mut self,
        delivery_id: i64,
        received_at_ms: i64,
    ) -> rusqlite::Result<bool> {
        let tx = &self.tx;
        let row: Option<(i64, Option<Vec<u8>>)> = tx
            .prepare_cached("SELECT received_at, body, body_codec FROM deliveries WHERE id = ?1")?
            .query_row([delivery_id], |r| {
                Ok((r.get(0)?, super::bodies::from_row(tx, r, 1)?))
            })
            .optional()?;
        let Some((old_ms, body)) = row else {
            return Ok(false);
        };
        if old_ms == received_at_ms {
            return Ok(false);
        }
        self.tx
            .prepare_cached("UPDATE deliveries SET received_at = ?2 WHERE id = ?1")?
            .execute(params![delivery_id, received_at_ms])?;
        let Some(Ok(Webhook::Event(event))) =
            body.map(|body| crate::smartcar::parse_archived(&body, received_at_ms))
        else {
            return Ok(true);
        };
        for sql in [
            "DELETE FROM readings WHERE delivery_id = ?1 AND recorded_at = ?2",
            "DELETE FROM vehicle_errors WHERE delivery_id = ?1 AND recorded_at = ?2",
        ] {
            self.tx
                .prepare_cached(sql)?
                .execute(params![delivery_id, old_ms])?;
        }
        for unit in &event.units {
            // Readings at the old arrival time may be gone.
            self.vehicles
                .entry(unit.vehicle_id.clone())
                .or_default()
                .derive_from(old_ms);
            let owner: Option<i64> = self
                .tx
                .prepare_cached("SELECT delivery_id FROM event_keys WHERE key = ?1")?
                .query_row([&unit.key], |r| r.get(0))
                .optional()?;
            if owner != Some(delivery_id) {
                continue;
            }
            // The seen-times as the remaining readings say; the commit widens them with
            // the re-derived ones.
            self.tx
                .prepare_cached(
                    "UPDATE vehicles SET
                       first_seen_at = (SELECT min(recorded_at) FROM readings r WHERE r.vehicle_id = vehicles.id),
                       last_seen_at = (SELECT max(recorded_at) FROM readings r WHERE r.vehicle_id = vehicles.id)
                     WHERE id = ?1",
                )?
                .execute([&unit.vehicle_id])?;
            if let Some(touch) = self.vehicles.get_mut(&unit.vehicle_id) {
                touch.first_seen_at = None;
                touch.last_seen_at = None;
            }
            self.store_readings(
                &unit.vehicle_id,
                unit.info.as_ref(),
                &unit.readings,
                event.source,
                Some(delivery_id),
            )?;
        }
        Ok(true)
    }

    /// Stores the units whose keys are new (each key once, even if repeated within the
    /// delivery), attributing them to `delivery_id` and `source`.
    pub(crate) fn store_units(
        &mut self,
        delivery_id: i64,
        units: &[EventUnit],
        source: Source,
    ) -> rusqlite::Result<StoredUnits> {
        let mut stored = StoredUnits::default();
        for unit in units {
            let fresh = self
                .tx
                .prepare_cached(
                    "INSERT INTO event_keys(key, delivery_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                )?
                .execute(params![unit.key, delivery_id])?
                == 1;
            if fresh {
                stored.fresh_units += 1;
                stored.readings += self.store_readings(
                    &unit.vehicle_id,
                    unit.info.as_ref(),
                    &unit.readings,
                    source,
                    Some(delivery_id),
                )?;
                if let Some(at_ms) = unit.answered_at_ms {
                    self.answered(&unit.vehicle_id, at_ms, delivery_id)?;
                }
            }
        }
        Ok(stored)
    }

    /// Smartcar answered an API poll about the vehicle at `at_ms`, so its connection works:
    /// the re-connect flag clears, and an AUTHENTICATION_FAILED still open then is resolved
    /// by a row of its own (which also closes the `needs_reconnect` alert).
    fn answered(&mut self, vehicle_id: &str, at_ms: i64, delivery_id: i64) -> rusqlite::Result<()> {
        if super::polled::reauth_open(&self.tx, vehicle_id, at_ms)? {
            let resolved = super::polled::reauth_resolved(at_ms);
            self.store_readings(vehicle_id, None, &resolved, Source::Api, Some(delivery_id))?;
        }
        let touch = self.vehicles.entry(vehicle_id.to_owned()).or_default();
        touch.reauth = Some((false, None, true));
        Ok(())
    }

    /// Stores the readings of one vehicle; returns how many there were.
    pub fn store_readings(
        &mut self,
        vehicle_id: &str,
        info: Option<&VehicleInfo>,
        readings: &Readings,
        source: Source,
        delivery_id: Option<i64>,
    ) -> rusqlite::Result<usize> {
        let tx = &self.tx;
        let touch = self.vehicles.entry(vehicle_id.to_owned()).or_default();
        if let Some(info) = info {
            touch.info.make = info.make.clone().or(touch.info.make.take());
            touch.info.model = info.model.clone().or(touch.info.model.take());
            touch.info.year = info.year.or(touch.info.year);
        }
        let times = readings
            .battery
            .iter()
            .map(|r| r.recorded_at_ms)
            .chain(readings.charge.iter().map(|r| r.recorded_at_ms))
            .chain(readings.locations.iter().map(|r| r.recorded_at_ms))
            .chain(readings.odometer.iter().map(|r| r.recorded_at_ms));
        for t in times {
            touch.derive_from(t);
            touch.first_seen_at = Some(touch.first_seen_at.map_or(t, |v| v.min(t)));
            touch.last_seen_at = Some(touch.last_seen_at.map_or(t, |v| v.max(t)));
        }

        let source = source.as_str();
        for row in merge_by_time(readings) {
            tx.prepare_cached(
                "INSERT INTO readings(vehicle_id, recorded_at, battery_percent, range_km, plugged_in,
                                      charging_state, latitude, longitude, source, delivery_id,
                                      odometer_km)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
                 ON CONFLICT(vehicle_id, recorded_at) DO UPDATE SET
                   battery_percent = coalesce(excluded.battery_percent, battery_percent),
                   range_km = coalesce(excluded.range_km, range_km),
                   plugged_in = coalesce(excluded.plugged_in, plugged_in),
                   charging_state = coalesce(excluded.charging_state, charging_state),
                   latitude = coalesce(excluded.latitude, latitude),
                   longitude = coalesce(excluded.longitude, longitude),
                   odometer_km = coalesce(excluded.odometer_km, odometer_km)",
            )?
            .execute(params![
                vehicle_id,
                row.recorded_at_ms,
                row.battery_percent,
                row.range_km,
                row.plugged_in,
                row.charging_state.map(|s| s.as_str()),
                row.position.map(|p| p.0),
                row.position.map(|p| p.1),
                source,
                delivery_id,
                row.odometer_km
            ])?;
        }
        for e in &readings.errors {
            tx.prepare_cached(
                "INSERT INTO vehicle_errors(vehicle_id, recorded_at, source_path, error_type, error_code,
                                            description, resolution_url, active, source, delivery_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                 ON CONFLICT DO NOTHING",
            )?
            .execute(params![
                vehicle_id,
                e.recorded_at_ms,
                e.source_path,
                e.error_type,
                e.error_code,
                e.description,
                e.resolution_url,
                e.active,
                source,
                delivery_id
            ])?;
            if e.needs_reauthentication() {
                touch.reauth = Some(match (e.active, touch.reauth.take()) {
                    (true, Some((_, url, cleared))) => {
                        (true, e.resolution_url.clone().or(url), cleared)
                    }
                    (true, None) => (true, e.resolution_url.clone(), false),
                    (false, _) => (false, None, true),
                });
            }
        }
        Ok(readings.len())
    }
}

/// What [`Batch::store_units`] stored.
#[derive(Debug, Default)]
pub(crate) struct StoredUnits {
    /// Units whose key was new.
    pub fresh_units: usize,
    /// Readings stored for them.
    pub readings: usize,
}

impl StoredUnits {
    /// True when a delivery of `units` units brought none that was new: a retry, archived
    /// as a duplicate. (A delivery with no unit at all is not a repeat of anything.)
    pub fn is_repeat(&self, units: usize) -> bool {
        self.fresh_units == 0 && units > 0
    }
}
