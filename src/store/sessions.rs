//! Charging sessions from the readings, with the owner's capacities and prices.

use std::io::Write;

use rusqlite::{Connection, OptionalExtension, params};

use super::export::{formula_safe, number_cell};
use super::{ExportFilter, StoreError};
use crate::domain::geo::distance_m;
use crate::domain::sessions::Session;
use crate::domain::time::format_ms;

/// The `meta` key of the default price per kWh.
pub const PRICE_SETTING: &str = "price_per_kwh";

/// A charging place with its own price.
#[derive(Debug, Clone, PartialEq)]
pub struct Place {
    /// Its name.
    pub name: String,
    /// Degrees north.
    pub latitude: f64,
    /// Degrees east.
    pub longitude: f64,
    /// Sessions within this many metres are charged at this place.
    pub radius_m: f64,
    /// Its price, when it differs from the default.
    pub price_per_kwh: Option<f64>,
    /// An off-peak window with its own price, in the fleet's time zone.
    pub off_peak: Option<(crate::domain::tariff::Window, f64)>,
}

/// The tariff of a session at `position`: the nearest place's within its radius (its price,
/// else the default, and its off-peak window), else the default price.
pub fn tariff_at(
    places: &[Place],
    default: Option<f64>,
    position: Option<(f64, f64)>,
) -> crate::domain::tariff::Tariff {
    let place = position.and_then(|(lat, lon)| {
        places
            .iter()
            .map(|p| (distance_m((lat, lon), (p.latitude, p.longitude)), p))
            .filter(|(distance, p)| *distance <= p.radius_m)
            .min_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, p)| p)
    });
    crate::domain::tariff::Tariff {
        rate: place.and_then(|p| p.price_per_kwh).or(default),
        off_peak: place.and_then(|p| p.off_peak),
    }
}

/// The price for a session at `position`: the nearest place's within its radius, else the
/// default.
pub fn price_at(
    places: &[Place],
    default: Option<f64>,
    position: Option<(f64, f64)>,
) -> Option<f64> {
    let Some((lat, lon)) = position else {
        return default;
    };
    places
        .iter()
        .filter_map(|p| {
            let distance = distance_m((lat, lon), (p.latitude, p.longitude));
            (distance <= p.radius_m).then_some((distance, p.price_per_kwh))
        })
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .and_then(|(_, price)| price)
        .or(default)
}

/// The places the owner defined.
pub fn places(conn: &Connection) -> Result<Vec<Place>, StoreError> {
    let mut statement = conn.prepare(
        "SELECT name, latitude, longitude, radius_m, price_per_kwh, off_peak_start_min,
                off_peak_end_min, off_peak_rate_per_kwh
         FROM places ORDER BY id",
    )?;
    let places = statement
        .query_map([], |r| {
            let window = match (r.get::<_, Option<u32>>(5)?, r.get::<_, Option<u32>>(6)?) {
                (Some(start_min), Some(end_min)) => {
                    Some(crate::domain::tariff::Window { start_min, end_min })
                }
                _ => None,
            };
            Ok(Place {
                name: r.get(0)?,
                latitude: r.get(1)?,
                longitude: r.get(2)?,
                radius_m: r.get(3)?,
                price_per_kwh: r.get(4)?,
                off_peak: window.zip(r.get::<_, Option<f64>>(7)?),
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(places)
}

/// The default price per kWh, when set.
pub fn default_price(conn: &Connection) -> Result<Option<f64>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT value FROM meta WHERE key = ?1",
            [PRICE_SETTING],
            |r| r.get::<_, Option<f64>>(0),
        )
        .optional()?
        .flatten())
}

/// One vehicle's charging sessions, oldest first (from the materialised table).
pub fn vehicle_sessions(conn: &Connection, vehicle_id: &str) -> Result<Vec<Session>, StoreError> {
    super::derived::sessions(conn, vehicle_id, None)
}

/// The time of the last reading in each day or month (of the fleet's time zone) in which
/// the vehicle has readings within the filter's window: two index look-ups a period
/// instead of a scan of every reading.
fn last_seen_by_period(
    conn: &Connection,
    vehicle_id: &str,
    zone: &crate::domain::zone::FleetZone,
    monthly: bool,
    filter: &ExportFilter,
) -> Result<Vec<(String, i64)>, StoreError> {
    let until = filter.until_ms.unwrap_or(i64::MAX);
    let mut first = conn.prepare_cached(
        "SELECT min(recorded_at) FROM readings WHERE vehicle_id = ?1 AND recorded_at >= ?2",
    )?;
    let mut last = conn.prepare_cached(
        "SELECT max(recorded_at) FROM readings
         WHERE vehicle_id = ?1 AND recorded_at >= ?2 AND recorded_at <= ?3",
    )?;
    let mut periods = Vec::new();
    let mut from = filter.since_ms.unwrap_or(i64::MIN);
    while let Some(at_ms) =
        first.query_row(params![vehicle_id, from], |r| r.get::<_, Option<i64>>(0))?
    {
        if at_ms > until {
            break;
        }
        let next = zone.next_period_start_ms(at_ms, monthly);
        let seen: Option<i64> = last
            .query_row(params![vehicle_id, at_ms, (next - 1).min(until)], |r| {
                r.get(0)
            })?;
        if let Some(seen) = seen {
            periods.push((zone.period_of(at_ms, monthly), seen));
        }
        from = next;
    }
    Ok(periods)
}

/// A number cell rounded to `decimals` (empty when not finite, e.g. from a capacity of `inf`).
fn rounded(value: f64, decimals: i32) -> String {
    let factor = 10f64.powi(decimals);
    number_cell((value * factor).round() / factor)
}

/// Writes the `sessions` export rows (the header is the caller's); returns the row count.
pub(super) fn write_sessions<W: Write>(
    conn: &Connection,
    filter: &ExportFilter,
    csv: &mut csv::Writer<W>,
) -> Result<u64, StoreError> {
    let pricing = Pricing::load(conn)?;
    let mut count = 0;
    for (id, name, capacity) in vehicles(conn, filter)? {
        for s in super::derived::sessions(conn, &id, filter.since_ms)? {
            if !in_window(filter, s.started_at_ms) {
                continue;
            }
            let energy = capacity.and_then(|c| s.energy_kwh(c));
            let cost = pricing.cost(conn, &id, &s, capacity)?;
            let cell = |v: Option<f64>, d: i32| v.map(|v| rounded(v, d)).unwrap_or_default();
            csv.write_record([
                formula_safe(&id).into_owned(),
                formula_safe(&name).into_owned(),
                format_ms(s.started_at_ms),
                s.ended_at_ms.map(format_ms).unwrap_or_default(),
                rounded(s.duration_min(), 1),
                cell(s.start_percent, 1),
                cell(s.end_percent, 1),
                cell(energy, 3),
                cell(s.position.map(|p| p.0), 6),
                cell(s.position.map(|p| p.1), 6),
                cell(cost, 2),
                if s.is_ongoing() {
                    "ongoing"
                } else {
                    "complete"
                }
                .to_owned(),
            ])?;
            count += 1;
        }
    }
    Ok(count)
}

fn in_window(filter: &ExportFilter, at_ms: i64) -> bool {
    !(filter.since_ms.is_some_and(|t| at_ms < t) || filter.until_ms.is_some_and(|t| at_ms > t))
}

/// Vehicles selected by `filter`: id, display name, capacity.
pub(super) fn vehicles(
    conn: &Connection,
    filter: &ExportFilter,
) -> Result<Vec<(String, String, Option<f64>)>, StoreError> {
    let mut statement = conn.prepare(
        "SELECT id,
                coalesce(name, trim(coalesce(make, '') || ' ' || coalesce(model, '') || ' ' || coalesce(year, ''))),
                capacity_kwh
         FROM vehicles ORDER BY id",
    )?;
    let all: Vec<(String, String, Option<f64>)> = statement
        .query_map(params![], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    Ok(all
        .into_iter()
        .filter(|(id, _, _)| filter.vehicle_ids.is_empty() || filter.vehicle_ids.contains(id))
        .collect())
}

/// The owner's prices.
struct Pricing {
    places: Vec<Place>,
    default: Option<f64>,
    zone: crate::domain::zone::FleetZone,
}

impl Pricing {
    fn load(conn: &Connection) -> Result<Self, StoreError> {
        Ok(Pricing {
            places: places(conn)?,
            default: default_price(conn)?,
            zone: super::owner::fleet_zone(conn)?,
        })
    }

    /// What `session` of a vehicle of `capacity` cost: at a place with an off-peak window,
    /// each part at the price in force when it was added.
    fn cost(
        &self,
        conn: &Connection,
        vehicle_id: &str,
        session: &Session,
        capacity: Option<f64>,
    ) -> Result<Option<f64>, StoreError> {
        let Some(capacity) = capacity else {
            return Ok(None);
        };
        let tariff = tariff_at(&self.places, self.default, session.position);
        Ok(super::reimbursement::price_session(
            conn, &self.zone, vehicle_id, session, capacity, &tariff,
        )?
        .and_then(|p| p.amount))
    }
}

/// Totals of one period for one vehicle (or the fleet).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Totals {
    /// Sessions that started in the period.
    pub sessions: u64,
    /// Their energy, when capacities are known.
    pub energy_kwh: Option<f64>,
    /// Their cost, when energy and prices are known.
    pub cost: Option<f64>,
    /// Hours plugged in.
    pub plugged_hours: f64,
    /// Hours observed charging.
    pub charging_hours: f64,
    /// The last reading in the period.
    pub last_seen_ms: Option<i64>,
    /// Distance of the trips that started in the period, km.
    pub distance_km: f64,
    /// Energy those trips used, when capacities are known.
    pub energy_used_kwh: Option<f64>,
    /// Distance of the trips whose energy is known (what efficiency divides by).
    pub distance_with_energy_km: f64,
    /// Distance by purpose: business, private, commute, not tagged.
    pub km_by_purpose: [f64; 4],
}

impl Totals {
    fn add(&mut self, other: &Totals) {
        self.sessions += other.sessions;
        self.energy_kwh = add_opt(self.energy_kwh, other.energy_kwh);
        self.cost = add_opt(self.cost, other.cost);
        self.plugged_hours += other.plugged_hours;
        self.charging_hours += other.charging_hours;
        self.last_seen_ms = self.last_seen_ms.max(other.last_seen_ms);
        self.distance_km += other.distance_km;
        self.energy_used_kwh = add_opt(self.energy_used_kwh, other.energy_used_kwh);
        self.distance_with_energy_km += other.distance_with_energy_km;
        for (mine, theirs) in self.km_by_purpose.iter_mut().zip(other.km_by_purpose) {
            *mine += theirs;
        }
    }

    /// kWh per 100 km over the trips whose energy is known.
    pub fn kwh_per_100km(&self) -> Option<f64> {
        self.energy_used_kwh
            .filter(|_| self.distance_with_energy_km > 0.0)
            .map(|e| e / self.distance_with_energy_km * 100.0)
    }
}

fn add_opt(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (None, None) => None,
        (a, b) => Some(a.unwrap_or(0.0) + b.unwrap_or(0.0)),
    }
}

/// One row of a summary.
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryRow {
    /// `2026-01` or `2026-01-05`, in the fleet's time zone.
    pub period: String,
    /// The vehicle; empty for the fleet's row.
    pub vehicle_id: String,
    /// Its display name; `All vehicles` for the fleet's row.
    pub vehicle_name: String,
    /// The figures.
    pub totals: Totals,
}

/// Per day or month of the fleet's time zone: a row per vehicle, then the fleet's row.
/// Sessions count in the period they start in.
pub fn summary(
    conn: &Connection,
    filter: &ExportFilter,
    monthly: bool,
) -> Result<Vec<SummaryRow>, StoreError> {
    use std::collections::BTreeMap;
    let pricing = Pricing::load(conn)?;
    let zone = super::owner::fleet_zone(conn)?;
    // period -> vehicle id -> totals; BTreeMaps keep the output sorted.
    let mut table: BTreeMap<String, BTreeMap<String, Totals>> = BTreeMap::new();
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    for (id, name, capacity) in vehicles(conn, filter)? {
        names.insert(id.clone(), name);
        for (period, at_ms) in last_seen_by_period(conn, &id, &zone, monthly, filter)? {
            table
                .entry(period)
                .or_default()
                .entry(id.clone())
                .or_default()
                .last_seen_ms = Some(at_ms);
        }
        for s in super::derived::sessions(conn, &id, filter.since_ms)?
            .iter()
            .filter(|s| in_window(filter, s.started_at_ms))
        {
            let energy = capacity.and_then(|c| s.energy_kwh(c));
            let totals = Totals {
                sessions: 1,
                energy_kwh: energy,
                cost: pricing.cost(conn, &id, s, capacity)?,
                plugged_hours: s.duration_min() / 60.0,
                charging_hours: s.charging_minutes / 60.0,
                last_seen_ms: None,
                ..Totals::default()
            };
            table
                .entry(zone.period_of(s.started_at_ms, monthly))
                .or_default()
                .entry(id.clone())
                .or_default()
                .add(&totals);
        }
        for tagged in super::trips::vehicle_trips_since(conn, &id, filter.since_ms)? {
            let t = &tagged.trip;
            if !in_window(filter, t.started_at_ms) {
                continue;
            }
            let km = t.distance().0;
            let energy = capacity.and_then(|c| t.energy_kwh(c));
            let mut km_by_purpose = [0.0; 4];
            km_by_purpose[match tagged.purpose {
                Some(super::trips::Purpose::Business) => 0,
                Some(super::trips::Purpose::Private) => 1,
                Some(super::trips::Purpose::Commute) => 2,
                None => 3,
            }] = km;
            let totals = Totals {
                km_by_purpose,
                distance_km: km,
                energy_used_kwh: energy,
                distance_with_energy_km: if energy.is_some() { km } else { 0.0 },
                ..Totals::default()
            };
            table
                .entry(zone.period_of(t.started_at_ms, monthly))
                .or_default()
                .entry(id.clone())
                .or_default()
                .add(&totals);
        }
    }
    let mut rows = Vec::new();
    for (period, per_vehicle) in table {
        let mut fleet = Totals::default();
        for (id, totals) in per_vehicle {
            fleet.add(&totals);
            rows.push(SummaryRow {
                period: period.clone(),
                vehicle_name: names.get(&id).cloned().unwrap_or_default(),
                vehicle_id: id,
                totals,
            });
        }
        rows.push(SummaryRow {
            period,
            vehicle_id: String::new(),
            vehicle_name: "All vehicles".into(),
            totals: fleet,
        });
    }
    Ok(rows)
}

/// Writes the `daily` or `monthly` export rows (the header is the caller's).
pub(super) fn write_summary<W: Write>(
    conn: &Connection,
    filter: &ExportFilter,
    monthly: bool,
    csv: &mut csv::Writer<W>,
) -> Result<u64, StoreError> {
    let cell = |v: Option<f64>, d: i32| v.map(|v| rounded(v, d)).unwrap_or_default();
    let rows = summary(conn, filter, monthly)?;
    for row in &rows {
        let t = &row.totals;
        csv.write_record([
            row.period.clone(),
            formula_safe(&row.vehicle_id).into_owned(),
            formula_safe(&row.vehicle_name).into_owned(),
            t.sessions.to_string(),
            cell(t.energy_kwh, 3),
            cell(t.cost, 2),
            rounded(t.plugged_hours, 2),
            rounded(t.charging_hours, 2),
            t.last_seen_ms.map(format_ms).unwrap_or_default(),
            format!("{:.2}", t.distance_km),
            t.energy_used_kwh
                .map(|e| format!("{e:.2}"))
                .unwrap_or_default(),
            t.kwh_per_100km()
                .map(|e| format!("{e:.2}"))
                .unwrap_or_default(),
        ])?;
    }
    Ok(rows.len() as u64)
}
