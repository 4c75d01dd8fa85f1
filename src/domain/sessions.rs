//! Charging sessions from sparse, out-of-order readings.
//!
//! A session is a plug-in (cable connected until disconnected) during which the battery
//! charged; a pause while still plugged in does not split it. Where the plug state is
//! unknown (v2 `eventBased` charging events alone), a charging stretch stands alone. When
//! the state of charge rises between two readings that saw no plug-in at all, the session
//! fell between deliveries: it is reported with the whole gap as its uncertainty.
//!
//! Detection is a pure function of the time-ordered readings of one vehicle, so the same
//! readings in any arrival order, with duplicates, give the same sessions.

use serde::{Deserialize, Serialize};

use super::ChargingState;

/// One moment of one vehicle, as the `readings` table holds it.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Point {
    /// When the vehicle recorded it, ms since the Unix epoch.
    pub at_ms: i64,
    /// State of charge, 0..=100.
    pub soc_percent: Option<f64>,
    /// Cable connected.
    pub plugged_in: Option<bool>,
    /// Charging state.
    pub charging: Option<ChargingState>,
    /// Position (latitude, longitude).
    pub position: Option<(f64, f64)>,
}

/// A detected charging session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    /// First observation of the session.
    pub started_at_ms: i64,
    /// First observation that saw it unplugged (or, for a charging stretch without plug
    /// information, that saw charging stop); `None` while ongoing.
    pub ended_at_ms: Option<i64>,
    /// Last observation that belongs to the session (the end while ongoing).
    pub last_seen_ms: i64,
    /// State of charge at the start.
    pub start_percent: Option<f64>,
    /// State of charge at the end (or last seen).
    pub end_percent: Option<f64>,
    /// Where (latitude, longitude), when known.
    pub position: Option<(f64, f64)>,
    /// Minutes observed charging (pauses excluded).
    pub charging_minutes: f64,
    /// Charging stretches (more than one when it paused while plugged in).
    pub segments: u32,
    /// How long before `started_at_ms` the plug-in may really have happened, in minutes.
    pub start_uncertainty_min: f64,
    /// How long before `ended_at_ms` the unplug may really have happened, in minutes.
    pub end_uncertainty_min: f64,
    /// Found only from a rise in state of charge between readings.
    pub inferred: bool,
}

impl Session {
    /// True until the end has been seen.
    pub fn is_ongoing(&self) -> bool {
        self.ended_at_ms.is_none()
    }

    /// Duration in minutes, from start to end (or to the last observation while ongoing).
    pub fn duration_min(&self) -> f64 {
        (self.ended_at_ms.unwrap_or(self.last_seen_ms) - self.started_at_ms) as f64 / 60_000.0
    }

    /// Energy added, from the state-of-charge rise and the usable capacity.
    pub fn energy_kwh(&self, capacity_kwh: f64) -> Option<f64> {
        let (start, end) = (self.start_percent?, self.end_percent?);
        Some(((end - start).max(0.0) / 100.0 * capacity_kwh * 1000.0).round() / 1000.0)
    }
}

/// Below this rise (percentage points) a plug-in without a charging observation is not a
/// charging session.
const MIN_RISE_PERCENT: f64 = 1.0;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Open {
    session: Session,
    /// The plug state was seen (not only inferred from charging).
    plug_known: bool,
    /// Charging was observed.
    charged: bool,
    last_charging: Option<ChargingState>,
}

/// Streams a vehicle's readings (in time order) into sessions. Its state can be saved
/// and resumed (serde), so the store derives incrementally from a checkpoint.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct SessionDetector {
    open: Option<Open>,
    previous: Option<Point>,
    last_soc: Option<f64>,
    last_position: Option<(f64, f64)>,
    done: Vec<Session>,
}

impl SessionDetector {
    /// A detector with no readings yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the next reading; readings must come in time order.
    pub fn push(&mut self, p: Point) {
        let plugged = p.plugged_in.or(match p.charging {
            Some(ChargingState::Charging) => Some(true),
            _ => None,
        });
        match (self.open.is_some(), plugged) {
            (false, Some(true)) => self.open_at(&p),
            (false, _) => self.check_hidden_session(&p),
            (true, Some(false)) => {
                if let Some(open) = self.open.as_mut() {
                    let s = &mut open.session;
                    // The unplug happened after the last plugged-in reading, by this one.
                    s.end_uncertainty_min = (p.at_ms - s.last_seen_ms) as f64 / 60_000.0;
                    // The reading that saw the unplug knows the final charge best.
                    if let Some(soc) = p.soc_percent {
                        s.end_percent = Some(s.end_percent.map_or(soc, |e| e.max(soc)));
                    }
                }
                self.close(Some(p.at_ms));
            }
            (true, _) => {
                let ends_charging_only = !self.open.as_ref().is_some_and(|o| o.plug_known)
                    && plugged.is_none()
                    && matches!(
                        p.charging,
                        Some(ChargingState::NotCharging | ChargingState::FullyCharged)
                    );
                self.observe(&p);
                if ends_charging_only {
                    self.close(Some(p.at_ms));
                }
            }
        }
        if let Some(soc) = p.soc_percent {
            self.last_soc = Some(soc);
        }
        if let Some(position) = p.position {
            self.last_position = Some(position);
        }
        self.previous = Some(p);
    }

    /// Ends the stream: an open session stays ongoing. Returns every session found.
    pub fn finish(mut self) -> Vec<Session> {
        if let Some(open) = self.open.take()
            && Self::worth_reporting(&open)
        {
            self.done.push(open.session);
        }
        self.done
    }

    /// Sessions completed so far (for streaming); leaves the open one.
    pub fn take_completed(&mut self) -> Vec<Session> {
        std::mem::take(&mut self.done)
    }

    fn open_at(&mut self, p: &Point) {
        let start_uncertainty_min = self
            .previous
            .map_or(0.0, |prev| (p.at_ms - prev.at_ms) as f64 / 60_000.0);
        // If the charge rose before the first plugged-in reading, it started in the gap.
        let start_percent = match (self.last_soc, p.soc_percent) {
            (Some(before), Some(now)) => Some(before.min(now)),
            (before, now) => now.or(before),
        };
        let charging = p.charging == Some(ChargingState::Charging);
        self.open = Some(Open {
            session: Session {
                started_at_ms: p.at_ms,
                ended_at_ms: None,
                last_seen_ms: p.at_ms,
                start_percent,
                end_percent: p.soc_percent.or(start_percent),
                position: p.position.or(self.last_position),
                charging_minutes: 0.0,
                segments: u32::from(charging),
                start_uncertainty_min,
                end_uncertainty_min: 0.0,
                inferred: false,
            },
            plug_known: p.plugged_in.is_some(),
            charged: charging,
            last_charging: p.charging,
        });
    }

    fn observe(&mut self, p: &Point) {
        let Some(open) = self.open.as_mut() else {
            return;
        };
        let s = &mut open.session;
        if open.last_charging == Some(ChargingState::Charging) {
            s.charging_minutes += (p.at_ms - s.last_seen_ms) as f64 / 60_000.0;
        }
        if p.charging == Some(ChargingState::Charging) {
            if open.last_charging != Some(ChargingState::Charging) {
                s.segments += 1;
            }
            open.charged = true;
        }
        if p.charging.is_some() {
            open.last_charging = p.charging;
        }
        if p.plugged_in.is_some() {
            open.plug_known = true;
        }
        if let Some(soc) = p.soc_percent {
            s.end_percent = Some(soc);
        }
        if s.position.is_none() {
            s.position = p.position;
        }
        s.last_seen_ms = p.at_ms;
    }

    /// Closes the open session at `at_ms` (else at its last observation).
    fn close(&mut self, at_ms: Option<i64>) {
        let Some(mut open) = self.open.take() else {
            return;
        };
        let end = at_ms.unwrap_or(open.session.last_seen_ms);
        open.session.ended_at_ms = Some(end);
        if Self::worth_reporting(&open) {
            self.done.push(open.session);
        }
    }

    fn worth_reporting(open: &Open) -> bool {
        let rise = match (open.session.start_percent, open.session.end_percent) {
            (Some(a), Some(b)) => b - a,
            _ => 0.0,
        };
        open.charged || rise >= MIN_RISE_PERCENT
    }

    /// A rise in charge between two readings that saw no plug-in: a session in the gap.
    fn check_hidden_session(&mut self, p: &Point) {
        let (Some(prev), Some(before), Some(after)) = (self.previous, self.last_soc, p.soc_percent)
        else {
            return;
        };
        if after - before < MIN_RISE_PERCENT {
            return;
        }
        let gap_min = (p.at_ms - prev.at_ms) as f64 / 60_000.0;
        self.done.push(Session {
            started_at_ms: prev.at_ms,
            ended_at_ms: Some(p.at_ms),
            last_seen_ms: p.at_ms,
            start_percent: Some(before),
            end_percent: Some(after),
            position: p.position.or(self.last_position),
            charging_minutes: 0.0,
            segments: 1,
            start_uncertainty_min: gap_min,
            end_uncertainty_min: gap_min,
            inferred: true,
        });
    }
}

/// Sessions of one vehicle's readings, in any order, duplicates allowed.
pub fn detect_sessions(points: &[Point]) -> Vec<Session> {
    // The store keeps one row per moment; fold duplicates the same way here.
    let merged = super::time::in_time_order(
        points,
        |p| p.at_ms,
        |last, p| {
            last.soc_percent = last.soc_percent.or(p.soc_percent);
            last.plugged_in = last.plugged_in.or(p.plugged_in);
            last.charging = last.charging.or(p.charging);
            last.position = last.position.or(p.position);
        },
    );
    let mut detector = SessionDetector::new();
    for p in merged {
        detector.push(p);
    }
    detector.finish()
}
