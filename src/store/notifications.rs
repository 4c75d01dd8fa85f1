//! The alerts `serve` sends (`alert_notifications`): one row per alert and channel, queued
//! when the alert is first seen open and marked sent once delivered. The row is the
//! promise: whatever is queued is sent once, across restarts, and nothing is sent twice.

use rusqlite::{Connection, OptionalExtension, params};

use super::StoreError;
use super::alerts::Listed;

/// Where a notification goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    /// An ntfy-compatible URL (`FLEETDASH_NOTIFY_URL`).
    Url,
    /// Email (`FLEETDASH_SMTP_URL` and `FLEETDASH_NOTIFY_EMAIL`).
    Email,
}

impl Channel {
    /// Its name in the table.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Url => "url",
            Channel::Email => "email",
        }
    }

    fn parse(text: &str) -> Option<Channel> {
        match text {
            "url" => Some(Channel::Url),
            "email" => Some(Channel::Email),
            _ => None,
        }
    }
}

/// A queued notification, as the sender needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    /// The alert's stable id.
    pub alert_id: String,
    /// Where to.
    pub channel: Channel,
    /// The rule's contract name (`plugged_not_charging`...).
    pub rule: String,
    /// The vehicle, or `None` for the fleet.
    pub vehicle_id: Option<String>,
    /// A one-line heading.
    pub title: String,
    /// What happened and what to do.
    pub message: String,
    /// When the alert opened, ms.
    pub opened_at_ms: i64,
    /// Attempts so far.
    pub attempts: u32,
}

/// Queues every alert of `open` for every channel that has not had it yet; returns how
/// many rows were queued. Rows already there (sent or waiting) are left alone.
pub fn queue(
    conn: &mut Connection,
    open: &[Listed],
    channels: &[Channel],
    now_ms: i64,
) -> Result<usize, StoreError> {
    if open.is_empty() || channels.is_empty() {
        return Ok(0);
    }
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let mut queued = 0;
    {
        let mut insert = tx.prepare_cached(
            "INSERT OR IGNORE INTO alert_notifications(alert_id, channel, rule, vehicle_id, title,
                                                       message, opened_at, queued_at, next_attempt_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
        )?;
        for listed in open {
            let alert = &listed.alert;
            let title = if listed.vehicle_name.is_empty() {
                alert.rule.title().to_owned()
            } else {
                format!("{}: {}", alert.rule.title(), listed.vehicle_name)
            };
            for channel in channels {
                queued += insert.execute(params![
                    alert.id(),
                    channel.as_str(),
                    alert.rule.as_str(),
                    alert.vehicle_id,
                    title,
                    alert.message,
                    alert.opened_at_ms,
                    now_ms
                ])?;
            }
        }
    }
    tx.commit()?;
    Ok(queued)
}

/// The unsent notifications due at `now_ms`, oldest alert first, at most `limit`.
pub fn due(conn: &Connection, now_ms: i64, limit: usize) -> Result<Vec<Outgoing>, StoreError> {
    let mut statement = conn.prepare_cached(
        "SELECT alert_id, channel, rule, vehicle_id, title, message, opened_at, attempts
         FROM alert_notifications INDEXED BY alert_notifications_due
         WHERE sent_at IS NULL AND next_attempt_at <= ?1
         ORDER BY opened_at, alert_id LIMIT ?2",
    )?;
    let rows = statement.query_map(params![now_ms, limit as i64], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            Outgoing {
                alert_id: String::new(),
                channel: Channel::Url,
                rule: r.get(2)?,
                vehicle_id: r.get(3)?,
                title: r.get(4)?,
                message: r.get(5)?,
                opened_at_ms: r.get(6)?,
                attempts: r.get::<_, i64>(7)?.clamp(0, i64::from(u32::MAX)) as u32,
            },
        ))
    })?;
    let mut due = Vec::new();
    for row in rows {
        let (alert_id, channel, outgoing) = row?;
        // A channel this build does not know (a newer fleetdash's) is not ours to send.
        if let Some(channel) = Channel::parse(&channel) {
            due.push(Outgoing {
                alert_id,
                channel,
                ..outgoing
            });
        }
    }
    Ok(due)
}

/// When the next unsent notification falls due, if any.
pub fn next_due_at(conn: &Connection) -> Result<Option<i64>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT min(next_attempt_at) FROM alert_notifications INDEXED BY alert_notifications_due
             WHERE sent_at IS NULL",
        )?
        .query_row([], |r| r.get(0))
        .optional()?
        .flatten())
}

/// Records a delivered notification.
pub fn mark_sent(conn: &Connection, outgoing: &Outgoing, at_ms: i64) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE alert_notifications SET sent_at = ?3, attempts = attempts + 1, last_error = NULL
         WHERE alert_id = ?1 AND channel = ?2",
    )?
    .execute(params![outgoing.alert_id, outgoing.channel.as_str(), at_ms])?;
    Ok(())
}

/// Records a failed attempt and when to try again.
pub fn mark_failed(
    conn: &Connection,
    outgoing: &Outgoing,
    error: &str,
    retry_at_ms: i64,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE alert_notifications SET attempts = attempts + 1, last_error = ?3, next_attempt_at = ?4
         WHERE alert_id = ?1 AND channel = ?2",
    )?
    .execute(params![
        outgoing.alert_id,
        outgoing.channel.as_str(),
        error,
        retry_at_ms
    ])?;
    Ok(())
}
