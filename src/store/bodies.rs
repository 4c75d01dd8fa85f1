//! The archive's bodies: how a delivery's raw bytes are kept (zstd with a dictionary) and
//! read back byte for byte. Every write and read of `deliveries.body` goes through here,
//! so no path can hand out compressed bytes or forget which dictionary a row needs.
//!
//! `deliveries.body_codec` says how `body` is stored: NULL for a row written before
//! compression existed (raw, and not yet visited by the compaction in [`super::upkeep`]),
//! 0 for raw bytes kept raw on purpose (compression would not have made them smaller), and
//! a positive id for a zstd frame made with that row of `zstd_dictionaries`. Dictionaries
//! are never deleted, so every row stays readable forever.

use std::cell::RefCell;
use std::collections::HashMap;

use rusqlite::types::Type;
use rusqlite::{Connection, OptionalExtension, Row, params};
use sha2::{Digest, Sha256};

/// The dictionary every database starts with, trained on simulated v2 and v4 deliveries.
/// Regenerate it with `cargo run --example builtin_dict` (see that file); a new one is
/// stored next to the old one, so rows compressed with the old one stay readable.
pub const BUILTIN_DICTIONARY: &[u8] = include_bytes!("../../assets/zstd/builtin.dict");

/// zstd's default level: with a dictionary, higher levels save a few bytes per delivery
/// and cost several times the CPU on the ingest path.
const LEVEL: i32 = 3;

/// The largest body a stored frame may claim to hold. The server admits 1 MiB; this only
/// bounds what a corrupt frame can make us allocate.
const MAX_BODY_BYTES: usize = 64 << 20;

/// A body as it is written to the archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// What goes in `deliveries.body`.
    pub bytes: Vec<u8>,
    /// What goes in `deliveries.body_codec`: 0 for raw, else the dictionary's id.
    pub codec: i64,
}

/// A dictionary of `zstd_dictionaries`, by its id and its content's SHA-256 (the key of
/// the per-thread caches, which outlive connections and may see several databases).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct DictRef {
    id: i64,
    sha256: [u8; 32],
}

thread_local! {
    /// The compressor for the dictionary in use, loaded once per thread: zstd digests a
    /// dictionary into its tables on first use and keeps them for every later frame.
    static COMPRESSOR: RefCell<Option<([u8; 32], zstd::bulk::Compressor<'static>)>> =
        const { RefCell::new(None) };
    /// Decompressors by dictionary, for the same reason.
    static DECOMPRESSORS: RefCell<HashMap<[u8; 32], zstd::bulk::Decompressor<'static>>> =
        RefCell::new(HashMap::new());
}

/// Stores the built-in dictionary in the database if it is not there yet, so that rows
/// compressed with it stay readable by any later build, whatever dictionary that ships.
pub fn ensure_builtin(conn: &Connection) -> rusqlite::Result<()> {
    let sha = sha256(BUILTIN_DICTIONARY);
    let known: Option<i64> = conn
        .prepare_cached("SELECT id FROM zstd_dictionaries WHERE sha256 = ?1")?
        .query_row([&sha[..]], |r| r.get(0))
        .optional()?;
    if known.is_none() {
        insert_dictionary(conn, BUILTIN_DICTIONARY, "builtin", None)?;
    }
    Ok(())
}

/// Stores a dictionary (`source`: `builtin` or `trained`) and returns its id.
pub fn insert_dictionary(
    conn: &Connection,
    dict: &[u8],
    source: &str,
    samples: Option<usize>,
) -> rusqlite::Result<i64> {
    conn.prepare_cached(
        "INSERT INTO zstd_dictionaries(sha256, source, created_at, samples, dict)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT(sha256) DO NOTHING",
    )?
    .execute(params![
        &sha256(dict)[..],
        source,
        crate::domain::time::now_ms(),
        samples.map(|n| n as i64),
        dict
    ])?;
    conn.prepare_cached("SELECT id FROM zstd_dictionaries WHERE sha256 = ?1")?
        .query_row([&sha256(dict)[..]], |r| r.get(0))
}

/// The dictionary new bodies use: the newest trained on this fleet's own deliveries, else
/// the newest built-in one.
fn current_dictionary(conn: &Connection) -> rusqlite::Result<Option<DictRef>> {
    conn.prepare_cached(
        "SELECT id, sha256 FROM zstd_dictionaries
         ORDER BY source = 'trained' DESC, id DESC LIMIT 1",
    )?
    .query_row([], dict_ref)
    .optional()
}

fn dict_ref(row: &Row<'_>) -> rusqlite::Result<DictRef> {
    let sha: Vec<u8> = row.get(1)?;
    Ok(DictRef {
        id: row.get(0)?,
        sha256: sha
            .try_into()
            .map_err(|_| corrupt(1, "a dictionary's hash is not 32 bytes"))?,
    })
}

/// Compresses `body` for the archive with the current dictionary. Keeps it raw when that
/// would not make it smaller, or when there is no dictionary or zstd fails: the archive
/// must take every delivery, and a raw row is always readable.
pub fn encode(conn: &Connection, body: &[u8]) -> rusqlite::Result<Stored> {
    let raw = || Stored {
        bytes: body.to_vec(),
        codec: 0,
    };
    let Some(dict) = current_dictionary(conn)? else {
        return Ok(raw());
    };
    let compressed = COMPRESSOR.with_borrow_mut(|slot| -> rusqlite::Result<Option<Vec<u8>>> {
        if slot.as_ref().is_none_or(|(sha, _)| *sha != dict.sha256) {
            let bytes = dictionary_bytes(conn, dict.id)?;
            *slot = new_compressor(&bytes).ok().map(|c| (dict.sha256, c));
        }
        Ok(slot.as_mut().and_then(|(_, c)| c.compress(body).ok()))
    })?;
    Ok(match compressed {
        Some(bytes) if bytes.len() < body.len() => Stored {
            bytes,
            codec: dict.id,
        },
        _ => raw(),
    })
}

fn new_compressor(dict: &[u8]) -> std::io::Result<zstd::bulk::Compressor<'static>> {
    let mut compressor = zstd::bulk::Compressor::with_dictionary(LEVEL, dict)?;
    // The row names its dictionary, so the frame need not; the checksum makes a damaged
    // row fail loudly instead of handing out wrong bytes.
    compressor.set_parameter(zstd::zstd_safe::CParameter::DictIdFlag(false))?;
    compressor.set_parameter(zstd::zstd_safe::CParameter::ChecksumFlag(true))?;
    Ok(compressor)
}

/// The raw body from what `deliveries.body` and `deliveries.body_codec` hold.
pub fn decode(conn: &Connection, stored: Vec<u8>, codec: Option<i64>) -> rusqlite::Result<Vec<u8>> {
    let id = match codec {
        None | Some(0) => return Ok(stored),
        Some(id) => id,
    };
    let dict = conn
        .prepare_cached("SELECT id, sha256 FROM zstd_dictionaries WHERE id = ?1")?
        .query_row([id], dict_ref)
        .optional()?
        .ok_or_else(|| {
            corrupt(
                0,
                &format!("a body needs dictionary {id}, which is missing"),
            )
        })?;
    DECOMPRESSORS.with_borrow_mut(|cache| {
        let decompressor = match cache.entry(dict.sha256) {
            std::collections::hash_map::Entry::Occupied(entry) => entry.into_mut(),
            std::collections::hash_map::Entry::Vacant(entry) => {
                let bytes = dictionary_bytes(conn, dict.id)?;
                entry.insert(
                    zstd::bulk::Decompressor::with_dictionary(&bytes)
                        .map_err(|e| corrupt(0, &format!("dictionary {id} is unusable: {e}")))?,
                )
            }
        };
        decompressor
            .decompress(&stored, MAX_BODY_BYTES)
            .map_err(|e| corrupt(0, &format!("a body does not decompress: {e}")))
    })
}

/// The raw body in columns `index` (`body`) and `index + 1` (`body_codec`) of `row`;
/// `None` when the row keeps no body (a duplicate).
pub fn from_row(
    conn: &Connection,
    row: &Row<'_>,
    index: usize,
) -> rusqlite::Result<Option<Vec<u8>>> {
    let stored: Option<Vec<u8>> = row.get(index)?;
    let codec: Option<i64> = row.get(index + 1)?;
    stored.map(|s| decode(conn, s, codec)).transpose()
}

/// Delivery `id`'s raw body (`None` for a duplicate); an error when there is no such row.
pub fn read(conn: &Connection, id: i64) -> rusqlite::Result<Option<Vec<u8>>> {
    let (stored, codec): (Option<Vec<u8>>, Option<i64>) = conn
        .prepare_cached("SELECT body, body_codec FROM deliveries WHERE id = ?1")?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))?;
    stored.map(|s| decode(conn, s, codec)).transpose()
}

fn dictionary_bytes(conn: &Connection, id: i64) -> rusqlite::Result<Vec<u8>> {
    conn.prepare_cached("SELECT dict FROM zstd_dictionaries WHERE id = ?1")?
        .query_row([id], |r| r.get(0))
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// A stored body or dictionary that cannot be read: reported as a conversion failure, so
/// it travels through every `rusqlite::Result` path as an error, never a panic.
fn corrupt(column: usize, why: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(column, Type::Blob, why.to_owned().into())
}
