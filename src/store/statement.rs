//! A driver's monthly home-charging statement: the sessions they charged at home in a
//! month of the fleet's time zone, each priced at their tariff, with the totals a company
//! can pay from (ongoing sessions are listed, not totalled).

use std::io::Write;

use rusqlite::Connection;

use super::StoreError;
use super::drivers::Driver;
use super::export::formula_safe;
use super::reimbursement::{HomeSession, home_sessions, unpayable};
use crate::domain::money::Currency;
use crate::domain::zone::FleetZone;

/// One driver's month.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// The fleet's name, when set.
    pub fleet_name: Option<String>,
    /// The driver.
    pub driver: Driver,
    /// `YYYY-MM`.
    pub month: String,
    /// The fleet's currency.
    pub currency: Currency,
    /// The fleet's time zone (dates and times are its own).
    pub zone: FleetZone,
    /// The home sessions that started in the month, oldest first.
    pub sessions: Vec<HomeSession>,
}

/// What a statement adds up to.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Totals {
    /// Complete sessions.
    pub sessions: usize,
    /// Their energy, kWh.
    pub energy_kwh: f64,
    /// Of it, added off-peak.
    pub off_peak_kwh: f64,
    /// The amount to pay.
    pub amount: f64,
    /// Sessions still charging (listed, not totalled).
    pub ongoing: usize,
}

impl Statement {
    /// The totals of the complete sessions.
    pub fn totals(&self) -> Totals {
        let mut totals = Totals::default();
        for s in &self.sessions {
            if s.session.is_ongoing() {
                totals.ongoing += 1;
                continue;
            }
            totals.sessions += 1;
            if let Some(p) = s.priced {
                totals.energy_kwh += p.energy_kwh;
                totals.off_peak_kwh += p.off_peak_kwh;
            }
            totals.amount += s.amount().unwrap_or(0.0);
        }
        totals
    }
}

/// The statement of the driver named `driver` for `month` (`YYYY-MM`). The inner error is
/// for the owner: an unknown driver or month, a vehicle without a usable capacity or a
/// driver without a rate, each with what to do.
pub fn statement(
    conn: &Connection,
    driver: &str,
    month: &str,
) -> Result<Result<Statement, String>, StoreError> {
    let settings = super::owner::fleet_settings(conn)?;
    let (start, end) = match settings.zone.month_bounds(month) {
        Ok(bounds) => bounds,
        Err(problem) => return Ok(Err(problem)),
    };
    let Some(found) = super::drivers::driver(conn, driver)? else {
        return Ok(Err(format!(
            "there is no driver named {driver:?}: `fleetdash drivers list` shows them"
        )));
    };
    let sessions = home_sessions(conn, Some(&found.name), Some(start), Some(end - 1))?;
    if let Some(problem) = unpayable(&found, &sessions) {
        return Ok(Err(problem));
    }
    Ok(Ok(Statement {
        fleet_name: settings.fleet_name,
        driver: found,
        month: month.trim().to_owned(),
        currency: settings.currency,
        zone: settings.zone,
        sessions,
    }))
}

/// The statement CSV's columns.
pub const COLUMNS: [&str; 9] = [
    "date",
    "start_time",
    "end_time",
    "vehicle",
    "energy_kwh",
    "off_peak_kwh",
    "amount",
    "currency",
    "status",
];

/// One line per session: local date and times, vehicle, energy, amount.
fn lines(statement: &Statement) -> Vec<[String; 9]> {
    let zone = &statement.zone;
    statement
        .sessions
        .iter()
        .map(|s| {
            let (date, start) = zone.local_date_and_time(s.session.started_at_ms);
            let end = s
                .session
                .ended_at_ms
                .map(|e| zone.local_date_and_time(e).1)
                .unwrap_or_default();
            let kwh = |v: Option<f64>| v.map(|v| format!("{v:.2}")).unwrap_or_default();
            [
                date,
                start,
                end,
                s.vehicle_name.clone(),
                kwh(s.priced.map(|p| p.energy_kwh)),
                kwh(s.priced.map(|p| p.off_peak_kwh)),
                s.amount().map(|a| format!("{a:.2}")).unwrap_or_default(),
                statement.currency.code().to_owned(),
                if s.session.is_ongoing() {
                    "ongoing"
                } else {
                    "complete"
                }
                .to_owned(),
            ]
        })
        .collect()
}

/// Writes the statement as CSV: one row per session, no total rows.
pub fn write_csv(statement: &Statement, out: impl Write) -> Result<(), StoreError> {
    let mut csv = csv::Writer::from_writer(out);
    csv.write_record(COLUMNS)?;
    for line in lines(statement) {
        csv.write_record(line.iter().map(|cell| formula_safe(cell).into_owned()))?;
    }
    csv.flush()?;
    Ok(())
}

/// The statement as a printable table: fleet, driver, home and rates over one line per
/// session, the totals, when it was made and a line for the approver's signature.
pub fn table(statement: &Statement, made_at: &str) -> crate::report::Table {
    use crate::report::Column;
    let column = |heading, width, right| Column {
        heading,
        width,
        right,
    };
    let currency = &statement.currency;
    let driver = &statement.driver;
    let totals = statement.totals();
    let home = driver.home.map_or("not set".to_owned(), |h| {
        format!(
            "{:.5}, {:.5} (within {:.0} m)",
            h.latitude, h.longitude, h.radius_m
        )
    });
    let mut rates = driver
        .rate_per_kwh
        .map_or("no rate".to_owned(), |r| currency.per_kwh(r));
    if let Some((window, rate)) = driver.off_peak {
        rates.push_str(&format!(
            "; off-peak {} ({}): {}",
            window.text(),
            statement.zone.name(),
            currency.per_kwh(rate)
        ));
    }
    let mut summary = vec![format!(
        "Total: {:.2} kWh in {} sessions ({:.2} kWh off-peak): {}",
        totals.energy_kwh,
        totals.sessions,
        totals.off_peak_kwh,
        currency.amount(totals.amount)
    )];
    if totals.ongoing > 0 {
        summary.push(format!(
            "{} session(s) still charging are listed and not totalled: they count in the month they started once complete.",
            totals.ongoing
        ));
    }
    crate::report::Table {
        title: format!("Home charging statement {}", statement.month),
        subtitle: vec![
            statement
                .fleet_name
                .clone()
                .unwrap_or_else(|| "fleetdash".to_owned()),
            format!(
                "Driver: {}{}",
                driver.name,
                driver
                    .email
                    .as_deref()
                    .map_or(String::new(), |e| format!(" <{e}>"))
            ),
            format!("Home: {home}"),
            format!("Rates: {rates}"),
        ],
        columns: vec![
            column("Date", 70.0, false),
            column("Start", 44.0, false),
            column("End", 44.0, false),
            column("Vehicle", 200.0, false),
            column("kWh", 70.0, true),
            column("Off-peak kWh", 90.0, true),
            column("Amount", 80.0, true),
            column("Status", 70.0, false),
        ],
        rows: lines(statement)
            .into_iter()
            .map(|l| {
                let amount = if l[6].is_empty() {
                    String::new()
                } else {
                    format!("{} {}", l[6], l[7])
                };
                vec![
                    l[0].clone(),
                    l[1].clone(),
                    l[2].clone(),
                    l[3].clone(),
                    l[4].clone(),
                    l[5].clone(),
                    amount,
                    l[8].clone(),
                ]
            })
            .collect(),
        totals: summary,
        closing: vec![
            format!(
                "Made by fleetdash on {made_at} ({}).",
                statement.zone.name()
            ),
            "Approved by: ______________________________   Date: ______________".to_owned(),
        ],
    }
}

/// Writes `statement` to `out`: a PDF when it ends in `.pdf`, else CSV.
pub fn save(statement: &Statement, out: &std::path::Path, made_at: &str) -> Result<(), StoreError> {
    let pdf = out
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("pdf"));
    if pdf {
        let bytes = crate::report::pdf(&table(statement, made_at))
            .map_err(|e| StoreError::Io(std::io::Error::other(e)))?;
        std::fs::write(out, bytes)?;
    } else {
        let file = std::fs::File::create(out)?;
        write_csv(statement, std::io::BufWriter::new(file))?;
    }
    Ok(())
}

/// A file name for a driver's statement: `statement-2026-05-Anna_Berg.pdf`.
pub fn file_name(driver: &str, month: &str, extension: &str) -> String {
    let name: String = driver
        .trim()
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("statement-{}-{name}.{extension}", month.trim())
}
