//! One exchange on a connection: write the request (watching for an early answer), read
//! the final head, then read the body to its end or drain it. The client asks for each
//! step and sees results (a head, body pieces, how it ended); every read of the socket
//! happens here, within the exchange's deadlines (`Timeouts`).
//!
//! Every failure is an [`ExchangeError`]: the public error, and the one fact the retry
//! decision needs that the caller cannot see, whether the connection was closed before any
//! byte of a response arrived (`Broke::Closed`). How much of the request went out is in the
//! caller's [`Progress`], which stays true even when a deadline ends the exchange.
//!
//! ```text
//!   write ─► complete ─► read head ─► Answer { request_complete: true }
//!     ├──► early final head ─────────► Answer { request_complete: false }
//!     └──► peer closed mid-write ─► read what it sent ─► Answer { false } or the write error
//!   Answer ─► body pieces ─► End { closed_by_peer } ─► finish_exchange (reuse decision)
//! ```

use std::io;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::write::{Body, RequestWriter, WriteError, Written};
use super::{tls, Connection};
use crate::clock;
use crate::error::{Error, ErrorKind};
use crate::proto::{Event, Framing, ProtoError, ResponseHead, ResponseReader};

/// The deadlines of an exchange's reads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Timeouts {
    /// The request's deadline (writing and every read).
    pub request: Option<Instant>,
    /// The longest wait for the next bytes of the response.
    pub read: Option<Duration>,
}

/// Which deadline passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimedOut {
    Request,
    Read,
}

impl Timeouts {
    /// The deadline of the next read, and which one it is.
    pub(super) fn next_read(&self, now: impl FnOnce() -> Instant) -> (Option<Instant>, TimedOut) {
        let Some(read) = self.read else {
            return (self.request, TimedOut::Request);
        };
        match (self.request, clock::after(now(), read)) {
            (Some(request), Some(at)) if request <= at => (Some(request), TimedOut::Request),
            (_, Some(at)) => (Some(at), TimedOut::Read),
            (request, None) => (request, TimedOut::Request),
        }
    }
}

/// A read that did not give bytes.
pub(super) enum ReadError {
    Io(io::Error),
    TimedOut(TimedOut),
}

/// How much of the request went out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Progress {
    /// Bytes of the request written.
    pub written: u64,
    /// All of the request was written.
    pub complete: bool,
}

/// The final response head.
pub(crate) struct Answer {
    pub head: ResponseHead,
    pub framing: Framing,
    /// Whether the whole request had been written when the head came.
    pub request_complete: bool,
}

/// How an exchange failed, for the retry decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Broke {
    /// EOF or reset before any byte of a response.
    Closed,
    /// Anything else: a response had begun, a protocol error, a deadline, a body stream
    /// that failed, another I/O error.
    Other,
}

/// A failed exchange.
pub(crate) struct ExchangeError {
    pub error: Error,
    pub broke: Broke,
}

impl ExchangeError {
    #[cold]
    fn other(error: Error) -> ExchangeError {
        ExchangeError {
            error,
            broke: Broke::Other,
        }
    }

    #[cold]
    fn closed(error: Error) -> ExchangeError {
        ExchangeError {
            error,
            broke: Broke::Closed,
        }
    }
}

/// What reading the body gave.
pub(crate) enum BodyEvent {
    Data(Bytes),
    /// The end; `closed_by_peer` when it was the peer closing that ended it.
    End {
        closed_by_peer: bool,
    },
}

/// Why a drain gave up (the connection is then closed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DrainStop {
    /// Past the byte limit or the deadline.
    OverLimit,
    /// The body broke: short, malformed, or an I/O error.
    Broken,
}

/// The error for a deadline that passed.
#[cold]
fn timed_out(which: TimedOut, doing: &str) -> Error {
    let what = match which {
        TimedOut::Request => "the request timed out",
        TimedOut::Read => "the read timeout passed",
    };
    Error::msg(ErrorKind::Timeout, format!("{what} {doing}"))
}

/// Errors that mean the peer closed the connection under us.
/// A read that failed in the middle of a body.
#[cold]
fn body_read_error(e: ReadError) -> Error {
    match e {
        // A reset cuts the body short just as an early EOF does.
        ReadError::Io(e) if is_closed(&e) => Error::new(ErrorKind::IncompleteBody, e)
            .context("the connection was reset before the end of the body"),
        ReadError::Io(e) => tls::io_error(e, "reading the response body"),
        ReadError::TimedOut(which) => timed_out(which, "reading the response body"),
    }
}

pub(super) fn is_closed(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::UnexpectedEof
            | io::ErrorKind::NotConnected
            | io::ErrorKind::WriteZero
    )
}

impl Connection {
    /// Sets the deadlines of the exchange about to start (and of its body's reads). Not an
    /// argument of `exchange`: what an `async fn` is given stays in its state to the end,
    /// and that state is in every request's future.
    pub fn begin(&mut self, timeouts: Timeouts) {
        self.received = 0;
        self.timeouts = timeouts;
    }

    /// Writes the request and reads the final response head, within the deadlines set by
    /// `begin`.
    pub async fn exchange(
        &mut self,
        head: &[u8],
        body: &mut Body,
        expect_continue: bool,
        reader: &mut ResponseReader,
        progress: &mut Progress,
    ) -> Result<Answer, ExchangeError> {
        // In a scope of its own, so that the write's result is not kept in this future's
        // state past it.
        {
            // Written here when the socket takes it at once; otherwise the rest goes in a
            // boxed future, so that only such a request carries the writer's state.
            let direct = self.write_direct(head, body, expect_continue, progress);
            if self.verbose {
                self.trace_direct(head, body, progress.written);
            }
            let written = match direct {
                Ok(None) => Ok(Written::Complete),
                Ok(Some(sent)) => {
                    let rest =
                        self.write_request(head, body, expect_continue, reader, progress, sent);
                    Box::pin(rest).await
                }
                Err(e) => Err(e),
            };
            let early = match written {
                Ok(Written::Complete) => None,
                Ok(Written::EarlyAnswer(head, framing)) => Some(Ok((head, framing))),
                Err(e) => Some(Err(e)),
            };
            if let Some(early) = early {
                // Boxed: only a request not written whole pays for this state.
                return Box::pin(self.not_written(early, reader, progress)).await;
            }
        }
        progress.complete = true;
        // The first exchange times the round trip (for the learned idle timeout): from the
        // request's last byte to the response's head.
        let written_at = (self.responses == 0).then(clock::now);
        let (head, framing) = self.read_head(reader).await?;
        if let Some(at) = written_at {
            self.first_rtt = Some(clock::now().saturating_duration_since(at));
        }
        Ok(Answer {
            head,
            framing,
            request_complete: true,
        })
    }

    /// The request was not written whole: the server answered first (`Ok`), or writing
    /// failed. The answer, or the failure classified.
    async fn not_written(
        &mut self,
        early: Result<(ResponseHead, Framing), WriteError>,
        reader: &mut ResponseReader,
        progress: &Progress,
    ) -> Result<Answer, ExchangeError> {
        let (head, framing) = match early {
            Ok((head, framing)) => {
                tracing::debug!(
                    conn = self.id,
                    status = head.status.as_u16(),
                    "the server answered before the whole request was sent"
                );
                (head, framing)
            }
            Err(WriteError::Body(e)) => {
                return Err(ExchangeError::other(
                    Error::new(ErrorKind::Io, e).context("the request body stream failed"),
                ))
            }
            Err(WriteError::Length(why)) => {
                return Err(ExchangeError::other(Error::msg(
                    ErrorKind::InvalidRequest,
                    why,
                )))
            }
            Err(WriteError::Io(e)) => self.write_failed(e, reader, progress).await?,
            Err(WriteError::TimedOut) => {
                return Err(ExchangeError::other(timed_out(
                    TimedOut::Request,
                    "while writing the request",
                )))
            }
        };
        Ok(Answer {
            head,
            framing,
            request_complete: false,
        })
    }

    /// Writes a request on plain TCP with no body or one in memory (a GET, a small POST)
    /// at once when the socket takes it, as it almost always does: head and body in one
    /// vectored write, no writer, no future, no copy of the body. `None`: all of it went
    /// out. Otherwise how much did (none for any other request), the rest being
    /// `write_request`'s.
    fn write_direct(
        &mut self,
        head: &[u8],
        body: &Body,
        expect_continue: bool,
        progress: &mut Progress,
    ) -> Result<Option<usize>, WriteError> {
        let payload: &[u8] = match body {
            Body::Empty => &[],
            Body::Full(bytes) => bytes,
            Body::Stream(..) => return Ok(Some(0)),
        };
        let (false, super::Io::Tcp(tcp)) = (expect_continue, &self.io) else {
            return Ok(Some(0));
        };
        let tried = if payload.is_empty() {
            tcp.try_write(head)
        } else {
            tcp.try_write_vectored(&[io::IoSlice::new(head), io::IoSlice::new(payload)])
        };
        match tried {
            Ok(0) => Err(WriteError::Io(io::ErrorKind::WriteZero.into())),
            Ok(n) => {
                progress.written += n as u64;
                Ok((n < head.len() + payload.len()).then_some(n))
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(Some(0)),
            Err(e) => Err(WriteError::Io(e)),
        }
    }

    /// `connection_verbose`: the `n` bytes `write_direct` wrote, of `head` and then the
    /// body in memory.
    #[cold]
    #[inline(never)]
    fn trace_direct(&self, head: &[u8], body: &Body, n: u64) {
        let payload: &[u8] = match body {
            Body::Full(bytes) => bytes,
            Body::Empty | Body::Stream(..) => &[],
        };
        let n = usize::try_from(n).unwrap_or(usize::MAX);
        super::verbose::wrote(self.id, &[head, payload], n);
    }

    /// Writes the rest of the request, past the `sent` bytes `write_direct` wrote, within
    /// the request deadline.
    async fn write_request(
        &mut self,
        head: &[u8],
        body: &mut Body,
        expect_continue: bool,
        reader: &mut ResponseReader,
        progress: &mut Progress,
        sent: usize,
    ) -> Result<Written, WriteError> {
        let mut writer = RequestWriter::new(head, body, expect_continue);
        writer.skip(sent);
        let deadline = self.timeouts.request;
        let write =
            std::future::poll_fn(|cx| writer.poll_write(cx, self, reader, &mut progress.written));
        let written = clock::within(deadline, write)
            .await
            .unwrap_or(Err(WriteError::TimedOut));
        writer.give_back(body);
        written
    }

    /// Writing failed. If the peer closed after it had been sent part of the request, it
    /// may have answered first (a `413` to an upload, then a close): that answer is read
    /// and returned. Otherwise the write error, classified.
    async fn write_failed(
        &mut self,
        e: io::Error,
        reader: &mut ResponseReader,
        progress: &Progress,
    ) -> Result<(ResponseHead, Framing), ExchangeError> {
        let closed = is_closed(&e);
        if closed && progress.written > 0 {
            match self.read_head(reader).await {
                Ok(answer) => {
                    tracing::debug!(
                        conn = self.id,
                        status = answer.0.status.as_u16(),
                        "the server answered before the whole request was sent"
                    );
                    return Ok(answer);
                }
                // Part of a response arrived: that error, not "nothing received".
                Err(failed) if self.received > 0 => return Err(ExchangeError::other(failed.error)),
                Err(_) => {}
            }
        }
        let error = Error::new(
            if closed {
                ErrorKind::ClosedBeforeResponse
            } else {
                ErrorKind::Io
            },
            e,
        )
        .context("writing the request");
        Err(if closed && self.received == 0 {
            ExchangeError::closed(error)
        } else {
            ExchangeError::other(error)
        })
    }

    /// Reads until the final response head.
    async fn read_head(
        &mut self,
        reader: &mut ResponseReader,
    ) -> Result<(ResponseHead, Framing), ExchangeError> {
        let proto = |e: ProtoError| ExchangeError::other(Error::proto(e));
        loop {
            if !reader.needs_bytes(&self.buf) {
                match reader.next(&mut self.buf).map_err(proto)? {
                    Event::Head(head, framing) => return Ok((head, framing)),
                    Event::NeedMore => {}
                    Event::Data(_) | Event::End => return Err(proto(ProtoError::InvalidHead)),
                }
            }
            // Without a deadline (the usual request), the read is awaited here: one
            // layer of future less on the path every response takes.
            let read = match self.timeouts.next_read(clock::now) {
                (None, _) => std::future::poll_fn(|cx| self.poll_read_more(cx))
                    .await
                    .map_err(ReadError::Io),
                (deadline, which) => self.read_more_until(deadline, which).await,
            };
            match read {
                Ok(0) if self.received == 0 => {
                    return Err(ExchangeError::closed(Error::msg(
                        ErrorKind::ClosedBeforeResponse,
                        "the server closed the connection before responding",
                    )))
                }
                Ok(0) => {
                    let err = match reader.eof(&mut self.buf) {
                        Err(e) => e,
                        Ok(_) => ProtoError::IncompleteHead,
                    };
                    return Err(proto(err));
                }
                Ok(_) => {}
                Err(ReadError::Io(e)) if self.received == 0 && is_closed(&e) => {
                    return Err(ExchangeError::closed(
                        Error::new(ErrorKind::ClosedBeforeResponse, e)
                            .context("the connection was reset before a response"),
                    ))
                }
                Err(ReadError::Io(e)) => {
                    return Err(ExchangeError::other(tls::io_error(
                        e,
                        "reading the response",
                    )))
                }
                Err(ReadError::TimedOut(which)) => {
                    return Err(ExchangeError::other(timed_out(
                        which,
                        "waiting for the response head",
                    )))
                }
            }
        }
    }

    /// The next piece of the body decoded from what is already buffered, without reading;
    /// `None` when more bytes are needed.
    pub fn buffered_body(
        &mut self,
        reader: &mut ResponseReader,
    ) -> Result<Option<BodyEvent>, Error> {
        match reader.next(&mut self.buf).map_err(Error::proto)? {
            Event::Data(chunk) => Ok(Some(BodyEvent::Data(chunk))),
            Event::End => Ok(Some(BodyEvent::End {
                closed_by_peer: false,
            })),
            Event::NeedMore => Ok(None),
            Event::Head(..) => Err(Error::proto(ProtoError::InvalidHead)),
        }
    }

    /// The next piece of the body, reading as needed within the exchange's deadlines.
    pub async fn read_body(&mut self, reader: &mut ResponseReader) -> Result<BodyEvent, Error> {
        loop {
            if let Some(event) = self.buffered_body(reader)? {
                return Ok(event);
            }
            match self.read_more().await {
                Ok(0) => {
                    return match reader.eof(&mut self.buf).map_err(Error::proto)? {
                        Event::Data(chunk) => Ok(BodyEvent::Data(chunk)),
                        Event::End => Ok(BodyEvent::End {
                            closed_by_peer: true,
                        }),
                        Event::NeedMore | Event::Head(..) => {
                            Err(Error::proto(ProtoError::IncompleteBody))
                        }
                    }
                }
                Ok(_) => {}
                Err(e) => return Err(body_read_error(e)),
            }
        }
    }

    /// The rest of a `Content-Length` body as one piece: reads until the buffer holds all
    /// of it, then splits it off without copying. The buffer grows as data arrives (each
    /// read's room doubles while reads fill it), never ahead of it on the length's word.
    /// For other framings, the next piece as `read_body` gives it.
    pub async fn read_whole_body(
        &mut self,
        reader: &mut ResponseReader,
    ) -> Result<BodyEvent, Error> {
        if let Some(remaining) = reader.body_remaining() {
            let want = usize::try_from(remaining).unwrap_or(usize::MAX);
            while self.buf.len() < want {
                self.room_for_rest(want - self.buf.len());
                match self.read_more().await {
                    Ok(0) => return Err(Error::proto(ProtoError::IncompleteBody)),
                    Ok(_) => {}
                    Err(e) => return Err(body_read_error(e)),
                }
            }
        }
        self.read_body(reader).await
    }

    /// Bytes received and not yet consumed.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Reads and discards the rest of a body, at most `limit` bytes, within `deadline`;
    /// how the body ended (`true`: by the peer closing) when it did.
    pub async fn drain(
        &mut self,
        reader: &mut ResponseReader,
        limit: u64,
        deadline: Option<Instant>,
        drained: &mut u64,
    ) -> Result<bool, DrainStop> {
        self.timeouts = Timeouts {
            request: deadline,
            read: None,
        };
        loop {
            match self.read_body(reader).await {
                Ok(BodyEvent::Data(chunk)) => {
                    *drained += chunk.len() as u64;
                    if *drained > limit {
                        return Err(DrainStop::OverLimit);
                    }
                }
                Ok(BodyEvent::End { closed_by_peer }) => return Ok(closed_by_peer),
                Err(e) if e.is_timeout() => return Err(DrainStop::OverLimit),
                Err(_) => return Err(DrainStop::Broken),
            }
        }
    }
}
