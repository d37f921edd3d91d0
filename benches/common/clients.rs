//! The clients compared, behind one interface: tether, hyper-util's legacy pooled client and
//! reqwest (HTTP/1.1 only, no TLS). Each is built with the same per-host cap (and global cap,
//! where the benchmark has one). tether enforces caps itself; hyper-util and reqwest have
//! none on open connections, so the benchmark holds a semaphore per host (and a global one)
//! around each request, from before it is sent until its body has been read.

use std::cell::RefCell;
use std::sync::Arc;

use bytes::Bytes;
use http::Method;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use tokio::sync::Semaphore;

/// Which client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    Tether,
    /// tether given a `url::Url` parsed once, instead of a string parsed per request.
    TetherParsedUrl,
    /// tether built with `http_proxy` and `https_proxy` set in the environment and the
    /// benchmark's server in `no_proxy`: what matching every request against `no_proxy`
    /// costs.
    TetherNoProxy,
    /// tether reading the body piece by piece with `chunk()` (and dropping the pieces),
    /// where the others collect it.
    TetherChunks,
    /// tether reading the body as a `String` with `text()`.
    TetherText,
    /// tether with a request timeout (30 s, never reached): what a deadline costs.
    TetherTimeout,
    /// tether sending what an API client sends with each request: a bearer token and an
    /// `Accept` header.
    TetherAuth,
    HyperUtil,
    /// hyper-util reading the body frame by frame (and dropping the frames).
    HyperUtilFrames,
    Reqwest,
    /// Not a client: about the least an HTTP/1.1 keep-alive client can do per request
    /// (`floor.rs`), to show how much of the CPU per request is the kernel's.
    Floor,
}

impl Which {
    /// The three clients compared (tether taking string URLs, as the others do).
    pub const ALL: [Which; 3] = [Which::Tether, Which::HyperUtil, Which::Reqwest];

    pub fn name(self) -> &'static str {
        match self {
            Which::Tether => "tether",
            Which::TetherParsedUrl => "tether (Url)",
            Which::TetherNoProxy => "tether (no_proxy)",
            Which::TetherChunks => "tether (chunk)",
            Which::TetherText => "tether (text)",
            Which::TetherTimeout => "tether (timeout)",
            Which::TetherAuth => "tether (auth)",
            Which::HyperUtil => "hyper-util",
            Which::HyperUtilFrames => "hyper-util (frames)",
            Which::Reqwest => "reqwest",
            Which::Floor => "floor",
        }
    }
}

/// The token `TetherAuth` sends: the length of a typical API key.
const API_TOKEN: &str = "sk_test_4eC39HqLyjWDarjtT1zdp7dc0123456789ab";

thread_local! {
    /// The last URL string `TetherParsedUrl` saw and its parse: each benchmark run uses one
    /// URL per host, so this stands for an application that keeps its `Url`s.
    static PARSED: RefCell<Option<(String, url::Url)>> = const { RefCell::new(None) };
}

/// Caps every client gets.
#[derive(Debug, Clone, Copy)]
pub struct Caps {
    /// Hosts, numbered `0..hosts` by the benchmark.
    pub hosts: usize,
    pub per_host: usize,
    /// A global cap on requests (hyper-util, reqwest) or connections (tether).
    pub total: Option<usize>,
}

/// Semaphores standing in for caps the client does not have.
pub struct Limits {
    per_host: Vec<Semaphore>,
    total: Option<Semaphore>,
}

impl Limits {
    fn new(caps: Caps) -> Limits {
        Limits {
            per_host: (0..caps.hosts)
                .map(|_| Semaphore::new(caps.per_host))
                .collect(),
            total: caps.total.map(Semaphore::new),
        }
    }
}

/// One client of any kind.
pub enum AnyClient {
    Tether(tether::Client),
    TetherParsedUrl(tether::Client),
    TetherChunks(tether::Client),
    TetherText(tether::Client),
    TetherTimeout(tether::Client),
    TetherAuth(tether::Client),
    HyperUtil(
        hyper_util::client::legacy::Client<HttpConnector, Full<Bytes>>,
        Arc<Limits>,
    ),
    HyperUtilFrames(
        hyper_util::client::legacy::Client<HttpConnector, Full<Bytes>>,
        Arc<Limits>,
    ),
    Reqwest(reqwest::Client, Arc<Limits>),
    Floor(super::floor::Floor, Arc<Limits>),
}

impl AnyClient {
    /// A client of kind `which` with `caps`, otherwise its defaults (idle connections are
    /// kept up to the per-host cap, for 90 s).
    pub fn new(which: Which, caps: Caps) -> AnyClient {
        match which {
            Which::Tether
            | Which::TetherParsedUrl
            | Which::TetherChunks
            | Which::TetherText
            | Which::TetherTimeout
            | Which::TetherAuth => {
                let mut b = tether::Client::builder().max_connections_per_host(caps.per_host);
                if let Some(total) = caps.total {
                    b = b.max_connections_total(total);
                }
                let client = b.build().expect("tether client");
                match which {
                    Which::Tether => AnyClient::Tether(client),
                    Which::TetherChunks => AnyClient::TetherChunks(client),
                    Which::TetherText => AnyClient::TetherText(client),
                    Which::TetherTimeout => AnyClient::TetherTimeout(client),
                    Which::TetherAuth => AnyClient::TetherAuth(client),
                    _ => AnyClient::TetherParsedUrl(client),
                }
            }
            Which::TetherNoProxy => {
                // Read at `build`. The benchmark builds its clients on one thread before
                // any request runs, so nothing reads the environment meanwhile.
                let vars = [
                    ("http_proxy", "http://127.0.0.1:9"),
                    ("https_proxy", "http://127.0.0.1:9"),
                    ("no_proxy", "localhost,example.com,10.0.0.0/8,127.0.0.1"),
                ];
                for (name, value) in vars {
                    std::env::set_var(name, value);
                }
                let mut b = tether::Client::builder().max_connections_per_host(caps.per_host);
                if let Some(total) = caps.total {
                    b = b.max_connections_total(total);
                }
                let client = b.build().expect("tether client");
                for (name, _) in vars {
                    std::env::remove_var(name);
                }
                AnyClient::Tether(client)
            }
            Which::HyperUtil | Which::HyperUtilFrames => {
                let client = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
                    .pool_timer(TokioTimer::new())
                    .pool_max_idle_per_host(caps.per_host)
                    .build_http();
                if which == Which::HyperUtil {
                    AnyClient::HyperUtil(client, Arc::new(Limits::new(caps)))
                } else {
                    AnyClient::HyperUtilFrames(client, Arc::new(Limits::new(caps)))
                }
            }
            Which::Reqwest => {
                // reqwest is built without a crypto provider of its own (no aws-lc): ring,
                // for the TLS stack it builds even for plain http (deprecated from rustls
                // 0.23.48, which prefers aws-lc-rs).
                #[allow(deprecated)]
                let _ = rustls::crypto::ring::default_provider().install_default();
                let client = reqwest::Client::builder()
                    .pool_max_idle_per_host(caps.per_host)
                    .build()
                    .expect("reqwest client");
                AnyClient::Reqwest(client, Arc::new(Limits::new(caps)))
            }
            Which::Floor => AnyClient::Floor(
                super::floor::Floor::new(caps.hosts),
                Arc::new(Limits::new(caps)),
            ),
        }
    }

    /// `GET url` (on host number `host`); the body length.
    pub async fn get(&self, host: usize, url: &str) -> Result<usize, String> {
        self.request(host, Method::GET, url, None).await
    }

    /// `POST url` with `body`; the response body length.
    pub async fn post(&self, host: usize, url: &str, body: Bytes) -> Result<usize, String> {
        self.request(host, Method::POST, url, Some(body)).await
    }

    /// Sends a request and reads its whole body, under the caps.
    pub async fn request(
        &self,
        host: usize,
        method: Method,
        url: &str,
        body: Option<Bytes>,
    ) -> Result<usize, String> {
        match self {
            AnyClient::Tether(c) => {
                let mut req = c.request(method, url);
                if let Some(body) = body {
                    req = req.body(body);
                }
                let resp = req.send().await.map_err(|e| e.to_string())?;
                let bytes = resp.bytes().await.map_err(|e| e.to_string())?;
                Ok(bytes.len())
            }
            AnyClient::TetherChunks(c) => {
                let mut req = c.request(method, url);
                if let Some(body) = body {
                    req = req.body(body);
                }
                let mut resp = req.send().await.map_err(|e| e.to_string())?;
                let mut n = 0;
                while let Some(piece) = resp.chunk().await.map_err(|e| e.to_string())? {
                    n += piece.len();
                }
                Ok(n)
            }
            AnyClient::TetherTimeout(c) => {
                let mut req = c
                    .request(method, url)
                    .timeout(std::time::Duration::from_secs(30));
                if let Some(body) = body {
                    req = req.body(body);
                }
                let resp = req.send().await.map_err(|e| e.to_string())?;
                let bytes = resp.bytes().await.map_err(|e| e.to_string())?;
                Ok(bytes.len())
            }
            AnyClient::TetherAuth(c) => {
                let mut req = c
                    .request(method, url)
                    .bearer_auth(API_TOKEN)
                    .header("accept", "application/json");
                if let Some(body) = body {
                    req = req.body(body);
                }
                let resp = req.send().await.map_err(|e| e.to_string())?;
                let bytes = resp.bytes().await.map_err(|e| e.to_string())?;
                Ok(bytes.len())
            }
            AnyClient::TetherText(c) => {
                let mut req = c.request(method, url);
                if let Some(body) = body {
                    req = req.body(body);
                }
                let resp = req.send().await.map_err(|e| e.to_string())?;
                let text = resp.text().await.map_err(|e| e.to_string())?;
                Ok(text.len())
            }
            AnyClient::TetherParsedUrl(c) => {
                let url = PARSED.with(|cache| -> Result<url::Url, String> {
                    let mut cache = cache.borrow_mut();
                    if let Some((s, u)) = &*cache {
                        if s == url {
                            return Ok(u.clone());
                        }
                    }
                    let u = url::Url::parse(url).map_err(|e| e.to_string())?;
                    *cache = Some((url.to_string(), u.clone()));
                    Ok(u)
                })?;
                let mut req = c.request(method, url);
                if let Some(body) = body {
                    req = req.body(body);
                }
                let resp = req.send().await.map_err(|e| e.to_string())?;
                let bytes = resp.bytes().await.map_err(|e| e.to_string())?;
                Ok(bytes.len())
            }
            AnyClient::HyperUtil(c, limits) | AnyClient::HyperUtilFrames(c, limits) => {
                let _host = limits.per_host[host].acquire().await;
                let _total = match &limits.total {
                    Some(s) => Some(s.acquire().await),
                    None => None,
                };
                let req = http::Request::builder()
                    .method(method)
                    .uri(url)
                    .body(Full::new(body.unwrap_or_default()))
                    .map_err(|e| e.to_string())?;
                let mut body = c.request(req).await.map_err(|e| e.to_string())?.into_body();
                if let AnyClient::HyperUtil(..) = self {
                    let bytes = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
                    return Ok(bytes.len());
                }
                let mut n = 0;
                while let Some(frame) = body.frame().await {
                    if let Ok(data) = frame.map_err(|e| e.to_string())?.into_data() {
                        n += data.len();
                    }
                }
                Ok(n)
            }
            AnyClient::Reqwest(c, limits) => {
                let _host = limits.per_host[host].acquire().await;
                let _total = match &limits.total {
                    Some(s) => Some(s.acquire().await),
                    None => None,
                };
                let mut req = c.request(method, url);
                if let Some(body) = body {
                    req = req.body(body);
                }
                let resp = req.send().await.map_err(|e| e.to_string())?;
                let bytes = resp.bytes().await.map_err(|e| e.to_string())?;
                Ok(bytes.len())
            }
            AnyClient::Floor(c, limits) => {
                let _host = limits.per_host[host].acquire().await;
                let _total = match &limits.total {
                    Some(s) => Some(s.acquire().await),
                    None => None,
                };
                c.request(host, &method, url, body.as_deref()).await
            }
        }
    }
}
