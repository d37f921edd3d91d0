//! One host's share of the pool: its idle stack, how many connections it has open (idle,
//! in use, or being connected), and its FIFO of waiters.
//!
//! Pure bookkeeping: no sockets, no clock (times are passed in), no locking. The rules that
//! span hosts (the global cap, eviction, who gets a freed slot) live in `state.rs`.
//!
//! ```text
//!   checkout ──► idle stack (LIFO, freshest on top) ──► in use ──► released ──┐
//!       │                                                                    │
//!       └─ at cap ─► waiters (FIFO) ◄── a released connection or freed slot ─┘
//! ```

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use smallvec::SmallVec;
use tokio::sync::oneshot;

use super::learn::Learned;
use crate::clock;
use crate::conn::h2::H2Conn;
use crate::conn::IdleTerms;

/// A connection resting in the idle stack.
pub(crate) struct Idle<C> {
    pub conn: C,
    pub since: Instant,
    /// Its entry in the pool's order of idle connections (`lru.rs`).
    pub lru: usize,
    pub terms: IdleTerms,
}

/// What a waiter receives: a live connection, or a reserved slot to open one with.
pub(crate) enum Grant<C> {
    /// A connection released by another request, handed over without idling, with the
    /// terms it would have idled on (kept if it comes back unused).
    Conn(C, IdleTerms),
    /// A slot already counted against the caps: the waiter opens a connection in it.
    Slot,
    /// A stream reserved on an HTTP/2 connection.
    Stream(Arc<H2Conn>),
    /// Nothing yet: the host may send nothing before this instant (a pause, or the
    /// spacing of its requests). The waiter, taken out of the line, holds nothing while it
    /// waits; then it checks out again at the front of the line. One waiter of a host at
    /// a time is told so (`Host::baton`), so the line goes on as the gate opens.
    Retry(Instant),
}

/// A request waiting for a connection or a slot.
pub(crate) struct Waiter<C> {
    pub id: u64,
    pub tx: oneshot::Sender<Grant<C>>,
}

/// One host's idle connections, open count and waiters.
///
/// On cache lines of its own (`align(64)`), the idle stack first: a checkout reads the
/// key's line and the host's first line only (and the second, with the gate, once starts
/// are spaced or some host was paused), a release one line more (the open count and the
/// waiters). At thousands of hosts each is cold, and a host laid across line
/// boundaries cost a miss more, more often than not.
#[repr(C, align(64))]
pub(crate) struct Host<C> {
    /// Oldest first; checkout pops the freshest from the end. The first is kept in the
    /// host itself: most hosts of a crawl have one idle connection at most, and a buffer
    /// apart would be one more cold line per checkout and per release.
    idle: SmallVec<[Idle<C>; 1]>,
    /// Connections open or being opened, idle ones included: the number the cap bounds.
    /// (A `u32`, so that it, the two flags and the gate share the second line with the
    /// waiters.)
    open: u32,
    /// A waiter was told to come back when the host's gate opens (`Grant::Retry`) and has
    /// not yet: no other waiter is told.
    pub baton: bool,
    /// A dial offering HTTP/2 got HTTP/1.1: requests no longer wait for dials.
    pub speaks_http1: bool,
    /// No request may be sent before this: the host is paused (`Retry-After`) or its
    /// requests are spaced (`min_delay_per_host`).
    pub not_before: Option<Instant>,
    waiters: VecDeque<Waiter<C>>,
    /// Its server's idle timeout as learned so far (boxed: most hosts never need one).
    pub learned: Option<Box<Learned>>,
    /// Its HTTP/2 connections and dials (boxed: most hosts never have any).
    pub shared: Option<Box<Shared>>,
}

/// A host's HTTP/2 connections, and the requests waiting for a dial that may give one.
#[derive(Default)]
pub(crate) struct Shared {
    /// Open HTTP/2 connections (each holds one slot), oldest first.
    pub conns: Vec<Arc<H2Conn>>,
    /// Dials under way that may give HTTP/2.
    pub dialing: usize,
    /// Requests waiting for one of those dials to end, rather than dialing themselves.
    pub waiting: Vec<oneshot::Sender<()>>,
}

impl Shared {
    /// Nothing open, dialed or waited for.
    pub fn is_empty(&self) -> bool {
        self.conns.is_empty() && self.dialing == 0 && self.waiting.is_empty()
    }

    /// Streams in use on its connections.
    pub fn streams(&self) -> usize {
        self.conns.iter().map(|c| c.streams()).sum()
    }
}

impl<C> Default for Host<C> {
    fn default() -> Self {
        Host {
            idle: SmallVec::new(),
            open: 0,
            baton: false,
            speaks_http1: false,
            not_before: None,
            waiters: VecDeque::new(),
            learned: None,
            shared: None,
        }
    }
}

impl<C> Host<C> {
    /// Connections open or being opened.
    pub fn open(&self) -> usize {
        self.open as usize
    }

    /// Counts one more connection against this host.
    pub fn add_open(&mut self) {
        self.open = self.open.saturating_add(1);
    }

    /// Counts one connection less.
    pub fn remove_open(&mut self) {
        debug_assert!(self.open > 0, "host open count underflow");
        self.open = self.open.saturating_sub(1);
    }

    /// Idle connections.
    pub fn idle_len(&self) -> usize {
        self.idle.len()
    }

    /// The least recently used idle connection.
    pub fn pop_oldest_idle(&mut self) -> Option<Idle<C>> {
        if self.idle.is_empty() {
            None
        } else {
            Some(self.idle.remove(0))
        }
    }

    /// Takes the freshest idle connection that `own` accepts (one of the caller's runtime),
    /// leaving the others in place.
    pub fn take_freshest(&mut self, mut own: impl FnMut(&C) -> bool) -> Option<Idle<C>> {
        let pos = self.idle.iter().rposition(|i| own(&i.conn))?;
        Some(self.idle.remove(pos))
    }

    /// Takes the least recently used idle connection that `own` refuses (one of another
    /// runtime).
    pub fn take_oldest_foreign(&mut self, mut own: impl FnMut(&C) -> bool) -> Option<Idle<C>> {
        let pos = self.idle.iter().position(|i| !own(&i.conn))?;
        Some(self.idle.remove(pos))
    }

    /// The entries of its idle connections in the pool's order (`Idle::lru`).
    #[cfg(test)]
    pub fn idle_entries(&self) -> Vec<usize> {
        self.idle.iter().map(|i| i.lru).collect()
    }

    /// The idle connection whose entry in the pool's order is `lru`.
    pub fn idle_mut(&mut self, lru: usize) -> Option<&mut Idle<C>> {
        self.idle.iter_mut().find(|i| i.lru == lru)
    }

    /// Takes the idle connection whose entry in the pool's order is `lru`.
    pub fn take_idle(&mut self, lru: usize) -> Option<Idle<C>> {
        let pos = self.idle.iter().position(|i| i.lru == lru)?;
        Some(self.idle.remove(pos))
    }

    /// Puts a connection on top of the idle stack.
    pub fn push_idle(&mut self, conn: C, since: Instant, lru: usize, terms: IdleTerms) {
        self.idle.push(Idle {
            conn,
            since,
            lru,
            terms,
        });
    }

    /// Waiters in line.
    pub fn waiters_len(&self) -> usize {
        self.waiters.len()
    }

    /// Joins the back of the line.
    pub fn push_waiter(&mut self, waiter: Waiter<C>) {
        self.waiters.push_back(waiter);
    }

    /// Goes back to the front of the line (a waiter told to come back that must wait on).
    pub fn push_front_waiter(&mut self, waiter: Waiter<C>) {
        self.waiters.push_front(waiter);
    }

    /// Leaves the front of the line.
    pub fn pop_waiter(&mut self) -> Option<Waiter<C>> {
        self.waiters.pop_front()
    }

    /// Removes a waiter that gave up; false when it was already served.
    pub fn remove_waiter(&mut self, id: u64) -> bool {
        match self.waiters.iter().position(|w| w.id == id) {
            Some(pos) => {
                self.waiters.remove(pos);
                true
            }
            None => false,
        }
    }

    /// Nothing open, nobody waiting, and no pause or spacing still to keep: the host can
    /// be forgotten (what was learned of its server is kept apart, `learn::Remembered`).
    pub fn is_unused(&self, now: Instant) -> bool {
        self.open == 0
            && self.waiters.is_empty()
            && self.idle.is_empty()
            && self.not_before.is_none_or(|t| t <= now)
            && self.shared.is_none()
    }

    /// While the host may send nothing (paused, or its requests spaced), until when.
    pub fn gate(&self, now: Instant) -> Option<Instant> {
        self.not_before.filter(|&t| t > now)
    }

    /// Whether a request asking at `now` must wait: the gate is closed, or a waiter told
    /// to come back is owed the next turn (unless `front`: that waiter itself, whose
    /// return is noted).
    pub fn gated(&mut self, now: Instant, front: bool) -> bool {
        if front {
            self.baton = false;
        }
        self.gate(now).is_some() || self.baton
    }

    /// A request is sent at `now`: with `spacing`, the next may be sent no sooner than that
    /// much later (a later gate, such as a pause, stays).
    pub fn started(&mut self, now: Instant, spacing: Option<Duration>) {
        if let Some(spacing) = spacing {
            let next = clock::after(now, spacing).unwrap_or(now);
            self.not_before = Some(self.not_before.map_or(next, |t| t.max(next)));
        }
    }

    /// No request starts before `until`.
    pub fn pause_until(&mut self, until: Instant) {
        self.not_before = Some(self.not_before.map_or(until, |t| t.max(until)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_stack_is_lifo_and_oldest_is_first() {
        let now = Instant::now();
        let terms = IdleTerms {
            expires_at: Some(now + Duration::from_secs(90)),
            expiry: crate::conn::Expiry::IdleTimeout,
            retryable_only: false,
        };
        let mut host: Host<u32> = Host::default();
        host.push_idle(1, now, 1, terms);
        host.push_idle(2, now + Duration::from_secs(1), 2, terms);
        host.push_idle(3, now + Duration::from_secs(2), 3, terms);
        assert_eq!(host.take_freshest(|_| true).map(|i| i.conn), Some(3));
        assert_eq!(host.pop_oldest_idle().map(|i| i.conn), Some(1));
        host.push_idle(4, now + Duration::from_secs(3), 4, terms);
        assert_eq!(host.take_idle(2).map(|i| i.conn), Some(2));
        assert!(host.take_idle(2).is_none());
        assert_eq!(host.take_freshest(|_| true).map(|i| i.conn), Some(4));
        assert!(host.take_freshest(|_| true).is_none());
    }

    #[test]
    fn a_start_closes_the_gate_for_the_spacing_and_a_pause_never_shortens() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut host: Host<u32> = Host::default();
        // No spacing, no pause: the gate stays open.
        host.started(t0, None);
        assert_eq!(host.gate(t0), None);
        // Spaced by 2 s: a start closes the gate until 2 s later.
        host.started(t0, Some(s(2)));
        assert_eq!(host.gate(t0), Some(t0 + s(2)));
        assert_eq!(host.gate(t0 + s(1)), Some(t0 + s(2)));
        assert_eq!(
            host.gate(t0 + s(2)),
            None,
            "open again at the instant itself"
        );
        assert!(
            !host.is_unused(t0 + s(1)),
            "the spacing is kept until it has passed"
        );
        assert!(host.is_unused(t0 + s(2)));
        // A pause closes the gate, and never shortens a longer one.
        host.pause_until(t0 + s(30));
        host.pause_until(t0 + s(20));
        assert_eq!(host.gate(t0 + s(13)), Some(t0 + s(30)));
        assert_eq!(host.gate(t0 + s(31)), None);
        // A spacing too long for an Instant holds the gate at the start itself.
        let mut far: Host<u32> = Host::default();
        far.started(t0, Some(Duration::MAX));
        assert_eq!(far.gate(t0 + s(1)), None);
    }

    #[test]
    fn removing_a_served_waiter_reports_it_gone() {
        let mut host: Host<u32> = Host::default();
        let (tx, _rx) = oneshot::channel();
        host.push_waiter(Waiter { id: 7, tx });
        assert!(host.remove_waiter(7));
        assert!(!host.remove_waiter(7));
        assert!(host.is_unused(Instant::now()));
    }
}
