//! Which alerts are news: the app looks at the open alerts again and again (when data
//! arrives, and at least once a minute) and tells the owner only about alerts that opened
//! while it watched. What was already open at its first look, and what the owner's own
//! change of a rule brought up, is shown but not announced.

use super::{Alert, Rules};

/// One look at the alerts: the rules they were derived with and those open then.
#[derive(Debug, Clone, Copy)]
pub struct Look<'a> {
    /// The rules at that look.
    pub rules: &'a Rules,
    /// The alerts open at that look.
    pub open: &'a [Alert],
}

/// The alerts of `now` that opened since `before`: not open then, opened after the first
/// look (`first_look_ms`: an alert the data shows open since earlier was open before the
/// app looked, even when its data arrived late), under a rule whose settings are the same
/// in both looks (turning a rule on or changing it reveals old conditions, not new ones),
/// and not an alert of the same rule and vehicle that was open then under another opening
/// (late data can move an opening; it is still the same condition).
pub fn news<'a>(first_look_ms: i64, before: Look<'_>, now: Look<'a>) -> Vec<&'a Alert> {
    now.open
        .iter()
        .filter(|alert| alert.opened_at_ms > first_look_ms)
        .filter(|alert| before.rules.settings(alert.rule) == now.rules.settings(alert.rule))
        .filter(|alert| {
            !before
                .open
                .iter()
                .any(|old| old.rule == alert.rule && old.vehicle_id == alert.vehicle_id)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::alerts::Rule;

    const START: i64 = 1_800_000_000_000;

    fn open(rule: Rule, vehicle: &str, opened_at_ms: i64) -> Alert {
        Alert {
            rule,
            vehicle_id: Some(vehicle.to_owned()),
            opened_at_ms,
            resolved_at_ms: None,
            message: String::new(),
        }
    }

    /// (name, the look before, the look now, the news expected as (rule, vehicle)).
    type Case<'a> = (
        &'a str,
        (&'a Rules, &'a [Alert]),
        (&'a Rules, &'a [Alert]),
        &'a [(Rule, &'a str)],
    );

    /// The rules and vehicles of the news between two looks.
    fn check(
        before: (&Rules, &[Alert]),
        now: (&Rules, &[Alert]),
        expected: &[(Rule, &str)],
    ) -> Result<(), String> {
        let found: Vec<(Rule, &str)> = news(
            START,
            Look {
                rules: before.0,
                open: before.1,
            },
            Look {
                rules: now.0,
                open: now.1,
            },
        )
        .into_iter()
        .map(|a| (a.rule, a.vehicle_id.as_deref().unwrap_or("")))
        .collect();
        if found == expected {
            Ok(())
        } else {
            Err(format!("found {found:?}, expected {expected:?}"))
        }
    }

    #[test]
    fn only_alerts_that_opened_while_the_app_watched_are_news() {
        let rules = Rules::default();
        let mut longer = rules;
        longer.plugged_not_charging.minutes = 90;
        let mut quiet_off = rules;
        quiet_off.vehicle_quiet.on = false;
        let plugged = open(Rule::PluggedNotCharging, "v1", START + 60_000);
        let quiet = open(Rule::VehicleQuiet, "v2", START + 120_000);
        let cases: &[Case] = &[
            (
                "a new alert",
                (&rules, &[]),
                (&rules, std::slice::from_ref(&plugged)),
                &[(Rule::PluggedNotCharging, "v1")],
            ),
            (
                "still open: no news",
                (&rules, std::slice::from_ref(&plugged)),
                (&rules, std::slice::from_ref(&plugged)),
                &[],
            ),
            (
                "open before the first look, seen only now (late data)",
                (&rules, &[]),
                (&rules, &[open(Rule::PluggedNotCharging, "v1", START - 1)]),
                &[],
            ),
            (
                "opened exactly at the first look: already open then",
                (&rules, &[]),
                (&rules, &[open(Rule::PluggedNotCharging, "v1", START)]),
                &[],
            ),
            (
                "the owner changed the rule: what it shows now is not news",
                (&rules, &[]),
                (&longer, std::slice::from_ref(&plugged)),
                &[],
            ),
            (
                "a rule turned on: the alerts it reveals are not news",
                (&quiet_off, &[]),
                (&longer, std::slice::from_ref(&quiet)),
                &[],
            ),
            (
                "an unchanged rule beside a changed one",
                (&rules, &[]),
                (&quiet_off, std::slice::from_ref(&plugged)),
                &[(Rule::PluggedNotCharging, "v1")],
            ),
            (
                "late data moved the opening of an open alert",
                (&rules, &[open(Rule::PluggedNotCharging, "v1", START + 1)]),
                (&rules, std::slice::from_ref(&plugged)),
                &[],
            ),
            (
                "the same rule for another car",
                (&rules, &[open(Rule::PluggedNotCharging, "v2", START + 1)]),
                (&rules, std::slice::from_ref(&plugged)),
                &[(Rule::PluggedNotCharging, "v1")],
            ),
            (
                "two at once",
                (&rules, &[]),
                (&rules, &[plugged.clone(), quiet.clone()]),
                &[(Rule::PluggedNotCharging, "v1"), (Rule::VehicleQuiet, "v2")],
            ),
        ];
        let failures: Vec<String> = cases
            .iter()
            .filter_map(|(name, before, now, expected)| {
                check(*before, *now, expected)
                    .err()
                    .map(|e| format!("{name}: {e}"))
            })
            .collect();
        assert!(failures.is_empty(), "{failures:#?}");
    }
}
