//! Reading one request from a connection: the head with httparse (at most 64 KiB and
//! 128 headers), then the body by `Transfer-Encoding: chunked` (decoded, trailers
//! skipped) or `Content-Length` (RFC 9112 §6), else no body.
//!
//! While the read buffer is empty the caller's idle timer runs; the first byte of a
//! request cancels it. Malformed input is reported as a status code to answer with
//! (400 or 431), never a panic. Writing answers is `conn.rs`'s job.

use std::time::Duration;

use bytes::{Buf, BytesMut};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

/// Largest request head accepted.
pub(super) const MAX_HEAD: usize = 64 * 1024;
/// Most headers accepted in a request head.
const MAX_HEADERS: usize = 128;
/// Largest trailer section accepted after a chunked body.
const MAX_TRAILERS: usize = 64 * 1024;
/// Read-buffer growth per read.
const READ_CHUNK: usize = 16 * 1024;

/// A complete request, before it is numbered and recorded.
pub(super) struct ParsedRequest {
    pub method: String,
    pub target: String,
    pub version: u8,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub raw_head: Vec<u8>,
}

/// The result of trying to read one request.
pub(super) enum ReadOutcome {
    Request(ParsedRequest),
    /// The client closed (EOF) or reset the connection before a request was complete.
    ClientGone,
    /// The idle timer fired before any byte of a request arrived.
    Idle,
    /// The request is malformed or too large: answer with this status, then close.
    Bad(u16),
}

struct Head {
    method: String,
    target: String,
    version: u8,
    headers: Vec<(String, String)>,
    len: usize,
}

enum BodyLength {
    Fixed(usize),
    Chunked,
}

/// Reads one request into `buf` (which may already hold the start of it, e.g. a
/// pipelined request) and consumes it from `buf`. `idle` applies only if `buf` is
/// empty on entry, until the first byte arrives.
pub(super) async fn read_request(
    stream: &mut TcpStream,
    buf: &mut BytesMut,
    idle: Option<Duration>,
) -> ReadOutcome {
    let mut idle = if buf.is_empty() { idle } else { None };
    let head = loop {
        if !buf.is_empty() {
            match parse_head(buf) {
                Ok(Some(head)) => break head,
                Ok(None) => {}
                Err(status) => return ReadOutcome::Bad(status),
            }
        }
        buf.reserve(READ_CHUNK);
        let read = match idle.take() {
            Some(limit) => tokio::select! {
                biased;
                read = stream.read_buf(buf) => read,
                () = tokio::time::sleep(limit) => return ReadOutcome::Idle,
            },
            None => stream.read_buf(buf).await,
        };
        if !matches!(read, Ok(n) if n > 0) {
            return ReadOutcome::ClientGone;
        }
    };
    let length = match body_length(&head.headers) {
        Ok(length) => length,
        Err(status) => return ReadOutcome::Bad(status),
    };
    let (body, body_len) = loop {
        let available = &buf[head.len..];
        let missing = match length {
            BodyLength::Fixed(n) if available.len() >= n => break (available[..n].to_vec(), n),
            BodyLength::Fixed(n) => n - available.len(),
            BodyLength::Chunked => match decode_chunked(available) {
                Ok(Some(done)) => break done,
                Ok(None) => READ_CHUNK,
                Err(()) => return ReadOutcome::Bad(400),
            },
        };
        buf.reserve(missing.clamp(READ_CHUNK, 1 << 20));
        if !matches!(stream.read_buf(buf).await, Ok(n) if n > 0) {
            return ReadOutcome::ClientGone;
        }
    };
    let raw_head = buf[..head.len].to_vec();
    buf.advance(head.len + body_len);
    ReadOutcome::Request(ParsedRequest {
        method: head.method,
        target: head.target,
        version: head.version,
        headers: head.headers,
        body,
        raw_head,
    })
}

/// `Ok(None)`: the head is not complete yet. `Err(status)`: answer with `status`.
fn parse_head(buf: &[u8]) -> Result<Option<Head>, u16> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut slots);
    match req.parse(buf) {
        Ok(httparse::Status::Complete(len)) if len > MAX_HEAD => Err(431),
        Ok(httparse::Status::Complete(len)) => Ok(Some(Head {
            method: req.method.unwrap_or_default().to_string(),
            target: req.path.unwrap_or_default().to_string(),
            version: req.version.unwrap_or(1),
            headers: req
                .headers
                .iter()
                .map(|h| {
                    (
                        h.name.to_string(),
                        String::from_utf8_lossy(h.value).into_owned(),
                    )
                })
                .collect(),
            len,
        })),
        Ok(httparse::Status::Partial) if buf.len() > MAX_HEAD => Err(431),
        Ok(httparse::Status::Partial) => Ok(None),
        Err(httparse::Error::TooManyHeaders) => Err(431),
        Err(_) => Err(400),
    }
}

/// RFC 9112 §6.1–6.3 for requests: chunked if the last transfer coding is `chunked`
/// (any other coding is a 400); else a valid `Content-Length` (identical repeats
/// allowed); else no body.
fn body_length(headers: &[(String, String)]) -> Result<BodyLength, u16> {
    let values = |name: &'static str| {
        headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .flat_map(|(_, v)| v.split(','))
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    if headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("transfer-encoding"))
    {
        return match values("transfer-encoding").next_back() {
            Some(last) if last.eq_ignore_ascii_case("chunked") => Ok(BodyLength::Chunked),
            _ => Err(400),
        };
    }
    let mut length = None;
    for value in values("content-length") {
        if !value.bytes().all(|b| b.is_ascii_digit()) {
            return Err(400);
        }
        let n: usize = value.parse().map_err(|_| 400u16)?;
        if length.is_some_and(|l| l != n) {
            return Err(400);
        }
        length = Some(n);
    }
    Ok(BodyLength::Fixed(length.unwrap_or(0)))
}

/// Decodes a whole chunked body at the start of `data` (RFC 9112 §7.1).
/// `Ok(Some((body, consumed)))` when complete, `Ok(None)` when more bytes are needed.
fn decode_chunked(data: &[u8]) -> Result<Option<(Vec<u8>, usize)>, ()> {
    let mut pos = 0;
    let mut body = Vec::new();
    loop {
        let (used, size) = match httparse::parse_chunk_size(&data[pos..]) {
            Ok(httparse::Status::Complete(found)) => found,
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(_) => return Err(()),
        };
        pos += used;
        if size == 0 {
            break;
        }
        let size = usize::try_from(size).map_err(|_| ())?;
        let end = pos.checked_add(size).ok_or(())?;
        if data.len() < end.saturating_add(2) {
            return Ok(None);
        }
        if &data[end..end + 2] != b"\r\n" {
            return Err(());
        }
        body.extend_from_slice(&data[pos..end]);
        pos = end + 2;
    }
    // Trailer section: header lines until an empty line.
    let trailers_start = pos;
    loop {
        let Some(eol) = data[pos..].windows(2).position(|w| w == b"\r\n") else {
            return if data.len() - trailers_start > MAX_TRAILERS {
                Err(())
            } else {
                Ok(None)
            };
        };
        pos += eol + 2;
        if eol == 0 {
            return Ok(Some((body, pos)));
        }
        if pos - trailers_start > MAX_TRAILERS {
            return Err(());
        }
    }
}
