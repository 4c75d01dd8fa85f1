//! The top of the Fleet page: the summary strip (what the vehicles are doing, this month's
//! charging against last month's) and the "Needs attention" area.

use egui::RichText;

use crate::domain::glance::{Attention, Counts};
use crate::domain::money::Currency;
use crate::ui::data::{MonthFigures, VehicleRow};
use crate::ui::widgets::{GOOD, PROBLEM, WARNING, energy, local_time_ms, money, staleness};

/// The summary strip.
pub fn summary_ui(
    ui: &mut egui::Ui,
    counts: &Counts,
    months: Option<(&MonthFigures, &MonthFigures)>,
    currency: &Currency,
) {
    egui::Frame::group(ui.style()).show(ui, |ui| {
        ui.horizontal_wrapped(|ui| {
            let count = |ui: &mut egui::Ui, n: usize, what: &str, color: Option<egui::Color32>| {
                let text = RichText::new(format!("{n} {what}")).strong();
                match color.filter(|_| n > 0) {
                    Some(color) => ui.label(text.color(color)),
                    None => ui.label(text),
                };
            };
            count(ui, counts.charging, "charging now", Some(GOOD));
            ui.separator();
            count(ui, counts.plugged_in, "plugged in", None);
            ui.separator();
            count(ui, counts.driving, "driving", None);
            ui.separator();
            count(ui, counts.parked, "parked", None);
            if counts.unknown > 0 {
                ui.separator();
                count(ui, counts.unknown, "not reported yet", Some(WARNING));
            }
            ui.separator();
            match months {
                Some((this, last)) => {
                    ui.label(format!(
                        "This month ({}): {}, {}",
                        month_name(&this.period),
                        energy(this.energy_kwh),
                        money(this.cost, currency)
                    ));
                    ui.label(
                        RichText::new(format!(
                            "last month ({}): {}, {}",
                            month_name(&last.period),
                            energy(last.energy_kwh),
                            money(last.cost, currency)
                        ))
                        .weak(),
                    )
                    .on_hover_text(format!(
                        "{} sessions this month, {} last month (by the day they started, in the fleet's time zone).",
                        this.sessions, last.sessions
                    ));
                }
                None => {
                    ui.spinner();
                }
            }
        });
    });
}

/// `2026-12` as `December 2026` (as given when it is not a month).
fn month_name(period: &str) -> String {
    chrono::NaiveDate::parse_from_str(&format!("{period}-01"), "%Y-%m-%d")
        .map_or_else(|_| period.to_owned(), |d| d.format("%B %Y").to_string())
}

/// The "Needs attention" area; returns the vehicle whose name was clicked.
pub fn attention_ui(ui: &mut egui::Ui, rows: &[&VehicleRow], now_ms: i64) -> Option<String> {
    let items: Vec<(&VehicleRow, Attention)> = rows
        .iter()
        .flat_map(|row| {
            Attention::of(&row.now(), now_ms)
                .into_iter()
                .map(move |a| (*row, a))
        })
        .collect();
    if items.is_empty() {
        ui.label(RichText::new("Nothing needs you now.").color(GOOD));
        return None;
    }
    let mut open = None;
    egui::Frame::group(ui.style()).show(ui, |ui| {
        ui.strong(format!("Needs attention ({})", items.len()));
        egui::Grid::new("attention")
            .num_columns(4)
            .spacing([16.0, 4.0])
            .show(ui, |ui| {
                for (row, attention) in &items {
                    if ui.link(&row.name).on_hover_text(&row.id).clicked() {
                        open = Some(row.id.clone());
                    }
                    let color = match attention {
                        Attention::NeedsReconnect => PROBLEM,
                        Attention::NotSeen { .. } | Attention::LowBattery { .. } => WARNING,
                    };
                    ui.colored_label(color, attention.what());
                    match attention {
                        Attention::NotSeen { since_ms } => {
                            ui.label(format!("last seen {}", staleness(now_ms - since_ms).0))
                                .on_hover_text(local_time_ms(*since_ms));
                        }
                        _ => {
                            ui.label("");
                        }
                    }
                    ui.horizontal(|ui| {
                        ui.label(attention.what_to_do());
                        if let (Attention::NeedsReconnect, Some(url)) =
                            (attention, row.reauth_url.as_deref())
                        {
                            ui.hyperlink_to("Re-connect", url);
                        }
                    });
                    ui.end_row();
                }
            });
    });
    open
}
