//! Server-side FIN and stale connections: an idle connection the server closed (FIN) or
//! spoke on unasked (a `408` before closing) is found before reuse and replaced without
//! an error; the background sweep closes such connections, and expired ones, without any
//! request, and forgets hosts with nothing left.

mod support;

use std::time::Duration;

use support::elsewhere::Elsewhere;
use support::{eventually, ConnPolicy, Script, TestServer};
use tether::Client;

async fn get_ok(client: &Client, url: String) {
    let resp = client.get(url).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "ok");
}

/// Every connection is closed by the server once idle this long.
const SERVER_IDLE: Duration = Duration::from_millis(30);

fn idle_close() -> Script {
    Script::new().conn_policy(ConnPolicy {
        idle_close: Some(SERVER_IDLE),
        ..ConnPolicy::default()
    })
}

fn idle_408() -> Script {
    Script::new().conn_policy(ConnPolicy {
        idle_408: Some(SERVER_IDLE),
        ..ConnPolicy::default()
    })
}

/// One host left, with nothing open but the idle timeout learned from its server's close.
fn learned_only(stats: &tether::Stats) -> bool {
    matches!(&stats.hosts[..], [h] if h.open == 0 && h.idle == 0 && h.learned_idle_timeout.is_some())
}

#[tokio::test]
async fn idle_conn_closed_by_server_is_not_reused() {
    let server = TestServer::start(idle_close()).await;
    let client = Client::new();
    get_ok(&client, server.url("/")).await;
    server.wait_until(|s| s.closed_by_server == 1).await;
    get_ok(&client, server.url("/")).await;
    let stats = client.stats();
    assert_eq!(stats.idle_closed_by_server, 1);
    assert_eq!(stats.connections_opened, 2);
    assert_eq!(stats.reuses, 0);
    assert_eq!(
        stats.retries_close_race + stats.retries_nothing_written,
        0,
        "found before the request, not by a failed attempt"
    );
    let s = server.stats();
    assert_eq!(s.accepted, 2);
    assert_eq!(s.requests_per_conn, vec![1, 1]);
    // The dead connection was closed on the client's side too.
    server
        .wait_until(|s| s.client_closed_after_server_fin == 1)
        .await;
}

/// Blocks this thread (and so the runtime on it, which then looks at no events) until the
/// server has closed `closed` connections, and a little more for the FIN to land.
fn block_until_server_closed(server: &TestServer, closed: usize) {
    let start = std::time::Instant::now();
    while server.stats().closed_by_server < closed {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the server never closed"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(20));
}

/// A FIN that arrived while the runtime was not looking: no readiness shows it yet. A GET
/// (retried on a new connection should its connection be closed) trusts the quiet watch
/// without a system call, meets the closed connection and is retried; a POST (never
/// retried there) has the socket asked, which finds the FIN before anything is sent. Two
/// servers, two hosts: what the client learns from the GET's close race would otherwise
/// expire the POST's connection before any probe.
#[tokio::test]
async fn a_fin_the_runtime_has_not_seen_costs_a_get_a_retry_and_a_post_nothing() {
    let elsewhere = Elsewhere::new();
    let for_get = elsewhere.server(idle_close()).await;
    let for_post = elsewhere.server(idle_close()).await;
    let client = Client::new();
    get_ok(&client, for_get.url("/")).await;
    block_until_server_closed(&for_get, 1);
    get_ok(&client, for_get.url("/")).await;
    let stats = client.stats();
    assert_eq!(stats.retries_close_race, 1, "{stats:?}");
    assert_eq!(stats.idle_closed_by_server, 0, "{stats:?}");
    assert_eq!(stats.connections_opened, 2);
    assert_eq!(for_get.stats().accepted, 2);

    get_ok(&client, for_post.url("/")).await;
    block_until_server_closed(&for_post, 1);
    let resp = client
        .post(for_post.url("/"))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "ok");
    let stats = client.stats();
    assert_eq!(
        stats.retries_close_race, 1,
        "no retry for the POST: {stats:?}"
    );
    assert_eq!(stats.idle_closed_by_server, 1, "{stats:?}");
    assert_eq!(stats.connections_opened, 4);
    assert_eq!(for_post.stats().requests_per_conn, vec![1, 1]);
}

#[tokio::test]
async fn idle_conn_that_got_an_unsolicited_408_is_not_reused_and_the_408_is_not_seen() {
    let server = TestServer::start(idle_408()).await;
    let client = Client::new();
    get_ok(&client, server.url("/")).await;
    server.wait_until(|s| s.closed_by_server == 1).await;
    // `get_ok` checks the answer is the 200 of a new connection.
    get_ok(&client, server.url("/")).await;
    let stats = client.stats();
    assert_eq!(stats.unsolicited_responses, 1);
    assert_eq!(stats.idle_closed_by_server, 0);
    assert_eq!(stats.retries_408, 0);
    assert_eq!(server.stats().accepted, 2);
    assert_eq!(server.stats().requests_per_conn, vec![1, 1]);
}

#[tokio::test]
async fn idle_conn_reset_by_server_is_not_reused() {
    let server = TestServer::start(Script::new().conn_policy(ConnPolicy {
        idle_reset: Some(SERVER_IDLE),
        ..ConnPolicy::default()
    }))
    .await;
    let client = Client::new();
    get_ok(&client, server.url("/")).await;
    server.wait_until(|s| s.resets_sent == 1).await;
    get_ok(&client, server.url("/")).await;
    assert_eq!(client.stats().idle_closed_by_server, 1);
    assert_eq!(server.stats().accepted, 2);
}

#[tokio::test]
async fn sweep_closes_idle_conns_the_server_closed_without_any_request() {
    let server = TestServer::start(idle_close()).await;
    let client = Client::builder()
        .sweep_interval(Duration::from_millis(20))
        .build()
        .unwrap();
    get_ok(&client, server.url("/")).await;
    get_ok(&client, server.url("/")).await;
    assert_eq!(client.stats().idle, 1);
    server.wait_until(|s| s.closed_by_server == 1).await;
    // No request: the sweep finds the FIN and closes our side (no CLOSE_WAIT).
    server
        .wait_until(|s| s.client_closed_after_server_fin == 1)
        .await;
    eventually("the connection is closed", || client.stats().open == 0).await;
    let stats = client.stats();
    assert_eq!((stats.open, stats.idle), (0, 0));
    assert_eq!(stats.idle_closed_by_server, 1);
    // The host stays known, with nothing open, for the idle timeout it taught.
    assert!(learned_only(&stats), "{stats:?}");
    assert_eq!(server.stats().accepted, 1);
}

#[tokio::test]
async fn sweep_closes_idle_conns_that_got_an_unsolicited_408() {
    let server = TestServer::start(idle_408()).await;
    let client = Client::builder()
        .sweep_interval(Duration::from_millis(20))
        .build()
        .unwrap();
    get_ok(&client, server.url("/")).await;
    server.wait_until(|s| s.closed_by_server == 1).await;
    // Closing a socket with unread bytes (the 408) sends a reset, which the server's
    // counters do not tell from a vanished client: watch the client's side instead.
    eventually("the connection is closed", || client.stats().open == 0).await;
    let stats = client.stats();
    assert_eq!(stats.unsolicited_responses, 1);
    assert_eq!((stats.open, stats.idle), (0, 0));
    assert!(learned_only(&stats), "{stats:?}");
}

#[tokio::test]
async fn sweep_closes_expired_idle_conns_and_forgets_their_hosts() {
    let a = TestServer::start_on("127.0.0.1", Script::new()).await;
    let b = TestServer::start_on("127.0.0.2", Script::new()).await;
    let client = Client::builder()
        .idle_timeout(Duration::from_millis(40))
        .sweep_interval(Duration::from_millis(20))
        .build()
        .unwrap();
    get_ok(&client, a.url("/")).await;
    get_ok(&client, b.url("/")).await;
    assert_eq!(client.stats().hosts.len(), 2);
    // The client, not the server, ends them.
    a.wait_until(|s| s.closed_by_client == 1).await;
    b.wait_until(|s| s.closed_by_client == 1).await;
    eventually("both hosts are forgotten", || {
        client.stats().hosts.is_empty()
    })
    .await;
    let stats = client.stats();
    assert_eq!((stats.open, stats.idle), (0, 0));
    assert_eq!(stats.expired_idle_timeout, 2);
    assert_eq!(a.stats().closed_by_server + b.stats().closed_by_server, 0);
}

#[tokio::test]
async fn sweep_keeps_live_idle_conns() {
    let server = TestServer::start(Script::new()).await;
    let client = Client::builder()
        .sweep_interval(Duration::from_millis(5))
        .build()
        .unwrap();
    get_ok(&client, server.url("/")).await;
    assert_eq!(client.stats().idle, 1);
    // Several sweeps run over the idle connection as tokio's clock is moved on.
    tokio::time::pause();
    for _ in 0..10 {
        tokio::time::advance(Duration::from_millis(5)).await;
    }
    tokio::time::resume();
    get_ok(&client, server.url("/")).await;
    assert_eq!(server.stats().accepted, 1);
    assert_eq!(client.stats().reuses, 1);
}

#[tokio::test]
async fn a_connection_handed_straight_to_a_waiter_is_probed_first() {
    // The server answers the first request with a framed body and then closes (FIN)
    // without saying so. Released at the body's end, the connection goes straight to the
    // request waiting at the cap of 1, without idling: that request must see the FIN and
    // open a new connection, rather than send a POST into a closed one.
    let mut first = b"HTTP/1.1 200 OK\r\nContent-Length: 32768\r\n\r\n".to_vec();
    first.extend_from_slice(&[b'a'; 32768]);
    let server = TestServer::start(Script::new().sequence(vec![
        support::Reply::RawThenClose(first),
        support::Reply::ok("ok"),
    ]))
    .await;
    let client = Client::builder()
        .max_connections_per_host(1)
        .build()
        .unwrap();
    let held = client.get(server.url("/first")).send().await.unwrap();
    let waiting = tokio::spawn({
        let client = client.clone();
        let url = server.url("/second");
        async move { client.post(url).body("once").send().await }
    });
    eventually("the second request waits", || client.stats().waiters == 1).await;
    server.wait_until(|s| s.closed_by_server == 1).await;
    assert_eq!(held.bytes().await.unwrap().len(), 32768);
    let resp = waiting
        .await
        .unwrap()
        .expect("the POST went out on a new connection");
    assert_eq!(resp.text().await.unwrap(), "ok");
    let stats = client.stats();
    assert_eq!(stats.idle_closed_by_server, 1, "{stats:?}");
    assert_eq!(stats.retries_close_race, 0);
    assert_eq!(server.stats().accepted, 2);
}

#[tokio::test]
async fn a_post_sent_at_once_after_a_response_the_server_closed_behind_goes_out_on_a_new_connection(
) {
    // The server answers and closes (FIN) without saying so; the client's next request, a
    // POST sent the moment the body is read, finds the connection it would reuse idle for
    // microseconds. The probe at checkout may answer from the runtime's readiness then,
    // and that readiness must carry the FIN: the POST must not go into the closed
    // connection, where it could only fail.
    for round in 0..20 {
        let server = TestServer::start(Script::new().sequence(vec![
            support::Reply::RawThenClose(
                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".to_vec(),
            ),
            support::Reply::ok("ok"),
        ]))
        .await;
        let client = Client::new();
        get_ok(&client, server.url("/first")).await;
        let resp = client
            .post(server.url("/second"))
            .body("once")
            .send()
            .await
            .unwrap_or_else(|e| panic!("round {round}: the POST was lost: {e}"));
        assert_eq!(resp.text().await.unwrap(), "ok");
        let stats = client.stats();
        assert_eq!(stats.idle_closed_by_server, 1, "round {round}: {stats:?}");
        assert_eq!(stats.retries_close_race, 0, "round {round}");
        assert_eq!(server.stats().accepted, 2, "round {round}");
    }
}
