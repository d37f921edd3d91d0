//! Property tests across the protocol layer: a response split anywhere reads the same as
//! one read whole; arbitrary bytes never panic or loop; what the encoders write, the
//! decoders (ours and httparse) read back.

use bytes::BytesMut;
use http::{HeaderName, HeaderValue, Method};
use proptest::prelude::*;

use super::*;

/// How the generated response frames its body.
#[derive(Debug, Clone)]
enum GenFraming {
    Length,
    Chunked {
        sizes: Vec<usize>,
        ext: bool,
        trailers: bool,
    },
    CloseDelimited,
}

#[derive(Debug, Clone)]
struct GenResponse {
    interim: usize,
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    framing: GenFraming,
}

impl GenResponse {
    fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for _ in 0..self.interim {
            out.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
        }
        out.extend_from_slice(format!("HTTP/1.1 {} Reason Phrase\r\n", self.status).as_bytes());
        for (n, v) in &self.headers {
            out.extend_from_slice(format!("{n}: {v}\r\n").as_bytes());
        }
        match &self.framing {
            GenFraming::Length => {
                out.extend_from_slice(
                    format!("Content-Length: {}\r\n\r\n", self.body.len()).as_bytes(),
                );
                out.extend_from_slice(&self.body);
            }
            GenFraming::Chunked {
                sizes,
                ext,
                trailers,
            } => {
                out.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
                let mut rest = &self.body[..];
                let mut sizes = sizes.iter().cycle();
                while !rest.is_empty() {
                    let n = sizes.next().copied().unwrap_or(1).clamp(1, rest.len());
                    let ext = if *ext { ";name=\"v\"" } else { "" };
                    out.extend_from_slice(format!("{n:X}{ext}\r\n").as_bytes());
                    out.extend_from_slice(&rest[..n]);
                    out.extend_from_slice(b"\r\n");
                    rest = &rest[n..];
                }
                out.extend_from_slice(b"0\r\n");
                if *trailers {
                    out.extend_from_slice(b"X-Checksum: 1234\r\n");
                }
                out.extend_from_slice(b"\r\n");
            }
            GenFraming::CloseDelimited => {
                out.extend_from_slice(b"\r\n");
                out.extend_from_slice(&self.body);
            }
        }
        out
    }
}

fn gen_response() -> impl Strategy<Value = GenResponse> {
    let framing = prop_oneof![
        Just(GenFraming::Length),
        (
            prop::collection::vec(1usize..300, 1..8),
            any::<bool>(),
            any::<bool>()
        )
            .prop_map(|(sizes, ext, trailers)| GenFraming::Chunked {
                sizes,
                ext,
                trailers
            }),
        Just(GenFraming::CloseDelimited),
    ];
    (
        0usize..3,
        prop_oneof![200u16..204, 205u16..304, 305u16..600],
        prop::collection::vec(("x-[a-z0-9-]{1,12}", "[a-zA-Z0-9;=/,.]{0,24}"), 0..8),
        prop::collection::vec(any::<u8>(), 0..1500),
        framing,
    )
        .prop_map(|(interim, status, headers, body, framing)| GenResponse {
            interim,
            status,
            headers,
            body,
            framing,
        })
}

/// A head as read: status, headers in order, framing (the reason phrase is ignored, as
/// RFC 9112 §4 lets a client do).
type ReadHead = (u16, Vec<(String, Vec<u8>)>, Framing);

/// What reading a response produced.
#[derive(Debug, PartialEq)]
struct Read {
    head: Option<ReadHead>,
    body: Vec<u8>,
    result: Result<(), ProtoError>,
}

/// Feeds `input` cut at `cuts`, calling `eof` at the end, with a bound on iterations that
/// proves the reader always makes progress.
fn read_in_pieces(input: &[u8], cuts: &[usize]) -> Read {
    read_in_pieces_with(input, cuts, HeadLimits::default())
}

/// `read_in_pieces` with `limits`.
fn read_in_pieces_with(input: &[u8], cuts: &[usize], limits: HeadLimits) -> Read {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
    points.push(0);
    points.push(input.len());
    points.sort_unstable();
    points.dedup();
    let mut pieces = points.windows(2).map(|w| &input[w[0]..w[1]]);

    let mut reader = ResponseReader::new(&Method::GET, limits);
    let mut buf = BytesMut::new();
    let mut out = Read {
        head: None,
        body: Vec::new(),
        result: Ok(()),
    };
    let mut at_eof = false;
    // Every event other than NeedMore consumes at least one byte, and every NeedMore feeds a
    // piece or ends the input: the loop is bounded by bytes + pieces + a few.
    let mut budget = input.len() + points.len() + 8;
    loop {
        budget = budget.checked_sub(1).expect("reader made no progress");
        let before = buf.len();
        let event = if at_eof {
            reader.eof(&mut buf)
        } else {
            reader.next(&mut buf)
        };
        match event {
            Ok(Event::NeedMore) => {
                assert!(!at_eof, "eof returned NeedMore");
                match pieces.next() {
                    Some(piece) => buf.extend_from_slice(piece),
                    None => at_eof = true,
                }
            }
            Ok(Event::Head(head, framing)) => {
                // (An HTTP/0.9 answer has no head to consume: all of it is body.)
                assert!(
                    buf.len() < before || head.version == http::Version::HTTP_09,
                    "Head consumed nothing"
                );
                assert!(out.head.is_none(), "second Head");
                let headers = head
                    .headers()
                    .iter()
                    .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
                    .collect();
                out.head = Some((head.status.as_u16(), headers, framing));
            }
            Ok(Event::Data(data)) => {
                assert!(
                    buf.len() < before && !data.is_empty(),
                    "Data consumed nothing"
                );
                assert!(out.head.is_some(), "Data before Head");
                out.body.extend_from_slice(&data);
            }
            Ok(Event::End) => {
                assert!(out.head.is_some(), "End before Head");
                return out;
            }
            Err(e) => {
                out.result = Err(e);
                return out;
            }
        }
    }
}

/// A valid head for the fuzz prefix.
fn head_prefix() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(Vec::new()),
        Just(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec()),
        Just(b"HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n".to_vec()),
        Just(b"HTTP/1.0 200 OK\r\n\r\n".to_vec()),
        Just(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n".to_vec()),
        Just(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n".to_vec()),
    ]
}

/// Bytes that exercise the parsers' interesting paths more often than uniform noise.
fn fuzz_bytes() -> impl Strategy<Value = Vec<u8>> {
    let token = prop_oneof![
        any::<u8>().prop_map(|b| vec![b]),
        Just(b"\r\n".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r".to_vec()),
        Just(b"0".to_vec()),
        Just(b"f".to_vec()),
        Just(b";".to_vec()),
        Just(b":".to_vec()),
        Just(b"HTTP/1.1 ".to_vec()),
        Just(b"Content-Length: ".to_vec()),
        Just(b"Transfer-Encoding: chunked".to_vec()),
    ];
    prop::collection::vec(token, 0..200).prop_map(|t| t.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn a_response_split_anywhere_reads_the_same_as_whole(
        resp in gen_response(),
        cuts in prop::collection::vec(any::<usize>(), 0..20),
    ) {
        let input = resp.to_bytes();
        let whole = read_in_pieces(&input, &[]);
        let split = read_in_pieces(&input, &cuts);
        prop_assert_eq!(&whole, &split);
        prop_assert_eq!(&whole.result, &Ok(()));
        prop_assert_eq!(&whole.body, &resp.body);
        let Some((status, headers, framing)) = whole.head.clone() else {
            return Err(TestCaseError::fail("no head was read"));
        };
        prop_assert_eq!(status, resp.status);
        for (n, v) in &resp.headers {
            prop_assert!(headers.iter().any(|(hn, hv)| hn == n && hv == v.as_bytes()));
        }
        let want = match resp.framing {
            GenFraming::Length => BodyFraming::Length(resp.body.len() as u64),
            GenFraming::Chunked { .. } => BodyFraming::Chunked,
            GenFraming::CloseDelimited => BodyFraming::CloseDelimited,
        };
        prop_assert_eq!(framing.body, want);
    }

    #[test]
    fn arbitrary_bytes_never_panic_or_loop(
        prefix in head_prefix(),
        noise in fuzz_bytes(),
        cuts in prop::collection::vec(any::<usize>(), 0..20),
    ) {
        let mut input = prefix;
        input.extend_from_slice(&noise);
        let whole = read_in_pieces(&input, &[]);
        let split = read_in_pieces(&input, &cuts);
        // Split reads may stop at a different error (a limit can show before a syntax
        // error), but never disagree on success.
        if whole.result.is_ok() && split.result.is_ok() {
            prop_assert_eq!(whole, split);
        }
    }

    #[test]
    fn with_http09_responses_split_reads_agree_and_a_headless_answer_is_all_body(
        prefix in head_prefix(),
        noise in fuzz_bytes(),
        cuts in prop::collection::vec(any::<usize>(), 0..20),
    ) {
        let limits = HeadLimits {
            lenient: super::Lenient {
                http09: true,
                ..super::Lenient::STRICT
            },
            ..HeadLimits::default()
        };
        let mut input = prefix;
        input.extend_from_slice(&noise);
        let whole = read_in_pieces_with(&input, &[], limits);
        let split = read_in_pieces_with(&input, &cuts, limits);
        if whole.result.is_ok() && split.result.is_ok() {
            prop_assert_eq!(&whole, &split);
        }
        // Past any empty lines, bytes that cannot begin `HTTP/` are a 200 whose body is
        // every one of them.
        let mut rest = &input[..];
        while let [b'\r', b'\n', tail @ ..] | [b'\n', tail @ ..] = rest {
            rest = tail;
        }
        let n = rest.len().min(5);
        if rest[..n] != b"HTTP/"[..n] && rest != b"\r" {
            for read in [&whole, &split] {
                prop_assert_eq!(&read.result, &Ok(()));
                prop_assert_eq!(read.head.as_ref().map(|h| h.0), Some(200));
                prop_assert_eq!(&read.body[..], rest);
            }
        }
    }

    #[test]
    fn uniform_random_bytes_never_panic_or_loop(
        input in prop::collection::vec(any::<u8>(), 0..600),
        cuts in prop::collection::vec(any::<usize>(), 0..20),
    ) {
        read_in_pieces(&input, &cuts);
    }

    #[test]
    fn encoded_chunks_decode_to_the_same_bytes(
        pieces in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 0..10),
        cut in any::<usize>(),
    ) {
        let mut wire = Vec::new();
        for p in &pieces {
            encode_chunk(p, &mut wire);
        }
        encode_last_chunk(&mut wire);
        let cut = cut % (wire.len() + 1);
        let mut dec = BodyDecoder::new(BodyFraming::Chunked);
        let mut buf = BytesMut::from(&wire[..cut]);
        let mut body = Vec::new();
        let mut rest = &wire[cut..];
        loop {
            match dec.decode(&mut buf) {
                Ok(Decoded::Data(d)) => body.extend_from_slice(&d),
                Ok(Decoded::NeedMore) => {
                    prop_assert!(!rest.is_empty(), "needs more after the last chunk");
                    buf.extend_from_slice(rest);
                    rest = &[];
                }
                Ok(Decoded::End) => break,
                Err(e) => return Err(TestCaseError::fail(format!("{e}"))),
            }
        }
        prop_assert_eq!(body, pieces.concat());
        prop_assert!(buf.is_empty());
    }

    #[test]
    fn encoded_request_heads_parse_back_with_httparse(
        method in prop_oneof![Just(Method::GET), Just(Method::POST), Just(Method::PUT), Just(Method::DELETE)],
        path in "/[a-z0-9/._-]{0,20}",
        query in proptest::option::of("[a-z0-9=&]{0,12}"),
        port in proptest::option::of(1u16..),
        headers in prop::collection::vec(("x-[a-z0-9-]{1,12}", "[ -~]{0,24}"), 0..8),
        body in prop_oneof![Just(RequestBody::None), (0u64..1 << 40).prop_map(RequestBody::Known), Just(RequestBody::Chunked)],
    ) {
        let mut url = format!("http://example.com{}{path}", port.map(|p| format!(":{p}")).unwrap_or_default());
        if let Some(q) = &query {
            url.push('?');
            url.push_str(q);
        }
        let url = url::Url::parse(&url).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let headers: Vec<(HeaderName, HeaderValue)> = headers
            .iter()
            .filter_map(|(n, v)| Some((HeaderName::from_bytes(n.as_bytes()).ok()?, HeaderValue::from_str(v).ok()?)))
            .collect();
        let head = RequestHead { method: &method, url: super::request::UrlParts::of(&url), form: TargetForm::Origin, headers: &headers, body, encoded: b"" };
        let mut wire = Vec::new();
        prop_assert_eq!(encode_request_head(&head, &mut wire), Ok(()));

        let mut slots = [httparse::EMPTY_HEADER; 32];
        let mut req = httparse::Request::new(&mut slots);
        let n = match req.parse(&wire) {
            Ok(httparse::Status::Complete(n)) => n,
            other => return Err(TestCaseError::fail(format!("{other:?}"))),
        };
        prop_assert_eq!(n, wire.len(), "nothing follows the blank line");
        prop_assert_eq!(req.method, Some(method.as_str()));
        let target = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        };
        prop_assert_eq!(req.path, Some(target.as_str()));
        prop_assert_eq!(req.headers[0].name, "Host");
        let sent: Vec<(&str, &[u8])> = req.headers.iter().map(|h| (h.name, h.value)).collect();
        let hosts = sent.iter().filter(|(n, _)| n.eq_ignore_ascii_case("host")).count();
        prop_assert_eq!(hosts, 1);
        let lengths = sent.iter().filter(|(n, _)| n.eq_ignore_ascii_case("content-length")).count();
        let chunked = sent.iter().filter(|(n, _)| n.eq_ignore_ascii_case("transfer-encoding")).count();
        prop_assert!(lengths + chunked <= 1);
        prop_assert_eq!(chunked == 1, body == RequestBody::Chunked);
        for (name, value) in &headers {
            let trimmed = value.to_str().unwrap_or_default().trim();
            prop_assert!(sent.iter().any(|(n, v)| *n == name.as_str() && *v == trimmed.as_bytes()));
        }
    }
}
