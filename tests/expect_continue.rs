//! `expect_continue(threshold)`: large bodies go with `Expect: 100-continue` and wait for
//! the server's word, against raw servers on 127.0.0.1 that answer `100`, answer finally
//! first, or say nothing at all.
//!
//! The servers watch for early body bytes for 200 or 300 ms, well inside the client's 1 s
//! wait, so a slow machine cannot make a correct client look wrong.

mod support;

use std::time::Duration;

use support::raw::{read_head, read_to_close, RawServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

const BODY: usize = 64 * 1024;

/// What a server saw of one request.
#[derive(Debug)]
struct Seen {
    head: String,
    /// Body bytes that came before the server said anything.
    before_word: usize,
    /// Body bytes in all.
    body: usize,
}

fn head_text(got: &[u8]) -> (String, usize) {
    let end = got
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(got.len(), |p| p + 4);
    (
        String::from_utf8_lossy(&got[..end]).into_owned(),
        got.len() - end,
    )
}

/// Reads until `want` more bytes arrived (or the peer closes).
async fn read_exactly(stream: &mut TcpStream, want: usize) -> usize {
    let mut got = 0;
    let mut buf = vec![0u8; 16 * 1024];
    while got < want {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
    }
    got
}

/// Bytes that arrive within `wait`.
async fn bytes_within(stream: &mut TcpStream, wait: Duration) -> usize {
    let mut buf = vec![0u8; 16 * 1024];
    match tokio::time::timeout(wait, stream.read(&mut buf)).await {
        Ok(Ok(n)) => n,
        _ => 0,
    }
}

fn client(threshold: u64) -> tether::Client {
    tether::Client::builder()
        .expect_continue(threshold)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

#[tokio::test]
async fn the_body_waits_for_100_continue_then_goes() {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let server = RawServer::start(move |mut stream, _| {
        let tx = tx.clone();
        async move {
            let (head, extra) = head_text(&read_head(&mut stream).await);
            let before_word = extra + bytes_within(&mut stream, Duration::from_millis(200)).await;
            let _ = stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await;
            let body = before_word + read_exactly(&mut stream, BODY - before_word).await;
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                .await;
            let _ = tx.send(Seen {
                head,
                before_word,
                body,
            });
            read_to_close(&mut stream).await;
        }
    })
    .await;
    let client = client(1024);
    let resp = client
        .put(server.url("/upload"))
        .body(vec![b'u'; BODY])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "ok");
    let seen = rx.recv().await.unwrap();
    assert!(
        seen.head.contains("expect: 100-continue\r\n"),
        "{}",
        seen.head
    );
    assert_eq!(seen.before_word, 0, "the body went before the 100");
    assert_eq!(seen.body, BODY);
    // The exchange completed: the connection is kept.
    assert_eq!(client.stats().idle, 1);
}

#[tokio::test]
async fn a_final_answer_first_is_returned_and_the_body_never_sent() {
    // (A `417` is asked again without the expectation: the next test.)
    for (status, reason) in [(401, "Unauthorized"), (413, "Content Too Large")] {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let server = RawServer::start(move |mut stream, _| {
            let tx = tx.clone();
            async move {
                let (head, extra) = head_text(&read_head(&mut stream).await);
                let answer = format!("HTTP/1.1 {status} {reason}\r\nContent-Length: 0\r\n\r\n");
                let _ = stream.write_all(answer.as_bytes()).await;
                // Whatever comes after, until the client closes.
                let body = extra + read_to_close(&mut stream).await;
                let _ = tx.send(Seen {
                    head,
                    before_word: extra,
                    body,
                });
            }
        })
        .await;
        let client = client(1024);
        let resp = client
            .post(server.url("/upload"))
            .body(vec![b'p'; BODY])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), status);
        drop(resp);
        let seen = rx.recv().await.unwrap();
        assert_eq!(seen.body, 0, "{status}: the body was sent");
        // The request promised a body it did not send: the connection is closed.
        let stats = client.stats();
        assert_eq!((stats.open, stats.idle), (0, 0), "{stats:?}");
    }
}

#[tokio::test]
async fn a_417_is_answered_by_sending_again_without_the_expectation() {
    // RFC 9110 §10.1.1: the request was not processed, and is repeated without
    // `Expect: 100-continue`, its body at once. A POST, so this is no ordinary retry.
    let (tx, mut rx) = mpsc::unbounded_channel();
    let server = RawServer::start(move |mut stream, _| {
        let tx = tx.clone();
        async move {
            let (head, extra) = head_text(&read_head(&mut stream).await);
            if head.to_ascii_lowercase().contains("expect: 100-continue") {
                let _ = stream
                    .write_all(b"HTTP/1.1 417 Expectation Failed\r\nContent-Length: 0\r\n\r\n")
                    .await;
                let body = extra + read_to_close(&mut stream).await;
                let _ = tx.send(Seen {
                    head,
                    before_word: extra,
                    body,
                });
                return;
            }
            let body = extra + read_exactly(&mut stream, BODY - extra).await;
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                .await;
            let _ = tx.send(Seen {
                head,
                before_word: extra,
                body,
            });
        }
    })
    .await;
    let client = client(1024);
    let resp = client
        .post(server.url("/upload"))
        .body(vec![b'p'; BODY])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "ok");
    let first = rx.recv().await.unwrap();
    assert!(first
        .head
        .to_ascii_lowercase()
        .contains("expect: 100-continue"));
    assert_eq!(first.body, 0, "the body went with the expectation");
    let second = rx.recv().await.unwrap();
    assert!(
        !second.head.to_ascii_lowercase().contains("expect:"),
        "{}",
        second.head
    );
    assert!(second.head.starts_with("POST /upload HTTP/1.1\r\n"));
    assert_eq!(second.body, BODY);
    assert_eq!(client.stats().retries_without_expectation, 1);
}

#[tokio::test]
async fn a_server_that_says_nothing_gets_the_body_after_a_second() {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let server = RawServer::start(move |mut stream, _| {
        let tx = tx.clone();
        async move {
            let (head, extra) = head_text(&read_head(&mut stream).await);
            let started = tokio::time::Instant::now();
            let before_word = extra + bytes_within(&mut stream, Duration::from_millis(300)).await;
            let body = before_word + read_exactly(&mut stream, BODY - before_word).await;
            let waited = started.elapsed();
            let _ = stream
                .write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")
                .await;
            let _ = tx.send((
                Seen {
                    head,
                    before_word,
                    body,
                },
                waited,
            ));
        }
    })
    .await;
    let resp = client(1024)
        .post(server.url("/old"))
        .body(vec![b'o'; BODY])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.text().await.unwrap(), "ok");
    let (seen, waited) = rx.recv().await.unwrap();
    assert_eq!(seen.before_word, 0, "the body did not wait");
    assert_eq!(seen.body, BODY);
    assert!(waited >= Duration::from_millis(300), "{waited:?}");
}

#[tokio::test]
async fn small_bodies_and_clients_without_the_setting_send_no_expect() {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let server = RawServer::start(move |mut stream, _| {
        let tx = tx.clone();
        async move {
            loop {
                let got = read_head(&mut stream).await;
                if got.is_empty() {
                    return;
                }
                let (head, extra) = head_text(&got);
                let len: usize = head
                    .lines()
                    .find_map(|l| {
                        let (name, value) = l.split_once(':')?;
                        name.eq_ignore_ascii_case("content-length")
                            .then(|| value.trim())
                    })
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                let body = extra + read_exactly(&mut stream, len.saturating_sub(extra)).await;
                let _ = tx.send(Seen {
                    head,
                    before_word: extra,
                    body,
                });
                let _ = stream
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                    .await;
            }
        }
    })
    .await;
    let with = client(1024);
    let without = tether::Client::new();
    for (client, size, expect) in [
        (&with, 1023, false),
        (&with, 1024, true),
        (&without, BODY, false),
    ] {
        let resp = client
            .post(server.url("/"))
            .body(vec![b's'; size])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.text().await.unwrap(), "ok");
        let seen = rx.recv().await.unwrap();
        assert_eq!(
            seen.head.contains("expect: 100-continue"),
            expect,
            "{size}: {}",
            seen.head
        );
        assert_eq!(seen.body, size);
    }
}

#[tokio::test]
async fn a_303_to_a_get_sends_no_expectation() {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let server = RawServer::start(move |mut stream, _| {
        let tx = tx.clone();
        async move {
            let (head, _) = head_text(&read_head(&mut stream).await);
            let answer = if head.starts_with("POST") {
                "HTTP/1.1 303 See Other\r\nLocation: /done\r\nContent-Length: 0\r\n\r\n"
            } else {
                "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
            };
            let _ = stream.write_all(answer.as_bytes()).await;
            let _ = tx.send(head);
            read_to_close(&mut stream).await;
        }
    })
    .await;
    let client = client(1024);
    let resp = client
        .post(server.url("/upload"))
        .body(vec![b'p'; BODY])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.text().await.unwrap(), "ok");
    let first = rx.recv().await.unwrap().to_ascii_lowercase();
    assert!(first.contains("expect: 100-continue"), "{first}");
    let second = rx.recv().await.unwrap().to_ascii_lowercase();
    assert!(second.starts_with("get /done"), "{second}");
    assert!(
        !second.contains("expect:"),
        "a request without content expects nothing (RFC 9110 §10.1.1): {second}"
    );
}
