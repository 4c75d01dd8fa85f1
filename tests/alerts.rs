//! `fleetdash alerts` through the real binary on a real SQLite file: a van plugged in the
//! evening that never charges opens `plugged_not_charging` that evening and
//! `low_battery_before_shift` at 06:00; ids stay the same; rules change what is open.

mod common;

use std::path::Path;

use common::*;
use fleetdash::domain::time::parse_time_text;
use fleetdash::store;

fn ok(db: &Path, args: &[&str]) -> String {
    let out = run(db, args);
    assert!(out.success, "{args:?}: {}", out.stderr);
    out.stdout
}

/// A van (v1) plugged in at 18:00 UTC on Monday 4 May 2026 at 40 %, never charging, a
/// reading every 20 minutes until 07:00 the next morning.
fn van_that_never_charges(dir: &Path) -> std::path::PathBuf {
    let db = dir.join("fleet.sqlite3");
    let conn = create_db(&db);
    conn.execute(
        "INSERT INTO vehicles(id, make, model, year, name, capacity_kwh) VALUES ('v1', 'Ford', 'E-Transit', 2024, 'Van 1', 68)",
        [],
    )
    .unwrap();
    let t0 = parse_time_text("2026-05-04T17:00:00Z").unwrap();
    for i in 0..=42 {
        let at = t0 + i * 20 * 60_000;
        conn.execute(
            "INSERT INTO readings(vehicle_id, recorded_at, battery_percent, plugged_in, charging_state, source)
             VALUES ('v1', ?1, 40, ?2, 'NOT_CHARGING', 'api')",
            rusqlite::params![at, i >= 3],
        )
        .unwrap();
    }
    store::derived::rebuild(&conn).unwrap();
    db
}

#[test]
fn a_van_that_never_charges_opens_plugged_not_charging_the_evening_before_and_low_battery_at_06_00()
{
    let dir = tempfile::tempdir().unwrap();
    let db = van_that_never_charges(dir.path());

    // 19:30: plugged in at 18:00, not charging for over an hour.
    let (header, evening) = parse_csv(&ok(
        &db,
        &["alerts", "--at", "2026-05-04T19:30:00Z", "--format", "csv"],
    ));
    assert_eq!(
        header.join(","),
        "id,rule,vehicle_id,vehicle_name,opened_at,resolved_at,message"
    );
    assert_eq!(evening.len(), 1, "{evening:?}");
    assert_eq!(
        (
            evening[0][1].as_str(),
            evening[0][3].as_str(),
            evening[0][4].as_str(),
            evening[0][5].as_str()
        ),
        ("plugged_not_charging", "Van 1", "2026-05-04T19:00:00Z", "")
    );
    assert!(
        evening[0][6].contains("check the charger"),
        "{}",
        evening[0][6]
    );

    // 06:30 the next day (a Tuesday): both, the first with the same id as in the evening.
    let (_, morning) = parse_csv(&ok(
        &db,
        &["alerts", "--at", "2026-05-05T06:30:00Z", "--format", "csv"],
    ));
    let rules: Vec<&str> = morning.iter().map(|r| r[1].as_str()).collect();
    assert_eq!(
        rules,
        ["plugged_not_charging", "low_battery_before_shift"],
        "{morning:?}"
    );
    assert_eq!(morning[0][0], evening[0][0], "the same alert keeps its id");
    assert_eq!(morning[1][4], "2026-05-05T06:00:00Z");
    assert!(morning[1][6].contains("40 %"), "{}", morning[1][6]);

    // JSON has the same alerts.
    let json: serde_json::Value = serde_json::from_str(&ok(
        &db,
        &["alerts", "--at", "2026-05-05T06:30:00Z", "--format", "json"],
    ))
    .unwrap();
    let ids: Vec<&str> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [morning[0][0].as_str(), morning[1][0].as_str()]);
    assert!(json[0]["resolved_at"].is_null());

    // Everything that opened since: the van's readings stop at 07:00, so it goes quiet at
    // 13:00 (its readings came from no delivery, so there is no silence of deliveries).
    let (_, since) = parse_csv(&ok(
        &db,
        &[
            "alerts",
            "--since",
            "2026-05-04T00:00:00Z",
            "--at",
            "2026-05-05T14:00:00Z",
            "--format",
            "csv",
        ],
    ));
    let rules: Vec<&str> = since.iter().map(|r| r[1].as_str()).collect();
    assert_eq!(
        rules,
        [
            "plugged_not_charging",
            "low_battery_before_shift",
            "vehicle_quiet"
        ],
        "{since:?}"
    );
    assert_eq!(since[1][5], "", "open: its day has not ended at 14:00");

    // Rules: off closes it; settings change when it opens.
    ok(&db, &["alerts", "set", "plugged_not_charging", "--off"]);
    assert!(
        ok(&db, &["alerts", "rules"])
            .contains("plugged_not_charging       off target=80 minutes=60")
    );
    let (_, rows) = parse_csv(&ok(
        &db,
        &["alerts", "--at", "2026-05-04T19:30:00Z", "--format", "csv"],
    ));
    assert!(rows.is_empty(), "{rows:?}");
    ok(
        &db,
        &[
            "alerts",
            "set",
            "plugged_not_charging",
            "--on",
            "minutes=120",
        ],
    );
    let (_, rows) = parse_csv(&ok(
        &db,
        &["alerts", "--at", "2026-05-04T19:30:00Z", "--format", "csv"],
    ));
    assert!(rows.is_empty(), "not two hours yet: {rows:?}");
    let (_, rows) = parse_csv(&ok(
        &db,
        &["alerts", "--at", "2026-05-04T20:30:00Z", "--format", "csv"],
    ));
    assert_eq!(rows[0][4], "2026-05-04T20:00:00Z");
    ok(
        &db,
        &["alerts", "set", "low_battery_before_shift", "percent=30"],
    );
    let (_, rows) = parse_csv(&ok(
        &db,
        &["alerts", "--at", "2026-05-05T06:30:00Z", "--format", "csv"],
    ));
    assert!(
        rows.iter().all(|r| r[1] != "low_battery_before_shift"),
        "40 % is not below 30 %: {rows:?}"
    );

    // Mistakes say what to give.
    for (args, expected) in [
        (vec!["alerts", "set", "plugged"], "plugged_not_charging"),
        (
            vec!["alerts", "set", "vehicle_quiet", "minutes=5"],
            "hours=",
        ),
        (vec!["alerts", "set", "vehicle_quiet", "hours"], "KEY=VALUE"),
        (vec!["alerts", "set", "vehicle_quiet"], "nothing to change"),
    ] {
        let out = run(&db, &args);
        assert!(
            !out.success && out.stderr.contains(expected),
            "{args:?}: {}",
            out.stderr
        );
    }
}

#[test]
fn a_van_silent_for_longer_than_the_look_back_is_still_quiet_with_the_same_id() {
    let dir = tempfile::tempdir().unwrap();
    let db = van_that_never_charges(dir.path());
    let listed = |at: &str| {
        parse_csv(&ok(&db, &["alerts", "--at", at, "--format", "csv"]))
            .1
            .into_iter()
            .filter(|r| r[1] == "vehicle_quiet")
            .map(|r| (r[0].clone(), r[4].clone()))
            .collect::<Vec<_>>()
    };
    let soon = listed("2026-05-05T14:00:00Z");
    assert_eq!(soon.len(), 1, "{soon:?}");
    assert_eq!(soon[0].1, "2026-05-05T13:00:00Z");
    // Twenty days later its last reading lies far before the look-back window.
    assert_eq!(listed("2026-05-25T14:00:00Z"), soon);
}
