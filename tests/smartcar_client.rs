//! fleetdash's Smartcar client against the simulated Smartcar over real HTTP: the login's
//! code exchange (driven through the Connect page by an HTTP client, as a browser would),
//! refresh with rotation, paging over 120 vehicles, subscribe and unsubscribe with the right
//! token, a 429's retry-after honoured, AUTHENTICATION_FAILED with its re-connect URL.

use std::sync::Arc;
use std::time::Duration;

use fleetdash::sim::api::{RATE_LIMIT_BUCKET, SimApi, SimApiConfig, router};
use fleetdash::sim::fleet::FleetConfig;
use fleetdash::smartcar::ManagementToken;
use fleetdash::smartcar::client::{Application, Client, Endpoints, Secret};

const CLIENT_ID: &str = "client-1";
const SECRET: &str = "secret-1";
const AMT: &str = "management-token-1";
const WEBHOOK: &str = "webhook-1";
const REDIRECT: &str = "http://localhost:8000/oauth/callback";

struct Sim {
    api: SimApi,
    base: String,
    client: Client,
    app: Application,
}

async fn start(vehicles: usize) -> Sim {
    let api = SimApi::new(SimApiConfig {
        client_id: CLIENT_ID.into(),
        client_secret: SECRET.into(),
        management_token: ManagementToken::new(AMT).unwrap(),
        webhook_id: WEBHOOK.into(),
        fleet: FleetConfig {
            vehicles,
            days: 3,
            seed: 4,
            start_ms: fleetdash::domain::time::now_ms() - 2 * 86_400_000,
            faults: Default::default(),
        },
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(axum::serve(listener, router(api.clone())).into_future());
    // Waiting out a rate limit moves the simulated Smartcar's clock instead of the test's.
    let clock_api = api.clone();
    let client = Client::with_sleeper(
        Endpoints::all_at(&base),
        Arc::new(move |wait: Duration| {
            clock_api.clock().advance_secs(wait.as_secs() as i64);
            Box::pin(async {})
        }),
    );
    let app = Application {
        client_id: CLIENT_ID.into(),
        client_secret: Secret::new(SECRET),
        redirect_uri: REDIRECT.into(),
        mode: "simulated".into(),
    };
    Sim {
        api,
        base,
        client,
        app,
    }
}

impl Sim {
    /// Opens the client's authorize URL, allows every vehicle, and returns the redirect's
    /// query as the browser would deliver it to fleetdash.
    async fn consent(&self, decision: &str) -> Vec<(String, String)> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let url = self.client.authorize_url(&self.app, "state-7");
        let page = http.get(&url).send().await.unwrap();
        assert_eq!(page.status(), 200, "{url}");
        let mut form: Vec<(&str, String)> = vec![
            ("client_id", CLIENT_ID.into()),
            ("redirect_uri", REDIRECT.into()),
            ("state", "state-7".into()),
            ("decision", decision.into()),
        ];
        for v in self.api.vehicles() {
            form.push(("vehicle", v.id.clone()));
        }
        let answer = http
            .post(format!("{}/oauth/authorize", self.base))
            .form(&form)
            .send()
            .await
            .unwrap();
        let location = answer.headers()["location"].to_str().unwrap();
        reqwest::Url::parse(location)
            .unwrap()
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    async fn login(&self) -> fleetdash::smartcar::client::Tokens {
        let query = self.consent("allow").await;
        let code = query.iter().find(|(k, _)| k == "code").unwrap().1.clone();
        self.client.exchange_code(&self.app, &code).await.unwrap()
    }
}

#[tokio::test]
async fn a_login_exchanges_its_code_once_and_the_grant_lists_all_120_vehicles_page_by_page() {
    let sim = start(120).await;
    let query = sim.consent("allow").await;
    assert!(query.contains(&("state".into(), "state-7".into())));
    let code = query.iter().find(|(k, _)| k == "code").unwrap().1.clone();
    let tokens = sim.client.exchange_code(&sim.app, &code).await.unwrap();
    let now = fleetdash::domain::time::now_ms();
    assert!((tokens.access_expires_ms - now - 7_200_000).abs() < 60_000);
    assert!((tokens.refresh_expires_ms - now - 60 * 86_400_000).abs() < 60_000);
    // A code works once.
    let again = sim.client.exchange_code(&sim.app, &code).await.unwrap_err();
    assert_eq!(again.kind, "invalid_grant");
    assert!(again.needs_reconnect());

    let ids = sim.client.vehicle_ids(&tokens.access_token).await.unwrap();
    let expected: Vec<String> = sim.api.vehicles().iter().map(|v| v.id.clone()).collect();
    assert_eq!(ids, expected);
    let first = sim
        .client
        .attributes(&tokens.access_token, &ids[0])
        .await
        .unwrap();
    assert_eq!(first.make.as_deref(), Some(sim.api.vehicles()[0].make));
    assert!(first.year.is_some());
}

#[tokio::test]
async fn a_denied_login_comes_back_as_access_denied_with_the_state() {
    let sim = start(2).await;
    let query = sim.consent("deny").await;
    assert!(query.contains(&("error".into(), "access_denied".into())));
    assert!(query.contains(&("state".into(), "state-7".into())));
}

#[tokio::test]
async fn a_wrong_client_secret_is_refused_with_advice_on_the_credentials() {
    let sim = start(1).await;
    let query = sim.consent("allow").await;
    let code = query.iter().find(|(k, _)| k == "code").unwrap().1.clone();
    let mut app = sim.app.clone();
    app.client_secret = Secret::new("wrong");
    let error = sim.client.exchange_code(&app, &code).await.unwrap_err();
    assert_eq!(error.status, 401);
    let text = error.to_string();
    assert!(text.contains("client secret"), "{text}");
    assert!(
        !text.contains("wrong"),
        "the secret is not repeated: {text}"
    );
}

#[tokio::test]
async fn a_refresh_rotates_the_refresh_token_and_the_old_one_is_dead() {
    let sim = start(1).await;
    let tokens = sim.login().await;
    let fresh = sim
        .client
        .refresh(&sim.app, &tokens.refresh_token)
        .await
        .unwrap();
    assert_ne!(fresh.refresh_token, tokens.refresh_token);
    assert_ne!(fresh.access_token, tokens.access_token);
    let dead = sim
        .client
        .refresh(&sim.app, &tokens.refresh_token)
        .await
        .unwrap_err();
    assert!(dead.needs_reconnect(), "{dead}");
    assert!(
        sim.client
            .vehicle_ids(&fresh.access_token)
            .await
            .is_ok_and(|ids| ids.len() == 1)
    );
}

#[tokio::test]
async fn subscribe_uses_the_users_token_and_unsubscribe_the_management_token() {
    let sim = start(2).await;
    let tokens = sim.login().await;
    let ids = sim.client.vehicle_ids(&tokens.access_token).await.unwrap();
    for id in &ids {
        sim.client
            .subscribe(&tokens.access_token, id, WEBHOOK)
            .await
            .unwrap();
    }
    assert_eq!(sim.api.subscribed().len(), 2);
    // The user's token can't unsubscribe: Smartcar wants the management token.
    let refused = sim
        .client
        .unsubscribe(&tokens.access_token, &ids[0], WEBHOOK)
        .await
        .unwrap_err();
    assert_eq!(refused.status, 401);
    sim.client
        .unsubscribe(&Secret::new(AMT), &ids[0], WEBHOOK)
        .await
        .unwrap();
    assert_eq!(sim.api.subscribed(), vec![ids[1].clone()]);
}

#[tokio::test]
async fn the_batch_brings_battery_charge_and_location_with_their_data_age() {
    let sim = start(1).await;
    let tokens = sim.login().await;
    let id = sim.api.vehicles()[0].id.clone();
    let items = sim.client.batch(&tokens.access_token, &id).await.unwrap();
    let paths: Vec<&str> = items.iter().map(|i| i["path"].as_str().unwrap()).collect();
    assert_eq!(paths, ["/battery", "/charge", "/location"]);
    // Read as fleetdash stores them: each at the time the car recorded it.
    let (readings, notes) = fleetdash::smartcar::webhook::readings_from_batch(&items, 0);
    assert!(notes.is_empty(), "{notes:?}");
    let battery = &readings.battery[0];
    assert!((0.0..=100.0).contains(&battery.percent.unwrap()));
    assert!(
        battery.recorded_at_ms > 0,
        "the sc-data-age, not the fallback"
    );
    assert_eq!(readings.charge.len(), 1);
    assert_eq!(readings.locations.len(), 1);
}

#[tokio::test]
async fn a_rate_limited_request_waits_for_retry_after_and_then_succeeds() {
    let sim = start(1).await;
    let tokens = sim.login().await;
    let id = sim.api.vehicles()[0].id.clone();
    let started = sim.api.clock().now_ms();
    // Spend the application's bucket, then ask once more.
    for _ in 0..RATE_LIMIT_BUCKET as usize {
        sim.client.batch(&tokens.access_token, &id).await.unwrap();
    }
    let items = sim.client.batch(&tokens.access_token, &id).await.unwrap();
    assert_eq!(items.len(), 3);
    // The client waited (in simulated time) as long as Smartcar asked.
    assert!(sim.api.clock().now_ms() - started >= 1000);
}

#[tokio::test]
async fn a_car_whose_owner_changed_their_password_needs_reconnecting_through_its_url() {
    let sim = start(3).await;
    let tokens = sim.login().await;
    // The simulated fleet's last car answers AUTHENTICATION_FAILED until re-connected.
    let id = sim.api.vehicles().last().unwrap().id.clone();
    let error = sim
        .client
        .batch(&tokens.access_token, &id)
        .await
        .unwrap_err();
    assert_eq!(
        error.code.as_deref(),
        Some("AUTHENTICATION_FAILED"),
        "{error}"
    );
    assert!(error.to_string().contains("re-connect"));
    let url = sim.client.reauthenticate_url(&sim.app, &id, "s");
    assert!(url.contains("/oauth/reauthenticate?response_type=vehicle_id"));
    assert!(url.contains(&format!("vehicle_id={id}")));
}
