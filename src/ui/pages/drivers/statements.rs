//! Monthly statements: a month of the fleet's time zone, one row per driver (sessions,
//! kWh, off-peak kWh, amount; or why it can't be paid and where in the app that is fixed),
//! each with its sessions behind it, and PDFs saved to a folder on a thread of their own.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use egui::RichText;

use crate::domain::zone::FleetZone;
use crate::store::statement::{Statement, file_name, save};
use crate::ui::context::{Nav, PageCx};
use crate::ui::reader::{DriverStatement, Query};
use crate::ui::widgets::{GOOD, PROBLEM, default_folder, hint_ui};

/// Where a finished save's outcome lands: the files written, or why not.
type Outcome = Arc<Mutex<Option<Result<Vec<PathBuf>, String>>>>;

/// The statements section's state.
pub struct StatementsView {
    /// `YYYY-MM` as typed (empty until the fleet's zone says which month it is).
    month: String,
    /// The month the rows are of, and the rows.
    rows: Option<(String, Vec<DriverStatement>)>,
    /// Where PDFs go.
    folder: String,
    chosen: Arc<Mutex<Option<PathBuf>>>,
    /// A save running, and how many drivers it leaves out (their statement can't be made).
    saving: Option<(Outcome, usize)>,
    /// The last save's outcome: (succeeded, sentence).
    message: Option<(bool, String)>,
}

impl Default for StatementsView {
    fn default() -> Self {
        StatementsView {
            month: String::new(),
            rows: None,
            folder: default_folder().display().to_string(),
            chosen: Arc::default(),
            saving: None,
            message: None,
        }
    }
}

/// What a click in the statements asks of the Drivers page.
pub enum Asked {
    /// Open this driver's form (to set a rate).
    EditDriver(String),
}

/// `2026-05` moved by `months`, or None when it is not a month.
fn shift_month(month: &str, months: i32) -> Option<String> {
    let first =
        chrono::NaiveDate::parse_from_str(&format!("{}-01", month.trim()), "%Y-%m-%d").ok()?;
    let moved = if months >= 0 {
        first.checked_add_months(chrono::Months::new(months.unsigned_abs()))
    } else {
        first.checked_sub_months(chrono::Months::new(months.unsigned_abs()))
    }?;
    Some(moved.format("%Y-%m").to_string())
}

impl StatementsView {
    /// The read the section needs.
    pub fn query(&self) -> Option<Query> {
        shift_month(&self.month, 0).map(Query::Statements)
    }

    /// Keeps `other`'s folder (the user's choice outlives a database switch).
    pub fn keep_folder(&mut self, other: &StatementsView) {
        self.folder = other.folder.clone();
    }

    /// Takes the statements read for `month`; those of a month no longer shown are dropped.
    pub fn take(&mut self, month: &str, rows: Vec<DriverStatement>) {
        if shift_month(&self.month, 0).as_deref() == Some(month) {
            self.rows = Some((month.to_owned(), rows));
        }
    }

    /// The month shown and its rows, as last read.
    pub fn rows(&self) -> Option<&(String, Vec<DriverStatement>)> {
        self.rows.as_ref()
    }

    /// The last save's outcome: (succeeded, sentence).
    pub fn message(&self) -> Option<&(bool, String)> {
        self.message.as_ref()
    }

    /// True while PDFs are being written.
    pub fn saving(&self) -> bool {
        self.saving.is_some()
    }

    /// Sets the folder PDFs go to (as if typed).
    pub fn set_folder(&mut self, folder: &Path) {
        self.folder = folder.display().to_string();
    }

    /// Draws the section.
    pub fn ui(&mut self, ui: &mut egui::Ui, cx: &mut PageCx) -> Option<Asked> {
        let zone = cx.fleet.settings.zone;
        self.collect();
        if self.month.is_empty() {
            self.month = zone.period_of(crate::domain::time::now_ms(), true);
            cx.reader.ask(Query::Statements(self.month.clone()));
        }
        let before = self.month.clone();
        ui.horizontal(|ui| {
            ui.label(format!("Month ({})", zone.name()));
            if ui.button("Previous month").clicked()
                && let Some(m) = shift_month(&self.month, -1)
            {
                self.month = m;
            }
            ui.add(
                egui::TextEdit::singleline(&mut self.month)
                    .hint_text("YYYY-MM")
                    .desired_width(80.0),
            );
            if ui.button("Next month").clicked()
                && let Some(m) = shift_month(&self.month, 1)
            {
                self.month = m;
            }
        });
        if self.month != before
            && let Some(query) = self.query()
        {
            cx.reader.ask(query);
        }
        if self.query().is_none() {
            ui.colored_label(PROBLEM, "Give the month as YYYY-MM, such as 2026-05.");
        }
        self.folder_ui(ui);
        let Some((month, rows)) = self.rows.clone() else {
            ui.spinner();
            return None;
        };
        if shift_month(&self.month, 0).as_deref() != Some(month.as_str()) {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label(format!("Reading {}...", self.month.trim()));
            });
        }
        if rows.is_empty() {
            hint_ui(ui, "No driver yet: add one under Drivers and vehicles.");
            return None;
        }
        let asked = self.rows_ui(ui, cx, &zone, &month, &rows);
        if let Some((ok, text)) = &self.message {
            ui.colored_label(if *ok { GOOD } else { PROBLEM }, text);
        }
        asked
    }

    fn folder_ui(&mut self, ui: &mut egui::Ui) {
        if let Ok(mut chosen) = self.chosen.lock()
            && let Some(path) = chosen.take()
        {
            self.folder = path.display().to_string();
        }
        ui.horizontal(|ui| {
            ui.label("Save PDFs in");
            ui.add(egui::TextEdit::singleline(&mut self.folder).desired_width(360.0));
            if ui.button("Choose...").clicked() {
                self.choose_folder(ui.ctx());
            }
        });
    }

    fn rows_ui(
        &mut self,
        ui: &mut egui::Ui,
        cx: &mut PageCx,
        zone: &FleetZone,
        month: &str,
        rows: &[DriverStatement],
    ) -> Option<Asked> {
        let currency = cx.fleet.settings.currency.clone();
        let mut asked = None;
        let mut save_these: Vec<Statement> = Vec::new();
        let widths = [180.0, 110.0, 100.0, 100.0, 110.0];
        let cell = |ui: &mut egui::Ui, i: usize, text: RichText| {
            ui.add_sized([widths[i], 18.0], egui::Label::new(text));
        };
        ui.horizontal(|ui| {
            ui.add_space(18.0);
            for (i, heading) in ["Driver", "Sessions", "Energy", "Off-peak", "Amount"]
                .into_iter()
                .enumerate()
            {
                cell(ui, i, RichText::new(heading).strong());
            }
        });
        egui::ScrollArea::vertical()
            .max_height(ui.available_height() - 60.0)
            .show(ui, |ui| {
                for (name, statement) in rows {
                    let s = match statement {
                        Ok(s) => s,
                        Err(problem) => {
                            // No sessions to unfold: the sentence, wrapped, and its fix.
                            ui.horizontal(|ui| {
                                ui.add_space(18.0);
                                cell(ui, 0, RichText::new(name));
                                ui.vertical(|ui| {
                                    ui.colored_label(PROBLEM, problem);
                                    asked = asked.take().or(fix_ui(ui, cx, name, problem));
                                });
                            });
                            continue;
                        }
                    };
                    let id = ui.make_persistent_id(("statement", name, month));
                    let state = egui::collapsing_header::CollapsingState::load_with_default_open(
                        ui.ctx(),
                        id,
                        false,
                    );
                    let header = state.show_header(ui, |ui| {
                        cell(ui, 0, RichText::new(name));
                        let t = s.totals();
                        let sessions = if t.ongoing > 0 {
                            format!("{} (+{} charging)", t.sessions, t.ongoing)
                        } else {
                            t.sessions.to_string()
                        };
                        cell(ui, 1, RichText::new(sessions));
                        cell(ui, 2, RichText::new(format!("{:.2} kWh", t.energy_kwh)));
                        cell(ui, 3, RichText::new(format!("{:.2} kWh", t.off_peak_kwh)));
                        cell(ui, 4, RichText::new(currency.amount(t.amount)));
                        if ui
                            .add_enabled(!self.saving(), egui::Button::new("Save PDF"))
                            .on_hover_text(format!("Save {name}'s statement of {month}"))
                            .clicked()
                        {
                            save_these.push(s.clone());
                        }
                        if s.driver.home.is_none() {
                            hint_ui(ui, "No home set: nothing is charged at home.");
                        }
                    });
                    header.body(|ui| sessions_ui(ui, zone, s));
                }
            });
        ui.horizontal(|ui| {
            let payable: Vec<&Statement> =
                rows.iter().filter_map(|(_, s)| s.as_ref().ok()).collect();
            if ui
                .add_enabled(
                    !self.saving() && !payable.is_empty(),
                    egui::Button::new("Save all"),
                )
                .on_hover_text("A PDF per driver whose statement can be made")
                .clicked()
            {
                save_these = payable.into_iter().cloned().collect();
            }
            if self.saving() {
                ui.spinner();
                ui.label("Saving...");
            }
        });
        if !save_these.is_empty() {
            let skipped = rows.iter().filter(|(_, s)| s.is_err()).count();
            self.start_saving(save_these, zone, skipped, ui.ctx());
        }
        asked
    }

    /// Writes `statements` as PDFs into the folder on a thread of their own.
    fn start_saving(
        &mut self,
        statements: Vec<Statement>,
        zone: &FleetZone,
        skipped: usize,
        ctx: &egui::Context,
    ) {
        let folder = PathBuf::from(self.folder.trim());
        if self.folder.trim().is_empty() {
            self.message = Some((false, "Choose a folder to save the statements in.".into()));
            return;
        }
        let made_at = zone.local_minutes(crate::domain::time::now_ms());
        let outcome: Outcome = Arc::default();
        let done = outcome.clone();
        let ctx = ctx.clone();
        let all = statements.len() > 1;
        let spawned = std::thread::Builder::new()
            .name("fleetdash-statements".into())
            .spawn(move || {
                let result = (|| -> Result<Vec<PathBuf>, String> {
                    std::fs::create_dir_all(&folder)
                        .map_err(|e| format!("Cannot make the folder {}: {e}", folder.display()))?;
                    let mut written = Vec::new();
                    for s in &statements {
                        let path = folder.join(file_name(&s.driver.name, &s.month, "pdf"));
                        save(s, &path, &made_at)
                            .map_err(|e| format!("Cannot write {}: {e}", path.display()))?;
                        written.push(path);
                    }
                    Ok(written)
                })();
                if let Ok(mut o) = done.lock() {
                    *o = Some(result);
                }
                ctx.request_repaint();
            });
        match spawned {
            Ok(_) => {
                self.saving = Some((outcome, if all { skipped } else { 0 }));
                self.message = None;
            }
            Err(e) => self.message = Some((false, format!("Cannot start saving: {e}"))),
        }
    }

    /// Picks up a finished save's outcome.
    fn collect(&mut self) {
        let Some((outcome, skipped)) = &self.saving else {
            return;
        };
        let Some(result) = outcome.lock().ok().and_then(|mut o| o.take()) else {
            return;
        };
        let note = match skipped {
            0 => String::new(),
            n => format!(" {n} driver(s) left out: their statement can't be made yet (see above)."),
        };
        self.message = Some(match result {
            Ok(paths) => match paths.as_slice() {
                [one] => (true, format!("Saved {}.{note}", one.display())),
                _ => (
                    true,
                    format!(
                        "Saved {} statements in {}.{note}",
                        paths.len(),
                        self.folder.trim()
                    ),
                ),
            },
            Err(why) => (false, why),
        });
        self.saving = None;
    }

    /// Opens the system's folder picker on a background thread (it blocks while open).
    fn choose_folder(&mut self, ctx: &egui::Context) {
        let chosen = self.chosen.clone();
        let start = PathBuf::from(self.folder.trim());
        let ctx = ctx.clone();
        let _ = std::thread::Builder::new()
            .name("fleetdash-folder-dialog".into())
            .spawn(move || {
                let picked = rfd::FileDialog::new()
                    .set_title("Save statements in")
                    .set_directory(&start)
                    .pick_folder();
                if let (Some(path), Ok(mut c)) = (picked, chosen.lock()) {
                    *c = Some(path);
                }
                ctx.request_repaint();
            });
    }
}

/// Where in the app the problem of `driver`'s statement is fixed, as a button.
fn fix_ui(ui: &mut egui::Ui, cx: &mut PageCx, driver: &str, problem: &str) -> Option<Asked> {
    // The store's sentence names the vehicle as "Name (id)" and gives the CLI's fix; the
    // app's fix is a page.
    if let Some(v) = cx
        .fleet
        .vehicles
        .iter()
        .find(|v| problem.contains(&format!("({})", v.id)))
        && ui.button(format!("Set {}'s capacity", v.name)).clicked()
    {
        cx.nav = Some(Nav::Vehicle(v.id.clone()));
    }
    if problem.contains("no rate per kWh") && ui.button(format!("Set {driver}'s rate")).clicked() {
        return Some(Asked::EditDriver(driver.to_owned()));
    }
    None
}

/// One line per session of the statement: date, start, end, vehicle, kWh, amount, status.
fn sessions_ui(ui: &mut egui::Ui, zone: &FleetZone, s: &Statement) {
    if s.sessions.is_empty() {
        hint_ui(ui, "No session charged at home this month.");
        return;
    }
    egui::Grid::new(("statement sessions", &s.driver.name, &s.month))
        .striped(true)
        .spacing([16.0, 2.0])
        .show(ui, |ui| {
            for heading in [
                "Date",
                "Start",
                "End",
                "Vehicle",
                "kWh",
                "Off-peak kWh",
                "Amount",
                "Status",
            ] {
                ui.strong(heading);
            }
            ui.end_row();
            let kwh = |v: Option<f64>| v.map_or("–".to_owned(), |v| format!("{v:.2}"));
            for h in &s.sessions {
                let (date, start) = zone.local_date_and_time(h.session.started_at_ms);
                let end = h
                    .session
                    .ended_at_ms
                    .map_or("–".to_owned(), |e| zone.local_date_and_time(e).1);
                ui.label(date);
                ui.label(start);
                ui.label(end);
                ui.label(&h.vehicle_name);
                ui.label(kwh(h.priced.map(|p| p.energy_kwh)));
                ui.label(kwh(h.priced.map(|p| p.off_peak_kwh)));
                ui.label(h.amount().map_or("–".to_owned(), |a| s.currency.amount(a)));
                ui.label(if h.session.is_ongoing() {
                    "charging"
                } else {
                    "complete"
                });
                ui.end_row();
            }
        });
}

#[cfg(test)]
mod tests {
    use super::shift_month;

    #[test]
    fn months_step_across_years_and_garbage_is_no_month() {
        assert_eq!(shift_month("2026-01", -1).as_deref(), Some("2025-12"));
        assert_eq!(shift_month(" 2026-12 ", 1).as_deref(), Some("2027-01"));
        assert_eq!(shift_month("2026-13", 0), None);
        assert_eq!(shift_month("May", 0), None);
    }
}
