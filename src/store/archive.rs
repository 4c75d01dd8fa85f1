//! The archive as a relay's sync API serves it, and where a desktop's sync left off.

use std::time::{Duration, Instant};

use rusqlite::{Connection, OptionalExtension, params};

use super::StoreError;

/// One archived delivery, as the sync API hands it out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Archived {
    /// Its id in the archive: the sync cursor.
    pub id: i64,
    /// When it reached the server (ms since the epoch).
    pub received_at_ms: i64,
    /// The raw body, byte for byte.
    pub body: Vec<u8>,
}

/// A page of the archive.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArchivePage {
    /// Deliveries after the cursor, in arrival order.
    pub deliveries: Vec<Archived>,
    /// Deliveries after this page still to come.
    pub remaining: u64,
    /// The newest id served at all (0 for an empty archive): a cursor beyond it means the
    /// archive was replaced since the last sync.
    pub newest: i64,
}

/// How long a remembered backlog count is trusted. Counts carried forward stay exact while
/// the archive only grows; a `reprocess` run by another process can change which
/// deliveries are served, and this bounds how long a page's `remaining` can be off then.
const BACKLOG_TRUST: Duration = Duration::from_secs(30);

/// Remembered backlogs a relay keeps: about one per desktop syncing at once.
const BACKLOG_ANCHORS: usize = 8;

/// Backlog counts from earlier pages, so that the next page of the same sync counts only
/// what lies between the two cursors and what arrived since, not the whole archive after
/// its cursor (which made a first sync of a large archive quadratic).
#[derive(Debug, Default)]
pub struct BacklogMemo {
    anchors: Vec<Anchor>,
}

/// "After `after`, `count` deliveries were served, the newest being `newest`", as of `at`.
#[derive(Debug, Clone, Copy)]
struct Anchor {
    after: i64,
    newest: i64,
    count: u64,
    at: Instant,
}

impl BacklogMemo {
    /// The anchor to count from for a page after `after`: the closest one at or before it.
    fn best(&self, after: i64, now: Instant) -> Option<Anchor> {
        self.anchors
            .iter()
            .filter(|a| a.after <= after && now.saturating_duration_since(a.at) < BACKLOG_TRUST)
            .max_by_key(|a| a.after)
            .copied()
    }

    /// Keeps `anchor` in place of the one it was counted from (the same sync moving on),
    /// else in place of the oldest.
    fn remember(&mut self, from: Option<Anchor>, anchor: Anchor) {
        let replaced = from.and_then(|f| {
            self.anchors
                .iter()
                .position(|a| a.after == f.after && a.at == f.at)
        });
        match replaced {
            Some(i) => self.anchors[i] = anchor,
            None if self.anchors.len() < BACKLOG_ANCHORS => self.anchors.push(anchor),
            None => {
                if let Some(oldest) = self.anchors.iter_mut().min_by_key(|a| a.at) {
                    *oldest = anchor;
                }
            }
        }
    }
}

/// Served deliveries with ids in `(low, high]` (`high` = `None`: no upper bound). Counts
/// walk the `deliveries_served` index, a few bytes per delivery, rather than the table with
/// its bodies, which the planner would pick for the id range.
fn served_between(conn: &Connection, low: i64, high: Option<i64>) -> Result<u64, StoreError> {
    let count: i64 = conn
        .prepare_cached(
            "SELECT count(*) FROM deliveries INDEXED BY deliveries_served
             WHERE id > ?1 AND id <= ?2 AND outcome IN ('parsed', 'quarantined')",
        )?
        .query_row(params![low, high.unwrap_or(i64::MAX)], |r| r.get(0))?;
    Ok(count.max(0) as u64)
}

/// The deliveries with a body to derive from (verify notes and duplicates carry nothing
/// new) after `after`, at most `limit` of them and about `max_bytes` of bodies (at least
/// one, whatever its size). `memo` carries backlog counts from page to page.
pub fn page_after(
    conn: &Connection,
    after: i64,
    limit: usize,
    max_bytes: usize,
    memo: &std::sync::Mutex<BacklogMemo>,
) -> Result<ArchivePage, StoreError> {
    // One snapshot for the page and its counts, so they agree with each other.
    let snapshot = conn.unchecked_transaction()?;
    let mut statement = conn.prepare_cached(
        "SELECT id, received_at, body, body_codec FROM deliveries
         WHERE id > ?1 AND outcome IN ('parsed', 'quarantined') AND body IS NOT NULL
         ORDER BY id LIMIT ?2",
    )?;
    // One more than asked for says whether anything is left after the page.
    let mut rows = statement.query(params![after, limit as i64 + 1])?;
    let mut page = ArchivePage::default();
    let mut bytes = 0;
    let mut more = false;
    while let Some(row) = rows.next()? {
        // The WHERE clause keeps rows without a body out.
        let body = super::bodies::from_row(conn, row, 2)?.unwrap_or_default();
        if page.deliveries.len() == limit
            || (!page.deliveries.is_empty() && bytes + body.len() > max_bytes)
        {
            more = true;
            break;
        }
        bytes += body.len();
        page.deliveries.push(Archived {
            id: row.get(0)?,
            received_at_ms: row.get(1)?,
            body,
        });
    }
    drop(rows);
    page.newest = conn
        .prepare_cached(
            "SELECT coalesce(max(id), 0) FROM deliveries
             WHERE outcome IN ('parsed', 'quarantined')",
        )?
        .query_row([], |r| r.get(0))?;
    if more {
        let last = page.deliveries.last().map_or(after, |d| d.id);
        page.remaining = backlog_after(conn, last, page.newest, memo)?.max(1);
    }
    snapshot.finish()?;
    Ok(page)
}

/// Served deliveries after `last` when the newest is `newest`, counted from the closest
/// remembered backlog when there is one (exact while the archive only grows).
fn backlog_after(
    conn: &Connection,
    last: i64,
    newest: i64,
    memo: &std::sync::Mutex<BacklogMemo>,
) -> Result<u64, StoreError> {
    let now = Instant::now();
    let from = memo.lock().ok().and_then(|m| m.best(last, now));
    let (count, counted_at) = match from {
        Some(a) if last < a.newest => {
            let taken = served_between(conn, a.after, Some(last))?;
            let arrived = served_between(conn, a.newest, None)?;
            // Carried forward: trusted only as long as the count it started from.
            ((a.count + arrived).saturating_sub(taken), a.at)
        }
        // No anchor, or past its newest: counting the rest is as cheap as it gets.
        _ => (served_between(conn, last, None)?, now),
    };
    if let Ok(mut memo) = memo.lock() {
        memo.remember(
            from,
            Anchor {
                after: last,
                newest,
                count,
                at: counted_at,
            },
        );
    }
    Ok(count)
}

/// Where the sync from one relay stands.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncPosition {
    /// The relay's id of the last delivery taken.
    pub cursor: i64,
    /// When the relay last answered (ms).
    pub last_sync_at_ms: Option<i64>,
    /// The relay's backlog after that answer.
    pub remaining: Option<u64>,
}

/// Where the sync from `url` stands (the start, if it never ran).
pub fn sync_position(conn: &Connection, url: &str) -> Result<SyncPosition, StoreError> {
    Ok(conn
        .prepare_cached("SELECT cursor, last_sync_at, remaining FROM sync_sources WHERE url = ?1")?
        .query_row([url], |r| {
            Ok(SyncPosition {
                cursor: r.get(0)?,
                last_sync_at_ms: r.get(1)?,
                remaining: r.get::<_, Option<i64>>(2)?.map(|n| n.max(0) as u64),
            })
        })
        .optional()?
        .unwrap_or_default())
}

/// Records where the sync from `url` stands; call it in the transaction that stored the
/// deliveries up to `position.cursor`, so the two never disagree.
pub fn save_sync_position(
    conn: &Connection,
    url: &str,
    position: &SyncPosition,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO sync_sources(url, cursor, last_sync_at, remaining) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(url) DO UPDATE SET cursor = excluded.cursor,
           last_sync_at = excluded.last_sync_at, remaining = excluded.remaining",
    )?
    .execute(params![
        url,
        position.cursor,
        position.last_sync_at_ms,
        position.remaining.map(|n| n as i64)
    ])?;
    Ok(())
}
