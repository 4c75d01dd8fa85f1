//! `fleetdash settings`: what the owner knows and Smartcar doesn't: vehicle names and
//! usable capacities (for energy), the price per kWh and charging places with their own
//! price (for cost).

use std::path::Path;

use anyhow::{Context, bail};
use rusqlite::{OptionalExtension, params};

use crate::store::sessions::{PRICE_SETTING, default_price, places};
use crate::store::{self, StoreOptions};

/// A change to make.
#[derive(Debug, Clone)]
pub enum Change {
    /// Print everything.
    Show,
    /// Set (or clear, with `None`) the default price per kWh.
    Price(Option<f64>),
    /// Rename a vehicle and/or set its usable capacity.
    Vehicle {
        /// Smartcar vehicle id.
        id: String,
        /// New display name (empty clears it).
        name: Option<String>,
        /// Usable capacity in kWh.
        capacity_kwh: Option<f64>,
    },
    /// Add or replace a charging place.
    Place {
        /// Its name (unique).
        name: String,
        /// Degrees north.
        latitude: f64,
        /// Degrees east.
        longitude: f64,
        /// Radius in metres.
        radius_m: f64,
        /// Its own price per kWh.
        price_per_kwh: Option<f64>,
    },
    /// Remove a charging place.
    RemovePlace(String),
}

fn check_number(
    what: &str,
    value: f64,
    range: std::ops::RangeInclusive<f64>,
) -> anyhow::Result<()> {
    if !value.is_finite() || !range.contains(&value) {
        bail!(
            "{what} must be between {} and {}, not {value}",
            range.start(),
            range.end()
        );
    }
    Ok(())
}

/// Applies `change` to the database at `db`; returns what to print.
pub fn run(db: &Path, change: Change) -> anyhow::Result<String> {
    let conn = store::open(
        db,
        &StoreOptions {
            create: false,
            ..StoreOptions::default()
        },
    )?;
    match change {
        Change::Show => {}
        Change::Price(price) => {
            if let Some(price) = price {
                check_number("the price per kWh", price, 0.0..=100.0)?;
            }
            conn.execute(
                "INSERT INTO meta(key, value) VALUES (?1, ?2)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                params![PRICE_SETTING, price],
            )?;
        }
        Change::Vehicle {
            id,
            name,
            capacity_kwh,
        } => {
            if let Some(capacity) = capacity_kwh {
                check_number("the capacity (kWh)", capacity, 1.0..=1000.0)?;
            }
            let known: Option<i64> = conn
                .query_row("SELECT 1 FROM vehicles WHERE id = ?1", [&id], |r| r.get(0))
                .optional()?;
            if known.is_none() {
                bail!(
                    "no vehicle {id} in this database: `fleetdash settings` lists the vehicles it knows"
                );
            }
            if let Some(name) = name {
                let name = name.trim().to_owned();
                conn.execute(
                    "UPDATE vehicles SET name = ?2 WHERE id = ?1",
                    params![id, (!name.is_empty()).then_some(name)],
                )?;
            }
            if let Some(capacity) = capacity_kwh {
                conn.execute(
                    "UPDATE vehicles SET capacity_kwh = ?2 WHERE id = ?1",
                    params![id, capacity],
                )?;
            }
        }
        Change::Place {
            name,
            latitude,
            longitude,
            radius_m,
            price_per_kwh,
        } => {
            check_number("the latitude", latitude, -90.0..=90.0)?;
            check_number("the longitude", longitude, -180.0..=180.0)?;
            check_number("the radius (m)", radius_m, 1.0..=100_000.0)?;
            if let Some(price) = price_per_kwh {
                check_number("the price per kWh", price, 0.0..=100.0)?;
            }
            conn.execute("DELETE FROM places WHERE name = ?1", [&name])?;
            conn.execute(
                "INSERT INTO places(name, latitude, longitude, radius_m, price_per_kwh) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![name, latitude, longitude, radius_m, price_per_kwh],
            )?;
        }
        Change::RemovePlace(name) => {
            if conn.execute("DELETE FROM places WHERE name = ?1", [&name])? == 0 {
                bail!("there is no place named {name:?}");
            }
        }
    }
    describe(&conn).context("could not read the settings back")
}

fn describe(conn: &rusqlite::Connection) -> anyhow::Result<String> {
    let mut text = String::new();
    let price = default_price(conn)?;
    text.push_str(&format!(
        "price per kWh: {}\n",
        price.map_or("not set".to_owned(), |p| p.to_string())
    ));
    text.push_str("vehicles:\n");
    let mut statement = conn.prepare(
        "SELECT id, name, trim(coalesce(make, '') || ' ' || coalesce(model, '') || ' ' || coalesce(year, '')), capacity_kwh
         FROM vehicles ORDER BY id",
    )?;
    let rows = statement.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, Option<String>>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, Option<f64>>(3)?,
        ))
    })?;
    for row in rows {
        let (id, name, model, capacity) = row?;
        text.push_str(&format!(
            "  {id}  {}  capacity {}\n",
            name.unwrap_or(model),
            capacity.map_or("not set".to_owned(), |c| format!("{c} kWh"))
        ));
    }
    text.push_str("places:\n");
    for place in places(conn)? {
        text.push_str(&format!(
            "  {}  {:.5}, {:.5}  within {} m  price {}\n",
            place.name,
            place.latitude,
            place.longitude,
            place.radius_m,
            place
                .price_per_kwh
                .map_or("default".to_owned(), |p| p.to_string())
        ));
    }
    Ok(text)
}
