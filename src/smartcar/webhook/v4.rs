//! v4 payloads (`VERIFY`, `VEHICLE_STATE`, `VEHICLE_ERROR`) and their signals.

use super::*;

pub(super) fn parse_v4(
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
        // An error is as old as its delivery: Smartcar's `deliveredAt` (never later than
        // it arrived), not the arrival, which for a backlog or retries is later.
        let reported_at_ms = meta
            .and_then(|m| m.get("deliveredAt"))
            .and_then(parse_json_time)
            .map_or(received_at_ms, |t| t.min(received_at_ms));
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
                .push(vehicle_error(error, source_path, reported_at_ms));
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
            answered_at_ms: None,
        }],
        notes,
        source: Source::Webhook,
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
        "odometer-traveleddistance" => {
            let raw = number(value()).ok_or("TraveledDistance without a value")?;
            let unit = body.and_then(|b| text(b.get("unit"))).unwrap_or_default();
            let miles = matches!(unit.to_ascii_lowercase().as_str(), "miles" | "mile" | "mi");
            let km = odometer_km(raw, miles)
                .ok_or("odometer not plausible (negative or beyond 10 million km)")?;
            readings
                .odometer
                .push(OdometerReading { recorded_at_ms, km });
        }
        // Other signals (voltage, ...) are archived but not read yet.
        _ => {}
    }
    Ok(())
}
