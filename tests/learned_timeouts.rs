//! Learned idle timeouts (DESIGN.md §1b "Stale connections, beyond what servers
//! advertise"), on a real round trip: every test goes through the delaying proxy
//! (`support/delay.rs`, 10 ms each way) to a server that closes idle connections after
//! `T` without saying so (the scripted server, or nginx with `keepalive_timeout 600ms`).
//!
//! Sequential requests leave gaps uniform in [0.8 T, 1.2 T] (a seeded generator). A
//! request sent at idle `x` reaches the server at its idle `x + RTT`, and the server's FIN
//! reaches the client at idle `T`: a request sent in [T - RTT, T) meets a closed connection,
//! which a POST cannot survive. Without learning that is about RTT / (0.4 T) of the POSTs;
//! with learning, after the first FIN or two, none but a rare one. An ideal client (one
//! that knows `T` and the round trip) opens a connection for every gap of at least
//! `T - RTT`; the learning client may open at most 10% more.
//!
//! The figures are printed: `cargo test --test learned_timeouts -- --nocapture`. They are
//! timing facts of a real socket, so the assertions leave room: at least 2 losses without
//! learning (about 8 are expected), at most 2 after the first 5 requests with it.

mod servers;
mod support;

use std::time::Duration;

use support::delay::DelayProxy;
use support::{ConnPolicy, Reply, Script, TestServer};

const ONE_WAY: Duration = Duration::from_millis(10);
const RTT: Duration = Duration::from_millis(20);
/// The server's idle timeout, never advertised.
const T: Duration = Duration::from_millis(600);
const REQUESTS: usize = 100;
/// Requests before the losses are counted against learning: it needs a FIN to learn from.
const WARM_UP: usize = 5;

/// The idle gaps after each request but the last: uniform in [0.8 T, 1.2 T].
fn gaps(seed: u64) -> Vec<Duration> {
    let mut state = seed;
    let low = T.as_micros() as u64 * 8 / 10;
    let span = T.as_micros() as u64 * 4 / 10;
    (1..REQUESTS)
        .map(|_| {
            // splitmix64
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            Duration::from_micros(low + (z ^ (z >> 31)) % span)
        })
        .collect()
}

/// Connections an ideal client opens: the first, and one after every gap past `T - RTT`.
fn ideal_connections(gaps: &[Duration]) -> u64 {
    1 + gaps.iter().filter(|g| **g >= T - RTT).count() as u64
}

#[derive(Debug)]
struct Run {
    /// Which requests failed (all with `ClosedBeforeResponse`).
    lost: Vec<usize>,
    opened: u64,
    ideal: u64,
    expired_learned: u64,
    learned: Option<Duration>,
}

impl Run {
    fn lost_after_warm_up(&self) -> usize {
        self.lost.iter().filter(|i| **i >= WARM_UP).count()
    }

    fn print(&self, what: &str) {
        println!(
            "{what}: {} of {REQUESTS} lost ({} after the first {WARM_UP}), {} connections opened \
             (ideal {}, +{:.1}%), {} expired at the learned timeout, learned {:?}",
            self.lost.len(),
            self.lost_after_warm_up(),
            self.opened,
            self.ideal,
            (self.opened as f64 / self.ideal as f64 - 1.0) * 100.0,
            self.expired_learned,
            self.learned,
        );
    }
}

/// Sends sequential requests (POSTs, or GETs) to `url`, one more than `gaps`, with those
/// gaps between them.
async fn run(client: &tether::Client, url: &str, post: bool, gaps: &[Duration]) -> Run {
    let mut lost = Vec::new();
    for i in 0..=gaps.len() {
        let req = if post {
            client.post(format!("{url}{i}")).body("payload")
        } else {
            client.get(format!("{url}{i}"))
        };
        match req.send().await {
            Ok(resp) => {
                assert_eq!(resp.status(), 200, "request {i}");
                resp.bytes()
                    .await
                    .unwrap_or_else(|e| panic!("request {i}: {e}"));
            }
            Err(e) if e.kind() == tether::ErrorKind::ClosedBeforeResponse => lost.push(i),
            Err(e) => panic!("request {i}: {e}"),
        }
        if let Some(gap) = gaps.get(i).filter(|g| !g.is_zero()) {
            tokio::time::sleep(*gap).await;
        }
    }
    let stats = client.stats();
    Run {
        lost,
        opened: stats.connections_opened,
        ideal: ideal_connections(gaps),
        expired_learned: stats.expired_learned_timeout,
        learned: stats.hosts.iter().find_map(|h| h.learned_idle_timeout),
    }
}

/// The scripted server closing idle connections after `T`, behind the delaying proxy.
async fn scripted() -> (TestServer, DelayProxy) {
    let server = TestServer::start(
        Script::new()
            .always(Reply::ok("ok"))
            .conn_policy(ConnPolicy {
                idle_close: Some(T),
                ..ConnPolicy::default()
            })
            .lifetime(Duration::from_secs(180)),
    )
    .await;
    let proxy = DelayProxy::start(server.addr(), ONE_WAY).await;
    (server, proxy)
}

fn client(learn: bool) -> tether::Client {
    tether::Client::builder()
        .learn_idle_timeouts(learn)
        .build()
        .expect("client")
}

/// What learning must achieve on any server that closes idle connections after `T`.
fn check_learned(run: &Run) {
    assert!(
        run.lost_after_warm_up() <= 2,
        "learning should keep POSTs out of the close race: {run:?}"
    );
    assert!(
        run.opened * 10 <= run.ideal * 11,
        "at most 10% more connections than an ideal client: {run:?}"
    );
    assert!(run.expired_learned > 0, "{run:?}");
    let learned = run.learned.expect("a learned timeout");
    assert!(
        learned >= T - Duration::from_millis(5) && learned <= T + Duration::from_millis(20),
        "learned {learned:?} for a server timeout of {T:?}"
    );
}

/// Side by side (two servers, two proxies, the same gaps, one runtime): without learning
/// POSTs are lost to the close race; with it, they are not.
#[tokio::test]
async fn learning_keeps_posts_out_of_the_close_race_that_loses_them_without() {
    let ((_off_server, off_proxy), (_on_server, on_proxy)) = tokio::join!(scripted(), scripted());
    let gaps = gaps(1);
    let (off_client, on_client) = (client(false), client(true));
    let (off_url, on_url) = (off_proxy.url("/post/"), on_proxy.url("/post/"));
    let (off, on) = tokio::join!(
        run(&off_client, &off_url, true, &gaps),
        run(&on_client, &on_url, true, &gaps),
    );
    off.print("scripted server, learning off, POSTs");
    println!(
        "  expected about RTT / (0.4 T) = {:.1}%",
        RTT.as_secs_f64() / (0.4 * T.as_secs_f64()) * 100.0
    );
    on.print("scripted server, learning on, POSTs");
    assert!(
        off.lost.len() >= 2,
        "the close race should cost POSTs without learning: {off:?}"
    );
    assert_eq!(off.expired_learned, 0);
    assert_eq!(off.learned, None, "nothing is learned when learning is off");
    check_learned(&on);
}

#[tokio::test]
async fn learning_keeps_posts_out_of_nginx_close_race() {
    let test = "learning_keeps_posts_out_of_nginx_close_race";
    if !servers::installed("nginx", "-v", test) {
        return;
    }
    let nginx = servers::start_nginx(
        test,
        &servers::NginxConf {
            // One parameter: nginx sends no `Keep-Alive` header.
            keepalive_timeout: "600ms",
            keepalive_requests: 1000,
        },
    );
    let upstream = std::net::SocketAddr::from(([127, 0, 0, 1], nginx.port()));
    let proxy = DelayProxy::start(upstream, ONE_WAY).await;
    let learning = client(true);
    let posts = run(&learning, &proxy.url("/post/"), true, &gaps(2)).await;
    posts.print("nginx, learning on, POSTs");
    check_learned(&posts);

    // GETs on the same client: still no error at all.
    let before = learning.stats().connections_opened;
    let gets = run(&learning, &proxy.url("/get/"), false, &gaps(3)[..30]).await;
    println!(
        "nginx, learning on, 31 GETs: {} lost, {} connections opened",
        gets.lost.len(),
        gets.opened - before
    );
    assert!(gets.lost.is_empty(), "{gets:?}");
}

/// The FIN is timed when it arrives (the idle socket is watched), not when the connection
/// is next looked at: a server closing after 300 ms, a request 1.5 s later.
#[tokio::test]
async fn a_fin_is_timed_when_it_arrives() {
    let idle_close = Duration::from_millis(300);
    let server = TestServer::start(
        Script::new()
            .always(Reply::ok("ok"))
            .conn_policy(ConnPolicy {
                idle_close: Some(idle_close),
                ..ConnPolicy::default()
            }),
    )
    .await;
    let client = client(true);
    for i in 0..2 {
        let resp = client
            .post(server.url(&format!("/{i}")))
            .body("x")
            .send()
            .await
            .unwrap_or_else(|e| panic!("request {i}: {e}"));
        resp.bytes().await.expect("body");
        if i == 0 {
            tokio::time::sleep(Duration::from_millis(1_500)).await;
        }
    }
    let stats = client.stats();
    let learned = stats.hosts.iter().find_map(|h| h.learned_idle_timeout);
    // Timed at the next request, it would read 1.5 s. The margins allow for a loaded
    // machine: the server's timer or the client's wake may run late, and the client's
    // idle time starts a little after the server's.
    assert!(
        learned.is_some_and(|l| l >= idle_close - Duration::from_millis(50)
            && l < idle_close + Duration::from_millis(500)),
        "learned {learned:?} for a server closing after {idle_close:?}"
    );
    assert_eq!(stats.connections_opened, 2, "{stats:?}");
}

/// The scripted server ending every connection 20 ms after its first response, reading
/// nothing meanwhile.
async fn ending_server() -> TestServer {
    TestServer::start(
        Script::new()
            .always(Reply::ok("ok"))
            .conn_policy(ConnPolicy {
                close_after: Some(1),
                close_delay: Some(Duration::from_millis(20)),
                ..ConnPolicy::default()
            }),
    )
    .await
}

/// Sends `n` requests at once (POSTs, or GETs) to `url` with a number after it; how many
/// failed.
async fn lost_at_once(client: &tether::Client, url: String, post: bool, n: usize) -> usize {
    let mut set = tokio::task::JoinSet::new();
    for i in 0..n {
        let (client, url) = (client.clone(), format!("{url}{i}"));
        set.spawn(async move {
            let req = if post {
                client.post(url).body("payload")
            } else {
                client.get(url)
            };
            req.send().await?.bytes().await
        });
    }
    set.join_all().await.iter().filter(|r| r.is_err()).count()
}

/// A server that ends every connection 20 ms after its first response, without
/// `Connection: close`, reading nothing meanwhile: the next request on the connection,
/// sent microseconds after the response, meets the close. Every such GET is a close race,
/// retried on a new connection while the client's retry budget lasts (a fifth of the
/// requests, plus one a second over 10 s), then lost; every such POST is lost. Learning
/// takes the responses the server gives a connection from two agreeing ends and closes
/// connections at that count: after the two races that teach it, nothing is lost.
#[tokio::test]
async fn a_server_ending_connections_after_each_response_is_learned_and_loses_nothing() {
    /// Sequential requests, one right after another; how many failed.
    async fn lost(client: &tether::Client, url: &str, post: bool, n: usize) -> usize {
        run(client, url, post, &vec![Duration::ZERO; n - 1])
            .await
            .lost
            .len()
    }
    let (off_server, on_server) = tokio::join!(ending_server(), ending_server());
    let (off, on) = (client(false), client(true));
    let gets_off = lost(&off, &off_server.url("/get/"), false, 100).await;
    let posts_off = lost(&off, &off_server.url("/post/"), true, 20).await;
    let gets_on = lost(&on, &on_server.url("/get/"), false, 100).await;
    let learning = on.stats();
    let posts_on = lost(&on, &on_server.url("/post/"), true, 20).await;
    let stats = on.stats();
    println!(
        "learning off: {gets_off} of 100 GETs and {posts_off} of 20 POSTs lost; on: \
         {gets_on} GETs and {posts_on} POSTs lost, {} close races, {} connections closed \
         at the learned count",
        stats.retries_close_race, stats.expired_learned_max
    );
    assert!(gets_off > 0 && posts_off > 0, "{:?}", off.stats());
    assert_eq!((gets_on, posts_on), (0, 0), "{stats:?}");
    assert!(learning.retries_close_race <= 2, "{learning:?}");
    assert_eq!(stats.retries_close_race, learning.retries_close_race);
    assert!(stats.expired_learned_max >= 115, "{stats:?}");
    let learned = stats.hosts.iter().find_map(|h| h.learned_max_responses);
    assert_eq!(learned, Some(1), "{stats:?}");
}

/// The same server, with requests waiting at the host's cap of two: a connection goes
/// from one response straight to the next waiting request, never idle, and its close
/// races are learned from all the same.
#[tokio::test]
async fn responses_per_connection_are_learned_from_connections_handed_to_waiting_requests() {
    let server = ending_server().await;
    let client = tether::Client::builder()
        .max_connections_per_host(2)
        .build()
        .expect("client");
    let gets = lost_at_once(&client, server.url("/get/"), false, 100).await;
    let learning = client.stats();
    let posts = lost_at_once(&client, server.url("/post/"), true, 40).await;
    let stats = client.stats();
    assert_eq!((gets, posts), (0, 0), "{stats:?}");
    assert!(learning.retries_close_race <= 4, "{learning:?}");
    assert_eq!(
        stats.retries_close_race, learning.retries_close_race,
        "{stats:?}"
    );
    let learned = stats.hosts.iter().find_map(|h| h.learned_max_responses);
    assert_eq!(learned, Some(1), "{stats:?}");
}

/// The same server, for longer than a lesson is trusted (5 minutes): once the limit is
/// learned, the client closes every connection at it, so the server's close is never seen
/// again and the two ends that taught it age. A POST must still not go out on a
/// connection that has given the learned count (it would meet the close and be lost); a
/// GET may, and its close race, retried, makes the limit known again. The clock is
/// paused and moved on by hand; the host is used every 55 s meanwhile, so it is not
/// forgotten.
#[tokio::test(start_paused = true)]
async fn an_aged_response_limit_still_keeps_posts_out_of_the_close_race() {
    let server = ending_server().await;
    let client = client(true);
    let url = server.url("/");
    let gets = run(&client, &url, false, &[Duration::ZERO; 9]).await;
    assert!(gets.lost.is_empty(), "{:?}", client.stats());
    let learned = |c: &tether::Client| c.stats().hosts.iter().find_map(|h| h.learned_max_responses);
    assert_eq!(learned(&client), Some(1), "{:?}", client.stats());
    let taught = client.stats().retries_close_race;
    for _ in 0..6 {
        tokio::time::advance(Duration::from_secs(55)).await;
        let resp = client.get(&url).send().await.expect("GET");
        resp.bytes().await.expect("body");
    }
    // 330 s on: the ends have aged, and no longer say for certain.
    assert_eq!(learned(&client), None, "{:?}", client.stats());
    let posts = run(&client, &url, true, &[Duration::ZERO; 19]).await;
    let stats = client.stats();
    assert!(
        posts.lost.is_empty(),
        "POSTs lost: {:?}; {stats:?}",
        posts.lost
    );
    assert_eq!(stats.retries_close_race, taught, "{stats:?}");
    // GETs put the aged limit to the test: their close races are retried and teach it.
    let gets = run(&client, &url, false, &[Duration::ZERO; 9]).await;
    let stats = client.stats();
    println!(
        "after the limit aged: {} of 20 POSTs and {} of 10 GETs lost, {} close races \
         retried to learn it again",
        posts.lost.len(),
        gets.lost.len(),
        stats.retries_close_race - taught
    );
    assert!(
        gets.lost.is_empty(),
        "GETs lost: {:?}; {stats:?}",
        gets.lost
    );
    assert!(stats.retries_close_race > taught, "{stats:?}");
    assert_eq!(learned(&client), Some(1), "{stats:?}");
}

/// The same with requests waiting at the host's cap of two, each connection going from
/// one response straight to the next waiting request: a POST is not handed a connection at
/// the aged limit either.
#[tokio::test(start_paused = true)]
async fn an_aged_response_limit_keeps_posts_off_connections_handed_to_them() {
    let server = ending_server().await;
    let client = tether::Client::builder()
        .max_connections_per_host(2)
        .build()
        .expect("client");
    let learned = |c: &tether::Client| c.stats().hosts.iter().find_map(|h| h.learned_max_responses);
    assert_eq!(
        lost_at_once(&client, server.url("/get/"), false, 40).await,
        0
    );
    assert_eq!(learned(&client), Some(1), "{:?}", client.stats());
    for _ in 0..6 {
        tokio::time::advance(Duration::from_secs(55)).await;
        assert_eq!(
            lost_at_once(&client, server.url("/get/"), false, 1).await,
            0
        );
    }
    assert_eq!(learned(&client), None, "{:?}", client.stats());
    let races = client.stats().retries_close_race;
    let posts = lost_at_once(&client, server.url("/post/"), true, 40).await;
    let stats = client.stats();
    assert_eq!(posts, 0, "{stats:?}");
    assert_eq!(stats.retries_close_race, races, "{stats:?}");
}
