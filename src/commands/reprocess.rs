//! `fleetdash reprocess`: rebuild the derived tables from the archive.

use std::io::Write;
use std::path::PathBuf;

use crate::store::{self, StoreOptions, reprocess::ReprocessReport};

/// Rebuilds everything derived in the database at `db`.
pub fn run(db: PathBuf) -> anyhow::Result<ReprocessReport> {
    let mut conn = store::open(
        &db,
        &StoreOptions {
            create: false,
            ..StoreOptions::default()
        },
    )?;
    let mut stderr = std::io::stderr();
    let report = store::reprocess::reprocess(&mut conn, |done, total| {
        if done % 10_000 == 0 || done == total {
            let _ = write!(stderr, "\rreprocessed {done}/{total} deliveries");
            if done == total {
                let _ = writeln!(stderr);
            }
        }
    })?;
    Ok(report)
}
