//! The sync API and `fleetdash sync`, end to end over real HTTP: a relay (`serve` with a
//! sync token) receives the simulated fleet's deliveries while the desktop is off; the
//! desktop pulls them into its own SQLite file and must then export the relay's rows.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use common::*;
use fleetdash::server::sync::SYNC_PATH;
use fleetdash::sim::deliver::{DeliverOptions, deliver_all};
use fleetdash::sim::schedule::Delivery;
use fleetdash::smartcar::Format;
use fleetdash::smartcar::client::Secret;
use fleetdash::store::{self, ExportFilter, ExportKind, StoreOptions, export_csv};
use fleetdash::sync::{Event, Progress, Relay, SyncError, apply_page};
use rusqlite::Connection;
use tokio::sync::watch;

const SYNC_TOKEN: &str = "relay-sync-token-0123456789abcdefgh";
/// An empty desktop database in a temp dir.
fn desktop() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("desktop.sqlite3");
    drop(store::open(&db, &StoreOptions::default()).unwrap());
    (dir, db)
}

fn relay_client(server: &TestServer, token: &str) -> Relay {
    Relay::new(&server.url(""), Secret::new(token)).unwrap()
}

/// One sync until up to date, as `fleetdash sync` does.
async fn sync_once(relay: &Relay, db: &Path) -> Progress {
    let mut conn = store::open(db, &StoreOptions::default()).unwrap();
    let (_stop_tx, stop) = watch::channel(false);
    fleetdash::sync::run(relay, &mut conn, false, stop, |_| {})
        .await
        .unwrap()
}

const EVERY_KIND: [ExportKind; 7] = [
    ExportKind::Battery,
    ExportKind::Charge,
    ExportKind::Locations,
    ExportKind::Sessions,
    ExportKind::Errors,
    ExportKind::Daily,
    ExportKind::Monthly,
];

/// Every export, parsed back into records.
fn exports(db: &Path) -> Vec<(ExportKind, Vec<csv::StringRecord>)> {
    wait_derived(db);
    let conn = store::open_read_only(db).unwrap();
    EVERY_KIND
        .iter()
        .map(|&kind| {
            let mut bytes = Vec::new();
            export_csv(&conn, kind, &ExportFilter::default(), &mut bytes).unwrap();
            let records = csv::Reader::from_reader(bytes.as_slice())
                .records()
                .collect::<Result<Vec<_>, _>>()
                .unwrap();
            (kind, records)
        })
        .collect()
}

fn assert_same_exports(relay_db: &Path, desktop_db: &Path) {
    let (relay, desktop) = (exports(relay_db), exports(desktop_db));
    for ((kind, relay_rows), (_, desktop_rows)) in relay.iter().zip(&desktop) {
        assert_eq!(
            relay_rows.len(),
            desktop_rows.len(),
            "{kind:?}: row counts differ"
        );
        for (i, (r, d)) in relay_rows.iter().zip(desktop_rows).enumerate() {
            assert_eq!(r, d, "{kind:?} row {i} differs");
        }
    }
}

/// What a sync must reproduce: the served archive (arrival time and bytes) and every
/// derived table.
fn dump(db: &Path) -> Vec<String> {
    let conn = Connection::open(db).unwrap();
    let mut lines = Vec::new();
    for sql in [
        // The last column becomes the raw body: each file may compress it differently.
        "SELECT received_at, format, kind, event_key, outcome, id FROM deliveries
         WHERE outcome IN ('parsed', 'quarantined') ORDER BY received_at, event_key",
        "SELECT * FROM readings ORDER BY vehicle_id, recorded_at",
        "SELECT * FROM vehicle_errors ORDER BY vehicle_id, recorded_at, source_path, error_code",
        "SELECT id, make, model, year, first_seen_at, last_seen_at, needs_reauth, reauth_url FROM vehicles ORDER BY id",
        "SELECT key FROM event_keys ORDER BY key",
    ] {
        let mut statement = conn.prepare(sql).unwrap();
        let columns = statement.column_count();
        let rows = statement
            .query_map([], |row| {
                let mut line = String::new();
                for i in 0..columns {
                    if i == 5 && sql.contains("FROM deliveries") {
                        let body = fleetdash::store::bodies::read(&conn, row.get(i)?)?;
                        line.push_str(&hex::encode(body.unwrap_or_default()));
                        continue;
                    }
                    let value: rusqlite::types::Value = row.get(i)?;
                    // Delivery ids differ between the two files; the rest must not.
                    if i == 9
                        && (sql.contains("FROM readings") || sql.contains("FROM vehicle_errors"))
                    {
                        continue;
                    }
                    line.push_str(&format!("{value:?}|"));
                }
                Ok(line)
            })
            .unwrap();
        let mut rows: Vec<String> = rows.map(Result::unwrap).collect();
        // Same arrival and key: the bytes decide the order, as `hex(body)` did.
        rows.sort();
        lines.extend(rows);
    }
    lines
}

fn fleet(seed: u64, vehicles: usize, days: u32, format: Format) -> Vec<Delivery> {
    fleet_deliveries(&fleet_config(seed, vehicles, days), format)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_no_sync_token_configured_the_sync_api_is_404() {
    let server = TestServer::start().await;
    server.post_signed(&fixture("v4-vehicle-state.json")).await;
    let answer = reqwest::Client::new()
        .get(server.url(SYNC_PATH))
        .bearer_auth(SYNC_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 404);
    let error = relay_client(&server, SYNC_TOKEN)
        .page(0, 10, 0)
        .await
        .unwrap_err();
    assert!(matches!(error, SyncError::NotEnabled(_)), "{error:?}");
    assert!(
        error.to_string().contains("FLEETDASH_SYNC_TOKEN"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_or_wrong_token_gets_401_and_no_data() {
    let server = TestServer::start_relay(SYNC_TOKEN).await;
    let body = fixture("v4-vehicle-state.json");
    assert_eq!(server.post_signed(&body).await.status(), 200);
    let client = reqwest::Client::new();
    let url = server.url(SYNC_PATH);
    let attempts = [
        None,
        Some("Bearer wrong".to_owned()),
        Some(format!("Bearer {SYNC_TOKEN}x")),
        Some(format!("Bearer {}", &SYNC_TOKEN[..SYNC_TOKEN.len() - 1])),
        Some(format!("Basic {SYNC_TOKEN}")),
        Some(SYNC_TOKEN.to_owned()),
    ];
    for authorization in attempts {
        let mut request = client.get(&url);
        if let Some(value) = &authorization {
            request = request.header("authorization", value);
        }
        let answer = request.send().await.unwrap();
        assert_eq!(answer.status(), 401, "{authorization:?}");
        assert_eq!(answer.headers()["www-authenticate"], "Bearer");
        let text = answer.text().await.unwrap();
        assert!(!text.contains("deliveries"), "{text}");
        assert!(!text.contains("body"), "{text}");
    }
    let error = relay_client(&server, "wrong")
        .page(0, 10, 0)
        .await
        .unwrap_err();
    assert!(matches!(error, SyncError::Unauthorized(_)), "{error:?}");
    assert!(error.is_permanent());

    // The right token, in any case of "Bearer", gets the delivery byte for byte.
    let answer = client
        .get(&url)
        .header("authorization", format!("bearer {SYNC_TOKEN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let page = relay_client(&server, SYNC_TOKEN)
        .page(0, 10, 0)
        .await
        .unwrap();
    assert_eq!(page.deliveries.len(), 1);
    assert_eq!(page.deliveries[0].body().unwrap(), body);
    assert_eq!(page.remaining, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_are_bounded_in_arrival_order_and_skip_verify_notes_and_duplicates() {
    let server = TestServer::start_relay(SYNC_TOKEN).await;
    assert_eq!(
        server
            .post_signed(&fixture("v4-verify.json"))
            .await
            .status(),
        200
    );
    let deliveries = fleet(5, 2, 1, Format::V4);
    let total = deliveries.len() as u64;
    // One after another, so arrival order is the schedule's order.
    for delivery in &deliveries {
        assert_eq!(server.post_signed(&delivery.body).await.status(), 200);
    }
    // A retry of the first: stored once, served once.
    assert_eq!(server.post_signed(&deliveries[0].body).await.status(), 200);
    let unreadable = br#"{"eventType":"SOMETHING_NEW","data":{}}"#;
    assert_eq!(server.post_signed(unreadable).await.status(), 200);

    let relay = relay_client(&server, SYNC_TOKEN);
    let mut bodies = Vec::new();
    let mut after = 0;
    loop {
        let page = relay.page(after, 7, 0).await.unwrap();
        assert!(page.deliveries.len() <= 7);
        assert!(page.deliveries.windows(2).all(|w| w[0].id < w[1].id));
        if page.deliveries.is_empty() {
            assert_eq!(page.remaining, 0);
            assert_eq!(page.next, after);
            break;
        }
        assert_eq!(
            page.remaining,
            total + 1 - bodies.len() as u64 - page.deliveries.len() as u64
        );
        bodies.extend(page.deliveries.iter().map(|d| d.body().unwrap()));
        after = page.next;
    }
    let mut expected: Vec<Vec<u8>> = deliveries.into_iter().map(|d| d.body).collect();
    expected.push(unreadable.to_vec());
    assert_eq!(bodies, expected);

    // Out-of-range parameters are clamped or refused plainly, never a crash.
    let client = reqwest::Client::new();
    let get = |query: &str| {
        client
            .get(format!("{}?{query}", server.url(SYNC_PATH)))
            .bearer_auth(SYNC_TOKEN)
            .send()
    };
    assert_eq!(get("limit=0").await.unwrap().status(), 200);
    assert_eq!(get("after=-5&limit=999999").await.unwrap().status(), 200);
    assert_eq!(get("after=abc").await.unwrap().status(), 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_desktop_that_was_off_syncs_and_exports_the_relays_rows_exactly() {
    let server = TestServer::start_relay(SYNC_TOKEN).await;
    deliver_acknowledged(&server.webhook_url(), fleet(11, 4, 3, Format::V4)).await;
    deliver_acknowledged(&server.webhook_url(), fleet(12, 3, 2, Format::V2)).await;
    let unreadable = br#"{"eventType":"SOMETHING_NEW","data":{}}"#;
    assert_eq!(server.post_signed(unreadable).await.status(), 200);

    let (_dir, db) = desktop();
    let progress = sync_once(&relay_client(&server, SYNC_TOKEN), &db).await;
    assert!(progress.up_to_date);
    assert_eq!(progress.remaining, 0);
    assert_eq!(progress.totals.quarantined, 1);
    assert_eq!(progress.totals.duplicates, 0);
    let relay_served = count(
        &server.db(),
        "SELECT count(*) FROM deliveries WHERE outcome IN ('parsed', 'quarantined')",
    );
    assert_eq!(progress.totals.pulled as i64, relay_served);
    assert!(relay_served > 500, "{relay_served}");
    // Both archives keep their bodies compressed; the dump compares them decoded.
    for archive in [&server.db, &db] {
        let raw = count(
            &Connection::open(archive).unwrap(),
            "SELECT count(*) FROM deliveries WHERE body IS NOT NULL AND ifnull(body_codec, 0) = 0 AND length(body) > 400",
        );
        assert_eq!(raw, 0, "{}", archive.display());
    }

    assert_same_exports(&server.db, &db);
    assert_eq!(dump(&server.db), dump(&db));
    let sessions = exports(&db)
        .into_iter()
        .find(|(k, _)| *k == ExportKind::Sessions)
        .unwrap()
        .1;
    assert!(sessions.len() >= 4, "{} sessions", sessions.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_and_repeated_syncs_change_nothing() {
    let server = TestServer::start_relay(SYNC_TOKEN).await;
    deliver_acknowledged(&server.webhook_url(), fleet(21, 3, 7, Format::V4)).await;
    let relay = relay_client(&server, SYNC_TOKEN);

    // Stopped after its first page (as by Ctrl-C or the laptop's lid), then resumed.
    let (_dir, db) = desktop();
    let mut conn = store::open(&db, &StoreOptions::default()).unwrap();
    let (stop_tx, stop) = watch::channel(false);
    let mut pages = 0;
    let stopped = fleetdash::sync::run(&relay, &mut conn, true, stop, |event| {
        if let Event::Progress(_) = event {
            pages += 1;
            let _ = stop_tx.send(true);
        }
    })
    .await
    .unwrap();
    assert_eq!(pages, 1);
    assert!(!stopped.up_to_date);
    assert!(stopped.remaining > 0, "{stopped:?}");
    let resumed = sync_once(&relay, &db).await;
    assert_eq!(
        resumed.totals.duplicates, 0,
        "the resumed sync pulled again"
    );
    assert_eq!(
        stopped.totals.pulled + resumed.totals.pulled,
        count(
            &server.db(),
            "SELECT count(*) FROM deliveries WHERE outcome = 'parsed'"
        ) as u64
    );
    let after_first = dump(&db);
    assert_eq!(after_first, dump(&server.db));

    // Again: nothing to pull, nothing changes.
    let again = sync_once(&relay, &db).await;
    assert_eq!(again.totals.pulled, 0);
    assert_eq!(dump(&db), after_first);

    // A page applied twice (a cursor lost with a restored backup): every delivery is a
    // duplicate and the tables stay as they were.
    let page = relay.page(0, 50, 0).await.unwrap();
    let report = apply_page(&mut conn, relay.url(), &page).unwrap();
    assert_eq!(report.duplicates, 50);
    assert_eq!(report.new, 0);
    assert_eq!(dump(&db), after_first);
    assert_same_exports(&server.db, &db);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_received_both_locally_and_through_the_relay_is_stored_once() {
    let relay_server = TestServer::start_relay(SYNC_TOKEN).await;
    let local_server = TestServer::start().await;
    let deliveries = fleet(31, 3, 2, Format::V4);
    let half = deliveries.len() / 2;
    deliver_acknowledged(&relay_server.webhook_url(), deliveries.clone()).await;
    deliver_acknowledged(&local_server.webhook_url(), deliveries[..half].to_vec()).await;

    let progress = sync_once(&relay_client(&relay_server, SYNC_TOKEN), &local_server.db).await;
    assert_eq!(progress.totals.duplicates as usize, half);
    assert_eq!(progress.totals.new as usize, deliveries.len() - half);
    assert_eq!(
        count(
            &local_server.db(),
            "SELECT count(*) FROM deliveries WHERE outcome = 'parsed'"
        ) as usize,
        deliveries.len()
    );
    assert_same_exports(&relay_server.db, &local_server.db);
    // Every copy keeps the relay's arrival time.
    assert_eq!(dump(&relay_server.db), dump(&local_server.db));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_following_sync_stores_a_new_delivery_within_seconds_through_long_polling() {
    let server = TestServer::start_relay(SYNC_TOKEN).await;
    let deliveries = fleet(41, 2, 1, Format::V4);
    let (first, last) = deliveries.split_at(deliveries.len() - 1);
    let (first, last) = (first.to_vec(), last.to_vec());
    let first_len = first.len();
    deliver_acknowledged(&server.webhook_url(), first).await;

    let (_dir, db) = desktop();
    let relay = relay_client(&server, SYNC_TOKEN);
    let (stop_tx, stop) = watch::channel(false);
    let (events_tx, events) = std::sync::mpsc::channel();
    let follower = {
        let db = db.clone();
        tokio::spawn(async move {
            let mut conn = store::open(&db, &StoreOptions::default()).unwrap();
            fleetdash::sync::run(&relay, &mut conn, true, stop, |event| {
                let _ = events_tx.send(event);
            })
            .await
        })
    };
    let caught_up = tokio::task::spawn_blocking(move || {
        loop {
            match events.recv_timeout(Duration::from_secs(20)) {
                Ok(Event::Progress(p)) if p.up_to_date => return true,
                Ok(_) => continue,
                Err(_) => return false,
            }
        }
    });
    assert!(caught_up.await.unwrap(), "the follower never caught up");
    let parsed = |db: &Path| {
        count(
            &Connection::open(db).unwrap(),
            "SELECT count(*) FROM deliveries WHERE outcome = 'parsed'",
        )
    };
    assert_eq!(parsed(&db) as usize, first_len);

    // The follower is now parked in a long poll (20 s); the delivery must wake it.
    deliver_acknowledged(&server.webhook_url(), last).await;
    let db2 = db.clone();
    let arrived = tokio::task::spawn_blocking(move || {
        // Under the poll's 20 s, so only a wake-up can make it.
        wait_until(Duration::from_secs(15), || {
            parsed(&db2) as usize == first_len + 1
        })
    });
    assert!(
        arrived.await.unwrap(),
        "the new delivery did not arrive within 15 s"
    );

    stop_tx.send(true).unwrap();
    let stopped = tokio::time::timeout(Duration::from_secs(5), follower)
        .await
        .expect("the follower did not stop")
        .unwrap()
        .unwrap();
    assert_eq!(stopped.totals.pulled as usize, deliveries.len());
    assert_same_exports(&server.db, &db);
}

/// The desktop sleeps eight hours a night, from `from_hour` (UTC).
fn asleep(from_hour: i64, at_ms: i64) -> bool {
    let hour = at_ms.rem_euclid(86_400_000) / 3_600_000;
    (hour - from_hour).rem_euclid(24) < 8
}

/// The desktop's callback as Smartcar meets it: asleep eight hours a night. Each attempt
/// is placed at its simulated time (the event's time plus Smartcar's retry waits, 25, 50
/// and 100 s) and answered 503 while the desktop sleeps, else passed on to the desktop's
/// real callback.
struct SleepyDesktop {
    from_hour: i64,
    event_at_ms: std::collections::HashMap<Vec<u8>, i64>,
    attempts: std::sync::Mutex<std::collections::HashMap<Vec<u8>, usize>>,
    target: String,
    http: reqwest::Client,
}

async fn sleepy_callback(
    axum::extract::State(gate): axum::extract::State<std::sync::Arc<SleepyDesktop>>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> axum::http::StatusCode {
    let attempt = {
        let mut attempts = gate.attempts.lock().unwrap();
        let n = attempts.entry(body.to_vec()).or_insert(0);
        *n += 1;
        *n - 1
    };
    let waited_secs: u64 = fleetdash::sim::deliver::RETRY_DELAYS_SECS[..attempt.min(3)]
        .iter()
        .sum();
    let at_ms = gate.event_at_ms[body.as_ref()] + waited_secs as i64 * 1000;
    if asleep(gate.from_hour, at_ms) {
        return axum::http::StatusCode::SERVICE_UNAVAILABLE;
    }
    let answer = gate
        .http
        .post(&gate.target)
        .header("content-type", "application/json")
        .header("SC-Signature", headers["SC-Signature"].clone())
        .body(body)
        .send()
        .await
        .unwrap();
    axum::http::StatusCode::from_u16(answer.status().as_u16()).unwrap()
}

/// Sessions keyed by vehicle and start, with the rest of the row.
fn sessions(db: &Path) -> std::collections::BTreeMap<(String, String), csv::StringRecord> {
    wait_derived(db);
    exports(db)
        .into_iter()
        .find(|(k, _)| *k == ExportKind::Sessions)
        .unwrap()
        .1
        .into_iter()
        .map(|r| ((r[0].to_owned(), r[2].to_owned()), r))
        .collect()
}

/// A desktop's sessions against the relay's: (lost, misrecorded, spurious).
fn session_damage(relay_db: &Path, desktop_db: &Path) -> (usize, usize, usize) {
    let (truth, seen) = (sessions(relay_db), sessions(desktop_db));
    let lost = truth.keys().filter(|k| !seen.contains_key(*k)).count();
    let wrong = truth
        .iter()
        .filter(|(k, row)| seen.get(*k).is_some_and(|s| s != *row))
        .count();
    let spurious = seen.keys().filter(|k| !truth.contains_key(*k)).count();
    (lost, wrong, spurious)
}

/// A desktop whose callback sleeps from `from_hour` receives `week` from the simulated
/// Smartcar; returns the desktop and how many deliveries Smartcar dropped.
async fn sleepy_desktop(week: &[Delivery], from_hour: i64) -> (TestServer, u64) {
    let desktop = TestServer::start().await;
    let gate = std::sync::Arc::new(SleepyDesktop {
        from_hour,
        event_at_ms: week.iter().map(|d| (d.body.clone(), d.at_ms)).collect(),
        attempts: Default::default(),
        target: desktop.webhook_url(),
        http: reqwest::Client::new(),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gate_url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(
        axum::serve(
            listener,
            axum::Router::new()
                .route("/", axum::routing::post(sleepy_callback))
                .with_state(gate),
        )
        .into_future(),
    );
    // Dropped: every attempt, from the event to the last retry 175 s later, met it asleep.
    let expected = week
        .iter()
        .filter(|d| asleep(from_hour, d.at_ms) && asleep(from_hour, d.at_ms + 175_000))
        .count() as u64;
    // Many deliveries wait through every retry: more at once keeps the test short.
    let options = DeliverOptions {
        concurrency: 48,
        ..fast_delivery(&gate_url)
    };
    let (summary, _) = deliver_all(week.to_vec(), &token(), &options).await;
    assert_eq!(
        summary.failed, expected,
        "dropped after every retry: {summary}"
    );
    assert_eq!(summary.acknowledged + summary.failed, week.len() as u64);
    (desktop, summary.failed)
}

/// The scenario the relay exists for: a simulated week (5 vehicles) in which the desktop's
/// own callback is down eight hours every night, while the relay receives everything.
/// Smartcar (simulated, with its retries) delivers to both. Without the relay the desktop
/// loses or misrecords charging sessions; after syncing from the relay it has every one,
/// exactly. Two nights: 23:00 to 07:00 UTC, and 18:00 to 02:00 UTC (a laptop closed when
/// the office does, in the fleet's time zone, UTC+1). Run with `--nocapture` for the counts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_week_with_the_desktop_asleep_every_night_loses_sessions_without_the_relay_and_none_with_it()
 {
    let week = fleet(77, 5, 7, Format::V4);
    let relay = TestServer::start_relay(SYNC_TOKEN).await;
    deliver_acknowledged(&relay.webhook_url(), week.clone()).await;
    let truth = sessions(&relay.db).len();
    assert!(truth >= 20, "{truth} sessions in the week");

    for from_hour in [23, 18] {
        let (desktop, dropped) = sleepy_desktop(&week, from_hour).await;
        assert!(dropped > 0);
        let (lost, wrong, spurious) = session_damage(&relay.db, &desktop.db);
        eprintln!(
            "asleep {from_hour:02}:00-{:02}:00 UTC, desktop alone: Smartcar dropped {dropped} of \
             {} deliveries; of the week's {truth} charging sessions, {lost} lost, {wrong} \
             recorded wrong, {spurious} recorded that did not happen",
            (from_hour + 8) % 24,
            week.len()
        );
        assert!(
            lost + wrong + spurious > 0,
            "the nightly gap must cost sessions"
        );

        // With the relay: the desktop syncs when it wakes up.
        let progress = sync_once(&relay_client(&relay, SYNC_TOKEN), &desktop.db).await;
        assert!(progress.up_to_date);
        assert_eq!(progress.totals.new, dropped);
        let damage = session_damage(&relay.db, &desktop.db);
        eprintln!(
            "asleep {from_hour:02}:00-{:02}:00 UTC, with the relay: {} lost, {} recorded \
             wrong, {} that did not happen",
            (from_hour + 8) % 24,
            damage.0,
            damage.1,
            damage.2
        );
        assert_eq!(damage, (0, 0, 0));
        assert_same_exports(&relay.db, &desktop.db);
    }
}

/// `fleetdash sync` as a user runs it, with the token in the environment (or none) and the
/// saved settings in `secrets`' folder.
fn sync_cli(from: Option<&str>, token: Option<&str>, db: &Path, secrets: &Path) -> Output {
    let mut command = fleetdash();
    command
        .arg("sync")
        .arg("--db")
        .arg(db)
        .env("FLEETDASH_SECRETS", secrets)
        .env_remove("FLEETDASH_SYNC_TOKEN")
        .stdin(std::process::Stdio::null());
    if let Some(from) = from {
        command.args(["--from", from]);
    }
    if let Some(token) = token {
        command.env("FLEETDASH_SYNC_TOKEN", token);
    }
    command.output().unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The command against a `serve` process: syncs, repeats with nothing new, refuses wrong
/// and missing tokens and a relay without the API in words, and after the relay's token is
/// rotated the old one is refused and the new one (saved as the app saves it) resumes.
#[test]
fn the_sync_command_against_serve_syncs_refuses_in_words_and_survives_a_token_rotation() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let relay_db = dir.path().join("relay.sqlite3");
    let (_desktop_dir, db) = desktop();
    let secrets = dir.path().join("config").join("secrets.json");
    let week = fleet(91, 3, 2, Format::V4);
    let (before, after) = week.split_at(week.len() / 2);
    // Below the ephemeral range, so no outgoing connection can take the address while
    // the relay restarts on it for the token rotation further down.
    let relay = ServeProcess::start_on(
        &format!("127.0.0.1:{}", common::free_fixed_port()),
        &relay_db,
        &[("FLEETDASH_SYNC_TOKEN", SYNC_TOKEN)],
    );
    let url = format!("http://{}", relay.addr);
    runtime.block_on(deliver_acknowledged(&relay.webhook_url(), before.to_vec()));

    let first = sync_cli(Some(&url), Some(SYNC_TOKEN), &db, &secrets);
    assert!(first.status.success(), "{}", text(&first));
    let expected = format!("pulled {} deliveries ({} new", before.len(), before.len());
    assert!(text(&first).contains(&expected), "{}", text(&first));
    assert!(text(&first).contains("up to date with"), "{}", text(&first));
    let again = sync_cli(Some(&url), Some(SYNC_TOKEN), &db, &secrets);
    assert!(
        text(&again).contains("pulled 0 deliveries"),
        "{}",
        text(&again)
    );

    let wrong = sync_cli(Some(&url), Some("not-the-token"), &db, &secrets);
    assert!(!wrong.status.success());
    assert!(
        text(&wrong).contains("refused the sync token (401)"),
        "{}",
        text(&wrong)
    );
    let none = sync_cli(Some(&url), None, &db, &secrets);
    assert!(!none.status.success());
    assert!(text(&none).contains("no sync token"), "{}", text(&none));
    assert!(text(&none).contains("Settings"), "{}", text(&none));
    let nowhere = sync_cli(None, Some(SYNC_TOKEN), &db, &secrets);
    assert!(!nowhere.status.success());
    assert!(text(&nowhere).contains("--from"), "{}", text(&nowhere));

    let plain = ServeProcess::start(&dir.path().join("plain.sqlite3"), &[]);
    let off = sync_cli(
        Some(&format!("http://{}", plain.addr)),
        Some(SYNC_TOKEN),
        &db,
        &secrets,
    );
    assert!(!off.status.success());
    assert!(text(&off).contains("no sync API (404)"), "{}", text(&off));

    // Rotation: the relay restarts (same address) with a new token; deliveries go on.
    let addr = relay.addr.to_string();
    drop(relay);
    let rotated = "rotated-sync-token-9876543210zyxwvut";
    let relay = ServeProcess::start_on(&addr, &relay_db, &[("FLEETDASH_SYNC_TOKEN", rotated)]);
    runtime.block_on(deliver_acknowledged(&relay.webhook_url(), after.to_vec()));
    let old = sync_cli(Some(&url), Some(SYNC_TOKEN), &db, &secrets);
    assert!(
        text(&old).contains("refused the sync token (401)"),
        "{}",
        text(&old)
    );
    fleetdash::commands::sync::save_relay(
        &fleetdash::account::AccountPaths::file(&secrets),
        &url,
        Some(&Secret::new(rotated)),
    )
    .unwrap();
    let resumed = sync_cli(None, None, &db, &secrets);
    assert!(resumed.status.success(), "{}", text(&resumed));
    let expected = format!("pulled {} deliveries ({} new", after.len(), after.len());
    assert!(text(&resumed).contains(&expected), "{}", text(&resumed));
    drop(relay);
    assert_same_exports(&relay_db, &db);
    assert_eq!(dump(&relay_db), dump(&db));
}

/// A desktop's long poll must not hold a relay's shutdown (a restart, an upgrade) back for
/// the poll's 20 s: it is answered at once, empty, and the relay stops.
#[test]
fn stopping_the_relay_answers_a_waiting_long_poll_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut relay = ServeProcess::start(
        &dir.path().join("relay.sqlite3"),
        &[
            ("FLEETDASH_SYNC_TOKEN", SYNC_TOKEN),
            ("RUST_LOG", "fleetdash::server::sync=debug"),
        ],
    );
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let url = format!("http://{}{SYNC_PATH}?after=0&wait=25", relay.addr);
    let poll = runtime.spawn(async move {
        let answer = reqwest::Client::new()
            .get(url)
            .bearer_auth(SYNC_TOKEN)
            .send()
            .await
            .unwrap();
        (answer.status().as_u16(), answer.text().await.unwrap())
    });
    relay.wait_for_log("sync long poll waiting", Duration::from_secs(30));
    relay.signal(libc::SIGTERM);
    let status = relay.wait_exit(Duration::from_secs(8));
    assert!(
        status.is_some_and(|s| s.success()),
        "the relay did not stop promptly"
    );
    let (status, body) = runtime.block_on(poll).unwrap();
    assert_eq!(status, 200, "{body}");
    let page: fleetdash::server::sync::SyncPage = serde_json::from_str(&body).unwrap();
    assert!(page.deliveries.is_empty());
}
