//! Connection reuse: HTTP/1.1 persistence, HTTP/1.0 keep-alive, `Keep-Alive: timeout, max`,
//! close-delimited bodies, and returning a connection at the moment its body ends.

mod support;

use std::time::Duration;

use support::{Reply, Script, TestServer};

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
async fn http10_with_transfer_encoding_is_never_reused() {
    // RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message means faulty framing; the
    // body is read as chunked, and the connection is closed after it, keep-alive or not.
    let server = TestServer::start(Script::new().always(
        Reply::http10("chunked in 1.0", true).with_framing(support::BodyMode::Chunked { chunk: 4 }),
    ))
    .await;
    let client = tether::Client::new();
    for _ in 0..3 {
        let resp = client.get(server.url("/")).send().await.unwrap();
        assert_eq!(resp.version(), http::Version::HTTP_10);
        assert!(resp.headers().contains_key("transfer-encoding"));
        assert_eq!(resp.text().await.unwrap(), "chunked in 1.0");
    }
    assert_eq!(server.stats().accepted, 3, "a connection per response");
    assert_eq!(client.stats().reuses, 0);
    server.wait_until(|s| s.closed_by_client == 3).await;
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
    // As Apache does: each connection takes 3 requests, and each response says how many
    // more it will take (max=2, max=1, max=0). The server itself would keep going.
    let server = TestServer::start(Script::new().respond(|req| {
        let max = 2usize.saturating_sub(req.index_on_conn);
        Reply::ok("ok").with_header("Keep-Alive", &format!("timeout=30, max={max}"))
    }))
    .await;
    let client = tether::Client::new();
    for _ in 0..7 {
        let resp = client.get(server.url("/")).send().await.unwrap();
        assert_eq!(resp.text().await.unwrap(), "ok");
    }
    assert_eq!(server.stats().requests_per_conn, vec![3, 3, 1]);
    let stats = client.stats();
    assert_eq!(stats.expired_server_max, 2);
    assert_eq!(stats.reuses, 4);
    assert_eq!(stats.retries_close_race, 0);
    // Closed by the client after the last allowed response.
    server.wait_until(|s| s.closed_by_client == 2).await;
}

#[tokio::test]
async fn keep_alive_max_said_once_is_counted_down_by_the_client() {
    // Only the first response of a connection says max=2: two more requests, then close.
    let server = TestServer::start(Script::new().respond(|req| {
        if req.index_on_conn == 0 {
            Reply::ok("ok").with_header("Keep-Alive", "timeout=30, max=2")
        } else {
            Reply::ok("ok")
        }
    }))
    .await;
    let client = tether::Client::new();
    for _ in 0..4 {
        let resp = client.get(server.url("/")).send().await.unwrap();
        assert_eq!(resp.text().await.unwrap(), "ok");
    }
    assert_eq!(server.stats().requests_per_conn, vec![3, 1]);
    assert_eq!(client.stats().expired_server_max, 1);
}

#[tokio::test]
async fn idle_connections_are_reused_freshest_first() {
    // Two connections go idle one after the other; the next request takes the one that
    // went idle last. The bodies trickle in, so neither is complete when its head is
    // returned: each goes idle when its body is read.
    let server = TestServer::start(Script::new().respond(|req| {
        if req.target == "/hold" {
            Reply::Drip {
                head: b"HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n".to_vec(),
                body: vec![b'd'; 20],
                every: Duration::from_millis(2),
            }
        } else {
            Reply::ok("ok")
        }
    }))
    .await;
    let client = tether::Client::new();
    let first = client.get(server.url("/hold")).send().await.unwrap();
    let second = client.get(server.url("/hold")).send().await.unwrap();
    assert_eq!(server.stats().accepted, 2);
    assert_eq!(first.bytes().await.unwrap().len(), 20);
    assert_eq!(second.bytes().await.unwrap().len(), 20);
    let resp = client.get(server.url("/next")).send().await.unwrap();
    assert_eq!(resp.text().await.unwrap(), "ok");
    let next = server
        .requests()
        .into_iter()
        .find(|r| r.target == "/next")
        .unwrap();
    assert_eq!(next.conn, 1, "the connection released last is reused first");
}

#[tokio::test]
async fn a_request_that_says_connection_close_does_not_leave_its_connection_idle() {
    // The script's server keeps every connection open whatever the request says: only the
    // client's reading of its own `Connection` header closes this one.
    let server = TestServer::start(Script::new()).await;
    let client = tether::Client::new();
    let resp = client
        .get(server.url("/"))
        .header("Connection", "close")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.text().await.unwrap(), "ok");
    assert_eq!(client.stats().idle, 0, "not kept after asking to close");
    let resp = client.get(server.url("/")).send().await.unwrap();
    assert_eq!(resp.text().await.unwrap(), "ok");
    assert_eq!(client.stats().connections_opened, 2);
    assert_eq!(
        client.stats().idle,
        1,
        "a plain request's connection is kept"
    );
}
