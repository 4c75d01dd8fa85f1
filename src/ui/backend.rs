//! The app's background: a named tokio runtime thread running the callback server (and in
//! demo mode the simulated Smartcar and fleet). The UI only reads what it publishes; it
//! learns of new data from the database itself (`PRAGMA data_version`), so deliveries
//! stored by another process (`fleetdash serve` on the same file) show up too.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::server::{AppState, ServerStats, Sink, serve};
use crate::sim::demo::{DEMO_MANAGEMENT_TOKEN, Demo, DemoOptions};
use crate::smartcar::ManagementToken;
use crate::store::{self, StoreOptions, WriterHandle, spawn_writer};

/// What the background reports to the UI.
#[derive(Clone, Default)]
pub struct Status {
    /// The callback server's address once it listens.
    pub callback: Option<String>,
    /// The writer, for its counters (cheap atomics the UI can read every frame).
    pub writer: Option<WriterHandle>,
    /// The callback server's counters and last error.
    pub server: Option<Arc<ServerStats>>,
    /// Logins waiting for Connect's redirect to the callback server.
    pub logins: Option<crate::server::oauth::LoginWaiters>,
    /// What went wrong, in words for the user.
    pub error: Option<String>,
    /// Something the user should know that is not an error.
    pub note: Option<String>,
    /// True once the database exists and has its tables (the UI may open it).
    pub ready: bool,
}

/// How the app receives data when it is not in demo mode.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Signs (and so authenticates) Smartcar's deliveries.
    pub token: ManagementToken,
    /// Where the callback server listens, `HOST:PORT`.
    pub listen: String,
}

/// Handle on the background work; dropping it stops the work.
pub struct Backend {
    /// The database the UI reads.
    pub db: PathBuf,
    /// True when the data is simulated.
    pub demo: bool,
    status: Arc<Mutex<Status>>,
    /// How long an owner write waits for another connection's write lock.
    owner_write_timeout: Duration,
    /// Dropped with the backend, which ends the runtime thread's work.
    _stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Backend {
    /// Starts demo mode: a fresh demo database at `db`, the callback server on a free
    /// loopback port and the simulated fleet delivering to it. `wake` is called whenever
    /// the status changes (the UI passes `request_repaint`).
    pub fn start_demo(
        db: &Path,
        options: DemoOptions,
        wake: impl Fn() + Send + Sync + 'static,
    ) -> Self {
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let backend = Backend::new(db, true, stop);
        let status = backend.status.clone();
        let db = db.to_owned();
        backend.spawn(move || {
            if let Err(error) = run_demo(&db, options, &status, &wake, stopped) {
                set(&status, |s| {
                    s.error = Some(format!("Demo mode could not start: {error:#}"))
                });
                wake();
            }
        });
        backend
    }

    /// Opens the user's own database at `db`. With `server`, the callback server receives
    /// Smartcar's deliveries into it; without, the app shows what is stored (for example by
    /// a `fleetdash serve` running on the same file).
    pub fn start_local(
        db: &Path,
        server: Option<ServerConfig>,
        wake: impl Fn() + Send + Sync + 'static,
    ) -> Self {
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let backend = Backend::new(db, false, stop);
        let status = backend.status.clone();
        let db = db.to_owned();
        backend.spawn(move || {
            if let Err(error) = run_local(&db, server, &status, &wake, stopped) {
                set(&status, |s| s.error = Some(format!("{error:#}")));
                wake();
            }
        });
        backend
    }

    fn new(db: &Path, demo: bool, stop: tokio::sync::oneshot::Sender<()>) -> Self {
        Backend {
            db: db.to_owned(),
            demo,
            status: Arc::new(Mutex::new(Status::default())),
            owner_write_timeout: StoreOptions::default().busy_timeout,
            _stop: Some(stop),
        }
    }

    /// How long an owner write (a name, a price...) waits for another connection's
    /// write lock before it gives up and says so (tests lengthen it to hold a write back
    /// on purpose).
    pub fn with_owner_write_timeout(mut self, timeout: Duration) -> Self {
        self.owner_write_timeout = timeout;
        self
    }

    /// See [`Backend::with_owner_write_timeout`].
    pub fn owner_write_timeout(&self) -> Duration {
        self.owner_write_timeout
    }

    fn spawn(&self, work: impl FnOnce() + Send + 'static) {
        let spawned = std::thread::Builder::new()
            .name("fleetdash-runtime".into())
            .spawn(work);
        if let Err(error) = spawned {
            set(&self.status, |s| {
                s.error = Some(format!("The background could not start: {error}"))
            });
        }
    }

    /// The callback server's login waiters, when it listens where `redirect_uri` points
    /// (so Connect's redirect reaches it).
    pub fn logins_for(&self, redirect_uri: &str) -> Option<crate::server::oauth::LoginWaiters> {
        let status = self.status();
        let callback = reqwest::Url::parse(status.callback.as_deref()?).ok()?;
        let redirect = reqwest::Url::parse(redirect_uri).ok()?;
        let local = matches!(
            redirect.host_str(),
            Some("localhost" | "127.0.0.1" | "[::1]")
        );
        let same_port = callback.port_or_known_default() == redirect.port_or_known_default();
        let right_path = redirect.path() == crate::server::oauth::CALLBACK_PATH;
        (local && same_port && right_path)
            .then_some(status.logins)
            .flatten()
    }

    /// The latest status.
    pub fn status(&self) -> Status {
        self.status.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

fn set(status: &Mutex<Status>, change: impl FnOnce(&mut Status)) {
    if let Ok(mut s) = status.lock() {
        change(&mut s);
    }
}

fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .worker_threads(2)
        .thread_name("fleetdash-runtime")
        .build()
}

fn run_demo(
    db: &Path,
    options: DemoOptions,
    status: &Mutex<Status>,
    wake: &(impl Fn() + Send + Sync),
    stopped: tokio::sync::oneshot::Receiver<()>,
) -> anyhow::Result<()> {
    // Demo data starts afresh each time and never mixes with real data.
    for suffix in ["", "-wal", "-shm"] {
        let mut path = db.as_os_str().to_owned();
        path.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(path));
    }
    let conn = store::open(db, &StoreOptions::default())?;
    // What an owner would have entered: capacities and a price, so energy and cost show.
    let fleet = crate::sim::fleet::FleetConfig {
        vehicles: options.vehicles,
        days: 1,
        seed: options.seed,
        start_ms: 0,
        faults: Default::default(),
    };
    let specs = crate::sim::fleet::vehicles(&fleet);
    for spec in &specs {
        conn.execute(
            // The simulated Smartcar has every demo car subscribed to the demo webhook.
            "INSERT INTO vehicles(id, make, model, year, capacity_kwh, charge_target, subscribed)
             VALUES (?1, ?2, ?3, ?4, ?5, 80, 1)",
            rusqlite::params![spec.id, spec.make, spec.model, spec.year, spec.capacity_kwh],
        )?;
    }
    // The fleet's settings and a depot (where the first car sleeps, cheaper than the
    // default price), through the same checked writes as the app and the CLI.
    let mut conn = conn;
    let mut owner = vec![
        crate::store::owner::OwnerWrite::Price(Some(0.30)),
        crate::store::owner::OwnerWrite::Currency("EUR".into()),
        crate::store::owner::OwnerWrite::FleetName("Demo fleet".into()),
    ];
    if let Some(first) = specs.first() {
        owner.push(crate::store::owner::OwnerWrite::Place {
            replaces: None,
            place: crate::store::sessions::Place {
                name: "Depot".into(),
                latitude: first.depot.0,
                longitude: first.depot.1,
                radius_m: 300.0,
                price_per_kwh: Some(0.22),
                off_peak: None,
            },
        });
    }
    owner.extend(demo_drivers(&specs, options.history_days));
    // The demo's cars report through v4 webhooks, which say nothing while a car sleeps
    // parked: a night is about 14 hours of silence, and no relay polls them. The owner of
    // such a fleet would give `vehicle_quiet` more hours than its default six.
    owner.push(crate::store::owner::OwnerWrite::AlertRule {
        rule: crate::domain::alerts::Rule::VehicleQuiet,
        on: None,
        settings: vec![("hours".into(), "16".into())],
    });
    crate::store::owner::apply_all(&mut conn, &owner)?;
    // Purposes on some of the history's trips, so the logbook and Trips tab show them.
    for (vehicle, at_ms, purpose) in
        crate::sim::demo::demo_trip_purposes(&options, crate::domain::time::now_ms())
    {
        crate::store::trips::seed_tag(&conn, &vehicle, at_ms, purpose)?;
    }
    set(status, |s| s.ready = true);
    let (writer, _thread) = spawn_writer(conn)?;
    let token = ManagementToken::new(DEMO_MANAGEMENT_TOKEN)
        .ok_or_else(|| anyhow::anyhow!("empty token"))?;
    runtime()?.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let callback = format!("http://{address}{}", crate::server::WEBHOOK_PATH);
        let (server_stop, server_stopped) = tokio::sync::oneshot::channel::<()>();
        let state = AppState::new(token.clone(), Sink::Store(writer.clone()));
        let stats = state.stats();
        let logins = state.logins();
        let server = tokio::spawn(serve(listener, state, async move {
            let _ = server_stopped.await;
        }));
        let demo = Demo::start(&callback, token, &options).await?;
        set(status, |s| {
            s.callback = Some(callback);
            s.writer = Some(writer);
            s.server = Some(stats);
            s.logins = Some(logins);
        });
        wake();
        // Until the app drops the backend (or exits, which ends this thread with it).
        let _ = stopped.await;
        demo.stop();
        let _ = server_stop.send(());
        let _ = server.await;
        set(status, |s| s.writer = None);
        Ok(())
    })
}

fn run_local(
    db: &Path,
    server: Option<ServerConfig>,
    status: &Mutex<Status>,
    wake: &(impl Fn() + Send + Sync),
    stopped: tokio::sync::oneshot::Receiver<()>,
) -> anyhow::Result<()> {
    let conn = store::open(db, &StoreOptions::default()).map_err(|e| {
        anyhow::anyhow!(
            "The database {} could not be opened: {e}. Check that its folder exists and is \
             writable, or point FLEETDASH_DB at another file.",
            db.display()
        )
    })?;
    // Space is a nicety: the app opens a file it cannot rewrite now all the same.
    if let Err(error) = crate::store::upkeep::vacuum_if_worthwhile(&conn) {
        tracing::warn!(%error, "could not rewrite the database to give back free space");
    }
    // Compresses older deliveries (synced ones too) and trains the fleet's own dictionary
    // for as long as the app keeps this database open.
    let _upkeep = crate::store::upkeep::spawn(db.to_owned(), Default::default())?;
    set(status, |s| s.ready = true);
    wake();
    let Some(server) = server else {
        drop(conn);
        set(status, |s| {
            s.note = Some(
                "No callback server runs here: the app shows what is stored in this \
                 database. To receive Smartcar's webhooks, enter your application on the \
                 Account page, or run `fleetdash serve` on an always-on box and connect to \
                 it in Settings (Receive data from an always-on fleetdash)."
                    .into(),
            )
        });
        wake();
        // Until the app drops the backend: the upkeep thread works meanwhile.
        let _ = stopped.blocking_recv();
        return Ok(());
    };
    let (writer, _thread) = spawn_writer(conn)?;
    runtime()?.block_on(async {
        let listener = match tokio::net::TcpListener::bind(&server.listen).await {
            Ok(listener) => listener,
            Err(error) => {
                set(status, |s| {
                    s.error = Some(format!(
                        "The callback server cannot listen on {}: {error}. Another fleetdash \
                         (or `fleetdash serve`) may be running there; the app still shows \
                         the stored data. Set FLEETDASH_LISTEN to use another address.",
                        server.listen
                    ))
                });
                wake();
                return Ok(());
            }
        };
        let address = listener.local_addr()?;
        let callback = format!("http://{address}{}", crate::server::WEBHOOK_PATH);
        let state = AppState::new(server.token, Sink::Store(writer.clone()));
        set(status, |s| {
            s.callback = Some(callback);
            s.writer = Some(writer);
            s.server = Some(state.stats());
            s.logins = Some(state.logins());
        });
        wake();
        serve(listener, state, async move {
            let _ = stopped.await;
        })
        .await?;
        set(status, |s| s.writer = None);
        Ok(())
    })
}

/// Drivers for the demo: one for every car but the first (it sleeps at the company's
/// depot), living where their car sleeps, each driving it since before the history began,
/// so statements show home charging on first start. The first driver has a night tariff.
fn demo_drivers(
    specs: &[crate::sim::fleet::VehicleSpec],
    history_days: u32,
) -> Vec<crate::store::owner::OwnerWrite> {
    use crate::store::drivers::{Driver, Home};
    use crate::store::owner::OwnerWrite;
    const NAMES: [&str; 6] = [
        "Anna Berg",
        "Ben Okafor",
        "Chiara Rossi",
        "Deniz Yilmaz",
        "Emma Novak",
        "Farid Haddad",
    ];
    // From midnight (UTC) of the day before the history begins: a date an owner would give.
    let day = crate::domain::time::DAY_MS;
    let since =
        (crate::domain::time::now_ms() - (i64::from(history_days) + 1) * day).div_euclid(day) * day;
    let night = crate::domain::tariff::Window {
        start_min: 22 * 60,
        end_min: 6 * 60,
    };
    let mut writes = Vec::new();
    for (i, (spec, name)) in specs.iter().skip(1).zip(NAMES).enumerate() {
        writes.push(OwnerWrite::Driver {
            replaces: None,
            driver: Driver {
                name: name.to_owned(),
                email: None,
                home: Some(Home {
                    latitude: spec.depot.0,
                    longitude: spec.depot.1,
                    radius_m: 150.0,
                }),
                rate_per_kwh: Some(0.32),
                off_peak: (i == 0).then_some((night, 0.21)),
            },
        });
        writes.push(OwnerWrite::Assign {
            vehicle_id: spec.id.clone(),
            driver: name.to_owned(),
            from_ms: since,
            until_ms: None,
        });
    }
    writes
}
