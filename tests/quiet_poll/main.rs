//! The always-on relay fills the gaps: a subscribed vehicle that goes quiet is polled
//! through the (simulated) Smartcar API by `serve`'s poller, over real HTTP on loopback,
//! into a real SQLite file; the answer is archived as a delivery (`format` = `api`), so
//! `reprocess` keeps its readings and a desktop that syncs gets them. The poller's clock
//! is the simulated Smartcar's, moved forward instead of waiting hours.

#[path = "../common/mod.rs"]
mod common;
mod setup;

use std::time::Duration;

use common::*;
use fleetdash::domain::gaps::{Cadence, HOUR_MS};
use fleetdash::server::gaps::CheckReport;
use fleetdash::smartcar::client::Secret;
use fleetdash::store::{self, StoreOptions};
use fleetdash::sync::Relay;
use rusqlite::Connection;
use setup::*;
use tokio::sync::watch;

#[tokio::test]
async fn a_quiet_vehicle_is_polled_once_an_hour_archived_synced_and_kept_by_reprocess() {
    let setup = setup(2).await;
    setup.subscribe_all();
    let (quiet, chatty) = (setup.vehicle(0), setup.vehicle(1));
    setup.webhook(&quiet, 120).await;
    setup.webhook(&chatty, 5).await;

    // At an hour's vehicle_quiet, the vehicle silent for two hours is open as quiet.
    let quiet_open = |at_ms: i64| -> bool {
        let conn = Connection::open(&setup.db).unwrap();
        fleetdash::store::alerts::alerts(&conn, at_ms, None)
            .unwrap()
            .iter()
            .any(|l| {
                l.alert.rule == fleetdash::domain::alerts::Rule::VehicleQuiet
                    && l.alert.vehicle_id.as_deref() == Some(quiet.as_str())
            })
    };
    {
        let mut conn = Connection::open(&setup.db).unwrap();
        let hours = fleetdash::store::owner::OwnerWrite::AlertRule {
            rule: fleetdash::domain::alerts::Rule::VehicleQuiet,
            on: None,
            settings: vec![("hours".into(), "1".into())],
        };
        fleetdash::store::owner::apply(&mut conn, &hours).unwrap();
    }
    assert!(quiet_open(setup.now_ms()), "quiet before the poll");

    // Only the vehicle silent for two hours is polled; its answer is archived as an API
    // record and read into readings marked `api`, and the gap is filled: no longer quiet.
    let mut poller = setup.poller();
    let report = poller.check().await;
    assert!(
        !quiet_open(setup.now_ms()),
        "the poll's reading ends the silence"
    );
    assert_eq!(report.polled, vec![quiet.clone()], "{report:?}");
    assert_eq!(setup.api.batch_requests(&chatty), 0);
    assert_eq!(
        setup.count(&format!(
            "SELECT count(*) FROM deliveries WHERE format = 'api' AND kind = 'batch'
             AND outcome = 'parsed' AND vehicle_ids = '{quiet}'"
        )),
        1
    );
    let polled = setup.count(&format!(
        "SELECT count(*) FROM readings WHERE vehicle_id = '{quiet}' AND source = 'api'
         AND battery_percent IS NOT NULL AND delivery_id IS NOT NULL"
    ));
    assert_eq!(polled, 1);

    // Within the hour it is not asked again, by this poller or by one started afresh (a
    // restarted relay remembers from the archive).
    setup.api.clock().advance_secs(10 * 60);
    assert_eq!(poller.check().await.polled, Vec::<String>::new());
    assert_eq!(setup.poller().check().await.polled, Vec::<String>::new());
    assert_eq!(setup.api.batch_requests(&quiet), 1);

    // An hour after its poll it is asked again; by then the other one is quiet too.
    setup.api.clock().advance_secs(51 * 60);
    let report = poller.check().await;
    assert_eq!(report.polled.len(), 2, "{report:?}");
    assert_eq!(setup.api.batch_requests(&quiet), 2);

    // A desktop that syncs from the relay stores the same rows, the polled ones included,
    // and reprocess on either side changes nothing.
    let desktop = setup.dir.path().join("desktop.sqlite3");
    let mut conn = store::open(&desktop, &StoreOptions::default()).unwrap();
    let relay = Relay::new(&setup.relay, Secret::new(SYNC_TOKEN)).unwrap();
    let (_keep, stop) = watch::channel(false);
    let progress = fleetdash::sync::run(&relay, &mut conn, false, stop, |_| {})
        .await
        .unwrap();
    assert_eq!(progress.totals.quarantined, 0, "{progress:?}");
    let before = dump(&setup.db);
    assert!(
        before.iter().any(|l| l.contains("Text(\"api\")")),
        "{before:#?}"
    );
    assert_eq!(dump(&desktop), before);
    assert_eq!(
        count(
            &conn,
            "SELECT count(*) FROM readings WHERE source = 'api' AND battery_percent IS NOT NULL"
        ),
        3
    );
    reprocess(&setup.db);
    reprocess(&desktop);
    assert_eq!(dump(&setup.db), before);
    assert_eq!(dump(&desktop), before);
}

#[tokio::test]
async fn a_429_stops_the_poller_until_its_retry_after_has_passed() {
    let setup = setup(1).await;
    setup.subscribe_all();
    let vehicle = setup.vehicle(0);
    let mut poller = setup.poller();
    // Someone else spent the application's bucket: Smartcar answers 429, retry after 30 s.
    setup.api.drain_bucket();
    let report = poller.check().await;
    assert!(
        report.rate_limited && report.polled.is_empty(),
        "{report:?}"
    );
    assert_eq!(setup.api.batch_requests(&vehicle), 1);

    setup.api.clock().advance_secs(20);
    let report = poller.check().await;
    assert_eq!(
        report,
        CheckReport {
            signed_in: true,
            ..CheckReport::default()
        }
    );
    assert_eq!(
        setup.api.batch_requests(&vehicle),
        1,
        "asked before retry-after"
    );

    setup.api.clock().advance_secs(15);
    let report = poller.check().await;
    assert_eq!(report.polled, vec![vehicle.clone()], "{report:?}");
    assert_eq!(setup.api.batch_requests(&vehicle), 2);
    assert_eq!(
        setup.count("SELECT count(*) FROM deliveries WHERE format = 'api'"),
        1
    );
}

#[tokio::test]
async fn an_asleep_car_is_an_error_reading_and_authentication_failed_flags_the_car_until_it_answers()
 {
    // The simulated fleet's last vehicle of three needs its owner to re-connect it.
    let setup = setup(3).await;
    setup.subscribe_all();
    let (asleep, locked) = (setup.vehicle(0), setup.vehicle(2));
    setup.api.set_asleep(&asleep, true);
    let mut poller = setup.poller().with_cadence(Cadence {
        reauth_poll_every_ms: HOUR_MS,
        ..Cadence::default()
    });
    let report = poller.check().await;
    assert_eq!(report.polled.len(), 3, "{report:?}");
    assert_eq!(
        setup.count(&format!(
            "SELECT count(*) FROM vehicle_errors WHERE vehicle_id = '{asleep}' AND source = 'api'
             AND error_type = 'VEHICLE_STATE' AND error_code = 'ASLEEP' AND active = 1"
        )),
        1
    );
    // The flag carries fleetdash's own re-connect page (with its redirect URI).
    let url: String = Connection::open(&setup.db)
        .unwrap()
        .query_row(
            "SELECT reauth_url FROM vehicles WHERE id = ?1 AND needs_reauth = 1",
            [&locked],
            |r| r.get(0),
        )
        .unwrap();
    assert!(url.contains("redirect_uri="), "{url}");
    assert_eq!(
        setup.count("SELECT count(*) FROM vehicles WHERE needs_reauth = 1"),
        1
    );

    // The owner re-connects it on that page; at its next poll the car answers, the flag
    // clears, and a resolved row closes the AUTHENTICATION_FAILED.
    let form: Vec<(String, String)> = reqwest::Url::parse(&url)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let back = no_redirects()
        .post(format!("{}/oauth/reauthenticate", setup.origin))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(back.status(), 302);
    setup.api.clock().advance_secs(61 * 60);
    let report = poller.check().await;
    assert!(report.polled.contains(&locked), "{report:?}");
    assert_eq!(
        setup.count("SELECT count(*) FROM vehicles WHERE needs_reauth = 1"),
        0
    );
    assert_eq!(
        setup.count(&format!(
            "SELECT count(*) FROM vehicle_errors WHERE vehicle_id = '{locked}'
             AND error_code = 'AUTHENTICATION_FAILED' AND active = 0"
        )),
        1
    );
    // The archive alone gives the same verdicts.
    let before = dump(&setup.db);
    reprocess(&setup.db);
    assert_eq!(dump(&setup.db), before);
}

#[tokio::test]
async fn the_webhook_endpoint_refuses_an_api_record_signed_or_not() {
    let setup = setup(1).await;
    let record = fleetdash::smartcar::webhook::api::Record {
        vehicle_id: &setup.vehicle(0),
        fetched_at_ms: setup.now_ms(),
        mode: None,
        answer: fleetdash::smartcar::webhook::api::Answer::Responses(&[serde_json::json!(
            {"path": "/battery", "code": 200, "body": {"percentRemaining": 0.1}}
        )]),
        reconnect_url: None,
    }
    .to_body();
    let url = format!("{}/webhooks/smartcar", setup.relay);
    assert_eq!(post(&url, &record, None).await.status(), 401);
    assert_eq!(
        post(&url, &record, Some(&sign(&record))).await.status(),
        400
    );
    assert_eq!(setup.count("SELECT count(*) FROM deliveries"), 0);
    assert_eq!(setup.count("SELECT count(*) FROM readings"), 0);
}

#[test]
fn serve_polls_a_quiet_vehicle_when_signed_in_and_says_once_that_polling_is_off_without() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let setup = runtime.block_on(setup(1));
    let vehicle = setup.vehicle(0);
    let db = setup.dir.path().join("serve.sqlite3");
    drop(store::open(&db, &StoreOptions::default()).unwrap());
    fleetdash::store::vehicles::set_subscribed(&Connection::open(&db).unwrap(), &vehicle, true)
        .unwrap();
    let secrets = setup.dir.path().join("secrets.json");
    let secrets = secrets.to_str().unwrap();
    let env = [
        ("FLEETDASH_SECRETS", secrets),
        ("SMARTCAR_CLIENT_ID", CLIENT_ID),
        ("SMARTCAR_MODE", "simulated"),
        ("SMARTCAR_CONNECT_URL", setup.origin.as_str()),
        ("SMARTCAR_AUTH_URL", setup.origin.as_str()),
        ("SMARTCAR_API_URL", setup.origin.as_str()),
        ("FLEETDASH_QUIET_POLL_CHECK_SECS", "1"),
        ("FLEETDASH_SYNC_TOKEN", SYNC_TOKEN),
    ];
    let serve = ServeProcess::start(&db, &env);
    serve.wait_for_log("polling quiet vehicles is on", Duration::from_secs(10));
    serve.wait_for_log("polled a quiet vehicle", Duration::from_secs(20));
    let conn = Connection::open(&db).unwrap();
    assert_eq!(
        count(
            &conn,
            "SELECT count(*) FROM readings WHERE source = 'api' AND delivery_id IN
             (SELECT id FROM deliveries WHERE format = 'api')"
        ),
        1
    );
    // A desktop pulling with `fleetdash sync` gets the polled reading.
    let desktop = setup.dir.path().join("desktop.sqlite3");
    let synced = fleetdash()
        .args(["sync", "--from", &format!("http://{}", serve.addr), "--db"])
        .arg(&desktop)
        .env("FLEETDASH_SYNC_TOKEN", SYNC_TOKEN)
        .output()
        .unwrap();
    assert!(
        synced.status.success(),
        "{}",
        String::from_utf8_lossy(&synced.stderr)
    );
    assert_eq!(
        count(
            &Connection::open(&desktop).unwrap(),
            "SELECT count(*) FROM readings WHERE source = 'api'"
        ),
        1
    );

    // Without a login on the machine, serve says so once (not at every check) and polls
    // nothing.
    let empty = setup.dir.path().join("nobody.json");
    let other = setup.dir.path().join("other.sqlite3");
    let mut env = env.to_vec();
    env[0].1 = empty.to_str().unwrap();
    env.push(("RUST_LOG", "info,fleetdash::server::gaps=debug"));
    let bare = ServeProcess::start(&other, &env);
    let mut log = String::new();
    let checked_twice = wait_until(Duration::from_secs(15), || {
        log.push_str(&bare.stderr_text());
        log.push('\n');
        log.matches("quiet-vehicle check").count() >= 2
    });
    assert!(checked_twice, "{log}");
    assert_eq!(
        log.matches("polling quiet vehicles is off: no Smartcar login is kept on this machine")
            .count(),
        1,
        "{log}"
    );
    assert_eq!(setup.api.batch_requests(&vehicle), 1);
}

#[test]
fn the_relays_own_polls_do_not_hide_that_smartcar_stopped_delivering() {
    use fleetdash::domain::alerts::Rule;
    use fleetdash::smartcar::webhook::api::{Answer, Record};
    let dir = tempfile::tempdir().unwrap();
    let mut conn =
        store::open(&dir.path().join("fleet.sqlite3"), &StoreOptions::default()).unwrap();
    let mut ingest = |at_ms: i64, body: Vec<u8>| {
        let parsed = fleetdash::smartcar::parse_archived(&body, at_ms);
        let mut batch = fleetdash::store::Batch::begin(&mut conn).unwrap();
        batch.ingest(at_ms, &body, &parsed).unwrap();
        batch.commit().unwrap();
    };
    // Smartcar's last delivery, then the relay's hourly polls of the quiet car.
    ingest(JAN_1_2026, v4_state("last", "car", 50.0, JAN_1_2026));
    let items =
        [serde_json::json!({"path": "/battery", "code": 200, "body": {"percentRemaining": 0.5}})];
    for hours in 1..=5 {
        let at_ms = JAN_1_2026 + hours * HOUR_MS;
        let record = Record {
            vehicle_id: "car",
            fetched_at_ms: at_ms,
            mode: None,
            answer: Answer::Responses(&items),
            reconnect_url: None,
        };
        ingest(at_ms, record.to_body());
    }
    let open = fleetdash::store::alerts::alerts(&conn, JAN_1_2026 + 5 * HOUR_MS, None).unwrap();
    let silence = open
        .iter()
        .find(|listed| listed.alert.rule == Rule::NoDeliveries)
        .unwrap_or_else(|| panic!("no_deliveries is not open: {open:#?}"));
    assert_eq!(silence.alert.opened_at_ms, JAN_1_2026 + 3 * HOUR_MS);
}
