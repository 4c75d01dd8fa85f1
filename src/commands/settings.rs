//! `fleetdash settings`: what the owner knows and Smartcar doesn't: vehicle names, usable
//! capacities (for energy) and charge targets, the price per kWh and charging places with
//! their own price (for cost), and the fleet's name, currency and time zone. The app
//! writes the same rows through the same [`owner::apply`].

use std::path::Path;

use anyhow::Context;
use clap::Subcommand;
use rusqlite::Connection;

use crate::store::owner::{self, OwnerWrite};
use crate::store::sessions::{Place, places};
use crate::store::{self, StoreOptions};

/// A change to make (`fleetdash settings <change>`).
#[derive(Debug, Clone, Subcommand)]
pub enum SettingsChange {
    /// Set the default price per kWh (omit PRICE to clear it).
    Price {
        /// Price per kWh, in the fleet's currency.
        #[arg(allow_hyphen_values = true)]
        price: Option<f64>,
    },
    /// The currency every cost is in (ISO 4217, e.g. EUR, USD, GBP) [default: EUR].
    Currency {
        /// Three letters.
        code: String,
    },
    /// The fleet's name, at the head of statements and logbooks (omit NAME to clear it).
    FleetName {
        /// E.g. "Müller Elektro GmbH".
        name: Option<String>,
    },
    /// The fleet's time zone: days and months are its own (omit ZONE for the system's).
    Timezone {
        /// An IANA name such as Europe/Berlin or America/New_York.
        zone: Option<String>,
    },
    /// Rename a vehicle, set its usable battery capacity or its charge target.
    Vehicle {
        /// Smartcar vehicle id (see `fleetdash settings`).
        id: String,
        /// Display name (empty to go back to make, model and year).
        #[arg(long)]
        name: Option<String>,
        /// Usable battery capacity in kWh (energy per session needs it).
        #[arg(long, value_name = "KWH", allow_hyphen_values = true)]
        capacity_kwh: Option<f64>,
        /// The charge it should reach, in percent (alerts compare with it).
        #[arg(
            long,
            alias = "target",
            value_name = "PERCENT",
            allow_hyphen_values = true
        )]
        charge_target: Option<f64>,
    },
    /// Add or replace a charging place with its own price.
    Place {
        /// Its name, e.g. Depot.
        name: String,
        /// Latitude in degrees.
        #[arg(long, allow_hyphen_values = true)]
        lat: f64,
        /// Longitude in degrees.
        #[arg(long, allow_hyphen_values = true)]
        lon: f64,
        /// Sessions within this many metres count as here.
        #[arg(long, default_value_t = 150.0, value_name = "M")]
        radius_m: f64,
        /// Price per kWh here (default price when omitted).
        #[arg(long, value_name = "PRICE", allow_hyphen_values = true)]
        price_per_kwh: Option<f64>,
        /// Price per kWh here inside the off-peak window.
        #[arg(
            long,
            value_name = "P",
            allow_hyphen_values = true,
            requires = "off_peak"
        )]
        off_peak_rate: Option<f64>,
        /// The off-peak window in the fleet's time zone, HH:MM-HH:MM (may cross midnight).
        #[arg(long, value_name = "HH:MM-HH:MM", value_parser = crate::domain::tariff::Window::parse, requires = "off_peak_rate")]
        off_peak: Option<crate::domain::tariff::Window>,
    },
    /// Remove a charging place.
    RemovePlace {
        /// Its name.
        name: String,
    },
}

impl SettingsChange {
    /// The rows to write, in order.
    fn writes(self) -> anyhow::Result<Vec<OwnerWrite>> {
        Ok(match self {
            SettingsChange::Price { price } => vec![OwnerWrite::Price(price)],
            SettingsChange::Currency { code } => vec![OwnerWrite::Currency(code)],
            SettingsChange::FleetName { name } => {
                vec![OwnerWrite::FleetName(name.unwrap_or_default())]
            }
            SettingsChange::Timezone { zone } => vec![OwnerWrite::TimeZone(zone)],
            SettingsChange::Vehicle {
                id,
                name,
                capacity_kwh,
                charge_target,
            } => {
                let mut writes = Vec::new();
                if let Some(name) = name {
                    writes.push(OwnerWrite::VehicleName {
                        id: id.clone(),
                        name,
                    });
                }
                if let Some(capacity) = capacity_kwh {
                    writes.push(OwnerWrite::VehicleCapacity {
                        id: id.clone(),
                        capacity_kwh: Some(capacity),
                    });
                }
                if let Some(target) = charge_target {
                    writes.push(OwnerWrite::VehicleTarget {
                        id: id.clone(),
                        target_percent: Some(target),
                    });
                }
                if writes.is_empty() {
                    return Err(anyhow::anyhow!(
                        "nothing to change for {id}: give --name, --capacity-kwh or --charge-target"
                    ));
                }
                writes
            }
            SettingsChange::Place {
                name,
                lat,
                lon,
                radius_m,
                price_per_kwh,
                off_peak_rate,
                off_peak,
            } => vec![OwnerWrite::Place {
                replaces: None,
                place: Place {
                    name,
                    latitude: lat,
                    longitude: lon,
                    radius_m,
                    price_per_kwh,
                    off_peak: off_peak.zip(off_peak_rate),
                },
            }],
            SettingsChange::RemovePlace { name } => vec![OwnerWrite::RemovePlace(name)],
        })
    }
}

/// Applies `change` (`None`: only show) to the database at `db`; returns what to print.
pub fn run(db: &Path, change: Option<SettingsChange>) -> anyhow::Result<String> {
    let mut conn = store::open(
        db,
        &StoreOptions {
            create: false,
            ..StoreOptions::default()
        },
    )?;
    let writes = change.map(SettingsChange::writes).transpose()?;
    owner::apply_all(&mut conn, &writes.unwrap_or_default())?;
    describe(&conn).context("could not read the settings back")
}

fn describe(conn: &Connection) -> anyhow::Result<String> {
    let fleet = owner::fleet_settings(conn)?;
    let mut text = String::new();
    text.push_str(&format!(
        "fleet name: {}\n",
        fleet.fleet_name.as_deref().unwrap_or("not set")
    ));
    text.push_str(&format!("currency: {}\n", fleet.currency.code()));
    text.push_str(&format!(
        "time zone: {}{}\n",
        fleet.zone.name(),
        if fleet.zone_set {
            ""
        } else {
            " (the system's)"
        }
    ));
    text.push_str(&format!(
        "price per kWh: {}\n",
        fleet
            .price_per_kwh
            .map_or("not set".to_owned(), |p| format!(
                "{p} {}",
                fleet.currency.code()
            ))
    ));
    text.push_str("vehicles:\n");
    let mut statement = conn.prepare(
        "SELECT id, name, trim(coalesce(make, '') || ' ' || coalesce(model, '') || ' ' || coalesce(year, '')),
                capacity_kwh, charge_target
         FROM vehicles ORDER BY id",
    )?;
    let rows = statement.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, Option<String>>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, Option<f64>>(3)?,
            r.get::<_, Option<f64>>(4)?,
        ))
    })?;
    for row in rows {
        let (id, name, model, capacity, target) = row?;
        text.push_str(&format!(
            "  {id}  {}  capacity {}  charge target {}\n",
            name.unwrap_or(model),
            capacity.map_or("not set".to_owned(), |c| format!("{c} kWh")),
            target.map_or("not set".to_owned(), |t| format!("{t} %")),
        ));
    }
    text.push_str("places:\n");
    for place in places(conn)? {
        text.push_str(&format!(
            "  {}  {:.5}, {:.5}  within {} m  price {}{}\n",
            place.name,
            place.latitude,
            place.longitude,
            place.radius_m,
            place
                .price_per_kwh
                .map_or("default".to_owned(), |p| p.to_string()),
            place.off_peak.map_or(String::new(), |(w, p)| format!(
                "  off-peak {} {p}",
                w.text()
            ))
        ));
    }
    Ok(text)
}
