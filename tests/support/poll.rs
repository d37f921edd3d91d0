//! Waiting on a condition the server cannot signal (typically the client's own
//! statistics, changed by a background task): re-check it every few milliseconds,
//! bounded by [`POLL_LIMIT`] of real time.
//!
//! The pause between checks is a tokio sleep, so under a paused clock it moves tokio's
//! time forward; tests that control time with `tokio::time::advance` should not use it.

use std::time::{Duration, Instant};

/// How long (real time) [`eventually`] waits before it panics.
pub const POLL_LIMIT: Duration = Duration::from_secs(5);

/// Waits until `cond()` holds; panics naming `what` if it does not within [`POLL_LIMIT`].
pub async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let started = Instant::now();
    loop {
        if cond() {
            return;
        }
        assert!(
            started.elapsed() < POLL_LIMIT,
            "eventually: `{what}` did not hold within {POLL_LIMIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Joins every task in `tasks` (a task's panic fails the test), sampling `client`'s open
/// connections every millisecond meanwhile: the most seen open at once.
pub async fn most_open_until_done(
    client: &tether::Client,
    tasks: &mut tokio::task::JoinSet<()>,
) -> usize {
    let mut most = client.stats().open;
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    loop {
        tokio::select! {
            finished = tasks.join_next() => match finished {
                Some(result) => result.expect("request task"),
                None => return most,
            },
            _ = tick.tick() => most = most.max(client.stats().open),
        }
    }
}
