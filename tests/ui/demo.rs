//! Demo mode: a live fleet through real deliveries.

use crate::*;
use egui_kittest::kittest::Queryable;

#[test]
fn demo_mode_shows_the_banner_and_a_living_fleet_driven_by_real_deliveries() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Backend::start_demo(
        &dir.path().join("demo.sqlite3"),
        DemoOptions {
            vehicles: 3,
            history_days: 1,
            ..DemoOptions::default()
        },
        || {},
    );
    let mut harness = harness(FleetApp::new(backend));
    harness.step();
    harness.get_by_label_contains("Demo data");
    step_until(&mut harness, "three vehicles with batteries", |app| {
        app.vehicles().len() == 3 && app.vehicles().iter().all(|v| v.battery_percent.is_some())
    });
    harness.get_by_label_contains("deliveries stored");
    // The simulated Smartcar has every demo car subscribed.
    assert_eq!(harness.query_all_by_label("subscribed").count(), 3);
    // Demo mode seeds what an owner would have set: a fleet name, a price, a depot.
    let fleet = harness.state().fleet();
    assert_eq!(fleet.settings.fleet_name.as_deref(), Some("Demo fleet"));
    assert_eq!(fleet.settings.price_per_kwh, Some(0.30));
    assert_eq!(fleet.places.len(), 1, "{:?}", fleet.places);
    assert!(fleet.vehicles.iter().all(|v| v.charge_target == Some(80.0)));

    // The monthly analytics: one row per vehicle and the fleet's.
    harness.get_by_label("Analytics").click();
    // The demo's history may still be arriving: wait for a session with energy.
    step_until(&mut harness, "a session with energy", |app| {
        app.analytics()
            .iter()
            .any(|r| r.totals.energy_kwh.is_some())
    });
    assert!(harness.query_all_by_label("All vehicles").count() >= 1);
    assert!(has_label(&harness, "kWh"));

    // The deliveries: real webhooks, their outcomes, the server's status, a body on demand.
    harness.get_by_label("Deliveries").click();
    step_until(&mut harness, "deliveries", |app| {
        !app.delivery_rows().is_empty()
    });
    assert!(has_label(&harness, "listening at http://127.0.0.1:"));
    assert!(has_label(&harness, "No error so far."));
    assert!(
        harness
            .state()
            .delivery_rows()
            .iter()
            .any(|r| r.kind == "v4/VEHICLE_STATE" && r.outcome == "parsed")
    );
    harness
        .query_all_by_label("Raw JSON")
        .next()
        .unwrap()
        .click();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !has_label(&harness, "its JSON, pretty-printed") {
        assert!(Instant::now() < deadline, "the JSON never opened");
        harness.step();
        std::thread::sleep(Duration::from_millis(10));
    }
    harness.get_by_label("Close").click();
    harness.step();

    // Some trips of the history carry purposes, as an owner's would.
    let db = dir.path().join("demo.sqlite3");
    step_until(&mut harness, "a business trip in the export", |_| {
        let conn = fleetdash::store::open_read_only(&db).unwrap();
        let mut out = Vec::new();
        fleetdash::store::export_csv(
            &conn,
            fleetdash::store::ExportKind::Trips,
            &Default::default(),
            &mut out,
        )
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        text.contains(",business,") && text.contains(",private,")
    });
}
