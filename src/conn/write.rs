//! Writing a request: the head, then the body (bytes held in memory, or a stream sent
//! chunked, or as it is when its length was declared), counting every byte that goes out,
//! while watching the socket for an early answer.
//!
//! A stream of declared length is held to it: a piece that would pass it fails the write
//! before any of it goes out, and the piece that reaches it waits until the stream has
//! ended, so that a stream longer than declared never completes the request.
//!
//! A server may give its final answer before it has read the whole request (RFC 9112
//! §9.6: a `413` to an upload, a `401`), and then stop reading without closing. So whenever
//! the write (or the body stream) would block, the socket is read too, on the same task: a
//! complete final head ends the writing at once. Reads cost nothing on the common path,
//! where writes never block. Interim (1xx) heads are skipped by the response reader.
//!
//! With `Expect: 100-continue` in the head, the body waits (`AwaitContinue`) until the
//! server sends `100 Continue`, or 1 s passes without an answer (RFC 9110 §10.1.1: a server
//! that does not know the expectation still gets the body), or a final head arrives, which
//! ends the writing as an early answer with the body unsent.
//!
//! ```text
//!   Head ─► [AwaitContinue] ─► Full body ──┐
//!     │  └► Frame (head + small body) ─────┼─► Flush ─► Done
//!     └──► [AwaitContinue] ─► NextChunk ⇄ Frame (a chunk) ─► Frame (last chunk)
//!   any stage that would block ─► read: a final head ─► EarlyAnswer
//! ```

use std::error::Error as StdError;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_core::Stream;
use tokio::io::AsyncWrite;

use super::Connection;
use crate::proto::{self, Event, Framing, ResponseHead, ResponseReader};

/// A boxed error from a body stream.
///
/// ```
/// let stream_error: tether::BoxError = "the upload source failed".into();
/// assert_eq!(stream_error.to_string(), "the upload source failed");
/// ```
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// A request body stream of unknown size.
pub(crate) type BodyStream = Pin<Box<dyn Stream<Item = Result<Bytes, BoxError>> + Send + 'static>>;

/// How long a body with `Expect: 100-continue` waits for the `100` before it is sent anyway.
const CONTINUE_WAIT: Duration = Duration::from_secs(1);

/// Bodies up to this size are written in the same write as the head.
const COALESCE_BODY: usize = 64 * 1024;

/// A request body.
pub(crate) enum Body {
    /// No body.
    Empty,
    /// Bytes in memory: sent with `Content-Length`, replayable on a retry.
    Full(Bytes),
    /// A stream, never replayed, taken by the first attempt: of unknown size, sent
    /// chunked; or of the declared size, sent with that `Content-Length` and held to it.
    Stream(Option<BodyStream>, Option<u64>),
}

impl Body {
    /// Whether the body can be sent again.
    pub fn is_replayable(&self) -> bool {
        !matches!(self, Body::Stream(..))
    }
}

/// How writing the request ended.
// As `proto::Event`: the head is moved once, and boxing it would allocate per response.
#[allow(clippy::large_enum_variant)]
pub(super) enum Written {
    /// All of it went out.
    Complete,
    /// A final response head arrived first; writing stopped.
    EarlyAnswer(ResponseHead, Framing),
}

/// Why writing the request failed.
pub(super) enum WriteError {
    /// The socket failed.
    Io(io::Error),
    /// The body stream failed, or was already used by an earlier attempt.
    Body(BoxError),
    /// The body stream gave more or fewer bytes than its declared length: the request was
    /// cut before its last byte.
    Length(String),
    /// The request deadline passed.
    TimedOut,
}

/// Where the writer is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// The head alone.
    Head,
    /// The head is out, with `Expect: 100-continue`: the body waits for the server.
    AwaitContinue,
    /// A body held in memory, after its head.
    Full,
    /// `frame` (the head with a small body, or one chunk), then `after`.
    Frame {
        after: After,
    },
    /// The next chunk of the body stream.
    NextChunk,
    Flush,
    Done,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum After {
    NextChunk,
    Flush,
}

/// Writes one request; see the module docs.
pub(super) struct RequestWriter<'a> {
    head: &'a [u8],
    full: Option<Bytes>,
    stream: Option<BodyStream>,
    frame: Vec<u8>,
    stage: Stage,
    /// Bytes of the current stage's data already written.
    off: usize,
    /// Still watching for an early answer (off once the peer's side ended or spoke badly).
    watch: bool,
    /// A stream that was already used by an earlier attempt.
    stream_spent: bool,
    /// A chunk was taken from the stream: it cannot be given back for another attempt.
    stream_pulled: bool,
    /// The stream's declared length: its chunks go out as they are, counted.
    declared: Option<u64>,
    /// Bytes of the stream taken so far.
    taken: u64,
    /// `frame` holds the declared length's last bytes, written only once the stream has
    /// ended: a stream longer than declared is found before the request is complete.
    last_held: bool,
    /// The head asks `Expect: 100-continue`: the body waits for the server's word.
    expect_continue: bool,
    /// The longest wait for that word, started when the head is out.
    continue_timer: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<'a> RequestWriter<'a> {
    pub(super) fn new(head: &'a [u8], body: &mut Body, expect_continue: bool) -> RequestWriter<'a> {
        let mut writer = RequestWriter {
            head,
            full: None,
            stream: None,
            frame: Vec::new(),
            stage: Stage::Head,
            off: 0,
            watch: true,
            stream_spent: false,
            stream_pulled: false,
            declared: None,
            taken: 0,
            last_held: false,
            expect_continue,
            continue_timer: None,
        };
        match body {
            Body::Empty => {}
            Body::Full(bytes) if bytes.len() <= COALESCE_BODY && !expect_continue => {
                writer.frame.reserve_exact(head.len() + bytes.len());
                writer.frame.extend_from_slice(head);
                writer.frame.extend_from_slice(bytes);
                writer.stage = Stage::Frame {
                    after: After::Flush,
                };
            }
            Body::Full(bytes) => writer.full = Some(bytes.clone()),
            Body::Stream(stream, declared) => {
                writer.declared = *declared;
                match stream.take() {
                    Some(s) => writer.stream = Some(s),
                    None => writer.stream_spent = true,
                }
            }
        }
        writer
    }

    /// Drives the writing; `written` counts bytes as they go out.
    pub(super) fn poll_write(
        &mut self,
        cx: &mut Context<'_>,
        conn: &mut Connection,
        reader: &mut ResponseReader,
        written: &mut u64,
    ) -> Poll<Result<Written, WriteError>> {
        if self.stream_spent {
            return Poll::Ready(Err(WriteError::Body(
                "the body stream was already used by an earlier attempt".into(),
            )));
        }
        loop {
            let data: &[u8] = match self.stage {
                Stage::Head => self.head,
                Stage::Full => self.full.as_deref().unwrap_or_default(),
                Stage::Frame { .. } => &self.frame,
                Stage::NextChunk => {
                    let Some(stream) = self.stream.as_mut() else {
                        self.stage = Stage::Flush;
                        continue;
                    };
                    let next = stream.as_mut().poll_next(cx);
                    if next.is_ready() {
                        self.stream_pulled = true;
                    }
                    match next {
                        Poll::Ready(Some(Ok(chunk))) => {
                            if let Some(declared) = self.declared {
                                if let Err(e) = self.take_sized(chunk, declared) {
                                    return Poll::Ready(Err(e));
                                }
                                continue;
                            }
                            self.frame.clear();
                            proto::encode_chunk(&chunk, &mut self.frame);
                            self.set_stage(Stage::Frame {
                                after: After::NextChunk,
                            });
                        }
                        Poll::Ready(Some(Err(e))) => return Poll::Ready(Err(WriteError::Body(e))),
                        Poll::Ready(None) => {
                            match self.declared {
                                // The held last bytes (or nothing) go out now.
                                Some(declared) if self.taken == declared => {}
                                Some(declared) => {
                                    return Poll::Ready(Err(WriteError::Length(format!(
                                        "the body stream ended after {} of the {declared} \
                                         bytes its Content-Length declared",
                                        self.taken
                                    ))))
                                }
                                None => {
                                    self.frame.clear();
                                    proto::encode_last_chunk(&mut self.frame);
                                }
                            }
                            self.stream = None;
                            self.set_stage(Stage::Frame {
                                after: After::Flush,
                            });
                        }
                        Poll::Pending => return self.watch_for_answer(cx, conn, reader),
                    }
                    continue;
                }
                Stage::Flush => match Pin::new(&mut conn.io).poll_flush(cx) {
                    Poll::Ready(Ok(())) => {
                        self.stage = Stage::Done;
                        continue;
                    }
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(WriteError::Io(e))),
                    Poll::Pending => return self.watch_for_answer(cx, conn, reader),
                },
                Stage::AwaitContinue => match self.await_continue(cx, conn, reader) {
                    Poll::Ready(Some(answer)) => return Poll::Ready(Ok(answer)),
                    Poll::Ready(None) => {
                        self.set_stage(self.body_stage());
                        continue;
                    }
                    Poll::Pending => return Poll::Pending,
                },
                Stage::Done => return Poll::Ready(Ok(Written::Complete)),
            };
            let rest = data.get(self.off..).unwrap_or_default();
            if rest.is_empty() {
                self.next_stage();
                continue;
            }
            match Pin::new(&mut conn.io).poll_write(cx, rest) {
                Poll::Ready(Ok(0)) => {
                    return Poll::Ready(Err(WriteError::Io(io::ErrorKind::WriteZero.into())))
                }
                Poll::Ready(Ok(n)) => {
                    if conn.verbose {
                        super::verbose::wrote(conn.id, &[rest], n);
                    }
                    *written += n as u64;
                    self.off += n;
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(WriteError::Io(e))),
                Poll::Pending => return self.watch_for_answer(cx, conn, reader),
            }
        }
    }

    /// Puts a body stream nothing was taken from back into `body`, so an attempt that
    /// failed before writing any of it (and is retried, as nothing written always is) can
    /// send it after all.
    pub(super) fn give_back(self, body: &mut Body) {
        if let (Some(stream), false) = (self.stream, self.stream_pulled) {
            *body = Body::Stream(Some(stream), self.declared);
        }
    }

    /// Takes a chunk of a stream of `declared` bytes: framed as it is, unless it would
    /// pass the declared length (an error, nothing of it written) or reaches it (held in
    /// `frame` until the stream ends, so that a longer stream never completes the request).
    fn take_sized(&mut self, chunk: Bytes, declared: u64) -> Result<(), WriteError> {
        if chunk.is_empty() {
            return Ok(());
        }
        let taken = self.taken.saturating_add(chunk.len() as u64);
        if self.last_held || taken > declared {
            return Err(WriteError::Length(format!(
                "the body stream gave more than the {declared} bytes its Content-Length declared"
            )));
        }
        self.taken = taken;
        self.frame.clear();
        self.frame.extend_from_slice(&chunk);
        if taken == declared {
            self.last_held = true;
        } else {
            self.set_stage(Stage::Frame {
                after: After::NextChunk,
            });
        }
        Ok(())
    }

    fn set_stage(&mut self, stage: Stage) {
        self.stage = stage;
        self.off = 0;
    }

    /// The stage that writes the body, after the head.
    fn body_stage(&self) -> Stage {
        if self.full.is_some() {
            Stage::Full
        } else if self.stream.is_some() {
            Stage::NextChunk
        } else {
            Stage::Flush
        }
    }

    /// Passes over the first `n` bytes of what it would write (they went out before the
    /// writer was made: a partial write of head and body at once).
    pub(super) fn skip(&mut self, mut n: usize) {
        while n > 0 {
            let len = match self.stage {
                Stage::Head => self.head.len(),
                Stage::Full => self.full.as_ref().map_or(0, Bytes::len),
                Stage::Frame { .. } => self.frame.len(),
                _ => return,
            };
            let left = len.saturating_sub(self.off);
            if n < left {
                self.off += n;
                return;
            }
            n -= left;
            self.next_stage();
        }
    }

    /// The current stage's data is all written.
    fn next_stage(&mut self) {
        let has_body = self.full.is_some() || self.stream.is_some();
        let next = match self.stage {
            Stage::Head if has_body && self.expect_continue => Stage::AwaitContinue,
            Stage::Head if self.full.is_some() => Stage::Full,
            Stage::Head if self.stream.is_some() => Stage::NextChunk,
            Stage::Frame {
                after: After::NextChunk,
            } => Stage::NextChunk,
            _ => Stage::Flush,
        };
        self.set_stage(next);
    }

    /// Waits for the server's word on the body: `Some(answer)` for a final head (the body
    /// is not sent), `None` to send the body (a `100 Continue`, the wait over, or a peer
    /// that ended its side: the write will tell what that means).
    fn await_continue(
        &mut self,
        cx: &mut Context<'_>,
        conn: &mut Connection,
        reader: &mut ResponseReader,
    ) -> Poll<Option<Written>> {
        // The head must be on the wire before the server can answer it.
        match Pin::new(&mut conn.io).poll_flush(cx) {
            Poll::Ready(Ok(())) => {}
            // The body's write will meet the same error.
            Poll::Ready(Err(_)) => return Poll::Ready(None),
            Poll::Pending => return Poll::Pending,
        }
        let timer = self
            .continue_timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(CONTINUE_WAIT)));
        loop {
            match reader.next(conn.buf()) {
                Ok(Event::Head(head, framing)) => {
                    return Poll::Ready(Some(Written::EarlyAnswer(head, framing)))
                }
                Ok(Event::NeedMore) if reader.continued() => return Poll::Ready(None),
                Ok(Event::NeedMore) => {}
                // A protocol error stays in the reader; reading the head reports it.
                Ok(Event::Data(_) | Event::End) | Err(_) => return Poll::Ready(None),
            }
            match conn.poll_read_more(cx) {
                Poll::Ready(Ok(0)) | Poll::Ready(Err(_)) => return Poll::Ready(None),
                Poll::Ready(Ok(_)) => {}
                Poll::Pending => break,
            }
        }
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }

    /// Writing would block: reads what the server sent meanwhile. A complete final head
    /// ends the writing; otherwise the caller is woken by whichever side is ready first.
    fn watch_for_answer(
        &mut self,
        cx: &mut Context<'_>,
        conn: &mut Connection,
        reader: &mut ResponseReader,
    ) -> Poll<Result<Written, WriteError>> {
        while self.watch {
            match reader.next(conn.buf()) {
                Ok(Event::Head(head, framing)) => {
                    return Poll::Ready(Ok(Written::EarlyAnswer(head, framing)))
                }
                Ok(Event::NeedMore) => {}
                // A protocol error stays in the reader; reading the head reports it.
                Ok(Event::Data(_) | Event::End) | Err(_) => self.watch = false,
            }
            if !self.watch {
                break;
            }
            match conn.poll_read_more(cx) {
                Poll::Ready(Ok(0)) | Poll::Ready(Err(_)) => {
                    // The peer ended its side: what that means, the write will tell.
                    self.watch = false;
                }
                Poll::Ready(Ok(_)) => {}
                Poll::Pending => break,
            }
        }
        Poll::Pending
    }
}
