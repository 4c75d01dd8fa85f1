//! Webhook payloads, v2 (`verify`, `dynamic`, `scheduled`, `eventBased`) and v4
//! (`VERIFY`, `VEHICLE_STATE`, `VEHICLE_ERROR`), turned into [`Readings`]; and fleetdash's
//! own records of API polls ([`api`]), which only [`parse_archived`] reads.
//!
//! The parser never panics: any input yields a [`Webhook`] or a [`ParseError`] that says
//! why the body was quarantined. It tolerates the drift between Smartcar's documentation
//! versions (see `smartcar-api.md` section 4).

pub mod api;
mod v2;
mod v4;

use v2::parse_v2;
pub use v2::readings_from_batch;
use v4::parse_v4;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::json::parse_lenient;
use crate::domain::time::parse_json_time;
use crate::domain::units::{miles_to_km, round6, soc_percent};
use crate::domain::{
    BatteryReading, ChargeReading, ChargingState, LocationReading, OdometerReading, Readings,
    Source, VehicleError, VehicleInfo,
};

/// Payload format version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Legacy v2 (`version: "2.0"`).
    V2,
    /// Current v4 (`meta.version: "4.0"`, also the drifted "3.0").
    V4,
}

impl Format {
    /// The spelling stored in the archive.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::V2 => "v2",
            Format::V4 => "v4",
        }
    }
}

/// What a body turned out to be.
#[derive(Debug, Clone, PartialEq)]
pub enum Webhook {
    /// A verification challenge to answer with its HMAC.
    Verify {
        /// The format it came in.
        format: Format,
        /// The challenge text (not yet checked to be a plain token).
        challenge: String,
    },
    /// A data event carrying readings for one or more vehicles.
    Event(Event),
}

/// A data event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// v2 or v4 (an API record's items have v2's shape, so it says v2).
    pub format: Format,
    /// `dynamic`, `scheduled`, `eventBased`, `VEHICLE_STATE` or `VEHICLE_ERROR`; `batch`
    /// for an API record.
    pub kind: String,
    /// `live`, `test` or `simulated`, lowercased, when the payload says.
    pub mode: Option<String>,
    /// One unit per vehicle (v2 batches several in one delivery).
    pub units: Vec<EventUnit>,
    /// Problems met in parts of the payload that were skipped.
    pub notes: Vec<String>,
    /// Pushed by Smartcar, or fetched by fleetdash through the API: the readings' `source`.
    pub source: Source,
}

/// What one delivery says about one vehicle; the unit of deduplication.
#[derive(Debug, Clone, PartialEq)]
pub struct EventUnit {
    /// Stable across Smartcar's retries: v4 `eventId`, v2 `vehicleId`+`requestId`,
    /// v2 eventBased `eventId` (a content hash when the payload lacks them).
    pub key: String,
    /// Smartcar's vehicle id.
    pub vehicle_id: String,
    /// Make, model and year, when the payload carries them.
    pub info: Option<VehicleInfo>,
    /// The readings.
    pub readings: Readings,
    /// When an API poll got an answer about the vehicle that was not AUTHENTICATION_FAILED:
    /// proof that its connection works, which clears a re-connect flag. `None` for
    /// webhooks, which prove nothing of the kind.
    pub answered_at_ms: Option<i64>,
}

/// Why a signed body could not be read; it is quarantined with this text.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParseError {
    /// Not JSON at all.
    #[error("not JSON: {0}")]
    NotJson(String),
    /// JSON, but neither a v2 nor a v4 Smartcar payload.
    #[error("not a Smartcar payload: {0}")]
    NotSmartcar(String),
    /// A Smartcar payload of a kind fleetdash does not know yet.
    #[error("unknown {format} event kind '{kind}'")]
    UnknownKind {
        /// `v2` or `v4`.
        format: &'static str,
        /// The kind as sent.
        kind: String,
    },
    /// fleetdash's own record of an API poll, offered as a Smartcar delivery: refused, since
    /// only fleetdash itself (and a relay's sync API behind its token) archives those.
    #[error(
        "fleetdash's own record of an API poll, which is never accepted as a delivery from Smartcar"
    )]
    ApiRecord,
    /// A known kind, but a required part is missing or malformed.
    #[error("malformed {kind}: {reason}")]
    Malformed {
        /// The kind as sent.
        kind: String,
        /// What is wrong.
        reason: String,
    },
}

/// Parses a body that came to the webhook endpoint. `received_at_ms` stands in for
/// timestamps the payload lacks. fleetdash's own API records are refused
/// ([`ParseError::ApiRecord`]): they carry no signature of their own.
pub fn parse_webhook(body: &[u8], received_at_ms: i64) -> Result<Webhook, ParseError> {
    parse(body, received_at_ms, false)
}

/// Parses a body from the archive (or pulled from a relay's archive, or just built by the
/// poller): a Smartcar delivery or one of fleetdash's own API records ([`api`]).
pub fn parse_archived(body: &[u8], received_at_ms: i64) -> Result<Webhook, ParseError> {
    parse(body, received_at_ms, true)
}

fn parse(body: &[u8], received_at_ms: i64, archived: bool) -> Result<Webhook, ParseError> {
    let value = parse_lenient(body).map_err(|e| ParseError::NotJson(e.to_string()))?;
    let Value::Object(root) = &value else {
        return Err(ParseError::NotSmartcar(
            "the top level is not an object".into(),
        ));
    };
    if root.contains_key(api::MARKER) {
        return if archived {
            api::parse_record(root, received_at_ms)
        } else {
            Err(ParseError::ApiRecord)
        };
    }
    if root.contains_key("eventType") && !root.contains_key("eventName") {
        parse_v4(root, body, received_at_ms)
    } else if root.contains_key("eventName") || version_starts_with(root.get("version"), "2") {
        parse_v2(root, received_at_ms)
    } else {
        Err(ParseError::NotSmartcar(
            "neither a v2 `eventName` nor a v4 `eventType`".into(),
        ))
    }
}

fn version_starts_with(value: Option<&Value>, prefix: &str) -> bool {
    match value {
        Some(Value::String(s)) => s.trim().starts_with(prefix),
        Some(Value::Number(n)) => n.to_string().starts_with(prefix),
        _ => false,
    }
}

// ---------------------------------------------------------------------------------------
// Small accessors: every field is optional until proven otherwise.

/// Longest range any EV reports (the longest-range cars on sale reach about 1,000 km): a
/// larger figure is a unit mix-up or garbage, not a range, so it is stored as unknown.
pub const MAX_RANGE_KM: f64 = 5_000.0;

/// Model years a payload may carry (the first car was built in 1886).
const MODEL_YEARS: std::ops::RangeInclusive<f64> = 1886.0..=2200.0;

/// A range in km from a reading in `miles` or km: unknown when negative, not finite, or
/// beyond [`MAX_RANGE_KM`].
/// No road vehicle has travelled further (the record is about 4.8 million km).
pub const MAX_ODOMETER_KM: f64 = 10_000_000.0;

/// An odometer value in km, when plausible.
fn odometer_km(raw: f64, miles: bool) -> Option<f64> {
    let km = if miles { miles_to_km(raw) } else { round6(raw) };
    (km.is_finite() && (0.0..=MAX_ODOMETER_KM).contains(&km)).then_some(km)
}

fn range_km(raw: f64, miles: bool) -> Option<f64> {
    let km = if miles { miles_to_km(raw) } else { round6(raw) };
    (km.is_finite() && (0.0..=MAX_RANGE_KM).contains(&km)).then_some(km)
}

fn text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn number(value: Option<&Value>) -> Option<f64> {
    let n = match value? {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    n.is_finite().then_some(n)
}

fn boolean(value: Option<&Value>) -> Option<bool> {
    match value? {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// The challenge exactly as sent; empty when missing or not a string, which the server
/// then refuses as not a plain token.
fn raw_challenge(container: Option<&Map<String, Value>>) -> String {
    container
        .and_then(|c| c.get("challenge"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn content_hash(value: &Value) -> String {
    let digest = Sha256::digest(value.to_string().as_bytes());
    hex::encode(&digest[..16])
}

fn vehicle_info(value: Option<&Value>) -> Option<VehicleInfo> {
    let object = value?.as_object()?;
    let info = VehicleInfo {
        make: text(object.get("make")),
        model: text(object.get("model")),
        year: number(object.get("year"))
            .filter(|y| MODEL_YEARS.contains(y))
            .map(|y| y as i64),
    };
    (info != VehicleInfo::default()).then_some(info)
}

/// A position from a body with `latitude` and `longitude` (v2 `/location`, v4
/// PreciseLocation), when both are there and on Earth.
fn location(body: Option<&Map<String, Value>>, recorded_at_ms: i64) -> Option<LocationReading> {
    let body = body?;
    let latitude = number(body.get("latitude"))?;
    let longitude = number(body.get("longitude"))?;
    ((-90.0..=90.0).contains(&latitude) && (-180.0..=180.0).contains(&longitude)).then_some(
        LocationReading {
            recorded_at_ms,
            latitude,
            longitude,
        },
    )
}

/// A Smartcar error body (v2 API error or v4 error entry) as a [`VehicleError`].
fn vehicle_error(
    error: &Map<String, Value>,
    source_path: String,
    recorded_at_ms: i64,
) -> VehicleError {
    let resolution = error.get("resolution").and_then(Value::as_object);
    VehicleError {
        recorded_at_ms,
        source_path,
        error_type: text(error.get("type")).unwrap_or_default(),
        error_code: text(error.get("code")).unwrap_or_default(),
        description: text(error.get("description"))
            .or_else(|| text(error.get("message")))
            .unwrap_or_default(),
        resolution_url: resolution.and_then(|r| text(r.get("url"))),
        active: !text(error.get("state")).is_some_and(|s| s.eq_ignore_ascii_case("RESOLVED")),
    }
}

// ---------------------------------------------------------------------------------------
// v2
