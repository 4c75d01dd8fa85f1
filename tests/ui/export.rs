//! The Export page: the same CSV as the command, bad ranges refused.

use crate::*;
use egui_kittest::kittest::Queryable;

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
fn the_calendar_beside_from_writes_the_picked_day_into_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let db = seeded_db(dir.path(), 1, 1);
    let mut harness = harness(seeded_app(&db));
    step_until(&mut harness, "one vehicle", |app| app.vehicles().len() == 1);
    harness.get_by_label("Export").click();
    harness.run_steps(2);
    // The calendar opens on the typed day.
    type_into(&mut harness, 0, "2026-02-10");
    harness.get_by_label("2026-02-10").click();
    harness.run_steps(2);
    harness.get_by_label("20").click();
    harness.step();
    harness.get_by_label("Save").click();
    harness.run_steps(2);
    assert_eq!(harness.state().export_view().range(), ("2026-02-20", ""));
    // An exact instant typed by hand stays as typed.
    type_into(&mut harness, 1, "2026-02-21T06:00:00Z");
    assert_eq!(
        harness.state().export_view().range(),
        ("2026-02-20", "2026-02-21T06:00:00Z")
    );
}
