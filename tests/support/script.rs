//! What the test server does: the [`Script`] (a `respond` closure per request and a
//! [`ConnPolicy`] per connection), the [`Reply`] to one request, and how a
//! [`ResponseSpec`] is turned into bytes.
//!
//! Response heads carry a status line with a reason phrase, the spec's headers, and the
//! framing header its [`BodyMode`] implies unless the spec's headers already hold a
//! `Content-Length` or `Transfer-Encoding`. `Connection: close` is only added by
//! [`Reply::closing`], [`Reply::close_delimited`] and [`Reply::http10`] without
//! keep-alive. Socket I/O lives in `conn.rs`, not here.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use super::RecordedRequest;

type RespondFn = dyn Fn(&RecordedRequest) -> Reply + Send + Sync;
type PolicyFn = dyn Fn(usize) -> ConnPolicy + Send + Sync;

/// What the server does. `Script::default()` answers every request `200 OK`, HTTP/1.1,
/// `Content-Length`, body "ok", and keeps the connection open.
#[derive(Clone)]
pub struct Script {
    pub(super) respond: Arc<RespondFn>,
    pub(super) per_conn: Arc<PolicyFn>,
    pub(super) lifetime: Duration,
}

impl Default for Script {
    fn default() -> Self {
        Script {
            respond: Arc::new(|_| Reply::ok("ok")),
            per_conn: Arc::new(|_| ConnPolicy::default()),
            lifetime: Duration::from_secs(60),
        }
    }
}

impl std::fmt::Debug for Script {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Script")
            .field("lifetime", &self.lifetime)
            .finish_non_exhaustive()
    }
}

impl Script {
    /// Same as `Script::default()`.
    pub fn new() -> Self {
        Self::default()
    }

    /// The answer to each complete request, decided by a closure. The request tells the
    /// connection (`conn`), its index there (`index_on_conn`) and on the whole server
    /// (`seq`).
    pub fn respond(
        mut self,
        f: impl Fn(&RecordedRequest) -> Reply + Send + Sync + 'static,
    ) -> Self {
        self.respond = Arc::new(f);
        self
    }

    /// Never answers a request for `path` (`Reply::Stall`); `200 ok` to any other.
    pub fn stall_at(self, path: &'static str) -> Self {
        self.respond(move |req| {
            if req.target == path {
                Reply::Stall
            } else {
                Reply::ok("ok")
            }
        })
    }

    /// The same reply to every request.
    pub fn always(self, reply: Reply) -> Self {
        self.respond(move |_| reply.clone())
    }

    /// Reply `replies[n]` to the server's request number `n` (0-based, whole server);
    /// requests past the end get the default `200 ok`.
    pub fn sequence(self, replies: Vec<Reply>) -> Self {
        self.respond(move |req| {
            replies
                .get(req.seq)
                .cloned()
                .unwrap_or_else(|| Reply::ok("ok"))
        })
    }

    /// Per-connection policy from the connection number (0-based accept order).
    pub fn per_conn(mut self, f: impl Fn(usize) -> ConnPolicy + Send + Sync + 'static) -> Self {
        self.per_conn = Arc::new(f);
        self
    }

    /// The same policy for every connection.
    pub fn conn_policy(self, p: ConnPolicy) -> Self {
        self.per_conn(move |_| p.clone())
    }

    /// How long (real time) the server runs at most before it stops by itself.
    pub fn lifetime(mut self, d: Duration) -> Self {
        self.lifetime = d;
        self
    }
}

/// How one connection behaves apart from its replies.
#[derive(Clone, Debug, Default)]
pub struct ConnPolicy {
    /// Close (FIN) right after N responses on this connection; `Some(0)` closes a
    /// connection as soon as it is accepted (after `accept_delay`).
    pub close_after: Option<usize>,
    /// With `close_after`: close this long after the last response rather than right
    /// after it, reading nothing meanwhile (a request sent in that time meets the close).
    pub close_delay: Option<Duration>,
    /// Close (FIN) when idle this long between requests (or before the first).
    pub idle_close: Option<Duration>,
    /// When idle this long: send an unsolicited `408 Request Timeout`
    /// (`Connection: close`, `Content-Length: 0`), then close.
    pub idle_408: Option<Duration>,
    /// When idle this long: reset (SO_LINGER 0, then drop: RST).
    pub idle_reset: Option<Duration>,
    /// Don't read from the connection for this long after accept.
    pub accept_delay: Option<Duration>,
}

/// What to do when a connection has been idle too long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum IdleAction {
    Close,
    Send408,
    Reset,
}

impl ConnPolicy {
    /// The earliest idle timer, if any; on a tie, reset beats 408 beats close.
    pub(super) fn idle_timer(&self) -> Option<(Duration, IdleAction)> {
        [
            (self.idle_reset, IdleAction::Reset),
            (self.idle_408, IdleAction::Send408),
            (self.idle_close, IdleAction::Close),
        ]
        .into_iter()
        .filter_map(|(d, a)| d.map(|d| (d, a)))
        .min_by_key(|(d, _)| *d)
    }
}

/// The server's answer to one complete request.
#[derive(Clone, Debug)]
pub enum Reply {
    /// A normal response.
    Response(ResponseSpec),
    /// Close (FIN) without a byte of response (the close race).
    CloseWithoutAnswer,
    /// Reset the connection (RST).
    Reset,
    /// Never answer; hold the connection open until the client closes it or the
    /// server stops.
    Stall,
    /// Write these raw bytes, then close.
    RawThenClose(Vec<u8>),
    /// Write these raw bytes (the whole response) and keep reading requests.
    Raw(Vec<u8>),
    /// Write `head` and then `sent` (the start of a body that claims more), then hold
    /// the connection open.
    StallMidBody { head: Vec<u8>, sent: Vec<u8> },
    /// Write `head`, then `body` one byte every `every`, then keep the connection,
    /// unless the head says `Connection: close` or gives no length (then close).
    Drip {
        head: Vec<u8>,
        body: Vec<u8>,
        every: Duration,
    },
    /// Write these bytes, then reset (RST).
    RawThenReset(Vec<u8>),
}

/// How a response body is framed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BodyMode {
    /// `Content-Length`.
    Length,
    /// `Transfer-Encoding: chunked`, in chunks of `chunk` bytes (0: one chunk).
    Chunked { chunk: usize },
    /// No length: write the body, then close.
    CloseDelimited,
    /// No framing header and no body (for HEAD, 1xx, 204, 304).
    None,
}

/// A normal response.
#[derive(Clone, Debug)]
pub struct ResponseSpec {
    /// 0 for "HTTP/1.0", anything else for "HTTP/1.1".
    pub version: u8,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub framing: BodyMode,
    /// Close the connection after writing this response.
    pub close_after: bool,
}

impl ResponseSpec {
    /// HTTP/1.1 `status` with `body` framed by `Content-Length`, keeping the connection.
    pub fn new(status: u16, body: impl Into<Vec<u8>>) -> Self {
        ResponseSpec {
            version: 1,
            status,
            headers: Vec::new(),
            body: body.into(),
            framing: BodyMode::Length,
            close_after: false,
        }
    }

    /// Whether the server closes the connection after writing this response.
    pub fn closes(&self) -> bool {
        self.close_after || self.framing == BodyMode::CloseDelimited
    }

    fn has_header(&self, name: &str) -> bool {
        self.headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(name))
    }

    /// The response as bytes; `head_only` (a HEAD request) leaves the body out while
    /// the head still describes it.
    pub fn encode(&self, head_only: bool) -> Vec<u8> {
        let mut head = String::with_capacity(128);
        let minor = if self.version == 0 { 0 } else { 1 };
        let reason = http::StatusCode::from_u16(self.status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("Unknown");
        let _ = write!(head, "HTTP/1.{minor} {} {reason}\r\n", self.status);
        for (name, value) in &self.headers {
            let _ = write!(head, "{name}: {value}\r\n");
        }
        let framed = self.has_header("content-length") || self.has_header("transfer-encoding");
        match self.framing {
            BodyMode::Length if !framed => {
                let _ = write!(head, "Content-Length: {}\r\n", self.body.len());
            }
            BodyMode::Chunked { .. } if !framed => head.push_str("Transfer-Encoding: chunked\r\n"),
            _ => {}
        }
        head.push_str("\r\n");
        let mut out = head.into_bytes();
        if head_only {
            return out;
        }
        match self.framing {
            BodyMode::Length | BodyMode::CloseDelimited => out.extend_from_slice(&self.body),
            BodyMode::Chunked { chunk } => {
                let size = if chunk == 0 {
                    self.body.len().max(1)
                } else {
                    chunk
                };
                for piece in self.body.chunks(size) {
                    out.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
                    out.extend_from_slice(piece);
                    out.extend_from_slice(b"\r\n");
                }
                out.extend_from_slice(b"0\r\n\r\n");
            }
            BodyMode::None => {}
        }
        out
    }
}

impl Reply {
    /// 200, HTTP/1.1, `Content-Length`.
    pub fn ok(body: impl Into<Vec<u8>>) -> Reply {
        Reply::Response(ResponseSpec::new(200, body))
    }

    /// `code` with an empty body and `Content-Length: 0`; for 1xx, 204 and 304 no
    /// framing header at all (RFC 9110 forbids or makes it misleading there).
    pub fn status(code: u16) -> Reply {
        let mut spec = ResponseSpec::new(code, Vec::new());
        if code < 200 || code == 204 || code == 304 {
            spec.framing = BodyMode::None;
        }
        Reply::Response(spec)
    }

    /// 200, HTTP/1.1, chunked in pieces of `chunk` bytes (0: one piece).
    pub fn chunked(body: impl Into<Vec<u8>>, chunk: usize) -> Reply {
        let mut spec = ResponseSpec::new(200, body);
        spec.framing = BodyMode::Chunked { chunk };
        Reply::Response(spec)
    }

    /// 200, HTTP/1.1, `Connection: close` and no length: the body ends at close.
    /// (`.without_header("connection")` gives one framed by the close alone.)
    pub fn close_delimited(body: impl Into<Vec<u8>>) -> Reply {
        let mut spec = ResponseSpec::new(200, body);
        spec.framing = BodyMode::CloseDelimited;
        spec.headers.push(("Connection".into(), "close".into()));
        spec.close_after = true;
        Reply::Response(spec)
    }

    /// HTTP/1.0 200 with `Content-Length`: with `Connection: keep-alive` if
    /// `keep_alive`, else with `Connection: close`, closing after it. (For an HTTP/1.0
    /// response with no `Connection` header, add `.without_header("connection")`.)
    pub fn http10(body: impl Into<Vec<u8>>, keep_alive: bool) -> Reply {
        let mut spec = ResponseSpec::new(200, body);
        spec.version = 0;
        if keep_alive {
            spec.headers
                .push(("Connection".into(), "keep-alive".into()));
        } else {
            spec.headers.push(("Connection".into(), "close".into()));
            spec.close_after = true;
        }
        Reply::Response(spec)
    }

    /// Adds a header (a `Response` only; a no-op for other replies).
    pub fn with_header(mut self, name: &str, value: &str) -> Reply {
        if let Reply::Response(spec) = &mut self {
            spec.headers.push((name.into(), value.into()));
        }
        self
    }

    /// Removes every header called `name`, case-insensitive (a `Response` only).
    pub fn without_header(mut self, name: &str) -> Reply {
        if let Reply::Response(spec) = &mut self {
            spec.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        }
        self
    }

    /// Sets the status code (a `Response` only).
    pub fn with_status(mut self, code: u16) -> Reply {
        if let Reply::Response(spec) = &mut self {
            spec.status = code;
        }
        self
    }

    /// Sets the body framing (a `Response` only).
    pub fn with_framing(mut self, framing: BodyMode) -> Reply {
        if let Reply::Response(spec) = &mut self {
            spec.framing = framing;
        }
        self
    }

    /// Adds `Connection: close` (unless present) and closes after writing (a
    /// `Response` only).
    pub fn closing(mut self) -> Reply {
        if let Reply::Response(spec) = &mut self {
            let has_close = spec.headers.iter().any(|(n, v)| {
                n.eq_ignore_ascii_case("connection") && v.eq_ignore_ascii_case("close")
            });
            if !has_close {
                spec.headers.push(("Connection".into(), "close".into()));
            }
            spec.close_after = true;
        }
        self
    }
}
