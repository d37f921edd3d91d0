//! Errors tell the truth about what was sent: `request_written()` (any byte went out),
//! `request_fully_written()` (all of it did) and `connection_reused()`, for every error a
//! caller can see, the request timeout and `read_timeout` included. A caller following the
//! rule "repeat only what was not written" must never send a POST twice.

mod support;

use std::time::Duration;

use support::raw::{read_head, RawServer};
use support::{Reply, Script, TestServer};
use tether::{Client, ErrorKind};
use tokio::io::AsyncWriteExt;

const SHORT: Duration = Duration::from_millis(300);

#[tokio::test]
async fn a_request_timeout_after_the_whole_post_was_read_says_it_was_written() {
    let server = TestServer::start(Script::new().always(Reply::Stall)).await;
    let client = Client::new();
    let err = client
        .post(server.url("/pay"))
        .body("amount=10")
        .timeout(SHORT)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err:?}");
    assert!(err.request_written(), "{err:?}");
    assert!(err.request_fully_written(), "{err:?}");
    assert!(!err.connection_reused());
    assert_eq!(
        server.stats().requests,
        1,
        "the server saw exactly one request"
    );
    assert_eq!(client.stats().requests_sent, 1, "and it was not retried");
}

#[tokio::test]
async fn a_read_timeout_after_the_whole_post_was_read_says_it_was_written_on_a_reused_connection() {
    let server = TestServer::start(Script::new().stall_at("/stall")).await;
    let client = Client::builder().read_timeout(SHORT).build().unwrap();
    let warm = client.get(server.url("/warm")).send().await.unwrap();
    assert_eq!(warm.text().await.unwrap(), "ok");
    let err = client
        .post(server.url("/stall"))
        .body("amount=10")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err:?}");
    assert!(err.to_string().contains("read timeout"), "{err}");
    assert_eq!(err.url().map(|u| u.path()), Some("/stall"), "{err:?}");
    assert!(
        err.request_written() && err.request_fully_written(),
        "{err:?}"
    );
    assert!(err.connection_reused(), "{err:?}");
    assert_eq!(server.stats().requests, 2);
    assert_eq!(server.stats().accepted, 1);
}

#[tokio::test]
async fn a_read_timeout_between_body_bytes_ends_a_stalled_body() {
    let server = TestServer::start(Script::new().always(Reply::StallMidBody {
        head: b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n".to_vec(),
        sent: b"hello".to_vec(),
    }))
    .await;
    let client = Client::builder().read_timeout(SHORT).build().unwrap();
    let resp = client.get(server.url("/")).send().await.unwrap();
    let err = resp.bytes().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err:?}");
    assert!(err.request_written() && err.request_fully_written());
    server.wait_until(|s| s.closed_by_client == 1).await;
    assert_eq!(client.stats().open, 0);
}

#[tokio::test]
async fn a_timeout_while_the_body_is_being_written_says_written_but_not_all_of_it() {
    // The server reads the head and then nothing: the upload blocks once the socket
    // buffers are full.
    let server = RawServer::start(|mut stream, _| async move {
        read_head(&mut stream).await;
        tokio::time::sleep(Duration::from_secs(30)).await;
        drop(stream);
    })
    .await;
    let client = Client::new();
    let err = client
        .post(server.url("/upload"))
        .body(vec![b'x'; 32 * 1024 * 1024])
        .timeout(SHORT)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err:?}");
    assert!(err.request_written(), "{err:?}");
    assert!(!err.request_fully_written(), "{err:?}");
    assert_eq!(
        client.stats().open,
        0,
        "the half-written connection is closed"
    );
}

#[tokio::test]
async fn a_timeout_waiting_for_a_connection_says_nothing_was_written() {
    let server = TestServer::start(Script::new().always(Reply::Stall)).await;
    let client = Client::builder()
        .max_connections_per_host(1)
        .build()
        .unwrap();
    let first = tokio::spawn({
        let client = client.clone();
        let url = server.url("/held");
        async move { client.get(url).timeout(Duration::from_secs(5)).send().await }
    });
    server.wait_requests(1).await;
    let err = client
        .post(server.url("/waits"))
        .body("x")
        .timeout(SHORT)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err:?}");
    assert!(
        !err.request_written() && !err.request_fully_written(),
        "{err:?}"
    );
    assert!(!err.connection_reused());
    first.abort();
}

#[tokio::test]
async fn a_write_that_fails_after_part_of_a_response_arrived_is_not_retried() {
    // Connection 0: a GET answered normally (so the connection is reused), then a PUT
    // whose head gets the start of a response head, and then a reset with the body
    // unread. An idempotent request on a reused connection is retried after a close race,
    // but this was no close race: a response had begun.
    let server = RawServer::start(|mut stream, _| async move {
        read_head(&mut stream).await;
        let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
        if stream.write_all(ok).await.is_err() {
            return;
        }
        read_head(&mut stream).await;
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Le").await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        // Closing with the body unread sends a reset.
        drop(stream);
    })
    .await;
    let client = Client::new();
    let warm = client.get(server.url("/")).send().await.unwrap();
    assert_eq!(warm.text().await.unwrap(), "ok");
    let err = client
        .put(server.url("/doc"))
        .body(vec![b'y'; 16 * 1024 * 1024])
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .unwrap_err();
    assert_ne!(err.kind(), ErrorKind::Timeout, "{err:?}");
    assert_ne!(err.kind(), ErrorKind::ClosedBeforeResponse, "{err:?}");
    assert!(err.request_written() && err.connection_reused(), "{err:?}");
    let stats = client.stats();
    assert_eq!(stats.retries_close_race, 0, "{stats:?}");
    assert_eq!(stats.requests_sent, 2);
    assert_eq!(server.accepted(), 1, "no retry on a new connection");
}

#[tokio::test]
async fn an_early_answer_while_the_server_keeps_reading_nothing_is_returned_at_once() {
    // The server answers the head of an upload with 413 and then neither reads nor
    // closes. The answer must reach the caller well before the request timeout.
    let server =
        answers_the_head(b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 8\r\n\r\ntoo big!")
            .await;
    let client = Client::new();
    let resp = client
        .post(server.url("/upload"))
        .body(vec![b'x'; 8 * 1024 * 1024])
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .expect("the 413, not a timeout");
    assert_eq!(resp.status(), 413);
    assert_eq!(resp.text().await.unwrap(), "too big!");
    let stats = client.stats();
    assert_eq!((stats.open, stats.idle), (0, 0), "the connection is closed");
    assert_eq!(stats.requests_sent, 1);
}

#[tokio::test]
async fn an_early_answer_to_a_streamed_upload_that_waits_on_its_source_is_returned() {
    // The body stream yields one chunk and then waits forever; the server answers 401 to
    // the head. The caller gets the 401 while its stream is still pending.
    let server =
        answers_the_head(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 4\r\n\r\nnope").await;
    let client = Client::new();
    let chunks = futures_stream(vec![b"first".to_vec()]);
    let resp = client
        .post(server.url("/upload"))
        .body_stream(chunks)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .expect("the 401, not a timeout");
    assert_eq!(resp.status(), 401);
    assert_eq!(resp.text().await.unwrap(), "nope");
    assert_eq!(client.stats().open, 0);
}

#[tokio::test]
async fn a_body_too_large_for_the_socket_at_once_goes_out_whole_after_the_part_that_fit() {
    // A POST's head and in-memory body go out in one write when the socket takes them;
    // this body (8 MiB) does not while the server reads nothing, so the rest of it waits
    // for the socket. The server must see every byte once, in order.
    let body: Vec<u8> = (0..8u32 << 20).map(|i| (i % 251) as u8).collect();
    let expected = format!("{} {}", body.len(), weighted_sum(&body));
    let server = RawServer::start(|mut stream, _| async move {
        let got = read_late(&mut stream, |got| {
            head_end(got).is_some_and(|end| got.len() >= end + (8 << 20))
        })
        .await;
        let body = head_end(&got)
            .and_then(|end| got.get(end..))
            .unwrap_or_default();
        let text = format!("{} {}", body.len(), weighted_sum(body));
        let _ = stream.write_all(ok_with(&text).as_bytes()).await;
    })
    .await;
    let client = Client::new();
    let resp = client
        .post(server.url("/upload"))
        .body(body)
        .timeout(Duration::from_secs(20))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.text().await.unwrap(), expected);
}

#[tokio::test]
async fn a_head_too_large_for_the_socket_at_once_goes_out_whole_after_the_part_that_fit() {
    // A GET's head is written straight to the socket when it fits; this one (8 MiB of
    // field) does not while the server reads nothing, so the rest waits for the socket.
    // The server must see every byte once, in order.
    let big = "v".repeat(8 << 20);
    let server = RawServer::start(|mut stream, _| async move {
        let head = read_late(&mut stream, |got| got.ends_with(b"\r\n\r\n")).await;
        let text = String::from_utf8_lossy(&head).into_owned();
        let field = text
            .lines()
            .find_map(|l| l.strip_prefix("x-big: "))
            .map_or(0, |v| v.len());
        let ok = text.starts_with("GET /big HTTP/1.1\r\n") && text.ends_with("\r\n\r\n");
        let _ = stream
            .write_all(ok_with(&format!("{field} {ok}")).as_bytes())
            .await;
    })
    .await;
    let client = Client::new();
    let resp = client
        .get(server.url("/big"))
        .header("x-big", big.as_str())
        .timeout(Duration::from_secs(20))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.text().await.unwrap(), format!("{} true", big.len()));
}

/// Waits 200 ms (long enough for the client's socket to fill), then reads until `done`
/// says what arrived is enough, or the peer ends.
async fn read_late(stream: &mut tokio::net::TcpStream, done: impl Fn(&[u8]) -> bool) -> Vec<u8> {
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut got = Vec::new();
    let mut chunk = vec![0u8; 1 << 16];
    while !done(&got) {
        match tokio::io::AsyncReadExt::read(stream, &mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&chunk[..n]),
        }
    }
    got
}

/// Where a request's head ends in `got`, once it has.
fn head_end(got: &[u8]) -> Option<usize> {
    got.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

/// A sum in which every byte counts by its place, so a byte lost, doubled or moved shows.
fn weighted_sum(bytes: &[u8]) -> u64 {
    bytes.iter().enumerate().fold(0u64, |acc, (i, &b)| {
        acc.wrapping_add((i as u64 + 1) * u64::from(b))
    })
}

/// A `200` carrying `text`.
fn ok_with(text: &str) -> String {
    format!(
        "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{text}",
        text.len()
    )
}

/// A server that answers each request's head with `answer` and then reads nothing more,
/// holding the connection until the client closes it.
async fn answers_the_head(answer: &'static [u8]) -> RawServer {
    RawServer::start(move |mut stream, _| async move {
        read_head(&mut stream).await;
        if stream.write_all(answer).await.is_ok() {
            tokio::time::sleep(Duration::from_secs(30)).await;
        }
    })
    .await
}

/// A stream that yields `chunks` and then never ends.
fn futures_stream(
    chunks: Vec<Vec<u8>>,
) -> impl futures_core::Stream<Item = Result<bytes::Bytes, std::io::Error>> + Send + 'static {
    struct Pending(std::collections::VecDeque<Vec<u8>>);
    impl futures_core::Stream for Pending {
        type Item = Result<bytes::Bytes, std::io::Error>;
        fn poll_next(
            mut self: std::pin::Pin<&mut Self>,
            _cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Self::Item>> {
            match self.0.pop_front() {
                Some(c) => std::task::Poll::Ready(Some(Ok(c.into()))),
                None => std::task::Poll::Pending,
            }
        }
    }
    Pending(chunks.into())
}

/// Errors after the server answered the request (from the body, from what the caller asks
/// of the response, or from a later hop of a redirect) say it was written: the server has
/// it.
fn check_answered(e: &tether::Error, kind: ErrorKind) {
    assert_eq!(e.kind(), kind, "{e:?}");
    assert!(e.request_written() && e.request_fully_written(), "{e:?}");
}

/// A client with a small `max_body_bytes`.
fn small_bodies() -> Client {
    Client::builder()
        .timeout(Duration::from_secs(5))
        .max_body_bytes(1_000)
        .build()
        .expect("client")
}

#[tokio::test]
async fn errors_after_the_answer_say_the_request_was_written() {
    let server = TestServer::start(Script::new().respond(|req| match req.target.as_str() {
        "/big" => Reply::ok(vec![b'x'; 100_000]),
        "/big-chunked" => Reply::chunked(vec![b'x'; 100_000], 4_096),
        "/fail" => Reply::status(500),
        _ => Reply::ok("not json"),
    }))
    .await;
    let client = small_bodies();
    let post = |path: &str| client.post(server.url(path)).body("payload").send();

    let e = post("/big").await.expect("head").bytes().await.unwrap_err();
    check_answered(&e, ErrorKind::Body);
    let e = post("/big-chunked")
        .await
        .expect("head")
        .bytes()
        .await
        .unwrap_err();
    check_answered(&e, ErrorKind::Body);
    let e = post("/big").await.expect("head").text().await.unwrap_err();
    check_answered(&e, ErrorKind::Body);
    let e = post("/fail")
        .await
        .expect("head")
        .error_for_status()
        .unwrap_err();
    check_answered(&e, ErrorKind::Status);
    let e = post("/json")
        .await
        .expect("head")
        .json::<Vec<u32>>()
        .await
        .unwrap_err();
    check_answered(&e, ErrorKind::Decode);
    assert_eq!(server.stats().requests, 5);
}

#[tokio::test]
async fn a_redirected_post_that_fails_on_a_later_hop_says_it_was_written() {
    // A port with nothing listening: the redirect's hop cannot connect.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let dead = format!("http://{}/", closed.local_addr().expect("addr"));
    drop(closed);
    let server = TestServer::start(Script::new().respond(move |req| match req.target.as_str() {
        "/away" => Reply::status(307).with_header("location", &dead),
        _ => Reply::status(302).with_header("location", "/loop"),
    }))
    .await;
    let client = small_bodies();
    let post = |path: &str| client.post(server.url(path)).body("payload").send();

    let e = post("/away").await.unwrap_err();
    check_answered(&e, ErrorKind::Connect);
    let e = post("/loop").await.unwrap_err();
    check_answered(&e, ErrorKind::Redirect);
    assert_eq!(server.stats().requests, 3);
}
