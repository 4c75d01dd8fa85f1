//! SQLite: migrations, the raw-delivery archive, derived readings, exports.
//! Nothing here knows HTTP or egui.
//!
//! One process writes through one connection (see [`writer`]); readers open their own.
//! WAL lets readers and the writer run at once, and `synchronous=FULL` makes a commit
//! survive a power cut, which is what "acknowledged" promises Smartcar (on macOS only with
//! `fullfsync`, see [`durability_pragmas`]).

pub mod alerts;
pub mod archive;
pub mod bodies;
mod classify;
pub mod derived;
pub mod drivers;
pub mod export;
pub mod ingest;
pub mod logbook;
mod moments;
pub mod notifications;
pub mod owner;
pub mod polled;
pub mod reimbursement;
pub mod reprocess;
mod schema;
pub mod sessions;
pub mod statement;
pub mod trips;
pub mod upkeep;
pub mod vehicles;
pub mod writer;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

pub use export::{ExportFilter, ExportKind, export_csv};
pub use ingest::{Batch, Ingested, Outcome};
pub use writer::{WriterHandle, WriterStats, spawn_writer};

/// Prepared statements each connection keeps.
const STATEMENT_CACHE: usize = 128;

/// Errors from the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite refused (locked past the busy timeout, disk full, read-only, corrupt...).
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A file could not be written.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// CSV could not be written.
    #[error("CSV error: {0}")]
    Csv(#[from] csv::Error),
    /// The database file does not exist.
    #[error(
        "there is no fleetdash database at {0}: start `fleetdash serve` (or the app) to create one, or pass --db with the right file"
    )]
    Missing(PathBuf),
    /// The database was written by a newer fleetdash.
    #[error(
        "the database is at schema version {found}, newer than this fleetdash understands ({known}): update fleetdash"
    )]
    TooNew {
        /// Version in the file.
        found: i64,
        /// Newest version this build knows.
        known: i64,
    },
    /// A write failed (shared with every delivery of the failed batch).
    #[error("database write failed: {0}")]
    Unavailable(String),
    /// The writer thread has stopped.
    #[error("the database writer has stopped")]
    WriterGone,
}

impl StoreError {
    /// True when the output went away (a reader such as `head` closed the pipe): the
    /// export then ends quietly, as Unix tools do.
    pub fn is_broken_pipe(&self) -> bool {
        let io = match self {
            StoreError::Io(error) => Some(error),
            StoreError::Csv(error) => match error.kind() {
                csv::ErrorKind::Io(error) => Some(error),
                _ => None,
            },
            _ => None,
        };
        io.is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    }
}

/// How to open the database.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// How long a write waits for a lock held by another connection before giving up.
    pub busy_timeout: Duration,
    /// Create the file (and its folder) when missing.
    pub create: bool,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            // Smartcar waits 15 s for an answer; give up well before so it gets a 503
            // (and retries) rather than a timeout.
            busy_timeout: Duration::from_secs(5),
            create: true,
        }
    }
}

/// Opens (and migrates) the database at `path` for reading and writing.
pub fn open(path: &Path, options: &StoreOptions) -> Result<Connection, StoreError> {
    if options.create {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
    } else if !path.exists() {
        return Err(StoreError::Missing(path.to_owned()));
    }
    let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    if options.create {
        flags |= OpenFlags::SQLITE_OPEN_CREATE;
    }
    let mut conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(options.busy_timeout)?;
    // Ingestion, derivation and the exports keep more than rusqlite's default 16
    // statements hot; past it they would be prepared again on every use.
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    // Only a file without tables, and before WAL writes its header, takes this without a
    // full VACUUM: new databases give back the space compaction frees (see `upkeep`).
    if is_empty(&conn)? {
        conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
    }
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    for pragma in durability_pragmas(cfg!(target_os = "macos")) {
        conn.pragma_update(None, pragma, true)?;
    }
    conn.pragma_update(None, "foreign_keys", false)?;
    schema::migrate(&mut conn)?;
    bodies::ensure_builtin(&conn)?;
    Ok(conn)
}

/// SQLite's count of commits by other connections (`PRAGMA data_version`): when it moves,
/// someone else wrote. `None` if it cannot be read.
pub fn data_version(conn: &Connection) -> Option<i64> {
    conn.query_row("PRAGMA data_version", [], |r| r.get(0)).ok()
}

/// True for a database with no schema yet (a new file).
fn is_empty(conn: &Connection) -> rusqlite::Result<bool> {
    conn.query_row("SELECT count(*) = 0 FROM sqlite_schema", [], |r| r.get(0))
}

/// The pragmas a read-write connection turns on beyond `synchronous=FULL`, for the
/// platform (`macos` is `cfg!(target_os = "macos")`, so both branches compile everywhere).
/// On macOS `fsync` leaves data in the drive's cache, where a power cut loses it; only
/// `F_FULLFSYNC` flushes it, and SQLite uses that for commits and checkpoints only when
/// told. Elsewhere `fsync` suffices and the pragmas do nothing.
pub fn durability_pragmas(macos: bool) -> &'static [&'static str] {
    if macos {
        &["fullfsync", "checkpoint_fullfsync"]
    } else {
        &[]
    }
}

/// Opens an existing database for reading only (exports, the UI's views).
pub fn open_read_only(path: &Path) -> Result<Connection, StoreError> {
    if !path.exists() {
        return Err(StoreError::Missing(path.to_owned()));
    }
    // Open read-write once so pending migrations run; readers then see the current schema.
    drop(open(
        path,
        &StoreOptions {
            create: false,
            ..StoreOptions::default()
        },
    )?);
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

/// The default database: `fleetdash.sqlite3` in the platform's data directory.
pub fn default_db_path() -> PathBuf {
    directories::ProjectDirs::from("", "", "fleetdash")
        .map(|dirs| dirs.data_dir().join("fleetdash.sqlite3"))
        .unwrap_or_else(|| PathBuf::from("fleetdash.sqlite3"))
}

/// Checks that the database takes a durable write now (for `/healthz`).
pub fn probe_write(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO meta(key, value) VALUES('health_probe_at', ?1)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [crate::domain::time::now_ms()],
    )?;
    Ok(())
}

/// The `meta` key holding when the last unsigned verify challenge came (ms).
pub const LAST_VERIFY_KEY: &str = "last_unsigned_verify_at";

/// Records that an unsigned verify challenge came at `at_ms` (only the latest time is kept).
pub fn note_verify(conn: &Connection, at_ms: i64) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO meta(key, value) VALUES(?1, ?2)
         ON CONFLICT(key) DO UPDATE SET value = max(value, excluded.value)",
        rusqlite::params![LAST_VERIFY_KEY, at_ms],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commits_and_checkpoints_use_full_fsync_on_macos_and_only_there() {
        assert_eq!(
            durability_pragmas(true),
            ["fullfsync", "checkpoint_fullfsync"]
        );
        assert!(durability_pragmas(false).is_empty());
        let dir = tempfile::tempdir().unwrap();
        let conn = open(&dir.path().join("f.sqlite3"), &StoreOptions::default()).unwrap();
        let on_here = i64::from(cfg!(target_os = "macos"));
        for pragma in ["fullfsync", "checkpoint_fullfsync"] {
            let value: i64 = conn.pragma_query_value(None, pragma, |r| r.get(0)).unwrap();
            assert_eq!(value, on_here, "PRAGMA {pragma}");
        }
    }
}
