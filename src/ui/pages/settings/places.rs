//! Charging places (home, depot, a public network) with their radius and own price: the
//! list with edit and remove (Settings), and the form the map's "Add a place here" fills.

use crate::store::owner::OwnerWrite;
use crate::store::sessions::Place;
use crate::ui::context::PageCx;
use crate::ui::widgets::{PROBLEM, hint_ui, number};

/// A place being added or edited, as typed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlaceForm {
    /// The name of the place being edited (None: a new one).
    pub replaces: Option<String>,
    /// Its name.
    pub name: String,
    /// Degrees north, as typed.
    pub latitude: String,
    /// Degrees east, as typed.
    pub longitude: String,
    /// Metres, as typed.
    pub radius_m: String,
    /// Its own price per kWh, as typed (empty: the default price).
    pub price: String,
    /// The off-peak window, `22:00-06:00` as typed (empty: none).
    pub off_peak: String,
    /// The price inside it, as typed.
    pub off_peak_price: String,
    /// Why it could not be saved.
    pub problem: Option<String>,
}

impl PlaceForm {
    /// A new place at a point, 150 m around it.
    pub fn at(latitude: f64, longitude: f64) -> Self {
        PlaceForm {
            latitude: format!("{latitude:.6}"),
            longitude: format!("{longitude:.6}"),
            radius_m: "150".into(),
            ..PlaceForm::default()
        }
    }

    /// The form of an existing place.
    pub fn edit(place: &Place) -> Self {
        PlaceForm {
            replaces: Some(place.name.clone()),
            name: place.name.clone(),
            latitude: place.latitude.to_string(),
            longitude: place.longitude.to_string(),
            radius_m: place.radius_m.to_string(),
            price: place
                .price_per_kwh
                .map(|p| p.to_string())
                .unwrap_or_default(),
            off_peak: place.off_peak.map(|(w, _)| w.text()).unwrap_or_default(),
            off_peak_price: place
                .off_peak
                .map(|(_, p)| p.to_string())
                .unwrap_or_default(),
            problem: None,
        }
    }

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

    /// The write that stores it, or what to fix.
    pub fn write(&self) -> Result<OwnerWrite, String> {
        let name = self.name.trim();
        if name.is_empty() {
            return Err("Give the place a name, such as Depot or Anna's home.".into());
        }
        let price = match self.price.trim() {
            "" => None,
            p => Some(number(p, "The price per kWh")?),
        };
        let place = Place {
            name: name.to_owned(),
            latitude: number(&self.latitude, "The latitude")?,
            longitude: number(&self.longitude, "The longitude")?,
            radius_m: number(&self.radius_m, "The radius")?,
            price_per_kwh: price,
            off_peak: match (self.off_peak.trim(), self.off_peak_price.trim()) {
                ("", "") => None,
                (window, price) => Some((
                    crate::domain::tariff::Window::parse(window)?,
                    number(price, "The off-peak price per kWh")?,
                )),
            },
        };
        if !(-90.0..=90.0).contains(&place.latitude) || !(-180.0..=180.0).contains(&place.longitude)
        {
            return Err("The latitude must be within ±90° and the longitude within ±180°.".into());
        }
        if !(1.0..=100_000.0).contains(&place.radius_m) {
            return Err("The radius must be between 1 and 100000 m.".into());
        }
        if price.is_some_and(|p| !(0.0..=100.0).contains(&p)) {
            return Err("The price per kWh must be between 0 and 100.".into());
        }
        Ok(OwnerWrite::Place {
            replaces: self.replaces.clone(),
            place,
        })
    }

    /// Draws the fields and Save/Cancel; returns true when the form is done with (saved
    /// or cancelled).
    pub fn ui(&mut self, ui: &mut egui::Ui, cx: &mut PageCx) -> bool {
        let mut done = false;
        egui::Grid::new(("place form", self.replaces.clone()))
            .num_columns(2)
            .spacing([12.0, 6.0])
            .show(ui, |ui| {
                ui.label("Name");
                ui.add(
                    egui::TextEdit::singleline(&mut self.name)
                        .hint_text("Depot")
                        .desired_width(200.0),
                );
                ui.end_row();
                ui.label("Latitude, longitude");
                ui.horizontal(|ui| {
                    ui.add(egui::TextEdit::singleline(&mut self.latitude).desired_width(100.0));
                    ui.add(egui::TextEdit::singleline(&mut self.longitude).desired_width(100.0));
                });
                ui.end_row();
                ui.label("Radius (m)");
                ui.add(egui::TextEdit::singleline(&mut self.radius_m).desired_width(80.0));
                ui.end_row();
                ui.label(format!(
                    "Price per kWh ({})",
                    cx.fleet.settings.currency.code()
                ));
                ui.add(
                    egui::TextEdit::singleline(&mut self.price)
                        .hint_text("the default")
                        .desired_width(80.0),
                );
                ui.end_row();
                ui.label("Off-peak window and price");
                ui.horizontal(|ui| {
                    ui.add(
                        egui::TextEdit::singleline(&mut self.off_peak)
                            .hint_text("22:00-06:00")
                            .desired_width(100.0),
                    );
                    ui.add(
                        egui::TextEdit::singleline(&mut self.off_peak_price)
                            .hint_text("price")
                            .desired_width(80.0),
                    );
                });
                ui.end_row();
            });
        ui.horizontal(|ui| {
            if ui.button("Save the place").clicked() {
                match self.write() {
                    Ok(write) => {
                        cx.writes.send(write);
                        done = true;
                    }
                    Err(problem) => self.problem = Some(problem),
                }
            }
            if ui.button("Cancel").clicked() {
                done = true;
            }
        });
        if let Some(problem) = &self.problem {
            ui.colored_label(PROBLEM, problem);
        }
        done
    }
}

/// The places list and the form open under it.
#[derive(Default)]
pub struct PlacesEditor {
    form: Option<PlaceForm>,
}

impl PlacesEditor {
    /// Draws the list, with Edit and Remove per place and "Add a place".
    pub fn ui(&mut self, ui: &mut egui::Ui, cx: &mut PageCx) {
        let currency = cx.fleet.settings.currency.clone();
        let mut remove = None;
        if cx.fleet.places.is_empty() {
            hint_ui(
                ui,
                "No place yet. A session within a place's radius is priced at its price; add the depot or a driver's home here or on the map.",
            );
        } else {
            egui::Grid::new("places")
                .striped(true)
                .spacing([16.0, 4.0])
                .show(ui, |ui| {
                    for heading in ["Place", "Where", "Radius", "Price", "", ""] {
                        ui.strong(heading);
                    }
                    ui.end_row();
                    for place in &cx.fleet.places {
                        ui.label(&place.name);
                        ui.label(format!("{:.5}, {:.5}", place.latitude, place.longitude));
                        ui.label(format!("{:.0} m", place.radius_m));
                        let mut price = place
                            .price_per_kwh
                            .map_or("the default".into(), |p| currency.per_kwh(p));
                        if let Some((window, p)) = place.off_peak {
                            price.push_str(&format!(", {} {}", window.text(), currency.per_kwh(p)));
                        }
                        ui.label(price);
                        if ui.small_button("Edit").clicked() {
                            self.form = Some(PlaceForm::edit(place));
                        }
                        if ui.small_button("Remove").clicked() {
                            remove = Some(place.name.clone());
                        }
                        ui.end_row();
                    }
                });
        }
        if let Some(name) = remove {
            cx.writes.send(OwnerWrite::RemovePlace(name));
        }
        match &mut self.form {
            Some(form) => {
                if form.ui(ui, cx) {
                    self.form = None;
                }
            }
            None => {
                if ui.button("Add a place").clicked() {
                    self.form = Some(PlaceForm {
                        radius_m: "150".into(),
                        ..PlaceForm::default()
                    });
                }
            }
        }
    }
}
