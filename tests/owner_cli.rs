//! The owner's settings from the command line (`fleetdash settings ...`): what they
//! change in the exports, the fleet's time zone across month ends and a DST change, and
//! the plain words for bad input.

mod common;

use std::path::Path;

use common::*;
use fleetdash::domain::time::parse_time_text;

/// A database with one vehicle (50 kWh) that charged 40 -> 60 % for an hour starting at
/// each of `starts` (RFC 3339, UTC), parked unplugged in between.
fn db_with_sessions(dir: &Path, starts: &[&str]) -> std::path::PathBuf {
    let db = dir.join("fleet.sqlite3");
    let conn = fleetdash::store::open(&db, &fleetdash::store::StoreOptions::default()).unwrap();
    conn.execute(
        "INSERT INTO vehicles(id, make, model, year, capacity_kwh) VALUES ('v1', 'Kia', 'EV6', 2024, 50)",
        [],
    )
    .unwrap();
    let reading = |at_ms: i64, soc: f64, plugged: bool, state: &str| {
        conn.execute(
            "INSERT INTO readings(vehicle_id, recorded_at, battery_percent, plugged_in, charging_state, latitude, longitude, source)
             VALUES ('v1', ?1, ?2, ?3, ?4, 52.5, 13.4, 'api')",
            rusqlite::params![at_ms, soc, plugged, state],
        )
        .unwrap();
    };
    const MIN: i64 = 60_000;
    for start in starts {
        let t = parse_time_text(start).unwrap();
        reading(t - 30 * MIN, 40.0, false, "NOT_CHARGING");
        reading(t, 40.0, true, "CHARGING");
        reading(t + 30 * MIN, 50.0, true, "CHARGING");
        reading(t + 60 * MIN, 60.0, true, "FULLY_CHARGED");
        reading(t + 90 * MIN, 60.0, false, "NOT_CHARGING");
    }
    fleetdash::store::derived::rebuild(&conn).unwrap();
    db
}

/// The (period, sessions) of the vehicle's rows of a `daily` or `monthly` export.
fn periods(db: &Path, kind: &str) -> Vec<(String, String)> {
    let out = run(db, &["export", kind]);
    assert!(out.success, "{}", out.stderr);
    let (_, rows) = parse_csv(&out.stdout);
    rows.iter()
        .filter(|r| r[1] == "v1" && r[3] != "0")
        .map(|r| (r[0].clone(), r[3].clone()))
        .collect()
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn months_and_days_are_the_fleet_time_zone_s_across_a_month_end_and_a_dst_change() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_with_sessions(
        dir.path(),
        &[
            // 01:30 on 1 April in Berlin (summer time).
            "2026-03-31T23:30:00Z",
            // 00:30 and 23:30 on 25 October in Berlin: the clocks went back at 03:00.
            "2026-10-24T22:30:00Z",
            "2026-10-25T22:30:00Z",
        ],
    );
    assert!(run(&db, &["settings", "timezone", "UTC"]).success);
    assert_eq!(
        periods(&db, "monthly"),
        pairs(&[("2026-03", "1"), ("2026-10", "2")])
    );
    assert_eq!(
        periods(&db, "daily"),
        pairs(&[
            ("2026-03-31", "1"),
            ("2026-10-24", "1"),
            ("2026-10-25", "1")
        ])
    );

    let set = run(&db, &["settings", "timezone", "Europe/Berlin"]);
    assert!(set.success, "{}", set.stderr);
    assert!(
        set.stdout.contains("time zone: Europe/Berlin\n"),
        "{}",
        set.stdout
    );
    assert_eq!(
        periods(&db, "monthly"),
        pairs(&[("2026-04", "1"), ("2026-10", "2")])
    );
    assert_eq!(
        periods(&db, "daily"),
        pairs(&[("2026-04-01", "1"), ("2026-10-25", "2")])
    );
    // Timestamps stay UTC.
    let (_, sessions) = parse_csv(&run(&db, &["export", "sessions"]).stdout);
    assert_eq!(sessions[0][2], "2026-03-31T23:30:00Z");

    // The time zone is owner data: reprocess keeps it.
    assert!(run(&db, &["reprocess"]).success);
    assert!(
        run(&db, &["settings"])
            .stdout
            .contains("time zone: Europe/Berlin\n")
    );

    // No zone: the system's, and `settings` says so.
    let cleared = run(&db, &["settings", "timezone"]);
    assert!(
        cleared.success && cleared.stdout.contains("(the system's)"),
        "{}",
        cleared.stdout
    );
}

#[test]
fn currency_and_fleet_name_are_set_and_shown_and_bad_values_say_what_to_give() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_with_sessions(dir.path(), &[]);
    let shown = run(&db, &["settings"]);
    assert!(
        shown.stdout.contains("currency: EUR\n"),
        "the default: {}",
        shown.stdout
    );
    assert!(shown.stdout.contains("fleet name: not set\n"));

    let set = run(&db, &["settings", "currency", "chf"]);
    assert!(
        set.success && set.stdout.contains("currency: CHF\n"),
        "{}",
        set.stdout
    );
    assert!(
        run(&db, &["settings", "price", "0.3"])
            .stdout
            .contains("price per kWh: 0.3 CHF")
    );
    let named = run(&db, &["settings", "fleet-name", "Müller Elektro GmbH"]);
    assert!(
        named.stdout.contains("fleet name: Müller Elektro GmbH\n"),
        "{}",
        named.stdout
    );
    let target = run(&db, &["settings", "vehicle", "v1", "--charge-target", "80"]);
    assert!(
        target.stdout.contains("charge target 80 %"),
        "{}",
        target.stdout
    );

    for (args, words) in [
        (&["settings", "currency", "EUT"][..], "ISO 4217"),
        (
            &["settings", "timezone", "Europe/Berlinn"][..],
            "Europe/Berlin",
        ),
        (
            &["settings", "vehicle", "v1", "--charge-target", "120"][..],
            "charge target",
        ),
        (&["settings", "vehicle", "v1"][..], "nothing to change"),
    ] {
        let bad = run(&db, args);
        assert!(
            !bad.success && bad.stderr.contains(words),
            "{args:?}: {}",
            bad.stderr
        );
    }
    // A refused change leaves everything as it was, even beside an accepted one.
    let half = run(
        &db,
        &[
            "settings",
            "vehicle",
            "v1",
            "--name",
            "Van",
            "--capacity-kwh",
            "0",
        ],
    );
    assert!(!half.success);
    assert!(!run(&db, &["settings"]).stdout.contains("Van"));
    assert!(run(&db, &["settings"]).stdout.contains("currency: CHF\n"));
}

#[test]
fn settings_give_sessions_their_energy_and_cost() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("sim.sqlite3");
    simulate_db(
        &db,
        &["--vehicles", "1", "--days", "3", "--start", "2026-01-01"],
    );
    let settings = |args: &[&str]| {
        let mut all = vec!["settings"];
        all.extend_from_slice(args);
        run(&db, &all)
    };
    let shown = settings(&[]);
    assert!(shown.success, "{}", shown.stderr);
    let id = shown
        .stdout
        .lines()
        .find_map(|l| l.split_whitespace().next().filter(|w| w.len() == 36))
        .unwrap()
        .to_owned();
    assert!(settings(&["vehicle", &id, "--capacity-kwh", "50", "--name", "Van 7"]).success);
    assert!(settings(&["price", "0.4"]).success);
    let shown = settings(&[
        "place",
        "Depot",
        "--lat",
        "48.0",
        "--lon",
        "-11.5",
        "--price-per-kwh",
        "0.2",
    ]);
    assert!(shown.success, "{}", shown.stderr);
    assert!(
        shown.stdout.contains("Van 7") && shown.stdout.contains("50 kWh"),
        "{}",
        shown.stdout
    );
    assert!(shown.stdout.contains("price per kWh: 0.4") && shown.stdout.contains("Depot"));
    let (_, rows) = parse_csv(&run(&db, &["export", "sessions"]).stdout);
    assert!(!rows.is_empty());
    for r in &rows {
        assert_eq!(r[1], "Van 7");
        let rise = r[6].parse::<f64>().unwrap() - r[5].parse::<f64>().unwrap();
        let energy: f64 = r[7].parse().unwrap();
        assert!((energy - rise / 100.0 * 50.0).abs() < 0.01, "{r:?}");
        let cost: f64 = r[10].parse().unwrap();
        assert!(
            (cost - energy * 0.4).abs() < 0.01,
            "far from the depot: default price"
        );
    }
    // Bad input says what is wrong.
    let bad = settings(&["vehicle", "nope", "--capacity-kwh", "50"]);
    assert!(
        !bad.success && bad.stderr.contains("no vehicle nope"),
        "{}",
        bad.stderr
    );
    let bad = settings(&["vehicle", &id, "--capacity-kwh", "-3"]);
    assert!(
        !bad.success && bad.stderr.contains("capacity"),
        "{}",
        bad.stderr
    );
    let bad = settings(&["remove-place", "Nowhere"]);
    assert!(
        !bad.success && bad.stderr.contains("no place"),
        "{}",
        bad.stderr
    );
    assert!(settings(&["remove-place", "Depot"]).success);
}
