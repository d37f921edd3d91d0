//! Whether a connection may be reused after a response, and for how long: one pure
//! function (RFC 9112 §9.3, §9.6; RFC 9110 §7.6.1; the `Keep-Alive` header of RFC 2068
//! §19.7.1.1, still sent by Apache and others).
//!
//! Covers, in this order of precedence: the request asked to close; the response asked to
//! close; an HTTP/1.0 response without `Connection: keep-alive`; an HTTP/1.0 response with
//! `Transfer-Encoding` (RFC 9112 §6.1); a body delimited by close;
//! a response with both `Transfer-Encoding` and `Content-Length`. The first that applies is
//! the reason, so an HTTP/1.0 response with `keep-alive` but no length reports
//! `CloseDelimitedBody`. The `Keep-Alive` parameters are parsed whatever the decision.
//!
//! Does not cover: protocol errors or bodies
//! not fully read or sent (the connection layer knows those), or clocks (the pool applies
//! `timeout` and `max`).

use std::time::Duration;

use http::Version;

use super::fields::{Field, FieldView};
use super::framing::{trim_ows, BodyFraming, Framing};

/// Why a connection must not be reused after this exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// The request carried `Connection: close`.
    RequestAskedClose,
    /// The response carried `Connection: close`.
    ResponseAskedClose,
    /// An HTTP/1.0 response without `Connection: keep-alive` (RFC 9112 §9.3).
    Http10WithoutKeepAlive,
    /// An HTTP/1.0 response with `Transfer-Encoding`: its framing is faulty (RFC 9112
    /// §6.1), so the connection is closed after it whatever else it says.
    Http10TransferEncoding,
    /// The body was delimited by the server closing (RFC 9112 §6.3 rule 8).
    CloseDelimitedBody,
    /// `Transfer-Encoding` together with `Content-Length` (RFC 9112 §6.3 rule 3).
    TransferEncodingWithContentLength,
    /// The server answered before the whole request was sent (RFC 9112 §9.6 lets it);
    /// the rest of the request is still owed, so the connection cannot carry another.
    RequestNotFullySent,
    /// The server switched to the protocol the request asked for (`101`): the connection
    /// is the caller's (`Response::upgrade`), or closed.
    SwitchedProtocols,
}

/// The keep-alive decision for one exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeepAlive {
    /// `Some(reason)` when the connection must be closed after this exchange.
    pub close: Option<CloseReason>,
    /// The server's idle timeout (`Keep-Alive: timeout=N`), whole seconds.
    pub timeout: Option<Duration>,
    /// How many more requests the server will take (`Keep-Alive: max=M`).
    pub max: Option<u32>,
}

/// Decides whether the connection may be reused after this exchange; `request_headers` are
/// what we sent (always as HTTP/1.1).
#[inline]
pub fn keep_alive<'r, 's>(
    request_headers: impl Into<FieldView<'r>>,
    response_version: Version,
    response_headers: impl Into<FieldView<'s>>,
    framing: &Framing,
) -> KeepAlive {
    let response_headers = response_headers.into();
    let response_tokens = ConnectionTokens::of(response_headers);
    let http10 = response_version < Version::HTTP_11;
    let close = if ConnectionTokens::of(request_headers.into()).close {
        Some(CloseReason::RequestAskedClose)
    } else if response_tokens.close {
        Some(CloseReason::ResponseAskedClose)
    } else if http10 && !response_tokens.keep_alive {
        Some(CloseReason::Http10WithoutKeepAlive)
    } else if http10 && response_headers.has_field(Field::TransferEncoding) {
        Some(CloseReason::Http10TransferEncoding)
    } else if framing.body == BodyFraming::CloseDelimited {
        Some(CloseReason::CloseDelimitedBody)
    } else if framing.te_with_cl {
        Some(CloseReason::TransferEncodingWithContentLength)
    } else {
        None
    };

    let mut timeout: Option<u64> = None;
    let mut max: Option<u32> = None;
    if response_headers.may_have(Field::KeepAlive) {
        for value in response_headers.field(Field::KeepAlive) {
            let (t, m) = parse_keep_alive(value);
            timeout = min_some(timeout, t);
            max = min_some(max, m);
        }
    }
    KeepAlive {
        close,
        timeout: timeout.map(Duration::from_secs),
        max,
    }
}

/// Parses a `Keep-Alive` value leniently into `(timeout, max)`.
///
/// `timeout=5, max=100`, with any spacing, quotes and case; unknown parameters and garbage
/// are ignored; a value too large for its type saturates; a parameter given twice keeps
/// the smaller (more cautious) value.
pub fn parse_keep_alive(value: &[u8]) -> (Option<u64>, Option<u32>) {
    let mut timeout: Option<u64> = None;
    let mut max: Option<u32> = None;
    for param in value.split(|&b| b == b',' || b == b';') {
        let Some(eq) = param.iter().position(|&b| b == b'=') else {
            continue;
        };
        let name = trim_ows(&param[..eq]);
        let Some(n) = parse_number(&param[eq + 1..]) else {
            continue;
        };
        if name.eq_ignore_ascii_case(b"timeout") {
            timeout = min_some(timeout, Some(n));
        } else if name.eq_ignore_ascii_case(b"max") {
            max = min_some(max, Some(u32::try_from(n).unwrap_or(u32::MAX)));
        }
    }
    (timeout, max)
}

/// A decimal number, optionally quoted and surrounded by whitespace; saturates at u64::MAX.
fn parse_number(raw: &[u8]) -> Option<u64> {
    let mut s = trim_ows(raw);
    if let [b'"', inner @ .., b'"'] = s {
        s = trim_ows(inner);
    }
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(s.iter().fold(0u64, |n, &d| {
        n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    }))
}

fn min_some<T: Ord>(a: Option<T>, b: Option<T>) -> Option<T> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

/// The `close` and `keep-alive` tokens over all `Connection` fields (RFC 9110 §7.6.1).
#[derive(Default)]
struct ConnectionTokens {
    close: bool,
    keep_alive: bool,
}

impl ConnectionTokens {
    /// Inline: the usual head has no `Connection` field, told by a bit without a call.
    #[inline]
    fn of(headers: FieldView<'_>) -> Self {
        if !headers.may_have(Field::Connection) {
            return ConnectionTokens::default();
        }
        ConnectionTokens::listed(headers)
    }

    #[inline(never)]
    fn listed(headers: FieldView<'_>) -> Self {
        let mut tokens = ConnectionTokens::default();
        for value in headers.field(Field::Connection) {
            for token in value.split(|&b| b == b',') {
                let token = trim_ows(token);
                if token.eq_ignore_ascii_case(b"close") {
                    tokens.close = true;
                } else if token.eq_ignore_ascii_case(b"keep-alive") {
                    tokens.keep_alive = true;
                }
            }
        }
        tokens
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderMap, HeaderName};

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (n, v) in pairs {
            map.append(
                HeaderName::from_bytes(n.as_bytes()).unwrap(),
                http::HeaderValue::from_str(v).unwrap(),
            );
        }
        map
    }

    const LENGTH: Framing = Framing {
        body: BodyFraming::Length(10),
        te_with_cl: false,
    };

    fn decide(
        req: &[(&str, &str)],
        version: Version,
        resp: &[(&str, &str)],
        framing: Framing,
    ) -> KeepAlive {
        keep_alive(&headers(req), version, &headers(resp), &framing)
    }

    #[test]
    fn http11_persists_by_default() {
        let ka = decide(&[], Version::HTTP_11, &[], LENGTH);
        assert_eq!(
            ka,
            KeepAlive {
                close: None,
                timeout: None,
                max: None
            }
        );
    }

    #[test]
    fn apache_keep_alive_parameters_are_honoured() {
        let ka = decide(
            &[("connection", "keep-alive")],
            Version::HTTP_11,
            &[
                ("Keep-Alive", "timeout=5, max=100"),
                ("Connection", "Keep-Alive"),
            ],
            LENGTH,
        );
        assert_eq!(ka.close, None);
        assert_eq!(ka.timeout, Some(Duration::from_secs(5)));
        assert_eq!(ka.max, Some(100));
    }

    #[test]
    fn request_close_wins() {
        let ka = decide(
            &[("connection", "Close")],
            Version::HTTP_11,
            &[("connection", "close")],
            LENGTH,
        );
        assert_eq!(ka.close, Some(CloseReason::RequestAskedClose));
    }

    #[test]
    fn response_close_in_any_case_and_list_position_closes() {
        for value in ["close", "CLOSE", "keep-alive, close", " Upgrade ,Close "] {
            let ka = decide(&[], Version::HTTP_11, &[("connection", value)], LENGTH);
            assert_eq!(ka.close, Some(CloseReason::ResponseAskedClose), "{value}");
        }
        let ka = decide(
            &[],
            Version::HTTP_11,
            &[("connection", "upgrade"), ("connection", "close")],
            LENGTH,
        );
        assert_eq!(ka.close, Some(CloseReason::ResponseAskedClose));
    }

    #[test]
    fn close_is_a_whole_token_not_a_substring() {
        let ka = decide(
            &[],
            Version::HTTP_11,
            &[("connection", "closed, x-close-me")],
            LENGTH,
        );
        assert_eq!(ka.close, None);
    }

    #[test]
    fn http10_without_keep_alive_closes() {
        let ka = decide(&[], Version::HTTP_10, &[], LENGTH);
        assert_eq!(ka.close, Some(CloseReason::Http10WithoutKeepAlive));
    }

    #[test]
    fn http10_with_keep_alive_and_known_length_persists() {
        for body in [
            BodyFraming::Length(3),
            BodyFraming::Empty,
            BodyFraming::Chunked,
        ] {
            let framing = Framing {
                body,
                te_with_cl: false,
            };
            let ka = decide(
                &[],
                Version::HTTP_10,
                &[("Connection", "Keep-Alive"), ("Keep-Alive", "timeout=15")],
                framing,
            );
            assert_eq!(ka.close, None, "{body:?}");
            assert_eq!(ka.timeout, Some(Duration::from_secs(15)));
        }
    }

    #[test]
    fn http10_with_transfer_encoding_closes_even_with_keep_alive() {
        let framing = Framing {
            body: BodyFraming::Chunked,
            te_with_cl: false,
        };
        let ka = decide(
            &[],
            Version::HTTP_10,
            &[
                ("connection", "keep-alive"),
                ("transfer-encoding", "chunked"),
            ],
            framing,
        );
        assert_eq!(ka.close, Some(CloseReason::Http10TransferEncoding));
        let ka = decide(
            &[],
            Version::HTTP_11,
            &[("transfer-encoding", "chunked")],
            framing,
        );
        assert_eq!(ka.close, None, "HTTP/1.1 chunked persists");
    }

    #[test]
    fn http10_with_keep_alive_but_no_length_closes() {
        let framing = Framing {
            body: BodyFraming::CloseDelimited,
            te_with_cl: false,
        };
        let ka = decide(
            &[],
            Version::HTTP_10,
            &[("connection", "keep-alive")],
            framing,
        );
        assert_eq!(ka.close, Some(CloseReason::CloseDelimitedBody));
    }

    #[test]
    fn close_delimited_body_closes() {
        let framing = Framing {
            body: BodyFraming::CloseDelimited,
            te_with_cl: false,
        };
        let ka = decide(&[], Version::HTTP_11, &[], framing);
        assert_eq!(ka.close, Some(CloseReason::CloseDelimitedBody));
    }

    #[test]
    fn transfer_encoding_with_content_length_closes() {
        let framing = Framing {
            body: BodyFraming::Chunked,
            te_with_cl: true,
        };
        let ka = decide(&[], Version::HTTP_11, &[], framing);
        assert_eq!(
            ka.close,
            Some(CloseReason::TransferEncodingWithContentLength)
        );
    }

    #[test]
    fn keep_alive_header_is_parsed_even_when_closing() {
        let ka = decide(
            &[],
            Version::HTTP_11,
            &[("connection", "close"), ("keep-alive", "timeout=0, max=1")],
            LENGTH,
        );
        assert_eq!(ka.close, Some(CloseReason::ResponseAskedClose));
        assert_eq!(ka.timeout, Some(Duration::ZERO));
        assert_eq!(ka.max, Some(1));
    }

    #[test]
    fn repeated_keep_alive_headers_keep_the_smaller_values() {
        let ka = decide(
            &[],
            Version::HTTP_11,
            &[
                ("keep-alive", "timeout=30"),
                ("keep-alive", "timeout=5, max=9"),
            ],
            LENGTH,
        );
        assert_eq!(ka.timeout, Some(Duration::from_secs(5)));
        assert_eq!(ka.max, Some(9));
    }

    #[test]
    fn keep_alive_parsing_is_lenient() {
        assert_eq!(
            parse_keep_alive(b"timeout=5, max=100"),
            (Some(5), Some(100))
        );
        assert_eq!(
            parse_keep_alive(b"  TIMEOUT = 5 ,MAX= 100 "),
            (Some(5), Some(100))
        );
        assert_eq!(parse_keep_alive(b"timeout=\"7\""), (Some(7), None));
        assert_eq!(
            parse_keep_alive(b"max=3; timeout=2; foo=bar"),
            (Some(2), Some(3))
        );
        assert_eq!(parse_keep_alive(b"300"), (None, None));
        assert_eq!(
            parse_keep_alive(b"timeout=abc, max=-1, =5, timeout"),
            (None, None)
        );
        assert_eq!(
            parse_keep_alive(b"\xff\xfe garbage ,,, timeout=4"),
            (Some(4), None)
        );
        assert_eq!(parse_keep_alive(b""), (None, None));
    }

    #[test]
    fn huge_keep_alive_numbers_saturate() {
        assert_eq!(
            parse_keep_alive(b"timeout=99999999999999999999999, max=99999999999"),
            (Some(u64::MAX), Some(u32::MAX))
        );
    }
}
