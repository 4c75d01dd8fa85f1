//! The simulated fleet: its payloads parse, it is deterministic, it retries as Smartcar
//! does against a real callback server over loopback, and `simulate --db` writes a
//! database that `export` reads.

mod common;

use std::collections::HashSet;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use common::*;
use fleetdash::server::{AppState, Sink, router};
use fleetdash::sim::deliver::{DeliverOptions, LogEntry, deliver_all};
use fleetdash::sim::fleet::FleetConfig;
use fleetdash::sim::schedule::{Delivery, Schedule};
use fleetdash::smartcar::{Format, Webhook, parse_webhook};
use fleetdash::store::{self, StoreOptions, spawn_writer};
use tower::ServiceExt;

fn config(seed: u64, vehicles: usize, days: u32) -> FleetConfig {
    fleet_config(seed, vehicles, days)
}

fn schedule(seed: u64, format: Format) -> Vec<Delivery> {
    Schedule::new(&config(seed, 4, 2), format).collect()
}

#[test]
fn every_simulated_payload_parses_in_both_formats_over_many_seeds() {
    for format in [Format::V4, Format::V2] {
        for seed in 1..=12 {
            let deliveries = schedule(seed, format);
            assert!(
                deliveries.len() > 50,
                "{format:?} seed {seed}: {}",
                deliveries.len()
            );
            let mut keys = HashSet::new();
            let mut previous_at = i64::MIN;
            for delivery in &deliveries {
                assert!(delivery.at_ms >= previous_at, "out of order");
                previous_at = delivery.at_ms;
                let parsed = parse_webhook(&delivery.body, 0);
                let Ok(Webhook::Event(event)) = parsed else {
                    panic!("{format:?} seed {seed}: {parsed:?}");
                };
                assert_eq!(event.format, format);
                assert!(event.notes.is_empty(), "{:?}", event.notes);
                for unit in &event.units {
                    assert!(keys.insert(unit.key.clone()), "key {} repeated", unit.key);
                    assert!(!unit.readings.is_empty());
                }
            }
        }
    }
}

#[test]
fn the_same_seed_gives_byte_identical_deliveries_and_another_seed_does_not() {
    for format in [Format::V4, Format::V2] {
        assert_eq!(schedule(5, format), schedule(5, format));
        assert_ne!(schedule(5, format), schedule(6, format));
    }
}

#[test]
fn the_fleet_includes_the_documented_imperfections() {
    let deliveries = schedule(2, Format::V4);
    let text: Vec<String> = deliveries
        .iter()
        .map(|d| String::from_utf8(d.body.clone()).unwrap())
        .collect();
    assert!(
        text.iter().any(|t| t.contains("\"ASLEEP\"")),
        "no asleep car"
    );
    assert!(
        text.iter()
            .any(|t| t.contains("AUTHENTICATION_FAILED") && t.contains("\"ERROR\""))
    );
    assert!(text.iter().any(|t| t.contains("\"RESOLVED\"")));
    // A parked car's position is older than its state of charge.
    let older_location = deliveries.iter().any(|d| {
        let Ok(Webhook::Event(e)) = parse_webhook(&d.body, 0) else {
            return false;
        };
        let r = &e.units[0].readings;
        matches!((r.locations.first(), r.battery.first()),
                 (Some(l), Some(b)) if b.recorded_at_ms - l.recorded_at_ms >= 3_600_000)
    });
    assert!(older_location);
    let v2 = schedule(2, Format::V2);
    assert!(v2.iter().any(|d| d.kind == "eventBased"));
    assert!(v2.iter().any(|d| {
        d.kind == "dynamic"
            && String::from_utf8_lossy(&d.body)
                .matches("vehicleId")
                .count()
                > 1
    }));
}

/// A callback server in front of fleetdash's router that answers 500 for `down_for` from
/// the first request on.
struct FlakyServer {
    url: String,
    db: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

async fn flaky_server(down_for: Duration) -> FlakyServer {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fleetdash.sqlite3");
    let conn = store::open(&db, &StoreOptions::default()).unwrap();
    let (writer, _) = spawn_writer(conn).unwrap();
    let real = router(AppState::new(token(), Sink::Store(writer)));
    let first_request: Arc<OnceLock<Instant>> = Arc::default();
    type Flaky = (axum::Router, Arc<OnceLock<Instant>>, Duration);
    async fn handle(State((real, first, down_for)): State<Flaky>, request: Request) -> Response {
        if first.get_or_init(Instant::now).elapsed() < down_for {
            return (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "down").into_response();
        }
        real.oneshot(request).await.into_response()
    }
    let app = axum::Router::new()
        .fallback(handle)
        .with_state((real, first_request, down_for));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/webhooks/smartcar",
        listener.local_addr().unwrap()
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    FlakyServer { url, db, _dir: dir }
}

fn options(url: &str) -> DeliverOptions {
    DeliverOptions {
        url: url.to_owned(),
        concurrency: 16,
        rate_per_sec: 0.0,
        // As fast as possible: retries after 25, 50 and 100 ms.
        speed: 0.0,
        paced_from_ms: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_refused_for_a_while_are_retried_and_arrive_exactly_once() {
    let server = flaky_server(Duration::from_millis(60)).await;
    let deliveries: Vec<Delivery> = Schedule::new(&config(3, 3, 1), Format::V4).collect();
    let (summary, log) = deliver_all(deliveries.clone(), &token(), &options(&server.url)).await;
    assert_eq!(summary.failed, 0, "{summary}");
    assert_eq!(summary.acknowledged, deliveries.len() as u64);
    assert!(log.iter().any(|e| e.attempts > 1), "nothing was retried");
    assert!(summary.sent > summary.acknowledged);
    let conn = rusqlite::Connection::open(&server.db).unwrap();
    assert_eq!(
        count(&conn, "SELECT count(*) FROM event_keys"),
        deliveries.len() as i64
    );
    assert_eq!(
        count(
            &conn,
            "SELECT count(*) FROM deliveries WHERE outcome = 'duplicate'"
        ),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_that_stays_down_loses_every_delivery_after_three_retries_and_the_log_says_so() {
    let server = flaky_server(Duration::from_secs(3600)).await;
    let deliveries: Vec<Delivery> = Schedule::new(&config(3, 2, 1), Format::V4)
        .take(40)
        .collect();
    let started = Instant::now();
    let (summary, log) = deliver_all(deliveries, &token(), &options(&server.url)).await;
    assert_eq!(summary.acknowledged, 0);
    assert_eq!(summary.failed, 40);
    assert_eq!(summary.sent, 160, "one attempt and three retries each");
    assert!(
        log.iter()
            .all(|e: &LogEntry| !e.acknowledged && e.attempts == 4 && e.last_answer == "500")
    );
    // The waits (25 + 50 + 100 ms at full speed) were really taken.
    assert!(started.elapsed() >= Duration::from_millis(175));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulate_command_delivers_to_a_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fleetdash.sqlite3");
    let server = ServeProcess::start(&db, &[("RUST_LOG", "warn")]);
    for format in ["v4", "v2"] {
        let output = fleetdash()
            .args([
                "simulate",
                "--url",
                &server.webhook_url(),
                "--format",
                format,
            ])
            .args([
                "--vehicles",
                "3",
                "--days",
                "1",
                "--start",
                "2026-01-01",
                "--seed",
                "9",
            ])
            .env("SMARTCAR_MANAGEMENT_TOKEN", TOKEN)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            stdout.contains("failed 0") && stdout.contains("acknowledged"),
            "{stdout}"
        );
    }
    let conn = rusqlite::Connection::open(&db).unwrap();
    assert!(count(&conn, "SELECT count(*) FROM battery_readings") > 100);
    // A wrong token is caught by the verify challenge, before anything is sent.
    let output = fleetdash()
        .args(["simulate", "--url", &server.webhook_url(), "--days", "1"])
        .env("SMARTCAR_MANAGEMENT_TOKEN", "not-the-token")
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("management token"));
}

#[test]
fn simulate_db_writes_a_minute_by_minute_history_that_export_reads() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("sim.sqlite3");
    let output = fleetdash()
        .args(["simulate", "--db", db.to_str().unwrap()])
        .args(["--vehicles", "3", "--days", "2", "--start", "2026-01-01"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("wrote 8640 readings"));
    for kind in ["battery", "charge", "locations"] {
        let export = fleetdash()
            .args(["export", kind, "--db", db.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(export.status.success());
        let mut reader = csv::Reader::from_reader(export.stdout.as_slice());
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), 3 * 2 * 1440, "{kind}");
        assert!(
            rows.iter().all(|r| r[1].contains(' ')),
            "vehicle names come from make and model"
        );
    }
    // Deterministic: the same command writes the same history.
    let again = dir.path().join("again.sqlite3");
    fleetdash()
        .args(["simulate", "--db", again.to_str().unwrap()])
        .args(["--vehicles", "3", "--days", "2", "--start", "2026-01-01"])
        .output()
        .unwrap();
    let dump = |path: &std::path::Path| {
        fleetdash()
            .args(["export", "charge", "--db", path.to_str().unwrap()])
            .output()
            .unwrap()
            .stdout
    };
    assert_eq!(dump(&db), dump(&again));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulate_serve_api_serves_connect_with_the_demo_application() {
    use std::io::{BufRead, BufReader};
    let mut child = fleetdash()
        .args([
            "simulate",
            "--serve-api",
            "127.0.0.1:0",
            "--vehicles",
            "2",
            "--days",
            "1",
        ])
        .env_remove("SMARTCAR_CLIENT_ID")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let origin = line
        .split("listening on ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("{line}"))
        .to_owned();
    let page = reqwest::get(format!(
        "{origin}/oauth/authorize?response_type=code&client_id={}&redirect_uri=http://localhost:8787/oauth/callback&state=x",
        fleetdash::commands::simulate::DEMO_CLIENT_ID
    ))
    .await
    .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("Allow"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn speed_paces_deliveries_by_simulated_time() {
    let server = flaky_server(Duration::ZERO).await;
    let deliveries: Vec<Delivery> = Schedule::new(&config(3, 2, 1), Format::V4)
        .take_while(|d| d.at_ms < JAN_1_2026 + 12 * 3_600_000)
        .collect();
    let span_ms = deliveries.last().unwrap().at_ms - deliveries[0].at_ms;
    assert!(span_ms > 3_600_000, "{span_ms}");
    let speed = 108_000.0;
    let mut paced = options(&server.url);
    paced.speed = speed;
    let started = Instant::now();
    let (summary, _) = deliver_all(deliveries, &token(), &paced).await;
    assert_eq!(summary.failed, 0);
    let expected = Duration::from_secs_f64(span_ms as f64 / 1000.0 / speed);
    assert!(
        started.elapsed() >= expected,
        "{:?} < {expected:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_mode_delivers_recent_history_to_the_callback_and_serves_connect() {
    use fleetdash::sim::demo::{DEMO_CLIENT_ID, Demo, DemoOptions};
    let callback = TestServer::start().await;
    let demo = Demo::start(
        &callback.webhook_url(),
        token(),
        &DemoOptions {
            vehicles: 3,
            history_days: 1,
            ..DemoOptions::default()
        },
    )
    .await
    .unwrap();
    let db = callback.db();
    assert!(
        wait_until(Duration::from_secs(30), || count(
            &db,
            "SELECT count(DISTINCT vehicle_id) FROM battery_readings"
        ) == 3
            && count(
                &db,
                "SELECT count(*) FROM deliveries WHERE outcome = 'parsed'"
            ) > 100),
        "the demo's history did not arrive"
    );
    let page = reqwest::get(format!(
        "{}/oauth/authorize?response_type=code&client_id={DEMO_CLIENT_ID}&redirect_uri=http://localhost:1/cb",
        demo.api_origin
    ))
    .await
    .unwrap();
    assert_eq!(page.status(), 200);
    demo.stop();
}
