//! The desktop app driven through egui_kittest: against a seeded database (every page
//! renders its data, clicks open and change what they should, the export writes a CSV that
//! parses back, the map draws its markers with no tile server), and in demo mode (a real
//! callback server, real SQLite, the simulated fleet delivering over loopback).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use fleetdash::domain::time::{DAY_MS, now_ms};
use fleetdash::sim::demo::DemoOptions;
use fleetdash::sim::fleet::FleetConfig;
use fleetdash::ui::backend::Backend;
use fleetdash::ui::pages::map::TileState;
use fleetdash::ui::{FleetApp, Persisted};

/// A database holding `days` of one-minute history for `vehicles`, ending about now.
fn seeded_db(dir: &Path, vehicles: usize, days: u32) -> PathBuf {
    let db = dir.join("fleet.sqlite3");
    let config = FleetConfig {
        vehicles,
        days,
        seed: 7,
        start_ms: now_ms() - i64::from(days) * DAY_MS,
    };
    fleetdash::commands::simulate::write_history(&config, &db).unwrap();
    db
}

/// The app on `db`, with no callback server, and map tiles pointed at a closed loopback
/// port (no test reaches the internet).
fn seeded_app(db: &Path) -> FleetApp {
    app_on(Backend::start_local(db, None, || {}))
}

/// The app on `backend`, with map tiles pointed at a closed loopback port.
fn app_on(backend: Backend) -> FleetApp {
    let mut persisted = Persisted::default();
    persisted.settings.tile_url = "http://127.0.0.1:9/{z}/{x}/{y}.png".into();
    persisted.settings.demo = false;
    FleetApp::with_state(backend, persisted, Arc::new(|| {}))
}

fn harness(app: FleetApp) -> Harness<'static, FleetApp> {
    Harness::builder()
        .with_size(egui::vec2(1200.0, 800.0))
        .build_ui_state(
            |ui, app: &mut FleetApp| {
                app.refresh();
                app.show(ui);
            },
            app,
        )
}

/// Steps the UI until `done` holds of the app, or fails after a deadline.
fn step_until(
    harness: &mut Harness<'_, FleetApp>,
    what: &str,
    mut done: impl FnMut(&FleetApp) -> bool,
) {
    step_until_shown(harness, what, |h| done(h.state()));
    harness.step();
}

/// Steps the UI until what it shows satisfies `done`, or fails after a deadline.
fn step_until_shown<'a>(
    harness: &mut Harness<'a, FleetApp>,
    what: &str,
    mut done: impl FnMut(&Harness<'a, FleetApp>) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done(harness) {
        assert!(Instant::now() < deadline, "the UI never got there: {what}");
        harness.step();
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn has_label(harness: &Harness<'_, FleetApp>, text: &str) -> bool {
    harness.query_all_by_label_contains(text).next().is_some()
}

#[test]
fn the_overview_lists_every_seeded_vehicle_and_a_click_opens_its_plot_and_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let db = seeded_db(dir.path(), 3, 10);
    let mut harness = harness(seeded_app(&db));
    step_until(&mut harness, "three vehicles", |app| {
        app.vehicles().len() == 3
    });
    for heading in [
        "Vehicle",
        "Battery",
        "Range",
        "Charging",
        "Last seen",
        "Webhook",
    ] {
        assert!(has_label(&harness, heading), "{heading}");
    }
    let first = harness.state().vehicles()[0].clone();
    let percent = first.battery_percent.expect("a battery reading");
    assert!(has_label(&harness, &format!("{percent:.0} %")));
    assert!(has_label(&harness, "km"));
    assert!(first.position.is_some(), "the latest position is read");

    harness.get_by_label(&first.name).click();
    step_until(&mut harness, "the plot's points", |app| {
        !app.vehicle_view().series().is_empty()
    });
    harness.get_by_label("Charging sessions");
    harness.get_by_label("Errors");
    let details = harness.state().vehicle_view().details().unwrap().clone();
    assert!(
        !details.sessions.is_empty(),
        "ten days hold charging sessions"
    );
    // The default range is a week, ending at the last reading.
    let (from, to) = harness.state().vehicle_view().series_window().unwrap();
    assert_eq!(to - from, 7 * DAY_MS);

    // The range buttons change the window read, and so the points plotted.
    for (label, days) in [("24 h", 1), ("30 d", 30)] {
        harness.get_by_label(label).click();
        step_until(&mut harness, label, |app| {
            app.vehicle_view()
                .series_window()
                .is_some_and(|(from, to)| to - from == days * DAY_MS)
        });
    }
    let (span_first, _) = details.span.unwrap();
    let series = harness.state().vehicle_view().series();
    // 30 days of a 10-day history: everything, downsampled but for the plot's width.
    assert!(series.len() <= 2 * 4000 + 2);
    assert!(series.first().unwrap().x * 1000.0 >= span_first as f64 - 1.0);

    harness.get_by_label("Back to the fleet").click();
    harness.step();
    harness.step();
    assert!(has_label(&harness, "Last seen"));

    // Analytics: a row per vehicle and month, and the fleet's, with energy (the seeded
    // fleet knows its capacities).
    harness.get_by_label("Analytics").click();
    step_until(&mut harness, "analytics rows", |app| {
        !app.analytics().is_empty()
    });
    assert!(harness.query_all_by_label("All vehicles").count() >= 1);
    assert!(has_label(&harness, "kWh"));
    let sessions: u64 = harness
        .state()
        .analytics()
        .iter()
        .filter(|r| !r.vehicle_id.is_empty())
        .map(|r| r.totals.sessions)
        .sum();
    assert!(
        sessions >= 3,
        "{sessions} sessions in ten days of three vehicles"
    );
}

#[test]
fn the_map_draws_every_marker_and_a_trail_and_says_tiles_are_unavailable_without_a_tile_server() {
    let dir = tempfile::tempdir().unwrap();
    let db = seeded_db(dir.path(), 3, 3);
    let mut harness = harness(seeded_app(&db));
    step_until(&mut harness, "three vehicles", |app| {
        app.vehicles().len() == 3
    });
    harness.get_by_label("Map").click();
    step_until(&mut harness, "the tile check", |app| {
        matches!(app.map_view().tile_state(), TileState::Unavailable(_))
    });
    assert!(has_label(&harness, "Map tiles are unavailable"));
    harness.get_by_label("© OpenStreetMap contributors");
    let fleet = harness.state().vehicles().to_vec();
    for vehicle in &fleet {
        // A marker's label: name and battery, as a real (clickable) widget on the map.
        let percent = vehicle.battery_percent.unwrap();
        assert!(has_label(
            &harness,
            &format!("{} · {percent:.0} %", vehicle.name)
        ));
    }
    // Selecting a vehicle in the side list draws its trail.
    harness.get_by_label(&fleet[1].name).click();
    step_until(&mut harness, "a trail", |app| app.trail().len() > 10);
    harness.get_by_label("Fit to fleet").click();
    harness.step();
}

#[test]
fn the_export_page_writes_the_same_csv_as_the_command_and_it_parses_back() {
    let dir = tempfile::tempdir().unwrap();
    let db = seeded_db(dir.path(), 2, 2);
    let mut harness = harness(seeded_app(&db));
    step_until(&mut harness, "two vehicles", |app| {
        app.vehicles().len() == 2
    });
    harness.get_by_label("Export").click();
    harness.step();
    let fleet = harness.state().vehicles().to_vec();
    // Only the second vehicle.
    // A new grid settles its layout over a couple of frames, as on screen.
    harness.step();
    harness.step();
    harness.get_by_label(&fleet[1].name).click();
    harness.step();
    let out = dir.path().join("battery.csv");
    harness.state_mut().export_view_mut().set_path(&out);
    harness.step();
    harness.get_by_label("Export battery").click();
    step_until(&mut harness, "the export's end", |app| {
        app.export_view().message().is_some()
    });
    let (ok, message) = harness.state().export_view().message().unwrap().clone();
    assert!(ok, "{message}");

    let mut reader = csv::Reader::from_path(&out).unwrap();
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
        [
            "vehicle_id",
            "vehicle_name",
            "recorded_at",
            "battery_percent",
            "range_km",
            "source"
        ]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    // Two days of minutes for one vehicle.
    assert!(rows.len() >= 2 * 1440 - 1, "{} rows", rows.len());
    let others: Vec<_> = rows
        .iter()
        .filter(|r| r[0] != fleet[1].id || r[1] != fleet[1].name)
        .take(2)
        .collect();
    assert!(others.is_empty(), "{others:?} vs {:?}", fleet[1]);
    let percent: f64 = rows[0][3].parse().unwrap();
    assert!((0.0..=100.0).contains(&percent));
    assert!(message.contains(&format!("Exported {} rows", rows.len())));

    // Byte for byte what `fleetdash export battery --vehicle ID` writes.
    let conn = fleetdash::store::open_read_only(&db).unwrap();
    let mut expected = Vec::new();
    fleetdash::store::export_csv(
        &conn,
        fleetdash::store::ExportKind::Battery,
        &fleetdash::store::ExportFilter {
            vehicle_ids: vec![fleet[1].id.clone()],
            ..Default::default()
        },
        &mut expected,
    )
    .unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), expected);
}

#[test]
fn a_bad_time_range_in_the_export_says_what_to_fix_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = seeded_db(dir.path(), 1, 1);
    let mut harness = harness(seeded_app(&db));
    step_until(&mut harness, "one vehicle", |app| app.vehicles().len() == 1);
    harness.get_by_label("Export").click();
    harness.step();
    let out = dir.path().join("out.csv");
    harness.state_mut().export_view_mut().set_path(&out);
    harness
        .state_mut()
        .export_view_mut()
        .set_range("2026-02-01", "2026-01-01");
    harness.step();
    harness.get_by_label("Export battery").click();
    harness.step();
    assert!(has_label(&harness, "From is after To"));
    assert!(!out.exists());
}

#[test]
fn settings_switch_distances_to_miles_and_renaming_a_vehicle_shows_the_new_name() {
    let dir = tempfile::tempdir().unwrap();
    let db = seeded_db(dir.path(), 2, 1);
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
}

/// Types `text` into the page's `nth` text field (replacing what it holds).
fn type_into(harness: &mut Harness<'static, FleetApp>, nth: usize, text: &str) {
    let text_input = egui::accesskit::Role::TextInput;
    harness
        .query_all_by_role(text_input)
        .nth(nth)
        .unwrap()
        .focus();
    harness.step();
    harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    harness.step();
    harness
        .query_all_by_role(text_input)
        .nth(nth)
        .unwrap()
        .type_text(text);
    harness.step();
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

#[test]
fn a_place_added_on_the_map_prices_the_sessions_charged_there() {
    let dir = tempfile::tempdir().unwrap();
    let db = seeded_db(dir.path(), 1, 3);
    let conn = fleetdash::store::open_read_only(&db).unwrap();
    let sessions = fleetdash::store::sessions::vehicle_sessions(&conn, &{
        let id: String = conn
            .query_row("SELECT id FROM vehicles", [], |r| r.get(0))
            .unwrap();
        id
    })
    .unwrap();
    let (lat, lon) = sessions
        .iter()
        .find_map(|s| s.position)
        .expect("a session with a position");
    drop(conn);
    let mut harness = harness(seeded_app(&db));
    step_until(&mut harness, "one vehicle", |app| app.vehicles().len() == 1);
    harness.get_by_label("Map").click();
    harness.step();
    harness.get_by_label("Add a place here").click();
    step_until_shown(&mut harness, "the map asks for a click", |h| {
        has_label(h, "Click the map where the place is.")
    });
    // Where a click on the map at the charger would land.
    harness.state_mut().map_page_mut().add_place_at(lat, lon);
    step_until_shown(&mut harness, "the place's form", |h| {
        has_label(h, "Save the place")
    });
    type_into(&mut harness, 0, "Charger");
    type_into(&mut harness, 4, "0.11");
    harness.get_by_label("Save the place").click();
    step_until(&mut harness, "the place read back", |app| {
        app.fleet().places.iter().any(|p| p.name == "Charger") && app.fleet_reads() > 1
    });

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
    let mut priced_here = 0;
    for row in reader.records().map(Result::unwrap) {
        let (Ok(la), Ok(lo)) = (row[8].parse::<f64>(), row[9].parse::<f64>()) else {
            continue;
        };
        if (la - lat).abs() < 1e-5 && (lo - lon).abs() < 1e-5 {
            let energy: f64 = row[7].parse().unwrap();
            let cost: f64 = row[10].parse().unwrap();
            assert!((cost - energy * 0.11).abs() < 0.01, "{row:?}");
            priced_here += 1;
        }
    }
    assert!(priced_here > 0, "a session charged at the new place");
}
