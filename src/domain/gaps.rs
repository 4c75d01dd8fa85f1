//! When the always-on relay polls a quiet vehicle through Smartcar's API: the pure rules
//! (which vehicles now, and how many requests Smartcar's rate limit leaves), apart from
//! the clock and the network so that they can be tested as tables.

/// An hour in milliseconds.
pub const HOUR_MS: i64 = 3_600_000;

/// What the poller knows of one subscribed vehicle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VehicleGap {
    /// Smartcar's vehicle id.
    pub vehicle_id: String,
    /// When its latest reading was recorded (ms), if it ever sent one.
    pub last_reading_ms: Option<i64>,
    /// When it was last polled (ms): the archive's latest API record, or a later attempt
    /// that brought nothing to archive.
    pub last_poll_ms: Option<i64>,
    /// Its owner must re-connect it: until then every poll answers AUTHENTICATION_FAILED.
    pub needs_reauth: bool,
    /// Not before this (ms): a backoff after a failed attempt.
    pub retry_at_ms: Option<i64>,
}

/// How often quiet vehicles are polled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cadence {
    /// A vehicle is quiet once its latest reading is this old. v2 deliveries come hourly
    /// (every 30 minutes after a plug change), and v4 ones only on a change, so an hour
    /// without a reading is past what either promises.
    pub quiet_after_ms: i64,
    /// At most one poll per vehicle this often (Smartcar also limits each vehicle).
    pub poll_every_ms: i64,
    /// At most one poll this often for a vehicle that needs re-connecting: each answer
    /// would only repeat AUTHENTICATION_FAILED, but one tells when its owner has fixed it.
    pub reauth_poll_every_ms: i64,
}

impl Default for Cadence {
    fn default() -> Self {
        Cadence {
            quiet_after_ms: HOUR_MS,
            poll_every_ms: HOUR_MS,
            reauth_poll_every_ms: 6 * HOUR_MS,
        }
    }
}

/// The vehicles to poll at `now_ms`, the quietest first (never-heard-from ones before
/// all), at most `allowance` of them: quiet, not polled within their cadence, and not
/// waiting out a backoff.
pub fn due<'a>(
    vehicles: &'a [VehicleGap],
    now_ms: i64,
    cadence: &Cadence,
    allowance: usize,
) -> Vec<&'a VehicleGap> {
    let mut due: Vec<&VehicleGap> = vehicles
        .iter()
        .filter(|v| {
            let quiet = v
                .last_reading_ms
                .is_none_or(|t| now_ms - t >= cadence.quiet_after_ms);
            let every = if v.needs_reauth {
                cadence.reauth_poll_every_ms
            } else {
                cadence.poll_every_ms
            };
            // A poll "in the future" (a clock set back) counts as recent: better late
            // than twice.
            let polled_recently = v.last_poll_ms.is_some_and(|t| now_ms - t < every);
            let waiting = v.retry_at_ms.is_some_and(|t| now_ms < t);
            quiet && !polled_recently && !waiting
        })
        .collect();
    due.sort_by(|a, b| {
        (a.last_reading_ms.unwrap_or(i64::MIN), &a.vehicle_id)
            .cmp(&(b.last_reading_ms.unwrap_or(i64::MIN), &b.vehicle_id))
    });
    due.truncate(allowance);
    due
}

/// Requests in Smartcar's application-wide bucket.
pub const BUCKET_REQUESTS: f64 = 120.0;

/// The bucket refills at two requests a minute.
pub const BUCKET_REFILL_PER_MINUTE: f64 = 2.0;

/// Requests of the bucket the poller leaves to the owner's own commands (`poll`,
/// `subscribe`, the app's Refresh), which share the application's bucket.
pub const BUCKET_RESERVE: f64 = 20.0;

/// The poller's estimate of Smartcar's application-wide bucket. It only sees its own
/// requests, so Smartcar's 429 is the last word: [`Bucket::exhausted`] then aligns it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    requests: f64,
    at_ms: i64,
}

impl Bucket {
    /// A full bucket at `now_ms`.
    pub fn full(now_ms: i64) -> Self {
        Bucket {
            requests: BUCKET_REQUESTS,
            at_ms: now_ms,
        }
    }

    fn refill(&mut self, now_ms: i64) {
        let elapsed_ms = (now_ms - self.at_ms).max(0) as f64;
        self.requests =
            (self.requests + elapsed_ms * BUCKET_REFILL_PER_MINUTE / 60_000.0).min(BUCKET_REQUESTS);
        self.at_ms = self.at_ms.max(now_ms);
    }

    /// How many requests the poller may send at `now_ms`, keeping the reserve.
    pub fn allowance(&mut self, now_ms: i64) -> usize {
        self.refill(now_ms);
        (self.requests - BUCKET_RESERVE).max(0.0).floor() as usize
    }

    /// Takes one request.
    pub fn spend(&mut self, now_ms: i64) {
        self.refill(now_ms);
        self.requests = (self.requests - 1.0).max(0.0);
    }

    /// Smartcar answered 429: its bucket is empty, whatever the estimate said (someone
    /// else spent it), so the poller's share is empty too and refills from now on.
    pub fn exhausted(&mut self, now_ms: i64) {
        self.refill(now_ms);
        self.requests = self.requests.min(BUCKET_RESERVE);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_767_225_600_000;
    const MIN: i64 = 60_000;

    fn gap(id: &str, reading_min_ago: Option<i64>, poll_min_ago: Option<i64>) -> VehicleGap {
        VehicleGap {
            vehicle_id: id.into(),
            last_reading_ms: reading_min_ago.map(|m| NOW - m * MIN),
            last_poll_ms: poll_min_ago.map(|m| NOW - m * MIN),
            needs_reauth: false,
            retry_at_ms: None,
        }
    }

    /// Which of `vehicles` are due at NOW with `allowance`.
    fn check(vehicles: &[VehicleGap], allowance: usize, expected: &[&str], why: &str) {
        let due: Vec<&str> = due(vehicles, NOW, &Cadence::default(), allowance)
            .into_iter()
            .map(|v| v.vehicle_id.as_str())
            .collect();
        assert_eq!(due, expected, "{why}");
    }

    #[test]
    fn which_vehicles_are_polled_now() {
        let reauth = |mut g: VehicleGap| {
            g.needs_reauth = true;
            g
        };
        let backoff = |mut g: VehicleGap, min_from_now: i64| {
            g.retry_at_ms = Some(NOW + min_from_now * MIN);
            g
        };
        let table: Vec<(Vec<VehicleGap>, usize, Vec<&str>, &str)> = vec![
            (
                vec![gap("a", Some(59), None)],
                9,
                vec![],
                "heard from 59 min ago: not quiet",
            ),
            (
                vec![gap("a", Some(60), None)],
                9,
                vec!["a"],
                "an hour without a reading: quiet",
            ),
            (
                vec![gap("a", None, None)],
                9,
                vec!["a"],
                "never heard from: quiet",
            ),
            (
                vec![gap("a", Some(300), Some(59))],
                9,
                vec![],
                "polled 59 min ago: wait",
            ),
            (
                vec![gap("a", Some(300), Some(60))],
                9,
                vec!["a"],
                "polled an hour ago: again",
            ),
            (
                vec![gap("a", Some(300), Some(-5))],
                9,
                vec![],
                "a poll in the future counts as recent",
            ),
            (
                vec![reauth(gap("a", Some(900), Some(61)))],
                9,
                vec![],
                "needs re-connecting: every 6 h",
            ),
            (
                vec![reauth(gap("a", Some(900), Some(360)))],
                9,
                vec!["a"],
                "needs re-connecting, 6 h on",
            ),
            (
                vec![backoff(gap("a", Some(300), None), 1)],
                9,
                vec![],
                "backing off for another minute",
            ),
            (
                vec![backoff(gap("a", Some(300), None), 0)],
                9,
                vec!["a"],
                "backoff over",
            ),
            (
                vec![gap("a", Some(300), None)],
                0,
                vec![],
                "the bucket allows nothing",
            ),
            (
                vec![
                    gap("recent", Some(61), None),
                    gap("older", Some(600), None),
                    gap("never", None, None),
                    gap("oldest", Some(6000), None),
                ],
                3,
                vec!["never", "oldest", "older"],
                "quietest first, as many as the bucket allows",
            ),
            (
                vec![gap("b", Some(120), None), gap("a", Some(120), None)],
                9,
                vec!["a", "b"],
                "equally quiet: by id, so the order is stable",
            ),
        ];
        for (vehicles, allowance, expected, why) in table {
            check(&vehicles, allowance, &expected, why);
        }
    }

    #[test]
    fn the_bucket_keeps_a_reserve_refills_at_two_a_minute_and_believes_a_429() {
        let mut bucket = Bucket::full(NOW);
        assert_eq!(bucket.allowance(NOW), 100, "120 less the reserve of 20");
        for _ in 0..100 {
            bucket.spend(NOW);
        }
        let table = [
            (0, 0, "all spent"),
            (29_999, 0, "not yet a whole request"),
            (30_000, 1, "one request after 30 s"),
            (10 * MIN, 20, "twenty after ten minutes"),
            (10 * 60 * MIN, 100, "never past the bucket's size"),
        ];
        for (after_ms, expected, why) in table {
            let mut later = bucket;
            assert_eq!(later.allowance(NOW + after_ms), expected, "{why}");
        }
        let mut full = Bucket::full(NOW);
        full.exhausted(NOW);
        assert_eq!(full.allowance(NOW), 0, "a 429 empties the poller's share");
        assert_eq!(full.allowance(NOW + 30_000), 1, "which refills from then");
        let mut late = Bucket::full(NOW);
        assert_eq!(
            late.allowance(NOW - HOUR_MS),
            100,
            "a clock set back refills nothing"
        );
    }
}
