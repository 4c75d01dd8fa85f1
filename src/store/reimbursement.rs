//! Home charging paid back: the sessions each driver charged at home while the vehicle was
//! theirs, with the energy split by when it was added and priced at the driver's tariff.
//!
//! A session is a driver's home session when it starts inside one of their assignment
//! periods of that vehicle and its position is within their home's radius. The energy
//! added inside the off-peak window is measured from the state of charge at the window's
//! edges (interpolated between the readings around each edge), so a 20:00-23:30 charge
//! across a 22:00 off-peak start is priced in two parts, to the minute.

use std::io::Write;

use rusqlite::{Connection, OptionalExtension, params};

use super::drivers::{Driver, assignments, drivers};
use super::export::{formula_safe, number_cell};
use super::{ExportFilter, StoreError};
use crate::domain::sessions::Session;
use crate::domain::tariff::{Priced, Tariff, off_peak_spans};
use crate::domain::time::format_ms;
use crate::domain::zone::FleetZone;

/// One home session of a driver, priced.
#[derive(Debug, Clone, PartialEq)]
pub struct HomeSession {
    /// The driver's name.
    pub driver: String,
    /// Smartcar vehicle id.
    pub vehicle_id: String,
    /// Its display name.
    pub vehicle_name: String,
    /// The session.
    pub session: Session,
    /// Energy, its off-peak part and the amount; `None` when the vehicle's usable capacity
    /// is unknown (energy can't be reimbursed on a guess).
    pub priced: Option<Priced>,
    /// The tariff it is paid at.
    pub tariff: Tariff,
}

impl HomeSession {
    /// The amount to pay; `None` while ongoing or without energy or a rate.
    pub fn amount(&self) -> Option<f64> {
        if self.session.is_ongoing() {
            return None;
        }
        self.priced.and_then(|p| p.amount)
    }
}

/// The state of charge of `vehicle_id` at `at_ms`, interpolated between the readings
/// around it (the nearest one where only one side is known).
fn soc_at(conn: &Connection, vehicle_id: &str, at_ms: i64) -> Result<Option<f64>, StoreError> {
    let near = |sql: &str| -> Result<Option<(i64, f64)>, StoreError> {
        Ok(conn
            .prepare_cached(sql)?
            .query_row(params![vehicle_id, at_ms], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?)
    };
    let before = near(
        "SELECT recorded_at, battery_percent FROM readings
         WHERE vehicle_id = ?1 AND recorded_at <= ?2 AND battery_percent IS NOT NULL
         ORDER BY recorded_at DESC LIMIT 1",
    )?;
    let after = near(
        "SELECT recorded_at, battery_percent FROM readings
         WHERE vehicle_id = ?1 AND recorded_at >= ?2 AND battery_percent IS NOT NULL
         ORDER BY recorded_at LIMIT 1",
    )?;
    Ok(match (before, after) {
        (Some((t0, a)), Some((t1, b))) if t1 > t0 => {
            Some(a + (b - a) * (at_ms - t0) as f64 / (t1 - t0) as f64)
        }
        (Some((_, a)), _) => Some(a),
        (None, Some((_, b))) => Some(b),
        (None, None) => None,
    })
}

/// Prices `session` of a vehicle of `capacity_kwh` at `tariff`: the energy added inside
/// the off-peak window at its rate, the rest at the normal one.
pub fn price_session(
    conn: &Connection,
    zone: &FleetZone,
    vehicle_id: &str,
    session: &Session,
    capacity_kwh: f64,
    tariff: &Tariff,
) -> Result<Option<Priced>, StoreError> {
    let Some(energy) = session.energy_kwh(capacity_kwh) else {
        return Ok(None);
    };
    let mut off_peak_kwh = 0.0;
    if let Some((window, _)) = tariff.off_peak {
        let end = session.ended_at_ms.unwrap_or(session.last_seen_ms);
        for (a, b) in off_peak_spans(zone, window, session.started_at_ms, end) {
            if let (Some(from), Some(to)) =
                (soc_at(conn, vehicle_id, a)?, soc_at(conn, vehicle_id, b)?)
            {
                off_peak_kwh += (to - from).max(0.0) / 100.0 * capacity_kwh;
            }
        }
    }
    Ok(Some(tariff.price(energy, off_peak_kwh)))
}

/// Every home session that started in `[since_ms, until_ms]` (either open), of the driver
/// named `driver` or of every driver, by driver and start.
pub fn home_sessions(
    conn: &Connection,
    driver: Option<&str>,
    since_ms: Option<i64>,
    until_ms: Option<i64>,
) -> Result<Vec<HomeSession>, StoreError> {
    let zone = super::owner::fleet_zone(conn)?;
    let all_drivers = drivers(conn)?;
    let vehicles = super::sessions::vehicles(conn, &ExportFilter::default())?;
    let mut rows = Vec::new();
    for assignment in assignments(conn)? {
        let Some(d) = all_drivers
            .iter()
            .find(|d| d.name == assignment.driver)
            .filter(|d| driver.is_none_or(|name| d.name.eq_ignore_ascii_case(name.trim())))
        else {
            continue;
        };
        let Some(home) = d.home else {
            continue;
        };
        let Some((_, vehicle_name, capacity)) = vehicles
            .iter()
            .find(|(id, _, _)| *id == assignment.vehicle_id)
        else {
            continue;
        };
        let from = assignment.from_ms.max(since_ms.unwrap_or(i64::MIN));
        let to = assignment
            .until_ms
            .map_or(i64::MAX, |u| u - 1)
            .min(until_ms.unwrap_or(i64::MAX));
        if from > to {
            continue;
        }
        let tariff = d.tariff();
        for session in super::derived::sessions_started(conn, &assignment.vehicle_id, from, to)? {
            if !session.position.is_some_and(|p| home.contains(p)) {
                continue;
            }
            let priced = match capacity {
                Some(c) => {
                    price_session(conn, &zone, &assignment.vehicle_id, &session, *c, &tariff)?
                }
                None => None,
            };
            rows.push(HomeSession {
                driver: d.name.clone(),
                vehicle_id: assignment.vehicle_id.clone(),
                vehicle_name: vehicle_name.clone(),
                session,
                priced,
                tariff,
            });
        }
    }
    rows.sort_by(|a, b| {
        (a.driver.to_lowercase(), a.session.started_at_ms)
            .cmp(&(b.driver.to_lowercase(), b.session.started_at_ms))
    });
    Ok(rows)
}

/// The `reimbursement` export's columns.
pub const COLUMNS: [&str; 14] = [
    "driver",
    "vehicle_id",
    "vehicle_name",
    "started_at",
    "ended_at",
    "duration_min",
    "energy_added_kwh",
    "off_peak_kwh",
    "rate_per_kwh",
    "off_peak_rate_per_kwh",
    "amount",
    "latitude",
    "longitude",
    "status",
];

fn cell(value: Option<f64>, decimals: usize) -> String {
    value
        .filter(|v| v.is_finite())
        .map(|v| format!("{v:.decimals$}"))
        .unwrap_or_default()
}

/// Writes the `reimbursement` export rows (the header is the caller's).
pub(super) fn write_reimbursement<W: Write>(
    conn: &Connection,
    filter: &ExportFilter,
    csv: &mut csv::Writer<W>,
) -> Result<u64, StoreError> {
    let rows = home_sessions(
        conn,
        filter.driver.as_deref(),
        filter.since_ms,
        filter.until_ms,
    )?;
    let mut count = 0;
    for row in rows
        .iter()
        .filter(|r| filter.vehicle_ids.is_empty() || filter.vehicle_ids.contains(&r.vehicle_id))
    {
        let s = &row.session;
        csv.write_record([
            formula_safe(&row.driver).into_owned(),
            formula_safe(&row.vehicle_id).into_owned(),
            formula_safe(&row.vehicle_name).into_owned(),
            format_ms(s.started_at_ms),
            s.ended_at_ms.map(format_ms).unwrap_or_default(),
            number_cell((s.duration_min() * 10.0).round() / 10.0),
            cell(row.priced.map(|p| p.energy_kwh), 3),
            cell(row.priced.map(|p| p.off_peak_kwh), 3),
            cell(row.tariff.rate, 4),
            cell(row.tariff.off_peak.map(|(_, r)| r), 4),
            cell(row.amount(), 2),
            cell(s.position.map(|p| p.0), 6),
            cell(s.position.map(|p| p.1), 6),
            if s.is_ongoing() {
                "ongoing"
            } else {
                "complete"
            }
            .to_owned(),
        ])?;
        count += 1;
    }
    Ok(count)
}

/// Why `driver`'s sessions cannot be paid: a vehicle without a usable capacity or a
/// driver without a rate, with the command that fixes it.
pub fn unpayable(driver: &Driver, rows: &[HomeSession]) -> Option<String> {
    if let Some(row) = rows.iter().find(|r| r.priced.is_none()) {
        return Some(format!(
            "{} ({}) has no usable battery capacity, so the energy charged at home can't be measured: set it with `fleetdash settings vehicle {} --capacity-kwh KWH`",
            row.vehicle_name, row.vehicle_id, row.vehicle_id
        ));
    }
    if rows
        .iter()
        .any(|r| !r.session.is_ongoing() && r.amount().is_none())
    {
        return Some(format!(
            "{} has no rate per kWh for home charging: set it with `fleetdash drivers set {:?} --rate PRICE`",
            driver.name, driver.name
        ));
    }
    None
}
