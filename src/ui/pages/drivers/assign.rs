//! Who drives which vehicle when: a driver's assignment periods with Remove, and the
//! "Assign a vehicle" form (a vehicle of the fleet, from and until as dates of the fleet's
//! time zone; a date as until includes that whole day, as `fleetdash drivers assign` does).

use crate::domain::zone::FleetZone;
use crate::store::drivers::Assignment;
use crate::store::owner::OwnerWrite;
use crate::ui::context::PageCx;
use crate::ui::data::VehicleRow;
use crate::ui::widgets::{PROBLEM, date_field_ui, hint_ui};

/// A period being given to a driver, as typed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AssignForm {
    /// The driver's name.
    pub driver: String,
    /// The vehicle picked (Smartcar id).
    pub vehicle_id: String,
    /// From: a date or an RFC 3339 time.
    pub from: String,
    /// Until (empty: open-ended).
    pub until: String,
    /// Why it could not be sent.
    pub problem: Option<String>,
}

impl AssignForm {
    /// A form for `driver`, the first vehicle picked, from today.
    pub fn new(driver: &str, fleet: &[VehicleRow], zone: &FleetZone) -> Self {
        AssignForm {
            driver: driver.to_owned(),
            vehicle_id: fleet.first().map(|v| v.id.clone()).unwrap_or_default(),
            from: zone
                .date_of(crate::domain::time::now_ms())
                .format("%Y-%m-%d")
                .to_string(),
            ..AssignForm::default()
        }
    }

    /// The write that stores it, or what to fix. Overlaps are the store's to refuse: it
    /// knows every period, including those written since this page read them.
    pub fn write(&self, zone: &FleetZone) -> Result<OwnerWrite, String> {
        if self.vehicle_id.is_empty() {
            return Err("Pick a vehicle.".into());
        }
        let instant = |text: &str, what: &str, end_of_day| {
            crate::commands::drivers::instant(zone, text, end_of_day)
                .map_err(|e| format!("{what}: {e}"))
        };
        if self.from.trim().is_empty() {
            return Err("Give the day the driver takes the vehicle (From).".into());
        }
        let from_ms = instant(&self.from, "From", false)?;
        let until_ms = match self.until.trim() {
            "" => None,
            until => Some(instant(until, "Until", true)?),
        };
        if until_ms.is_some_and(|u| u <= from_ms) {
            return Err("Until is before From: the period would be empty.".into());
        }
        Ok(OwnerWrite::Assign {
            vehicle_id: self.vehicle_id.clone(),
            driver: self.driver.clone(),
            from_ms,
            until_ms,
        })
    }

    /// Draws the form; returns true when it is done with (sent or cancelled).
    pub fn ui(&mut self, ui: &mut egui::Ui, cx: &mut PageCx) -> bool {
        let fleet = &cx.fleet.vehicles;
        let name_of = |id: &str| {
            fleet
                .iter()
                .find(|v| v.id == id)
                .map_or_else(|| id.to_owned(), |v| v.name.clone())
        };
        let mut done = false;
        egui::Grid::new(("assign form", &self.driver))
            .num_columns(2)
            .spacing([12.0, 6.0])
            .show(ui, |ui| {
                ui.label("Vehicle");
                egui::ComboBox::from_id_salt(("assign vehicle", &self.driver))
                    .selected_text(name_of(&self.vehicle_id))
                    .show_ui(ui, |ui| {
                        for v in fleet {
                            ui.selectable_value(&mut self.vehicle_id, v.id.clone(), &v.name);
                        }
                    });
                ui.end_row();
                ui.label("From");
                date_field_ui(ui, &mut self.from, "2026-05-01", "assign from");
                ui.end_row();
                ui.label("Until");
                date_field_ui(
                    ui,
                    &mut self.until,
                    "open-ended (a date includes the day)",
                    "assign until",
                );
                ui.end_row();
            });
        hint_ui(
            ui,
            &format!(
                "Dates are the fleet's time zone's ({}).",
                cx.fleet.settings.zone.name()
            ),
        );
        ui.horizontal(|ui| {
            if ui.button("Save the assignment").clicked() {
                match self.write(&cx.fleet.settings.zone) {
                    Ok(write) => {
                        cx.writes.send(write);
                        done = true;
                    }
                    Err(problem) => self.problem = Some(problem),
                }
            }
            if ui.button("Cancel").clicked() {
                done = true;
            }
        });
        if let Some(problem) = &self.problem {
            ui.colored_label(PROBLEM, problem);
        }
        done
    }
}

/// `2026-05-01 00:00` to `2026-05-11 00:00` (or `open end`), in the fleet's zone.
pub fn period_text(zone: &FleetZone, a: &Assignment) -> (String, String) {
    (
        zone.local_minutes(a.from_ms),
        a.until_ms
            .map_or_else(|| "open end".to_owned(), |u| zone.local_minutes(u)),
    )
}

/// A driver's periods with Remove for each; returns the write to send, if one was asked.
pub fn periods_ui(
    ui: &mut egui::Ui,
    driver: &str,
    periods: &[&Assignment],
    cx: &PageCx,
) -> Option<OwnerWrite> {
    let zone = cx.fleet.settings.zone;
    if periods.is_empty() {
        hint_ui(ui, "No vehicle assigned.");
        return None;
    }
    let mut remove = None;
    egui::Grid::new(("periods", driver))
        .striped(true)
        .spacing([16.0, 4.0])
        .show(ui, |ui| {
            for heading in ["Vehicle", "From", "Until", ""] {
                ui.strong(heading);
            }
            ui.end_row();
            for a in periods {
                let name = cx
                    .fleet
                    .vehicles
                    .iter()
                    .find(|v| v.id == a.vehicle_id)
                    .map_or_else(|| a.vehicle_id.clone(), |v| v.name.clone());
                let (from, until) = period_text(&zone, a);
                ui.label(name);
                ui.label(from);
                ui.label(until)
                    .on_hover_text("The period ends just before this moment.");
                if ui.small_button("Remove the period").clicked() {
                    remove = Some(OwnerWrite::Unassign {
                        vehicle_id: a.vehicle_id.clone(),
                        from_ms: a.from_ms,
                    });
                }
                ui.end_row();
            }
        });
    remove
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_the_fleet_s_and_an_until_date_includes_its_day() {
        let zone = FleetZone::parse("Europe/Berlin").unwrap();
        let form = AssignForm {
            driver: "Anna".into(),
            vehicle_id: "v1".into(),
            from: "2026-05-01".into(),
            until: "2026-05-10".into(),
            problem: None,
        };
        let Ok(OwnerWrite::Assign {
            from_ms, until_ms, ..
        }) = form.write(&zone)
        else {
            panic!("a write");
        };
        let t = crate::domain::time::parse_time_text;
        assert_eq!(Some(from_ms), t("2026-04-30T22:00:00Z"));
        assert_eq!(until_ms, t("2026-05-10T22:00:00Z"));
        let backwards = AssignForm {
            until: "2026-04-01".into(),
            ..form.clone()
        };
        assert!(backwards.write(&zone).unwrap_err().contains("before"));
        let garbled = AssignForm {
            from: "May".into(),
            ..form
        };
        assert!(garbled.write(&zone).unwrap_err().starts_with("From:"));
    }
}
