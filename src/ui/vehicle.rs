//! One vehicle: battery over time with its charging sessions shaded, and the sessions.

use egui::Color32;
use egui_plot::{GridMark, Line, Plot, Span};
use rusqlite::Connection;

use super::data;
use crate::domain::sessions::Session;
use crate::domain::time::format_ms;

/// The plot's time range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Range {
    /// The last 24 hours.
    Day,
    /// The last 7 days.
    #[default]
    Week,
    /// The last 30 days.
    Month,
    /// The last year.
    Year,
    /// Everything.
    All,
}

impl Range {
    fn label(self) -> &'static str {
        match self {
            Range::Day => "24 h",
            Range::Week => "7 d",
            Range::Month => "30 d",
            Range::Year => "1 y",
            Range::All => "All",
        }
    }

    fn days(self) -> Option<i64> {
        match self {
            Range::Day => Some(1),
            Range::Week => Some(7),
            Range::Month => Some(30),
            Range::Year => Some(365),
            Range::All => None,
        }
    }
}

/// Per-view state.
#[derive(Default)]
pub struct VehicleView {
    range: Range,
    loaded_for: Option<(String, Range)>,
    series: Vec<[f64; 2]>,
    sessions: Vec<Session>,
    error: Option<String>,
}

impl VehicleView {
    /// Forgets what was loaded, so the next draw re-reads it.
    pub fn invalidate(&mut self) {
        self.loaded_for = None;
    }

    /// Reads the plot's window and the sessions.
    pub fn load(&mut self, conn: &Connection, id: &str) {
        if self.loaded_for.as_ref() == Some(&(id.to_owned(), self.range)) {
            return;
        }
        let result = (|| -> Result<(), crate::store::StoreError> {
            let Some((first, last)) = data::span(conn, id)? else {
                self.series.clear();
                self.sessions.clear();
                return Ok(());
            };
            let from = self
                .range
                .days()
                .map_or(first, |d| last - d * crate::domain::time::DAY_MS);
            self.series = data::battery_series(conn, id, from, last, 1000)?;
            self.sessions = data::sessions(conn, id)?;
            Ok(())
        })();
        self.error = result
            .err()
            .map(|e| format!("Cannot read this vehicle: {e}"));
        self.loaded_for = Some((id.to_owned(), self.range));
    }

    /// Draws the view.
    pub fn ui(&mut self, ui: &mut egui::Ui, conn: &Connection, id: &str, name: &str) {
        ui.heading(name);
        ui.horizontal(|ui| {
            for range in [
                Range::Day,
                Range::Week,
                Range::Month,
                Range::Year,
                Range::All,
            ] {
                if ui
                    .selectable_label(self.range == range, range.label())
                    .clicked()
                {
                    self.range = range;
                }
            }
        });
        self.load(conn, id);
        if let Some(error) = &self.error {
            ui.colored_label(Color32::from_rgb(200, 60, 60), error);
        }
        ui.label("Battery (%) over time, UTC; charging sessions shaded");
        let first_x = self.series.first().map_or(0.0, |p| p[0]);
        Plot::new(("battery", id))
            .height(280.0)
            .include_y(0.0)
            .include_y(100.0)
            .x_axis_formatter(|mark: GridMark, _range| axis_time(mark.value))
            .label_formatter(|position| {
                let p = match position {
                    egui_plot::HoverPosition::NearDataPoint { position, .. }
                    | egui_plot::HoverPosition::Elsewhere { position } => position,
                };
                Some(format!("{}\n{:.1} %", axis_time(p.x), p.y))
            })
            .show(ui, |plot| {
                for s in &self.sessions {
                    let start = s.started_at_ms as f64 / 1000.0;
                    let end = s.ended_at_ms.unwrap_or(s.last_seen_ms) as f64 / 1000.0;
                    if end >= first_x {
                        plot.span(
                            Span::new("Charging", start..=end.max(start + 60.0))
                                .fill(Color32::from_rgba_unmultiplied(60, 160, 90, 40)),
                        );
                    }
                }
                plot.line(Line::new(
                    "Battery %",
                    self.series
                        .as_slice()
                        .iter()
                        .copied()
                        .collect::<egui_plot::PlotPoints<'_>>(),
                ));
            });
        ui.separator();
        ui.heading("Charging sessions");
        if self.sessions.is_empty() {
            ui.label("No charging session yet.");
            return;
        }
        egui::ScrollArea::vertical().show(ui, |ui| {
            egui::Grid::new(("sessions", id))
                .striped(true)
                .show(ui, |ui| {
                    for heading in ["Started", "Ended", "Minutes", "Charge", "Status"] {
                        ui.strong(heading);
                    }
                    ui.end_row();
                    for s in self.sessions.iter().take(200) {
                        ui.label(format_ms(s.started_at_ms));
                        ui.label(s.ended_at_ms.map_or("–".into(), format_ms));
                        ui.label(format!("{:.0}", s.duration_min()));
                        ui.label(match (s.start_percent, s.end_percent) {
                            (Some(a), Some(b)) => format!("{a:.0} % to {b:.0} %"),
                            _ => "–".into(),
                        });
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
        });
    }
}

fn axis_time(seconds: f64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp(seconds as i64, 0)
        .map(|t| t.format("%m-%d %H:%M").to_string())
        .unwrap_or_default()
}
