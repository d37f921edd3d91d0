//! The response and its body. The body owns the connection until the body's end has been
//! read; at that moment (often before the caller reads anything, when the whole body is
//! already buffered) the connection goes back to the pool. Dropped early, the rest of the
//! body is drained in the background, bounded by `drain_limit` and `drain_timeout`, and the
//! connection is reused only if the drain reached the end within both.
//!
//! ```text
//!   Reading ──(end of body read)──► Done: connection released (or closed if not reusable)
//!      │ error / EOF too soon ───► Done: connection closed
//!      └─(dropped)──► drain task ─► released, or closed past a bound
//! ```

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, StatusCode, Version};
use url::Url;

use super::Client;
use crate::error::{Error, ErrorKind};
use crate::pool::{Count, Pooled};
use crate::proto::{self, Event, Framing, KeepAlive, ResponseHead, ResponseReader};

/// The most `Response::bytes` allocates up front on a server's `Content-Length`.
const BYTES_PREALLOCATE_MAX: usize = 16 * 1024 * 1024;

/// An HTTP response: status, version and headers, and a body read with `chunk`, `bytes`
/// or `text`.
pub struct Response {
    status: StatusCode,
    version: Version,
    headers: HeaderMap,
    url: Url,
    body: BodyReader,
}

/// The body's reading state.
struct BodyReader {
    /// The connection, until the body's end or an error.
    conn: Option<Pooled>,
    reader: ResponseReader,
    keep_alive: KeepAlive,
    /// Chunks decoded from the buffer but not yet returned.
    pending: Pending,
    deadline: Option<Instant>,
    drain_limit: u64,
    drain_timeout: Duration,
    done: bool,
    /// An error found while decoding ahead, returned by the next read.
    error: Option<Error>,
    /// Whether the connection served earlier requests (for errors).
    reused: bool,
}

impl Response {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        head: ResponseHead,
        framing: Framing,
        reader: ResponseReader,
        request_complete: bool,
        mut pooled: Pooled,
        sent_connection: &HeaderMap,
        url: Url,
        deadline: Option<Instant>,
        client: &Client,
    ) -> Response {
        let mut keep_alive =
            proto::keep_alive(sent_connection, head.version, &head.headers, &framing);
        if !request_complete {
            keep_alive.close = Some(proto::CloseReason::RequestNotFullySent);
        }
        if keep_alive.close.is_none() {
            let conn = pooled.conn();
            // A response that does not repeat `Keep-Alive` leaves the server's terms as
            // they were, one request further on: `max=M` allows M more requests in all.
            conn.server_timeout = keep_alive.timeout.or(conn.server_timeout);
            conn.server_remaining = keep_alive
                .max
                .or(conn.server_remaining.map(|n| n.saturating_sub(1)));
        }
        if let Some(reason) = keep_alive.close {
            let conn = pooled.conn().id();
            tracing::debug!(host = %pooled.key(), conn, reason = ?reason, "connection will close after this response");
        }
        let reused = pooled.reused();
        let mut body = BodyReader {
            conn: Some(pooled),
            reader,
            keep_alive,
            pending: Pending::default(),
            deadline,
            drain_limit: client.config.drain_limit,
            drain_timeout: client.config.drain_timeout,
            done: false,
            error: None,
            reused,
        };
        // Whatever of the body is already buffered is decoded now, so a response whose
        // body arrived with its head gives its connection back at once.
        if let Err(e) = body.decode_buffered() {
            body.fail();
            body.error = Some(e);
        }
        Response {
            status: head.status,
            version: head.version,
            headers: head.headers,
            url,
            body,
        }
    }

    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The HTTP version of the response.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The response headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The URL that was requested.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The next piece of the body, or `None` at its end. The connection goes back to the
    /// pool as soon as the end has been read.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, Error> {
        self.body.chunk().await
    }

    /// The whole body.
    pub async fn bytes(mut self) -> Result<Bytes, Error> {
        let Some(first) = self.body.chunk().await? else {
            return Ok(Bytes::new());
        };
        let Some(second) = self.body.chunk().await? else {
            return Ok(first);
        };
        // Sized once from `Content-Length` when the server gave one (trusted up to a bound:
        // past it the buffer grows as bytes arrive), so a large body is copied once.
        let hint = self
            .headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
            .unwrap_or(0)
            .min(BYTES_PREALLOCATE_MAX);
        let mut all = BytesMut::with_capacity(hint.max(first.len() + second.len()));
        all.extend_from_slice(&first);
        all.extend_from_slice(&second);
        while let Some(more) = self.body.chunk().await? {
            all.extend_from_slice(&more);
        }
        Ok(all.freeze())
    }

    /// The whole body as text; invalid UTF-8 is replaced with U+FFFD.
    pub async fn text(self) -> Result<String, Error> {
        let bytes = self.bytes().await?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }
}

impl std::fmt::Debug for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Response")
            .field("url", &self.url.as_str())
            .field("status", &self.status)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

impl BodyReader {
    /// The next piece of the body; errors say the request was written (a response began).
    async fn chunk(&mut self) -> Result<Option<Bytes>, Error> {
        let reused = self.reused;
        self.next_chunk()
            .await
            .map_err(|e| e.with_attempt(true, reused))
    }

    async fn next_chunk(&mut self) -> Result<Option<Bytes>, Error> {
        loop {
            if let Some(chunk) = self.pending.pop() {
                return Ok(Some(chunk));
            }
            if let Some(e) = self.error.take() {
                return Err(e);
            }
            if self.done {
                return Ok(None);
            }
            let read = {
                let Some(pooled) = self.conn.as_mut() else {
                    return Ok(None);
                };
                let read = pooled.conn().read_more();
                match self.deadline {
                    Some(d) => match tokio::time::timeout_at(d.into(), read).await {
                        Ok(r) => r,
                        Err(_) => {
                            self.fail();
                            return Err(Error::timeout("reading the response body"));
                        }
                    },
                    None => read.await,
                }
            };
            let step = match read {
                Ok(0) => self.eof(),
                Ok(_) => self.decode_buffered(),
                // A reset cuts the body short just as an early EOF does.
                Err(e) if is_reset(&e) => Err(Error::new(ErrorKind::IncompleteBody, e)
                    .context("the connection was reset before the end of the body")),
                Err(e) => Err(crate::conn::tls::io_error(e, "reading the response body")),
            };
            if let Err(e) = step {
                self.fail();
                return Err(e);
            }
        }
    }

    /// Decodes what the buffer holds into `pending`; at the body's end, releases the
    /// connection.
    fn decode_buffered(&mut self) -> Result<(), Error> {
        let Some(pooled) = self.conn.as_mut() else {
            return Ok(());
        };
        loop {
            match self
                .reader
                .next(pooled.conn().buf())
                .map_err(Error::proto)?
            {
                Event::Data(chunk) => self.pending.push(chunk),
                Event::NeedMore => return Ok(()),
                Event::End => {
                    self.finish();
                    return Ok(());
                }
                Event::Head(..) => return Err(Error::proto(proto::ProtoError::InvalidHead)),
            }
        }
    }

    /// The peer closed: the end of a close-delimited body, or a short one.
    fn eof(&mut self) -> Result<(), Error> {
        let Some(pooled) = self.conn.as_mut() else {
            return Ok(());
        };
        loop {
            match self.reader.eof(pooled.conn().buf()).map_err(Error::proto)? {
                Event::Data(chunk) => self.pending.push(chunk),
                Event::End => {
                    // Closed by the peer: never reusable, whatever the headers said.
                    self.keep_alive.close = Some(proto::CloseReason::CloseDelimitedBody);
                    self.finish();
                    return Ok(());
                }
                Event::NeedMore | Event::Head(..) => {
                    return Err(Error::proto(proto::ProtoError::IncompleteBody))
                }
            }
        }
    }

    /// The body's end was read: release or close the connection.
    fn finish(&mut self) {
        self.done = true;
        if let Some(mut pooled) = self.conn.take() {
            pooled.conn().responses += 1;
            if self.keep_alive.close.is_none() {
                pooled.release();
            }
        }
    }

    /// An error: the connection is closed.
    fn fail(&mut self) {
        self.done = true;
        self.conn = None;
    }
}

impl Drop for BodyReader {
    fn drop(&mut self) {
        let Some(pooled) = self.conn.take() else {
            return;
        };
        if self.keep_alive.close.is_some() {
            // Not reusable anyway: close now rather than read what nobody wants.
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let reader = std::mem::replace(
            &mut self.reader,
            ResponseReader::new(&http::Method::GET, proto::HeadLimits::default()),
        );
        runtime.spawn(drain(pooled, reader, self.drain_limit, self.drain_timeout));
    }
}

/// Errors that mean the peer reset or aborted the connection.
fn is_reset(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionReset
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::UnexpectedEof
    )
}

/// Decoded chunks not yet returned, in order. Most bodies decode to one chunk at a time,
/// which is held without allocating.
#[derive(Default)]
struct Pending {
    first: Option<Bytes>,
    rest: VecDeque<Bytes>,
}

impl Pending {
    fn push(&mut self, chunk: Bytes) {
        if self.first.is_none() && self.rest.is_empty() {
            self.first = Some(chunk);
        } else {
            self.rest.push_back(chunk);
        }
    }

    fn pop(&mut self) -> Option<Bytes> {
        self.first.take().or_else(|| self.rest.pop_front())
    }
}

/// Why a drain gave up.
enum DrainStop {
    /// Past the byte limit or the time limit: the connection is closed.
    OverLimit,
    /// The body broke (short, malformed, I/O error): the connection is closed.
    Broken,
}

/// Reads and discards the rest of a dropped response's body; the connection is reused only
/// if the end comes within `limit` bytes and `timeout`.
async fn drain(mut pooled: Pooled, mut reader: ResponseReader, limit: u64, timeout: Duration) {
    let host = pooled.key().clone();
    let conn_id = pooled.conn().id();
    let mut drained = 0u64;
    let run = async {
        loop {
            loop {
                match reader.next(pooled.conn().buf()) {
                    Ok(Event::Data(chunk)) => {
                        drained += chunk.len() as u64;
                        if drained > limit {
                            return Err(DrainStop::OverLimit);
                        }
                    }
                    Ok(Event::End) => return Ok(()),
                    Ok(Event::NeedMore) => break,
                    Ok(Event::Head(..)) | Err(_) => return Err(DrainStop::Broken),
                }
            }
            match pooled.conn().read_more().await {
                Ok(0) | Err(_) => return Err(DrainStop::Broken),
                Ok(_) => {}
            }
        }
    };
    let outcome = tokio::time::timeout(timeout, run)
        .await
        .unwrap_or(Err(DrainStop::OverLimit));
    match outcome {
        Ok(()) => {
            pooled.count(Count::BodyDrained);
            tracing::debug!(host = %host, conn = conn_id, drained, "drained dropped body; connection kept");
            pooled.conn().responses += 1;
            pooled.release();
        }
        Err(DrainStop::OverLimit) => {
            pooled.count(Count::DrainOverLimit);
            tracing::debug!(host = %host, conn = conn_id, drained, "dropped body over the drain limit; connection closed");
        }
        Err(DrainStop::Broken) => {
            tracing::debug!(host = %host, conn = conn_id, drained, "dropped body broke while draining; connection closed");
        }
    }
}
