//! The vehicle page's Trips tab: the trips listed, a purpose and a note set in the app and
//! found in `export trips` of the same database.

use crate::*;
use egui_kittest::kittest::Queryable;

fn exported_tags(db: &Path, vehicle_id: &str) -> Vec<(String, String, String)> {
    let conn = fleetdash::store::open_read_only(db).unwrap();
    let mut out = Vec::new();
    fleetdash::store::export_csv(
        &conn,
        fleetdash::store::ExportKind::Trips,
        &fleetdash::store::ExportFilter {
            vehicle_ids: vec![vehicle_id.to_owned()],
            ..Default::default()
        },
        &mut out,
    )
    .unwrap();
    let mut reader = csv::Reader::from_reader(out.as_slice());
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[3].to_owned(), r[18].to_owned(), r[19].to_owned())
        })
        .collect()
}

#[test]
fn a_purpose_and_a_note_set_on_the_trips_tab_are_stored_and_exported() {
    let dir = tempfile::tempdir().unwrap();
    let db = seeded_db(dir.path(), 1, 2);
    let mut harness = harness(seeded_app(&db));
    step_until(&mut harness, "one vehicle", |app| app.vehicles().len() == 1);
    let vehicle = harness.state().vehicles()[0].clone();
    harness.get_by_label(&vehicle.name).click();
    step_until(&mut harness, "its details with trips", |app| {
        app.vehicle_view()
            .details()
            .is_some_and(|d| d.trips.len() > 3)
    });
    harness.get_by_label("Trips").click();
    harness.run_steps(3);
    let trips = harness
        .state()
        .vehicle_view()
        .details()
        .unwrap()
        .trips
        .clone();
    let newest = &trips[0].trip;
    use fleetdash::ui::widgets::local_time_ms;
    assert!(has_label(&harness, &local_time_ms(newest.started_at_ms)));
    assert!(has_label(&harness, "kWh/100 km"));

    // The newest trip's purpose: the first picker on the tab.
    harness
        .query_all_by_role(egui::accesskit::Role::ComboBox)
        .next()
        .expect("a purpose picker")
        .click();
    harness.run_steps(2);
    harness.get_by_label("business").click();
    harness.run_steps(2);
    let started = fleetdash::domain::time::format_ms(newest.started_at_ms);
    step_until(&mut harness, "the purpose in the database", |_| {
        exported_tags(&db, &vehicle.id)
            .iter()
            .any(|(at, purpose, _)| *at == started && purpose == "business")
    });

    // Its note: typed, then Enter.
    type_into(&mut harness, 2, "Client visit");
    harness.key_press(egui::Key::Enter);
    harness.run_steps(2);
    step_until(&mut harness, "the note in the database", |_| {
        exported_tags(&db, &vehicle.id)
            .iter()
            .any(|(at, purpose, note)| {
                *at == started && purpose == "business" && note == "Client visit"
            })
    });
    // Only that trip was tagged.
    let tagged = exported_tags(&db, &vehicle.id)
        .into_iter()
        .filter(|(_, p, _)| !p.is_empty())
        .count();
    assert_eq!(tagged, 1);
    // And the page shows what is stored after the next read.
    step_until(&mut harness, "the tag read back", |app| {
        app.vehicle_view().details().is_some_and(|d| {
            d.trips[0].purpose == Some(fleetdash::store::trips::Purpose::Business)
                && d.trips[0].note.as_deref() == Some("Client visit")
        })
    });

    // Analytics: a click on the month's bar shows its kilometres by purpose.
    let business_km = newest.distance().0;
    harness.get_by_label("Back to the fleet").click();
    harness.run_steps(2);
    harness.get_by_label("Analytics").click();
    step_until(&mut harness, "a month with business km", |app| {
        app.analytics()
            .iter()
            .any(|r| r.vehicle_id.is_empty() && r.totals.km_by_purpose[0] > 0.0)
    });
    let row = harness
        .state()
        .analytics()
        .iter()
        .find(|r| r.vehicle_id.is_empty() && r.totals.km_by_purpose[0] > 0.0)
        .unwrap()
        .clone();
    assert!((row.totals.km_by_purpose[0] - business_km).abs() < 1e-6);
    harness.run_steps(2);
    let bar = harness
        .state()
        .analytics_page()
        .bar_centre(&row.period)
        .expect("the month's bar");
    for pressed in [None, Some(true), Some(false)] {
        let event = match pressed {
            None => egui::Event::PointerMoved(bar),
            Some(pressed) => egui::Event::PointerButton {
                pos: bar,
                button: egui::PointerButton::Primary,
                pressed,
                modifiers: egui::Modifiers::NONE,
            },
        };
        harness.input_mut().events.push(event);
        harness.step();
    }
    harness.step();
    let expected = format!(
        "Driven in {}: business {}",
        row.period,
        units_km(business_km)
    );
    assert!(has_label(&harness, &expected), "{expected}");
}

/// Kilometres as the app writes them.
fn units_km(km: f64) -> String {
    fleetdash::ui::settings::Units::default().distance(km)
}

#[test]
fn tagging_a_trip_twice_shows_both_changes_under_the_trips() {
    let dir = tempfile::tempdir().unwrap();
    let db = seeded_db(dir.path(), 1, 2);
    let mut harness = harness(seeded_app(&db));
    step_until(&mut harness, "one vehicle", |app| app.vehicles().len() == 1);
    let vehicle = harness.state().vehicles()[0].clone();
    harness.get_by_label(&vehicle.name).click();
    step_until(&mut harness, "its details with trips", |app| {
        app.vehicle_view()
            .details()
            .is_some_and(|d| d.trips.len() > 3)
    });
    harness.get_by_label("Trips").click();
    harness.run_steps(3);
    let title = |n: usize| format!("Changes of purposes and notes ({n})");
    assert!(has_label(&harness, &title(0)));
    let history = || {
        let conn = fleetdash::store::open_read_only(&db).unwrap();
        fleetdash::store::trips::history(&conn, &vehicle.id).unwrap()
    };

    // The newest trip: business, then private, each stored before the next.
    for (purpose, stored) in [("business", 1), ("private", 2)] {
        harness
            .query_all_by_role(egui::accesskit::Role::ComboBox)
            .next()
            .expect("a purpose picker")
            .click();
        harness.run_steps(2);
        harness.get_by_label(purpose).click();
        harness.run_steps(2);
        step_until(&mut harness, "the change stored", |_| {
            history().len() == stored
        });
    }
    let changes = history();
    let purposes: Vec<_> = changes.iter().map(|c| c.purpose.clone()).collect();
    let some = |s: &str| Some(s.to_owned());
    assert_eq!(
        purposes,
        [
            (None, some("business")),
            (some("business"), some("private"))
        ]
    );

    // Read back through the reader thread: the section says two, and lists both.
    step_until_shown(&mut harness, "two changes read", |h| {
        has_label(h, &title(2))
    });
    assert!(
        !has_label(&harness, "– -> business"),
        "collapsed until opened"
    );
    harness.get_by_label(&title(2)).click();
    harness.run_steps(3);
    // The section is at the foot of the page: the wheel over it scrolls down to it, as a
    // user would.
    for _ in 0..10 {
        if harness.query_by_label("– -> business").is_some() {
            break;
        }
        let at = harness.get_by_label(&title(2)).rect().center();
        harness.hover_at(at);
        harness.event(egui::Event::MouseWheel {
            unit: egui::MouseWheelUnit::Point,
            delta: egui::vec2(0.0, -100.0),
            phase: egui::TouchPhase::Move,
            source: egui::MouseWheelSource::Unknown,
            modifiers: egui::Modifiers::NONE,
        });
        harness.run_steps(2);
    }
    assert!(harness.query_by_label("– -> business").is_some());
    assert!(harness.query_by_label("business -> private").is_some());
    // The notes did not change: shown as they were (none), not as a change.
    assert!(!has_label(&harness, "– -> –"));
    // Both are of the newest trip, and say when they were made.
    let newest = &harness.state().vehicle_view().details().unwrap().trips[0];
    let started = fleetdash::ui::widgets::local_time_ms(newest.trip.started_at_ms);
    assert!(harness.query_all_by_label(&started).count() >= 3);
    for change in &changes {
        let when = fleetdash::ui::widgets::local_time_ms(change.changed_at_ms);
        assert!(has_label(&harness, &when), "{when}");
    }
}
