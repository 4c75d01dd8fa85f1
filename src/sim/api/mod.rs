//! The simulated Smartcar service: Connect (`/oauth/authorize`, `/oauth/reauthenticate`),
//! the token endpoint (`/oauth/token`) and the Vehicle API (`/v2.0/...`) on one origin,
//! with the URL layout, answers and errors `smartcar-api.md` documents. Tokens expire on
//! a [`Clock`] that tests can move forward.

// Handlers here return `Result<_, Response>` so an error answer can be built where the
// error is found; a boxed response would buy nothing in a test double.
#![allow(clippy::result_large_err)]

mod connect;
mod errors;
mod token;
mod vehicles;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::extract::State;
use axum::http::HeaderValue;
use axum::response::Response;
use axum::routing::{get, post};

use super::fleet::{FleetConfig, VehicleSpec};
use crate::smartcar::ManagementToken;

pub use errors::RATE_LIMIT_BUCKET;

/// The response header naming each answer.
const REQUEST_ID: &str = "sc-request-id";

/// Access tokens live two hours.
pub const ACCESS_TOKEN_SECS: i64 = 7200;
/// Refresh tokens live sixty days.
pub const REFRESH_TOKEN_SECS: i64 = 60 * 86_400;
/// Authorization codes live ten minutes.
pub const CODE_SECS: i64 = 600;

/// The simulated application and fleet.
#[derive(Debug, Clone)]
pub struct SimApiConfig {
    /// The application's client id.
    pub client_id: String,
    /// The application's client secret.
    pub client_secret: String,
    /// The application management token (signs webhooks, authorizes unsubscribe).
    pub management_token: ManagementToken,
    /// The application's webhook id.
    pub webhook_id: String,
    /// The fleet behind the accounts.
    pub fleet: FleetConfig,
}

/// Time as the simulated Smartcar sees it: real time plus an offset tests can advance.
#[derive(Debug, Default)]
pub struct Clock {
    offset_ms: AtomicI64,
}

impl Clock {
    /// Now, in ms since the Unix epoch.
    pub fn now_ms(&self) -> i64 {
        crate::domain::time::now_ms() + self.offset_ms.load(Ordering::Relaxed)
    }

    /// Moves time forward.
    pub fn advance_secs(&self, secs: i64) {
        self.offset_ms.fetch_add(secs * 1000, Ordering::Relaxed);
    }
}

/// One user's consent: the vehicles they shared.
#[derive(Debug, Clone)]
struct Grant {
    vehicles: Vec<String>,
}

#[derive(Debug, Clone)]
struct IssuedCode {
    grant: usize,
    redirect_uri: String,
    expires_ms: i64,
}

#[derive(Debug, Clone)]
struct IssuedToken {
    grant: usize,
    expires_ms: i64,
}

#[derive(Default)]
struct Accounts {
    grants: Vec<Grant>,
    codes: HashMap<String, IssuedCode>,
    access_tokens: HashMap<String, IssuedToken>,
    refresh_tokens: HashMap<String, IssuedToken>,
    subscriptions: HashSet<(String, String)>,
    /// Vehicles whose owner changed their password: AUTHENTICATION_FAILED until
    /// re-authenticated through Connect.
    needs_reauth: HashSet<String>,
    /// Requests left in the application-wide bucket, and when it was last refilled.
    bucket: f64,
    bucket_at_ms: i64,
    counter: u64,
    /// Vehicles that answer the batch endpoint with VEHICLE_STATE ASLEEP.
    asleep: HashSet<String>,
    /// Batch requests answered (429s included), per vehicle.
    batch_requests: HashMap<String, u64>,
}

/// Shared state of the service.
#[derive(Clone)]
pub struct SimApi {
    inner: Arc<Inner>,
}

struct Inner {
    config: SimApiConfig,
    specs: Vec<VehicleSpec>,
    clock: Clock,
    accounts: Mutex<Accounts>,
}

impl SimApi {
    /// A service for `config`. The last vehicle of a fleet of three or more starts out
    /// needing re-authentication, as if its owner had changed their password.
    pub fn new(config: SimApiConfig) -> Self {
        let specs = super::fleet::vehicles(&config.fleet);
        let mut accounts = Accounts {
            bucket: RATE_LIMIT_BUCKET,
            ..Accounts::default()
        };
        if specs.len() >= 3
            && let Some(last) = specs.last()
        {
            accounts.needs_reauth.insert(last.id.clone());
        }
        SimApi {
            inner: Arc::new(Inner {
                config,
                specs,
                clock: Clock::default(),
                accounts: Mutex::new(accounts),
            }),
        }
    }

    /// The service's clock.
    pub fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    /// The fleet's vehicles.
    pub fn vehicles(&self) -> &[VehicleSpec] {
        &self.inner.specs
    }

    /// Vehicles currently subscribed to the webhook.
    pub fn subscribed(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .accounts()
            .subscriptions
            .iter()
            .map(|(v, _)| v.clone())
            .collect();
        ids.sort();
        ids
    }

    /// Puts a vehicle to sleep (or wakes it): asleep, its batch answers are 409
    /// VEHICLE_STATE ASLEEP, as Smartcar's test mode gives for its ASLEEP login.
    pub fn set_asleep(&self, vehicle_id: &str, asleep: bool) {
        let mut accounts = self.accounts();
        if asleep {
            accounts.asleep.insert(vehicle_id.to_owned());
        } else {
            accounts.asleep.remove(vehicle_id);
        }
    }

    /// Empties the application-wide bucket now, as if another client had spent it: the
    /// next request gets 429 with the `retry-after` of one request's refill (30 s).
    pub fn drain_bucket(&self) {
        let now = self.clock().now_ms();
        let mut accounts = self.accounts();
        accounts.bucket = 0.0;
        accounts.bucket_at_ms = now;
    }

    /// How many batch requests reached the service for `vehicle_id` (429s included).
    pub fn batch_requests(&self, vehicle_id: &str) -> u64 {
        self.accounts()
            .batch_requests
            .get(vehicle_id)
            .copied()
            .unwrap_or(0)
    }

    fn accounts(&self) -> MutexGuard<'_, Accounts> {
        // A panic while holding the lock cannot leave the maps half-updated in a way
        // that matters for a simulation, so keep serving.
        self.inner
            .accounts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn config(&self) -> &SimApiConfig {
        &self.inner.config
    }

    fn next_id(&self, prefix: &str) -> String {
        let mut accounts = self.accounts();
        accounts.counter += 1;
        // Unpredictable enough for a simulation, unique for sure.
        let salt = crate::domain::time::now_ms() as u64 ^ (accounts.counter << 20);
        format!(
            "{prefix}-{:016x}{:08x}",
            salt.wrapping_mul(0x9E37_79B9_7F4A_7C15),
            accounts.counter
        )
    }
}

/// The whole service on one origin. The Vehicle API's paths also answer with a trailing
/// slash (Smartcar's SDKs ask `GET /v2.0/vehicles/{id}/` for the attributes), and every
/// other path or method gets Smartcar's JSON error, which the SDKs read as a typed error.
pub fn router(api: SimApi) -> Router {
    let vehicle_api = [
        ("/v2.0/vehicles", get(vehicles::list)),
        ("/v2.0/vehicles/{id}", get(vehicles::attributes)),
        ("/v2.0/vehicles/{id}/battery", get(vehicles::battery)),
        ("/v2.0/vehicles/{id}/charge", get(vehicles::charge)),
        ("/v2.0/vehicles/{id}/location", get(vehicles::location)),
        ("/v2.0/vehicles/{id}/batch", post(vehicles::batch)),
        (
            "/v2.0/vehicles/{id}/webhooks/{webhook_id}",
            post(vehicles::subscribe).delete(vehicles::unsubscribe),
        ),
    ];
    let mut router = Router::new()
        .route("/oauth/authorize", get(connect::page).post(connect::decide))
        .route(
            "/oauth/reauthenticate",
            get(connect::reauth_page).post(connect::reauth_decide),
        )
        .route("/oauth/token", post(token::exchange));
    for (path, handler) in vehicle_api {
        router = router
            .route(&format!("{path}/"), handler.clone())
            .route(path, handler);
    }
    router
        .fallback(errors::unknown_path)
        .method_not_allowed_fallback(errors::unknown_path)
        .layer(axum::middleware::map_response_with_state(
            api.clone(),
            request_id,
        ))
        .with_state(api)
}

/// Smartcar names every answer with `SC-Request-Id`; the SDKs put it in each answer's
/// `meta`.
async fn request_id(State(api): State<SimApi>, mut response: Response) -> Response {
    if !response.headers().contains_key(REQUEST_ID)
        && let Ok(value) = HeaderValue::from_str(&api.next_id("request"))
    {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}
