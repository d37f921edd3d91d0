//! A blocking client (feature `blocking`), for code that does not run on an async runtime:
//! scripts, command-line tools, tests, threads of their own.
//!
//! It is the async [`Client`](crate::Client), pool and all, driven by a runtime on a
//! thread of its own (`tether-blocking`), one per client and its clones. Each call sends
//! the work there and waits for the answer on the calling thread, so a call never panics
//! for being made from inside an async runtime (it blocks that runtime's thread, which
//! async code should not do: use [`crate::Client`] there). Connections, retries,
//! redirects, decompression, timeouts and [`stats`](Client::stats) are the async client's.
//!
//! ```no_run
//! let client = tether::blocking::Client::new();
//! let text = client.get("http://127.0.0.1:8080/").send()?.error_for_status()?.text()?;
//!
//! // Configured as the async client is, then built blocking.
//! let client = tether::Client::builder()
//!     .timeout(std::time::Duration::from_secs(10))
//!     .build_blocking()?;
//! let mut body = Vec::new();
//! client.get("http://127.0.0.1:8080/big").send()?.copy_to(&mut body)?;
//! # Ok::<(), tether::Error>(())
//! ```
//!
//! A response's body is read on demand: with `text`, `bytes` or `json` whole, or through
//! [`std::io::Read`] a piece at a time. Dropped unread, the rest is drained in the
//! background on the runtime's thread, as in the async client, so that its connection is
//! reused. The runtime's thread ends when the last client,
//! request and response that use it are dropped.

use std::fmt;
use std::io;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, Bytes};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Version};
use tokio::runtime::Handle;
use tokio::sync::oneshot;
use url::Url;

use crate::error::{Error, ErrorKind};
use crate::{Body, BoxError, IntoUrl, Stats};

/// The runtime the blocking client's work runs on, on a thread of its own; told to stop
/// when the last holder drops it.
struct Background {
    handle: Handle,
    /// Dropped (with `Background`), it ends the thread's `block_on`.
    _stop: oneshot::Sender<()>,
}

impl Background {
    fn start() -> Result<Background, Error> {
        let (stop, stopped) = oneshot::channel::<()>();
        let (ready, started) = mpsc::sync_channel(1);
        // The runtime is made, run and dropped on its thread: dropped on the caller's, as
        // a failed spawn would, it would panic if the caller were async code.
        std::thread::Builder::new()
            .name("tether-blocking".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(e) => {
                        let _ = ready.send(Err(e));
                        return;
                    }
                };
                let _ = ready.send(Ok(runtime.handle().clone()));
                // Ends when the sender is dropped; the runtime and its tasks go with it.
                let _ = runtime.block_on(stopped);
            })
            .map_err(|e| {
                Error::new(ErrorKind::Runtime, e).context("the blocking client's thread")
            })?;
        let handle = started
            .recv()
            .map_err(|_| {
                Error::msg(
                    ErrorKind::Runtime,
                    "the blocking client's thread ended before its runtime started",
                )
            })?
            .map_err(|e| {
                Error::new(ErrorKind::Runtime, e).context("the blocking client's runtime")
            })?;
        Ok(Background {
            handle,
            _stop: stop,
        })
    }

    /// Runs `work` on the runtime's thread and waits for its output.
    fn run<T: Send + 'static>(
        &self,
        work: impl std::future::Future<Output = T> + Send + 'static,
    ) -> Result<T, Error> {
        // On that thread itself (code the client runs, such as a resolver or a redirect
        // policy, calling it), waiting would wait forever for work only it can do.
        if Handle::try_current().is_ok_and(|here| here.id() == self.handle.id()) {
            return Err(Error::msg(
                ErrorKind::Runtime,
                "the blocking client was called from its own runtime's thread",
            ));
        }
        let (done, answer) = mpsc::sync_channel(1);
        self.handle.spawn(async move {
            let _ = done.send(work.await);
        });
        answer.recv().map_err(|_| {
            Error::msg(
                ErrorKind::Runtime,
                "the blocking client's runtime stopped before the work was done",
            )
        })
    }
}

/// A blocking HTTP client: the async [`crate::Client`] behind calls that wait. Cheap to
/// clone (clones share the pool and the runtime's thread).
///
/// ```no_run
/// let client = tether::blocking::Client::new();
/// let resp = client.post("http://127.0.0.1:8080/items").body("{}").send()?;
/// println!("{}", resp.status());
/// # Ok::<(), tether::Error>(())
/// ```
#[derive(Clone)]
pub struct Client {
    inner: crate::Client,
    /// `Err`: the runtime could not be started; every request fails with this.
    background: Result<Arc<Background>, Arc<str>>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("blocking::Client")
            .field("running", &self.background.is_ok())
            .finish_non_exhaustive()
    }
}

impl Default for Client {
    fn default() -> Self {
        Client::new()
    }
}

/// GETs `url` and waits for the response (reqwest's `blocking::get`): with one blocking
/// client, made with the defaults at the first call and shared by every call after, so
/// that its connections (and its runtime's thread) serve them all.
///
/// ```no_run
/// let body = tether::blocking::get("http://127.0.0.1:8080/")?.text()?;
/// # Ok::<(), tether::Error>(())
/// ```
pub fn get<U: IntoUrl>(url: U) -> Result<Response, Error> {
    static SHARED: std::sync::OnceLock<Client> = std::sync::OnceLock::new();
    SHARED.get_or_init(Client::new).get(url).send()
}

impl Client {
    /// A client with the defaults (those of [`crate::Client::new`]). Should its runtime's
    /// thread not start, every request fails with `ErrorKind::Runtime` saying why.
    pub fn new() -> Client {
        Client::wrap(crate::Client::new())
    }

    /// The async client's builder: configure it, then call
    /// [`build_blocking`](crate::ClientBuilder::build_blocking).
    pub fn builder() -> crate::ClientBuilder {
        crate::Client::builder()
    }

    /// `client`, behind a runtime of its own.
    pub(crate) fn wrap(client: crate::Client) -> Client {
        Client {
            inner: client,
            background: Background::start()
                .map(Arc::new)
                .map_err(|e| Arc::from(e.to_string())),
        }
    }

    /// `client`, behind a runtime of its own, or the error of starting it.
    pub(crate) fn try_wrap(client: crate::Client) -> Result<Client, Error> {
        Ok(Client {
            inner: client,
            background: Ok(Arc::new(Background::start()?)),
        })
    }

    /// A request with `method` to `url`.
    pub fn request(&self, method: Method, url: impl IntoUrl) -> RequestBuilder {
        RequestBuilder {
            inner: self.inner.request(method, url),
            background: self.background.clone(),
        }
    }

    /// Sends an `http::Request` ([`crate::Client::execute`]) and waits for the head of
    /// its response.
    pub fn execute<B: Into<Body>>(&self, request: http::Request<B>) -> Result<Response, Error> {
        let (parts, body) = request.into_parts();
        let request = http::Request::from_parts(parts, body.into());
        respond(self.background.clone(), self.inner.execute::<Body>(request))
    }

    /// A GET request to `url`.
    pub fn get(&self, url: impl IntoUrl) -> RequestBuilder {
        self.request(Method::GET, url)
    }

    /// A POST request to `url`.
    pub fn post(&self, url: impl IntoUrl) -> RequestBuilder {
        self.request(Method::POST, url)
    }

    /// A PUT request to `url`.
    pub fn put(&self, url: impl IntoUrl) -> RequestBuilder {
        self.request(Method::PUT, url)
    }

    /// A PATCH request to `url`.
    pub fn patch(&self, url: impl IntoUrl) -> RequestBuilder {
        self.request(Method::PATCH, url)
    }

    /// A DELETE request to `url`.
    pub fn delete(&self, url: impl IntoUrl) -> RequestBuilder {
        self.request(Method::DELETE, url)
    }

    /// A HEAD request to `url`.
    pub fn head(&self, url: impl IntoUrl) -> RequestBuilder {
        self.request(Method::HEAD, url)
    }

    /// The pool's counters, as [`crate::Client::stats`] gives them.
    pub fn stats(&self) -> Stats {
        self.inner.stats()
    }

    /// Gives `url`'s origin a least delay between requests of its own, or with `None`
    /// the client's again ([`crate::Client::set_min_delay_for_host`]).
    pub fn set_min_delay_for_host(
        &self,
        url: impl IntoUrl,
        delay: Option<Duration>,
    ) -> Result<(), Error> {
        self.inner.set_min_delay_for_host(url, delay)
    }

    /// Gives `url`'s origin a connection cap of its own, or with `None` the client's
    /// again ([`crate::Client::set_max_connections_for_host`]).
    pub fn set_max_connections_for_host(
        &self,
        url: impl IntoUrl,
        max: Option<usize>,
    ) -> Result<(), Error> {
        self.inner.set_max_connections_for_host(url, max)
    }
}

/// Runs `work` on `background`, or fails as it could not start.
fn run_on<T: Send + 'static>(
    background: &Result<Arc<Background>, Arc<str>>,
    work: impl std::future::Future<Output = T> + Send + 'static,
) -> Result<T, Error> {
    match background {
        Ok(background) => background.run(work),
        Err(why) => Err(Error::msg(
            ErrorKind::Runtime,
            format!("the blocking client's runtime could not start: {why}"),
        )),
    }
}

/// A request being built; [`send`](RequestBuilder::send) runs it and waits for the head
/// of the response. The methods are the async [`crate::RequestBuilder`]'s.
#[must_use = "a request does nothing until it is sent"]
pub struct RequestBuilder {
    inner: crate::RequestBuilder,
    background: Result<Arc<Background>, Arc<str>>,
}

impl fmt::Debug for RequestBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("blocking::RequestBuilder")
            .finish_non_exhaustive()
    }
}

impl RequestBuilder {
    fn map(self, f: impl FnOnce(crate::RequestBuilder) -> crate::RequestBuilder) -> Self {
        RequestBuilder {
            inner: f(self.inner),
            background: self.background,
        }
    }

    /// Adds a header ([`crate::RequestBuilder::header`]).
    pub fn header<K, V>(self, name: K, value: V) -> RequestBuilder
    where
        K: TryInto<HeaderName>,
        K::Error: Into<BoxError>,
        V: TryInto<HeaderValue>,
        V::Error: Into<BoxError>,
    {
        self.map(|r| r.header(name, value))
    }

    /// Adds every header of `headers` ([`crate::RequestBuilder::headers`]).
    pub fn headers(self, headers: HeaderMap) -> RequestBuilder {
        self.map(|r| r.headers(headers))
    }

    /// `Authorization: Basic` ([`crate::RequestBuilder::basic_auth`]).
    pub fn basic_auth<U, P>(self, username: U, password: Option<P>) -> RequestBuilder
    where
        U: fmt::Display,
        P: fmt::Display,
    {
        self.map(|r| r.basic_auth(username, password))
    }

    /// `Authorization: Bearer` ([`crate::RequestBuilder::bearer_auth`]).
    pub fn bearer_auth<T: fmt::Display>(self, token: T) -> RequestBuilder {
        self.map(|r| r.bearer_auth(token))
    }

    /// Appends `query` to the URL ([`crate::RequestBuilder::query`]).
    pub fn query<T: serde::Serialize + ?Sized>(self, query: &T) -> RequestBuilder {
        self.map(|r| r.query(query))
    }

    /// A form body ([`crate::RequestBuilder::form`]).
    pub fn form<T: serde::Serialize + ?Sized>(self, form: &T) -> RequestBuilder {
        self.map(|r| r.form(form))
    }

    /// A JSON body ([`crate::RequestBuilder::json`]). Feature `json` (on by default).
    #[cfg(feature = "json")]
    pub fn json<T: serde::Serialize + ?Sized>(self, json: &T) -> RequestBuilder {
        self.map(|r| r.json(json))
    }

    /// A `multipart/form-data` body ([`crate::RequestBuilder::multipart`]). `Form::file`
    /// and `Part::file` are async; here a file's part is `Part::bytes(std::fs::read(path)?)`
    /// with its `file_name`.
    pub fn multipart(self, form: crate::multipart::Form) -> RequestBuilder {
        self.map(|r| r.multipart(form))
    }

    /// The body ([`crate::RequestBuilder::body`]).
    pub fn body(self, body: impl Into<Body>) -> RequestBuilder {
        self.map(|r| r.body(body))
    }

    /// A body read from `reader` as it is sent, in pieces of at most 64 KiB (as reqwest's
    /// `blocking::Body::new`): sent chunked, and never sent twice (a stream is not
    /// retried). The reading is done on a thread of its own, at most two pieces ahead of
    /// the sending; it ends with the reader's end, its error, or the request.
    ///
    /// ```no_run
    /// # fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let client = tether::blocking::Client::new();
    /// let file = std::fs::File::open("upload.bin")?;
    /// client.put("http://127.0.0.1:8080/upload").body_reader(file).send()?;
    /// # Ok(()) }
    /// ```
    pub fn body_reader<R: io::Read + Send + 'static>(self, reader: R) -> RequestBuilder {
        self.map(|r| r.body_stream(read_stream(reader)))
    }

    /// As [`body_reader`](RequestBuilder::body_reader), for a reader of `len` bytes: sent
    /// with that `Content-Length`, not chunked (as reqwest's `blocking::Body::sized`); a
    /// reader that ends early or goes on past it fails the request.
    pub fn body_reader_sized<R: io::Read + Send + 'static>(
        self,
        reader: R,
        len: u64,
    ) -> RequestBuilder {
        self.map(|r| {
            r.header(http::header::CONTENT_LENGTH, len)
                .body_stream(read_stream(reader))
        })
    }

    /// Bounds the whole request, body included ([`crate::RequestBuilder::timeout`]).
    pub fn timeout(self, timeout: Duration) -> RequestBuilder {
        self.map(|r| r.timeout(timeout))
    }

    /// A copy to send again, `None` for a stream body ([`crate::RequestBuilder::try_clone`]).
    pub fn try_clone(&self) -> Option<RequestBuilder> {
        Some(RequestBuilder {
            inner: self.inner.try_clone()?,
            background: self.background.clone(),
        })
    }

    /// The request as an `http::Request`, for [`Client::execute`]
    /// ([`crate::RequestBuilder::build`]).
    pub fn build(self) -> Result<http::Request<Body>, Error> {
        self.inner.build()
    }

    /// The client and the request as [`build`](Self::build) makes it
    /// ([`crate::RequestBuilder::build_split`]).
    pub fn build_split(self) -> (Client, Result<http::Request<Body>, Error>) {
        let (inner, request) = self.inner.build_split();
        let client = Client {
            inner,
            background: self.background,
        };
        (client, request)
    }

    /// Sends the request and waits for the response's head; errors as
    /// [`crate::RequestBuilder::send`] gives them.
    pub fn send(self) -> Result<Response, Error> {
        respond(self.background, self.inner.send())
    }
}

/// Runs `sending` on `background` and keeps the head of its response at hand.
fn respond(
    background: Result<Arc<Background>, Arc<str>>,
    sending: impl std::future::Future<Output = Result<crate::Response, Error>> + Send + 'static,
) -> Result<Response, Error> {
    let (mut body, headers) = run_on(&background, async move {
        let resp = sending.await?;
        let headers = resp.headers().clone();
        Ok::<_, Error>((resp, headers))
    })??;
    Ok(Response {
        status: body.status(),
        version: body.version(),
        headers,
        headers_changed: false,
        url: body.url().clone(),
        content_length: body.content_length(),
        remote_addr: body.remote_addr(),
        extensions: std::mem::take(body.extensions_mut()),
        body: Some(body),
        background,
        piece: Bytes::new(),
    })
}

/// The pieces `reader` gives, as a stream: read on a thread of its own into a channel of
/// two, so that the runtime's thread never waits on the reader.
fn read_stream<R: io::Read + Send + 'static>(mut reader: R) -> ReadStream {
    const PIECE: usize = 64 * 1024;
    let (pieces, received) = tokio::sync::mpsc::channel(2);
    let errors = pieces.clone();
    let spawned = std::thread::Builder::new()
        .name("tether-body-reader".into())
        .spawn(move || loop {
            let mut buf = vec![0u8; PIECE];
            let piece = match reader.read(&mut buf) {
                Ok(0) => return,
                Ok(n) => {
                    buf.truncate(n);
                    Ok(Bytes::from(buf))
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => Err(e),
            };
            let failed = piece.is_err();
            // An error when the request is gone (the receiver dropped): nobody to read for.
            if pieces.blocking_send(piece).is_err() || failed {
                return;
            }
        });
    if let Err(e) = spawned {
        // The channel holds two: this is the stream's one and only item.
        let _ = errors.try_send(Err(e));
    }
    ReadStream(received)
}

/// A request body read from a `std::io::Read` (see [`read_stream`]).
struct ReadStream(tokio::sync::mpsc::Receiver<io::Result<Bytes>>);

impl futures_core::Stream for ReadStream {
    type Item = io::Result<Bytes>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.0.poll_recv(cx)
    }
}

/// A response: its head at hand, its body read on demand, whole (`text`, `bytes`, `json`)
/// or through [`std::io::Read`].
pub struct Response {
    status: StatusCode,
    version: Version,
    headers: HeaderMap,
    /// `headers_mut` was called: the body's readers take the fields from here.
    headers_changed: bool,
    url: Url,
    content_length: Option<u64>,
    remote_addr: Option<std::net::SocketAddr>,
    extensions: http::Extensions,
    /// The async response, for its body: away on the runtime's thread while a piece is
    /// read, `None` if it was lost there (the runtime stopped).
    body: Option<crate::Response>,
    background: Result<Arc<Background>, Arc<str>>,
    /// What `Read` has been given of the body but not yet read out.
    piece: Bytes,
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("blocking::Response")
            // Without user information: the request's went into `Authorization`.
            .field("url", &self.url.as_str())
            .field("status", &self.status)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

impl Response {
    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The HTTP version.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The header fields.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The header fields, to change ([`crate::Response::headers_mut`]): `text` decodes by
    /// the `Content-Type` left here.
    pub fn headers_mut(&mut self) -> &mut HeaderMap {
        self.headers_changed = true;
        &mut self.headers
    }

    /// Values attached to the response ([`crate::Response::extensions`]).
    pub fn extensions(&self) -> &http::Extensions {
        &self.extensions
    }

    /// The response's extensions, to attach values to it.
    pub fn extensions_mut(&mut self) -> &mut http::Extensions {
        &mut self.extensions
    }

    /// The URL that answered (after redirects).
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The body's length, when the head gave it.
    pub fn content_length(&self) -> Option<u64> {
        self.content_length
    }

    /// The server's address.
    pub fn remote_addr(&self) -> Option<std::net::SocketAddr> {
        self.remote_addr
    }

    /// The response, or an `ErrorKind::Status` error for a 4xx or 5xx (its body is then
    /// drained in the background).
    pub fn error_for_status(self) -> Result<Response, Error> {
        self.error_for_status_ref()?;
        Ok(self)
    }

    /// A reference to the response, or an `ErrorKind::Status` error for a 4xx or 5xx.
    pub fn error_for_status_ref(&self) -> Result<&Response, Error> {
        if self.status.is_client_error() || self.status.is_server_error() {
            return Err(Error::status_code(self.status, &self.url));
        }
        Ok(self)
    }

    /// The async response, for reading its body.
    fn take_body(&mut self) -> Result<crate::Response, Error> {
        self.body.take().ok_or_else(|| {
            Error::msg(
                ErrorKind::Runtime,
                "the body was lost: the blocking client's runtime stopped while reading it",
            )
        })
    }

    /// Takes the async response for `f` and waits for what it gives.
    fn whole<T: Send + 'static, F>(
        mut self,
        f: impl FnOnce(crate::Response) -> F,
    ) -> Result<T, Error>
    where
        F: std::future::Future<Output = Result<T, Error>> + Send + 'static,
    {
        if !self.piece.is_empty() {
            return Err(Error::msg(
                ErrorKind::InvalidRequest,
                "part of the body was already read through Read; read the rest the same way",
            ));
        }
        let mut body = self.take_body()?;
        if self.headers_changed {
            *body.headers_mut() = std::mem::take(&mut self.headers);
        }
        run_on(&self.background, f(body))?
    }

    /// The whole body ([`crate::Response::bytes`]).
    pub fn bytes(self) -> Result<Bytes, Error> {
        self.whole(|r| r.bytes())
    }

    /// The whole body as text ([`crate::Response::text`]).
    pub fn text(self) -> Result<String, Error> {
        self.whole(|r| r.text())
    }

    /// The whole body as text, `default_encoding` for a head that names no charset
    /// ([`crate::Response::text_with_charset`]). Feature `charset`.
    #[cfg(feature = "charset")]
    pub fn text_with_charset(self, default_encoding: &str) -> Result<String, Error> {
        let default = default_encoding.to_owned();
        self.whole(move |r| async move { r.text_with_charset(&default).await })
    }

    /// The whole body as JSON ([`crate::Response::json`]). Feature `json`.
    #[cfg(feature = "json")]
    pub fn json<T: serde::de::DeserializeOwned + Send + 'static>(self) -> Result<T, Error> {
        self.whole(|r| r.json::<T>())
    }

    /// The connection, for the protocol a `101 Switching Protocols` switched to
    /// ([`crate::Response::upgrade`]), as a blocking [`Upgraded`]: `Read` and `Write`.
    ///
    /// ```no_run
    /// use std::io::{Read, Write};
    /// let client = tether::blocking::Client::new();
    /// let response = client
    ///     .get("http://127.0.0.1:8080/chat")
    ///     .header("connection", "upgrade")
    ///     .header("upgrade", "my-protocol")
    ///     .send()?;
    /// let mut socket = response.upgrade()?;
    /// socket.write_all(b"hello")?;
    /// let mut answer = [0; 5];
    /// socket.read_exact(&mut answer)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn upgrade(mut self) -> Result<Upgraded, Error> {
        let response = self.take_body()?;
        let upgraded = run_on(&self.background, response.upgrade())??;
        Ok(Upgraded {
            io: Some(upgraded),
            background: self.background.clone(),
        })
    }

    /// Copies the rest of the body into `writer`; the number of bytes copied.
    pub fn copy_to<W: io::Write + ?Sized>(&mut self, writer: &mut W) -> Result<u64, Error> {
        let mut copied = 0u64;
        loop {
            if self.piece.is_empty() {
                match self.next_piece()? {
                    Some(piece) => self.piece = piece,
                    None => return Ok(copied),
                }
            }
            writer
                .write_all(&self.piece)
                .map_err(|e| Error::new(ErrorKind::Io, e).context("writing the body out"))?;
            copied += self.piece.len() as u64;
            self.piece.clear();
        }
    }

    /// The next piece of the body, read on the runtime's thread.
    fn next_piece(&mut self) -> Result<Option<Bytes>, Error> {
        let mut body = self.take_body()?;
        let (body, piece) = run_on(&self.background, async move {
            let piece = body.chunk().await;
            (body, piece)
        })?;
        self.body = Some(body);
        piece
    }
}

impl Drop for Response {
    /// A body not read to its end is dropped on the runtime's thread, where the async
    /// response drains it in the background for its connection to be reused (dropped
    /// here, off any runtime, it would close the connection).
    fn drop(&mut self) {
        if let (Some(body), Ok(background)) = (self.body.take(), &self.background) {
            background.handle.spawn(async move { drop(body) });
        }
    }
}

/// A connection taken over by another protocol ([`Response::upgrade`]), read and written
/// as a `std::io` stream: each call runs on the client's runtime and waits.
pub struct Upgraded {
    /// The async connection: away on the runtime's thread during a call, `None` if it was
    /// lost there (the runtime stopped).
    io: Option<crate::Upgraded>,
    background: Result<Arc<Background>, Arc<str>>,
}

impl fmt::Debug for Upgraded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("blocking::Upgraded").finish_non_exhaustive()
    }
}

impl Upgraded {
    /// Runs `step` on the connection on the runtime's thread, and waits for it.
    fn run<T: Send + 'static, F>(
        &mut self,
        step: impl FnOnce(crate::Upgraded) -> F,
    ) -> io::Result<T>
    where
        F: std::future::Future<Output = (crate::Upgraded, io::Result<T>)> + Send + 'static,
    {
        let io = self.io.take().ok_or_else(|| {
            io::Error::other("the connection was lost: the blocking client's runtime stopped")
        })?;
        let (io, result) = run_on(&self.background, step(io)).map_err(io::Error::other)?;
        self.io = Some(io);
        result
    }
}

impl io::Read for Upgraded {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        use tokio::io::AsyncReadExt;
        let want = buf.len();
        let read = self.run(move |mut io| async move {
            let mut piece = vec![0; want];
            let n = io.read(&mut piece).await.map(|n| {
                piece.truncate(n);
                piece
            });
            (io, n)
        })?;
        buf[..read.len()].copy_from_slice(&read);
        Ok(read.len())
    }
}

impl io::Write for Upgraded {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        use tokio::io::AsyncWriteExt;
        let data = buf.to_vec();
        self.run(move |mut io| async move {
            let n = io.write(&data).await;
            (io, n)
        })
    }

    fn flush(&mut self) -> io::Result<()> {
        use tokio::io::AsyncWriteExt;
        self.run(|mut io| async move {
            let done = io.flush().await;
            (io, done)
        })
    }
}

impl Drop for Upgraded {
    /// Closed on the runtime's thread, where its socket is registered.
    fn drop(&mut self) {
        if let (Some(io), Ok(background)) = (self.io.take(), &self.background) {
            background.handle.spawn(async move { drop(io) });
        }
    }
}

impl io::Read for Response {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.piece.is_empty() {
            match self.next_piece() {
                Ok(Some(piece)) => self.piece = piece,
                Ok(None) => return Ok(0),
                Err(e) => return Err(io::Error::other(e)),
            }
        }
        let n = buf.len().min(self.piece.len());
        buf[..n].copy_from_slice(&self.piece[..n]);
        self.piece.advance(n);
        Ok(n)
    }
}
