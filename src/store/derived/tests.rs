//! The materialised sessions and trips equal a detection over every reading, whatever the
//! order and batching in which the readings arrived.

use proptest::prelude::*;
use rusqlite::Connection;

use super::{detect_all, sessions, trips};
use crate::domain::{
    BatteryReading, ChargeReading, ChargingState, LocationReading, OdometerReading, Readings,
    Source,
};
use crate::store::{self, Batch, StoreOptions};

const VEHICLE: &str = "v1";

/// One reading with any of its parts (a delivery may carry only some).
#[derive(Debug, Clone)]
struct Part {
    at_ms: i64,
    soc: Option<f64>,
    plugged: Option<bool>,
    charging: Option<ChargingState>,
    position: Option<(f64, f64)>,
    odometer: Option<f64>,
}

fn readings_of(parts: &[Part]) -> Readings {
    let mut r = Readings::default();
    for p in parts {
        if p.soc.is_some() {
            r.battery.push(BatteryReading {
                recorded_at_ms: p.at_ms,
                percent: p.soc,
                range_km: None,
            });
        }
        if p.plugged.is_some() || p.charging.is_some() {
            r.charge.push(ChargeReading {
                recorded_at_ms: p.at_ms,
                plugged_in: p.plugged,
                state: p.charging,
            });
        }
        if let Some((latitude, longitude)) = p.position {
            r.locations.push(LocationReading {
                recorded_at_ms: p.at_ms,
                latitude,
                longitude,
            });
        }
        if let Some(km) = p.odometer {
            r.odometer.push(OdometerReading {
                recorded_at_ms: p.at_ms,
                km,
            });
        }
    }
    r
}

fn open() -> (tempfile::TempDir, Connection) {
    let dir = tempfile::tempdir().expect("temp dir");
    let options = StoreOptions {
        create: true,
        ..StoreOptions::default()
    };
    let conn = store::open(&dir.path().join("fleet.sqlite3"), &options).expect("open");
    (dir, conn)
}

/// Stores `batches` one transaction each, in the order given.
fn ingest(conn: &mut Connection, batches: &[Vec<Part>]) {
    for parts in batches {
        let mut batch = Batch::begin(conn).expect("begin");
        batch
            .store_readings(VEHICLE, None, &readings_of(parts), Source::Webhook, None)
            .expect("store");
        batch.commit().expect("commit");
    }
}

fn assert_materialised_equals_full(conn: &Connection) -> Result<(), TestCaseError> {
    let (expected_sessions, expected_trips) = detect_all(conn, VEHICLE).expect("detect");
    prop_assert_eq!(
        sessions(conn, VEHICLE, None).expect("sessions"),
        expected_sessions
    );
    prop_assert_eq!(trips(conn, VEHICLE, None).expect("trips"), expected_trips);
    Ok(())
}

/// A day of a car's life, in minutes: parked with jitter, driving away, charging; parts of
/// readings missing as in sparse deliveries. Spans UTC midnights (checkpoints).
fn arbitrary_life() -> impl Strategy<Value = Vec<Part>> {
    prop::collection::vec(
        (
            1i64..40,           // minutes since the previous reading
            0u8..10,            // what the car does: 0..=2 drive, 3 plug, 4 unplug, else stand
            any::<[bool; 5]>(), // which parts the reading carries
            -30.0f64..30.0,     // jitter, metres
        ),
        1..160,
    )
    .prop_map(|steps| {
        let mut at_ms = 1_700_000_000_000 - 3 * 3_600_000;
        let (mut lat, lon, mut soc, mut odometer) = (52.5, 13.4, 60.0, 1000.0);
        let mut plugged = false;
        steps
            .into_iter()
            .map(|(minutes, action, carries, jitter)| {
                at_ms += minutes * 60_000;
                match action {
                    0..=2 if !plugged => {
                        let km = minutes as f64 * 0.6;
                        lat += km / 111.0;
                        odometer += km;
                        soc = (soc - km * 0.2).max(0.0);
                    }
                    3 => plugged = true,
                    4 => plugged = false,
                    _ if plugged => soc = (soc + minutes as f64 * 0.3).min(100.0),
                    _ => {}
                }
                let jitter_deg = jitter / 111_000.0;
                Part {
                    at_ms,
                    soc: carries[0].then_some(soc),
                    plugged: carries[1].then_some(plugged),
                    charging: carries[2].then_some(if plugged && soc < 100.0 {
                        ChargingState::Charging
                    } else {
                        ChargingState::NotCharging
                    }),
                    position: carries[3].then_some((lat + jitter_deg, lon + jitter_deg)),
                    odometer: carries[4].then_some(odometer),
                }
            })
            .collect()
    })
}

/// Cuts `parts` into batches after shuffling with `seed`; some parts come twice.
fn shuffled_batches(parts: &[Part], seed: u64, late_share: u8) -> Vec<Vec<Part>> {
    let mut state = seed | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    // Most arrive in order; a share arrives late (moved back by a random amount).
    let mut order: Vec<(usize, &Part)> = parts.iter().enumerate().collect();
    for i in 0..order.len() {
        if next() % 100 < u64::from(late_share) {
            let j = (i + (next() % 40) as usize).min(order.len() - 1);
            order.swap(i, j);
        }
    }
    let mut batches = Vec::new();
    let mut current = Vec::new();
    for (_, part) in order {
        current.push(part.clone());
        if next() % 5 == 0 {
            current.push(part.clone());
        }
        if next() % 7 == 0 {
            batches.push(std::mem::take(&mut current));
        }
    }
    batches.push(current);
    batches
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn materialised_sessions_and_trips_equal_a_full_detection_in_any_arrival_order(
        life in arbitrary_life(),
        seed in any::<u64>(),
        late_share in 0u8..60,
    ) {
        let (_dir, mut conn) = open();
        ingest(&mut conn, &shuffled_batches(&life, seed, late_share));
        assert_materialised_equals_full(&conn)?;
    }
}

#[test]
fn a_simulated_week_delivered_late_and_in_pieces_derives_what_a_full_detection_does() {
    use crate::sim::fleet::{FleetConfig, VehicleSim, vehicles};
    let config = FleetConfig {
        vehicles: 1,
        days: 7,
        seed: 5,
        start_ms: 1_767_225_600_000,
        faults: Default::default(),
    };
    let spec = vehicles(&config).remove(0);
    // Every third minute, as a sparse v4 car: enough for trips and sessions.
    let parts: Vec<Part> = VehicleSim::new(&config, spec, 0)
        .step_by(3)
        .map(|s| Part {
            at_ms: s.at_ms,
            soc: Some(s.soc_percent),
            plugged: Some(s.plugged_in),
            charging: Some(s.charging),
            position: Some((s.latitude, s.longitude)),
            odometer: Some(s.odometer_km),
        })
        .collect();
    let (_dir, mut conn) = open();
    ingest(&mut conn, &shuffled_batches(&parts, 99, 20));
    let (expected_sessions, expected_trips) = detect_all(&conn, VEHICLE).expect("detect");
    assert!(expected_sessions.len() >= 5, "{expected_sessions:?}");
    assert!(expected_trips.len() >= 10, "{expected_trips:?}");
    assert_eq!(sessions(&conn, VEHICLE, None).unwrap(), expected_sessions);
    assert_eq!(trips(&conn, VEHICLE, None).unwrap(), expected_trips);
    // At most one checkpoint a day, and no more.
    let checkpoints: i64 = conn
        .query_row("SELECT count(*) FROM derive_checkpoints", [], |r| r.get(0))
        .unwrap();
    assert!((1..=8).contains(&checkpoints), "{checkpoints} checkpoints");
}

#[test]
fn a_database_from_before_the_materialised_tables_derives_them_when_opened() {
    let (dir, mut conn) = open();
    let parts: Vec<Part> = (0..200)
        .map(|i| Part {
            at_ms: 1_700_000_000_000 + i * 120_000,
            soc: Some(50.0 + (i % 50) as f64 * 0.5),
            plugged: Some((60..120).contains(&i)),
            charging: None,
            position: Some((52.5 + if i > 150 { i as f64 * 0.001 } else { 0.0 }, 13.4)),
            odometer: None,
        })
        .collect();
    ingest(&mut conn, &[parts]);
    let before = (
        sessions(&conn, VEHICLE, None).unwrap(),
        trips(&conn, VEHICLE, None).unwrap(),
    );
    assert!(!before.0.is_empty() && !before.1.is_empty(), "{before:?}");
    conn.execute_batch(
        // Back to schema 6: without the derived tables, and without what came after.
        "DROP TABLE sessions; DROP TABLE trips; DROP TABLE derive_checkpoints;
         DROP TABLE driver_assignments; DROP TABLE drivers; DROP TABLE alert_rules;
         DROP TABLE alert_notifications; DROP INDEX deliveries_by_time;
         DROP INDEX deliveries_uncompressed; DROP TABLE zstd_dictionaries;
         ALTER TABLE deliveries DROP COLUMN body_codec;
         ALTER TABLE places DROP COLUMN off_peak_start_min;
         ALTER TABLE places DROP COLUMN off_peak_end_min;
         ALTER TABLE places DROP COLUMN off_peak_rate_per_kwh;
         PRAGMA user_version = 6;",
    )
    .unwrap();
    drop(conn);
    let conn = store::open(&dir.path().join("fleet.sqlite3"), &StoreOptions::default()).unwrap();
    assert_eq!(sessions(&conn, VEHICLE, None).unwrap(), before.0);
    assert_eq!(trips(&conn, VEHICLE, None).unwrap(), before.1);
}

#[test]
fn a_checkpoint_this_build_cannot_read_makes_it_derive_from_the_start() {
    let (_dir, mut conn) = open();
    let parts: Vec<Part> = (0..100)
        .map(|i| Part {
            at_ms: 1_700_000_000_000 + i * 600_000,
            soc: Some(80.0 - i as f64 * 0.2),
            plugged: Some(false),
            charging: None,
            position: Some((52.5 + (i / 10) as f64 * 0.01, 13.4)),
            odometer: None,
        })
        .collect();
    ingest(&mut conn, &[parts[..50].to_vec()]);
    conn.execute("UPDATE derive_checkpoints SET state = '{\"no\": 1}'", [])
        .unwrap();
    ingest(&mut conn, &[parts[50..].to_vec()]);
    let (_, expected) = detect_all(&conn, VEHICLE).unwrap();
    assert!(expected.len() >= 3);
    assert_eq!(trips(&conn, VEHICLE, None).unwrap(), expected);
}

#[test]
fn what_a_killed_writer_left_underived_is_derived_when_the_next_one_starts() {
    let (_dir, mut conn) = open();
    let parts: Vec<Part> = (0..120)
        .map(|i| Part {
            at_ms: 1_700_000_000_000 + i * 300_000,
            soc: Some(60.0 - i as f64 * 0.1),
            plugged: Some(false),
            charging: None,
            position: Some((52.5 + (i / 12) as f64 * 0.01, 13.4)),
            odometer: None,
        })
        .collect();
    ingest(&mut conn, &[parts[..60].to_vec()]);
    // As the writer does: store (with a delivery behind the readings), acknowledge, and
    // derive later; here it is killed before deriving.
    let mut batch = Batch::begin(&mut conn).unwrap();
    let ingested = batch
        .ingest(
            1,
            b"{}",
            &Err(crate::smartcar::ParseError::NotJson("test".into())),
        )
        .unwrap();
    batch
        .store_readings(
            VEHICLE,
            None,
            &readings_of(&parts[60..]),
            Source::Webhook,
            Some(ingested.delivery_id),
        )
        .unwrap();
    let touched = batch.commit_deferred().unwrap();
    assert_eq!(touched.len(), 1);
    assert!(!super::caught_up(&conn).unwrap());
    let (_, expected) = detect_all(&conn, VEHICLE).unwrap();
    assert_ne!(
        trips(&conn, VEHICLE, None).unwrap(),
        expected,
        "not derived yet"
    );
    super::recover(&mut conn).unwrap();
    assert!(super::caught_up(&conn).unwrap());
    assert_eq!(trips(&conn, VEHICLE, None).unwrap(), expected);
}
