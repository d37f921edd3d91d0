//! Self-test of the scripted test server in `tests/support/`, driven by a raw
//! `tokio::net::TcpStream` client: reuse and counting, server-side closes (after N
//! responses, idle FIN / 408 / reset), the close race, concurrency counting, other
//! loopback addresses, request bodies (length and chunked), HEAD, bad input, and the
//! server stopping when dropped. It does not test tether itself.

mod support;

use std::time::Duration;

use support::{ConnPolicy, Reply, Script, TestServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A response as the raw client saw it.
#[derive(Debug)]
struct Seen {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Reads one response framed by `Content-Length` (or none: empty body); `head_only`
/// for HEAD requests. `buf` keeps bytes read past the response.
async fn read_response(stream: &mut TcpStream, buf: &mut Vec<u8>, head_only: bool) -> Seen {
    loop {
        let mut slots = [httparse::EMPTY_HEADER; 64];
        let mut resp = httparse::Response::new(&mut slots);
        if let httparse::Status::Complete(len) = resp.parse(buf).expect("valid response head") {
            let headers: Vec<(String, String)> = resp
                .headers
                .iter()
                .map(|h| {
                    (
                        h.name.to_string(),
                        String::from_utf8_lossy(h.value).into_owned(),
                    )
                })
                .collect();
            let status = resp.code.unwrap();
            let body_len = if head_only {
                0
            } else {
                headers
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
                    .map(|(_, v)| v.parse::<usize>().unwrap())
                    .unwrap_or(0)
            };
            while buf.len() < len + body_len {
                let n = stream.read_buf(buf).await.expect("read body");
                assert!(n > 0, "EOF in the middle of a response body");
            }
            let body = buf[len..len + body_len].to_vec();
            buf.drain(..len + body_len);
            return Seen {
                status,
                headers,
                body,
            };
        }
        let n = stream.read_buf(buf).await.expect("read head");
        assert!(n > 0, "EOF before a complete response head");
    }
}

/// Reads until EOF; returns what arrived (errors such as a reset count as the end).
async fn read_to_end(stream: &mut TcpStream) -> (Vec<u8>, std::io::Result<()>) {
    let mut all = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match stream.read(&mut chunk).await {
            Ok(0) => return (all, Ok(())),
            Ok(n) => all.extend_from_slice(&chunk[..n]),
            Err(e) => return (all, Err(e)),
        }
    }
}

fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").into_bytes()
}

#[tokio::test]
async fn default_script_answers_two_requests_on_one_connection() {
    let server = TestServer::start(Script::default()).await;
    let mut client = TcpStream::connect(server.addr()).await.unwrap();
    let mut buf = Vec::new();
    for path in ["/a", "/b"] {
        client.write_all(&get(path)).await.unwrap();
        let seen = read_response(&mut client, &mut buf, false).await;
        assert_eq!(seen.status, 200);
        assert_eq!(seen.body, b"ok");
        assert_eq!(seen.header("content-length"), Some("2"));
        assert_eq!(seen.header("connection"), None);
    }
    let stats = server.stats();
    assert_eq!(stats.accepted, 1);
    assert_eq!(stats.requests, 2);
    assert_eq!(stats.requests_per_conn, vec![2]);
    let requests = server.requests();
    assert_eq!(requests[1].target, "/b");
    assert_eq!(requests[1].index_on_conn, 1);
    assert_eq!(requests[1].seq, 1);
    assert_eq!(requests[1].header("HOST"), Some("test"));
    assert_eq!(requests[0].raw_head, get("/a"));

    drop(client);
    server
        .wait_until(|s| s.closed_by_client == 1 && s.open == 0)
        .await;
}

#[tokio::test]
async fn close_after_one_closes_after_the_first_response() {
    let policy = ConnPolicy {
        close_after: Some(1),
        ..ConnPolicy::default()
    };
    let server = TestServer::start(Script::new().conn_policy(policy)).await;
    let mut client = TcpStream::connect(server.addr()).await.unwrap();
    client.write_all(&get("/")).await.unwrap();
    let mut buf = Vec::new();
    assert_eq!(
        read_response(&mut client, &mut buf, false).await.status,
        200
    );
    let (rest, end) = read_to_end(&mut client).await;
    assert!(rest.is_empty() && end.is_ok(), "expected a clean EOF");
    server
        .wait_until(|s| s.closed_by_server == 1 && s.open == 0)
        .await;
    drop(client);
    server
        .wait_until(|s| s.client_closed_after_server_fin == 1)
        .await;
}

#[tokio::test(start_paused = true)]
async fn idle_408_sends_the_408_then_eof() {
    let policy = ConnPolicy {
        idle_408: Some(Duration::from_secs(5)),
        ..ConnPolicy::default()
    };
    let server = TestServer::start(Script::new().conn_policy(policy)).await;
    let mut client = TcpStream::connect(server.addr()).await.unwrap();
    // One request first: the timer starts again once the connection is idle.
    client.write_all(&get("/")).await.unwrap();
    let mut buf = Vec::new();
    assert_eq!(
        read_response(&mut client, &mut buf, false).await.status,
        200
    );
    let start = tokio::time::Instant::now();
    let (rest, end) = read_to_end(&mut client).await;
    assert!(start.elapsed() >= Duration::from_secs(5));
    assert!(end.is_ok());
    let text = String::from_utf8(rest).unwrap();
    assert!(
        text.starts_with("HTTP/1.1 408 Request Timeout\r\n"),
        "{text}"
    );
    assert!(text.contains("Connection: close\r\n"));
    server.wait_until(|s| s.closed_by_server == 1).await;
}

#[tokio::test(start_paused = true)]
async fn idle_close_and_idle_reset_end_an_idle_connection() {
    let server = TestServer::start(Script::new().per_conn(|conn| ConnPolicy {
        idle_close: (conn == 0).then_some(Duration::from_secs(2)),
        idle_reset: (conn == 1).then_some(Duration::from_secs(2)),
        ..ConnPolicy::default()
    }))
    .await;
    let mut fin = TcpStream::connect(server.addr()).await.unwrap();
    server.wait_until(|s| s.accepted == 1).await;
    let mut rst = TcpStream::connect(server.addr()).await.unwrap();
    let (bytes, end) = read_to_end(&mut fin).await;
    assert!(bytes.is_empty() && end.is_ok());
    let (bytes, end) = read_to_end(&mut rst).await;
    assert!(bytes.is_empty());
    assert_eq!(end.unwrap_err().kind(), std::io::ErrorKind::ConnectionReset);
    server
        .wait_until(|s| s.closed_by_server == 2 && s.resets_sent == 1)
        .await;
}

#[tokio::test]
async fn close_without_answer_records_the_request_and_closes() {
    let script = Script::new().respond(|_| Reply::CloseWithoutAnswer);
    let server = TestServer::start(script).await;
    let mut client = TcpStream::connect(server.addr()).await.unwrap();
    client
        .write_all(b"POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello")
        .await
        .unwrap();
    let (bytes, end) = read_to_end(&mut client).await;
    assert!(bytes.is_empty() && end.is_ok());
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].method, "POST");
    assert_eq!(requests[0].body, b"hello");
    server.wait_until(|s| s.closed_by_server == 1).await;
}

#[tokio::test]
async fn max_open_tracks_two_simultaneous_connections() {
    let server = TestServer::start(Script::default()).await;
    let a = TcpStream::connect(server.addr()).await.unwrap();
    let b = TcpStream::connect(server.addr()).await.unwrap();
    server.wait_until(|s| s.open == 2).await;
    drop(a);
    server.wait_until(|s| s.open == 1).await;
    let c = TcpStream::connect(server.addr()).await.unwrap();
    server.wait_until(|s| s.accepted == 3).await;
    drop((b, c));
    server.wait_until(|s| s.open == 0).await;
    let stats = server.stats();
    assert_eq!(stats.max_open, 2);
    assert_eq!(stats.closed_by_client, 3);
    assert_eq!(stats.requests_per_conn, vec![0, 0, 0]);
}

#[tokio::test]
async fn server_on_127_0_0_2_works() {
    let server = TestServer::start_on("127.0.0.2", Script::default()).await;
    assert_eq!(server.addr().ip().to_string(), "127.0.0.2");
    assert!(server.url("/p").starts_with("http://127.0.0.2:"));
    assert!(server.url("p").ends_with("/p"));
    let mut client = TcpStream::connect(server.addr()).await.unwrap();
    client.write_all(&get("/")).await.unwrap();
    let mut buf = Vec::new();
    assert_eq!(
        read_response(&mut client, &mut buf, false).await.body,
        b"ok"
    );
}

#[tokio::test]
async fn chunked_request_body_is_decoded_even_when_split_across_writes() {
    let server = TestServer::start(Script::new().respond(|req| Reply::ok(req.body.clone()))).await;
    let mut client = TcpStream::connect(server.addr()).await.unwrap();
    let wire: &[u8] = b"PUT /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n\
        5;ext=1\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nX-Trailer: y\r\n\r\n";
    for piece in wire.chunks(7) {
        client.write_all(piece).await.unwrap();
        client.flush().await.unwrap();
        tokio::task::yield_now().await;
    }
    let mut buf = Vec::new();
    let seen = read_response(&mut client, &mut buf, false).await;
    assert_eq!(seen.body, b"hello world");
    let req = &server.requests()[0];
    assert_eq!(req.body, b"hello world");
    assert_eq!(req.header("transfer-encoding"), Some("chunked"));
    assert_eq!(server.stats().leftover_bytes, 0);
}

#[tokio::test]
async fn pipelined_requests_and_head_are_answered_in_order() {
    let server = TestServer::start(Script::new().respond(|req| {
        Reply::chunked(format!("body of {}", req.target), 3)
            .with_header("X-Seq", &req.seq.to_string())
    }))
    .await;
    let mut client = TcpStream::connect(server.addr()).await.unwrap();
    client
        .write_all(b"HEAD /h HTTP/1.1\r\nHost: t\r\n\r\nGET /g HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let head = read_response(&mut client, &mut buf, true).await;
    assert_eq!(head.header("transfer-encoding"), Some("chunked"));
    assert_eq!(head.header("x-seq"), Some("0"));
    // The chunked GET body follows at once, with nothing from the HEAD before it.
    let want = b"HTTP/1.1 200 OK\r\nX-Seq: 1\r\nTransfer-Encoding: chunked\r\n\r\n\
        3\r\nbod\r\n3\r\ny o\r\n3\r\nf /\r\n1\r\ng\r\n0\r\n\r\n";
    while buf.len() < want.len() {
        assert!(client.read_buf(&mut buf).await.unwrap() > 0);
    }
    assert_eq!(String::from_utf8_lossy(&buf), String::from_utf8_lossy(want));
    assert_eq!(server.stats().requests_per_conn, vec![2]);
}

#[tokio::test]
async fn malformed_request_gets_400_and_a_close_without_panicking() {
    let server = TestServer::start(Script::default()).await;
    let mut client = TcpStream::connect(server.addr()).await.unwrap();
    client
        .write_all(b"GET / HTTP/1.1\r\nBad Header\0: x\r\n\r\n")
        .await
        .unwrap();
    let (bytes, _) = read_to_end(&mut client).await;
    assert!(bytes.starts_with(b"HTTP/1.1 400 Bad Request\r\n"));
    let mut big = TcpStream::connect(server.addr()).await.unwrap();
    let mut head = b"GET / HTTP/1.1\r\nX: ".to_vec();
    head.resize(70 * 1024, b'a');
    let _ = big.write_all(&head).await;
    let (bytes, _) = read_to_end(&mut big).await;
    assert!(bytes.starts_with(b"HTTP/1.1 431 "));
    server
        .wait_until(|s| s.bad_requests == 2 && s.requests == 0)
        .await;
}

#[tokio::test]
async fn stall_holds_until_the_client_leaves_and_drop_stops_the_server() {
    let server = TestServer::start(Script::new().sequence(vec![Reply::Stall])).await;
    let mut stalled = TcpStream::connect(server.addr()).await.unwrap();
    stalled.write_all(&get("/stall")).await.unwrap();
    server.wait_until(|s| s.requests == 1).await;
    drop(stalled);
    server
        .wait_until(|s| s.open == 0 && s.closed_by_client == 1)
        .await;

    let mut client = TcpStream::connect(server.addr()).await.unwrap();
    client.write_all(&get("/")).await.unwrap();
    let mut buf = Vec::new();
    assert_eq!(
        read_response(&mut client, &mut buf, false).await.status,
        200
    );
    let addr = server.addr();
    drop(server);
    let (bytes, _) = read_to_end(&mut client).await;
    assert!(bytes.is_empty());
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "listener still open"
    );
}

#[tokio::test(start_paused = true)]
async fn lifetime_is_real_time_so_a_paused_clock_does_not_stop_the_server() {
    let server = TestServer::start(Script::default()).await;
    tokio::time::sleep(Duration::from_secs(600)).await;
    let mut client = TcpStream::connect(server.addr()).await.unwrap();
    client.write_all(&get("/")).await.unwrap();
    let mut buf = Vec::new();
    assert_eq!(
        read_response(&mut client, &mut buf, false).await.status,
        200
    );
}

#[tokio::test]
async fn lifetime_limit_stops_the_server() {
    let script = Script::default().lifetime(Duration::from_millis(200));
    let server = TestServer::start(script).await;
    let mut client = TcpStream::connect(server.addr()).await.unwrap();
    let (bytes, _) = read_to_end(&mut client).await;
    assert!(bytes.is_empty());
    drop(server);
}
