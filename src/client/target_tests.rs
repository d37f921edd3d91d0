use super::*;

/// Holds a plain string's pieces against the `url` crate's parse of it.
fn assert_same_as_the_parse(s: &str, plain: &Plain) {
    let url = Url::parse(s).unwrap_or_else(|e| panic!("{s:?} passed the check, parse: {e}"));
    assert_eq!(url.as_str(), s, "the parse changed {s:?}");
    let target = Target {
        plain: Some(plain.clone()),
        url: OnceLock::new(),
    };
    let (ours, theirs) = (target.parts(), UrlParts::of(&url));
    assert_eq!(ours.scheme, theirs.scheme, "{s:?}");
    assert_eq!(ours.host, theirs.host, "{s:?}");
    assert_eq!(ours.port, theirs.port, "{s:?}");
    assert_eq!(ours.path, theirs.path, "{s:?}");
    assert_eq!(ours.query, theirs.query, "{s:?}");
    assert_eq!(ours.len, theirs.len, "{s:?}");
    // The authority copied whole is the one the head would write from the parse's pieces.
    let host = theirs.host.unwrap_or_default();
    let written = match theirs.port {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    };
    assert_eq!(ours.authority, Some(written.as_str()), "{s:?}");
    assert_eq!(theirs.authority, None);
    assert!(url.username().is_empty() && url.password().is_none() && url.fragment().is_none());
    assert_eq!(target.origin(), Origin::from_url(&url), "{s:?}");
    assert!(!target.has_credentials());
    assert_eq!(target.as_str(), url.as_str());
}

#[test]
fn plain_strings_are_what_the_parse_gives_back_piece_for_piece() {
    let cases = [
        "http://127.0.0.1:8080/",
        "http://127.0.0.1:8080/b/1024",
        "https://example.com/",
        "http://a-b.c-d.example:65535/x/y/z.html",
        "https://api.example.com/v1/items?id=7&sort=desc",
        "http://h.test/a;b=c/%41%2f:@!$&'()*+,=~_-.x",
        "http://h.test/search?q=a%20b&x=/y?z",
        "http://h.test/.a/..b/a./c..",
        "http://0.0.0.0:1/",
        "http://255.255.255.255/",
        "http://localhost:3000/",
        "http://x1.test/?",
    ];
    for s in cases {
        let plain = check_plain(s).unwrap_or_else(|| panic!("{s:?} should be plain"));
        assert_same_as_the_parse(s, &plain);
    }
}

#[test]
fn strings_the_parse_would_change_or_that_need_it_are_not_plain() {
    let cases = [
        "HTTP://h.test/",
        "http://H.test/",
        "http://h.test",
        "http://h.test:80/",
        "https://h.test:443/",
        "http://h.test:0/",
        "http://h.test:08/",
        "http://h.test:65536/",
        "http://h.test:/",
        "http://h.test:99999999999/",
        "http://99999999999999.1.1.1/",
        "http://1.1.1.99999999999999/",
        "http://1.1.1.1000/",
        "http://1.1.1.256/",
        "http://1.1.01.1/",
        "http://1.1.1/",
        "http://1.1.1.1.1/",
        "http://1..1.1/",
        "http:///a",
        "http://user@h.test/",
        "http://user:pw@h.test/",
        "http://h.test/a#frag",
        "http://h.test/a/../b",
        "http://h.test/a/./b",
        "http://h.test/a/%2e/b",
        "http://h.test/a/%2E%2e/b",
        "http://h.test/a/.%2E",
        "http://h.test/..",
        "http://h.test/a b",
        "http://h.test/a\tb",
        "http://h.test/a\\b",
        "http://h.test/a\"b",
        "http://h.test/a<b>",
        "http://h.test/a^b",
        "http://h.test/a`b",
        "http://h.test/a{b}",
        "http://h.test/a|b",
        "http://h.test/a[b]",
        "http://h.test/é",
        "http://h.test/%zz",
        "http://h.test/%4",
        "http://h.test/?a'b",
        "http://h.test/?a b",
        "http://h.test/?a%",
        "http://xn--nxasmq6b.test/",
        "http://a.xn--p1ai/",
        "http://a.123/",
        "http://a.0x1f/",
        "http://1.2.3/",
        "http://1.2.3.4.5/",
        "http://127.0.0.01/",
        "http://256.0.0.1/",
        "http://1..2.3/",
        "http://a..b/",
        "http://a.b./",
        "http://.a/",
        "http://a_b.test/",
        "http://[::1]:8080/",
        "ftp://h.test/",
        "http:/h.test/",
        "mailto:a@b.test",
        "",
    ];
    for s in cases {
        assert_eq!(check_plain(s), None, "{s:?} should take the parse");
    }
    let long = format!("http://h.test/{}", "a".repeat(PLAIN_MAX));
    assert_eq!(check_plain(&long), None);
}

/// A small deterministic generator, so a failure names its string and can be replayed.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.below(from.len())]
    }

    /// Mostly from `good`, sometimes from `any`.
    fn mostly<'a>(&mut self, good: &[&'a str], any: &[&'a str]) -> &'a str {
        if self.below(10) < 8 {
            self.pick(good)
        } else {
            self.pick(any)
        }
    }
}

#[test]
fn generated_strings_the_check_passes_are_what_the_parse_gives_back() {
    let mut rng = XorShift(0x5eed_2026_1203);
    let schemes = ["http://", "https://", "HTTP://", "http:/", "ws://"];
    let good_hosts = ["a", "b1", "x-y", "127", "0", "255", "ex", "com", "9"];
    let good_ports = ["", ":8080", ":1", ":65535"];
    let good_path = [
        "/", "a", "b", ".", "%41", "~", ";", "=", "&", "+", "@", ":", "!",
    ];
    let host_parts = [
        "a", "b1", "x-y", "127", "0", "255", "256", "01", "Q", "_", "xn--a", "0x1", "", "ex",
        "com", "-", "é", "9",
    ];
    let ports = [
        "", ":80", ":443", ":8080", ":0", ":1", ":65535", ":65536", ":007", ":",
    ];
    let path_parts = [
        "/", "a", "b", ".", "..", "%2e", "%2E", "%41", "%4", "%", "?", "#", " ", "'", "\"", "\\",
        "^", "`", "{", "|", "~", ";", "=", "&", "+", "@", ":", "é", "\t", "[", "!", "*", "(",
    ];
    let (mut passed, total) = (0, 60_000);
    for _ in 0..total {
        let mut s = String::from(rng.mostly(&schemes[..2], &schemes));
        for i in 0..1 + rng.below(4) {
            if i > 0 {
                s.push('.');
            }
            s.push_str(rng.mostly(&good_hosts, &host_parts));
        }
        s.push_str(rng.mostly(&good_ports, &ports));
        s.push('/');
        for _ in 0..rng.below(8) {
            s.push_str(rng.mostly(&good_path, &path_parts));
        }
        if let Some(plain) = check_plain(&s) {
            passed += 1;
            assert_same_as_the_parse(&s, &plain);
        }
    }
    // The generator must reach both sides of the check for the test to mean anything.
    assert!(passed > total / 50, "only {passed} of {total} passed");
    assert!(passed < total / 2, "{passed} of {total} passed");
}

#[test]
fn a_plain_target_is_parsed_only_when_its_url_is_asked_for() {
    let s = "http://127.0.0.1:8080/a?b=c";
    let target = Target::from_str(s).expect("plain");
    assert!(target.plain.is_some());
    assert!(target.url.get().is_none(), "not parsed yet");
    assert_eq!(target.as_str(), s);
    let copy = target.clone();
    assert_eq!(target.url(), &Url::parse(s).expect("parses"));
    assert!(target.url.get().is_some());
    assert_eq!(copy.into_url(), Url::parse(s).expect("parses"));
    // Not plain: parsed at once, and the same URL.
    let other = Target::from_str("HTTP://127.0.0.1:8080/x/../a?b=c").expect("parses");
    assert!(other.plain.is_none());
    assert_eq!(other.url().as_str(), "http://127.0.0.1:8080/a?b=c");
    assert!(Target::from_str("http://[::1").is_err());
    let with_credentials = Target::from_str("http://u:p@h.test/").expect("parses");
    assert!(with_credentials.has_credentials());
}

#[test]
fn the_memo_of_plain_strings_gives_each_string_its_own_pieces() {
    for round in 0..2 {
        for i in 0..3 * crate::client::url_memo::SLOTS {
            let s = format!("http://h{i}.test:{}/p/{i}?q={round}", 1000 + i);
            assert_eq!(remembered_plain(&s), check_plain(&s), "round {round}: {s}");
            // Asked again at once: kept at this second miss, then given from the memo.
            assert_eq!(remembered_plain(&s), check_plain(&s), "again: {s}");
            let (third, fourth) = (remembered_plain(&s), remembered_plain(&s));
            assert_eq!(third, check_plain(&s), "a third time: {s}");
            let same = third
                .zip(fourth)
                .is_some_and(|(a, b)| Arc::ptr_eq(&a.text, &b.text));
            assert!(same, "from the memo: {s}");
        }
    }
    // Strings each asked once, more than there are places: none is kept.
    PLAINS.with(|m| *m.borrow_mut() = Memo::new());
    for i in 0..3 * crate::client::url_memo::SLOTS {
        let s = format!("http://once{i}.test/");
        assert_eq!(remembered_plain(&s), check_plain(&s));
    }
    assert_eq!(PLAINS.with(|m| m.borrow().kept().count()), 0);
    assert_eq!(remembered_plain("http://H.test/"), None);
    assert_eq!(remembered_plain("http://H.test/"), None);
}

/// A parsed URL whose text is plain becomes a plain target, given or lent, with the
/// pieces, origin and URL of the parse; any other stays the parse.
#[test]
fn a_parsed_url_with_plain_text_is_taken_as_that_text() {
    let cases = [
        ("http://127.0.0.1:8080/a?b=c", true),
        // Spelled otherwise, parsed into plain text.
        ("HTTP://H.test:80/x/../y", true),
        ("https://h.test:443", true),
        ("http://h.test/caf\u{e9}", true),
        // Text the check leaves to the parse.
        ("http://u:p@h.test/", false),
        ("http://h.test/#frag", false),
        ("http://[::1]:8080/", false),
        ("http://h.test/a|b", false),
    ];
    for (s, plain) in cases {
        let url = Url::parse(s).expect("parses");
        for target in [Target::from_url_ref(&url), Target::from_url(url.clone())] {
            assert_eq!(target.plain.is_some(), plain, "{s:?} -> {url}");
            assert_eq!(target.plain.is_none(), target.url.get().is_some(), "{s:?}");
            let (ours, theirs) = (target.parts(), UrlParts::of(&url));
            assert_eq!(
                (
                    ours.scheme,
                    ours.host,
                    ours.port,
                    ours.path,
                    ours.query,
                    ours.len
                ),
                (
                    theirs.scheme,
                    theirs.host,
                    theirs.port,
                    theirs.path,
                    theirs.query,
                    theirs.len
                ),
                "{s:?}"
            );
            assert_eq!(target.origin(), Origin::from_url(&url), "{s:?}");
            assert_eq!(target.has_credentials(), !url.username().is_empty());
            assert_eq!(target.url(), &url, "{s:?}");
        }
    }
}
