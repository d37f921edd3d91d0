//! HTTP/2 test servers.
//!
//! - [`H2Server`]: the `h2` crate's server side on 127.0.0.1:0, over plain TCP (for
//!   prior knowledge) or TLS (ALPN `h2`, or `h2` and `http/1.1`). It answers as its
//!   [`H2Script`] says: `GET /big` with [`BIG`] bytes, `GET /slow` after a delay,
//!   `/stall` with part of its body, then silence for the same delay, `/gzip` with
//!   [`GZIP_TEXT`] gzipped, `/redirect` with a `302` to `/a`, any other
//!   request with its body echoed (`ok` when empty); a request with `Expect:
//!   100-continue` gets its `100` after 200 ms (noting whether the body came before it),
//!   or, at `/refuse-expect`, a final `413` (counting the body bytes that come anyway); the first `refuse` streams are
//!   reset with `REFUSED_STREAM` unprocessed; after `freeze_after` streams a connection
//!   stops being read (so a PING goes unanswered). It records every request it processed
//!   and counts connections and the most streams open at once.
//! - [`GoawayServer`]: frames written by hand, for what `h2` cannot be made to say: on its
//!   first connection it waits for `want` complete requests, answers the first `answer`
//!   of them, sends GOAWAY with the last of those as its last stream id, and closes; every
//!   later connection answers everything. So the streams above that id were certainly not
//!   processed, and the client must send them again. Or (`lowering_to_zero`) its first
//!   connection allows one stream, then none, as it answers the first request.
//!
//! Every server stops by itself: when dropped (its tasks are aborted) and in any case
//! after 60 s of real time.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use http::{Response, StatusCode};
use rustls::ServerConfig;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use super::tls::CertKey;

/// The size of the body answered to `GET /big`.
pub const BIG: usize = 4 << 20;

/// The text `/gzip` answers, gzipped.
pub const GZIP_TEXT: &str = "hello over HTTP/2, gzipped";

const LIFETIME: Duration = Duration::from_secs(60);

/// What an [`H2Server`] does.
#[derive(Clone, Default)]
pub struct H2Script {
    /// `SETTINGS_MAX_CONCURRENT_STREAMS` (h2's default when `None`).
    pub max_streams: Option<u32>,
    /// `SETTINGS_MAX_HEADER_LIST_SIZE` (none when `None`).
    pub max_header_list: Option<u32>,
    /// The first this many streams (of all connections) are refused unprocessed.
    pub refuse: usize,
    /// After this many streams, a connection is no longer read (PINGs go unanswered).
    pub freeze_after: Option<usize>,
    /// How long `/slow` waits before answering.
    pub slow: Duration,
    /// How long a connection waits before the server's preface (its SETTINGS) is sent.
    pub preface_delay: Duration,
    /// ALPN for TLS: `h2` only, or `h2` and `http/1.1` (`None`: plain TCP).
    pub tls: Option<(CertKey, Vec<Vec<u8>>)>,
}

/// A request the server processed.
#[derive(Clone, Debug)]
pub struct Seen {
    pub conn: usize,
    pub method: String,
    /// `:authority`.
    pub authority: String,
    pub path: String,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

#[derive(Default, Debug, Clone)]
pub struct H2Stats {
    pub connections: usize,
    pub refused: usize,
    /// Most streams open at once on one connection.
    pub max_streams_open: usize,
    /// Most streams open at once over all connections (since `reset_max_open_in_all`).
    pub max_open_in_all: usize,
    /// Streams the client reset before their response ended.
    pub resets_seen: usize,
    /// Requests with `Expect: 100-continue` whose body had begun to arrive 200 ms after
    /// the head, before any `100` was sent.
    pub data_before_continue: usize,
    /// Body bytes that arrived after a final answer refused an expectation.
    pub late_body_bytes: usize,
    /// Expectations refused (and the body bytes after them counted).
    pub refusals: usize,
    /// The most a response body could be sent at once: the client's windows, as h2
    /// grants them to a stream that reserves its whole body.
    pub max_send_capacity: usize,
}

#[derive(Default)]
struct State {
    stats: H2Stats,
    seen: Vec<Seen>,
    open_now: HashMap<usize, usize>,
}

/// A running HTTP/2 server. Dropping it stops it.
pub struct H2Server {
    addr: SocketAddr,
    tls: bool,
    state: Arc<Mutex<State>>,
    task: tokio::task::AbortHandle,
    _lifetime: std::sync::mpsc::Sender<()>,
}

impl Drop for H2Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl H2Server {
    pub async fn start(script: H2Script) -> H2Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State::default()));
        let acceptor = script.tls.as_ref().map(|(cert, alpn)| {
            let mut config = ServerConfig::builder_with_provider(super::tls::provider())
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(vec![cert.cert_der.clone()], cert.private_key())
                .unwrap();
            config.alpn_protocols = alpn.clone();
            TlsAcceptor::from(Arc::new(config))
        });
        let tls = script.tls.is_some();
        let task = tokio::spawn(accept_loop(listener, acceptor, script, state.clone()));
        let task = task.abort_handle();
        H2Server {
            addr,
            tls,
            state,
            _lifetime: stop_after(task.clone()),
            task,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn url(&self, host: &str, path: &str) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{host}:{}{path}", self.addr.port())
    }

    pub fn stats(&self) -> H2Stats {
        self.state.lock().unwrap().stats.clone()
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }

    /// Starts `max_open_in_all` again from the streams open now.
    pub fn reset_max_open_in_all(&self) {
        let mut s = self.state.lock().unwrap();
        s.stats.max_open_in_all = s.open_now.values().sum();
    }
}

/// Aborts `task` after the lifetime, unless the returned sender is dropped first.
fn stop_after(task: tokio::task::AbortHandle) -> std::sync::mpsc::Sender<()> {
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let _ = std::thread::Builder::new()
        .name("h2-server-lifetime".into())
        .spawn(move || {
            if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(LIFETIME) {
                task.abort();
            }
        });
    tx
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: Option<TlsAcceptor>,
    script: H2Script,
    state: Arc<Mutex<State>>,
) {
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            return;
        };
        let conn = {
            let mut s = state.lock().unwrap();
            s.stats.connections += 1;
            s.stats.connections
        };
        let (script, state, acceptor) = (script.clone(), state.clone(), acceptor.clone());
        tasks.spawn(async move {
            match acceptor {
                None => serve(tcp, conn, script, state).await,
                Some(acceptor) => {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    if tls.get_ref().1.alpn_protocol() == Some(b"h2") {
                        serve(tls, conn, script, state).await;
                    } else {
                        serve_http1(tls).await;
                    }
                }
            }
        });
    }
}

/// One HTTP/1.1 connection (here after ALPN chose `http/1.1`; plain TCP in other tests):
/// answers `ok` to each request until the client closes it.
pub async fn serve_http1<T: AsyncRead + AsyncWrite + Unpin>(mut io: T) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            buf.drain(..end + 4);
            let reply = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
            if io.write_all(reply).await.is_err() {
                return;
            }
        }
        match io.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

async fn serve<T: AsyncRead + AsyncWrite + Unpin + Send + 'static>(
    io: T,
    conn: usize,
    script: H2Script,
    state: Arc<Mutex<State>>,
) {
    let mut builder = h2::server::Builder::new();
    if let Some(n) = script.max_streams {
        builder.max_concurrent_streams(n);
    }
    if let Some(n) = script.max_header_list {
        builder.max_header_list_size(n);
    }
    if !script.preface_delay.is_zero() {
        tokio::time::sleep(script.preface_delay).await;
    }
    let Ok(mut h2) = builder.handshake::<T, Bytes>(io).await else {
        return;
    };
    let mut streams = 0usize;
    loop {
        let next = match script.freeze_after {
            Some(n) if streams >= n => {
                match tokio::time::timeout(Duration::from_millis(50), h2.accept()).await {
                    Ok(next) => next,
                    Err(_) => {
                        // Frozen: the connection is held but never read again.
                        std::future::pending::<()>().await;
                        return;
                    }
                }
            }
            _ => h2.accept().await,
        };
        let Some(Ok((request, respond))) = next else {
            return;
        };
        streams += 1;
        let (script, state) = (script.clone(), state.clone());
        tokio::spawn(handle(request, respond, conn, script, state));
    }
}

async fn handle(
    request: http::Request<h2::RecvStream>,
    mut respond: h2::server::SendResponse<Bytes>,
    conn: usize,
    script: H2Script,
    state: Arc<Mutex<State>>,
) {
    {
        let mut s = state.lock().unwrap();
        if s.stats.refused < script.refuse {
            s.stats.refused += 1;
            drop(s);
            respond.send_reset(h2::Reason::REFUSED_STREAM);
            return;
        }
        let open = s.open_now.entry(conn).or_default();
        *open += 1;
        let open = *open;
        s.stats.max_streams_open = s.stats.max_streams_open.max(open);
        let in_all = s.open_now.values().sum();
        s.stats.max_open_in_all = s.stats.max_open_in_all.max(in_all);
    }
    let (parts, mut body) = request.into_parts();
    let mut received = BytesMut::new();
    let expects = parts
        .headers
        .get("expect")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    if expects {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let early = std::future::poll_fn(|cx| std::task::Poll::Ready(body.poll_data(cx))).await;
        if let std::task::Poll::Ready(Some(Ok(piece))) = early {
            state.lock().unwrap().stats.data_before_continue += 1;
            let _ = body.flow_control().release_capacity(piece.len());
            received.extend_from_slice(&piece);
        }
        if parts.uri.path() == "/refuse-expect" {
            let refusal = Response::builder().status(413).body(()).unwrap();
            let _ = respond.send_response(refusal, true);
            let mut late = 0;
            while let Ok(Some(Ok(piece))) =
                tokio::time::timeout(Duration::from_millis(300), body.data()).await
            {
                late += piece.len();
                let _ = body.flow_control().release_capacity(piece.len());
            }
            let mut s = state.lock().unwrap();
            s.stats.late_body_bytes += late + received.len();
            s.stats.refusals += 1;
            drop(s);
            close_stream(&state, conn);
            return;
        }
        let continue_ = Response::builder().status(100).body(()).unwrap();
        let _ = respond.send_informational(continue_);
    }
    while let Some(piece) = body.data().await {
        let Ok(piece) = piece else {
            close_stream(&state, conn);
            return;
        };
        let _ = body.flow_control().release_capacity(piece.len());
        received.extend_from_slice(&piece);
    }
    let path = parts.uri.path().to_string();
    state.lock().unwrap().seen.push(Seen {
        conn,
        method: parts.method.to_string(),
        authority: parts
            .uri
            .authority()
            .map(|a| a.to_string())
            .unwrap_or_default(),
        path: path.clone(),
        headers: parts.headers.clone(),
        body: received.clone().freeze(),
    });
    if path == "/slow" {
        tokio::time::sleep(script.slow).await;
    }
    let mut response = Response::builder().status(StatusCode::OK);
    let answer: Bytes = if path == "/gzip" {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(GZIP_TEXT.as_bytes()).unwrap();
        response = response.header("content-encoding", "gzip");
        Bytes::from(gz.finish().unwrap())
    } else if path == "/redirect" {
        response = Response::builder()
            .status(StatusCode::FOUND)
            .header("location", "/a");
        Bytes::from_static(b"moved")
    } else if path == "/stall" {
        Bytes::from_static(b"partrest")
    } else if path == "/big" {
        Bytes::from(vec![b'x'; BIG])
    } else if received.is_empty() {
        Bytes::from_static(b"ok")
    } else {
        received.freeze()
    };
    let response = response
        .header("content-length", answer.len())
        .body(())
        .unwrap();
    let Ok(mut send) = respond.send_response(response, answer.is_empty()) else {
        close_stream(&state, conn);
        return;
    };
    let mut rest = answer;
    if path == "/stall" {
        // Part of the body, then silence for `slow`, then the rest.
        let _ = send.send_data(rest.split_to(4), false);
        tokio::time::sleep(script.slow).await;
    }
    while !rest.is_empty() {
        send.reserve_capacity(rest.len());
        match std::future::poll_fn(|cx| send.poll_capacity(cx)).await {
            Some(Ok(n)) if n > 0 => {
                let mut s = state.lock().unwrap();
                s.stats.max_send_capacity = s.stats.max_send_capacity.max(n);
                drop(s);
                let piece = rest.split_to(n.min(rest.len()));
                if send.send_data(piece, rest.is_empty()).is_err() {
                    break;
                }
            }
            Some(Ok(_)) => continue,
            _ => {
                state.lock().unwrap().stats.resets_seen += 1;
                break;
            }
        }
    }
    close_stream(&state, conn);
}

fn close_stream(state: &Mutex<State>, conn: usize) {
    if let Some(open) = state.lock().unwrap().open_now.get_mut(&conn) {
        *open = open.saturating_sub(1);
    }
}

// --- GOAWAY with a chosen last stream id, frames written by hand -------------------------

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// A server whose first connection answers `answer` of `want` requests and sends GOAWAY
/// naming the last of them; later connections answer everything.
pub struct GoawayServer {
    pub addr: SocketAddr,
    /// Request bodies processed (answered), in order.
    processed: Arc<Mutex<Vec<Bytes>>>,
    connections: Arc<Mutex<usize>>,
    task: tokio::task::AbortHandle,
    _lifetime: std::sync::mpsc::Sender<()>,
}

impl Drop for GoawayServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl GoawayServer {
    pub async fn start(want: usize, answer: usize) -> GoawayServer {
        GoawayServer::with_first(Mode::Goaway { want, answer }).await
    }

    /// A server whose first connection allows one stream at a time, and lowers that to
    /// none (`SETTINGS_MAX_CONCURRENT_STREAMS` 0) just before it answers its first request,
    /// 200 ms after it came; it answers nothing more. Every later connection answers everything.
    pub async fn lowering_to_zero() -> GoawayServer {
        GoawayServer::with_first(Mode::LowerToZero).await
    }

    /// A server whose first connection answers its first request, then sends GOAWAY
    /// naming it and stays open, answering nothing more. Every later connection answers
    /// everything.
    pub async fn goaway_when_idle() -> GoawayServer {
        GoawayServer::with_first(Mode::GoawayWhenIdle).await
    }

    /// A server whose first connection lowers its `SETTINGS_MAX_HEADER_LIST_SIZE` to 1000
    /// just before it answers its first request (its preface said none), and answers
    /// every request.
    pub async fn lowering_header_list() -> GoawayServer {
        GoawayServer::with_first(Mode::LowerHeaderList).await
    }

    async fn with_first(first: Mode) -> GoawayServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let processed = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(Mutex::new(0));
        let (p, c) = (processed.clone(), connections.clone());
        let task = tokio::spawn(async move {
            let mut tasks = tokio::task::JoinSet::new();
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let n = {
                    let mut c = c.lock().unwrap();
                    *c += 1;
                    *c
                };
                let p = p.clone();
                tasks.spawn(async move {
                    let mode = if n == 1 { first } else { Mode::AnswerAll };
                    let _ = raw_connection(tcp, mode, p).await;
                });
            }
        })
        .abort_handle();
        GoawayServer {
            addr,
            processed,
            connections,
            _lifetime: stop_after(task.clone()),
            task,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.addr.port())
    }

    pub fn processed(&self) -> Vec<Bytes> {
        self.processed.lock().unwrap().clone()
    }

    pub fn connections(&self) -> usize {
        *self.connections.lock().unwrap()
    }
}

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut out = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags];
    out.extend_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// Answers stream `id` with `200` and `body` (`:status: 200` is entry 8 of HPACK's static
/// table: one byte).
fn answer_frames(id: u32, body: &[u8]) -> Vec<u8> {
    let mut out = frame(0x1, 0x4, id, &[0x88]);
    out.extend(frame(0x0, 0x1, id, body));
    out
}

/// What one hand-framed connection does.
#[derive(Clone, Copy)]
enum Mode {
    /// Answers every request as it completes.
    AnswerAll,
    /// Collects `want` complete requests, answers the first `answer` (in stream order),
    /// then sends GOAWAY naming the last of those and closes.
    Goaway { want: usize, answer: usize },
    /// Answers the first request, then sends GOAWAY naming it and stays open.
    GoawayWhenIdle,
    /// Answers every request; lowers its header list limit to 1000 before the first answer.
    LowerHeaderList,
    /// Allows one stream at a time; lowers that to none just before it answers the first
    /// request, 200 ms after it came, and answers nothing more.
    LowerToZero,
}

/// `SETTINGS` with `SETTINGS_MAX_CONCURRENT_STREAMS` (0x3) of `n`.
fn max_streams_settings(n: u32) -> Vec<u8> {
    let mut payload = 0x3u16.to_be_bytes().to_vec();
    payload.extend_from_slice(&n.to_be_bytes());
    frame(0x4, 0, 0, &payload)
}

/// One hand-framed HTTP/2 connection, doing what `mode` says.
async fn raw_connection(
    mut tcp: TcpStream,
    mode: Mode,
    processed: Arc<Mutex<Vec<Bytes>>>,
) -> std::io::Result<()> {
    tcp.set_nodelay(true)?;
    let mut preface = [0u8; 24];
    tcp.read_exact(&mut preface).await?;
    if preface != PREFACE {
        return Ok(());
    }
    // Our SETTINGS: none changed, but the stream limit of `LowerToZero`.
    match mode {
        Mode::LowerToZero => tcp.write_all(&max_streams_settings(1)).await?,
        _ => tcp.write_all(&frame(0x4, 0, 0, &[])).await?,
    }
    // `LowerToZero` and `GoawayWhenIdle` gave their one answer; `LowerHeaderList` lowered.
    let mut lowered = false;
    let mut buf = BytesMut::new();
    let mut bodies: HashMap<u32, BytesMut> = HashMap::new();
    let mut complete: Vec<(u32, Bytes)> = Vec::new();
    loop {
        while buf.len() >= 9 {
            let len = ((buf[0] as usize) << 16) | ((buf[1] as usize) << 8) | buf[2] as usize;
            if buf.len() < 9 + len {
                break;
            }
            let (kind, flags) = (buf[3], buf[4]);
            let id = u32::from_be_bytes([buf[5], buf[6], buf[7], buf[8]]) & 0x7fff_ffff;
            buf.advance(9);
            let payload = buf.split_to(len);
            let ended = flags & 0x1 != 0;
            match kind {
                // SETTINGS (not an ACK): acknowledged.
                0x4 if flags & 0x1 == 0 => tcp.write_all(&frame(0x4, 0x1, 0, &[])).await?,
                // PING: answered.
                0x6 if flags & 0x1 == 0 => tcp.write_all(&frame(0x6, 0x1, 0, &payload)).await?,
                0x1 => {
                    bodies.entry(id).or_default();
                    if ended {
                        complete.push((id, Bytes::new()));
                    }
                }
                0x0 => {
                    let body = bodies.entry(id).or_default();
                    body.extend_from_slice(&payload);
                    // Give the room back, so uploads never stall on the window.
                    if !payload.is_empty() {
                        let n = (payload.len() as u32).to_be_bytes();
                        tcp.write_all(&frame(0x8, 0, 0, &n)).await?;
                    }
                    if ended {
                        let body = bodies.remove(&id).unwrap_or_default().freeze();
                        complete.push((id, body));
                    }
                }
                _ => {}
            }
        }
        match mode {
            Mode::AnswerAll => {
                for (id, body) in complete.drain(..) {
                    processed.lock().unwrap().push(body.clone());
                    tcp.write_all(&answer_frames(id, &body)).await?;
                }
            }
            Mode::LowerToZero => {
                if let Some((id, body)) = complete.drain(..).next().filter(|_| !lowered) {
                    lowered = true;
                    // Time for the client's other requests to queue up for this stream.
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    tcp.write_all(&max_streams_settings(0)).await?;
                    processed.lock().unwrap().push(body.clone());
                    tcp.write_all(&answer_frames(id, &body)).await?;
                }
            }
            Mode::LowerHeaderList => {
                for (id, body) in complete.drain(..) {
                    if !lowered {
                        lowered = true;
                        let mut payload = 0x6u16.to_be_bytes().to_vec();
                        payload.extend_from_slice(&1000u32.to_be_bytes());
                        tcp.write_all(&frame(0x4, 0, 0, &payload)).await?;
                    }
                    processed.lock().unwrap().push(body.clone());
                    tcp.write_all(&answer_frames(id, &body)).await?;
                }
            }
            Mode::GoawayWhenIdle => {
                if let Some((id, body)) = complete.drain(..).next().filter(|_| !lowered) {
                    lowered = true;
                    processed.lock().unwrap().push(body.clone());
                    tcp.write_all(&answer_frames(id, &body)).await?;
                    let mut goaway = id.to_be_bytes().to_vec();
                    goaway.extend_from_slice(&0u32.to_be_bytes());
                    tcp.write_all(&frame(0x7, 0, 0, &goaway)).await?;
                }
            }
            Mode::Goaway { want, answer } if complete.len() >= want => {
                complete.sort_by_key(|(id, _)| *id);
                let mut last = 0;
                for (id, body) in complete.iter().take(answer) {
                    processed.lock().unwrap().push(body.clone());
                    tcp.write_all(&answer_frames(*id, body)).await?;
                    last = *id;
                }
                let mut goaway = last.to_be_bytes().to_vec();
                goaway.extend_from_slice(&0u32.to_be_bytes());
                tcp.write_all(&frame(0x7, 0, 0, &goaway)).await?;
                tcp.flush().await?;
                tokio::time::sleep(Duration::from_millis(100)).await;
                return tcp.shutdown().await;
            }
            Mode::Goaway { .. } => {}
        }
        let mut chunk = [0u8; 16384];
        let n = tcp.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}
