//! The simulated Smartcar, an in-process relay and a signed-in account, on loopback.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::common::*;
use fleetdash::account::secrets::SecretStore;
use fleetdash::account::{Account, AccountConfig};
use fleetdash::server::gaps::GapPoller;
use fleetdash::server::sync::SyncApi;
use fleetdash::server::{AppState, Sink, serve};
use fleetdash::sim::api::{SimApi, SimApiConfig, router};
use fleetdash::sim::fleet::FleetConfig;
use fleetdash::smartcar::client::{Endpoints, Secret};
use fleetdash::store::{self, StoreOptions, spawn_writer};
use rusqlite::Connection;
use tokio::net::TcpListener;

pub const CLIENT_ID: &str = "gap-client";
pub const CLIENT_SECRET: &str = "gap-secret-9f8e7d";
pub const WEBHOOK: &str = "gap-webhook";
pub const SYNC_TOKEN: &str = "gap-relay-sync-token-0123456789abcdef";
pub const MIN_MS: i64 = 60_000;

/// The simulated Smartcar, a relay (`serve`'s server and writer in-process, sync API on)
/// and an account signed in to every vehicle, all on loopback.
pub struct Setup {
    pub api: SimApi,
    pub origin: String,
    pub relay: String,
    pub state: AppState,
    pub db: PathBuf,
    pub dir: tempfile::TempDir,
    pub account: Account,
    _stop: tokio::sync::oneshot::Sender<()>,
}

pub async fn setup(vehicles: usize) -> Setup {
    let api = SimApi::new(SimApiConfig {
        client_id: CLIENT_ID.into(),
        client_secret: CLIENT_SECRET.into(),
        management_token: token(),
        webhook_id: WEBHOOK.into(),
        fleet: FleetConfig {
            vehicles,
            days: 3,
            seed: 5,
            start_ms: fleetdash::domain::time::now_ms() - 86_400_000,
            faults: Default::default(),
        },
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(axum::serve(listener, router(api.clone())).into_future());

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("relay.sqlite3");
    let conn = store::open(&db, &StoreOptions::default()).unwrap();
    let (writer, _thread) = spawn_writer(conn).unwrap();
    let state = AppState::with_sync(
        token(),
        Sink::Store(writer),
        SyncApi::new(SYNC_TOKEN, db.clone()),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let relay = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve(listener, state.clone(), async move {
        let _ = stopped.await;
    }));

    let account = Account::new(
        AccountConfig {
            client_id: Some(CLIENT_ID.into()),
            redirect_uri: "http://localhost:8787/oauth/callback".into(),
            mode: "simulated".into(),
            webhook_id: Some(WEBHOOK.into()),
            endpoints: Endpoints::all_at(&origin),
        },
        SecretStore::at(&dir.path().join("secrets.json")),
    );
    account
        .store_app_secrets(Some(&Secret::new(CLIENT_SECRET)), None)
        .unwrap();
    let setup = Setup {
        api,
        origin,
        relay,
        state,
        db,
        dir,
        account,
        _stop: stop,
    };
    setup.login().await;
    setup
}

impl Setup {
    /// Signs in through the simulated Connect (an HTTP client plays the browser), sharing
    /// every vehicle.
    pub async fn login(&self) {
        let app = self.account.application().unwrap();
        let url = self.account.client.authorize_url(&app, "login-state");
        let http = no_redirects();
        assert_eq!(http.get(&url).send().await.unwrap().status(), 200);
        let mut form = vec![
            ("client_id", CLIENT_ID.to_owned()),
            ("redirect_uri", app.redirect_uri.clone()),
            ("state", "login-state".to_owned()),
            ("decision", "allow".to_owned()),
        ];
        for v in self.api.vehicles() {
            form.push(("vehicle", v.id.clone()));
        }
        let answer = http
            .post(format!("{}/oauth/authorize", self.origin))
            .form(&form)
            .send()
            .await
            .unwrap();
        let location = answer.headers()["location"].to_str().unwrap().to_owned();
        let code = query_value(&location, "code").expect("Connect gives a code");
        self.account.complete_login(&code).await.unwrap();
    }

    pub fn vehicle(&self, index: usize) -> String {
        self.api.vehicles()[index].id.clone()
    }

    pub fn now_ms(&self) -> i64 {
        self.api.clock().now_ms()
    }

    /// A poller of the relay whose clock is the simulated Smartcar's.
    pub fn poller(&self) -> GapPoller {
        let api = self.api.clone();
        GapPoller::new(
            self.account.clone(),
            self.db.clone(),
            self.state.clone(),
            Arc::new(move || api.clock().now_ms()),
        )
        .expect("the relay stores")
    }

    /// Records every vehicle as subscribed (as `fleetdash subscribe` does on the relay).
    pub fn subscribe_all(&self) {
        let conn = Connection::open(&self.db).unwrap();
        for v in self.api.vehicles() {
            fleetdash::store::vehicles::set_subscribed(&conn, &v.id, true).unwrap();
        }
    }

    /// Delivers a signed v4 state of `vehicle` recorded `minutes_ago`.
    pub async fn webhook(&self, vehicle: &str, minutes_ago: i64) {
        let at_ms = self.now_ms() - minutes_ago * MIN_MS;
        let body = v4_state(&format!("e-{vehicle}-{at_ms}"), vehicle, 64.0, at_ms);
        let answer = post(
            &format!("{}/webhooks/smartcar", self.relay),
            &body,
            Some(&sign(&body)),
        )
        .await;
        assert_eq!(answer.status(), 200);
    }

    pub fn count(&self, sql: &str) -> i64 {
        count(&Connection::open(&self.db).unwrap(), sql)
    }
}

pub fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub fn query_value(url: &str, name: &str) -> Option<String> {
    reqwest::Url::parse(url)
        .ok()?
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// The derived rows a copy of the fleet's data must agree on (delivery ids aside, which
/// differ between files).
pub fn dump(db: &Path) -> Vec<String> {
    let conn = Connection::open(db).unwrap();
    let mut lines = Vec::new();
    for sql in [
        "SELECT vehicle_id, recorded_at, battery_percent, range_km, plugged_in, charging_state,
                latitude, longitude, source FROM readings ORDER BY vehicle_id, recorded_at",
        "SELECT vehicle_id, recorded_at, source_path, error_type, error_code, resolution_url,
                active, source FROM vehicle_errors ORDER BY vehicle_id, recorded_at, error_code",
        "SELECT id, needs_reauth, reauth_url FROM vehicles ORDER BY id",
        // The last column becomes the raw body: each file may compress it differently.
        "SELECT received_at, format, kind, event_key, outcome, id FROM deliveries
         WHERE format = 'api' ORDER BY received_at",
    ] {
        let mut statement = conn.prepare(sql).unwrap();
        let columns = statement.column_count();
        let rows: Vec<String> = statement
            .query_map([], |row| {
                (0..columns)
                    .map(|i| {
                        if i == 5 && sql.contains("FROM deliveries") {
                            let body = fleetdash::store::bodies::read(&conn, row.get(i)?)?;
                            return Ok(hex::encode(body.unwrap_or_default()));
                        }
                        row.get::<_, rusqlite::types::Value>(i)
                            .map(|v| format!("{v:?}"))
                    })
                    .collect::<Result<Vec<_>, _>>()
                    .map(|cells| cells.join("|"))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        lines.extend(rows);
    }
    lines
}

pub fn reprocess(db: &Path) {
    let mut conn = store::open(db, &StoreOptions::default()).unwrap();
    fleetdash::store::reprocess::reprocess(&mut conn, |_, _| {}).unwrap();
}
