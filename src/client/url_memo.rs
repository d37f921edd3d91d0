//! The URLs this thread parsed last, so that a string URL sent again is not parsed again.
//!
//! Parsing is a pure function of the string, and the `url` crate's WHATWG parser is the
//! largest single cost of a small request made from a string (IDNA processing of the host,
//! percent-encoding checks of the path, the host written out again): about 28% of the
//! instructions of a 1 KiB GET. Applications send the same strings again and again (an
//! SDK's endpoints, a health check, a benchmark), so each thread keeps URLs it parsed in
//! [`SLOTS`] places chosen by a hash of the string ([`Memo`]): one that missed twice in a
//! row at its place is kept there. A URL is kept only when it reads back as the very
//! string given (already in the parser's normal form), so a hit is one string comparison
//! and a clone, and no entry ever stands for a different string. A crawler, whose strings
//! rarely come back, pays the hash and a tag written per miss, and evicts nothing; strings
//! longer than [`MAX_LEN`] are not kept, nor URLs with userinfo (a password is not left
//! lying in a thread's memo).
//!
//! Each place also keeps the URL's origin (the pool's key, its hash computed once), which
//! `send` asks for with [`origin_of`] instead of building it again from the URL.

use std::cell::RefCell;

use url::Url;

use crate::conn::{Origin, Scheme};

/// A URL kept, and its origin (`None` for a URL that is not http(s)).
struct Kept {
    url: Url,
    origin: Option<Origin>,
}

/// Places per thread.
pub(crate) const SLOTS: usize = 64;
/// Longer strings are parsed every time.
const MAX_LEN: usize = 512;

thread_local! {
    static MEMO: RefCell<Memo<Kept>> = const { RefCell::new(Memo::new()) };
}

/// A thread's answers for strings it was asked about lately, in [`SLOTS`] places picked
/// by a hash of the string ([`hash_of`]). An answer is kept at the string's second miss
/// in a row at its place: a string sent again and again (an SDK's endpoint) is answered
/// from here from its third use, and a crawler's strings, each seen once in a long while,
/// cost the memo a tag written, not an answer copied in and another one dropped.
pub(crate) struct Memo<T> {
    places: Vec<Place<T>>,
}

struct Place<T> {
    kept: Option<T>,
    /// A tag of the hash of the last string that missed here.
    missed: u32,
}

impl<T> Memo<T> {
    pub const fn new() -> Memo<T> {
        Memo { places: Vec::new() }
    }

    /// What is kept at the place of `hash`, if `matches` takes it.
    pub fn find(&self, hash: u64, matches: impl FnOnce(&T) -> bool) -> Option<&T> {
        let kept = self.places.get(place_of(hash))?.kept.as_ref()?;
        matches(kept).then_some(kept)
    }

    /// A string of `hash` was not found: when it also missed last time at its place, its
    /// answer (`make`, if any) is kept there.
    pub fn missed(&mut self, hash: u64, make: impl FnOnce() -> Option<T>) {
        let tag = hash as u32;
        let Some(place) = self.place(hash) else {
            return;
        };
        if place.missed != tag {
            place.missed = tag;
        } else if let Some(answer) = make() {
            place.kept = Some(answer);
        }
    }

    /// Keeps `answer` at the place of `hash` at once, for answers as cheap to keep as to
    /// drop (a clone that counts a reference).
    pub fn keep(&mut self, hash: u64, answer: T) {
        if let Some(place) = self.place(hash) {
            place.kept = Some(answer);
        }
    }

    fn place(&mut self, hash: u64) -> Option<&mut Place<T>> {
        if self.places.is_empty() {
            self.places.resize_with(SLOTS, || Place {
                kept: None,
                missed: 0,
            });
        }
        self.places.get_mut(place_of(hash))
    }

    /// Everything kept.
    #[cfg(test)]
    pub fn kept(&self) -> impl Iterator<Item = &T> {
        self.places.iter().filter_map(|p| p.kept.as_ref())
    }
}

/// `Url::parse(s)`, from this thread's memo when `s` was parsed lately.
pub(crate) fn parse(s: &str) -> Result<Url, url::ParseError> {
    if s.len() > MAX_LEN {
        return Url::parse(s);
    }
    let hash = hash_of(s);
    let hit = MEMO
        .try_with(|memo| {
            let memo = memo.try_borrow().ok()?;
            memo.find(hash, |k| k.url.as_str() == s)
                .map(|k| k.url.clone())
        })
        .ok()
        .flatten();
    if let Some(url) = hit {
        return Ok(url);
    }
    let url = Url::parse(s)?;
    let _ = MEMO.try_with(|memo| {
        if let Ok(mut memo) = memo.try_borrow_mut() {
            memo.missed(hash, || {
                let normal = url.as_str() == s;
                (normal && url.username().is_empty() && url.password().is_none()).then(|| Kept {
                    url: url.clone(),
                    origin: Origin::from_url(&url),
                })
            });
        }
    });
    Ok(url)
}

/// The origin of `url`, from this thread's memo when the URL is kept there;
/// `Origin::from_url` otherwise.
pub(crate) fn origin_of(url: &Url) -> Option<Origin> {
    let s = url.as_str();
    let kept = if s.len() > MAX_LEN {
        None
    } else {
        MEMO.try_with(|memo| {
            let memo = memo.try_borrow().ok()?;
            let kept = memo.find(hash_of(s), |k| k.url.as_str() == s)?;
            Some(kept.origin.clone())
        })
        .ok()
        .flatten()
    };
    kept.unwrap_or_else(|| Origin::from_url(url))
}

thread_local! {
    static ORIGINS: RefCell<Memo<Origin>> = const { RefCell::new(Memo::new()) };
}

/// `Origin::new(scheme, host, port)`, from this thread's memo of the origins made lately
/// for plain URL strings (`target.rs`), which need no parse: a hit is a comparison and a
/// clone, where a new origin is a keyed hash (and an allocation, for a host too long to
/// keep inline). `authority` is the string's `scheme://host[:port]`, whose hash picks the
/// place.
///
/// An origin is kept at its first miss, not its second as a URL is: keeping one costs a
/// copy or a reference counted, and the first request to a host puts its origin in the
/// pool's map as the host's key. With a long host, later requests then bring that same
/// origin, whose host the map's comparison finds equal by address; kept at the second
/// miss, every later key would be another allocation of the same host, compared byte by
/// byte.
#[inline]
pub(crate) fn plain_origin(authority: &str, scheme: Scheme, host: &str, port: u16) -> Origin {
    let hash = hash_of(authority);
    let same = |o: &Origin| {
        o.port() == port && o.scheme() == scheme && o.host_is(host) && o.proxy().is_none()
    };
    let hit = ORIGINS
        .try_with(|memo| memo.try_borrow().ok()?.find(hash, same).cloned())
        .ok()
        .flatten();
    if let Some(origin) = hit {
        return origin;
    }
    let origin = Origin::new(scheme, host, port);
    let _ = ORIGINS.try_with(|memo| {
        if let Ok(mut memo) = memo.try_borrow_mut() {
            memo.keep(hash, origin.clone());
        }
    });
    origin
}

/// A multiply-rotate hash of the bytes of `s`, 8 at a time. Collisions only cost a miss,
/// so it need not resist chosen strings.
pub(crate) fn hash_of(s: &str) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mut h = s.len() as u64;
    let mut chunks = s.as_bytes().chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(word)).wrapping_mul(K);
    }
    for &b in chunks.remainder() {
        h = (h.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
    }
    h
}

/// The place of a hash in a memo (its high half; the low half tags a miss).
fn place_of(hash: u64) -> usize {
    (hash >> 32) as usize % SLOTS
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The URLs this thread's memo holds.
    fn kept() -> Vec<String> {
        MEMO.with(|m| {
            m.borrow()
                .kept()
                .map(|k| k.url.as_str().to_owned())
                .collect()
        })
    }

    #[test]
    fn a_string_parsed_again_comes_from_the_memo_and_equals_a_fresh_parse() {
        let cases = [
            "http://127.0.0.1:8080/a?b=c",
            "https://example.com/",
            // Not in normal form: parsed every time, and never kept.
            "HTTP://EXAMPLE.com:80/x/../y",
            "http://h/a b",
            "http://xn--nxasmq6b.example/%7e",
        ];
        for s in cases {
            let first = parse(s).expect("parses");
            let again = parse(s).expect("parses");
            let fresh = Url::parse(s).expect("parses");
            assert_eq!(first, fresh, "{s}");
            assert_eq!(again, fresh, "{s}");
        }
        let kept = kept();
        assert!(kept.contains(&"http://127.0.0.1:8080/a?b=c".to_owned()));
        assert!(
            kept.iter()
                .all(|u| Url::parse(u).is_ok_and(|p| p.as_str() == u)),
            "only strings in normal form are kept: {kept:?}"
        );
        assert!(!kept.iter().any(|u| u.contains("EXAMPLE")));
    }

    #[test]
    fn origins_come_from_the_memo_and_equal_fresh_ones() {
        let cases = [
            "http://127.0.0.1:8080/a",
            "https://example.com/x",
            "HTTPS://Example.COM:443/y",
            "http://user:pw@h.test/",
            "ftp://h.test/",
        ];
        for s in cases {
            // Kept at its second miss.
            let _ = parse(s);
            let url = parse(s).expect("parses");
            assert_eq!(origin_of(&url), Origin::from_url(&url), "{s}");
        }
        let kept_origin = MEMO.with(|m| {
            m.borrow()
                .kept()
                .find(|k| k.url.as_str() == "http://127.0.0.1:8080/a")
                .map(|k| k.origin.clone())
        });
        let url = Url::parse("http://127.0.0.1:8080/a").expect("parses");
        assert_eq!(kept_origin, Some(Origin::from_url(&url)));
        // More URLs than places, all parsed before their origins are asked for: most
        // places now hold another URL, and each still gets its own origin.
        let urls: Vec<Url> = (0..3 * SLOTS)
            .map(|i| parse(&format!("http://h{i}.test:{}/", 1000 + i)).expect("parses"))
            .collect();
        for (i, url) in urls.iter().enumerate() {
            assert_eq!(origin_of(url).map(|o| o.port()), Some(1000 + i as u16));
        }
    }

    #[test]
    fn plain_origins_come_back_from_the_memo_only_for_the_same_host_port_and_scheme() {
        let mut made = Vec::new();
        for round in 0..2 {
            for i in 0..(3 * SLOTS) {
                let (scheme, port) = if i % 2 == 0 {
                    (Scheme::Http, 1000 + i as u16)
                } else {
                    (Scheme::Https, 443)
                };
                let host = format!("h{}.test", i % 40);
                let authority = format!("{}://{host}:{port}", scheme.as_str());
                let origin = plain_origin(&authority, scheme, &host, port);
                assert_eq!(origin, Origin::new(scheme, &host, port), "round {round}");
                made.push(origin);
            }
        }
        // An origin is kept at its first miss, and from then on comes from the memo: for
        // a host too long to keep inline, the same allocation as the first one made (the
        // pool's key for the host).
        let long = "a-host-name-too-long-to-keep-inline.test";
        let authority = format!("http://{long}:1000");
        let ask = || plain_origin(&authority, Scheme::Http, long, 1000);
        let (first, second) = (ask(), ask());
        assert!(std::ptr::eq(first.host(), second.host()));
    }

    #[test]
    fn urls_with_userinfo_are_never_kept() {
        for s in ["http://user:secret@h.test/a", "http://user@h.test/b"] {
            assert_eq!(parse(s).ok(), Url::parse(s).ok());
            assert_eq!(parse(s).ok(), Url::parse(s).ok());
        }
        let kept = kept();
        assert!(!kept.iter().any(|u| u.contains('@')), "{kept:?}");
    }

    #[test]
    fn strings_sharing_a_place_replace_each_other_and_errors_are_not_kept() {
        // More strings than places: every answer still equals a fresh parse.
        for round in 0..2 {
            for i in 0..(3 * SLOTS) {
                let s = format!("http://host{i}.test/p{i}");
                assert_eq!(parse(&s).ok(), Url::parse(&s).ok(), "round {round}: {s}");
            }
        }
        assert!(parse("http://[::1").is_err());
        assert!(parse("http://[::1").is_err());
        assert!(parse("not a url").is_err());
        let long = format!("http://h/{}", "a".repeat(MAX_LEN));
        assert_eq!(parse(&long).ok(), Url::parse(&long).ok());
    }
}
