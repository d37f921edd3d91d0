//! A client survives runtimes: used by one `#[tokio::test]` after another, by one
//! `Runtime::block_on` per call, by two runtimes at once, after a runtime that is alive
//! but no longer driven, or after one shut down with requests in flight (their slots come
//! back). A connection belongs to the runtime that opened it and is never
//! handed to a request on another; the background sweep runs on whichever runtime the
//! client is used from now.
//!
//! The servers run on a runtime of their own ([`Elsewhere`]), so they outlive the runtimes
//! each test makes and drops.

mod support;

use std::collections::HashMap;
use std::sync::LazyLock;
use std::time::Duration;

use support::elsewhere::Elsewhere;
use support::{eventually, ConnPolicy, Script, TestServer};
use tether::Client;

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// GETs `url` tagged with `who`, and reads the body.
async fn get(client: &Client, url: &str, who: &str) -> String {
    let resp = client
        .get(url)
        .header("x-runtime", who)
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{who}: {e:?}"));
    resp.text().await.unwrap_or_else(|e| panic!("{who}: {e:?}"))
}

/// Which runtimes' requests each connection carried.
fn runtimes_per_connection(server: &TestServer) -> HashMap<usize, Vec<String>> {
    let mut per: HashMap<usize, Vec<String>> = HashMap::new();
    for req in server.requests() {
        let who = req.header("x-runtime").unwrap_or("?").to_owned();
        let seen = per.entry(req.conn).or_default();
        if !seen.contains(&who) {
            seen.push(who);
        }
    }
    per
}

fn assert_one_runtime_per_connection(server: &TestServer) {
    for (conn, who) in runtimes_per_connection(server) {
        assert_eq!(
            who.len(),
            1,
            "connection {conn} carried requests of {who:?}"
        );
    }
}

#[test]
fn one_block_on_per_call_never_takes_another_runtimes_connection() {
    let elsewhere = Elsewhere::new();
    let server = elsewhere.server_blocking(Script::new());
    let url = server.url("/");
    let client = Client::new();
    for round in 0..4 {
        let runtime = current_thread();
        runtime.block_on(async {
            for _ in 0..2 {
                assert_eq!(get(&client, &url, &format!("round {round}")).await, "ok");
            }
        });
        drop(runtime);
    }
    let stats = server.stats();
    assert_eq!(stats.requests, 8);
    assert_eq!(stats.accepted, 4, "one connection per runtime");
    assert_eq!(client.stats().reuses, 4, "reused within its runtime");
    assert_one_runtime_per_connection(&server);
}

#[test]
fn a_runtime_alive_but_no_longer_driven_does_not_hang_the_next() {
    let elsewhere = Elsewhere::new();
    let server = elsewhere.server_blocking(Script::new());
    let url = server.url("/");
    let client = Client::new();
    // Its connection stays idle, registered with a runtime nobody drives any more.
    let idle = current_thread();
    idle.block_on(async { assert_eq!(get(&client, &url, "first").await, "ok") });
    let next = current_thread();
    next.block_on(async { assert_eq!(get(&client, &url, "second").await, "ok") });
    assert_eq!(server.stats().accepted, 2);
    assert_one_runtime_per_connection(&server);
    drop(idle);
}

#[test]
fn two_runtimes_at_once_keep_to_their_own_connections() {
    let elsewhere = Elsewhere::new();
    let server = elsewhere.server_blocking(Script::new());
    let url = server.url("/");
    // A cap of 1: a connection released on one runtime is often handed straight to the
    // other's waiter, which must not use it.
    let client = Client::builder()
        .max_connections_per_host(1)
        .build()
        .unwrap();
    let threads: Vec<_> = ["left", "right"]
        .into_iter()
        .map(|who| {
            let client = client.clone();
            let url = url.clone();
            std::thread::spawn(move || {
                current_thread().block_on(async {
                    for _ in 0..30 {
                        assert_eq!(get(&client, &url, who).await, "ok");
                        // The cap holds as the client counts: the server only learns of
                        // a close when it reads the FIN, so its own count can lag.
                        let open = client.stats().open;
                        assert!(open <= 1, "{open} connections open under a cap of 1");
                    }
                })
            })
        })
        .collect();
    for t in threads {
        t.join().expect("a runtime's requests failed");
    }
    assert_eq!(server.stats().requests, 60);
    assert_one_runtime_per_connection(&server);
}

#[test]
fn the_sweep_moves_to_the_runtime_in_use() {
    let elsewhere = Elsewhere::new();
    let server = elsewhere.server_blocking(Script::new().conn_policy(ConnPolicy {
        idle_close: Some(Duration::from_millis(150)),
        ..ConnPolicy::default()
    }));
    let url = server.url("/");
    let client = Client::builder()
        .sweep_interval(Duration::from_millis(20))
        .build()
        .unwrap();
    // The first runtime starts the sweep and ends, and its sweep with it.
    let first = current_thread();
    first.block_on(async { assert_eq!(get(&client, &url, "first").await, "ok") });
    drop(first);
    let second = current_thread();
    second.block_on(async {
        assert_eq!(get(&client, &url, "second").await, "ok");
        // The server closes both idle connections; a sweep running here closes our side
        // of them, so none lingers in CLOSE_WAIT.
        server.wait_until(|s| s.closed_by_server == 2).await;
        eventually("both closed connections are swept", || {
            client.stats().open == 0
        })
        .await;
        server
            .wait_until(|s| s.client_closed_after_server_fin == 2)
            .await;
        // The host is kept only for the idle timeout its server taught, with nothing open.
        let stats = client.stats();
        assert!(
            stats.hosts.iter().all(|h| h.open == 0 && h.idle == 0),
            "{stats:?}"
        );
    });
}

/// Requests that hold every slot (their server never answers) on a runtime that is then
/// shut down, by `drop` or by `shutdown_background`: their tasks go with it, and so must
/// their slots, or the next runtime's request waits for a slot that never comes back.
fn slots_come_back_from_a_runtime_shut_down(shut_down: fn(tokio::runtime::Runtime)) {
    let elsewhere = Elsewhere::new();
    let server = elsewhere.server_blocking(Script::new().stall_at("/never"));
    let client = Client::builder()
        .max_connections_per_host(2)
        .max_connections_total(2)
        .build()
        .unwrap();
    let doomed = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    for who in ["doomed-1", "doomed-2"] {
        let (client, url) = (client.clone(), server.url("/never"));
        doomed.spawn(async move {
            let _ = client.get(&url).header("x-runtime", who).send().await;
        });
    }
    let next = current_thread();
    next.block_on(async {
        server.wait_until(|s| s.requests == 2).await;
        eventually("both slots in use", || client.stats().in_use == 2).await;
    });
    shut_down(doomed);
    next.block_on(async {
        assert_eq!(get(&client, &server.url("/"), "next").await, "ok");
        assert_eq!(get(&client, &server.url("/"), "next").await, "ok");
        let stats = client.stats();
        assert!(stats.open <= 2 && stats.in_use == 0, "{stats:?}");
    });
    assert_one_runtime_per_connection(&server);
}

#[test]
fn a_runtime_dropped_with_requests_in_flight_gives_their_slots_back() {
    slots_come_back_from_a_runtime_shut_down(drop);
}

#[test]
fn a_runtime_shut_down_in_the_background_gives_its_requests_slots_back() {
    slots_come_back_from_a_runtime_shut_down(tokio::runtime::Runtime::shutdown_background);
}

/// One client and one server for the tests below, each a `#[tokio::test]` with a runtime
/// of its own that ends with it, run in whatever order and overlap the harness picks.
static SHARED: LazyLock<(Elsewhere, TestServer, Client)> = LazyLock::new(|| {
    let elsewhere = Elsewhere::new();
    let server = elsewhere.server_blocking(Script::new());
    (elsewhere, server, Client::new())
});

async fn shared_client_test(who: &str) {
    let (_, server, client) = &*SHARED;
    let url = server.url("/");
    for _ in 0..5 {
        assert_eq!(get(client, &url, who).await, "ok");
        tokio::task::yield_now().await;
    }
    assert_one_runtime_per_connection(server);
}

#[tokio::test]
async fn shared_client_in_one_tokio_test() {
    shared_client_test("one").await;
}

#[tokio::test]
async fn shared_client_in_another_tokio_test() {
    shared_client_test("another").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_client_in_a_multi_thread_tokio_test() {
    shared_client_test("multi").await;
}
