//! SQLite: migrations, the raw-delivery archive, derived readings, exports.
//! Nothing here knows HTTP or egui.
//!
//! One process writes through one connection (see [`writer`]); readers open their own.
//! WAL lets readers and the writer run at once, and `synchronous=FULL` makes a commit
//! survive a power cut, which is what "acknowledged" promises Smartcar.

pub mod archive;
pub mod export;
pub mod ingest;
pub mod reprocess;
mod schema;
pub mod sessions;
pub mod vehicles;
pub mod writer;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

pub use export::{ExportFilter, ExportKind, export_csv};
pub use ingest::{Batch, Ingested, Outcome};
pub use writer::{WriterHandle, WriterStats, spawn_writer};

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
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", false)?;
    schema::migrate(&mut conn)?;
    Ok(conn)
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
