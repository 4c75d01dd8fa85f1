//! Background care of the archive, on a thread of its own and never on the ingest path:
//! compressing bodies archived before compression existed (in small transactions, so
//! deliveries keep arriving, and resumable after a kill because each row records whether
//! it was done), giving the freed pages back to the file system, and training a zstd
//! dictionary on the fleet's own deliveries once there are enough of them.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use super::{StoreError, StoreOptions, bodies};

/// When and how much the upkeep thread works.
#[derive(Debug, Clone)]
pub struct UpkeepOptions {
    /// Pause between looks at the archive once nothing is left to compress.
    pub idle: Duration,
    /// Rows compressed per transaction: small, so the writer never waits long.
    pub batch: usize,
    /// Deliveries with a body needed before a dictionary is trained on them.
    pub train_after: usize,
}

impl Default for UpkeepOptions {
    fn default() -> Self {
        UpkeepOptions {
            // A look costs a count over a partial index: cheap enough to look often, so
            // the fleet's own dictionary takes over soon after its 2,000th delivery.
            idle: Duration::from_secs(1),
            batch: 200,
            train_after: 2_000,
        }
    }
}

/// The size of a trained dictionary: 16 KiB gave 12x on a simulated fleet's year.
const DICT_BYTES: usize = 16 * 1024;

/// The pause after the database refused a step (busy past its timeout, full, read-only).
const RETRY_AFTER_ERROR: Duration = Duration::from_secs(10);

/// Pages `incremental_vacuum` gives back per transaction (4 MiB of 4 KiB pages).
const VACUUM_STEP_PAGES: i64 = 1024;

/// The running upkeep thread; dropping it stops the thread after its current step.
pub struct Upkeep {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Upkeep {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Starts the upkeep thread on the database at `path` (its own connection: compression is
/// CPU work that must not hold up the writer).
pub fn spawn(path: PathBuf, options: UpkeepOptions) -> std::io::Result<Upkeep> {
    let stop = Arc::new(AtomicBool::new(false));
    let stopping = stop.clone();
    let thread = std::thread::Builder::new()
        .name("archive-upkeep".into())
        .spawn(move || {
            if let Err(error) = run(&path, &options, &stopping) {
                tracing::warn!(%error, "archive upkeep stopped");
            }
        })?;
    Ok(Upkeep {
        stop,
        thread: Some(thread),
    })
}

fn run(
    path: &std::path::Path,
    options: &UpkeepOptions,
    stop: &AtomicBool,
) -> Result<(), StoreError> {
    let mut conn = super::open(
        path,
        &StoreOptions {
            create: false,
            ..StoreOptions::default()
        },
    )?;
    let mut train_after = options.train_after;
    while !stop.load(Ordering::Relaxed) {
        // A busy or full database is passing trouble: a later round picks up where this
        // one stopped, since every row records whether it was done. It waits longer, so
        // a disk that stays full is not reported every second.
        let mut pause = options.idle;
        match compress_all(&mut conn, options.batch, stop) {
            Ok(0) => {}
            Ok(_) => {
                if let Err(error) = give_back_space(&conn, stop) {
                    tracing::warn!(%error, "could not give free space back yet; will try again");
                    pause = pause.max(RETRY_AFTER_ERROR);
                }
            }
            Err(error) => {
                tracing::warn!(%error, "could not compress older deliveries yet; will try again");
                pause = pause.max(RETRY_AFTER_ERROR);
            }
        }
        match train_if_due(&conn, train_after) {
            Ok(_) => {}
            Err(StoreError::Sqlite(error)) => {
                tracing::warn!(%error, "could not train a compression dictionary yet");
                pause = pause.max(RETRY_AFTER_ERROR);
            }
            Err(error) => {
                // Too few distinct samples, say: try again when there are twice as many.
                tracing::warn!(%error, "could not train a compression dictionary");
                train_after = train_after.saturating_mul(2);
            }
        }
        let until = Instant::now() + pause;
        while Instant::now() < until && !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(100).min(options.idle));
        }
    }
    Ok(())
}

/// Bodies still stored as they were before compression existed.
pub fn uncompressed_count(conn: &Connection) -> Result<u64, StoreError> {
    let count: i64 = conn.query_row(
        "SELECT count(*) FROM deliveries INDEXED BY deliveries_uncompressed
         WHERE body_codec IS NULL AND body IS NOT NULL",
        [],
        |r| r.get(0),
    )?;
    Ok(count.max(0) as u64)
}

/// Compresses every body archived raw, `batch` rows per transaction, logging progress;
/// returns how many it compressed. Stops early (resumable) when `stop` is set.
pub fn compress_all(
    conn: &mut Connection,
    batch: usize,
    stop: &AtomicBool,
) -> Result<u64, StoreError> {
    let total = uncompressed_count(conn)?;
    if total == 0 {
        return Ok(0);
    }
    tracing::info!(
        total,
        "compressing the archive's older deliveries in the background"
    );
    let mut done = 0;
    let mut logged = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        let n = compress_batch(conn, batch)?;
        if n == 0 {
            break;
        }
        done += n;
        if logged.elapsed() >= Duration::from_secs(5) {
            tracing::info!(done, total, "compressing the archive");
            logged = Instant::now();
        }
    }
    tracing::info!(done, total, "compressed the archive's older deliveries");
    Ok(done)
}

/// Compresses up to `limit` raw bodies in one short transaction; returns how many.
pub fn compress_batch(conn: &mut Connection, limit: usize) -> Result<u64, StoreError> {
    // Read and compress outside the write transaction: only the UPDATEs hold the lock.
    let rows: Vec<(i64, Vec<u8>)> = conn
        .prepare_cached(
            "SELECT id, body FROM deliveries INDEXED BY deliveries_uncompressed
             WHERE body_codec IS NULL AND body IS NOT NULL ORDER BY id LIMIT ?1",
        )?
        .query_map([limit as i64], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let mut encoded = Vec::with_capacity(rows.len());
    for (id, body) in rows {
        encoded.push((id, bodies::encode(conn, &body)?));
    }
    // Every column, whatever later migrations add: the row is written back whole.
    let columns: Vec<String> = conn
        .prepare("SELECT name FROM pragma_table_info('deliveries') ORDER BY cid")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let select = format!(
        "SELECT {} FROM deliveries WHERE id = ?1 AND body_codec IS NULL AND body IS NOT NULL",
        columns.join(", ")
    );
    let insert = format!(
        "INSERT INTO deliveries({}) VALUES ({})",
        columns.join(", "),
        vec!["?"; columns.len()].join(", ")
    );
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    for (id, stored) in &encoded {
        // Only rows still raw: a body never changes once archived, so this is the one
        // thing that can have moved on since the read.
        let row: Option<Vec<Value>> = tx
            .prepare_cached(&select)?
            .query_row([id], |r| (0..columns.len()).map(|i| r.get(i)).collect())
            .optional()?;
        let Some(mut row) = row else { continue };
        for (name, value) in columns.iter().zip(row.iter_mut()) {
            match name.as_str() {
                "body" => *value = Value::Blob(stored.bytes.clone()),
                "body_codec" => *value = Value::Integer(stored.codec),
                _ => {}
            }
        }
        // Delete and insert, not UPDATE: SQLite merges a page left underfull only when a
        // row is deleted, and without that the pages stay as many as before, just emptier.
        tx.prepare_cached("DELETE FROM deliveries WHERE id = ?1")?
            .execute([id])?;
        tx.prepare_cached(&insert)?
            .execute(rusqlite::params_from_iter(row))?;
    }
    tx.commit()?;
    Ok(encoded.len() as u64)
}

/// Returns free pages to the file system where the file allows it without a full
/// `VACUUM` (`auto_vacuum=INCREMENTAL`: every database created since schema version 11).
/// An older file keeps its free pages for new deliveries to reuse until the next start
/// switches it over (see [`vacuum_if_worthwhile`]).
pub fn give_back_space(conn: &Connection, stop: &AtomicBool) -> Result<(), StoreError> {
    let mode: i64 = conn.pragma_query_value(None, "auto_vacuum", |r| r.get(0))?;
    let free = || -> rusqlite::Result<i64> {
        conn.pragma_query_value(None, "freelist_count", |r| r.get(0))
    };
    if mode != 2 {
        let page_size: i64 = conn.pragma_query_value(None, "page_size", |r| r.get(0))?;
        tracing::info!(
            free_mib = free()? * page_size / (1 << 20),
            "the database file keeps its free pages for new deliveries; the next start of \
             `fleetdash serve` or the app gives them back once"
        );
        return Ok(());
    }
    while free()? > 0 && !stop.load(Ordering::Relaxed) {
        // Each call is its own short write transaction.
        conn.execute_batch(&format!("PRAGMA incremental_vacuum({VACUUM_STEP_PAGES})"))?;
    }
    // WAL mode: the file shrinks when the moved pages are checkpointed back.
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")?;
    Ok(())
}

/// At start, before anything is served: when a file from before schema version 11 has
/// its archive compressed and at least a quarter of it free, switches it to
/// `auto_vacuum=INCREMENTAL` with the one full `VACUUM` that needs, so the file shrinks now
/// and gives back space by itself from then on. Running it while serving would hold the
/// write lock for the whole rewrite (deliveries answered 503); at start Smartcar simply
/// retries later. Returns whether it vacuumed.
pub fn vacuum_if_worthwhile(conn: &Connection) -> Result<bool, StoreError> {
    let mode: i64 = conn.pragma_query_value(None, "auto_vacuum", |r| r.get(0))?;
    let free: i64 = conn.pragma_query_value(None, "freelist_count", |r| r.get(0))?;
    let pages: i64 = conn.pragma_query_value(None, "page_count", |r| r.get(0))?;
    if mode == 2 || free * 4 < pages || uncompressed_count(conn)? > 0 {
        return Ok(false);
    }
    let started = Instant::now();
    tracing::info!(
        free,
        pages,
        "rewriting the database once to give back the space compression freed"
    );
    conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
    conn.execute_batch("VACUUM; PRAGMA wal_checkpoint(TRUNCATE);")?;
    tracing::info!(secs = started.elapsed().as_secs_f64(), "database rewritten");
    Ok(true)
}

/// Trains a dictionary on the newest `train_after` bodies and stores it, once: when this
/// database has none of its own yet and holds that many. Returns whether it trained.
pub fn train_if_due(conn: &Connection, train_after: usize) -> Result<bool, StoreError> {
    let trained: bool = conn.query_row(
        "SELECT EXISTS(SELECT 1 FROM zstd_dictionaries WHERE source = 'trained')",
        [],
        |r| r.get(0),
    )?;
    if trained || train_after == 0 {
        return Ok(false);
    }
    let enough: bool = conn
        .prepare_cached(
            "SELECT count(*) >= ?1 FROM (SELECT 1 FROM deliveries
               WHERE outcome IN ('parsed', 'quarantined') AND body IS NOT NULL LIMIT ?1)",
        )?
        .query_row([train_after as i64], |r| r.get(0))?;
    if !enough {
        return Ok(false);
    }
    let mut statement = conn.prepare_cached(
        "SELECT body, body_codec FROM deliveries
         WHERE outcome IN ('parsed', 'quarantined') AND body IS NOT NULL
         ORDER BY id DESC LIMIT ?1",
    )?;
    let mut rows = statement.query([train_after as i64])?;
    let mut samples = Vec::with_capacity(train_after);
    while let Some(row) = rows.next()? {
        if let Some(body) = bodies::from_row(conn, row, 0)? {
            samples.push(body);
        }
    }
    if samples.len() < train_after {
        return Ok(false);
    }
    let started = Instant::now();
    let dict = zstd::dict::from_samples(&samples, DICT_BYTES)?;
    let id = bodies::insert_dictionary(conn, &dict, "trained", Some(samples.len()))?;
    tracing::info!(
        id,
        samples = samples.len(),
        bytes = dict.len(),
        secs = started.elapsed().as_secs_f64(),
        "trained a compression dictionary on this fleet's deliveries; new ones use it"
    );
    Ok(true)
}
