//! The connection pool: per-host caps and a global cap, FIFO waiting, idle stacks with
//! expiry, the liveness probe at checkout, the background sweep, and statistics.
//!
//! The bookkeeping is `state.rs` (pure, behind one mutex). This file adds what needs the
//! runtime: waiting for a grant with a deadline, drop guards so a cancelled waiter or a
//! dropped connection never leaks a slot, tracing, and closing sockets outside the lock.
//!
//! A request's connection moves through these types:
//!
//! ```text
//!   checkout ─► Lease::Reused(Pooled) ───────────────┐
//!          └──► Lease::Open(Slot) ─ dial ─► Pooled ───┴─► release() ─► idle / next waiter
//!                       │ (dial fails: Slot dropped)        (dropped: slot freed)
//!                       └─► slot freed ─► next waiter
//! ```
//! It owns no sockets of its own: connections are opened by the client and only held here.
//! Whether a connection may be reused is decided by the connection layer
//! (`conn::reuse`); `Pooled::release` carries the answer out.
//!
//! Connections belong to the runtime that opened them: a checkout takes only idle
//! connections of its own runtime, and a connection handed to a waiter of another runtime
//! (or one that a late byte made unusable) is closed and replaced in the same slot.

mod fair;
mod host;
mod learn;
mod lru;
mod reaper;
mod state;
mod stats;

use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use tokio::runtime::Handle;
use tokio::sync::oneshot;

use crate::clock::{self, now};
use crate::conn::h2::{H2Conn, H2Driver, LetGo};
use crate::conn::{Connection, Ended, Expiry, Liveness, NoReuse, Origin, Reuse, ReuseLimits};
use crate::error::Error;

use learn::Seen;

pub(crate) use host::Grant;
pub(crate) use state::{
    Caps, Checkout, Dialed, DropCause, Dropped, HostCap, Learning, Part, PoolState, Spacing,
};
pub(crate) use stats::{Count, Counters};
pub use stats::{HostStats, Stats};

/// The pool's key for a host: its origin (scheme, lower-cased host, port).
pub(crate) type PoolKey = Origin;

/// The pool's settings (the client builder fills them from its defaults).
#[derive(Debug, Clone)]
pub(crate) struct PoolConfig {
    pub caps: Caps,
    pub sweep_interval: Duration,
    /// Learn each host's idle timeout from what its connections show (`learn.rs`).
    pub learn: bool,
    /// The limits of the reuse decision at an exchange's end.
    pub reuse: ReuseLimits,
    /// How much of a dropped response's body is read, and for how long, to keep its
    /// connection.
    pub drain_limit: u64,
    pub drain_timeout: Duration,
}

/// A pool shared by a client and its clones.
#[derive(Clone)]
pub(crate) struct Pool {
    inner: Arc<PoolInner>,
}

pub(crate) struct PoolInner {
    state: Mutex<Locked>,
    config: PoolConfig,
    counters: Counters,
    /// Some host was ever paused, or given a delay of its own: from then on, starts are
    /// asked of the state.
    gated_any: std::sync::atomic::AtomicBool,
    /// Some origin was ever given a delay of its own: a request that dialed tells the
    /// state when it is sent.
    delays_any: std::sync::atomic::AtomicBool,
}

/// What the pool's one mutex guards.
struct Locked {
    state: PoolState<Box<Connection>>,
    sweeper: reaper::Sweeper<tokio::runtime::Id>,
    /// Requests sent on idle connections taken at checkout, counted there under this lock
    /// (each also a reuse) rather than with two atomic additions per request.
    sent_on_idle: u64,
}

impl std::ops::Deref for Locked {
    type Target = PoolState<Box<Connection>>;
    fn deref(&self) -> &Self::Target {
        &self.state
    }
}

impl std::ops::DerefMut for Locked {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.state
    }
}

/// What a checkout gives: a pooled connection, or a slot to open one in.
// `Reused` is the common case: boxing it to even out the sizes would cost an allocation on
// every request that reuses a connection.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Lease {
    /// A connection that served earlier requests.
    Reused(Pooled),
    /// A reserved slot: dial, then `Slot::fill` (or `Slot::fill_h2`).
    Open(Slot),
    /// A stream on a shared HTTP/2 connection.
    Stream(Stream),
}

/// What the request needs of a connection.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Need {
    /// A retry: only a new connection will do.
    pub fresh: bool,
    /// Told to come back when its host's gate opened (`Grant::Retry`): it goes before
    /// the line.
    pub front: bool,
    /// It waited for its host's turn already (counted in `Stats::polite_waits` once).
    pub waited: bool,
    /// Should the connection turn out closed before the response begins, the request is
    /// retried on a new one; so an idle connection whose watch has seen nothing arrive is
    /// taken as alive without asking the socket (`Connection::checkout_probe`).
    pub retryable: bool,
}

/// What a checkout that may use HTTP/2 asks of it.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Http2 {
    /// Not on this connection: it refused the request's stream just now.
    pub avoid: Option<u64>,
}

/// A wait a checkout must make before it can go on (`Pool::checkout_after`).
pub(crate) enum Wait {
    /// In the host's line, for a grant.
    Line(u64, oneshot::Receiver<Grant<Box<Connection>>>),
    /// For a dial under way that may give an HTTP/2 connection, then look again.
    Dial(oneshot::Receiver<()>),
}

/// How a wait in line ended.
enum Waited {
    Lease(Lease),
    /// Look again (a stream on another runtime's connection was given back).
    Again,
    /// Come back to the front of the line when the host's gate opens, at this instant.
    Retry(Instant),
}

impl Pool {
    /// An empty pool.
    pub fn new(config: PoolConfig) -> Pool {
        Pool {
            inner: Arc::new(PoolInner {
                state: Mutex::new(Locked {
                    state: PoolState::new(config.caps),
                    sweeper: reaper::Sweeper::new(config.sweep_interval),
                    sent_on_idle: 0,
                }),
                config,
                counters: Counters::default(),
                gated_any: std::sync::atomic::AtomicBool::new(false),
                delays_any: std::sync::atomic::AtomicBool::new(false),
            }),
        }
    }

    /// When `key`'s gate opens, if it is closed now: the host is paused by a
    /// `Retry-After`, or its last request was sent less than its spacing ago
    /// (`min_delay_per_host`, or its own). Nothing is taken: the gate is kept at checkout,
    /// where a request is given its connection. Without spacing, and before any host was
    /// paused or given a delay, this takes no lock.
    pub fn gate(&self, key: &PoolKey) -> Option<Instant> {
        if self.inner.config.caps.spacing.is_none() && !self.any_gated() {
            return None;
        }
        let now = now();
        self.inner.lock().gate(key, now)
    }

    /// Whether some host was ever paused or given a delay of its own (so starts must be
    /// asked for).
    pub fn any_gated(&self) -> bool {
        self.inner
            .gated_any
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Sets (or with `None` clears) the least delay between starts to `origin`, in place
    /// of `min_delay_per_host`.
    pub fn set_delay(&self, origin: PoolKey, delay: Option<Duration>) {
        use std::sync::atomic::Ordering;
        if delay.is_some() {
            self.inner.gated_any.store(true, Ordering::Relaxed);
            self.inner.delays_any.store(true, Ordering::Relaxed);
        }
        self.inner.lock().set_delay(origin, delay);
    }

    /// Sets (or with `None` clears) the connection caps of `origin`, in place of the
    /// client's per-host caps; the idle connections past a lowered cap close at once, of
    /// the origin direct and of `routed` (it through the proxy that routes it).
    pub fn set_cap(&self, origin: PoolKey, cap: Option<HostCap>, routed: Option<PoolKey>) {
        let mut out = Vec::new();
        let trim: Vec<PoolKey> = std::iter::once(origin.clone()).chain(routed).collect();
        let let_go = (self.inner.lock()).set_cap(origin, cap, &trim, now(), &mut out);
        for _ in 0..let_go {
            self.count(Count::ClosedOverIdleLimit);
        }
        self.inner.finish(out);
    }

    /// Holds every request to `key` back for `pause` (a `Retry-After` answer).
    pub fn pause(&self, key: &PoolKey, pause: Duration) {
        use std::sync::atomic::Ordering;
        let now = now();
        let Some(until) = crate::clock::after(now, pause) else {
            return;
        };
        self.inner.gated_any.store(true, Ordering::Relaxed);
        self.inner.lock().pause(key, until, now);
        self.count(Count::HostPaused);
        tracing::debug!(host = %key, pause_ms = pause.as_millis() as u64, "host paused");
    }

    /// Counts something the client did with the pool's connections (a redirect).
    pub fn count(&self, what: Count) {
        self.inner.counters.count(what);
    }

    /// A snapshot of gauges and counters.
    pub fn stats(&self) -> Stats {
        let locked = self.inner.lock();
        let sent_on_idle = locked.sent_on_idle;
        let gauges = locked
            .host_counts(now())
            .into_iter()
            .map(|h| HostStats {
                host: h.key.site().to_string(),
                proxy: h.key.proxy().map(|p| p.to_string()),
                open: h.open,
                idle: h.idle,
                in_use: h.open - h.idle,
                waiters: h.waiters,
                learned_idle_timeout: h.learned_timeout,
                learned_max_responses: h.learned_max,
                http2: h.http2,
                streams: h.streams,
            })
            .collect::<Vec<_>>();
        drop(locked);
        let mut stats = self.inner.counters.snapshot(gauges);
        stats.requests_sent += sent_on_idle;
        stats.reuses += sent_on_idle;
        stats
    }

    /// A live idle connection of `key` opened on `runtime` (unless `need.fresh`), a slot to open
    /// one, or a stream on one of the host's HTTP/2 connections, at once; otherwise the
    /// wait that must come first, for `checkout_after` (a wait in line, or for a dial under
    /// way). Also starts the background sweep on `runtime` when it does not run there. With
    /// `http2` (a dial to `key` may give HTTP/2), a stream on one of the host's HTTP/2
    /// connections (but the one it says to avoid) comes first, and while a dial that may
    /// give one is under way, the request waits for it rather than dial too.
    ///
    /// Not a future: the usual checkout (an idle connection) costs the caller no state of
    /// a wait it does not make.
    pub fn try_checkout(
        &self,
        key: &PoolKey,
        need: Need,
        runtime: &Handle,
        http2: Option<Http2>,
    ) -> Result<Lease, Wait> {
        self.checkout_step(key, need, runtime, http2, true)
    }

    /// Makes the wait `try_checkout` gave, then checks out as it does, waiting again as
    /// often as needed, until a lease comes or `deadline` passes.
    pub async fn checkout_after(
        &self,
        mut wait: Wait,
        key: &PoolKey,
        need: Need,
        deadline: Option<Instant>,
        runtime: &Handle,
        http2: Option<Http2>,
    ) -> Result<Lease, Error> {
        let mut waited = false;
        let mut need = need;
        loop {
            match wait {
                Wait::Line(waiter, rx) => {
                    match self
                        .wait(key, waiter, rx, need, deadline, runtime.id())
                        .await?
                    {
                        Waited::Lease(lease) => return Ok(lease),
                        Waited::Again => {}
                        Waited::Retry(at) => {
                            if !need.waited {
                                self.inner.counters.count(Count::PoliteWait);
                                need.waited = true;
                            }
                            self.wait_for_gate(key, at, deadline).await?;
                            need.front = true;
                        }
                    }
                }
                Wait::Dial(rx) => {
                    tracing::debug!(host = %key, "waiting for the connection being set up");
                    waited = true;
                    if clock::within(deadline, rx).await.is_none() {
                        return Err(Error::timeout("waiting for a pooled connection"));
                    }
                }
            }
            wait = match self.checkout_step(key, need, runtime, http2, !waited) {
                Ok(lease) => return Ok(lease),
                Err(next) => next,
            };
            need.front = false;
        }
    }

    /// A waiter told to come back when `key`'s gate opens at `at` waits for it, holding
    /// nothing; should it give up first (dropped, or `deadline` before `at`), the next in
    /// line is told instead.
    async fn wait_for_gate(
        &self,
        key: &PoolKey,
        at: Instant,
        deadline: Option<Instant>,
    ) -> Result<(), Error> {
        let mut baton = Baton {
            pool: self.inner.clone(),
            key: key.clone(),
            armed: true,
        };
        if deadline.is_some_and(|d| at >= d) {
            return Err(Error::msg(
                crate::ErrorKind::Timeout,
                format!("{} is paused or spaced past the deadline", key.site()),
            ));
        }
        tracing::debug!(host = %key, wait_ms = at.saturating_duration_since(now()).as_millis() as u64, "waiting for the host's turn to send");
        tokio::time::sleep_until(at.into()).await;
        baton.armed = false;
        Ok(())
    }

    fn checkout_step(
        &self,
        key: &PoolKey,
        need: Need,
        runtime: &Handle,
        http2: Option<Http2>,
        may_wait_for_dial: bool,
    ) -> Result<Lease, Wait> {
        let mut out = Vec::new();
        let now = now();
        let id = runtime.id();
        let (outcome, sweep, dial) = {
            let mut locked = self.inner.lock();
            if let Some(ask) = http2 {
                let own = |c: &H2Conn| c.runtime() == Some(id) && Some(c.id()) != ask.avoid;
                if let Some((conn, idle)) = locked.take_stream(key, now, need.front, own) {
                    drop(locked);
                    tracing::debug!(host = %key, conn = conn.id(), streams = conn.streams(), "stream on a shared connection");
                    let mut stream = self.stream(key, conn);
                    stream.idle_since = idle;
                    return Ok(Lease::Stream(stream));
                }
                if may_wait_for_dial {
                    if let Some(rx) = locked.wait_for_dial(key) {
                        return Err(Wait::Dial(rx));
                    }
                }
            }
            let outcome = locked.checkout(
                key,
                now,
                need,
                |c| c.runtime() == Some(id),
                |c: &mut Box<Connection>| c.checkout_probe(id, now, need.retryable),
                &mut out,
            );
            if let Checkout::Idle(..) = outcome {
                // The request is sent on it next (`Pooled::count_sent`).
                locked.sent_on_idle += 1;
            }
            let dial =
                http2.is_some() && matches!(outcome, Checkout::Connect) && locked.dial_started(key);
            for _ in 0..locked.take_shared_evictions() {
                self.inner.counters.count(Count::Evicted);
                tracing::debug!(host = %key, "closing another host's idle HTTP/2 connection for room at the global cap");
            }
            if !out.is_empty() {
                self.inner.learn_closes(&mut locked, &out, now);
            }
            (outcome, locked.sweeper.start_on(id, now), dial)
        };
        self.inner.finish(out);
        if let Some(generation) = sweep {
            runtime.spawn(reaper::sweep_loop(Arc::downgrade(&self.inner), generation));
        }
        match outcome {
            Checkout::Idle(conn, since) => {
                let idle = Idled { since, taken: now };
                tracing::debug!(host = %key, conn = conn.id(), reused = true, idle_ms = idle.length().as_millis() as u64, "reusing idle connection");
                let mut pooled = self.pooled(key, conn, Some(idle));
                pooled.counted = true;
                Ok(Lease::Reused(pooled))
            }
            Checkout::Connect => {
                let mut slot = self.slot(key);
                slot.dial = dial;
                Ok(Lease::Open(slot))
            }
            Checkout::Wait(waiter, rx) => Err(Wait::Line(waiter, rx)),
        }
    }

    async fn wait(
        &self,
        key: &PoolKey,
        id: u64,
        rx: oneshot::Receiver<Grant<Box<Connection>>>,
        need: Need,
        deadline: Option<Instant>,
        runtime: tokio::runtime::Id,
    ) -> Result<Waited, Error> {
        tracing::debug!(host = %key, waiter = id, "waiting for a connection");
        let mut guard = WaitGuard {
            pool: self.inner.clone(),
            key: key.clone(),
            id,
            rx,
            done: false,
        };
        let Some(got) = clock::within(deadline, &mut guard.rx).await else {
            return Err(Error::timeout("waiting for a pooled connection"));
        };
        guard.done = true;
        match got {
            Ok(Grant::Conn(mut conn, terms)) => {
                // Handed over straight from a response that just ended, without idling:
                // it must still suit this request.
                let unusable = if need.fresh {
                    // A retry must not reuse a connection.
                    Some((Count::Evicted, "a retry needs a new connection"))
                } else if terms.retryable_only && !need.retryable {
                    Some((
                        Count::ExpiredLearnedMax,
                        "gave the responses its server was learned to give a connection",
                    ))
                } else if conn.runtime() != Some(runtime) {
                    Some((Count::ClosedOtherRuntime, "opened on another runtime"))
                } else {
                    match conn.checkout_probe(runtime, now(), need.retryable) {
                        Liveness::Alive => None,
                        Liveness::Unsolicited => {
                            Some((Count::UnsolicitedResponse, "unsolicited response"))
                        }
                        Liveness::Closed => Some((Count::IdleClosedByServer, "closed by server")),
                    }
                };
                if let Some((what, cause)) = unusable {
                    // Closed here; a new connection is opened in its slot (the slot stays
                    // counted against the caps).
                    tracing::debug!(host = %key, conn = conn.id(), cause, "handed a released connection that cannot serve this request: closing it");
                    if what == Count::IdleClosedByServer && self.inner.config.learn {
                        // Ended by the server as its response did.
                        let ended = Seen::Ended {
                            responses: conn.responses(),
                            idle: Duration::ZERO,
                        };
                        self.inner.lock().learn(key, ended, now());
                    }
                    self.inner.counters.count(what);
                    drop(conn);
                    return Ok(Waited::Lease(Lease::Open(self.slot(key))));
                }
                tracing::debug!(host = %key, conn = conn.id(), reused = true, idle_ms = 0u64, "handed a released connection");
                Ok(Waited::Lease(Lease::Reused(self.pooled(key, conn, None))))
            }
            Ok(Grant::Slot) => Ok(Waited::Lease(Lease::Open(self.slot(key)))),
            Ok(Grant::Retry(at)) => Ok(Waited::Retry(at)),
            Ok(Grant::Stream(conn)) => {
                let stream = self.stream(key, conn);
                if stream.conn.runtime() != Some(runtime) {
                    // Given back (to the next in line); this request looks again.
                    drop(stream);
                    return Ok(Waited::Again);
                }
                tracing::debug!(host = %key, conn = stream.conn.id(), "handed a stream on a shared connection");
                Ok(Waited::Lease(Lease::Stream(stream)))
            }
            Err(_) => Err(Error::msg(crate::ErrorKind::Io, "the pool was dropped")),
        }
    }

    fn slot(&self, key: &PoolKey) -> Slot {
        Slot {
            pool: self.inner.clone(),
            key: key.clone(),
            armed: true,
            dial: false,
        }
    }

    fn stream(&self, key: &PoolKey, conn: Arc<H2Conn>) -> Stream {
        Stream {
            idle_since: None,
            reused: conn.served(),
            conn,
            pool: self.inner.clone(),
            key: key.clone(),
        }
    }

    fn pooled(&self, key: &PoolKey, conn: Box<Connection>, idle: Option<Idled>) -> Pooled {
        Pooled {
            conn,
            slot: self.slot(key),
            reused: true,
            counted: false,
            idle,
        }
    }
}

impl PoolInner {
    /// Whether the spacing of starts must be noted when a dialed request is sent.
    fn spaced(&self) -> bool {
        self.config.caps.spacing.is_some()
            || self.delays_any.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn lock(&self) -> MutexGuard<'_, Locked> {
        // A panic while holding the lock leaves consistent-enough counts; keep serving.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Closes what the state let go of, outside the lock, with a trace and a count each.
    /// Inline: the usual checkout and release let go of nothing, told without a call.
    #[inline]
    fn finish(&self, out: Vec<Dropped<Box<Connection>>>) {
        if out.capacity() == 0 {
            // The list never allocated. It owns nothing to free, so it is forgotten
            // rather than handed to its (out-of-line) drop.
            std::mem::forget(out);
            return;
        }
        self.close_dropped(out);
    }

    #[inline(never)]
    fn close_dropped(&self, out: Vec<Dropped<Box<Connection>>>) {
        for d in out {
            let conn = d.conn.id();
            let idle_ms = d.idle_for.as_millis() as u64;
            let (what, reason) = match d.cause {
                DropCause::Expired(Expiry::IdleTimeout) => {
                    (Count::ExpiredIdleTimeout, "idle timeout")
                }
                DropCause::Expired(Expiry::ServerTimeout) => {
                    (Count::ExpiredServerTimeout, "server keep-alive timeout")
                }
                DropCause::Expired(Expiry::Lifetime) => (Count::ExpiredLifetime, "lifetime"),
                DropCause::Expired(Expiry::Learned) => {
                    (Count::ExpiredLearnedTimeout, "learned idle timeout")
                }
                DropCause::Probe(Liveness::Unsolicited) => {
                    (Count::UnsolicitedResponse, "unsolicited response")
                }
                DropCause::Probe(_) => (Count::IdleClosedByServer, "closed by server"),
                DropCause::Evicted => (Count::Evicted, "evicted for another host"),
                DropCause::LearnedMax => (
                    Count::ExpiredLearnedMax,
                    "gave the responses its server was learned to give a connection",
                ),
                DropCause::OverIdleLimit => (Count::ClosedOverIdleLimit, "over idle limit"),
                DropCause::OtherRuntime => (Count::ClosedOtherRuntime, "opened on another runtime"),
            };
            self.counters.count(what);
            tracing::debug!(host = %d.key, conn, idle_ms, cause = reason, "closing idle connection");
        }
    }

    /// Learns from the idle connections the probe found closed (or speaking unasked):
    /// when the watch saw it happen, that idle time bounds the server's timeout.
    fn learn_closes(&self, locked: &mut Locked, out: &[Dropped<Box<Connection>>], now: Instant) {
        if !self.config.learn {
            return;
        }
        for d in out {
            if !matches!(d.cause, DropCause::Probe(_)) {
                continue;
            }
            let Some(at) = d.conn.idle_event() else {
                continue;
            };
            let since = now.checked_sub(d.idle_for).unwrap_or(now);
            let idle = at.saturating_duration_since(since);
            locked.learn(&d.key, Seen::Closed(idle), now);
            let responses = d.conn.responses();
            locked.learn(&d.key, Seen::Ended { responses, idle }, now);
            if let Some(rtt) = d.conn.rtt() {
                locked.learn(&d.key, Seen::RoundTrip(rtt), now);
            }
            tracing::debug!(host = %d.key, conn = d.conn.id(), idle_ms = idle.as_millis() as u64, learned_ms = locked.learned_timeout(&d.key, now).map(|t| t.as_millis() as u64), "the server closed an idle connection: learning its idle timeout");
        }
    }

    /// Sweeps expired and dead idle connections; the reaper of `generation` calls this.
    /// False when that sweep was replaced by one on another runtime.
    /// One tick of sweep `generation`, over the hosts of `part`: the part of the next
    /// tick, or `None` when this sweep was replaced and must end.
    fn sweep(&self, generation: u64, part: Part) -> Option<Part> {
        let mut out = Vec::new();
        let now = now();
        let next = {
            let mut locked = self.lock();
            if !locked.sweeper.tick(generation, now) {
                return None;
            }
            // A round is split by the idle connections there are when it starts.
            let part = match part.index {
                0 => Part::first(locked.idle_count()),
                _ => part,
            };
            let here = tokio::runtime::Handle::try_current().ok().map(|h| h.id());
            let probe = |c: &mut Box<Connection>| c.sweep_probe(here);
            locked.sweep(now, part, probe, &mut out);
            self.learn_closes(&mut locked, &out, now);
            part.next()
        };
        self.finish(out);
        Some(next)
    }
}

/// A reserved place under the caps. Dropped unfilled (a failed dial), or with its
/// connection, it frees the place and hands it to the next waiter.
pub(crate) struct Slot {
    pool: Arc<PoolInner>,
    key: PoolKey,
    armed: bool,
    /// Its dial may give HTTP/2: requests to the host wait for it (`PoolState::dial_ended`).
    dial: bool,
}

impl Slot {
    /// Puts a newly opened connection in the slot.
    pub fn fill(mut self, conn: Connection) -> Pooled {
        if std::mem::take(&mut self.dial) {
            self.pool.lock().dial_ended(&self.key, Dialed::Http1, now());
        }
        if self.pool.spaced() {
            self.pool.lock().sent_after_dial(&self.key, now());
        }
        self.pool.counters.count(Count::ConnectionOpened);
        tracing::debug!(host = %self.key, conn = conn.id(), reused = false, "opened connection");
        Pooled {
            conn: Box::new(conn),
            slot: self,
            reused: false,
            counted: false,
            idle: None,
        }
    }

    /// Puts a newly set up HTTP/2 connection in the slot: its task is spawned on the
    /// current runtime, and the dialer gets the first stream. Once the server's first
    /// SETTINGS are applied (its stream limit known), it joins the host's shared
    /// connections, serving the requests that waited for it; a connection that ends
    /// before that ends the dial as failed. The task holds the slot until the connection
    /// ends; `idle_timeout` without a stream in use lets it go.
    pub fn fill_h2(
        mut self,
        conn: H2Conn,
        driver: H2Driver,
        idle_timeout: Duration,
        runtime: &Handle,
    ) -> Stream {
        let pool = self.pool.clone();
        let key = self.key.clone();
        if pool.spaced() {
            pool.lock().sent_after_dial(&key, now());
        }
        pool.counters.count(Count::ConnectionOpened);
        pool.counters.count(Count::Http2Opened);
        tracing::debug!(host = %key, conn = conn.id(), reused = false, "opened HTTP/2 connection");
        let conn = Arc::new(conn);
        conn.reserve_first();
        let ready = SharedReady {
            pool: Arc::downgrade(&pool),
            key: key.clone(),
            conn: Arc::downgrade(&conn),
            dial: std::mem::take(&mut self.dial),
        };
        // The slot is freed when the task ends, through a weak reference: the task must
        // not keep the pool alive, nor the pool the connection (dropped with the pool, its
        // handles go and h2 closes it).
        self.armed = false;
        let held = SharedSlot {
            pool: Arc::downgrade(&pool),
            key: key.clone(),
            id: conn.id(),
        };
        let weak = Arc::downgrade(&pool);
        let (idle_key, id) = (key.clone(), conn.id());
        runtime.spawn(async move {
            let on_ready = move || drop(ready);
            crate::conn::h2::drive(driver, idle_timeout, on_ready, move |why| {
                if let Some(pool) = weak.upgrade() {
                    if why == LetGo::Idle {
                        pool.counters.count(Count::ExpiredIdleTimeout);
                        tracing::debug!(host = %idle_key, conn = id, "HTTP/2 connection idle too long: closing");
                    } else {
                        pool.counters.count(Count::Http2PingFailed);
                        tracing::debug!(host = %idle_key, conn = id, "HTTP/2 keep-alive PING unanswered: closed");
                    }
                    pool.lock().remove_shared(&idle_key, id);
                }
            })
            .await;
            drop(held);
        });
        Stream {
            idle_since: None,
            reused: false,
            conn,
            pool,
            key,
        }
    }

    /// The dial for this slot failed.
    pub fn connect_failed(self, err: &Error) {
        self.pool.counters.count(Count::ConnectFailed);
        tracing::debug!(host = %self.key, error = %err, "connect failed");
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let mut out = Vec::new();
        {
            let mut locked = self.pool.lock();
            if self.dial {
                locked.dial_ended(&self.key, Dialed::Failed, now());
            }
            locked.release_slot(&self.key, now(), &mut out);
        }
        self.pool.finish(out);
    }
}

/// A new HTTP/2 connection, to join its host's shared connections once the server's
/// stream limit is known. Dropped, it does: when the connection's task says so, or when
/// the task ends first (then, the connection having closed, the dial failed). It holds
/// the connection weakly: the connection must close when nothing else holds it.
struct SharedReady {
    pool: Weak<PoolInner>,
    key: PoolKey,
    conn: Weak<H2Conn>,
    /// Its dial was noted (`PoolState::dial_started`).
    dial: bool,
}

impl Drop for SharedReady {
    fn drop(&mut self) {
        let Some(pool) = self.pool.upgrade() else {
            return;
        };
        let conn = self.conn.upgrade().filter(|c| !c.closing());
        let mut locked = pool.lock();
        match (conn, self.dial) {
            (Some(conn), true) => locked.dial_ended(&self.key, Dialed::Http2(conn), now()),
            (None, true) => locked.dial_ended(&self.key, Dialed::Failed, now()),
            (Some(conn), false) => locked.add_shared(&self.key, conn, now()),
            (None, false) => {}
        }
    }
}

/// The slot an HTTP/2 connection holds while its task runs.
struct SharedSlot {
    pool: Weak<PoolInner>,
    key: PoolKey,
    id: u64,
}

impl Drop for SharedSlot {
    fn drop(&mut self) {
        let Some(pool) = self.pool.upgrade() else {
            return;
        };
        tracing::debug!(host = %self.key, conn = self.id, "HTTP/2 connection closed");
        let mut out = Vec::new();
        {
            let mut locked = pool.lock();
            locked.remove_shared(&self.key, self.id);
            locked.release_slot(&self.key, now(), &mut out);
        }
        pool.finish(out);
    }
}

/// A stream on a shared HTTP/2 connection. Dropped, it goes to the host's oldest waiter,
/// or back to the connection.
pub(crate) struct Stream {
    conn: Arc<H2Conn>,
    pool: Arc<PoolInner>,
    key: PoolKey,
    /// The connection carried a stream before this one.
    reused: bool,
    /// Since when the connection had carried no stream when this one was taken (`None`:
    /// it was carrying one, or the stream was handed over as another ended).
    idle_since: Option<Instant>,
}

impl Stream {
    /// The connection.
    pub fn conn(&self) -> &H2Conn {
        &self.conn
    }

    /// Whether the connection carried a stream before.
    pub fn reused(&self) -> bool {
        self.reused
    }

    /// How long, at `now`, the connection had carried no stream when this one was taken.
    pub fn idle_for(&self, now: Instant) -> Duration {
        self.idle_since
            .map_or(Duration::ZERO, |t| now.saturating_duration_since(t))
    }

    /// The pool key.
    pub fn key(&self) -> &PoolKey {
        &self.key
    }

    /// Counts an event on this stream's pool.
    pub fn count(&self, what: Count) {
        self.pool.counters.count(what);
    }

    /// The connection reached `max_lifetime` or `max_requests_per_connection`: it takes
    /// no new stream (this one included), and the pool lets go of it.
    pub fn retire(&self) {
        self.conn.close();
        self.count(Count::ExpiredLifetime);
        tracing::debug!(host = %self.key, conn = self.conn.id(), "HTTP/2 connection at its lifetime or request limit: no new stream");
        self.pool.lock().remove_shared(&self.key, self.conn.id());
    }

    /// The connection did not answer a PING: it takes no new stream, and the pool lets
    /// go of it.
    pub fn ping_failed(&self) {
        self.conn.close();
        self.count(Count::Http2PingFailed);
        tracing::debug!(host = %self.key, conn = self.conn.id(), "HTTP/2 connection did not answer a PING: closing");
        self.pool.lock().remove_shared(&self.key, self.conn.id());
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        let mut locked = self.pool.lock();
        locked.release_stream(&self.key, &self.conn, now());
        let evicted = locked.take_shared_evictions();
        drop(locked);
        for _ in 0..evicted {
            self.pool.counters.count(Count::Evicted);
            tracing::debug!(host = %self.key, "letting go of an HTTP/2 connection: another host waits for its slot");
        }
    }
}

/// A connection checked out of the pool. Dropped, it is closed and its slot freed;
/// `release` gives it back for reuse.
pub(crate) struct Pooled {
    /// Boxed, so that the pool's lists, the request future and the response body move a
    /// pointer, not the connection's few hundred bytes.
    conn: Box<Connection>,
    slot: Slot,
    reused: bool,
    /// The request about to be sent on it was counted at checkout (`count_sent`).
    counted: bool,
    /// When it went idle and when it was checked out (`None`: new, or handed over).
    idle: Option<Idled>,
}

/// An idle connection's rest: from when it went idle to when a request took it. Kept as
/// the two instants, and the duration worked out only where it is asked for (the learned
/// idle timeouts of a host that has one, a close race, tracing), not on every request.
#[derive(Clone, Copy)]
struct Idled {
    since: Instant,
    taken: Instant,
}

impl Idled {
    fn length(self) -> Duration {
        self.taken.saturating_duration_since(self.since)
    }
}

impl Pooled {
    /// The connection.
    pub fn conn(&mut self) -> &mut Connection {
        &mut self.conn
    }

    /// The exchange ended as `ended` says: the reuse decision, under the client's limits,
    /// carried out (one reading of the clock serves the decision, the idle stack and the
    /// idle watch).
    pub fn end_exchange(mut self, ended: Ended) {
        let now = now();
        let reuse = self
            .conn
            .finish_exchange(ended, now, &self.slot.pool.config.reuse);
        self.release(reuse, now);
    }

    /// The connection, out of the pool for good (after a `101`): its slot is freed, as if
    /// it had closed.
    pub fn into_upgraded(self) -> crate::conn::Upgraded {
        let Pooled { conn, slot, .. } = self;
        drop(slot);
        conn.into_upgraded()
    }

    /// How much of a dropped body is read to keep the connection: bytes and time.
    pub fn drain_limits(&self) -> (u64, Duration) {
        let config = &self.slot.pool.config;
        (config.drain_limit, config.drain_timeout)
    }

    /// The connection's id, for tracing.
    pub fn conn_id(&self) -> u64 {
        self.conn.id()
    }

    /// The server's address, as connected.
    pub fn peer_addr(&self) -> Option<std::net::SocketAddr> {
        self.conn.peer_addr()
    }

    /// What the connection's innermost TLS session tells of its server.
    pub fn tls_info(&self) -> Option<crate::tls::TlsInfo> {
        self.conn.tls_info()
    }

    /// The runtime the connection was opened on.
    pub fn runtime(&self) -> Option<tokio::runtime::Id> {
        self.conn.runtime()
    }

    /// Whether it served an earlier request.
    pub fn reused(&self) -> bool {
        self.reused
    }

    /// The pool key.
    pub fn key(&self) -> &PoolKey {
        &self.slot.key
    }

    /// The request on this reused connection found it closed (a close race): the host's
    /// learned idle timeout takes it in (for a connection taken idle), and so does what is
    /// learned of the responses its server gives a connection (for one handed over
    /// straight from a response too).
    pub fn close_race(&self) {
        let pool = &self.slot.pool;
        let responses = self.conn.responses();
        if !pool.config.learn || responses == 0 {
            return;
        }
        let idle = self.idle.map(Idled::length);
        let rtt = self.conn.rtt();
        let now = now();
        let key = &self.slot.key;
        let mut locked = pool.lock();
        if let Some(idle) = idle {
            locked.learn(key, Seen::Raced(idle), now);
            if let Some(rtt) = rtt {
                locked.learn(key, Seen::RoundTrip(rtt), now);
            }
        }
        let idle = idle.unwrap_or_default();
        let since_response = idle.saturating_add(rtt.unwrap_or_default());
        let ended = Seen::Ended {
            responses,
            idle: since_response,
        };
        locked.learn(key, ended, now);
        tracing::debug!(host = %key, conn = self.conn.id(), idle_ms = idle.as_millis() as u64, responses, learned_ms = locked.learned_timeout(key, now).map(|t| t.as_millis() as u64), learned_max = locked.learned_max(key, now), "close race: learning the server's idle timeout and responses per connection");
    }

    /// Counts an event on this connection's pool.
    pub fn count(&self, what: Count) {
        self.slot.pool.counters.count(what);
    }

    /// Counts the request about to be sent on it, and the reuse if it served before: at
    /// once, unless the checkout that took it idle counted both under the pool's lock.
    pub fn count_sent(&mut self) {
        if std::mem::take(&mut self.counted) {
            return;
        }
        self.count(Count::RequestSent);
        if self.reused {
            self.count(Count::Reused);
        }
    }

    /// Carries out the reuse decision made when its response ended: back to the next
    /// waiter or the idle stack on `Reuse::Idle`, closed (counted and traced) otherwise.
    /// `now` is when the exchange ended (the time the decision was made at).
    pub fn release(self, reuse: Reuse, now: Instant) {
        let Pooled {
            mut conn,
            mut slot,
            idle,
            ..
        } = self;
        let terms = match reuse {
            Reuse::Idle(terms) => terms,
            Reuse::Close(why) => {
                let counted = match why {
                    NoReuse::ServerMax => Some(Count::ExpiredServerMax),
                    NoReuse::RequestLimit | NoReuse::Lifetime => Some(Count::ExpiredLifetime),
                    NoReuse::ServerTimeout => Some(Count::ExpiredServerTimeout),
                    NoReuse::BytesAfterResponse | NoReuse::Exchange(_) => None,
                };
                if let Some(what) = counted {
                    slot.pool.counters.count(what);
                }
                let id = conn.id();
                let cause = why.label();
                match why {
                    NoReuse::ServerMax => {
                        tracing::debug!(host = %slot.key, conn = id, cause, "server keep-alive max reached: closing")
                    }
                    NoReuse::RequestLimit => {
                        tracing::debug!(host = %slot.key, conn = id, cause, "request limit reached: closing")
                    }
                    NoReuse::ServerTimeout | NoReuse::Lifetime => {
                        tracing::debug!(host = %slot.key, conn = id, cause, "too little idle time left to reuse: closing")
                    }
                    NoReuse::BytesAfterResponse => {
                        tracing::debug!(host = %slot.key, conn = id, cause, "bytes after the response: closing")
                    }
                    NoReuse::Exchange(reason) => {
                        tracing::debug!(host = %slot.key, conn = id, cause, reason = ?reason, "connection not reusable: closing")
                    }
                }
                return;
            }
        };
        slot.armed = false;
        // Borrowed from the slot, which is dropped last: a reference count more and less
        // on every release for nothing.
        let pool = &slot.pool;
        let learn = pool.config.learn;
        if learn {
            conn.watch_idle(now);
        }
        let mut out = Vec::new();
        {
            let mut locked = pool.lock();
            if learn {
                // The round trip is read for a first response only: it lies on a line of
                // the connection a request does not otherwise touch.
                let responses = conn.responses();
                let rtt = (responses == 1).then(|| conn.rtt()).flatten();
                let seen = || {
                    let answered = idle.map(|i| Seen::Answered(i.length()));
                    let served = (responses > 1).then_some(Seen::Served(responses));
                    [answered, served, rtt.map(Seen::RoundTrip)]
                };
                locked.put_idle_learning(
                    &slot.key,
                    conn,
                    now,
                    Learning { responses, seen },
                    terms,
                    &mut out,
                );
            } else {
                locked.put_idle(&slot.key, conn, now, terms, &mut out);
            }
        }
        pool.finish(out);
    }
}

/// A waiter told to come back when its host's gate opens (`Grant::Retry`), until it has:
/// dropped on the way, it has the next in line told instead.
struct Baton {
    pool: Arc<PoolInner>,
    key: PoolKey,
    armed: bool,
}

impl Drop for Baton {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let mut out = Vec::new();
        self.pool.lock().baton_dropped(&self.key, now(), &mut out);
        self.pool.finish(out);
    }
}

/// Leaves the line when a waiter gives up, and gives back a grant that arrived too late.
struct WaitGuard {
    pool: Arc<PoolInner>,
    key: PoolKey,
    id: u64,
    rx: oneshot::Receiver<Grant<Box<Connection>>>,
    done: bool,
}

impl Drop for WaitGuard {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        if self.pool.lock().cancel_waiter(&self.key, self.id) {
            tracing::debug!(host = %self.key, waiter = self.id, "waiter gave up");
            return;
        }
        // Served between giving up and now: return what was granted.
        self.rx.close();
        let mut back = Slot {
            pool: self.pool.clone(),
            key: self.key.clone(),
            armed: true,
            dial: false,
        };
        match self.rx.try_recv() {
            Ok(Grant::Conn(conn, terms)) => {
                // Back on the terms its last response gave; checkout probes it before reuse.
                back.armed = false;
                let mut out = Vec::new();
                self.pool
                    .lock()
                    .put_idle(&self.key, conn, now(), terms, &mut out);
                self.pool.finish(out);
            }
            // A granted slot is freed by dropping `back`.
            Ok(Grant::Slot) => drop(back),
            Ok(Grant::Retry(_)) => {
                back.armed = false;
                drop(Baton {
                    pool: self.pool.clone(),
                    key: self.key.clone(),
                    armed: true,
                });
            }
            Ok(Grant::Stream(conn)) => {
                back.armed = false;
                drop(Stream {
                    idle_since: None,
                    reused: false,
                    conn,
                    pool: self.pool.clone(),
                    key: self.key.clone(),
                });
            }
            Err(_) => back.armed = false,
        }
    }
}
