//! The client's plain types: secrets that never show in `Debug`, Smartcar's endpoints,
//! the application's credentials, tokens, and errors as sentences for the user.

use std::fmt;
use std::time::Duration;

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
    /// With a 429: how many seconds Smartcar asks to wait (its `retry-after`; seconds in
    /// a `u32` keep the error small, and it travels in every `Result` of the client).
    pub retry_after_secs: Option<u32>,
    /// Smartcar's error body as it came, when it was JSON, so an error about a vehicle can
    /// be archived verbatim (boxed: errors travel in every `Result` of the client).
    pub body: Option<Box<serde_json::Value>>,
}

impl ApiError {
    pub(super) fn transport(error: reqwest::Error) -> Self {
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
            retry_after_secs: None,
            body: None,
        }
    }

    /// True when the error describes the vehicle itself (asleep, unreachable, its owner's
    /// connected-services account), not the network, the login or Smartcar: such an answer
    /// is worth keeping, as a webhook's VEHICLE_ERROR would be.
    pub fn is_about_vehicle(&self) -> bool {
        matches!(
            self.kind.as_str(),
            "VEHICLE_STATE" | "CONNECTED_SERVICES_ACCOUNT"
        ) && self
            .body
            .as_deref()
            .is_some_and(serde_json::Value::is_object)
    }

    /// With a 429: how long Smartcar asks to wait.
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after_secs
            .map(|secs| Duration::from_secs(secs.into()))
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
