//! The Analytics page: per month (or day) of the fleet's time zone and per vehicle, the
//! sessions started, energy added, its cost in the fleet's currency, hours plugged in and
//! charging; a stacked bar chart above the table, where a click on a bar shows its period.

mod chart;

pub use chart::{MAX_PERIODS, Metric, Stacks};

use egui::RichText;

use crate::store::sessions::SummaryRow;
use crate::ui::context::{Nav, PageCx};
use crate::ui::reader::Query;
use crate::ui::widgets::{energy, hint_ui, local_time_ms, money};

/// The Analytics page.
#[derive(Default)]
pub struct AnalyticsPage {
    rows: Vec<SummaryRow>,
    metric: Metric,
    /// The period picked by a click on its bar (the table shows only it).
    selected: Option<String>,
    /// Where each period's bars stand on screen, as last drawn.
    centres: Vec<(String, egui::Pos2)>,
}

impl AnalyticsPage {
    /// The rows as last read.
    pub fn rows(&self) -> &[SummaryRow] {
        &self.rows
    }

    /// The period a click on the chart picked.
    pub fn selected(&self) -> Option<&str> {
        self.selected.as_deref()
    }

    /// Where `period`'s bars stood on screen when last drawn.
    pub fn bar_centre(&self, period: &str) -> Option<egui::Pos2> {
        self.centres
            .iter()
            .find(|(p, _)| p == period)
            .map(|(_, pos)| *pos)
    }

    /// What the page needs read.
    pub fn queries(&self, by_month: bool) -> Vec<Query> {
        vec![Query::Analytics { by_month }]
    }

    /// Takes rows read for the grouping asked (answers for an older grouping are dropped).
    pub fn take(&mut self, by_month: bool, asked_by_month: bool, rows: Vec<SummaryRow>) {
        if by_month == asked_by_month {
            self.rows = rows;
        }
    }

    /// Forgets what was read (another database).
    pub fn clear(&mut self) {
        self.rows.clear();
        self.selected = None;
    }

    /// Draws the page.
    pub fn ui(&mut self, ui: &mut egui::Ui, cx: &mut PageCx) {
        let by_month_now = cx.persisted.by_month;
        ui.horizontal(|ui| {
            let mut by_month = by_month_now;
            ui.selectable_value(&mut by_month, true, "Per month");
            ui.selectable_value(&mut by_month, false, "Per day");
            if by_month != by_month_now {
                cx.persisted.by_month = by_month;
                self.clear();
                cx.nav = Some(Nav::Reload);
            }
        });
        if self.rows.is_empty() {
            ui.label("No data yet.");
            return;
        }
        let settings = &cx.fleet.settings;
        let capacities_missing = cx.fleet.vehicles.iter().any(|v| v.capacity_kwh.is_none());
        hint_ui(
            ui,
            &format!(
                "Per {} in {}: sessions started, energy added and its cost, hours plugged in and charging, distance driven and the energy it used.",
                if by_month_now { "month" } else { "day" },
                settings.zone.name()
            ),
        );
        if capacities_missing || settings.price_per_kwh.is_none() {
            ui.horizontal_wrapped(|ui| {
                ui.label("Energy needs each vehicle's usable capacity (on its page) and cost a price per kWh.");
                if settings.price_per_kwh.is_none() && ui.link("Set the price in Settings").clicked() {
                    cx.nav = Some(Nav::Page(crate::ui::Page::Settings));
                }
            });
        }
        let currency = &settings.currency;
        let units = cx.persisted.settings.units;
        ui.horizontal(|ui| {
            ui.label("Bars show");
            ui.selectable_value(&mut self.metric, Metric::Energy, "Energy");
            ui.selectable_value(&mut self.metric, Metric::Cost, "Cost");
            ui.selectable_value(&mut self.metric, Metric::Sessions, "Sessions");
        });
        let unit = match self.metric {
            Metric::Energy => "kWh".to_owned(),
            Metric::Cost => currency.code().to_owned(),
            Metric::Sessions => "sessions".to_owned(),
        };
        let stacks = Stacks::of(&self.rows, self.metric);
        let drawn = chart::chart_ui(ui, &stacks, &unit, self.selected.as_deref());
        self.centres = drawn.centres;
        if let Some(period) = drawn.clicked {
            self.selected = Some(period);
        }
        let period_word = if by_month_now { "month" } else { "day" };
        match self.selected.clone() {
            Some(period) => {
                ui.horizontal(|ui| {
                    ui.strong(format!("Showing {period}"));
                    if ui.button(format!("Show every {period_word}")).clicked() {
                        self.selected = None;
                    }
                });
                // The fleet's kilometres by purpose in that period (the logbook's totals).
                if let Some(fleet) = self
                    .rows
                    .iter()
                    .find(|r| r.period == period && r.vehicle_id.is_empty())
                {
                    let [business, private, commute, untagged] = fleet.totals.km_by_purpose;
                    ui.label(format!(
                        "Driven in {period}: business {}, private {}, commute {}, not tagged {}",
                        units.distance(business),
                        units.distance(private),
                        units.distance(commute),
                        units.distance(untagged)
                    ));
                }
            }
            None => hint_ui(ui, &format!("Click a bar to show only its {period_word}.")),
        }
        let selected = self.selected.clone();
        egui::ScrollArea::vertical().show(ui, |ui| {
            egui::Grid::new("monthly")
                .striped(true)
                .spacing([16.0, 6.0])
                .show(ui, |ui| {
                    let period = if by_month_now { "Month" } else { "Day" };
                    for heading in [
                        period,
                        "Vehicle",
                        "Sessions",
                        "Energy",
                        "Cost",
                        "Plugged in",
                        "Charging",
                        "Driven",
                        "kWh/100 km",
                        "Last seen",
                    ] {
                        ui.strong(heading);
                    }
                    ui.end_row();
                    let shown = self
                        .rows
                        .iter()
                        .filter(|r| selected.as_ref().is_none_or(|p| *p == r.period));
                    for row in shown {
                        let t = &row.totals;
                        let fleet = row.vehicle_id.is_empty();
                        let text = |s: String| {
                            if fleet {
                                RichText::new(s).strong()
                            } else {
                                RichText::new(s)
                            }
                        };
                        ui.label(text(row.period.clone()));
                        ui.label(text(row.vehicle_name.clone()));
                        ui.label(text(t.sessions.to_string()));
                        ui.label(text(energy(t.energy_kwh)));
                        ui.label(text(money(t.cost, currency)));
                        ui.label(text(format!("{:.0} h", t.plugged_hours)));
                        ui.label(text(format!("{:.0} h", t.charging_hours)));
                        ui.label(text(units.distance(t.distance_km)));
                        ui.label(text(
                            t.kwh_per_100km().map_or("–".into(), |e| format!("{e:.1}")),
                        ));
                        ui.label(text(t.last_seen_ms.map_or("–".into(), local_time_ms)));
                        ui.end_row();
                    }
                });
        });
    }
}
