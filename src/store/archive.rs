//! The archive as a relay's sync API serves it, and where a desktop's sync left off.

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

/// The deliveries with a body to derive from (verify notes and duplicates carry nothing
/// new) after `after`, at most `limit` of them and about `max_bytes` of bodies (at least
/// one, whatever its size).
pub fn page_after(
    conn: &Connection,
    after: i64,
    limit: usize,
    max_bytes: usize,
) -> Result<ArchivePage, StoreError> {
    let mut statement = conn.prepare_cached(
        "SELECT id, received_at, body FROM deliveries
         WHERE id > ?1 AND outcome IN ('parsed', 'quarantined') AND body IS NOT NULL
         ORDER BY id LIMIT ?2",
    )?;
    let mut rows = statement.query(params![after, limit as i64])?;
    let mut page = ArchivePage::default();
    let mut bytes = 0;
    while let Some(row) = rows.next()? {
        let body: Vec<u8> = row.get(2)?;
        if !page.deliveries.is_empty() && bytes + body.len() > max_bytes {
            break;
        }
        bytes += body.len();
        page.deliveries.push(Archived {
            id: row.get(0)?,
            received_at_ms: row.get(1)?,
            body,
        });
    }
    let last = page.deliveries.last().map_or(after, |d| d.id);
    page.remaining = conn
        .prepare_cached(
            "SELECT count(*) FROM deliveries
             WHERE id > ?1 AND outcome IN ('parsed', 'quarantined')",
        )?
        .query_row([last], |r| r.get::<_, i64>(0))?
        .max(0) as u64;
    page.newest = conn
        .prepare_cached(
            "SELECT coalesce(max(id), 0) FROM deliveries
             WHERE outcome IN ('parsed', 'quarantined')",
        )?
        .query_row([], |r| r.get(0))?;
    Ok(page)
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
