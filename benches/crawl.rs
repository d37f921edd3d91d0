//! Crawling, in three parts; every run is one client in a fresh process, against its own
//! server children (listeners on 127.A.B.C, one per host).
//!
//! 1. **Flat cost.** Client CPU per request for 10, 1,000 and 10,000 hosts at the same
//!    concurrency (64 requests in flight, 64 workers), for tether, hyper-util and reqwest
//!    (and the floor, `common/floor.rs`: about the least a client can do per request, to
//!    show what is the kernel's) with the same connection budget: up to 8 connections per
//!    host, all kept idle (tether's global cap is raised past what the run opens). A warm-up first sends one request to
//!    every host, then rehearses the measured pass (the same order); then GETs of
//!    1 KiB in a random (seeded) host order are measured. So each host has the connections
//!    it needs waiting (the table shows the few opened while measuring) and what grows with
//!    the hosts is the cost of finding them (the pool's maps, colder caches), not of
//!    opening them. Three rounds of the twelve runs (one round in quick mode); the table
//!    shows each number's median. It also shows the TCP segments sent per request (by
//!    client and servers: the machine's count, from `/proc/net/snmp`): two when every
//!    acknowledgement rides on the next request or response, more when a connection
//!    waits so long between uses that the kernel acknowledges a response on its own.
//! 2. **A polite crawl.** 1,000 hosts, at most 2 connections per host and 256 in all,
//!    GETs in a random host order driven by 512 workers: throughput, client CPU, the
//!    connections the servers accepted, the most any one host had open at once (the
//!    servers count; the politeness cap says 2), the most open at once over all hosts, and
//!    the client's peak memory (heap through a counting allocator, and peak RSS).
//!    tether enforces both caps itself; hyper-util and reqwest get a semaphore per host and
//!    a global one, held from before the request until its body has been read. Those bound
//!    requests, not connections: their pools keep every host's idle connections (up to
//!    2,000), where tether's global cap bounds connections. A fourth run gives tether the
//!    same budget: 2,000 connections, with 256 requests at once held by a semaphore.
//! 3. **Memory over 100,000 hosts** (tether): two GETs per host, the hosts taken in order
//!    and each host's second request 64 hosts after its first (a crawl frontier), caps 2
//!    and 256, 128 workers. Sampled every 20 ms: the hosts the pool holds state for and the
//!    heap. Printed: the heap per host in use, and what is left after the crawl, once the
//!    idle connections have expired (a 1 s idle timeout here).
//!
//! `cargo bench --bench crawl`; quick mode (fewer requests, 20,000 hosts in part 3):
//! `TETHER_BENCH_QUICK=1`; one part only: `TETHER_BENCH_PART=flat|polite|memory`.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::clients::{AnyClient, Caps, Which};
use common::server::{Server, HOSTS_PER_CHILD};

#[global_allocator]
static ALLOC: common::Counting = common::Counting;

const BODY: usize = 1024;

/// Part 1: host counts, concurrency, per-host cap.
const FLAT_HOSTS: [usize; 3] = [10, 1_000, 10_000];
const FLAT_WORKERS: usize = 64;
const FLAT_PER_HOST: usize = 8;
/// tether's global cap in part 1: more than the 10,000-host run opens.
const FLAT_TOTAL: usize = 16_000;
/// Part 1's clients: the three compared, and the floor (`common/floor.rs`), about the least
/// a keep-alive client can do per request, which shows how much of the cost, and of its
/// growth with the hosts, is the kernel's.
const FLAT_CLIENTS: [Which; 4] = [
    Which::Tether,
    Which::HyperUtil,
    Which::Reqwest,
    Which::Floor,
];

/// Server children in part 1, the same for every host count (as many as the largest
/// needs): with one child for 10 hosts and two for 10,000, the larger run would meet
/// servers that sleep between requests, whose wake-ups its sends pay for.
const FLAT_SERVER_CHILDREN: usize = FLAT_HOSTS[FLAT_HOSTS.len() - 1].div_ceil(HOSTS_PER_CHILD);

/// Part 2.
const HOSTS: usize = 1_000;
const PER_HOST: usize = 2;
const TOTAL: usize = 256;
const WORKERS: usize = 512;

/// Part 3.
const MEMORY_WORKERS: usize = 128;
const MEMORY_LAG: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Run {
    Flat(usize, Which),
    Polite(&'static str, Which, usize, bool),
    Memory,
}

/// Every run, in order: the flat-cost runs in rounds (medians shown), so that noise
/// falls on every client and host count alike.
fn runs() -> Vec<Run> {
    let mut runs = Vec::new();
    for _ in 0..flat_rounds() {
        for hosts in FLAT_HOSTS {
            for which in FLAT_CLIENTS {
                runs.push(Run::Flat(hosts, which));
            }
        }
    }
    runs.extend([
        Run::Polite("tether", Which::Tether, TOTAL, false),
        Run::Polite("hyper-util", Which::HyperUtil, TOTAL, false),
        Run::Polite("reqwest", Which::Reqwest, TOTAL, false),
        Run::Polite("tether, 2000 conns", Which::Tether, HOSTS * PER_HOST, true),
        Run::Memory,
    ]);
    runs
}

fn part_wanted(run: Run) -> bool {
    let part = match run {
        Run::Flat(..) => "flat",
        Run::Polite(..) => "polite",
        Run::Memory => "memory",
    };
    std::env::var("TETHER_BENCH_PART").map_or(true, |p| p.is_empty() || p == part)
}

fn main() {
    common::server::run_if_child();
    let runs = runs();
    if let Some(i) = common::child_run() {
        let numbers = match runs[i] {
            Run::Flat(hosts, which) => flat(hosts, which),
            Run::Polite(_, which, total, gate) => polite(which, total, gate),
            Run::Memory => memory(),
        };
        let line: Vec<String> = numbers.iter().map(|n| n.to_string()).collect();
        println!("RESULT {}", line.join(" "));
        return;
    }
    let quick = common::quick();
    println!(
        "tether crawl benchmark{}",
        if quick { " (quick)" } else { "" }
    );
    println!("machine: {}\n", common::machine());
    let mut results: Vec<(Run, Vec<f64>)> = Vec::new();
    for (i, run) in runs.iter().enumerate() {
        if !part_wanted(*run) {
            continue;
        }
        let out = common::run_in_child(i);
        let numbers = out
            .first()
            .expect("a result line")
            .split(' ')
            .map(|v| v.parse().expect("a number"))
            .collect();
        results.push((*run, numbers));
    }
    print_flat(&results);
    print_polite(&results);
    print_memory(&results);
}

/// Rounds of the flat-cost runs.
fn flat_rounds() -> usize {
    if common::quick() {
        1
    } else {
        3
    }
}

fn flat_requests() -> usize {
    if common::quick() {
        20_000
    } else {
        100_000
    }
}

fn polite_requests() -> usize {
    if common::quick() {
        10_000
    } else {
        100_000
    }
}

fn memory_hosts() -> usize {
    if common::quick() {
        20_000
    } else {
        100_000
    }
}

fn runtime() -> tokio::runtime::Runtime {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime");
    rt.block_on(async { tokio::time::sleep(Duration::from_millis(1)).await });
    rt
}

/// Sends a GET to each host of `order` from `workers` tasks (each takes the next
/// request), waiting for a permit of `gate` first when there is one; every body must be
/// `BODY` bytes long.
async fn drive(
    client: Arc<AnyClient>,
    urls: Arc<Vec<String>>,
    order: Arc<Vec<u32>>,
    workers: usize,
    gate: Option<Arc<tokio::sync::Semaphore>>,
) {
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..workers {
        let (client, urls, order, next, gate) = (
            client.clone(),
            urls.clone(),
            order.clone(),
            next.clone(),
            gate.clone(),
        );
        tasks.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(&host) = order.get(i) else { break };
                let host = host as usize;
                let _permit = match &gate {
                    Some(g) => Some(g.acquire().await),
                    None => None,
                };
                match client.get(host, &urls[host]).await {
                    Ok(BODY) => {}
                    other => panic!("unexpected result {other:?}"),
                }
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("a worker panicked");
    }
}

fn urls(server: &Server, hosts: usize) -> Arc<Vec<String>> {
    Arc::new(
        (0..hosts)
            .map(|i| format!("{}/b/{BODY}", server.url(i)))
            .collect(),
    )
}

/// Part 1, one run: `[hosts, requests, cpu_ns, accepted, user_ns, sys_ns, tcp_segments]`.
fn flat(hosts: usize, which: Which) -> Vec<f64> {
    let requests = flat_requests();
    let mut server = Server::start_in(hosts, FLAT_SERVER_CHILDREN);
    let urls = urls(&server, hosts);
    let mut rng = common::XorShift::new(0x7e7e_7e7e_2026);
    let order: Arc<Vec<u32>> = Arc::new((0..requests).map(|_| rng.below(hosts) as u32).collect());
    // Warm-up: one request to every host, then a rehearsal of the measured pass (the same
    // order), so that the connections its collisions (two requests to a host at once) call
    // for are open before measuring.
    let mut warm: Vec<u32> = (0..hosts as u32).collect();
    warm.extend(order.iter());
    let warm = Arc::new(warm);
    let rt = runtime();
    let caps = Caps {
        hosts,
        per_host: FLAT_PER_HOST,
        total: Some(FLAT_TOTAL),
    };
    let client = Arc::new(AnyClient::new(which, caps));
    rt.block_on(drive(
        client.clone(),
        urls.clone(),
        warm,
        FLAT_WORKERS,
        None,
    ));
    server.stats();
    // A quiet gap, so that a sampling profiler's timeline shows where measuring starts.
    std::thread::sleep(Duration::from_millis(300));
    let cpu0 = common::process_cpu_ns();
    let (user0, sys0) = common::process_user_sys_ns();
    let segments0 = tcp_segments_sent();
    measured(&rt, client.clone(), urls, order);
    let cpu_ns = common::process_cpu_ns() - cpu0;
    let (user1, sys1) = common::process_user_sys_ns();
    let segments = tcp_segments_sent().saturating_sub(segments0);
    let stats = server.stats();
    drop(client);
    vec![
        hosts as f64,
        requests as f64,
        cpu_ns as f64,
        stats.accepted as f64,
        (user1 - user0) as f64,
        (sys1 - sys0) as f64,
        segments as f64,
    ]
}

/// TCP segments sent by the whole machine so far (`OutSegs` in `/proc/net/snmp`; 0 where
/// it cannot be read). Client and servers both send on loopback, so each segment between
/// them counts once; anything else the machine sends at the time counts too.
fn tcp_segments_sent() -> u64 {
    let Ok(text) = std::fs::read_to_string("/proc/net/snmp") else {
        return 0;
    };
    let mut tcp = text.lines().filter(|l| l.starts_with("Tcp:"));
    let (Some(names), Some(values)) = (tcp.next(), tcp.next()) else {
        return 0;
    };
    names
        .split_whitespace()
        .zip(values.split_whitespace())
        .find(|(name, _)| *name == "OutSegs")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0)
}

/// The measured requests of a flat-cost run, in a function of their own so that a
/// profiler can count them alone: `valgrind --tool=callgrind --toggle-collect='*measured*'`
/// on `TETHER_BENCH_RUN=<run>` (runs 0, 4 and 8 are tether at 10, 1,000 and 10,000 hosts;
/// 1, 5 and 9 hyper-util, 3, 7 and 11 the floor).
#[inline(never)]
fn measured(
    rt: &tokio::runtime::Runtime,
    client: Arc<AnyClient>,
    urls: Arc<Vec<String>>,
    order: Arc<Vec<u32>>,
) {
    rt.block_on(drive(client, urls, order, FLAT_WORKERS, None));
}

fn print_flat(results: &[(Run, Vec<f64>)]) {
    // Per (hosts, client): the median over the rounds of each number.
    let mut rows: Vec<(usize, Which, Vec<f64>)> = Vec::new();
    for hosts in FLAT_HOSTS {
        for which in FLAT_CLIENTS {
            let rounds: Vec<&Vec<f64>> = results
                .iter()
                .filter(|(run, _)| *run == Run::Flat(hosts, which))
                .map(|(_, n)| n)
                .collect();
            if let Some(first) = rounds.first() {
                let medians = (0..first.len())
                    .map(|i| common::median(&rounds.iter().map(|n| n[i]).collect::<Vec<_>>()))
                    .collect();
                rows.push((hosts, which, medians));
            }
        }
    }
    if rows.is_empty() {
        return;
    }
    println!(
        "## Flat cost: {} GETs of {BODY} bytes in random host order, {FLAT_WORKERS} in \
         flight, up to {FLAT_PER_HOST} connections per host kept idle, after a warm-up (one \
         request per host, then a rehearsal of the pass); medians of {} rounds\n",
        flat_requests(),
        flat_rounds()
    );
    println!(
        "| hosts  | client     | requests per CPU-s | CPU µs per request | × its 10-host cost | user + system µs | TCP segments per request | connections opened |"
    );
    println!(
        "|-------:|------------|-------------------:|-------------------:|-------------------:|-----------------:|-------------------------:|-------------------:|"
    );
    for (hosts, which, n) in &rows {
        let (hosts, which) = (*hosts, *which);
        let per_request = n[2] / n[1] / 1e3;
        let base = rows
            .iter()
            .find(|(h, w, _)| *h == FLAT_HOSTS[0] && *w == which)
            .map(|(_, _, b)| b[2] / b[1] / 1e3);
        println!(
            "| {:>6} | {:<10} | {:>18.0} | {:>18.1} | {:>18} | {:>16} | {:>24.2} | {:>18} |",
            hosts,
            which.name(),
            n[1] / (n[2] / 1e9),
            per_request,
            base.map_or("-".to_string(), |b| format!("{:.2}", per_request / b)),
            format!("{:.1} + {:.1}", n[4] / n[1] / 1e3, n[5] / n[1] / 1e3),
            n[6] / n[1],
            n[3],
        );
    }
    for hosts in FLAT_HOSTS {
        let cost = |w: Which| {
            rows.iter()
                .find(|(h, ww, _)| *h == hosts && *ww == w)
                .map(|(_, _, n)| n[2] / n[1])
        };
        if let (Some(t), Some(h)) = (cost(Which::Tether), cost(Which::HyperUtil)) {
            println!(
                "{hosts} hosts: tether makes {:.2}x hyper-util's requests per CPU-second",
                h / t
            );
        }
    }
    println!();
}

/// Part 2, one run: `[wall_ns, cpu_ns, accepted, max_per_host, max_total, peak_heap,
/// peak_rss]`.
fn polite(which: Which, total: usize, gate: bool) -> Vec<f64> {
    let requests = polite_requests();
    let mut server = Server::start(HOSTS);
    let urls = urls(&server, HOSTS);
    let mut rng = common::XorShift::new(0x7e7e_7e7e_2024);
    let order: Arc<Vec<u32>> = Arc::new((0..requests).map(|_| rng.below(HOSTS) as u32).collect());
    let rt = runtime();
    server.stats();
    common::reset_heap_peak();
    common::reset_peak_rss();
    let caps = Caps {
        hosts: HOSTS,
        per_host: PER_HOST,
        total: Some(total),
    };
    let gate = gate.then(|| Arc::new(tokio::sync::Semaphore::new(TOTAL)));
    let cpu0 = common::process_cpu_ns();
    let t0 = Instant::now();
    let client = Arc::new(AnyClient::new(which, caps));
    rt.block_on(drive(client.clone(), urls, order, WORKERS, gate));
    let wall = t0.elapsed();
    let cpu_ns = common::process_cpu_ns() - cpu0;
    let stats = server.stats();
    let row = vec![
        wall.as_nanos() as f64,
        cpu_ns as f64,
        stats.accepted as f64,
        stats.max_open_per_host as f64,
        stats.max_open_total as f64,
        common::heap_peak() as f64,
        common::peak_rss_bytes() as f64,
    ];
    drop(client);
    row
}

fn print_polite(results: &[(Run, Vec<f64>)]) {
    let rows: Vec<(&str, &Vec<f64>)> = results
        .iter()
        .filter_map(|(run, n)| match run {
            Run::Polite(name, ..) => Some((*name, n)),
            _ => None,
        })
        .collect();
    if rows.is_empty() {
        return;
    }
    let requests = polite_requests() as f64;
    println!(
        "## A polite crawl: {requests} GETs of {BODY} bytes over {HOSTS} hosts in random \
         order; per-host cap {PER_HOST}, global cap {TOTAL}, {WORKERS} workers\n"
    );
    println!(
        "| client             | requests/s | requests per CPU-s | connections opened | max open per host | max open in all | peak heap | peak RSS |"
    );
    println!(
        "|--------------------|-----------:|-------------------:|-------------------:|------------------:|----------------:|----------:|---------:|"
    );
    for (name, n) in &rows {
        println!(
            "| {:<18} | {:>10.0} | {:>18.0} | {:>18} | {:>17} | {:>15} | {:>9} | {:>8} |",
            name,
            requests / (n[0] / 1e9),
            requests / (n[1].max(1.0) / 1e9),
            n[2],
            n[3],
            n[4],
            mib(n[5]),
            mib(n[6]),
        );
    }
    println!(
        "\n\"max open\" is counted by the servers: a connection the client has just closed may \
         still count there for a moment, which is how tether's total can pass {TOTAL} briefly."
    );
    for (name, n) in &rows {
        if n[3] as usize > PER_HOST {
            println!(
                "note: {name} had {} connections open to one host at once (cap {PER_HOST})",
                n[3]
            );
        }
    }
    println!();
}

/// Part 3: `[hosts, requests, wall_ns, accepted, max_held, heap_at_max_held,
/// held_at_end, heap_at_end, held_after, heap_after, open_after, peak_heap]`, heap
/// figures above the client's heap before the crawl.
fn memory() -> Vec<f64> {
    let hosts = memory_hosts();
    let mut server = Server::start(hosts);
    let urls = urls(&server, hosts);
    // Two requests per host, hosts in order: each host's second request comes
    // `MEMORY_LAG` hosts after its first (`h, h - lag, h + 1, h + 1 - lag, …`).
    let lag = MEMORY_LAG as i64;
    let order: Vec<u32> = (0..hosts as i64 + lag)
        .flat_map(|h| [h, h - lag])
        .filter(|&h| (0..hosts as i64).contains(&h))
        .map(|h| h as u32)
        .collect();
    let requests = order.len();
    let order = Arc::new(order);
    let rt = runtime();
    let client = tether::Client::builder()
        .max_connections_per_host(PER_HOST)
        .max_connections_total(TOTAL)
        .idle_timeout(Duration::from_secs(1))
        .build()
        .expect("tether client");
    let any = Arc::new(AnyClient::Tether(client.clone()));
    // Kept to the end, so that what the crawl frees of the benchmark's own is not
    // counted against the client.
    let keep = (urls.clone(), order.clone());
    server.stats();
    let base = common::heap_live();
    common::reset_heap_peak();
    let t0 = Instant::now();
    let (max_held, heap_at_max) = rt.block_on(async {
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let sampler = {
            let (client, done) = (client.clone(), done.clone());
            tokio::spawn(async move {
                let (mut max_held, mut heap_at_max) = (0, 0);
                while !done.load(Ordering::Relaxed) {
                    let heap = common::heap_live();
                    let held = client.stats().hosts.len();
                    if held > max_held {
                        (max_held, heap_at_max) = (held, heap.saturating_sub(base));
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                (max_held, heap_at_max)
            })
        };
        drive(any.clone(), urls, order, MEMORY_WORKERS, None).await;
        done.store(true, Ordering::Relaxed);
        sampler.await.expect("the sampler")
    });
    let wall = t0.elapsed();
    let accepted = server.stats().accepted;
    let heap_at_end = common::heap_live().saturating_sub(base);
    let held_at_end = client.stats().hosts.len();
    // The idle connections expire after 1 s; the sweep (every second) closes them and
    // forgets their hosts.
    rt.block_on(async { tokio::time::sleep(Duration::from_millis(2_500)).await });
    let heap_after = common::heap_live().saturating_sub(base);
    let stats = client.stats();
    let peak = common::heap_peak().saturating_sub(base);
    drop(any);
    drop(keep);
    vec![
        hosts as f64,
        requests as f64,
        wall.as_nanos() as f64,
        accepted as f64,
        max_held as f64,
        heap_at_max as f64,
        held_at_end as f64,
        heap_at_end as f64,
        stats.hosts.len() as f64,
        heap_after as f64,
        stats.open as f64,
        peak as f64,
    ]
}

fn print_memory(results: &[(Run, Vec<f64>)]) {
    let Some((_, n)) = results.iter().find(|(run, _)| *run == Run::Memory) else {
        return;
    };
    println!(
        "## Memory over {} hosts (tether): {} GETs (two per host, the second {MEMORY_LAG} \
         hosts after the first), caps {PER_HOST} per host and {TOTAL} in all, \
         {MEMORY_WORKERS} workers, idle timeout 1 s; heap above the client's before the \
         crawl\n",
        n[0], n[1]
    );
    println!(
        "| when                         | hosts held by the pool | heap        | per host held |"
    );
    println!(
        "|------------------------------|-----------------------:|------------:|--------------:|"
    );
    let per = |heap: f64, held: f64| {
        if held > 0.0 {
            common::kib(heap / held)
        } else {
            "-".to_string()
        }
    };
    println!(
        "| most hosts in use at once    | {:>22} | {:>11} | {:>13} |",
        n[4],
        common::kib(n[5]),
        per(n[5], n[4])
    );
    println!(
        "| end of the crawl             | {:>22} | {:>11} | {:>13} |",
        n[6],
        common::kib(n[7]),
        per(n[7], n[6])
    );
    println!(
        "| idle connections expired     | {:>22} | {:>11} | {:>13} |",
        n[8],
        common::kib(n[9]),
        per(n[9], n[8])
    );
    println!(
        "\n{:.0} requests/s, {} connections opened, peak heap {}; {} connections open at \
         the end",
        n[1] / (n[2] / 1e9),
        n[3],
        common::kib(n[11]),
        n[10]
    );
    println!();
}

fn mib(bytes: f64) -> String {
    format!("{:.1} MiB", bytes / (1024.0 * 1024.0))
}
