//! How many wrong sync tokens a caller may present: 10 in a minute, then every request
//! from that address (the right token included) gets 429 for a minute. A guess at the
//! token then costs a minute per ten, whatever the caller's bandwidth.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Wrong tokens allowed per [`WINDOW`] before an address is refused.
pub const MAX_FAILURES: usize = 10;

/// The window the failures are counted in, and how long an address is refused after.
pub const WINDOW: Duration = Duration::from_secs(60);

/// Most callers tracked at once (each takes a few hundred bytes). Past it, new callers'
/// failures share one record, so many addresses cannot grow the table or escape the limit.
pub const MAX_TRACKED: usize = 4096;

/// Who is asking, as far as the limit goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Caller {
    /// An IPv4 address, or the /64 network of an IPv6 one (one host has a whole /64, and
    /// changes addresses within it at will).
    Ip(IpAddr),
    /// Requests without an address (driven through `oneshot` by tests): one caller.
    Unknown,
    /// Callers that failed while the table was full.
    Overflow,
}

impl Caller {
    fn of(ip: Option<IpAddr>) -> Caller {
        match ip {
            None => Caller::Unknown,
            Some(IpAddr::V4(v4)) => Caller::Ip(IpAddr::V4(v4)),
            Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
                Some(v4) => Caller::Ip(IpAddr::V4(v4)),
                None => {
                    let network = u128::from(v6) & !((1u128 << 64) - 1);
                    Caller::Ip(IpAddr::V6(network.into()))
                }
            },
        }
    }
}

#[derive(Debug, Default)]
struct Record {
    /// When the failures of the last [`WINDOW`] happened (at most [`MAX_FAILURES`]).
    failures: VecDeque<Instant>,
    /// Refused until then.
    blocked_until: Option<Instant>,
}

impl Record {
    fn is_idle(&self, now: Instant) -> bool {
        self.blocked_until.is_none_or(|until| until <= now)
            && self
                .failures
                .back()
                .is_none_or(|last| now.saturating_duration_since(*last) >= WINDOW)
    }
}

/// Wrong-token counts per caller, bounded in memory.
#[derive(Debug, Default)]
pub struct FailureLimiter {
    callers: Mutex<HashMap<Caller, Record>>,
}

impl FailureLimiter {
    /// `Err(wait)` while the caller at `ip` (`None`: unknown) is refused: the time left.
    pub fn check(&self, ip: Option<IpAddr>, now: Instant) -> Result<(), Duration> {
        let Ok(callers) = self.callers.lock() else {
            return Ok(());
        };
        let caller = Caller::of(ip);
        let record = callers
            .get(&caller)
            .or_else(|| callers.get(&Caller::Overflow));
        match record.and_then(|r| r.blocked_until) {
            Some(until) if until > now => Err(until - now),
            _ => Ok(()),
        }
    }

    /// Counts a wrong token from `ip`; returns true when this one starts a refusal.
    pub fn failed(&self, ip: Option<IpAddr>, now: Instant) -> bool {
        let Ok(mut callers) = self.callers.lock() else {
            return false;
        };
        let mut caller = Caller::of(ip);
        if !callers.contains_key(&caller) && callers.len() >= MAX_TRACKED {
            callers.retain(|_, record| !record.is_idle(now));
            if callers.len() >= MAX_TRACKED {
                caller = Caller::Overflow;
            }
        }
        let record = callers.entry(caller).or_default();
        while record
            .failures
            .front()
            .is_some_and(|first| now.saturating_duration_since(*first) >= WINDOW)
        {
            record.failures.pop_front();
        }
        record.failures.push_back(now);
        if record.failures.len() >= MAX_FAILURES {
            record.failures.clear();
            record.blocked_until = Some(now + WINDOW);
            return true;
        }
        false
    }

    /// Callers tracked now (for tests of the memory bound).
    pub fn tracked(&self) -> usize {
        self.callers.lock().map_or(0, |c| c.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn ip(n: u32) -> Option<IpAddr> {
        Some(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + n)))
    }

    #[test]
    fn ten_failures_in_a_minute_refuse_the_address_for_a_minute_and_then_let_it_in() {
        let limiter = FailureLimiter::default();
        let start = Instant::now();
        for i in 0..MAX_FAILURES as u64 {
            assert!(limiter.check(ip(1), start).is_ok());
            let blocked = limiter.failed(ip(1), start + Duration::from_secs(i));
            assert_eq!(blocked, i == MAX_FAILURES as u64 - 1);
        }
        let tenth = start + Duration::from_secs(9);
        assert_eq!(
            limiter.check(ip(1), tenth + Duration::from_secs(1)),
            Err(Duration::from_secs(59))
        );
        assert!(limiter.check(ip(2), tenth).is_ok(), "another address");
        assert!(limiter.check(None, tenth).is_ok(), "the unknown caller");
        assert!(limiter.check(ip(1), tenth + WINDOW).is_ok());
    }

    #[test]
    fn failures_spread_over_more_than_a_minute_are_not_refused() {
        let limiter = FailureLimiter::default();
        let start = Instant::now();
        for i in 0..30u64 {
            assert!(!limiter.failed(ip(1), start + Duration::from_secs(7 * i)));
        }
        assert!(
            limiter
                .check(ip(1), start + Duration::from_secs(210))
                .is_ok()
        );
    }

    #[test]
    fn ipv6_addresses_of_one_network_count_as_one_caller() {
        let limiter = FailureLimiter::default();
        let now = Instant::now();
        for i in 0..MAX_FAILURES as u16 {
            let v6 = Ipv6Addr::new(0x2001, 0xdb8, 1, 2, i, 0, 0, 1);
            limiter.failed(Some(IpAddr::V6(v6)), now);
        }
        let sibling = Ipv6Addr::new(0x2001, 0xdb8, 1, 2, 0xffff, 7, 7, 7);
        assert!(limiter.check(Some(IpAddr::V6(sibling)), now).is_err());
        let other = Ipv6Addr::new(0x2001, 0xdb8, 1, 3, 0, 0, 0, 1);
        assert!(limiter.check(Some(IpAddr::V6(other)), now).is_ok());
    }

    #[test]
    fn the_table_stays_bounded_and_callers_past_it_share_one_limit() {
        let limiter = FailureLimiter::default();
        let now = Instant::now();
        for n in 0..MAX_TRACKED as u32 * 2 {
            limiter.failed(ip(n), now);
        }
        assert!(limiter.tracked() <= MAX_TRACKED + 1);
        // Past the bound, the overflowing callers' failures add up and refuse them all.
        assert!(limiter.check(ip(MAX_TRACKED as u32 * 3), now).is_err());
        // A minute later the old entries are forgotten and new callers are tracked again.
        let later = now + WINDOW;
        limiter.failed(ip(u32::MAX / 2), later);
        assert!(limiter.tracked() <= 2, "{}", limiter.tracked());
        assert!(limiter.check(ip(u32::MAX / 2 + 1), later).is_ok());
    }
}
