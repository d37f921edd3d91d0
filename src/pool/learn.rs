//! Learning a host's idle timeout when the server does not say it (nginx's default, Python,
//! Node, most load balancers), so that connections stop being reused before the server
//! closes them: pure, with time passed in, one per host, of fixed size.
//!
//! A connection's idle time is counted from the moment its last response was read. The
//! server counts from the moment it sent that response, half a round trip earlier, and its
//! FIN reaches the client half a round trip after it was sent: so the FIN arrives when the
//! connection has been idle for the server's timeout `T` itself, and a request sent at idle
//! `x` reaches the server at its idle `x + rtt`. Requests must therefore stop at `T - rtt`.
//!
//! | what was seen (idle time)                    | what it says            | kept as               |
//! |----------------------------------------------|-------------------------|-----------------------|
//! | a FIN (or an unasked `408`) arrived at `b`   | `T <= b`                | an upper bound `b`    |
//! | a request sent at `c` met a closed connection| `T <= c + rtt`          | an upper bound `c+rtt`|
//! | a request sent at `a` was answered           | `T > a`                 | drops bounds `<= a`   |
//! | a round trip                                 | the path's delay        | windowed minimum      |
//!
//! The estimate of `T` is the smallest upper bound of the last [`SAMPLES`], each trusted
//! for [`MEMORY`]: a FIN arrives at `T` or late (timers fire late), never early, so the
//! smallest is the closest; a bound contradicted by a later answered request was stale
//! (the server's timeout went up) and is dropped. The horizon (idle time after which a
//! connection is not reused) is `T - rtt - margin`, never below [`FLOOR`]; the margin is
//! 1 ms, 1/256 of `T`, and how late the smallest bound may still be: the gap to the next
//! smallest, at most 1/64 of `T`. When every bound
//! has aged out, nothing is known and connections idle on the client's other terms until
//! the next FIN teaches the timeout again: that is how an estimate rises when the server's
//! timeout grows and no request can show it.
//!
//! Some servers close a connection soon after a response whatever the idle time, without
//! `Connection: close` or `Keep-Alive: max`: after every response (one request per
//! connection), or after a fixed number. No idle horizon helps there: the next request
//! goes out microseconds after the response and meets the close. So a connection ended
//! sooner after its last response than [`FLOOR`] (a FIN, or a close race counting its
//! round trip) bounds the responses the server gives a connection by those it had given.
//! The last two such ends, both within [`MEMORY`], make the limit when they agree: a
//! server that closes after `n` responses ends every connection at `n`, while a restart
//! ends connections at whatever count each had. A connection that has given that many
//! responses is then closed rather than kept idle (two close races, or two FINs, teach
//! it); a reused connection answering past an end drops it. An idle timeout under the
//! floor whose connections keep ending after the same count is taken for such a limit:
//! its connections are then opened anew, which loses no request where reuse lost some.
//! A limit whose ends have aged past [`MEMORY`] is not simply forgotten: the client closed
//! its connections at the count meanwhile, so nothing could have shown it still holds,
//! and the next request to find out would meet the close. Until something contradicts
//! it, a connection at the count goes only to a request that a close race would retry:
//! if the server answers it, the limit is gone; if not, the request is retried and the
//! end it shows makes the limit known again.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, Hash};
use std::time::{Duration, Instant};

/// Upper bounds remembered.
pub(crate) const SAMPLES: usize = 8;
/// How long an upper bound is trusted, and a host's estimate kept without news.
pub(crate) const MEMORY: Duration = Duration::from_secs(300);
/// The most forgotten hosts whose servers' estimates are kept (`Remembered`): at some
/// 300 bytes each, 1.2 MiB at most, whatever a crawl's hosts.
pub(crate) const REMEMBERED: usize = 4096;
/// The horizon is never shorter: a server that closes sooner is not learned from.
pub(crate) const FLOOR: Duration = Duration::from_millis(50);
/// Round-trip samples per window of the windowed minimum.
const RTT_WINDOW: u32 = 32;
/// The margin below the estimate: a fixed part and a share of the estimate.
const MARGIN_FIXED: Duration = Duration::from_millis(1);
const MARGIN_SHARE: u32 = 256;
const JITTER_SHARE: u32 = 64;
const MS: Duration = Duration::from_millis(1);
const US: Duration = Duration::from_micros(1);

/// What a host's connections showed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Seen {
    /// A connection reused after this idle time was answered.
    Answered(Duration),
    /// The server closed a connection (or sent an unasked response) idle this long.
    Closed(Duration),
    /// A request sent on a connection idle this long found it closed.
    Raced(Duration),
    /// A round trip: connect time, or the time to a response's first byte.
    RoundTrip(Duration),
    /// The server ended a connection that had given `responses` responses, `idle` after
    /// the last (a FIN or an unasked response; for a close race, the request's idle time
    /// plus the round trip).
    Ended { responses: u32, idle: Duration },
    /// A reused connection gave its `n`-th response.
    Served(u32),
}

/// A host's learned idle timeout.
#[derive(Debug, Clone)]
pub(crate) struct Learned {
    /// When the estimate began: the sample times count from here.
    base: Instant,
    /// Upper bounds on the server's timeout and when each was seen, in a ring.
    upper: [Option<Bound>; SAMPLES],
    next: u8,
    rtt: WindowedMin,
    /// Connections the server ended soon after a response: how many responses each had
    /// given, in a ring of two.
    ends: [Option<End>; 2],
    next_end: u8,
    /// Milliseconds since `base` of the last observation.
    last_seen_ms: u32,
}

/// What a host's server was learned to give a connection before ending it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ResponseLimit {
    /// The last two ends agree and are recent: a connection that has given this many
    /// responses is closed.
    Known(u32),
    /// They agree, but one is older than [`MEMORY`] and nothing since contradicted it: a
    /// connection that has given this many goes only to a request that a close race would
    /// retry, which puts the limit to the test.
    Aged(u32),
}

/// A connection ended soon after its `responses`-th response, `at_ms` after `base`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct End {
    responses: u32,
    at_ms: u32,
}

/// An upper bound, kept small: microseconds, and milliseconds since `base`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Bound {
    micros: u32,
    at_ms: u32,
}

impl Bound {
    fn value(self) -> Duration {
        Duration::from_micros(u64::from(self.micros))
    }
}

/// A duration in whole units of `unit`, saturating at `u32::MAX`.
fn units(d: Duration, unit: Duration) -> u32 {
    u32::try_from(d.as_nanos() / unit.as_nanos()).unwrap_or(u32::MAX)
}

impl Learned {
    /// Nothing known yet.
    pub fn new(now: Instant) -> Learned {
        Learned {
            base: now,
            upper: [None; SAMPLES],
            next: 0,
            rtt: WindowedMin::default(),
            ends: [None; 2],
            next_end: 0,
            last_seen_ms: 0,
        }
    }

    /// Takes in one observation.
    pub fn observe(&mut self, seen: Seen, now: Instant) {
        self.last_seen_ms = self.ms_since_base(now);
        match seen {
            Seen::RoundTrip(rtt) => self.rtt.add(rtt),
            Seen::Closed(idle) => self.push(idle, now),
            Seen::Raced(idle) => self.push(idle.saturating_add(self.rtt()), now),
            Seen::Answered(idle) => {
                // The server kept the connection open past `idle`: any bound at or below
                // it is stale.
                for slot in &mut self.upper {
                    if slot.is_some_and(|b| b.value() <= idle) {
                        *slot = None;
                    }
                }
            }
            Seen::Ended { responses, idle } if idle < FLOOR && responses > 0 => {
                let slot = usize::from(self.next_end) % self.ends.len();
                self.ends[slot] = Some(End {
                    responses,
                    at_ms: self.ms_since_base(now),
                });
                self.next_end = ((slot + 1) % self.ends.len()) as u8;
            }
            // Ended later than the floor: an idle timeout, bounded above.
            Seen::Ended { .. } => {}
            Seen::Served(n) => {
                // A connection gave more responses than an end said: that end was not
                // the server's limit.
                for slot in &mut self.ends {
                    if slot.is_some_and(|e| e.responses < n) {
                        *slot = None;
                    }
                }
            }
        }
    }

    /// What the last two ends soon after a response say of the responses a connection
    /// of this host is given before the server ends it (`None`: nothing, or they
    /// disagree).
    pub fn response_limit(&self, now: Instant) -> Option<ResponseLimit> {
        let (Some(a), Some(b)) = (self.ends[0], self.ends[1]) else {
            return None;
        };
        if a.responses != b.responses {
            return None;
        }
        let now_ms = self.ms_since_base(now);
        let memory_ms = units(MEMORY, MS);
        let recent = |e: End| now_ms.saturating_sub(e.at_ms) < memory_ms;
        Some(if recent(a) && recent(b) {
            ResponseLimit::Known(a.responses)
        } else {
            ResponseLimit::Aged(a.responses)
        })
    }

    /// The responses a connection of this host is given before the server ends it, when
    /// the last two ends soon after a response, both recent, agree on it (`None`: no
    /// limit known).
    pub fn max_responses(&self, now: Instant) -> Option<u32> {
        match self.response_limit(now) {
            Some(ResponseLimit::Known(n)) => Some(n),
            _ => None,
        }
    }

    /// The estimated server timeout, if any bound is still trusted at `now`.
    pub fn timeout(&self, now: Instant) -> Option<Duration> {
        self.trusted(now).map(|b| b.value()).min()
    }

    /// The idle time after which a connection of this host is not reused (`None`: no
    /// estimate).
    pub fn horizon(&self, now: Instant) -> Option<Duration> {
        let (mut lowest, mut next) = (None::<Duration>, None::<Duration>);
        for v in self.trusted(now).map(|b| b.value()) {
            match lowest {
                Some(l) if v >= l => next = Some(next.map_or(v, |n| n.min(v))),
                _ => {
                    next = lowest;
                    lowest = Some(v);
                }
            }
        }
        let timeout = lowest?;
        // The smallest of several late-fired timers is about as late as the gap to the
        // next smallest; a gap wider than a share of the timeout is a change, not jitter.
        let jitter = next
            .map_or(Duration::ZERO, |n| n - timeout)
            .min(timeout / JITTER_SHARE);
        let margin = MARGIN_FIXED + timeout / MARGIN_SHARE + jitter;
        let horizon = timeout.saturating_sub(self.rtt()).saturating_sub(margin);
        Some(horizon.max(FLOOR))
    }

    /// The round trip estimate (zero before any sample).
    pub fn rtt(&self) -> Duration {
        self.rtt.get().unwrap_or_default()
    }

    /// Nothing seen for [`MEMORY`]: the estimate may be forgotten.
    pub fn stale(&self, now: Instant) -> bool {
        self.ms_since_base(now).saturating_sub(self.last_seen_ms) >= units(MEMORY, MS)
    }

    /// The bounds still trusted at `now`.
    fn trusted(&self, now: Instant) -> impl Iterator<Item = Bound> + '_ {
        let now_ms = self.ms_since_base(now);
        let memory_ms = units(MEMORY, MS);
        self.upper
            .iter()
            .flatten()
            .copied()
            .filter(move |b| now_ms.saturating_sub(b.at_ms) < memory_ms)
    }

    fn ms_since_base(&self, now: Instant) -> u32 {
        units(now.saturating_duration_since(self.base), MS)
    }

    fn push(&mut self, bound: Duration, now: Instant) {
        let slot = usize::from(self.next) % SAMPLES;
        self.upper[slot] = Some(Bound {
            micros: units(bound, US),
            at_ms: self.ms_since_base(now),
        });
        self.next = ((slot + 1) % SAMPLES) as u8;
    }
}

/// The minimum over the current window and the one before it, in microseconds
/// (`u32::MAX`: none): follows a path that gets slower within two windows, and ignores one
/// slow sample.
#[derive(Debug, Clone, Copy)]
struct WindowedMin {
    previous: u32,
    current: u32,
    count: u32,
}

impl Default for WindowedMin {
    fn default() -> Self {
        WindowedMin {
            previous: u32::MAX,
            current: u32::MAX,
            count: 0,
        }
    }
}

impl WindowedMin {
    fn add(&mut self, sample: Duration) {
        self.current = self.current.min(units(sample, US).min(u32::MAX - 1));
        self.count += 1;
        if self.count >= RTT_WINDOW {
            self.previous = self.current;
            self.current = u32::MAX;
            self.count = 0;
        }
    }

    fn get(&self) -> Option<Duration> {
        let best = self.previous.min(self.current);
        (best != u32::MAX).then(|| Duration::from_micros(u64::from(best)))
    }
}

/// What was learned of the servers of hosts the pool has forgotten (nothing open, nothing
/// waiting): kept apart from the hosts, and bounded, so that the pool's hosts are those in
/// use while a host seen again within [`MEMORY`] still knows its server. At most `cap`
/// estimates, the oldest let go first; a stale one is dropped when asked for.
#[derive(Debug)]
pub(crate) struct Remembered<K, S> {
    /// Each forgotten host's estimate, with the number it was put under.
    kept: HashMap<K, (u64, Box<Learned>), S>,
    /// The order they were put in (a number no longer in `kept` was taken back).
    order: VecDeque<(K, u64)>,
    /// The next number.
    next: u64,
    cap: usize,
}

impl<K: Hash + Eq + Clone, S: BuildHasher + Default> Remembered<K, S> {
    /// Room for `cap` estimates.
    pub fn new(cap: usize) -> Self {
        Remembered {
            kept: HashMap::default(),
            order: VecDeque::new(),
            next: 0,
            cap,
        }
    }

    /// Keeps `learned`, the estimate of `key`'s server, unless it is stale; lets go of the
    /// oldest past the cap.
    pub fn keep(&mut self, key: K, learned: Box<Learned>, now: Instant) {
        if self.cap == 0 || learned.stale(now) {
            return;
        }
        let n = self.next;
        self.next += 1;
        self.kept.insert(key.clone(), (n, learned));
        self.order.push_back((key, n));
        while self.kept.len() > self.cap {
            self.pop_oldest();
        }
        // Numbers taken back leave places behind in the order: clear them out once they
        // outnumber the estimates kept.
        if self.order.len() > 2 * self.cap.max(self.kept.len()) {
            let kept = &self.kept;
            self.order
                .retain(|(k, n)| kept.get(k).is_some_and(|(m, _)| m == n));
        }
    }

    /// Takes back what was kept of `key`'s server, if it is not stale.
    pub fn take(&mut self, key: &K, now: Instant) -> Option<Box<Learned>> {
        if self.kept.is_empty() {
            return None;
        }
        let (_, learned) = self.kept.remove(key)?;
        (!learned.stale(now)).then_some(learned)
    }

    /// What is kept of `key`'s server.
    pub fn get(&self, key: &K) -> Option<&Learned> {
        self.kept.get(key).map(|(_, l)| &**l)
    }

    /// How many estimates are kept.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.kept.len()
    }

    /// The estimates kept, with their hosts.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &Learned)> {
        self.kept.iter().map(|(k, (_, l))| (k, &**l))
    }

    /// Drops the estimates gone stale at `now`.
    pub fn purge_stale(&mut self, now: Instant) {
        if self.kept.is_empty() {
            return;
        }
        self.kept.retain(|_, (_, l)| !l.stale(now));
        let kept = &self.kept;
        self.order
            .retain(|(k, n)| kept.get(k).is_some_and(|(m, _)| m == n));
    }

    fn pop_oldest(&mut self) {
        while let Some((key, n)) = self.order.pop_front() {
            if self.kept.get(&key).is_some_and(|(m, _)| *m == n) {
                self.kept.remove(&key);
                return;
            }
        }
    }
}

#[cfg(test)]
#[path = "learn_tests.rs"]
mod tests;
