//! A trip's route on the map: the Map button on the vehicle page's Trips tab opens the Map
//! page with that trip's positions, the map fitted to them, and the way back.

use crate::*;
use egui_kittest::kittest::Queryable;
use fleetdash::ui::Page;
use fleetdash::ui::pages::map::GeoBox;

/// The vehicle's positions from `from_ms` to `to_ms` (both included), in time order.
fn positions(db: &Path, vehicle_id: &str, from_ms: i64, to_ms: i64) -> Vec<(f64, f64)> {
    let conn = fleetdash::store::open_read_only(db).unwrap();
    let mut statement = conn
        .prepare(
            "SELECT latitude, longitude FROM readings
             WHERE vehicle_id = ?1 AND recorded_at >= ?2 AND recorded_at <= ?3
               AND latitude IS NOT NULL
             ORDER BY recorded_at",
        )
        .unwrap();
    statement
        .query_map(rusqlite::params![vehicle_id, from_ms, to_ms], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn a_trips_map_button_shows_its_route_fitted_on_the_map() {
    let dir = tempfile::tempdir().unwrap();
    let db = seeded_db(dir.path(), 1, 2);
    let mut harness = harness(seeded_app(&db));
    step_until(&mut harness, "one vehicle", |app| app.vehicles().len() == 1);
    let vehicle = harness.state().vehicles()[0].clone();
    harness.get_by_label(&vehicle.name).click();
    step_until(&mut harness, "its details with trips", |app| {
        app.vehicle_view()
            .details()
            .is_some_and(|d| d.trips.len() > 6)
    });
    harness.get_by_label("Trips").click();
    harness.run_steps(3);
    // The longest finished trip among the rows wholly in view (only those are laid out; the
    // last may be cut): long enough that the fit is not held at the closest zoom.
    let in_view = harness.query_all_by_label("Map").count();
    assert!(in_view >= 3, "{in_view} rows in view");
    let trips = harness
        .state()
        .vehicle_view()
        .details()
        .unwrap()
        .trips
        .clone();
    let (row, trip) = trips
        .iter()
        .take(in_view - 1)
        .map(|t| t.trip.clone())
        .enumerate()
        .filter(|(_, t)| !t.is_ongoing())
        .max_by(|a, b| a.1.distance().0.total_cmp(&b.1.distance().0))
        .expect("a finished trip");
    let ended = trip.ended_at_ms.unwrap();
    assert!(trip.distance().0 > 3.0, "{trip:?}");

    harness.query_all_by_label("Map").nth(row).unwrap().click();
    step_until(&mut harness, "the route read", |app| {
        app.map_page().route().is_some_and(|r| r.points.is_some())
    });
    assert_eq!(harness.state().persisted().page, Page::Map);
    assert!(has_label(&harness, &format!("Trip of {}", vehicle.name)));
    let route = harness.state().map_page().route().unwrap().clone();
    assert_eq!(
        (route.vehicle.as_str(), route.from_ms, route.to_ms),
        (vehicle.id.as_str(), trip.started_at_ms, ended)
    );
    // Every position of the trip, in order, from where it left to where it stayed.
    let points = route.points.unwrap();
    assert_eq!(
        points,
        positions(&db, &vehicle.id, trip.started_at_ms, ended)
    );
    assert!(points.len() > 5, "{} points", points.len());
    // The trip's ends are its parked places (where the car first stood), so the readings
    // at its start and end are within the trip rule's 150 m of them.
    let near = |a: &(f64, f64), b: &(f64, f64)| fleetdash::domain::geo::distance_m(*a, *b) <= 150.0;
    assert!(
        near(&points[0], &trip.start),
        "{:?} {:?}",
        points[0],
        trip.start
    );
    assert!(near(points.last().unwrap(), &trip.end));
    assert!(has_label(&harness, &format!("{} positions", points.len())));
    assert!(harness.query_by_label("Start").is_some() && harness.query_by_label("End").is_some());

    // The map shows the whole route, and is not merely zoomed far out: at whole zoom
    // levels the route fills at least two fifths of the view in its tighter direction.
    harness.run_steps(2);
    let bounds = GeoBox::around(&points).unwrap();
    let shown = harness
        .state()
        .map_view()
        .shown_box()
        .expect("the map drawn");
    assert!(shown.contains(&bounds), "{shown:?} shows {bounds:?}");
    let ((route_w, route_h), (shown_w, shown_h)) = (bounds.mercator_size(), shown.mercator_size());
    let fill = (route_w / shown_w).max(route_h / shown_h);
    assert!(
        fill >= 0.39 && harness.state().map_view().zoom() < 16.0,
        "the route fills {fill} of the view at zoom {}",
        harness.state().map_view().zoom()
    );

    // Back to the vehicle: its Trips tab as it was.
    harness.get_by_label("Back to the vehicle").click();
    step_until_shown(&mut harness, "the vehicle page", |h| {
        has_label(h, "Back to the fleet") && has_label(h, "kWh/100 km")
    });
    // Again on the map, then the whole fleet: the route goes, the fleet is in view.
    harness.query_all_by_label("Map").nth(row).unwrap().click();
    step_until_shown(&mut harness, "the route again", |h| {
        has_label(h, &format!("{} positions", points.len()))
    });
    harness.get_by_label("Show the whole fleet").click();
    harness.run_steps(3);
    assert!(harness.state().map_page().route().is_none());
    assert!(!has_label(&harness, "Trip of"));
    let position = vehicle.position.unwrap();
    let shown = harness.state().map_view().shown_box().unwrap();
    assert!(
        shown.contains(&GeoBox::around(&[position]).unwrap()),
        "{shown:?} shows the vehicle at {position:?}"
    );
}

#[test]
fn a_long_window_is_thinned_keeping_both_ends() {
    let dir = tempfile::tempdir().unwrap();
    let db = seeded_db(dir.path(), 1, 2);
    let conn = fleetdash::store::open_read_only(&db).unwrap();
    let (id, first, last): (String, i64, i64) = conn
        .query_row(
            "SELECT vehicle_id, min(recorded_at), max(recorded_at) FROM readings
             WHERE latitude IS NOT NULL",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    let all = positions(&db, &id, first, last);
    assert!(all.len() > 2000, "{} positions", all.len());
    let thinned = fleetdash::ui::data::trail(&conn, &id, first, last, 500).unwrap();
    assert!((400..=501).contains(&thinned.len()), "{}", thinned.len());
    assert_eq!(thinned.first(), all.first());
    assert_eq!(thinned.last(), all.last());
    // In time order: every point thinned is one of the positions, in the same order.
    let mut rest = all.iter();
    assert!(thinned.iter().all(|p| rest.any(|q| q == p)));
}
