//! `parse_webhook` on any bytes: never panics, answers the same twice, and whatever it
//! reads is a plausible reading (percent 0..=100, a position on Earth).
#![no_main]

use fleetdash::smartcar::{Webhook, parse_webhook};
use libfuzzer_sys::fuzz_target;

/// Stands in for timestamps a payload lacks.
const RECEIVED_AT_MS: i64 = 1_767_225_600_000;

fuzz_target!(|data: &[u8]| {
    let parsed = parse_webhook(data, RECEIVED_AT_MS);
    assert_eq!(
        parsed,
        parse_webhook(data, RECEIVED_AT_MS),
        "not deterministic"
    );
    let Ok(Webhook::Event(event)) = parsed else {
        return;
    };
    for unit in &event.units {
        assert!(!unit.key.is_empty(), "an event unit without a key");
        let readings = &unit.readings;
        for battery in &readings.battery {
            if let Some(percent) = battery.percent {
                assert!((0.0..=100.0).contains(&percent), "percent {percent}");
            }
        }
        for location in &readings.locations {
            assert!((-90.0..=90.0).contains(&location.latitude));
            assert!((-180.0..=180.0).contains(&location.longitude));
        }
    }
});
