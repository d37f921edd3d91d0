//! The retry budget (DESIGN.md §1b): every retry a client makes, close races and status
//! retries alike, draws on one budget, so a failing host is not stormed. Over a sliding
//! window, retries may be at most `ratio` of the requests plus `min_per_sec` a second.
//! `Budget` is pure (time and the request count come in as arguments); `Shared` is the
//! client's: a request costs one relaxed atomic increment, and only a retry takes the
//! lock and reads the clock. Requests are put into the window when the next retry asks,
//! in the bucket of that moment, so after a quiet spell the window counts a few more
//! requests than it had: the budget errs towards allowing, never towards storming.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
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
    /// Requests (of the running total) already put into a bucket.
    counted: u64,
}

impl Budget {
    pub fn new(limits: BudgetLimits) -> Budget {
        Budget {
            limits,
            start: None,
            head: 0,
            requests: [0; BUCKETS],
            retries: [0; BUCKETS],
            counted: 0,
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

    /// Whether a retry may be made now, `total` requests having been sent so far (each
    /// request once, not each attempt); if so, it is counted.
    pub fn try_retry(&mut self, now: Instant, total: u64) -> bool {
        self.advance(now);
        self.requests[self.head] += total.saturating_sub(self.counted);
        self.counted = self.counted.max(total);
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

/// A client's budget: the request count outside the lock, the window inside.
#[derive(Debug)]
pub(crate) struct Shared {
    requests: AtomicU64,
    budget: Mutex<Budget>,
}

impl Shared {
    pub fn new(limits: BudgetLimits) -> Shared {
        Shared {
            requests: AtomicU64::new(0),
            budget: Mutex::new(Budget::new(limits)),
        }
    }

    /// A request (one hop) is sent.
    pub fn request(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    /// Whether one more retry may be made now (counted if so).
    pub fn try_retry(&self, now: Instant) -> bool {
        let total = self.requests.load(Ordering::Relaxed);
        let mut budget = self.budget.lock().unwrap_or_else(|e| e.into_inner());
        budget.try_retry(now, total)
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

    fn retries_allowed(b: &mut Budget, now: Instant, total: u64, tries: usize) -> usize {
        (0..tries).filter(|_| b.try_retry(now, total)).count()
    }

    #[test]
    fn retries_are_a_share_of_requests_plus_a_floor() {
        let t0 = Instant::now();
        let mut b = budget(0.2, 1.0);
        // 20% of 100, plus 1 a second over 10 s.
        assert_eq!(retries_allowed(&mut b, t0, 100, 1000), 30);
    }

    #[test]
    fn the_floor_alone_lets_a_quiet_client_retry() {
        let t0 = Instant::now();
        let mut b = budget(0.2, 0.5);
        assert_eq!(retries_allowed(&mut b, t0, 0, 100), 5);
    }

    #[test]
    fn the_window_slides_and_old_counts_are_forgotten() {
        let t0 = Instant::now();
        let mut b = budget(0.0, 0.3);
        assert_eq!(retries_allowed(&mut b, t0, 0, 10), 3);
        // Half a window on, the retries still count.
        assert_eq!(
            retries_allowed(&mut b, t0 + Duration::from_secs(5), 0, 10),
            0
        );
        // A whole window after them, they do not.
        assert_eq!(
            retries_allowed(&mut b, t0 + Duration::from_secs(11), 0, 10),
            3
        );
    }

    #[test]
    fn requests_age_out_too() {
        let t0 = Instant::now();
        let mut b = budget(0.5, 0.0);
        // 10 requests, counted at the first retry check: 5 retries.
        assert_eq!(retries_allowed(&mut b, t0, 10, 10), 5);
        // Two windows later they are gone, and 4 new ones allow 2.
        assert_eq!(
            retries_allowed(&mut b, t0 + Duration::from_secs(20), 10, 10),
            0
        );
        assert_eq!(
            retries_allowed(&mut b, t0 + Duration::from_secs(20), 14, 10),
            2
        );
    }

    #[test]
    fn a_clock_far_ahead_does_not_overflow() {
        let t0 = Instant::now();
        let mut b = budget(0.2, 1.0);
        let later = t0 + Duration::from_secs(10 * 365 * 24 * 3600);
        // The one request is counted at this first check: 0.2 + 10 allows 11.
        assert_eq!(retries_allowed(&mut b, later, 1, 100), 11);
        // And a clock that goes backwards is taken as no time passing.
        assert_eq!(retries_allowed(&mut b, t0, 1, 100), 0);
    }
}
