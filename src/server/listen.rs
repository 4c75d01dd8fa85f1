//! The accept loop: hyper's HTTP/1 connections with a header-read timeout, a bounded
//! number of connections in all and per address, and a graceful shutdown.

use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tower::ServiceExt;

use super::admission::Peer;
use super::quota::{Quota, Refused};
use super::{AppState, Limits, router_with};

/// Longest the shutdown waits for connections to finish (systemd's stop timeout is 30 s).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(25);

/// Serves `router_with(state, limits)` on `listener` until `shutdown` resolves, then
/// stops accepting and finishes the requests in flight.
pub async fn serve_with(
    listener: TcpListener,
    state: AppState,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let closing = state.inner.closing.clone();
    let router = router_with(state, &limits);
    let connections = Quota::new(limits.max_connections, limits.max_per_client);
    let trusted: Arc<[IpAddr]> = limits.trusted_proxies.clone().into();
    let mut http = hyper::server::conn::http1::Builder::new();
    // The timer makes hyper enforce the header-read timeout: a caller that sends headers
    // byte by byte is dropped instead of holding its connection. The first request of a
    // connection is answered 408 by the watchdog below just before; this one covers the
    // requests after it (and idle kept-alive connections).
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.read_timeout + Duration::from_secs(1));
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, most likely: let connections finish
                    // instead of spinning on the error.
                    tracing::warn!(%error, "could not accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let accepted_at = Instant::now();
        let peer_ip = super::admission::client_ip(peer.ip(), &Default::default(), &[]);
        // A trusted proxy speaks for many clients: only the total counts for it, and its
        // clients' shares are counted per request.
        let counted = (!trusted.contains(&peer_ip)).then_some(peer_ip);
        let share = match connections.take(counted) {
            Ok(share) => share,
            Err(refused) => {
                tokio::spawn(refuse(stream, refused));
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        // A second handle on the socket, to answer 408 to a caller whose first request's
        // headers do not arrive in time (hyper itself would only drop the connection).
        let (stream, watchdog) = match split_watchdog(stream) {
            Ok(split) => split,
            Err(error) => {
                tracing::warn!(%error, "could not set up a connection");
                continue;
            }
        };
        let router = router.clone();
        let first = Arc::new(tokio::sync::Notify::new());
        let arrived = first.clone();
        let waiting_for_first = AtomicBool::new(true);
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            // The first request's time runs from the accept, so slow headers count too.
            let started = if waiting_for_first.swap(false, Ordering::Relaxed) {
                arrived.notify_one();
                accepted_at
            } else {
                Instant::now()
            };
            request.extensions_mut().insert(Peer {
                addr: peer,
                started,
            });
            router.clone().oneshot(request.map(Body::new))
        });
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        let deadline = tokio::time::Instant::from_std(accepted_at + limits.read_timeout);
        tokio::spawn(async move {
            tokio::pin!(connection);
            tokio::select! {
                ended = &mut connection => {
                    if let Err(error) = ended {
                        tracing::debug!(%error, %peer, "connection ended with an error");
                    }
                    return;
                }
                () = first.notified() => {}
                () = tokio::time::sleep_until(deadline) => {
                    tracing::debug!(%peer, "headers did not arrive in time: 408");
                    answer_late_headers(watchdog).await;
                    return;
                }
            }
            drop(watchdog);
            if let Err(error) = connection.await {
                tracing::debug!(%error, %peer, "connection ended with an error");
            }
            drop(share);
        });
    }
    drop(listener);
    closing.send_replace(true);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("some connections were still open after the shutdown grace; closing them");
    }
    Ok(())
}

/// Splits `stream` into the one hyper reads and a duplicate handle for the watchdog.
fn split_watchdog(stream: TcpStream) -> std::io::Result<(TcpStream, std::net::TcpStream)> {
    let std = stream.into_std()?;
    let watchdog = std.try_clone()?;
    Ok((TcpStream::from_std(std)?, watchdog))
}

/// Writes 408 on the watchdog's handle, then lets the caller read it before closing.
async fn answer_late_headers(watchdog: std::net::TcpStream) {
    let Ok(mut stream) = TcpStream::from_std(watchdog) else {
        return;
    };
    let message = "the request's headers did not arrive in time\n";
    let answer = format!(
        "HTTP/1.1 408 Request Timeout\r\nconnection: close\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\r\n{message}",
        message.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        let _ = stream.write_all(answer.as_bytes()).await;
        let _ = stream.shutdown().await;
    })
    .await;
}

/// Answers a connection over its share and closes it, without reading it.
async fn refuse(mut stream: TcpStream, refused: Refused) {
    let (status, message) = match refused {
        Refused::Full => (
            "503 Service Unavailable",
            "too many connections; try again shortly\n",
        ),
        Refused::ClientFull => (
            "429 Too Many Requests",
            "too many connections from your address; try again shortly\n",
        ),
    };
    tracing::debug!(status, "refused a connection: {}", message.trim_end());
    let answer = format!(
        "HTTP/1.1 {status}\r\nretry-after: 5\r\nconnection: close\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\r\n{message}",
        message.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        let _ = stream.write_all(answer.as_bytes()).await;
        let _ = stream.shutdown().await;
    })
    .await;
}
