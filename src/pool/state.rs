//! The pool's bookkeeping across hosts: the per-host and global caps, FIFO waiting within a
//! host and turns across hosts (`fair.rs`), handing a released connection or a freed slot
//! to the next waiter, idle expiry, and eviction of another host's least recently used
//! idle connection at the global cap.
//!
//! Who gets a released connection: its own host's oldest waiter; but when the pool is at
//! the global cap and other hosts wait too, only if the host holds no more than its share
//! of the cap (the cap divided among the hosts with waiters, at least one each). A host
//! above its share gives the slot to the next host in the round: the connection is closed
//! and that host opens one. Who gets a freed slot: the next host in the round below its
//! own cap. So a host's connections are reused while it is within its share, and the
//! slots move between hosts only until each has it.
//!
//! Pure and synchronous: the caller holds the lock, passes the time in and probes through a
//! closure; connections let go of are returned in `out` to be closed (and counted) after the
//! lock is dropped. Generic over the connection type so tests use plain numbers.
//!
//! A slot is one unit of both caps. It is taken when a connection starts being opened and
//! given back only when that connection is gone; an idle connection keeps its slot.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::fair::{Turn, Turns};
use super::host::{Grant, Host, Waiter};
use super::learn::{Learned, Remembered, ResponseLimit, Seen, REMEMBERED};
use super::lru::Lru;
use super::{Need, PoolKey};
use crate::clock;
use crate::conn::h2::H2Conn;
use crate::conn::{BuildOriginHasher, Expiry, IdleTerms, Liveness};

/// The caps the state enforces.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Caps {
    pub per_host: usize,
    pub total: usize,
    pub idle_per_host: usize,
    /// How far apart requests sent to one host are kept, if at all.
    pub spacing: Option<Spacing>,
}

/// One origin's own connection caps (`Client::set_max_connections_for_host`), in place of
/// the caps' `per_host` and `idle_per_host`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HostCap {
    /// Connections open or being opened.
    pub open: usize,
    /// Idle connections kept.
    pub idle: usize,
}

/// The spacing of request starts to one host: `min_delay_per_host`, plus a random extra
/// up to `random_delay_per_host` drawn anew at each start (jitter, so that a crawler's
/// requests to a host do not come at a fixed beat).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Spacing {
    pub min: Duration,
    pub random: Duration,
}

/// Draws the random part of the spacing: xorshift64*, seeded from the standard library's
/// per-process random hash keys, so that two clients do not draw alike. Not for secrets;
/// only for spreading starts.
#[derive(Debug)]
pub(crate) struct Jitter(u64);

impl Jitter {
    /// A generator seeded afresh.
    pub fn seeded() -> Self {
        use std::hash::{BuildHasher, Hasher};
        let seed = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        // xorshift needs a state other than zero (from which it never moves).
        Jitter(seed | 1)
    }

    /// The spacing after a start made now: the least delay, plus a draw below the random
    /// part when there is one.
    #[inline]
    pub fn spacing(&mut self, spacing: Option<Spacing>) -> Option<Duration> {
        let spacing = spacing?;
        if spacing.random.is_zero() {
            return Some(spacing.min);
        }
        Some(spacing.min.saturating_add(self.below(spacing.random)))
    }

    /// A duration drawn uniformly from `[0, limit)` (to the nanosecond, up to 584 years).
    fn below(&mut self, limit: Duration) -> Duration {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        let draw = x.wrapping_mul(0x2545_f491_4f6c_dd1d);
        let nanos = u64::try_from(limit.as_nanos()).unwrap_or(u64::MAX);
        // The high half of the 128-bit product: below `nanos`, and as even as the draw.
        let scaled = (u128::from(draw) * u128::from(nanos)) >> 64;
        Duration::from_nanos(u64::try_from(scaled).unwrap_or(u64::MAX))
    }
}

/// What the caller of `checkout` does next.
pub(crate) enum Checkout<C> {
    /// Use this idle connection (already probed alive), idle since this instant (how long
    /// is worked out only where it is asked).
    Idle(C, Instant),
    /// A slot is reserved: open a new connection in it.
    Connect,
    /// Wait for a grant; `id` identifies the waiter for cancellation.
    Wait(u64, oneshot::Receiver<Grant<C>>),
}

/// Why the state let go of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DropCause {
    /// Its idle time ran out.
    Expired(Expiry),
    /// The probe found it closed or talking out of turn.
    Probe(Liveness),
    /// Closed to make room for another host at the global cap.
    Evicted,
    /// More idle connections than `idle_per_host`.
    OverIdleLimit,
    /// Opened on another runtime, and its slot was needed on this one.
    OtherRuntime,
    /// It gave as many responses as its host's server was learned to give a connection.
    LearnedMax,
}

/// What a released connection's exchange showed its host's estimates.
pub(crate) type Observations = [Option<Seen>; 3];

/// What a released connection tells its host's learned estimates: the responses it has
/// given, and what its exchange showed (`seen`, asked only of a host that has learned
/// something).
pub(crate) struct Learning<F> {
    pub responses: u32,
    pub seen: F,
}

/// What `idle_at_once` gives back when the connection did not go on the idle stack.
enum NotIdle<C> {
    /// Hosts wait, or the idle stack is full: for `put_idle_contended`.
    Contended(C, IdleTerms),
    /// It gave as many responses as the host's server gives a connection: to be closed.
    Spent(C),
}

/// A connection the state let go of, to be closed by the caller.
pub(crate) struct Dropped<C> {
    pub key: PoolKey,
    pub conn: C,
    pub cause: DropCause,
    pub idle_for: Duration,
}

/// Per-host numbers for statistics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HostCounts {
    pub key: PoolKey,
    pub open: usize,
    pub idle: usize,
    pub waiters: usize,
    pub learned_timeout: Option<Duration>,
    pub learned_max: Option<u32>,
    /// HTTP/2 connections open, and streams in use on them.
    pub http2: usize,
    pub streams: usize,
}

/// What a dial that may have given HTTP/2 gave.
pub(crate) enum Dialed {
    /// An HTTP/1.1 connection: the host speaks HTTP/1.1.
    Http1,
    /// An HTTP/2 connection, with one stream already reserved for its dialer.
    Http2(Arc<H2Conn>),
    /// Nothing.
    Failed,
}

/// The idle connections one tick of the sweep visits: those whose entries in the pool's
/// idle order (`lru.rs`) lie in part `index` of `of` of its slab. A round of `of` ticks
/// visits every connection that was idle when its part came, so that no tick holds the
/// pool's lock for the walk of every idle connection when there are thousands; and a tick
/// touches only its own connections and their hosts, not every host's entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Part {
    pub index: u32,
    pub of: u32,
}

impl Part {
    /// Every host at once.
    pub const WHOLE: Part = Part { index: 0, of: 1 };

    /// Idle connections one tick visits at most, about, when the pool has many.
    pub const CONNECTIONS: usize = 1024;

    /// Ticks in a round at most (the sweep interval is split among them).
    pub const MOST: u32 = 64;

    /// Its share of `places` (`start..end`): the parts of a round cover `0..places`, each
    /// place once.
    pub fn range(self, places: usize) -> std::ops::Range<usize> {
        let at = |i: u32| {
            let share = (places as u128 * u128::from(i)) / u128::from(self.of.max(1));
            usize::try_from(share).unwrap_or(places).min(places)
        };
        at(self.index)..at(self.index + 1)
    }

    /// The last part of its round.
    pub fn is_last(self) -> bool {
        self.index + 1 >= self.of
    }

    /// The first part of a round that starts with `idle` connections in the pool: the
    /// round has a part per [`Part::CONNECTIONS`] of them, up to [`Part::MOST`].
    pub fn first(idle: usize) -> Part {
        let of = idle
            .div_ceil(Part::CONNECTIONS)
            .clamp(1, Part::MOST as usize);
        Part {
            index: 0,
            of: u32::try_from(of).unwrap_or(Part::MOST),
        }
    }

    /// The part after this one: the next of the round, or the first of the next round
    /// (still split as this one, until it starts and [`Part::first`] splits it anew).
    pub fn next(self) -> Part {
        Part {
            index: if self.index + 1 < self.of {
                self.index + 1
            } else {
                0
            },
            of: self.of,
        }
    }
}

/// All hosts, the global count, and the caps.
pub(crate) struct PoolState<C> {
    /// Hashed by the hash each origin carries.
    hosts: HashMap<PoolKey, Host<C>, BuildOriginHasher>,
    /// What was learned of forgotten hosts' servers, for when they come back.
    remembered: Remembered<PoolKey, BuildOriginHasher>,
    caps: Caps,
    /// Some host's gate may be closed: starts are spaced, or some host was paused. Until
    /// then no checkout or release looks at a host's gate (another cache line per host).
    gating: bool,
    total_open: usize,
    waiting: usize,
    next_waiter: u64,
    /// The hosts with waiters, in the order they get their next turn.
    turns: Turns<PoolKey>,
    /// The hosts of all idle connections in the order the connections went idle, least
    /// recently used first: the one closed first to make room at the global cap, found
    /// without looking at every host (O(1), whatever the number of hosts).
    idle_order: Lru<PoolKey>,
    /// HTTP/2 connections let go of at the global cap, not yet counted.
    shared_evictions: usize,
    /// HTTP/2 connections in the hosts' lists, all hosts together: with none, a request
    /// at the global cap does not look for one to let go of.
    shared_conns: usize,
    /// The hosts that were given an HTTP/2 connection since they were last looked at
    /// here: where a request at the global cap looks for one to let go of, rather than
    /// through every host. Each connection holds a slot, so the hosts holding one are at
    /// most the global cap; one whose connections have all gone leaves at the next look,
    /// and a host forgotten leaves at once.
    shared_hosts: HashSet<PoolKey, BuildOriginHasher>,
    /// What each start's spacing is: the caps', or an origin's own.
    spacer: Spacer,
    /// How many connections each host may have: the caps', or its origin's own.
    limits: Limits,
}

/// The connection caps of each host: the client's (`per_host`, `idle_per_host`), or its
/// origin's own.
#[derive(Debug)]
struct Limits {
    /// The caps' own.
    usual: HostCap,
    /// Caps set for single origins (`Client::set_max_connections_for_host`); keyed by the
    /// origin without its proxy, and held until cleared, as `Spacer::delays`.
    own: HashMap<PoolKey, HostCap, BuildOriginHasher>,
}

impl Limits {
    /// `key`'s caps: its origin's own if some were set, else the caps'.
    #[inline]
    fn of(&self, key: &PoolKey) -> HostCap {
        if self.own.is_empty() {
            return self.usual;
        }
        origin_entry(&self.own, key).copied().unwrap_or(self.usual)
    }

    /// Whether `host` holds more connections than `key`'s cap, lowered since it opened
    /// them: one that comes free is closed rather than used again. Never so while no
    /// origin has caps of its own (nothing opens past the usual cap).
    #[inline]
    fn over<C>(&self, key: &PoolKey, host: &Host<C>) -> bool {
        !self.own.is_empty() && host.open() > self.of(key).open
    }
}

/// What `map` holds for `key`'s origin, whatever proxy `key` goes through.
#[inline]
fn origin_entry<'m, V>(
    map: &'m HashMap<PoolKey, V, BuildOriginHasher>,
    key: &PoolKey,
) -> Option<&'m V> {
    match key.proxy() {
        None => map.get(key),
        Some(_) => map.get(&key.clone().via(None)),
    }
}

/// Makes `key`'s entry in `hosts`, with what was learned of its server before it was
/// forgotten.
#[inline(never)]
fn new_host<'h, C>(
    hosts: &'h mut HashMap<PoolKey, Host<C>, BuildOriginHasher>,
    remembered: &mut Remembered<PoolKey, BuildOriginHasher>,
    key: &PoolKey,
    now: Instant,
) -> &'h mut Host<C> {
    let learned = remembered.take(key, now);
    let host = hosts.entry(key.clone()).or_default();
    host.learned = learned;
    host
}

/// Whether `key` is `origin` (an origin without a proxy), direct or through a proxy.
fn same_origin(key: &PoolKey, origin: &PoolKey) -> bool {
    match key.proxy() {
        None => key == origin,
        Some(_) => key.clone().via(None) == *origin,
    }
}

/// The spacing of starts to each host: the client's (`min_delay_per_host`, with its random
/// part drawn at each start), or an origin's own least delay.
#[derive(Debug)]
struct Spacer {
    /// The caps' spacing.
    spacing: Option<Spacing>,
    /// Least delays set for single origins (`Client::set_min_delay_for_host`), in place of
    /// the caps' own; keyed by the origin without its proxy. Held until cleared: the caller
    /// sets each, so it bounds them.
    delays: HashMap<PoolKey, Duration, BuildOriginHasher>,
    /// Draws the random part of each start's spacing (`random_delay_per_host`).
    jitter: Jitter,
}

impl Spacer {
    /// The spacing of starts to `key`: its origin's own least delay if one was set (the
    /// random part stays the client's), else the caps'.
    #[inline]
    fn spacing_of(&self, key: &PoolKey) -> Option<Spacing> {
        if self.delays.is_empty() {
            return self.spacing;
        }
        match origin_entry(&self.delays, key) {
            Some(&min) => Some(Spacing {
                min,
                random: self.spacing.map_or(Duration::ZERO, |s| s.random),
            }),
            None => self.spacing,
        }
    }

    /// How long after a start to `key` made now the next may be made, if it is spaced.
    #[inline]
    fn draw(&mut self, key: &PoolKey) -> Option<Duration> {
        let spacing = self.spacing_of(key);
        self.jitter.spacing(spacing)
    }
}

impl<C> PoolState<C> {
    /// An empty pool.
    pub fn new(caps: Caps) -> Self {
        PoolState {
            hosts: HashMap::default(),
            remembered: Remembered::new(REMEMBERED),
            caps,
            gating: caps.spacing.is_some(),
            total_open: 0,
            waiting: 0,
            next_waiter: 0,
            turns: Turns::default(),
            idle_order: Lru::default(),
            shared_evictions: 0,
            shared_conns: 0,
            shared_hosts: HashSet::default(),
            spacer: Spacer {
                spacing: caps.spacing,
                delays: HashMap::default(),
                jitter: Jitter::seeded(),
            },
            limits: Limits {
                usual: HostCap {
                    open: caps.per_host,
                    idle: caps.idle_per_host,
                },
                own: HashMap::default(),
            },
        }
    }

    /// Whether `idle_order` holds exactly the idle connections of the hosts.
    #[cfg(test)]
    pub fn idle_order_consistent(&self) -> bool {
        let idle: usize = self.hosts.values().map(|h| h.idle_len()).sum();
        idle == self.idle_order.len()
            && self.hosts.iter().all(|(k, h)| {
                h.idle_entries()
                    .into_iter()
                    .all(|at| self.idle_order.get(at) == Some(k))
            })
    }

    /// Hosts the pool holds state for.
    #[cfg(test)]
    pub fn hosts_held(&self) -> usize {
        self.hosts.len()
    }

    /// Connections open or being opened, all hosts together.
    #[cfg(test)]
    pub fn total_open(&self) -> usize {
        self.total_open
    }

    /// Takes an idle connection (probing it), reserves a slot, or queues the caller.
    /// `need.fresh` skips idle connections: the caller must not reuse one (a retry). An
    /// idle connection kept for retryable requests only is closed unless `need.retryable`
    /// (a request that a close race would retry). `own` tells
    /// the caller's connections (those of its runtime) from the others, which are left idle
    /// for their own runtime, or closed when their slot is needed.
    #[inline]
    pub fn checkout(
        &mut self,
        key: &PoolKey,
        now: Instant,
        need: Need,
        mut own: impl FnMut(&C) -> bool,
        mut probe: impl FnMut(&mut C) -> Liveness,
        out: &mut Vec<Dropped<C>>,
    ) -> Checkout<C> {
        if !self.limits.own.is_empty() {
            self.shed_over_cap(key, now, out);
        }
        // Looked up before a key is cloned: a host the pool knows (most checkouts) costs
        // no reference count taken and given back.
        let host = match self.hosts.get_mut(key) {
            Some(host) => host,
            None => new_host(&mut self.hosts, &mut self.remembered, key, now),
        };
        // The gate is closed (a pause, or the spacing of starts), or a waiter told to come
        // back when it opens is owed the next turn: no connection is taken before it.
        let gated = self.gating && host.gated(now, need.front);
        let fresh = need.fresh;
        if !fresh && !gated {
            while let Some(mut idle) = host.take_freshest(&mut own) {
                self.idle_order.remove(idle.lru);
                let cause = if idle.terms.expired(now) {
                    DropCause::Expired(idle.terms.expiry)
                } else if idle.terms.retryable_only && !need.retryable {
                    DropCause::LearnedMax
                } else {
                    match probe(&mut idle.conn) {
                        Liveness::Alive => {
                            self.started(key, now, out);
                            return Checkout::Idle(idle.conn, idle.since);
                        }
                        dead => DropCause::Probe(dead),
                    }
                };
                let idle_for = now.saturating_duration_since(idle.since);
                host.remove_open();
                debug_assert!(self.total_open > 0, "total open count underflow");
                self.total_open = self.total_open.saturating_sub(1);
                out.push(Dropped {
                    key: key.clone(),
                    conn: idle.conn,
                    cause,
                    idle_for,
                });
            }
        }
        // A request told to come back goes before the line; the others join its back.
        let no_line = !gated && (need.front || host.waiters_len() == 0);
        if no_line && host.open() < self.limits.of(key).open && self.take_global_slot(key, now, out)
        {
            self.reserve(key);
            self.started(key, now, out);
            return Checkout::Connect;
        }
        if no_line {
            // At the host cap, or at the global cap with nothing idle elsewhere: a retry
            // (which must not reuse an idle connection) trades its host's oldest idle one
            // for a new connection, and any request trades an idle connection of another
            // runtime, which it cannot use.
            let traded = self.host_mut(key).and_then(|h| {
                if fresh {
                    h.pop_oldest_idle()
                } else {
                    h.take_oldest_foreign(&mut own)
                }
            });
            if let Some(idle) = traded {
                self.idle_order.remove(idle.lru);
                let cause = if fresh {
                    DropCause::Evicted
                } else {
                    DropCause::OtherRuntime
                };
                self.drop_idle_slot(key, idle.conn, idle.since, now, cause, out);
                self.reserve(key);
                self.started(key, now, out);
                return Checkout::Connect;
            }
        }
        if no_line
            && self.total_open >= self.caps.total
            && self
                .hosts
                .get(key)
                .is_some_and(|h| h.open() < self.limits.of(key).open)
        {
            // At the global cap with no idle HTTP/1.1 connection to close: an HTTP/2
            // connection of another host that carries no stream is let go of; its slot
            // comes free when it has closed, and goes to the line.
            self.evict_idle_shared(key);
        }
        let (tx, rx) = oneshot::channel();
        let id = self.next_waiter;
        self.next_waiter += 1;
        if let Some(host) = self.host_mut(key) {
            if need.front {
                host.push_front_waiter(Waiter { id, tx });
            } else {
                host.push_waiter(Waiter { id, tx });
            }
        }
        self.waiting += 1;
        self.turns.join(key);
        if gated {
            self.pass_baton(key, now);
        }
        Checkout::Wait(id, rx)
    }

    /// A connection finished a response and may be reused: the oldest waiter of its host
    /// gets it; else, if another host waits at the global cap, it is closed to free the
    /// slot; else it joins the idle stack (closing the oldest idle one past the idle cap).
    pub fn put_idle(
        &mut self,
        key: &PoolKey,
        conn: C,
        now: Instant,
        terms: IdleTerms,
        out: &mut Vec<Dropped<C>>,
    ) {
        let learning: Option<Learning<fn() -> Observations>> = None;
        if let Err(not) = self.idle_at_once(key, conn, now, learning, terms) {
            self.not_idle(key, not, now, out);
        }
    }

    /// The usual release, with one lookup of the host: nobody waits and the host has room
    /// on its idle stack, so the connection goes there (its host learning from what `seen`
    /// gives first, and its terms ended earlier by what was learned). Otherwise the
    /// connection and its terms (learned from) come back for `put_idle_contended`, or the
    /// connection alone when it has given the `responses` the host's server is learned to
    /// give one. `seen` is called only for a host that has learned something: most have
    /// not, and their releases work out no durations.
    #[inline]
    fn idle_at_once(
        &mut self,
        key: &PoolKey,
        conn: C,
        now: Instant,
        learning: Option<Learning<impl FnOnce() -> Observations>>,
        terms: IdleTerms,
    ) -> Result<(), NotIdle<C>> {
        let Some(host) = self.hosts.get_mut(key) else {
            debug_assert!(false, "released a connection of an unknown host");
            return Ok(());
        };
        let terms = match (learning, host.learned.as_deref_mut()) {
            (Some(Learning { responses, seen }), Some(learned)) => {
                for seen in seen().into_iter().flatten() {
                    learned.observe(seen, now);
                }
                let retryable_only = match learned.response_limit(now) {
                    Some(ResponseLimit::Known(most)) if responses >= most => {
                        return Err(NotIdle::Spent(conn));
                    }
                    Some(ResponseLimit::Aged(most)) => responses >= most,
                    _ => false,
                };
                IdleTerms {
                    retryable_only,
                    ..learned_terms(Some(learned), now, terms)
                }
            }
            _ => terms,
        };
        if self.waiting > 0
            || host.idle_len() >= self.limits.of(key).idle
            || self.limits.over(key, host)
        {
            return Err(NotIdle::Contended(conn, terms));
        }
        let lru = self.idle_order.push_back(key.clone());
        host.push_idle(conn, now, lru, terms);
        Ok(())
    }

    /// A released connection that `idle_at_once` did not put on the idle stack.
    fn not_idle(
        &mut self,
        key: &PoolKey,
        not: NotIdle<C>,
        now: Instant,
        out: &mut Vec<Dropped<C>>,
    ) {
        match not {
            NotIdle::Contended(conn, terms) => self.put_idle_contended(key, conn, now, terms, out),
            NotIdle::Spent(conn) => {
                self.drop_idle_slot(key, conn, now, now, DropCause::LearnedMax, out);
                self.grant_slots(now, out);
                self.forget_if_unused(key, now);
            }
        }
    }

    /// `put_idle` when hosts wait or the idle stack is full.
    fn put_idle_contended(
        &mut self,
        key: &PoolKey,
        conn: C,
        now: Instant,
        terms: IdleTerms,
        out: &mut Vec<Dropped<C>>,
    ) {
        let mut conn = conn;
        if self
            .hosts
            .get(key)
            .is_some_and(|h| self.limits.over(key, h))
        {
            // Its origin's cap was lowered below what it has open.
            self.drop_idle_slot(key, conn, now, now, DropCause::OverIdleLimit, out);
            self.grant_slots(now, out);
            self.forget_if_unused(key, now);
            return;
        }
        if self.waiting > 0 && self.total_open >= self.caps.total {
            // Hosts compete for slots. A host within its share of the global cap keeps the
            // connection for its own next waiter (and goes to the back of the round, if it
            // has one); one above it gives the slot to the next host in the round that can
            // use one. Either way the taker's turn is used up.
            if !self.above_share(key) {
                self.turns.send_to_back(key);
            } else if let Some(other) = self.next_turn_but(key, now) {
                self.drop_idle_slot(key, conn, now, now, DropCause::Evicted, out);
                self.grant_slot_to(&other, now);
                self.grant_slots(now, out);
                self.forget_if_unused(key, now);
                return;
            }
        }
        let gated = self.gating && self.hosts.get(key).and_then(|h| h.gate(now)).is_some();
        if gated {
            self.pass_baton(key, now);
        }
        if self.waiting > 0 && !gated {
            while let Some(waiter) = self.pop_waiter(key) {
                match waiter.tx.send(Grant::Conn(conn, terms)) {
                    Ok(()) => {
                        self.started(key, now, out);
                        return;
                    }
                    Err(Grant::Conn(back, _)) => conn = back,
                    Err(Grant::Slot | Grant::Stream(_) | Grant::Retry(_)) => {
                        debug_assert!(false, "a connection grant came back as another");
                        return;
                    }
                }
            }
        }
        if self.waiting > 0 && self.total_open >= self.caps.total && self.has_ready_turn(now) {
            self.drop_idle_slot(key, conn, now, now, DropCause::Evicted, out);
            self.grant_slots(now, out);
            self.forget_if_unused(key, now);
            return;
        }
        let Some(host) = self.hosts.get_mut(key) else {
            debug_assert!(false, "released a connection of an unknown host");
            return;
        };
        let lru = self.idle_order.push_back(key.clone());
        host.push_idle(conn, now, lru, terms);
        let over = if host.idle_len() > self.limits.of(key).idle {
            host.pop_oldest_idle()
        } else {
            None
        };
        if let Some(old) = over {
            self.idle_order.remove(old.lru);
            self.drop_idle_slot(key, old.conn, old.since, now, DropCause::OverIdleLimit, out);
            self.grant_slots(now, out);
        }
    }

    /// A connection of `key` is gone (closed, failed to connect, or its slot was never
    /// used): free its slot and give it to the oldest waiter that can use it.
    pub fn release_slot(&mut self, key: &PoolKey, now: Instant, out: &mut Vec<Dropped<C>>) {
        match self.hosts.get_mut(key) {
            Some(host) => host.remove_open(),
            None => debug_assert!(false, "released a slot of an unknown host"),
        }
        self.remove_total();
        self.grant_slots(now, out);
        self.forget_if_unused(key, now);
    }

    /// A waiter gave up (dropped or timed out). False when it had already been served.
    pub fn cancel_waiter(&mut self, key: &PoolKey, id: u64) -> bool {
        let Some(host) = self.hosts.get_mut(key) else {
            return false;
        };
        let removed = host.remove_waiter(id);
        if removed {
            self.waiting -= 1;
            if host.waiters_len() == 0 {
                self.turns.leave(key);
            }
        }
        removed
    }

    /// Idle connections, of all hosts.
    pub fn idle_count(&self) -> usize {
        self.idle_order.len()
    }

    /// In `part`: closes expired idle connections and those the probe finds dead, and
    /// forgets their hosts if nothing is left; the last part of a round also forgets
    /// every other host with nothing left (a pause that ran out, a learned timeout grown
    /// stale). Then hands freed slots to waiters.
    pub fn sweep(
        &mut self,
        now: Instant,
        part: Part,
        mut probe: impl FnMut(&mut C) -> Liveness,
        out: &mut Vec<Dropped<C>>,
    ) {
        for at in part.range(self.idle_order.places()) {
            // The verdict first, under borrows of the entry and its host; then the removal.
            let cause = {
                let Some(key) = self.idle_order.get(at) else {
                    continue;
                };
                let Some(idle) = self.hosts.get_mut(key).and_then(|h| h.idle_mut(at)) else {
                    debug_assert!(false, "an idle entry without its connection");
                    continue;
                };
                if idle.terms.expired(now) {
                    DropCause::Expired(idle.terms.expiry)
                } else {
                    match probe(&mut idle.conn) {
                        Liveness::Alive => continue,
                        dead => DropCause::Probe(dead),
                    }
                }
            };
            let Some(key) = self.idle_order.remove(at) else {
                continue;
            };
            let Some(host) = self.hosts.get_mut(&key) else {
                continue;
            };
            let Some(idle) = host.take_idle(at) else {
                continue;
            };
            host.remove_open();
            self.remove_total();
            out.push(Dropped {
                key,
                conn: idle.conn,
                cause,
                idle_for: now.saturating_duration_since(idle.since),
            });
        }
        // The hosts of this tick's closes are at hand; the others are looked at once a
        // round, not once a tick: at thousands of hosts, a look at each is a cache miss.
        for dropped in out.iter() {
            self.forget_if_unused(&dropped.key, now);
        }
        if part.is_last() {
            let (remembered, shared_hosts) = (&mut self.remembered, &mut self.shared_hosts);
            self.hosts.retain(|key, host| {
                if !host.is_unused(now) {
                    return true;
                }
                shared_hosts.remove(key);
                if let Some(learned) = host.learned.take() {
                    remembered.keep(key.clone(), learned, now);
                }
                false
            });
            self.remembered.purge_stale(now);
        }
        self.grant_slots(now, out);
    }

    /// When `key`'s gate opens, if it is closed at `now` (`Host::gate`).
    pub fn gate(&self, key: &PoolKey, now: Instant) -> Option<Instant> {
        self.hosts.get(key).and_then(|h| h.gate(now))
    }

    /// Sets (or with `None` clears) the least delay between starts to `origin` (given
    /// without a proxy), in place of the caps' own; it holds from the next start.
    pub fn set_delay(&mut self, origin: PoolKey, delay: Option<Duration>) {
        match delay {
            Some(delay) => {
                self.gating = true;
                self.spacer.delays.insert(origin, delay);
            }
            None => {
                self.spacer.delays.remove(&origin);
            }
        }
    }

    /// Sets (or with `None` clears) the connection caps of `origin` (given without a
    /// proxy), in place of the caps' own. A higher cap serves the lines it frees at once;
    /// a lower one closes the idle connections past it at once (those of the hosts in
    /// `trim`: the origin direct, and through the proxy it takes), and those in use as
    /// they come free, and none is opened until the host is below it.
    pub fn set_cap(
        &mut self,
        origin: PoolKey,
        cap: Option<HostCap>,
        trim: &[PoolKey],
        now: Instant,
        out: &mut Vec<Dropped<C>>,
    ) -> usize {
        debug_assert!(trim.iter().all(|key| same_origin(key, &origin)));
        match cap {
            Some(cap) => {
                self.limits.own.insert(origin, cap);
            }
            None => {
                self.limits.own.remove(&origin);
            }
        }
        // A lowered cap closes the idle connections past it now, rather than at the
        // host's next checkout or release, and lets go of the HTTP/2 connections past it.
        let mut let_go = 0;
        for key in trim {
            self.shed_over_cap(key, now, out);
            let_go += self.let_go_shared_over_cap(key);
            self.forget_if_unused(key, now);
        }
        self.grant_slots(now, out);
        let_go
    }

    /// Lets go of `key`'s HTTP/2 connections past its cap, lowered since they opened, so
    /// that no more than the cap's worth take new streams: those carrying the fewest
    /// streams first. One let go takes no new stream and closes when its last one ends
    /// (at once if it carries none), and its slot is freed then; HTTP/1.1 connections and
    /// HTTP/2 ones already closing count against the cap meanwhile. How many it let go.
    fn let_go_shared_over_cap(&mut self, key: &PoolKey) -> usize {
        let Some(host) = self.hosts.get_mut(key) else {
            return 0;
        };
        if !self.limits.over(key, host) {
            return 0;
        }
        let cap = self.limits.of(key).open;
        let open = host.open();
        let Some(shared) = host.shared.as_mut() else {
            return 0;
        };
        let mut live: Vec<Arc<H2Conn>> = (shared.conns.iter())
            .filter(|c| !c.closing())
            .cloned()
            .collect();
        let keep = cap.saturating_sub(open.saturating_sub(live.len()));
        if live.len() <= keep {
            return 0;
        }
        live.sort_by_key(|c| c.streams());
        let surplus = live.len() - keep;
        for conn in &live[..surplus] {
            conn.close();
            self.remove_shared(key, conn.id());
        }
        surplus
    }

    /// Closes `key`'s idle connections, oldest first, while it has more open than its
    /// origin's cap (lowered since they opened), of whichever runtime: none of them may
    /// carry a request before the host is back under its cap.
    #[inline(never)]
    fn shed_over_cap(&mut self, key: &PoolKey, now: Instant, out: &mut Vec<Dropped<C>>) {
        while let Some(host) = self.hosts.get_mut(key) {
            if !self.limits.over(key, host) {
                return;
            }
            let Some(idle) = host.pop_oldest_idle() else {
                return;
            };
            self.idle_order.remove(idle.lru);
            let cause = DropCause::OverIdleLimit;
            self.drop_idle_slot(key, idle.conn, idle.since, now, cause, out);
        }
    }

    /// No request to `key` starts before `until` (a `Retry-After`).
    pub fn pause(&mut self, key: &PoolKey, until: Instant, now: Instant) {
        self.gating = true;
        match self.hosts.get_mut(key) {
            Some(host) => host,
            None => new_host(&mut self.hosts, &mut self.remembered, key, now),
        }
        .pause_until(until);
        // Requests already in line wait too (one is told when to come back).
        self.pass_baton(key, now);
    }

    /// A request of `key` that was given a slot has its connection now, and is sent: the
    /// spacing counts from here, so that a dial's time does not come out of it.
    pub fn sent_after_dial(&mut self, key: &PoolKey, now: Instant) {
        if let (Some(host), Some(spacing)) = (self.hosts.get_mut(key), self.spacer.draw(key)) {
            host.started(now, Some(spacing));
        }
    }

    /// A waiter told to come back (`Grant::Retry`) gave up before it did: another in line
    /// is told, or served if the gate has opened meanwhile.
    pub fn baton_dropped(&mut self, key: &PoolKey, now: Instant, out: &mut Vec<Dropped<C>>) {
        if let Some(host) = self.hosts.get_mut(key) {
            host.baton = false;
            self.serve_line(key, now, out);
            self.forget_if_unused(key, now);
        }
    }

    /// Takes in what a connection of `key` showed, for the host's learned idle timeout. A
    /// close or a close race starts an estimate; answers and round trips only refine one.
    /// The host's entry is made if it is gone: the sweep may just have forgotten it with
    /// its last connection.
    pub fn learn(&mut self, key: &PoolKey, seen: Seen, now: Instant) {
        let starts = matches!(seen, Seen::Closed(_) | Seen::Raced(_) | Seen::Ended { .. });
        let host = match self.hosts.get_mut(key) {
            Some(host) => host,
            None if starts => new_host(&mut self.hosts, &mut self.remembered, key, now),
            None => return,
        };
        match &mut host.learned {
            Some(learned) => learned.observe(seen, now),
            None if starts => {
                let mut learned = Box::new(Learned::new(now));
                learned.observe(seen, now);
                host.learned = Some(learned);
            }
            None => {}
        }
    }

    /// `terms` for a connection of `key` going idle at `now`, ended earlier when the idle
    /// timeout learned for the host says so.
    #[cfg(test)]
    pub fn learned_terms(&self, key: &PoolKey, now: Instant, terms: IdleTerms) -> IdleTerms {
        let learned = self.hosts.get(key).and_then(|h| h.learned.as_deref());
        learned_terms(learned, now, terms)
    }

    /// `put_idle` for a connection that has given `responses` responses and whose
    /// exchange showed `seen` (an answered reuse, a first round trip): learned first (by a
    /// host already learning), and its idle terms ended earlier when the host's learned
    /// idle timeout says so; closed instead when the host's server is learned to end its
    /// connections after that many responses. One lookup of the host for all of it when
    /// nobody waits, as this runs once per request.
    #[inline]
    pub fn put_idle_learning(
        &mut self,
        key: &PoolKey,
        conn: C,
        now: Instant,
        learning: Learning<impl FnOnce() -> Observations>,
        terms: IdleTerms,
        out: &mut Vec<Dropped<C>>,
    ) {
        if let Err(not) = self.idle_at_once(key, conn, now, Some(learning), terms) {
            self.not_idle(key, not, now, out);
        }
    }

    /// The server idle timeout learned for `key`, if one is known.
    pub fn learned_timeout(&self, key: &PoolKey, now: Instant) -> Option<Duration> {
        self.learned_of(key).and_then(|l| l.timeout(now))
    }

    /// The responses per connection learned for `key`'s server, if known.
    pub fn learned_max(&self, key: &PoolKey, now: Instant) -> Option<u32> {
        self.learned_of(key).and_then(|l| l.max_responses(now))
    }

    /// What is learned of `key`'s server: its host's, or what was kept when it was
    /// forgotten.
    fn learned_of(&self, key: &PoolKey) -> Option<&Learned> {
        match self.hosts.get(key) {
            Some(host) => host.learned.as_deref(),
            None => self.remembered.get(key),
        }
    }

    /// Forgets `key`'s entry, keeping what was learned of its server apart.
    fn forget(&mut self, key: &PoolKey, now: Instant) {
        self.shared_hosts.remove(key);
        if let Some(learned) = self.hosts.remove(key).and_then(|h| h.learned) {
            self.remembered.keep(key.clone(), learned, now);
        }
    }

    /// Per-host counts, for statistics.
    pub fn host_counts(&self, now: Instant) -> Vec<HostCounts> {
        let mut v: Vec<HostCounts> = self
            .hosts
            .iter()
            .map(|(key, h)| HostCounts {
                key: key.clone(),
                open: h.open(),
                idle: h.idle_len(),
                waiters: h.waiters_len(),
                learned_timeout: h.learned.as_ref().and_then(|l| l.timeout(now)),
                learned_max: h.learned.as_ref().and_then(|l| l.max_responses(now)),
                http2: h.shared.as_ref().map_or(0, |s| s.conns.len()),
                streams: h.shared.as_ref().map_or(0, |s| s.streams()),
            })
            .collect();
        // Forgotten hosts whose servers' estimates are still kept and tell something:
        // nothing open.
        let remembered = (self.remembered.iter())
            .filter(|(key, learned)| !learned.stale(now) && !self.hosts.contains_key(*key))
            .map(|(key, learned)| HostCounts {
                key: key.clone(),
                open: 0,
                idle: 0,
                waiters: 0,
                learned_timeout: learned.timeout(now),
                learned_max: learned.max_responses(now),
                http2: 0,
                streams: 0,
            })
            .filter(|h| h.learned_timeout.is_some() || h.learned_max.is_some());
        v.extend(remembered);
        v.sort_by(|a, b| a.key.cmp(&b.key));
        v
    }

    /// A stream on an HTTP/2 connection of `key` that `own` accepts (one of the caller's
    /// runtime), reserved, with the time since which the connection had carried no stream
    /// (`None`: it was carrying one). Connections that take no new stream are let go of
    /// here: each closes when its last stream ends.
    pub fn take_stream(
        &mut self,
        key: &PoolKey,
        now: Instant,
        front: bool,
        own: impl Fn(&H2Conn) -> bool,
    ) -> Option<(Arc<H2Conn>, Option<Instant>)> {
        let host = self.hosts.get_mut(key)?;
        if self.gating && host.gated(now, front) {
            return None;
        }
        let shared = host.shared.as_mut()?;
        let before = shared.conns.len();
        shared.conns.retain(|c| !c.closing());
        self.shared_conns = self
            .shared_conns
            .saturating_sub(before - shared.conns.len());
        let found = shared.conns.iter().find_map(|c| {
            if !own(c) {
                return None;
            }
            c.reserve_noting_idle().map(|idle| (c.clone(), idle))
        });
        tidy_shared(host);
        if found.is_some() && self.gating {
            host.started(now, self.spacer.draw(key));
            if host.waiters_len() > 0 {
                self.pass_baton(key, now);
            }
        }
        found
    }

    /// A request to `key` that may speak HTTP/2 found no stream: when a dial that may give
    /// an HTTP/2 connection is under way (and the host is not known to speak HTTP/1.1), it
    /// waits for that dial to end instead of dialing too.
    pub fn wait_for_dial(&mut self, key: &PoolKey) -> Option<oneshot::Receiver<()>> {
        let host = self.hosts.get_mut(key)?;
        if host.speaks_http1 {
            return None;
        }
        let shared = host.shared.as_mut().filter(|s| s.dialing > 0)?;
        let (tx, rx) = oneshot::channel();
        shared.waiting.push(tx);
        Some(rx)
    }

    /// A dial that may give HTTP/2 starts for `key` (false: the host speaks HTTP/1.1, and
    /// nothing is noted).
    pub fn dial_started(&mut self, key: &PoolKey) -> bool {
        let Some(host) = self.hosts.get_mut(key) else {
            return false;
        };
        if host.speaks_http1 {
            return false;
        }
        host.shared.get_or_insert_default().dialing += 1;
        true
    }

    /// A dial noted by `dial_started` ended. An HTTP/2 connection joins the host's and
    /// serves the host's waiters in line as far as it has room; the requests waiting for
    /// the dial are woken to look again.
    pub fn dial_ended(&mut self, key: &PoolKey, dialed: Dialed, now: Instant) {
        let Some(host) = self.hosts.get_mut(key) else {
            debug_assert!(false, "a dial ended for an unknown host");
            return;
        };
        let shared = host.shared.get_or_insert_default();
        shared.dialing = shared.dialing.saturating_sub(1);
        let woken = std::mem::take(&mut shared.waiting);
        match dialed {
            Dialed::Http1 => host.speaks_http1 = true,
            Dialed::Http2(conn) => self.add_shared(key, conn, now),
            Dialed::Failed => {}
        }
        for tx in woken {
            let _ = tx.send(());
        }
        if let Some(host) = self.hosts.get_mut(key) {
            tidy_shared(host);
        }
    }

    /// An HTTP/2 connection joins the host's and serves the host's waiters in line as far
    /// as it has room.
    pub fn add_shared(&mut self, key: &PoolKey, conn: Arc<H2Conn>, now: Instant) {
        let Some(host) = self.hosts.get_mut(key) else {
            debug_assert!(false, "an HTTP/2 connection for an unknown host");
            return;
        };
        host.shared.get_or_insert_default().conns.push(conn.clone());
        self.shared_conns += 1;
        if !self.shared_hosts.contains(key) {
            self.shared_hosts.insert(key.clone());
        }
        self.serve_with_streams(key, &conn, now);
    }

    /// The HTTP/2 connection `id` of `key` ended (or was let go of).
    pub fn remove_shared(&mut self, key: &PoolKey, id: u64) {
        if let Some(host) = self.hosts.get_mut(key) {
            if let Some(shared) = host.shared.as_mut() {
                let before = shared.conns.len();
                shared.conns.retain(|c| c.id() != id);
                self.shared_conns = self
                    .shared_conns
                    .saturating_sub(before - shared.conns.len());
            }
            tidy_shared(host);
        }
    }

    /// A stream of `conn` ended: the oldest waiter of `key` gets it, if the connection
    /// still takes streams within the server's limit; else it is given back.
    pub fn release_stream(&mut self, key: &PoolKey, conn: &Arc<H2Conn>, now: Instant) {
        let gated = self.gating && self.hosts.get(key).is_some_and(|h| h.gate(now).is_some());
        if gated {
            self.pass_baton(key, now);
        } else if self.gives_up_shared(key, conn, now) {
            // Hosts compete for slots and this one holds more than its share: the
            // connection takes no new stream, its streams in flight end on it, and the
            // slot it frees when it has closed goes to the round, as a released HTTP/1.1
            // connection's does. Its own waiters wait for their turn.
            conn.unreserve(now);
            conn.close();
            self.remove_shared(key, conn.id());
            self.shared_evictions += 1;
            return;
        } else if conn.may_pass_on() {
            while let Some(waiter) = self.pop_waiter(key) {
                if waiter.tx.send(Grant::Stream(conn.clone())).is_ok() {
                    if let (true, Some(host)) = (self.gating, self.hosts.get_mut(key)) {
                        host.started(now, self.spacer.draw(key));
                        if host.waiters_len() > 0 {
                            self.pass_baton(key, now);
                        }
                    }
                    return;
                }
            }
        }
        conn.unreserve(now);
        if conn.closing() {
            // No new stream on it: let go of it, so that it closes when its streams end.
            self.remove_shared(key, conn.id());
        } else if conn.streams() == 0
            && self.waiting > 0
            && self.total_open >= self.caps.total
            && self.has_ready_turn(now)
        {
            // Its last stream ended while another host waits at the global cap: let go of
            // it, as a released HTTP/1.1 connection is closed then, so that its slot (freed
            // when it has closed) goes to that host. Kept, it would hold the slot until its
            // idle timeout.
            conn.close();
            self.remove_shared(key, conn.id());
            self.shared_evictions += 1;
        }
    }

    /// Whether `key`, one of whose streams on `conn` just ended while it has waiters, must
    /// let go of `conn` for the round: the pool is at the global cap, another host could
    /// take a freed slot now, and `key` holds more than its share. Its share is counted in
    /// the HTTP/2 connections that still take streams, so each one let go counts at once,
    /// while it still holds its slot: a host lets go of only as many as it holds past its
    /// share, and keeps at least one.
    fn gives_up_shared(&self, key: &PoolKey, conn: &H2Conn, now: Instant) -> bool {
        if self.waiting == 0 || self.total_open < self.caps.total || conn.closing() {
            return false;
        }
        let Some(host) = self.hosts.get(key) else {
            return false;
        };
        let Some(shared) = host.shared.as_ref() else {
            return false;
        };
        let live = shared.conns.iter().filter(|c| !c.closing()).count();
        host.waiters_len() > 0 && live > self.share() && self.has_ready_turn_but(key, now)
    }

    /// Hands streams of `conn` to the waiters of `key` while it has room.
    fn serve_with_streams(&mut self, key: &PoolKey, conn: &Arc<H2Conn>, now: Instant) {
        while self.hosts.get(key).is_some_and(|h| h.waiters_len() > 0) {
            if self.gating && self.hosts.get(key).is_some_and(|h| h.gate(now).is_some()) {
                self.pass_baton(key, now);
                return;
            }
            if !conn.try_reserve() {
                return;
            }
            let mut served = false;
            while let Some(waiter) = self.pop_waiter(key) {
                if waiter.tx.send(Grant::Stream(conn.clone())).is_ok() {
                    served = true;
                    break;
                }
            }
            if !served {
                conn.unreserve(now);
                return;
            }
            if let (true, Some(host)) = (self.gating, self.hosts.get_mut(key)) {
                host.started(now, self.spacer.draw(key));
            }
        }
    }

    /// Lets go of an HTTP/2 connection of a host other than `except` that carries no
    /// stream: it takes no new stream and closes (h2 closes it once nothing holds it),
    /// and its task frees its slot. Looks only at the hosts given an HTTP/2 connection
    /// (`shared_hosts`), and not at all while the pool holds none: only a request about
    /// to wait at the global cap, with no idle HTTP/1.1 connection left to close, asks.
    /// Hosts whose connections have all gone leave `shared_hosts` on the way.
    fn evict_idle_shared(&mut self, except: &PoolKey) -> bool {
        if self.shared_conns == 0 {
            return false;
        }
        let hosts = &mut self.hosts;
        let mut let_go = false;
        self.shared_hosts.retain(|key| {
            let Some(host) = hosts.get_mut(key) else {
                return false;
            };
            let Some(shared) = host.shared.as_mut().filter(|s| !s.conns.is_empty()) else {
                return false;
            };
            if let_go || key == except {
                return true;
            }
            if let Some(at) = (shared.conns.iter()).position(|c| c.streams() == 0 && !c.closing()) {
                shared.conns.remove(at).close();
                let_go = true;
            }
            let left = !shared.conns.is_empty();
            tidy_shared(host);
            left
        });
        if let_go {
            self.shared_conns = self.shared_conns.saturating_sub(1);
            self.shared_evictions += 1;
        }
        let_go
    }

    /// HTTP/2 connections let go of at the global cap since the last call.
    pub fn take_shared_evictions(&mut self) -> usize {
        std::mem::take(&mut self.shared_evictions)
    }

    /// A request of `key` is sent at `now` (on a connection or slot it was just given):
    /// the host's gate closes for the spacing, and its line goes on.
    #[inline]
    fn started(&mut self, key: &PoolKey, now: Instant, out: &mut Vec<Dropped<C>>) {
        if self.gating {
            self.started_gating(key, now, out);
        }
    }

    /// `started` once some gate may close: out of line, so that the usual checkout does
    /// not carry its code.
    #[inline(never)]
    fn started_gating(&mut self, key: &PoolKey, now: Instant, out: &mut Vec<Dropped<C>>) {
        if let Some(host) = self.hosts.get_mut(key) {
            host.started(now, self.spacer.draw(key));
            if host.waiters_len() > 0 {
                self.serve_line(key, now, out);
            }
        }
    }

    /// Serves `key`'s line as far as its gate and caps allow: its idle connections, then
    /// free slots, go to its waiters in order. Where the gate is closed, the first waiter
    /// is told when to come back (`pass_baton`). Called where a gate may have opened or
    /// closed with waiters in line; a release serves one waiter itself.
    fn serve_line(&mut self, key: &PoolKey, now: Instant, out: &mut Vec<Dropped<C>>) {
        if !self.limits.own.is_empty() {
            self.shed_over_cap(key, now, out);
        }
        loop {
            let Some(host) = self.hosts.get_mut(key) else {
                return;
            };
            if host.waiters_len() == 0 {
                return;
            }
            if host.gate(now).is_some() {
                self.pass_baton(key, now);
                return;
            }
            if let Some(idle) = host.take_freshest(|_| true) {
                self.idle_order.remove(idle.lru);
                if idle.terms.expired(now) {
                    // It rested past its terms while the gate was closed.
                    let cause = DropCause::Expired(idle.terms.expiry);
                    self.drop_idle_slot(key, idle.conn, idle.since, now, cause, out);
                    continue;
                }
                let mut left = Some(idle.conn);
                while let Some(waiter) = self.pop_waiter(key) {
                    let Some(conn) = left.take() else {
                        break;
                    };
                    match waiter.tx.send(Grant::Conn(conn, idle.terms)) {
                        Ok(()) => break,
                        Err(Grant::Conn(back, _)) => left = Some(back),
                        Err(_) => {
                            debug_assert!(false, "a connection grant came back as another");
                            return;
                        }
                    }
                }
                if let Some(conn) = left {
                    // Everyone in line had gone: the connection goes back to rest.
                    let lru = self.idle_order.push_back(key.clone());
                    if let Some(host) = self.hosts.get_mut(key) {
                        host.push_idle(conn, idle.since, lru, idle.terms);
                    }
                    return;
                }
                if let Some(host) = self.hosts.get_mut(key) {
                    host.started(now, self.spacer.draw(key));
                }
                continue;
            }
            // As a checkout does: at the global cap, another host's least recently used
            // idle connection is closed for room (a line never waits beside idle
            // connections it could have).
            if host.open() < self.limits.of(key).open && self.take_global_slot(key, now, out) {
                let before = self.waiting;
                self.grant_slot_to(key, now);
                if self.waiting == before {
                    return;
                }
                continue;
            }
            return;
        }
    }

    /// Tells the first waiter of `key` when its closed gate opens (`Grant::Retry`),
    /// unless one was told already: it leaves the line, holding nothing, and comes back
    /// to its front then.
    fn pass_baton(&mut self, key: &PoolKey, now: Instant) {
        let Some(at) = self
            .hosts
            .get(key)
            .and_then(|h| if h.baton { None } else { h.gate(now) })
        else {
            return;
        };
        while let Some(waiter) = self.pop_waiter(key) {
            if waiter.tx.send(Grant::Retry(at)).is_ok() {
                if let Some(host) = self.hosts.get_mut(key) {
                    host.baton = true;
                }
                return;
            }
        }
    }

    /// The oldest waiter of `key`, out of the line.
    fn pop_waiter(&mut self, key: &PoolKey) -> Option<Waiter<C>> {
        let host = self.hosts.get_mut(key)?;
        let waiter = host.pop_waiter()?;
        self.waiting -= 1;
        if host.waiters_len() == 0 {
            self.turns.leave(key);
        }
        Some(waiter)
    }

    fn host_mut(&mut self, key: &PoolKey) -> Option<&mut Host<C>> {
        self.hosts.get_mut(key)
    }

    fn reserve(&mut self, key: &PoolKey) {
        if let Some(host) = self.hosts.get_mut(key) {
            host.add_open();
            self.total_open += 1;
        }
    }

    fn remove_total(&mut self) {
        debug_assert!(self.total_open > 0, "total open count underflow");
        self.total_open = self.total_open.saturating_sub(1);
    }

    /// True when the global cap has room, after evicting another host's least recently
    /// used idle connection if that is what it takes.
    fn take_global_slot(
        &mut self,
        for_key: &PoolKey,
        now: Instant,
        out: &mut Vec<Dropped<C>>,
    ) -> bool {
        if self.total_open < self.caps.total {
            return true;
        }
        self.evict_lru(Some(for_key), now, out)
    }

    /// Closes the least recently used idle connection of any host but `except`; false
    /// when there is none. A host left with nothing is forgotten.
    fn evict_lru(
        &mut self,
        except: Option<&PoolKey>,
        now: Instant,
        out: &mut Vec<Dropped<C>>,
    ) -> bool {
        let victim = self.idle_order.first_where(|k| Some(k) != except);
        let Some(at) = victim.map(|(at, _)| at) else {
            return false;
        };
        let Some(key) = self.idle_order.remove(at) else {
            return false;
        };
        match self.hosts.get_mut(&key).and_then(|h| h.take_idle(at)) {
            Some(idle) => {
                self.drop_idle_slot(&key, idle.conn, idle.since, now, DropCause::Evicted, out);
                self.forget_if_unused(&key, now);
            }
            None => debug_assert!(false, "an idle connection missing from its host"),
        }
        true
    }

    /// Forgets `key` if it has nothing left (`Host::is_unused`), so that a crawl over many
    /// hosts holds state only for those in use.
    fn forget_if_unused(&mut self, key: &PoolKey, now: Instant) {
        if self.hosts.get(key).is_some_and(|h| h.is_unused(now)) {
            self.forget(key, now);
        }
    }

    /// Lets go of a connection that held a slot of `key` and frees the slot (without
    /// granting it: the caller decides who gets it).
    fn drop_idle_slot(
        &mut self,
        key: &PoolKey,
        conn: C,
        since: Instant,
        now: Instant,
        cause: DropCause,
        out: &mut Vec<Dropped<C>>,
    ) {
        if let Some(host) = self.hosts.get_mut(key) {
            host.remove_open();
        }
        self.remove_total();
        out.push(Dropped {
            key: key.clone(),
            conn,
            cause,
            idle_for: now.saturating_duration_since(since),
        });
    }

    /// Whether `key` holds more than its share of the global cap: the cap divided among
    /// the hosts with waiters (at least one connection each).
    fn above_share(&self, key: &PoolKey) -> bool {
        let share = self.share();
        self.hosts.get(key).is_some_and(|h| h.open() > share)
    }

    /// A host's share of the global cap while hosts wait for slots: the cap divided
    /// among the hosts in the round, at least one connection.
    fn share(&self) -> usize {
        (self.caps.total / self.turns.len().max(1)).max(1)
    }

    /// The next host in the round that can take a freed slot, other than `key` (which
    /// keeps its place, or leaves the round if nobody waits there).
    fn next_turn_but(&mut self, key: &PoolKey, now: Instant) -> Option<PoolKey> {
        let gate_at = self.gating.then_some(now);
        let (hosts, limits) = (&self.hosts, &self.limits);
        self.turns.next(|k| match hosts.get(k) {
            Some(h) if k == key && h.waiters_len() == 0 => Turn::Gone,
            Some(_) if k == key => Turn::Blocked,
            Some(h) => turn_for_slot(h, limits.of(k).open, gate_at),
            None => Turn::Gone,
        })
    }

    /// Whether some host in the round could take a freed slot now.
    fn has_ready_turn(&self, now: Instant) -> bool {
        self.waiting > 0 && self.turns.members().any(|k| self.is_ready(k, now))
    }

    /// Whether some host in the round other than `key` could take a freed slot now.
    fn has_ready_turn_but(&self, key: &PoolKey, now: Instant) -> bool {
        self.waiting > 0
            && self
                .turns
                .members()
                .any(|k| k != key && self.is_ready(k, now))
    }

    /// Whether `key` could take a freed slot now.
    fn is_ready(&self, key: &PoolKey, now: Instant) -> bool {
        self.hosts.get(key).is_some_and(|h| {
            let cap = self.limits.of(key).open;
            turn_for_slot(h, cap, self.gating.then_some(now)) == Turn::Ready
        })
    }

    /// Gives a slot to the oldest waiter of `key` (counted against both caps); if that
    /// waiter is gone, the slot is given back.
    fn grant_slot_to(&mut self, key: &PoolKey, now: Instant) {
        let Some(waiter) = self.pop_waiter(key) else {
            return;
        };
        self.reserve(key);
        if waiter.tx.send(Grant::Slot).is_err() {
            // The waiter is gone; the caller hands the slot on.
            if let Some(host) = self.hosts.get_mut(key) {
                host.remove_open();
            }
            self.remove_total();
            return;
        }
        if !self.gating {
            return;
        }
        if let Some(host) = self.hosts.get_mut(key) {
            host.started(now, self.spacer.draw(key));
            if host.waiters_len() > 0 {
                self.pass_baton(key, now);
            }
        }
    }

    /// Gives free slots to the hosts in turn that can use them, evicting idle connections
    /// of other hosts at the global cap.
    fn grant_slots(&mut self, now: Instant, out: &mut Vec<Dropped<C>>) {
        while self.waiting > 0 {
            if self.total_open >= self.caps.total && self.idle_order.is_empty() {
                return;
            }
            let gate_at = self.gating.then_some(now);
            let (hosts, limits) = (&self.hosts, &self.limits);
            let Some(key) = self.turns.next(|k| match hosts.get(k) {
                Some(h) => turn_for_slot(h, limits.of(k).open, gate_at),
                None => Turn::Gone,
            }) else {
                return;
            };
            if self.total_open >= self.caps.total && !self.evict_lru(None, now, out) {
                return;
            }
            self.grant_slot_to(&key, now);
        }
    }
}

/// `terms` ended earlier when `learned` says the server closes sooner.
fn learned_terms(learned: Option<&Learned>, now: Instant, terms: IdleTerms) -> IdleTerms {
    let horizon = learned.and_then(|l| l.horizon(now));
    match horizon.and_then(|h| clock::after(now, h)) {
        Some(at) if terms.expires_at.is_none_or(|e| at < e) => IdleTerms {
            expires_at: Some(at),
            expiry: Expiry::Learned,
            ..terms
        },
        _ => terms,
    }
}

/// Drops a host's HTTP/2 record once it holds nothing, so the host can be forgotten.
fn tidy_shared<C>(host: &mut Host<C>) {
    if host.shared.as_ref().is_some_and(|s| s.is_empty()) {
        host.shared = None;
    }
}

/// What `host` can do with a freed slot.
fn turn_for_slot<C>(host: &Host<C>, per_host: usize, gate_at: Option<Instant>) -> Turn {
    if host.waiters_len() == 0 {
        Turn::Gone
    } else if host.open() >= per_host || gate_at.is_some_and(|now| host.gate(now).is_some()) {
        Turn::Blocked
    } else {
        Turn::Ready
    }
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
