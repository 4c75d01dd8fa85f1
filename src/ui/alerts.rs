//! The open alerts, watched on the reader thread: derived again when the data changed
//! (another connection committed: a delivery, a sync, the owner's change of a rule) and at
//! least once a minute (time-based rules open with no new data: a quiet car, the shift's
//! start), never per frame. Each look is published to the UI; the alerts that are news
//! ([`crate::domain::alerts::news`]) go to the desktop notifications from here, so they go
//! out even while no frame is drawn (a minimised window).

use std::collections::HashSet;
use std::time::{Duration, Instant};

use rusqlite::Connection;

use super::notify::{Note, Notifications};
use crate::domain::alerts::{Alert, Look, Rules, news};
use crate::store::StoreError;
use crate::store::alerts::Listed;

/// Time-based rules open with no new data: look at least this often.
const LOOK_EVERY: Duration = Duration::from_secs(60);
/// After a change, look again no sooner than this (the reader checks for changes once a
/// second anyway).
const MIN_GAP: Duration = Duration::from_secs(1);
/// A look may take at most this share of the reader's time: a large fleet's look is
/// slow, and the reader also answers what is on screen.
const COST_SHARE: u32 = 10;

/// The alerts open at one look.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenAlerts {
    /// When, ms.
    pub at_ms: i64,
    /// Open at `at_ms`, by opening time, with their vehicles' names.
    pub open: Vec<Listed>,
    /// Resolved within the day before `at_ms` (what happened overnight), by opening time.
    pub resolved: Vec<Listed>,
}

/// The reader's watch over the alerts.
pub struct Watch {
    notes: Option<Notifications>,
    last: Option<Instant>,
    cost: Duration,
    changed: bool,
    first_look_ms: Option<i64>,
    before: Option<(Rules, Vec<Alert>)>,
    notified: HashSet<String>,
}

impl Watch {
    /// A watch that sends news to `notes` (none: only publish).
    pub fn new(notes: Option<Notifications>) -> Self {
        Watch {
            notes,
            last: None,
            cost: Duration::ZERO,
            changed: false,
            first_look_ms: None,
            before: None,
            notified: HashSet::new(),
        }
    }

    /// Another connection committed.
    pub fn data_changed(&mut self) {
        self.changed = true;
    }

    /// Whether to look now.
    pub fn due(&self) -> bool {
        let Some(last) = self.last else { return true };
        let gap = MIN_GAP.max(self.cost * COST_SHARE);
        last.elapsed() >= LOOK_EVERY || (self.changed && last.elapsed() >= gap)
    }

    /// Looks at the alerts open at `at_ms`; sends the news to the notifications.
    pub fn look(&mut self, conn: &Connection, at_ms: i64) -> Result<OpenAlerts, StoreError> {
        let started = Instant::now();
        self.last = Some(started);
        self.changed = false;
        // One snapshot: the rules and the alerts derived with them.
        let read = conn.unchecked_transaction()?;
        let rules = crate::store::alerts::rules(&read)?;
        let (open, resolved) = crate::store::alerts::open_and_resolved(
            &read,
            at_ms,
            at_ms - crate::domain::time::DAY_MS,
        )?;
        drop(read);
        self.cost = started.elapsed();
        tracing::debug!(
            ms = self.cost.as_millis(),
            open = open.len(),
            "looked at the alerts"
        );
        let alerts: Vec<Alert> = open.iter().map(|l| l.alert.clone()).collect();
        match (&self.before, self.first_look_ms) {
            (Some((rules_before, open_before)), Some(first)) => {
                let fresh = news(
                    first,
                    Look {
                        rules: rules_before,
                        open: open_before,
                    },
                    Look {
                        rules: &rules,
                        open: &alerts,
                    },
                );
                let notes: Vec<Note> = fresh
                    .into_iter()
                    .filter(|alert| self.notified.insert(alert.id()))
                    .filter_map(|alert| open.iter().find(|l| &l.alert == alert))
                    .map(note)
                    .collect();
                if let Some(notifications) = &self.notes {
                    notifications.send(notes);
                }
            }
            // The first look: what is open already is shown, not announced.
            _ => self.first_look_ms = Some(at_ms),
        }
        self.before = Some((rules, alerts));
        Ok(OpenAlerts {
            at_ms,
            open,
            resolved,
        })
    }
}

/// The note for a newly opened alert: its title and car, then its message.
pub fn note(listed: &Listed) -> Note {
    let whose = if listed.vehicle_name.is_empty() {
        "your fleet"
    } else {
        &listed.vehicle_name
    };
    Note {
        title: format!("{}: {whose}", listed.alert.rule.title()),
        body: listed.alert.message.clone(),
    }
}
