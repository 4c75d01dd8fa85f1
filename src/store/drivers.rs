//! Drivers and who drives which vehicle when (owner data): a driver's home, where the
//! company pays back the electricity at the driver's rate (with an off-peak window of its
//! own), and the assignment periods that say whose a session or trip is. Written through
//! [`super::owner::apply`] like every owner change, so the app and `fleetdash drivers`
//! check them the same way.

use rusqlite::{Connection, OptionalExtension, params};

use super::StoreError;
use super::owner::OwnerError;
use crate::domain::geo::distance_m;
use crate::domain::tariff::{Tariff, Window};
use crate::domain::time::format_ms;

/// Where a driver lives: sessions within `radius_m` of it are charged at home.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Home {
    /// Degrees north.
    pub latitude: f64,
    /// Degrees east.
    pub longitude: f64,
    /// Metres.
    pub radius_m: f64,
}

impl Home {
    /// Whether `position` is at home.
    pub fn contains(&self, position: (f64, f64)) -> bool {
        distance_m((self.latitude, self.longitude), position) <= self.radius_m
    }
}

/// The radius of a home when none is given, metres.
pub const DEFAULT_HOME_RADIUS_M: f64 = 100.0;

/// A driver.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Driver {
    /// The name (unique, any case).
    pub name: String,
    /// Where statements may be sent.
    pub email: Option<String>,
    /// Home, when known.
    pub home: Option<Home>,
    /// Price per kWh reimbursed for charging at home.
    pub rate_per_kwh: Option<f64>,
    /// The off-peak window and its price.
    pub off_peak: Option<(Window, f64)>,
}

impl Driver {
    /// The tariff the home sessions are paid at.
    pub fn tariff(&self) -> Tariff {
        Tariff {
            rate: self.rate_per_kwh,
            off_peak: self.off_peak,
        }
    }
}

/// One period in which a driver drives a vehicle: `[from_ms, until_ms)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Assignment {
    /// Smartcar vehicle id.
    pub vehicle_id: String,
    /// The driver's name.
    pub driver: String,
    /// From (ms, inclusive).
    pub from_ms: i64,
    /// Until (ms, exclusive); `None` while it lasts.
    pub until_ms: Option<i64>,
}

impl Assignment {
    /// Whether the period holds `at_ms`.
    pub fn holds(&self, at_ms: i64) -> bool {
        self.from_ms <= at_ms && self.until_ms.is_none_or(|u| at_ms < u)
    }

    /// `2026-05-01T00:00:00Z – open` for messages.
    pub fn period_text(&self) -> String {
        format!(
            "{} to {}",
            format_ms(self.from_ms),
            self.until_ms
                .map_or_else(|| "open end".to_owned(), format_ms)
        )
    }
}

/// Every driver, by name.
pub fn drivers(conn: &Connection) -> Result<Vec<Driver>, StoreError> {
    let mut statement = conn.prepare_cached(
        "SELECT name, email, home_latitude, home_longitude, home_radius_m, rate_per_kwh,
                off_peak_start_min, off_peak_end_min, off_peak_rate_per_kwh
         FROM drivers ORDER BY name COLLATE NOCASE",
    )?;
    let rows = statement
        .query_map([], |r| {
            let home = match (r.get::<_, Option<f64>>(2)?, r.get::<_, Option<f64>>(3)?) {
                (Some(latitude), Some(longitude)) => Some(Home {
                    latitude,
                    longitude,
                    radius_m: r.get(4)?,
                }),
                _ => None,
            };
            let window = match (r.get::<_, Option<u32>>(6)?, r.get::<_, Option<u32>>(7)?) {
                (Some(start_min), Some(end_min)) => Some(Window { start_min, end_min }),
                _ => None,
            };
            Ok(Driver {
                name: r.get(0)?,
                email: r.get(1)?,
                home,
                rate_per_kwh: r.get(5)?,
                off_peak: window.zip(r.get::<_, Option<f64>>(8)?),
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// The driver of that name (any case).
pub fn driver(conn: &Connection, name: &str) -> Result<Option<Driver>, StoreError> {
    Ok(drivers(conn)?
        .into_iter()
        .find(|d| d.name.eq_ignore_ascii_case(name.trim())))
}

/// Every assignment, by vehicle and time.
pub fn assignments(conn: &Connection) -> Result<Vec<Assignment>, StoreError> {
    let mut statement = conn.prepare_cached(
        "SELECT a.vehicle_id, d.name, a.from_ms, a.until_ms
         FROM driver_assignments a JOIN drivers d ON d.id = a.driver_id
         ORDER BY a.vehicle_id, a.from_ms",
    )?;
    let rows = statement
        .query_map([], |r| {
            Ok(Assignment {
                vehicle_id: r.get(0)?,
                driver: r.get(1)?,
                from_ms: r.get(2)?,
                until_ms: r.get(3)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// Who drove `vehicle_id` at `at_ms`, from `assignments`.
pub fn driver_at<'a>(
    assignments: &'a [Assignment],
    vehicle_id: &str,
    at_ms: i64,
) -> Option<&'a str> {
    assignments
        .iter()
        .find(|a| a.vehicle_id == vehicle_id && a.holds(at_ms))
        .map(|a| a.driver.as_str())
}

fn driver_id(tx: &Connection, name: &str) -> Result<Option<i64>, OwnerError> {
    Ok(tx
        .query_row(
            "SELECT id FROM drivers WHERE name = ?1 COLLATE NOCASE",
            [name.trim()],
            |r| r.get(0),
        )
        .optional()?)
}

fn unknown_driver(name: &str) -> OwnerError {
    OwnerError::Invalid(format!(
        "there is no driver named {name:?}: `fleetdash drivers list` shows them, `fleetdash drivers add NAME` adds one"
    ))
}

/// Checks a driver's values.
fn check(driver: &Driver) -> Result<(), OwnerError> {
    let number = super::owner::check_number;
    if driver.name.trim().is_empty() {
        return Err(OwnerError::Invalid("a driver needs a name".into()));
    }
    if let Some(home) = &driver.home {
        number("the home's latitude", home.latitude, -90.0..=90.0)?;
        number("the home's longitude", home.longitude, -180.0..=180.0)?;
        number("the home's radius (m)", home.radius_m, 1.0..=100_000.0)?;
    }
    if let Some(rate) = driver.rate_per_kwh {
        number("the rate per kWh", rate, 0.0..=100.0)?;
    }
    if let Some((_, rate)) = driver.off_peak {
        number("the off-peak rate per kWh", rate, 0.0..=100.0)?;
    }
    if let Some(email) = &driver.email
        && !email.trim().is_empty()
        && !email.contains('@')
    {
        return Err(OwnerError::Invalid(format!(
            "{email:?} is not an email address"
        )));
    }
    Ok(())
}

/// Adds `driver` (`replaces` `None`) or changes the driver named `replaces`.
pub(super) fn write_driver(
    tx: &Connection,
    replaces: Option<&str>,
    driver: &Driver,
) -> Result<(), OwnerError> {
    check(driver)?;
    let name = driver.name.trim();
    let existing = driver_id(tx, name)?;
    let id = match replaces {
        None => {
            if existing.is_some() {
                return Err(OwnerError::Invalid(format!(
                    "there is a driver named {name:?} already: `fleetdash drivers set {name} ...` changes them"
                )));
            }
            tx.execute("INSERT INTO drivers(name) VALUES (?1)", [name])?;
            tx.last_insert_rowid()
        }
        Some(old) => {
            let id = driver_id(tx, old)?.ok_or_else(|| unknown_driver(old))?;
            if existing.is_some_and(|other| other != id) {
                return Err(OwnerError::Invalid(format!(
                    "there is a driver named {name:?} already"
                )));
            }
            id
        }
    };
    let home = driver.home;
    let window = driver.off_peak.map(|(w, _)| w);
    tx.execute(
        "UPDATE drivers SET name = ?2, email = ?3, home_latitude = ?4, home_longitude = ?5,
            home_radius_m = ?6, rate_per_kwh = ?7, off_peak_start_min = ?8,
            off_peak_end_min = ?9, off_peak_rate_per_kwh = ?10
         WHERE id = ?1",
        params![
            id,
            name,
            driver
                .email
                .as_deref()
                .map(str::trim)
                .filter(|e| !e.is_empty()),
            home.map(|h| h.latitude),
            home.map(|h| h.longitude),
            home.map_or(DEFAULT_HOME_RADIUS_M, |h| h.radius_m),
            driver.rate_per_kwh,
            window.map(|w| w.start_min),
            window.map(|w| w.end_min),
            driver.off_peak.map(|(_, rate)| rate),
        ],
    )?;
    Ok(())
}

/// Removes the driver named `name` and their assignments.
pub(super) fn remove_driver(tx: &Connection, name: &str) -> Result<(), OwnerError> {
    let id = driver_id(tx, name)?.ok_or_else(|| unknown_driver(name))?;
    tx.execute("DELETE FROM driver_assignments WHERE driver_id = ?1", [id])?;
    tx.execute("DELETE FROM drivers WHERE id = ?1", [id])?;
    Ok(())
}

/// Assigns `vehicle_id` to the driver named `driver` for `[from_ms, until_ms)`, refusing a
/// period that overlaps another of the vehicle (periods that only touch do not).
pub(super) fn assign(
    tx: &Connection,
    vehicle_id: &str,
    driver: &str,
    from_ms: i64,
    until_ms: Option<i64>,
) -> Result<(), OwnerError> {
    let id = driver_id(tx, driver)?.ok_or_else(|| unknown_driver(driver))?;
    if until_ms.is_some_and(|u| u <= from_ms) {
        return Err(OwnerError::Invalid(
            "the period ends before it starts: --until must be after --from".into(),
        ));
    }
    let wanted = Assignment {
        vehicle_id: vehicle_id.to_owned(),
        driver: driver.to_owned(),
        from_ms,
        until_ms,
    };
    let overlaps = |a: &Assignment| {
        a.from_ms < wanted.until_ms.unwrap_or(i64::MAX)
            && wanted.from_ms < a.until_ms.unwrap_or(i64::MAX)
    };
    if let Some(conflict) = assignments(tx)?
        .into_iter()
        .find(|a| a.vehicle_id == vehicle_id && overlaps(a))
    {
        return Err(OwnerError::Invalid(format!(
            "{vehicle_id} is assigned to {} from {} already: a vehicle has one driver at a time (end that period first with `fleetdash drivers unassign {vehicle_id} --from {}`, or choose a period that does not overlap it)",
            conflict.driver,
            conflict.period_text(),
            format_ms(conflict.from_ms)
        )));
    }
    tx.execute(
        "INSERT INTO driver_assignments(vehicle_id, driver_id, from_ms, until_ms) VALUES (?1, ?2, ?3, ?4)",
        params![vehicle_id, id, from_ms, until_ms],
    )?;
    Ok(())
}

/// Removes the assignment of `vehicle_id` that starts at `from_ms`.
pub(super) fn unassign(tx: &Connection, vehicle_id: &str, from_ms: i64) -> Result<(), OwnerError> {
    let removed = tx.execute(
        "DELETE FROM driver_assignments WHERE vehicle_id = ?1 AND from_ms = ?2",
        params![vehicle_id, from_ms],
    )?;
    if removed == 0 {
        return Err(OwnerError::Invalid(format!(
            "{vehicle_id} has no assignment starting at {}: `fleetdash drivers list` shows the periods",
            format_ms(from_ms)
        )));
    }
    Ok(())
}
