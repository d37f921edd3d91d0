//! The public request body: bytes held in memory (sent with `Content-Length`, replayable
//! on a retry or a 307/308 redirect) or a stream (sent chunked, or with the request's own
//! `Content-Length`; never replayed). Converted from the usual byte types, as reqwest's `Body` is.

use bytes::Bytes;
use futures_core::Stream;

use crate::conn::{self, BoxError};

/// A request body.
///
/// ```
/// let from_text = tether::Body::from("hello");
/// assert_eq!(from_text.as_bytes(), Some(&b"hello"[..]));
/// let empty = tether::Body::empty();
/// assert_eq!(empty.as_bytes(), Some(&b""[..]));
/// ```
pub struct Body {
    pub(crate) inner: conn::Body,
}

impl Body {
    /// No body.
    ///
    /// ```
    /// let body = tether::Body::empty();
    /// assert_eq!(body.as_bytes(), Some(&b""[..]));
    /// ```
    pub fn empty() -> Body {
        Body {
            inner: conn::Body::Empty,
        }
    }

    /// A body from a stream of byte chunks, sent chunked; or, when the request sets
    /// `Content-Length`, sent as it is and held to that length (a stream that ends short or
    /// runs long fails the request with `ErrorKind::InvalidRequest` before its last byte
    /// goes out). It can be sent once only: a request with a streamed body is never retried once any of it was
    /// written, and a 307/308 redirect ends with the redirect response.
    ///
    /// ```
    /// let chunks = futures_core_stream();
    /// let body = tether::Body::wrap_stream(chunks);
    /// assert!(body.as_bytes().is_none());
    /// # fn futures_core_stream() -> impl futures_core::Stream<Item = Result<bytes::Bytes, std::io::Error>> + Send + 'static {
    /// #     struct Once(Option<bytes::Bytes>);
    /// #     impl futures_core::Stream for Once {
    /// #         type Item = Result<bytes::Bytes, std::io::Error>;
    /// #         fn poll_next(mut self: std::pin::Pin<&mut Self>, _: &mut std::task::Context<'_>) -> std::task::Poll<Option<Self::Item>> {
    /// #             std::task::Poll::Ready(self.0.take().map(Ok))
    /// #         }
    /// #     }
    /// #     Once(Some(bytes::Bytes::from_static(b"chunk")))
    /// # }
    /// ```
    pub fn wrap_stream<S, E>(stream: S) -> Body
    where
        S: Stream<Item = Result<Bytes, E>> + Send + 'static,
        E: Into<BoxError>,
    {
        Body {
            inner: conn::Body::Stream(
                Some(Box::pin(MapErr {
                    inner: Box::pin(stream),
                })),
                None,
            ),
        }
    }

    /// Any `http_body::Body` as a request body (reqwest's `wrap`): a hyper or tower body
    /// forwarded, say. Its data frames are sent as they come (trailers are not sent: an
    /// HTTP/1.1 request has none here); with an exact size hint, as `Content-Length` and
    /// held to it, else chunked. Sent once, as any stream.
    ///
    /// ```
    /// let body = tether::Body::wrap(http_body_util::Full::new(bytes::Bytes::from("hi")));
    /// assert!(body.as_bytes().is_none());
    /// ```
    pub fn wrap<B>(body: B) -> Body
    where
        B: http_body::Body + Send + 'static,
        B::Data: Into<Bytes>,
        B::Error: Into<BoxError>,
    {
        let exact = body.size_hint().exact();
        let mut wrapped = Body::wrap_stream(Frames(Box::pin(body)));
        if let conn::Body::Stream(_, declared) = &mut wrapped.inner {
            *declared = exact;
        }
        wrapped
    }

    /// The bytes of a body held in memory; `None` for a stream.
    ///
    /// ```
    /// let body = tether::Body::from("hello");
    /// assert_eq!(body.as_bytes(), Some(&b"hello"[..]));
    /// ```
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match &self.inner {
            conn::Body::Empty => Some(&[]),
            conn::Body::Full(b) => Some(b),
            conn::Body::Stream(..) => None,
        }
    }
}

impl Default for Body {
    fn default() -> Self {
        Body::empty()
    }
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.inner {
            conn::Body::Empty => f.write_str("Body(empty)"),
            conn::Body::Full(b) => write!(f, "Body({} bytes)", b.len()),
            conn::Body::Stream(_, None) => f.write_str("Body(stream)"),
            conn::Body::Stream(_, Some(n)) => write!(f, "Body(stream of {n} bytes)"),
        }
    }
}

impl From<Bytes> for Body {
    fn from(bytes: Bytes) -> Body {
        Body {
            inner: conn::Body::Full(bytes),
        }
    }
}

impl From<Vec<u8>> for Body {
    fn from(v: Vec<u8>) -> Body {
        Body::from(Bytes::from(v))
    }
}

impl From<String> for Body {
    fn from(s: String) -> Body {
        Body::from(Bytes::from(s))
    }
}

impl From<&'static str> for Body {
    fn from(s: &'static str) -> Body {
        Body::from(Bytes::from_static(s.as_bytes()))
    }
}

impl From<&'static [u8]> for Body {
    fn from(s: &'static [u8]) -> Body {
        Body::from(Bytes::from_static(s))
    }
}

/// A file's contents, read as they are sent (in pieces of up to 64 KiB, chunked unless
/// the request sets `Content-Length`), as reqwest's `Body` takes a `tokio::fs::File`.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let file = tokio::fs::File::open("upload.bin").await?;
/// let length = file.metadata().await?.len();
/// tether::Client::new()
///     .put("http://127.0.0.1:8080/upload")
///     .header(http::header::CONTENT_LENGTH, length)
///     .body(file)
///     .send()
///     .await?;
/// # Ok(())
/// # }
/// ```
impl From<tokio::fs::File> for Body {
    fn from(file: tokio::fs::File) -> Body {
        Body::wrap_stream(FileChunks {
            file,
            buf: bytes::BytesMut::new(),
        })
    }
}

/// A response's body as the body of a request, relayed as it arrives (reqwest's
/// `From<Response>`): with the response's length as `Content-Length` when it gave one (and
/// held to it), chunked otherwise; decoded, when the client decodes the response.
///
/// ```no_run
/// # async fn run() -> tether::Result<()> {
/// let client = tether::Client::new();
/// let download = client.get("http://127.0.0.1:8080/object").send().await?;
/// client.put("http://127.0.0.1:9090/copy").body(download).send().await?;
/// # Ok(())
/// # }
/// ```
impl From<crate::Response> for Body {
    fn from(response: crate::Response) -> Body {
        let length = response.content_length();
        let mut body = Body::wrap_stream(response.bytes_stream());
        if let conn::Body::Stream(_, declared) = &mut body.inner {
            *declared = length;
        }
        body
    }
}

/// The data frames of an `http_body::Body`, as a stream (trailers passed over).
struct Frames<B>(std::pin::Pin<Box<B>>);

impl<B> Stream for Frames<B>
where
    B: http_body::Body,
    B::Data: Into<Bytes>,
{
    type Item = Result<Bytes, B::Error>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        use std::task::Poll;
        loop {
            return match self.0.as_mut().poll_frame(cx) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(None) => Poll::Ready(None),
                Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e))),
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    Ok(data) => Poll::Ready(Some(Ok(data.into()))),
                    // Trailers: nothing to send.
                    Err(_) => continue,
                },
            };
        }
    }
}

/// Bytes a file body reads at a time.
const FILE_PIECE: usize = 64 * 1024;

/// A file, as a stream of pieces of up to [`FILE_PIECE`] bytes.
struct FileChunks {
    file: tokio::fs::File,
    buf: bytes::BytesMut,
}

impl Stream for FileChunks {
    type Item = std::io::Result<Bytes>;

    fn poll_next(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        use std::task::Poll;
        use tokio::io::AsyncRead;
        let this = self.get_mut();
        // Zeroed room: a safe `ReadBuf` over initialized bytes, at a file's pace.
        this.buf.resize(FILE_PIECE, 0);
        let mut room = tokio::io::ReadBuf::new(&mut this.buf[..]);
        match std::pin::Pin::new(&mut this.file).poll_read(cx, &mut room) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(e)) => Poll::Ready(Some(Err(e))),
            Poll::Ready(Ok(())) => {
                let n = room.filled().len();
                if n == 0 {
                    return Poll::Ready(None);
                }
                this.buf.truncate(n);
                Poll::Ready(Some(Ok(this.buf.split().freeze())))
            }
        }
    }
}

impl From<()> for Body {
    fn from((): ()) -> Body {
        Body::empty()
    }
}

/// Maps a stream's error type into `BoxError`.
struct MapErr<S> {
    inner: std::pin::Pin<Box<S>>,
}

impl<S, E> Stream for MapErr<S>
where
    S: Stream<Item = Result<Bytes, E>>,
    E: Into<BoxError>,
{
    type Item = Result<Bytes, BoxError>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.inner
            .as_mut()
            .poll_next(cx)
            .map(|item| item.map(|r| r.map_err(Into::into)))
    }
}
