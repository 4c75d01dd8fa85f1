//! What each command-line command does; `main.rs` only parses arguments and dispatches.

pub mod account;
pub mod exit;
pub mod export;
pub mod reprocess;
pub mod serve;
pub mod settings;
pub mod simulate;
pub mod sync;
