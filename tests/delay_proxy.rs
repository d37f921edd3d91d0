//! Self-test of the delaying proxy in `tests/support/delay.rs`: bytes, the FIN and a reset
//! each reach the other side, in order, and no sooner than the one-way delay. Only lower
//! bounds on time are checked: a loaded machine can make the proxy slower, never faster.

mod support;

use std::time::Duration;

use support::delay::DelayProxy;
use support::raw::{read_head, RawServer};
use support::{Script, TestServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

const ONE_WAY: Duration = Duration::from_millis(60);

#[tokio::test]
async fn a_request_through_the_proxy_takes_a_round_trip() {
    let server = TestServer::start(Script::new()).await;
    let proxy = DelayProxy::start(server.addr(), ONE_WAY).await;
    let client = tether::Client::new();
    // The first request also pays for the connection; the second is one round trip.
    let warm = client.get(proxy.url("/a")).send().await.unwrap();
    assert_eq!(warm.text().await.unwrap(), "ok");
    let started = Instant::now();
    let resp = client.get(proxy.url("/b")).send().await.unwrap();
    assert_eq!(resp.text().await.unwrap(), "ok");
    let took = started.elapsed();
    assert!(took >= 2 * ONE_WAY, "{took:?}");
    assert_eq!(server.stats().requests, 2);
    assert_eq!(
        server.stats().accepted,
        1,
        "one connection through the proxy"
    );
}

#[tokio::test]
async fn the_fin_arrives_after_the_bytes_and_no_sooner_than_the_delay() {
    let server = RawServer::start(|mut stream, _| async move {
        let _ = stream.write_all(b"hello").await;
        // Dropped: a FIN right after the bytes.
    })
    .await;
    let proxy = DelayProxy::start(server.addr(), ONE_WAY).await;
    let started = Instant::now();
    let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
    let mut got = Vec::new();
    stream.read_to_end(&mut got).await.unwrap();
    assert_eq!(got, b"hello");
    assert!(started.elapsed() >= ONE_WAY, "{:?}", started.elapsed());
}

#[tokio::test]
async fn a_reset_is_passed_on_as_a_reset() {
    let server = RawServer::start(|mut stream, _| async move {
        read_head(&mut stream).await;
        let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
        drop(stream);
    })
    .await;
    let proxy = DelayProxy::start(server.addr(), ONE_WAY).await;
    let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
    let started = Instant::now();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 64];
    let read = stream.read(&mut buf).await;
    let err = read.expect_err("a reset, not an answer or a clean end");
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset, "{err:?}");
    // The request went one way, the reset came back the other.
    assert!(started.elapsed() >= 2 * ONE_WAY, "{:?}", started.elapsed());
}

#[tokio::test]
async fn the_client_closing_reaches_the_server_late_too() {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let server = RawServer::start(move |mut stream, _| {
        let tx = tx.clone();
        async move {
            let mut rest = Vec::new();
            let _ = stream.read_to_end(&mut rest).await;
            let _ = tx.send((rest, Instant::now()));
        }
    })
    .await;
    let proxy = DelayProxy::start(server.addr(), ONE_WAY).await;
    let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
    stream.write_all(b"bye").await.unwrap();
    let closed = Instant::now();
    drop(stream);
    let (rest, seen) = rx.recv().await.unwrap();
    assert_eq!(rest, b"bye");
    assert!(seen.duration_since(closed) >= ONE_WAY - Duration::from_millis(1));
}
