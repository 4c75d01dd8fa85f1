//! The Map page: markers, trails, places added on it.

use crate::*;
use egui_kittest::kittest::Queryable;

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
        // A session still open at the end of the history may have no energy yet (seen once
        // in a full parallel run): it has no cost either. A complete one always has both.
        if row[7].is_empty() {
            assert!(row[10].is_empty() && &row[11] == "ongoing", "{row:?}");
            continue;
        }
        if (la - lat).abs() < 1e-5 && (lo - lon).abs() < 1e-5 {
            let energy: f64 = row[7].parse().unwrap();
            let cost: f64 = row[10].parse().unwrap();
            assert!((cost - energy * 0.11).abs() < 0.01, "{row:?}");
            priced_here += 1;
        }
    }
    assert!(priced_here > 0, "a session charged at the new place");
}
