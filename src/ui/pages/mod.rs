//! The app's pages, one module each; each owns its state, says what it needs read and
//! takes the answers meant for it. [`Pages`] holds them all and hands each answer to the
//! page it is for; the app's `mod.rs` decides which page draws.

pub mod account;
pub mod analytics;
pub mod deliveries;
pub mod drivers;
pub mod export;
pub mod fleet;
pub mod map;
pub mod settings;
pub mod vehicle;

use super::context::{Nav, PageCx};
use super::reader::{Answer, Query, Reader};
use super::{Page, Persisted};

/// Every page's state.
#[derive(Default)]
pub struct Pages {
    /// Fleet.
    pub fleet: fleet::FleetPage,
    /// The open vehicle.
    pub vehicle: vehicle::VehicleView,
    /// Map.
    pub map: map::MapPage,
    /// Analytics.
    pub analytics: analytics::AnalyticsPage,
    /// Drivers, assignments and statements.
    pub drivers: drivers::DriversPage,
    /// Deliveries.
    pub deliveries: deliveries::DeliveriesPage,
    /// Export.
    pub export: export::ExportView,
    /// Account (only where the app has account files).
    pub account: Option<account::AccountView>,
    /// Settings.
    pub settings: settings::SettingsPage,
    /// When the last delivery and the last verify challenge arrived (Account).
    reachability: (Option<i64>, Option<i64>),
}

impl Pages {
    /// What `page` (or the open vehicle) needs read.
    pub fn queries(&self, page: Page, vehicle_open: bool, persisted: &Persisted) -> Vec<Query> {
        if vehicle_open {
            return self
                .vehicle
                .vehicle()
                .map(|id| Query::Vehicle(id.to_owned()))
                .into_iter()
                .collect();
        }
        match page {
            Page::Analytics => self.analytics.queries(persisted.by_month),
            Page::Deliveries => self.deliveries.queries(),
            Page::Map => self.map.queries(),
            Page::Drivers => self.drivers.queries(),
            Page::Account => vec![Query::Reachability],
            Page::Fleet => self.fleet.queries(),
            Page::Export | Page::Settings => Vec::new(),
        }
    }

    /// Hands `answer` to the pages it is for; returns a problem to show, if any.
    /// (Fleet answers are the app's, not a page's.)
    pub fn take(
        &mut self,
        answer: Answer,
        reader: &Reader,
        persisted: &Persisted,
    ) -> Option<String> {
        match answer {
            Answer::Changed | Answer::Fleet(..) => {}
            Answer::Analytics(by_month, Ok(rows)) => {
                self.analytics.take(by_month, persisted.by_month, rows);
            }
            Answer::Glance(Ok(glance)) => self.fleet.take(glance),
            Answer::Alerts(Ok(alerts)) => self.fleet.take_alerts(alerts),
            Answer::Deliveries(Ok((rows, counts, uncompressed))) => {
                self.deliveries.take_rows(rows, counts, uncompressed)
            }
            Answer::DeliveryBody(id, body) => self.deliveries.take_body(id, body),
            Answer::Vehicle(id, details) => {
                if let Ok(details) = &details {
                    self.map.take_vehicle(&id, details, persisted.range, reader);
                }
                self.vehicle.take_details(&id, details, reader);
            }
            Answer::Series(query, points) => self.vehicle.take_series(query, points),
            Answer::Trail(Query::Trail { vehicle, .. }, Ok(points)) => {
                self.map.take_trail(&vehicle, points);
            }
            Answer::Trail(..) => {}
            Answer::Route(query, points) => self.map.take_route(&query, points),
            Answer::Drivers(Ok(data)) => {
                self.map.take_drivers(&data);
                self.drivers.take_drivers(data);
            }
            Answer::Statements(month, Ok(statements)) => {
                self.drivers.take_statements(&month, statements);
            }
            Answer::Reachability(delivery, verify) => self.reachability = (delivery, verify),
            Answer::Analytics(_, Err(problem))
            | Answer::Deliveries(Err(problem))
            | Answer::Glance(Err(problem))
            | Answer::Alerts(Err(problem))
            | Answer::Drivers(Err(problem))
            | Answer::Statements(_, Err(problem)) => {
                return Some(problem);
            }
        }
        None
    }

    /// Forgets what was read from the other database (demo mode switched).
    pub fn reset(&mut self, persisted: &Persisted) {
        let account = self.account.take();
        let drivers = std::mem::take(&mut self.drivers);
        *self = Pages {
            account,
            export: std::mem::take(&mut self.export),
            settings: std::mem::take(&mut self.settings),
            ..Pages::default()
        };
        // The statements' folder is the user's choice, not the database's.
        self.drivers.keep_folder(&drivers);
        self.vehicle.range = persisted.range;
        self.map.reset();
    }

    /// Draws `page`, or the open vehicle's page.
    pub fn ui(&mut self, page: Page, vehicle_open: bool, ui: &mut egui::Ui, cx: &mut PageCx) {
        if vehicle_open {
            self.vehicle.ui(ui, cx);
            return;
        }
        match page {
            Page::Fleet => self.fleet.ui(ui, cx),
            Page::Map => self.map.ui(ui, cx),
            Page::Analytics => self.analytics.ui(ui, cx),
            Page::Drivers => self.drivers.ui(ui, cx),
            Page::Deliveries => self.deliveries.ui(ui, cx),
            Page::Export => self.export.ui(ui, &cx.fleet.vehicles, &cx.backend.db),
            Page::Account => self.account_ui(ui, cx),
            Page::Settings => self.settings.ui(ui, cx),
        }
    }

    fn account_ui(&mut self, ui: &mut egui::Ui, cx: &mut PageCx) {
        let Some(view) = &mut self.account else {
            ui.label("The account is not available in this window.");
            return;
        };
        let status = cx.backend.status();
        let redirect = crate::account::AccountConfig::load(view.form_mut()).redirect_uri;
        let server = cx.backend.logins_for(&redirect);
        let finished = view.ui(
            ui,
            &cx.fleet.vehicles,
            &cx.backend.db,
            server,
            status.callback.as_deref(),
            self.reachability,
            cx.wake.clone(),
        );
        if finished {
            cx.nav = Some(Nav::Reload);
        }
    }
}
