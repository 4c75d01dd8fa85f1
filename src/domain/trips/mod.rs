//! Trips from sparse, out-of-order readings (the contract's rule).
//!
//! A trip starts at the last reading before the vehicle leaves its parked place by more than
//! [`LEAVE_M`], and ends at the first reading of the place where it then stays within
//! [`LEAVE_M`] for at least [`HALT_MS`] (or where it is plugged in); a shorter halt does not
//! split it. Any reading counts as evidence of staying: a parked v4 car reports no new
//! position, only newer battery or charge values. While the cable is known to be connected
//! no trip starts, so a trip and a charging session share at most the gap between two
//! readings in which the car was unplugged and left (both happened in it).
//!
//! Distance is the odometer difference where both ends have one, else the sum of
//! great-circle distances between consecutive positions. Where readings are far apart (v2's
//! hourly cadence) a trip between two of them is still found, and [`Trip::gap_ms`] says how
//! uncertain its ends are.
//!
//! Detection is a pure function of one vehicle's time-ordered readings; [`detect`] sorts and
//! merges duplicates first, so any arrival order gives the same trips.

use serde::{Deserialize, Serialize};

use super::geo::distance_m;

mod trip;

pub use trip::{DistanceSource, Trip};

/// Leaving the parked place by more than this starts a trip; staying within it ends one.
pub const LEAVE_M: f64 = 150.0;
/// Staying this long ends a trip.
pub const HALT_MS: i64 = 5 * 60_000;
/// Trips whose readings are further apart than this are flagged as uncertain.
pub const SPARSE_MS: i64 = 15 * 60_000;

/// One moment of one vehicle, as the `readings` table holds it.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Point {
    /// When the vehicle recorded it, ms since the Unix epoch.
    pub at_ms: i64,
    /// Position (latitude, longitude).
    pub position: Option<(f64, f64)>,
    /// State of charge, 0..=100.
    pub soc_percent: Option<f64>,
    /// Cable connected.
    pub plugged_in: Option<bool>,
    /// Odometer, km.
    pub odometer_km: Option<f64>,
}

// One per detector: the size of the largest variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Serialize, Deserialize)]
enum State {
    /// Nothing read yet with a position.
    Unknown,
    /// Standing at `anchor`; `last_at` is the latest reading there.
    Parked { anchor: (f64, f64), last_at: i64 },
    /// On the road; `halt` is the first reading of where it may have stopped.
    Moving {
        trip: Trip,
        last_position: (f64, f64),
        last_at: i64,
        halt: Option<Halt>,
    },
}

/// Where a moving vehicle may have stopped: its first reading there, and the first
/// odometer read there.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct Halt {
    at_ms: i64,
    place: (f64, f64),
    odometer_km: Option<f64>,
    /// The trip's GPS sum up to this reading (what follows is a parked car's jitter).
    gps_km: f64,
    /// The state of charge known there.
    soc: Option<f64>,
}

/// A drop in charge beyond this since a halt means the vehicle kept driving.
const DRIVING_DROP_PERCENT: f64 = 0.5;

/// Slower than this on average between two readings at least [`HALT_MS`] apart, the
/// vehicle stood in between (no drive, even in a jam, averages walking pace for minutes).
const STOOD_KM_PER_H: f64 = 5.0;

/// The streaming detector: push readings in time order, then [`TripDetector::finish`].
/// Its state can be saved and resumed (serde), so the store derives incrementally.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TripDetector {
    state: State,
    plugged: Option<bool>,
    soc: Option<f64>,
    /// The odometer as read since the vehicle stands where it is (none while moving).
    parked_odometer: Option<f64>,
    trips: Vec<Trip>,
    /// The last finished trip still waits for an odometer reading at its end place.
    end_odometer_open: bool,
    /// The latest reading before any position was known.
    unknown_since: Option<i64>,
    /// The latest odometer value read (before the reading being pushed).
    last_odometer: Option<f64>,
}

impl Default for TripDetector {
    fn default() -> Self {
        TripDetector::new()
    }
}

impl TripDetector {
    /// A detector with nothing seen yet.
    pub fn new() -> Self {
        TripDetector {
            state: State::Unknown,
            plugged: None,
            soc: None,
            parked_odometer: None,
            trips: Vec::new(),
            end_odometer_open: false,
            unknown_since: None,
            last_odometer: None,
        }
    }

    /// Takes the next reading (time order; a reading at the same time as the previous one
    /// is merged into it by [`detect`]).
    pub fn push(&mut self, p: Point) {
        if let Some(plugged) = p.plugged_in {
            self.plugged = Some(plugged);
        }
        let state = std::mem::replace(&mut self.state, State::Unknown);
        self.state = match state {
            State::Unknown => match p.position {
                // The first position, but the odometer read before it moved on since:
                // the vehicle left a place not known (it is taken to be this one).
                Some(position)
                    if self.unknown_since.is_some()
                        && p.odometer_km
                            .zip(self.parked_odometer)
                            .is_some_and(|(now, before)| now - before > LEAVE_M / 1000.0) =>
                {
                    let since = self.unknown_since.unwrap_or(p.at_ms);
                    self.depart(position, since, position, &p)
                }
                Some(position) => State::Parked {
                    anchor: position,
                    last_at: p.at_ms,
                },
                None => {
                    self.unknown_since = Some(p.at_ms);
                    State::Unknown
                }
            },
            State::Parked { anchor, last_at } => self.parked(anchor, last_at, &p),
            State::Moving {
                trip,
                last_position,
                last_at,
                halt,
            } => self.moving(trip, last_position, last_at, halt, &p),
        };
        if let Some(soc) = p.soc_percent {
            self.soc = Some(soc);
        }
        if let Some(odometer) = p.odometer_km {
            self.last_odometer = Some(odometer);
            match &mut self.state {
                State::Parked { .. } | State::Unknown => {
                    self.parked_odometer = Some(odometer);
                    if self.end_odometer_open
                        && let Some(last) = self.trips.last_mut()
                    {
                        last.end_odometer_km = Some(odometer);
                        self.end_odometer_open = false;
                    }
                }
                State::Moving {
                    halt: Some(halt), ..
                } if halt.odometer_km.is_none() => halt.odometer_km = Some(odometer),
                State::Moving { .. } => {}
            }
        }
    }

    fn parked(&mut self, anchor: (f64, f64), last_at: i64, p: &Point) -> State {
        let odometer_moved = |now: Option<f64>, before: Option<f64>| {
            now.zip(before)
                .is_some_and(|(now, before)| now - before > LEAVE_M / 1000.0)
        };
        let Some(position) = p.position else {
            // No position (it could not be read), but the odometer says it left.
            if self.plugged != Some(true) && odometer_moved(p.odometer_km, self.parked_odometer) {
                let mut state = self.depart(anchor, last_at, anchor, p);
                if let State::Moving { halt, .. } = &mut state {
                    *halt = None;
                }
                return state;
            }
            return State::Parked {
                anchor,
                last_at: p.at_ms,
            };
        };
        if distance_m(anchor, position) <= LEAVE_M || self.plugged == Some(true) {
            // GPS jitter of a parked car, or a plugged-in car (it cannot be driving).
            let anchor = if self.plugged == Some(true) && distance_m(anchor, position) > LEAVE_M {
                position
            } else {
                anchor
            };
            return State::Parked {
                anchor,
                last_at: p.at_ms,
            };
        }
        self.depart(anchor, last_at, position, p)
    }

    /// Left `anchor` (last seen there at `last_at`): the trip starts there, `p` (at
    /// `position`) is its first reading on the way.
    fn depart(
        &mut self,
        anchor: (f64, f64),
        last_at: i64,
        position: (f64, f64),
        p: &Point,
    ) -> State {
        self.end_odometer_open = false;
        let start_odometer_km = self.parked_odometer.take();
        let trip = Trip {
            started_at_ms: last_at,
            ended_at_ms: None,
            last_seen_ms: p.at_ms,
            start: anchor,
            end: position,
            gps_km: distance_m(anchor, position) / 1000.0,
            start_odometer_km,
            end_odometer_km: None,
            start_percent: self.soc,
            end_percent: p.soc_percent.or(self.soc),
            gap_ms: p.at_ms - last_at,
        };
        State::Moving {
            trip,
            last_position: position,
            last_at: p.at_ms,
            halt: Some(Halt {
                at_ms: p.at_ms,
                place: position,
                odometer_km: p.odometer_km,
                gps_km: distance_m(anchor, position) / 1000.0,
                soc: p.soc_percent.or(self.soc),
            }),
        }
    }

    fn moving(
        &mut self,
        mut trip: Trip,
        last_position: (f64, f64),
        last_at: i64,
        halt: Option<Halt>,
        p: &Point,
    ) -> State {
        // A later position near the halt proves the stay. So does one far away reached too
        // slowly to have been driving all along (v4 sends nothing while a car stands, so
        // the next reading is already the next trip's), and a later reading without a
        // position whose charge did not drop (a parked v4 car sends no new position; one
        // whose charge dropped is still driving and its position could not be read).
        // Nothing was heard for a halt's length before `p`: the slow-average test applies
        // (with readings in between, the positions tell).
        let silent = p.at_ms - last_at >= HALT_MS;
        let stayed = halt.filter(|h| {
            p.at_ms - h.at_ms >= HALT_MS
                && match p.position {
                    Some(pos) => {
                        let metres = distance_m(h.place, pos);
                        let hours = (p.at_ms - h.at_ms) as f64 / 3_600_000.0;
                        metres <= LEAVE_M || silent && metres / 1000.0 / hours < STOOD_KM_PER_H
                    }
                    None => match h.odometer_km.zip(p.odometer_km) {
                        // The odometer tells how far it went since: little, or too slowly.
                        Some((before, now)) => {
                            let km = now - before;
                            let hours = (p.at_ms - h.at_ms) as f64 / 3_600_000.0;
                            km <= LEAVE_M / 1000.0 || silent && km / hours < STOOD_KM_PER_H
                        }
                        None => match (h.soc, p.soc_percent) {
                            (Some(before), Some(now)) => before - now <= DRIVING_DROP_PERCENT,
                            _ => true,
                        },
                    },
                }
        });
        // Stayed long enough at the halt, or plugged in: the trip ended there.
        let ended = stayed.or_else(|| {
            (self.plugged == Some(true)).then(|| {
                halt.unwrap_or(Halt {
                    at_ms: last_at,
                    place: last_position,
                    odometer_km: None,
                    gps_km: trip.gps_km,
                    soc: self.soc,
                })
            })
        });
        if let Some(halt) = ended {
            self.finish_trip(trip, halt, last_position);
            return self.parked(halt.place, halt.at_ms, p);
        }
        trip.gap_ms = trip.gap_ms.max(p.at_ms - last_at);
        trip.last_seen_ms = p.at_ms;
        if let Some(soc) = p.soc_percent {
            trip.end_percent = Some(soc);
        }
        let Some(position) = p.position else {
            // No position, but the odometer moved on since the halt: it drove on, to a
            // place not known yet. That reading is the halt now (where it may have
            // stopped), at the last known position.
            let moved_on = halt
                .and_then(|h| h.odometer_km)
                .zip(p.odometer_km)
                .is_some_and(|(before, now)| now - before > LEAVE_M / 1000.0);
            let halt = if moved_on {
                Some(Halt {
                    at_ms: p.at_ms,
                    place: last_position,
                    odometer_km: p.odometer_km,
                    gps_km: trip.gps_km,
                    soc: p.soc_percent.or(self.soc),
                })
            } else {
                halt
            };
            return State::Moving {
                trip,
                last_position,
                last_at: p.at_ms,
                halt,
            };
        };
        trip.gps_km += distance_m(last_position, position) / 1000.0;
        trip.end = position;
        let halt = match halt {
            Some(h) if distance_m(h.place, position) <= LEAVE_M => Some(h),
            _ => Some(Halt {
                at_ms: p.at_ms,
                place: position,
                odometer_km: p.odometer_km,
                gps_km: trip.gps_km,
                soc: p.soc_percent.or(self.soc),
            }),
        };
        State::Moving {
            trip,
            last_position: position,
            last_at: p.at_ms,
            halt,
        }
    }

    /// Ends `trip` at `halt`; `last_position` is where it was last seen (up to
    /// [`LEAVE_M`] further on: the last metres to where it stands count once, as a
    /// straight line, not the parked car's jitter).
    fn finish_trip(&mut self, mut trip: Trip, halt: Halt, last_position: (f64, f64)) {
        trip.ended_at_ms = Some(halt.at_ms);
        trip.last_seen_ms = halt.at_ms;
        trip.end = halt.place;
        trip.gps_km = halt.gps_km + distance_m(halt.place, last_position).min(LEAVE_M) / 1000.0;
        // The latest odometer before the stay was proven: it read at the stop, up to
        // LEAVE_M past the halt's first reading.
        trip.end_odometer_km = halt
            .odometer_km
            .map(|at_halt| self.last_odometer.map_or(at_halt, |last| last.max(at_halt)));
        self.parked_odometer = trip.end_odometer_km;
        // Else the first odometer read while it stands there.
        self.end_odometer_open = halt.odometer_km.is_none();
        self.trips.push(trip);
    }

    /// Trips that no later reading can change, taken out of the detector (for streaming):
    /// every finished trip but one still waiting for its end's odometer.
    pub fn take_settled(&mut self) -> Vec<Trip> {
        let keep = usize::from(self.end_odometer_open).min(self.trips.len());
        let settled = self.trips.len() - keep;
        self.trips.drain(..settled).collect()
    }

    /// The trips found; the last one is ongoing if the vehicle was still moving.
    pub fn finish(mut self) -> Vec<Trip> {
        if let State::Moving { trip, .. } = self.state {
            self.trips.push(trip);
        }
        self.trips
    }
}

/// Trips of one vehicle's readings in any order: sorted by time, readings of the same
/// instant merged (later values fill gaps), then detected.
pub fn detect(points: &[Point]) -> Vec<Trip> {
    let merged = super::time::in_time_order(
        points,
        |p| p.at_ms,
        |last, p| {
            last.position = last.position.or(p.position);
            last.soc_percent = last.soc_percent.or(p.soc_percent);
            last.plugged_in = last.plugged_in.or(p.plugged_in);
            last.odometer_km = last.odometer_km.or(p.odometer_km);
        },
    );
    let mut detector = TripDetector::new();
    for p in merged {
        detector.push(p);
    }
    detector.finish()
}

#[cfg(test)]
mod tests;
