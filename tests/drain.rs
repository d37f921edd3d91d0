//! Full drain: a body read to its end gives its connection back at once (see also
//! reuse.rs); a response dropped early is drained in the background and its connection
//! reused when the rest is within `drain_limit` and `drain_timeout`, closed otherwise.

mod support;

use std::time::Duration;

use support::{eventually, Reply, Script, TestServer};
use tether::Client;

/// Much more than one read of the client takes in (its buffer grows by 8 KiB), so most of
/// the body is still on the wire when the head is returned.
const BODY: usize = 100_000;

async fn get_ok(client: &Client, url: String) {
    let resp = client.get(url).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    resp.bytes().await.unwrap();
}

#[tokio::test]
async fn dropped_response_with_a_small_rest_is_drained_and_its_connection_reused() {
    let server = TestServer::start(Script::new().respond(|req| {
        if req.target == "/big" {
            Reply::ok(vec![b'x'; BODY])
        } else {
            Reply::ok("ok")
        }
    }))
    .await;
    let client = Client::new();
    let resp = client.get(server.url("/big")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    drop(resp);
    eventually("the dropped body is drained", || {
        client.stats().bodies_drained == 1
    })
    .await;
    let stats = client.stats();
    assert_eq!(
        (stats.idle, stats.in_use, stats.drains_over_limit),
        (1, 0, 0)
    );
    get_ok(&client, server.url("/next")).await;
    assert_eq!(server.stats().accepted, 1);
    assert_eq!(server.stats().requests_per_conn, vec![2]);
    assert_eq!(client.stats().reuses, 1);
}

#[tokio::test]
async fn dropped_chunked_response_is_drained_and_its_connection_reused() {
    let server = TestServer::start(Script::new().respond(|req| {
        if req.target == "/big" {
            Reply::chunked(vec![b'y'; BODY], 1000)
        } else {
            Reply::ok("ok")
        }
    }))
    .await;
    let client = Client::new();
    drop(client.get(server.url("/big")).send().await.unwrap());
    eventually("the dropped body is drained", || {
        client.stats().bodies_drained == 1
    })
    .await;
    get_ok(&client, server.url("/next")).await;
    assert_eq!(server.stats().accepted, 1);
}

#[tokio::test]
async fn dropped_response_past_the_drain_limit_is_closed_and_not_reused() {
    let server = TestServer::start(Script::new().respond(|req| {
        if req.target == "/big" {
            Reply::ok(vec![b'x'; BODY])
        } else {
            Reply::ok("ok")
        }
    }))
    .await;
    let client = Client::builder().drain_limit(16 * 1024).build().unwrap();
    drop(client.get(server.url("/big")).send().await.unwrap());
    eventually("the drain gives up", || {
        client.stats().drains_over_limit == 1
    })
    .await;
    server.wait_until(|s| s.closed_by_client == 1).await;
    let stats = client.stats();
    assert_eq!((stats.open, stats.idle, stats.bodies_drained), (0, 0, 0));
    get_ok(&client, server.url("/next")).await;
    assert_eq!(server.stats().accepted, 2);
    assert_eq!(server.stats().requests_per_conn, vec![1, 1]);
}

#[tokio::test]
async fn dropped_response_whose_rest_never_comes_is_closed_at_the_drain_timeout() {
    let server = TestServer::start(Script::new().respond(|req| {
        if req.target == "/stall" {
            Reply::StallMidBody {
                head: b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n".to_vec(),
                sent: b"hello".to_vec(),
            }
        } else {
            Reply::ok("ok")
        }
    }))
    .await;
    let client = Client::builder()
        .drain_timeout(Duration::from_millis(50))
        .build()
        .unwrap();
    drop(client.get(server.url("/stall")).send().await.unwrap());
    // The drain waits for the deadline to pass, then closes.
    server.wait_until(|s| s.closed_by_client == 1).await;
    assert_eq!(client.stats().drains_over_limit, 1);
    assert_eq!(client.stats().bodies_drained, 0);
    get_ok(&client, server.url("/next")).await;
    assert_eq!(server.stats().accepted, 2);
}

#[tokio::test]
async fn dropped_response_that_breaks_while_draining_is_closed_without_error() {
    let server = TestServer::start(Script::new().respond(|req| {
        if req.target == "/short" {
            let mut raw = b"HTTP/1.1 200 OK\r\nContent-Length: 200000\r\n\r\n".to_vec();
            raw.extend(std::iter::repeat_n(b'z', 50_000));
            Reply::RawThenClose(raw)
        } else {
            Reply::ok("ok")
        }
    }))
    .await;
    let client = Client::new();
    drop(client.get(server.url("/short")).send().await.unwrap());
    eventually("the broken connection is gone", || client.stats().open == 0).await;
    let stats = client.stats();
    assert_eq!((stats.bodies_drained, stats.drains_over_limit), (0, 0));
    get_ok(&client, server.url("/next")).await;
    assert_eq!(server.stats().accepted, 2);
}
