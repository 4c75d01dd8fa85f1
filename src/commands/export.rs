//! `fleetdash export`: CSV to stdout or a file.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, bail};

use crate::domain::time::TimeBound;
use crate::store::{self, ExportFilter, ExportKind, export_csv};

/// Settings for `export`.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// What to export.
    pub kind: ExportKind,
    /// The database file.
    pub db: PathBuf,
    /// Only these vehicles (all when empty).
    pub vehicles: Vec<String>,
    /// Lower bound on `recorded_at`.
    pub since: Option<TimeBound>,
    /// Upper bound on `recorded_at` (a date includes its whole day).
    pub until: Option<TimeBound>,
    /// Write here instead of stdout.
    pub out: Option<PathBuf>,
    /// Only this driver (reimbursement).
    pub driver: Option<String>,
}

/// Runs the export; returns the number of data rows written.
pub fn run(options: ExportOptions) -> anyhow::Result<u64> {
    let filter = ExportFilter {
        vehicle_ids: options.vehicles.clone(),
        since_ms: options.since.map(TimeBound::since_ms),
        until_ms: options.until.map(TimeBound::until_ms),
        driver: options.driver.clone(),
    };
    if filter.driver.is_some() && options.kind != ExportKind::Reimbursement {
        bail!(
            "--driver selects rows of `export reimbursement` only: drop it, or export reimbursement"
        );
    }
    if let (Some(since), Some(until)) = (filter.since_ms, filter.until_ms)
        && since > until
    {
        bail!("--since is after --until: nothing can match; swap them");
    }
    let conn = store::open_read_only(&options.db)?;
    match &options.out {
        None => {
            let stdout = std::io::stdout();
            match export_csv(&conn, options.kind, &filter, BufWriter::new(stdout.lock())) {
                // `fleetdash export battery | head`: the reader has all it wanted.
                Err(error) if error.is_broken_pipe() => Ok(0),
                written => Ok(written?),
            }
        }
        Some(path) => export_to_file(&conn, options.kind, &filter, path, None),
    }
}

/// Writes the CSV to `path`: next to it first, renamed at the end, so a failed export never
/// leaves a half-written file under the name the user asked for. `lines`, when given,
/// counts the lines written so far (the app's progress indicator reads it).
pub fn export_to_file(
    conn: &rusqlite::Connection,
    kind: ExportKind,
    filter: &ExportFilter,
    path: &Path,
    lines: Option<&AtomicU64>,
) -> anyhow::Result<u64> {
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    let file = File::create(&partial).with_context(|| {
        format!(
            "could not create {}: check the folder exists and is writable",
            partial.display()
        )
    })?;
    let mut out = BufWriter::new(LineCounter { inner: file, lines });
    let written = export_csv(conn, kind, filter, &mut out).and_then(|rows| {
        let file = out.into_inner().map_err(|e| e.into_error())?.inner;
        file.sync_all()?;
        Ok(rows)
    });
    match written {
        Ok(rows) => {
            std::fs::rename(&partial, path)
                .with_context(|| format!("could not write {}", path.display()))?;
            Ok(rows)
        }
        Err(error) => {
            let _ = std::fs::remove_file(&partial);
            Err(error.into())
        }
    }
}

/// Counts newlines on their way to the file (a CSV line per row, but for the rare quoted
/// newline in an error description: close enough for a progress bar).
struct LineCounter<'a, W> {
    inner: W,
    lines: Option<&'a AtomicU64>,
}

impl<W: Write> Write for LineCounter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let written = self.inner.write(buf)?;
        if let Some(lines) = self.lines {
            let newlines = buf[..written].iter().filter(|&&b| b == b'\n').count();
            lines.fetch_add(newlines as u64, Ordering::Relaxed);
        }
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Tells the user where the export went (on stderr, so stdout stays pure CSV).
pub fn report(rows: u64, out: Option<&Path>) {
    let mut stderr = std::io::stderr();
    let _ = match out {
        Some(path) => writeln!(stderr, "exported {rows} rows to {}", path.display()),
        None => Ok(()),
    };
}
