//! The TLS test server's HTTP/1.1 side: one connection's request loop (minimal parsing with
//! httparse, `Content-Length` bodies only), its idle actions (close_notify, FIN, KeyUpdate),
//! and the plain-or-TLS stream it runs over.

use std::io::{self, Write};
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;

use super::{client_gone, IdleAction, Request, Shared, BIG_BODY};

/// A request head and body read off the connection.
struct Parsed {
    method: String,
    target: String,
    body: Vec<u8>,
}

/// Serves requests until the client goes or an idle action ends the connection.
pub(super) async fn serve_http(shared: &Shared, conn: usize, mut io: Io) {
    let mut buf: Vec<u8> = Vec::new();
    let mut answered = 0usize;
    loop {
        // Idle between responses: maybe act on it.
        if buf.is_empty() && answered > 0 {
            if let Some((after, action)) = shared.idle {
                let mut chunk = [0u8; 4096];
                match tokio::time::timeout(after, io.read(&mut chunk)).await {
                    Ok(Ok(0)) | Ok(Err(_)) => return client_gone(shared),
                    Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
                    Err(_) => {
                        if !io.idle_action(action).await {
                            return client_gone(shared);
                        }
                        shared.stats.send_modify(|s| s.idle_actions += 1);
                        if action != IdleAction::KeyUpdate {
                            // Wait for the client to close its side.
                            let _ = drain(&mut io).await;
                            return client_gone(shared);
                        }
                    }
                }
            }
        }
        let Some(req) = read_request(&mut io, &mut buf).await else {
            return client_gone(shared);
        };
        if req.target.starts_with("/reject") {
            // An early answer (RFC 9112 §9.6): `413` before the body, then the connection
            // ends with the body unread, so the client's write fails.
            let answer = b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 8\r\nConnection: close\r\n\r\ntoo big!";
            let _ = io.write_all(answer).await;
            let _ = io.flush().await;
            return client_gone(shared);
        }
        let then_close_notify = req.target.starts_with("/then-close-notify");
        let body = if req.target.starts_with("/big") {
            vec![b'x'; BIG_BODY]
        } else if req.method == "GET" || req.method == "HEAD" {
            b"hello".to_vec()
        } else {
            req.body.clone()
        };
        {
            let mut all = shared.requests.lock().unwrap_or_else(|e| e.into_inner());
            all.push(Request {
                conn,
                tls: matches!(io, Io::Tls(_)),
                method: req.method.clone(),
                target: req.target,
                body: req.body,
            });
        }
        shared.stats.send_modify(|s| {
            s.requests += 1;
            if let Some(n) = s.requests_per_conn.get_mut(conn) {
                *n += 1;
            }
        });
        let mut out =
            format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
        if req.method != "HEAD" {
            out.extend_from_slice(&body);
        }
        if let (true, Io::Tls(tls)) = (then_close_notify, &mut io) {
            // The response and a close_notify in one write: the client reads both with
            // the response, and nothing arrives after it to show the close.
            let session = &mut tls.get_mut().1;
            if session.writer().write_all(&out).is_err() {
                return client_gone(shared);
            }
            session.send_close_notify();
            let _ = tls.flush().await;
            let _ = drain(&mut io).await;
            return client_gone(shared);
        }
        if io.write_all(&out).await.is_err() || io.flush().await.is_err() {
            return client_gone(shared);
        }
        answered += 1;
    }
}

/// Reads until EOF or error, discarding.
async fn drain(io: &mut Io) -> io::Result<()> {
    let mut chunk = [0u8; 4096];
    loop {
        if io.read(&mut chunk).await? == 0 {
            return Ok(());
        }
    }
}

/// Reads one request (head, then a `Content-Length` body); `None` when the client closed
/// or sent something unparseable.
async fn read_request(io: &mut Io, buf: &mut Vec<u8>) -> Option<Parsed> {
    let mut chunk = [0u8; 4096];
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(buf) {
            Ok(httparse::Status::Complete(head_len)) => {
                let method = req.method.unwrap_or_default().to_owned();
                let target = req.path.unwrap_or_default().to_owned();
                let length = req
                    .headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                    .and_then(|h| std::str::from_utf8(h.value).ok()?.trim().parse().ok())
                    .unwrap_or(0usize);
                if target.starts_with("/reject") {
                    // Answered on the head alone: the body is left unread.
                    buf.clear();
                    return Some(Parsed {
                        method,
                        target,
                        body: Vec::new(),
                    });
                }
                while buf.len() < head_len + length {
                    let n = io.read(&mut chunk).await.ok()?;
                    if n == 0 {
                        return None;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                let body = buf[head_len..head_len + length].to_vec();
                buf.drain(..head_len + length);
                return Some(Parsed {
                    method,
                    target,
                    body,
                });
            }
            Ok(httparse::Status::Partial) => {}
            Err(_) => return None,
        }
        let n = io.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// A served connection: plain or TLS.
pub(super) enum Io {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl Io {
    /// Does `action`; false when the connection failed meanwhile.
    async fn idle_action(&mut self, action: IdleAction) -> bool {
        match (self, action) {
            (Io::Tls(tls), IdleAction::CloseNotify) => {
                tls.get_mut().1.send_close_notify();
                tls.flush().await.is_ok()
            }
            (Io::Tls(tls), IdleAction::KeyUpdate) => {
                tls.get_mut().1.refresh_traffic_keys().is_ok() && tls.flush().await.is_ok()
            }
            (Io::Tls(tls), IdleAction::Fin) => tls.get_mut().0.shutdown().await.is_ok(),
            (Io::Plain(tcp), _) => tcp.shutdown().await.is_ok(),
        }
    }
}

impl AsyncRead for Io {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_read(cx, buf),
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
            Io::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_flush(cx),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}
