//! Settings and the owner data set in the app: units, names, capacities, prices.

use crate::*;
use egui_kittest::kittest::Queryable;

#[test]
fn settings_switch_distances_to_miles_and_renaming_a_vehicle_shows_the_new_name() {
    let dir = tempfile::tempdir().unwrap();
    let db = seeded_db(dir.path(), 2, 1);
    // The history ends at midnight UTC: later in the day both cars are quiet, and their
    // alerts would push the vehicle table below the harness's window.
    let mut conn = fleetdash::store::open(&db, &Default::default()).unwrap();
    let quiet_off = fleetdash::store::owner::OwnerWrite::AlertRule {
        rule: fleetdash::domain::alerts::Rule::VehicleQuiet,
        on: Some(false),
        settings: Vec::new(),
    };
    fleetdash::store::owner::apply(&mut conn, &quiet_off).unwrap();
    drop(conn);
    // A rename that waits for a write lock waits long here: the test holds one on purpose.
    let backend =
        Backend::start_local(&db, None, || {}).with_owner_write_timeout(Duration::from_secs(120));
    let mut harness = harness(app_on(backend));
    step_until(&mut harness, "two vehicles", |app| {
        app.vehicles().len() == 2
    });
    harness.get_by_label("Settings").click();
    harness.step();
    harness.get_by_label("Miles").click();
    harness.step();
    harness.get_by_label_contains(&db.display().to_string());
    assert_eq!(
        harness.state().persisted().settings.units,
        fleetdash::ui::settings::Units::Mi
    );
    harness.get_by_label("Fleet").click();
    harness.step();
    assert!(has_label(&harness, " mi"));
    assert!(!has_label(&harness, " km"));

    let first = harness.state().vehicles()[0].clone();
    harness.get_by_label(&first.name).click();
    step_until(&mut harness, "the vehicle view", |app| {
        app.vehicle_view().details().is_some()
    });
    // The rename's write waits behind another connection's write lock, so the fleet
    // answers that come meanwhile still carry the old name.
    let mut blocker = rusqlite::Connection::open(&db).unwrap();
    let lock = blocker
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .unwrap();
    rename(&mut harness, "Delivery van 1");
    let reads = harness.state().fleet_reads();
    harness.get_by_label("Back to the fleet").click();
    step_until(
        &mut harness,
        "a fleet answer read before the write",
        |app| app.fleet_reads() > reads,
    );
    assert!(
        has_label(&harness, "Delivery van 1"),
        "an answer read before the write brought the old name back"
    );
    assert_eq!(stored_name(&db, &first.id), None);

    drop(lock);
    step_until(&mut harness, "the new name in the database", |_| {
        stored_name(&db, &first.id).is_some()
    });
    assert_eq!(
        stored_name(&db, &first.id).as_deref(),
        Some("Delivery van 1")
    );
    // Once stored, the name shown is the database's again: a change made elsewhere shows.
    let writer = rusqlite::Connection::open(&db).unwrap();
    writer
        .execute(
            "UPDATE vehicles SET name = 'Van renamed elsewhere' WHERE id = ?1",
            [&first.id],
        )
        .unwrap();
    step_until_shown(&mut harness, "the name given elsewhere", |h| {
        has_label(h, "Van renamed elsewhere")
    });

    // A write that fails says so in words and lets the stored name back.
    writer
        .execute_batch(
            "CREATE TRIGGER refuse_renames BEFORE UPDATE OF name ON vehicles
             BEGIN SELECT RAISE(ABORT, 'renames are refused in this test'); END;",
        )
        .unwrap();
    harness.get_by_label("Van renamed elsewhere").click();
    step_until_shown(&mut harness, "the vehicle view", |h| has_label(h, "Rename"));
    rename(&mut harness, "Van that never was");
    step_until_shown(&mut harness, "the failed rename explained", |h| {
        has_label(h, "The name could not be saved")
    });
    harness.get_by_label("Back to the fleet").click();
    step_until_shown(&mut harness, "the stored name back", |h| {
        has_label(h, "Van renamed elsewhere") && !has_label(h, "Van that never was")
    });
    // The explanation stays until the owner dismisses it.
    assert!(has_label(&harness, "renames are refused in this test"));
    harness.get_by_label("Dismiss").click();
    step_until_shown(&mut harness, "the explanation dismissed", |h| {
        !has_label(h, "The name could not be saved")
    });
}

/// Renames the vehicle whose view is open.
fn rename(harness: &mut Harness<'static, FleetApp>, name: &str) {
    harness.get_by_label("Rename").click();
    harness.step();
    harness.step();
    // The name's field is the page's first (capacity and charge target follow).
    let text_input = egui::accesskit::Role::TextInput;
    harness
        .query_all_by_role(text_input)
        .next()
        .unwrap()
        .focus();
    harness.step();
    harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    harness.step();
    harness
        .query_all_by_role(text_input)
        .next()
        .unwrap()
        .type_text(name);
    harness.step();
    harness.get_by_label("Save name").click();
    harness.step();
}

/// The owner's name for `vehicle_id` as stored.
fn stored_name(db: &Path, vehicle_id: &str) -> Option<String> {
    let conn = fleetdash::store::open_read_only(db).unwrap();
    conn.query_row(
        "SELECT name FROM vehicles WHERE id = ?1",
        [vehicle_id],
        |r| r.get(0),
    )
    .unwrap()
}

#[test]
fn a_capacity_and_a_price_set_in_the_app_give_analytics_and_the_sessions_export_their_cost() {
    let dir = tempfile::tempdir().unwrap();
    let db = seeded_db(dir.path(), 1, 3);
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute("UPDATE vehicles SET capacity_kwh = NULL", [])
        .unwrap();
    let mut harness = harness(seeded_app(&db));
    step_until(&mut harness, "one vehicle", |app| app.vehicles().len() == 1);
    let vehicle = harness.state().vehicles()[0].clone();
    harness.get_by_label("Analytics").click();
    step_until(&mut harness, "analytics rows", |app| {
        !app.analytics().is_empty()
    });
    assert!(
        harness
            .state()
            .analytics()
            .iter()
            .all(|r| r.totals.cost.is_none()),
        "no capacity, no price: no cost"
    );

    // The vehicle page: capacity 50 kWh.
    harness.get_by_label("Fleet").click();
    harness.step();
    harness.get_by_label(&vehicle.name).click();
    step_until(&mut harness, "the vehicle page", |app| {
        app.vehicle_view().details().is_some()
    });
    type_into(&mut harness, 0, "50");
    harness.get_by_label("Save").click();
    step_until(&mut harness, "the capacity stored and read back", |app| {
        app.vehicles()[0].capacity_kwh == Some(50.0) && app.fleet_reads() > 0
    });
    harness.get_by_label("Back to the fleet").click();
    step_until_shown(&mut harness, "the page tabs", |h| {
        !has_label(h, "Back to the fleet")
    });

    // Settings: 0.40 per kWh.
    harness.get_by_label("Settings").click();
    harness.step();
    harness.step();
    type_into(&mut harness, 1, "0.40");
    harness.get_by_label("Save the fleet's settings").click();
    step_until(&mut harness, "the price in the database", |_| {
        let conn = fleetdash::store::open_read_only(&db).unwrap();
        fleetdash::store::sessions::default_price(&conn).unwrap() == Some(0.4)
    });

    harness.get_by_label("Analytics").click();
    step_until(&mut harness, "analytics with a cost", |app| {
        app.analytics().iter().any(|r| r.totals.cost.is_some())
    });
    assert!(has_label(&harness, " EUR"), "costs carry the currency");

    // `fleetdash export sessions` of the same database prices every complete session.
    let conn = fleetdash::store::open_read_only(&db).unwrap();
    let mut csv = Vec::new();
    fleetdash::store::export_csv(
        &conn,
        fleetdash::store::ExportKind::Sessions,
        &fleetdash::store::ExportFilter::default(),
        &mut csv,
    )
    .unwrap();
    let mut reader = csv::Reader::from_reader(csv.as_slice());
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert!(!rows.is_empty());
    for row in &rows {
        let energy: f64 = row[7].parse().unwrap();
        let cost: f64 = row[10].parse().unwrap();
        assert!((cost - energy * 0.4).abs() < 0.01, "{row:?}");
    }
}
