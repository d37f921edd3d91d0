//! The background sweep over more idle connections than one of its ticks visits: it works
//! through them in parts, one tick after another, and still closes every expired one and
//! forgets its host within a round.

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use support::h2::serve_http1;
use tokio::net::TcpListener;

/// More than one tick of the sweep takes (1,024), so a round has two parts.
const HOSTS: usize = 1_100;

/// A listener on 127.0.0.1 (its own port: its own host for the pool), serving until the
/// test's runtime ends.
async fn host() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve_http1(stream));
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweep_in_parts_closes_every_expired_idle_connection_and_forgets_its_host() {
    let mut addrs = Vec::with_capacity(HOSTS);
    for _ in 0..HOSTS {
        addrs.push(host().await);
    }
    let client = tether::Client::builder()
        .idle_timeout(Duration::from_millis(300))
        .sweep_interval(Duration::from_millis(200))
        .max_connections_total(2 * HOSTS)
        .build()
        .expect("client");
    for batch in addrs.chunks(64) {
        let mut gets = tokio::task::JoinSet::new();
        for addr in batch {
            let (client, url) = (client.clone(), format!("http://{addr}/"));
            gets.spawn(async move { client.get(url).send().await?.bytes().await });
        }
        while let Some(body) = gets.join_next().await {
            assert_eq!(&body.expect("task").expect("GET")[..], b"ok");
        }
    }
    let stats = client.stats();
    assert_eq!(
        (stats.open, stats.idle),
        (HOSTS, HOSTS),
        "one idle connection per host"
    );

    // Each connection expires 300 ms after it went idle, and a round of two ticks visits
    // every host once per 200 ms: all are closed well before this bound, which only stops
    // a broken sweep from hanging the test.
    let bound = Instant::now() + Duration::from_secs(30);
    while client.stats().open > 0 && Instant::now() < bound {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let stats = client.stats();
    assert_eq!(stats.open, 0, "every expired idle connection is closed");
    assert_eq!(
        stats.hosts.len(),
        0,
        "and every host, with nothing left, forgotten"
    );
}
