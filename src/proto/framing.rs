//! How a response body is delimited: the message body length rules of RFC 9112 §6.3.
//!
//! Covers the decision only, in the RFC's order:
//! 1. a response to HEAD, any 1xx, 204 and 304 has no body, whatever its headers say
//!    (§6.3 rule 1);
//! 2. `Transfer-Encoding` whose final coding is `chunked` is chunked; any other
//!    `Transfer-Encoding` is read until close (§6.3 rules 3–4);
//! 3. a valid `Content-Length` (repeated identical values allowed, §6.3 rule 5 and
//!    RFC 9110 §8.6) gives the length; an invalid or conflicting one is an error;
//! 4. otherwise the body ends when the connection closes (§6.3 rule 8).
//!
//! `te_with_cl` is set whenever both headers are present, even on a bodiless response: a
//! server that sends both is not trusted with the connection afterwards.
//!
//! Does not cover: decoding the body (see `decode.rs`), whether the connection may be
//! reused afterwards (see `keepalive.rs`, which reads [`Framing::te_with_cl`]), or tunnels
//! (a 2xx to CONNECT, §6.3 rule 2: this client does not send CONNECT through here).

use http::{Method, StatusCode};

use super::error::ProtoError;
use super::fields::{Field, FieldView};

/// How the body of one response is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFraming {
    /// No body at all.
    Empty,
    /// Exactly this many bytes (`Content-Length`).
    Length(u64),
    /// Chunked transfer coding (RFC 9112 §7.1).
    Chunked,
    /// Everything until the server closes the connection.
    CloseDelimited,
}

/// The framing decision for one response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Framing {
    /// How the body is delimited.
    pub body: BodyFraming,
    /// Both `Transfer-Encoding` and `Content-Length` were present: `Transfer-Encoding` won,
    /// and the connection must not be reused (RFC 9112 §6.3 rule 3).
    pub te_with_cl: bool,
}

/// Decides how the body of a response to `method` with this status and headers is
/// delimited (RFC 9112 §6.3).
#[inline]
pub fn body_framing<'a>(
    method: &Method,
    status: StatusCode,
    headers: impl Into<FieldView<'a>>,
) -> Result<Framing, ProtoError> {
    let headers = headers.into();
    let has_te = headers.has_field(Field::TransferEncoding);
    let te_with_cl = has_te && headers.has_field(Field::ContentLength);
    let body = if *method == Method::HEAD
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
    {
        // Rule 1: the headers describe the representation, not this message.
        BodyFraming::Empty
    } else if has_te {
        if last_coding_is_chunked(headers) {
            BodyFraming::Chunked
        } else {
            BodyFraming::CloseDelimited
        }
    } else {
        match content_length(headers)? {
            Some(n) => BodyFraming::Length(n),
            None => BodyFraming::CloseDelimited,
        }
    };
    Ok(Framing { body, te_with_cl })
}

/// Whether the final transfer coding over all `Transfer-Encoding` fields is `chunked`
/// (RFC 9112 §6.1: codings are listed in the order applied, across repeated fields).
fn last_coding_is_chunked(headers: FieldView<'_>) -> bool {
    let mut last: Option<&[u8]> = None;
    for value in headers.field(Field::TransferEncoding) {
        for coding in value.split(|&b| b == b',') {
            let coding = trim_ows(coding);
            if !coding.is_empty() {
                last = Some(coding);
            }
        }
    }
    last.is_some_and(|c| c.eq_ignore_ascii_case(b"chunked"))
}

/// The length given by all `Content-Length` fields, `None` when there is none.
///
/// Every comma-separated value over all fields must be 1+ ASCII digits fitting u64, and all
/// must be equal (RFC 9110 §8.6 allows a recipient to accept `42, 42`).
#[inline]
pub fn content_length<'a>(headers: impl Into<FieldView<'a>>) -> Result<Option<u64>, ProtoError> {
    let headers = headers.into();
    // The usual field: there once, digits only.
    match headers.once(Field::ContentLength) {
        Ok(None) => return Ok(None),
        Ok(Some(value)) => {
            if let Some(n) = parse_decimal(value) {
                return Ok(Some(n));
            }
        }
        Err(_) => {}
    }
    let mut found: Option<u64> = None;
    for value in headers.field(Field::ContentLength) {
        for item in value.split(|&b| b == b',') {
            let n = parse_decimal(trim_ows(item)).ok_or(ProtoError::InvalidContentLength)?;
            match found {
                Some(prev) if prev != n => return Err(ProtoError::ConflictingContentLength),
                _ => found = Some(n),
            }
        }
    }
    Ok(found)
}

/// 1+ ASCII digits fitting u64; no sign, no spaces, no hex.
fn parse_decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    let mut n: u64 = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(n)
}

/// Strips optional whitespace (SP / HTAB, RFC 9110 §5.6.3) from both ends.
pub(crate) fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderMap;

    fn framing_of(
        method: Method,
        status: u16,
        headers: &[(&str, &str)],
    ) -> Result<Framing, ProtoError> {
        let mut map = HeaderMap::new();
        for (n, v) in headers {
            map.append(
                http::HeaderName::from_bytes(n.as_bytes()).unwrap(),
                http::HeaderValue::from_str(v).unwrap(),
            );
        }
        body_framing(&method, StatusCode::from_u16(status).unwrap(), &map)
    }

    fn body_of(headers: &[(&str, &str)]) -> Result<BodyFraming, ProtoError> {
        framing_of(Method::GET, 200, headers).map(|f| f.body)
    }

    #[test]
    fn head_response_with_content_length_has_no_body() {
        let f = framing_of(Method::HEAD, 200, &[("Content-Length", "1234")]).unwrap();
        assert_eq!(f.body, BodyFraming::Empty);
        let f = framing_of(Method::HEAD, 200, &[("Transfer-Encoding", "chunked")]).unwrap();
        assert_eq!(f.body, BodyFraming::Empty);
    }

    #[test]
    fn not_modified_with_content_length_has_no_body() {
        let f = framing_of(
            Method::GET,
            304,
            &[("Content-Length", "5120"), ("ETag", "\"abc\"")],
        );
        assert_eq!(f.unwrap().body, BodyFraming::Empty);
    }

    #[test]
    fn no_content_and_informational_have_no_body() {
        for status in [100, 103, 204] {
            let f = framing_of(Method::GET, status, &[("Content-Length", "10")]).unwrap();
            assert_eq!(f.body, BodyFraming::Empty, "{status}");
        }
    }

    #[test]
    fn bodiless_status_ignores_an_invalid_content_length() {
        let f = framing_of(Method::GET, 204, &[("Content-Length", "nope")]).unwrap();
        assert_eq!(f.body, BodyFraming::Empty);
    }

    #[test]
    fn chunked_last_is_chunked() {
        assert_eq!(
            body_of(&[("Transfer-Encoding", "chunked")]),
            Ok(BodyFraming::Chunked)
        );
        assert_eq!(
            body_of(&[("Transfer-Encoding", "gzip, chunked")]),
            Ok(BodyFraming::Chunked)
        );
        assert_eq!(
            body_of(&[("Transfer-Encoding", "  CHUNKED ")]),
            Ok(BodyFraming::Chunked)
        );
        assert_eq!(
            body_of(&[
                ("Transfer-Encoding", "gzip"),
                ("Transfer-Encoding", "chunked")
            ]),
            Ok(BodyFraming::Chunked)
        );
    }

    #[test]
    fn chunked_not_last_is_read_until_close() {
        assert_eq!(
            body_of(&[("Transfer-Encoding", "chunked, gzip")]),
            Ok(BodyFraming::CloseDelimited)
        );
        assert_eq!(
            body_of(&[("Transfer-Encoding", "gzip")]),
            Ok(BodyFraming::CloseDelimited)
        );
        assert_eq!(
            body_of(&[
                ("Transfer-Encoding", "chunked"),
                ("Transfer-Encoding", "identity")
            ]),
            Ok(BodyFraming::CloseDelimited)
        );
        assert_eq!(
            body_of(&[("Transfer-Encoding", "")]),
            Ok(BodyFraming::CloseDelimited)
        );
    }

    #[test]
    fn transfer_encoding_wins_over_content_length_and_is_flagged() {
        let f = framing_of(
            Method::GET,
            200,
            &[("Content-Length", "10"), ("Transfer-Encoding", "chunked")],
        );
        assert_eq!(
            f,
            Ok(Framing {
                body: BodyFraming::Chunked,
                te_with_cl: true
            })
        );
        // Even an invalid Content-Length is ignored when Transfer-Encoding is present.
        let f = framing_of(
            Method::GET,
            200,
            &[("Content-Length", "x"), ("Transfer-Encoding", "gzip")],
        );
        assert_eq!(
            f,
            Ok(Framing {
                body: BodyFraming::CloseDelimited,
                te_with_cl: true
            })
        );
    }

    #[test]
    fn content_length_gives_the_length() {
        assert_eq!(
            body_of(&[("Content-Length", "0")]),
            Ok(BodyFraming::Length(0))
        );
        assert_eq!(
            body_of(&[("Content-Length", " 1234 ")]),
            Ok(BodyFraming::Length(1234))
        );
        assert_eq!(
            body_of(&[("Content-Length", "18446744073709551615")]),
            Ok(BodyFraming::Length(u64::MAX))
        );
        let f = framing_of(Method::POST, 201, &[("Content-Length", "7")]).unwrap();
        assert_eq!(
            f,
            Framing {
                body: BodyFraming::Length(7),
                te_with_cl: false
            }
        );
    }

    #[test]
    fn repeated_identical_content_lengths_are_accepted() {
        assert_eq!(
            body_of(&[("Content-Length", "42, 42")]),
            Ok(BodyFraming::Length(42))
        );
        assert_eq!(
            body_of(&[("Content-Length", "42"), ("Content-Length", "42,42")]),
            Ok(BodyFraming::Length(42))
        );
    }

    #[test]
    fn malformed_content_length_is_invalid() {
        for bad in [
            "-1",
            "+5",
            "0x10",
            "1 2",
            "99999999999999999999999",
            "",
            "12a",
            ",",
            "5,",
            "1.0",
        ] {
            assert_eq!(
                body_of(&[("Content-Length", bad)]),
                Err(ProtoError::InvalidContentLength),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn differing_content_lengths_conflict() {
        assert_eq!(
            body_of(&[("Content-Length", "5, 6")]),
            Err(ProtoError::ConflictingContentLength)
        );
        assert_eq!(
            body_of(&[("Content-Length", "5"), ("Content-Length", "6")]),
            Err(ProtoError::ConflictingContentLength)
        );
    }

    #[test]
    fn no_framing_headers_means_read_until_close() {
        assert_eq!(
            body_of(&[("Content-Type", "text/plain")]),
            Ok(BodyFraming::CloseDelimited)
        );
    }

    #[test]
    fn ows_is_trimmed_from_both_ends_only() {
        assert_eq!(trim_ows(b" \t a b\t "), b"a b");
        assert_eq!(trim_ows(b"   "), b"");
    }
}
