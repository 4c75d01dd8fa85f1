//! The Fleet page: the rows, the glance above them, a click opening a vehicle.

use crate::*;
use egui_kittest::kittest::Queryable;

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
    // The newest session's row is on screen.
    use fleetdash::ui::widgets::local_time_ms;
    harness.run_steps(3);
    assert!(has_label(
        &harness,
        &local_time_ms(details.sessions[0].started_at_ms)
    ));
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

/// Rows of `export sessions` of `db`: (started_at, energy_added_kwh).
fn exported_sessions(db: &Path) -> Vec<(String, f64)> {
    let conn = fleetdash::store::open_read_only(db).unwrap();
    let mut out = Vec::new();
    fleetdash::store::export_csv(
        &conn,
        fleetdash::store::ExportKind::Sessions,
        &fleetdash::store::ExportFilter::default(),
        &mut out,
    )
    .unwrap();
    let mut reader = csv::Reader::from_reader(out.as_slice());
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[2].to_owned(), r[7].parse().unwrap_or(0.0))
        })
        .collect()
}

#[test]
fn the_glance_counts_the_fleet_draws_sparklines_sums_the_month_and_lists_what_needs_attention() {
    use fleetdash::domain::glance::Counts;
    use fleetdash::store::owner::{OwnerWrite, apply_all};
    let dir = tempfile::tempdir().unwrap();
    let db = seeded_db(dir.path(), 4, 40);
    let now = now_ms();
    let mut conn = fleetdash::store::open(&db, &Default::default()).unwrap();
    // The glance's own findings: alerts, which would say some of them in their own
    // words, are off (tests/ui/alerts.rs has both together).
    let mut owner = vec![
        OwnerWrite::Price(Some(0.25)),
        OwnerWrite::TimeZone(Some("UTC".into())),
    ];
    owner.extend(
        fleetdash::domain::alerts::Rule::ALL.map(|rule| OwnerWrite::AlertRule {
            rule,
            on: Some(false),
            settings: Vec::new(),
        }),
    );
    apply_all(&mut conn, &owner).unwrap();
    let ids: Vec<String> = vehicle_ids(&conn);
    // One needs re-connecting, one went quiet two days ago, one is nearly empty.
    conn.execute(
        "UPDATE vehicles SET needs_reauth = 1 WHERE id = ?1",
        [&ids[0]],
    )
    .unwrap();
    conn.execute(
        "DELETE FROM readings WHERE vehicle_id = ?1 AND recorded_at > ?2",
        rusqlite::params![ids[1], now - 2 * DAY_MS],
    )
    .unwrap();
    conn.execute(
        "INSERT OR REPLACE INTO readings(vehicle_id, recorded_at, battery_percent, plugged_in, charging_state, source)
         VALUES (?1, ?2, 12, 0, 'NOT_CHARGING', 'api')",
        rusqlite::params![ids[2], now + 60_000],
    )
    .unwrap();
    // Rows written past the store's batches: derive sessions and trips from them.
    fleetdash::store::derived::rebuild(&conn).unwrap();
    drop(conn);

    let mut harness = harness(seeded_app(&db));
    step_until(&mut harness, "the fleet and its glance", |app| {
        app.vehicles().len() == 4 && app.glance().is_some()
    });
    harness.run_steps(2);

    // The strip's counts are the fleet's.
    let vehicles = harness.state().vehicles().to_vec();
    let states: Vec<_> = vehicles.iter().map(|v| v.now()).collect();
    let counts = Counts::of(&states, now_ms());
    assert_eq!(
        counts.charging + counts.plugged_in + counts.driving + counts.parked + counts.unknown,
        4
    );
    for (n, what) in [
        (counts.charging, "charging now"),
        (counts.plugged_in, "plugged in"),
        (counts.driving, "driving"),
        (counts.parked, "parked"),
    ] {
        assert!(has_label(&harness, &format!("{n} {what}")), "{n} {what}");
    }

    // This month's energy is the sessions export's for sessions started this month.
    let glance = harness.state().glance().unwrap().clone();
    let month = glance.this_month.period.clone();
    let exported: f64 = exported_sessions(&db)
        .iter()
        .filter(|(start, _)| start.starts_with(&month))
        .map(|(_, kwh)| kwh)
        .sum();
    let shown = glance.this_month.energy_kwh.unwrap_or(0.0);
    assert!((shown - exported).abs() < 0.01, "{shown} vs {exported}");
    let last: f64 = exported_sessions(&db)
        .iter()
        .filter(|(start, _)| start.starts_with(&glance.last_month.period))
        .map(|(_, kwh)| kwh)
        .sum();
    assert!(last > 0.0, "a whole month of history holds sessions");
    assert!((glance.last_month.energy_kwh.unwrap() - last).abs() < 0.01);
    assert!(has_label(&harness, &format!("{:.1} kWh", last)));
    let cost = glance.last_month.cost.unwrap();
    assert!((cost - last * 0.25).abs() < 0.05, "{cost}");
    assert!(has_label(&harness, &format!("{cost:.2} EUR")));

    // Every vehicle that reported in the last day has its sparkline, drawn as a line.
    let shapes = harness.output().shapes.clone();
    for v in &vehicles {
        let label = format!("Last 24 h of {}", v.name);
        let node = harness.get_by_label(&label);
        let points = &glance.sparklines[&v.id];
        if v.id == ids[1] {
            assert!(points.is_empty(), "quiet for two days");
            continue;
        }
        assert!(points.len() >= 10, "{} points", points.len());
        let rect = node.rect();
        let drawn = shapes.iter().any(|clipped| match &clipped.shape {
            egui::Shape::Path(path) => {
                path.points.len() == points.len()
                    && path.points.iter().all(|p| rect.expand(1.0).contains(*p))
            }
            _ => false,
        });
        assert!(drawn, "no line drawn in {}'s sparkline", v.name);
    }

    // What needs the owner, and a click on the car opens it.
    assert!(has_label(&harness, "Needs attention (3)"));
    assert!(has_label(&harness, "Needs re-connect"));
    assert!(has_label(&harness, "Not seen for over a day"));
    assert!(has_label(&harness, "Battery low (12 %)"));
    assert!(has_label(&harness, "Plug it in before its next trip."));
    let quiet = vehicles.iter().find(|v| v.id == ids[1]).unwrap();
    harness
        .get_all_by_label(&quiet.name)
        .next()
        .unwrap()
        .click();
    step_until(&mut harness, "the quiet car's page", |app| {
        app.vehicle_view().vehicle() == Some(quiet.id.as_str())
            && app.vehicle_view().details().is_some()
    });
    // Its sessions table lays out only the rows in view (a year holds hundreds).
    harness.run_steps(3);
    let sessions = harness
        .state()
        .vehicle_view()
        .details()
        .unwrap()
        .sessions
        .clone();
    assert!(sessions.len() > 30, "{}", sessions.len());
    use fleetdash::ui::widgets::local_time_ms;
    let shown = sessions
        .iter()
        .filter(|s| has_label(&harness, &local_time_ms(s.started_at_ms)))
        .count();
    assert!(has_label(
        &harness,
        &local_time_ms(sessions[0].started_at_ms)
    ));
    assert!(shown <= 12, "{shown} of {} rows laid out", sessions.len());
}
