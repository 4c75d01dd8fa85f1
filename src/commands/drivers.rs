//! `fleetdash drivers add|set|remove|list|assign|unassign`: the drivers, their homes and
//! rates, and who drives which vehicle when. The app writes the same rows through the same
//! [`owner::apply`].

use std::path::Path;

use anyhow::bail;

use crate::domain::tariff::Window;
use crate::domain::time::{TimeBound, format_ms};
use crate::domain::zone::FleetZone;
use crate::store::drivers::{self, DEFAULT_HOME_RADIUS_M, Driver, Home};
use crate::store::owner::{self, OwnerWrite};
use crate::store::{self, StoreOptions};

/// A driver's details, as `drivers add` and `drivers set` take them.
#[derive(Debug, Clone, clap::Args)]
pub struct DriverOptions {
    /// Where statements may be sent.
    #[arg(long, value_name = "E")]
    email: Option<String>,
    /// Latitude of the driver's home, degrees.
    #[arg(
        long,
        value_name = "LAT",
        allow_hyphen_values = true,
        requires = "home_lon"
    )]
    home_lat: Option<f64>,
    /// Longitude of the driver's home, degrees.
    #[arg(
        long,
        value_name = "LON",
        allow_hyphen_values = true,
        requires = "home_lat"
    )]
    home_lon: Option<f64>,
    /// Sessions within this many metres of the home are charged at home [default: 100].
    #[arg(long, value_name = "R")]
    home_radius_m: Option<f64>,
    /// Price per kWh paid back for charging at home, in the fleet's currency.
    #[arg(long, value_name = "P", allow_hyphen_values = true)]
    rate: Option<f64>,
    /// Price per kWh inside the off-peak window.
    #[arg(
        long,
        value_name = "P",
        allow_hyphen_values = true,
        requires = "off_peak"
    )]
    off_peak_rate: Option<f64>,
    /// The off-peak window in the fleet's time zone, HH:MM-HH:MM (may cross midnight).
    #[arg(long, value_name = "HH:MM-HH:MM", value_parser = Window::parse, requires = "off_peak_rate")]
    off_peak: Option<Window>,
}

impl DriverOptions {
    /// `driver` with these options applied.
    fn apply(self, mut driver: Driver) -> anyhow::Result<Driver> {
        if let Some(email) = self.email {
            driver.email = Some(email).filter(|e| !e.trim().is_empty());
        }
        match (self.home_lat, self.home_lon, driver.home.as_mut()) {
            (Some(latitude), Some(longitude), _) => {
                driver.home = Some(Home {
                    latitude,
                    longitude,
                    radius_m: self
                        .home_radius_m
                        .or(driver.home.map(|h| h.radius_m))
                        .unwrap_or(DEFAULT_HOME_RADIUS_M),
                })
            }
            (_, _, Some(home)) => {
                if let Some(radius) = self.home_radius_m {
                    home.radius_m = radius;
                }
            }
            (_, _, None) if self.home_radius_m.is_some() => {
                bail!("--home-radius-m needs a home: give --home-lat and --home-lon too")
            }
            _ => {}
        }
        if let Some(rate) = self.rate {
            driver.rate_per_kwh = Some(rate);
        }
        if let (Some(window), Some(rate)) = (self.off_peak, self.off_peak_rate) {
            driver.off_peak = Some((window, rate));
        }
        Ok(driver)
    }
}

/// What `fleetdash drivers` does.
#[derive(Debug, clap::Subcommand)]
pub enum DriversCommand {
    /// Adds a driver.
    Add {
        /// The driver's name.
        name: String,
        #[command(flatten)]
        options: DriverOptions,
    },
    /// Changes a driver (only what is given).
    Set {
        /// The driver's name.
        name: String,
        /// A new name.
        #[arg(long)]
        rename: Option<String>,
        #[command(flatten)]
        options: DriverOptions,
    },
    /// Removes a driver and their assignments.
    Remove {
        /// The driver's name.
        name: String,
    },
    /// Lists the drivers and who drives which vehicle when.
    List,
    /// Says who drives a vehicle from when (until when).
    Assign {
        /// The vehicle's Smartcar id.
        vehicle: String,
        /// The driver's name.
        name: String,
        /// From T: RFC 3339, or a date YYYY-MM-DD in the fleet's time zone.
        #[arg(long)]
        from: String,
        /// Until T (a date includes that whole day); without it, open-ended.
        #[arg(long)]
        until: Option<String>,
    },
    /// Removes the vehicle's assignment that starts at T.
    Unassign {
        /// The vehicle's Smartcar id.
        vehicle: String,
        /// Its start, as `drivers list` shows it.
        #[arg(long)]
        from: String,
    },
}

/// A time given on the command line: an instant, or a date of the fleet's time zone (its
/// start, or with `end_of_day` the start of the next day).
pub fn instant(zone: &FleetZone, text: &str, end_of_day: bool) -> anyhow::Result<i64> {
    match TimeBound::parse(text).map_err(anyhow::Error::msg)? {
        TimeBound::Instant(ms) => Ok(ms),
        TimeBound::Day(utc_midnight) => {
            let date = chrono::DateTime::from_timestamp_millis(utc_midnight)
                .map(|t| t.date_naive())
                .ok_or_else(|| anyhow::anyhow!("{text:?} is not a date fleetdash can use"))?;
            let date = if end_of_day {
                date.succ_opt().unwrap_or(date)
            } else {
                date
            };
            Ok(zone.start_of_day_ms(date))
        }
    }
}

/// Runs `command` on the database at `db`; returns what to print.
pub fn run(db: &Path, command: DriversCommand) -> anyhow::Result<String> {
    let mut conn = store::open(
        db,
        &StoreOptions {
            create: false,
            ..StoreOptions::default()
        },
    )?;
    let zone = owner::fleet_zone(&conn)?;
    let write = match command {
        DriversCommand::List => return list(&conn),
        DriversCommand::Add { name, options } => OwnerWrite::Driver {
            replaces: None,
            driver: options.apply(Driver {
                name: name.trim().to_owned(),
                ..Driver::default()
            })?,
        },
        DriversCommand::Set {
            name,
            rename,
            options,
        } => {
            let Some(mut driver) = drivers::driver(&conn, &name)? else {
                bail!(
                    "there is no driver named {name:?}: `fleetdash drivers list` shows them, `fleetdash drivers add NAME` adds one"
                );
            };
            if let Some(rename) = rename {
                driver.name = rename;
            }
            OwnerWrite::Driver {
                replaces: Some(name),
                driver: options.apply(driver)?,
            }
        }
        DriversCommand::Remove { name } => OwnerWrite::RemoveDriver(name),
        DriversCommand::Assign {
            vehicle,
            name,
            from,
            until,
        } => OwnerWrite::Assign {
            vehicle_id: vehicle,
            driver: name,
            from_ms: instant(&zone, &from, false)?,
            until_ms: until.map(|u| instant(&zone, &u, true)).transpose()?,
        },
        DriversCommand::Unassign { vehicle, from } => OwnerWrite::Unassign {
            vehicle_id: vehicle,
            from_ms: instant(&zone, &from, false)?,
        },
    };
    owner::apply(&mut conn, &write)?;
    Ok(match write {
        OwnerWrite::Driver {
            replaces: None,
            driver,
        } => format!("added {}\n", driver.name),
        OwnerWrite::Driver { driver, .. } => format!("changed {}\n", driver.name),
        OwnerWrite::RemoveDriver(name) => format!("removed {name}\n"),
        OwnerWrite::Assign {
            vehicle_id,
            driver,
            from_ms,
            until_ms,
        } => format!(
            "{vehicle_id} is driven by {driver} from {}{}\n",
            format_ms(from_ms),
            until_ms.map_or_else(String::new, |u| format!(" until {}", format_ms(u)))
        ),
        _ => "removed the assignment\n".to_owned(),
    })
}

/// The drivers with their homes and rates, then the assignments.
fn list(conn: &rusqlite::Connection) -> anyhow::Result<String> {
    let currency = owner::fleet_settings(conn)?.currency;
    let mut out = String::new();
    let all = drivers::drivers(conn)?;
    if all.is_empty() {
        out.push_str("no drivers yet: `fleetdash drivers add NAME --home-lat LAT --home-lon LON --rate P` adds one\n");
    }
    for d in &all {
        let home = d.home.map_or("no home".to_owned(), |h| {
            format!(
                "home {:.5}, {:.5} ({:.0} m)",
                h.latitude, h.longitude, h.radius_m
            )
        });
        let rate = d
            .rate_per_kwh
            .map_or("no rate".to_owned(), |r| currency.per_kwh(r));
        let off_peak = d.off_peak.map_or(String::new(), |(w, r)| {
            format!(", off-peak {} {}", w.text(), currency.per_kwh(r))
        });
        let email = d
            .email
            .as_deref()
            .map_or(String::new(), |e| format!(" <{e}>"));
        out.push_str(&format!("{}{email}: {home}, {rate}{off_peak}\n", d.name));
    }
    for a in drivers::assignments(conn)? {
        out.push_str(&format!(
            "{} driven by {} from {}\n",
            a.vehicle_id,
            a.driver,
            a.period_text()
        ));
    }
    Ok(out)
}
