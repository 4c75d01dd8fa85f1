//! Sessions and trips at interactive speed: the materialised tables against a year of
//! one-minute history for 10 vehicles (`simulate --db` with `--vehicles 10 --days 365`).
//! Prints how long writing the history took (every batch re-derives its vehicle's tail),
//! `export battery` against `export monthly` and `daily` (goal: monthly at most 1/20 of
//! battery), the reader thread's time to open a vehicle and the Analytics page (goal: under
//! 100 ms each), and a full detection over every reading (what each of those reads cost
//! before the tables), and home-charging statements: a driver per vehicle living where it
//! sleeps, each one's statement for a month (goal for 50 drivers over a 3-year 50-vehicle
//! history: under 1 s). Run with `cargo bench --bench derived`; `FLEETDASH_BENCH_DAYS` and
//! `FLEETDASH_BENCH_VEHICLES` change the history (the statements' goal:
//! `FLEETDASH_BENCH_VEHICLES=50 FLEETDASH_BENCH_DAYS=1095`).

use std::sync::atomic::AtomicU64;
use std::time::Instant;

/// The same allocator as the `fleetdash` binary.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use fleetdash::domain::time::{DAY_MS, now_ms};
use fleetdash::sim::fleet::FleetConfig;
use fleetdash::store::{self, ExportFilter, ExportKind, StoreOptions};
use fleetdash::ui::reader::{Answer, Query, answer};

/// The median of `runs` timings of `work`, in ms.
fn median_ms(runs: usize, mut work: impl FnMut()) -> f64 {
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let started = Instant::now();
            work();
            started.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn main() {
    let days: u32 = std::env::var("FLEETDASH_BENCH_DAYS")
        .ok()
        .and_then(|d| d.parse().ok())
        .unwrap_or(365);
    let fleet_size: usize = std::env::var("FLEETDASH_BENCH_VEHICLES")
        .ok()
        .and_then(|d| d.parse().ok())
        .unwrap_or(10);
    let dir = tempfile::tempdir().expect("a temporary folder");
    let db = dir.path().join("year.sqlite3");
    let config = FleetConfig {
        vehicles: fleet_size,
        days,
        seed: 3,
        start_ms: now_ms() - i64::from(days) * DAY_MS,
        faults: Default::default(),
    };
    let summary = fleetdash::commands::simulate::write_history(&config, &db).expect("history");
    println!(
        "history: {} readings of {fleet_size} vehicles x {days} days written in {:.1} s ({:.0} readings/s, sessions and trips derived as they arrive)",
        summary.readings,
        summary.elapsed_secs,
        summary.readings as f64 / summary.elapsed_secs
    );
    let conn = store::open(&db, &StoreOptions::default()).expect("open");
    let (sessions, trips): (i64, i64) = conn
        .query_row(
            "SELECT (SELECT count(*) FROM sessions), (SELECT count(*) FROM trips)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("counts");
    println!("derived: {sessions} sessions, {trips} trips");

    let export = |kind| {
        let rows = store::export_csv(&conn, kind, &ExportFilter::default(), std::io::sink())
            .expect("export");
        assert!(rows > 0);
    };
    let battery = median_ms(3, || export(ExportKind::Battery));
    let monthly = median_ms(5, || export(ExportKind::Monthly));
    let daily = median_ms(5, || export(ExportKind::Daily));
    let trips_export = median_ms(5, || export(ExportKind::Trips));
    println!(
        "export battery {battery:.0} ms; monthly {monthly:.1} ms (1/{:.0} of battery; goal at most 1/20); daily {daily:.1} ms; trips {trips_export:.1} ms",
        battery / monthly
    );

    let ids: Vec<String> = conn
        .prepare("SELECT id FROM vehicles ORDER BY id")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .expect("vehicles");
    let reader = store::open_read_only(&db).expect("read-only");
    let writes = AtomicU64::new(0);
    let vehicle = median_ms(5, || {
        let Answer::Vehicle(_, Ok(details)) =
            answer(&reader, &writes, Query::Vehicle(ids[0].clone()))
        else {
            panic!("the vehicle's read failed");
        };
        assert!(!details.sessions.is_empty() && !details.trips.is_empty());
    });
    let analytics = |by_month| {
        median_ms(5, || {
            let Answer::Analytics(_, Ok(rows)) =
                answer(&reader, &writes, Query::Analytics { by_month })
            else {
                panic!("the analytics read failed");
            };
            assert!(!rows.is_empty());
        })
    };
    let (by_month, by_day) = (analytics(true), analytics(false));
    println!(
        "reader: a vehicle's year {vehicle:.1} ms; Analytics by month {by_month:.1} ms, by day {by_day:.1} ms (goal under 100 ms each)"
    );

    let full = median_ms(3, || {
        for id in &ids {
            store::derived::detect_all(&reader, id).expect("detect");
        }
    });
    println!(
        "a full detection over every reading: {full:.0} ms for the fleet, {:.0} ms a vehicle (each read's cost before the tables)",
        full / ids.len() as f64
    );

    statements(&db, &config);
}

/// A driver per vehicle at home where it sleeps (with a night tariff), then every driver's
/// statement for the last whole month of the history.
fn statements(db: &std::path::Path, config: &FleetConfig) {
    use fleetdash::store::drivers::{Driver, Home};
    use fleetdash::store::owner::{OwnerWrite, apply_all};
    let mut conn = store::open(db, &StoreOptions::default()).expect("open");
    let night = fleetdash::domain::tariff::Window::parse("22:00-06:00").expect("window");
    let mut writes = vec![OwnerWrite::TimeZone(Some("Europe/Berlin".into()))];
    for (i, spec) in fleetdash::sim::fleet::vehicles(config).iter().enumerate() {
        let name = format!("Driver {i:03}");
        writes.push(OwnerWrite::Driver {
            replaces: None,
            driver: Driver {
                name: name.clone(),
                email: None,
                home: Some(Home {
                    latitude: spec.depot.0,
                    longitude: spec.depot.1,
                    radius_m: 150.0,
                }),
                rate_per_kwh: Some(0.30),
                off_peak: Some((night, 0.20)),
            },
        });
        writes.push(OwnerWrite::Assign {
            vehicle_id: spec.id.clone(),
            driver: name,
            from_ms: 0,
            until_ms: None,
        });
    }
    apply_all(&mut conn, &writes).expect("drivers");
    let zone = store::owner::fleet_zone(&conn).expect("zone");
    let month = zone.period_of(zone.month_start_ms(now_ms(), 1), true);
    let drivers = store::drivers::drivers(&conn).expect("drivers");
    let reader = store::open_read_only(db).expect("read-only");
    let mut sessions = 0;
    let all = median_ms(3, || {
        sessions = 0;
        for d in &drivers {
            let s = store::statement::statement(&reader, &d.name, &month)
                .expect("read")
                .expect("a statement");
            sessions += s.sessions.len();
        }
    });
    println!(
        "statements: {} drivers' statements for {month} ({sessions} home sessions) in {all:.0} ms, {:.1} ms each (goal for 50 drivers over 3 years of 50 vehicles: under 1 s)",
        drivers.len(),
        all / drivers.len() as f64
    );
}
