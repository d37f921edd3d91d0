//! The retry budget (DESIGN.md §1b): every retry a client makes, close races and status
//! retries alike, draws on one budget, so a failing host is not stormed. Over a sliding
//! window, retries may be at most `ratio` of the requests plus `min_per_sec` a second.
//! Pure: time comes in as an argument; the client keeps one behind a mutex.

use std::time::{Duration, Instant};

/// How many buckets the window is cut into.
const BUCKETS: usize = 10;

/// The limits of a budget.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct BudgetLimits {
    /// The window the counts cover.
    pub window: Duration,
    /// Retries allowed per request sent in the window.
    pub ratio: f64,
    /// Retries allowed per second of the window whatever the traffic, so that a client
    /// that sends little can still retry.
    pub min_per_sec: f64,
}

impl Default for BudgetLimits {
    /// 20% of the requests over 10 s, plus 1 a second.
    fn default() -> BudgetLimits {
        BudgetLimits {
            window: Duration::from_secs(10),
            ratio: 0.2,
            min_per_sec: 1.0,
        }
    }
}

/// Requests and retries over the last window, in buckets of `window / BUCKETS`.
#[derive(Debug)]
pub(crate) struct Budget {
    limits: BudgetLimits,
    /// When bucket 0 of the ring began, and which slot it is.
    start: Option<Instant>,
    head: usize,
    requests: [u64; BUCKETS],
    retries: [u64; BUCKETS],
}

impl Budget {
    pub fn new(limits: BudgetLimits) -> Budget {
        Budget {
            limits,
            start: None,
            head: 0,
            requests: [0; BUCKETS],
            retries: [0; BUCKETS],
        }
    }

    fn bucket_len(&self) -> Duration {
        (self.limits.window / BUCKETS as u32).max(Duration::from_millis(1))
    }

    /// Moves the ring forward to `now`, emptying the buckets that fell out of the window.
    fn advance(&mut self, now: Instant) {
        let len = self.bucket_len();
        let Some(start) = self.start else {
            self.start = Some(now);
            return;
        };
        let passed = now.saturating_duration_since(start).as_nanos() / len.as_nanos();
        if passed == 0 {
            return;
        }
        let steps = usize::try_from(passed).unwrap_or(usize::MAX);
        for _ in 0..steps.min(BUCKETS) {
            self.head = (self.head + 1) % BUCKETS;
            self.requests[self.head] = 0;
            self.retries[self.head] = 0;
        }
        // The new head bucket begins where `now` falls.
        let whole = len.saturating_mul(u32::try_from(passed).unwrap_or(u32::MAX));
        self.start = Some(start.checked_add(whole).unwrap_or(now));
    }

    /// A request was sent (each request once, not each attempt).
    pub fn record_request(&mut self, now: Instant) {
        self.advance(now);
        self.requests[self.head] += 1;
    }

    /// Whether a retry may be made now; if so, it is counted.
    pub fn try_retry(&mut self, now: Instant) -> bool {
        self.advance(now);
        let requests: u64 = self.requests.iter().sum();
        let retries: u64 = self.retries.iter().sum();
        let allowed = self.limits.ratio * requests as f64
            + self.limits.min_per_sec * self.limits.window.as_secs_f64();
        if (retries as f64) < allowed {
            self.retries[self.head] += 1;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(ratio: f64, min_per_sec: f64) -> Budget {
        Budget::new(BudgetLimits {
            window: Duration::from_secs(10),
            ratio,
            min_per_sec,
        })
    }

    fn retries_allowed(b: &mut Budget, now: Instant, tries: usize) -> usize {
        (0..tries).filter(|_| b.try_retry(now)).count()
    }

    #[test]
    fn retries_are_a_share_of_requests_plus_a_floor() {
        let t0 = Instant::now();
        let mut b = budget(0.2, 1.0);
        for _ in 0..100 {
            b.record_request(t0);
        }
        // 20% of 100, plus 1 a second over 10 s.
        assert_eq!(retries_allowed(&mut b, t0, 1000), 30);
    }

    #[test]
    fn the_floor_alone_lets_a_quiet_client_retry() {
        let t0 = Instant::now();
        let mut b = budget(0.2, 0.5);
        assert_eq!(retries_allowed(&mut b, t0, 100), 5);
    }

    #[test]
    fn the_window_slides_and_old_counts_are_forgotten() {
        let t0 = Instant::now();
        let mut b = budget(0.0, 0.3);
        assert_eq!(retries_allowed(&mut b, t0, 10), 3);
        // Half a window on, the retries still count.
        assert_eq!(retries_allowed(&mut b, t0 + Duration::from_secs(5), 10), 0);
        // A whole window after them, they do not.
        assert_eq!(retries_allowed(&mut b, t0 + Duration::from_secs(11), 10), 3);
    }

    #[test]
    fn requests_age_out_too() {
        let t0 = Instant::now();
        let mut b = budget(0.5, 0.0);
        for _ in 0..10 {
            b.record_request(t0);
        }
        assert_eq!(retries_allowed(&mut b, t0 + Duration::from_secs(20), 10), 0);
        for _ in 0..4 {
            b.record_request(t0 + Duration::from_secs(20));
        }
        assert_eq!(retries_allowed(&mut b, t0 + Duration::from_secs(20), 10), 2);
    }

    #[test]
    fn a_clock_far_ahead_does_not_overflow() {
        let t0 = Instant::now();
        let mut b = budget(0.2, 1.0);
        b.record_request(t0);
        let later = t0 + Duration::from_secs(10 * 365 * 24 * 3600);
        assert_eq!(retries_allowed(&mut b, later, 100), 10);
        // And a clock that goes backwards is taken as no time passing.
        assert_eq!(retries_allowed(&mut b, t0, 100), 0);
    }
}
