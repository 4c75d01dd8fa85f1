//! How much CPU a frame of the real UI costs with a year of one-minute history for ten
//! vehicles in the database (5.2 million readings): the app is driven headless through
//! egui_kittest while it shows the Fleet page (summary strip, sparklines), opens a vehicle, switches ranges, zooms and pans the plot, and each
//! frame's UI-thread CPU time (egui's pass plus tessellation) is measured. The goal is at
//! most 16 ms per frame. It also reports how long the reader thread took to bring each new
//! window (that work is off the UI thread; the frame meanwhile shows the previous points).
//!
//! `cargo bench --bench ui_frames` (set FLEETDASH_BENCH_DAYS to try another history length).

use std::time::{Duration, Instant};

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use fleetdash::domain::time::{DAY_MS, now_ms};
use fleetdash::sim::fleet::FleetConfig;
use fleetdash::ui::backend::Backend;
use fleetdash::ui::{FleetApp, Persisted};

fn thread_cpu() -> Duration {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

/// Frame CPU times, in ms, per phase of the scenario.
#[derive(Default)]
struct Frames {
    phases: Vec<(String, Vec<f64>, Option<f64>)>,
}

struct Bench {
    harness: Harness<'static, FleetApp>,
    frames: Frames,
}

impl Bench {
    /// One frame: egui's pass and the tessellation a renderer would ask for.
    fn frame(&mut self) -> f64 {
        let before = thread_cpu();
        self.harness.step();
        let output = self.harness.output();
        let ppp = output.pixels_per_point;
        let shapes = output.shapes.clone();
        let meshes = self.harness.ctx.tessellate(shapes, ppp);
        std::hint::black_box(meshes);
        (thread_cpu() - before).as_secs_f64() * 1000.0
    }

    /// Runs frames (pausing like a 60 Hz display) until `done`, recording them as `phase`;
    /// also records how long the data took to arrive.
    fn phase(&mut self, phase: &str, done: impl FnMut(&FleetApp) -> bool) {
        self.phase_at_most(phase, usize::MAX, done);
    }

    /// [`Bench::phase`], but gives up waiting after `max_frames` (a gesture that needs no
    /// new data).
    fn phase_at_most(
        &mut self,
        phase: &str,
        max_frames: usize,
        mut done: impl FnMut(&FleetApp) -> bool,
    ) {
        let started = Instant::now();
        let mut times = Vec::new();
        let mut arrived = None;
        let deadline = started + Duration::from_secs(120);
        loop {
            times.push(self.frame());
            if arrived.is_none() && done(self.harness.state()) {
                arrived = Some(started.elapsed().as_secs_f64() * 1000.0);
                // A few frames with the new data on screen.
                for _ in 0..5 {
                    times.push(self.frame());
                }
                break;
            }
            if times.len() >= max_frames {
                break;
            }
            assert!(Instant::now() < deadline, "{phase}: never got there");
            std::thread::sleep(Duration::from_millis(16));
        }
        self.frames.phases.push((phase.to_owned(), times, arrived));
    }

    fn plot_centre(&self) -> egui::Pos2 {
        let label = self
            .harness
            .get_by_label_contains("Battery (%) over time")
            .rect();
        egui::pos2(label.left() + 500.0, label.bottom() + 150.0)
    }
}

/// The plotted window's length in days, once no read is under way.
fn window_days(app: &FleetApp) -> Option<i64> {
    if app.vehicle_view().loading() {
        return None;
    }
    app.vehicle_view()
        .series_window()
        .map(|(from, to)| (to - from) / DAY_MS)
}

fn main() {
    let days: u32 = std::env::var("FLEETDASH_BENCH_DAYS")
        .ok()
        .and_then(|d| d.parse().ok())
        .unwrap_or(365);
    let dir = tempfile::tempdir().expect("a temporary folder");
    let db = dir.path().join("year.sqlite3");
    let config = FleetConfig {
        vehicles: 10,
        days,
        seed: 3,
        start_ms: now_ms() - i64::from(days) * DAY_MS,
        faults: Default::default(),
    };
    eprintln!("writing {days} days of one-minute history for 10 vehicles...");
    let summary = fleetdash::commands::simulate::write_history(&config, &db).expect("the history");
    eprintln!(
        "{} readings in {:.1} s",
        summary.readings, summary.elapsed_secs
    );

    let mut persisted = Persisted::default();
    persisted.settings.tile_url = "http://127.0.0.1:9/{z}/{x}/{y}.png".into();
    let app = FleetApp::with_state(
        Backend::start_local(&db, None, || {}),
        persisted,
        std::sync::Arc::new(|| {}),
    );
    let harness = Harness::builder()
        .with_size(egui::vec2(1280.0, 800.0))
        .build_ui_state(
            |ui, app: &mut FleetApp| {
                app.refresh();
                app.show(ui);
            },
            app,
        );
    let mut bench = Bench {
        harness,
        frames: Frames::default(),
    };
    bench.phase("overview: ten vehicles listed", |app| {
        app.vehicles().len() == 10
    });
    bench.phase("overview: sparklines and month read", |app| {
        app.glance().is_some()
    });
    // The Fleet page at rest: summary strip, needs attention, ten sparklines.
    bench.phase_at_most("overview: at rest with sparklines", 120, |_| false);
    let name = bench.harness.state().vehicles()[0].name.clone();
    bench.harness.get_by_label(&name).click();
    bench.phase("open a vehicle (7 d)", |app| window_days(app) == Some(7));
    for (label, days) in [
        ("1 y", 365),
        ("All", i64::from(days)),
        ("30 d", 30),
        ("24 h", 1),
    ] {
        bench.harness.get_by_label(label).click();
        bench.phase(&format!("range {label}"), |app| {
            window_days(app).is_some_and(|d| (d - days).abs() <= 1)
        });
    }
    bench.harness.get_by_label("1 y").click();
    bench.phase("back to 1 y", |app| window_days(app) == Some(365));

    // Zoom in step by step over the plot, then pan by dragging.
    let centre = bench.plot_centre();
    for step in 0..6 {
        bench.harness.hover_at(centre);
        bench.harness.event(egui::Event::Zoom(1.8));
        let before = bench.harness.state().vehicle_view().series_window();
        bench.phase_at_most(&format!("zoom in {}", step + 1), 40, |app| {
            app.vehicle_view().series_window() != before
        });
    }
    for step in 0..6 {
        bench.harness.hover_at(centre);
        bench.harness.drag_at(centre);
        let before = bench.harness.state().vehicle_view().series_window();
        let mut dragging = Vec::new();
        for i in 1..=10 {
            bench
                .harness
                .hover_at(centre + egui::vec2(40.0 * i as f32, 0.0));
            dragging.push(bench.frame());
            std::thread::sleep(Duration::from_millis(16));
        }
        bench
            .frames
            .phases
            .push((format!("drag {}", step + 1), dragging, None));
        bench.harness.drop_at(centre + egui::vec2(400.0, 0.0));
        bench.phase_at_most(&format!("pan {}", step + 1), 40, |app| {
            app.vehicle_view().series_window() != before
        });
    }

    eprintln!(
        "window after the gestures: {:?}",
        bench.harness.state().vehicle_view().series_window()
    );
    let mut all: Vec<f64> = Vec::new();
    println!(
        "{:<32} {:>7} {:>9} {:>9} {:>9} {:>12}",
        "phase", "frames", "p50 ms", "p95 ms", "max ms", "data in ms"
    );
    for (phase, times, arrived) in &bench.frames.phases {
        let mut sorted = times.clone();
        sorted.sort_by(f64::total_cmp);
        all.extend(times);
        println!(
            "{:<32} {:>7} {:>9.2} {:>9.2} {:>9.2} {:>12}",
            phase,
            sorted.len(),
            percentile(&sorted, 0.5),
            percentile(&sorted, 0.95),
            sorted.last().copied().unwrap_or_default(),
            arrived.map_or("-".into(), |a| format!("{a:.0}")),
        );
    }
    // The scenario as it was before the Fleet page had its glance, for comparison.
    let mut vehicle_only: Vec<f64> = bench
        .frames
        .phases
        .iter()
        .filter(|(phase, _, _)| {
            !phase.starts_with("overview: sparklines") && !phase.starts_with("overview: at rest")
        })
        .flat_map(|(_, times, _)| times.iter().copied())
        .collect();
    vehicle_only.sort_by(f64::total_cmp);
    println!(
        "without the Fleet page's glance phases: {} frames · p95 {:.2} ms",
        vehicle_only.len(),
        percentile(&vehicle_only, 0.95)
    );
    all.sort_by(f64::total_cmp);
    let max = all.last().copied().unwrap_or_default();
    println!(
        "all frames: {} · p50 {:.2} ms · p95 {:.2} ms · max {:.2} ms · goal at most 16 ms: {}",
        all.len(),
        percentile(&all, 0.5),
        percentile(&all, 0.95),
        max,
        if max <= 16.0 { "met" } else { "NOT met" }
    );
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[index]
}
