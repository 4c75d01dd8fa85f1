//! The account commands end to end: `fleetdash login` catches Connect's redirect on its own
//! loopback server (the consent page is driven by an HTTP client, as a browser would),
//! then `vehicles`, `subscribe --all`, `poll` and `unsubscribe` against the simulated
//! Smartcar over real HTTP; a forged `state` is refused; and no secret appears in anything
//! the commands printed or logged.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use fleetdash::sim::api::{SimApi, SimApiConfig, router};
use fleetdash::sim::fleet::FleetConfig;
use fleetdash::smartcar::ManagementToken;

const CLIENT_ID: &str = "cli-client";
const SECRET: &str = "cli-secret-a1b2c3";
const AMT: &str = "cli-management-token-d4e5f6";
const WEBHOOK: &str = "cli-webhook";

struct Setup {
    api: SimApi,
    origin: String,
    dir: tempfile::TempDir,
    redirect: String,
}

impl Setup {
    fn db(&self) -> PathBuf {
        self.dir.path().join("fleet.sqlite3")
    }

    fn secrets(&self) -> PathBuf {
        self.dir.path().join("secrets.json")
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = common::fleetdash();
        command
            .args(args)
            .env("FLEETDASH_DB", self.db())
            .env("FLEETDASH_SECRETS", self.secrets())
            .env("SMARTCAR_CLIENT_ID", CLIENT_ID)
            .env("SMARTCAR_CLIENT_SECRET", SECRET)
            .env("SMARTCAR_MANAGEMENT_TOKEN", AMT)
            .env("SMARTCAR_WEBHOOK_ID", WEBHOOK)
            .env("SMARTCAR_MODE", "simulated")
            .env("SMARTCAR_REDIRECT_URI", &self.redirect)
            .env("SMARTCAR_CONNECT_URL", &self.origin)
            .env("SMARTCAR_AUTH_URL", &self.origin)
            .env("SMARTCAR_API_URL", &self.origin)
            .env("RUST_LOG", "debug");
        command
    }

    /// Runs a command to its end; returns its output (asserting success when `ok`).
    async fn run(&self, args: &[&str], ok: bool) -> Output {
        let mut command = self.command(args);
        let output = tokio::task::spawn_blocking(move || command.output().unwrap())
            .await
            .unwrap();
        if ok {
            assert!(
                output.status.success(),
                "{args:?}: {}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        output
    }
}

async fn setup(vehicles: usize) -> Setup {
    let api = SimApi::new(SimApiConfig {
        client_id: CLIENT_ID.into(),
        client_secret: SECRET.into(),
        management_token: ManagementToken::new(AMT).unwrap(),
        webhook_id: WEBHOOK.into(),
        fleet: FleetConfig {
            vehicles,
            days: 3,
            seed: 9,
            start_ms: fleetdash::domain::time::now_ms() - 86_400_000,
            faults: Default::default(),
        },
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(axum::serve(listener, router(api.clone())).into_future());
    // A free port for the login's redirect.
    let port = common::free_fixed_port();
    Setup {
        api,
        origin,
        dir: tempfile::tempdir().unwrap(),
        redirect: format!("http://localhost:{port}/oauth/callback"),
    }
}

fn query_value(url: &str, name: &str) -> Option<String> {
    reqwest::Url::parse(url)
        .ok()?
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Plays the browser: opens the authorize URL, answers `decision` for every vehicle,
/// and follows Connect's redirect to fleetdash's callback (with `state` replaced by
/// `forge_state` when given). Returns the callback page's text.
async fn browser(
    setup: &Setup,
    authorize_url: &str,
    decision: &str,
    forge_state: Option<&str>,
) -> String {
    browse(setup, authorize_url, decision, forge_state, true).await
}

/// [`browser`], choosing every vehicle or none.
async fn browse(
    setup: &Setup,
    authorize_url: &str,
    decision: &str,
    forge_state: Option<&str>,
    choose: bool,
) -> String {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = http.get(authorize_url).send().await.unwrap();
    assert_eq!(page.status(), 200, "Connect's page");
    let state = query_value(authorize_url, "state").unwrap();
    let mut form: Vec<(&str, String)> = vec![
        ("client_id", CLIENT_ID.into()),
        ("redirect_uri", setup.redirect.clone()),
        ("state", forge_state.unwrap_or(&state).to_owned()),
        ("decision", decision.into()),
    ];
    if choose {
        for v in setup.api.vehicles() {
            form.push(("vehicle", v.id.clone()));
        }
    }
    let answer = http
        .post(format!("{}/oauth/authorize", setup.origin))
        .form(&form)
        .send()
        .await
        .unwrap();
    let location = answer.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with(&setup.redirect), "{location}");
    // The browser follows the redirect to fleetdash's own loopback server.
    let callback = location.replacen("localhost", "127.0.0.1", 1);
    http.get(callback)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// Starts `fleetdash login --no-browser`; returns the child and the URL it printed.
async fn start_login(
    setup: &Setup,
) -> (std::process::Child, String, std::thread::JoinHandle<String>) {
    let mut child = setup
        .command(&["login", "--no-browser"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let logs = std::thread::spawn(move || std::io::read_to_string(stderr).unwrap_or_default());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(url) = line
                .split_whitespace()
                .find(|w| w.contains("/oauth/authorize?"))
            {
                let _ = tx.send(Ok(url.to_owned()));
            }
            all.push_str(&line);
            all.push('\n');
        }
        let _ = tx.send(Err(all));
    });
    let url = tokio::task::spawn_blocking(move || rx.recv_timeout(Duration::from_secs(30)))
        .await
        .unwrap()
        .expect("login prints the URL")
        .expect("the URL, not the end of output");
    (child, url, logs)
}

async fn wait(mut child: std::process::Child) -> std::process::ExitStatus {
    tokio::task::spawn_blocking(move || {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            assert!(std::time::Instant::now() < deadline, "login never ended");
            std::thread::sleep(Duration::from_millis(20));
        }
    })
    .await
    .unwrap()
}

fn count(db: &Path, sql: &str) -> i64 {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

#[tokio::test]
async fn login_subscribe_poll_and_unsubscribe_work_end_to_end_and_no_secret_is_printed() {
    let setup = setup(3).await;
    let (child, url, login_logs) = start_login(&setup).await;
    assert!(url.starts_with(&format!("{}/oauth/authorize?", setup.origin)));
    let page = browser(&setup, &url, "allow", None).await;
    assert!(page.contains("return to fleetdash"), "{page}");
    let status = wait(child).await;
    let mut printed = login_logs.join().unwrap();
    assert!(status.success(), "{printed}");

    // The vehicles are known, with make, model and year; the fleet's last car, whose owner
    // changed their password, is flagged with its re-connect address.
    assert_eq!(
        count(
            &setup.db(),
            "SELECT count(*) FROM vehicles WHERE make IS NOT NULL"
        ),
        2
    );
    assert_eq!(
        count(
            &setup.db(),
            "SELECT count(*) FROM vehicles WHERE needs_reauth = 1 AND reauth_url LIKE '%/oauth/reauthenticate?%'"
        ),
        1
    );
    assert!(printed.contains("must re-connect"), "{printed}");
    let listed = setup.run(&["vehicles"], true).await;
    let text = String::from_utf8_lossy(&listed.stdout).into_owned();
    for v in setup.api.vehicles() {
        assert!(text.contains(&v.id), "{text}");
    }
    assert_eq!(text.matches("subscription unknown").count(), 3);

    // The car that needs re-connecting can't be subscribed: the others are, and the
    // command says which failed and why.
    let partly = setup.run(&["subscribe", "--all"], false).await;
    assert!(!partly.status.success());
    assert!(
        String::from_utf8_lossy(&partly.stderr)
            .contains("1 of 3 vehicle(s) could not be subscribed")
    );
    assert_eq!(setup.api.subscribed().len(), 2);

    // Its owner re-connects it on the page Smartcar gives (the URL fleetdash stored).
    let last = setup.api.vehicles().last().unwrap().id.clone();
    let url: String = rusqlite::Connection::open(setup.db())
        .unwrap()
        .query_row(
            "SELECT reauth_url FROM vehicles WHERE id = ?1",
            [&last],
            |r| r.get(0),
        )
        .unwrap();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    assert_eq!(http.get(&url).send().await.unwrap().status(), 200);
    let form: Vec<(String, String)> = reqwest::Url::parse(&url)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let back = http
        .post(format!("{}/oauth/reauthenticate", setup.origin))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(back.status(), 302);

    let subscribed = setup.run(&["subscribe", "--all"], true).await;
    assert_eq!(setup.api.subscribed().len(), 3);
    assert_eq!(
        count(
            &setup.db(),
            "SELECT count(*) FROM vehicles WHERE subscribed = 1"
        ),
        3
    );

    // Polling fills the store through the same path as webhooks, marked as from the API,
    // each answer archived as a delivery of fleetdash's own (so reprocess and sync keep
    // it), and clears the re-connect flag once the car answers.
    let polled = setup.run(&["poll"], true).await;
    assert_eq!(
        count(
            &setup.db(),
            "SELECT count(DISTINCT vehicle_id) FROM readings WHERE source = 'api' AND battery_percent IS NOT NULL
             AND delivery_id IN (SELECT id FROM deliveries WHERE format = 'api' AND kind = 'batch')"
        ),
        3
    );
    assert_eq!(
        count(
            &setup.db(),
            "SELECT count(*) FROM vehicles WHERE needs_reauth = 1"
        ),
        0
    );

    let first = setup.api.vehicles()[0].id.clone();
    let unsubscribed = setup.run(&["unsubscribe", &first], true).await;
    assert_eq!(setup.api.subscribed().len(), 2);
    assert_eq!(
        count(
            &setup.db(),
            "SELECT count(*) FROM vehicles WHERE subscribed = 0"
        ),
        1
    );

    // Nothing printed or logged (at debug level) carries a secret.
    for output in [&listed, &partly, &subscribed, &polled, &unsubscribed] {
        printed.push_str(&String::from_utf8_lossy(&output.stdout));
        printed.push_str(&String::from_utf8_lossy(&output.stderr));
    }
    let stored: serde_json::Value =
        serde_json::from_slice(&std::fs::read(setup.secrets()).unwrap()).unwrap();
    let grant_text = stored
        .as_object()
        .unwrap()
        .iter()
        .find(|(k, _)| k.starts_with("grant:"))
        .unwrap()
        .1
        .as_str()
        .unwrap()
        .to_owned();
    let grant: serde_json::Value = serde_json::from_str(&grant_text).unwrap();
    let access = grant["access_token"].as_str().unwrap();
    let refresh = grant["refresh_token"].as_str().unwrap();
    for secret in [SECRET, AMT, access, refresh] {
        assert!(!printed.contains(secret), "a secret was printed: {printed}");
    }
    // The database holds none either.
    let dump = std::fs::read(setup.db()).unwrap();
    for secret in [SECRET, AMT, access, refresh] {
        assert!(
            !dump.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "a secret is in the database"
        );
    }
}

#[tokio::test]
async fn a_denied_login_says_so_in_plain_words_and_connects_nothing() {
    let setup = setup(1).await;
    let (child, url, logs) = start_login(&setup).await;
    let page = browser(&setup, &url, "deny", None).await;
    assert!(page.contains("declined"), "{page}");
    assert!(!wait(child).await.success());
    let text = logs.join().unwrap();
    assert!(text.contains("declined"), "{text}");
    assert!(
        !setup.secrets().exists()
            || !std::fs::read_to_string(setup.secrets())
                .unwrap()
                .contains("grant:")
    );
}

#[tokio::test]
async fn a_redirect_with_a_forged_state_is_refused_and_the_real_one_still_completes() {
    let setup = setup(1).await;
    let (child, url, _) = start_login(&setup).await;
    let page = browser(&setup, &url, "allow", Some("forged-state")).await;
    assert!(page.contains("did not send"), "{page}");
    // The login goes on waiting for its own answer.
    let page = browser(&setup, &url, "allow", None).await;
    assert!(page.contains("return to fleetdash"), "{page}");
    assert!(wait(child).await.success());
}

#[tokio::test]
async fn commands_without_a_login_or_settings_say_what_to_do() {
    let setup = setup(1).await;
    let output = setup.run(&["vehicles"], false).await;
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("fleetdash login"));
    let mut command = setup.command(&["login", "--no-browser"]);
    command.env_remove("SMARTCAR_CLIENT_ID");
    let output = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("SMARTCAR_CLIENT_ID"));
}

#[tokio::test]
async fn connect_errors_reach_the_owner_as_plain_sentences() {
    // No vehicle chosen.
    let setup = setup(1).await;
    let (child, url, logs) = start_login(&setup).await;
    let page = browse(&setup, &url, "allow", None, false).await;
    assert!(page.contains("No vehicle was connected"), "{page}");
    assert!(!wait(child).await.success());
    assert!(logs.join().unwrap().contains("choose at least one vehicle"));

    // A mode Connect doesn't know: its configuration_error, with what to check.
    let mut command = setup.command(&["login", "--no-browser"]);
    command
        .env("SMARTCAR_MODE", "sandbox")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let url = tokio::task::spawn_blocking(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .find_map(|l| {
                l.split_whitespace()
                    .find(|w| w.contains("/oauth/authorize?"))
                    .map(str::to_owned)
            })
    })
    .await
    .unwrap()
    .unwrap();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let answer = http.get(&url).send().await.unwrap();
    assert_eq!(answer.status(), 302);
    let location =
        answer.headers()["location"]
            .to_str()
            .unwrap()
            .replacen("localhost", "127.0.0.1", 1);
    let page = http
        .get(location)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("redirect URI registered in the Smartcar Dashboard"),
        "{page}"
    );
    let output = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("SMARTCAR_MODE"));
}
