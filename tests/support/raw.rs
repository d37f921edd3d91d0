//! A raw TCP server for tests whose server must act in the middle of an exchange (after a
//! request's head, before its body; or never read at all), which a [`super::Script`]
//! cannot say: each accepted connection is handed to a closure, with its number (0-based
//! accept order). It listens on 127.0.0.1 with port 0 and stops by itself: when dropped
//! (its tasks are aborted, its sockets closed) and after 60 s of real time in any case.

use std::future::Future;
use std::net::SocketAddr;

use socket2::{Domain, Socket, Type};
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

/// How long a raw server runs at most.
const LIFETIME: Duration = Duration::from_secs(60);

/// A running raw server. Dropping it stops it.
pub struct RawServer {
    addr: SocketAddr,
    accepted: watch::Receiver<usize>,
    task: tokio::task::AbortHandle,
    _lifetime: std::sync::mpsc::Sender<()>,
}

impl RawServer {
    /// Starts accepting; `serve(stream, n)` runs as its own task for connection `n`.
    pub async fn start<F, Fut>(serve: F) -> RawServer
    where
        F: Fn(TcpStream, usize) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("RawServer: cannot bind 127.0.0.1:0: {e}"));
        let addr = listener.local_addr().expect("RawServer: local_addr");
        let (tx, rx) = watch::channel(0usize);
        let task = tokio::spawn(async move {
            let mut conns = JoinSet::new();
            let mut n = 0;
            loop {
                tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok((stream, _)) => {
                            let _ = stream.set_nodelay(true);
                            conns.spawn(serve(stream, n));
                            n += 1;
                            tx.send_replace(n);
                        }
                        Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
                    },
                    Some(_) = conns.join_next() => {}
                }
            }
        })
        .abort_handle();
        let stop = task.clone();
        let (lifetime_tx, lifetime_rx) = std::sync::mpsc::channel::<()>();
        let _ = std::thread::Builder::new()
            .name("raw-server-lifetime".into())
            .spawn(move || {
                if let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                    lifetime_rx.recv_timeout(LIFETIME)
                {
                    stop.abort();
                }
            });
        RawServer {
            addr,
            accepted: rx,
            task,
            _lifetime: lifetime_tx,
        }
    }

    /// `http://127.0.0.1:PORT` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        *self.accepted.borrow()
    }
}

impl Drop for RawServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reads until the end of a request head (the blank line); returns everything read, which
/// may include the start of the body. Returns what it has if the peer closes first.
pub async fn read_head(stream: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let mut chunk = [0u8; 4096];
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&chunk[..n]),
        }
    }
    got
}

/// Reads and discards until the peer closes (or fails); returns how many bytes came.
pub async fn read_to_close(stream: &mut TcpStream) -> usize {
    let mut total = 0;
    let mut chunk = [0u8; 16 * 1024];
    loop {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return total,
            Ok(n) => total += n,
        }
    }
}

/// A listener on loopback whose accept queue is full: it never accepts, its backlog is
/// 0, and connections are made until one no longer completes. Further SYNs are dropped
/// by the kernel, so a connect to it hangs. Returns the address and what keeps it so.
pub async fn listener_that_never_completes_a_connect() -> (SocketAddr, Socket, Vec<TcpStream>) {
    black_hole_on("127.0.0.1:0".parse().unwrap()).await
}

/// The same on a given address (port 0: any).
pub async fn black_hole_on(at: SocketAddr) -> (SocketAddr, Socket, Vec<TcpStream>) {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    socket
        .bind(&at.into())
        .unwrap_or_else(|e| panic!("black hole: cannot bind {at}: {e}"));
    socket.listen(0).unwrap();
    let addr = socket.local_addr().unwrap().as_socket().unwrap();
    let mut fillers = Vec::new();
    for _ in 0..16 {
        match tokio::time::timeout(Duration::from_millis(100), TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => fillers.push(stream),
            Ok(Err(e)) => panic!("filling the backlog: {e}"),
            // This one hangs: the queue is full.
            Err(_) => return (addr, socket, fillers),
        }
    }
    panic!("the accept queue never filled up");
}
