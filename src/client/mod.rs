//! The public client: `Client` (cheap to clone; clones share one pool), its builder with
//! every knob of DESIGN.md's Defaults table, and the request methods. Sending is
//! `send.rs`, the retry decision `retry.rs`, the response and its body `response.rs`.

mod body;
mod budget;
#[cfg(feature = "charset")]
mod charset;
mod config;
#[cfg(feature = "cookies")]
mod cookies;
#[cfg(feature = "cookies")]
pub use cookies::{Cookie, CookieStore, Jar};
mod decode;
pub mod multipart;
mod no_proxy;
mod proxy;
pub mod redirect;
mod request;
mod response;
mod retry;
mod send;
mod service;
mod status_retry;
mod target;
#[cfg(all(test, target_os = "linux"))]
mod tcp_tests;
mod url_auth;
mod url_memo;

use std::sync::Arc;
use std::time::Duration;

use http::Method;

use crate::conn::ReuseLimits;
use crate::error::Error;
use crate::pool::{Caps, Pool, PoolConfig, Stats};
use config::Config;

pub use crate::conn::tls::{Certificate, Identity, PemError};
#[cfg(feature = "hickory-dns")]
pub use crate::conn::HickoryResolver;
pub use crate::conn::{BoxError, Resolve, Resolving, Upgraded};
pub use body::Body;
pub use config::{
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_DNS_CACHE_TTL, DEFAULT_DRAIN_LIMIT, DEFAULT_DRAIN_TIMEOUT,
    DEFAULT_HTTP2_KEEP_ALIVE_TIMEOUT, DEFAULT_HTTP2_PING_AFTER_IDLE, DEFAULT_HTTP2_PING_TIMEOUT,
    DEFAULT_IDLE_TIMEOUT, DEFAULT_KEEP_ALIVE_MARGIN, DEFAULT_MAX_CONNECTIONS_PER_HOST,
    DEFAULT_MAX_CONNECTIONS_TOTAL, DEFAULT_MAX_HEADERS, DEFAULT_MAX_HEAD_BYTES,
    DEFAULT_MAX_HOST_PAUSE, DEFAULT_MAX_RETRIES, DEFAULT_SWEEP_INTERVAL, DEFAULT_USER_AGENT,
    POLITE_MAX_CONNECTIONS_PER_HOST,
};
pub use no_proxy::NoProxy;
pub use proxy::Proxy;
pub use request::{IntoUrl, RequestBuilder};
pub use response::{Response, ResponseBody};
pub use status_retry::RetryPolicy;

/// An HTTP/1.1 and HTTP/2 client with a per-host keep-alive connection pool.
///
/// Cheap to clone: clones share the pool, its caps and its statistics.
///
/// ```no_run
/// # async fn run() -> tether::Result<()> {
/// let client = tether::Client::new();
/// // Clones share one pool: the second request reuses the first one's connection.
/// let api = client.clone();
/// client.get("http://127.0.0.1:8080/a").send().await?.text().await?;
/// api.get("http://127.0.0.1:8080/b").send().await?.text().await?;
/// assert_eq!(client.stats().reuses, 1);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Client {
    /// One reference count for a clone (every request's builder takes one) to take and
    /// give back.
    inner: Arc<Shared>,
}

/// What a client and its clones share.
struct Shared {
    pool: Pool,
    config: Config,
    /// Every retry of this client and its clones draws on it.
    budget: budget::Shared,
}

impl Client {
    /// A client with the default settings (see [`ClientBuilder`]).
    ///
    /// ```
    /// let client = tether::Client::new();
    /// assert_eq!(client.stats().open, 0);
    /// ```
    pub fn new() -> Client {
        ClientBuilder::new().build_infallible()
    }

    /// A builder to change the settings.
    ///
    /// ```
    /// let client = tether::Client::builder().polite().build()?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn builder() -> ClientBuilder {
        ClientBuilder::new()
    }

    /// A request with any method.
    ///
    /// ```no_run
    /// # async fn run() -> tether::Result<()> {
    /// let client = tether::Client::new();
    /// let response = client
    ///     .request(http::Method::PATCH, "http://127.0.0.1:8080/items/1")
    ///     .body(r#"{"done":true}"#)
    ///     .send()
    ///     .await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn request(&self, method: Method, url: impl IntoUrl) -> RequestBuilder {
        RequestBuilder::new(self.clone(), method, url.into_target())
    }

    /// A GET request.
    ///
    /// ```no_run
    /// # async fn run() -> tether::Result<()> {
    /// let body = tether::Client::new().get("http://127.0.0.1:8080/").send().await?.text().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn get(&self, url: impl IntoUrl) -> RequestBuilder {
        self.request(Method::GET, url)
    }

    /// A POST request.
    ///
    /// ```no_run
    /// # async fn run() -> tether::Result<()> {
    /// let client = tether::Client::new();
    /// let response = client.post("http://127.0.0.1:8080/orders").body("one pizza").send().await?;
    /// // A POST is never sent twice: after an error, ask whether it was written at all.
    /// # Ok(())
    /// # }
    /// ```
    pub fn post(&self, url: impl IntoUrl) -> RequestBuilder {
        self.request(Method::POST, url)
    }

    /// A PUT request.
    ///
    /// ```no_run
    /// # async fn run() -> tether::Result<()> {
    /// let client = tether::Client::new();
    /// client.put("http://127.0.0.1:8080/files/a.txt").body("contents").send().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn put(&self, url: impl IntoUrl) -> RequestBuilder {
        self.request(Method::PUT, url)
    }

    /// A PATCH request.
    ///
    /// ```no_run
    /// # async fn run() -> tether::Result<()> {
    /// let client = tether::Client::new();
    /// client.patch("http://127.0.0.1:8080/items/1").body(r#"{"done":true}"#).send().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn patch(&self, url: impl IntoUrl) -> RequestBuilder {
        self.request(Method::PATCH, url)
    }

    /// A DELETE request.
    ///
    /// ```no_run
    /// # async fn run() -> tether::Result<()> {
    /// let client = tether::Client::new();
    /// let status = client.delete("http://127.0.0.1:8080/files/a.txt").send().await?.status();
    /// # Ok(())
    /// # }
    /// ```
    pub fn delete(&self, url: impl IntoUrl) -> RequestBuilder {
        self.request(Method::DELETE, url)
    }

    /// A HEAD request.
    ///
    /// ```no_run
    /// # async fn run() -> tether::Result<()> {
    /// let client = tether::Client::new();
    /// let response = client.head("http://127.0.0.1:8080/big.iso").send().await?;
    /// let size = response.headers().get(http::header::CONTENT_LENGTH);
    /// # Ok(())
    /// # }
    /// ```
    pub fn head(&self, url: impl IntoUrl) -> RequestBuilder {
        self.request(Method::HEAD, url)
    }

    /// A snapshot of the pool: connections open, idle, in use and waiters (in total and per
    /// host) and counters of what happened since the client was built.
    ///
    /// ```
    /// let client = tether::Client::new();
    /// let stats = client.stats();
    /// assert_eq!((stats.open, stats.idle, stats.in_use, stats.waiters), (0, 0, 0, 0));
    /// assert_eq!(stats.requests_sent, 0);
    /// ```
    pub fn stats(&self) -> Stats {
        self.inner.pool.stats()
    }

    /// Keeps the requests sent to `url`'s origin (its scheme, host and port) at least
    /// `delay` apart, in place of `min_delay_per_host` for that origin: a crawler's delay
    /// for one site, such as the `Crawl-delay` of its robots.txt. It may be longer or
    /// shorter than the client's, or zero; any `random_delay_per_host` is still added, and
    /// a `Retry-After` pause still holds. `None` gives the origin the client's delay again.
    /// It holds from the next request sent there, for this client and its clones, and
    /// through any proxy. Waiting holds no slot and no connection, as for
    /// `min_delay_per_host`.
    ///
    /// The client keeps each delay until it is cleared, whatever else of the host it
    /// forgets: a crawler that sets one per site clears it when done with the site.
    ///
    /// ```
    /// use std::time::Duration;
    /// let crawler = tether::Client::builder()
    ///     .min_delay_per_host(Duration::from_millis(250))
    ///     .build()?;
    /// // robots.txt of this site asked for `Crawl-delay: 5`.
    /// crawler.set_min_delay_for_host("https://slow.example/", Some(Duration::from_secs(5)))?;
    /// // Done with the site.
    /// crawler.set_min_delay_for_host("https://slow.example/", None)?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn set_min_delay_for_host(
        &self,
        url: impl IntoUrl,
        delay: Option<Duration>,
    ) -> Result<(), Error> {
        let origin = origin_of(url, "a delay")?;
        self.inner.pool.set_delay(origin, delay);
        Ok(())
    }

    /// Caps the connections open to `url`'s origin (its scheme, host and port) at `max`
    /// (at least 1), in place of `max_connections_per_host` for that origin: fewer for a
    /// fragile site, more for a server the crawler owns (Scrapy's per-slot `concurrency`,
    /// colly's `Parallelism` per domain). The global cap still holds, and so does
    /// `max_idle_per_host` if it was set (else the origin keeps up to `max` idle). `None`
    /// gives the origin the client's cap again. It holds for this client and its clones,
    /// and through any proxy (for each proxy apart, as the client's cap does).
    ///
    /// A higher cap lets requests waiting for the origin's connections open more at once.
    /// A lower one closes the origin's idle connections past it at once and cuts nothing
    /// short: requests under way finish, and the connections past the cap they hold are
    /// closed as they come free (all counted in `closed_over_idle_limit`). Over HTTP/2, as
    /// for the client's cap, it counts connections, not the streams that share them; a
    /// lower cap lets go of the HTTP/2 connections past it (those carrying the fewest
    /// streams first), which take no new stream and close when their last one ends.
    ///
    /// The client keeps each cap until it is cleared, whatever else of the host it
    /// forgets.
    ///
    /// ```
    /// let crawler = tether::Client::builder().polite().build()?;
    /// // One connection at a time to a site that asks for care.
    /// crawler.set_max_connections_for_host("https://fragile.example/", Some(1))?;
    /// // Back to the client's two.
    /// crawler.set_max_connections_for_host("https://fragile.example/", None)?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn set_max_connections_for_host(
        &self,
        url: impl IntoUrl,
        max: Option<usize>,
    ) -> Result<(), Error> {
        let target = url.into_target()?;
        let origin = target_origin(&target, "a connection cap")?;
        // The origin through the proxy that routes it, if one does: its idle connections
        // past a lowered cap close at once too. (A routing error only fails requests.)
        let proxies = &self.inner.config.proxies;
        let routed = match proxies.is_empty() {
            true => None,
            false => (proxies.route(&origin, &|| target.url().clone()))
                .ok()
                .flatten()
                .map(|proxy| origin.clone().via(Some(proxy))),
        };
        let cap = max.map(|max| self.host_cap(max));
        self.inner.pool.set_cap(origin, cap, routed);
        Ok(())
    }
}

/// The origin (scheme, host and port) of `url`, for setting `what` for it; an
/// `is_builder()` error when the URL names none (not http or https, or no host).
fn origin_of(url: impl IntoUrl, what: &str) -> Result<crate::pool::PoolKey, Error> {
    target_origin(&url.into_target()?, what)
}

/// `target`'s origin, as [`origin_of`] gives it.
fn target_origin(target: &target::Target, what: &str) -> Result<crate::pool::PoolKey, Error> {
    target.origin().ok_or_else(|| {
        Error::proto(crate::proto::ProtoError::InvalidUrl).context(format!(
            "cannot set {what} for {}: not an http or https URL with a host",
            url_auth::Redacted(target.url())
        ))
    })
}

/// A setting the builder was given for one origin, made on the client it builds.
#[derive(Debug, Clone, Copy)]
enum OriginSetting {
    /// `min_delay_for_host`.
    Delay(Duration),
    /// `max_connections_for_host`.
    MaxConnections(usize),
}

impl Client {
    /// An origin's connection caps for `max_connections_for_host(max)`: `max` open (at
    /// least 1), and as many idle, or `max_idle_per_host` if that was set and is fewer.
    fn host_cap(&self, max: usize) -> crate::pool::HostCap {
        let open = max.max(1);
        let idle = self
            .inner
            .config
            .max_idle_per_host
            .map_or(open, |i| i.min(open));
        crate::pool::HostCap { open, idle }
    }

    /// Makes the settings the builder was given for single origins.
    fn set_for_origins(&self, origins: Vec<(crate::pool::PoolKey, OriginSetting)>) {
        for (origin, setting) in origins {
            match setting {
                OriginSetting::Delay(delay) => self.inner.pool.set_delay(origin, Some(delay)),
                OriginSetting::MaxConnections(max) => {
                    // Nothing is open yet that a cap could close.
                    let cap = Some(self.host_cap(max));
                    self.inner.pool.set_cap(origin, cap, None);
                }
            }
        }
    }

    /// Counts a request (one hop, not each attempt) into the retry budget.
    fn budget_request(&self) {
        self.inner.budget.request();
    }

    /// Whether the retry budget allows one more retry now (counting it if so).
    fn budget_retry(&self) -> bool {
        let allowed = self.inner.budget.try_retry(crate::clock::now());
        if !allowed {
            self.inner
                .pool
                .count(crate::pool::Count::RetryRefusedByBudget);
        }
        allowed
    }
}

impl Default for Client {
    fn default() -> Self {
        Client::new()
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("max_connections_per_host", &self.inner.config.max_per_host)
            .field("max_connections_total", &self.inner.config.max_total)
            .finish_non_exhaustive()
    }
}

/// Settings for a [`Client`]. The defaults:
///
/// | knob | default |
/// |---|---|
/// | `max_connections_per_host` | 6 (`polite()`: 2, RFC 2616 §8.1.4) |
/// | `max_connections_total` | 256 |
/// | `max_idle_per_host` | the per-host cap |
/// | `idle_timeout` | 90 s |
/// | `keep_alive_margin` | 1 s before the server's `Keep-Alive: timeout` |
/// | `drain_limit` / `drain_timeout` | 256 KiB / 2 s |
/// | `connect_timeout` | 10 s |
/// | `max_retries` | 2 |
/// | `max_requests_per_connection` | none (a server's `max=` still applies) |
/// | `max_lifetime` | none |
/// | `max_head_bytes` / `max_headers` | 64 KiB / 100 |
/// | `timeout` (per request) / `pool_timeout` / `read_timeout` | none / none / none |
/// | `redirect` | followed, at most 10 (`redirect::Policy::limited(10)`) |
/// | `user_agent` / `default_headers` | `tether/<version>` / none |
/// | decompression (`no_decompression`; one coding: `no_gzip`, `gzip(false)`, ...) | gzip, deflate, br, zstd: those enabled as features |
/// | `max_body_bytes` | none |
/// | TLS versions (`min_tls_version`, `max_tls_version`) | 1.2 and 1.3 |
/// | TLS roots | webpki-roots (`add_root_certificate` adds, `tls_roots_only` replaces; `danger_accept_invalid_certs` takes any certificate) |
/// | client certificate (`identity`) | none |
/// | `min_delay_per_host` / `random_delay_per_host` / `max_host_pause` (a `Retry-After` pauses the host) | none / none / 60 s |
/// | proxies (`proxy`, `no_proxy`) | from the environment: `http_proxy`, `https_proxy`, `all_proxy`, `no_proxy` |
/// | `dns_cache_ttl` / Happy Eyeballs delay | 30 s / 250 ms |
/// | HTTP/2 (`http1_only`, `http2_prior_knowledge`) | by ALPN over TLS; plain `http://` only with prior knowledge |
/// | `http2_ping_after_idle` / `http2_ping_timeout` | 10 s / 5 s |
/// | `http2_keep_alive_interval` / `_timeout` / `_while_idle` | off / 20 s / off |
/// | HTTP/2 windows: `http2_initial_stream_window_size` / `..._connection_window_size` | 1 MiB / 4 MiB |
/// | `https_only` | off: `http://` URLs are requested too |
/// | `referer` (a redirect's next hop says where it came from) | on: the whole URL within its origin, the origin alone to another, none from `https` to `http` |
///
/// TLS uses rustls with the ring crypto provider, offers ALPN `h2` and `http/1.1` and TLS
/// 1.2 and 1.3, and resumes sessions across the client's connections.
///
/// ```
/// use std::time::Duration;
/// let client = tether::Client::builder()
///     .max_connections_per_host(4)
///     .max_connections_total(64)
///     .connect_timeout(Duration::from_secs(3))
///     .timeout(Duration::from_secs(30))
///     .build()?;
/// # Ok::<(), tether::Error>(())
/// ```
#[must_use]
pub struct ClientBuilder {
    config: Config,
    /// A setting that could not be used, returned by `build`.
    error: Option<Error>,
    /// Settings for single origins, in the order given.
    origins: Vec<(crate::pool::PoolKey, OriginSetting)>,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        ClientBuilder::new()
    }
}

impl ClientBuilder {
    /// The defaults.
    ///
    /// ```
    /// let client = tether::ClientBuilder::new().build()?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn new() -> ClientBuilder {
        ClientBuilder {
            config: Config::default(),
            error: None,
            origins: Vec::new(),
        }
    }

    /// Most connections open (or being opened) to one host at once.
    ///
    /// ```
    /// let client = tether::Client::builder().max_connections_per_host(16).build()?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn max_connections_per_host(mut self, n: usize) -> Self {
        self.config.max_per_host = n.max(1);
        self
    }

    /// The polite preset, for crawlers: at most 2 connections per host (RFC 2616 §8.1.4),
    /// and one request at a time on each HTTP/2 connection
    /// ([`http2_max_streams_per_connection(1)`](Self::http2_max_streams_per_connection)),
    /// so that a site gets at most 2 requests at once over either protocol. Settings made
    /// after it take their place.
    ///
    /// ```
    /// let crawler = tether::Client::builder()
    ///     .polite()
    ///     .max_connections_total(512)
    ///     .build()?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn polite(self) -> Self {
        self.max_connections_per_host(POLITE_MAX_CONNECTIONS_PER_HOST)
            .http2_max_streams_per_connection(1)
    }

    /// Most connections open (or being opened) over all hosts together.
    ///
    /// ```
    /// let client = tether::Client::builder().max_connections_total(1000).build()?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn max_connections_total(mut self, n: usize) -> Self {
        self.config.max_total = n.max(1);
        self
    }

    /// Most idle connections kept per host (default: the per-host cap).
    ///
    /// ```
    /// // Keep at most one idle connection per host between bursts.
    /// let client = tether::Client::builder().max_idle_per_host(1).build()?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn max_idle_per_host(mut self, n: usize) -> Self {
        self.config.max_idle_per_host = Some(n);
        self
    }

    /// reqwest's name for [`max_idle_per_host`](Self::max_idle_per_host).
    ///
    /// ```
    /// let client = tether::Client::builder().pool_max_idle_per_host(1).build()?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn pool_max_idle_per_host(self, n: usize) -> Self {
        self.max_idle_per_host(n)
    }

    /// reqwest's name for [`idle_timeout`](Self::idle_timeout); `None` keeps idle
    /// connections for as long as the server does (and the learned timeouts allow).
    ///
    /// ```
    /// let client = tether::Client::builder()
    ///     .pool_idle_timeout(std::time::Duration::from_secs(30))
    ///     .build()?;
    /// let forever = tether::Client::builder().pool_idle_timeout(None).build()?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn pool_idle_timeout<D: Into<Option<Duration>>>(self, d: D) -> Self {
        self.idle_timeout(d.into().unwrap_or(Duration::MAX))
    }

    /// How long an idle connection is kept.
    ///
    /// ```
    /// let client = tether::Client::builder()
    ///     .idle_timeout(std::time::Duration::from_secs(30))
    ///     .build()?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn idle_timeout(mut self, d: Duration) -> Self {
        self.config.idle_timeout = d;
        self
    }

    /// How long before a server's `Keep-Alive: timeout` a connection stops being reused.
    ///
    /// ```
    /// let client = tether::Client::builder()
    ///     .keep_alive_margin(std::time::Duration::from_millis(500))
    ///     .build()?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn keep_alive_margin(mut self, d: Duration) -> Self {
        self.config.keep_alive_margin = d;
        self
    }

    /// How many unread bytes a dropped response may drain to keep its connection.
    ///
    /// ```
    /// // Drain at most 1 MiB of an unread body to keep its connection.
    /// let client = tether::Client::builder().drain_limit(1 << 20).build()?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn drain_limit(mut self, bytes: u64) -> Self {
        self.config.drain_limit = bytes;
        self
    }

    /// How long that drain may take. The same bounds hold the body of an answer tether
    /// reads itself and does not return (a redirect before its next hop, an answer that
    /// is retried): past them, its connection is closed.
    ///
    /// ```
    /// let client = tether::Client::builder()
    ///     .drain_timeout(std::time::Duration::from_millis(500))
    ///     .build()?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn drain_timeout(mut self, d: Duration) -> Self {
        self.config.drain_timeout = d;
        self
    }

    /// How long opening a connection (TCP, and TLS for https) may take.
    ///
    /// ```
    /// let client = tether::Client::builder()
    ///     .connect_timeout(std::time::Duration::from_secs(2))
    ///     .build()?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.config.connect_timeout = d;
        self
    }

    /// How many times a request may be retried on a fresh connection.
    ///
    /// ```
    /// // Never retry, not even a GET that met a connection the server had just closed.
    /// let client = tether::Client::builder().max_retries(0).build()?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn max_retries(mut self, n: u32) -> Self {
        self.config.max_retries = n;
        self
    }

    /// Closes a connection after this many responses.
    ///
    /// ```
    /// let client = tether::Client::builder().max_requests_per_connection(100).build()?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn max_requests_per_connection(mut self, n: u32) -> Self {
        self.config.max_requests_per_connection = Some(n.max(1));
        self
    }

    /// Closes a connection once it is this old (checked when it would go idle).
    ///
    /// ```
    /// // Reconnect at least every 5 minutes, to follow DNS changes.
    /// let client = tether::Client::builder()
    ///     .max_lifetime(std::time::Duration::from_secs(300))
    ///     .build()?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn max_lifetime(mut self, d: Duration) -> Self {
        self.config.max_lifetime = Some(d);
        self
    }

    /// The largest response head accepted.
    ///
    /// ```
    /// let client = tether::Client::builder().max_head_bytes(16 * 1024).build()?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn max_head_bytes(mut self, n: usize) -> Self {
        self.config.head_limits.max_head_bytes = n;
        self
    }

    /// The most response header lines accepted.
    ///
    /// ```
    /// let client = tether::Client::builder().max_headers(50).build()?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn max_headers(mut self, n: usize) -> Self {
        self.config.head_limits.max_headers = n;
        self
    }

    /// A default timeout for every request (a request's own `timeout` wins).
    ///
    /// ```
    /// let client = tether::Client::builder()
    ///     .timeout(std::time::Duration::from_secs(10))
    ///     .build()?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn timeout(mut self, d: Duration) -> Self {
        self.config.timeout = Some(d);
        self
    }

    /// The longest wait for the next bytes of a response head or body, once the request
    /// is written: a stalled response is caught even without an overall `timeout`.
    ///
    /// ```
    /// let client = tether::Client::builder()
    ///     .read_timeout(std::time::Duration::from_secs(5))
    ///     .build()?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn read_timeout(mut self, d: Duration) -> Self {
        self.config.read_timeout = Some(d);
        self
    }

    /// How long a request may wait for a connection when its host or the pool is at a cap.
    ///
    /// ```
    /// let client = tether::Client::builder()
    ///     .polite()
    ///     .pool_timeout(std::time::Duration::from_secs(30))
    ///     .build()?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn pool_timeout(mut self, d: Duration) -> Self {
        self.config.pool_timeout = Some(d);
        self
    }

    /// How often the background sweep closes expired and server-closed idle connections.
    ///
    /// ```
    /// let client = tether::Client::builder()
    ///     .sweep_interval(std::time::Duration::from_secs(1))
    ///     .build()?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn sweep_interval(mut self, d: Duration) -> Self {
        self.config.sweep_interval = d.max(Duration::from_millis(1));
        self
    }

    /// Which answers to ask again (default: `429` and `503` with a `Retry-After` of at most
    /// 10 s, once; see [`RetryPolicy`]). Only requests safe to repeat are retried: an
    /// idempotent method or an `Idempotency-Key`, and a body held in memory. Every retry,
    /// these and the close-race ones, draws on one budget per client: at most 20% of the
    /// requests of the last 10 s, plus 1 a second.
    ///
    /// ```
    /// let client = tether::Client::builder()
    ///     .retry(tether::RetryPolicy::default().statuses([429, 502, 503]))
    ///     .build()?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.config.retry = policy;
        self
    }

    /// Sends bodies of at least `threshold` bytes (and every body stream) with
    /// `Expect: 100-continue` (default: never). Such a body waits for the server's
    /// `100 Continue`, or 1 s without an answer; a final answer first (a `401`, `413` or
    /// `417`) is returned without the body being sent, and its connection is closed.
    ///
    /// ```
    /// let client = tether::Client::builder().expect_continue(1 << 20).build()?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn expect_continue(mut self, threshold: u64) -> Self {
        self.config.expect_continue = Some(threshold);
        self
    }

    /// Whether to learn each host's idle timeout when its server does not say it (default:
    /// on). Most servers close idle connections without announcing when (nginx, Node,
    /// Python, load balancers); a request sent in the round trip before their FIN arrives
    /// meets a closed connection, and a POST cannot be retried. With learning on, the time
    /// each idle connection's FIN arrives is noted (the socket is watched while idle), close
    /// races are remembered, and the host's connections stop being reused before that
    /// time, less the round trip measured on each new connection and a small margin. A
    /// server that ends its connections soon after a response whatever the idle time (one
    /// request per connection, without saying so) is learned too: once two such ends
    /// agree on the responses a connection was given, connections are closed at that
    /// count rather than reused into the close. Closing them there hides whether the
    /// server still does so: after 5 minutes, a connection at that count is given only to
    /// a request that a close race would retry (a GET), whose answer or retried race
    /// settles it, never to a POST. What is learned is in
    /// [`Stats`](crate::Stats) (`expired_learned_timeout`, `expired_learned_max`, and each
    /// host's `learned_idle_timeout` and `learned_max_responses`) and in tracing; it is
    /// forgotten with the host.
    ///
    /// `false` keeps only the client's own idle timeout and the server's `Keep-Alive`.
    ///
    /// ```
    /// let client = tether::Client::builder()
    ///     .learn_idle_timeouts(false)
    ///     .build()?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn learn_idle_timeouts(mut self, enable: bool) -> Self {
        self.config.learn_idle_timeouts = enable;
        self
    }

    /// Resolves host names with `resolver` instead of the system's. Its answers are
    /// cached like the system resolver's (`dns_cache_ttl`).
    ///
    /// ```
    /// # use std::net::{IpAddr, Ipv4Addr};
    /// # use std::sync::Arc;
    /// struct Loopback;
    /// impl tether::Resolve for Loopback {
    ///     fn resolve(&self, _name: &str) -> tether::Resolving {
    ///         Box::pin(async { Ok(vec![IpAddr::V4(Ipv4Addr::LOCALHOST)]) })
    ///     }
    /// }
    /// let client = tether::Client::builder().dns_resolver(Arc::new(Loopback)).build()?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn dns_resolver<R: Resolve>(mut self, resolver: Arc<R>) -> Self {
        self.config.connect.resolver = Some(resolver);
        self
    }

    /// Resolves names with hickory-resolver configured as the system is
    /// (`/etc/resolv.conf`, `/etc/hosts`) instead of the system's `getaddrinfo`
    /// (feature `hickory-dns`). A resolver given with `dns_resolver` wins. `build` fails
    /// (`ErrorKind::Connect`) when the system's configuration cannot be read.
    ///
    /// ```no_run
    /// let client = tether::Client::builder().hickory_dns(true).build()?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    #[cfg(feature = "hickory-dns")]
    pub fn hickory_dns(mut self, enable: bool) -> Self {
        self.config.connect.hickory = enable;
        self
    }

    /// Resolves names with the system's resolver, not hickory-resolver (reqwest's name;
    /// the default, so only needed to undo `hickory_dns(true)`).
    pub fn no_hickory_dns(self) -> Self {
        #[cfg(feature = "hickory-dns")]
        {
            self.hickory_dns(false)
        }
        #[cfg(not(feature = "hickory-dns"))]
        {
            self
        }
    }

    /// How long a name's addresses are kept (default 30 s; a failed lookup is kept at most
    /// 1 s). `Duration::ZERO` asks the resolver for every new connection.
    ///
    /// ```
    /// let client = tether::Client::builder()
    ///     .dns_cache_ttl(std::time::Duration::from_secs(5))
    ///     .build()?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn dns_cache_ttl(mut self, ttl: Duration) -> Self {
        self.config.connect.dns_cache_ttl = ttl;
        self
    }

    /// Pins `domain` to `addr` for this client, as curl's `--resolve`: no lookup is made
    /// for it. As in reqwest, a URL that names a port of its own is dialed on that port;
    /// one that names none (`http://api.example/`) on `addr`'s port, or on its scheme's
    /// when that is 0. Pinning a domain several times gives it several addresses, tried
    /// in that order.
    ///
    /// ```
    /// // http://api.example/ goes to 127.0.0.1:8080, http://api.example:9000/ to port 9000.
    /// let client = tether::Client::builder()
    ///     .resolve("api.example", "127.0.0.1:8080".parse().unwrap())
    ///     .build()?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn resolve(mut self, domain: &str, addr: std::net::SocketAddr) -> Self {
        self.config
            .connect
            .pins
            .entry(domain.to_ascii_lowercase())
            .or_default()
            .push(addr);
        self
    }

    /// Pins `domain` to these addresses, tried in this order (by Happy Eyeballs, as a
    /// resolver's answer is), in place of any pinned before; ports as in
    /// [`resolve`](Self::resolve). reqwest's name.
    ///
    /// ```
    /// let client = tether::Client::builder()
    ///     .resolve_to_addrs(
    ///         "api.example",
    ///         &["[::1]:8080".parse().unwrap(), "127.0.0.1:8080".parse().unwrap()],
    ///     )
    ///     .build()?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn resolve_to_addrs(mut self, domain: &str, addrs: &[std::net::SocketAddr]) -> Self {
        self.config
            .connect
            .pins
            .insert(domain.to_ascii_lowercase(), addrs.to_vec());
        self
    }

    /// Binds every connection to this local address (`None`: the system picks). Addresses
    /// of the other IP family are not tried.
    ///
    /// ```
    /// let client = tether::Client::builder()
    ///     .local_address(std::net::IpAddr::from([127, 0, 0, 2]))
    ///     .build()?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn local_address<T: Into<Option<std::net::IpAddr>>>(mut self, addr: T) -> Self {
        self.config.connect.local_address = addr.into();
        self
    }

    /// Binds every connection to this network interface (`SO_BINDTODEVICE`, reqwest's
    /// name; Linux, Android and Fuchsia): requests leave by it whatever the routing table
    /// says, proxies' connections included. A name the system does not know fails each
    /// connection with `ErrorKind::Connect` saying so.
    ///
    /// ```
    /// let client = tether::Client::builder().interface("lo").build()?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    #[cfg(any(target_os = "android", target_os = "fuchsia", target_os = "linux"))]
    pub fn interface(mut self, name: &str) -> Self {
        self.config.connect.interface = Some(name.into());
        self
    }

    /// Sends every request to the Unix domain socket at `path` (reqwest's name; Unix
    /// only): the URL still gives the request its target and `Host`, but no name is
    /// resolved and no TCP connection made, proxies included. For local services that
    /// listen on one, such as Docker's API (`/var/run/docker.sock`). The connections are
    /// pooled, watched, probed and reused as TCP ones are. An `http://` URL is plain HTTP
    /// on the socket, an `https://` one TLS (the URL's host the name for SNI and the
    /// certificate; HTTP/2 if ALPN picks it); a socket that is not there is a `Connect`
    /// error.
    ///
    /// ```no_run
    /// # async fn run() -> tether::Result<()> {
    /// let docker = tether::Client::builder()
    ///     .unix_socket("/var/run/docker.sock")
    ///     .build()?;
    /// let containers = docker.get("http://localhost/v1.43/containers/json").send().await?;
    /// # Ok(())
    /// # }
    /// ```
    #[cfg(unix)]
    pub fn unix_socket(mut self, path: impl AsRef<std::path::Path>) -> Self {
        self.config.connect.unix_socket = Some(Arc::from(path.as_ref()));
        self
    }

    /// Turns on TCP keep-alive probes after this long without traffic (`None`, the
    /// default: off).
    ///
    /// ```
    /// let client = tether::Client::builder()
    ///     .tcp_keepalive(std::time::Duration::from_secs(60))
    ///     .build()?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn tcp_keepalive<D: Into<Option<Duration>>>(mut self, idle: D) -> Self {
        self.config.connect.tcp.keepalive = idle.into();
        self
    }

    /// The time between keep-alive probes that go unanswered (`None`, the default: the
    /// system's). Setting it turns keep-alive probes on, after `tcp_keepalive`'s idle time
    /// or, without it, the system's.
    ///
    /// ```
    /// use std::time::Duration;
    /// let client = tether::Client::builder()
    ///     .tcp_keepalive(Duration::from_secs(60))
    ///     .tcp_keepalive_interval(Duration::from_secs(10))
    ///     .tcp_keepalive_retries(3)
    ///     .build()?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn tcp_keepalive_interval<D: Into<Option<Duration>>>(mut self, interval: D) -> Self {
        self.config.connect.tcp.keepalive_interval = interval.into();
        self
    }

    /// How many keep-alive probes may go unanswered before the connection is dropped
    /// (`None`, the default: the system's). Setting it turns keep-alive probes on, as
    /// `tcp_keepalive_interval` does.
    pub fn tcp_keepalive_retries<C: Into<Option<u32>>>(mut self, retries: C) -> Self {
        self.config.connect.tcp.keepalive_retries = retries.into();
        self
    }

    /// Traces every byte each connection reads and writes (reqwest's name; default off):
    /// `TRACE` events of target `tether::verbose`, with the connection's id (`conn`) and
    /// the bytes escaped, for seeing exactly what went over the wire. What is traced is
    /// what HTTP reads and writes: the plaintext inside TLS, HTTP/2's frames, and an
    /// upgraded connection's traffic. The request's credentials and cookies are in it:
    /// for debugging only.
    ///
    /// ```
    /// let client = tether::Client::builder().connection_verbose(true).build()?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn connection_verbose(mut self, verbose: bool) -> Self {
        self.config.connect.verbose = verbose;
        self
    }

    /// Sets `TCP_NODELAY` on each connection (default: `true`). tether writes a request's
    /// head in one write, so turning it off only holds back a body written after its
    /// head, until the head is acknowledged.
    ///
    /// ```
    /// let client = tether::Client::builder().tcp_nodelay(false).build()?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn tcp_nodelay(mut self, enabled: bool) -> Self {
        self.config.connect.tcp.nodelay = enabled;
        self
    }

    /// Sets `TCP_USER_TIMEOUT` on each connection (`None`, the default: the system's):
    /// how long data sent may go unacknowledged before the kernel drops the connection,
    /// so that a peer gone without a word is found in this time rather than after the
    /// many minutes of retransmissions. Linux, Android and Fuchsia only.
    ///
    /// ```
    /// let client = tether::Client::builder()
    ///     .tcp_user_timeout(std::time::Duration::from_secs(30))
    ///     .build()?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    #[cfg(any(target_os = "linux", target_os = "android", target_os = "fuchsia"))]
    pub fn tcp_user_timeout<D: Into<Option<Duration>>>(mut self, timeout: D) -> Self {
        self.config.connect.tcp.user_timeout = timeout.into();
        self
    }

    /// Keeps the requests sent to one host at least `delay` apart (default: none), as a
    /// crawler's politeness delay (Scrapy's `DOWNLOAD_DELAY`, colly's `Delay`). The
    /// spacing is kept where a request is given its connection, so requests that waited
    /// in line at the host's cap go out `delay` apart too. Waiting holds no slot and no
    /// connection. One that would start past its deadline fails at once with
    /// `ErrorKind::Timeout`, nothing sent. One origin can be given a delay of its own
    /// on the running client with [`Client::set_min_delay_for_host`].
    ///
    /// ```
    /// let crawler = tether::Client::builder()
    ///     .polite()
    ///     .min_delay_per_host(std::time::Duration::from_millis(500))
    ///     .build()?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn min_delay_per_host(mut self, delay: Duration) -> Self {
        self.config.min_delay_per_host = (!delay.is_zero()).then_some(delay);
        self
    }

    /// Keeps the requests sent to `url`'s origin at least `delay` apart, in place of
    /// `min_delay_per_host` for that origin: what
    /// [`Client::set_min_delay_for_host`] does on a running client, for an origin known
    /// before the crawl starts. A URL that names no origin fails `build` (`is_builder()`).
    ///
    /// ```
    /// use std::time::Duration;
    /// let crawler = tether::Client::builder()
    ///     .min_delay_per_host(Duration::from_secs(1))
    ///     .min_delay_for_host("https://our-own.example/", Duration::ZERO)
    ///     .build()?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn min_delay_for_host(self, url: impl IntoUrl, delay: Duration) -> Self {
        self.for_origin(url, "a delay", OriginSetting::Delay(delay))
    }

    /// Caps the connections open to `url`'s origin at `max` (at least 1), in place of
    /// `max_connections_per_host` for that origin: what
    /// [`Client::set_max_connections_for_host`] does on a running client. A URL that names
    /// no origin fails `build` (`is_builder()`).
    ///
    /// ```
    /// let crawler = tether::Client::builder()
    ///     .polite()
    ///     .max_connections_for_host("https://our-own.example/", 16)
    ///     .build()?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn max_connections_for_host(self, url: impl IntoUrl, max: usize) -> Self {
        self.for_origin(url, "a connection cap", OriginSetting::MaxConnections(max))
    }

    /// Keeps `setting` for `url`'s origin, or the error for `build`.
    fn for_origin(mut self, url: impl IntoUrl, what: &str, setting: OriginSetting) -> Self {
        match origin_of(url, what) {
            Ok(origin) => self.origins.push((origin, setting)),
            Err(e) => self.error = Some(e),
        }
        self
    }

    /// Adds jitter to the spacing of requests to one host (default: none): at each
    /// request sent, a random extra between zero and `extra` is drawn and added to
    /// `min_delay_per_host` (or stands alone without it), so that a crawler's requests
    /// to a host do not come at a fixed beat (colly's `RandomDelay`; Scrapy's
    /// `RANDOMIZE_DOWNLOAD_DELAY` varies the delay itself, down to half of it, where this
    /// never goes below `min_delay_per_host`). Waiting holds no slot, as for
    /// `min_delay_per_host`.
    ///
    /// ```
    /// // Requests to one host 1 to 1.5 s apart.
    /// let crawler = tether::Client::builder()
    ///     .min_delay_per_host(std::time::Duration::from_secs(1))
    ///     .random_delay_per_host(std::time::Duration::from_millis(500))
    ///     .build()?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn random_delay_per_host(mut self, extra: Duration) -> Self {
        self.config.random_delay_per_host = extra;
        self
    }

    /// The longest a `429` or `503` answer with `Retry-After` holds back every request of
    /// this client to its host (default 60 s; `Duration::ZERO`: answers pause nothing).
    /// Like `min_delay_per_host`, the wait holds no slot.
    ///
    /// ```
    /// let client = tether::Client::builder()
    ///     .max_host_pause(std::time::Duration::from_secs(300))
    ///     .build()?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn max_host_pause(mut self, limit: Duration) -> Self {
        self.config.max_host_pause = limit;
        self
    }

    /// Sends the requests `proxy` covers through it. Rules are tried in the order given
    /// and the first that covers a request decides. Giving any rule turns off the
    /// environment's proxies.
    ///
    /// ```
    /// let client = tether::Client::builder()
    ///     .proxy(tether::Proxy::https("http://proxy.example:3128")?)
    ///     .proxy(tether::Proxy::http("http://proxy.example:8080")?)
    ///     .build()?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn proxy(mut self, proxy: Proxy) -> Self {
        self.config.proxy_rules.push(proxy);
        self.config.proxies_from_env = false;
        self
    }

    /// Sends every request straight to its host: no proxy, from the builder or from the
    /// environment (by default `http_proxy`, `https_proxy`, `all_proxy` and `no_proxy`
    /// are read when the client is built).
    ///
    /// ```
    /// let client = tether::Client::builder().no_proxy().build()?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn no_proxy(mut self) -> Self {
        self.config.proxy_rules.clear();
        self.config.proxies_from_env = false;
        self
    }

    /// Which redirects to follow (default: at most 10, `redirect::Policy::limited(10)`).
    ///
    /// ```
    /// let client = tether::Client::builder()
    ///     .redirect(tether::redirect::Policy::none())
    ///     .build()
    ///     .unwrap();
    /// ```
    pub fn redirect(mut self, policy: redirect::Policy) -> Self {
        self.config.redirect = policy;
        self
    }

    /// Keeps cookies: `Set-Cookie` of every response is stored, and requests that set no
    /// `Cookie` get the matching ones, across redirects too. Feature `cookies`.
    ///
    /// ```
    /// let client = tether::Client::builder().cookie_store(true).build().unwrap();
    /// ```
    #[cfg(feature = "cookies")]
    pub fn cookie_store(mut self, enable: bool) -> Self {
        self.config.cookies = enable.then(|| cookies::Cookies(Arc::new(cookies::Jar::default())));
        self
    }

    /// Keeps cookies in `store`, as `cookie_store(true)` does in a store of its own: a
    /// [`Jar`](crate::cookie::Jar) filled beforehand or read while the client runs, or
    /// any [`CookieStore`](crate::cookie::CookieStore) (reqwest's name). Feature `cookies`.
    ///
    /// ```
    /// use std::sync::Arc;
    ///
    /// let jar = Arc::new(tether::cookie::Jar::default());
    /// jar.add_cookie_str("token=t1", &"https://api.example/".parse().unwrap());
    /// let client = tether::Client::builder().cookie_provider(jar).build()?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    #[cfg(feature = "cookies")]
    pub fn cookie_provider<C: CookieStore + 'static>(mut self, store: Arc<C>) -> Self {
        self.config.cookies = Some(cookies::Cookies(store));
        self
    }

    /// Turns decompression off: no `Accept-Encoding` is added and bodies come as sent.
    ///
    /// ```
    /// let client = tether::Client::builder().no_decompression().build().unwrap();
    /// ```
    pub fn no_decompression(mut self) -> Self {
        self.config.codings = decode::Codings::NONE;
        self
    }

    /// Asks for and decodes gzip (on by default): `Accept-Encoding` names the codings
    /// left on, and a response in one of them is decoded.
    ///
    /// ```
    /// let client = tether::Client::builder().gzip(false).build().unwrap();
    /// ```
    #[cfg(feature = "gzip")]
    pub fn gzip(mut self, enable: bool) -> Self {
        self.config.codings = self.config.codings.with(decode::Codings::GZIP, enable);
        self
    }

    /// Asks for and decodes deflate (on by default); see [`ClientBuilder::gzip`].
    #[cfg(feature = "deflate")]
    pub fn deflate(mut self, enable: bool) -> Self {
        self.config.codings = self.config.codings.with(decode::Codings::DEFLATE, enable);
        self
    }

    /// Asks for and decodes brotli, `br` (on by default); see [`ClientBuilder::gzip`].
    #[cfg(feature = "brotli")]
    pub fn brotli(mut self, enable: bool) -> Self {
        self.config.codings = self.config.codings.with(decode::Codings::BROTLI, enable);
        self
    }

    /// Asks for and decodes zstd (on by default); see [`ClientBuilder::gzip`].
    #[cfg(feature = "zstd")]
    pub fn zstd(mut self, enable: bool) -> Self {
        self.config.codings = self.config.codings.with(decode::Codings::ZSTD, enable);
        self
    }

    /// Neither asks for nor decodes gzip; with the `gzip` feature left out, does nothing.
    ///
    /// ```
    /// let client = tether::Client::builder().no_gzip().no_zstd().build().unwrap();
    /// ```
    pub fn no_gzip(mut self) -> Self {
        self.config.codings = self.config.codings.with(decode::Codings::GZIP, false);
        self
    }

    /// Neither asks for nor decodes deflate; see [`ClientBuilder::no_gzip`].
    pub fn no_deflate(mut self) -> Self {
        self.config.codings = self.config.codings.with(decode::Codings::DEFLATE, false);
        self
    }

    /// Neither asks for nor decodes brotli; see [`ClientBuilder::no_gzip`].
    pub fn no_brotli(mut self) -> Self {
        self.config.codings = self.config.codings.with(decode::Codings::BROTLI, false);
        self
    }

    /// Neither asks for nor decodes zstd; see [`ClientBuilder::no_gzip`].
    pub fn no_zstd(mut self) -> Self {
        self.config.codings = self.config.codings.with(decode::Codings::ZSTD, false);
        self
    }

    /// Speaks HTTP/1.1 only: TLS offers only `http/1.1` by ALPN. By default it offers
    /// `h2` too, and a server that picks it gets HTTP/2.
    ///
    /// ```
    /// let client = tether::Client::builder().http1_only().build()?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn http1_only(mut self) -> Self {
        self.config.tls_settings.http2 = false;
        self.config.http2_prior_knowledge = false;
        self
    }

    /// Writes HTTP/1 field names in title case (`Content-Type`, `X-Api-Key`) instead of
    /// lower case, for servers and devices that read them case-sensitively, against RFC
    /// 9110 §5.1 (reqwest's name). HTTP/2 names are lower case whatever this says.
    ///
    /// ```
    /// let client = tether::Client::builder().http1_title_case_headers().build()?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn http1_title_case_headers(mut self) -> Self {
        self.config.title_case = true;
        self
    }

    /// Reads `Name : value` in an HTTP/1 response head, white space between a field's
    /// name and its colon dropped (reqwest's name; default off: RFC 9112 §5.1 has such a
    /// head refused, and it is, as `ErrorKind::Protocol`). For old or broken servers a
    /// crawler still wants to read.
    ///
    /// ```
    /// let client = tether::Client::builder()
    ///     .http1_allow_spaces_after_header_name_in_responses(true)
    ///     .build()?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn http1_allow_spaces_after_header_name_in_responses(mut self, allow: bool) -> Self {
        self.config.head_limits.lenient.spaces_after_name = allow;
        self
    }

    /// Reads a field value folded across lines (obs-fold: a line that begins with a space
    /// or tab continues the one before) in an HTTP/1 response head, each line break made
    /// spaces (reqwest's name; default off: refused as `ErrorKind::Protocol`, RFC 9112
    /// §5.2).
    ///
    /// ```
    /// let client = tether::Client::builder()
    ///     .http1_allow_obsolete_multiline_headers_in_responses(true)
    ///     .build()?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn http1_allow_obsolete_multiline_headers_in_responses(mut self, allow: bool) -> Self {
        self.config.head_limits.lenient.obsolete_folding = allow;
        self
    }

    /// Passes over lines of an HTTP/1 response head that are no field (no colon, a name
    /// with a character no name may have) instead of refusing the response (reqwest's
    /// name; default off: refused as `ErrorKind::Protocol`). The status line must still
    /// be one.
    ///
    /// ```
    /// let client = tether::Client::builder()
    ///     .http1_ignore_invalid_headers_in_responses(true)
    ///     .build()?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn http1_ignore_invalid_headers_in_responses(mut self, ignore: bool) -> Self {
        self.config.head_limits.lenient.invalid_fields = ignore;
        self
    }

    /// Takes a response that does not begin with `HTTP/` as an HTTP/0.9 one (reqwest's
    /// name; default off: refused as `ErrorKind::Protocol`): a `200` with
    /// `Version::HTTP_09` and no header fields, whose body is every byte until the server
    /// closes the connection, which is then not reused. For the oldest of servers and
    /// devices, which answer with the document alone.
    ///
    /// ```
    /// let client = tether::Client::builder().http09_responses().build()?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn http09_responses(mut self) -> Self {
        self.config.head_limits.lenient.http09 = true;
        self
    }

    /// Speaks HTTP/2 to plain `http://` origins from the first byte (prior knowledge,
    /// RFC 9113 §3.3), for servers known to take it. `https://` origins agree on the
    /// protocol by ALPN either way; requests through a proxy stay HTTP/1.1.
    ///
    /// ```
    /// let client = tether::Client::builder().http2_prior_knowledge().build()?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn http2_prior_knowledge(mut self) -> Self {
        self.config.http2_prior_knowledge = true;
        self.config.tls_settings.http2 = true;
        self
    }

    /// Whether a redirect's next hop says in `Referer` where it came from (on by default,
    /// as in reqwest). Unlike reqwest, which sends the whole URL to any origin, tether
    /// follows the browsers' default policy (strict-origin-when-cross-origin): the whole
    /// URL (without fragment or user information) within its origin, the origin alone to
    /// another, and nothing from `https` to `http`. Off, a `Referer` the caller set goes
    /// on unchanged; on, each hop's replaces it.
    ///
    /// ```
    /// let client = tether::Client::builder().referer(false).build()?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn referer(mut self, enable: bool) -> Self {
        self.config.referer = enable;
        self
    }

    /// Requests only `https://` URLs (as reqwest's `https_only`): sending one of another
    /// scheme is an `InvalidRequest` error, and a redirect to one a `Redirect` error, both
    /// before anything is sent to it. Off by default.
    ///
    /// ```
    /// let client = tether::Client::builder().https_only(true).build()?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn https_only(mut self, enabled: bool) -> Self {
        self.config.https_only = enabled;
        self
    }

    /// How long an HTTP/2 connection may have carried no stream before the next request
    /// checks it with a PING first (default [`DEFAULT_HTTP2_PING_AFTER_IDLE`]).
    ///
    /// ```
    /// let client = tether::Client::builder()
    ///     .http2_ping_after_idle(std::time::Duration::from_secs(30))
    ///     .build()?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn http2_ping_after_idle(mut self, d: Duration) -> Self {
        self.config.http2_ping_after_idle = d;
        self
    }

    /// How long that PING waits for its answer (default [`DEFAULT_HTTP2_PING_TIMEOUT`]);
    /// without one, the connection is closed and the request takes another.
    ///
    /// ```
    /// let client = tether::Client::builder()
    ///     .http2_ping_timeout(std::time::Duration::from_secs(1))
    ///     .build()?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn http2_ping_timeout(mut self, d: Duration) -> Self {
        self.config.http2_ping_timeout = d;
        self
    }

    /// Has each HTTP/2 connection send a PING of its own whenever nothing was read from
    /// the server for `interval` (default `None`: only the PING before reuse, above). A
    /// PING unanswered for [`http2_keep_alive_timeout`](Self::http2_keep_alive_timeout)
    /// closes the connection, and the requests on it fail with [`ErrorKind::Timeout`](crate::ErrorKind::Timeout)
    /// instead of waiting on a server that is gone; those that may be sent again (nothing
    /// of them written, or idempotent on a reused connection) are. Also keeps alive
    /// connections that middleboxes would drop when quiet.
    ///
    /// ```
    /// let client = tether::Client::builder()
    ///     .http2_keep_alive_interval(std::time::Duration::from_secs(30))
    ///     .build()?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn http2_keep_alive_interval<D: Into<Option<Duration>>>(mut self, interval: D) -> Self {
        self.config.http2_keep_alive_interval = interval.into();
        self
    }

    /// How long a keep-alive PING waits for its answer (default
    /// [`DEFAULT_HTTP2_KEEP_ALIVE_TIMEOUT`](crate::DEFAULT_HTTP2_KEEP_ALIVE_TIMEOUT)).
    /// Its PONG answers it, and so does anything else read from the server meanwhile.
    ///
    /// ```
    /// let client = tether::Client::builder()
    ///     .http2_keep_alive_interval(std::time::Duration::from_secs(30))
    ///     .http2_keep_alive_timeout(std::time::Duration::from_secs(5))
    ///     .build()?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn http2_keep_alive_timeout(mut self, timeout: Duration) -> Self {
        self.config.http2_keep_alive_timeout = timeout;
        self
    }

    /// Whether keep-alive PINGs go also while a connection carries no stream (default
    /// `false`: an idle connection is checked before reuse instead). With it, an idle
    /// connection whose server went silent is closed before a request picks it.
    ///
    /// ```
    /// let client = tether::Client::builder()
    ///     .http2_keep_alive_interval(std::time::Duration::from_secs(30))
    ///     .http2_keep_alive_while_idle(true)
    ///     .build()?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn http2_keep_alive_while_idle(mut self, enabled: bool) -> Self {
        self.config.http2_keep_alive_while_idle = enabled;
        self
    }

    /// The flow-control window each HTTP/2 stream starts with, announced as
    /// `SETTINGS_INITIAL_WINDOW_SIZE` (default 1 MiB; `None`: that default): how much of
    /// a response body the server may send before tether reads it. At most 2^31 - 1.
    ///
    /// ```
    /// let client = tether::Client::builder()
    ///     .http2_initial_stream_window_size(256 * 1024)
    ///     .build()?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn http2_initial_stream_window_size(mut self, size: impl Into<Option<u32>>) -> Self {
        self.config.http2_windows.stream = self.window(size.into(), "stream");
        self
    }

    /// The flow-control window of each HTTP/2 connection, across its streams (default 4
    /// MiB; `None`: that default). At most 2^31 - 1.
    ///
    /// ```
    /// let client = tether::Client::builder()
    ///     .http2_initial_connection_window_size(16 * 1024 * 1024)
    ///     .build()?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn http2_initial_connection_window_size(mut self, size: impl Into<Option<u32>>) -> Self {
        self.config.http2_windows.connection = self.window(size.into(), "connection");
        self
    }

    /// Grows each HTTP/2 connection's windows to the bandwidth-delay product (reqwest's
    /// name; default off): while a body arrives, a PING's round trip is timed and the bytes
    /// read meanwhile counted; when they reach two thirds of the stream window (the window
    /// held the server back), the stream and connection windows double, up to 16 MiB. A
    /// download over a long, fast path then stops waiting on window updates. The windows
    /// start from [`http2_initial_stream_window_size`](Self::http2_initial_stream_window_size)
    /// and never shrink.
    ///
    /// ```
    /// let client = tether::Client::builder().http2_adaptive_window(true).build()?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn http2_adaptive_window(mut self, enabled: bool) -> Self {
        self.config.http2_windows.adaptive = enabled;
        self
    }

    /// The largest HTTP/2 frame payload the server may send, announced as
    /// `SETTINGS_MAX_FRAME_SIZE` (default 16 KiB, the protocol's; `None`: that default).
    /// From 16,384 to 16,777,215; `build` fails outside.
    ///
    /// ```
    /// let client = tether::Client::builder()
    ///     .http2_max_frame_size(64 * 1024)
    ///     .build()?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn http2_max_frame_size(mut self, size: impl Into<Option<u32>>) -> Self {
        let size = size.into();
        if let Some(bad) = size.filter(|s| !crate::conn::h2::FRAME_SIZES.contains(s)) {
            self.error = Some(Error::msg(
                crate::ErrorKind::InvalidRequest,
                format!("http2_max_frame_size {bad} is outside 16384..=16777215"),
            ));
        }
        self.config.http2_windows.max_frame = size;
        self
    }

    /// The most requests at once on one HTTP/2 connection (default `None`: as many as
    /// the server's `SETTINGS_MAX_CONCURRENT_STREAMS` allows, often 100 or more; `Some(0)`
    /// counts as 1). Past it, a request takes a stream on another of the host's
    /// connections, opens one within `max_connections_per_host`, or waits in the host's
    /// line. The per-host cap counts connections, so over HTTP/2 a host gets up to this
    /// many requests at once per connection: a crawler that wants no more at once from a
    /// site over HTTP/2 than over HTTP/1.1 sets 1, as [`polite`](Self::polite) does.
    ///
    /// ```
    /// // At most 4 connections per host, each carrying at most 8 requests at once.
    /// let client = tether::Client::builder()
    ///     .max_connections_per_host(4)
    ///     .http2_max_streams_per_connection(8)
    ///     .build()?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn http2_max_streams_per_connection(mut self, max: impl Into<Option<usize>>) -> Self {
        self.config.http2_max_streams = max.into().map(|n| n.max(1));
        self
    }

    /// The largest response head an HTTP/2 server may send, announced as
    /// `SETTINGS_MAX_HEADER_LIST_SIZE` (by default
    /// [`max_head_bytes`](Self::max_head_bytes), which HTTP/1.1 heads are held to as well).
    ///
    /// ```
    /// let client = tether::Client::builder()
    ///     .http2_max_header_list_size(64 * 1024)
    ///     .build()?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn http2_max_header_list_size(mut self, size: u32) -> Self {
        self.config.http2_windows.max_header_list = Some(size);
        self
    }

    /// A window size given to the builder: `build` fails past the protocol's largest.
    fn window(&mut self, size: Option<u32>, which: &str) -> Option<u32> {
        let max = crate::conn::h2::MAX_WINDOW;
        if let Some(bad) = size.filter(|s| *s > max) {
            self.error = Some(Error::msg(
                crate::ErrorKind::InvalidRequest,
                format!("the HTTP/2 {which} window {bad} is larger than {max}"),
            ));
        }
        size
    }

    /// The most (decoded) body bytes `bytes()`, `text()` and `json()` collect; past it
    /// they fail with `ErrorKind::Body`, so a decompression bomb costs bounded memory.
    ///
    /// ```
    /// let client = tether::Client::builder().max_body_bytes(10 << 20).build().unwrap();
    /// ```
    pub fn max_body_bytes(mut self, n: u64) -> Self {
        self.config.max_body_bytes = Some(n);
        self
    }

    /// Headers sent with every request that does not set them itself.
    ///
    /// ```
    /// let mut headers = http::HeaderMap::new();
    /// headers.insert("x-api-key", http::HeaderValue::from_static("k"));
    /// let client = tether::Client::builder().default_headers(headers).build().unwrap();
    /// ```
    pub fn default_headers(mut self, headers: http::HeaderMap) -> Self {
        self.config.default_headers = headers;
        self
    }

    /// The `User-Agent` sent with every request that does not set one (default
    /// `tether/<version>`). An invalid value makes `build` fail with
    /// `ErrorKind::InvalidRequest`.
    ///
    /// ```
    /// let client = tether::Client::builder().user_agent("my-crawler/1.0").build().unwrap();
    /// ```
    pub fn user_agent<V>(mut self, value: V) -> Self
    where
        V: TryInto<http::HeaderValue>,
        V::Error: Into<crate::BoxError>,
    {
        match value.try_into() {
            Ok(v) => self.config.user_agent = Some(v),
            Err(e) => {
                self.error = Some(
                    Error::new(crate::ErrorKind::InvalidRequest, e.into())
                        .context("invalid user agent"),
                )
            }
        }
        self
    }

    /// The oldest TLS version offered (as reqwest's): `Version::TLS_1_3` refuses servers
    /// that speak only TLS 1.2. By default 1.2, the oldest rustls speaks.
    ///
    /// ```
    /// let client = tether::Client::builder()
    ///     .min_tls_version(tether::tls::Version::TLS_1_3)
    ///     .build()?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn min_tls_version(mut self, version: crate::tls::Version) -> Self {
        self.config.tls_settings.min_version = Some(version);
        self
    }

    /// The newest TLS version offered (as reqwest's). By default 1.3. `build` fails with
    /// `ErrorKind::Tls` when no version rustls speaks (1.2, 1.3) is left between the two.
    ///
    /// ```
    /// let client = tether::Client::builder()
    ///     .max_tls_version(tether::tls::Version::TLS_1_2)
    ///     .build()?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn max_tls_version(mut self, version: crate::tls::Version) -> Self {
        self.config.tls_settings.max_version = Some(version);
        self
    }

    /// Takes any server certificate: expired, self-signed, of an unknown authority, or
    /// for another name (as reqwest's of the same name). The connection is then encrypted
    /// but not authenticated: anyone on the path can answer in the server's place. For a
    /// test server or a development machine, never for a server that matters; a client
    /// built with it says so in a `WARN` event. Off by default.
    ///
    /// ```
    /// let client = tether::Client::builder()
    ///     .danger_accept_invalid_certs(true)
    ///     .build()?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn danger_accept_invalid_certs(mut self, accept: bool) -> Self {
        self.config.tls_settings.accept_invalid_certs = accept;
        self
    }

    /// Takes a server certificate issued for another name, when it is otherwise valid:
    /// signed by a trusted root, in date, for a server (as reqwest's of the same name).
    /// Anyone holding any such certificate can then answer for any host: for a server
    /// reached by an address or name its certificate does not list, never as a habit; a
    /// client built with it says so in a `WARN` event. Off by default.
    ///
    /// ```
    /// let client = tether::Client::builder()
    ///     .danger_accept_invalid_hostnames(true)
    ///     .build()?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn danger_accept_invalid_hostnames(mut self, accept: bool) -> Self {
        self.config.tls_settings.accept_invalid_hostnames = accept;
        self
    }

    /// Whether the host name goes in the TLS ClientHello (Server Name Indication; on by
    /// default, as in reqwest). A server that hosts several names picks its certificate
    /// by it; turning it off hides the name from the path, and such a server then
    /// answers with its default certificate, which must still be valid for the host.
    ///
    /// ```
    /// let client = tether::Client::builder().tls_sni(false).build()?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn tls_sni(mut self, enable: bool) -> Self {
        self.config.tls_settings.sni = enable;
        self
    }

    /// Uses `tls`, a `rustls::ClientConfig` the caller made (or an `Arc` of one), for
    /// every TLS connection (reqwest's name): its roots, verifier, client certificate,
    /// versions and key log, in place of every other TLS option of this builder. If it
    /// names no ALPN protocols, tether offers `h2` and `http/1.1` (`http/1.1` alone with
    /// `http1_only`); an `https://` proxy is still offered `http/1.1` alone. It must be of
    /// the rustls version tether uses (0.23): anything else makes `build` fail with
    /// `ErrorKind::Tls`.
    ///
    /// ```
    /// let mut roots = rustls::RootCertStore::empty();
    /// roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    /// let tls = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
    ///     rustls::crypto::ring::default_provider(),
    /// ))
    /// .with_safe_default_protocol_versions()
    /// .unwrap()
    /// .with_root_certificates(roots)
    /// .with_no_client_auth();
    /// let client = tether::Client::builder().tls_backend_preconfigured(tls).build()?;
    /// assert!(tether::Client::builder().tls_backend_preconfigured("no").build().is_err());
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn tls_backend_preconfigured(mut self, tls: impl std::any::Any) -> Self {
        let mut tls = Some(tls);
        let any = &mut tls as &mut dyn std::any::Any;
        let preconfigured = if let Some(config) = any
            .downcast_mut::<Option<rustls::ClientConfig>>()
            .and_then(Option::take)
        {
            crate::conn::tls::Preconfigured::Rustls(Arc::new(config))
        } else if let Some(config) = any
            .downcast_mut::<Option<Arc<rustls::ClientConfig>>>()
            .and_then(Option::take)
        {
            crate::conn::tls::Preconfigured::Rustls(config)
        } else {
            crate::conn::tls::Preconfigured::Unknown
        };
        self.config.tls_settings.preconfigured = Some(preconfigured);
        self
    }

    /// [`tls_backend_preconfigured`](Self::tls_backend_preconfigured), by its older name.
    pub fn use_preconfigured_tls(self, tls: impl std::any::Any) -> Self {
        self.tls_backend_preconfigured(tls)
    }

    /// Chooses rustls for TLS (reqwest's name): what tether always uses, so this changes
    /// nothing; it is here so that code written for reqwest builds.
    pub fn tls_backend_rustls(self) -> Self {
        self
    }

    /// [`tls_backend_rustls`](Self::tls_backend_rustls), by its older name.
    pub fn use_rustls_tls(self) -> Self {
        self
    }

    /// Trusts `certs` as roots besides the built-in ones (reqwest's newer name for
    /// [`add_root_certificate`](Self::add_root_certificate), for many at once).
    pub fn tls_certs_merge(mut self, certs: impl IntoIterator<Item = Certificate>) -> Self {
        self.config.tls_settings.roots.extend(certs);
        self
    }

    /// Trusts `certs` and the roots added before them, and not the built-in ones
    /// (reqwest's name; [`tls_roots_only`](Self::tls_roots_only) drops the roots added
    /// before too). `build` fails with `ErrorKind::Tls` if no root is left.
    pub fn tls_certs_only(mut self, certs: impl IntoIterator<Item = Certificate>) -> Self {
        self.config.tls_settings.roots.extend(certs);
        self.config.tls_settings.built_in_roots = false;
        self
    }

    /// [`add_crls`](Self::add_crls), by reqwest's newer name (which, unlike reqwest,
    /// does not need [`tls_certs_only`](Self::tls_certs_only)).
    pub fn tls_crls_only(
        self,
        crls: impl IntoIterator<Item = crate::tls::CertificateRevocationList>,
    ) -> Self {
        self.add_crls(crls)
    }

    /// [`danger_accept_invalid_certs`](Self::danger_accept_invalid_certs), by reqwest's
    /// newer name.
    pub fn tls_danger_accept_invalid_certs(self, accept: bool) -> Self {
        self.danger_accept_invalid_certs(accept)
    }

    /// [`danger_accept_invalid_hostnames`](Self::danger_accept_invalid_hostnames), by
    /// reqwest's newer name.
    pub fn tls_danger_accept_invalid_hostnames(self, accept: bool) -> Self {
        self.danger_accept_invalid_hostnames(accept)
    }

    /// [`min_tls_version`](Self::min_tls_version), by reqwest's newer name.
    pub fn tls_version_min(self, version: crate::tls::Version) -> Self {
        self.min_tls_version(version)
    }

    /// [`max_tls_version`](Self::max_tls_version), by reqwest's newer name.
    pub fn tls_version_max(self, version: crate::tls::Version) -> Self {
        self.max_tls_version(version)
    }
    /// Whether responses from `https` origins carry a [`TlsInfo`](crate::tls::TlsInfo)
    /// in their [`extensions`](crate::Response::extensions): the server's certificate,
    /// for pinning or logging (default off, as in reqwest; on, each HTTP/1.1 response
    /// copies the certificate).
    ///
    /// ```
    /// let client = tether::Client::builder().tls_info(true).build()?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn tls_info(mut self, enable: bool) -> Self {
        self.config.tls_info = enable;
        self
    }

    /// Trusts `cert` as a root, besides the roots trusted already (webpki-roots by default).
    ///
    /// ```no_run
    /// let pem = std::fs::read("internal-ca.pem").unwrap();
    /// let ca = tether::Certificate::from_pem(&pem)?;
    /// let client = tether::Client::builder().add_root_certificate(ca).build()?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn add_root_certificate(mut self, cert: Certificate) -> Self {
        self.config.tls_settings.roots.push(cert);
        self
    }

    /// Whether the built-in roots (webpki-roots, Mozilla's list) are trusted (reqwest's
    /// name; default true). With `false`, only the roots given by
    /// [`add_root_certificate`](Self::add_root_certificate) are, in any order of the two
    /// calls; with none given, `build` fails.
    ///
    /// ```no_run
    /// let pem = std::fs::read("internal-ca.pem").unwrap();
    /// let client = tether::Client::builder()
    ///     .tls_built_in_root_certs(false)
    ///     .add_root_certificate(tether::Certificate::from_pem(&pem)?)
    ///     .build()?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn tls_built_in_root_certs(mut self, enabled: bool) -> Self {
        self.config.tls_settings.built_in_roots = enabled;
        self
    }

    /// Refuses the certificates `crl` lists as revoked (reqwest's name), wherever they
    /// appear in a server's chain, as `ErrorKind::Tls` ("has been revoked"). A
    /// certificate whose issuer has no CRL given is not checked: a CRL added for an
    /// internal CA leaves other servers as they were. Checked by webpki against the
    /// issuer's signature on the list.
    ///
    /// ```no_run
    /// let pem = std::fs::read("internal-ca.crl.pem").unwrap();
    /// let client = tether::Client::builder()
    ///     .add_crl(tether::tls::CertificateRevocationList::from_pem(&pem)?)
    ///     .build()?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn add_crl(mut self, crl: crate::tls::CertificateRevocationList) -> Self {
        self.config.tls_settings.crls.push(crl);
        self
    }

    /// [`add_crl`](Self::add_crl) for each of `crls`.
    pub fn add_crls(
        mut self,
        crls: impl IntoIterator<Item = crate::tls::CertificateRevocationList>,
    ) -> Self {
        self.config.tls_settings.crls.extend(crls);
        self
    }

    /// Writes each TLS connection's secrets to the file the `SSLKEYLOGFILE` environment
    /// variable names, as it is when the client is built (default: off), in the NSS key
    /// log format that Wireshark reads to decrypt a capture. For debugging only: anyone
    /// who can read that file can read the traffic. With the variable unset, nothing is
    /// written.
    ///
    /// ```
    /// let client = tether::Client::builder().tls_sslkeylogfile(true).build()?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn tls_sslkeylogfile(mut self, on: bool) -> Self {
        self.config.tls_settings.key_log = on;
        self
    }

    /// Trusts only `certs` as roots: webpki-roots and any root added before are dropped
    /// (`add_root_certificate` afterwards adds to this set). `build` fails with
    /// `ErrorKind::Tls` if no root is left.
    ///
    /// ```no_run
    /// let pem = std::fs::read("corporate-roots.pem").unwrap();
    /// let roots = tether::Certificate::from_pem_bundle(&pem)?;
    /// let client = tether::Client::builder().tls_roots_only(roots).build()?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn tls_roots_only(mut self, certs: impl IntoIterator<Item = Certificate>) -> Self {
        self.config.tls_settings.built_in_roots = false;
        self.config.tls_settings.roots = certs.into_iter().collect();
        self
    }

    /// Presents `identity` (a certificate chain and its key) to servers that ask for a
    /// client certificate: mutual TLS.
    ///
    /// ```no_run
    /// let chain = std::fs::read("client.crt").unwrap();
    /// let key = std::fs::read("client.key").unwrap();
    /// let identity = tether::Identity::from_pem(&chain, &key)?;
    /// let client = tether::Client::builder().identity(identity).build()?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn identity(mut self, identity: Identity) -> Self {
        self.config.tls_settings.identity = Some(identity);
        self
    }

    /// Builds the client. Fails with `ErrorKind::Tls` when the TLS settings cannot be used
    /// (no root left to trust, a client key that does not fit its certificate).
    ///
    /// ```
    /// let err = tether::Client::builder().user_agent("bad\nagent").build().unwrap_err();
    /// assert_eq!(err.kind(), tether::ErrorKind::InvalidRequest);
    /// ```
    pub fn build(self) -> Result<Client, Error> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let mut config = self.config;
        if config.tls_settings.accept_invalid_certs {
            tracing::warn!(
                "danger_accept_invalid_certs: this client takes any TLS certificate, so its \
                 https connections are not authenticated"
            );
        } else if config.tls_settings.accept_invalid_hostnames {
            tracing::warn!(
                "danger_accept_invalid_hostnames: this client takes a certificate issued for \
                 any name, so its https connections may be answered by another host"
            );
        }
        config.tls = Some(crate::conn::tls::client_config(&config.tls_settings)?);
        #[cfg(feature = "hickory-dns")]
        if config.connect.hickory && config.connect.resolver.is_none() {
            config.connect.resolver = Some(Arc::new(HickoryResolver::from_system_conf()?));
        }
        let client = Self::assemble(config);
        client.set_for_origins(self.origins);
        Ok(client)
    }

    /// Builds a [`blocking::Client`](crate::blocking::Client) with these settings: the
    /// same client behind calls that wait, driven by a runtime on a thread of its own.
    /// Fails as [`build`](ClientBuilder::build) does, or with `ErrorKind::Runtime` if that
    /// thread cannot start. Feature `blocking`.
    ///
    /// ```
    /// let client = tether::Client::builder()
    ///     .timeout(std::time::Duration::from_secs(10))
    ///     .build_blocking()?;
    /// # Ok::<(), tether::Error>(())
    /// ```
    #[cfg(feature = "blocking")]
    pub fn build_blocking(self) -> Result<crate::blocking::Client, Error> {
        crate::blocking::Client::try_wrap(self.build()?)
    }

    /// Builds with the defaults' TLS settings, which cannot fail in practice; if they did,
    /// https requests would fail with `ErrorKind::Tls`.
    fn build_infallible(self) -> Client {
        let mut config = self.config;
        config.tls = crate::conn::tls::default_config().ok();
        Self::assemble(config)
    }

    fn assemble(mut config: Config) -> Client {
        config.accept_encoding = decode::accept_encoding(config.codings);
        config.default_lines = send::default_lines(&config);
        config.default_block = send::default_block(&config);
        config.dialer = Arc::new(config.connect.dialer());
        config.proxies = if config.proxies_from_env {
            proxy::Proxies::from_env(&proxy::read_env)
        } else {
            proxy::Proxies::given(std::mem::take(&mut config.proxy_rules))
        };
        // Every request goes to the Unix socket: no proxy applies (an environment's
        // `http_proxy` would otherwise have requests written in absolute-form there).
        #[cfg(unix)]
        if config.connect.unix_socket.is_some() {
            config.proxies = proxy::Proxies::default();
        }
        let pool = Pool::new(PoolConfig {
            caps: Caps {
                per_host: config.max_per_host,
                total: config.max_total,
                idle_per_host: config.max_idle_per_host.unwrap_or(config.max_per_host),
                spacing: config.spacing(),
            },
            sweep_interval: config.sweep_interval,
            learn: config.learn_idle_timeouts,
            reuse: ReuseLimits {
                idle_timeout: config.idle_timeout,
                keep_alive_margin: config.keep_alive_margin,
                max_requests: config.max_requests_per_connection,
                max_lifetime: config.max_lifetime,
            },
            drain_limit: config.drain_limit,
            drain_timeout: config.drain_timeout,
        });
        Client {
            inner: Arc::new(Shared {
                pool,
                config,
                budget: budget::Shared::new(budget::BudgetLimits::default()),
            }),
        }
    }
}
