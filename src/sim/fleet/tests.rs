//! The simulated fleet's physics and determinism.

use super::*;

fn config() -> FleetConfig {
    FleetConfig {
        vehicles: 4,
        days: 3,
        seed: 7,
        start_ms: 1_767_225_600_000, // 2026-01-01
        faults: Default::default(),
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

#[test]
fn a_dead_home_charger_leaves_its_car_plugged_in_and_not_charging_at_home_only() {
    let healthy = config();
    let dead_from = healthy.start_ms + DAY_MS;
    let mut config = config();
    config.faults.dead_home_charger = Some((2, dead_from));
    for (i, spec) in vehicles(&config).into_iter().enumerate() {
        let faulty: Vec<Sample> = VehicleSim::new(&config, spec.clone(), i).collect();
        let before: Vec<Sample> = VehicleSim::new(&healthy, spec.clone(), i).collect();
        if i != 2 {
            assert_eq!(faulty, before, "vehicle {i} is not the faulty one");
            continue;
        }
        // Samples round positions to 1e-5 degrees.
        let at_home = |s: &&Sample| {
            (s.latitude - spec.depot.0).abs() < 1e-4
                && (s.longitude - spec.depot.1).abs() < 1e-4
                && s.plugged_in
        };
        assert!(
            faulty
                .iter()
                .filter(at_home)
                .filter(|s| s.at_ms >= dead_from)
                .all(|s| s.charging == ChargingState::NotCharging),
            "never charges at home once the charger is dead"
        );
        assert!(
            faulty.iter().filter(at_home).any(|s| s.at_ms >= dead_from),
            "but is plugged in there"
        );
        assert!(
            faulty
                .iter()
                .filter(at_home)
                .any(|s| s.at_ms < dead_from && s.charging == ChargingState::Charging),
            "and charged there before"
        );
    }
}
