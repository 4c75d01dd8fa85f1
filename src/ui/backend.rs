//! The app's background: a named tokio runtime thread running the callback server (and in
//! demo mode the simulated Smartcar and fleet). The UI only reads what it publishes.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::server::{AppState, Sink, serve};
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
    /// What went wrong, in words for the user.
    pub error: Option<String>,
}

/// Handle on the background work.
#[derive(Clone)]
pub struct Backend {
    /// The database the UI reads.
    pub db: PathBuf,
    /// True when the data is simulated.
    pub demo: bool,
    status: Arc<Mutex<Status>>,
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
        let status = Arc::new(Mutex::new(Status::default()));
        let backend = Backend {
            db: db.to_owned(),
            demo: true,
            status: status.clone(),
        };
        let db = db.to_owned();
        let spawned = std::thread::Builder::new()
            .name("fleetdash-runtime".into())
            .spawn(move || {
                if let Err(error) = run_demo(&db, options, &status, &wake) {
                    set(&status, |s| {
                        s.error = Some(format!("Demo mode could not start: {error:#}"))
                    });
                    wake();
                }
            });
        if let Err(error) = spawned {
            backend.update(|s| s.error = Some(format!("Demo mode could not start: {error}")));
        }
        backend
    }

    /// The latest status.
    pub fn status(&self) -> Status {
        self.status.lock().map(|s| s.clone()).unwrap_or_default()
    }

    fn update(&self, change: impl FnOnce(&mut Status)) {
        set(&self.status, change);
    }
}

fn set(status: &Mutex<Status>, change: impl FnOnce(&mut Status)) {
    if let Ok(mut s) = status.lock() {
        change(&mut s);
    }
}

fn run_demo(
    db: &Path,
    options: DemoOptions,
    status: &Mutex<Status>,
    wake: &(impl Fn() + Send + Sync),
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
    };
    for spec in crate::sim::fleet::vehicles(&fleet) {
        conn.execute(
            "INSERT INTO vehicles(id, make, model, year, capacity_kwh) VALUES (?1, ?2, ?3, ?4, ?5)",
            rusqlite::params![spec.id, spec.make, spec.model, spec.year, spec.capacity_kwh],
        )?;
    }
    conn.execute(
        "INSERT INTO meta(key, value) VALUES (?1, 0.30)",
        [crate::store::sessions::PRICE_SETTING],
    )?;
    let (writer, _thread) = spawn_writer(conn)?;
    let token = ManagementToken::new(DEMO_MANAGEMENT_TOKEN)
        .ok_or_else(|| anyhow::anyhow!("empty token"))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .worker_threads(2)
        .thread_name("fleetdash-runtime")
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let callback = format!("http://{address}{}", crate::server::WEBHOOK_PATH);
        tokio::spawn(serve(
            listener,
            AppState::new(token.clone(), Sink::Store(writer.clone())),
            std::future::pending(),
        ));
        let _demo = Demo::start(&callback, token, &options).await?;
        set(status, |s| {
            s.callback = Some(callback);
            s.writer = Some(writer);
        });
        wake();
        // Runs until the app exits (the process ends this thread).
        std::future::pending::<()>().await;
        Ok(())
    })
}
