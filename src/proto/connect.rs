//! CONNECT: the request that asks an HTTP proxy for a tunnel (RFC 9110 §9.3.6), in
//! authority-form (RFC 9112 §3.2.3), and the proxy's answer to it.
//!
//! Covers: encoding `CONNECT host:port HTTP/1.1` with `Host` and the given header lines,
//! validated before anything is written; reading the answer: interim 1xx heads are
//! skipped, a 2xx means the tunnel is open right after its head (RFC 9112 §6.3 rule 2: a
//! 2xx to CONNECT has no body), anything else is a refusal whose head is returned.
//! Does not cover: the socket, deadlines or what the tunnel carries (`conn/proxy.rs`).

use http::StatusCode;

use super::encode::write_decimal;
use super::error::ProtoError;
use super::request::{validate_header_name, validate_header_value};
use super::response::{parse_response_head, HeadKind, HeadLimits, ResponseHead};

/// Appends `CONNECT host:port HTTP/1.1`, `Host: host:port`, `headers` and the blank line to
/// `dst`. `host` is as in a URL (IPv6 literals in brackets). On error nothing is appended.
pub(crate) fn encode_connect(
    host: &str,
    port: u16,
    headers: &[(&[u8], &[u8])],
    dst: &mut Vec<u8>,
) -> Result<(), ProtoError> {
    // An authority holds no white space, controls, `/`, `?`, `#` or `@`: anything else
    // could split the request line or smuggle another target.
    let bad = |b: u8| b <= b' ' || b == 0x7f || matches!(b, b'/' | b'?' | b'#' | b'@');
    if host.is_empty() || host.bytes().any(bad) {
        return Err(ProtoError::InvalidUrl);
    }
    for (name, value) in headers {
        validate_header_name(name)?;
        validate_header_value(value)?;
    }
    let mut authority = Vec::with_capacity(host.len() + 6);
    authority.extend_from_slice(host.as_bytes());
    authority.push(b':');
    write_decimal(u64::from(port), &mut authority);

    dst.extend_from_slice(b"CONNECT ");
    dst.extend_from_slice(&authority);
    dst.extend_from_slice(b" HTTP/1.1\r\nHost: ");
    dst.extend_from_slice(&authority);
    dst.extend_from_slice(b"\r\n");
    for (name, value) in headers {
        dst.extend_from_slice(name);
        dst.extend_from_slice(b": ");
        dst.extend_from_slice(value);
        dst.extend_from_slice(b"\r\n");
    }
    dst.extend_from_slice(b"\r\n");
    Ok(())
}

/// The proxy's final answer to CONNECT.
#[derive(Debug)]
pub(crate) enum ConnectAnswer {
    /// A 2xx: the tunnel begins right after the head, which took the first `consumed`
    /// bytes of the buffer.
    Open { consumed: usize },
    /// Any other final status: no tunnel.
    Refused(Box<ResponseHead>),
}

/// Reads the answer to CONNECT from the front of `buf`: `Ok(None)` while more bytes are
/// needed. A `101` is a protocol error (nothing asked for an upgrade).
pub(crate) fn read_connect_answer(
    buf: &[u8],
    limits: &HeadLimits,
) -> Result<Option<ConnectAnswer>, ProtoError> {
    let mut at = 0;
    loop {
        let Some((head, n)) = parse_response_head(&buf[at..], limits)? else {
            return Ok(None);
        };
        at += n;
        match head.kind() {
            HeadKind::Interim => continue,
            HeadKind::Upgrade => return Err(ProtoError::UnexpectedUpgrade),
            HeadKind::Final if head.status.is_success() => {
                return Ok(Some(ConnectAnswer::Open { consumed: at }))
            }
            HeadKind::Final => return Ok(Some(ConnectAnswer::Refused(Box::new(head)))),
        }
    }
}

/// What a refusal means, in words, for the error message.
pub(crate) fn refusal_reason(status: StatusCode) -> &'static str {
    match status {
        StatusCode::PROXY_AUTHENTICATION_REQUIRED => "proxy authentication required",
        StatusCode::FORBIDDEN => "the proxy does not allow this tunnel",
        StatusCode::BAD_GATEWAY | StatusCode::GATEWAY_TIMEOUT | StatusCode::SERVICE_UNAVAILABLE => {
            "the proxy could not reach the host"
        }
        _ => "the proxy refused the tunnel",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(host: &str, port: u16, headers: &[(&str, &str)]) -> Result<String, ProtoError> {
        let headers: Vec<(&[u8], &[u8])> = headers
            .iter()
            .map(|(n, v)| (n.as_bytes(), v.as_bytes()))
            .collect();
        let mut dst = Vec::new();
        encode_connect(host, port, &headers, &mut dst)?;
        Ok(String::from_utf8(dst).unwrap())
    }

    #[test]
    fn connect_is_written_in_authority_form_with_host() {
        assert_eq!(
            encode("example.com", 443, &[("Proxy-Authorization", "Basic YTpi")]).unwrap(),
            "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\
             Proxy-Authorization: Basic YTpi\r\n\r\n"
        );
        assert_eq!(
            encode("[::1]", 8443, &[]).unwrap(),
            "CONNECT [::1]:8443 HTTP/1.1\r\nHost: [::1]:8443\r\n\r\n"
        );
    }

    #[test]
    fn a_host_or_header_that_could_split_the_request_appends_nothing() {
        for host in ["", "a b", "a\r\nX: y", "a/b", "user@a", "a?b"] {
            let mut dst = b"kept".to_vec();
            assert_eq!(
                encode_connect(host, 443, &[], &mut dst),
                Err(ProtoError::InvalidUrl),
                "{host:?}"
            );
            assert_eq!(dst, b"kept");
        }
        assert_eq!(
            encode("a", 1, &[("X", "a\r\nb")]),
            Err(ProtoError::InvalidHeaderValue)
        );
        assert_eq!(
            encode("a", 1, &[("X Y", "v")]),
            Err(ProtoError::InvalidHeaderName)
        );
    }

    fn limits() -> HeadLimits {
        HeadLimits::default()
    }

    #[test]
    fn answers_are_read_whatever_the_split() {
        let open = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 200 Connection established\r\n\r\n";
        for cut in 0..open.len() {
            match read_connect_answer(&open[..cut], &limits()) {
                Ok(None) => {}
                other => panic!("cut {cut}: {other:?}"),
            }
        }
        match read_connect_answer(open, &limits()) {
            Ok(Some(ConnectAnswer::Open { consumed })) => assert_eq!(consumed, open.len()),
            other => panic!("{other:?}"),
        }
        // Bytes after the head are the tunnel's, not the head's.
        let mut more = open.to_vec();
        more.extend_from_slice(b"\x16\x03");
        match read_connect_answer(&more, &limits()) {
            Ok(Some(ConnectAnswer::Open { consumed })) => assert_eq!(consumed, open.len()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn non_2xx_is_a_refusal_with_its_head_and_101_is_an_error() {
        // (answer, the refusal's status or `None` for a tunnel, or the error)
        type Row<'a> = (&'a [u8], Result<Option<u16>, ProtoError>);
        let rows: &[Row] = &[
            (
                b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\n\r\n",
                Ok(Some(407)),
            ),
            (
                b"HTTP/1.0 403 Forbidden\r\nContent-Length: 5\r\n\r\nnope!",
                Ok(Some(403)),
            ),
            (b"HTTP/1.1 502 Bad Gateway\r\n\r\n", Ok(Some(502))),
            (b"HTTP/1.1 204 No Content\r\n\r\n", Ok(None)),
            (
                b"HTTP/1.1 101 Switching Protocols\r\n\r\n",
                Err(ProtoError::UnexpectedUpgrade),
            ),
            (b"SSH-2.0-OpenSSH\r\n\r\n", Err(ProtoError::InvalidHead)),
        ];
        for (bytes, expected) in rows {
            let got = read_connect_answer(bytes, &limits()).map(|a| match a {
                Some(ConnectAnswer::Refused(head)) => Some(head.status.as_u16()),
                Some(ConnectAnswer::Open { .. }) => None,
                None => panic!("incomplete: {bytes:?}"),
            });
            assert_eq!(&got, expected, "{}", String::from_utf8_lossy(bytes));
        }
    }

    #[test]
    fn an_endless_answer_is_too_large_not_a_hang() {
        let mut big = b"HTTP/1.1 200 OK\r\n".to_vec();
        while big.len() <= limits().max_head_bytes {
            big.extend_from_slice(b"X-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
        }
        assert!(read_connect_answer(&big, &limits()).is_err());
    }

    #[test]
    fn reasons_name_the_common_refusals() {
        assert_eq!(
            refusal_reason(StatusCode::PROXY_AUTHENTICATION_REQUIRED),
            "proxy authentication required"
        );
        assert_eq!(
            refusal_reason(StatusCode::IM_A_TEAPOT),
            "the proxy refused the tunnel"
        );
    }
}
