//! Trips against the simulated fleet's true drives (v4 and v2 deliveries through the store;
//! the minute-by-minute history for GPS distances), and `fleetdash trips tag|history` and
//! `export trips` as a user runs them.

mod common;

use std::path::Path;

use common::*;
use fleetdash::sim::fleet::{FleetConfig, TrueTrip};
use fleetdash::sim::schedule::Schedule;
use fleetdash::smartcar::{Format, parse_webhook};
use fleetdash::store::trips::vehicle_trips;
use fleetdash::store::{self, Batch, StoreOptions};

const T0: i64 = 1_767_225_600_000; // 2026-01-01

/// What a comparison with the truth found.
#[derive(Debug, Default)]
struct Check {
    real: usize,
    found: usize,
    split: usize,
    invented: usize,
    /// Relative distance errors of the trips found whole.
    errors: Vec<f64>,
    odometer: usize,
    /// True and measured km of the trips found whole.
    km: (f64, f64),
}

fn compare(conn: &rusqlite::Connection, ids: &[String], truth: &[Vec<TrueTrip>]) -> Check {
    let mut check = Check::default();
    for (id, true_trips) in ids.iter().zip(truth) {
        let detected = vehicle_trips(conn, id).unwrap();
        let span = |t: &TrueTrip| (t.parked_until_ms, t.arrived_at_ms.unwrap_or(i64::MAX));
        for t in true_trips.iter().filter(|t| t.arrived_at_ms.is_some()) {
            check.real += 1;
            let (from, to) = span(t);
            let matching: Vec<_> = detected
                .iter()
                .filter(|d| {
                    // Shares a real part of the drive: a minute's overlap is a neighbour
                    // that starts at the last reading before this one arrived.
                    let end = d.trip.ended_at_ms.unwrap_or(d.trip.last_seen_ms);
                    let overlap = end.min(to) - d.trip.started_at_ms.max(from);
                    overlap > 3 * 60_000 || overlap * 2 > to - from
                })
                .collect();
            match matching.as_slice() {
                [] => {}
                [d] => {
                    check.found += 1;
                    let (km, source) = d.trip.distance();
                    if source == fleetdash::domain::trips::DistanceSource::Odometer {
                        check.odometer += 1;
                    }
                    let error = (km - t.distance_km).abs() / t.distance_km;
                    if error > 0.02 && std::env::var_os("TRIPS_DEBUG").is_some() {
                        eprintln!(
                            "off by {:.1} %: true {t:?}, found {:?}",
                            error * 100.0,
                            d.trip
                        );
                    }
                    check.errors.push(error);
                    check.km.0 += t.distance_km;
                    check.km.1 += km;
                }
                _ => {
                    check.found += 1;
                    check.split += 1;
                }
            }
        }
        for d in &detected {
            let end = d.trip.ended_at_ms.unwrap_or(d.trip.last_seen_ms);
            if !true_trips.iter().any(|t| {
                let (from, to) = span(t);
                d.trip.started_at_ms < to && end > from
            }) {
                check.invented += 1;
            }
        }
    }
    check
}

fn through_the_store(format: Format, seed: u64) -> Check {
    // Two vehicles: with three or more, one spends six hours unreachable (a changed
    // password), and the drives of an outage cannot be told apart.
    let config = FleetConfig {
        vehicles: 2,
        days: 14,
        seed,
        start_ms: T0,
        faults: Default::default(),
    };
    let dir = tempfile::tempdir().unwrap();
    let mut conn = store::open(&dir.path().join("t.sqlite3"), &StoreOptions::default()).unwrap();
    let mut schedule = Schedule::new(&config, format);
    let ids: Vec<String> = schedule.specs().iter().map(|s| s.id.clone()).collect();
    let mut batch = Batch::begin(&mut conn).unwrap();
    for delivery in schedule.by_ref() {
        let parsed = parse_webhook(&delivery.body, delivery.at_ms);
        batch
            .ingest(delivery.at_ms, &delivery.body, &parsed)
            .unwrap();
    }
    batch.commit().unwrap();
    compare(&conn, &ids, &schedule.trips())
}

fn worst(errors: &[f64]) -> f64 {
    errors.iter().copied().fold(0.0, f64::max)
}

#[test]
fn every_simulated_drive_is_found_whole_none_invented_with_the_odometer_s_distance() {
    let v4 = through_the_store(Format::V4, 21);
    eprintln!(
        "v4: {}/{} drives found, {} split, {} invented, {} by odometer, worst distance error {:.3} %",
        v4.found,
        v4.real,
        v4.split,
        v4.invented,
        v4.odometer,
        worst(&v4.errors) * 100.0
    );
    assert!(v4.real > 60, "too few drives to judge: {}", v4.real);
    assert_eq!(v4.found, v4.real);
    assert_eq!((v4.split, v4.invented), (0, 0));
    assert_eq!(
        v4.odometer, v4.found,
        "every v4 trip has the odometer at both ends"
    );
    assert!(worst(&v4.errors) < 0.001, "odometer distances are exact");

    // v2's hourly cadence: what share of drives is found, reported, and none invented.
    let v2 = through_the_store(Format::V2, 21);
    eprintln!(
        "v2: {}/{} drives found ({:.0} %), {} split, {} invented",
        v2.found,
        v2.real,
        v2.found as f64 * 100.0 / v2.real as f64,
        v2.split,
        v2.invented
    );
    assert_eq!(v2.invented, 0);
    assert!(v2.found > 0);
}

#[test]
fn gps_distances_of_the_minute_history_are_within_2_percent_of_the_route() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.sqlite3");
    let config = FleetConfig {
        vehicles: 3,
        days: 5,
        seed: 4,
        start_ms: T0,
        faults: Default::default(),
    };
    fleetdash::commands::simulate::write_history(&config, &db).unwrap();
    let conn = rusqlite::Connection::open(&db).unwrap();
    // Without the odometer, distances come from the positions.
    conn.execute("UPDATE readings SET odometer_km = NULL", [])
        .unwrap();
    fleetdash::store::derived::rebuild(&conn).unwrap();
    let ids: Vec<String> = fleetdash::sim::fleet::vehicles(&config)
        .into_iter()
        .map(|s| s.id)
        .collect();
    let mut fleet = fleetdash::sim::schedule::Fleet::new(&config);
    while fleet.step().is_some() {}
    let check = compare(&conn, &ids, &fleet.trips());
    let median = {
        let mut errors = check.errors.clone();
        errors.sort_by(f64::total_cmp);
        errors[errors.len() / 2]
    };
    let total_error = (check.km.1 - check.km.0).abs() / check.km.0;
    eprintln!(
        "minute history, GPS: {}/{} found, {} split, {} invented; {:.1} km measured of {:.1} km driven ({:.2} %), median trip error {:.2} %, worst {:.2} % (a short trip round a corner: one-minute positions cut it)",
        check.found,
        check.real,
        check.split,
        check.invented,
        check.km.1,
        check.km.0,
        total_error * 100.0,
        median * 100.0,
        worst(&check.errors) * 100.0
    );
    assert_eq!(check.found, check.real);
    assert_eq!((check.split, check.invented, check.odometer), (0, 0, 0));
    assert!(total_error <= 0.02, "{:.2} %", total_error * 100.0);
    assert!(median <= 0.02, "{:.2} %", median * 100.0);
}

/// A database with one vehicle (50 kWh) that drove 2 km east from 08:00 to 08:05 and back
/// from 12:00 to 12:05 on 2026-05-04, readings every minute, parked between.
fn two_trips(dir: &Path) -> std::path::PathBuf {
    let db = dir.join("fleet.sqlite3");
    let conn = store::open(&db, &StoreOptions::default()).unwrap();
    conn.execute(
        "INSERT INTO vehicles(id, make, model, capacity_kwh) VALUES ('v1', 'Kia', 'EV6', 50)",
        [],
    )
    .unwrap();
    let day = fleetdash::domain::time::parse_time_text("2026-05-04T00:00:00Z").unwrap();
    let at = |h: i64, m: i64| day + (h * 60 + m) * 60_000;
    let east = |km: f64| 11.575 + km * 0.013_45;
    let mut rows = Vec::new();
    for m in 0..=480 {
        let t = at(7, 0) + m * 60_000;
        let km = match t {
            t if t <= at(8, 0) => 0.0,
            t if t <= at(8, 5) => (t - at(8, 0)) as f64 / 150_000.0,
            t if t <= at(12, 0) => 2.0,
            t if t <= at(12, 5) => 2.0 - (t - at(12, 0)) as f64 / 150_000.0,
            _ => 0.0,
        };
        let soc = 80.0
            - if t > at(12, 0) {
                4.0
            } else if t > at(8, 0) {
                2.0
            } else {
                0.0
            };
        rows.push((t, km, soc));
    }
    for (t, km, soc) in rows {
        conn.execute(
            "INSERT INTO readings(vehicle_id, recorded_at, battery_percent, plugged_in, latitude, longitude, source)
             VALUES ('v1', ?1, ?2, 0, 48.137, ?3, 'api')",
            rusqlite::params![t, soc, east(km)],
        )
        .unwrap();
    }
    fleetdash::store::derived::rebuild(&conn).unwrap();
    db
}

fn trips_csv(db: &Path) -> Vec<Vec<String>> {
    let out = run(db, &["export", "trips"]);
    assert!(out.success, "{}", out.stderr);
    let (header, rows) = parse_csv(&out.stdout);
    assert_eq!(
        header.join(","),
        "vehicle_id,vehicle_name,driver,started_at,ended_at,duration_min,distance_km,distance_source,start_latitude,start_longitude,end_latitude,end_longitude,start_place,end_place,start_percent,end_percent,energy_used_kwh,kwh_per_100km,purpose,note,status"
    );
    rows
}

#[test]
fn a_tag_is_set_changed_kept_through_late_data_and_reprocess_and_every_change_is_listed() {
    let dir = tempfile::tempdir().unwrap();
    let db = two_trips(dir.path());
    let rows = trips_csv(&db);
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(
        &rows[0][3..8],
        [
            "2026-05-04T08:00:00Z",
            "2026-05-04T08:05:00Z",
            "5",
            "2.00",
            "gps"
        ]
    );
    // 2 % of 50 kWh over the 2 km (as the crow flies on the sphere: 1.996 km).
    assert_eq!(rows[0][16], "1.00");
    let per_100: f64 = rows[0][17].parse().unwrap();
    assert!((per_100 - 50.0).abs() < 0.5, "{per_100}");
    assert_eq!(rows[0][20], "complete");

    // Tag the morning trip, then change the purpose and add a note.
    let tag = |at: &str, purpose: &str, note: Option<&str>| {
        let mut args = vec![
            "trips",
            "tag",
            "--vehicle",
            "v1",
            "--at",
            at,
            "--purpose",
            purpose,
        ];
        if let Some(note) = note {
            args.extend(["--note", note]);
        }
        run(&db, &args)
    };
    let first = tag("2026-05-04T08:02:00Z", "private", None);
    assert!(first.success, "{}", first.stderr);
    assert!(
        first.stdout.contains("08:00:00Z to 2026-05-04T08:05:00Z"),
        "{}",
        first.stdout
    );
    assert!(tag("2026-05-04T08:04:00Z", "business", Some("=Client visit")).success);
    let rows = trips_csv(&db);
    assert_eq!(
        (rows[0][18].as_str(), rows[0][19].as_str()),
        ("business", "'=Client visit")
    );
    assert_eq!((rows[1][18].as_str(), rows[1][19].as_str()), ("", ""));

    // Late data: readings of the drive before 08:00 arrive (it left at 07:58): the trip
    // starts earlier and keeps its tag.
    let mut conn = store::open(&db, &StoreOptions::default()).unwrap();
    let day = fleetdash::domain::time::parse_time_text("2026-05-04T07:59:00Z").unwrap();
    let late = fleetdash::domain::Readings {
        locations: vec![fleetdash::domain::LocationReading {
            recorded_at_ms: day,
            latitude: 48.137,
            longitude: 11.575 + 0.2 * 0.013_45,
        }],
        ..Default::default()
    };
    let mut batch = Batch::begin(&mut conn).unwrap();
    batch
        .store_readings("v1", None, &late, fleetdash::domain::Source::Api, None)
        .unwrap();
    batch.commit().unwrap();
    drop(conn);
    let rows = trips_csv(&db);
    assert_eq!(rows[0][3], "2026-05-04T07:58:00Z");
    assert_eq!(rows[0][18], "business");

    // reprocess rebuilds the readings from the archive (none here came from a delivery:
    // they stay) and keeps the tags.
    assert!(run(&db, &["reprocess"]).success);
    assert_eq!(trips_csv(&db)[0][18], "business");

    // The history: both changes, old and new.
    let history = run(&db, &["trips", "history", "--vehicle", "v1"]);
    assert!(history.success, "{}", history.stderr);
    let lines: Vec<&str> = history.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", history.stdout);
    assert!(lines[1].contains("- -> private"), "{}", lines[1]);
    assert!(
        lines[2].contains("private -> business") && lines[2].contains("- -> =Client visit"),
        "{}",
        lines[2]
    );

    // A time with no trip names the nearest ones; an unknown vehicle says how to list them.
    let none = tag("2026-05-04T10:00:00Z", "business", None);
    assert!(!none.success);
    assert!(
        none.stderr.contains("made no trip at 2026-05-04T10:00:00Z"),
        "{}",
        none.stderr
    );
    assert!(
        none.stderr.contains("07:58:00Z to 2026-05-04T08:05:00Z")
            && none.stderr.contains("12:00:00Z"),
        "{}",
        none.stderr
    );
    let unknown = run(
        &db,
        &[
            "trips",
            "tag",
            "--vehicle",
            "v9",
            "--at",
            "2026-05-04T08:02:00Z",
            "--purpose",
            "private",
        ],
    );
    assert!(
        !unknown.success && unknown.stderr.contains("fleetdash settings"),
        "{}",
        unknown.stderr
    );
    let bad = run(
        &db,
        &[
            "trips",
            "tag",
            "--vehicle",
            "v1",
            "--at",
            "2026-05-04T08:02:00Z",
            "--purpose",
            "holiday",
        ],
    );
    assert!(
        !bad.success && bad.stderr.contains("business"),
        "{}",
        bad.stderr
    );
}

#[test]
fn the_logbook_lists_the_month_s_trips_in_local_time_with_places_and_totals_per_purpose() {
    let dir = tempfile::tempdir().unwrap();
    let db = two_trips(dir.path());
    for args in [
        &["settings", "timezone", "Europe/Berlin"][..],
        &[
            "settings",
            "place",
            "Home",
            "--lat",
            "48.137",
            "--lon",
            "11.575",
            "--radius-m",
            "100",
        ],
        &[
            "trips",
            "tag",
            "--vehicle",
            "v1",
            "--at",
            "2026-05-04T08:02:00Z",
            "--purpose",
            "business",
            "--note",
            "Client",
        ],
    ] {
        let out = run(&db, args);
        assert!(out.success, "{args:?}: {}", out.stderr);
    }
    let csv_path = dir.path().join("may.csv");
    let out = run(
        &db,
        &[
            "logbook",
            "--vehicle",
            "v1",
            "--month",
            "2026-05",
            "--out",
            csv_path.to_str().unwrap(),
        ],
    );
    assert!(out.success, "{}", out.stderr);
    assert!(out.stderr.contains("wrote 2 trips"), "{}", out.stderr);
    assert!(
        out.stderr.contains("business 2.0") && out.stderr.contains("not tagged 2.0"),
        "{}",
        out.stderr
    );
    let (header, rows) = parse_csv(&std::fs::read_to_string(&csv_path).unwrap());
    assert_eq!(
        header.join(","),
        "date,start_time,end_time,from,to,start_odometer_km,end_odometer_km,distance_km,purpose,note"
    );
    assert_eq!(rows.len(), 2);
    // 08:00 UTC is 10:00 in Berlin in May; from the owner's place, to coordinates.
    assert_eq!(
        &rows[0][..5],
        ["2026-05-04", "10:00", "10:05", "Home", "48.13700, 11.60190"]
    );
    assert_eq!(&rows[0][7..], ["2.00", "business", "Client"]);
    assert_eq!(
        (rows[1][3].as_str(), rows[1][4].as_str()),
        ("48.13700, 11.60190", "Home")
    );
    // The PDF: its text extracts, with the trips, the places and the totals per purpose.
    let pdf_path = dir.path().join("may.pdf");
    let out = run(
        &db,
        &[
            "logbook",
            "--vehicle",
            "v1",
            "--month",
            "2026-05",
            "--out",
            pdf_path.to_str().unwrap(),
        ],
    );
    assert!(out.success, "{}", out.stderr);
    let text = pdf_text(&pdf_path);
    for expected in [
        "Driving logbook 2026-05",
        "Vehicle: Kia EV6",
        "Home",
        "Client",
        "business",
        "Business: 2.0 km",
        "Not tagged: 2.0 km",
        "Total: 4.0 km in 2 trips",
        "Page 1 of 1",
    ] {
        assert!(text.contains(expected), "{expected:?} not in:\n{text}");
    }
    // Another month has no trip; a bad extension, a bad month and an unknown vehicle say
    // what to do.
    let june = dir.path().join("june.csv");
    let out = run(
        &db,
        &[
            "logbook",
            "--vehicle",
            "v1",
            "--month",
            "2026-06",
            "--out",
            june.to_str().unwrap(),
        ],
    );
    assert!(
        out.success && out.stderr.contains("wrote 0 trips"),
        "{}",
        out.stderr
    );
    for (args, says) in [
        (vec!["--month", "2026-05", "--out", "may.txt"], ".pdf"),
        (vec!["--month", "May", "--out", "may.csv"], "YYYY-MM"),
    ] {
        let mut all = vec!["logbook", "--vehicle", "v1"];
        all.extend(args);
        let out = run(&db, &all);
        assert!(
            !out.success && out.stderr.contains(says),
            "{all:?}: {}",
            out.stderr
        );
    }
    let out = run(
        &db,
        &[
            "logbook",
            "--vehicle",
            "v9",
            "--month",
            "2026-05",
            "--out",
            june.to_str().unwrap(),
        ],
    );
    assert!(
        !out.success && out.stderr.contains("fleetdash settings"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_month_of_trips_breaks_across_pages_with_the_header_repeated_and_totals_that_add_up() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("month.sqlite3");
    let config = FleetConfig {
        vehicles: 1,
        days: 33,
        seed: 3,
        start_ms: T0,
        faults: Default::default(),
    };
    fleetdash::commands::simulate::write_history(&config, &db).unwrap();
    let id = fleetdash::sim::fleet::vehicles(&config)[0].id.clone();
    let (pdf, csv) = (dir.path().join("jan.pdf"), dir.path().join("jan.csv"));
    for out in [&pdf, &csv] {
        let run = run(
            &db,
            &[
                "logbook",
                "--vehicle",
                &id,
                "--month",
                "2026-01",
                "--out",
                out.to_str().unwrap(),
            ],
        );
        assert!(run.success, "{}", run.stderr);
    }
    let (_, rows) = parse_csv(&std::fs::read_to_string(&csv).unwrap());
    assert!(rows.len() > 150, "{} trips", rows.len());
    let km: f64 = rows.iter().map(|r| r[7].parse::<f64>().unwrap()).sum();
    let text = pdf_text(&pdf);
    let pages = text.matches("Page ").count();
    assert!(pages >= 4, "{pages} pages");
    assert!(
        text.contains(&format!("Page 1 of {pages}"))
            && text.contains(&format!("Page {pages} of {pages}"))
    );
    assert!(
        text.matches("Odo. start").count() >= pages - 1,
        "the header on every page with rows"
    );
    let total_line = text
        .lines()
        .find(|l| l.trim_start().starts_with("Total: "))
        .expect("a total line");
    assert!(
        total_line.contains(&format!("km in {} trips", rows.len())),
        "{total_line}"
    );
    let total: f64 = total_line
        .trim()
        .trim_start_matches("Total: ")
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    // The CSV's distances are rounded to two decimals, the total is of the exact ones.
    assert!((total - km).abs() < 0.1, "{total} against {km}");
    // Every trip's date and start time is in the PDF, in order.
    let mut from = 0;
    for r in &rows {
        let line = format!("{}   {}", r[0], r[1]);
        let at = text[from..]
            .find(&line)
            .unwrap_or_else(|| panic!("{line} missing"));
        from += at + line.len();
    }
}

/// `deliveries` moved up to 60 places each (xorshift from `seed`), every 7th sent twice.
fn shuffled_with_repeats(
    deliveries: &[fleetdash::sim::schedule::Delivery],
    seed: u64,
) -> Vec<fleetdash::sim::schedule::Delivery> {
    let mut state = seed | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut out = deliveries.to_vec();
    for i in 0..out.len() {
        let j = (i + (next() % 60) as usize).min(out.len() - 1);
        out.swap(i, j);
    }
    out.extend(deliveries.iter().step_by(7).cloned());
    out
}

/// Every vehicle's materialised sessions and trips equal a detection over all its readings.
fn assert_materialised_equal_full(db: &Path) -> (usize, usize) {
    let conn = store::open(db, &StoreOptions::default()).unwrap();
    let ids: Vec<String> = conn
        .prepare("SELECT id FROM vehicles ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let (mut sessions, mut trips) = (0, 0);
    for id in &ids {
        let (full_sessions, full_trips) = store::derived::detect_all(&conn, id).unwrap();
        assert_eq!(
            store::derived::sessions(&conn, id, None).unwrap(),
            full_sessions
        );
        assert_eq!(store::derived::trips(&conn, id, None).unwrap(), full_trips);
        sessions += full_sessions.len();
        trips += full_trips.len();
    }
    (sessions, trips)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shuffled_and_repeated_deliveries_over_http_derive_the_trips_and_sessions_of_an_in_order_ingest()
 {
    for format in [Format::V4, Format::V2] {
        let config = fleet_config(31, 2, 4);
        let deliveries = fleet_deliveries(&config, format);
        // The reference: every delivery in order, in one transaction.
        let dir = tempfile::tempdir().unwrap();
        let reference = dir.path().join("in-order.sqlite3");
        {
            let mut conn = store::open(&reference, &StoreOptions::default()).unwrap();
            let mut batch = Batch::begin(&mut conn).unwrap();
            for d in &deliveries {
                batch
                    .ingest(d.at_ms, &d.body, &parse_webhook(&d.body, d.at_ms))
                    .unwrap();
            }
            batch.commit().unwrap();
        }
        // Over real HTTP, out of order, with Smartcar's repeats, eight at once.
        let server = TestServer::start().await;
        deliver_acknowledged(&server.webhook_url(), shuffled_with_repeats(&deliveries, 7)).await;
        wait_derived(&server.db);

        let (sessions, trips) = assert_materialised_equal_full(&server.db);
        assert!(
            sessions >= 2 && trips >= 8,
            "{format:?}: {sessions} sessions, {trips} trips"
        );
        if format == Format::V4 {
            // v4 dates every value itself, so both databases hold the same readings and
            // must export the same trips and sessions (v2 dates some values by arrival).
            for kind in ["trips", "sessions"] {
                let served = run(&server.db, &["export", kind]);
                let in_order = run(&reference, &["export", kind]);
                assert!(served.success && in_order.success, "{}", served.stderr);
                assert_eq!(served.stdout, in_order.stdout, "{kind}");
            }
        }
    }
}
