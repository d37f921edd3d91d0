//! The pool's own cost, through the public API: client CPU nanoseconds per request with one
//! connection (cap 1) against a fast local server (a child process), first one request at a
//! time (every checkout finds the idle connection; every release puts it back), then 1,000
//! requests at once (every checkout waits in line; every release hands the connection to
//! the oldest waiter). The difference is what waiting in line costs a request; a regression
//! in checkout, release or the waiter queue shows in these numbers.
//!
//! `cargo bench --bench pool`; quick mode: `TETHER_BENCH_QUICK=1`.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use common::server::Server;

struct Case {
    name: &'static str,
    concurrency: usize,
}

const CASES: [Case; 2] = [
    Case {
        name: "cap 1, 1 request at a time (idle stack)",
        concurrency: 1,
    },
    Case {
        name: "cap 1, 1,000 waiting (FIFO handoff)",
        concurrency: 1_000,
    },
];

/// Runs `requests` GETs with `concurrency` in flight; (wall ns, CPU ns) per request.
async fn run(
    client: &tether::Client,
    url: &Arc<str>,
    concurrency: usize,
    requests: usize,
) -> (f64, f64) {
    let next = Arc::new(AtomicUsize::new(0));
    let cpu0 = common::process_cpu_ns();
    let t0 = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (client, url, next) = (client.clone(), url.clone(), next.clone());
        tasks.spawn(async move {
            while next.fetch_add(1, Ordering::Relaxed) < requests {
                let resp = client.get(&*url).send().await.expect("request");
                let body = resp.bytes().await.expect("body");
                assert_eq!(body.len(), 16);
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("a worker panicked");
    }
    let wall = t0.elapsed().as_nanos() as f64 / requests as f64;
    let cpu = (common::process_cpu_ns() - cpu0) as f64 / requests as f64;
    (wall, cpu)
}

fn main() {
    common::server::run_if_child();
    let quick = common::quick();
    let (reps, requests) = if quick { (3, 5_000) } else { (7, 30_000) };
    println!(
        "tether pool benchmark{}",
        if quick { " (quick)" } else { "" }
    );
    println!("machine: {}", common::machine());
    println!("{requests} requests per run, {reps} runs interleaved; medians\n");

    let server = Server::start(1);
    let url: Arc<str> = format!("{}/b/16", server.url(0)).into();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime");
    let client = tether::Client::builder()
        .max_connections_per_host(1)
        .build()
        .expect("client");
    rt.block_on(run(&client, &url, 1, 100));
    let mut wall: Vec<Vec<f64>> = CASES.iter().map(|_| Vec::new()).collect();
    let mut cpu: Vec<Vec<f64>> = CASES.iter().map(|_| Vec::new()).collect();
    for rep in 0..reps {
        for k in 0..CASES.len() {
            let i = (rep + k) % CASES.len();
            let (w, c) = rt.block_on(run(&client, &url, CASES[i].concurrency, requests));
            wall[i].push(w);
            cpu[i].push(c);
        }
    }
    let stats = client.stats();
    println!("| case | wall ns per request | client CPU ns per request |");
    println!("|------|--------------------:|--------------------------:|");
    for (i, case) in CASES.iter().enumerate() {
        println!(
            "| {} | {:.0} | {:.0} |",
            case.name,
            common::median(&wall[i]),
            common::median(&cpu[i])
        );
    }
    println!(
        "\nwaiting in line adds {:.0} CPU ns per checkout/release; connections opened: {}",
        common::median(&cpu[1]) - common::median(&cpu[0]),
        stats.connections_opened
    );
    drop(server);
}
