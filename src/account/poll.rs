//! Asking Smartcar about one vehicle through the batch endpoint, and turning the answer
//! into fleetdash's API record (`smartcar::webhook::api`) ready to archive. `fleetdash poll`
//! and the relay's quiet-vehicle poller share it, so both archive the same thing.

use std::fmt;
use std::time::Duration;

use super::{Account, AccountError, new_state};
use crate::smartcar::client::ApiError;
use crate::smartcar::webhook::api::{Answer, Record};

/// How long to wait after a 429 that names no `retry-after`.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(60);

/// An answer about a vehicle, as fleetdash's API record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// The record's body: archive it as a delivery.
    pub body: Vec<u8>,
    /// When the answer came (ms): archive it as the delivery's arrival time.
    pub fetched_at_ms: i64,
}

/// Why nothing about the vehicle came back.
#[derive(Debug)]
pub enum FetchError {
    /// No login of this machine reaches the vehicle.
    NoLogin,
    /// The login could not give an access token (refused, expired, no client secret).
    Account(AccountError),
    /// Smartcar, or the way to it, failed (a 429 included: see [`FetchError::rate_limited`]).
    Api(ApiError),
}

impl FetchError {
    /// For Smartcar's rate limit: how long to wait, and whether only this vehicle is
    /// limited (code `VEHICLE`) rather than the whole application (`SMARTCAR_API`).
    pub fn rate_limited(&self) -> Option<(Duration, bool)> {
        match self {
            FetchError::Api(error) if error.status == 429 => Some((
                error.retry_after().unwrap_or(DEFAULT_RETRY_AFTER),
                error.code.as_deref() == Some("VEHICLE"),
            )),
            _ => None,
        }
    }
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FetchError::NoLogin => f.write_str(
                "no login on this machine reaches this vehicle: sign in with `fleetdash login`",
            ),
            FetchError::Account(error) => write!(f, "{error}"),
            FetchError::Api(error) => write!(f, "{error}"),
        }
    }
}

impl std::error::Error for FetchError {}

/// Fetches battery, charge and location of `vehicle_id` in one batch request. An error
/// about the vehicle itself (asleep, AUTHENTICATION_FAILED, ...) is an answer too, and
/// becomes a record; `now_ms` stamps the answer.
pub async fn fetch(
    account: &Account,
    vehicle_id: &str,
    now_ms: &(dyn Fn() -> i64 + Send + Sync),
) -> Result<Fetched, FetchError> {
    let grant = account
        .grant_for(vehicle_id)
        .map_err(FetchError::Account)?
        .ok_or(FetchError::NoLogin)?;
    let access = account
        .access_token(&grant.id)
        .await
        .map_err(FetchError::Account)?;
    let answer = account.client.batch(&access, vehicle_id).await;
    let fetched_at_ms = now_ms();
    let reconnect_url = match &answer {
        Err(error) if error.code.as_deref() == Some("AUTHENTICATION_FAILED") => {
            // Smartcar's own resolution URL may lack the redirect URI and state.
            account.application().ok().map(|app| {
                account
                    .client
                    .reauthenticate_url(&app, vehicle_id, &new_state())
            })
        }
        _ => None,
    };
    let answer = match &answer {
        Ok(items) => Answer::Responses(items),
        Err(error) => match &error.body {
            Some(body) if error.is_about_vehicle() => Answer::Refused {
                status: error.status,
                body,
            },
            _ => return Err(FetchError::Api(error.clone())),
        },
    };
    let record = Record {
        vehicle_id,
        fetched_at_ms,
        mode: Some(account.config.mode.as_str()),
        answer,
        reconnect_url: reconnect_url.as_deref(),
    };
    Ok(Fetched {
        body: record.to_body(),
        fetched_at_ms,
    })
}
