//! The Map page: every vehicle's latest position, the selected one's trail and charging
//! places over the chosen range, or one trip's route (from the vehicle page's Trips tab),
//! the owner's places as circles, and "Add a place here": click a point, see the radius,
//! name it. Drivers' homes show with their radius too, and "Set a driver's home here"
//! works alike (`homes.rs`).

pub mod fit;
pub mod homes;
pub mod route;
mod tiles;
pub mod widget;

use egui::RichText;

use crate::ui::context::PageCx;
use crate::ui::pages::settings::places::PlaceForm;
use crate::ui::pages::vehicle::Range;
use crate::ui::reader::{Query, Reader, VehicleDetails};
use crate::ui::widgets::{battery_color, hint_ui};
pub use fit::GeoBox;
use route::{RouteAction, TripRoute};
pub use tiles::{TileState, USER_AGENT, is_osm};
pub use widget::MapView;

/// The Map page.
#[derive(Default)]
pub struct MapPage {
    view: MapView,
    /// The vehicle picked, its trail and where it charged.
    selected: Option<String>,
    trail: Vec<(f64, f64)>,
    charging_places: Vec<(f64, f64)>,
    /// "Add a place here": waiting for a click (true), then the form for that point.
    placing: bool,
    new_place: Option<PlaceForm>,
    /// A trip shown instead of the selected vehicle's trail.
    route: Option<TripRoute>,
    /// Drivers' homes and "Set a driver's home here".
    homes: homes::HomePicker,
}

impl MapPage {
    /// The map widget's state.
    pub fn view(&self) -> &MapView {
        &self.view
    }

    /// The selected vehicle's trail, as last read.
    pub fn trail(&self) -> &[(f64, f64)] {
        &self.trail
    }

    /// The trip shown, if any, with its positions once read.
    pub fn route(&self) -> Option<&TripRoute> {
        self.route.as_ref()
    }

    /// What the page needs read.
    pub fn queries(&self) -> Vec<Query> {
        self.selected
            .iter()
            .map(|id| Query::Vehicle(id.clone()))
            .chain(self.route.as_ref().map(TripRoute::query))
            .chain([Query::Drivers])
            .collect()
    }

    /// Shows the trip of `vehicle` from `from_ms` to `to_ms` instead of any selection, and
    /// fits the map to it once its positions are read (the app then asks for them).
    pub fn show_trip(&mut self, vehicle: String, from_ms: i64, to_ms: i64) {
        self.selected = None;
        self.trail.clear();
        self.charging_places.clear();
        self.route = Some(TripRoute::new(vehicle, from_ms, to_ms));
        self.view.fit_to_route();
    }

    /// Takes a route read; the first points of the trip shown fit the map.
    pub fn take_route(&mut self, query: &Query, points: Result<Vec<(f64, f64)>, String>) {
        if let Some(route) = &mut self.route
            && route.take(query, points)
        {
            self.view.fit_to_route();
        }
    }

    /// Takes the drivers read (their homes are drawn).
    pub fn take_drivers(&mut self, data: &crate::ui::reader::DriversData) {
        self.homes.take(data);
    }

    /// Waits for a click where `driver` lives (the Drivers page's "Pick on the map").
    pub fn pick_home_for(&mut self, driver: &str) {
        self.placing = false;
        self.homes.pick_for(driver);
    }

    /// Clicks the map at a point as a user would (tests use it): it goes to whatever
    /// waits for a click.
    pub fn click_at(&mut self, latitude: f64, longitude: f64) {
        self.clicked((latitude, longitude));
    }

    fn clicked(&mut self, (lat, lon): (f64, f64)) {
        if self.placing {
            self.placing = false;
            self.new_place = Some(PlaceForm::at(lat, lon));
        }
        self.homes.clicked(lat, lon);
    }

    /// Takes a vehicle's details: for the selected one, where it charged in the range,
    /// and asks for its trail.
    pub fn take_vehicle(
        &mut self,
        id: &str,
        details: &VehicleDetails,
        range: Range,
        reader: &Reader,
    ) {
        if self.selected.as_deref() != Some(id) {
            return;
        }
        let window = details.span.map(|span| range.window(span));
        self.charging_places = details
            .sessions
            .iter()
            .filter(|s| {
                window.is_none_or(|(from, to)| {
                    s.started_at_ms <= to && s.ended_at_ms.is_none_or(|e| e >= from)
                })
            })
            .filter_map(|s| s.position)
            .collect();
        if let Some(window) = window {
            reader.ask(Query::Trail {
                vehicle: id.to_owned(),
                from_ms: window.0,
                to_ms: window.1,
            });
        }
    }

    /// Takes a trail read for `vehicle`.
    pub fn take_trail(&mut self, vehicle: &str, points: Vec<(f64, f64)>) {
        if self.selected.as_deref() == Some(vehicle) {
            self.trail = points;
        }
    }

    /// Forgets the selection (another database) and fits the next draw to the fleet.
    pub fn reset(&mut self) {
        self.selected = None;
        self.route = None;
        self.trail.clear();
        self.charging_places.clear();
        self.new_place = None;
        self.placing = false;
        self.homes.reset();
        self.view.fit_to_fleet();
    }

    /// Draws the page.
    pub fn ui(&mut self, ui: &mut egui::Ui, cx: &mut PageCx) {
        let mut picked = self.selected.clone();
        let mut range = cx.persisted.range;
        let mut fit = false;
        let mut route_action = None;
        egui::Panel::left("map side")
            .resizable(false)
            .default_size(230.0)
            .show(ui, |ui| {
                if let Some(route) = &self.route {
                    route_action = route.side_ui(ui, cx);
                    ui.separator();
                }
                ui.strong("Vehicles");
                for v in &cx.fleet.vehicles {
                    let chosen = picked.as_deref() == Some(v.id.as_str());
                    let text = RichText::new(&v.name).color(
                        v.battery_percent
                            .map_or(ui.visuals().text_color(), battery_color),
                    );
                    if ui.selectable_label(chosen, text).clicked() {
                        picked = if chosen { None } else { Some(v.id.clone()) };
                    }
                }
                if self.route.is_some() {
                    return;
                }
                ui.add_space(8.0);
                ui.label("Trail of the selected vehicle:");
                ui.horizontal_wrapped(|ui| {
                    for r in Range::ALL {
                        ui.selectable_value(&mut range, r, r.label());
                    }
                });
                ui.add_space(8.0);
                if ui.button("Fit to fleet").clicked() {
                    fit = true;
                }
                ui.add_space(8.0);
                self.place_ui(ui, cx);
                ui.add_space(8.0);
                self.homes.ui(ui, cx);
                ui.add_space(8.0);
                ui.label(
                    RichText::new(
                        "Dots: latest positions, coloured by battery. Blue line: the selected \
                         vehicle's trail. Green squares: where it charged. Purple circles: your \
                         places. Teal circles: drivers' homes. A trip's route: the Map \
                         button on a vehicle's Trips tab.",
                    )
                    .weak()
                    .small(),
                );
            });
        match route_action {
            Some(RouteAction::Fit) => self.view.fit_to_route(),
            Some(RouteAction::Clear) => {
                self.route = None;
                fit = true;
            }
            None => {}
        }
        if fit {
            self.view.fit_to_fleet();
        }
        let homes = self.homes.circles();
        let layers = widget::Layers {
            fleet: &cx.fleet.vehicles,
            trail: &self.trail,
            charging: &self.charging_places,
            route: self
                .route
                .as_ref()
                .map(TripRoute::shown)
                .unwrap_or_default(),
            places: &cx.fleet.places,
            homes: &homes,
            draft: self
                .new_place
                .as_ref()
                .and_then(PlaceForm::circle)
                .or_else(|| self.homes.draft()),
            tile_template: &cx.persisted.settings.tile_url,
            units: cx.persisted.settings.units,
        };
        let mut clicked = picked.clone();
        let mut clicked_at = None;
        egui::CentralPanel::default_margins().show(ui, |ui| {
            clicked_at = self.view.ui(ui, &layers, &mut clicked);
        });
        if let Some(at) = clicked_at {
            self.clicked(at);
        }
        if clicked != picked {
            picked = clicked;
        }
        if picked != self.selected || range != cx.persisted.range {
            // Picking a vehicle leaves the trip for that vehicle's trail.
            self.route = None;
            self.selected = picked;
            cx.persisted.range = range;
            self.trail.clear();
            self.charging_places.clear();
            if let Some(id) = &self.selected {
                cx.reader.ask(Query::Vehicle(id.clone()));
            }
        }
    }

    /// "Add a place here" and, once a point is clicked, the place's form.
    fn place_ui(&mut self, ui: &mut egui::Ui, cx: &mut PageCx) {
        if let Some(form) = &mut self.new_place {
            ui.strong("New place");
            if form.ui(ui, cx) {
                self.new_place = None;
            }
        } else if self.placing {
            hint_ui(ui, "Click the map where the place is.");
            if ui.button("Cancel").clicked() {
                self.placing = false;
            }
        } else if ui
            .button("Add a place here")
            .on_hover_text("A depot, a driver's home or a public charger, with its own price")
            .clicked()
        {
            self.placing = true;
        }
    }

    /// Starts a new place at a point, as a click on the map would (tests use it).
    pub fn add_place_at(&mut self, latitude: f64, longitude: f64) {
        self.placing = false;
        self.new_place = Some(PlaceForm::at(latitude, longitude));
    }
}
