//! Response body decoders, one per framing (RFC 9112 §6.3, §7.1), fed arbitrary slices.
//!
//! Covers: turning the bytes after a head into body data, splitting it off the input buffer
//! (`BytesMut::split_to`, never copied), noticing the framed end (then leaving any
//! following bytes in the buffer) and what the peer closing means. Does not cover: the
//! framing decision (see `framing.rs`) or the chunked coding's details (see `chunked.rs`).
//!
//! ```text
//!   Length{remaining} ──remaining reaches 0──► Done
//!   Chunked(state)    ──last chunk + trailers─► Done
//!   CloseDelimited    ──eof()─────────────────► Done
//!   Empty ═ Done from the start
//! ```

use bytes::{Bytes, BytesMut};

use super::chunked::{ChunkedDecoder, ChunkedLimits, ChunkedStep};
use super::error::ProtoError;
use super::framing::BodyFraming;

/// What one call to [`BodyDecoder::decode`] produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    /// Body data (never empty).
    Data(Bytes),
    /// The buffer holds nothing usable: read more.
    NeedMore,
    /// The body is complete; any bytes after it are left in the buffer.
    End,
}

/// Where a body decoder is.
#[derive(Debug, Clone)]
enum DecoderState {
    /// `remaining` bytes of a `Content-Length` body still to come.
    Length { remaining: u64 },
    /// Inside a chunked body.
    Chunked(ChunkedDecoder),
    /// Everything until the peer closes.
    CloseDelimited,
    /// The body is complete.
    Done,
}

/// Decodes one response body according to its framing.
#[derive(Debug, Clone)]
pub struct BodyDecoder {
    state: DecoderState,
}

impl BodyDecoder {
    /// A decoder for `framing` with the default chunked limits (4 KiB size line, 16 KiB trailers).
    #[cfg(test)]
    pub fn new(framing: BodyFraming) -> Self {
        Self::with_limits(framing, ChunkedLimits::default())
    }

    /// A decoder for `framing` with the given limits on the chunked coding's control data.
    pub fn with_limits(framing: BodyFraming, limits: ChunkedLimits) -> Self {
        let state = match framing {
            BodyFraming::Empty | BodyFraming::Length(0) => DecoderState::Done,
            BodyFraming::Length(n) => DecoderState::Length { remaining: n },
            BodyFraming::Chunked => DecoderState::Chunked(ChunkedDecoder::new(limits)),
            BodyFraming::CloseDelimited => DecoderState::CloseDelimited,
        };
        BodyDecoder { state }
    }

    /// Consumes from the front of `buf`: `Data` with what it could, `NeedMore` when `buf`
    /// holds nothing usable, `End` once the body is complete (leaving following bytes).
    #[inline]
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Decoded, ProtoError> {
        match &mut self.state {
            DecoderState::Done => Ok(Decoded::End),
            DecoderState::Length { remaining } => {
                if buf.is_empty() {
                    return Ok(Decoded::NeedMore);
                }
                let n = usize::try_from(*remaining).map_or(buf.len(), |r| r.min(buf.len()));
                *remaining -= n as u64;
                if *remaining == 0 {
                    self.state = DecoderState::Done;
                }
                Ok(Decoded::Data(buf.split_to(n).freeze()))
            }
            DecoderState::CloseDelimited => {
                if buf.is_empty() {
                    return Ok(Decoded::NeedMore);
                }
                Ok(Decoded::Data(buf.split().freeze()))
            }
            DecoderState::Chunked(chunked) => {
                let step = chunked.decode(buf)?;
                Ok(match step {
                    ChunkedStep::Data(data) => Decoded::Data(data),
                    ChunkedStep::NeedMore => Decoded::NeedMore,
                    ChunkedStep::End => {
                        self.state = DecoderState::Done;
                        Decoded::End
                    }
                })
            }
        }
    }

    /// The peer closed: `Ok(())` if the body is complete or close-delimited (which then
    /// becomes complete), else `IncompleteBody`.
    pub fn eof(&mut self) -> Result<(), ProtoError> {
        match &self.state {
            DecoderState::Done => Ok(()),
            DecoderState::CloseDelimited => {
                self.state = DecoderState::Done;
                Ok(())
            }
            DecoderState::Chunked(chunked) if chunked.is_complete() => {
                self.state = DecoderState::Done;
                Ok(())
            }
            DecoderState::Length { .. } | DecoderState::Chunked(_) => {
                Err(ProtoError::IncompleteBody)
            }
        }
    }

    /// The bytes still to come of a `Content-Length` body (`None` for other framings and
    /// once the body is complete).
    pub fn remaining_length(&self) -> Option<u64> {
        match self.state {
            DecoderState::Length { remaining } => Some(remaining),
            _ => None,
        }
    }

    /// A body of known length whose last byte was decoded: its end needs no more bytes.
    pub fn at_length_end(&self) -> bool {
        matches!(self.state, DecoderState::Done)
    }

    /// Whether the body has reached its framed end.
    #[cfg(any(test, feature = "fuzzing"))]
    pub fn is_complete(&self) -> bool {
        match &self.state {
            DecoderState::Done => true,
            DecoderState::Chunked(chunked) => chunked.is_complete(),
            DecoderState::Length { .. } | DecoderState::CloseDelimited => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(dec: &mut BodyDecoder, buf: &mut BytesMut) -> (Vec<u8>, Result<Decoded, ProtoError>) {
        let mut body = Vec::new();
        loop {
            match dec.decode(buf) {
                Ok(Decoded::Data(d)) => body.extend_from_slice(&d),
                other => return (body, other),
            }
        }
    }

    #[test]
    fn length_body_stops_at_its_length_and_leaves_the_rest() {
        let mut dec = BodyDecoder::new(BodyFraming::Length(5));
        let mut buf = BytesMut::from(&b"helloHTTP/1.1"[..]);
        let (body, end) = drain(&mut dec, &mut buf);
        assert_eq!(body, b"hello");
        assert_eq!(end, Ok(Decoded::End));
        assert_eq!(&buf[..], b"HTTP/1.1");
        assert!(dec.is_complete());
        assert_eq!(dec.decode(&mut buf), Ok(Decoded::End), "End repeats");
    }

    #[test]
    fn length_body_across_reads() {
        let mut dec = BodyDecoder::new(BodyFraming::Length(6));
        let mut buf = BytesMut::from(&b"abc"[..]);
        assert_eq!(
            dec.decode(&mut buf),
            Ok(Decoded::Data(Bytes::from_static(b"abc")))
        );
        assert_eq!(dec.decode(&mut buf), Ok(Decoded::NeedMore));
        assert!(!dec.is_complete());
        buf.extend_from_slice(b"def");
        assert_eq!(
            dec.decode(&mut buf),
            Ok(Decoded::Data(Bytes::from_static(b"def")))
        );
        assert_eq!(dec.decode(&mut buf), Ok(Decoded::End));
    }

    #[test]
    fn body_shorter_than_content_length_is_incomplete() {
        let mut dec = BodyDecoder::new(BodyFraming::Length(10));
        let mut buf = BytesMut::from(&b"short"[..]);
        let (body, _) = drain(&mut dec, &mut buf);
        assert_eq!(body, b"short");
        assert_eq!(dec.eof(), Err(ProtoError::IncompleteBody));
    }

    #[test]
    fn data_is_split_off_the_buffer_not_copied() {
        let mut dec = BodyDecoder::new(BodyFraming::Length(4));
        let mut buf = BytesMut::from(&b"abcdef"[..]);
        let start = buf.as_ptr();
        let Ok(Decoded::Data(d)) = dec.decode(&mut buf) else {
            panic!("expected data")
        };
        assert_eq!(d.as_ptr(), start);
    }

    #[test]
    fn empty_and_zero_length_bodies_end_at_once() {
        for framing in [BodyFraming::Empty, BodyFraming::Length(0)] {
            let mut dec = BodyDecoder::new(framing);
            assert!(dec.is_complete());
            let mut buf = BytesMut::from(&b"next response"[..]);
            assert_eq!(dec.decode(&mut buf), Ok(Decoded::End));
            assert_eq!(buf.len(), 13);
            assert_eq!(dec.eof(), Ok(()));
        }
    }

    #[test]
    fn close_delimited_body_takes_everything_until_eof() {
        let mut dec = BodyDecoder::new(BodyFraming::CloseDelimited);
        let mut buf = BytesMut::from(&b"<html>"[..]);
        assert_eq!(
            dec.decode(&mut buf),
            Ok(Decoded::Data(Bytes::from_static(b"<html>")))
        );
        assert_eq!(dec.decode(&mut buf), Ok(Decoded::NeedMore));
        assert!(!dec.is_complete());
        assert_eq!(dec.eof(), Ok(()));
        assert!(dec.is_complete());
        assert_eq!(dec.decode(&mut buf), Ok(Decoded::End));
    }

    #[test]
    fn chunked_body_ends_after_its_last_chunk() {
        let mut dec = BodyDecoder::new(BodyFraming::Chunked);
        let mut buf = BytesMut::from(&b"2\r\nhi\r\n0\r\n\r\nafter"[..]);
        let (body, end) = drain(&mut dec, &mut buf);
        assert_eq!(body, b"hi");
        assert_eq!(end, Ok(Decoded::End));
        assert_eq!(&buf[..], b"after");
        assert!(dec.is_complete());
        assert_eq!(dec.eof(), Ok(()));
    }

    #[test]
    fn chunked_body_cut_short_is_incomplete() {
        let mut dec = BodyDecoder::new(BodyFraming::Chunked);
        let mut buf = BytesMut::from(&b"2\r\nhi\r\n"[..]);
        assert_eq!(drain(&mut dec, &mut buf).1, Ok(Decoded::NeedMore));
        assert_eq!(dec.eof(), Err(ProtoError::IncompleteBody));
    }

    #[test]
    fn custom_chunked_limits_apply() {
        let limits = ChunkedLimits {
            max_chunk_size_line: 2,
            max_trailer_bytes: 16,
        };
        let mut dec = BodyDecoder::with_limits(BodyFraming::Chunked, limits);
        let mut buf = BytesMut::from(&b"100\r\n"[..]);
        assert_eq!(dec.decode(&mut buf), Err(ProtoError::ChunkSizeLineTooLong));
    }
}
