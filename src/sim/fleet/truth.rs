//! What really happened in the simulation, to check what fleetdash derives against.

/// A plug-in as it really happened, for checking what fleetdash derives from readings.
#[derive(Debug, Clone, PartialEq)]
pub struct TrueSession {
    /// When the cable was connected.
    pub plugged_at_ms: i64,
    /// When it was disconnected (`None` while still plugged at the end).
    pub unplugged_at_ms: Option<i64>,
    /// State of charge at plug-in.
    pub start_percent: f64,
    /// State of charge at unplug (or at the end).
    pub end_percent: f64,
    /// Energy put into the battery.
    pub energy_kwh: f64,
    /// Where (latitude, longitude).
    pub place: (f64, f64),
}

/// A drive as it really happened, for checking the trips fleetdash derives.
#[derive(Debug, Clone, PartialEq)]
pub struct TrueTrip {
    /// The last minute parked before it moved.
    pub parked_until_ms: i64,
    /// The minute it arrived (`None` while still driving at the end).
    pub arrived_at_ms: Option<i64>,
    /// Distance driven, km.
    pub distance_km: f64,
}
