//! The `fleetdash` binary: parse the command line, set up logging, dispatch.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use fleetdash::commands;
use fleetdash::domain::time::TimeBound;
use fleetdash::sim::deliver::DeliverOptions;
use fleetdash::sim::fleet::FleetConfig;
use fleetdash::smartcar::Format;
use fleetdash::store::{ExportKind, default_db_path};

/// mimalloc: many threads hand buffers to the writer thread, which glibc's allocator
/// handles poorly (measured with `cargo bench --bench ingest`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// fleetdash: battery, charging and location history for EV fleets connected through Smartcar.
/// Without a command it opens the desktop app (demo mode until Smartcar is set up).
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
        /// Only this driver's home sessions (with `reimbursement`).
        #[arg(long, value_name = "NAME")]
        driver: Option<String>,
    },
    /// Run the simulated fleet: write its history into a database (--db) or deliver it as
    /// signed webhooks to a callback server (--url).
    Simulate {
        /// Write the history straight into this database (fast; for demos and benchmarks).
        #[arg(long, conflicts_with_all = ["url", "serve_api"], required_unless_present_any = ["url", "serve_api"])]
        db: Option<PathBuf>,
        /// Deliver signed webhooks to this callback URL, e.g.
        /// http://127.0.0.1:8787/webhooks/smartcar (signed with SMARTCAR_MANAGEMENT_TOKEN).
        #[arg(long, conflicts_with = "serve_api")]
        url: Option<String>,
        /// Serve the simulated Smartcar (Connect, token endpoint, Vehicle API) on ADDR
        /// (HOST:PORT); point SMARTCAR_CONNECT_URL, SMARTCAR_AUTH_URL and SMARTCAR_API_URL at it.
        #[arg(long, value_name = "ADDR")]
        serve_api: Option<String>,
        /// Payload format of the webhooks.
        #[arg(long, value_enum, default_value = "v4")]
        format: PayloadFormat,
        /// At most N deliveries per second (0: as fast as possible).
        #[arg(long, default_value_t = 0.0, value_name = "N")]
        rate: f64,
        /// Deliveries in flight at once.
        #[arg(long, default_value_t = 8, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
        concurrency: u16,
        /// Simulated seconds per real second: paces deliveries by simulated time and
        /// scales Smartcar's retry waits (25 s, 50 s, 100 s). 0: no pacing, retry waits in ms.
        #[arg(long, default_value_t = 0.0, value_name = "S")]
        speed: f64,
        /// Number of vehicles.
        #[arg(long, default_value_t = 5, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=10_000))]
        vehicles: u16,
        /// Simulated days.
        #[arg(long, default_value_t = 7, value_name = "D", value_parser = clap::value_parser!(u32).range(1..=3660))]
        days: u32,
        /// Random seed: the same seed and start give the same history.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// First simulated day (YYYY-MM-DD or RFC 3339) [default: DAYS days before today].
        #[arg(long, value_name = "T", value_parser = TimeBound::parse)]
        start: Option<TimeBound>,
    },
    /// Show or change what Smartcar doesn't know: vehicle names and capacities (for
    /// energy), the price per kWh and charging places (for cost).
    Settings {
        /// The database file [default: fleetdash.sqlite3 in the platform's data directory].
        #[arg(long, env = "FLEETDASH_DB", global = true)]
        db: Option<PathBuf>,
        #[command(subcommand)]
        change: Option<commands::settings::SettingsChange>,
    },
    /// Writes one vehicle's driving logbook for a month of the fleet's time zone (PDF or CSV).
    Logbook {
        /// The database file [default: fleetdash.sqlite3 in the platform's data directory].
        #[arg(long, env = "FLEETDASH_DB")]
        db: Option<PathBuf>,
        /// The vehicle's Smartcar id.
        #[arg(long)]
        vehicle: String,
        /// The month, YYYY-MM.
        #[arg(long)]
        month: String,
        /// Where to write it: FILE.pdf (A4, to print or file) or FILE.csv.
        #[arg(long)]
        out: PathBuf,
    },
    /// Trips' purposes and notes: `trips tag` sets them, `trips history` lists every change.
    Trips {
        /// The database file [default: fleetdash.sqlite3 in the platform's data directory].
        #[arg(long, env = "FLEETDASH_DB", global = true)]
        db: Option<PathBuf>,
        #[command(subcommand)]
        command: commands::trips::TripsCommand,
    },
    /// Drivers (home, rates, off-peak window) and who drives which vehicle when.
    Drivers {
        /// The database file [default: fleetdash.sqlite3 in the platform's data directory].
        #[arg(long, env = "FLEETDASH_DB", global = true)]
        db: Option<PathBuf>,
        #[command(subcommand)]
        command: commands::drivers::DriversCommand,
    },
    /// Writes a driver's home-charging statement for a month (PDF or CSV), or every driver's.
    Statement(commands::statement::StatementArgs),
    /// What needs attention: open alerts (or those opened since T), the rules, changing them.
    Alerts(commands::alerts::AlertsArgs),
    /// Sign in with Smartcar Connect (in the browser) and connect vehicles.
    Login {
        /// The database file [default: fleetdash.sqlite3 in the platform's data directory].
        #[arg(long, env = "FLEETDASH_DB")]
        db: Option<PathBuf>,
        /// Only print the address to open; don't start a browser.
        #[arg(long)]
        no_browser: bool,
    },
    /// List the connected vehicles with their webhook subscription.
    Vehicles {
        /// The database file [default: fleetdash.sqlite3 in the platform's data directory].
        #[arg(long, env = "FLEETDASH_DB")]
        db: Option<PathBuf>,
    },
    /// Subscribe vehicles to the webhook (SMARTCAR_WEBHOOK_ID).
    Subscribe {
        /// Vehicle ids (see `fleetdash vehicles`).
        #[arg(value_name = "ID", required_unless_present = "all")]
        ids: Vec<String>,
        /// Every connected vehicle.
        #[arg(long, conflicts_with = "ids")]
        all: bool,
        /// The database file [default: fleetdash.sqlite3 in the platform's data directory].
        #[arg(long, env = "FLEETDASH_DB")]
        db: Option<PathBuf>,
    },
    /// Unsubscribe vehicles from the webhook (needs SMARTCAR_MANAGEMENT_TOKEN).
    Unsubscribe {
        /// Vehicle ids (see `fleetdash vehicles`).
        #[arg(value_name = "ID", required_unless_present = "all")]
        ids: Vec<String>,
        /// Every connected vehicle.
        #[arg(long, conflicts_with = "ids")]
        all: bool,
        /// The database file [default: fleetdash.sqlite3 in the platform's data directory].
        #[arg(long, env = "FLEETDASH_DB")]
        db: Option<PathBuf>,
    },
    /// Fetch battery, charge and location now through the Smartcar API into the database.
    Poll {
        /// Only this vehicle; repeat for several [default: every connected vehicle].
        #[arg(long = "vehicle", value_name = "ID")]
        vehicles: Vec<String>,
        /// The database file [default: fleetdash.sqlite3 in the platform's data directory].
        #[arg(long, env = "FLEETDASH_DB")]
        db: Option<PathBuf>,
    },
    /// Pull what an always-on fleetdash (a relay running `serve` with FLEETDASH_SYNC_TOKEN)
    /// received since the last sync into the local database.
    ///
    /// The token comes from FLEETDASH_SYNC_TOKEN, else from the app's Settings (Receive data
    /// from an always-on fleetdash), which keep it in the system's credential store.
    Sync {
        /// The relay's address, e.g. https://fleet.example.com [default: the one saved in
        /// the app's Settings].
        #[arg(long = "from", value_name = "URL")]
        from: Option<String>,
        /// The database file [default: fleetdash.sqlite3 in the platform's data directory].
        #[arg(long, env = "FLEETDASH_DB")]
        db: Option<PathBuf>,
        /// Keep pulling as deliveries reach the relay (long polling) until Ctrl-C.
        #[arg(long)]
        follow: bool,
        /// Sync over plain http:// from a host other than this machine. The token and the
        /// data then cross the network unencrypted: only for a network that is yours alone.
        #[arg(long)]
        allow_insecure_http: bool,
    },
    /// Rebuild every derived table from the archive of raw deliveries.
    Reprocess {
        /// The database file [default: fleetdash.sqlite3 in the platform's data directory].
        #[arg(long, env = "FLEETDASH_DB")]
        db: Option<PathBuf>,
    },
}

/// Webhook payload format for `simulate`.
#[derive(Clone, Copy, clap::ValueEnum)]
enum PayloadFormat {
    /// Legacy v2: hourly `dynamic` batches and `eventBased` charging events.
    V2,
    /// Current v4: `VEHICLE_STATE` on signal change, `VEHICLE_ERROR`.
    V4,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(matches!(
        cli.command,
        None | Some(Command::Serve { .. }) | Some(Command::Simulate { .. })
    ));
    match run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            // A configuration error gets its own code, so systemd stops restarting it.
            ExitCode::from(commands::exit::exit_code(&error))
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
            commands::app()?;
            Ok(ExitCode::SUCCESS)
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
            driver,
        }) => {
            let rows = commands::export::run(commands::export::ExportOptions {
                kind,
                db: db.unwrap_or_else(default_db_path),
                vehicles,
                since,
                until,
                out: out.clone(),
                driver,
            })?;
            commands::export::report(rows, out.as_deref());
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Simulate {
            db,
            url,
            serve_api,
            format,
            rate,
            concurrency,
            speed,
            vehicles,
            days,
            seed,
            start,
        }) => {
            let start_ms = start.map(TimeBound::since_ms).unwrap_or_else(|| {
                fleetdash::domain::time::now_ms()
                    - i64::from(days) * fleetdash::domain::time::DAY_MS
            });
            let config = FleetConfig {
                vehicles: usize::from(vehicles),
                days,
                seed,
                start_ms,
                faults: Default::default(),
            };
            if let Some(db) = db {
                let summary = commands::simulate::write_history(&config, &db)?;
                println!(
                    "wrote {} readings for {} vehicles over {} days into {} in {:.2} s ({:.0} readings/s)",
                    summary.readings,
                    summary.vehicles,
                    days,
                    db.display(),
                    summary.elapsed_secs,
                    summary.readings as f64 / summary.elapsed_secs.max(1e-9)
                );
                return Ok(ExitCode::SUCCESS);
            }
            if let Some(address) = serve_api {
                commands::simulate::serve_api(&config, &address)?;
                return Ok(ExitCode::SUCCESS);
            }
            let Some(url) = url else {
                anyhow::bail!("pass --db PATH, --url URL or --serve-api ADDR");
            };
            if !rate.is_finite() || rate < 0.0 || !speed.is_finite() || speed < 0.0 {
                anyhow::bail!("--rate and --speed must be 0 or more");
            }
            let summary = commands::simulate::deliver(
                &config,
                match format {
                    PayloadFormat::V2 => Format::V2,
                    PayloadFormat::V4 => Format::V4,
                },
                DeliverOptions {
                    url,
                    concurrency: usize::from(concurrency),
                    rate_per_sec: rate,
                    speed,
                    paced_from_ms: None,
                },
            )?;
            println!("{summary}");
            Ok(if summary.failed == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Some(Command::Settings { db, change }) => {
            let text = commands::settings::run(&db.unwrap_or_else(default_db_path), change)?;
            print!("{text}");
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Logbook {
            db,
            vehicle,
            month,
            out,
        }) => {
            let db = db.unwrap_or_else(default_db_path);
            eprint!("{}", commands::trips::logbook(&db, &vehicle, &month, &out)?);
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Trips { db, command }) => {
            let text = commands::trips::run(&db.unwrap_or_else(default_db_path), command)?;
            print!("{text}");
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Drivers { db, command }) => {
            print!(
                "{}",
                commands::drivers::run(&db.unwrap_or_else(default_db_path), command)?
            );
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Alerts(args)) => {
            let db = args.db.clone().unwrap_or_else(default_db_path);
            print!("{}", commands::alerts::run(args, &db)?);
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Statement(args)) => {
            let db = args.db.clone().unwrap_or_else(default_db_path);
            print!("{}", commands::statement::run(args, &db)?);
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Login { db, no_browser }) => account_command(|account| async move {
            let db = db.unwrap_or_else(default_db_path);
            commands::account::login(&account, &db, !no_browser).await?;
            Ok(())
        }),
        Some(Command::Vehicles { db }) => account_command(|account| async move {
            let db = db.unwrap_or_else(default_db_path);
            let lines = commands::account::vehicles(&account, &db).await?;
            for line in lines {
                let state = match line.subscribed {
                    Some(true) => "subscribed",
                    Some(false) => "not subscribed",
                    None => "subscription unknown",
                };
                println!("{}  {}  ({state})", line.id, line.name);
            }
            Ok(())
        }),
        Some(Command::Subscribe { ids, all, db }) => account_command(|account| async move {
            let db = db.unwrap_or_else(default_db_path);
            commands::account::subscribe(&account, &db, &ids, all).await?;
            Ok(())
        }),
        Some(Command::Unsubscribe { ids, all, db }) => account_command(|account| async move {
            let db = db.unwrap_or_else(default_db_path);
            commands::account::unsubscribe(&account, &db, &ids, all).await?;
            Ok(())
        }),
        Some(Command::Poll { vehicles, db }) => account_command(|account| async move {
            let db = db.unwrap_or_else(default_db_path);
            let stored = commands::account::poll(&account, &db, &vehicles).await?;
            println!("stored {stored} reading(s)");
            Ok(())
        }),
        Some(Command::Sync {
            from,
            db,
            follow,
            allow_insecure_http,
        }) => {
            let paths = fleetdash::account::AccountPaths::from_env();
            let relay = commands::sync::relay(from.as_deref(), &paths)?;
            commands::sync::run(
                relay,
                db.unwrap_or_else(default_db_path),
                follow,
                allow_insecure_http,
            )?;
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

/// Runs an account command on a small runtime, with the account from the environment and
/// the secret store (`FLEETDASH_SECRETS` overrides where it lives).
fn account_command<F, Fut>(work: F) -> anyhow::Result<ExitCode>
where
    F: FnOnce(fleetdash::account::Account) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let paths = fleetdash::account::AccountPaths::from_env();
    let saved = fleetdash::account::SavedSettings::load(&paths.settings());
    let account = fleetdash::account::Account::new(
        fleetdash::account::AccountConfig::load(&saved),
        paths.store(),
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(work(account))?;
    Ok(ExitCode::SUCCESS)
}
