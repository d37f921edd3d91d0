//! Pool statistics: monotonic counters (one atomic each, changed in one place: `count`) and
//! the public snapshot a caller gets from `Client::stats()`, with per-host gauges read from
//! the pool state. Requests sent on idle connections taken at checkout are not counted
//! here but under the pool's lock (`Pool::stats` adds them).

use std::sync::atomic::{AtomicU64, Ordering};

/// Something the pool counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Count {
    ConnectionOpened,
    ConnectFailed,
    RequestSent,
    Reused,
    IdleClosedByServer,
    UnsolicitedResponse,
    RetryCloseRace,
    Retry408,
    RetryNothingWritten,
    BodyDrained,
    DrainOverLimit,
    ExpiredIdleTimeout,
    ExpiredServerTimeout,
    ExpiredServerMax,
    ExpiredLifetime,
    Evicted,
    ClosedOverIdleLimit,
    ClosedOtherRuntime,
    Redirect,
    RetryStatus,
    RetryRefusedByBudget,
    ExpiredLearnedTimeout,
    ExpiredLearnedMax,
    DnsLookup,
    DnsCacheHit,
    DialAttempt,
    ProxyForward,
    ProxyTunnel,
    PoliteWait,
    HostPaused,
    Http2Opened,
    Http2PingFailed,
    RetryRefused,
    RetryWithoutExpectation,
    SocksConnection,
}

/// How many kinds of things are counted.
const COUNTS: usize = Count::SocksConnection as usize + 1;

/// The pool's counters.
#[derive(Debug)]
pub(crate) struct Counters {
    values: [AtomicU64; COUNTS],
}

impl Default for Counters {
    fn default() -> Self {
        Counters {
            values: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

impl Counters {
    /// Adds one to `what`.
    pub fn count(&self, what: Count) {
        self.values[what as usize].fetch_add(1, Ordering::Relaxed);
    }

    fn get(&self, what: Count) -> u64 {
        self.values[what as usize].load(Ordering::Relaxed)
    }

    /// Fills the counter fields of a snapshot.
    pub fn snapshot(&self, gauges: Vec<HostStats>) -> Stats {
        let sum = |f: fn(&HostStats) -> usize| gauges.iter().map(f).sum();
        Stats {
            open: sum(|h| h.open),
            idle: sum(|h| h.idle),
            in_use: sum(|h| h.in_use),
            waiters: sum(|h| h.waiters),
            streams: sum(|h| h.streams),
            connections_opened: self.get(Count::ConnectionOpened),
            connect_errors: self.get(Count::ConnectFailed),
            requests_sent: self.get(Count::RequestSent),
            reuses: self.get(Count::Reused),
            idle_closed_by_server: self.get(Count::IdleClosedByServer),
            unsolicited_responses: self.get(Count::UnsolicitedResponse),
            retries_close_race: self.get(Count::RetryCloseRace),
            retries_408: self.get(Count::Retry408),
            retries_nothing_written: self.get(Count::RetryNothingWritten),
            bodies_drained: self.get(Count::BodyDrained),
            drains_over_limit: self.get(Count::DrainOverLimit),
            expired_idle_timeout: self.get(Count::ExpiredIdleTimeout),
            expired_server_timeout: self.get(Count::ExpiredServerTimeout),
            expired_server_max: self.get(Count::ExpiredServerMax),
            expired_lifetime: self.get(Count::ExpiredLifetime),
            evicted: self.get(Count::Evicted),
            closed_over_idle_limit: self.get(Count::ClosedOverIdleLimit),
            closed_other_runtime: self.get(Count::ClosedOtherRuntime),
            redirects: self.get(Count::Redirect),
            retries_status: self.get(Count::RetryStatus),
            retries_refused_by_budget: self.get(Count::RetryRefusedByBudget),
            expired_learned_timeout: self.get(Count::ExpiredLearnedTimeout),
            expired_learned_max: self.get(Count::ExpiredLearnedMax),
            dns_lookups: self.get(Count::DnsLookup),
            dns_cache_hits: self.get(Count::DnsCacheHit),
            dial_attempts: self.get(Count::DialAttempt),
            proxy_connections: self.get(Count::ProxyForward),
            proxy_tunnels: self.get(Count::ProxyTunnel),
            socks_connections: self.get(Count::SocksConnection),
            polite_waits: self.get(Count::PoliteWait),
            host_pauses: self.get(Count::HostPaused),
            http2_connections_opened: self.get(Count::Http2Opened),
            http2_pings_failed: self.get(Count::Http2PingFailed),
            retries_refused_stream: self.get(Count::RetryRefused),
            retries_without_expectation: self.get(Count::RetryWithoutExpectation),
            hosts: gauges,
        }
    }
}

/// A snapshot of the pool: gauges now, counters since the client was built.
///
/// ```no_run
/// # async fn run() -> tether::Result<()> {
/// let client = tether::Client::new();
/// client.get("http://127.0.0.1:8080/").send().await?.text().await?;
/// let stats = client.stats();
/// assert_eq!((stats.open, stats.idle, stats.in_use), (1, 1, 0));
/// assert_eq!(stats.connections_opened, 1);
/// assert_eq!(stats.requests_sent, 1);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Connections open or being opened, all hosts.
    pub open: usize,
    /// Idle connections, all hosts.
    pub idle: usize,
    /// Connections in use or being opened, all hosts. An HTTP/2 connection counts as in
    /// use while it is open, even with no stream (`streams` says how many it carries).
    pub in_use: usize,
    /// Requests waiting for a connection, all hosts.
    pub waiters: usize,
    /// Streams in use on HTTP/2 connections, all hosts.
    pub streams: usize,
    /// Connections opened (TCP and, for https, TLS done).
    pub connections_opened: u64,
    /// Connection attempts that failed.
    pub connect_errors: u64,
    /// Requests written, retries included.
    pub requests_sent: u64,
    /// Requests that ran on a connection taken from the pool.
    pub reuses: u64,
    /// Idle connections found closed (FIN or reset) by the server.
    pub idle_closed_by_server: u64,
    /// Idle connections on which the server sent bytes unasked (such as a `408`).
    pub unsolicited_responses: u64,
    /// Retries after a reused connection closed before responding.
    pub retries_close_race: u64,
    /// Retries after a `408 Request Timeout` response.
    pub retries_408: u64,
    /// Retries after a failure before any byte of the request was written.
    pub retries_nothing_written: u64,
    /// Responses dropped early whose rest was drained and whose connection was kept.
    pub bodies_drained: u64,
    /// Responses dropped early whose rest was over the drain limit or timeout: closed.
    pub drains_over_limit: u64,
    /// Idle connections closed by the client's idle timeout.
    pub expired_idle_timeout: u64,
    /// Connections closed before the server's `Keep-Alive: timeout` (less the margin).
    pub expired_server_timeout: u64,
    /// Connections closed because the server's `Keep-Alive: max` was used up.
    pub expired_server_max: u64,
    /// Connections closed at the client's maximum lifetime or request count.
    pub expired_lifetime: u64,
    /// Connections closed to make room: an idle one (or an HTTP/2 one carrying no stream)
    /// for another host at the global cap, or one a retry would otherwise have reused (a
    /// retry always takes a new connection).
    pub evicted: u64,
    /// Idle connections closed because the host had more than `max_idle_per_host`.
    pub closed_over_idle_limit: u64,
    /// Connections closed because they were opened on another runtime than the request's
    /// (their slot was needed, or one was handed to a waiter of another runtime).
    pub closed_other_runtime: u64,
    /// Redirects followed (each hop of a chain counts one).
    pub redirects: u64,
    /// Requests asked again after a status the retry policy covers (`429`, `503`, ...).
    pub retries_status: u64,
    /// Retries not made because the client's retry budget was spent: the error or the
    /// answer was returned instead.
    pub retries_refused_by_budget: u64,
    /// Idle connections not reused because they reached the idle timeout learned for
    /// their host (the server's own, estimated from the closes seen, less the round trip).
    pub expired_learned_timeout: u64,
    /// Connections closed after a response instead of kept idle, because their host's
    /// server was seen to end its connections soon after that many responses without
    /// saying so (`Keep-Alive: max` says it): learned from two such ends (a FIN or a
    /// close race within 50 ms of a response), so that the next request is not sent on
    /// a connection the server is closing. Also counts idle or handed-over connections
    /// at a count learned more than 5 minutes ago, closed rather than given to a request
    /// that a close race would not retry.
    pub expired_learned_max: u64,
    /// Names the resolver was asked for (cache misses).
    pub dns_lookups: u64,
    /// Names answered from the client's DNS cache (or by a lookup already in flight).
    pub dns_cache_hits: u64,
    /// TCP connection attempts, one per address tried (Happy Eyeballs may try several
    /// for one connection).
    pub dial_attempts: u64,
    /// Connections opened to a proxy that forwards `http://` requests (absolute-form).
    pub proxy_connections: u64,
    /// `CONNECT` tunnels opened through a proxy for `https://` origins.
    pub proxy_tunnels: u64,
    /// Connections opened through a SOCKS5 proxy (to `http://` or `https://` origins).
    pub socks_connections: u64,
    /// Requests that waited for their host's turn: it was paused by a `Retry-After`, or
    /// `min_delay_per_host` spaced them from the one before (before asking for a
    /// connection, or in the host's line).
    pub polite_waits: u64,
    /// `429` and `503` answers whose `Retry-After` paused their host.
    pub host_pauses: u64,
    /// HTTP/2 connections opened (also counted in `connections_opened`).
    pub http2_connections_opened: u64,
    /// HTTP/2 connections closed for a PING they did not answer: one idle for long,
    /// before reuse, or a keep-alive PING (`http2_keep_alive_interval`).
    pub http2_pings_failed: u64,
    /// Requests sent again because the server said it did not process them: an HTTP/2
    /// stream refused (`REFUSED_STREAM`) or above a GOAWAY's last stream id. Made
    /// whatever the method.
    pub retries_refused_stream: u64,
    /// Requests sent again without `Expect: 100-continue` after a `417 Expectation
    /// Failed` to it (RFC 9110 §10.1.1). Made whatever the method: the `417` says the
    /// request was not processed.
    pub retries_without_expectation: u64,
    /// Per host, sorted by scheme, host and port. A host with nothing open stays listed
    /// while an idle timeout or a limit learned of its server is kept (5 minutes after the
    /// last thing its connections showed, for at most the 4,096 hosts forgotten last; the
    /// pool itself holds no entry for it).
    pub hosts: Vec<HostStats>,
}

/// One host's gauges.
///
/// ```no_run
/// # async fn run() -> tether::Result<()> {
/// let client = tether::Client::new();
/// client.get("http://127.0.0.1:8080/").send().await?.text().await?;
/// for host in &client.stats().hosts {
///     println!("{}: {} open, {} idle, {} waiting", host.host, host.open, host.idle, host.waiters);
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HostStats {
    /// `scheme://host:port`.
    pub host: String,
    /// The proxy this host's connections go through (`http://proxy:port`), if any. A host
    /// reached through a proxy and also directly is listed once for each.
    pub proxy: Option<String>,
    /// Connections open or being opened.
    pub open: usize,
    /// Idle connections.
    pub idle: usize,
    /// Connections in use or being opened (an HTTP/2 connection counts as in use).
    pub in_use: usize,
    /// Requests waiting.
    pub waiters: usize,
    /// HTTP/2 connections open (counted in `open` too).
    pub http2: usize,
    /// Streams in use on those connections.
    pub streams: usize,
    /// The idle timeout learned for the host's server, if one is known: see
    /// `ClientBuilder::learn_idle_timeouts`.
    pub learned_idle_timeout: Option<std::time::Duration>,
    /// The responses the host's server was learned to give a connection before ending it,
    /// if it is known (`expired_learned_max`): `None` too once the ends that taught it are
    /// older than 5 minutes, when only requests that would be retried test it.
    pub learned_max_responses: Option<u32>,
}

impl Stats {
    /// The gauges of one host (`scheme://host:port`), if the pool knows it.
    ///
    /// ```no_run
    /// # async fn run() -> tether::Result<()> {
    /// let client = tether::Client::new();
    /// client.get("http://127.0.0.1:8080/").send().await?.text().await?;
    /// let stats = client.stats();
    /// let host = stats.host("http://127.0.0.1:8080").expect("one host");
    /// assert_eq!(host.idle, 1);
    /// # Ok(())
    /// # }
    /// ```
    pub fn host(&self, host: &str) -> Option<&HostStats> {
        self.hosts.iter().find(|h| h.host == host)
    }
}
