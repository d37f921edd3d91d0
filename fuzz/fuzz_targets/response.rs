//! Fuzzes `tether::proto::ResponseReader`: the response head parser, interim responses,
//! the framing decision and every body decoder behind it, fed the input split into reads
//! at fuzzer-chosen points, then `eof`.
//!
//! Checked besides "no panic": the reader makes progress (a bounded number of calls),
//! `Data` is never empty, `End` and errors repeat once reached, and the outcome (success,
//! head, body, bytes left over) is the same whether the input arrives in one read or in
//! pieces. Errors may differ between the two (a head limit can be noticed before a bad
//! byte further on), but success may not.
//!
//! flags: bit 0 = the request was HEAD (no body), bit 1 = small limits (256-byte head,
//! 4 headers, 16-byte size line, 32 bytes of trailers) so limits are reached often.

#![no_main]

mod split;

use bytes::BytesMut;
use http::Method;
use libfuzzer_sys::fuzz_target;
use tether::proto::{ChunkedLimits, Event, HeadLimits, Lenient, ProtoError, ResponseReader};

/// Everything one run produced.
#[derive(Debug, PartialEq)]
struct Outcome {
    status: Option<u16>,
    body: Vec<u8>,
    result: Result<(), ProtoError>,
    rest: Vec<u8>,
}

fn run(method: &Method, limits: HeadLimits, chunked: ChunkedLimits, pieces: &[&[u8]]) -> Outcome {
    let total: usize = pieces.iter().map(|p| p.len()).sum();
    let mut reader = ResponseReader::with_limits(method, limits, chunked);
    let mut buf = BytesMut::new();
    let mut pieces = pieces.iter();
    let mut out = Outcome {
        status: None,
        body: Vec::new(),
        result: Ok(()),
        rest: Vec::new(),
    };
    // Each call either consumes a byte, asks for a piece, or ends the loop.
    let bound = 2 * total + pieces.len() + 16;
    let mut closed = false;
    for _ in 0..bound {
        let event = if closed {
            reader.eof(&mut buf)
        } else {
            reader.next(&mut buf)
        };
        match event {
            Ok(Event::NeedMore) => {
                assert!(!closed, "eof returned NeedMore");
                match pieces.next() {
                    Some(piece) => buf.extend_from_slice(piece),
                    None => closed = true,
                }
            }
            Ok(Event::Head(head, _framing)) => {
                assert!(out.status.is_none(), "two final heads");
                assert!(!head.status.is_informational(), "an interim head surfaced");
                out.status = Some(head.status.as_u16());
            }
            Ok(Event::Data(data)) => {
                assert!(out.status.is_some(), "data before the head");
                assert!(!data.is_empty(), "empty data event");
                out.body.extend_from_slice(&data);
            }
            Ok(Event::End) => {
                assert!(out.status.is_some(), "end before the head");
                assert!(reader.is_complete());
                assert!(matches!(reader.next(&mut buf), Ok(Event::End)));
                out.rest = buf.to_vec();
                out.rest.extend(pieces.flat_map(|p| p.iter().copied()));
                return out;
            }
            Err(e) => {
                assert_eq!(
                    reader.next(&mut buf).err(),
                    Some(e.clone()),
                    "error repeats"
                );
                assert_eq!(reader.eof(&mut buf).err(), Some(e.clone()), "error repeats");
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
    let method = if input.flags & 1 == 1 {
        Method::HEAD
    } else {
        Method::GET
    };
    let (mut limits, chunked) = if input.flags & 2 == 2 {
        (
            HeadLimits {
                max_head_bytes: 256,
                max_headers: 4,
                ..HeadLimits::default()
            },
            ChunkedLimits {
                max_chunk_size_line: 16,
                max_trailer_bytes: 32,
            },
        )
    } else {
        (HeadLimits::default(), ChunkedLimits::default())
    };
    if input.flags & 4 == 4 {
        // Every lenient reading at once: still no panic, and split reads agree.
        limits.lenient = Lenient {
            spaces_after_name: true,
            obsolete_folding: true,
            invalid_fields: true,
            http09: true,
        };
    }
    let split = run(&method, limits, chunked, &input.pieces());
    let whole = run(&method, limits, chunked, &[input.payload]);
    if split.result.is_ok() || whole.result.is_ok() {
        assert_eq!(split, whole, "split and whole reads disagree");
    }
});
