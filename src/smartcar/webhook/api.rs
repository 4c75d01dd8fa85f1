//! fleetdash's own record of an API poll: what Smartcar's batch endpoint answered about one
//! vehicle, in a small envelope, so that the archive keeps it beside Smartcar's deliveries
//! and every path (live ingestion, `reprocess`, a desktop's sync) derives the same readings
//! from it (`source` = `api`).
//!
//! ```json
//! {"fleetdash": "api-batch/1", "vehicleId": "…", "fetchedAt": 1767225600000, "mode": "live",
//!  "responses": [ …the batch answer's items, verbatim… ]}
//! ```
//! or, when Smartcar refused the whole request with an error about the vehicle (asleep,
//! its owner's password changed), `"error": {"status": 409, "body": { …verbatim… }}`.
//! `reconnectUrl`, when present, is the re-connect page fleetdash made for the vehicle
//! (Smartcar's own may lack the redirect URI): an AUTHENTICATION_FAILED points there.
//!
//! It carries no signature, so the webhook endpoint refuses it ([`super::parse_webhook`]);
//! only the poller, `fleetdash poll` and a relay's sync API (behind its token) hand one to
//! the store.

use serde_json::{Map, Value, json};

use super::{Event, EventUnit, Format, ParseError, Webhook, text, vehicle_error};
use crate::domain::time::parse_json_time;
use crate::domain::{Readings, Source};

/// The envelope's marker key: a body with it at the top is an API record, not Smartcar's.
pub const MARKER: &str = "fleetdash";

/// The marker's value for this version of the envelope.
pub const BATCH_V1: &str = "api-batch/1";

/// The kind archived for an API record.
pub const KIND: &str = "batch";

/// The dedup key of the record of `vehicle_id` fetched at `fetched_at_ms`. The time is
/// zero-padded so that the keys of one vehicle sort by time: the latest poll of a vehicle
/// is one index lookup (`store::polled`).
pub fn event_key(vehicle_id: &str, fetched_at_ms: i64) -> String {
    format!("{}{fetched_at_ms:013}", key_prefix(vehicle_id))
}

/// What every key of `vehicle_id`'s API records starts with.
pub fn key_prefix(vehicle_id: &str) -> String {
    format!("api:{vehicle_id}:")
}

/// What Smartcar answered about a vehicle.
#[derive(Debug, Clone, Copy)]
pub enum Answer<'a> {
    /// The batch endpoint's `responses`, verbatim.
    Responses(&'a [Value]),
    /// An error about the vehicle for the whole request: the HTTP status and Smartcar's
    /// error body, verbatim.
    Refused {
        /// HTTP status.
        status: u16,
        /// Smartcar's error body.
        body: &'a Value,
    },
}

/// The record's content.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    /// Smartcar's vehicle id.
    pub vehicle_id: &'a str,
    /// When the answer came (ms): it stands in for any timestamp the answer lacks.
    pub fetched_at_ms: i64,
    /// `live`, `test` or `simulated`: the application's mode.
    pub mode: Option<&'a str>,
    /// What Smartcar said.
    pub answer: Answer<'a>,
    /// fleetdash's re-connect page for the vehicle, if one could be made.
    pub reconnect_url: Option<&'a str>,
}

impl Record<'_> {
    /// The body to archive (JSON with sorted keys: the same record gives the same bytes).
    pub fn to_body(&self) -> Vec<u8> {
        let mut envelope = json!({
            MARKER: BATCH_V1,
            "vehicleId": self.vehicle_id,
            "fetchedAt": self.fetched_at_ms,
        });
        if let Some(mode) = self.mode {
            envelope["mode"] = json!(mode);
        }
        if let Some(url) = self.reconnect_url {
            envelope["reconnectUrl"] = json!(url);
        }
        match self.answer {
            Answer::Responses(items) => envelope["responses"] = json!(items),
            Answer::Refused { status, body } => {
                envelope["error"] = json!({"status": status, "body": body});
            }
        }
        envelope.to_string().into_bytes()
    }
}

/// Reads an API record (its top level already known to carry [`MARKER`]).
pub(super) fn parse_record(
    root: &Map<String, Value>,
    received_at_ms: i64,
) -> Result<Webhook, ParseError> {
    let version = text(root.get(MARKER)).unwrap_or_default();
    if version != BATCH_V1 {
        return Err(ParseError::UnknownKind {
            format: "fleetdash API record",
            kind: version,
        });
    }
    let malformed = |reason: &str| ParseError::Malformed {
        kind: KIND.into(),
        reason: reason.to_owned(),
    };
    let vehicle_id = text(root.get("vehicleId")).ok_or_else(|| malformed("no vehicleId"))?;
    let fetched_at_ms = root
        .get("fetchedAt")
        .and_then(parse_json_time)
        .unwrap_or(received_at_ms);
    let mut readings = Readings::default();
    let mut notes = Vec::new();
    // Whether Smartcar reached the vehicle's account at all (an error about the car's
    // state says it did; one about the account says it did not).
    let reached = if let Some(items) = root.get("responses").and_then(Value::as_array) {
        let (read, problems) = super::readings_from_batch(items, fetched_at_ms);
        readings = read;
        notes.extend(
            problems
                .into_iter()
                .map(|p| format!("vehicle {vehicle_id}: {p}")),
        );
        true
    } else if let Some(error) = root.get("error").and_then(Value::as_object) {
        let status = super::number(error.get("status")).unwrap_or(0.0);
        let empty = Map::new();
        let body = error
            .get("body")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let mut refused = vehicle_error(body, "/batch".into(), fetched_at_ms);
        if refused.error_code.is_empty() && refused.error_type.is_empty() {
            refused.error_type = format!("HTTP_{status}");
        }
        let reached = refused.error_type.eq_ignore_ascii_case("VEHICLE_STATE");
        readings.errors.push(refused);
        reached
    } else {
        return Err(malformed("neither responses nor error"));
    };
    let reconnect_url = text(root.get("reconnectUrl"));
    let mut locked_out = false;
    for error in readings
        .errors
        .iter_mut()
        .filter(|e| e.needs_reauthentication())
    {
        locked_out |= error.active;
        if reconnect_url.is_some() {
            error.resolution_url.clone_from(&reconnect_url);
        }
    }
    Ok(Webhook::Event(Event {
        format: Format::V2,
        kind: KIND.into(),
        mode: text(root.get("mode")).map(|m| m.to_ascii_lowercase()),
        units: vec![EventUnit {
            key: event_key(&vehicle_id, fetched_at_ms),
            vehicle_id,
            info: None,
            readings,
            answered_at_ms: (reached && !locked_out).then_some(fetched_at_ms),
        }],
        notes,
        source: Source::Api,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smartcar::{parse_archived, parse_webhook};

    const AT: i64 = 1_767_225_600_000;

    fn unit(body: &[u8]) -> (Event, EventUnit) {
        match parse_archived(body, 1) {
            Ok(Webhook::Event(event)) => {
                let unit = event.units[0].clone();
                (event, unit)
            }
            other => panic!("not an event: {other:?}"),
        }
    }

    fn record(answer: Answer<'_>, reconnect_url: Option<&str>) -> Vec<u8> {
        Record {
            vehicle_id: "car-1",
            fetched_at_ms: AT,
            mode: Some("simulated"),
            answer,
            reconnect_url,
        }
        .to_body()
    }

    #[test]
    fn a_batch_answer_reads_like_a_webhooks_data_items_with_source_api() {
        let items = vec![
            json!({"path": "/battery", "code": 200, "body": {"percentRemaining": 0.42, "range": 120.0},
                   "headers": {"sc-data-age": "2026-01-01T00:00:00Z"}}),
            json!({"path": "/charge", "code": 200, "body": {"isPluggedIn": true, "state": "CHARGING"}}),
            json!({"path": "/location", "code": 200, "body": {"latitude": 48.1, "longitude": 11.5}}),
        ];
        let (event, unit) = unit(&record(Answer::Responses(&items), None));
        assert_eq!((event.source, event.kind.as_str()), (Source::Api, "batch"));
        assert_eq!(event.mode.as_deref(), Some("simulated"));
        assert_eq!(unit.key, format!("api:car-1:{AT:013}"));
        assert_eq!(unit.readings.battery[0].percent, Some(42.0));
        // Without an sc-data-age, the fetch time stands in (not the arrival time).
        assert_eq!(unit.readings.charge[0].recorded_at_ms, AT);
        assert_eq!(unit.readings.locations.len(), 1);
        assert_eq!(unit.answered_at_ms, Some(AT));
    }

    #[test]
    fn an_asleep_vehicle_is_an_error_reading_that_proves_the_account_works() {
        let body = json!({"type": "VEHICLE_STATE", "code": "ASLEEP", "description": "The vehicle is asleep."});
        let (_, unit) = unit(&record(
            Answer::Refused {
                status: 409,
                body: &body,
            },
            None,
        ));
        let error = &unit.readings.errors[0];
        assert_eq!(
            (error.error_type.as_str(), error.error_code.as_str()),
            ("VEHICLE_STATE", "ASLEEP")
        );
        assert_eq!(
            (error.recorded_at_ms, error.source_path.as_str()),
            (AT, "/batch")
        );
        assert_eq!(unit.answered_at_ms, Some(AT));
    }

    #[test]
    fn authentication_failed_points_at_fleetdashs_reconnect_page_and_proves_nothing() {
        let body = json!({"type": "CONNECTED_SERVICES_ACCOUNT", "code": "AUTHENTICATION_FAILED",
                          "resolution": {"type": "REAUTHENTICATE", "url": "https://smartcar/short"}});
        let refused = Answer::Refused {
            status: 400,
            body: &body,
        };
        let (_, unit) = unit(&record(refused, Some("https://connect/reauth?state=x")));
        let error = &unit.readings.errors[0];
        assert!(error.needs_reauthentication() && error.active);
        assert_eq!(
            error.resolution_url.as_deref(),
            Some("https://connect/reauth?state=x")
        );
        assert_eq!(unit.answered_at_ms, None);
        // Without a page of fleetdash's, Smartcar's stays.
        let (_, unit) = super::tests::unit(&record(refused, None));
        assert_eq!(
            unit.readings.errors[0].resolution_url.as_deref(),
            Some("https://smartcar/short")
        );
    }

    #[test]
    fn the_webhook_parser_refuses_an_api_record_even_a_well_formed_one() {
        let items =
            vec![json!({"path": "/battery", "code": 200, "body": {"percentRemaining": 0.5}})];
        let body = record(Answer::Responses(&items), None);
        assert_eq!(parse_webhook(&body, 1), Err(ParseError::ApiRecord));
        assert!(parse_archived(&body, 1).is_ok());
    }

    #[test]
    fn broken_records_are_errors_not_panics() {
        for body in [
            json!({MARKER: "api-batch/9", "vehicleId": "v", "responses": []}),
            json!({MARKER: BATCH_V1, "responses": []}),
            json!({MARKER: BATCH_V1, "vehicleId": "v"}),
            json!({MARKER: 7, "vehicleId": "v", "error": "no"}),
        ] {
            assert!(
                parse_archived(body.to_string().as_bytes(), 1).is_err(),
                "{body}"
            );
        }
        // An error without a body still says what it was.
        let (_, unit) = unit(
            json!({MARKER: BATCH_V1, "vehicleId": "v", "error": {"status": 502}})
                .to_string()
                .as_bytes(),
        );
        assert_eq!(unit.readings.errors[0].error_type, "HTTP_502");
        assert_eq!(unit.answered_at_ms, None);
    }
}
