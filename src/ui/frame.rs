//! What the app does at the start of each frame and when the owner moves: pick up the
//! reader's answers and the owner writes' outcomes, ask again for what is shown when the
//! data changed, open pages, switch between demo mode and the owner's data. Also what
//! tests and benches look at.

use std::sync::Arc;
use std::time::Instant;

use super::data::{DeliveryRow, VehicleRow};
use super::owner::FleetSnapshot;
use super::pages::{account::AccountView, export::ExportView, map::MapView, vehicle::VehicleView};
use super::reader::{Answer, Query, Reader};
use super::{FleetApp, Page, Persisted, REFRESH_EVERY, relay, writes_for};
use crate::store::sessions::SummaryRow;

impl FleetApp {
    /// Picks up the reader's answers and, when data changed, asks again for what is shown.
    pub fn refresh(&mut self) {
        if self.reader.is_none() {
            if !self.backend.status().ready {
                return;
            }
            let wake = self.wake.clone();
            match Reader::start(
                self.backend.db.clone(),
                self.writes.done_counter(),
                self.notifications.clone(),
                move || wake(),
            ) {
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
        let finished = self.writes.finished();
        for (_, _, outcome) in &finished {
            if let Err(problem) = outcome {
                self.write_problem = Some(problem.clone());
            }
        }
        if !finished.is_empty() {
            // A refused write changed nothing, so no commit will say "read again".
            self.stale = true;
            self.shown = self.writes.overlay(&self.read);
        }
        if self.stale
            && self
                .last_request
                .is_none_or(|t| t.elapsed() >= REFRESH_EVERY)
        {
            self.request_shown();
        }
        if let Some(view) = &mut self.pages.account
            && view.tick(&self.backend.db, self.wake.clone())
        {
            self.stale = true;
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
            Answer::Fleet(writes_done, Ok(snapshot)) => {
                self.fleet_reads += 1;
                self.writes.settle(writes_done);
                self.read = snapshot;
                self.shown = self.writes.overlay(&self.read);
                self.problem = None;
            }
            Answer::Fleet(_, Err(problem)) => self.problem = Some(problem),
            answer => {
                if let Some(problem) = self.pages.take(answer, reader, &self.persisted) {
                    self.problem = Some(problem);
                }
            }
        }
    }

    /// Asks the reader for the fleet and everything the current page shows.
    pub(super) fn request_shown(&mut self) {
        let Some(reader) = &self.reader else { return };
        self.stale = false;
        self.last_request = Some(Instant::now());
        reader.ask(Query::Fleet);
        let queries = self.pages.queries(
            self.persisted.page,
            self.selected.is_some(),
            &self.persisted,
        );
        for query in queries {
            reader.ask(query);
        }
    }

    /// Opens a vehicle's page.
    pub fn open_vehicle(&mut self, id: &str) {
        self.selected = Some(id.to_owned());
        if let Some(reader) = &self.reader {
            self.pages.vehicle.open(id, reader);
        }
    }

    /// Shows `page` (and asks for its data).
    pub fn show_page(&mut self, page: Page) {
        self.selected = None;
        self.persisted.page = page;
        self.request_shown();
    }

    /// Leaves or enters demo mode: a new backend on the other database.
    pub(super) fn switch_mode(&mut self, demo: bool) {
        let Some(factory) = &self.make_backend else {
            return;
        };
        self.persisted.settings.demo = demo;
        self.backend = factory(demo);
        self.relay
            .follow(&self.backend.db, self.backend.demo, self.wake.clone());
        self.reader = None;
        // Edits given in the other database are not this one's, nor are the outcomes of
        // its writes still running.
        self.writes = writes_for(&self.backend, &self.wake);
        self.write_problem = None;
        self.read = FleetSnapshot::default();
        self.shown = FleetSnapshot::default();
        self.fleet_reads = 0;
        self.selected = None;
        self.pages.reset(&self.persisted);
        self.problem = None;
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
    pub fn account_view_mut(&mut self) -> Option<&mut AccountView> {
        self.pages.account.as_mut()
    }

    /// The Account page.
    pub fn account_view(&self) -> Option<&AccountView> {
        self.pages.account.as_ref()
    }

    /// How many fleet answers have arrived (tests wait on it).
    pub fn fleet_reads(&self) -> u64 {
        self.fleet_reads
    }

    /// The vehicles as shown (with the owner's pending values).
    pub fn vehicles(&self) -> &[VehicleRow] {
        &self.shown.vehicles
    }

    /// The fleet as shown: vehicles, fleet settings and places.
    pub fn fleet(&self) -> &FleetSnapshot {
        &self.shown
    }

    /// The analytics rows as last read.
    pub fn analytics(&self) -> &[SummaryRow] {
        self.pages.analytics.rows()
    }

    /// The Analytics page (its chart's bars and the period picked).
    pub fn analytics_page(&self) -> &super::pages::analytics::AnalyticsPage {
        &self.pages.analytics
    }

    /// The alerts open at the reader's last look (`None` before the first).
    pub fn open_alerts(&self) -> Option<&super::alerts::OpenAlerts> {
        self.pages.fleet.alerts()
    }

    /// Whether alerts are announced on the desktop (`None`: no notifier was given).
    pub fn notify_status(&self) -> Option<super::notify::NotifyStatus> {
        self.notifications
            .as_ref()
            .map(super::notify::Notifications::status)
    }

    /// The Fleet page's sparklines and month figures as last read.
    pub fn glance(&self) -> Option<&super::data::Glance> {
        self.pages.fleet.glance()
    }

    /// The deliveries panel's rows as last read.
    pub fn delivery_rows(&self) -> &[DeliveryRow] {
        self.pages.deliveries.rows()
    }

    /// The open vehicle's page.
    pub fn vehicle_view(&self) -> &VehicleView {
        &self.pages.vehicle
    }

    /// The export page.
    pub fn export_view(&self) -> &ExportView {
        &self.pages.export
    }

    /// The export page, to set it up as a user would.
    pub fn export_view_mut(&mut self) -> &mut ExportView {
        &mut self.pages.export
    }

    /// The map page's map.
    pub fn map_view(&self) -> &MapView {
        self.pages.map.view()
    }

    /// The map page (the trip shown on it, if any).
    pub fn map_page(&self) -> &super::pages::map::MapPage {
        &self.pages.map
    }

    /// The map page, to click a point as a user would.
    pub fn map_page_mut(&mut self) -> &mut super::pages::map::MapPage {
        &mut self.pages.map
    }

    /// The Drivers page (drivers, assignments and statements as last read).
    pub fn drivers_page(&self) -> &super::pages::drivers::DriversPage {
        &self.pages.drivers
    }

    /// The Drivers page, to set it up as a user would.
    pub fn drivers_page_mut(&mut self) -> &mut super::pages::drivers::DriversPage {
        &mut self.pages.drivers
    }

    /// The state kept between runs.
    pub fn persisted(&self) -> &Persisted {
        &self.persisted
    }

    /// The backend (where the data lives, whether it is a demo).
    pub fn backend(&self) -> &super::backend::Backend {
        &self.backend
    }

    /// The selected vehicle's trail on the map, as last read.
    pub fn trail(&self) -> &[(f64, f64)] {
        self.pages.map.trail()
    }

    /// The wake closure (pages' background work calls it).
    pub fn wake(&self) -> Arc<dyn Fn() + Send + Sync> {
        self.wake.clone()
    }
}
