//! Timing what arrives on an idle connection, without a task: when a connection goes idle,
//! its socket's read readiness is registered with a waker of its own, and the runtime's I/O
//! driver wakes it the moment a FIN (or an unasked `408`) arrives. The wake only notes the
//! time. Whether the connection is really closed is still the probe's to say, at checkout
//! or in the sweep; the time tells the learned idle timeout (`pool::learn`) when it
//! happened, not merely that it had happened by the next look.
//!
//! Costs: one small allocation per connection (made the first time it goes idle), and on
//! each release one readiness check, with a `peek` when the runtime still thinks the socket
//! readable from the last read.

use std::io;
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use socket2::SockRef;
use tokio::io::Interest;
use tokio::net::TcpStream;

use crate::clock;

/// A socket the runtime reports read readiness of: TCP, or a Unix domain socket.
pub(crate) trait Readiness {
    fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
    fn try_io<R>(&self, interest: Interest, f: impl FnOnce() -> io::Result<R>) -> io::Result<R>;
    fn sock(&self) -> SockRef<'_>;
}

impl Readiness for TcpStream {
    fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        TcpStream::poll_read_ready(self, cx)
    }

    fn try_io<R>(&self, interest: Interest, f: impl FnOnce() -> io::Result<R>) -> io::Result<R> {
        TcpStream::try_io(self, interest, f)
    }

    fn sock(&self) -> SockRef<'_> {
        SockRef::from(self)
    }
}

#[cfg(unix)]
impl Readiness for tokio::net::UnixStream {
    fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        tokio::net::UnixStream::poll_read_ready(self, cx)
    }

    fn try_io<R>(&self, interest: Interest, f: impl FnOnce() -> io::Result<R>) -> io::Result<R> {
        tokio::net::UnixStream::try_io(self, interest, f)
    }

    fn sock(&self) -> SockRef<'_> {
        SockRef::from(self)
    }
}

/// The waker of an idle connection: notes when it was first woken.
pub(crate) struct IdleWatch {
    base: Instant,
    /// Nanoseconds after `base`, plus one, of the first wake since armed (0: none).
    woken: AtomicU64,
    /// Registered with the runtime for read readiness since the last `arm`.
    armed: AtomicBool,
}

impl IdleWatch {
    pub fn new(base: Instant) -> Arc<IdleWatch> {
        Arc::new(IdleWatch {
            base,
            woken: AtomicU64::new(0),
            armed: AtomicBool::new(false),
        })
    }

    /// When something arrived since the watch was armed.
    pub fn woken_at(&self) -> Option<Instant> {
        match self.woken.load(Ordering::Relaxed) {
            0 => None,
            n => clock::after(self.base, Duration::from_nanos(n - 1)),
        }
    }

    /// Armed, and nothing has arrived since as far as the runtime has seen: the socket
    /// is quiet, unless a FIN came after the runtime's last look at its events.
    pub fn quiet(&self) -> bool {
        self.armed.load(Ordering::Relaxed) && self.woken.load(Ordering::Relaxed) == 0
    }

    fn note(&self) {
        let since = clock::now().saturating_duration_since(self.base);
        let n = u64::try_from(since.as_nanos()).unwrap_or(u64::MAX - 1) + 1;
        let _ = self
            .woken
            .compare_exchange(0, n, Ordering::Relaxed, Ordering::Relaxed);
    }
}

impl Wake for IdleWatch {
    fn wake(self: Arc<Self>) {
        self.note();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.note();
    }
}

/// A connection's watch and the waker made of it once: arming it again on every release
/// costs no reference count of its own.
pub(crate) struct Watcher {
    watch: Arc<IdleWatch>,
    waker: Waker,
}

impl Watcher {
    pub fn new(base: Instant) -> Watcher {
        let watch = IdleWatch::new(base);
        let waker = Waker::from(watch.clone());
        Watcher { watch, waker }
    }

    /// Arms the watch on `socket` (see `arm`).
    pub fn arm<S: Readiness>(&self, socket: &S) {
        arm(&self.watch, &self.waker, socket);
    }

    pub fn woken_at(&self) -> Option<Instant> {
        self.watch.woken_at()
    }

    pub fn quiet(&self) -> bool {
        self.watch.quiet()
    }
}

/// Arms `watch` (whose waker is `waker`) on `tcp`: cleared, then registered for the next
/// read readiness. When bytes or a FIN are already there, the watch notes now.
#[inline]
fn arm<S: Readiness>(watch: &IdleWatch, waker: &Waker, tcp: &S) {
    watch.woken.store(0, Ordering::Relaxed);
    watch.armed.store(false, Ordering::Relaxed);
    let mut cx = Context::from_waker(waker);
    // Readiness left over from the last read is cleared by a `peek` that finds nothing,
    // and the next poll registers.
    for _ in 0..3 {
        match tcp.poll_read_ready(&mut cx) {
            Poll::Pending => return watch.armed.store(true, Ordering::Relaxed),
            Poll::Ready(Err(_)) => return watch.note(),
            Poll::Ready(Ok(())) => {
                let mut byte = [MaybeUninit::<u8>::uninit(); 1];
                match tcp.try_io(Interest::READABLE, || tcp.sock().peek(&mut byte)) {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                    // Bytes, a FIN or an error are there already.
                    _ => return watch.note(),
                }
            }
        }
    }
    // Readiness kept coming back with nothing to read: left unarmed; the probe still
    // sees a close at checkout, only its time is not known.
}
