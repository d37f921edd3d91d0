//! One HTTP/1.x connection: its socket (plain or TLS), its read buffer, and what the
//! reuse decision needs to know about it (id, age, runtime, responses served, the server's
//! keep-alive terms).
//!
//! It dials (`connect.rs`, `tls.rs`), runs one exchange at a time (`exchange.rs`: write the
//! request while watching for an early answer, read the head, read or drain the body),
//! decides after each whether it may be reused (`reuse.rs`, pure) and probes itself while
//! idle (`probe.rs`). It knows nothing of the pool or the client: `proto` decides what the
//! bytes mean, and the pool carries out the reuse decision.

pub(crate) mod connect;
pub(crate) mod dns;
mod exchange;
pub(crate) mod h2;
#[cfg(feature = "hickory-dns")]
mod hickory;
pub(crate) mod origin;
pub(crate) mod probe;
pub(crate) mod proxy;
pub(crate) mod reuse;
mod spare;
pub(crate) mod tls;
mod upgraded;
mod verbose;
mod watch;
mod write;

use std::future::Future;
use std::io;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use rustls::ClientConfig;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Sleep;
use tokio_rustls::client::TlsStream;

use crate::clock;
use crate::error::{Error, ErrorKind};

pub(crate) use dns::NotResolved;
pub use dns::{Resolve, Resolving};
pub(crate) use exchange::{Answer, BodyEvent, Broke, DrainStop, ExchangeError, Progress, Timeouts};
#[cfg(feature = "hickory-dns")]
pub use hickory::HickoryResolver;
pub(crate) use origin::{BuildOriginHasher, Origin, Scheme};
pub(crate) use probe::Liveness;
pub(crate) use proxy::{ProxyHeaders, ProxyKind, ProxyTarget, SocksLogin};
pub(crate) use reuse::{Ended, Expiry, IdleTerms, NoReuse, Reuse, ReuseLimits};
pub use upgraded::Upgraded;
pub use write::BoxError;
pub(crate) use write::{Body, BodyStream};

/// How much room a read asks for at first. A read that fills its room doubles the next
/// one's, up to `READ_MAX`, so a large body takes few reads (and few chunks); the size
/// starts again from `READ_CHUNK` when the connection goes idle.
const READ_CHUNK: usize = 8 * 1024;
const READ_MAX: usize = 256 * 1024;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// The socket under a connection.
pub(crate) enum Io {
    Tcp(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
    /// TLS to an origin inside a tunnel through an `https://` proxy (TLS to the proxy).
    TlsInTls(Box<TlsStream<TlsStream<TcpStream>>>),
    /// Plain HTTP over a Unix domain socket (`unix_socket`).
    #[cfg(unix)]
    Unix(tokio::net::UnixStream),
    /// TLS over a Unix domain socket (`unix_socket` and an `https` origin).
    #[cfg(unix)]
    UnixTls(Box<TlsStream<tokio::net::UnixStream>>),
}

impl Io {
    /// What the innermost TLS session tells, if there is one.
    fn tls_info(&self) -> Option<tls::TlsInfo> {
        match self {
            Io::Tcp(_) => None,
            Io::Tls(s) => Some(tls::tls_info(s.get_ref().1)),
            Io::TlsInTls(s) => Some(tls::tls_info(s.get_ref().1)),
            #[cfg(unix)]
            Io::Unix(_) => None,
            #[cfg(unix)]
            Io::UnixTls(s) => Some(tls::tls_info(s.get_ref().1)),
        }
    }
}

impl AsyncRead for Io {
    #[inline]
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Io::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            Io::TlsInTls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            #[cfg(unix)]
            Io::Unix(s) => Pin::new(s).poll_read(cx, buf),
            #[cfg(unix)]
            Io::UnixTls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Io {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            // A request's write almost always goes out at once: tried first without
            // the polling machinery (the runtime's budget and readiness registration,
            // about 90 instructions), which only a full socket buffer needs.
            Io::Tcp(s) => match s.try_write(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => Pin::new(s).poll_write(cx, buf),
                done => Poll::Ready(done),
            },
            Io::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            Io::TlsInTls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            #[cfg(unix)]
            Io::Unix(s) => Pin::new(s).poll_write(cx, buf),
            #[cfg(unix)]
            Io::UnixTls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Io::Tcp(s) => Pin::new(s).poll_flush(cx),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            Io::TlsInTls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            #[cfg(unix)]
            Io::Unix(s) => Pin::new(s).poll_flush(cx),
            #[cfg(unix)]
            Io::UnixTls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Io::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            Io::TlsInTls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            #[cfg(unix)]
            Io::Unix(s) => Pin::new(s).poll_shutdown(cx),
            #[cfg(unix)]
            Io::UnixTls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// The TLS handshake for `host` over `stream`, by `deadline` (`None`: no limit).
async fn tls_by<S>(
    tls: Option<&Arc<ClientConfig>>,
    host: &str,
    stream: S,
    deadline: Option<Instant>,
) -> Result<TlsStream<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let Some(tls) = tls else {
        return Err(Error::msg(
            ErrorKind::Tls,
            "no TLS configuration could be built",
        ));
    };
    let handshake = tls::handshake(tls, host, stream);
    match deadline {
        None => handshake.await,
        Some(d) => match tokio::time::timeout_at(d.into(), handshake).await {
            Ok(stream) => stream,
            Err(_) => Err(Error::timeout("TLS handshake")),
        },
    }
}

/// An open connection to one origin.
///
/// Laid out by when its fields are used (`repr(C)` keeps this order), on its own cache
/// lines: with thousands of hosts a connection is cold when its request comes, and each
/// line it touches is a miss. Checkout's look first, then the exchange's state, the
/// server's terms and address (four lines in all), and last what a request never reads.
#[repr(C, align(64))]
pub(crate) struct Connection {
    io: Io,
    buf: BytesMut,
    /// The runtime whose I/O driver the socket is registered with.
    runtime: Option<tokio::runtime::Id>,
    /// Notes when something arrives while idle (made the first time it is watched).
    watch: Option<watch::Watcher>,
    /// When the watch was last armed: when the connection went idle.
    watched_since: Option<Instant>,
    /// The deadlines of the current exchange's reads.
    timeouts: Timeouts,
    /// The timer of timed reads: made for the first, then kept (see `timer_by`).
    timer: Option<Pin<Box<Sleep>>>,
    /// Bytes read since the current exchange began: a response has begun when non-zero.
    received: u64,
    /// Room the next read asks for (`READ_CHUNK` to `READ_MAX`).
    read_size: usize,
    /// Responses completed on this connection.
    responses: u32,
    /// The buffer has been more than `READ_CHUNK` since the connection last went idle (a
    /// large head, or reads that filled their room): it is not kept as a spare.
    outgrown: bool,
    /// Every byte read and written is traced (`connection_verbose`).
    verbose: bool,
    /// What the server said of its terms so far.
    terms: reuse::ServerTerms,
    /// The server's address, as connected (every response carries it).
    peer: Option<std::net::SocketAddr>,
    // The four lines above are the ones a request touches; what follows, only with a
    // lifetime limit set, on the first exchange, or with tracing on.
    created: Instant,
    id: u64,
    /// The round trip of the first exchange (last request byte to first response byte).
    first_rtt: Option<Duration>,
}

/// How long a connection may have been idle for its watch's silence to stand for the
/// probe at checkout (`Connection::checkout_probe`).
pub(crate) const QUIET_TRUST: Duration = Duration::from_millis(1);

impl Connection {
    /// Dials `origin`: TCP (to the origin, or to its proxy, asking it for a tunnel when
    /// the origin is https), then TLS for https, all by `deadline` (`None`: no limit).
    /// `report` says what the dial did, whether it succeeded or not.
    pub async fn open(
        origin: &Origin,
        deadline: Option<Instant>,
        tls: Option<&Arc<ClientConfig>>,
        dialer: &connect::Dialer,
        report: &mut connect::DialReport,
    ) -> Result<Connection, Error> {
        let mut conn = Connection::open_io(origin, deadline, tls, dialer, report).await?;
        conn.verbose = dialer.verbose;
        Ok(conn)
    }

    /// A dial's state is boxed by whoever dials, so only the plain TCP connect is inline
    /// here: TLS, a proxy and a Unix socket each go on in a box of their own (their
    /// handshakes cost far more than the allocation), which keeps a crawler's many plain
    /// dials from allocating and copying the largest path's state (TLS inside TLS).
    async fn open_io(
        origin: &Origin,
        deadline: Option<Instant>,
        tls: Option<&Arc<ClientConfig>>,
        dialer: &connect::Dialer,
        report: &mut connect::DialReport,
    ) -> Result<Connection, Error> {
        #[cfg(unix)]
        if let Some(path) = &dialer.unix_socket {
            return Box::pin(Connection::open_unix(origin, path, tls, deadline)).await;
        }
        if let Some(proxy) = origin.proxy() {
            return Box::pin(Connection::open_via_proxy(
                origin, proxy, deadline, tls, dialer, report,
            ))
            .await;
        }
        let tcp = dialer
            .connect(
                origin.host(),
                origin.port(),
                origin.scheme().default_port(),
                deadline,
                report,
            )
            .await?;
        let peer = tcp.peer_addr().ok();
        let io = match origin.scheme() {
            Scheme::Http => Io::Tcp(tcp),
            Scheme::Https => Io::Tls(Box::new(
                Box::pin(tls_by(tls, origin.host(), tcp, deadline)).await?,
            )),
        };
        Ok(Connection::new(io, peer))
    }

    /// Dials `origin` through `proxy`: TCP to the proxy, then what its kind asks (a
    /// tunnel, TLS to the proxy, a SOCKS handshake), then TLS to an https origin.
    async fn open_via_proxy(
        origin: &Origin,
        proxy: &ProxyTarget,
        deadline: Option<Instant>,
        tls: Option<&Arc<ClientConfig>>,
        dialer: &connect::Dialer,
        report: &mut connect::DialReport,
    ) -> Result<Connection, Error> {
        let mut tcp = dialer
            .connect(
                proxy.host(),
                proxy.port(),
                proxy.kind().default_port(),
                deadline,
                report,
            )
            .await
            .map_err(|e| e.prefix("proxy"))?;
        let peer = tcp.peer_addr().ok();
        let (io, via) = match (proxy.kind(), origin.scheme()) {
            (ProxyKind::Http, Scheme::Http) => (Io::Tcp(tcp), connect::Via::Forward),
            (ProxyKind::Http, Scheme::Https) => {
                proxy::tunnel(&mut tcp, proxy, origin, deadline).await?;
                let tls = tls_by(tls, origin.host(), tcp, deadline).await?;
                (Io::Tls(Box::new(tls)), connect::Via::Tunnel)
            }
            (ProxyKind::Https, scheme) => {
                // TLS to the proxy offers HTTP/1.1 only: that is what is spoken to it.
                let proxy_tls = tls.map(tls::for_proxy);
                let mut to_proxy = tls_by(proxy_tls.as_ref(), proxy.host(), tcp, deadline)
                    .await
                    .map_err(|e| e.prefix(&format!("proxy {proxy}")))?;
                match scheme {
                    Scheme::Http => (Io::Tls(Box::new(to_proxy)), connect::Via::Forward),
                    Scheme::Https => {
                        proxy::tunnel(&mut to_proxy, proxy, origin, deadline).await?;
                        let tls = tls_by(tls, origin.host(), to_proxy, deadline).await?;
                        (Io::TlsInTls(Box::new(tls)), connect::Via::Tunnel)
                    }
                }
            }
            (
                ProxyKind::Socks5 | ProxyKind::Socks5h | ProxyKind::Socks4 | ProxyKind::Socks4a,
                scheme,
            ) => {
                proxy::socks_connect(&mut tcp, proxy, origin, dialer, deadline, report).await?;
                let io = match scheme {
                    Scheme::Http => Io::Tcp(tcp),
                    Scheme::Https => {
                        Io::Tls(Box::new(tls_by(tls, origin.host(), tcp, deadline).await?))
                    }
                };
                (io, connect::Via::Socks)
            }
        };
        report.via = via;
        Ok(Connection::new(io, peer))
    }

    /// Connects to the Unix domain socket at `path` for `origin`, by `deadline`, whatever
    /// the proxies: plain HTTP for an `http` origin, TLS for an `https` one (the URL's
    /// host the name for SNI and the certificate, as over TCP).
    #[cfg(unix)]
    async fn open_unix(
        origin: &Origin,
        path: &std::path::Path,
        tls: Option<&Arc<ClientConfig>>,
        deadline: Option<Instant>,
    ) -> Result<Connection, Error> {
        let connect = tokio::net::UnixStream::connect(path);
        let connected = match deadline {
            None => connect.await,
            Some(d) => match tokio::time::timeout_at(d.into(), connect).await {
                Ok(r) => r,
                Err(_) => return Err(Error::timeout("connecting to the Unix socket")),
            },
        };
        let stream = connected.map_err(|e| {
            Error::new(ErrorKind::Connect, e)
                .context(format!("connecting to the Unix socket {}", path.display()))
        })?;
        let io = match origin.scheme() {
            Scheme::Http => Io::Unix(stream),
            Scheme::Https => Io::UnixTls(Box::new(
                tls_by(tls, origin.host(), stream, deadline).await?,
            )),
        };
        Ok(Connection::new(io, None))
    }

    fn new(io: Io, peer: Option<std::net::SocketAddr>) -> Connection {
        Connection {
            io,
            buf: BytesMut::new(),
            read_size: READ_CHUNK,
            outgrown: false,
            verbose: false,
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            // The pool's clock, which `max_lifetime` is checked against.
            created: clock::now(),
            runtime: tokio::runtime::Handle::try_current().ok().map(|h| h.id()),
            peer,
            responses: 0,
            terms: reuse::ServerTerms::default(),
            received: 0,
            timeouts: Timeouts::default(),
            timer: None,
            first_rtt: None,
            watch: None,
            watched_since: None,
        }
    }

    /// A process-unique id, for tracing.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The server chose HTTP/2 by ALPN.
    /// What the innermost TLS session tells: the origin's, when the origin is `https`
    /// (over an `https://` proxy to an `http` origin, it would be the proxy's).
    pub fn tls_info(&self) -> Option<tls::TlsInfo> {
        self.io.tls_info()
    }

    pub fn alpn_h2(&self) -> bool {
        match &self.io {
            Io::Tcp(_) => false,
            Io::Tls(s) => s.get_ref().1.alpn_protocol() == Some(b"h2"),
            Io::TlsInTls(s) => s.get_ref().1.alpn_protocol() == Some(b"h2"),
            #[cfg(unix)]
            Io::Unix(_) => false,
            #[cfg(unix)]
            Io::UnixTls(s) => s.get_ref().1.alpn_protocol() == Some(b"h2"),
        }
    }

    /// Sets up HTTP/2 on the socket (`h2` agreed by ALPN, or prior knowledge): the
    /// connection becomes an [`h2::H2Conn`] with the same id, and the driver its task runs.
    pub async fn into_h2(
        self,
        settings: h2::H2Settings,
        deadline: Option<Instant>,
    ) -> Result<(h2::H2Conn, h2::H2Driver), Error> {
        let verbose = self.verbose.then_some(self.id);
        h2::handshake(self.io, self.id, self.peer, settings, deadline, verbose).await
    }

    /// The server's address, as connected.
    pub fn peer_addr(&self) -> Option<std::net::SocketAddr> {
        self.peer
    }

    /// The socket, for the protocol a `101` switched to, with the bytes read past the
    /// response's head.
    pub fn into_upgraded(self) -> Upgraded {
        Upgraded::new(self.io, self.buf, self.verbose.then_some(self.id))
    }

    /// The runtime the connection was opened on (`None` outside any runtime).
    pub fn runtime(&self) -> Option<tokio::runtime::Id> {
        self.runtime
    }

    /// The read buffer: bytes received and not yet consumed.
    fn buf(&mut self) -> &mut BytesMut {
        &mut self.buf
    }

    /// Makes room for the next read: a read that fills its room doubles the next one's.
    fn reserve_for_read(&mut self) {
        if self.buf.capacity() - self.buf.len() < self.read_size / 2 {
            if self.buf.capacity() == 0 {
                if let Some(kept) = spare::take() {
                    self.buf = kept;
                }
            }
            self.buf.reserve(self.read_size);
            self.outgrown |= self.buf.capacity() > READ_CHUNK;
        }
    }

    /// Room for the `rest` of a body read whole (`read_whole_body`), of which `buf` holds
    /// the beginning. Once a third of it or more is in, the buffer grows to the body's
    /// size at once, where reading on would double it past that size (a 1 MiB body would
    /// end in 2 MiB, moved or copied at its last growth); and when the rest fits, no read
    /// asks for more room. The buffer stays within three times what has arrived: the
    /// length the server declared still allocates nothing ahead of its bytes.
    fn room_for_rest(&mut self, rest: usize) {
        let len = self.buf.len();
        if self.buf.capacity() - len < rest && rest <= len.saturating_mul(2) {
            self.buf.reserve(rest);
            self.outgrown |= self.buf.capacity() > READ_CHUNK;
        }
        let room = self.buf.capacity() - len;
        if room >= rest {
            self.read_size = self.read_size.min(room.saturating_mul(2));
        }
    }

    /// Polls one read into the buffer; 0 means the peer closed.
    ///
    /// A connection without a buffer (its last went to the spares when its exchange
    /// ended) takes one for the read, and gives it back if nothing has come: a request
    /// waiting for its response holds no buffer, and the read that finds it takes the
    /// spare given back last, still in cache, rather than one taken when the request was
    /// written and cold by the time its response comes (64 requests in flight held 64
    /// buffers, 512 KiB, and a thread's 8 spares ran out whenever requests waited).
    fn poll_read_more(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let lent = self.buf.capacity() == 0;
        self.reserve_for_read();
        let room = self.buf.capacity() - self.buf.len();
        let read = pin!(self.io.read_buf(&mut self.buf)).poll(cx);
        match read {
            Poll::Ready(Ok(n)) => {
                if self.verbose {
                    verbose::read(self.id, &self.buf[self.buf.len() - n..]);
                }
                self.received += n as u64;
                if n == room && self.read_size < READ_MAX {
                    self.read_size *= 2;
                }
            }
            Poll::Pending if lent && self.buf.is_empty() && !self.outgrown => {
                spare::give(std::mem::take(&mut self.buf));
            }
            _ => {}
        }
        read
    }

    /// Reads more bytes into the buffer within the exchange's deadlines; 0 means the peer
    /// closed.
    async fn read_more(&mut self) -> Result<usize, exchange::ReadError> {
        let (deadline, which) = self.timeouts.next_read(clock::now);
        self.read_more_until(deadline, which).await
    }

    /// `read_more` with its deadline worked out. The read is polled before the timer, so
    /// bytes there at the deadline still count.
    async fn read_more_until(
        &mut self,
        deadline: Option<Instant>,
        which: exchange::TimedOut,
    ) -> Result<usize, exchange::ReadError> {
        let Some(at) = deadline else {
            let read = std::future::poll_fn(|cx| self.poll_read_more(cx));
            return read.await.map_err(exchange::ReadError::Io);
        };
        let at = tokio::time::Instant::from_std(at);
        let mut timer = self.timer_by(at);
        let read = std::future::poll_fn(|cx| {
            if let Poll::Ready(r) = self.poll_read_more(cx) {
                return Poll::Ready(Some(r));
            }
            loop {
                match timer.as_mut().poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(()) if timer.deadline() >= at => return Poll::Ready(None),
                    // An earlier deadline, left set: on to this one.
                    Poll::Ready(()) => timer.as_mut().reset(at),
                }
            }
        })
        .await;
        self.timer = Some(timer);
        match read {
            Some(r) => r.map_err(exchange::ReadError::Io),
            None => Err(exchange::ReadError::TimedOut(which)),
        }
    }

    /// The connection's timer, set no later than `at`. One timer serves every timed read
    /// of the connection, where a timer for each read cost a box, a registration and a
    /// removal (about 950 instructions, an eighth of a GET). A later deadline (the next
    /// read's, the next request's) leaves it as it is: when it goes off before the
    /// deadline of the read waiting on it, that read sets it to its own
    /// (`read_more_until`), so with a request timeout of 30 s a busy connection moves it
    /// about once in 30 s. An earlier deadline sets it at once. A read that is dropped
    /// while it waits takes the timer with it.
    /// While the connection is idle the timer stays set for the last deadline, with the
    /// last reader's waker: if the connection is still idle then, that task is woken
    /// once for nothing, and the timer is set again by the next timed read. (Polling it
    /// at release with another waker would let go sooner, but a `Sleep` polled once its
    /// runtime is shutting down panics, and a connection can be released from a drop.)
    fn timer_by(&mut self, at: tokio::time::Instant) -> Pin<Box<Sleep>> {
        match self.timer.take() {
            Some(mut timer) => {
                if timer.deadline() > at {
                    timer.as_mut().reset(at);
                }
                timer
            }
            None => Box::pin(tokio::time::sleep_until(at)),
        }
    }

    /// The exchange's response is complete and its connection is offered for reuse: the
    /// one place the reuse decision is made. An idle connection keeps no read buffer: it goes to
    /// this thread's spares (`spare`), for the next read; so does a closing one's, if empty.
    pub fn finish_exchange(&mut self, ended: Ended, now: Instant, limits: &ReuseLimits) -> Reuse {
        self.responses = self.responses.saturating_add(1);
        let history = reuse::History {
            created: self.created,
            responses: self.responses,
            terms: self.terms,
        };
        let ended = Ended {
            leftover: ended.leftover || !self.buf.is_empty(),
            ..ended
        };
        let (answer, terms) = reuse::decide(now, history, ended, limits);
        self.terms = terms;
        // A connection about to close gives its buffer too (when nothing is left in it):
        // a crawler at its caps closes and dials all the time, and each dial would read
        // into a new buffer.
        if matches!(answer, Reuse::Idle(_)) || self.buf.is_empty() {
            let buf = std::mem::take(&mut self.buf);
            // A buffer grown for a large head or body goes back to the allocator.
            if !std::mem::take(&mut self.outgrown) {
                spare::give(buf);
            }
            self.read_size = READ_CHUNK;
        }
        answer
    }

    /// The round trip measured on the connection's first exchange.
    pub fn rtt(&self) -> Option<Duration> {
        self.first_rtt
    }

    /// Responses completed on this connection.
    pub fn responses(&self) -> u32 {
        self.responses
    }

    /// Starts noting when bytes or a FIN arrive on the idle connection (`idle_event`),
    /// which went idle at `now`.
    pub fn watch_idle(&mut self, now: Instant) {
        // `created` is read only for a first watch: it lies on a line a request does
        // not otherwise touch.
        let watch = self
            .watch
            .get_or_insert_with(|| watch::Watcher::new(self.created));
        // One call for the TCP sockets, so that it stays inlined on the plain path.
        let tcp = match &self.io {
            Io::Tcp(s) => s,
            Io::Tls(s) => s.get_ref().0,
            Io::TlsInTls(s) => s.get_ref().0.get_ref().0,
            #[cfg(unix)]
            Io::Unix(s) => {
                watch.arm(s);
                self.watched_since = Some(now);
                return;
            }
            #[cfg(unix)]
            Io::UnixTls(s) => {
                watch.arm(s.get_ref().0);
                self.watched_since = Some(now);
                return;
            }
        };
        watch.arm(tcp);
        self.watched_since = Some(now);
    }

    /// When bytes or a FIN arrived since `watch_idle`, if they did.
    pub fn idle_event(&self) -> Option<Instant> {
        self.watch.as_ref().and_then(|w| w.woken_at())
    }

    /// Checks without blocking whether the server closed or spoke while idle. When the
    /// watch saw something arrive yet the connection is alive (a TLS session ticket or
    /// key update), the watch is armed again, so that the time it keeps is a close's.
    pub fn probe(&mut self) -> Liveness {
        let alive = self.probe_socket();
        if alive == Liveness::Alive && self.idle_event().is_some() {
            self.watch_idle(clock::now());
        }
        alive
    }

    /// The probe as the sweep on runtime `here` runs it: a connection of that runtime
    /// whose watch is armed and has seen nothing arrive is taken as alive without asking
    /// the socket (a FIN the runtime has not yet seen is found by the next sweep, or at
    /// checkout). So a sweep over 10,000 quiet idle connections makes no system call.
    /// Connections of other runtimes are asked: theirs may no longer run to wake them.
    pub fn sweep_probe(&mut self, here: Option<tokio::runtime::Id>) -> Liveness {
        if self.quiet_on(here) {
            return Liveness::Alive;
        }
        self.probe()
    }

    /// The probe before reuse by a request on runtime `here` at `now`. A plain TCP
    /// connection whose watch has seen nothing arrive is taken as alive without asking the
    /// socket when it has been idle for less than [`QUIET_TRUST`], or whatever its idle
    /// time when the request is `retryable` (it is retried on a new connection should this
    /// one turn out closed before the response begins). The runtime's readiness already
    /// answers: a FIN that reached the socket before the response was read keeps it
    /// readable (tokio never clears a read-closed readiness), so the watch sees it at
    /// once, and one that came while idle is seen at the runtime's next look at its
    /// events. What is left is a FIN that arrived since that look, microseconds in a busy
    /// loop. For a request that cannot be retried the socket is asked after longer idle,
    /// as a server's idle timeout may have fired a moment ago: the close race it narrows
    /// is the one that loses requests. A retryable request skips the system call (a
    /// crawler's every request, whose connections idle for long), and in that narrow race
    /// pays a retry instead. A TLS connection is always asked: rustls may hold a
    /// `close_notify` read with the response, which no readiness would show.
    pub fn checkout_probe(
        &mut self,
        here: tokio::runtime::Id,
        now: Instant,
        retryable: bool,
    ) -> Liveness {
        let trusted = retryable
            || self
                .watched_since
                .is_some_and(|t| now.saturating_duration_since(t) < QUIET_TRUST);
        if trusted && self.quiet_on(Some(here)) {
            match &mut self.io {
                Io::Tcp(_) => return Liveness::Alive,
                #[cfg(unix)]
                Io::Unix(_) => return Liveness::Alive,
                #[cfg(unix)]
                Io::UnixTls(s) => return probe::held(s.get_mut().1),
                // Nothing arrived since the response, but rustls may hold records read
                // with it (a `close_notify`): asked of rustls, not of the socket.
                Io::Tls(s) => return probe::held(s.get_mut().1),
                Io::TlsInTls(_) => {}
            }
        }
        self.probe()
    }

    /// Nothing buffered, and the watch, armed on runtime `here`, has seen nothing arrive.
    fn quiet_on(&self, here: Option<tokio::runtime::Id>) -> bool {
        self.buf.is_empty()
            && here.is_some()
            && self.runtime == here
            && self.watch.as_ref().is_some_and(|w| w.quiet())
    }

    fn probe_socket(&mut self) -> Liveness {
        if !self.buf.is_empty() {
            return Liveness::Unsolicited;
        }
        match &mut self.io {
            Io::Tcp(s) => probe::probe_tcp(socket2::SockRef::from(&*s)),
            #[cfg(unix)]
            Io::Unix(s) => probe::probe_tcp(socket2::SockRef::from(&*s)),
            #[cfg(unix)]
            Io::UnixTls(s) => {
                let (unix, session) = s.get_mut();
                probe::probe_tls(socket2::SockRef::from(&*unix), session)
            }
            Io::Tls(s) => {
                let (tcp, session) = s.get_mut();
                probe::probe_tls(socket2::SockRef::from(&*tcp), session)
            }
            Io::TlsInTls(s) => {
                let (to_proxy, inner) = s.get_mut();
                let (tcp, outer) = to_proxy.get_mut();
                probe::probe_tls_in_tls(tcp, outer, inner)
            }
        }
    }
}

#[cfg(test)]
mod layout_tests {
    use std::mem::{align_of, offset_of, size_of};

    use super::Connection;

    /// A request's fields fill the first four cache lines of the connection, and what it
    /// never reads comes after them (see the comment on `Connection`).
    #[test]
    fn the_fields_a_request_touches_fill_the_first_four_lines() {
        assert_eq!(align_of::<Connection>(), 64);
        let hot_end = offset_of!(Connection, peer) + size_of::<Option<std::net::SocketAddr>>();
        assert!(offset_of!(Connection, timer) < hot_end);
        assert!(hot_end <= 4 * 64, "the hot fields end at {hot_end}");
        for (name, at) in [
            ("created", offset_of!(Connection, created)),
            ("id", offset_of!(Connection, id)),
            ("first_rtt", offset_of!(Connection, first_rtt)),
        ] {
            assert!(at >= hot_end, "{name} at {at}, among the hot fields");
        }
    }
}
