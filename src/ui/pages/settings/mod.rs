//! The Settings page: the fleet (its name, currency, price per kWh, time zone and
//! charging places: owner data, in the database, the same rows as `fleetdash settings`),
//! then this app's own preferences (units, theme, map tiles), where the data lives, the
//! always-on fleetdash it follows, and the alert rules (owner data too, as `fleetdash
//! alerts rules`) with whether desktop notifications are available.

mod alerts;
mod fleet;
pub mod places;

use egui::RichText;

use crate::ui::context::PageCx;
use crate::ui::settings::{OSM_TILES, Theme, Units, check_tile_url};
use crate::ui::widgets::PROBLEM;

/// The Settings page.
#[derive(Default)]
pub struct SettingsPage {
    tile_url_draft: Option<String>,
    tile_url_problem: Option<String>,
    fleet: fleet::FleetForm,
    places: places::PlacesEditor,
    alerts: alerts::RulesEditor,
}

impl SettingsPage {
    /// Draws the page.
    pub fn ui(&mut self, ui: &mut egui::Ui, cx: &mut PageCx) {
        egui::ScrollArea::vertical().show(ui, |ui| {
            ui.heading("Your fleet");
            self.fleet.ui(ui, cx);
            ui.add_space(8.0);
            ui.strong("Charging places");
            self.places.ui(ui, cx);
            ui.add_space(12.0);
            ui.separator();
            ui.heading("This app");
            self.app_ui(ui, cx);
            // Last, so the sections above keep their places on screen.
            ui.add_space(12.0);
            ui.separator();
            ui.heading("Alerts");
            self.alerts.ui(ui, cx);
        });
    }

    fn app_ui(&mut self, ui: &mut egui::Ui, cx: &mut PageCx) {
        let tile_url_draft = self
            .tile_url_draft
            .get_or_insert_with(|| cx.persisted.settings.tile_url.clone());
        let settings = &mut cx.persisted.settings;
        egui::Grid::new("settings")
            .num_columns(2)
            .spacing([16.0, 10.0])
            .show(ui, |ui| {
                ui.label("Distances");
                ui.horizontal(|ui| {
                    ui.selectable_value(&mut settings.units, Units::Km, "Kilometres");
                    ui.selectable_value(&mut settings.units, Units::Mi, "Miles");
                });
                ui.end_row();
                ui.label("Theme");
                ui.horizontal(|ui| {
                    ui.selectable_value(&mut settings.theme, Theme::System, "As the system");
                    ui.selectable_value(&mut settings.theme, Theme::Light, "Light");
                    ui.selectable_value(&mut settings.theme, Theme::Dark, "Dark");
                });
                ui.end_row();
                ui.label("Map tiles");
                ui.vertical(|ui| {
                    ui.horizontal(|ui| {
                        ui.add(egui::TextEdit::singleline(tile_url_draft).desired_width(420.0));
                        if ui.button("Apply").clicked() {
                            match check_tile_url(&*tile_url_draft) {
                                Ok(()) => {
                                    settings.tile_url = tile_url_draft.trim().to_owned();
                                    self.tile_url_problem = None;
                                }
                                Err(problem) => self.tile_url_problem = Some(problem),
                            }
                        }
                        if ui.button("OpenStreetMap").clicked() {
                            *tile_url_draft = OSM_TILES.into();
                            settings.tile_url = OSM_TILES.into();
                            self.tile_url_problem = None;
                        }
                    });
                    if let Some(problem) = &self.tile_url_problem {
                        ui.colored_label(PROBLEM, problem);
                    }
                    ui.label(
                        RichText::new(
                            "A URL with {z}, {x} and {y}: OpenStreetMap's by default, or your \
                             own tile server (for example one serving offline tiles).",
                        )
                        .weak(),
                    );
                });
                ui.end_row();
                ui.label("Data");
                ui.vertical(|ui| {
                    ui.label(RichText::new(cx.backend.db.display().to_string()).monospace());
                    ui.label(
                        RichText::new(if cx.backend.demo {
                            "Demo mode: this database is recreated at every start and never \
                             mixes with your own data."
                        } else {
                            "Set FLEETDASH_DB to use another file. `fleetdash export` and \
                             `fleetdash serve` use the same one by default."
                        })
                        .weak(),
                    );
                });
                ui.end_row();
            });
        ui.add_space(12.0);
        ui.separator();
        ui.heading("Receive data from an always-on fleetdash");
        let db = cx.backend.db.clone();
        cx.relay
            .settings_ui(ui, &db, cx.backend.demo, cx.wake.clone());
    }
}
