//! The map (walkers): every vehicle's latest position as a labelled marker coloured by its
//! battery, the selected vehicle's trail and charging places, or one trip's route with its
//! start and end; fit to the fleet or to the route. Tiles come from the tile URL setting
//! ([`super::tiles`]). When tiles can't be fetched, everything else still draws and the map
//! says so.

use std::sync::{Arc, Mutex};

use egui::{Color32, Pos2, RichText, Stroke, Vec2};
use walkers::{HttpOptions, HttpTiles, MapMemory, lat_lon};

use super::fit::{GeoBox, centre_of, fit};
use super::tiles::{TemplateSource, TileState, USER_AGENT, probe, tile_cache_dir, tile_url};
use crate::store::sessions::Place;
use crate::ui::data::VehicleRow;
use crate::ui::settings::Units;
use crate::ui::widgets::battery_color;

/// What the map draws besides its tiles.
pub struct Layers<'a> {
    /// Every vehicle; those with a position get a marker.
    pub fleet: &'a [VehicleRow],
    /// The selected vehicle's trail (latitude, longitude).
    pub trail: &'a [(f64, f64)],
    /// Where the selected vehicle charged.
    pub charging: &'a [(f64, f64)],
    /// A trip's route (latitude, longitude, in time order); empty when none is shown.
    pub route: &'a [(f64, f64)],
    /// The owner's places, drawn as circles of their radius.
    pub places: &'a [Place],
    /// Drivers' homes: name, centre and radius (m).
    pub homes: &'a [(String, (f64, f64), f64)],
    /// A place or home being added: its centre and radius (m).
    pub draft: Option<((f64, f64), f64)>,
    /// The tile URL template.
    pub tile_template: &'a str,
    /// For the markers' ranges.
    pub units: Units,
}

/// A marker to draw.
#[derive(Debug, Clone)]
struct Marker {
    id: String,
    label: String,
    position: (f64, f64),
    color: Color32,
}

/// What the next draw fits the view to.
#[derive(Debug, Clone, Copy, PartialEq)]
enum FitTo {
    /// Every marker and the selected vehicle's trail.
    Fleet,
    /// The route alone (waits until there is one).
    Route,
}

/// The route's line and its ends.
const ROUTE_COLOR: Color32 = Color32::from_rgb(200, 40, 120);
const START_COLOR: Color32 = Color32::from_rgb(40, 160, 70);
const END_COLOR: Color32 = Color32::from_rgb(210, 50, 40);

/// The map's state.
pub struct MapView {
    tiles: Option<HttpTiles>,
    tiles_for: String,
    tile_state: Arc<Mutex<TileState>>,
    memory: MapMemory,
    fit_pending: Option<FitTo>,
    /// What the last draw showed.
    shown: Option<GeoBox>,
}

impl Default for MapView {
    fn default() -> Self {
        MapView {
            tiles: None,
            tiles_for: String::new(),
            tile_state: Arc::new(Mutex::new(TileState::Checking)),
            memory: MapMemory::default(),
            fit_pending: Some(FitTo::Fleet),
            shown: None,
        }
    }
}

impl MapView {
    /// What the last check of the tile server found.
    pub fn tile_state(&self) -> TileState {
        self.tile_state
            .lock()
            .map(|s| s.clone())
            .unwrap_or(TileState::Checking)
    }

    /// Fits the view to the fleet on the next draw.
    pub fn fit_to_fleet(&mut self) {
        self.fit_pending = Some(FitTo::Fleet);
    }

    /// Fits the view to the route on the first draw that has one.
    pub fn fit_to_route(&mut self) {
        self.fit_pending = Some(FitTo::Route);
    }

    /// The box of latitudes and longitudes the last draw showed (`None` before the first).
    pub fn shown_box(&self) -> Option<GeoBox> {
        self.shown
    }

    /// The zoom level shown.
    pub fn zoom(&self) -> f64 {
        self.memory.zoom()
    }

    /// (Re)creates the tile client when the URL changed, and checks the server once.
    fn ensure_tiles(&mut self, ctx: &egui::Context, template: &str) {
        if self.tiles.is_some() && self.tiles_for == template {
            return;
        }
        let options = HttpOptions {
            cache: tile_cache_dir(),
            user_agent: walkers::HeaderValue::from_str(USER_AGENT).ok(),
            ..HttpOptions::default()
        };
        let source = TemplateSource {
            template: template.to_owned(),
        };
        self.tiles = Some(HttpTiles::with_options(source, options, ctx.clone()));
        self.tiles_for = template.to_owned();
        self.check_tiles(ctx);
    }

    /// Asks the tile server for one tile on a background thread.
    pub fn check_tiles(&mut self, ctx: &egui::Context) {
        if let Ok(mut state) = self.tile_state.lock() {
            *state = TileState::Checking;
        }
        let state = self.tile_state.clone();
        let url = tile_url(&self.tiles_for, 0, 0, 0);
        let ctx = ctx.clone();
        let spawned = std::thread::Builder::new()
            .name("fleetdash-tile-check".into())
            .spawn(move || {
                let result = probe(&url);
                if let Ok(mut s) = state.lock() {
                    *s = match result {
                        Ok(()) => TileState::Available,
                        Err(why) => TileState::Unavailable(why),
                    };
                }
                ctx.request_repaint();
            });
        if spawned.is_err()
            && let Ok(mut s) = self.tile_state.lock()
        {
            *s = TileState::Unavailable("the check could not start".into());
        }
    }

    /// Draws the map. `selected` is the vehicle whose trail and charging places show; a
    /// click on a marker selects its vehicle. Returns where a click on the map itself
    /// (not on a label) landed, as latitude and longitude.
    pub fn ui(
        &mut self,
        ui: &mut egui::Ui,
        layers: &Layers,
        selected: &mut Option<String>,
    ) -> Option<(f64, f64)> {
        let Layers {
            fleet,
            trail,
            charging,
            route,
            places,
            homes,
            draft,
            tile_template,
            units,
        } = *layers;
        self.ensure_tiles(ui.ctx(), tile_template);
        let markers: Vec<Marker> = fleet
            .iter()
            .filter_map(|v| {
                Some(Marker {
                    id: v.id.clone(),
                    label: format!(
                        "{} · {}{}",
                        v.name,
                        v.battery_percent
                            .map_or("?".into(), |p| format!("{p:.0} %")),
                        v.range_km
                            .map_or(String::new(), |r| format!(" · {}", units.distance(r)))
                    ),
                    position: v.position?,
                    color: v.battery_percent.map_or(Color32::GRAY, battery_color),
                })
            })
            .collect();
        if markers.is_empty() {
            ui.label("No vehicle has reported a position yet.");
        }
        let points: Vec<(f64, f64)> = markers
            .iter()
            .map(|m| m.position)
            .chain(trail.iter().copied())
            .chain(route.iter().copied())
            .collect();
        let center = centre_of(&points).unwrap_or(crate::sim::fleet::CITY_CENTER);
        let tile_state = self.tile_state();
        if let TileState::Unavailable(why) = &tile_state {
            ui.horizontal_wrapped(|ui| {
                ui.colored_label(
                    Color32::from_rgb(200, 120, 0),
                    format!(
                        "Map tiles are unavailable ({why}). Markers, trails and labels still \
                         show; check the network or the tile URL in Settings."
                    ),
                );
                if ui.small_button("Try again").clicked() {
                    self.check_tiles(ui.ctx());
                }
            });
        }
        let size = ui.available_size();
        let fit_points = match self.fit_pending {
            Some(FitTo::Fleet) => Some(points.as_slice()),
            Some(FitTo::Route) if !route.is_empty() => Some(route),
            _ => None,
        };
        if let Some(fit_points) = fit_points.filter(|_| size.x > 0.0 && size.y > 0.0) {
            self.fit_pending = None;
            let (centre, zoom) = fit(fit_points, size);
            self.memory.center_at(lat_lon(centre.0, centre.1));
            let _ = self.memory.set_zoom(zoom);
        }
        let tiles = match tile_state {
            TileState::Unavailable(_) => None,
            _ => self.tiles.as_mut().map(|t| t as &mut dyn walkers::Tiles),
        };
        let mut clicked_at = None;
        let mut shown = None;
        let map = walkers::Map::new(tiles, &mut self.memory, lat_lon(center.0, center.1));
        map.show(ui, |ui, response, projector, _memory| {
            // Only inside the map: a trail may run far beyond what is shown.
            let painter = ui.painter().with_clip_rect(response.rect);
            let project =
                |p: &(f64, f64)| -> Pos2 { projector.project(lat_lon(p.0, p.1)).to_pos2() };
            let corners = [response.rect.left_top(), response.rect.right_bottom()]
                .map(|corner| projector.unproject(corner.to_vec2()))
                .map(|at| (at.y(), at.x()));
            shown = GeoBox::around(&corners);
            if response.clicked()
                && let Some(pointer) = response.interact_pointer_pos()
            {
                let at = projector.unproject(pointer.to_vec2());
                clicked_at = Some((at.y(), at.x()));
            }
            let circle = |centre: (f64, f64), radius_m: f64, fill: Color32, stroke: Color32| {
                let at = project(&centre);
                let scale = projector.scale_pixel_per_meter(lat_lon(centre.0, centre.1));
                let radius = (radius_m as f32 * scale).max(4.0);
                painter.circle(at, radius, fill, Stroke::new(1.5, stroke));
            };
            for place in places {
                circle(
                    (place.latitude, place.longitude),
                    place.radius_m,
                    Color32::from_rgba_unmultiplied(120, 80, 200, 40),
                    Color32::from_rgb(120, 80, 200),
                );
            }
            super::homes::draw(&painter, projector, homes, ui.style());
            if let Some((centre, radius_m)) = draft {
                circle(
                    centre,
                    radius_m,
                    Color32::from_rgba_unmultiplied(230, 140, 20, 60),
                    Color32::from_rgb(230, 140, 20),
                );
            }
            if trail.len() > 1 {
                let line: Vec<Pos2> = trail.iter().map(project).collect();
                painter.add(egui::Shape::line(
                    line,
                    Stroke::new(2.5, Color32::from_rgb(40, 110, 220)),
                ));
            }
            route_ui(ui, &painter, &route.iter().map(project).collect::<Vec<_>>());
            for place in charging {
                let at = project(place);
                // Larger than a vehicle's dot: a car parked at its charger hides only the
                // middle.
                painter.rect_filled(
                    egui::Rect::from_center_size(at, Vec2::splat(22.0)),
                    3.0,
                    Color32::from_rgb(60, 160, 90),
                );
                painter.rect_stroke(
                    egui::Rect::from_center_size(at, Vec2::splat(22.0)),
                    2.0,
                    Stroke::new(1.5, Color32::WHITE),
                    egui::StrokeKind::Outside,
                );
            }
            // Cars parked together (a depot) would stack their labels: place each label
            // below the ones already placed that it would cover, with a leader line.
            let mut order: Vec<(&Marker, Pos2)> =
                markers.iter().map(|m| (m, project(&m.position))).collect();
            order.sort_by(|a, b| a.1.y.total_cmp(&b.1.y));
            // Every dot first, then every label, so no dot covers a label.
            for (marker, at) in &order {
                let chosen = selected.as_deref() == Some(marker.id.as_str());
                painter.circle(
                    *at,
                    if chosen { 9.0 } else { 7.0 },
                    marker.color,
                    Stroke::new(if chosen { 3.0 } else { 2.0 }, Color32::WHITE),
                );
            }
            let mut placed: Vec<egui::Rect> = Vec::new();
            for (marker, at) in order {
                let galley_width = ui
                    .painter()
                    .layout_no_wrap(
                        marker.label.clone(),
                        egui::TextStyle::Small.resolve(ui.style()),
                        Color32::BLACK,
                    )
                    .size()
                    .x;
                let mut rect = egui::Rect::from_min_size(
                    at + Vec2::new(12.0, -8.0),
                    Vec2::new(galley_width + 4.0, 16.0),
                );
                while placed.iter().any(|p| p.intersects(rect.shrink(0.5))) {
                    rect = rect.translate(Vec2::new(0.0, 17.0));
                }
                if rect.center().y - at.y > 12.0 {
                    painter.line_segment(
                        [at, rect.left_center()],
                        Stroke::new(1.0, Color32::from_gray(120)),
                    );
                }
                placed.push(rect);
                // A real widget, so the label is readable by screen readers and tests and
                // clickable.
                let text = RichText::new(&marker.label)
                    .small()
                    .color(Color32::BLACK)
                    .background_color(Color32::from_white_alpha(220));
                if ui
                    .put(rect, egui::Label::new(text).sense(egui::Sense::click()))
                    .clicked()
                {
                    *selected = Some(marker.id.clone());
                }
            }
            // The attribution OpenStreetMap's licence asks for, bottom right.
            let clip = ui.clip_rect();
            let attribution = egui::Rect::from_min_max(
                clip.right_bottom() - Vec2::new(190.0, 20.0),
                clip.right_bottom(),
            );
            ui.put(
                attribution,
                egui::Hyperlink::from_label_and_url(
                    RichText::new("© OpenStreetMap contributors")
                        .small()
                        .background_color(Color32::from_white_alpha(200)),
                    "https://www.openstreetmap.org/copyright",
                ),
            );
            for place in places {
                let at = project(&(place.latitude, place.longitude));
                painter.text(
                    at,
                    egui::Align2::CENTER_CENTER,
                    &place.name,
                    egui::TextStyle::Small.resolve(ui.style()),
                    Color32::from_rgb(80, 40, 160),
                );
            }
        });
        self.shown = shown;
        clicked_at
    }
}

/// A route on the map: a line with a light casing (it stays readable over any tile), a
/// green dot where it started and a red one where it ended, each labelled.
fn route_ui(ui: &mut egui::Ui, painter: &egui::Painter, line: &[Pos2]) {
    let (Some(&start), Some(&end)) = (line.first(), line.last()) else {
        return;
    };
    if line.len() > 1 {
        painter.add(egui::Shape::line(
            line.to_vec(),
            Stroke::new(7.0, Color32::from_white_alpha(200)),
        ));
        painter.add(egui::Shape::line(
            line.to_vec(),
            Stroke::new(4.0, ROUTE_COLOR),
        ));
    }
    for (at, color, label) in [(start, START_COLOR, "Start"), (end, END_COLOR, "End")] {
        painter.circle(at, 8.0, color, Stroke::new(2.5, Color32::WHITE));
        // A real widget, as the markers' labels are: screen readers and tests find it.
        let text = RichText::new(label)
            .small()
            .strong()
            .color(Color32::WHITE)
            .background_color(color);
        let offset = if label == "Start" { -26.0 } else { 12.0 };
        ui.put(
            egui::Rect::from_min_size(at + Vec2::new(-16.0, offset), Vec2::new(32.0, 14.0)),
            egui::Label::new(text),
        );
    }
}
