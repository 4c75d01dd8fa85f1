//! The driving logbook: one vehicle's trips of one month of the fleet's time zone, with
//! where from and to (the owner's place names, else coordinates), the odometer at both ends
//! where known, the distance, purpose and note, and totals per purpose.

use std::io::Write;

use rusqlite::Connection;

use super::StoreError;
use super::export::formula_safe;
use super::sessions::Place;
use super::trips::{Purpose, TaggedTrip, vehicle_trips_since};

/// The logbook's CSV header.
pub const COLUMNS: [&str; 10] = [
    "date",
    "start_time",
    "end_time",
    "from",
    "to",
    "start_odometer_km",
    "end_odometer_km",
    "distance_km",
    "purpose",
    "note",
];

/// One line of the logbook, as printed.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// Local date of the start.
    pub date: String,
    /// Local start and end times (`HH:MM`; the end empty while ongoing).
    pub times: (String, String),
    /// Where from and to.
    pub from_to: (String, String),
    /// The odometer at both ends, where known.
    pub odometer: (Option<f64>, Option<f64>),
    /// Kilometres.
    pub km: f64,
    /// Purpose, when tagged.
    pub purpose: Option<Purpose>,
    /// Note.
    pub note: String,
}

/// A vehicle's month.
#[derive(Debug, Clone, PartialEq)]
pub struct Logbook {
    /// The vehicle's display name.
    pub vehicle: String,
    /// `YYYY-MM`.
    pub month: String,
    /// The trips, oldest first.
    pub lines: Vec<Line>,
    /// Kilometres per purpose (business, private, commute, untagged) and in all.
    pub totals: Totals,
}

/// Kilometres per purpose.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Totals {
    /// Business.
    pub business: f64,
    /// Private.
    pub private: f64,
    /// Commute.
    pub commute: f64,
    /// Not tagged yet.
    pub untagged: f64,
}

impl Totals {
    /// All of them.
    pub fn all(&self) -> f64 {
        self.business + self.private + self.commute + self.untagged
    }
}

fn place_or_coordinates(places: &[Place], position: (f64, f64)) -> String {
    super::trips::place_name(places, position).map_or_else(
        || format!("{:.5}, {:.5}", position.0, position.1),
        str::to_owned,
    )
}

/// The logbook of `vehicle_id` for `month` (`YYYY-MM` in the fleet's time zone); `None`
/// when the vehicle is not known.
pub fn logbook(
    conn: &Connection,
    vehicle_id: &str,
    month: &str,
) -> Result<Result<Logbook, String>, StoreError> {
    let zone = super::owner::fleet_zone(conn)?;
    let (start, end) = match zone.month_bounds(month) {
        Ok(bounds) => bounds,
        Err(problem) => return Ok(Err(problem)),
    };
    let filter = super::ExportFilter {
        vehicle_ids: vec![vehicle_id.to_owned()],
        ..Default::default()
    };
    let name = super::sessions::vehicles(conn, &filter)?
        .into_iter()
        .next()
        .map(|(_, name, _)| name);
    let Some(vehicle) = name else {
        return Ok(Err(format!(
            "no vehicle {vehicle_id} in this database: `fleetdash settings` lists the vehicles it knows"
        )));
    };
    let places = super::trips::places_and_homes(conn)?;
    let trips: Vec<TaggedTrip> = vehicle_trips_since(conn, vehicle_id, Some(start))?
        .into_iter()
        .filter(|t| (start..end).contains(&t.trip.started_at_ms))
        .collect();
    let mut totals = Totals::default();
    let lines = trips
        .into_iter()
        .map(|tagged| {
            let t = &tagged.trip;
            let km = t.distance().0;
            *match tagged.purpose {
                Some(Purpose::Business) => &mut totals.business,
                Some(Purpose::Private) => &mut totals.private,
                Some(Purpose::Commute) => &mut totals.commute,
                None => &mut totals.untagged,
            } += km;
            let (date, start_time) = zone.local_date_and_time(t.started_at_ms);
            let end_time = t
                .ended_at_ms
                .map(|e| zone.local_date_and_time(e).1)
                .unwrap_or_default();
            Line {
                date,
                times: (start_time, end_time),
                from_to: (
                    place_or_coordinates(&places, t.start),
                    place_or_coordinates(&places, t.end),
                ),
                odometer: (t.start_odometer_km, t.end_odometer_km),
                km,
                purpose: tagged.purpose,
                note: tagged.note.clone().unwrap_or_default(),
            }
        })
        .collect();
    Ok(Ok(Logbook {
        vehicle,
        month: month.trim().to_owned(),
        lines,
        totals,
    }))
}

/// Writes the logbook as CSV: one row per trip, no total rows.
pub fn write_csv(logbook: &Logbook, out: impl Write) -> Result<(), StoreError> {
    let mut csv = csv::Writer::from_writer(out);
    csv.write_record(COLUMNS)?;
    let km = |v: Option<f64>| v.map(|v| format!("{v:.1}")).unwrap_or_default();
    for line in &logbook.lines {
        csv.write_record([
            line.date.clone(),
            line.times.0.clone(),
            line.times.1.clone(),
            formula_safe(&line.from_to.0).into_owned(),
            formula_safe(&line.from_to.1).into_owned(),
            km(line.odometer.0),
            km(line.odometer.1),
            format!("{:.2}", line.km),
            line.purpose
                .map(Purpose::as_str)
                .unwrap_or_default()
                .to_owned(),
            formula_safe(&line.note).into_owned(),
        ])?;
    }
    csv.flush()?;
    Ok(())
}

/// The logbook as a printable table: the fleet's name over the vehicle and month, one line
/// per trip, the kilometres per purpose and in all, when it was made.
pub fn table(logbook: &Logbook, fleet_name: Option<&str>, made_at: &str) -> crate::report::Table {
    use crate::report::Column;
    let column = |heading, width, right| Column {
        heading,
        width,
        right,
    };
    let km = |v: Option<f64>| v.map(|v| format!("{v:.1}")).unwrap_or_default();
    let t = &logbook.totals;
    crate::report::Table {
        title: format!("Driving logbook {}", logbook.month),
        subtitle: vec![
            fleet_name.unwrap_or("fleetdash").to_owned(),
            format!("Vehicle: {}", logbook.vehicle),
        ],
        columns: vec![
            column("Date", 60.0, false),
            column("Start", 36.0, false),
            column("End", 36.0, false),
            column("From", 140.0, false),
            column("To", 140.0, false),
            column("Odo. start", 66.0, true),
            column("Odo. end", 62.0, true),
            column("km", 46.0, true),
            column("Purpose", 56.0, false),
            column("Note", 120.0, false),
        ],
        rows: logbook
            .lines
            .iter()
            .map(|l| {
                vec![
                    l.date.clone(),
                    l.times.0.clone(),
                    l.times.1.clone(),
                    l.from_to.0.clone(),
                    l.from_to.1.clone(),
                    km(l.odometer.0),
                    km(l.odometer.1),
                    format!("{:.1}", l.km),
                    l.purpose.map(Purpose::as_str).unwrap_or("–").to_owned(),
                    l.note.clone(),
                ]
            })
            .collect(),
        totals: vec![
            format!("Business: {:.1} km", t.business),
            format!("Private: {:.1} km", t.private),
            format!("Commute: {:.1} km", t.commute),
            format!("Not tagged: {:.1} km", t.untagged),
            format!("Total: {:.1} km in {} trips", t.all(), logbook.lines.len()),
        ],
        closing: vec![format!("Made by fleetdash on {made_at}.")],
    }
}
