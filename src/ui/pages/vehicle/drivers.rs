//! Who drives the vehicle: the driver now and every assignment period, in the fleet's
//! time zone (they are changed on the Drivers page).

use crate::store::drivers::driver_at;
use crate::ui::Page;
use crate::ui::context::{Nav, PageCx};
use crate::ui::reader::VehicleDetails;
use crate::ui::widgets::hint_ui;

/// "Driven by Anna Berg since ..." and the periods, collapsed.
pub(super) fn driver_ui(ui: &mut egui::Ui, id: &str, details: &VehicleDetails, cx: &mut PageCx) {
    let zone = cx.fleet.settings.zone;
    let now = crate::domain::time::now_ms();
    let periods = &details.assignments;
    ui.horizontal(|ui| {
        match driver_at(periods, id, now) {
            Some(name) => {
                let since = periods
                    .iter()
                    .find(|a| a.holds(now))
                    .map(|a| zone.local_minutes(a.from_ms))
                    .unwrap_or_default();
                ui.label(format!("Driven by {name} since {since}"));
            }
            None => hint_ui(ui, "No driver assigned now."),
        }
        if ui.small_button("Drivers").clicked() {
            cx.nav = Some(Nav::Page(Page::Drivers));
        }
    });
    if periods.is_empty() {
        return;
    }
    egui::CollapsingHeader::new(format!("Assignment periods ({})", periods.len()))
        .id_salt(("assignments", id))
        .show(ui, |ui| {
            egui::Grid::new(("vehicle assignments", id))
                .striped(true)
                .spacing([16.0, 2.0])
                .show(ui, |ui| {
                    for heading in ["Driver", "From", "Until"] {
                        ui.strong(heading);
                    }
                    ui.end_row();
                    for a in periods {
                        ui.label(&a.driver);
                        ui.label(zone.local_minutes(a.from_ms));
                        ui.label(
                            a.until_ms
                                .map_or_else(|| "open end".to_owned(), |u| zone.local_minutes(u)),
                        );
                        ui.end_row();
                    }
                });
        });
}
