//! `fleetdash serve` sending alerts: to an ntfy-compatible capture server and a real SMTP
//! server (`mailin-embedded`), both started by the test on loopback. One message per alert
//! and channel; a 500 is retried; a restart sends nothing twice and what opened meanwhile
//! once; ingest goes on while the notification server hangs.

mod common;

use std::net::TcpListener as StdListener;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use common::*;
use fleetdash::domain::time::now_ms;

const HOUR: i64 = 3_600_000;

/// One POST the capture server received.
#[derive(Debug, Clone)]
struct Captured {
    title: String,
    tags: String,
    priority: String,
    body: String,
}

#[derive(Clone, Default)]
struct Capture {
    received: Arc<Mutex<Vec<Captured>>>,
    /// Answer this many POSTs with 500 before answering 200.
    fail_first: Arc<AtomicUsize>,
    /// Never answer.
    hang: bool,
}

impl Capture {
    fn titles(&self) -> Vec<String> {
        let received = self.received.lock().unwrap();
        received.iter().map(|c| c.title.clone()).collect()
    }

    fn count(&self, title: &str) -> usize {
        self.titles().iter().filter(|t| *t == title).count()
    }
}

async fn capture_handler(
    State(capture): State<Capture>,
    headers: HeaderMap,
    body: String,
) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    capture.received.lock().unwrap().push(Captured {
        title: header("title"),
        tags: header("tags"),
        priority: header("priority"),
        body,
    });
    if capture.hang {
        std::future::pending::<()>().await;
    }
    let failing = capture
        .fail_first
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if failing {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    }
}

/// An ntfy-like server on loopback; returns its topic URL.
async fn start_capture(capture: Capture) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/fleet-alerts", listener.local_addr().unwrap());
    let app = axum::Router::new()
        .route("/fleet-alerts", axum::routing::post(capture_handler))
        .with_state(capture);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

/// What the SMTP server received: one whole message text per mail.
#[derive(Clone, Default)]
struct Mailbox {
    mails: Arc<Mutex<Vec<String>>>,
    current: Vec<u8>,
}

impl mailin_embedded::Handler for Mailbox {
    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.current.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> mailin_embedded::Response {
        let mail = String::from_utf8_lossy(&std::mem::take(&mut self.current)).into_owned();
        self.mails.lock().unwrap().push(mail);
        mailin_embedded::response::OK
    }
}

impl Mailbox {
    fn with_subject(&self, subject: &str) -> usize {
        let mails = self.mails.lock().unwrap();
        mails
            .iter()
            .filter(|m| m.contains(&format!("Subject: {subject}")))
            .count()
    }
}

/// A real SMTP server on loopback (plain, as a local relay); returns its `smtp://` URL.
fn start_smtp(mailbox: Mailbox) -> String {
    let listener = StdListener::bind("127.0.0.1:0").unwrap();
    let url = format!("smtp://{}", listener.local_addr().unwrap());
    let mut server = mailin_embedded::Server::new(mailbox);
    server
        .with_name("mail.test")
        .with_ssl(mailin_embedded::SslConfig::None)
        .unwrap()
        .with_tcp_listener(listener);
    std::thread::spawn(move || {
        let _ = server.serve();
    });
    url
}

/// A database with vehicles v1 ("Van 1") and v2 ("Van 2") whose last delivery arrived
/// four hours ago (so `no_deliveries` is open), and only the rules under test on.
fn fleet_gone_silent(dir: &Path) -> std::path::PathBuf {
    let db = dir.join("fleet.sqlite3");
    let conn = create_db(&db);
    conn.execute_batch(
        "INSERT INTO vehicles(id, make, model, year, name) VALUES
             ('v1', 'Ford', 'E-Transit', 2024, 'Van 1'), ('v2', 'Ford', 'E-Transit', 2024, 'Van 2');",
    )
    .unwrap();
    conn.execute(
        "INSERT INTO deliveries(received_at, format, kind, outcome) VALUES (?1, 'v4', 'VEHICLE_STATE', 'parsed')",
        [now_ms() - 4 * HOUR],
    )
    .unwrap();
    drop(conn);
    // Whatever the hour the test runs at: no 06:00 check, no quiet car.
    for rule in [
        "low_battery_before_shift",
        "charging_stopped_early",
        "vehicle_quiet",
    ] {
        let out = run(&db, &["alerts", "set", rule, "--off"]);
        assert!(out.success, "{}", out.stderr);
    }
    db
}

/// A v4 delivery: `vehicle` plugged in at 40 %, not charging, as the car recorded it at
/// `at_ms`.
fn plugged_not_charging(event_id: &str, vehicle: &str, at_ms: i64) -> Vec<u8> {
    let meta = serde_json::json!({"oemUpdatedAt": at_ms});
    serde_json::json!({
        "eventId": event_id,
        "eventType": "VEHICLE_STATE",
        "vehicleId": vehicle,
        "data": {
            "vehicle": {"id": vehicle, "make": "FORD", "model": "E-Transit", "year": 2024},
            "signals": [
                {"code": "tractionbattery-stateofcharge", "body": {"unit": "percent", "value": 40}, "meta": meta},
                {"code": "charge-ischargingcableconnected", "body": {"value": true}, "meta": meta},
                {"code": "charge-ischarging", "body": {"value": false}, "meta": meta}
            ]
        },
        "meta": {"version": "4.0", "deliveryId": format!("d-{event_id}"), "deliveredAt": now_ms(),
                 "webhookId": "w", "mode": "LIVE"}
    })
    .to_string()
    .into_bytes()
}

async fn deliver(serve: &ServeProcess, body: &[u8]) {
    let response = post(&serve.webhook_url(), body, Some(&sign(body))).await;
    assert_eq!(response.status(), 200);
}

fn wait_for(what: &str, limit: Duration, condition: impl FnMut() -> bool) {
    assert!(wait_until(limit, condition), "{what}");
}

fn sent_rows(db: &Path) -> Vec<(String, String, i64, bool)> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut statement = conn
        .prepare(
            "SELECT rule, channel, attempts, sent_at IS NOT NULL FROM alert_notifications
             ORDER BY opened_at, rule, channel",
        )
        .unwrap();
    statement
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_alert_goes_out_once_by_url_and_email_a_500_is_retried_and_a_restart_resends_nothing()
{
    let dir = tempfile::tempdir().unwrap();
    let db = fleet_gone_silent(dir.path());
    let capture = Capture::default();
    capture.fail_first.store(1, Ordering::SeqCst);
    let url = start_capture(capture.clone()).await;
    let mailbox = Mailbox::default();
    let smtp = start_smtp(mailbox.clone());
    let env = [
        ("FLEETDASH_NOTIFY_URL", url.as_str()),
        ("FLEETDASH_SMTP_URL", smtp.as_str()),
        ("FLEETDASH_NOTIFY_EMAIL", "owner@fleet.test"),
    ];
    let mut serve = ServeProcess::start(&db, &env);

    // Open at start and never sent: sent once, by both channels; the URL's first answer is
    // a 500, so it is tried again.
    let silent = "No deliveries from Smartcar";
    wait_for(
        "no_deliveries reaches the URL twice",
        Duration::from_secs(30),
        || capture.count(silent) == 2,
    );
    wait_for("and the mailbox once", Duration::from_secs(20), || {
        mailbox.with_subject(silent) == 1
    });
    let first = capture.received.lock().unwrap()[0].clone();
    assert_eq!(first.priority, "high");
    assert!(first.tags.contains("no_deliveries"), "{}", first.tags);
    assert!(
        first.body.contains("Smartcar Dashboard") && first.body.contains("webhook"),
        "{}",
        first.body
    );
    serve.wait_for_log("an alert could not be sent", Duration::from_secs(5));

    // A van plugged in two hours ago that never charged: the delivery opens
    // plugged_not_charging (and ends the silence).
    deliver(
        &serve,
        &plugged_not_charging("e1", "v1", now_ms() - 2 * HOUR),
    )
    .await;
    let van1 = "Plugged in, not charging: Van 1";
    wait_for(
        "Van 1's alert by URL and email",
        Duration::from_secs(20),
        || capture.count(van1) == 1 && mailbox.with_subject(van1) == 1,
    );
    let listed = run(&db, &["alerts", "--format", "json"]);
    let open: serde_json::Value = serde_json::from_str(&listed.stdout).unwrap();
    let message = open
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["vehicle_name"] == "Van 1")
        .map(|a| a["message"].as_str().unwrap().to_owned())
        .expect("Van 1's alert is open");
    let received = capture.received.lock().unwrap().clone();
    let van1_post = received.iter().find(|c| c.title == van1).unwrap();
    assert_eq!(van1_post.body, message, "the body is the alert's message");
    assert_eq!(van1_post.priority, "high");

    // Restart. Nothing is sent again; Van 2, which opens while the server is down, is sent
    // once when it is back.
    serve.signal(libc::SIGTERM);
    assert!(serve.wait_exit(Duration::from_secs(20)).is_some());
    // Van 2's delivery arrives at a server that sends no alerts (no settings).
    let quiet = ServeProcess::start(&db, &[]);
    deliver(
        &quiet,
        &plugged_not_charging("e2", "v2", now_ms() - 2 * HOUR),
    )
    .await;
    drop(quiet);
    let serve = ServeProcess::start(&db, &env);
    let van2 = "Plugged in, not charging: Van 2";
    wait_for(
        "Van 2's alert after the restart",
        Duration::from_secs(20),
        || capture.count(van2) == 1 && mailbox.with_subject(van2) == 1,
    );
    // The servers have the messages a moment before serve hears back and records them.
    wait_for("every send recorded", Duration::from_secs(20), || {
        sent_rows(&db).iter().all(|r| r.3)
    });
    let rows = sent_rows(&db);
    assert_eq!(
        capture
            .titles()
            .iter()
            .filter(|t| t.starts_with("Plugged"))
            .count(),
        2,
        "{:?}",
        capture.titles()
    );
    assert_eq!(capture.count(silent), 2, "1 failed + 1 sent");
    assert_eq!(mailbox.mails.lock().unwrap().len(), 3);
    let url_attempts: Vec<i64> = rows.iter().filter(|r| r.1 == "url").map(|r| r.2).collect();
    assert_eq!(url_attempts, [2, 1, 1], "{rows:?}");

    // In real time: at 0.01 h (36 s) the silence after the last delivery opens a new
    // no_deliveries while serve runs, sent once by each channel.
    assert!(run(&db, &["alerts", "set", "no_deliveries", "hours=0.01"]).success);
    wait_for(
        "a new silence reaches both",
        Duration::from_secs(90),
        || capture.count(silent) == 3 && mailbox.with_subject(silent) == 2,
    );
    assert_eq!(sent_rows(&db).len(), 8, "4 alerts x 2 channels");
    drop(serve);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_are_acknowledged_while_the_notification_server_hangs() {
    let dir = tempfile::tempdir().unwrap();
    let db = fleet_gone_silent(dir.path());
    let capture = Capture {
        hang: true,
        ..Capture::default()
    };
    let url = start_capture(capture.clone()).await;
    let serve = ServeProcess::start(&db, &[("FLEETDASH_NOTIFY_URL", url.as_str())]);
    wait_for("the alert is being sent", Duration::from_secs(20), || {
        capture.count("No deliveries from Smartcar") == 1
    });
    // The send hangs; 200 deliveries from 8 callers are all acknowledged meanwhile.
    let webhook = serve.webhook_url();
    let mut callers = Vec::new();
    for caller in 0..8 {
        let webhook = webhook.clone();
        callers.push(tokio::spawn(async move {
            for i in 0..25 {
                let body = v4_state(&format!("h-{caller}-{i}"), "v1", 50.0, now_ms());
                let response = post(&webhook, &body, Some(&sign(&body))).await;
                assert_eq!(response.status(), 200);
            }
        }));
    }
    for caller in callers {
        caller.await.unwrap();
    }
    let conn = rusqlite::Connection::open(&db).unwrap();
    assert_eq!(
        count(
            &conn,
            "SELECT count(*) FROM deliveries WHERE outcome = 'parsed'"
        ),
        201
    );
    assert_eq!(
        capture.count("No deliveries from Smartcar"),
        1,
        "still hanging"
    );
    assert_eq!(
        count(
            &conn,
            "SELECT count(*) FROM alert_notifications WHERE sent_at IS NULL"
        ),
        1
    );
}
