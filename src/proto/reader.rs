//! The response reader: the event interface the connection layer drives, bytes in, events
//! out.
//!
//! Covers: finding the final head (skipping interim 1xx heads, refusing 101), deciding its
//! framing, then decoding the body to its end, across reads split anywhere, and what the
//! peer closing means at each point. Does not cover: reading the socket, timeouts, or
//! whether the connection may be reused (see `keepalive.rs`).
//!
//! ```text
//!   Head ──interim 1xx (≤ 32)──► Head
//!   Head ──final head─────────► Body(decoder) ──framed end / eof──► Done ⟲ End
//!   any  ──error──────────────► Failed(err) ⟲ err
//! ```
//!
//! `next` returns `Head` once, then `Data`*, then `End` (again on every later call, leaving
//! bytes after the response in the buffer). `eof` is `next` for a stream that has ended:
//! it may still return `Head` or `Data` for bytes already buffered, so call it until `End`
//! or an error.

use bytes::{Buf, BytesMut};
use http::Method;

use super::chunked::ChunkedLimits;
use super::decode::{BodyDecoder, Decoded};
use super::error::ProtoError;
use super::framing::{body_framing, BodyFraming, Framing};
use super::response::{take_response_head, HeadKind, HeadLimits, ResponseHead};

/// Most interim (1xx) heads accepted before the final one.
pub const MAX_INTERIM_RESPONSES: usize = 32;

/// What the reader produced.
#[derive(Debug, Clone)]
// The head is the large variant, made once per response; boxing it would cost each
// response an allocation, which is what keeping its map unbuilt saves.
#[allow(clippy::large_enum_variant)]
pub enum Event {
    /// The buffer holds nothing usable: read more (or call `eof` if the peer closed).
    NeedMore,
    /// The final response head and the framing of its body.
    Head(ResponseHead, Framing),
    /// Body data (never empty), split off the buffer.
    Data(bytes::Bytes),
    /// The response is complete.
    End,
}

/// Where the reader is.
#[derive(Debug)]
enum ReaderState {
    /// Waiting for the final head; `interim` heads skipped so far, `skipped` leading empty
    /// line bytes dropped, `scanned` bytes of the buffer known not to complete a head.
    Head {
        interim: usize,
        skipped: usize,
        scanned: usize,
    },
    /// Decoding the body.
    Body(BodyDecoder),
    /// The response is complete.
    Done,
    /// An error was returned; it is returned again.
    Failed(ProtoError),
}

/// Reads one response: its final head, then its body.
#[derive(Debug)]
pub struct ResponseReader {
    /// The request was a HEAD: its response has no body, whatever its head says. (Only
    /// this of the method matters here; a `Method` would take 24 bytes of every request's
    /// state.)
    head_request: bool,
    limits: HeadLimits,
    chunked_limits: ChunkedLimits,
    state: ReaderState,
    /// A `100 Continue` was skipped on the way to the final head.
    continued: bool,
    /// The request asked for an upgrade: a `101` is its answer, not an error.
    upgrade: bool,
}

impl ResponseReader {
    /// A reader for the response to a request with `method` (HEAD responses have no body).
    pub fn new(method: &Method, limits: HeadLimits) -> Self {
        Self::with_limits(method, limits, ChunkedLimits::default())
    }

    /// A reader with explicit limits on the chunked coding too.
    pub fn with_limits(method: &Method, limits: HeadLimits, chunked_limits: ChunkedLimits) -> Self {
        ResponseReader {
            head_request: *method == Method::HEAD,
            limits,
            chunked_limits,
            state: ReaderState::Head {
                interim: 0,
                skipped: 0,
                scanned: 0,
            },
            continued: false,
            upgrade: false,
        }
    }

    /// Takes a `101 Switching Protocols` as the final head, with no body (the request
    /// asked for an upgrade): what follows it on the connection is the new protocol's,
    /// left in the buffer.
    pub fn allow_upgrade(&mut self) {
        self.upgrade = true;
    }

    /// Whether the response has been read to its end.
    #[cfg(any(test, feature = "fuzzing"))]
    pub fn is_complete(&self) -> bool {
        matches!(self.state, ReaderState::Done)
    }

    /// After a piece of the body: when that piece was its last (the decoder needs no more
    /// bytes to know), the response is read to its end now, as `next` would find it, and
    /// true is returned; else nothing changes.
    pub fn end_after_piece(&mut self) -> bool {
        match &self.state {
            ReaderState::Body(decoder) if decoder.at_length_end() => {
                self.state = ReaderState::Done;
                true
            }
            _ => false,
        }
    }

    /// Whether a `100 Continue` has been read (and skipped): the server wants the body.
    pub fn continued(&self) -> bool {
        self.continued
    }

    /// The bytes still to come of a `Content-Length` body being read (`None` before the
    /// body, for other framings, and once it is complete).
    pub fn body_remaining(&self) -> Option<u64> {
        match &self.state {
            ReaderState::Body(decoder) => decoder.remaining_length(),
            _ => None,
        }
    }

    /// Consumes from the front of `buf` and returns the next event.
    pub fn next(&mut self, buf: &mut BytesMut) -> Result<Event, ProtoError> {
        let result = self.advance(buf);
        if let Err(e) = &result {
            self.state = ReaderState::Failed(e.clone());
        }
        result
    }

    /// Whether `next` would only ask for more bytes: no head has begun and `buf` is empty.
    /// An exchange asks before its first read, so as not to call `next` for nothing.
    #[inline]
    pub fn needs_bytes(&self, buf: &BytesMut) -> bool {
        buf.is_empty() && matches!(self.state, ReaderState::Head { .. })
    }

    /// The peer closed: like `next`, but where more bytes would be needed, the stream's end
    /// decides: `IncompleteHead` before a final head, `End` for a close-delimited body,
    /// `IncompleteBody` for any other unfinished body.
    pub fn eof(&mut self, buf: &mut BytesMut) -> Result<Event, ProtoError> {
        let result = match self.next(buf)? {
            Event::NeedMore => match &mut self.state {
                ReaderState::Head { .. } => Err(ProtoError::IncompleteHead),
                ReaderState::Body(decoder) => decoder.eof().map(|()| {
                    self.state = ReaderState::Done;
                    Event::End
                }),
                ReaderState::Done => Ok(Event::End),
                ReaderState::Failed(e) => Err(e.clone()),
            },
            event => Ok(event),
        };
        if let Err(e) = &result {
            self.state = ReaderState::Failed(e.clone());
        }
        result
    }

    fn advance(&mut self, buf: &mut BytesMut) -> Result<Event, ProtoError> {
        loop {
            match &mut self.state {
                ReaderState::Failed(e) => return Err(e.clone()),
                ReaderState::Done => return Ok(Event::End),
                ReaderState::Body(decoder) => {
                    return Ok(match decoder.decode(buf)? {
                        Decoded::Data(data) => Event::Data(data),
                        Decoded::NeedMore => Event::NeedMore,
                        Decoded::End => {
                            self.state = ReaderState::Done;
                            Event::End
                        }
                    });
                }
                ReaderState::Head { .. } => {
                    if let Some(event) = self.read_head(buf)? {
                        return Ok(event);
                    }
                }
            }
        }
    }

    /// One attempt at a head: `Some(event)` to return, `None` after skipping an interim head.
    fn read_head(&mut self, buf: &mut BytesMut) -> Result<Option<Event>, ProtoError> {
        let ReaderState::Head {
            interim,
            mut skipped,
            mut scanned,
        } = self.state
        else {
            return Ok(None);
        };
        // Leading empty lines are dropped (RFC 9112 §2.2) but count against the head
        // limit, so an endless stream of them still ends.
        let blank = leading_empty_lines(buf);
        if blank > 0 {
            buf.advance(blank);
            skipped += blank;
            scanned = 0;
        }
        let max = self.limits.max_head_bytes;
        if skipped > max {
            return Err(ProtoError::HeadTooLarge);
        }
        // Re-parse only when a line was completed since the last attempt (and while the
        // first five bytes arrive, to refuse a garbage status line early, or to tell an
        // HTTP/0.9 answer by them): a head trickling in costs linear time, not quadratic.
        let fresh = buf.get(scanned..).unwrap_or(&buf[..]);
        if buf.is_empty() || (scanned >= b"HTTP/".len() && !fresh.contains(&b'\n')) {
            if skipped + buf.len() > max {
                return Err(ProtoError::HeadTooLarge);
            }
            self.state = ReaderState::Head {
                interim,
                skipped,
                scanned: buf.len(),
            };
            return Ok(Some(Event::NeedMore));
        }
        let limits = HeadLimits {
            max_head_bytes: max - skipped,
            ..self.limits
        };
        let head = match take_response_head(buf, &limits) {
            Ok(Some(head)) => head,
            Ok(None) => {
                self.state = ReaderState::Head {
                    interim,
                    skipped,
                    scanned: buf.len(),
                };
                return Ok(Some(Event::NeedMore));
            }
            // Bytes that are no head: an HTTP/0.9 answer, if such are taken. (Looked for
            // here, where a head failed, so that other responses pay nothing for it.)
            Err(e) => return self.http09_or(e, interim, buf),
        };
        match head.kind() {
            HeadKind::Interim => {
                self.continued |= head.status == http::StatusCode::CONTINUE;
                if interim >= MAX_INTERIM_RESPONSES {
                    return Err(ProtoError::TooManyInterimResponses);
                }
                self.state = ReaderState::Head {
                    interim: interim + 1,
                    skipped: 0,
                    scanned: 0,
                };
                Ok(None)
            }
            HeadKind::Upgrade if !self.upgrade => Err(ProtoError::UnexpectedUpgrade),
            HeadKind::Upgrade => {
                let framing = Framing {
                    body: BodyFraming::Empty,
                    te_with_cl: false,
                };
                self.state = ReaderState::Done;
                Ok(Some(Event::Head(head, framing)))
            }
            HeadKind::Final => {
                let method = if self.head_request {
                    &Method::HEAD
                } else {
                    &Method::GET
                };
                let framing = body_framing(method, head.status, head.fields())?;
                let decoder = BodyDecoder::with_limits(framing.body, self.chunked_limits);
                self.state = ReaderState::Body(decoder);
                Ok(Some(Event::Head(head, framing)))
            }
        }
    }
}

impl ResponseReader {
    /// A head failed with `e` on `buf`: with `http09_responses`, first bytes that cannot
    /// begin `HTTP/` are an HTTP/0.9 answer, the buffer all body; else `e`.
    #[cold]
    fn http09_or(
        &mut self,
        e: ProtoError,
        interim: usize,
        buf: &[u8],
    ) -> Result<Option<Event>, ProtoError> {
        if !(self.limits.lenient.http09 && interim == 0 && http09(buf) == Some(true)) {
            return Err(e);
        }
        let body = if self.head_request {
            BodyFraming::Empty
        } else {
            BodyFraming::CloseDelimited
        };
        self.state = ReaderState::Body(BodyDecoder::with_limits(body, self.chunked_limits));
        let framing = Framing {
            body,
            te_with_cl: false,
        };
        Ok(Some(Event::Head(ResponseHead::http09(), framing)))
    }
}

/// Whether `buf` (past any empty lines) is an HTTP/0.9 response: `Some(true)` when it
/// cannot begin with `HTTP/` (nor be an empty line), `Some(false)` when it does, `None`
/// while too short to tell.
fn http09(buf: &[u8]) -> Option<bool> {
    const START: &[u8] = b"HTTP/";
    let n = buf.len().min(START.len());
    if buf == b"\r" {
        // Maybe an empty line, to be dropped.
        None
    } else if buf.get(..n) != START.get(..n) {
        Some(true)
    } else if n == START.len() {
        Some(false)
    } else {
        None
    }
}

/// Bytes of complete empty lines (CRLF or LF) at the front of `buf`.
fn leading_empty_lines(buf: &[u8]) -> usize {
    let mut i = 0;
    loop {
        match buf.get(i..i + 2) {
            Some(b"\r\n") => i += 2,
            _ if buf.get(i) == Some(&b'\n') => i += 1,
            _ => return i,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{StatusCode, Version};

    /// Everything one response produced: its head, framing and body, or the error.
    #[derive(Debug)]
    struct Outcome {
        head: Option<(ResponseHead, Framing)>,
        body: Vec<u8>,
        result: Result<(), ProtoError>,
        rest: Vec<u8>,
    }

    #[test]
    fn needs_bytes_only_before_a_head_with_nothing_buffered() {
        let mut reader = ResponseReader::new(&Method::GET, HeadLimits::default());
        let mut buf = BytesMut::new();
        assert!(reader.needs_bytes(&buf));
        buf.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
        assert!(!reader.needs_bytes(&buf), "bytes are buffered");
        assert!(matches!(reader.next(&mut buf), Ok(Event::NeedMore)));
        buf.extend_from_slice(b"content-length: 0\r\n\r\n");
        assert!(matches!(reader.next(&mut buf), Ok(Event::Head(..))));
        // An empty body ends without another byte: `next` has something to say.
        assert!(buf.is_empty() && !reader.needs_bytes(&buf));
        assert!(matches!(reader.next(&mut buf), Ok(Event::End)));

        let mut failed = ResponseReader::new(&Method::GET, HeadLimits::default());
        let mut garbage = BytesMut::from(&b"garbage\r\n\r\n"[..]);
        assert!(failed.next(&mut garbage).is_err());
        garbage.clear();
        assert!(
            !failed.needs_bytes(&garbage),
            "a failed reader repeats its error"
        );
    }

    /// Feeds `input` in `step`-byte pieces, then signals eof.
    fn read(method: Method, input: &[u8], step: usize, limits: HeadLimits) -> Outcome {
        let mut reader = ResponseReader::new(&method, limits);
        let mut buf = BytesMut::new();
        let mut out = Outcome {
            head: None,
            body: Vec::new(),
            result: Ok(()),
            rest: Vec::new(),
        };
        let mut pieces = input.chunks(step.max(1));
        loop {
            let event = match reader.next(&mut buf) {
                Ok(Event::NeedMore) => match pieces.next() {
                    Some(piece) => {
                        buf.extend_from_slice(piece);
                        continue;
                    }
                    None => reader.eof(&mut buf),
                },
                other => other,
            };
            match event {
                Ok(Event::Head(head, framing)) => {
                    assert!(out.head.is_none(), "two heads");
                    out.head = Some((head, framing));
                }
                Ok(Event::Data(d)) => {
                    assert!(out.head.is_some() && !d.is_empty());
                    out.body.extend_from_slice(&d);
                }
                Ok(Event::End) => break,
                Ok(Event::NeedMore) => unreachable!("eof never needs more"),
                Err(e) => {
                    out.result = Err(e);
                    break;
                }
            }
        }
        out.rest = buf.to_vec();
        out.rest.extend(pieces.flatten());
        out
    }

    fn read_get(input: &[u8]) -> Outcome {
        let whole = read(Method::GET, input, input.len(), HeadLimits::default());
        let split = read(Method::GET, input, 1, HeadLimits::default());
        assert_eq!(whole.result, split.result);
        assert_eq!(whole.body, split.body);
        whole
    }

    fn status(out: &Outcome) -> u16 {
        out.head.as_ref().map_or(0, |(h, _)| h.status.as_u16())
    }

    fn body_framing_of(out: &Outcome) -> Option<BodyFraming> {
        out.head.as_ref().map(|(_, f)| f.body)
    }

    #[test]
    fn http09_responses_are_a_200_whose_body_runs_to_the_close_when_allowed() {
        let on = HeadLimits {
            lenient: crate::proto::Lenient {
                http09: true,
                ..crate::proto::Lenient::STRICT
            },
            ..HeadLimits::default()
        };
        // (input, method, then version, status, body and framing, or an error) with
        // http09 on; every split of the input reads the same.
        type Read<'a> = Option<(Version, u16, &'a [u8], BodyFraming)>;
        let rows: &[(&[u8], Method, Read)] = &[
            (
                b"<html>hello</html>\n",
                Method::GET,
                Some((
                    Version::HTTP_09,
                    200,
                    b"<html>hello</html>\n",
                    BodyFraming::CloseDelimited,
                )),
            ),
            // Empty lines before it are dropped, as before any head.
            (
                b"\r\n\nHTTX",
                Method::GET,
                Some((Version::HTTP_09, 200, b"HTTX", BodyFraming::CloseDelimited)),
            ),
            // A carriage return that starts no empty line is the body's.
            (
                b"\r<p>",
                Method::GET,
                Some((Version::HTTP_09, 200, b"\r<p>", BodyFraming::CloseDelimited)),
            ),
            // What cannot be told apart from `HTTP/` until it is.
            (
                b"HTTP/1.1 204 No Content\r\n\r\n",
                Method::GET,
                Some((Version::HTTP_11, 204, b"", BodyFraming::Empty)),
            ),
            (
                b"HTTP/1.0 200 OK\r\n\r\nold",
                Method::GET,
                Some((Version::HTTP_10, 200, b"old", BodyFraming::CloseDelimited)),
            ),
            (
                b"page",
                Method::HEAD,
                Some((Version::HTTP_09, 200, b"", BodyFraming::Empty)),
            ),
            // `HTTP/` begun: a head, and a bad one is still an error.
            (b"HTTP/9 200 OK\r\n\r\n", Method::GET, None),
            // Too short to tell when the server closed.
            (b"HTT", Method::GET, None),
        ];
        for (input, method, expected) in rows {
            for step in 1..=input.len() {
                let out = read(method.clone(), input, step, on);
                let got = out.result.as_ref().ok().and_then(|()| {
                    let (head, framing) = out.head.as_ref()?;
                    Some((
                        head.version,
                        head.status.as_u16(),
                        &out.body[..],
                        framing.body,
                    ))
                });
                assert_eq!(
                    got,
                    *expected,
                    "{:?} in {step}-byte reads",
                    String::from_utf8_lossy(input)
                );
                if let Some((head, _)) = &out.head {
                    if head.version == Version::HTTP_09 {
                        assert!(head.headers().is_empty());
                    }
                }
            }
        }
        // Off (the default), the same bytes are refused.
        let out = read(
            Method::GET,
            b"<html>hello</html>\n",
            64,
            HeadLimits::default(),
        );
        assert!(
            out.result.is_err() && out.head.is_none(),
            "{:?}",
            out.result
        );
    }

    #[test]
    fn nginx_chunked_response_reads_to_its_end() {
        let input = b"HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: text/plain\r\n\
Transfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n\
5;foo=bar\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\n\r\n";
        let out = read_get(input);
        assert_eq!(out.result, Ok(()));
        assert_eq!(status(&out), 200);
        assert_eq!(body_framing_of(&out), Some(BodyFraming::Chunked));
        assert_eq!(out.body, b"hello world");
        assert!(out.rest.is_empty());
    }

    #[test]
    fn bytes_after_the_response_stay_in_the_buffer() {
        let input = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n";
        let out = read(Method::GET, input, input.len(), HeadLimits::default());
        assert_eq!(out.body, b"ok");
        assert_eq!(out.rest, b"HTTP/1.1 200 OK\r\n");
    }

    /// The end is known after the last piece of a body of known length, and only then;
    /// a chunked body's end is its own event.
    #[test]
    fn the_end_after_a_piece_is_that_of_a_length_body_complete() {
        let mut reader = ResponseReader::new(&Method::GET, HeadLimits::default());
        let mut buf = BytesMut::from(&b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel"[..]);
        assert!(matches!(reader.next(&mut buf), Ok(Event::Head(..))));
        assert!(matches!(reader.next(&mut buf), Ok(Event::Data(d)) if &d[..] == b"hel"));
        assert!(!reader.end_after_piece(), "two bytes still to come");
        assert!(!reader.is_complete());
        buf.extend_from_slice(b"loHTTP");
        assert!(matches!(reader.next(&mut buf), Ok(Event::Data(d)) if &d[..] == b"lo"));
        assert!(reader.end_after_piece());
        assert!(reader.is_complete());
        assert!(matches!(reader.next(&mut buf), Ok(Event::End)));
        assert_eq!(&buf[..], b"HTTP");

        let mut reader = ResponseReader::new(&Method::GET, HeadLimits::default());
        let mut buf = BytesMut::from(
            &b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"[..],
        );
        assert!(matches!(reader.next(&mut buf), Ok(Event::Head(..))));
        assert!(matches!(reader.next(&mut buf), Ok(Event::Data(_))));
        assert!(
            !reader.end_after_piece(),
            "a chunked body ends with its last chunk"
        );
        assert!(matches!(reader.next(&mut buf), Ok(Event::End)));
    }

    #[test]
    fn end_repeats_and_leaves_extra_bytes() {
        let mut reader = ResponseReader::new(&Method::GET, HeadLimits::default());
        let mut buf = BytesMut::from(&b"HTTP/1.1 204 No Content\r\n\r\nextra"[..]);
        assert!(matches!(reader.next(&mut buf), Ok(Event::Head(..))));
        assert!(matches!(reader.next(&mut buf), Ok(Event::End)));
        assert!(reader.is_complete());
        assert!(matches!(reader.next(&mut buf), Ok(Event::End)));
        assert!(matches!(reader.eof(&mut buf), Ok(Event::End)));
        assert_eq!(&buf[..], b"extra");
    }

    #[test]
    fn http10_response_without_length_is_read_until_close() {
        let out = read_get(b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n<html>bye</html>");
        assert_eq!(out.result, Ok(()));
        assert_eq!(body_framing_of(&out), Some(BodyFraming::CloseDelimited));
        assert_eq!(out.body, b"<html>bye</html>");
    }

    #[test]
    fn head_response_with_content_length_has_no_body() {
        let input = b"HTTP/1.1 200 OK\r\nContent-Length: 12345\r\n\r\n";
        let out = read(Method::HEAD, input, 1, HeadLimits::default());
        assert_eq!(out.result, Ok(()));
        assert_eq!(body_framing_of(&out), Some(BodyFraming::Empty));
        assert!(out.body.is_empty());
    }

    #[test]
    fn not_modified_with_content_length_has_no_body() {
        let out =
            read_get(b"HTTP/1.1 304 Not Modified\r\nContent-Length: 500\r\nETag: \"x\"\r\n\r\n");
        assert_eq!(out.result, Ok(()));
        assert_eq!(status(&out), 304);
        assert!(out.body.is_empty());
    }

    #[test]
    fn interim_responses_are_skipped() {
        let input = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n\
HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok";
        let out = read_get(input);
        assert_eq!(out.result, Ok(()));
        assert_eq!(status(&out), 201);
        assert_eq!(out.body, b"ok");
    }

    #[test]
    fn thirty_two_interim_responses_pass_and_thirty_three_fail() {
        let mut ok = b"HTTP/1.1 100 Continue\r\n\r\n".repeat(32);
        ok.extend_from_slice(b"HTTP/1.1 204 No Content\r\n\r\n");
        assert_eq!(read_get(&ok).result, Ok(()));
        let mut over = b"HTTP/1.1 100 Continue\r\n\r\n".repeat(33);
        over.extend_from_slice(b"HTTP/1.1 204 No Content\r\n\r\n");
        assert_eq!(
            read_get(&over).result,
            Err(ProtoError::TooManyInterimResponses)
        );
    }

    #[test]
    fn an_asked_upgrade_is_a_head_without_a_body_and_leaves_what_follows() {
        let mut reader = ResponseReader::new(&Method::GET, HeadLimits::default());
        reader.allow_upgrade();
        let mut buf = BytesMut::from(
            &b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\n\r\nnew bytes"[..],
        );
        match reader.next(&mut buf) {
            Ok(Event::Head(head, framing)) => {
                assert_eq!(head.status, 101);
                assert_eq!(framing.body, BodyFraming::Empty);
            }
            other => panic!("{other:?}"),
        }
        assert!(reader.is_complete());
        assert_eq!(&buf[..], b"new bytes");
    }

    #[test]
    fn unrequested_upgrade_is_an_error() {
        let out = read_get(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n");
        assert_eq!(out.result, Err(ProtoError::UnexpectedUpgrade));
    }

    #[test]
    fn errors_stick() {
        let mut reader = ResponseReader::new(&Method::GET, HeadLimits::default());
        let mut buf = BytesMut::from(&b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n"[..]);
        assert_eq!(
            reader.next(&mut buf).unwrap_err(),
            ProtoError::InvalidContentLength
        );
        buf.extend_from_slice(b"HTTP/1.1 200 OK\r\n\r\n");
        assert_eq!(
            reader.next(&mut buf).unwrap_err(),
            ProtoError::InvalidContentLength
        );
        assert_eq!(
            reader.eof(&mut buf).unwrap_err(),
            ProtoError::InvalidContentLength
        );
    }

    #[test]
    fn eof_inside_or_before_a_head_is_incomplete_head() {
        for input in [&b""[..], b"\r\n", b"HTTP/1.1 200 OK\r\nContent-Le"] {
            assert_eq!(
                read_get(input).result,
                Err(ProtoError::IncompleteHead),
                "{input:?}"
            );
        }
    }

    #[test]
    fn eof_inside_a_framed_body_is_incomplete_body() {
        let short = read_get(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
        assert_eq!(short.result, Err(ProtoError::IncompleteBody));
        assert_eq!(short.body, b"abc");
        let chunked =
            read_get(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n");
        assert_eq!(chunked.result, Err(ProtoError::IncompleteBody));
    }

    #[test]
    fn eof_with_a_buffered_complete_head_still_yields_it() {
        let mut reader = ResponseReader::new(&Method::GET, HeadLimits::default());
        let mut buf = BytesMut::from(&b"HTTP/1.0 200 OK\r\n\r\nbody"[..]);
        assert!(matches!(reader.eof(&mut buf), Ok(Event::Head(..))));
        assert!(matches!(reader.eof(&mut buf), Ok(Event::Data(d)) if &d[..] == b"body"));
        assert!(matches!(reader.eof(&mut buf), Ok(Event::End)));
    }

    #[test]
    fn gzip_then_chunked_is_chunked_and_chunked_then_gzip_is_close_delimited() {
        let out = read_get(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n2\r\n\x1f\x8b\r\n0\r\n\r\n");
        assert_eq!(body_framing_of(&out), Some(BodyFraming::Chunked));
        assert_eq!(out.body, b"\x1f\x8b");
        let out =
            read_get(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n2\r\n\x1f\x8b");
        assert_eq!(body_framing_of(&out), Some(BodyFraming::CloseDelimited));
        assert_eq!(out.body, b"2\r\n\x1f\x8b");
    }

    #[test]
    fn head_over_the_limit_is_refused_even_when_trickled() {
        let limits = HeadLimits {
            max_head_bytes: 64,
            max_headers: 100,
            ..HeadLimits::default()
        };
        let mut input = b"HTTP/1.1 200 OK\r\nX-Big: ".to_vec();
        input.extend_from_slice(&[b'a'; 100]);
        input.extend_from_slice(b"\r\n\r\n");
        for step in [1, 7, input.len()] {
            assert_eq!(
                read(Method::GET, &input, step, limits).result,
                Err(ProtoError::HeadTooLarge)
            );
        }
    }

    #[test]
    fn endless_empty_lines_hit_the_head_limit() {
        let limits = HeadLimits {
            max_head_bytes: 64,
            max_headers: 100,
            ..HeadLimits::default()
        };
        let input = b"\r\n".repeat(100);
        for step in [1, 3, input.len()] {
            assert_eq!(
                read(Method::GET, &input, step, limits).result,
                Err(ProtoError::HeadTooLarge)
            );
        }
    }

    #[test]
    fn garbage_status_line_is_refused_before_its_line_ends() {
        let mut reader = ResponseReader::new(&Method::GET, HeadLimits::default());
        let mut buf = BytesMut::from(&b"SSH-2.0"[..]);
        assert_eq!(reader.next(&mut buf).unwrap_err(), ProtoError::InvalidHead);
    }

    #[test]
    fn head_split_inside_its_final_crlf_completes() {
        let mut reader = ResponseReader::new(&Method::GET, HeadLimits::default());
        let mut buf = BytesMut::from(&b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r"[..]);
        assert!(matches!(reader.next(&mut buf), Ok(Event::NeedMore)));
        buf.extend_from_slice(b"\n");
        match reader.next(&mut buf) {
            Ok(Event::Head(head, framing)) => {
                assert_eq!(head.status, StatusCode::OK);
                assert_eq!(framing.body, BodyFraming::Length(0));
            }
            other => panic!("{other:?}"),
        }
    }
}
