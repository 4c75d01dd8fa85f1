//! The Drivers page: the drivers (name, email, home, rate, off-peak window and rate) with
//! a form to add, edit and remove them, who drives which vehicle when ("Assign a
//! vehicle"), and, as a second section, the monthly home-charging statements. Every change
//! is an owner write (the same checks as `fleetdash drivers`); a refused one is explained
//! by the app in the store's words, as for every owner write.

mod assign;
mod form;
mod statements;

use crate::store::drivers::{Assignment, Driver};
use crate::store::owner::OwnerWrite;
use crate::ui::context::PageCx;
use crate::ui::reader::{DriverStatement, DriversData, Query};
use crate::ui::widgets::hint_ui;
pub use assign::AssignForm;
pub use form::DriverForm;
pub use statements::StatementsView;

/// Which part of the page shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Section {
    /// The drivers and their vehicles.
    #[default]
    Drivers,
    /// Monthly statements.
    Statements,
}

/// The Drivers page.
#[derive(Default)]
pub struct DriversPage {
    section: Section,
    data: Option<DriversData>,
    form: Option<DriverForm>,
    assign: Option<AssignForm>,
    /// A driver whose removal waits for a second click.
    confirm_remove: Option<String>,
    statements: StatementsView,
}

impl DriversPage {
    /// What the page needs read.
    pub fn queries(&self) -> Vec<Query> {
        let mut queries = vec![Query::Drivers];
        if self.section == Section::Statements {
            queries.extend(self.statements.query());
        }
        queries
    }

    /// Takes the drivers and assignments read.
    pub fn take_drivers(&mut self, data: DriversData) {
        self.data = Some(data);
    }

    /// Takes the statements read for `month`.
    pub fn take_statements(&mut self, month: &str, rows: Vec<DriverStatement>) {
        self.statements.take(month, rows);
    }

    /// Keeps the statements' folder of `old` (the page of another database).
    pub fn keep_folder(&mut self, old: &DriversPage) {
        self.statements.keep_folder(&old.statements);
    }

    /// The drivers and assignments as last read.
    pub fn data(&self) -> Option<&DriversData> {
        self.data.as_ref()
    }

    /// The statements section.
    pub fn statements(&self) -> &StatementsView {
        &self.statements
    }

    /// The statements section, to set it up as a user would.
    pub fn statements_mut(&mut self) -> &mut StatementsView {
        &mut self.statements
    }

    /// Draws the page.
    pub fn ui(&mut self, ui: &mut egui::Ui, cx: &mut PageCx) {
        let before = self.section;
        ui.horizontal(|ui| {
            for (section, label) in [
                (Section::Drivers, "Drivers and vehicles"),
                (Section::Statements, "Monthly statements"),
            ] {
                let text = egui::RichText::new(label).heading();
                ui.selectable_value(&mut self.section, section, text);
            }
        });
        if self.section != before
            && let Some(query) = self.statements.query()
        {
            cx.reader.ask(query);
        }
        ui.separator();
        match self.section {
            Section::Drivers => {
                egui::ScrollArea::vertical().show(ui, |ui| self.drivers_ui(ui, cx));
            }
            Section::Statements => {
                if let Some(statements::Asked::EditDriver(name)) = self.statements.ui(ui, cx) {
                    self.edit(&name);
                    self.section = Section::Drivers;
                }
            }
        }
    }

    /// Opens the form of the driver named `name`, as read.
    fn edit(&mut self, name: &str) {
        if let Some(driver) = self
            .data
            .as_ref()
            .and_then(|d| d.drivers.iter().find(|d| d.name == name))
        {
            self.form = Some(DriverForm::edit(driver));
        }
    }

    fn drivers_ui(&mut self, ui: &mut egui::Ui, cx: &mut PageCx) {
        let Some(read) = &self.data else {
            ui.spinner();
            return;
        };
        let shown = with_pending(read, cx.writes.pending());
        if let Some(form) = &mut self.form {
            ui.strong(if form.replaces.is_some() {
                "Edit the driver"
            } else {
                "New driver"
            });
            if form.ui(ui, cx) {
                self.form = None;
            }
            ui.separator();
        } else if ui.button("Add a driver").clicked() {
            self.form = Some(DriverForm::new());
        }
        if shown.drivers.is_empty() {
            hint_ui(
                ui,
                "No driver yet. A driver's home sessions (charging within the home's radius while \
                 a vehicle is assigned to them) are paid back at their rate.",
            );
            return;
        }
        let mut write = None;
        drivers_grid(ui, cx, &shown.drivers, |action| match action {
            Row::Edit(d) => self.form = Some(DriverForm::edit(d)),
            Row::Remove(name) => {
                if self.confirm_remove.as_deref() == Some(name) {
                    write = Some(OwnerWrite::RemoveDriver(name.to_owned()));
                    self.confirm_remove = None;
                } else {
                    self.confirm_remove = Some(name.to_owned());
                }
            }
        });
        if let Some(name) = self.confirm_remove.clone() {
            ui.horizontal(|ui| {
                ui.label(format!(
                    "Remove {name} and their assignments? Click Remove again to confirm."
                ));
                if ui.button("Keep").clicked() {
                    self.confirm_remove = None;
                }
            });
        }
        ui.add_space(12.0);
        ui.heading("Who drives which vehicle when");
        for driver in &shown.drivers {
            ui.add_space(6.0);
            ui.strong(&driver.name);
            let periods: Vec<&Assignment> = shown
                .assignments
                .iter()
                .filter(|a| a.driver == driver.name)
                .collect();
            if let Some(w) = assign::periods_ui(ui, &driver.name, &periods, cx) {
                write = Some(w);
            }
            match &mut self.assign {
                Some(form) if form.driver == driver.name => {
                    if form.ui(ui, cx) {
                        self.assign = None;
                    }
                }
                _ => {
                    if ui
                        .button("Assign a vehicle")
                        .on_hover_text(format!("Say from when {} drives a vehicle", driver.name))
                        .clicked()
                    {
                        self.assign = Some(AssignForm::new(
                            &driver.name,
                            &cx.fleet.vehicles,
                            &cx.fleet.settings.zone,
                        ));
                    }
                }
            }
        }
        if let Some(write) = write {
            cx.writes.send(write);
        }
    }
}

/// A click in the drivers' list.
enum Row<'a> {
    Edit(&'a Driver),
    Remove(&'a str),
}

/// The list of drivers: name, email, home, rates, Edit and Remove.
fn drivers_grid<'a>(
    ui: &mut egui::Ui,
    cx: &PageCx,
    drivers: &'a [Driver],
    mut clicked: impl FnMut(Row<'a>),
) {
    let currency = &cx.fleet.settings.currency;
    egui::Grid::new("drivers")
        .striped(true)
        .spacing([16.0, 4.0])
        .show(ui, |ui| {
            for heading in ["Driver", "Email", "Home", "Rate", "Off-peak", "", ""] {
                ui.strong(heading);
            }
            ui.end_row();
            for d in drivers {
                ui.label(&d.name);
                ui.label(d.email.as_deref().unwrap_or("–"));
                ui.label(d.home.map_or("not set".to_owned(), |h| {
                    format!(
                        "{:.5}, {:.5} ({:.0} m)",
                        h.latitude, h.longitude, h.radius_m
                    )
                }));
                ui.label(
                    d.rate_per_kwh
                        .map_or("no rate".to_owned(), |r| currency.per_kwh(r)),
                );
                ui.label(d.off_peak.map_or("–".to_owned(), |(w, r)| {
                    format!("{} {}", w.text(), currency.per_kwh(r))
                }));
                if ui.small_button("Edit").clicked() {
                    clicked(Row::Edit(d));
                }
                if ui.small_button("Remove").clicked() {
                    clicked(Row::Remove(&d.name));
                }
                ui.end_row();
            }
        });
}

/// What is read with the owner's writes not yet read back laid over it, so a change shows
/// at once (a refused write leaves the pending list, and with it the screen).
fn with_pending<'a>(
    read: &DriversData,
    pending: impl Iterator<Item = &'a OwnerWrite>,
) -> DriversData {
    let mut shown = read.clone();
    let same = |a: &str, b: &str| a.trim().eq_ignore_ascii_case(b.trim());
    for write in pending {
        match write {
            OwnerWrite::Driver { replaces, driver } => {
                let old = replaces.as_deref().unwrap_or(&driver.name);
                shown.drivers.retain(|d| !same(&d.name, old));
                for a in shown
                    .assignments
                    .iter_mut()
                    .filter(|a| same(&a.driver, old))
                {
                    a.driver = driver.name.clone();
                }
                shown.drivers.push(driver.clone());
                shown.drivers.sort_by_key(|d| d.name.to_lowercase());
            }
            OwnerWrite::RemoveDriver(name) => {
                shown.drivers.retain(|d| !same(&d.name, name));
                shown.assignments.retain(|a| !same(&a.driver, name));
            }
            OwnerWrite::Assign {
                vehicle_id,
                driver,
                from_ms,
                until_ms,
            } => {
                let period = Assignment {
                    vehicle_id: vehicle_id.clone(),
                    driver: driver.clone(),
                    from_ms: *from_ms,
                    until_ms: *until_ms,
                };
                // A drivers answer may be read after the write and before the fleet
                // answer that settles it.
                if !shown.assignments.contains(&period) {
                    shown.assignments.push(period);
                }
            }
            OwnerWrite::Unassign {
                vehicle_id,
                from_ms,
            } => shown
                .assignments
                .retain(|a| !(a.vehicle_id == *vehicle_id && a.from_ms == *from_ms)),
            _ => {}
        }
    }
    shown
}
