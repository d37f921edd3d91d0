//! The decoders against the reference encoders, with the input split at every size, and
//! what they do with corrupt, truncated, padded and bomb-like input.

use std::io::Write;

use http::header::CONTENT_ENCODING;
use http::HeaderMap;

use super::*;

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn zlib(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn raw_deflate(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn brotli(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut w = ::brotli::CompressorWriter::new(&mut out, 4096, 5, 22);
        w.write_all(data).unwrap();
    }
    out
}

fn zstd(data: &[u8]) -> Vec<u8> {
    ::zstd::stream::encode_all(data, 3).unwrap()
}

/// Feeds `coded` in pieces of `split` bytes and collects everything decoded.
fn decode_all(coding: Coding, coded: &[u8], split: usize) -> Result<Vec<u8>, DecodeError> {
    let mut d = Decoding::new(coding)?;
    let mut out = Vec::new();
    let mut pieces = coded.chunks(split.max(1));
    loop {
        while let Some(piece) = d.next_piece()? {
            assert!(piece.len() <= PIECE);
            out.extend_from_slice(&piece);
        }
        if d.wire_ended() {
            return Ok(out);
        }
        match pieces.next() {
            Some(p) => d.feed(bytes::Bytes::copy_from_slice(p)),
            None => d.wire_end(),
        }
    }
}

fn sample() -> Vec<u8> {
    let mut v = Vec::new();
    for i in 0..20_000u32 {
        v.extend_from_slice(format!("line {i} of a body worth compressing\n").as_bytes());
    }
    v
}

#[test]
fn every_coding_round_trips_split_anywhere() {
    let data = sample();
    let cases: Vec<(Coding, Vec<u8>)> = vec![
        (Coding::Gzip, gzip(&data)),
        (Coding::Deflate, zlib(&data)),
        (Coding::Deflate, raw_deflate(&data)),
        (Coding::Brotli, brotli(&data)),
        (Coding::Zstd, zstd(&data)),
    ];
    for (coding, coded) in cases {
        for split in [1, 2, 3, 7, 100, 4096, coded.len()] {
            let got = decode_all(coding, &coded, split).unwrap();
            assert_eq!(got.len(), data.len(), "{coding:?} split {split}");
            assert!(got == data, "{coding:?} split {split}");
        }
    }
}

#[test]
fn empty_bodies_decode_to_nothing() {
    for (coding, coded) in [
        (Coding::Gzip, gzip(b"")),
        (Coding::Deflate, zlib(b"")),
        (Coding::Brotli, brotli(b"")),
        (Coding::Zstd, zstd(b"")),
    ] {
        assert_eq!(decode_all(coding, &coded, 3).unwrap(), b"", "{coding:?}");
    }
}

#[test]
fn gzip_members_in_a_row_and_padding_after() {
    let mut coded = gzip(b"first ");
    coded.extend_from_slice(&gzip(b"second"));
    assert_eq!(
        decode_all(Coding::Gzip, &coded, 5).unwrap(),
        b"first second"
    );
    let mut padded = gzip(b"padded");
    padded.extend_from_slice(&[0, 0, 0, 0]);
    assert_eq!(decode_all(Coding::Gzip, &padded, 2).unwrap(), b"padded");
}

#[test]
fn corrupt_and_truncated_streams_are_errors() {
    let data = sample();
    for (coding, coded) in [
        (Coding::Gzip, gzip(&data)),
        (Coding::Deflate, zlib(&data)),
        (Coding::Brotli, brotli(&data)),
        (Coding::Zstd, zstd(&data)),
    ] {
        let cut = &coded[..coded.len() / 2];
        assert!(
            decode_all(coding, cut, 100).is_err(),
            "{coding:?} truncated"
        );
        let mut bad = coded.clone();
        for b in &mut bad[20..60] {
            *b ^= 0x5a;
        }
        assert!(decode_all(coding, &bad, 100).is_err(), "{coding:?} corrupt");
    }
    assert!(decode_all(Coding::Gzip, b"plain text, not gzip", 4).is_err());
    let mut crc = gzip(b"checked");
    let n = crc.len();
    crc[n - 8] ^= 1;
    assert!(decode_all(Coding::Gzip, &crc, 4).is_err(), "CRC checked");
}

#[test]
fn a_bomb_comes_out_a_bounded_piece_at_a_time() {
    // 64 MiB of zeros is a few dozen KiB of gzip or zstd; each piece is still at most
    // PIECE bytes, so what is held at once is bounded whatever the ratio.
    let zeros = vec![0u8; 64 * 1024 * 1024];
    for (coding, coded) in [(Coding::Gzip, gzip(&zeros)), (Coding::Zstd, zstd(&zeros))] {
        assert!(coded.len() < 1024 * 1024, "{coding:?}: {}", coded.len());
        let mut d = Decoding::new(coding).unwrap();
        d.feed(bytes::Bytes::from(coded));
        d.wire_end();
        let mut total = 0usize;
        while let Some(piece) = d.next_piece().unwrap() {
            assert!(piece.len() <= PIECE);
            total += piece.len();
        }
        assert_eq!(total, zeros.len(), "{coding:?}");
    }
}

#[test]
fn only_single_known_codings_are_decoded() {
    let headers = |values: &[&str]| {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(CONTENT_ENCODING, HeaderValue::from_str(v).unwrap());
        }
        h
    };
    assert_eq!(
        coding_of(&headers(&["gzip"]), Codings::compiled()),
        Some(Coding::Gzip)
    );
    assert_eq!(
        coding_of(&headers(&["x-gzip"]), Codings::compiled()),
        Some(Coding::Gzip)
    );
    assert_eq!(
        coding_of(&headers(&[" BR "]), Codings::compiled()),
        Some(Coding::Brotli)
    );
    assert_eq!(
        coding_of(&headers(&["zstd"]), Codings::compiled()),
        Some(Coding::Zstd)
    );
    assert_eq!(
        coding_of(&headers(&["deflate"]), Codings::compiled()),
        Some(Coding::Deflate)
    );
    for pass in [
        &["identity"][..],
        &["compress"],
        &["gzip, br"],
        &["gzip", "br"],
        &[],
    ] {
        assert_eq!(
            coding_of(&headers(pass), Codings::compiled()),
            None,
            "{pass:?}"
        );
    }
    assert_eq!(
        accept_encoding(Codings::compiled()).unwrap(),
        HeaderValue::from_static("gzip, deflate, br, zstd")
    );
}

#[test]
fn only_the_codings_left_on_are_asked_for_and_decoded() {
    let gzip = || {
        let mut h = HeaderMap::new();
        h.append(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        h
    };
    let some = Codings::compiled()
        .with(Codings::GZIP, false)
        .with(Codings::ZSTD, false);
    assert_eq!(
        accept_encoding(some).unwrap(),
        HeaderValue::from_static("deflate, br")
    );
    assert_eq!(coding_of(&gzip(), some), None);
    let back = some.with(Codings::GZIP, true);
    assert_eq!(coding_of(&gzip(), back), Some(Coding::Gzip));
    assert_eq!(accept_encoding(Codings::NONE), None);
    assert_eq!(coding_of(&gzip(), Codings::NONE), None);
}

#[test]
fn a_next_member_or_frame_in_the_next_read_is_not_lost() {
    for (coding, one, two) in [
        (Coding::Gzip, gzip(b"first "), gzip(b"second")),
        (Coding::Zstd, zstd(b"first "), zstd(b"second")),
    ] {
        let split = one.len();
        let mut coded = one;
        coded.extend_from_slice(&two);
        assert_eq!(
            decode_all(coding, &coded, split).unwrap(),
            b"first second",
            "{coding:?}"
        );
    }
}

/// A raw deflate stream (one fixed-Huffman block) that starts with a back-reference: 3
/// bytes copied from 1 before its start, where nothing of its own is.
fn reaching_back_before_its_start() -> Vec<u8> {
    let mut bits: Vec<bool> = vec![true, true, false]; // BFINAL, BTYPE = 01 (fixed)
    let mut code = |value: u32, len: u32| {
        for i in (0..len).rev() {
            bits.push(value >> i & 1 == 1);
        }
    };
    code(0b0000001, 7); // 257: length 3
    code(0b00000, 5); // distance code 0: distance 1
    code(0b0000000, 7); // 256: end of block
    let mut out = vec![0u8; bits.len().div_ceil(8)];
    for (i, &bit) in bits.iter().enumerate() {
        if bit {
            out[i / 8] |= 1 << (i % 8);
        }
    }
    out
}

#[test]
fn a_kept_inflater_shows_nothing_of_the_body_before() {
    // A corrupt body leaves its inflater failed; kept, it is whole again for the next.
    let secret = b"SECRET ".repeat(5000);
    let mut corrupt = gzip(&secret);
    for b in &mut corrupt[20..60] {
        *b ^= 0x5a;
    }
    assert!(decode_all(Coding::Gzip, &corrupt, 1000).is_err());
    // Decoded, then its inflater is kept by the thread for the next body.
    assert_eq!(
        decode_all(Coding::Deflate, &zlib(&secret), 1000).unwrap(),
        secret
    );
    assert_eq!(
        decode_all(Coding::Gzip, &gzip(&secret), 1000).unwrap(),
        secret
    );
    // The next body on the thread reaches back before its own start: an error, or bytes
    // that are none of the secret's.
    for _ in 0..2 {
        if let Ok(out) = decode_all(Coding::Deflate, &reaching_back_before_its_start(), 100) {
            assert!(out.iter().all(|b| !secret.contains(b)), "{out:?}");
        }
    }
}
