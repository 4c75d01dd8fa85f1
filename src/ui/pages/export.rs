//! The export page: kind, vehicles and time range, a file chosen with the system's save
//! dialog (or typed), and the export itself on a background thread with a progress bar.
//! It writes exactly what `fleetdash export` writes (the same function does both).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use egui::{Color32, RichText};

use crate::domain::time::TimeBound;
use crate::store::{ExportFilter, ExportKind};
use crate::ui::data::VehicleRow;
use crate::ui::widgets::{date_field_ui, default_folder};

/// The kinds offered, in the order shown.
const KINDS: [(ExportKind, &str); 9] = [
    (ExportKind::Battery, "Battery"),
    (ExportKind::Charge, "Charge"),
    (ExportKind::Locations, "Locations"),
    (ExportKind::Sessions, "Sessions"),
    (ExportKind::Trips, "Trips"),
    (ExportKind::Errors, "Errors"),
    (ExportKind::Daily, "Per day"),
    (ExportKind::Monthly, "Per month"),
    (ExportKind::Reimbursement, "Home charging"),
];

/// An export running in the background.
struct Job {
    path: PathBuf,
    lines: Arc<AtomicU64>,
    total: Arc<Mutex<Option<u64>>>,
    outcome: Arc<Mutex<Option<Result<u64, String>>>>,
}

/// The export page's state.
pub struct ExportView {
    kind: ExportKind,
    /// Chosen vehicles; none chosen means all.
    vehicles: BTreeSet<String>,
    since: String,
    until: String,
    path: String,
    chosen: Arc<Mutex<Option<PathBuf>>>,
    job: Option<Job>,
    /// The last export's outcome, in words.
    message: Option<(bool, String)>,
}

impl Default for ExportView {
    fn default() -> Self {
        ExportView {
            kind: ExportKind::Battery,
            vehicles: BTreeSet::new(),
            since: String::new(),
            until: String::new(),
            path: String::new(),
            chosen: Arc::new(Mutex::new(None)),
            job: None,
            message: None,
        }
    }
}

fn kind_name(kind: ExportKind) -> &'static str {
    KINDS
        .iter()
        .find(|(k, _)| *k == kind)
        .map_or("Battery", |(_, name)| name)
}

fn file_stem(kind: ExportKind) -> &'static str {
    match kind {
        ExportKind::Battery => "battery",
        ExportKind::Charge => "charge",
        ExportKind::Locations => "locations",
        ExportKind::Sessions => "sessions",
        ExportKind::Errors => "errors",
        ExportKind::Daily => "daily",
        ExportKind::Monthly => "monthly",
        ExportKind::Trips => "trips",
        ExportKind::Reimbursement => "reimbursement",
    }
}

impl ExportView {
    /// True while an export runs.
    pub fn running(&self) -> bool {
        self.job.is_some()
    }

    /// The last export's outcome: (succeeded, sentence).
    pub fn message(&self) -> Option<&(bool, String)> {
        self.message.as_ref()
    }

    /// Sets the file to write (as if chosen in the dialog).
    pub fn set_path(&mut self, path: &Path) {
        self.path = path.display().to_string();
    }

    /// From and To as they stand in their fields.
    pub fn range(&self) -> (&str, &str) {
        (&self.since, &self.until)
    }

    /// Sets the From and To fields.
    pub fn set_range(&mut self, since: &str, until: &str) {
        self.since = since.to_owned();
        self.until = until.to_owned();
    }

    fn default_file_name(&self) -> String {
        format!(
            "fleetdash-{}-{}.csv",
            file_stem(self.kind),
            chrono::Local::now().format("%Y-%m-%d")
        )
    }

    fn filter(&self) -> Result<ExportFilter, String> {
        let bound = |text: &str, what: &str| -> Result<Option<TimeBound>, String> {
            let text = text.trim();
            if text.is_empty() {
                return Ok(None);
            }
            TimeBound::parse(text)
                .map(Some)
                .map_err(|e| format!("{what}: {e}"))
        };
        let since = bound(&self.since, "From")?;
        let until = bound(&self.until, "To")?;
        let filter = ExportFilter {
            vehicle_ids: self.vehicles.iter().cloned().collect(),
            since_ms: since.map(TimeBound::since_ms),
            until_ms: until.map(TimeBound::until_ms),
            driver: None,
        };
        if let (Some(a), Some(b)) = (filter.since_ms, filter.until_ms)
            && a > b
        {
            return Err("From is after To: nothing can match; swap them.".into());
        }
        Ok(filter)
    }

    /// Starts the export to the chosen path (on a background thread).
    pub fn start(&mut self, db: &Path, wake: impl Fn() + Send + 'static) {
        let filter = match self.filter() {
            Ok(filter) => filter,
            Err(why) => {
                self.message = Some((false, why));
                return;
            }
        };
        let path = PathBuf::from(self.path.trim());
        if self.path.trim().is_empty() {
            self.message = Some((false, "Choose a file to write first.".into()));
            return;
        }
        let job = Job {
            path: path.clone(),
            lines: Arc::new(AtomicU64::new(0)),
            total: Arc::new(Mutex::new(None)),
            outcome: Arc::new(Mutex::new(None)),
        };
        let (lines, total, outcome) = (job.lines.clone(), job.total.clone(), job.outcome.clone());
        let (db, kind) = (db.to_owned(), self.kind);
        let spawned = std::thread::Builder::new()
            .name("fleetdash-export".into())
            .spawn(move || {
                let result = (|| -> anyhow::Result<u64> {
                    let conn = crate::store::open_read_only(&db)?;
                    let count = crate::store::export::count_rows(&conn, kind, &filter)?;
                    if let Ok(mut t) = total.lock() {
                        *t = count;
                    }
                    crate::commands::export::export_to_file(
                        &conn,
                        kind,
                        &filter,
                        &path,
                        Some(&lines),
                    )
                })();
                if let Ok(mut o) = outcome.lock() {
                    *o = Some(result.map_err(|e| format!("{e:#}")));
                }
                wake();
            });
        match spawned {
            Ok(_) => {
                self.message = None;
                self.job = Some(job);
            }
            Err(error) => self.message = Some((false, format!("Cannot start the export: {error}"))),
        }
    }

    /// Draws the page.
    pub fn ui(&mut self, ui: &mut egui::Ui, fleet: &[VehicleRow], db: &Path) {
        if let Ok(mut chosen) = self.chosen.lock()
            && let Some(path) = chosen.take()
        {
            self.path = path.display().to_string();
        }
        self.collect();
        ui.label("The same CSV as `fleetdash export`: times in UTC (RFC 3339), one row per reading, ordered by vehicle and time.");
        ui.add_space(6.0);
        egui::Grid::new("export form")
            .num_columns(2)
            .spacing([12.0, 8.0])
            .show(ui, |ui| {
                ui.label("What");
                ui.horizontal_wrapped(|ui| {
                    for (kind, name) in KINDS {
                        ui.selectable_value(&mut self.kind, kind, name);
                    }
                });
                ui.end_row();
                ui.label("Vehicles");
                ui.horizontal_wrapped(|ui| {
                    let mut all = self.vehicles.is_empty();
                    if ui.checkbox(&mut all, "All").changed() && all {
                        self.vehicles.clear();
                    }
                    for v in fleet {
                        let mut on = self.vehicles.contains(&v.id);
                        if ui.checkbox(&mut on, &v.name).changed() {
                            if on {
                                self.vehicles.insert(v.id.clone());
                            } else {
                                self.vehicles.remove(&v.id);
                            }
                        }
                    }
                });
                ui.end_row();
                ui.label("From");
                date_field_ui(
                    ui,
                    &mut self.since,
                    "first reading (or 2026-01-01)",
                    "export from",
                );
                ui.end_row();
                ui.label("To");
                date_field_ui(
                    ui,
                    &mut self.until,
                    "last reading (a date includes the day)",
                    "export to",
                );
                ui.end_row();
                ui.label("File");
                ui.horizontal(|ui| {
                    ui.add(
                        egui::TextEdit::singleline(&mut self.path)
                            .hint_text("where to save the CSV")
                            .desired_width(420.0),
                    );
                    if ui.button("Choose...").clicked() {
                        self.choose_file(ui.ctx());
                    }
                });
                ui.end_row();
            });
        ui.add_space(8.0);
        ui.horizontal(|ui| {
            let label = format!("Export {}", kind_name(self.kind).to_lowercase());
            if ui
                .add_enabled(!self.running(), egui::Button::new(label))
                .clicked()
            {
                let ctx = ui.ctx().clone();
                self.start(db, move || ctx.request_repaint());
            }
        });
        if let Some(job) = &self.job {
            let lines = job.lines.load(Ordering::Relaxed).saturating_sub(1);
            let total = job.total.lock().ok().and_then(|t| *t);
            match total {
                Some(total) if total > 0 => {
                    ui.add(
                        egui::ProgressBar::new((lines as f32 / total as f32).min(1.0))
                            .desired_width(420.0)
                            .text(format!("{lines} of {total} rows")),
                    );
                }
                _ => {
                    ui.horizontal(|ui| {
                        ui.spinner();
                        ui.label(format!("{lines} rows written..."));
                    });
                }
            }
            ui.ctx()
                .request_repaint_after(std::time::Duration::from_millis(100));
        }
        if let Some((ok, text)) = &self.message {
            let color = if *ok {
                Color32::from_rgb(60, 160, 90)
            } else {
                Color32::from_rgb(200, 60, 60)
            };
            ui.label(RichText::new(text).color(color));
        }
    }

    /// Picks up a finished export's outcome.
    fn collect(&mut self) {
        let Some(job) = &self.job else { return };
        let outcome = job.outcome.lock().ok().and_then(|mut o| o.take());
        if let Some(outcome) = outcome {
            self.message = Some(match outcome {
                Ok(rows) => (
                    true,
                    format!("Exported {rows} rows to {}", job.path.display()),
                ),
                Err(why) => (false, format!("The export failed: {why}")),
            });
            self.job = None;
        }
    }

    /// Opens the system's save dialog on a background thread (it blocks while open).
    fn choose_file(&mut self, ctx: &egui::Context) {
        let chosen = self.chosen.clone();
        let current = PathBuf::from(self.path.trim());
        let folder = current
            .parent()
            .filter(|p| p.is_dir())
            .map_or_else(default_folder, Path::to_owned);
        let name = self.default_file_name();
        let had_path = !self.path.trim().is_empty();
        let ctx = ctx.clone();
        let spawned = std::thread::Builder::new()
            .name("fleetdash-save-dialog".into())
            .spawn(move || {
                let picked = rfd::FileDialog::new()
                    .set_title("Export as CSV")
                    .set_directory(&folder)
                    .set_file_name(&name)
                    .add_filter("CSV", &["csv"])
                    .save_file();
                match picked {
                    Some(path) => {
                        if let Ok(mut c) = chosen.lock() {
                            *c = Some(path);
                        }
                    }
                    // No dialog on this desktop (or cancelled): suggest a file the user
                    // can edit.
                    None => {
                        if !had_path && let Ok(mut c) = chosen.lock() {
                            *c = Some(folder.join(&name));
                        }
                    }
                }
                ctx.request_repaint();
            });
        if spawned.is_err() {
            self.path = default_folder()
                .join(self.default_file_name())
                .display()
                .to_string();
        }
    }
}
