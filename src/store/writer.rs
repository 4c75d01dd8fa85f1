//! The one writer: a named thread that owns the write connection and commits concurrent
//! deliveries together (group commit), so one fsync covers many acknowledgements.
//!
//! A request's reply is sent only after its transaction committed: the server answers 2xx
//! on that reply, which is how "never acknowledge before commit" is kept.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Instant;

use bytes::Bytes;
use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use super::{Batch, Ingested, StoreError, note_verify, probe_write};
use crate::smartcar::{ParseError, Webhook};

/// Most deliveries committed in one transaction.
const MAX_BATCH: usize = 512;

enum Job {
    Ingest {
        received_at_ms: i64,
        body: Bytes,
        parsed: Result<Webhook, ParseError>,
        reply: oneshot::Sender<Result<Ingested, StoreError>>,
    },
    Probe {
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
    /// The time of an unsigned verify challenge: nothing of its body is kept, and nobody
    /// waits for it.
    NoteVerify { at_ms: i64 },
}

impl Job {
    /// True when whoever sent the job no longer waits for its answer (the request was
    /// dropped: the caller went away or timed out). Writing it then would store a delivery
    /// nobody acknowledged, and Smartcar retries it anyway.
    fn abandoned(&self) -> bool {
        match self {
            Job::Ingest { reply, .. } => reply.is_closed(),
            Job::Probe { reply } => reply.is_closed(),
            Job::NoteVerify { .. } => false,
        }
    }

    /// Answers the job's sender with `error`.
    fn fail(self, error: &StoreError) {
        let error = || StoreError::Unavailable(error.to_string());
        match self {
            Job::Ingest { reply, .. } => {
                let _ = reply.send(Err(error()));
            }
            Job::Probe { reply } => {
                let _ = reply.send(Err(error()));
            }
            Job::NoteVerify { .. } => {}
        }
    }
}

/// Sends work to the writer thread. Cheap to clone; the thread stops when every handle
/// is dropped, after finishing what it was given.
#[derive(Clone)]
pub struct WriterHandle {
    jobs: mpsc::Sender<Job>,
    stats: Arc<Counters>,
}

#[derive(Default)]
struct Counters {
    transactions: AtomicU64,
    jobs: AtomicU64,
    failed_jobs: AtomicU64,
    busy_micros: AtomicU64,
    commit_micros: AtomicU64,
}

/// What the writer has done since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriterStats {
    /// Transactions committed or attempted.
    pub transactions: u64,
    /// Jobs (deliveries and probes) committed.
    pub jobs: u64,
    /// Jobs answered with an error.
    pub failed_jobs: u64,
    /// Time spent writing and committing, in microseconds.
    pub busy_micros: u64,
    /// Of that, time spent committing (writing the WAL and waiting for fsync).
    pub commit_micros: u64,
}

impl WriterHandle {
    /// Counters since the writer started.
    pub fn stats(&self) -> WriterStats {
        WriterStats {
            transactions: self.stats.transactions.load(Ordering::Relaxed),
            jobs: self.stats.jobs.load(Ordering::Relaxed),
            failed_jobs: self.stats.failed_jobs.load(Ordering::Relaxed),
            busy_micros: self.stats.busy_micros.load(Ordering::Relaxed),
            commit_micros: self.stats.commit_micros.load(Ordering::Relaxed),
        }
    }

    /// Archives and stores a delivery; resolves once it is committed.
    pub async fn ingest(
        &self,
        received_at_ms: i64,
        body: Bytes,
        parsed: Result<Webhook, ParseError>,
    ) -> Result<Ingested, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job::Ingest {
                received_at_ms,
                body,
                parsed,
                reply,
            })
            .await
            .map_err(|_| StoreError::WriterGone)?;
        answer.await.map_err(|_| StoreError::WriterGone)?
    }

    /// Jobs sent and not yet taken by the writer.
    pub fn queued(&self) -> usize {
        self.jobs.max_capacity() - self.jobs.capacity()
    }

    /// Notes that an unsigned verify challenge came at `at_ms`, without waiting: when the
    /// writer's queue is full the note is dropped (it is only the time shown in the app).
    pub fn note_verify(&self, at_ms: i64) {
        let _ = self.jobs.try_send(Job::NoteVerify { at_ms });
    }

    /// Commits a small write, proving the database takes writes now.
    pub async fn probe(&self) -> Result<(), StoreError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job::Probe { reply })
            .await
            .map_err(|_| StoreError::WriterGone)?;
        answer.await.map_err(|_| StoreError::WriterGone)?
    }
}

/// Starts the writer thread on `conn`.
pub fn spawn_writer(conn: Connection) -> std::io::Result<(WriterHandle, JoinHandle<()>)> {
    let (jobs, queue) = mpsc::channel(4 * MAX_BATCH);
    let stats = Arc::new(Counters::default());
    let counters = stats.clone();
    let thread = std::thread::Builder::new()
        .name("fleetdash-writer".into())
        .spawn(move || run(conn, queue, &counters))?;
    Ok((WriterHandle { jobs, stats }, thread))
}

/// Sessions and trips waiting to be derived: each vehicle with the earliest reading time
/// stored since, and since when they wait.
#[derive(Default)]
struct Pending {
    vehicles: BTreeMap<String, i64>,
    since: Option<Instant>,
    /// Deliveries were stored since the last derivation (even ones without readings move
    /// the mark of what is derived).
    stored: bool,
}

/// Under load, derive at most this long after the first delivery waiting for it.
const DERIVE_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

impl Pending {
    fn add(&mut self, touched: BTreeMap<String, i64>) {
        self.stored = true;
        for (vehicle, from_ms) in touched {
            let entry = self.vehicles.entry(vehicle).or_insert(from_ms);
            *entry = (*entry).min(from_ms);
        }
        if !self.vehicles.is_empty() && self.since.is_none() {
            self.since = Some(Instant::now());
        }
    }

    /// Derives what waits; on failure (the database busy) it stays for the next try.
    fn derive(&mut self, conn: &mut Connection) -> bool {
        if !self.stored {
            return true;
        }
        match super::derived::derive_pending(conn, &self.vehicles) {
            Ok(()) => {
                *self = Pending::default();
                true
            }
            Err(error) => {
                tracing::warn!(%error, "sessions and trips not derived yet; trying again later");
                false
            }
        }
    }

    fn due(&self) -> bool {
        self.since.is_some_and(|t| t.elapsed() >= DERIVE_EVERY)
    }
}

/// How long the queue must stay empty before the writer counts as idle and derives: under
/// load the next delivery comes within a millisecond or two of the last answer.
const IDLE: std::time::Duration = std::time::Duration::from_millis(20);

/// The next job; while waiting for it, derives what waits once the queue has stayed empty
/// for [`IDLE`] (or what waited too long). `None` when every sender has gone.
fn next_job(
    queue: &mut mpsc::Receiver<Job>,
    pending: &mut Pending,
    conn: &mut Connection,
) -> Option<Job> {
    let idle_from = Instant::now();
    while pending.stored {
        match queue.try_recv() {
            Ok(job) => return Some(job),
            Err(mpsc::error::TryRecvError::Disconnected) => return None,
            Err(mpsc::error::TryRecvError::Empty) => {}
        }
        if idle_from.elapsed() >= IDLE || pending.due() {
            if !pending.derive(conn) {
                break;
            }
        } else {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }
    queue.blocking_recv()
}

fn run(mut conn: Connection, mut queue: mpsc::Receiver<Job>, stats: &Counters) {
    // A writer that stopped before deriving (killed) left its last deliveries underived.
    if let Err(error) = super::derived::recover(&mut conn) {
        tracing::warn!(%error, "could not derive what the last run left; reprocess does");
    }
    let mut pending = Pending::default();
    loop {
        let Some(first) = next_job(&mut queue, &mut pending, &mut conn) else {
            break;
        };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let started = Instant::now();
        commit_batch(&mut conn, batch, stats, &mut pending);
        if pending.due() {
            pending.derive(&mut conn);
        }
        stats
            .busy_micros
            .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
    }
    pending.derive(&mut conn);
}

enum Done {
    Ingest(Ingested),
    Probe,
    Noted,
}

fn commit_batch(conn: &mut Connection, batch: Vec<Job>, stats: &Counters, pending: &mut Pending) {
    // A caller that has gone will not acknowledge anything: don't spend a write on it.
    let batch: Vec<Job> = batch.into_iter().filter(|job| !job.abandoned()).collect();
    if batch.is_empty() {
        return;
    }
    stats.transactions.fetch_add(1, Ordering::Relaxed);
    match write_all(conn, &batch, stats) {
        Ok((results, touched)) => {
            pending.add(touched);
            stats.jobs.fetch_add(batch.len() as u64, Ordering::Relaxed);
            for (job, done) in batch.into_iter().zip(results) {
                match (job, done) {
                    (Job::Ingest { reply, .. }, Done::Ingest(ingested)) => {
                        let _ = reply.send(Ok(ingested));
                    }
                    (Job::Probe { reply }, _) => {
                        let _ = reply.send(Ok(()));
                    }
                    (job, _) => job.fail(&StoreError::WriterGone),
                }
            }
        }
        // One bad delivery must not sink the others: when the error is one a single job
        // can cause, try each alone. When the database itself fails (busy past its
        // timeout, full, read-only, an IO error), every job would fail the same way, and
        // trying them one by one would multiply the busy timeout: fail the batch at once.
        Err(error) if batch.len() > 1 && !is_database_failure(&error) => {
            for job in batch {
                commit_batch(conn, vec![job], stats, pending);
            }
        }
        Err(error) => {
            tracing::warn!(%error, jobs = batch.len(), "database write failed; answering 503 so Smartcar retries");
            stats
                .failed_jobs
                .fetch_add(batch.len() as u64, Ordering::Relaxed);
            let error = StoreError::Unavailable(error.to_string());
            for job in batch {
                job.fail(&error);
            }
        }
    }
}

/// True for errors of the database as a whole rather than of one job's data.
fn is_database_failure(error: &rusqlite::Error) -> bool {
    use rusqlite::ErrorCode::*;
    match error.sqlite_error_code() {
        Some(code) => matches!(
            code,
            DatabaseBusy
                | DatabaseLocked
                | DiskFull
                | ReadOnly
                | SystemIoFailure
                | CannotOpen
                | OutOfMemory
                | DatabaseCorrupt
                | NotADatabase
                | FileLockingProtocolFailed
        ),
        None => false,
    }
}

/// The results, and the vehicles whose sessions and trips now wait to be derived.
type Written = (Vec<Done>, BTreeMap<String, i64>);

fn write_all(conn: &mut Connection, batch: &[Job], stats: &Counters) -> rusqlite::Result<Written> {
    let mut tx = Batch::begin(conn)?;
    let mut results = Vec::with_capacity(batch.len());
    for job in batch {
        results.push(match job {
            Job::Ingest {
                received_at_ms,
                body,
                parsed,
                ..
            } => Done::Ingest(tx.ingest(*received_at_ms, body, parsed)?),
            Job::Probe { .. } => {
                probe_write(tx.tx())?;
                Done::Probe
            }
            Job::NoteVerify { at_ms } => {
                note_verify(tx.tx(), *at_ms)?;
                Done::Noted
            }
        });
    }
    let committing = Instant::now();
    let touched = tx.commit_deferred()?;
    stats
        .commit_micros
        .fetch_add(committing.elapsed().as_micros() as u64, Ordering::Relaxed);
    Ok((results, touched))
}
