//! The desktop app (eframe/egui). It never blocks on the network: the callback server and
//! the simulation run on the background runtime ([`backend`]); the UI reads the database
//! through its own read-only connection, and only when the writer reports new data.

pub mod backend;
pub mod data;
mod vehicle;

use std::time::{Duration, Instant};

use egui::{Color32, RichText};
use rusqlite::Connection;

use crate::domain::ChargingState;
use crate::domain::time::{format_ms, now_ms};
use crate::sim::demo::DemoOptions;
use backend::Backend;
use data::VehicleRow;

/// At most this often the views re-read the database while deliveries keep arriving.
const REFRESH_EVERY: Duration = Duration::from_secs(1);

/// The app's state.
pub struct FleetApp {
    backend: Backend,
    conn: Option<Connection>,
    fleet: Vec<VehicleRow>,
    /// Writer jobs counted at the last refresh: a change means new data.
    seen_jobs: Option<u64>,
    last_refresh: Option<Instant>,
    selected: Option<String>,
    vehicle: vehicle::VehicleView,
    sort: Sort,
    page: Page,
    /// Monthly (true) or daily analytics.
    by_month: bool,
    monthly: Vec<crate::store::sessions::SummaryRow>,
    deliveries: Vec<data::DeliveryRow>,
    outcome_counts: Vec<(String, i64)>,
    /// The delivery whose raw body is open, with the body.
    open_delivery: Option<(i64, String)>,
    problem: Option<String>,
}

/// What the central panel shows when no vehicle is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Page {
    Fleet,
    Monthly,
    Deliveries,
}

/// Column the overview is sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sort {
    Name,
    Battery,
    LastSeen,
}

impl FleetApp {
    /// The app on top of `backend`.
    pub fn new(backend: Backend) -> Self {
        FleetApp {
            backend,
            conn: None,
            fleet: Vec::new(),
            seen_jobs: None,
            last_refresh: None,
            selected: None,
            vehicle: vehicle::VehicleView::default(),
            sort: Sort::Name,
            page: Page::Fleet,
            by_month: true,
            monthly: Vec::new(),
            deliveries: Vec::new(),
            outcome_counts: Vec::new(),
            open_delivery: None,
            problem: None,
        }
    }

    /// The overview's rows as last read.
    pub fn vehicles(&self) -> &[VehicleRow] {
        &self.fleet
    }

    /// The analytics rows as last read.
    pub fn analytics(&self) -> &[crate::store::sessions::SummaryRow] {
        &self.monthly
    }

    /// Re-reads the views when the writer committed something since the last look.
    pub fn refresh(&mut self) {
        let status = self.backend.status();
        let jobs = status.writer.as_ref().map(|w| w.stats().jobs);
        let due = self
            .last_refresh
            .is_none_or(|t| t.elapsed() >= REFRESH_EVERY);
        if jobs.is_none() || jobs == self.seen_jobs || !due {
            return;
        }
        if self.conn.is_none() {
            match crate::store::open_read_only(&self.backend.db) {
                Ok(conn) => self.conn = Some(conn),
                Err(error) => {
                    self.problem = Some(format!("Cannot read the data: {error}"));
                    return;
                }
            }
        }
        let Some(conn) = &self.conn else { return };
        match data::fleet(conn) {
            Ok(fleet) => {
                self.fleet = fleet;
                self.problem = None;
            }
            Err(error) => self.problem = Some(format!("Cannot read the data: {error}")),
        }
        if let Some(id) = &self.selected {
            self.vehicle.invalidate();
            self.vehicle.load(conn, id);
        }
        match self.page {
            Page::Monthly => self.load_monthly(),
            Page::Deliveries => self.load_deliveries(),
            Page::Fleet => {}
        }
        self.seen_jobs = jobs;
        self.last_refresh = Some(Instant::now());
    }

    fn load_monthly(&mut self) {
        let Some(conn) = &self.conn else { return };
        let filter = crate::store::ExportFilter::default();
        match crate::store::sessions::summary(conn, &filter, self.by_month) {
            Ok(rows) => self.monthly = rows,
            Err(error) => self.problem = Some(format!("Cannot read the data: {error}")),
        }
    }

    fn load_deliveries(&mut self) {
        let Some(conn) = &self.conn else { return };
        let loaded =
            data::deliveries(conn, 200).and_then(|rows| Ok((rows, data::outcome_counts(conn)?)));
        match loaded {
            Ok((rows, counts)) => {
                self.deliveries = rows;
                self.outcome_counts = counts;
            }
            Err(error) => self.problem = Some(format!("Cannot read the data: {error}")),
        }
    }

    /// The deliveries panel's rows as last read.
    pub fn delivery_rows(&self) -> &[data::DeliveryRow] {
        &self.deliveries
    }

    /// Draws everything.
    pub fn show(&mut self, ui: &mut egui::Ui) {
        egui::Panel::top("banner").show(ui, |ui| self.banner_ui(ui));
        egui::CentralPanel::default_margins().show(ui, |ui| {
            if let Some(problem) = &self.problem {
                ui.colored_label(Color32::from_rgb(200, 60, 60), problem);
            }
            match self.selected.clone() {
                Some(id) => {
                    if ui.button("Back to the fleet").clicked() {
                        self.selected = None;
                        return;
                    }
                    let name = self
                        .fleet
                        .iter()
                        .find(|v| v.id == id)
                        .map_or(id.clone(), |v| v.name.clone());
                    if let Some(conn) = &self.conn {
                        self.vehicle.ui(ui, conn, &id, &name);
                    }
                }
                None => {
                    ui.horizontal(|ui| {
                        if ui
                            .selectable_label(self.page == Page::Fleet, "Fleet")
                            .clicked()
                        {
                            self.page = Page::Fleet;
                        }
                        if ui
                            .selectable_label(self.page == Page::Monthly, "Analytics")
                            .clicked()
                        {
                            self.page = Page::Monthly;
                            self.load_monthly();
                        }
                        if ui
                            .selectable_label(self.page == Page::Deliveries, "Deliveries")
                            .clicked()
                        {
                            self.page = Page::Deliveries;
                            self.load_deliveries();
                        }
                    });
                    ui.separator();
                    match self.page {
                        Page::Fleet => self.overview_ui(ui),
                        Page::Monthly => self.monthly_ui(ui),
                        Page::Deliveries => self.deliveries_ui(ui),
                    }
                }
            }
        });
    }

    fn banner_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal_wrapped(|ui| {
            ui.heading("fleetdash");
            if self.backend.demo {
                ui.label(
                    RichText::new("Demo data: a simulated fleet and a simulated Smartcar.")
                        .strong()
                        .color(Color32::from_rgb(180, 120, 0)),
                );
                ui.label("To follow real cars, set SMARTCAR_CLIENT_ID, SMARTCAR_CLIENT_SECRET and SMARTCAR_MANAGEMENT_TOKEN and start fleetdash again.");
            }
        });
        let status = self.backend.status();
        ui.horizontal(|ui| match (&status.error, &status.callback) {
            (Some(error), _) => {
                ui.colored_label(Color32::from_rgb(200, 60, 60), error);
            }
            (None, Some(callback)) => {
                let jobs = status.writer.as_ref().map_or(0, |w| w.stats().jobs);
                ui.label(format!(
                    "Receiving webhooks at {callback} · {jobs} deliveries stored"
                ));
            }
            (None, None) => {
                ui.spinner();
                ui.label("Starting the callback server...");
            }
        });
    }

    fn overview_ui(&mut self, ui: &mut egui::Ui) {
        if self.fleet.is_empty() {
            ui.label("No vehicle has reported yet. Readings appear here as soon as Smartcar delivers them.");
            return;
        }
        ui.horizontal(|ui| {
            ui.label("Sort by");
            ui.selectable_value(&mut self.sort, Sort::Name, "Name");
            ui.selectable_value(&mut self.sort, Sort::Battery, "Battery");
            ui.selectable_value(&mut self.sort, Sort::LastSeen, "Last seen");
        });
        let mut rows = self.fleet.clone();
        match self.sort {
            Sort::Name => rows.sort_by(|a, b| a.name.cmp(&b.name)),
            Sort::Battery => rows.sort_by(|a, b| {
                a.battery_percent
                    .unwrap_or(-1.0)
                    .total_cmp(&b.battery_percent.unwrap_or(-1.0))
            }),
            Sort::LastSeen => rows.sort_by_key(|r| std::cmp::Reverse(r.last_seen_ms)),
        }
        let now = now_ms();
        egui::Grid::new("fleet")
            .striped(true)
            .num_columns(6)
            .spacing([16.0, 6.0])
            .show(ui, |ui| {
                for heading in ["Vehicle", "Battery", "Range", "Charging", "Last seen", ""] {
                    ui.strong(heading);
                }
                ui.end_row();
                for row in &rows {
                    if ui.link(&row.name).on_hover_text(&row.id).clicked() {
                        self.selected = Some(row.id.clone());
                        self.vehicle.invalidate();
                        if let Some(conn) = &self.conn {
                            self.vehicle.load(conn, &row.id);
                        }
                    }
                    match row.battery_percent {
                        Some(p) => {
                            ui.add(
                                egui::ProgressBar::new((p / 100.0) as f32)
                                    .desired_width(120.0)
                                    .fill(battery_color(p))
                                    .text(format!("{p:.0} %")),
                            );
                        }
                        None => {
                            ui.label("–");
                        }
                    }
                    ui.label(row.range_km.map_or("–".into(), |r| format!("{r:.0} km")));
                    ui.label(charge_text(row.plugged_in, row.charging));
                    match row.last_seen_ms {
                        Some(t) => {
                            let (text, color) = staleness(now - t);
                            ui.label(RichText::new(text).color(color))
                                .on_hover_text(format_ms(t));
                        }
                        None => {
                            ui.label("never");
                        }
                    }
                    if row.needs_reauth {
                        ui.colored_label(Color32::from_rgb(200, 60, 60), "Needs re-connect")
                            .on_hover_text(
                                "Smartcar can't reach this car until its owner signs in again.",
                            );
                    } else {
                        ui.label("");
                    }
                    ui.end_row();
                }
            });
    }
}

impl FleetApp {
    fn deliveries_ui(&mut self, ui: &mut egui::Ui) {
        let counts: Vec<String> = self
            .outcome_counts
            .iter()
            .map(|(outcome, n)| format!("{n} {outcome}"))
            .collect();
        ui.label(format!(
            "Stored so far: {}",
            if counts.is_empty() {
                "nothing".into()
            } else {
                counts.join(", ")
            }
        ));
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
                        for row in &self.deliveries {
                            ui.label(format_ms(row.received_at_ms));
                            ui.label(&row.kind);
                            ui.label(row.vehicles.to_string());
                            let outcome = ui.label(&row.outcome);
                            if let Some(detail) = &row.detail {
                                outcome.on_hover_text(detail);
                            }
                            if row.outcome != "duplicate" && ui.small_button("Raw JSON").clicked() {
                                let body = self
                                    .conn
                                    .as_ref()
                                    .map(|conn| data::delivery_body(conn, row.id));
                                self.open_delivery = match body {
                                    Some(Ok(Some(text))) => Some((row.id, text)),
                                    Some(Ok(None)) | None => None,
                                    Some(Err(error)) => {
                                        Some((row.id, format!("Cannot read it: {error}")))
                                    }
                                };
                            } else if row.outcome == "duplicate" {
                                ui.label("");
                            }
                            ui.end_row();
                        }
                    });
            });
    }

    fn monthly_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            let mut by_month = self.by_month;
            ui.selectable_value(&mut by_month, true, "Per month");
            ui.selectable_value(&mut by_month, false, "Per day");
            if by_month != self.by_month {
                self.by_month = by_month;
                self.load_monthly();
            }
        });
        if self.monthly.is_empty() {
            ui.label("No data yet.");
            return;
        }
        ui.label("Per UTC month or day: sessions started, energy added and its cost (set capacities and prices with `fleetdash settings`), hours plugged in and charging.");
        egui::ScrollArea::vertical().show(ui, |ui| {
            egui::Grid::new("monthly")
                .striped(true)
                .spacing([16.0, 6.0])
                .show(ui, |ui| {
                    for heading in [
                        "Month",
                        "Vehicle",
                        "Sessions",
                        "Energy",
                        "Cost",
                        "Plugged in",
                        "Charging",
                        "Last seen",
                    ] {
                        ui.strong(heading);
                    }
                    ui.end_row();
                    for row in &self.monthly {
                        let t = &row.totals;
                        let fleet = row.vehicle_id.is_empty();
                        let text = |s: String| {
                            if fleet {
                                RichText::new(s).strong()
                            } else {
                                RichText::new(s)
                            }
                        };
                        ui.label(text(row.period.clone()));
                        ui.label(text(row.vehicle_name.clone()));
                        ui.label(text(t.sessions.to_string()));
                        ui.label(text(
                            t.energy_kwh.map_or("-".into(), |e| format!("{e:.1} kWh")),
                        ));
                        ui.label(text(t.cost.map_or("-".into(), |c| format!("{c:.2}"))));
                        ui.label(text(format!("{:.0} h", t.plugged_hours)));
                        ui.label(text(format!("{:.0} h", t.charging_hours)));
                        ui.label(text(t.last_seen_ms.map_or("-".into(), format_ms)));
                        ui.end_row();
                    }
                });
        });
    }
}

fn battery_color(percent: f64) -> Color32 {
    if percent < 20.0 {
        Color32::from_rgb(200, 70, 60)
    } else if percent < 50.0 {
        Color32::from_rgb(210, 160, 40)
    } else {
        Color32::from_rgb(60, 160, 90)
    }
}

fn charge_text(plugged: Option<bool>, charging: Option<ChargingState>) -> &'static str {
    match (plugged, charging) {
        (_, Some(ChargingState::Charging)) => "Charging",
        (Some(true), Some(ChargingState::FullyCharged)) => "Plugged in, full",
        (Some(true), _) => "Plugged in",
        (Some(false), _) => "Unplugged",
        (None, _) => "–",
    }
}

/// "5 min ago" and a colour that turns amber after two hours and red after a day.
fn staleness(age_ms: i64) -> (String, Color32) {
    let minutes = age_ms.max(0) / 60_000;
    let text = if minutes < 1 {
        "just now".to_owned()
    } else if minutes < 120 {
        format!("{minutes} min ago")
    } else if minutes < 48 * 60 {
        format!("{} h ago", minutes / 60)
    } else {
        format!("{} days ago", minutes / 1440)
    };
    let color = if minutes < 120 {
        Color32::from_rgb(60, 160, 90)
    } else if minutes < 24 * 60 {
        Color32::from_rgb(210, 160, 40)
    } else {
        Color32::from_rgb(200, 70, 60)
    };
    (text, color)
}

impl eframe::App for FleetApp {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        self.refresh();
        // Look again in a second even if nothing woke us: new data is checked by counter.
        ctx.request_repaint_after(REFRESH_EVERY);
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.show(ui);
    }
}

/// Where demo mode keeps its own database.
pub fn demo_db_path() -> std::path::PathBuf {
    crate::store::default_db_path().with_file_name("demo.sqlite3")
}

/// Opens the window. Without Smartcar credentials it runs in demo mode.
pub fn run() -> anyhow::Result<()> {
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("fleetdash")
            .with_inner_size([1100.0, 720.0]),
        ..Default::default()
    };
    eframe::run_native(
        "fleetdash",
        options,
        Box::new(|cc| {
            let ctx = cc.egui_ctx.clone();
            let backend = Backend::start_demo(&demo_db_path(), DemoOptions::default(), move || {
                ctx.request_repaint()
            });
            Ok(Box::new(FleetApp::new(backend)))
        }),
    )
    .map_err(|e| anyhow::anyhow!("the window could not open: {e}"))
}
