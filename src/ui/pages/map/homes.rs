//! Drivers' homes on the map: each drawn with its radius, and "Set a driver's home here":
//! click a point, pick the driver, see the radius, save (the driver's other details stay).

use crate::store::drivers::{DEFAULT_HOME_RADIUS_M, Driver, Home};
use crate::store::owner::OwnerWrite;
use crate::ui::context::PageCx;
use crate::ui::reader::DriversData;
use crate::ui::widgets::{PROBLEM, hint_ui, number};

/// The teal of drivers' homes.
const HOME: egui::Color32 = egui::Color32::from_rgb(20, 140, 140);

/// Draws each home (name, centre, radius in m) as a circle of its radius, named under
/// its centre (where the driver's car sleeps, so its dot covers the centre).
pub fn draw(
    painter: &egui::Painter,
    projector: &walkers::Projector,
    homes: &[(String, (f64, f64), f64)],
    style: &egui::Style,
) {
    for (name, (lat, lon), radius_m) in homes {
        let at = projector.project(walkers::lat_lon(*lat, *lon)).to_pos2();
        let scale = projector.scale_pixel_per_meter(walkers::lat_lon(*lat, *lon));
        painter.circle(
            at,
            (*radius_m as f32 * scale).max(4.0),
            egui::Color32::from_rgba_unmultiplied(20, 140, 140, 40),
            egui::Stroke::new(1.5, HOME),
        );
        painter.text(
            at + egui::vec2(0.0, 14.0),
            egui::Align2::CENTER_TOP,
            name,
            egui::TextStyle::Small.resolve(style),
            HOME,
        );
    }
}

/// A home being placed, as typed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HomeForm {
    /// Whose (a driver's name).
    pub driver: String,
    /// Degrees north, as typed.
    pub latitude: String,
    /// Degrees east, as typed.
    pub longitude: String,
    /// Metres, as typed.
    pub radius_m: String,
    /// Why it could not be saved.
    pub problem: Option<String>,
}

impl HomeForm {
    /// The point and radius as typed, when they read as numbers (the map draws them).
    pub fn circle(&self) -> Option<((f64, f64), f64)> {
        Some((
            (
                number(&self.latitude, "").ok()?,
                number(&self.longitude, "").ok()?,
            ),
            number(&self.radius_m, "").ok()?,
        ))
    }

    /// The write that gives `driver` (as read) this home, or what to fix.
    pub fn write(&self, drivers: &[Driver]) -> Result<OwnerWrite, String> {
        let Some(driver) = drivers.iter().find(|d| d.name == self.driver) else {
            return Err("Pick the driver who lives here.".into());
        };
        let home = Home {
            latitude: number(&self.latitude, "The latitude")?,
            longitude: number(&self.longitude, "The longitude")?,
            radius_m: number(&self.radius_m, "The radius")?,
        };
        if !(-90.0..=90.0).contains(&home.latitude) || !(-180.0..=180.0).contains(&home.longitude) {
            return Err("The latitude must be within ±90° and the longitude within ±180°.".into());
        }
        if !(1.0..=100_000.0).contains(&home.radius_m) {
            return Err("The radius must be between 1 and 100000 m.".into());
        }
        Ok(OwnerWrite::Driver {
            replaces: Some(driver.name.clone()),
            driver: Driver {
                home: Some(home),
                ..driver.clone()
            },
        })
    }
}

/// The homes drawn and "Set a driver's home here".
#[derive(Default)]
pub struct HomePicker {
    drivers: Vec<Driver>,
    /// Waiting for a click, for this driver (empty: not chosen yet).
    waiting: Option<String>,
    form: Option<HomeForm>,
}

impl HomePicker {
    /// Takes the drivers read.
    pub fn take(&mut self, data: &DriversData) {
        self.drivers = data.drivers.clone();
    }

    /// Waits for a click where `driver` lives.
    pub fn pick_for(&mut self, driver: &str) {
        self.form = None;
        self.waiting = Some(driver.to_owned());
    }

    /// True while waiting for a click.
    pub fn waiting(&self) -> bool {
        self.waiting.is_some()
    }

    /// The map was clicked at a point: while waiting, the form opens there.
    pub fn clicked(&mut self, latitude: f64, longitude: f64) {
        let Some(driver) = self.waiting.take() else {
            return;
        };
        let radius = self
            .drivers
            .iter()
            .find(|d| d.name == driver)
            .and_then(|d| d.home)
            .map_or(DEFAULT_HOME_RADIUS_M, |h| h.radius_m);
        self.form = Some(HomeForm {
            driver,
            latitude: format!("{latitude:.6}"),
            longitude: format!("{longitude:.6}"),
            radius_m: format!("{radius:.0}"),
            problem: None,
        });
    }

    /// Every driver's home: name, centre, radius (m).
    pub fn circles(&self) -> Vec<(String, (f64, f64), f64)> {
        self.drivers
            .iter()
            .filter_map(|d| {
                let h = d.home?;
                Some((d.name.clone(), (h.latitude, h.longitude), h.radius_m))
            })
            .collect()
    }

    /// The home being placed, as typed.
    pub fn draft(&self) -> Option<((f64, f64), f64)> {
        self.form.as_ref().and_then(HomeForm::circle)
    }

    /// Forgets what was read (another database).
    pub fn reset(&mut self) {
        *self = HomePicker::default();
    }

    /// The button, the hint while waiting, and the form once a point is clicked.
    pub fn ui(&mut self, ui: &mut egui::Ui, cx: &mut PageCx) {
        if let Some(form) = &mut self.form {
            ui.strong("A driver's home");
            egui::ComboBox::from_label("Driver")
                .selected_text(if form.driver.is_empty() {
                    "pick the driver"
                } else {
                    &form.driver
                })
                .show_ui(ui, |ui| {
                    for d in &self.drivers {
                        ui.selectable_value(&mut form.driver, d.name.clone(), &d.name);
                    }
                });
            egui::Grid::new("home form")
                .num_columns(2)
                .spacing([8.0, 6.0])
                .show(ui, |ui| {
                    ui.label("Latitude");
                    ui.add(egui::TextEdit::singleline(&mut form.latitude).desired_width(100.0));
                    ui.end_row();
                    ui.label("Longitude");
                    ui.add(egui::TextEdit::singleline(&mut form.longitude).desired_width(100.0));
                    ui.end_row();
                    ui.label("Radius (m)");
                    ui.add(egui::TextEdit::singleline(&mut form.radius_m).desired_width(80.0));
                    ui.end_row();
                });
            let mut done = false;
            ui.horizontal(|ui| {
                if ui.button("Save the home").clicked() {
                    match form.write(&self.drivers) {
                        Ok(write) => {
                            cx.writes.send(write);
                            done = true;
                        }
                        Err(problem) => form.problem = Some(problem),
                    }
                }
                if ui.button("Cancel").clicked() {
                    done = true;
                }
            });
            if let Some(problem) = &form.problem {
                ui.colored_label(PROBLEM, problem);
            }
            if done {
                self.form = None;
            }
        } else if let Some(driver) = &self.waiting {
            let whose = if driver.is_empty() {
                "the driver".to_owned()
            } else {
                driver.clone()
            };
            hint_ui(ui, &format!("Click the map where {whose} lives."));
            if ui.button("Cancel").clicked() {
                self.waiting = None;
            }
        } else if ui
            .button("Set a driver's home here")
            .on_hover_text("Home sessions within its radius are paid back at the driver's rate")
            .clicked()
        {
            self.waiting = Some(String::new());
        }
        if self.drivers.is_empty() && (self.form.is_some() || self.waiting.is_some()) {
            hint_ui(ui, "No driver yet: add one on the Drivers page.");
        }
    }
}
