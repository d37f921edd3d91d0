use super::*;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Feeds `seen` (each at a time in ms after the start) and returns the horizon at `ask_ms`.
fn run(seen: &[(u64, Seen)], ask_ms: u64) -> Option<Duration> {
    let start = Instant::now();
    let mut learned = Learned::new(start);
    for (at, s) in seen {
        learned.observe(*s, start + ms(*at));
    }
    learned.horizon(start + ms(ask_ms))
}

use ResponseLimit::{Aged, Known};
use Seen::{Answered, Closed, Raced, RoundTrip};

#[test]
fn the_horizon_follows_what_was_seen() {
    // (what, observations, when asked, expected horizon in ms: None or [low, high])
    #[allow(clippy::type_complexity)]
    let rows: &[(&str, Vec<(u64, Seen)>, u64, Option<(u64, u64)>)] = &[
        ("nothing seen", vec![], 0, None),
        ("only round trips", vec![(0, RoundTrip(ms(20)))], 10, None),
        (
            "answers alone say no timeout",
            vec![(0, Answered(ms(400)))],
            10,
            None,
        ),
        (
            "a FIN: its time less the round trip and a small margin",
            vec![(0, RoundTrip(ms(20))), (600, Closed(ms(500)))],
            700,
            Some((470, 479)),
        ),
        (
            "a FIN without a round trip yet: the margin only",
            vec![(600, Closed(ms(500)))],
            700,
            Some((490, 499)),
        ),
        (
            "a close race: its idle time less the margin",
            vec![(0, RoundTrip(ms(20))), (600, Raced(ms(480)))],
            700,
            Some((470, 479)),
        ),
        (
            "the smallest bound of the last few",
            vec![
                (0, RoundTrip(ms(10))),
                (1_000, Closed(ms(900))),
                (2_000, Closed(ms(700))),
                (3_000, Closed(ms(800))),
            ],
            3_100,
            Some((670, 680)),
        ),
        (
            "adapts down at once when the server's timeout falls",
            vec![
                (0, RoundTrip(ms(10))),
                (1_000, Closed(ms(900))),
                (2_000, Closed(ms(902))),
                (3_000, Closed(ms(300))),
            ],
            3_100,
            Some((280, 285)),
        ),
        (
            "a request answered past a bound shows it stale (the timeout went up)",
            vec![
                (0, RoundTrip(ms(10))),
                (1_000, Closed(ms(300))),
                (2_000, Answered(ms(350))),
            ],
            2_100,
            None,
        ),
        (
            "... and the next FIN teaches the new timeout",
            vec![
                (0, RoundTrip(ms(10))),
                (1_000, Closed(ms(300))),
                (2_000, Answered(ms(350))),
                (3_000, Closed(ms(900))),
            ],
            3_100,
            Some((880, 890)),
        ),
        (
            "answers below the estimate change nothing",
            vec![
                (0, RoundTrip(ms(10))),
                (1_000, Closed(ms(500))),
                (2_000, Answered(ms(480))),
                (3_000, Answered(ms(10))),
            ],
            3_100,
            Some((480, 490)),
        ),
        (
            "bounds age out after MEMORY",
            vec![(0, RoundTrip(ms(10))), (1_000, Closed(ms(500)))],
            1_000 + MEMORY.as_millis() as u64,
            None,
        ),
        (
            "never below the floor",
            vec![(0, RoundTrip(ms(10))), (100, Closed(ms(30)))],
            200,
            Some((FLOOR.as_millis() as u64, FLOOR.as_millis() as u64)),
        ),
        (
            "a round trip longer than the timeout: the floor",
            vec![(0, RoundTrip(ms(900))), (100, Closed(ms(500)))],
            200,
            Some((FLOOR.as_millis() as u64, FLOOR.as_millis() as u64)),
        ),
        (
            "only the last SAMPLES bounds count: an old low one is pushed out",
            {
                let mut v = vec![(0, RoundTrip(ms(10))), (1, Closed(ms(200)))];
                for i in 0..SAMPLES as u64 {
                    v.push((10 + i, Closed(ms(600 + i))));
                }
                v
            },
            100,
            Some((580, 590)),
        ),
    ];
    for (what, seen, ask, expected) in rows {
        let got = run(seen, *ask).map(|d| d.as_millis() as u64);
        match (expected, got) {
            (None, None) => {}
            (Some((lo, hi)), Some(g)) if (*lo..=*hi).contains(&g) => {}
            _ => panic!("{what}: expected {expected:?}, got {got:?}"),
        }
    }
}

#[test]
fn stable_under_jitter() {
    // A server with a 1 s timeout whose timer fires up to 10 ms late, a 20 ms path whose
    // samples wander up to 5 ms above it. Each round, one connection reaches the horizon
    // (it would race if its own close, less the round trip, came sooner), then its FIN
    // arrives and is learned from; requests below the horizon are answered.
    let start = Instant::now();
    let mut learned = Learned::new(start);
    // splitmix64
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move |n: u64| {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) % n
    };
    let (mut rounds, mut races) = (0, 0);
    let mut seen = Vec::new();
    for i in 0..2_000u64 {
        let now = start + ms(i * 100);
        learned.observe(RoundTrip(ms(20 + next(6))), now);
        let closes_at = ms(1_000 + next(11));
        if let Some(h) = learned.horizon(now) {
            // After the first few FINs.
            if i >= 3 * SAMPLES as u64 {
                rounds += 1;
                races += usize::from(h + ms(20) > closes_at);
                seen.push(h.as_millis() as u64);
            }
            learned.observe(Answered(h.saturating_sub(ms(next(200)))), now);
        }
        learned.observe(Closed(closes_at), now);
    }
    let (lo, hi) = (
        seen.iter().copied().min().unwrap_or(0),
        seen.iter().copied().max().unwrap_or(0),
    );
    assert!(
        lo >= 960 && hi <= 985,
        "the horizon wandered over {lo}..{hi} ms"
    );
    assert!(
        races * 100 <= rounds,
        "{races} of {rounds} connections reached the horizon after their close"
    );
}

#[test]
fn the_round_trip_is_a_windowed_minimum() {
    let start = Instant::now();
    let mut learned = Learned::new(start);
    learned.observe(RoundTrip(ms(20)), start);
    learned.observe(RoundTrip(ms(300)), start);
    assert_eq!(learned.rtt(), ms(20), "one slow sample is ignored");
    // The path gets slower: within two windows the estimate follows.
    for _ in 0..2 * RTT_WINDOW {
        learned.observe(RoundTrip(ms(50)), start);
    }
    assert_eq!(learned.rtt(), ms(50));
}

#[test]
fn bounded_and_forgotten() {
    assert!(
        std::mem::size_of::<Learned>() <= 160,
        "a host's estimate is {} bytes",
        std::mem::size_of::<Learned>()
    );
    let start = Instant::now();
    let mut learned = Learned::new(start);
    for i in 0..10_000u64 {
        learned.observe(Closed(ms(500 + i % 7)), start + ms(i));
    }
    assert_eq!(learned.upper.iter().flatten().count(), SAMPLES);
    let last = start + ms(10_000);
    assert!(!learned.stale(last));
    assert!(learned.stale(last + MEMORY));
}

#[test]
fn responses_per_connection_are_learned_from_two_agreeing_ends_soon_after_a_response_and_age() {
    let soon = |responses| Seen::Ended {
        responses,
        idle: ms(3),
    };
    let late = |responses| Seen::Ended {
        responses,
        idle: FLOOR,
    };
    let memory = MEMORY.as_millis() as u64;
    // (what, observations at ms, when asked, expected limit)
    #[allow(clippy::type_complexity)]
    let rows: &[(&str, Vec<(u64, Seen)>, u64, Option<ResponseLimit>)] = &[
        ("nothing seen", vec![], 0, None),
        ("one end", vec![(0, soon(1))], 10, None),
        (
            "two ends after one response",
            vec![(0, soon(1)), (5, soon(1))],
            10,
            Some(Known(1)),
        ),
        (
            "two ends after 100",
            vec![(0, soon(100)), (5, soon(100))],
            10,
            Some(Known(100)),
        ),
        (
            "ends that disagree: a restart",
            vec![(0, soon(37)), (5, soon(112))],
            10,
            None,
        ),
        (
            "the last two count",
            vec![(0, soon(3)), (1, soon(1)), (2, soon(1))],
            10,
            Some(Known(1)),
        ),
        (
            "the last two disagree",
            vec![(0, soon(1)), (1, soon(1)), (2, soon(4))],
            10,
            None,
        ),
        (
            "an end at the floor is an idle timeout's",
            vec![(0, late(1)), (5, soon(1))],
            10,
            None,
        ),
        (
            "a fresh connection's end says nothing",
            vec![(0, soon(0)), (5, soon(0))],
            10,
            None,
        ),
        (
            "a connection answering past the ends drops them",
            vec![(0, soon(1)), (5, soon(1)), (6, Seen::Served(2))],
            10,
            None,
        ),
        (
            "an answer within the limit keeps it",
            vec![(0, soon(2)), (5, soon(2)), (6, Seen::Served(2))],
            10,
            Some(Known(2)),
        ),
        (
            "trusted for MEMORY",
            vec![(0, soon(1)), (5, soon(1))],
            memory - 1,
            Some(Known(1)),
        ),
        (
            "then aged: kept for requests that would be retried",
            vec![(0, soon(1)), (5, soon(1))],
            memory + 5,
            Some(Aged(1)),
        ),
        (
            "aged until an answer past it",
            vec![(0, soon(1)), (5, soon(1)), (memory + 6, Seen::Served(2))],
            memory + 10,
            None,
        ),
        (
            "an aged end and a new one agreeing: still aged",
            vec![(0, soon(1)), (5, soon(1)), (memory + 6, soon(1))],
            memory + 10,
            Some(Aged(1)),
        ),
        (
            "two new ends: known again",
            vec![
                (0, soon(1)),
                (5, soon(1)),
                (memory + 6, soon(1)),
                (memory + 7, soon(1)),
            ],
            memory + 10,
            Some(Known(1)),
        ),
        (
            "an aged end and a new one disagreeing: nothing",
            vec![(0, soon(1)), (5, soon(1)), (memory + 6, soon(2))],
            memory + 10,
            None,
        ),
        (
            "idle-timeout evidence leaves it alone",
            vec![
                (0, soon(1)),
                (5, soon(1)),
                (6, Closed(ms(700))),
                (7, Answered(ms(900))),
            ],
            10,
            Some(Known(1)),
        ),
    ];
    for (what, seen, ask, want) in rows {
        let start = Instant::now();
        let mut learned = Learned::new(start);
        for (at, s) in seen {
            learned.observe(*s, start + ms(*at));
        }
        let limit = learned.response_limit(start + ms(*ask));
        assert_eq!(limit, *want, "{what}");
        let known = limit.and_then(|l| match l {
            Known(n) => Some(n),
            Aged(_) => None,
        });
        assert_eq!(learned.max_responses(start + ms(*ask)), known, "{what}");
    }
}

/// An estimate that has seen a FIN at `secs` of idle time, at `now`.
fn closed_at(secs: u64, now: Instant) -> Box<Learned> {
    let mut learned = Box::new(Learned::new(now));
    learned.observe(Closed(Duration::from_secs(secs)), now);
    learned
}

type Kept = Remembered<u32, std::collections::hash_map::RandomState>;

#[test]
fn forgotten_hosts_estimates_are_kept_up_to_the_cap_the_oldest_let_go_first() {
    let now = Instant::now();
    let mut kept = Kept::new(3);
    for host in 0..5 {
        kept.keep(host, closed_at(10 + u64::from(host), now), now);
    }
    assert_eq!(kept.len(), 3);
    assert!(kept.get(&0).is_none() && kept.get(&1).is_none());
    // Taken back whole, once.
    let two = kept.take(&2, now).expect("kept");
    assert_eq!(two.timeout(now), Some(Duration::from_secs(12)));
    assert!(kept.take(&2, now).is_none());
    // Kept again, it is the newest: the next let go is 3, then 4, not it.
    kept.keep(2, two, now);
    kept.keep(5, closed_at(15, now), now);
    kept.keep(6, closed_at(16, now), now);
    let mut left: Vec<u32> = kept.iter().map(|(k, _)| *k).collect();
    left.sort();
    assert_eq!(left, [2, 5, 6]);
    // The order's places of estimates taken back are cleared out: it stays bounded.
    for _ in 0..100 {
        let learned = kept.take(&6, now).expect("kept");
        kept.keep(6, learned, now);
    }
    assert!(kept.order.len() <= 2 * 3, "{}", kept.order.len());
}

#[test]
fn a_stale_estimate_is_neither_kept_nor_given_back() {
    let now = Instant::now();
    let later = now + MEMORY;
    let mut kept = Kept::new(8);
    kept.keep(1, closed_at(10, now), later);
    assert_eq!(kept.len(), 0, "stale when kept");
    kept.keep(2, closed_at(10, now), now);
    assert!(kept.take(&2, later).is_none(), "stale when taken");
    kept.keep(3, closed_at(10, now), now);
    kept.keep(4, closed_at(10, later), later);
    kept.purge_stale(later);
    assert!(kept.get(&3).is_none());
    assert!(kept.get(&4).is_some());
    assert_eq!(kept.len(), 1);
    // Nothing at all with no room.
    let mut none = Kept::new(0);
    none.keep(1, closed_at(10, now), now);
    assert_eq!(none.len(), 0);
}
