//! The desktop app driven through egui_kittest, one module per page: against a seeded database (every page
//! renders its data, clicks open and change what they should, the export writes a CSV that
//! parses back, the map draws its markers with no tile server), and in demo mode (a real
//! callback server, real SQLite, the simulated fleet delivering over loopback).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod alerts;
mod analytics;
mod archive;
#[path = "../common/mod.rs"]
mod common;
mod demo;
mod drivers;
mod export;
mod fleet;
mod map;
mod settings;
mod trip_route;
mod trips;

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use fleetdash::domain::time::{DAY_MS, now_ms};
use fleetdash::sim::demo::DemoOptions;
use fleetdash::sim::fleet::FleetConfig;
use fleetdash::ui::backend::Backend;
use fleetdash::ui::pages::map::TileState;
use fleetdash::ui::{FleetApp, Persisted};

/// A database holding `days` of one-minute history for `vehicles`, ending about now.
pub fn seeded_db(dir: &Path, vehicles: usize, days: u32) -> PathBuf {
    let db = dir.join("fleet.sqlite3");
    let config = FleetConfig {
        vehicles,
        days,
        seed: 7,
        start_ms: now_ms() - i64::from(days) * DAY_MS,
        faults: Default::default(),
    };
    fleetdash::commands::simulate::write_history(&config, &db).unwrap();
    db
}

/// The vehicles' ids, in id order.
pub fn vehicle_ids(conn: &rusqlite::Connection) -> Vec<String> {
    conn.prepare("SELECT id FROM vehicles ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// The app on `db`, with no callback server, and map tiles pointed at a closed loopback
/// port (no test reaches the internet).
pub fn seeded_app(db: &Path) -> FleetApp {
    app_on(Backend::start_local(db, None, || {}))
}

/// The app on `backend`, with map tiles pointed at a closed loopback port.
pub fn app_on(backend: Backend) -> FleetApp {
    let mut persisted = Persisted::default();
    persisted.settings.tile_url = "http://127.0.0.1:9/{z}/{x}/{y}.png".into();
    persisted.settings.demo = false;
    FleetApp::with_state(backend, persisted, Arc::new(|| {}))
}

pub fn harness(app: FleetApp) -> Harness<'static, FleetApp> {
    let mut harness = Harness::builder()
        .with_size(egui::vec2(1200.0, 800.0))
        .build_ui_state(
            |ui, app: &mut FleetApp| {
                app.refresh();
                app.show(ui);
            },
            app,
        );
    // The reader's first look at the alerts puts the Needs attention area above the
    // vehicles' table. On a slow machine the table can come first, and a click aimed at
    // a row then lands where the area pushed something else: let the first look arrive
    // (an app whose reader never starts goes on after the deadline; its test says why).
    let deadline = Instant::now() + Duration::from_secs(20);
    while harness.state().open_alerts().is_none() && Instant::now() < deadline {
        harness.step();
        std::thread::sleep(Duration::from_millis(10));
    }
    harness
}

/// Steps the UI until `done` holds of the app, or fails after a deadline.
pub fn step_until(
    harness: &mut Harness<'_, FleetApp>,
    what: &str,
    mut done: impl FnMut(&FleetApp) -> bool,
) {
    step_until_shown(harness, what, |h| done(h.state()));
    harness.step();
}

/// Steps the UI until what it shows satisfies `done`, or fails after a deadline.
pub fn step_until_shown<'a>(
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

pub fn has_label(harness: &Harness<'_, FleetApp>, text: &str) -> bool {
    harness.query_all_by_label_contains(text).next().is_some()
}

/// Types `text` into the page's `nth` text field (replacing what it holds).
pub fn type_into(harness: &mut Harness<'static, FleetApp>, nth: usize, text: &str) {
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
