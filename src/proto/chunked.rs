//! The chunked transfer coding decoder (RFC 9112 §7.1), fed arbitrary slices.
//!
//! Covers: chunk-size lines (hex size, overflow checked, optional whitespace, extensions
//! ignored, a line-length limit), chunk data (split off the input, never copied), the CRLF
//! after each chunk's data, the last chunk and the trailer section (checked for shape,
//! size-limited, then discarded, RFC 9112 §7.1.2). Does not cover: the other framings (see
//! `decode.rs`) or whether the connection may be reused.
//!
//! Line endings: CRLF, or a bare LF (RFC 9112 §2.2 lets a recipient accept LF alone, and
//! servers that end head lines with LF do the same in chunks). A CR not followed by LF is
//! an error. Control bytes are processed one at a time and consumed at once, so no byte is
//! scanned twice however the input is split.
//!
//! ```text
//!            hex digit            SP/HTAB           ';'
//!   ┌──────► Size ─────────────► SizeWs ─────────► Extension
//!   │          │ CR/LF (size>0)    │ CR/LF            │ CR/LF
//!   │          ▼                   ▼                  ▼
//!   │        Data ◄─────────────────────────────────────   (size == 0 → Trailer)
//!   │          │ remaining == 0
//!   │          ▼
//!   └──────  DataEnd (CRLF or LF)
//!
//!   Trailer ──(blank line)──► Done      Trailer ──(field line)──► Trailer
//! ```

use bytes::{Buf, Bytes, BytesMut};

use super::error::ProtoError;
use super::request::is_tchar;

/// Limits on the chunked coding's control data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChunkedLimits {
    /// Longest chunk-size line, extensions included, line ending excluded.
    pub max_chunk_size_line: usize,
    /// Largest trailer section in bytes, line endings included.
    pub max_trailer_bytes: usize,
}

impl Default for ChunkedLimits {
    fn default() -> Self {
        ChunkedLimits {
            max_chunk_size_line: 4 * 1024,
            max_trailer_bytes: 16 * 1024,
        }
    }
}

/// Where the decoder is within the chunked coding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChunkedState {
    /// Reading the hex digits of a chunk size; `digits` so far, `line` bytes so far.
    Size {
        size: u64,
        digits: usize,
        line: usize,
    },
    /// Whitespace after the size, before `;` or the line end.
    SizeWs { size: u64, line: usize },
    /// Inside chunk extensions, ignored up to the line end.
    Extension { size: u64, line: usize },
    /// Saw CR ending the size line; LF must follow.
    SizeLf { size: u64 },
    /// Chunk data still to come.
    Data { remaining: u64 },
    /// Right after chunk data: CR or LF must follow.
    DataEnd,
    /// Saw CR after chunk data; LF must follow.
    DataLf,
    /// At the start of a trailer line (or the final blank line).
    TrailerStart { total: usize },
    /// Inside a trailer field's name.
    TrailerName { total: usize },
    /// Inside a trailer field's value.
    TrailerValue { total: usize },
    /// Saw CR ending a trailer field line; LF must follow.
    TrailerLf { total: usize },
    /// Saw CR on the final blank line; LF must follow.
    EndLf,
    /// The body is complete.
    Done,
}

/// Decodes a chunked body incrementally.
#[derive(Debug, Clone)]
pub(crate) struct ChunkedDecoder {
    state: ChunkedState,
    limits: ChunkedLimits,
}

/// What one step of the chunked decoder produced.
pub(crate) enum ChunkedStep {
    Data(Bytes),
    NeedMore,
    End,
}

impl ChunkedDecoder {
    pub(crate) fn new(limits: ChunkedLimits) -> Self {
        ChunkedDecoder {
            state: ChunkedState::Size {
                size: 0,
                digits: 0,
                line: 0,
            },
            limits,
        }
    }

    pub(crate) fn is_complete(&self) -> bool {
        self.state == ChunkedState::Done
    }

    /// Consumes control bytes until data is available, the body ends or `buf` runs dry.
    pub(crate) fn decode(&mut self, buf: &mut BytesMut) -> Result<ChunkedStep, ProtoError> {
        loop {
            match self.state {
                ChunkedState::Done => return Ok(ChunkedStep::End),
                ChunkedState::Data { remaining } => {
                    if buf.is_empty() {
                        return Ok(ChunkedStep::NeedMore);
                    }
                    let n = usize::try_from(remaining).map_or(buf.len(), |r| r.min(buf.len()));
                    let left = remaining - n as u64;
                    self.state = if left == 0 {
                        ChunkedState::DataEnd
                    } else {
                        ChunkedState::Data { remaining: left }
                    };
                    return Ok(ChunkedStep::Data(buf.split_to(n).freeze()));
                }
                _ => {
                    let mut used = 0;
                    for &b in buf.iter() {
                        used += 1;
                        self.state = self.step(b)?;
                        if matches!(self.state, ChunkedState::Data { .. } | ChunkedState::Done) {
                            break;
                        }
                    }
                    buf.advance(used);
                    if !matches!(self.state, ChunkedState::Data { .. } | ChunkedState::Done) {
                        return Ok(ChunkedStep::NeedMore);
                    }
                }
            }
        }
    }

    /// One control byte: the next state, or the error it reveals.
    fn step(&self, b: u8) -> Result<ChunkedState, ProtoError> {
        use ChunkedState::*;
        let limits = &self.limits;
        let line_limit = |line: usize| -> Result<usize, ProtoError> {
            if line >= limits.max_chunk_size_line {
                Err(ProtoError::ChunkSizeLineTooLong)
            } else {
                Ok(line + 1)
            }
        };
        let trailer_limit = |total: usize| -> Result<usize, ProtoError> {
            if total >= limits.max_trailer_bytes {
                Err(ProtoError::TrailersTooLarge)
            } else {
                Ok(total + 1)
            }
        };
        Ok(match (self.state, b) {
            (Size { size, digits, line }, b) if b.is_ascii_hexdigit() => {
                let line = line_limit(line)?;
                let size = size
                    .checked_mul(16)
                    .and_then(|s| s.checked_add(u64::from(hex_value(b))))
                    .ok_or(ProtoError::ChunkSizeOverflow)?;
                Size {
                    size,
                    digits: digits + 1,
                    line,
                }
            }
            (Size { digits: 0, .. }, _) => return Err(ProtoError::InvalidChunkSize),
            (Size { size, line, .. } | SizeWs { size, line }, b' ' | b'\t') => SizeWs {
                size,
                line: line_limit(line)?,
            },
            (Size { size, line, .. } | SizeWs { size, line }, b';') => Extension {
                size,
                line: line_limit(line)?,
            },
            (Size { size, .. } | SizeWs { size, .. } | Extension { size, .. }, b'\r') => {
                SizeLf { size }
            }
            (Size { size, .. } | SizeWs { size, .. } | Extension { size, .. }, b'\n')
            | (SizeLf { size }, b'\n') => after_size_line(size),
            (Size { .. } | SizeWs { .. } | SizeLf { .. }, _) => {
                return Err(ProtoError::InvalidChunkSize)
            }
            (Extension { size, line }, _) => Extension {
                size,
                line: line_limit(line)?,
            },
            (DataEnd, b'\r') => DataLf,
            (DataEnd | DataLf, b'\n') => Size {
                size: 0,
                digits: 0,
                line: 0,
            },
            (DataEnd | DataLf, _) => return Err(ProtoError::InvalidChunkEnd),
            (TrailerStart { .. }, b'\r') => EndLf,
            (TrailerStart { .. } | EndLf, b'\n') => Done,
            (EndLf, _) => return Err(ProtoError::InvalidTrailer),
            (TrailerStart { total } | TrailerName { total }, b) if is_tchar(b) => TrailerName {
                total: trailer_limit(total)?,
            },
            (TrailerName { total }, b':') | (TrailerValue { total }, _)
                if b != b'\r' && b != b'\n' && b != 0 =>
            {
                TrailerValue {
                    total: trailer_limit(total)?,
                }
            }
            (TrailerValue { total }, b'\r') => TrailerLf {
                total: trailer_limit(total)?,
            },
            (TrailerValue { total } | TrailerLf { total }, b'\n') => TrailerStart {
                total: trailer_limit(total)?,
            },
            (TrailerStart { .. } | TrailerName { .. } | TrailerValue { .. }, _)
            | (TrailerLf { .. }, _) => return Err(ProtoError::InvalidTrailer),
            (Data { .. } | Done, _) => self.state,
        })
    }
}

/// After a complete size line: data, or the trailer section after the last chunk.
fn after_size_line(size: u64) -> ChunkedState {
    if size == 0 {
        ChunkedState::TrailerStart { total: 0 }
    } else {
        ChunkedState::Data { remaining: size }
    }
}

fn hex_value(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        _ => b - b'A' + 10,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` in pieces of `step` bytes; returns the body, the error if any, and the
    /// bytes left after the end.
    fn run(
        input: &[u8],
        step: usize,
        limits: ChunkedLimits,
    ) -> (Vec<u8>, Result<(), ProtoError>, Vec<u8>) {
        let mut dec = ChunkedDecoder::new(limits);
        let mut buf = BytesMut::new();
        let mut body = Vec::new();
        let mut fed = 0;
        for piece in input.chunks(step.max(1)) {
            buf.extend_from_slice(piece);
            fed += piece.len();
            loop {
                match dec.decode(&mut buf) {
                    Ok(ChunkedStep::Data(d)) => {
                        assert!(!d.is_empty());
                        body.extend_from_slice(&d);
                    }
                    Ok(ChunkedStep::NeedMore) => break,
                    Ok(ChunkedStep::End) => {
                        let mut rest = buf.to_vec();
                        rest.extend_from_slice(&input[fed..]);
                        return (body, Ok(()), rest);
                    }
                    Err(e) => return (body, Err(e), buf.to_vec()),
                }
            }
        }
        (body, Err(ProtoError::IncompleteBody), buf.to_vec())
    }

    fn decode_all(input: &[u8]) -> Result<Vec<u8>, ProtoError> {
        let (whole_body, whole, _) = run(input, input.len(), ChunkedLimits::default());
        let (split_body, split, _) = run(input, 1, ChunkedLimits::default());
        assert_eq!(whole, split, "whole and byte-by-byte disagree");
        assert_eq!(whole_body, split_body);
        whole.map(|()| whole_body)
    }

    #[test]
    fn nginx_chunked_body_with_extensions_decodes() {
        let input = b"7\r\nMozilla\r\n11;name=value\r\nDeveloper Network\r\n\
a ; ext=\"quoted;value\"\r\n0123456789\r\n0\r\n\r\nHTTP/1.1 200 OK\r\n";
        assert_eq!(
            decode_all(input).unwrap(),
            b"MozillaDeveloper Network0123456789"
        );
        let (_, end, rest) = run(input, 5, ChunkedLimits::default());
        assert_eq!(end, Ok(()));
        assert_eq!(rest, b"HTTP/1.1 200 OK\r\n");
    }

    #[test]
    fn upper_case_hex_and_leading_zeros_are_accepted() {
        assert_eq!(
            decode_all(b"00A\r\n0123456789\r\n000\r\n\r\n").unwrap(),
            b"0123456789"
        );
    }

    #[test]
    fn whitespace_before_line_end_or_extension_is_tolerated() {
        assert_eq!(decode_all(b"3 \t\r\nabc\r\n0 ;x\r\n\r\n").unwrap(), b"abc");
    }

    #[test]
    fn bare_lf_line_endings_are_accepted() {
        assert_eq!(decode_all(b"3\nabc\n0\n\n").unwrap(), b"abc");
        assert_eq!(decode_all(b"3\nabc\n0\nX-T: 1\n\n").unwrap(), b"abc");
    }

    #[test]
    fn trailers_are_read_and_discarded() {
        let input = b"4\r\nWiki\r\n0\r\nExpires: Wed, 21 Oct 2015 07:28:00 GMT\r\nX-Checksum: abc\r\n\r\nnext";
        assert_eq!(decode_all(input).unwrap(), b"Wiki");
        let (_, _, rest) = run(input, 3, ChunkedLimits::default());
        assert_eq!(rest, b"next");
    }

    #[test]
    fn malformed_trailers_are_refused() {
        for bad in [
            &b"0\r\nno colon\r\n\r\n"[..],
            b"0\r\n: empty name\r\n\r\n",
            b"0\r\n folded: x\r\n\r\n",
            b"0\r\nX: a\rb\r\n\r\n",
            b"0\r\nX: a\0b\r\n\r\n",
            b"0\r\n\rx",
        ] {
            assert_eq!(decode_all(bad), Err(ProtoError::InvalidTrailer), "{bad:?}");
        }
    }

    #[test]
    fn trailers_past_the_limit_are_refused() {
        let limits = ChunkedLimits {
            max_chunk_size_line: 4096,
            max_trailer_bytes: 32,
        };
        let ok = b"0\r\nX-A: 0123456789\r\nX-B: 01234\r\n\r\n";
        assert_eq!(run(ok, 1, limits).1, Ok(()));
        let big = b"0\r\nX-A: 0123456789\r\nX-B: 0123456789\r\n\r\n";
        assert_eq!(run(big, 1, limits).1, Err(ProtoError::TrailersTooLarge));
        assert_eq!(
            run(big, big.len(), limits).1,
            Err(ProtoError::TrailersTooLarge)
        );
    }

    #[test]
    fn chunk_size_past_u64_overflows() {
        assert_eq!(
            decode_all(b"ffffffffffffffff\r\n"),
            Err(ProtoError::IncompleteBody),
            "u64::MAX itself is a valid size"
        );
        assert_eq!(
            decode_all(b"10000000000000000\r\n"),
            Err(ProtoError::ChunkSizeOverflow)
        );
        assert_eq!(
            decode_all(b"fffffffffffffffff"),
            Err(ProtoError::ChunkSizeOverflow)
        );
    }

    #[test]
    fn long_chunk_size_line_is_refused() {
        let mut line = b"5;".to_vec();
        line.extend(std::iter::repeat_n(b'x', 5000));
        line.extend_from_slice(b"\r\nhello\r\n0\r\n\r\n");
        assert_eq!(decode_all(&line), Err(ProtoError::ChunkSizeLineTooLong));
        let zeros: Vec<u8> = std::iter::repeat_n(b'0', 5000).collect();
        assert_eq!(decode_all(&zeros), Err(ProtoError::ChunkSizeLineTooLong));
    }

    #[test]
    fn size_line_at_the_limit_is_accepted() {
        let limits = ChunkedLimits {
            max_chunk_size_line: 8,
            max_trailer_bytes: 16,
        };
        assert_eq!(run(b"1;abcdef\r\nx\r\n0\r\n\r\n", 1, limits).1, Ok(()));
        assert_eq!(
            run(b"1;abcdefg\r\nx\r\n0\r\n\r\n", 1, limits).1,
            Err(ProtoError::ChunkSizeLineTooLong)
        );
    }

    #[test]
    fn missing_crlf_after_chunk_data_is_refused() {
        assert_eq!(
            decode_all(b"3\r\nabcd\r\n0\r\n\r\n"),
            Err(ProtoError::InvalidChunkEnd)
        );
        assert_eq!(
            decode_all(b"3\r\nabc\rX0\r\n\r\n"),
            Err(ProtoError::InvalidChunkEnd)
        );
        // The data itself was delivered before the framing error showed.
        assert_eq!(run(b"3\r\nabcd", 1, ChunkedLimits::default()).0, b"abc");
    }

    #[test]
    fn invalid_chunk_sizes_are_refused() {
        for bad in [
            &b"\r\n"[..],
            b"g\r\n",
            b"-1\r\n",
            b" 5\r\n",
            b"0x5\r\n",
            b";ext\r\n",
            b"5 5\r\n",
            b"5\rX",
        ] {
            assert_eq!(
                decode_all(bad),
                Err(ProtoError::InvalidChunkSize),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn truncated_body_never_ends() {
        for cut in [
            &b"5\r\nhel"[..],
            b"5\r\nhello\r\n",
            b"5\r\nhello\r\n0\r\n",
            b"0\r\nX: 1\r\n",
        ] {
            assert_eq!(decode_all(cut), Err(ProtoError::IncompleteBody), "{cut:?}");
        }
    }

    #[test]
    fn large_chunk_is_split_off_as_it_arrives() {
        let mut dec = ChunkedDecoder::new(ChunkedLimits::default());
        let mut buf = BytesMut::from(&b"100000\r\nabc"[..]);
        match dec.decode(&mut buf).unwrap() {
            ChunkedStep::Data(d) => assert_eq!(&d[..], b"abc"),
            _ => panic!("expected data"),
        }
        assert!(buf.is_empty());
        assert!(matches!(
            dec.decode(&mut buf).unwrap(),
            ChunkedStep::NeedMore
        ));
        assert!(!dec.is_complete());
    }
}
