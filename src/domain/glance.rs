//! The fleet at a glance: what each vehicle is doing now, and which ones need the owner
//! (the Fleet page's summary strip and "Needs attention" area). Pure: the same vehicles at
//! the same instant give the same answer.

use super::ChargingState;
use super::alerts::Rule;
use super::time::{DAY_MS, MINUTE_MS};

/// A vehicle that moved within this long is driving: the trips' rule, where a halt of
/// five minutes ends a trip. (v4 reports a position only when it changes, so a parked car
/// sends none: the time since its last move is what tells.)
pub const DRIVING_WINDOW_MS: i64 = 5 * MINUTE_MS;
/// A vehicle not heard from for longer needs a look.
pub const QUIET_AFTER_MS: i64 = DAY_MS;
/// Below this state of charge a vehicle needs charging.
pub const LOW_BATTERY_PERCENT: f64 = 20.0;

/// What the glance needs to know about one vehicle.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct VehicleNow {
    /// Latest plug state.
    pub plugged_in: Option<bool>,
    /// Latest charging state.
    pub charging: Option<ChargingState>,
    /// Latest state of charge.
    pub battery_percent: Option<f64>,
    /// Latest reading of any kind.
    pub last_seen_ms: Option<i64>,
    /// The latest position reading that was away from the one before it.
    pub last_moved_ms: Option<i64>,
    /// Smartcar can't reach it until its owner signs in again.
    pub needs_reauth: bool,
}

/// What a vehicle is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activity {
    /// Energy is flowing in.
    Charging,
    /// Cable connected, not charging (full, scheduled or stuck).
    PluggedIn,
    /// Moved within [`DRIVING_WINDOW_MS`].
    Driving,
    /// Standing, unplugged.
    Parked,
    /// Nothing reported yet.
    Unknown,
}

impl Activity {
    /// What `vehicle` is doing at `now_ms`.
    pub fn of(vehicle: &VehicleNow, now_ms: i64) -> Activity {
        if vehicle.charging == Some(ChargingState::Charging) {
            Activity::Charging
        } else if vehicle.plugged_in == Some(true) {
            Activity::PluggedIn
        } else if vehicle
            .last_moved_ms
            .is_some_and(|t| now_ms - t <= DRIVING_WINDOW_MS)
        {
            Activity::Driving
        } else if vehicle.last_seen_ms.is_some() {
            Activity::Parked
        } else {
            Activity::Unknown
        }
    }
}

/// How many vehicles do what.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    /// Charging now.
    pub charging: usize,
    /// Plugged in, not charging.
    pub plugged_in: usize,
    /// Driving.
    pub driving: usize,
    /// Parked.
    pub parked: usize,
    /// Not reported yet.
    pub unknown: usize,
}

impl Counts {
    /// Counts `vehicles` at `now_ms`.
    pub fn of<V: std::borrow::Borrow<VehicleNow>>(
        vehicles: impl IntoIterator<Item = V>,
        now_ms: i64,
    ) -> Counts {
        let mut counts = Counts::default();
        for vehicle in vehicles {
            let slot = match Activity::of(vehicle.borrow(), now_ms) {
                Activity::Charging => &mut counts.charging,
                Activity::PluggedIn => &mut counts.plugged_in,
                Activity::Driving => &mut counts.driving,
                Activity::Parked => &mut counts.parked,
                Activity::Unknown => &mut counts.unknown,
            };
            *slot += 1;
        }
        counts
    }
}

/// Why a vehicle needs the owner.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Attention {
    /// Its owner must sign in again (Smartcar cannot reach it).
    NeedsReconnect,
    /// Not heard from since this instant, more than [`QUIET_AFTER_MS`] ago.
    NotSeen {
        /// Its latest reading, ms.
        since_ms: i64,
    },
    /// Below [`LOW_BATTERY_PERCENT`] and not charging.
    LowBattery {
        /// Its state of charge.
        percent: f64,
    },
}

impl Attention {
    /// Everything about `vehicle` that needs the owner at `now_ms`, most urgent first.
    pub fn of(vehicle: &VehicleNow, now_ms: i64) -> Vec<Attention> {
        let mut found = Vec::new();
        if vehicle.needs_reauth {
            found.push(Attention::NeedsReconnect);
        }
        if let Some(since_ms) = vehicle.last_seen_ms
            && now_ms - since_ms > QUIET_AFTER_MS
        {
            found.push(Attention::NotSeen { since_ms });
        }
        if let Some(percent) = vehicle.battery_percent
            && percent < LOW_BATTERY_PERCENT
            && vehicle.charging != Some(ChargingState::Charging)
        {
            found.push(Attention::LowBattery { percent });
        }
        found
    }

    /// What it is, in plain words.
    pub fn what(&self) -> String {
        match self {
            Attention::NeedsReconnect => "Needs re-connect".into(),
            Attention::NotSeen { .. } => "Not seen for over a day".into(),
            Attention::LowBattery { percent } => format!("Battery low ({percent:.0} %)"),
        }
    }

    /// The alert rule that says the same of the same car, more precisely (when, and what
    /// to check): while one of its alerts is open, the Fleet page shows that instead.
    pub fn said_by(&self) -> Rule {
        match self {
            Attention::NeedsReconnect => Rule::NeedsReconnect,
            Attention::NotSeen { .. } => Rule::VehicleQuiet,
            Attention::LowBattery { .. } => Rule::LowBatteryBeforeShift,
        }
    }

    /// What the owner can do about it.
    pub fn what_to_do(&self) -> &'static str {
        match self {
            Attention::NeedsReconnect => {
                "Ask the car's owner to sign in with Smartcar again (Account page)."
            }
            Attention::NotSeen { .. } => {
                "Check that the car is subscribed to the webhook and has mobile reception."
            }
            Attention::LowBattery { .. } => "Plug it in before its next trip.",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000_000;

    fn parked() -> VehicleNow {
        VehicleNow {
            plugged_in: Some(false),
            charging: Some(ChargingState::NotCharging),
            battery_percent: Some(60.0),
            last_seen_ms: Some(NOW - 5 * MINUTE_MS),
            last_moved_ms: Some(NOW - 3 * 60 * MINUTE_MS),
            needs_reauth: false,
        }
    }

    #[test]
    fn activity_per_case() {
        let cases = [
            ("parked", parked(), Activity::Parked),
            (
                "charging wins over plugged in",
                VehicleNow {
                    plugged_in: Some(true),
                    charging: Some(ChargingState::Charging),
                    ..parked()
                },
                Activity::Charging,
            ),
            (
                "charging without plug information",
                VehicleNow {
                    plugged_in: None,
                    charging: Some(ChargingState::Charging),
                    ..parked()
                },
                Activity::Charging,
            ),
            (
                "plugged in and full",
                VehicleNow {
                    plugged_in: Some(true),
                    charging: Some(ChargingState::FullyCharged),
                    ..parked()
                },
                Activity::PluggedIn,
            ),
            (
                "moved exactly at the window's edge",
                VehicleNow {
                    last_moved_ms: Some(NOW - DRIVING_WINDOW_MS),
                    ..parked()
                },
                Activity::Driving,
            ),
            (
                "moved just before the window",
                VehicleNow {
                    last_moved_ms: Some(NOW - DRIVING_WINDOW_MS - 1),
                    ..parked()
                },
                Activity::Parked,
            ),
            (
                "moved but now plugged in",
                VehicleNow {
                    plugged_in: Some(true),
                    last_moved_ms: Some(NOW),
                    ..parked()
                },
                Activity::PluggedIn,
            ),
            ("never seen", VehicleNow::default(), Activity::Unknown),
        ];
        for (name, vehicle, expected) in cases {
            assert_eq!(Activity::of(&vehicle, NOW), expected, "{name}");
        }
    }

    #[test]
    fn counts_add_up_to_the_fleet() {
        let fleet = [
            parked(),
            parked(),
            VehicleNow {
                charging: Some(ChargingState::Charging),
                ..parked()
            },
            VehicleNow {
                last_moved_ms: Some(NOW),
                ..parked()
            },
            VehicleNow::default(),
        ];
        let counts = Counts::of(fleet, NOW);
        assert_eq!(
            counts,
            Counts {
                charging: 1,
                plugged_in: 0,
                driving: 1,
                parked: 2,
                unknown: 1
            }
        );
    }

    #[test]
    fn attention_per_case() {
        let cases = [
            ("nothing wrong", parked(), vec![]),
            (
                "needs re-connect",
                VehicleNow {
                    needs_reauth: true,
                    ..parked()
                },
                vec![Attention::NeedsReconnect],
            ),
            (
                "quiet exactly one day is not yet quiet",
                VehicleNow {
                    last_seen_ms: Some(NOW - QUIET_AFTER_MS),
                    ..parked()
                },
                vec![],
            ),
            (
                "quiet a day and a millisecond",
                VehicleNow {
                    last_seen_ms: Some(NOW - QUIET_AFTER_MS - 1),
                    ..parked()
                },
                vec![Attention::NotSeen {
                    since_ms: NOW - QUIET_AFTER_MS - 1,
                }],
            ),
            (
                "exactly 20 % is not low",
                VehicleNow {
                    battery_percent: Some(20.0),
                    ..parked()
                },
                vec![],
            ),
            (
                "19.9 % is low",
                VehicleNow {
                    battery_percent: Some(19.9),
                    ..parked()
                },
                vec![Attention::LowBattery { percent: 19.9 }],
            ),
            (
                "low but charging",
                VehicleNow {
                    battery_percent: Some(5.0),
                    charging: Some(ChargingState::Charging),
                    ..parked()
                },
                vec![],
            ),
            (
                "everything at once, most urgent first",
                VehicleNow {
                    battery_percent: Some(3.0),
                    last_seen_ms: Some(NOW - 3 * DAY_MS),
                    needs_reauth: true,
                    ..parked()
                },
                vec![
                    Attention::NeedsReconnect,
                    Attention::NotSeen {
                        since_ms: NOW - 3 * DAY_MS,
                    },
                    Attention::LowBattery { percent: 3.0 },
                ],
            ),
        ];
        for (name, vehicle, expected) in cases {
            assert_eq!(Attention::of(&vehicle, NOW), expected, "{name}");
        }
    }
}
