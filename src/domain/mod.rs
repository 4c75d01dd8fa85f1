//! Plain types and pure logic. Nothing here does IO or knows about egui, axum or rusqlite.

pub mod alerts;
pub mod downsample;
pub mod gaps;
pub mod geo;
pub mod glance;
pub mod money;
pub mod reading;
pub mod sessions;
pub mod tariff;
pub mod time;
pub mod trips;
pub mod units;
pub mod zone;

pub use reading::{
    BatteryReading, ChargeReading, ChargingState, LocationReading, OdometerReading, Readings,
    Source, VehicleError, VehicleInfo,
};
