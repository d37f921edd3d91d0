//! One HTTP/2 connection: many exchanges at once over one socket.
//!
//! The `h2` crate speaks the protocol (frames, HPACK, stream states, flow control). This
//! file owns what tether decides about it: how many streams it may carry (the server's
//! `SETTINGS_MAX_CONCURRENT_STREAMS`, counted by the pool through [`H2Conn::try_reserve`]),
//! when it takes no new stream (GOAWAY, an unanswered PING, the idle timeout, its end),
//! and what a failed stream says about whether its request ran ([`H2Failure::refused`]:
//! `REFUSED_STREAM`, or above a GOAWAY's last stream id, RFC 9113 §8.7).
//!
//! ```text
//!   handshake ─► H2Conn (shared: pool list + one per stream in use)
//!            └─► drive (a task: the h2 connection, and the idle timer)
//!   exchange ─► send head ─► body (flow control) ⇄ response head ─► StreamBody
//!   StreamBody ─► pieces (window released as read) ─► end; dropped early: RST_STREAM
//! ```
//!
//! The connection closes when nothing holds it: the pool lets go of it when it takes no
//! new stream, each stream in use keeps it until it ends, and h2 then sends GOAWAY and
//! closes the socket, which ends [`drive`].

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use h2::client::SendRequest;
use h2::PingPong;
use h2::{Reason, RecvStream, SendStream};

use super::exchange::{Broke, Progress, Timeouts};
use super::write::Body;
use super::Io;
use crate::clock;
use crate::error::{Error, ErrorKind};
use crate::proto::{HeadLimits, ProtoError};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// How long a body with `Expect: 100-continue` waits for the `100` before it is sent
/// anyway (as for HTTP/1.1: a server that does not know the expectation still gets it).
const CONTINUE_WAIT: Duration = Duration::from_secs(1);

/// Largest piece of a request body given to h2 at once (it splits it into frames).
const SEND_PIECE: usize = 64 * 1024;

/// Flow-control windows we offer: 1 MiB per stream and 4 MiB for the connection, so a
/// large download is not held to the 64 KiB default window's round trips.
const STREAM_WINDOW: u32 = 1024 * 1024;
const CONNECTION_WINDOW: u32 = 4 * 1024 * 1024;

/// What a connection is set up with.
#[derive(Debug, Clone, Copy)]
pub(crate) struct H2Settings {
    /// Our limits on a response head (`SETTINGS_MAX_HEADER_LIST_SIZE` and a field count).
    pub head_limits: HeadLimits,
    /// PINGs sent by the connection's task (`None`: none but the one before reuse).
    pub keep_alive: Option<KeepAlive>,
    /// Keep what the TLS session tells of the server, for the responses.
    pub tls_info: bool,
    pub windows: H2Windows,
    /// The most streams at once on one connection, below the server's own limit
    /// (`http2_max_streams_per_connection`; `None`: the server's alone).
    pub max_streams: Option<usize>,
}

/// The caller's choices of what an HTTP/2 connection announces (`None`: tether's own).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct H2Windows {
    /// `SETTINGS_INITIAL_WINDOW_SIZE` ([`STREAM_WINDOW`]).
    pub stream: Option<u32>,
    /// The connection's window ([`CONNECTION_WINDOW`]).
    pub connection: Option<u32>,
    /// `SETTINGS_MAX_FRAME_SIZE` (the protocol's 16 KiB).
    pub max_frame: Option<u32>,
    /// `SETTINGS_MAX_HEADER_LIST_SIZE` (`max_head_bytes`).
    pub max_header_list: Option<u32>,
    /// The windows grow with the bandwidth-delay product (`http2_adaptive_window`).
    pub adaptive: bool,
}

/// The largest flow-control window (RFC 9113 §6.9.1).
pub(crate) const MAX_WINDOW: u32 = (1 << 31) - 1;
/// The range of `SETTINGS_MAX_FRAME_SIZE` (RFC 9113 §6.5.2).
pub(crate) const FRAME_SIZES: std::ops::RangeInclusive<u32> = (1 << 14)..=(1 << 24) - 1;

/// `http2_keep_alive_*`: when nothing was read from the server for `interval`, a PING;
/// unanswered after `timeout`, the connection is closed and its streams fail.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KeepAlive {
    pub interval: Duration,
    pub timeout: Duration,
    /// Also while no stream is in use.
    pub while_idle: bool,
}

/// The state the connection's task and the stream handles share.
pub(crate) struct H2State {
    base: Instant,
    /// Streams given out by the pool and not yet given back.
    streams: AtomicUsize,
    /// Takes no new stream (GOAWAY, PING unanswered, idle timeout, limits, or ended).
    closing: AtomicBool,
    /// Nanoseconds after `base`, plus one, since which no stream has been in use (0: some is).
    idle_since: AtomicU64,
    /// Nanoseconds after `base`, plus one, of the last sign of life (a stream that ended
    /// well, a PONG).
    alive_at: AtomicU64,
    /// Streams that ended.
    served: AtomicU64,
    /// Streams reserved, ever.
    started: AtomicU64,
    /// The server's `SETTINGS_MAX_HEADER_LIST_SIZE` (`u32::MAX`: none said, or not yet).
    max_header_list: std::sync::atomic::AtomicU32,
    /// The server's first SETTINGS frame has been read.
    preface_read: AtomicBool,
    /// That frame set `SETTINGS_MAX_CONCURRENT_STREAMS`.
    preface_limits_streams: AtomicBool,
    /// Bytes read from the socket: a sign of life for the keep-alive PINGs, and what a
    /// sample of the bandwidth-delay product counts.
    read_bytes: AtomicU64,
    /// The task closed the connection after a keep-alive PING went unanswered.
    unanswered: AtomicBool,
}

impl H2State {
    fn new(base: Instant) -> H2State {
        H2State {
            base,
            streams: AtomicUsize::new(0),
            closing: AtomicBool::new(false),
            idle_since: AtomicU64::new(1),
            alive_at: AtomicU64::new(1),
            served: AtomicU64::new(0),
            started: AtomicU64::new(0),
            max_header_list: std::sync::atomic::AtomicU32::new(u32::MAX),
            preface_read: AtomicBool::new(false),
            preface_limits_streams: AtomicBool::new(false),
            read_bytes: AtomicU64::new(0),
            unanswered: AtomicBool::new(false),
        }
    }

    /// Whether h2 now applies the server's first SETTINGS, given the stream limit it
    /// applies (`usize::MAX`, h2's value until then, when the server said none).
    fn preface_applied(&self, max_send_streams: usize) -> bool {
        self.preface_read.load(Ordering::Acquire)
            && (max_send_streams != usize::MAX
                || !self.preface_limits_streams.load(Ordering::Relaxed))
    }

    fn stamp(&self, at: Instant) -> u64 {
        let since = at.saturating_duration_since(self.base);
        u64::try_from(since.as_nanos()).unwrap_or(u64::MAX - 1) + 1
    }

    fn at(&self, stamp: u64) -> Option<Instant> {
        match stamp {
            0 => None,
            n => clock::after(self.base, Duration::from_nanos(n - 1)),
        }
    }

    /// The error of a stream failed because a keep-alive PING went unanswered, if that is
    /// why the connection ended.
    fn unanswered_error(&self) -> Option<Error> {
        self.unanswered.load(Ordering::Relaxed).then(|| {
            Error::msg(
                ErrorKind::Timeout,
                "the server answered no HTTP/2 keep-alive PING in time: the connection was \
                 closed",
            )
        })
    }

    /// How long no stream has been in use, at `now` (`None`: one is).
    pub fn idle_for(&self, now: Instant) -> Option<Duration> {
        self.at(self.idle_since.load(Ordering::Relaxed))
            .map(|t| now.saturating_duration_since(t))
    }
}

/// One HTTP/2 connection, shared by the pool and the streams in use on it.
pub(crate) struct H2Conn {
    id: u64,
    send: SendRequest<Bytes>,
    state: Arc<H2State>,
    /// Shared with the task, for its keep-alive PINGs: one PING at a time.
    ping: Arc<tokio::sync::Mutex<Option<PingPong>>>,
    runtime: Option<tokio::runtime::Id>,
    peer: Option<SocketAddr>,
    head_limits: HeadLimits,
    tls_info: Option<crate::tls::TlsInfo>,
    /// The client's own limit of streams at once (`usize::MAX`: none).
    max_streams: usize,
}

/// The h2 connection itself, to be driven by [`drive`] on a task of its own.
pub(crate) struct H2Driver {
    conn: h2::client::Connection<Sniffed, Bytes>,
    state: Arc<H2State>,
    ping: Arc<tokio::sync::Mutex<Option<PingPong>>>,
    keep_alive: Option<KeepAlive>,
    /// `http2_adaptive_window`: the stream window it grows from.
    adaptive: Option<u32>,
    /// The connection window set up, which growth never lowers.
    connection_window: u32,
}

impl std::fmt::Debug for H2Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("H2Conn").field("id", &self.id).finish()
    }
}

/// Runs the HTTP/2 handshake (the preface and SETTINGS) over `io`, already connected and,
/// over TLS, with `h2` agreed by ALPN.
pub(crate) async fn handshake(
    io: Io,
    id: u64,
    peer: Option<SocketAddr>,
    settings: H2Settings,
    deadline: Option<Instant>,
    verbose: Option<u64>,
) -> Result<(H2Conn, H2Driver), Error> {
    let windows = settings.windows;
    let stream_window = windows.stream.unwrap_or(STREAM_WINDOW).min(MAX_WINDOW);
    let connection_window = windows
        .connection
        .unwrap_or(CONNECTION_WINDOW)
        .min(MAX_WINDOW);
    let mut builder = h2::client::Builder::new();
    builder
        .enable_push(false)
        .initial_window_size(stream_window)
        .initial_connection_window_size(connection_window)
        .max_header_list_size(windows.max_header_list.unwrap_or_else(|| {
            u32::try_from(settings.head_limits.max_head_bytes).unwrap_or(u32::MAX)
        }));
    // Checked by the builder; h2 would panic on a size out of range.
    if let Some(size) = windows.max_frame.filter(|s| FRAME_SIZES.contains(s)) {
        builder.max_frame_size(size);
    }
    let tls_info = if settings.tls_info {
        io.tls_info()
    } else {
        None
    };
    let state = Arc::new(H2State::new(clock::now()));
    let io = Sniffed {
        io,
        state: state.clone(),
        scan: FrameScan::default(),
        verbose,
    };
    let shake = builder.handshake::<Sniffed, Bytes>(io);
    let shaken = match deadline {
        None => shake.await,
        Some(d) => match tokio::time::timeout_at(d.into(), shake).await {
            Ok(r) => r,
            Err(_) => return Err(Error::timeout("HTTP/2 handshake")),
        },
    };
    let (send, mut conn) = shaken
        .map_err(|e| Error::new(ErrorKind::Protocol, e).context("the HTTP/2 handshake failed"))?;
    let ping = Arc::new(tokio::sync::Mutex::new(conn.ping_pong()));
    Ok((
        H2Conn {
            id,
            send,
            state: state.clone(),
            ping: ping.clone(),
            runtime: tokio::runtime::Handle::try_current().ok().map(|h| h.id()),
            peer,
            head_limits: settings.head_limits,
            tls_info,
            max_streams: settings.max_streams.unwrap_or(usize::MAX),
        },
        H2Driver {
            conn,
            state,
            ping,
            keep_alive: settings.keep_alive,
            adaptive: windows.adaptive.then_some(stream_window),
            connection_window,
        },
    ))
}

/// Why a connection's task has the pool let go of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LetGo {
    /// No stream was in use for the idle timeout.
    Idle,
    /// A keep-alive PING went unanswered: the connection was closed.
    Unanswered,
}

/// Drives the connection until it ends. Once h2 applies the server's first SETTINGS (its
/// stream limit above all), `on_ready` is called once: until then the connection must
/// carry no stream but its dialer's, since h2 would take the limit to be none and a
/// burst of requests would be refused past it. `on_let_go` is called at most once: while
/// no stream is in use for `idle_timeout` (the pool lets go of it, so that it closes), or
/// when a keep-alive PING went unanswered (the connection is closed at once: its streams
/// fail, saying so).
pub(crate) async fn drive(
    driver: H2Driver,
    idle_timeout: Duration,
    on_ready: impl FnOnce(),
    on_let_go: impl FnOnce(LetGo),
) {
    let H2Driver {
        conn,
        state,
        ping,
        keep_alive,
        adaptive,
        connection_window,
    } = driver;
    let mut conn = std::pin::pin!(conn);
    let mut on_ready = Some(on_ready);
    let mut on_let_go = Some(on_let_go);
    let mut timer = Box::pin(tokio::time::sleep(
        idle_timeout.min(Duration::from_secs(3600)),
    ));
    let mut pinger = (keep_alive.is_some() || adaptive.is_some())
        .then(|| Pinger::new(keep_alive, adaptive, ping));
    std::future::poll_fn(|cx| {
        if let Poll::Ready(result) = conn.as_mut().poll(cx) {
            if let Err(e) = result {
                tracing::debug!(error = %e, "HTTP/2 connection ended with an error");
            }
            return Poll::Ready(());
        }
        // h2 reads every frame it can before it returns `Pending`, and applies SETTINGS
        // as it acknowledges them.
        if on_ready.is_some() && state.preface_applied(conn.max_concurrent_send_streams()) {
            if let Some(f) = on_ready.take() {
                f();
            }
        }
        while let Some(Poll::Ready(pinged)) = pinger.as_mut().map(|p| p.poll(cx, &state)) {
            match pinged {
                Pinged::Grow(window) => {
                    tracing::trace!(window, "HTTP/2 windows grow to the bandwidth-delay product");
                    let conn = conn.as_mut().get_mut();
                    conn.set_target_window_size(window.max(connection_window));
                    // Refused only while an earlier change awaits the server's ACK: the
                    // next growth sends it.
                    let _ = conn.set_initial_window_size(window);
                }
                Pinged::Unanswered => {
                    // Ending the task drops the connection: h2 fails every stream on it.
                    state.unanswered.store(true, Ordering::Relaxed);
                    state.closing.store(true, Ordering::Relaxed);
                    if let Some(f) = on_let_go.take() {
                        f(LetGo::Unanswered);
                    }
                    return Poll::Ready(());
                }
            }
        }
        while on_let_go.is_some() && timer.as_mut().poll(cx).is_ready() {
            let now = clock::now();
            let next = match state.idle_for(now) {
                Some(idle) if idle >= idle_timeout => {
                    state.closing.store(true, Ordering::Relaxed);
                    if let Some(f) = on_let_go.take() {
                        f(LetGo::Idle);
                    }
                    return Poll::Pending;
                }
                Some(idle) => idle_timeout - idle,
                None => idle_timeout,
            };
            // At least 1 ms ahead, so that a zero idle timeout cannot spin.
            match clock::after(now, next.max(Duration::from_millis(1))) {
                Some(at) => timer.as_mut().reset(at.into()),
                None => return Poll::Pending,
            }
        }
        Poll::Pending
    })
    .await;
    state.closing.store(true, Ordering::Relaxed);
}

/// The longest wait a keep-alive timer is set for (a longer interval or timeout is as
/// good as none).
const KEEP_ALIVE_CAP: Duration = Duration::from_secs(30 * 24 * 3600);

/// The largest window `http2_adaptive_window` grows to (hyper's limit too).
pub(crate) const ADAPTIVE_MAX: u32 = 16 * 1024 * 1024;

/// The longest wait between two samples of the bandwidth-delay product that did not grow
/// the window.
const BDP_WAIT_MAX: Duration = Duration::from_secs(10);

/// What the PINGs of a connection's task found.
enum Pinged {
    /// A keep-alive PING went unanswered for its timeout.
    Unanswered,
    /// The bandwidth-delay product calls for windows of this size.
    Grow(u32),
}

/// The PINGs of a connection's task: keep-alive ones (after an interval in which nothing
/// was read from the server and, unless `while_idle`, with a stream in use, a PING whose
/// PONG must come within the timeout), and those that sample the bandwidth-delay product
/// for `http2_adaptive_window` (bytes read during a PING's round trip). One PING is out
/// at a time and serves both.
struct Pinger {
    keep_alive: Option<KeepAlive>,
    bdp: Option<Bdp>,
    /// The connection's PING handle, shared with the PING before reuse.
    shared: Arc<tokio::sync::Mutex<Option<PingPong>>>,
    /// Keep-alive: the end of the interval, or the PING's deadline.
    timer: Pin<Box<tokio::time::Sleep>>,
    /// Bytes read when the keep-alive interval began.
    seen: u64,
    /// The PING out, if any.
    out: Option<Out>,
}

/// A PING of the task's that awaits its PONG.
struct Out {
    /// The handle, held meanwhile.
    guard: tokio::sync::OwnedMutexGuard<Option<PingPong>>,
    /// Bytes read, and the time, when it went.
    bytes: u64,
    at: Instant,
    /// Its PONG is due by the keep-alive timer: the bytes read when it became so.
    due: Option<u64>,
}

/// `http2_adaptive_window`: the stream and connection windows follow the
/// bandwidth-delay product, sampled as the bytes read during a PING's round trip: a sample
/// of two thirds of the window or more (the window held the sender back) doubles it, up
/// to [`ADAPTIVE_MAX`].
struct Bdp {
    window: u32,
    /// Bytes read when the last sample ended: a new one starts only once more came.
    seen: u64,
    /// When the next sample may start, and the wait after one that did not grow.
    next: Instant,
    wait: Duration,
}

impl Bdp {
    /// A sample of `bytes` over `rtt`, ending at `now` with `read` bytes read: the new
    /// window when it grows.
    fn sample(&mut self, bytes: u64, rtt: Duration, now: Instant, read: u64) -> Option<u32> {
        self.seen = read;
        if bytes.saturating_mul(3) >= u64::from(self.window) * 2 && self.window < ADAPTIVE_MAX {
            let grown = bytes.saturating_mul(2).max(u64::from(self.window) * 2);
            self.window = u32::try_from(grown)
                .unwrap_or(ADAPTIVE_MAX)
                .min(ADAPTIVE_MAX);
            self.wait = rtt;
            self.next = clock::after(now, rtt).unwrap_or(now);
            return Some(self.window);
        }
        self.wait = (self.wait * 2).max(rtt).min(BDP_WAIT_MAX);
        self.next = clock::after(now, self.wait).unwrap_or(now);
        None
    }

    /// Whether to start a sample now: data came since the last, its wait is over, and
    /// the window can still grow.
    fn wants(&self, read: u64, now: Instant) -> bool {
        read > self.seen && now >= self.next && self.window < ADAPTIVE_MAX
    }
}

impl Pinger {
    fn new(
        keep_alive: Option<KeepAlive>,
        adaptive_from: Option<u32>,
        shared: Arc<tokio::sync::Mutex<Option<PingPong>>>,
    ) -> Pinger {
        let keep_alive = keep_alive.map(|every| KeepAlive {
            interval: every
                .interval
                .clamp(Duration::from_millis(1), KEEP_ALIVE_CAP),
            timeout: every
                .timeout
                .clamp(Duration::from_millis(1), KEEP_ALIVE_CAP),
            while_idle: every.while_idle,
        });
        let now = clock::now();
        Pinger {
            timer: Box::pin(tokio::time::sleep(
                keep_alive.map_or(KEEP_ALIVE_CAP, |k| k.interval),
            )),
            keep_alive,
            bdp: adaptive_from.map(|window| Bdp {
                window,
                seen: 0,
                next: now,
                wait: Duration::ZERO,
            }),
            shared,
            seen: 0,
            out: None,
        }
    }

    fn set_timer(&mut self, d: Duration) {
        let at = tokio::time::Instant::now()
            .checked_add(d)
            .unwrap_or_else(tokio::time::Instant::now);
        self.timer.as_mut().reset(at);
    }

    /// Sends a PING, unless the PING before reuse is out (then `false`: it closes the
    /// connection if unanswered).
    fn send(&mut self, cx: &mut Context<'_>, read: u64, due: bool) -> bool {
        let due = due.then_some(read);
        let Ok(mut guard) = self.shared.clone().try_lock_owned() else {
            return false;
        };
        if let Some(pinger) = guard.as_mut() {
            // A PONG left for a waiter that went away is taken first, so that it is not
            // counted for this PING.
            let _ = pinger.poll_pong(cx);
            // Fails only with a PING already out (then its PONG will do) or the
            // connection gone (its own poll says so).
            let _ = pinger.send_ping(h2::Ping::opaque());
        }
        self.out = Some(Out {
            guard,
            bytes: read,
            at: clock::now(),
            due,
        });
        true
    }

    fn poll(&mut self, cx: &mut Context<'_>, state: &H2State) -> Poll<Pinged> {
        loop {
            let read = state.read_bytes.load(Ordering::Relaxed);
            if let Some(out) = self.out.as_mut() {
                let pong = match out.guard.as_mut() {
                    Some(pinger) => pinger.poll_pong(cx).is_ready(),
                    // No handle (or the connection ending: its own poll says so).
                    None => true,
                };
                if pong {
                    let now = clock::now();
                    state.alive_at.store(state.stamp(now), Ordering::Relaxed);
                    let Some(out) = self.out.take() else {
                        continue;
                    };
                    if let Some(every) = self.keep_alive {
                        self.seen = read;
                        self.set_timer(every.interval);
                    }
                    let rtt = now.saturating_duration_since(out.at);
                    let bytes = read.saturating_sub(out.bytes);
                    if let Some(grown) = self
                        .bdp
                        .as_mut()
                        .and_then(|bdp| bdp.sample(bytes, rtt, now, read))
                    {
                        return Poll::Ready(Pinged::Grow(grown));
                    }
                    continue;
                }
                // Bytes read since a keep-alive PING went show the connection alive: the
                // PONG is still awaited (for its sample), but no longer by a deadline.
                if out.due.is_some_and(|since| read != since) {
                    out.due = None;
                    if let Some(every) = self.keep_alive {
                        self.seen = read;
                        self.set_timer(every.interval);
                    }
                    continue;
                }
                let (due, every) = (out.due.is_some(), self.keep_alive);
                match every {
                    Some(_) if due && self.timer.as_mut().poll(cx).is_ready() => {
                        return Poll::Ready(Pinged::Unanswered)
                    }
                    // A sampling PING out when the keep-alive interval ends: it is the
                    // keep-alive PING too, due from now.
                    Some(every) if !due && self.timer.as_mut().poll(cx).is_ready() => {
                        if read != self.seen {
                            self.seen = read;
                            self.set_timer(every.interval);
                        } else if let Some(out) = self.out.as_mut() {
                            out.due = Some(read);
                            self.set_timer(every.timeout);
                        }
                        continue;
                    }
                    _ => return Poll::Pending,
                }
            }
            if let Some(bdp) = &self.bdp {
                if bdp.wants(read, clock::now()) && self.send(cx, read, false) {
                    continue;
                }
            }
            let Some(every) = self.keep_alive else {
                return Poll::Pending;
            };
            if self.timer.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            let idle = state.streams.load(Ordering::Relaxed) == 0;
            if read != self.seen || (idle && !every.while_idle) || !self.send(cx, read, true) {
                self.seen = read;
                self.set_timer(every.interval);
                continue;
            }
            self.set_timer(every.timeout);
        }
    }
}

impl H2Conn {
    /// A process-unique id, for tracing.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The server's address, as connected.
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.peer
    }

    /// What the TLS session told of the server (kept with `tls_info(true)`).
    pub fn tls_info(&self) -> Option<&crate::tls::TlsInfo> {
        self.tls_info.as_ref()
    }

    /// The runtime the connection (and its task) runs on.
    pub fn runtime(&self) -> Option<tokio::runtime::Id> {
        self.runtime
    }

    /// Takes no new stream.
    pub fn closing(&self) -> bool {
        self.state.closing.load(Ordering::Relaxed)
    }

    /// Takes no new stream from now on.
    pub fn close(&self) {
        self.state.closing.store(true, Ordering::Relaxed);
    }

    /// Streams in use.
    pub fn streams(&self) -> usize {
        self.state.streams.load(Ordering::Relaxed)
    }

    /// Streams reserved on it so far, the ones in use included.
    pub fn started(&self) -> u64 {
        self.state.started.load(Ordering::Relaxed)
    }

    /// How long ago it was set up, at `now`.
    pub fn age(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.state.base)
    }

    /// Whether it carried a stream before.
    pub fn served(&self) -> bool {
        self.state.served.load(Ordering::Relaxed) > 0
    }

    /// Reserves a stream when the connection takes new ones and the server's limit leaves
    /// room. Called under the pool's lock.
    pub fn try_reserve(&self) -> bool {
        self.reserve_noting_idle().is_some()
    }

    /// [`H2Conn::try_reserve`], telling since when no stream had been in use (`Some(None)`:
    /// one was).
    pub fn reserve_noting_idle(&self) -> Option<Option<Instant>> {
        if self.closing() {
            return None;
        }
        let max = self.stream_limit();
        let n = self.state.streams.load(Ordering::Relaxed);
        if n >= max {
            self.close_if_allowed_none(n, max);
            return None;
        }
        self.state.streams.store(n + 1, Ordering::Relaxed);
        self.state.started.fetch_add(1, Ordering::Relaxed);
        let idle = self.state.idle_since.swap(0, Ordering::Relaxed);
        Some(self.state.at(idle))
    }

    /// Reserves the first stream of a new connection, for its dialer.
    pub fn reserve_first(&self) {
        self.state.streams.fetch_add(1, Ordering::Relaxed);
        self.state.started.fetch_add(1, Ordering::Relaxed);
        self.state.idle_since.store(0, Ordering::Relaxed);
    }

    /// Gives back a reserved stream (under the pool's lock).
    pub fn unreserve(&self, now: Instant) {
        let n = self.state.streams.load(Ordering::Relaxed).saturating_sub(1);
        self.state.streams.store(n, Ordering::Relaxed);
        if n == 0 {
            self.state
                .idle_since
                .store(self.state.stamp(now), Ordering::Relaxed);
        }
        self.close_if_allowed_none(n, self.stream_limit());
    }

    /// Whether a request may take the place of one of its streams that ends: it takes new
    /// streams, and the server's limit, which it may have lowered since, still leaves
    /// room once that stream is gone.
    pub fn may_pass_on(&self) -> bool {
        !self.closing() && self.streams() <= self.stream_limit()
    }

    /// The most streams it may carry at once: the server's limit, or the client's own
    /// where that is lower.
    fn stream_limit(&self) -> usize {
        self.send.current_max_send_streams().min(self.max_streams)
    }

    /// With `n` streams in use, a server limit `max` of 0 and none in use leaves nothing
    /// to end and make room: no stream could start on it again unless the server sent new
    /// SETTINGS, and RFC 9113 §5.1.2 asks a server that wants no requests to close
    /// instead. Such a connection takes no new stream, so that requests go elsewhere (and
    /// a server that refuses everything fails them, unprocessed, within the retries).
    fn close_if_allowed_none(&self, n: usize, max: usize) {
        if n == 0 && max == 0 {
            self.close();
        }
    }

    /// A stream ended as its exchange should: the connection is alive.
    pub fn note_served(&self, now: Instant) {
        self.state.served.fetch_add(1, Ordering::Relaxed);
        self.state
            .alive_at
            .store(self.state.stamp(now), Ordering::Relaxed);
    }

    /// Whether the connection showed a sign of life within `within` of `now`.
    pub fn alive_within(&self, now: Instant, within: Duration) -> bool {
        self.state
            .at(self.state.alive_at.load(Ordering::Relaxed))
            .is_some_and(|t| now.saturating_duration_since(t) < within)
    }

    /// Sends a PING and waits up to `timeout` for its PONG: the liveness check of a
    /// connection idle for long. False (and the connection takes no new stream) when no
    /// PONG came.
    pub async fn ping(&self, timeout: Duration) -> bool {
        let asked = clock::now();
        // The task's own PING may hold the handle: one unanswered for as long as this
        // one may wait is as good as this one unanswered.
        let Ok(mut guard) = tokio::time::timeout(timeout, self.ping.lock()).await else {
            let alive_at = self.state.at(self.state.alive_at.load(Ordering::Relaxed));
            if alive_at.is_some_and(|t| t >= asked) {
                return true;
            }
            self.close();
            return false;
        };
        // Another request's PING was answered while this one waited for the lock.
        let alive_at = self.state.at(self.state.alive_at.load(Ordering::Relaxed));
        if alive_at.is_some_and(|t| t >= asked) {
            return true;
        }
        let Some(pinger) = guard.as_mut() else {
            return true;
        };
        // A PONG left for a waiter that went away is taken first: h2 takes no new PING
        // until it is.
        std::future::poll_fn(|cx| {
            let _ = pinger.poll_pong(cx);
            Poll::Ready(())
        })
        .await;
        let pong = async { pinger.ping(h2::Ping::opaque()).await.is_ok() };
        let answered = matches!(tokio::time::timeout(timeout, pong).await, Ok(true));
        if answered {
            self.state
                .alive_at
                .store(self.state.stamp(clock::now()), Ordering::Relaxed);
        } else {
            self.close();
        }
        answered
    }

    /// One exchange on a new stream: the head, the body as the windows allow (an answer
    /// before the body is all sent stops it), and the final response head. With
    /// `expect_continue` (the head asks `Expect: 100-continue`), the body waits for the
    /// server's `100`, its final answer (then the body is never sent), or
    /// [`CONTINUE_WAIT`], whichever comes first.
    pub async fn exchange(
        &self,
        request: http::Request<()>,
        body: &mut Body,
        expect_continue: bool,
        timeouts: Timeouts,
        progress: &mut Progress,
    ) -> Result<(http::response::Parts, StreamBody), H2Failure> {
        let mut send = self.send.clone();
        let ready = std::future::poll_fn(|cx| send.poll_ready(cx));
        let ready = match timeouts.request {
            None => ready.await,
            Some(d) => match tokio::time::timeout_at(d.into(), ready).await {
                Ok(r) => r,
                Err(_) => return Err(H2Failure::timed_out("waiting for an HTTP/2 stream")),
            },
        };
        if let Err(e) = ready {
            return Err(self.failed(e, false));
        }
        let limit = self.state.max_header_list.load(Ordering::Relaxed);
        let size = header_list_size(&request);
        if size > u64::from(limit) {
            return Err(H2Failure::other(Error::msg(
                ErrorKind::InvalidRequest,
                format!(
                    "the request head ({size} bytes as HTTP/2 counts them) is larger than the \
                     server's SETTINGS_MAX_HEADER_LIST_SIZE ({limit}): not sent"
                ),
            )));
        }
        let end_now = matches!(body, Body::Empty) || matches!(body, Body::Full(b) if b.is_empty());
        let (response, stream) = match send.send_request(request, end_now) {
            Ok(sent) => sent,
            Err(e) => return Err(self.failed(e, false)),
        };
        // The head is h2's to write now.
        progress.written = 1;
        let mut sending = Sending::new(body, stream, end_now);
        if sending.done {
            progress.complete = true;
        }
        let mut response = std::pin::pin!(response);
        // Waiting for `100 Continue` before the body: until it comes, or this timer.
        let mut awaiting =
            (expect_continue && !sending.done).then(|| Box::pin(tokio::time::sleep(CONTINUE_WAIT)));
        let wait = std::future::poll_fn(|cx| {
            if let Some(timer) = awaiting.as_mut() {
                let continued = match response.as_mut().get_mut().poll_informational(cx) {
                    Poll::Ready(Some(Ok(interim))) => {
                        interim.status() == http::StatusCode::CONTINUE
                    }
                    // No interim answer will come: the final one is there (polled below,
                    // before any of the body goes), or the stream failed.
                    Poll::Ready(None) | Poll::Ready(Some(Err(_))) => true,
                    Poll::Pending => false,
                };
                if continued || timer.as_mut().poll(cx).is_ready() {
                    awaiting = None;
                }
            }
            // The answer first: once it is there, no more of the body goes out.
            if let Poll::Ready(r) = Pin::new(&mut *response).poll(cx) {
                return Poll::Ready(Ok(r));
            }
            if awaiting.is_none() && !sending.done {
                if let Poll::Ready(Err(e)) = sending.poll(cx) {
                    return Poll::Ready(Err(e));
                }
                if sending.done && !sending.cut {
                    progress.complete = true;
                }
            }
            Poll::Pending
        });
        let (deadline, _) = timeouts.next_read(clock::now);
        let got = match deadline {
            None => wait.await,
            Some(d) => match tokio::time::timeout_at(d.into(), wait).await {
                Ok(r) => r,
                Err(_) => return Err(H2Failure::timed_out("waiting for the HTTP/2 response head")),
            },
        };
        let head = match got {
            Err(SendFailed::Body(e)) => {
                return Err(H2Failure::other(
                    Error::new(ErrorKind::Body, e).context("the request body stream failed"),
                ))
            }
            Err(SendFailed::Length(why)) => {
                return Err(H2Failure::other(Error::msg(ErrorKind::InvalidRequest, why)))
            }
            Err(SendFailed::H2(e)) | Ok(Err(e)) => return Err(self.failed(e, true)),
            Ok(Ok(head)) => head,
        };
        let (parts, recv) = head.into_parts();
        if parts.headers.len() > self.head_limits.max_headers {
            return Err(H2Failure::other(Error::proto(ProtoError::TooManyHeaders)));
        }
        // The rest of the body is not sent once the answer came: the server has what it
        // wanted (RFC 9113 §8.1), and its RST_STREAM(NO_ERROR) ends the sending side.
        let send_half = Some(sending.stream);
        Ok((
            parts,
            StreamBody {
                recv,
                _send: send_half,
                timeouts,
                timer: None,
                state: self.state.clone(),
            },
        ))
    }

    /// The failure of a stream: whether its request certainly did not run, and whether
    /// the connection takes new streams after it.
    fn failed(&self, e: h2::Error, sent: bool) -> H2Failure {
        if let Some(error) = self.state.unanswered_error() {
            return H2Failure {
                error,
                refused: false,
                broke: Broke::Closed,
            };
        }
        let refused = is_refused(&e);
        if e.is_go_away() || e.is_io() || (e.is_library() && !e.is_reset()) {
            // A GOAWAY, or the connection broke: no new stream on it.
            self.close();
        }
        let broke = if e.is_io() || e.is_go_away() {
            Broke::Closed
        } else {
            Broke::Other
        };
        let kind = if e.is_io() && sent {
            ErrorKind::ClosedBeforeResponse
        } else if e.is_io() {
            ErrorKind::Io
        } else {
            ErrorKind::Protocol
        };
        H2Failure {
            error: Error::new(kind, e).context("HTTP/2 stream failed"),
            refused,
            broke,
        }
    }
}

/// The size of a request head as `SETTINGS_MAX_HEADER_LIST_SIZE` counts it (RFC 9113
/// §6.5.2): each field's name and value and 32 more, pseudo-header fields included.
fn header_list_size(request: &http::Request<()>) -> u64 {
    let uri = request.uri();
    let pseudo = [
        (":method", request.method().as_str().len()),
        (":scheme", uri.scheme_str().map_or(0, str::len)),
        (
            ":authority",
            uri.authority().map_or(0, |a| a.as_str().len()),
        ),
        (
            ":path",
            uri.path_and_query().map_or(1, |p| p.as_str().len()),
        ),
    ];
    let pseudo: u64 = pseudo
        .iter()
        .map(|(name, len)| (name.len() + len + 32) as u64)
        .sum();
    let fields: u64 = request
        .headers()
        .iter()
        .map(|(name, value)| (name.as_str().len() + value.len() + 32) as u64)
        .sum();
    pseudo + fields
}

/// The socket of an HTTP/2 connection, reading the server's SETTINGS frames as they pass:
/// for the limit h2 does not apply to what we send, `SETTINGS_MAX_HEADER_LIST_SIZE` (each
/// frame that sets it, the preface's and later ones), and to know when the server's stream
/// limit is known ([`drive`]'s `on_ready`; RFC 9113 §3.4: the server's preface is a
/// SETTINGS frame). Every other frame is only counted past.
pub(crate) struct Sniffed {
    io: Io,
    state: Arc<H2State>,
    scan: FrameScan,
    /// `connection_verbose`: the connection's id, every byte traced.
    verbose: Option<u64>,
}

impl Sniffed {
    fn sniff(&mut self, bytes: &[u8]) {
        let state = &self.state;
        self.scan.feed(bytes, |settings, first| {
            for (id, value) in settings {
                match id {
                    // (A limit h2 would hold as `usize::MAX` is none.)
                    0x3 if first && usize::try_from(value).ok() != Some(usize::MAX) => {
                        state.preface_limits_streams.store(true, Ordering::Relaxed)
                    }
                    0x6 => state.max_header_list.store(value, Ordering::Relaxed),
                    _ => {}
                }
            }
            if first {
                state.preface_read.store(true, Ordering::Release);
            }
        });
    }
}

/// Largest SETTINGS payload gathered: our `SETTINGS_MAX_FRAME_SIZE` is the protocol's
/// default, so a larger frame is an error h2 reports.
const MAX_SETTINGS_PAYLOAD: usize = 16_384;

/// Where a reader is in a stream of HTTP/2 frames: in a frame's 9-byte header, or in its
/// payload, which is gathered for a SETTINGS frame (not an ACK) and passed over otherwise.
/// Pure: fed the bytes as they arrive, however they are split.
#[derive(Default)]
struct FrameScan {
    header: [u8; 9],
    /// Header bytes so far.
    have: usize,
    /// Payload bytes still to come of the current frame.
    left: usize,
    /// The payload of a SETTINGS frame being gathered.
    settings: Option<Vec<u8>>,
    /// Frames whose header has been read.
    frames: u64,
    /// The stream did not start with a SETTINGS frame: not read further (h2 reports it).
    lost: bool,
}

impl FrameScan {
    /// Reads `bytes`, calling `on_settings(settings, first)` for each complete SETTINGS
    /// frame, with its `(identifier, value)` pairs and whether it was the first frame.
    fn feed(&mut self, mut bytes: &[u8], mut on_settings: impl FnMut(SettingsIter<'_>, bool)) {
        while !bytes.is_empty() && !self.lost {
            if self.have < self.header.len() {
                let take = (self.header.len() - self.have).min(bytes.len());
                self.header[self.have..self.have + take].copy_from_slice(&bytes[..take]);
                self.have += take;
                bytes = &bytes[take..];
                if self.have < self.header.len() {
                    return;
                }
                let [l0, l1, l2, kind, flags, ..] = self.header;
                let len = (usize::from(l0) << 16) | (usize::from(l1) << 8) | usize::from(l2);
                let settings = kind == 0x4 && flags & 0x1 == 0 && len <= MAX_SETTINGS_PAYLOAD;
                if self.frames == 0 && !settings {
                    self.lost = true;
                    return;
                }
                self.frames += 1;
                self.left = len;
                self.settings = settings.then(|| Vec::with_capacity(len));
            } else {
                let take = self.left.min(bytes.len());
                if let Some(gathered) = self.settings.as_mut() {
                    gathered.extend_from_slice(&bytes[..take]);
                }
                self.left -= take;
                bytes = &bytes[take..];
            }
            if self.have == self.header.len() && self.left == 0 {
                // The frame is complete.
                self.have = 0;
                if let Some(payload) = self.settings.take() {
                    on_settings(SettingsIter(payload.chunks_exact(6)), self.frames == 1);
                }
            }
        }
    }
}

/// The `(identifier, value)` pairs of a SETTINGS payload.
struct SettingsIter<'a>(std::slice::ChunksExact<'a, u8>);

impl Iterator for SettingsIter<'_> {
    type Item = (u16, u32);

    fn next(&mut self) -> Option<(u16, u32)> {
        let s = self.0.next()?;
        Some((
            u16::from_be_bytes([s[0], s[1]]),
            u32::from_be_bytes([s[2], s[3], s[4], s[5]]),
        ))
    }
}

impl AsyncRead for Sniffed {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let read = Pin::new(&mut this.io).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = read {
            let n = (buf.filled().len() - before) as u64;
            if n > 0 {
                // This reader alone counts: no read-modify-write needed.
                let read = &this.state.read_bytes;
                read.store(read.load(Ordering::Relaxed) + n, Ordering::Relaxed);
            }
            this.sniff(&buf.filled()[before..]);
            if let Some(id) = this.verbose {
                super::verbose::read(id, &buf.filled()[before..]);
            }
        }
        read
    }
}

impl AsyncWrite for Sniffed {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.io).poll_write(cx, buf);
        if let (Some(id), Poll::Ready(Ok(n))) = (this.verbose, &written) {
            super::verbose::wrote(id, &[buf], *n);
        }
        written
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

/// Whether a stream error means the server did not process the request: `REFUSED_STREAM`,
/// or a GOAWAY whose last stream id is below the stream (h2 fails exactly those streams
/// with the GOAWAY it received; a request made after it gets the same error unsent).
fn is_refused(e: &h2::Error) -> bool {
    e.is_remote() && (e.is_go_away() || e.reason() == Some(Reason::REFUSED_STREAM))
}

/// A failed HTTP/2 exchange.
pub(crate) struct H2Failure {
    pub error: Error,
    /// The server did not process the request: safe to send again, whatever the method.
    pub refused: bool,
    /// How it broke, for the retry table.
    pub broke: Broke,
}

impl H2Failure {
    fn other(error: Error) -> H2Failure {
        H2Failure {
            error,
            refused: false,
            broke: Broke::Other,
        }
    }

    fn timed_out(what: &str) -> H2Failure {
        H2Failure::other(Error::timeout(what))
    }
}

/// Why sending the body stopped.
enum SendFailed {
    H2(h2::Error),
    Body(crate::conn::BoxError),
    /// The stream gave more or fewer bytes than its declared length.
    Length(String),
}

/// Sending a request body on a stream, as the flow-control windows allow.
struct Sending<'a> {
    body: &'a mut Body,
    stream: SendStream<Bytes>,
    /// The piece being sent.
    piece: Bytes,
    /// The body has given its last piece.
    last: bool,
    /// Nothing more goes out: all of it went, or the stream was closed (`cut`).
    done: bool,
    /// The stream closed for sending before all of the body went.
    cut: bool,
    /// Bytes taken from a body stream so far, held to its declared length: the piece that
    /// reaches the length waits for the stream's end before it goes (`hold`), so a longer
    /// stream never completes the request.
    taken: u64,
    hold: bool,
}

impl<'a> Sending<'a> {
    fn new(body: &'a mut Body, stream: SendStream<Bytes>, done: bool) -> Sending<'a> {
        let (piece, last) = match body {
            Body::Full(b) => (b.clone(), true),
            _ => (Bytes::new(), matches!(body, Body::Empty)),
        };
        Sending {
            body,
            stream,
            piece,
            last,
            done,
            cut: false,
            taken: 0,
            hold: false,
        }
    }

    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), SendFailed>> {
        loop {
            if self.done {
                return Poll::Ready(Ok(()));
            }
            if (self.piece.is_empty() || self.hold) && !self.last {
                let Body::Stream(Some(stream), declared) = self.body else {
                    self.last = true;
                    continue;
                };
                let declared = *declared;
                match stream.as_mut().poll_next(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(None) => {
                        if let Some(declared) = declared.filter(|d| *d != self.taken) {
                            return Poll::Ready(Err(SendFailed::Length(format!(
                                "the body stream ended after {} of the {declared} bytes its \
                                 Content-Length declared",
                                self.taken
                            ))));
                        }
                        self.last = true;
                        self.hold = false;
                    }
                    Poll::Ready(Some(Ok(piece))) if piece.is_empty() => {}
                    Poll::Ready(Some(Ok(piece))) => {
                        self.taken = self.taken.saturating_add(piece.len() as u64);
                        if let Some(declared) = declared {
                            if self.hold || self.taken > declared {
                                return Poll::Ready(Err(SendFailed::Length(format!(
                                    "the body stream gave more than the {declared} bytes its \
                                     Content-Length declared"
                                ))));
                            }
                            self.hold = self.taken == declared;
                        }
                        self.piece = piece;
                    }
                    Poll::Ready(Some(Err(e))) => return Poll::Ready(Err(SendFailed::Body(e))),
                }
                continue;
            }
            if self.piece.is_empty() {
                // The body ended after its last piece went out.
                self.stream
                    .send_data(Bytes::new(), true)
                    .map_err(SendFailed::H2)?;
                self.done = true;
                continue;
            }
            self.stream
                .reserve_capacity(self.piece.len().min(SEND_PIECE));
            match self.stream.poll_capacity(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => {
                    // The stream closed for sending (reset): its response tells why.
                    self.done = true;
                    self.cut = true;
                    return Poll::Pending;
                }
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Err(SendFailed::H2(e))),
                Poll::Ready(Some(Ok(0))) => continue,
                Poll::Ready(Some(Ok(room))) => {
                    let n = room.min(self.piece.len());
                    let out = self.piece.split_to(n);
                    let end = self.piece.is_empty() && self.last;
                    self.stream.send_data(out, end).map_err(SendFailed::H2)?;
                    if end {
                        self.done = true;
                    }
                }
            }
        }
    }
}

/// A response body arriving on a stream.
pub(crate) struct StreamBody {
    recv: RecvStream,
    /// The request's sending half, held until the response ends (dropping both halves
    /// early resets the stream).
    _send: Option<SendStream<Bytes>>,
    timeouts: Timeouts,
    /// The deadline of the wait under way, if it has one.
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
    /// The connection's, to tell why the stream failed.
    state: Arc<H2State>,
}

impl StreamBody {
    /// The next piece of the body, or `None` at its end; the piece's room in the windows
    /// is given back to the server at once. Polled, not an `async fn`, so that the body
    /// reader's future stays as small as it is for HTTP/1.1: the wait's timer lives here.
    pub fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<Bytes>, Error>> {
        if let Poll::Ready(got) = self.recv.poll_data(cx) {
            self.timer = None;
            return Poll::Ready(match got {
                None => Ok(None),
                Some(Ok(piece)) => {
                    let _ = self.recv.flow_control().release_capacity(piece.len());
                    Ok(Some(piece))
                }
                Some(Err(e)) => Err(self.state.unanswered_error().unwrap_or_else(|| {
                    let kind = if e.is_io() || e.is_go_away() || e.is_reset() {
                        ErrorKind::IncompleteBody
                    } else {
                        ErrorKind::Protocol
                    };
                    Error::new(kind, e).context("the HTTP/2 response body ended early")
                })),
            });
        }
        if self.timer.is_none() {
            if let (Some(at), _) = self.timeouts.next_read(clock::now) {
                self.timer = Some(Box::pin(tokio::time::sleep_until(at.into())));
            }
        }
        if let Some(timer) = self.timer.as_mut() {
            if timer.as_mut().poll(cx).is_ready() {
                self.timer = None;
                return Poll::Ready(Err(Error::timeout("reading the HTTP/2 response body")));
            }
        }
        Poll::Pending
    }

    /// Whether the server ended the stream.
    pub fn is_end(&self) -> bool {
        self.recv.is_end_stream()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(kind: u8, flags: u8, payload: &[u8]) -> Vec<u8> {
        let len = payload.len();
        let mut out = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags];
        out.extend_from_slice(&[0, 0, 0, 1]);
        out.extend_from_slice(payload);
        out
    }

    fn settings(pairs: &[(u16, u32)]) -> Vec<u8> {
        let payload: Vec<u8> = pairs
            .iter()
            .flat_map(|(id, v)| id.to_be_bytes().into_iter().chain(v.to_be_bytes()))
            .collect();
        frame(0x4, 0, &payload)
    }

    type Seen = Vec<(bool, Vec<(u16, u32)>)>;

    fn scan(pieces: &[&[u8]]) -> Seen {
        let mut scan = FrameScan::default();
        let mut seen = Vec::new();
        for piece in pieces {
            scan.feed(piece, |s, first| seen.push((first, s.collect())));
        }
        seen
    }

    #[test]
    fn the_window_doubles_on_samples_of_two_thirds_of_it_and_backs_off_otherwise() {
        let now = Instant::now();
        let ms = Duration::from_millis;
        let mut bdp = Bdp {
            window: 64 * 1024,
            seen: 0,
            next: now,
            wait: Duration::ZERO,
        };
        // Under two thirds: no growth, and the next sample waits a round trip, then twice
        // as long each time, up to the most.
        assert_eq!(bdp.sample(40_000, ms(10), now, 40_000), None);
        assert_eq!((bdp.wait, bdp.seen), (ms(10), 40_000));
        assert!(!bdp.wants(40_000, now + ms(20)), "no new bytes");
        assert!(!bdp.wants(50_000, now + ms(5)), "too soon");
        assert!(bdp.wants(50_000, now + ms(10)));
        assert_eq!(bdp.sample(40_000, ms(10), now, 0), None);
        assert_eq!(bdp.wait, ms(20));
        for _ in 0..20 {
            bdp.sample(0, ms(10), now, 0);
        }
        assert_eq!(bdp.wait, BDP_WAIT_MAX);
        // Two thirds or more: twice the window, or twice the sample if larger; the wait
        // back to one round trip.
        assert_eq!(bdp.sample(43_691, ms(10), now, 0), Some(128 * 1024));
        assert_eq!(bdp.wait, ms(10));
        assert_eq!(bdp.sample(400_000, ms(10), now, 0), Some(800_000));
        // Up to the most, then no more samples.
        assert_eq!(bdp.sample(u64::MAX, ms(10), now, 0), Some(ADAPTIVE_MAX));
        assert_eq!(bdp.sample(u64::MAX, ms(10), now, 0), None);
        assert!(!bdp.wants(u64::MAX, now + BDP_WAIT_MAX));
    }

    #[test]
    fn every_settings_frame_is_read_however_the_bytes_are_split() {
        let mut stream = settings(&[(0x3, 4), (0x6, 1000)]);
        stream.extend(frame(0x0, 0, &[7; 20]));
        stream.extend(frame(0x4, 0x1, &[]));
        stream.extend(frame(0x1, 0x4, &[1, 2, 3, 4, 5]));
        stream.extend(settings(&[(0x6, 300)]));
        stream.extend(frame(0x0, 0x1, &[9; 3]));
        let want: Seen = vec![
            (true, vec![(0x3, 4), (0x6, 1000)]),
            (false, vec![(0x6, 300)]),
        ];
        assert_eq!(scan(&[&stream]), want);
        for at in 0..=stream.len() {
            let (a, b) = stream.split_at(at);
            assert_eq!(scan(&[a, b]), want, "split at {at}");
        }
        let bytes: Vec<&[u8]> = stream.chunks(1).collect();
        assert_eq!(scan(&bytes), want);
    }

    #[test]
    fn an_empty_preface_counts_and_a_stream_not_led_by_settings_is_left_alone() {
        let mut stream = frame(0x4, 0, &[]);
        stream.extend(settings(&[(0x6, 10)]));
        assert_eq!(
            scan(&[&stream]),
            vec![(true, vec![]), (false, vec![(0x6, 10)])]
        );
        let mut wrong = frame(0x0, 0, &[1, 2]);
        wrong.extend(settings(&[(0x6, 10)]));
        assert_eq!(scan(&[&wrong]), Seen::new());
        // An oversized SETTINGS frame is passed over, not gathered.
        let mut big = settings(&[]);
        big.extend(frame(0x4, 0, &vec![0; MAX_SETTINGS_PAYLOAD + 6]));
        big.extend(settings(&[(0x6, 5)]));
        assert_eq!(scan(&[&big]), vec![(true, vec![]), (false, vec![(0x6, 5)])]);
    }
}
