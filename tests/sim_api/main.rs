//! The simulated Smartcar service over real HTTP: Connect, tokens, the Vehicle API,
//! subscriptions, errors and the rate limit, as `smartcar-api.md` documents them.

use fleetdash::sim::api::{RATE_LIMIT_BUCKET, SimApi, SimApiConfig, router};
use fleetdash::sim::fleet::FleetConfig;
use fleetdash::smartcar::ManagementToken;
use reqwest::StatusCode;
use serde_json::Value;

mod paths;

const CLIENT_ID: &str = "client-1";
const SECRET: &str = "secret-1";
const AMT: &str = "management-token-1";
const REDIRECT: &str = "http://localhost:8000/oauth/callback";

struct Sim {
    api: SimApi,
    base: String,
    http: reqwest::Client,
}

async fn start(vehicles: usize) -> Sim {
    let api = SimApi::new(SimApiConfig {
        client_id: CLIENT_ID.into(),
        client_secret: SECRET.into(),
        management_token: ManagementToken::new(AMT).unwrap(),
        webhook_id: "webhook-1".into(),
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
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    Sim { api, base, http }
}

fn query_of(location: &str) -> Vec<(String, String)> {
    reqwest::Url::parse(location)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn get<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

impl Sim {
    /// Opens Connect, then answers `decision` for `vehicles`; returns the redirect's query.
    async fn connect(&self, decision: &str, vehicles: &[String]) -> Vec<(String, String)> {
        let page = self
            .http
            .get(format!("{}/oauth/authorize", self.base))
            .query(&[
                ("response_type", "code"),
                ("client_id", CLIENT_ID),
                ("redirect_uri", REDIRECT),
                (
                    "scope",
                    "read_vehicle_info read_battery read_charge read_location",
                ),
                ("state", "state-42"),
                ("mode", "simulated"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200);
        let html = page.text().await.unwrap();
        assert!(html.contains("Allow") && html.contains("Deny"));
        for v in self.api.vehicles() {
            assert!(html.contains(&v.id), "the page lists every vehicle");
        }
        let mut form: Vec<(&str, &str)> = vec![
            ("client_id", CLIENT_ID),
            ("redirect_uri", REDIRECT),
            ("state", "state-42"),
            ("decision", decision),
        ];
        for v in vehicles {
            form.push(("vehicle", v));
        }
        let answer = self
            .http
            .post(format!("{}/oauth/authorize", self.base))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::FOUND);
        let location = answer.headers()["location"].to_str().unwrap().to_owned();
        assert!(location.starts_with(REDIRECT), "{location}");
        query_of(&location)
    }

    async fn token(&self, form: &[(&str, &str)], secret: &str) -> reqwest::Response {
        self.http
            .post(format!("{}/oauth/token", self.base))
            .basic_auth(CLIENT_ID, Some(secret))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    async fn login(&self, vehicles: &[String]) -> (String, String) {
        let query = self.connect("allow", vehicles).await;
        assert_eq!(get(&query, "state"), Some("state-42"));
        let code = get(&query, "code").expect("a code").to_owned();
        let tokens: Value = self
            .token(
                &[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("redirect_uri", REDIRECT),
                ],
                SECRET,
            )
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(tokens["token_type"], "Bearer");
        assert_eq!(tokens["expires_in"], 7200);
        (
            tokens["access_token"].as_str().unwrap().to_owned(),
            tokens["refresh_token"].as_str().unwrap().to_owned(),
        )
    }

    async fn call(&self, method: reqwest::Method, path: &str, token: &str) -> reqwest::Response {
        self.http
            .request(method, format!("{}/v2.0{path}", self.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    fn ids(&self, n: usize) -> Vec<String> {
        self.api
            .vehicles()
            .iter()
            .take(n)
            .map(|v| v.id.clone())
            .collect()
    }
}

#[tokio::test]
async fn connect_login_exchanges_a_code_once_and_lists_only_the_chosen_vehicles_with_paging() {
    let sim = start(2).await;
    let chosen = sim.ids(2);
    let (access, _) = sim.login(&chosen).await;
    let page: Value = sim
        .call(reqwest::Method::GET, "/vehicles?limit=1&offset=1", &access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["paging"]["count"], 2);
    assert_eq!(page["paging"]["offset"], 1);
    assert_eq!(page["vehicles"], serde_json::json!([chosen[1]]));
    let too_many = sim
        .call(reqwest::Method::GET, "/vehicles?limit=51", &access)
        .await;
    assert_eq!(too_many.status(), 400);
    let attributes: Value = sim
        .call(
            reqwest::Method::GET,
            &format!("/vehicles/{}", chosen[0]),
            &access,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(attributes["make"], "TESLA");
}

#[tokio::test]
async fn a_code_works_once_and_only_with_the_right_client_secret_and_redirect_uri() {
    let sim = start(2).await;
    let query = sim.connect("allow", &sim.ids(1)).await;
    let code = get(&query, "code").unwrap().to_owned();
    let wrong_secret = sim
        .token(
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
            ],
            "nope",
        )
        .await;
    assert_eq!(wrong_secret.status(), 401);
    let wrong_redirect = sim
        .token(
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", "http://localhost:9/x"),
            ],
            SECRET,
        )
        .await;
    assert_eq!(wrong_redirect.status(), 400);
    // The failed attempt used the code up, as a stolen code would be.
    let again = sim
        .token(
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
            ],
            SECRET,
        )
        .await;
    assert_eq!(again.status(), 400);
    let body: Value = again.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");
}

#[tokio::test]
async fn deny_and_an_empty_choice_redirect_with_errors_and_the_state() {
    let sim = start(2).await;
    let denied = sim.connect("deny", &sim.ids(1)).await;
    assert_eq!(get(&denied, "error"), Some("access_denied"));
    assert_eq!(get(&denied, "state"), Some("state-42"));
    assert!(get(&denied, "error_description").is_some());
    let nothing = sim.connect("allow", &[]).await;
    assert_eq!(get(&nothing, "error"), Some("no_vehicles"));
    // An unknown client is never redirected anywhere.
    let page = sim
        .http
        .get(format!(
            "{}/oauth/authorize?response_type=code&client_id=evil&redirect_uri={REDIRECT}",
            sim.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 400);
}

#[tokio::test]
async fn refresh_rotates_the_refresh_token_and_access_tokens_expire_after_two_hours() {
    let sim = start(1).await;
    let (access, refresh) = sim.login(&sim.ids(1)).await;
    let refreshed: Value = sim
        .token(
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
            SECRET,
        )
        .await
        .json()
        .await
        .unwrap();
    let new_refresh = refreshed["refresh_token"].as_str().unwrap();
    assert_ne!(new_refresh, refresh);
    let reused = sim
        .token(
            &[("grant_type", "refresh_token"), ("refresh_token", &refresh)],
            SECRET,
        )
        .await;
    assert_eq!(reused.status(), 400, "the old refresh token died");
    let battery = format!("/vehicles/{}/battery", sim.ids(1)[0]);
    assert_eq!(
        sim.call(reqwest::Method::GET, &battery, &access)
            .await
            .status(),
        200
    );
    sim.api.clock().advance_secs(7201);
    let expired = sim.call(reqwest::Method::GET, &battery, &access).await;
    assert_eq!(expired.status(), 401);
    let body: Value = expired.json().await.unwrap();
    assert_eq!(body["type"], "AUTHENTICATION");
    // Refresh tokens die after 60 days.
    sim.api.clock().advance_secs(60 * 86_400);
    let dead = sim
        .token(
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", new_refresh),
            ],
            SECRET,
        )
        .await;
    assert_eq!(dead.status(), 400);
}

#[tokio::test]
async fn battery_charge_location_and_batch_answer_with_smartcars_shapes_and_headers() {
    let sim = start(1).await;
    let (access, _) = sim.login(&sim.ids(1)).await;
    let id = &sim.ids(1)[0];
    let battery = sim
        .call(
            reqwest::Method::GET,
            &format!("/vehicles/{id}/battery"),
            &access,
        )
        .await;
    assert!(battery.headers().contains_key("sc-data-age"));
    assert_eq!(battery.headers()["sc-unit-system"], "metric");
    let body: Value = battery.json().await.unwrap();
    let fraction = body["percentRemaining"].as_f64().unwrap();
    assert!(
        (0.0..=1.0).contains(&fraction),
        "a fraction, not a percent: {fraction}"
    );
    assert!(body["range"].as_f64().unwrap() > 0.0);
    let charge: Value = sim
        .call(
            reqwest::Method::GET,
            &format!("/vehicles/{id}/charge"),
            &access,
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(
        ["CHARGING", "FULLY_CHARGED", "NOT_CHARGING"].contains(&charge["state"].as_str().unwrap())
    );
    let batch: Value = sim
        .http
        .post(format!("{}/v2.0/vehicles/{id}/batch", sim.base))
        .bearer_auth(&access)
        .json(&serde_json::json!({"requests": [{"path": "/battery"}, {"path": "/location"}, {"path": "/tires"}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let responses = batch["responses"].as_array().unwrap();
    assert_eq!(responses[0]["code"], 200);
    assert!(responses[1]["body"]["latitude"].is_number());
    assert!(responses[1]["headers"]["sc-data-age"].is_string());
    assert_eq!(responses[2]["code"], 404);
    // Every response parses with fleetdash's own v2 reading of such items.
    let delivery = serde_json::json!({"version": "2.0", "eventName": "dynamic", "payload": {"vehicles": [
        {"vehicleId": id, "requestId": "r", "data": responses}]}});
    let parsed = fleetdash::smartcar::parse_webhook(delivery.to_string().as_bytes(), 0).unwrap();
    let fleetdash::smartcar::Webhook::Event(event) = parsed else {
        panic!()
    };
    assert_eq!(event.units[0].readings.battery.len(), 1);
    assert_eq!(event.units[0].readings.errors.len(), 1);
}

#[tokio::test]
async fn a_vehicle_outside_the_grant_is_not_found() {
    let sim = start(2).await;
    let (access, _) = sim.login(&sim.ids(1)).await;
    let other = &sim.ids(2)[1];
    let answer = sim
        .call(
            reqwest::Method::GET,
            &format!("/vehicles/{other}/battery"),
            &access,
        )
        .await;
    assert_eq!(answer.status(), 404);
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["type"], "RESOURCE_NOT_FOUND");
}

#[tokio::test]
async fn subscribe_takes_the_user_token_and_unsubscribe_the_management_token() {
    let sim = start(2).await;
    let (access, _) = sim.login(&sim.ids(2)).await;
    let id = &sim.ids(1)[0];
    let path = format!("/vehicles/{id}/webhooks/webhook-1");
    let subscribed: Value = sim
        .call(reqwest::Method::POST, &path, &access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        subscribed,
        serde_json::json!({"vehicleId": id, "webhookId": "webhook-1"})
    );
    assert_eq!(sim.api.subscribed(), vec![id.clone()]);
    let wrong_webhook = sim
        .call(
            reqwest::Method::POST,
            &format!("/vehicles/{id}/webhooks/other"),
            &access,
        )
        .await;
    assert_eq!(wrong_webhook.status(), 404);
    let with_user_token = sim.call(reqwest::Method::DELETE, &path, &access).await;
    assert_eq!(with_user_token.status(), 401);
    let with_amt: Value = sim
        .call(reqwest::Method::DELETE, &path, AMT)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(with_amt["status"], "success");
    assert!(sim.api.subscribed().is_empty());
}

#[tokio::test]
async fn a_car_whose_owner_changed_their_password_fails_until_reauthenticated() {
    let sim = start(3).await;
    let ids = sim.ids(3);
    let (access, _) = sim.login(&ids).await;
    let battery = format!("/vehicles/{}/battery", ids[2]);
    let failing = sim.call(reqwest::Method::GET, &battery, &access).await;
    assert_eq!(failing.status(), 400);
    let body: Value = failing.json().await.unwrap();
    assert_eq!(body["type"], "CONNECTED_SERVICES_ACCOUNT");
    assert_eq!(body["code"], "AUTHENTICATION_FAILED");
    let url = body["resolution"]["url"].as_str().unwrap();
    assert!(
        url.contains("/oauth/reauthenticate?response_type=vehicle_id"),
        "{url}"
    );
    // The owner re-connects through Connect.
    let answer = sim
        .http
        .post(format!("{}/oauth/reauthenticate", sim.base))
        .form(&[
            ("client_id", CLIENT_ID),
            ("redirect_uri", REDIRECT),
            ("vehicle_id", ids[2].as_str()),
            ("state", "s"),
            ("decision", "allow"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::FOUND);
    let query = query_of(answer.headers()["location"].to_str().unwrap());
    assert_eq!(get(&query, "vehicle_id"), Some(ids[2].as_str()));
    assert_eq!(
        sim.call(reqwest::Method::GET, &battery, &access)
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn past_the_application_bucket_requests_get_429_with_retry_after() {
    let sim = start(1).await;
    let (access, _) = sim.login(&sim.ids(1)).await;
    let path = format!("/vehicles/{}/charge", sim.ids(1)[0]);
    for _ in 0..RATE_LIMIT_BUCKET as usize {
        assert_eq!(
            sim.call(reqwest::Method::GET, &path, &access)
                .await
                .status(),
            200
        );
    }
    let limited = sim.call(reqwest::Method::GET, &path, &access).await;
    assert_eq!(limited.status(), 429);
    let wait: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=30).contains(&wait), "{wait}");
    let body: Value = limited.json().await.unwrap();
    assert_eq!(body["type"], "RATE_LIMIT");
    // Two requests a minute come back.
    sim.api.clock().advance_secs(wait as i64);
    assert_eq!(
        sim.call(reqwest::Method::GET, &path, &access)
            .await
            .status(),
        200
    );
}
