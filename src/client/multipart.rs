//! `multipart/form-data` request bodies (RFC 7578), with reqwest's names: a [`Form`] of
//! named [`Part`]s, sent with [`RequestBuilder::multipart`](crate::RequestBuilder::multipart).
//!
//! ```no_run
//! # async fn run() -> Result<(), tether::Error> {
//! use tether::multipart::{Form, Part};
//!
//! let form = Form::new()
//!     .text("user", "alice")
//!     .part(
//!         "avatar",
//!         Part::bytes(vec![0x89, b'P', b'N', b'G'])
//!             .file_name("avatar.png")
//!             .mime_str("image/png")?,
//!     );
//! let client = tether::Client::new();
//! client.post("http://127.0.0.1:8080/profile").multipart(form).send().await?;
//! # Ok(()) }
//! ```
//!
//! - A form whose parts are all in memory becomes one body with `Content-Length`, which a
//!   retry or a 307/308 redirect can send again. A form with a streamed part
//!   ([`Part::stream`] of a stream body) is sent chunked, and like any streamed body is
//!   sent once only; with `Content-Length` when every streamed part has its length
//!   ([`Part::stream_with_length`]).
//! - Names and file names are written as browsers write them (the WHATWG form encoding):
//!   UTF-8 as it is, with `"`, CR and LF percent-encoded (`%22`, `%0D`, `%0A`), so that no
//!   name can end its quoted string or its header line early.
//! - The boundary is 32 random hex digits after `tether-`, new for every form.

use std::borrow::Cow;
use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use futures_core::Stream;
use http::{HeaderMap, HeaderValue};
use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS, NON_ALPHANUMERIC};

use super::body::Body;
use crate::conn::{self, BoxError};
use crate::error::{Error, ErrorKind};

/// A `multipart/form-data` body: named parts, in the order added.
pub struct Form {
    boundary: String,
    parts: Vec<(Cow<'static, str>, Part)>,
    names: NameEncoding,
}

/// How a part's name is written in its `Content-Disposition` (the `percent_encode_*`
/// methods of [`Form`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NameEncoding {
    /// As browsers write it: UTF-8 as it is, `"`, CR and LF percent-encoded.
    Whatwg,
    /// `name*=utf-8''…` (RFC 5987 / 2231) when the name has a byte of this set, percent-
    /// encoded; `name="…"` otherwise.
    Extended(&'static AsciiSet),
}

/// What the URL standard percent-encodes in a path segment (its path set, plus `/` and
/// `%`): reqwest's default for names.
const PATH_SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'<')
    .add(b'>')
    .add(b'`')
    .add(b'#')
    .add(b'?')
    .add(b'{')
    .add(b'}')
    .add(b'/')
    .add(b'%');

/// Every byte but RFC 5987's `attr-char`s (letters, digits and `!#$&+-.^_`|~`).
const ATTR_CHAR: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

/// One field of a [`Form`]: its value (text, bytes or a stream), and optionally a file
/// name, a media type and more header fields.
pub struct Part {
    value: conn::Body,
    file_name: Option<Cow<'static, str>>,
    mime: Option<HeaderValue>,
    headers: HeaderMap,
}

impl Default for Form {
    fn default() -> Self {
        Form::new()
    }
}

impl Form {
    /// An empty form with a new random boundary.
    ///
    /// ```
    /// let (a, b) = (tether::multipart::Form::new(), tether::multipart::Form::new());
    /// assert_ne!(a.boundary(), b.boundary());
    /// ```
    pub fn new() -> Form {
        Form {
            boundary: random_boundary(),
            parts: Vec::new(),
            names: NameEncoding::Whatwg,
        }
    }

    /// Writes each part's name as `name*=utf-8''…`, percent-encoded, when it has a byte a
    /// URL's path segment would encode (space, `"`, `/`, `%`, anything not ASCII...), and as
    /// `name="…"` otherwise (reqwest's default; tether's is browsers' form, which servers
    /// read more widely: RFC 7578 §4.2 has names sent as they are). Bytes this set
    /// leaves as they are but RFC 5987 does not allow there (`:`, `=`, `@`, `(`...) end
    /// the name for a strict parser such as Python's:
    /// [`percent_encode_attr_chars`](Self::percent_encode_attr_chars) is the strict form.
    /// File names keep browsers' form.
    ///
    /// ```
    /// let form = tether::multipart::Form::new()
    ///     .percent_encode_path_segment()
    ///     .text("prénom", "Zoé");
    /// ```
    pub fn percent_encode_path_segment(mut self) -> Form {
        self.names = NameEncoding::Extended(PATH_SEGMENT);
        self
    }

    /// As [`percent_encode_path_segment`](Self::percent_encode_path_segment), with every
    /// byte but RFC 5987's `attr-char`s encoded.
    pub fn percent_encode_attr_chars(mut self) -> Form {
        self.names = NameEncoding::Extended(ATTR_CHAR);
        self
    }

    /// Writes names as they are (the default): UTF-8 as it is, only `"`, CR and LF
    /// percent-encoded, which no name may carry into its header unchanged.
    pub fn percent_encode_noop(mut self) -> Form {
        self.names = NameEncoding::Whatwg;
        self
    }

    /// The boundary between the parts (without the leading `--`).
    pub fn boundary(&self) -> &str {
        &self.boundary
    }

    /// Adds a text field.
    ///
    /// ```
    /// let form = tether::multipart::Form::new().text("user", "alice").text("lang", "fr");
    /// ```
    pub fn text<T, U>(self, name: T, value: U) -> Form
    where
        T: Into<Cow<'static, str>>,
        U: Into<Cow<'static, str>>,
    {
        self.part(name, Part::text(value))
    }

    /// Adds a part.
    ///
    /// ```
    /// use tether::multipart::{Form, Part};
    /// let form = Form::new().part("notes", Part::text("hello").file_name("notes.txt"));
    /// ```
    pub fn part<T>(mut self, name: T, part: Part) -> Form
    where
        T: Into<Cow<'static, str>>,
    {
        self.parts.push((name.into(), part));
        self
    }

    /// Adds a part with the file at `path`, read as the request is sent ([`Part::file`]).
    ///
    /// ```no_run
    /// # async fn run() -> std::io::Result<()> {
    /// let form = tether::multipart::Form::new().file("report", "report.pdf").await?;
    /// # Ok(()) }
    /// ```
    pub async fn file<T, U>(self, name: T, path: U) -> io::Result<Form>
    where
        T: Into<Cow<'static, str>>,
        U: AsRef<Path>,
    {
        let part = Part::file(path).await?;
        Ok(self.part(name, part))
    }

    /// `multipart/form-data; boundary=...`, the `Content-Type` the body goes with.
    pub(crate) fn content_type(&self) -> HeaderValue {
        // The boundary is ASCII hex after a fixed prefix: always a valid header value.
        HeaderValue::from_str(&format!("multipart/form-data; boundary={}", self.boundary))
            .unwrap_or_else(|_| HeaderValue::from_static("multipart/form-data"))
    }

    /// The body: one buffer when every part is in memory, else a stream, of known length
    /// when every streamed part has one.
    pub(crate) fn into_body(self) -> conn::Body {
        let streamed = self
            .parts
            .iter()
            .any(|(_, p)| matches!(p.value, conn::Body::Stream(..)));
        let mut pieces = Vec::with_capacity(self.parts.len() * 3 + 1);
        for (name, part) in self.parts {
            pieces.push(Piece::Bytes(part.head(&self.boundary, &name, self.names)));
            match part.value {
                conn::Body::Empty => {}
                conn::Body::Full(bytes) => pieces.push(Piece::Bytes(bytes)),
                conn::Body::Stream(stream, length) => pieces.push(Piece::Stream {
                    stream,
                    length,
                    taken: 0,
                }),
            }
            pieces.push(Piece::Bytes(Bytes::from_static(b"\r\n")));
        }
        pieces.push(Piece::Bytes(Bytes::from(format!(
            "--{}--\r\n",
            self.boundary
        ))));
        let length = pieces.iter().try_fold(0u64, |sum, p| match p {
            Piece::Bytes(b) => sum.checked_add(b.len() as u64),
            Piece::Stream { length, .. } => sum.checked_add((*length)?),
        });
        if streamed {
            pieces.reverse();
            return conn::Body::Stream(Some(Box::pin(Pieces { rest: pieces })), length);
        }
        let len = pieces
            .iter()
            .map(|p| match p {
                Piece::Bytes(b) => b.len(),
                Piece::Stream { .. } => 0,
            })
            .sum();
        let mut whole = BytesMut::with_capacity(len);
        for piece in pieces {
            if let Piece::Bytes(b) = piece {
                whole.extend_from_slice(&b);
            }
        }
        conn::Body::Full(whole.freeze())
    }
}

impl fmt::Debug for Form {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Form")
            .field("boundary", &self.boundary)
            .field("parts", &self.parts)
            .finish()
    }
}

impl Part {
    /// A text value.
    ///
    /// ```
    /// let part = tether::multipart::Part::text("hello");
    /// ```
    pub fn text<T>(value: T) -> Part
    where
        T: Into<Cow<'static, str>>,
    {
        let bytes = match value.into() {
            Cow::Borrowed(s) => Bytes::from_static(s.as_bytes()),
            Cow::Owned(s) => Bytes::from(s),
        };
        Part::new(conn::Body::Full(bytes))
    }

    /// A value of any bytes.
    ///
    /// ```
    /// let part = tether::multipart::Part::bytes(vec![0u8, 1, 2]).file_name("raw.bin");
    /// ```
    pub fn bytes<T>(value: T) -> Part
    where
        T: Into<Cow<'static, [u8]>>,
    {
        let bytes = match value.into() {
            Cow::Borrowed(b) => Bytes::from_static(b),
            Cow::Owned(b) => Bytes::from(b),
        };
        Part::new(conn::Body::Full(bytes))
    }

    /// A value from a [`Body`]: in memory, or a stream (then the whole form is sent
    /// chunked, once only).
    ///
    /// ```
    /// let part = tether::multipart::Part::stream(tether::Body::from("in memory"));
    /// ```
    pub fn stream<T: Into<Body>>(value: T) -> Part {
        Part::new(value.into().inner)
    }

    /// A value from a stream of exactly `length` bytes. When every streamed part of a form
    /// has its length, the form is sent with `Content-Length` rather than chunked (once
    /// only, as any stream). A stream that gives more or fewer bytes than its length fails
    /// the request before its last byte is sent (`ErrorKind::InvalidRequest`).
    ///
    /// ```
    /// # fn chunks() -> impl futures_core::Stream<Item = Result<bytes::Bytes, std::io::Error>> + Send + 'static {
    /// #     struct Empty;
    /// #     impl futures_core::Stream for Empty {
    /// #         type Item = Result<bytes::Bytes, std::io::Error>;
    /// #         fn poll_next(self: std::pin::Pin<&mut Self>, _: &mut std::task::Context<'_>) -> std::task::Poll<Option<Self::Item>> {
    /// #             std::task::Poll::Ready(None)
    /// #         }
    /// #     }
    /// #     Empty
    /// # }
    /// let file = tether::Body::wrap_stream(chunks());
    /// let part = tether::multipart::Part::stream_with_length(file, 0).file_name("empty.bin");
    /// ```
    pub fn stream_with_length<T: Into<Body>>(value: T, length: u64) -> Part {
        match value.into().inner {
            conn::Body::Stream(stream, _) => Part::new(conn::Body::Stream(stream, Some(length))),
            // In memory, its length is known already.
            other => Part::new(other),
        }
    }

    /// The file at `path`, read in pieces as the request is sent, not into memory first.
    /// Its length is taken when it is opened, so a form whose other parts have theirs
    /// goes with `Content-Length`; a file that grows or shrinks before it is sent fails
    /// the request before its last byte (`ErrorKind::InvalidRequest`). Its file name is
    /// the path's last component, its media type guessed from the extension
    /// (`application/octet-stream` when unknown); both can be set after. Like any
    /// stream, it is sent once only: a retry or a 307/308 cannot send the form again.
    ///
    /// ```no_run
    /// # async fn run() -> std::io::Result<()> {
    /// let part = tether::multipart::Part::file("photos/cat.png").await?;
    /// # Ok(()) }
    /// ```
    pub async fn file<T: AsRef<Path>>(path: T) -> io::Result<Part> {
        let path = path.as_ref();
        let file = tokio::fs::File::open(path).await?;
        let length = file.metadata().await?.len();
        let mut part = Part::stream_with_length(Body::from(file), length);
        if let Some(name) = path.file_name() {
            part.file_name = Some(Cow::Owned(name.to_string_lossy().into_owned()));
        }
        part.mime = Some(HeaderValue::from_static(media_type_of(path)));
        Ok(part)
    }

    fn new(value: conn::Body) -> Part {
        Part {
            value,
            file_name: None,
            mime: None,
            headers: HeaderMap::new(),
        }
    }

    /// Sets the file name (`filename=` in its `Content-Disposition`).
    pub fn file_name<T>(mut self, file_name: T) -> Part
    where
        T: Into<Cow<'static, str>>,
    {
        self.file_name = Some(file_name.into());
        self
    }

    /// Sets the media type (the part's `Content-Type`), such as `image/png` or
    /// `text/plain; charset=utf-8`.
    ///
    /// Errors (`ErrorKind::InvalidRequest`): `mime` is not `type/subtype` followed by
    /// optional parameters, or holds characters a header cannot.
    ///
    /// ```
    /// let part = tether::multipart::Part::text("{}").mime_str("application/json")?;
    /// assert!(tether::multipart::Part::text("x").mime_str("not a type").is_err());
    /// # Ok::<(), tether::Error>(())
    /// ```
    pub fn mime_str(mut self, mime: &str) -> Result<Part, Error> {
        if !is_media_type(mime) {
            return Err(Error::msg(
                ErrorKind::InvalidRequest,
                format!("{mime:?} is not a media type (type/subtype)"),
            ));
        }
        let value = HeaderValue::from_str(mime)
            .map_err(|e| Error::new(ErrorKind::InvalidRequest, e).context("invalid media type"))?;
        self.mime = Some(value);
        self.headers.remove(http::header::CONTENT_TYPE);
        Ok(self)
    }

    /// Adds header fields to the part (after `Content-Disposition` and `Content-Type`).
    ///
    /// ```
    /// let mut headers = http::HeaderMap::new();
    /// headers.insert("content-language", http::HeaderValue::from_static("fr"));
    /// let part = tether::multipart::Part::text("bonjour").headers(headers);
    /// ```
    pub fn headers(mut self, headers: HeaderMap) -> Part {
        for (name, value) in headers.iter() {
            // `Content-Disposition` is the form's to write; a `Content-Type` here replaces
            // the media type.
            if name == http::header::CONTENT_DISPOSITION {
                continue;
            }
            if name == http::header::CONTENT_TYPE {
                self.mime = Some(value.clone());
                continue;
            }
            self.headers.append(name.clone(), value.clone());
        }
        self
    }

    /// The boundary line and the part's header section.
    fn head(&self, boundary: &str, name: &str, names: NameEncoding) -> Bytes {
        let mut head = Vec::with_capacity(boundary.len() + name.len() + 96);
        head.extend_from_slice(b"--");
        head.extend_from_slice(boundary.as_bytes());
        head.extend_from_slice(b"\r\nContent-Disposition: form-data; ");
        let encoded = match names {
            NameEncoding::Extended(set) => Cow::from(utf8_percent_encode(name, set)),
            NameEncoding::Whatwg => Cow::Borrowed(name),
        };
        if let Cow::Owned(encoded) = encoded {
            // The set took a byte: the extended form, which carries any.
            head.extend_from_slice(b"name*=utf-8''");
            head.extend_from_slice(encoded.as_bytes());
        } else {
            head.extend_from_slice(b"name=\"");
            escape_into(name, &mut head);
            head.push(b'"');
        }
        if let Some(file_name) = &self.file_name {
            head.extend_from_slice(b"; filename=\"");
            escape_into(file_name, &mut head);
            head.push(b'"');
        }
        head.extend_from_slice(b"\r\n");
        if let Some(mime) = &self.mime {
            head.extend_from_slice(b"Content-Type: ");
            head.extend_from_slice(mime.as_bytes());
            head.extend_from_slice(b"\r\n");
        }
        for (name, value) in &self.headers {
            head.extend_from_slice(name.as_str().as_bytes());
            head.extend_from_slice(b": ");
            head.extend_from_slice(value.as_bytes());
            head.extend_from_slice(b"\r\n");
        }
        head.extend_from_slice(b"\r\n");
        Bytes::from(head)
    }
}

impl fmt::Debug for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value = match &self.value {
            conn::Body::Empty => "empty".to_owned(),
            conn::Body::Full(b) => format!("{} bytes", b.len()),
            conn::Body::Stream(_, None) => "stream".to_owned(),
            conn::Body::Stream(_, Some(n)) => format!("stream of {n} bytes"),
        };
        f.debug_struct("Part")
            .field("value", &value)
            .field("file_name", &self.file_name)
            .field("mime", &self.mime)
            .field("headers", &self.headers)
            .finish()
    }
}

/// `type/subtype` (tokens) followed by nothing or by `;` and parameters.
fn is_media_type(mime: &str) -> bool {
    let essence = mime.split(';').next().unwrap_or("").trim();
    let token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
    };
    matches!(essence.split_once('/'), Some((t, s)) if token(t) && token(s))
}

/// The media type of a file by its extension, for the common ones.
fn media_type_of(path: &Path) -> &'static str {
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    match extension.as_str() {
        "txt" | "text" => "text/plain",
        "htm" | "html" => "text/html",
        "css" => "text/css",
        "csv" => "text/csv",
        "js" | "mjs" => "text/javascript",
        "md" => "text/markdown",
        "json" => "application/json",
        "xml" => "application/xml",
        "pdf" => "application/pdf",
        "zip" => "application/zip",
        "gz" => "application/gzip",
        "tar" => "application/x-tar",
        "wasm" => "application/wasm",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "svg" => "image/svg+xml",
        "ico" => "image/vnd.microsoft.icon",
        "mp3" => "audio/mpeg",
        "wav" => "audio/wav",
        "mp4" => "video/mp4",
        "webm" => "video/webm",
        _ => "application/octet-stream",
    }
}

/// Appends `s` as a quoted-string's content, as browsers do: `"` → `%22`, CR → `%0D`,
/// LF → `%0A`, everything else (UTF-8 included) as it is.
fn escape_into(s: &str, out: &mut Vec<u8>) {
    for b in s.bytes() {
        match b {
            b'"' => out.extend_from_slice(b"%22"),
            b'\r' => out.extend_from_slice(b"%0D"),
            b'\n' => out.extend_from_slice(b"%0A"),
            _ => out.push(b),
        }
    }
}

/// `tether-` and 32 hex digits: 128 bits from the standard library's per-process random
/// keys, mixed with a counter so that two forms never share one.
fn random_boundary() -> String {
    static COUNT: AtomicU64 = AtomicU64::new(0);
    let count = COUNT.fetch_add(1, Ordering::Relaxed);
    let half = |salt: u64| {
        let mut h = RandomState::new().build_hasher();
        h.write_u64(count);
        h.write_u64(salt);
        h.finish()
    };
    format!("tether-{:016x}{:016x}", half(1), half(2))
}

/// A piece of a streamed form.
enum Piece {
    Bytes(Bytes),
    Stream {
        stream: Option<conn::BodyStream>,
        /// The length the part was given, held to.
        length: Option<u64>,
        taken: u64,
    },
}

/// The pieces of a streamed form, in reverse order (the next on top).
struct Pieces {
    rest: Vec<Piece>,
}

impl Stream for Pieces {
    type Item = Result<Bytes, BoxError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            match self.rest.last_mut() {
                None => return Poll::Ready(None),
                Some(Piece::Bytes(_)) => {
                    if let Some(Piece::Bytes(b)) = self.rest.pop() {
                        return Poll::Ready(Some(Ok(b)));
                    }
                }
                Some(Piece::Stream { stream: None, .. }) => {
                    self.rest.pop();
                }
                Some(Piece::Stream {
                    stream: Some(stream),
                    length,
                    taken,
                }) => match stream.as_mut().poll_next(cx) {
                    Poll::Ready(None) => {
                        if let Some(length) = *length {
                            if *taken != length {
                                let why = format!(
                                    "a multipart stream ended after {taken} of its {length} bytes"
                                );
                                return Poll::Ready(Some(Err(why.into())));
                            }
                        }
                        self.rest.pop();
                    }
                    Poll::Ready(Some(Ok(chunk))) => {
                        *taken = taken.saturating_add(chunk.len() as u64);
                        if length.is_some_and(|length| *taken > length) {
                            let why = "a multipart stream gave more than its length";
                            return Poll::Ready(Some(Err(why.into())));
                        }
                        return Poll::Ready(Some(Ok(chunk)));
                    }
                    other => return other,
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_media_type_is_guessed_from_its_extension_in_any_case() {
        for (path, media) in [
            ("a/Photo.PNG", "image/png"),
            ("notes.txt", "text/plain"),
            ("data.Json", "application/json"),
            ("archive.tar.gz", "application/gzip"),
            ("no_extension", "application/octet-stream"),
            ("odd.xyz", "application/octet-stream"),
            (".hidden", "application/octet-stream"),
        ] {
            assert_eq!(media_type_of(Path::new(path)), media, "{path}");
        }
    }

    fn with_boundary(form: Form) -> Form {
        Form {
            boundary: "B".into(),
            ..form
        }
    }

    fn full(body: conn::Body) -> Vec<u8> {
        match body {
            conn::Body::Full(b) => b.to_vec(),
            _ => panic!("not in memory"),
        }
    }

    #[test]
    fn parts_are_framed_by_the_boundary_with_their_headers() {
        let mut extra = HeaderMap::new();
        extra.insert("content-language", HeaderValue::from_static("fr"));
        let form = with_boundary(
            Form::new()
                .text("user", "alice")
                .part(
                    "file",
                    Part::bytes(&b"\x00\x01"[..])
                        .file_name("a.bin")
                        .mime_str("application/octet-stream")
                        .unwrap(),
                )
                .part("note", Part::text("bonjour").headers(extra)),
        );
        assert_eq!(form.content_type(), "multipart/form-data; boundary=B");
        let body = full(form.into_body());
        let expected = b"--B\r\nContent-Disposition: form-data; name=\"user\"\r\n\r\nalice\r\n\
            --B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.bin\"\r\n\
            Content-Type: application/octet-stream\r\n\r\n\x00\x01\r\n\
            --B\r\nContent-Disposition: form-data; name=\"note\"\r\n\
            content-language: fr\r\n\r\nbonjour\r\n--B--\r\n";
        assert_eq!(
            String::from_utf8_lossy(&body),
            String::from_utf8_lossy(expected)
        );
    }

    #[test]
    fn an_empty_form_is_its_closing_line() {
        let form = with_boundary(Form::new());
        assert_eq!(full(form.into_body()), b"--B--\r\n");
    }

    #[test]
    fn names_cannot_end_their_quoted_string_or_line() {
        let form =
            with_boundary(Form::new().part("a\"b\r\nc é", Part::text("v").file_name("x\".txt")));
        let body = String::from_utf8(full(form.into_body())).unwrap();
        assert!(
            body.contains("name=\"a%22b%0D%0Ac é\"; filename=\"x%22.txt\"\r\n"),
            "{body}"
        );
    }

    #[test]
    fn media_types_are_checked() {
        for good in [
            "text/plain",
            "image/svg+xml",
            "text/plain; charset=utf-8",
            "a/b;x=\"y\"",
        ] {
            assert!(Part::text("x").mime_str(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "text",
            "/plain",
            "text/",
            "te xt/plain",
            "text/plain\r\nX: y",
            "a/b\u{e9}",
        ] {
            let err = Part::text("x").mime_str(bad).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidRequest, "{bad}");
        }
    }

    #[test]
    fn boundaries_differ_between_forms() {
        let seen: std::collections::HashSet<String> = (0..1000)
            .map(|_| Form::new().boundary().to_owned())
            .collect();
        assert_eq!(seen.len(), 1000);
        let b = Form::new().boundary().to_owned();
        assert!(b.starts_with("tether-") && b.len() == 39, "{b}");
    }
}
