//! The simulated fleet and the simulated Smartcar side of it: deterministic vehicles that
//! drive, park, plug in and charge ([`fleet`]), the webhook payloads Smartcar would send
//! about them ([`payload`], [`schedule`]), and their delivery with Smartcar's retry policy
//! ([`deliver`]). Used by demo mode, tests and benchmarks; nothing in production paths
//! depends on it.

pub mod api;
pub mod deliver;
pub mod demo;
pub mod fleet;
pub mod payload;
pub mod schedule;
