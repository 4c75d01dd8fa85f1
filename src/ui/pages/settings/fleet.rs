//! Settings → Your fleet: its name, currency, price per kWh and time zone. The form is
//! filled from the database once, then keeps what the owner types; "Save" sends only what
//! changed through the owner-writes channel.

use crate::domain::money;
use crate::domain::zone::FleetZone;
use crate::store::owner::{FleetSettings, OwnerWrite};
use crate::ui::context::PageCx;
use crate::ui::widgets::{PROBLEM, hint_ui};

/// The fleet form's drafts.
#[derive(Default)]
pub struct FleetForm {
    /// What the form was filled from (None: not yet).
    from: Option<FleetSettings>,
    name: String,
    currency: String,
    price: String,
    /// An IANA name; empty: the system's.
    zone: String,
    problem: Option<String>,
    saved: bool,
}

impl FleetForm {
    fn fill(&mut self, settings: &FleetSettings) {
        self.name = settings.fleet_name.clone().unwrap_or_default();
        self.currency = settings.currency.code().to_owned();
        self.price = settings
            .price_per_kwh
            .map(|p| p.to_string())
            .unwrap_or_default();
        self.zone = if settings.zone_set {
            settings.zone.name().to_owned()
        } else {
            String::new()
        };
        self.from = Some(settings.clone());
    }

    /// The writes that turn `stored` into the form, or why the form cannot be saved.
    fn writes(&self, stored: &FleetSettings) -> Result<Vec<OwnerWrite>, String> {
        let mut writes = Vec::new();
        let price = match self.price.trim().replace(',', ".") {
            p if p.is_empty() => None,
            p => Some(p.parse::<f64>().map_err(|_| {
                format!("The price per kWh must be a number, such as 0.30, not {p:?}")
            })?),
        };
        if price != stored.price_per_kwh {
            writes.push(OwnerWrite::Price(price));
        }
        if self.currency != stored.currency.code() {
            writes.push(OwnerWrite::Currency(self.currency.clone()));
        }
        let name = self.name.trim();
        if Some(name) != stored.fleet_name.as_deref().or(Some("")) {
            writes.push(OwnerWrite::FleetName(name.to_owned()));
        }
        let zone = match self.zone.trim() {
            "" => None,
            typed => Some(FleetZone::parse(typed)?.name().to_owned()),
        };
        let stored_zone = stored.zone_set.then(|| stored.zone.name().to_owned());
        if zone != stored_zone {
            writes.push(OwnerWrite::TimeZone(zone));
        }
        Ok(writes)
    }

    /// Draws the form.
    pub fn ui(&mut self, ui: &mut egui::Ui, cx: &mut PageCx) {
        if self.from.is_none() && cx.fleet_loaded {
            self.fill(&cx.fleet.settings);
        }
        let system = FleetZone::system();
        let mut changed = false;
        egui::Grid::new("fleet settings")
            .num_columns(2)
            .spacing([16.0, 8.0])
            .show(ui, |ui| {
                ui.label("Fleet name");
                changed |= ui
                    .add(
                        egui::TextEdit::singleline(&mut self.name)
                            .hint_text("Heads statements and logbooks")
                            .desired_width(260.0),
                    )
                    .changed();
                ui.end_row();
                ui.label("Currency");
                egui::ComboBox::from_id_salt("currency")
                    .selected_text(&self.currency)
                    .height(300.0)
                    .show_ui(ui, |ui| {
                        for code in money::codes() {
                            changed |= ui
                                .selectable_value(&mut self.currency, (*code).to_owned(), *code)
                                .changed();
                        }
                    });
                ui.end_row();
                ui.label("Price per kWh");
                ui.horizontal(|ui| {
                    changed |= ui
                        .add(
                            egui::TextEdit::singleline(&mut self.price)
                                .hint_text("e.g. 0.30")
                                .desired_width(80.0),
                        )
                        .changed();
                    ui.label(format!(
                        "{} per kWh, where no place has its own",
                        self.currency
                    ));
                });
                ui.end_row();
                ui.label("Time zone");
                ui.vertical(|ui| {
                    changed |= ui
                        .add(
                            egui::TextEdit::singleline(&mut self.zone)
                                .hint_text(format!("As the system ({})", system.name()))
                                .desired_width(260.0),
                        )
                        .changed();
                    // Some 600 names: suggest those matching what is typed.
                    let typed = self.zone.trim().to_lowercase();
                    if !typed.is_empty() && FleetZone::parse(&self.zone).is_err() {
                        ui.horizontal_wrapped(|ui| {
                            let matching = chrono_tz::TZ_VARIANTS
                                .iter()
                                .map(|z| z.name())
                                .filter(|name| name.to_lowercase().contains(&typed))
                                .take(8);
                            for name in matching {
                                if ui.small_button(name).clicked() {
                                    self.zone = name.to_owned();
                                    changed = true;
                                }
                            }
                        });
                    }
                });
                ui.end_row();
            });
        if changed {
            self.saved = false;
            self.problem = None;
        }
        hint_ui(
            ui,
            "Days and months of analytics, exports and statements are the time zone's; costs are in the currency.",
        );
        ui.horizontal(|ui| {
            if ui.button("Save the fleet's settings").clicked() {
                match self.writes(&cx.fleet.settings) {
                    Ok(writes) => {
                        for write in writes {
                            cx.writes.send(write);
                        }
                        self.saved = true;
                    }
                    Err(problem) => self.problem = Some(problem),
                }
            }
            if self.saved {
                ui.label(if cx.writes.any_pending() {
                    "Saving..."
                } else {
                    "Saved."
                });
            }
        });
        if let Some(problem) = &self.problem {
            ui.colored_label(PROBLEM, problem);
        }
    }
}
