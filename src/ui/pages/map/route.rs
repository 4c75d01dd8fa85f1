//! One trip shown on the Map page (the vehicle page's Trips tab sends it through
//! `Nav::TripOnMap`): what was asked, the positions read for it, and its part of the
//! side panel.

use egui::RichText;

use crate::ui::context::{Nav, PageCx};
use crate::ui::reader::Query;
use crate::ui::widgets::{PROBLEM, local_time_ms};

/// A trip's route: whose, from when to when, and its positions once read.
#[derive(Debug, Clone, PartialEq)]
pub struct TripRoute {
    /// Whose trip.
    pub vehicle: String,
    /// Its start, ms.
    pub from_ms: i64,
    /// Its end (its last reading while ongoing), ms.
    pub to_ms: i64,
    /// Its positions (latitude, longitude) in time order; `None` until read.
    pub points: Option<Vec<(f64, f64)>>,
    /// Why they could not be read.
    pub problem: Option<String>,
}

/// What the owner asked for in the route's part of the side panel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteAction {
    /// Fit the map to the route again.
    Fit,
    /// Leave the route: the whole fleet, fitted.
    Clear,
}

impl TripRoute {
    /// The route of `vehicle` between `from_ms` and `to_ms`, not read yet.
    pub fn new(vehicle: String, from_ms: i64, to_ms: i64) -> Self {
        TripRoute {
            vehicle,
            from_ms,
            to_ms,
            points: None,
            problem: None,
        }
    }

    /// The read that brings its positions.
    pub fn query(&self) -> Query {
        Query::Route {
            vehicle: self.vehicle.clone(),
            from_ms: self.from_ms,
            to_ms: self.to_ms,
        }
    }

    /// Takes the answer to `query` if it is this route's; true when these are its first
    /// points (the map then fits to them; a re-read after new data leaves the view alone).
    pub fn take(&mut self, query: &Query, points: Result<Vec<(f64, f64)>, String>) -> bool {
        if *query != self.query() {
            return false;
        }
        let first = self.points.is_none();
        match points {
            Ok(points) => {
                self.points = Some(points);
                self.problem = None;
                first
            }
            Err(problem) => {
                self.problem = Some(problem);
                false
            }
        }
    }

    /// The positions to draw (none until read).
    pub fn shown(&self) -> &[(f64, f64)] {
        self.points.as_deref().unwrap_or_default()
    }

    /// Draws the route's part of the side panel.
    pub fn side_ui(&self, ui: &mut egui::Ui, cx: &mut PageCx) -> Option<RouteAction> {
        let name = cx
            .fleet
            .vehicles
            .iter()
            .find(|v| v.id == self.vehicle)
            .map_or(self.vehicle.as_str(), |v| v.name.as_str());
        ui.strong(format!("Trip of {name}"));
        ui.label(format!(
            "{} to {}",
            local_time_ms(self.from_ms),
            local_time_ms(self.to_ms)
        ));
        if let Some(problem) = &self.problem {
            ui.colored_label(PROBLEM, problem);
        }
        match &self.points {
            None if self.problem.is_none() => {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label("Reading the route...");
                });
            }
            None => {}
            Some(points) if points.is_empty() => {
                ui.label("No position was reported during this trip.");
            }
            Some(points) => {
                ui.label(format!("{} positions", points.len()));
            }
        }
        let mut action = None;
        ui.horizontal_wrapped(|ui| {
            if ui.button("Fit to the trip").clicked() {
                action = Some(RouteAction::Fit);
            }
            if ui.button("Show the whole fleet").clicked() {
                action = Some(RouteAction::Clear);
            }
        });
        if ui.button("Back to the vehicle").clicked() {
            cx.nav = Some(Nav::Vehicle(self.vehicle.clone()));
        }
        ui.label(
            RichText::new(
                "Pink line: the trip's route. Green dot: where it started. Red dot: where it \
                 ended (its latest position while still driving).",
            )
            .weak()
            .small(),
        );
        action
    }
}
