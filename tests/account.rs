//! Grants and tokens against the simulated Smartcar: a login stored and reloaded, an
//! expiring access token refreshed once for many concurrent callers with the rotated
//! refresh token stored, and a dead refresh token leading to a re-connect message.

use std::sync::Arc;
use std::time::Duration;

use fleetdash::account::secrets::SecretStore;
use fleetdash::account::{Account, AccountConfig};
use fleetdash::sim::api::{SimApi, SimApiConfig, router};
use fleetdash::sim::fleet::FleetConfig;
use fleetdash::smartcar::ManagementToken;
use fleetdash::smartcar::client::{Client, Endpoints};

const CLIENT_ID: &str = "acct-client";
const SECRET: &str = "acct-secret";
const REDIRECT: &str = "http://localhost:8000/oauth/callback";

async fn setup(dir: &tempfile::TempDir) -> (SimApi, String, Account) {
    let api = SimApi::new(SimApiConfig {
        client_id: CLIENT_ID.into(),
        client_secret: SECRET.into(),
        management_token: ManagementToken::new("acct-amt").unwrap(),
        webhook_id: "acct-webhook".into(),
        fleet: FleetConfig {
            vehicles: 2,
            days: 2,
            seed: 5,
            start_ms: fleetdash::domain::time::now_ms() - 86_400_000,
            faults: Default::default(),
        },
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(axum::serve(listener, router(api.clone())).into_future());
    let clock_api = api.clone();
    let client = Client::with_sleeper(
        Endpoints::all_at(&origin),
        Arc::new(move |wait: Duration| {
            clock_api.clock().advance_secs(wait.as_secs() as i64);
            Box::pin(async {})
        }),
    );
    let config = AccountConfig {
        client_id: Some(CLIENT_ID.into()),
        redirect_uri: REDIRECT.into(),
        mode: "simulated".into(),
        webhook_id: Some("acct-webhook".into()),
        endpoints: Endpoints::all_at(&origin),
    };
    let secrets = SecretStore::at(&dir.path().join("secrets.json"));
    let account = Account::with_client(config, secrets, client);
    account
        .store_app_secrets(
            Some(&fleetdash::smartcar::client::Secret::new(SECRET)),
            None,
        )
        .unwrap();
    (api, origin, account)
}

/// A code from the simulated Connect, as the redirect would bring it.
async fn code(api: &SimApi, origin: &str) -> String {
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
    for v in api.vehicles() {
        form.push(("vehicle", v.id.clone()));
    }
    let answer = http
        .post(format!("{origin}/oauth/authorize"))
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

/// Rewrites the stored grant's expiry times, as time passing would.
fn age_grant(dir: &tempfile::TempDir, access_expires_ms: i64) {
    let path = dir.path().join("secrets.json");
    let mut map: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    for (key, value) in map.iter_mut() {
        if key.starts_with("grant:") {
            let mut grant: serde_json::Value =
                serde_json::from_str(value.as_str().unwrap()).unwrap();
            grant["access_expires_ms"] = access_expires_ms.into();
            *value = serde_json::Value::String(grant.to_string());
        }
    }
    std::fs::write(&path, serde_json::to_vec(&map).unwrap()).unwrap();
}

#[tokio::test]
async fn a_login_is_stored_with_its_vehicles_and_survives_a_new_account_handle() {
    let dir = tempfile::tempdir().unwrap();
    let (api, origin, account) = setup(&dir).await;
    let grant = account
        .complete_login(&code(&api, &origin).await)
        .await
        .unwrap();
    assert_eq!(grant.vehicle_ids.len(), 2);
    assert!(
        grant
            .expiry_warning(fleetdash::domain::time::now_ms())
            .is_none()
    );
    let again = Account::new(
        account.config.clone(),
        SecretStore::at(&dir.path().join("secrets.json")),
    );
    assert_eq!(again.grants().unwrap(), vec![grant.clone()]);
    // A second login reaching the same vehicles replaces the first.
    account
        .complete_login(&code(&api, &origin).await)
        .await
        .unwrap();
    assert_eq!(account.grants().unwrap().len(), 1);
    // Seven days before the refresh token's end, the owner is warned.
    let near_end = grant.refresh_expires_ms - 3 * 86_400_000;
    assert!(
        grant
            .expiry_warning(near_end)
            .unwrap()
            .contains("expires in 3 days")
    );
}

#[tokio::test]
async fn concurrent_callers_share_one_refresh_and_the_rotated_token_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let (api, origin, account) = setup(&dir).await;
    let grant = account
        .complete_login(&code(&api, &origin).await)
        .await
        .unwrap();
    let before = account.grants().unwrap();
    age_grant(&dir, fleetdash::domain::time::now_ms() - 1);
    // Five callers at once: had each refreshed, all but one would fail, because Smartcar
    // kills a refresh token at its first use.
    let tasks: Vec<_> = (0..5)
        .map(|_| {
            let account = account.clone();
            let id = grant.id.clone();
            tokio::spawn(async move { account.access_token(&id).await })
        })
        .collect();
    let mut tokens = Vec::new();
    for task in tasks {
        tokens.push(task.await.unwrap().expect("every caller gets a token"));
    }
    assert!(
        tokens.windows(2).all(|w| w[0] == w[1]),
        "one refresh, one token"
    );
    let after = account.grants().unwrap();
    assert_ne!(after, before, "the rotated tokens are stored");
    assert!(after[0].access_expires_ms > fleetdash::domain::time::now_ms());
    // The new token works.
    let ids = account.client.vehicle_ids(&tokens[0]).await.unwrap();
    assert_eq!(ids.len(), 2);
}

#[tokio::test]
async fn a_refresh_token_past_its_sixty_days_asks_the_owner_to_connect_again() {
    let dir = tempfile::tempdir().unwrap();
    let (api, origin, account) = setup(&dir).await;
    let grant = account
        .complete_login(&code(&api, &origin).await)
        .await
        .unwrap();
    age_grant(&dir, fleetdash::domain::time::now_ms() - 1);
    api.clock().advance_secs(61 * 86_400);
    let error = account.access_token(&grant.id).await.unwrap_err();
    let text = error.to_string();
    assert!(text.contains("fleetdash login"), "{text}");
    // The login is marked dead, and says so.
    let stored = &account.grants().unwrap()[0];
    assert!(stored.dead);
    let warning = stored
        .expiry_warning(fleetdash::domain::time::now_ms())
        .unwrap();
    assert!(warning.contains("sign in again"), "{warning}");
}
