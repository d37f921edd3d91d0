//! The public error type: an [`ErrorKind`] a caller can match on, the cause behind it, and
//! three facts the retry logic and callers care about: whether any byte of the request was
//! written, whether all of it was, and whether the connection had been reused from the
//! pool. They hold for every error, timeouts included: a caller deciding whether to repeat
//! a POST can trust them.
//!
//! The flat, comparable protocol error lives in [`crate::proto::ProtoError`]; it is kept
//! as the source of a `Protocol` or `IncompleteBody` error here.

use std::error::Error as StdError;
use std::fmt;

use crate::proto::ProtoError;

/// What went wrong, for callers to match on.
///
/// ```no_run
/// # async fn run() -> tether::Result<()> {
/// use tether::ErrorKind;
/// match tether::Client::new().get("http://127.0.0.1:8080/").send().await {
///     Ok(response) => println!("{}", response.status()),
///     Err(e) if e.kind() == ErrorKind::Connect => eprintln!("server down: {e}"),
///     Err(e) if e.kind() == ErrorKind::Timeout => eprintln!("too slow: {e}"),
///     Err(e) => return Err(e),
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The TCP connection could not be opened (refused, unreachable, name not resolved).
    Connect,
    /// The TLS handshake failed (untrusted or expired certificate, name mismatch, ...).
    Tls,
    /// A deadline passed: connect timeout, request timeout, read timeout or pool-wait
    /// timeout.
    Timeout,
    /// The connection closed (EOF or reset) after the request was sent and before any byte
    /// of a response arrived.
    ClosedBeforeResponse,
    /// The connection closed before the end its response body was framed to have.
    IncompleteBody,
    /// The server broke HTTP/1.x: malformed, oversized or contradictory response.
    Protocol,
    /// The request could not be sent as given: bad URL, method, header name or value.
    InvalidRequest,
    /// Another I/O error while writing the request or reading the response.
    Io,
    /// The async runtime cannot run the request: no tokio runtime, or one built without
    /// timers or I/O (`enable_all()` on the runtime builder gives both).
    Runtime,
    /// A response had a `4xx` or `5xx` status (from `Response::error_for_status`).
    Status,
    /// A body could not be decoded: a corrupt or truncated content coding, or JSON that
    /// does not fit the type asked for.
    Decode,
    /// A body was larger than `max_body_bytes`.
    Body,
    /// A redirect chain went past the policy's limit, looped, or was refused by a custom
    /// policy; `Error::url` names where it would have gone.
    Redirect,
    /// A proxy refused to open a tunnel (any answer to `CONNECT` but 2xx, `Error::status`
    /// giving the status, 407 meaning the proxy wants credentials; a SOCKS5 refusal or
    /// rejected login, the message giving the reply), closed the connection or sent what
    /// is not HTTP (or not SOCKS5) before the tunnel was open, or a proxy setting could not
    /// be used (a proxy URL from the environment that does not parse, a scheme other than
    /// `http://`, `https://`, `socks5://` and `socks5h://`).
    Proxy,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ErrorKind::Connect => "connect error",
            ErrorKind::Tls => "TLS error",
            ErrorKind::Timeout => "timed out",
            ErrorKind::ClosedBeforeResponse => "connection closed before a response",
            ErrorKind::IncompleteBody => "response body incomplete",
            ErrorKind::Protocol => "HTTP protocol error",
            ErrorKind::InvalidRequest => "invalid request",
            ErrorKind::Io => "I/O error",
            ErrorKind::Runtime => "runtime error",
            ErrorKind::Status => "HTTP status error",
            ErrorKind::Decode => "error decoding the body",
            ErrorKind::Redirect => "redirect error",
            ErrorKind::Body => "body error",
            ErrorKind::Proxy => "proxy error",
        })
    }
}

type Cause = Box<dyn StdError + Send + Sync + 'static>;

/// The error of every fallible tether operation.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// # let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
/// # let url = format!("http://127.0.0.1:{port}/");
/// let client = tether::Client::new();
/// let err = client.get(&url).send().await.unwrap_err();
/// // Display says what happened and where; the kind is for matching.
/// println!("{err}");
/// assert_eq!(err.kind(), tether::ErrorKind::Connect);
/// # }
/// ```
pub struct Error {
    inner: Box<Inner>,
}

struct Inner {
    kind: ErrorKind,
    message: Option<String>,
    source: Option<Cause>,
    request_written: bool,
    request_complete: bool,
    reused: bool,
    status: Option<http::StatusCode>,
    url: Option<url::Url>,
}

impl Error {
    /// A new error of `kind` with a cause.
    #[cold]
    pub(crate) fn new(kind: ErrorKind, source: impl Into<Cause>) -> Error {
        Error {
            inner: Box::new(Inner {
                kind,
                message: None,
                source: Some(source.into()),
                request_written: false,
                request_complete: false,
                reused: false,
                status: None,
                url: None,
            }),
        }
    }

    /// A new error of `kind` described by a message alone.
    #[cold]
    pub(crate) fn msg(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            inner: Box::new(Inner {
                kind,
                message: Some(message.into()),
                source: None,
                request_written: false,
                request_complete: false,
                reused: false,
                status: None,
                url: None,
            }),
        }
    }

    /// Adds a message in front of the cause.
    #[cold]
    pub(crate) fn context(mut self, message: impl Into<String>) -> Error {
        self.inner.message = Some(message.into());
        self
    }

    /// Puts `what` in front of the message: `proxy: connecting to ...`.
    #[cold]
    pub(crate) fn prefix(mut self, what: &str) -> Error {
        self.inner.message = Some(match self.inner.message.take() {
            Some(m) => format!("{what}: {m}"),
            None => what.to_owned(),
        });
        self
    }

    /// Records how much of the request was written (`written` bytes, all of it or not) and
    /// whether the connection was reused.
    #[cold]
    /// An error on a later hop of a redirect chain, whose first hop the server answered
    /// (`complete`: all of that request had been written): the server has acted on the
    /// request, whatever became of the hops after.
    pub(crate) fn after_answered_hop(mut self, complete: bool) -> Error {
        self.inner.request_written = true;
        self.inner.request_complete |= complete;
        self
    }

    pub(crate) fn with_attempt(mut self, written: u64, complete: bool, reused: bool) -> Error {
        self.inner.request_written = written > 0 || complete;
        self.inner.request_complete = complete;
        self.inner.reused = reused;
        self
    }

    /// A protocol error from a peer, classified: a short body is `IncompleteBody`.
    #[cold]
    pub(crate) fn proto(err: ProtoError) -> Error {
        let kind = match err {
            ProtoError::IncompleteBody => ErrorKind::IncompleteBody,
            ProtoError::InvalidMethod
            | ProtoError::InvalidHeaderName
            | ProtoError::InvalidHeaderValue
            | ProtoError::InvalidUrl => ErrorKind::InvalidRequest,
            _ => ErrorKind::Protocol,
        };
        Error::new(kind, err)
    }

    /// A `4xx` or `5xx` status of the response for `url`.
    #[cold]
    pub(crate) fn status_code(status: http::StatusCode, url: &url::Url) -> Error {
        let mut e = Error::msg(ErrorKind::Status, status.to_string());
        e.inner.status = Some(status);
        e.inner.url = Some(without_userinfo(url));
        e
    }

    /// Records the status the error is about (a proxy's refusal).
    #[cold]
    pub(crate) fn with_status(mut self, status: http::StatusCode) -> Error {
        self.inner.status = Some(status);
        self
    }

    /// Names the URL the error is about (without userinfo).
    #[cold]
    pub(crate) fn for_url(mut self, url: &url::Url) -> Error {
        self.inner.url = Some(without_userinfo(url));
        self
    }

    /// Names `url` unless the error names one already (a redirect error names where it
    /// would have gone).
    #[cold]
    pub(crate) fn or_url(mut self, url: Option<&url::Url>) -> Error {
        if self.inner.url.is_none() {
            self.inner.url = url.map(without_userinfo);
        }
        self
    }

    /// A timeout with what timed out.
    #[cold]
    pub(crate) fn timeout(what: &str) -> Error {
        Error::msg(ErrorKind::Timeout, format!("{what} timed out"))
    }

    /// What went wrong.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    /// # let url = format!("http://127.0.0.1:{port}/");
    /// let client = tether::Client::new();
    /// let err = client.get(&url).send().await.unwrap_err();
    /// assert_eq!(err.kind(), tether::ErrorKind::Connect);
    /// # }
    /// ```
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// True for connect, request, read and pool-wait timeouts.
    ///
    /// ```no_run
    /// # async fn run() -> tether::Result<()> {
    /// let client = tether::Client::new();
    /// let result = client
    ///     .get("http://127.0.0.1:8080/slow")
    ///     .timeout(std::time::Duration::from_millis(100))
    ///     .send()
    ///     .await;
    /// if let Err(e) = result {
    ///     assert!(e.is_timeout());
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn is_timeout(&self) -> bool {
        self.inner.kind == ErrorKind::Timeout
    }

    /// True when the connection could not be opened.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    /// # let url = format!("http://127.0.0.1:{port}/");
    /// let client = tether::Client::new();
    /// let err = client.get(&url).send().await.unwrap_err();
    /// assert!(err.is_connect());
    /// # }
    /// ```
    pub fn is_connect(&self) -> bool {
        self.inner.kind == ErrorKind::Connect
    }

    /// True when the request was rejected before any byte was sent.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let err = tether::Client::new().get("ftp://127.0.0.1/").send().await.unwrap_err();
    /// assert!(err.is_invalid_request());
    /// assert!(!err.request_written());
    /// # }
    /// ```
    pub fn is_invalid_request(&self) -> bool {
        self.inner.kind == ErrorKind::InvalidRequest
    }

    /// Whether any byte of the (last attempt of the) request was written to the server.
    /// When false, the server cannot have acted on it: repeating it is safe. A request
    /// the server answered with a redirect was written, whatever failed on a later hop.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    /// # let url = format!("http://127.0.0.1:{port}/");
    /// let client = tether::Client::new();
    /// let err = client.get(&url).send().await.unwrap_err();
    /// // Nothing reached a server: even a POST could be sent again safely.
    /// assert!(!err.request_written());
    /// # }
    /// ```
    pub fn request_written(&self) -> bool {
        self.inner.request_written
    }

    /// Whether all of the (last attempt of the) request was written to the server.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    /// # let url = format!("http://127.0.0.1:{port}/");
    /// let client = tether::Client::new();
    /// let err = client.get(&url).send().await.unwrap_err();
    /// assert!(!err.request_fully_written());
    /// # }
    /// ```
    pub fn request_fully_written(&self) -> bool {
        self.inner.request_complete
    }

    /// Whether the (last attempt of the) request ran on a connection reused from the pool.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    /// # let url = format!("http://127.0.0.1:{port}/");
    /// let client = tether::Client::new();
    /// let err = client.get(&url).send().await.unwrap_err();
    /// assert!(!err.connection_reused());
    /// # }
    /// ```
    pub fn connection_reused(&self) -> bool {
        self.inner.reused
    }

    /// True for an error made by `Response::error_for_status`.
    ///
    /// ```no_run
    /// # async fn run() -> tether::Result<()> {
    /// let response = tether::Client::new().get("http://127.0.0.1:8080/missing").send().await?;
    /// if let Err(e) = response.error_for_status() {
    ///     assert!(e.is_status());
    ///     assert_eq!(e.status(), Some(http::StatusCode::NOT_FOUND));
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn is_status(&self) -> bool {
        self.inner.kind == ErrorKind::Status
    }

    /// True for a redirect chain that went too far or was refused.
    ///
    /// ```no_run
    /// # async fn run() -> tether::Result<()> {
    /// let client = tether::Client::builder()
    ///     .redirect(tether::redirect::Policy::limited(2))
    ///     .build()?;
    /// if let Err(e) = client.get("http://127.0.0.1:8080/loop").send().await {
    ///     if e.is_redirect() {
    ///         eprintln!("gave up at {:?}", e.url());
    ///     }
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn is_redirect(&self) -> bool {
        self.inner.kind == ErrorKind::Redirect
    }

    /// True when a body could not be decoded.
    ///
    /// ```no_run
    /// # async fn run() -> tether::Result<()> {
    /// #[derive(serde::Deserialize)]
    /// struct Order { id: u64 }
    /// let response = tether::Client::new().get("http://127.0.0.1:8080/order").send().await?;
    /// match response.json::<Order>().await {
    ///     Ok(order) => println!("order {}", order.id),
    ///     Err(e) if e.is_decode() => eprintln!("not an order: {e}"),
    ///     Err(e) => return Err(e),
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn is_decode(&self) -> bool {
        self.inner.kind == ErrorKind::Decode
    }

    /// True when a proxy refused the tunnel, broke off before it was open, or a proxy
    /// setting could not be used (`ErrorKind::Proxy`).
    ///
    /// ```no_run
    /// # async fn run() -> tether::Result<()> {
    /// let client = tether::Client::builder()
    ///     .proxy(tether::Proxy::https("http://127.0.0.1:3128")?)
    ///     .build()?;
    /// if let Err(e) = client.get("https://example.com/").send().await {
    ///     if e.is_proxy() && e.status() == Some(http::StatusCode::PROXY_AUTHENTICATION_REQUIRED) {
    ///         eprintln!("the proxy wants credentials: {e}");
    ///     }
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn is_proxy(&self) -> bool {
        self.inner.kind == ErrorKind::Proxy
    }

    /// The status the error is about: the response's for `ErrorKind::Status`, the proxy's
    /// answer to `CONNECT` for `ErrorKind::Proxy`.
    ///
    /// ```no_run
    /// # async fn run() -> tether::Result<()> {
    /// let response = tether::Client::new().get("http://127.0.0.1:8080/admin").send().await?;
    /// let err = response.error_for_status().unwrap_err();
    /// assert_eq!(err.status(), Some(http::StatusCode::FORBIDDEN));
    /// # Ok(())
    /// # }
    /// ```
    pub fn status(&self) -> Option<http::StatusCode> {
        self.inner.status
    }

    /// The URL the error is about, when it is about one (without userinfo).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    /// # let url = format!("http://127.0.0.1:{port}/");
    /// let client = tether::Client::new();
    /// let err = client.get(&url).send().await.unwrap_err();
    /// assert_eq!(err.url().map(|u| u.as_str()), Some(url.as_str()));
    /// # }
    /// ```
    pub fn url(&self) -> Option<&url::Url> {
        self.inner.url.as_ref()
    }

    /// The URL the error names, to change (reqwest's name).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    /// let client = tether::Client::new();
    /// let mut err = client
    ///     .get(format!("http://127.0.0.1:{port}/item?token=secret"))
    ///     .send()
    ///     .await
    ///     .unwrap_err();
    /// if let Some(url) = err.url_mut() {
    ///     url.set_query(None);
    /// }
    /// assert!(!err.to_string().contains("secret"));
    /// # }
    /// ```
    pub fn url_mut(&mut self) -> Option<&mut url::Url> {
        self.inner.url.as_mut()
    }

    /// The error naming `url` instead (reqwest's name).
    ///
    /// ```
    /// let err = tether::Client::new().get("not a url").build().unwrap_err();
    /// let url = url::Url::parse("http://example.com/").unwrap();
    /// let err = err.with_url(url.clone());
    /// assert_eq!(err.url(), Some(&url));
    /// ```
    pub fn with_url(mut self, url: url::Url) -> Error {
        self.inner.url = Some(url);
        self
    }

    /// The error without its URL (reqwest's name): for logs that must not carry what a
    /// URL holds, a token in its query say. `Display` then names no URL.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    /// let client = tether::Client::new();
    /// let err = client
    ///     .get(format!("http://127.0.0.1:{port}/?key=secret"))
    ///     .send()
    ///     .await
    ///     .unwrap_err()
    ///     .without_url();
    /// assert!(err.url().is_none() && !err.to_string().contains("secret"));
    /// # }
    /// ```
    pub fn without_url(mut self) -> Error {
        self.inner.url = None;
        self
    }

    /// Whether the host's name did not resolve (reqwest's name): the resolver failed or
    /// gave no address. A `Connect` error too ([`is_connect`](Self::is_connect)); a
    /// refused or unreachable address is not this.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    /// let client = tether::Client::new();
    /// let refused = client.get(format!("http://127.0.0.1:{port}/")).send().await.unwrap_err();
    /// assert!(refused.is_connect() && !refused.is_dns());
    /// # }
    /// ```
    pub fn is_dns(&self) -> bool {
        self.inner.kind == ErrorKind::Connect
            && self
                .inner
                .source
                .as_ref()
                .is_some_and(|s| s.is::<crate::conn::NotResolved>())
    }

    /// Whether the request could not be sent as given (reqwest's name for
    /// [`is_invalid_request`](Self::is_invalid_request)): nothing of it was sent.
    ///
    /// ```
    /// let err = tether::Client::new().get("not a url").build().unwrap_err();
    /// assert!(err.is_builder());
    /// ```
    pub fn is_builder(&self) -> bool {
        self.is_invalid_request()
    }

    /// Whether a body was the trouble (reqwest's name): one larger than `max_body_bytes`,
    /// a request body stream that failed, or a response body cut short
    /// ([`ErrorKind::Body`], [`ErrorKind::IncompleteBody`]).
    ///
    /// ```no_run
    /// # async fn run() -> tether::Result<()> {
    /// let client = tether::Client::builder().max_body_bytes(1024).build()?;
    /// match client.get("http://127.0.0.1:8080/big").send().await?.bytes().await {
    ///     Err(e) if e.is_body() => eprintln!("too large or cut short: {e}"),
    ///     other => drop(other?),
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn is_body(&self) -> bool {
        matches!(self.inner.kind, ErrorKind::Body | ErrorKind::IncompleteBody)
    }

    /// The protocol error behind this one, if any.
    ///
    /// ```no_run
    /// # async fn run() -> tether::Result<()> {
    /// use tether::proto::ProtoError;
    /// if let Err(e) = tether::Client::new().get("http://127.0.0.1:8080/").send().await {
    ///     if e.proto_error() == Some(&ProtoError::HeadTooLarge) {
    ///         eprintln!("raise max_head_bytes for this server");
    ///     }
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn proto_error(&self) -> Option<&ProtoError> {
        self.inner.source.as_ref()?.downcast_ref::<ProtoError>()
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("tether::Error");
        d.field("kind", &self.inner.kind);
        if let Some(m) = &self.inner.message {
            d.field("message", m);
        }
        if let Some(s) = &self.inner.source {
            d.field("source", s);
        }
        d.field("request_written", &self.inner.request_written)
            .field("request_fully_written", &self.inner.request_complete)
            .field("reused", &self.inner.reused)
            .finish()
    }
}

/// `url` as an error names it: without user information, whoever gave it (a caller's URL
/// before its credentials were taken out, a server's `Location`), so that a password is
/// never shown by `Display`, `Debug` or `Error::url`.
pub(crate) fn without_userinfo(url: &url::Url) -> url::Url {
    let mut url = url.clone();
    if !url.username().is_empty() || url.password().is_some() {
        // Both fail only for URLs that cannot have user information.
        let _ = url.set_username("");
        let _ = url.set_password(None);
    }
    url
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.inner.kind)?;
        if let Some(url) = &self.inner.url {
            write!(f, " for {url}")?;
        }
        if let Some(m) = &self.inner.message {
            write!(f, ": {m}")?;
        }
        if let Some(s) = &self.inner.source {
            write!(f, ": {s}")?;
        }
        Ok(())
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.inner
            .source
            .as_ref()
            .map(|s| &**s as &(dyn StdError + 'static))
    }
}

/// The crate's result type.
///
/// ```
/// fn client() -> tether::Result<tether::Client> {
///     tether::Client::builder().polite().build()
/// }
/// let client = client()?;
/// # Ok::<(), tether::Error>(())
/// ```
pub type Result<T, E = Error> = std::result::Result<T, E>;
