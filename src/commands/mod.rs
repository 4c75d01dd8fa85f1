//! What each command-line command does; `main.rs` only parses arguments and dispatches.

pub mod account;
pub mod alerts;
pub mod drivers;
pub mod exit;
pub mod export;
pub mod reprocess;
pub mod serve;
pub mod settings;
pub mod simulate;
pub mod statement;
pub mod sync;
pub mod trips;

/// The app's window (`fleetdash` without a command).
#[cfg(feature = "gui")]
pub fn app() -> anyhow::Result<()> {
    crate::ui::run()
}

/// A build without the window (`--no-default-features`) says so instead.
#[cfg(not(feature = "gui"))]
pub fn app() -> anyhow::Result<()> {
    anyhow::bail!(
        "this fleetdash was built without its window (cargo's feature `gui`): the commands \
         work (`fleetdash --help`); build it with the default features for the app"
    )
}
