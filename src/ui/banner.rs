//! The banner over every page: demo mode and how to leave it, the callback server's
//! address and count, or why it is not running, and the live sync's state.

use egui::{Color32, RichText};

use super::backend::Backend;
use super::relay::RelayView;
use super::widgets::PROBLEM;

/// Draws the banner; returns `Some(demo)` when the owner asked to enter (true) or leave
/// (false) demo mode.
pub fn banner_ui(
    ui: &mut egui::Ui,
    backend: &Backend,
    relay: &RelayView,
    can_switch: bool,
) -> Option<bool> {
    let mut switch_to = None;
    ui.horizontal_wrapped(|ui| {
        ui.heading("fleetdash");
        if backend.demo {
            ui.label(
                RichText::new("Demo data: a simulated fleet and a simulated Smartcar.")
                    .strong()
                    .color(Color32::from_rgb(180, 120, 0)),
            );
            ui.label("To follow real cars, enter your Smartcar application on the Account page, then leave demo mode.");
            if can_switch && ui.button("Leave demo mode").clicked() {
                switch_to = Some(false);
            }
        } else if can_switch
            && ui
                .small_button("Show the demo")
                .on_hover_text("A simulated fleet, in a database of its own")
                .clicked()
        {
            switch_to = Some(true);
        }
    });
    let status = backend.status();
    // A relay set in Settings supersedes the note about a missing callback.
    let relay_set = relay.status().is_some_and(|s| s.url.is_some());
    let quiet =
        status.error.is_none() && status.callback.is_none() && status.note.is_some() && relay_set;
    if !quiet {
        ui.horizontal_wrapped(|ui| match (&status.error, &status.callback) {
            (Some(error), _) => {
                ui.colored_label(PROBLEM, error);
            }
            (None, Some(callback)) => {
                let stored = status
                    .server
                    .as_ref()
                    .map_or(0, |s| s.stored.load(std::sync::atomic::Ordering::Relaxed));
                ui.label(format!(
                    "Receiving webhooks at {callback} · {stored} deliveries stored"
                ));
            }
            (None, None) => match &status.note {
                Some(note) => {
                    ui.label(note);
                }
                None => {
                    ui.spinner();
                    ui.label("Starting...");
                }
            },
        });
    }
    relay.banner_ui(ui);
    switch_to
}
