//! One accepted connection's life: read requests, record them, answer as the script
//! says, and end in one of four ways.
//!
//! ```text
//!  accept ──(accept_delay)──> idle ──first byte──> reading ──complete──> answering
//!                              ^  │                   │                     │
//!                              │  └─idle timer──┐     └─EOF/reset─┐         │
//!                              └──── keep ──────┼─────────────────┼─────────┤
//!                                               v                 v         v
//!                                   Close (FIN) / Reset (RST) / ClientGone / Hold
//! ```
//!
//! After the server's FIN it keeps reading (and discarding) until the client closes
//! too, so the client sees a clean EOF rather than a reset and the stats can tell
//! whether the client ever closed its side. A held connection (stall) is read and
//! discarded until the client closes it. Counters change only through `Shared`.

use std::sync::Arc;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::request::{read_request, ReadOutcome};
use super::script::{ConnPolicy, IdleAction, Reply};
use super::{Closer, Shared};

/// The unsolicited answer to an idle connection under `idle_408`.
const IDLE_408: &[u8] =
    b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";

/// Keeps `open` exact: created on accept, ended once with how the connection closed;
/// if the task is aborted (the server stops) it still decrements `open` on drop.
pub(super) struct ConnGuard {
    shared: Arc<Shared>,
    conn: usize,
    ended: bool,
}

impl ConnGuard {
    pub(super) fn new(shared: Arc<Shared>, conn: usize) -> Self {
        ConnGuard {
            shared,
            conn,
            ended: false,
        }
    }

    fn end(mut self, how: Closer, leftover: usize) {
        self.ended = true;
        self.shared.on_close(Some(how), leftover);
    }
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        if !self.ended {
            self.shared.on_close(None, 0);
        }
    }
}

/// How the request loop ended.
enum End {
    /// The client closed or reset (or a write to it failed).
    ClientGone,
    /// The server closes: FIN.
    Close,
    /// The server resets: RST.
    Reset,
    /// Hold the connection open, never answering again.
    Hold,
}

/// What happens after one reply.
enum Next {
    KeepGoing,
    Stop(End),
}

/// Serves one connection until it ends.
pub(super) async fn serve(shared: Arc<Shared>, guard: ConnGuard, mut stream: TcpStream) {
    let policy = (shared.script.per_conn)(guard.conn);
    let mut buf = BytesMut::new();
    let end = request_loop(&shared, guard.conn, &policy, &mut stream, &mut buf).await;
    let leftover = buf.len();
    match end {
        End::ClientGone => guard.end(Closer::Client, leftover),
        End::Close => {
            let _ = stream.shutdown().await;
            guard.end(Closer::ServerFin, leftover);
            if discard_until_eof(&mut stream).await {
                shared.on_client_close_after_fin();
            }
        }
        End::Reset => {
            let _ = stream.set_zero_linger();
            drop(stream);
            guard.end(Closer::ServerReset, leftover);
        }
        End::Hold => {
            discard_until_eof(&mut stream).await;
            guard.end(Closer::Client, leftover);
        }
    }
}

async fn request_loop(
    shared: &Shared,
    conn: usize,
    policy: &ConnPolicy,
    stream: &mut TcpStream,
    buf: &mut BytesMut,
) -> End {
    if let Some(delay) = policy.accept_delay {
        tokio::time::sleep(delay).await;
    }
    let idle = policy.idle_timer();
    let mut answered = 0;
    loop {
        if policy.close_after.is_some_and(|n| answered >= n) {
            if let Some(delay) = policy.close_delay {
                tokio::time::sleep(delay).await;
            }
            return End::Close;
        }
        let parsed = match read_request(stream, buf, idle.map(|(d, _)| d)).await {
            ReadOutcome::Request(parsed) => parsed,
            ReadOutcome::ClientGone => return End::ClientGone,
            ReadOutcome::Idle => {
                return match idle.map(|(_, action)| action) {
                    Some(IdleAction::Send408) => match stream.write_all(IDLE_408).await {
                        Ok(()) => End::Close,
                        Err(_) => End::ClientGone,
                    },
                    Some(IdleAction::Reset) => End::Reset,
                    Some(IdleAction::Close) | None => End::Close,
                }
            }
            ReadOutcome::Bad(status) => {
                shared.on_bad_request();
                let reason = if status == 431 {
                    "Request Header Fields Too Large"
                } else {
                    "Bad Request"
                };
                let answer = format!(
                    "HTTP/1.1 {status} {reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
                );
                let _ = stream.write_all(answer.as_bytes()).await;
                return End::Close;
            }
        };
        let request = shared.on_request(conn, answered, parsed);
        let reply = (shared.script.respond)(&request);
        let head_only = request.method.eq_ignore_ascii_case("HEAD");
        match answer(stream, reply, head_only).await {
            Ok(Next::KeepGoing) => answered += 1,
            Ok(Next::Stop(end)) => return end,
            Err(_) => return End::ClientGone,
        }
    }
}

/// Writes one reply; an error means the client is gone.
async fn answer(stream: &mut TcpStream, reply: Reply, head_only: bool) -> std::io::Result<Next> {
    Ok(match reply {
        Reply::Response(spec) => {
            stream.write_all(&spec.encode(head_only)).await?;
            if spec.closes() {
                Next::Stop(End::Close)
            } else {
                Next::KeepGoing
            }
        }
        Reply::CloseWithoutAnswer => Next::Stop(End::Close),
        Reply::Reset => Next::Stop(End::Reset),
        Reply::Stall => Next::Stop(End::Hold),
        Reply::RawThenClose(bytes) => {
            stream.write_all(&bytes).await?;
            Next::Stop(End::Close)
        }
        Reply::Raw(bytes) => {
            stream.write_all(&bytes).await?;
            Next::KeepGoing
        }
        Reply::StallMidBody { mut head, sent } => {
            head.extend_from_slice(&sent);
            stream.write_all(&head).await?;
            Next::Stop(End::Hold)
        }
        Reply::Drip { head, body, every } => {
            stream.write_all(&head).await?;
            for byte in body {
                tokio::time::sleep(every).await;
                stream.write_all(&[byte]).await?;
            }
            if drip_head_closes(&head) {
                Next::Stop(End::Close)
            } else {
                Next::KeepGoing
            }
        }
        Reply::RawThenReset(bytes) => {
            stream.write_all(&bytes).await?;
            stream.flush().await?;
            Next::Stop(End::Reset)
        }
    })
}

/// Whether a hand-written response head means the connection ends after its body:
/// `Connection: close`, or neither `Content-Length` nor `Transfer-Encoding`.
fn drip_head_closes(head: &[u8]) -> bool {
    let mut slots = [httparse::EMPTY_HEADER; 64];
    let mut resp = httparse::Response::new(&mut slots);
    if resp.parse(head).is_err() {
        return true;
    }
    let has = |name: &str| {
        resp.headers
            .iter()
            .any(|h| h.name.eq_ignore_ascii_case(name))
    };
    let says_close = resp.headers.iter().any(|h| {
        h.name.eq_ignore_ascii_case("connection")
            && String::from_utf8_lossy(h.value)
                .split(',')
                .any(|t| t.trim().eq_ignore_ascii_case("close"))
    });
    says_close || !(has("content-length") || has("transfer-encoding"))
}

/// Reads and throws away until EOF (`true`) or an error such as a reset (`false`).
async fn discard_until_eof(stream: &mut TcpStream) -> bool {
    let mut scratch = [0u8; 8192];
    loop {
        match stream.read(&mut scratch).await {
            Ok(0) => return true,
            Ok(_) => {}
            Err(_) => return false,
        }
    }
}
