//! One vehicle: battery over time (local time axis, zoom and pan, quick ranges) with its
//! charging sessions shaded, then its sessions and errors. Only the window on screen is
//! read, downsampled to the plot's width in pixels, by the reader thread.

use egui::{Color32, RichText};
use egui_plot::{GridMark, Line, Plot, Span};
use serde::{Deserialize, Serialize};

use super::reader::{Query, Reader, VehicleDetails};
use crate::domain::time::DAY_MS;

/// The plot's time range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
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
    /// Every range, in the order the buttons show them.
    pub const ALL: [Range; 5] = [
        Range::Day,
        Range::Week,
        Range::Month,
        Range::Year,
        Range::All,
    ];

    /// The button's text.
    pub fn label(self) -> &'static str {
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

    /// The window this range shows of data spanning `span` (ms): it ends at the last reading.
    pub fn window(self, span: (i64, i64)) -> (i64, i64) {
        let (first, last) = span;
        let from = self.days().map_or(first, |d| last - d * DAY_MS);
        (from, last.max(from + 60_000))
    }
}

/// Per-view state.
#[derive(Default)]
pub struct VehicleView {
    /// The vehicle shown.
    vehicle: Option<String>,
    /// Its range buttons' choice.
    pub range: Range,
    details: Option<VehicleDetails>,
    /// The loaded points and the window (ms) they cover.
    series: Vec<egui_plot::PlotPoint>,
    series_window: Option<(i64, i64)>,
    /// The window asked for and not yet answered.
    asked: Option<Query>,
    /// Set the plot's bounds to this window (ms) on the next draw.
    reset_to: Option<(i64, i64)>,
    plot_width_px: usize,
    renaming: Option<String>,
    error: Option<String>,
}

impl VehicleView {
    /// Shows `id`, asking the reader for its details (the plot follows when they arrive).
    pub fn open(&mut self, id: &str, reader: &Reader) {
        if self.vehicle.as_deref() != Some(id) {
            *self = VehicleView {
                range: self.range,
                plot_width_px: self.plot_width_px,
                ..VehicleView::default()
            };
            self.vehicle = Some(id.to_owned());
        }
        reader.ask(Query::Vehicle(id.to_owned()));
    }

    /// Re-reads what is shown (new data arrived).
    pub fn reload(&mut self, reader: &Reader) {
        if let Some(id) = self.vehicle.clone() {
            reader.ask(Query::Vehicle(id));
        }
    }

    /// The vehicle shown.
    pub fn vehicle(&self) -> Option<&str> {
        self.vehicle.as_deref()
    }

    /// True while a plot window is being read.
    pub fn loading(&self) -> bool {
        self.asked.is_some()
    }

    /// The window (ms) the plotted points cover.
    pub fn series_window(&self) -> Option<(i64, i64)> {
        self.series_window
    }

    /// The plotted points (x: seconds since the epoch, y: percent).
    pub fn series(&self) -> &[egui_plot::PlotPoint] {
        &self.series
    }

    /// The details as last read.
    pub fn details(&self) -> Option<&VehicleDetails> {
        self.details.as_ref()
    }

    /// Takes the reader's answer about this vehicle.
    pub fn take_details(
        &mut self,
        id: &str,
        details: Result<VehicleDetails, String>,
        reader: &Reader,
    ) {
        if self.vehicle.as_deref() != Some(id) {
            return;
        }
        match details {
            Ok(details) => {
                let first_load = self.details.is_none();
                let span = details.span;
                self.details = Some(details);
                self.error = None;
                if let Some(span) = span {
                    // On first sight show the chosen range; later, new data keeps the
                    // window the user is looking at, re-read.
                    let window = match (first_load, self.series_window) {
                        (false, Some(window)) => window,
                        _ => {
                            let window = self.range.window(span);
                            self.reset_to = Some(window);
                            window
                        }
                    };
                    self.ask_series(window, reader, true);
                }
            }
            Err(error) => self.error = Some(error),
        }
    }

    /// Takes the reader's answer for a plot window.
    pub fn take_series(&mut self, query: Query, points: Result<Vec<[f64; 2]>, String>) {
        let Query::Series {
            vehicle,
            from_ms,
            to_ms,
            ..
        } = &query
        else {
            return;
        };
        if self.vehicle.as_deref() != Some(vehicle.as_str()) {
            return;
        }
        if self.asked.as_ref() == Some(&query) {
            self.asked = None;
        }
        match points {
            Ok(points) => {
                self.series = points
                    .into_iter()
                    .map(|[x, y]| egui_plot::PlotPoint::new(x, y))
                    .collect();
                self.series_window = Some((*from_ms, *to_ms));
            }
            Err(error) => self.error = Some(error),
        }
    }

    fn ask_series(&mut self, window: (i64, i64), reader: &Reader, force: bool) {
        let Some(vehicle) = self.vehicle.clone() else {
            return;
        };
        let query = Query::Series {
            vehicle,
            from_ms: window.0,
            to_ms: window.1,
            buckets: self.plot_width_px.clamp(100, 4000),
        };
        if force || self.asked.as_ref() != Some(&query) {
            reader.ask(query.clone());
            self.asked = Some(query);
        }
    }

    /// Chooses a quick range: the plot shows it, read afresh.
    pub fn choose_range(&mut self, range: Range, reader: &Reader) {
        self.range = range;
        if let Some(span) = self.details.as_ref().and_then(|d| d.span) {
            let window = range.window(span);
            self.reset_to = Some(window);
            self.ask_series(window, reader, false);
        }
    }

    /// Draws the view. Returns a new name when the user renamed the vehicle.
    pub fn ui(
        &mut self,
        ui: &mut egui::Ui,
        reader: &Reader,
        name: &str,
        units: super::settings::Units,
    ) -> Option<String> {
        let id = self.vehicle.clone()?;
        let mut renamed = None;
        ui.horizontal(|ui| match &mut self.renaming {
            Some(draft) => {
                let edit = ui.add(egui::TextEdit::singleline(draft).desired_width(260.0));
                let enter = edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
                if ui.button("Save name").clicked() || enter {
                    renamed = Some(draft.clone());
                    self.renaming = None;
                } else if ui.button("Cancel").clicked() {
                    self.renaming = None;
                }
            }
            None => {
                ui.heading(name);
                if ui
                    .small_button("Rename")
                    .on_hover_text("Give this vehicle your own name (empty: make, model and year)")
                    .clicked()
                {
                    self.renaming = Some(name.to_owned());
                }
                ui.label(RichText::new(&id).weak().small());
            }
        });
        ui.horizontal(|ui| {
            for range in Range::ALL {
                if ui
                    .selectable_label(self.range == range, range.label())
                    .clicked()
                {
                    self.choose_range(range, reader);
                }
            }
            ui.label(
                RichText::new("Drag to pan, scroll or pinch to zoom, double-click to reset").weak(),
            );
        });
        if let Some(error) = &self.error {
            ui.colored_label(Color32::from_rgb(200, 60, 60), error);
        }
        let offset = chrono::Local::now().format("%:z");
        ui.label(format!(
            "Battery (%) over time, local time (UTC{offset}); charging sessions shaded"
        ));
        if self.details.is_none() {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("Reading...");
            });
            return renamed;
        }
        self.plot_ui(ui, reader, &id);
        ui.separator();
        self.tables_ui(ui, &id, units);
        renamed
    }

    fn plot_ui(&mut self, ui: &mut egui::Ui, reader: &Reader, id: &str) {
        let sessions = self
            .details
            .as_ref()
            .map(|d| d.sessions.as_slice())
            .unwrap_or_default();
        let reset = self.reset_to.take();
        let response = Plot::new(("battery", id))
            .height(280.0)
            .allow_zoom(egui::Vec2b::new(true, false))
            .allow_drag(egui::Vec2b::new(true, false))
            .allow_scroll(egui::Vec2b::new(true, false))
            .include_y(0.0)
            .include_y(100.0)
            .x_axis_formatter(|mark: GridMark, range| axis_time(mark.value, range))
            .label_formatter(|position| {
                let p = match position {
                    egui_plot::HoverPosition::NearDataPoint { position, .. }
                    | egui_plot::HoverPosition::Elsewhere { position } => position,
                };
                Some(format!("{}\n{:.1} %", local_time(p.x), p.y))
            })
            .show(ui, |plot| {
                if let Some((from, to)) = reset {
                    plot.set_plot_bounds_x(from as f64 / 1000.0..=to as f64 / 1000.0);
                    plot.set_plot_bounds_y(-2.0..=102.0);
                }
                let (from, to) = self.series_window.unwrap_or((i64::MIN, i64::MAX));
                for s in sessions {
                    let end_ms = s.ended_at_ms.unwrap_or(s.last_seen_ms);
                    if end_ms < from || s.started_at_ms > to {
                        continue;
                    }
                    let start = s.started_at_ms as f64 / 1000.0;
                    let end = end_ms as f64 / 1000.0;
                    plot.span(
                        Span::new("Charging", start..=end.max(start + 60.0))
                            .fill(Color32::from_rgba_unmultiplied(60, 160, 90, 40)),
                    );
                }
                plot.line(
                    Line::new("Battery %", egui_plot::PlotPoints::Borrowed(&self.series))
                        .color(Color32::from_rgb(40, 110, 220))
                        .width(1.5),
                );
            });
        self.plot_width_px = response.response.rect.width().max(1.0) as usize;
        // Read what the user panned or zoomed to, once the view settles on a new window.
        let bounds = response.transform.bounds();
        let visible = (
            (bounds.min()[0] * 1000.0) as i64,
            (bounds.max()[0] * 1000.0) as i64,
        );
        // Not while a read is under way: a range just chosen is being read, and a gesture
        // still moving will be looked at again when the read is in.
        if reset.is_none()
            && self.asked.is_none()
            && let Some(loaded) = self.series_window
            && needs_reload(loaded, visible)
        {
            // A margin either side, so small pans need no read.
            let width = visible.1 - visible.0;
            self.ask_series(
                (visible.0 - width / 4, visible.1 + width / 4),
                reader,
                false,
            );
        }
    }

    fn tables_ui(&mut self, ui: &mut egui::Ui, id: &str, _units: super::settings::Units) {
        let Some(details) = &self.details else { return };
        egui::ScrollArea::vertical().show(ui, |ui| {
            ui.heading("Charging sessions");
            if details.sessions.is_empty() {
                ui.label("No charging session yet.");
            } else {
                egui::Grid::new(("sessions", id))
                    .striped(true)
                    .spacing([16.0, 4.0])
                    .show(ui, |ui| {
                        for heading in ["Started", "Ended", "Minutes", "Charge", "Status"] {
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

/// True when the visible window has moved or zoomed far enough from the loaded one that
/// its points would be missing or too coarse.
fn needs_reload(loaded: (i64, i64), visible: (i64, i64)) -> bool {
    let loaded_width = (loaded.1 - loaded.0).max(1) as f64;
    let visible_width = (visible.1 - visible.0).max(1) as f64;
    let outside = visible.0 < loaded.0 || visible.1 > loaded.1;
    // Zoomed in to less than a third: the points are coarser than the pixels.
    let zoomed_in = visible_width * 3.0 < loaded_width;
    outside || zoomed_in
}

fn to_local(seconds: f64) -> Option<chrono::DateTime<chrono::Local>> {
    chrono::DateTime::<chrono::Utc>::from_timestamp(seconds as i64, 0)
        .map(|t| t.with_timezone(&chrono::Local))
}

/// An axis label: hours when the view spans under two days, dates otherwise.
fn axis_time(seconds: f64, range: &std::ops::RangeInclusive<f64>) -> String {
    let span = range.end() - range.start();
    let format = if span < 2.0 * 86_400.0 {
        "%H:%M"
    } else if span < 120.0 * 86_400.0 {
        "%b %d"
    } else {
        "%Y-%m-%d"
    };
    to_local(seconds)
        .map(|t| t.format(format).to_string())
        .unwrap_or_default()
}

/// A moment in local time, to the minute.
pub fn local_time(seconds: f64) -> String {
    to_local(seconds)
        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

/// A moment in local time, to the second (deliveries arrive many a minute).
pub fn local_time_secs(ms: i64) -> String {
    to_local(ms as f64 / 1000.0)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

/// [`local_time`] of milliseconds.
pub fn local_time_ms(ms: i64) -> String {
    local_time(ms as f64 / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panning_out_of_the_loaded_window_or_zooming_far_in_reloads() {
        let loaded = (1_000, 2_000);
        assert!(!needs_reload(loaded, (1_100, 1_900)));
        assert!(needs_reload(loaded, (900, 1_800)));
        assert!(needs_reload(loaded, (1_500, 1_700)));
    }

    #[test]
    fn a_range_ends_at_the_last_reading() {
        let span = (0, 10 * DAY_MS);
        assert_eq!(Range::Day.window(span), (9 * DAY_MS, 10 * DAY_MS));
        assert_eq!(Range::All.window(span), span);
    }
}
