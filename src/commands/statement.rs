//! `fleetdash statement`: a driver's monthly home-charging statement as a PDF to file (or
//! CSV), or one for every driver into a folder.

use std::path::{Path, PathBuf};

use anyhow::bail;

use crate::store::statement::{self, Statement};
use crate::store::{self, StoreOptions};

/// What `fleetdash statement` takes.
#[derive(Debug, clap::Args)]
pub struct StatementArgs {
    /// The database file [default: fleetdash.sqlite3 in the platform's data directory].
    #[arg(long, env = "FLEETDASH_DB")]
    pub db: Option<PathBuf>,
    /// The driver's name.
    #[arg(long, required_unless_present = "all", conflicts_with = "all")]
    pub driver: Option<String>,
    /// Every driver: --out is a folder that gets one statement per driver.
    #[arg(long)]
    pub all: bool,
    /// The month, YYYY-MM, in the fleet's time zone.
    #[arg(long)]
    pub month: String,
    /// FILE.pdf (A4, to file or print) or FILE.csv; with --all, a folder.
    #[arg(long)]
    pub out: PathBuf,
    /// With --all: CSV files instead of PDFs.
    #[arg(long, requires = "all")]
    pub csv: bool,
}

fn summary(s: &Statement, out: &Path) -> String {
    let t = s.totals();
    let mut line = format!(
        "{} {}: {} sessions, {:.2} kWh ({:.2} off-peak), {} -> {}",
        s.driver.name,
        s.month,
        t.sessions,
        t.energy_kwh,
        t.off_peak_kwh,
        s.currency.amount(t.amount),
        out.display()
    );
    if t.ongoing > 0 {
        line.push_str(&format!(" ({} ongoing, not totalled)", t.ongoing));
    }
    line.push('\n');
    line
}

/// Runs `statement`; returns what to print, or fails with what to do.
pub fn run(args: StatementArgs, db: &Path) -> anyhow::Result<String> {
    let conn = store::open(
        db,
        &StoreOptions {
            create: false,
            ..StoreOptions::default()
        },
    )?;
    let settings = store::owner::fleet_settings(&conn)?;
    let made_at = settings.zone.local_minutes(crate::domain::time::now_ms());
    let cannot_write = |out: &Path, e: store::StoreError| {
        anyhow::anyhow!("could not write {}: {e}", out.display())
    };
    let Some(name) = args.driver else {
        std::fs::create_dir_all(&args.out).map_err(|e| {
            anyhow::anyhow!("could not make the folder {}: {e}", args.out.display())
        })?;
        let drivers = store::drivers::drivers(&conn)?;
        if drivers.is_empty() {
            bail!(
                "there are no drivers yet: `fleetdash drivers add NAME --home-lat LAT --home-lon LON --rate P` adds one"
            );
        }
        let mut text = String::new();
        let mut problems = Vec::new();
        for driver in drivers {
            match statement::statement(&conn, &driver.name, &args.month)? {
                Ok(s) => {
                    let extension = if args.csv { "csv" } else { "pdf" };
                    let out =
                        args.out
                            .join(statement::file_name(&driver.name, &args.month, extension));
                    statement::save(&s, &out, &made_at).map_err(|e| cannot_write(&out, e))?;
                    text.push_str(&summary(&s, &out));
                }
                Err(problem) => problems.push(format!("{}: {problem}", driver.name)),
            }
        }
        if !problems.is_empty() {
            eprint!("{text}");
            bail!(
                "not every statement could be made:\n{}",
                problems.join("\n")
            );
        }
        return Ok(text);
    };
    let extension = args
        .out
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    if !matches!(extension.as_deref(), Some("pdf" | "csv")) {
        bail!(
            "--out must end in .pdf (to file or print) or .csv (for a spreadsheet), not {}",
            args.out.display()
        );
    }
    let s = match statement::statement(&conn, &name, &args.month)? {
        Ok(s) => s,
        Err(problem) => bail!(problem),
    };
    statement::save(&s, &args.out, &made_at).map_err(|e| cannot_write(&args.out, e))?;
    Ok(summary(&s, &args.out))
}
