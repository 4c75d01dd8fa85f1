//! Webhook payloads, v2 (`verify`, `dynamic`, `scheduled`, `eventBased`) and v4
//! (`VERIFY`, `VEHICLE_STATE`, `VEHICLE_ERROR`), turned into [`Readings`].
//!
//! The parser never panics: any input yields a [`Webhook`] or a [`ParseError`] that says
//! why the body was quarantined. It tolerates the drift between Smartcar's documentation
//! versions (see `smartcar-api.md` section 4).

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::json::parse_lenient;
use crate::domain::time::parse_json_time;
use crate::domain::units::{miles_to_km, round6, soc_percent};
use crate::domain::{
    BatteryReading, ChargeReading, ChargingState, LocationReading, Readings, VehicleError,
    VehicleInfo,
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
    /// v2 or v4.
    pub format: Format,
    /// `dynamic`, `scheduled`, `eventBased`, `VEHICLE_STATE` or `VEHICLE_ERROR`.
    pub kind: String,
    /// `live`, `test` or `simulated`, lowercased, when the payload says.
    pub mode: Option<String>,
    /// One unit per vehicle (v2 batches several in one delivery).
    pub units: Vec<EventUnit>,
    /// Problems met in parts of the payload that were skipped.
    pub notes: Vec<String>,
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
    /// A known kind, but a required part is missing or malformed.
    #[error("malformed {kind}: {reason}")]
    Malformed {
        /// The kind as sent.
        kind: String,
        /// What is wrong.
        reason: String,
    },
}

/// Parses a webhook body. `received_at_ms` stands in for timestamps the payload lacks.
pub fn parse_webhook(body: &[u8], received_at_ms: i64) -> Result<Webhook, ParseError> {
    let value = parse_lenient(body).map_err(|e| ParseError::NotJson(e.to_string()))?;
    let Value::Object(root) = &value else {
        return Err(ParseError::NotSmartcar(
            "the top level is not an object".into(),
        ));
    };
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

fn parse_v2(root: &Map<String, Value>, received_at_ms: i64) -> Result<Webhook, ParseError> {
    let kind = text(root.get("eventName")).unwrap_or_default();
    let payload = root.get("payload").and_then(Value::as_object);
    let mode = text(root.get("mode")).map(|m| m.to_ascii_lowercase());
    let malformed = |reason: &str| ParseError::Malformed {
        kind: kind.clone(),
        reason: reason.to_owned(),
    };
    match kind.to_ascii_lowercase().as_str() {
        "verify" => Ok(Webhook::Verify {
            format: Format::V2,
            challenge: raw_challenge(payload),
        }),
        "dynamic" | "scheduled" => {
            let vehicles = payload
                .and_then(|p| p.get("vehicles"))
                .and_then(Value::as_array)
                .ok_or_else(|| malformed("no payload.vehicles list"))?;
            let mut notes = Vec::new();
            let mut units = Vec::new();
            for (index, vehicle) in vehicles.iter().enumerate() {
                match v2_vehicle(vehicle, received_at_ms, &mut notes) {
                    Some(unit) => units.push(unit),
                    None => notes.push(format!("vehicles[{index}] has no vehicleId; skipped")),
                }
            }
            if units.is_empty() && !vehicles.is_empty() {
                return Err(malformed("no vehicle entry could be read"));
            }
            Ok(Webhook::Event(Event {
                format: Format::V2,
                kind,
                mode,
                units,
                notes,
            }))
        }
        "eventbased" => {
            let payload = payload.ok_or_else(|| malformed("no payload object"))?;
            let vehicle_id =
                text(payload.get("vehicleId")).ok_or_else(|| malformed("no vehicleId"))?;
            let event_type = text(payload.get("eventType")).unwrap_or_default();
            let state = match event_type.to_ascii_uppercase().as_str() {
                "CHARGING_STARTED" => ChargingState::Charging,
                "CHARGING_STOPPED" => ChargingState::NotCharging,
                "CHARGING_COMPLETED" => ChargingState::FullyCharged,
                _ => {
                    return Err(ParseError::UnknownKind {
                        format: "v2 eventBased",
                        kind: event_type,
                    });
                }
            };
            let recorded_at_ms = payload
                .get("eventTime")
                .and_then(parse_json_time)
                .unwrap_or(received_at_ms);
            let key = match text(payload.get("eventId")) {
                Some(id) => format!("v2e:{id}"),
                None => format!("v2e:#{}", content_hash(&Value::Object(payload.clone()))),
            };
            let mut readings = Readings::default();
            readings.push_charge(ChargeReading {
                recorded_at_ms,
                plugged_in: None,
                state: Some(state),
            });
            Ok(Webhook::Event(Event {
                format: Format::V2,
                kind,
                mode,
                units: vec![EventUnit {
                    key,
                    vehicle_id,
                    info: None,
                    readings,
                }],
                notes: Vec::new(),
            }))
        }
        _ => Err(ParseError::UnknownKind { format: "v2", kind }),
    }
}

fn v2_vehicle(vehicle: &Value, received_at_ms: i64, notes: &mut Vec<String>) -> Option<EventUnit> {
    let object = vehicle.as_object()?;
    let vehicle_id = text(object.get("vehicleId"))?;
    let key = match text(object.get("requestId")) {
        Some(request_id) => format!("v2:{vehicle_id}:{request_id}"),
        None => format!("v2:{vehicle_id}:#{}", content_hash(vehicle)),
    };
    let mut readings = Readings::default();
    let items = object.get("data").and_then(Value::as_array);
    for item in items.into_iter().flatten() {
        if let Err(problem) = v2_item(item, received_at_ms, &mut readings) {
            notes.push(format!("vehicle {vehicle_id}: {problem}"));
        }
    }
    Some(EventUnit {
        key,
        vehicle_id,
        info: None,
        readings,
    })
}

fn v2_item(item: &Value, received_at_ms: i64, readings: &mut Readings) -> Result<(), String> {
    let item = item.as_object().ok_or("a data item is not an object")?;
    let path = text(item.get("path")).ok_or("a data item has no path")?;
    let headers = item.get("headers").and_then(Value::as_object);
    let header = |name: &str| {
        headers.and_then(|h| {
            h.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
        })
    };
    let recorded_at_ms = header("sc-data-age")
        .and_then(parse_json_time)
        .unwrap_or(received_at_ms);
    let imperial = header("sc-unit-system")
        .and_then(Value::as_str)
        .is_some_and(|s| s.eq_ignore_ascii_case("imperial"));
    let code = number(item.get("code")).unwrap_or(200.0);
    let body = item.get("body").and_then(Value::as_object);
    if !(200.0..300.0).contains(&code) {
        let empty = Map::new();
        let mut error = vehicle_error(body.unwrap_or(&empty), path, recorded_at_ms);
        if error.error_code.is_empty() && error.error_type.is_empty() {
            error.error_type = format!("HTTP_{code}");
        }
        readings.errors.push(error);
        return Ok(());
    }
    let normalized = path.trim_end_matches('/').to_ascii_lowercase();
    match normalized.as_str() {
        "/battery" => {
            let body = body.ok_or("/battery has no body")?;
            let percent = number(body.get("percentRemaining")).and_then(soc_percent);
            let range_km = number(body.get("range")).and_then(|r| range_km(r, imperial));
            if percent.is_none() && range_km.is_none() {
                return Err("/battery has neither percentRemaining nor range".into());
            }
            readings.push_battery(BatteryReading {
                recorded_at_ms,
                percent,
                range_km,
            });
        }
        "/charge" => {
            let body = body.ok_or("/charge has no body")?;
            let plugged_in = boolean(body.get("isPluggedIn"));
            let state = text(body.get("state")).and_then(|s| ChargingState::parse(&s));
            if plugged_in.is_none() && state.is_none() {
                return Err("/charge has neither isPluggedIn nor a known state".into());
            }
            readings.push_charge(ChargeReading {
                recorded_at_ms,
                plugged_in,
                state,
            });
        }
        "/location" => readings.locations.push(
            location(body, recorded_at_ms)
                .ok_or("/location has no valid latitude and longitude")?,
        ),
        // Other paths (odometer, tires, ...) are archived but not read yet.
        _ => {}
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// v4

fn parse_v4(
    root: &Map<String, Value>,
    body: &[u8],
    received_at_ms: i64,
) -> Result<Webhook, ParseError> {
    let kind = text(root.get("eventType")).unwrap_or_default();
    let data = root.get("data").and_then(Value::as_object);
    let meta = root.get("meta").and_then(Value::as_object);
    let mode = meta
        .and_then(|m| text(m.get("mode")))
        .map(|m| m.to_ascii_lowercase());
    let malformed = |reason: &str| ParseError::Malformed {
        kind: kind.clone(),
        reason: reason.to_owned(),
    };
    let upper = kind.to_ascii_uppercase();
    if upper == "VERIFY" {
        return Ok(Webhook::Verify {
            format: Format::V4,
            challenge: raw_challenge(data),
        });
    }
    if upper != "VEHICLE_STATE" && upper != "VEHICLE_ERROR" {
        return Err(ParseError::UnknownKind { format: "v4", kind });
    }
    let data = data.ok_or_else(|| malformed("no data object"))?;
    let vehicle = data.get("vehicle");
    let vehicle_id = text(root.get("vehicleId"))
        .or_else(|| vehicle.and_then(|v| text(v.get("id"))))
        .ok_or_else(|| malformed("no vehicleId"))?;
    let key = match text(root.get("eventId")) {
        Some(id) => format!("v4:{id}"),
        None => format!("v4:#{}", hex::encode(&Sha256::digest(body)[..16])),
    };
    let mut notes = Vec::new();
    let mut readings = Readings::default();
    if upper == "VEHICLE_STATE" {
        let signals = data
            .get("signals")
            .and_then(Value::as_array)
            .ok_or_else(|| malformed("no data.signals list"))?;
        for signal in signals {
            if let Err(problem) = v4_signal(signal, received_at_ms, &mut readings) {
                notes.push(problem);
            }
        }
    } else {
        let errors = data
            .get("errors")
            .and_then(Value::as_array)
            .ok_or_else(|| malformed("no data.errors list"))?;
        for error in errors.iter().filter_map(Value::as_object) {
            let source_path = error
                .get("signals")
                .and_then(Value::as_array)
                .map(|signals| {
                    signals
                        .iter()
                        .filter_map(|s| text(s.get("code")))
                        .collect::<Vec<_>>()
                        .join(";")
                })
                .unwrap_or_default();
            readings
                .errors
                .push(vehicle_error(error, source_path, received_at_ms));
        }
    }
    Ok(Webhook::Event(Event {
        format: Format::V4,
        kind,
        mode,
        units: vec![EventUnit {
            key,
            vehicle_id,
            info: vehicle_info(vehicle),
            readings,
        }],
        notes,
    }))
}

fn v4_signal(signal: &Value, received_at_ms: i64, readings: &mut Readings) -> Result<(), String> {
    let signal = signal.as_object().ok_or("a signal is not an object")?;
    let code = text(signal.get("code"))
        .ok_or("a signal has no code")?
        .to_ascii_lowercase();
    let meta = signal.get("meta").and_then(Value::as_object);
    let recorded_at_ms = meta
        .and_then(|m| m.get("oemUpdatedAt"))
        .and_then(parse_json_time)
        .unwrap_or(received_at_ms);
    let status = signal.get("status").and_then(Value::as_object);
    let failed = status
        .and_then(|s| text(s.get("value")))
        .is_some_and(|v| v.eq_ignore_ascii_case("ERROR"));
    if failed {
        let empty = Map::new();
        let error = status
            .and_then(|s| s.get("error"))
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        readings
            .errors
            .push(vehicle_error(error, code, recorded_at_ms));
        return Ok(());
    }
    let body = signal.get("body").and_then(Value::as_object);
    let value = || body.and_then(|b| b.get("value"));
    match code.as_str() {
        "tractionbattery-stateofcharge" => {
            let raw = number(value())
                .or_else(|| body.and_then(|b| number(b.get("percentage"))))
                .ok_or("state of charge without a value")?;
            let is_fraction = body
                .and_then(|b| text(b.get("unit")))
                .is_some_and(|u| u.eq_ignore_ascii_case("fraction"));
            let percent = if is_fraction {
                // A fraction above 1 (bar rounding) is not a state of charge.
                (raw <= 1.0 + 1e-9)
                    .then(|| soc_percent(raw.min(1.0)))
                    .flatten()
            } else {
                // v4 reports percent; a value <= 1 is still percent here (1 % is real).
                (0.0..=100.0).contains(&raw).then(|| round6(raw))
            }
            .ok_or("state of charge out of range")?;
            readings.push_battery(BatteryReading {
                recorded_at_ms,
                percent: Some(percent),
                range_km: None,
            });
        }
        "tractionbattery-range" => {
            let raw = number(value()).ok_or("range without a value")?;
            let unit = body.and_then(|b| text(b.get("unit"))).unwrap_or_default();
            let miles = matches!(unit.to_ascii_lowercase().as_str(), "miles" | "mile" | "mi");
            let range_km = range_km(raw, miles)
                .ok_or("range not plausible (more than 5,000 km or negative)")?;
            readings.push_battery(BatteryReading {
                recorded_at_ms,
                percent: None,
                range_km: Some(range_km),
            });
        }
        "charge-ischarging" => {
            let charging = boolean(value()).ok_or("IsCharging without a value")?;
            readings.push_charge(ChargeReading {
                recorded_at_ms,
                plugged_in: None,
                state: Some(if charging {
                    ChargingState::Charging
                } else {
                    ChargingState::NotCharging
                }),
            });
        }
        "charge-ischargingcableconnected" => {
            let plugged_in = boolean(value()).ok_or("IsChargingCableConnected without a value")?;
            readings.push_charge(ChargeReading {
                recorded_at_ms,
                plugged_in: Some(plugged_in),
                state: None,
            });
        }
        "location-preciselocation" => readings.locations.push(
            location(body, recorded_at_ms)
                .ok_or("PreciseLocation without a valid latitude and longitude")?,
        ),
        // Other signals (voltage, odometer, ...) are archived but not read yet.
        _ => {}
    }
    Ok(())
}

/// Readings from Smartcar's batch endpoint, whose items have the shape of a v2 webhook's
/// data items (`path`, `code`, `body`, `headers`); `received_at_ms` stands in where an item
/// has no `sc-data-age`. Items that can't be read are returned as notes.
pub fn readings_from_batch(items: &[Value], received_at_ms: i64) -> (Readings, Vec<String>) {
    let mut readings = Readings::default();
    let mut notes = Vec::new();
    for item in items {
        if let Err(note) = v2_item(item, received_at_ms, &mut readings) {
            notes.push(note);
        }
    }
    (readings, notes)
}
