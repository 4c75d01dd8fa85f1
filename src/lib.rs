//! fleetdash: a desktop dashboard and webhook receiver for small EV fleets on Smartcar.
//!
//! Data flows one way: Smartcar -> [`server`] -> [`store`] -> views (export, UI).
//! See `ARCHITECTURE.md` for the map and its invariants.

pub mod account;
pub mod commands;
pub mod domain;
pub mod notify;
pub mod report;
pub mod server;
pub mod sim;
pub mod smartcar;
pub mod store;
pub mod sync;
#[cfg(feature = "gui")]
pub mod ui;
