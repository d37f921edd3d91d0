//! Client memory per idle connection: 10,000 idle keep-alive connections over 1,000 hosts
//! (listeners on 127.0.A.B, in a child process), for tether, hyper-util and reqwest, one
//! client at a time, each in a fresh process (so none inherits what the allocator kept
//! from another).
//!
//! Each host gets 10 concurrent GETs that the server answers only once 10 connections to
//! it are open, so every client opens exactly 10 per host; when all bodies have been read
//! the connections are idle in the client's pool. Memory is measured before the client is
//! built and after: live heap bytes through a counting global allocator, and RSS from
//! `/proc/self/statm`. The difference divided by the connections open is the cost of one
//! idle connection (in the client process; kernel socket buffers are not counted).
//!
//! Needs about 10,500 open files here and 11,500 in the server child: with a lower
//! `ulimit -n` it uses fewer connections and says so (`ulimit -n 65536` raises it).
//! `cargo bench --bench idle_memory`; quick mode (1,000 connections over 100 hosts):
//! `TETHER_BENCH_QUICK=1`.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::clients::{AnyClient, Caps, Which};
use common::server::Server;

#[global_allocator]
static ALLOC: common::Counting = common::Counting;

const PER_HOST: usize = 10;

struct Row {
    which: Which,
    conns: usize,
    heap: f64,
    rss: f64,
    peak_heap: f64,
}

/// Hosts to use: 1,000 (100 in quick mode), fewer if open files are limited.
fn hosts(say: bool) -> usize {
    let mut hosts = if common::quick() { 100 } else { 1_000 };
    if let Some((soft, hard)) = common::open_files_limit() {
        let fit = (soft.saturating_sub(1_600) / PER_HOST as u64) as usize;
        if fit < hosts {
            if say {
                println!(
                    "open files limit {soft} (hard {hard}): using {fit} hosts instead of \
                     {hosts}; run `ulimit -n 65536` first for the full size"
                );
            }
            hosts = fit.max(1);
        }
    }
    hosts
}

fn main() {
    common::server::run_if_child();
    if let Some(i) = common::child_run() {
        let r = run(Which::ALL[i]);
        println!("RESULT {} {} {} {}", r.conns, r.heap, r.rss, r.peak_heap);
        return;
    }
    let quick = common::quick();
    let hosts = hosts(true);
    println!(
        "tether idle-memory benchmark{}",
        if quick { " (quick)" } else { "" }
    );
    println!("machine: {}", common::machine());
    println!(
        "{} idle connections over {hosts} hosts ({PER_HOST} each); each client in a fresh \
         process\n",
        hosts * PER_HOST
    );
    let mut rows = Vec::new();
    for (i, which) in Which::ALL.into_iter().enumerate() {
        let result = common::run_in_child(i);
        let n: Vec<f64> = result
            .first()
            .expect("a result line")
            .split(' ')
            .map(|v| v.parse().expect("a number"))
            .collect();
        rows.push(Row {
            which,
            conns: n[0] as usize,
            heap: n[1],
            rss: n[2],
            peak_heap: n[3],
        });
    }

    println!(
        "| client     | idle connections | heap per idle connection | RSS per idle connection | peak heap per connection while requests ran |"
    );
    println!(
        "|------------|-----------------:|-------------------------:|------------------------:|--------------------------------------------:|"
    );
    for r in &rows {
        println!(
            "| {:<10} | {:>16} | {:>24} | {:>23} | {:>43} |",
            r.which.name(),
            r.conns,
            common::kib(r.heap),
            common::kib(r.rss),
            common::kib(r.peak_heap)
        );
    }
    println!(
        "\nRSS keeps what the allocator got back but did not return to the system (read \
         buffers of the requests in flight), so it is an upper bound; the heap columns count \
         live bytes."
    );
    if let Some(t) = rows.iter().find(|r| r.which == Which::Tether) {
        let verdict = if t.heap <= 2048.0 { "met" } else { "NOT met" };
        println!(
            "\ngoal: an idle connection costs at most 2 KiB of client heap: {verdict} ({})",
            common::kib(t.heap)
        );
    }
}

/// Opens the idle connections with one client, in this (fresh) process, against its own
/// server child, and measures.
fn run(which: Which) -> Row {
    let hosts = hosts(false);
    let mut server = Server::start(hosts);
    let urls: Vec<String> = (0..hosts)
        .map(|i| format!("{}/gate/{PER_HOST}/64", server.url(i)))
        .collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime");
    // Warm the runtime (timer wheel, I/O driver) so its first-use allocations are not
    // counted against the client.
    rt.block_on(async { tokio::time::sleep(Duration::from_millis(1)).await });
    server.stats();
    let heap0 = common::heap_live();
    let rss0 = common::rss_bytes();
    common::reset_heap_peak();
    let caps = Caps {
        hosts,
        per_host: PER_HOST,
        total: Some(hosts * PER_HOST),
    };
    let client = Arc::new(AnyClient::new(which, caps));
    rt.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for (host, url) in urls.iter().enumerate() {
            for _ in 0..PER_HOST {
                let (client, url) = (client.clone(), url.clone());
                tasks.spawn(async move { client.get(host, &url).await });
            }
        }
        while let Some(done) = tasks.join_next().await {
            match done.expect("a request task panicked") {
                Ok(64) => {}
                other => panic!("{}: unexpected result {other:?}", which.name()),
            }
        }
        // Let connection tasks (hyper-util) park their connections in the pool.
        tokio::time::sleep(Duration::from_millis(300)).await;
    });
    let heap1 = common::heap_live();
    let rss1 = common::rss_bytes();
    let conns = server.stats().open;
    if let AnyClient::Tether(c) = &*client {
        let s = c.stats();
        println!("tether pool: open {}, idle {}", s.open, s.idle);
    }
    Row {
        which,
        conns,
        heap: (heap1 as f64 - heap0 as f64) / conns.max(1) as f64,
        rss: (rss1 as f64 - rss0 as f64) / conns.max(1) as f64,
        peak_heap: (common::heap_peak() as f64 - heap0 as f64) / conns.max(1) as f64,
    }
}
