//! Each rule at and around its threshold.

use super::*;
use crate::domain::time::parse_time_text;

const MIN: i64 = 60_000;

fn at(text: &str) -> i64 {
    parse_time_text(text).unwrap()
}

fn point(at_ms: i64, soc: f64, plugged: bool, charging: bool) -> Point {
    Point {
        at_ms,
        soc_percent: Some(soc),
        plugged_in: Some(plugged),
        charging: Some(if charging {
            ChargingState::Charging
        } else {
            ChargingState::NotCharging
        }),
    }
}

fn data<'a>(points: &'a [Point], ends: &'a [SessionEnd], reauth: &'a [Reauth]) -> VehicleData<'a> {
    VehicleData {
        vehicle_id: "v1",
        name: "Van 1",
        points,
        session_ends: ends,
        reauth,
        asleep: &[],
    }
}

/// (rule, opened, resolved) of the alerts at `until`, with only `rule` on.
fn check(rule: Rule, d: &VehicleData, until: i64) -> Vec<(i64, Option<i64>)> {
    let mut rules = Rules::default();
    for other in Rule::ALL {
        rules.set_on(other, other == rule);
    }
    vehicle_alerts(d, &rules, &FleetZone::default(), until)
        .into_iter()
        .map(|a| {
            assert_eq!(a.rule, rule);
            (a.opened_at_ms, a.resolved_at_ms)
        })
        .collect()
}

#[test]
fn plugged_not_charging_opens_after_the_minutes_and_a_pause_that_resumes_in_time_does_not() {
    let t = at("2026-05-04T19:00:00Z");
    // (name, readings as (minute, soc, plugged, charging), until minute, expected (open, resolve) minutes)
    type Case<'a> = (
        &'a str,
        &'a [(i64, f64, bool, bool)],
        i64,
        &'a [(i64, Option<i64>)],
    );
    let cases: &[Case] = &[
        (
            "never charges: opens after 60 min",
            &[(0, 40.0, true, false)],
            600,
            &[(60, None)],
        ),
        ("not yet 60 min", &[(0, 40.0, true, false)], 59, &[]),
        (
            "exactly 60 min",
            &[(0, 40.0, true, false)],
            60,
            &[(60, None)],
        ),
        (
            "smart-charging pause resumes at 45 min",
            &[(0, 40.0, true, false), (45, 40.0, true, true)],
            600,
            &[],
        ),
        (
            "resumes exactly at 60 min: no alert",
            &[(0, 40.0, true, false), (60, 40.0, true, true)],
            600,
            &[],
        ),
        (
            "resumes at 90 min: resolved then",
            &[(0, 40.0, true, false), (90, 41.0, true, true)],
            600,
            &[(60, Some(90))],
        ),
        (
            "at the target: nothing to charge",
            &[(0, 80.0, true, false)],
            600,
            &[],
        ),
        (
            "unplugged: not this rule",
            &[(0, 40.0, false, false)],
            600,
            &[],
        ),
        (
            "unplugged after 2 h: resolved",
            &[(0, 40.0, true, false), (120, 40.0, false, false)],
            600,
            &[(60, Some(120))],
        ),
    ];
    for (name, readings, until, expected) in cases {
        let points: Vec<Point> = readings
            .iter()
            .map(|&(m, soc, plugged, charging)| point(t + m * MIN, soc, plugged, charging))
            .collect();
        let got = check(
            Rule::PluggedNotCharging,
            &data(&points, &[], &[]),
            t + until * MIN,
        );
        let expected: Vec<_> = expected
            .iter()
            .map(|&(o, r)| (t + o * MIN, r.map(|r| t + r * MIN)))
            .collect();
        assert_eq!(got, expected, "{name}");
    }
}

#[test]
fn low_battery_before_shift_checks_06_00_on_weekdays_across_midnight() {
    // Monday 4 May 2026.
    let evening = at("2026-05-03T20:00:00Z"); // Sunday evening
    // (name, readings, until, expected (opened, resolved))
    type Case<'a> = (
        &'a str,
        Vec<Point>,
        &'a str,
        Vec<(&'a str, Option<&'a str>)>,
    );
    let cases: &[Case] = &[
        (
            "below 50 % at 06:00 Monday, not charging: opens; charged at 07:00: resolves",
            vec![
                point(evening, 30.0, false, false),
                point(at("2026-05-04T07:00:00Z"), 55.0, true, true),
            ],
            "2026-05-04T12:00:00Z",
            vec![("2026-05-04T06:00:00Z", Some("2026-05-04T07:00:00Z"))],
        ),
        (
            "still low at noon: open",
            vec![point(evening, 30.0, false, false)],
            "2026-05-04T12:00:00Z",
            vec![("2026-05-04T06:00:00Z", None)],
        ),
        (
            "low all day: resolved at the end of the day, opens again Tuesday",
            vec![point(evening, 30.0, false, false)],
            "2026-05-05T12:00:00Z",
            vec![
                ("2026-05-04T06:00:00Z", Some("2026-05-05T00:00:00Z")),
                ("2026-05-05T06:00:00Z", None),
            ],
        ),
        (
            "exactly 50 %: not below",
            vec![point(evening, 50.0, false, false)],
            "2026-05-04T12:00:00Z",
            vec![],
        ),
        (
            "charging at 06:00: no alert",
            vec![point(evening, 30.0, true, true)],
            "2026-05-04T12:00:00Z",
            vec![],
        ),
        (
            "Saturday and Sunday are not shift days",
            vec![point(at("2026-05-01T20:00:00Z"), 30.0, false, false)],
            "2026-05-03T23:00:00Z",
            vec![],
        ),
        (
            "before 06:00: not yet",
            vec![point(evening, 30.0, false, false)],
            "2026-05-04T05:59:00Z",
            vec![],
        ),
    ];
    for (name, points, until, expected) in cases {
        let got = check(
            Rule::LowBatteryBeforeShift,
            &data(points, &[], &[]),
            at(until),
        );
        let expected: Vec<_> = expected.iter().map(|(o, r)| (at(o), r.map(at))).collect();
        assert_eq!(got, expected, "{name}");
    }
}

#[test]
fn charging_stopped_early_opens_at_the_end_and_resolves_at_the_target_or_a_day_later() {
    let end = at("2026-05-04T22:00:00Z");
    let early = [SessionEnd {
        ended_at_ms: end,
        end_percent: 62.0,
    }];
    let full = [SessionEnd {
        ended_at_ms: end,
        end_percent: 80.0,
    }];
    let later = [
        point(end + 60 * MIN, 62.0, false, false),
        point(end + 600 * MIN, 85.0, true, true),
    ];
    assert_eq!(
        check(
            Rule::ChargingStoppedEarly,
            &data(&[], &early, &[]),
            end + MIN
        ),
        [(end, None)]
    );
    assert_eq!(
        check(
            Rule::ChargingStoppedEarly,
            &data(&[], &full, &[]),
            end + MIN
        ),
        []
    );
    // 79.5 % reads as 80 %; 79.4 % as 79 %.
    for (percent, opens) in [(79.5, false), (79.4, true)] {
        let ends = [SessionEnd {
            ended_at_ms: end,
            end_percent: percent,
        }];
        assert_eq!(
            !check(
                Rule::ChargingStoppedEarly,
                &data(&[], &ends, &[]),
                end + MIN
            )
            .is_empty(),
            opens,
            "{percent}"
        );
    }
    assert_eq!(
        check(
            Rule::ChargingStoppedEarly,
            &data(&later, &early, &[]),
            end + 2000 * MIN
        ),
        [(end, Some(end + 600 * MIN))]
    );
    assert_eq!(
        check(
            Rule::ChargingStoppedEarly,
            &data(&[], &early, &[]),
            end + 3 * DAY_MS_TEST
        ),
        [(end, Some(end + DAY_MS_TEST))]
    );
}

const DAY_MS_TEST: i64 = crate::domain::time::DAY_MS;

#[test]
fn vehicle_quiet_opens_after_the_hours_without_a_reading_and_resolves_at_the_next() {
    let t = at("2026-05-04T00:00:00Z");
    let hour = 60 * MIN;
    let points = [
        point(t, 50.0, false, false),
        point(t + 8 * hour, 50.0, false, false),
    ];
    assert_eq!(
        check(Rule::VehicleQuiet, &data(&points, &[], &[]), t + 9 * hour),
        [(t + 6 * hour, Some(t + 8 * hour))]
    );
    // Exactly six hours apart: heard from in time.
    let points = [
        point(t, 50.0, false, false),
        point(t + 6 * hour, 50.0, false, false),
    ];
    assert_eq!(
        check(Rule::VehicleQuiet, &data(&points, &[], &[]), t + 7 * hour),
        []
    );
    // Silent until now.
    assert_eq!(
        check(
            Rule::VehicleQuiet,
            &data(&points[..1], &[], &[]),
            t + 6 * hour
        ),
        [(t + 6 * hour, None)]
    );
}

#[test]
fn a_car_smartcar_reports_asleep_is_not_quiet_but_one_that_stops_answering_is() {
    let t = at("2026-05-04T18:00:00Z");
    let hour = 60 * MIN;
    let points = [point(t, 50.0, false, false)];
    // Parked for the night; the relay's hourly polls are answered "asleep".
    let asleep: Vec<i64> = (1..=12).map(|h| t + h * hour).collect();
    let parked = VehicleData {
        asleep: &asleep,
        ..data(&points, &[], &[])
    };
    assert_eq!(check(Rule::VehicleQuiet, &parked, t + 12 * hour), []);
    // The answers stop after 02:00: quiet six hours later, across midnight.
    let stopped = VehicleData {
        asleep: &asleep[..8],
        ..data(&points, &[], &[])
    };
    assert_eq!(
        check(Rule::VehicleQuiet, &stopped, t + 16 * hour),
        [(t + 14 * hour, None)]
    );
}

#[test]
fn needs_reconnect_opens_on_the_error_and_resolves_when_smartcar_says_so() {
    let t = at("2026-05-04T10:00:00Z");
    let reauth = [
        Reauth {
            at_ms: t,
            needed: true,
        },
        Reauth {
            at_ms: t + MIN,
            needed: true,
        },
        Reauth {
            at_ms: t + 90 * MIN,
            needed: false,
        },
    ];
    assert_eq!(
        check(
            Rule::NeedsReconnect,
            &data(&[], &[], &reauth),
            t + 100 * MIN
        ),
        [(t, Some(t + 90 * MIN))]
    );
    assert_eq!(
        check(Rule::NeedsReconnect, &data(&[], &[], &reauth), t + 30 * MIN),
        [(t, None)]
    );
}

#[test]
fn no_deliveries_speaks_for_the_fleet_and_only_when_it_has_vehicles() {
    let t = at("2026-05-04T10:00:00Z");
    let hour = 60 * MIN;
    let rules = Rules::default();
    let zone = FleetZone::default();
    let alerts = no_deliveries(&[t, t + 4 * hour], true, &rules, &zone, t + 5 * hour);
    assert_eq!(alerts.len(), 1);
    assert_eq!(
        (alerts[0].opened_at_ms, alerts[0].resolved_at_ms),
        (t + 3 * hour, Some(t + 4 * hour))
    );
    assert!(alerts[0].vehicle_id.is_none());
    assert!(
        alerts[0].message.contains("Smartcar Dashboard"),
        "{}",
        alerts[0].message
    );
    assert!(no_deliveries(&[t], false, &rules, &zone, t + 5 * hour).is_empty());
    assert_eq!(
        no_deliveries(&[t], true, &rules, &zone, t + 3 * hour)[0].resolved_at_ms,
        None
    );
}

#[test]
fn ids_are_stable_and_differ_by_rule_vehicle_and_opening() {
    let alert = Alert {
        rule: Rule::VehicleQuiet,
        vehicle_id: Some("v1".into()),
        opened_at_ms: 1,
        resolved_at_ms: None,
        message: "a".into(),
    };
    let same = Alert {
        resolved_at_ms: Some(5),
        message: "b".into(),
        ..alert.clone()
    };
    assert_eq!(alert.id(), same.id());
    assert_eq!(alert.id().len(), 16);
    assert_ne!(
        alert.id(),
        Alert {
            opened_at_ms: 2,
            ..alert.clone()
        }
        .id()
    );
    assert_ne!(
        alert.id(),
        Alert {
            rule: Rule::PluggedNotCharging,
            ..alert.clone()
        }
        .id()
    );
    assert_ne!(
        alert.id(),
        Alert {
            vehicle_id: None,
            ..alert.clone()
        }
        .id()
    );
}

#[test]
fn settings_are_shown_as_key_value_and_set_with_checks() {
    let mut rules = Rules::default();
    assert_eq!(
        rules.settings(Rule::LowBatteryBeforeShift).text,
        "time=06:00 days=mon-fri percent=50"
    );
    assert_eq!(
        rules.settings(Rule::PluggedNotCharging).text,
        "target=80 minutes=60"
    );
    rules
        .set(Rule::LowBatteryBeforeShift, "time", "05:30")
        .unwrap();
    rules
        .set(Rule::LowBatteryBeforeShift, "days", "mon,wed,sat-sun")
        .unwrap();
    assert_eq!(
        rules.settings(Rule::LowBatteryBeforeShift).text,
        "time=05:30 days=mon,wed,sat,sun percent=50"
    );
    assert!(
        rules
            .set(Rule::LowBatteryBeforeShift, "time", "25:00")
            .unwrap_err()
            .contains("HH:MM")
    );
    assert!(
        rules
            .set(Rule::PluggedNotCharging, "target", "120")
            .unwrap_err()
            .contains("0 to 100")
    );
    assert!(
        rules
            .set(Rule::VehicleQuiet, "minutes", "5")
            .unwrap_err()
            .contains("hours=")
    );
    assert!(
        rules
            .set(Rule::NeedsReconnect, "x", "1")
            .unwrap_err()
            .contains("--on")
    );
    assert!(
        Rule::parse("plugged")
            .unwrap_err()
            .contains("plugged_not_charging")
    );
}
