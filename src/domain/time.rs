//! Timestamps: Smartcar sends ISO-8601 strings or epoch milliseconds; fleetdash stores
//! milliseconds since the Unix epoch and prints RFC 3339 in UTC.

use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, Utc};
use serde_json::Value;

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

/// Reads a timestamp from JSON: an ISO-8601 / RFC 3339 string, epoch milliseconds as a
/// number or a numeric string (epoch seconds are recognised by their size).
pub fn parse_json_time(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_f64().and_then(epoch_number_to_ms),
        Value::String(s) => parse_time_text(s),
        _ => None,
    }
}

/// Reads a timestamp from text; see [`parse_json_time`].
pub fn parse_time_text(text: &str) -> Option<i64> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if let Ok(number) = text.parse::<f64>() {
        return epoch_number_to_ms(number);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.timestamp_millis());
    }
    // Without an offset, Smartcar means UTC.
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
            return Some(t.and_utc().timestamp_millis());
        }
    }
    None
}

fn epoch_number_to_ms(number: f64) -> Option<i64> {
    if !number.is_finite() || number < 0.0 {
        return None;
    }
    // Below 10^11 the number can only be seconds (10^11 ms is March 1973).
    let ms = if number < 1e11 {
        number * 1000.0
    } else {
        number
    };
    // Keep to what chrono can print (year 9999).
    (ms < 253_402_300_800_000.0).then_some(ms.round() as i64)
}

/// Formats milliseconds since the epoch as RFC 3339 UTC (`2024-09-20T21:58:06Z`), with
/// fractional seconds only when there are some.
pub fn format_ms(ms: i64) -> String {
    match DateTime::<Utc>::from_timestamp_millis(ms) {
        Some(t) => t.to_rfc3339_opts(SecondsFormat::AutoSi, true),
        None => String::new(),
    }
}

/// A bound given on the command line: RFC 3339, or a date meaning midnight UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeBound {
    /// An exact instant, ms since the epoch.
    Instant(i64),
    /// A whole UTC day starting at this instant, ms since the epoch.
    Day(i64),
}

/// `points` in time order with those of the same instant merged into one (`merge` folds
/// the later into the first kept), as the store keeps one row per vehicle and moment.
pub fn in_time_order<P: Clone>(
    points: &[P],
    at_ms: impl Fn(&P) -> i64,
    merge: impl Fn(&mut P, &P),
) -> Vec<P> {
    let mut sorted = points.to_vec();
    sorted.sort_by_key(&at_ms);
    let mut merged: Vec<P> = Vec::with_capacity(sorted.len());
    for p in sorted {
        match merged.last_mut() {
            Some(last) if at_ms(last) == at_ms(&p) => merge(last, &p),
            _ => merged.push(p),
        }
    }
    merged
}

/// Milliseconds in a day.
pub const DAY_MS: i64 = 86_400_000;

/// One minute in milliseconds.
pub const MINUTE_MS: i64 = 60_000;

impl TimeBound {
    /// Parses `2024-09-20` or `2024-09-20T21:58:06Z`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            let start = date
                .and_hms_opt(0, 0, 0)
                .map(|t| t.and_utc().timestamp_millis())
                .ok_or_else(|| format!("'{text}' is not a valid date"))?;
            return Ok(TimeBound::Day(start));
        }
        DateTime::parse_from_rfc3339(text)
            .map(|t| TimeBound::Instant(t.timestamp_millis()))
            .map_err(|_| {
                format!(
                    "'{text}' is not a time fleetdash understands: use a date like 2024-09-20 \
                     or an RFC 3339 time like 2024-09-20T21:58:06Z"
                )
            })
    }

    /// First millisecond included when used as a lower bound.
    pub fn since_ms(self) -> i64 {
        match self {
            TimeBound::Instant(ms) | TimeBound::Day(ms) => ms,
        }
    }

    /// Last millisecond included when used as an upper bound: a date includes its whole day.
    pub fn until_ms(self) -> i64 {
        match self {
            TimeBound::Instant(ms) => ms,
            TimeBound::Day(ms) => ms + DAY_MS - 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn iso_strings_and_epoch_numbers_give_the_same_instant() {
        let iso = parse_json_time(&json!("2024-11-18T14:32:08.000Z"));
        assert_eq!(iso, Some(1_731_940_328_000));
        assert_eq!(parse_json_time(&json!(1_731_940_328_000_i64)), iso);
        assert_eq!(parse_json_time(&json!("1731940328000")), iso);
        assert_eq!(parse_json_time(&json!(1_731_940_328)), iso);
        assert_eq!(parse_json_time(&json!("2024-11-18T14:32:08")), iso);
        assert_eq!(parse_json_time(&json!("2024-11-18T15:32:08+01:00")), iso);
    }

    #[test]
    fn nonsense_times_are_none() {
        for value in [
            json!("soon"),
            json!(-5),
            json!(null),
            json!(1e300),
            json!({}),
        ] {
            assert_eq!(parse_json_time(&value), None, "{value}");
        }
    }

    #[test]
    fn formats_whole_seconds_without_fraction() {
        assert_eq!(format_ms(1_726_869_486_000), "2024-09-20T21:58:06Z");
        assert_eq!(format_ms(1_726_869_486_500), "2024-09-20T21:58:06.500Z");
    }

    #[test]
    fn a_date_bound_covers_its_whole_day() {
        let day = TimeBound::parse("2024-09-20").unwrap();
        assert_eq!(format_ms(day.since_ms()), "2024-09-20T00:00:00Z");
        assert_eq!(format_ms(day.until_ms()), "2024-09-20T23:59:59.999Z");
        assert!(TimeBound::parse("yesterday").is_err());
    }
}
