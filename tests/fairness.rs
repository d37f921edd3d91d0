//! Fairness across hosts at the global cap (DESIGN.md §1b "Crawling at scale"): hosts with
//! waiters get freed slots in turn, so one host with a thousand queued requests does not
//! starve the others, and the global cap holds throughout. Real sockets on 127.0.0.1, one
//! scripted server per host (a host is scheme, address and port).

mod support;

use std::time::Duration;

use support::fair::Completions;
use support::{eventually, Reply, Script, TestServer};

/// A server whose answers take a couple of milliseconds, so that requests overlap.
async fn slow_server() -> TestServer {
    TestServer::start(Script::new().always(Reply::Drip {
        head: b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n".to_vec(),
        body: b"ok".to_vec(),
        every: Duration::from_millis(1),
    }))
    .await
}

#[tokio::test]
async fn one_host_with_a_thousand_queued_requests_does_not_starve_twenty_small_ones() {
    const BIG: usize = 1_000;
    const SMALL_HOSTS: usize = 20;
    const SMALL: usize = 5;
    let big = slow_server().await;
    let mut small = Vec::new();
    for _ in 0..SMALL_HOSTS {
        small.push(slow_server().await);
    }
    // The per-host cap is the global cap: under first-come-first-served the big host
    // would keep every slot until its queue was empty.
    let client = tether::Client::builder()
        .max_connections_per_host(8)
        .max_connections_total(8)
        .build()
        .expect("client");
    let done = Completions::default();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..BIG {
        done.spawn(&mut tasks, &client, big.url(&format!("/big/{i}")), None);
    }
    eventually("the big host's requests queue", || {
        client.stats().waiters + done.len() >= BIG - 8
    })
    .await;
    for (h, server) in small.iter().enumerate() {
        for i in 0..SMALL {
            done.spawn(
                &mut tasks,
                &client,
                server.url(&format!("/small/{i}")),
                Some(h),
            );
        }
    }
    // The most connections open at once, sampled while the requests run.
    let most = support::most_open_until_done(&client, &mut tasks).await;
    assert!(
        (1..=8).contains(&most),
        "{most} open at once; the global cap is 8"
    );

    assert_eq!(done.len(), BIG + SMALL_HOSTS * SMALL);
    for h in 0..SMALL_HOSTS {
        let big_done = done.big_done_when_done(h);
        assert!(
            big_done < BIG / 3,
            "small host {h} finished after {big_done} of the big host's {BIG} requests"
        );
    }
    let stats = client.stats();
    println!(
        "all small hosts done after {} of {BIG} big-host requests; \
         {} connections opened, {} reuses",
        done.big_done_when_all_done(),
        stats.connections_opened,
        stats.reuses
    );
    // Slots move between hosts only until each has its share: most requests still reuse.
    assert!(stats.reuses > 900, "{stats:?}");
    for server in small.iter().chain([&big]) {
        assert!(server.stats().max_open <= 8);
    }
}
