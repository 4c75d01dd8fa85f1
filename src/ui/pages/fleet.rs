//! The Fleet page: every vehicle with its battery, range, charge state, last sighting and
//! webhook subscription; a click opens the vehicle.

use egui::{Color32, RichText};

use crate::domain::time::now_ms;
use crate::ui::Sort;
use crate::ui::context::{Nav, PageCx};
use crate::ui::widgets::{PROBLEM, WARNING, battery_color, charge_text, local_time_ms, staleness};

/// The Fleet page (its order is kept between runs, in [`crate::ui::Persisted`]).
#[derive(Default)]
pub struct FleetPage;

impl FleetPage {
    /// Draws the page.
    pub fn ui(&mut self, ui: &mut egui::Ui, cx: &mut PageCx) {
        if cx.fleet.vehicles.is_empty() {
            if cx.fleet_loaded {
                ui.label("No vehicle has reported yet. Readings appear here as soon as Smartcar delivers them.");
            } else {
                ui.spinner();
            }
            return;
        }
        let sort = &mut cx.persisted.sort;
        ui.horizontal(|ui| {
            ui.label("Sort by");
            ui.selectable_value(sort, Sort::Name, "Name");
            ui.selectable_value(sort, Sort::Battery, "Battery");
            ui.selectable_value(sort, Sort::LastSeen, "Last seen");
        });
        let mut rows: Vec<_> = cx.fleet.vehicles.iter().collect();
        match cx.persisted.sort {
            Sort::Name => rows.sort_by(|a, b| a.name.cmp(&b.name)),
            Sort::Battery => rows.sort_by(|a, b| {
                a.battery_percent
                    .unwrap_or(-1.0)
                    .total_cmp(&b.battery_percent.unwrap_or(-1.0))
            }),
            Sort::LastSeen => rows.sort_by_key(|r| std::cmp::Reverse(r.last_seen_ms)),
        }
        let now = now_ms();
        let units = cx.persisted.settings.units;
        let mut open = None;
        egui::ScrollArea::vertical().show(ui, |ui| {
            egui::Grid::new("fleet")
                .striped(true)
                .num_columns(7)
                .spacing([16.0, 6.0])
                .show(ui, |ui| {
                    for heading in [
                        "Vehicle",
                        "Battery",
                        "Range",
                        "Charging",
                        "Last seen",
                        "Webhook",
                        "",
                    ] {
                        ui.strong(heading);
                    }
                    ui.end_row();
                    for row in &rows {
                        if ui.link(&row.name).on_hover_text(&row.id).clicked() {
                            open = Some(row.id.clone());
                        }
                        match row.battery_percent {
                            Some(p) => {
                                ui.add(
                                    egui::ProgressBar::new((p / 100.0) as f32)
                                        .desired_width(120.0)
                                        .fill(battery_color(p))
                                        .text(
                                            RichText::new(format!("{p:.0} %"))
                                                .color(Color32::BLACK),
                                        ),
                                );
                            }
                            None => {
                                ui.label("–");
                            }
                        }
                        ui.label(row.range_km.map_or("–".into(), |r| units.distance(r)));
                        ui.label(charge_text(row.plugged_in, row.charging));
                        match row.last_seen_ms {
                            Some(t) => {
                                let (text, color) = staleness(now - t);
                                ui.label(RichText::new(text).color(color))
                                    .on_hover_text(local_time_ms(t));
                            }
                            None => {
                                ui.label("never");
                            }
                        }
                        match row.subscribed {
                            Some(true) => ui.label("subscribed"),
                            Some(false) => ui
                                .colored_label(WARNING, "not subscribed")
                                .on_hover_text(
                                    "Smartcar sends this car's data only after it is subscribed to your webhook.",
                                ),
                            None => ui.label("–").on_hover_text(
                                "Not known here: the subscription is managed in Smartcar's dashboard or with `fleetdash subscribe`.",
                            ),
                        };
                        if row.needs_reauth {
                            ui.colored_label(PROBLEM, "Needs re-connect").on_hover_text(
                                "Smartcar can't reach this car until its owner signs in again.",
                            );
                        } else {
                            ui.label("");
                        }
                        ui.end_row();
                    }
                });
        });
        if let Some(id) = open {
            cx.nav = Some(Nav::Vehicle(id));
        }
    }
}
