//! A connection handed to the caller after `101 Switching Protocols`
//! (`Response::upgrade`): the socket (TCP, or TLS over it), with the bytes that arrived
//! after the `101`'s head read first. It has left the pool: no cap counts it, no timeout
//! of the client's applies to it, and dropping it closes it.

use std::fmt;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::Io;

/// The connection after a `101 Switching Protocols`, speaking the protocol the request
/// asked for (reqwest's `Upgraded`): `tokio::io::AsyncRead` and `AsyncWrite`, for a
/// WebSocket library or any other protocol on top.
///
/// ```no_run
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let response = tether::Client::new()
///     .get("http://127.0.0.1:8080/chat")
///     .header("upgrade", "my-protocol")
///     .send()
///     .await?;
/// let mut upgraded = response.upgrade().await?;
/// upgraded.write_all(b"hello").await?;
/// let mut reply = [0u8; 5];
/// upgraded.read_exact(&mut reply).await?;
/// # Ok(()) }
/// ```
pub struct Upgraded {
    io: Io,
    /// What followed the `101`'s head in the same reads: the new protocol's first bytes.
    read_first: BytesMut,
    /// `connection_verbose`: the connection's id, every byte traced.
    verbose: Option<u64>,
}

impl Upgraded {
    pub(crate) fn new(io: Io, read_first: BytesMut, verbose: Option<u64>) -> Upgraded {
        Upgraded {
            io,
            read_first,
            verbose,
        }
    }
}

impl fmt::Debug for Upgraded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let over = match self.io {
            Io::Tcp(_) => "tcp",
            Io::Tls(_) => "tls",
            Io::TlsInTls(_) => "tls in tls",
            #[cfg(unix)]
            Io::Unix(_) => "unix socket",
            #[cfg(unix)]
            Io::UnixTls(_) => "tls over a unix socket",
        };
        f.debug_struct("Upgraded")
            .field("over", &over)
            .field("buffered", &self.read_first.len())
            .finish()
    }
}

impl AsyncRead for Upgraded {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.read_first.is_empty() {
            let n = this.read_first.len().min(buf.remaining());
            buf.put_slice(&this.read_first[..n]);
            this.read_first.advance(n);
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        let read = Pin::new(&mut this.io).poll_read(cx, buf);
        if let (Some(id), Poll::Ready(Ok(()))) = (this.verbose, &read) {
            super::verbose::read(id, &buf.filled()[before..]);
        }
        read
    }
}

impl AsyncWrite for Upgraded {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.io).poll_write(cx, buf);
        if let (Some(id), Poll::Ready(Ok(n))) = (this.verbose, &written) {
            super::verbose::wrote(id, &[buf], *n);
        }
        written
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}
