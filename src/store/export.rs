//! CSV exports, streamed row by row from the database (never a whole table in memory).
//!
//! Every CSV fleetdash writes goes through [`formula_safe`] for its text cells and
//! [`number_cell`] for its numbers, so a spreadsheet never runs a cell as a formula and
//! never sees `inf` or `NaN`.

use std::borrow::Cow;
use std::io::Write;

use rusqlite::{Connection, ToSql, types::Value as SqlValue};

use super::StoreError;
use crate::domain::time::format_ms;

/// What to export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportKind {
    /// Battery percent and range.
    Battery,
    /// Plug and charging state.
    Charge,
    /// GPS positions.
    Locations,
    /// Charging sessions, detected from the readings.
    Sessions,
    /// Errors Smartcar reported for vehicles.
    Errors,
    /// Per UTC day and vehicle (plus the fleet): sessions, energy, cost, hours plugged in
    /// and charging, last seen.
    Daily,
    /// The same per UTC month.
    Monthly,
    /// Trips, detected from the readings, with the owner's purposes and notes.
    Trips,
    /// Home charging sessions of each driver, priced at their rates.
    Reimbursement,
}

impl ExportKind {
    /// The header row.
    pub fn columns(self) -> &'static [&'static str] {
        match self {
            ExportKind::Battery => &[
                "vehicle_id",
                "vehicle_name",
                "recorded_at",
                "battery_percent",
                "range_km",
                "source",
            ],
            ExportKind::Charge => &[
                "vehicle_id",
                "vehicle_name",
                "recorded_at",
                "plugged_in",
                "charging_state",
                "source",
            ],
            ExportKind::Locations => &[
                "vehicle_id",
                "vehicle_name",
                "recorded_at",
                "latitude",
                "longitude",
                "source",
            ],
            ExportKind::Sessions => &[
                "vehicle_id",
                "vehicle_name",
                "started_at",
                "ended_at",
                "duration_min",
                "start_percent",
                "end_percent",
                "energy_added_kwh",
                "latitude",
                "longitude",
                "cost",
                "status",
            ],
            ExportKind::Daily | ExportKind::Monthly => &[
                "period",
                "vehicle_id",
                "vehicle_name",
                "sessions",
                "energy_added_kwh",
                "cost",
                "plugged_hours",
                "charging_hours",
                "last_seen",
                "distance_km",
                "energy_used_kwh",
                "kwh_per_100km",
            ],
            ExportKind::Trips => &[
                "vehicle_id",
                "vehicle_name",
                "driver",
                "started_at",
                "ended_at",
                "duration_min",
                "distance_km",
                "distance_source",
                "start_latitude",
                "start_longitude",
                "end_latitude",
                "end_longitude",
                "start_place",
                "end_place",
                "start_percent",
                "end_percent",
                "energy_used_kwh",
                "kwh_per_100km",
                "purpose",
                "note",
                "status",
            ],
            ExportKind::Reimbursement => &super::reimbursement::COLUMNS,
            ExportKind::Errors => &[
                "vehicle_id",
                "vehicle_name",
                "recorded_at",
                "source_path",
                "error_type",
                "error_code",
                "description",
                "resolution_url",
            ],
        }
    }

    /// The table and the value columns after `vehicle_id, vehicle_name, recorded_at`.
    fn source(self) -> Option<(&'static str, &'static [&'static str])> {
        match self {
            ExportKind::Battery => Some(("battery_readings", &["percent", "range_km", "r.source"])),
            ExportKind::Charge => Some((
                "charge_readings",
                &[
                    "CASE plugged_in WHEN 1 THEN 'true' WHEN 0 THEN 'false' END",
                    "charging_state",
                    "r.source",
                ],
            )),
            ExportKind::Locations => Some(("locations", &["latitude", "longitude", "r.source"])),
            ExportKind::Errors => Some((
                "vehicle_errors",
                &[
                    "source_path",
                    "error_type",
                    "error_code",
                    "description",
                    "resolution_url",
                ],
            )),
            ExportKind::Sessions
            | ExportKind::Daily
            | ExportKind::Monthly
            | ExportKind::Trips
            | ExportKind::Reimbursement => None,
        }
    }
}

/// Which rows to export.
#[derive(Debug, Clone, Default)]
pub struct ExportFilter {
    /// Only these vehicles (all when empty).
    pub vehicle_ids: Vec<String>,
    /// Only rows recorded at or after this (ms since the epoch).
    pub since_ms: Option<i64>,
    /// Only rows recorded at or before this (ms since the epoch).
    pub until_ms: Option<i64>,
    /// Only this driver's rows (reimbursement).
    pub driver: Option<String>,
}

/// Writes the CSV for `kind` to `out`, row by row; returns the number of data rows.
pub fn export_csv(
    conn: &Connection,
    kind: ExportKind,
    filter: &ExportFilter,
    out: impl Write,
) -> Result<u64, StoreError> {
    let mut csv = csv::Writer::from_writer(out);
    csv.write_record(kind.columns())?;
    let Some((table, values)) = kind.source() else {
        let rows = match kind {
            ExportKind::Daily => super::sessions::write_summary(conn, filter, false, &mut csv)?,
            ExportKind::Monthly => super::sessions::write_summary(conn, filter, true, &mut csv)?,
            ExportKind::Trips => super::trips::write_trips(conn, filter, &mut csv)?,
            ExportKind::Reimbursement => {
                super::reimbursement::write_reimbursement(conn, filter, &mut csv)?
            }
            _ => super::sessions::write_sessions(conn, filter, &mut csv)?,
        };
        csv.flush()?;
        return Ok(rows);
    };
    let (where_clause, args) = where_clause(filter);
    let sql = format!(
        "SELECT r.vehicle_id,
                coalesce(v.name, trim(coalesce(v.make, '') || ' ' || coalesce(v.model, '') || ' ' || coalesce(v.year, ''))),
                r.recorded_at, {}
         FROM {table} r LEFT JOIN vehicles v ON v.id = r.vehicle_id
         {where_clause}
         ORDER BY r.vehicle_id, r.recorded_at",
        values.join(", ")
    );
    let mut statement = conn.prepare(&sql)?;
    let params: Vec<&dyn ToSql> = args.iter().map(|a| a as &dyn ToSql).collect();
    let mut rows = statement.query(params.as_slice())?;
    let width = 3 + values.len();
    let mut record = csv::StringRecord::with_capacity(256, width);
    let mut count = 0;
    while let Some(row) = rows.next()? {
        record.clear();
        for i in 0..width {
            let cell = if i == 2 {
                format_ms(row.get(i)?)
            } else {
                cell_text(row.get_ref(i)?)
            };
            record.push_field(&cell);
        }
        csv.write_record(&record)?;
        count += 1;
    }
    csv.flush()?;
    Ok(count)
}

/// The `WHERE` clause (on alias `r`) and its arguments for `filter`.
fn where_clause(filter: &ExportFilter) -> (String, Vec<SqlValue>) {
    let mut conditions = Vec::new();
    let mut args: Vec<SqlValue> = Vec::new();
    if !filter.vehicle_ids.is_empty() {
        let marks = vec!["?"; filter.vehicle_ids.len()].join(", ");
        conditions.push(format!("r.vehicle_id IN ({marks})"));
        args.extend(filter.vehicle_ids.iter().cloned().map(SqlValue::Text));
    }
    if let Some(since) = filter.since_ms {
        conditions.push("r.recorded_at >= ?".into());
        args.push(SqlValue::Integer(since));
    }
    if let Some(until) = filter.until_ms {
        conditions.push("r.recorded_at <= ?".into());
        args.push(SqlValue::Integer(until));
    }
    let where_clause = if conditions.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conditions.join(" AND "))
    };
    (where_clause, args)
}

/// How many data rows an export of `kind` would write, when that is cheap to know (the
/// reading kinds); `None` for the kinds computed on the way (sessions, summaries).
pub fn count_rows(
    conn: &Connection,
    kind: ExportKind,
    filter: &ExportFilter,
) -> Result<Option<u64>, StoreError> {
    let Some((table, _)) = kind.source() else {
        return Ok(None);
    };
    let (where_clause, args) = where_clause(filter);
    let sql = format!("SELECT count(*) FROM {table} r {where_clause}");
    let params: Vec<&dyn ToSql> = args.iter().map(|a| a as &dyn ToSql).collect();
    let count: i64 = conn.query_row(&sql, params.as_slice(), |r| r.get(0))?;
    Ok(Some(count.max(0) as u64))
}

/// A text cell as written to CSV: one that a spreadsheet would read as a formula (it
/// begins with `=`, `+`, `-`, `@`, a tab or a carriage return) gets a leading `'`, which
/// makes the spreadsheet show it as text. Only for text: numbers go through
/// [`number_cell`], so a longitude of `-122.1` stays a number.
pub fn formula_safe(text: &str) -> Cow<'_, str> {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{text}"))
    } else {
        Cow::Borrowed(text)
    }
}

/// A number as written to CSV; empty (unknown) when it is not finite, as no reading can be.
pub fn number_cell(value: f64) -> String {
    if value.is_finite() {
        value.to_string()
    } else {
        String::new()
    }
}

/// A cell by the SQL value's type: text is made [`formula_safe`], numbers stay numbers.
fn cell_text(value: rusqlite::types::ValueRef<'_>) -> String {
    use rusqlite::types::ValueRef;
    match value {
        ValueRef::Null => String::new(),
        ValueRef::Integer(i) => i.to_string(),
        ValueRef::Real(f) => number_cell(f),
        ValueRef::Text(t) | ValueRef::Blob(t) => {
            formula_safe(&String::from_utf8_lossy(t)).into_owned()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::types::ValueRef;

    #[test]
    fn text_that_a_spreadsheet_would_run_gets_a_leading_quote_and_numbers_stay_numbers() {
        let table: &[(&str, &str)] = &[
            (
                "=HYPERLINK(\"http://x\",\"y\")",
                "'=HYPERLINK(\"http://x\",\"y\")",
            ),
            ("+1", "'+1"),
            ("-1", "'-1"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("Van 3", "Van 3"),
            ("a=b", "a=b"),
            (" =x", " =x"),
            ("'=x", "'=x"),
            ("", ""),
            ("\u{FF1D}x", "\u{FF1D}x"),
        ];
        for (text, written) in table {
            assert_eq!(formula_safe(text), *written, "{text:?}");
        }
        assert_eq!(cell_text(ValueRef::Text(b"-122.1")), "'-122.1");
        assert_eq!(cell_text(ValueRef::Real(-122.1)), "-122.1");
        assert_eq!(cell_text(ValueRef::Integer(-5)), "-5");
        assert_eq!(cell_text(ValueRef::Real(f64::INFINITY)), "");
        assert_eq!(cell_text(ValueRef::Real(f64::NEG_INFINITY)), "");
        assert_eq!(cell_text(ValueRef::Real(f64::NAN)), "");
        assert_eq!(cell_text(ValueRef::Null), "");
    }
}
