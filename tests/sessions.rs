//! Charging-session detection, driven by data: reading sequences as Smartcar delivers them,
//! properties over random ones, and the simulated fleet whose true sessions are known.

use fleetdash::domain::ChargingState::{self, Charging, FullyCharged, NotCharging};
use fleetdash::domain::sessions::{Point, Session, detect_sessions};
use proptest::prelude::*;

const T0: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z
const MIN: i64 = 60_000;

/// A reading `minute` minutes after T0.
fn at(minute: i64, soc: f64, plugged: Option<bool>, charging: Option<ChargingState>) -> Point {
    Point {
        at_ms: T0 + minute * MIN,
        soc_percent: Some(soc),
        plugged_in: plugged,
        charging,
        position: Some((48.1, 11.5)),
    }
}

/// One line per session: start-end minutes, start-end %, segments, flags.
fn summary(sessions: &[Session]) -> Vec<String> {
    sessions
        .iter()
        .map(|s| {
            format!(
                "{}-{} {:?}->{:?} seg={} {}{}",
                (s.started_at_ms - T0) / MIN,
                s.ended_at_ms
                    .map_or("open".to_string(), |e| ((e - T0) / MIN).to_string()),
                s.start_percent,
                s.end_percent,
                s.segments,
                if s.is_ongoing() {
                    "ongoing"
                } else {
                    "complete"
                },
                if s.inferred { " inferred" } else { "" },
            )
        })
        .collect()
}

fn check(points: &[Point], expected: &[&str]) {
    assert_eq!(summary(&detect_sessions(points)), expected);
}

const Y: Option<bool> = Some(true);
const N: Option<bool> = Some(false);

#[test]
fn a_clean_session() {
    check(
        &[
            at(0, 40.0, N, Some(NotCharging)),
            at(30, 40.0, Y, Some(Charging)),
            at(90, 70.0, Y, Some(Charging)),
            at(150, 90.0, Y, Some(FullyCharged)),
            at(600, 90.0, N, Some(NotCharging)),
        ],
        &["30-600 Some(40.0)->Some(90.0) seg=1 complete"],
    );
}

#[test]
fn a_pause_while_plugged_in_does_not_split_the_session() {
    let sessions = detect_sessions(&[
        at(0, 30.0, Y, Some(Charging)),
        at(60, 45.0, Y, Some(NotCharging)),
        at(180, 45.0, Y, Some(NotCharging)),
        at(240, 60.0, Y, Some(Charging)),
        at(300, 75.0, Y, Some(FullyCharged)),
        at(420, 75.0, N, Some(NotCharging)),
    ]);
    assert_eq!(
        summary(&sessions),
        ["0-420 Some(30.0)->Some(75.0) seg=2 complete"]
    );
    // Charging time excludes the pause: 0-60 and 180-300 (the reading at 180 still said
    // not charging, so 180-240 counts as paused).
    assert_eq!(sessions[0].charging_minutes, 60.0 + 60.0);
}

#[test]
fn a_session_between_two_deliveries_is_inferred_from_the_rise_in_charge() {
    let sessions = detect_sessions(&[
        at(0, 35.0, N, Some(NotCharging)),
        at(60, 34.0, N, Some(NotCharging)),
        at(240, 80.0, N, Some(NotCharging)),
    ]);
    assert_eq!(
        summary(&sessions),
        ["60-240 Some(34.0)->Some(80.0) seg=1 complete inferred"]
    );
    assert_eq!(sessions[0].start_uncertainty_min, 180.0);
}

#[test]
fn without_plug_information_a_charging_stretch_stands_alone() {
    // v2 eventBased only: CHARGING_STARTED, CHARGING_STOPPED, then again the next day.
    let event = |minute, state| Point {
        at_ms: T0 + minute * MIN,
        charging: Some(state),
        ..Point::default()
    };
    check(
        &[
            event(0, Charging),
            event(120, NotCharging),
            event(1440, Charging),
            event(1500, FullyCharged),
        ],
        &[
            "0-120 None->None seg=1 complete",
            "1440-1500 None->None seg=1 complete",
        ],
    );
}

#[test]
fn an_unplug_without_any_charging_is_no_session() {
    check(
        &[
            at(0, 90.0, N, Some(NotCharging)),
            at(10, 90.0, Y, Some(FullyCharged)),
            at(400, 90.0, Y, Some(FullyCharged)),
            at(410, 90.0, N, Some(NotCharging)),
        ],
        &[],
    );
}

#[test]
fn a_session_still_open_at_the_end_of_the_data_is_ongoing() {
    let sessions = detect_sessions(&[
        at(0, 20.0, N, Some(NotCharging)),
        at(5, 20.0, Y, Some(Charging)),
        at(65, 40.0, Y, Some(Charging)),
    ]);
    assert_eq!(
        summary(&sessions),
        ["5-open Some(20.0)->Some(40.0) seg=1 ongoing"]
    );
    assert_eq!(sessions[0].duration_min(), 60.0);
    assert_eq!(sessions[0].energy_kwh(60.0), Some(12.0));
}

#[test]
fn a_plug_in_first_seen_after_the_charge_rose_starts_from_the_last_known_charge() {
    check(
        &[
            at(0, 25.0, N, Some(NotCharging)),
            at(180, 70.0, Y, Some(Charging)),
            at(240, 80.0, N, Some(NotCharging)),
        ],
        &["180-240 Some(25.0)->Some(80.0) seg=1 complete"],
    );
}

fn clean_day() -> Vec<Point> {
    vec![
        at(0, 50.0, N, Some(NotCharging)),
        at(60, 45.0, N, Some(NotCharging)),
        at(120, 45.0, Y, Some(Charging)),
        at(180, 60.0, Y, Some(NotCharging)),
        at(240, 60.0, Y, Some(Charging)),
        at(300, 80.0, Y, Some(FullyCharged)),
        at(500, 80.0, N, Some(NotCharging)),
        at(700, 70.0, N, Some(NotCharging)),
        at(760, 70.0, Y, Some(Charging)),
        at(800, 85.0, Y, Some(Charging)),
    ]
}

#[test]
fn duplicates_and_late_deliveries_change_nothing() {
    let expected = detect_sessions(&clean_day());
    let mut shuffled = clean_day();
    shuffled.reverse();
    shuffled.extend(clean_day().into_iter().step_by(3));
    assert_eq!(detect_sessions(&shuffled), expected);
    assert_eq!(expected.len(), 2);
}

// ---------------------------------------------------------------------------------------
// Properties.

fn arbitrary_points() -> impl Strategy<Value = Vec<Point>> {
    let point = (
        0i64..5000,
        prop::option::of(0.0f64..100.0),
        prop::option::of(any::<bool>()),
        prop::option::of(prop_oneof![
            Just(Charging),
            Just(NotCharging),
            Just(FullyCharged)
        ]),
    )
        .prop_map(|(minute, soc, plugged, charging)| Point {
            at_ms: T0 + minute * MIN,
            soc_percent: soc.map(|s| (s * 10.0).round() / 10.0),
            plugged_in: plugged,
            charging,
            position: None,
        });
    prop::collection::vec(point, 0..80)
}

proptest! {
    #[test]
    fn sessions_never_overlap_run_forward_and_add_no_negative_energy(points in arbitrary_points()) {
        let sessions = detect_sessions(&points);
        for s in &sessions {
            prop_assert!(s.started_at_ms <= s.ended_at_ms.unwrap_or(s.last_seen_ms));
            prop_assert!(s.energy_kwh(50.0).unwrap_or(0.0) >= 0.0);
            prop_assert!(s.duration_min() >= 0.0);
        }
        for pair in sessions.windows(2) {
            let first_end = pair[0].ended_at_ms.unwrap_or(pair[0].last_seen_ms);
            prop_assert!(first_end <= pair[1].started_at_ms, "{:?}", pair);
            prop_assert!(!pair[0].is_ongoing());
        }
    }

    #[test]
    fn any_permutation_gives_identical_sessions(
        points in arbitrary_points(),
        seed in any::<u64>(),
    ) {
        // Readings at the same moment are one row in the store: keep one per moment.
        let mut unique = points.clone();
        unique.sort_by_key(|p| p.at_ms);
        unique.dedup_by_key(|p| p.at_ms);
        let expected = detect_sessions(&unique);
        let mut shuffled = unique.clone();
        let mut state = seed | 1;
        for i in (1..shuffled.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            shuffled.swap(i, (state % (i as u64 + 1)) as usize);
        }
        prop_assert_eq!(detect_sessions(&shuffled), expected);
    }
}

// ---------------------------------------------------------------------------------------
// Against the simulated fleet, whose true sessions are known.

use fleetdash::sim::fleet::FleetConfig;
use fleetdash::sim::schedule::Schedule;
use fleetdash::smartcar::{Format, parse_webhook};
use fleetdash::store::{self, Batch, StoreOptions};

/// Stores the fleet's deliveries through the store, reads each vehicle's readings back and
/// detects sessions; compares them with the simulation's truth.
fn fleet_check(format: Format, seed: u64) -> (usize, usize, usize, usize, f64) {
    let config = FleetConfig {
        vehicles: 6,
        days: 14,
        seed,
        start_ms: T0,
        faults: Default::default(),
    };
    let dir = tempfile::tempdir().unwrap();
    let mut conn = store::open(&dir.path().join("s.sqlite3"), &StoreOptions::default()).unwrap();
    let mut schedule = Schedule::new(&config, format);
    let specs = schedule.specs().to_vec();
    let mut batch = Batch::begin(&mut conn).unwrap();
    for delivery in schedule.by_ref() {
        let parsed = parse_webhook(&delivery.body, delivery.at_ms);
        batch
            .ingest(delivery.at_ms, &delivery.body, &parsed)
            .unwrap();
    }
    batch.commit().unwrap();
    let truth = schedule.sessions();

    let (mut real, mut found, mut split, mut energy_ok) = (0, 0, 0, 0);
    let mut worst_energy_error: f64 = 0.0;
    for (spec, true_sessions) in specs.iter().zip(truth) {
        let detected = fleetdash::store::sessions::vehicle_sessions(&conn, &spec.id).unwrap();
        for t in true_sessions.iter().filter(|t| t.energy_kwh >= 0.5) {
            real += 1;
            let t_end = t.unplugged_at_ms.unwrap_or(i64::MAX);
            let matching: Vec<&Session> = detected
                .iter()
                .filter(|d| {
                    let d_end = d.ended_at_ms.unwrap_or(d.last_seen_ms);
                    d.started_at_ms <= t_end && d_end >= t.plugged_at_ms
                })
                .collect();
            if !matching.is_empty() {
                found += 1;
            }
            if matching.len() > 1 {
                split += 1;
            }
            if let [d] = matching.as_slice() {
                let energy = d.energy_kwh(spec.capacity_kwh).unwrap_or(0.0);
                let error = (energy - t.energy_kwh).abs() / t.energy_kwh;
                worst_energy_error = worst_energy_error.max(error);
                if error <= 0.05 {
                    energy_ok += 1;
                }
            }
        }
    }
    (real, found, split, energy_ok, worst_energy_error)
}

#[test]
fn against_the_simulated_fleet_sessions_are_found_whole_with_the_right_energy() {
    for (format, seed) in [(Format::V4, 11), (Format::V4, 12), (Format::V2, 11)] {
        let (real, found, split, energy_ok, worst) = fleet_check(format, seed);
        eprintln!(
            "{format:?} seed {seed}: {found}/{real} true sessions found ({:.1} %), {split} split, \
             energy within 5 % for {energy_ok}, worst error {:.1} %",
            found as f64 * 100.0 / real as f64,
            worst * 100.0
        );
        assert!(real > 50, "too few sessions to judge: {real}");
        assert!(found * 100 >= real * 99, "{found}/{real} found");
        assert_eq!(split, 0);
        if format == Format::V4 {
            assert_eq!(
                energy_ok,
                found,
                "worst energy error {:.1} %",
                worst * 100.0
            );
        }
    }
}

#[test]
fn reprocess_gives_the_same_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.sqlite3");
    let config = FleetConfig {
        vehicles: 3,
        days: 3,
        seed: 2,
        start_ms: T0,
        faults: Default::default(),
    };
    {
        let mut conn = store::open(&db, &StoreOptions::default()).unwrap();
        let mut batch = Batch::begin(&mut conn).unwrap();
        for delivery in Schedule::new(&config, Format::V4) {
            let parsed = parse_webhook(&delivery.body, delivery.at_ms);
            batch
                .ingest(delivery.at_ms, &delivery.body, &parsed)
                .unwrap();
        }
        batch.commit().unwrap();
    }
    let export = || {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_fleetdash"))
            .args(["export", "sessions", "--db", db.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(output.status.success());
        output.stdout
    };
    let before = export();
    assert!(String::from_utf8_lossy(&before).lines().count() > 5);
    let reprocessed = std::process::Command::new(env!("CARGO_BIN_EXE_fleetdash"))
        .args(["reprocess", "--db", db.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(reprocessed.status.success());
    assert_eq!(export(), before);
}
