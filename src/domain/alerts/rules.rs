//! Each rule's walk over a vehicle's (or the fleet's) time-ordered data.

use chrono::Datelike;

use super::settings::Rules;
use super::{Alert, Point, Rule, VehicleData};
use crate::domain::ChargingState;
use crate::domain::time::{DAY_MS, MINUTE_MS};
use crate::domain::zone::FleetZone;

const HOUR_MS: i64 = 60 * MINUTE_MS;

fn pct(value: f64) -> String {
    format!("{value:.0} %")
}

/// The known state after each reading: (time, soc, plugged, charging), with values carried
/// forward from earlier readings.
fn states(
    points: &[Point],
) -> impl Iterator<Item = (i64, Option<f64>, Option<bool>, Option<ChargingState>)> + '_ {
    let (mut soc, mut plugged, mut charging) = (None, None, None);
    points.iter().map(move |p| {
        soc = p.soc_percent.or(soc);
        plugged = p.plugged_in.or(plugged);
        charging = p.charging.or(charging);
        (p.at_ms, soc, plugged, charging)
    })
}

fn alert(
    rule: Rule,
    data: &VehicleData,
    opened: i64,
    resolved: Option<i64>,
    message: String,
) -> Alert {
    Alert {
        rule,
        vehicle_id: Some(data.vehicle_id.to_owned()),
        opened_at_ms: opened,
        resolved_at_ms: resolved,
        message,
    }
}

pub(super) fn plugged_not_charging(
    data: &VehicleData,
    rules: &Rules,
    zone: &FleetZone,
    until_ms: i64,
) -> Vec<Alert> {
    let rule = rules.plugged_not_charging;
    let wait = rule.minutes * MINUTE_MS;
    let mut alerts = Vec::new();
    // Since when the condition holds, and the charge then.
    let mut since: Option<(i64, f64)> = None;
    let message = |since: i64, soc: f64| {
        format!(
            "{} is plugged in but not charging, at {} (below its {} target) since {}: check the charger, the cable and the car's charging schedule.",
            data.name,
            pct(soc),
            pct(rule.target),
            zone.local_minutes(since)
        )
    };
    for (at, soc, plugged, charging) in states(data.points).filter(|s| s.0 <= until_ms) {
        let holds = plugged == Some(true)
            && charging != Some(ChargingState::Charging)
            && soc.is_some_and(|s| s < rule.target);
        match (holds, since) {
            (true, None) => since = Some((at, soc.unwrap_or_default())),
            (false, Some((from, soc))) => {
                if from + wait < at {
                    alerts.push(alert(
                        Rule::PluggedNotCharging,
                        data,
                        from + wait,
                        Some(at),
                        message(from, soc),
                    ));
                }
                since = None;
            }
            _ => {}
        }
    }
    if let Some((from, soc)) = since
        && from + wait <= until_ms
    {
        alerts.push(alert(
            Rule::PluggedNotCharging,
            data,
            from + wait,
            None,
            message(from, soc),
        ));
    }
    alerts
}

pub(super) fn charging_stopped_early(
    data: &VehicleData,
    rules: &Rules,
    zone: &FleetZone,
    until_ms: i64,
) -> Vec<Alert> {
    let target = rules.charging_stopped_early.target;
    let mut alerts = Vec::new();
    let mut open_until = i64::MIN;
    for end in data
        .session_ends
        .iter()
        .filter(|e| e.ended_at_ms <= until_ms)
    {
        // Compared as the owner reads it, in whole percent: a charger that stops at
        // 79.9 % of an 80 % target did its job.
        if end.end_percent.round() >= target || end.ended_at_ms < open_until {
            continue;
        }
        // Resolved when it next reaches the target, or a day later.
        let after = data.points.partition_point(|p| p.at_ms <= end.ended_at_ms);
        let reached = data.points[after..]
            .iter()
            .take_while(|p| p.at_ms <= end.ended_at_ms + DAY_MS)
            .find(|p| p.soc_percent.is_some_and(|s| s >= target))
            .map(|p| p.at_ms);
        let resolved = reached.unwrap_or(i64::MAX).min(end.ended_at_ms + DAY_MS);
        open_until = resolved;
        alerts.push(alert(
            Rule::ChargingStoppedEarly,
            data,
            end.ended_at_ms,
            Some(resolved),
            format!(
                "{} stopped charging at {}, below its {} target ({}): check whether the charger, the car or a timer ended the charge.",
                data.name,
                pct(end.end_percent),
                pct(target),
                zone.local_minutes(end.ended_at_ms)
            ),
        ));
    }
    alerts
}

pub(super) fn low_battery_before_shift(
    data: &VehicleData,
    rules: &Rules,
    zone: &FleetZone,
    until_ms: i64,
) -> Vec<Alert> {
    let rule = rules.low_battery_before_shift;
    let Some(first) = data.points.first() else {
        return Vec::new();
    };
    let mut alerts = Vec::new();
    let known: Vec<_> = states(data.points).collect();
    let mut date = zone.date_of(first.at_ms);
    let last = zone.date_of(until_ms);
    while date <= last {
        let weekday = date.weekday().num_days_from_monday() as usize;
        let shift = zone.at_local_minutes(date, rule.time_min);
        let next_day = date
            .succ_opt()
            .map_or(i64::MAX, |d| zone.start_of_day_ms(d));
        // The readings up to the shift's start, and the first after it.
        let after = known.partition_point(|s| s.0 <= shift);
        if rule.days[weekday]
            && shift <= until_ms
            && after > 0
            && let (_, Some(soc), _, charging) = known[after - 1]
            && soc < rule.percent
            && charging != Some(ChargingState::Charging)
        {
            let charged = data.points[after..]
                .iter()
                .find(|p| p.soc_percent.is_some_and(|s| s >= rule.percent))
                .map_or(i64::MAX, |p| p.at_ms);
            alerts.push(alert(
                    Rule::LowBatteryBeforeShift,
                    data,
                    shift,
                    Some(charged.min(next_day)),
                    format!(
                        "{} has {} at {} and is not charging (below {}): charge it before the shift or plan another car.",
                        data.name,
                        pct(soc),
                        zone.local_minutes(shift),
                        pct(rule.percent)
                    ),
                ));
        }
        match date.succ_opt() {
            Some(next) => date = next,
            None => break,
        }
    }
    alerts
}

/// The silences longer than `wait_ms` in `times` (in order, up to `until_ms`): (last heard,
/// heard again), the last one `None` while it lasts.
fn silences(
    times: impl Iterator<Item = i64>,
    wait_ms: i64,
    until_ms: i64,
) -> Vec<(i64, Option<i64>)> {
    let times: Vec<i64> = times.filter(|t| *t <= until_ms).collect();
    let mut gaps: Vec<(i64, Option<i64>)> = times
        .windows(2)
        .filter(|w| w[0] + wait_ms < w[1])
        .map(|w| (w[0], Some(w[1])))
        .collect();
    if let Some(&last) = times.last()
        && last + wait_ms <= until_ms
    {
        gaps.push((last, None));
    }
    gaps
}

pub(super) fn vehicle_quiet(
    data: &VehicleData,
    rules: &Rules,
    zone: &FleetZone,
    until_ms: i64,
) -> Vec<Alert> {
    let wait = (rules.vehicle_quiet.hours * HOUR_MS as f64) as i64;
    let mut heard: Vec<i64> = data.points.iter().map(|p| p.at_ms).collect();
    heard.extend_from_slice(data.asleep);
    heard.sort_unstable();
    silences(heard.into_iter(), wait, until_ms)
        .into_iter()
        .map(|(last, again)| {
            alert(
                Rule::VehicleQuiet,
                data,
                last + wait,
                again,
                format!(
                    "{} has sent nothing since {}: it may be out of reach (an underground car park, no signal), its 12 V battery may be low, or its Smartcar connection may have ended. Open the Smartcar Dashboard to check the vehicle.",
                    data.name,
                    zone.local_minutes(last)
                ),
            )
        })
        .collect()
}

pub(super) fn needs_reconnect(data: &VehicleData, zone: &FleetZone, until_ms: i64) -> Vec<Alert> {
    let mut alerts: Vec<Alert> = Vec::new();
    for verdict in data.reauth.iter().filter(|r| r.at_ms <= until_ms) {
        let open = alerts.last_mut().filter(|a| a.resolved_at_ms.is_none());
        match (verdict.needed, open) {
            (true, None) => alerts.push(alert(
                Rule::NeedsReconnect,
                data,
                verdict.at_ms,
                None,
                format!(
                    "{} needs its owner to sign in with Smartcar again (reported {}): until then nothing new arrives. Use Re-connect on the Account page or `fleetdash login`.",
                    data.name,
                    zone.local_minutes(verdict.at_ms)
                ),
            )),
            (false, Some(open)) => open.resolved_at_ms = Some(verdict.at_ms),
            _ => {}
        }
    }
    alerts
}

pub(super) fn no_deliveries(
    arrivals_ms: &[i64],
    rules: &Rules,
    zone: &FleetZone,
    until_ms: i64,
) -> Vec<Alert> {
    let wait = (rules.no_deliveries.hours * HOUR_MS as f64) as i64;
    silences(arrivals_ms.iter().copied(), wait, until_ms)
        .into_iter()
        .map(|(last, again)| Alert {
            rule: Rule::NoDeliveries,
            vehicle_id: None,
            opened_at_ms: last + wait,
            resolved_at_ms: again,
            message: format!(
                "No delivery from Smartcar since {}: Smartcar disables a webhook whose deliveries keep failing. In the Smartcar Dashboard, check that the webhook is enabled and its callback URL is this server's, and look at its delivery log; then check that this server is reachable from the internet.",
                zone.local_minutes(last)
            ),
        })
        .collect()
}
