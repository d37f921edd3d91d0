//! Soak: 20,000 requests from 16 tasks through one client capped at 4 connections, against
//! a scripted server that ends connections at random: after a random number of responses,
//! when idle for a random while (by closing, or by sending an unsolicited `408`), and now
//! and then by closing right after reading a request without answering it (the close
//! race). The randomness is a seeded xorshift keyed by connection number and request id,
//! so a run is repeatable up to the scheduling of tasks.
//!
//! Every request carries a unique id (path and `X-Request-Id`); the server echoes it and
//! records every request it receives. Invariants:
//! - GETs: no error at all, each answered with its own id.
//! - POSTs (no `Idempotency-Key`): none received twice; every success was received once;
//!   every failure is `ClosedBeforeResponse`; every POST not received failed that way, and
//!   so did every POST received but not answered, without a retry.
//!
//! The soak runs twice more through the delaying proxy (`support/delay.rs`, 2 ms each
//! way), side by side, with the learned idle timeouts on and off: the same invariants
//! hold, and the POSTs lost to the servers' idle closes are printed for both.
//!
//! Bounded in count and in time; the figures are printed (`cargo test --test soak --
//! --nocapture`).

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::delay::DelayProxy;
use support::rng::XorShift;
use support::{ConnPolicy, Reply, Script, TestServer};

const REQUESTS: u64 = 20_000;
const TASKS: u64 = 16;
const CAP: usize = 4;
const SEED: u64 = 0x5eed_7e7e_c0ff_ee11;
/// The whole soak must end within this (real time), or the test fails.
const TIME_LIMIT: Duration = Duration::from_secs(120);

/// Connection `conn`'s policy: a quarter live until idle or forever, the rest close after
/// 1 to 40 responses; a third close when idle 40–120 ms, a third send `408` then, a third
/// never time out. (The idle timer also runs before the first request, so it is kept
/// well above the time a client takes to write its request after connecting.)
fn conn_policy(conn: usize) -> ConnPolicy {
    let mut rng = XorShift::new(0xc0_0000 + conn as u64, SEED);
    let close_after = match rng.below(4) {
        0 => None,
        _ => Some(1 + rng.below(40) as usize),
    };
    let idle = Some(Duration::from_millis(40 + rng.below(81)));
    let (idle_close, idle_408) = match rng.below(3) {
        0 => (idle, None),
        1 => (None, idle),
        _ => (None, None),
    };
    ConnPolicy {
        close_after,
        idle_close,
        idle_408,
        ..ConnPolicy::default()
    }
}

/// The id in a request target `/soak/<id>`.
fn id_of(target: &str) -> u64 {
    target
        .strip_prefix("/soak/")
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("unexpected request target {target:?}"))
}

fn is_post(id: u64) -> bool {
    id % 3 == 0
}

/// What one request ended with, as the client saw it.
#[derive(Debug)]
enum Outcome {
    Ok {
        status: u16,
        body: String,
    },
    /// The kind, and the error in full for failure messages.
    Err(tether::ErrorKind, String),
}

/// Time is cut into periods; each starts with a lull of random length in which no task
/// sends, so every idle connection sits idle about that long, around the server's idle
/// timers. Waits out the current lull, if any.
async fn wait_out_lull(start: Instant) {
    const PERIOD_MS: u128 = 200;
    let since = start.elapsed();
    let period = since.as_millis() / PERIOD_MS;
    let into = since - Duration::from_millis((period * PERIOD_MS) as u64);
    let lull =
        Duration::from_millis(20 + XorShift::new(0x11_0000 + period as u64, SEED).below(121));
    if into < lull {
        tokio::time::sleep(lull - into).await;
    }
}

/// Sends requests `first, first + TASKS, ...`, outside the lulls, with a short random
/// pause now and then.
async fn run_task(
    client: tether::Client,
    url: String,
    first: u64,
    start: Instant,
) -> Vec<(u64, Outcome)> {
    let mut rng = XorShift::new(0x7a_0000 + first, SEED);
    let mut out = Vec::new();
    let mut id = first;
    while id < REQUESTS {
        wait_out_lull(start).await;
        let target = format!("{url}/soak/{id}");
        let request = if is_post(id) {
            client.post(target).body(format!("payload {id}"))
        } else {
            client.get(target)
        };
        let outcome = match request.header("X-Request-Id", id.to_string()).send().await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                match resp.text().await {
                    Ok(body) => Outcome::Ok { status, body },
                    Err(e) => Outcome::Err(e.kind(), format!("{e:?}")),
                }
            }
            Err(e) => Outcome::Err(e.kind(), format!("{e:?}")),
        };
        out.push((id, outcome));
        if rng.below(20) == 0 {
            tokio::time::sleep(Duration::from_millis(rng.below(20))).await;
        }
        id += TASKS;
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_gets_never_fail_and_posts_are_never_sent_twice() {
    soak("soak", None, true).await;
}

/// Through a 4 ms round trip, learning on and off side by side.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_through_a_round_trip_with_learning_on_and_off() {
    let one_way = Some(Duration::from_millis(2));
    let (on, off) = tokio::join!(
        soak("soak via proxy, learning on", one_way, true),
        soak("soak via proxy, learning off", one_way, false),
    );
    println!(
        "soak via proxy: POSTs lost, learning on {} (of which never received {}), \
         learning off {} (never received {}); {} and {} expired at the learned timeout",
        on.posts_lost,
        on.posts_not_received,
        off.posts_lost,
        off.posts_not_received,
        on.expired_learned,
        off.expired_learned
    );
    assert_eq!(off.expired_learned, 0);
}

/// What a soak run counted, beyond what it asserted.
struct Figures {
    posts_lost: u64,
    posts_not_received: u64,
    expired_learned: u64,
}

/// One soak: `one_way` puts the delaying proxy between client and server. Asserts the
/// invariants, prints the figures under `label`.
async fn soak(label: &str, one_way: Option<Duration>, learn: bool) -> Figures {
    // Ids the server read and then closed on without answering.
    let unanswered: Arc<Mutex<Vec<u64>>> = Arc::default();
    let noted = Arc::clone(&unanswered);
    let script = Script::new()
        .per_conn(conn_policy)
        .respond(move |req| {
            let id = id_of(&req.target);
            let mut rng =
                XorShift::new(0x5e_0000_0000 + (id << 8) + req.index_on_conn as u64, SEED);
            // GETs only on a reused connection (a GET on a fresh one is not retried, by
            // design); POSTs anywhere.
            let may_close = req.method == "POST" || req.index_on_conn > 0;
            if may_close && rng.below(40) == 0 {
                noted.lock().unwrap().push(id);
                return Reply::CloseWithoutAnswer;
            }
            Reply::ok(format!("id {id}"))
        })
        .lifetime(TIME_LIMIT + Duration::from_secs(10));
    let server = TestServer::start(script).await;
    let proxy = match one_way {
        Some(d) => Some(DelayProxy::start(server.addr(), d).await),
        None => None,
    };
    let addr = proxy.as_ref().map_or(server.addr(), |p| p.addr());
    let client = tether::Client::builder()
        .max_connections_per_host(CAP)
        .timeout(Duration::from_secs(20))
        .learn_idle_timeouts(learn)
        .build()
        .unwrap();

    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for first in 0..TASKS {
        let url = format!("http://{addr}");
        tasks.spawn(run_task(client.clone(), url, first, start));
    }
    let mut outcomes: Vec<(u64, Outcome)> = Vec::with_capacity(REQUESTS as usize);
    let joined = tokio::time::timeout(TIME_LIMIT, async {
        while let Some(done) = tasks.join_next().await {
            outcomes.extend(done.unwrap());
        }
    })
    .await;
    let elapsed = start.elapsed();
    assert!(
        joined.is_ok(),
        "the soak did not finish within {TIME_LIMIT:?}: {} requests done; client {:?}; server {:?}",
        outcomes.len(),
        client.stats(),
        server.stats()
    );
    assert_eq!(outcomes.len() as u64, REQUESTS);

    // What the server received, per id, and what it did not answer.
    let mut received: HashMap<u64, usize> = HashMap::new();
    let recorded = server.requests();
    // Where the server saw `id`: (connection, index on it) for each time.
    let seen_at = |id: u64| -> Vec<(usize, usize)> {
        recorded
            .iter()
            .filter(|r| id_of(&r.target) == id)
            .map(|r| (r.conn, r.index_on_conn))
            .collect()
    };
    for req in &recorded {
        let id = id_of(&req.target);
        assert_eq!(req.header("x-request-id"), Some(id.to_string().as_str()));
        assert_eq!(req.method, if is_post(id) { "POST" } else { "GET" });
        if is_post(id) {
            assert_eq!(req.body, format!("payload {id}").into_bytes(), "id {id}");
        }
        *received.entry(id).or_default() += 1;
    }
    let mut unanswered_times: HashMap<u64, usize> = HashMap::new();
    for id in unanswered.lock().unwrap().iter() {
        *unanswered_times.entry(*id).or_default() += 1;
    }

    let mut errors: HashMap<(&str, tether::ErrorKind), u64> = HashMap::new();
    let (mut get_ok, mut post_ok, mut post_unanswered, mut post_not_received) = (0, 0, 0, 0);
    for (id, outcome) in &outcomes {
        let id = *id;
        let got = received.get(&id).copied().unwrap_or(0);
        let dropped = unanswered_times.get(&id).copied().unwrap_or(0);
        if let Outcome::Err(kind, _) = outcome {
            let method = if is_post(id) { "POST" } else { "GET" };
            *errors.entry((method, *kind)).or_default() += 1;
        }
        if !is_post(id) {
            // Every GET succeeds with its own answer; it was received once, plus once
            // more for each time the server dropped it unanswered (then retried).
            match outcome {
                Outcome::Ok { status: 200, body } if *body == format!("id {id}") => get_ok += 1,
                other => panic!(
                    "GET {id} failed: {other:?}; seen at (conn, index) {:?}; dropped {dropped}×",
                    seen_at(id)
                ),
            }
            assert_eq!(
                got,
                1 + dropped,
                "GET {id}: received {got}×, dropped {dropped}×"
            );
            continue;
        }
        assert!(got <= 1, "POST {id} was received {got} times");
        match outcome {
            Outcome::Ok { status, body } => {
                assert_eq!(
                    (*status, body.as_str(), got, dropped),
                    (200, format!("id {id}").as_str(), 1, 0),
                    "POST {id} succeeded: (status, body, received, dropped unanswered)"
                );
                post_ok += 1;
            }
            Outcome::Err(kind, error) => {
                assert_eq!(
                    *kind,
                    tether::ErrorKind::ClosedBeforeResponse,
                    "POST {id} failed: {error}; seen at (conn, index) {:?}; dropped {dropped}×",
                    seen_at(id)
                );
                // Received and answered would have been a success.
                assert_eq!(
                    got, dropped,
                    "POST {id}: answered by the server, yet failed"
                );
                if got == 1 {
                    post_unanswered += 1;
                } else {
                    post_not_received += 1;
                }
            }
        }
    }

    let c = client.stats();
    let s = server.stats();
    let mut error_list: Vec<_> = errors.iter().collect();
    error_list.sort_by_key(|((m, k), _)| (*m, format!("{k:?}")));
    println!("{label}: {REQUESTS} requests from {TASKS} tasks, cap {CAP}, in {elapsed:.2?}");
    println!(
        "{label}: GET ok {get_ok}; POST ok {post_ok}, POST received but unanswered {post_unanswered}, \
         POST never received {post_not_received}; errors by kind {error_list:?}"
    );
    println!(
        "{label}: client: connections opened {}, reuses {}, requests sent {}, retries: close race {}, \
         408 {}, nothing written {}; idle closed by server {}, unsolicited 408s {}, \
         evicted (here: closed so a retry gets a new connection) {}, expired at the learned \
         idle timeout {}",
        c.connections_opened,
        c.reuses,
        c.requests_sent,
        c.retries_close_race,
        c.retries_408,
        c.retries_nothing_written,
        c.idle_closed_by_server,
        c.unsolicited_responses,
        c.evicted,
        c.expired_learned_timeout
    );
    println!(
        "{label}: server: accepted {}, requests {}, closed by server {}, by client {}, max open {}, \
         dropped unanswered {}",
        s.accepted,
        s.requests,
        s.closed_by_server,
        s.closed_by_client,
        s.max_open,
        unanswered_times.values().sum::<usize>()
    );

    assert_eq!(
        get_ok + post_ok + post_unanswered + post_not_received,
        REQUESTS
    );
    assert_eq!(c.connections_opened, s.accepted as u64, "{c:?}\n{s:?}");
    assert!(c.open <= CAP, "{c:?}");
    // The soak did exercise what it is about.
    let get_dropped = unanswered_times
        .iter()
        .filter(|(id, _)| !is_post(**id))
        .map(|(_, n)| *n as u64)
        .sum::<u64>();
    assert!(
        get_dropped > 0 && post_unanswered > 0,
        "no close race happened"
    );
    assert!(
        c.retries_close_race >= get_dropped,
        "each GET dropped unanswered was retried: {c:?}"
    );
    assert!(c.reuses > 0 && s.closed_by_server > 0, "{c:?}\n{s:?}");
    Figures {
        posts_lost: post_unanswered + post_not_received,
        posts_not_received: post_not_received,
        expired_learned: c.expired_learned_timeout,
    }
}
