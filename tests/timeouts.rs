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
    assert!(
        err.to_string().contains(&format!(
            "connect to {}:{} timed out",
            addr.ip(),
            addr.port()
        )),
        "{err}"
    );
    let stats = client.stats();
    assert_eq!(stats.connect_errors, 1);
    assert_eq!((stats.open, stats.waiters), (0, 0), "the slot was freed");
}

/// A resolver whose lookups never end.
struct NeverResolves;

impl tether::Resolve for NeverResolves {
    fn resolve(&self, _name: &str) -> tether::Resolving {
        Box::pin(std::future::pending())
    }
}

/// The error of a GET of a name whose lookup never ends, from `client` (with its timeout
/// `request` too, when given).
async fn never_resolving(client: tether::ClientBuilder, request: Option<Duration>) -> String {
    let client = client
        .dns_resolver(std::sync::Arc::new(NeverResolves))
        .build()
        .unwrap();
    let mut get = client.get("http://never.test:8080/");
    if let Some(timeout) = request {
        get = get.timeout(timeout);
    }
    let err = get.send().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err:?}");
    assert!(!err.request_written());
    err.to_string()
}

#[tokio::test]
async fn a_lookup_that_does_not_end_times_out_as_resolving_the_name() {
    let err = never_resolving(Client::builder().connect_timeout(SHORT), None).await;
    assert!(
        err.contains("resolving never.test (to connect to never.test:8080) timed out"),
        "{err}"
    );
}

#[tokio::test]
async fn a_request_whose_time_is_gone_before_it_dials_says_so() {
    // A zero timeout: the deadline has passed by the time the dial begins (the lookup that
    // never ends keeps the dial from finishing inside the timer's grain).
    let err = never_resolving(Client::builder(), Some(Duration::ZERO)).await;
    assert!(
        err.contains("no time was left to connect to never.test:8080"),
        "{err}"
    );
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

/// A connection keeps one timer for its timed reads, left at the deadline it was set to
/// while later deadlines come. The reads of a later request outlast the deadline of an
/// earlier one on the same connection, and of its own earlier reads: each ends only at
/// its own deadline.
#[tokio::test]
async fn a_later_deadline_on_the_same_connection_is_waited_for_in_full() {
    let server = TestServer::start(Script::new().respond(|req| {
        if req.target == "/slow" {
            // 8 bytes, one every 60 ms: about half a second in all.
            Reply::Drip {
                head: b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\n".to_vec(),
                body: b"abcdefgh".to_vec(),
                every: Duration::from_millis(60),
            }
        } else {
            Reply::ok("ok")
        }
    }))
    .await;
    let client = Client::builder()
        .read_timeout(Duration::from_millis(250))
        .build()
        .unwrap();
    let first = client
        .get(server.url("/fast"))
        .timeout(SHORT)
        .send()
        .await
        .unwrap();
    assert_eq!(first.text().await.unwrap(), "ok");
    // Past the first request's deadline (150 ms) and the first read's (250 ms).
    let slow = client
        .get(server.url("/slow"))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .unwrap();
    assert_eq!(slow.text().await.unwrap(), "abcdefgh");
    assert_eq!(server.stats().accepted, 1, "one connection for both");
    assert_eq!(client.stats().reuses, 1);
}

/// An earlier deadline than the one the connection's timer is set to (a short request
/// after a long one) is kept, not the timer's.
#[tokio::test]
async fn an_earlier_deadline_on_the_same_connection_ends_the_read_at_its_own_time() {
    let server = TestServer::start(Script::new().stall_at("/stall")).await;
    let client = Client::new();
    let long = client
        .get(server.url("/fast"))
        .timeout(Duration::from_secs(60))
        .send()
        .await
        .unwrap();
    assert_eq!(long.text().await.unwrap(), "ok");
    let short = client.get(server.url("/stall")).timeout(SHORT).send();
    // Guarded: a read left waiting for the earlier request's 60 s fails here, not hangs.
    let err = tokio::time::timeout(Duration::from_secs(5), short)
        .await
        .expect("the request's own deadline ends it")
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err:?}");
    assert!(err.connection_reused(), "{err:?}");
}
