//! What a request must pass before a handler spends anything on it: its caller's share of
//! requests in progress, its whole body within the read timeout, and (except for
//! deliveries, which take theirs once their signature is checked) a shared slot.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;

use super::quota::{Quota, Refused, Share};
use super::{ClientIp, Limits, MAX_BODY_BYTES, WEBHOOK_PATH};

/// Put in each request's extensions by [`super::serve`]: who is at the other end of the
/// connection, and when the request began (for the first request of a connection, when
/// the connection was accepted, so slow headers count too).
#[derive(Debug, Clone, Copy)]
pub struct Peer {
    /// The connection's remote address.
    pub addr: SocketAddr,
    /// When the request began.
    pub started: Instant,
}

/// The shared slots: the webhook handler takes one once a delivery's signature checks.
#[derive(Debug, Clone)]
pub struct Slots {
    quota: Arc<Quota>,
    client: IpAddr,
}

impl Slots {
    /// A slot for this request's caller, or why there is none (see [`busy`]).
    pub fn take(&self) -> Result<Share, Refused> {
        self.quota.take(Some(self.client))
    }
}

/// The admission state of one router.
#[derive(Debug, Clone)]
pub(super) struct Admission {
    read_timeout: Duration,
    trusted_proxies: Arc<[IpAddr]>,
    reading: Arc<Quota>,
    slots: Arc<Quota>,
}

impl Admission {
    pub(super) fn new(limits: &Limits) -> Self {
        Admission {
            read_timeout: limits.read_timeout,
            trusted_proxies: limits.trusted_proxies.clone().into(),
            reading: Quota::new(limits.max_connections, limits.max_per_client),
            slots: Quota::new(limits.max_concurrent, limits.max_slots_per_client()),
        }
    }
}

/// The middleware: see the module's comment.
pub(super) async fn admit(
    State(admission): State<Admission>,
    request: Request,
    next: Next,
) -> Response {
    let peer = request.extensions().get::<Peer>().copied();
    let client = match peer {
        Some(peer) => client_ip(
            peer.addr.ip(),
            request.headers(),
            &admission.trusted_proxies,
        ),
        // Driven without a socket (tests through `oneshot`): the address the driver gave,
        // else one unknown caller.
        None => request
            .extensions()
            .get::<ClientIp>()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |ClientIp(ip)| *ip),
    };
    let started = peer.map_or_else(Instant::now, |p| p.started);
    let reading = match admission.reading.take(Some(client)) {
        Ok(share) => share,
        Err(refused) => return busy(refused, "requests"),
    };
    let (mut parts, body) = request.into_parts();
    let deadline = tokio::time::Instant::from_std(started + admission.read_timeout);
    let body = match tokio::time::timeout_at(deadline, read_body(body)).await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(refused)) => return refused.into_response(),
        Err(_) => {
            tracing::warn!(%client, "a request did not arrive within the read timeout: 408");
            let mut answer = (
                StatusCode::REQUEST_TIMEOUT,
                "the request did not arrive in time\n",
            )
                .into_response();
            answer
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            return answer;
        }
    };
    drop(reading);
    parts.extensions.insert(ClientIp(client));
    let slots = Slots {
        quota: admission.slots.clone(),
        client,
    };
    let request = Request::from_parts(parts, Body::from(body));
    if request.uri().path() == WEBHOOK_PATH {
        let mut request = request;
        request.extensions_mut().insert(slots);
        return next.run(request).await;
    }
    let _slot = match slots.take() {
        Ok(slot) => slot,
        Err(refused) => return busy(refused, "requests"),
    };
    next.run(request).await
}

/// The whole body, at most [`MAX_BODY_BYTES`].
async fn read_body(body: Body) -> Result<Bytes, (StatusCode, &'static str)> {
    let limited = http_body_util::Limited::new(body, MAX_BODY_BYTES);
    match limited.collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => Err((
            StatusCode::PAYLOAD_TOO_LARGE,
            "the body is larger than 1 MiB\n",
        )),
        Err(error) => {
            tracing::debug!(%error, "the request's body could not be read");
            Err((StatusCode::BAD_REQUEST, "the body could not be read\n"))
        }
    }
}

/// 503 when the server is full, 429 when this caller holds its whole share.
pub fn busy(refused: Refused, what: &str) -> Response {
    let (status, message) = match refused {
        Refused::Full => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("too many {what} at once; try again shortly\n"),
        ),
        Refused::ClientFull => (
            StatusCode::TOO_MANY_REQUESTS,
            format!("too many {what} from your address at once; try again shortly\n"),
        ),
    };
    tracing::warn!(%status, "{}", message.trim_end());
    let mut answer = (status, message).into_response();
    answer
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    answer
}

/// The caller's address: the peer's, unless the peer is a trusted proxy, in which case the
/// nearest address in `X-Forwarded-For` that is not itself a trusted proxy (the ones
/// further left were written by the client and prove nothing).
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    let peer = canonical(peer);
    if !trusted.contains(&peer) {
        return peer;
    }
    let mut client = peer;
    let hops = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .collect::<Vec<_>>();
    for hop in hops.iter().rev() {
        match hop.trim().parse::<IpAddr>() {
            Ok(ip) => {
                client = canonical(ip);
                if !trusted.contains(&client) {
                    break;
                }
            }
            // A hop we cannot read: stop at the last one we could.
            Err(_) => break,
        }
    }
    client
}

/// IPv4 addresses seen through an IPv6 socket (`::ffff:1.2.3.4`) as plain IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(peer: &str, forwarded: &[&str], trusted: &[&str], expected: &str) {
        let mut headers = HeaderMap::new();
        for value in forwarded {
            headers.append("x-forwarded-for", value.parse().unwrap());
        }
        let trusted: Vec<IpAddr> = trusted.iter().map(|t| t.parse().unwrap()).collect();
        let got = client_ip(peer.parse().unwrap(), &headers, &trusted);
        assert_eq!(
            got,
            expected.parse::<IpAddr>().unwrap(),
            "{peer} {forwarded:?}"
        );
    }

    #[test]
    fn forwarded_for_counts_only_from_a_trusted_proxy() {
        check("203.0.113.9", &["10.0.0.1"], &[], "203.0.113.9");
        check("203.0.113.9", &["10.0.0.1"], &["127.0.0.1"], "203.0.113.9");
        check("127.0.0.1", &[], &["127.0.0.1"], "127.0.0.1");
        check(
            "127.0.0.1",
            &["198.51.100.7"],
            &["127.0.0.1"],
            "198.51.100.7",
        );
        // The client may write anything on the left; only the proxy's own hop counts.
        check(
            "127.0.0.1",
            &["1.1.1.1, 198.51.100.7"],
            &["127.0.0.1"],
            "198.51.100.7",
        );
        check(
            "127.0.0.1",
            &["1.1.1.1", "198.51.100.7, 127.0.0.1"],
            &["127.0.0.1"],
            "198.51.100.7",
        );
        check("127.0.0.1", &["garbage"], &["127.0.0.1"], "127.0.0.1");
        check(
            "::ffff:127.0.0.1",
            &["2001:db8::1"],
            &["127.0.0.1"],
            "2001:db8::1",
        );
    }
}
