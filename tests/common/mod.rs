//! Shared test helpers: a real server on a real socket, a real SQLite file, signing.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use fleetdash::server::sync::SyncApi;
use fleetdash::server::{AppState, Sink, WEBHOOK_PATH, serve};
use fleetdash::smartcar::ManagementToken;
use fleetdash::store::{self, StoreOptions, spawn_writer};
use tokio::net::TcpListener;

/// A new, migrated database at `path` (parent folders made as needed).
pub fn create_db(path: &Path) -> rusqlite::Connection {
    store::open(
        path,
        &StoreOptions {
            create: true,
            ..StoreOptions::default()
        },
    )
    .unwrap()
}

/// The management token every test server uses.
pub const TOKEN: &str = "amt";

pub fn token() -> ManagementToken {
    ManagementToken::new(TOKEN).unwrap()
}

pub fn sign(body: &[u8]) -> String {
    token().sign(body)
}

/// A fixture from `tests/fixtures`, byte for byte.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub const FIXTURES: &[&str] = &[
    "v2-dynamic-docs-example.json",
    "v2-dynamic-with-error.json",
    "v2-event-based.json",
    "v2-verify.json",
    "v4-vehicle-error.json",
    "v4-vehicle-state.json",
    "v4-verify.json",
];

/// An in-process callback server on 127.0.0.1:0 writing to a SQLite file in a temp dir.
pub struct TestServer {
    pub addr: SocketAddr,
    pub db: PathBuf,
    pub dir: tempfile::TempDir,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(Duration::from_secs(5)).await
    }

    pub async fn start_with(busy_timeout: Duration) -> Self {
        Self::start_full(busy_timeout, None).await
    }

    /// A relay: the same server with the sync API on, behind `sync_token`.
    pub async fn start_relay(sync_token: &str) -> Self {
        Self::start_full(Duration::from_secs(5), Some(sync_token)).await
    }

    async fn start_full(busy_timeout: Duration, sync_token: Option<&str>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("fleetdash.sqlite3");
        let conn = store::open(
            &db,
            &StoreOptions {
                busy_timeout,
                create: true,
            },
        )
        .unwrap();
        let (writer, _thread) = spawn_writer(conn).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let sync = sync_token.and_then(|t| SyncApi::new(t, db.clone()));
        tokio::spawn(serve(
            listener,
            AppState::with_sync(token(), Sink::Store(writer), sync),
            async move {
                let _ = rx.await;
            },
        ));
        TestServer {
            addr,
            db,
            dir,
            shutdown: Some(tx),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn webhook_url(&self) -> String {
        self.url(WEBHOOK_PATH)
    }

    /// Posts `body` signed with the test token.
    pub async fn post_signed(&self, body: &[u8]) -> reqwest::Response {
        post(&self.webhook_url(), body, Some(&sign(body))).await
    }

    /// A fresh connection to the server's database.
    pub fn db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(&self.db).unwrap()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

pub async fn post(url: &str, body: &[u8], signature: Option<&str>) -> reqwest::Response {
    let client = reqwest::Client::new();
    let mut request = client
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_vec());
    if let Some(signature) = signature {
        request = request.header("SC-Signature", signature);
    }
    request.send().await.unwrap()
}

/// Counts rows of `sql` (a `SELECT count(*) ...`).
pub fn count(conn: &rusqlite::Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

/// A port that is free now and lies below the kernel's ephemeral range (32768 and up on
/// Linux), for a server the code under test binds by number (the login's redirect): no
/// other test's outgoing connection or `bind(0)` can take it in the meantime.
pub fn free_fixed_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let seed = std::process::id().wrapping_mul(7919);
    for _ in 0..2_000 {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = 20_000 + (seed.wrapping_add(n.wrapping_mul(13)) % 12_000) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port between 20000 and 32000");
}

/// Polls `condition` until it holds or `limit` passes.
pub fn wait_until(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    condition()
}

/// The `fleetdash` binary.
pub fn fleetdash() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_fleetdash"));
    command
        .env_remove("FLEETDASH_DB")
        .env_remove("FLEETDASH_LISTEN");
    command
}

/// `fleetdash serve` as a child process on port 0; waits for its "listening on" line.
pub struct ServeProcess {
    pub child: Child,
    pub addr: SocketAddr,
    pub stderr: mpsc::Receiver<String>,
}

impl ServeProcess {
    pub fn start(db: &Path, extra_env: &[(&str, &str)]) -> Self {
        Self::start_on("127.0.0.1:0", db, extra_env)
    }

    /// Listening on `listen` (a restart on the same address).
    pub fn start_on(listen: &str, db: &Path, extra_env: &[(&str, &str)]) -> Self {
        let mut command = fleetdash();
        command
            .args(["serve", "--listen", listen, "--db"])
            .arg(db)
            .env("SMARTCAR_MANAGEMENT_TOKEN", TOKEN)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (key, value) in extra_env {
            command.env(key, value);
        }
        let mut child = command.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (line_tx, line_rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = line_tx.send(line);
            }
        });
        let (err_tx, err_rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = err_tx.send(line);
            }
        });
        let line = line_rx
            .recv_timeout(Duration::from_secs(20))
            .expect("serve printed no 'listening on' line");
        let addr = line
            .split("listening on http://")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .parse()
            .unwrap();
        ServeProcess {
            child,
            addr,
            stderr: err_rx,
        }
    }

    pub fn webhook_url(&self) -> String {
        format!("http://{}{WEBHOOK_PATH}", self.addr)
    }

    /// Waits for the process to exit, up to `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let mut status = None;
        wait_until(limit, || {
            status = self.child.try_wait().unwrap();
            status.is_some()
        });
        status
    }

    /// Sends `signal` (e.g. `libc::SIGTERM`) to the process.
    pub fn signal(&self, signal: i32) {
        // SAFETY: kill(2) with a pid we own and a valid signal number has no memory effects.
        let result = unsafe { libc::kill(self.child.id() as i32, signal) };
        assert_eq!(result, 0, "kill({signal}) failed");
    }

    /// Everything the process printed on stderr so far.
    pub fn stderr_text(&self) -> String {
        self.stderr.try_iter().collect::<Vec<_>>().join("\n")
    }

    /// Waits until the process has logged `text` on stderr; fails with the log so far
    /// after `limit`.
    pub fn wait_for_log(&self, text: &str, limit: Duration) {
        let mut log = String::new();
        assert!(
            wait_until(limit, || {
                log.push_str(&self.stderr_text());
                log.push('\n');
                log.contains(text)
            }),
            "never logged {text:?}: {log}"
        );
    }

    /// Everything (else) the process printed on stderr, up to its end: after the process
    /// exited, the reader thread may still be passing lines on.
    pub fn stderr_to_end(&self, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        let mut lines = Vec::new();
        while let Ok(line) = self
            .stderr
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            lines.push(line);
        }
        lines.join("\n")
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A signed-ready v4 VEHICLE_STATE body with its own event id and a SoC value.
pub fn v4_state(event_id: &str, vehicle_id: &str, soc: f64, at_ms: i64) -> Vec<u8> {
    serde_json::json!({
        "eventId": event_id,
        "eventType": "VEHICLE_STATE",
        "vehicleId": vehicle_id,
        "data": {
            "vehicle": {"id": vehicle_id, "make": "TESLA", "model": "Model 3", "year": 2020},
            "signals": [
                {"code": "tractionbattery-stateofcharge", "body": {"unit": "percent", "value": soc},
                 "meta": {"oemUpdatedAt": at_ms, "fetchedAt": at_ms}},
                {"code": "charge-ischargingcableconnected", "body": {"value": true},
                 "meta": {"oemUpdatedAt": at_ms}}
            ]
        },
        "meta": {"version": "4.0", "deliveryId": format!("d-{event_id}"), "deliveredAt": at_ms,
                 "webhookId": "w", "mode": "LIVE"}
    })
    .to_string()
    .into_bytes()
}

/// 2026-01-01T00:00:00Z, where the test fleets start.
pub const JAN_1_2026: i64 = 1_767_225_600_000;

/// A simulated fleet of `vehicles` over `days` from [`JAN_1_2026`].
pub fn fleet_config(seed: u64, vehicles: usize, days: u32) -> fleetdash::sim::fleet::FleetConfig {
    fleetdash::sim::fleet::FleetConfig {
        vehicles,
        days,
        seed,
        start_ms: JAN_1_2026,
        faults: Default::default(),
    }
}

/// Its deliveries in `format`, in simulated time order.
pub fn fleet_deliveries(
    config: &fleetdash::sim::fleet::FleetConfig,
    format: fleetdash::smartcar::Format,
) -> Vec<fleetdash::sim::schedule::Delivery> {
    fleetdash::sim::schedule::Schedule::new(config, format).collect()
}

/// Delivery as fast as the server answers, 8 at once, retry waits in milliseconds.
pub fn fast_delivery(url: &str) -> fleetdash::sim::deliver::DeliverOptions {
    fleetdash::sim::deliver::DeliverOptions {
        url: url.to_owned(),
        concurrency: 8,
        rate_per_sec: 0.0,
        speed: 0.0,
        paced_from_ms: None,
    }
}

/// Delivers every delivery to `url` the way Smartcar does; all must be acknowledged.
pub async fn deliver_acknowledged(url: &str, deliveries: Vec<fleetdash::sim::schedule::Delivery>) {
    let expected = deliveries.len() as u64;
    let (summary, _) =
        fleetdash::sim::deliver::deliver_all(deliveries, &token(), &fast_delivery(url)).await;
    assert_eq!(summary.acknowledged, expected, "{summary}");
}

/// Writes a simulated fleet's history into `db`.
pub fn simulate_db(db: &Path, args: &[&str]) {
    let made = fleetdash()
        .args(["simulate", "--db", db.to_str().unwrap()])
        .args(args)
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
}

/// A finished `fleetdash` command: whether it succeeded and what it printed.
pub struct Run {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `fleetdash ARGS --db DB`.
pub fn run(db: &Path, args: &[&str]) -> Run {
    let output = fleetdash().args(args).arg("--db").arg(db).output().unwrap();
    Run {
        success: output.status.success(),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// A CSV's header and rows.
pub fn parse_csv(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    let rows = reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect();
    (header, rows)
}

/// The text of a PDF, as `pdftotext -layout` extracts it.
pub fn pdf_text(path: &Path) -> String {
    let out = std::process::Command::new("pdftotext")
        .args(["-layout"])
        .arg(path)
        .arg("-")
        .output()
        .expect("pdftotext (Debian poppler-utils) reads the PDF back");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Waits (10 s at most) until the writer has derived sessions and trips for every delivery
/// it stored: it derives after acknowledging them.
pub fn wait_derived(db: &Path) {
    let conn = store::open_read_only(db).unwrap();
    assert!(
        wait_until(Duration::from_secs(10), || {
            fleetdash::store::derived::caught_up(&conn).unwrap_or(false)
        }),
        "sessions and trips were not derived within 10 s"
    );
}

/// A database as schema 10 left it: `auto_vacuum` off and bodies stored raw
/// (`body_codec` NULL), which is what migration 11 leaves of an older archive.
pub fn legacy_database(db: &Path, bodies: &[Vec<u8>]) {
    let conn = store::open(db, &StoreOptions::default()).unwrap();
    conn.execute_batch("PRAGMA auto_vacuum = NONE; VACUUM;")
        .unwrap();
    conn.execute_batch("BEGIN").unwrap();
    for (i, body) in bodies.iter().enumerate() {
        conn.execute(
            "INSERT INTO deliveries(received_at, format, kind, outcome, body)
             VALUES (?1, 'v4', 'VEHICLE_STATE', 'parsed', ?2)",
            rusqlite::params![1_767_225_600_000_i64 + i as i64, body],
        )
        .unwrap();
    }
    conn.execute_batch("COMMIT").unwrap();
}

/// Archives `count` v4 deliveries of a few vehicles into `db` through `Batch::ingest`,
/// as the callback server would have (but without HTTP, to be quick).
pub fn archive(db: &Path, from: usize, count: usize) {
    let mut conn = store::open(db, &StoreOptions::default()).unwrap();
    let mut batch = store::Batch::begin(&mut conn).unwrap();
    for i in from..from + count {
        let at_ms = JAN_1_2026 + i as i64 * 60_000;
        let body = v4_state(
            &format!("event-{i}"),
            &format!("car-{}", i % 5),
            (i % 100) as f64,
            at_ms,
        );
        let parsed = fleetdash::smartcar::parse_webhook(&body, at_ms);
        batch.ingest(at_ms, &body, &parsed).unwrap();
    }
    batch.commit().unwrap();
}
