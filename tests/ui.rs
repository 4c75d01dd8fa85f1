//! The desktop app driven through egui_kittest in demo mode: a real callback server, real
//! SQLite, and the simulated fleet delivering over loopback.

use std::time::{Duration, Instant};

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use fleetdash::sim::demo::DemoOptions;
use fleetdash::ui::FleetApp;
use fleetdash::ui::backend::Backend;

fn demo_app(dir: &tempfile::TempDir) -> FleetApp {
    let backend = Backend::start_demo(
        &dir.path().join("demo.sqlite3"),
        DemoOptions {
            vehicles: 3,
            history_days: 1,
            ..DemoOptions::default()
        },
        || {},
    );
    FleetApp::new(backend)
}

/// Steps the UI until `done` holds, or fails after a deadline.
fn step_until(harness: &mut Harness<'_, FleetApp>, mut done: impl FnMut(&FleetApp) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done(harness.state()) {
        assert!(Instant::now() < deadline, "the UI never got there");
        harness.step();
        std::thread::sleep(Duration::from_millis(20));
    }
    harness.step();
}

#[test]
fn demo_mode_shows_the_banner_and_a_living_fleet_and_opens_a_vehicle() {
    let dir = tempfile::tempdir().unwrap();
    let mut harness = Harness::builder()
        .with_size(egui::vec2(1100.0, 720.0))
        .build_ui_state(
            |ui, app: &mut FleetApp| {
                app.refresh();
                app.show(ui);
            },
            demo_app(&dir),
        );
    harness.step();
    harness.get_by_label_contains("Demo data");
    step_until(&mut harness, |app| app.vehicles().len() == 3);
    harness.get_by_label("Vehicle");
    harness.get_by_label("Range");
    let first = harness.state().vehicles()[0].clone();
    assert!(first.battery_percent.is_some());
    assert!(first.last_seen_ms.is_some());
    harness.get_by_label_contains("deliveries stored");

    harness.get_by_label(&first.name).click();
    harness.step();
    harness.step();
    harness.get_by_label("Charging sessions");
    harness.get_by_label("24 h").click();
    harness.step();
    harness.get_by_label("Back to the fleet").click();
    harness.step();
    harness.step();
    // Back on the overview: its Range column is there again.
    harness.get_by_label("Range");

    // The monthly analytics: one row per vehicle and the fleet's.
    harness.get_by_label("Analytics").click();
    // The demo's history may still be arriving: wait for a session with energy.
    step_until(&mut harness, |app| {
        app.analytics()
            .iter()
            .any(|r| r.totals.energy_kwh.is_some())
    });
    // (One fleet row per month; the demo's day may straddle two.)
    assert!(harness.query_all_by_label("All vehicles").count() >= 1);
    // Demo mode knows the simulated capacities and a price, so energy shows.
    assert!(harness.query_all_by_label_contains(" kWh").count() >= 1);
    harness.get_by_label("Per day").click();
    harness.step();
    harness.step();
    let periods: Vec<String> = harness
        .state()
        .analytics()
        .iter()
        .map(|r| r.period.clone())
        .collect();
    assert!(
        !periods.is_empty() && periods.iter().all(|p| p.len() == 10),
        "daily rows: {periods:?}"
    );

    // The deliveries panel lists what arrived and shows a raw body on demand.
    harness.get_by_label("Deliveries").click();
    harness.step();
    harness.step();
    assert!(!harness.state().delivery_rows().is_empty());
    harness.get_by_label_contains("Stored so far");
    harness
        .query_all_by_label("Raw JSON")
        .next()
        .unwrap()
        .click();
    harness.step();
    harness.step();
    harness.get_by_label_contains("pretty-printed");
    harness.get_by_label("Close").click();
    harness.step();
}
