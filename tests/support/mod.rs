//! The scripted test server used by every integration test (`mod support;`).
//!
//! It speaks raw HTTP/1.x over plain TCP on a loopback address with port 0, counts
//! connections and requests ([`ServerStats`]), records every complete request
//! ([`RecordedRequest`]) and answers as a [`Script`] says, including on purpose badly
//! (closing without an answer, resetting, stalling, dripping, sending raw bytes).
//!
//! It runs as tokio tasks on the test's runtime and stops by itself: when the
//! [`TestServer`] is dropped (its tasks are aborted, its sockets closed) and in any case
//! after the script's lifetime (60 s by default). The lifetime and the bound of
//! [`TestServer::wait_until`] are measured in *real* time on a helper thread, so tests
//! that pause tokio's clock (`start_paused = true`) do not trip them; the script's own
//! timers (idle timeouts, accept delay, drip) use tokio's clock, so paused tests drive
//! them deterministically.
//!
//! Not covered here: TLS (`tls.rs` is a separate rustls server with its own counters),
//! HTTP/2, `Expect: 100-continue` (a script can send an interim response itself with
//! [`Reply::Raw`]), closing because a *request* said `Connection: close` (a `respond`
//! closure can return `.closing()` for that).
//!
//! Files: `script.rs` (what to do: [`Script`], [`ConnPolicy`], [`Reply`]),
//! `request.rs` (reading and decoding requests), `conn.rs` (one connection's life),
//! `raw.rs` (a raw server for what a script cannot say: acting mid-request).

#![allow(dead_code)]

pub mod client;
mod conn;
pub mod delay;
pub mod elsewhere;
pub mod fair;
pub mod h2;
mod poll;
pub mod raw;
mod request;
pub mod rng;
mod script;
pub mod stream;
pub mod tls;

// Each test binary uses only some of these.
#[allow(unused_imports)]
pub use poll::{eventually, most_open_until_done, POLL_LIMIT};
#[allow(unused_imports)]
pub use script::{BodyMode, ConnPolicy, Reply, ResponseSpec, Script};

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// How long [`TestServer::wait_until`] waits (real time) before it panics.
pub const WAIT_LIMIT: Duration = Duration::from_secs(10);

/// A snapshot of what the server has seen so far.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServerStats {
    /// Connections accepted.
    pub accepted: usize,
    /// Connections open now. A connection stops counting the moment the server closes
    /// its side (FIN or RST), or when the client's close is seen.
    pub open: usize,
    /// Most connections open at once.
    pub max_open: usize,
    /// Connections the server chose to end (FIN or reset), including after bad input.
    pub closed_by_server: usize,
    /// Connections that ended with the client's EOF or reset (or a failed write).
    pub closed_by_client: usize,
    /// Complete requests received.
    pub requests: usize,
    /// Complete requests per connection, indexed by connection number (accept order).
    pub requests_per_conn: Vec<usize>,
    /// Of `closed_by_server`, how many were resets (RST) rather than FIN.
    pub resets_sent: usize,
    /// After the server sent FIN, how many clients then closed their side too (the
    /// server keeps reading until then, so a client socket left in CLOSE_WAIT shows as a
    /// gap between this and the FINs sent).
    pub client_closed_after_server_fin: usize,
    /// Malformed or oversized requests (answered 400 or 431, then closed).
    pub bad_requests: usize,
    /// Bytes received that never became part of a complete request (a partial request,
    /// stray bytes after a body), summed over connections that have ended.
    pub leftover_bytes: usize,
}

/// One complete request as received.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    /// Connection number (0-based accept order).
    pub conn: usize,
    /// Index of this request on its connection (0-based).
    pub index_on_conn: usize,
    /// Index of this request on the server as a whole (0-based).
    pub seq: usize,
    pub method: String,
    pub target: String,
    /// Minor version: 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub version: u8,
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked if it was sent chunked.
    pub body: Vec<u8>,
    /// The head exactly as received, up to and including the blank line (any stray
    /// bytes before the request line are included, so a test can spot them).
    pub raw_head: Vec<u8>,
}

impl RecordedRequest {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of header `name` (case-insensitive), in order.
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// How a connection ended, as far as the counters care.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Closer {
    Client,
    ServerFin,
    ServerReset,
}

/// State shared by the accept loop, the connection tasks and the handle. Every counter
/// changes in one method here.
struct Shared {
    script: Script,
    stats: watch::Sender<ServerStats>,
    requests: Mutex<Vec<RecordedRequest>>,
}

impl Shared {
    fn on_accept(self: &Arc<Self>) -> conn::ConnGuard {
        let mut conn = 0;
        self.stats.send_modify(|s| {
            conn = s.accepted;
            s.accepted += 1;
            s.open += 1;
            s.max_open = s.max_open.max(s.open);
            s.requests_per_conn.push(0);
        });
        conn::ConnGuard::new(Arc::clone(self), conn)
    }

    /// Records a complete request and returns it as recorded (with its indexes).
    fn on_request(
        &self,
        conn: usize,
        index_on_conn: usize,
        req: request::ParsedRequest,
    ) -> RecordedRequest {
        let recorded = {
            let mut all = self.requests.lock().unwrap_or_else(|e| e.into_inner());
            let recorded = RecordedRequest {
                conn,
                index_on_conn,
                seq: all.len(),
                method: req.method,
                target: req.target,
                version: req.version,
                headers: req.headers,
                body: req.body,
                raw_head: req.raw_head,
            };
            all.push(recorded.clone());
            recorded
        };
        self.stats.send_modify(|s| {
            s.requests += 1;
            if let Some(n) = s.requests_per_conn.get_mut(conn) {
                *n += 1;
            }
        });
        recorded
    }

    fn on_bad_request(&self) {
        self.stats.send_modify(|s| s.bad_requests += 1);
    }

    /// A connection stopped counting as open; `how` is `None` when its task was aborted
    /// (the server is stopping).
    fn on_close(&self, how: Option<Closer>, leftover: usize) {
        self.stats.send_modify(|s| {
            debug_assert!(s.open > 0, "open connection count underflow");
            s.open = s.open.saturating_sub(1);
            s.leftover_bytes += leftover;
            match how {
                Some(Closer::Client) => s.closed_by_client += 1,
                Some(Closer::ServerFin) => s.closed_by_server += 1,
                Some(Closer::ServerReset) => {
                    s.closed_by_server += 1;
                    s.resets_sent += 1;
                }
                None => {}
            }
        });
    }

    fn on_client_close_after_fin(&self) {
        self.stats
            .send_modify(|s| s.client_closed_after_server_fin += 1);
    }
}

/// A running scripted server. Dropping it stops it.
pub struct TestServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stats: watch::Receiver<ServerStats>,
    task: tokio::task::AbortHandle,
    /// Dropping this wakes the lifetime thread so it exits at once.
    _lifetime: std::sync::mpsc::Sender<()>,
}

impl TestServer {
    /// Starts a server on 127.0.0.1 with an OS-chosen port.
    pub async fn start(script: Script) -> TestServer {
        Self::start_on("127.0.0.1", script).await
    }

    /// Starts a server on `ip` (any loopback address such as "127.0.0.2", so tests can
    /// make distinct hosts) with an OS-chosen port.
    pub async fn start_on(ip: &str, script: Script) -> TestServer {
        let ip: IpAddr = ip
            .parse()
            .unwrap_or_else(|e| panic!("TestServer::start_on: bad IP address {ip:?}: {e}"));
        let listener = TcpListener::bind(SocketAddr::new(ip, 0))
            .await
            .unwrap_or_else(|e| panic!("TestServer: cannot bind {ip}:0: {e}"));
        let addr = listener.local_addr().expect("TestServer: local_addr");
        let lifetime = script.lifetime;
        let (stats_tx, stats_rx) = watch::channel(ServerStats::default());
        let shared = Arc::new(Shared {
            script,
            stats: stats_tx,
            requests: Mutex::new(Vec::new()),
        });
        let task = tokio::spawn(accept_loop(listener, Arc::clone(&shared))).abort_handle();
        let stop = task.clone();
        let (lifetime_tx, lifetime_rx) = std::sync::mpsc::channel::<()>();
        // Real time on purpose: a paused tokio clock must not end the server early.
        let _ = std::thread::Builder::new()
            .name("test-server-lifetime".into())
            .spawn(move || {
                if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                    lifetime_rx.recv_timeout(lifetime)
                {
                    stop.abort();
                }
            });
        TestServer {
            addr,
            shared,
            stats: stats_rx,
            task,
            _lifetime: lifetime_tx,
        }
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://IP:PORT` followed by `path` (a leading `/` is added if missing).
    pub fn url(&self, path: &str) -> String {
        if path.starts_with('/') {
            format!("http://{}{}", self.addr, path)
        } else {
            format!("http://{}/{}", self.addr, path)
        }
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> ServerStats {
        self.stats.borrow().clone()
    }

    /// Every complete request received so far, in order of completion.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Waits until `pred(stats)` holds, re-checking on every server event (accept,
    /// request, close). Panics with the current stats if it does not hold within
    /// [`WAIT_LIMIT`] of real time.
    pub async fn wait_until(&self, pred: impl Fn(&ServerStats) -> bool) {
        let mut rx = self.stats.clone();
        tokio::select! {
            biased;
            res = rx.wait_for(|s| pred(s)) => {
                if res.is_err() {
                    panic!("TestServer::wait_until: the server stopped; stats: {:?}", self.stats());
                }
            }
            () = real_time_sleep(WAIT_LIMIT) => panic!(
                "TestServer::wait_until: condition not met within {WAIT_LIMIT:?}; stats now: {:?}",
                self.stats()
            ),
        }
    }

    /// Waits until at least `n` complete requests have been received.
    pub async fn wait_requests(&self, n: usize) {
        self.wait_until(|s| s.requests >= n).await;
    }

    /// Waits until no connection is open (all ended, whoever closed them).
    pub async fn wait_all_closed(&self) {
        self.wait_until(|s| s.open == 0).await;
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        // Aborting the accept loop drops its listener and its JoinSet, which aborts
        // every connection task and so closes every socket.
        self.task.abort();
    }
}

impl std::fmt::Debug for TestServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestServer")
            .field("addr", &self.addr)
            .field("stats", &self.stats())
            .finish()
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    let _ = stream.set_nodelay(true);
                    let guard = shared.on_accept();
                    conns.spawn(conn::serve(Arc::clone(&shared), guard, stream));
                }
                // Out of file descriptors or similar: back off briefly, keep serving.
                Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
            },
            Some(_) = conns.join_next() => {}
        }
    }
}

/// Sleeps `d` of real time (a helper thread), whatever tokio's clock does.
async fn real_time_sleep(d: Duration) {
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
    let (cancel_tx, cancel_rx) = std::sync::mpsc::channel::<()>();
    let spawned = std::thread::Builder::new()
        .name("test-server-wait".into())
        .spawn(move || {
            // Wakes early when `cancel_tx` is dropped with this future.
            let _ = cancel_rx.recv_timeout(d);
            let _ = done_tx.send(());
        });
    let _cancel = cancel_tx;
    if spawned.is_err() {
        std::future::pending::<()>().await;
    }
    let _ = done_rx.await;
}
