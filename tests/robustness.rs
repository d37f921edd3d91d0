//! No panic from anything a server or a caller controls: numbers too large for an
//! `Instant` (a 20-digit `Keep-Alive: timeout`, `Duration::MAX` given to every duration
//! knob) mean "no limit", and so does the largest number given to every limit; a runtime without timers or I/O, or no runtime at all, is a
//! typed error.

mod support;

use std::future::Future;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use support::{Reply, Script, TestServer};
use tether::{Client, ErrorKind};

#[tokio::test]
async fn a_twenty_digit_keep_alive_timeout_and_max_are_no_limit() {
    let server = TestServer::start(Script::new().always(Reply::ok("ok").with_header(
        "Keep-Alive",
        "timeout=99999999999999999999, max=99999999999999999999",
    )))
    .await;
    let client = Client::new();
    for _ in 0..3 {
        let resp = client.get(server.url("/")).send().await.unwrap();
        assert_eq!(resp.text().await.unwrap(), "ok");
    }
    assert_eq!(
        server.stats().accepted,
        1,
        "reused: the terms mean no limit"
    );
    assert_eq!(client.stats().idle, 1);
}

#[tokio::test]
async fn duration_max_on_every_knob_means_no_limit() {
    let server = TestServer::start(Script::new()).await;
    let client = Client::builder()
        .timeout(Duration::MAX)
        .pool_timeout(Duration::MAX)
        .connect_timeout(Duration::MAX)
        .read_timeout(Duration::MAX)
        .idle_timeout(Duration::MAX)
        .max_lifetime(Duration::MAX)
        .drain_timeout(Duration::MAX)
        .keep_alive_margin(Duration::MAX)
        .sweep_interval(Duration::MAX)
        .build()
        .unwrap();
    for path in ["/a", "/b"] {
        let resp = client
            .get(server.url(path))
            .timeout(Duration::MAX)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.text().await.unwrap(), "ok");
    }
    assert_eq!(
        server.stats().accepted,
        1,
        "an endless idle timeout keeps it"
    );
    // A dropped body drains under an endless drain timeout.
    let resp = client.get(server.url("/c")).send().await.unwrap();
    drop(resp);
    let resp = client.get(server.url("/d")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn a_margin_of_duration_max_stops_reuse_before_any_server_timeout() {
    let server = TestServer::start(
        Script::new().always(Reply::ok("ok").with_header("Keep-Alive", "timeout=5")),
    )
    .await;
    let client = Client::builder()
        .keep_alive_margin(Duration::MAX)
        .build()
        .unwrap();
    for _ in 0..2 {
        let resp = client.get(server.url("/")).send().await.unwrap();
        assert_eq!(resp.text().await.unwrap(), "ok");
    }
    assert_eq!(server.stats().accepted, 2);
}

#[tokio::test]
async fn the_largest_number_on_every_limit_knob_means_no_limit() {
    // The head comes in two writes, so that it is also parsed while incomplete (the
    // general parser, with room for `max_headers` fields).
    let server = support::raw::RawServer::start(|mut stream, _| async move {
        use tokio::io::AsyncWriteExt;
        loop {
            if support::raw::read_head(&mut stream).await.is_empty() {
                return;
            }
            let pieces: [&[u8]; 2] = [
                b"HTTP/1.1 200 OK\r\nX-One: 1\r\n",
                b"Content-Length: 2\r\n\r\nok",
            ];
            for piece in pieces {
                if stream.write_all(piece).await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    })
    .await;
    let client = Client::builder()
        .max_headers(usize::MAX)
        .max_head_bytes(usize::MAX)
        .max_connections_per_host(usize::MAX)
        .max_connections_total(usize::MAX)
        .max_idle_per_host(usize::MAX)
        .max_requests_per_connection(u32::MAX)
        .max_retries(u32::MAX)
        .drain_limit(u64::MAX)
        .expect_continue(u64::MAX)
        .max_body_bytes(u64::MAX)
        .build()
        .unwrap();
    for _ in 0..2 {
        let resp = client.get(server.url("/")).send().await.unwrap();
        assert_eq!(resp.headers()["x-one"], "1");
        assert_eq!(resp.text().await.unwrap(), "ok");
    }
    assert_eq!(server.accepted(), 1);
}

/// Runs `client.get(url)` on a runtime made by `build` and returns the error it gives.
fn error_on(runtime: tokio::runtime::Runtime, client: &Client, url: String) -> tether::Error {
    let result = runtime.block_on(async { client.get(url).send().await.map(|r| r.status()) });
    result.expect_err("the request cannot run on this runtime")
}

#[test]
fn a_runtime_without_timers_is_a_typed_error_not_a_panic() {
    let client = Client::new();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .unwrap();
    let err = error_on(runtime, &client, "http://127.0.0.1:9/".into());
    assert_eq!(err.kind(), ErrorKind::Runtime, "{err:?}");
    assert!(err.to_string().contains("timers"), "{err}");
    assert!(!err.request_written());
}

#[test]
fn a_runtime_without_io_is_a_typed_error_not_a_panic() {
    let client = Client::new();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let err = error_on(runtime, &client, "http://127.0.0.1:9/".into());
    assert_eq!(err.kind(), ErrorKind::Runtime, "{err:?}");
    assert!(err.to_string().contains("I/O"), "{err}");
}

#[test]
fn no_runtime_at_all_is_a_typed_error_not_a_panic() {
    let client = Client::new();
    let mut send = std::pin::pin!(client.get("http://127.0.0.1:9/").send());
    let mut cx = Context::from_waker(Waker::noop());
    match send.as_mut().poll(&mut cx) {
        Poll::Ready(Err(err)) => assert_eq!(err.kind(), ErrorKind::Runtime, "{err:?}"),
        Poll::Ready(Ok(resp)) => panic!("answered without a runtime: {resp:?}"),
        Poll::Pending => panic!("pending without a runtime: it would hang"),
    }
}

#[test]
fn a_client_still_works_on_a_full_runtime_after_a_runtime_without_timers() {
    let client = Client::new();
    let bare = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .unwrap();
    let err = error_on(bare, &client, "http://127.0.0.1:9/".into());
    assert_eq!(err.kind(), ErrorKind::Runtime);
    let full = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    full.block_on(async {
        let server = TestServer::start(Script::new()).await;
        let resp = client.get(server.url("/")).send().await.unwrap();
        assert_eq!(resp.text().await.unwrap(), "ok");
    });
}
