//! One `readings` row per vehicle and moment: what a delivery carries, folded by time.

use std::collections::BTreeMap;

use crate::domain::{ChargingState, Readings};

/// Everything known about one vehicle at one moment: one `readings` row.
#[derive(Debug, Default)]
pub(super) struct Moment {
    pub recorded_at_ms: i64,
    pub battery_percent: Option<f64>,
    pub range_km: Option<f64>,
    pub plugged_in: Option<bool>,
    pub charging_state: Option<ChargingState>,
    pub position: Option<(f64, f64)>,
    pub odometer_km: Option<f64>,
}

/// Folds battery, charge, location and odometer readings taken at the same moment into one row.
pub(super) fn merge_by_time(readings: &Readings) -> Vec<Moment> {
    let mut moments: BTreeMap<i64, Moment> = BTreeMap::new();
    fn at(moments: &mut BTreeMap<i64, Moment>, t: i64) -> &mut Moment {
        moments.entry(t).or_insert_with(|| Moment {
            recorded_at_ms: t,
            ..Moment::default()
        })
    }
    for r in &readings.battery {
        let m = at(&mut moments, r.recorded_at_ms);
        m.battery_percent = r.percent.or(m.battery_percent);
        m.range_km = r.range_km.or(m.range_km);
    }
    for r in &readings.charge {
        let m = at(&mut moments, r.recorded_at_ms);
        m.plugged_in = r.plugged_in.or(m.plugged_in);
        m.charging_state = r.state.or(m.charging_state);
    }
    for r in &readings.locations {
        at(&mut moments, r.recorded_at_ms).position = Some((r.latitude, r.longitude));
    }
    for r in &readings.odometer {
        at(&mut moments, r.recorded_at_ms).odometer_km = Some(r.km);
    }
    moments.into_values().collect()
}
