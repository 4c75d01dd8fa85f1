//! `fleetdash trips tag|history`: the owner's purposes and notes on trips.

use std::path::Path;

use crate::domain::time::{TimeBound, format_ms};
use crate::store::trips::{self, Purpose};
use crate::store::{self, StoreOptions};

/// What `fleetdash trips` does.
#[derive(Debug, clap::Subcommand)]
pub enum TripsCommand {
    /// Sets the purpose (and a note) of the trip that contains a time.
    Tag {
        /// The vehicle's Smartcar id.
        #[arg(long)]
        vehicle: String,
        /// A time inside the trip (RFC 3339, e.g. 2026-05-04T08:15:00Z).
        #[arg(long, value_parser = parse_instant)]
        at: i64,
        /// Why it was made.
        #[arg(long, value_enum)]
        purpose: Purpose,
        /// A note (an empty one clears it; without --note the note stays).
        #[arg(long)]
        note: Option<String>,
    },
    /// Lists every change of a vehicle's trip purposes and notes (when, old, new).
    History {
        /// The vehicle's Smartcar id.
        #[arg(long)]
        vehicle: String,
    },
}

fn parse_instant(text: &str) -> Result<i64, String> {
    match TimeBound::parse(text)? {
        TimeBound::Instant(ms) | TimeBound::Day(ms) => Ok(ms),
    }
}

/// Runs `command` on the database at `db`; returns what to print.
pub fn run(db: &Path, command: TripsCommand) -> anyhow::Result<String> {
    let mut conn = store::open(
        db,
        &StoreOptions {
            create: false,
            ..StoreOptions::default()
        },
    )?;
    let known: bool = conn
        .query_row(
            "SELECT count(*) > 0 FROM vehicles WHERE id = ?1",
            [match &command {
                TripsCommand::Tag { vehicle, .. } | TripsCommand::History { vehicle } => vehicle,
            }],
            |r| r.get(0),
        )
        .unwrap_or(false);
    match command {
        TripsCommand::Tag {
            vehicle,
            at,
            purpose,
            note,
        } => {
            if !known {
                anyhow::bail!(
                    "no vehicle {vehicle} in this database: `fleetdash settings` lists the vehicles it knows"
                );
            }
            let trip = trips::tag(&mut conn, &vehicle, at, Some(purpose), note.as_deref())?;
            Ok(format!(
                "tagged the trip {} to {} ({:.1} km) as {}\n",
                format_ms(trip.started_at_ms),
                trip.ended_at_ms.map_or("now".into(), format_ms),
                trip.distance().0,
                purpose.as_str()
            ))
        }
        TripsCommand::History { vehicle } => {
            if !known {
                anyhow::bail!(
                    "no vehicle {vehicle} in this database: `fleetdash settings` lists the vehicles it knows"
                );
            }
            let changes = trips::history(&conn, &vehicle)?;
            if changes.is_empty() {
                return Ok(format!("no trip of {vehicle} was ever tagged\n"));
            }
            let shown = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
            let mut text = String::from("changed_at\ttrip_at\tpurpose\tnote\n");
            for c in changes {
                text.push_str(&format!(
                    "{}\t{}\t{} -> {}\t{} -> {}\n",
                    format_ms(c.changed_at_ms),
                    format_ms(c.at_ms),
                    shown(&c.purpose.0),
                    shown(&c.purpose.1),
                    shown(&c.note.0),
                    shown(&c.note.1),
                ));
            }
            Ok(text)
        }
    }
}

/// `fleetdash logbook`: writes one vehicle's month of trips to `out` (`.pdf` or `.csv`);
/// returns what to print.
pub fn logbook(db: &Path, vehicle: &str, month: &str, out: &Path) -> anyhow::Result<String> {
    let extension = out
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let pdf = match extension.as_deref() {
        Some("csv") => false,
        Some("pdf") => true,
        _ => anyhow::bail!(
            "--out must end in .pdf (to print or file) or .csv (for a spreadsheet), not {}",
            out.display()
        ),
    };
    let conn = store::open(
        db,
        &StoreOptions {
            create: false,
            ..StoreOptions::default()
        },
    )?;
    let book = match store::logbook::logbook(&conn, vehicle, month)? {
        Ok(book) => book,
        Err(problem) => anyhow::bail!(problem),
    };
    let cannot_write =
        |e: std::io::Error| anyhow::anyhow!("could not write {}: {e}", out.display());
    if pdf {
        let settings = store::owner::fleet_settings(&conn)?;
        let made_at = settings.zone.local_minutes(crate::domain::time::now_ms());
        let table = store::logbook::table(&book, settings.fleet_name.as_deref(), &made_at);
        let bytes = crate::report::pdf(&table).map_err(|e| anyhow::anyhow!(e))?;
        std::fs::write(out, bytes).map_err(cannot_write)?;
    } else {
        let file = std::fs::File::create(out).map_err(cannot_write)?;
        store::logbook::write_csv(&book, std::io::BufWriter::new(file))?;
    }
    let t = &book.totals;
    Ok(format!(
        "wrote {} trips of {} in {} to {}: {:.1} km (business {:.1}, private {:.1}, commute {:.1}, not tagged {:.1})\n",
        book.lines.len(),
        book.vehicle,
        book.month,
        out.display(),
        t.all(),
        t.business,
        t.private,
        t.commute,
        t.untagged
    ))
}
