//! What every page may use ([`PageCx`]): the reader, the owner-writes channel, the fleet
//! as shown, the state kept between runs, the backend and the wake closure. A page knows
//! no other page; it asks to go elsewhere through [`Nav`].

use std::sync::Arc;

use super::backend::Backend;
use super::notify::NotifyStatus;
use super::owner::{FleetSnapshot, OwnerWrites};
use super::reader::Reader;
use super::relay::RelayView;
use super::{Page, Persisted};

/// Where a page asks the app to go.
#[derive(Debug, Clone, PartialEq)]
pub enum Nav {
    /// Open this vehicle's page.
    Vehicle(String),
    /// Show this page.
    Page(Page),
    /// Show one trip's route on the Map page: the vehicle's positions from `from_ms` to
    /// `to_ms`, with the map fitted to them.
    TripOnMap {
        /// Whose trip.
        vehicle_id: String,
        /// Its start, ms.
        from_ms: i64,
        /// Its end (its last reading while ongoing), ms.
        to_ms: i64,
    },
    /// Ask again for what the page shows (an operation changed the data).
    Reload,
    /// Show the map, waiting for a click where this driver lives.
    HomeOnMap(String),
}

/// The shared context a page draws with.
pub struct PageCx<'a> {
    /// Reads go here; answers come back to the page's `take`.
    pub reader: &'a Reader,
    /// Owner edits go here; the fleet shows them until the database has them.
    pub writes: &'a mut OwnerWrites,
    /// The fleet with the owner's pending values over what was read.
    pub fleet: &'a FleetSnapshot,
    /// True once the fleet has been read at least once.
    pub fleet_loaded: bool,
    /// Settings and page state kept between runs.
    pub persisted: &'a mut Persisted,
    /// Where the data lives and the background work's status.
    pub backend: &'a Backend,
    /// The always-on fleetdash this app follows (Settings shows it).
    pub relay: &'a mut RelayView,
    /// Asks for a repaint (background work calls it when done).
    pub wake: &'a Arc<dyn Fn() + Send + Sync>,
    /// Whether alerts that open are announced on the desktop (`None`: this app does not
    /// announce them).
    pub notify: Option<NotifyStatus>,
    /// Set by a page to go elsewhere after this frame.
    pub nav: Option<Nav>,
}
