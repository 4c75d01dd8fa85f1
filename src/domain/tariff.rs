//! Tariffs: a price per kWh with an optional off-peak window of its own price, in the
//! fleet's time zone (a window may cross midnight, as most night tariffs do). Charging is
//! priced by when the energy was added: [`off_peak_spans`] says which parts of a session
//! fall in the window, and the store measures the energy added in each.

use super::zone::FleetZone;

/// A daily window of local time, `22:00-06:00`; `end` before `start` crosses midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Minutes after local midnight where it starts.
    pub start_min: u32,
    /// Minutes after local midnight where it ends.
    pub end_min: u32,
}

impl Window {
    /// Reads `HH:MM-HH:MM` (24-hour local times).
    pub fn parse(text: &str) -> Result<Window, String> {
        let bad = || {
            format!(
                "{text:?} is not a time window: give it as HH:MM-HH:MM in 24-hour local time, such as 22:00-06:00"
            )
        };
        let (start, end) = text.trim().split_once('-').ok_or_else(bad)?;
        let window = Window {
            start_min: minutes_of_day(start).ok_or_else(bad)?,
            end_min: minutes_of_day(end).ok_or_else(bad)?,
        };
        if window.start_min == window.end_min {
            return Err(format!(
                "{text:?} starts where it ends: an off-peak window needs a length"
            ));
        }
        Ok(window)
    }

    /// `22:00-06:00`.
    pub fn text(&self) -> String {
        format!(
            "{:02}:{:02}-{:02}:{:02}",
            self.start_min / 60,
            self.start_min % 60,
            self.end_min / 60,
            self.end_min % 60
        )
    }
}

/// Minutes after midnight of a 24-hour `HH:MM`.
pub fn minutes_of_day(hhmm: &str) -> Option<u32> {
    let hhmm = hhmm.trim();
    let (h, m) = hhmm.split_once(':')?;
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60 && hhmm.len() == 5).then_some(h * 60 + m)
}

/// A price per kWh, and another one inside an off-peak window.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Tariff {
    /// The price outside the window (or always, without one).
    pub rate: Option<f64>,
    /// The window and its price.
    pub off_peak: Option<(Window, f64)>,
}

/// What a charge costs under a tariff.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Priced {
    /// Energy added in all.
    pub energy_kwh: f64,
    /// The part of it added inside the off-peak window.
    pub off_peak_kwh: f64,
    /// The amount, when the tariff prices every part.
    pub amount: Option<f64>,
}

impl Tariff {
    /// Prices `energy_kwh` of which `off_peak_kwh` was added in the window (clamped to
    /// the energy). Without a rate for a part that has energy, there is no amount.
    pub fn price(&self, energy_kwh: f64, off_peak_kwh: f64) -> Priced {
        if self.rate.is_none() && self.off_peak.is_none() {
            return Priced {
                energy_kwh,
                off_peak_kwh: 0.0,
                amount: None,
            };
        }
        let off_peak_kwh = match self.off_peak {
            Some(_) => off_peak_kwh.clamp(0.0, energy_kwh.max(0.0)),
            None => 0.0,
        };
        let peak_kwh = energy_kwh - off_peak_kwh;
        let peak = if peak_kwh > 0.0 {
            self.rate.map(|r| r * peak_kwh)
        } else {
            Some(0.0)
        };
        let off = match self.off_peak {
            Some((_, rate)) => Some(rate * off_peak_kwh),
            None => Some(0.0),
        };
        Priced {
            energy_kwh,
            off_peak_kwh,
            amount: peak.zip(off).map(|(a, b)| a + b),
        }
    }
}

/// The parts of `[from_ms, to_ms]` inside the daily `window` of `zone`, in time order.
pub fn off_peak_spans(
    zone: &FleetZone,
    window: Window,
    from_ms: i64,
    to_ms: i64,
) -> Vec<(i64, i64)> {
    if to_ms <= from_ms {
        return Vec::new();
    }
    let crosses_midnight = window.end_min < window.start_min;
    // A window that crosses midnight and started the day before can still be open.
    let mut date = zone
        .date_of(from_ms)
        .pred_opt()
        .unwrap_or(zone.date_of(from_ms));
    let last = zone.date_of(to_ms);
    let mut spans = Vec::new();
    while date <= last {
        let start = zone.at_local_minutes(date, window.start_min);
        let end_date = if crosses_midnight {
            date.succ_opt().unwrap_or(date)
        } else {
            date
        };
        let end = zone.at_local_minutes(end_date, window.end_min);
        let (a, b) = (start.max(from_ms), end.min(to_ms));
        if a < b {
            spans.push((a, b));
        }
        match date.succ_opt() {
            Some(next) => date = next,
            None => break,
        }
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::time::parse_time_text;

    fn ms(text: &str) -> i64 {
        parse_time_text(text).unwrap()
    }

    fn check(zone: &str, window: &str, from: &str, to: &str, expected: &[(&str, &str)]) {
        let zone = FleetZone::parse(zone).unwrap();
        let spans = off_peak_spans(&zone, Window::parse(window).unwrap(), ms(from), ms(to));
        let expected: Vec<(i64, i64)> = expected.iter().map(|(a, b)| (ms(a), ms(b))).collect();
        assert_eq!(spans, expected, "{window} over {from}..{to}");
    }

    #[test]
    fn spans_of_a_session_inside_the_window_are_cut_to_the_minute() {
        // zone, window, from, to, the off-peak spans expected.
        type Case<'a> = (&'a str, &'a str, &'a str, &'a str, &'a [(&'a str, &'a str)]);
        let cases: &[Case] = &[
            // 20:00-23:30 across a 22:00 start: 90 minutes off-peak.
            (
                "UTC",
                "22:00-06:00",
                "2026-03-02T20:00:00Z",
                "2026-03-02T23:30:00Z",
                &[("2026-03-02T22:00:00Z", "2026-03-02T23:30:00Z")],
            ),
            // Across midnight and out the other end at 06:00.
            (
                "UTC",
                "22:00-06:00",
                "2026-03-02T21:00:00Z",
                "2026-03-03T07:00:00Z",
                &[("2026-03-02T22:00:00Z", "2026-03-03T06:00:00Z")],
            ),
            // Starting inside yesterday's window.
            (
                "UTC",
                "22:00-06:00",
                "2026-03-03T02:00:00Z",
                "2026-03-03T09:00:00Z",
                &[("2026-03-03T02:00:00Z", "2026-03-03T06:00:00Z")],
            ),
            // Entirely outside.
            (
                "UTC",
                "22:00-06:00",
                "2026-03-03T08:00:00Z",
                "2026-03-03T17:00:00Z",
                &[],
            ),
            // A daytime window, two days.
            (
                "UTC",
                "11:00-15:00",
                "2026-03-03T12:00:00Z",
                "2026-03-04T12:00:00Z",
                &[
                    ("2026-03-03T12:00:00Z", "2026-03-03T15:00:00Z"),
                    ("2026-03-04T11:00:00Z", "2026-03-04T12:00:00Z"),
                ],
            ),
            // Local time: Berlin's 22:00 is 21:00 UTC in winter.
            (
                "Europe/Berlin",
                "22:00-06:00",
                "2026-01-10T20:00:00Z",
                "2026-01-10T23:00:00Z",
                &[("2026-01-10T21:00:00Z", "2026-01-10T23:00:00Z")],
            ),
            // The spring DST night: 22:00 CET to 06:00 CEST is seven hours.
            (
                "Europe/Berlin",
                "22:00-06:00",
                "2026-03-28T12:00:00Z",
                "2026-03-29T12:00:00Z",
                &[("2026-03-28T21:00:00Z", "2026-03-29T04:00:00Z")],
            ),
            // Exactly at the edges: the window's end is where the session starts.
            (
                "UTC",
                "22:00-06:00",
                "2026-03-03T06:00:00Z",
                "2026-03-03T08:00:00Z",
                &[],
            ),
        ];
        for (zone, window, from, to, expected) in cases {
            check(zone, window, from, to, expected);
        }
    }

    #[test]
    fn windows_are_read_as_hh_mm_pairs_and_bad_ones_say_how_to_write_them() {
        assert_eq!(
            Window::parse("22:00-06:30").unwrap(),
            Window {
                start_min: 22 * 60,
                end_min: 6 * 60 + 30
            }
        );
        assert_eq!(
            Window::parse(" 00:00 - 07:00 ").unwrap().text(),
            "00:00-07:00"
        );
        for bad in [
            "22-6",
            "24:00-06:00",
            "22:00",
            "22:00-22:00",
            "9:00-10:00",
            "",
        ] {
            let error = Window::parse(bad).unwrap_err();
            assert!(
                error.contains("HH:MM") || error.contains("length"),
                "{bad}: {error}"
            );
        }
    }

    #[test]
    fn a_tariff_prices_each_part_at_its_rate_and_needs_a_rate_for_every_part_with_energy() {
        let window = Window::parse("22:00-06:00").unwrap();
        let tariff = Tariff {
            rate: Some(0.30),
            off_peak: Some((window, 0.20)),
        };
        let priced = tariff.price(10.0, 4.0);
        assert!((priced.amount.unwrap() - (6.0 * 0.30 + 4.0 * 0.20)).abs() < 1e-9);
        // More off-peak energy than energy: all of it off-peak.
        assert_eq!(tariff.price(2.0, 3.0).off_peak_kwh, 2.0);
        // Without an off-peak window, all at the rate.
        let flat = Tariff {
            rate: Some(0.30),
            off_peak: None,
        };
        assert_eq!(flat.price(10.0, 4.0).off_peak_kwh, 0.0);
        assert!((flat.price(10.0, 4.0).amount.unwrap() - 3.0).abs() < 1e-9);
        // Only an off-peak rate: fine while everything was off-peak, unknown otherwise.
        let night_only = Tariff {
            rate: None,
            off_peak: Some((window, 0.2)),
        };
        assert!(night_only.price(5.0, 5.0).amount.is_some());
        assert!(night_only.price(5.0, 4.0).amount.is_none());
    }
}
