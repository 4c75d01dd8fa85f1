//! v2 payloads (`verify`, `dynamic`, `scheduled`, `eventBased`) and the batch endpoint's
//! items, which share their shape.

use super::*;

pub(super) fn parse_v2(
    root: &Map<String, Value>,
    received_at_ms: i64,
) -> Result<Webhook, ParseError> {
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
                source: Source::Webhook,
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
                    answered_at_ms: None,
                }],
                notes: Vec::new(),
                source: Source::Webhook,
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
        answered_at_ms: None,
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
        "/odometer" => {
            let body = body.ok_or("/odometer has no body")?;
            let raw = number(body.get("distance")).ok_or("/odometer has no distance")?;
            let km = odometer_km(raw, imperial)
                .ok_or("/odometer distance not plausible (negative or beyond 10 million km)")?;
            readings
                .odometer
                .push(OdometerReading { recorded_at_ms, km });
        }
        // Other paths (tires, ...) are archived but not read yet.
        _ => {}
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// v4

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
