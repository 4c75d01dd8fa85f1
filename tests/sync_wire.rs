//! The sync API on the wire: pages compressed (zstd or gzip) when the caller asks, the
//! same JSON once decoded; the desktop asks and decodes; and a small compressed answer
//! that would decode to more than a page may hold is refused like a large plain one.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use common::*;
use fleetdash::server::sync::{SYNC_PATH, SyncApi, SyncPage};
use fleetdash::server::{AppState, Sink, router};
use fleetdash::smartcar::client::Secret;
use fleetdash::store::{self, StoreOptions, spawn_writer};
use fleetdash::sync::{Relay, SyncError};
use tower::ServiceExt;

/// A token as `openssl rand -hex 32` makes them.
const SYNC_TOKEN: &str = "4f9c0e7d2b1a8f3e6d5c4b3a29180f7e6d5c4b3a29180f7e6d5c4b3a29180f7e";

/// The whole router over a database in `dir` holding `count` v4 deliveries.
fn relay_with(dir: &Path, count: usize) -> axum::Router {
    let db = dir.join("relay.sqlite3");
    archive(&db, 0, count);
    let conn = store::open(&db, &StoreOptions::default()).unwrap();
    let (writer, _) = spawn_writer(conn).unwrap();
    router(AppState::with_sync(
        token(),
        Sink::Store(writer),
        SyncApi::new(SYNC_TOKEN, db),
    ))
}

/// A page's status, `Content-Encoding` and body as sent, asking with `accept` (if any).
async fn fetch(app: &axum::Router, accept: Option<&str>) -> (u16, Option<String>, Vec<u8>) {
    let mut request = Request::builder()
        .uri(format!("{SYNC_PATH}?after=0&limit=300"))
        .header("authorization", format!("Bearer {SYNC_TOKEN}"));
    if let Some(accept) = accept {
        request = request.header("accept-encoding", accept);
    }
    let answer = app
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let encoding = answer
        .headers()
        .get("content-encoding")
        .map(|v| v.to_str().unwrap().to_owned());
    let status = answer.status().as_u16();
    let body = axum::body::to_bytes(answer.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, encoding, body.to_vec())
}

#[tokio::test]
async fn a_page_goes_compressed_when_asked_and_decodes_to_the_very_same_json() {
    let dir = tempfile::tempdir().unwrap();
    let app = relay_with(dir.path(), 300);
    let (status, encoding, plain) = fetch(&app, None).await;
    assert_eq!((status, encoding), (200, None));
    let page: SyncPage = serde_json::from_slice(&plain).unwrap();
    assert_eq!(page.deliveries.len(), 300);

    let (status, encoding, zstd_bytes) = fetch(&app, Some("zstd")).await;
    assert_eq!((status, encoding.as_deref()), (200, Some("zstd")));
    assert_eq!(zstd::decode_all(&zstd_bytes[..]).unwrap(), plain);

    let (status, encoding, gzip_bytes) = fetch(&app, Some("gzip")).await;
    assert_eq!((status, encoding.as_deref()), (200, Some("gzip")));
    let mut gunzipped = Vec::new();
    flate2::read::GzDecoder::new(&gzip_bytes[..])
        .read_to_end(&mut gunzipped)
        .unwrap();
    assert_eq!(gunzipped, plain);

    // What a browser or curl sends: zstd is preferred where both are offered equally.
    let (_, encoding, _) = fetch(&app, Some("gzip, deflate, br, zstd")).await;
    assert!(
        matches!(encoding.as_deref(), Some("zstd" | "gzip")),
        "{encoding:?}"
    );
    eprintln!(
        "a page of 300 deliveries: {} bytes plain, {} zstd, {} gzip",
        plain.len(),
        zstd_bytes.len(),
        gzip_bytes.len()
    );
    assert!(zstd_bytes.len() * 4 < plain.len(), "{}", zstd_bytes.len());
    assert!(gzip_bytes.len() * 3 < plain.len(), "{}", gzip_bytes.len());
}

/// A relay on loopback that answers every request with `body` under `Content-Encoding:
/// zstd`, and keeps each request's head in `seen`.
fn zstd_relay(body: Vec<u8>, seen: Arc<Mutex<Vec<String>>>) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut request = [0u8; 4096];
            let n = stream.read(&mut request).unwrap_or(0);
            seen.lock()
                .unwrap()
                .push(String::from_utf8_lossy(&request[..n]).to_lowercase());
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                 content-encoding: zstd\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_desktop_asks_for_compressed_pages_and_reads_them() {
    let page = SyncPage {
        deliveries: Vec::new(),
        next: 41,
        remaining: 0,
        newest: 41,
    };
    let compressed = zstd::encode_all(&serde_json::to_vec(&page).unwrap()[..], 3).unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let addr = zstd_relay(compressed, seen.clone());
    let relay = Relay::new(&format!("http://{addr}"), Secret::new(SYNC_TOKEN)).unwrap();
    let answer = tokio::time::timeout(Duration::from_secs(30), relay.page(41, 500, 0))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(answer, page);
    let heads = seen.lock().unwrap().clone();
    let accept = heads[0]
        .lines()
        .find(|line| line.starts_with("accept-encoding:"))
        .unwrap_or_else(|| panic!("no accept-encoding in {heads:?}"));
    assert!(
        accept.contains("zstd") && accept.contains("gzip"),
        "{accept}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_compressed_page_that_decodes_past_16_mib_is_refused_as_too_large() {
    // 17 MiB of JSON whitespace shrinks to a few hundred bytes: the limit must be on what
    // the page decodes to, or such a page fills the desktop's memory.
    let bomb = zstd::encode_all(&vec![b' '; 17 << 20][..], 19).unwrap();
    assert!(bomb.len() < 4096, "{}", bomb.len());
    let addr = zstd_relay(bomb, Arc::default());
    let relay = Relay::new(&format!("http://{addr}"), Secret::new(SYNC_TOKEN)).unwrap();
    let error = tokio::time::timeout(Duration::from_secs(30), relay.page(0, 500, 0))
        .await
        .unwrap()
        .unwrap_err();
    assert!(matches!(error, SyncError::PageTooLarge(_)), "{error:?}");
    assert!(error.to_string().contains("16 MiB"), "{error}");
}
