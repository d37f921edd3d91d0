//! Status retries (DESIGN.md §1b "Status retries and backoff"): which answers are worth
//! asking again, and after how long. A pure decision: the status, its `Retry-After`, the
//! attempt number, the clock and a random number come in; a delay (or no retry) goes out.
//!
//! By default a request that is safe to repeat and gets `429` or `503` with a
//! `Retry-After` of at most 10 s is repeated once after that delay. Opting in gives other
//! statuses, more attempts, and exponential backoff with full jitter where the server gave
//! no `Retry-After`. What is safe to repeat is the caller's to say (the rule of the
//! transport retries: an idempotent method or `Idempotency-Key`, and a body that can be
//! sent again); the retry budget is applied by the caller too.

use std::time::{Duration, SystemTime};

use http::{HeaderValue, StatusCode};

/// The default longest `Retry-After` waited for.
const DEFAULT_MAX_DELAY: Duration = Duration::from_secs(10);

/// Which responses a client asks again, how often, and how long it waits in between.
///
/// ```
/// use std::time::Duration;
/// use tether::RetryPolicy;
///
/// // Also 502 and 504, up to 3 retries, backing off from 100 ms when the server says
/// // nothing, and never waiting more than 5 s.
/// let policy = RetryPolicy::default()
///     .statuses([429, 502, 503, 504])
///     .max_retries(3)
///     .backoff(Duration::from_millis(100))
///     .max_delay(Duration::from_secs(5));
/// let client = tether::Client::builder().retry(policy).build()?;
/// # Ok::<(), tether::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    statuses: Vec<u16>,
    /// The least of `statuses` (`u16::MAX` for none): most answers are below it, and are
    /// told so without a search.
    least: u16,
    max_retries: u32,
    /// Without `Retry-After`: `None` means no retry, else the first backoff step.
    backoff: Option<Duration>,
    max_delay: Duration,
}

impl Default for RetryPolicy {
    /// One retry after a `429` or `503` whose `Retry-After` is at most 10 s.
    fn default() -> RetryPolicy {
        RetryPolicy {
            statuses: vec![429, 503],
            least: 429,
            max_retries: 1,
            backoff: None,
            max_delay: DEFAULT_MAX_DELAY,
        }
    }
}

impl RetryPolicy {
    /// No status is ever retried.
    ///
    /// ```
    /// let client = tether::Client::builder()
    ///     .retry(tether::RetryPolicy::never())
    ///     .build()?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn never() -> RetryPolicy {
        RetryPolicy {
            max_retries: 0,
            ..RetryPolicy::default()
        }
    }

    /// The statuses retried (default `429` and `503`). Numbers that are not statuses are
    /// ignored.
    ///
    /// ```
    /// let policy = tether::RetryPolicy::default().statuses([503]);
    /// ```
    pub fn statuses(mut self, statuses: impl IntoIterator<Item = u16>) -> RetryPolicy {
        self.statuses = statuses.into_iter().collect();
        self.least = self.statuses.iter().copied().min().unwrap_or(u16::MAX);
        self
    }

    /// How many times one request may be asked again (default 1).
    ///
    /// ```
    /// let policy = tether::RetryPolicy::default().max_retries(3);
    /// ```
    pub fn max_retries(mut self, n: u32) -> RetryPolicy {
        self.max_retries = n;
        self
    }

    /// Retries answers without `Retry-After` too, after an exponential backoff with full
    /// jitter: a random delay below `base`, `2 × base`, `4 × base`... (capped by
    /// `max_delay`). By default such answers are not retried.
    ///
    /// ```
    /// let policy = tether::RetryPolicy::default()
    ///     .backoff(std::time::Duration::from_millis(200));
    /// ```
    pub fn backoff(mut self, base: Duration) -> RetryPolicy {
        self.backoff = Some(base.max(Duration::from_millis(1)));
        self
    }

    /// The longest wait (default 10 s): a `Retry-After` asking for more is not retried (the
    /// answer is returned), and backoff delays are capped at it.
    ///
    /// ```
    /// let policy = tether::RetryPolicy::default()
    ///     .max_delay(std::time::Duration::from_secs(2));
    /// ```
    pub fn max_delay(mut self, d: Duration) -> RetryPolicy {
        self.max_delay = d;
        self
    }

    /// Whether any status could ever be retried: the plain path skips the rest.
    #[inline]
    pub(crate) fn is_off(&self) -> bool {
        self.max_retries == 0 || self.statuses.is_empty()
    }

    /// The statuses a retry is asked for at all, before the header is looked at.
    #[inline]
    pub(crate) fn covers(&self, status: StatusCode) -> bool {
        let status = status.as_u16();
        status >= self.least && self.statuses.contains(&status)
    }

    /// After how long to ask again, given the answer, how many status retries this
    /// request has had, the wall clock (for an HTTP-date) and a random number in [0, 1)
    /// (for the jitter); `None`: return the answer as it is.
    pub(crate) fn delay(
        &self,
        status: StatusCode,
        retry_after: Option<&HeaderValue>,
        retries: u32,
        now: SystemTime,
        random: f64,
    ) -> Option<Duration> {
        if retries >= self.max_retries || !self.covers(status) {
            return None;
        }
        match retry_after {
            Some(value) => {
                // A `Retry-After` that cannot be read is no promise: treat it as absent.
                match parse_retry_after(value, now) {
                    Some(d) if d <= self.max_delay => Some(d),
                    Some(_) => None,
                    None => self.backoff_delay(retries, random),
                }
            }
            None => self.backoff_delay(retries, random),
        }
    }

    /// Full jitter: uniform in [0, min(max_delay, base × 2^retries)).
    fn backoff_delay(&self, retries: u32, random: f64) -> Option<Duration> {
        let base = self.backoff?;
        let ceiling = base
            .checked_mul(1u32.checked_shl(retries.min(31)).unwrap_or(u32::MAX))
            .unwrap_or(Duration::MAX)
            .min(self.max_delay);
        Some(ceiling.mul_f64(random.clamp(0.0, 1.0)))
    }
}

/// A number in [0, 1) for the jitter: xorshift per thread, seeded from the clock and the
/// thread. Not for secrets; spreading retries needs no more.
pub(crate) fn jitter() -> f64 {
    use std::cell::Cell;
    thread_local! {
        static STATE: Cell<u64> = const { Cell::new(0) };
    }
    STATE.with(|state| {
        let mut x = state.get();
        if x == 0 {
            let nanos = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos() as u64);
            let here = state as *const Cell<u64> as u64;
            x = (nanos ^ here.rotate_left(32)) | 1;
        }
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        state.set(x);
        (x >> 11) as f64 / (1u64 << 53) as f64
    })
}

/// `Retry-After` (RFC 9110 §10.2.3): delta-seconds, or an HTTP-date (IMF-fixdate, the form
/// senders must use), as a delay from `now`; a date in the past is no delay.
pub(crate) fn parse_retry_after(value: &HeaderValue, now: SystemTime) -> Option<Duration> {
    let text = value.to_str().ok()?.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        // Too many digits for u64 is a delay too long for anyone: saturate.
        return Some(Duration::from_secs(text.parse::<u64>().unwrap_or(u64::MAX)));
    }
    let at = parse_imf_fixdate(text)?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// `Sun, 06 Nov 1994 08:49:37 GMT`.
fn parse_imf_fixdate(text: &str) -> Option<SystemTime> {
    let b = text.as_bytes();
    if b.len() != 29 || &b[3..5] != b", " || &b[25..] != b" GMT" {
        return None;
    }
    let num = |from: usize, len: usize| -> Option<u64> {
        let digits = b.get(from..from + len)?;
        if !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(digits).ok()?.parse().ok()
    };
    let day = num(5, 2)?;
    const MONTHS: [&[u8]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    let month = MONTHS.iter().position(|m| *m == &b[8..11])? as u64 + 1;
    let year = num(12, 4)?;
    let (hour, minute, second) = (num(17, 2)?, num(20, 2)?, num(23, 2)?);
    if b[7] != b' ' || b[11] != b' ' || b[16] != b' ' || b[19] != b':' || b[22] != b':' {
        return None;
    }
    if !(1..=31).contains(&day) || year < 1970 || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3_600 + minute * 60 + second;
    SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(secs))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (year ≥ 1970).
fn days_from_civil(year: u64, month: u64, day: u64) -> u64 {
    // Shift the year to start in March, so the leap day is the year's last.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe).saturating_sub(719_468)
}

#[cfg(test)]
#[path = "status_retry_tests.rs"]
mod tests;
