//! The webhook parser, driven by data: every fixture, every documented drift, and random
//! or mutated bodies (which must never panic).

mod common;

use common::{FIXTURES, fixture};
use fleetdash::domain::{ChargingState, Readings};
use fleetdash::smartcar::{Format, Webhook, parse_webhook};
use proptest::prelude::*;
use serde_json::{Value, json};

const ARRIVAL: i64 = 1_800_000_000_000;

/// Parses `body` and returns the one vehicle's readings.
fn readings_of(body: &[u8]) -> Readings {
    match parse_webhook(body, ARRIVAL) {
        Ok(Webhook::Event(event)) => {
            assert_eq!(event.units.len(), 1, "{event:?}");
            event.units.into_iter().next().unwrap().readings
        }
        other => panic!("not an event: {other:?}"),
    }
}

/// A compact, comparable summary of readings: one line each.
fn summary(readings: &Readings) -> Vec<String> {
    let mut lines = Vec::new();
    for r in &readings.battery {
        lines.push(format!(
            "battery {} {:?} {:?}",
            r.recorded_at_ms, r.percent, r.range_km
        ));
    }
    for r in &readings.charge {
        lines.push(format!(
            "charge {} {:?} {:?}",
            r.recorded_at_ms, r.plugged_in, r.state
        ));
    }
    for r in &readings.locations {
        lines.push(format!(
            "location {} {} {}",
            r.recorded_at_ms, r.latitude, r.longitude
        ));
    }
    for e in &readings.errors {
        lines.push(format!(
            "error {} {} {}/{} active={} url={}",
            e.recorded_at_ms,
            e.source_path,
            e.error_type,
            e.error_code,
            e.active,
            e.resolution_url.is_some()
        ));
    }
    lines
}

fn check(body: &[u8], expected: &[&str]) {
    assert_eq!(summary(&readings_of(body)), expected);
}

#[test]
fn the_v2_documentation_example_reads_every_item_at_its_own_age() {
    check(
        &fixture("v2-dynamic-docs-example.json"),
        &[
            "battery 1726869486000 Some(58.0) Some(283.244544)",
            "charge 1726869486000 Some(false) Some(NotCharging)",
            "location 1726869528000 37.4292 122.1381",
        ],
    );
}

#[test]
fn a_failed_v2_item_is_an_error_that_keeps_its_reauth_link() {
    check(
        &fixture("v2-dynamic-with-error.json"),
        &[
            "battery 1726905600000 Some(42.0) Some(120.5)",
            "error 1800000000000 /location CONNECTED_SERVICES_ACCOUNT/AUTHENTICATION_FAILED active=true url=true",
        ],
    );
    let readings = readings_of(&fixture("v2-dynamic-with-error.json"));
    assert!(readings.errors[0].needs_reauthentication());
}

#[test]
fn v2_event_based_charging_events_are_charge_states() {
    check(
        &fixture("v2-event-based.json"),
        &["charge 1726869900000 None Some(Charging)"],
    );
    for (event, state) in [
        ("CHARGING_STOPPED", ChargingState::NotCharging),
        ("CHARGING_COMPLETED", ChargingState::FullyCharged),
    ] {
        let body = json!({"version": "2.0", "eventName": "eventBased", "payload":
            {"eventId": "e", "vehicleId": "v", "eventType": event, "eventTime": 1_726_869_900_000_i64}});
        let readings = readings_of(body.to_string().as_bytes());
        assert_eq!(readings.charge[0].state, Some(state));
    }
}

#[test]
fn v4_vehicle_state_reads_each_signal_at_its_own_time_and_failed_signals_become_errors() {
    check(
        &fixture("v4-vehicle-state.json"),
        &[
            "battery 1731940328000 Some(78.0) None",
            "charge 1731940328000 None Some(Charging)",
            "location 1731909328000 39.7392 -104.9903",
            "error 1800000000000 location-isathome COMPATIBILITY/VEHICLE_NOT_CAPABLE active=true url=false",
        ],
    );
}

#[test]
fn v4_vehicle_error_lists_every_error_with_its_signals() {
    // At the delivery's `deliveredAt`, not its (later) arrival: a backlog's errors keep
    // their own times.
    check(
        &fixture("v4-vehicle-error.json"),
        &[
            "error 1761896351529 location-preciselocation;tractionbattery-stateofcharge COMPATIBILITY/VEHICLE_NOT_CAPABLE active=true url=false",
        ],
    );
}

#[test]
fn verify_challenges_are_recognised_in_both_formats() {
    for (name, format) in [
        ("v2-verify.json", Format::V2),
        ("v4-verify.json", Format::V4),
    ] {
        assert_eq!(
            parse_webhook(&fixture(name), ARRIVAL),
            Ok(Webhook::Verify {
                format,
                challenge: "3a5c8f72-e6d9-4b1a-9f2e-8c7d6a5b4e3f".into()
            })
        );
    }
}

fn v4_with(signals: Value, meta: Value) -> Vec<u8> {
    json!({"eventId": "e", "eventType": "VEHICLE_STATE", "vehicleId": "v",
           "data": {"signals": signals}, "meta": meta})
    .to_string()
    .into_bytes()
}

#[test]
fn v4_documentation_drift_is_accepted() {
    // meta.version 3.0, retrievedAt instead of fetchedAt, SoC as {"percentage": 75},
    // deliveredAt as an ISO string, timestamps as ISO strings.
    let body = v4_with(
        json!([
            {"code": "tractionbattery-stateofcharge", "body": {"percentage": 75},
             "meta": {"oemUpdatedAt": "2024-11-18T14:32:08.000Z", "retrievedAt": 1}},
            {"code": "tractionbattery-range", "body": {"unit": "miles", "value": 100},
             "meta": {"oemUpdatedAt": 1_731_940_328_000_i64}},
            {"code": "charge-ischargingcableconnected", "body": {"value": true},
             "meta": {"oemUpdatedAt": "1731940328000"}},
            {"code": "charge-ischarging", "body": {"value": false}},
            {"code": "odometer-traveleddistance", "body": {"unit": "kilometers", "value": 12}}
        ]),
        json!({"version": "3.0", "deliveredAt": "2024-11-18T14:32:10Z"}),
    );
    check(
        &body,
        &[
            "battery 1731940328000 Some(75.0) Some(160.9344)",
            "charge 1731940328000 Some(true) None",
            "charge 1800000000000 None Some(NotCharging)",
        ],
    );
}

#[test]
fn v2_imperial_ranges_and_epoch_ages_are_converted() {
    let body = json!({"version": "2.0", "eventName": "scheduled", "payload": {"vehicles": [
    {"vehicleId": "v", "requestId": "r", "data": [
        {"path": "/battery", "code": 200, "body": {"percentRemaining": 0.3, "range": 100},
         "headers": {"SC-Data-Age": 1_726_869_486_000_i64, "sc-unit-system": "imperial"}},
        {"path": "/odometer", "code": 200, "body": {"distance": 5}, "headers": {}}
    ]}]}});
    check(
        body.to_string().as_bytes(),
        &["battery 1726869486000 Some(30.0) Some(160.9344)"],
    );
}

#[test]
fn dedup_keys_follow_smartcars_identities() {
    let key = |body: &[u8]| match parse_webhook(body, ARRIVAL) {
        Ok(Webhook::Event(e)) => e.units[0].key.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        key(&fixture("v4-vehicle-state.json")),
        "v4:550e8400-e29b-41d4-a716-446655440000"
    );
    assert_eq!(
        key(&fixture("v2-dynamic-docs-example.json")),
        "v2:00000000-0000-4000-A000-000000000000:25d743b8-14cf-4744-b067-bd8d7daf3f1a"
    );
    assert_eq!(
        key(&fixture("v2-event-based.json")),
        "v2e:0f6b6a3e-2f7c-4d7e-9a53-1c2a7b9e4d10"
    );
    // Retries carry a new deliveryId but the same eventId: same key.
    let mut retry: Value = serde_json::from_slice(&fixture("v4-vehicle-state.json")).unwrap();
    retry["meta"]["deliveryId"] = "another".into();
    assert_eq!(
        key(retry.to_string().as_bytes()),
        "v4:550e8400-e29b-41d4-a716-446655440000"
    );
}

#[test]
fn unreadable_bodies_say_why() {
    for (body, why) in [
        (&b"<html>"[..], "not JSON"),
        (b"[]", "not a Smartcar payload"),
        (b"{}", "not a Smartcar payload"),
        (br#"{"eventType":"NEW_THING","data":{}}"#, "NEW_THING"),
        (
            br#"{"version":"2.0","eventName":"dynamic","payload":{}}"#,
            "payload.vehicles",
        ),
        (
            br#"{"eventType":"VEHICLE_STATE","data":{"signals":[]}}"#,
            "vehicleId",
        ),
    ] {
        let error = parse_webhook(body, ARRIVAL).unwrap_err().to_string();
        assert!(error.contains(why), "{error} lacks {why}");
    }
}

#[test]
fn out_of_range_values_are_skipped_not_stored() {
    let body = v4_with(
        json!([
            {"code": "tractionbattery-stateofcharge", "body": {"value": 180}},
            {"code": "location-preciselocation", "body": {"latitude": 91, "longitude": 0}},
            {"code": "tractionbattery-range", "body": {"value": -3}}
        ]),
        json!({}),
    );
    let parsed = parse_webhook(&body, ARRIVAL).unwrap();
    let Webhook::Event(event) = parsed else {
        panic!()
    };
    assert!(event.units[0].readings.is_empty());
    assert_eq!(event.notes.len(), 3);
}

#[test]
fn impossible_numbers_read_as_unknown_and_the_rest_of_the_delivery_is_kept() {
    // A fraction above 1, a range past 5,000 km (in km and in miles), a model year from
    // nowhere; the SoC beside them is kept.
    let body = br#"{"eventId": "e", "eventType": "VEHICLE_STATE", "vehicleId": "v",
        "data": {"vehicle": {"id": "v", "make": "TESLA", "year": 1e12}, "signals": [
            {"code": "tractionbattery-stateofcharge", "body": {"value": 5, "unit": "fraction"}},
            {"code": "tractionbattery-range", "body": {"value": 5001}},
            {"code": "tractionbattery-range", "body": {"value": 3200, "unit": "miles"}},
            {"code": "tractionbattery-range", "body": {"value": 1e400}},
            {"code": "tractionbattery-stateofcharge", "body": {"value": 0.5, "unit": "fraction"},
             "meta": {"oemUpdatedAt": 1731940328000}}
        ]}, "meta": {}}"#;
    let Webhook::Event(event) = parse_webhook(body, ARRIVAL).unwrap() else {
        panic!()
    };
    let unit = &event.units[0];
    assert_eq!(
        summary(&unit.readings),
        ["battery 1731940328000 Some(50.0) None"]
    );
    assert_eq!(event.notes.len(), 4, "{:?}", event.notes);
    let info = unit.info.clone().unwrap();
    assert_eq!((info.make.as_deref(), info.year), (Some("TESLA"), None));
}

// ---------------------------------------------------------------------------------------
// Never panic.

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,12}".prop_map(Value::String),
        prop_oneof![
            Just("VEHICLE_STATE"),
            Just("VERIFY"),
            Just("dynamic"),
            Just("eventBased"),
            Just("/battery"),
            Just("tractionbattery-stateofcharge"),
            Just("ERROR"),
            Just("2024-09-20T21:58:06.000Z"),
            Just("miles"),
            Just("AUTHENTICATION_FAILED")
        ]
        .prop_map(|s| Value::String(s.into())),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("eventType".to_string()),
                    Just("eventName".to_string()),
                    Just("version".to_string()),
                    Just("data".to_string()),
                    Just("payload".to_string()),
                    Just("signals".to_string()),
                    Just("vehicles".to_string()),
                    Just("body".to_string()),
                    Just("value".to_string()),
                    Just("meta".to_string()),
                    Just("code".to_string()),
                    Just("status".to_string()),
                    "[a-z]{1,8}"
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Replaces the `index`-th node (in depth-first order) of `value` with `replacement`.
fn replace_node(value: &mut Value, index: &mut usize, replacement: &Value) -> bool {
    if *index == 0 {
        *value = replacement.clone();
        return true;
    }
    *index -= 1;
    match value {
        Value::Array(items) => items
            .iter_mut()
            .any(|v| replace_node(v, index, replacement)),
        Value::Object(map) => map
            .values_mut()
            .any(|v| replace_node(v, index, replacement)),
        _ => false,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_webhook(&body, ARRIVAL);
    }

    #[test]
    fn random_json_never_panics(value in arbitrary_json()) {
        let _ = parse_webhook(value.to_string().as_bytes(), ARRIVAL);
    }

    #[test]
    fn fixtures_with_a_node_replaced_never_panic(
        which in 0..FIXTURES.len(),
        index in 0usize..200,
        replacement in arbitrary_json(),
    ) {
        let text = String::from_utf8(fixture(FIXTURES[which])).unwrap();
        let mut value: Value = fleetdash::smartcar::json::parse_lenient(text.as_bytes()).unwrap();
        let mut index = index;
        replace_node(&mut value, &mut index, &replacement);
        let _ = parse_webhook(value.to_string().as_bytes(), ARRIVAL);
    }

    #[test]
    fn fixtures_with_bytes_flipped_never_panic(
        which in 0..FIXTURES.len(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        let mut body = fixture(FIXTURES[which]);
        for (at, byte) in edits {
            let i = at.index(body.len());
            body[i] = byte;
        }
        let _ = parse_webhook(&body, ARRIVAL);
    }
}
