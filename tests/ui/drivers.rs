//! The Drivers page: drivers added and edited in the app reach the store and `fleetdash
//! drivers list`, assignments show on the vehicle page and in `export trips` (an overlap
//! refused in the store's words), homes picked on the map, and monthly statements equal to
//! the store's with a PDF saved from the app and read back with `pdftotext`.

use crate::*;
use egui_kittest::kittest::Queryable;
use fleetdash::domain::tariff::Window;
use fleetdash::domain::time::parse_time_text;
use fleetdash::domain::zone::FleetZone;
use fleetdash::store::drivers::{Driver, Home, assignments, drivers};
use fleetdash::store::owner::{OwnerWrite, apply_all};

fn stored_drivers(db: &Path) -> Vec<Driver> {
    drivers(&fleetdash::store::open_read_only(db).unwrap()).unwrap()
}

fn owner_writes(db: &Path, writes: &[OwnerWrite]) {
    apply_all(&mut rusqlite::Connection::open(db).unwrap(), writes).unwrap();
}

fn anna(home: Option<Home>) -> OwnerWrite {
    OwnerWrite::Driver {
        replaces: None,
        driver: Driver {
            name: "Anna Berg".into(),
            home,
            rate_per_kwh: Some(0.30),
            ..Driver::default()
        },
    }
}

fn open_drivers_page(harness: &mut Harness<'static, FleetApp>) {
    step_until(harness, "the fleet read", |app| !app.vehicles().is_empty());
    harness.get_by_label("Drivers").click();
    step_until(harness, "the drivers read", |app| {
        app.drivers_page().data().is_some()
    });
}

#[test]
fn a_driver_added_and_edited_on_the_drivers_page_reaches_the_store_and_drivers_list() {
    let dir = tempfile::tempdir().unwrap();
    let db = seeded_db(dir.path(), 1, 1);
    let mut harness = harness(seeded_app(&db));
    open_drivers_page(&mut harness);
    assert!(has_label(&harness, "No driver yet."));

    harness.get_by_label("Add a driver").click();
    harness.run_steps(2);
    type_into(&mut harness, 0, "Anna Berg");
    type_into(&mut harness, 5, "0,30");
    type_into(&mut harness, 6, "22:00-06:00");
    // No off-peak rate: the form says so in words and sends nothing.
    harness.get_by_label("Save the driver").click();
    harness.run_steps(2);
    assert!(has_label(&harness, "Give the off-peak rate per kWh too."));
    type_into(&mut harness, 7, "0.20");
    harness.get_by_label("Save the driver").click();
    step_until(&mut harness, "the driver in the database", |_| {
        !stored_drivers(&db).is_empty()
    });
    let night = Window::parse("22:00-06:00").unwrap();
    assert_eq!(
        stored_drivers(&db),
        vec![Driver {
            name: "Anna Berg".into(),
            rate_per_kwh: Some(0.30),
            off_peak: Some((night, 0.20)),
            ..Driver::default()
        }]
    );
    let list =
        fleetdash::commands::drivers::run(&db, fleetdash::commands::drivers::DriversCommand::List)
            .unwrap();
    assert!(
        list.contains("Anna Berg: no home, 0.30 EUR/kWh, off-peak 22:00-06:00 0.20 EUR/kWh"),
        "{list}"
    );

    // Edit: a new rate and an email; the window stays.
    step_until_shown(&mut harness, "the driver listed", |h| {
        has_label(h, "0.30 EUR/kWh")
    });
    harness.get_by_label("Edit").click();
    harness.run_steps(2);
    type_into(&mut harness, 1, "anna@example.com");
    type_into(&mut harness, 5, "0.35");
    harness.get_by_label("Save the driver").click();
    step_until(&mut harness, "the new rate in the database", |_| {
        stored_drivers(&db)[0].rate_per_kwh == Some(0.35)
    });
    let stored = stored_drivers(&db).remove(0);
    assert_eq!(stored.email.as_deref(), Some("anna@example.com"));
    assert_eq!(stored.off_peak, Some((night, 0.20)));
    step_until_shown(&mut harness, "the new rate listed", |h| {
        has_label(h, "0.35 EUR/kWh") && !has_label(h, "0.30 EUR/kWh")
    });

    // Remove asks twice. (A grid sizes its columns a frame late: let it settle first.)
    harness.run_steps(2);
    harness.get_by_label("Remove").click();
    harness.run_steps(2);
    assert!(has_label(&harness, "Click Remove again to confirm"));
    assert_eq!(stored_drivers(&db).len(), 1);
    harness.get_by_label("Remove").click();
    step_until(&mut harness, "the driver removed", |_| {
        stored_drivers(&db).is_empty()
    });
}

#[test]
fn a_vehicle_assigned_in_the_app_shows_on_its_page_and_in_export_trips_and_an_overlap_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = seeded_db(dir.path(), 1, 3);
    owner_writes(
        &db,
        &[
            OwnerWrite::TimeZone(Some("Europe/Berlin".into())),
            anna(None),
        ],
    );
    let zone = FleetZone::parse("Europe/Berlin").unwrap();
    let start = zone.date_of(now_ms() - 2 * DAY_MS);
    let mut harness = harness(seeded_app(&db));
    open_drivers_page(&mut harness);
    let vehicle = harness.state().vehicles()[0].clone();
    harness.get_by_label("Assign a vehicle").click();
    harness.run_steps(2);
    assert!(has_label(
        &harness,
        "Dates are the fleet's time zone's (Europe/Berlin)."
    ));
    type_into(&mut harness, 0, &start.to_string());
    harness.get_by_label("Save the assignment").click();
    step_until(&mut harness, "the assignment in the database", |_| {
        !assignments(&fleetdash::store::open_read_only(&db).unwrap())
            .unwrap()
            .is_empty()
    });
    let stored = assignments(&fleetdash::store::open_read_only(&db).unwrap()).unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].vehicle_id, vehicle.id);
    assert_eq!(stored[0].driver, "Anna Berg");
    // From the start of that day in Berlin, not in UTC.
    assert_eq!(stored[0].from_ms, zone.start_of_day_ms(start));
    assert_eq!(stored[0].until_ms, None);
    step_until_shown(&mut harness, "the period listed", |h| {
        has_label(h, &zone.local_minutes(stored[0].from_ms)) && has_label(h, "open end")
    });

    // Today overlaps the open period: the store refuses and its sentence shows.
    harness.get_by_label("Assign a vehicle").click();
    harness.run_steps(2);
    let today = zone.date_of(now_ms()).to_string();
    type_into(&mut harness, 1, &today);
    harness.get_by_label("Save the assignment").click();
    step_until_shown(&mut harness, "the refusal", |h| {
        has_label(h, "The assignment could not be saved")
    });
    assert!(has_label(
        &harness,
        &format!("{} is assigned to Anna Berg from", vehicle.id)
    ));
    let conn = fleetdash::store::open_read_only(&db).unwrap();
    assert_eq!(assignments(&conn).unwrap().len(), 1);

    // The vehicle page says who drives it.
    harness.get_by_label("Fleet").click();
    harness.step();
    harness.get_by_label(&vehicle.name).click();
    step_until(&mut harness, "the vehicle's assignments", |app| {
        app.vehicle_view()
            .details()
            .is_some_and(|d| d.assignments.len() == 1)
    });
    assert!(has_label(&harness, "Driven by Anna Berg since"));

    // `export trips` names her for the trips in the period, and only those.
    let mut csv = Vec::new();
    fleetdash::store::export_csv(
        &conn,
        fleetdash::store::ExportKind::Trips,
        &fleetdash::store::ExportFilter::default(),
        &mut csv,
    )
    .unwrap();
    let mut reader = csv::Reader::from_reader(csv.as_slice());
    assert_eq!(&reader.headers().unwrap()[2], "driver");
    let rows: Vec<(i64, String)> = reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            (parse_time_text(&r[3]).unwrap(), r[2].to_owned())
        })
        .collect();
    assert!(rows.iter().any(|(_, d)| d == "Anna Berg"));
    for (started, driver) in &rows {
        let hers = *started >= stored[0].from_ms;
        assert_eq!(driver == "Anna Berg", hers, "a trip at {started}");
    }
}

#[test]
fn a_home_picked_on_the_map_keeps_the_driver_s_other_details() {
    let dir = tempfile::tempdir().unwrap();
    let db = seeded_db(dir.path(), 1, 1);
    owner_writes(&db, &[anna(None)]);
    let mut harness = harness(seeded_app(&db));
    open_drivers_page(&mut harness);
    harness.get_by_label("Edit").click();
    harness.run_steps(2);
    harness.get_by_label("Pick on the map").click();
    step_until_shown(&mut harness, "the map waiting for a click", |h| {
        has_label(h, "Click the map where Anna Berg lives.")
    });
    assert_eq!(harness.state().persisted().page, fleetdash::ui::Page::Map);
    harness.state_mut().map_page_mut().click_at(52.5, 13.4);
    step_until_shown(&mut harness, "the home's form", |h| {
        has_label(h, "Save the home")
    });
    harness.get_by_label("Save the home").click();
    step_until(&mut harness, "the home in the database", |_| {
        stored_drivers(&db)[0].home.is_some()
    });
    let stored = stored_drivers(&db).remove(0);
    let home = stored.home.unwrap();
    assert!((home.latitude - 52.5).abs() < 1e-6 && (home.longitude - 13.4).abs() < 1e-6);
    assert_eq!(home.radius_m, 100.0);
    assert_eq!(stored.rate_per_kwh, Some(0.30));
}

#[test]
fn statements_show_the_store_s_totals_save_a_pdf_and_say_what_fixes_a_missing_capacity() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fleet.sqlite3");
    let config = FleetConfig {
        vehicles: 1,
        days: 20,
        seed: 7,
        start_ms: parse_time_text("2026-03-01T00:00:00Z").unwrap(),
        faults: Default::default(),
    };
    fleetdash::commands::simulate::write_history(&config, &db).unwrap();
    let spec = fleetdash::sim::fleet::vehicles(&config).remove(0);
    owner_writes(
        &db,
        &[
            OwnerWrite::TimeZone(Some("UTC".into())),
            anna(Some(Home {
                latitude: spec.depot.0,
                longitude: spec.depot.1,
                radius_m: 150.0,
            })),
            OwnerWrite::Assign {
                vehicle_id: spec.id.clone(),
                driver: "Anna Berg".into(),
                from_ms: parse_time_text("2026-02-01T00:00:00Z").unwrap(),
                until_ms: None,
            },
        ],
    );
    let conn = fleetdash::store::open_read_only(&db).unwrap();
    let expected = fleetdash::store::statement::statement(&conn, "Anna Berg", "2026-03")
        .unwrap()
        .unwrap();
    let totals = expected.totals();
    assert!(
        totals.sessions > 3 && totals.energy_kwh > 20.0,
        "{totals:?}"
    );

    let mut harness = harness(seeded_app(&db));
    open_drivers_page(&mut harness);
    harness.get_by_label("Monthly statements").click();
    harness.run_steps(2);
    type_into(&mut harness, 0, "2026-03");
    step_until(&mut harness, "March's statements", |app| {
        app.drivers_page()
            .statements()
            .rows()
            .is_some_and(|(month, _)| month == "2026-03")
    });
    let (_, rows) = harness
        .state()
        .drivers_page()
        .statements()
        .rows()
        .unwrap()
        .clone();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].1.as_ref().unwrap().totals(), totals);
    let energy = format!("{:.2} kWh", totals.energy_kwh);
    let amount = expected.currency.amount(totals.amount);
    assert!(has_label(&harness, &energy), "{energy}");
    assert!(has_label(&harness, &amount), "{amount}");
    let sessions = match totals.ongoing {
        0 => totals.sessions.to_string(),
        n => format!("{} (+{n} charging)", totals.sessions),
    };
    assert!(harness.query_all_by_label(&sessions).next().is_some());

    // Save PDF into a folder that does not exist yet.
    let folder = dir.path().join("statements");
    type_into(&mut harness, 1, &folder.display().to_string());
    harness.get_by_label("Save PDF").click();
    step_until(&mut harness, "the PDF saved", |app| {
        app.drivers_page().statements().message().is_some()
    });
    let pdf = folder.join("statement-2026-03-Anna_Berg.pdf");
    let (ok, message) = harness
        .state()
        .drivers_page()
        .statements()
        .message()
        .unwrap()
        .clone();
    assert!(ok, "{message}");
    assert!(message.contains(&pdf.display().to_string()), "{message}");
    let text = crate::common::pdf_text(&pdf);
    for wanted in ["Anna Berg", "2026-03", energy.as_str(), amount.as_str()] {
        assert!(text.contains(wanted), "{wanted:?} not in\n{text}");
    }

    // Without a capacity the energy is a guess: the row says so and where it is fixed.
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute("UPDATE vehicles SET capacity_kwh = NULL", [])
        .unwrap();
    step_until_shown(&mut harness, "the problem", |h| {
        has_label(h, "has no usable battery capacity")
    });
    harness.run_steps(2);
    let name = harness.state().vehicles()[0].name.clone();
    harness
        .get_by_label(&format!("Set {name}'s capacity"))
        .click();
    step_until(&mut harness, "the vehicle page", |app| {
        app.vehicle_view().vehicle() == Some(spec.id.as_str())
    });
}
