//! `fleetdash export` and `fleetdash reprocess` as a user runs them, against a database
//! filled over real HTTP; the CSV is parsed back and compared field by field.

mod common;

use std::path::Path;

use common::*;

/// Exports `kind` and checks the header against the contract.
fn export(db: &Path, kind: &str, extra: &[&str]) -> Vec<Vec<String>> {
    let mut args = vec!["export", kind];
    args.extend_from_slice(extra);
    let out = run(db, &args);
    assert!(out.success, "{}", out.stderr);
    let (header, rows) = parse_csv(&out.stdout);
    let expected = match kind {
        "battery" => "vehicle_id,vehicle_name,recorded_at,battery_percent,range_km,source",
        "charge" => "vehicle_id,vehicle_name,recorded_at,plugged_in,charging_state,source",
        "locations" => "vehicle_id,vehicle_name,recorded_at,latitude,longitude,source",
        "errors" => {
            "vehicle_id,vehicle_name,recorded_at,source_path,error_type,error_code,description,resolution_url"
        }
        _ => unreachable!(),
    };
    assert_eq!(header.join(","), expected);
    rows
}

fn row(fields: &[&str]) -> Vec<String> {
    fields.iter().map(|f| f.to_string()).collect()
}

async fn server_with_fixtures() -> TestServer {
    let server = TestServer::start().await;
    for name in FIXTURES {
        assert_eq!(
            server.post_signed(&fixture(name)).await.status(),
            200,
            "{name}"
        );
    }
    wait_derived(&server.db);
    server
}

const DOCS_CAR: &str = "00000000-0000-4000-A000-000000000000";
const V4_CAR: &str = "9af13248-3b73-4c9d-9a4b-d937ce6bc8e2";

#[tokio::test(flavor = "multi_thread")]
async fn every_export_matches_the_fixtures_field_by_field() {
    let server = server_with_fixtures().await;
    let db = &server.db;
    assert_eq!(
        export(db, "battery", &[]),
        vec![
            row(&[
                DOCS_CAR,
                "",
                "2024-09-20T21:58:06Z",
                "58",
                "283.244544",
                "webhook"
            ]),
            row(&[
                "11111111-1111-4111-A111-111111111111",
                "",
                "2024-09-21T08:00:00Z",
                "42",
                "120.5",
                "webhook"
            ]),
            row(&[
                V4_CAR,
                "TESLA Model 3 2020",
                "2024-11-18T14:32:08Z",
                "78",
                "",
                "webhook"
            ]),
        ]
    );
    assert_eq!(
        export(db, "charge", &[]),
        vec![
            row(&[
                DOCS_CAR,
                "",
                "2024-09-20T21:58:06Z",
                "false",
                "NOT_CHARGING",
                "webhook"
            ]),
            row(&[
                DOCS_CAR,
                "",
                "2024-09-20T22:05:00Z",
                "",
                "CHARGING",
                "webhook"
            ]),
            row(&[
                V4_CAR,
                "TESLA Model 3 2020",
                "2024-11-18T14:32:08Z",
                "",
                "CHARGING",
                "webhook"
            ]),
        ]
    );
    assert_eq!(
        export(db, "locations", &[]),
        vec![
            row(&[
                DOCS_CAR,
                "",
                "2024-09-20T21:58:48Z",
                "37.4292",
                "122.1381",
                "webhook"
            ]),
            // The location is hours older than the state of charge: its own timestamp.
            row(&[
                V4_CAR,
                "TESLA Model 3 2020",
                "2024-11-18T05:55:28Z",
                "39.7392",
                "-104.9903",
                "webhook"
            ]),
        ]
    );
    let errors = export(db, "errors", &[]);
    assert_eq!(errors.len(), 3);
    assert_eq!(errors[0][0], "11111111-1111-4111-A111-111111111111");
    assert_eq!(
        &errors[0][3..6],
        &[
            "/location",
            "CONNECTED_SERVICES_ACCOUNT",
            "AUTHENTICATION_FAILED"
        ]
    );
    assert!(errors[0][7].starts_with("https://connect.smartcar.com/oauth/reauthenticate?"));
    assert_eq!(
        errors[1][3],
        "location-preciselocation;tractionbattery-stateofcharge"
    );
    assert_eq!(errors[1][5], "VEHICLE_NOT_CAPABLE");
}

#[tokio::test(flavor = "multi_thread")]
async fn rows_are_ordered_by_vehicle_then_time_whatever_the_arrival_order() {
    let server = TestServer::start().await;
    let base = 1_726_000_000_000_i64;
    for (i, (car, minute)) in [("b", 30), ("a", 20), ("b", 10), ("a", 40), ("a", 5)]
        .iter()
        .enumerate()
    {
        let body = v4_state(
            &format!("e{i}"),
            car,
            50.0 + i as f64,
            base + minute * 60_000,
        );
        assert_eq!(server.post_signed(&body).await.status(), 200);
    }
    let rows = export(&server.db, "battery", &[]);
    let order: Vec<(String, String)> = rows.iter().map(|r| (r[0].clone(), r[2].clone())).collect();
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(order, sorted);
    assert_eq!(rows.len(), 5);
}

#[tokio::test(flavor = "multi_thread")]
async fn vehicle_and_time_filters_select_the_right_rows() {
    let server = TestServer::start().await;
    // Three days of readings at noon for two cars.
    let noon_20th = 1_726_833_600_000_i64; // 2024-09-20T12:00:00Z
    for day in 0..3 {
        for car in ["car-a", "car-b"] {
            let body = v4_state(
                &format!("{car}-{day}"),
                car,
                60.0,
                noon_20th + day * 86_400_000,
            );
            assert_eq!(server.post_signed(&body).await.status(), 200);
        }
    }
    let db = &server.db;
    assert_eq!(export(db, "battery", &[]).len(), 6);
    let only_a = export(db, "battery", &["--vehicle", "car-a"]);
    assert_eq!(only_a.len(), 3);
    assert!(only_a.iter().all(|r| r[0] == "car-a"));
    assert_eq!(
        export(db, "battery", &["--vehicle", "car-a", "--vehicle", "car-b"]).len(),
        6
    );
    assert_eq!(export(db, "battery", &["--vehicle", "nobody"]).len(), 0);
    // A date as --until includes that whole day.
    let day = export(
        db,
        "battery",
        &["--since", "2024-09-21", "--until", "2024-09-21"],
    );
    assert_eq!(day.len(), 2);
    assert!(day.iter().all(|r| r[2] == "2024-09-21T12:00:00Z"));
    let exact = export(
        db,
        "battery",
        &["--since", "2024-09-21T12:00:00Z", "--vehicle", "car-b"],
    );
    assert_eq!(exact.len(), 2);
    let before = export(db, "battery", &["--until", "2024-09-21T11:59:59+00:00"]);
    assert_eq!(before.len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn out_writes_the_file_and_reports_on_stderr() {
    let server = server_with_fixtures().await;
    let file = server.dir.path().join("battery.csv");
    let out = run(
        &server.db,
        &["export", "battery", "--out", file.to_str().unwrap()],
    );
    assert!(out.success, "{}", out.stderr);
    assert_eq!(out.stdout, "");
    assert!(out.stderr.contains("exported 3 rows"), "{}", out.stderr);
    let (_, rows) = parse_csv(&std::fs::read_to_string(&file).unwrap());
    assert_eq!(rows, export(&server.db, "battery", &[]));
    assert!(!server.dir.path().join("battery.csv.partial").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn awkward_text_survives_the_csv_round_trip() {
    let server = TestServer::start().await;
    let description = "Car said \"no\", then:\nnothing, at all";
    let body = serde_json::json!({
        "eventId": "err-1", "eventType": "VEHICLE_ERROR", "vehicleId": "car, with comma",
        "data": {"errors": [{"type": "VEHICLE_STATE", "code": "ASLEEP", "state": "ERROR",
                             "description": description, "signals": [{"code": "charge-ischarging"}]}]},
        "meta": {"version": "4.0"}
    })
    .to_string();
    assert_eq!(server.post_signed(body.as_bytes()).await.status(), 200);
    let rows = export(&server.db, "errors", &[]);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0][0], "car, with comma");
    assert_eq!(rows[0][6], description);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_owner_chosen_name_is_exported_and_survives_reprocess() {
    let server = server_with_fixtures().await;
    server
        .db()
        .execute(
            "UPDATE vehicles SET name = 'Van 7' WHERE id = ?1",
            [DOCS_CAR],
        )
        .unwrap();
    let out = run(&server.db, &["reprocess"]);
    assert!(out.success, "{}", out.stderr);
    let rows = export(&server.db, "battery", &["--vehicle", DOCS_CAR]);
    assert_eq!(rows[0][1], "Van 7");
}

fn derived_tables(conn: &rusqlite::Connection) -> Vec<String> {
    let mut dump = Vec::new();
    for table in [
        "battery_readings",
        "charge_readings",
        "locations",
        "vehicle_errors",
        "event_keys",
        "vehicles",
        "deliveries",
    ] {
        let mut statement = conn
            .prepare(&format!("SELECT * FROM {table} ORDER BY 1, 2"))
            .unwrap();
        let width = statement.column_count();
        let rows = statement
            .query_map([], |r| {
                Ok((0..width)
                    .map(|i| match r.get_ref(i).unwrap() {
                        rusqlite::types::ValueRef::Text(t) => {
                            String::from_utf8_lossy(t).into_owned()
                        }
                        rusqlite::types::ValueRef::Blob(b) => format!("<{} bytes>", b.len()),
                        other => format!("{other:?}"),
                    })
                    .collect::<Vec<_>>()
                    .join("|"))
            })
            .unwrap();
        for row in rows {
            dump.push(format!("{table}: {}", row.unwrap()));
        }
    }
    dump
}

fn assert_same(now: &[String], before: &[String]) {
    let missing: Vec<_> = before.iter().filter(|r| !now.contains(r)).collect();
    let added: Vec<_> = now.iter().filter(|r| !before.contains(r)).collect();
    assert!(
        missing.is_empty() && added.is_empty(),
        "missing {missing:#?}\nadded {added:#?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn reprocess_rebuilds_exactly_what_live_ingestion_stored_and_twice_changes_nothing() {
    let server = server_with_fixtures().await;
    // Retries and an out-of-order late delivery, as Smartcar sends them.
    for name in FIXTURES {
        assert_eq!(server.post_signed(&fixture(name)).await.status(), 200);
    }
    let conn = server.db();
    let live = derived_tables(&conn);
    let first = run(&server.db, &["reprocess"]);
    assert!(first.success, "{}", first.stderr);
    assert!(first.stdout.contains("reprocessed"), "{}", first.stdout);
    assert_same(&derived_tables(&conn), &live);
    assert!(run(&server.db, &["reprocess"]).success);
    assert_same(&derived_tables(&conn), &live);
}

#[tokio::test(flavor = "multi_thread")]
async fn reprocess_recovers_a_quarantined_delivery_that_parses_now() {
    let server = TestServer::start().await;
    let conn = server.db();
    // As an older fleetdash would have left it: readable today, quarantined then.
    conn.execute(
        "INSERT INTO deliveries(received_at, format, kind, outcome, detail, body)
         VALUES (1726869600000, 'unknown', 'unknown', 'quarantined', 'old parser', ?1)",
        [fixture("v2-dynamic-docs-example.json")],
    )
    .unwrap();
    assert_eq!(export(&server.db, "battery", &[]).len(), 0);
    let out = run(&server.db, &["reprocess"]);
    assert!(out.success, "{}", out.stderr);
    assert!(out.stdout.contains("1 recovered"), "{}", out.stdout);
    assert_eq!(
        export(&server.db, "battery", &[]),
        vec![row(&[
            DOCS_CAR,
            "",
            "2024-09-20T21:58:06Z",
            "58",
            "283.244544",
            "webhook"
        ])]
    );
    let outcome: String = conn
        .query_row("SELECT outcome FROM deliveries", [], |r| r.get(0))
        .unwrap();
    assert_eq!(outcome, "parsed");
}

#[test]
fn a_missing_database_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nothing-here.sqlite3");
    for args in [&["export", "battery"][..], &["reprocess"][..]] {
        let out = run(&missing, args);
        assert!(!out.success);
        assert!(
            out.stderr.contains("no fleetdash database"),
            "{}",
            out.stderr
        );
        assert!(out.stderr.contains("--db"), "{}", out.stderr);
        assert!(!missing.exists(), "export must not create a database");
    }
}

#[test]
fn bad_times_and_unknown_kinds_are_refused_with_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db.sqlite3");
    let out = run(&db, &["export", "battery", "--since", "last tuesday"]);
    assert!(!out.success);
    assert!(out.stderr.contains("2024-09-20"), "{}", out.stderr);
    let out = run(&db, &["export", "tyres"]);
    assert!(!out.success);
    assert!(out.stderr.contains("battery"), "{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn since_after_until_is_refused() {
    let server = server_with_fixtures().await;
    let out = run(
        &server.db,
        &[
            "export",
            "battery",
            "--since",
            "2024-09-21",
            "--until",
            "2024-09-20",
        ],
    );
    assert!(!out.success);
    assert!(
        out.stderr.contains("--since is after --until"),
        "{}",
        out.stderr
    );
}

#[test]
fn the_sessions_export_lists_simulated_charging_with_energy_and_cost() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("sim.sqlite3");
    simulate_db(
        &db,
        &[
            "--vehicles",
            "2",
            "--days",
            "4",
            "--start",
            "2026-01-01",
            "--seed",
            "3",
        ],
    );
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute(
        "INSERT INTO meta(key, value) VALUES ('price_per_kwh', 0.30)",
        [],
    )
    .unwrap();
    let out = run(&db, &["export", "sessions"]);
    assert!(out.success, "{}", out.stderr);
    let (header, rows) = parse_csv(&out.stdout);
    assert_eq!(
        header.join(","),
        "vehicle_id,vehicle_name,started_at,ended_at,duration_min,start_percent,end_percent,energy_added_kwh,latitude,longitude,cost,status"
    );
    assert!(rows.len() >= 4, "{} sessions", rows.len());
    for r in &rows {
        assert!(r[11] == "complete" || r[11] == "ongoing");
        let start: f64 = r[5].parse().unwrap();
        let end: f64 = r[6].parse().unwrap();
        let energy: f64 = r[7].parse().unwrap();
        let cost: f64 = r[10].parse().unwrap();
        assert!(end > start && energy > 0.0, "{r:?}");
        assert!((cost - energy * 0.30).abs() < 0.01, "{r:?}");
        if r[11] == "complete" {
            assert!(r[3] > r[2], "ends after it starts: {r:?}");
        }
    }
    // A place with its own price takes precedence near it.
    let (lat, lon): (f64, f64) = (rows[0][8].parse().unwrap(), rows[0][9].parse().unwrap());
    conn.execute(
        "INSERT INTO places(name, latitude, longitude, radius_m, price_per_kwh) VALUES ('Depot', ?1, ?2, 100, 0.10)",
        rusqlite::params![lat, lon],
    )
    .unwrap();
    let (_, priced) = parse_csv(&run(&db, &["export", "sessions"]).stdout);
    let energy: f64 = priced[0][7].parse().unwrap();
    let cost: f64 = priced[0][10].parse().unwrap();
    assert!((cost - energy * 0.10).abs() < 0.01, "{:?}", priced[0]);
    // Without a capacity, energy and cost stay empty.
    conn.execute("UPDATE vehicles SET capacity_kwh = NULL", [])
        .unwrap();
    let (_, unknown) =
        parse_csv(&run(&db, &["export", "sessions", "--since", "2026-01-02"]).stdout);
    assert!(!unknown.is_empty());
    assert!(unknown.iter().all(|r| r[7].is_empty() && r[10].is_empty()));
    assert!(unknown.iter().all(|r| r[2].as_str() >= "2026-01-02"));
}

#[test]
fn every_command_has_help_and_version() {
    for args in [
        &["--help"][..],
        &["serve", "--help"],
        &["export", "--help"],
        &["reprocess", "--help"],
    ] {
        let output = fleetdash().args(args).output().unwrap();
        assert!(output.status.success(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&output.stdout).contains("Usage"),
            "{args:?}"
        );
    }
    for args in [&["--version"][..], &["export", "--version"]] {
        let output = fleetdash().args(args).output().unwrap();
        assert!(output.status.success());
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(text.contains(env!("CARGO_PKG_VERSION")), "{text}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn reprocess_keeps_readings_that_never_came_from_a_delivery() {
    let server = server_with_fixtures().await;
    // As an API poll (or simulated history) stores them: no delivery behind the row.
    server
        .db()
        .execute(
            "INSERT INTO readings(vehicle_id, recorded_at, battery_percent, source)
             VALUES ('polled-car', 1726869000000, 71, 'api')",
            [],
        )
        .unwrap();
    fleetdash::store::derived::rebuild(&server.db()).unwrap();
    assert!(run(&server.db, &["reprocess"]).success);
    let rows = export(&server.db, "battery", &["--vehicle", "polled-car"]);
    assert_eq!(
        rows,
        vec![row(&[
            "polled-car",
            "",
            "2024-09-20T21:50:00Z",
            "71",
            "",
            "api"
        ])]
    );
}

#[test]
fn monthly_and_daily_summaries_add_up_to_the_sessions_export() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("sim.sqlite3");
    simulate_db(
        &db,
        &[
            "--vehicles",
            "2",
            "--days",
            "40",
            "--start",
            "2026-01-01",
            "--seed",
            "5",
        ],
    );
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute(
            "INSERT INTO meta(key, value) VALUES ('price_per_kwh', 0.25)",
            [],
        )
        .unwrap();
    let (_, sessions) = parse_csv(&run(&db, &["export", "sessions"]).stdout);
    // A window reads only from near its start, and finds the same sessions.
    for since in ["2026-01-07", "2026-01-19T13:00:00Z", "2026-02-01"] {
        let (_, windowed) = parse_csv(&run(&db, &["export", "sessions", "--since", since]).stdout);
        let expected: Vec<&Vec<String>> =
            sessions.iter().filter(|s| s[2].as_str() >= since).collect();
        assert_eq!(
            windowed.iter().collect::<Vec<_>>(),
            expected,
            "since {since}"
        );
    }
    let out = run(&db, &["export", "monthly"]);
    assert!(out.success, "{}", out.stderr);
    let (header, months) = parse_csv(&out.stdout);
    assert_eq!(
        header.join(","),
        "period,vehicle_id,vehicle_name,sessions,energy_added_kwh,cost,plugged_hours,charging_hours,last_seen,distance_km,energy_used_kwh,kwh_per_100km"
    );
    // Distances and energy used are those of the trips that started in the month.
    let (_, trips) = parse_csv(&run(&db, &["export", "trips"]).stdout);
    assert!(trips.len() > 40, "{} trips", trips.len());
    for month in ["2026-01", "2026-02"] {
        let fleet = months
            .iter()
            .find(|r| r[0] == month && r[1].is_empty())
            .unwrap();
        let of_month = trips.iter().filter(|t| t[3].starts_with(month));
        let km: f64 = of_month.clone().map(|t| t[6].parse::<f64>().unwrap()).sum();
        let kwh: f64 = of_month.map(|t| t[16].parse::<f64>().unwrap()).sum();
        assert!(
            (fleet[9].parse::<f64>().unwrap() - km).abs() < 0.1,
            "{fleet:?} vs {km}"
        );
        assert!(
            (fleet[10].parse::<f64>().unwrap() - kwh).abs() < 0.1,
            "{fleet:?} vs {kwh}"
        );
        let per_100: f64 = fleet[11].parse().unwrap();
        // The simulated cars use 0.14 to 0.20 kWh per km.
        assert!((13.0..21.0).contains(&per_100), "{per_100}");
    }
    // A window of trips reads from near its start, and finds the same trips.
    for since in ["2026-01-07", "2026-02-01"] {
        let (_, windowed) = parse_csv(&run(&db, &["export", "trips", "--since", since]).stdout);
        let expected: Vec<&Vec<String>> = trips.iter().filter(|t| t[3].as_str() >= since).collect();
        assert_eq!(
            windowed.iter().collect::<Vec<_>>(),
            expected,
            "since {since}"
        );
    }
    let periods: Vec<&str> = months.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(
        periods,
        [
            "2026-01", "2026-01", "2026-01", "2026-02", "2026-02", "2026-02"
        ]
    );
    for month in ["2026-01", "2026-02"] {
        let rows: Vec<&Vec<String>> = months.iter().filter(|r| r[0] == month).collect();
        let fleet = rows.iter().find(|r| r[1].is_empty()).unwrap();
        assert_eq!(fleet[2], "All vehicles");
        let counted: usize = sessions.iter().filter(|s| s[2].starts_with(month)).count();
        assert_eq!(fleet[3].parse::<usize>().unwrap(), counted);
        let energy: f64 = sessions
            .iter()
            .filter(|s| s[2].starts_with(month))
            .map(|s| s[7].parse::<f64>().unwrap())
            .sum();
        assert!((fleet[4].parse::<f64>().unwrap() - energy).abs() < 0.01);
        assert!((fleet[5].parse::<f64>().unwrap() - energy * 0.25).abs() < 0.05);
        let plugged: f64 = fleet[6].parse().unwrap();
        let charging: f64 = fleet[7].parse().unwrap();
        assert!(charging > 0.0 && charging <= plugged, "{fleet:?}");
        for r in &rows {
            assert!(r[8].starts_with(month), "last seen within the month: {r:?}");
        }
    }
    let (_, days) = parse_csv(
        &run(
            &db,
            &[
                "export",
                "daily",
                "--since",
                "2026-01-10",
                "--until",
                "2026-01-12",
            ],
        )
        .stdout,
    );
    assert_eq!(days.len(), 3 * 3, "three days, two vehicles and the fleet");
}

#[test]
fn a_plug_in_that_started_before_the_window_and_spans_it_silently_is_not_counted_in_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fleet.sqlite3");
    let conn = fleetdash::store::open(&db, &fleetdash::store::StoreOptions::default()).unwrap();
    conn.execute(
        "INSERT INTO vehicles(id, make, capacity_kwh) VALUES ('v1', 'Kia', 50)",
        [],
    )
    .unwrap();
    // Plugged in on the 1st, then silent for three days, unplugged on the 4th.
    for (at, soc, plugged, state) in [
        ("2026-05-01T10:00:00Z", 30.0, false, "NOT_CHARGING"),
        ("2026-05-01T11:00:00Z", 30.0, true, "CHARGING"),
        ("2026-05-04T09:00:00Z", 80.0, true, "FULLY_CHARGED"),
        ("2026-05-04T10:00:00Z", 80.0, false, "NOT_CHARGING"),
    ] {
        conn.execute(
            "INSERT INTO readings(vehicle_id, recorded_at, battery_percent, plugged_in, charging_state, source)
             VALUES ('v1', ?1, ?2, ?3, ?4, 'api')",
            rusqlite::params![fleetdash::domain::time::parse_time_text(at).unwrap(), soc, plugged, state],
        )
        .unwrap();
    }
    fleetdash::store::derived::rebuild(&conn).unwrap();
    drop(conn);
    let (_, all) = parse_csv(&run(&db, &["export", "sessions"]).stdout);
    assert_eq!(all.len(), 1);
    assert_eq!(all[0][2], "2026-05-01T11:00:00Z");
    let (_, windowed) =
        parse_csv(&run(&db, &["export", "sessions", "--since", "2026-05-03"]).stdout);
    assert!(windowed.is_empty(), "{windowed:?}");
    let (_, may) = parse_csv(&run(&db, &["export", "monthly", "--since", "2026-05-03"]).stdout);
    assert!(may.iter().all(|r| r[3] == "0"), "{may:?}");
}
