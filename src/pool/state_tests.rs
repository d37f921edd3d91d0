//! Tests of the pool bookkeeping with plain numbers as connections and a hand-driven clock.

use super::*;

fn key(host: &str) -> PoolKey {
    PoolKey::new(crate::conn::Scheme::Http, host, 80)
}

fn caps(per_host: usize, total: usize) -> Caps {
    Caps {
        per_host,
        total,
        idle_per_host: per_host,
        spacing: None,
    }
}

fn terms(now: Instant, secs: u64) -> IdleTerms {
    IdleTerms {
        expires_at: Some(now + Duration::from_secs(secs)),
        expiry: Expiry::IdleTimeout,
        retryable_only: false,
    }
}

/// A first attempt, taking an idle connection if there is one.
const REUSE: Need = Need {
    fresh: false,
    front: false,
    waited: false,
    retryable: true,
};
/// A retry: a new connection only.
const RETRY: Need = Need {
    fresh: true,
    front: false,
    waited: false,
    retryable: true,
};

fn any(_: &u32) -> bool {
    true
}

fn alive(_: &mut u32) -> Liveness {
    Liveness::Alive
}

fn is_connect(c: &Checkout<u32>) -> bool {
    matches!(c, Checkout::Connect)
}

fn waiter(c: Checkout<u32>) -> (u64, oneshot::Receiver<Grant<u32>>) {
    match c {
        Checkout::Wait(id, rx) => (id, rx),
        _ => panic!("expected to wait"),
    }
}

#[test]
fn per_host_cap_makes_the_next_request_wait() {
    let now = Instant::now();
    let mut s = PoolState::new(caps(2, 10));
    let mut out = Vec::new();
    let a = key("a");
    assert!(is_connect(
        &s.checkout(&a, now, REUSE, any, alive, &mut out)
    ));
    assert!(is_connect(
        &s.checkout(&a, now, REUSE, any, alive, &mut out)
    ));
    let _w = waiter(s.checkout(&a, now, REUSE, any, alive, &mut out));
    assert_eq!(s.total_open(), 2);
    assert_eq!(s.host_counts(Instant::now())[0].waiters, 1);
    assert!(s.idle_order_consistent());
}

#[test]
fn released_connection_goes_to_the_oldest_waiter() {
    let now = Instant::now();
    let mut s = PoolState::new(caps(1, 10));
    let mut out = Vec::new();
    let a = key("a");
    assert!(is_connect(
        &s.checkout(&a, now, REUSE, any, alive, &mut out)
    ));
    let (_, mut first) = waiter(s.checkout(&a, now, REUSE, any, alive, &mut out));
    let (_, mut second) = waiter(s.checkout(&a, now, REUSE, any, alive, &mut out));
    s.put_idle(&a, 41, now, terms(now, 90), &mut out);
    assert!(matches!(first.try_recv(), Ok(Grant::Conn(41, _))));
    assert!(second.try_recv().is_err());
    s.put_idle(&a, 41, now, terms(now, 90), &mut out);
    assert!(matches!(second.try_recv(), Ok(Grant::Conn(41, _))));
    assert_eq!(s.host_counts(Instant::now())[0].idle, 0);
    assert!(s.idle_order_consistent());
}

#[test]
fn freed_slot_skips_waiters_that_gave_up_and_leaks_nothing() {
    let now = Instant::now();
    let mut s = PoolState::new(caps(1, 10));
    let mut out = Vec::new();
    let a = key("a");
    assert!(is_connect(
        &s.checkout(&a, now, REUSE, any, alive, &mut out)
    ));
    let (_, gone) = waiter(s.checkout(&a, now, REUSE, any, alive, &mut out));
    let (_, mut live) = waiter(s.checkout(&a, now, REUSE, any, alive, &mut out));
    drop(gone);
    s.release_slot(&a, now, &mut out);
    assert!(matches!(live.try_recv(), Ok(Grant::Slot)));
    assert_eq!(s.total_open(), 1);
    // The live waiter's connection fails; its slot comes back and nothing is left taken.
    s.release_slot(&a, now, &mut out);
    assert_eq!(s.total_open(), 0);
    assert!(is_connect(
        &s.checkout(&a, now, REUSE, any, alive, &mut out)
    ));
    assert!(s.idle_order_consistent());
}

#[test]
fn cancelled_waiter_is_removed_from_the_line() {
    let now = Instant::now();
    let mut s = PoolState::new(caps(1, 10));
    let mut out = Vec::new();
    let a = key("a");
    assert!(is_connect(
        &s.checkout(&a, now, REUSE, any, alive, &mut out)
    ));
    let (id, _rx) = waiter(s.checkout(&a, now, REUSE, any, alive, &mut out));
    assert!(s.cancel_waiter(&a, id));
    assert!(!s.cancel_waiter(&a, id));
    assert_eq!(s.host_counts(Instant::now())[0].waiters, 0);
    assert!(s.idle_order_consistent());
}

#[test]
fn idle_connections_are_reused_last_in_first_out() {
    let now = Instant::now();
    let mut s = PoolState::new(caps(2, 10));
    let mut out = Vec::new();
    let a = key("a");
    s.checkout(&a, now, REUSE, any, alive, &mut out);
    s.checkout(&a, now, REUSE, any, alive, &mut out);
    s.put_idle(&a, 1, now, terms(now, 90), &mut out);
    let later = now + Duration::from_secs(1);
    s.put_idle(&a, 2, later, terms(later, 90), &mut out);
    let at = later + Duration::from_secs(3);
    match s.checkout(&a, at, REUSE, any, alive, &mut out) {
        Checkout::Idle(c, since) => {
            assert_eq!(c, 2);
            assert_eq!(at.saturating_duration_since(since), Duration::from_secs(3));
        }
        _ => panic!("expected the freshest idle connection"),
    }
    assert!(s.idle_order_consistent());
}

#[test]
fn expired_and_dead_idle_connections_are_skipped_at_checkout() {
    let now = Instant::now();
    let mut s = PoolState::new(caps(3, 10));
    let mut out = Vec::new();
    let a = key("a");
    for _ in 0..3 {
        s.checkout(&a, now, REUSE, any, alive, &mut out);
    }
    s.put_idle(&a, 1, now, terms(now, 90), &mut out);
    s.put_idle(&a, 2, now, terms(now, 5), &mut out);
    s.put_idle(&a, 3, now, terms(now, 90), &mut out);
    let at = now + Duration::from_secs(10);
    let probe = |c: &mut u32| {
        if *c == 3 {
            Liveness::Closed
        } else {
            Liveness::Alive
        }
    };
    match s.checkout(&a, at, REUSE, any, probe, &mut out) {
        Checkout::Idle(c, _) => assert_eq!(c, 1),
        _ => panic!("expected connection 1"),
    }
    let causes: Vec<_> = out.iter().map(|d| (d.conn, d.cause)).collect();
    assert_eq!(
        causes,
        vec![
            (3, DropCause::Probe(Liveness::Closed)),
            (2, DropCause::Expired(Expiry::IdleTimeout))
        ]
    );
    assert_eq!(s.total_open(), 1);
    assert!(s.idle_order_consistent());
}

#[test]
fn fresh_checkout_does_not_reuse_idle_connections() {
    let now = Instant::now();
    let mut s = PoolState::new(caps(1, 10));
    let mut out = Vec::new();
    let a = key("a");
    s.checkout(&a, now, REUSE, any, alive, &mut out);
    s.put_idle(&a, 1, now, terms(now, 90), &mut out);
    // At the host cap, the idle connection is traded for a new one.
    assert!(is_connect(
        &s.checkout(&a, now, RETRY, any, alive, &mut out)
    ));
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].cause, DropCause::Evicted);
    assert_eq!(s.total_open(), 1);
    assert!(s.idle_order_consistent());
}

#[test]
fn global_cap_evicts_least_recently_used_idle_connection_of_another_host() {
    let now = Instant::now();
    let mut s = PoolState::new(caps(2, 2));
    let mut out = Vec::new();
    let (a, b, c) = (key("a"), key("b"), key("c"));
    s.checkout(&a, now, REUSE, any, alive, &mut out);
    s.checkout(&b, now, REUSE, any, alive, &mut out);
    s.put_idle(&a, 1, now, terms(now, 90), &mut out);
    let later = now + Duration::from_secs(1);
    s.put_idle(&b, 2, later, terms(later, 90), &mut out);
    assert!(is_connect(
        &s.checkout(&c, later, REUSE, any, alive, &mut out)
    ));
    assert_eq!(out.len(), 1);
    assert_eq!((out[0].key.host(), out[0].conn), ("a", 1));
    assert_eq!(s.total_open(), 2);
    assert!(s.idle_order_consistent());
}

#[test]
fn global_waiter_gets_the_slot_of_a_connection_released_elsewhere() {
    let now = Instant::now();
    let mut s = PoolState::new(caps(2, 1));
    let mut out = Vec::new();
    let (a, b) = (key("a"), key("b"));
    assert!(is_connect(
        &s.checkout(&a, now, REUSE, any, alive, &mut out)
    ));
    let (_, mut rx) = waiter(s.checkout(&b, now, REUSE, any, alive, &mut out));
    // a's connection finishes: instead of idling it is closed and b gets the slot.
    s.put_idle(&a, 1, now, terms(now, 90), &mut out);
    assert!(matches!(rx.try_recv(), Ok(Grant::Slot)));
    assert_eq!(out.len(), 1);
    assert_eq!(s.total_open(), 1);
    assert!(s.idle_order_consistent());
}

#[test]
fn global_slot_goes_to_the_oldest_waiter_across_hosts() {
    let now = Instant::now();
    let mut s = PoolState::new(caps(1, 1));
    let mut out = Vec::new();
    let (a, b, c) = (key("a"), key("b"), key("c"));
    s.checkout(&a, now, REUSE, any, alive, &mut out);
    let (_, mut rb) = waiter(s.checkout(&b, now, REUSE, any, alive, &mut out));
    let (_, mut rc) = waiter(s.checkout(&c, now, REUSE, any, alive, &mut out));
    s.release_slot(&a, now, &mut out);
    assert!(matches!(rb.try_recv(), Ok(Grant::Slot)));
    assert!(rc.try_recv().is_err());
    s.release_slot(&b, now, &mut out);
    assert!(matches!(rc.try_recv(), Ok(Grant::Slot)));
    assert!(s.idle_order_consistent());
}

#[test]
fn over_idle_limit_closes_the_oldest_idle_connection() {
    let now = Instant::now();
    let mut s = PoolState::new(Caps {
        per_host: 3,
        total: 10,
        idle_per_host: 1,
        spacing: None,
    });
    let mut out = Vec::new();
    let a = key("a");
    s.checkout(&a, now, REUSE, any, alive, &mut out);
    s.checkout(&a, now, REUSE, any, alive, &mut out);
    s.put_idle(&a, 1, now, terms(now, 90), &mut out);
    s.put_idle(&a, 2, now, terms(now, 90), &mut out);
    assert_eq!(out.len(), 1);
    assert_eq!((out[0].conn, out[0].cause), (1, DropCause::OverIdleLimit));
    assert_eq!(s.total_open(), 1);
    assert!(s.idle_order_consistent());
}

#[test]
fn sweep_closes_expired_and_dead_connections_and_forgets_empty_hosts() {
    let now = Instant::now();
    let mut s = PoolState::new(caps(2, 10));
    let mut out = Vec::new();
    let (a, b) = (key("a"), key("b"));
    s.checkout(&a, now, REUSE, any, alive, &mut out);
    s.checkout(&b, now, REUSE, any, alive, &mut out);
    s.checkout(&b, now, REUSE, any, alive, &mut out);
    s.put_idle(&a, 1, now, terms(now, 5), &mut out);
    s.put_idle(&b, 2, now, terms(now, 90), &mut out);
    s.put_idle(&b, 3, now, terms(now, 90), &mut out);
    let probe = |c: &mut u32| {
        if *c == 2 {
            Liveness::Unsolicited
        } else {
            Liveness::Alive
        }
    };
    s.sweep(now + Duration::from_secs(6), Part::WHOLE, probe, &mut out);
    let mut causes: Vec<_> = out.iter().map(|d| (d.conn, d.cause)).collect();
    causes.sort_by_key(|c| c.0);
    assert_eq!(
        causes,
        vec![
            (1, DropCause::Expired(Expiry::IdleTimeout)),
            (2, DropCause::Probe(Liveness::Unsolicited))
        ]
    );
    let hosts = s.host_counts(Instant::now());
    assert_eq!(hosts.len(), 1, "host a had nothing left and is forgotten");
    assert_eq!((hosts[0].open, hosts[0].idle), (1, 1));
    assert_eq!(s.total_open(), 1);
    assert!(s.idle_order_consistent());
}

/// A pool of `n` hosts, each with one idle connection (numbered as its host) whose idle
/// timeout is 5 s from `now`; the connections went idle in the order of their hosts.
fn hosts_with_one_idle(n: u32, caps: Caps, now: Instant) -> (PoolState<u32>, Vec<PoolKey>) {
    let mut s = PoolState::new(caps);
    let mut out = Vec::new();
    let keys: Vec<PoolKey> = (0..n).map(|i| key(&format!("h{i}.test"))).collect();
    for (conn, k) in (0u32..).zip(&keys) {
        s.checkout(k, now, REUSE, any, alive, &mut out);
        s.put_idle(k, conn, now, terms(now, 5), &mut out);
    }
    assert!(out.is_empty());
    (s, keys)
}

#[test]
fn a_sweep_in_parts_visits_each_host_once_per_round() {
    let now = Instant::now();
    let (mut s, keys) = hosts_with_one_idle(40, caps(1, 100), now);
    let mut out = Vec::new();
    let later = now + Duration::from_secs(6);
    let mut seen: Vec<u32> = Vec::new();
    for index in 0..4 {
        let part = Part { index, of: 4 };
        s.sweep(later, part, alive, &mut out);
        let mut closed: Vec<u32> = out.drain(..).map(|d| d.conn).collect();
        closed.sort_unstable();
        // The idle order's places were taken in the order the connections went idle,
        // so part `index` holds the tenth to which connection `index * 10` belongs.
        let expected: Vec<u32> = (index * 10..index * 10 + 10).collect();
        assert_eq!(closed, expected, "part {index} closes its connections only");
        assert_eq!(
            s.host_counts(later).len(),
            keys.len() - seen.len() - closed.len(),
            "and forgets their hosts"
        );
        seen.extend(closed);
        assert!(s.idle_order_consistent());
    }
    assert_eq!(
        seen.len(),
        keys.len(),
        "a round of four parts visits every host"
    );
    assert_eq!((s.idle_count(), s.total_open()), (0, 0));
}

#[test]
fn a_round_visits_connections_in_reused_places_and_keeps_live_ones() {
    let now = Instant::now();
    let (mut s, keys) = hosts_with_one_idle(12, caps(4, 100), now);
    let mut out = Vec::new();
    // Three taken and given back: their places are freed and taken again, out of order.
    for k in [&keys[7], &keys[2], &keys[10]] {
        match s.checkout(k, now, REUSE, any, alive, &mut out) {
            Checkout::Idle(conn, _) => s.put_idle(k, conn + 100, now, terms(now, 60), &mut out),
            _ => panic!("an idle connection was there"),
        }
    }
    let later = now + Duration::from_secs(6);
    let mut closed = Vec::new();
    for index in 0..3 {
        s.sweep(later, Part { index, of: 3 }, alive, &mut out);
        closed.extend(out.drain(..).map(|d| d.conn));
    }
    closed.sort_unstable();
    let expected: Vec<u32> = (0..12).filter(|c| ![7, 2, 10].contains(c)).collect();
    assert_eq!(closed, expected, "the expired ones, each once");
    assert_eq!(s.idle_count(), 3, "the three given back later stay");
    assert!(s.idle_order_consistent());
}

#[test]
fn hosts_with_nothing_left_are_forgotten_by_the_last_part_of_a_round() {
    let now = Instant::now();
    let mut s = PoolState::new(caps(1, 100));
    let mut out = Vec::new();
    // Paused hosts, with nothing open: the pause is all the pool holds for them.
    for i in 0..5 {
        s.pause(
            &key(&format!("p{i}.test")),
            now + Duration::from_secs(1),
            now,
        );
    }
    let later = now + Duration::from_secs(2);
    s.sweep(later, Part { index: 0, of: 2 }, alive, &mut out);
    assert_eq!(
        s.hosts_held(),
        5,
        "the first part looks only at its connections"
    );
    s.sweep(later, Part { index: 1, of: 2 }, alive, &mut out);
    assert_eq!(
        s.hosts_held(),
        0,
        "the last part forgets every host that is done"
    );
}

#[test]
fn the_parts_of_a_round_cover_every_place_once() {
    for places in [0usize, 1, 2, 3, 7, 10, 1023, 1024, 1025, 40_000] {
        for of in [1u32, 2, 3, 4, 10, 64] {
            let mut next = 0;
            for index in 0..of {
                let range = Part { index, of }.range(places);
                assert_eq!(range.start, next, "{places} places in {of}: part {index}");
                assert!(range.end >= range.start);
                assert!(
                    range.len() <= places / of as usize + 1,
                    "{places} places in {of}: part {index} is {range:?}"
                );
                next = range.end;
            }
            assert_eq!(next, places, "{places} places in {of}: all covered");
            assert_eq!(Part { index: of, of }.range(places), places..places);
        }
    }
}

#[test]
fn a_round_is_split_by_the_idle_connections_when_it_starts() {
    assert_eq!(Part::first(0), Part::WHOLE);
    assert_eq!(Part::first(Part::CONNECTIONS), Part::WHOLE);
    assert_eq!(Part::WHOLE.next(), Part::WHOLE);
    let two = Part::first(Part::CONNECTIONS + 1);
    assert_eq!(two, Part { index: 0, of: 2 });
    assert_eq!(two.next(), Part { index: 1, of: 2 });
    assert_eq!(two.next().next(), two, "then the next round");
    assert_eq!(Part::first(usize::MAX).of, Part::MOST);
    assert!(Part::WHOLE.is_last() && two.next().is_last() && !two.is_last());
    assert_eq!(Part::WHOLE.range(5), 0..5);
}

#[test]
fn idle_connections_of_another_runtime_are_left_for_it() {
    // Odd numbers stand for connections of this runtime, even ones for another's.
    let now = Instant::now();
    let mut s = PoolState::new(caps(3, 10));
    let mut out = Vec::new();
    let a = key("a");
    for _ in 0..3 {
        assert!(is_connect(
            &s.checkout(&a, now, REUSE, any, alive, &mut out)
        ));
    }
    for conn in [1, 2, 4] {
        s.put_idle(&a, conn, now, terms(now, 90), &mut out);
    }
    let mine = |c: &u32| c % 2 == 1;
    match s.checkout(&a, now, REUSE, mine, alive, &mut out) {
        Checkout::Idle(conn, _) => assert_eq!(conn, 1, "the freshest of its own, under others'"),
        _ => panic!("expected the idle connection of this runtime"),
    }
    // None of its own is left: at the host cap, it trades the oldest foreign one.
    assert!(is_connect(
        &s.checkout(&a, now, REUSE, mine, alive, &mut out)
    ));
    assert_eq!(out.len(), 1);
    assert_eq!((out[0].conn, out[0].cause), (2, DropCause::OtherRuntime));
    assert_eq!(s.total_open(), 3);
    let theirs = |c: &u32| c % 2 == 0;
    match s.checkout(&a, now, REUSE, theirs, alive, &mut out) {
        Checkout::Idle(conn, _) => assert_eq!(conn, 4, "the other runtime still has its own"),
        _ => panic!("expected the other runtime's idle connection"),
    }
    assert!(s.idle_order_consistent());
}

#[test]
fn a_host_with_nothing_left_is_forgotten_and_what_was_learned_of_it_kept_apart() {
    use super::super::learn::{Seen, MEMORY, REMEMBERED};
    let now = Instant::now();
    let mut s: PoolState<u32> = PoolState::new(caps(2, 10));
    let mut out = Vec::new();
    let a = key("a");
    // a's server closed a connection idle for 5 s; nothing of a is open.
    s.learn(&a, Seen::Closed(Duration::from_secs(5)), now);
    s.sweep(now, Part::WHOLE, alive, &mut out);
    assert!(s.hosts.is_empty(), "the pool holds no entry for a");
    // Still listed, with what was learned.
    let listed = s.host_counts(now);
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0].open, listed[0].learned_timeout),
        (0, Some(Duration::from_secs(5)))
    );
    // Back: its connections idle on the learned terms again.
    let later = now + Duration::from_secs(60);
    assert!(is_connect(
        &s.checkout(&a, later, REUSE, any, alive, &mut out)
    ));
    assert_eq!(s.learned_timeout(&a, later), Some(Duration::from_secs(5)));
    s.put_idle(&a, 1, later, terms(later, 90), &mut out);
    let ended = s.learned_terms(&a, later, terms(later, 90));
    assert_eq!(ended.expiry, Expiry::Learned);
    assert_eq!(s.host_counts(later).len(), 1, "listed once");
    // A crawl over many hosts, each teaching something and then left: the pool keeps an
    // entry for none of them, and estimates for the last REMEMBERED only.
    for i in 0..REMEMBERED + 500 {
        let host = key(&format!("h{i}"));
        s.learn(&host, Seen::Closed(Duration::from_secs(5)), later);
    }
    s.sweep(later, Part::WHOLE, alive, &mut out);
    assert_eq!(s.hosts.len(), 1, "a alone, which has a connection");
    assert_eq!(s.remembered.len(), REMEMBERED);
    let known = (0..REMEMBERED + 500)
        .filter(|i| s.learned_timeout(&key(&format!("h{i}")), later).is_some())
        .count();
    assert_eq!(known, REMEMBERED);
    // Stale estimates go with the sweep.
    s.sweep(later + MEMORY, Part::WHOLE, alive, &mut out);
    assert_eq!(s.remembered.len(), 0);
}

#[test]
fn a_learned_timeout_ends_idle_terms_and_is_forgotten_with_the_host() {
    use super::super::learn::{Seen, MEMORY};
    let now = Instant::now();
    let mut s: PoolState<u32> = PoolState::new(caps(2, 10));
    let mut out = Vec::new();
    let a = key("a");
    // Nothing learned: the terms stand.
    assert_eq!(s.learned_terms(&a, now, terms(now, 90)), terms(now, 90));
    // A round trip alone starts nothing.
    s.learn(&a, Seen::RoundTrip(Duration::from_millis(20)), now);
    assert_eq!(s.learned_timeout(&a, now), None);
    // A FIN after 5 s of idle, seen by a sweep that has already forgotten the host.
    s.learn(&a, Seen::Closed(Duration::from_secs(5)), now);
    s.learn(&a, Seen::RoundTrip(Duration::from_millis(20)), now);
    assert_eq!(s.learned_timeout(&a, now), Some(Duration::from_secs(5)));
    let ended = s.learned_terms(&a, now, terms(now, 90));
    assert_eq!(ended.expiry, Expiry::Learned);
    let left = ended.expires_at.map(|at| at - now);
    assert!(
        left.is_some_and(|l| l > Duration::from_millis(4_900) && l < Duration::from_secs(5)),
        "{left:?}"
    );
    // Terms that end sooner stay as they are.
    assert_eq!(s.learned_terms(&a, now, terms(now, 2)), terms(now, 2));
    // A connection released after an answered reuse idles on the learned terms.
    assert!(is_connect(
        &s.checkout(&a, now, REUSE, any, alive, &mut out)
    ));
    let seen = [Some(Seen::Answered(Duration::from_secs(1))), None, None];
    let learning = Learning {
        responses: 2,
        seen: || seen,
    };
    s.put_idle_learning(&a, 7, now, learning, terms(now, 90), &mut out);
    let later = now + Duration::from_secs(6);
    assert!(is_connect(
        &s.checkout(&a, later, REUSE, any, alive, &mut out)
    ));
    let gone: Vec<_> = out.drain(..).map(|d| (d.conn, d.cause)).collect();
    assert_eq!(gone, vec![(7, DropCause::Expired(Expiry::Learned))]);
    s.release_slot(&a, now, &mut out);
    // Kept by the sweep while it is fresh, with nothing open; forgotten once stale.
    s.sweep(
        now + MEMORY - Duration::from_secs(1),
        Part::WHOLE,
        alive,
        &mut out,
    );
    assert_eq!(s.host_counts(now).len(), 1);
    s.sweep(now + MEMORY, Part::WHOLE, alive, &mut out);
    assert!(s.host_counts(now).is_empty());
    assert_eq!(s.learned_timeout(&a, now), None);
    assert!(s.idle_order_consistent());
}

/// A state with a cap of one and host `a` holding its one connection (just opened), for
/// the tests of the learned responses per connection.
fn one_open_connection(now: Instant) -> (PoolState<u32>, Vec<Dropped<u32>>, PoolKey) {
    let mut s: PoolState<u32> = PoolState::new(caps(1, 10));
    let mut out = Vec::new();
    let a = key("a");
    assert!(is_connect(
        &s.checkout(&a, now, REUSE, any, alive, &mut out)
    ));
    (s, out, a)
}

/// A connection's end 2 ms after its `responses`-th response.
fn ended_soon(responses: u32) -> super::super::learn::Seen {
    super::super::learn::Seen::Ended {
        responses,
        idle: Duration::from_millis(2),
    }
}

/// The release of a connection that has given `responses`, showing nothing.
fn released(responses: u32) -> Learning<fn() -> Observations> {
    Learning {
        responses,
        seen: || [None, None, None],
    }
}

/// The release of a reused connection that has given `n` responses, the last answered.
fn served(n: u32) -> Learning<impl FnOnce() -> Observations> {
    Learning {
        responses: n,
        seen: move || [None, Some(super::super::learn::Seen::Served(n)), None],
    }
}

#[test]
fn a_connection_that_gave_the_learned_responses_is_closed_and_its_slot_goes_to_a_waiter() {
    let now = Instant::now();
    let (mut s, mut out, a) = one_open_connection(now);
    // One end soon after a first response teaches nothing yet: the connection idles.
    s.learn(&a, ended_soon(1), now);
    assert_eq!(s.learned_max(&a, now), None);
    s.put_idle_learning(&a, 1, now, released(1), terms(now, 90), &mut out);
    assert_eq!(s.idle_count(), 1);
    assert!(matches!(
        s.checkout(&a, now, REUSE, any, alive, &mut out),
        Checkout::Idle(1, _)
    ));
    // A second agreeing end: a connection that gave one response is closed, not idled,
    // and the slot it held goes to the request waiting at the cap of one.
    s.learn(&a, ended_soon(1), now);
    assert_eq!(s.learned_max(&a, now), Some(1));
    let (_id, mut rx) = waiter(s.checkout(&a, now, REUSE, any, alive, &mut out));
    s.put_idle_learning(&a, 1, now, released(1), terms(now, 90), &mut out);
    let gone: Vec<_> = out.drain(..).map(|d| (d.conn, d.cause)).collect();
    assert_eq!(gone, vec![(1, DropCause::LearnedMax)]);
    assert_eq!(s.idle_count(), 0);
    assert!(matches!(rx.try_recv(), Ok(Grant::Slot)));
    assert_eq!(s.total_open(), 1);
    // A reused connection answering its second response shows the end was no limit.
    s.put_idle_learning(&a, 2, now, served(2), terms(now, 90), &mut out);
    assert!(out.is_empty());
    assert_eq!(s.learned_max(&a, now), None);
    assert_eq!(s.idle_count(), 1);
    assert!(s.idle_order_consistent());
}

#[test]
fn a_connection_at_an_aged_learned_limit_goes_only_to_a_request_a_close_race_would_retry() {
    let start = Instant::now();
    let (mut s, mut out, a) = one_open_connection(start);
    let careful = Need {
        fresh: false,
        front: false,
        waited: false,
        retryable: false,
    };
    s.learn(&a, ended_soon(1), start);
    s.learn(&a, ended_soon(1), start);
    assert_eq!(s.learned_max(&a, start), Some(1));
    // The ends age with nothing new: the client closed its connections at the count.
    let now = start + super::super::learn::MEMORY + Duration::from_secs(1);
    assert_eq!(s.learned_max(&a, now), None);
    s.put_idle_learning(&a, 1, now, released(1), terms(now, 90), &mut out);
    assert!(out.is_empty(), "idled, not closed");
    // A request a close race would not retry (a POST) does not take it: it is closed
    // and the request opens a connection in its slot.
    assert!(is_connect(
        &s.checkout(&a, now, careful, any, alive, &mut out)
    ));
    let gone: Vec<_> = out.drain(..).map(|d| (d.conn, d.cause)).collect();
    assert_eq!(gone, vec![(1, DropCause::LearnedMax)]);
    assert_eq!(s.total_open(), 1);
    // One that would be retried (a GET) takes the next such connection...
    s.put_idle_learning(&a, 2, now, released(1), terms(now, 90), &mut out);
    assert!(matches!(
        s.checkout(&a, now, REUSE, any, alive, &mut out),
        Checkout::Idle(2, _)
    ));
    // ...and a request waiting at the cap is handed it only with the mark.
    let (_id, mut rx) = waiter(s.checkout(&a, now, careful, any, alive, &mut out));
    s.put_idle_learning(&a, 2, now, released(1), terms(now, 90), &mut out);
    match rx.try_recv() {
        Ok(Grant::Conn(2, terms)) => assert!(terms.retryable_only),
        _ => panic!("expected the connection, handed over"),
    }
    // Served past the count, it shows the limit is gone: nothing is marked.
    s.put_idle_learning(&a, 2, now, served(2), terms(now, 90), &mut out);
    assert!(matches!(
        s.checkout(&a, now, careful, any, alive, &mut out),
        Checkout::Idle(2, _)
    ));
    // A connection below the count is never marked.
    s.learn(&a, ended_soon(3), now);
    s.learn(&a, ended_soon(3), now);
    let later = now + super::super::learn::MEMORY + Duration::from_secs(1);
    s.put_idle_learning(&a, 2, later, released(1), terms(later, 90), &mut out);
    assert!(matches!(
        s.checkout(&a, later, careful, any, alive, &mut out),
        Checkout::Idle(2, _)
    ));
    assert!(s.idle_order_consistent());
}

#[test]
fn at_the_global_cap_hosts_with_waiters_take_turns() {
    let now = Instant::now();
    // The per-host cap is the global cap: one busy host could hold every slot.
    let mut s = PoolState::new(caps(2, 2));
    let mut out = Vec::new();
    let (a, b, c) = (key("a"), key("b"), key("c"));
    assert!(is_connect(
        &s.checkout(&a, now, REUSE, any, alive, &mut out)
    ));
    assert!(is_connect(
        &s.checkout(&a, now, REUSE, any, alive, &mut out)
    ));
    let mut a_waiting: Vec<_> = (0..4)
        .map(|_| waiter(s.checkout(&a, now, REUSE, any, alive, &mut out)).1)
        .collect();
    let (_, mut rb) = waiter(s.checkout(&b, now, REUSE, any, alive, &mut out));
    let (_, mut rc) = waiter(s.checkout(&c, now, REUSE, any, alive, &mut out));

    // Three hosts wait for two slots: a's share is one connection and it holds two. Its
    // release goes to the next host in the round, b: a's connection is closed and b gets
    // the slot.
    s.put_idle(&a, 1, now, terms(now, 90), &mut out);
    assert!(matches!(rb.try_recv(), Ok(Grant::Slot)));
    assert_eq!((out.len(), out[0].cause), (1, DropCause::Evicted));
    assert!(a_waiting[0].try_recv().is_err());
    // a now holds its share: its next release goes to its own waiter, reused.
    s.put_idle(&a, 2, now, terms(now, 90), &mut out);
    assert!(matches!(a_waiting[0].try_recv(), Ok(Grant::Conn(2, _))));
    // b is done and nobody else waits there: its slot goes to c, whose turn comes before
    // a's (a used its turn to keep its connection).
    s.put_idle(&b, 3, now, terms(now, 90), &mut out);
    assert!(matches!(rc.try_recv(), Ok(Grant::Slot)));
    assert!(a_waiting[1].try_recv().is_err());
    assert_eq!(s.total_open(), 2, "the global cap holds throughout");
    // c's connection closes: its slot goes to a, the only host still waiting.
    s.release_slot(&c, now, &mut out);
    assert!(matches!(a_waiting[1].try_recv(), Ok(Grant::Slot)));
    assert_eq!(s.total_open(), 2);
    assert!(s.idle_order_consistent());
}

#[test]
fn a_crawl_over_many_hosts_holds_state_only_for_hosts_in_use() {
    // 10,000 hosts, one request each, at a global cap of 4: each new host takes the slot
    // of the least recently used idle connection, and the host that loses its last
    // connection is forgotten at once (not at the next sweep).
    let t0 = Instant::now();
    let mut s = PoolState::new(caps(2, 4));
    let mut out = Vec::new();
    let mut evicted = Vec::new();
    for i in 0..10_000u32 {
        let now = t0 + Duration::from_millis(u64::from(i));
        let k = key(&format!("h{i}"));
        assert!(is_connect(
            &s.checkout(&k, now, REUSE, any, alive, &mut out)
        ));
        s.put_idle(&k, i, now, terms(now, 90), &mut out);
        evicted.extend(out.drain(..).map(|d| (d.conn, d.cause)));
        assert!(s.hosts_held() <= 4, "host {i}: {} held", s.hosts_held());
        assert_eq!(s.idle_order.len(), s.total_open());
    }
    assert_eq!(s.total_open(), 4);
    assert_eq!(evicted.len(), 9_996);
    // Least recently used first: host i's connection makes room for host i + 4.
    assert!(evicted
        .iter()
        .enumerate()
        .all(|(i, (conn, cause))| *conn == i as u32 && *cause == DropCause::Evicted));
    // A dial that fails leaves nothing behind either.
    let now = t0 + Duration::from_secs(20);
    let k = key("failed-dial");
    let mut s = PoolState::<u32>::new(caps(2, 4));
    assert!(is_connect(
        &s.checkout(&k, now, REUSE, any, alive, &mut out)
    ));
    assert_eq!(s.hosts_held(), 1);
    s.release_slot(&k, now, &mut out);
    assert_eq!(s.hosts_held(), 0);
    assert!(s.idle_order_consistent());
}

#[test]
fn eviction_skips_connections_taken_since_and_the_asking_host() {
    let t0 = Instant::now();
    let s1 = t0 + Duration::from_secs(1);
    let s2 = t0 + Duration::from_secs(2);
    let mut s = PoolState::new(caps(2, 3));
    let mut out = Vec::new();
    let (a, b, c) = (key("a"), key("b"), key("c"));
    // a idles first, then b, then a again (its second connection).
    assert!(is_connect(&s.checkout(&a, t0, REUSE, any, alive, &mut out)));
    assert!(is_connect(&s.checkout(&b, t0, REUSE, any, alive, &mut out)));
    assert!(is_connect(&s.checkout(&a, t0, REUSE, any, alive, &mut out)));
    s.put_idle(&a, 1, t0, terms(t0, 90), &mut out);
    s.put_idle(&b, 2, s1, terms(s1, 90), &mut out);
    s.put_idle(&a, 3, s2, terms(s2, 90), &mut out);
    // a's requests take both its connections (freshest first) and give one back: the
    // oldest idle connection of the pool is now b's.
    let now = t0 + Duration::from_secs(3);
    assert!(matches!(
        s.checkout(&a, now, REUSE, any, alive, &mut out),
        Checkout::Idle(3, _)
    ));
    assert!(matches!(
        s.checkout(&a, now, REUSE, any, alive, &mut out),
        Checkout::Idle(1, _)
    ));
    s.put_idle(&a, 1, now, terms(now, 90), &mut out);
    assert!(is_connect(
        &s.checkout(&c, now, REUSE, any, alive, &mut out)
    ));
    let gone: Vec<u32> = out.drain(..).map(|d| d.conn).collect();
    assert_eq!(gone, vec![2], "b's connection was the least recently used");
    assert_eq!(s.hosts_held(), 2, "b is forgotten");
    // The next host takes a's idle connection; a still has one in use, so it stays.
    assert!(is_connect(&s.checkout(
        &key("d"),
        now,
        REUSE,
        any,
        alive,
        &mut out
    )));
    let gone: Vec<u32> = out.drain(..).map(|d| d.conn).collect();
    assert_eq!(gone, vec![1]);
    assert_eq!(s.hosts_held(), 3);
    // Nothing idle is left: the next new host waits.
    let _w = waiter(s.checkout(&key("e"), now, REUSE, any, alive, &mut out));
    assert!(out.is_empty());
    assert!(s.idle_order_consistent());
}

#[test]
fn a_host_entry_starts_its_idle_stack_on_a_line_of_its_own() {
    use std::mem::{align_of, offset_of, size_of};
    type Entry = (
        PoolKey,
        crate::pool::host::Host<Box<crate::conn::Connection>>,
    );
    assert_eq!(align_of::<Entry>(), 64);
    let (key, host) = (offset_of!(Entry, 0), offset_of!(Entry, 1));
    assert_eq!(host % 64, 0, "the host starts a line");
    // The key lies on one line of its own, before or after the host.
    assert!(
        key + size_of::<PoolKey>() <= host
            || key >= host + size_of::<crate::pool::host::Host<Box<crate::conn::Connection>>>(),
        "key at {key}, host at {host}"
    );
    assert_eq!(
        key / 64,
        (key + size_of::<PoolKey>() - 1) / 64,
        "the key spans one line"
    );
}

#[test]
fn an_idle_order_entry_fills_one_line() {
    assert_eq!(super::super::lru::node_size::<PoolKey>(), 64);
}

fn retry_at(rx: &mut oneshot::Receiver<Grant<u32>>) -> Option<Instant> {
    match rx.try_recv() {
        Ok(Grant::Retry(at)) => Some(at),
        _ => None,
    }
}

/// A pool whose requests to one host are kept `spacing` apart, at most `per_host`
/// connections per host and 10 in all; its output list, and host a.
fn spaced(per_host: usize, spacing: Duration) -> (PoolState<u32>, Vec<Dropped<u32>>, PoolKey) {
    jittered(per_host, spacing, Duration::ZERO)
}

/// As `spaced`, with a random extra below `random` added at each start.
fn jittered(
    per_host: usize,
    min: Duration,
    random: Duration,
) -> (PoolState<u32>, Vec<Dropped<u32>>, PoolKey) {
    let state = PoolState::new(Caps {
        spacing: Some(Spacing { min, random }),
        ..caps(per_host, 10)
    });
    (state, Vec::new(), key("a"))
}

/// Host a at its cap of one (10 in all): one request sent at `t0`, two in line.
#[allow(clippy::type_complexity)]
fn one_sent_two_in_line(
    t0: Instant,
) -> (
    PoolState<u32>,
    Vec<Dropped<u32>>,
    PoolKey,
    oneshot::Receiver<Grant<u32>>,
    oneshot::Receiver<Grant<u32>>,
) {
    let mut s = PoolState::new(caps(1, 10));
    let mut out = Vec::new();
    let a = key("a");
    assert!(is_connect(&s.checkout(&a, t0, REUSE, any, alive, &mut out)));
    let (_, w1) = waiter(s.checkout(&a, t0, REUSE, any, alive, &mut out));
    let (_, w2) = waiter(s.checkout(&a, t0, REUSE, any, alive, &mut out));
    (s, out, a, w1, w2)
}

const FRONT: Need = Need {
    fresh: false,
    front: true,
    waited: false,
    retryable: true,
};

#[test]
fn a_pause_holds_back_the_line_and_its_first_is_told_when_to_come_back() {
    let t0 = Instant::now();
    let s10 = Duration::from_secs(10);
    let (mut s, mut out, a, mut w1, mut w2) = one_sent_two_in_line(t0);
    // A 429 paused the host: the first in line is told when to come back; the second
    // waits in line, told nothing.
    s.pause(&a, t0 + s10, t0);
    assert_eq!(retry_at(&mut w1), Some(t0 + s10));
    assert!(w2.try_recv().is_err());
    // The connection in use comes back during the pause: it rests, handed to nobody.
    let t1 = t0 + Duration::from_secs(1);
    s.put_idle(&a, 41, t1, terms(t1, 90), &mut out);
    assert!(w2.try_recv().is_err());
    assert_eq!(s.host_counts(t1)[0].idle, 1);
    // A new request during the pause joins the line, and is told nothing either.
    let (_, mut late) = waiter(s.checkout(&a, t1, REUSE, any, alive, &mut out));
    assert!(late.try_recv().is_err());
    // The first comes back when the pause ends, before the line, and takes the connection.
    let t10 = t0 + s10;
    assert!(matches!(
        s.checkout(&a, t10, FRONT, any, alive, &mut out),
        Checkout::Idle(41, _)
    ));
    // Then the line goes on in order as connections come back.
    s.put_idle(&a, 41, t10, terms(t10, 90), &mut out);
    assert!(matches!(w2.try_recv(), Ok(Grant::Conn(41, _))));
    s.put_idle(&a, 41, t10, terms(t10, 90), &mut out);
    assert!(matches!(late.try_recv(), Ok(Grant::Conn(41, _))));
    assert!(out.is_empty(), "nothing closed");
    assert!(s.idle_order_consistent());
}

#[test]
fn spacing_at_the_cap_keeps_sends_apart_after_a_slow_response() {
    let t0 = Instant::now();
    let s = |n: u64| Duration::from_millis(n);
    let (mut st, mut out, a) = spaced(1, s(2000));
    // Sent at 0 (its response will be slow); two more queue behind it.
    assert!(is_connect(
        &st.checkout(&a, t0, REUSE, any, alive, &mut out)
    ));
    let (_, mut w1) = waiter(st.checkout(&a, t0, REUSE, any, alive, &mut out));
    let (_, mut w2) = waiter(st.checkout(&a, t0, REUSE, any, alive, &mut out));
    assert_eq!(retry_at(&mut w1), Some(t0 + s(2000)), "the first told when");
    assert!(w2.try_recv().is_err());
    // At 2 s the first comes back; the connection is still in use: it waits at the front.
    let (_, mut w1) = waiter(st.checkout(&a, t0 + s(2000), FRONT, any, alive, &mut out));
    // The slow response ends at 5 s: the connection goes to the first, sent at 5 s; the
    // next is told to come back at 7 s.
    let t5 = t0 + s(5000);
    st.put_idle(&a, 41, t5, terms(t5, 90), &mut out);
    assert!(matches!(w1.try_recv(), Ok(Grant::Conn(41, _))));
    assert_eq!(retry_at(&mut w2), Some(t0 + s(7000)));
    // Its response is quick: back at 5.1 s, the connection rests rather than go out at
    // once (which it did before: queued requests went out back to back).
    let t51 = t0 + s(5100);
    st.put_idle(&a, 41, t51, terms(t51, 90), &mut out);
    assert_eq!(st.host_counts(t51)[0].idle, 1);
    // At 7 s the next comes back and takes it.
    assert!(matches!(
        st.checkout(&a, t0 + s(7000), FRONT, any, alive, &mut out),
        Checkout::Idle(41, _)
    ));
    assert_eq!(st.gate(&a, t0 + s(7000)), Some(t0 + s(9000)));
    assert!(st.idle_order_consistent());
}

#[test]
fn a_waiter_told_to_come_back_that_gives_up_passes_the_turn_on() {
    let t0 = Instant::now();
    let (mut s, mut out, a, mut w1, mut w2) = one_sent_two_in_line(t0);
    s.pause(&a, t0 + Duration::from_secs(10), t0);
    assert!(retry_at(&mut w1).is_some());
    // The first gives up while the host is still paused: the next is told.
    s.baton_dropped(&a, t0 + Duration::from_secs(1), &mut out);
    assert_eq!(retry_at(&mut w2), Some(t0 + Duration::from_secs(10)));
    // Had the pause ended, the next would have been served at once instead.
    let (_, mut w3) = waiter(s.checkout(&a, t0, REUSE, any, alive, &mut out));
    let t11 = t0 + Duration::from_secs(11);
    s.put_idle(&a, 41, t0, terms(t0, 90), &mut out);
    s.baton_dropped(&a, t11, &mut out);
    assert!(matches!(w3.try_recv(), Ok(Grant::Conn(41, _))));
}

#[test]
fn at_the_global_cap_a_closed_gate_lets_other_hosts_take_the_slot() {
    let t0 = Instant::now();
    let mut s = PoolState::new(caps(2, 1));
    let mut out = Vec::new();
    let (a, b) = (key("a"), key("b"));
    assert!(is_connect(&s.checkout(&a, t0, REUSE, any, alive, &mut out)));
    let (_, mut wa) = waiter(s.checkout(&a, t0, REUSE, any, alive, &mut out));
    let (_, mut wa2) = waiter(s.checkout(&a, t0, REUSE, any, alive, &mut out));
    let (_, mut wb) = waiter(s.checkout(&b, t0, REUSE, any, alive, &mut out));
    s.pause(&a, t0 + Duration::from_secs(10), t0);
    assert!(retry_at(&mut wa).is_some());
    // a's connection closes during the pause: its slot goes to b, though a is first in
    // the round and still has a request in line.
    s.release_slot(&a, t0, &mut out);
    assert!(wa2.try_recv().is_err());
    assert!(matches!(wb.try_recv(), Ok(Grant::Slot)));
}

#[test]
fn the_spacing_counts_from_when_a_dialed_request_is_sent() {
    let t0 = Instant::now();
    let ms = |n: u64| Duration::from_millis(n);
    let (mut s, mut out, a) = spaced(2, ms(2000));
    assert!(is_connect(&s.checkout(&a, t0, REUSE, any, alive, &mut out)));
    assert_eq!(s.gate(&a, t0), Some(t0 + ms(2000)));
    // The dial took half a second: the next request may go 2 s after the send.
    s.sent_after_dial(&a, t0 + ms(500));
    assert_eq!(s.gate(&a, t0 + ms(500)), Some(t0 + ms(2500)));
    // A pause that ends later stays.
    s.pause(&a, t0 + ms(9000), t0 + ms(600));
    s.sent_after_dial(&a, t0 + ms(700));
    assert_eq!(s.gate(&a, t0 + ms(700)), Some(t0 + ms(9000)));
}

#[test]
fn a_connection_that_expired_while_the_gate_was_closed_is_closed_not_handed_on() {
    let t0 = Instant::now();
    let (mut s, mut out, a, mut w1, mut w2) = one_sent_two_in_line(t0);
    s.pause(&a, t0 + Duration::from_secs(10), t0);
    assert!(retry_at(&mut w1).is_some());
    // Back during the pause, on terms that end at 5 s.
    s.put_idle(&a, 41, t0, terms(t0, 5), &mut out);
    // The first gives up at 11 s: the line is served, but not with the expired one.
    s.baton_dropped(&a, t0 + Duration::from_secs(11), &mut out);
    assert!(matches!(w2.try_recv(), Ok(Grant::Slot)));
    assert_eq!(out.len(), 1, "the expired connection closed");
    assert_eq!(s.total_open(), 1, "only the slot given");
}

#[test]
fn with_jitter_each_start_is_spaced_by_the_least_delay_and_a_fresh_draw() {
    let t0 = Instant::now();
    let (second, ms) = (Duration::from_secs(1), Duration::from_millis);
    let (mut s, mut out, a) = jittered(1, second, ms(500));
    // One connection, used 200 times, each time as soon as the gate lets it.
    assert!(is_connect(&s.checkout(&a, t0, REUSE, any, alive, &mut out)));
    s.put_idle(&a, 41, t0, terms(t0, 900), &mut out);
    let mut at = t0;
    let mut gaps = Vec::new();
    for _ in 0..200 {
        let Some(open) = s.gate(&a, at) else {
            panic!("a start closes the gate")
        };
        // Just before the gate opens, the request waits; at the instant, it is served.
        let early = open - Duration::from_nanos(1);
        let (_, mut w) = waiter(s.checkout(&a, early, REUSE, any, alive, &mut out));
        assert_eq!(retry_at(&mut w), Some(open));
        assert!(matches!(
            s.checkout(&a, open, FRONT, any, alive, &mut out),
            Checkout::Idle(41, _)
        ));
        s.put_idle(&a, 41, open, terms(open, 900), &mut out);
        gaps.push(open - at);
        at = open;
    }
    let (least, most) = (gaps.iter().min(), gaps.iter().max());
    assert!(
        least.is_some_and(|g| *g >= second) && most.is_some_and(|g| *g < second + ms(500)),
        "every gap in [1 s, 1.5 s): {least:?} to {most:?}"
    );
    // Drawn anew each time: 200 uniform draws over half a second span most of it, and
    // their mean is near the middle.
    let spread = most.zip(least).map(|(m, l)| *m - *l);
    assert!(spread.is_some_and(|s| s > ms(400)), "{spread:?}");
    let mean = gaps.iter().sum::<Duration>() / 200;
    assert!(mean > ms(1150) && mean < ms(1350), "mean gap {mean:?}");
    assert!(out.is_empty());
}

#[test]
fn jitter_draws_stay_below_their_limit_and_without_one_the_spacing_is_exact() {
    let mut jitter = Jitter::seeded();
    let (second, ms) = (Duration::from_secs(1), Duration::from_millis);
    assert_eq!(jitter.spacing(None), None);
    let exact = Spacing {
        min: second,
        random: Duration::ZERO,
    };
    assert_eq!(jitter.spacing(Some(exact)), Some(second));
    // Jitter alone, without a least delay.
    let alone = Spacing {
        min: Duration::ZERO,
        random: ms(10),
    };
    for _ in 0..1000 {
        assert!(jitter.spacing(Some(alone)).is_some_and(|d| d < ms(10)));
    }
    // Limits past what nanoseconds in a u64 hold, and sums past `Duration::MAX`, saturate.
    let huge = Spacing {
        min: Duration::MAX,
        random: Duration::MAX,
    };
    assert_eq!(jitter.spacing(Some(huge)), Some(Duration::MAX));
    // Two generators seeded apart draw apart.
    let mut other = Jitter::seeded();
    let draws = |j: &mut Jitter| -> Vec<Option<Duration>> {
        (0..8).map(|_| j.spacing(Some(alone))).collect()
    };
    assert_ne!(draws(&mut jitter), draws(&mut other));
}

#[test]
fn an_origin_given_its_own_delay_is_spaced_by_it_in_place_of_the_clients() {
    let t0 = Instant::now();
    let s = Duration::from_secs;
    // A step of the table: with these delays set, one start at t0 to `key` leaves its
    // gate closed until this, if at all.
    fn gate_after_start(
        client: Option<Duration>,
        own: &[(&PoolKey, Option<Duration>)],
        key: &PoolKey,
        t0: Instant,
    ) -> Option<Instant> {
        let mut st = PoolState::new(Caps {
            spacing: client.map(|min| Spacing {
                min,
                random: Duration::ZERO,
            }),
            ..caps(2, 10)
        });
        for (origin, delay) in own {
            st.set_delay((*origin).clone(), *delay);
        }
        let mut out = Vec::new();
        assert!(is_connect(
            &st.checkout(key, t0, REUSE, any, alive, &mut out)
        ));
        st.gate(key, t0)
    }
    let (a, b) = (key("a"), key("b"));
    let proxy = Arc::new(crate::conn::ProxyTarget::new(false, "proxy", 3128, None));
    let a_via_proxy = a.clone().via(Some(proxy));
    /// The client's delay, the origins' own delays set in order, the key started, and
    /// when its gate opens again.
    type Row<'a> = (
        Option<Duration>,
        &'a [(&'a PoolKey, Option<Duration>)],
        &'a PoolKey,
        Option<Instant>,
    );
    let table: [Row; 9] = [
        // No delay anywhere: no gate.
        (None, &[], &a, None),
        // A delay for a alone: a is spaced, b is not.
        (None, &[(&a, Some(s(5)))], &a, Some(t0 + s(5))),
        (None, &[(&a, Some(s(5)))], &b, None),
        // Longer or shorter than the client's, in place of it for a only.
        (Some(s(1)), &[(&a, Some(s(5)))], &a, Some(t0 + s(5))),
        (Some(s(3)), &[(&a, Some(s(1)))], &a, Some(t0 + s(1))),
        (Some(s(3)), &[(&a, Some(s(1)))], &b, Some(t0 + s(3))),
        // Zero: no spacing for a, whatever the client's.
        (Some(s(3)), &[(&a, Some(Duration::ZERO))], &a, None),
        // Cleared: the client's again.
        (
            Some(s(3)),
            &[(&a, Some(s(9))), (&a, None)],
            &a,
            Some(t0 + s(3)),
        ),
        // Through a proxy, the origin's own delay holds.
        (None, &[(&a, Some(s(5)))], &a_via_proxy, Some(t0 + s(5))),
    ];
    for (i, (client, own, key, want)) in table.into_iter().enumerate() {
        assert_eq!(gate_after_start(client, own, key, t0), want, "row {i}");
    }
}

#[test]
fn an_origins_delay_keeps_its_line_apart_and_holds_after_the_host_is_forgotten() {
    let t0 = Instant::now();
    let s = Duration::from_secs;
    let mut st = PoolState::new(caps(1, 10));
    let mut out = Vec::new();
    let a = key("a");
    st.set_delay(a.clone(), Some(s(2)));
    // Sent at 0; two in line at the cap: the first is told to come back at 2 s.
    assert!(is_connect(
        &st.checkout(&a, t0, REUSE, any, alive, &mut out)
    ));
    let (_, mut w1) = waiter(st.checkout(&a, t0, REUSE, any, alive, &mut out));
    let (_, mut w2) = waiter(st.checkout(&a, t0, REUSE, any, alive, &mut out));
    assert_eq!(retry_at(&mut w1), Some(t0 + s(2)));
    st.put_idle(&a, 41, t0, terms(t0, 90), &mut out);
    assert!(
        w2.try_recv().is_err(),
        "the connection rests while the gate is closed"
    );
    let t2 = t0 + s(2);
    assert!(matches!(
        st.checkout(&a, t2, FRONT, any, alive, &mut out),
        Checkout::Idle(41, _)
    ));
    // The next start is 2 s after that one, and the next in line is told so.
    assert_eq!(st.gate(&a, t2), Some(t0 + s(4)));
    assert_eq!(retry_at(&mut w2), Some(t0 + s(4)));
    let t4 = t0 + s(4);
    st.put_idle(&a, 41, t2, terms(t2, 90), &mut out);
    assert!(matches!(
        st.checkout(&a, t4, FRONT, any, alive, &mut out),
        Checkout::Idle(41, _)
    ));
    // The line has ended: the connection closes and the sweep forgets the host. The
    // delay stays with the client, and the next start closes the gate again.
    st.release_slot(&a, t0 + s(5), &mut out);
    let t9 = t0 + s(9);
    st.sweep(t9, Part::WHOLE, |_: &mut u32| Liveness::Alive, &mut out);
    assert_eq!(st.hosts_held(), 0, "the host is forgotten");
    assert!(is_connect(
        &st.checkout(&a, t9, REUSE, any, alive, &mut out)
    ));
    assert_eq!(st.gate(&a, t9), Some(t9 + s(2)));
}

/// `open` connections of `key` checked out at once (each must dial).
/// Gives `key`'s origin a cap of `open` (as many idle), trimming the hosts in `trim`.
fn cap_of(
    st: &mut PoolState<u32>,
    key: &PoolKey,
    open: usize,
    trim: &[PoolKey],
    now: Instant,
    out: &mut Vec<Dropped<u32>>,
) {
    st.set_cap(
        key.clone(),
        Some(HostCap { open, idle: open }),
        trim,
        now,
        out,
    );
}

fn open_n(st: &mut PoolState<u32>, key: &PoolKey, n: usize, now: Instant) {
    let mut out = Vec::new();
    for _ in 0..n {
        assert!(is_connect(
            &st.checkout(key, now, REUSE, any, alive, &mut out)
        ));
    }
}

#[test]
fn an_origin_given_its_own_cap_opens_that_many_in_place_of_the_clients() {
    let now = Instant::now();
    let cap = |open| Some(HostCap { open, idle: open });
    let (a, b) = (key("a"), key("b"));
    let proxy = Arc::new(crate::conn::ProxyTarget::new(false, "proxy", 3128, None));
    let a_via_proxy = a.clone().via(Some(proxy));
    /// The origins' own caps set in order, the key checked out, and how many of its
    /// checkouts in a row dial before one must wait (the client's cap is 3).
    type Row<'a> = (&'a [(&'a PoolKey, Option<HostCap>)], &'a PoolKey, usize);
    let table: [Row; 7] = [
        (&[], &a, 3),
        // Lower or higher for a alone.
        (&[(&a, cap(1))], &a, 1),
        (&[(&a, cap(1))], &b, 3),
        (&[(&a, cap(5))], &a, 5),
        // Cleared: the client's again.
        (&[(&a, cap(5)), (&a, None)], &a, 3),
        // Through a proxy, the origin's own cap holds.
        (&[(&a, cap(1))], &a_via_proxy, 1),
        // The global cap (10) still holds above it.
        (&[(&a, cap(50))], &a, 10),
    ];
    for (i, (own, key, want)) in table.into_iter().enumerate() {
        let mut st = PoolState::new(caps(3, 10));
        let mut out = Vec::new();
        for (origin, cap) in own {
            st.set_cap((*origin).clone(), *cap, &[], now, &mut out);
        }
        let mut dialed = 0;
        while is_connect(&st.checkout(key, now, REUSE, any, alive, &mut out)) {
            dialed += 1;
            assert!(dialed <= 50, "row {i}: no cap");
        }
        assert_eq!(dialed, want, "row {i}");
        assert!(out.is_empty(), "row {i}");
    }
}

#[test]
fn a_raised_cap_serves_the_line_at_once_and_its_idle_stack_grows_with_it() {
    let now = Instant::now();
    let mut st = PoolState::new(caps(1, 10));
    let mut out = Vec::new();
    let a = key("a");
    open_n(&mut st, &a, 1, now);
    let (_, mut w1) = waiter(st.checkout(&a, now, REUSE, any, alive, &mut out));
    let (_, mut w2) = waiter(st.checkout(&a, now, REUSE, any, alive, &mut out));
    let (_, mut w3) = waiter(st.checkout(&a, now, REUSE, any, alive, &mut out));
    cap_of(&mut st, &a, 3, &[], now, &mut out);
    assert!(matches!(w1.try_recv(), Ok(Grant::Slot)));
    assert!(matches!(w2.try_recv(), Ok(Grant::Slot)));
    assert!(w3.try_recv().is_err(), "the third waits: 3 are open");
    assert_eq!(st.total_open(), 3);
    // The three come back with the last one served by the first of them; then all rest
    // (the client's idle cap is 1, the origin's 3).
    st.put_idle(&a, 1, now, terms(now, 90), &mut out);
    assert!(matches!(w3.try_recv(), Ok(Grant::Conn(1, _))));
    for conn in 1..=3 {
        st.put_idle(&a, conn, now, terms(now, 90), &mut out);
    }
    assert!(out.is_empty(), "{} closed", out.len());
    assert_eq!(st.host_counts(now)[0].idle, 3);
    assert!(st.idle_order_consistent());
}

#[test]
fn under_a_lowered_cap_connections_past_it_close_as_they_come_free() {
    let now = Instant::now();
    let mut st = PoolState::new(caps(4, 10));
    let mut out = Vec::new();
    let a = key("a");
    open_n(&mut st, &a, 4, now);
    // Two rest, two are in use, when a's cap comes down to 1.
    st.put_idle(&a, 1, now, terms(now, 90), &mut out);
    st.put_idle(&a, 2, now, terms(now, 90), &mut out);
    cap_of(&mut st, &a, 1, &[], now, &mut out);
    assert!(out.is_empty(), "nothing is closed when the cap is set");
    // A checkout closes the idle ones past the cap, oldest first, and waits: 2 are
    // still in use.
    let (_, mut w) = waiter(st.checkout(&a, now, REUSE, any, alive, &mut out));
    let closed: Vec<_> = out.drain(..).map(|d| (d.conn, d.cause)).collect();
    assert_eq!(
        closed,
        [(1, DropCause::OverIdleLimit), (2, DropCause::OverIdleLimit)]
    );
    // The first back is closed too (2 open, cap 1); the second goes to the waiter.
    st.put_idle(&a, 3, now, terms(now, 90), &mut out);
    assert_eq!(out.drain(..).map(|d| d.conn).collect::<Vec<_>>(), [3]);
    assert!(w.try_recv().is_err(), "still one over the cap");
    st.put_idle(&a, 4, now, terms(now, 90), &mut out);
    assert!(matches!(w.try_recv(), Ok(Grant::Conn(4, _))));
    assert!(out.is_empty());
    assert_eq!(st.total_open(), 1);
    // Under the cap now: the connection comes back to rest and is used again.
    st.put_idle(&a, 4, now, terms(now, 90), &mut out);
    assert!(matches!(
        st.checkout(&a, now, REUSE, any, alive, &mut out),
        Checkout::Idle(4, _)
    ));
    assert!(out.is_empty());
    assert!(st.idle_order_consistent());
}

#[test]
fn a_lowered_cap_closes_the_idle_connections_past_it_at_once_direct_and_through_a_proxy() {
    let now = Instant::now();
    let mut st = PoolState::new(caps(4, 20));
    let mut out = Vec::new();
    let (a, b) = (key("a"), key("b"));
    let proxy = Arc::new(crate::conn::ProxyTarget::new(false, "proxy", 3128, None));
    let a_via_proxy = a.clone().via(Some(proxy));
    // a direct: 4 open, 3 resting (1 in use). a through the proxy: 3 open, all resting.
    // b: 4 resting, which a's cap does not touch.
    open_n(&mut st, &a, 4, now);
    for conn in 1..4 {
        st.put_idle(
            &a,
            conn,
            now + Duration::from_secs(conn.into()),
            terms(now, 90),
            &mut out,
        );
    }
    open_n(&mut st, &a_via_proxy, 3, now);
    for conn in 11..14 {
        st.put_idle(&a_via_proxy, conn, now, terms(now, 90), &mut out);
    }
    open_n(&mut st, &b, 4, now);
    for conn in 21..25 {
        st.put_idle(&b, conn, now, terms(now, 90), &mut out);
    }
    assert!(out.is_empty());
    let trim = [a.clone(), a_via_proxy.clone()];
    let later = now + Duration::from_secs(5);
    cap_of(&mut st, &a, 2, &trim, later, &mut out);
    // Direct, the two oldest resting go (the one in use runs on); through the proxy,
    // the oldest.
    assert!(out.iter().all(|d| d.cause == DropCause::OverIdleLimit));
    let mut closed: Vec<_> = out.drain(..).map(|d| d.conn).collect();
    closed.sort();
    assert_eq!(closed, [1, 2, 11]);
    assert_eq!(st.total_open(), 4 - 2 + 3 - 1 + 4);
    // The one in use comes back to rest: a is at its cap.
    st.put_idle(&a, 4, later, terms(later, 90), &mut out);
    assert!(out.is_empty());
    // Raising the cap closes nothing.
    cap_of(&mut st, &a, 3, &trim, later, &mut out);
    assert!(out.is_empty());
    assert_eq!(st.total_open(), 2 + 2 + 4);
    // Lowered to 1: each of a's hosts keeps its newest, and nothing of b is closed.
    cap_of(&mut st, &a, 1, &trim, later, &mut out);
    let mut closed: Vec<_> = out.drain(..).map(|d| d.conn).collect();
    closed.sort();
    assert_eq!(closed, [3, 12]);
    assert!(matches!(
        st.checkout(&a, later, REUSE, any, alive, &mut out),
        Checkout::Idle(4, _)
    ));
    assert_eq!(st.total_open(), 1 + 1 + 4);
    assert!(st.idle_order_consistent());
}

#[test]
fn under_a_lowered_cap_idle_connections_of_another_runtime_are_closed_too() {
    let now = Instant::now();
    let mut st = PoolState::new(caps(3, 10));
    let mut out = Vec::new();
    let a = key("a");
    // Three connections opened on another runtime (numbered from 100), all resting.
    open_n(&mut st, &a, 3, now);
    for conn in 100..103 {
        st.put_idle(&a, conn, now, terms(now, 90), &mut out);
    }
    cap_of(&mut st, &a, 1, &[], now, &mut out);
    // A checkout on this runtime, which cannot use them: the two oldest are closed for
    // the cap, the last is traded for a connection of its own, and nothing waits.
    let mine = |c: &u32| *c < 100;
    let got = st.checkout(&a, now, REUSE, mine, alive, &mut out);
    assert!(is_connect(&got));
    let closed: Vec<_> = out.drain(..).map(|d| (d.conn, d.cause)).collect();
    assert_eq!(
        closed,
        [
            (100, DropCause::OverIdleLimit),
            (101, DropCause::OverIdleLimit),
            (102, DropCause::OtherRuntime)
        ]
    );
    assert_eq!(st.total_open(), 1);
    assert!(st.idle_order_consistent());
}
