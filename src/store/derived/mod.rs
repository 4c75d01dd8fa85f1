//! Charging sessions and trips, materialised and kept equal to a detection over every
//! reading.
//!
//! Detecting them afresh on every read scanned a vehicle's whole history each time (a
//! 10-vehicle year took seconds for Analytics). Instead, every [`Batch`](super::Batch)
//! re-derives the tail of each vehicle it touched, in its own transaction: it resumes the
//! detectors from the latest checkpoint before the earliest reading it stored (their
//! state, saved after the last reading of each UTC day and at the tail), drops what was
//! derived after that checkpoint and feeds the readings from there on. Rows that no later
//! reading can change carry the time of the reading that settled them; the rest (an
//! ongoing session or trip) are provisional and re-derived every time. Because the
//! detectors are deterministic and resume from their exact state, the tables equal a
//! detection over every reading, whatever order the readings arrived in (a property test
//! holds them to [`detect_all`]).

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::StoreError;
use crate::domain::ChargingState;
use crate::domain::sessions::{self, Session, SessionDetector};
use crate::domain::time::DAY_MS;
use crate::domain::trips::{self, Trip, TripDetector};

/// `settled_at` of a provisional row: any re-derivation replaces it.
const PROVISIONAL: i64 = i64::MAX;

/// Checkpoints this close to a vehicle's newest one are all kept (one per batch), so a
/// delivery that arrives a little late resumes from just before it instead of from the
/// end of the previous day. Older ones are kept one per UTC day.
const RECENT_MS: i64 = 2 * 3_600_000;

/// The `meta` key holding the last delivery id whose sessions and trips are derived (the
/// writer derives after acknowledging, see [`derive_pending`]).
const DERIVED_THROUGH: &str = "derived_through_delivery";

/// Both detectors, as saved in a checkpoint.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct Detectors {
    sessions: SessionDetector,
    trips: TripDetector,
}

/// One `readings` row, as both detectors take it.
struct Row {
    at_ms: i64,
    soc_percent: Option<f64>,
    plugged_in: Option<bool>,
    charging: Option<ChargingState>,
    position: Option<(f64, f64)>,
    odometer_km: Option<f64>,
}

impl Detectors {
    fn push(&mut self, r: &Row) {
        self.sessions.push(sessions::Point {
            at_ms: r.at_ms,
            soc_percent: r.soc_percent,
            plugged_in: r.plugged_in,
            charging: r.charging,
            position: r.position,
        });
        self.trips.push(trips::Point {
            at_ms: r.at_ms,
            position: r.position,
            soc_percent: r.soc_percent,
            plugged_in: r.plugged_in,
            odometer_km: r.odometer_km,
        });
    }
}

/// Streams one vehicle's readings after `after_ms`, in time order.
fn for_each_reading(
    conn: &Connection,
    vehicle_id: &str,
    after_ms: i64,
    mut each: impl FnMut(Row) -> rusqlite::Result<()>,
) -> rusqlite::Result<()> {
    let mut statement = conn.prepare_cached(
        "SELECT recorded_at, battery_percent, plugged_in, charging_state, latitude, longitude,
                odometer_km
         FROM readings WHERE vehicle_id = ?1 AND recorded_at > ?2 ORDER BY recorded_at",
    )?;
    let mut rows = statement.query(params![vehicle_id, after_ms])?;
    while let Some(r) = rows.next()? {
        let latitude: Option<f64> = r.get(4)?;
        let longitude: Option<f64> = r.get(5)?;
        each(Row {
            at_ms: r.get(0)?,
            soc_percent: r.get(1)?,
            plugged_in: r.get(2)?,
            charging: r
                .get::<_, Option<String>>(3)?
                .and_then(|s| ChargingState::parse(&s)),
            position: latitude.zip(longitude),
            odometer_km: r.get(6)?,
        })?;
    }
    Ok(())
}

/// Sessions and trips of one vehicle detected from every reading, as the materialised
/// tables must hold them: the reference the tables are tested against.
pub fn detect_all(
    conn: &Connection,
    vehicle_id: &str,
) -> Result<(Vec<Session>, Vec<Trip>), StoreError> {
    let mut detectors = Detectors::default();
    for_each_reading(conn, vehicle_id, i64::MIN, |row| {
        detectors.push(&row);
        Ok(())
    })?;
    Ok((detectors.sessions.finish(), detectors.trips.finish()))
}

/// Re-derives one vehicle's sessions and trips from its readings at `from_ms` on (the
/// earliest reading a batch stored or removed), inside the caller's transaction.
pub(crate) fn update(tx: &Connection, vehicle_id: &str, from_ms: i64) -> rusqlite::Result<()> {
    let checkpoint: Option<(i64, String)> = tx
        .prepare_cached(
            "SELECT at_ms, state FROM derive_checkpoints
             WHERE vehicle_id = ?1 AND at_ms < ?2 ORDER BY at_ms DESC LIMIT 1",
        )?
        .query_row(params![vehicle_id, from_ms], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    // A checkpoint this build cannot read (written by another version) means starting over.
    let (after_ms, mut detectors) = checkpoint
        .and_then(|(at, state)| Some((at, serde_json::from_str::<Detectors>(&state).ok()?)))
        .unwrap_or((i64::MIN, Detectors::default()));
    for sql in [
        "DELETE FROM derive_checkpoints WHERE vehicle_id = ?1 AND at_ms > ?2",
        "DELETE FROM sessions WHERE vehicle_id = ?1 AND settled_at > ?2",
        "DELETE FROM trips WHERE vehicle_id = ?1 AND settled_at > ?2",
    ] {
        tx.prepare_cached(sql)?
            .execute(params![vehicle_id, after_ms])?;
    }
    let mut last_ms: Option<i64> = None;
    for_each_reading(tx, vehicle_id, after_ms, |row| {
        if let Some(last) = last_ms
            && last.div_euclid(DAY_MS) != row.at_ms.div_euclid(DAY_MS)
        {
            save_checkpoint(tx, vehicle_id, last, &detectors)?;
        }
        detectors.push(&row);
        for session in detectors.sessions.take_completed() {
            insert_session(tx, vehicle_id, &session, row.at_ms)?;
        }
        for trip in detectors.trips.take_settled() {
            insert_trip(tx, vehicle_id, &trip, row.at_ms)?;
        }
        last_ms = Some(row.at_ms);
        Ok(())
    })?;
    if let Some(last) = last_ms {
        save_checkpoint(tx, vehicle_id, last, &detectors)?;
    }
    // What the end of the readings leaves open: an ongoing session or trip.
    let Detectors { sessions, trips } = detectors;
    for session in sessions.finish() {
        insert_session(tx, vehicle_id, &session, PROVISIONAL)?;
    }
    for trip in trips.finish() {
        insert_trip(tx, vehicle_id, &trip, PROVISIONAL)?;
    }
    Ok(())
}

/// Derives every vehicle's sessions and trips afresh in one transaction, for readings
/// written outside a [`Batch`](super::Batch) (tests and repairs write rows directly).
pub fn rebuild(conn: &Connection) -> Result<(), StoreError> {
    let tx = conn.unchecked_transaction()?;
    rebuild_all(&tx)?;
    tx.commit()?;
    Ok(())
}

/// Derives the sessions and trips of the vehicles in `pending` (vehicle id -> the earliest
/// reading time stored or removed) in one transaction of its own, and notes that every
/// delivery stored so far is derived. The writer thread calls it after acknowledging the
/// deliveries, when idle or at most every quarter of a second: deriving inside each
/// group commit cost most of the ingest rate.
pub fn derive_pending(
    conn: &mut Connection,
    pending: &std::collections::BTreeMap<String, i64>,
) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    for (vehicle_id, from_ms) in pending {
        update(&tx, vehicle_id, *from_ms)?;
    }
    mark_caught_up(&tx)?;
    tx.commit()
}

fn mark_caught_up(tx: &Connection) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO meta(key, value) VALUES (?1, (SELECT coalesce(max(id), 0) FROM deliveries))
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    )?
    .execute([DERIVED_THROUGH])?;
    Ok(())
}

/// Notes that a batch that archived deliveries from `first_id` on derived what they
/// carried: when everything before them was derived already, everything is now. (When the
/// writer still has deliveries waiting, its own derivation moves the mark.)
pub(crate) fn mark_derived_after(tx: &Connection, first_id: i64) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "UPDATE meta SET value = (SELECT coalesce(max(id), 0) FROM deliveries)
         WHERE key = ?1 AND value >= ?2",
    )?
    .execute(params![DERIVED_THROUGH, first_id - 1])?;
    Ok(())
}

fn derived_through(conn: &Connection) -> rusqlite::Result<i64> {
    Ok(conn
        .query_row(
            "SELECT value FROM meta WHERE key = ?1",
            [DERIVED_THROUGH],
            |r| r.get::<_, Option<i64>>(0),
        )
        .optional()?
        .flatten()
        .unwrap_or(0))
}

/// Whether every stored delivery's sessions and trips are derived (tests wait on it after
/// delivering through the writer).
pub fn caught_up(conn: &Connection) -> Result<bool, StoreError> {
    let newest: i64 = conn.query_row("SELECT coalesce(max(id), 0) FROM deliveries", [], |r| {
        r.get(0)
    })?;
    Ok(derived_through(conn)? >= newest)
}

/// Derives what a writer that stopped before deriving left behind (a crash, a kill): the
/// vehicles of the deliveries after the last one derived. A scan of the readings, only
/// when something was left.
pub fn recover(conn: &mut Connection) -> rusqlite::Result<()> {
    let through = derived_through(conn)?;
    let newest: i64 = conn.query_row("SELECT coalesce(max(id), 0) FROM deliveries", [], |r| {
        r.get(0)
    })?;
    if through >= newest {
        return Ok(());
    }
    let pending: std::collections::BTreeMap<String, i64> = conn
        .prepare(
            "SELECT vehicle_id, min(recorded_at) FROM readings WHERE delivery_id > ?1
             GROUP BY vehicle_id",
        )?
        .query_map([through], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    derive_pending(conn, &pending)
}

/// Derives every vehicle's sessions and trips afresh (a migration, `reprocess`).
pub(crate) fn rebuild_all(tx: &Connection) -> rusqlite::Result<()> {
    tx.execute_batch("DELETE FROM sessions; DELETE FROM trips; DELETE FROM derive_checkpoints;")?;
    let ids: Vec<String> = tx
        .prepare("SELECT DISTINCT vehicle_id FROM readings")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for id in ids {
        update(tx, &id, i64::MIN)?;
    }
    mark_caught_up(tx)
}

/// Keeps the detectors' state after the reading at `at_ms` as its day's checkpoint.
fn save_checkpoint(
    tx: &Connection,
    vehicle_id: &str,
    at_ms: i64,
    detectors: &Detectors,
) -> rusqlite::Result<()> {
    let state = serde_json::to_string(detectors)
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
    let day_start = at_ms.div_euclid(DAY_MS) * DAY_MS;
    tx.prepare_cached(
        "DELETE FROM derive_checkpoints WHERE vehicle_id = ?1 AND at_ms >= ?2 AND at_ms < ?3",
    )?
    .execute(params![vehicle_id, day_start, at_ms - RECENT_MS])?;
    tx.prepare_cached(
        "INSERT OR REPLACE INTO derive_checkpoints(vehicle_id, at_ms, state) VALUES (?1, ?2, ?3)",
    )?
    .execute(params![vehicle_id, at_ms, state])?;
    Ok(())
}

fn insert_session(
    tx: &Connection,
    vehicle_id: &str,
    s: &Session,
    settled_at: i64,
) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO sessions(vehicle_id, started_at, ended_at, last_seen_at, start_percent,
            end_percent, latitude, longitude, charging_minutes, segments, start_uncertainty_min,
            end_uncertainty_min, inferred, settled_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    )?
    .execute(params![
        vehicle_id,
        s.started_at_ms,
        s.ended_at_ms,
        s.last_seen_ms,
        s.start_percent,
        s.end_percent,
        s.position.map(|p| p.0),
        s.position.map(|p| p.1),
        s.charging_minutes,
        s.segments,
        s.start_uncertainty_min,
        s.end_uncertainty_min,
        s.inferred,
        settled_at
    ])?;
    Ok(())
}

fn insert_trip(
    tx: &Connection,
    vehicle_id: &str,
    t: &Trip,
    settled_at: i64,
) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO trips(vehicle_id, started_at, ended_at, last_seen_at, start_latitude,
            start_longitude, end_latitude, end_longitude, gps_km, start_odometer_km,
            end_odometer_km, start_percent, end_percent, gap_ms, settled_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
    )?
    .execute(params![
        vehicle_id,
        t.started_at_ms,
        t.ended_at_ms,
        t.last_seen_ms,
        t.start.0,
        t.start.1,
        t.end.0,
        t.end.1,
        t.gps_km,
        t.start_odometer_km,
        t.end_odometer_km,
        t.start_percent,
        t.end_percent,
        t.gap_ms,
        settled_at
    ])?;
    Ok(())
}

/// One vehicle's sessions starting at or after `since_ms` (all without), oldest first.
pub fn sessions(
    conn: &Connection,
    vehicle_id: &str,
    since_ms: Option<i64>,
) -> Result<Vec<Session>, StoreError> {
    sessions_started(conn, vehicle_id, since_ms.unwrap_or(i64::MIN), i64::MAX)
}

/// One vehicle's sessions that started in `[from_ms, to_ms]`, oldest first.
pub fn sessions_started(
    conn: &Connection,
    vehicle_id: &str,
    from_ms: i64,
    to_ms: i64,
) -> Result<Vec<Session>, StoreError> {
    let mut statement = conn.prepare_cached(
        "SELECT started_at, ended_at, last_seen_at, start_percent, end_percent, latitude,
                longitude, charging_minutes, segments, start_uncertainty_min,
                end_uncertainty_min, inferred
         FROM sessions WHERE vehicle_id = ?1 AND started_at >= ?2 AND started_at <= ?3
         ORDER BY started_at, id",
    )?;
    let rows = statement
        .query_map(params![vehicle_id, from_ms, to_ms], |r| {
            let latitude: Option<f64> = r.get(5)?;
            let longitude: Option<f64> = r.get(6)?;
            Ok(Session {
                started_at_ms: r.get(0)?,
                ended_at_ms: r.get(1)?,
                last_seen_ms: r.get(2)?,
                start_percent: r.get(3)?,
                end_percent: r.get(4)?,
                position: latitude.zip(longitude),
                charging_minutes: r.get(7)?,
                segments: r.get(8)?,
                start_uncertainty_min: r.get(9)?,
                end_uncertainty_min: r.get(10)?,
                inferred: r.get(11)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// One vehicle's trips starting at or after `since_ms` (all without), oldest first.
pub fn trips(
    conn: &Connection,
    vehicle_id: &str,
    since_ms: Option<i64>,
) -> Result<Vec<Trip>, StoreError> {
    let mut statement = conn.prepare_cached(
        "SELECT started_at, ended_at, last_seen_at, start_latitude, start_longitude,
                end_latitude, end_longitude, gps_km, start_odometer_km, end_odometer_km,
                start_percent, end_percent, gap_ms
         FROM trips WHERE vehicle_id = ?1 AND started_at >= ?2 ORDER BY started_at, id",
    )?;
    let rows = statement
        .query_map(params![vehicle_id, since_ms.unwrap_or(i64::MIN)], |r| {
            Ok(Trip {
                started_at_ms: r.get(0)?,
                ended_at_ms: r.get(1)?,
                last_seen_ms: r.get(2)?,
                start: (r.get(3)?, r.get(4)?),
                end: (r.get(5)?, r.get(6)?),
                gps_km: r.get(7)?,
                start_odometer_km: r.get(8)?,
                end_odometer_km: r.get(9)?,
                start_percent: r.get(10)?,
                end_percent: r.get(11)?,
                gap_ms: r.get(12)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

#[cfg(test)]
mod tests;
