//! Alerts: what needs the owner's attention before the next shift, derived from a vehicle's
//! readings, sessions and errors (and the fleet's deliveries) and the owner's rules at a
//! time T. Pure and deterministic: the same data and rules give the same alerts with the
//! same ids, so `reprocess` changes nothing and a listing can be repeated.
//!
//! Each rule walks the time-ordered data and yields alert periods: an alert opens once
//! when its condition has held as long as the rule asks and resolves when the condition
//! ends; while one is open, the same condition does not open another.

mod news;
mod rules;
mod settings;

pub use news::{Look, news};
pub use settings::{Early, OnOff, Plugged, Quiet, RuleSettings, Rules, Shift, days_text};

use sha2::{Digest, Sha256};

use super::ChargingState;
use super::zone::FleetZone;

/// The rules, by their names in the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Rule {
    /// Below a charge at the shift's start and not charging.
    LowBatteryBeforeShift,
    /// Plugged in below the target and not charging for a while.
    PluggedNotCharging,
    /// A charging session ended below the target.
    ChargingStoppedEarly,
    /// No reading from the vehicle for hours.
    VehicleQuiet,
    /// No delivery at all for hours.
    NoDeliveries,
    /// The vehicle's owner must sign in again.
    NeedsReconnect,
}

impl Rule {
    /// Every rule, in the order they are listed.
    pub const ALL: [Rule; 6] = [
        Rule::LowBatteryBeforeShift,
        Rule::PluggedNotCharging,
        Rule::ChargingStoppedEarly,
        Rule::VehicleQuiet,
        Rule::NoDeliveries,
        Rule::NeedsReconnect,
    ];

    /// The contract's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::LowBatteryBeforeShift => "low_battery_before_shift",
            Rule::PluggedNotCharging => "plugged_not_charging",
            Rule::ChargingStoppedEarly => "charging_stopped_early",
            Rule::VehicleQuiet => "vehicle_quiet",
            Rule::NoDeliveries => "no_deliveries",
            Rule::NeedsReconnect => "needs_reconnect",
        }
    }

    /// What it means, as a short title for the owner ("Plugged in, not charging").
    pub fn title(self) -> &'static str {
        match self {
            Rule::LowBatteryBeforeShift => "Low battery before the shift",
            Rule::PluggedNotCharging => "Plugged in, not charging",
            Rule::ChargingStoppedEarly => "Charging stopped early",
            Rule::VehicleQuiet => "No data from the car",
            Rule::NoDeliveries => "No deliveries from Smartcar",
            Rule::NeedsReconnect => "Needs re-connect",
        }
    }

    /// When it opens, in a sentence (the settings' names in brackets are the rule's).
    pub fn describe(self) -> &'static str {
        match self {
            Rule::LowBatteryBeforeShift => {
                "At the shift's start on the days picked, a car below the charge given and not charging."
            }
            Rule::PluggedNotCharging => {
                "A car plugged in below the charge given that has not charged for the minutes given: a charger, cable or timer problem."
            }
            Rule::ChargingStoppedEarly => "A charge that ended below the charge given.",
            Rule::VehicleQuiet => {
                "No reading from a car for the hours given (out of reach, a low 12 V battery, or its Smartcar connection ended)."
            }
            Rule::NoDeliveries => {
                "No delivery at all for the hours given while the fleet has cars: Smartcar may have disabled the webhook."
            }
            Rule::NeedsReconnect => {
                "Smartcar reports that a car's owner must sign in again before its data can flow."
            }
        }
    }

    /// Reads a rule's name.
    pub fn parse(name: &str) -> Result<Rule, String> {
        Rule::ALL
            .into_iter()
            .find(|r| r.as_str() == name.trim())
            .ok_or_else(|| {
                format!(
                    "{name:?} is not a rule: the rules are {}",
                    Rule::ALL.map(Rule::as_str).join(", ")
                )
            })
    }
}

/// One alert: a rule's condition, about a vehicle (or the whole fleet), from when it opened
/// until it resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// Which rule.
    pub rule: Rule,
    /// The vehicle, or `None` for the fleet.
    pub vehicle_id: Option<String>,
    /// When it opened, ms.
    pub opened_at_ms: i64,
    /// When it resolved; `None` while open.
    pub resolved_at_ms: Option<i64>,
    /// What happened and what to do, in plain words.
    pub message: String,
}

impl Alert {
    /// Stable: the same rule, vehicle and opening give the same id in every listing.
    pub fn id(&self) -> String {
        let mut hash = Sha256::new();
        hash.update(self.rule.as_str());
        hash.update([0]);
        hash.update(self.vehicle_id.as_deref().unwrap_or(""));
        hash.update([0]);
        hash.update(self.opened_at_ms.to_be_bytes());
        hex::encode(&hash.finalize()[..8])
    }

    /// Whether it is open at `at_ms`.
    pub fn open_at(&self, at_ms: i64) -> bool {
        self.opened_at_ms <= at_ms && self.resolved_at_ms.is_none_or(|r| r > at_ms)
    }
}

/// One moment of one vehicle, as the `readings` table holds it.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Point {
    /// When, ms.
    pub at_ms: i64,
    /// State of charge, 0..=100.
    pub soc_percent: Option<f64>,
    /// Cable connected.
    pub plugged_in: Option<bool>,
    /// Charging state.
    pub charging: Option<ChargingState>,
}

/// A charging session's end, for `charging_stopped_early`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SessionEnd {
    /// When it ended (unplugged), ms.
    pub ended_at_ms: i64,
    /// The charge it ended at.
    pub end_percent: f64,
}

/// A re-authentication verdict Smartcar reported: needed (true) or resolved (false).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reauth {
    /// When, ms.
    pub at_ms: i64,
    /// Needed from then on.
    pub needed: bool,
}

/// What a vehicle's alerts are derived from, up to `until_ms`.
#[derive(Debug, Clone, PartialEq)]
pub struct VehicleData<'a> {
    /// Smartcar id.
    pub vehicle_id: &'a str,
    /// Its display name, for messages.
    pub name: &'a str,
    /// Its readings in time order.
    pub points: &'a [Point],
    /// Its complete charging sessions' ends, in time order.
    pub session_ends: &'a [SessionEnd],
    /// Re-authentication verdicts, in time order.
    pub reauth: &'a [Reauth],
    /// When Smartcar answered that the vehicle is asleep (`VEHICLE_STATE` `ASLEEP`), in
    /// time order: it was reached, so it is not quiet, though it sent no reading.
    pub asleep: &'a [i64],
}

/// Every alert of one vehicle that opened up to `until_ms` (resolutions after it are not
/// known yet: those stay open).
pub fn vehicle_alerts(
    data: &VehicleData,
    rules: &Rules,
    zone: &FleetZone,
    until_ms: i64,
) -> Vec<Alert> {
    let mut alerts = Vec::new();
    if rules.plugged_not_charging.on {
        alerts.extend(rules::plugged_not_charging(data, rules, zone, until_ms));
    }
    if rules.charging_stopped_early.on {
        alerts.extend(rules::charging_stopped_early(data, rules, zone, until_ms));
    }
    if rules.low_battery_before_shift.on {
        alerts.extend(rules::low_battery_before_shift(data, rules, zone, until_ms));
    }
    if rules.vehicle_quiet.on {
        alerts.extend(rules::vehicle_quiet(data, rules, zone, until_ms));
    }
    if rules.needs_reconnect.on {
        alerts.extend(rules::needs_reconnect(data, zone, until_ms));
    }
    for alert in &mut alerts {
        if alert.resolved_at_ms.is_some_and(|r| r > until_ms) {
            alert.resolved_at_ms = None;
        }
    }
    alerts.sort_by_key(|a| (a.opened_at_ms, a.rule));
    alerts
}

/// The fleet's `no_deliveries` alerts from the arrival times of its deliveries (in order),
/// up to `until_ms`; none while the fleet has no vehicles.
pub fn no_deliveries(
    arrivals_ms: &[i64],
    has_vehicles: bool,
    rules: &Rules,
    zone: &FleetZone,
    until_ms: i64,
) -> Vec<Alert> {
    if !rules.no_deliveries.on || !has_vehicles {
        return Vec::new();
    }
    rules::no_deliveries(arrivals_ms, rules, zone, until_ms)
}

#[cfg(test)]
mod tests;
