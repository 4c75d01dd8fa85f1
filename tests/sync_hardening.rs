//! The sync API and `fleetdash sync` under attack or misuse: guessed tokens, plain HTTP
//! across a network, a page no relay would send, and a first sync of a large archive.

mod common;

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::path::Path;
use std::process::{Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;
use fleetdash::server::sync::{SYNC_PATH, SyncApi, SyncPage};
use fleetdash::server::{AppState, ClientIp, Sink, router};
use fleetdash::smartcar::client::Secret;
use fleetdash::store::{self, StoreOptions, spawn_writer};
use fleetdash::sync::{Relay, SyncError};
use tower::ServiceExt;

/// A token as `openssl rand -hex 32` makes them.
const SYNC_TOKEN: &str = "4f9c0e7d2b1a8f3e6d5c4b3a29180f7e6d5c4b3a29180f7e6d5c4b3a29180f7e";

/// The whole router over a fresh database in `dir`, with the sync API on.
fn relay_router(dir: &Path) -> (axum::Router, std::path::PathBuf) {
    let db = dir.join("relay.sqlite3");
    let conn = store::open(&db, &StoreOptions::default()).unwrap();
    let (writer, _) = spawn_writer(conn).unwrap();
    let sync = SyncApi::new(SYNC_TOKEN, db.clone());
    (
        router(AppState::with_sync(token(), Sink::Store(writer), sync)),
        db,
    )
}

/// `GET` of the sync API through `oneshot`, as the caller at `ip` (`None`: no address).
async fn get_page(
    app: &axum::Router,
    query: &str,
    bearer: &str,
    ip: Option<IpAddr>,
) -> axum::response::Response {
    let mut request = Request::builder()
        .uri(format!("{SYNC_PATH}?{query}"))
        .header("authorization", format!("Bearer {bearer}"))
        .body(Body::empty())
        .unwrap();
    if let Some(ip) = ip {
        request.extensions_mut().insert(ClientIp(ip));
    }
    app.clone().oneshot(request).await.unwrap()
}

#[tokio::test]
async fn ten_wrong_tokens_in_a_minute_shut_the_address_out_with_429_the_right_token_included() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _) = relay_router(dir.path());
    let guesser = Some(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7)));
    for attempt in 1..=10 {
        let answer = get_page(&app, "after=0", "guess", guesser).await;
        assert_eq!(
            answer.status(),
            StatusCode::UNAUTHORIZED,
            "attempt {attempt}"
        );
    }
    for bearer in ["guess", SYNC_TOKEN] {
        let answer = get_page(&app, "after=0", bearer, guesser).await;
        assert_eq!(answer.status(), StatusCode::TOO_MANY_REQUESTS, "{bearer}");
        let retry_after: u64 = answer.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((55..=60).contains(&retry_after), "{retry_after}");
    }
    // Others are not shut out: another address, and callers of unknown address.
    let other = Some(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 8)));
    assert_eq!(
        get_page(&app, "after=0", SYNC_TOKEN, other).await.status(),
        200
    );
    assert_eq!(
        get_page(&app, "after=0", SYNC_TOKEN, None).await.status(),
        200
    );
    // The unknown callers are one caller, with the same limit.
    for _ in 0..10 {
        assert_eq!(get_page(&app, "", "guess", None).await.status(), 401);
    }
    assert_eq!(get_page(&app, "", SYNC_TOKEN, None).await.status(), 429);
    assert_eq!(get_page(&app, "", SYNC_TOKEN, other).await.status(), 200);
}

/// A server on loopback that answers every request 200 with `head` and then, if `endless`,
/// chunks of JSON whitespace until the client hangs up. Returns its address.
fn hostile_relay(head: &'static str, endless: bool) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            std::thread::spawn(move || {
                let mut request = [0u8; 4096];
                let _ = stream.read(&mut request);
                if stream.write_all(head.as_bytes()).is_err() || !endless {
                    return;
                }
                let chunk = format!("10000\r\n{}\r\n", " ".repeat(0x10000));
                while stream.write_all(chunk.as_bytes()).is_ok() {}
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_over_16_mib_is_refused_in_words_without_reading_it_all() {
    let endless = hostile_relay(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n",
        true,
    );
    let announced = hostile_relay(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 17000000\r\n\r\n",
        false,
    );
    for addr in [endless, announced] {
        let relay = Relay::new(&format!("http://{addr}"), Secret::new(SYNC_TOKEN)).unwrap();
        let answer = tokio::time::timeout(Duration::from_secs(30), relay.page(0, 500, 0))
            .await
            .expect("the client kept reading an endless page");
        let error = answer.unwrap_err();
        assert!(matches!(error, SyncError::PageTooLarge(_)), "{error:?}");
        assert!(error.is_permanent());
        assert!(error.to_string().contains("16 MiB"), "{error}");
    }
}

/// `fleetdash sync --from URL` with the token in the environment, plain HTTP going
/// through `proxy` (so a relay "elsewhere" is still reached over loopback), within a
/// deadline.
fn sync_via_proxy(url: &str, proxy: &str, extra: &[&str], db: &Path, secrets: &Path) -> Output {
    let mut child = fleetdash()
        .args(["sync", "--from", url, "--db"])
        .arg(db)
        .args(extra)
        .env("FLEETDASH_SECRETS", secrets)
        .env("FLEETDASH_SYNC_TOKEN", SYNC_TOKEN)
        .env("http_proxy", proxy)
        .env("HTTP_PROXY", proxy)
        .env_remove("no_proxy")
        .env_remove("NO_PROXY")
        .env_remove("all_proxy")
        .env_remove("ALL_PROXY")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let exited = wait_until(Duration::from_secs(30), || {
        child.try_wait().unwrap().is_some()
    });
    if !exited {
        let _ = child.kill();
    }
    let output = child.wait_with_output().unwrap();
    assert!(exited, "sync did not end: {}", text(&output));
    output
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn sync_over_plain_http_to_another_host_is_refused_unless_allowed_and_sends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let relay_db = dir.path().join("relay.sqlite3");
    archive(&relay_db, 0, 20);
    let relay = ServeProcess::start(&relay_db, &[("FLEETDASH_SYNC_TOKEN", SYNC_TOKEN)]);
    let desktop = dir.path().join("desktop.sqlite3");
    let secrets = dir.path().join("config").join("secrets.json");
    // A documentation address (TEST-NET-3): reached only through the proxies below.
    let elsewhere = "http://203.0.113.9:8787";

    // A proxy that counts connections and answers none: the refusal must come first.
    let counter = TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy = format!("http://{}", counter.local_addr().unwrap());
    let connections = Arc::new(AtomicUsize::new(0));
    let seen = connections.clone();
    std::thread::spawn(move || {
        for stream in counter.incoming() {
            seen.fetch_add(1, Ordering::SeqCst);
            std::mem::forget(stream);
        }
    });
    let refused = sync_via_proxy(elsewhere, &proxy, &[], &desktop, &secrets);
    assert!(!refused.status.success(), "{}", text(&refused));
    let said = text(&refused);
    for words in ["plain http", "https://", "--allow-insecure-http"] {
        assert!(said.contains(words), "{said} lacks {words}");
    }
    assert_eq!(connections.load(Ordering::SeqCst), 0, "the token was sent");

    // Allowed, the same address syncs (the relay itself stands in as the proxy).
    let via_relay = format!("http://{}", relay.addr);
    let allowed = sync_via_proxy(
        elsewhere,
        &via_relay,
        &["--allow-insecure-http"],
        &desktop,
        &secrets,
    );
    assert!(allowed.status.success(), "{}", text(&allowed));
    assert!(
        text(&allowed).contains("pulled 20 deliveries (20 new"),
        "{}",
        text(&allowed)
    );
    // Loopback needs no permission.
    let local = sync_via_proxy(&via_relay, &via_relay, &[], &desktop, &secrets);
    assert!(local.status.success(), "{}", text(&local));
}

#[test]
fn a_long_sync_reports_its_rate_at_the_start_and_at_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let relay_db = dir.path().join("relay.sqlite3");
    archive(&relay_db, 0, 1_200);
    let relay = ServeProcess::start(&relay_db, &[("FLEETDASH_SYNC_TOKEN", SYNC_TOKEN)]);
    let output = fleetdash()
        .args(["sync", "--from", &format!("http://{}", relay.addr), "--db"])
        .arg(dir.path().join("desktop.sqlite3"))
        .env("FLEETDASH_SECRETS", dir.path().join("secrets.json"))
        .env("FLEETDASH_SYNC_TOKEN", SYNC_TOKEN)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    let rate = |line: &str| -> f64 {
        let (before, _) = line
            .rsplit_once(" deliveries/s")
            .unwrap_or_else(|| panic!("no rate in {line:?}"));
        let number = before.rsplit([' ', '(']).next().unwrap();
        number.parse().unwrap()
    };
    let first = lines.first().expect("no progress line");
    assert!(first.contains("pulled 500 so far"), "{stdout}");
    assert!(rate(first) > 0.0, "{first}");
    let last = lines.last().unwrap();
    assert!(last.contains("pulled 1200 deliveries"), "{stdout}");
    assert!(rate(last) > 0.0, "{last}");
}

/// Appends `count` rows to the archive of `db` directly: every seventh a duplicate (no
/// body), the rest parsed with a 300-byte body. The sync API serves rows, not readings.
fn raw_archive(db: &Path, count: usize) {
    let mut conn = rusqlite::Connection::open(db).unwrap();
    let tx = conn.transaction().unwrap();
    {
        let mut insert = tx
            .prepare(
                "INSERT INTO deliveries(received_at, format, kind, outcome, body)
                 VALUES (?1, 'v4', 'VEHICLE_STATE', ?2, ?3)",
            )
            .unwrap();
        let body = vec![b'x'; 300];
        for i in 0..count {
            let duplicate = i % 7 == 6;
            let outcome = if duplicate { "duplicate" } else { "parsed" };
            let body = (!duplicate).then_some(&body);
            insert
                .execute(rusqlite::params![JAN_1_2026 + i as i64, outcome, body])
                .unwrap();
        }
    }
    tx.commit().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_backlog_stays_exact_page_after_page_and_costs_the_same_however_large_the_archive() {
    // Small pages, so a page's time is mostly its backlog count: the median over 40 pages
    // of a first sync, on a small archive and on a 20 times larger one.
    let mut medians = Vec::new();
    for size in [8_000, 160_000] {
        let dir = tempfile::tempdir().unwrap();
        let (app, db) = relay_router(dir.path());
        raw_archive(&db, size);
        let served = |after: i64| {
            count(
                &rusqlite::Connection::open(&db).unwrap(),
                &format!(
                    "SELECT count(*) FROM deliveries WHERE id > {after} \
                     AND outcome IN ('parsed', 'quarantined')"
                ),
            ) as u64
        };
        let mut after = 0;
        let mut times = Vec::new();
        for page_number in 1..=40 {
            if page_number % 5 == 0 {
                // Deliveries keep arriving during the sync; the count must see them.
                raw_archive(&db, 3);
            }
            let started = Instant::now();
            let answer = get_page(&app, &format!("after={after}&limit=10"), SYNC_TOKEN, None).await;
            let bytes = axum::body::to_bytes(answer.into_body(), usize::MAX)
                .await
                .unwrap();
            times.push(started.elapsed());
            let page: SyncPage = serde_json::from_slice(&bytes).unwrap();
            assert_eq!(page.deliveries.len(), 10);
            after = page.next;
            assert_eq!(
                page.remaining,
                served(after),
                "page {page_number} of {size}"
            );
        }
        times.sort();
        medians.push(times[times.len() / 2]);
    }
    let (small, large) = (medians[0], medians[1]);
    eprintln!("a page takes {small:?} of 8,000, {large:?} of 160,000 (medians)");
    assert!(
        large < small * 4 + Duration::from_millis(1),
        "a page took {large:?} of the large archive, {small:?} of the small one"
    );
}
