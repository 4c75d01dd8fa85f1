//! Readings: what a vehicle reported, each at the time the vehicle recorded it.

use serde::{Deserialize, Serialize};

/// Where a reading came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Source {
    /// Pushed by Smartcar to the callback server.
    Webhook,
    /// Fetched through the Smartcar API.
    Api,
}

impl Source {
    /// The spelling used in the database and in CSV exports.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Webhook => "webhook",
            Source::Api => "api",
        }
    }
}

/// Charging state in Smartcar's v2 vocabulary, which the exports use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChargingState {
    /// Energy is flowing into the battery.
    Charging,
    /// The charge target was reached.
    FullyCharged,
    /// Not charging (plugged in or not).
    NotCharging,
}

impl ChargingState {
    /// The spelling used in the database and in CSV exports.
    pub fn as_str(self) -> &'static str {
        match self {
            ChargingState::Charging => "CHARGING",
            ChargingState::FullyCharged => "FULLY_CHARGED",
            ChargingState::NotCharging => "NOT_CHARGING",
        }
    }

    /// Reads Smartcar's spelling (case-insensitive); `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_uppercase().as_str() {
            "CHARGING" => Some(ChargingState::Charging),
            "FULLY_CHARGED" => Some(ChargingState::FullyCharged),
            "NOT_CHARGING" => Some(ChargingState::NotCharging),
            _ => None,
        }
    }
}

/// Make, model and year as Smartcar reports them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VehicleInfo {
    /// Manufacturer, e.g. `TESLA`.
    pub make: Option<String>,
    /// Model, e.g. `Model 3`.
    pub model: Option<String>,
    /// Model year.
    pub year: Option<i64>,
}

/// State of charge and/or range at one moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatteryReading {
    /// When the vehicle recorded it, milliseconds since the Unix epoch (UTC).
    pub recorded_at_ms: i64,
    /// State of charge, 0..=100.
    pub percent: Option<f64>,
    /// Estimated range in kilometres.
    pub range_km: Option<f64>,
}

/// Plug and charging state at one moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChargeReading {
    /// When the vehicle recorded it, milliseconds since the Unix epoch (UTC).
    pub recorded_at_ms: i64,
    /// Whether a charging cable is connected.
    pub plugged_in: Option<bool>,
    /// Whether energy is flowing.
    pub state: Option<ChargingState>,
}

/// A GPS position at one moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LocationReading {
    /// When the vehicle recorded it, milliseconds since the Unix epoch (UTC).
    pub recorded_at_ms: i64,
    /// Degrees north.
    pub latitude: f64,
    /// Degrees east.
    pub longitude: f64,
}

/// The odometer at one moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OdometerReading {
    /// When the vehicle recorded it, milliseconds since the Unix epoch (UTC).
    pub recorded_at_ms: i64,
    /// Distance travelled over the vehicle's life, km (converted when given in miles).
    pub km: f64,
}

/// Something Smartcar could not fetch from a vehicle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VehicleError {
    /// When it was reported, milliseconds since the Unix epoch (UTC).
    pub recorded_at_ms: i64,
    /// The v2 path (`/battery`) or v4 signal code(s) the error concerns.
    pub source_path: String,
    /// Smartcar error type, e.g. `CONNECTED_SERVICES_ACCOUNT`.
    pub error_type: String,
    /// Smartcar error code, e.g. `AUTHENTICATION_FAILED`.
    pub error_code: String,
    /// Smartcar's description.
    pub description: String,
    /// Where the user can fix it (Smartcar's re-authentication link), if given.
    pub resolution_url: Option<String>,
    /// `false` for v4 errors reported as `RESOLVED`.
    pub active: bool,
}

impl VehicleError {
    /// True when the owner must sign in with Smartcar Connect again for this vehicle.
    pub fn needs_reauthentication(&self) -> bool {
        self.error_code
            .eq_ignore_ascii_case("AUTHENTICATION_FAILED")
    }
}

/// Everything one delivery (or one API fetch) says about one vehicle.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Readings {
    /// Battery readings.
    pub battery: Vec<BatteryReading>,
    /// Plug and charging readings.
    pub charge: Vec<ChargeReading>,
    /// Positions.
    pub locations: Vec<LocationReading>,
    /// Odometer readings.
    #[serde(default)]
    pub odometer: Vec<OdometerReading>,
    /// Errors.
    pub errors: Vec<VehicleError>,
}

impl Readings {
    /// Number of readings of every kind.
    pub fn len(&self) -> usize {
        self.battery.len()
            + self.charge.len()
            + self.locations.len()
            + self.odometer.len()
            + self.errors.len()
    }

    /// True when nothing was read.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds a battery reading, merging it into one taken at the same moment.
    pub fn push_battery(&mut self, reading: BatteryReading) {
        match self
            .battery
            .iter_mut()
            .find(|r| r.recorded_at_ms == reading.recorded_at_ms)
        {
            Some(existing) => {
                existing.percent = reading.percent.or(existing.percent);
                existing.range_km = reading.range_km.or(existing.range_km);
            }
            None => self.battery.push(reading),
        }
    }

    /// Adds a charge reading, merging it into one taken at the same moment.
    pub fn push_charge(&mut self, reading: ChargeReading) {
        match self
            .charge
            .iter_mut()
            .find(|r| r.recorded_at_ms == reading.recorded_at_ms)
        {
            Some(existing) => {
                existing.plugged_in = reading.plugged_in.or(existing.plugged_in);
                existing.state = reading.state.or(existing.state);
            }
            None => self.charge.push(reading),
        }
    }
}
