//! A local TLS test server (rustls, ring provider) and the certificates it needs, made per
//! test with rcgen.
//!
//! - [`TestCa`]: a throw-away certificate authority issuing server and client certificates
//!   (valid now, or expired long ago).
//! - [`TlsServer`]: a `TlsAcceptor` on 127.0.0.1:0 answering simple HTTP/1.1 (GET → `hello`,
//!   a target starting with `/big` → [`BIG_BODY`] bytes, one starting with `/reject` →
//!   `413` on the head alone and the connection ended with the body unread, any other
//!   method → its body echoed; `Content-Length` request bodies only). It records every ClientHello (SNI,
//!   ALPN offered) and every completed handshake (version, resumed or full, client
//!   certificate presented), keeps the secrets of each handshake (its side of an NSS key
//!   log), counts connections and requests, and can do something to a
//!   connection left idle for a while: send `close_notify`, send a FIN, or send a TLS 1.3
//!   `KeyUpdate` (a post-handshake message that must not look like data). With
//!   [`TlsServerBuilder::accept_plain`] the same port also serves plain HTTP (told apart by
//!   the first byte: 0x16 starts a TLS handshake). With [`TlsServerBuilder::forward_to`] it
//!   serves no HTTP and relays each connection's plaintext to a plain server instead (a
//!   TLS front that makes an `https://` proxy of tinyproxy or nginx).
//! - [`SilentServer`]: accepts TCP connections and never says a word (a TLS handshake that
//!   never completes).
//!
//! Every server stops by itself: when dropped (its tasks are aborted) and in any case after
//! its lifetime (60 s of real time by default).
//!
//! Files: this one (setup, accept, handshake, counters), `http.rs` (one connection's
//! request loop and idle actions), `pki.rs` (certificates), `silent.rs`.

mod http;
mod pki;
mod silent;

// Only the TLS tests use these; other test binaries compile them unused.
#[allow(unused_imports)]
pub use pki::{CertKey, TestCa};
#[allow(unused_imports)]
pub use silent::SilentServer;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::CertificateDer;
use rustls::server::{Acceptor, WebPkiClientVerifier};
use rustls::{HandshakeKind, RootCertStore, ServerConfig, SupportedProtocolVersion};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::server::TlsStream;
use tokio_rustls::LazyConfigAcceptor;

use super::{real_time_sleep, WAIT_LIMIT};
use http::{serve_http, Io};

/// The size of the body answered to a target starting with `/big`: more than a client
/// reads with the head, so a response held unread keeps its connection busy.
pub const BIG_BODY: usize = 1 << 20;

/// How long a server runs at most (real time) unless told otherwise.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(60);

/// The ring provider, for test servers and clients (deprecated from rustls 0.23.48, which
/// prefers aws-lc-rs; tether stays on ring).
#[allow(deprecated)]
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Which TLS versions the server accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Versions {
    Both,
    Tls12Only,
    Tls13Only,
}

/// What the server does to a connection left idle after a response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdleAction {
    /// Sends `close_notify` (TCP stays open until the client closes).
    CloseNotify,
    /// Shuts down its TCP write side (FIN) without `close_notify`.
    Fin,
    /// Sends a TLS 1.3 `KeyUpdate` and carries on serving.
    KeyUpdate,
}

/// One ClientHello as the server saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hello {
    /// The SNI host name, if one was sent.
    pub sni: Option<String>,
    /// The ALPN protocols offered, in order.
    pub alpn: Vec<String>,
}

/// One completed handshake.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    /// Connection number (accept order).
    pub conn: usize,
    /// "TLSv1_2" or "TLSv1_3".
    pub version: String,
    /// The client resumed an earlier session.
    pub resumed: bool,
    /// The ALPN protocol agreed.
    pub alpn: Option<String>,
    /// The client presented a certificate.
    pub client_cert: bool,
}

/// One complete request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub conn: usize,
    pub tls: bool,
    pub method: String,
    pub target: String,
    pub body: Vec<u8>,
}

/// What the server has seen so far.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsStats {
    /// TCP connections accepted.
    pub accepted: usize,
    /// Connections open now.
    pub open: usize,
    /// ClientHellos received, in order.
    pub hellos: Vec<Hello>,
    /// Handshakes completed, in order.
    pub sessions: Vec<Session>,
    /// Handshakes that failed (the client gave up, or its certificate was refused).
    pub failed_handshakes: usize,
    /// Connections served as plain HTTP (with `accept_plain`).
    pub plain_conns: usize,
    /// Complete requests.
    pub requests: usize,
    /// Complete requests per connection, by accept order.
    pub requests_per_conn: Vec<usize>,
    /// Idle actions done (close_notify, FIN or KeyUpdate sent).
    pub idle_actions: usize,
    /// Connections the client closed (EOF or error on read).
    pub closed_by_client: usize,
}

impl TlsStats {
    /// Handshakes that resumed a session.
    pub fn resumed(&self) -> usize {
        self.sessions.iter().filter(|s| s.resumed).count()
    }

    /// Full (not resumed) handshakes.
    pub fn full_handshakes(&self) -> usize {
        self.sessions.iter().filter(|s| !s.resumed).count()
    }
}

/// How a [`TlsServer`] is set up.
pub struct TlsServerBuilder {
    cert: CertKey,
    versions: Versions,
    client_ca: Option<CertificateDer<'static>>,
    idle: Option<(Duration, IdleAction)>,
    accept_plain: bool,
    lifetime: Duration,
    forward_to: Option<SocketAddr>,
}

impl TlsServerBuilder {
    /// Accepts only these TLS versions.
    pub fn versions(mut self, v: Versions) -> Self {
        self.versions = v;
        self
    }

    /// Requires a client certificate issued by `ca` (mutual TLS).
    pub fn require_client_cert(mut self, ca: CertificateDer<'static>) -> Self {
        self.client_ca = Some(ca);
        self
    }

    /// Does `action` to a connection idle for `after` since its last response.
    pub fn when_idle(mut self, after: Duration, action: IdleAction) -> Self {
        self.idle = Some((after, action));
        self
    }

    /// Also serves plain HTTP on the same port.
    pub fn accept_plain(mut self) -> Self {
        self.accept_plain = true;
        self
    }

    /// Serves no HTTP itself: after each handshake, the connection's plaintext is relayed
    /// both ways to a new TCP connection to `addr` (a TLS front to a plain server, which
    /// makes an `https://` proxy of a plain HTTP proxy). Each connection relayed counts as
    /// one request, and its request log stays empty.
    pub fn forward_to(mut self, addr: SocketAddr) -> Self {
        self.forward_to = Some(addr);
        self
    }

    /// Stops after `d` of real time at the latest.
    pub fn lifetime(mut self, d: Duration) -> Self {
        self.lifetime = d;
        self
    }

    /// Binds 127.0.0.1:0 and starts serving.
    pub async fn start(self) -> TlsServer {
        let versions: &[&'static SupportedProtocolVersion] = match self.versions {
            Versions::Both => &[&rustls::version::TLS13, &rustls::version::TLS12],
            Versions::Tls12Only => &[&rustls::version::TLS12],
            Versions::Tls13Only => &[&rustls::version::TLS13],
        };
        let builder = ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(versions)
            .unwrap();
        let builder = match &self.client_ca {
            Some(ca) => {
                let mut roots = RootCertStore::empty();
                roots.add(ca.clone()).unwrap();
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
                        .build()
                        .unwrap();
                builder.with_client_cert_verifier(verifier)
            }
            None => builder.with_no_client_auth(),
        };
        let mut config = builder
            .with_single_cert(vec![self.cert.cert_der.clone()], self.cert.private_key())
            .unwrap();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let secrets = Arc::new(Secrets::default());
        config.key_log = secrets.clone();
        let shared = Arc::new(Shared {
            secrets,
            config: Arc::new(config),
            idle: self.idle,
            accept_plain: self.accept_plain,
            forward_to: self.forward_to,
            stats: watch::channel(TlsStats::default()).0,
            requests: std::sync::Mutex::new(Vec::new()),
        });
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(accept_loop(listener, Arc::clone(&shared))).abort_handle();
        let lifetime = stop_after(task.clone(), self.lifetime);
        TlsServer {
            addr,
            shared,
            task,
            _lifetime: lifetime,
        }
    }
}

/// Aborts `task` after `lifetime` of real time, unless the returned sender is dropped first.
fn stop_after(task: tokio::task::AbortHandle, lifetime: Duration) -> std::sync::mpsc::Sender<()> {
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let _ = std::thread::Builder::new()
        .name("tls-server-lifetime".into())
        .spawn(move || {
            if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(lifetime) {
                task.abort();
            }
        });
    tx
}

/// Every secret the server's handshakes made, as NSS key log lines.
#[derive(Debug, Default)]
struct Secrets(std::sync::Mutex<Vec<String>>);

impl rustls::KeyLog for Secrets {
    fn log(&self, label: &str, client_random: &[u8], secret: &[u8]) {
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        let line = format!("{label} {} {}", hex(client_random), hex(secret));
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(line);
    }
}

struct Shared {
    secrets: Arc<Secrets>,
    config: Arc<ServerConfig>,
    idle: Option<(Duration, IdleAction)>,
    accept_plain: bool,
    forward_to: Option<SocketAddr>,
    stats: watch::Sender<TlsStats>,
    requests: std::sync::Mutex<Vec<Request>>,
}

/// A running TLS test server. Dropping it stops it.
pub struct TlsServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::AbortHandle,
    _lifetime: std::sync::mpsc::Sender<()>,
}

impl TlsServer {
    /// A server presenting `cert`; TLS 1.2 and 1.3, no client certificate, no idle action.
    pub fn builder(cert: CertKey) -> TlsServerBuilder {
        TlsServerBuilder {
            cert,
            versions: Versions::Both,
            client_ca: None,
            idle: None,
            accept_plain: false,
            lifetime: DEFAULT_LIFETIME,
            forward_to: None,
        }
    }

    /// The port it listens on (on 127.0.0.1).
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `https://HOST:PORT/PATH` with `host` such as "localhost" or "127.0.0.1".
    pub fn url(&self, host: &str, path: &str) -> String {
        format!(
            "https://{host}:{}/{}",
            self.addr.port(),
            path.trim_start_matches('/')
        )
    }

    /// A snapshot of what the server saw.
    pub fn stats(&self) -> TlsStats {
        self.shared.stats.borrow().clone()
    }

    /// The secrets of every handshake so far, as lines of the NSS key log format
    /// (`LABEL client_random secret`, both in lower-case hex), the server's side of them.
    pub fn secrets(&self) -> Vec<String> {
        self.shared
            .secrets
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Every complete request so far.
    pub fn requests(&self) -> Vec<Request> {
        self.shared
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Waits until `pred(stats)` holds, re-checking on every server event; panics after
    /// [`WAIT_LIMIT`] of real time.
    pub async fn wait_until(&self, pred: impl Fn(&TlsStats) -> bool) {
        let mut rx = self.shared.stats.subscribe();
        tokio::select! {
            biased;
            res = rx.wait_for(|s| pred(s)) => {
                if res.is_err() {
                    panic!("TlsServer::wait_until: the server stopped; stats: {:?}", self.stats());
                }
            }
            () = real_time_sleep(WAIT_LIMIT) => panic!(
                "TlsServer::wait_until: condition not met within {WAIT_LIMIT:?}; stats now: {:?}",
                self.stats()
            ),
        }
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => {
                    let _ = tcp.set_nodelay(true);
                    let mut conn = 0;
                    shared.stats.send_modify(|s| {
                        conn = s.accepted;
                        s.accepted += 1;
                        s.open += 1;
                        s.requests_per_conn.push(0);
                    });
                    let shared = Arc::clone(&shared);
                    conns.spawn(async move {
                        let _open = OpenGuard(Arc::clone(&shared));
                        serve(&shared, conn, tcp).await;
                    });
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
            },
            Some(_) = conns.join_next() => {}
        }
    }
}

/// Keeps `open` exact, even when the task is aborted.
struct OpenGuard(Arc<Shared>);

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0
            .stats
            .send_modify(|s| s.open = s.open.saturating_sub(1));
    }
}

async fn serve(shared: &Shared, conn: usize, tcp: TcpStream) {
    let mut first = [0u8; 1];
    let is_tls = match tcp.peek(&mut first).await {
        Ok(1) => first[0] == 0x16,
        _ => return client_gone(shared),
    };
    let io = if is_tls || !shared.accept_plain {
        match handshake(shared, conn, tcp).await {
            Some(mut tls) if shared.forward_to.is_some() => {
                let Some(to) = shared.forward_to else { return };
                shared.stats.send_modify(|s| {
                    s.requests += 1;
                    s.requests_per_conn[conn] += 1;
                });
                if let Ok(mut next) = TcpStream::connect(to).await {
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut next).await;
                }
                return;
            }
            Some(tls) => Io::Tls(Box::new(tls)),
            None => return,
        }
    } else {
        shared.stats.send_modify(|s| s.plain_conns += 1);
        Io::Plain(tcp)
    };
    serve_http(shared, conn, io).await;
}

async fn handshake(shared: &Shared, conn: usize, tcp: TcpStream) -> Option<TlsStream<TcpStream>> {
    let start = match LazyConfigAcceptor::new(Acceptor::default(), tcp).await {
        Ok(start) => start,
        Err(_) => {
            shared.stats.send_modify(|s| s.failed_handshakes += 1);
            return None;
        }
    };
    let hello = start.client_hello();
    let seen = Hello {
        sni: hello.server_name().map(str::to_owned),
        alpn: hello
            .alpn()
            .map(|protos| {
                protos
                    .map(|p| String::from_utf8_lossy(p).into_owned())
                    .collect()
            })
            .unwrap_or_default(),
    };
    shared.stats.send_modify(|s| s.hellos.push(seen));
    let tls = match start
        .into_stream(Arc::clone(&shared.config))
        .into_fallible()
        .await
    {
        Ok(tls) => tls,
        Err((_, mut tcp)) => {
            shared.stats.send_modify(|s| s.failed_handshakes += 1);
            // The alert is out; end with a FIN and wait for the client to close, so it
            // reads the alert rather than a reset (closing with unread bytes sends RST).
            let _ = tcp.shutdown().await;
            let mut sink = [0u8; 4096];
            while matches!(tcp.read(&mut sink).await, Ok(n) if n > 0) {}
            return None;
        }
    };
    let session = {
        let (_, c) = tls.get_ref();
        Session {
            conn,
            version: c
                .protocol_version()
                .map(|v| format!("{v:?}"))
                .unwrap_or_default(),
            resumed: c.handshake_kind() == Some(HandshakeKind::Resumed),
            alpn: c
                .alpn_protocol()
                .map(|p| String::from_utf8_lossy(p).into_owned()),
            client_cert: c.peer_certificates().is_some_and(|c| !c.is_empty()),
        }
    };
    shared.stats.send_modify(|s| s.sessions.push(session));
    Some(tls)
}

fn client_gone(shared: &Shared) {
    shared.stats.send_modify(|s| s.closed_by_client += 1);
}
