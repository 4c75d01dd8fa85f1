//! The vehicle page's tables, one tab each: charging sessions with their energy and cost
//! (from the owner's capacity, places and prices), trips (in `trips.rs`, their tags'
//! changes in `changes.rs`), and the errors Smartcar reported.

use egui_extras::{Column, TableBuilder};

use super::{Tab, VehicleView};
use crate::store::sessions::price_at;
use crate::ui::context::PageCx;
use crate::ui::widgets::{energy as energy_text, local_time_ms, money};

impl VehicleView {
    pub(super) fn tables_ui(&mut self, ui: &mut egui::Ui, id: &str, cx: &mut PageCx) {
        let Some(details) = &self.details else { return };
        let capacity = cx
            .fleet
            .vehicles
            .iter()
            .find(|v| v.id == id)
            .and_then(|v| v.capacity_kwh);
        let settings = cx.fleet.settings.clone();
        let places = cx.fleet.places.clone();
        ui.horizontal(|ui| {
            for (tab, label) in [
                (Tab::Sessions, "Charging sessions"),
                (Tab::Trips, "Trips"),
                (Tab::Errors, "Errors"),
            ] {
                let text = egui::RichText::new(label).heading();
                ui.selectable_value(&mut self.tab, tab, text);
            }
        });
        let tab = self.tab;
        // A cell keeps its line (a time wrapped in two reads badly); columns size to fit.
        ui.style_mut().wrap_mode = Some(egui::TextWrapMode::Extend);
        if tab == Tab::Trips {
            egui::ScrollArea::vertical()
                .id_salt(("trips tab", id))
                .show(ui, |ui| {
                    super::trips::trips_ui(ui, id, &details.trips, &mut self.notes, cx);
                    ui.add_space(6.0);
                    super::changes::changes_ui(ui, id, &details.changes, &details.trips);
                });
            return;
        }
        egui::ScrollArea::vertical().show(ui, |ui| {
            if tab == Tab::Errors {
                self::errors_ui(ui, id, details);
                return;
            }
            if details.sessions.is_empty() {
                ui.label("No charging session yet.");
            } else {
                // Virtual rows: only those on screen are laid out (a year holds hundreds).
                let row_height = ui.text_style_height(&egui::TextStyle::Body) + 4.0;
                TableBuilder::new(ui)
                    .id_salt(("sessions", id))
                    .striped(true)
                    .max_scroll_height(row_height * 8.0)
                    .columns(Column::auto().at_least(60.0), 7)
                    .header(row_height, |mut header| {
                        for heading in [
                            "Started", "Ended", "Minutes", "Charge", "Energy", "Cost", "Status",
                        ] {
                            header.col(|ui| {
                                ui.strong(heading);
                            });
                        }
                    })
                    .body(|body| {
                        body.rows(row_height, details.sessions.len(), |mut row| {
                            let s = &details.sessions[row.index()];
                            let energy = capacity.and_then(|c| s.energy_kwh(c));
                            let price = price_at(&places, settings.price_per_kwh, s.position);
                            let cost = energy.zip(price).map(|(e, p)| e * p);
                            let cells = [
                                local_time_ms(s.started_at_ms),
                                s.ended_at_ms.map_or("–".into(), local_time_ms),
                                format!("{:.0}", s.duration_min()),
                                match (s.start_percent, s.end_percent) {
                                    (Some(a), Some(b)) => format!("{a:.0} % to {b:.0} %"),
                                    _ => "–".into(),
                                },
                                energy_text(energy),
                                money(cost, &settings.currency),
                                if s.is_ongoing() {
                                    "ongoing"
                                } else if s.inferred {
                                    "between readings"
                                } else {
                                    "complete"
                                }
                                .to_owned(),
                            ];
                            for cell in cells {
                                row.col(|ui| {
                                    ui.label(cell);
                                });
                            }
                        });
                    });
            }
        });
    }
}

/// The errors Smartcar reported, newest first.
fn errors_ui(ui: &mut egui::Ui, id: &str, details: &crate::ui::reader::VehicleDetails) {
    if details.errors.is_empty() {
        ui.label("Smartcar reported no error for this vehicle.");
        return;
    }
    let row_height = ui.text_style_height(&egui::TextStyle::Body) + 4.0;
    TableBuilder::new(ui)
        .id_salt(("errors", id))
        .striped(true)
        .max_scroll_height(row_height * 6.0)
        .columns(Column::auto().at_least(60.0), 5)
        .header(row_height, |mut header| {
            for heading in ["When", "Type", "Code", "What Smartcar said", ""] {
                header.col(|ui| {
                    ui.strong(heading);
                });
            }
        })
        .body(|body| {
            body.rows(row_height, details.errors.len(), |mut row| {
                let e = &details.errors[row.index()];
                row.col(|ui| {
                    ui.label(local_time_ms(e.recorded_at_ms));
                });
                row.col(|ui| {
                    ui.label(&e.error_type);
                });
                row.col(|ui| {
                    ui.label(&e.error_code);
                });
                row.col(|ui| {
                    ui.label(if e.description.is_empty() {
                        "–"
                    } else {
                        e.description.as_str()
                    });
                });
                row.col(|ui| {
                    if let Some(url) = &e.resolution_url {
                        ui.hyperlink_to("Fix it", url);
                    }
                });
            });
        });
}
