//! The fleet's time zone: days and months of summaries (and later statements, logbooks
//! and alert times) are the owner's local ones, DST included. Timestamps stay UTC.

use chrono::{DateTime, Datelike, LocalResult, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

/// An IANA time zone, such as `Europe/Berlin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FleetZone(Tz);

impl Default for FleetZone {
    fn default() -> Self {
        FleetZone(Tz::UTC)
    }
}

impl FleetZone {
    /// Reads an IANA name (`Europe/Berlin`, `America/New_York`, `UTC`).
    pub fn parse(name: &str) -> Result<Self, String> {
        let name = name.trim();
        name.parse::<Tz>().map(FleetZone).map_err(|_| {
            format!(
                "{name:?} is not a time zone fleetdash knows: give an IANA name such as Europe/Berlin, America/New_York or UTC"
            )
        })
    }

    /// The system's zone, or UTC when it cannot be told.
    pub fn system() -> Self {
        iana_time_zone::get_timezone()
            .ok()
            .and_then(|name| FleetZone::parse(&name).ok())
            .unwrap_or_default()
    }

    /// Its IANA name.
    pub fn name(&self) -> &'static str {
        self.0.name()
    }

    /// The local date of an instant (ms since the epoch).
    pub fn date_of(&self, at_ms: i64) -> NaiveDate {
        DateTime::<Utc>::from_timestamp_millis(at_ms)
            .unwrap_or_default()
            .with_timezone(&self.0)
            .date_naive()
    }

    /// The local day (`2026-01-05`) or month (`2026-01`) an instant falls in.
    pub fn period_of(&self, at_ms: i64, monthly: bool) -> String {
        let date = self.date_of(at_ms);
        if monthly {
            format!("{:04}-{:02}", date.year(), date.month())
        } else {
            date.format("%Y-%m-%d").to_string()
        }
    }

    /// The instant (ms) of `minutes` past local midnight of `date`. A local time that a
    /// DST change skips is taken as the first minute after it that exists; one that
    /// occurs twice, as the first.
    pub fn at_local_minutes(&self, date: NaiveDate, minutes: u32) -> i64 {
        let midnight = date.and_hms_opt(0, 0, 0).unwrap_or_default();
        let wanted = midnight + chrono::Duration::minutes(i64::from(minutes));
        // No zone skips more than a few hours.
        (0..=240)
            .find_map(|skip| {
                self.0
                    .from_local_datetime(&(wanted + chrono::Duration::minutes(skip)))
                    .earliest()
            })
            .map_or_else(
                || wanted.and_utc().timestamp_millis(),
                |t| t.timestamp_millis(),
            )
    }

    /// The first instant (ms) of the local day or month after the one `at_ms` falls in
    /// (always later than `at_ms`).
    pub fn next_period_start_ms(&self, at_ms: i64, monthly: bool) -> i64 {
        let date = self.date_of(at_ms);
        let next = if monthly {
            date.with_day(1)
                .and_then(|first| first.checked_add_months(chrono::Months::new(1)))
        } else {
            date.succ_opt()
        };
        next.map_or(i64::MAX, |next| self.start_of_day_ms(next))
            .max(at_ms.saturating_add(1))
    }

    /// The first instant (ms) of a local date. On a day that starts inside a DST gap,
    /// the first instant that exists.
    pub fn start_of_day_ms(&self, date: NaiveDate) -> i64 {
        let midnight = date.and_hms_opt(0, 0, 0).unwrap_or_default();
        match self.0.from_local_datetime(&midnight) {
            LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t.timestamp_millis(),
            // No zone skips more than a few hours, and none skips past 04:00.
            LocalResult::None => (1..=4)
                .find_map(|h| {
                    self.0
                        .from_local_datetime(&(midnight + chrono::Duration::hours(h)))
                        .earliest()
                })
                .map_or_else(
                    || midnight.and_utc().timestamp_millis(),
                    |t| t.timestamp_millis(),
                ),
        }
    }

    /// The first instant (ms) of the local month `months_back` months before the one
    /// `at_ms` falls in (0: its own month).
    pub fn month_start_ms(&self, at_ms: i64, months_back: u32) -> i64 {
        let date = self.date_of(at_ms);
        let first = date.with_day(1).unwrap_or(date);
        let first = first
            .checked_sub_months(chrono::Months::new(months_back))
            .unwrap_or(first);
        self.start_of_day_ms(first)
    }

    /// The local month `YYYY-MM` as [start, end) in ms: from local midnight of the 1st to
    /// local midnight of the next month's 1st.
    pub fn month_bounds(&self, month: &str) -> Result<(i64, i64), String> {
        let first = NaiveDate::parse_from_str(&format!("{}-01", month.trim()), "%Y-%m-%d")
            .map_err(|_| {
                format!("{month:?} is not a month: give it as YYYY-MM, such as 2026-05")
            })?;
        let next = first
            .checked_add_months(chrono::Months::new(1))
            .ok_or_else(|| format!("{month:?} is too far in the future"))?;
        Ok((self.start_of_day_ms(first), self.start_of_day_ms(next)))
    }

    /// The local date and time of an instant: `2026-01-05` and `14:03`.
    pub fn local_date_and_time(&self, at_ms: i64) -> (String, String) {
        let local = DateTime::<Utc>::from_timestamp_millis(at_ms)
            .unwrap_or_default()
            .with_timezone(&self.0);
        (
            local.format("%Y-%m-%d").to_string(),
            local.format("%H:%M").to_string(),
        )
    }

    /// The local time of an instant as `2026-01-05 14:03`.
    pub fn local_minutes(&self, at_ms: i64) -> String {
        DateTime::<Utc>::from_timestamp_millis(at_ms)
            .unwrap_or_default()
            .with_timezone(&self.0)
            .format("%Y-%m-%d %H:%M")
            .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::time::parse_time_text;

    fn check(zone: &str, at: &str, monthly: bool, expected: &str) {
        let zone = FleetZone::parse(zone).unwrap();
        let at_ms = parse_time_text(at).unwrap();
        assert_eq!(zone.period_of(at_ms, monthly), expected, "{at} in {zone:?}");
    }

    #[test]
    fn instants_fall_in_the_local_day_and_month() {
        for (zone, at, monthly, expected) in [
            // 23:30 UTC on the 31st is 01:30 on the 1st in Berlin (summer time).
            ("Europe/Berlin", "2026-03-31T23:30:00Z", true, "2026-04"),
            ("UTC", "2026-03-31T23:30:00Z", true, "2026-03"),
            // Winter: Berlin is UTC+1, so 22:59 UTC stays on the 31st.
            ("Europe/Berlin", "2026-12-31T22:59:00Z", true, "2026-12"),
            ("Europe/Berlin", "2026-12-31T23:00:00Z", true, "2027-01"),
            // Both sides of the autumn change land on the 25th of October.
            ("Europe/Berlin", "2026-10-24T22:30:00Z", false, "2026-10-25"),
            ("Europe/Berlin", "2026-10-25T22:30:00Z", false, "2026-10-25"),
            ("Europe/Berlin", "2026-10-25T23:00:00Z", false, "2026-10-26"),
            // West of Greenwich the day ends later.
            (
                "America/New_York",
                "2026-07-01T03:59:00Z",
                false,
                "2026-06-30",
            ),
            (
                "America/New_York",
                "2026-07-01T04:00:00Z",
                false,
                "2026-07-01",
            ),
        ] {
            check(zone, at, monthly, expected);
        }
    }

    #[test]
    fn a_local_day_starts_at_local_midnight_even_on_dst_days() {
        let berlin = FleetZone::parse("Europe/Berlin").unwrap();
        let day = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let utc = |s: &str| parse_time_text(s).unwrap();
        assert_eq!(
            berlin.start_of_day_ms(day("2026-03-29")),
            utc("2026-03-28T23:00:00Z")
        );
        assert_eq!(
            berlin.start_of_day_ms(day("2026-03-30")),
            utc("2026-03-29T22:00:00Z")
        );
        // Havana's spring change happens at midnight: the day starts at 01:00.
        let havana = FleetZone::parse("America/Havana").unwrap();
        assert_eq!(
            havana.start_of_day_ms(day("2026-03-08")),
            utc("2026-03-08T05:00:00Z")
        );
    }

    #[test]
    fn months_start_at_local_midnight_of_the_first() {
        let berlin = FleetZone::parse("Europe/Berlin").unwrap();
        let utc = |s: &str| parse_time_text(s).unwrap();
        for (at, back, expected) in [
            // 01:30 on 1 April in Berlin is April already.
            ("2026-03-31T23:30:00Z", 0, "2026-03-31T22:00:00Z"),
            ("2026-03-31T23:30:00Z", 1, "2026-02-28T23:00:00Z"),
            ("2026-03-31T21:30:00Z", 0, "2026-02-28T23:00:00Z"),
            // Back across a year end.
            ("2026-01-15T12:00:00Z", 1, "2025-11-30T23:00:00Z"),
        ] {
            assert_eq!(
                berlin.month_start_ms(utc(at), back),
                utc(expected),
                "{at} {back}"
            );
        }
    }

    #[test]
    fn a_month_is_its_local_days() {
        let berlin = FleetZone::parse("Europe/Berlin").unwrap();
        let utc = |s: &str| parse_time_text(s).unwrap();
        assert_eq!(
            berlin.month_bounds("2026-03").unwrap(),
            (utc("2026-02-28T23:00:00Z"), utc("2026-03-31T22:00:00Z"))
        );
        assert_eq!(
            berlin.month_bounds("2026-12").unwrap().1,
            utc("2026-12-31T23:00:00Z")
        );
        for bad in ["2026-13", "May", "2026-5-1", ""] {
            assert!(
                berlin.month_bounds(bad).unwrap_err().contains("YYYY-MM"),
                "{bad}"
            );
        }
    }

    #[test]
    fn unknown_zones_are_refused_with_an_example() {
        let problem = FleetZone::parse("Mars/Olympus").unwrap_err();
        assert!(problem.contains("Europe/Berlin"), "{problem}");
        assert_eq!(FleetZone::parse(" UTC ").unwrap().name(), "UTC");
    }
}
