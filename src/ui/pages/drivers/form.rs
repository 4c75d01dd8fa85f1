//! A driver being added or edited, as typed: name, email, home (point and radius), the
//! rate paid back for charging at home and an off-peak window with its own rate. The store
//! checks again when it writes; this catches what can be said before sending.

use crate::domain::tariff::Window;
use crate::store::drivers::{DEFAULT_HOME_RADIUS_M, Driver, Home};
use crate::store::owner::OwnerWrite;
use crate::ui::context::{Nav, PageCx};
use crate::ui::widgets::{PROBLEM, hint_ui, number};

/// The driver form's fields, as typed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DriverForm {
    /// The name of the driver being edited (None: a new one).
    pub replaces: Option<String>,
    /// Name.
    pub name: String,
    /// Email (may be empty).
    pub email: String,
    /// The home's latitude (empty with the longitude: no home).
    pub latitude: String,
    /// The home's longitude.
    pub longitude: String,
    /// The home's radius, metres (empty: 100).
    pub radius_m: String,
    /// Price per kWh paid back (empty: none yet).
    pub rate: String,
    /// Off-peak window `22:00-06:00` (empty: none).
    pub off_peak: String,
    /// Price per kWh inside it.
    pub off_peak_rate: String,
    /// Why it could not be saved.
    pub problem: Option<String>,
}

fn optional_number(text: &str, what: &str) -> Result<Option<f64>, String> {
    match text.trim() {
        "" => Ok(None),
        t => number(t, what).map(Some),
    }
}

impl DriverForm {
    /// A new driver.
    pub fn new() -> Self {
        DriverForm {
            radius_m: format!("{DEFAULT_HOME_RADIUS_M:.0}"),
            ..DriverForm::default()
        }
    }

    /// The form of an existing driver.
    pub fn edit(driver: &Driver) -> Self {
        let text = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
        DriverForm {
            replaces: Some(driver.name.clone()),
            name: driver.name.clone(),
            email: driver.email.clone().unwrap_or_default(),
            latitude: text(driver.home.map(|h| h.latitude)),
            longitude: text(driver.home.map(|h| h.longitude)),
            radius_m: text(Some(
                driver.home.map_or(DEFAULT_HOME_RADIUS_M, |h| h.radius_m),
            )),
            rate: text(driver.rate_per_kwh),
            off_peak: driver.off_peak.map(|(w, _)| w.text()).unwrap_or_default(),
            off_peak_rate: text(driver.off_peak.map(|(_, r)| r)),
            problem: None,
        }
    }

    /// The driver as typed, or what to fix, in words.
    pub fn driver(&self) -> Result<Driver, String> {
        let name = self.name.trim();
        if name.is_empty() {
            return Err("Give the driver a name.".into());
        }
        let email = self.email.trim();
        if !email.is_empty() && !email.contains('@') {
            return Err(format!("{email:?} is not an email address."));
        }
        let home = match (self.latitude.trim(), self.longitude.trim()) {
            ("", "") => None,
            ("", _) | (_, "") => {
                return Err(
                    "Give both the home's latitude and longitude (or neither: no home yet).".into(),
                );
            }
            (lat, lon) => {
                let home = Home {
                    latitude: number(lat, "The latitude")?,
                    longitude: number(lon, "The longitude")?,
                    radius_m: optional_number(&self.radius_m, "The radius")?
                        .unwrap_or(DEFAULT_HOME_RADIUS_M),
                };
                if !(-90.0..=90.0).contains(&home.latitude)
                    || !(-180.0..=180.0).contains(&home.longitude)
                {
                    return Err(
                        "The latitude must be within ±90° and the longitude within ±180°.".into(),
                    );
                }
                if !(1.0..=100_000.0).contains(&home.radius_m) {
                    return Err("The home's radius must be between 1 and 100000 m.".into());
                }
                Some(home)
            }
        };
        let rate = optional_number(&self.rate, "The rate per kWh")?;
        let off_peak = match (self.off_peak.trim(), self.off_peak_rate.trim()) {
            ("", "") => None,
            (_, "") => return Err("Give the off-peak rate per kWh too.".into()),
            ("", _) => {
                return Err(
                    "Give the off-peak window too, as HH:MM-HH:MM (such as 22:00-06:00).".into(),
                );
            }
            (window, price) => Some((
                Window::parse(window)?,
                number(price, "The off-peak rate per kWh")?,
            )),
        };
        let in_range = |p: Option<f64>| p.is_none_or(|p| (0.0..=100.0).contains(&p));
        if !in_range(rate) || !in_range(off_peak.map(|(_, p)| p)) {
            return Err("A rate per kWh must be between 0 and 100.".into());
        }
        Ok(Driver {
            name: name.to_owned(),
            email: Some(email.to_owned()).filter(|e| !e.is_empty()),
            home,
            rate_per_kwh: rate,
            off_peak,
        })
    }

    /// The write that stores it, or what to fix.
    pub fn write(&self) -> Result<OwnerWrite, String> {
        Ok(OwnerWrite::Driver {
            replaces: self.replaces.clone(),
            driver: self.driver()?,
        })
    }

    /// Draws the fields and Save/Cancel; returns true when the form is done with.
    pub fn ui(&mut self, ui: &mut egui::Ui, cx: &mut PageCx) -> bool {
        let mut done = false;
        let currency = cx.fleet.settings.currency.code().to_owned();
        let zone = cx.fleet.settings.zone.name();
        egui::Grid::new(("driver form", self.replaces.clone()))
            .num_columns(2)
            .spacing([12.0, 6.0])
            .show(ui, |ui| {
                let field = |ui: &mut egui::Ui, text: &mut String, hint: &str, width: f32| {
                    ui.add(
                        egui::TextEdit::singleline(text)
                            .hint_text(hint)
                            .desired_width(width),
                    );
                };
                ui.label("Name");
                field(ui, &mut self.name, "Anna Berg", 200.0);
                ui.end_row();
                ui.label("Email");
                field(ui, &mut self.email, "optional", 200.0);
                ui.end_row();
                ui.label("Home: latitude, longitude");
                ui.horizontal(|ui| {
                    field(ui, &mut self.latitude, "52.52", 100.0);
                    field(ui, &mut self.longitude, "13.40", 100.0);
                });
                ui.end_row();
                ui.label("Home radius (m)");
                field(ui, &mut self.radius_m, "100", 80.0);
                ui.end_row();
                ui.label(format!("Rate per kWh ({currency})"));
                field(ui, &mut self.rate, "0.30", 80.0);
                ui.end_row();
                ui.label(format!("Off-peak window ({zone}) and rate"));
                ui.horizontal(|ui| {
                    field(ui, &mut self.off_peak, "22:00-06:00", 100.0);
                    field(ui, &mut self.off_peak_rate, "rate", 80.0);
                });
                ui.end_row();
            });
        ui.horizontal(|ui| {
            if ui.button("Save the driver").clicked() {
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
            match &self.replaces {
                Some(name) => {
                    if ui
                        .button("Pick on the map")
                        .on_hover_text("Click where the driver lives on the map (unsaved changes here are dropped)")
                        .clicked()
                    {
                        cx.nav = Some(Nav::HomeOnMap(name.clone()));
                        done = true;
                    }
                }
                None => hint_ui(ui, "Save the driver first to pick the home on the map."),
            }
        });
        if let Some(problem) = &self.problem {
            ui.colored_label(PROBLEM, problem);
        }
        done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form() -> DriverForm {
        DriverForm {
            name: "Anna".into(),
            ..DriverForm::new()
        }
    }

    #[test]
    fn a_form_reads_as_a_driver_or_says_what_to_fix() {
        let mut f = form();
        f.latitude = "52,5".into();
        f.longitude = "13.4".into();
        f.rate = "0.3".into();
        f.off_peak = "22:00-06:00".into();
        f.off_peak_rate = "0.2".into();
        let d = f.driver().unwrap();
        assert_eq!(d.home.unwrap().latitude, 52.5);
        assert_eq!(d.home.unwrap().radius_m, DEFAULT_HOME_RADIUS_M);
        assert_eq!(d.off_peak.unwrap().0.text(), "22:00-06:00");
        assert_eq!(DriverForm::edit(&d).driver().unwrap(), d);

        let problem = |change: fn(&mut DriverForm)| {
            let mut f = form();
            change(&mut f);
            f.driver().unwrap_err()
        };
        assert!(problem(|f| f.name = " ".into()).contains("name"));
        assert!(problem(|f| f.latitude = "52".into()).contains("both"));
        assert!(problem(|f| f.rate = "cheap".into()).contains("must be a number"));
        assert!(problem(|f| f.rate = "-1".into()).contains("between 0 and 100"));
        assert!(problem(|f| f.off_peak = "22-6".into()).contains("rate"));
        assert!(
            problem(|f| {
                f.off_peak = "22-6".into();
                f.off_peak_rate = "0.1".into();
            })
            .contains("HH:MM")
        );
        assert!(problem(|f| f.email = "anna".into()).contains("email"));
    }
}
