//! Drivers, assignments and home-charging reimbursement, through the real binary on a real
//! SQLite file: the CLI's answers, the off-peak split to the minute, statements as CSV and
//! as PDFs read back with `pdftotext`, and a known-truth month of the simulated fleet with
//! homes where its cars sleep.

mod common;

use std::path::Path;

use common::*;
use fleetdash::domain::time::parse_time_text;
use fleetdash::sim::fleet::{FleetConfig, VehicleSim, vehicles};
use fleetdash::store::{self, StoreOptions};

fn ok(db: &Path, args: &[&str]) -> String {
    let out = run(db, args);
    assert!(out.success, "{args:?}: {}", out.stderr);
    out.stdout
}

fn refused(db: &Path, args: &[&str]) -> String {
    let out = run(db, args);
    assert!(!out.success, "{args:?} should fail: {}", out.stdout);
    out.stderr
}

/// One vehicle `v1` (50 kWh) charging at (52.5, 13.4) from `start` for `minutes`, one
/// reading a minute, 0.1 % a minute, then unplugged.
fn one_charge(dir: &Path, start: &str, minutes: i64, position: (f64, f64)) -> std::path::PathBuf {
    let db = dir.join("fleet.sqlite3");
    let conn = create_db(&db);
    conn.execute(
        "INSERT INTO vehicles(id, make, model, year, capacity_kwh) VALUES ('v1', 'Kia', 'EV6', 2024, 50)",
        [],
    )
    .unwrap();
    let t0 = parse_time_text(start).unwrap();
    for i in -2..=minutes + 2 {
        let plugged = (0..=minutes).contains(&i);
        let soc = 40.0 + 0.1 * i.clamp(0, minutes) as f64;
        conn.execute(
            "INSERT INTO readings(vehicle_id, recorded_at, battery_percent, plugged_in, charging_state, latitude, longitude, source)
             VALUES ('v1', ?1, ?2, ?3, ?4, ?5, ?6, 'api')",
            rusqlite::params![
                t0 + i * 60_000,
                soc,
                plugged,
                if plugged { "CHARGING" } else { "NOT_CHARGING" },
                position.0,
                position.1
            ],
        )
        .unwrap();
    }
    store::derived::rebuild(&conn).unwrap();
    db
}

#[test]
fn drivers_are_added_changed_listed_assigned_without_overlap_and_removed() {
    let dir = tempfile::tempdir().unwrap();
    let db = one_charge(dir.path(), "2026-05-04T20:00:00Z", 60, (52.5, 13.4));
    ok(
        &db,
        &[
            "drivers",
            "add",
            "Anna Berg",
            "--email",
            "anna@example.com",
            "--home-lat",
            "52.5",
            "--home-lon",
            "13.4",
            "--rate",
            "0.30",
        ],
    );
    assert!(refused(&db, &["drivers", "add", "anna berg"]).contains("already"));
    ok(
        &db,
        &[
            "drivers",
            "set",
            "Anna Berg",
            "--off-peak",
            "22:00-06:00",
            "--off-peak-rate",
            "0.2",
            "--home-radius-m",
            "150",
        ],
    );
    assert!(refused(&db, &["drivers", "set", "Nobody", "--rate", "1"]).contains("drivers list"));
    assert!(
        refused(
            &db,
            &[
                "drivers",
                "add",
                "Bad",
                "--off-peak",
                "22-6",
                "--off-peak-rate",
                "0.2"
            ]
        )
        .contains("HH:MM")
    );
    assert!(refused(&db, &["drivers", "add", "Bad", "--rate", "-1"]).contains("between"));
    ok(&db, &["drivers", "add", "Ben"]);

    ok(
        &db,
        &[
            "drivers",
            "assign",
            "v1",
            "Anna Berg",
            "--from",
            "2026-05-01",
            "--until",
            "2026-05-10",
        ],
    );
    // Touching periods do not overlap; overlapping ones name the conflict.
    ok(
        &db,
        &["drivers", "assign", "v1", "Ben", "--from", "2026-05-11"],
    );
    let conflict = refused(
        &db,
        &[
            "drivers",
            "assign",
            "v1",
            "Ben",
            "--from",
            "2026-05-09",
            "--until",
            "2026-05-09",
        ],
    );
    assert!(
        conflict.contains("Anna Berg") && conflict.contains("2026-05-01"),
        "{conflict}"
    );
    assert!(
        refused(
            &db,
            &["drivers", "assign", "v9", "Ben", "--from", "2026-05-01"]
        )
        .contains("no vehicle v9")
    );
    assert!(
        refused(
            &db,
            &["drivers", "assign", "v1", "Carl", "--from", "2027-01-01"]
        )
        .contains("no driver")
    );

    let list = ok(&db, &["drivers", "list"]);
    assert!(list.contains("Anna Berg <anna@example.com>: home 52.50000, 13.40000 (150 m), 0.30 EUR/kWh, off-peak 22:00-06:00 0.20 EUR/kWh"), "{list}");
    assert!(
        list.contains("v1 driven by Anna Berg from 2026-05-01T00:00:00Z to 2026-05-11T00:00:00Z"),
        "{list}"
    );
    assert!(
        list.contains("v1 driven by Ben from 2026-05-11T00:00:00Z to open end"),
        "{list}"
    );

    // The trips and reimbursement exports name the driver of the time.
    let (_, rows) = parse_csv(&ok(&db, &["export", "reimbursement"]));
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0][0], "Anna Berg");

    ok(&db, &["drivers", "unassign", "v1", "--from", "2026-05-11"]);
    ok(&db, &["drivers", "remove", "Anna Berg"]);
    let list = ok(&db, &["drivers", "list"]);
    assert!(
        !list.contains("Anna") && !list.contains("driven by"),
        "{list}"
    );
}

#[test]
fn a_charge_across_the_off_peak_start_is_priced_in_two_parts_to_the_minute() {
    let dir = tempfile::tempdir().unwrap();
    // 20:00-23:30 Berlin time (18:00-21:30 UTC in May), 0.1 % a minute of 50 kWh.
    let db = one_charge(dir.path(), "2026-05-04T18:00:00Z", 210, (52.5, 13.4));
    ok(&db, &["settings", "timezone", "Europe/Berlin"]);
    ok(
        &db,
        &[
            "drivers",
            "add",
            "Anna",
            "--home-lat",
            "52.5",
            "--home-lon",
            "13.4",
            "--rate",
            "0.30",
            "--off-peak",
            "22:00-06:00",
            "--off-peak-rate",
            "0.20",
        ],
    );
    ok(
        &db,
        &["drivers", "assign", "v1", "Anna", "--from", "2026-05-01"],
    );
    let (header, rows) = parse_csv(&ok(&db, &["export", "reimbursement", "--driver", "anna"]));
    assert_eq!(
        header.join(","),
        "driver,vehicle_id,vehicle_name,started_at,ended_at,duration_min,energy_added_kwh,off_peak_kwh,rate_per_kwh,off_peak_rate_per_kwh,amount,latitude,longitude,status"
    );
    assert_eq!(rows.len(), 1, "{rows:?}");
    let r = &rows[0];
    // 210 minutes x 0.1 % x 50 kWh = 10.5 kWh; 90 of the minutes after 22:00: 4.5 kWh.
    assert_eq!((r[6].as_str(), r[7].as_str()), ("10.500", "4.500"));
    assert_eq!((r[8].as_str(), r[9].as_str()), ("0.3000", "0.2000"));
    assert_eq!(r[10], format!("{:.2}", 6.0 * 0.30 + 4.5 * 0.20));
    assert_eq!(r[13], "complete");

    // A place with an off-peak price prices the session's cost the same way.
    ok(
        &db,
        &[
            "settings",
            "place",
            "Home",
            "--lat",
            "52.5",
            "--lon",
            "13.4",
            "--price-per-kwh",
            "0.40",
            "--off-peak",
            "22:00-06:00",
            "--off-peak-rate",
            "0.10",
        ],
    );
    let (_, sessions) = parse_csv(&ok(&db, &["export", "sessions"]));
    assert_eq!(sessions[0][10], format!("{:.2}", 6.0 * 0.40 + 4.5 * 0.10));
    assert!(ok(&db, &["settings"]).contains("off-peak 22:00-06:00 0.1"));

    // Not at home: no reimbursement.
    let away = tempfile::tempdir().unwrap();
    let db = one_charge(away.path(), "2026-05-04T18:00:00Z", 210, (52.6, 13.4));
    ok(
        &db,
        &[
            "drivers",
            "add",
            "Anna",
            "--home-lat",
            "52.5",
            "--home-lon",
            "13.4",
            "--rate",
            "0.30",
        ],
    );
    ok(
        &db,
        &["drivers", "assign", "v1", "Anna", "--from", "2026-05-01"],
    );
    let (_, rows) = parse_csv(&ok(&db, &["export", "reimbursement"]));
    assert!(rows.is_empty(), "{rows:?}");
}

#[test]
fn a_statement_lists_the_month_s_home_sessions_with_totals_and_needs_a_capacity() {
    let dir = tempfile::tempdir().unwrap();
    // 00:30 Berlin time on 1 June is 22:30 UTC on 31 May: June's.
    let db = one_charge(dir.path(), "2026-05-31T22:30:00Z", 100, (52.5, 13.4));
    ok(&db, &["settings", "timezone", "Europe/Berlin"]);
    ok(&db, &["settings", "fleet-name", "Müller Elektro GmbH"]);
    ok(
        &db,
        &[
            "drivers",
            "add",
            "Anna Berg",
            "--home-lat",
            "52.5",
            "--home-lon",
            "13.4",
            "--rate",
            "0.30",
        ],
    );
    ok(
        &db,
        &[
            "drivers",
            "assign",
            "v1",
            "Anna Berg",
            "--from",
            "2026-05-01",
        ],
    );

    let may = dir.path().join("may.csv");
    ok(
        &db,
        &[
            "statement",
            "--driver",
            "Anna Berg",
            "--month",
            "2026-05",
            "--out",
            may.to_str().unwrap(),
        ],
    );
    let (_, rows) = parse_csv(&std::fs::read_to_string(&may).unwrap());
    assert!(
        rows.is_empty(),
        "a session of 1 June local time is not May's: {rows:?}"
    );

    let june = dir.path().join("june.pdf");
    let said = ok(
        &db,
        &[
            "statement",
            "--driver",
            "Anna Berg",
            "--month",
            "2026-06",
            "--out",
            june.to_str().unwrap(),
        ],
    );
    assert!(
        said.contains("1 sessions, 5.00 kWh") && said.contains("1.50 EUR"),
        "{said}"
    );
    let text = pdf_text(&june);
    for expected in [
        "Home charging statement 2026-06",
        "Müller Elektro GmbH",
        "Driver: Anna Berg",
        "Home: 52.50000, 13.40000",
        "0.30 EUR/kWh",
        "2026-06-01",
        "00:30",
        "5.00",
        "1.50 EUR",
        "Total: 5.00 kWh in 1 sessions",
        "Approved by:",
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} missing from:\n{text}"
        );
    }

    // A session still charging at the end of the data is listed, not totalled.
    {
        let conn = store::open(&db, &StoreOptions::default()).unwrap();
        let t0 = parse_time_text("2026-06-10T18:00:00Z").unwrap();
        for i in 0..30 {
            conn.execute(
                "INSERT INTO readings(vehicle_id, recorded_at, battery_percent, plugged_in, charging_state, latitude, longitude, source)
                 VALUES ('v1', ?1, ?2, 1, 'CHARGING', 52.5, 13.4, 'api')",
                rusqlite::params![t0 + i * 60_000, 50.0 + i as f64 * 0.1],
            )
            .unwrap();
        }
        store::derived::rebuild(&conn).unwrap();
    }
    let june_csv = dir.path().join("june.csv");
    let said = ok(
        &db,
        &[
            "statement",
            "--driver",
            "Anna Berg",
            "--month",
            "2026-06",
            "--out",
            june_csv.to_str().unwrap(),
        ],
    );
    assert!(
        said.contains("1 sessions, 5.00 kWh") && said.contains("(1 ongoing, not totalled)"),
        "{said}"
    );
    let (_, rows) = parse_csv(&std::fs::read_to_string(&june_csv).unwrap());
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!((rows[1][6].as_str(), rows[1][8].as_str()), ("", "ongoing"));
    let (_, exported) = parse_csv(&ok(
        &db,
        &["export", "reimbursement", "--since", "2026-06-10"],
    ));
    assert_eq!(
        (exported[0][10].as_str(), exported[0][13].as_str()),
        ("", "ongoing")
    );
    ok(
        &db,
        &[
            "statement",
            "--driver",
            "Anna Berg",
            "--month",
            "2026-06",
            "--out",
            june.to_str().unwrap(),
        ],
    );
    let text = pdf_text(&june);
    assert!(
        text.contains("ongoing") && text.contains("still charging are listed and not totalled"),
        "{text}"
    );

    // Every driver into a folder.
    ok(&db, &["drivers", "add", "Ben", "--rate", "0.25"]);
    let folder = dir.path().join("statements");
    ok(
        &db,
        &[
            "statement",
            "--all",
            "--month",
            "2026-06",
            "--out",
            folder.to_str().unwrap(),
        ],
    );
    let mut names: Vec<String> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "statement-2026-06-Anna_Berg.pdf",
            "statement-2026-06-Ben.pdf"
        ]
    );

    // Without a usable capacity the energy is a guess: refused, with the command that fixes it.
    ok(&db, &["settings", "vehicle", "v1", "--capacity-kwh", "50"]);
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute("UPDATE vehicles SET capacity_kwh = NULL", [])
        .unwrap();
    let why = refused(
        &db,
        &[
            "statement",
            "--driver",
            "Anna Berg",
            "--month",
            "2026-06",
            "--out",
            june.to_str().unwrap(),
        ],
    );
    assert!(
        why.contains("fleetdash settings vehicle v1 --capacity-kwh"),
        "{why}"
    );
    assert!(
        refused(
            &db,
            &[
                "statement",
                "--driver",
                "Anna Berg",
                "--month",
                "June",
                "--out",
                june.to_str().unwrap()
            ]
        )
        .contains("YYYY-MM")
    );
}

#[test]
fn a_berlin_march_of_the_simulated_fleet_pays_each_driver_the_energy_their_car_charged_at_home() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fleet.sqlite3");
    let config = FleetConfig {
        vehicles: 3,
        days: 40,
        seed: 8,
        start_ms: parse_time_text("2026-02-25T00:00:00Z").unwrap(),
        faults: Default::default(),
    };
    fleetdash::commands::simulate::write_history(&config, &db).unwrap();
    ok(&db, &["settings", "timezone", "Europe/Berlin"]);
    let specs = vehicles(&config);
    // Each car's driver lives where it sleeps; the first car changes hands mid-month.
    let mut assigned: Vec<(String, usize, i64, i64)> = Vec::new();
    let (march, april) = (
        parse_time_text("2026-02-28T23:00:00Z").unwrap(),
        parse_time_text("2026-03-31T22:00:00Z").unwrap(),
    );
    let handover = parse_time_text("2026-03-15T23:00:00Z").unwrap(); // 16 March, Berlin
    for (i, spec) in specs.iter().enumerate() {
        let name = format!("Driver {i}");
        let (lat, lon) = (spec.depot.0.to_string(), spec.depot.1.to_string());
        ok(
            &db,
            &[
                "drivers",
                "add",
                &name,
                "--home-lat",
                &lat,
                "--home-lon",
                &lon,
                "--home-radius-m",
                "150",
                "--rate",
                "0.30",
                "--off-peak",
                "22:00-06:00",
                "--off-peak-rate",
                "0.20",
            ],
        );
        if i == 0 {
            ok(
                &db,
                &[
                    "drivers",
                    "assign",
                    &spec.id,
                    &name,
                    "--from",
                    "2026-02-01",
                    "--until",
                    "2026-03-15",
                ],
            );
            ok(
                &db,
                &[
                    "drivers",
                    "add",
                    "Relief",
                    "--home-lat",
                    &lat,
                    "--home-lon",
                    &lon,
                    "--home-radius-m",
                    "150",
                    "--rate",
                    "0.30",
                ],
            );
            ok(
                &db,
                &[
                    "drivers",
                    "assign",
                    &spec.id,
                    "Relief",
                    "--from",
                    "2026-03-16",
                ],
            );
            assigned.push((name, 0, march, handover));
            assigned.push(("Relief".into(), 0, handover, april));
        } else {
            ok(
                &db,
                &["drivers", "assign", &spec.id, &name, "--from", "2026-02-01"],
            );
            assigned.push((name, i, march, april));
        }
    }
    let truth: Vec<_> = specs
        .iter()
        .enumerate()
        .map(|(i, spec)| {
            let mut sim = VehicleSim::new(&config, spec.clone(), i);
            for _ in sim.by_ref() {}
            sim.sessions().to_vec()
        })
        .collect();
    let mut away = 0;
    for (name, vehicle, from, to) in &assigned {
        let depot = specs[*vehicle].depot;
        let at_home = |place: (f64, f64)| fleetdash::domain::geo::distance_m(place, depot) <= 150.0;
        let in_period = truth[*vehicle].iter().filter(|s| {
            // A session counts in the month it started in, wherever it ends.
            (*from..*to).contains(&s.plugged_at_ms) && s.unplugged_at_ms.is_some()
        });
        let expected: f64 = in_period
            .clone()
            .filter(|s| at_home(s.place))
            .map(|s| s.energy_kwh)
            .sum();
        away += in_period.filter(|s| !at_home(s.place)).count();
        let out = dir.path().join(format!("{name}.csv"));
        ok(
            &db,
            &[
                "statement",
                "--driver",
                name,
                "--month",
                "2026-03",
                "--out",
                out.to_str().unwrap(),
            ],
        );
        let (_, rows) = parse_csv(&std::fs::read_to_string(&out).unwrap());
        let measured: f64 = rows
            .iter()
            .filter(|r| r[8] == "complete")
            .map(|r| r[4].parse::<f64>().unwrap())
            .sum();
        assert!(expected > 20.0, "{name}: only {expected} kWh of truth");
        let error = (measured - expected).abs() / expected;
        eprintln!(
            "{name}: {measured:.2} kWh measured, {expected:.2} kWh charged at home ({:.2} %), {} sessions",
            error * 100.0,
            rows.len()
        );
        assert!(
            error < 0.01,
            "{name}: {measured} kWh against {expected} kWh"
        );
        let amount: f64 = rows.iter().filter_map(|r| r[6].parse::<f64>().ok()).sum();
        assert!(
            amount >= measured * 0.2 - 0.05 && amount <= measured * 0.3 + 0.05,
            "{name}: {amount}"
        );
    }
    assert!(
        away > 0,
        "the simulated cars charge away from home too; those are not paid"
    );
}
