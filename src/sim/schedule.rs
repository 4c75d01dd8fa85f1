//! When Smartcar would deliver what about the fleet: v4 `VEHICLE_STATE` on signal change
//! (plus `VEHICLE_ERROR` while a car needs re-authentication), or v2 `dynamic` batches
//! hourly (every 30 minutes after a plug-state change) plus `eventBased` charging events.

use std::collections::VecDeque;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::fleet::{FleetConfig, STEP_MS, Sample, TrueSession, VehicleSim, VehicleSpec, uuid_from};
use super::payload;
use crate::domain::ChargingState;
use crate::smartcar::Format;

const MINUTE_MS: i64 = STEP_MS;
const HOUR_MS: i64 = 60 * MINUTE_MS;

/// Every vehicle of a fleet, stepped together one simulated minute at a time.
pub struct Fleet {
    sims: Vec<VehicleSim>,
}

impl Fleet {
    /// The fleet of `config`.
    pub fn new(config: &FleetConfig) -> Self {
        let sims = super::fleet::vehicles(config)
            .into_iter()
            .enumerate()
            .map(|(i, spec)| VehicleSim::new(config, spec, i))
            .collect();
        Fleet { sims }
    }

    /// The vehicles.
    pub fn specs(&self) -> Vec<VehicleSpec> {
        self.sims.iter().map(|s| s.spec().clone()).collect()
    }

    /// The next minute of every vehicle, or `None` at the end.
    pub fn step(&mut self) -> Option<Vec<Sample>> {
        self.sims.iter_mut().map(Iterator::next).collect()
    }

    /// Every vehicle's true plug-ins so far.
    pub fn sessions(&self) -> Vec<Vec<TrueSession>> {
        self.sims.iter().map(|s| s.sessions().to_vec()).collect()
    }

    /// Every vehicle's true drives so far.
    pub fn trips(&self) -> Vec<Vec<super::fleet::TrueTrip>> {
        self.sims.iter().map(|s| s.trips().to_vec()).collect()
    }
}

/// One webhook delivery, as Smartcar would send it.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// Simulated time of the event.
    pub at_ms: i64,
    /// What fleetdash deduplicates it by (event id or request ids), for the delivery log.
    pub key: String,
    /// `VEHICLE_STATE`, `dynamic`, ...
    pub kind: &'static str,
    /// The body, to be signed and posted as is.
    pub body: Vec<u8>,
}

#[derive(Default, Clone)]
struct VehicleTrack {
    last_sent_ms: Option<i64>,
    last_soc: f64,
    last_plugged: bool,
    last_charging: Option<ChargingState>,
    plug_changed: bool,
    location_at_ms: i64,
    in_auth_failure: bool,
    was_moving: bool,
    /// It stood still this minute after moving: its position's last change.
    stopped: bool,
}

/// The deliveries for a fleet, in simulated time order.
pub struct Schedule {
    fleet: Fleet,
    specs: Vec<VehicleSpec>,
    format: Format,
    rng: ChaCha8Rng,
    tracks: Vec<VehicleTrack>,
    pending: VecDeque<Delivery>,
    /// The window (start, end) in which the last vehicle's owner has changed their
    /// password, so Smartcar reports AUTHENTICATION_FAILED for it.
    auth_failure: Option<(usize, i64, i64)>,
}

impl Schedule {
    /// The schedule of `config`'s fleet in `format`.
    pub fn new(config: &FleetConfig, format: Format) -> Self {
        let fleet = Fleet::new(config);
        let specs = fleet.specs();
        let start = super::fleet::start_of(config);
        let auth_failure = (specs.len() >= 3 && config.days >= 2)
            .then(|| (specs.len() - 1, start + 36 * HOUR_MS, start + 42 * HOUR_MS));
        Schedule {
            tracks: vec![VehicleTrack::default(); specs.len()],
            specs,
            fleet,
            format,
            rng: ChaCha8Rng::seed_from_u64(config.seed.wrapping_add(0x5EED)),
            pending: VecDeque::new(),
            auth_failure,
        }
    }

    /// The fleet's vehicles.
    pub fn specs(&self) -> &[VehicleSpec] {
        &self.specs
    }

    /// Every vehicle's true plug-ins so far.
    pub fn sessions(&self) -> Vec<Vec<TrueSession>> {
        self.fleet.sessions()
    }

    /// Every vehicle's true drives so far.
    pub fn trips(&self) -> Vec<Vec<super::fleet::TrueTrip>> {
        self.fleet.trips()
    }

    fn in_auth_failure(&self, vehicle: usize, at_ms: i64) -> bool {
        self.auth_failure
            .is_some_and(|(v, from, to)| v == vehicle && (from..to).contains(&at_ms))
    }

    fn minute(&mut self, samples: &[Sample]) {
        for (i, sample) in samples.iter().enumerate() {
            let track = &mut self.tracks[i];
            if sample.moving || track.last_sent_ms.is_none() {
                track.location_at_ms = sample.at_ms;
            }
            track.stopped = track.was_moving && !sample.moving;
            track.was_moving = sample.moving;
            if sample.plugged_in != track.last_plugged && track.last_sent_ms.is_some() {
                track.plug_changed = true;
            }
        }
        match self.format {
            Format::V4 => self.v4_minute(samples),
            Format::V2 => self.v2_minute(samples),
        }
    }

    fn v4_minute(&mut self, samples: &[Sample]) {
        for (i, sample) in samples.iter().enumerate() {
            let failing = self.in_auth_failure(i, sample.at_ms);
            let track = self.tracks[i].clone();
            if failing != track.in_auth_failure {
                let event_id = uuid_from(&mut self.rng);
                let body = payload::v4_vehicle_error(
                    &event_id,
                    &self.specs[i],
                    "CONNECTED_SERVICES_ACCOUNT",
                    "AUTHENTICATION_FAILED",
                    !failing,
                    sample.at_ms,
                );
                self.push(sample.at_ms, event_id, "VEHICLE_ERROR", body);
                self.tracks[i].in_auth_failure = failing;
            }
            if failing {
                continue;
            }
            let trigger = if track.last_sent_ms.is_none() {
                Some("FIRST_DELIVERY")
            } else if sample.plugged_in != track.last_plugged {
                Some("charge-ischargingcableconnected")
            } else if Some(sample.charging) != track.last_charging {
                Some("charge-ischarging")
            } else if (sample.soc_percent - track.last_soc).abs() >= 1.0 {
                Some("tractionbattery-stateofcharge")
            } else if track.stopped
                || sample.moving
                    && track
                        .last_sent_ms
                        .is_some_and(|t| sample.at_ms - t >= 10 * MINUTE_MS)
            {
                // Where it stopped is the position's last change: Smartcar reports it.
                Some("location-preciselocation")
            } else {
                None
            };
            let Some(trigger) = trigger else { continue };
            // Now and then the car is asleep or out of reach and its position can't be read.
            let failed = self.rng.random_bool(0.03).then(|| {
                let code = if self.rng.random_bool(0.7) {
                    "ASLEEP"
                } else {
                    "UNREACHABLE"
                };
                ("location-preciselocation", "VEHICLE_STATE", code)
            });
            let delay_ms = self.rng.random_range(0..120_000);
            let event_id = uuid_from(&mut self.rng);
            let body = payload::v4_vehicle_state(
                &event_id,
                &self.specs[i],
                sample,
                track.location_at_ms,
                trigger,
                failed,
                sample.at_ms + delay_ms,
            );
            self.push(sample.at_ms, event_id, "VEHICLE_STATE", body);
            self.remember(i, sample);
        }
    }

    fn v2_minute(&mut self, samples: &[Sample]) {
        // Charging events are delivered as they happen.
        for (i, sample) in samples.iter().enumerate() {
            let previous = self.tracks[i].last_charging;
            if previous.is_some() && previous != Some(sample.charging) {
                let event_type = match sample.charging {
                    ChargingState::Charging => "CHARGING_STARTED",
                    ChargingState::FullyCharged => "CHARGING_COMPLETED",
                    ChargingState::NotCharging => "CHARGING_STOPPED",
                };
                let event_id = uuid_from(&mut self.rng);
                let body =
                    payload::v2_event_based(&event_id, &self.specs[i], event_type, sample.at_ms);
                self.push(sample.at_ms, event_id, "eventBased", body);
            }
            self.tracks[i].last_charging = Some(sample.charging);
        }
        // Dynamic deliveries go out on the half hour, batching every vehicle that is due.
        let at_ms = samples.first().map_or(0, |s| s.at_ms);
        if at_ms % (30 * MINUTE_MS) != 0 {
            return;
        }
        let mut due = Vec::new();
        for (i, sample) in samples.iter().enumerate() {
            let track = &self.tracks[i];
            let is_due = match track.last_sent_ms {
                None => true,
                Some(t) => {
                    at_ms - t >= HOUR_MS || (track.plug_changed && at_ms - t >= 30 * MINUTE_MS)
                }
            };
            if is_due {
                due.push((i, sample, uuid_from(&mut self.rng)));
            }
        }
        if due.is_empty() {
            return;
        }
        let entries: Vec<payload::V2Entry<'_>> = due
            .iter()
            .map(|(i, sample, request_id)| payload::V2Entry {
                spec: &self.specs[*i],
                sample,
                location_at_ms: self.tracks[*i].location_at_ms,
                request_id: request_id.clone(),
                auth_failed: self.in_auth_failure(*i, at_ms),
            })
            .collect();
        let body = payload::v2_dynamic(&entries);
        let key = due
            .iter()
            .map(|(_, _, r)| r.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        self.push(at_ms, key, "dynamic", body);
        for (i, sample, _) in due {
            self.remember(i, sample);
        }
    }

    fn remember(&mut self, vehicle: usize, sample: &Sample) {
        let track = &mut self.tracks[vehicle];
        track.last_sent_ms = Some(sample.at_ms);
        track.last_soc = sample.soc_percent;
        track.last_plugged = sample.plugged_in;
        track.last_charging = Some(sample.charging);
        track.plug_changed = false;
    }

    fn push(&mut self, at_ms: i64, key: String, kind: &'static str, body: Vec<u8>) {
        self.pending.push_back(Delivery {
            at_ms,
            key,
            kind,
            body,
        });
    }
}

impl Iterator for Schedule {
    type Item = Delivery;

    fn next(&mut self) -> Option<Delivery> {
        while self.pending.is_empty() {
            let samples = self.fleet.step()?;
            self.minute(&samples);
        }
        self.pending.pop_front()
    }
}
