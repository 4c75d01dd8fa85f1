//! The top of the Fleet page: the summary strip (what the vehicles are doing, this month's
//! charging against last month's).

use egui::RichText;

use crate::domain::glance::Counts;
use crate::domain::money::Currency;
use crate::ui::data::MonthFigures;
use crate::ui::widgets::{GOOD, WARNING, energy, money};

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
