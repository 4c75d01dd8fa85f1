//! Turning one delivery into archive and derived rows, inside the caller's transaction.
//! The callback server, `reprocess` and (later) API polling all go through here, so every
//! path derives readings the same way.

use rusqlite::{OptionalExtension, Transaction, params};

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

/// Columns of a `deliveries` row, as derived from a parse.
pub(crate) struct Classified {
    pub format: &'static str,
    pub kind: String,
    pub mode: Option<String>,
    pub event_key: Option<String>,
    pub detail: Option<String>,
    pub vehicle_ids: Option<String>,
}

pub(crate) fn classify(parsed: &Result<Webhook, ParseError>) -> Classified {
    match parsed {
        Ok(Webhook::Verify { format, .. }) => Classified {
            format: format.as_str(),
            kind: "verify".into(),
            mode: None,
            event_key: None,
            detail: None,
            vehicle_ids: None,
        },
        Ok(Webhook::Event(event)) => Classified {
            format: event.format.as_str(),
            kind: event.kind.clone(),
            mode: event.mode.clone(),
            event_key: join(event.units.iter().map(|u| u.key.as_str())),
            detail: (!event.notes.is_empty()).then(|| event.notes.join("; ")),
            vehicle_ids: join(event.units.iter().map(|u| u.vehicle_id.as_str())),
        },
        Err(error) => Classified {
            format: "unknown",
            kind: "unknown".into(),
            mode: None,
            event_key: None,
            detail: Some(error.to_string()),
            vehicle_ids: None,
        },
    }
}

fn join<'a>(parts: impl Iterator<Item = &'a str>) -> Option<String> {
    let joined = parts.collect::<Vec<_>>().join(" ");
    (!joined.is_empty()).then_some(joined)
}

/// Archives one delivery and stores what it carries, deduplicating by event key.
/// Runs inside `tx`; nothing is durable until the caller commits.
pub fn ingest_delivery(
    tx: &Transaction,
    received_at_ms: i64,
    body: &[u8],
    parsed: &Result<Webhook, ParseError>,
) -> rusqlite::Result<Ingested> {
    let row = classify(parsed);
    let (outcome, new_units, duplicate_of) = match parsed {
        Ok(Webhook::Verify { .. }) => (Outcome::Verify, Vec::new(), None),
        Err(_) => (Outcome::Quarantined, Vec::new(), None),
        Ok(Webhook::Event(event)) => {
            let (new_units, first_seen) = unseen_units(tx, &event.units)?;
            if new_units.is_empty() && !event.units.is_empty() {
                (Outcome::Duplicate, new_units, first_seen)
            } else {
                (Outcome::Parsed, new_units, None)
            }
        }
    };
    let stored_body = (outcome != Outcome::Duplicate).then_some(body);
    tx.prepare_cached(
        "INSERT INTO deliveries
           (received_at, format, kind, mode, event_key, outcome, detail, vehicle_ids, duplicate_of, body)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        received_at_ms,
        row.format,
        row.kind,
        row.mode,
        row.event_key,
        outcome.as_str(),
        row.detail,
        row.vehicle_ids,
        duplicate_of,
        stored_body,
    ])?;
    let delivery_id = tx.last_insert_rowid();
    let vehicles = match parsed {
        Ok(Webhook::Event(event)) => event.units.len(),
        _ => 0,
    };
    let mut readings = 0;
    for unit in new_units {
        tx.prepare_cached("INSERT INTO event_keys(key, delivery_id) VALUES (?1, ?2)")?
            .execute(params![unit.key, delivery_id])?;
        readings += store_readings(
            tx,
            &unit.vehicle_id,
            unit.info.as_ref(),
            &unit.readings,
            Source::Webhook,
            Some(delivery_id),
        )?;
    }
    Ok(Ingested {
        delivery_id,
        outcome,
        vehicles,
        readings,
    })
}

/// The units whose keys were never stored (each key once, even if repeated within the
/// delivery), and the delivery that first stored a seen one.
fn unseen_units<'a>(
    tx: &Transaction,
    units: &'a [EventUnit],
) -> rusqlite::Result<(Vec<&'a EventUnit>, Option<i64>)> {
    let mut fresh: Vec<&EventUnit> = Vec::new();
    let mut first_seen = None;
    for unit in units {
        let seen: Option<i64> = tx
            .prepare_cached("SELECT delivery_id FROM event_keys WHERE key = ?1")?
            .query_row([&unit.key], |r| r.get(0))
            .optional()?;
        match seen {
            Some(id) => first_seen = first_seen.or(Some(id)),
            None if fresh.iter().any(|u| u.key == unit.key) => {}
            None => fresh.push(unit),
        }
    }
    Ok((fresh, first_seen))
}

/// Stores the readings of one vehicle; returns how many there were.
pub fn store_readings(
    tx: &Transaction,
    vehicle_id: &str,
    info: Option<&VehicleInfo>,
    readings: &Readings,
    source: Source,
    delivery_id: Option<i64>,
) -> rusqlite::Result<usize> {
    let times = readings
        .battery
        .iter()
        .map(|r| r.recorded_at_ms)
        .chain(readings.charge.iter().map(|r| r.recorded_at_ms))
        .chain(readings.locations.iter().map(|r| r.recorded_at_ms));
    let (first, last) = times.fold((None, None), |(lo, hi): (Option<i64>, Option<i64>), t| {
        (
            Some(lo.map_or(t, |v| v.min(t))),
            Some(hi.map_or(t, |v| v.max(t))),
        )
    });
    let info = info.cloned().unwrap_or_default();
    tx.prepare_cached(
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
        vehicle_id, info.make, info.model, info.year, first, last
    ])?;

    let source = source.as_str();
    for r in &readings.battery {
        tx.prepare_cached(
            "INSERT INTO battery_readings(vehicle_id, recorded_at, percent, range_km, source, delivery_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT(vehicle_id, recorded_at) DO UPDATE SET
               percent = coalesce(excluded.percent, percent),
               range_km = coalesce(excluded.range_km, range_km)",
        )?
        .execute(params![vehicle_id, r.recorded_at_ms, r.percent, r.range_km, source, delivery_id])?;
    }
    for r in &readings.charge {
        tx.prepare_cached(
            "INSERT INTO charge_readings(vehicle_id, recorded_at, plugged_in, charging_state, source, delivery_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT(vehicle_id, recorded_at) DO UPDATE SET
               plugged_in = coalesce(excluded.plugged_in, plugged_in),
               charging_state = coalesce(excluded.charging_state, charging_state)",
        )?
        .execute(params![
            vehicle_id,
            r.recorded_at_ms,
            r.plugged_in,
            r.state.map(|s| s.as_str()),
            source,
            delivery_id
        ])?;
    }
    for r in &readings.locations {
        tx.prepare_cached(
            "INSERT INTO locations(vehicle_id, recorded_at, latitude, longitude, source, delivery_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT(vehicle_id, recorded_at) DO NOTHING",
        )?
        .execute(params![vehicle_id, r.recorded_at_ms, r.latitude, r.longitude, source, delivery_id])?;
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
            tx.prepare_cached(
                "UPDATE vehicles SET needs_reauth = ?2,
                        reauth_url = CASE WHEN ?2 THEN coalesce(?3, reauth_url) ELSE NULL END
                 WHERE id = ?1",
            )?
            .execute(params![vehicle_id, e.active, e.resolution_url])?;
        }
    }
    Ok(readings.len())
}
