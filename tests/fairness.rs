//! Fairness across hosts at the global cap (DESIGN.md §1b "Crawling at scale"): hosts with
//! waiters get freed slots in turn, so one host with a thousand queued requests does not
//! starve the others, and the global cap holds throughout. Real sockets on 127.0.0.1, one
//! scripted server per host (a host is scheme, address and port).

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

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
    // Completions in order: `None` for the big host, `Some(i)` for small host `i`.
    let done: Arc<Mutex<Vec<Option<usize>>>> = Arc::default();
    let mut tasks = tokio::task::JoinSet::new();
    let spawn = |tasks: &mut tokio::task::JoinSet<()>, url: String, who: Option<usize>| {
        let (client, done) = (client.clone(), done.clone());
        tasks.spawn(async move {
            let resp = client.get(&url).send().await.expect("GET");
            assert_eq!(resp.bytes().await.expect("body"), "ok");
            done.lock().unwrap().push(who);
        });
    };
    for i in 0..BIG {
        spawn(&mut tasks, big.url(&format!("/big/{i}")), None);
    }
    eventually("the big host's requests queue", || {
        client.stats().waiters + done.lock().unwrap().len() >= BIG - 8
    })
    .await;
    for (h, server) in small.iter().enumerate() {
        for i in 0..SMALL {
            spawn(&mut tasks, server.url(&format!("/small/{i}")), Some(h));
        }
    }
    // The most connections open at once, sampled while the requests run.
    let most = Arc::new(AtomicUsize::new(0));
    let watch = {
        let (client, most) = (client.clone(), most.clone());
        tokio::spawn(async move {
            loop {
                most.fetch_max(client.stats().open, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        })
    };
    while let Some(finished) = tasks.join_next().await {
        finished.expect("request task");
    }
    watch.abort();
    let most = most.load(Ordering::Relaxed);
    assert!(
        (1..=8).contains(&most),
        "{most} open at once; the global cap is 8"
    );

    let done = done.lock().unwrap().clone();
    assert_eq!(done.len(), BIG + SMALL_HOSTS * SMALL);
    let big_done_by = |pos: usize| done[..pos].iter().filter(|w| w.is_none()).count();
    for h in 0..SMALL_HOSTS {
        let last = done
            .iter()
            .rposition(|w| *w == Some(h))
            .expect("the small host finished");
        assert!(
            big_done_by(last) < BIG / 3,
            "small host {h} finished after {} of the big host's {BIG} requests",
            big_done_by(last)
        );
    }
    let last_small = done.iter().rposition(Option::is_some).unwrap_or(0);
    let stats = client.stats();
    println!(
        "all small hosts done after {} of {BIG} big-host requests (position {last_small}); \
         {} connections opened, {} reuses",
        big_done_by(last_small),
        stats.connections_opened,
        stats.reuses
    );
    // Slots move between hosts only until each has its share: most requests still reuse.
    assert!(stats.reuses > 900, "{stats:?}");
    for server in small.iter().chain([&big]) {
        assert!(server.stats().max_open <= 8);
    }
}
