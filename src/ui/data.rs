//! What the views show, read from the database through the UI's own read-only
//! connection. Only the window on screen is read, downsampled to the plot's width.

use rusqlite::Connection;

use crate::domain::ChargingState;
use crate::domain::sessions::Session;
use crate::store::StoreError;

/// One row of the fleet overview.
#[derive(Debug, Clone, PartialEq)]
pub struct VehicleRow {
    /// Smartcar vehicle id.
    pub id: String,
    /// Owner's name, or make, model and year.
    pub name: String,
    /// Latest state of charge.
    pub battery_percent: Option<f64>,
    /// Latest range.
    pub range_km: Option<f64>,
    /// Latest plug state.
    pub plugged_in: Option<bool>,
    /// Latest charging state.
    pub charging: Option<ChargingState>,
    /// Latest reading of any kind.
    pub last_seen_ms: Option<i64>,
    /// Smartcar can't reach the car until its owner signs in again.
    pub needs_reauth: bool,
    /// Latest known position (latitude, longitude).
    pub position: Option<(f64, f64)>,
    /// Subscribed to the webhook (`None`: not known here).
    pub subscribed: Option<bool>,
    /// Where its owner re-connects it, when it needs that.
    pub reauth_url: Option<String>,
    /// The owner's usable capacity, kWh.
    pub capacity_kwh: Option<f64>,
    /// The owner's charge target, percent.
    pub charge_target: Option<f64>,
    /// Its latest position reading that was away from the one before it (see
    /// [`crate::domain::glance`]).
    pub last_moved_ms: Option<i64>,
}

impl VehicleRow {
    /// What the fleet-at-a-glance logic needs of it.
    pub fn now(&self) -> crate::domain::glance::VehicleNow {
        crate::domain::glance::VehicleNow {
            plugged_in: self.plugged_in,
            charging: self.charging,
            battery_percent: self.battery_percent,
            last_seen_ms: self.last_seen_ms,
            last_moved_ms: self.last_moved_ms,
            needs_reauth: self.needs_reauth,
        }
    }
}

/// Two positions at least this far apart are a move (GPS jitter of a parked car stays
/// well inside it; the trip rule uses the same distance).
const MOVE_M: f64 = 150.0;

/// Every vehicle with its latest values.
pub fn fleet(conn: &Connection) -> Result<Vec<VehicleRow>, StoreError> {
    let mut statement = conn.prepare_cached(
        "SELECT v.id,
                coalesce(v.name, trim(coalesce(v.make, '') || ' ' || coalesce(v.model, '') || ' ' || coalesce(v.year, ''))),
                (SELECT battery_percent FROM readings r WHERE r.vehicle_id = v.id AND battery_percent IS NOT NULL
                 ORDER BY recorded_at DESC LIMIT 1),
                (SELECT range_km FROM readings r WHERE r.vehicle_id = v.id AND range_km IS NOT NULL
                 ORDER BY recorded_at DESC LIMIT 1),
                (SELECT plugged_in FROM readings r WHERE r.vehicle_id = v.id AND plugged_in IS NOT NULL
                 ORDER BY recorded_at DESC LIMIT 1),
                (SELECT charging_state FROM readings r WHERE r.vehicle_id = v.id AND charging_state IS NOT NULL
                 ORDER BY recorded_at DESC LIMIT 1),
                (SELECT max(recorded_at) FROM readings r WHERE r.vehicle_id = v.id),
                v.needs_reauth,
                (SELECT latitude || ' ' || longitude FROM readings r WHERE r.vehicle_id = v.id AND latitude IS NOT NULL
                 ORDER BY recorded_at DESC LIMIT 1),
                v.subscribed,
                v.reauth_url,
                v.capacity_kwh,
                v.charge_target
         FROM vehicles v ORDER BY 2, 1",
    )?;
    let rows = statement
        .query_map([], |r| {
            Ok(VehicleRow {
                id: r.get(0)?,
                name: r.get(1)?,
                battery_percent: r.get(2)?,
                range_km: r.get(3)?,
                plugged_in: r.get(4)?,
                charging: r
                    .get::<_, Option<String>>(5)?
                    .and_then(|s| ChargingState::parse(&s)),
                last_seen_ms: r.get(6)?,
                needs_reauth: r.get(7)?,
                position: r.get::<_, Option<String>>(8)?.and_then(|text| {
                    let (lat, lon) = text.split_once(' ')?;
                    Some((lat.parse().ok()?, lon.parse().ok()?))
                }),
                subscribed: r.get(9)?,
                reauth_url: r.get(10)?,
                capacity_kwh: r.get(11)?,
                charge_target: r.get(12)?,
                last_moved_ms: None,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut rows = rows;
    for row in &mut rows {
        row.last_moved_ms = last_moved(conn, &row.id)?;
    }
    Ok(rows)
}

/// The latest position reading when it is [`MOVE_M`] or more from the one before it.
fn last_moved(conn: &Connection, vehicle_id: &str) -> Result<Option<i64>, StoreError> {
    let mut statement = conn.prepare_cached(
        "SELECT recorded_at, latitude, longitude FROM readings
         WHERE vehicle_id = ?1 AND latitude IS NOT NULL AND longitude IS NOT NULL
         ORDER BY recorded_at DESC LIMIT 2",
    )?;
    let latest: Vec<(i64, f64, f64)> = statement
        .query_map([vehicle_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    Ok(match latest.as_slice() {
        [(at, la, lo), (_, pla, plo)]
            if crate::domain::geo::distance_m((*la, *lo), (*pla, *plo)) >= MOVE_M =>
        {
            Some(*at)
        }
        _ => None,
    })
}

/// Battery percent over `[from_ms, to_ms]`, as plot points (x in seconds), downsampled to
/// about `buckets` min/max pairs.
pub fn battery_series(
    conn: &Connection,
    vehicle_id: &str,
    from_ms: i64,
    to_ms: i64,
    buckets: usize,
) -> Result<Vec<[f64; 2]>, StoreError> {
    let mut statement = conn.prepare_cached(
        "SELECT recorded_at, battery_percent FROM readings
         WHERE vehicle_id = ?1 AND recorded_at BETWEEN ?2 AND ?3 AND battery_percent IS NOT NULL
         ORDER BY recorded_at",
    )?;
    let points: Vec<[f64; 2]> = statement
        .query_map(rusqlite::params![vehicle_id, from_ms, to_ms], |r| {
            Ok([r.get::<_, i64>(0)? as f64 / 1000.0, r.get(1)?])
        })?
        .collect::<Result<_, _>>()?;
    Ok(crate::domain::downsample::min_max(&points, buckets))
}

/// The vehicle's first and last reading times.
pub fn span(conn: &Connection, vehicle_id: &str) -> Result<Option<(i64, i64)>, StoreError> {
    let span: (Option<i64>, Option<i64>) = conn.query_row(
        "SELECT min(recorded_at), max(recorded_at) FROM readings WHERE vehicle_id = ?1",
        [vehicle_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    Ok(span.0.zip(span.1))
}

/// The vehicle's charging sessions, newest first.
pub fn sessions(conn: &Connection, vehicle_id: &str) -> Result<Vec<Session>, StoreError> {
    let mut sessions = crate::store::sessions::vehicle_sessions(conn, vehicle_id)?;
    sessions.reverse();
    Ok(sessions)
}

/// One row of the deliveries panel.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryRow {
    /// Archive id.
    pub id: i64,
    /// When it arrived.
    pub received_at_ms: i64,
    /// `v4/VEHICLE_STATE`, `v2/dynamic`, ...
    pub kind: String,
    /// Vehicles it spoke of.
    pub vehicles: usize,
    /// parsed, quarantined, duplicate or verify.
    pub outcome: String,
    /// Why quarantined, or what was skipped.
    pub detail: Option<String>,
}

/// The latest `limit` deliveries, newest first (bodies are read on demand).
pub fn deliveries(conn: &Connection, limit: usize) -> Result<Vec<DeliveryRow>, StoreError> {
    let mut statement = conn.prepare_cached(
        "SELECT id, received_at, format || '/' || kind, vehicle_ids, outcome, detail
         FROM deliveries ORDER BY id DESC LIMIT ?1",
    )?;
    let rows = statement
        .query_map([limit as i64], |r| {
            let vehicles: Option<String> = r.get(3)?;
            Ok(DeliveryRow {
                id: r.get(0)?,
                received_at_ms: r.get(1)?,
                kind: r.get(2)?,
                vehicles: vehicles.map_or(0, |v| v.split_whitespace().count()),
                outcome: r.get(4)?,
                detail: r.get(5)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// A delivery's body as text, pretty-printed when it is JSON (the archive keeps the exact
/// bytes); `None` for duplicates.
pub fn delivery_body(conn: &Connection, id: i64) -> Result<Option<String>, StoreError> {
    let body = crate::store::bodies::read(conn, id)?;
    Ok(body.map(|bytes| {
        crate::smartcar::json::parse_lenient(&bytes)
            .ok()
            .and_then(|v| serde_json::to_string_pretty(&v).ok())
            .unwrap_or_else(|| String::from_utf8_lossy(&bytes).into_owned())
    }))
}

/// Deliveries per outcome.
pub fn outcome_counts(conn: &Connection) -> Result<Vec<(String, i64)>, StoreError> {
    let mut statement = conn.prepare_cached(
        "SELECT outcome, count(*) FROM deliveries GROUP BY outcome ORDER BY outcome",
    )?;
    let rows = statement
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// A vehicle's positions in `[from_ms, to_ms]` in time order, thinned to at most about
/// `max_points` (a year of minutes is far more than a trail can show).
pub fn trail(
    conn: &Connection,
    vehicle_id: &str,
    from_ms: i64,
    to_ms: i64,
    max_points: usize,
) -> Result<Vec<(f64, f64)>, StoreError> {
    let mut statement = conn.prepare_cached(
        "SELECT latitude, longitude FROM readings
         WHERE vehicle_id = ?1 AND recorded_at BETWEEN ?2 AND ?3 AND latitude IS NOT NULL
         ORDER BY recorded_at",
    )?;
    let points: Vec<(f64, f64)> = statement
        .query_map(rusqlite::params![vehicle_id, from_ms, to_ms], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?
        .collect::<Result<_, _>>()?;
    let step = points.len().div_ceil(max_points.max(1)).max(1);
    if step == 1 {
        return Ok(points);
    }
    let last = points.last().copied();
    let mut thinned: Vec<(f64, f64)> = points.into_iter().step_by(step).collect();
    // Keep where it is now, whatever the step skipped.
    if let Some(last) = last
        && thinned.last() != Some(&last)
    {
        thinned.push(last);
    }
    Ok(thinned)
}

/// One error Smartcar reported for a vehicle.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorRow {
    /// When.
    pub recorded_at_ms: i64,
    /// `AUTHENTICATION_FAILED`, `VEHICLE_STATE`, ...
    pub error_type: String,
    /// Smartcar's code.
    pub error_code: String,
    /// Smartcar's words.
    pub description: String,
    /// Where the user can fix it, when Smartcar said.
    pub resolution_url: Option<String>,
}

/// A vehicle's latest `limit` errors, newest first.
pub fn errors(
    conn: &Connection,
    vehicle_id: &str,
    limit: usize,
) -> Result<Vec<ErrorRow>, StoreError> {
    let mut statement = conn.prepare_cached(
        "SELECT recorded_at, error_type, error_code, description, resolution_url
         FROM vehicle_errors WHERE vehicle_id = ?1 ORDER BY recorded_at DESC LIMIT ?2",
    )?;
    let rows = statement
        .query_map(rusqlite::params![vehicle_id, limit as i64], |r| {
            Ok(ErrorRow {
                recorded_at_ms: r.get(0)?,
                error_type: r.get(1)?,
                error_code: r.get(2)?,
                description: r.get(3)?,
                resolution_url: r.get(4)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// One month's charging across the fleet.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MonthFigures {
    /// `2026-01`, in the fleet's time zone.
    pub period: String,
    /// Sessions started in it.
    pub sessions: u64,
    /// Their energy, when capacities are known.
    pub energy_kwh: Option<f64>,
    /// Their cost, when prices are known too.
    pub cost: Option<f64>,
}

/// What the Fleet page shows beside the rows: each vehicle's last 24 hours of battery and
/// the fleet's charging this month and last.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Glance {
    /// When it was read, ms.
    pub at_ms: i64,
    /// Per vehicle id, battery percent over the 24 hours before `at_ms` (x in seconds).
    pub sparklines: std::collections::HashMap<String, Vec<[f64; 2]>>,
    /// This month so far.
    pub this_month: MonthFigures,
    /// The month before.
    pub last_month: MonthFigures,
}

/// Min/max pairs per sparkline: about one per hour.
const SPARKLINE_BUCKETS: usize = 24;

/// The [`Glance`] at `now_ms`.
pub fn glance(conn: &Connection, now_ms: i64) -> Result<Glance, StoreError> {
    let mut sparklines = std::collections::HashMap::new();
    let ids: Vec<String> = conn
        .prepare_cached("SELECT id FROM vehicles")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let day_ago = now_ms - crate::domain::time::DAY_MS;
    for id in ids {
        let points = battery_series(conn, &id, day_ago, now_ms, SPARKLINE_BUCKETS)?;
        sparklines.insert(id, points);
    }
    let zone = crate::store::owner::fleet_zone(conn)?;
    let filter = crate::store::ExportFilter {
        since_ms: Some(zone.month_start_ms(now_ms, 1)),
        ..Default::default()
    };
    let rows = crate::store::sessions::summary(conn, &filter, true)?;
    let month = |at_ms: i64| {
        let period = zone.period_of(at_ms, true);
        rows.iter()
            .find(|r| r.vehicle_id.is_empty() && r.period == period)
            .map(|r| MonthFigures {
                period: period.clone(),
                sessions: r.totals.sessions,
                energy_kwh: r.totals.energy_kwh,
                cost: r.totals.cost,
            })
            .unwrap_or(MonthFigures {
                period,
                ..Default::default()
            })
    };
    Ok(Glance {
        at_ms: now_ms,
        sparklines,
        this_month: month(now_ms),
        last_month: month(zone.month_start_ms(now_ms, 1)),
    })
}
