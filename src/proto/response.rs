//! Response heads: parsing the status line and header fields (RFC 9112 §4, §5), within
//! limits: the plain form most servers send by a scan of its own, anything else by
//! `httparse`.
//!
//! Covers: one head at a time from the front of a buffer, leading empty lines tolerated
//! (RFC 9112 §2.2), the size and count limits, and the classification of a head as interim
//! (1xx), upgrade (101) or final. Does not cover: skipping interim heads or tracking state
//! across reads (see `reader.rs`), or what the headers mean for the body (see `framing.rs`).

use std::mem::MaybeUninit;
use std::sync::OnceLock;

use bytes::{Buf, Bytes, BytesMut};
use http::header::{InvalidHeaderValue, CONTENT_ENCODING, CONTENT_LENGTH};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Version};

use super::error::ProtoError;
use super::fields::{FieldSpan, FieldView, Present};
use super::request::TOKEN;
use crate::kept::Kept;

/// Limits on a response head, and what of a broken one is taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeadLimits {
    /// Largest head in bytes, status line and blank line included.
    pub max_head_bytes: usize,
    /// Most header fields in one head.
    pub max_headers: usize,
    /// Forms RFC 9112 forbids that are read anyway (none by default).
    pub lenient: Lenient,
}

impl Default for HeadLimits {
    fn default() -> Self {
        HeadLimits {
            max_head_bytes: 64 * 1024,
            max_headers: 100,
            lenient: Lenient::STRICT,
        }
    }
}

/// Field lines of a response head that RFC 9112 forbids, read anyway when asked (the
/// `http1_*_in_responses` options, as httparse and reqwest name them): old or broken
/// servers send them, and a crawler would rather read the page.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Lenient {
    /// `Name : value`: white space between a name and its colon (RFC 9112 §5.1 says to
    /// reject it), dropped.
    pub spaces_after_name: bool,
    /// A value continued on lines that begin with white space (obs-fold, RFC 9112 §5.2):
    /// each line break becomes spaces, as the RFC allows a user agent to do.
    pub obsolete_folding: bool,
    /// A field line that is not one (no colon, a name with a character no name has):
    /// passed over instead of failing the response.
    pub invalid_fields: bool,
    /// A response that does not begin with `HTTP/` is an HTTP/0.9 one (`http09_responses`):
    /// no head, a `200` whose body is everything until the server closes. (Read by the
    /// response reader; nothing to do with field lines.)
    pub http09: bool,
}

impl Lenient {
    /// Nothing forbidden taken: the default.
    pub const STRICT: Lenient = Lenient {
        spaces_after_name: false,
        obsolete_folding: false,
        invalid_fields: false,
        http09: false,
    };

    /// Whether any field line is read that the RFC forbids (then httparse reads heads).
    fn any(self) -> bool {
        self.spaces_after_name || self.obsolete_folding || self.invalid_fields
    }
}

/// What a response head is, by its status code (RFC 9110 §15.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeadKind {
    /// Any 1xx but 101: informational, a final response follows.
    Interim,
    /// 101 Switching Protocols.
    Upgrade,
    /// 2xx–5xx: the response.
    Final,
}

/// A parsed response head.
#[derive(Debug, Clone)]
pub struct ResponseHead {
    /// HTTP/1.0 or HTTP/1.1.
    pub version: Version,
    /// The status code.
    pub status: StatusCode,
    /// The header fields, in the order received.
    headers: Headers,
    /// Which of the fields the framing, keep-alive and decoding decisions read it has.
    pub present: Present,
}

impl ResponseHead {
    /// What an HTTP/0.9 response stands for: `200`, no fields.
    pub fn http09() -> ResponseHead {
        ResponseHead {
            version: Version::HTTP_09,
            status: StatusCode::OK,
            headers: Headers::built(HeaderMap::new()),
            present: Present::NONE,
        }
    }

    /// The header fields as the decisions read them.
    pub fn fields(&self) -> FieldView<'_> {
        self.headers.view(self.present)
    }

    /// The header map (built now if it was not). Read by the cookie jar and tests.
    #[cfg_attr(not(feature = "cookies"), allow(dead_code))]
    pub fn headers(&self) -> &HeaderMap {
        self.headers.get()
    }

    /// The header fields, for a response to keep.
    pub fn into_headers(self) -> Headers {
        self.headers
    }
}

/// Fields a head may have for its map to be built only when asked for; a head with more,
/// or longer than 64 KiB, has it built at once.
const LAZY_FIELDS: usize = 12;

/// A head's header fields: an `http::HeaderMap`, built the first time it is asked for.
/// Most responses are read without a look at their map (the framing, keep-alive and
/// decoding decisions read the few fields they need from the head's bytes), and the map
/// costs a small GET about a tenth of its instructions: two allocations, a name lookup
/// and an insert per field, and the drop. Built, it is the map the eager parse gives.
#[derive(Debug, Clone)]
pub struct Headers {
    /// Boxed: a head (and a `Response`) is moved from layer to layer, and the map is
    /// five times the size of the rest.
    map: OnceLock<Box<HeaderMap>>,
    /// The head's bytes and where its fields lie, until the map is built. Boxed: a head
    /// is moved from layer to layer, and one allocation is half of what the map costs.
    raw: Option<Box<RawFields>>,
}

#[derive(Debug, Clone)]
struct RawFields {
    /// A copy of the head: into a buffer kept per thread with the box, where sharing the
    /// read buffer's bytes would count a reference up and down on every response.
    head: Vec<u8>,
    spans: [FieldSpan; LAZY_FIELDS],
    len: u8,
    /// `Content-Encoding` and `Content-Length` are left out of the map (they described
    /// the encoded body, which is decoded).
    without_representation: bool,
}

impl Headers {
    /// A map already built.
    pub fn built(map: HeaderMap) -> Headers {
        Headers {
            map: OnceLock::from(Box::new(map)),
            raw: None,
        }
    }

    /// The map, built now if it was not.
    pub fn get(&self) -> &HeaderMap {
        self.map.get_or_init(|| match self.raw.as_deref() {
            Some(raw) => raw.build(),
            None => Box::default(),
        })
    }

    /// The map, built now if it was not, to change: from then on every reader of these
    /// fields reads the map.
    pub fn get_mut(&mut self) -> &mut HeaderMap {
        self.get();
        match self.map.get_mut() {
            Some(map) => map,
            None => unreachable!("`get` fills the map"),
        }
    }

    /// The map, to keep.
    pub fn into_map(self) -> HeaderMap {
        let mut headers = self;
        match headers.map.take() {
            Some(map) => *map,
            None => match headers.raw.as_deref() {
                Some(raw) => *raw.build(),
                None => HeaderMap::new(),
            },
        }
    }

    /// Leaves `Content-Encoding` and `Content-Length` out: the body is decoded.
    pub fn remove_representation(&mut self) {
        match self.map.get_mut() {
            Some(map) => {
                map.remove(CONTENT_ENCODING);
                map.remove(CONTENT_LENGTH);
            }
            None => {
                if let Some(raw) = &mut self.raw {
                    raw.without_representation = true;
                }
            }
        }
    }

    /// The fields as the decisions read them (before any is removed).
    /// The first value of `name`, as the map has it: read from the head's bytes while the
    /// map is not built, which this does not build.
    #[cfg(feature = "charset")]
    pub(crate) fn first(&self, name: &HeaderName) -> Option<&[u8]> {
        match (self.map.get(), self.raw.as_deref()) {
            (Some(map), _) => map.get(name).map(HeaderValue::as_bytes),
            (None, Some(raw)) => {
                if raw.without_representation
                    && (name == CONTENT_ENCODING || name == CONTENT_LENGTH)
                {
                    return None;
                }
                let wanted = name.as_str().as_bytes();
                let head = raw.head.as_slice();
                raw.spans()
                    .iter()
                    .find(|s| s.name(head).eq_ignore_ascii_case(wanted))
                    .map(|s| s.value(head))
            }
            (None, None) => None,
        }
    }

    fn view(&self, present: Present) -> FieldView<'_> {
        match (self.map.get(), &self.raw) {
            (Some(map), _) => FieldView::new(map, present),
            (None, Some(raw)) => FieldView::raw(&raw.head, raw.spans(), present),
            (None, None) => FieldView::raw(&[], &[], Present::NONE),
        }
    }
}

/// The spans of heads whose `Headers` were dropped, for the next responses on the thread
/// (each head would otherwise allocate and free one).
const KEEP_RAW: usize = 64;

thread_local! {
    static RAW: Kept<Box<RawFields>> = const { Kept::new(KEEP_RAW) };
}

/// A kept head's buffer larger than this goes back to the allocator (a head of up to
/// 64 KiB may be kept lazy; the usual one is a few hundred bytes).
const KEEP_RAW_HEAD: usize = 2048;

/// The maps of dropped heads, cleared, for the next heads whose map is asked for: a map is
/// three allocations (its box, its indices, its entries), which with dozens of responses
/// in flight overflow the allocator's per-thread caches.
const KEEP_MAPS: usize = 64;

/// A map with room for more fields than this goes back to the allocator.
const KEEP_MAP_FIELDS: usize = 32;

thread_local! {
    static MAPS: Kept<Box<HeaderMap>> = const { Kept::new(KEEP_MAPS) };
}

impl Drop for Headers {
    fn drop(&mut self) {
        if let Some(mut map) = self.map.take() {
            if map.capacity() <= KEEP_MAP_FIELDS {
                map.clear();
                Kept::give(&MAPS, map);
            }
        }
        if let Some(mut raw) = self.raw.take() {
            // The box is kept, with its buffer unless that grew large.
            if raw.head.capacity() > KEEP_RAW_HEAD {
                raw.head = Vec::new();
            }
            raw.head.clear();
            Kept::give(&RAW, raw);
        }
    }
}

impl RawFields {
    fn spans(&self) -> &[FieldSpan] {
        self.spans
            .get(..usize::from(self.len))
            .unwrap_or(&self.spans)
    }

    /// The map: names and values as the scan found them. Neither can be refused here:
    /// httparse takes only token characters in a name (`HeaderName` takes every token of
    /// up to 64 KiB), and in a value tab, space, visible ASCII and obs-text, the bytes
    /// `HeaderValue` takes (`lazy_build_takes_what_the_scan_takes` goes through all 256);
    /// a folded value (taken only with `Lenient::obsolete_folding`) has had its line
    /// breaks made spaces before the head was kept.
    fn build(&self) -> Box<HeaderMap> {
        let mut map = Kept::take(&MAPS).unwrap_or_default();
        map.reserve(usize::from(self.len));
        // One copy of the head, which every value shares.
        let head = Bytes::copy_from_slice(&self.head);
        for span in self.spans() {
            let Ok(name) = HeaderName::from_bytes(span.name(&self.head)) else {
                continue;
            };
            if self.without_representation && (name == CONTENT_ENCODING || name == CONTENT_LENGTH) {
                continue;
            }
            let (start, end) = (usize::from(span.value.0), usize::from(span.value.1));
            // Always within the head (the scan's offsets are), checked as `slice` panics.
            if start > end || end > head.len() {
                continue;
            }
            let value = head.slice(start..end);
            if let Ok(value) = HeaderValue::from_maybe_shared(value) {
                map.append(name, value);
            }
        }
        map
    }
}

impl ResponseHead {
    /// Classifies the head by its status code.
    pub fn kind(&self) -> HeadKind {
        match self.status.as_u16() {
            101 => HeadKind::Upgrade,
            100..=199 => HeadKind::Interim,
            _ => HeadKind::Final,
        }
    }
}

/// Header slots on the stack; larger limits fall back to the heap.
const STACK_HEADERS: usize = 128;

/// Parses one response head from the front of `buf`, copying each field value.
///
/// `Ok(None)`: more bytes are needed (and `buf` is still within `max_head_bytes`, else
/// `HeadTooLarge`). `Ok(Some((head, n)))`: the head took the first `n` bytes of `buf`.
pub fn parse_response_head(
    buf: &[u8],
    limits: &HeadLimits,
) -> Result<Option<(ResponseHead, usize)>, ProtoError> {
    let mut spans = Spans::new();
    let Some(line) = scan(buf, limits, &mut spans)? else {
        return Ok(None);
    };
    let head = build(&line, &spans, buf, |range| {
        let value = &buf[range];
        if limits.lenient.obsolete_folding && value.iter().any(|&b| b == b'\r' || b == b'\n') {
            let mut unfolded = value.to_vec();
            unfold(&mut unfolded);
            return HeaderValue::from_bytes(&unfolded);
        }
        HeaderValue::from_bytes(value)
    })?;
    Ok(Some((head, line.len)))
}

/// Parses one response head from the front of `buf` and splits it off. Its header map is
/// built when first asked for ([`Headers`]), from a copy of the head that its values share
/// (a reference count each) instead of being copied one by one into allocations of their
/// own. Otherwise as [`parse_response_head`].
#[inline]
pub fn take_response_head(
    buf: &mut BytesMut,
    limits: &HeadLimits,
) -> Result<Option<ResponseHead>, ProtoError> {
    let mut spans = Spans::new();
    let Some(line) = scan(buf, limits, &mut spans)? else {
        return Ok(None);
    };
    if limits.lenient.obsolete_folding {
        // Folded values are unfolded where they lie, before they are copied or shared.
        let range = |(start, end): (u32, u32)| start as usize..end as usize;
        for span in spans.iter() {
            if let Some(value) = buf.get_mut(range(span.value)) {
                unfold(value);
            }
        }
    }
    if let Some(head) = buf
        .get(..line.len)
        .and_then(|head| lazy(&line, &spans, head))
    {
        buf.advance(line.len);
        return Ok(Some(head));
    }
    let bytes = buf.split_to(line.len).freeze();
    build(&line, &spans, &bytes, |range| {
        HeaderValue::from_maybe_shared(bytes.slice(range))
    })
    .map(Some)
}

/// A value read across folded lines, made one line: each CR and LF becomes a space
/// (RFC 9112 §5.2).
fn unfold(value: &mut [u8]) {
    for b in value.iter_mut().filter(|b| **b == b'\r' || **b == b'\n') {
        *b = b' ';
    }
}

/// The head with its map left to build, when it is short enough and has few enough
/// fields; its bytes are copied (`RawFields::head`).
#[inline]
fn lazy(line: &StatusLine, spans: &Spans, head: &[u8]) -> Option<ResponseHead> {
    if spans.count() > LAZY_FIELDS || head.len() > usize::from(u16::MAX) {
        return None;
    }
    let len = u8::try_from(spans.count()).ok()?;
    let mut raw = match Kept::take(&RAW) {
        Some(mut kept) => {
            kept.without_representation = false;
            kept
        }
        None => Box::new(RawFields {
            head: Vec::new(),
            spans: [FieldSpan::default(); LAZY_FIELDS],
            len: 0,
            without_representation: false,
        }),
    };
    let mut present = Present::NONE;
    let short =
        |(start, end): (u32, u32)| Some((u16::try_from(start).ok()?, u16::try_from(end).ok()?));
    for (place, span) in raw.spans.iter_mut().zip(spans.iter()) {
        *place = FieldSpan {
            name: short(span.name)?,
            value: short(span.value)?,
            bit: 0,
        };
        place.bit = present.note_bytes(place.name(head));
    }
    raw.len = len;
    raw.head.clear();
    raw.head.extend_from_slice(head);
    Some(ResponseHead {
        version: line.version,
        status: line.status,
        headers: Headers {
            map: OnceLock::new(),
            raw: Some(raw),
        },
        present,
    })
}

/// Where one field's name and value lie in the head.
#[derive(Clone, Copy, Default)]
struct Span {
    name: (u32, u32),
    value: (u32, u32),
}

/// Fields kept inline by [`Spans`]; the rest go to the heap. As many as a head may have
/// for its map to be left unbuilt: a head with more builds its map (an allocation or more
/// per field) and spilling its spans costs little beside that. Kept that small, the inline
/// spans are cleared with a few stores rather than a call to `memset` for every response.
const INLINE_SPANS: usize = LAZY_FIELDS;

/// Where the fields of a head lie, in order: the usual few inline, any more on the heap.
struct Spans {
    inline: [Span; INLINE_SPANS],
    len: usize,
    more: Vec<Span>,
}

impl Spans {
    fn new() -> Spans {
        Spans {
            inline: [Span::default(); INLINE_SPANS],
            len: 0,
            more: Vec::new(),
        }
    }

    #[inline]
    fn push(&mut self, span: Span) {
        match self.inline.get_mut(self.len) {
            Some(place) => {
                *place = span;
                self.len += 1;
            }
            None => self.more.push(span),
        }
    }

    fn iter(&self) -> impl Iterator<Item = &Span> {
        self.inline[..self.len].iter().chain(&self.more)
    }

    fn count(&self) -> usize {
        self.len + self.more.len()
    }

    fn clear(&mut self) {
        self.len = 0;
        self.more.clear();
    }
}

/// What the scan found besides the fields.
struct StatusLine {
    version: Version,
    status: StatusCode,
    /// The head's length, blank line included.
    len: usize,
}

/// Reads the head at the front of `buf` and notes in `spans` where each field lies, in
/// order: the plain form by [`scan_plain`], anything else (and anything incomplete or
/// wrong) by `httparse`.
#[inline(always)]
fn scan(
    buf: &[u8],
    limits: &HeadLimits,
    spans: &mut Spans,
) -> Result<Option<StatusLine>, ProtoError> {
    if let Some(line) = scan_plain(buf, limits, spans) {
        return Ok(Some(line));
    }
    spans.clear();
    scan_httparse(buf, limits, spans)
}

/// Runs `httparse` over `buf` and notes in `spans` where each field lies, in order. Out
/// of line: the plain scan before it is the one the usual head takes.
#[inline(never)]
fn scan_httparse(
    buf: &[u8],
    limits: &HeadLimits,
    spans: &mut Spans,
) -> Result<Option<StatusLine>, ProtoError> {
    if limits.max_headers <= STACK_HEADERS {
        // Left uninitialized: httparse writes each slot it uses (4 KiB of stack not
        // cleared for every response).
        let mut slots = [const { MaybeUninit::uninit() }; STACK_HEADERS];
        scan_with(buf, limits, &mut slots[..limits.max_headers], spans)
    } else {
        // No more slots than the bytes could hold fields (each takes at least `n:` and a
        // line end): a caller's `max_headers(usize::MAX)` allocates by what arrived.
        let slots_needed = limits.max_headers.min(buf.len() / 3 + 1);
        let mut slots = Vec::with_capacity(slots_needed);
        slots.resize_with(slots_needed, MaybeUninit::uninit);
        scan_with(buf, limits, &mut slots, spans)
    }
}

fn scan_with<'b>(
    buf: &'b [u8],
    limits: &HeadLimits,
    slots: &mut [MaybeUninit<httparse::Header<'b>>],
    spans: &mut Spans,
) -> Result<Option<StatusLine>, ProtoError> {
    let mut parsed = httparse::Response::new(&mut []);
    let mut config = httparse::ParserConfig::default();
    let lenient = limits.lenient;
    if lenient.any() {
        config
            .allow_spaces_after_header_name_in_responses(lenient.spaces_after_name)
            .allow_obsolete_multiline_headers_in_responses(lenient.obsolete_folding)
            .ignore_invalid_headers_in_responses(lenient.invalid_fields);
    }
    let parse = config.parse_response_with_uninit_headers(&mut parsed, buf, slots);
    let len = match parse {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => {
            if buf.len() > limits.max_head_bytes {
                return Err(ProtoError::HeadTooLarge);
            }
            return Ok(None);
        }
        Err(e) => return Err(map_error(e, buf)),
    };
    if len > limits.max_head_bytes {
        return Err(ProtoError::HeadTooLarge);
    }
    let version = match parsed.version {
        Some(0) => Version::HTTP_10,
        Some(1) => Version::HTTP_11,
        _ => return Err(ProtoError::UnsupportedVersion),
    };
    let code = parsed.code.ok_or(ProtoError::InvalidHead)?;
    let status = StatusCode::from_u16(code).map_err(|_| ProtoError::InvalidHead)?;
    // Offsets from the buffer's start: the names and values httparse gives are slices of
    // it. A head is at most `max_head_bytes`, far below `u32::MAX`.
    let base = buf.as_ptr() as usize;
    let at = |piece: &[u8]| -> Result<(u32, u32), ProtoError> {
        let start = (piece.as_ptr() as usize).wrapping_sub(base);
        let end = start.wrapping_add(piece.len());
        match (u32::try_from(start), u32::try_from(end)) {
            (Ok(s), Ok(e)) if end <= len => Ok((s, e)),
            _ => Err(ProtoError::InvalidHead),
        }
    };
    for h in parsed.headers.iter() {
        spans.push(Span {
            name: at(h.name.as_bytes())?,
            value: at(h.value)?,
        });
    }
    Ok(Some(StatusLine {
        version,
        status,
        len,
    }))
}

/// The head from what the scan found: names from `head`, values made by `value` from
/// their range in it.
fn build(
    line: &StatusLine,
    spans: &Spans,
    head: &[u8],
    mut value: impl FnMut(std::ops::Range<usize>) -> Result<HeaderValue, InvalidHeaderValue>,
) -> Result<ResponseHead, ProtoError> {
    let mut headers = HeaderMap::with_capacity(spans.count());
    let mut present = Present::NONE;
    let range = |(start, end): (u32, u32)| start as usize..end as usize;
    for span in spans.iter() {
        let name_bytes = head.get(range(span.name)).ok_or(ProtoError::InvalidHead)?;
        let name = HeaderName::from_bytes(name_bytes).map_err(|_| ProtoError::InvalidHead)?;
        let value = value(range(span.value)).map_err(|_| ProtoError::InvalidHead)?;
        present.note(&name);
        headers.append(name, value);
    }
    Ok(ResponseHead {
        version: line.version,
        status: line.status,
        headers: Headers::built(headers),
        present,
    })
}

/// The head at the front of `buf` when it has the plain form nearly every server sends:
/// `HTTP/1.0` or `HTTP/1.1`, a status of 100 to 999, a reason and field values of tab,
/// space and visible ASCII, names of token characters each followed by the colon, and
/// every line ended by CRLF; complete, within the limits. `None` for anything else, which
/// is then read by `httparse`, the authority on what is valid, what is incomplete and
/// which error to report. For every head it takes, the answer is what `httparse` gives
/// (the tests hold the two side by side over many generated heads), for two thirds of
/// the instructions on a one-field head and somewhat fewer on a ten-field one: no
/// dispatch on the CPU's features, no iterator over uninitialized slots, and values
/// checked eight bytes at a time.
fn scan_plain(buf: &[u8], limits: &HeadLimits, spans: &mut Spans) -> Option<StatusLine> {
    // All of the head must lie within the limit; past it, httparse says what is wrong.
    // (And within `u32` offsets, so that those below are exact.)
    let head = buf.get(..buf.len().min(limits.max_head_bytes))?;
    if u32::try_from(head.len()).is_err() {
        return None;
    }
    let (version, code, reason_at) = match *head.get(..13)? {
        [b'H', b'T', b'T', b'P', b'/', b'1', b'.', v @ (b'0' | b'1'), b' ', a, b, c, after]
            if a.is_ascii_digit() && b.is_ascii_digit() && c.is_ascii_digit() =>
        {
            let version = if v == b'1' {
                Version::HTTP_11
            } else {
                Version::HTTP_10
            };
            let code = u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0');
            match after {
                b' ' => (version, code, 13),
                b'\r' => (version, code, 12),
                _ => return None,
            }
        }
        _ => return None,
    };
    let status = StatusCode::from_u16(code).ok()?;
    let mut at = reason_at + text_len(head.get(reason_at..)?);
    if head.get(at..at + 2)? != b"\r\n" {
        return None;
    }
    at += 2;
    let mut count = 0;
    loop {
        let line = head.get(at..)?;
        let name_len = token_len(line);
        match line.get(name_len) {
            Some(b':') if name_len > 0 => {}
            Some(b'\r') if name_len == 0 && line.get(1) == Some(&b'\n') => {
                return Some(StatusLine {
                    version,
                    status,
                    len: at + 2,
                });
            }
            _ => return None,
        }
        let after = line.get(name_len + 1..)?;
        let is_blank = |b: &u8| *b == b' ' || *b == b'\t';
        let blank = match after {
            // The usual one space.
            [b' ', next, ..] if !is_blank(next) => 1,
            _ => after
                .iter()
                .position(|b| !is_blank(b))
                .unwrap_or(after.len()),
        };
        let value = after.get(blank..)?;
        let value_len = text_len(value);
        if value.get(value_len..value_len + 2)? != b"\r\n" {
            return None;
        }
        // Without any spaces or tabs at its end (nothing else `trim_ascii_end` takes can
        // be in what `text_len` passed).
        let kept = value.get(..value_len)?.trim_ascii_end().len();
        count += 1;
        if count > limits.max_headers {
            return None;
        }
        let value_at = at + name_len + 1 + blank;
        spans.push(Span {
            name: (at as u32, (at + name_len) as u32),
            value: (value_at as u32, (value_at + kept) as u32),
        });
        at = value_at + value_len + 2;
    }
}

/// How many bytes at the front of `s` are token characters. Not inlined: in a loop of
/// its own the byte-at-a-time scan compiles to a few instructions a byte.
#[inline(never)]
fn token_len(s: &[u8]) -> usize {
    s.iter()
        .position(|&b| !TOKEN[usize::from(b)])
        .unwrap_or(s.len())
}

/// How many bytes at the front of `s` are tab, space or visible ASCII (a reason's or a
/// value's). Eight bytes at a time, then one by one.
#[inline(never)]
fn text_len(s: &[u8]) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = ONES * 0x80;
    let mut n = 0;
    loop {
        for chunk in s.get(n..).unwrap_or_default().chunks_exact(8) {
            let x = u64::from_le_bytes([
                chunk[0], chunk[1], chunk[2], chunk[3], chunk[4], chunk[5], chunk[6], chunk[7],
            ]);
            // A byte below 0x20 (it borrows), or of 0x7f and up (it or its successor has
            // the high bit set), flagged in that byte's high bit. The lowest one flagged
            // is exact: a borrow or a carry only spreads upward from a byte truly flagged.
            let stop = ((x.wrapping_sub(ONES * 0x20) & !x) | x | x.wrapping_add(ONES)) & HIGH;
            if stop != 0 {
                n += (stop.trailing_zeros() / 8) as usize;
                break;
            }
            n += 8;
        }
        while s.get(n).is_some_and(|b| (b' '..=b'~').contains(b)) {
            n += 1;
        }
        if s.get(n) != Some(&b'\t') {
            return n;
        }
        n += 1;
    }
}

fn map_error(e: httparse::Error, buf: &[u8]) -> ProtoError {
    match e {
        httparse::Error::TooManyHeaders => ProtoError::TooManyHeaders,
        // httparse reports any unexpected first line as a version error; only a line that
        // really starts with `HTTP/<digit>` names an unsupported version.
        httparse::Error::Version if names_a_version(buf) => ProtoError::UnsupportedVersion,
        _ => ProtoError::InvalidHead,
    }
}

fn names_a_version(buf: &[u8]) -> bool {
    let start = buf
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(buf.len());
    let line = &buf[start..];
    line.len() > 5 && line.starts_with(b"HTTP/") && line[5].is_ascii_digit()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(buf: &[u8]) -> Result<Option<(ResponseHead, usize)>, ProtoError> {
        parse_response_head(buf, &HeadLimits::default())
    }

    fn parse_err(buf: &[u8]) -> ProtoError {
        parse(buf).unwrap_err()
    }

    fn take(wire: &[u8]) -> Result<Option<ResponseHead>, ProtoError> {
        take_response_head(&mut BytesMut::from(wire), &HeadLimits::default())
    }

    /// `first` gives what the map would, before and after it is built: the first value,
    /// any case of the name, nothing for an absent field or a representation field
    /// removed for decoding.
    #[cfg(feature = "charset")]
    #[test]
    fn first_reads_the_head_as_the_map_would() {
        let wire = b"HTTP/1.1 200 OK\r\nContent-TYPE: text/html; charset=x\r\nContent-Type: b\r\n\
Content-Length: 10\r\nContent-Encoding: gzip\r\n\r\n";
        let expect = |headers: &Headers, removed: bool| {
            let content_type = http::header::CONTENT_TYPE;
            assert_eq!(
                headers.first(&content_type),
                Some(&b"text/html; charset=x"[..])
            );
            assert_eq!(headers.first(&http::header::ETAG), None);
            let length = (!removed).then_some(&b"10"[..]);
            assert_eq!(headers.first(&CONTENT_LENGTH), length);
            assert_eq!(headers.first(&CONTENT_ENCODING).is_some(), !removed);
        };
        for removed in [false, true] {
            let mut head = take(wire).unwrap().unwrap();
            if removed {
                head.headers.remove_representation();
            }
            assert!(head.headers.map.get().is_none(), "not built");
            expect(&head.headers, removed);
            assert!(head.headers.map.get().is_none(), "still not built");
            head.headers();
            expect(&head.headers, removed);
        }
    }

    /// A dropped head's spans, and its map once built, are kept for the next head on the
    /// thread: what the next head reads is its own, fields and removals alike.
    #[test]
    fn a_kept_span_box_carries_nothing_to_the_next_head() {
        let first = b"HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\nContent-Encoding: gzip\r\n\
Content-Length: 10\r\n\r\n";
        let mut head = take(first).unwrap().unwrap();
        head.headers.remove_representation();
        assert_eq!(head.headers().len(), 3);
        let first_map: *const HeaderMap = head.headers();
        drop(head);
        let second = b"HTTP/1.1 200 OK\r\nContent-Length: 7\r\nD: 4\r\n\r\n";
        let head = take(second).unwrap().unwrap();
        assert!(head.headers.map.get().is_none(), "left to build");
        let map = head.headers();
        assert!(std::ptr::eq(map, first_map), "the first head's map, kept");
        assert_eq!(map.len(), 2, "{map:?}");
        assert_eq!(
            map.get(CONTENT_LENGTH).map(|v| v.as_bytes()),
            Some(&b"7"[..])
        );
        assert_eq!(map.get("d").map(|v| v.as_bytes()), Some(&b"4"[..]));
    }

    /// The taken head's map, built when asked for, is the map the eager parse builds at
    /// once, or both refuse the head: a field name and a field value holding each of the
    /// 256 bytes.
    #[test]
    fn lazy_build_takes_what_the_scan_takes() {
        for b in 0..=255u8 {
            let mut name_head = b"HTTP/1.1 200 OK\r\nX".to_vec();
            name_head.extend_from_slice(&[b, b'y']);
            name_head.extend_from_slice(b": v\r\nContent-Length: 0\r\n\r\n");
            let mut value_head = b"HTTP/1.1 200 OK\r\nX: a".to_vec();
            value_head.extend_from_slice(&[b, b'z']);
            value_head.extend_from_slice(b"\r\nContent-Length: 0\r\n\r\n");
            for wire in [name_head, value_head] {
                let eager = parse(&wire).map(|h| h.map(|(h, _)| h.headers().clone()));
                let taken = take(&wire);
                if let Ok(Some(head)) = &taken {
                    assert!(head.headers.map.get().is_none(), "left to build");
                }
                let lazy = taken.map(|h| h.map(|h| h.headers().clone()));
                assert_eq!(
                    lazy,
                    eager,
                    "byte {b:#04x} in {:?}",
                    String::from_utf8_lossy(&wire)
                );
            }
        }
    }

    /// The decisions read a head whose map is not built as they read a built one: any
    /// case, repeated fields in order, the five fields noted alike.
    #[test]
    fn a_head_not_built_reads_its_fields_as_a_built_one() {
        let wire = b"HTTP/1.1 200 OK\r\nConnection: a\r\nTRANSFER-ENCODING: gzip\r\n\
x-other: 1\r\nconnection: b\r\nKeep-Alive: timeout=5\r\ncontent-ENCODING: br\r\n\
Content-Length: 7\r\n\r\n";
        let taken = take(wire).unwrap().unwrap();
        let (eager, _) = parse(wire).unwrap().unwrap();
        assert!(taken.headers.map.get().is_none());
        assert!(eager.headers.map.get().is_some());
        assert_eq!(taken.present, eager.present);
        for name in [
            &http::header::CONNECTION,
            &http::header::TRANSFER_ENCODING,
            &CONTENT_LENGTH,
            &CONTENT_ENCODING,
            &crate::proto::fields::KEEP_ALIVE,
            &http::header::DATE,
        ] {
            let lazy: Vec<&[u8]> = taken.fields().all(name).collect();
            let built: Vec<&[u8]> = eager.fields().all(name).collect();
            assert_eq!(lazy, built, "{name}");
        }
        assert_eq!(
            taken
                .fields()
                .all(&http::header::CONNECTION)
                .collect::<Vec<_>>(),
            [b"a", b"b"]
        );
        // Asking for the map builds it; the fields are then read from it.
        assert_eq!(taken.headers(), eager.headers());
        assert!(taken.headers.map.get().is_some());
        assert_eq!(
            taken.fields().all(&CONTENT_LENGTH).collect::<Vec<_>>(),
            [b"7"]
        );
    }

    /// More fields than are kept for later, or a head over 64 KiB: the map is built at
    /// once, and is the same.
    #[test]
    fn heads_past_the_lazy_bounds_are_built_at_once() {
        let many = |fields: usize, value: usize| {
            let mut wire = b"HTTP/1.1 200 OK\r\n".to_vec();
            for i in 0..fields {
                wire.extend_from_slice(format!("x-{i}: {}\r\n", "v".repeat(value)).as_bytes());
            }
            wire.extend_from_slice(b"\r\n");
            wire
        };
        let limits = HeadLimits {
            max_head_bytes: 256 * 1024,
            max_headers: 100,
            ..HeadLimits::default()
        };
        for (wire, lazy) in [
            (many(LAZY_FIELDS, 1), true),
            (many(LAZY_FIELDS + 1, 1), false),
            (many(2, 40_000), false),
        ] {
            let head = take_response_head(&mut BytesMut::from(&wire[..]), &limits)
                .unwrap()
                .unwrap();
            assert_eq!(head.headers.map.get().is_none(), lazy);
            let (eager, _) = parse_response_head(&wire, &limits).unwrap().unwrap();
            assert_eq!(head.headers(), eager.headers());
        }
    }

    /// A decoded body's head loses `Content-Encoding` and `Content-Length`, built or not.
    #[test]
    fn removing_the_representation_fields_built_or_not() {
        let wire = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 9\r\n\
Content-Type: text/plain\r\n\r\n";
        let left: Vec<&str> = vec!["content-type"];
        for build_first in [false, true] {
            let mut headers = take(wire).unwrap().unwrap().into_headers();
            if build_first {
                assert_eq!(headers.get().len(), 3);
            }
            headers.remove_representation();
            let names: Vec<&str> = headers.get().keys().map(|n| n.as_str()).collect();
            assert_eq!(names, left, "built first: {build_first}");
            let kept = take(wire).unwrap().unwrap().into_headers();
            let mut kept_lazy = kept.clone();
            kept_lazy.remove_representation();
            assert_eq!(kept_lazy.into_map().len(), 1);
            assert_eq!(kept.into_map().len(), 3);
        }
    }

    #[test]
    fn taken_head_leaves_the_body_and_its_values_share_one_copy() {
        let wire = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: one\r\nx-a: two\r\n\
Empty:\r\n\r\nhello";
        let mut buf = BytesMut::from(&wire[..]);
        let start = buf.as_ptr() as usize;
        let range = start..start + wire.len();
        let head = take_response_head(&mut buf, &HeadLimits::default())
            .unwrap()
            .unwrap();
        assert_eq!(&buf[..], b"hello");
        assert_eq!(head.status, StatusCode::OK);
        let all: Vec<_> = head.headers().get_all("x-a").iter().collect();
        assert_eq!(all, ["one", "two"]);
        assert_eq!(head.headers()["empty"], "");
        assert_eq!(head.headers()["content-length"], "5");
        // Copied once, out of the read buffer (a map kept does not keep that alive), and
        // not value by value: every value lies in the one copy of the head.
        // Each value's address less its offset in the head: one base for all.
        let bases: Vec<usize> = (head.headers().values())
            .filter(|v| !v.is_empty())
            .map(|v| {
                let at = v.as_bytes().as_ptr() as usize;
                assert!(!range.contains(&at), "{v:?} still in the read buffer");
                let offset = wire.windows(v.len()).position(|w| w == v.as_bytes());
                at - offset.unwrap()
            })
            .collect();
        assert_eq!(bases.len(), 3);
        assert!(
            bases.iter().all(|&b| b == bases[0]),
            "copied apart: {bases:?}"
        );
        // The framing decisions read it as they read a parsed head.
        assert_eq!(crate::proto::content_length(head.headers()), Ok(Some(5)));
    }

    #[test]
    fn heads_with_more_fields_than_fit_inline_keep_them_all_in_order() {
        let mut wire = b"HTTP/1.1 200 OK\r\n".to_vec();
        for i in 0..INLINE_SPANS + 10 {
            wire.extend_from_slice(format!("X-{}: v{i}\r\nSame: {i}\r\n", i % 7).as_bytes());
        }
        wire.extend_from_slice(b"\r\n");
        let copied = parse(&wire).unwrap().unwrap().0;
        let taken = take_response_head(&mut BytesMut::from(&wire[..]), &HeadLimits::default())
            .unwrap()
            .unwrap();
        for head in [copied, taken] {
            assert_eq!(head.headers().len(), 2 * (INLINE_SPANS + 10));
            let same: Vec<String> = head
                .headers()
                .get_all("same")
                .iter()
                .map(|v| v.to_str().unwrap().to_string())
                .collect();
            let want: Vec<String> = (0..INLINE_SPANS + 10).map(|i| i.to_string()).collect();
            assert_eq!(same, want);
            let sixes = (0..INLINE_SPANS + 10).filter(|i| i % 7 == 6).count();
            assert_eq!(head.headers().get_all("x-6").iter().count(), sixes);
            assert_eq!(head.headers()["x-0"], "v0");
        }
    }

    #[test]
    fn a_partial_or_bad_head_is_not_taken() {
        let limits = HeadLimits::default();
        let wire = b"HTTP/1.1 200 OK\r\nA: b\r\n";
        let mut partial = BytesMut::from(&wire[..]);
        assert!(take_response_head(&mut partial, &limits).unwrap().is_none());
        assert_eq!(&partial[..], wire);
        let mut bad = BytesMut::from(&b"HTTP/1.1 200 OK\r\nA: b\x7f\r\n\r\n"[..]);
        assert_eq!(
            take_response_head(&mut bad, &limits).unwrap_err(),
            ProtoError::InvalidHead
        );
        let mut big = BytesMut::from(&b"HTTP/1.1 200 OK\r\nA: bbbbbbbbbb\r\n\r\n"[..]);
        let small = HeadLimits {
            max_head_bytes: 20,
            ..limits
        };
        assert_eq!(
            take_response_head(&mut big, &small).unwrap_err(),
            ProtoError::HeadTooLarge
        );
    }

    #[test]
    fn nginx_head_parses_with_headers_in_order_and_length_consumed() {
        let buf =
            b"HTTP/1.1 200 OK\r\nServer: nginx/1.24.0\r\nDate: Mon, 01 Jan 2024 00:00:00 GMT\r\n\
Content-Type: text/html\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\
Set-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n5\r\nhello";
        let (head, n) = parse(buf).unwrap().unwrap();
        assert_eq!(&buf[n..], b"5\r\nhello");
        assert_eq!(head.version, Version::HTTP_11);
        assert_eq!(head.status, StatusCode::OK);
        assert_eq!(head.headers()["server"], "nginx/1.24.0");
        let cookies: Vec<_> = head.headers().get_all("set-cookie").iter().collect();
        assert_eq!(cookies, ["a=1", "b=2"]);
        assert_eq!(head.kind(), HeadKind::Final);
    }

    #[test]
    fn partial_head_needs_more_bytes() {
        for cut in [
            &b""[..],
            b"HTT",
            b"HTTP/1.1 200 OK\r\n",
            b"HTTP/1.1 200 OK\r\nA: b\r\n\r",
        ] {
            assert!(parse(cut).unwrap().is_none(), "{cut:?}");
        }
    }

    #[test]
    fn http10_head_and_missing_reason_are_accepted() {
        let (head, n) = parse(b"HTTP/1.0 404\r\n\r\n").unwrap().unwrap();
        assert_eq!(n, 16);
        assert_eq!(head.version, Version::HTTP_10);
        assert_eq!(head.status, StatusCode::NOT_FOUND);
    }

    #[test]
    fn leading_empty_lines_and_bare_lf_lines_are_tolerated() {
        let buf = b"\r\n\nHTTP/1.1 204 No Content\nX: y\n\nrest";
        let (head, n) = parse(buf).unwrap().unwrap();
        assert_eq!(&buf[n..], b"rest");
        assert_eq!(head.status, StatusCode::NO_CONTENT);
        assert_eq!(head.headers()["x"], "y");
    }

    #[test]
    fn interim_upgrade_and_final_heads_are_told_apart() {
        let kind = |line: &[u8]| parse(line).unwrap().unwrap().0.kind();
        assert_eq!(kind(b"HTTP/1.1 100 Continue\r\n\r\n"), HeadKind::Interim);
        assert_eq!(kind(b"HTTP/1.1 103 Early Hints\r\n\r\n"), HeadKind::Interim);
        assert_eq!(
            kind(b"HTTP/1.1 101 Switching Protocols\r\n\r\n"),
            HeadKind::Upgrade
        );
        assert_eq!(kind(b"HTTP/1.1 500 Oops\r\n\r\n"), HeadKind::Final);
    }

    #[test]
    fn garbage_status_line_is_an_invalid_head() {
        assert_eq!(
            parse_err(b"<html>hello</html>\r\n\r\n"),
            ProtoError::InvalidHead
        );
        assert_eq!(
            parse_err(b"HTTP/1.1 OK 200\r\n\r\n"),
            ProtoError::InvalidHead
        );
        assert_eq!(parse_err(b"HTTP/1.1 20\r\n\r\n"), ProtoError::InvalidHead);
        assert_eq!(
            parse_err(b"SSH-2.0-OpenSSH_9.6\r\n"),
            ProtoError::InvalidHead
        );
    }

    #[test]
    fn http2_and_other_versions_are_unsupported() {
        assert_eq!(
            parse_err(b"HTTP/2.0 200 OK\r\n\r\n"),
            ProtoError::UnsupportedVersion
        );
        assert_eq!(
            parse_err(b"HTTP/1.2 200 OK\r\n\r\n"),
            ProtoError::UnsupportedVersion
        );
        assert_eq!(
            parse_err(b"\r\nHTTP/3 200\r\n\r\n"),
            ProtoError::UnsupportedVersion
        );
    }

    #[test]
    fn bare_cr_or_nul_in_a_header_is_an_invalid_head() {
        assert_eq!(
            parse_err(b"HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n"),
            ProtoError::InvalidHead
        );
        assert_eq!(
            parse_err(b"HTTP/1.1 200 OK\r\nX: a\0b\r\n\r\n"),
            ProtoError::InvalidHead
        );
        assert_eq!(
            parse_err(b"HTTP/1.1 200 OK\r\nBad Name: v\r\n\r\n"),
            ProtoError::InvalidHead
        );
        assert_eq!(
            parse_err(b"HTTP/1.1 200 OK\r\n folded\r\n\r\n"),
            ProtoError::InvalidHead
        );
    }

    #[test]
    fn too_many_headers_is_refused_at_the_limit_plus_one() {
        let limits = HeadLimits {
            max_head_bytes: 64 * 1024,
            max_headers: 3,
            ..HeadLimits::default()
        };
        let ok = b"HTTP/1.1 200 OK\r\na: 1\r\nb: 2\r\nc: 3\r\n\r\n";
        assert!(parse_response_head(ok, &limits).unwrap().is_some());
        let over = b"HTTP/1.1 200 OK\r\na: 1\r\nb: 2\r\nc: 3\r\nd: 4\r\n\r\n";
        assert_eq!(
            parse_response_head(over, &limits).unwrap_err(),
            ProtoError::TooManyHeaders
        );
    }

    #[test]
    fn default_limit_of_100_headers_holds() {
        let mut head = b"HTTP/1.1 200 OK\r\n".to_vec();
        for i in 0..100 {
            head.extend_from_slice(format!("x-{i}: v\r\n").as_bytes());
        }
        let mut over = head.clone();
        head.extend_from_slice(b"\r\n");
        assert_eq!(parse(&head).unwrap().unwrap().0.headers().len(), 100);
        over.extend_from_slice(b"x-100: v\r\n\r\n");
        assert_eq!(parse_err(&over), ProtoError::TooManyHeaders);
    }

    #[test]
    fn heap_slots_serve_limits_above_the_stack_array() {
        let limits = HeadLimits {
            max_head_bytes: 64 * 1024,
            max_headers: 500,
            ..HeadLimits::default()
        };
        let mut head = b"HTTP/1.1 200 OK\r\n".to_vec();
        for i in 0..300 {
            head.extend_from_slice(format!("x-{i}: v\r\n").as_bytes());
        }
        head.extend_from_slice(b"\r\n");
        let (parsed, _) = parse_response_head(&head, &limits).unwrap().unwrap();
        assert_eq!(parsed.headers().len(), 300);
    }

    #[test]
    fn oversized_head_is_refused_complete_or_not() {
        let limits = HeadLimits {
            max_head_bytes: 40,
            max_headers: 100,
            ..HeadLimits::default()
        };
        let big = b"HTTP/1.1 200 OK\r\nX-Long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
        assert!(big.len() > 40);
        assert_eq!(
            parse_response_head(big, &limits).unwrap_err(),
            ProtoError::HeadTooLarge
        );
        let complete = b"HTTP/1.1 200 OK\r\nX-Long: aaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
        assert_eq!(
            parse_response_head(complete, &limits).unwrap_err(),
            ProtoError::HeadTooLarge
        );
        // A small head followed by a large body is fine.
        let mut small = b"HTTP/1.1 200 OK\r\n\r\n".to_vec();
        small.extend_from_slice(&[b'x'; 100]);
        assert_eq!(parse_response_head(&small, &limits).unwrap().unwrap().1, 19);
    }

    #[test]
    fn partial_head_exactly_at_the_limit_still_needs_more() {
        let limits = HeadLimits {
            max_head_bytes: 21,
            max_headers: 100,
            ..HeadLimits::default()
        };
        let buf = b"HTTP/1.1 200 OK\r\nX: 1";
        assert_eq!(buf.len(), 21);
        assert!(parse_response_head(buf, &limits).unwrap().is_none());
    }

    #[test]
    fn obs_text_in_values_is_kept() {
        let (head, _) = parse(b"HTTP/1.1 200 OK\r\nX: caf\xe9\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(head.headers()["x"].as_bytes(), b"caf\xe9");
    }
}

#[cfg(test)]
mod lenient_tests {
    use super::*;

    const ALL: Lenient = Lenient {
        spaces_after_name: true,
        obsolete_folding: true,
        invalid_fields: true,
        http09: false,
    };

    /// The head read by both entry points with `lenient`: its fields as (name, value)
    /// pairs, or the error; the two must agree.
    fn read(wire: &str, lenient: Lenient) -> Result<Fields, ProtoError> {
        let limits = HeadLimits {
            lenient,
            ..HeadLimits::default()
        };
        let fields = |head: &ResponseHead| {
            head.headers()
                .iter()
                .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec()))
                .collect::<Vec<_>>()
        };
        let eager = parse_response_head(wire.as_bytes(), &limits).map(|r| {
            let (head, len) = r.expect("complete");
            assert_eq!(len, wire.len());
            fields(&head)
        });
        let mut buf = BytesMut::from(wire.as_bytes());
        let taken = take_response_head(&mut buf, &limits).map(|h| fields(&h.expect("complete")));
        assert_eq!(eager, taken, "{wire:?}");
        eager
    }

    type Fields = Vec<(String, Vec<u8>)>;

    fn pairs(list: &[(&str, &str)]) -> Fields {
        list.iter()
            .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn each_forbidden_form_fails_strictly_and_is_read_when_allowed() {
        let only = |f: fn(&mut Lenient)| {
            let mut l = Lenient::STRICT;
            f(&mut l);
            l
        };
        let cases: [(&str, Lenient, Fields); 3] = [
            (
                "HTTP/1.1 200 OK\r\nServer : old\r\nContent-Length: 0\r\n\r\n",
                only(|l| l.spaces_after_name = true),
                pairs(&[("server", "old"), ("content-length", "0")]),
            ),
            (
                "HTTP/1.1 200 OK\r\nX-Long: one\r\n two\r\n\tthree\r\nContent-Length: 0\r\n\r\n",
                only(|l| l.obsolete_folding = true),
                pairs(&[("x-long", "one   two  \tthree"), ("content-length", "0")]),
            ),
            (
                "HTTP/1.1 200 OK\r\nthis line is no field\r\nX-Ok: 1\r\nBad\x01Name: 2\r\n\r\n",
                only(|l| l.invalid_fields = true),
                pairs(&[("x-ok", "1")]),
            ),
        ];
        for (wire, lenient, want) in cases {
            assert_eq!(
                read(wire, Lenient::STRICT),
                Err(ProtoError::InvalidHead),
                "{wire:?}"
            );
            assert_eq!(read(wire, lenient), Ok(want.clone()), "{wire:?}");
            assert_eq!(read(wire, ALL), Ok(want), "{wire:?}");
        }
    }

    #[test]
    fn leniency_changes_nothing_for_a_valid_head_and_still_refuses_a_broken_status_line() {
        let wire = "HTTP/1.1 200 OK\r\nA: 1\r\nB: x y\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(read(wire, ALL), read(wire, Lenient::STRICT));
        assert!(read("HTTP/1.1 2x0 OK\r\nA: 1\r\n\r\n", ALL).is_err());
        // A fold on the first field line has nothing to continue.
        assert!(read("HTTP/1.1 200 OK\r\n folded: 1\r\n\r\n", ALL)
            .map_or(true, |f| f.iter().all(|(n, _)| n != " folded")));
    }
}

#[cfg(test)]
#[path = "response_plain_tests.rs"]
mod plain_tests;
