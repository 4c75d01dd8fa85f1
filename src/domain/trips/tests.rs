//! Table tests per case of the trip rule, and properties over arbitrary readings.

use proptest::prelude::*;

use super::*;

const T0: i64 = 1_790_000_000_000;
const MIN: i64 = 60_000;
/// About 100 m east at Munich's latitude, in degrees of longitude.
const EAST_100M: f64 = 0.001_345;
const HOME: (f64, f64) = (48.137, 11.575);

fn at(minute: i64, east_100m: f64) -> Point {
    Point {
        at_ms: T0 + minute * MIN,
        position: Some((HOME.0, HOME.1 + east_100m * EAST_100M)),
        ..Point::default()
    }
}

fn with_soc(mut p: Point, soc: f64) -> Point {
    p.soc_percent = Some(soc);
    p
}

fn with_odometer(mut p: Point, km: f64) -> Point {
    p.odometer_km = Some(km);
    p
}

fn plugged(mut p: Point, plugged: bool) -> Point {
    p.plugged_in = Some(plugged);
    p
}

/// Parked at home for 10 minutes, 2 km east in 5 minutes, parked there for 10 minutes.
fn clean_drive() -> Vec<Point> {
    let mut points: Vec<Point> = (0..10).map(|m| at(m, 0.0)).collect();
    points.extend((1..=5).map(|m| at(9 + m, 4.0 * m as f64)));
    points.extend((15..25).map(|m| at(m, 20.0)));
    points
}

/// (start minute, end minute or -1 while ongoing, km rounded to 0.1).
fn summary(trips: &[Trip]) -> Vec<(i64, i64, f64)> {
    trips
        .iter()
        .map(|t| {
            (
                (t.started_at_ms - T0) / MIN,
                t.ended_at_ms.map_or(-1, |e| (e - T0) / MIN),
                (t.distance().0 * 10.0).round() / 10.0,
            )
        })
        .collect()
}

#[test]
fn a_clean_drive_starts_at_the_last_reading_parked_and_ends_at_the_first_one_there() {
    let trips = detect(&clean_drive());
    assert_eq!(summary(&trips), [(9, 14, 2.0)]);
    let trip = &trips[0];
    assert_eq!(trip.distance().1, DistanceSource::Gps);
    assert!(!trip.is_uncertain());
    assert!((trip.duration_min() - 5.0).abs() < 1e-9);
}

#[test]
fn table_of_cases() {
    let jitter = |minute: i64, metres: f64| at(minute, metres / 100.0);
    type Case = (&'static str, Vec<Point>, Vec<(i64, i64, f64)>);
    let cases: Vec<Case> = vec![
        ("nothing", vec![], vec![]),
        (
            "a parked car's GPS jitter of up to 120 m is no trip",
            (0..300)
                .map(|m| jitter(m, [0.0, 80.0, -40.0, 120.0, 30.0][m as usize % 5]))
                .collect(),
            vec![],
        ),
        ("a clean drive", clean_drive(), vec![(9, 14, 2.0)]),
        (
            "a halt shorter than 5 minutes does not split the trip",
            {
                let mut p: Vec<Point> = (0..5).map(|m| at(m, 0.0)).collect();
                p.extend((5..=9).map(|m| at(m, 4.0 * (m - 4) as f64)));
                // 4 minutes at a light, 2 km out.
                p.extend((10..14).map(|m| at(m, 20.0)));
                p.extend((14..=18).map(|m| at(m, 20.0 + 4.0 * (m - 13) as f64)));
                p.extend((19..30).map(|m| at(m, 40.0)));
                p
            },
            vec![(4, 18, 4.0)],
        ),
        (
            "a halt of exactly 5 minutes splits it",
            {
                let mut p: Vec<Point> = (0..5).map(|m| at(m, 0.0)).collect();
                p.extend((5..=9).map(|m| at(m, 4.0 * (m - 4) as f64)));
                p.extend((10..=14).map(|m| at(m, 20.0)));
                p.extend((15..=19).map(|m| at(m, 20.0 + 4.0 * (m - 14) as f64)));
                p.extend((20..30).map(|m| at(m, 40.0)));
                p
            },
            vec![(4, 9, 2.0), (14, 19, 2.0)],
        ),
        (
            "a parked v4 car sends no position: a later battery reading proves the stay",
            {
                let mut p: Vec<Point> = (0..5).map(|m| at(m, 0.0)).collect();
                p.extend((5..=9).map(|m| at(m, 4.0 * (m - 4) as f64)));
                p.push(Point {
                    at_ms: T0 + 30 * MIN,
                    soc_percent: Some(60.0),
                    ..Point::default()
                });
                p
            },
            vec![(4, 9, 2.0)],
        ),
        (
            "hourly readings: a trip between two of them is still found",
            vec![at(0, 0.0), at(60, 50.0), at(120, 50.0)],
            vec![(0, 60, 5.0)],
        ),
        (
            "v4: silence after arriving, then a reading already 600 m on: it stood between",
            {
                let mut p: Vec<Point> = (0..5).map(|m| at(m, 0.0)).collect();
                p.extend((5..=9).map(|m| at(m, 4.0 * (m - 4) as f64)));
                p.push(at(40, 26.0));
                p.push(at(45, 40.0));
                p.extend((46..56).map(|m| at(m, 40.0)));
                p
            },
            vec![(4, 9, 2.0), (9, 45, 2.0)],
        ),
        (
            "plugged in ends a trip at once",
            {
                let mut p: Vec<Point> = (0..5).map(|m| at(m, 0.0)).collect();
                p.extend((5..=9).map(|m| at(m, 4.0 * (m - 4) as f64)));
                p.push(plugged(at(11, 20.0), true));
                p
            },
            vec![(4, 9, 2.0)],
        ),
        (
            "while plugged in, no trip starts (a jump in position is a new fix)",
            vec![
                plugged(at(0, 0.0), true),
                at(10, 30.0),
                at(20, 30.0),
                plugged(at(30, 30.0), false),
            ],
            vec![],
        ),
        (
            "still moving at the last reading: ongoing",
            {
                let mut p: Vec<Point> = (0..5).map(|m| at(m, 0.0)).collect();
                p.extend((5..=9).map(|m| at(m, 4.0 * (m - 4) as f64)));
                p
            },
            vec![(4, -1, 2.0)],
        ),
        (
            "back home after a round trip",
            {
                let mut p: Vec<Point> = (0..5).map(|m| at(m, 0.0)).collect();
                p.extend((5..=9).map(|m| at(m, 4.0 * (m - 4) as f64)));
                p.extend((10..=14).map(|m| at(m, 20.0 - 4.0 * (m - 9) as f64)));
                p.extend((15..25).map(|m| at(m, 0.0)));
                p
            },
            vec![(4, 14, 4.0)],
        ),
    ];
    for (name, points, expected) in cases {
        assert_eq!(summary(&detect(&points)), expected, "{name}");
    }
}

#[test]
fn sparse_readings_flag_the_trip_as_uncertain() {
    let trips = detect(&[at(0, 0.0), at(60, 50.0), at(120, 50.0)]);
    assert!(trips[0].is_uncertain());
    assert_eq!(trips[0].gap_ms, 60 * MIN);
    assert!(!detect(&clean_drive())[0].is_uncertain());
}

#[test]
fn the_odometer_gives_the_distance_where_both_ends_have_one() {
    let mut points = clean_drive();
    points[9] = with_odometer(points[9], 1000.0);
    points[14] = with_odometer(points[14], 1002.4);
    let trip = &detect(&points)[0];
    assert_eq!(trip.start_odometer_km, Some(1000.0));
    assert_eq!(trip.end_odometer_km, Some(1002.4));
    let (km, source) = trip.distance();
    assert!((km - 2.4).abs() < 1e-9);
    assert_eq!(source, DistanceSource::Odometer);
    // An odometer read later while it stands there is the end's too.
    let mut later = clean_drive();
    later[3] = with_odometer(later[3], 1000.0);
    later[20] = with_odometer(later[20], 1002.1);
    let trip = &detect(&later)[0];
    assert_eq!(trip.distance().1, DistanceSource::Odometer);
    // A reading from before the previous trip is not this trip's start.
    let mut stale = clean_drive();
    stale.extend((1..=5).map(|m| at(24 + m, 20.0 + 4.0 * m as f64)));
    stale.extend((30..40).map(|m| at(m, 40.0)));
    stale[3] = with_odometer(stale[3], 1000.0);
    stale[36] = with_odometer(stale[36], 1004.0);
    let trips = detect(&stale);
    assert_eq!(trips.len(), 2);
    assert_eq!(trips[1].start_odometer_km, None);
    assert_eq!(trips[1].distance().1, DistanceSource::Gps);
    // An odometer that went backwards (a reset) is not believed.
    let mut reset = clean_drive();
    reset[9] = with_odometer(reset[9], 1000.0);
    reset[14] = with_odometer(reset[14], 3.0);
    assert_eq!(detect(&reset)[0].distance().1, DistanceSource::Gps);
}

#[test]
fn energy_is_the_percent_drop_times_the_capacity() {
    let mut points = clean_drive();
    points[9] = with_soc(points[9], 80.0);
    points[14] = with_soc(points[14], 76.0);
    let trip = &detect(&points)[0];
    assert_eq!(
        (trip.start_percent, trip.end_percent),
        (Some(80.0), Some(76.0))
    );
    assert!((trip.energy_kwh(50.0).unwrap() - 2.0).abs() < 1e-9);
    assert_eq!(trip.energy_kwh(f64::INFINITY), None);
}

#[test]
fn duplicates_and_late_deliveries_change_nothing() {
    let points = clean_drive();
    let mut shuffled: Vec<Point> = points.iter().rev().copied().collect();
    shuffled.extend_from_slice(&points[5..12]);
    assert_eq!(detect(&shuffled), detect(&points));
}

fn arbitrary_points() -> impl Strategy<Value = Vec<Point>> {
    // Minutes, a walk east in 100 m steps with stops, some plug and battery readings.
    let step = (
        1i64..40,
        prop_oneof![Just(0.0), Just(0.3), -1.0f64..1.0, -30.0f64..30.0],
        prop::option::of(any::<bool>()),
        prop::option::of(0.0f64..100.0),
        any::<bool>(),
    );
    prop::collection::vec(step, 0..60).prop_map(|steps| {
        let mut minute = 0;
        let mut east = 0.0;
        steps
            .into_iter()
            .map(|(dt, move_by, plug, soc, has_position)| {
                minute += dt;
                east += move_by;
                Point {
                    at_ms: T0 + minute * MIN,
                    position: has_position.then_some((HOME.0, HOME.1 + east * EAST_100M)),
                    soc_percent: soc,
                    plugged_in: plug,
                    odometer_km: None,
                }
            })
            .collect()
    })
}

fn sessions_of(points: &[Point]) -> Vec<crate::domain::sessions::Session> {
    let mut detector = crate::domain::sessions::SessionDetector::new();
    for p in points {
        detector.push(crate::domain::sessions::Point {
            at_ms: p.at_ms,
            soc_percent: p.soc_percent,
            plugged_in: p.plugged_in,
            charging: None,
            position: p.position,
        });
    }
    detector.finish()
}

proptest! {
    #[test]
    fn trips_run_forward_never_overlap_and_measure_no_negative_distance(points in arbitrary_points()) {
        let trips = detect(&points);
        for t in &trips {
            prop_assert!(t.started_at_ms <= t.ended_at_ms.unwrap_or(t.last_seen_ms));
            prop_assert!(t.distance().0 >= 0.0 && t.gps_km >= 0.0);
            prop_assert!(t.duration_min() >= 0.0);
        }
        for pair in trips.windows(2) {
            prop_assert!(!pair[0].is_ongoing());
            prop_assert!(pair[0].ended_at_ms.unwrap() <= pair[1].started_at_ms, "{:?}", pair);
        }
    }

    #[test]
    fn any_permutation_gives_identical_trips(points in arbitrary_points(), seed in any::<u64>()) {
        let expected = detect(&points);
        let mut shuffled = points.clone();
        let mut state = seed | 1;
        for i in (1..shuffled.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            shuffled.swap(i, (state % (i as u64 + 1)) as usize);
        }
        prop_assert_eq!(detect(&shuffled), expected);
    }

    #[test]
    fn a_trip_and_an_observed_charging_session_share_at_most_one_gap_between_readings(
        points in arbitrary_points(),
    ) {
        // Unplugged and gone between two readings: both happened in that gap, so the
        // session's end and the trip's start both lie in it. An inferred session (a rise
        // in charge between two readings, no plug-in seen) spans its gap the same way.
        let trips = detect(&points);
        for s in sessions_of(&points).into_iter().filter(|s| !s.inferred) {
            let s_end = s.ended_at_ms.unwrap_or(s.last_seen_ms);
            for t in &trips {
                let t_end = t.ended_at_ms.unwrap_or(t.last_seen_ms);
                let (lo, hi) = (s.started_at_ms.max(t.started_at_ms), s_end.min(t_end));
                let inside = points.iter().filter(|p| lo < p.at_ms && p.at_ms < hi).count();
                prop_assert!(lo >= hi || inside == 0,
                    "trip {:?} and session {:?} share {} readings", t, s, inside);
            }
        }
    }
}
