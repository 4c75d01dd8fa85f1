//! The vehicle page's owner fields: usable capacity (energy per session needs it) and the
//! charge target (alerts compare with it), saved through the owner-writes channel.

use crate::store::owner::OwnerWrite;
use crate::ui::context::PageCx;
use crate::ui::data::VehicleRow;
use crate::ui::widgets::PROBLEM;

/// The drafts, filled from the vehicle's row until the owner types.
#[derive(Default)]
pub struct OwnerFields {
    /// (capacity, target) as typed; `None` until the owner edits.
    draft: Option<(String, String)>,
    problem: Option<String>,
}

fn text(value: Option<f64>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

/// An empty field clears the value; anything else must read as a number.
fn number(text: &str, what: &str) -> Result<Option<f64>, String> {
    match text.trim().replace(',', ".") {
        t if t.is_empty() => Ok(None),
        t => t
            .parse()
            .map(Some)
            .map_err(|_| format!("{what} must be a number, not {t:?}")),
    }
}

impl OwnerFields {
    /// Draws the fields and their Save button.
    pub fn ui(&mut self, ui: &mut egui::Ui, cx: &mut PageCx, row: &VehicleRow) {
        let shown = self
            .draft
            .clone()
            .unwrap_or_else(|| (text(row.capacity_kwh), text(row.charge_target)));
        let (mut capacity, mut target) = shown.clone();
        let mut save = false;
        ui.horizontal_wrapped(|ui| {
            ui.label("Usable capacity");
            ui.add(
                egui::TextEdit::singleline(&mut capacity)
                    .hint_text("kWh")
                    .desired_width(60.0),
            );
            ui.label("kWh   Charge target");
            ui.add(
                egui::TextEdit::singleline(&mut target)
                    .hint_text("%")
                    .desired_width(40.0),
            );
            ui.label("%");
            save = ui.button("Save").clicked();
        });
        if (capacity.clone(), target.clone()) != shown {
            self.draft = Some((capacity.clone(), target.clone()));
            self.problem = None;
        }
        if save {
            match self.writes(row, &capacity, &target) {
                Ok(writes) => {
                    for write in writes {
                        cx.writes.send(write);
                    }
                    // The row shows the pending values from now on.
                    self.draft = None;
                }
                Err(problem) => self.problem = Some(problem),
            }
        }
        if let Some(problem) = &self.problem {
            ui.colored_label(PROBLEM, problem);
        }
    }

    fn writes(
        &self,
        row: &VehicleRow,
        capacity: &str,
        target: &str,
    ) -> Result<Vec<OwnerWrite>, String> {
        let capacity = number(capacity, "The capacity")?;
        let target = number(target, "The charge target")?;
        if capacity.is_some_and(|c| !(1.0..=1000.0).contains(&c)) {
            return Err("The capacity must be between 1 and 1000 kWh.".into());
        }
        if target.is_some_and(|t| !(1.0..=100.0).contains(&t)) {
            return Err("The charge target must be between 1 and 100 %.".into());
        }
        let mut writes = Vec::new();
        if capacity != row.capacity_kwh {
            writes.push(OwnerWrite::VehicleCapacity {
                id: row.id.clone(),
                capacity_kwh: capacity,
            });
        }
        if target != row.charge_target {
            writes.push(OwnerWrite::VehicleTarget {
                id: row.id.clone(),
                target_percent: target,
            });
        }
        Ok(writes)
    }
}
