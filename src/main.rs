//! The `fleetdash` binary: parse the command line, set up logging, dispatch.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use fleetdash::commands;
use fleetdash::domain::time::TimeBound;
use fleetdash::store::{ExportKind, default_db_path};

/// mimalloc: many threads hand buffers to the writer thread, which glibc's allocator
/// handles poorly (measured with `cargo bench --bench ingest`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// fleetdash: battery, charging and location history for EV fleets connected through Smartcar.
#[derive(Parser)]
#[command(name = "fleetdash", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the callback server that receives Smartcar's webhooks (for an always-on box).
    Serve {
        /// Address to listen on (HOST:PORT; port 0 picks a free one).
        #[arg(long, env = "FLEETDASH_LISTEN", default_value = "127.0.0.1:8787")]
        listen: String,
        /// The database file [default: fleetdash.sqlite3 in the platform's data directory].
        #[arg(long, env = "FLEETDASH_DB")]
        db: Option<PathBuf>,
        /// Milliseconds a write waits for a locked database before answering 503.
        #[arg(
            long,
            env = "FLEETDASH_BUSY_TIMEOUT_MS",
            default_value_t = 5000,
            hide = true
        )]
        busy_timeout_ms: u64,
    },
    /// Export readings as CSV (to stdout, or to a file with --out).
    Export {
        /// What to export.
        #[arg(value_enum)]
        kind: ExportKind,
        /// The database file [default: fleetdash.sqlite3 in the platform's data directory].
        #[arg(long, env = "FLEETDASH_DB")]
        db: Option<PathBuf>,
        /// Only this vehicle (Smartcar vehicle id); repeat for several.
        #[arg(long = "vehicle", value_name = "ID")]
        vehicles: Vec<String>,
        /// Only readings recorded at or after T (RFC 3339, or a date YYYY-MM-DD).
        #[arg(long, value_name = "T", value_parser = TimeBound::parse)]
        since: Option<TimeBound>,
        /// Only readings recorded at or before T (a date includes that whole day).
        #[arg(long, value_name = "T", value_parser = TimeBound::parse)]
        until: Option<TimeBound>,
        /// Write the CSV to FILE instead of stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Rebuild every derived table from the archive of raw deliveries.
    Reprocess {
        /// The database file [default: fleetdash.sqlite3 in the platform's data directory].
        #[arg(long, env = "FLEETDASH_DB")]
        db: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(matches!(cli.command, Some(Command::Serve { .. })));
    match run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(server: bool) {
    let default = if server { "info" } else { "warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        None => {
            eprintln!(
                "The desktop app is not built yet. Run `fleetdash serve` to receive Smartcar \
                 webhooks, or `fleetdash --help` for every command."
            );
            Ok(ExitCode::from(2))
        }
        Some(Command::Serve {
            listen,
            db,
            busy_timeout_ms,
        }) => {
            commands::serve::run(commands::serve::ServeOptions {
                listen,
                db: db.unwrap_or_else(default_db_path),
                busy_timeout: Duration::from_millis(busy_timeout_ms),
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Export {
            kind,
            db,
            vehicles,
            since,
            until,
            out,
        }) => {
            let rows = commands::export::run(commands::export::ExportOptions {
                kind,
                db: db.unwrap_or_else(default_db_path),
                vehicles,
                since,
                until,
                out: out.clone(),
            })?;
            commands::export::report(rows, out.as_deref());
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Reprocess { db }) => {
            let report = commands::reprocess::run(db.unwrap_or_else(default_db_path))?;
            println!(
                "reprocessed {} deliveries: {} parsed ({} recovered from quarantine), {} quarantined, {} duplicates, {} readings",
                report.deliveries,
                report.parsed,
                report.recovered,
                report.quarantined,
                report.duplicates,
                report.readings
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
