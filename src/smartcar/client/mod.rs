//! The Smartcar API client: the Connect authorize URL, the token endpoint (code exchange and
//! refresh with rotation), the vehicle list with paging, attributes, the batch endpoint and
//! webhook subscriptions. Every base URL is configurable (the simulated Smartcar in tests
//! and demo mode). A 429 is retried after its `retry-after`; every other failure becomes an
//! [`ApiError`] whose `Display` is a sentence for the user. Secrets are [`Secret`]s, whose
//! `Debug` never shows them.

mod connect;
mod types;

pub use connect::{ConnectOutcome, connect_outcome};
pub use types::{ApiError, Application, Endpoints, Secret, Tokens};

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::domain::time::now_ms;

/// The scopes fleetdash asks for.
pub const SCOPES: &str = "read_vehicle_info read_battery read_charge read_location";

/// How long a refresh token lives (Smartcar doesn't say it in the response).
pub const REFRESH_TOKEN_LIFETIME_MS: i64 = 60 * 86_400_000;

/// How many times a rate-limited request is retried before giving up.
const RATE_LIMIT_RETRIES: usize = 3;

/// The longest `retry-after` the client waits for; beyond it the user is told to retry.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(120);

/// Waits before a retry; tests pass one that moves the simulated clock instead.
pub type Sleeper = Arc<dyn Fn(Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// Talks to Smartcar.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    endpoints: Endpoints,
    sleep: Sleeper,
    /// Rate-limited requests retried after their `retry-after` before the 429 is returned.
    rate_limit_retries: usize,
}

/// A vehicle's attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VehicleAttributes {
    /// Smartcar's vehicle id.
    pub id: String,
    /// Make.
    pub make: Option<String>,
    /// Model.
    pub model: Option<String>,
    /// Model year.
    pub year: Option<i64>,
}

impl Client {
    /// A client for `endpoints` that waits out rate limits in real time.
    pub fn new(endpoints: Endpoints) -> Self {
        Client::with_sleeper(
            endpoints,
            Arc::new(|d| Box::pin(tokio::time::sleep(d)) as Pin<Box<_>>),
        )
    }

    /// A client whose waits go through `sleep`.
    pub fn with_sleeper(endpoints: Endpoints, sleep: Sleeper) -> Self {
        let http = reqwest::Client::builder()
            .user_agent(concat!("fleetdash/", env!("CARGO_PKG_VERSION")))
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap_or_default();
        Client {
            http,
            endpoints,
            sleep,
            rate_limit_retries: RATE_LIMIT_RETRIES,
        }
    }

    /// The same client returning a 429 at once (with its `retry-after` in the error)
    /// instead of waiting: for a caller that schedules its own requests, such as the
    /// relay's poller, which must not hold a request open for minutes.
    pub fn without_rate_limit_retries(mut self) -> Self {
        self.rate_limit_retries = 0;
        self
    }

    /// The Connect URL that starts a login; `state` must come back unchanged.
    pub fn authorize_url(&self, app: &Application, state: &str) -> String {
        let mut url = format!("{}/oauth/authorize", self.endpoints.connect);
        let query = [
            ("response_type", "code"),
            ("client_id", app.client_id.as_str()),
            ("redirect_uri", app.redirect_uri.as_str()),
            ("scope", SCOPES),
            ("state", state),
            ("mode", app.mode.as_str()),
            ("approval_prompt", "force"),
        ];
        url.push('?');
        url.push_str(&form_encode(&query));
        url
    }

    /// The Connect URL that re-connects one vehicle after AUTHENTICATION_FAILED.
    pub fn reauthenticate_url(&self, app: &Application, vehicle_id: &str, state: &str) -> String {
        let query = [
            ("response_type", "vehicle_id"),
            ("client_id", app.client_id.as_str()),
            ("vehicle_id", vehicle_id),
            ("redirect_uri", app.redirect_uri.as_str()),
            ("state", state),
        ];
        format!(
            "{}/oauth/reauthenticate?{}",
            self.endpoints.connect,
            form_encode(&query)
        )
    }

    /// Trades a Connect code for tokens.
    pub async fn exchange_code(&self, app: &Application, code: &str) -> Result<Tokens, ApiError> {
        self.token(
            app,
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", app.redirect_uri.as_str()),
            ],
        )
        .await
    }

    /// Trades a refresh token for new tokens (the old refresh token dies: persist the new
    /// one before using it).
    pub async fn refresh(&self, app: &Application, refresh: &Secret) -> Result<Tokens, ApiError> {
        self.token(
            app,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh.expose()),
            ],
        )
        .await
    }

    async fn token(&self, app: &Application, form: &[(&str, &str)]) -> Result<Tokens, ApiError> {
        let asked_at = now_ms();
        let response = self
            .http
            .post(format!("{}/oauth/token", self.endpoints.auth))
            .basic_auth(&app.client_id, Some(app.client_secret.expose()))
            .form(form)
            .send()
            .await
            .map_err(ApiError::transport)?;
        let body = checked(response).await?;
        let text = |name: &str| body.get(name).and_then(Value::as_str).map(str::to_owned);
        let (Some(access), Some(refresh)) = (text("access_token"), text("refresh_token")) else {
            return Err(unreadable("the token answer lacks its tokens"));
        };
        let expires_in = body
            .get("expires_in")
            .and_then(Value::as_i64)
            .unwrap_or(7200);
        Ok(Tokens {
            access_token: Secret::new(access),
            refresh_token: Secret::new(refresh),
            access_expires_ms: asked_at + expires_in * 1000,
            refresh_expires_ms: asked_at + REFRESH_TOKEN_LIFETIME_MS,
        })
    }

    /// Every vehicle the grant reaches, page by page (50 at a time).
    pub async fn vehicle_ids(&self, access: &Secret) -> Result<Vec<String>, ApiError> {
        let mut ids = Vec::new();
        loop {
            let url = format!(
                "{}/v2.0/vehicles?limit=50&offset={}",
                self.endpoints.api,
                ids.len()
            );
            let page = self.call(reqwest::Method::GET, &url, access, None).await?;
            let total = page
                .pointer("/paging/count")
                .and_then(Value::as_u64)
                .unwrap_or(0) as usize;
            let vehicles: Vec<String> = page
                .get("vehicles")
                .and_then(Value::as_array)
                .map(|v| {
                    v.iter()
                        .filter_map(|id| id.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            if vehicles.is_empty() {
                break;
            }
            ids.extend(vehicles);
            if ids.len() >= total {
                break;
            }
        }
        Ok(ids)
    }

    /// A vehicle's make, model and year.
    pub async fn attributes(
        &self,
        access: &Secret,
        vehicle_id: &str,
    ) -> Result<VehicleAttributes, ApiError> {
        let url = format!("{}/v2.0/vehicles/{vehicle_id}", self.endpoints.api);
        let body = self.call(reqwest::Method::GET, &url, access, None).await?;
        let text = |name: &str| body.get(name).and_then(Value::as_str).map(str::to_owned);
        Ok(VehicleAttributes {
            id: vehicle_id.to_owned(),
            make: text("make"),
            model: text("model"),
            // The year may come as a number or a string.
            year: body.get("year").and_then(|y| {
                y.as_i64()
                    .or_else(|| y.as_str().and_then(|s| s.trim().parse().ok()))
            }),
        })
    }

    /// Battery, charge and location in one request: the answer's items, shaped like a v2
    /// webhook's data items (read them with `webhook::readings_from_batch`).
    pub async fn batch(&self, access: &Secret, vehicle_id: &str) -> Result<Vec<Value>, ApiError> {
        let url = format!("{}/v2.0/vehicles/{vehicle_id}/batch", self.endpoints.api);
        let request = serde_json::json!({"requests": [
            {"path": "/battery"}, {"path": "/charge"}, {"path": "/location"}
        ]});
        let body = self
            .call(reqwest::Method::POST, &url, access, Some(&request))
            .await?;
        body.get("responses")
            .and_then(Value::as_array)
            .cloned()
            .ok_or_else(|| unreadable("the batch answer has no responses"))
    }

    /// Subscribes a vehicle to the webhook (with the user's access token).
    pub async fn subscribe(
        &self,
        access: &Secret,
        vehicle_id: &str,
        webhook_id: &str,
    ) -> Result<(), ApiError> {
        let url = self.webhook_url(vehicle_id, webhook_id);
        self.call(reqwest::Method::POST, &url, access, None)
            .await
            .map(drop)
    }

    /// Unsubscribes a vehicle (with the application management token, not a user's).
    pub async fn unsubscribe(
        &self,
        management_token: &Secret,
        vehicle_id: &str,
        webhook_id: &str,
    ) -> Result<(), ApiError> {
        let url = self.webhook_url(vehicle_id, webhook_id);
        self.call(reqwest::Method::DELETE, &url, management_token, None)
            .await
            .map(drop)
    }

    /// A vehicle's subscription to a webhook: POST subscribes, DELETE unsubscribes.
    fn webhook_url(&self, vehicle_id: &str, webhook_id: &str) -> String {
        format!(
            "{}/v2.0/vehicles/{vehicle_id}/webhooks/{webhook_id}",
            self.endpoints.api
        )
    }

    /// One authorized request, retried after `retry-after` when rate limited.
    async fn call(
        &self,
        method: reqwest::Method,
        url: &str,
        bearer: &Secret,
        json: Option<&Value>,
    ) -> Result<Value, ApiError> {
        let mut attempt = 0;
        loop {
            let mut request = self
                .http
                .request(method.clone(), url)
                .bearer_auth(bearer.expose())
                .header("SC-Unit-System", "metric");
            if let Some(json) = json {
                request = request.json(json);
            }
            let response = request.send().await.map_err(ApiError::transport)?;
            if response.status().as_u16() == 429 && attempt < self.rate_limit_retries {
                let wait = retry_after(&response).unwrap_or(Duration::from_secs(30));
                if wait <= MAX_RETRY_AFTER {
                    attempt += 1;
                    tracing::info!(
                        secs = wait.as_secs(),
                        attempt,
                        "Smartcar rate limit: waiting as it asks"
                    );
                    (self.sleep)(wait).await;
                    continue;
                }
            }
            return checked(response).await;
        }
    }
}

fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    response
        .headers()
        .get("retry-after")?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

fn unreadable(what: &str) -> ApiError {
    ApiError {
        status: 0,
        kind: "UNREADABLE".into(),
        code: None,
        description: what.into(),
        resolution_url: None,
        retry_after_secs: None,
        body: None,
    }
}

/// The JSON body of a 2xx, or the error Smartcar described.
async fn checked(response: reqwest::Response) -> Result<Value, ApiError> {
    let status = response.status().as_u16();
    let wait = (status == 429).then(|| retry_after(&response)).flatten();
    let bytes = response.bytes().await.map_err(ApiError::transport)?;
    let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    if (200..300).contains(&status) {
        return Ok(body);
    }
    let text = |name: &str| body.get(name).and_then(Value::as_str).map(str::to_owned);
    Err(ApiError {
        status,
        // Vehicle API errors carry `type`; OAuth errors carry `error`.
        kind: text("type")
            .or_else(|| text("error"))
            .unwrap_or_else(|| format!("HTTP {status}")),
        code: text("code"),
        description: text("description")
            .or_else(|| text("error_description"))
            .unwrap_or_else(|| "no description".into()),
        resolution_url: body
            .pointer("/resolution/url")
            .and_then(Value::as_str)
            .map(str::to_owned),
        retry_after_secs: wait.map(|d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX)),
        body: (!body.is_null()).then(|| Box::new(body)),
    })
}

fn form_encode(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_show_in_debug_output() {
        let tokens = Tokens {
            access_token: Secret::new("access-123"),
            refresh_token: Secret::new("refresh-456"),
            access_expires_ms: 0,
            refresh_expires_ms: 0,
        };
        let shown = format!("{tokens:?}");
        assert!(!shown.contains("access-123") && !shown.contains("refresh-456"));
    }

    #[test]
    fn the_authorize_url_carries_every_parameter_connect_needs() {
        let client = Client::new(Endpoints::default());
        let app = Application {
            client_id: "abc".into(),
            client_secret: Secret::new("s"),
            redirect_uri: "http://localhost:8787/oauth/callback".into(),
            mode: "live".into(),
        };
        let url = client.authorize_url(&app, "xyz");
        assert!(url.starts_with("https://connect.smartcar.com/oauth/authorize?response_type=code&client_id=abc&redirect_uri=http%3A%2F%2Flocalhost%3A8787%2Foauth%2Fcallback&scope=read_vehicle_info%20read_battery"));
        assert!(url.contains("&state=xyz&mode=live"));
        assert!(!url.contains('s') || !url.contains("client_secret"));
    }
}
