//! What a CSV export may never carry into a spreadsheet, through the real binary: a text
//! cell that runs as a formula, `inf` or `NaN`; and an export piped into `head` that ends
//! with an error.

mod common;

use std::io::Read;
use std::path::Path;
use std::process::Stdio;

use common::*;

const CAR: &str = "0b6d3f44-6f43-4a49-9c4e-3d7f6ad1f0c2";
const AT_MS: i64 = 1_767_225_600_000;

/// `fleetdash export KIND` read back with the csv crate: the header, then the rows.
fn export(db: &Path, kind: &str) -> Vec<csv::StringRecord> {
    let output = fleetdash()
        .args(["export", kind, "--db"])
        .arg(db)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(output.stdout.as_slice());
    reader.records().map(Result::unwrap).collect()
}

/// A v4 VEHICLE_STATE of `CAR` whose signals are given as raw JSON (so that numbers no
/// double can hold, such as `1e309`, reach the server as written).
fn v4_signals(event_id: &str, signals: &[String]) -> Vec<u8> {
    format!(
        r#"{{"eventId":"{event_id}","eventType":"VEHICLE_STATE","vehicleId":"{CAR}",
            "data":{{"vehicle":{{"id":"{CAR}","make":"TESLA","model":"Model 3","year":2020}},
                     "signals":[{}]}},
            "meta":{{"version":"4.0","mode":"LIVE"}}}}"#,
        signals.join(",")
    )
    .into_bytes()
}

fn signal(code: &str, body: &str, at_ms: i64) -> String {
    format!(r#"{{"code":"{code}","body":{body},"meta":{{"oemUpdatedAt":{at_ms}}}}}"#)
}

#[tokio::test(flavor = "multi_thread")]
async fn formula_like_names_and_error_texts_export_as_text_while_negative_longitudes_stay_numbers()
{
    let server = TestServer::start().await;
    let position = signal(
        "location-preciselocation",
        r#"{"latitude":37.4,"longitude":-122.1}"#,
        AT_MS,
    );
    let state = v4_signals("state-1", &[position]);
    assert_eq!(server.post_signed(&state).await.status(), 200);
    let error = serde_json::json!({
        "eventId": "error-1", "eventType": "VEHICLE_ERROR", "vehicleId": CAR,
        "data": {"errors": [{"type": "-SERVER", "code": "+1", "state": "ERROR",
                             "description": "@SUM(1+1)*cmd|' /C calc'!A0",
                             "signals": [{"code": "charge-ischarging"}]}]},
        "meta": {"version": "4.0"}
    })
    .to_string();
    assert_eq!(server.post_signed(error.as_bytes()).await.status(), 200);
    let name = r#"=HYPERLINK("http://x","y")"#;
    let renamed = fleetdash()
        .args(["settings", "--db"])
        .arg(&server.db)
        .args(["vehicle", CAR, "--name", name])
        .output()
        .unwrap();
    assert!(
        renamed.status.success(),
        "{}",
        String::from_utf8_lossy(&renamed.stderr)
    );

    let locations = export(&server.db, "locations");
    assert_eq!(locations.len(), 2, "{locations:?}");
    assert_eq!(&locations[1][1], format!("'{name}"));
    assert_eq!(&locations[1][3], "37.4");
    assert_eq!(&locations[1][4], "-122.1", "a number stays a number");

    let errors = export(&server.db, "errors");
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert_eq!(&errors[1][1], format!("'{name}"));
    assert_eq!(&errors[1][4], "'-SERVER");
    assert_eq!(&errors[1][5], "'+1");
    assert_eq!(&errors[1][6], "'@SUM(1+1)*cmd|' /C calc'!A0");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_range_no_double_can_hold_or_over_5000_km_exports_as_an_empty_cell_beside_its_soc() {
    let server = TestServer::start().await;
    let ranges = [
        ("v4-overflow", r#"{"value":1e309,"unit":"km"}"#),
        ("v4-far", r#"{"value":99999,"unit":"km"}"#),
        ("v4-far-miles", r#"{"value":4000,"unit":"miles"}"#),
        ("v4-overflow-miles", r#"{"value":1.7e308,"unit":"miles"}"#),
    ];
    for (i, (event_id, range)) in ranges.iter().enumerate() {
        let at_ms = AT_MS + i as i64 * 60_000;
        let soc = signal(
            "tractionbattery-stateofcharge",
            r#"{"value":55,"unit":"percent"}"#,
            at_ms,
        );
        let range = signal("tractionbattery-range", range, at_ms);
        let body = v4_signals(event_id, &[soc, range]);
        assert_eq!(server.post_signed(&body).await.status(), 200, "{event_id}");
    }
    // v2 says the same in its own words: a range as text that overflows, and a big one.
    for (request, day, range) in [("r-1", "02", r#""1e309""#), ("r-2", "03", "99999")] {
        let body = format!(
            r#"{{"version":"2.0","eventName":"scheduled","mode":"live","payload":{{"vehicles":[
                {{"vehicleId":"v2-car","requestId":"{request}","data":[{{"path":"/battery",
                  "code":200,"body":{{"percentRemaining":0.4,"range":{range}}},
                  "headers":{{"sc-data-age":"2026-01-{day}T00:00:00Z"}}}}]}}]}}}}"#
        );
        assert_eq!(server.post_signed(body.as_bytes()).await.status(), 200);
    }

    let battery = export(&server.db, "battery");
    let cells: Vec<(&str, &str, &str)> =
        battery[1..].iter().map(|r| (&r[0], &r[3], &r[4])).collect();
    assert_eq!(
        cells,
        vec![
            (CAR, "55", ""),
            (CAR, "55", ""),
            (CAR, "55", ""),
            (CAR, "55", ""),
            ("v2-car", "40", ""),
            ("v2-car", "40", ""),
        ],
        "{battery:?}"
    );
    let quarantined = count(
        &server.db(),
        "SELECT count(*) FROM deliveries WHERE outcome != 'parsed'",
    );
    assert_eq!(quarantined, 0, "every delivery was read");
}

#[test]
fn an_export_piped_into_head_ends_quietly_with_exit_0() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fleet.sqlite3");
    let made = fleetdash()
        .args(["simulate", "--vehicles", "5", "--days", "30", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    assert!(made.status.success());
    let mut export = fleetdash()
        .args(["export", "battery", "--db"])
        .arg(&db)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let into_head = export.stdout.take().unwrap();
    let head = std::process::Command::new("head")
        .arg("-1")
        .stdin(into_head)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&head.stdout),
        "vehicle_id,vehicle_name,recorded_at,battery_percent,range_km,source\n"
    );
    let mut stderr = String::new();
    export
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = export.wait().unwrap();
    assert_eq!(stderr, "", "nothing on stderr");
    assert!(status.success(), "{status:?}");
    // The export was far larger than a pipe holds, so it did meet the closed pipe.
    let rows = count(
        &rusqlite::Connection::open(&db).unwrap(),
        "SELECT count(*) FROM battery_readings",
    );
    assert!(rows > 20_000, "{rows} rows: too few to fill the pipe");
}
