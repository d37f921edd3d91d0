//! Building a request: URL, method, headers in the caller's order, a body (bytes that can be
//! replayed, or a stream that cannot) and a timeout. Errors in what the caller gives (a bad
//! URL, header name or value) are kept and returned by `send`, before any byte is written.

use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use futures_core::Stream;
use http::{HeaderName, HeaderValue, Method};
use url::Url;

use super::{url_auth, Client};
use crate::conn::{Body, BoxError};
use crate::error::{Error, ErrorKind};
use crate::Response;

/// Something that can be turned into a URL: `&str`, `String`, `url::Url`.
pub trait IntoUrl {
    /// Parses or passes the URL through.
    fn into_url(self) -> Result<Url, Error>;
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
}

impl IntoUrl for &str {
    fn into_url(self) -> Result<Url, Error> {
        Url::parse(self).map_err(|e| {
            Error::new(ErrorKind::InvalidRequest, e)
                .context(format!("invalid URL {:?}", url_auth::redact_str(self)))
        })
    }
}

impl IntoUrl for String {
    fn into_url(self) -> Result<Url, Error> {
        self.as_str().into_url()
    }
}

impl IntoUrl for &String {
    fn into_url(self) -> Result<Url, Error> {
        self.as_str().into_url()
    }
}

/// A request being built; `send` runs it.
#[must_use = "a request does nothing until it is sent"]
pub struct RequestBuilder {
    client: Client,
    parts: Result<RequestParts, Error>,
}

/// What `send` needs of a request.
pub(crate) struct RequestParts {
    pub method: Method,
    pub url: Url,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Body,
    pub timeout: Option<Duration>,
}

impl RequestBuilder {
    pub(crate) fn new(client: Client, method: Method, url: Result<Url, Error>) -> RequestBuilder {
        RequestBuilder {
            client,
            parts: url.map(|url| RequestParts {
                method,
                url,
                headers: Vec::new(),
                body: Body::Empty,
                timeout: None,
            }),
        }
    }

    /// Adds a header; headers are sent in the order added. A name or value that is not
    /// valid makes `send` fail with `ErrorKind::InvalidRequest`.
    pub fn header<K, V>(mut self, name: K, value: V) -> RequestBuilder
    where
        K: TryInto<HeaderName>,
        K::Error: Into<BoxError>,
        V: TryInto<HeaderValue>,
        V::Error: Into<BoxError>,
    {
        if let Ok(parts) = &mut self.parts {
            let name = name
                .try_into()
                .map_err(|e| invalid("header name", e.into()));
            let value = value
                .try_into()
                .map_err(|e| invalid("header value", e.into()));
            match (name, value) {
                (Ok(n), Ok(v)) => parts.headers.push((n, v)),
                (Err(e), _) | (_, Err(e)) => self.parts = Err(e),
            }
        }
        self
    }

    /// Sets the body from bytes held in memory (sent with `Content-Length`, replayable).
    pub fn body(mut self, body: impl Into<Bytes>) -> RequestBuilder {
        if let Ok(parts) = &mut self.parts {
            parts.body = Body::Full(body.into());
        }
        self
    }

    /// Sets the body from a stream of unknown size (sent chunked). A request with a
    /// streamed body is never retried once any byte of it was written.
    pub fn body_stream<S, E>(mut self, stream: S) -> RequestBuilder
    where
        S: Stream<Item = Result<Bytes, E>> + Send + 'static,
        E: Into<BoxError>,
    {
        if let Ok(parts) = &mut self.parts {
            let mapped = MapErr {
                inner: Box::pin(stream),
            };
            parts.body = Body::Stream(Some(Box::pin(mapped)));
        }
        self
    }

    /// Bounds the whole request: waiting for a connection, connecting, sending, and reading
    /// the response head and body.
    pub fn timeout(mut self, timeout: Duration) -> RequestBuilder {
        if let Ok(parts) = &mut self.parts {
            parts.timeout = Some(timeout);
        }
        self
    }

    /// Sends the request and waits for the response head.
    pub fn send(self) -> impl std::future::Future<Output = Result<Response, Error>> + Send {
        // Not an `async fn` itself: one layer less of future to build and move per request.
        super::send::send(self.client, self.parts)
    }
}

fn invalid(what: &str, e: BoxError) -> Error {
    Error::new(ErrorKind::InvalidRequest, e).context(format!("invalid {what}"))
}

/// Maps a stream's error type into `BoxError`.
struct MapErr<S> {
    inner: Pin<Box<S>>,
}

impl<S, E> Stream for MapErr<S>
where
    S: Stream<Item = Result<Bytes, E>>,
    E: Into<BoxError>,
{
    type Item = Result<Bytes, BoxError>;

    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.inner
            .as_mut()
            .poll_next(cx)
            .map(|item| item.map(|r| r.map_err(Into::into)))
    }
}
