//! The Deliveries page: the callback server's counters and last error, the archive's
//! counts per outcome, the latest deliveries and any one's raw JSON.

use egui::RichText;

use crate::ui::context::PageCx;
use crate::ui::data::DeliveryRow;
use crate::ui::reader::Query;
use crate::ui::widgets::{PROBLEM, local_time_ms, local_time_secs, thousands};

/// The Deliveries page.
#[derive(Default)]
pub struct DeliveriesPage {
    rows: Vec<DeliveryRow>,
    counts: Vec<(String, i64)>,
    /// Bodies archived before compression existed, not yet compressed.
    uncompressed: u64,
    /// The delivery whose raw body is open, with the body.
    open_delivery: Option<(i64, String)>,
}

impl DeliveriesPage {
    /// The rows as last read.
    pub fn rows(&self) -> &[DeliveryRow] {
        &self.rows
    }

    /// What the page needs read.
    pub fn queries(&self) -> Vec<Query> {
        vec![Query::Deliveries]
    }

    /// Takes the latest deliveries, the counts per outcome and the bodies still waiting
    /// for compression.
    pub fn take_rows(
        &mut self,
        rows: Vec<DeliveryRow>,
        counts: Vec<(String, i64)>,
        uncompressed: u64,
    ) {
        self.rows = rows;
        self.counts = counts;
        self.uncompressed = uncompressed;
    }

    /// The compaction's progress, while there is any left: (done, of), counted in bodies.
    pub fn compaction(&self) -> Option<(u64, u64)> {
        // Every parsed or quarantined delivery keeps a body; duplicates and verify
        // challenges keep none.
        let bodies: u64 = self
            .counts
            .iter()
            .filter(|(outcome, _)| outcome == "parsed" || outcome == "quarantined")
            .map(|(_, n)| (*n).max(0) as u64)
            .sum();
        (self.uncompressed > 0).then(|| {
            let of = bodies.max(self.uncompressed);
            (of - self.uncompressed, of)
        })
    }

    /// Takes a delivery's body (or why it could not be read).
    pub fn take_body(&mut self, id: i64, body: Result<Option<String>, String>) {
        self.open_delivery = match body {
            Ok(Some(text)) => Some((id, text)),
            Ok(None) => None,
            Err(problem) => Some((id, problem)),
        };
    }

    /// Draws the page.
    pub fn ui(&mut self, ui: &mut egui::Ui, cx: &mut PageCx) {
        let status = cx.backend.status();
        ui.horizontal_wrapped(|ui| {
            ui.strong("Callback server:");
            match (&status.callback, &status.server) {
                (Some(callback), Some(stats)) => {
                    use std::sync::atomic::Ordering::Relaxed;
                    ui.label(format!(
                        "listening at {callback} · {} stored · {} verify challenges · {} refused (bad signature) · {} refused (database busy)",
                        stats.stored.load(Relaxed),
                        stats.verified.load(Relaxed),
                        stats.unauthorized.load(Relaxed),
                        stats.unavailable.load(Relaxed),
                    ));
                    match stats.last_error() {
                        Some((at, what)) => {
                            ui.colored_label(
                                PROBLEM,
                                format!("Last error {}: {what}", local_time_ms(at)),
                            );
                        }
                        None => {
                            ui.label("No error so far.");
                        }
                    }
                }
                _ => {
                    ui.label(
                        status
                            .error
                            .clone()
                            .or(status.note.clone())
                            .unwrap_or_else(|| "not running".into()),
                    );
                }
            }
        });
        let counts: Vec<String> = self
            .counts
            .iter()
            .map(|(outcome, n)| format!("{} {outcome}", thousands((*n).max(0) as u64)))
            .collect();
        ui.label(format!(
            "In the archive: {}",
            if counts.is_empty() {
                "nothing yet".into()
            } else {
                counts.join(", ")
            }
        ));
        if let Some((done, of)) = self.compaction() {
            ui.horizontal(|ui| {
                ui.label(format!(
                    "Compressing the deliveries archived before this version: {} of {} done. \
                     Deliveries keep arriving meanwhile; the database file shrinks when it is \
                     finished.",
                    thousands(done),
                    thousands(of)
                ));
                ui.add(
                    egui::ProgressBar::new(done as f32 / of.max(1) as f32)
                        .desired_width(160.0)
                        .show_percentage(),
                );
            });
        }
        if let Some((id, body)) = self.open_delivery.clone() {
            ui.horizontal(|ui| {
                ui.strong(format!("Delivery {id} (its JSON, pretty-printed)"));
                if ui.button("Close").clicked() {
                    self.open_delivery = None;
                }
            });
            egui::ScrollArea::vertical()
                .id_salt("raw")
                .max_height(260.0)
                .show(ui, |ui| {
                    ui.add(egui::Label::new(RichText::new(body).monospace()).wrap());
                });
            ui.separator();
        }
        let mut open = None;
        egui::ScrollArea::vertical()
            .id_salt("deliveries")
            .show(ui, |ui| {
                egui::Grid::new("deliveries")
                    .striped(true)
                    .spacing([16.0, 4.0])
                    .show(ui, |ui| {
                        for heading in ["Arrived", "Kind", "Vehicles", "Outcome", ""] {
                            ui.strong(heading);
                        }
                        ui.end_row();
                        for row in &self.rows {
                            ui.label(local_time_secs(row.received_at_ms));
                            ui.label(&row.kind);
                            ui.label(row.vehicles.to_string());
                            let outcome = ui.label(&row.outcome);
                            if let Some(detail) = &row.detail {
                                outcome.on_hover_text(detail);
                            }
                            if row.outcome == "duplicate" {
                                ui.label("");
                            } else if ui.small_button("Raw JSON").clicked() {
                                open = Some(row.id);
                            }
                            ui.end_row();
                        }
                    });
            });
        if let Some(id) = open {
            cx.reader.ask(Query::DeliveryBody(id));
        }
    }
}
