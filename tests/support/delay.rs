//! A delaying TCP proxy on 127.0.0.1, so that tests see a real round trip: every byte,
//! FIN and reset takes `one_way` to reach the other side, in order per direction. With
//! it, the close race has the width it has on a network: a server's FIN is still on the
//! wire while the client sends its next request.
//!
//! Each accepted connection gets a connection to the upstream and two pumps, one per
//! direction. A pump's reader stamps what it reads (bytes, the end, or a reset) with the
//! time it must be delivered and queues it; its writer delivers each item at that time.
//! A reset is passed on as a reset (`SO_LINGER` 0, then close). Stops when dropped, and
//! by itself after `LIFETIME` in any case.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

/// The longest a proxy lives, whatever the test does.
const LIFETIME: Duration = Duration::from_secs(120);

/// What one direction carries.
enum Item {
    Data(Vec<u8>),
    /// The sender closed its side (FIN).
    End,
    /// The sender's side was reset.
    Reset,
}

pub struct DelayProxy {
    addr: SocketAddr,
    task: tokio::task::AbortHandle,
}

impl DelayProxy {
    /// Listens on 127.0.0.1 (port 0) and forwards every connection to `upstream`, each
    /// way after `one_way`.
    pub async fn start(upstream: SocketAddr, one_way: Duration) -> DelayProxy {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("DelayProxy: cannot bind 127.0.0.1:0: {e}"));
        let addr = listener.local_addr().expect("DelayProxy: local_addr");
        let task = tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            let until = Instant::now() + LIFETIME;
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        let Ok((client, _)) = accepted else { continue };
                        conns.spawn(relay(client, upstream, one_way));
                    }
                    Some(_) = conns.join_next() => {}
                    _ = tokio::time::sleep_until(until) => return,
                }
            }
        })
        .abort_handle();
        DelayProxy { addr, task }
    }

    /// The address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` (the proxy's) followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }
}

impl Drop for DelayProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Relays one connection both ways until both directions have ended.
async fn relay(client: TcpStream, upstream: SocketAddr, one_way: Duration) {
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (client, server) = (Arc::new(client), Arc::new(server));
    // A reset ends the relay at once: dropping both pumps closes both sockets, the one to
    // be reset with a zero linger.
    let (kill, mut killed) = watch::channel(false);
    let up = pump(client.clone(), server.clone(), one_way, kill.clone());
    let down = pump(server, client, one_way, kill);
    tokio::select! {
        _ = async { tokio::join!(up, down) } => {}
        _ = killed.wait_for(|k| *k) => {}
    }
}

/// Carries `from` → `to`, each item `one_way` after it was read.
async fn pump(
    from: Arc<TcpStream>,
    to: Arc<TcpStream>,
    one_way: Duration,
    kill: watch::Sender<bool>,
) {
    let (tx, mut rx) = mpsc::unbounded_channel::<(Instant, Item)>();
    let read = async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            if from.readable().await.is_err() {
                let _ = tx.send((Instant::now() + one_way, Item::Reset));
                return;
            }
            match from.try_read(&mut buf) {
                Ok(0) => {
                    let _ = tx.send((Instant::now() + one_way, Item::End));
                    return;
                }
                Ok(n) => {
                    let item = Item::Data(buf[..n].to_vec());
                    if tx.send((Instant::now() + one_way, item)).is_err() {
                        return;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(_) => {
                    let _ = tx.send((Instant::now() + one_way, Item::Reset));
                    return;
                }
            }
        }
    };
    let write = async move {
        while let Some((at, item)) = rx.recv().await {
            tokio::time::sleep_until(at).await;
            match item {
                Item::Data(bytes) => {
                    if write_all(&to, &bytes).await.is_err() {
                        return;
                    }
                }
                Item::End => {
                    shutdown_write(&to);
                    return;
                }
                Item::Reset => {
                    // Closed with a zero linger, the socket sends a reset.
                    let _ = socket2::SockRef::from(&*to).set_linger(Some(Duration::ZERO));
                    kill.send_replace(true);
                    return;
                }
            }
        }
    };
    tokio::join!(read, write);
}

async fn write_all(to: &TcpStream, mut bytes: &[u8]) -> std::io::Result<()> {
    while !bytes.is_empty() {
        to.writable().await?;
        match to.try_write(bytes) {
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Sends FIN on `to` (its write side only).
fn shutdown_write(to: &TcpStream) {
    let _ = socket2::SockRef::from(to).shutdown(std::net::Shutdown::Write);
}
