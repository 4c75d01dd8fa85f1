//! Trips from the readings, with the owner's purposes and notes.
//!
//! Trips are derived (materialised by [`super::derived`] as readings arrive, so late data
//! and `reprocess` move their ends); purposes and notes are owner data in `trip_tags`, each
//! anchored at an instant inside its trip, so a tag stays on its trip when late data
//! moves the trip's ends. Every change is kept in `trip_tag_changes`.

use std::io::Write;

use rusqlite::{Connection, params};

use super::export::{formula_safe, number_cell};
use super::sessions::{Place, places};
use super::{ExportFilter, StoreError};
use crate::domain::geo::distance_m;
use crate::domain::time::{format_ms, now_ms};
use crate::domain::trips::Trip;

/// Why a trip is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Purpose {
    /// Work.
    Business,
    /// Not work.
    Private,
    /// Between home and the usual workplace.
    Commute,
}

impl Purpose {
    /// The spelling in the database and the CSV.
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Business => "business",
            Purpose::Private => "private",
            Purpose::Commute => "commute",
        }
    }

    /// Reads the spelling back.
    pub fn parse(text: &str) -> Option<Purpose> {
        match text {
            "business" => Some(Purpose::Business),
            "private" => Some(Purpose::Private),
            "commute" => Some(Purpose::Commute),
            _ => None,
        }
    }
}

/// A trip with what the owner said about it.
#[derive(Debug, Clone, PartialEq)]
pub struct TaggedTrip {
    /// The trip as detected.
    pub trip: Trip,
    /// Its purpose, when tagged.
    pub purpose: Option<Purpose>,
    /// Its note, when given.
    pub note: Option<String>,
}

/// One vehicle's trips, oldest first, with their tags.
pub fn vehicle_trips(conn: &Connection, vehicle_id: &str) -> Result<Vec<TaggedTrip>, StoreError> {
    vehicle_trips_since(conn, vehicle_id, None)
}

/// [`vehicle_trips`] starting at or after `since_ms`.
pub fn vehicle_trips_since(
    conn: &Connection,
    vehicle_id: &str,
    since_ms: Option<i64>,
) -> Result<Vec<TaggedTrip>, StoreError> {
    let trips = super::derived::trips(conn, vehicle_id, since_ms)?;
    let tags = tags(conn, vehicle_id)?;
    Ok(trips
        .into_iter()
        .map(|trip| {
            // The tag anchored inside the trip (the latest change if late data merged two).
            let tag = tags
                .iter()
                .filter(|t| trip.contains(t.at_ms))
                .max_by_key(|t| t.changed_at_ms);
            TaggedTrip {
                purpose: tag.and_then(|t| t.purpose),
                note: tag.and_then(|t| t.note.clone()),
                trip,
            }
        })
        .collect())
}

#[derive(Debug)]
struct Tag {
    at_ms: i64,
    purpose: Option<Purpose>,
    note: Option<String>,
    changed_at_ms: i64,
}

fn tags(conn: &Connection, vehicle_id: &str) -> Result<Vec<Tag>, StoreError> {
    let mut statement = conn.prepare_cached(
        "SELECT at_ms, purpose, note, changed_at FROM trip_tags WHERE vehicle_id = ?1",
    )?;
    let tags = statement
        .query_map([vehicle_id], |r| {
            Ok(Tag {
                at_ms: r.get(0)?,
                purpose: r
                    .get::<_, Option<String>>(1)?
                    .and_then(|p| Purpose::parse(&p)),
                note: r.get(2)?,
                changed_at_ms: r.get(3)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(tags)
}

/// Why a tag was refused, in words for the owner.
#[derive(Debug, thiserror::Error)]
pub enum TagError {
    /// No trip contains the instant.
    #[error("{0}")]
    NoTrip(String),
    /// The database refused.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<rusqlite::Error> for TagError {
    fn from(error: rusqlite::Error) -> Self {
        TagError::Store(error.into())
    }
}

/// Sets the purpose (and the note, when given) of the trip containing `at_ms`; keeps the
/// change. Returns the trip tagged.
pub fn tag(
    conn: &mut Connection,
    vehicle_id: &str,
    at_ms: i64,
    purpose: Option<Purpose>,
    note: Option<&str>,
) -> Result<Trip, TagError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let trip = tag_in(&tx, vehicle_id, at_ms, purpose, note)?;
    tx.commit()?;
    Ok(trip)
}

/// [`tag`] inside the caller's transaction (the owner-writes channel's).
pub fn tag_in(
    tx: &Connection,
    vehicle_id: &str,
    at_ms: i64,
    purpose: Option<Purpose>,
    note: Option<&str>,
) -> Result<Trip, TagError> {
    let trips = vehicle_trips(tx, vehicle_id)?;
    let Some(found) = trips.iter().find(|t| t.trip.contains(at_ms)) else {
        return Err(TagError::NoTrip(no_trip_message(vehicle_id, at_ms, &trips)));
    };
    let trip = &found.trip;
    // Keep the anchor of a tag already on this trip; a new one sits in its middle, where
    // late data moving either end leaves it inside.
    let existing = tags(tx, vehicle_id)?
        .into_iter()
        .filter(|t| trip.contains(t.at_ms))
        .max_by_key(|t| t.changed_at_ms);
    let anchor = existing.as_ref().map_or_else(
        || (trip.started_at_ms + trip.ended_at_ms.unwrap_or(trip.last_seen_ms)) / 2,
        |t| t.at_ms,
    );
    let old_purpose = existing.as_ref().and_then(|t| t.purpose);
    let old_note = existing.as_ref().and_then(|t| t.note.clone());
    let new_note = match note {
        Some(n) => Some(n.trim().to_owned()).filter(|n| !n.is_empty()),
        None => old_note.clone(),
    };
    let changed_at = now_ms();
    tx.execute(
        "INSERT INTO trip_tags(vehicle_id, at_ms, purpose, note, changed_at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT(vehicle_id, at_ms) DO UPDATE SET
           purpose = excluded.purpose, note = excluded.note, changed_at = excluded.changed_at",
        params![vehicle_id, anchor, purpose.map(Purpose::as_str), new_note, changed_at],
    )?;
    if old_purpose != purpose || old_note != new_note {
        tx.execute(
            "INSERT INTO trip_tag_changes(vehicle_id, at_ms, changed_at, old_purpose, new_purpose, old_note, new_note)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                vehicle_id,
                anchor,
                changed_at,
                old_purpose.map(Purpose::as_str),
                purpose.map(Purpose::as_str),
                old_note,
                new_note
            ],
        )?;
    }
    Ok(trip.clone())
}

/// Sets a purpose anchored at `at_ms` before the trip around it is known (demo mode seeds
/// the simulation's drives this way, ahead of their deliveries).
pub fn seed_tag(
    conn: &Connection,
    vehicle_id: &str,
    at_ms: i64,
    purpose: Purpose,
) -> Result<(), StoreError> {
    conn.execute(
        "INSERT OR REPLACE INTO trip_tags(vehicle_id, at_ms, purpose, note, changed_at)
         VALUES (?1, ?2, ?3, NULL, ?4)",
        params![vehicle_id, at_ms, purpose.as_str(), now_ms()],
    )?;
    Ok(())
}

fn no_trip_message(vehicle_id: &str, at_ms: i64, trips: &[TaggedTrip]) -> String {
    let span = |t: &Trip| {
        format!(
            "{} to {}",
            format_ms(t.started_at_ms),
            t.ended_at_ms.map_or("now".into(), format_ms)
        )
    };
    let before = trips.iter().rev().find(|t| t.trip.started_at_ms < at_ms);
    let after = trips.iter().find(|t| t.trip.started_at_ms > at_ms);
    let mut message = format!("vehicle {vehicle_id} made no trip at {}", format_ms(at_ms));
    match (before, after) {
        (None, None) => message.push_str(": it has no trip at all yet"),
        (before, after) => {
            message.push_str("; the nearest trips are ");
            let near: Vec<String> = [before, after]
                .into_iter()
                .flatten()
                .map(|t| span(&t.trip))
                .collect();
            message.push_str(&near.join(" and "));
            message.push_str(" (give --at a time inside one)");
        }
    }
    message
}

/// One change of a trip's purpose or note.
#[derive(Debug, Clone, PartialEq)]
pub struct TagChange {
    /// When it was made, ms.
    pub changed_at_ms: i64,
    /// The instant its tag is anchored at (inside the trip).
    pub at_ms: i64,
    /// Purpose before and after.
    pub purpose: (Option<String>, Option<String>),
    /// Note before and after.
    pub note: (Option<String>, Option<String>),
}

/// Every change of a vehicle's trip tags, oldest first.
pub fn history(conn: &Connection, vehicle_id: &str) -> Result<Vec<TagChange>, StoreError> {
    let mut statement = conn.prepare(
        "SELECT changed_at, at_ms, old_purpose, new_purpose, old_note, new_note
         FROM trip_tag_changes WHERE vehicle_id = ?1 ORDER BY changed_at, id",
    )?;
    let changes = statement
        .query_map([vehicle_id], |r| {
            Ok(TagChange {
                changed_at_ms: r.get(0)?,
                at_ms: r.get(1)?,
                purpose: (r.get(2)?, r.get(3)?),
                note: (r.get(4)?, r.get(5)?),
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(changes)
}

/// The owner's places and the drivers' homes (named `Home of NAME`), for naming where a
/// trip starts and ends.
pub(super) fn places_and_homes(conn: &Connection) -> Result<Vec<Place>, StoreError> {
    let mut all = places(conn)?;
    for driver in super::drivers::drivers(conn)? {
        if let Some(home) = driver.home {
            all.push(Place {
                name: format!("Home of {}", driver.name),
                latitude: home.latitude,
                longitude: home.longitude,
                radius_m: home.radius_m,
                price_per_kwh: None,
                off_peak: None,
            });
        }
    }
    Ok(all)
}

/// The name of the owner's place nearest `position` within its radius.
pub(super) fn place_name(places: &[Place], position: (f64, f64)) -> Option<&str> {
    places
        .iter()
        .map(|p| (distance_m(position, (p.latitude, p.longitude)), p))
        .filter(|(d, p)| *d <= p.radius_m)
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, p)| p.name.as_str())
}

/// Writes the `trips` export rows (the header is the caller's); returns the row count.
/// Trips are selected by when they started.
pub(super) fn write_trips<W: Write>(
    conn: &Connection,
    filter: &ExportFilter,
    csv: &mut csv::Writer<W>,
) -> Result<u64, StoreError> {
    let places = places_and_homes(conn)?;
    let assignments = super::drivers::assignments(conn)?;
    let mut count = 0;
    for (id, name, capacity) in super::sessions::vehicles(conn, filter)? {
        for tagged in vehicle_trips_since(conn, &id, filter.since_ms)? {
            let t = &tagged.trip;
            if filter.since_ms.is_some_and(|s| t.started_at_ms < s)
                || filter.until_ms.is_some_and(|u| t.started_at_ms > u)
            {
                continue;
            }
            let (km, source) = t.distance();
            let energy = capacity.and_then(|c| t.energy_kwh(c));
            let per_100 = energy.filter(|_| km > 0.0).map(|e| e / km * 100.0);
            // At least two decimals, as the contract asks of distances and energies.
            let two = |v: f64| {
                if v.is_finite() {
                    format!("{v:.2}")
                } else {
                    String::new()
                }
            };
            let cell = |v: Option<f64>, d: i32| {
                v.map(|v| number_cell((v * 10f64.powi(d)).round() / 10f64.powi(d)))
                    .unwrap_or_default()
            };
            csv.write_record([
                formula_safe(&id).into_owned(),
                formula_safe(&name).into_owned(),
                formula_safe(
                    super::drivers::driver_at(&assignments, &id, t.started_at_ms)
                        .unwrap_or_default(),
                )
                .into_owned(),
                format_ms(t.started_at_ms),
                t.ended_at_ms.map(format_ms).unwrap_or_default(),
                number_cell((t.duration_min() * 10.0).round() / 10.0),
                two(km),
                source.as_str().to_owned(),
                cell(Some(t.start.0), 6),
                cell(Some(t.start.1), 6),
                cell(Some(t.end.0), 6),
                cell(Some(t.end.1), 6),
                formula_safe(place_name(&places, t.start).unwrap_or_default()).into_owned(),
                formula_safe(place_name(&places, t.end).unwrap_or_default()).into_owned(),
                cell(t.start_percent, 1),
                cell(t.end_percent, 1),
                energy.map(two).unwrap_or_default(),
                per_100.map(two).unwrap_or_default(),
                tagged
                    .purpose
                    .map(Purpose::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                formula_safe(tagged.note.as_deref().unwrap_or_default()).into_owned(),
                if t.is_ongoing() {
                    "ongoing"
                } else {
                    "complete"
                }
                .to_owned(),
            ])?;
            count += 1;
        }
    }
    Ok(count)
}
