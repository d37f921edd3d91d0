//! Caps and waiting: the per-host cap (default and polite), the global cap over several
//! hosts with eviction of another host's idle connection, FIFO order of waiters, and
//! waiters that give up (dropped or timed out) leaving no slot taken.

mod support;

use std::time::Duration;

use support::{eventually, Reply, Script, TestServer};
use tether::{Client, ErrorKind, Response};
use tokio::task::JoinSet;

/// A response whose head says 10 bytes and `Connection: close`, of which 5 are sent:
/// the caller gets the head and holds the connection for as long as it keeps the
/// `Response`; dropping it closes the connection.
fn held() -> Reply {
    Reply::StallMidBody {
        head: b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\n".to_vec(),
        sent: b"hello".to_vec(),
    }
}

/// `/hold...` is answered with [`held`], anything else `200 ok`.
fn hold_or_ok() -> Script {
    Script::new().respond(|req| {
        if req.target.starts_with("/hold") {
            held()
        } else {
            Reply::ok("ok")
        }
    })
}

/// `/slow...` is answered with `body`, a byte every `every`, on a connection kept open;
/// anything else `200 ok`.
fn slow_or_ok(body: &'static [u8], every: Duration) -> Script {
    Script::new().respond(move |req| {
        if req.target.starts_with("/slow") {
            Reply::Drip {
                head: format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len())
                    .into_bytes(),
                body: body.to_vec(),
                every,
            }
        } else {
            Reply::ok("ok")
        }
    })
}

async fn get_ok(client: &Client, url: String) {
    let resp = client.get(url).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "ok");
}

async fn run_concurrent_gets(client: &Client, server: &TestServer, n: usize) {
    let mut set = JoinSet::new();
    for i in 0..n {
        let client = client.clone();
        let url = server.url(&format!("/{i}"));
        set.spawn(async move { get_ok(&client, url).await });
    }
    while let Some(joined) = set.join_next().await {
        joined.unwrap();
    }
}

#[tokio::test]
async fn two_hundred_concurrent_gets_never_open_more_than_the_per_host_cap() {
    let server = TestServer::start(Script::new()).await;
    let client = Client::builder()
        .max_connections_per_host(6)
        .build()
        .unwrap();
    run_concurrent_gets(&client, &server, 200).await;
    let stats = server.stats();
    assert_eq!(stats.requests, 200);
    assert!(stats.max_open <= 6, "server saw {} open", stats.max_open);
    assert!(stats.accepted <= 6, "server accepted {}", stats.accepted);
    // 200 requests arrive at once: the cap is reached, not just respected.
    assert_eq!(stats.max_open, 6);
    let c = client.stats();
    assert_eq!(c.connections_opened, 6);
    assert_eq!((c.open, c.waiters), (6, 0));
}

#[tokio::test]
async fn polite_preset_never_opens_more_than_two_connections_per_host() {
    let server = TestServer::start(Script::new()).await;
    let client = Client::builder().polite().build().unwrap();
    run_concurrent_gets(&client, &server, 200).await;
    let stats = server.stats();
    assert_eq!(stats.requests, 200);
    assert_eq!(stats.max_open, 2);
    assert_eq!(stats.accepted, 2);
}

#[tokio::test]
async fn waiters_are_served_in_the_order_they_arrived() {
    let server = TestServer::start(hold_or_ok()).await;
    let client = Client::builder()
        .max_connections_per_host(1)
        .build()
        .unwrap();
    let first = client.get(server.url("/hold")).send().await.unwrap();
    let mut set = JoinSet::new();
    for i in 1..=8 {
        let c = client.clone();
        let url = server.url(&format!("/{i}"));
        set.spawn(async move { get_ok(&c, url).await });
        // The next one is issued only once this one is in line.
        eventually("the request is waiting", || client.stats().waiters == i).await;
    }
    assert_eq!(server.stats().accepted, 1, "no dial beyond the cap");
    drop(first);
    while let Some(joined) = set.join_next().await {
        joined.unwrap();
    }
    let order: Vec<String> = server.requests().into_iter().map(|r| r.target).collect();
    let expected: Vec<String> = std::iter::once("/hold".to_string())
        .chain((1..=8).map(|i| format!("/{i}")))
        .collect();
    assert_eq!(order, expected);
    assert_eq!(server.stats().max_open, 1);
}

#[tokio::test]
async fn global_cap_holds_across_three_hosts() {
    let a = TestServer::start_on("127.0.0.1", hold_or_ok()).await;
    let b = TestServer::start_on("127.0.0.2", hold_or_ok()).await;
    let c = TestServer::start_on("127.0.0.3", hold_or_ok()).await;
    let client = Client::builder()
        .max_connections_per_host(6)
        .max_connections_total(4)
        .build()
        .unwrap();
    let mut held_responses = Vec::new();
    for server in [&a, &a, &b, &b] {
        held_responses.push(client.get(server.url("/hold")).send().await.unwrap());
    }
    // Host C is under its own cap but the pool is at the global one: both wait.
    let mut set = JoinSet::new();
    for i in 0..2 {
        let cl = client.clone();
        let url = c.url(&format!("/{i}"));
        set.spawn(async move { get_ok(&cl, url).await });
    }
    eventually("both requests to C wait", || client.stats().waiters == 2).await;
    assert_eq!(client.stats().open, 4);
    assert_eq!(c.stats().accepted, 0);
    // A closed connection frees one global slot: it goes to C's oldest waiter, whose
    // connection then goes straight to the other waiter of C.
    held_responses.pop();
    while let Some(joined) = set.join_next().await {
        joined.unwrap();
    }
    assert_eq!(c.stats().accepted, 1);
    assert_eq!(c.stats().requests, 2);
    assert_eq!(a.stats().accepted + b.stats().accepted, 4);
    let stats = client.stats();
    assert_eq!((stats.open, stats.waiters), (4, 0));
    drop(held_responses);
}

#[tokio::test]
async fn at_the_global_cap_an_idle_connection_of_another_host_is_closed_to_make_room() {
    let a = TestServer::start_on("127.0.0.1", Script::new()).await;
    let b = TestServer::start_on("127.0.0.2", Script::new()).await;
    let c = TestServer::start_on("127.0.0.3", Script::new()).await;
    // No sweep during the test, and a hang guard: the room must be made at once, by the
    // request that needs it.
    let client = Client::builder()
        .max_connections_total(2)
        .sweep_interval(Duration::from_secs(3600))
        .pool_timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    get_ok(&client, a.url("/")).await;
    get_ok(&client, b.url("/")).await;
    assert_eq!(client.stats().idle, 2);
    // A third host at the global cap: the least recently used idle connection (A's) goes.
    get_ok(&client, c.url("/")).await;
    let stats = client.stats();
    assert_eq!(stats.evicted, 1);
    assert_eq!(stats.open, 2);
    a.wait_until(|s| s.closed_by_client == 1).await;
    assert_eq!(b.stats().closed_by_client, 0);
    assert_eq!(c.stats().accepted, 1);
    let a_key = format!("http://{}", a.addr());
    assert!(stats.host(&a_key).is_none_or(|h| h.open == 0), "{stats:?}");
    // B's connection is still the one B's next request uses.
    get_ok(&client, b.url("/")).await;
    assert_eq!(b.stats().accepted, 1);
}

#[tokio::test]
async fn at_the_global_cap_a_released_connection_is_closed_for_a_waiter_of_another_host() {
    let a = TestServer::start_on(
        "127.0.0.1",
        Script::new().always(Reply::Drip {
            head: b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n".to_vec(),
            body: b"0123456789".to_vec(),
            every: Duration::from_millis(1),
        }),
    )
    .await;
    let b = TestServer::start_on("127.0.0.2", Script::new()).await;
    let client = Client::builder()
        .max_connections_total(1)
        .sweep_interval(Duration::from_secs(3600))
        .pool_timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let from_a = client.get(a.url("/")).send().await.unwrap();
    let cl = client.clone();
    let url = b.url("/");
    let to_b = tokio::spawn(async move { get_ok(&cl, url).await });
    eventually("the request to B waits", || client.stats().waiters == 1).await;
    // A's body ends: its connection could idle, but B is waiting for the only slot.
    assert_eq!(from_a.text().await.unwrap(), "0123456789");
    to_b.await.unwrap();
    a.wait_until(|s| s.closed_by_client == 1).await;
    let stats = client.stats();
    assert_eq!(stats.evicted, 1);
    assert_eq!((stats.open, stats.idle), (1, 1));
    assert_eq!(b.stats().accepted, 1);
}

#[tokio::test]
async fn many_concurrent_requests_over_three_hosts_at_the_global_cap_all_complete() {
    let servers = [
        TestServer::start_on("127.0.0.1", Script::new()).await,
        TestServer::start_on("127.0.0.2", Script::new()).await,
        TestServer::start_on("127.0.0.3", Script::new()).await,
    ];
    // No sweep to fall back on: released connections must make room for the other
    // hosts' waiters at once (the pool timeout only turns a stuck request into a failure).
    let client = Client::builder()
        .max_connections_per_host(3)
        .max_connections_total(4)
        .sweep_interval(Duration::from_secs(3600))
        .pool_timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let mut set = JoinSet::new();
    for i in 0..90 {
        let c = client.clone();
        let url = servers[i % 3].url(&format!("/{i}"));
        set.spawn(async move { get_ok(&c, url).await });
    }
    while let Some(joined) = set.join_next().await {
        joined.unwrap();
    }
    for s in &servers {
        assert_eq!(s.stats().requests, 30);
        assert!(s.stats().max_open <= 3);
    }
    let stats = client.stats();
    assert!(stats.open <= 4, "{stats:?}");
    assert_eq!(stats.waiters, 0);
}

/// With a cap of 2 and both slots held, the full cap is usable: two requests get their
/// response heads while both hold their connections.
async fn assert_two_slots_free(client: &Client, server: &TestServer) {
    assert_eq!(client.stats().waiters, 0, "the waiter left the line");
    let both = async {
        let r1 = client
            .get(server.url("/hold-again-1"))
            .send()
            .await
            .unwrap();
        let r2 = client
            .get(server.url("/hold-again-2"))
            .send()
            .await
            .unwrap();
        (r1, r2)
    };
    // A hang guard only: a leaked slot makes the second request wait for ever.
    let (r1, r2): (Response, Response) = tokio::time::timeout(Duration::from_secs(5), both)
        .await
        .expect("a slot leaked: the second request waits for a free slot");
    assert_eq!((r1.status().as_u16(), r2.status().as_u16()), (200, 200));
    let stats = client.stats();
    assert_eq!((stats.open, stats.in_use, stats.waiters), (2, 2, 0));
}

#[tokio::test]
async fn dropped_waiter_leaves_no_slot_taken() {
    let server = TestServer::start(hold_or_ok()).await;
    let client = Client::builder()
        .max_connections_per_host(2)
        .build()
        .unwrap();
    let h1 = client.get(server.url("/hold-1")).send().await.unwrap();
    let h2 = client.get(server.url("/hold-2")).send().await.unwrap();
    let c = client.clone();
    let url = server.url("/third");
    let third = tokio::spawn(async move { c.get(url).send().await.map(|_| ()) });
    eventually("the third request waits", || client.stats().waiters == 1).await;
    third.abort();
    assert!(third.await.unwrap_err().is_cancelled());
    assert_eq!(client.stats().waiters, 0);
    drop((h1, h2));
    eventually("both held connections closed", || client.stats().open == 0).await;
    assert_two_slots_free(&client, &server).await;
    assert!(server.requests().iter().all(|r| r.target != "/third"));
}

#[tokio::test]
async fn waiter_timed_out_leaves_no_slot_taken() {
    let server = TestServer::start(hold_or_ok()).await;
    let client = Client::builder()
        .max_connections_per_host(2)
        .build()
        .unwrap();
    let h1 = client.get(server.url("/hold-1")).send().await.unwrap();
    let h2 = client.get(server.url("/hold-2")).send().await.unwrap();
    let err = client
        .get(server.url("/third"))
        .timeout(Duration::from_millis(50))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert!(!err.request_written());
    drop((h1, h2));
    eventually("both held connections closed", || client.stats().open == 0).await;
    assert_two_slots_free(&client, &server).await;
    assert!(server.requests().iter().all(|r| r.target != "/third"));
}

#[tokio::test]
async fn waiter_dropped_right_after_it_was_granted_a_slot_gives_it_back() {
    let server = TestServer::start(hold_or_ok()).await;
    let client = Client::builder()
        .max_connections_per_host(2)
        .build()
        .unwrap();
    let h1 = client.get(server.url("/hold-1")).send().await.unwrap();
    let h2 = client.get(server.url("/hold-2")).send().await.unwrap();
    let c = client.clone();
    let url = server.url("/third");
    let third = tokio::spawn(async move { c.get(url).send().await.map(|_| ()) });
    eventually("the third request waits", || client.stats().waiters == 1).await;
    // Closing a held connection grants its slot to the waiter; the waiter is then
    // dropped before it runs again (one thread: nothing runs between these two lines).
    drop(h1);
    third.abort();
    assert!(third.await.unwrap_err().is_cancelled());
    drop(h2);
    eventually("both held connections closed", || client.stats().open == 0).await;
    assert_two_slots_free(&client, &server).await;
    assert!(server.requests().iter().all(|r| r.target != "/third"));
}

#[tokio::test]
async fn waiter_dropped_right_after_it_was_handed_a_connection_gives_it_back() {
    // Keep-alive responses held by their body: releasing one hands the connection itself
    // to the waiter.
    let server = TestServer::start(slow_or_ok(b"abc", Duration::from_millis(1))).await;
    let client = Client::builder()
        .max_connections_per_host(1)
        .build()
        .unwrap();
    let mut slow = client.get(server.url("/slow")).send().await.unwrap();
    let c = client.clone();
    let url = server.url("/second");
    let second = tokio::spawn(async move { c.get(url).send().await.map(|_| ()) });
    eventually("the second request waits", || client.stats().waiters == 1).await;
    // Read to the end: the last read releases the connection to the waiter, which is
    // aborted before it runs again.
    let mut body = Vec::new();
    while let Some(chunk) = slow.chunk().await.unwrap() {
        body.extend_from_slice(&chunk);
        if body.len() == 3 {
            break;
        }
    }
    // The end may need one more call when it was not in the same read.
    let rest = slow.chunk().await.unwrap();
    assert!(rest.is_none());
    second.abort();
    assert!(second.await.unwrap_err().is_cancelled());
    assert_eq!(body, b"abc");
    // The connection came back to the pool: the next request reuses it.
    get_ok(&client, server.url("/third")).await;
    assert_eq!(server.stats().accepted, 1);
    assert_eq!(client.stats().waiters, 0);
}

#[tokio::test]
async fn an_origin_given_its_own_cap_opens_that_many_and_the_others_the_clients() {
    let fragile = TestServer::start(Script::new()).await;
    let owned = TestServer::start(Script::new()).await;
    let other = TestServer::start(Script::new()).await;
    let client = Client::builder()
        .max_connections_per_host(6)
        .max_connections_for_host(fragile.url("/robots.txt"), 2)
        .build()
        .unwrap();
    client
        .set_max_connections_for_host(owned.url("/"), Some(12))
        .unwrap();
    tokio::join!(
        run_concurrent_gets(&client, &fragile, 200),
        run_concurrent_gets(&client, &owned, 200),
        run_concurrent_gets(&client, &other, 200),
    );
    // 200 requests at once to each: every cap is reached, none passed.
    for (server, cap) in [(&fragile, 2), (&owned, 12), (&other, 6)] {
        let stats = server.stats();
        assert_eq!(stats.requests, 200);
        assert_eq!((stats.max_open, stats.accepted), (cap, cap), "{stats:?}");
    }
    // With the cap cleared (through a clone), the client's 6 again.
    let clone = client.clone();
    clone
        .set_max_connections_for_host(fragile.url("/"), None)
        .unwrap();
    run_concurrent_gets(&client, &fragile, 200).await;
    assert_eq!(fragile.stats().max_open, 6);
    // A URL that names no origin is a builder error, in the builder or on the client.
    let err = Client::builder()
        .max_connections_for_host("mailto:someone@example.com", 1)
        .build()
        .unwrap_err();
    assert!(err.is_builder(), "{err:?}");
    for bad in ["not a url", "file:///tmp/x"] {
        let err = client
            .set_max_connections_for_host(bad, Some(1))
            .unwrap_err();
        assert!(err.is_builder(), "{bad}: {err:?}");
    }
}

#[tokio::test]
async fn raising_an_origins_cap_lets_the_requests_waiting_for_it_connect_at_once() {
    let server = TestServer::start(hold_or_ok()).await;
    let client = Client::builder()
        .max_connections_per_host(1)
        .build()
        .unwrap();
    let first = client.get(server.url("/hold/0")).send().await.unwrap();
    let mut set = JoinSet::new();
    for i in 1..=2 {
        let c = client.clone();
        let url = server.url(&format!("/hold/{i}"));
        set.spawn(async move { c.get(url).send().await.map(|r| r.status()) });
    }
    eventually("two wait at the cap", || client.stats().waiters == 2).await;
    assert_eq!(server.stats().accepted, 1);
    client
        .set_max_connections_for_host(server.url("/"), Some(3))
        .unwrap();
    // Both waiters are answered while the first still holds its connection.
    while let Some(joined) = set.join_next().await {
        assert_eq!(joined.unwrap().unwrap(), 200);
    }
    let stats = server.stats();
    assert_eq!((stats.accepted, stats.max_open), (3, 3), "{stats:?}");
    assert_eq!(client.stats().waiters, 0);
    drop(first);
}

#[tokio::test]
async fn under_a_lowered_cap_the_connections_past_it_close_as_their_requests_end() {
    // `/slow/...` is answered `ok` a byte every 400 ms, on a connection kept open.
    let server = TestServer::start(slow_or_ok(b"ok", Duration::from_millis(400))).await;
    let client = Client::builder()
        .max_connections_per_host(3)
        .build()
        .unwrap();
    // Three responses whose bodies are still coming: three connections in use.
    let mut held: Vec<Response> = Vec::new();
    for i in 0..3 {
        held.push(
            client
                .get(server.url(&format!("/slow/{i}")))
                .send()
                .await
                .unwrap(),
        );
    }
    assert_eq!(server.stats().accepted, 3);
    client
        .set_max_connections_for_host(server.url("/"), Some(1))
        .unwrap();
    // Two more requests wait: three are open, the cap is one.
    let mut set = JoinSet::new();
    for i in 3..5 {
        let c = client.clone();
        let url = server.url(&format!("/{i}"));
        set.spawn(async move { get_ok(&c, url).await });
    }
    eventually("two wait", || client.stats().waiters == 2).await;
    // As each held request ends, its connection is closed until one is left, which
    // then serves the two in line one after the other.
    for resp in held {
        assert_eq!(resp.text().await.unwrap(), "ok");
    }
    while let Some(joined) = set.join_next().await {
        joined.unwrap();
    }
    let stats = client.stats();
    assert_eq!(stats.closed_over_idle_limit, 2, "{stats:?}");
    assert_eq!((stats.open, stats.idle), (1, 1), "{stats:?}");
    eventually("the server sees the two closed", || {
        server.stats().closed_by_client == 2
    })
    .await;
    let s = server.stats();
    assert_eq!((s.accepted, s.requests), (3, 5), "no new connection: {s:?}");
    let conn_of = |target: &str| {
        server
            .requests()
            .into_iter()
            .find(|r| r.target == target)
            .map(|r| r.conn)
    };
    assert_eq!(
        conn_of("/3"),
        conn_of("/4"),
        "the two in line shared one connection"
    );
    // From now on one connection at a time.
    run_concurrent_gets(&client, &server, 20).await;
    let s = server.stats();
    assert_eq!((s.accepted, s.open), (3, 1), "{s:?}");
}

#[tokio::test]
async fn a_lowered_cap_closes_the_idle_connections_past_it_at_once() {
    // Four connections to rest: four slow responses read to their end.
    let server = TestServer::start(slow_or_ok(b"ok", Duration::from_millis(50))).await;
    let client = Client::builder()
        .max_connections_per_host(4)
        .build()
        .unwrap();
    let mut set = JoinSet::new();
    for i in 0..4 {
        let c = client.clone();
        let url = server.url(&format!("/slow/{i}"));
        set.spawn(async move { c.get(url).send().await.unwrap().text().await.unwrap() });
    }
    while let Some(joined) = set.join_next().await {
        assert_eq!(joined.unwrap(), "ok");
    }
    let stats = client.stats();
    assert_eq!((stats.open, stats.idle), (4, 4), "{stats:?}");
    // Lowered to 1: three close before the call returns, not at the next request.
    client
        .set_max_connections_for_host(server.url("/"), Some(1))
        .unwrap();
    let stats = client.stats();
    assert_eq!((stats.open, stats.idle), (1, 1), "{stats:?}");
    assert_eq!(stats.closed_over_idle_limit, 3, "{stats:?}");
    eventually("the server sees the three closed", || {
        server.stats().closed_by_client == 3
    })
    .await;
    // The one left serves what comes next.
    run_concurrent_gets(&client, &server, 10).await;
    let s = server.stats();
    assert_eq!((s.accepted, s.open), (4, 1), "{s:?}");
}
