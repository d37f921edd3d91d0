//! Throughput and client CPU cost: tether, hyper-util's legacy pooled client and reqwest,
//! side by side against the same local keep-alive server (a child process).
//!
//! Every client runs on one current-thread tokio runtime in its own thread; its CPU time is
//! read from `/proc/self/task/*/schedstat` (the server is another process, so all of this
//! process's CPU is the client's). Clients are interleaved round-robin within each
//! repetition, rotating who goes first, so machine noise falls on all of them alike;
//! the table shows medians, and each client's CPU split into user and system time per
//! request (`/proc/self/stat`, in clock ticks of 10 ms, so a rough split: the system part
//! is the `sendto`, `recvfrom` and `epoll_wait` every client makes alike, and the user
//! part is what a client can still save). "server µs" is the server child's CPU time per
//! request over the same runs: the other half of each request's cost on this machine,
//! whose two CPUs the client and the server share. Every client is given the same URL strings; `tether (Url)` is
//! tether given a `url::Url` parsed once, to show what parsing the string costs per request;
//! `tether (no_proxy)` is tether built with proxies in the environment and the server in
//! `no_proxy`, to show what matching each request against `no_proxy` costs.
//!
//! The gzip workload runs tether and reqwest (its `gzip` feature) only: hyper-util does not
//! decode. `cargo bench --bench throughput` (about 3 minutes); quick mode:
//! `TETHER_BENCH_QUICK=1 cargo bench --bench throughput` or `... -- --quick`.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::clients::{AnyClient, Caps, Which};
use common::server::Server;

struct Workload {
    name: &'static str,
    path: &'static str,
    post: Option<usize>,
    expect: usize,
    concurrency: usize,
    cap: usize,
    requests: usize,
    /// The body comes gzipped: only clients that decode it run (not hyper-util).
    gzip: bool,
    /// Also run tether and hyper-util reading the body piece by piece, to compare
    /// collecting it with `bytes()` against streaming it.
    streaming: bool,
}

fn workloads(quick: bool) -> Vec<Workload> {
    let scale = |n: usize| if quick { n / 5 } else { n };
    vec![
        Workload {
            name: "GET 1 KiB, 6 concurrent, cap 6",
            path: "/b/1024",
            post: None,
            expect: 1024,
            concurrency: 6,
            cap: 6,
            requests: scale(40_000),
            gzip: false,
            streaming: false,
        },
        Workload {
            name: "GET 1 KiB, 64 concurrent, cap 64",
            path: "/b/1024",
            post: None,
            expect: 1024,
            concurrency: 64,
            cap: 64,
            requests: scale(40_000),
            gzip: false,
            streaming: false,
        },
        Workload {
            name: "GET 10 fields + 1 KiB, 6 concurrent, cap 6",
            path: "/h/1024",
            post: None,
            expect: 1024,
            concurrency: 6,
            cap: 6,
            requests: scale(40_000),
            gzip: false,
            streaming: false,
        },
        Workload {
            name: "GET 1 MiB, 6 concurrent, cap 6",
            path: "/b/1048576",
            post: None,
            expect: 1 << 20,
            concurrency: 6,
            cap: 6,
            requests: scale(2_000),
            gzip: false,
            streaming: true,
        },
        Workload {
            name: "POST 4 KiB (1 KiB back), 6 concurrent, cap 6",
            path: "/b/1024",
            post: Some(4096),
            expect: 1024,
            concurrency: 6,
            cap: 6,
            requests: scale(40_000),
            gzip: false,
            streaming: false,
        },
        Workload {
            name: "GET 16 KiB JSON, gzip (2.5 KiB sent), 6 concurrent, cap 6",
            path: "/gz/16384",
            post: None,
            expect: 16384,
            concurrency: 6,
            cap: 6,
            requests: scale(20_000),
            gzip: true,
            streaming: false,
        },
    ]
}

/// One measured run: wall time and client CPU time.
struct Sample {
    wall: Duration,
    cpu_ns: u64,
    /// User and system time (clock ticks of 10 ms: a rough split of `cpu_ns`).
    user_ns: u64,
    sys_ns: u64,
    /// The server's CPU time over the run (its process, not the client's).
    server_ns: u64,
}

/// Runs `w.requests` requests, `w.concurrency` at a time, on the current runtime.
async fn run(client: &Arc<AnyClient>, url: &Arc<str>, w: &Workload) -> Sample {
    let next = Arc::new(AtomicUsize::new(0));
    let body = w.post.map(|n| Bytes::from(vec![b'x'; n]));
    let cpu0 = common::process_cpu_ns();
    let (user0, sys0) = common::process_user_sys_ns();
    let t0 = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..w.concurrency {
        let (client, url, next, body) = (client.clone(), url.clone(), next.clone(), body.clone());
        let (total, expect) = (w.requests, w.expect);
        tasks.spawn(async move {
            while next.fetch_add(1, Ordering::Relaxed) < total {
                let got = match &body {
                    Some(b) => client.post(0, &url, b.clone()).await,
                    None => client.get(0, &url).await,
                };
                match got {
                    Ok(n) if n == expect => {}
                    Ok(n) => panic!("body of {n} bytes, expected {expect}"),
                    Err(e) => panic!("request failed: {e}"),
                }
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("a worker panicked");
    }
    let (user1, sys1) = common::process_user_sys_ns();
    Sample {
        wall: t0.elapsed(),
        cpu_ns: common::process_cpu_ns() - cpu0,
        user_ns: user1.saturating_sub(user0),
        sys_ns: sys1.saturating_sub(sys0),
        server_ns: 0,
    }
}

struct Row {
    which: Which,
    rps: f64,
    per_cpu_s: f64,
    /// Medians of user and system time per request, µs.
    user_us: f64,
    sys_us: f64,
    /// Median of the server's CPU time per request, µs.
    server_us: f64,
    conns: usize,
}

fn main() {
    common::server::run_if_child();
    let quick = common::quick();
    let reps = if quick { 3 } else { 7 };
    println!(
        "tether throughput benchmark{}",
        if quick { " (quick)" } else { "" }
    );
    println!("machine: {}", common::machine());
    println!("repetitions: {reps}, clients interleaved round-robin; medians shown\n");

    let mut server = Server::start(1);
    let url_base = server.url(0);
    let client_thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("client runtime");
        let mut report = Vec::new();
        // For profiling: `TETHER_BENCH_ONLY=<part of a workload name>` and
        // `TETHER_BENCH_CLIENTS=tether,hyper-util` narrow the run.
        let only = std::env::var("TETHER_BENCH_ONLY").unwrap_or_default();
        let chosen = std::env::var("TETHER_BENCH_CLIENTS").unwrap_or_default();
        for w in workloads(quick)
            .into_iter()
            .filter(|w| w.name.contains(&only))
        {
            let url: Arc<str> = format!("{url_base}{}", w.path).into();
            let caps = Caps {
                hosts: 1,
                per_host: w.cap,
                total: None,
            };
            let clients: Vec<(Which, Arc<AnyClient>)> = rt.block_on(async {
                [
                    Which::Tether,
                    Which::TetherParsedUrl,
                    Which::TetherNoProxy,
                    Which::TetherChunks,
                    Which::TetherText,
                    Which::TetherTimeout,
                    Which::TetherAuth,
                    Which::HyperUtil,
                    Which::HyperUtilFrames,
                    Which::Reqwest,
                    Which::Floor,
                ]
                .iter()
                .filter(|&&c| {
                    w.streaming
                        || !matches!(
                            c,
                            Which::TetherChunks | Which::TetherText | Which::HyperUtilFrames
                        )
                })
                .filter(|c| chosen.is_empty() || chosen.split(',').any(|n| n == c.name()))
                // hyper-util does not decode, and would count the gzipped bytes.
                .filter(|&&c| !(w.gzip && matches!(c, Which::HyperUtil | Which::Floor)))
                .map(|&which| (which, Arc::new(AnyClient::new(which, caps))))
                .collect()
            });
            // Warm up: open connections, fill caches.
            let warm = Workload {
                requests: (w.requests / 10).max(w.concurrency),
                ..w
            };
            for (_, client) in &clients {
                rt.block_on(run(client, &url, &warm));
            }
            server.stats();
            let mut samples: Vec<Vec<Sample>> = clients.iter().map(|_| Vec::new()).collect();
            let mut conns = vec![0usize; clients.len()];
            for rep in 0..reps {
                for k in 0..clients.len() {
                    let i = (rep + k) % clients.len();
                    let mut sample = rt.block_on(run(&clients[i].1, &url, &w));
                    let stats = server.stats();
                    conns[i] += stats.accepted;
                    sample.server_ns = stats.cpu_ns;
                    samples[i].push(sample);
                }
            }
            let rows: Vec<Row> = clients
                .iter()
                .zip(&samples)
                .zip(&conns)
                .map(|(((which, _), s), &conns)| {
                    let rps: Vec<f64> = s
                        .iter()
                        .map(|s| w.requests as f64 / s.wall.as_secs_f64())
                        .collect();
                    let per_cpu: Vec<f64> = s
                        .iter()
                        .map(|s| w.requests as f64 / (s.cpu_ns.max(1) as f64 / 1e9))
                        .collect();
                    let per_request = |ns: fn(&Sample) -> u64| -> f64 {
                        let us: Vec<f64> = s
                            .iter()
                            .map(|s| ns(s) as f64 / 1e3 / w.requests as f64)
                            .collect();
                        common::median(&us)
                    };
                    Row {
                        which: *which,
                        rps: common::median(&rps),
                        per_cpu_s: common::median(&per_cpu),
                        user_us: per_request(|s| s.user_ns),
                        sys_us: per_request(|s| s.sys_ns),
                        server_us: per_request(|s| s.server_ns),
                        conns,
                    }
                })
                .collect();
            print_table(&w, &rows);
            report.push((w.name, rows));
            drop(clients);
        }
        report
    });
    let report = client_thread.join().expect("client thread");
    println!(
        "summary: requests per client CPU-second, as a multiple of hyper-util's \
         (of reqwest's where hyper-util does not run)"
    );
    for (name, rows) in &report {
        let (base, _) = baseline(rows);
        let line: Vec<String> = rows
            .iter()
            .map(|r| format!("{} {:.2}x", r.which.name(), r.per_cpu_s / base))
            .collect();
        println!("  {name}: {}", line.join(", "));
        let per_cpu = |w: Which| rows.iter().find(|r| r.which == w).map(|r| r.per_cpu_s);
        if let (Some(bytes), Some(chunks), Some(frames)) = (
            per_cpu(Which::Tether),
            per_cpu(Which::TetherChunks),
            per_cpu(Which::HyperUtilFrames),
        ) {
            println!(
                "    beside hyper-util streaming its frames: tether bytes() {:.2}x, chunk() \
                 {:.2}x; bytes() is {:.2}x chunk()",
                bytes / frames,
                chunks / frames,
                bytes / chunks
            );
        }
        if let (Some(bytes), Some(text)) = (per_cpu(Which::Tether), per_cpu(Which::TetherText)) {
            println!("    text() is {:.2}x bytes()", text / bytes);
        }
    }
}

/// What the others are measured against: hyper-util where it ran, else reqwest.
fn baseline(rows: &[Row]) -> (f64, &'static str) {
    [Which::HyperUtil, Which::Reqwest]
        .iter()
        .find_map(|&b| rows.iter().find(|r| r.which == b))
        .map_or((f64::NAN, "-"), |r| (r.per_cpu_s, r.which.name()))
}

fn print_table(w: &Workload, rows: &[Row]) {
    let (base, base_name) = baseline(rows);
    println!("{} ({} requests per run)", w.name, w.requests);
    println!(
        "| client              | requests/s | requests per client CPU-s | vs {base_name:<10} | user + system µs | server µs | connections opened |"
    );
    println!(
        "|---------------------|-----------:|--------------------------:|--------------:|-----------------:|----------:|-------------------:|"
    );
    for r in rows {
        println!(
            "| {:<19} | {:>10.0} | {:>25.0} | {:>12.2}x | {:>16} | {:>9.2} | {:>18} |",
            r.which.name(),
            r.rps,
            r.per_cpu_s,
            r.per_cpu_s / base,
            format!("{:.2} + {:.2}", r.user_us, r.sys_us),
            r.server_us,
            r.conns
        );
    }
    println!();
}
