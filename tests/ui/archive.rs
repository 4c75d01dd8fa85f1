//! The Deliveries page while the archive of an older version is compressed in the
//! background: the progress is shown, and the line goes once every body is done.

use super::*;

#[test]
fn the_deliveries_page_shows_the_compaction_of_older_deliveries_until_it_is_done() {
    let dir = tempfile::tempdir().unwrap();
    let db = seeded_db(dir.path(), 2, 2);
    // As an archive written before compression existed: raw bodies, no codec.
    let count = 1_500;
    let bodies: Vec<Vec<u8>> = (0..count)
        .map(|i| common::v4_state(&format!("legacy-{i}"), "car-1", 50.0, now_ms() - DAY_MS))
        .collect();
    common::legacy_database(&db, &bodies);
    let conn = rusqlite::Connection::open(&db).unwrap();
    // Another writer holds the database, so the compaction waits where a user would see it.
    conn.execute_batch("BEGIN IMMEDIATE").unwrap();

    let mut harness = harness(seeded_app(&db));
    harness.get_by_label("Deliveries").click();
    let waiting = format!(
        "Compressing the deliveries archived before this version: 0 of {} done",
        fleetdash::ui::widgets::thousands(count as u64)
    );
    step_until_shown(&mut harness, &waiting, |h| has_label(h, &waiting));

    conn.execute_batch("ROLLBACK").unwrap();
    step_until_shown(&mut harness, "the compaction to finish", |h| {
        !has_label(h, "Compressing the deliveries")
    });
    let raw_left: i64 = conn
        .query_row(
            "SELECT count(*) FROM deliveries WHERE body IS NOT NULL AND body_codec IS NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(raw_left, 0);
}
