//! The benchmarks' HTTP/1.1 server: a small keep-alive server (tokio and httparse) that runs
//! in a child process, so the client's CPU time and memory are measured without it.
//!
//! It listens on one or more loopback addresses (127.0.0.1, or 127.A.B.C for many "hosts"),
//! each on its own port, and answers every request with `200 OK` and a body of zeros whose
//! size the path names: `/b/<size>`. A path `/gate/<n>/<size>` holds the answer until its
//! listener has `n` connections open at once (to make a client open `n` of them). A path
//! `/gz/<size>` answers `size` bytes of JSON-like text ([`json_text`]) sent with
//! `Content-Encoding: gzip` (compressed once, at the first such request).
//!
//! The parent talks to it over the child's stdin/stdout, one line each way:
//! - at start the child prints `LISTEN <ip>:<port>` per listener, then `READY`;
//! - `stats` → `STATS <accepted> <requests> <max_open_per_host> <open> <max_open_total>
//!   <cpu_ns>`, counted since the previous `stats`; the maxima start again from what is
//!   open now; `cpu_ns` is the child's own CPU time;
//! - end of stdin → the child exits (so it never outlives the benchmark).
//!
//! Many hosts are spread over several children of at most [`HOSTS_PER_CHILD`] listeners
//! each, so that each child has file descriptors left for a connection per listener
//! (10,000 hosts with a connection each fit under a limit of 20,000 open files); the
//! parent's [`Server`] is all of them, and its statistics are their sums (the maxima per
//! host are the largest of any child's).

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

const ENV: &str = "TETHER_BENCH_SERVER_HOSTS";
/// The first host number of a child (its listeners are hosts `first..first + hosts`).
const FIRST_ENV: &str = "TETHER_BENCH_SERVER_FIRST";

/// Listeners per server child at most.
pub const HOSTS_PER_CHILD: usize = 5_000;

/// The largest body the server sends.
const MAX_BODY: usize = 1 << 20;
static ZEROS: [u8; MAX_BODY] = [0; MAX_BODY];

/// `size` bytes of JSON-like records: text that gzip shrinks about as much as it shrinks
/// an API's answers.
pub fn json_text(size: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(size + 128);
    let mut i = 0u64;
    while out.len() < size {
        let _ = write!(
            out,
            r#"{{"id":{i},"name":"item {i}","price":{}.{:02},"tags":["t{}","t{}"],"in_stock":{}}},"#,
            (i * 7919) % 1000,
            (i * 31) % 100,
            i % 13,
            i % 5,
            i % 3 == 0
        );
        i += 1;
    }
    out.truncate(size);
    out
}

/// The gzip of `json_text(size)`, made once per size.
fn gzipped(size: usize) -> Arc<Vec<u8>> {
    static CACHE: std::sync::Mutex<Vec<(usize, Arc<Vec<u8>>)>> = std::sync::Mutex::new(Vec::new());
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, body)) = cache.iter().find(|(s, _)| *s == size) {
        return body.clone();
    }
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(&json_text(size)).expect("gzip in memory");
    let body = Arc::new(enc.finish().expect("gzip in memory"));
    cache.push((size, body.clone()));
    body
}

/// If this process was started as the server child, serves and exits; otherwise returns.
pub fn run_if_child() {
    let Ok(hosts) = std::env::var(ENV) else {
        return;
    };
    let hosts: usize = hosts.parse().expect("host count");
    let first: usize = std::env::var(FIRST_ENV)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("server runtime");
    rt.block_on(serve(first, hosts));
    std::process::exit(0);
}

/// The listen address of host number `i` (0-based): 127.0.0.1 when it is the only one,
/// else 127.A.B.C with B and C in 1..=250 (A = 0 for the first 62,500).
fn host_ip(i: usize, single: bool) -> String {
    if single {
        "127.0.0.1".to_string()
    } else {
        format!("127.{}.{}.{}", i / 62_500, 1 + (i / 250) % 250, 1 + i % 250)
    }
}

#[derive(Default)]
struct HostCounters {
    open: AtomicUsize,
    max_open: AtomicUsize,
}

#[derive(Default)]
struct Totals {
    accepted: AtomicUsize,
    requests: AtomicUsize,
    open: AtomicUsize,
    max_open: AtomicUsize,
}

async fn serve(first: usize, hosts: usize) {
    let totals = Arc::new(Totals::default());
    let mut all = Vec::new();
    let mut out = std::io::stdout().lock();
    let single = first == 0 && hosts == 1;
    for i in first..first + hosts {
        let ip = host_ip(i, single);
        let listener = TcpListener::bind((ip.as_str(), 0)).await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        writeln!(out, "LISTEN {addr}").expect("stdout");
        let host = Arc::new(HostCounters::default());
        let (open_tx, _) = watch::channel(0usize);
        let open_tx = Arc::new(open_tx);
        all.push(host.clone());
        tokio::spawn(accept_loop(listener, host, open_tx, totals.clone()));
    }
    writeln!(out, "READY").expect("stdout");
    out.flush().expect("stdout");
    drop(out);
    // Commands come on stdin, read by a blocking thread.
    let (cmd_tx, mut cmd_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    std::thread::spawn(move || {
        let stdin = std::io::stdin();
        for line in stdin.lock().lines() {
            let Ok(line) = line else { break };
            if cmd_tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut cpu_before = super::process_cpu_ns();
    while let Some(cmd) = cmd_rx.recv().await {
        if cmd.trim() == "stats" {
            let cpu = super::process_cpu_ns();
            let cpu_ns = cpu.saturating_sub(cpu_before);
            cpu_before = cpu;
            let mut max_open = 0;
            let mut open = 0;
            for h in &all {
                let now_open = h.open.load(Ordering::SeqCst);
                max_open = max_open.max(h.max_open.swap(now_open, Ordering::SeqCst));
                open += now_open;
            }
            let accepted = totals.accepted.swap(0, Ordering::SeqCst);
            let requests = totals.requests.swap(0, Ordering::SeqCst);
            let total_open = totals.open.load(Ordering::SeqCst);
            let max_total = totals.max_open.swap(total_open, Ordering::SeqCst);
            let mut out = std::io::stdout().lock();
            writeln!(
                out,
                "STATS {accepted} {requests} {max_open} {open} {max_total} {cpu_ns}"
            )
            .expect("stdout");
            out.flush().expect("stdout");
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    host: Arc<HostCounters>,
    open_tx: Arc<watch::Sender<usize>>,
    totals: Arc<Totals>,
) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        totals.accepted.fetch_add(1, Ordering::SeqCst);
        let open = host.open.fetch_add(1, Ordering::SeqCst) + 1;
        host.max_open.fetch_max(open, Ordering::SeqCst);
        open_tx.send_replace(open);
        let total_open = totals.open.fetch_add(1, Ordering::SeqCst) + 1;
        totals.max_open.fetch_max(total_open, Ordering::SeqCst);
        let (host, open_tx, totals) = (host.clone(), open_tx.clone(), totals.clone());
        tokio::spawn(async move {
            let _ = connection(stream, &open_tx, &totals).await;
            let open = host.open.fetch_sub(1, Ordering::SeqCst) - 1;
            open_tx.send_replace(open);
            totals.open.fetch_sub(1, Ordering::SeqCst);
        });
    }
}

/// Serves one keep-alive connection until the client closes it.
async fn connection(
    mut stream: TcpStream,
    open_tx: &watch::Sender<usize>,
    totals: &Totals,
) -> std::io::Result<()> {
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    let mut out: Vec<u8> = Vec::with_capacity(4096);
    loop {
        // Parse a request head from what is buffered.
        let parsed = {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut req = httparse::Request::new(&mut headers);
            match req.parse(&buf) {
                Ok(httparse::Status::Complete(head_len)) => {
                    let mut body_len = 0usize;
                    let mut close = false;
                    for h in req.headers.iter() {
                        if h.name.eq_ignore_ascii_case("content-length") {
                            body_len = std::str::from_utf8(h.value)
                                .ok()
                                .and_then(|v| v.trim().parse().ok())
                                .unwrap_or(0);
                        } else if h.name.eq_ignore_ascii_case("connection")
                            && h.value.eq_ignore_ascii_case(b"close")
                        {
                            close = true;
                        }
                    }
                    let path = req.path.unwrap_or("/").to_string();
                    Some((head_len, body_len, close, path))
                }
                Ok(httparse::Status::Partial) => None,
                Err(_) => return Ok(()),
            }
        };
        let Some((head_len, body_len, close, path)) = parsed else {
            if read_more(&mut stream, &mut buf).await? == 0 {
                return Ok(());
            }
            continue;
        };
        while buf.len() < head_len + body_len {
            if read_more(&mut stream, &mut buf).await? == 0 {
                return Ok(());
            }
        }
        buf.drain(..head_len + body_len);
        totals.requests.fetch_add(1, Ordering::Relaxed);
        let close_hdr = if close { "Connection: close\r\n" } else { "" };
        out.clear();
        if let Some(size) = path.strip_prefix("/gz/") {
            let body = gzipped(size.parse::<usize>().unwrap_or(0).min(MAX_BODY));
            write!(
                out,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Encoding: gzip\r\n{close_hdr}\r\n",
                body.len()
            )?;
            out.extend_from_slice(&body);
            stream.write_all(&out).await?;
            if close {
                return Ok(());
            }
            continue;
        }
        let (gate, size) = route(&path);
        if gate > 0 {
            let mut rx = open_tx.subscribe();
            let _ = rx.wait_for(|&open| open >= gate).await;
        }
        let typical = if path.starts_with("/h/") {
            TYPICAL_FIELDS
        } else {
            ""
        };
        write!(
            out,
            "HTTP/1.1 200 OK\r\nContent-Length: {size}\r\n{typical}{close_hdr}\r\n"
        )?;
        if size <= 16 * 1024 {
            out.extend_from_slice(&ZEROS[..size]);
            stream.write_all(&out).await?;
        } else {
            stream.write_all(&out).await?;
            stream.write_all(&ZEROS[..size]).await?;
        }
        if close {
            return Ok(());
        }
    }
}

async fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<usize> {
    if buf.capacity() - buf.len() < 2048 {
        buf.reserve(8192);
    }
    stream.read_buf(buf).await
}

/// `(gate, body size)` from a path `/b/<size>` or `/gate/<n>/<size>`.
/// What `/h/<size>` adds to its head: ten fields of the kind a web server or an API sends.
const TYPICAL_FIELDS: &str = "Date: Thu, 03 Dec 2026 12:00:00 GMT\r\n\
    Server: nginx/1.22.1\r\n\
    Content-Type: application/json; charset=utf-8\r\n\
    Cache-Control: private, max-age=0, no-cache\r\n\
    ETag: \"5f3c2a1b-400\"\r\n\
    Last-Modified: Wed, 02 Dec 2026 10:00:00 GMT\r\n\
    Vary: Accept-Encoding\r\n\
    X-Request-Id: 2c5ea4c0-4067-11e9-8bad-9b1deb4d3b7d\r\n\
    Strict-Transport-Security: max-age=31536000\r\n\
    Set-Cookie: session=abc123; Path=/; HttpOnly\r\n";

/// `/gate/<n>/<size>`: wait until `n` connections are open, then `size` bytes; any other
/// `/<word>/<size>`: `size` bytes.
fn route(path: &str) -> (usize, usize) {
    let mut parts = path.trim_start_matches('/').split('/');
    let num = |s: Option<&str>| s.and_then(|s| s.parse::<usize>().ok()).unwrap_or(0);
    match parts.next() {
        Some("gate") => {
            let gate = num(parts.next());
            (gate, num(parts.next()).min(MAX_BODY))
        }
        _ => (0, num(parts.next()).min(MAX_BODY)),
    }
}

/// What the server counted since the previous call.
#[derive(Debug, Clone, Copy)]
pub struct ServerStats {
    /// Connections accepted.
    pub accepted: usize,
    /// Requests answered.
    pub requests: usize,
    /// The most connections any one listener had open at once.
    pub max_open_per_host: usize,
    /// Connections open now.
    pub open: usize,
    /// The most connections open at once over all listeners (with several children,
    /// the sum of their maxima: an upper bound).
    pub max_open_total: usize,
    /// CPU time the server children spent since the previous `stats`, in ns (each child's
    /// `/proc/self/task/*/schedstat`).
    pub cpu_ns: u64,
}

/// One server child.
struct Child1 {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

/// The parent's handle on the server children. Dropping it ends them.
pub struct Server {
    children: Vec<Child1>,
    /// Listen addresses, in host order.
    pub addrs: Vec<SocketAddr>,
}

impl Server {
    /// Starts children with `hosts` listeners in all (as few children as hold them) and
    /// waits until they listen.
    pub fn start(hosts: usize) -> Server {
        Server::start_in(hosts, hosts.div_ceil(HOSTS_PER_CHILD))
    }

    /// Starts `children` children (at least as many as hold `hosts`) with the hosts split
    /// evenly among them. A benchmark comparing host counts gives each the same number
    /// of children, so that every run meets the same servers: one busy child seldom
    /// sleeps, two less busy ones sleep between requests and must be woken by them, a
    /// cost the client's sends pay.
    pub fn start_in(hosts: usize, children: usize) -> Server {
        let exe = std::env::current_exe().expect("current exe");
        let count = children
            .max(hosts.div_ceil(HOSTS_PER_CHILD))
            .clamp(1, hosts.max(1));
        let mut children = Vec::new();
        let mut first = 0;
        // All children start binding at once; their addresses are read in order after.
        for c in 0..count {
            // Hosts `first..first + n`: the remainder spread over the first children.
            let n = hosts / count + usize::from(c < hosts % count);
            let mut child = Command::new(&exe)
                .env(ENV, n.to_string())
                .env(FIRST_ENV, first.to_string())
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .expect("start the server child");
            let stdin = child.stdin.take();
            let stdout = BufReader::new(child.stdout.take().expect("child stdout"));
            children.push(Child1 {
                child,
                stdin,
                stdout,
            });
            first += n;
        }
        let mut addrs = Vec::with_capacity(hosts);
        for c in &mut children {
            loop {
                let mut line = String::new();
                if c.stdout.read_line(&mut line).expect("read child") == 0 {
                    panic!("the server child exited early");
                }
                let line = line.trim();
                if line == "READY" {
                    break;
                }
                if let Some(addr) = line.strip_prefix("LISTEN ") {
                    addrs.push(addr.parse().expect("listen address"));
                }
            }
        }
        Server { children, addrs }
    }

    /// The base URL of host `i`.
    pub fn url(&self, i: usize) -> String {
        format!("http://{}", self.addrs[i])
    }

    /// Counters since the previous call (see the module comment), summed over children.
    pub fn stats(&mut self) -> ServerStats {
        let mut sum = ServerStats {
            accepted: 0,
            requests: 0,
            max_open_per_host: 0,
            open: 0,
            max_open_total: 0,
            cpu_ns: 0,
        };
        for c in &mut self.children {
            let stdin = c.stdin.as_mut().expect("child stdin");
            writeln!(stdin, "stats").expect("write child");
            stdin.flush().expect("flush child");
        }
        for c in &mut self.children {
            let mut line = String::new();
            c.stdout.read_line(&mut line).expect("read child");
            let nums: Vec<u64> = line
                .trim()
                .strip_prefix("STATS ")
                .expect("a STATS line")
                .split(' ')
                .map(|n| n.parse().expect("a number"))
                .collect();
            let n = |i: usize| usize::try_from(nums[i]).expect("a count");
            sum.accepted += n(0);
            sum.requests += n(1);
            sum.max_open_per_host = sum.max_open_per_host.max(n(2));
            sum.open += n(3);
            sum.max_open_total += n(4);
            sum.cpu_ns += nums[5];
        }
        sum
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // End of stdin stops a child.
        for c in &mut self.children {
            drop(c.stdin.take());
        }
        for c in &mut self.children {
            let _ = c.child.wait();
        }
    }
}
