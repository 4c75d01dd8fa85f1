//! Webhook bodies exactly as Smartcar shapes them (see `smartcar-api.md` section 4).

use serde_json::{Value, json};

use super::fleet::{Sample, VehicleSpec};

/// A v4 `VEHICLE_STATE` body: every subscribed signal, each with its own timestamp.
/// `location_at_ms` is when the position last changed (often hours before the state of
/// charge); `failed_signal` reports that signal as an error (an asleep car, say).
pub fn v4_vehicle_state(
    event_id: &str,
    spec: &VehicleSpec,
    sample: &Sample,
    location_at_ms: i64,
    trigger: &str,
    failed_signal: Option<(&str, &str, &str)>,
    delivered_at_ms: i64,
) -> Vec<u8> {
    let meta = |at: i64| json!({"oemUpdatedAt": at, "fetchedAt": delivered_at_ms});
    let at = sample.at_ms;
    let mut signals = vec![
        json!({"code": "tractionbattery-stateofcharge", "name": "StateOfCharge", "group": "TractionBattery",
               "body": {"unit": "percent", "value": sample.soc_percent}, "meta": meta(at)}),
        json!({"code": "tractionbattery-range", "name": "Range", "group": "TractionBattery",
               "body": {"unit": "kilometers", "value": sample.range_km}, "meta": meta(at)}),
        json!({"code": "charge-ischarging", "name": "IsCharging", "group": "Charge",
               "body": {"value": sample.charging == crate::domain::ChargingState::Charging}, "meta": meta(at)}),
        json!({"code": "charge-ischargingcableconnected", "name": "IsChargingCableConnected", "group": "Charge",
               "body": {"value": sample.plugged_in}, "meta": meta(at)}),
        json!({"code": "location-preciselocation", "name": "PreciseLocation", "group": "Location",
               "body": {"latitude": sample.latitude, "longitude": sample.longitude,
                        "heading": 0, "direction": "N", "locationType": "CURRENT"},
               "meta": meta(location_at_ms)}),
        // The odometer moves with the position, so it last changed when the position did.
        json!({"code": "odometer-traveleddistance", "name": "TraveledDistance", "group": "Odometer",
               "body": {"unit": "kilometers", "value": sample.odometer_km},
               "meta": meta(location_at_ms)}),
    ];
    if let Some((code, error_type, error_code)) = failed_signal {
        for signal in &mut signals {
            if signal["code"] == code {
                let object = signal.as_object_mut();
                if let Some(object) = object {
                    object.remove("body");
                    object.remove("meta");
                    object.insert(
                        "status".into(),
                        json!({"value": "ERROR", "error": {"type": error_type, "code": error_code}}),
                    );
                }
            }
        }
    }
    let count = signals.len();
    json!({
        "eventId": event_id,
        "eventType": "VEHICLE_STATE",
        "vehicleId": spec.id,
        "data": {
            "user": {"id": "simulated-user"},
            "vehicle": {"id": spec.id, "make": spec.make, "model": spec.model, "year": spec.year},
            "triggers": [trigger_value(trigger)],
            "signals": signals,
        },
        "meta": meta_v4(event_id, delivered_at_ms, count),
    })
    .to_string()
    .into_bytes()
}

fn trigger_value(trigger: &str) -> Value {
    if trigger == "FIRST_DELIVERY" {
        json!({"code": "FIRST_DELIVERY"})
    } else {
        json!({"code": trigger, "name": trigger, "group": "Simulated"})
    }
}

fn meta_v4(event_id: &str, delivered_at_ms: i64, signal_count: usize) -> Value {
    json!({
        "version": "4.0",
        "webhookId": "simulated-webhook",
        "webhookName": "fleetdash simulation",
        "deliveryId": format!("delivery-{event_id}"),
        "deliveredAt": delivered_at_ms,
        "signalCount": signal_count,
        "mode": "SIMULATED",
    })
}

/// A v4 `VEHICLE_ERROR` body for one error, active or resolved.
pub fn v4_vehicle_error(
    event_id: &str,
    spec: &VehicleSpec,
    error_type: &str,
    error_code: &str,
    resolved: bool,
    delivered_at_ms: i64,
) -> Vec<u8> {
    json!({
        "eventId": event_id,
        "eventType": "VEHICLE_ERROR",
        "vehicleId": spec.id,
        "data": {
            "user": {"id": "simulated-user"},
            "vehicle": {"id": spec.id, "make": spec.make, "model": spec.model, "year": spec.year},
            "errors": [{
                "type": error_type,
                "code": error_code,
                "state": if resolved { "RESOLVED" } else { "ERROR" },
                "description": "Smartcar was unable to authenticate with the user's connected services account.",
                "suggestedUserMessage": "Your car got disconnected. Please re-connect it.",
                "docURL": "https://smartcar.com/docs/errors/api-errors/connected-services-account-errors",
                "resolution": {"type": "REAUTHENTICATE"},
                "signals": [{"code": "tractionbattery-stateofcharge"}],
            }],
        },
        "meta": meta_v4(event_id, delivered_at_ms, 0),
    })
    .to_string()
    .into_bytes()
}

/// One vehicle's entry in a v2 dynamic delivery.
pub struct V2Entry<'a> {
    /// The vehicle.
    pub spec: &'a VehicleSpec,
    /// Its state.
    pub sample: &'a Sample,
    /// When its position last changed.
    pub location_at_ms: i64,
    /// Smartcar's request id for this vehicle in this delivery.
    pub request_id: String,
    /// Report every item as this connected-services error instead (re-auth needed).
    pub auth_failed: bool,
}

/// A v2 `dynamic` body batching several vehicles.
pub fn v2_dynamic(entries: &[V2Entry<'_>]) -> Vec<u8> {
    let iso = crate::domain::time::format_ms;
    let vehicles: Vec<Value> = entries
        .iter()
        .map(|e| {
            let s = e.sample;
            let data = if e.auth_failed {
                vec![json!({"path": "/battery", "code": 400, "headers": {},
                    "body": {"type": "CONNECTED_SERVICES_ACCOUNT", "code": "AUTHENTICATION_FAILED",
                             "description": "Smartcar was unable to authenticate with the user's connected services account.",
                             "statusCode": 400,
                             "resolution": {"type": "REAUTHENTICATE",
                                            "url": format!("https://connect.smartcar.com/oauth/reauthenticate?response_type=vehicle_id&vehicle_id={}", e.spec.id)}}})]
            } else {
                vec![
                    json!({"path": "/battery", "code": 200,
                           "body": {"percentRemaining": (s.soc_percent / 100.0 * 1e4).round() / 1e4, "range": s.range_km},
                           "headers": {"sc-data-age": iso(s.at_ms), "sc-unit-system": "metric"}}),
                    json!({"path": "/charge", "code": 200,
                           "body": {"isPluggedIn": s.plugged_in, "state": s.charging.as_str()},
                           "headers": {"sc-data-age": iso(s.at_ms)}}),
                    json!({"path": "/location", "code": 200,
                           "body": {"latitude": s.latitude, "longitude": s.longitude},
                           "headers": {"sc-data-age": iso(e.location_at_ms)}}),
                    json!({"path": "/odometer", "code": 200,
                           "body": {"distance": s.odometer_km},
                           "headers": {"sc-data-age": iso(e.location_at_ms), "sc-unit-system": "metric"}}),
                ]
            };
            json!({"vehicleId": e.spec.id, "requestId": e.request_id, "data": data})
        })
        .collect();
    json!({
        "version": "2.0",
        "webhookId": "simulated-webhook",
        "eventName": "dynamic",
        "mode": "simulated",
        "payload": {"vehicles": vehicles},
    })
    .to_string()
    .into_bytes()
}

/// A v2 `eventBased` charging event.
pub fn v2_event_based(event_id: &str, spec: &VehicleSpec, event_type: &str, at_ms: i64) -> Vec<u8> {
    json!({
        "version": "2.0",
        "webhookId": "simulated-webhook",
        "eventName": "eventBased",
        "mode": "simulated",
        "payload": {"eventId": event_id, "vehicleId": spec.id, "eventType": event_type,
                    "eventTime": crate::domain::time::format_ms(at_ms)},
    })
    .to_string()
    .into_bytes()
}

/// A verify challenge in the given format (`true` for v4).
pub fn verify(challenge: &str, v4: bool) -> Vec<u8> {
    if v4 {
        json!({"eventId": format!("verify-{challenge}"), "eventType": "VERIFY",
               "data": {"challenge": challenge},
               "meta": {"version": "4.0", "webhookId": "simulated-webhook", "webhookName": "fleetdash simulation"}})
    } else {
        json!({"version": "2.0", "webhookId": "simulated-webhook", "eventName": "verify",
               "payload": {"challenge": challenge}})
    }
    .to_string()
    .into_bytes()
}
