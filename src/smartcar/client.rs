//! The Smartcar API client: the Connect authorize URL, the token endpoint (code exchange and
//! refresh with rotation), the vehicle list with paging, attributes, the batch endpoint and
//! webhook subscriptions. Every base URL is configurable (the simulated Smartcar in tests
//! and demo mode). A 429 is retried after its `retry-after`; every other failure becomes an
//! [`ApiError`] whose `Display` is a sentence for the user. Secrets are [`Secret`]s, whose
//! `Debug` never shows them.

use std::fmt;
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

/// A secret string: usable, but never shown by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps `value`.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// Smartcar's three origins (scheme, host and port; the paths are Smartcar's own).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// Connect, e.g. `https://connect.smartcar.com`.
    pub connect: String,
    /// The token endpoint's origin, e.g. `https://auth.smartcar.com`.
    pub auth: String,
    /// The Vehicle API's origin, e.g. `https://api.smartcar.com`.
    pub api: String,
}

impl Default for Endpoints {
    fn default() -> Self {
        Endpoints {
            connect: "https://connect.smartcar.com".into(),
            auth: "https://auth.smartcar.com".into(),
            api: "https://api.smartcar.com".into(),
        }
    }
}

impl Endpoints {
    /// All three on one origin (the simulated Smartcar).
    pub fn all_at(origin: &str) -> Self {
        let origin = origin.trim_end_matches('/').to_owned();
        Endpoints {
            connect: origin.clone(),
            auth: origin.clone(),
            api: origin,
        }
    }
}

/// The Smartcar application fleetdash acts for.
#[derive(Debug, Clone)]
pub struct Application {
    /// Client id from the Smartcar Dashboard.
    pub client_id: String,
    /// Client secret from the Smartcar Dashboard.
    pub client_secret: Secret,
    /// Where Connect sends the user back (registered in the Dashboard).
    pub redirect_uri: String,
    /// `live`, `test` or `simulated`.
    pub mode: String,
}

/// One grant's tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tokens {
    /// Bearer token for the Vehicle API.
    pub access_token: Secret,
    /// Trades for new tokens; rotates at every refresh.
    pub refresh_token: Secret,
    /// When the access token expires (ms since the epoch).
    pub access_expires_ms: i64,
    /// When the refresh token expires (ms since the epoch).
    pub refresh_expires_ms: i64,
}

impl Tokens {
    /// True when the access token has less than `margin_ms` left.
    pub fn access_expiring(&self, now_ms: i64, margin_ms: i64) -> bool {
        self.access_expires_ms - margin_ms <= now_ms
    }
}

/// What went wrong talking to Smartcar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status (0: no answer at all).
    pub status: u16,
    /// Smartcar's error type (`AUTHENTICATION`, `RATE_LIMIT`, ...) or OAuth error
    /// (`invalid_grant`, ...).
    pub kind: String,
    /// Smartcar's code, when given.
    pub code: Option<String>,
    /// Smartcar's description.
    pub description: String,
    /// Where the user can fix it (e.g. the re-authentication URL).
    pub resolution_url: Option<String>,
}

impl ApiError {
    fn transport(error: reqwest::Error) -> Self {
        ApiError {
            status: 0,
            kind: "NETWORK".into(),
            code: None,
            description: if error.is_timeout() {
                "Smartcar did not answer in time".into()
            } else {
                // Without the URL: it may carry a token in its query.
                error.without_url().to_string()
            },
            resolution_url: None,
        }
    }

    /// True when the grant is dead and only a new Connect login helps.
    pub fn needs_reconnect(&self) -> bool {
        self.kind == "invalid_grant" || self.kind == "AUTHENTICATION"
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let advice = match (self.kind.as_str(), self.code.as_deref()) {
            ("NETWORK", _) => "Check the internet connection and try again.",
            ("invalid_client", _) => {
                "Check the client id and client secret (Smartcar Dashboard > Configuration)."
            }
            ("invalid_grant", _) => "Connect the vehicles again (fleetdash login).",
            ("AUTHENTICATION", _) => "Connect the vehicles again (fleetdash login).",
            ("CONNECTED_SERVICES_ACCOUNT", Some("AUTHENTICATION_FAILED")) => {
                "The car's owner changed their password: they must re-connect the car."
            }
            ("PERMISSION", _) => "Connect again and allow the permissions fleetdash asks for.",
            ("RATE_LIMIT", _) => "Smartcar limits how often it may be asked: try again later.",
            ("VEHICLE_STATE", _) => "The car could not be reached now; it answers later.",
            ("BILLING", _) => "Check the Smartcar plan in the Smartcar Dashboard.",
            _ => "",
        };
        let status = if self.status == 0 {
            String::new()
        } else {
            format!(" ({})", self.status)
        };
        let code = self
            .code
            .as_deref()
            .map_or(String::new(), |c| format!(" {c}"));
        write!(
            f,
            "Smartcar said {}{code}{status}: {}",
            self.kind,
            self.description.trim_end_matches('.')
        )?;
        if !advice.is_empty() {
            write!(f, ". {advice}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}

/// Waits before a retry; tests pass one that moves the simulated clock instead.
pub type Sleeper = Arc<dyn Fn(Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// Talks to Smartcar.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    endpoints: Endpoints,
    sleep: Sleeper,
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
        }
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
            if response.status().as_u16() == 429 && attempt < RATE_LIMIT_RETRIES {
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
    }
}

/// The JSON body of a 2xx, or the error Smartcar described.
async fn checked(response: reqwest::Response) -> Result<Value, ApiError> {
    let status = response.status().as_u16();
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

/// What Connect's redirect brought back. Its `Debug` leaves the code out: until it is
/// traded, the code is as good as the tokens it buys.
#[derive(Clone, PartialEq, Eq)]
pub enum ConnectOutcome {
    /// The owner allowed access: trade this code for tokens.
    Code(String),
    /// A vehicle was re-connected after AUTHENTICATION_FAILED.
    Reconnected(String),
    /// Connect said no; the sentence says why and what to do.
    Refused(String),
    /// The redirect carried a state this fleetdash did not send: not the login it started
    /// (a stale tab, or a forgery). Ignored; the login goes on waiting.
    ForeignState,
}

impl fmt::Debug for ConnectOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectOutcome::Code(_) => f.write_str("Code(…)"),
            ConnectOutcome::Reconnected(id) => f.debug_tuple("Reconnected").field(id).finish(),
            ConnectOutcome::Refused(why) => f.debug_tuple("Refused").field(why).finish(),
            ConnectOutcome::ForeignState => f.write_str("ForeignState"),
        }
    }
}

impl ConnectOutcome {
    /// What to tell the user.
    pub fn message(&self) -> String {
        match self {
            ConnectOutcome::Code(_) | ConnectOutcome::Reconnected(_) => {
                "fleetdash got Smartcar's answer. You can close this tab and return to fleetdash."
                    .into()
            }
            ConnectOutcome::Refused(why) => why.clone(),
            ConnectOutcome::ForeignState => "The sign-in came back with a state this fleetdash                 did not send, so it was ignored (it may not be yours). Start the sign-in again                 from fleetdash."
                .into(),
        }
    }
}

/// Reads Connect's redirect query. A `state` other than `expected_state` is refused: the
/// redirect did not come from the login this fleetdash started.
pub fn connect_outcome(query: &[(String, String)], expected_state: &str) -> ConnectOutcome {
    let get = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let state_ok = get("state").is_some_and(|s| {
        use subtle_compare::eq;
        eq(s.as_bytes(), expected_state.as_bytes())
    });
    if !state_ok {
        return ConnectOutcome::ForeignState;
    }
    if let Some(error) = get("error") {
        let description = get("error_description").unwrap_or_default();
        let vehicle = [get("make"), get("model"), get("year")]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        let sentence = match error {
            "access_denied" => {
                "You declined in Smartcar Connect, so nothing was connected. Sign in again and \
                 choose Allow to connect your vehicles."
                    .to_owned()
            }
            "no_vehicles" => "No vehicle was connected: the account has no vehicle Smartcar \
                              supports, or none was chosen. Sign in again and choose at least \
                              one vehicle."
                .to_owned(),
            "vehicle_incompatible" => format!(
                "{} can't be connected through Smartcar (its maker does not offer the data \
                 fleetdash needs). The other vehicles can be connected in a new sign-in.",
                if vehicle.is_empty() {
                    "This vehicle".to_owned()
                } else {
                    format!("The {vehicle}")
                }
            ),
            "invalid_subscription" => "The car maker's connected-services subscription for \
                                       this vehicle is not active: renew it with the maker, \
                                       then sign in again."
                .to_owned(),
            "configuration_error" => format!(
                "Smartcar Connect refused fleetdash's configuration ({description}). Check that \
                 the redirect URI registered in the Smartcar Dashboard is exactly the one \
                 fleetdash uses, and SMARTCAR_MODE."
            ),
            "server_error" => {
                "Smartcar had a problem of its own. Try again in a few minutes.".to_owned()
            }
            other => format!("Smartcar Connect answered {other}: {description}"),
        };
        return ConnectOutcome::Refused(sentence);
    }
    if let Some(code) = get("code") {
        return ConnectOutcome::Code(code.to_owned());
    }
    if let Some(vehicle) = get("vehicle_id") {
        return ConnectOutcome::Reconnected(vehicle.to_owned());
    }
    ConnectOutcome::Refused(
        "Smartcar Connect came back without a code or an error. Start the sign-in again.".into(),
    )
}

/// Constant-time comparison, so the state check leaks nothing by its timing.
mod subtle_compare {
    pub fn eq(a: &[u8], b: &[u8]) -> bool {
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

#[cfg(test)]
mod connect_tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn every_connect_answer_becomes_a_code_or_a_plain_sentence() {
        let check = |pairs: &[(&str, &str)], expected: &str| {
            let outcome = connect_outcome(&q(pairs), "s1");
            match &outcome {
                ConnectOutcome::Code(code) => assert_eq!(code, expected),
                ConnectOutcome::Reconnected(id) => assert_eq!(id, expected),
                _ => assert!(outcome.message().contains(expected), "{outcome:?}"),
            }
        };
        check(&[("code", "c1"), ("state", "s1")], "c1");
        check(&[("vehicle_id", "v1"), ("state", "s1")], "v1");
        check(&[("code", "c1"), ("state", "forged")], "did not send");
        check(&[("code", "c1")], "did not send");
        check(&[("error", "access_denied"), ("state", "s1")], "declined");
        check(&[("error", "no_vehicles"), ("state", "s1")], "No vehicle");
        check(
            &[
                ("error", "vehicle_incompatible"),
                ("make", "TESLA"),
                ("model", "Roadster"),
                ("state", "s1"),
            ],
            "The TESLA Roadster can't be connected",
        );
        check(
            &[("error", "invalid_subscription"), ("state", "s1")],
            "subscription",
        );
        check(
            &[
                ("error", "configuration_error"),
                ("error_description", "bad mode"),
                ("state", "s1"),
            ],
            "bad mode",
        );
        check(&[("error", "server_error"), ("state", "s1")], "few minutes");
    }
}
