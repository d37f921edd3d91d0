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

mod host;
mod key;
mod reaper;
mod state;
mod stats;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::conn::Connection;
use crate::error::Error;

pub(crate) use host::{Expiry, Grant, IdleTerms};
pub use key::{PoolKey, Scheme};
pub(crate) use state::{Caps, Checkout, DropCause, Dropped, Liveness, PoolState};
pub(crate) use stats::{Count, Counters};
pub use stats::{HostStats, Stats};

/// The pool's settings (the client builder fills them from its defaults).
#[derive(Debug, Clone)]
pub(crate) struct PoolConfig {
    pub caps: Caps,
    pub idle_timeout: Duration,
    pub keep_alive_margin: Duration,
    pub max_requests_per_connection: Option<u32>,
    pub max_lifetime: Option<Duration>,
    pub sweep_interval: Duration,
}

/// The time, from tokio's clock so that tests with paused time see it move.
pub(crate) fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// A pool shared by a client and its clones.
#[derive(Clone)]
pub(crate) struct Pool {
    inner: Arc<PoolInner>,
}

pub(crate) struct PoolInner {
    state: Mutex<PoolState<Connection>>,
    config: PoolConfig,
    counters: Counters,
    sweeping: AtomicBool,
}

/// What a checkout gives: a pooled connection, or a slot to open one in.
pub(crate) enum Lease {
    /// A connection that served earlier requests.
    Reused(Pooled),
    /// A reserved slot: dial, then `Slot::fill`.
    Open(Slot),
}

impl Pool {
    /// An empty pool.
    pub fn new(config: PoolConfig) -> Pool {
        Pool {
            inner: Arc::new(PoolInner {
                state: Mutex::new(PoolState::new(config.caps)),
                config,
                counters: Counters::default(),
                sweeping: AtomicBool::new(false),
            }),
        }
    }

    /// A snapshot of gauges and counters.
    pub fn stats(&self) -> Stats {
        let gauges = self
            .inner
            .lock()
            .host_counts()
            .into_iter()
            .map(|h| HostStats {
                host: h.key.to_string(),
                open: h.open,
                idle: h.idle,
                in_use: h.open - h.idle,
                waiters: h.waiters,
            })
            .collect();
        self.inner.counters.snapshot(gauges)
    }

    /// A live idle connection of `key` (unless `fresh`), a slot to open one, or a wait in
    /// line until one of those is handed over or `deadline` passes.
    pub async fn checkout(
        &self,
        key: &PoolKey,
        fresh: bool,
        deadline: Option<Instant>,
    ) -> Result<Lease, Error> {
        self.start_sweep();
        let mut out = Vec::new();
        let now = now();
        let outcome = self
            .inner
            .lock()
            .checkout(key, now, fresh, Connection::probe, &mut out);
        self.inner.finish(out);
        match outcome {
            Checkout::Idle(conn, idle_for) => {
                tracing::debug!(host = %key, conn = conn.id(), reused = true, idle_ms = idle_for.as_millis() as u64, "reusing idle connection");
                Ok(Lease::Reused(self.pooled(key, conn)))
            }
            Checkout::Connect => Ok(Lease::Open(self.slot(key))),
            // Boxed: only a request that has to wait pays for the waiting state.
            Checkout::Wait(id, rx) => Box::pin(self.wait(key, id, rx, fresh, deadline)).await,
        }
    }

    async fn wait(
        &self,
        key: &PoolKey,
        id: u64,
        rx: oneshot::Receiver<Grant<Connection>>,
        fresh: bool,
        deadline: Option<Instant>,
    ) -> Result<Lease, Error> {
        tracing::debug!(host = %key, waiter = id, "waiting for a connection");
        let mut guard = WaitGuard {
            pool: self.inner.clone(),
            key: key.clone(),
            id,
            rx,
            done: false,
        };
        let got = match deadline {
            Some(d) => match tokio::time::timeout_at(d.into(), &mut guard.rx).await {
                Ok(got) => got,
                Err(_) => return Err(Error::timeout("waiting for a pooled connection")),
            },
            None => (&mut guard.rx).await,
        };
        guard.done = true;
        match got {
            Ok(Grant::Conn(conn)) if fresh => {
                // A retry must not reuse a connection: close the one handed over and open
                // a new one in its slot (the slot stays counted against the caps).
                tracing::debug!(host = %key, conn = conn.id(), "handed a released connection, but a retry needs a new one: closing it");
                self.inner.counters.count(Count::Evicted);
                drop(conn);
                Ok(Lease::Open(self.slot(key)))
            }
            Ok(Grant::Conn(conn)) => {
                tracing::debug!(host = %key, conn = conn.id(), reused = true, idle_ms = 0u64, "handed a released connection");
                Ok(Lease::Reused(self.pooled(key, conn)))
            }
            Ok(Grant::Slot) => Ok(Lease::Open(self.slot(key))),
            Err(_) => Err(Error::msg(crate::ErrorKind::Io, "the pool was dropped")),
        }
    }

    fn slot(&self, key: &PoolKey) -> Slot {
        Slot {
            pool: self.inner.clone(),
            key: key.clone(),
            armed: true,
        }
    }

    fn pooled(&self, key: &PoolKey, conn: Connection) -> Pooled {
        Pooled {
            conn,
            slot: self.slot(key),
            reused: true,
        }
    }

    fn start_sweep(&self) {
        if self.inner.sweeping.load(Ordering::Relaxed)
            || self.inner.sweeping.swap(true, Ordering::AcqRel)
        {
            return;
        }
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn(reaper::sweep_loop(Arc::downgrade(&self.inner)));
            }
            Err(_) => self.inner.sweeping.store(false, Ordering::Release),
        }
    }
}

impl PoolInner {
    fn lock(&self) -> MutexGuard<'_, PoolState<Connection>> {
        // A panic while holding the lock leaves consistent-enough counts; keep serving.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Closes what the state let go of, outside the lock, with a trace and a count each.
    fn finish(&self, out: Vec<Dropped<Connection>>) {
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
                DropCause::Probe(Liveness::Unsolicited) => {
                    (Count::UnsolicitedResponse, "unsolicited response")
                }
                DropCause::Probe(_) => (Count::IdleClosedByServer, "closed by server"),
                DropCause::Evicted => (Count::Evicted, "evicted for another host"),
                DropCause::OverIdleLimit => (Count::ClosedOverIdleLimit, "over idle limit"),
            };
            self.counters.count(what);
            tracing::debug!(host = %d.key, conn, idle_ms, cause = reason, "closing idle connection");
        }
    }

    /// Sweeps expired and dead idle connections; the reaper calls this.
    fn sweep(&self) {
        let mut out = Vec::new();
        self.lock().sweep(now(), Connection::probe, &mut out);
        self.finish(out);
    }
}

/// A reserved place under the caps. Dropped unfilled (a failed dial), or with its
/// connection, it frees the place and hands it to the next waiter.
pub(crate) struct Slot {
    pool: Arc<PoolInner>,
    key: PoolKey,
    armed: bool,
}

impl Slot {
    /// Puts a newly opened connection in the slot.
    pub fn fill(self, conn: Connection) -> Pooled {
        self.pool.counters.count(Count::ConnectionOpened);
        tracing::debug!(host = %self.key, conn = conn.id(), reused = false, "opened connection");
        Pooled {
            conn,
            slot: self,
            reused: false,
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
        self.pool.lock().release_slot(&self.key, now(), &mut out);
        self.pool.finish(out);
    }
}

/// A connection checked out of the pool. Dropped, it is closed and its slot freed;
/// `release` gives it back for reuse.
pub(crate) struct Pooled {
    conn: Connection,
    slot: Slot,
    reused: bool,
}

impl Pooled {
    /// The connection.
    pub fn conn(&mut self) -> &mut Connection {
        &mut self.conn
    }

    /// Whether it served an earlier request.
    pub fn reused(&self) -> bool {
        self.reused
    }

    /// The pool key.
    pub fn key(&self) -> &PoolKey {
        &self.slot.key
    }

    /// Counts an event on this connection's pool.
    pub fn count(&self, what: Count) {
        self.slot.pool.counters.count(what);
    }

    /// Gives the connection back after a complete response that allows reuse: to the next
    /// waiter or the idle stack, unless the server's `max`, the client's limits or the
    /// server's timeout say it is done.
    pub fn release(self) {
        let Pooled {
            mut conn, mut slot, ..
        } = self;
        let pool = slot.pool.clone();
        let config = &pool.config;
        let now = now();
        if conn.server_remaining == Some(0) {
            pool.counters.count(Count::ExpiredServerMax);
            tracing::debug!(host = %slot.key, conn = conn.id(), cause = "server keep-alive max", "server keep-alive max reached: closing");
            return;
        }
        if config
            .max_requests_per_connection
            .is_some_and(|m| conn.responses >= m)
        {
            pool.counters.count(Count::ExpiredLifetime);
            tracing::debug!(host = %slot.key, conn = conn.id(), cause = "max requests per connection", "request limit reached: closing");
            return;
        }
        if !conn.prepare_idle() {
            tracing::debug!(host = %slot.key, conn = conn.id(), cause = "bytes after the response", "bytes after the response: closing");
            return;
        }
        let lifetime_ends = config.max_lifetime.map(|l| conn.created() + l);
        let Some(terms) = IdleTerms::compute(
            now,
            config.idle_timeout,
            conn.server_timeout,
            config.keep_alive_margin,
            lifetime_ends,
        ) else {
            let server_too_short = conn
                .server_timeout
                .is_some_and(|t| t <= config.keep_alive_margin);
            let (what, cause) = if server_too_short {
                (Count::ExpiredServerTimeout, "server keep-alive timeout")
            } else {
                (Count::ExpiredLifetime, "lifetime")
            };
            pool.counters.count(what);
            tracing::debug!(host = %slot.key, conn = conn.id(), cause, "too little idle time left to reuse: closing");
            return;
        };
        slot.armed = false;
        let mut out = Vec::new();
        pool.lock().put_idle(&slot.key, conn, now, terms, &mut out);
        pool.finish(out);
    }
}

/// Leaves the line when a waiter gives up, and gives back a grant that arrived too late.
struct WaitGuard {
    pool: Arc<PoolInner>,
    key: PoolKey,
    id: u64,
    rx: oneshot::Receiver<Grant<Connection>>,
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
        };
        match self.rx.try_recv() {
            Ok(Grant::Conn(conn)) => Pooled {
                conn,
                slot: back,
                reused: true,
            }
            .release(),
            // A granted slot is freed by dropping `back`.
            Ok(Grant::Slot) => drop(back),
            Err(_) => back.armed = false,
        }
    }
}
