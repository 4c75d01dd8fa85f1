//! One vehicle: battery over time (local time axis, zoom and pan, quick ranges) with its
//! charging sessions shaded, then its sessions, trips (with their purposes and notes, the
//! changes of those, and a way to see a trip's route on the map) and errors. Only the
//! window on screen is read, downsampled to the plot's width in pixels, by the reader
//! thread. The owner sets the vehicle's name, usable capacity and charge target here.

mod changes;
mod drivers;
mod owner_fields;
mod plot;
mod tables;
mod trips;

use egui::RichText;
use serde::{Deserialize, Serialize};

use crate::domain::time::DAY_MS;
use crate::ui::context::{Nav, PageCx};
use crate::ui::reader::{Query, Reader, VehicleDetails};
use crate::ui::widgets::PROBLEM;

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
    owner: owner_fields::OwnerFields,
    error: Option<String>,
    /// Which table shows under the plot.
    tab: Tab,
    /// Trip notes being typed.
    notes: trips::NoteDrafts,
}

/// The tables under the plot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tab {
    /// Charging sessions.
    #[default]
    Sessions,
    /// Trips with their purposes.
    Trips,
    /// Errors Smartcar reported.
    Errors,
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

    /// Draws the page.
    pub fn ui(&mut self, ui: &mut egui::Ui, cx: &mut PageCx) {
        let Some(id) = self.vehicle.clone() else {
            return;
        };
        if ui.button("Back to the fleet").clicked() {
            cx.nav = Some(Nav::Page(cx.persisted.page));
            return;
        }
        let row = cx.fleet.vehicles.iter().find(|v| v.id == id).cloned();
        let name = row.as_ref().map_or(id.clone(), |v| v.name.clone());
        self.name_ui(ui, cx, &id, &name);
        if let Some(row) = &row {
            self.owner.ui(ui, cx, row);
        }
        let reader = cx.reader;
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
        cx.persisted.range = self.range;
        if let Some(error) = &self.error {
            ui.colored_label(PROBLEM, error);
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
            return;
        }
        if let Some(details) = &self.details {
            drivers::driver_ui(ui, &id, details, cx);
        }
        self.plot_ui(ui, reader, &id);
        ui.separator();
        self.tables_ui(ui, &id, cx);
    }

    fn name_ui(&mut self, ui: &mut egui::Ui, cx: &mut PageCx, id: &str, name: &str) {
        ui.horizontal(|ui| match &mut self.renaming {
            Some(draft) => {
                let edit = ui.add(egui::TextEdit::singleline(draft).desired_width(260.0));
                let enter = edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
                if ui.button("Save name").clicked() || enter {
                    cx.writes
                        .send(crate::store::owner::OwnerWrite::VehicleName {
                            id: id.to_owned(),
                            name: draft.clone(),
                        });
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
                ui.label(RichText::new(id).weak().small());
            }
        });
    }
}
