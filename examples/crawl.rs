//! A self-contained crawl: a small site spread over 200 hosts (listeners on 127.0.1.1 to
//! 127.0.1.200, all loopback, ports chosen by the OS), crawled breadth-first from one page
//! by following its links, 64 requests at a time, politely: at most 2 connections per
//! host, 128 in all, and 10 ms between request starts to one host.
//!
//! Every host serves 15 HTML pages. Each page links to two pages of its own host, to pages
//! of two other hosts, and every fifth page to a page that does not exist (404). One host
//! answers its first page request with `429 Too Many Requests` and `Retry-After: 1`: the
//! client pauses that host for a second and tries again.
//!
//! As crawlers do, it reads each host's `/robots.txt` before the host's first page. One
//! host's asks for `Crawl-delay: 0.1`: the crawler gives that host a delay of its own
//! (`Client::set_min_delay_for_host`), so its requests go out at least 100 ms apart while
//! the other hosts keep the client's 10 to 15 ms.
//!
//! While it runs, one line is rewritten in place: requests done, in flight, the most
//! connections any one host had open at once (as the servers count them), connections
//! opened and reused, and errors. At the end, a summary table.
//!
//! Run: `cargo run --release --example crawl`

use std::collections::{HashSet, VecDeque};
use std::io::Write;
use std::mem::MaybeUninit;
use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

const HOSTS: usize = 200;
const PAGES: usize = 15;
const PER_HOST: usize = 2;
const TOTAL: usize = 128;
const IN_FLIGHT: usize = 64;
const DELAY: Duration = Duration::from_millis(10);
/// A random extra, drawn for each request, on top of `DELAY` (jitter).
const JITTER: Duration = Duration::from_millis(5);
/// The host whose first page request is answered with a 429.
const BUSY_HOST: usize = 42;
/// The host whose robots.txt asks for a `Crawl-delay` of `CRAWL_DELAY`.
const SLOW_HOST: usize = 7;
const CRAWL_DELAY: Duration = Duration::from_millis(100);

/// What one host's server counts.
#[derive(Default)]
struct HostCounts {
    /// The connections being served, each with a second handle on its socket (see
    /// `serve`).
    live: Mutex<Vec<(u64, socket2::Socket)>>,
    next_id: AtomicU64,
    max_open: AtomicUsize,
    requests: AtomicUsize,
    /// The busy host has answered its 429.
    answered_busy: std::sync::atomic::AtomicBool,
    /// When each request after the robots.txt arrived.
    arrivals: Mutex<Vec<Instant>>,
}

/// What the crawler learned from robots.txt files, shared by the fetches.
#[derive(Default)]
struct Robots {
    /// Per origin, whether its robots.txt has been read (the first fetch of a host reads
    /// it; the others wait for that).
    read: Mutex<std::collections::HashMap<String, Arc<tokio::sync::OnceCell<()>>>>,
    files: AtomicUsize,
    delays_set: AtomicUsize,
}

/// What a fetch came back with.
enum Fetched {
    Page(Vec<String>),
    Status(u16),
    Failed(String),
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut addrs = Vec::with_capacity(HOSTS);
    let mut counts = Vec::with_capacity(HOSTS);
    for h in 0..HOSTS {
        let listener = TcpListener::bind((format!("127.0.1.{}", h + 1).as_str(), 0)).await?;
        addrs.push(listener.local_addr()?);
        let c = Arc::new(HostCounts::default());
        counts.push(c.clone());
        tokio::spawn(serve(listener, h, c));
    }
    let addrs = Arc::new(addrs);
    for (h, addr) in addrs.iter().enumerate() {
        // Each server knows the others' addresses to write its links.
        SITE.with_addrs(h, *addr);
    }

    let client = tether::Client::builder()
        .max_connections_per_host(PER_HOST)
        .max_connections_total(TOTAL)
        .min_delay_per_host(DELAY)
        .random_delay_per_host(JITTER)
        .build()?;

    let robots = Arc::new(Robots::default());
    let seed = format!("http://{}/p/0", addrs[0]);
    println!(
        "crawling {HOSTS} hosts x {PAGES} pages from {seed}\n\
         caps: {PER_HOST} connections per host, {TOTAL} in all; {} to {} ms between starts to a host\n",
        DELAY.as_millis(),
        (DELAY + JITTER).as_millis()
    );
    let started = Instant::now();
    let mut seen: HashSet<String> = HashSet::from([seed.clone()]);
    let mut frontier: VecDeque<String> = VecDeque::from([seed]);
    let mut tasks: JoinSet<Fetched> = JoinSet::new();
    let (mut done, mut pages, mut not_found, mut other_status, mut errors) = (0, 0, 0, 0, 0);
    let mut links = 0usize;
    // The most connections the client had open at once, looked at as each fetch ends.
    let mut max_open = 0;
    let mut ticker = tokio::time::interval(Duration::from_millis(100));
    loop {
        while tasks.len() < IN_FLIGHT {
            let Some(url) = frontier.pop_front() else {
                break;
            };
            let (client, robots) = (client.clone(), robots.clone());
            tasks.spawn(async move { fetch(&client, &robots, &url).await });
        }
        if tasks.is_empty() {
            break;
        }
        tokio::select! {
            finished = tasks.join_next() => {
                let Some(finished) = finished else { continue };
                done += 1;
                max_open = max_open.max(client.stats().open);
                match finished {
                    Ok(Fetched::Page(found)) => {
                        pages += 1;
                        links += found.len();
                        for link in found {
                            if seen.insert(link.clone()) {
                                frontier.push_back(link);
                            }
                        }
                    }
                    Ok(Fetched::Status(404)) => not_found += 1,
                    Ok(Fetched::Status(_)) => other_status += 1,
                    Ok(Fetched::Failed(e)) => {
                        errors += 1;
                        eprintln!("\nerror: {e}");
                    }
                    Err(e) => {
                        errors += 1;
                        eprintln!("\na fetch panicked: {e}");
                    }
                }
            }
            _ = ticker.tick() => {
                progress(&client, &counts, done, tasks.len(), errors + other_status);
            }
        }
    }
    progress(&client, &counts, done, 0, errors + other_status);
    let elapsed = started.elapsed();
    println!("\n");

    let stats = client.stats();
    let max_per_host = most_open_to_one_host(&counts);
    let hosts_visited = counts
        .iter()
        .filter(|c| c.requests.load(Ordering::Relaxed) > 0)
        .count();
    let slow_gap = least_gap(&counts[SLOW_HOST]);
    let ms = |gap: Option<Duration>| {
        gap.map_or("-".to_string(), |g| {
            format!("{:.0} ms", g.as_secs_f64() * 1e3)
        })
    };
    let (robots_files, delays_set) = (
        robots.files.load(Ordering::Relaxed),
        robots.delays_set.load(Ordering::Relaxed),
    );
    let rows: Vec<(&str, String)> = vec![
        ("hosts visited", format!("{hosts_visited} of {HOSTS}")),
        ("pages fetched (200)", pages.to_string()),
        ("links followed to a 404", not_found.to_string()),
        (
            "other statuses, errors",
            format!("{other_status}, {errors}"),
        ),
        ("links seen", links.to_string()),
        (
            "requests sent (with retries)",
            stats.requests_sent.to_string(),
        ),
        ("time", format!("{:.2} s", elapsed.as_secs_f64())),
        (
            "requests per second",
            format!("{:.0}", done as f64 / elapsed.as_secs_f64()),
        ),
        ("connections opened", stats.connections_opened.to_string()),
        ("connections reused", stats.reuses.to_string()),
        (
            "most open to one host at once",
            format!("{max_per_host} (cap {PER_HOST})"),
        ),
        (
            "most open in all at once",
            format!("{max_open} (cap {TOTAL})"),
        ),
        (
            "starts delayed for politeness",
            stats.polite_waits.to_string(),
        ),
        ("hosts paused by Retry-After", stats.host_pauses.to_string()),
        ("status retries", stats.retries_status.to_string()),
        ("robots.txt files read", robots_files.to_string()),
        ("hosts with a Crawl-delay", delays_set.to_string()),
        (
            "least gap, Crawl-delay host",
            format!("{}, {} asked", ms(slow_gap), ms(Some(CRAWL_DELAY))),
        ),
    ];
    println!("| {:<30} | {:>20} |", "crawl", "");
    println!("|{:-<32}|{:->22}|", "", "");
    for (name, value) in rows {
        println!("| {name:<30} | {value:>20} |");
    }
    // The servers see the gaps a little off the client's spacing (a request read late,
    // on a new connection not yet accepted, then one read at once): the check allows
    // half of the Crawl-delay, still over three times the client's own spacing.
    let slow_kept = slow_gap.is_some_and(|g| g >= CRAWL_DELAY / 2);
    if max_per_host > PER_HOST
        || errors > 0
        || pages != HOSTS * PAGES
        || robots_files != HOSTS
        || delays_set != 1
        || !slow_kept
    {
        return Err("the crawl did not go as expected".into());
    }
    Ok(())
}

/// GETs `url` and reads its links, after its host's robots.txt.
async fn fetch(client: &tether::Client, robots: &Robots, url: &str) -> Fetched {
    if let Ok(page) = url::Url::parse(url) {
        let origin = page.origin().ascii_serialization();
        let once = {
            let mut read = robots.read.lock().unwrap_or_else(|e| e.into_inner());
            read.entry(origin.clone()).or_default().clone()
        };
        once.get_or_init(|| read_robots(client, robots, origin))
            .await;
    }
    let resp = match client.get(url).send().await {
        Ok(resp) => resp,
        Err(e) => return Fetched::Failed(format!("{url}: {e}")),
    };
    let status = resp.status().as_u16();
    let base = resp.url().clone();
    let text = match resp.text().await {
        Ok(text) => text,
        Err(e) => return Fetched::Failed(format!("{url}: {e}")),
    };
    if status != 200 {
        return Fetched::Status(status);
    }
    let links = hrefs(&text)
        .filter_map(|href| base.join(href).ok())
        .map(|u| u.to_string())
        .collect();
    Fetched::Page(links)
}

/// Reads `origin`'s robots.txt and gives the origin its `Crawl-delay`, if it asks for
/// one. (A real crawler would also keep its `Disallow` rules.)
async fn read_robots(client: &tether::Client, robots: &Robots, origin: String) {
    let Ok(resp) = client.get(format!("{origin}/robots.txt")).send().await else {
        return;
    };
    if resp.status() != 200 {
        return;
    }
    let Ok(text) = resp.text().await else {
        return;
    };
    robots.files.fetch_add(1, Ordering::Relaxed);
    let delay = text.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        if !name.trim().eq_ignore_ascii_case("crawl-delay") {
            return None;
        }
        let secs: f64 = value.trim().parse().ok()?;
        Duration::try_from_secs_f64(secs).ok()
    });
    if let Some(delay) = delay {
        if client.set_min_delay_for_host(&origin, Some(delay)).is_ok() {
            robots.delays_set.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The least time between two requests' arrivals at a host's server, after its
/// robots.txt (the first page's start was spaced from the robots.txt's by the client's
/// delay: the Crawl-delay holds from the next).
fn least_gap(counts: &HostCounts) -> Option<Duration> {
    let arrivals = counts.arrivals.lock().unwrap_or_else(|e| e.into_inner());
    arrivals.windows(2).map(|w| w[1] - w[0]).min()
}

/// The `href="…"` values of a page.
fn hrefs(html: &str) -> impl Iterator<Item = &str> {
    html.split("href=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
}

/// The most connections any one host had open at once, as its server counted them.
fn most_open_to_one_host(counts: &[Arc<HostCounts>]) -> usize {
    counts
        .iter()
        .map(|c| c.max_open.load(Ordering::Relaxed))
        .max()
        .unwrap_or(0)
}

/// Rewrites the progress line.
fn progress(
    client: &tether::Client,
    counts: &[Arc<HostCounts>],
    done: usize,
    in_flight: usize,
    errors: usize,
) {
    let stats = client.stats();
    let max_per_host = most_open_to_one_host(counts);
    print!(
        "\rdone {done:>5} | in flight {in_flight:>3} | most open to one host {max_per_host} | \
         connections opened {:>4}, reused {:>5} | errors {errors}   ",
        stats.connections_opened, stats.reuses
    );
    let _ = std::io::stdout().flush();
}

/// The addresses of all hosts, for the servers' links (set once before the crawl).
struct Site {
    addrs: std::sync::Mutex<Vec<Option<SocketAddr>>>,
}

static SITE: Site = Site {
    addrs: std::sync::Mutex::new(Vec::new()),
};

impl Site {
    fn with_addrs(&self, host: usize, addr: SocketAddr) {
        let mut addrs = self.addrs.lock().unwrap_or_else(|e| e.into_inner());
        if addrs.len() < HOSTS {
            addrs.resize(HOSTS, None);
        }
        addrs[host] = Some(addr);
    }

    fn addr(&self, host: usize) -> Option<SocketAddr> {
        let addrs = self.addrs.lock().unwrap_or_else(|e| e.into_inner());
        addrs.get(host).copied().flatten()
    }
}

/// Page `page` of host `host`: links to two pages of its own host, to two other hosts,
/// and on every fifth page to a page that is not there.
fn page(host: usize, page: usize) -> String {
    let mut html = format!("<html><body><h1>host {host}, page {page}</h1>\n");
    for p in [(2 * page + 1) % PAGES, (2 * page + 2) % PAGES] {
        html.push_str(&format!("<a href=\"/p/{p}\">page {p}</a>\n"));
    }
    for (h, p) in [
        ((host * 7 + page + 1) % HOSTS, (page + 3) % PAGES),
        ((host + 13 * page + 5) % HOSTS, 0),
    ] {
        if let Some(addr) = SITE.addr(h) {
            html.push_str(&format!("<a href=\"http://{addr}/p/{p}\">host {h}</a>\n"));
        }
    }
    if page % 5 == 4 {
        html.push_str("<a href=\"/gone\">an old page</a>\n");
    }
    html.push_str("</body></html>\n");
    html
}

/// One host's server: keep-alive HTTP/1.1, pages `/p/0` to `/p/14`, 404 otherwise.
///
/// It counts the connections open at each accept. A connection the client has already
/// closed, whose task has not yet run to read the end, is not counted: its end is waiting
/// in the socket, which a second handle on it can see without taking anything (a peek).
/// Without this, a crawl that closes an idle connection and opens another to the same host
/// a moment later would be counted over the cap whenever this server was slow to look.
async fn serve(listener: TcpListener, host: usize, counts: Arc<HostCounts>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let id = counts.next_id.fetch_add(1, Ordering::Relaxed);
        let handle = stream
            .as_fd()
            .try_clone_to_owned()
            .map(socket2::Socket::from);
        {
            let mut live = counts.live.lock().unwrap_or_else(|e| e.into_inner());
            let open = 1 + live.iter().filter(|(_, s)| not_closed_by_peer(s)).count();
            counts.max_open.fetch_max(open, Ordering::Relaxed);
            if let Ok(handle) = handle {
                live.push((id, handle));
            }
        }
        let counts = counts.clone();
        tokio::spawn(async move {
            let _ = connection(stream, host, &counts).await;
            let mut live = counts.live.lock().unwrap_or_else(|e| e.into_inner());
            live.retain(|(i, _)| *i != id);
        });
    }
}

/// Whether the peer has not closed `socket`: nothing to read, or a request (a peek of one
/// byte; the socket does not block).
fn not_closed_by_peer(socket: &socket2::Socket) -> bool {
    let mut byte = [MaybeUninit::uninit(); 1];
    match socket.peek(&mut byte) {
        Ok(0) => false,
        Ok(_) => true,
        Err(e) => e.kind() == std::io::ErrorKind::WouldBlock,
    }
}

async fn connection(
    mut stream: TcpStream,
    host: usize,
    counts: &HostCounts,
) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(2048);
    loop {
        let (head_len, path) = loop {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut req = httparse::Request::new(&mut headers);
            match req.parse(&buf) {
                Ok(httparse::Status::Complete(n)) => {
                    break (n, req.path.unwrap_or("/").to_string());
                }
                Ok(httparse::Status::Partial) => {
                    let mut chunk = [0u8; 2048];
                    let n = stream.read(&mut chunk).await?;
                    if n == 0 {
                        return Ok(());
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                Err(_) => return Ok(()),
            }
        };
        buf.drain(..head_len);
        counts.requests.fetch_add(1, Ordering::Relaxed);
        if path != "/robots.txt" {
            counts
                .arrivals
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(Instant::now());
        }
        let page_no = path
            .strip_prefix("/p/")
            .and_then(|p| p.parse::<usize>().ok())
            .filter(|p| *p < PAGES);
        let (status, extra, body) = match page_no {
            _ if path == "/robots.txt" => {
                let rules = if host == SLOW_HOST {
                    format!(
                        "User-agent: *\nCrawl-delay: {}\n",
                        CRAWL_DELAY.as_secs_f64()
                    )
                } else {
                    "User-agent: *\nDisallow:\n".to_string()
                };
                ("200 OK", "Content-Type: text/plain\r\n", rules)
            }
            Some(_) if host == BUSY_HOST && !counts.answered_busy.swap(true, Ordering::Relaxed) => {
                (
                    "429 Too Many Requests",
                    "Retry-After: 1\r\n",
                    "busy\n".to_string(),
                )
            }
            Some(p) => ("200 OK", "Content-Type: text/html\r\n", page(host, p)),
            None => ("404 Not Found", "", "not here\n".to_string()),
        };
        let response = format!(
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\n{extra}\r\n{body}",
            body.len()
        );
        stream.write_all(response.as_bytes()).await?;
    }
}
