//! A request's URL: [`Target`].
//!
//! The `url` crate's WHATWG parse is the largest single cost of a small request made from
//! a string (IDNA processing of the host, percent-encoding checks, the URL written out
//! again): about 7,000 instructions, a third of a 1 KiB GET. The per-thread memo
//! (`url_memo.rs`) saves it for strings sent again; a crawler's strings rarely come back.
//! So a *plain* string, one already in the form the parse would give back, is only
//! checked and split here ([`check_plain`]): `http` or `https`, a lower-case host name or
//! dotted IPv4 address, an explicit port other than the scheme's default, a path of the
//! characters RFC 3986 allows unescaped (no dot segments), and a query likewise; no
//! userinfo, no fragment. What a request needs of it (the origin, the request target, the
//! `Host` value) comes from those pieces, and the `url::Url` is made only when something
//! asks for it (`Response::url`, a redirect, cookies, an error). Every other string takes
//! the parse, through the memo.
//!
//! A string the check passes is one the parse accepts and gives back unchanged, with the
//! same pieces: the tests hold the two side by side over many generated strings.

use std::cell::RefCell;
use std::sync::{Arc, OnceLock};

use url::Url;

use super::url_memo::Memo;
use crate::conn::{Origin, Scheme};
use crate::proto::UrlParts;

/// Longer strings take the parse.
const PLAIN_MAX: usize = 2048;

/// A request's URL, checked; parsed by the `url` crate at once, or when asked for.
///
/// 48 bytes, moved with the request and its response through the layers: the parse is
/// boxed, and a plain string's pieces are 16-bit offsets into it.
#[derive(Clone)]
pub struct Target {
    /// Set while the URL is the plain string it was given as.
    plain: Option<Plain>,
    /// The parse: made at once for a string that is not plain, on demand for one that is.
    url: OnceLock<Box<Url>>,
}

/// A plain URL string (at most [`PLAIN_MAX`] bytes) and where its pieces are. The text is
/// shared with the per-thread memo, so a string sent again is not copied.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Plain {
    text: Arc<str>,
    /// The host: `text[host_at..host_end]`.
    host_at: u16,
    host_end: u16,
    /// Where the path starts (its `/`); the query, if any, starts after `query_at` (`?`).
    path_at: u16,
    query_at: Option<u16>,
    /// An explicit port (never the scheme's default).
    port: Option<u16>,
    scheme: Scheme,
}

impl Plain {
    fn host(&self) -> &str {
        &self.text[usize::from(self.host_at)..usize::from(self.host_end)]
    }

    /// `scheme://host[:port]`.
    fn authority(&self) -> &str {
        &self.text[..usize::from(self.path_at)]
    }

    /// `host[:port]` as written: the port, when there is one, is explicit, not the
    /// scheme's default and without leading zeros, so this is what a head writes.
    fn host_and_port(&self) -> Option<&str> {
        self.text
            .get(usize::from(self.host_at)..usize::from(self.path_at))
    }

    #[inline]
    fn path_and_query(&self) -> (&str, Option<&str>) {
        let path_at = usize::from(self.path_at);
        match self.query_at.map(usize::from) {
            Some(q) => (&self.text[path_at..q], Some(&self.text[q + 1..])),
            None => (&self.text[path_at..], None),
        }
    }
}

impl Target {
    /// A URL already parsed, kept as it is.
    fn parsed(url: Url) -> Target {
        Target {
            plain: None,
            url: OnceLock::from(Box::new(url)),
        }
    }

    /// A parsed URL whose text is plain is taken as that text (shared with the memo of
    /// plain strings), so that it costs a request what the same string would: no box for
    /// the parse, no origin rebuilt from it, no copy of its text. The parse is dropped and,
    /// if something asks for it, made again through the memo. Any other URL is kept as
    /// it is.
    pub(crate) fn from_url(url: Url) -> Target {
        match plain_url(&url) {
            Some(plain) => Target::plain(plain),
            None => Target::parsed(url),
        }
    }

    /// [`Target::from_url`] of a borrowed URL: a plain one is not cloned at all.
    pub(crate) fn from_url_ref(url: &Url) -> Target {
        match plain_url(url) {
            Some(plain) => Target::plain(plain),
            None => Target::parsed(url.clone()),
        }
    }

    fn plain(plain: Plain) -> Target {
        Target {
            plain: Some(plain),
            url: OnceLock::new(),
        }
    }

    /// A string: checked and split when plain, parsed (through the memo) otherwise.
    #[inline]
    pub(crate) fn from_str(s: &str) -> Result<Target, url::ParseError> {
        match remembered_plain(s) {
            Some(plain) => Ok(Target::plain(plain)),
            None => super::url_memo::parse(s).map(Target::parsed),
        }
    }

    /// The URL as the `url` crate has it (parsed now if it was not yet).
    pub(crate) fn url(&self) -> &Url {
        self.url.get_or_init(|| {
            Box::new(match &self.plain {
                Some(plain) => parse_plain(&plain.text),
                None => fallback_url(),
            })
        })
    }

    /// The URL, taken.
    pub(crate) fn into_url(self) -> Url {
        match self.url.into_inner() {
            Some(url) => *url,
            None => match &self.plain {
                Some(plain) => parse_plain(&plain.text),
                None => fallback_url(),
            },
        }
    }

    /// The URL as a string (the parse's serialization, which a plain string already is).
    pub(crate) fn as_str(&self) -> &str {
        match &self.plain {
            Some(plain) => &plain.text,
            None => self.url().as_str(),
        }
    }

    /// Whether the URL carries userinfo (a plain string never does).
    pub(crate) fn has_credentials(&self) -> bool {
        self.plain.is_none() && {
            let url = self.url();
            !url.username().is_empty() || url.password().is_some()
        }
    }

    /// The pool's key for this URL; `None` when it is not http(s) or has no host.
    #[inline]
    pub(crate) fn origin(&self) -> Option<Origin> {
        match &self.plain {
            Some(plain) => Some(super::url_memo::plain_origin(
                plain.authority(),
                plain.scheme,
                plain.host(),
                plain.port.unwrap_or(default_port(plain.scheme)),
            )),
            None => super::url_memo::origin_of(self.url()),
        }
    }

    /// What the request head is written from.
    #[inline]
    pub(crate) fn parts(&self) -> UrlParts<'_> {
        match &self.plain {
            Some(p) => {
                let (path, query) = p.path_and_query();
                UrlParts {
                    scheme: p.scheme.as_str(),
                    host: Some(p.host()),
                    port: p.port,
                    path,
                    query,
                    authority: p.host_and_port(),
                    len: p.text.len(),
                }
            }
            None => UrlParts::of(self.url()),
        }
    }
}

impl From<Url> for Target {
    fn from(url: Url) -> Target {
        Target::from_url(url)
    }
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Target").field(&self.as_str()).finish()
    }
}

fn default_port(scheme: Scheme) -> u16 {
    match scheme {
        Scheme::Http => 80,
        Scheme::Https => 443,
    }
}

/// The parse of a string [`check_plain`] passed (through the memo, which gives back the
/// parse of a string seen lately). The check only passes strings the parse takes; were
/// one refused, the URL would read `http://invalid.invalid/` rather than panic.
fn parse_plain(text: &str) -> Url {
    match super::url_memo::parse(text) {
        Ok(url) => url,
        Err(_) => {
            debug_assert!(false, "a plain URL the parser refused: {text:?}");
            fallback_url()
        }
    }
}

/// What a URL reads when there is none to give (a state the checks rule out).
fn fallback_url() -> Url {
    static FALLBACK: OnceLock<Url> = OnceLock::new();
    FALLBACK
        .get_or_init(|| Url::parse("http://invalid.invalid/").expect("a constant URL parses"))
        .clone()
}

thread_local! {
    /// The plain strings this thread checked lately.
    static PLAINS: RefCell<Memo<Plain>> = const { RefCell::new(Memo::new()) };
}

/// The text of `url` checked as a plain string (`remembered_plain`).
#[inline(never)]
fn plain_url(url: &Url) -> Option<Plain> {
    remembered_plain(url.as_str())
}

/// [`check_plain`], from this thread's memo when `s` was checked lately: a hit is a hash,
/// a comparison and a copy of the string, where the check reads every byte with the
/// rules. (A string sent again, an SDK's endpoint, is the common case.)
// Inline: its one other caller is `plain_url`, and a string's request is the hot path.
#[inline(always)]
fn remembered_plain(s: &str) -> Option<Plain> {
    if s.len() > PLAIN_MAX {
        return None;
    }
    let hash = super::url_memo::hash_of(s);
    let hit = PLAINS
        .try_with(|memo| {
            let memo = memo.try_borrow().ok()?;
            memo.find(hash, |p| &*p.text == s).cloned()
        })
        .ok()
        .flatten();
    if hit.is_some() {
        return hit;
    }
    let plain = check_plain(s)?;
    let _ = PLAINS.try_with(|memo| {
        if let Ok(mut memo) = memo.try_borrow_mut() {
            memo.missed(hash, || Some(plain.clone()));
        }
    });
    Some(plain)
}

/// `s` split into its pieces when it is a plain URL (see the module's notes); `None`
/// sends it to the parse.
fn check_plain(s: &str) -> Option<Plain> {
    if s.len() > PLAIN_MAX {
        return None;
    }
    let b = s.as_bytes();
    let (scheme, host_at) = if b.starts_with(b"http://") {
        (Scheme::Http, 7)
    } else if b.starts_with(b"https://") {
        (Scheme::Https, 8)
    } else {
        return None;
    };
    let host_end = plain_host(b, host_at)?;
    let (port, path_at) = if b[host_end] == b':' {
        let digits_at = host_end + 1;
        let end = digits_at + b[digits_at..].iter().position(|&c| c == b'/')?;
        let port = plain_port(&b[digits_at..end])?;
        if port == default_port(scheme) {
            return None;
        }
        (Some(port), end)
    } else {
        (None, host_end)
    };
    let query_at = plain_path_and_query(b, path_at)?;
    // Offsets fit in 16 bits: the string is at most PLAIN_MAX bytes.
    let at = |i: usize| u16::try_from(i).ok();
    Some(Plain {
        text: s.into(),
        host_at: at(host_at)?,
        host_end: at(host_end)?,
        path_at: at(path_at)?,
        query_at: match query_at {
            Some(q) => Some(at(q)?),
            None => None,
        },
        port,
        scheme,
    })
}

/// The end of the host starting at `at` (the `:` or `/` after it), when it is a dotted
/// IPv4 address in its normal form (four decimal octets, no leading zeros), or a name of
/// lower-case letters, digits and hyphens in dot-separated labels of 1 to 63, none
/// starting `xn--` (the parse decodes those), the last starting with a letter (the parse
/// reads a host whose last label is a number as an IPv4 address). One pass over the host
/// finds its end and checks its labels, and its octets should it be an address: a byte
/// costs a table lookup, only a dot more.
fn plain_host(b: &[u8], at: usize) -> Option<usize> {
    let rest = b.get(at..)?;
    // The bits every byte of the host has (`DIGIT_OR_DOT` stays for an address), its
    // labels, and whether each is an octet in normal form.
    let mut all = HOST_OR_DOT | DIGIT_OR_DOT;
    let (mut labels, mut octets) = (0, true);
    let mut label = |label: &[u8]| {
        labels += 1;
        octets &= octet_normal(label);
        !label.is_empty() && label.len() <= 63 && !label.starts_with(b"xn--")
    };
    let (mut len, mut label_at) = (0, 0);
    let end = loop {
        let c = *rest.get(len)?;
        let class = CLASSES[usize::from(c)];
        if class & HOST_OR_DOT == 0 {
            break c;
        }
        all &= class;
        if c == b'.' {
            if !label(&rest[label_at..len]) {
                return None;
            }
            label_at = len + 1;
        }
        len += 1;
    };
    if !matches!(end, b':' | b'/') || !label(&rest[label_at..len]) {
        return None;
    }
    let ok = if all & DIGIT_OR_DOT != 0 {
        octets && labels == 4
    } else {
        len <= 253 && rest.get(label_at).is_some_and(u8::is_ascii_lowercase)
    };
    ok.then_some(at + len)
}

/// Whether `label`, if it is all digits, is an octet of at most 255 without a leading
/// zero.
#[inline]
fn octet_normal(label: &[u8]) -> bool {
    let digit = |d: u8| u32::from(d.wrapping_sub(b'0'));
    match *label {
        [_] => true,
        [a, _] => a != b'0',
        [a, b, c] => a != b'0' && digit(a) * 100 + digit(b) * 10 + digit(c) <= 255,
        _ => false,
    }
}

/// 1 to 65535 without leading zeros.
fn plain_port(digits: &[u8]) -> Option<u16> {
    if digits.first().is_none_or(|&c| c == b'0') || digits.len() > 5 {
        return None;
    }
    parse_digits(digits)
        .and_then(|n| u16::try_from(n).ok())
        .filter(|&n| n > 0)
}

/// Up to 9 decimal digits (callers allow 5 at most).
fn parse_digits(digits: &[u8]) -> Option<u32> {
    if digits.len() > 9 {
        return None;
    }
    let mut n = 0u32;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n * 10 + u32::from(c - b'0');
    }
    Some(n)
}

/// A host name's byte (a lower-case letter, a digit or `-`) or a dot.
const HOST_OR_DOT: u8 = 1;
/// A path segment's byte (RFC 3986's `pchar` but `%`).
const PATH: u8 = 2;
/// A query's byte (the same, `/` and `?`, but not `'`, which the parse escapes in the
/// query of an http(s) URL).
const QUERY: u8 = 4;
/// A digit or a dot.
const DIGIT_OR_DOT: u8 = 8;

/// Bytes by what they may be in a plain URL: `HOST_OR_DOT`, `PATH`, `QUERY` and
/// `DIGIT_OR_DOT` bits.
const CLASSES: [u8; 256] = {
    let mut t = [0u8; 256];
    let others = b"-._~!$&'()*+,;=:@";
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        if b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.' {
            t[c] |= HOST_OR_DOT;
        }
        if b.is_ascii_digit() || b == b'.' {
            t[c] |= DIGIT_OR_DOT;
        }
        let mut pchar = b.is_ascii_alphanumeric();
        let mut i = 0;
        while i < others.len() {
            pchar |= others[i] == b;
            i += 1;
        }
        if pchar {
            t[c] |= PATH;
        }
        if (pchar || b == b'/' || b == b'?') && b != b'\'' {
            t[c] |= QUERY;
        }
        c += 1;
    }
    t
};

/// From `path_at` (a `/`) to the end, in one pass: a path of segments of [`CLASSES`]
/// path bytes (RFC 3986's unreserved and sub-delimiter characters, `:` and `@`, which
/// both RFC 3986 and the WHATWG parse leave as they are) and `%XX` escapes, none of them
/// a dot segment (`.` or `..`, however escaped), which the parse would remove; then,
/// after a `?`, a query of query bytes and escapes. `Some(where the `?` is)` when it is
/// all plain. A byte of its part costs a table lookup; only the others are looked at.
fn plain_path_and_query(b: &[u8], path_at: usize) -> Option<Option<usize>> {
    if b.get(path_at) != Some(&b'/') {
        return None;
    }
    let mut query_at = None;
    let mut segment_at = path_at + 1;
    let mut class = PATH;
    let mut i = segment_at;
    while let Some(&c) = b.get(i) {
        if CLASSES[usize::from(c)] & class != 0 {
            i += 1;
            continue;
        }
        match c {
            b'%' => {
                if !b.get(i + 1..i + 3)?.iter().all(u8::is_ascii_hexdigit) {
                    return None;
                }
                i += 3;
                continue;
            }
            // In the path (in the query both are query bytes).
            b'/' | b'?' => {
                if dot_segment(&b[segment_at..i]) {
                    return None;
                }
                segment_at = i + 1;
                if c == b'?' {
                    query_at = Some(i);
                    class = QUERY;
                }
            }
            _ => return None,
        }
        i += 1;
    }
    if query_at.is_none() && dot_segment(&b[segment_at..]) {
        return None;
    }
    Some(query_at)
}

/// `.` or `..`, each dot possibly escaped as `%2e`. Inline: most segments start with
/// neither, and are told so at once.
#[inline]
fn dot_segment(segment: &[u8]) -> bool {
    if !matches!(segment.first(), Some(b'.' | b'%')) {
        return false;
    }
    let dot = |s: &[u8]| s == b"." || s.eq_ignore_ascii_case(b"%2e");
    match segment.len() {
        1 | 3 => dot(segment),
        2 => segment == b"..",
        4 => dot(&segment[..1]) && dot(&segment[1..]) || dot(&segment[..3]) && dot(&segment[3..]),
        6 => dot(&segment[..3]) && dot(&segment[3..]),
        _ => false,
    }
}

#[cfg(test)]
#[path = "target_tests.rs"]
mod tests;
