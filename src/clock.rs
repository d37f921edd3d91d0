//! The one clock and checked deadline arithmetic.
//!
//! Time is read from tokio's clock, so tests that pause it see it move. Every deadline is
//! made here with `checked_add`: a duration too long for an `Instant` to hold (a
//! `Keep-Alive: timeout` of 20 digits, `Duration::MAX` given to the builder) means "no
//! limit" (`None`), never a panic.
//!
//! Not here: waiting (each layer awaits its own deadlines), and detecting a runtime without
//! timers (`runtime.rs`).

use std::time::{Duration, Instant};

/// Now, on tokio's clock.
pub(crate) fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// `from + after`, or `None` (no limit) when that is past what an `Instant` can hold.
pub(crate) fn after(from: Instant, after: Duration) -> Option<Instant> {
    from.checked_add(after)
}

/// The earlier of two optional deadlines (`None` is no limit).
pub(crate) fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_duration_too_long_for_an_instant_is_no_limit() {
        let t = Instant::now();
        assert_eq!(after(t, Duration::MAX), None);
        assert_eq!(after(t, Duration::from_secs(u64::MAX)), None);
        assert_eq!(
            after(t, Duration::from_secs(1)),
            Some(t + Duration::from_secs(1))
        );
    }

    #[test]
    fn earliest_of_deadlines_treats_none_as_no_limit() {
        let t = Instant::now();
        let later = t + Duration::from_secs(1);
        assert_eq!(earliest(Some(t), Some(later)), Some(t));
        assert_eq!(earliest(None, Some(later)), Some(later));
        assert_eq!(earliest(Some(t), None), Some(t));
        assert_eq!(earliest(None, None), None);
    }
}
