//! One HTTP/1.x connection: its socket (plain or TLS), its read buffer, and what the pool
//! needs to know about it (id, age, requests served, the server's keep-alive terms).
//!
//! It writes bytes (counting how many went out, so a failed request knows whether anything
//! was sent), reads more bytes into the buffer, and probes itself for liveness while idle.
//! It knows nothing of the pool or of HTTP framing: `proto` decides what the bytes mean.

pub(crate) mod connect;
pub(crate) mod probe;
pub(crate) mod tls;

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use rustls::ClientConfig;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use crate::error::{Error, ErrorKind};
use crate::pool::{Liveness, PoolKey, Scheme};

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
}

impl AsyncRead for Io {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Io::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
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
            Io::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Io::Tcp(s) => Pin::new(s).poll_flush(cx),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Io::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// An open connection to one pool key.
pub(crate) struct Connection {
    io: Io,
    buf: BytesMut,
    /// Room the next read asks for (`READ_CHUNK` to `READ_MAX`).
    read_size: usize,
    id: u64,
    created: Instant,
    /// Responses completed on this connection.
    pub responses: u32,
    /// Requests the server still allows (`Keep-Alive: max=M`), when it said.
    pub server_remaining: Option<u32>,
    /// The server's idle timeout (`Keep-Alive: timeout=N`), when it said.
    pub server_timeout: Option<Duration>,
}

impl Connection {
    /// Dials `key`: TCP, then TLS for https.
    pub async fn open(
        key: &PoolKey,
        connect_timeout: Duration,
        tls: Option<&Arc<ClientConfig>>,
    ) -> Result<Connection, Error> {
        let deadline = Instant::now() + connect_timeout;
        let tcp = connect::connect_tcp(key.host(), key.port(), connect_timeout).await?;
        let io = match key.scheme() {
            Scheme::Http => Io::Tcp(tcp),
            Scheme::Https => {
                let Some(tls) = tls else {
                    return Err(Error::msg(
                        ErrorKind::Tls,
                        "no TLS configuration could be built",
                    ));
                };
                let left = deadline.saturating_duration_since(Instant::now());
                match tokio::time::timeout(left, tls::handshake(tls, key.host(), tcp)).await {
                    Ok(stream) => Io::Tls(Box::new(stream?)),
                    Err(_) => return Err(Error::timeout("TLS handshake")),
                }
            }
        };
        Ok(Connection {
            io,
            buf: BytesMut::new(),
            read_size: READ_CHUNK,
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            // The pool's clock (tokio's), which `max_lifetime` is checked against.
            created: crate::pool::now(),
            responses: 0,
            server_remaining: None,
            server_timeout: None,
        })
    }

    /// A process-unique id, for tracing.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// When the connection was opened.
    pub fn created(&self) -> Instant {
        self.created
    }

    /// The read buffer: bytes received and not yet consumed.
    pub fn buf(&mut self) -> &mut BytesMut {
        &mut self.buf
    }

    /// Writes all of `data`, adding to `written` as bytes go out.
    pub async fn write_all(&mut self, data: &[u8], written: &mut u64) -> io::Result<()> {
        let mut rest = data;
        while !rest.is_empty() {
            let n = self.io.write(rest).await?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            *written += n as u64;
            rest = &rest[n..];
        }
        Ok(())
    }

    /// Flushes what TLS may buffer.
    pub async fn flush(&mut self) -> io::Result<()> {
        self.io.flush().await
    }

    /// Reads more bytes into the buffer; 0 means the peer closed.
    pub async fn read_more(&mut self) -> io::Result<usize> {
        if self.buf.capacity() - self.buf.len() < self.read_size / 2 {
            self.buf.reserve(self.read_size);
        }
        let room = self.buf.capacity() - self.buf.len();
        let n = self.io.read_buf(&mut self.buf).await?;
        if n == room && self.read_size < READ_MAX {
            self.read_size *= 2;
        }
        Ok(n)
    }

    /// Gets ready to rest idle: an idle connection keeps no read buffer. False when bytes
    /// beyond the response are waiting, which makes the connection unusable.
    pub fn prepare_idle(&mut self) -> bool {
        if !self.buf.is_empty() {
            return false;
        }
        self.buf = BytesMut::new();
        self.read_size = READ_CHUNK;
        true
    }

    /// Checks without blocking whether the server closed or spoke while idle.
    pub fn probe(&mut self) -> Liveness {
        if !self.buf.is_empty() {
            return Liveness::Unsolicited;
        }
        match &mut self.io {
            Io::Tcp(s) => probe::probe_tcp(s),
            Io::Tls(s) => {
                let (tcp, session) = s.get_mut();
                probe::probe_tls(tcp, session)
            }
        }
    }
}
