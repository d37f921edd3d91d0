//! The reuse decision, as a table: one row per rule, and the terms it carries on.

use super::*;

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

const LIMITS: ReuseLimits = ReuseLimits {
    idle_timeout: Duration::from_secs(90),
    keep_alive_margin: Duration::from_secs(1),
    max_requests: None,
    max_lifetime: None,
};

fn keep() -> KeepAlive {
    KeepAlive {
        close: None,
        timeout: None,
        max: None,
    }
}

fn clean() -> Ended {
    Ended {
        keep_alive: keep(),
        request_complete: true,
        closed_by_peer: false,
        leftover: false,
    }
}

fn fresh(now: Instant) -> History {
    History {
        created: now,
        responses: 1,
        terms: ServerTerms::default(),
    }
}

#[test]
fn the_table() {
    let now = Instant::now();
    let idle = |at: Option<Instant>, expiry| {
        Reuse::Idle(IdleTerms {
            expires_at: at,
            expiry,
            retryable_only: false,
        })
    };
    let with_ka = |timeout: Option<u64>, max: Option<u32>| Ended {
        keep_alive: KeepAlive {
            close: None,
            timeout: timeout.map(secs),
            max,
        },
        ..clean()
    };
    let rows: Vec<(&str, History, Ended, ReuseLimits, Reuse)> = vec![
        (
            "a clean exchange idles for the idle timeout",
            fresh(now),
            clean(),
            LIMITS,
            idle(Some(now + secs(90)), Expiry::IdleTimeout),
        ),
        (
            "the heads said close",
            fresh(now),
            Ended {
                keep_alive: KeepAlive {
                    close: Some(CloseReason::ResponseAskedClose),
                    ..keep()
                },
                ..clean()
            },
            LIMITS,
            Reuse::Close(NoReuse::Exchange(CloseReason::ResponseAskedClose)),
        ),
        (
            "a request not fully sent",
            fresh(now),
            Ended {
                request_complete: false,
                ..clean()
            },
            LIMITS,
            Reuse::Close(NoReuse::Exchange(CloseReason::RequestNotFullySent)),
        ),
        (
            "a body that ended at the peer's close",
            fresh(now),
            Ended {
                closed_by_peer: true,
                ..clean()
            },
            LIMITS,
            Reuse::Close(NoReuse::Exchange(CloseReason::CloseDelimitedBody)),
        ),
        (
            "max=1 allows this response only",
            fresh(now),
            with_ka(None, Some(0)),
            LIMITS,
            Reuse::Close(NoReuse::ServerMax),
        ),
        (
            "max counts down when not repeated",
            History {
                terms: ServerTerms {
                    timeout: None,
                    remaining: Some(1),
                },
                ..fresh(now)
            },
            clean(),
            LIMITS,
            Reuse::Close(NoReuse::ServerMax),
        ),
        (
            "the client's request limit",
            History {
                responses: 3,
                ..fresh(now)
            },
            clean(),
            ReuseLimits {
                max_requests: Some(3),
                ..LIMITS
            },
            Reuse::Close(NoReuse::RequestLimit),
        ),
        (
            "bytes after the response",
            fresh(now),
            Ended {
                leftover: true,
                ..clean()
            },
            LIMITS,
            Reuse::Close(NoReuse::BytesAfterResponse),
        ),
        (
            "server timeout less the margin is shorter",
            fresh(now),
            with_ka(Some(5), None),
            LIMITS,
            idle(Some(now + secs(4)), Expiry::ServerTimeout),
        ),
        (
            "server timeout longer than the idle timeout",
            fresh(now),
            with_ka(Some(500), None),
            LIMITS,
            idle(Some(now + secs(90)), Expiry::IdleTimeout),
        ),
        (
            "server timeout at the margin leaves no time",
            fresh(now),
            with_ka(Some(1), None),
            LIMITS,
            Reuse::Close(NoReuse::ServerTimeout),
        ),
        (
            "timeout=0 (Apache with a sub-second timeout)",
            fresh(now),
            with_ka(Some(0), None),
            LIMITS,
            Reuse::Close(NoReuse::ServerTimeout),
        ),
        (
            "a server timeout remembered from an earlier response",
            History {
                terms: ServerTerms {
                    timeout: Some(secs(3)),
                    remaining: None,
                },
                ..fresh(now)
            },
            clean(),
            LIMITS,
            idle(Some(now + secs(2)), Expiry::ServerTimeout),
        ),
        (
            "lifetime ends before the idle timeout",
            History {
                created: now - secs(50),
                ..fresh(now)
            },
            clean(),
            ReuseLimits {
                max_lifetime: Some(secs(60)),
                ..LIMITS
            },
            idle(Some(now + secs(10)), Expiry::Lifetime),
        ),
        (
            "lifetime over",
            History {
                created: now - secs(60),
                ..fresh(now)
            },
            clean(),
            ReuseLimits {
                max_lifetime: Some(secs(60)),
                ..LIMITS
            },
            Reuse::Close(NoReuse::Lifetime),
        ),
        (
            "a 20-digit Keep-Alive timeout is no limit, not a panic",
            fresh(now),
            with_ka(Some(u64::MAX), Some(u32::MAX)),
            LIMITS,
            idle(Some(now + secs(90)), Expiry::IdleTimeout),
        ),
        (
            "Duration::MAX idle timeout and lifetime mean never",
            fresh(now),
            with_ka(Some(u64::MAX), None),
            ReuseLimits {
                idle_timeout: Duration::MAX,
                max_lifetime: Some(Duration::MAX),
                ..LIMITS
            },
            idle(None, Expiry::IdleTimeout),
        ),
        (
            "Duration::MAX margin leaves no time before a server timeout",
            fresh(now),
            with_ka(Some(5), None),
            ReuseLimits {
                keep_alive_margin: Duration::MAX,
                ..LIMITS
            },
            Reuse::Close(NoReuse::ServerTimeout),
        ),
    ];
    for (what, history, ended, limits, want) in rows {
        let (got, _) = decide(now, history, ended, &limits);
        assert_eq!(got, want, "{what}");
    }
}

#[test]
fn terms_carry_on_and_max_counts_down() {
    let now = Instant::now();
    let said = Ended {
        keep_alive: KeepAlive {
            close: None,
            timeout: Some(secs(5)),
            max: Some(3),
        },
        ..clean()
    };
    let (_, terms) = decide(now, fresh(now), said, &LIMITS);
    assert_eq!(
        terms,
        ServerTerms {
            timeout: Some(secs(5)),
            remaining: Some(3)
        }
    );
    let next = History {
        terms,
        responses: 2,
        ..fresh(now)
    };
    let (reuse, terms) = decide(now, next, clean(), &LIMITS);
    assert_eq!(terms.remaining, Some(2));
    assert_eq!(terms.timeout, Some(secs(5)));
    assert!(matches!(reuse, Reuse::Idle(_)));
}

#[test]
fn expiry_without_a_deadline_never_comes() {
    let now = Instant::now();
    let never = IdleTerms {
        expires_at: None,
        expiry: Expiry::IdleTimeout,
        retryable_only: false,
    };
    assert!(!never.expired(now + secs(1_000_000)));
    let soon = IdleTerms {
        expires_at: Some(now + secs(1)),
        expiry: Expiry::IdleTimeout,
        retryable_only: false,
    };
    assert!(!soon.expired(now));
    assert!(soon.expired(now + secs(1)));
}
