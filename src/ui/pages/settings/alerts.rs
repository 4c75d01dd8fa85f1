//! Settings → Alerts: the six rules, each on or off with its settings (times, days,
//! charges, minutes, hours), the same owner data as `fleetdash alerts rules`. Turning a
//! rule on or off is saved at once; settings are drafts until "Save", checked first by the
//! same [`Rules::set`] the store uses (so a refusal shows beside the rule in words before
//! anything is sent), then written through the owner-writes thread's checked
//! [`OwnerWrite::AlertRule`], as `fleetdash alerts set` does.

use std::collections::BTreeMap;

use egui::RichText;

use crate::domain::alerts::{Rule, Rules, days_text};
use crate::store::owner::OwnerWrite;
use crate::ui::context::PageCx;
use crate::ui::notify::NotifyStatus;
use crate::ui::widgets::{PROBLEM, hint_ui};

const DAY_NAMES: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// A rule's settings as typed: `KEY` to text, in the order the rule lists them.
type Fields = Vec<(String, String)>;

/// The rules editor's drafts.
#[derive(Default)]
pub struct RulesEditor {
    /// What the drafts were filled from (`None`: not yet).
    from: Option<Rules>,
    fields: BTreeMap<Rule, Fields>,
    days: [bool; 7],
    /// Why a rule's settings cannot be saved, in words.
    problems: BTreeMap<Rule, String>,
    saved: bool,
}

/// `KEY=VALUE` pairs of `rule`'s settings, days excepted (they are toggles).
fn fields_of(rules: &Rules, rule: Rule) -> Fields {
    rules
        .settings(rule)
        .text
        .split_whitespace()
        .filter_map(|pair| pair.split_once('='))
        .filter(|(key, _)| *key != "days")
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect()
}

/// The words around a setting's field: before and after it.
fn words(key: &str) -> (&'static str, &'static str) {
    match key {
        "time" => ("at", ""),
        "percent" | "target" => ("below", "%"),
        "minutes" => ("for", "min"),
        "hours" => ("for", "h"),
        _ => ("", ""),
    }
}

impl RulesEditor {
    fn fill(&mut self, rules: &Rules) {
        self.fields = Rule::ALL
            .into_iter()
            .map(|rule| (rule, fields_of(rules, rule)))
            .collect();
        self.days = rules.low_battery_before_shift.days;
        self.from = Some(*rules);
    }

    /// True when a draft differs from what it was filled from.
    fn edited(&self) -> bool {
        let Some(from) = &self.from else { return false };
        self.days != from.low_battery_before_shift.days
            || Rule::ALL
                .into_iter()
                .any(|rule| self.fields.get(&rule) != Some(&fields_of(from, rule)))
    }

    /// The writes that turn `shown` into the drafts and the rules they give, or why each
    /// refused rule cannot be saved.
    fn writes(&self, shown: &Rules) -> Result<(Vec<OwnerWrite>, Rules), BTreeMap<Rule, String>> {
        let mut rules = *shown;
        let mut writes = Vec::new();
        let mut problems = BTreeMap::new();
        for rule in Rule::ALL {
            let mut settings: Fields = self.fields.get(&rule).cloned().unwrap_or_default();
            if rule == Rule::LowBatteryBeforeShift {
                if !self.days.contains(&true) {
                    problems.insert(
                        rule,
                        "pick at least one day, or turn the rule off".to_owned(),
                    );
                    continue;
                }
                settings.push(("days".into(), days_text(&self.days)));
            }
            let changed: Fields = settings
                .into_iter()
                // A decimal comma is a point; days are a list with commas.
                .map(|(key, value)| {
                    let value = value.trim();
                    let value = if key == "days" {
                        value.to_owned()
                    } else {
                        value.replace(',', ".")
                    };
                    (key, value)
                })
                .filter(|(key, value)| {
                    let mut probe = rules;
                    probe.set(rule, key, value).is_err() || probe != rules
                })
                .collect();
            if changed.is_empty() {
                continue;
            }
            let mut checked = rules;
            match changed
                .iter()
                .try_for_each(|(key, value)| checked.set(rule, key, value))
            {
                Ok(()) => {
                    rules = checked;
                    writes.push(OwnerWrite::AlertRule {
                        rule,
                        on: None,
                        settings: changed,
                    });
                }
                Err(why) => {
                    problems.insert(rule, why);
                }
            }
        }
        if problems.is_empty() {
            Ok((writes, rules))
        } else {
            Err(problems)
        }
    }

    /// Draws the section.
    pub fn ui(&mut self, ui: &mut egui::Ui, cx: &mut PageCx) {
        if !cx.fleet_loaded {
            ui.spinner();
            return;
        }
        let shown = cx.fleet.alert_rules;
        // Follow changes made elsewhere (the CLI, another window) unless the owner is
        // typing over them.
        if self.from.is_none() || (self.from != Some(shown) && !self.edited()) {
            self.fill(&shown);
        }
        notify_status_ui(ui, cx.notify);
        let mut changed = false;
        for rule in Rule::ALL {
            let mut on = shown.settings(rule).on;
            ui.horizontal_wrapped(|ui| {
                if ui
                    .checkbox(&mut on, RichText::new(rule.title()).strong())
                    .on_hover_text(rule.as_str())
                    .changed()
                {
                    cx.writes.send(OwnerWrite::AlertRule {
                        rule,
                        on: Some(on),
                        settings: Vec::new(),
                    });
                }
                ui.add_enabled_ui(on, |ui| changed |= self.fields_ui(ui, rule));
            });
            ui.horizontal_wrapped(|ui| {
                ui.add_space(24.0);
                ui.label(RichText::new(rule.describe()).weak());
            });
            if let Some(problem) = self.problems.get(&rule) {
                ui.colored_label(PROBLEM, format!("{}: {problem}", rule.title()));
            }
            ui.add_space(4.0);
        }
        if changed {
            self.saved = false;
            self.problems.clear();
        }
        hint_ui(
            ui,
            "Times and days are the fleet's time zone's. The same rules as `fleetdash alerts rules`.",
        );
        ui.horizontal(|ui| {
            if ui.button("Save the alert rules").clicked() {
                match self.writes(&shown) {
                    Ok((writes, rules)) => {
                        for write in writes {
                            cx.writes.send(write);
                        }
                        self.from = Some(rules);
                        self.problems.clear();
                        self.saved = true;
                    }
                    Err(problems) => self.problems = problems,
                }
            }
            if self.saved {
                ui.label(if cx.writes.any_pending() {
                    "Saving..."
                } else {
                    "Saved."
                });
            }
        });
    }

    /// The rule's settings as fields (and the shift's days as toggles); true when one
    /// changed.
    fn fields_ui(&mut self, ui: &mut egui::Ui, rule: Rule) -> bool {
        let mut changed = false;
        let fields = self.fields.entry(rule).or_default();
        for (key, value) in fields.iter_mut() {
            let (before, after) = words(key);
            if !before.is_empty() {
                ui.label(before);
            }
            let response = ui.add(egui::TextEdit::singleline(value).desired_width(48.0));
            // Found by its meaning (by screen readers and tests), not its position.
            ui.ctx().accesskit_node_builder(response.id, |node| {
                node.set_label(format!("{}: {key}", rule.title()));
            });
            changed |= response.changed();
            if !after.is_empty() {
                ui.label(after);
            }
            if rule == Rule::LowBatteryBeforeShift && key == "time" {
                ui.label("on");
                for (day, name) in self.days.iter_mut().zip(DAY_NAMES) {
                    changed |= ui.toggle_value(day, name).changed();
                }
            }
        }
        changed
    }
}

fn notify_status_ui(ui: &mut egui::Ui, status: Option<NotifyStatus>) {
    let text = match status {
        None => return,
        Some(NotifyStatus::Checking) => "Looking for the desktop's notifications...",
        Some(NotifyStatus::Available) => {
            "An alert that opens while the app runs is also announced as a desktop notification."
        }
        Some(NotifyStatus::Unavailable) => {
            "Desktop notifications are unavailable on this system (no notification service): open alerts show on the Fleet page."
        }
    };
    ui.label(RichText::new(text).weak());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn editor(rules: &Rules) -> RulesEditor {
        let mut editor = RulesEditor::default();
        editor.fill(rules);
        editor
    }

    fn set(editor: &mut RulesEditor, rule: Rule, key: &str, value: &str) {
        let fields = editor.fields.get_mut(&rule).unwrap();
        fields.iter_mut().find(|(k, _)| k == key).unwrap().1 = value.to_owned();
    }

    #[test]
    fn only_what_changed_is_written_and_refusals_say_which_rule() {
        let stored = Rules::default();
        let unchanged = editor(&stored);
        assert!(!unchanged.edited());
        assert_eq!(unchanged.writes(&stored).unwrap().0, Vec::new());

        // A decimal comma, another day, and a setting typed as it was: one write per rule
        // changed, with only its changed settings.
        let mut edited = editor(&stored);
        set(&mut edited, Rule::VehicleQuiet, "hours", "7,5");
        set(&mut edited, Rule::PluggedNotCharging, "target", "80");
        edited.days[5] = true;
        assert!(edited.edited());
        let (writes, rules) = edited.writes(&stored).unwrap();
        assert_eq!(
            writes,
            vec![
                OwnerWrite::AlertRule {
                    rule: Rule::LowBatteryBeforeShift,
                    on: None,
                    settings: vec![("days".into(), "mon-sat".into())],
                },
                OwnerWrite::AlertRule {
                    rule: Rule::VehicleQuiet,
                    on: None,
                    settings: vec![("hours".into(), "7.5".into())],
                },
            ]
        );
        assert_eq!(rules.vehicle_quiet.hours, 7.5);
        assert!(rules.low_battery_before_shift.days[5]);

        // Days that are not a range are a list.
        let mut spread = editor(&stored);
        spread.days = [true, false, true, false, false, false, false];
        let (writes, _) = spread.writes(&stored).unwrap();
        assert!(matches!(&writes[0], OwnerWrite::AlertRule { settings, .. }
            if settings == &vec![("days".to_owned(), "mon,wed".to_owned())]));

        // Refused: every rule that can't be saved, in words, and nothing to write.
        let mut wrong = editor(&stored);
        wrong.days = [false; 7];
        set(&mut wrong, Rule::ChargingStoppedEarly, "target", "120");
        let problems = wrong.writes(&stored).unwrap_err();
        assert_eq!(
            problems
                .get(&Rule::LowBatteryBeforeShift)
                .map(String::as_str),
            Some("pick at least one day, or turn the rule off")
        );
        assert_eq!(
            problems
                .get(&Rule::ChargingStoppedEarly)
                .map(String::as_str),
            Some("target must be a number from 0 to 100, not \"120\"")
        );
    }
}
