//! Chunked transfer coding for request bodies (RFC 9112 §7.1), and the number formatting
//! the encoders share.
//!
//! Covers: framing one chunk of data, the last chunk, and the chunk header alone (for
//! callers that write the data with a vectored write instead of copying it). Does not
//! cover: trailers (we never send any) or deciding whether a body is chunked (see
//! `request.rs`).

/// Writes one chunk, `{hex size}\r\n{data}\r\n`; empty data writes nothing, since an empty
/// chunk would end the body (RFC 9112 §7.1).
pub fn encode_chunk(data: &[u8], dst: &mut Vec<u8>) {
    if data.is_empty() {
        return;
    }
    dst.reserve(data.len() + 20);
    encode_chunk_header(data.len() as u64, dst);
    dst.extend_from_slice(data);
    dst.extend_from_slice(CHUNK_END);
}

/// Writes the header of a chunk of `len` bytes, `{hex len}\r\n`; the caller then writes the
/// data and [`CHUNK_END`]. A `len` of 0 writes nothing (it would end the body).
pub fn encode_chunk_header(len: u64, dst: &mut Vec<u8>) {
    if len == 0 {
        return;
    }
    write_hex(len, dst);
    dst.extend_from_slice(b"\r\n");
}

/// The CRLF that closes every chunk's data.
pub const CHUNK_END: &[u8] = b"\r\n";

/// The last chunk with an empty trailer section, `0\r\n\r\n`.
pub const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

/// Writes the last chunk with no trailers, `0\r\n\r\n`, which ends a chunked body.
pub fn encode_last_chunk(dst: &mut Vec<u8>) {
    dst.extend_from_slice(LAST_CHUNK);
}

/// Appends `n` in decimal without allocating.
pub(crate) fn write_decimal(mut n: u64, dst: &mut Vec<u8>) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    dst.extend_from_slice(&buf[i..]);
}

/// Appends `n` in lower-case hex without allocating.
pub(crate) fn write_hex(mut n: u64, dst: &mut Vec<u8>) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut buf = [0u8; 16];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = DIGITS[(n & 0xf) as usize];
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    dst.extend_from_slice(&buf[i..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_is_hex_size_crlf_data_crlf() {
        let mut dst = Vec::new();
        encode_chunk(&[b'x'; 26], &mut dst);
        let mut want = b"1a\r\n".to_vec();
        want.extend_from_slice(&[b'x'; 26]);
        want.extend_from_slice(b"\r\n");
        assert_eq!(dst, want);
    }

    #[test]
    fn chunk_appends_after_existing_bytes() {
        let mut dst = b"head".to_vec();
        encode_chunk(b"hello", &mut dst);
        assert_eq!(dst, b"head5\r\nhello\r\n");
    }

    #[test]
    fn empty_chunk_writes_nothing_because_it_would_end_the_body() {
        let mut dst = b"x".to_vec();
        encode_chunk(b"", &mut dst);
        encode_chunk_header(0, &mut dst);
        assert_eq!(dst, b"x");
    }

    #[test]
    fn last_chunk_is_zero_and_empty_trailer_section() {
        let mut dst = Vec::new();
        encode_last_chunk(&mut dst);
        assert_eq!(dst, b"0\r\n\r\n");
    }

    #[test]
    fn chunk_header_alone_matches_the_full_chunk_prefix() {
        let mut dst = Vec::new();
        encode_chunk_header(4096, &mut dst);
        assert_eq!(dst, b"1000\r\n");
    }

    #[test]
    fn numbers_format_like_std() {
        for n in [0u64, 1, 9, 10, 15, 16, 255, 4096, 1 << 40, u64::MAX] {
            let mut d = Vec::new();
            write_decimal(n, &mut d);
            assert_eq!(d, n.to_string().into_bytes());
            let mut h = Vec::new();
            write_hex(n, &mut h);
            assert_eq!(h, format!("{n:x}").into_bytes());
        }
    }
}
