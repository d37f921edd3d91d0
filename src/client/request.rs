//! Building a request: URL (and `query` pairs), method, headers in the caller's order,
//! credentials (`basic_auth`, `bearer_auth`), a body (bytes, `form`, `json`, or a stream)
//! and a timeout, with reqwest's names. Errors in what the caller gives (a bad URL, header
//! name or value, a value serde cannot encode) are kept and returned by `send`, before any
//! byte is written.

use std::time::Duration;

use bytes::Bytes;
use futures_core::Stream;
use http::header::{AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use url::Url;

use super::body::Body as PublicBody;
use super::target::Target;
use super::{url_auth, Client};
use crate::conn::{Body, BoxError};
use crate::error::{Error, ErrorKind};
use crate::kept::Kept;
use crate::Response;

/// Calls `f` with the text of `args`, written into a string kept on the thread for this,
/// so that the header value made of it is the one allocation. `format!` would allocate a
/// string, grow it as the pieces come (a JWT of 1 KiB, seven times), and leave it longer
/// than its text, which a `HeaderValue` then copies or shrinks.
/// A `Display` of the caller's that fails (where `format!` would panic) is an error of
/// the request, naming `what`.
fn formatted<R>(
    what: &str,
    args: std::fmt::Arguments<'_>,
    f: impl FnOnce(&[u8]) -> R,
) -> Result<R, Error> {
    use std::fmt::Write;
    let mut text = Kept::take(&TEXT).unwrap_or_default();
    text.clear();
    let out = match text.write_fmt(args) {
        Ok(()) => Ok(f(text.as_bytes())),
        Err(e) => Err(invalid(what, e.into())),
    };
    if text.capacity() <= KEPT_TEXT_MAX {
        Kept::give(&TEXT, text);
    }
    out
}

/// The longest text `formatted` keeps its string for.
const KEPT_TEXT_MAX: usize = 16 * 1024;

thread_local! {
    static TEXT: Kept<String> = const { Kept::new(1) };
}

/// Something that can be turned into a URL: `&str`, `String`, `url::Url`.
///
/// ```
/// use tether::IntoUrl;
/// let url = "http://127.0.0.1:8080/a?b=c".into_url().unwrap();
/// assert_eq!(url.path(), "/a");
/// assert!("not a url".into_url().is_err());
/// ```
pub trait IntoUrl {
    /// Parses or passes the URL through.
    fn into_url(self) -> Result<Url, Error>;

    /// What a request is made from: a string in plain form is only checked (the `url`
    /// crate's parse is made when asked for), and a parsed URL whose text is in plain
    /// form is taken as that text; anything else as `into_url`.
    #[doc(hidden)]
    fn into_target(self) -> Result<Target, Error>
    where
        Self: Sized,
    {
        self.into_url().map(Target::from_url)
    }
}

impl IntoUrl for Url {
    fn into_url(self) -> Result<Url, Error> {
        Ok(self)
    }
}

impl IntoUrl for &Url {
    fn into_url(self) -> Result<Url, Error> {
        Ok(self.clone())
    }

    fn into_target(self) -> Result<Target, Error> {
        Ok(Target::from_url_ref(self))
    }
}

impl IntoUrl for &str {
    fn into_url(self) -> Result<Url, Error> {
        super::url_memo::parse(self).map_err(|e| invalid_url(self, e))
    }

    fn into_target(self) -> Result<Target, Error> {
        Target::from_str(self).map_err(|e| invalid_url(self, e))
    }
}

fn invalid_url(s: &str, e: url::ParseError) -> Error {
    Error::new(ErrorKind::InvalidRequest, e)
        .context(format!("invalid URL {:?}", url_auth::redact_str(s)))
}

impl IntoUrl for String {
    fn into_url(self) -> Result<Url, Error> {
        self.as_str().into_url()
    }

    fn into_target(self) -> Result<Target, Error> {
        self.as_str().into_target()
    }
}

impl IntoUrl for &String {
    fn into_url(self) -> Result<Url, Error> {
        self.as_str().into_url()
    }

    fn into_target(self) -> Result<Target, Error> {
        self.as_str().into_target()
    }
}

/// A request being built; `send` runs it.
///
/// ```no_run
/// # async fn run() -> Result<(), tether::Error> {
/// let client = tether::Client::new();
/// let resp = client
///     .get("http://127.0.0.1:8080/search")
///     .query(&[("q", "pool"), ("page", "2")])
///     .bearer_auth("t0ken")
///     .send()
///     .await?;
/// # Ok(()) }
/// ```
#[must_use = "a request does nothing until it is sent"]
pub struct RequestBuilder {
    client: Client,
    parts: Result<RequestParts, Error>,
}

/// What `send` needs of a request.
pub(crate) struct RequestParts {
    pub method: Method,
    pub target: Target,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// The client's default headers are yet to be added: false for a redirect's next hop,
    /// which carries those of the hop before less what the redirect dropped (credentials
    /// when the origin changes), so they must not come back.
    pub add_defaults: bool,
    pub body: Body,
    pub timeout: Option<Duration>,
    /// `version`: HTTP/1.1 unless the caller asked for another.
    pub version: http::Version,
}

impl RequestParts {
    /// Replaces every header called `name` with this one value.
    fn set_header(&mut self, name: HeaderName, value: HeaderValue) {
        self.headers.retain(|(n, _)| *n != name);
        self.headers.push((name, value));
    }

    #[cfg(feature = "json")]
    fn has_header(&self, name: &HeaderName) -> bool {
        self.headers.iter().any(|(n, _)| n == name)
    }
}

impl RequestBuilder {
    pub(crate) fn new(
        client: Client,
        method: Method,
        target: Result<Target, Error>,
    ) -> RequestBuilder {
        RequestBuilder {
            client,
            parts: target.map(|target| RequestParts {
                method,
                target,
                headers: Vec::new(),
                add_defaults: true,
                body: Body::Empty,
                timeout: None,
                version: http::Version::HTTP_11,
            }),
        }
    }

    /// A copy of this request, to send again (the same method, URL, headers, body and
    /// timeout), or `None` when it cannot be copied: its body is a stream, which can be
    /// read only once, or an earlier step failed (as with reqwest, the error stays with
    /// this builder, for its `send`).
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), tether::Error> {
    /// let client = tether::Client::new();
    /// let request = client.post("http://127.0.0.1:8080/jobs").body("{}");
    /// let again = request.try_clone();
    /// let first = request.send().await?;
    /// if first.status().is_server_error() {
    ///     if let Some(again) = again {
    ///         again.send().await?;
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub fn try_clone(&self) -> Option<RequestBuilder> {
        let parts = self.parts.as_ref().ok()?;
        let body = match &parts.body {
            Body::Empty => Body::Empty,
            Body::Full(bytes) => Body::Full(bytes.clone()),
            Body::Stream(..) => return None,
        };
        Some(RequestBuilder {
            client: self.client.clone(),
            parts: Ok(RequestParts {
                method: parts.method.clone(),
                target: parts.target.clone(),
                headers: parts.headers.clone(),
                add_defaults: parts.add_defaults,
                body,
                timeout: parts.timeout,
                version: parts.version,
            }),
        })
    }

    /// Applies `f` to the parts, unless an earlier step failed; an error from `f` is kept
    /// for `send`.
    fn with(mut self, f: impl FnOnce(&mut RequestParts) -> Result<(), Error>) -> Self {
        if let Ok(parts) = &mut self.parts {
            if let Err(e) = f(parts) {
                self.parts = Err(e);
            }
        }
        self
    }

    /// Adds a header; headers are sent in the order added. A name or value that is not
    /// valid makes `send` fail with `ErrorKind::InvalidRequest`.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), tether::Error> {
    /// let client = tether::Client::new();
    /// client.get("http://127.0.0.1:8080/").header("x-trace", "abc").send().await?;
    /// # Ok(()) }
    /// ```
    pub fn header<K, V>(self, name: K, value: V) -> RequestBuilder
    where
        K: TryInto<HeaderName>,
        K::Error: Into<BoxError>,
        V: TryInto<HeaderValue>,
        V::Error: Into<BoxError>,
    {
        self.with(|parts| {
            let name = name
                .try_into()
                .map_err(|e| invalid("header name", e.into()))?;
            let value = value
                .try_into()
                .map_err(|e| invalid("header value", e.into()))?;
            parts.headers.push((name, value));
            Ok(())
        })
    }

    /// Adds every header of `headers`, replacing the values of the same names set before
    /// (as reqwest does).
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), tether::Error> {
    /// let mut headers = http::HeaderMap::new();
    /// headers.insert("x-api-version", http::HeaderValue::from_static("2"));
    /// let client = tether::Client::new();
    /// client.get("http://127.0.0.1:8080/").headers(headers).send().await?;
    /// # Ok(()) }
    /// ```
    pub fn headers(self, headers: HeaderMap) -> RequestBuilder {
        self.with(|parts| {
            for name in headers.keys() {
                parts.headers.retain(|(n, _)| n != name);
            }
            let mut last = None;
            for (name, value) in headers {
                // `HeaderMap`'s iterator names a header only at its first value.
                if let Some(name) = name {
                    last = Some(name);
                }
                if let Some(name) = &last {
                    parts.headers.push((name.clone(), value));
                }
            }
            Ok(())
        })
    }

    /// Sends `Authorization: Basic` with `username` and `password` (RFC 7617).
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), tether::Error> {
    /// let client = tether::Client::new();
    /// client.get("http://127.0.0.1:8080/").basic_auth("alice", Some("s3cret")).send().await?;
    /// # Ok(()) }
    /// ```
    pub fn basic_auth<U, P>(self, username: U, password: Option<P>) -> RequestBuilder
    where
        U: std::fmt::Display,
        P: std::fmt::Display,
    {
        let value = match password {
            Some(p) => formatted(
                "credentials",
                format_args!("{username}:{p}"),
                url_auth::basic_value,
            ),
            None => formatted(
                "credentials",
                format_args!("{username}:"),
                url_auth::basic_value,
            ),
        };
        self.with(|parts| {
            parts.set_header(AUTHORIZATION, value??);
            Ok(())
        })
    }

    /// Sends `Authorization: Bearer <token>`.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), tether::Error> {
    /// let client = tether::Client::new();
    /// client.get("http://127.0.0.1:8080/").bearer_auth("t0ken").send().await?;
    /// # Ok(()) }
    /// ```
    pub fn bearer_auth<T: std::fmt::Display>(self, token: T) -> RequestBuilder {
        let value = formatted(
            "bearer token",
            format_args!("Bearer {token}"),
            HeaderValue::from_bytes,
        );
        self.with(|parts| {
            let mut value = value?.map_err(|e| invalid("bearer token", e.into()))?;
            value.set_sensitive(true);
            parts.set_header(AUTHORIZATION, value);
            Ok(())
        })
    }

    /// Appends `query` (anything serde can make `key=value` pairs of: a slice of pairs, a
    /// map, a struct) to the URL's query.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), tether::Error> {
    /// let client = tether::Client::new();
    /// // GET /search?q=rust+http&page=2
    /// client.get("http://127.0.0.1:8080/search").query(&[("q", "rust http"), ("page", "2")]).send().await?;
    /// # Ok(()) }
    /// ```
    pub fn query<T: serde::Serialize + ?Sized>(self, query: &T) -> RequestBuilder {
        self.with(|parts| {
            let mut url = parts.target.url().clone();
            {
                let mut pairs = url.query_pairs_mut();
                query
                    .serialize(serde_urlencoded::Serializer::new(&mut pairs))
                    .map_err(|e| invalid("query", e.into()))?;
            }
            // An empty query leaves no lone `?`.
            if url.query() == Some("") {
                url.set_query(None);
            }
            parts.target = Target::from_url(url);
            Ok(())
        })
    }

    /// Sets the body to `form` encoded as `application/x-www-form-urlencoded`, and the
    /// matching `Content-Type`.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), tether::Error> {
    /// let client = tether::Client::new();
    /// client.post("http://127.0.0.1:8080/login").form(&[("user", "alice"), ("pass", "x")]).send().await?;
    /// # Ok(()) }
    /// ```
    pub fn form<T: serde::Serialize + ?Sized>(self, form: &T) -> RequestBuilder {
        self.with(|parts| {
            let encoded =
                serde_urlencoded::to_string(form).map_err(|e| invalid("form", e.into()))?;
            parts.set_header(
                CONTENT_TYPE,
                HeaderValue::from_static("application/x-www-form-urlencoded"),
            );
            parts.body = Body::Full(Bytes::from(encoded));
            Ok(())
        })
    }

    /// Sets the body to `form` as `multipart/form-data`, and the matching `Content-Type`
    /// (with the form's boundary). A form held in memory is sent with `Content-Length`;
    /// one with a streamed part is sent chunked (see [`crate::multipart`]).
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), tether::Error> {
    /// let form = tether::multipart::Form::new().text("title", "report").part(
    ///     "file",
    ///     tether::multipart::Part::bytes(b"a,b\n1,2\n".to_vec()).file_name("report.csv"),
    /// );
    /// let client = tether::Client::new();
    /// client.post("http://127.0.0.1:8080/upload").multipart(form).send().await?;
    /// # Ok(()) }
    /// ```
    pub fn multipart(self, form: super::multipart::Form) -> RequestBuilder {
        self.with(|parts| {
            parts.set_header(CONTENT_TYPE, form.content_type());
            parts.body = form.into_body();
            Ok(())
        })
    }

    /// Sets the body to `json` serialized, and `Content-Type: application/json` unless one
    /// was set. Feature `json` (on by default).
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), tether::Error> {
    /// let client = tether::Client::new();
    /// let order = std::collections::HashMap::from([("item", "book"), ("qty", "1")]);
    /// client.post("http://127.0.0.1:8080/orders").json(&order).send().await?;
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "json")]
    pub fn json<T: serde::Serialize + ?Sized>(self, json: &T) -> RequestBuilder {
        self.with(|parts| {
            let body = serde_json::to_vec(json).map_err(|e| invalid("JSON body", e.into()))?;
            if !parts.has_header(&CONTENT_TYPE) {
                parts
                    .headers
                    .push((CONTENT_TYPE, HeaderValue::from_static("application/json")));
            }
            parts.body = Body::Full(Bytes::from(body));
            Ok(())
        })
    }

    /// Sets the body: bytes held in memory are sent with `Content-Length` and replayable,
    /// a [`Body::wrap_stream`](crate::Body::wrap_stream) is sent chunked.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), tether::Error> {
    /// let client = tether::Client::new();
    /// client.put("http://127.0.0.1:8080/doc").body("contents").send().await?;
    /// # Ok(()) }
    /// ```
    pub fn body(self, body: impl Into<PublicBody>) -> RequestBuilder {
        let body = body.into();
        self.with(|parts| {
            parts.body = body.inner;
            Ok(())
        })
    }

    /// Sets the body from a stream: sent chunked, or with the request's own
    /// `Content-Length` when it sets one (then held to it). A request with a streamed body
    /// is never retried once any byte of it was written.
    ///
    /// ```no_run
    /// # async fn run(chunks: impl futures_core::Stream<Item = Result<bytes::Bytes, std::io::Error>> + Send + 'static) -> Result<(), tether::Error> {
    /// let client = tether::Client::new();
    /// client.post("http://127.0.0.1:8080/upload").body_stream(chunks).send().await?;
    /// # Ok(()) }
    /// ```
    pub fn body_stream<S, E>(self, stream: S) -> RequestBuilder
    where
        S: Stream<Item = Result<Bytes, E>> + Send + 'static,
        E: Into<BoxError>,
    {
        self.body(PublicBody::wrap_stream(stream))
    }

    /// Bounds the whole request: waiting for a connection, connecting, sending, and reading
    /// the response head and body.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), tether::Error> {
    /// let client = tether::Client::new();
    /// let resp = client
    ///     .get("http://127.0.0.1:8080/")
    ///     .timeout(std::time::Duration::from_secs(5))
    ///     .send()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn timeout(self, timeout: Duration) -> RequestBuilder {
        self.with(|parts| {
            parts.timeout = Some(timeout);
            Ok(())
        })
    }

    /// The HTTP version to send the request in (reqwest's name): `HTTP_11`, the default;
    /// `HTTP_10`, for an HTTP/1.0 request line (with `Connection: keep-alive` as usual,
    /// and never chunked: a streamed body needs its length, else the request fails
    /// unsent); or `HTTP_2`, which must be spoken: on a connection that turns out to speak
    /// HTTP/1.1 (over TLS the server chose it, over plain http without
    /// `http2_prior_knowledge`) the request fails unsent with `InvalidRequest`. A
    /// connection that speaks HTTP/2 carries any request in HTTP/2. HTTP/0.9 and HTTP/3
    /// are refused unsent.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), tether::Error> {
    /// let client = tether::Client::new();
    /// let resp = client
    ///     .get("http://127.0.0.1:8080/legacy")
    ///     .version(http::Version::HTTP_10)
    ///     .send()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn version(self, version: http::Version) -> RequestBuilder {
        self.with(|parts| {
            parts.version = version;
            Ok(())
        })
    }

    /// The request as an `http::Request`, to look at or change and then send with
    /// [`Client::execute`] (reqwest's `build`, which generated API clients call before
    /// `execute`). It carries the method, the URL (its query included, the fragment left
    /// out), the headers and the body, and the timeout for `execute` to apply; the
    /// client's default headers are added when it is sent. An earlier step that failed
    /// is the error.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), tether::Error> {
    /// let client = tether::Client::new();
    /// let mut request = client
    ///     .post("http://127.0.0.1:8080/orders")
    ///     .query(&[("dry_run", "1")])
    ///     .body("one pizza")
    ///     .build()?;
    /// request.headers_mut().insert("x-signature", http::HeaderValue::from_static("s1"));
    /// let resp = client.execute(request).await?;
    /// # Ok(()) }
    /// ```
    pub fn build(self) -> Result<http::Request<PublicBody>, Error> {
        self.build_split().1
    }

    /// The client and the request as [`build`](Self::build) makes it (reqwest's
    /// `build_split`).
    pub fn build_split(self) -> (Client, Result<http::Request<PublicBody>, Error>) {
        let RequestBuilder { client, parts } = self;
        (client, parts.and_then(into_http))
    }

    /// Sends the request and waits for the response head.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), tether::Error> {
    /// let resp = tether::Client::new().get("http://127.0.0.1:8080/").send().await?;
    /// println!("{}", resp.status());
    /// # Ok(()) }
    /// ```
    pub fn send(self) -> impl std::future::Future<Output = Result<Response, Error>> + Send {
        // Not an `async fn` itself: one layer less of future to build and move per request.
        super::send::send(self.client, self.parts)
    }
}

/// A request's own timeout, carried by the `http::Request` that `build` makes, for
/// `Client::execute`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RequestTimeout(pub Duration);

fn into_http(parts: RequestParts) -> Result<http::Request<PublicBody>, Error> {
    let url = parts.target.url();
    let uri = http::Uri::try_from(&url[..url::Position::AfterQuery])
        .map_err(|e| invalid("URL", e.into()))?;
    let mut request = http::Request::new(PublicBody { inner: parts.body });
    *request.method_mut() = parts.method;
    *request.uri_mut() = uri;
    *request.version_mut() = parts.version;
    let headers = request.headers_mut();
    headers.reserve(parts.headers.len());
    for (name, value) in parts.headers {
        headers.append(name, value);
    }
    if let Some(timeout) = parts.timeout {
        request.extensions_mut().insert(RequestTimeout(timeout));
    }
    Ok(request)
}

fn invalid(what: &str, e: BoxError) -> Error {
    Error::new(ErrorKind::InvalidRequest, e).context(format!("invalid {what}"))
}
