//! The floor: about the least work an HTTP/1.1 keep-alive client can do per request, run
//! beside the real clients to show how much of a request's client CPU is the kernel's (the
//! same `sendto` and `recvfrom` for every client) and so how much any client could still
//! save. It is not a client: it takes only the benchmark's `http://IP:PORT/path` URLs,
//! reads only responses framed by `Content-Length`, and has no timeouts, no retries, no
//! header validation and no liveness check. Per request it splits the URL string, formats
//! the head into a buffer it keeps, writes it with one call, and reads into the
//! connection's buffer until the head and the declared body are in; idle connections wait
//! on a stack per host.

use std::net::SocketAddr;
use std::sync::Mutex;

use http::Method;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One kept-alive connection and its buffers (kept between requests, so that a request
/// allocates nothing once the connection is warm).
struct Conn {
    stream: TcpStream,
    head: Vec<u8>,
    buf: Vec<u8>,
}

/// Idle connections per host (hosts numbered as the benchmark numbers them).
pub struct Floor {
    idle: Vec<Mutex<Vec<Conn>>>,
}

impl Floor {
    pub fn new(hosts: usize) -> Floor {
        Floor {
            idle: (0..hosts).map(|_| Mutex::new(Vec::new())).collect(),
        }
    }

    /// Sends `method url` (with `body`) to host number `host`; the response body length.
    pub async fn request(
        &self,
        host: usize,
        method: &Method,
        url: &str,
        body: Option<&[u8]>,
    ) -> Result<usize, String> {
        let rest = url
            .strip_prefix("http://")
            .ok_or("the floor speaks http:// only")?;
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let path = if path.is_empty() { "/" } else { path };
        let slot = self.idle.get(host).ok_or("no such host")?;
        let idle = slot.lock().map_err(|_| "poisoned")?.pop();
        let mut conn = match idle {
            Some(conn) => conn,
            None => {
                let addr: SocketAddr = authority.parse().map_err(|_| "not IP:PORT")?;
                let stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
                stream.set_nodelay(true).map_err(|e| e.to_string())?;
                Conn {
                    stream,
                    head: Vec::with_capacity(256),
                    buf: Vec::with_capacity(8192),
                }
            }
        };
        conn.head.clear();
        for piece in [method.as_str(), " ", path, " HTTP/1.1\r\nhost: ", authority] {
            conn.head.extend_from_slice(piece.as_bytes());
        }
        if let Some(body) = body {
            conn.head.extend_from_slice(b"\r\ncontent-length: ");
            conn.head
                .extend_from_slice(body.len().to_string().as_bytes());
        }
        conn.head.extend_from_slice(b"\r\n\r\n");
        if let Some(body) = body {
            conn.head.extend_from_slice(body);
        }
        conn.stream
            .write_all(&conn.head)
            .await
            .map_err(|e| e.to_string())?;

        conn.buf.clear();
        let mut searched: usize = 0;
        let head_len = loop {
            let from = searched.saturating_sub(3);
            if let Some(i) = conn.buf[from..].windows(4).position(|w| w == b"\r\n\r\n") {
                break from + i + 4;
            }
            searched = conn.buf.len();
            read_some(&mut conn).await?;
        };
        let (length, close) = framing(&conn.buf[..head_len])?;
        while conn.buf.len() < head_len + length {
            read_some(&mut conn).await?;
        }
        if conn.buf.len() != head_len + length {
            return Err("bytes after the response".into());
        }
        if !close {
            slot.lock().map_err(|_| "poisoned")?.push(conn);
        }
        Ok(length)
    }
}

/// Reads what has arrived into the connection's buffer; the peer closing is an error.
async fn read_some(conn: &mut Conn) -> Result<(), String> {
    if conn.buf.capacity() - conn.buf.len() < 4096 {
        conn.buf.reserve(conn.buf.capacity().max(8192));
    }
    match conn.stream.read_buf(&mut conn.buf).await {
        Ok(0) => Err("closed before the response ended".into()),
        Ok(_) => Ok(()),
        Err(e) => Err(e.to_string()),
    }
}

/// The response's `Content-Length`, and whether it says `Connection: close`.
fn framing(head: &[u8]) -> Result<(usize, bool), String> {
    let (mut length, mut close) = (None, false);
    for line in head.split(|&b| b == b'\n').skip(1) {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii());
        if name.eq_ignore_ascii_case(b"content-length") {
            let text = std::str::from_utf8(value).map_err(|_| "bad content-length")?;
            length = Some(text.parse().map_err(|_| "bad content-length")?);
        } else if name.eq_ignore_ascii_case(b"connection") {
            close = value.eq_ignore_ascii_case(b"close");
        }
    }
    Ok((length.ok_or("no content-length")?, close))
}
