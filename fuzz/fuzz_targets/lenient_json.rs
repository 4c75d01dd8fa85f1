//! `parse_lenient` on any bytes: never panics, reads every strict JSON document exactly as
//! serde_json does, and reads it the same again with a trailing comma in every non-empty
//! array and object (as Smartcar's documentation example has one).
#![no_main]

use fleetdash::smartcar::json::parse_lenient;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// `value` as JSON text with a comma after the last item of every non-empty container.
fn with_trailing_commas(value: &Value, out: &mut String) {
    match value {
        Value::Array(items) => {
            out.push('[');
            for item in items {
                with_trailing_commas(item, out);
                out.push(',');
            }
            out.push(']');
        }
        Value::Object(fields) => {
            out.push('{');
            for (key, item) in fields {
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                with_trailing_commas(item, out);
                out.push(',');
            }
            out.push('}');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

fuzz_target!(|data: &[u8]| {
    let lenient = parse_lenient(data);
    let Ok(strict) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    assert_eq!(
        lenient.ok().as_ref(),
        Some(&strict),
        "strict JSON read differently"
    );
    // Compare with the strict reading of the same text: number printing need not round-trip.
    let compact = strict.to_string();
    let Ok(expected) = serde_json::from_str::<Value>(&compact) else {
        return;
    };
    let mut commas = String::with_capacity(compact.len() * 2);
    with_trailing_commas(&strict, &mut commas);
    assert_eq!(
        parse_lenient(commas.as_bytes()).ok(),
        Some(expected),
        "trailing commas not tolerated in {commas}"
    );
});
