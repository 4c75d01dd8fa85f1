//! Rebuilding every derived table from the archive of raw deliveries.

use rusqlite::{Connection, OptionalExtension, params};

use super::StoreError;
use super::ingest::{Batch, Outcome, classify};
use crate::smartcar::{Webhook, parse_archived};

/// What a rebuild did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReprocessReport {
    /// Deliveries read from the archive (verify notes and duplicates are skipped).
    pub deliveries: u64,
    /// Deliveries parsed.
    pub parsed: u64,
    /// Deliveries still unreadable.
    pub quarantined: u64,
    /// Formerly quarantined deliveries that parse now.
    pub recovered: u64,
    /// Deliveries that turned out to repeat an earlier one.
    pub duplicates: u64,
    /// Readings stored.
    pub readings: u64,
}

/// Rebuilds the derived tables from the archive, in arrival order, in one transaction:
/// either all of it happens or none. Owner-set vehicle names are kept, and so are readings
/// that never came from a delivery (simulated history, API polls of fleetdash versions that
/// did not archive them yet). API polls archived as fleetdash's own records (`format` =
/// `api`) are read like any delivery. Running it twice gives
/// the same tables.
pub fn reprocess(
    conn: &mut Connection,
    mut progress: impl FnMut(u64, u64),
) -> Result<ReprocessReport, StoreError> {
    let mut batch = Batch::begin(conn)?;
    batch.tx().execute_batch(
        "DELETE FROM readings WHERE delivery_id IS NOT NULL;
         DELETE FROM vehicle_errors WHERE delivery_id IS NOT NULL;
         DELETE FROM event_keys;
         DELETE FROM sessions;
         DELETE FROM trips;
         DELETE FROM derive_checkpoints;
         UPDATE vehicles SET needs_reauth = 0, reauth_url = NULL,
           first_seen_at = (SELECT min(recorded_at) FROM readings r WHERE r.vehicle_id = vehicles.id),
           last_seen_at = (SELECT max(recorded_at) FROM readings r WHERE r.vehicle_id = vehicles.id);",
    )?;
    // Ids first: the loop below updates the rows it reads.
    let ids: Vec<i64> = batch
        .tx()
        .prepare(
            "SELECT id FROM deliveries WHERE body IS NOT NULL AND outcome != 'verify' ORDER BY id",
        )?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let total = ids.len() as u64;
    let mut report = ReprocessReport::default();
    for (done, id) in ids.into_iter().enumerate() {
        let tx = batch.tx();
        let row: Option<(i64, Option<Vec<u8>>, String)> = tx
            .prepare_cached(
                "SELECT received_at, body, body_codec, outcome FROM deliveries WHERE id = ?1",
            )?
            .query_row([id], |r| {
                Ok((r.get(0)?, super::bodies::from_row(tx, r, 1)?, r.get(3)?))
            })
            .optional()?;
        let Some((received_at_ms, Some(body), old_outcome)) = row else {
            continue;
        };
        report.deliveries += 1;
        let parsed = parse_archived(&body, received_at_ms);
        let row = classify(&parsed);
        let mut outcome = Outcome::Quarantined;
        if let Ok(Webhook::Event(event)) = &parsed {
            let stored = batch.store_units(id, &event.units, event.source)?;
            report.readings += stored.readings as u64;
            outcome = if stored.is_repeat(event.units.len()) {
                Outcome::Duplicate
            } else {
                Outcome::Parsed
            };
        }
        match outcome {
            Outcome::Parsed => report.parsed += 1,
            Outcome::Duplicate => report.duplicates += 1,
            _ => report.quarantined += 1,
        }
        if old_outcome == Outcome::Quarantined.as_str() && outcome == Outcome::Parsed {
            report.recovered += 1;
        }
        batch
            .tx()
            .prepare_cached(
                "UPDATE deliveries SET format = ?2, kind = ?3, mode = ?4, event_key = NULL,
                    outcome = ?5, detail = ?6, vehicle_ids = ?7
             WHERE id = ?1",
            )?
            .execute(params![
                id,
                row.format,
                row.kind,
                row.mode,
                outcome.as_str(),
                row.detail,
                row.vehicle_ids
            ])?;
        progress(done as u64 + 1, total);
    }
    batch.rederive_everything()?;
    batch.commit()?;
    Ok(report)
}
