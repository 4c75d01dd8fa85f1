//! The map (walkers): every vehicle's latest position as a labelled marker coloured by its
//! battery, the selected vehicle's trail and charging places, fit-to-fleet. Tiles come from
//! the tile URL setting (OpenStreetMap by default, with an identifying User-Agent, a disk
//! cache and the attribution on the map). When tiles can't be fetched, everything else still
//! draws and the map says so.

use std::sync::{Arc, Mutex};

use egui::{Color32, Pos2, RichText, Stroke, Vec2};
use walkers::sources::{Attribution, TileSource};
use walkers::{HttpOptions, HttpTiles, MapMemory, TileId, lat_lon};

use crate::store::sessions::Place;
use crate::ui::data::VehicleRow;
use crate::ui::settings::{OSM_TILES, Units};
use crate::ui::widgets::battery_color;

/// What the map draws besides its tiles.
pub struct Layers<'a> {
    /// Every vehicle; those with a position get a marker.
    pub fleet: &'a [VehicleRow],
    /// The selected vehicle's trail (latitude, longitude).
    pub trail: &'a [(f64, f64)],
    /// Where the selected vehicle charged.
    pub charging: &'a [(f64, f64)],
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

/// Sent with every tile request, as OpenStreetMap's tile usage policy asks.
pub const USER_AGENT: &str = concat!(
    "fleetdash/",
    env!("CARGO_PKG_VERSION"),
    " (desktop dashboard for EV fleets; contact: the fleet owner running it)"
);

/// A tile server given as a URL template with `{z}`, `{x}` and `{y}`.
struct TemplateSource {
    template: String,
}

impl TileSource for TemplateSource {
    fn tile_url(&self, tile_id: TileId) -> String {
        tile_url(&self.template, tile_id.zoom, tile_id.x, tile_id.y)
    }

    fn attribution(&self) -> Attribution {
        Attribution {
            text: "© OpenStreetMap contributors",
            url: "https://www.openstreetmap.org/copyright",
            logo_light: None,
            logo_dark: None,
        }
    }
}

fn tile_url(template: &str, zoom: u8, x: u32, y: u32) -> String {
    template
        .trim()
        .replace("{z}", &zoom.to_string())
        .replace("{x}", &x.to_string())
        .replace("{y}", &y.to_string())
}

/// Whether the tile server answers.
#[derive(Debug, Clone, PartialEq)]
pub enum TileState {
    /// Still asking.
    Checking,
    /// Tiles load.
    Available,
    /// Tiles can't load; why, in words.
    Unavailable(String),
}

/// Where tiles are cached on disk (OpenStreetMap's policy asks clients to cache).
fn tile_cache_dir() -> Option<std::path::PathBuf> {
    directories::ProjectDirs::from("", "", "fleetdash").map(|d| d.cache_dir().join("tiles"))
}

/// A marker to draw.
#[derive(Debug, Clone)]
struct Marker {
    id: String,
    label: String,
    position: (f64, f64),
    color: Color32,
}

/// The map's state.
pub struct MapView {
    tiles: Option<HttpTiles>,
    tiles_for: String,
    tile_state: Arc<Mutex<TileState>>,
    memory: MapMemory,
    fit_pending: bool,
}

impl Default for MapView {
    fn default() -> Self {
        MapView {
            tiles: None,
            tiles_for: String::new(),
            tile_state: Arc::new(Mutex::new(TileState::Checking)),
            memory: MapMemory::default(),
            fit_pending: true,
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
        self.fit_pending = true;
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
        if self.fit_pending && size.x > 0.0 && size.y > 0.0 {
            self.fit_pending = false;
            let (centre, zoom) = fit(&points, size);
            self.memory.center_at(lat_lon(centre.0, centre.1));
            let _ = self.memory.set_zoom(zoom);
        }
        let tiles = match tile_state {
            TileState::Unavailable(_) => None,
            _ => self.tiles.as_mut().map(|t| t as &mut dyn walkers::Tiles),
        };
        let mut clicked_at = None;
        let map = walkers::Map::new(tiles, &mut self.memory, lat_lon(center.0, center.1));
        map.show(ui, |ui, response, projector, _memory| {
            // Only inside the map: a trail may run far beyond what is shown.
            let painter = ui.painter().with_clip_rect(response.rect);
            let project =
                |p: &(f64, f64)| -> Pos2 { projector.project(lat_lon(p.0, p.1)).to_pos2() };
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
        clicked_at
    }
}

/// Fetches one tile to see whether the server answers.
fn probe(url: &str) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let client = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .map_err(|e| e.to_string())?;
        let response = client.get(url).send().await.map_err(|e| {
            if e.is_connect() || e.is_timeout() {
                format!("no connection to {}", host_of(url))
            } else {
                e.to_string()
            }
        })?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(format!("{} answered {}", host_of(url), response.status()))
        }
    })
}

fn host_of(url: &str) -> &str {
    url.split("//")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or(url)
}

fn centre_of(points: &[(f64, f64)]) -> Option<(f64, f64)> {
    let (lat_min, lat_max, lon_min, lon_max) = bounds(points)?;
    Some(((lat_min + lat_max) / 2.0, (lon_min + lon_max) / 2.0))
}

fn bounds(points: &[(f64, f64)]) -> Option<(f64, f64, f64, f64)> {
    let first = points.first()?;
    Some(
        points
            .iter()
            .fold((first.0, first.0, first.1, first.1), |(a, b, c, d), p| {
                (a.min(p.0), b.max(p.0), c.min(p.1), d.max(p.1))
            }),
    )
}

/// Web Mercator, 0..1 across the world.
fn mercator(lat: f64, lon: f64) -> (f64, f64) {
    let x = (lon + 180.0) / 360.0;
    let lat = lat.clamp(-85.0, 85.0).to_radians();
    let y = (1.0 - (lat.tan() + 1.0 / lat.cos()).ln() / std::f64::consts::PI) / 2.0;
    (x, y)
}

/// The centre and zoom that show every point in a view of `size` pixels, with a margin.
fn fit(points: &[(f64, f64)], size: Vec2) -> ((f64, f64), f64) {
    let Some((lat_min, lat_max, lon_min, lon_max)) = bounds(points) else {
        return (crate::sim::fleet::CITY_CENTER, 11.0);
    };
    let (x0, y0) = mercator(lat_max, lon_min);
    let (x1, y1) = mercator(lat_min, lon_max);
    let width = f64::from(size.x.max(1.0)) * 0.8;
    let height = f64::from(size.y.max(1.0)) * 0.8;
    let zoom_x = (width / (256.0 * (x1 - x0).max(1e-9))).log2();
    let zoom_y = (height / (256.0 * (y1 - y0).max(1e-9))).log2();
    let zoom = zoom_x.min(zoom_y).clamp(2.0, 16.0);
    (
        ((lat_min + lat_max) / 2.0, (lon_min + lon_max) / 2.0),
        zoom.floor(),
    )
}

/// Whether `template` is OpenStreetMap's own server.
pub fn is_osm(template: &str) -> bool {
    template.trim() == OSM_TILES
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tile_urls_fill_in_zoom_x_and_y() {
        assert_eq!(
            tile_url(OSM_TILES, 3, 4, 5),
            "https://tile.openstreetmap.org/3/4/5.png"
        );
    }

    #[test]
    fn fitting_a_city_fleet_zooms_in_and_centres_between_the_extremes() {
        let points = [(48.10, 11.50), (48.20, 11.65)];
        let (centre, zoom) = fit(&points, Vec2::new(800.0, 600.0));
        assert!((centre.0 - 48.15).abs() < 1e-9 && (centre.1 - 11.575).abs() < 1e-9);
        assert!((10.0..=13.0).contains(&zoom), "zoom {zoom}");
        // One car alone: as close as the fit allows.
        assert_eq!(fit(&points[..1], Vec2::new(800.0, 600.0)).1, 16.0);
    }
}
