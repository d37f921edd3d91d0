//! Whether a connection may carry another request after an exchange, and until when: one
//! pure function, [`decide`], of what the exchange saw (the keep-alive verdict of the heads,
//! whether the whole request went out, how the body ended, bytes left over), what the
//! connection saw before (its age, its responses, the server's terms so far) and the
//! client's limits. The time is passed in. `Connection::finish_exchange` is its one caller;
//! the pool only carries out the answer.
//!
//! Checked in this order, the first that applies being the reason:
//!
//! | what                                                   | answer                         |
//! |--------------------------------------------------------|--------------------------------|
//! | the heads said close (`proto::keep_alive`), the body ended at close, or the request was not fully sent | close |
//! | the server's `Keep-Alive: max` is used up               | close (`ServerMax`)            |
//! | `max_requests_per_connection` reached                   | close (`RequestLimit`)         |
//! | bytes after the response are waiting                    | close (`BytesAfterResponse`)   |
//! | the server's timeout is at or below the margin          | close (`ServerTimeout`)        |
//! | `max_lifetime` reached                                  | close (`Lifetime`)             |
//! | otherwise                                               | idle until the earliest of idle timeout, server timeout less the margin, end of lifetime |
//!
//! A deadline too far away for an `Instant` is no deadline. Not here: protocol errors and
//! broken bodies (the connection is closed on the spot, never offered for reuse).

use std::time::{Duration, Instant};

use crate::clock;
use crate::proto::{CloseReason, KeepAlive};

/// Why an idle connection stops being reusable at its `expires_at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expiry {
    /// The client's own idle timeout.
    IdleTimeout,
    /// The server's `Keep-Alive: timeout=N`, less the safety margin.
    ServerTimeout,
    /// The client's maximum connection lifetime.
    Lifetime,
    /// The idle timeout learned for the host, less the round trip and a margin.
    Learned,
}

/// When an idle connection expires (`None`: never), and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IdleTerms {
    pub expires_at: Option<Instant>,
    pub expiry: Expiry,
    /// For a request that a close race would retry, and no other: the connection has
    /// given the responses its server was learned to give one, a lesson aged without news
    /// (`ResponseLimit::Aged`).
    pub retryable_only: bool,
}

impl IdleTerms {
    /// Whether the terms have run out at `now`.
    pub fn expired(&self, now: Instant) -> bool {
        self.expires_at.is_some_and(|at| now >= at)
    }
}

/// What the server said of its terms, carried from one response to the next.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ServerTerms {
    /// Its idle timeout (`Keep-Alive: timeout=N`).
    pub timeout: Option<Duration>,
    /// Requests it still allows (`Keep-Alive: max=M`).
    pub remaining: Option<u32>,
}

/// The client's limits on reuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ReuseLimits {
    pub idle_timeout: Duration,
    pub keep_alive_margin: Duration,
    pub max_requests: Option<u32>,
    pub max_lifetime: Option<Duration>,
}

/// What one exchange saw, as far as reuse is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ended {
    /// The keep-alive verdict of the request and response heads.
    pub keep_alive: KeepAlive,
    /// The whole request was written.
    pub request_complete: bool,
    /// The body ended because the peer closed (close-delimited, or a drain that met EOF).
    pub closed_by_peer: bool,
    /// Bytes beyond the response are waiting in the buffer.
    pub leftover: bool,
}

/// The connection's past, as far as reuse is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct History {
    pub created: Instant,
    /// Responses completed, this one included.
    pub responses: u32,
    /// The server's terms before this response.
    pub terms: ServerTerms,
}

/// Why a connection is not reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NoReuse {
    /// The heads or the framing said so, or the request was not fully sent.
    Exchange(CloseReason),
    /// The server's `Keep-Alive: max` is used up.
    ServerMax,
    /// `max_requests_per_connection` reached.
    RequestLimit,
    /// Bytes beyond the response arrived: the stream is out of step.
    BytesAfterResponse,
    /// The server's idle timeout leaves no safe time to reuse it.
    ServerTimeout,
    /// `max_lifetime` reached.
    Lifetime,
}

impl NoReuse {
    /// A short label for tracing.
    pub fn label(self) -> &'static str {
        match self {
            NoReuse::Exchange(_) => "exchange said close",
            NoReuse::ServerMax => "server keep-alive max",
            NoReuse::RequestLimit => "max requests per connection",
            NoReuse::BytesAfterResponse => "bytes after the response",
            NoReuse::ServerTimeout => "server keep-alive timeout",
            NoReuse::Lifetime => "lifetime",
        }
    }
}

/// The answer: idle on these terms, or close for this reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reuse {
    Idle(IdleTerms),
    Close(NoReuse),
}

/// The decision, and the server's terms to carry to the next response.
#[inline]
pub(crate) fn decide(
    now: Instant,
    history: History,
    ended: Ended,
    limits: &ReuseLimits,
) -> (Reuse, ServerTerms) {
    let ka = ended.keep_alive;
    // A response that does not repeat `Keep-Alive` leaves the server's terms as they were,
    // one request further on: `max=M` allows M more requests in all.
    let terms = ServerTerms {
        timeout: ka.timeout.or(history.terms.timeout),
        remaining: ka
            .max
            .or(history.terms.remaining.map(|n| n.saturating_sub(1))),
    };
    let close = |why| (Reuse::Close(why), terms);
    if let Some(reason) = ka.close {
        return close(NoReuse::Exchange(reason));
    }
    if !ended.request_complete {
        return close(NoReuse::Exchange(CloseReason::RequestNotFullySent));
    }
    if ended.closed_by_peer {
        return close(NoReuse::Exchange(CloseReason::CloseDelimitedBody));
    }
    if terms.remaining == Some(0) {
        return close(NoReuse::ServerMax);
    }
    if limits.max_requests.is_some_and(|m| history.responses >= m) {
        return close(NoReuse::RequestLimit);
    }
    if ended.leftover {
        return close(NoReuse::BytesAfterResponse);
    }
    let lifetime_ends = limits
        .max_lifetime
        .and_then(|l| clock::after(history.created, l));
    match idle_terms(
        now,
        limits.idle_timeout,
        terms.timeout,
        limits.keep_alive_margin,
        lifetime_ends,
    ) {
        Ok(idle) => (Reuse::Idle(idle), terms),
        Err(why) => close(why),
    }
}

/// Idle until `idle_timeout` after `now`, or earlier when the server's timeout or the
/// connection's lifetime says so; an error when no idle time is left at all.
#[inline]
pub(crate) fn idle_terms(
    now: Instant,
    idle_timeout: Duration,
    server_timeout: Option<Duration>,
    margin: Duration,
    lifetime_ends: Option<Instant>,
) -> Result<IdleTerms, NoReuse> {
    let mut terms = IdleTerms {
        expires_at: clock::after(now, idle_timeout),
        expiry: Expiry::IdleTimeout,
        retryable_only: false,
    };
    let mut tighten = |at: Option<Instant>, expiry| {
        if let Some(at) = at {
            if terms.expires_at.is_none_or(|current| at < current) {
                terms = IdleTerms {
                    expires_at: Some(at),
                    expiry,
                    retryable_only: false,
                };
            }
        }
    };
    if let Some(server) = server_timeout {
        // Servers round down to whole seconds: N means [N, N+1). At or below the margin
        // there is no safe moment to reuse the connection.
        let usable = server
            .checked_sub(margin)
            .filter(|d| !d.is_zero())
            .ok_or(NoReuse::ServerTimeout)?;
        tighten(clock::after(now, usable), Expiry::ServerTimeout);
    }
    if let Some(end) = lifetime_ends {
        if end <= now {
            return Err(NoReuse::Lifetime);
        }
        tighten(Some(end), Expiry::Lifetime);
    }
    Ok(terms)
}

#[cfg(test)]
#[path = "reuse_tests.rs"]
mod tests;
