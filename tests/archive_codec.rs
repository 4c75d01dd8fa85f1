//! The compressed archive (issue 21): every body comes back exactly as Smartcar sent it,
//! whatever dictionary compressed it, and older raw rows are compressed in the background,
//! resumably, with the file shrinking afterwards.

mod common;

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use common::*;
use fleetdash::smartcar::{Format, parse_archived};
use fleetdash::store::{self, Batch, StoreOptions, archive, bodies, upkeep};
use proptest::prelude::*;
use rusqlite::Connection;

fn open(db: &Path) -> Connection {
    store::open(db, &StoreOptions::default()).unwrap()
}

/// Archives `body` as the webhook handler would; returns its delivery id.
fn ingest(conn: &mut Connection, body: &[u8]) -> i64 {
    let mut batch = Batch::begin(conn).unwrap();
    let parsed = parse_archived(body, 1_767_225_600_000);
    let id = batch
        .ingest(1_767_225_600_000, body, &parsed)
        .unwrap()
        .delivery_id;
    batch.commit().unwrap();
    id
}

fn codec(conn: &Connection, id: i64) -> Option<i64> {
    conn.query_row(
        "SELECT body_codec FROM deliveries WHERE id = ?1",
        [id],
        |r| r.get(0),
    )
    .unwrap()
}

/// Simulated bodies, v4 then v2, as a fleet would send them.
fn simulated(count: usize) -> Vec<Vec<u8>> {
    let config = fleet_config(21, 5, 10);
    let mut bodies: Vec<Vec<u8>> = fleet_deliveries(&config, Format::V4)
        .into_iter()
        .chain(fleet_deliveries(&config, Format::V2))
        .map(|d| d.body)
        .collect();
    assert!(!bodies.is_empty());
    while bodies.len() < count {
        bodies.extend_from_within(..bodies.len().min(count - bodies.len()));
    }
    bodies.truncate(count);
    bodies
}

/// Every row's raw body equals what was archived, in id order.
fn assert_bodies(conn: &Connection, expected: &[Vec<u8>]) {
    let ids: Vec<i64> = conn
        .prepare("SELECT id FROM deliveries ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(ids.len(), expected.len());
    for (id, body) in ids.into_iter().zip(expected) {
        assert_eq!(
            bodies::read(conn, id).unwrap().as_deref(),
            Some(&body[..]),
            "delivery {id}"
        );
    }
}

#[test]
fn every_fixture_comes_back_byte_exact_from_the_archive_and_the_sync_page() {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = open(&dir.path().join("f.sqlite3"));
    for name in FIXTURES {
        let body = fixture(name);
        let id = ingest(&mut conn, &body);
        let read = bodies::read(&conn, id).unwrap().unwrap();
        assert_eq!(read, body, "{name}");
        // The signature Smartcar made still verifies on what the archive hands back.
        assert!(token().verify(&read, &sign(&body)), "{name}");
        let stored: i64 = conn
            .query_row(
                "SELECT length(body) FROM deliveries WHERE id = ?1",
                [id],
                |r| r.get(0),
            )
            .unwrap();
        if body.len() > 400 {
            assert!(
                codec(&conn, id).unwrap_or(0) > 0,
                "{name} was not compressed"
            );
            assert!(
                (stored as usize) < body.len() * 3 / 4,
                "{name}: {stored} of {} bytes",
                body.len()
            );
        }
    }
    let memo = Default::default();
    let page = archive::page_after(&conn, 0, 100, usize::MAX, &memo).unwrap();
    let served: Vec<Vec<u8>> = page.deliveries.into_iter().map(|d| d.body).collect();
    let expected: Vec<Vec<u8>> = FIXTURES
        .iter()
        .map(|name| fixture(name))
        .filter(|body| !String::from_utf8_lossy(body).contains("VERIFY"))
        .collect();
    assert!(!served.is_empty());
    for body in &served {
        assert!(expected.contains(body), "served bytes that were never sent");
    }
    // Reprocess reads every body back and derives the same outcome from it.
    let report = store::reprocess::reprocess(&mut conn, |_, _| {}).unwrap();
    assert_eq!(report.deliveries as usize, served.len());
    // The dedup keys are kept once, in `event_keys`, not again in every archive row.
    assert!(count(&conn, "SELECT count(*) FROM event_keys") > 0);
    assert_eq!(
        count(
            &conn,
            "SELECT count(*) FROM deliveries WHERE event_key IS NOT NULL"
        ),
        0
    );
}

/// A small dictionary trained on simulated bodies, made once for all the cases.
fn trained_dict() -> &'static [u8] {
    static DICT: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    DICT.get_or_init(|| zstd::dict::from_samples(&simulated(300), 4096).unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn random_bodies_round_trip_under_every_dictionary(
        bodies_in in prop::collection::vec(
            prop_oneof![
                prop::collection::vec(any::<u8>(), 0..3000),
                "[ -~]{0,2000}".prop_map(String::into_bytes),
            ],
            1..12,
        ),
        trained_after in 0usize..12,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = open(&dir.path().join("p.sqlite3"));
        let mut ids = Vec::new();
        for (i, body) in bodies_in.iter().enumerate() {
            if i == trained_after {
                // Another dictionary from here on: a trained one, and then yet another.
                bodies::insert_dictionary(&conn, trained_dict(), "trained", Some(300)).unwrap();
            }
            ids.push(ingest(&mut conn, body));
        }
        for (id, body) in ids.iter().zip(&bodies_in) {
            let read = bodies::read(&conn, *id).unwrap();
            // A duplicate keeps no body of its own; random bytes never parse as one.
            prop_assert_eq!(read.as_deref(), Some(&body[..]));
        }
    }
}

#[test]
fn a_dictionary_trained_on_the_fleet_takes_over_and_older_rows_stay_readable() {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = open(&dir.path().join("t.sqlite3"));
    let bodies_in = simulated(400);
    let (first, later) = bodies_in.split_at(300);
    let mut ids: Vec<i64> = first.iter().map(|b| ingest(&mut conn, b)).collect();
    assert!(
        !upkeep::train_if_due(&conn, 1_000).unwrap(),
        "too few deliveries to train"
    );
    assert!(upkeep::train_if_due(&conn, 250).unwrap());
    assert!(
        !upkeep::train_if_due(&conn, 250).unwrap(),
        "trained once only"
    );
    let trained: i64 = conn
        .query_row(
            "SELECT id FROM zstd_dictionaries WHERE source = 'trained'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let builtin = codec(&conn, ids[0]).unwrap();
    assert_ne!(builtin, trained);
    let before = ids.len();
    ids.extend(later.iter().map(|b| ingest(&mut conn, b)));
    let later_codecs: Vec<Option<i64>> = ids[before..].iter().map(|id| codec(&conn, *id)).collect();
    assert!(later_codecs.contains(&Some(trained)), "{later_codecs:?}");
    // A duplicate keeps no body; compare only the rows that kept theirs.
    for (id, body) in ids.iter().zip(&bodies_in) {
        if let Some(read) = bodies::read(&conn, *id).unwrap() {
            assert_eq!(&read, body);
        }
    }
}

#[test]
fn compaction_in_small_batches_can_stop_anywhere_and_resume_byte_exact() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("c.sqlite3");
    let bodies_in = simulated(1_000);
    legacy_database(&db, &bodies_in);
    let mut conn = open(&db);
    assert_eq!(upkeep::uncompressed_count(&conn).unwrap(), 1_000);
    assert_eq!(upkeep::compress_batch(&mut conn, 300).unwrap(), 300);
    // Stopped here (a restart): what is done stays done, the rest still reads raw.
    drop(conn);
    let mut conn = open(&db);
    assert_eq!(upkeep::uncompressed_count(&conn).unwrap(), 700);
    assert_bodies(&conn, &bodies_in);
    let done = upkeep::compress_all(&mut conn, 64, &AtomicBool::new(false)).unwrap();
    assert_eq!(done, 700);
    assert_eq!(upkeep::uncompressed_count(&conn).unwrap(), 0);
    assert_bodies(&conn, &bodies_in);
}

#[test]
fn the_upkeep_thread_outlasts_a_writer_that_holds_the_database_past_its_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("b.sqlite3");
    let bodies_in = simulated(500);
    legacy_database(&db, &bodies_in);
    // Another program holds the write lock longer than the upkeep's 5 s busy timeout.
    let holder = Connection::open(&db).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    let upkeep = upkeep::spawn(db.clone(), Default::default()).unwrap();
    std::thread::sleep(Duration::from_secs(7));
    let reader = Connection::open(&db).unwrap();
    assert_eq!(upkeep::uncompressed_count(&reader).unwrap(), 500);
    holder.execute_batch("ROLLBACK").unwrap();
    // Before, the refused step ended the thread, and nothing was compressed until the
    // next start; now it tries again.
    assert!(
        wait_until(Duration::from_secs(30), || upkeep::uncompressed_count(
            &reader
        )
        .unwrap()
            == 0),
        "the compaction never resumed"
    );
    drop(upkeep);
    assert_bodies(&reader, &bodies_in);
}

#[test]
fn after_compaction_an_old_file_is_rewritten_once_at_start_and_shrinks() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("v.sqlite3");
    let bodies_in = simulated(3_000);
    legacy_database(&db, &bodies_in);
    let size = || std::fs::metadata(&db).unwrap().len();
    let mut conn = open(&db);
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
        .unwrap();
    let before = size();
    assert!(
        !upkeep::vacuum_if_worthwhile(&conn).unwrap(),
        "not before compaction"
    );
    upkeep::compress_all(&mut conn, 200, &AtomicBool::new(false)).unwrap();
    upkeep::give_back_space(&conn, &AtomicBool::new(false)).unwrap();
    let pragma = |name: &str| -> i64 { conn.pragma_query_value(None, name, |r| r.get(0)).unwrap() };
    let (free, pages) = (pragma("freelist_count"), pragma("page_count"));
    assert!(
        upkeep::vacuum_if_worthwhile(&conn).unwrap(),
        "{free} of {pages} pages free"
    );
    assert!(!upkeep::vacuum_if_worthwhile(&conn).unwrap(), "once only");
    let after = size();
    assert!(after * 3 < before, "{before} -> {after} bytes");
    assert_bodies(&conn, &bodies_in);
    let mode: i64 = conn
        .pragma_query_value(None, "auto_vacuum", |r| r.get(0))
        .unwrap();
    assert_eq!(mode, 2, "incremental from now on");
}

#[test]
fn a_new_database_gives_freed_space_back_without_a_full_vacuum() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("n.sqlite3");
    let conn = open(&db);
    let mode: i64 = conn
        .pragma_query_value(None, "auto_vacuum", |r| r.get(0))
        .unwrap();
    assert_eq!(mode, 2);
    drop(conn);
    // Raw rows in a new file (as a sync from an older relay might leave, say): compacting
    // them frees pages that go back to the file system at once.
    let bodies_in = simulated(3_000);
    let conn = open(&db);
    conn.execute_batch("BEGIN").unwrap();
    for body in &bodies_in {
        conn.execute(
            "INSERT INTO deliveries(received_at, format, kind, outcome, body)
             VALUES (1, 'v4', 'VEHICLE_STATE', 'parsed', ?1)",
            [body],
        )
        .unwrap();
    }
    conn.execute_batch("COMMIT; PRAGMA wal_checkpoint(TRUNCATE);")
        .unwrap();
    let before = std::fs::metadata(&db).unwrap().len();
    let mut conn = conn;
    upkeep::compress_all(&mut conn, 200, &AtomicBool::new(false)).unwrap();
    upkeep::give_back_space(&conn, &AtomicBool::new(false)).unwrap();
    let after = std::fs::metadata(&db).unwrap().len();
    assert!(after * 3 < before, "{before} -> {after} bytes");
    assert_bodies(&conn, &bodies_in);
}

#[test]
fn serve_killed_mid_compaction_resumes_on_restart_and_every_body_is_exact() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("k.sqlite3");
    let bodies_in = simulated(40_000);
    legacy_database(&db, &bodies_in);
    let reader = Connection::open(&db).unwrap();
    let mut serve = ServeProcess::start(&db, &[]);
    // Catch it part of the way through.
    let caught = wait_until(Duration::from_secs(60), || {
        let left = upkeep::uncompressed_count(&reader).unwrap();
        left > 0 && left < 40_000
    });
    serve.signal(libc::SIGKILL);
    serve.wait_exit(Duration::from_secs(10));
    let left = upkeep::uncompressed_count(&reader).unwrap();
    assert!(caught || left == 0, "compaction never started");
    eprintln!("killed with {left} of 40000 bodies still raw");
    assert_bodies(&reader, &bodies_in);
    let mut serve = ServeProcess::start(&db, &[]);
    assert!(
        wait_until(Duration::from_secs(120), || upkeep::uncompressed_count(
            &reader
        )
        .unwrap()
            == 0),
        "compaction did not resume: {}",
        serve.stderr_text()
    );
    serve.signal(libc::SIGTERM);
    serve.wait_exit(Duration::from_secs(10));
    assert_bodies(&reader, &bodies_in);
    let raw: i64 = count(
        &reader,
        "SELECT count(*) FROM deliveries WHERE body_codec = 0",
    );
    assert!(raw < 100, "{raw} bodies kept raw");
}

#[test]
fn a_quarantined_body_is_shown_exactly_on_the_deliveries_page() {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = open(&dir.path().join("q.sqlite3"));
    // Long enough to be compressed: one not JSON at all, one JSON of a kind nobody knows.
    let broken = format!(
        "{{\"eventId\": \"e-1\", \"eventType\": \"VEHICLE_STATE\", \"data\": {} \u{00e9}\u{2603}",
        "[1, 2, 3, ".repeat(80)
    )
    .into_bytes();
    let unknown = format!(
        r#"{{"eventId":"e-2","eventType":"FUTURE_EVENT","vehicleId":"v-1","data":{{"list":[{}]}}}}"#,
        vec![r#"{"a":1.50,"b":"x"}"#; 40].join(",")
    )
    .into_bytes();
    for body in [broken, unknown] {
        let id = ingest(&mut conn, &body);
        let outcome: String = conn
            .query_row("SELECT outcome FROM deliveries WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(outcome, "quarantined");
        assert!(codec(&conn, id).unwrap_or(0) > 0, "not compressed");
        let shown = fleetdash::ui::data::delivery_body(&conn, id)
            .unwrap()
            .unwrap();
        let expected = match serde_json::from_slice::<serde_json::Value>(&body) {
            // JSON is shown pretty-printed, as the page always did; anything else as sent.
            Ok(value) => serde_json::to_string_pretty(&value).unwrap(),
            Err(_) => String::from_utf8(body.clone()).unwrap(),
        };
        assert_eq!(shown, expected);
        assert_eq!(bodies::read(&conn, id).unwrap().unwrap(), body);
    }
}
