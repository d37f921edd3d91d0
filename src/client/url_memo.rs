//! The URLs this thread parsed last, so that a string URL sent again is not parsed again.
//!
//! Parsing is a pure function of the string, and the `url` crate's WHATWG parser is the
//! largest single cost of a small request made from a string (IDNA processing of the host,
//! percent-encoding checks of the path, the host written out again): about 28% of the
//! instructions of a 1 KiB GET. Applications send the same strings again and again (an
//! SDK's endpoints, a health check, a benchmark), so each thread keeps the last URL it
//! parsed in each of [`SLOTS`] places chosen by a hash of the string. A URL is kept only
//! when it reads back as the very string given (already in the parser's normal form), so
//! a hit is one string comparison and a clone, and no entry ever stands for a different
//! string. A crawler, whose strings rarely come back, pays the hash and one clone per
//! parse on a miss; strings longer than [`MAX_LEN`] are not kept, nor URLs with userinfo
//! (a password is not left lying in a thread's memo).
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
const SLOTS: usize = 64;
/// Longer strings are parsed every time.
const MAX_LEN: usize = 512;

thread_local! {
    static MEMO: RefCell<Vec<Option<Kept>>> = const { RefCell::new(Vec::new()) };
}

/// `Url::parse(s)`, from this thread's memo when `s` was parsed lately.
pub(crate) fn parse(s: &str) -> Result<Url, url::ParseError> {
    if s.len() > MAX_LEN {
        return Url::parse(s);
    }
    let slot = slot_of(s);
    let hit = MEMO
        .try_with(|memo| {
            let memo = memo.try_borrow().ok()?;
            memo.get(slot)?
                .as_ref()
                .filter(|k| k.url.as_str() == s)
                .map(|k| k.url.clone())
        })
        .ok()
        .flatten();
    if let Some(url) = hit {
        return Ok(url);
    }
    let url = Url::parse(s)?;
    if url.as_str() == s && url.username().is_empty() && url.password().is_none() {
        let _ = MEMO.try_with(|memo| {
            if let Ok(mut memo) = memo.try_borrow_mut() {
                if memo.is_empty() {
                    memo.resize_with(SLOTS, || None);
                }
                if let Some(place) = memo.get_mut(slot) {
                    *place = Some(Kept {
                        url: url.clone(),
                        origin: Origin::from_url(&url),
                    });
                }
            }
        });
    }
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
            let kept = memo.get(slot_of(s))?.as_ref()?;
            (kept.url.as_str() == s).then(|| kept.origin.clone())
        })
        .ok()
        .flatten()
    };
    kept.unwrap_or_else(|| Origin::from_url(url))
}

thread_local! {
    static ORIGINS: RefCell<Vec<Option<Origin>>> = const { RefCell::new(Vec::new()) };
}

/// `Origin::new(scheme, host, port)`, from this thread's memo of the origins made lately
/// for plain URL strings (`target.rs`), which need no parse: a hit is a comparison and a
/// clone, where a new origin is an allocation and a keyed hash. `authority` is the
/// string's `scheme://host[:port]`, whose hash picks the place.
pub(crate) fn plain_origin(authority: &str, scheme: Scheme, host: &str, port: u16) -> Origin {
    let slot = slot_of(authority);
    let same = |o: &Origin| {
        o.port() == port && o.scheme() == scheme && o.host() == host && o.proxy().is_none()
    };
    let hit = ORIGINS
        .try_with(|memo| {
            let memo = memo.try_borrow().ok()?;
            memo.get(slot)?.as_ref().filter(|o| same(o)).cloned()
        })
        .ok()
        .flatten();
    if let Some(origin) = hit {
        return origin;
    }
    let origin = Origin::new(scheme, host, port);
    let _ = ORIGINS.try_with(|memo| {
        if let Ok(mut memo) = memo.try_borrow_mut() {
            if memo.is_empty() {
                memo.resize_with(SLOTS, || None);
            }
            if let Some(place) = memo.get_mut(slot) {
                *place = Some(origin.clone());
            }
        }
    });
    origin
}

/// The place of `s`: a multiply-rotate hash of its bytes, 8 at a time. Collisions only
/// cost a miss, so it need not resist chosen strings.
pub(crate) fn slot_of(s: &str) -> usize {
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
    (h >> 32) as usize % SLOTS
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The URLs this thread's memo holds.
    fn kept() -> Vec<String> {
        MEMO.with(|m| {
            m.borrow()
                .iter()
                .flatten()
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
            let url = parse(s).expect("parses");
            assert_eq!(origin_of(&url), Origin::from_url(&url), "{s}");
        }
        let kept_origin = MEMO.with(|m| {
            m.borrow()
                .iter()
                .flatten()
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
        // Asked again at once, an origin comes from the memo: the same host allocation.
        let again = plain_origin("http://h0.test:1000", Scheme::Http, "h0.test", 1000);
        let first = plain_origin("http://h0.test:1000", Scheme::Http, "h0.test", 1000);
        assert!(std::ptr::eq(again.host(), first.host()));
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
