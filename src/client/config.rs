//! Every default in one place (DESIGN.md's Defaults table), and the settings a client runs
//! with once built.

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, HeaderValue};

use rustls::ClientConfig;

use std::collections::HashMap;
use std::net::IpAddr;

use crate::conn::connect::Dialer;
use crate::conn::tls::TlsSettings;
use crate::conn::Resolve;
use crate::proto::HeadLimits;

/// Browsers' per-host cap.
///
/// ```
/// let client = tether::Client::builder()
///     .max_connections_per_host(2 * tether::DEFAULT_MAX_CONNECTIONS_PER_HOST)
///     .build()?;
/// # Ok::<(), tether::Error>(())
/// ```
pub const DEFAULT_MAX_CONNECTIONS_PER_HOST: usize = 6;
/// The polite per-host cap of RFC 2616 §8.1.4.
///
/// ```
/// // The same as `.polite()`.
/// let crawler = tether::Client::builder()
///     .max_connections_per_host(tether::POLITE_MAX_CONNECTIONS_PER_HOST)
///     .build()?;
/// # Ok::<(), tether::Error>(())
/// ```
pub const POLITE_MAX_CONNECTIONS_PER_HOST: usize = 2;
/// The cap over all hosts together.
///
/// ```
/// let client = tether::Client::builder()
///     .max_connections_total(4 * tether::DEFAULT_MAX_CONNECTIONS_TOTAL)
///     .build()?;
/// # Ok::<(), tether::Error>(())
/// ```
pub const DEFAULT_MAX_CONNECTIONS_TOTAL: usize = 256;
/// How long an idle connection is kept.
///
/// ```
/// let client = tether::Client::builder()
///     .idle_timeout(tether::DEFAULT_IDLE_TIMEOUT / 3)
///     .build()?;
/// # Ok::<(), tether::Error>(())
/// ```
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(90);
/// How long before a server's `Keep-Alive: timeout` the client stops reusing a connection.
///
/// ```
/// let client = tether::Client::builder()
///     .keep_alive_margin(tether::DEFAULT_KEEP_ALIVE_MARGIN * 2)
///     .build()?;
/// # Ok::<(), tether::Error>(())
/// ```
pub const DEFAULT_KEEP_ALIVE_MARGIN: Duration = Duration::from_secs(1);
/// How many unread body bytes a dropped response may drain to keep its connection.
///
/// ```
/// let client = tether::Client::builder()
///     .drain_limit(4 * tether::DEFAULT_DRAIN_LIMIT)
///     .build()?;
/// # Ok::<(), tether::Error>(())
/// ```
pub const DEFAULT_DRAIN_LIMIT: u64 = 256 * 1024;
/// How long that drain may take.
///
/// ```
/// let client = tether::Client::builder()
///     .drain_timeout(tether::DEFAULT_DRAIN_TIMEOUT / 2)
///     .build()?;
/// # Ok::<(), tether::Error>(())
/// ```
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(2);
/// How long opening a connection (TCP and TLS) may take.
///
/// ```
/// let client = tether::Client::builder()
///     .connect_timeout(tether::DEFAULT_CONNECT_TIMEOUT / 5)
///     .build()?;
/// # Ok::<(), tether::Error>(())
/// ```
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How many times one request may be retried on a fresh connection.
///
/// ```
/// let client = tether::Client::builder()
///     .max_retries(tether::DEFAULT_MAX_RETRIES + 1)
///     .build()?;
/// # Ok::<(), tether::Error>(())
/// ```
pub const DEFAULT_MAX_RETRIES: u32 = 2;
/// The largest response head accepted.
///
/// ```
/// let client = tether::Client::builder()
///     .max_head_bytes(2 * tether::DEFAULT_MAX_HEAD_BYTES)
///     .build()?;
/// # Ok::<(), tether::Error>(())
/// ```
pub const DEFAULT_MAX_HEAD_BYTES: usize = 64 * 1024;
/// The most response header lines accepted.
///
/// ```
/// let client = tether::Client::builder()
///     .max_headers(2 * tether::DEFAULT_MAX_HEADERS)
///     .build()?;
/// # Ok::<(), tether::Error>(())
/// ```
pub const DEFAULT_MAX_HEADERS: usize = 100;
/// How often the background sweep looks at idle connections.
///
/// ```
/// let client = tether::Client::builder()
///     .sweep_interval(tether::DEFAULT_SWEEP_INTERVAL * 5)
///     .build()?;
/// # Ok::<(), tether::Error>(())
/// ```
pub const DEFAULT_SWEEP_INTERVAL: Duration = Duration::from_secs(1);
/// The `User-Agent` sent when neither the request nor the builder sets one.
///
/// ```
/// assert_eq!(tether::DEFAULT_USER_AGENT, concat!("tether/", env!("CARGO_PKG_VERSION")));
/// ```
pub const DEFAULT_USER_AGENT: &str = concat!("tether/", env!("CARGO_PKG_VERSION"));

/// How long an HTTP/2 connection may have carried no stream before a request checks it
/// with a PING (the HTTP/2 counterpart of the probe of an idle HTTP/1.1 connection).
///
/// ```
/// let client = tether::Client::builder()
///     .http2_ping_after_idle(tether::DEFAULT_HTTP2_PING_AFTER_IDLE * 2)
///     .build()?;
/// # Ok::<(), tether::Error>(())
/// ```
pub const DEFAULT_HTTP2_PING_AFTER_IDLE: Duration = Duration::from_secs(10);
/// How long that PING waits for its answer before the connection is given up.
///
/// ```
/// let client = tether::Client::builder()
///     .http2_ping_timeout(tether::DEFAULT_HTTP2_PING_TIMEOUT / 2)
///     .build()?;
/// # Ok::<(), tether::Error>(())
/// ```
pub const DEFAULT_HTTP2_PING_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a keep-alive PING (`http2_keep_alive_interval`) waits for its answer before
/// the connection is closed, as in hyper and reqwest.
///
/// ```
/// let client = tether::Client::builder()
///     .http2_keep_alive_interval(std::time::Duration::from_secs(30))
///     .http2_keep_alive_timeout(tether::DEFAULT_HTTP2_KEEP_ALIVE_TIMEOUT / 2)
///     .build()?;
/// # Ok::<(), tether::Error>(())
/// ```
pub const DEFAULT_HTTP2_KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(20);

/// A built client's settings.
#[derive(Clone)]
pub(crate) struct Config {
    pub max_per_host: usize,
    pub max_total: usize,
    pub max_idle_per_host: Option<usize>,
    pub idle_timeout: Duration,
    pub keep_alive_margin: Duration,
    pub drain_limit: u64,
    pub drain_timeout: Duration,
    pub connect_timeout: Duration,
    pub max_retries: u32,
    pub max_requests_per_connection: Option<u32>,
    pub max_lifetime: Option<Duration>,
    pub head_limits: HeadLimits,
    pub timeout: Option<Duration>,
    pub pool_timeout: Option<Duration>,
    pub read_timeout: Option<Duration>,
    pub sweep_interval: Duration,
    /// Headers added to every request that does not set them itself.
    pub default_headers: HeaderMap,
    /// `User-Agent`, unless the request or `default_headers` set one (`None`: none sent).
    pub user_agent: Option<HeaderValue>,
    /// The codings asked for and decoded (all compiled in, unless turned off).
    pub codings: super::decode::Codings,
    /// `Accept-Encoding` sent when the request sets none (from the enabled codings, at
    /// `build`; `None` when decompression is off).
    pub accept_encoding: Option<HeaderValue>,
    /// `User-Agent`, `Accept-Encoding` and `Connection: keep-alive` encoded once, at
    /// `build`, for the requests that set none of the three (nearly all).
    pub default_lines: Vec<u8>,
    /// `default_lines` followed by `default_headers`, encoded once, at `build`, when the
    /// default headers name none of the fields a request's handling looks at (see
    /// `send::default_block`): a request that sets none of their names, nor any of the
    /// three of `default_lines`, sends this as it is.
    pub default_block: Option<Vec<u8>>,
    /// The most decoded body bytes `bytes()`, `text()` and `json()` collect.
    pub max_body_bytes: Option<u64>,
    /// The cookie store, when `cookie_store(true)`.
    #[cfg(feature = "cookies")]
    pub cookies: Option<super::cookies::Cookies>,
    /// Which redirects are followed.
    pub redirect: super::redirect::Policy,
    /// Bodies of at least this many bytes (and streams) go with `Expect: 100-continue`.
    pub expect_continue: Option<u64>,
    /// Learn each host's idle timeout when the server does not say it.
    pub learn_idle_timeouts: bool,
    /// Which statuses are asked again.
    pub retry: super::status_retry::RetryPolicy,
    /// What the builder was told about TLS (roots, client identity).
    pub tls_settings: TlsSettings,
    /// The rustls configuration built from `tls_settings`: one per client, so one session
    /// cache for all its connections.
    pub tls: Option<Arc<ClientConfig>>,
    /// What the builder was told about connecting.
    pub connect: ConnectSettings,
    /// The dialer built from `connect` (resolver, cache, pins, socket options) by
    /// `build`.
    pub dialer: Arc<Dialer>,
    /// Request starts to one host are kept at least this far apart.
    pub min_delay_per_host: Option<Duration>,
    /// With each start, a random extra below this is added to the spacing (jitter).
    pub random_delay_per_host: Duration,
    /// The longest a `429`/`503` with `Retry-After` pauses its host (`ZERO`: never).
    pub max_host_pause: Duration,
    /// Read the environment's proxies at `build` (until `proxy` or `no_proxy` is called).
    pub proxies_from_env: bool,
    /// The builder's `proxy` rules.
    pub proxy_rules: Vec<super::Proxy>,
    /// Which requests go through which proxy, settled at `build`.
    pub proxies: super::proxy::Proxies,
    /// Plain `http://` origins (not through a proxy) speak HTTP/2 from the first byte.
    pub http2_prior_knowledge: bool,
    /// Only `https://` URLs are requested: any other, given or redirected to, is an error.
    /// HTTP/1 field names go out in title case (`http1_title_case_headers`).
    pub title_case: bool,
    pub https_only: bool,
    /// A redirect's next hop says where it came from in `Referer`.
    pub referer: bool,
    /// An HTTP/2 connection idle this long is checked with a PING before reuse.
    pub http2_ping_after_idle: Duration,
    /// How long that PING waits.
    pub http2_ping_timeout: Duration,
    /// The connection's own PINGs (`None`: off).
    pub http2_keep_alive_interval: Option<Duration>,
    pub http2_keep_alive_timeout: Duration,
    pub http2_keep_alive_while_idle: bool,
    /// Responses from `https` origins carry a `TlsInfo`.
    pub tls_info: bool,
    /// What HTTP/2 connections announce (`None`: tether's defaults).
    pub http2_windows: crate::conn::h2::H2Windows,
    /// `http2_max_streams_per_connection` (`None`: the server's limit alone).
    pub http2_max_streams: Option<usize>,
}

/// How to connect: the resolver, its cache, pinned names, socket options.
#[derive(Clone)]
pub(crate) struct ConnectSettings {
    pub resolver: Option<Arc<dyn Resolve>>,
    pub dns_cache_ttl: Duration,
    pub pins: HashMap<String, Vec<std::net::SocketAddr>>,
    pub local_address: Option<IpAddr>,
    /// The network interface every socket is bound to (`SO_BINDTODEVICE`).
    pub interface: Option<Arc<str>>,
    /// Every connection goes to this Unix domain socket (`unix_socket`).
    #[cfg(unix)]
    pub unix_socket: Option<Arc<std::path::Path>>,
    pub tcp: crate::conn::connect::TcpOptions,
    /// `connection_verbose`.
    pub verbose: bool,
    /// `hickory_dns(true)`: hickory-resolver from the system's configuration, made at
    /// `build` unless `resolver` is set.
    #[cfg(feature = "hickory-dns")]
    pub hickory: bool,
}

impl ConnectSettings {
    /// The dialer of these settings: the given resolver or the system's, behind the cache.
    pub fn dialer(&self) -> Dialer {
        let resolver = self
            .resolver
            .clone()
            .unwrap_or_else(|| Arc::new(crate::conn::dns::SystemResolver));
        Dialer {
            dns: crate::conn::dns::DnsCache::new(resolver, self.dns_cache_ttl),
            pins: self.pins.clone(),
            local_address: self.local_address,
            interface: self.interface.clone(),
            #[cfg(unix)]
            unix_socket: self.unix_socket.clone(),
            tcp: self.tcp,
            verbose: self.verbose,
        }
    }
}

impl Default for ConnectSettings {
    fn default() -> Self {
        ConnectSettings {
            resolver: None,
            dns_cache_ttl: DEFAULT_DNS_CACHE_TTL,
            pins: HashMap::new(),
            local_address: None,
            interface: None,
            #[cfg(unix)]
            unix_socket: None,
            tcp: Default::default(),
            verbose: false,
            #[cfg(feature = "hickory-dns")]
            hickory: false,
        }
    }
}

/// The longest a `429` or `503` answer's `Retry-After` holds back every request to its
/// host.
///
/// ```
/// let client = tether::Client::builder()
///     .max_host_pause(tether::DEFAULT_MAX_HOST_PAUSE * 5)
///     .build()?;
/// # Ok::<(), tether::Error>(())
/// ```
pub const DEFAULT_MAX_HOST_PAUSE: Duration = Duration::from_secs(60);

/// How long a name's addresses are cached.
///
/// ```
/// let client = tether::Client::builder()
///     .dns_cache_ttl(tether::DEFAULT_DNS_CACHE_TTL * 2)
///     .build()?;
/// # Ok::<(), tether::Error>(())
/// ```
pub const DEFAULT_DNS_CACHE_TTL: Duration = Duration::from_secs(30);

impl Default for Config {
    fn default() -> Self {
        Config {
            max_per_host: DEFAULT_MAX_CONNECTIONS_PER_HOST,
            max_total: DEFAULT_MAX_CONNECTIONS_TOTAL,
            max_idle_per_host: None,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            keep_alive_margin: DEFAULT_KEEP_ALIVE_MARGIN,
            drain_limit: DEFAULT_DRAIN_LIMIT,
            drain_timeout: DEFAULT_DRAIN_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            max_retries: DEFAULT_MAX_RETRIES,
            max_requests_per_connection: None,
            max_lifetime: None,
            head_limits: HeadLimits {
                max_head_bytes: DEFAULT_MAX_HEAD_BYTES,
                max_headers: DEFAULT_MAX_HEADERS,
                lenient: crate::proto::Lenient::STRICT,
            },
            timeout: None,
            pool_timeout: None,
            read_timeout: None,
            sweep_interval: DEFAULT_SWEEP_INTERVAL,
            default_headers: HeaderMap::new(),
            user_agent: Some(HeaderValue::from_static(DEFAULT_USER_AGENT)),
            redirect: super::redirect::Policy::default(),
            retry: super::status_retry::RetryPolicy::default(),
            expect_continue: None,
            learn_idle_timeouts: true,
            #[cfg(feature = "cookies")]
            cookies: None,
            codings: super::decode::Codings::compiled(),
            accept_encoding: None,
            default_lines: Vec::new(),
            default_block: None,
            max_body_bytes: None,
            tls_settings: TlsSettings::default(),
            tls: None,
            connect: ConnectSettings::default(),
            dialer: Arc::new(ConnectSettings::default().dialer()),
            min_delay_per_host: None,
            random_delay_per_host: Duration::ZERO,
            max_host_pause: DEFAULT_MAX_HOST_PAUSE,
            proxies_from_env: true,
            proxy_rules: Vec::new(),
            proxies: super::proxy::Proxies::default(),
            http2_prior_knowledge: false,
            https_only: false,
            title_case: false,
            referer: true,
            http2_ping_after_idle: DEFAULT_HTTP2_PING_AFTER_IDLE,
            http2_ping_timeout: DEFAULT_HTTP2_PING_TIMEOUT,
            http2_keep_alive_interval: None,
            http2_keep_alive_timeout: DEFAULT_HTTP2_KEEP_ALIVE_TIMEOUT,
            http2_keep_alive_while_idle: false,
            tls_info: false,
            http2_windows: crate::conn::h2::H2Windows::default(),
            http2_max_streams: None,
        }
    }
}

impl Config {
    /// How far apart requests to one host are kept, if the builder asked for any spacing.
    #[inline]
    pub fn spacing(&self) -> Option<crate::pool::Spacing> {
        if self.min_delay_per_host.is_none() && self.random_delay_per_host.is_zero() {
            return None;
        }
        Some(crate::pool::Spacing {
            min: self.min_delay_per_host.unwrap_or_default(),
            random: self.random_delay_per_host,
        })
    }
}
