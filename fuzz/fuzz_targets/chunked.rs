//! Fuzzes the chunked body decoder, `BodyDecoder::new(BodyFraming::Chunked)`, fed the input
//! split into reads at fuzzer-chosen points, then `eof`.
//!
//! Checked besides "no panic": progress (a bounded number of calls), `Data` is never empty
//! and never more than the bytes fed, `End` repeats, and the outcome (success, body, bytes
//! left after the end) is the same whether the input arrives in one read or in pieces;
//! the chunked decoder reads control bytes one at a time, so even its errors must agree.
//!
//! flags: bit 0 = small limits (8-byte size line, 16 bytes of trailers).

#![no_main]

mod split;

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use tether::proto::{BodyDecoder, BodyFraming, ChunkedLimits, Decoded, ProtoError};

#[derive(Debug, PartialEq)]
struct Outcome {
    body: Vec<u8>,
    result: Result<(), ProtoError>,
    rest: Vec<u8>,
}

fn run(limits: ChunkedLimits, pieces: &[&[u8]]) -> Outcome {
    let total: usize = pieces.iter().map(|p| p.len()).sum();
    let mut dec = BodyDecoder::with_limits(BodyFraming::Chunked, limits);
    let mut buf = BytesMut::new();
    let mut pieces = pieces.iter();
    let mut out = Outcome {
        body: Vec::new(),
        result: Ok(()),
        rest: Vec::new(),
    };
    let bound = 2 * total + pieces.len() + 16;
    for _ in 0..bound {
        match dec.decode(&mut buf) {
            Ok(Decoded::NeedMore) => match pieces.next() {
                Some(piece) => buf.extend_from_slice(piece),
                None => {
                    out.result = dec.eof();
                    assert_eq!(out.result.is_ok(), dec.is_complete());
                    out.rest = buf.to_vec();
                    return out;
                }
            },
            Ok(Decoded::Data(data)) => {
                assert!(!data.is_empty(), "empty data");
                out.body.extend_from_slice(&data);
                assert!(out.body.len() <= total, "more body than input");
            }
            Ok(Decoded::End) => {
                assert!(dec.is_complete());
                assert_eq!(dec.decode(&mut buf), Ok(Decoded::End), "end repeats");
                assert_eq!(dec.eof(), Ok(()));
                out.rest = buf.to_vec();
                out.rest.extend(pieces.flat_map(|p| p.iter().copied()));
                return out;
            }
            Err(e) => {
                out.result = Err(e);
                return out;
            }
        }
    }
    panic!("no progress after {bound} calls");
}

fuzz_target!(|data: &[u8]| {
    let Some(input) = split::Input::parse(data) else {
        return;
    };
    let limits = if input.flags & 1 == 1 {
        ChunkedLimits {
            max_chunk_size_line: 8,
            max_trailer_bytes: 16,
        }
    } else {
        ChunkedLimits::default()
    };
    let split = run(limits, &input.pieces());
    let whole = run(limits, &[input.payload]);
    // Errors leave the buffer wherever the bad byte was; compare what was decoded.
    assert_eq!(split.result, whole.result, "split and whole reads disagree");
    assert_eq!(split.body, whole.body, "split and whole bodies differ");
    if split.result.is_ok() {
        assert_eq!(split.rest, whole.rest, "bytes after the end differ");
    }
});
