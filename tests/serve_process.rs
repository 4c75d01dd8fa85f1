//! `fleetdash serve` as a real process: durability across `kill -9`, graceful shutdown,
//! and logs that never carry a secret.

mod common;

use std::collections::HashSet;
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_delivery_survives_kill_9_mid_load() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fleetdash.sqlite3");
    let server = ServeProcess::start(&db, &[("RUST_LOG", "warn")]);
    let url = server.webhook_url();
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let acked_count = Arc::new(AtomicUsize::new(0));
    let client = reqwest::Client::new();
    let mut workers = Vec::new();
    for worker in 0..16 {
        let (url, client) = (url.clone(), client.clone());
        let (acknowledged, acked_count) = (acknowledged.clone(), acked_count.clone());
        workers.push(tokio::spawn(async move {
            for i in 0..2_000 {
                let event_id = format!("kill9-{worker}-{i}");
                let body = v4_state(
                    &event_id,
                    &format!("car-{worker}"),
                    50.0,
                    1_700_000_000_000 + i,
                );
                let sent = client
                    .post(&url)
                    .header("SC-Signature", sign(&body))
                    .body(body)
                    .timeout(Duration::from_secs(10))
                    .send()
                    .await;
                match sent {
                    Ok(response) if response.status().is_success() => {
                        acknowledged.lock().unwrap().push(event_id);
                        acked_count.fetch_add(1, Ordering::SeqCst);
                    }
                    // After the kill every request fails; stop.
                    _ => break,
                }
            }
        }));
    }
    assert!(
        wait_until(Duration::from_secs(60), || acked_count
            .load(Ordering::SeqCst)
            >= 500),
        "the server acknowledged too little before the kill"
    );
    let mut server = server;
    server.signal(libc::SIGKILL);
    assert!(server.wait_exit(Duration::from_secs(10)).is_some());
    for worker in workers {
        worker.await.unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    let conn = rusqlite::Connection::open(&db).unwrap();
    let stored: HashSet<String> = conn
        .prepare("SELECT key FROM event_keys")
        .unwrap()
        .query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let lost: Vec<&String> = acknowledged
        .iter()
        .filter(|id| !stored.contains(&format!("v4:{id}")))
        .collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged deliveries lost, e.g. {:?}",
        lost.len(),
        lost.first()
    );
    assert!(acknowledged.len() >= 500);
    let readings = count(&conn, "SELECT count(*) FROM battery_readings");
    assert!(readings >= acknowledged.len() as i64);
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");
}

#[test]
fn sigterm_right_after_start_up_stops_gracefully() {
    // The handlers are in place before "listening on" is printed, so even a signal sent
    // at once ends in a clean exit, never in death by the default action.
    let dir = tempfile::tempdir().unwrap();
    let mut server = ServeProcess::start(&dir.path().join("fleetdash.sqlite3"), &[]);
    server.signal(libc::SIGTERM);
    let status = server
        .wait_exit(Duration::from_secs(20))
        .expect("did not exit");
    assert!(status.success(), "{status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_the_delivery_in_flight_then_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fleetdash.sqlite3");
    let mut server = ServeProcess::start(
        &db,
        &[
            ("FLEETDASH_BUSY_TIMEOUT_MS", "60000"),
            ("RUST_LOG", "fleetdash=debug"),
        ],
    );
    // Hold the database so the delivery waits inside the server.
    let locker = rusqlite::Connection::open(&db).unwrap();
    locker.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let body = v4_state("in-flight", "car", 61.0, 1_700_000_000_000);
    let url = server.webhook_url();
    let in_flight =
        tokio::spawn(async move { post(&url, &body, Some(&sign(&body))).await.status() });
    // Once the request is on its way to the writer, ask the server to stop.
    server.wait_for_log("delivery received; storing", Duration::from_secs(30));
    server.signal(libc::SIGTERM);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "exited with a request in flight"
    );
    locker.execute_batch("ROLLBACK").unwrap();
    assert_eq!(in_flight.await.unwrap(), 200);
    let status = server
        .wait_exit(Duration::from_secs(10))
        .expect("did not exit");
    assert!(status.success(), "{status:?}");
    assert_eq!(
        count(
            &locker,
            "SELECT count(*) FROM event_keys WHERE key = 'v4:in-flight'"
        ),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_has_one_line_per_delivery_and_never_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fleetdash.sqlite3");
    let secret = "sekret-management-token-9f3b";
    let token = fleetdash::smartcar::ManagementToken::new(secret).unwrap();
    let mut server = ServeProcess::start(&db, &[("SMARTCAR_MANAGEMENT_TOKEN", secret)]);
    for name in FIXTURES {
        let body = fixture(name);
        let response = post(&server.webhook_url(), &body, Some(&token.sign(&body))).await;
        assert_eq!(response.status(), 200);
    }
    let body = fixture("v4-vehicle-state.json");
    assert_eq!(
        post(&server.webhook_url(), &body, Some("00"))
            .await
            .status(),
        401
    );
    server.signal(libc::SIGTERM);
    assert!(server.wait_exit(Duration::from_secs(10)).unwrap().success());
    let log = server.stderr_to_end(Duration::from_secs(10));
    let deliveries = log
        .lines()
        .filter(|l| l.contains(" delivery kind="))
        .count();
    assert_eq!(deliveries, 5, "{log}");
    assert!(
        log.contains("outcome=\"parsed\"") && log.contains("ms="),
        "{log}"
    );
    assert!(log.contains("SC-Signature"), "the refusal is logged: {log}");
    assert!(!log.contains(secret), "{log}");
    assert!(!log.contains(&token.sign(&body)), "{log}");
}

#[test]
fn serve_without_a_management_token_says_what_to_do_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let output = fleetdash()
        .args(["serve", "--listen", "127.0.0.1:0", "--db"])
        .arg(dir.path().join("db.sqlite3"))
        .env_remove("SMARTCAR_MANAGEMENT_TOKEN")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("SMARTCAR_MANAGEMENT_TOKEN"), "{stderr}");
    assert!(stderr.contains("Smartcar Dashboard"), "{stderr}");
}

#[test]
fn serve_on_a_busy_port_says_so_and_fails() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let output = fleetdash()
        .args([
            "serve",
            "--listen",
            &taken.local_addr().unwrap().to_string(),
            "--db",
        ])
        .arg(dir.path().join("db.sqlite3"))
        .env("SMARTCAR_MANAGEMENT_TOKEN", TOKEN)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--listen"), "{stderr}");
}

/// Starts `serve --listen LISTEN`, returns its stderr once its "listening on" line is out.
fn stderr_of_serve_on(listen: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut child = fleetdash()
        .args(["serve", "--listen", listen, "--db"])
        .arg(dir.path().join("db.sqlite3"))
        .env("SMARTCAR_MANAGEMENT_TOKEN", TOKEN)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut stdout, &mut line).unwrap();
    assert!(line.contains("listening on"), "{line}");
    // The warning is written before the address; what is on stderr now is all there is.
    let _ = child.kill();
    let output = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn serve_warns_in_words_when_it_listens_beyond_loopback_and_not_on_loopback() {
    let exposed = stderr_of_serve_on("0.0.0.0:0");
    assert!(exposed.contains("listening beyond loopback"), "{exposed}");
    assert!(exposed.contains("unencrypted"), "{exposed}");
    assert!(exposed.contains("Caddy"), "{exposed}");
    let local = stderr_of_serve_on("127.0.0.1:0");
    assert!(!local.contains("beyond loopback"), "{local}");
}

#[test]
fn serve_refuses_a_sync_token_that_could_be_guessed_or_is_the_management_token() {
    let dir = tempfile::tempdir().unwrap();
    let long_management = "m".repeat(40);
    for (management, sync, says) in [
        (TOKEN, "short-sync-token", "too short"),
        (
            long_management.as_str(),
            long_management.as_str(),
            "same as the Smartcar management token",
        ),
    ] {
        let db = dir.path().join("db.sqlite3");
        let output = fleetdash()
            .args(["serve", "--listen", "127.0.0.1:0", "--db"])
            .arg(&db)
            .env("SMARTCAR_MANAGEMENT_TOKEN", management)
            .env("FLEETDASH_SYNC_TOKEN", sync)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            !output.status.success(),
            "serve started with sync token {sync:?}"
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(says), "{stderr}");
        assert!(stderr.contains("openssl rand -hex 32"), "{stderr}");
        assert!(
            !stderr.contains(&long_management),
            "the token was printed: {stderr}"
        );
        assert!(!db.exists(), "the database was touched before the check");
    }
}
