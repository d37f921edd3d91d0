//! A crawl: 1,000 hosts (listeners on 127.0.A.B in a child process), at most 2 connections
//! per host and 256 in all, 100,000 GETs of 1 KiB in a random (seeded) host order, driven by
//! 512 workers. For tether, hyper-util and reqwest, one after the other: throughput, client
//! CPU, the connections the servers accepted, the most any one host had open at once (the
//! servers count; the politeness cap says 2), the most open at once over all hosts, and the
//! client's peak memory (heap through a counting allocator, and peak RSS).
//!
//! tether enforces both caps itself; hyper-util and reqwest get a semaphore per host and a
//! global one, held from before the request until its body has been read. Those bound
//! requests, not connections: their pools keep every host's idle connections (up to 2,000),
//! where tether's global cap bounds connections (so a random crawl over more hosts than
//! that cap allows closes and reopens). A fourth run gives tether the same budget: 2,000
//! connections, with 256 requests at once held by a semaphore.
//!
//! `cargo bench --bench crawl`; quick mode (10,000 requests): `TETHER_BENCH_QUICK=1`.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::clients::{AnyClient, Caps, Which};
use common::server::Server;

#[global_allocator]
static ALLOC: common::Counting = common::Counting;

const HOSTS: usize = 1_000;
const PER_HOST: usize = 2;
const TOTAL: usize = 256;
const WORKERS: usize = 512;
const BODY: usize = 1024;

struct Row {
    name: &'static str,
    wall: Duration,
    cpu_ns: u64,
    accepted: usize,
    max_per_host: usize,
    max_total: usize,
    peak_heap: usize,
    peak_rss: usize,
}

/// The runs: the three clients with the caps above; then tether allowed as many
/// connections as the others keep open (every host's 2), with the 256 cap on requests in
/// flight held by a semaphore as for them: the same connection budget.
const RUNS: [(&str, Which, usize, bool); 4] = [
    ("tether", Which::Tether, TOTAL, false),
    ("hyper-util", Which::HyperUtil, TOTAL, false),
    ("reqwest", Which::Reqwest, TOTAL, false),
    ("tether, 2000 conns", Which::Tether, HOSTS * PER_HOST, true),
];

fn requests() -> usize {
    if common::quick() {
        10_000
    } else {
        100_000
    }
}

fn main() {
    common::server::run_if_child();
    if let Some(i) = common::child_run() {
        let r = run(i);
        println!(
            "RESULT {} {} {} {} {} {} {}",
            r.wall.as_nanos(),
            r.cpu_ns,
            r.accepted,
            r.max_per_host,
            r.max_total,
            r.peak_heap,
            r.peak_rss
        );
        return;
    }
    let quick = common::quick();
    let requests = requests();
    println!(
        "tether crawl benchmark{}",
        if quick { " (quick)" } else { "" }
    );
    println!("machine: {}", common::machine());
    println!(
        "{requests} GETs of {BODY} bytes over {HOSTS} hosts in random order; per-host cap \
         {PER_HOST}, global cap {TOTAL}, {WORKERS} workers; each client in a fresh process\n"
    );
    let mut rows = Vec::new();
    for (i, (name, ..)) in RUNS.iter().enumerate() {
        let result = common::run_in_child(i);
        let n: Vec<u64> = result
            .first()
            .expect("a result line")
            .split(' ')
            .map(|v| v.parse().expect("a number"))
            .collect();
        rows.push(Row {
            name,
            wall: Duration::from_nanos(n[0]),
            cpu_ns: n[1],
            accepted: n[2] as usize,
            max_per_host: n[3] as usize,
            max_total: n[4] as usize,
            peak_heap: n[5] as usize,
            peak_rss: n[6] as usize,
        });
    }

    println!(
        "| client             | requests/s | requests per CPU-s | connections opened | max open per host | max open in all | peak heap | peak RSS |"
    );
    println!(
        "|--------------------|-----------:|-------------------:|-------------------:|------------------:|----------------:|----------:|---------:|"
    );
    for r in &rows {
        println!(
            "| {:<18} | {:>10.0} | {:>18.0} | {:>18} | {:>17} | {:>15} | {:>9} | {:>8} |",
            r.name,
            requests as f64 / r.wall.as_secs_f64(),
            requests as f64 / (r.cpu_ns.max(1) as f64 / 1e9),
            r.accepted,
            r.max_per_host,
            r.max_total,
            mib(r.peak_heap),
            mib(r.peak_rss),
        );
    }
    println!(
        "\n\"max open\" is counted by the servers: a connection the client has just closed may \
         still count there for a moment, which is how tether's total can pass {TOTAL} briefly."
    );
    for r in &rows {
        if r.max_per_host > PER_HOST {
            println!(
                "note: {} had {} connections open to one host at once (cap {PER_HOST})",
                r.name, r.max_per_host
            );
        }
    }
}

/// Run `i` of `RUNS`, in this (fresh) process, against its own server child.
fn run(i: usize) -> Row {
    let (name, which, total, gate) = RUNS[i];
    let requests = requests();
    let mut server = Server::start(HOSTS);
    let urls: Arc<Vec<String>> = Arc::new(
        (0..HOSTS)
            .map(|i| format!("{}/b/{BODY}", server.url(i)))
            .collect(),
    );
    let mut rng = common::XorShift::new(0x7e7e_7e7e_2024);
    let order: Arc<Vec<u16>> = Arc::new((0..requests).map(|_| rng.below(HOSTS) as u16).collect());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime");
    rt.block_on(async { tokio::time::sleep(Duration::from_millis(1)).await });
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
    rt.block_on(async {
        let next = Arc::new(AtomicUsize::new(0));
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..WORKERS {
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
    });
    let wall = t0.elapsed();
    let cpu_ns = common::process_cpu_ns() - cpu0;
    let stats = server.stats();
    let row = Row {
        name,
        wall,
        cpu_ns,
        accepted: stats.accepted,
        max_per_host: stats.max_open_per_host,
        max_total: stats.max_open_total,
        peak_heap: common::heap_peak(),
        peak_rss: common::peak_rss_bytes(),
    };
    drop(client);
    row
}

fn mib(bytes: usize) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}
