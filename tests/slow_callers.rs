//! Strangers who find the callback URL: slow, greedy or proxied callers must never crowd
//! out Smartcar. Linux routes all of 127.0.0.0/8 to loopback, so callers from 127.0.0.2
//! and up are other addresses on this machine.

mod common;

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use common::*;
use fleetdash::server::{AppState, Limits, Sink, serve_with};
use fleetdash::store::{self, StoreOptions, WriterHandle, spawn_writer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

fn ip(last: u8) -> IpAddr {
    IpAddr::from([127, 0, 0, last])
}

async fn connect_from(from: IpAddr, to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(from, 0)).unwrap();
    socket.connect(to).await.unwrap()
}

/// Headers of a delivery announcing 100 bytes, and one byte of its body.
async fn trickle_from(from: IpAddr, to: SocketAddr, extra_headers: &str) -> TcpStream {
    let mut stream = connect_from(from, to).await;
    let head = format!(
        "POST /webhooks/smartcar HTTP/1.1\r\nHost: fleetdash\r\n{extra_headers}\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{"
    );
    // A refused connection may be closed before all of this is written.
    let _ = stream.write_all(head.as_bytes()).await;
    stream
}

/// The answer's status line, or "" when the connection closed (or reset) without one.
async fn status_line(stream: &mut TcpStream, limit: Duration) -> String {
    let mut answer = vec![0; 512];
    match tokio::time::timeout(limit, stream.read(&mut answer)).await {
        Ok(Ok(n)) => String::from_utf8_lossy(&answer[..n])
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned(),
        Ok(Err(_)) => String::new(),
        Err(_) => panic!("no answer within {limit:?}"),
    }
}

fn client_from(from: IpAddr) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(Some(from))
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

async fn signed_delivery(client: &reqwest::Client, url: &str, event: &str) -> reqwest::Response {
    let body = v4_state(event, "veh-1", 55.0, 1_700_000_000_000);
    client
        .post(url)
        .header("content-type", "application/json")
        .header("sc-signature", sign(&body))
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_hundred_slow_callers_from_one_address_leave_a_delivery_from_another_answered_within_5_s()
 {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fleetdash.sqlite3");
    let serve = ServeProcess::start(&db, &[]);
    let mut slow = Vec::new();
    for _ in 0..300 {
        slow.push(trickle_from(ip(2), serve.addr, "").await);
    }
    let started = Instant::now();
    let answer = signed_delivery(&client_from(ip(1)), &serve.webhook_url(), "evt-slow-1").await;
    let elapsed = started.elapsed();
    eprintln!("a delivery under 300 slow callers was answered in {elapsed:?}");
    assert_eq!(answer.status(), 200);
    assert!(
        elapsed < Duration::from_secs(5),
        "answered after {elapsed:?}"
    );
    let stored = rusqlite::Connection::open(&db).unwrap();
    assert_eq!(count(&stored, "SELECT count(*) FROM deliveries"), 1);

    // Those over the address's share were refused at once; the rest are cut off with
    // 408 once the read timeout has passed, which frees their places.
    let (mut refused, mut timed_out, mut closed) = (0, 0, 0);
    for stream in &mut slow {
        match status_line(stream, Duration::from_secs(25)).await.as_str() {
            "HTTP/1.1 429 Too Many Requests" => refused += 1,
            "HTTP/1.1 408 Request Timeout" => timed_out += 1,
            "" => closed += 1,
            other => panic!("unexpected answer {other:?}"),
        }
    }
    eprintln!("slow callers: {refused} refused (429), {timed_out} cut off (408), {closed} closed");
    assert!((1..=fleetdash::server::MAX_PER_CLIENT).contains(&timed_out));
    assert!(refused >= 200, "only {refused} refused");
    drop(slow);
    let health = format!("http://{}/healthz", serve.addr);
    let mut status = 0;
    assert!(
        wait_until_async(
            Duration::from_secs(10),
            || {
                let health = health.clone();
                async move {
                    client_from(ip(2))
                        .get(&health)
                        .send()
                        .await
                        .map(|r| r.status().as_u16())
                }
            },
            |answer| {
                status = answer.as_ref().map_or(0, |s| *s);
                status == 200
            }
        )
        .await,
        "the slow address was not served again: {status}"
    );
}

/// Polls `probe` until `done` holds of its answer, up to `limit`.
async fn wait_until_async<T, F, Fut>(
    limit: Duration,
    probe: F,
    mut done: impl FnMut(&T) -> bool,
) -> bool
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if done(&probe().await) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// A server with `limits` on 127.0.0.1:0 storing into a fresh database; its address,
/// the database, and the temp dir keeping it.
async fn server_with(
    limits: Limits,
    busy: Duration,
) -> (
    SocketAddr,
    std::path::PathBuf,
    tempfile::TempDir,
    WriterHandle,
) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fleetdash.sqlite3");
    let conn = store::open(
        &db,
        &StoreOptions {
            busy_timeout: busy,
            create: true,
        },
    )
    .unwrap();
    let (writer, _thread) = spawn_writer(conn).unwrap();
    let handle = writer.clone();
    let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
    let addr = SocketAddr::new(ip(1), listener.local_addr().unwrap().port());
    tokio::spawn(serve_with(
        listener,
        AppState::new(token(), Sink::Store(writer)),
        limits,
        std::future::pending(),
    ));
    (addr, db, dir, handle)
}

fn short_limits() -> Limits {
    Limits {
        read_timeout: Duration::from_secs(1),
        ..Limits::default()
    }
}

#[tokio::test]
async fn headers_or_a_body_that_do_not_arrive_in_time_get_408() {
    let (addr, _db, _dir, _writer) = server_with(short_limits(), Duration::from_secs(5)).await;
    let mut headers = connect_from(ip(1), addr).await;
    headers
        .write_all(b"POST /webhooks/smartcar HTTP/1.1\r\nHost: fleetdash\r\n")
        .await
        .unwrap();
    let mut body = trickle_from(ip(1), addr, "").await;
    for stream in [&mut headers, &mut body] {
        assert_eq!(
            status_line(stream, Duration::from_secs(10)).await,
            "HTTP/1.1 408 Request Timeout"
        );
    }
}

#[tokio::test]
async fn forwarded_for_is_believed_only_from_a_trusted_proxy() {
    let limits = |trusted: Vec<IpAddr>| Limits {
        max_per_client: 2,
        trusted_proxies: trusted,
        ..Limits::default()
    };
    // Behind a trusted proxy each forwarded client has its own share.
    let (proxied, _db, _dir, _w) = server_with(limits(vec![ip(1)]), Duration::from_secs(5)).await;
    let xff = |client: &str| format!("X-Forwarded-For: {client}\r\n");
    let _held = [
        trickle_from(ip(1), proxied, &xff("198.51.100.1")).await,
        trickle_from(ip(1), proxied, &xff("198.51.100.1")).await,
    ];
    let mut third = trickle_from(ip(1), proxied, &xff("198.51.100.1")).await;
    assert_eq!(
        status_line(&mut third, Duration::from_secs(5)).await,
        "HTTP/1.1 429 Too Many Requests"
    );
    let other = client_from(ip(1))
        .get(format!("http://{proxied}/healthz"))
        .header("x-forwarded-for", "198.51.100.2")
        .send()
        .await
        .unwrap();
    assert_eq!(
        other.status(),
        200,
        "another client behind the proxy is served"
    );

    // From anyone else the header is ignored: one address, one share, whatever it claims.
    let (direct, _db2, _dir2, _w2) = server_with(limits(vec![ip(1)]), Duration::from_secs(5)).await;
    let _held = [
        trickle_from(ip(3), direct, &xff("198.51.100.1")).await,
        trickle_from(ip(3), direct, &xff("198.51.100.2")).await,
    ];
    let mut third = trickle_from(ip(3), direct, &xff("198.51.100.3")).await;
    assert_eq!(
        status_line(&mut third, Duration::from_secs(5)).await,
        "HTTP/1.1 429 Too Many Requests"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_every_slot_taken_a_request_gets_503_at_once_and_one_address_only_its_share() {
    let limits = Limits {
        max_concurrent: 4,
        ..Limits::default()
    };
    let (addr, db, _dir, _writer) = server_with(limits, Duration::from_secs(60)).await;
    let url = format!("http://{addr}/webhooks/smartcar");
    let health = format!("http://{addr}/healthz");
    // Another connection holds the write lock: every stored delivery waits, holding its slot.
    let lock = rusqlite::Connection::open(&db).unwrap();
    lock.execute_batch("BEGIN IMMEDIATE").unwrap();
    let mut waiting = Vec::new();
    for (n, last) in [2u8, 3, 4, 5].into_iter().enumerate() {
        let url = url.clone();
        waiting.push(tokio::spawn(async move {
            signed_delivery(&client_from(ip(last)), &url, &format!("evt-slot-{n}"))
                .await
                .status()
        }));
    }
    // The Connect redirect page takes a slot and answers at once, so it can watch for
    // the moment all four deliveries hold theirs (they wait for the lock meanwhile).
    let page = format!("http://{addr}/oauth/callback?code=c&state=nobody");
    let mut status = 0;
    assert!(
        wait_until_async(
            Duration::from_secs(20),
            || {
                let page = page.clone();
                async move { client_from(ip(6)).get(&page).send().await.unwrap().status() }
            },
            |answer| {
                status = answer.as_u16();
                status == 503
            }
        )
        .await,
        "the deliveries never all held a slot: {status}"
    );
    // One address holds at most a quarter of the slots.
    let body = br#"{"eventType":"VERIFY","data":{"challenge":"second-from-one-address"}}"#;
    let second = client_from(ip(2))
        .post(&url)
        .header("sc-signature", sign(body))
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(second.status(), 429);
    let shed = client_from(ip(6)).get(&health).send().await.unwrap();
    assert_eq!(shed.status(), 503, "every slot is taken");
    assert!(shed.text().await.unwrap().contains("too many requests"));
    lock.execute_batch("ROLLBACK").unwrap();
    for delivery in waiting {
        assert_eq!(delivery.await.unwrap(), 200);
    }
    assert_eq!(
        client_from(ip(6))
            .get(&health)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let stored = rusqlite::Connection::open(&db).unwrap();
    assert_eq!(
        count(
            &stored,
            "SELECT count(*) FROM deliveries WHERE outcome = 'parsed'"
        ),
        4
    );
}
