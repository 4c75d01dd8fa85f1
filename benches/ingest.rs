//! Deliveries per second into the callback server at concurrency 64: durable (each 2xx
//! after a `synchronous=FULL` commit) against the same server answering 200 without
//! storing. Prints both and their ratio. Run with `cargo bench --bench ingest`.
//!
//! The two phases alternate for `BENCH_ROUNDS` rounds (default 3) of `BENCH_SECONDS` each
//! (default 3), and the medians are compared, because a shared 2-core VM's speed drifts.
//! `BENCH_CONCURRENCY` defaults to 64.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The same allocator as the `fleetdash` binary.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use fleetdash::server::{AppState, Sink, WEBHOOK_PATH, serve_with};
use fleetdash::smartcar::ManagementToken;
use fleetdash::store::{self, StoreOptions, spawn_writer};

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A realistic v4 VEHICLE_STATE delivery (five signals, about 1.2 KB).
fn body(n: u64) -> Vec<u8> {
    let at = 1_700_000_000_000_u64 + n * 1000;
    format!(
        r#"{{"eventId":"bench-{n}","eventType":"VEHICLE_STATE","vehicleId":"car-{car}","data":{{"vehicle":{{"id":"car-{car}","make":"TESLA","model":"Model 3","year":2020}},"triggers":[{{"code":"tractionbattery-stateofcharge"}}],"signals":[{{"code":"tractionbattery-stateofcharge","body":{{"unit":"percent","value":{soc}}},"meta":{{"oemUpdatedAt":{at},"fetchedAt":{at}}}}},{{"code":"tractionbattery-range","body":{{"unit":"kilometers","value":{range}}},"meta":{{"oemUpdatedAt":{at}}}}},{{"code":"charge-ischarging","body":{{"value":true}},"meta":{{"oemUpdatedAt":{at}}}}},{{"code":"charge-ischargingcableconnected","body":{{"value":true}},"meta":{{"oemUpdatedAt":{at}}}}},{{"code":"location-preciselocation","body":{{"latitude":48.1,"longitude":11.5,"heading":90,"direction":"E","locationType":"CURRENT"}},"meta":{{"oemUpdatedAt":{at}}}}}]}},"meta":{{"version":"4.0","deliveryId":"d-{n}","deliveredAt":{at},"webhookId":"w","webhookName":"bench","signalCount":5,"mode":"LIVE"}}}}"#,
        car = n % 10,
        soc = n % 100,
        range = 100 + n % 300,
    )
    .into_bytes()
}

type Prepared = Arc<Vec<(bytes::Bytes, String)>>;

struct Phase {
    acknowledged: u64,
    failed: u64,
    elapsed: Duration,
    /// Every request's round trip, in microseconds, sorted.
    latencies: Vec<u32>,
}

impl Phase {
    fn rate(&self) -> f64 {
        self.acknowledged as f64 / self.elapsed.as_secs_f64()
    }

    /// Round trips at the median, 99th and 99.9th percentiles and the longest, in ms.
    fn latency(&self) -> String {
        let at = |q: f64| {
            let i = ((self.latencies.len() as f64 - 1.0) * q).round() as usize;
            self.latencies.get(i).copied().unwrap_or(0) as f64 / 1000.0
        };
        format!(
            "round trip {:.1} ms median, {:.1} ms p99, {:.1} ms p99.9, {:.1} ms longest",
            at(0.5),
            at(0.99),
            at(0.999),
            at(1.0)
        )
    }
}

/// Sends the prepared deliveries, starting at `first`, from `concurrency` tasks for
/// `seconds`.
async fn load(
    url: &str,
    prepared: &Prepared,
    first: usize,
    seconds: u64,
    concurrency: u64,
) -> Phase {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency as usize)
        .build()
        .expect("client");
    let next = Arc::new(AtomicU64::new(first as u64));
    let stop = Arc::new(AtomicBool::new(false));
    let acknowledged = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, url, prepared) = (client.clone(), url.to_owned(), prepared.clone());
        let (next, stop, acknowledged, failed) = (
            next.clone(),
            stop.clone(),
            acknowledged.clone(),
            failed.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(4096);
            while !stop.load(Ordering::Relaxed) {
                let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                let Some((body, signature)) = prepared.get(i) else {
                    break;
                };
                let sent_at = Instant::now();
                let sent = client
                    .post(&url)
                    .header("SC-Signature", signature)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await;
                latencies.push(sent_at.elapsed().as_micros().min(u32::MAX as u128) as u32);
                match sent {
                    Ok(r) if r.status().is_success() => {
                        acknowledged.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            latencies
        }));
    }
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut latencies = Vec::new();
    for task in tasks {
        if let Ok(mine) = task.await {
            latencies.extend(mine);
        }
    }
    let elapsed = started.elapsed();
    latencies.sort_unstable();
    Phase {
        acknowledged: acknowledged.load(Ordering::Relaxed),
        failed: failed.load(Ordering::Relaxed),
        elapsed,
        latencies,
    }
}

/// What one group of threads (by name) has used so far.
#[derive(Default, Clone)]
struct ThreadTimes {
    name: String,
    /// Seconds on a core.
    cpu: f64,
    /// Seconds runnable but waiting for a core.
    waiting: f64,
    /// Times a thread went to sleep (voluntary context switches).
    sleeps: u64,
    /// Times a thread was preempted (involuntary context switches).
    preempted: u64,
}

/// Time used so far by each group of threads of this process, by thread name (Linux
/// only).
fn thread_times() -> Vec<ThreadTimes> {
    let mut threads: Vec<ThreadTimes> = Vec::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return threads;
    };
    for task in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let name = stat[open + 1..close].to_owned();
        let fields: Vec<&str> = stat[close + 2..].split(' ').collect();
        let ticks: f64 = fields.get(11).and_then(|u| u.parse().ok()).unwrap_or(0.0)
            + fields.get(12).and_then(|s| s.parse().ok()).unwrap_or(0.0);
        // schedstat: nanoseconds on a core, nanoseconds waiting on a run queue, slices.
        let waiting: f64 = std::fs::read_to_string(task.path().join("schedstat"))
            .ok()
            .and_then(|s| s.split(' ').nth(1).and_then(|w| w.parse().ok()))
            .unwrap_or(0.0)
            / 1e9;
        let status = std::fs::read_to_string(task.path().join("status")).unwrap_or_default();
        let count = |key: &str| -> u64 {
            status
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0)
        };
        let sample = ThreadTimes {
            name: name.clone(),
            cpu: ticks / 100.0,
            waiting,
            sleeps: count("voluntary_ctxt_switches:"),
            preempted: count("nonvoluntary_ctxt_switches:"),
        };
        match threads.iter_mut().find(|t| t.name == name) {
            Some(t) => {
                t.cpu += sample.cpu;
                t.waiting += sample.waiting;
                t.sleeps += sample.sleeps;
                t.preempted += sample.preempted;
            }
            None => threads.push(sample),
        }
    }
    threads.sort_by(|a, b| a.name.cmp(&b.name));
    threads
}

/// Per thread group, what was used between two samples: seconds on a core and waiting
/// for one, and sleeps and preemptions per 1,000 of the phase's `deliveries`.
fn times_between(before: &[ThreadTimes], after: &[ThreadTimes], deliveries: u64) -> String {
    let per_k = |n: u64| n as f64 * 1000.0 / deliveries.max(1) as f64;
    after
        .iter()
        .filter(|t| t.name.starts_with("bench-") || t.name.starts_with("fleetdash"))
        .map(|t| {
            let b = before
                .iter()
                .find(|b| b.name == t.name)
                .cloned()
                .unwrap_or_default();
            format!(
                "{} {:.2}s (+{:.2}s waiting for a core; {:.0} sleeps, {:.0} preemptions per 1,000)",
                t.name,
                t.cpu - b.cpu,
                t.waiting - b.waiting,
                // Saturating: a thread that ended between the samples took its counts.
                per_k(t.sleeps.saturating_sub(b.sleeps)),
                per_k(t.preempted.saturating_sub(b.preempted)),
            )
        })
        .collect::<Vec<_>>()
        .join("\n               ")
}

/// The writer's own cost, alone on the machine: `count` deliveries committed in
/// transactions of `batch`, on this thread. Returns (wall, CPU) microseconds per delivery.
fn writer_alone(count: u64, batch: usize) -> (f64, f64) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut conn =
        store::open(&dir.path().join("alone.sqlite3"), &StoreOptions::default()).expect("db");
    let deliveries: Vec<_> = (0..count)
        .map(|n| {
            let b = body(n);
            let parsed = fleetdash::smartcar::parse_webhook(&b, 1_700_000_000_000);
            (b, parsed)
        })
        .collect();
    let cpu = || {
        // This thread's own CPU time, in seconds.
        std::fs::read_to_string("/proc/thread-self/schedstat")
            .ok()
            .and_then(|s| s.split(' ').next().and_then(|c| c.parse::<f64>().ok()))
            .unwrap_or(0.0)
            / 1e9
    };
    let (cpu0, started) = (cpu(), Instant::now());
    for chunk in deliveries.chunks(batch) {
        let mut tx = store::Batch::begin(&mut conn).expect("begin");
        for (b, parsed) in chunk {
            tx.ingest(1_700_000_000_000, b, parsed).expect("ingest");
        }
        tx.commit().expect("commit");
    }
    let per = |seconds: f64| seconds * 1e6 / count as f64;
    (per(started.elapsed().as_secs_f64()), per(cpu() - cpu0))
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let seconds = env_number("BENCH_SECONDS", 3);
    let rounds = env_number("BENCH_ROUNDS", 3).max(1);
    let concurrency = env_number("BENCH_CONCURRENCY", 64);
    let token = ManagementToken::new("bench-management-token").expect("token");
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("bench.sqlite3");
    let conn = store::open(&db, &StoreOptions::default()).expect("database");
    let (writer, _thread) = spawn_writer(conn).expect("writer");
    let writer_stats = writer.clone();

    // Bodies and signatures are made in advance so the load generator spends its CPU on
    // HTTP only. Unique event ids, so the durable phase never meets a duplicate.
    let per_round = 60_000 * seconds as usize;
    let total = per_round * rounds as usize + 100_000;
    let prepared: Prepared = Arc::new(
        (0..total as u64)
            .map(|n| {
                let b = body(n);
                let s = token.sign(&b);
                (bytes::Bytes::from(b), s)
            })
            .collect(),
    );

    let server_runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("bench-server")
        .build()
        .expect("runtime");
    let mut urls = Vec::new();
    for sink in [Sink::Store(writer), Sink::Discard] {
        let state = AppState::new(token.clone(), sink);
        let listener = server_runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        urls.push(format!(
            "http://{}{WEBHOOK_PATH}",
            listener.local_addr().expect("addr")
        ));
        // The bench is one address, and by default one address holds at most 64
        // connections and a quarter of the slots. Twice the concurrency each: a client's
        // next request can arrive before the server has let go of the previous one's
        // connection or slot, and at exactly the concurrency that race shows as rare 429s.
        let limits = fleetdash::server::Limits {
            max_per_client: (2 * concurrency as usize).max(fleetdash::server::MAX_PER_CLIENT),
            max_concurrent: (8 * concurrency as usize)
                .max(fleetdash::server::MAX_CONCURRENT_REQUESTS),
            ..fleetdash::server::Limits::default()
        };
        server_runtime.spawn(serve_with(listener, state, limits, std::future::pending()));
    }
    let client_runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("bench-client")
        .build()
        .expect("runtime");

    println!(
        "fleetdash ingest benchmark: concurrency {concurrency}, {rounds} rounds of {seconds} s per phase, synchronous=FULL, WAL"
    );
    // Warm up both paths (connections, page cache, allocator); the durable warm-up uses
    // the tail of the prepared deliveries.
    let warm = client_runtime.block_on(load(&urls[0], &prepared, total - 50_000, 1, concurrency));
    client_runtime.block_on(load(&urls[1], &prepared, 0, 1, concurrency));

    let mut durable_rates = Vec::new();
    let mut discard_rates = Vec::new();
    let mut durable_acknowledged = 0;
    for round in 0..rounds {
        let cpu_before = thread_times();
        let before = writer_stats.stats();
        let first = round as usize * per_round;
        let durable =
            client_runtime.block_on(load(&urls[0], &prepared, first, seconds, concurrency));
        let after = writer_stats.stats();
        let cpu_durable = thread_times();
        let discard = client_runtime.block_on(load(&urls[1], &prepared, 0, seconds, concurrency));
        let cpu_discard = thread_times();
        durable_acknowledged += durable.acknowledged;
        let transactions = after.transactions - before.transactions;
        println!("round {}:", round + 1);
        println!(
            "  durable : {:>8} acknowledged, {:>4} failed in {:.2} s = {:>8.0} deliveries/s",
            durable.acknowledged,
            durable.failed,
            durable.elapsed.as_secs_f64(),
            durable.rate(),
        );
        println!(
            "  no store: {:>8} acknowledged, {:>4} failed in {:.2} s = {:>8.0} deliveries/s",
            discard.acknowledged,
            discard.failed,
            discard.elapsed.as_secs_f64(),
            discard.rate()
        );
        println!("  durable : {}", durable.latency());
        println!("  no store: {}", discard.latency());
        println!(
            "  writer  : {} commits, {:.1} deliveries per commit, busy {:.0} % of the phase, committing {:.0} %",
            transactions,
            (after.jobs - before.jobs) as f64 / transactions.max(1) as f64,
            (after.busy_micros - before.busy_micros) as f64 / 1e4 / durable.elapsed.as_secs_f64(),
            (after.commit_micros - before.commit_micros) as f64
                / 1e4
                / durable.elapsed.as_secs_f64()
        );
        println!(
            "  cpu durable : {}",
            times_between(&cpu_before, &cpu_durable, durable.acknowledged)
        );
        println!(
            "  cpu no store: {}",
            times_between(&cpu_durable, &cpu_discard, discard.acknowledged)
        );
        println!("  ratio: {:.2}", durable.rate() / discard.rate());
        durable_rates.push(durable.rate());
        discard_rates.push(discard.rate());
    }

    let check = rusqlite::Connection::open(&db).expect("open");
    let stored: i64 = check
        .query_row("SELECT count(*) FROM event_keys", [], |r| r.get(0))
        .expect("count");
    let stored = stored as u64 - warm.acknowledged;
    let durable = median(&mut durable_rates);
    let discard = median(&mut discard_rates);
    println!("the writer alone (synchronous=FULL, this thread, nothing else running):");
    for batch in [1, 22, 64] {
        let count = if batch == 1 { 2_000 } else { 22_000 };
        let (wall, cpu) = writer_alone(count, batch);
        println!(
            "  {batch:>2} deliveries per commit: {wall:>5.1} µs per delivery, of which {cpu:>5.1} µs on a core"
        );
    }
    println!("median of {rounds} rounds:");
    println!(
        "  durable : {durable:>8.0} deliveries/s ({stored} stored, {durable_acknowledged} acknowledged)"
    );
    println!("  no store: {discard:>8.0} deliveries/s");
    println!("  ratio durable / no store: {:.2}", durable / discard);
    if stored < durable_acknowledged {
        eprintln!(
            "ERROR: {} acknowledged deliveries are not in the database",
            durable_acknowledged - stored
        );
        std::process::exit(1);
    }
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}
