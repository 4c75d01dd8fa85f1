//! The desktop app (eframe/egui). It never blocks on IO: the callback server and the
//! simulation run on the background runtime ([`backend`]); reads go through the reader
//! thread ([`reader`]) and come back as answers picked up at the start of a frame; owner
//! edits go through the owner-writes thread ([`owner`]); exports run on threads of their
//! own. Each page is a module of [`pages`] that owns its state; this file holds the shared
//! context and routes.

pub mod alerts;
pub mod backend;
mod banner;
pub mod context;
pub mod data;
mod frame;
pub mod notify;
pub mod owner;
pub mod pages;
pub mod reader;
pub mod relay;
pub mod settings;
pub mod widgets;
mod window;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use backend::Backend;
use context::{Nav, PageCx};
use owner::{FleetSnapshot, OwnerWrites};
use pages::vehicle::Range;
use reader::Reader;
use settings::{Settings, Theme};
pub use window::{demo_db_path, run};

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
    /// Drivers, who drives which vehicle when, and their home-charging statements.
    Drivers,
    /// The latest deliveries and the callback server's status.
    Deliveries,
    /// CSV export.
    Export,
    /// The Smartcar account: application, logins, subscriptions, reachability.
    Account,
    /// The fleet's settings and places; units, theme, tiles, data location.
    Settings,
}

impl Page {
    const ALL: [(Page, &'static str); 8] = [
        (Page::Fleet, "Fleet"),
        (Page::Map, "Map"),
        (Page::Analytics, "Analytics"),
        (Page::Drivers, "Drivers"),
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

/// The app: the shared context and the pages.
pub struct FleetApp {
    backend: Backend,
    make_backend: Option<BackendFactory>,
    reader: Option<Reader>,
    writes: OwnerWrites,
    wake: Arc<dyn Fn() + Send + Sync>,
    persisted: Persisted,
    applied_theme: Option<Theme>,
    /// The fleet as read, and as shown (with the owner's pending values over it).
    read: FleetSnapshot,
    shown: FleetSnapshot,
    fleet_reads: u64,
    /// The vehicle whose page is open.
    selected: Option<String>,
    pages: pages::Pages,
    /// Settings → receive data from an always-on fleetdash, and its live sync.
    relay: relay::RelayView,
    /// New data arrived; re-read at the next refresh.
    stale: bool,
    last_request: Option<Instant>,
    problem: Option<String>,
    /// Why the last owner write could not be saved, until the owner dismisses it.
    write_problem: Option<String>,
    /// Desktop notifications of newly opened alerts (none: this app does not notify).
    notifications: Option<notify::Notifications>,
}

impl FleetApp {
    /// The app on top of `backend`, with default settings.
    pub fn new(backend: Backend) -> Self {
        FleetApp::with_state(backend, Persisted::default(), Arc::new(|| {}))
    }

    /// The app with settings and state from an earlier run. `wake` asks for a repaint
    /// (the window passes `request_repaint`; tests may pass nothing).
    pub fn with_state(
        backend: Backend,
        persisted: Persisted,
        wake: Arc<dyn Fn() + Send + Sync>,
    ) -> Self {
        let mut pages = pages::Pages::default();
        pages.vehicle.range = persisted.range;
        FleetApp {
            writes: writes_for(&backend, &wake),
            backend,
            make_backend: None,
            reader: None,
            wake,
            persisted,
            applied_theme: None,
            read: FleetSnapshot::default(),
            shown: FleetSnapshot::default(),
            fleet_reads: 0,
            selected: None,
            pages,
            relay: relay::RelayView::new(None),
            stale: false,
            last_request: None,
            problem: None,
            write_problem: None,
            notifications: None,
        }
    }

    /// Lets the app switch between demo mode and the user's own data.
    pub fn with_backend_factory(mut self, factory: BackendFactory) -> Self {
        self.make_backend = Some(factory);
        self
    }

    /// Announces alerts that open while the app runs through `notifier` (the desktop's
    /// notification service in the app, a list in tests). Takes effect for the reader
    /// started next, so call it before the first frame.
    pub fn with_notifier(mut self, notifier: Box<dyn notify::Notifier>) -> Self {
        self.notifications = Some(notify::Notifications::start(notifier, self.wake.clone()));
        self
    }

    /// Gives the app its Account page, keeping the account's files in `paths`.
    /// Also starts following the always-on fleetdash saved in Settings, if any.
    pub fn with_account(mut self, paths: crate::account::AccountPaths) -> Self {
        self.relay = relay::RelayView::new(Some(paths.clone()));
        self.relay
            .follow(&self.backend.db, self.backend.demo, self.wake.clone());
        self.pages.account = Some(pages::account::AccountView::new(paths));
        self
    }
}

fn writes_for(backend: &Backend, wake: &Arc<dyn Fn() + Send + Sync>) -> OwnerWrites {
    OwnerWrites::new(
        backend.db.clone(),
        backend.owner_write_timeout(),
        wake.clone(),
    )
}

impl FleetApp {
    /// Draws everything: the banner, the page tabs, and the page shown.
    pub fn show(&mut self, ui: &mut egui::Ui) {
        let can_switch = self.make_backend.is_some();
        egui::Panel::top("banner").show(ui, |ui| {
            if let Some(demo) = banner::banner_ui(ui, &self.backend, &self.relay, can_switch) {
                self.switch_mode(demo);
            }
        });
        egui::CentralPanel::default_margins().show(ui, |ui| {
            if let Some(problem) = &self.problem {
                widgets::problem_ui(ui, problem);
            }
            // Kept until dismissed: the next read must not wipe it before it is read.
            if let Some(problem) = &self.write_problem {
                let mut dismissed = false;
                ui.horizontal_wrapped(|ui| {
                    widgets::problem_ui(ui, problem);
                    dismissed = ui.small_button("Dismiss").clicked();
                });
                if dismissed {
                    self.write_problem = None;
                }
            }
            if self.selected.is_none() {
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
            }
            let Some(reader) = &self.reader else {
                if self.problem.is_none() {
                    ui.horizontal(|ui| {
                        ui.spinner();
                        ui.label("Opening the data...");
                    });
                }
                return;
            };
            let mut cx = PageCx {
                reader,
                writes: &mut self.writes,
                fleet: &self.shown,
                fleet_loaded: self.fleet_reads > 0,
                persisted: &mut self.persisted,
                backend: &self.backend,
                relay: &mut self.relay,
                wake: &self.wake,
                notify: self
                    .notifications
                    .as_ref()
                    .map(notify::Notifications::status),
                nav: None,
            };
            let page = cx.persisted.page;
            let sent = cx.writes.sent();
            self.pages.ui(page, self.selected.is_some(), ui, &mut cx);
            let wrote = cx.writes.sent() != sent;
            match cx.nav.take() {
                Some(Nav::Vehicle(id)) => self.open_vehicle(&id),
                Some(Nav::Page(page)) => self.show_page(page),
                Some(Nav::TripOnMap {
                    vehicle_id,
                    from_ms,
                    to_ms,
                }) => {
                    self.pages.map.show_trip(vehicle_id, from_ms, to_ms);
                    self.show_page(Page::Map);
                }
                Some(Nav::Reload) => self.request_shown(),
                Some(Nav::HomeOnMap(driver)) => {
                    self.pages.map.pick_home_for(&driver);
                    self.show_page(Page::Map);
                }
                None => {}
            }
            if wrote {
                self.shown = self.writes.overlay(&self.read);
            }
        });
    }
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
