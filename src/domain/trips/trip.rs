//! A detected trip and how its distance was measured.

use serde::{Deserialize, Serialize};

use super::SPARSE_MS;

/// How a trip's distance was measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DistanceSource {
    /// Odometer at both ends.
    Odometer,
    /// Great-circle sum between positions.
    Gps,
}

impl DistanceSource {
    /// The spelling of the `distance_source` column.
    pub fn as_str(self) -> &'static str {
        match self {
            DistanceSource::Odometer => "odometer",
            DistanceSource::Gps => "gps",
        }
    }
}

/// A detected trip.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trip {
    /// The last reading at the parked place before leaving.
    pub started_at_ms: i64,
    /// The first reading of the place where it stayed; `None` while still moving.
    pub ended_at_ms: Option<i64>,
    /// The last reading of the trip (the end once ended).
    pub last_seen_ms: i64,
    /// Where it started.
    pub start: (f64, f64),
    /// Where it ended (or the latest position while ongoing).
    pub end: (f64, f64),
    /// Great-circle sum between consecutive positions, km.
    pub gps_km: f64,
    /// Odometer at the start, km.
    pub start_odometer_km: Option<f64>,
    /// Odometer at the end, km.
    pub end_odometer_km: Option<f64>,
    /// State of charge at the start.
    pub start_percent: Option<f64>,
    /// State of charge at the end.
    pub end_percent: Option<f64>,
    /// The longest time between two consecutive readings of the trip.
    pub gap_ms: i64,
}

impl Trip {
    /// Still moving at the last reading.
    pub fn is_ongoing(&self) -> bool {
        self.ended_at_ms.is_none()
    }

    /// The distance and how it was measured: the odometer difference when both ends have
    /// one and it is plausible, else the GPS sum.
    pub fn distance(&self) -> (f64, DistanceSource) {
        if let (Some(a), Some(b)) = (self.start_odometer_km, self.end_odometer_km) {
            let odometer = b - a;
            // A reset or a unit mix-up must not make a trip of thousands of km.
            if odometer >= 0.0 && odometer <= self.gps_km * 3.0 + 5.0 {
                return (odometer, DistanceSource::Odometer);
            }
        }
        (self.gps_km, DistanceSource::Gps)
    }

    /// Minutes from start to end (or to the last reading while ongoing).
    pub fn duration_min(&self) -> f64 {
        (self.ended_at_ms.unwrap_or(self.last_seen_ms) - self.started_at_ms) as f64 / 60_000.0
    }

    /// Energy used, kWh: the percent drop times the usable capacity (never negative).
    pub fn energy_kwh(&self, capacity_kwh: f64) -> Option<f64> {
        let drop = self.start_percent? - self.end_percent?;
        Some((drop.max(0.0) / 100.0 * capacity_kwh).max(0.0)).filter(|e| e.is_finite())
    }

    /// Readings further apart than [`SPARSE_MS`]: its ends are uncertain by about that.
    pub fn is_uncertain(&self) -> bool {
        self.gap_ms > SPARSE_MS
    }

    /// Whether `at_ms` falls within the trip.
    pub fn contains(&self, at_ms: i64) -> bool {
        self.started_at_ms <= at_ms && at_ms <= self.ended_at_ms.unwrap_or(self.last_seen_ms)
    }
}
