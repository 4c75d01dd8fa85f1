//! The vehicle page's Trips tab: each trip with its distance, duration, energy and
//! kWh/100 km, a button that shows its route on the map, and its purpose and note, set
//! here through the owner-writes channel (shown at once, stored by the channel's thread).
//! Under the table, every change of a purpose or note (`changes.rs`).

use std::collections::HashMap;

use egui_extras::{Column, TableBuilder};

use crate::store::owner::OwnerWrite;
use crate::store::trips::{Purpose, TaggedTrip};
use crate::ui::context::{Nav, PageCx};
use crate::ui::widgets::{energy as energy_text, local_time_ms};

/// Notes being typed, by the trip's start (ms).
pub type NoteDrafts = HashMap<i64, String>;

const PURPOSES: [(Option<Purpose>, &str); 4] = [
    (None, "–"),
    (Some(Purpose::Business), "business"),
    (Some(Purpose::Private), "private"),
    (Some(Purpose::Commute), "commute"),
];

/// `trip`'s purpose and note with the owner's unsaved changes over them.
fn shown(trip: &TaggedTrip, id: &str, cx: &PageCx) -> (Option<Purpose>, String) {
    let mut purpose = trip.purpose;
    let mut note = trip.note.clone().unwrap_or_default();
    for write in cx.writes.pending() {
        if let OwnerWrite::TripTag {
            vehicle_id,
            at_ms,
            purpose: p,
            note: n,
        } = write
            && vehicle_id == id
            && trip.trip.contains(*at_ms)
        {
            purpose = *p;
            if let Some(n) = n {
                note = n.trim().to_owned();
            }
        }
    }
    (purpose, note)
}

/// Draws the trips of vehicle `id`.
pub fn trips_ui(
    ui: &mut egui::Ui,
    id: &str,
    trips: &[TaggedTrip],
    drafts: &mut NoteDrafts,
    cx: &mut PageCx,
) {
    if trips.is_empty() {
        ui.label("No trip yet: trips appear once the vehicle has moved more than 150 m.");
        return;
    }
    let capacity = cx
        .fleet
        .vehicles
        .iter()
        .find(|v| v.id == id)
        .and_then(|v| v.capacity_kwh);
    let units = cx.persisted.settings.units;
    let row_height = ui.spacing().interact_size.y + 2.0;
    // Up to 8 rows, fewer in a short window, so that the changes' header under the table
    // (its own header row, then the section's) shows without scrolling the tab.
    let height =
        (ui.available_height() - row_height * 3.0).clamp(row_height * 3.0, row_height * 8.0);
    let mut writes = Vec::new();
    let mut nav = None;
    TableBuilder::new(ui)
        .id_salt(("trips", id))
        .striped(true)
        .min_scrolled_height(height)
        .max_scroll_height(height)
        .columns(Column::auto().at_least(50.0), 8)
        .column(Column::remainder().at_least(160.0))
        .header(row_height, |mut header| {
            for heading in [
                "Route",
                "Started",
                "Ended",
                "Minutes",
                "Distance",
                "Energy",
                "kWh/100 km",
                "Purpose",
                "Note",
            ] {
                header.col(|ui| {
                    ui.strong(heading);
                });
            }
        })
        .body(|body| {
            body.rows(row_height, trips.len(), |mut row| {
                let tagged = &trips[row.index()];
                let t = &tagged.trip;
                let (km, _) = t.distance();
                let energy = capacity.and_then(|c| t.energy_kwh(c));
                let (purpose, note) = shown(tagged, id, cx);
                let at_ms = t.started_at_ms
                    + (t.ended_at_ms.unwrap_or(t.last_seen_ms) - t.started_at_ms) / 2;
                row.col(|ui| {
                    if ui
                        .small_button("Map")
                        .on_hover_text("Show this trip's route on the map")
                        .clicked()
                    {
                        nav = Some(Nav::TripOnMap {
                            vehicle_id: id.to_owned(),
                            from_ms: t.started_at_ms,
                            to_ms: t.ended_at_ms.unwrap_or(t.last_seen_ms),
                        });
                    }
                });
                row.col(|ui| {
                    ui.label(local_time_ms(t.started_at_ms))
                        .on_hover_text(if t.is_uncertain() {
                            "Readings were far apart: the trip's ends are uncertain."
                        } else {
                            "The last reading before it left."
                        });
                });
                row.col(|ui| {
                    ui.label(t.ended_at_ms.map_or("driving".into(), local_time_ms));
                });
                row.col(|ui| {
                    ui.label(format!("{:.0}", t.duration_min()));
                });
                row.col(|ui| {
                    ui.label(units.distance(km));
                });
                row.col(|ui| {
                    ui.label(energy_text(energy));
                });
                row.col(|ui| {
                    ui.label(
                        energy
                            .filter(|_| km > 0.05)
                            .map_or("–".into(), |e| format!("{:.1}", e / km * 100.0)),
                    );
                });
                row.col(|ui| {
                    let mut chosen = purpose;
                    let label = PURPOSES
                        .iter()
                        .find(|(p, _)| *p == purpose)
                        .map_or("–", |(_, l)| l);
                    egui::ComboBox::from_id_salt(("purpose", id, t.started_at_ms))
                        .selected_text(label)
                        .width(80.0)
                        .show_ui(ui, |ui| {
                            for (p, l) in PURPOSES {
                                ui.selectable_value(&mut chosen, p, l);
                            }
                        });
                    if chosen != purpose {
                        writes.push(OwnerWrite::TripTag {
                            vehicle_id: id.to_owned(),
                            at_ms,
                            purpose: chosen,
                            note: None,
                        });
                    }
                });
                row.col(|ui| {
                    let draft = drafts
                        .entry(t.started_at_ms)
                        .or_insert_with(|| note.clone());
                    let response = ui.add(
                        egui::TextEdit::singleline(draft)
                            .hint_text("a note")
                            .desired_width(f32::INFINITY),
                    );
                    let done =
                        response.lost_focus() || ui.input(|i| i.key_pressed(egui::Key::Enter));
                    if done && draft.trim() != note {
                        writes.push(OwnerWrite::TripTag {
                            vehicle_id: id.to_owned(),
                            at_ms,
                            purpose,
                            note: Some(draft.clone()),
                        });
                    }
                    if !response.has_focus() && !done && *draft != note {
                        // Stored elsewhere (the CLI, a sync): show that.
                        *draft = note.clone();
                    }
                });
            });
        });
    for write in writes {
        cx.writes.send(write);
    }
    if nav.is_some() {
        cx.nav = nav;
    }
}
