//! The simulated fleet's physics and determinism.

use super::*;

fn config() -> FleetConfig {
    FleetConfig {
        vehicles: 4,
        days: 3,
        seed: 7,
        start_ms: 1_767_225_600_000, // 2026-01-01
    }
}

#[test]
fn the_same_seed_gives_the_same_history() {
    let run = || {
        let config = config();
        vehicles(&config)
            .into_iter()
            .enumerate()
            .flat_map(|(i, spec)| VehicleSim::new(&config, spec, i).collect::<Vec<_>>())
            .collect::<Vec<_>>()
    };
    let first = run();
    assert_eq!(first.len(), 4 * 3 * 1440);
    assert_eq!(first, run());
}

#[test]
fn vehicles_drive_plug_in_and_charge_within_physical_bounds() {
    let config = config();
    for (i, spec) in vehicles(&config).into_iter().enumerate() {
        let mut sim = VehicleSim::new(&config, spec, i);
        let samples: Vec<Sample> = sim.by_ref().collect();
        assert!(samples.iter().any(|s| s.moving), "vehicle {i} never drove");
        assert!(
            samples
                .iter()
                .any(|s| s.charging == ChargingState::Charging)
        );
        for s in &samples {
            assert!((0.0..=100.0).contains(&s.soc_percent));
            assert!(!(s.moving && s.plugged_in), "driving while plugged in");
            assert!(s.plugged_in || s.charging == ChargingState::NotCharging);
            assert!((s.latitude - CITY_CENTER.0).abs() < 0.2);
        }
        for session in sim.sessions() {
            assert!(session.end_percent >= session.start_percent - 1e-9);
            assert!(session.energy_kwh >= 0.0);
        }
        assert!(!sim.sessions().is_empty());
    }
}
