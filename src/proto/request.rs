//! Request heads: validation and encoding (RFC 9112 §3, §6.1–§6.2, §7.2 for `Host`).
//!
//! Covers: the request line (origin-form, or absolute-form for HTTP proxies), the `Host`
//! header, the framing headers (`Content-Length` / `Transfer-Encoding`, which are always
//! ours, never the caller's) and the caller's headers in their order. Every byte is
//! validated before the first one is written, so a bad request appends nothing.
//!
//! Does not cover: the body itself (see `encode.rs` for chunks), authority-form (CONNECT)
//! or asterisk-form (`OPTIONS *`) targets, and default headers such as
//! `Connection: keep-alive` (the client adds those to the caller's headers).

use http::{HeaderName, HeaderValue, Method};
use url::Url;

use super::encode::write_decimal;
use super::error::ProtoError;

/// Which form of request target the request line carries (RFC 9112 §3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetForm {
    /// `path?query`, for a request sent straight to the origin server (RFC 9112 §3.2.1).
    Origin,
    /// The whole URL without fragment or userinfo, for HTTP proxies (RFC 9112 §3.2.2).
    Absolute,
}

/// How the request body is framed; decides the framing headers (RFC 9112 §6.1–§6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestBody {
    /// No body.
    None,
    /// A body of exactly this many bytes: `Content-Length`.
    Known(u64),
    /// A stream of unknown size: `Transfer-Encoding: chunked`.
    Chunked,
}

/// Everything needed to encode one request head.
#[derive(Debug, Clone)]
pub struct RequestHead<'a> {
    /// The request method.
    pub method: &'a Method,
    /// The target URL (scheme http or https, with a host).
    pub url: UrlParts<'a>,
    /// Origin-form or absolute-form request target.
    pub form: TargetForm,
    /// The caller's headers, written in this order (framing headers among them are dropped).
    pub headers: &'a [(HeaderName, HeaderValue)],
    /// How the body is framed.
    pub body: RequestBody,
    /// Header lines encoded and validated beforehand (`name: value\r\n` each), written
    /// after `headers`: a client's constant defaults, so that they are not checked again
    /// for every request.
    pub encoded: &'a [u8],
}

/// What a request head is written from of its URL, as the `url` crate gives the pieces:
/// the port only when it is not the scheme's default, the path with its leading `/`.
#[derive(Debug, Clone, Copy)]
pub struct UrlParts<'a> {
    pub scheme: &'a str,
    pub host: Option<&'a str>,
    pub port: Option<u16>,
    pub path: &'a str,
    pub query: Option<&'a str>,
    /// `host[:port]` as the head writes it, when the URL already has it so (a plain
    /// string): copied whole instead of written piece by piece.
    pub authority: Option<&'a str>,
    /// The whole URL's length, to size the head.
    pub len: usize,
}

impl<'a> UrlParts<'a> {
    /// The pieces of a parsed URL.
    pub fn of(url: &'a Url) -> UrlParts<'a> {
        UrlParts {
            scheme: url.scheme(),
            host: url.host_str(),
            port: url.port(),
            path: url.path(),
            query: url.query(),
            authority: None,
            len: url.as_str().len(),
        }
    }
}

/// Appends the encoded head (request line, headers, blank line) to `dst`.
///
/// Validates first: on error nothing is appended. The method must be a token, header names
/// tokens and values free of CR, LF and NUL; the raw bytes are checked even though the
/// `http` types usually guarantee this, because unchecked constructors exist.
#[inline]
pub fn encode_request_head(head: &RequestHead<'_>, dst: &mut Vec<u8>) -> Result<(), ProtoError> {
    let headers = head
        .headers
        .iter()
        .map(|(name, value)| (name.as_str().as_bytes(), value.as_bytes()));
    encode_raw(
        head.method.as_str().as_bytes(),
        head.url,
        head.form,
        headers,
        head.body,
        head.encoded,
        dst,
    )
}

/// [`encode_request_head`] on raw bytes, so that the validation is independent of the
/// guarantees of the `http` types. `headers` is walked twice: to validate, then to write.
#[inline]
fn encode_raw<'h, H>(
    method: &[u8],
    url: UrlParts<'_>,
    form: TargetForm,
    headers: H,
    body: RequestBody,
    encoded: &[u8],
    dst: &mut Vec<u8>,
) -> Result<(), ProtoError>
where
    H: Iterator<Item = (&'h [u8], &'h [u8])> + Clone,
{
    if method.is_empty() || !method.iter().all(|&b| is_tchar(b)) {
        return Err(ProtoError::InvalidMethod);
    }
    let scheme = url.scheme;
    if scheme != "http" && scheme != "https" {
        return Err(ProtoError::InvalidUrl);
    }
    let host = match url.host {
        Some(h) if !h.is_empty() => h,
        _ => return Err(ProtoError::InvalidUrl),
    };
    let mut caller_host: Option<&[u8]> = None;
    let mut estimate = 64 + url.len + encoded.len();
    for (name, value) in headers.clone() {
        validate_header_name(name)?;
        validate_header_value(value)?;
        if caller_host.is_none() && name.eq_ignore_ascii_case(b"host") {
            caller_host = Some(value);
        }
        estimate += name.len() + value.len() + 4;
    }

    dst.reserve(estimate);
    dst.extend_from_slice(method);
    dst.push(b' ');
    if form == TargetForm::Absolute {
        dst.extend_from_slice(scheme.as_bytes());
        dst.extend_from_slice(b"://");
        write_authority(host, url.port, url.authority, dst);
    }
    write_origin_form(url, dst);
    // Host first (RFC 9110 §7.2): the caller's if given, once. The request line's end
    // and the field's name go in one copy.
    match caller_host {
        Some(value) => {
            dst.extend_from_slice(b" HTTP/1.1\r\nhost: ");
            dst.extend_from_slice(value);
        }
        None => {
            dst.extend_from_slice(b" HTTP/1.1\r\nHost: ");
            write_authority(host, url.port, url.authority, dst);
        }
    }
    dst.extend_from_slice(b"\r\n");

    for (name, value) in headers {
        if is_ours(name) {
            continue;
        }
        dst.extend_from_slice(name);
        dst.extend_from_slice(b": ");
        dst.extend_from_slice(value);
        dst.extend_from_slice(b"\r\n");
    }
    dst.extend_from_slice(encoded);

    let announce_empty = method_expects_body(method);
    match body {
        RequestBody::Known(n) if n > 0 || announce_empty => write_content_length(n, dst),
        RequestBody::None if announce_empty => write_content_length(0, dst),
        RequestBody::Chunked => dst.extend_from_slice(b"Transfer-Encoding: chunked\r\n"),
        RequestBody::Known(_) | RequestBody::None => {}
    }
    dst.extend_from_slice(b"\r\n");
    Ok(())
}

/// Headers the encoder writes itself: `Host` (placed first) and the framing headers.
fn is_ours(name: &[u8]) -> bool {
    name.eq_ignore_ascii_case(b"host")
        || name.eq_ignore_ascii_case(b"content-length")
        || name.eq_ignore_ascii_case(b"transfer-encoding")
}

/// Checks that a header name is a non-empty token (RFC 9110 §5.1).
pub fn validate_header_name(name: &[u8]) -> Result<(), ProtoError> {
    if name.is_empty() || !name.iter().all(|&b| is_tchar(b)) {
        return Err(ProtoError::InvalidHeaderName);
    }
    Ok(())
}

/// Checks that a header value holds no CR, LF or NUL (RFC 9110 §5.5).
pub fn validate_header_value(value: &[u8]) -> Result<(), ProtoError> {
    // Every byte is looked at, with no early return, so that the loop vectorizes: a value
    // is almost always clean, and a token of 40 bytes checked byte by byte cost some 200
    // instructions.
    let mut bad = false;
    for &b in value {
        bad |= b == b'\r' || b == b'\n' || b == 0;
    }
    if bad {
        return Err(ProtoError::InvalidHeaderValue);
    }
    Ok(())
}

/// Writes each field name of an encoded request head in title case (`content-type` as
/// `Content-Type`: the first letter and each after a `-` upper-cased, the others lower),
/// for servers that read names case-sensitively, which RFC 9110 §5.1 does not allow. The
/// request line and the values stay as they were.
pub fn title_case_names(head: &mut [u8]) {
    let mut lines = head.split_mut(|&b| b == b'\n');
    // The request line is never a field.
    lines.next();
    for line in lines {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let mut upper = true;
        for b in &mut line[..colon] {
            *b = if upper {
                b.to_ascii_uppercase()
            } else {
                b.to_ascii_lowercase()
            };
            upper = *b == b'-';
        }
    }
}

/// Makes the request line of an encoded head say `HTTP/1.0` (it ends in `HTTP/1.1` as
/// encoded). Anything else is left as it is; false if the line was not found so.
pub fn request_line_http10(head: &mut [u8]) -> bool {
    let Some(end) = head.windows(2).position(|w| w == b"\r\n") else {
        return false;
    };
    match head[..end].strip_suffix(b" HTTP/1.1") {
        Some(_) => {
            head[end - 1] = b'0';
            true
        }
        None => false,
    }
}

/// Removes every field called `name` (lowercase) from an encoded request head; the
/// request line and the other fields stay as they were. Returns how many went.
pub fn remove_field(head: &mut Vec<u8>, name: &str) -> usize {
    let mut out = Vec::with_capacity(head.len());
    let mut removed = 0;
    let mut lines = head.split_inclusive(|&b| b == b'\n');
    // The request line is never a field.
    if let Some(first) = lines.next() {
        out.extend_from_slice(first);
    }
    for line in lines {
        let named = line.get(..name.len() + 1).is_some_and(|start| {
            start[..name.len()].eq_ignore_ascii_case(name.as_bytes()) && start[name.len()] == b':'
        });
        if named {
            removed += 1;
        } else {
            out.extend_from_slice(line);
        }
    }
    *head = out;
    removed
}

/// Whether a method is idempotent (RFC 9110 §9.2.2): GET, HEAD, OPTIONS, TRACE, PUT, DELETE.
pub fn is_idempotent(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE | Method::PUT | Method::DELETE
    )
}

/// The token characters (`tchar`, RFC 9110 §5.6.2), as a table: a lookup a byte.
pub(crate) const TOKEN: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = matches!(b as u8,
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9'
            | b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+'
            | b'-' | b'.' | b'^' | b'_' | b'`' | b'|' | b'~');
        b += 1;
    }
    table
};

/// Whether a token character (`tchar`, RFC 9110 §5.6.2).
#[inline]
pub(crate) fn is_tchar(b: u8) -> bool {
    TOKEN[usize::from(b)]
}

/// Methods whose empty body is still announced with `Content-Length: 0` (RFC 9110 §8.6).
fn method_expects_body(method: &[u8]) -> bool {
    matches!(method, b"POST" | b"PUT" | b"PATCH")
}

fn write_origin_form(url: UrlParts<'_>, dst: &mut Vec<u8>) {
    let path = url.path;
    if path.is_empty() {
        dst.push(b'/');
    } else {
        dst.extend_from_slice(path.as_bytes());
    }
    if let Some(query) = url.query {
        dst.push(b'?');
        dst.extend_from_slice(query.as_bytes());
    }
}

/// `host[:port]`; `url` already brackets IPv6 literals and drops default ports.
fn write_authority(host: &str, port: Option<u16>, whole: Option<&str>, dst: &mut Vec<u8>) {
    if let Some(whole) = whole {
        dst.extend_from_slice(whole.as_bytes());
        return;
    }
    dst.extend_from_slice(host.as_bytes());
    if let Some(port) = port {
        dst.push(b':');
        write_decimal(u64::from(port), dst);
    }
}

fn write_content_length(n: u64, dst: &mut Vec<u8>) {
    dst.extend_from_slice(b"Content-Length: ");
    write_decimal(n, dst);
    dst.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(method: &Method, url: &str, headers: &[(&str, &str)], body: RequestBody) -> String {
        encode_form(method, url, TargetForm::Origin, headers, body)
    }

    fn encode_form(
        method: &Method,
        url: &str,
        form: TargetForm,
        headers: &[(&str, &str)],
        body: RequestBody,
    ) -> String {
        let url = Url::parse(url).unwrap();
        let headers: Vec<(HeaderName, HeaderValue)> = headers
            .iter()
            .map(|(n, v)| {
                (
                    HeaderName::from_bytes(n.as_bytes()).unwrap(),
                    HeaderValue::from_str(v).unwrap(),
                )
            })
            .collect();
        let head = RequestHead {
            method,
            url: UrlParts::of(&url),
            form,
            headers: &headers,
            body,
            encoded: b"",
        };
        let mut dst = Vec::new();
        encode_request_head(&head, &mut dst).unwrap();
        String::from_utf8(dst).unwrap()
    }

    /// Encodes raw parts after something already in `dst`; returns the error and `dst`.
    fn encode_raw_err(
        method: &[u8],
        url: &str,
        headers: &[(&[u8], &[u8])],
    ) -> (ProtoError, Vec<u8>) {
        let url = Url::parse(url).unwrap();
        let mut dst = b"previous".to_vec();
        let err = encode_raw(
            method,
            UrlParts::of(&url),
            TargetForm::Origin,
            headers.iter().copied(),
            RequestBody::Known(3),
            b"",
            &mut dst,
        )
        .unwrap_err();
        (err, dst)
    }

    #[test]
    fn get_writes_request_line_host_headers_and_blank_line() {
        let out = encode(
            &Method::GET,
            "http://example.com/index.html",
            &[("accept", "*/*"), ("connection", "keep-alive")],
            RequestBody::None,
        );
        assert_eq!(
            out,
            "GET /index.html HTTP/1.1\r\nHost: example.com\r\naccept: */*\r\n\
             connection: keep-alive\r\n\r\n"
        );
    }

    #[test]
    fn empty_path_becomes_slash() {
        let out = encode(&Method::GET, "http://example.com", &[], RequestBody::None);
        assert!(out.starts_with("GET / HTTP/1.1\r\n"), "{out}");
    }

    #[test]
    fn query_is_kept_and_fragment_is_never_sent() {
        let out = encode(
            &Method::GET,
            "https://example.com/search?q=rust&page=2#results",
            &[],
            RequestBody::None,
        );
        assert!(
            out.starts_with("GET /search?q=rust&page=2 HTTP/1.1\r\n"),
            "{out}"
        );
        assert!(!out.contains('#'));
    }

    #[test]
    fn ipv6_host_is_bracketed_with_its_port() {
        let out = encode(&Method::GET, "http://[::1]:8080/", &[], RequestBody::None);
        assert!(out.contains("\r\nHost: [::1]:8080\r\n"), "{out}");
    }

    #[test]
    fn non_default_port_is_in_host_and_default_port_is_not() {
        let out = encode(
            &Method::GET,
            "http://example.com:8080/",
            &[],
            RequestBody::None,
        );
        assert!(out.contains("\r\nHost: example.com:8080\r\n"), "{out}");
        let out = encode(
            &Method::GET,
            "https://example.com:443/",
            &[],
            RequestBody::None,
        );
        assert!(out.contains("\r\nHost: example.com\r\n"), "{out}");
    }

    #[test]
    fn callers_host_replaces_ours_once_and_comes_first() {
        let out = encode(
            &Method::GET,
            "http://10.0.0.1/",
            &[
                ("accept", "*/*"),
                ("host", "virtual.example"),
                ("host", "second"),
            ],
            RequestBody::None,
        );
        assert_eq!(
            out,
            "GET / HTTP/1.1\r\nhost: virtual.example\r\naccept: */*\r\n\r\n"
        );
    }

    #[test]
    fn absolute_form_sends_the_url_without_fragment_or_userinfo() {
        let out = encode_form(
            &Method::GET,
            "http://user:pw@example.com:8080/a/b?x=1#frag",
            TargetForm::Absolute,
            &[],
            RequestBody::None,
        );
        assert!(
            out.starts_with(
                "GET http://example.com:8080/a/b?x=1 HTTP/1.1\r\nHost: example.com:8080\r\n"
            ),
            "{out}"
        );
    }

    #[test]
    fn empty_post_and_put_get_content_length_zero() {
        for method in [Method::POST, Method::PUT, Method::PATCH] {
            let out = encode(&method, "http://h/", &[], RequestBody::None);
            assert!(out.ends_with("\r\nContent-Length: 0\r\n\r\n"), "{out}");
            let out = encode(&method, "http://h/", &[], RequestBody::Known(0));
            assert!(out.ends_with("\r\nContent-Length: 0\r\n\r\n"), "{out}");
        }
    }

    #[test]
    fn get_without_body_gets_no_framing_headers() {
        for body in [RequestBody::None, RequestBody::Known(0)] {
            let out = encode(&Method::GET, "http://h/", &[], body);
            assert_eq!(out, "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
        }
    }

    #[test]
    fn known_body_gets_content_length() {
        let out = encode(&Method::POST, "http://h/", &[], RequestBody::Known(1234567));
        assert!(
            out.ends_with("\r\nContent-Length: 1234567\r\n\r\n"),
            "{out}"
        );
        let out = encode(&Method::DELETE, "http://h/", &[], RequestBody::Known(5));
        assert!(out.ends_with("\r\nContent-Length: 5\r\n\r\n"), "{out}");
    }

    #[test]
    fn streamed_body_gets_chunked_transfer_encoding() {
        let out = encode(&Method::PUT, "http://h/", &[], RequestBody::Chunked);
        assert!(
            out.ends_with("\r\nTransfer-Encoding: chunked\r\n\r\n"),
            "{out}"
        );
        assert!(!out.contains("Content-Length"));
    }

    #[test]
    fn callers_framing_headers_are_dropped_for_ours() {
        let out = encode(
            &Method::POST,
            "http://h/",
            &[
                ("content-length", "999"),
                ("transfer-encoding", "gzip, chunked"),
                ("x-a", "1"),
            ],
            RequestBody::Known(3),
        );
        assert_eq!(
            out,
            "POST / HTTP/1.1\r\nHost: h\r\nx-a: 1\r\nContent-Length: 3\r\n\r\n"
        );
    }

    // The http types refuse these bytes (and their unchecked constructors panic in debug
    // builds), so the raw encoder behind `encode_request_head` is driven directly.
    #[test]
    fn invalid_method_is_refused_and_appends_nothing() {
        for bad in [&b""[..], b"GET /", b"G\r\nET", b"(GET)"] {
            let (err, dst) = encode_raw_err(bad, "http://h/", &[]);
            assert_eq!(err, ProtoError::InvalidMethod, "{bad:?}");
            assert_eq!(dst, b"previous");
        }
    }

    #[test]
    fn invalid_header_name_is_refused_and_appends_nothing() {
        for bad in [&b""[..], b"x a", b"x:", b"x\r\ny"] {
            let headers: [(&[u8], &[u8]); 2] = [(b"accept", b"*/*"), (bad, b"v")];
            let (err, dst) = encode_raw_err(b"GET", "http://h/", &headers);
            assert_eq!(err, ProtoError::InvalidHeaderName, "{bad:?}");
            assert_eq!(dst, b"previous");
        }
    }

    #[test]
    fn header_value_with_cr_lf_or_nul_is_refused_and_appends_nothing() {
        for bad in [&b"a\r\nInjected: 1"[..], b"a\nb", b"a\rb", b"a\0b"] {
            let headers: [(&[u8], &[u8]); 2] = [(b"accept", b"*/*"), (b"x-a", bad)];
            let (err, dst) = encode_raw_err(b"GET", "http://h/", &headers);
            assert_eq!(err, ProtoError::InvalidHeaderValue, "{bad:?}");
            assert_eq!(dst, b"previous");
        }
    }

    #[test]
    fn url_without_http_scheme_is_refused_and_appends_nothing() {
        for url in [
            "ftp://example.com/",
            "file:///etc/passwd",
            "data:text/plain,hi",
        ] {
            let (err, dst) = encode_raw_err(b"GET", url, &[]);
            assert_eq!(err, ProtoError::InvalidUrl, "{url}");
            assert_eq!(dst, b"previous");
        }
    }

    #[test]
    fn extension_method_is_written_as_given() {
        let method = Method::from_bytes(b"PURGE").unwrap();
        let out = encode(&method, "http://h/x", &[], RequestBody::None);
        assert_eq!(out, "PURGE /x HTTP/1.1\r\nHost: h\r\n\r\n");
    }

    #[test]
    fn header_names_must_be_tokens() {
        assert_eq!(validate_header_name(b"x-custom_1.a"), Ok(()));
        for bad in [
            &b""[..],
            b"bad name",
            b"colon:",
            b"a\r\n",
            b"caf\xc3\xa9",
            b"(x)",
        ] {
            assert_eq!(
                validate_header_name(bad),
                Err(ProtoError::InvalidHeaderName),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn header_values_may_hold_anything_but_cr_lf_nul() {
        for ok in [
            &b""[..],
            b"text/html; charset=utf-8",
            b"a\tb",
            b"caf\xc3\xa9",
        ] {
            assert_eq!(validate_header_value(ok), Ok(()));
        }
        for bad in [&b"\r"[..], b"\n", b"\0", b"a\r\nb: c"] {
            assert_eq!(
                validate_header_value(bad),
                Err(ProtoError::InvalidHeaderValue)
            );
        }
        // Anywhere in a long value: the check goes by many bytes at a time.
        for len in [31, 32, 33, 64, 100] {
            for at in 0..len {
                for byte in [b'\r', b'\n', 0] {
                    let mut value = vec![b'x'; len];
                    value[at] = byte;
                    assert_eq!(
                        validate_header_value(&value),
                        Err(ProtoError::InvalidHeaderValue),
                        "{byte} at {at} of {len}"
                    );
                }
            }
            assert_eq!(validate_header_value(&vec![b'x'; len]), Ok(()));
        }
    }

    #[test]
    fn a_removed_field_leaves_the_rest_of_the_head_as_it_was() {
        let mut head =
            b"POST /expect HTTP/1.1\r\nhost: a\r\nexpect: 100-continue\r\nx-expect: 1\r\nExpect: again\r\ncontent-length: 3\r\n\r\n"
                .to_vec();
        assert_eq!(remove_field(&mut head, "expect"), 2);
        assert_eq!(
            head,
            b"POST /expect HTTP/1.1\r\nhost: a\r\nx-expect: 1\r\ncontent-length: 3\r\n\r\n"
        );
        assert_eq!(remove_field(&mut head, "expect"), 0);
        assert_eq!(remove_field(&mut head, "host"), 1);
        assert_eq!(
            head,
            b"POST /expect HTTP/1.1\r\nx-expect: 1\r\ncontent-length: 3\r\n\r\n"
        );
    }

    #[test]
    fn idempotent_methods_are_exactly_the_rfc_9110_set() {
        for m in [
            Method::GET,
            Method::HEAD,
            Method::OPTIONS,
            Method::TRACE,
            Method::PUT,
            Method::DELETE,
        ] {
            assert!(is_idempotent(&m), "{m}");
        }
        for m in [
            Method::POST,
            Method::PATCH,
            Method::CONNECT,
            Method::from_bytes(b"PURGE").unwrap(),
        ] {
            assert!(!is_idempotent(&m), "{m}");
        }
    }
    #[test]
    fn title_case_names_changes_names_alone() {
        let mut head = b"GET /a-b:c HTTP/1.1\r\nhost: h\r\nx-api-key: a-b: C\r\nuser-agent: t\r\nETAG-x: 1\r\n\r\n".to_vec();
        title_case_names(&mut head);
        assert_eq!(
            String::from_utf8(head).unwrap(),
            "GET /a-b:c HTTP/1.1\r\nHost: h\r\nX-Api-Key: a-b: C\r\nUser-Agent: t\r\nEtag-X: 1\r\n\r\n"
        );
    }
    #[test]
    fn the_request_line_alone_becomes_http10() {
        let cases: [(&[u8], &[u8], bool); 4] = [
            (
                b"GET / HTTP/1.1\r\nHost: h\r\nx-v: HTTP/1.1\r\n\r\n",
                b"GET / HTTP/1.0\r\nHost: h\r\nx-v: HTTP/1.1\r\n\r\n",
                true,
            ),
            (
                b"POST http://h/a?b HTTP/1.1\r\n\r\n",
                b"POST http://h/a?b HTTP/1.0\r\n\r\n",
                true,
            ),
            (b"GET / HTTP/1.0\r\n\r\n", b"GET / HTTP/1.0\r\n\r\n", false),
            (b"GET / HTTP/1.1", b"GET / HTTP/1.1", false),
        ];
        for (input, want, changed) in cases {
            let mut head = input.to_vec();
            assert_eq!(request_line_http10(&mut head), changed);
            assert_eq!(head, want);
        }
    }
}
