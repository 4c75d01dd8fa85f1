//! The desktop app (eframe/egui). It never blocks on IO: the callback server and the
//! simulation run on the background runtime ([`backend`]); reads go through the reader
//! thread ([`reader`]) and come back as answers picked up at the start of a frame; exports
//! run on threads of their own, renames in order on one ([`Backend::rename`]).

pub mod account;
pub mod backend;
pub mod data;
pub mod export;
pub mod map;
pub mod reader;
pub mod relay;
pub mod settings;
pub mod vehicle;

use std::sync::Arc;
use std::time::{Duration, Instant};

use egui::{Color32, RichText};
use serde::{Deserialize, Serialize};

use crate::domain::ChargingState;
use crate::domain::time::now_ms;
use crate::sim::demo::DemoOptions;
use crate::store::sessions::SummaryRow;
use backend::{Backend, ServerConfig};
use data::VehicleRow;
use reader::{Answer, Query, Reader};
use settings::{Settings, Theme, Units};
use vehicle::{Range, local_time_ms};

/// At most this often the views re-read the database while deliveries keep arriving.
const REFRESH_EVERY: Duration = Duration::from_secs(1);

/// A page of the app.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Page {
    /// The overview table.
    #[default]
    Fleet,
    /// Every vehicle on a map.
    Map,
    /// Sessions, energy and cost per month or day.
    Analytics,
    /// The latest deliveries and the callback server's status.
    Deliveries,
    /// CSV export.
    Export,
    /// The Smartcar account: application, logins, subscriptions, reachability.
    Account,
    /// Units, theme, tiles, data location.
    Settings,
}

impl Page {
    const ALL: [(Page, &'static str); 7] = [
        (Page::Fleet, "Fleet"),
        (Page::Map, "Map"),
        (Page::Analytics, "Analytics"),
        (Page::Deliveries, "Deliveries"),
        (Page::Export, "Export"),
        (Page::Account, "Account"),
        (Page::Settings, "Settings"),
    ];
}

/// Column the overview is sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Sort {
    /// By name.
    #[default]
    Name,
    /// Emptiest first.
    Battery,
    /// Freshest first.
    LastSeen,
}

/// What is kept between runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Persisted {
    /// The user's settings.
    pub settings: Settings,
    /// The page shown.
    pub page: Page,
    /// The overview's order.
    pub sort: Sort,
    /// The vehicle view's and the map trail's range.
    pub range: Range,
    /// Analytics per month (or per day).
    pub by_month: bool,
}

impl Default for Persisted {
    fn default() -> Self {
        Persisted {
            settings: Settings::default(),
            page: Page::Fleet,
            sort: Sort::Name,
            range: Range::Week,
            by_month: true,
        }
    }
}

/// Makes the backend for demo mode (true) or the user's own data (false).
pub type BackendFactory = Box<dyn Fn(bool) -> Backend>;

/// The app's state.
pub struct FleetApp {
    backend: Backend,
    make_backend: Option<BackendFactory>,
    reader: Option<Reader>,
    wake: Arc<dyn Fn() + Send + Sync>,
    persisted: Persisted,
    applied_theme: Option<Theme>,
    fleet: Vec<VehicleRow>,
    fleet_loaded: bool,
    /// The vehicle whose view is open.
    selected: Option<String>,
    vehicle: vehicle::VehicleView,
    map: map::MapView,
    /// The vehicle picked on the map, its trail and charging places.
    map_selected: Option<String>,
    trail: Vec<(f64, f64)>,
    charging_places: Vec<(f64, f64)>,
    analytics: Vec<SummaryRow>,
    deliveries: Vec<data::DeliveryRow>,
    outcome_counts: Vec<(String, i64)>,
    /// The delivery whose raw body is open, with the body.
    open_delivery: Option<(i64, String)>,
    export: export::ExportView,
    account: Option<account::AccountView>,
    /// Settings → receive data from an always-on fleetdash, and its live sync.
    relay: relay::RelayView,
    /// When the last delivery and the last verify challenge arrived.
    reachability: (Option<i64>, Option<i64>),
    tile_url_draft: String,
    tile_url_problem: Option<String>,
    /// New data arrived; re-read at the next refresh.
    stale: bool,
    last_request: Option<Instant>,
    problem: Option<String>,
    /// Why the last rename could not be saved, until the user dismisses it.
    rename_problem: Option<String>,
    /// Fleet queries sent so far (each carries its number).
    fleet_asks: u64,
    /// Fleet answers taken so far.
    fleet_reads: u64,
    /// Names given here and not yet seen in an answer read after they were stored.
    renames: Vec<PendingRename>,
    /// Outcomes of the rename threads, by vehicle id.
    rename_results: Arc<std::sync::Mutex<Vec<RenameOutcome>>>,
}

/// A rename thread's outcome: the vehicle id and whether its name was stored.
type RenameOutcome = (String, Result<(), String>);

/// A name the owner gave that the overview must keep showing, even when an answer read
/// before the write lands carries the old one.
struct PendingRename {
    vehicle_id: String,
    name: String,
    /// Writes of this vehicle's name still running.
    writing: usize,
    /// Once every write is stored: the last fleet query sent before that. Answers to
    /// later queries carry the stored name, so the overlay can go.
    stored_after: Option<u64>,
}

impl FleetApp {
    /// The app on top of `backend`, with default settings. `wake` asks for a repaint (the
    /// window passes `request_repaint`; tests may pass nothing).
    pub fn new(backend: Backend) -> Self {
        FleetApp::with_state(backend, Persisted::default(), Arc::new(|| {}))
    }

    /// The app with settings and state from an earlier run.
    pub fn with_state(
        backend: Backend,
        persisted: Persisted,
        wake: Arc<dyn Fn() + Send + Sync>,
    ) -> Self {
        let mut vehicle = vehicle::VehicleView::default();
        vehicle.range = persisted.range;
        FleetApp {
            backend,
            make_backend: None,
            reader: None,
            wake,
            tile_url_draft: persisted.settings.tile_url.clone(),
            persisted,
            applied_theme: None,
            fleet: Vec::new(),
            fleet_loaded: false,
            selected: None,
            vehicle,
            map: map::MapView::default(),
            map_selected: None,
            trail: Vec::new(),
            charging_places: Vec::new(),
            analytics: Vec::new(),
            deliveries: Vec::new(),
            outcome_counts: Vec::new(),
            open_delivery: None,
            export: export::ExportView::default(),
            account: None,
            relay: relay::RelayView::new(None),
            reachability: (None, None),
            tile_url_problem: None,
            stale: false,
            last_request: None,
            problem: None,
            rename_problem: None,
            fleet_asks: 0,
            fleet_reads: 0,
            renames: Vec::new(),
            rename_results: Arc::default(),
        }
    }

    /// Lets the app switch between demo mode and the user's own data.
    pub fn with_backend_factory(mut self, factory: BackendFactory) -> Self {
        self.make_backend = Some(factory);
        self
    }

    /// Gives the app its Account page, keeping the account's files in `paths`.
    /// Also starts following the always-on fleetdash saved in Settings, if any.
    pub fn with_account(mut self, paths: crate::account::AccountPaths) -> Self {
        self.relay = relay::RelayView::new(Some(paths.clone()));
        self.relay
            .follow(&self.backend.db, self.backend.demo, self.wake.clone());
        self.account = Some(account::AccountView::new(paths));
        self
    }

    /// Settings → receive data from an always-on fleetdash.
    pub fn relay_view(&self) -> &relay::RelayView {
        &self.relay
    }

    /// Settings → receive data from an always-on fleetdash.
    pub fn relay_view_mut(&mut self) -> &mut relay::RelayView {
        &mut self.relay
    }

    /// The Account page.
    pub fn account_view_mut(&mut self) -> Option<&mut account::AccountView> {
        self.account.as_mut()
    }

    /// The Account page.
    pub fn account_view(&self) -> Option<&account::AccountView> {
        self.account.as_ref()
    }

    /// How many answers with the overview's rows have arrived (tests wait on it).
    pub fn fleet_reads(&self) -> u64 {
        self.fleet_reads
    }

    /// The overview's rows as last read.
    pub fn vehicles(&self) -> &[VehicleRow] {
        &self.fleet
    }

    /// The analytics rows as last read.
    pub fn analytics(&self) -> &[SummaryRow] {
        &self.analytics
    }

    /// The deliveries panel's rows as last read.
    pub fn delivery_rows(&self) -> &[data::DeliveryRow] {
        &self.deliveries
    }

    /// The open vehicle's view.
    pub fn vehicle_view(&self) -> &vehicle::VehicleView {
        &self.vehicle
    }

    /// The export page.
    pub fn export_view(&self) -> &export::ExportView {
        &self.export
    }

    /// The export page, to set it up as a user would.
    pub fn export_view_mut(&mut self) -> &mut export::ExportView {
        &mut self.export
    }

    /// The map page.
    pub fn map_view(&self) -> &map::MapView {
        &self.map
    }

    /// The state kept between runs.
    pub fn persisted(&self) -> &Persisted {
        &self.persisted
    }

    /// The backend (where the data lives, whether it is a demo).
    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    /// The selected vehicle's trail on the map, as last read.
    pub fn trail(&self) -> &[(f64, f64)] {
        &self.trail
    }

    /// Picks up the reader's answers and, when data changed, asks again for what is shown.
    pub fn refresh(&mut self) {
        if self.reader.is_none() {
            if !self.backend.status().ready {
                return;
            }
            let wake = self.wake.clone();
            match Reader::start(self.backend.db.clone(), move || wake()) {
                Ok(reader) => {
                    self.reader = Some(reader);
                    self.request_shown();
                }
                Err(problem) => {
                    self.problem = Some(problem);
                    return;
                }
            }
        }
        let answers = self
            .reader
            .as_ref()
            .map(Reader::answers)
            .unwrap_or_default();
        for answer in answers {
            self.take(answer);
        }
        if self.stale
            && self
                .last_request
                .is_none_or(|t| t.elapsed() >= REFRESH_EVERY)
        {
            self.request_shown();
        }
        if let Some(view) = &mut self.account
            && view.tick(&self.backend.db, self.wake.clone())
        {
            self.stale = true;
        }
        let outcomes = self
            .rename_results
            .lock()
            .map(|mut r| std::mem::take(&mut *r))
            .unwrap_or_default();
        for (vehicle_id, outcome) in outcomes {
            self.rename_done(&vehicle_id, outcome);
        }
    }

    /// A rename thread finished: once every write of that vehicle's name is stored, the
    /// next fleet answer read after now may replace the name shown; a failed write shows
    /// why and lets the stored name back.
    fn rename_done(&mut self, vehicle_id: &str, outcome: Result<(), String>) {
        self.stale = true;
        let Some(at) = self.renames.iter().position(|r| r.vehicle_id == vehicle_id) else {
            return;
        };
        let pending = &mut self.renames[at];
        pending.writing = pending.writing.saturating_sub(1);
        match outcome {
            Ok(()) if pending.writing == 0 => pending.stored_after = Some(self.fleet_asks),
            Ok(()) => {}
            Err(problem) => {
                self.rename_problem = Some(problem);
                // Nothing of it was stored: the next read shows the stored name.
                if pending.writing == 0 {
                    self.renames.remove(at);
                }
            }
        }
    }

    /// True when there is new data not yet asked for (the frame loop looks again later).
    pub fn is_stale(&self) -> bool {
        self.stale
    }

    fn take(&mut self, answer: Answer) {
        let Some(reader) = &self.reader else { return };
        match answer {
            Answer::Changed => self.stale = true,
            Answer::Fleet(asked, Ok(mut fleet)) => {
                self.fleet_reads += 1;
                self.renames
                    .retain(|r| r.stored_after.is_none_or(|after| asked <= after));
                for rename in &self.renames {
                    if let Some(row) = fleet.iter_mut().find(|v| v.id == rename.vehicle_id) {
                        row.name.clone_from(&rename.name);
                    }
                }
                self.fleet = fleet;
                self.fleet_loaded = true;
                self.problem = None;
            }
            Answer::Analytics(by_month, Ok(rows)) => {
                if by_month == self.persisted.by_month {
                    self.analytics = rows;
                }
            }
            Answer::Deliveries(Ok((rows, counts))) => {
                self.deliveries = rows;
                self.outcome_counts = counts;
            }
            Answer::DeliveryBody(id, body) => {
                self.open_delivery = match body {
                    Ok(Some(text)) => Some((id, text)),
                    Ok(None) => None,
                    Err(problem) => Some((id, problem)),
                };
            }
            Answer::Vehicle(id, details) => {
                if self.map_selected.as_deref() == Some(id.as_str())
                    && let Ok(details) = &details
                {
                    let window = details.span.map(|span| self.persisted.range.window(span));
                    self.charging_places = details
                        .sessions
                        .iter()
                        .filter(|s| {
                            window.is_none_or(|(from, to)| {
                                s.started_at_ms <= to && s.ended_at_ms.is_none_or(|e| e >= from)
                            })
                        })
                        .filter_map(|s| s.position)
                        .collect();
                    if let Some(window) = window {
                        reader.ask(Query::Trail {
                            vehicle: id.clone(),
                            from_ms: window.0,
                            to_ms: window.1,
                        });
                    }
                }
                self.vehicle.take_details(&id, details, reader);
            }
            Answer::Series(query, points) => self.vehicle.take_series(query, points),
            Answer::Trail(Query::Trail { vehicle, .. }, Ok(points)) => {
                if self.map_selected.as_deref() == Some(vehicle.as_str()) {
                    self.trail = points;
                }
            }
            Answer::Trail(..) => {}
            Answer::Reachability(delivery, verify) => self.reachability = (delivery, verify),
            Answer::Fleet(_, Err(problem))
            | Answer::Analytics(_, Err(problem))
            | Answer::Deliveries(Err(problem)) => self.problem = Some(problem),
        }
    }

    /// Asks the reader for everything the current page shows.
    fn request_shown(&mut self) {
        let Some(reader) = &self.reader else { return };
        self.stale = false;
        self.last_request = Some(Instant::now());
        self.fleet_asks += 1;
        reader.ask(Query::Fleet(self.fleet_asks));
        if self.selected.is_some() {
            self.vehicle.reload(reader);
            return;
        }
        match self.persisted.page {
            Page::Analytics => reader.ask(Query::Analytics {
                by_month: self.persisted.by_month,
            }),
            Page::Deliveries => reader.ask(Query::Deliveries),
            Page::Map => {
                if let Some(id) = &self.map_selected {
                    reader.ask(Query::Vehicle(id.clone()));
                }
            }
            Page::Account => reader.ask(Query::Reachability),
            Page::Fleet | Page::Export | Page::Settings => {}
        }
    }

    /// Opens a vehicle's view.
    pub fn open_vehicle(&mut self, id: &str) {
        self.selected = Some(id.to_owned());
        if let Some(reader) = &self.reader {
            self.vehicle.open(id, reader);
        }
    }

    /// Shows `page` (and asks for its data).
    pub fn show_page(&mut self, page: Page) {
        self.selected = None;
        self.persisted.page = page;
        self.request_shown();
    }

    /// Draws everything.
    pub fn show(&mut self, ui: &mut egui::Ui) {
        egui::Panel::top("banner").show(ui, |ui| self.banner_ui(ui));
        egui::CentralPanel::default_margins().show(ui, |ui| {
            if let Some(problem) = &self.problem {
                ui.colored_label(Color32::from_rgb(200, 60, 60), problem);
            }
            // Kept until dismissed: the next read must not wipe it before it is read.
            if let Some(problem) = &self.rename_problem {
                let mut dismissed = false;
                ui.horizontal_wrapped(|ui| {
                    ui.colored_label(Color32::from_rgb(200, 60, 60), problem);
                    dismissed = ui.small_button("Dismiss").clicked();
                });
                if dismissed {
                    self.rename_problem = None;
                }
            }
            if let Some(id) = self.selected.clone() {
                self.vehicle_page_ui(ui, &id);
                return;
            }
            ui.horizontal(|ui| {
                for (page, label) in Page::ALL {
                    if ui
                        .selectable_label(self.persisted.page == page, label)
                        .clicked()
                        && self.persisted.page != page
                    {
                        self.show_page(page);
                    }
                }
            });
            ui.separator();
            if self.reader.is_none() && self.problem.is_none() {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label("Opening the data...");
                });
                return;
            }
            match self.persisted.page {
                Page::Fleet => self.overview_ui(ui),
                Page::Map => self.map_ui(ui),
                Page::Analytics => self.analytics_ui(ui),
                Page::Deliveries => self.deliveries_ui(ui),
                Page::Export => {
                    let db = self.backend.db.clone();
                    self.export.ui(ui, &self.fleet, &db);
                }
                Page::Account => self.account_ui(ui),
                Page::Settings => self.settings_ui(ui),
            }
        });
    }

    fn vehicle_page_ui(&mut self, ui: &mut egui::Ui, id: &str) {
        if ui.button("Back to the fleet").clicked() {
            self.selected = None;
            self.request_shown();
            return;
        }
        let name = self
            .fleet
            .iter()
            .find(|v| v.id == id)
            .map_or(id.to_owned(), |v| v.name.clone());
        let Some(reader) = &self.reader else { return };
        let renamed = self
            .vehicle
            .ui(ui, reader, &name, self.persisted.settings.units);
        self.persisted.range = self.vehicle.range;
        if let Some(name) = renamed {
            // Shown at once, and kept over answers read before the background write
            // lands (they carry the old name). An empty name goes back to make, model and
            // year, which only the next read knows.
            let name = name.trim().to_owned();
            self.rename_problem = None;
            let pending = self.renames.iter().position(|r| r.vehicle_id == id);
            if name.is_empty() {
                if let Some(at) = pending {
                    self.renames.remove(at);
                }
            } else {
                if let Some(row) = self.fleet.iter_mut().find(|v| v.id == id) {
                    row.name.clone_from(&name);
                }
                match pending.map(|at| &mut self.renames[at]) {
                    Some(pending) => {
                        pending.name.clone_from(&name);
                        pending.writing += 1;
                        pending.stored_after = None;
                    }
                    None => self.renames.push(PendingRename {
                        vehicle_id: id.to_owned(),
                        name: name.clone(),
                        writing: 1,
                        stored_after: None,
                    }),
                }
            }
            let results = self.rename_results.clone();
            let wake = self.wake.clone();
            let vehicle_id = id.to_owned();
            self.backend.rename(id, &name, move |outcome| {
                if let Ok(mut r) = results.lock() {
                    r.push((vehicle_id, outcome));
                }
                wake();
            });
        }
    }

    fn banner_ui(&mut self, ui: &mut egui::Ui) {
        let mut switch_to = None;
        ui.horizontal_wrapped(|ui| {
            ui.heading("fleetdash");
            if self.backend.demo {
                ui.label(
                    RichText::new("Demo data: a simulated fleet and a simulated Smartcar.")
                        .strong()
                        .color(Color32::from_rgb(180, 120, 0)),
                );
                ui.label("To follow real cars, enter your Smartcar application on the Account page, then leave demo mode.");
                if self.make_backend.is_some() && ui.button("Leave demo mode").clicked() {
                    switch_to = Some(false);
                }
            } else if self.make_backend.is_some()
                && ui
                    .small_button("Show the demo")
                    .on_hover_text("A simulated fleet, in a database of its own")
                    .clicked()
            {
                switch_to = Some(true);
            }
        });
        if let Some(demo) = switch_to {
            self.switch_mode(demo);
        }
        let status = self.backend.status();
        // A relay set in Settings supersedes the note about a missing callback.
        let relay_set = self.relay.status().is_some_and(|s| s.url.is_some());
        let quiet = status.error.is_none()
            && status.callback.is_none()
            && status.note.is_some()
            && relay_set;
        if quiet {
            self.relay.banner_ui(ui);
            return;
        }
        ui.horizontal_wrapped(|ui| match (&status.error, &status.callback) {
            (Some(error), _) => {
                ui.colored_label(Color32::from_rgb(200, 60, 60), error);
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
        self.relay.banner_ui(ui);
    }

    /// Leaves or enters demo mode: a new backend on the other database.
    fn switch_mode(&mut self, demo: bool) {
        let Some(factory) = &self.make_backend else {
            return;
        };
        self.persisted.settings.demo = demo;
        self.backend = factory(demo);
        self.relay
            .follow(&self.backend.db, self.backend.demo, self.wake.clone());
        self.reader = None;
        self.fleet.clear();
        // Names given in the other database are not this one's, nor are the outcomes
        // of its renames still running.
        self.renames.clear();
        self.rename_results = Arc::default();
        self.rename_problem = None;
        self.fleet_loaded = false;
        self.selected = None;
        self.map_selected = None;
        self.trail.clear();
        self.charging_places.clear();
        self.analytics.clear();
        self.deliveries.clear();
        self.outcome_counts.clear();
        self.open_delivery = None;
        self.vehicle = vehicle::VehicleView::default();
        self.vehicle.range = self.persisted.range;
        self.map.fit_to_fleet();
        self.problem = None;
    }

    fn overview_ui(&mut self, ui: &mut egui::Ui) {
        if self.fleet.is_empty() {
            if self.fleet_loaded {
                ui.label("No vehicle has reported yet. Readings appear here as soon as Smartcar delivers them.");
            } else {
                ui.spinner();
            }
            return;
        }
        ui.horizontal(|ui| {
            ui.label("Sort by");
            ui.selectable_value(&mut self.persisted.sort, Sort::Name, "Name");
            ui.selectable_value(&mut self.persisted.sort, Sort::Battery, "Battery");
            ui.selectable_value(&mut self.persisted.sort, Sort::LastSeen, "Last seen");
        });
        let mut rows = self.fleet.clone();
        match self.persisted.sort {
            Sort::Name => rows.sort_by(|a, b| a.name.cmp(&b.name)),
            Sort::Battery => rows.sort_by(|a, b| {
                a.battery_percent
                    .unwrap_or(-1.0)
                    .total_cmp(&b.battery_percent.unwrap_or(-1.0))
            }),
            Sort::LastSeen => rows.sort_by_key(|r| std::cmp::Reverse(r.last_seen_ms)),
        }
        let now = now_ms();
        let units = self.persisted.settings.units;
        let mut open = None;
        egui::ScrollArea::vertical().show(ui, |ui| {
            egui::Grid::new("fleet")
                .striped(true)
                .num_columns(7)
                .spacing([16.0, 6.0])
                .show(ui, |ui| {
                    for heading in [
                        "Vehicle",
                        "Battery",
                        "Range",
                        "Charging",
                        "Last seen",
                        "Webhook",
                        "",
                    ] {
                        ui.strong(heading);
                    }
                    ui.end_row();
                    for row in &rows {
                        if ui.link(&row.name).on_hover_text(&row.id).clicked() {
                            open = Some(row.id.clone());
                        }
                        match row.battery_percent {
                            Some(p) => {
                                ui.add(
                                    egui::ProgressBar::new((p / 100.0) as f32)
                                        .desired_width(120.0)
                                        .fill(battery_color(p))
                                        .text(
                                            RichText::new(format!("{p:.0} %"))
                                                .color(Color32::BLACK),
                                        ),
                                );
                            }
                            None => {
                                ui.label("–");
                            }
                        }
                        ui.label(row.range_km.map_or("–".into(), |r| units.distance(r)));
                        ui.label(charge_text(row.plugged_in, row.charging));
                        match row.last_seen_ms {
                            Some(t) => {
                                let (text, color) = staleness(now - t);
                                ui.label(RichText::new(text).color(color))
                                    .on_hover_text(local_time_ms(t));
                            }
                            None => {
                                ui.label("never");
                            }
                        }
                        match row.subscribed {
                            Some(true) => ui.label("subscribed"),
                            Some(false) => ui
                                .colored_label(Color32::from_rgb(210, 160, 40), "not subscribed")
                                .on_hover_text(
                                    "Smartcar sends this car's data only after it is subscribed to your webhook.",
                                ),
                            None => ui.label("–").on_hover_text(
                                "Not known here: the subscription is managed in Smartcar's dashboard or with `fleetdash subscribe`.",
                            ),
                        };
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
        });
        if let Some(id) = open {
            self.open_vehicle(&id);
        }
    }

    fn map_ui(&mut self, ui: &mut egui::Ui) {
        let mut picked = self.map_selected.clone();
        let mut range = self.persisted.range;
        let mut fit = false;
        egui::Panel::left("map side")
            .resizable(false)
            .default_size(230.0)
            .show(ui, |ui| {
                ui.strong("Vehicles");
                for v in &self.fleet {
                    let chosen = picked.as_deref() == Some(v.id.as_str());
                    let text = RichText::new(&v.name).color(
                        v.battery_percent
                            .map_or(ui.visuals().text_color(), battery_color),
                    );
                    if ui.selectable_label(chosen, text).clicked() {
                        picked = if chosen { None } else { Some(v.id.clone()) };
                    }
                }
                ui.add_space(8.0);
                ui.label("Trail of the selected vehicle:");
                ui.horizontal_wrapped(|ui| {
                    for r in Range::ALL {
                        ui.selectable_value(&mut range, r, r.label());
                    }
                });
                ui.add_space(8.0);
                if ui.button("Fit to fleet").clicked() {
                    fit = true;
                }
                ui.add_space(8.0);
                ui.label(
                    RichText::new(
                        "Dots: latest positions, coloured by battery. Blue line: the selected \
                         vehicle's trail. Green squares: where it charged.",
                    )
                    .weak()
                    .small(),
                );
            });
        if fit {
            self.map.fit_to_fleet();
        }
        let tile_url = self.persisted.settings.tile_url.clone();
        let units = self.persisted.settings.units;
        let mut clicked = picked.clone();
        egui::CentralPanel::default_margins().show(ui, |ui| {
            self.map.ui(
                ui,
                &self.fleet,
                &mut clicked,
                &self.trail,
                &self.charging_places,
                &tile_url,
                units,
            );
        });
        if clicked != picked {
            picked = clicked;
        }
        if picked != self.map_selected || range != self.persisted.range {
            self.map_selected = picked;
            self.persisted.range = range;
            self.vehicle.range = range;
            self.trail.clear();
            self.charging_places.clear();
            if let (Some(id), Some(reader)) = (&self.map_selected, &self.reader) {
                reader.ask(Query::Vehicle(id.clone()));
            }
        }
    }

    fn deliveries_ui(&mut self, ui: &mut egui::Ui) {
        let status = self.backend.status();
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
                                Color32::from_rgb(200, 60, 60),
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
            .outcome_counts
            .iter()
            .map(|(outcome, n)| format!("{n} {outcome}"))
            .collect();
        ui.label(format!(
            "In the archive: {}",
            if counts.is_empty() {
                "nothing yet".into()
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
                        for row in &self.deliveries {
                            ui.label(vehicle::local_time_secs(row.received_at_ms));
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
        if let (Some(id), Some(reader)) = (open, &self.reader) {
            reader.ask(Query::DeliveryBody(id));
        }
    }

    fn analytics_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            let mut by_month = self.persisted.by_month;
            ui.selectable_value(&mut by_month, true, "Per month");
            ui.selectable_value(&mut by_month, false, "Per day");
            if by_month != self.persisted.by_month {
                self.persisted.by_month = by_month;
                self.analytics.clear();
                self.request_shown();
            }
        });
        if self.analytics.is_empty() {
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
                        if self.persisted.by_month {
                            "Month"
                        } else {
                            "Day"
                        },
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
                    for row in &self.analytics {
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
                        ui.label(text(t.last_seen_ms.map_or("-".into(), local_time_ms)));
                        ui.end_row();
                    }
                });
        });
    }

    fn account_ui(&mut self, ui: &mut egui::Ui) {
        let Some(view) = &mut self.account else {
            ui.label("The account is not available in this window.");
            return;
        };
        let status = self.backend.status();
        let redirect = crate::account::AccountConfig::load(view.form_mut()).redirect_uri;
        let server = self.backend.logins_for(&redirect);
        let finished = view.ui(
            ui,
            &self.fleet,
            &self.backend.db,
            server,
            status.callback.as_deref(),
            self.reachability,
            self.wake.clone(),
        );
        if finished {
            self.request_shown();
        }
    }

    fn settings_ui(&mut self, ui: &mut egui::Ui) {
        let settings = &mut self.persisted.settings;
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
                        ui.add(
                            egui::TextEdit::singleline(&mut self.tile_url_draft)
                                .desired_width(420.0),
                        );
                        if ui.button("Apply").clicked() {
                            match settings::check_tile_url(&self.tile_url_draft) {
                                Ok(()) => {
                                    settings.tile_url = self.tile_url_draft.trim().to_owned();
                                    self.tile_url_problem = None;
                                }
                                Err(problem) => self.tile_url_problem = Some(problem),
                            }
                        }
                        if ui.button("OpenStreetMap").clicked() {
                            self.tile_url_draft = settings::OSM_TILES.into();
                            settings.tile_url = settings::OSM_TILES.into();
                            self.tile_url_problem = None;
                        }
                    });
                    if let Some(problem) = &self.tile_url_problem {
                        ui.colored_label(Color32::from_rgb(200, 60, 60), problem);
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
                    ui.label(RichText::new(self.backend.db.display().to_string()).monospace());
                    ui.label(
                        RichText::new(if self.backend.demo {
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
        let db = self.backend.db.clone();
        self.relay
            .settings_ui(ui, &db, self.backend.demo, self.wake.clone());
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
pub(crate) fn staleness(age_ms: i64) -> (String, Color32) {
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
        let theme = self.persisted.settings.theme;
        if self.applied_theme != Some(theme) {
            ctx.set_theme(theme.preference());
            self.applied_theme = Some(theme);
        }
        self.refresh();
        if self.stale {
            // New data is throttled to one re-read a second: look again then.
            ctx.request_repaint_after(REFRESH_EVERY);
        } else {
            // "5 min ago" ages even when nothing arrives.
            ctx.request_repaint_after(Duration::from_secs(30));
        }
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.show(ui);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, eframe::APP_KEY, &self.persisted);
    }
}

/// Where demo mode keeps its own database.
pub fn demo_db_path() -> std::path::PathBuf {
    crate::store::default_db_path().with_file_name("demo.sqlite3")
}

/// The callback server's settings, when a management token is set (in the environment or
/// saved on the Account page).
fn server_from_env() -> Option<ServerConfig> {
    let paths = crate::account::AccountPaths::from_env();
    let saved = crate::account::SavedSettings::load(&crate::account::SavedSettings::path_beside(
        &paths.secrets,
    ));
    let account =
        crate::account::Account::new(crate::account::AccountConfig::load(&saved), paths.store());
    let token = account.management_token().ok()?;
    Some(ServerConfig {
        token: crate::smartcar::ManagementToken::new(token.expose())?,
        listen: std::env::var("FLEETDASH_LISTEN").unwrap_or_else(|_| "127.0.0.1:8787".into()),
    })
}

/// Opens the window: demo mode on first start (and until the user leaves it), unless
/// Smartcar credentials are set.
pub fn run() -> anyhow::Result<()> {
    let mut viewport = egui::ViewportBuilder::default()
        .with_title("fleetdash")
        .with_app_id("fleetdash")
        .with_inner_size([1100.0, 720.0])
        .with_min_inner_size([640.0, 420.0]);
    if let Ok(icon) =
        eframe::icon_data::from_png_bytes(include_bytes!("../../assets/icons/fleetdash-256.png"))
    {
        viewport = viewport.with_icon(Arc::new(icon));
    }
    let options = eframe::NativeOptions {
        viewport,
        ..Default::default()
    };
    eframe::run_native(
        "fleetdash",
        options,
        Box::new(|cc| {
            let mut persisted: Persisted = cc
                .storage
                .and_then(|s| eframe::get_value(s, eframe::APP_KEY))
                .unwrap_or_default();
            let server = server_from_env();
            if server.is_some() {
                // Real credentials: the user's own data, whatever the last run showed.
                persisted.settings.demo = false;
            }
            let ctx = cc.egui_ctx.clone();
            let wake: Arc<dyn Fn() + Send + Sync> = Arc::new(move || ctx.request_repaint());
            let factory_wake = wake.clone();
            let factory: BackendFactory = Box::new(move |demo| {
                let wake = factory_wake.clone();
                if demo {
                    Backend::start_demo(&demo_db_path(), DemoOptions::default(), move || wake())
                } else {
                    let db = std::env::var_os("FLEETDASH_DB")
                        .map(std::path::PathBuf::from)
                        .unwrap_or_else(crate::store::default_db_path);
                    Backend::start_local(&db, server_from_env(), move || wake())
                }
            });
            let backend = factory(persisted.settings.demo);
            Ok(Box::new(
                FleetApp::with_state(backend, persisted, wake)
                    .with_backend_factory(factory)
                    .with_account(crate::account::AccountPaths::from_env()),
            ))
        }),
    )
    .map_err(|e| anyhow::anyhow!("the window could not open: {e}"))
}
