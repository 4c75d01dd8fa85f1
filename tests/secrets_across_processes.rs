//! The secret store shared by several processes (the app, a cron `fleetdash poll`,
//! `fleetdash login`): two real `fleetdash poll` processes refreshing one expired login at
//! once against the simulated Smartcar, which, like Smartcar, kills a refresh token at its
//! first use; a refresh token rotated behind fleetdash's back while its own refresh was on
//! the way; and `Debug` output that never shows a token or a Connect code.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use fleetdash::account::secrets::SecretStore;
use fleetdash::account::{Account, AccountConfig};
use fleetdash::sim::api::{SimApi, SimApiConfig, router};
use fleetdash::sim::fleet::FleetConfig;
use fleetdash::smartcar::ManagementToken;
use fleetdash::smartcar::client::{Client, Endpoints, Secret};
use fleetdash::store::{self, StoreOptions};

const CLIENT_ID: &str = "lock-client";
const SECRET: &str = "lock-secret-9f8e7d";
const AMT: &str = "lock-management-token";
const REDIRECT: &str = "http://localhost:8000/oauth/callback";

/// What the test does to the token endpoint's refresh requests.
#[derive(Clone)]
enum Tamper {
    /// Holds each refresh until a second one arrives (or 2 s pass), so two processes that
    /// both refresh certainly spend the same refresh token.
    PairUp(tokio::sync::watch::Sender<usize>),
    /// The first refresh is done on behalf of "another writer": its new tokens go straight
    /// into the secret file (skipping the lock, as an older fleetdash would) and the caller
    /// gets the `invalid_grant` Smartcar gives whoever comes second.
    RotateBehindItsBack(PathBuf, Arc<AtomicBool>),
}

async fn tamper(State(tamper): State<Tamper>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    let refresh = parts.uri.path() == "/oauth/token"
        && String::from_utf8_lossy(&bytes).contains("grant_type=refresh_token");
    let request = Request::from_parts(parts, Body::from(bytes));
    if !refresh {
        return next.run(request).await;
    }
    match tamper {
        Tamper::PairUp(arrived) => {
            arrived.send_modify(|n| *n += 1);
            let mut seen = arrived.subscribe();
            let _ = tokio::time::timeout(Duration::from_secs(2), seen.wait_for(|n| *n >= 2)).await;
            next.run(request).await
        }
        Tamper::RotateBehindItsBack(secrets, done) => {
            if done.swap(true, Ordering::SeqCst) {
                return next.run(request).await;
            }
            let answer = next.run(request).await;
            let body = axum::body::to_bytes(answer.into_body(), 1 << 20)
                .await
                .unwrap();
            let tokens: serde_json::Value = serde_json::from_slice(&body).unwrap();
            edit_grant(&secrets, |grant| {
                grant["access_token"] = tokens["access_token"].clone();
                grant["refresh_token"] = tokens["refresh_token"].clone();
                grant["access_expires_ms"] = (fleetdash::domain::time::now_ms() + 7_200_000).into();
            });
            (
                axum::http::StatusCode::BAD_REQUEST,
                axum::Json(serde_json::json!({
                    "error": "invalid_grant",
                    "error_description": "The refresh token is invalid, expired or already used."
                })),
            )
                .into_response()
        }
    }
}

/// Rewrites every stored grant with `change`, as another writer would.
fn edit_grant(secrets: &Path, change: impl Fn(&mut serde_json::Value)) {
    let mut map: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&std::fs::read(secrets).unwrap()).unwrap();
    for (key, value) in map.iter_mut() {
        if key.starts_with("grant:") {
            let mut grant: serde_json::Value =
                serde_json::from_str(value.as_str().unwrap()).unwrap();
            change(&mut grant);
            *value = serde_json::Value::String(grant.to_string());
        }
    }
    std::fs::write(secrets, serde_json::to_vec(&map).unwrap()).unwrap();
}

/// The stored grant, as JSON (the file must be valid JSON throughout).
fn stored_grant(secrets: &Path) -> serde_json::Value {
    let map: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&std::fs::read(secrets).unwrap()).expect("valid JSON");
    let grants: Vec<_> = map
        .iter()
        .filter(|(k, _)| k.starts_with("grant:"))
        .collect();
    assert_eq!(grants.len(), 1, "one login");
    serde_json::from_str(grants[0].1.as_str().unwrap()).unwrap()
}

struct Setup {
    api: SimApi,
    origin: String,
    dir: tempfile::TempDir,
    account: Account,
}

impl Setup {
    fn secrets(&self) -> PathBuf {
        self.dir.path().join("secrets.json")
    }

    /// `fleetdash ARGS` with this account's settings.
    fn command(&self, args: &[&str]) -> Command {
        let mut command = common::fleetdash();
        command
            .args(args)
            .env("FLEETDASH_DB", self.dir.path().join("fleet.sqlite3"))
            .env("FLEETDASH_SECRETS", self.secrets())
            .env("SMARTCAR_CLIENT_ID", CLIENT_ID)
            .env("SMARTCAR_CLIENT_SECRET", SECRET)
            .env("SMARTCAR_MODE", "simulated")
            .env("SMARTCAR_REDIRECT_URI", REDIRECT)
            .env("SMARTCAR_CONNECT_URL", &self.origin)
            .env("SMARTCAR_AUTH_URL", &self.origin)
            .env("SMARTCAR_API_URL", &self.origin)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }
}

/// The simulated Smartcar (its refreshes tampered with as `tamper` says) and a login in
/// the secret file.
async fn setup(make_tamper: impl FnOnce(PathBuf) -> Tamper) -> (Setup, fleetdash::account::Grant) {
    let dir = tempfile::tempdir().unwrap();
    let api = SimApi::new(SimApiConfig {
        client_id: CLIENT_ID.into(),
        client_secret: SECRET.into(),
        management_token: ManagementToken::new(AMT).unwrap(),
        webhook_id: "lock-webhook".into(),
        fleet: FleetConfig {
            vehicles: 2,
            days: 2,
            seed: 11,
            start_ms: fleetdash::domain::time::now_ms() - 86_400_000,
            faults: Default::default(),
        },
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let tamper_with = make_tamper(dir.path().join("secrets.json"));
    let app = router(api.clone()).layer(from_fn_with_state(tamper_with, tamper));
    tokio::spawn(axum::serve(listener, app).into_future());
    let config = AccountConfig {
        client_id: Some(CLIENT_ID.into()),
        redirect_uri: REDIRECT.into(),
        mode: "simulated".into(),
        webhook_id: Some("lock-webhook".into()),
        endpoints: Endpoints::all_at(&origin),
    };
    let account = Account::with_client(
        config,
        SecretStore::at(&dir.path().join("secrets.json")),
        Client::new(Endpoints::all_at(&origin)),
    );
    account
        .store_app_secrets(Some(&Secret::new(SECRET)), None)
        .unwrap();
    let setup = Setup {
        api,
        origin,
        dir,
        account,
    };
    let code = connect_code(&setup).await;
    let grant = setup.account.complete_login(&code).await.unwrap();
    (setup, grant)
}

/// A code from the simulated Connect, as the redirect would bring it.
async fn connect_code(setup: &Setup) -> String {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut form: Vec<(&str, String)> = vec![
        ("client_id", CLIENT_ID.into()),
        ("redirect_uri", REDIRECT.into()),
        ("state", "s".into()),
        ("decision", "allow".into()),
    ];
    for v in setup.api.vehicles() {
        form.push(("vehicle", v.id.clone()));
    }
    let answer = http
        .post(format!("{}/oauth/authorize", setup.origin))
        .form(&form)
        .send()
        .await
        .unwrap();
    let location = answer.headers()["location"].to_str().unwrap();
    reqwest::Url::parse(location)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned()
}

/// Waits for `child` to end (within a minute); returns its status and everything it printed.
fn finish(mut child: std::process::Child) -> (std::process::ExitStatus, String) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "poll never ended");
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status, text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_refreshing_one_expired_login_at_once_both_succeed_and_it_survives() {
    let (arrived, _) = tokio::sync::watch::channel(0usize);
    let (setup, grant) = setup(|_| Tamper::PairUp(arrived.clone())).await;
    let before = stored_grant(&setup.secrets());
    edit_grant(&setup.secrets(), |g| g["access_expires_ms"] = 0.into());
    drop(
        store::open(
            &setup.dir.path().join("fleet.sqlite3"),
            &StoreOptions::default(),
        )
        .unwrap(),
    );

    // Two `fleetdash poll` at once, as a cron job and the app would.
    let first = setup.command(&["poll"]).spawn().unwrap();
    let second = setup.command(&["poll"]).spawn().unwrap();
    let (first, second) = tokio::task::spawn_blocking(move || (finish(first), finish(second)))
        .await
        .unwrap();
    assert!(first.0.success(), "the first poll failed: {}", first.1);
    assert!(second.0.success(), "the second poll failed: {}", second.1);
    assert_eq!(
        *arrived.borrow(),
        1,
        "one refresh, shared by both processes"
    );

    // The login lives on, with the rotated tokens, and the file is whole.
    let after = stored_grant(&setup.secrets());
    assert_eq!(after["dead"], false, "the login was marked dead");
    assert_ne!(after["refresh_token"], before["refresh_token"]);
    let names: Vec<String> = std::fs::read_dir(setup.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        !names.iter().any(|n| n.ends_with(".tmp")),
        "a temporary file stayed: {names:?}"
    );
    // Its access token works, without another refresh.
    let token = setup.account.access_token(&grant.id).await.unwrap();
    assert_eq!(token.expose(), after["access_token"].as_str().unwrap());
    let ids = setup.account.client.vehicle_ids(&token).await.unwrap();
    assert_eq!(ids.len(), 2);
    assert_eq!(*arrived.borrow(), 1);
}

#[tokio::test]
async fn a_refresh_token_rotated_by_another_writer_meanwhile_does_not_end_the_login() {
    let rotated = Arc::new(AtomicBool::new(false));
    let flag = rotated.clone();
    let (setup, grant) = setup(move |path| Tamper::RotateBehindItsBack(path, flag)).await;
    edit_grant(&setup.secrets(), |g| g["access_expires_ms"] = 0.into());

    // Smartcar says invalid_grant, but only because the token was already rotated and the
    // new one stored: fleetdash reads the grant again and goes on with it.
    let token = setup.account.access_token(&grant.id).await.unwrap();
    assert!(
        rotated.load(Ordering::SeqCst),
        "the refresh was tampered with"
    );
    let after = stored_grant(&setup.secrets());
    assert_eq!(after["dead"], false, "the login was marked dead");
    assert_eq!(token.expose(), after["access_token"].as_str().unwrap());
    let ids = setup.account.client.vehicle_ids(&token).await.unwrap();
    assert_eq!(ids.len(), 2);

    // A refresh token that really is dead still ends the login.
    edit_grant(&setup.secrets(), |g| g["access_expires_ms"] = 0.into());
    setup.api.clock().advance_secs(61 * 86_400);
    let error = setup.account.access_token(&grant.id).await.unwrap_err();
    assert!(error.to_string().contains("fleetdash login"), "{error}");
    assert_eq!(stored_grant(&setup.secrets())["dead"], true);
}

#[tokio::test]
async fn a_grant_and_a_connect_code_never_show_a_secret_in_debug() {
    let (setup, grant) = setup(|_| {
        let (arrived, _) = tokio::sync::watch::channel(0usize);
        Tamper::PairUp(arrived)
    })
    .await;
    let stored = stored_grant(&setup.secrets());
    let shown = format!("{grant:?} {:?}", setup.account.grants().unwrap());
    for token in ["access_token", "refresh_token"] {
        let secret = stored[token].as_str().unwrap();
        assert!(!shown.contains(secret), "{token} in {shown}");
    }
    assert!(shown.contains(&grant.id), "{shown}");

    let code = connect_code(&setup).await;
    let query = vec![
        ("code".to_owned(), code.clone()),
        ("state".to_owned(), "s".to_owned()),
    ];
    let outcome = fleetdash::smartcar::client::connect_outcome(&query, "s");
    let shown = format!("{outcome:?}");
    assert!(shown.starts_with("Code"), "{shown}");
    assert!(!shown.contains(&code), "{shown}");
}
