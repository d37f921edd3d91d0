//! The fault matrix: every way a server can answer badly, one test per fault, through the
//! public API against the scripted server.
//!
//! Each test checks four things: the fault is a typed error (its exact `ErrorKind`, and
//! the `ProtoError` behind it where there is one) at the point of the API where it can
//! first be seen (`send()` for the head, reading the body for the body); nothing panics
//! or hangs (every request carries a short timeout as a safety net); the connection that
//! carried the fault is closed, not pooled; and the next request on the same client
//! succeeds on a fresh connection.
//!
//! Servers that keep the connection open after a bad answer (`Reply::Raw`) also show that
//! the client itself closed the socket (`closed_by_client`), rather than leaving it idle.

mod support;

use std::time::Duration;

use support::{Reply, Script, TestServer};
use tether::proto::ProtoError;
use tether::ErrorKind;

/// Safety net on every request: no fault may hang a test for longer.
const SAFETY: Duration = Duration::from_secs(5);

/// A client whose requests all carry the safety-net timeout.
fn client() -> tether::Client {
    tether::Client::builder().timeout(SAFETY).build().unwrap()
}

/// Where a fault showed.
#[derive(Debug)]
enum Fault {
    /// `send()` failed: no response head was accepted.
    AtSend(tether::Error),
    /// `send()` gave a response with `status`; reading its body failed after `body`.
    InBody {
        status: u16,
        body: Vec<u8>,
        error: tether::Error,
    },
}

impl Fault {
    fn at_send(self) -> tether::Error {
        match self {
            Fault::AtSend(e) => e,
            other => panic!("expected send() to fail, got {other:?}"),
        }
    }

    fn in_body(self) -> (u16, Vec<u8>, tether::Error) {
        match self {
            Fault::InBody {
                status,
                body,
                error,
            } => (status, body, error),
            other => panic!("expected the body to fail, got {other:?}"),
        }
    }
}

/// GETs `path` with `timeout` and reads the body chunk by chunk until the fault shows.
/// A response read cleanly to its end is a test failure.
async fn get_fault(client: &tether::Client, url: String, timeout: Duration) -> Fault {
    let mut resp = match client.get(url).timeout(timeout).send().await {
        Ok(resp) => resp,
        Err(e) => return Fault::AtSend(e),
    };
    let status = resp.status().as_u16();
    let mut body = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) => panic!(
                "the body ended cleanly: {status} {:?}",
                String::from_utf8_lossy(&body)
            ),
            Err(error) => {
                return Fault::InBody {
                    status,
                    body,
                    error,
                }
            }
        }
    }
}

/// The error is `kind` with `proto` behind it, and was seen after the request was written.
fn assert_error(e: &tether::Error, kind: ErrorKind, proto: Option<ProtoError>) {
    assert_eq!(e.kind(), kind, "{e:?}");
    assert_eq!(e.proto_error(), proto.as_ref(), "{e:?}");
}

/// After one faulty exchange on connection 0: the next GET succeeds on a fresh connection,
/// and nothing was retried or reused.
async fn next_request_succeeds_on_a_fresh_connection(client: &tether::Client, server: &TestServer) {
    let resp = client.get(server.url("/next")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "ok");
    let s = server.stats();
    assert_eq!(s.accepted, 2, "{s:?}");
    assert_eq!(s.requests_per_conn, vec![1, 1], "{s:?}");
    let c = client.stats();
    assert_eq!((c.connections_opened, c.reuses), (2, 0), "{c:?}");
    assert_eq!((c.open, c.idle), (1, 1), "only the good connection is kept");
}

/// A server that answers the first request with `bad` and every later one `200 ok`.
async fn server_answering_first(bad: Reply) -> TestServer {
    TestServer::start(Script::new().sequence(vec![bad, Reply::ok("ok")])).await
}

fn raw(bytes: &[u8]) -> Reply {
    Reply::Raw(bytes.to_vec())
}

/// Runs one fault whose server keeps the connection open (`Reply::Raw`) and shows at
/// `send()`: checks the error, that the client closed the socket, and the next request.
async fn head_fault(bytes: &[u8], kind: ErrorKind, proto: ProtoError) {
    let server = server_answering_first(raw(bytes)).await;
    let client = client();
    let e = get_fault(&client, server.url("/bad"), SAFETY)
        .await
        .at_send();
    assert_error(&e, kind, Some(proto));
    assert!(e.request_written() && !e.connection_reused());
    server.wait_until(|s| s.closed_by_client == 1).await;
    next_request_succeeds_on_a_fresh_connection(&client, &server).await;
}

/// Like `head_fault`, for a fault that shows while the body is read after a 200 head.
async fn body_fault(bytes: &[u8], proto: ProtoError) -> Vec<u8> {
    let server = server_answering_first(raw(bytes)).await;
    let client = client();
    let (status, body, e) = get_fault(&client, server.url("/bad"), SAFETY)
        .await
        .in_body();
    assert_eq!(status, 200);
    assert_error(&e, ErrorKind::Protocol, Some(proto));
    server.wait_until(|s| s.closed_by_client == 1).await;
    next_request_succeeds_on_a_fresh_connection(&client, &server).await;
    body
}

#[tokio::test]
async fn truncated_head_is_incomplete_head_at_send() {
    let server = server_answering_first(Reply::RawThenClose(
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Cut: abc".to_vec(),
    ))
    .await;
    let client = client();
    let e = get_fault(&client, server.url("/bad"), SAFETY)
        .await
        .at_send();
    // Some of a response arrived, so this is not the close race: no retry.
    assert_error(&e, ErrorKind::Protocol, Some(ProtoError::IncompleteHead));
    assert_eq!(client.stats().retries_close_race, 0);
    next_request_succeeds_on_a_fresh_connection(&client, &server).await;
}

#[tokio::test]
async fn truncated_length_body_is_incomplete_body_while_reading() {
    let server = server_answering_first(Reply::RawThenClose(
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhello".to_vec(),
    ))
    .await;
    let client = client();
    let (status, body, e) = get_fault(&client, server.url("/bad"), SAFETY)
        .await
        .in_body();
    assert_eq!((status, &body[..]), (200, &b"hello"[..]));
    assert_error(
        &e,
        ErrorKind::IncompleteBody,
        Some(ProtoError::IncompleteBody),
    );
    assert!(e.request_written() && !e.connection_reused());
    next_request_succeeds_on_a_fresh_connection(&client, &server).await;
}

#[tokio::test]
async fn truncated_chunked_body_is_incomplete_body_while_reading() {
    let server = server_answering_first(Reply::RawThenClose(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n wo".to_vec(),
    ))
    .await;
    let client = client();
    let (status, body, e) = get_fault(&client, server.url("/bad"), SAFETY)
        .await
        .in_body();
    assert_eq!((status, &body[..]), (200, &b"hello wo"[..]));
    assert_error(
        &e,
        ErrorKind::IncompleteBody,
        Some(ProtoError::IncompleteBody),
    );
    next_request_succeeds_on_a_fresh_connection(&client, &server).await;
}

#[tokio::test]
async fn bad_chunk_size_is_a_protocol_error_while_reading() {
    let body = body_fault(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\nxx\r\n0\r\n\r\n",
        ProtoError::InvalidChunkSize,
    )
    .await;
    assert!(
        body.is_empty() || body == b"hello",
        "nothing past the bad size"
    );
}

#[tokio::test]
async fn chunk_size_past_u64_is_an_overflow_error_while_reading() {
    body_fault(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\nx\r\n0\r\n\r\n",
        ProtoError::ChunkSizeOverflow,
    )
    .await;
}

#[tokio::test]
async fn oversized_head_is_refused_at_the_default_64_kib_limit() {
    let mut head = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n".to_vec();
    for i in 0..70 {
        head.extend_from_slice(format!("X-Filler-{i}: {}\r\n", "a".repeat(1000)).as_bytes());
    }
    head.extend_from_slice(b"\r\nok");
    assert!(head.len() > 64 * 1024);
    head_fault(&head, ErrorKind::Protocol, ProtoError::HeadTooLarge).await;
}

#[tokio::test]
async fn head_that_never_ends_is_refused_at_the_limit_without_waiting_for_more() {
    // One endless header line: the limit, not the server closing, ends it.
    let mut head = b"HTTP/1.1 200 OK\r\nX-Endless: ".to_vec();
    head.extend(std::iter::repeat_n(b'a', 100 * 1024));
    head_fault(&head, ErrorKind::Protocol, ProtoError::HeadTooLarge).await;
}

#[tokio::test]
async fn too_many_headers_are_refused_at_the_default_limit_of_100() {
    let mut head = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n".to_vec();
    for i in 0..100 {
        head.extend_from_slice(format!("X-H{i}: v\r\n").as_bytes());
    }
    head.extend_from_slice(b"\r\nok");
    head_fault(&head, ErrorKind::Protocol, ProtoError::TooManyHeaders).await;
}

#[tokio::test]
async fn garbage_status_line_is_an_invalid_head_at_send() {
    head_fault(
        b"HTTP/1.1 2x0 OK\r\nContent-Length: 2\r\n\r\nok",
        ErrorKind::Protocol,
        ProtoError::InvalidHead,
    )
    .await;
}

#[tokio::test]
async fn unknown_http_version_is_unsupported_at_send() {
    head_fault(
        b"HTTP/2.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
        ErrorKind::Protocol,
        ProtoError::UnsupportedVersion,
    )
    .await;
}

#[tokio::test]
async fn http09_answer_without_a_status_line_is_an_invalid_head_at_send() {
    // HTTP/0.9: the body alone, then close. Not accepted as a body.
    let server = server_answering_first(Reply::RawThenClose(
        b"<html><body>hello</body></html>\n".to_vec(),
    ))
    .await;
    let client = client();
    let e = get_fault(&client, server.url("/bad"), SAFETY)
        .await
        .at_send();
    assert_error(&e, ErrorKind::Protocol, Some(ProtoError::InvalidHead));
    next_request_succeeds_on_a_fresh_connection(&client, &server).await;
}

#[tokio::test]
async fn nul_in_a_header_value_is_an_invalid_head_at_send() {
    head_fault(
        b"HTTP/1.1 200 OK\r\nX-Bad: a\0b\r\nContent-Length: 2\r\n\r\nok",
        ErrorKind::Protocol,
        ProtoError::InvalidHead,
    )
    .await;
}

#[tokio::test]
async fn bare_cr_in_a_header_is_an_invalid_head_at_send() {
    head_fault(
        b"HTTP/1.1 200 OK\r\nX-Bad: a\rContent-Length: 0\r\nContent-Length: 2\r\n\r\nok",
        ErrorKind::Protocol,
        ProtoError::InvalidHead,
    )
    .await;
}

#[tokio::test]
async fn conflicting_content_lengths_are_an_error_at_send() {
    head_fault(
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nokk",
        ErrorKind::Protocol,
        ProtoError::ConflictingContentLength,
    )
    .await;
}

#[tokio::test]
async fn transfer_encoding_with_content_length_reads_chunked_and_does_not_reuse() {
    // Not an error (RFC 9112 §6.3 rule 3): chunked wins, and the connection is not
    // trusted afterwards. The server keeps it open; the client must close it.
    let server = server_answering_first(raw(
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n\
5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
    ))
    .await;
    let client = client();
    let resp = client.get(server.url("/te-cl")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "hello world");
    server.wait_until(|s| s.closed_by_client == 1).await;
    assert_eq!(client.stats().idle, 0);
    next_request_succeeds_on_a_fresh_connection(&client, &server).await;
}

#[tokio::test]
async fn endless_interim_responses_are_refused_at_send() {
    let mut flood = Vec::new();
    for _ in 0..1000 {
        flood.extend_from_slice(b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n");
    }
    head_fault(
        &flood,
        ErrorKind::Protocol,
        ProtoError::TooManyInterimResponses,
    )
    .await;
}

#[tokio::test]
async fn unexpected_101_is_refused_at_send() {
    head_fault(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n",
        ErrorKind::Protocol,
        ProtoError::UnexpectedUpgrade,
    )
    .await;
}

#[tokio::test]
async fn reset_mid_body_is_incomplete_body_while_reading() {
    let server = server_answering_first(Reply::RawThenReset(
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhello".to_vec(),
    ))
    .await;
    let client = client();
    let (status, body, e) = get_fault(&client, server.url("/bad"), SAFETY)
        .await
        .in_body();
    assert_eq!((status, &body[..]), (200, &b"hello"[..]));
    // The same kind as an early EOF; the cause is the reset itself.
    assert_error(&e, ErrorKind::IncompleteBody, None);
    let io = std::error::Error::source(&e).and_then(|s| s.downcast_ref::<std::io::Error>());
    assert_eq!(
        io.map(std::io::Error::kind),
        Some(std::io::ErrorKind::ConnectionReset),
        "{e:?}"
    );
    next_request_succeeds_on_a_fresh_connection(&client, &server).await;
}

#[tokio::test(start_paused = true)]
async fn body_dripping_past_the_request_timeout_times_out_while_reading() {
    let server = server_answering_first(Reply::Drip {
        head: b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n".to_vec(),
        body: b"0123456789".to_vec(),
        every: Duration::from_secs(1),
    })
    .await;
    let client = client();
    let (status, body, e) = get_fault(&client, server.url("/drip"), Duration::from_millis(3500))
        .await
        .in_body();
    assert_eq!((status, &body[..]), (200, &b"012"[..]));
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e:?}");
    assert!(e.is_timeout());
    // The server notices the close at its next byte.
    server.wait_until(|s| s.closed_by_client == 1).await;
    next_request_succeeds_on_a_fresh_connection(&client, &server).await;
}

#[tokio::test(start_paused = true)]
async fn head_dripping_past_the_request_timeout_times_out_at_send() {
    let server = server_answering_first(Reply::Drip {
        head: Vec::new(),
        body: b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".to_vec(),
        every: Duration::from_secs(1),
    })
    .await;
    let client = client();
    let e = get_fault(&client, server.url("/drip"), Duration::from_secs(10))
        .await
        .at_send();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e:?}");
    assert_eq!(e.proto_error(), None);
    server.wait_until(|s| s.closed_by_client == 1).await;
    next_request_succeeds_on_a_fresh_connection(&client, &server).await;
}

#[tokio::test(start_paused = true)]
async fn server_that_never_answers_times_out_at_send() {
    let server = server_answering_first(Reply::Stall).await;
    let client = client();
    let e = get_fault(&client, server.url("/stall"), Duration::from_secs(2))
        .await
        .at_send();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e:?}");
    // The stalled connection was closed by the client, not kept.
    server.wait_until(|s| s.closed_by_client == 1).await;
    next_request_succeeds_on_a_fresh_connection(&client, &server).await;
}

/// Heads in forms the plain scan leaves to httparse (bare LF line ends, obs-text in a
/// value) and plain ones (no reason, tabs and trailing spaces in a value, many fields) are
/// all read, one after another on one kept-alive connection.
#[tokio::test]
async fn heads_of_every_valid_form_are_read_on_one_connection() {
    let many: String = (0..20).map(|i| format!("X-F{i}: v{i}\r\n")).collect();
    let server = TestServer::start(Script::new().sequence(vec![
        raw(b"HTTP/1.1 200 OK\nContent-Length: 2\nX-A: caf\xe9\n\nok"),
        raw(b"HTTP/1.1 201\r\nX-T:\tone\ttwo \r\nContent-Length: 2\r\n\r\nok"),
        raw(format!("HTTP/1.1 200 OK\r\n{many}Content-Length: 2\r\n\r\nok").as_bytes()),
    ]))
    .await;
    let client = client();
    let first = client.get(server.url("/1")).send().await.unwrap();
    assert_eq!(first.status(), 200);
    assert_eq!(first.headers()["x-a"].as_bytes(), b"caf\xe9");
    assert_eq!(first.text().await.unwrap(), "ok");
    let second = client.get(server.url("/2")).send().await.unwrap();
    assert_eq!(second.status(), 201);
    assert_eq!(second.headers()["x-t"], "one\ttwo");
    assert_eq!(second.text().await.unwrap(), "ok");
    let third = client.get(server.url("/3")).send().await.unwrap();
    assert_eq!(third.headers().len(), 21);
    assert_eq!(third.headers()["x-f19"], "v19");
    assert_eq!(third.text().await.unwrap(), "ok");
    let s = server.stats();
    assert_eq!(
        (s.accepted, s.requests_per_conn.clone()),
        (1, vec![3]),
        "{s:?}"
    );
}
