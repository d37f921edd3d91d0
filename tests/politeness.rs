//! Politeness per host (DESIGN.md §1b "Crawling at scale"): `min_delay_per_host` spaces the
//! starts of requests to one host, and a `429`/`503` with `Retry-After` pauses its host for
//! every request of the client; waiting for either holds no slot. Real sockets on
//! 127.0.0.1, tokio's clock paused (it moves on by itself while everything waits), so the
//! waits take no real time and are measured exactly.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::{Reply, Script, TestServer};
use tokio::time::Instant;

const SECOND: Duration = Duration::from_secs(1);

/// GETs `url` and returns when it started (since `t0`), by the tokio clock.
async fn timed_get(client: &tether::Client, url: String, t0: Instant) -> Duration {
    let resp = client.get(&url).send().await.expect("GET");
    let at = t0.elapsed();
    resp.bytes().await.expect("body");
    at
}

#[tokio::test(start_paused = true)]
async fn min_delay_per_host_spaces_starts_to_one_host_and_holds_no_slot() {
    let a = TestServer::start(Script::new().always(Reply::ok("a"))).await;
    let b = TestServer::start(Script::new().always(Reply::ok("b"))).await;
    let client = tether::Client::builder()
        .min_delay_per_host(SECOND)
        .max_connections_total(1)
        .build()
        .expect("client");
    let t0 = Instant::now();
    let answered: Arc<Mutex<Vec<(char, Duration)>>> = Arc::default();
    let mut tasks = tokio::task::JoinSet::new();
    let requests = std::iter::repeat_n(('a', a.url("/")), 4).chain([('b', b.url("/"))]);
    for (host, url) in requests {
        let (client, answered) = (client.clone(), answered.clone());
        tasks.spawn(async move {
            let at = timed_get(&client, url, t0).await;
            answered.lock().unwrap().push((host, at));
        });
    }
    // While three requests to a wait for their start, they hold nothing: b's request
    // gets the one slot the global cap allows.
    tokio::time::sleep(SECOND / 2).await;
    let stats = client.stats();
    assert_eq!(stats.waiters, 0, "{stats:?}");
    assert!(stats.open <= 1);
    while let Some(done) = tasks.join_next().await {
        done.expect("task");
    }
    let mut a_starts: Vec<Duration> = answered
        .lock()
        .unwrap()
        .iter()
        .filter(|(h, _)| *h == 'a')
        .map(|(_, at)| *at)
        .collect();
    a_starts.sort();
    for (i, at) in a_starts.iter().enumerate() {
        let due = SECOND * i as u32;
        assert!(
            *at >= due && *at < due + SECOND / 10,
            "request {i} to a answered at {at:?}: {a_starts:?}"
        );
    }
    let b_at = answered
        .lock()
        .unwrap()
        .iter()
        .find(|(h, _)| *h == 'b')
        .map(|(_, at)| *at);
    assert!(
        b_at.is_some_and(|at| at < SECOND / 10),
        "b waited for a: {b_at:?}"
    );
    assert_eq!(client.stats().polite_waits, 3);
    assert_eq!(a.stats().requests, 4);
}

#[tokio::test(start_paused = true)]
async fn random_delay_per_host_adds_a_fresh_draw_to_each_spacing() {
    let server = TestServer::start(Script::new().always(Reply::ok("a"))).await;
    let client = tether::Client::builder()
        .min_delay_per_host(SECOND)
        .random_delay_per_host(SECOND)
        .build()
        .expect("client");
    let t0 = Instant::now();
    let mut answered = Vec::new();
    for _ in 0..12 {
        answered.push(timed_get(&client, server.url("/"), t0).await);
    }
    let gaps: Vec<Duration> = answered.windows(2).map(|w| w[1] - w[0]).collect();
    // Each request waits the least delay and at most as much again, never less.
    for gap in &gaps {
        assert!(
            *gap >= SECOND - SECOND / 20 && *gap < 2 * SECOND + SECOND / 20,
            "{gaps:?}"
        );
    }
    // The extra is drawn anew for each request: eleven draws do not fall within a fifth
    // of a second of each other (with uniform draws, about once in a million runs).
    let spread = gaps
        .iter()
        .max()
        .zip(gaps.iter().min())
        .map(|(m, l)| *m - *l);
    assert!(spread.is_some_and(|s| s > SECOND / 5), "{gaps:?}");
    assert_eq!(client.stats().polite_waits, 11);
    assert_eq!(server.stats().requests, 12);
}

/// The gaps between the starts of `n` GETs of `url` in a row.
async fn gaps_of(client: &tether::Client, url: String, n: usize) -> Vec<Duration> {
    let t0 = Instant::now();
    let mut answered = Vec::new();
    for _ in 0..n {
        answered.push(timed_get(client, url.clone(), t0).await);
    }
    answered.windows(2).map(|w| w[1] - w[0]).collect()
}

/// Each gap is `want` (within a twentieth of a second, the paused clock's slack).
fn all_near(gaps: &[Duration], want: Duration) -> bool {
    gaps.iter().all(|g| *g >= want && *g < want + SECOND / 20)
}

#[tokio::test(start_paused = true)]
async fn an_origin_given_its_own_delay_is_spaced_by_it_and_the_others_by_the_clients() {
    let slow = TestServer::start(Script::new().always(Reply::ok("slow"))).await;
    let own = TestServer::start(Script::new().always(Reply::ok("own"))).await;
    let other = TestServer::start(Script::new().always(Reply::ok("other"))).await;
    let client = tether::Client::builder()
        .min_delay_per_host(SECOND)
        .build()
        .expect("client");
    // The slow site's robots.txt asked for 3 s; the crawler's own server needs none.
    client
        .set_min_delay_for_host(slow.url("/robots.txt"), Some(3 * SECOND))
        .expect("delay set");
    client
        .set_min_delay_for_host(own.url("/"), Some(Duration::ZERO))
        .expect("delay set");
    let gaps = gaps_of(&client, slow.url("/page"), 4).await;
    assert!(all_near(&gaps, 3 * SECOND), "slow: {gaps:?}");
    let gaps = gaps_of(&client, own.url("/page"), 4).await;
    assert!(gaps.iter().all(|g| *g < SECOND / 20), "own: {gaps:?}");
    let gaps = gaps_of(&client, other.url("/page"), 4).await;
    assert!(all_near(&gaps, SECOND), "other: {gaps:?}");
    // A clone shares the delays; cleared, the slow site is spaced by the client's again.
    let clone = client.clone();
    clone
        .set_min_delay_for_host(slow.url("/"), None)
        .expect("delay cleared");
    tokio::time::sleep(3 * SECOND).await;
    let gaps = gaps_of(&client, slow.url("/page"), 3).await;
    assert!(all_near(&gaps, SECOND), "slow, cleared: {gaps:?}");
    assert_eq!(slow.stats().requests, 7);
    // Only http and https URLs with a host name an origin.
    for bad in ["ftp://127.0.0.1/", "not a url", "data:text/plain,x"] {
        let err = client
            .set_min_delay_for_host(bad, Some(SECOND))
            .expect_err(bad);
        assert!(err.is_builder(), "{bad}: {err:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn an_origins_own_delay_holds_without_any_client_delay_and_queued_requests_keep_it() {
    let slow = TestServer::start(Script::new().always(Reply::ok("slow"))).await;
    let client = tether::Client::builder().build().expect("client");
    client
        .set_min_delay_for_host(slow.url("/"), Some(2 * SECOND))
        .expect("delay set");
    let t0 = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..4 {
        let (client, url) = (client.clone(), slow.url("/page"));
        tasks.spawn(async move { timed_get(&client, url, t0).await });
    }
    // The three waiting for their start wait before the pool, not in its line.
    tokio::time::sleep(SECOND).await;
    let stats = client.stats();
    assert_eq!((stats.waiters, stats.polite_waits), (0, 3), "{stats:?}");
    let mut starts = Vec::new();
    while let Some(done) = tasks.join_next().await {
        starts.push(done.expect("task"));
    }
    starts.sort();
    for (i, at) in starts.iter().enumerate() {
        let due = 2 * SECOND * i as u32;
        assert!(*at >= due && *at < due + SECOND / 10, "{starts:?}");
    }
    assert_eq!(client.stats().polite_waits, 3);
}

#[tokio::test(start_paused = true)]
async fn an_origins_delay_given_to_the_builder_holds_from_its_first_request() {
    let slow = TestServer::start(Script::new().always(Reply::ok("slow"))).await;
    let other = TestServer::start(Script::new().always(Reply::ok("other"))).await;
    let client = tether::Client::builder()
        .min_delay_for_host(slow.url("/"), 2 * SECOND)
        .build()
        .expect("client");
    let gaps = gaps_of(&client, slow.url("/page"), 4).await;
    assert!(all_near(&gaps, 2 * SECOND), "slow: {gaps:?}");
    let gaps = gaps_of(&client, other.url("/page"), 4).await;
    assert!(gaps.iter().all(|g| *g < SECOND / 20), "other: {gaps:?}");
    assert_eq!(client.stats().polite_waits, 3);
    let err = tether::Client::builder()
        .min_delay_for_host("ftp://127.0.0.1/", SECOND)
        .build()
        .expect_err("an ftp URL names no origin of this client");
    assert!(err.is_builder(), "{err:?}");
}

/// A client without status retries (the pause alone is under test), pausing at most
/// `max_pause`.
fn client_pausing_at_most(max_pause: Duration) -> tether::Client {
    tether::Client::builder()
        .retry(tether::RetryPolicy::never())
        .max_host_pause(max_pause)
        .build()
        .expect("client")
}

/// The status of a GET of `url`.
async fn status_of(client: &tether::Client, url: String) -> u16 {
    client
        .get(url)
        .send()
        .await
        .expect("answer")
        .status()
        .as_u16()
}

fn answer_429_then_ok(retry_after: &str) -> Script {
    Script::new().sequence(vec![
        Reply::status(429).with_header("retry-after", retry_after)
    ])
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_pauses_the_host_for_every_request_of_the_client() {
    let busy = TestServer::start(answer_429_then_ok("5")).await;
    let other = TestServer::start(Script::new().always(Reply::ok("other"))).await;
    let client = client_pausing_at_most(tether::DEFAULT_MAX_HOST_PAUSE);
    let t0 = Instant::now();
    let resp = client.get(busy.url("/first")).send().await.expect("429");
    assert_eq!(resp.status(), 429);
    drop(resp);
    // Another host is not held back.
    assert!(timed_get(&client, other.url("/"), t0).await < SECOND / 10);
    // Every request to the paused host waits until the pause is over, holding no slot.
    let waiting = {
        let (client, url) = (client.clone(), busy.url("/second"));
        tokio::spawn(async move { timed_get(&client, url, t0).await })
    };
    tokio::time::sleep(SECOND).await;
    assert_eq!(client.stats().waiters, 0);
    assert_eq!(busy.stats().requests, 1, "nothing sent during the pause");
    let second = timed_get(&client, busy.url("/third"), t0).await;
    let first = waiting.await.expect("task");
    for at in [first, second] {
        assert!(at >= 5 * SECOND && at < 5 * SECOND + SECOND / 10, "{at:?}");
    }
    let stats = client.stats();
    assert_eq!((stats.host_pauses, stats.polite_waits), (1, 2), "{stats:?}");
}

#[tokio::test(start_paused = true)]
async fn a_pause_is_bounded_and_a_deadline_inside_it_fails_at_once() {
    let busy = TestServer::start(answer_429_then_ok("3600")).await;
    let client = client_pausing_at_most(2 * SECOND);
    let t0 = Instant::now();
    assert_eq!(status_of(&client, busy.url("/")).await, 429);
    // A request whose deadline comes before the pause ends fails at once, unsent.
    let err = client
        .get(busy.url("/hurried"))
        .timeout(SECOND)
        .send()
        .await
        .expect_err("paused past the deadline");
    assert!(err.is_timeout(), "{err}");
    assert!(!err.request_written());
    assert!(
        t0.elapsed() < SECOND / 10,
        "it did not wait: {:?}",
        t0.elapsed()
    );
    // The hour asked for is held to max_host_pause.
    let at = timed_get(&client, busy.url("/patient"), t0).await;
    assert!(at >= 2 * SECOND && at < 2 * SECOND + SECOND / 10, "{at:?}");
    assert_eq!(busy.stats().requests, 2);

    // max_host_pause(ZERO): answers pause nothing.
    let unpaused = client_pausing_at_most(Duration::ZERO);
    let busy = TestServer::start(answer_429_then_ok("30")).await;
    let t1 = Instant::now();
    assert_eq!(status_of(&unpaused, busy.url("/")).await, 429);
    assert!(timed_get(&unpaused, busy.url("/"), t1).await < SECOND / 10);
    assert_eq!(unpaused.stats().host_pauses, 0);
}

/// A server that notes when (real time) each request arrived, and drips its first answer
/// over `slow` (the connection is busy that long); `then` answers the others in order.
fn noting_arrivals(
    slow: Duration,
    then: Vec<Reply>,
) -> (Script, Arc<Mutex<Vec<std::time::Instant>>>) {
    let arrivals: Arc<Mutex<Vec<std::time::Instant>>> = Arc::default();
    let seen = arrivals.clone();
    let script = Script::new().respond(move |req| {
        seen.lock().unwrap().push(std::time::Instant::now());
        match req.seq {
            0 => Reply::Drip {
                head: b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\n".to_vec(),
                body: b"slow".to_vec(),
                every: slow / 4,
            },
            n => then.get(n - 1).cloned().unwrap_or_else(|| Reply::ok("ok")),
        }
    });
    (script, arrivals)
}

/// Sends a slow GET, then `more` GETs that wait behind it at the host's cap of one, and
/// returns when each request reached the server.
async fn slow_then_queued(
    client: &tether::Client,
    server: &TestServer,
    arrivals: &Mutex<Vec<std::time::Instant>>,
    more: usize,
) -> Vec<std::time::Instant> {
    let mut tasks = tokio::task::JoinSet::new();
    let (c, url) = (client.clone(), server.url("/slow"));
    tasks.spawn(async move { c.get(url).send().await?.bytes().await.map(drop) });
    while arrivals.lock().unwrap().is_empty() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    for i in 0..more {
        let (c, url) = (client.clone(), server.url(&format!("/queued/{i}")));
        tasks.spawn(async move { c.get(url).send().await?.bytes().await.map(drop) });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("task").expect("GET");
    }
    arrivals.lock().unwrap().clone()
}

// Real time (lower bounds only, which a slow machine cannot break): the server's clock
// must see the requests apart, and a paused tokio clock would pass in no real time.
#[tokio::test]
async fn requests_queued_behind_a_slow_response_still_go_out_spaced() {
    let delay = Duration::from_millis(200);
    let (script, arrivals) = noting_arrivals(Duration::from_millis(600), vec![]);
    let server = TestServer::start(script).await;
    let client = tether::Client::builder()
        .min_delay_per_host(delay)
        .max_connections_per_host(1)
        .build()
        .expect("client");
    let seen = slow_then_queued(&client, &server, &arrivals, 3).await;
    assert_eq!(seen.len(), 4);
    // The three that waited behind the slow answer had their starts long past when it
    // ended; they still go out `delay` apart, not back to back.
    let slack = Duration::from_millis(20);
    for (i, pair) in seen.windows(2).enumerate() {
        let gap = pair[1] - pair[0];
        assert!(
            gap + slack >= delay,
            "requests {i} and {} {gap:?} apart",
            i + 1
        );
    }
}

#[tokio::test]
async fn a_pause_holds_back_requests_already_waiting_in_line() {
    let (script, arrivals) = noting_arrivals(
        Duration::from_millis(400),
        vec![Reply::status(429).with_header("retry-after", "1")],
    );
    let server = TestServer::start(script).await;
    let client = tether::Client::builder()
        .retry(tether::RetryPolicy::never())
        .max_connections_per_host(1)
        .build()
        .expect("client");
    let seen = slow_then_queued(&client, &server, &arrivals, 3).await;
    assert_eq!(seen.len(), 4);
    // The second answered 429 with `Retry-After: 1`; the two in line behind it were
    // queued before the pause, and still wait it out.
    let waited = seen[2] - seen[1];
    assert!(
        waited + Duration::from_millis(100) >= SECOND,
        "the next went {waited:?} after the 429"
    );
    assert_eq!(client.stats().host_pauses, 1);
}
