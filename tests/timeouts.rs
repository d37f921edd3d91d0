//! Deadlines: connect timeout, request timeout (a server that never answers), pool-wait
//! timeout (the host's cap held), and a body that stalls halfway, all as
//! `ErrorKind::Timeout`. Each test waits (real time, briefly) for a deadline to pass; none
//! asserts how long anything took.

mod support;

use std::time::Duration;

use support::raw::listener_that_never_completes_a_connect;
use support::{eventually, Reply, Script, TestServer};
use tether::{Client, ErrorKind};

const SHORT: Duration = Duration::from_millis(150);

#[tokio::test]
async fn connect_that_does_not_complete_times_out() {
    let (addr, _listener, _fillers) = listener_that_never_completes_a_connect().await;
    let client = Client::builder().connect_timeout(SHORT).build().unwrap();
    let err = client
        .get(format!("http://{addr}/"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err:?}");
    assert!(err.is_timeout());
    assert!(!err.request_written());
    let stats = client.stats();
    assert_eq!(stats.connect_errors, 1);
    assert_eq!((stats.open, stats.waiters), (0, 0), "the slot was freed");
}

#[tokio::test]
async fn request_to_a_server_that_never_answers_times_out() {
    let server = TestServer::start(Script::new().always(Reply::Stall)).await;
    let client = Client::new();
    let err = client
        .get(server.url("/"))
        .timeout(SHORT)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err:?}");
    assert_eq!(server.stats().requests, 1);
    // The stalled connection is closed, not pooled.
    server.wait_until(|s| s.closed_by_client == 1).await;
    assert_eq!(client.stats().open, 0);
}

#[tokio::test]
async fn client_wide_timeout_applies_to_every_request() {
    let server = TestServer::start(Script::new().always(Reply::Stall)).await;
    let client = Client::builder().timeout(SHORT).build().unwrap();
    let err = client.get(server.url("/")).send().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err:?}");
}

#[tokio::test]
async fn waiting_for_a_pooled_connection_past_pool_timeout_times_out() {
    let server = TestServer::start(Script::new().respond(|req| {
        if req.target == "/hold" {
            // `Connection: close`: dropped, it closes at once rather than drain.
            Reply::StallMidBody {
                head: b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\n"
                    .to_vec(),
                sent: b"hello".to_vec(),
            }
        } else {
            Reply::ok("ok")
        }
    }))
    .await;
    let client = Client::builder()
        .max_connections_per_host(1)
        .pool_timeout(SHORT)
        .build()
        .unwrap();
    let held = client.get(server.url("/hold")).send().await.unwrap();
    let err = client.get(server.url("/other")).send().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err:?}");
    assert!(!err.request_written());
    assert_eq!(server.stats().accepted, 1);
    assert_eq!(server.stats().requests, 1);
    let stats = client.stats();
    assert_eq!((stats.open, stats.waiters), (1, 0));
    drop(held);
    eventually("the held connection closes", || client.stats().open == 0).await;
    let resp = client.get(server.url("/after")).send().await.unwrap();
    assert_eq!(resp.text().await.unwrap(), "ok");
}

#[tokio::test]
async fn body_that_stalls_halfway_is_bounded_by_the_request_timeout() {
    let server = TestServer::start(Script::new().always(Reply::StallMidBody {
        head: b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n".to_vec(),
        sent: b"hello".to_vec(),
    }))
    .await;
    let client = Client::new();
    let resp = client
        .get(server.url("/"))
        .timeout(SHORT)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let err = resp.bytes().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err:?}");
    server.wait_until(|s| s.closed_by_client == 1).await;
    let stats = client.stats();
    assert_eq!((stats.open, stats.idle), (0, 0));
}

#[tokio::test]
async fn body_read_in_chunks_that_stalls_halfway_times_out() {
    let server = TestServer::start(Script::new().always(Reply::StallMidBody {
        head: b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec(),
        sent: b"5\r\nhello\r\n".to_vec(),
    }))
    .await;
    let client = Client::builder().timeout(SHORT).build().unwrap();
    let mut resp = client.get(server.url("/")).send().await.unwrap();
    let mut got = Vec::new();
    let err = loop {
        match resp.chunk().await {
            Ok(Some(c)) => got.extend_from_slice(&c),
            Ok(None) => panic!("the body cannot end: it stalls"),
            Err(e) => break e,
        }
    };
    assert_eq!(got, b"hello");
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err:?}");
}
