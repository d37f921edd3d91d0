//! The one clock and checked deadline arithmetic.
//!
//! Time is read from tokio's clock, so tests that pause it see it move. Every deadline is
//! made here with `checked_add`: a duration too long for an `Instant` to hold (a
//! `Keep-Alive: timeout` of 20 digits, `Duration::MAX` given to the builder) means "no
//! limit" (`None`), never a panic.
//!
//! `within` bounds a future by an optional deadline, with the timer boxed and made only when
//! there is a deadline: every request's future holds the step it may time, and tokio's
//! `Timeout` would put 96 bytes of timer in it (moved with it) even with no deadline set.
//!
//! Not here: detecting a runtime without timers (`runtime.rs`).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::time::Sleep;

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

/// `fut`, bounded by `deadline` (`None`: no limit). Its output is `None` when the deadline
/// passed first. `fut` is polled before the timer, so a step that is ready at the deadline
/// still counts.
pub(crate) fn within<F: Future + Unpin>(deadline: Option<Instant>, fut: F) -> Within<F> {
    Within {
        fut,
        timer: deadline.map(|at| Box::pin(tokio::time::sleep_until(at.into()))),
    }
}

/// The future of `within`.
pub(crate) struct Within<F> {
    fut: F,
    timer: Option<Pin<Box<Sleep>>>,
}

impl<F: Future + Unpin> Future for Within<F> {
    type Output = Option<F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if let Poll::Ready(out) = Pin::new(&mut this.fut).poll(cx) {
            return Poll::Ready(Some(out));
        }
        match &mut this.timer {
            Some(timer) => timer.as_mut().poll(cx).map(|()| None),
            None => Poll::Pending,
        }
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

    #[tokio::test(start_paused = true)]
    async fn within_ends_at_the_deadline_and_not_before() {
        let start = tokio::time::Instant::now();
        let deadline = Some(now() + Duration::from_secs(5));
        let never = std::future::pending::<()>();
        // Guarded, so that a `within` that never ends fails here rather than hangs.
        let guarded = tokio::time::timeout(Duration::from_secs(60), within(deadline, never));
        assert_eq!(guarded.await, Ok(None));
        assert_eq!(start.elapsed(), Duration::from_secs(5));

        let later = Some(now() + Duration::from_secs(5));
        let soon = Box::pin(tokio::time::sleep(Duration::from_secs(1)));
        let guarded = tokio::time::timeout(Duration::from_secs(60), within(later, soon));
        assert_eq!(guarded.await, Ok(Some(())));
        assert_eq!(start.elapsed(), Duration::from_secs(6));

        let ready = std::future::ready(7);
        let passed = Some(now() - Duration::from_secs(1));
        assert_eq!(
            within(passed, ready).await,
            Some(7),
            "a ready step beats its deadline"
        );
        assert_eq!(within(None, std::future::ready(8)).await, Some(8));
    }
}
