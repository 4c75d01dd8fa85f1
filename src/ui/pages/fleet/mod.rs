//! The Fleet page: the fleet at a glance (what the vehicles are doing, this month's
//! charging, what needs the owner: open alerts first), then every vehicle with its battery and its last 24
//! hours, range, charge state, last sighting and webhook subscription; a click opens the
//! vehicle.

mod attention;
mod glance;

use egui::{Color32, RichText};

use crate::domain::glance::{Activity, Counts};
use crate::domain::time::{DAY_MS, now_ms};
use crate::ui::Sort;
use crate::ui::alerts::OpenAlerts;
use crate::ui::context::{Nav, PageCx};
use crate::ui::data::Glance;
use crate::ui::reader::Query;
use crate::ui::widgets::{
    PROBLEM, WARNING, battery_color, charge_text, local_time_ms, sparkline_ui, staleness,
};

/// The Fleet page (its order is kept between runs, in [`crate::ui::Persisted`]).
#[derive(Default)]
pub struct FleetPage {
    glance: Option<Glance>,
    alerts: Option<OpenAlerts>,
}

impl FleetPage {
    /// What the page needs read.
    pub fn queries(&self) -> Vec<Query> {
        vec![Query::Glance]
    }

    /// Takes the sparklines and month figures.
    pub fn take(&mut self, glance: Glance) {
        self.glance = Some(glance);
    }

    /// Takes the alerts open at the reader's latest look.
    pub fn take_alerts(&mut self, alerts: OpenAlerts) {
        self.alerts = Some(alerts);
    }

    /// The alerts open at the reader's latest look.
    pub fn alerts(&self) -> Option<&OpenAlerts> {
        self.alerts.as_ref()
    }

    /// The sparklines and month figures as last read.
    pub fn glance(&self) -> Option<&Glance> {
        self.glance.as_ref()
    }

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
        let now = now_ms();
        let counts = Counts::of(cx.fleet.vehicles.iter().map(|v| v.now()), now);
        glance::summary_ui(
            ui,
            &counts,
            self.glance.as_ref().map(|g| (&g.this_month, &g.last_month)),
            &cx.fleet.settings.currency,
        );
        let all: Vec<_> = cx.fleet.vehicles.iter().collect();
        let attention = attention::AttentionCx {
            alerts: self.alerts.as_ref(),
            zone: &cx.fleet.settings.zone,
            notify: cx.notify,
            now_ms: now,
        };
        if let Some(id) = attention::attention_ui(ui, &all, &attention) {
            cx.nav = Some(Nav::Vehicle(id));
        }
        ui.add_space(4.0);
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
        let units = cx.persisted.settings.units;
        let day = ((now - DAY_MS) as f64 / 1000.0, now as f64 / 1000.0);
        let no_points = Vec::new();
        let mut open = None;
        egui::ScrollArea::vertical().show(ui, |ui| {
            egui::Grid::new("fleet")
                .striped(true)
                .num_columns(8)
                .spacing([16.0, 6.0])
                .show(ui, |ui| {
                    for heading in [
                        "Vehicle",
                        "Battery",
                        "Last 24 h",
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
                        let points = self
                            .glance
                            .as_ref()
                            .and_then(|g| g.sparklines.get(&row.id))
                            .unwrap_or(&no_points);
                        sparkline_ui(ui, points, day, &format!("Last 24 h of {}", row.name));
                        ui.label(row.range_km.map_or("–".into(), |r| units.distance(r)));
                        ui.label(match Activity::of(&row.now(), now) {
                            Activity::Driving => "Driving",
                            _ => charge_text(row.plugged_in, row.charging),
                        });
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
