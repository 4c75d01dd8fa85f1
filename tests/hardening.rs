//! What anyone who knows the callback URL can do without a secret costs nothing, and the
//! writer fails fast when the database does.

mod common;

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use common::*;
use fleetdash::server::{AppState, Sink, router};
use fleetdash::smartcar::parse_webhook;
use fleetdash::store::{self, StoreError, StoreOptions, WriterHandle, spawn_writer};
use tower::ServiceExt;

fn file_bytes(db: &std::path::Path) -> u64 {
    ["", "-wal", "-shm"]
        .iter()
        .filter_map(|suffix| std::fs::metadata(format!("{}{suffix}", db.display())).ok())
        .map(|m| m.len())
        .sum()
}

/// A v4 verify challenge padded to `size` bytes with a field Smartcar does not send.
fn padded_verify(challenge: &str, size: usize) -> Vec<u8> {
    let bare = format!(r#"{{"eventType":"VERIFY","data":{{"challenge":"{challenge}"}},"pad":""}}"#);
    let pad = "x".repeat(size.saturating_sub(bare.len()));
    format!(r#"{{"eventType":"VERIFY","data":{{"challenge":"{challenge}"}},"pad":"{pad}"}}"#)
        .into_bytes()
}

#[tokio::test]
async fn five_hundred_unsigned_verify_challenges_are_answered_and_leave_only_their_time() {
    let server = TestServer::start().await;
    // The schema and first pages exist before counting.
    assert_eq!(
        reqwest::get(server.url("/healthz")).await.unwrap().status(),
        200
    );
    let before = file_bytes(&server.db);
    for n in 0..500 {
        let challenge = format!("challenge-{n}");
        let body = padded_verify(&challenge, 4096);
        assert_eq!(body.len(), 4096);
        let answer = post(&server.webhook_url(), &body, None).await;
        assert_eq!(answer.status(), 200);
        let json: serde_json::Value = answer.json().await.unwrap();
        assert_eq!(json["challenge"], sign(challenge.as_bytes()));
    }
    let conn = server.db();
    assert!(
        wait_until(Duration::from_secs(10), || {
            count(
                &conn,
                "SELECT count(*) FROM meta WHERE key = 'last_unsigned_verify_at'",
            ) == 1
        }),
        "the time of the last challenge was not kept"
    );
    assert_eq!(count(&conn, "SELECT count(*) FROM deliveries"), 0);
    let grown = file_bytes(&server.db).saturating_sub(before);
    eprintln!("500 unsigned 4 KiB verify challenges grew the database by {grown} bytes");
    // A handful of one-page commits of the `meta` row at most (once a second).
    assert!(grown < 256 * 1024, "grew by {grown} bytes");
}

#[tokio::test]
async fn an_unsigned_body_over_4_kib_gets_401_and_the_same_body_signed_is_answered() {
    let server = TestServer::start().await;
    let body = padded_verify("big-challenge", 4097);
    assert_eq!(post(&server.webhook_url(), &body, None).await.status(), 401);
    let signed = server.post_signed(&body).await;
    assert_eq!(signed.status(), 200);
    let json: serde_json::Value = signed.json().await.unwrap();
    assert_eq!(json["challenge"], sign(b"big-challenge"));
}

#[tokio::test]
async fn a_signed_body_that_is_a_plain_token_gets_401_and_nothing_is_stored() {
    let server = TestServer::start().await;
    // Anyone can have the verify answer sign a plain token of their choosing...
    let minted = "forged-delivery";
    let verify = format!(r#"{{"eventType":"VERIFY","data":{{"challenge":"{minted}"}}}}"#);
    let answer = post(&server.webhook_url(), verify.as_bytes(), None).await;
    let signature = answer.json::<serde_json::Value>().await.unwrap()["challenge"]
        .as_str()
        .unwrap()
        .to_owned();
    // ...so a body that is that token proves nothing, though its signature checks.
    let response = post(&server.webhook_url(), minted.as_bytes(), Some(&signature)).await;
    assert_eq!(response.status(), 401);
    assert_eq!(count(&server.db(), "SELECT count(*) FROM deliveries"), 0);
}

/// A writer on a fresh database with `busy` as its lock timeout; the file and its dir.
fn writer_on(busy: Duration) -> (WriterHandle, std::path::PathBuf, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fleetdash.sqlite3");
    let conn = store::open(
        &db,
        &StoreOptions {
            busy_timeout: busy,
            create: true,
        },
    )
    .unwrap();
    let (writer, _thread) = spawn_writer(conn).unwrap();
    (writer, db, dir)
}

fn ingest(
    writer: &WriterHandle,
    n: usize,
) -> tokio::task::JoinHandle<Result<store::Ingested, StoreError>> {
    let writer = writer.clone();
    let body = v4_state(
        &format!("evt-{n}"),
        "veh-1",
        50.0,
        1_700_000_000_000 + n as i64,
    );
    tokio::spawn(async move {
        let parsed = parse_webhook(&body, 1_700_000_000_000);
        writer.ingest(1_700_000_000_000, body.into(), parsed).await
    })
}

async fn wait_queued(writer: &WriterHandle, jobs: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while writer.queued() != jobs {
        assert!(
            Instant::now() < deadline,
            "{} queued, not {jobs}",
            writer.queued()
        );
        tokio::task::yield_now().await;
    }
}

/// Waits until the writer has taken its first batch (and so waits for the lock).
async fn wait_writing(writer: &WriterHandle) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while writer.stats().transactions == 0 || writer.queued() != 0 {
        assert!(Instant::now() < deadline, "the writer never started");
        tokio::task::yield_now().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_that_finds_the_database_busy_fails_whole_without_retrying_each_delivery() {
    let (writer, db, _dir) = writer_on(Duration::from_secs(3));
    let lock = rusqlite::Connection::open(&db).unwrap();
    lock.execute_batch("BEGIN IMMEDIATE").unwrap();
    // The probe occupies the writer (it waits for the lock) while twenty deliveries queue,
    // so they form one batch.
    let probe = {
        let writer = writer.clone();
        tokio::spawn(async move { writer.probe().await })
    };
    wait_writing(&writer).await;
    let deliveries: Vec<_> = (0..20).map(|n| ingest(&writer, n)).collect();
    wait_queued(&writer, 20).await;
    assert!(probe.await.unwrap().is_err());
    for delivery in deliveries {
        assert!(matches!(
            delivery.await.unwrap(),
            Err(StoreError::Unavailable(_))
        ));
    }
    let stats = writer.stats();
    // One transaction for the probe, one for the batch: not one more per delivery, each
    // waiting out the busy timeout again.
    assert!(stats.transactions <= 3, "{stats:?}");
    assert_eq!(stats.failed_jobs, 21, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_whose_caller_has_gone_are_not_written() {
    let (writer, db, _dir) = writer_on(Duration::from_secs(60));
    let lock = rusqlite::Connection::open(&db).unwrap();
    lock.execute_batch("BEGIN IMMEDIATE").unwrap();
    let probe = {
        let writer = writer.clone();
        tokio::spawn(async move { writer.probe().await })
    };
    wait_writing(&writer).await;
    let mut deliveries: Vec<_> = (0..5).map(|n| ingest(&writer, n)).collect();
    wait_queued(&writer, 5).await;
    // Three callers give up (their requests were dropped) while the writer waits.
    for gone in deliveries.drain(..3) {
        gone.abort();
        assert!(gone.await.unwrap_err().is_cancelled());
    }
    lock.execute_batch("ROLLBACK").unwrap();
    assert!(probe.await.unwrap().is_ok());
    for kept in deliveries {
        kept.await.unwrap().unwrap();
    }
    let conn = rusqlite::Connection::open(&db).unwrap();
    assert_eq!(count(&conn, "SELECT count(*) FROM deliveries"), 2);
}

#[tokio::test]
async fn healthz_probes_the_database_at_most_once_a_second() {
    let (writer, _db, _dir) = writer_on(Duration::from_secs(5));
    let app = router(AppState::new(token(), Sink::Store(writer.clone())));
    let started = Instant::now();
    for _ in 0..30 {
        let request = Request::get("/healthz").body(Body::empty()).unwrap();
        let answer = app.clone().oneshot(request).await.unwrap();
        assert_eq!(answer.status(), 200);
    }
    let elapsed = started.elapsed().as_secs();
    let probes = writer.stats().jobs;
    assert!(probes <= elapsed + 2, "{probes} probes in {elapsed} s");
}
