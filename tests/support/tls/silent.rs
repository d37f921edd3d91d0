//! A TCP server that accepts and never speaks: a TLS handshake against it never completes.

use std::net::SocketAddr;

use tokio::net::TcpListener;
use tokio::sync::watch;

use super::{stop_after, DEFAULT_LIFETIME};

/// Accepts TCP connections and never speaks: a TLS handshake against it never completes.
pub struct SilentServer {
    addr: SocketAddr,
    accepted: watch::Receiver<usize>,
    task: tokio::task::AbortHandle,
    _lifetime: std::sync::mpsc::Sender<()>,
}

impl SilentServer {
    /// Binds 127.0.0.1:0 and starts accepting.
    pub async fn start() -> SilentServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = watch::channel(0usize);
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((tcp, _)) = listener.accept().await {
                held.push(tcp);
                tx.send_modify(|n| *n += 1);
            }
        })
        .abort_handle();
        let lifetime = stop_after(task.clone(), DEFAULT_LIFETIME);
        SilentServer {
            addr,
            accepted: rx,
            task,
            _lifetime: lifetime,
        }
    }

    /// `https://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("https://{}/", self.addr)
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        *self.accepted.borrow()
    }
}

impl Drop for SilentServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
