//! The response and its body. The body owns the connection until the body's end has been
//! read; at that moment (often before the caller reads anything, when the whole body is
//! already buffered) the connection's reuse is decided and carried out. Dropped early, the
//! rest of the body is drained in the background, bounded by `drain_limit` and
//! `drain_timeout`, and the connection is reused only if the drain reached the end within
//! both.
//!
//! ```text
//!   Reading ──(end of body read)──► Done: reuse decided (idle or closed)
//!      │ error / EOF too soon ───► Done: connection closed
//!      └─(dropped)──► drain task ─► reuse decided, or closed past a bound
//! ```
//!
//! Reading the socket is the connection's job (`conn::exchange`); this file decides when
//! the exchange ends and what the caller sees.

use std::collections::VecDeque;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use futures_core::Stream;
use http::{HeaderMap, StatusCode, Version};
use url::Url;

use super::decode::{Coding, Decoding};
use super::target::Target;
use crate::clock::{self, now};
use crate::conn::h2::StreamBody;
use crate::conn::{Answer, BodyEvent, DrainStop, Ended};
use crate::error::Error;
use crate::kept::Kept;
use crate::pool::{Count, Pooled, Stream as H2Stream};
use crate::proto::{BodyFraming, CloseReason, Headers, KeepAlive, ResponseReader};

/// How much `Response::bytes` grows its buffer at least, when it must.
const BYTES_GROWTH_MIN: usize = 64 * 1024;

/// `Content-Type`, as a static for a lookup that borrows its name.
#[cfg(feature = "charset")]
static CONTENT_TYPE_NAME: http::HeaderName = http::header::CONTENT_TYPE;

/// An HTTP response: status, version and headers, and a body read with `chunk`, `bytes`,
/// `text`, `json` or `bytes_stream`.
///
/// ```no_run
/// # async fn run() -> Result<(), tether::Error> {
/// let resp = tether::Client::new().get("http://127.0.0.1:8080/").send().await?;
/// println!("{} from {:?}", resp.status(), resp.remote_addr());
/// let body = resp.error_for_status()?.text().await?;
/// # Ok(()) }
/// ```
pub struct Response {
    status: StatusCode,
    version: Version,
    /// Built when first asked for.
    headers: Headers,
    /// The URL answered (its `url::Url` made when first asked for).
    url: Target,
    /// Boxed: a `Response` is moved from layer to layer on its way to the caller, and the
    /// reading state is the larger part of it. The box also holds what the caller reads
    /// of the response only now and then (its length, the server's address).
    body: Box<BodyReader>,
}

/// What the body needs besides the head: where it came from and the client's settings.
pub(crate) struct BodyContext {
    /// The requested URL, without userinfo.
    pub url: Target,
    /// The client's `max_body_bytes`, for `bytes` and what reads through it.
    pub max_body_bytes: Option<u64>,
    /// The content coding to decode (one tether asked for), if any.
    pub coding: Option<Coding>,
    /// Put the origin's [`TlsInfo`](crate::tls::TlsInfo) in the response's extensions.
    pub tls_info: bool,
}

/// The body's reading state.
struct BodyReader {
    /// The connection, until the body's end or an error.
    conn: Option<Pooled>,
    /// Or the HTTP/2 stream, until the body's end or an error (boxed: the HTTP/1.1 body
    /// pays one word for it).
    h2: Option<Box<H2Body>>,
    reader: ResponseReader,
    keep_alive: KeepAlive,
    request_complete: bool,
    /// Chunks decoded from the buffer but not yet returned.
    pending: Pending,
    max_body_bytes: Option<u64>,
    done: bool,
    /// An error found while decoding ahead, returned by the next read.
    error: Option<Error>,
    /// Whether the connection served earlier requests (for errors).
    reused: bool,
    /// A piece was returned to the caller.
    started: bool,
    /// The content coding being decoded, with the wire bytes it has not used yet.
    decoding: Option<Box<Decoding>>,
    /// The body's length as the head gives it (of the decoded body: none while decoding).
    content_length: Option<u64>,
    /// The server's address, as connected.
    remote_addr: Option<SocketAddr>,
    /// `Response::extensions` (empty, allocating nothing, unless something is put in).
    extensions: http::Extensions,
}

/// A body arriving on an HTTP/2 stream, and the stream's place on its connection (given
/// back when this is dropped; the body first, so that h2 has closed or reset the stream
/// by then).
struct H2Body {
    body: StreamBody,
    stream: H2Stream,
}

impl Response {
    /// A response that came on an HTTP/2 stream. `bodiless`: to HEAD, or a `204`/`304`.
    pub(crate) fn from_h2(
        head: http::response::Parts,
        bodiless: bool,
        body: StreamBody,
        stream: H2Stream,
        request_complete: bool,
        context: BodyContext,
    ) -> Response {
        let reused = stream.reused();
        let remote_addr = stream.conn().peer_addr();
        let tls_info = context
            .tls_info
            .then(|| stream.conn().tls_info().cloned())
            .flatten();
        let mut headers = Headers::built(head.headers);
        let mut content_length = if bodiless {
            Some(0)
        } else {
            crate::proto::content_length(headers.get()).ok().flatten()
        };
        let (decoding, decode_error) =
            decoding_for(context.coding, &mut headers, &mut content_length);
        let done = body.is_end();
        let mut reader = BodyReader::boxed();
        reader.h2 = Some(Box::new(H2Body { body, stream }));
        reader.request_complete = request_complete;
        reader.max_body_bytes = context.max_body_bytes;
        reader.reused = reused;
        reader.decoding = decoding;
        reader.content_length = content_length;
        reader.remote_addr = remote_addr;
        reader.extensions = head.extensions;
        if let Some(info) = tls_info {
            reader.extensions.insert(info);
        }
        if let Some(e) = decode_error {
            reader.fail();
            reader.error = Some(reader.attempted(e));
        } else if done && reader.decoding.is_none() {
            // Ended with its head: the stream goes back at once.
            reader.finish_h2();
        }
        Response {
            status: head.status,
            version: Version::HTTP_2,
            headers,
            url: context.url,
            body: reader,
        }
    }

    /// The response to an HTTP/1.x request. A `101 Switching Protocols` (which the reader
    /// takes only when the request asked for it) holds its connection, with whatever
    /// followed the head, for [`upgrade`](Self::upgrade); dropped without, the connection
    /// is closed.
    #[inline]
    pub(crate) fn new(
        answer: Answer,
        keep_alive: KeepAlive,
        reader: ResponseReader,
        pooled: Pooled,
        context: BodyContext,
    ) -> Response {
        if let Some(reason) = keep_alive.close {
            tracing::debug!(host = %pooled.key(), conn = pooled.conn_id(), reason = ?reason, "connection will close after this response");
        }
        let reused = pooled.reused();
        let remote_addr = pooled.peer_addr();
        let status = answer.head.status;
        let version = answer.head.version;
        let mut headers = answer.head.into_headers();
        let mut content_length = match answer.framing.body {
            BodyFraming::Length(n) => Some(n),
            BodyFraming::Empty => Some(0),
            BodyFraming::Chunked | BodyFraming::CloseDelimited => None,
        };
        let (decoding, decode_error) =
            decoding_for(context.coding, &mut headers, &mut content_length);
        // Each field written in the box (a spare one, usually), rather than the state
        // built on the stack and copied in: moving the reader and the connection through
        // one more layer costs the plain path measurably.
        let mut body = BodyReader::boxed();
        body.conn = Some(pooled);
        body.reader = reader;
        body.keep_alive = keep_alive;
        body.request_complete = answer.request_complete;
        body.max_body_bytes = context.max_body_bytes;
        body.reused = reused;
        body.decoding = decoding;
        body.content_length = content_length;
        body.remote_addr = remote_addr;
        if context.tls_info {
            if let Some(info) = body.conn.as_ref().and_then(Pooled::tls_info) {
                body.extensions.insert(info);
            }
        }
        if let Some(e) = decode_error {
            body.fail();
            body.error = Some(body.attempted(e));
        }
        if status == StatusCode::SWITCHING_PROTOCOLS {
            body.keep_alive.close = Some(CloseReason::SwitchedProtocols);
        } else {
            // Whatever of the body is already buffered is decoded now, so a response whose
            // body arrived with its head gives its connection back at once.
            body.decode_ahead();
        }
        Response {
            status,
            version,
            headers,
            url: context.url,
            body,
        }
    }

    /// The status code.
    ///
    /// ```no_run
    /// # async fn run() -> tether::Result<()> {
    /// let response = tether::Client::new().get("http://127.0.0.1:8080/").send().await?;
    /// if response.status() == http::StatusCode::NOT_MODIFIED {
    ///     println!("cached copy is fresh");
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The HTTP version of the response.
    ///
    /// ```no_run
    /// # async fn run() -> tether::Result<()> {
    /// let response = tether::Client::new().get("http://127.0.0.1:8080/").send().await?;
    /// println!("{:?}", response.version()); // HTTP/1.1 or HTTP/1.0
    /// # Ok(())
    /// # }
    /// ```
    pub fn version(&self) -> Version {
        self.version
    }

    /// The response headers.
    ///
    /// ```no_run
    /// # async fn run() -> tether::Result<()> {
    /// let response = tether::Client::new().get("http://127.0.0.1:8080/").send().await?;
    /// let kind = response.headers().get(http::header::CONTENT_TYPE);
    /// # Ok(())
    /// # }
    /// ```
    pub fn headers(&self) -> &HeaderMap {
        self.headers.get()
    }

    /// The response headers, to change (reqwest's name): what `headers()` and this
    /// response's own readers (`text()`'s charset) see from then on.
    ///
    /// ```no_run
    /// # async fn run() -> tether::Result<()> {
    /// let mut response = tether::Client::new().get("http://127.0.0.1:8080/").send().await?;
    /// response.headers_mut().remove(http::header::SET_COOKIE);
    /// # Ok(())
    /// # }
    /// ```
    pub fn headers_mut(&mut self) -> &mut HeaderMap {
        self.headers.get_mut()
    }

    /// The cookies this response sets, one per `Set-Cookie` field that parses (as
    /// reqwest's `Response::cookies`); with or without a cookie store. Feature `cookies`.
    ///
    /// ```no_run
    /// # async fn run() -> tether::Result<()> {
    /// let resp = tether::Client::new().post("http://127.0.0.1:8080/login").send().await?;
    /// let session = resp.cookies().find(|c| c.name() == "session").map(|c| c.value().to_owned());
    /// # Ok(())
    /// # }
    /// ```
    #[cfg(feature = "cookies")]
    pub fn cookies(&self) -> impl Iterator<Item = super::cookies::Cookie<'_>> {
        self.headers()
            .get_all(http::header::SET_COOKIE)
            .iter()
            .filter_map(super::cookies::Cookie::parse)
    }

    /// The URL that was requested, without userinfo (credentials in the URL were sent as
    /// `Authorization` and are not kept).
    ///
    /// ```no_run
    /// # async fn run() -> tether::Result<()> {
    /// let response = tether::Client::new().get("http://127.0.0.1:8080/old").send().await?;
    /// // After redirects, the URL that answered.
    /// println!("{}", response.url());
    /// # Ok(())
    /// # }
    /// ```
    pub fn url(&self) -> &Url {
        self.url.url()
    }

    /// Whether all of the request this answers had been written.
    pub(crate) fn request_complete(&self) -> bool {
        self.body.request_complete
    }

    /// The URL answered, as the request had it.
    pub(crate) fn target(&self) -> &Target {
        &self.url
    }

    /// The length of the body as the server framed it (`Content-Length`, or 0 for a
    /// response that has none, such as one to HEAD); `None` for chunked or close-delimited
    /// bodies.
    ///
    /// ```no_run
    /// # async fn run() -> tether::Result<()> {
    /// let response = tether::Client::new().get("http://127.0.0.1:8080/file").send().await?;
    /// if let Some(n) = response.content_length() {
    ///     println!("{n} bytes to come");
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn content_length(&self) -> Option<u64> {
        self.body.content_length
    }

    /// The address of the server the response came from.
    ///
    /// ```no_run
    /// # async fn run() -> tether::Result<()> {
    /// let response = tether::Client::new().get("http://127.0.0.1:8080/").send().await?;
    /// assert_eq!(response.remote_addr().map(|a| a.port()), Some(8080));
    /// # Ok(())
    /// # }
    /// ```
    pub fn remote_addr(&self) -> Option<SocketAddr> {
        self.body.remote_addr
    }

    /// Values attached to the response: the origin's
    /// [`TlsInfo`](crate::tls::TlsInfo) with `tls_info(true)`, and whatever the caller
    /// puts in with [`extensions_mut`](Self::extensions_mut). They go with the response
    /// into an `http::Response`.
    ///
    /// ```no_run
    /// # async fn run() -> tether::Result<()> {
    /// let resp = tether::Client::new().get("http://127.0.0.1:8080/").send().await?;
    /// assert!(resp.extensions().get::<tether::tls::TlsInfo>().is_none());
    /// # Ok(())
    /// # }
    /// ```
    pub fn extensions(&self) -> &http::Extensions {
        &self.body.extensions
    }

    /// The response's extensions, to attach values to it (a request id, a timing) that
    /// travel with it.
    ///
    /// ```no_run
    /// # async fn run() -> tether::Result<()> {
    /// #[derive(Clone)]
    /// struct Attempt(u32);
    /// let mut resp = tether::Client::new().get("http://127.0.0.1:8080/").send().await?;
    /// resp.extensions_mut().insert(Attempt(1));
    /// assert_eq!(resp.extensions().get::<Attempt>().map(|a| a.0), Some(1));
    /// # Ok(())
    /// # }
    /// ```
    pub fn extensions_mut(&mut self) -> &mut http::Extensions {
        &mut self.body.extensions
    }

    /// The response itself, or an error of kind `Status` for a `4xx` or `5xx` status
    /// (its body is then drained in the background, as for any dropped response).
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), tether::Error> {
    /// let client = tether::Client::new();
    /// match client.get("http://127.0.0.1:8080/missing").send().await?.error_for_status() {
    ///     Ok(resp) => println!("{}", resp.text().await?),
    ///     Err(e) => assert_eq!(e.status(), Some(http::StatusCode::NOT_FOUND)),
    /// }
    /// # Ok(()) }
    /// ```
    pub fn error_for_status(self) -> Result<Response, Error> {
        match self.error_for_status_ref() {
            Ok(_) => Ok(self),
            Err(e) => Err(e),
        }
    }

    /// Like [`Response::error_for_status`], keeping the response.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), tether::Error> {
    /// let resp = tether::Client::new().get("http://127.0.0.1:8080/").send().await?;
    /// if let Err(e) = resp.error_for_status_ref() {
    ///     eprintln!("{e}: {}", resp.text().await?);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn error_for_status_ref(&self) -> Result<&Response, Error> {
        if self.status.is_client_error() || self.status.is_server_error() {
            let e = Error::status_code(self.status, self.url.url());
            return Err(self.body.attempted(e));
        }
        Ok(self)
    }

    /// The connection, speaking the protocol the request asked to switch to, after a
    /// `101 Switching Protocols` (reqwest's name): a request with an `Upgrade` header (and
    /// `Connection: upgrade`, which tether adds if the request has no `Connection` of its
    /// own) over HTTP/1.1. The connection leaves the pool: its slot is free at once.
    /// Any other response is an `ErrorKind::Protocol` error.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), tether::Error> {
    /// let response = tether::Client::new()
    ///     .get("http://127.0.0.1:8080/chat")
    ///     .header("upgrade", "my-protocol")
    ///     .send()
    ///     .await?;
    /// let upgraded: tether::Upgraded = response.upgrade().await?;
    /// # Ok(()) }
    /// ```
    pub async fn upgrade(mut self) -> Result<crate::Upgraded, Error> {
        if self.status != StatusCode::SWITCHING_PROTOCOLS {
            let e = Error::msg(
                crate::ErrorKind::Protocol,
                format!(
                    "the server answered {}, not 101 Switching Protocols: nothing to upgrade",
                    self.status
                ),
            );
            return Err(self.body.attempted(e).for_url(self.url()));
        }
        match self.body.conn.take() {
            Some(pooled) => Ok(pooled.into_upgraded()),
            None => {
                let e = Error::msg(
                    crate::ErrorKind::Protocol,
                    "the connection of this 101 Switching Protocols is gone",
                );
                Err(self.body.attempted(e).for_url(self.url()))
            }
        }
    }

    /// The body as a stream of `Bytes` pieces (a `futures_core::Stream`); the connection
    /// goes back to the pool when the stream ends.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), tether::Error> {
    /// let resp = tether::Client::new().get("http://127.0.0.1:8080/big").send().await?;
    /// let mut stream = std::pin::pin!(resp.bytes_stream());
    /// while let Some(piece) = std::future::poll_fn(|cx| {
    ///     futures_core::Stream::poll_next(stream.as_mut(), cx)
    /// }).await {
    ///     println!("{} bytes", piece?.len());
    /// }
    /// # Ok(()) }
    /// ```
    pub fn bytes_stream(self) -> ResponseBody {
        ResponseBody::new(self.body)
    }

    /// The body parsed as JSON into `T`; an error of kind `Decode` if it does not fit.
    /// Feature `json` (on by default).
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), tether::Error> {
    /// let resp = tether::Client::new().get("http://127.0.0.1:8080/item/1").send().await?;
    /// let item: std::collections::HashMap<String, String> = resp.json().await?;
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "json")]
    pub async fn json<T: serde::de::DeserializeOwned>(self) -> Result<T, Error> {
        let url = self.url.clone();
        let attempt = (self.body.request_complete, self.body.reused);
        let bytes = self.bytes().await?;
        serde_json::from_slice(&bytes).map_err(|e| {
            Error::new(crate::ErrorKind::Decode, e)
                .context("the body is not the JSON asked for")
                .with_attempt(1, attempt.0, attempt.1)
                .for_url(url.url())
        })
    }

    /// The next piece of the body, or `None` at its end. The connection goes back to the
    /// pool as soon as the end has been read.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), tether::Error> {
    /// let mut resp = tether::Client::new().get("http://127.0.0.1:8080/").send().await?;
    /// while let Some(piece) = resp.chunk().await? {
    ///     println!("{} bytes", piece.len());
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, Error> {
        self.body.chunk().await
    }

    /// The whole body (decoded, when it came with a coding tether asked for). Past the
    /// client's `max_body_bytes`, an error of kind `Body`.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), tether::Error> {
    /// let resp = tether::Client::new().get("http://127.0.0.1:8080/").send().await?;
    /// let body: bytes::Bytes = resp.bytes().await?;
    /// # Ok(()) }
    /// ```
    ///
    /// An `async` block whose one await is on a box: a body that came whole with its head
    /// is returned at the first poll, and the future a caller moves (twice in the usual
    /// `.await`) is about the size of a `Response`, not of the state of reading a body.
    #[allow(clippy::manual_async_fn)]
    pub fn bytes(mut self) -> impl Future<Output = Result<Bytes, Error>> + Send {
        async move {
            let limit = self.body.max_body_bytes;
            if let Some(whole) = self.body.whole_buffered(limit) {
                let whole = whole.map_err(|e| e.for_url(self.url.url()));
                self.body.spare();
                return whole;
            }
            Box::pin(self.read_whole(limit)).await
        }
    }

    /// `bytes` for a body not buffered whole with its head.
    async fn read_whole(mut self, limit: Option<u64>) -> Result<Bytes, Error> {
        let mut total = 0u64;
        let mut counted = |piece: &Bytes, body: &mut BodyReader| {
            total = total.saturating_add(piece.len() as u64);
            match limit {
                Some(max) if total > max => {
                    body.fail();
                    Err(body.attempted(too_large(max)).for_url(self.url.url()))
                }
                _ => Ok(()),
            }
        };
        if let Some(whole) = self.body.whole(limit).await {
            return whole.map_err(|e| e.for_url(self.url.url()));
        }
        let Some(first) = self.body.chunk().await? else {
            return Ok(Bytes::new());
        };
        counted(&first, &mut self.body)?;
        let Some(second) = self.body.chunk().await? else {
            return Ok(first);
        };
        counted(&second, &mut self.body)?;
        // A chunked or decoded body, in pieces: gathered into a buffer that grows as they
        // come (each growth at least doubles it, so a large body is copied a few times at
        // most).
        let mut all = BytesMut::new();
        for piece in [first, second] {
            grow(&mut all, piece.len());
            all.extend_from_slice(&piece);
        }
        while let Some(more) = self.body.chunk().await? {
            counted(&more, &mut self.body)?;
            grow(&mut all, more.len());
            all.extend_from_slice(&more);
        }
        Ok(all.freeze())
    }

    /// Reads the rest of the body and discards it, at most `limit` bytes and until `by`
    /// (`None`: the exchange's own deadlines only); past either, or on an error, the
    /// connection is closed. Either way its slot is free on return.
    pub(crate) async fn discard(mut self, limit: u64, by: Option<std::time::Instant>) {
        let ended = {
            let mut read = 0u64;
            let body = &mut self.body;
            let rest = std::pin::pin!(async move {
                loop {
                    match body.wire_chunk().await {
                        Ok(Some(piece)) => {
                            read += piece.len() as u64;
                            if read > limit {
                                return false;
                            }
                        }
                        // An error has closed the connection already.
                        Ok(None) | Err(_) => return true,
                    }
                }
            });
            clock::within(by, rest).await
        };
        if ended != Some(true) {
            self.body.fail();
        }
    }

    /// The whole body as text. With feature `charset` (on by default), decoded from the
    /// encoding its `Content-Type` names in `charset` (`windows-1252`, `Shift_JIS`,
    /// `UTF-16LE`, ...: the WHATWG Encoding Standard's labels, as browsers read them),
    /// else from UTF-8; a byte order mark wins over the label and is dropped. Without
    /// the feature, from UTF-8. Malformed sequences are replaced with U+FFFD.
    ///
    /// ```no_run
    /// # async fn run() -> tether::Result<()> {
    /// let text = tether::Client::new().get("http://127.0.0.1:8080/").send().await?.text().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn text(self) -> impl Future<Output = Result<String, Error>> + Send {
        self.text_from(None)
    }

    /// The whole body as text, as [`text`](Response::text) reads it, but decoded from
    /// `default_encoding` (a WHATWG label such as `"windows-1252"`) when the
    /// `Content-Type` names no charset, or one the standard does not know. Feature
    /// `charset`.
    ///
    /// ```no_run
    /// # async fn run() -> tether::Result<()> {
    /// let client = tether::Client::new();
    /// let page = client.get("http://127.0.0.1:8080/").send().await?;
    /// let text = page.text_with_charset("windows-1252").await?;
    /// # Ok(())
    /// # }
    /// ```
    #[cfg(feature = "charset")]
    pub fn text_with_charset(
        self,
        default_encoding: &str,
    ) -> impl Future<Output = Result<String, Error>> + Send {
        self.text_from(Some(default_encoding))
    }

    /// The body as text, `default` the encoding's label when the head names none. The
    /// encoding is settled before the future is made, which holds only it and `bytes()`'s
    /// (a caller moves the future before polling it, and pays for its size).
    fn text_from(
        self,
        default: Option<&str>,
    ) -> impl Future<Output = Result<String, Error>> + Send {
        #[cfg(feature = "charset")]
        let encoding = super::charset::encoding(self.headers.first(&CONTENT_TYPE_NAME), default);
        #[cfg(not(feature = "charset"))]
        let _ = default;
        let bytes = self.bytes();
        async move {
            let bytes = bytes.await?;
            #[cfg(feature = "charset")]
            if let Some(text) = super::charset::decode(encoding, &bytes) {
                return Ok(text);
            }
            // Checked whole first: the standard check reads ASCII a word at a time, where
            // the replacing reader goes byte by byte (7 instructions a byte: as much again
            // as the rest of a 1 KiB GET). A body that owns its buffer alone becomes the
            // string without a copy. Only a body that is not UTF-8 is read piece by piece.
            Ok(match String::from_utf8(Vec::from(bytes)) {
                Ok(text) => text,
                Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
            })
        }
    }
}

/// The decoding of `coding` (one tether asked for), if any: the decoded body is another
/// representation, so its coding and length go from `headers` and `content_length`. The
/// error of setting it up is for the body's first read.
fn decoding_for(
    coding: Option<Coding>,
    headers: &mut Headers,
    content_length: &mut Option<u64>,
) -> (Option<Box<Decoding>>, Option<Error>) {
    let Some(coding) = coding else {
        return (None, None);
    };
    headers.remove_representation();
    *content_length = None;
    match Decoding::new(coding) {
        Ok(d) => (Some(Box::new(d)), None),
        Err(e) => (None, Some(Error::new(crate::ErrorKind::Decode, e))),
    }
}

/// The error of a body past `max_body_bytes`.
fn too_large(max: u64) -> Error {
    Error::msg(
        crate::ErrorKind::Body,
        format!("the body is larger than max_body_bytes ({max})"),
    )
}

/// Makes room in `all` for `incoming` more bytes: at least double what is there (at least
/// `BYTES_GROWTH_MIN`).
fn grow(all: &mut BytesMut, incoming: usize) {
    if all.capacity() - all.len() < incoming {
        all.reserve(incoming.max(all.len()).max(BYTES_GROWTH_MIN));
    }
}

impl From<Response> for http::Response<ResponseBody> {
    /// The response as an `http::Response` whose body is an `http_body::Body`.
    fn from(mut resp: Response) -> http::Response<ResponseBody> {
        let extensions = std::mem::take(&mut resp.body.extensions);
        let mut out = http::Response::new(ResponseBody::new(resp.body));
        *out.status_mut() = resp.status;
        *out.version_mut() = resp.version;
        *out.headers_mut() = resp.headers.into_map();
        *out.extensions_mut() = extensions;
        out.extensions_mut().insert(resp.url.into_url());
        out
    }
}

type PieceFuture =
    Pin<Box<dyn Future<Output = (Box<BodyReader>, Result<Option<Bytes>, Error>)> + Send>>;

/// A response body as a `futures_core::Stream` of `Bytes` and an `http_body::Body`. Made by
/// [`Response::bytes_stream`] and by converting a `Response` into an `http::Response`.
/// Dropped before its end, the rest is drained in the background as for a `Response`.
///
/// ```no_run
/// # async fn run() -> tether::Result<()> {
/// let response = tether::Client::new().get("http://127.0.0.1:8080/big").send().await?;
/// // An http::Response whose body is an http_body::Body, for hyper or tower code.
/// let response: http::Response<tether::ResponseBody> = response.into();
/// let length = http_body::Body::size_hint(response.body()).exact();
/// # Ok(())
/// # }
/// ```
pub struct ResponseBody {
    state: BodyState,
    content_length: Option<u64>,
}

enum BodyState {
    Ready(Box<BodyReader>),
    Reading(PieceFuture),
    Done,
}

impl ResponseBody {
    fn new(body: Box<BodyReader>) -> ResponseBody {
        let content_length = body.content_length;
        ResponseBody {
            state: BodyState::Ready(body),
            content_length,
        }
    }

    fn poll_piece(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, Error>>> {
        loop {
            match std::mem::replace(&mut self.state, BodyState::Done) {
                BodyState::Done => return Poll::Ready(None),
                BodyState::Ready(mut body) => {
                    // Pieces already read need no future (unless they are still coded).
                    if let Some(piece) = body
                        .decoding
                        .is_none()
                        .then(|| body.pending.pop())
                        .flatten()
                    {
                        self.state = BodyState::Ready(body);
                        return Poll::Ready(Some(Ok(piece)));
                    }
                    // Ended, with nothing left to yield: a coded body may still hold
                    // pieces read with its head, and its decoder output, which `chunk`
                    // gives.
                    if body.done && body.error.is_none() && body.decoding.is_none() {
                        return Poll::Ready(None);
                    }
                    self.state = BodyState::Reading(Box::pin(async move {
                        let piece = body.chunk().await;
                        (body, piece)
                    }));
                }
                BodyState::Reading(mut reading) => match reading.as_mut().poll(cx) {
                    Poll::Pending => {
                        self.state = BodyState::Reading(reading);
                        return Poll::Pending;
                    }
                    Poll::Ready((body, piece)) => {
                        return Poll::Ready(match piece {
                            Ok(Some(piece)) => {
                                self.state = BodyState::Ready(body);
                                Some(Ok(piece))
                            }
                            Ok(None) => None,
                            Err(e) => Some(Err(e)),
                        });
                    }
                },
            }
        }
    }
}

impl Stream for ResponseBody {
    type Item = Result<Bytes, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_piece(cx)
    }
}

impl http_body::Body for ResponseBody {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Error>>> {
        self.get_mut()
            .poll_piece(cx)
            .map(|piece| piece.map(|r| r.map(http_body::Frame::data)))
    }

    fn is_end_stream(&self) -> bool {
        matches!(self.state, BodyState::Done)
    }

    fn size_hint(&self) -> http_body::SizeHint {
        match self.content_length {
            Some(n) if matches!(self.state, BodyState::Ready(ref b) if !b.started) => {
                http_body::SizeHint::with_exact(n)
            }
            _ => http_body::SizeHint::default(),
        }
    }
}

impl std::fmt::Debug for ResponseBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseBody")
            .field("content_length", &self.content_length)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Response")
            .field("url", &self.url.as_str())
            .field("status", &self.status)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

/// Spare body states per thread: a response read whole with `bytes` gives its box back
/// for the thread's next response, which writes its fields into it. A response's one
/// allocation (and the copy of the state into it) is saved; at dozens of requests in
/// flight the allocator's own per-thread caches overflow to its slower lists, this does
/// not.
const KEEP_BODIES: usize = 64;

thread_local! {
    static SPARE_BODIES: Kept<Box<BodyReader>> = const { Kept::new(KEEP_BODIES) };
}

impl BodyReader {
    /// A box for a body's state: a spare one if the thread has one, else a new one. Its
    /// fields are those of a body not begun, on no connection, except `reader` and
    /// `keep_alive`, which a spare keeps from its last response: they are read only with
    /// a connection, and `Response::new` sets them. The caller sets the rest.
    fn boxed() -> Box<BodyReader> {
        Kept::take(&SPARE_BODIES).unwrap_or_else(|| {
            Box::new(BodyReader {
                conn: None,
                h2: None,
                reader: ResponseReader::new(
                    &http::Method::GET,
                    crate::proto::HeadLimits::default(),
                ),
                keep_alive: KeepAlive {
                    close: None,
                    timeout: None,
                    max: None,
                },
                request_complete: false,
                pending: Pending::default(),
                max_body_bytes: None,
                done: false,
                error: None,
                reused: false,
                started: false,
                decoding: None,
                content_length: None,
                remote_addr: None,
                extensions: http::Extensions::new(),
            })
        })
    }

    /// Gives this box back to the thread's spares once it holds nothing: no connection or
    /// stream, no piece, no error, no decoder. Anything else is dropped as it is. The
    /// fields a new body sets are set again by `Response::new` and `from_h2`; the rest are
    /// put back here.
    fn spare(mut self: Box<Self>) {
        if self.conn.is_some()
            || self.h2.is_some()
            || !self.pending.is_empty()
            || self.pending.rest.is_some()
            || self.error.is_some()
            || self.decoding.is_some()
        {
            return;
        }
        self.done = false;
        self.started = false;
        self.extensions.clear();
        Kept::give(&SPARE_BODIES, self);
    }

    /// The next piece of the body; errors say the request was written (a response began).
    async fn chunk(&mut self) -> Result<Option<Bytes>, Error> {
        self.started = true;
        if self.decoding.is_none() {
            return self.wire_chunk().await;
        }
        loop {
            let next = match self.decoding.as_mut() {
                Some(d) => d.next_piece().map(|piece| (piece, d.wire_ended())),
                None => return Ok(None),
            };
            match next {
                Ok((Some(piece), _)) => return Ok(Some(piece)),
                Ok((None, true)) => return Ok(None),
                Ok((None, false)) => {}
                Err(e) => {
                    self.fail();
                    return Err(self.attempted(
                        Error::new(crate::ErrorKind::Decode, e).context("decoding the body"),
                    ));
                }
            }
            let wire = self.wire_chunk().await?;
            if let Some(d) = self.decoding.as_mut() {
                match wire {
                    Some(w) => d.feed(w),
                    None => d.wire_end(),
                }
            }
        }
    }

    /// The next piece of the body as it came on the wire (still coded).
    async fn wire_chunk(&mut self) -> Result<Option<Bytes>, Error> {
        if let Some(chunk) = self.pending.pop() {
            return Ok(Some(chunk));
        }
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        if self.done {
            return Ok(None);
        }
        if let Some(h2) = self.h2.as_mut() {
            return match std::future::poll_fn(|cx| h2.body.poll_next(cx)).await {
                Ok(Some(piece)) => Ok(Some(piece)),
                Ok(None) => {
                    self.finish_h2();
                    Ok(None)
                }
                Err(e) => {
                    self.fail();
                    Err(self.attempted(e))
                }
            };
        }
        let Some(pooled) = self.conn.as_mut() else {
            return Ok(None);
        };
        let event = pooled.conn().read_body(&mut self.reader).await;
        self.take_event(event)
    }

    /// The HTTP/2 stream's body ended well: the connection showed it is alive, and the
    /// stream is given back.
    fn finish_h2(&mut self) {
        self.done = true;
        if let Some(h2) = self.h2.take() {
            h2.stream.conn().note_served(now());
        }
    }

    /// A piece read from the connection, its end, or an error, taken in: after a piece
    /// the end may be buffered right behind it (the connection is released now); at the
    /// end the reuse decision is made; an error closes the connection.
    fn take_event(&mut self, event: Result<BodyEvent, Error>) -> Result<Option<Bytes>, Error> {
        match event {
            Ok(BodyEvent::Data(chunk)) => {
                self.decode_ahead();
                Ok(Some(chunk))
            }
            Ok(BodyEvent::End { closed_by_peer }) => {
                self.finish(closed_by_peer);
                Ok(None)
            }
            Err(e) => {
                self.fail();
                Err(self.attempted(e))
            }
        }
    }

    /// The facts of the attempt, on an error after its head (of the body, or of what the
    /// caller asked of the response): the whole request had been written unless the
    /// server answered early.
    fn attempted(&self, e: Error) -> Error {
        e.with_attempt(1, self.request_complete, self.reused)
    }

    /// The whole body, when it was read with the head and is one piece that needs no
    /// decoding (the usual small response): no read, no future.
    fn whole_buffered(&mut self, limit: Option<u64>) -> Option<Result<Bytes, Error>> {
        if !self.done || self.decoding.is_some() || self.error.is_some() {
            return None;
        }
        if self.pending.rest.is_some() {
            return None;
        }
        self.started = true;
        let whole = self.pending.first.take().unwrap_or_default();
        if let Some(max) = limit.filter(|&max| whole.len() as u64 > max) {
            self.fail();
            return Some(Err(self.attempted(too_large(max))));
        }
        Some(Ok(whole))
    }

    /// The rest of an identity `Content-Length` body read whole, when nothing of it has
    /// been returned or decoded ahead: the connection reads it into its own buffer, which
    /// grows as data arrives, and splits it off as one piece, never copied. `None` for
    /// other bodies (chunked, close-delimited, decoded, or begun), which go by pieces.
    /// Past `limit` (on the length the server declared), an error before reading.
    async fn whole(&mut self, limit: Option<u64>) -> Option<Result<Bytes, Error>> {
        if self.decoding.is_some() || !self.pending.is_empty() || self.error.is_some() {
            return None;
        }
        let pooled = self.conn.as_mut()?;
        let remaining = self.reader.body_remaining()?;
        self.started = true;
        if let Some(max) = limit.filter(|&max| remaining > max) {
            self.fail();
            return Some(Err(self.attempted(too_large(max))));
        }
        let event = pooled.conn().read_whole_body(&mut self.reader).await;
        Some(self.take_event(event).map(Option::unwrap_or_default))
    }

    /// Decodes what the buffer holds into `pending`, without reading; at the body's end,
    /// releases the connection. An error is kept for the next read. A `Content-Length`
    /// body is left in the buffer until all of it is there, so that `bytes()` can take it
    /// whole (a reader by pieces gets what is buffered at its next read).
    fn decode_ahead(&mut self) {
        if let (Some(remaining), Some(pooled)) = (self.reader.body_remaining(), &mut self.conn) {
            if (pooled.conn().buffered() as u64) < remaining {
                return;
            }
        }
        while let Some(pooled) = self.conn.as_mut() {
            match pooled.conn().buffered_body(&mut self.reader) {
                Ok(Some(BodyEvent::Data(chunk))) => {
                    self.pending.push(chunk);
                    // Its last piece: the end, without decoding again.
                    if self.reader.end_after_piece() {
                        self.finish(false);
                    }
                }
                Ok(Some(BodyEvent::End { closed_by_peer })) => self.finish(closed_by_peer),
                Ok(None) => return,
                Err(e) => {
                    self.fail();
                    self.error = Some(self.attempted(e));
                }
            }
        }
    }

    /// The body's end was read: the reuse decision, carried out.
    fn finish(&mut self, closed_by_peer: bool) {
        self.done = true;
        if let Some(pooled) = self.conn.take() {
            end_exchange(
                pooled,
                self.keep_alive,
                self.request_complete,
                closed_by_peer,
            );
        }
    }

    /// An error: the connection is closed (an HTTP/2 stream is reset).
    fn fail(&mut self) {
        self.done = true;
        self.conn = None;
        self.h2 = None;
    }
}

/// The one place an exchange's end is turned into the reuse decision and carried out.
fn end_exchange(
    pooled: Pooled,
    keep_alive: KeepAlive,
    request_complete: bool,
    closed_by_peer: bool,
) {
    pooled.end_exchange(Ended {
        keep_alive,
        request_complete,
        closed_by_peer,
        leftover: false,
    });
}

impl Drop for BodyReader {
    fn drop(&mut self) {
        let Some(pooled) = self.conn.take() else {
            return;
        };
        if self.keep_alive.close.is_some() || !self.request_complete {
            // Not reusable anyway: close now rather than read what nobody wants.
            return;
        }
        // The drain runs on the connection's own runtime, which is the one here unless the
        // response moved; a runtime without timers could not bound it.
        let Ok(runtime) = crate::runtime::current() else {
            return;
        };
        if pooled.runtime() != Some(runtime.id()) {
            return;
        }
        let reader = std::mem::replace(
            &mut self.reader,
            ResponseReader::new(&http::Method::GET, crate::proto::HeadLimits::default()),
        );
        runtime.spawn(drain(pooled, reader, self.keep_alive));
    }
}

/// Decoded chunks not yet returned, in order. Most bodies decode to one chunk at a time,
/// which is held without allocating.
#[derive(Default)]
struct Pending {
    first: Option<Bytes>,
    /// Made for a second piece only (most bodies have none; an empty queue would still be
    /// dropped out of line).
    rest: Option<VecDeque<Bytes>>,
}

impl Pending {
    fn push(&mut self, chunk: Bytes) {
        if self.is_empty() {
            self.first = Some(chunk);
        } else {
            self.rest.get_or_insert_with(VecDeque::new).push_back(chunk);
        }
    }

    fn pop(&mut self) -> Option<Bytes> {
        self.first
            .take()
            .or_else(|| self.rest.as_mut().and_then(VecDeque::pop_front))
    }

    fn is_empty(&self) -> bool {
        self.first.is_none() && self.rest.as_ref().is_none_or(VecDeque::is_empty)
    }
}

/// Reads and discards the rest of a dropped response's body; the connection is reused only
/// if the end comes within `drain_limit` bytes and `drain_timeout`.
async fn drain(mut pooled: Pooled, mut reader: ResponseReader, keep_alive: KeepAlive) {
    let host = pooled.key().clone();
    let conn_id = pooled.conn_id();
    let mut drained = 0u64;
    let (drain_limit, drain_timeout) = pooled.drain_limits();
    let deadline = clock::after(now(), drain_timeout);
    let outcome = pooled
        .conn()
        .drain(&mut reader, drain_limit, deadline, &mut drained)
        .await;
    match outcome {
        Ok(closed_by_peer) => {
            pooled.count(Count::BodyDrained);
            tracing::debug!(host = %host, conn = conn_id, drained, "drained dropped body");
            end_exchange(pooled, keep_alive, true, closed_by_peer);
        }
        Err(DrainStop::OverLimit) => {
            pooled.count(Count::DrainOverLimit);
            tracing::debug!(host = %host, conn = conn_id, drained, "dropped body over the drain limit; connection closed");
        }
        Err(DrainStop::Broken) => {
            tracing::debug!(host = %host, conn = conn_id, drained, "dropped body broke while draining; connection closed");
        }
    }
}
