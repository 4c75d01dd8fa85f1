//! The vehicle page's tables: charging sessions with their energy and cost (from the
//! owner's capacity, places and prices), and the errors Smartcar reported.

use super::VehicleView;
use crate::store::sessions::price_at;
use crate::ui::context::PageCx;
use crate::ui::widgets::{energy as energy_text, local_time_ms, money};

impl VehicleView {
    pub(super) fn tables_ui(&mut self, ui: &mut egui::Ui, id: &str, cx: &PageCx) {
        let Some(details) = &self.details else { return };
        let capacity = cx
            .fleet
            .vehicles
            .iter()
            .find(|v| v.id == id)
            .and_then(|v| v.capacity_kwh);
        let settings = &cx.fleet.settings;
        egui::ScrollArea::vertical().show(ui, |ui| {
            ui.heading("Charging sessions");
            if details.sessions.is_empty() {
                ui.label("No charging session yet.");
            } else {
                egui::Grid::new(("sessions", id))
                    .striped(true)
                    .spacing([16.0, 4.0])
                    .show(ui, |ui| {
                        for heading in [
                            "Started", "Ended", "Minutes", "Charge", "Energy", "Cost", "Status",
                        ] {
                            ui.strong(heading);
                        }
                        ui.end_row();
                        for s in details.sessions.iter().take(200) {
                            ui.label(local_time_ms(s.started_at_ms));
                            ui.label(s.ended_at_ms.map_or("–".into(), local_time_ms));
                            ui.label(format!("{:.0}", s.duration_min()));
                            ui.label(match (s.start_percent, s.end_percent) {
                                (Some(a), Some(b)) => format!("{a:.0} % to {b:.0} %"),
                                _ => "–".into(),
                            });
                            let energy = capacity.and_then(|c| s.energy_kwh(c));
                            let price =
                                price_at(&cx.fleet.places, settings.price_per_kwh, s.position);
                            let cost = energy.zip(price).map(|(e, p)| e * p);
                            ui.label(energy_text(energy));
                            ui.label(money(cost, &settings.currency));
                            ui.label(if s.is_ongoing() {
                                "ongoing"
                            } else if s.inferred {
                                "between readings"
                            } else {
                                "complete"
                            });
                            ui.end_row();
                        }
                    });
            }
            ui.add_space(8.0);
            ui.heading("Errors");
            if details.errors.is_empty() {
                ui.label("Smartcar reported no error for this vehicle.");
                return;
            }
            egui::Grid::new(("errors", id))
                .striped(true)
                .spacing([16.0, 4.0])
                .show(ui, |ui| {
                    for heading in ["When", "Type", "Code", "What Smartcar said", ""] {
                        ui.strong(heading);
                    }
                    ui.end_row();
                    for e in &details.errors {
                        ui.label(local_time_ms(e.recorded_at_ms));
                        ui.label(&e.error_type);
                        ui.label(&e.error_code);
                        ui.label(if e.description.is_empty() {
                            "–"
                        } else {
                            e.description.as_str()
                        });
                        match &e.resolution_url {
                            Some(url) => {
                                ui.hyperlink_to("Fix it", url);
                            }
                            None => {
                                ui.label("");
                            }
                        }
                        ui.end_row();
                    }
                });
        });
    }
}
