//! The one writer: a named thread that owns the write connection and commits concurrent
//! deliveries together (group commit), so one fsync covers many acknowledgements.
//!
//! A request's reply is sent only after its transaction committed: the server answers 2xx
//! on that reply, which is how "never acknowledge before commit" is kept.

use std::thread::JoinHandle;

use bytes::Bytes;
use rusqlite::{Connection, TransactionBehavior};
use tokio::sync::{mpsc, oneshot};

use super::{Ingested, StoreError, ingest_delivery, probe_write};
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
}

/// Sends work to the writer thread. Cheap to clone; the thread stops when every handle
/// is dropped, after finishing what it was given.
#[derive(Clone)]
pub struct WriterHandle {
    jobs: mpsc::Sender<Job>,
}

impl WriterHandle {
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
    let thread = std::thread::Builder::new()
        .name("fleetdash-writer".into())
        .spawn(move || run(conn, queue))?;
    Ok((WriterHandle { jobs }, thread))
}

fn run(mut conn: Connection, mut queue: mpsc::Receiver<Job>) {
    while let Some(first) = queue.blocking_recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        commit_batch(&mut conn, batch);
    }
}

enum Done {
    Ingest(Ingested),
    Probe,
}

fn commit_batch(conn: &mut Connection, batch: Vec<Job>) {
    match write_all(conn, &batch) {
        Ok(results) => {
            for (job, done) in batch.into_iter().zip(results) {
                match (job, done) {
                    (Job::Ingest { reply, .. }, Done::Ingest(ingested)) => {
                        let _ = reply.send(Ok(ingested));
                    }
                    (Job::Probe { reply }, _) => {
                        let _ = reply.send(Ok(()));
                    }
                    (Job::Ingest { reply, .. }, Done::Probe) => {
                        let _ = reply.send(Err(StoreError::WriterGone));
                    }
                }
            }
        }
        // One bad write must not sink the others: try each alone.
        Err(_) if batch.len() > 1 => {
            for job in batch {
                commit_batch(conn, vec![job]);
            }
        }
        Err(error) => {
            tracing::warn!(%error, "database write failed; answering 503 so Smartcar retries");
            for job in batch {
                match job {
                    Job::Ingest { reply, .. } => {
                        let _ = reply.send(Err(StoreError::Unavailable(error.to_string())));
                    }
                    Job::Probe { reply } => {
                        let _ = reply.send(Err(StoreError::Unavailable(error.to_string())));
                    }
                }
            }
        }
    }
}

fn write_all(conn: &mut Connection, batch: &[Job]) -> rusqlite::Result<Vec<Done>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut results = Vec::with_capacity(batch.len());
    for job in batch {
        results.push(match job {
            Job::Ingest {
                received_at_ms,
                body,
                parsed,
                ..
            } => Done::Ingest(ingest_delivery(&tx, *received_at_ms, body, parsed)?),
            Job::Probe { .. } => {
                probe_write(&tx)?;
                Done::Probe
            }
        });
    }
    tx.commit()?;
    Ok(results)
}
