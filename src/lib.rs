//! tether: an HTTP/1.1 and HTTP/2 client whose heart is a per-host keep-alive connection
//! pool.
//!
//! - Caps connections per host (default 6; [`ClientBuilder::polite`] gives 2) and in total
//!   (default 256), with fair FIFO waiting and no speculative dialing.
//! - Keeps connections alive by HTTP/1.1 and HTTP/1.0 rules and honours
//!   `Keep-Alive: timeout, max`, stopping reuse before the server's timeout.
//! - Reads every body to its end, or drains it (bounded) when a response is dropped early,
//!   so its connection can be reused.
//! - Notices a server's FIN (or an unsolicited `408`) on an idle connection before reuse.
//! - Retries idempotent requests on a fresh connection after a close race or a `408`, and
//!   never retries what could run twice.
//! - Speaks HTTP/2 when a server picks it by ALPN (or by prior knowledge): one connection
//!   carries many requests, and a stream the server refused or left above its GOAWAY is
//!   sent again whatever the method, as it never ran.
//!
//! ```no_run
//! # async fn run() -> Result<(), tether::Error> {
//! let client = tether::Client::new();
//! let response = client.get("http://127.0.0.1:8080/").send().await?;
//! println!("{} {}", response.status(), response.text().await?);
//! # Ok(())
//! # }
//! ```
//!
//! Layers, one way: `client` → `pool` → `conn` → `proto` (see ARCHITECTURE.md).

#![warn(missing_docs)]

#[cfg(feature = "blocking")]
pub mod blocking;
mod client;
mod clock;
mod conn;
mod error;
mod kept;
mod pool;
pub mod proto;
mod runtime;

/// Cookies, as reqwest's `cookie` module names them: those a response sets
/// ([`Response::cookies`]), and the store a client keeps them in
/// ([`ClientBuilder::cookie_provider`]). Feature `cookies`.
#[cfg(feature = "cookies")]
pub mod cookie {
    pub use crate::client::{Cookie, CookieStore, Jar};
}
/// TLS settings' types: the protocol [`Version`](tls::Version) for
/// [`min_tls_version`](ClientBuilder::min_tls_version) and
/// [`max_tls_version`](ClientBuilder::max_tls_version), and (as at the crate's root) the
/// certificates.
pub mod tls {
    pub use crate::conn::tls::Version;
    pub use crate::conn::tls::{
        Certificate, CertificateRevocationList, Identity, PemError, TlsInfo,
    };
}
pub use client::multipart;
pub use client::redirect;
#[cfg(feature = "hickory-dns")]
pub use client::HickoryResolver;
pub use client::{
    Body, BoxError, Certificate, Client, ClientBuilder, Identity, IntoUrl, NoProxy, PemError,
    Proxy, RequestBuilder, Resolve, Resolving, Response, ResponseBody, RetryPolicy, Upgraded,
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_DNS_CACHE_TTL, DEFAULT_DRAIN_LIMIT, DEFAULT_DRAIN_TIMEOUT,
    DEFAULT_HTTP2_KEEP_ALIVE_TIMEOUT, DEFAULT_HTTP2_PING_AFTER_IDLE, DEFAULT_HTTP2_PING_TIMEOUT,
    DEFAULT_IDLE_TIMEOUT, DEFAULT_KEEP_ALIVE_MARGIN, DEFAULT_MAX_CONNECTIONS_PER_HOST,
    DEFAULT_MAX_CONNECTIONS_TOTAL, DEFAULT_MAX_HEADERS, DEFAULT_MAX_HEAD_BYTES,
    DEFAULT_MAX_HOST_PAUSE, DEFAULT_MAX_RETRIES, DEFAULT_SWEEP_INTERVAL, DEFAULT_USER_AGENT,
    POLITE_MAX_CONNECTIONS_PER_HOST,
};
pub use error::{Error, ErrorKind, Result};
pub use pool::{HostStats, Stats};

/// GETs `url` (reqwest's `get`, for a quick request): with one client, made with the
/// defaults at the first call and shared by every call after, so that its connections are
/// reused from one call to the next. For settings, statistics or a pool of its own, make
/// a [`Client`].
///
/// ```no_run
/// # async fn run() -> tether::Result<()> {
/// let body = tether::get("http://127.0.0.1:8080/").await?.text().await?;
/// # Ok(())
/// # }
/// ```
pub async fn get<U: IntoUrl>(url: U) -> Result<Response> {
    static SHARED: std::sync::OnceLock<Client> = std::sync::OnceLock::new();
    SHARED.get_or_init(Client::new).get(url).send().await
}
