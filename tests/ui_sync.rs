//! Settings → "Receive data from an always-on fleetdash", driven through egui_kittest
//! against a relay over real HTTP: a bad address and a wrong token are refused in plain
//! words, the right token syncs the backlog and follows live deliveries within seconds,
//! the next start resumes by itself, and "Stop receiving" forgets address and token.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use fleetdash::account::AccountPaths;
use fleetdash::sim::fleet::FleetConfig;
use fleetdash::sim::schedule::Delivery;
use fleetdash::smartcar::Format;
use fleetdash::ui::backend::Backend;
use fleetdash::ui::relay::SyncState;
use fleetdash::ui::{FleetApp, Persisted};

const SYNC_TOKEN: &str = "ui-relay-sync-token-5k2m";

fn fleet() -> Vec<Delivery> {
    let config = FleetConfig {
        start_ms: fleetdash::domain::time::now_ms() - 86_400_000,
        faults: Default::default(),
        ..fleet_config(23, 2, 1)
    };
    fleet_deliveries(&config, Format::V4)
}

fn app(db: &Path, secrets: &Path) -> Harness<'static, FleetApp> {
    let mut persisted = Persisted::default();
    persisted.settings.demo = false;
    persisted.settings.tile_url = "http://127.0.0.1:9/{z}/{x}/{y}.png".into();
    let app = FleetApp::with_state(
        Backend::start_local(db, None, || {}),
        persisted,
        Arc::new(|| {}),
    )
    .with_account(AccountPaths::file(secrets));
    Harness::builder()
        .with_size(egui::vec2(1200.0, 900.0))
        .build_ui_state(
            |ui, app: &mut FleetApp| {
                app.refresh();
                app.show(ui);
            },
            app,
        )
}

fn step_until(
    harness: &mut Harness<'_, FleetApp>,
    what: &str,
    limit: Duration,
    mut done: impl FnMut(&FleetApp) -> bool,
) {
    let deadline = Instant::now() + limit;
    while !done(harness.state()) {
        assert!(
            Instant::now() < deadline,
            "the UI never got there: {what}; sync status {:?}",
            harness.state().relay_view().status()
        );
        harness.step();
        std::thread::sleep(Duration::from_millis(10));
    }
    harness.step();
    harness.step();
}

fn state(app: &FleetApp) -> SyncState {
    app.relay_view()
        .status()
        .map(|s| s.state)
        .unwrap_or_default()
}

fn has_label(harness: &Harness<'_, FleetApp>, text: &str) -> bool {
    harness.query_all_by_label_contains(text).next().is_some()
}

fn parsed(db: &Path) -> i64 {
    count(
        &fleetdash::store::open_read_only(db).unwrap(),
        "SELECT count(*) FROM deliveries WHERE outcome = 'parsed'",
    )
}

fn read(path: &PathBuf) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

#[test]
fn the_settings_connect_to_a_relay_follow_it_live_resume_at_the_next_start_and_stop() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(TestServer::start_relay(SYNC_TOKEN));
    let mut deliveries = fleet();
    let last = deliveries.split_off(deliveries.len() - 1);
    let backlog = deliveries.len() as i64;
    runtime.block_on(deliver_acknowledged(&server.webhook_url(), deliveries));

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("desktop.sqlite3");
    let secrets = dir.path().join("config").join("secrets.json");
    let settings = secrets.with_file_name("account.json");
    let mut harness = app(&db, &secrets);
    step_until(
        &mut harness,
        "the sync off",
        Duration::from_secs(20),
        |app| state(app) == SyncState::Off,
    );
    harness.get_by_label("Settings").click();
    harness.step();
    harness.step();
    assert!(has_label(
        &harness,
        "Receive data from an always-on fleetdash"
    ));
    assert!(has_label(&harness, "Off: this computer receives only"));

    // Not an address: said at once, nothing saved.
    harness
        .state_mut()
        .relay_view_mut()
        .type_relay("fleet.example.com", SYNC_TOKEN);
    harness.get_by_label("Save and connect").click();
    harness.step();
    harness.step();
    assert!(has_label(&harness, "is not the address of a relay"));
    harness.state_mut().relay_view_mut().type_relay("", "");
    harness.get_by_label("Save and connect").click();
    harness.step();
    assert!(has_label(
        &harness,
        "Enter the address of the always-on fleetdash"
    ));
    assert!(!read(&settings).contains("fleet.example.com"));

    // Nobody there: said in words, and tried again by itself.
    harness
        .state_mut()
        .relay_view_mut()
        .type_relay("http://127.0.0.1:9", SYNC_TOKEN);
    harness.get_by_label("Save and connect").click();
    step_until(&mut harness, "retrying", Duration::from_secs(20), |app| {
        matches!(state(app), SyncState::Retrying(_))
    });
    assert!(has_label(
        &harness,
        "Could not reach the relay at http://127.0.0.1:9"
    ));
    assert!(has_label(&harness, "trying again in"));

    // A wrong token: the relay's 401 in words, in Settings and in the banner; no data.
    let url = server.url("");
    harness
        .state_mut()
        .relay_view_mut()
        .type_relay(&url, "not-the-token");
    harness.get_by_label("Save and connect").click();
    step_until(&mut harness, "the 401", Duration::from_secs(20), |app| {
        matches!(state(app), SyncState::Failed(_))
    });
    let SyncState::Failed(problem) = state(harness.state()) else {
        unreachable!()
    };
    assert!(
        problem.contains("refused the sync token (401)"),
        "{problem}"
    );
    assert!(has_label(&harness, "refused the sync token"));
    assert!(has_label(
        &harness,
        "Not receiving from the always-on fleetdash"
    ));
    assert_eq!(parsed(&db), 0);

    // The right token: the backlog comes over, and the app shows it.
    harness
        .state_mut()
        .relay_view_mut()
        .type_relay(&url, SYNC_TOKEN);
    harness.get_by_label("Save and connect").click();
    step_until(&mut harness, "up to date", Duration::from_secs(30), |app| {
        state(app) == SyncState::UpToDate
    });
    assert_eq!(parsed(&db), backlog);
    let status = harness.state().relay_view().status().unwrap();
    assert_eq!(status.remaining, Some(0));
    assert_eq!(status.pulled as i64, backlog);
    assert!(has_label(&harness, "up to date"));
    assert!(has_label(&harness, "Last sync: just now"));
    // The token lives in the secret store (here its file), never in account.json.
    assert!(read(&settings).contains(&url));
    assert!(!read(&settings).contains(SYNC_TOKEN));
    assert!(read(&secrets).contains(SYNC_TOKEN));
    harness.get_by_label("Fleet").click();
    step_until(
        &mut harness,
        "the vehicles",
        Duration::from_secs(20),
        |app| app.vehicles().len() == 2,
    );

    // Live: a delivery reaching the relay is here within seconds (long polling).
    runtime.block_on(deliver_acknowledged(&server.webhook_url(), last));
    step_until(
        &mut harness,
        "the live delivery",
        Duration::from_secs(15),
        |_| parsed(&db) == backlog + 1,
    );

    // The next start follows the saved relay by itself, from where it stopped.
    drop(harness);
    let mut harness = app(&db, &secrets);
    step_until(
        &mut harness,
        "up to date again",
        Duration::from_secs(20),
        |app| state(app) == SyncState::UpToDate,
    );
    let status = harness.state().relay_view().status().unwrap();
    assert_eq!(status.pulled, 0, "nothing is pulled twice");
    assert!(has_label(&harness, "Receiving from"));
    assert_eq!(parsed(&db), backlog + 1);

    // Stop receiving: address and token forgotten.
    harness.get_by_label("Settings").click();
    harness.step();
    harness.step();
    harness.get_by_label("Stop receiving").click();
    step_until(&mut harness, "off", Duration::from_secs(20), |app| {
        state(app) == SyncState::Off
    });
    assert!(!read(&settings).contains(&url));
    assert!(!read(&secrets).contains(SYNC_TOKEN));
    assert!(!has_label(&harness, "Receiving from"));
}
