//! `Keep-Alive: timeout=N` (RFC 9112 §9.3 leaves persistence to the peers; the header is the
//! server's word): the client stops reusing a connection once it has been idle N seconds
//! less `keep_alive_margin`, and N at or below the margin means it is never reused.
//! `max=M` is in reuse.rs.
//!
//! These tests run on tokio's paused clock (the pool reads time through it) and move it
//! with `advance`; the sockets are real. The only timer while they run is the pool's sweep.

mod support;

use std::time::Duration;

use support::{Reply, Script, TestServer};
use tether::Client;

fn keep_alive(value: &'static str) -> Script {
    Script::new().always(Reply::ok("ok").with_header("Keep-Alive", value))
}

async fn get_ok(client: &Client, server: &TestServer) {
    let resp = client.get(server.url("/")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "ok");
}

#[tokio::test(start_paused = true)]
async fn conn_is_reused_before_the_server_timeout_less_the_margin() {
    let server = TestServer::start(keep_alive("timeout=2")).await;
    let client = Client::new();
    get_ok(&client, &server).await;
    tokio::time::advance(Duration::from_millis(900)).await;
    get_ok(&client, &server).await;
    assert_eq!(client.stats().reuses, 1);
    assert_eq!(server.stats().accepted, 1);
}

#[tokio::test(start_paused = true)]
async fn conn_is_not_reused_after_the_server_timeout_less_the_margin() {
    let server = TestServer::start(keep_alive("timeout=2")).await;
    let client = Client::new();
    get_ok(&client, &server).await;
    // timeout=2 less the 1 s margin: after 1 s idle the client ends it, before the server.
    tokio::time::advance(Duration::from_millis(1100)).await;
    get_ok(&client, &server).await;
    let stats = client.stats();
    assert_eq!(stats.reuses, 0);
    assert_eq!(stats.expired_server_timeout, 1);
    assert_eq!(stats.retries_close_race, 0);
    let s = server.stats();
    assert_eq!(s.accepted, 2);
    assert_eq!(s.requests_per_conn, vec![1, 1]);
    // Closed by the client, not left for the server to close.
    server.wait_until(|s| s.closed_by_client == 1).await;
    assert_eq!(server.stats().closed_by_server, 0);
}

#[tokio::test(start_paused = true)]
async fn idle_time_counts_from_the_last_response_not_from_the_first() {
    let server = TestServer::start(keep_alive("timeout=2")).await;
    let client = Client::new();
    get_ok(&client, &server).await;
    for _ in 0..3 {
        tokio::time::advance(Duration::from_millis(800)).await;
        get_ok(&client, &server).await;
    }
    // 2.4 s since the first response, never more than 0.8 s idle: one connection.
    assert_eq!(server.stats().accepted, 1);
    assert_eq!(client.stats().reuses, 3);
}

#[tokio::test(start_paused = true)]
async fn keep_alive_margin_is_configurable() {
    let server = TestServer::start(keep_alive("timeout=2")).await;
    let client = Client::builder()
        .keep_alive_margin(Duration::from_millis(500))
        .build()
        .unwrap();
    get_ok(&client, &server).await;
    tokio::time::advance(Duration::from_millis(1400)).await;
    get_ok(&client, &server).await;
    assert_eq!(server.stats().accepted, 1, "1.4 s < 2 s - 0.5 s: reused");
    tokio::time::advance(Duration::from_millis(1600)).await;
    get_ok(&client, &server).await;
    assert_eq!(
        server.stats().accepted,
        2,
        "1.6 s > 2 s - 0.5 s: not reused"
    );
}

#[tokio::test(start_paused = true)]
async fn the_client_idle_timeout_wins_when_shorter() {
    let server = TestServer::start(keep_alive("timeout=30")).await;
    let client = Client::builder()
        .idle_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    get_ok(&client, &server).await;
    tokio::time::advance(Duration::from_millis(2100)).await;
    get_ok(&client, &server).await;
    assert_eq!(server.stats().accepted, 2);
    assert_eq!(client.stats().expired_idle_timeout, 1);
}

#[tokio::test]
async fn server_timeout_at_the_margin_means_the_conn_is_never_reused() {
    let server = TestServer::start(keep_alive("timeout=1")).await;
    let client = Client::new();
    for _ in 0..3 {
        get_ok(&client, &server).await;
    }
    let stats = client.stats();
    assert_eq!(stats.reuses, 0);
    assert_eq!(stats.idle, 0);
    assert_eq!(stats.expired_server_timeout, 3);
    assert_eq!(server.stats().accepted, 3);
}

#[tokio::test]
async fn server_timeout_of_zero_means_the_conn_is_never_reused() {
    // Apache with a sub-second timeout sends timeout=0.
    let server = TestServer::start(keep_alive("timeout=0, max=100")).await;
    let client = Client::new();
    for _ in 0..2 {
        get_ok(&client, &server).await;
    }
    assert_eq!(server.stats().accepted, 2);
    assert_eq!(client.stats().reuses, 0);
}

#[tokio::test]
async fn requests_ask_for_keep_alive() {
    // Apache advertises its timeout only to requests that carry `Connection: keep-alive`.
    let server = TestServer::start(Script::new()).await;
    let client = Client::new();
    get_ok(&client, &server).await;
    let req = &server.requests()[0];
    assert_eq!(req.header("connection"), Some("keep-alive"));
}

#[tokio::test(start_paused = true)]
async fn conn_past_max_lifetime_is_not_reused() {
    let server = TestServer::start(Script::new()).await;
    let client = Client::builder()
        .max_lifetime(Duration::from_secs(10))
        .build()
        .unwrap();
    get_ok_plain(&client, &server).await;
    tokio::time::advance(Duration::from_secs(5)).await;
    get_ok_plain(&client, &server).await;
    assert_eq!(server.stats().accepted, 1, "5 s old: reused");
    tokio::time::advance(Duration::from_secs(6)).await;
    get_ok_plain(&client, &server).await;
    assert_eq!(server.stats().accepted, 2, "11 s old: not reused");
    assert_eq!(client.stats().expired_lifetime, 1);
}

async fn get_ok_plain(client: &Client, server: &TestServer) {
    let resp = client.get(server.url("/")).send().await.unwrap();
    assert_eq!(resp.text().await.unwrap(), "ok");
}
