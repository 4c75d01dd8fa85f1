//! A deterministic fleet: each vehicle leaves its depot in the morning, drives along a
//! street grid to a few destinations, parks, comes back, plugs in and charges along a
//! realistic curve (full power to 80 %, tapering after), sometimes pauses for smart
//! charging, and sleeps at night. When its battery runs low during the day it stops at a
//! public fast charger. One [`Sample`] per vehicle per simulated minute.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::domain::ChargingState;

mod truth;
pub use truth::{TrueSession, TrueTrip};

/// Milliseconds in a simulated minute, the fleet's time step.
pub const STEP_MS: i64 = 60_000;
const DAY_MS: i64 = 86_400_000;
const HOUR_MS: i64 = 3_600_000;

/// What to simulate.
#[derive(Debug, Clone)]
pub struct FleetConfig {
    /// Number of vehicles.
    pub vehicles: usize,
    /// Simulated days.
    pub days: u32,
    /// Seed: the same seed and start give the same history, byte for byte.
    pub seed: u64,
    /// First simulated instant (ms since the Unix epoch); rounded down to midnight UTC.
    pub start_ms: i64,
    /// What goes wrong on purpose, for the alerts to catch.
    pub faults: Faults,
}

/// Imperfections of the simulated fleet beyond Smartcar's own (late, repeated, out of
/// order deliveries): things that go wrong with the cars themselves.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Faults {
    /// A vehicle (by index) whose charger at its overnight spot delivers nothing from an
    /// instant (ms) on: plugged in every evening, never charging overnight, it reaches the
    /// morning with the charge it came home with. Public fast chargers still work.
    pub dead_home_charger: Option<(usize, i64)>,
}

/// A vehicle of the simulated fleet.
#[derive(Debug, Clone, PartialEq)]
pub struct VehicleSpec {
    /// Smartcar-style vehicle id (a UUID).
    pub id: String,
    /// Manufacturer.
    pub make: &'static str,
    /// Model.
    pub model: &'static str,
    /// Model year.
    pub year: i64,
    /// Usable battery capacity.
    pub capacity_kwh: f64,
    /// Energy used per kilometre driven.
    pub consumption_kwh_per_km: f64,
    /// Where it parks and charges overnight (latitude, longitude).
    pub depot: (f64, f64),
}

/// The state of one vehicle at one simulated minute.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Simulated time, ms since the Unix epoch.
    pub at_ms: i64,
    /// State of charge, 0..=100.
    pub soc_percent: f64,
    /// Estimated range.
    pub range_km: f64,
    /// Cable connected.
    pub plugged_in: bool,
    /// Energy flowing, finished, or not.
    pub charging: ChargingState,
    /// Degrees north.
    pub latitude: f64,
    /// Degrees east.
    pub longitude: f64,
    /// Driving during this minute.
    pub moving: bool,
    /// Distance travelled over the vehicle's life, km (the truth trips are checked against).
    pub odometer_km: f64,
}

const MODELS: &[(&str, &str, i64, f64, f64)] = &[
    ("TESLA", "Model 3", 2022, 57.5, 0.15),
    ("VOLKSWAGEN", "ID.4", 2023, 77.0, 0.18),
    ("RENAULT", "Zoe", 2021, 52.0, 0.16),
    ("HYUNDAI", "Ioniq 5", 2023, 74.0, 0.19),
    ("FORD", "E-Transit", 2023, 68.0, 0.29),
    ("KIA", "e-Niro", 2022, 64.8, 0.16),
];

/// The city the fleet drives in (Munich).
pub const CITY_CENTER: (f64, f64) = (48.137, 11.575);

/// Public fast chargers around the city.
const PUBLIC_CHARGERS: &[(f64, f64)] = &[(48.177, 11.556), (48.105, 11.601), (48.139, 11.651)];

/// Kilometres per degree of latitude.
const KM_PER_DEG_LAT: f64 = 111.2;

fn km_per_deg_lon(latitude: f64) -> f64 {
    KM_PER_DEG_LAT * latitude.to_radians().cos()
}

/// Random-looking but reproducible UUID text.
pub fn uuid_from(rng: &mut impl Rng) -> String {
    let a: u128 = rng.random();
    let hex = format!("{a:032x}");
    format!(
        "{}-{}-4{}-a{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[13..16],
        &hex[17..20],
        &hex[20..32]
    )
}

/// The fleet's vehicles for `config`.
pub fn vehicles(config: &FleetConfig) -> Vec<VehicleSpec> {
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    (0..config.vehicles)
        .map(|i| {
            let (make, model, year, capacity_kwh, consumption) = MODELS[i % MODELS.len()];
            VehicleSpec {
                id: uuid_from(&mut rng),
                make,
                model,
                year,
                capacity_kwh,
                consumption_kwh_per_km: consumption * rng.random_range(0.92..1.08),
                depot: (
                    CITY_CENTER.0 + rng.random_range(-0.04..0.04),
                    CITY_CENTER.1 + rng.random_range(-0.06..0.06),
                ),
            }
        })
        .collect()
}

/// First simulated instant of `config`: its start, at midnight UTC.
pub fn start_of(config: &FleetConfig) -> i64 {
    config.start_ms.div_euclid(DAY_MS) * DAY_MS
}

/// End (exclusive) of the simulated span.
pub fn end_of(config: &FleetConfig) -> i64 {
    start_of(config) + i64::from(config.days) * DAY_MS
}

#[derive(Debug, Clone)]
enum Activity {
    /// Parked until this instant, then decide again.
    Parked { until_ms: i64 },
    /// Driving along waypoints.
    Driving {
        waypoints: Vec<(f64, f64)>,
        km_per_min: f64,
        then: Arrival,
    },
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Arrival {
    Destination,
    Depot,
    PublicCharger,
}

/// Simulates one vehicle minute by minute.
pub struct VehicleSim {
    spec: VehicleSpec,
    rng: ChaCha8Rng,
    now_ms: i64,
    end_ms: i64,
    soc: f64,
    odometer_km: f64,
    position: (f64, f64),
    activity: Activity,
    plugged: bool,
    /// Charger power in kW while plugged.
    charger_kw: f64,
    /// Stop charging at this state of charge.
    target_soc: f64,
    /// A smart-charging pause (start, end) in ms, for tonight.
    pause: Option<(i64, i64)>,
    /// From when the charger at its overnight spot is dead ([`Faults`]).
    dead_home_charger_from_ms: Option<i64>,
    /// Today's departure and return times.
    depart_ms: i64,
    return_ms: i64,
    sessions: Vec<TrueSession>,
    trips: Vec<TrueTrip>,
}

impl VehicleSim {
    /// A vehicle of `config` (by index into [`vehicles`]).
    pub fn new(config: &FleetConfig, spec: VehicleSpec, index: usize) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed ^ ((index as u64 + 1) * 0x9E37_79B9));
        let start = start_of(config);
        let soc = rng.random_range(45.0..95.0);
        let odometer_km = rng.random_range(3_000.0..90_000.0);
        let mut sim = VehicleSim {
            position: spec.depot,
            spec,
            now_ms: start,
            end_ms: end_of(config),
            soc,
            odometer_km,
            activity: Activity::Parked { until_ms: start },
            plugged: false,
            charger_kw: 0.0,
            target_soc: 90.0,
            pause: None,
            dead_home_charger_from_ms: config
                .faults
                .dead_home_charger
                .filter(|(vehicle, _)| *vehicle == index)
                .map(|(_, from)| from),
            depart_ms: 0,
            return_ms: 0,
            sessions: Vec::new(),
            trips: Vec::new(),
            rng,
        };
        sim.plan_day(start);
        sim.activity = Activity::Parked {
            until_ms: sim.depart_ms,
        };
        sim
    }

    /// The vehicle simulated.
    pub fn spec(&self) -> &VehicleSpec {
        &self.spec
    }

    /// Plug-ins so far (complete once the iterator is exhausted).
    pub fn sessions(&self) -> &[TrueSession] {
        &self.sessions
    }

    /// Drives so far.
    pub fn trips(&self) -> &[TrueTrip] {
        &self.trips
    }

    fn plan_day(&mut self, day_start_ms: i64) {
        self.depart_ms = day_start_ms + 6 * HOUR_MS + self.rng.random_range(0..150) * STEP_MS;
        self.return_ms = day_start_ms + 16 * HOUR_MS + self.rng.random_range(0..180) * STEP_MS;
    }

    fn range_km(&self) -> f64 {
        self.soc / 100.0 * self.spec.capacity_kwh / self.spec.consumption_kwh_per_km
    }

    fn plug_in(&mut self, charger_kw: f64, target_soc: f64) {
        self.plugged = true;
        self.charger_kw = charger_kw;
        self.target_soc = target_soc;
        self.sessions.push(TrueSession {
            plugged_at_ms: self.now_ms,
            unplugged_at_ms: None,
            start_percent: self.soc,
            end_percent: self.soc,
            energy_kwh: 0.0,
            place: self.position,
        });
        // Some nights the owner's tariff pauses charging for a few hours.
        self.pause = None;
        if charger_kw < 20.0 && self.rng.random_bool(0.3) {
            let day = self.now_ms.div_euclid(DAY_MS) * DAY_MS;
            let start = day + 22 * HOUR_MS + self.rng.random_range(0..60) * STEP_MS;
            self.pause = Some((start, start + self.rng.random_range(90..240) * STEP_MS));
        }
    }

    fn unplug(&mut self) {
        if self.plugged {
            self.plugged = false;
            if let Some(session) = self.sessions.last_mut() {
                session.unplugged_at_ms = Some(self.now_ms);
                session.end_percent = self.soc;
            }
        }
    }

    fn drive_to(&mut self, destination: (f64, f64), then: Arrival) {
        self.unplug();
        // Streets run north-south and east-west: turn once at a corner.
        let corner = if self.rng.random_bool(0.5) {
            (self.position.0, destination.1)
        } else {
            (destination.0, self.position.1)
        };
        self.trips.push(TrueTrip {
            parked_until_ms: self.now_ms - STEP_MS,
            arrived_at_ms: None,
            distance_km: 0.0,
        });
        self.activity = Activity::Driving {
            waypoints: vec![corner, destination],
            km_per_min: self.rng.random_range(0.45..0.85),
            then,
        };
    }

    fn random_destination(&mut self) -> (f64, f64) {
        (
            CITY_CENTER.0 + self.rng.random_range(-0.09..0.09),
            CITY_CENTER.1 + self.rng.random_range(-0.13..0.13),
        )
    }

    /// Decides what to do when parked time is up.
    fn decide(&mut self) {
        let at_depot = self.position == self.spec.depot;
        if self.now_ms >= self.return_ms {
            if at_depot {
                // Tomorrow's plan; sleep until then.
                let tomorrow = (self.now_ms.div_euclid(DAY_MS) + 1) * DAY_MS;
                self.plan_day(tomorrow);
                self.activity = Activity::Parked {
                    until_ms: self.depart_ms,
                };
            } else {
                let depot = self.spec.depot;
                self.drive_to(depot, Arrival::Depot);
            }
        } else if self.soc < 22.0 && !self.plugged {
            let charger = PUBLIC_CHARGERS[self.rng.random_range(0..PUBLIC_CHARGERS.len())];
            self.drive_to(charger, Arrival::PublicCharger);
        } else {
            let destination = self.random_destination();
            self.drive_to(destination, Arrival::Destination);
        }
    }

    fn arrive(&mut self, arrival: Arrival) {
        match arrival {
            Arrival::Destination => {
                let minutes = self.rng.random_range(15..120);
                self.activity = Activity::Parked {
                    until_ms: self.now_ms + minutes * STEP_MS,
                };
            }
            Arrival::PublicCharger => {
                self.plug_in(50.0, 80.0);
                // Leave when charged: decided minute by minute in `step`.
                self.activity = Activity::Parked { until_ms: i64::MAX };
            }
            Arrival::Depot => {
                // The driver of a car with a dead charger plugs in every evening all the
                // same: that is the trouble (the draw is made either way, so the rest of
                // its day stays as it would have been).
                let plugs = self.rng.random_bool(0.9);
                if plugs || self.dead_home_charger_from_ms.is_some() {
                    self.plug_in(11.0, 90.0);
                }
                let tomorrow = (self.now_ms.div_euclid(DAY_MS) + 1) * DAY_MS;
                self.plan_day(tomorrow);
                self.activity = Activity::Parked {
                    until_ms: self.depart_ms,
                };
            }
        }
    }

    /// Charges for one minute; returns the state to report.
    fn charge_minute(&mut self) -> ChargingState {
        if !self.plugged {
            return ChargingState::NotCharging;
        }
        if self.position == self.spec.depot
            && self
                .dead_home_charger_from_ms
                .is_some_and(|from| self.now_ms >= from)
        {
            return ChargingState::NotCharging;
        }
        if self.soc >= self.target_soc - 0.05 {
            return ChargingState::FullyCharged;
        }
        if let Some((start, end)) = self.pause
            && (start..end).contains(&self.now_ms)
        {
            return ChargingState::NotCharging;
        }
        // Full power up to 80 %, then tapering to a fifth of it at 100 %.
        let taper = if self.soc < 80.0 {
            1.0
        } else {
            1.0 - 0.8 * (self.soc - 80.0) / 20.0
        };
        let energy_kwh = self.charger_kw * taper / 60.0;
        let added = (energy_kwh / self.spec.capacity_kwh * 100.0).min(self.target_soc - self.soc);
        self.soc += added;
        if let Some(session) = self.sessions.last_mut() {
            session.energy_kwh += added / 100.0 * self.spec.capacity_kwh;
            session.end_percent = self.soc;
        }
        ChargingState::Charging
    }

    fn step(&mut self) -> Sample {
        let mut moving = false;
        match &mut self.activity {
            Activity::Parked { until_ms } => {
                let leave_charger = *until_ms == i64::MAX && self.soc >= self.target_soc - 0.05;
                if self.now_ms >= *until_ms || leave_charger {
                    self.decide();
                }
            }
            Activity::Driving { .. } => {}
        }
        let mut arrived = None;
        if let Activity::Driving {
            waypoints,
            km_per_min,
            then,
        } = &mut self.activity
        {
            moving = true;
            let mut budget_km = *km_per_min;
            while budget_km > 0.0 && !waypoints.is_empty() {
                let target = waypoints[0];
                let dlat_km = (target.0 - self.position.0) * KM_PER_DEG_LAT;
                let dlon_km = (target.1 - self.position.1) * km_per_deg_lon(self.position.0);
                let distance = dlat_km.hypot(dlon_km);
                if distance <= budget_km {
                    self.position = target;
                    waypoints.remove(0);
                    budget_km -= distance;
                } else {
                    let f = budget_km / distance;
                    self.position.0 += (target.0 - self.position.0) * f;
                    self.position.1 += (target.1 - self.position.1) * f;
                    budget_km = 0.0;
                }
            }
            let driven = *km_per_min - budget_km;
            self.odometer_km += driven;
            if let Some(trip) = self.trips.last_mut() {
                trip.distance_km += driven;
                if waypoints.is_empty() {
                    trip.arrived_at_ms = Some(self.now_ms);
                }
            }
            let used = driven * self.spec.consumption_kwh_per_km;
            self.soc = (self.soc - used / self.spec.capacity_kwh * 100.0).max(0.0);
            if waypoints.is_empty() {
                arrived = Some(*then);
            }
        }
        let charging = self.charge_minute();
        let sample = Sample {
            at_ms: self.now_ms,
            soc_percent: (self.soc * 10.0).round() / 10.0,
            range_km: (self.range_km() * 10.0).round() / 10.0,
            plugged_in: self.plugged,
            charging,
            latitude: (self.position.0 * 1e5).round() / 1e5,
            longitude: (self.position.1 * 1e5).round() / 1e5,
            moving,
            odometer_km: (self.odometer_km * 1000.0).round() / 1000.0,
        };
        if let Some(arrival) = arrived {
            self.arrive(arrival);
        }
        self.now_ms += STEP_MS;
        sample
    }
}

impl Iterator for VehicleSim {
    type Item = Sample;

    fn next(&mut self) -> Option<Sample> {
        (self.now_ms < self.end_ms).then(|| self.step())
    }
}

#[cfg(test)]
mod tests;
