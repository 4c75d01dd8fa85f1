//! Owner data: what the owner knows and Smartcar doesn't (names, capacities, charge
//! targets, prices, places, the fleet's name, currency and time zone). The app and
//! `fleetdash settings` write it through [`apply`], so both check it the same way and
//! write the same rows. None of it lives in a derived table: `reprocess` keeps it.

use rusqlite::{Connection, OptionalExtension, params};

use super::StoreError;
use super::sessions::{PRICE_SETTING, Place, default_price};
use crate::domain::money::Currency;
use crate::domain::zone::FleetZone;

/// The `meta` key of the fleet's currency.
pub const CURRENCY_SETTING: &str = "currency";
/// The `meta` key of the fleet's name.
pub const FLEET_NAME_SETTING: &str = "fleet_name";
/// The `meta` key of the fleet's time zone.
pub const TIMEZONE_SETTING: &str = "timezone";

/// The fleet-wide settings, with their defaults filled in.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FleetSettings {
    /// The default price per kWh.
    pub price_per_kwh: Option<f64>,
    /// Every cost is in it (default EUR).
    pub currency: Currency,
    /// Heads statements and logbooks.
    pub fleet_name: Option<String>,
    /// Days and months are this zone's (default the system's).
    pub zone: FleetZone,
    /// False while the zone is the system's because none was set.
    pub zone_set: bool,
}

fn meta_text(conn: &Connection, key: &str) -> Result<Option<String>, StoreError> {
    Ok(conn
        .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| {
            r.get::<_, Option<String>>(0)
        })
        .optional()?
        .flatten())
}

fn set_meta(
    conn: &Connection,
    key: &str,
    value: Option<&dyn rusqlite::ToSql>,
) -> Result<(), StoreError> {
    match value {
        Some(value) => conn.execute(
            "INSERT INTO meta(key, value) VALUES (?1, ?2)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?,
        None => conn.execute("DELETE FROM meta WHERE key = ?1", [key])?,
    };
    Ok(())
}

/// The fleet-wide settings. A stored value this build cannot read (written by hand, say)
/// counts as unset rather than failing every page.
pub fn fleet_settings(conn: &Connection) -> Result<FleetSettings, StoreError> {
    let stored_zone = meta_text(conn, TIMEZONE_SETTING)?.and_then(|z| FleetZone::parse(&z).ok());
    Ok(FleetSettings {
        price_per_kwh: default_price(conn)?,
        currency: meta_text(conn, CURRENCY_SETTING)?
            .and_then(|c| Currency::parse(&c).ok())
            .unwrap_or_default(),
        fleet_name: meta_text(conn, FLEET_NAME_SETTING)?.filter(|n| !n.trim().is_empty()),
        zone_set: stored_zone.is_some(),
        zone: stored_zone.unwrap_or_else(FleetZone::system),
    })
}

/// The fleet's time zone (the system's when none is set).
pub fn fleet_zone(conn: &Connection) -> Result<FleetZone, StoreError> {
    Ok(meta_text(conn, TIMEZONE_SETTING)?
        .and_then(|z| FleetZone::parse(&z).ok())
        .unwrap_or_else(FleetZone::system))
}

/// One change the owner makes.
#[derive(Debug, Clone, PartialEq)]
pub enum OwnerWrite {
    /// A vehicle's display name (empty: back to make, model and year).
    VehicleName {
        /// Smartcar vehicle id.
        id: String,
        /// The name.
        name: String,
    },
    /// A vehicle's usable capacity in kWh (`None` clears it).
    VehicleCapacity {
        /// Smartcar vehicle id.
        id: String,
        /// kWh.
        capacity_kwh: Option<f64>,
    },
    /// A vehicle's charge target in percent (`None` clears it).
    VehicleTarget {
        /// Smartcar vehicle id.
        id: String,
        /// Percent.
        target_percent: Option<f64>,
    },
    /// The default price per kWh (`None` clears it).
    Price(Option<f64>),
    /// The currency, an ISO 4217 code.
    Currency(String),
    /// The fleet's name (empty clears it).
    FleetName(String),
    /// The time zone, an IANA name (`None`: the system's).
    TimeZone(Option<String>),
    /// Adds a place, or replaces the one named `replaces`.
    Place {
        /// The name of the place this one replaces (an edit), if any.
        replaces: Option<String>,
        /// The place.
        place: Place,
    },
    /// Removes the place of that name.
    RemovePlace(String),
    /// The purpose and note of the trip containing an instant.
    TripTag {
        /// Smartcar vehicle id.
        vehicle_id: String,
        /// An instant inside the trip, ms.
        at_ms: i64,
        /// Its purpose (`None` clears it).
        purpose: Option<super::trips::Purpose>,
        /// Its note (`None` keeps it; empty clears it).
        note: Option<String>,
    },
    /// Adds a driver, or changes the one named `replaces`.
    Driver {
        /// The name of the driver this one changes, if any.
        replaces: Option<String>,
        /// The driver.
        driver: super::drivers::Driver,
    },
    /// Removes the driver of that name and their assignments.
    RemoveDriver(String),
    /// Assigns a vehicle to a driver for a period.
    Assign {
        /// Smartcar vehicle id.
        vehicle_id: String,
        /// The driver's name.
        driver: String,
        /// From, ms (inclusive).
        from_ms: i64,
        /// Until, ms (exclusive); `None`: open-ended.
        until_ms: Option<i64>,
    },
    /// Removes the vehicle's assignment that starts at `from_ms`.
    Unassign {
        /// Smartcar vehicle id.
        vehicle_id: String,
        /// Its start, ms.
        from_ms: i64,
    },
    /// Turns an alert rule on or off and changes its settings.
    AlertRule {
        /// The rule.
        rule: crate::domain::alerts::Rule,
        /// On or off (`None` keeps it).
        on: Option<bool>,
        /// `KEY=VALUE` settings.
        settings: Vec<(String, String)>,
    },
}

/// Why a change was refused, in words for the owner.
#[derive(Debug, thiserror::Error)]
pub enum OwnerError {
    /// The value is out of range or unreadable.
    #[error("{0}")]
    Invalid(String),
    /// The database refused.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<rusqlite::Error> for OwnerError {
    fn from(error: rusqlite::Error) -> Self {
        OwnerError::Store(error.into())
    }
}

pub(super) fn check_number(
    what: &str,
    value: f64,
    range: std::ops::RangeInclusive<f64>,
) -> Result<(), OwnerError> {
    if !value.is_finite() || !range.contains(&value) {
        return Err(OwnerError::Invalid(format!(
            "{what} must be between {} and {}, not {value}",
            range.start(),
            range.end()
        )));
    }
    Ok(())
}

fn known_vehicle(conn: &Connection, id: &str) -> Result<(), OwnerError> {
    let known: Option<i64> = conn
        .query_row("SELECT 1 FROM vehicles WHERE id = ?1", [id], |r| r.get(0))
        .optional()?;
    match known {
        Some(_) => Ok(()),
        None => Err(OwnerError::Invalid(format!(
            "no vehicle {id} in this database: `fleetdash settings` lists the vehicles it knows"
        ))),
    }
}

/// Checks `change` and writes it, in one transaction.
pub fn apply(conn: &mut Connection, change: &OwnerWrite) -> Result<(), OwnerError> {
    apply_all(conn, std::slice::from_ref(change))
}

/// Checks and writes every change in one transaction: all of them or none.
pub fn apply_all(conn: &mut Connection, changes: &[OwnerWrite]) -> Result<(), OwnerError> {
    // IMMEDIATE: a deferred transaction that reads first and then writes cannot wait for
    // another writer (SQLite answers BUSY at once rather than risk a deadlock).
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    for change in changes {
        write(&tx, change)?;
    }
    tx.commit()?;
    Ok(())
}

fn write(tx: &Connection, change: &OwnerWrite) -> Result<(), OwnerError> {
    use super::drivers;
    match change {
        OwnerWrite::Driver { replaces, driver } => {
            drivers::write_driver(tx, replaces.as_deref(), driver)?
        }
        OwnerWrite::RemoveDriver(name) => drivers::remove_driver(tx, name)?,
        OwnerWrite::Assign {
            vehicle_id,
            driver,
            from_ms,
            until_ms,
        } => {
            known_vehicle(tx, vehicle_id)?;
            drivers::assign(tx, vehicle_id, driver, *from_ms, *until_ms)?
        }
        OwnerWrite::Unassign {
            vehicle_id,
            from_ms,
        } => drivers::unassign(tx, vehicle_id, *from_ms)?,
        OwnerWrite::AlertRule { rule, on, settings } => {
            super::alerts::set_rule(tx, *rule, *on, settings).map_err(OwnerError::Invalid)?
        }
        OwnerWrite::TripTag {
            vehicle_id,
            at_ms,
            purpose,
            note,
        } => {
            known_vehicle(tx, vehicle_id)?;
            match super::trips::tag_in(tx, vehicle_id, *at_ms, *purpose, note.as_deref()) {
                Ok(_) => {}
                Err(super::trips::TagError::NoTrip(why)) => return Err(OwnerError::Invalid(why)),
                Err(super::trips::TagError::Store(e)) => return Err(OwnerError::Store(e)),
            }
        }
        OwnerWrite::VehicleName { id, name } => {
            known_vehicle(tx, id)?;
            let name = name.trim();
            tx.execute(
                "UPDATE vehicles SET name = ?2 WHERE id = ?1",
                params![id, (!name.is_empty()).then_some(name)],
            )?;
        }
        OwnerWrite::VehicleCapacity { id, capacity_kwh } => {
            if let Some(capacity) = capacity_kwh {
                check_number("the capacity (kWh)", *capacity, 1.0..=1000.0)?;
            }
            known_vehicle(tx, id)?;
            tx.execute(
                "UPDATE vehicles SET capacity_kwh = ?2 WHERE id = ?1",
                params![id, capacity_kwh],
            )?;
        }
        OwnerWrite::VehicleTarget { id, target_percent } => {
            if let Some(target) = target_percent {
                check_number("the charge target (%)", *target, 1.0..=100.0)?;
            }
            known_vehicle(tx, id)?;
            tx.execute(
                "UPDATE vehicles SET charge_target = ?2 WHERE id = ?1",
                params![id, target_percent],
            )?;
        }
        OwnerWrite::Price(price) => {
            if let Some(price) = price {
                check_number("the price per kWh", *price, 0.0..=100.0)?;
            }
            set_meta(tx, PRICE_SETTING, price.as_ref().map(|p| p as _))?;
        }
        OwnerWrite::Currency(code) => {
            let currency = Currency::parse(code).map_err(OwnerError::Invalid)?;
            set_meta(tx, CURRENCY_SETTING, Some(&currency.code()))?;
        }
        OwnerWrite::FleetName(name) => {
            let name = name.trim();
            set_meta(
                tx,
                FLEET_NAME_SETTING,
                (!name.is_empty()).then_some(&name as _),
            )?;
        }
        OwnerWrite::TimeZone(zone) => {
            let zone = zone
                .as_deref()
                .map(FleetZone::parse)
                .transpose()
                .map_err(OwnerError::Invalid)?;
            let name = zone.map(|z| z.name());
            set_meta(tx, TIMEZONE_SETTING, name.as_ref().map(|n| n as _))?;
        }
        OwnerWrite::Place { replaces, place } => {
            let name = place.name.trim();
            if name.is_empty() {
                return Err(OwnerError::Invalid("a place needs a name".into()));
            }
            check_number("the latitude", place.latitude, -90.0..=90.0)?;
            check_number("the longitude", place.longitude, -180.0..=180.0)?;
            check_number("the radius (m)", place.radius_m, 1.0..=100_000.0)?;
            if let Some(price) = place.price_per_kwh {
                check_number("the price per kWh", price, 0.0..=100.0)?;
            }
            if let Some((_, price)) = place.off_peak {
                check_number("the off-peak price per kWh", price, 0.0..=100.0)?;
            }
            if let Some(old) = replaces.as_deref().filter(|old| *old != name) {
                tx.execute("DELETE FROM places WHERE name = ?1", [old])?;
            }
            tx.execute("DELETE FROM places WHERE name = ?1", [name])?;
            let window = place.off_peak.map(|(w, _)| w);
            tx.execute(
                "INSERT INTO places(name, latitude, longitude, radius_m, price_per_kwh,
                    off_peak_start_min, off_peak_end_min, off_peak_rate_per_kwh)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    name,
                    place.latitude,
                    place.longitude,
                    place.radius_m,
                    place.price_per_kwh,
                    window.map(|w| w.start_min),
                    window.map(|w| w.end_min),
                    place.off_peak.map(|(_, rate)| rate)
                ],
            )?;
        }
        OwnerWrite::RemovePlace(name) => {
            if tx.execute("DELETE FROM places WHERE name = ?1", [name])? == 0 {
                return Err(OwnerError::Invalid(format!(
                    "there is no place named {name:?}"
                )));
            }
        }
    }
    Ok(())
}
