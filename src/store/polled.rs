//! What the relay's quiet-vehicle poller reads (which vehicles, their last reading, their
//! last archived poll), and the row an API answer adds when it ends an AUTHENTICATION_FAILED.

use rusqlite::{Connection, OptionalExtension, params};

use super::StoreError;
use crate::domain::gaps::VehicleGap;
use crate::domain::{Readings, VehicleError};
use crate::smartcar::webhook::api;

/// The vehicles among `vehicle_ids` (those the signed-in account reaches) that are
/// subscribed to the webhook, with what the poller needs to know of each. Subscribed
/// means recorded as subscribed (`fleetdash subscribe` or the app on this machine), or not
/// recorded either way but evidently so: a webhook delivery came for it (the owner may have
/// subscribed it from a desktop). A vehicle recorded as unsubscribed is left alone.
pub fn subscribed_gaps(
    conn: &Connection,
    vehicle_ids: &[String],
) -> Result<Vec<VehicleGap>, StoreError> {
    let mut gaps = Vec::new();
    for id in vehicle_ids {
        let row: Option<(Option<bool>, Option<i64>, bool, bool)> = conn
            .prepare_cached(
                "SELECT v.subscribed, v.last_seen_at, v.needs_reauth,
                   EXISTS (SELECT 1 FROM readings r WHERE r.vehicle_id = v.id AND r.source = 'webhook')
                 FROM vehicles v WHERE v.id = ?1",
            )?
            .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .optional()?;
        let Some((subscribed, last_reading_ms, needs_reauth, delivered)) = row else {
            continue;
        };
        if subscribed.unwrap_or(delivered) {
            gaps.push(VehicleGap {
                vehicle_id: id.clone(),
                last_reading_ms,
                last_poll_ms: last_poll(conn, id)?,
                needs_reauth,
                retry_at_ms: None,
            });
        }
    }
    Ok(gaps)
}

/// When the vehicle was last polled, as the archive remembers it (so a restarted relay
/// keeps to once an hour): the time in the newest of its API records' dedup keys, one
/// index lookup since the keys sort by time.
pub fn last_poll(conn: &Connection, vehicle_id: &str) -> Result<Option<i64>, StoreError> {
    let prefix = api::key_prefix(vehicle_id);
    // ';' follows ':' in ASCII: the range holds exactly the keys that start with the prefix.
    let end = format!("{};", prefix.trim_end_matches(':'));
    let key: Option<String> = conn
        .prepare_cached("SELECT max(key) FROM event_keys WHERE key > ?1 AND key < ?2")?
        .query_row(params![prefix, end], |r| r.get(0))?;
    Ok(key.and_then(|k| k.strip_prefix(&prefix)?.parse().ok()))
}

/// True when the vehicle's latest AUTHENTICATION_FAILED at or before `at_ms` is still open.
pub(crate) fn reauth_open(
    conn: &Connection,
    vehicle_id: &str,
    at_ms: i64,
) -> rusqlite::Result<bool> {
    Ok(conn
        .prepare_cached(
            "SELECT active FROM vehicle_errors
             WHERE vehicle_id = ?1 AND recorded_at <= ?2
               AND error_code = 'AUTHENTICATION_FAILED' COLLATE NOCASE
             ORDER BY recorded_at DESC LIMIT 1",
        )?
        .query_row(params![vehicle_id, at_ms], |r| r.get::<_, bool>(0))
        .optional()?
        .unwrap_or(false))
}

/// The resolved AUTHENTICATION_FAILED that an API answer at `at_ms` stands for.
pub(crate) fn reauth_resolved(at_ms: i64) -> Readings {
    Readings {
        errors: vec![VehicleError {
            recorded_at_ms: at_ms,
            source_path: "/batch".into(),
            error_type: "CONNECTED_SERVICES_ACCOUNT".into(),
            error_code: "AUTHENTICATION_FAILED".into(),
            description: "Smartcar answered fleetdash's API poll for the vehicle again: its \
                          connection works."
                .into(),
            resolution_url: None,
            active: false,
        }],
        ..Readings::default()
    }
}
