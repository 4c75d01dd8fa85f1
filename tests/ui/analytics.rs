//! The Analytics page: months in the fleet's time zone as set in the app, the stacked bar
//! chart, and a click on a bar showing its month.

use crate::*;
use egui_kittest::kittest::Queryable;
use fleetdash::domain::time::parse_time_text;

/// A database with one vehicle (50 kWh) that charged 40 -> 60 % for an hour starting at
/// each of `starts` (UTC), parked unplugged in between.
fn db_with_sessions(dir: &Path, starts: &[&str]) -> PathBuf {
    let db = dir.join("fleet.sqlite3");
    let conn = fleetdash::store::open(&db, &Default::default()).unwrap();
    conn.execute(
        "INSERT INTO vehicles(id, make, model, year, capacity_kwh) VALUES ('v1', 'Kia', 'EV6', 2024, 50)",
        [],
    )
    .unwrap();
    const MIN: i64 = 60_000;
    for start in starts {
        let t = parse_time_text(start).unwrap();
        for (at, soc, plugged, state) in [
            (t - 30 * MIN, 40.0, false, "NOT_CHARGING"),
            (t, 40.0, true, "CHARGING"),
            (t + 30 * MIN, 50.0, true, "CHARGING"),
            (t + 60 * MIN, 60.0, true, "FULLY_CHARGED"),
            (t + 90 * MIN, 60.0, false, "NOT_CHARGING"),
        ] {
            conn.execute(
                "INSERT INTO readings(vehicle_id, recorded_at, battery_percent, plugged_in, charging_state, latitude, longitude, source)
                 VALUES ('v1', ?1, ?2, ?3, ?4, 52.5, 13.4, 'api')",
                rusqlite::params![at, soc, plugged, state],
            )
            .unwrap();
        }
    }
    fleetdash::store::derived::rebuild(&conn).unwrap();
    db
}

/// The vehicle's (period, sessions) on the Analytics page.
fn periods(app: &FleetApp) -> Vec<(String, u64)> {
    app.analytics()
        .iter()
        .filter(|r| r.vehicle_id == "v1" && r.totals.sessions > 0)
        .map(|r| (r.period.clone(), r.totals.sessions))
        .collect()
}

fn click_at(harness: &mut Harness<'static, FleetApp>, pos: egui::Pos2) {
    let button = |pressed| egui::Event::PointerButton {
        pos,
        button: egui::PointerButton::Primary,
        pressed,
        modifiers: egui::Modifiers::NONE,
    };
    harness
        .input_mut()
        .events
        .push(egui::Event::PointerMoved(pos));
    harness.step();
    harness.input_mut().events.push(button(true));
    harness.step();
    harness.input_mut().events.push(button(false));
    harness.step();
}

#[test]
fn berlin_set_in_the_app_moves_a_session_at_23_30_utc_on_the_31st_into_april_and_its_bar_shows_april()
 {
    let dir = tempfile::tempdir().unwrap();
    let db = db_with_sessions(
        dir.path(),
        &[
            "2026-02-10T10:00:00Z",
            "2026-03-15T10:00:00Z",
            "2026-03-31T23:30:00Z",
        ],
    );
    fleetdash::store::owner::apply(
        &mut fleetdash::store::open(&db, &Default::default()).unwrap(),
        &fleetdash::store::owner::OwnerWrite::TimeZone(Some("UTC".into())),
    )
    .unwrap();
    let mut harness = harness(seeded_app(&db));
    step_until(&mut harness, "the vehicle", |app| app.vehicles().len() == 1);
    harness.get_by_label("Analytics").click();
    step_until(&mut harness, "analytics in UTC", |app| {
        !periods(app).is_empty()
    });
    assert_eq!(
        periods(harness.state()),
        [("2026-02".to_owned(), 1), ("2026-03".to_owned(), 2)]
    );

    // Settings: type part of the name, pick the suggestion, save.
    harness.get_by_label("Settings").click();
    harness.run_steps(2);
    type_into(&mut harness, 2, "berlin");
    harness.get_by_label("Europe/Berlin").click();
    harness.step();
    harness.get_by_label("Save the fleet's settings").click();
    step_until(&mut harness, "Berlin in the database", |_| {
        let conn = fleetdash::store::open_read_only(&db).unwrap();
        fleetdash::store::owner::fleet_zone(&conn).unwrap().name() == "Europe/Berlin"
    });

    harness.get_by_label("Analytics").click();
    step_until(&mut harness, "analytics in Berlin", |app| {
        periods(app).iter().any(|(p, _)| p == "2026-04")
    });
    assert_eq!(
        periods(harness.state()),
        [
            ("2026-02".to_owned(), 1),
            ("2026-03".to_owned(), 1),
            ("2026-04".to_owned(), 1)
        ]
    );
    assert!(has_label(&harness, "Per month in Europe/Berlin"));
    assert!(has_label(&harness, "Driven") && has_label(&harness, "0 km"));
    assert!(has_label(&harness, "2026-03"), "every month in the table");

    // A click on April's bar shows April alone.
    harness.run_steps(2);
    let april = harness
        .state()
        .analytics_page()
        .bar_centre("2026-04")
        .expect("April has a bar");
    click_at(&mut harness, april);
    assert_eq!(harness.state().analytics_page().selected(), Some("2026-04"));
    assert!(has_label(&harness, "Showing 2026-04"));
    assert!(!has_label(&harness, "2026-03"), "March is no longer listed");
    harness.get_by_label("Show every month").click();
    harness.step();
    assert_eq!(harness.state().analytics_page().selected(), None);
    assert!(has_label(&harness, "2026-03"));
}
