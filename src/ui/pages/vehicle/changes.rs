//! Under the Trips tab's table: every change of a trip's purpose or note, newest first (what
//! `fleetdash trips history` lists), as read with the trips by the reader thread.

use egui::RichText;
use egui_extras::{Column, TableBuilder};

use crate::store::trips::{TagChange, TaggedTrip};
use crate::ui::widgets::local_time_ms;

/// A value as the tab writes it: `–` for none.
fn value(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("–")
}

/// `old -> new` when it changed; the value alone, greyed, when it did not (a change of the
/// note leaves the purpose as it was, and the other way round).
fn change_text(old: &Option<String>, new: &Option<String>) -> RichText {
    if old == new {
        RichText::new(value(new)).weak()
    } else {
        RichText::new(format!("{} -> {}", value(old), value(new)))
    }
}

/// The title of the section, which says how many changes it holds.
pub fn title(count: usize) -> String {
    format!("Changes of purposes and notes ({count})")
}

/// Draws the collapsible section of vehicle `id`'s changes.
pub fn changes_ui(ui: &mut egui::Ui, id: &str, changes: &[TagChange], trips: &[TaggedTrip]) {
    egui::CollapsingHeader::new(title(changes.len()))
        .id_salt(("trip changes", id))
        .show(ui, |ui| {
            if changes.is_empty() {
                ui.label("No purpose or note was set yet: pick one in the table above.");
                return;
            }
            let row_height = ui.text_style_height(&egui::TextStyle::Body) + 4.0;
            TableBuilder::new(ui)
                .id_salt(("trip changes table", id))
                .striped(true)
                .max_scroll_height(row_height * 6.0)
                .columns(Column::auto().at_least(60.0), 3)
                .column(Column::remainder().at_least(120.0))
                .header(row_height, |mut header| {
                    for heading in ["When", "Trip started", "Purpose", "Note"] {
                        header.col(|ui| {
                            ui.strong(heading);
                        });
                    }
                })
                .body(|body| {
                    body.rows(row_height, changes.len(), |mut row| {
                        let change = &changes[row.index()];
                        // The tag sits inside its trip; late data may have moved the trip's
                        // ends, so it is found again rather than remembered.
                        let trip = trips
                            .iter()
                            .find(|t| t.trip.contains(change.at_ms))
                            .map(|t| t.trip.started_at_ms);
                        row.col(|ui| {
                            ui.label(local_time_ms(change.changed_at_ms));
                        });
                        row.col(|ui| match trip {
                            Some(started) => {
                                ui.label(local_time_ms(started));
                            }
                            None => {
                                ui.label(RichText::new(local_time_ms(change.at_ms)).weak())
                                    .on_hover_text("No trip holds this instant any more.");
                            }
                        });
                        row.col(|ui| {
                            ui.label(change_text(&change.purpose.0, &change.purpose.1));
                        });
                        row.col(|ui| {
                            ui.label(change_text(&change.note.0, &change.note.1));
                        });
                    });
                });
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_shows_old_and_new_and_an_unchanged_value_alone() {
        let business = Some("business".to_owned());
        assert_eq!(change_text(&None, &business).text(), "– -> business");
        assert_eq!(
            change_text(&business, &Some("private".into())).text(),
            "business -> private"
        );
        assert_eq!(change_text(&business, &business).text(), "business");
        assert_eq!(change_text(&None, &None).text(), "–");
    }
}
