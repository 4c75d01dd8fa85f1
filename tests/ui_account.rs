//! The Account page driven through egui_kittest against the simulated Smartcar: save the
//! application's settings (secrets to the 0600 file, the page says where), sign in (the
//! Connect page answered by an HTTP client playing the browser), subscribe every vehicle,
//! refresh now through the API, and test that a callback answers Smartcar's challenge.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use fleetdash::account::AccountPaths;
use fleetdash::server::{AppState, Sink};
use fleetdash::sim::api::{SimApi, SimApiConfig, router};
use fleetdash::sim::fleet::FleetConfig;
use fleetdash::smartcar::ManagementToken;
use fleetdash::ui::backend::Backend;
use fleetdash::ui::{FleetApp, Persisted};

const CLIENT_ID: &str = "ui-client";
const SECRET: &str = "ui-secret-7q8w";
const AMT: &str = "ui-management-token-9e0r";
const WEBHOOK: &str = "ui-webhook";

fn step_until(
    harness: &mut Harness<'_, FleetApp>,
    what: &str,
    mut done: impl FnMut(&FleetApp) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done(harness.state()) {
        assert!(Instant::now() < deadline, "the UI never got there: {what}");
        harness.step();
        std::thread::sleep(Duration::from_millis(10));
    }
    harness.step();
}

fn message(app: &FleetApp) -> Option<(bool, String)> {
    app.account_view().and_then(|a| a.message().cloned())
}

/// Plays the browser on Connect's page: allow every vehicle, follow the redirect.
async fn allow(origin: String, url: String, redirect: String, vehicles: Vec<String>) -> String {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    assert_eq!(http.get(&url).send().await.unwrap().status(), 200);
    let state = reqwest::Url::parse(&url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let mut form: Vec<(&str, String)> = vec![
        ("client_id", CLIENT_ID.into()),
        ("redirect_uri", redirect),
        ("state", state),
        ("decision", "allow".into()),
    ];
    for v in vehicles {
        form.push(("vehicle", v));
    }
    let answer = http
        .post(format!("{origin}/oauth/authorize"))
        .form(&form)
        .send()
        .await
        .unwrap();
    let location =
        answer.headers()["location"]
            .to_str()
            .unwrap()
            .replacen("localhost", "127.0.0.1", 1);
    http.get(location)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[test]
fn the_account_page_saves_signs_in_subscribes_refreshes_and_tests_the_callback() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let api = SimApi::new(SimApiConfig {
        client_id: CLIENT_ID.into(),
        client_secret: SECRET.into(),
        management_token: ManagementToken::new(AMT).unwrap(),
        webhook_id: WEBHOOK.into(),
        fleet: FleetConfig {
            vehicles: 2,
            days: 2,
            seed: 11,
            start_ms: fleetdash::domain::time::now_ms() - 86_400_000,
            faults: Default::default(),
        },
    });
    let (origin, callback) = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(axum::serve(listener, router(api.clone())).into_future());
        // A callback server elsewhere (as on an always-on host) for the reachability test.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let callback = format!("http://{}", listener.local_addr().unwrap());
        let state = AppState::new(ManagementToken::new(AMT).unwrap(), Sink::Discard);
        tokio::spawn(fleetdash::server::serve(
            listener,
            state,
            std::future::pending(),
        ));
        (origin, callback)
    });
    let port = common::free_fixed_port();
    let redirect = format!("http://localhost:{port}/oauth/callback");

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fleet.sqlite3");
    let secrets = dir.path().join("config").join("secrets.json");
    let mut persisted = Persisted::default();
    persisted.settings.demo = false;
    let app = FleetApp::with_state(
        Backend::start_local(&db, None, || {}),
        persisted,
        Arc::new(|| {}),
    )
    .with_account(AccountPaths::file(&secrets));
    let mut harness = Harness::builder()
        .with_size(egui::vec2(1200.0, 900.0))
        .build_ui_state(
            |ui, app: &mut FleetApp| {
                app.refresh();
                app.show(ui);
            },
            app,
        );
    {
        let view = harness.state_mut().account_view_mut().unwrap();
        view.open_browser = false;
        let form = view.form_mut();
        form.client_id = CLIENT_ID.into();
        form.webhook_id = WEBHOOK.into();
        form.redirect_uri = redirect.clone();
        form.mode = "simulated".into();
        form.connect_url = origin.clone();
        form.auth_url = origin.clone();
        form.api_url = origin.clone();
        form.public_url = callback.clone();
        view.type_secrets(SECRET, AMT);
    }
    harness.step();
    harness.get_by_label("Account").click();
    harness.step();
    harness.step();
    harness.get_by_label("Save").click();
    step_until(&mut harness, "saved", |app| message(app).is_some());
    let (ok, text) = message(harness.state()).unwrap();
    assert!(ok && text.contains("readable only by you"), "{text}");
    let stored = std::fs::read_to_string(&secrets).unwrap();
    assert!(stored.contains(SECRET) && stored.contains(AMT));
    let settings = std::fs::read_to_string(secrets.with_file_name("account.json")).unwrap();
    assert!(settings.contains(CLIENT_ID) && !settings.contains(SECRET) && !settings.contains(AMT));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&secrets).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    // Sign in: the page shows Connect's address while it waits; the "browser" allows.
    harness.get_by_label("Sign in with Smartcar").click();
    step_until(&mut harness, "the Connect address", |app| {
        app.account_view().unwrap().login_url().is_some()
    });
    assert!(
        harness
            .query_by_label_contains("Waiting for Smartcar Connect")
            .is_some()
    );
    let url = harness.state().account_view().unwrap().login_url().unwrap();
    let vehicles: Vec<String> = api.vehicles().iter().map(|v| v.id.clone()).collect();
    let page = runtime.spawn(allow(origin.clone(), url, redirect.clone(), vehicles));
    step_until(&mut harness, "signed in", |app| {
        message(app).is_some_and(|(_, t)| t.contains("Signed in"))
    });
    let page = runtime.block_on(page).unwrap();
    assert!(page.contains("return to fleetdash"), "{page}");
    assert_eq!(harness.state().account_view().unwrap().grants().len(), 1);
    step_until(&mut harness, "the vehicles listed", |app| {
        app.vehicles().len() == 2
    });
    harness.step();

    harness.get_by_label("Subscribe all").click();
    step_until(&mut harness, "subscribed", |app| {
        message(app).is_some_and(|(_, t)| t.contains("Subscribed 2"))
    });
    assert_eq!(api.subscribed().len(), 2);
    step_until(&mut harness, "the subscriptions shown", |app| {
        app.vehicles().iter().all(|v| v.subscribed == Some(true))
    });

    harness.get_by_label("Refresh now").click();
    step_until(&mut harness, "fetched", |app| {
        message(app).is_some_and(|(_, t)| t.contains("Fetched"))
    });
    let conn = rusqlite::Connection::open(&db).unwrap();
    let from_api: i64 = conn
        .query_row(
            "SELECT count(DISTINCT vehicle_id) FROM readings WHERE source = 'api'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(from_api, 2);

    harness.get_by_label("Test").click();
    step_until(&mut harness, "the reachability test", |app| {
        message(app).is_some_and(|(_, t)| t.contains("challenge"))
    });
    let (ok, text) = message(harness.state()).unwrap();
    assert!(ok, "{text}");
    assert!(text.contains("deliveries will get through"), "{text}");

    // The automatic fetch starts once chosen, and then waits its period.
    harness
        .state_mut()
        .account_view_mut()
        .unwrap()
        .form_mut()
        .poll_minutes = 15;
    step_until(&mut harness, "the automatic fetch", |app| {
        message(app).is_some_and(|(_, t)| t.contains("every 15 min"))
    });
    for _ in 0..20 {
        harness.step();
    }
    assert!(
        !harness.state().account_view().unwrap().busy(),
        "not again before 15 minutes"
    );
}
