//! Alerts from the database: the owner's rules (owner data in `alert_rules`, over the
//! contract's defaults) and the data each rule reads, handed to the pure rules in
//! [`crate::domain::alerts`].

use rusqlite::{Connection, params};

use super::StoreError;
use crate::domain::ChargingState;
use crate::domain::alerts::{
    Alert, Point, Reauth, Rule, Rules, SessionEnd, VehicleData, no_deliveries, vehicle_alerts,
};
use crate::domain::time::DAY_MS;

/// How far before a listing's window the rules look, so a condition that began earlier
/// (a car plugged in and not charging since the day before) is seen whole.
pub const LOOKBACK_MS: i64 = 8 * DAY_MS;

/// The owner's rules: the defaults with what was set over them. A stored setting this
/// build cannot read is skipped rather than failing every listing.
pub fn rules(conn: &Connection) -> Result<Rules, StoreError> {
    let mut rules = Rules::default();
    let mut statement = conn.prepare_cached("SELECT rule, enabled, settings FROM alert_rules")?;
    let stored = statement
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, bool>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    for (name, on, settings) in stored {
        let Ok(rule) = Rule::parse(&name) else {
            continue;
        };
        rules.set_on(rule, on);
        for pair in settings.split_whitespace() {
            if let Some((key, value)) = pair.split_once('=') {
                let _ = rules.set(rule, key, value);
            }
        }
    }
    Ok(rules)
}

/// Applies a change of one rule (checked) inside the caller's transaction: on or off,
/// and `KEY=VALUE` settings.
pub(super) fn set_rule(
    tx: &Connection,
    rule: Rule,
    on: Option<bool>,
    settings: &[(String, String)],
) -> Result<(), String> {
    let mut all = rules(tx).map_err(|e| e.to_string())?;
    if let Some(on) = on {
        all.set_on(rule, on);
    }
    for (key, value) in settings {
        all.set(rule, key, value)?;
    }
    let shown = all.settings(rule);
    tx.execute(
        "INSERT INTO alert_rules(rule, enabled, settings) VALUES (?1, ?2, ?3)
         ON CONFLICT(rule) DO UPDATE SET enabled = excluded.enabled, settings = excluded.settings",
        params![rule.as_str(), shown.on, shown.text],
    )
    .map_err(|e| e.to_string())?;
    Ok(())
}

/// An alert with its vehicle's display name (empty for the fleet).
#[derive(Debug, Clone, PartialEq)]
pub struct Listed {
    /// The alert.
    pub alert: Alert,
    /// Its vehicle's name.
    pub vehicle_name: String,
}

fn points(
    conn: &Connection,
    vehicle_id: &str,
    from: i64,
    to: i64,
) -> Result<Vec<Point>, StoreError> {
    // The last reading before the window too: a car silent for longer than the look-back
    // is the quietest of all, and its silence began there.
    let mut statement = conn.prepare_cached(
        "SELECT recorded_at, battery_percent, plugged_in, charging_state FROM readings
         WHERE vehicle_id = ?1 AND recorded_at = (SELECT max(recorded_at) FROM readings
                                                  WHERE vehicle_id = ?1 AND recorded_at < ?2)
         UNION ALL
         SELECT recorded_at, battery_percent, plugged_in, charging_state FROM readings
         WHERE vehicle_id = ?1 AND recorded_at >= ?2 AND recorded_at <= ?3
         ORDER BY recorded_at",
    )?;
    let rows = statement
        .query_map(params![vehicle_id, from, to], |r| {
            Ok(Point {
                at_ms: r.get(0)?,
                soc_percent: r.get(1)?,
                plugged_in: r.get(2)?,
                charging: r
                    .get::<_, Option<String>>(3)?
                    .and_then(|s| ChargingState::parse(&s)),
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

fn session_ends(
    conn: &Connection,
    vehicle_id: &str,
    from: i64,
    to: i64,
) -> Result<Vec<SessionEnd>, StoreError> {
    let mut statement = conn.prepare_cached(
        "SELECT ended_at, end_percent FROM sessions
         WHERE vehicle_id = ?1 AND ended_at >= ?2 AND ended_at <= ?3 AND end_percent IS NOT NULL
         ORDER BY ended_at",
    )?;
    let rows = statement
        .query_map(params![vehicle_id, from, to], |r| {
            Ok(SessionEnd {
                ended_at_ms: r.get(0)?,
                end_percent: r.get(1)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

fn reauth(conn: &Connection, vehicle_id: &str, to: i64) -> Result<Vec<Reauth>, StoreError> {
    let mut statement = conn.prepare_cached(
        "SELECT recorded_at, active FROM vehicle_errors
         WHERE vehicle_id = ?1 AND recorded_at <= ?2 AND error_code = 'AUTHENTICATION_FAILED' COLLATE NOCASE
         ORDER BY recorded_at",
    )?;
    let rows = statement
        .query_map(params![vehicle_id, to], |r| {
            Ok(Reauth {
                at_ms: r.get(0)?,
                needed: r.get(1)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

fn asleep(conn: &Connection, vehicle_id: &str, from: i64, to: i64) -> Result<Vec<i64>, StoreError> {
    let mut statement = conn.prepare_cached(
        "SELECT recorded_at FROM vehicle_errors
         WHERE vehicle_id = ?1 AND recorded_at >= ?2 AND recorded_at <= ?3
           AND error_code = 'ASLEEP' COLLATE NOCASE
         ORDER BY recorded_at",
    )?;
    let rows = statement
        .query_map(params![vehicle_id, from, to], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// When Smartcar's deliveries arrived. The relay's own API polls (`format` = `api`) are
/// not among them: they go on hourly when the webhook stops, which is what
/// `no_deliveries` must see.
fn arrivals(conn: &Connection, from: i64, to: i64) -> Result<Vec<i64>, StoreError> {
    // The last arrival before the window too: a silence may have begun before it.
    let before: Option<i64> = conn.query_row(
        "SELECT max(received_at) FROM deliveries
         WHERE received_at < ?1 AND outcome != 'verify' AND format != 'api'",
        [from],
        |r| r.get(0),
    )?;
    let mut statement = conn.prepare_cached(
        "SELECT received_at FROM deliveries
         WHERE received_at >= ?1 AND received_at <= ?2 AND outcome != 'verify' AND format != 'api'
         ORDER BY received_at",
    )?;
    let mut times: Vec<i64> = before.into_iter().collect();
    for t in statement.query_map(params![from, to], |r| r.get(0))? {
        times.push(t?);
    }
    Ok(times)
}

/// The alerts open at `at_ms`, or with `since_ms` every alert that opened from then to
/// `at_ms`; by opening time.
pub fn alerts(
    conn: &Connection,
    at_ms: i64,
    since_ms: Option<i64>,
) -> Result<Vec<Listed>, StoreError> {
    let mut all = derived(conn, since_ms.unwrap_or(at_ms) - LOOKBACK_MS, at_ms)?;
    all.retain(|l| match since_ms {
        Some(since) => l.alert.opened_at_ms >= since && l.alert.opened_at_ms <= at_ms,
        None => l.alert.open_at(at_ms),
    });
    Ok(all)
}

/// In one derivation: the alerts open at `at_ms`, and those that resolved from
/// `resolved_since_ms` to `at_ms` (what the owner missed), each by opening time.
pub fn open_and_resolved(
    conn: &Connection,
    at_ms: i64,
    resolved_since_ms: i64,
) -> Result<(Vec<Listed>, Vec<Listed>), StoreError> {
    let all = derived(conn, at_ms - LOOKBACK_MS, at_ms)?;
    let (open, rest): (Vec<Listed>, Vec<Listed>) =
        all.into_iter().partition(|l| l.alert.open_at(at_ms));
    let resolved = rest
        .into_iter()
        .filter(|l| {
            l.alert
                .resolved_at_ms
                .is_some_and(|r| r >= resolved_since_ms && r <= at_ms)
        })
        .collect();
    Ok((open, resolved))
}

/// Every alert derived from the data from `from` to `at_ms`, by opening time.
fn derived(conn: &Connection, from: i64, at_ms: i64) -> Result<Vec<Listed>, StoreError> {
    let rules = rules(conn)?;
    let zone = super::owner::fleet_zone(conn)?;
    let vehicles = super::sessions::vehicles(conn, &super::ExportFilter::default())?;
    let mut all: Vec<Listed> = Vec::new();
    for (id, name, _) in &vehicles {
        let points = points(conn, id, from, at_ms)?;
        let ends = session_ends(conn, id, from, at_ms)?;
        let reauth = reauth(conn, id, at_ms)?;
        let asleep = asleep(conn, id, from, at_ms)?;
        let data = VehicleData {
            vehicle_id: id,
            name,
            points: &points,
            session_ends: &ends,
            reauth: &reauth,
            asleep: &asleep,
        };
        for alert in vehicle_alerts(&data, &rules, &zone, at_ms) {
            all.push(Listed {
                alert,
                vehicle_name: name.clone(),
            });
        }
    }
    for alert in no_deliveries(
        &arrivals(conn, from, at_ms)?,
        !vehicles.is_empty(),
        &rules,
        &zone,
        at_ms,
    ) {
        all.push(Listed {
            alert,
            vehicle_name: String::new(),
        });
    }
    all.sort_by(|a, b| {
        (a.alert.opened_at_ms, a.alert.rule, &a.alert.vehicle_id).cmp(&(
            b.alert.opened_at_ms,
            b.alert.rule,
            &b.alert.vehicle_id,
        ))
    });
    Ok(all)
}
